/*
 * test_lifecycle_rollout_rolling.c - the rolling strategy on simulated
 * clusters: max_surge / max_unavailable as counts and percentages (and
 * the both-0 fallback), min_ready, checked on every simulated step; a new
 * instance failing at every step (Failed, unhealthy, crash loop) and a
 * missed deadline, each rolled back to Run at the old version with the
 * same bounds; pause, abort and promote at every step; a new spec in the
 * middle; restart continuity. The simulator plays the controller
 * (lifecycle_sim.h): it swaps desired and previous on a rollback request.
 */
#include "lifecycle_sim.h"

#define G (1024ULL * 1024 * 1024)

static const char yaml_fmt[] =
    "architecture: t\n"
    "services:\n"
    "  web:\n"
    "    version: \"%s\"\n"
    "    command: [\"web\"]\n"
    "    replicas: %d\n"
    "    max: 20\n"
    "    restart: {limit: 3}\n"
    "    strategy: {type: rolling, max_surge: %s, max_unavailable: %s,\n"
    "      min_ready: %s, progress_deadline: %s}\n";

struct rcase {
	int replicas;
	const char *surge, *unavail, *min_ready;
	int s, u;           /* resolved */
	int64_t min_ready_ms;
};

static const struct rcase cases[] = {
	{3, "1", "0", "0s", 1, 0, 0},
	{4, "0", "1", "0s", 0, 1, 0},
	{5, "2", "2", "0s", 2, 2, 0},
	{4, "\"25%\"", "\"25%\"", "0s", 1, 1, 0},
	{3, "\"50%\"", "\"50%\"", "0s", 2, 1, 0},    /* 1.5: up, down */
	{3, "0", "\"10%\"", "0s", 1, 0, 0},          /* both 0: surge 1 */
	{3, "1", "0", "3s", 1, 0, 3000},
	{6, "\"100%\"", "0", "2s", 6, 0, 2000},
	{1, "0", "1", "0s", 0, 1, 0},
};

static struct manifest *
mk(const struct rcase *rc, const char *version, const char *deadline)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), yaml_fmt, version, rc->replicas, rc->surge,
	    rc->unavail, rc->min_ready, deadline);
	return sim_parse(yaml);
}

static struct sim *
start(const struct rcase *rc, const char *deadline)
{
	struct sim *s;
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), yaml_fmt, "1.0.0", rc->replicas, rc->surge,
	    rc->unavail, rc->min_ready, deadline);
	s = sim_new(yaml);
	sim_node(s, "node-a", 16, 64 * G);
	sim_node(s, "node-b", 16, 64 * G);
	sim_node(s, "node-c", 16, 64 * G);
	sim_run(s, 40);
	REQUIRE(sim_svc(s, "web")->state == SERVICE_RUN);
	return s;
}

/* Available now: Run, healthy, and an instance of the desired spec that
 * has served min_ready (the others were available before the rollout). */
static int
available(const struct sim *s, const struct sim_svc *v, int64_t min_ready)
{
	char fp[LIFECYCLE_FP_LEN];
	int n = 0;

	lifecycle_fingerprint(fp, v->spec);
	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		const struct sim_inst *x = &s->inst[i];

		if (!x->used || x->state != INSTANCE_RUN ||
		    x->health == HEALTH_STATE_UNHEALTHY)
			continue;
		if (strcmp(x->fp, fp) == 0 && s->now - x->ready_at < min_ready)
			continue;
		n++;
	}
	return n;
}

/* The bounds, after every step: never fewer than replicas - unavailable
 * available, never more than replicas + surge live. Instances going bad
 * by themselves are not the planner's doing: they are forgiven. */
static void
bounds(const struct sim *s, const struct sim_svc *v, const struct rcase *rc)
{
	int live = sim_count(s, "web", -1, NULL);
	int bad = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++)
		bad += s->inst[i].used && s->inst[i].doomed &&
		    s->inst[i].state != INSTANCE_DESTROY;
	CHECK(live <= rc->replicas + rc->s);
	CHECK(available(s, v, rc->min_ready_ms) + bad >= rc->replicas - rc->u);
	if (v->state == SERVICE_UPDATE || v->state == SERVICE_ROLLBACK) {
		CHECK_EQ_INT(v->rollout.strategy, STRATEGY_ROLLING);
		CHECK_EQ_INT(v->traffic.mode, TRAFFIC_ALL);
		CHECK_EQ_INT(v->rollout.steps, rc->replicas);
	}
}

