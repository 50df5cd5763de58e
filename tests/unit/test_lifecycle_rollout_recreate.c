/*
 * test_lifecycle_rollout_recreate.c - recreate for cattle and pets, and
 * pets rolling in place, on simulated clusters checked on every step:
 * recreate never runs the two versions together (every old instance gone
 * before the first new one starts); pets keep their ids and nodes, never
 * run twice, and a rolling pet update takes one down at a time. Failures
 * at every step roll back with the same rules; pause and abort; a new
 * spec mid-rollout; restart continuity.
 */
#include "lifecycle_sim.h"

#define G (1024ULL * 1024 * 1024)

static const char cattle_fmt[] =
    "architecture: t\n"
    "services:\n"
    "  web:\n"
    "    version: \"%s\"\n"
    "    command: [\"web\"]\n"
    "    replicas: 4\n"
    "    max: 20\n"
    "    restart: {limit: 3}\n"
    "    strategy: {type: recreate, progress_deadline: 1m}\n";

static const char pet_fmt[] =
    "architecture: t\n"
    "services:\n"
    "  db:\n"
    "    kind: pet\n"
    "    version: \"%s\"\n"
    "    command: [\"db\"]\n"
    "    replicas: 3\n"
    "    restart: {limit: 3}\n"
    "    strategy: {type: %s, progress_deadline: 1m}\n";

/* type NULL: the cattle service (recreate); else a pet with it. */
static void
yaml_of(char *yaml, size_t len, const char *version, const char *type)
{
	if (type == NULL)
		snprintf(yaml, len, cattle_fmt, version);
	else
		snprintf(yaml, len, pet_fmt, version, type);
}

static struct manifest *
mk(const char *version, const char *type)
{
	char yaml[1024];

	yaml_of(yaml, sizeof(yaml), version, type);
	return sim_parse(yaml);
}

static struct sim *
start(const char *type)
{
	char yaml[1024];
	struct sim *s;

	yaml_of(yaml, sizeof(yaml), "1.0.0", type);
	s = sim_new(yaml);
	sim_node(s, "node-a", 16, 64 * G);
	sim_node(s, "node-b", 16, 64 * G);
	sim_node(s, "node-c", 16, 64 * G);
	sim_run(s, 40);
	REQUIRE(s->svcs[0].state == SERVICE_RUN);
	return s;
}

/* Instances of version in any state, a stop in flight included. */
static int
any_of(const struct sim *s, const char *version)
{
	int n = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++)
		n += s->inst[i].used && strcmp(s->inst[i].version, version) == 0;
	return n;
}

/* Recreate: the two versions never exist together. */
static void
never_together(const struct sim *s)
{
	int a = any_of(s, "1.0.0"), b = any_of(s, "1.1.0");

	CHECK(a == 0 || b == 0);
}

static void
run_recreate(struct sim *s, int max)
{
	struct sim_svc *v = &s->svcs[0];
	int steps = 0;

	while (sim_step(s) > 0 || v->state == SERVICE_UPDATE ||
	    v->state == SERVICE_ROLLBACK) {
		never_together(s);
		REQUIRE(++steps < max);
	}
	never_together(s);
}

TEST(lifecycle_rollout_recreate__cattle_stop_all_then_start_all)
{
	struct sim *s = start(NULL);
	struct sim_svc *v = sim_svc(s, "web");
	bool seen1 = false, seen2 = false;

	sim_apply(s, mk("1.1.0", NULL));
	while (sim_step(s) > 0 || v->state == SERVICE_UPDATE) {
		never_together(s);
		if (v->state == SERVICE_UPDATE) {
			CHECK_EQ_INT(v->rollout.strategy, STRATEGY_RECREATE);
			CHECK_EQ_INT(v->rollout.steps, 2);
			seen1 |= v->rollout.step == 1;
			seen2 |= v->rollout.step == 2;
		}
		REQUIRE(s->step < 100);
	}
	CHECK(seen1 && seen2);
	CHECK_EQ_INT(v->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.1.0"), 4);
	CHECK_EQ_INT(sim_count(s, "web", -1, NULL), 4);
	sim_free(s);
}

/* The n-th new instance goes bad, every n, every way: the rollback
 * recreates the old version, again never with both. */
TEST(lifecycle_rollout_recreate__failure_at_every_step_rolls_back)
{
	static const int modes[] = {SIM_BAD_FAIL, SIM_BAD_SICK, SIM_BAD_CRASH};

	for (int m = 0; m < 3; m++) {
		for (int at = 0; at < 4; at++) {
			struct sim *s = start(NULL);
			struct sim_svc *v = sim_svc(s, "web");

			snprintf(s->bad_version, sizeof(s->bad_version), "1.1.0");
			s->bad_from = at;
			s->bad_mode = modes[m];
			sim_apply(s, mk("1.1.0", NULL));
			run_recreate(s, 200);
			CHECK_EQ_INT(v->rollbacks, 1);
			CHECK(v->seen_state[SERVICE_ROLLBACK]);
			CHECK_EQ_INT(v->state, SERVICE_RUN);
			CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), 4);
			CHECK_EQ_INT(sim_count(s, "web", -1, NULL), 4);
			if (check_failed_in_test) {
				fprintf(stderr, "    (mode %d at %d)\n", m, at);
				sim_free(s);
				return;
			}
			sim_free(s);
		}
	}
}

