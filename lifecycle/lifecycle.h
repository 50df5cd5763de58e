/*
 * lifecycle.h - the interface of lifecycle/: the pure core of the
 * reconcile loop. Service and instance state machines, the service
 * planner (desired spec + observed instances + time -> actions), the
 * scheduler (which node gets a new instance) and the pet/cattle failure
 * policy.
 *
 * Nothing here does I/O, reads a clock, keeps a global or draws a random
 * number: time is an argument (int64 ms) and every output is a function
 * of the input, so calling lifecycle_plan() twice with the same input
 * gives the same actions. The controller owns all the state; what the
 * planner must remember between passes (pet homes, the id counter, alerts
 * already fired, ...) comes back in struct lifecycle_memo, which the
 * controller stores verbatim and passes in next time.
 *
 * Conventions (common/err.h): functions return 0 or a negative ORCH_E*
 * code with a message in orch_err_last(). What comes back through an out
 * pointer belongs to the caller and has a _free() that accepts NULL;
 * everything passed in is lent for the duration of the call.
 *
 * Files:  state.c (state names, transition tables, setters)
 *         place.c (scheduler)  policy.c (pet/cattle failure policy)
 *         plan.c (the service planner: judging, state, destroy,
 *         teardown order)  plan_cattle.c  plan_pet.c (the planners of
 *         each kind; plan_cattle.c is also the rolling strategy)
 *         rollout.c (what every strategy shares: failure, abort, promote,
 *         progress)  rollout_recreate.c  rollout_bluegreen.c
 *         rollout_canary.c (the strategies)  memo.c (actions, plan and
 *         memo, fingerprint)  crash.c (readiness, crash-loop backoff and
 *         the restart budget of cattle)
 */
#ifndef ORCH_LIFECYCLE_H
#define ORCH_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "proto.h"

#define LIFECYCLE_ID_MAX     160 /* instance ids: NAME-suffix */
#define LIFECYCLE_NODE_MAX   129 /* PROTO_MAX_NAME + NUL */
#define LIFECYCLE_REASON_MAX 512
#define LIFECYCLE_FP_LEN     17  /* 16 hex digits + NUL */

/* ---- states (state.c) ------------------------------------------------ */

/* The public service states of design.md, exactly these words. */
enum service_state {
	SERVICE_PROVISION = 0, /* first deploy in progress */
	SERVICE_READY,         /* instances started, not all healthy yet */
	SERVICE_RUN,           /* desired count healthy */
	SERVICE_UPDATE,        /* rollout in progress */
	SERVICE_ROLLBACK,      /* reverting to the previous version */
	SERVICE_SCALE,         /* changing instance count (see scale_detail) */
	SERVICE_DESTROY,       /* being removed */
	SERVICE_FAILED,        /* cannot converge without a person */
	SERVICE__LAST
};

/* Detail shown next to SERVICE_SCALE ("Scale-out", "Scale-in"). */
enum scale_detail {
	SCALE_NONE = 0,
	SCALE_OUT,
	SCALE_IN,
	SCALE__LAST
};

enum node_state {
	NODE_READY = 0, /* heartbeats arrive: placements allowed */
	NODE_SUSPECT,   /* heartbeats late: keep what runs, place nothing */
	NODE_LOST,      /* heartbeats gone: cattle rescheduled, pets wait */
	NODE_DRAINING,  /* `orchctl drain`: cattle moved away, no placements */
	NODE__LAST
};

const char *lifecycle_service_state_name(enum service_state s); /* "Run" */
int lifecycle_service_state_parse(const char *word);  /* -1 if unknown */
const char *lifecycle_scale_detail_name(enum scale_detail d); /* "Scale-out", "" */
const char *lifecycle_node_state_name(enum node_state s);     /* "Lost" */
int lifecycle_node_state_parse(const char *word);     /* -1 if unknown */
/* Instance state words are proto_state_name()'s (common/proto.h). */

/* Whether the table allows from -> to (a no-op from == to is allowed). */
bool lifecycle_service_move_ok(enum service_state from, enum service_state to);
bool lifecycle_instance_move_ok(enum instance_state from, enum instance_state to);

/* One state change, as the controller stores and streams it (with time,
 * service, instance and revision added by the controller). from/to are
 * enum service_state or enum instance_state values. */
struct lifecycle_event {
	int from;
	int to;
	char cause[LIFECYCLE_REASON_MAX];
};

