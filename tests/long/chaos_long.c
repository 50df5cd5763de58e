/*
 * chaos_long.c - the long chaos run of issue 11 (not in CTest; run by
 * scripts/chaos-long [MINUTES]).
 *
 * The engine of tests/support/chaos.h on a larger cluster: a controller,
 * four slaves, three pets (kv) and twelve cattle of two services
 * (httpapp), for MINUTES of chaos (argument, else $ORCH_CHAOS_MINUTES,
 * else 10) in rounds of two minutes. In each round: kill -9 about once a
 * second of an instance, a slave or the controller, a new version
 * applied 20 s in and then every 45 s (a rolling update of every
 * service); then, everything running again, the time until the cluster
 * is exactly the manifest (bound: 5 minutes), the orphans and the
 * zombies. At the end the event log is checked against every kill, and a
 * table is printed. Exit 0 only when every invariant held: never two
 * copies of a pet, every round converged, no orphan, no zombie, no
 * problem in the event log.
 *
 *   ORCH_BUILD_DIR=build build/tests/long/chaos_long 10
 *   ORCH_CHAOS_SEED=N replays a run's choices.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos.h"
#include "check.h"
#include "cluster.h"
#include "err.h"
#include "units.h"

#define ROUND_MS (120 * 1000)
#define MAX_ROUNDS 1000

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

struct totals {
	int64_t converge[MAX_ROUNDS];
	int rounds, unconverged, orphans, zombies, lost;
};

/* Instances missing from the manifest's count at the end of a round. */
static int
missing(struct chaos *ch)
{
	int n = 0;

	for (size_t k = 0; k < ch->o.nsvcs; k++) {
		int run = cluster_count(ch->cl, ch->o.svcs[k].name, "Run");

		if (run < ch->o.svcs[k].replicas)
			n += ch->o.svcs[k].replicas - (run < 0 ? 0 : run);
	}
	return n;
}

static void
print_table(struct chaos *ch, struct totals *t, int64_t chaos_ms, int events)
{
	int64_t sorted[MAX_ROUNDS];
	int ok = t->rounds - t->unconverged;

	memcpy(sorted, t->converge, sizeof(int64_t) * (size_t)t->rounds);
	qsort(sorted, (size_t)t->rounds, sizeof(int64_t), cmp_i64);
	printf("\n| figure | value |\n| --- | --- |\n");
	printf("| seed | %llu |\n", (unsigned long long)ch->seed);
	printf("| chaos duration | %lld s in %d rounds |\n", (long long)(chaos_ms / 1000),
	    t->rounds);
	printf("| cluster | 1 controller, %zu slaves, %d pets, %d cattle |\n",
	    ch->cl->nslaves, ch->o.svcs[0].replicas,
	    ch->o.svcs[1].replicas + ch->o.svcs[2].replicas);
	printf("| kills: instance / slave / controller | %d / %d / %d |\n",
	    ch->kills[CHAOS_INSTANCE], ch->kills[CHAOS_SLAVE], ch->kills[CHAOS_CONTROLLER]);
	printf("| rollouts applied | %d (last version %d.0.0) |\n", ch->rollouts, ch->version);
	printf("| max copies of any pet at one sample | %d (%ld samples) |\n", ch->pet_most,
	    ch->samples);
	printf("| lost instances (missing at a round's end) | %d |\n", t->lost);
	printf("| rounds not converged in 5 min | %d |\n", t->unconverged);
	if (ok > 0)
		printf("| time to converge after chaos stopped: median / max | %.1f s / %.1f s |\n",
		    (double)sorted[t->unconverged + ok / 2] / 1000.0,
		    (double)sorted[t->rounds - 1] / 1000.0);
	printf("| orphan processes | %d |\n", t->orphans);
	printf("| zombie children of slaves | %d |\n", t->zombies);
	printf("| event log problems | %d |\n", events);
	printf("| kill events lost with their slave | %d |\n", ch->events_lost);
}

static int
run(struct chaos *ch, int64_t total_ms)
{
	static struct totals t;
	int64_t done = 0;
	int events;

	while (done < total_ms && t.rounds < MAX_ROUNDS) {
		int64_t took;

		ch->o.chaos_ms = total_ms - done < ROUND_MS ? total_ms - done : ROUND_MS;
		if (chaos_run(ch) < 0) {
			printf("# chaos: round %d: %s\n", t.rounds + 1, orch_err_last());
			return 1;
		}
		done += ch->o.chaos_ms;
		took = chaos_wait_converged(ch);
		t.converge[t.rounds++] = took;
		if (took < 0) {
			t.unconverged++;
			t.lost += missing(ch);
		}
		t.orphans += chaos_orphans(ch);
		t.zombies += chaos_zombies(ch);
		printf("# chaos: round %d: %lld s of chaos, converged in %lld ms\n", t.rounds,
		    (long long)(ch->o.chaos_ms / 1000), (long long)took);
		chaos_print(ch);
		fflush(stdout);
	}
	events = chaos_event_problems(ch);
	print_table(ch, &t, done, events);
	return ch->pet_most == 1 && t.unconverged == 0 && t.orphans == 0 && t.zombies == 0 &&
	    events == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *env = getenv("ORCH_CHAOS_MINUTES");
	double minutes = argc > 1 ? atof(argv[1]) : env ? atof(env) : 10;
	struct chaos_opts o = {
		.svcs = {{"db", true, 3}, {"web", false, 8}, {"api", false, 4}},
		.nsvcs = 3,
		.rollout_first_ms = 20000,
		.rollout_every_ms = 45000,
		.gap_min_ms = 300,
		.gap_max_ms = 1500,
		.down_min_ms = 200,
		.down_max_ms = 5000,
		.converge_ms = 300000,
		.weight = {[CHAOS_INSTANCE] = 5, [CHAOS_SLAVE] = 2, [CHAOS_CONTROLLER] = 1},
	};
	struct cluster *cl;
	struct chaos *ch;
	int rc;

	if (minutes <= 0) {
		fprintf(stderr, "usage: chaos_long [MINUTES]\n");
		return 2;
	}
	if (cluster_start(&cl, 4, NULL) < 0 || chaos_new(&ch, cl, &o) < 0 ||
	    chaos_deploy(ch) < 0) {
		printf("# chaos: setup: %s\n", orch_err_last());
		return 1;
	}
	rc = run(ch, (int64_t)(minutes * 60000));
	if (rc != 0)
		check_failed_total++; /* cluster_free() then prints the logs' tails */
	chaos_free(ch);
	cluster_free(cl);
	printf("# chaos_long: %s\n", rc == 0 ? "every invariant held" : "FAILED");
	return rc;
}