/* Paused before the old set stops: nothing stops. Once it is stopping,
 * a pause does not leave the service empty: the new set comes up. Abort
 * at every step is a rollback (recreate again, to the old version). */
TEST(lifecycle_rollout_recreate__pause_abort_every_step)
{
	struct sim *s = start(NULL);
	struct sim_svc *v = sim_svc(s, "web");
	int aborted = 0;

	v->flags.paused = true;
	sim_apply(s, mk("1.1.0", NULL));
	for (int i = 0; i < 10; i++)
		sim_step(s);
	CHECK_EQ_INT(s->stops, 0);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), 4);
	CHECK_STR(v->reason, "paused");
	CHECK_EQ_INT(v->rollout.phase, ROLLOUT_PAUSED);
	CHECK_EQ_INT(v->rollout.step, 1);
	v->flags.paused = false;
	sim_step(s);
	v->flags.paused = true;
	run_recreate(s, 100);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.1.0"), 4);
	sim_free(s);

	for (int at = 0; at < 8; at++) {
		s = start(NULL);
		v = sim_svc(s, "web");
		sim_apply(s, mk("1.1.0", NULL));
		for (int i = 0; i < at; i++)
			sim_step(s);
		if (v->state != SERVICE_UPDATE && at > 0) {
			sim_free(s);
			break;
		}
		v->flags.abort = true;
		run_recreate(s, 100);
		CHECK_EQ_INT(v->state, SERVICE_RUN);
		/* An abort that arrives as the last new instance turns Run
		 * finds the rollout over: nothing to abort. */
		CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN,
		    v->rollbacks ? "1.0.0" : "1.1.0"), 4);
		CHECK_EQ_INT(sim_count(s, "web", -1, NULL), 4);
		CHECK(!v->flags.abort);
		aborted += v->rollbacks;
		if (check_failed_in_test)
			fprintf(stderr, "    (at %d)\n", at);
		sim_free(s);
	}
	CHECK(aborted >= 3);
}

TEST(lifecycle_rollout_recreate__new_spec_mid_rollout)
{
	for (int at = 1; at < 6; at++) {
		struct sim *s = start(NULL);
		struct sim_svc *v = sim_svc(s, "web");
		int steps = 0;

		sim_apply(s, mk("1.1.0", NULL));
		for (int i = 0; i < at; i++)
			sim_step(s);
		sim_apply(s, mk("1.2.0", NULL));
		while (sim_step(s) > 0 || v->state == SERVICE_UPDATE) {
			/* 1.2.0 starts only once nothing else is left */
			if (any_of(s, "1.2.0") > 0)
				CHECK_EQ_INT(any_of(s, "1.0.0") + any_of(s, "1.1.0"), 0);
			REQUIRE(++steps < 100);
		}
		CHECK_EQ_INT(v->state, SERVICE_RUN);
		CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.2.0"), 4);
		sim_free(s);
	}
}

/* Pet ids, nodes and the one-down rule, checked every step. */
struct pets {
	char node[3][LIFECYCLE_NODE_MAX];
	int max_down;
};

static void
pets_init(struct pets *p, struct sim *s)
{
	memset(p, 0, sizeof(*p));
	for (int o = 0; o < 3; o++) {
		char id[16];
		struct sim_inst *x;

		snprintf(id, sizeof(id), "db-%d", o);
		x = sim_find(s, id);
		REQUIRE(x != NULL);
		snprintf(p->node[o], sizeof(p->node[o]), "%s", x->node);
	}
}

static void
pets_check(struct sim *s, struct pets *p)
{
	int down = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		const struct sim_inst *x = &s->inst[i];
		int o;

		if (!x->used)
			continue;
		REQUIRE(sscanf(x->id, "db-%d", &o) == 1 && o >= 0 && o < 3);
		CHECK_STR(x->node, p->node[o]);
	}
	for (int o = 0; o < 3; o++) {
		char id[16];
		struct sim_inst *x;

		snprintf(id, sizeof(id), "db-%d", o);
		x = sim_find(s, id);
		down += x == NULL || x->state != INSTANCE_RUN;
	}
	p->max_down = down > p->max_down ? down : p->max_down;
	CHECK_EQ_INT(s->dup_pets, 0);
}

static void
run_pets(struct sim *s, struct pets *p, int max)
{
	struct sim_svc *v = &s->svcs[0];
	int steps = 0;

	while (sim_step(s) > 0 || v->state == SERVICE_UPDATE ||
	    v->state == SERVICE_ROLLBACK) {
		pets_check(s, p);
		REQUIRE(++steps < max);
	}
	pets_check(s, p);
}

