/*
 * test_lifecycle_rollout_converge.c - every strategy converges from any
 * starting point: generated (fixed LCG, so a failure names its seed)
 * observed instances of the old, an in-between and the desired spec in
 * every state, a random stored state, a random rollout memo (step, step
 * time, promoted, switched, stable/failed/aborted specs), random flags
 * (paused, promote, abort, rollback, scale), nodes in every state. Phase
 * 1 steps as it is (the
 * simulator checks every state change, idempotence and the availability
 * floor); phase 2 brings the nodes back, lifts pause, promotes whatever
 * waits for it and must
 * end Run with exactly the desired count of one spec: the desired one,
 * or after a rollback or an abort the old one; phase 3 (after an abort)
 * promotes to retry and must end at the desired spec.
 */
#include "lifecycle_sim.h"

#define G (1024ULL * 1024 * 1024)
#define CASES 1000

static uint64_t rng_state;

static unsigned
rnd(unsigned n)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rng_state >> 33) % n);
}

static const char *const strategies[] = {
	"{type: rolling, max_surge: 1, max_unavailable: 0}",
	"{type: rolling, max_surge: 0, max_unavailable: 1}",
	"{type: rolling, max_surge: \"50%\", max_unavailable: \"50%\", min_ready: 2s}",
	"{type: recreate}",
	"{type: blue-green, auto_promote: 2s, scale_down_delay: 3s}",
	"{type: blue-green, auto_promote: false, scale_down_delay: 0s}",
	"{type: canary, steps: [{weight: 25, pause: 2s}, {weight: 60}]}",
	"{type: canary, steps: [{weight: 100, pause: 1s}]}",
};

static struct manifest *
make(const char *version, int replicas, const char *strategy)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
	    "architecture: t\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"web\"]\n"
	    "    replicas: %d\n"
	    "    max: 10\n"
	    "    strategy: %s\n", version, replicas, strategy);
	return sim_parse(yaml);
}

/* Live instances all of one fingerprint, n of them, all Run. */
static bool
settled_at(const struct sim *s, const char *fp, int n)
{
	int k = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		const struct sim_inst *x = &s->inst[i];

		if (!x->used)
			continue;
		if (strcmp(x->fp, fp) != 0 || x->state != INSTANCE_RUN)
			return false;
		k++;
	}
	return k == n;
}

static void
drive(struct sim *s, struct sim_svc *v, int max)
{
	for (int i = 0; i < max; i++) {
		if (v->rollout.waiting_promote)
			v->flags.promote = true;
		if (sim_step(s) == 0 && v->state != SERVICE_UPDATE &&
		    v->state != SERVICE_ROLLBACK && !v->rollout.waiting_promote &&
		    !v->flags.promote)
			return;
	}
	REQUIRE(!"no fixpoint");
}

