/*
 * test_lifecycle_rollout_bluegreen.c - the blue-green strategy on
 * simulated clusters, checked on every simulated step: one set serves at
 * a time (never a mix), the switch only once the whole new set is Run and
 * auto_promote has passed (or on promote), the old set kept whole until
 * the switch and for scale_down_delay after it; a new instance failing at
 * every step (also after the switch), and a missed deadline, roll back
 * to Run at the old version with the traffic back at once; pause, promote
 * and abort at every step; a new spec mid-rollout; restart continuity.
 */
#include "lifecycle_sim.h"

#define G (1024ULL * 1024 * 1024)
#define R 3

static const char yaml_fmt[] =
    "architecture: t\n"
    "services:\n"
    "  web:\n"
    "    version: \"%s\"\n"
    "    command: [\"web\"]\n"
    "    replicas: 3\n"
    "    max: 20\n"
    "    restart: {limit: 3}\n"
    "    strategy: {type: blue-green, auto_promote: %s, scale_down_delay: 5s,\n"
    "      progress_deadline: %s}\n";

static struct manifest *
mk(const char *version, const char *promote, const char *deadline)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), yaml_fmt, version, promote, deadline);
	return sim_parse(yaml);
}

static struct sim *
start(void)
{
	char yaml[1024];
	struct sim *s;

	snprintf(yaml, sizeof(yaml), yaml_fmt, "1.0.0", "3s", "10m");
	s = sim_new(yaml);
	sim_node(s, "node-a", 16, 64 * G);
	sim_node(s, "node-b", 16, 64 * G);
	sim_node(s, "node-c", 16, 64 * G);
	sim_run(s, 40);
	REQUIRE(sim_svc(s, "web")->state == SERVICE_RUN);
	return s;
}

static int
count_fp(const struct sim *s, const char *fp, bool run)
{
	int n = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		const struct sim_inst *x = &s->inst[i];

		if (!x->used || strcmp(x->fp, fp) != 0)
			continue;
		if (run ? x->state == INSTANCE_RUN &&
		    x->health != HEALTH_STATE_UNHEALTHY :
		    x->state != INSTANCE_DESTROY)
			n++;
	}
	return n;
}

struct watch {
	char old_fp[LIFECYCLE_FP_LEN];
	char new_fp[LIFECYCLE_FP_LEN];
	int64_t switched;   /* sim time of the switch; 0 none */
	int64_t old_gone;   /* sim time the old set started to go */
	int promote_waits;  /* plans waiting for promote */
	bool failed;
};

static void
watch_init(struct watch *w, struct sim *s)
{
	memset(w, 0, sizeof(*w));
	lifecycle_fingerprint(w->old_fp, sim_svc(s, "web")->spec);
}

/*
 * Invariants after every step: the traffic goes to one set; to the new
 * one only when all of it is Run (at the switch); the old set whole until
 * then, and kept scale_down_delay after; a failure sends it back at once.
 */
static void
watch_step(const struct sim *s, const struct sim_svc *v, struct watch *w)
{
	const struct lifecycle_traffic *t = &v->traffic;
	int old_live = count_fp(s, w->old_fp, false);

	CHECK(sim_count(s, "web", -1, NULL) <= 2 * R);
	if (v->rollbacks > 0 || v->rollout.phase == ROLLOUT_FAILED ||
	    v->rollout.phase == ROLLOUT_ABORTED) {
		w->failed = true;
		if (t->mode == TRAFFIC_ACTIVE)
			CHECK_STR(t->active_fp, w->old_fp);
		return;
	}
	if (v->state != SERVICE_UPDATE)
		return;
	lifecycle_fingerprint(w->new_fp, v->spec);
	CHECK_EQ_INT(v->rollout.strategy, STRATEGY_BLUE_GREEN);
	CHECK_EQ_INT(v->rollout.steps, 3);
	REQUIRE(t->mode == TRAFFIC_ACTIVE);
	/* One set, never a mix. */
	CHECK(strcmp(t->active_fp, w->old_fp) == 0 ||
	    strcmp(t->active_fp, w->new_fp) == 0);
	CHECK(count_fp(s, t->active_fp, true) >= R);
	if (strcmp(t->active_fp, w->new_fp) == 0) {
		CHECK_EQ_INT(v->rollout.weight, 100);
		if (w->switched == 0) {
			w->switched = s->now;
			CHECK(old_live >= R);
		}
		CHECK_EQ_INT(v->rollout.step, 3);
	} else {
		CHECK_EQ_INT(v->rollout.weight, 0);
		CHECK(old_live >= R);
		CHECK(v->rollout.step <= 2);
	}
	if (v->rollout.waiting_promote)
		w->promote_waits++;
	if (old_live < R && w->old_gone == 0)
		w->old_gone = s->now;
}

