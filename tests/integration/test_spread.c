/*
 * test_spread.c - replicas of a service spread over the nodes that fit
 * (issue 10 #12): a real controller, 3 real slaves (equal nodes), web of
 * 3 replicas. After the first deploy, after a rolling update and after a
 * blue-green rollout, each node runs exactly one instance of web at the
 * new version (the scheduler counted the instances about to be replaced
 * and piled the new ones up: 2, 1, 0).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "daemon.h"

static struct cluster *cl;

static const char *
manifest(const char *version, const char *strategy)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
	    "architecture: spread\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"%s\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 3\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy: %s\n",
	    version, cluster_app("httpapp"), version, strategy);
	return buf;
}

/* Every record of web (Destroy included) is at version and Run, and
 * each of the 3 nodes has exactly one; per[] gets the counts. */
static bool
one_per_node(const char *version, int per[3])
{
	json_t *j = cluster_get(cl, "/v1/instances");
	json_t *v = json_object_get(j, "instances");
	bool ok = j != NULL;

	per[0] = per[1] = per[2] = 0;
	for (size_t k = 0; k < json_array_size(v); k++) {
		json_t *i = json_array_get(v, k);
		const char *svc = json_string_value(json_object_get(i, "service"));
		const char *node = json_string_value(json_object_get(i, "node"));
		const char *ver = json_string_value(json_object_get(i, "version"));
		const char *st = json_string_value(json_object_get(i, "state"));

		if (svc == NULL || strcmp(svc, "web") != 0)
			continue;
		if (ver == NULL || strcmp(ver, version) != 0 || st == NULL ||
		    strcmp(st, "Run") != 0)
			ok = false;
		for (int n = 0; n < 3; n++)
			if (node != NULL && strcmp(node, cl->slaves[n].name) == 0)
				per[n]++;
	}
	json_decref(j);
	return ok && per[0] == 1 && per[1] == 1 && per[2] == 1;
}

/* Roll out version with strategy; true when it ends one per node. */
static bool
rolls_out_spread(const char *version, const char *strategy)
{
	int per[3] = {0, 0, 0};
	bool ok;

	if (cluster_commit(cl, manifest(version, strategy), NULL) < 0 ||
	    cluster_apply(cl, NULL) != 200)
		return false;
	/* Done: Run, and no record of an old version left. */
	ok = WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 3 &&
	    cluster_count(cl, "web", NULL) == 3 && one_per_node(version, per), CL_WAIT);
	printf("# %s: %d, %d, %d per node\n", version, per[0], per[1], per[2]);
	return ok;
}

TEST(spread__start)
{
	REQUIRE(cluster_start(&cl, 3, NULL) == 0);
	CHECK(rolls_out_spread("1.0.0", "{type: rolling}"));
}

TEST(spread__rolling_update_one_per_node)
{
	REQUIRE(cl != NULL);
	CHECK(rolls_out_spread("2.0.0", "{type: rolling}"));
	CHECK(rolls_out_spread("3.0.0", "{type: rolling}"));
}

TEST(spread__bluegreen_one_per_node)
{
	REQUIRE(cl != NULL);
	CHECK(rolls_out_spread("4.0.0", "{type: blue-green, auto_promote: 0s, "
	    "scale_down_delay: 300ms}"));
}

TEST(spread__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(spread__start, spread__rolling_update_one_per_node,
    spread__bluegreen_one_per_node, spread__finish)
