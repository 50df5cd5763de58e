/*
 * test_lifecycle_scale_perf.c - lifecycle_plan() on one service of
 * 10,000 instances over 100 nodes: the first deploy spreads 100 to a
 * node, a pass with nothing to do plans nothing, and a scale-in stops
 * from the most crowded nodes. No timing is
 * asserted; each plan used to take seconds (victim order and placement
 * counted instances per comparison, docs/performance.md) and now takes
 * milliseconds, which the whole test running in well under a second
 * shows (bench/convergence measures it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "lifecycle.h"
#include "manifest.h"

#define NNODES 100
#define NINST  10000

static const char yaml[] =
    "architecture: t\n"
    "services:\n"
    "  web:\n"
    "    version: \"1.0.0\"\n"
    "    command: [\"web\"]\n"
    "    replicas: 10000\n"
    "    min: 1\n"
    "    max: 20000\n";

struct big {
	struct manifest *m;
	const struct service_spec *spec;
	char fp[LIFECYCLE_FP_LEN];
	char names[NNODES][16];
	struct lifecycle_node nodes[NNODES];
	char ids[NINST][32];
	struct lifecycle_instance inst[NINST];
	size_t ninst;
	struct lifecycle_memo memo;
	struct lifecycle_input in;
};

static struct big *
big_new(void)
{
	struct manifest_errors errs;
	struct big *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	manifest_errors_init(&errs);
	if (manifest_parse(&b->m, &errs, yaml, strlen(yaml), "t.yaml") < 0) {
		manifest_errors_free(&errs);
		free(b);
		return NULL;
	}
	manifest_errors_free(&errs);
	b->spec = manifest_service(b->m, "web");
	lifecycle_fingerprint(b->fp, b->spec);
	for (int i = 0; i < NNODES; i++) {
		snprintf(b->names[i], sizeof(b->names[i]), "node-%02d", i);
		b->nodes[i].name = b->names[i];
		b->nodes[i].state = NODE_READY;
	}
	b->in.service = "web";
	b->in.spec = b->spec;
	b->in.instances = b->inst;
	b->in.nodes = b->nodes;
	b->in.nnodes = NNODES;
	b->in.memo = &b->memo;
	b->in.now = 1000000;
	return b;
}

static void
big_free(struct big *b)
{
	if (b == NULL)
		return;
	manifest_free(b->m);
	free(b);
}

/* A Run instance on node k, started at `at`. */
static void
big_add(struct big *b, int k, int64_t at)
{
	struct lifecycle_instance *x = &b->inst[b->ninst];

	snprintf(b->ids[b->ninst], sizeof(b->ids[0]), "web-%05zu", b->ninst);
	x->id = b->ids[b->ninst];
	x->node = b->names[k];
	x->fingerprint = b->fp;
	x->version = "1.0.0";
	x->state = INSTANCE_RUN;
	x->health = HEALTH_STATE_HEALTHY;
	x->started_at = at;
	x->ready_at = at;
	b->ninst++;
	b->in.ninstances = b->ninst;
}

static int
node_of(const struct big *b, const char *name)
{
	for (int i = 0; i < NNODES; i++)
		if (strcmp(b->names[i], name) == 0)
			return i;
	return -1;
}

/* Count actions of type t, and per node (after[] starts with the
 * observed instances; starts add, stops take away). */
static int
tally(const struct big *b, const struct lifecycle_plan *p,
    enum lifecycle_action_type t, int after[NNODES])
{
	int n = 0;

	for (size_t i = 0; i < p->nactions; i++) {
		const struct lifecycle_action *a = &p->actions[i];
		int k;

		if (a->type != t)
			continue;
		n++;
		k = node_of(b, a->node);
		if (k < 0)
			continue;
		after[k] += t == LIFECYCLE_START ? 1 : -1;
	}
	return n;
}

static void
observed(const struct big *b, int after[NNODES])
{
	memset(after, 0, NNODES * sizeof(int));
	for (size_t i = 0; i < b->ninst; i++)
		after[node_of(b, b->inst[i].node)]++;
}

TEST(lifecycle_scale__deploy_10000_spreads)
{
	struct big *b = big_new();
	struct lifecycle_plan *p = NULL;
	int after[NNODES];

	REQUIRE(b != NULL);
	b->in.state = SERVICE_PROVISION;
	observed(b, after);
	REQUIRE(lifecycle_plan(&p, &b->in) == 0);
	CHECK_EQ_INT(tally(b, p, LIFECYCLE_START, after), NINST);
	CHECK_EQ_INT(tally(b, p, LIFECYCLE_STOP, after), 0);
	for (int k = 0; k < NNODES; k++)
		CHECK_EQ_INT(after[k], NINST / NNODES);
	/* Round robin in one fixed order: equal counts and free resources. */
	CHECK(strcmp(p->actions[0].node, p->actions[1].node) != 0);
	CHECK_STR(p->actions[NNODES].node, p->actions[0].node);
	CHECK_STR(p->actions[NNODES + 1].node, p->actions[1].node);
	lifecycle_plan_free(p);
	big_free(b);
}

TEST(lifecycle_scale__steady_10000_plans_nothing)
{
	struct big *b = big_new();
	struct lifecycle_plan *p = NULL;
	int after[NNODES];

	REQUIRE(b != NULL);
	for (int i = 0; i < NINST; i++)
		big_add(b, i % NNODES, 1000 + i);
	b->in.state = SERVICE_RUN;
	b->memo.settled = NINST;
	observed(b, after);
	REQUIRE(lifecycle_plan(&p, &b->in) == 0);
	CHECK_EQ_INT(tally(b, p, LIFECYCLE_START, after), 0);
	CHECK_EQ_INT(tally(b, p, LIFECYCLE_STOP, after), 0);
	CHECK_EQ_INT(p->state, SERVICE_RUN);
	CHECK_EQ_INT(p->ready, NINST);
	lifecycle_plan_free(p);
	big_free(b);
}

/* 150 on each of the first 50 nodes, 50 on the others; scale to 6,000:
 * the 4,000 stops all come off the crowded nodes, newest first. (The
 * crowd is counted once per trim, before any stop, so one pass may empty
 * a crowded node rather than even the spread out.) */
TEST(lifecycle_scale__scale_in_takes_the_crowded_first)
{
	struct big *b = big_new();
	struct lifecycle_plan *p = NULL;
	int after[NNODES];

	REQUIRE(b != NULL);
	for (int k = 0; k < NNODES; k++)
		for (int j = 0; j < (k < NNODES / 2 ? 150 : 50); j++)
			big_add(b, k, 1000 + (int64_t)b->ninst);
	REQUIRE(b->ninst == NINST);
	b->in.state = SERVICE_RUN;
	b->memo.settled = NINST;
	b->in.flags.scale = 6000;
	observed(b, after);
	REQUIRE(lifecycle_plan(&p, &b->in) == 0);
	CHECK_EQ_INT(tally(b, p, LIFECYCLE_START, after), 0);
	CHECK_EQ_INT(tally(b, p, LIFECYCLE_STOP, after), NINST - 6000);
	for (int k = NNODES / 2; k < NNODES; k++)
		CHECK_EQ_INT(after[k], 50);
	/* The first victim: a most crowded node's newest instance. */
	CHECK_STR(p->actions[0].id, "web-07499");
	lifecycle_plan_free(p);
	big_free(b);
}

CHECK_MAIN(lifecycle_scale__deploy_10000_spreads,
    lifecycle_scale__steady_10000_plans_nothing,
    lifecycle_scale__scale_in_takes_the_crowded_first)
