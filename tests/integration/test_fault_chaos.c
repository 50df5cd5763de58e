/*
 * test_fault_chaos.c - the chaos part of the fault suite (issue 11),
 * short variant for CI. A real controller, three real slaves, two pets
 * (kv, with their data dirs) and four cattle (httpapp). For 40 s the
 * engine of tests/support/chaos.h kill -9s, about once a second, a random
 * instance process, a random slave (started again 0.2-4 s later: past
 * --node-lost 3s, its cattle are replaced elsewhere and its pets wait)
 * or the controller (started again within 2 s), and meanwhile applies
 * two rolling updates, 1.0.0 -> 2.0.0 -> 3.0.0, of the cattle and the
 * pets. Then, everything running again:
 *
 *   - a thread per pet sampled /proc every 20 ms during the chaos and
 *     the convergence: never two copies of a pet at once;
 *   - within 120 s the cluster is exactly the manifest: both services Run
 *     at 3.0.0, 4 cattle and 2 pets (db-0, db-1), all Run, each slave
 *     reporting what the controller records (same pids), one process per
 *     instance on the host, the last revision succeeded;
 *   - no instance process that no slave reports, no zombie child of a
 *     slave;
 *   - the event log: each instance's events chain (every event starts
 *     from the state the previous one reached), every instance Run at the
 *     end has Run as its last event, every killed instance has an event
 *     of its exit after the kill, then a pet an event back to Run, a
 *     cattle instance its removal and a new instance created after it.
 *
 * The seed is printed; ORCH_CHAOS_SEED=N replays the same choices (the
 * timing of the daemons differs, of course). tests/long/chaos_long.c runs
 * the same engine for minutes; docs/reliability.md has the figures.
 */
#include <signal.h>
#include <stdio.h>

#include "chaos.h"
#include "check.h"
#include "cluster.h"

static struct cluster *cl;

static const struct chaos_opts opts = {
	.svcs = {{"db", true, 2}, {"web", false, 4}},
	.nsvcs = 2,
	.chaos_ms = 40000,
	.rollout_first_ms = 6000,
	.rollout_every_ms = 18000,
	.gap_min_ms = 300,
	.gap_max_ms = 1500,
	.down_min_ms = 200,
	.down_max_ms = 4000,
	.converge_ms = 120000,
	.weight = {[CHAOS_INSTANCE] = 5, [CHAOS_SLAVE] = 2, [CHAOS_CONTROLLER] = 1},
};

TEST(fault_chaos__kills_during_rollouts_end_in_the_manifest)
{
	struct chaos *ch = NULL;
	int64_t took;

	REQUIRE(cluster_start(&cl, 3, NULL) == 0);
	REQUIRE(chaos_new(&ch, cl, &opts) == 0);
	REQUIRE(chaos_deploy(ch) == 0);
	REQUIRE(chaos_run(ch) == 0);
	took = chaos_wait_converged(ch);
	printf("# chaos: converged %lld ms after the chaos stopped\n", (long long)took);
	chaos_print(ch);
	CHECK(took >= 0);
	CHECK_EQ_INT(ch->version, 3);
	CHECK_EQ_INT(ch->rollouts, 2);
	CHECK(ch->kills[CHAOS_INSTANCE] > 0);
	CHECK(ch->kills[CHAOS_SLAVE] > 0);
	CHECK(ch->kills[CHAOS_CONTROLLER] > 0);
	CHECK(ch->samples > 0);
	CHECK_EQ_INT(ch->pet_most, 1);
	CHECK_EQ_INT(chaos_orphans(ch), 0);
	CHECK_EQ_INT(chaos_zombies(ch), 0);
	CHECK_EQ_INT(chaos_event_problems(ch), 0);
	chaos_print(ch);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	chaos_free(ch);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(fault_chaos__kills_during_rollouts_end_in_the_manifest)
