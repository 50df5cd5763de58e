/*
 * test_fault_chaos_suspect.c - found by the chaos test (issue 11): an
 * apply right after a controller restart, while the nodes are still
 * Suspect, must not fail.
 *
 * A restarted controller marks every node Suspect until its first
 * heartbeat, and waits one --node-suspect before it plans. A slave that
 * could not reach the controller for a while backs off (500 ms doubling
 * to 30 s), so its first heartbeat can come seconds later. The planner
 * took "nothing fits: every node is Suspect" as it takes a cluster with
 * no room: the service Failed and the revision's result "failed", though
 * the rollout then went on and ended at the new version as soon as the
 * nodes were back. A Suspect node is not gone: a start that only a
 * Suspect node could take waits for it (it turns Ready, or Lost after
 * --node-lost, and then nothing fits for real).
 *
 * Here (the controller with --node-lost 60s, so that a stopped slave
 * stays Suspect): web pinned to slave a (`nodes:`), 1 instance; slave a
 * is SIGSTOPped until its node is Suspect, and web is applied with 2
 * replicas. The new instance can go nowhere but a: the service must wait
 * ("waiting for a Suspect node: ..."), never be Failed; once a is
 * SIGCONTed, both instances run and the revision succeeds. Before the
 * fix: "web: Run -> Failed (no node fits: ... is Suspect, ... not in
 * nodes:)" and the revision "failed". The chaos test met it as: an apply
 * right after a controller restart, every node still Suspect.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cluster.h"

static struct cluster *cl;

static const char *
manifest(int replicas)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "architecture: suspect\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: %d\n"
	    "    nodes: [%s]\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 200ms}\n",
	    cluster_app("httpapp"), replicas, cl->slaves[0].name);
	return buf;
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

/* Whether an event ever moved web to Failed. */
static bool
ever_failed(void)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/events?since=0", NULL), *e;
	size_t k;
	bool failed = false;

	json_array_foreach(json_object_get(j, "events"), k, e)
		if (json_is_null(json_object_get(e, "instance")) &&
		    strcmp(json_string_value(json_object_get(e, "service")) ?: "", "web") == 0 &&
		    strcmp(json_string_value(json_object_get(e, "to")) ?: "", "Failed") == 0)
			failed = true;
	json_decref(j);
	return failed;
}

/* web's reason contains what. */
static bool
reason_has(const char *what)
{
	json_t *j = cluster_get(cl, "/v1/services/web");
	bool has = strstr(json_string_value(json_object_get(j, "reason")) ?: "", what) != NULL;

	json_decref(j);
	return has;
}

static const char *const ctl_args[] = {"--node-lost", "60s", NULL};

TEST(fault_chaos_suspect__a_start_waits_for_a_suspect_node)
{
	REQUIRE(cluster_start(&cl, 2, ctl_args) == 0);
	REQUIRE(cluster_commit(cl, manifest(1), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 1, CL_WAIT));
	REQUIRE(kill(cl->slaves[0].d->pid, SIGSTOP) == 0);
	CHECK(WAIT_FOR(cluster_node_is(cl, cl->slaves[0].name, "Suspect"), CL_WAIT));
	REQUIRE(cluster_commit(cl, manifest(2), NULL) == 0);
	CHECK(cluster_apply(cl, NULL) == 200);
	CHECK(WAIT_FOR(reason_has("waiting for a Suspect node") || ever_failed(), CL_WAIT));
	CHECK(!ever_failed());
	CHECK(cluster_node_is(cl, cl->slaves[0].name, "Suspect"));
	REQUIRE(kill(cl->slaves[0].d->pid, SIGCONT) == 0);
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	CHECK(WAIT_FOR(strcmp(last_result(), "applied") != 0, CL_WAIT));
	CHECK_STR(last_result(), "succeeded");
	CHECK(!ever_failed());
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(fault_chaos_suspect__a_start_waits_for_a_suspect_node)
