/*
 * loop.c - the one event loop of orch-slave (redis ae.c / serverCron).
 *
 * Everything is a descriptor in one epoll set: a signalfd (SIGCHLD, TERM,
 * INT, HUP), libmicrohttpd's own epoll fd, libcurl-multi's sockets (via
 * CURLMOPT_SOCKETFUNCTION), pidfds of re-adopted processes, sockets of
 * TCP health probes and the artifact-fetch notification pipe. Timers are
 * deadlines kept on the objects themselves; each turn asks every module
 * for its next deadline, sleeps until the earliest, and runs what is due.
 * Nothing here blocks except epoll_wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "slave.h"
#include "units.h"

#define ROTATE_PERIOD_MS 2000

/* A libcurl transfer in flight; CURLOPT_PRIVATE points at it. */
struct curlreq {
	struct curlreq *next, *prev;
	CURL *easy;
	curl_done_fn done;
	void *arg;
};

static void
req_unlink(struct slave *s, struct curlreq *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		s->curl_reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

int
loop_watch(struct slave *s, struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
		if (errno != EEXIST || epoll_ctl(s->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
			return orch_err_sys(ORCH_ERROR, "epoll_ctl fd %d", w->fd);
	}
	return 0;
}

void
loop_unwatch(struct slave *s, struct watch *w)
{
	if (w->fd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

/* libcurl tells which sockets to watch for what. */
static int
curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct slave *s = userp;
	struct watch *w = sockp;
	uint32_t ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			loop_unwatch(s, w);
			free(w);
			curl_multi_assign(s->multi, fd, NULL);
		}
		return 0;
	}
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return -1;
		w->kind = W_CURL;
		w->fd = fd;
		curl_multi_assign(s->multi, fd, w);
	}
	if (what & CURL_POLL_IN)
		ev |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev |= EPOLLOUT;
	w->events = what;
	return loop_watch(s, w, ev) < 0 ? -1 : 0;
}

static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct slave *s = userp;

	s->curl_timer = timeout_ms < 0 ? -1 : orch_mono_ms() + timeout_ms;
	return 0;
}

static void
curl_finish(struct slave *s, CURL *easy, CURLcode res)
{
	struct curlreq *r = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
	curl_multi_remove_handle(s->multi, easy);
	if (r != NULL)
		req_unlink(s, r);
	if (r != NULL && r->done != NULL)
		r->done(s, r->arg, easy, res);
	free(r);
	curl_easy_cleanup(easy);
}

static void
curl_check_done(struct slave *s)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			curl_finish(s, msg->easy_handle, msg->data.result);
}

int
loop_curl_add(struct slave *s, CURL *easy, curl_done_fn done, void *arg)
{
	struct curlreq *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		curl_easy_cleanup(easy);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	r->easy = easy;
	r->done = done;
	r->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	if (curl_multi_add_handle(s->multi, easy) != CURLM_OK) {
		free(r);
		curl_easy_cleanup(easy);
		return orch_err_set(ORCH_ERROR, "curl_multi_add_handle failed");
	}
	r->next = s->curl_reqs;
	if (r->next)
		r->next->prev = r;
	s->curl_reqs = r;
	return 0;
}

/* Drop a transfer without calling its done function. */
void
loop_curl_cancel(struct slave *s, CURL *easy)
{
	struct curlreq *r = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
	curl_multi_remove_handle(s->multi, easy);
	if (r != NULL)
		req_unlink(s, r);
	free(r);
	curl_easy_cleanup(easy);
}

int
loop_init(struct slave *s)
{
	sigset_t mask;

	s->curl_timer = -1;
	s->sigw.fd = s->httpdw.fd = s->fetchw.fd = -1;
	s->fetch_pipe[0] = s->fetch_pipe[1] = -1;
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return orch_err_sys(ORCH_ERROR, "epoll_create1");
	/* Signals arrive as reads on a signalfd, never in a handler. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return orch_err_sys(ORCH_ERROR, "sigprocmask");
	s->sigw.kind = W_SIGNAL;
	if ((s->sigw.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return orch_err_sys(ORCH_ERROR, "signalfd");
	if (loop_watch(s, &s->sigw, EPOLLIN) < 0)
		return ORCH_ERROR;
	if (pipe2(s->fetch_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return orch_err_sys(ORCH_ERROR, "pipe2");
	s->fetchw.kind = W_FETCH;
	s->fetchw.fd = s->fetch_pipe[0];
	if (loop_watch(s, &s->fetchw, EPOLLIN) < 0)
		return ORCH_ERROR;
	if ((s->multi = curl_multi_init()) == NULL)
		return orch_err_set(ORCH_ERROR, "curl_multi_init failed");
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
	return 0;
}

static void
handle_signals(struct slave *s)
{
	struct signalfd_siginfo si;
	bool child = false;

	while (read(s->sigw.fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			child = true;
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal=%d: exiting, instances keep running", (int)si.ssi_signo);
			s->quit = true;
			break;
		case SIGHUP:
			log_info("SIGHUP: rotating logs and saving state");
			logfile_rotate(s);
			s->state_dirty = true;
			break;
		}
	}
	/* SIGCHLD coalesces: one read may stand for many exits, so reap all. */
	if (child)
		sv_reap(s);
}

