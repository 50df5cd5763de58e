/*
 * test_lifecycle_rollout_canary.c - the canary strategy on simulated
 * clusters, checked on every simulated step: the traffic weights are the
 * steps' (and only once the step's instances are Run), the old set stays
 * whole until the last step, nothing serves less than replicas; a canary
 * failing at every step (Failed, unhealthy, crash loop) and a missed
 * deadline roll back to Run at the old version with the traffic back at
 * once; pause, promote and abort at every step; a new spec mid-rollout;
 * restart continuity from a stored memo.
 */
#include "lifecycle_sim.h"

#define G (1024ULL * 1024 * 1024)
#define R 4

static const char yaml_fmt[] =
    "architecture: t\n"
    "services:\n"
    "  web:\n"
    "    version: \"%s\"\n"
    "    command: [\"web\"]\n"
    "    replicas: 4\n"
    "    max: 20\n"
    "    restart: {limit: 3}\n"
    "    strategy:\n"
    "      type: canary\n"
    "      steps: [{weight: 10%s}, {weight: 50%s}]\n"
    "      progress_deadline: %s\n";

/* Weights of the steps, then the full set; new instances each needs. */
static const int weights[3] = {10, 50, 100};
static const int counts[3] = {1, 2, R};

/* pause NULL: none given, each step waits for promote. */
static struct manifest *
mk(const char *version, const char *pause, const char *deadline)
{
	char yaml[1024], p[64] = "";

	if (pause != NULL)
		snprintf(p, sizeof(p), ", pause: %s", pause);
	snprintf(yaml, sizeof(yaml), yaml_fmt, version, p, p, deadline);
	return sim_parse(yaml);
}

static struct sim *
start(void)
{
	char yaml[1024];
	struct sim *s;

	snprintf(yaml, sizeof(yaml), yaml_fmt, "1.0.0", ", pause: 5s",
	    ", pause: 5s", "10m");
	s = sim_new(yaml);
	sim_node(s, "node-a", 16, 64 * G);
	sim_node(s, "node-b", 16, 64 * G);
	sim_node(s, "node-c", 16, 64 * G);
	sim_run(s, 40);
	REQUIRE(sim_svc(s, "web")->state == SERVICE_RUN);
	return s;
}

/* Run instances of the spec whose fingerprint is fp, healthy. */
static int
run_of(const struct sim *s, const char *fp)
{
	int n = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++)
		n += s->inst[i].used && s->inst[i].state == INSTANCE_RUN &&
		    s->inst[i].health != HEALTH_STATE_UNHEALTHY &&
		    strcmp(s->inst[i].fp, fp) == 0;
	return n;
}

static int
live_of(const struct sim *s, const char *fp)
{
	int n = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++)
		n += s->inst[i].used && s->inst[i].state != INSTANCE_DESTROY &&
		    strcmp(s->inst[i].fp, fp) == 0;
	return n;
}

struct watch {
	char old_fp[LIFECYCLE_FP_LEN]; /* the stable version's */
	int last_weight;
	int seen[3];                   /* plans at each step's weight */
	bool failed;                   /* a rollback was requested */
};

/*
 * The invariants, after every step. In Update: traffic SPLIT with a
 * step's weight (or 0 before the first), never going down; the old set
 * whole while the weight is under 100; a weight only with the step's
 * canaries Run. After a failure or an abort, the version given up gets
 * no traffic.
 */
static void
watch_step(const struct sim *s, const struct sim_svc *v, struct watch *w)
{
	const struct lifecycle_traffic *t = &v->traffic;
	char fp[LIFECYCLE_FP_LEN];
	int k = -1;

	lifecycle_fingerprint(fp, v->spec);
	CHECK(sim_serving(s, "web") >= R || v->rollbacks > 0);
	if (v->rollbacks > 0 || v->rollout.phase == ROLLOUT_ABORTED ||
	    v->rollout.phase == ROLLOUT_FAILED) {
		w->failed = true;
		/* Back at once: the old version takes all the traffic. */
		if (t->mode == TRAFFIC_SPLIT && strcmp(t->new_fp, w->old_fp) != 0)
			CHECK_EQ_INT(t->new_weight, 0);
		if (t->mode == TRAFFIC_SPLIT && strcmp(t->new_fp, w->old_fp) == 0)
			CHECK_EQ_INT(t->new_weight, 100);
		return;
	}
	if (v->state != SERVICE_UPDATE)
		return;
	CHECK_EQ_INT(v->rollout.strategy, STRATEGY_CANARY);
	CHECK_EQ_INT(v->rollout.steps, 2); /* as declared; then the full set */
	REQUIRE(t->mode == TRAFFIC_SPLIT);
	CHECK_STR(t->new_fp, fp);
	for (int i = 0; i < 3; i++)
		if (t->new_weight == weights[i])
			k = i;
	CHECK(t->new_weight == 0 || k >= 0);
	CHECK(t->new_weight >= w->last_weight);
	w->last_weight = t->new_weight;
	CHECK_EQ_INT(v->rollout.weight, t->new_weight);
	if (k >= 0) {
		w->seen[k]++;
		CHECK(run_of(s, fp) >= counts[k]);
	}
	if (t->new_weight < 100)
		CHECK(live_of(s, w->old_fp) >= R);
	/* Never more canaries than the current step asks for. */
	CHECK(live_of(s, fp) <= counts[v->rollout.full ? 2 : v->rollout.step - 1]);
}

