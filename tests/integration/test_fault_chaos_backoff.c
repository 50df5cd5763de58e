/*
 * test_fault_chaos_backoff.c - found by the chaos test (issue 11): a
 * controller that comes back after an outage must hear from its slaves
 * within a heartbeat period, not declare them Lost.
 *
 * A slave that cannot reach the controller backs off. The backoff doubled
 * from 500 ms to 30 s, so after an outage of a few seconds the slaves'
 * next try could come long after the controller was back: it marks every
 * node Suspect at start, and Lost after --node-lost with no heartbeat,
 * replacing the cattle of nodes that were fine all along (or, with every
 * node Lost, failing the service and the rollout). The heartbeat's
 * backoff is now capped at the heartbeat period: no more load than when
 * all is well.
 *
 * Here (the fixture: heartbeat 300 ms, --node-lost 3s): web x2 on two
 * slaves; the controller is killed -9 and left down 8 s (the slaves' old
 * backoff then reached 4 s, its next try about 7 s after the restart);
 * restarted, both nodes must be Ready again with no node event to Lost,
 * and the same two instances (same pids) run. Before the fix both nodes
 * were Lost 3 s after the restart.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"

static struct cluster *cl;

static const char *
manifest(void)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "architecture: backoff\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 200ms}\n",
	    cluster_app("httpapp"));
	return buf;
}

/* Node events to Lost after seq since. */
static int
lost_events(long long since)
{
	char path[128];
	json_t *j, *e;
	size_t k;
	int n = 0;

	snprintf(path, sizeof(path), "/v1/events?since=%lld", since);
	j = cluster_call(cl, NULL, "GET", path, NULL);
	json_array_foreach(json_object_get(j, "events"), k, e)
		if (json_is_null(json_object_get(e, "instance")) &&
		    json_is_null(json_object_get(e, "service")) &&
		    strcmp(json_string_value(json_object_get(e, "to")) ?: "", "Lost") == 0)
			n++;
	json_decref(j);
	return n;
}

TEST(fault_chaos_backoff__restarted_controller_hears_its_slaves_in_time)
{
	char before[4096];
	long long seq;

	REQUIRE(cluster_start(&cl, 2, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest(), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	snprintf(before, sizeof(before), "%s", cluster_ids(cl, "web"));
	seq = cluster_last_seq(cl);
	REQUIRE(cluster_ctl_stop(cl, SIGKILL) == 128 + SIGKILL);
	/* The outage itself (not a wait for a result): long enough for the
	 * old backoff to reach 4 s. */
	REQUIRE(WAIT_FOR(daemon_log_contains(cl->slaves[0].d, "unreachable") &&
	    daemon_log_contains(cl->slaves[1].d, "unreachable"), CL_WAIT));
	usleep(8000 * 1000);
	REQUIRE(cluster_ctl_start(cl) == 0);
	CHECK(WAIT_FOR(cluster_node_is(cl, cl->slaves[0].name, "Ready") &&
	    cluster_node_is(cl, cl->slaves[1].name, "Ready"), CL_WAIT));
	/* Past --node-lost since the restart: a late node would be Lost. */
	usleep(4000 * 1000);
	CHECK_EQ_INT(lost_events(seq), 0);
	CHECK(cluster_node_is(cl, cl->slaves[0].name, "Ready"));
	CHECK(cluster_node_is(cl, cl->slaves[1].name, "Ready"));
	CHECK_STR(cluster_ids(cl, "web"), before);
	CHECK_EQ_INT(cluster_count(cl, "web", "Run"), 2);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(fault_chaos_backoff__restarted_controller_hears_its_slaves_in_time)
