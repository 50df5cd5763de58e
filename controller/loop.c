/*
 * loop.c - the one event loop of orch-controller (redis ae.c/serverCron).
 *
 * One epoll set holds a signalfd (TERM, INT, HUP), libmicrohttpd's own
 * epoll fd and libcurl-multi's sockets (CURLMOPT_SOCKETFUNCTION). Timers
 * are deadlines: node heartbeat ageing, command retries, the periodic
 * resync and curl's own timer; each turn sleeps until the earliest one.
 * A reconcile runs at the end of any turn that changed something
 * (ctl_kick), so a burst of heartbeats costs one reconcile, not many.
 * Nothing here blocks except epoll_wait: a slow slave only holds its own
 * transfer.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"

enum { W_SIGNAL, W_HTTPD, W_CURL };

/* A libcurl transfer in flight; CURLOPT_PRIVATE points at it. */
struct ctl_curlreq {
	struct ctl_curlreq *next, *prev;
	CURL *easy;
	ctl_curl_done done;
	void *arg;
};

static void
req_unlink(struct ctl *c, struct ctl_curlreq *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->curl_reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

struct curlwatch {
	struct ctl_watch w;
	int what;
};

static int
watch(struct ctl *c, struct ctl_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
		if (errno != EEXIST || epoll_ctl(c->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
			return orch_err_sys(ORCH_ERROR, "epoll_ctl fd %d", w->fd);
	}
	return 0;
}

static int
curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct ctl *c = userp;
	struct curlwatch *w = sockp;
	uint32_t ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
			free(w);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return -1;
		w->w.kind = W_CURL;
		w->w.fd = fd;
		curl_multi_assign(c->multi, fd, w);
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	w->what = what;
	return watch(c, &w->w, ev) < 0 ? -1 : 0;
}

static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct ctl *c = userp;

	c->curl_timer = timeout_ms < 0 ? -1 : orch_mono_ms() + timeout_ms;
	return 0;
}

static void
curl_check_done(struct ctl *c)
{
	struct ctl_curlreq *r;
	CURLMsg *msg;
	CURL *easy;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		r = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
		curl_multi_remove_handle(c->multi, easy);
		if (r != NULL)
			req_unlink(c, r);
		if (r != NULL && r->done != NULL)
			r->done(c, r->arg, easy, msg->data.result);
		free(r);
		curl_easy_cleanup(easy);
	}
}

int
ctl_curl_add(struct ctl *c, CURL *easy, ctl_curl_done done, void *arg)
{
	struct ctl_curlreq *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		curl_easy_cleanup(easy);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	r->done = done;
	r->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (curl_multi_add_handle(c->multi, easy) != CURLM_OK) {
		free(r);
		curl_easy_cleanup(easy);
		return orch_err_set(ORCH_ERROR, "curl_multi_add_handle failed");
	}
	r->easy = easy;
	r->next = c->curl_reqs;
	if (r->next)
		r->next->prev = r;
	c->curl_reqs = r;
	return 0;
}

void
ctl_kick(struct ctl *c)
{
	c->kick = true;
}

int
ctl_loop_init(struct ctl *c)
{
	sigset_t mask;

	c->curl_timer = -1;
	c->sigw.fd = c->httpdw.fd = c->timerw.fd = -1;
	if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return orch_err_sys(ORCH_ERROR, "epoll_create1");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return orch_err_sys(ORCH_ERROR, "sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	c->sigw.kind = W_SIGNAL;
	if ((c->sigw.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return orch_err_sys(ORCH_ERROR, "signalfd");
	if (watch(c, &c->sigw, EPOLLIN) < 0)
		return ORCH_ERROR;
	if ((c->multi = curl_multi_init()) == NULL)
		return orch_err_set(ORCH_ERROR, "curl_multi_init failed");
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Many slaves, each with a few transfers: keep connections per host. */
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)CTL_CMD_WINDOW);
	return 0;
}

static void
handle_signals(struct ctl *c)
{
	struct signalfd_siginfo si;

	while (read(c->sigw.fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal=%d: exiting; instances keep running", (int)si.ssi_signo);
			c->quit = true;
			break;
		case SIGHUP:
			log_info("SIGHUP: resync now");
			ctl_kick(c);
			break;
		}
	}
}

static int64_t
earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int
ctl_loop_run(struct ctl *c)
{
	struct epoll_event evs[64];
	int64_t now, due, t;
	int n, running, timeout;

	c->httpdw.kind = W_HTTPD;
	c->httpdw.fd = httpd_fd(c->http);
	if (watch(c, &c->httpdw, EPOLLIN) < 0)
		return ORCH_ERROR;
	c->next_resync = orch_mono_ms();
	while (!c->quit) {
		now = orch_mono_ms();
		due = c->next_resync;
		due = earliest(due, ctl_nodes_tick(c, now));
		due = earliest(due, ctl_slaves_tick(c, now));
		due = earliest(due, ctl_alerts_tick(c, now));
		due = earliest(due, ctl_sse_tick(c, now));
		due = earliest(due, ctl_traffic_tick(c, now));
		due = earliest(due, c->curl_timer);
		if ((t = httpd_timeout_ms(c->http)) >= 0)
			due = earliest(due, now + t);
		if (c->kick)
			due = now;
		timeout = due < 0 ? 1000 : due <= now ? 0 : (int)(due - now > 60000 ? 60000 : due - now);
		n = epoll_wait(c->epfd, evs, 64, timeout);
		if (n < 0 && errno != EINTR)
			return orch_err_sys(ORCH_ERROR, "epoll_wait");
		for (int k = 0; k < n; k++) {
			struct ctl_watch *w = evs[k].data.ptr;

			switch (w->kind) {
			case W_SIGNAL:
				handle_signals(c);
				break;
			case W_HTTPD:
				httpd_run(c->http);
				break;
			case W_CURL: {
				int flags = 0;

				if (evs[k].events & EPOLLIN)
					flags |= CURL_CSELECT_IN;
				if (evs[k].events & EPOLLOUT)
					flags |= CURL_CSELECT_OUT;
				if (evs[k].events & (EPOLLERR | EPOLLHUP))
					flags |= CURL_CSELECT_ERR;
				curl_multi_socket_action(c->multi, w->fd, flags, &running);
				curl_check_done(c);
				break;
			}
			}
		}
		now = orch_mono_ms();
		if (c->curl_timer >= 0 && now >= c->curl_timer) {
			c->curl_timer = -1;
			curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
			curl_check_done(c);
		}
		httpd_run(c->http);
		if (now >= c->next_resync) {
			c->next_resync = now + c->cfg.resync_ms;
			c->kick = true;
		}
		if (c->kick && !c->quit) {
			c->kick = false;
			ctl_reconcile(c);
			ctl_traffic_sync(c); /* the plans' traffic, at once */
		}
	}
	return 0;
}

void
ctl_loop_free(struct ctl *c)
{
	if (c->multi != NULL) {
		/* Transfers still in flight die with the controller; their
		 * owners (commands, alerts) are freed by their modules. */
		while (c->curl_reqs != NULL) {
			struct ctl_curlreq *r = c->curl_reqs;
			CURL *easy = r->easy;

			req_unlink(c, r);
			curl_multi_remove_handle(c->multi, easy);
			if (r->done != NULL)
				r->done(c, r->arg, easy, CURLE_ABORTED_BY_CALLBACK);
			free(r);
			curl_easy_cleanup(easy);
		}
		curl_multi_cleanup(c->multi);
		c->multi = NULL;
	}
	if (c->sigw.fd >= 0)
		close(c->sigw.fd);
	if (c->epfd >= 0)
		close(c->epfd);
}
