/*
 * test_status_revisions.c - what the revision log and a service's
 * revision say is what happened (issue 10 #2, #9, #11; issue 11 #5),
 * driven through a real orch-controller, a real orch-slave, a git
 * repository and the real orchctl:
 *
 *   - `abort` of a canary records its revision "aborted", and a later
 *     automatic rollback never goes back to that version;
 *   - a version whose rollout failed and was rolled back is not rolled
 *     out again by an unrelated commit on top of it: the plan says so,
 *     apply --wait ends at once, no instance of it starts; a service's
 *     revision is the commit whose spec it runs (pinned: the pin) and its
 *     strategy that spec's, also after an instance restart and a
 *     controller restart; --retry-failed rolls it out again, which fails
 *     and rolls back again (no canary restarted until the deadline);
 *     the revision that held it back succeeded;
 *   - a pet Failed under an earlier revision does not fail a later one
 *     that leaves it alone;
 *   - a newer apply marks a revision still "applied" "superseded";
 *   - a revision pending when the controller is killed gets its result
 *     after the restart;
 *   - `abort` of a rolling update (a rollback) records it "aborted".
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
#include "run.h"

static struct cluster *cl;
static bool slow_rolling;    /* rolling waits min_ready 60s per instance */
static char sha_good[41];   /* web 1.3.0, rolling */

/*
 * web at version (rolling or canary; bad: its health check never passes),
 * the architecture label arch, and extra services (YAML, may be "").
 */
static const char *
manifest(const char *arch, const char *version, bool canary, bool bad, const char *extra)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf),
	    "architecture: revs\n"
	    "version: \"%s\"\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"%s\"%s]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 200ms, "
	    "unhealthy_threshold: 2}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy: %s\n"
	    "%s",
	    arch, version, cluster_app("httpapp"), version, bad ? ", \"--fail-health\"" : "",
	    canary ? "{type: canary, steps: [{weight: 50}], auto_rollback: true, "
	    "progress_deadline: 60s}" : slow_rolling ? "{type: rolling, max_surge: 1, "
	    "max_unavailable: 0, min_ready: 60s, auto_rollback: true, progress_deadline: 120s}" :
	    "{type: rolling, max_surge: 1, max_unavailable: 0, "
	    "auto_rollback: true, progress_deadline: 60s}", extra);
	return buf;
}

/* POST /v1/apply {body}; the revision seq of the answer (0: none). */
static long long
apply(const char *body)
{
	long st = 0;
	json_t *j = cluster_call(cl, &st, "POST", "/v1/apply", body);
	long long seq = json_integer_value(json_object_get(json_object_get(j, "revision"),
	    "seq"));

	json_decref(j);
	return st == 200 ? seq : 0;
}

static json_t *
revision(long long seq)
{
	json_t *j = cluster_get(cl, "/v1/revisions"), *r, *found = NULL;
	size_t k;

	json_array_foreach(json_object_get(j, "revisions"), k, r)
		if (json_integer_value(json_object_get(r, "seq")) == seq)
			found = json_incref(r);
	json_decref(j);
	return found;
}

static const char *
revision_result(long long seq)
{
	static char buf[64];
	json_t *r = revision(seq);

	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(r, "result")) ?: "");
	json_decref(r);
	return buf;
}

static bool
revision_result_is(long long seq, const char *want)
{
	return strcmp(revision_result(seq), want) == 0;
}

/* A string field of /v1/services/NAME (static buffer; "" when absent). */
static const char *
svc_field(const char *name, const char *field)
{
	static char buf[1024];
	char path[128];
	json_t *j;

	snprintf(path, sizeof(path), "/v1/services/%s", name);
	j = cluster_get(cl, path);
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(j, field)) ?: "");
	json_decref(j);
	return buf;
}