static int
run_watched(struct sim *s, struct watch *w, int max)
{
	struct sim_svc *v = sim_svc(s, "web");
	int steps = 0;

	while (sim_step(s) > 0 || v->state == SERVICE_UPDATE ||
	    v->state == SERVICE_ROLLBACK) {
		watch_step(s, v, w);
		if (v->rollout.waiting_promote)
			break;
		REQUIRE(++steps < max);
	}
	watch_step(s, v, w);
	return steps;
}

static void
watch_init(struct watch *w, const struct sim *s)
{
	memset(w, 0, sizeof(*w));
	lifecycle_fingerprint(w->old_fp, sim_svc((struct sim *)s, "web")->spec);
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

TEST(lifecycle_rollout_canary__steps_weights_pauses)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;

	watch_init(&w, s);
	sim_apply(s, mk("1.1.0", "5s", "10m"));
	run_watched(s, &w, 100);
	all_at(s, v, "1.1.0");
	CHECK(v->seen_state[SERVICE_UPDATE]);
	CHECK(!v->seen_state[SERVICE_ROLLBACK]);
	/* Each step's weight was held for its pause (one step is 1s). */
	CHECK(w.seen[0] >= 5);
	CHECK(w.seen[1] >= 5);
	CHECK(w.seen[2] >= 1);
	CHECK_EQ_INT(v->memo.rollout_step, 0);
	CHECK_STR(v->memo.rollout_stable_fp, "");
	sim_free(s);
}

/* pause -1: each step waits for promote, shown in status and reason;
 * promote moves it one step; paused holds even a promote. */
TEST(lifecycle_rollout_canary__promote_each_step)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;

	watch_init(&w, s);
	sim_apply(s, mk("1.1.0", NULL, "10m"));
	for (int k = 0; k < 2; k++) {
		int starts;

		run_watched(s, &w, 100);
		REQUIRE(v->rollout.waiting_promote);
		CHECK_EQ_INT(v->rollout.phase, ROLLOUT_WAIT_PROMOTE);
		CHECK_EQ_INT(v->rollout.step, k + 1);
		CHECK_EQ_INT(v->rollout.weight, weights[k]);
		CHECK_CONTAINS(v->reason, "waiting for promote");
		CHECK_EQ_INT(v->rollout.nnew, counts[k]);
		CHECK_EQ_INT(v->rollout.nold, R);
		starts = s->starts;
		for (int i = 0; i < 20; i++)
			sim_step(s);
		CHECK_EQ_INT(s->starts, starts);
		CHECK_EQ_INT(v->traffic.new_weight, weights[k]);
		/* Paused: a promote is kept for later, nothing moves. */
		v->flags.paused = true;
		v->flags.promote = true;
		sim_step(s);
		sim_step(s);
		CHECK_EQ_INT(s->starts, starts);
		CHECK_EQ_INT(v->rollout.phase, ROLLOUT_PAUSED);
		CHECK_STR(v->reason, "paused");
		v->flags.paused = false;
		sim_step(s);
		CHECK(!v->flags.promote);
	}
	run_watched(s, &w, 100);
	all_at(s, v, "1.1.0");
	sim_free(s);
}

/* The n-th canary goes bad, for every n (so at every step), in every
 * way: rollback to the old version, traffic back at once. */
TEST(lifecycle_rollout_canary__failure_at_every_step_rolls_back)
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
			sim_apply(s, mk("1.1.0", "2s", "10m"));
			run_watched(s, &w, 200);
			CHECK(w.failed);
			CHECK_EQ_INT(v->rollbacks, 1);
			CHECK(v->seen_state[SERVICE_ROLLBACK]);
			CHECK_STR(v->last_alert, "rollback");
			all_at(s, v, "1.0.0");
			/* The steps before the failure were taken. */
			for (int k = 0; k < 2; k++)
				if (at >= counts[k])
					CHECK(w.seen[k] > 0);
			if (check_failed_in_test) {
				fprintf(stderr, "    (mode %d at %d)\n", m, at);
				sim_free(s);
				return;
			}
			sim_free(s);
		}
	}
}

