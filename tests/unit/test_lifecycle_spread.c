/*
 * test_lifecycle_spread.c - replicas spread over the nodes that fit
 * (issue 10 #12), the scheduler's reasons in human units and the canary
 * step numbers as the user declared them (issue 10 #8):
 *
 *   - equal nodes are not taken in name order by every service;
 *   - "lacks 76.5G memory", not "lacks 80216064K memory";
 *   - a rolling update and a blue-green rollout of 3 replicas on 3 equal
 *     nodes end with one instance per node (the instances about to be
 *     replaced do not count against a node);
 *   - a canary of 3 steps says step 1/3 .. 3/3, then the full set.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "lifecycle.h"
#include "lifecycle_sim.h"

#define G (1024ULL * 1024 * 1024)

static const char *const nodes3[] = {"node-a", "node-b", "node-c"};

TEST(spread__equal_nodes_not_in_name_order)
{
	struct lifecycle_node n[3];
	char yaml[4096], why[256];
	size_t used = 0, at, firsts[3] = {0, 0, 0};
	struct manifest *m;

	used += (size_t)snprintf(yaml, sizeof(yaml), "architecture: t\nservices:\n");
	for (int k = 0; k < 9; k++)
		used += (size_t)snprintf(yaml + used, sizeof(yaml) - used,
		    "  svc%d:\n    version: \"1.0.0\"\n    command: [\"x\"]\n", k);
	m = sim_parse(yaml);
	for (int k = 0; k < 3; k++)
		n[k] = (struct lifecycle_node){.name = nodes3[k], .state = NODE_READY,
		    .cpu = 4, .memory = 8 * G};
	/* Nine one-replica services on three equal empty nodes: with ties
	 * broken by name all nine went to node-a. */
	for (size_t k = 0; k < m->nservices; k++) {
		struct lifecycle_place_req r = {.spec = &m->services[k]};

		REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 3, &r) == 0);
		firsts[at]++;
		/* The same input, the same node: deterministic. */
		size_t again = 99;
		REQUIRE(lifecycle_place(&again, why, sizeof(why), n, 3, &r) == 0);
		CHECK_EQ_INT(again, at);
	}
	printf("# first picks: a %zu, b %zu, c %zu\n", firsts[0], firsts[1], firsts[2]);
	for (int k = 0; k < 3; k++)
		CHECK(firsts[k] < m->nservices);
	manifest_free(m);
}

TEST(spread__memory_in_human_units)
{
	struct manifest *m = sim_parse("architecture: t\nservices:\n"
	    "  big:\n    version: \"1.0.0\"\n    command: [\"x\"]\n"
	    "    resources: {memory: 80G}\n");
	struct lifecycle_node n = {.name = "node-a", .state = NODE_READY, .cpu = 4,
	    .memory = 4 * G, .used_memory = G / 2};
	struct lifecycle_place_req r = {.spec = &m->services[0]};
	char why[256];
	size_t at;

	CHECK_EQ_INT(lifecycle_place(&at, why, sizeof(why), &n, 1, &r), ORCH_ENOTFOUND);
	CHECK_STR(why, "no node fits: node-a lacks 76.5G memory");
	/* A whole unit stays exact. */
	n.used_memory = 0;
	n.memory = 16 * G;
	CHECK_EQ_INT(lifecycle_place(&at, why, sizeof(why), &n, 1, &r), ORCH_ENOTFOUND);
	CHECK_STR(why, "no node fits: node-a lacks 64G memory");
	manifest_free(m);
}

static const char web_fmt[] =
    "architecture: t\n"
    "services:\n"
    "  web:\n"
    "    version: \"%s\"\n"
    "    command: [\"web\"]\n"
    "    replicas: 3\n"
    "    strategy: %s\n";

