/*
 * test_status_crashloop.c - status never lies about a crash loop (issue 10
 * #1), with a real controller, a real slave, a git repository and a
 * webhook receiver on loopback:
 *
 *   - cattle that exit at once (`sh -c "exit 1"`, replicas 2, no health
 *     check) never count as Run: after the restart budget the service is
 *     Failed with "exit status 1", `orchctl apply --wait` exits 1 with that
 *     reason, the revision is `failed` with it, the alert is sent once;
 *   - a service that stays up is Run, but only once up for min_ready;
 *   - `kill -9 $$` gives "killed by signal 9", an artifact whose sha256
 *     does not match gives "checksum mismatch ... expected ..., got ...";
 *   - a service with a large budget keeps crash-looping, backed off, and
 *     its events stay few: the repeats are coalesced into one summary
 *     ("restarted N times in the last ...") said when the loop ends;
 *   - a controller killed -9 goes on with the backoff streak and keeps
 *     what was Failed Failed (the crash state is in the stored memo);
 *   - a changed spec brings a Failed service back to Run.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "cluster.h"
#include "err.h"
#include "hook.h"
#include "run.h"
#include "units.h"

static struct cluster *cl;
static struct hook *hook;
static char artifact_url[600];

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* The manifest: steady (stays up, min_ready 1s) and crashy always; the
 * phase-2 services when more; crashy fixed when fixed. */
static const char *
manifest(bool more, bool fixed)
{
	static char buf[8192];
	size_t n = 0;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
	    "architecture: crashloop\n"
	    "alerts:\n"
	    "  webhook: http://127.0.0.1:%d/alert\n"
	    "services:\n"
	    "  steady:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"/bin/sh\", \"-c\", \"exec sleep 600\"]\n"
	    "    min_ready: 1s\n"
	    "  crashy:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"%s\"]\n"
	    "    replicas: 2\n", hook_port(hook),
	    fixed ? "exec sleep 600" : "exit 1");
	if (fixed)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "    min_ready: 300ms\n");
	if (!more)
		return buf;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
	    "  killer:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"kill -9 $$$$\"]\n"
	    "    restart: {limit: 2, backoff: 50ms, max_backoff: 200ms}\n"
	    "  badsum:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"/bin/sh\", \"-c\", \"exec sleep 600\"]\n"
	    "    artifact: {url: \"%s\", sha256: \"" ZEROS "\"}\n"
	    "    restart: {limit: 1, backoff: 50ms, max_backoff: 200ms}\n"
	    "  loopy:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"exit 3\"]\n"
	    "    restart: {limit: 100000, window: 10m, backoff: 50ms, max_backoff: 150ms}\n",
	    artifact_url);
	return buf;
}

/* The service object of /v1/status (caller decrefs), or NULL. */
static json_t *
service(const char *name)
{
	json_t *st = cluster_call(cl, NULL, "GET", "/v1/status", NULL), *s, *out = NULL;
	size_t i;

	json_array_foreach(json_object_get(st, "services"), i, s)
		if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0)
			out = json_incref(s);
	json_decref(st);
	return out;
}

/* The service is in state want with a reason containing every needle. */
static bool
service_is(const char *name, const char *want, ...)
{
	json_t *s = service(name);
	const char *state, *reason, *needle;
	bool ok;
	va_list ap;

	if (s == NULL)
		return false;
	state = json_string_value(json_object_get(s, "state"));
	reason = json_string_value(json_object_get(s, "reason"));
	ok = state != NULL && strcmp(state, want) == 0;
	if (getenv("ORCH_TEST_VERBOSE") != NULL)
		fprintf(stderr, "%s: %s %s\n", name, state ? state : "-",
		    reason ? reason : "-");
	va_start(ap, want);
	while (ok && (needle = va_arg(ap, const char *)) != NULL)
		ok = reason != NULL && strstr(reason, needle) != NULL;
	va_end(ap);
	json_decref(s);
	return ok;
}

/* The result of revision seq contains result, its reason needle. */
static bool
revision_is(long long seq, const char *result, const char *needle)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/revisions", NULL), *r;
	bool ok = false;
	size_t i;

	json_array_foreach(json_object_get(j, "revisions"), i, r) {
		const char *res = json_string_value(json_object_get(r, "result"));
		const char *why = json_string_value(json_object_get(r, "reason"));

		if (json_integer_value(json_object_get(r, "seq")) != seq)
			continue;
		ok = res != NULL && strcmp(res, result) == 0 &&
		    (needle == NULL || (why != NULL && strstr(why, needle) != NULL));
	}
	json_decref(j);
	return ok;
}