/* auto_rollback off: a canary fails at step 2: Failed with the reason,
 * traffic back to the old set, the canaries stop, nothing more starts. */
TEST(lifecycle_rollout_canary__failure_without_auto_rollback)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;
	char yaml[1024];
	int starts;

	watch_init(&w, s);
	snprintf(s->bad_version, sizeof(s->bad_version), "1.1.0");
	s->bad_from = 1;
	s->bad_mode = SIM_BAD_SICK;
	snprintf(yaml, sizeof(yaml), "architecture: t\nservices:\n  web:\n"
	    "    version: \"1.1.0\"\n    command: [\"web\"]\n    replicas: 4\n"
	    "    max: 20\n    strategy:\n      type: canary\n"
	    "      steps: [{weight: 10, pause: 2s}, {weight: 50, pause: 2s}]\n"
	    "      auto_rollback: false\n");
	sim_apply(s, sim_parse(yaml));
	run_watched(s, &w, 100);
	CHECK(w.failed);
	CHECK(w.seen[0] > 0);
	CHECK_EQ_INT(v->state, SERVICE_FAILED);
	CHECK_CONTAINS(v->reason, "unhealthy on");
	CHECK_CONTAINS(v->reason, "auto_rollback off");
	CHECK_EQ_INT(v->traffic.mode, TRAFFIC_SPLIT);
	CHECK_EQ_INT(v->traffic.new_weight, 0);
	CHECK_EQ_INT(sim_count(s, "web", -1, "1.1.0"), 0);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), R);
	CHECK_EQ_INT(v->rollbacks, 0);
	starts = s->starts;
	for (int i = 0; i < 20; i++)
		sim_step(s);
	CHECK_EQ_INT(s->starts, starts);
	sim_free(s);
}

TEST(lifecycle_rollout_canary__deadline_rolls_back)
{
	struct sim *s = start();
	struct sim_svc *v = sim_svc(s, "web");
	struct watch w;

	watch_init(&w, s);
	snprintf(s->stuck_version, sizeof(s->stuck_version), "1.1.0");
	sim_apply(s, mk("1.1.0", "2s", "30s"));
	run_watched(s, &w, 200);
	CHECK(w.failed);
	CHECK_EQ_INT(v->rollbacks, 1);
	all_at(s, v, "1.0.0");
	sim_free(s);
}

/* abort at every step: the old set takes all the traffic at once, the
 * canaries go, the service is Run at the old version with reason
 * "aborted" and stays so; a promote retries; a new apply replaces it. */
TEST(lifecycle_rollout_canary__abort_every_step)
{
	for (int at = 1; at < 20; at++) {
		struct sim *s = start();
		struct sim_svc *v = sim_svc(s, "web");
		struct watch w;
		int starts;

		watch_init(&w, s);
		sim_apply(s, mk("1.1.0", "3s", "10m"));
		for (int i = 0; i < at; i++) {
			sim_step(s);
			watch_step(s, v, &w);
		}
		/* Past the last step (the old set going) there is
		 * nothing left to steer. */
		if (v->state != SERVICE_UPDATE || v->traffic.new_weight == 100) {
			sim_free(s);
			break;
		}
		v->flags.abort = true;
		run_watched(s, &w, 100);
		CHECK(!v->flags.abort);
		CHECK_EQ_INT(v->state, SERVICE_RUN);
		CHECK_CONTAINS(v->reason, "aborted");
		CHECK_EQ_INT(v->rollout.phase, ROLLOUT_ABORTED);
		CHECK_EQ_INT(v->traffic.new_weight, 0);
		CHECK_EQ_INT(sim_count(s, "web", -1, "1.1.0"), 0);
		CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), R);
		CHECK(!v->seen_state[SERVICE_ROLLBACK]);
		starts = s->starts;
		for (int i = 0; i < 20; i++)
			sim_step(s);
		CHECK_EQ_INT(s->starts, starts);
		CHECK_EQ_INT(v->state, SERVICE_RUN);
		/* Retry: the rollout starts over and completes. */
		v->flags.promote = true;
		w.last_weight = 0;
		w.failed = false;
		run_watched(s, &w, 100);
		all_at(s, v, "1.1.0");
		if (check_failed_in_test)
			fprintf(stderr, "    (at %d)\n", at);
		sim_free(s);
	}
}

