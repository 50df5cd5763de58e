/*
 * health.c - health probes, all non-blocking inside the one loop:
 * exec (a child in its own process group, reaped by sv_reap()), tcp (a
 * non-blocking connect watched for writability) and http (a libcurl-multi
 * transfer). Each instance has at most one probe in flight; a probe that
 * outlives health.timeout is a failure.
 *
 * Counting: healthy_threshold consecutive passes make the instance
 * healthy (Ready -> Run); unhealthy_threshold consecutive failures make
 * it unhealthy. Failures during start_period after a (re)start do not
 * count until it first passes. An unhealthy pet is stopped and restarted through the restart
 * policy; an unhealthy cattle instance is stopped and reported Failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "slave.h"
#include "units.h"

static int
probe_port(const struct instance *in)
{
	const char *name = in->spec->health.port;

	if (in->ports == NULL)
		return 0;
	for (size_t i = 0; name && i < in->spec->nports; i++)
		if (strcmp(in->spec->ports[i], name) == 0)
			return in->ports[i];
	return in->ports[0];
}

void
health_cancel(struct slave *s, struct instance *in)
{
	struct probe *p = &in->probe;

	switch (p->type) {
	case HEALTH_EXEC:
		/* Killed, and reaped later by sv_reap() as nobody's. */
		if (p->pid > 0)
			kill(-p->pid, SIGKILL);
		break;
	case HEALTH_TCP:
		if (p->w.fd >= 0) {
			loop_unwatch(s, &p->w);
			close(p->w.fd);
		}
		break;
	case HEALTH_HTTP:
		if (p->easy != NULL)
			loop_curl_cancel(s, p->easy);
		break;
	case HEALTH_NONE:
	case HEALTH__LAST:
		break;
	}
	p->type = HEALTH_NONE;
	p->pid = 0;
	p->w.fd = -1;
	p->easy = NULL;
}

void
health_reset(struct slave *s, struct instance *in)
{
	health_cancel(s, in);
	in->hpass = in->hfail = 0;
	inst_set_health(s, in, in->spec->health.type == HEALTH_NONE ?
	    HEALTH_STATE_NONE : HEALTH_STATE_STARTING);
	in->health_at = orch_mono_ms() + in->spec->health.interval_ms;
}

static void
probe_done(struct slave *s, struct instance *in, bool ok, const char *why)
{
	const struct health_spec *h = &in->spec->health;
	int64_t now = orch_mono_ms();
	enum health_type t = in->probe.type;

	s->m.checks[t]++;
	s->m.check_ms_sum[t] += (uint64_t)(now - in->probe.started);
	if (!ok)
		s->m.check_failures[t]++;
	health_cancel(s, in);
	in->health_at = now + h->interval_ms;
	if (in->state != IST_STARTING && in->state != IST_RUNNING)
		return;
	if (ok) {
		in->hfail = 0;
		if (++in->hpass >= h->healthy_threshold) {
			inst_set_health(s, in, HEALTH_STATE_HEALTHY);
			if (in->state == IST_STARTING)
				inst_set_state(s, in, IST_RUNNING, "health check passed");
		}
		return;
	}
	in->hpass = 0;
	/* Docker's rule: start_period forgives failures only until the first
	 * success; once Run, every failure counts. */
	if (in->state == IST_STARTING && now - in->started_mono < h->start_period_ms)
		return;
	log_debug("instance=%s health check failed: %s", in->spec->id, why);
	if (++in->hfail < h->unhealthy_threshold)
		return;
	inst_set_health(s, in, HEALTH_STATE_UNHEALTHY);
	if (in->spec->kind == KIND_PET) {
		inst_set_state(s, in, IST_RESTARTING, "unhealthy: %s; restarting", why);
	} else {
		inst_set_state(s, in, IST_FAILED, "unhealthy: %s", why);
	}
	if (in->pid > 0)
		sv_begin_stop(s, in);
}

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;
}

static void
http_done(struct slave *s, void *arg, CURL *easy, CURLcode res)
{
	struct instance *in = arg;
	long code = 0;
	char why[160];

	in->probe.easy = NULL; /* the loop cleans it up */
	if (res != CURLE_OK) {
		snprintf(why, sizeof(why), "http: %s", curl_easy_strerror(res));
		probe_done(s, in, false, why);
		return;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	snprintf(why, sizeof(why), "http: status %ld", code);
	probe_done(s, in, code >= 200 && code < 400, why);
}

static int
start_http(struct slave *s, struct instance *in)
{
	char url[512];
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		return orch_err_set(ORCH_ERROR, "curl_easy_init failed");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", probe_port(in),
	    in->spec->health.path ? in->spec->health.path : "/");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)in->spec->health.timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "orch-slave-health");
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	in->probe.easy = e;
	if (loop_curl_add(s, e, http_done, in) < 0) {
		in->probe.easy = NULL;
		return ORCH_ERROR;
	}
	return 0;
}

