/*
 * test_controller_rollout.c - a canary rollout driven by the real
 * controller on a real slave: the canary step waits for `promote` with
 * the traffic split in the endpoints, survives a kill -9 of the
 * controller at that step (nothing restarted, same step after), goes to
 * the full set on promote; a second rollout is aborted back to the old set.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "err.h"

static struct cluster *cl;

static const char *
manifest(const char *version)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	    "architecture: rollout\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"%s\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy:\n"
	    "      type: canary\n"
	    "      steps:\n"
	    "        - {weight: 50}\n",
	    version, cluster_app("httpapp"), version);
	return buf;
}

static json_t *
service(void)
{
	return cluster_get(cl, "/v1/services/web");
}

static bool
phase_is(const char *want)
{
	json_t *j = service();
	const char *p = json_string_value(json_object_get(json_object_get(j, "rollout"), "phase"));
	bool eq = p && strcmp(p, want) == 0;

	json_decref(j);
	return eq;
}

/* Sum of the weights of endpoints at version v, and how many; -1 error. */
static int
weight_at(const char *v, int *count)
{
	json_t *j = cluster_get(cl, "/v1/services/web/endpoints"), *eps;
	int sum = 0;

	*count = 0;
	if (j == NULL)
		return -1;
	eps = json_object_get(j, "endpoints");
	for (size_t k = 0; k < json_array_size(eps); k++) {
		json_t *e = json_array_get(eps, k);
		const char *ev = json_string_value(json_object_get(e, "version"));

		if (ev && strcmp(ev, v) == 0) {
			sum += (int)json_integer_value(json_object_get(e, "weight"));
			(*count)++;
		}
	}
	json_decref(j);
	return sum;
}

static bool
only(const char *v, int n)
{
	int count = 0, w = weight_at(v, &count);

	return w >= 98 && count == n && cluster_count(cl, "web", NULL) == n &&
	    cluster_service_is(cl, "web", "Run");
}

static bool
split_50(const char *newv, const char *oldv)
{
	int nn = 0, no = 0, wn = weight_at(newv, &nn), wo = weight_at(oldv, &no);

	return nn == 1 && no == 2 && wn == 50 && wo == 50;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "id=pid ..." of every instance, sorted by id. */
static void
pids(char *buf, size_t len)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *list;
	char items[32][160];
	const char *p[32];
	size_t off = 0, n = 0;

	buf[0] = '\0';
	list = json_object_get(j, "instances");
	for (size_t k = 0; k < json_array_size(list) && n < 32; k++) {
		json_t *i = json_array_get(list, k);

		snprintf(items[n], sizeof(items[n]), "%s=%lld",
		    json_string_value(json_object_get(i, "id")),
		    (long long)json_integer_value(json_object_get(i, "pid")));
		p[n] = items[n];
		n++;
	}
	json_decref(j);
	qsort(p, n, sizeof(p[0]), cmp_str);
	for (size_t k = 0; k < n; k++)
		off += (size_t)snprintf(buf + off, len - off, "%s ", p[k]);
}

TEST(rollout__canary_waits_for_promote_across_a_controller_kill)
{
	char before[4096], after[4096];
	json_t *j;
	long st;

	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest("1.0.0"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(only("1.0.0", 2), CL_WAIT));
	REQUIRE(cluster_commit(cl, manifest("2.0.0"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	/* One canary beside the whole old set, half the traffic each way. */
	CHECK(WAIT_FOR(phase_is("waiting for promote") && split_50("2.0.0", "1.0.0"), CL_WAIT));
	CHECK(cluster_service_is(cl, "web", "Update"));
	j = service();
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "traffic"), "mode")), "split");
	CHECK(json_is_true(json_object_get(json_object_get(j, "rollout"), "waiting_promote")));
	json_decref(j);

	/* kill -9 at the step: the same step afterwards, nothing restarted. */
	pids(before, sizeof(before));
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGKILL), 128 + SIGKILL);
	REQUIRE(cluster_ctl_start(cl) == 0);
	CHECK(WAIT_FOR(cluster_node_is(cl, cl->slaves[0].name, "Ready") &&
	    phase_is("waiting for promote"), CL_WAIT));
	CHECK(split_50("2.0.0", "1.0.0"));
	pids(after, sizeof(after));
	CHECK_STR(after, before);

	/* promote: the full new set, all the traffic, the old set stops. */
	j = cluster_call(cl, &st, "POST", "/v1/services/web/promote", NULL);
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(only("2.0.0", 2), CL_WAIT));
	j = service();
	CHECK(json_is_false(json_object_get(j, "promote")));
	json_decref(j);
}

TEST(rollout__abort_goes_back_to_the_old_set)
{
	json_t *j;
	long st;

	REQUIRE(cl != NULL && only("2.0.0", 2));
	REQUIRE(cluster_commit(cl, manifest("3.0.0"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(phase_is("waiting for promote") && split_50("3.0.0", "2.0.0"), CL_WAIT));
	j = cluster_call(cl, &st, "POST", "/v1/services/web/abort", NULL);
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	/* The canary stops, the old set takes all the traffic again. */
	CHECK(WAIT_FOR(phase_is("aborted"), CL_WAIT));
	CHECK(WAIT_FOR(weight_at("3.0.0", &(int){0}) == 0 &&
	    cluster_count(cl, "web", NULL) == 2, CL_WAIT));
	{
		int n = 0;

		CHECK(weight_at("2.0.0", &n) >= 98);
		CHECK_EQ_INT(n, 2);
	}
}

TEST(rollout__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(rollout__canary_waits_for_promote_across_a_controller_kill,
    rollout__abort_goes_back_to_the_old_set, rollout__finish)
