/*
 * test_timed_steps.c - a timed step of a rollout runs at its time, not
 * at the next reconcile period (issue 10 #10). The controller runs with
 * --resync 60s, so nothing but the step's own timer wakes the planner
 * when the wait ends (no instance changes then):
 *
 *   canary step {weight: 50, pause: 2s}   the next step comes within a
 *                                         margin of rollout.wait_until
 *   blue-green scale_down_delay: 2s       the old set goes within a
 *                                         margin of rollout.wait_until
 *
 * and while it waits the reason names the time the wait ends (it stays
 * true), not a countdown frozen at the last plan.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "daemon.h"
#include "units.h"

#define MARGIN_MS 4000  /* generous on a loaded machine; the resync is 60 s */
#define PHASE_WAIT 70000

static struct cluster *cl;
static const char *const ctl_args[] = {"--resync", "60s", NULL};

static const char *
manifest(const char *version, const char *strategy)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
	    "architecture: timed\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"%s\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy: %s\n",
	    version, cluster_app("httpapp"), version, strategy);
	return buf;
}

/* web's rollout: its phase (static copy), wait_until and reason. */
static const char *
rollout(int64_t *wait_until, char *reason, size_t len)
{
	static char phase[64];
	json_t *j = cluster_get(cl, "/v1/services/web");
	json_t *r = json_object_get(j, "rollout");
	const char *p = json_string_value(json_object_get(r, "phase"));

	snprintf(phase, sizeof(phase), "%s", p ? p : "");
	if (wait_until != NULL)
		*wait_until = (int64_t)json_integer_value(json_object_get(r, "wait_until"));
	if (reason != NULL)
		snprintf(reason, len, "%s", json_string_value(json_object_get(j, "reason")) ?
		    json_string_value(json_object_get(j, "reason")) : "");
	json_decref(j);
	return phase;
}

static bool
phase_is(const char *want)
{
	return strcmp(rollout(NULL, NULL, 0), want) == 0;
}

/* Apply a release whose rollout waits; the ms by which the wait ended
 * after its wait_until (negative: before), or INT64_MAX when it never
 * ended within PHASE_WAIT. */
static int64_t
late_by(const char *version, const char *strategy)
{
	char reason[512];
	int64_t until = 0, ended;

	if (cluster_commit(cl, manifest(version, strategy), NULL) < 0 ||
	    cluster_apply(cl, NULL) != 200 || !WAIT_FOR(phase_is("waiting"), CL_WAIT))
		return INT64_MAX;
	rollout(&until, reason, sizeof(reason));
	printf("# %s: waiting, reason \"%s\"\n", version, reason);
	/* The reason says until when, as the clock on the wall shows it. */
	CHECK_CONTAINS(reason, "until ");
	CHECK_CONTAINS(reason, " UTC");
	CHECK(strstr(reason, " left") == NULL);
	if (!WAIT_FOR(!phase_is("waiting"), PHASE_WAIT))
		return INT64_MAX;
	ended = orch_wall_ms();
	printf("# %s: the wait ended %lld ms after wait_until\n", version,
	    (long long)(ended - until));
	return ended - until;
}

TEST(timed__start)
{
	REQUIRE(cluster_start(&cl, 2, ctl_args) == 0);
	REQUIRE(cluster_commit(cl, manifest("1.0.0", "{type: rolling}"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	REQUIRE(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
}

TEST(timed__canary_pause_ends_on_time)
{
	int64_t late;

	REQUIRE(cl != NULL);
	late = late_by("2.0.0", "{type: canary, steps: [{weight: 50, pause: 2s}]}");
	CHECK(late != INT64_MAX && late < MARGIN_MS);
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
}

TEST(timed__bluegreen_scale_down_delay_ends_on_time)
{
	int64_t late;

	REQUIRE(cl != NULL);
	late = late_by("3.0.0", "{type: blue-green, auto_promote: 0s, "
	    "scale_down_delay: 2s}");
	CHECK(late != INT64_MAX && late < MARGIN_MS);
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
}

TEST(timed__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(timed__start, timed__canary_pause_ends_on_time,
    timed__bluegreen_scale_down_delay_ends_on_time, timed__finish)