static void
one_case(unsigned seed)
{
	static const char *const vers[3] = {"1.0.0", "1.1.0", "1.2.0"};
	const char *strategy = strategies[rnd(sizeof(strategies) /
	    sizeof(strategies[0]))];
	int n = 1 + (int)rnd(4);
	struct sim *s = calloc(1, sizeof(*s));
	struct manifest *mid;
	struct sim_svc *v;
	char fps[3][LIFECYCLE_FP_LEN], want[LIFECYCLE_FP_LEN];
	char id[32];

	REQUIRE(s != NULL);
	s->now = 1000000;
	sim_apply(s, make(vers[0], n, strategy));
	mid = make(vers[1], n, strategy);
	sim_apply(s, make(vers[2], n, strategy));
	for (int i = 0; i < 3; i++)
		sim_node(s, (const char *[]){"node-a", "node-b", "node-c"}[i],
		    16, 64 * G);
	v = sim_svc(s, "web");
	lifecycle_fingerprint(fps[0], manifest_service(s->old[0], "web"));
	lifecycle_fingerprint(fps[1], manifest_service(mid, "web"));
	lifecycle_fingerprint(fps[2], v->spec);

	/* The stored side. */
	v->state = (enum service_state)(1 + rnd(SERVICE__LAST - 2));
	if (v->state == SERVICE_DESTROY)
		v->state = SERVICE_UPDATE;
	v->memo.settled = n;
	v->memo.next_id = rnd(1000);
	if (rnd(2)) {
		v->memo.rollout_since = s->now - rnd(5000);
		snprintf(v->memo.rollout_fp, LIFECYCLE_FP_LEN, "%s", fps[rnd(3)]);
		v->memo.rollout_step = (int)rnd(4) - 1;
		v->memo.rollout_step_at = rnd(2) ? s->now - rnd(5000) : 0;
		v->memo.rollout_promoted = rnd(2);
		v->memo.rollout_switched_at = rnd(2) ? s->now - rnd(5000) : 0;
		snprintf(v->memo.rollout_stable_fp, LIFECYCLE_FP_LEN, "%s",
		    rnd(3) ? fps[rnd(3)] : "");
		if (rnd(4) == 0)
			snprintf(v->memo.rollout_failed_fp, LIFECYCLE_FP_LEN, "%s",
			    fps[rnd(3)]);
		if (rnd(4) == 0)
			snprintf(v->memo.rollout_aborted_fp, LIFECYCLE_FP_LEN, "%s",
			    fps[rnd(3)]);
	}
	if (rnd(4) == 0)
		v->flags.scale = 1 + (int)rnd(5);
	for (int i = 0; i < 3; i++) {
		static const enum node_state st[6] = {NODE_READY, NODE_READY,
		    NODE_READY, NODE_SUSPECT, NODE_LOST, NODE_DRAINING};

		s->nodes[i].state = st[rnd(6)];
	}
	v->flags.paused = rnd(4) == 0;
	v->flags.promote = rnd(4) == 0;
	v->flags.abort = rnd(5) == 0;
	v->flags.rollback = rnd(6) == 0;

	/* The observed side: mostly the old version serving. */
	for (int k = 0; k < n; k++) {
		snprintf(id, sizeof(id), "web-o%d", k);
		sim_put(s, id, "web", (const char *[]){"node-a", "node-b",
		    "node-c"}[rnd(3)], manifest_service(s->old[0], "web"),
		    rnd(5) ? INSTANCE_RUN : (enum instance_state)rnd(INSTANCE__LAST));
	}
	for (int k = 0, extra = (int)rnd(5); k < extra; k++) {
		const struct service_spec *sp = rnd(2) ?
		    manifest_service(mid, "web") : v->spec;

		snprintf(id, sizeof(id), "web-x%d", k);
		sim_put(s, id, "web", (const char *[]){"node-a", "node-b",
		    "node-c"}[rnd(3)], sp, (enum instance_state)rnd(INSTANCE__LAST));
	}

	/* Phase 1: as it is. */
	for (int i = 0; i < 40; i++)
		sim_step(s);
	CHECK_EQ_INT(s->dup_pets, 0);
	CHECK_EQ_INT(s->lost_starts, 0);

	/* Phase 2: every node back, no pause, promote what waits. */
	for (int i = 0; i < 3; i++)
		s->nodes[i].state = NODE_READY;
	v->flags.paused = false;
	if (v->flags.scale > 0)
		n = v->flags.scale;
	drive(s, v, 300);
	/* Aborted, the old set serves: Run, or Ready when it is short and
	 * cannot be made whole (the previous spec is not the one it runs). */
	CHECK(v->state == SERVICE_RUN || (v->state == SERVICE_READY &&
	    v->rollout.phase == ROLLOUT_ABORTED));
	CHECK(!v->flags.rollback);
	lifecycle_fingerprint(want, v->spec);
	if (v->rollout.phase == ROLLOUT_ABORTED) {
		/* The old set serves; a promote retries the rollout. */
		CHECK(!settled_at(s, want, n));
		v->flags.promote = true;
		drive(s, v, 300);
		CHECK_EQ_INT(v->state, SERVICE_RUN);
		lifecycle_fingerprint(want, v->spec); /* may have rolled back */
	}
	CHECK(settled_at(s, want, n));
	CHECK_EQ_INT(v->rollout.phase, ROLLOUT_NONE);
	CHECK_EQ_INT(v->traffic.mode, TRAFFIC_ALL);
	if (check_failed_in_test)
		fprintf(stderr, "    (seed %u: %s, %d replicas)\n", seed, strategy, n);
	manifest_free(mid);
	sim_free(s);
}

TEST(lifecycle_rollout_converge__random_starting_points)
{
	for (unsigned seed = 1; seed <= CASES && !check_failed_in_test; seed++) {
		rng_state = seed * 0x9e3779b97f4a7c15ULL;
		one_case(seed);
	}
}

CHECK_MAIN(lifecycle_rollout_converge__random_starting_points)