static const char *
web_phase(void)
{
	static char buf[64];
	json_t *j = cluster_get(cl, "/v1/services/web");

	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(
	    json_object_get(j, "rollout"), "phase")) ?: "");
	json_decref(j);
	return buf;
}

/* web is Run at version v, and its desired instances all run v (none
 * of another version left). */
static bool
web_runs(const char *v)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *i;
	int n = 0;
	bool ok = true;
	size_t k;

	json_array_foreach(json_object_get(j, "instances"), k, i) {
		const char *s = json_string_value(json_object_get(i, "service"));
		const char *ver = json_string_value(json_object_get(i, "version"));

		if (s == NULL || strcmp(s, "web") != 0)
			continue;
		if (ver == NULL || strcmp(ver, v) != 0)
			ok = false;
		else if (json_is_true(json_object_get(i, "desired")))
			n++;
	}
	json_decref(j);
	return ok && n == 2 && cluster_service_is(cl, "web", "Run") &&
	    strcmp(svc_field("web", "version"), v) == 0;
}

/* How many web instances (any state) run version v. */
static int
web_count_at(const char *v)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *i;
	int n = 0;
	size_t k;

	json_array_foreach(json_object_get(j, "instances"), k, i) {
		const char *s = json_string_value(json_object_get(i, "service"));
		const char *ver = json_string_value(json_object_get(i, "version"));

		if (s && ver && strcmp(s, "web") == 0 && strcmp(ver, v) == 0)
			n++;
	}
	json_decref(j);
	return n;
}

/* Whether a web instance has pid. */
static bool
web_has_pid(long long pid)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *i;
	bool has = false;
	size_t k;

	json_array_foreach(json_object_get(j, "instances"), k, i)
		if (json_integer_value(json_object_get(i, "pid")) == pid)
			has = true;
	json_decref(j);
	return has;
}

/* Whether web moved to state `to` in an event after seq. */
static bool
web_went_to_since(const char *to, long long since)
{
	char path[128];
	bool saw = false;
	json_t *j, *e;
	size_t k;

	for (;;) {
		size_t n;

		snprintf(path, sizeof(path), "/v1/events?service=web&since=%lld", since);
		j = cluster_get(cl, path);
		n = json_array_size(json_object_get(j, "events"));
		json_array_foreach(json_object_get(j, "events"), k, e) {
			const char *t = json_string_value(json_object_get(e, "to"));

			if (json_is_null(json_object_get(e, "instance")) && t &&
			    strcmp(t, to) == 0)
				saw = true;
			since = json_integer_value(json_object_get(e, "seq"));
		}
		json_decref(j);
		if (n == 0 || saw)
			return saw;
	}
}

/* orchctl against the cluster, with its token (args NULL-terminated). */
#define orchctl(r, ...) run_orchctl((r), NULL, cl->url, cl->token_file, NULL, __VA_ARGS__)

TEST(revisions__abort_is_aborted_and_never_a_rollback_target)
{
	long long r1, r2, r3;
	json_t *j;
	long st;

	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest("1", "1.0.0", true, false, ""), NULL) == 0);
	REQUIRE((r1 = apply("{}")) > 0);
	REQUIRE(WAIT_FOR(web_runs("1.0.0") && revision_result_is(r1, "succeeded"), CL_WAIT));

	/* 2.0.0's canary waits for promote; abort: the old set runs, and
	 * the revision is aborted, not succeeded. */
	REQUIRE(cluster_commit(cl, manifest("1", "2.0.0", true, false, ""), NULL) == 0);
	REQUIRE((r2 = apply("{}")) > 0);
	REQUIRE(WAIT_FOR(strcmp(web_phase(), "waiting for promote") == 0, CL_WAIT));
	CHECK(revision_result_is(r2, "applied"));
	j = cluster_call(cl, &st, "POST", "/v1/services/web/abort", NULL);
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(strcmp(web_phase(), "aborted") == 0 && web_count_at("2.0.0") == 0,
	    CL_WAIT));
	CHECK(WAIT_FOR(revision_result_is(r2, "aborted"), CL_WAIT));
	CHECK_STR(revision_result(r2), "aborted");

	/* A broken 3.0.0 rolls back automatically: to 1.0.0, what last
	 * worked, never to the aborted 2.0.0. */
	REQUIRE(cluster_commit(cl, manifest("1", "3.0.0", true, true, ""), NULL) == 0);
	REQUIRE((r3 = apply("{}")) > 0);
	CHECK(WAIT_FOR(revision_result_is(r3, "failed"), CL_WAIT));
	CHECK(WAIT_FOR(web_runs("1.0.0"), CL_WAIT));
	CHECK_EQ_INT(web_count_at("2.0.0"), 0);
	CHECK_CONTAINS(svc_field("web", "reason"), "rolled back from 3.0.0 to 1.0.0");
	CHECK_STR(revision_result(r2), "aborted");
}