/* The events of service (the newest page); caller decrefs. */
static json_t *
events(const char *svc)
{
	char path[128];
	json_t *j, *ev;

	snprintf(path, sizeof(path), "/v1/events?since=0&service=%s", svc);
	j = cluster_call(cl, NULL, "GET", path, NULL);
	ev = json_incref(json_object_get(j, "events"));
	json_decref(j);
	return ev;
}

static size_t
nevents(const char *svc)
{
	json_t *ev = events(svc);
	size_t n = json_array_size(ev);

	json_decref(ev);
	return n;
}

/* An event of svc whose cause contains needle. */
static bool
event_says(const char *svc, const char *needle)
{
	json_t *ev = events(svc), *e;
	bool found = false;
	size_t i;

	json_array_foreach(ev, i, e) {
		const char *cause = json_string_value(json_object_get(e, "cause"));

		if (cause != NULL && strstr(cause, needle) != NULL)
			found = true;
	}
	json_decref(ev);
	return found;
}

/* N of "N failures in a row" in the service's reason; 0 when not there. */
static int
streak_of(const char *name)
{
	json_t *s = service(name);
	const char *reason = s ? json_string_value(json_object_get(s, "reason")) : NULL;
	const char *p = reason ? strstr(reason, "; ") : NULL;
	int n = 0;

	if (p != NULL && strstr(p, " in a row") != NULL)
		n = atoi(p + 2);
	json_decref(s);
	return n;
}

/* Let the controller run for ms (a check that something does NOT
 * happen needs some time to pass). */
static void
let_run(int64_t ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- tests ------------------------------------------------------------- */

TEST(crashloop__apply_wait_fails_with_exit_status)
{
	char bin[512], envtok[128];
	const char *env[] = {"ORCH_CONTROLLER=", envtok, NULL};
	const char *bld = getenv("ORCH_BUILD_DIR");
	struct run_result r = {0};
	FILE *f;

	REQUIRE(hook_start(&hook) == 0);
	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	/* An artifact whose sha256 is not ZEROS (for phase 2). */
	snprintf(artifact_url, sizeof(artifact_url), "file://%s/app.tar", cl->dir);
	REQUIRE((f = fopen(artifact_url + strlen("file://"), "w")) != NULL);
	fputs("not the file you are looking for\n", f);
	fclose(f);

	REQUIRE(cluster_commit(cl, manifest(false, false), NULL) == 0);
	snprintf(bin, sizeof(bin), "%s/orchctl/orchctl", bld ? bld : "build");
	snprintf(envtok, sizeof(envtok), "ORCH_TOKEN=%s", CL_TOKEN);
	{
		const char *argv[] = {bin, "--controller", cl->url, "apply", "--wait",
		    "--timeout", "90s", NULL};

		REQUIRE(run_capture(&r, argv, NULL, env, 120000) == 0);
		CHECK(!r.timed_out);
		CHECK_EQ_INT(r.status, 1);
		CHECK_CONTAINS(r.err, "service crashy is Failed: exit status 1");
		run_result_free(&r);
	}
	CHECK(service_is("crashy", "Failed", "exit status 1", "restart.limit 5",
	    (const char *)NULL));
	CHECK(WAIT_FOR(revision_is(1, "failed", "exit status 1"), CL_WAIT));
}

TEST(crashloop__alert_once_events_bounded)
{
	size_t n0;

	REQUIRE(cl != NULL);
	CHECK(WAIT_FOR(hook_count(hook, "\"kind\":\"failed\"", "\"service\":\"crashy\"",
	    "exit status 1", (const char *)NULL) == 1, CL_WAIT));
	/* Failed is where it stays: no more starts, no more events, no
	 * second alert, over several resync periods. */
	/* The loop's repeats were coalesced: one summary, said when it
	 * failed. */
	CHECK(WAIT_FOR(event_says("crashy", "restarted "), CL_WAIT));
	CHECK(event_says("crashy", "(exit status 1); "));
	n0 = nevents("crashy");
	let_run(3000);
	CHECK(nevents("crashy") <= n0 + 1);
	CHECK_EQ_INT(hook_count(hook, "\"kind\":\"failed\"", "\"service\":\"crashy\"",
	    (const char *)NULL), 1);
	CHECK(service_is("crashy", "Failed", "exit status 1", (const char *)NULL));
	CHECK_EQ_INT(cluster_count(cl, "crashy", "Run"), 0);
}

/* steady's slave says Run at once (no health check); the service is Run
 * only once its instance has been up for min_ready (1s). */
TEST(crashloop__min_ready_honoured)
{
	json_t *ev, *e, *inst, *all;
	int64_t run_at = 0, started = 0;
	size_t i;

	REQUIRE(cl != NULL);
	CHECK(WAIT_FOR(service_is("steady", "Run", (const char *)NULL), CL_WAIT));
	ev = events("steady");
	json_array_foreach(ev, i, e) {
		const char *to = json_string_value(json_object_get(e, "to"));

		if (!json_is_string(json_object_get(e, "instance")) && to != NULL &&
		    strcmp(to, "Run") == 0 && run_at == 0)
			run_at = json_integer_value(json_object_get(e, "time"));
	}
	json_decref(ev);
	all = cluster_call(cl, NULL, "GET", "/v1/instances", NULL);
	json_array_foreach(json_object_get(all, "instances"), i, inst)
		if (strcmp(json_string_value(json_object_get(inst, "service")), "steady") == 0)
			started = json_integer_value(json_object_get(inst, "started_at"));
	json_decref(all);
	CHECK(run_at > 0 && started > 0);
	if (run_at - started < 1000)
		check_fail(__FILE__, __LINE__, "steady Run %lldms after its start, "
		    "before min_ready 1s", (long long)(run_at - started));
}

TEST(crashloop__signal_checksum_and_coalesced_loop)
{
	size_t n0;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, manifest(true, false), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(service_is("killer", "Failed", "killed by signal 9",
	    (const char *)NULL), CL_WAIT));
	CHECK(WAIT_FOR(service_is("badsum", "Failed", "checksum mismatch",
	    "expected " ZEROS ", got ", (const char *)NULL), CL_WAIT));
	CHECK(WAIT_FOR(hook_count(hook, "\"kind\":\"failed\"", "\"service\":\"killer\"",
	    (const char *)NULL) == 1, CL_WAIT));
	/* loopy's budget is large: it loops, backed off, with its events
	 * coalesced once it is a loop. */
	CHECK(WAIT_FOR(service_is("loopy", "Provision", "crash loop: exit status 3",
	    (const char *)NULL), CL_WAIT));
	n0 = nevents("loopy");
	let_run(4000);
	CHECK(service_is("loopy", "Provision", (const char *)NULL));
	if (nevents("loopy") > n0 + 4)
		check_fail(__FILE__, __LINE__, "loopy: %zu events in 4s of a crash "
		    "loop", nevents("loopy") - n0);
}