static int
run_checked(struct sim *s, const struct rcase *rc, int max)
{
	struct sim_svc *v = sim_svc(s, "web");
	int steps = 0;

	/* A rollout that waits (min_ready) makes no move for a while: go on
	 * while it is not over. */
	while (sim_step(s) > 0 || v->state == SERVICE_UPDATE ||
	    v->state == SERVICE_ROLLBACK) {
		bounds(s, v, rc);
		REQUIRE(++steps < max);
	}
	bounds(s, v, rc);
	return steps;
}

static void
all_at(const struct sim *s, const struct sim_svc *v, const char *version,
    int n)
{
	CHECK_EQ_INT(v->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", -1, NULL), n);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, version), n);
	CHECK_EQ_INT(v->rollout.phase, ROLLOUT_NONE);
	CHECK_EQ_INT(v->traffic.mode, TRAFFIC_ALL);
	CHECK(!v->flags.rollback);
}

TEST(lifecycle_rollout_rolling__bounds_every_step)
{
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct rcase *rc = &cases[k];
		struct sim *s = start(rc, "10m");
		struct sim_svc *v = sim_svc(s, "web");
		int steps, maxnew = 0;

		sim_apply(s, mk(rc, "1.1.0", "10m"));
		while (sim_step(s) > 0 || v->state == SERVICE_UPDATE) {
			int fresh = sim_count(s, "web", INSTANCE_READY, "1.1.0");

			bounds(s, v, rc);
			maxnew = fresh > maxnew ? fresh : maxnew;
			REQUIRE(maxnew <= rc->s + rc->u);
			REQUIRE(s->step < 200);
		}
		steps = s->step;
		all_at(s, v, "1.1.0", rc->replicas);
		CHECK(v->seen_state[SERVICE_UPDATE]);
		CHECK(!v->seen_state[SERVICE_ROLLBACK]);
		/* The budget is used: with room for several at once, several
		 * start together. */
		CHECK(maxnew >= (rc->s + rc->u < rc->replicas ? rc->s + rc->u :
		    rc->replicas) || rc->min_ready_ms > 0);
		if (check_failed_in_test)
			fprintf(stderr, "    (case %zu)\n", k);
		(void)steps;
		sim_free(s);
	}
}

/* min_ready: a new instance Run for less than min_ready is not
 * available, so no old one stops for it. */
TEST(lifecycle_rollout_rolling__min_ready_holds_old)
{
	const struct rcase *rc = &cases[6]; /* 3, surge 1, min_ready 3s */
	struct sim *s = start(rc, "10m");
	struct sim_svc *v = sim_svc(s, "web");
	int first_run = -1, first_stop = -1;

	sim_apply(s, mk(rc, "1.1.0", "10m"));
	for (int i = 0; i < 60; i++) {
		sim_step(s);
		bounds(s, v, rc);
		if (first_run < 0 && sim_count(s, "web", INSTANCE_RUN, "1.1.0") > 0)
			first_run = s->step;
		if (first_stop < 0 && sim_count(s, "web", -1, "1.0.0") < 3)
			first_stop = s->step;
	}
	REQUIRE(first_run >= 0 && first_stop >= 0);
	/* One tick is one second: three passes pass before the stop. */
	CHECK(first_stop - first_run >= 3);
	all_at(s, v, "1.1.0", 3);
	sim_free(s);
}

/* The n-th new instance goes bad (Failed, unhealthy, crash loop), for
 * every n: the rollout fails, asks for the rollback, and the walk back
 * keeps the same bounds and ends Run at the old version. */
TEST(lifecycle_rollout_rolling__failure_at_every_step_rolls_back)
{
	static const int modes[] = {SIM_BAD_FAIL, SIM_BAD_SICK, SIM_BAD_CRASH};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct rcase *rc = &cases[k];

		for (int m = 0; m < 3; m++) {
			for (int at = 0; at < rc->replicas; at++) {
				struct sim *s = start(rc, "10m");
				struct sim_svc *v = sim_svc(s, "web");
				int alerts = v->alerts;

				snprintf(s->bad_version, sizeof(s->bad_version), "1.1.0");
				s->bad_from = at;
				s->bad_mode = modes[m];
				sim_apply(s, mk(rc, "1.1.0", "10m"));
				run_checked(s, rc, 200);
				CHECK(v->seen_state[SERVICE_ROLLBACK]);
				CHECK_EQ_INT(v->rollbacks, 1);
				CHECK(v->alerts > alerts);
				CHECK_STR(v->last_alert, "rollback");
				all_at(s, v, "1.0.0", rc->replicas);
				CHECK_STR(v->spec->version, "1.0.0");
				if (check_failed_in_test) {
					fprintf(stderr, "    (case %zu mode %d at %d)\n",
					    k, m, at);
					sim_free(s);
					return;
				}
				sim_free(s);
			}
		}
	}
}