static void
pets_at(struct sim *s, const char *version)
{
	struct sim_svc *v = &s->svcs[0];

	CHECK_EQ_INT(v->state, SERVICE_RUN);
	for (int o = 0; o < 3; o++) {
		char id[16];
		struct sim_inst *x;

		snprintf(id, sizeof(id), "db-%d", o);
		x = sim_find(s, id);
		REQUIRE(x != NULL);
		CHECK_EQ_INT(x->state, INSTANCE_RUN);
		CHECK_STR(x->version, version);
	}
	CHECK_EQ_INT(sim_count(s, "db", -1, NULL), 3);
}

TEST(lifecycle_rollout_recreate__pets_rolling_in_place)
{
	struct sim *s = start("rolling");
	struct pets p;

	pets_init(&p, s);
	sim_apply(s, mk("1.1.0", "rolling"));
	run_pets(s, &p, 100);
	pets_at(s, "1.1.0");
	CHECK_EQ_INT(p.max_down, 1);
	CHECK_EQ_INT(s->svcs[0].rollout.phase, ROLLOUT_NONE);
	sim_free(s);
}

TEST(lifecycle_rollout_recreate__pets_recreate_same_ids)
{
	struct sim *s = start("recreate");
	struct pets p;

	pets_init(&p, s);
	sim_apply(s, mk("1.1.0", "recreate"));
	while (sim_step(s) > 0 || s->svcs[0].state == SERVICE_UPDATE) {
		pets_check(s, &p);
		never_together(s);
		REQUIRE(s->step < 100);
	}
	pets_at(s, "1.1.0");
	CHECK_EQ_INT(p.max_down, 3);
	sim_free(s);
}

/* A pet that fails with the new version, at every position, with each
 * strategy: the rollback puts the old version back in place, same ids
 * and nodes, never two copies. */
TEST(lifecycle_rollout_recreate__pets_failure_rolls_back_in_place)
{
	static const char *const types[] = {"rolling", "recreate"};

	for (int t = 0; t < 2; t++) {
		for (int at = 0; at < 3; at++) {
			struct sim *s = start(types[t]);
			struct pets p;

			pets_init(&p, s);
			snprintf(s->bad_version, sizeof(s->bad_version), "1.1.0");
			s->bad_from = at;
			sim_apply(s, mk("1.1.0", types[t]));
			run_pets(s, &p, 200);
			CHECK_EQ_INT(s->svcs[0].rollbacks, 1);
			pets_at(s, "1.0.0");
			if (t == 0)
				CHECK_EQ_INT(p.max_down, 1);
			if (check_failed_in_test) {
				fprintf(stderr, "    (%s at %d)\n", types[t], at);
				sim_free(s);
				return;
			}
			sim_free(s);
		}
	}
}

TEST(lifecycle_rollout_recreate__restart_continuity)
{
	struct sim *s = start(NULL);
	struct sim_svc *v = sim_svc(s, "web");

	sim_apply(s, mk("1.1.0", NULL));
	for (int i = 0; i < 12; i++) {
		struct lifecycle_input in;
		struct lifecycle_instance *iv;
		struct lifecycle_node *nv;
		struct lifecycle_dep *dv;
		struct lifecycle_memo copy;
		struct lifecycle_plan *a = NULL, *b = NULL;
		char *ta, *tb;

		sim_input(s, v, &in, &iv, &nv, &dv);
		REQUIRE(lifecycle_memo_copy(&copy, &v->memo) == 0);
		REQUIRE(lifecycle_plan(&a, &in) == 0);
		in.memo = &copy;
		REQUIRE(lifecycle_plan(&b, &in) == 0);
		ta = lifecycle_plan_format(a);
		tb = lifecycle_plan_format(b);
		CHECK_STR(ta, tb);
		CHECK(memcmp(&a->rollout, &b->rollout, sizeof(a->rollout)) == 0);
		free(ta);
		free(tb);
		lifecycle_plan_free(a);
		lifecycle_plan_free(b);
		lifecycle_memo_clear(&copy);
		free(iv);
		free(nv);
		free(dv);
		sim_step(s);
	}
	sim_run(s, 50);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.1.0"), 4);
	sim_free(s);
}

CHECK_MAIN(lifecycle_rollout_recreate__cattle_stop_all_then_start_all,
    lifecycle_rollout_recreate__failure_at_every_step_rolls_back,
    lifecycle_rollout_recreate__pause_abort_every_step,
    lifecycle_rollout_recreate__new_spec_mid_rollout,
    lifecycle_rollout_recreate__pets_rolling_in_place,
    lifecycle_rollout_recreate__pets_recreate_same_ids,
    lifecycle_rollout_recreate__pets_failure_rolls_back_in_place,
    lifecycle_rollout_recreate__restart_continuity)
