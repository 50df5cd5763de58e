/*
 * loop.c - the one event loop of orch-slave (redis ae.c / serverCron).
 *
 * Everything is a descriptor in one epoll set: a signalfd (SIGCHLD, TERM,
 * INT, HUP), libmicrohttpd's own epoll fd, libcurl-multi's sockets (via
 * CURLMOPT_SOCKETFUNCTION), pidfds of re-adopted processes, sockets of
 * TCP health probes and the artifact-fetch notification pipe. The epoll
 * set and the libcurl glue are common/evloop's, shared with the
 * controller; this file has the slave's own watches. Timers are
 * deadlines kept on the objects themselves; each turn asks every module
 * for its next deadline, sleeps until the earliest, and runs what is due.
 * Nothing here blocks except epoll_wait.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "err.h"
#include "evloop.h"
#include "log.h"
#include "slave.h"
#include "units.h"

#define ROTATE_PERIOD_MS 2000

/* An event on one of the slave's own watches (curl's are the loop's). */
static void dispatch(void *owner, void *ptr, uint32_t events);

/* Call a transfer's done function as the type it was given as. */
static void
call_done(void *owner, evloop_fn done, void *arg, CURL *easy, CURLcode res)
{
	((curl_done_fn)done)(owner, arg, easy, res);
}

int
loop_watch(struct slave *s, struct watch *w, uint32_t events)
{
	return evloop_watch(s->loop, w->fd, w, events);
}

void
loop_unwatch(struct slave *s, struct watch *w)
{
	evloop_unwatch(s->loop, w->fd, w);
}

int
loop_curl_add(struct slave *s, CURL *easy, curl_done_fn done, void *arg)
{
	return evloop_curl_add(s->loop, easy, (evloop_fn)done, arg);
}

/* Drop a transfer without calling its done function. */
void
loop_curl_cancel(struct slave *s, CURL *easy)
{
	evloop_curl_cancel(s->loop, easy);
}

int
loop_init(struct slave *s)
{
	sigset_t mask;

	s->sigw.fd = s->httpdw.fd = s->fetchw.fd = -1;
	s->fetch_pipe[0] = s->fetch_pipe[1] = -1;
	if (evloop_new(&s->loop, s, dispatch, call_done) < 0)
		return ORCH_ERROR;
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
dispatch(void *owner, void *ptr, uint32_t events)
{
	struct slave *s = owner;
	struct watch *w = ptr;
	char buf[64];

	switch (w->kind) {
	case W_SIGNAL:
		handle_signals(s);
		break;
	case W_HTTPD:
		httpd_run(s->httpd);
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

int
loop_run(struct slave *s)
{
	int64_t now, next, t, rotate_at = orch_mono_ms() + ROTATE_PERIOD_MS;

	s->httpdw.kind = W_HTTPD;
	s->httpdw.fd = httpd_fd(s->httpd);
	if (loop_watch(s, &s->httpdw, EPOLLIN) < 0)
		return ORCH_ERROR;
	while (!s->quit) {
		now = orch_mono_ms();
		next = rotate_at;
		next = evloop_earliest(next, sv_tick(s, now));
		next = evloop_earliest(next, health_tick(s, now));
		next = evloop_earliest(next, report_tick(s, now));
		next = evloop_earliest(next, evloop_deadline(s->loop));
		if ((t = httpd_timeout_ms(s->httpd)) >= 0)
			next = evloop_earliest(next, now + t);
		inst_reap_removed(s);
		/* While the file cannot be written, once a second. */
		if (s->state_err != NULL)
			next = evloop_earliest(next, s->state_retry_at);
		if (s->state_dirty && (s->state_err == NULL || now >= s->state_retry_at))
			state_save(s);
		/* Once per turn, for every start and stop of the turn. */
		api_acks_flush(s);
		now = orch_mono_ms();
		t = next - now;
		if (t < 0)
			t = 0;
		if (t > 60000)
			t = 60000;
		/* Events, then curl's timer when due. */
		if (evloop_wait(s->loop, (int)t) < 0)
			return ORCH_ERROR;
		now = orch_mono_ms();
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
	if (s->loop == NULL)
		return; /* loop_init() never ran */
	/* Transfers still in flight end without their done functions. */
	evloop_free(s->loop);
	s->loop = NULL;
	if (s->sigw.fd >= 0)
		close(s->sigw.fd);
	if (s->fetch_pipe[0] >= 0)
		close(s->fetch_pipe[0]);
	if (s->fetch_pipe[1] >= 0)
		close(s->fetch_pipe[1]);
}