/* A version that stays Ready: past progress_deadline the rollout fails;
 * with auto_rollback the service walks back; without, it is Failed with
 * the reason and the old instances keep serving. */
TEST(lifecycle_rollout_rolling__deadline)
{
	const struct rcase *rc = &cases[1]; /* 4, unavailable 1 */
	struct sim *s = start(rc, "20s");
	struct sim_svc *v = sim_svc(s, "web");
	char yaml[1024];

	snprintf(s->stuck_version, sizeof(s->stuck_version), "1.1.0");
	sim_apply(s, mk(rc, "1.1.0", "20s"));
	for (int i = 0; i < 10; i++)
		sim_step(s);
	CHECK_EQ_INT(v->state, SERVICE_UPDATE);
	run_checked(s, rc, 200);
	CHECK(v->seen_state[SERVICE_ROLLBACK]);
	all_at(s, v, "1.0.0", 4);
	sim_free(s);

	/* auto_rollback off. */
	s = start(rc, "20s");
	v = sim_svc(s, "web");
	snprintf(s->stuck_version, sizeof(s->stuck_version), "1.1.0");
	snprintf(yaml, sizeof(yaml), "architecture: t\nservices:\n  web:\n"
	    "    version: \"1.1.0\"\n    command: [\"web\"]\n    replicas: 4\n"
	    "    max: 20\n    strategy: {type: rolling, max_surge: 0, "
	    "max_unavailable: 1, progress_deadline: 20s, auto_rollback: false}\n");
	sim_apply(s, sim_parse(yaml));
	run_checked(s, rc, 200);
	CHECK_EQ_INT(v->state, SERVICE_FAILED);
	CHECK_CONTAINS(v->reason, "rollout to 1.1.0 failed: did not finish within "
	    "progress_deadline 20s");
	CHECK_EQ_INT(v->rollbacks, 0);
	CHECK_EQ_INT(v->rollout.phase, ROLLOUT_FAILED);
	CHECK(sim_count(s, "web", INSTANCE_RUN, "1.0.0") >= 3);
	sim_free(s);
}

/* auto_rollback off: a new instance that fails stops the rollout there;
 * the service is Failed with the reason, nothing of the failed spec
 * starts again, the old instances keep serving; a fix goes on. */
TEST(lifecycle_rollout_rolling__failure_without_auto_rollback)
{
	const struct rcase *rc = &cases[2]; /* 5, surge 2, unavailable 2 */
	struct sim *s = start(rc, "10m");
	struct sim_svc *v = sim_svc(s, "web");
	char yaml[1024];
	int starts, alerts = v->alerts;

	snprintf(s->bad_version, sizeof(s->bad_version), "1.1.0");
	s->bad_from = 1;
	snprintf(yaml, sizeof(yaml), "architecture: t\nservices:\n  web:\n"
	    "    version: \"1.1.0\"\n    command: [\"web\"]\n    replicas: 5\n"
	    "    max: 20\n    restart: {limit: 3}\n    strategy: {type: rolling, "
	    "max_surge: 2, max_unavailable: 2, auto_rollback: false}\n");
	sim_apply(s, sim_parse(yaml));
	run_checked(s, rc, 100);
	CHECK_EQ_INT(v->state, SERVICE_FAILED);
	CHECK_CONTAINS(v->reason, "rollout to 1.1.0 failed: ");
	CHECK_CONTAINS(v->reason, "Failed on");
	CHECK_CONTAINS(v->reason, "auto_rollback off");
	CHECK_EQ_INT(v->rollbacks, 0);
	CHECK_EQ_INT(v->alerts, alerts + 1);
	CHECK_STR(v->last_alert, "failed");
	CHECK_EQ_INT(v->rollout.phase, ROLLOUT_FAILED);
	CHECK(sim_serving(s, "web") >= 3);
	starts = s->starts;
	for (int i = 0; i < 20; i++)
		sim_step(s);
	CHECK_EQ_INT(s->starts, starts);
	CHECK_EQ_INT(v->state, SERVICE_FAILED);
	/* A fix: a new rollout. */
	sim_apply(s, mk(rc, "1.1.1", "10m"));
	run_checked(s, rc, 100);
	all_at(s, v, "1.1.1", 5);
	sim_free(s);
}