static void
run_watched(struct sim *s, struct watch *w, int max)
{
	struct sim_svc *v = sim_svc(s, "web");
	int steps = 0;

	while (sim_step(s) > 0 || v->state == SERVICE_UPDATE ||
	    v->state == SERVICE_ROLLBACK) {
		watch_step(s, v, w);
		if (v->rollout.waiting_promote)
			return;
		REQUIRE(++steps < max);
	}
	watch_step(s, v, w);
}

static void
all_at(const struct sim *s, const struct sim_svc *v, const char *version)
{
	CHECK_EQ_INT(v->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", -1, NULL), R);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, version), R);
	CHECK_EQ_INT(v->traffic.mode, TRAFFIC_ALL);
	CHECK_EQ_INT(v->rollout.phase, ROLLOUT_NONE);
	CHECK(!v->flags.rollback);
}

TEST(lifecycle_rollout_bluegreen__switch_then_scale_down)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;
	int64_t all_run = 0;

	watch_init(&w, s);
	sim_apply(s, mk("1.1.0", "3s", "10m"));
	while (sim_step(s) > 0 || v->state == SERVICE_UPDATE) {
		watch_step(s, v, &w);
		if (all_run == 0 && sim_count(s, "web", INSTANCE_RUN, "1.1.0") == R)
			all_run = s->now;
		REQUIRE(s->step < 200);
	}
	all_at(s, v, "1.1.0");
	REQUIRE(w.switched != 0 && w.old_gone != 0 && all_run != 0);
	/* auto_promote 3s after the whole new set was Run; the old set kept
	 * 5s after the switch. */
	CHECK(w.switched - all_run >= 3000);
	CHECK(w.old_gone - w.switched >= 5000);
	CHECK_STR(v->memo.rollout_stable_fp, "");
	CHECK_EQ_INT(v->memo.rollout_switched_at, 0);
	sim_free(s);
}

/* One new instance slow to become Run: no switch until it is, however
 * long auto_promote has passed for the others. */
TEST(lifecycle_rollout_bluegreen__switch_waits_for_whole_set)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;
	char slow[LIFECYCLE_ID_MAX] = "";

	watch_init(&w, s);
	sim_apply(s, mk("1.1.0", "0s", "10m"));
	for (int i = 0; i < 15; i++) {
		struct sim_inst *x = slow[0] ? sim_find(s, slow) : NULL;

		sim_step(s);
		for (size_t k = 0; k < SIM_MAX_INST && slow[0] == '\0'; k++)
			if (s->inst[k].used && strcmp(s->inst[k].version, "1.1.0") == 0)
				snprintf(slow, sizeof(slow), "%s", s->inst[k].id);
		if ((x = sim_find(s, slow)) != NULL && x->state == INSTANCE_RUN)
			x->state = INSTANCE_READY;
		watch_step(s, v, &w);
		CHECK_EQ_INT(w.switched, 0);
	}
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.1.0"), R - 1);
	CHECK_EQ_INT(v->rollout.step, 1);
	run_watched(s, &w, 100);
	CHECK(w.switched != 0);
	all_at(s, v, "1.1.0");
	sim_free(s);
}

/* auto_promote false: the new set waits Run, without traffic, until
 * promote; status says so. */
