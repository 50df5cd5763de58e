/*
 * test_rollout_kill.c - one killed new instance does not fail a rollout
 * (issue 11 #6). A rolling update of 4 cattle from 1.0.0 to 2.0.0; the
 * first 2.0.0 instance to run is killed -9 from outside. It is replaced
 * and counted against the restart budget; the rollout goes on to 2.0.0,
 * never rolls back, and its revision succeeds.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cluster.h"

static struct cluster *cl;

static const char *
manifest(const char *version)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "architecture: rollkill\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 4\n"
	    "    health: {type: tcp, interval: 100ms, timeout: 100ms}\n"
	    "    strategy: {type: rolling, max_surge: 1, max_unavailable: 0,"
	    " min_ready: 1s, auto_rollback: true, progress_deadline: 60s}\n",
	    version, cluster_app("httpapp"));
	return buf;
}

/* The pid of a Run instance of version, or 0. */
static int
run_pid(const char *version)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/instances", NULL), *i;
	size_t k;
	int pid = 0;

	json_array_foreach(json_object_get(j, "instances"), k, i)
		if (pid == 0 && strcmp(json_string_value(json_object_get(i, "version")) ?: "",
		    version) == 0 &&
		    strcmp(json_string_value(json_object_get(i, "state")) ?: "", "Run") == 0)
			pid = (int)json_integer_value(json_object_get(i, "pid"));
	json_decref(j);
	return pid;
}

/* Whether any event so far moved web to Rollback or Failed. */
static bool
went_back(void)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/events?since=0", NULL), *e;
	size_t k;
	bool back = false;

	json_array_foreach(json_object_get(j, "events"), k, e) {
		const char *to = json_string_value(json_object_get(e, "to"));

		if (json_object_get(e, "instance") != NULL &&
		    !json_is_null(json_object_get(e, "instance")))
			continue;
		if (to != NULL && (strcmp(to, "Rollback") == 0 || strcmp(to, "Failed") == 0))
			back = true;
	}
	json_decref(j);
	return back;
}

static const char *
last_result(void)
{
	static char buf[64];
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/revisions", NULL);
	json_t *a = json_object_get(j, "revisions");
	json_t *r = json_array_get(a, json_array_size(a) - 1);

	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(r, "result")) ?: "");
	json_decref(j);
	return buf;
}

TEST(rollout_kill__one_killed_new_instance_is_replaced_not_rolled_back)
{
	int pid;

	REQUIRE(cluster_start(&cl, 2, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest("1.0.0"), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_count(cl, "web", "Run") == 4 &&
	    cluster_service_is(cl, "web", "Run"), CL_WAIT));
	REQUIRE(cluster_commit(cl, manifest("2.0.0"), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	/* The first new instance to run is killed from outside. */
	CHECK(WAIT_FOR((pid = run_pid("2.0.0")) > 0, CL_WAIT));
	REQUIRE(pid > 0);
	CHECK(kill(pid, SIGKILL) == 0);
	/* Replaced; the rollout ends at 2.0.0 and never went back. */
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run") && run_pid("1.0.0") == 0 &&
	    cluster_count(cl, "web", "Run") == 4, 60000));
	CHECK(!went_back());
	CHECK(WAIT_FOR(strcmp(last_result(), "succeeded") == 0, CL_WAIT));
	CHECK_STR(last_result(), "succeeded");
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(rollout_kill__one_killed_new_instance_is_replaced_not_rolled_back)