static bool self_connected(int fd);

/* 1: connected at once, 0: in progress, <0: failed. */
static int
start_tcp(struct slave *s, struct instance *in)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(probe_port(in))};
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return orch_err_sys(ORCH_ERROR, "socket");
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		bool self = self_connected(fd);

		close(fd);
		if (self)
			return orch_err_set(ORCH_ERROR, "tcp: %s", strerror(ECONNREFUSED));
		return 1;
	}
	if (errno != EINPROGRESS) {
		orch_err_sys(ORCH_ERROR, "tcp: connect to port %d", probe_port(in));
		close(fd);
		return ORCH_ERROR;
	}
	in->probe.w.kind = W_TCPCHECK;
	in->probe.w.fd = fd;
	in->probe.w.ptr = in;
	if (loop_watch(s, &in->probe.w, EPOLLOUT) < 0) {
		close(fd);
		in->probe.w.fd = -1;
		return ORCH_ERROR;
	}
	return 0;
}

/*
 * A connect to 127.0.0.1:P from the ephemeral port P "succeeds" with
 * nobody listening (TCP simultaneous open with itself), and then holds P
 * so the service cannot bind it. Such a connection is a failure.
 */
static bool
self_connected(int fd)
{
	struct sockaddr_in a, b;
	socklen_t la = sizeof(a), lb = sizeof(b);

	return getsockname(fd, (struct sockaddr *)&a, &la) == 0 &&
	    getpeername(fd, (struct sockaddr *)&b, &lb) == 0 && a.sin_port == b.sin_port &&
	    a.sin_addr.s_addr == b.sin_addr.s_addr;
}

void
health_tcp_ready(struct slave *s, struct instance *in)
{
	int err = 0;
	socklen_t len = sizeof(err);
	char why[160];

	if (getsockopt(in->probe.w.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0 && self_connected(in->probe.w.fd))
		err = ECONNREFUSED;
	snprintf(why, sizeof(why), "tcp: %s", err ? strerror(err) : "connected");
	probe_done(s, in, err == 0, why);
}

bool
health_exec_reaped(struct slave *s, pid_t pid, int status)
{
	char why[64];

	for (struct instance *in = s->instances; in; in = in->next) {
		if (in->probe.type != HEALTH_EXEC || in->probe.pid != pid)
			continue;
		in->probe.pid = 0; /* reaped: nothing left to kill */
		if (WIFEXITED(status))
			snprintf(why, sizeof(why), "exec: exit code %d", WEXITSTATUS(status));
		else
			snprintf(why, sizeof(why), "exec: signal %d", WTERMSIG(status));
		probe_done(s, in, WIFEXITED(status) && WEXITSTATUS(status) == 0, why);
		return true;
	}
	return false;
}

static void
probe_start(struct slave *s, struct instance *in, int64_t now)
{
	struct probe *p = &in->probe;
	int rc = 0;

	p->type = in->spec->health.type;
	p->started = now;
	p->deadline = now + in->spec->health.timeout_ms;
	switch (p->type) {
	case HEALTH_EXEC:
		rc = spawn_helper(&p->pid, in->hargv, in->envp, in->cwd, in);
		break;
	case HEALTH_TCP:
		if ((rc = start_tcp(s, in)) == 1) {
			probe_done(s, in, true, "tcp: connected");
			return;
		}
		break;
	case HEALTH_HTTP:
		rc = start_http(s, in);
		break;
	case HEALTH_NONE:
	case HEALTH__LAST:
		return;
	}
	if (rc < 0)
		probe_done(s, in, false, orch_err_last());
}

int64_t
health_tick(struct slave *s, int64_t now)
{
	int64_t next = -1, due;

	for (struct instance *in = s->instances; in; in = in->next) {
		if (in->spec->health.type == HEALTH_NONE || in->pid == 0 || in->removed ||
		    (in->state != IST_STARTING && in->state != IST_RUNNING))
			continue;
		if (in->probe.type != HEALTH_NONE) {
			if (now >= in->probe.deadline) {
				probe_done(s, in, false, "timed out");
			} else {
				due = in->probe.deadline;
				if (next < 0 || due < next)
					next = due;
				continue;
			}
		}
		if (in->probe.type == HEALTH_NONE && now >= in->health_at)
			probe_start(s, in, now);
		due = in->probe.type != HEALTH_NONE ? in->probe.deadline : in->health_at;
		if (next < 0 || due < next)
			next = due;
	}
	return next;
}
