/*
 * chaos.h - a chaos engine for a running cluster (cluster.h), issue 11.
 *
 * For a bounded time, with a seeded PRNG, it kill -9s in turn a random
 * instance process (its pid from the slave's API, checked to be one of
 * this cluster's by its environment), a random slave (started again after
 * a short random delay on the same name, port and data dir) or the
 * controller (started again likewise), while it applies new versions of
 * the manifest (rolling updates of cattle and pets). A thread per pet
 * samples /proc every 20 ms for copies of it (procs.h).
 *
 *   struct chaos *ch;
 *   chaos_new(&ch, cl, &opts);            seed printed; ORCH_CHAOS_SEED=N
 *   chaos_deploy(ch);                     version 1.0.0, converged
 *   chaos_run(ch);                        the chaos; all restarted at the end
 *   chaos_wait_converged(ch);             ms to converge, -1 if not in time
 *   chaos_orphans(ch), chaos_zombies(ch), chaos_event_problems(ch): 0
 *   chaos_free(ch);
 *
 * Every kill is logged with its time, so that the event log can be
 * checked against it afterwards. Functions return 0 or a negative ORCH_E*
 * with orch_err_last() set unless said otherwise.
 */
#ifndef ORCH_TEST_CHAOS_H
#define ORCH_TEST_CHAOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "cluster.h"

#define CHAOS_MAX_SVCS 4

enum chaos_kind { CHAOS_INSTANCE, CHAOS_SLAVE, CHAOS_CONTROLLER, CHAOS_NKINDS };

struct chaos_service {
	const char *name;
	bool pet;             /* kv with a data dir; else httpapp cattle */
	int replicas;
};

struct chaos_opts {
	struct chaos_service svcs[CHAOS_MAX_SVCS];
	size_t nsvcs;
	int64_t chaos_ms;           /* how long one run of chaos lasts */
	int64_t rollout_first_ms;   /* first new version this long into a run */
	int64_t rollout_every_ms;   /* then one every this long (0: one per run) */
	int64_t gap_min_ms, gap_max_ms;   /* between two kills */
	int64_t down_min_ms, down_max_ms; /* how long a killed daemon stays down */
	int64_t converge_ms;        /* bound for convergence after a run */
	unsigned weight[CHAOS_NKINDS];    /* relative odds of each kind of kill */
};

struct chaos_kill {
	enum chaos_kind kind;
	int64_t at;           /* wall-clock ms just before the signal */
	char id[96];          /* CHAOS_INSTANCE: the instance */
	char service[64];
	char node[64];        /* the instance's node, or the slave killed */
	bool pet;
	pid_t pid;
};

struct chaos {
	struct cluster *cl;
	struct chaos_opts o;
	uint64_t seed;
	uint64_t rng;
	int version;          /* the manifest's version is "V.0.0" */
	bool apply_pending;   /* committed, not yet accepted by the controller */
	int rollouts;         /* applies accepted (the first deploy not counted) */
	int refused;          /* applies answered 4xx: a bug, not chaos */
	int kills[CHAOS_NKINDS];
	struct chaos_kill *log;
	size_t nlog, caplog;
	int64_t down_until[CL_MAX_SLAVES]; /* 0: running */
	int64_t ctl_down_until;
	int pet_most;         /* most copies of any pet at one sample */
	long samples;         /* samples taken by the pet samplers */
	int events_lost;      /* kills whose event died with their slave */
	struct procs_sampler *ss[16]; /* one per pet, from chaos_run() */
	size_t nss;
};

/* Seed from $ORCH_CHAOS_SEED, else from the clock and pid (printed). */
int chaos_new(struct chaos **out, struct cluster *cl, const struct chaos_opts *o);
void chaos_free(struct chaos *ch);
/* The manifest at version V.0.0 (static buffer). */
const char *chaos_manifest(struct chaos *ch, int version);
/* Commit and apply 1.0.0; wait until converged. */
int chaos_deploy(struct chaos *ch);
/* One run of chaos (o.chaos_ms); every daemon runs again at its end and
 * the last version is applied. */
int chaos_run(struct chaos *ch);
/* Whether the cluster matches the manifest exactly (see chaos.c); when
 * not, why into why (may be NULL). */
bool chaos_converged(struct chaos *ch, char *why, size_t len);
/* Poll chaos_converged() up to o.converge_ms: the ms it took, or -1
 * (the last reason printed). Ends the pet samplers chaos_run() started:
 * they watch the chaos and the convergence after it. */
int64_t chaos_wait_converged(struct chaos *ch);
/* Instance processes under the cluster's dir that no slave reports
 * (each printed): the count. */
int chaos_orphans(struct chaos *ch);
/* Zombie children of the slaves, seen twice 500 ms apart: the count. */
int chaos_zombies(struct chaos *ch);
/* The event log against the kills and the final state (chaos_events.c;
 * each problem printed): the count of problems, or -1 when the log
 * cannot be read. A crash loop's summary may come up to a minute after
 * its events: while problems remain the log is read again, for up to
 * 70 s. */
int chaos_event_problems(struct chaos *ch);
/* A string member of a JSON object, "" when absent. */
const char *chaos_jstr(const json_t *o, const char *key);
/* Print the kills, rollouts and samples of the runs so far. */
void chaos_print(struct chaos *ch);

#endif
