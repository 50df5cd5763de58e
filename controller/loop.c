/*
 * loop.c - the one event loop of orch-controller (redis ae.c/serverCron).
 *
 * One epoll set holds a signalfd (TERM, INT, HUP), libmicrohttpd's own
 * epoll fd and libcurl-multi's sockets (CURLMOPT_SOCKETFUNCTION); the
 * epoll set and the libcurl glue are common/evloop's. Timers
 * are deadlines: node heartbeat ageing, command retries, the periodic
 * resync, the plans' own times (a canary pause, scale_down_delay,
 * min_ready, progress_deadline: ctl_wake_at) and curl's own timer; each
 * turn sleeps until the earliest one, so a timed step runs at its time,
 * not at the next resync.
 * A reconcile runs at the end of any turn that changed something
 * (ctl_kick), so a burst of heartbeats costs one reconcile, not many.
 * Nothing here blocks except epoll_wait: a slow slave only holds its own
 * transfer.
 */
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "controller.h"
#include "err.h"
#include "evloop.h"
#include "log.h"
#include "units.h"

enum { W_SIGNAL, W_HTTPD };

static void dispatch(void *owner, void *ptr, uint32_t events);

/* Call a transfer's done function as the type it was given as. */
static void
call_done(void *owner, evloop_fn done, void *arg, CURL *easy, CURLcode res)
{
	((ctl_curl_done)done)(owner, arg, easy, res);
}

int
ctl_curl_add(struct ctl *c, CURL *easy, ctl_curl_done done, void *arg)
{
	return evloop_curl_add(c->loop, easy, (evloop_fn)done, arg);
}

void
ctl_kick(struct ctl *c)
{
	c->kick = true;
}

void
ctl_wake_at(struct ctl *c, int64_t wall_ms)
{
	int64_t mono;

	if (wall_ms <= 0)
		return;
	/* The planner's clock is the wall clock; the loop's, monotonic. */
	mono = orch_mono_ms() + (wall_ms - orch_wall_ms());
	if (c->wake_mono == 0 || mono < c->wake_mono)
		c->wake_mono = mono;
}

int
ctl_loop_init(struct ctl *c)
{
	sigset_t mask;

	c->sigw.fd = c->httpdw.fd = -1;
	if (evloop_new(&c->loop, c, dispatch, call_done) < 0)
		return ORCH_ERROR;
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
	if (evloop_watch(c->loop, c->sigw.fd, &c->sigw, EPOLLIN) < 0)
		return ORCH_ERROR;
	/* Many slaves, each with a few transfers: keep connections per host. */
	curl_multi_setopt(evloop_multi(c->loop), CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)CTL_CMD_WINDOW);
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

static void
dispatch(void *owner, void *ptr, uint32_t events)
{
	struct ctl *c = owner;
	struct ctl_watch *w = ptr;

	switch (w->kind) {
	case W_SIGNAL:
		handle_signals(c);
		break;
	case W_HTTPD:
		httpd_run(c->http);
		break;
	}
}

int
ctl_loop_run(struct ctl *c)
{
	int64_t now, due, t;
	int timeout;

	c->httpdw.kind = W_HTTPD;
	c->httpdw.fd = httpd_fd(c->http);
	if (evloop_watch(c->loop, c->httpdw.fd, &c->httpdw, EPOLLIN) < 0)
		return ORCH_ERROR;
	c->next_resync = orch_mono_ms();
	while (!c->quit) {
		now = orch_mono_ms();
		due = c->next_resync;
		due = evloop_earliest(due, ctl_nodes_tick(c, now));
		due = evloop_earliest(due, ctl_slaves_tick(c, now));
		due = evloop_earliest(due, ctl_alerts_tick(c, now));
		due = evloop_earliest(due, ctl_sse_tick(c, now));
		due = evloop_earliest(due, ctl_traffic_tick(c, now));
		due = evloop_earliest(due, evloop_deadline(c->loop));
		if (c->wake_mono > 0)
			due = evloop_earliest(due, c->wake_mono);
		if ((t = httpd_timeout_ms(c->http)) >= 0)
			due = evloop_earliest(due, now + t);
		if (c->kick)
			due = now;
		timeout = due < 0 ? 1000 : due <= now ? 0 : (int)(due - now > 60000 ? 60000 : due - now);
		/* Events, then curl's timer when due. */
		if (evloop_wait(c->loop, timeout) < 0)
			return ORCH_ERROR;
		now = orch_mono_ms();
		httpd_run(c->http);
		if (now >= c->next_resync) {
			c->next_resync = now + c->cfg.resync_ms;
			c->kick = true;
		}
		if (c->wake_mono > 0 && now >= c->wake_mono)
			c->kick = true; /* a timed step is due */
		if (c->kick && !c->quit) {
			c->kick = false;
			c->wake_mono = 0; /* the pass sets the next ones */
			ctl_reconcile(c);
			ctl_traffic_sync(c); /* the plans' traffic, at once */
		}
	}
	return 0;
}

void
ctl_loop_free(struct ctl *c)
{
	if (c->loop == NULL)
		return; /* ctl_loop_init() never ran */
	/* Transfers still in flight die with the controller; their owners
	 * (commands, alerts) are freed by their modules. */
	evloop_curl_abort_all(c->loop);
	evloop_free(c->loop);
	c->loop = NULL;
	if (c->sigw.fd >= 0)
		close(c->sigw.fd);
}