TEST(lifecycle_rollout_bluegreen__waits_for_promote)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;
	int starts;

	watch_init(&w, s);
	sim_apply(s, mk("1.1.0", "false", "1m"));
	run_watched(s, &w, 100);
	REQUIRE(v->rollout.waiting_promote);
	CHECK_EQ_INT(v->rollout.phase, ROLLOUT_WAIT_PROMOTE);
	CHECK_EQ_INT(v->rollout.step, 2);
	CHECK_EQ_INT(v->rollout.nnew, R);
	CHECK_EQ_INT(v->rollout.nold, R);
	CHECK_CONTAINS(v->reason, "waiting for promote");
	starts = s->starts;
	/* Waiting longer than progress_deadline is not a failure. */
	for (int i = 0; i < 90; i++) {
		sim_step(s);
		watch_step(s, v, &w);
	}
	CHECK_EQ_INT(s->starts, starts);
	CHECK_EQ_INT(v->state, SERVICE_UPDATE);
	CHECK_STR(v->traffic.active_fp, w.old_fp);
	v->flags.promote = true;
	run_watched(s, &w, 100);
	CHECK(!v->flags.promote);
	all_at(s, v, "1.1.0");
	CHECK(w.switched != 0);
	sim_free(s);
}

/* The n-th new instance goes bad, every n, every way: back to the old set
 * (never switched), rollback, Run at the old version. */
TEST(lifecycle_rollout_bluegreen__failure_at_every_step_rolls_back)
{
	static const int modes[] = {SIM_BAD_FAIL, SIM_BAD_SICK, SIM_BAD_CRASH};

	for (int m = 0; m < 3; m++) {
		for (int at = 0; at < R; at++) {
			struct sim *s = start();
			struct sim_svc *v = sim_svc(s, "web");
			struct watch w;

			watch_init(&w, s);
			snprintf(s->bad_version, sizeof(s->bad_version), "1.1.0");
			s->bad_from = at;
			s->bad_mode = modes[m];
			sim_apply(s, mk("1.1.0", "3s", "10m"));
			run_watched(s, &w, 200);
			CHECK(w.failed);
			CHECK_EQ_INT(w.switched, 0);
			CHECK_EQ_INT(v->rollbacks, 1);
			CHECK_STR(v->last_alert, "rollback");
			all_at(s, v, "1.0.0");
			if (check_failed_in_test) {
				fprintf(stderr, "    (mode %d at %d)\n", m, at);
				sim_free(s);
				return;
			}
			sim_free(s);
		}
	}
}

/* Switch the rollout of 1.1.0 over, then take `after` more steps. */
static void
until_switched(struct sim *s, struct sim_svc *v, struct watch *w, int after)
{
	watch_init(w, s);
	sim_apply(s, mk("1.1.0", "0s", "10m"));
	while (w->switched == 0) {
		sim_step(s);
		watch_step(s, v, w);
		REQUIRE(s->step < 100);
	}
	for (int i = 0; i < after; i++) {
		sim_step(s);
		watch_step(s, v, w);
	}
}

/* The first instance of version in state st (health h). */
static void
break_one(struct sim *s, const char *version, enum instance_state st, enum health_state h)
{
	for (size_t i = 0; i < SIM_MAX_INST; i++)
		if (s->inst[i].used && strcmp(s->inst[i].version, version) == 0) {
			s->inst[i].state = st;
			s->inst[i].health = h;
			return;
		}
}

/* A new instance turns unhealthy after the switch, while the old set is
 * kept: the traffic goes back to it in the same plan, and the rollback
 * ends Run at the old version without starting anything of it. */
TEST(lifecycle_rollout_bluegreen__failure_after_switch_is_instant)
{
	for (int after = 0; after < 5; after++) {
		struct sim *s = start();
		struct sim_svc *v = sim_svc(s, "web");
		struct watch w;
		int old_starts = 0;

		until_switched(s, v, &w, after);
		REQUIRE(count_fp(s, w.old_fp, true) == R);
		break_one(s, "1.1.0", INSTANCE_RUN, HEALTH_STATE_UNHEALTHY);
		sim_step(s);
		CHECK_STR(v->traffic.active_fp, w.old_fp);
		CHECK_EQ_INT(v->state, SERVICE_ROLLBACK);
		old_starts = sim_count(s, "web", -1, "1.0.0");
		run_watched(s, &w, 100);
		all_at(s, v, "1.0.0");
		CHECK_EQ_INT(sim_count(s, "web", -1, "1.0.0"), old_starts);
		sim_free(s);
	}
}