static struct sim *
three_on_three(const char *strategy)
{
	char yaml[1024];
	struct sim *s;

	snprintf(yaml, sizeof(yaml), web_fmt, "1.0.0", strategy);
	s = sim_new(yaml);
	for (int k = 0; k < 3; k++)
		sim_node(s, nodes3[k], 4, 8 * G);
	sim_run(s, 60);
	REQUIRE(sim_svc(s, "web")->state == SERVICE_RUN);
	return s;
}

/* Every node runs exactly one live instance of web at version. */
static void
one_per_node(const struct sim *s, const char *version)
{
	int per[3] = {0, 0, 0};

	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		if (!s->inst[i].used || s->inst[i].state == INSTANCE_DESTROY)
			continue;
		CHECK_STR(s->inst[i].version, version);
		for (int k = 0; k < 3; k++)
			per[k] += strcmp(s->inst[i].node, nodes3[k]) == 0;
	}
	printf("# %s: node-a %d, node-b %d, node-c %d\n", version, per[0], per[1], per[2]);
	for (int k = 0; k < 3; k++)
		CHECK_EQ_INT(per[k], 1);
}

static void
update_spreads(const char *strategy)
{
	struct sim *s = three_on_three(strategy);
	char yaml[1024];

	one_per_node(s, "1.0.0");
	for (int v = 1; v <= 3; v++) {
		char ver[16];

		snprintf(ver, sizeof(ver), "1.%d.0", v);
		snprintf(yaml, sizeof(yaml), web_fmt, ver, strategy);
		sim_apply(s, sim_parse(yaml));
		/* Step (time goes on: the timed waits end) until it is done. */
		for (int i = 0; i < 200 && (sim_step(s) > 0 ||
		    sim_svc(s, "web")->state != SERVICE_RUN); i++)
			;
		CHECK_EQ_INT(sim_svc(s, "web")->state, SERVICE_RUN);
		one_per_node(s, ver);
	}
	sim_free(s);
}

TEST(spread__rolling_update_one_per_node)
{
	update_spreads("{type: rolling}");
}

TEST(spread__bluegreen_one_per_node)
{
	update_spreads("{type: blue-green, auto_promote: 0s, scale_down_delay: 2s}");
}

/* A canary of 3 steps (each waits for promote): "step k/3" while at step
 * k, never "/4"; after the third, the full set (full, step 3 of 3). */
TEST(spread__canary_steps_as_declared)
{
	const char *steps = "{type: canary, steps: [{weight: 10}, {weight: 50}, "
	    "{weight: 80}]}";
	struct sim *s = three_on_three(steps);
	struct sim_svc *v = sim_svc(s, "web");
	char yaml[1024], want[32];

	snprintf(yaml, sizeof(yaml), web_fmt, "2.0.0", steps);
	sim_apply(s, sim_parse(yaml));
	for (int k = 1; k <= 3; k++) {
		for (int i = 0; i < 60 && !v->rollout.waiting_promote; i++)
			sim_step(s);
		REQUIRE(v->rollout.waiting_promote);
		CHECK_EQ_INT(v->rollout.steps, 3);
		CHECK_EQ_INT(v->rollout.step, k);
		CHECK(!v->rollout.full);
		snprintf(want, sizeof(want), "canary step %d/3", k);
		CHECK_CONTAINS(v->reason, want);
		CHECK(strstr(v->reason, "/4") == NULL);
		v->flags.promote = true;
		sim_step(s);
	}
	/* Past the declared steps: the full set, said as such. */
	CHECK(v->rollout.full);
	CHECK_EQ_INT(v->rollout.step, 3);
	CHECK_EQ_INT(v->rollout.steps, 3);
	CHECK_CONTAINS(v->reason, "full set");
	CHECK(strstr(v->reason, "/4") == NULL);
	sim_run(s, 100);
	CHECK_EQ_INT(v->state, SERVICE_RUN);
	one_per_node(s, "2.0.0");
	sim_free(s);
}

CHECK_MAIN(spread__equal_nodes_not_in_name_order, spread__memory_in_human_units,
    spread__rolling_update_one_per_node, spread__bluegreen_one_per_node,
    spread__canary_steps_as_declared)