/*
 * The one setter of a service's state (curl's mstate()): moves *state to
 * `to` and fills *out (may be NULL) with {from, to, cause}. Returns 1 when
 * the state changed, 0 for a no-op (to == *state: nothing recorded, *out
 * untouched), ORCH_EINVALID when the table forbids the move (*state kept,
 * message "service: Run -> Provision not allowed"). cause may be NULL.
 */
int lifecycle_service_set(struct lifecycle_event *out, enum service_state *state,
    enum service_state to, const char *cause);
/* The same for an instance, with the instance table. */
int lifecycle_instance_set(struct lifecycle_event *out, enum instance_state *state,
    enum instance_state to, const char *cause);

/* ---- inputs ---------------------------------------------------------- */

/*
 * A node as the scheduler sees it. cpu/memory are its capacity (0: not
 * declared, no limit); used_* the resources of every live (not Destroy,
 * not Failed) instance of every service placed there, including the
 * instances a start action has been issued for. The controller charges
 * the starts of one service's plan before planning the next service.
 */
struct lifecycle_node {
	const char *name;
	enum node_state state;
	double cpu;
	uint64_t memory;
	double used_cpu;
	uint64_t used_memory;
};

/*
 * One observed instance of the service. The controller records an
 * instance (state Provision) as soon as it issues its start, and sets
 * Destroy when it issues a stop, so the planner sees its own commands and
 * never repeats them. The state of the instance's node is looked up in
 * the node list; a node missing from it counts as Lost.
 */
struct lifecycle_instance {
	const char *id;
	const char *node;
	const char *fingerprint;  /* lifecycle_fingerprint() of its spec */
	const char *version;      /* for reasons only; may be NULL */
	enum instance_state state;
	enum health_state health;
	int restarts;
	int64_t started_at;       /* ms; 0 when not started */
	int64_t ready_at;         /* ms it last became Run with its check
	                             passing (strategy.min_ready counts from
	                             here); 0: unknown, started_at is used */
	/* Why it failed, for the service's reason when it keeps failing:
	 * "killed by signal N" when exit_signal > 0, else "exit status N"
	 * when exit_code >= 0, else reason (the slave's words, e.g.
	 * "artifact: checksum mismatch ..."). */
	int exit_code;            /* -1: none recorded */
	int exit_signal;          /* 0: none recorded */
	const char *reason;       /* may be NULL */
};

/* A depended-on service (depends_on) and its current state. */
struct lifecycle_dep {
	const char *service;
	enum service_state state;
};

/* A pet's home: the node its ordinal lives on for life. */
struct lifecycle_pet_home {
	int ordinal;
	char node[LIFECYCLE_NODE_MAX];
};

/*
 * A crash loop of cattle (crash.c, docs/lifecycle.md, Crash loops): the
 * failures of instances of one spec, their backoff and restart budget.
 * Everything is about the spec `fp`; a changed desired spec starts afresh.
 */
struct lifecycle_crash {
	char fp[LIFECYCLE_FP_LEN]; /* the spec these failures are of: its
	                            fingerprint with its health, min_ready
	                            and restart (crash.c) */
	int count;               /* failures in the budget window */
	int64_t window_at;       /* ms the window began (its first failure) */
	int streak;              /* failures with no stable period between:
	                            the exponent of the backoff */
	int64_t last_at;         /* ms of the last failure; 0: none */
	int64_t until;           /* ms before which no replacement starts */
	bool failed;             /* the budget is spent: Failed while fp is
	                            desired */
	char why[256];           /* the last failure's cause ("exit status 1") */
};

/*
 * What the planner remembers between passes. Start with a zeroed memo for
 * a new service; afterwards store plan->memo and pass it back unchanged.
 */
struct lifecycle_memo {
	int settled;             /* instance count the service last had in
	                            Run; 0: never Run (first deploy) */
	uint64_t next_id;        /* cattle id counter: never reused */
	int64_t rollout_since;   /* ms when the current rollout began; 0 none */
	char rollout_fp[LIFECYCLE_FP_LEN]; /* the spec it moves to: a new
	                            apply starts a new rollout (and clock) */
	struct lifecycle_pet_home *pets; /* pet homes, by ordinal */
	size_t npets;
	char **alerts;           /* keys of alerts fired and still true */
	size_t nalerts;
	/* Rollout progress (rollout*.c), so that a restarted controller goes
	 * on from the step it was at. All reset when rollout_fp changes. */
	int rollout_step;        /* canary: index of the current step;
	                            blue-green: 0 starting the new set, 1 new
	                            set Run, 2 switched */
	int64_t rollout_step_at; /* ms the current step's instances were all
	                            available (its pause counts from here);
	                            0: not yet */
	bool rollout_promoted;   /* `promote` taken for the current step */
	int64_t rollout_switched_at; /* blue-green: ms traffic switched to the
	                            new set; 0: not yet */
	char rollout_stable_fp[LIFECYCLE_FP_LEN]; /* the spec serving when the
	                            rollout began (blue-green's active set until
	                            the switch) */
	char rollout_failed_fp[LIFECYCLE_FP_LEN]; /* the rollout to this spec
	                            failed: no step forward while it is desired */
	char rollout_failed_why[256]; /* why, for the reason while it holds */
	char rollout_aborted_fp[LIFECYCLE_FP_LEN]; /* `abort`ed: the old spec
	                            runs while this one is desired */
	struct lifecycle_crash crash; /* failures, backoff, restart budget */
};