TEST(revisions__a_failed_version_is_not_retried_by_an_unrelated_commit)
{
	struct run_result r;
	char unrelated[41], want[64];
	long long rbad, rnext, since;
	json_t *j;

	REQUIRE(cl != NULL);
	/* web 1.3.0 (rolling) runs; 1.4.0 (canary) fails and is rolled
	 * back to 1.3.0. */
	REQUIRE(cluster_commit(cl, manifest("1", "1.3.0", false, false, ""), sha_good) == 0);
	REQUIRE(apply("{}") > 0);
	REQUIRE(WAIT_FOR(web_runs("1.3.0"), CL_WAIT));
	REQUIRE(cluster_commit(cl, manifest("1", "1.4.0", true, true, ""), NULL) == 0);
	REQUIRE((rbad = apply("{}")) > 0);
	REQUIRE(WAIT_FOR(revision_result_is(rbad, "failed"), CL_WAIT));
	REQUIRE(WAIT_FOR(web_runs("1.3.0"), CL_WAIT));

	/* Its revision is the commit whose spec it runs (the pin), its
	 * strategy that spec's (issue 10 #11). */
	CHECK_STR(svc_field("web", "revision"), sha_good);
	CHECK_STR(svc_field("web", "strategy"), "rolling");

	/* An unrelated change on top (the architecture's version only):
	 * the plan says web stays, apply --wait ends, nothing rolls out. */
	REQUIRE(cluster_commit(cl, manifest("2", "1.4.0", true, true, ""), unrelated) == 0);
	since = cluster_last_seq(cl);
	orchctl(&r, "apply", "--wait", "--timeout", "30s", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "= web stays at 1.3.0: this would roll it out again to "
	    "1.4.0, a version whose rollout failed (rolled back from 1.4.0 to 1.3.0: ");
	CHECK_CONTAINS(r.out, "Held back: 1 service");
	CHECK_CONTAINS(r.out, "--retry-failed");
	CHECK_CONTAINS(r.out, "complete");
	run_result_free(&r);
	/* The whole time: no Update of web, no 1.4.0 instance. */
	for (int k = 0; k < 10; k++) {
		struct timespec ts = {0, 200 * 1000000L};

		CHECK_EQ_INT(web_count_at("1.4.0"), 0);
		nanosleep(&ts, NULL);
	}
	CHECK(!web_went_to_since("Update", since));
	CHECK(web_runs("1.3.0"));
	CHECK_STR(svc_field("web", "revision"), sha_good);
	CHECK_STR(svc_field("web", "strategy"), "rolling");
	j = cluster_get(cl, "/v1/status");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "revision"), "commit")),
	    unrelated);
	json_decref(j);

	/* An instance restart and a controller restart change neither. */
	{
		json_t *inst = cluster_get(cl, "/v1/instances"), *i;
		size_t k;
		long long pid = 0;

		json_array_foreach(json_object_get(inst, "instances"), k, i)
			if (pid == 0 && strcmp(json_string_value(json_object_get(i, "service")),
			    "web") == 0)
				pid = json_integer_value(json_object_get(i, "pid"));
		json_decref(inst);
		REQUIRE(pid > 0);
		CHECK(kill((pid_t)pid, SIGKILL) == 0);
		CHECK(WAIT_FOR(!web_has_pid(pid) && web_runs("1.3.0"), CL_WAIT));
	}
	CHECK_STR(svc_field("web", "revision"), sha_good);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGKILL), 128 + SIGKILL);
	REQUIRE(cluster_ctl_start(cl) == 0);
	CHECK(WAIT_FOR(web_runs("1.3.0"), CL_WAIT));
	CHECK_STR(svc_field("web", "revision"), sha_good);
	CHECK_STR(svc_field("web", "strategy"), "rolling");
	CHECK_EQ_INT(web_count_at("1.4.0"), 0);

	/* --retry-failed: 1.4.0 rolls out again, fails again and is rolled
	 * back again -- not canaries restarted until progress_deadline. */
	orchctl(&r, "apply", "--retry-failed", "--wait", "--timeout", "45s", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "! web 1.4.0 failed its rollout before");
	CHECK_CONTAINS(r.out, "~ web 1.3.0 -> 1.4.0");
	/* Failed by a rollback (seen under way or done), not by a timeout. */
	if (strstr(r.err, "rolling back to 1.3.0") == NULL)
		CHECK_CONTAINS(r.err, "rolled back from 1.4.0 to 1.3.0");
	CHECK(strstr(r.err, "timed out") == NULL);
	run_result_free(&r);
	rnext = rbad + 2;
	CHECK(WAIT_FOR(revision_result_is(rnext, "failed"), CL_WAIT));
	CHECK(WAIT_FOR(web_runs("1.3.0"), CL_WAIT));
	CHECK_CONTAINS(svc_field("web", "reason"), "rolled back from 1.4.0 to 1.3.0");
	CHECK_STR(svc_field("web", "revision"), sha_good);
	snprintf(want, sizeof(want), "%s", revision_result(rbad + 1));
	CHECK_STR(want, "succeeded"); /* the held revision did not fail */
}