/* One new instance killed after the switch (Failed: a kill -9 from
 * outside) is replaced; one kill is not a failed version (issue 11 #6):
 * no rollback, the rollout ends Run at 1.1.0. */
TEST(lifecycle_rollout_bluegreen__one_killed_instance_is_replaced)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;

	until_switched(s, v, &w, 0);
	break_one(s, "1.1.0", INSTANCE_FAILED, HEALTH_STATE_NONE);
	sim_step(s);
	CHECK(v->state != SERVICE_ROLLBACK && v->state != SERVICE_FAILED);
	run_watched(s, &w, 200);
	CHECK_EQ_INT(v->rollbacks, 0);
	all_at(s, v, "1.1.0");
	sim_free(s);
}

TEST(lifecycle_rollout_bluegreen__deadline_rolls_back)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;

	watch_init(&w, s);
	snprintf(s->stuck_version, sizeof(s->stuck_version), "1.1.0");
	sim_apply(s, mk("1.1.0", "3s", "30s"));
	run_watched(s, &w, 200);
	CHECK(w.failed);
	CHECK_EQ_INT(v->rollbacks, 1);
	all_at(s, v, "1.0.0");
	sim_free(s);
}

/* abort and pause at every step (starting, waiting, switched and keeping
 * the old set). abort: the old set serves at once, the new one goes, Run
 * at the old version, "aborted". pause: nothing moves; resume finishes. */
TEST(lifecycle_rollout_bluegreen__abort_pause_every_step)
{
	int tried = 0;

	for (int at = 1; at < 30; at++) {
		struct sim *s = start();
		struct sim_svc *v = sim_svc(s, "web");
		struct watch w;
		int starts, stops;

		watch_init(&w, s);
		sim_apply(s, mk("1.1.0", "3s", "10m"));
		for (int i = 0; i < at; i++) {
			sim_step(s);
			watch_step(s, v, &w);
		}
		if (v->state != SERVICE_UPDATE || count_fp(s, w.old_fp, false) < R) {
			sim_free(s);
			break;
		}
		tried++;
		v->flags.paused = true;
		sim_step(s);
		starts = s->starts;
		stops = s->stops;
		for (int i = 0; i < 10; i++) {
			sim_step(s);
			watch_step(s, v, &w);
		}
		CHECK_EQ_INT(s->starts, starts);
		CHECK_EQ_INT(s->stops, stops);
		CHECK_STR(v->reason, "paused");
		CHECK_EQ_INT(v->rollout.phase, ROLLOUT_PAUSED);
		v->flags.paused = false;
		v->flags.abort = true;
		sim_step(s);
		CHECK_STR(v->traffic.active_fp, w.old_fp);
		run_watched(s, &w, 100);
		CHECK(!v->flags.abort);
		CHECK_EQ_INT(v->state, SERVICE_RUN);
		CHECK_CONTAINS(v->reason, "aborted");
		CHECK_EQ_INT(sim_count(s, "web", -1, "1.1.0"), 0);
		CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), R);
		/* A new apply replaces the aborted rollout. */
		sim_apply(s, mk("1.2.0", "0s", "10m"));
		watch_init(&w, s);
		lifecycle_fingerprint(w.old_fp, manifest_service(s->old[s->nold - 2], "web"));
		run_watched(s, &w, 100);
		all_at(s, v, "1.2.0");
		if (check_failed_in_test)
			fprintf(stderr, "    (at %d)\n", at);
		sim_free(s);
	}
	/* starting, waiting for auto_promote, switched: every phase */
	CHECK(tried >= 10);
}

/* A new spec at every step: the instances of the version in between are
 * old; what serves keeps serving until the newest set is whole. */