/*
 * Service-level flags set by the CLI/API (docs/lifecycle.md, Strategies).
 * promote and abort are requests: the controller sets them and clears
 * them when the plan says it took them (rollout.promote_taken,
 * rollout.abort_taken); keeping one set a little longer is harmless, the
 * memo remembers what was done.
 */
struct lifecycle_flags {
	int scale;     /* `orchctl scale` target, when scale_set (0 included) */
	bool scale_set; /* false: the manifest's replicas (a scale > 0 without it
	                   is taken too, for callers from before scale_set) */
	bool paused;   /* `orchctl pause`: a rollout takes no new step */
	bool rollback; /* the desired spec reverts to an earlier version; set by
	                  the controller on `orchctl rollback` and when a plan
	                  asks for it (rollout.rollback_requested); cleared once
	                  the service is Run */
	bool promote;  /* `orchctl promote`: end the current pause now, switch
	                  a blue-green rollout; after an abort, retry */
	bool abort;    /* `orchctl abort`: canary/blue-green back to the old
	                  set at once; rolling/recreate: roll back */
};

struct lifecycle_input {
	const char *service;             /* name (also when spec is NULL) */
	const struct service_spec *spec; /* desired; NULL: being destroyed */
	const struct service_spec *prev; /* previous revision's; may be NULL
	                                    (names the change in reasons) */
	enum service_state state;        /* current (stored) state */
	const struct lifecycle_instance *instances;
	size_t ninstances;
	const struct lifecycle_node *nodes;
	size_t nnodes;
	/* spec != NULL: the services it depends on. spec == NULL: the removed
	 * services that depend on this one and still have instances; it is
	 * destroyed only after them (reverse dependency order). */
	const struct lifecycle_dep *deps;
	size_t ndeps;
	struct lifecycle_flags flags;
	const struct lifecycle_memo *memo; /* NULL: zeroed */
	int64_t now;                     /* ms; one clock across passes and
	                                    controller restarts (the memo keeps
	                                    rollout_since): wall time suits */
};

/* ---- outputs --------------------------------------------------------- */

enum lifecycle_action_type {
	LIFECYCLE_START = 0, /* start instance id on node with spec */
	LIFECYCLE_STOP,      /* stop instance id (record -> Destroy) */
	LIFECYCLE_MARK_FAILED, /* set instance id's record to Failed */
	LIFECYCLE_ALERT,     /* fire the webhook once with reason */
	LIFECYCLE_SET_STATE, /* move the service to state (lifecycle_service_set) */
	LIFECYCLE__LAST
};

struct lifecycle_action {
	enum lifecycle_action_type type;
	char id[LIFECYCLE_ID_MAX];      /* START, STOP, MARK_FAILED */
	char node[LIFECYCLE_NODE_MAX];  /* START; STOP, MARK_FAILED: its node;
	                                   ALERT: the node concerned, or "" */
	char fingerprint[LIFECYCLE_FP_LEN]; /* START */
	const struct service_spec *spec; /* START: the desired spec (lent
	                                    from the input) */
	int ordinal;                     /* START of a pet: N of NAME-N; else -1 */
	enum service_state state;        /* SET_STATE */
	enum scale_detail detail;        /* SET_STATE */
	char key[64];                    /* ALERT: what it is about */
	char reason[LIFECYCLE_REASON_MAX]; /* why (every type) */
};

/*
 * Where the requests go (the controller turns this into HAProxy server
 * weights). TRAFFIC_ALL: every Run instance serves, equally (no rollout,
 * rolling, recreate). TRAFFIC_SPLIT (canary): new_weight % to the Run
 * instances with fingerprint new_fp, the rest to every other Run
 * instance. TRAFFIC_ACTIVE (blue-green): only the Run instances with
 * fingerprint active_fp serve; a switch is one change of active_fp, so
 * the two sets never serve together.
 */