/* Pause at every step: no start, no stop, no weight change; resume
 * goes on to the end. */
TEST(lifecycle_rollout_canary__pause_every_step)
{
	for (int at = 1; at < 20; at++) {
		struct sim *s = start();
		struct sim_svc *v = sim_svc(s, "web");
		struct watch w;
		int starts, stops, weight;

		watch_init(&w, s);
		sim_apply(s, mk("1.1.0", "3s", "10m"));
		for (int i = 0; i < at; i++) {
			sim_step(s);
			watch_step(s, v, &w);
		}
		/* Past the last step (the old set going) there is
		 * nothing left to steer. */
		if (v->state != SERVICE_UPDATE || v->traffic.new_weight == 100) {
			sim_free(s);
			break;
		}
		v->flags.paused = true;
		sim_step(s);
		starts = s->starts;
		stops = s->stops;
		weight = v->traffic.new_weight;
		for (int i = 0; i < 15; i++) {
			sim_step(s);
			watch_step(s, v, &w);
			CHECK_EQ_INT(v->traffic.new_weight, weight);
		}
		CHECK_EQ_INT(s->starts, starts);
		CHECK_EQ_INT(s->stops, stops);
		CHECK_STR(v->reason, "paused");
		v->flags.paused = false;
		run_watched(s, &w, 100);
		all_at(s, v, "1.1.0");
		sim_free(s);
	}
}

/* A new spec at every step of a canary: the canaries of the version in
 * between count as old; the new one starts from the first step again,
 * with no jump in its weight, and ends with the new version alone. */
TEST(lifecycle_rollout_canary__new_spec_mid_rollout)
{
	for (int at = 1; at < 20; at++) {
		struct sim *s = start();
		struct sim_svc *v = sim_svc(s, "web");
		struct watch w;

		watch_init(&w, s);
		sim_apply(s, mk("1.1.0", "3s", "10m"));
		for (int i = 0; i < at; i++) {
			sim_step(s);
			watch_step(s, v, &w);
		}
		/* Past the last step (the old set going) there is
		 * nothing left to steer. */
		if (v->state != SERVICE_UPDATE || v->traffic.new_weight == 100) {
			sim_free(s);
			break;
		}
		sim_apply(s, mk("1.2.0", "3s", "10m"));
		w.last_weight = 0;
		sim_step(s);
		CHECK(v->traffic.new_weight <= 10);
		run_watched(s, &w, 100);
		all_at(s, v, "1.2.0");
		CHECK(w.seen[0] > 0);
		sim_free(s);
	}
}

/* A controller restart at every step: planning from a stored copy of
 * the memo gives the same actions, traffic and status; a lost memo would
 * restart the steps (shown at least once). */
TEST(lifecycle_rollout_canary__restart_continuity)
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
		char *ta, *tb;

		sim_input(s, v, &in, &iv, &nv, &dv);
		REQUIRE(lifecycle_memo_copy(&copy, &v->memo) == 0);
		REQUIRE(lifecycle_plan(&a, &in) == 0);
		in.memo = &copy;
		REQUIRE(lifecycle_plan(&b, &in) == 0);
		in.memo = &lost;
		REQUIRE(lifecycle_plan(&c, &in) == 0);
		ta = lifecycle_plan_format(a);
		tb = lifecycle_plan_format(b);
		CHECK_STR(ta, tb);
		CHECK(memcmp(&a->traffic, &b->traffic, sizeof(a->traffic)) == 0);
		CHECK(memcmp(&a->rollout, &b->rollout, sizeof(a->rollout)) == 0);
		CHECK_EQ_INT(a->memo.rollout_step, b->memo.rollout_step);
		CHECK_EQ_INT(a->memo.rollout_step_at, b->memo.rollout_step_at);
		differs += a->traffic.new_weight != c->traffic.new_weight;
		free(ta);
		free(tb);
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

CHECK_MAIN(lifecycle_rollout_canary__steps_weights_pauses,
    lifecycle_rollout_canary__promote_each_step,
    lifecycle_rollout_canary__failure_at_every_step_rolls_back,
    lifecycle_rollout_canary__failure_without_auto_rollback,
    lifecycle_rollout_canary__deadline_rolls_back,
    lifecycle_rollout_canary__abort_every_step,
    lifecycle_rollout_canary__pause_every_step,
    lifecycle_rollout_canary__new_spec_mid_rollout,
    lifecycle_rollout_canary__restart_continuity)