/* Pause at every step: nothing starts or stops while paused (the reason
 * and the status say so), and resume finishes. Then abort at every step:
 * a rolling abort is a rollback to the old version. */
TEST(lifecycle_rollout_rolling__pause_abort_every_step)
{
	const struct rcase *rc = &cases[2]; /* 5, surge 2, unavailable 2 */

	for (int at = 0; at < 8; at++) {
		struct sim *s = start(rc, "10m");
		struct sim_svc *v = sim_svc(s, "web");
		int starts, stops;

		sim_apply(s, mk(rc, "1.1.0", "10m"));
		for (int i = 0; i < at; i++) {
			sim_step(s);
			bounds(s, v, rc);
		}
		if (sim_count(s, "web", -1, "1.0.0") == 0) {
			sim_free(s);
			break;
		}
		v->flags.paused = true;
		sim_step(s);
		starts = s->starts;
		stops = s->stops;
		for (int i = 0; i < 10; i++) {
			sim_step(s);
			bounds(s, v, rc);
		}
		CHECK_EQ_INT(s->starts, starts);
		CHECK_EQ_INT(s->stops, stops);
		CHECK_EQ_INT(v->state, SERVICE_UPDATE);
		CHECK_STR(v->reason, "paused");
		CHECK_EQ_INT(v->rollout.phase, ROLLOUT_PAUSED);
		v->flags.paused = false;
		/* A promote has nothing to end in a rolling update: taken. */
		v->flags.promote = true;
		run_checked(s, rc, 100);
		CHECK(!v->flags.promote);
		all_at(s, v, "1.1.0", 5);
		sim_free(s);

		s = start(rc, "10m");
		v = sim_svc(s, "web");
		sim_apply(s, mk(rc, "1.1.0", "10m"));
		for (int i = 0; i < at; i++)
			sim_step(s);
		v->flags.abort = true;
		run_checked(s, rc, 100);
		CHECK(!v->flags.abort);
		CHECK(v->seen_state[SERVICE_ROLLBACK]);
		all_at(s, v, "1.0.0", 5);
		if (check_failed_in_test)
			fprintf(stderr, "    (at %d)\n", at);
		sim_free(s);
	}
}

/* A new spec in the middle: newest wins, the instances of the version in
 * between count as old, and the bounds hold across the change. */
TEST(lifecycle_rollout_rolling__new_spec_mid_rollout)
{
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (int at = 1; at < 5; at++) {
			const struct rcase *rc = &cases[k];
			struct sim *s = start(rc, "10m");
			struct sim_svc *v = sim_svc(s, "web");

			sim_apply(s, mk(rc, "1.1.0", "10m"));
			for (int i = 0; i < at; i++) {
				sim_step(s);
				bounds(s, v, rc);
			}
			sim_apply(s, mk(rc, "1.2.0", "10m"));
			run_checked(s, rc, 100);
			all_at(s, v, "1.2.0", rc->replicas);
			CHECK(!v->seen_state[SERVICE_ROLLBACK]);
			sim_free(s);
		}
	}
}

/* A controller restart mid-rollout: the stored memo (a deep copy) gives
 * the same next plan; a lost memo would not always (it is what keeps the
 * rollout's clock). */
TEST(lifecycle_rollout_rolling__restart_continuity)
{
	const struct rcase *rc = &cases[6];
	struct sim *s = start(rc, "10m");
	struct sim_svc *v = sim_svc(s, "web");

	sim_apply(s, mk(rc, "1.1.0", "10m"));
	for (int i = 0; i < 12 && v->state != SERVICE_RUN; i++) {
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
		CHECK_EQ_INT(a->rollout.step, b->rollout.step);
		CHECK_EQ_INT(a->memo.rollout_since, b->memo.rollout_since);
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
	sim_free(s);
}

CHECK_MAIN(lifecycle_rollout_rolling__bounds_every_step,
    lifecycle_rollout_rolling__min_ready_holds_old,
    lifecycle_rollout_rolling__failure_at_every_step_rolls_back,
    lifecycle_rollout_rolling__deadline,
    lifecycle_rollout_rolling__failure_without_auto_rollback,
    lifecycle_rollout_rolling__pause_abort_every_step,
    lifecycle_rollout_rolling__new_spec_mid_rollout,
    lifecycle_rollout_rolling__restart_continuity)