enum lifecycle_traffic_mode {
	TRAFFIC_ALL = 0,
	TRAFFIC_SPLIT,
	TRAFFIC_ACTIVE,
	TRAFFIC__LAST
};

struct lifecycle_traffic {
	enum lifecycle_traffic_mode mode;
	char new_fp[LIFECYCLE_FP_LEN];    /* SPLIT */
	int new_weight;                   /* SPLIT: 0..100 */
	char active_fp[LIFECYCLE_FP_LEN]; /* ACTIVE */
};

/* What a rollout is doing now, for status and `apply --wait`. */
enum lifecycle_rollout_phase {
	ROLLOUT_NONE = 0,     /* no rollout */
	ROLLOUT_PROGRESS,     /* taking steps */
	ROLLOUT_PAUSED,       /* flags.paused */
	ROLLOUT_WAITING,      /* a timed pause (canary step, blue-green
	                         auto_promote, scale_down_delay): wait_until */
	ROLLOUT_WAIT_PROMOTE, /* waiting for `orchctl promote` */
	ROLLOUT_ABORTED,      /* aborted: the old spec runs */
	ROLLOUT_FAILED,       /* failed: rolling back or Failed (reason) */
	ROLLOUT__LAST
};

struct lifecycle_rollout_status {
	enum strategy_type strategy;
	enum lifecycle_rollout_phase phase;
	int step;          /* 1-based current step; 0 without a rollout */
	int steps;         /* rolling: replicas; recreate: 2 (stop, start);
	                      blue-green: 3 (start, switch, scale down);
	                      canary: the steps the manifest declares (the
	                      full set after them is `full`, step == steps) */
	bool full;         /* canary: its steps are done, the full new set
	                      comes up and takes all the traffic */
	int nold;          /* live instances of another spec */
	int nnew;          /* live instances of the desired spec */
	int weight;        /* % of traffic to the desired spec */
	bool waiting_promote;
	int64_t wait_until; /* ROLLOUT_WAITING: ms when the wait ends */
	bool promote_taken; /* flags.promote was used (or nothing to promote):
	                       clear it */
	bool abort_taken;   /* flags.abort was used: clear it */
	/* The rollout failed and auto_rollback is on: set desired = prev,
	 * flags.rollback, and plan again (plan->reason says why). */
	bool rollback_requested;
};

struct lifecycle_plan {
	struct lifecycle_action *actions; /* in the order to apply them */
	size_t nactions;
	size_t cap;
	enum service_state state;         /* derived public state */
	enum scale_detail detail;
	char reason[LIFECYCLE_REASON_MAX]; /* "" when nothing to say */
	int desired;                      /* target instance count */
	int ready;                        /* instances ready (Run, and their check
	                                     passed or up for min_ready: crash.c)
	                                     with the desired spec */
	bool done;                        /* destroy finished: drop the service */
	bool crashloop;                   /* instances keep failing (a failure
	                                     streak of 2 or more, or Failed by
	                                     the budget): their events may be
	                                     coalesced */
	struct lifecycle_memo memo;       /* store and pass back next time */
	struct lifecycle_traffic traffic; /* where requests go now */
	struct lifecycle_rollout_status rollout;
	int64_t wake_at;                  /* the earliest time (in->now's clock)
	                                     at which time alone changes this
	                                     plan: a timed wait ends, a new
	                                     instance has served min_ready, the
	                                     progress deadline passes, a crash
	                                     loop's backoff ends; 0: none.
	                                     Plan again then, not a resync later */
};

const char *lifecycle_action_name(enum lifecycle_action_type t); /* "start" */
const char *lifecycle_rollout_phase_name(enum lifecycle_rollout_phase ph); /* "waiting for promote" */
const char *lifecycle_traffic_mode_name(enum lifecycle_traffic_mode m); /* "split" */
void lifecycle_plan_free(struct lifecycle_plan *p);
void lifecycle_memo_clear(struct lifecycle_memo *m); /* frees contents */
/* Deep copy (dst is overwritten, not freed). ORCH_ERROR on ENOMEM. */
int lifecycle_memo_copy(struct lifecycle_memo *dst, const struct lifecycle_memo *src);
/* One line per action ("start web-k3f9a on node-a (1.2.0)"), for logs,
 * `apply --dry-run` and tests. Caller frees. */
