/*
 * test_controller_halfcut.c - a link cut one way (issue 11 #7): the
 * controller cannot reach a slave, but the slave's heartbeats still reach
 * the controller. An nftables rule of the test's own table drops every
 * packet to the slave's API port (its heartbeats go to the controller's
 * port and pass). Cattle placed there must not sit in Provision for the
 * whole cut: the node turns unreachable for placement and the work goes
 * to the other node; once the rule is gone the node is reachable again
 * and the cluster holds exactly the desired instances.
 *
 * Needs root (nftables), as CI runs; the table is named after the test's
 * pid and removed at the end whatever happens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "run.h"

static struct cluster *cl;
static char table[64];

/* Run an nft script (through a file: run_capture has no stdin). */
static int
nft(const char *script)
{
	char path[] = "/tmp/orch-halfcut-XXXXXX";
	const char *argv[] = {"nft", "-f", path, NULL};
	struct run_result r = {0};
	int rc, fd = mkstemp(path);

	if (fd < 0)
		return -1;
	rc = write(fd, script, strlen(script)) == (ssize_t)strlen(script) ? 0 : -1;
	close(fd);
	if (rc == 0 && (rc = run_capture(&r, argv, NULL, NULL, 10000)) == 0 && r.status != 0) {
		fprintf(stderr, "nft: %s\n", r.err);
		rc = -1;
	}
	run_result_free(&r);
	unlink(path);
	return rc;
}

static void
cut(int port)
{
	char script[512];

	snprintf(table, sizeof(table), "orchtest_halfcut_%d", (int)getpid());
	snprintf(script, sizeof(script),
	    "table inet %s {\n"
	    "  chain out { type filter hook output priority 0; policy accept;\n"
	    "    ip daddr 127.0.0.1 tcp dport %d drop\n"
	    "  }\n"
	    "}\n", table, port);
	REQUIRE(nft(script) == 0);
}

static void
heal(void)
{
	char script[128];

	if (table[0] == '\0')
		return;
	snprintf(script, sizeof(script), "delete table inet %s\n", table);
	nft(script);
	table[0] = '\0';
}

static bool
node_reachable(const char *name, bool want)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/nodes", NULL), *n;
	size_t k;
	bool ok = false;

	json_array_foreach(json_object_get(j, "nodes"), k, n)
		if (strcmp(json_string_value(json_object_get(n, "name")), name) == 0)
			ok = json_is_boolean(json_object_get(n, "reachable")) &&
			    json_is_true(json_object_get(n, "reachable")) == want;
	json_decref(j);
	return ok;
}

/* Instances of web on node, any state but Destroy. */
static int
on_node(const char *node, const char *state)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/instances", NULL), *i;
	size_t k;
	int n = 0;

	json_array_foreach(json_object_get(j, "instances"), k, i) {
		const char *st = json_string_value(json_object_get(i, "state"));

		if (strcmp(json_string_value(json_object_get(i, "node")), node) == 0 &&
		    strcmp(st, "Destroy") != 0 && (state == NULL || strcmp(st, state) == 0))
			n++;
	}
	json_decref(j);
	return n;
}

TEST(halfcut__undelivered_cattle_go_elsewhere_and_the_node_comes_back)
{
	char yaml[2048];
	long st;
	json_t *j;

	REQUIRE(getuid() == 0); /* nftables: CI runs as root */
	atexit(heal); /* the rule never outlives the test */
	REQUIRE(cluster_start(&cl, 2, NULL) == 0);
	snprintf(yaml, sizeof(yaml),
	    "architecture: halfcut\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    max: 6\n"
	    "    health: {type: tcp, interval: 200ms, timeout: 200ms}\n",
	    cluster_app("httpapp"));
	REQUIRE(cluster_commit(cl, yaml, NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));

	/* Cut the link to slave a one way, then ask for 4. */
	cut(cl->slaves[0].port);
	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": 4}");
	json_decref(j);
	CHECK_EQ_INT(st, 200);
	/* Its heartbeats still arrive: the node stays Ready, but commands
	 * do not get through, and the new cattle run on b instead. */
	CHECK(WAIT_FOR(node_reachable(cl->slaves[0].name, false), CL_WAIT));
	CHECK(cluster_node_is(cl, cl->slaves[0].name, "Ready"));
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 4, CL_WAIT));
	CHECK_EQ_INT(on_node(cl->slaves[0].name, "Provision"), 0);
	CHECK(on_node(cl->slaves[1].name, "Run") >= 3);

	/* Healed: reachable again, and exactly 4 run (the undelivered
	 * start was never run, or is stopped). */
	heal();
	CHECK(WAIT_FOR(node_reachable(cl->slaves[0].name, true), CL_WAIT));
	CHECK(WAIT_FOR(cluster_count(cl, "web", NULL) == 4 &&
	    cluster_count(cl, "web", "Run") == 4, CL_WAIT));
	CHECK(cluster_service_is(cl, "web", "Run"));
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(halfcut__undelivered_cattle_go_elsewhere_and_the_node_comes_back)
