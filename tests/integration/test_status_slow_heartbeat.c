/*
 * test_status_slow_heartbeat.c - status never lies when a slave reports
 * at its default pace (a heartbeat every 2 s, not the 300 ms the other
 * tests use).
 *
 * A process that exits at once: the slave sees the exit a few
 * milliseconds after the start, and sends it as an event right away; the
 * answer to the start command (the status "running") may reach the
 * controller after that exit happened. The controller used to order the
 * two by its own receive time against the slave's event time, took the
 * event for older, dropped it, and learnt of the exit only from the next
 * heartbeat's list, 2 s later: long enough for min_ready (1 s) to pass,
 * so the service was Run and the revision "succeeded" for a crash loop
 * (found by the valgrind run's slow time factor, issue 11). Statuses now
 * carry the slave's own stamp (changed_at) and are ordered by it.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "err.h"

static struct cluster *cl;

static const char *
manifest(void)
{
	return "architecture: slowbeat\n"
	    "services:\n"
	    "  crashy:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"exit 1\"]\n"
	    "    replicas: 2\n"
	    "    restart: {limit: 4, window: 60s, backoff: 100ms, max_backoff: 400ms}\n";
}

static const char *
revision_result(long long seq)
{
	static char out[32];
	json_t *j = cluster_get(cl, "/v1/revisions"), *r;
	size_t i;

	out[0] = '\0';
	json_array_foreach(json_object_get(j, "revisions"), i, r)
		if (json_integer_value(json_object_get(r, "seq")) == seq)
			snprintf(out, sizeof(out), "%s",
			    json_string_value(json_object_get(r, "result")) ?: "");
	json_decref(j);
	return out;
}

/* Events where the service itself (no instance) went to state `to`. */
static int
service_went(const char *svc, const char *to)
{
	json_t *j = cluster_get(cl, "/v1/events?limit=1000"), *e;
	size_t k;
	int n = 0;

	json_array_foreach(json_object_get(j, "events"), k, e)
		n += json_is_null(json_object_get(e, "instance")) &&
		    strcmp(json_string_value(json_object_get(e, "service")) ?: "", svc) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "to")) ?: "", to) == 0;
	json_decref(j);
	return n;
}

static bool
service_failed(void)
{
	json_t *s = cluster_get(cl, "/v1/services/crashy");
	bool yes = s != NULL &&
	    strcmp(json_string_value(json_object_get(s, "state")) ?: "", "Failed") == 0;

	json_decref(s);
	return yes;
}

TEST(slow_heartbeat__crash_loop_is_never_run)
{
	long long seq;
	json_t *j;
	long st;

	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	/* The slave again, at the default pace. */
	cl->slave_heartbeat = "2s";
	REQUIRE(cluster_slave_stop(cl, 0, SIGTERM) == 0);
	REQUIRE(cluster_slave_start(cl, 0) == 0);
	REQUIRE(cluster_commit(cl, manifest(), NULL) == 0);
	j = cluster_call(cl, &st, "POST", "/v1/apply", "{}");
	REQUIRE(st == 200);
	seq = json_integer_value(json_object_get(json_object_get(j, "revision"), "seq"));
	json_decref(j);
	REQUIRE(seq > 0);
	CHECK(WAIT_FOR(service_failed(), CL_WAIT));
	/* Never Run on the way, and the revision is failed, not succeeded. */
	CHECK_EQ_INT(service_went("crashy", "Run"), 0);
	CHECK_STR(revision_result(seq), "failed");
}

TEST(slow_heartbeat__stop)
{
	REQUIRE(cl != NULL);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(slow_heartbeat__crash_loop_is_never_run, slow_heartbeat__stop)