char *lifecycle_plan_format(const struct lifecycle_plan *p);

/* ---- the planner (plan.c) -------------------------------------------- */

/*
 * Plan the next step of one service. Level-triggered: the actions bring
 * the observed instances one step closer to the desired spec, whatever
 * the starting point (nothing, extra or unknown instances, missing ones,
 * old versions, failed ones, lost or draining nodes), and an unchanged
 * input gives the same actions again. The rules (docs/lifecycle.md):
 * dependents start after their dependencies are Run; an update follows
 * the service's strategy (rolling with max_surge/max_unavailable/
 * min_ready, recreate, blue-green, canary; pets in place: rolling one at
 * a time or recreate, same ids and nodes) and fills plan->traffic and
 * plan->rollout; failed or lost cattle are replaced under a new id
 * elsewhere (cattle that keep failing with a backoff, and past the
 * restart budget not at all: Failed, crash.c); an instance counts as
 * ready once its check passed or it is up for min_ready; a pet only ever
 * runs on its home node, never twice, and a
 * pet Failed past its restart limit makes the service Failed with an
 * alert.
 *
 * The rollback contract: when a rollout fails (a new instance Failed,
 * unhealthy or over its restart limit, or progress_deadline missed) and
 * auto_rollback is on and in->prev is a different spec, the plan is
 * Rollback with rollout.rollback_requested and a "rollback" alert; the
 * controller then passes prev as the desired spec (and the failed one as
 * prev) with flags.rollback set, the planner converges to it with the
 * same strategy's rules, and once the plan is Run the controller clears
 * flags.rollback. Otherwise the service is Failed with the reason.
 * *out is the caller's (lifecycle_plan_free). ORCH_EINVALID on bad input.
 */
int lifecycle_plan(struct lifecycle_plan **out, const struct lifecycle_input *in);

/* Check `orchctl scale SERVICE n`: 0, or ORCH_EINVALID with a message
 * ("web: cannot scale to 12: outside min..max 2..10"). */
int lifecycle_scale_check(const struct service_spec *spec, int n);

/*
 * Teardown order of the services of `from` that `to` no longer has (all of
 * them when to is NULL): *out is a malloc'd array of *out_n indexes into
 * from->services, every service before the services it depends on
 * (manifest_start_order read backwards).
 */
int lifecycle_teardown_order(size_t **out, size_t *out_n,
    const struct manifest *from, const struct manifest *to);

/*
 * Fingerprint of the fields that change what runs (DIFF_ROLLOUT_FIELDS:
 * version, command, env, artifact, resources, limits, workdir, user,
 * ports, kind): 16 hex digits. Instances whose fingerprint differs from
 * the desired spec's are updated.
 */
void lifecycle_fingerprint(char out[LIFECYCLE_FP_LEN], const struct service_spec *spec);

/* ---- the scheduler (place.c) ----------------------------------------- */

struct lifecycle_place_req {
	const struct service_spec *spec;
	/* this service's live instances' nodes, for spreading */
	const char *const *peers;
	size_t npeers;
	/* nodes to use only when nothing else fits (where one just failed) */
	const char *const *avoid;
	size_t navoid;
	/* optional, instead of peers: counts[i] is the number of this
	 * service's instances on nodes[i] (the same for nodes of one name),
	 * so that placing many instances costs no walk of peers each time;
	 * NULL: peers is counted */
	const size_t *counts;
};

/*
 * Pick a node for one new instance: Ready nodes (not Suspect, Lost or
 * Draining) allowed by spec->nodes with enough free cpu and memory; among
 * them fewest instances of this service, then most free cpu, then most
 * free memory, then name. *out is an index into nodes. When nothing fits
 * returns ORCH_ENOTFOUND and writes why into why ("no node fits: node-a
 * lacks 0.5 cpu, node-b not in nodes:").
 */
int lifecycle_place(size_t *out, char *why, size_t whylen,
    const struct lifecycle_node *nodes, size_t nnodes,
    const struct lifecycle_place_req *req);

/*
 * Whether a Suspect node would take an instance of spec if it were Ready
 * again: when nothing fits only because such a node is Suspect (missed
 * heartbeats, or a controller just restarted and not yet heard from it),
 * a start waits for it instead of failing the service. The node turns
 * Ready, or Lost after --node-lost, and then nothing fits for real.
 */
bool lifecycle_place_suspect_fits(const struct lifecycle_node *nodes, size_t nnodes,
    const struct service_spec *spec);

#endif