TEST(revisions__a_pet_failed_before_does_not_fail_a_later_revision)
{
	static const char *pet =
	    "  cache:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"exit 1\"]\n"
	    "    restart: {limit: 1, window: 60s, backoff: 50ms, max_backoff: 100ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy: {type: rolling, max_surge: 0, max_unavailable: 1}\n";
	long long rpet, rweb;

	REQUIRE(cl != NULL);
	/* The revision that brings the broken pet: cache ends Failed (what
	 * that revision's result is belongs to issue 10 #1). */
	REQUIRE(cluster_commit(cl, manifest("3", "1.3.0", false, false, pet), NULL) == 0);
	REQUIRE((rpet = apply("{}")) > 0);
	CHECK(WAIT_FOR(cluster_service_is(cl, "cache", "Failed") &&
	    !revision_result_is(rpet, "applied"), CL_WAIT));
	/* The next one changes web only: it succeeds, cache stays Failed. */
	REQUIRE(cluster_commit(cl, manifest("3", "1.5.0", false, false, pet), NULL) == 0);
	REQUIRE((rweb = apply("{}")) > 0);
	CHECK(WAIT_FOR(web_runs("1.5.0"), CL_WAIT));
	CHECK(WAIT_FOR(revision_result_is(rweb, "succeeded"), CL_WAIT));
	CHECK_STR(revision_result(rweb), "succeeded");
	CHECK(cluster_service_is(cl, "cache", "Failed"));
	/* Without the pet again, for what follows. */
	REQUIRE(cluster_commit(cl, manifest("3", "1.5.0", false, false, ""), NULL) == 0);
	REQUIRE(apply("{}") > 0);
	CHECK(WAIT_FOR(cluster_count(cl, "cache", NULL) == 0 && web_runs("1.5.0"), CL_WAIT));
}