/* The crash state is in the stored memo: a controller killed -9 and
 * started again goes on with the streak, and what was Failed by its
 * budget stays Failed, with nothing started again. */
TEST(crashloop__survives_controller_restart)
{
	int before, low = 0;

	REQUIRE(cl != NULL);
	CHECK(WAIT_FOR((before = streak_of("loopy")) >= 6, CL_WAIT));
	cluster_ctl_stop(cl, SIGKILL);
	REQUIRE(cluster_ctl_start(cl) == 0);
	/* A streak started afresh would show 2, 3, ... in its first seconds. */
	for (int k = 0; k < 60; k++) {
		int n = streak_of("loopy");

		if (n > 0 && n < before && low == 0)
			low = n;
		let_run(50);
	}
	CHECK_EQ_INT(low, 0);
	CHECK(WAIT_FOR(streak_of("loopy") > before, CL_WAIT));
	CHECK(service_is("killer", "Failed", "killed by signal 9", (const char *)NULL));
	CHECK(service_is("crashy", "Failed", "exit status 1", (const char *)NULL));
	let_run(2000);
	CHECK_EQ_INT(cluster_count(cl, "killer", NULL), 0);
	CHECK_EQ_INT(cluster_count(cl, "crashy", NULL), 0);
	CHECK_EQ_INT(hook_count(hook, "\"kind\":\"failed\"", "\"service\":\"crashy\"",
	    (const char *)NULL), 1);
}

/* A changed spec: crashy and loopy run; the summary of loopy's coalesced
 * events is said when its loop ends. */
TEST(crashloop__changed_spec_recovers)
{
	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, manifest(false, true), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(service_is("crashy", "Run", (const char *)NULL) &&
	    cluster_count(cl, "crashy", "Run") == 2, CL_WAIT));
	CHECK(WAIT_FOR(event_says("loopy", "restarted "), CL_WAIT));
	CHECK(event_says("loopy", "(exit status 3); "));
	CHECK(WAIT_FOR(revision_is(3, "succeeded", NULL), CL_WAIT));
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
	hook_free(hook);
	hook = NULL;
}

CHECK_MAIN(crashloop__apply_wait_fails_with_exit_status,
    crashloop__alert_once_events_bounded, crashloop__min_ready_honoured,
    crashloop__signal_checksum_and_coalesced_loop,
    crashloop__survives_controller_restart, crashloop__changed_spec_recovers)