static void
dispatch(struct slave *s, struct watch *w, uint32_t events)
{
	int running, flags = 0;
	char buf[64];

	switch (w->kind) {
	case W_SIGNAL:
		handle_signals(s);
		break;
	case W_HTTPD:
		httpd_run(s->httpd);
		break;
	case W_CURL:
		if (events & EPOLLIN)
			flags |= CURL_CSELECT_IN;
		if (events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (events & (EPOLLERR | EPOLLHUP))
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(s->multi, w->fd, flags, &running);
		curl_check_done(s);
		break;
	case W_PIDFD:
		sv_pidfd_ready(s, w->ptr);
		break;
	case W_TCPCHECK:
		health_tcp_ready(s, w->ptr);
		break;
	case W_FETCH:
		while (read(w->fd, buf, sizeof(buf)) > 0)
			;
		inst_fetch_done(s);
		break;
	case W__LAST:
		break;
	}
}

static int64_t
min_deadline(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int
loop_run(struct slave *s)
{
	struct epoll_event evs[64];
	int64_t now, next, t, rotate_at = orch_mono_ms() + ROTATE_PERIOD_MS;
	int n, running;

	s->httpdw.kind = W_HTTPD;
	s->httpdw.fd = httpd_fd(s->httpd);
	if (loop_watch(s, &s->httpdw, EPOLLIN) < 0)
		return ORCH_ERROR;
	while (!s->quit) {
		now = orch_mono_ms();
		next = rotate_at;
		next = min_deadline(next, sv_tick(s, now));
		next = min_deadline(next, health_tick(s, now));
		next = min_deadline(next, report_tick(s, now));
		next = min_deadline(next, s->curl_timer);
		if ((t = httpd_timeout_ms(s->httpd)) >= 0)
			next = min_deadline(next, now + t);
		inst_reap_removed(s);
		if (s->state_dirty)
			state_save(s);
		/* Once per turn, for every start and stop of the turn. */
		api_acks_flush(s);
		now = orch_mono_ms();
		t = next - now;
		if (t < 0)
			t = 0;
		if (t > 60000)
			t = 60000;
		n = epoll_wait(s->epfd, evs, 64, (int)t);
		if (n < 0 && errno != EINTR)
			return orch_err_sys(ORCH_ERROR, "epoll_wait");
		for (int i = 0; i < n; i++)
			dispatch(s, evs[i].data.ptr, evs[i].events);
		now = orch_mono_ms();
		if (s->curl_timer >= 0 && now >= s->curl_timer) {
			s->curl_timer = -1;
			curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
			curl_check_done(s);
		}
		/* MHD's own timeouts (idle connections) need a run when due. */
		httpd_run(s->httpd);
		if (now >= rotate_at) {
			logfile_rotate(s);
			cgroup_retry(s);
			rotate_at = now + ROTATE_PERIOD_MS;
		}
	}
	inst_reap_removed(s);
	return 0;
}

void
loop_free(struct slave *s)
{
	if (s->multi != NULL) {
		while (s->curl_reqs != NULL)
			loop_curl_cancel(s, s->curl_reqs->easy);
		curl_multi_cleanup(s->multi);
		s->multi = NULL;
	}
	if (s->sigw.fd >= 0)
		close(s->sigw.fd);
	if (s->fetch_pipe[0] >= 0)
		close(s->fetch_pipe[0]);
	if (s->fetch_pipe[1] >= 0)
		close(s->fetch_pipe[1]);
	if (s->epfd >= 0)
		close(s->epfd);
}