TEST(lifecycle_rollout_bluegreen__new_spec_mid_rollout)
{
	for (int at = 1; at < 30; at++) {
		struct sim *s = start();
		struct sim_svc *v = sim_svc(s, "web");
		struct watch w;
		char serving[LIFECYCLE_FP_LEN];

		watch_init(&w, s);
		sim_apply(s, mk("1.1.0", "2s", "10m"));
		for (int i = 0; i < at; i++) {
			sim_step(s);
			watch_step(s, v, &w);
		}
		if (v->state != SERVICE_UPDATE) {
			sim_free(s);
			break;
		}
		snprintf(serving, sizeof(serving), "%s", v->traffic.active_fp);
		sim_apply(s, mk("1.2.0", "2s", "10m"));
		sim_step(s);
		/* What served goes on serving: no jump to 1.2.0. */
		CHECK_STR(v->traffic.active_fp, serving);
		snprintf(w.old_fp, sizeof(w.old_fp), "%s", serving);
		w.switched = w.old_gone = 0;
		run_watched(s, &w, 100);
		all_at(s, v, "1.2.0");
		CHECK(w.switched != 0);
		if (check_failed_in_test)
			fprintf(stderr, "    (at %d)\n", at);
		sim_free(s);
	}
}

TEST(lifecycle_rollout_bluegreen__restart_continuity)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	int differs = 0;

	sim_apply(s, mk("1.1.0", "3s", "10m"));
	for (int i = 0; i < 40 && (i < 2 || v->state != SERVICE_RUN); i++) {
		struct lifecycle_input in;
		struct lifecycle_instance *iv;
		struct lifecycle_node *nv;
		struct lifecycle_dep *dv;
		struct lifecycle_memo copy, lost = {.settled = R};
		struct lifecycle_plan *a = NULL, *b = NULL, *c = NULL;
		char *ta, *tb, *tc;

		sim_input(s, v, &in, &iv, &nv, &dv);
		REQUIRE(lifecycle_memo_copy(&copy, &v->memo) == 0);
		REQUIRE(lifecycle_plan(&a, &in) == 0);
		in.memo = &copy;
		REQUIRE(lifecycle_plan(&b, &in) == 0);
		in.memo = &lost;
		REQUIRE(lifecycle_plan(&c, &in) == 0);
		ta = lifecycle_plan_format(a);
		tb = lifecycle_plan_format(b);
		tc = lifecycle_plan_format(c);
		CHECK_STR(ta, tb);
		CHECK(memcmp(&a->traffic, &b->traffic, sizeof(a->traffic)) == 0);
		CHECK(memcmp(&a->rollout, &b->rollout, sizeof(a->rollout)) == 0);
		CHECK_EQ_INT(a->memo.rollout_switched_at, b->memo.rollout_switched_at);
		differs += strcmp(ta, tc) != 0 ||
		    strcmp(a->traffic.active_fp, c->traffic.active_fp) != 0;
		free(ta);
		free(tb);
		free(tc);
		lifecycle_plan_free(a);
		lifecycle_plan_free(b);
		lifecycle_plan_free(c);
		lifecycle_memo_clear(&copy);
		free(iv);
		free(nv);
		free(dv);
		sim_step(s);
	}
	CHECK(differs > 0);
	all_at(s, v, "1.1.0");
	sim_free(s);
}

CHECK_MAIN(lifecycle_rollout_bluegreen__switch_then_scale_down,
    lifecycle_rollout_bluegreen__switch_waits_for_whole_set,
    lifecycle_rollout_bluegreen__waits_for_promote,
    lifecycle_rollout_bluegreen__failure_at_every_step_rolls_back,
    lifecycle_rollout_bluegreen__failure_after_switch_is_instant,
    lifecycle_rollout_bluegreen__one_killed_instance_is_replaced,
    lifecycle_rollout_bluegreen__deadline_rolls_back,
    lifecycle_rollout_bluegreen__abort_pause_every_step,
    lifecycle_rollout_bluegreen__new_spec_mid_rollout,
    lifecycle_rollout_bluegreen__restart_continuity)