TEST(revisions__a_newer_apply_supersedes_and_a_restart_finishes_one)
{
	long long r6, r7;
	json_t *j;
	long st;

	REQUIRE(cl != NULL);
	/* 6.0.0's canary waits for promote: still applied when 7.0.0 comes. */
	REQUIRE(cluster_commit(cl, manifest("4", "6.0.0", true, false, ""), NULL) == 0);
	REQUIRE((r6 = apply("{}")) > 0);
	REQUIRE(WAIT_FOR(strcmp(web_phase(), "waiting for promote") == 0, CL_WAIT));
	REQUIRE(cluster_commit(cl, manifest("4", "7.0.0", true, false, ""), NULL) == 0);
	REQUIRE((r7 = apply("{}")) > 0);
	CHECK_STR(revision_result(r6), "superseded");
	REQUIRE(WAIT_FOR(strcmp(web_phase(), "waiting for promote") == 0 &&
	    web_count_at("7.0.0") > 0, CL_WAIT));
	CHECK_STR(revision_result(r7), "applied");

	/* kill -9 while 7.0.0 is pending; after the restart, promote: the
	 * result is set (issue 11 #5). */
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGKILL), 128 + SIGKILL);
	REQUIRE(cluster_ctl_start(cl) == 0);
	REQUIRE(WAIT_FOR(strcmp(web_phase(), "waiting for promote") == 0, CL_WAIT));
	j = cluster_call(cl, &st, "POST", "/v1/services/web/promote", NULL);
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(web_runs("7.0.0"), CL_WAIT));
	CHECK(WAIT_FOR(revision_result_is(r7, "succeeded"), CL_WAIT));
	CHECK_STR(revision_result(r7), "succeeded");
	CHECK_STR(revision_result(r6), "superseded");
}

/* A rolling update has replaced old instances already: its abort is a
 * rollback, and the revision is aborted (not failed), with the reason. */
TEST(revisions__a_rolling_abort_is_aborted)
{
	long long r8, r9;
	json_t *j, *rev;
	long st;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, manifest("5", "8.0.0", false, false, ""), NULL) == 0);
	REQUIRE((r8 = apply("{}")) > 0);
	REQUIRE(WAIT_FOR(web_runs("8.0.0") && revision_result_is(r8, "succeeded"), CL_WAIT));
	slow_rolling = true; /* 9.0.0's rollout waits 60s after its first instance */
	REQUIRE(cluster_commit(cl, manifest("5", "9.0.0", false, false, ""), NULL) == 0);
	REQUIRE((r9 = apply("{}")) > 0);
	/* The first 9.0.0 instance waits its min_ready: abort now. */
	REQUIRE(WAIT_FOR(web_count_at("9.0.0") > 0 &&
	    cluster_service_is(cl, "web", "Update"), CL_WAIT));
	j = cluster_call(cl, &st, "POST", "/v1/services/web/abort", NULL);
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(revision_result_is(r9, "aborted"), CL_WAIT));
	rev = revision(r9);
	CHECK_CONTAINS(json_string_value(json_object_get(rev, "reason")),
	    "service web rolled back from 9.0.0 to 8.0.0: aborted");
	json_decref(rev);
	CHECK(WAIT_FOR(web_runs("8.0.0"), CL_WAIT));
	CHECK_STR(revision_result(r9), "aborted");
	slow_rolling = false;
}

TEST(revisions__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(revisions__abort_is_aborted_and_never_a_rollback_target,
    revisions__a_failed_version_is_not_retried_by_an_unrelated_commit,
    revisions__a_pet_failed_before_does_not_fail_a_later_revision,
    revisions__a_newer_apply_supersedes_and_a_restart_finishes_one,
    revisions__a_rolling_abort_is_aborted, revisions__finish)
