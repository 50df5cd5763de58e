/*
 * internal.h - private to lifecycle/: helpers shared by its files.
 */
#ifndef ORCH_LIFECYCLE_INTERNAL_H
#define ORCH_LIFECYCLE_INTERNAL_H

#include "lifecycle.h"

/* memo.c */
/* Append a copy of *a; ORCH_ERROR on ENOMEM. */
int plan_push(struct lifecycle_plan *p, const struct lifecycle_action *a);
/* Append an alert key to m (copied); ORCH_ERROR on ENOMEM. */
int memo_add_alert(struct lifecycle_memo *m, const char *key);
bool memo_has_alert(const struct lifecycle_memo *m, const char *key);
/* Time alone changes the plan at `at`: keep the earliest such time in
 * p->wake_at (at <= 0: nothing). */
void plan_wake(struct lifecycle_plan *p, int64_t at);
/* Home of ordinal, or NULL. */
const char *memo_pet_home(const struct lifecycle_memo *m, int ordinal);
int memo_set_pet_home(struct lifecycle_memo *m, int ordinal, const char *node);

/* policy.c */
/* What the failure policy says about one observed instance. */
enum verdict {
	VERDICT_LIVE = 0,    /* counts: running or on its way */
	VERDICT_DYING,       /* Destroy: a stop is under way, wait */
	VERDICT_REPLACE,     /* cattle Failed: stop it, start a new one elsewhere */
	VERDICT_LOST,        /* cattle on a Lost node: mark Failed, stop, replace */
	VERDICT_PET_HOLD,    /* pet on a Lost node: never started elsewhere */
	VERDICT_PET_FAILED,  /* pet Failed past its restart limit: a person decides */
	VERDICT__LAST
};
/* Judge inst of a service of kind k whose node is in state ns. why gets a
 * human reason for every verdict but LIVE and DYING. */
enum verdict policy_judge(char *why, size_t whylen,
    const struct lifecycle_instance *inst, enum orch_kind k, enum node_state ns);
/* Node state of name in nodes (NODE_LOST when it is not there). */
enum node_state policy_node_state(const struct lifecycle_node *nodes,
    size_t nnodes, const char *name);

/* plan.c: one pass of the planner over one service, shared by the
 * planners of each kind (plan_cattle.c, plan_pet.c) and, with issue #5,
 * of each rollout strategy. */
enum prio {
	PRIO_NONE = 0,
	PRIO_PROGRESS, /* "updating web-x to 1.3.0" */
	PRIO_STUCK,    /* a step cannot be taken right now */
	PRIO_HOLD,     /* a pet waits for its node */
	PRIO_DEPS,     /* waiting for a dependency */
	PRIO_FAILED,   /* the service is Failed */
};

/* One live instance as the reconcilers see it. */
struct live {
	const struct lifecycle_instance *inst;
	enum node_state ns;
	int ordinal;  /* pets; -1 for cattle */
	bool stale;   /* to be replaced: old spec, or cattle on a Draining node */
	bool old;     /* old spec (a rollout step), not just a move */
	bool run;     /* serving: Run and not failing its check */
	bool stopped; /* stopped during this pass */
	size_t crowd; /* cattle_trim: live instances on its node */
	size_t at;    /* cattle_trim: its index in pctx.live */
};

struct pctx {
	const struct lifecycle_input *in;
	const struct service_spec *spec;
	struct lifecycle_plan *p;
	char fp[LIFECYCLE_FP_LEN];
	int target;
	bool first;         /* first deploy: the service was never Run */
	bool deps_ok;
	char deps_why[LIFECYCLE_REASON_MAX];
	struct lifecycle_node *nodes; /* copy, charged as instances are placed */
	/* Instances of this service per node, for spreading (plan.c
	 * node_counts()), built at the first placement: byname sorts node
	 * indexes by name; canon[i] is the first index of nodes[i]'s name;
	 * live_at[i] the canon of live[i]'s node (SIZE_MAX: not a node),
	 * known for the first nlive_at; placed[k] the instances this pass
	 * placed on canon k; counts the scratch lent to the scheduler. */
	bool indexed;
	size_t *byname, *canon, *live_at, *placed, *counts;
	size_t nlive_at;
	const char **avoid; /* nodes where an instance just failed */
	size_t navoid;
	char **newids;      /* ids generated in this pass */
	size_t nnewids;
	/* plan.c: every instance id and new id (lent), open addressing,
	 * built at the first new id; NULL: walk the lists instead */
	const char **idset;
	size_t idcap, nidset;
	struct live *live;
	size_t nlive;
	/* what was seen */
	int nold;           /* live instances with an old spec */
	int pending;        /* instances of the new spec not Run yet */
	int stopping;       /* stops issued in this pass */
	char change[160];   /* "1.0.0 -> 1.1.0", for reasons */
	bool failed;
	bool rollout;       /* a rollout is in progress (Update/Rollback) */
	bool rollout_expired;
	int prio;
	int err;            /* first allocation failure */
	/* rollout.c: what every strategy shares, set by rollout_prepare() */
	int surge;          /* rolling: instances over target allowed */
	int unavail;        /* rolling: instances under target allowed */
	bool aborted;       /* the rollout to fp was aborted: old spec runs */
	bool ro_failed;     /* the rollout to fp failed */
	bool ro_requested;  /* ... and a rollback is requested */
	bool promote;       /* a promote is there for the current step */
	const struct service_spec *prev; /* spec to refill old instances from,
	                                    when it differs from spec */
	char prev_fp[LIFECYCLE_FP_LEN];
	int started_new;    /* starts of the desired spec in this pass */
	int started_old;    /* starts of the previous spec in this pass */
};

/* Keep the most important reason: a higher prio replaces a lower one. */
void pl_reason(struct pctx *c, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pl_push(struct pctx *c, const struct lifecycle_action *a);
/* Stop / mark Failed one observed instance, saying why. */
void pl_stop(struct pctx *c, const struct lifecycle_instance *inst, const char *why);
void pl_mark_failed(struct pctx *c, const struct lifecycle_instance *inst,
    const char *why);
/* Fire the alert key once while its condition stays true; node may be
 * NULL. */
void pl_alert(struct pctx *c, const char *key, const char *node,
    const char *msg);
/* Append a lent name to a growing array (allocation failure: c->err). */
void pl_add_name(struct pctx *c, const char ***v, size_t *n, const char *name);
/* Run and not failing its health check. */
bool pl_serving(const struct lifecycle_instance *inst);
/* The state of the node named name (Lost when not in the input), by the
 * plan's name index: per instance, so not a scan of every node. */
enum node_state pl_node_state(struct pctx *c, const char *name);
/* Start one instance of the desired spec: a pet (ordinal >= 0) on its home
 * when home is given, else wherever the scheduler says. 0, or
 * ORCH_ENOTFOUND with the scheduler's reason in why. */
int pl_start(struct pctx *c, int ordinal, const char *home, const char *what,
    char *why, size_t whylen);
/* A start the service needs to reach its count: when nothing fits, the
 * service is Failed. Returns whether it started. */
bool pl_start_needed(struct pctx *c, int ordinal, const char *what);

/* crash.c: readiness and crash loops (docs/lifecycle.md) */
/* Counts as ready: serving, and its check passed or up for min_ready. */
bool pl_ready(const struct pctx *c, const struct lifecycle_instance *inst);
/* Before the planner: a new spec starts afresh, a stable window forgives. */
void crash_prepare(struct pctx *c);
/* An instance of the desired spec failed (cattle, replaced): count it,
 * back off, spend the budget. */
void crash_note(struct pctx *c, const struct lifecycle_instance *inst);
/* Whether starts of the desired spec must wait (backoff, or the budget is
 * spent); says why. */
bool crash_hold(struct pctx *c, char *why, size_t len);
/* The backoff before the next start after `streak` failures in a row. */
int64_t crash_backoff(const struct service_spec *s, const char *service,
    int streak);
/* After the planner: Failed when the budget is spent, plan->crashloop. */
void crash_finish(struct pctx *c);
/* After the planner: plan->wake_at for the service's min_ready and the
 * backoff (ro_available wakes for the rolling strategy's min_ready). */
void crash_wake(struct pctx *c);

/* plan_cattle.c, plan_pet.c */
/* The rolling strategy of cattle (and the planner when nothing rolls). */
void plan_cattle(struct pctx *c);
void plan_pets(struct pctx *c);
/* Judge every observed instance into c->live (failed and lost ones are
 * stopped for replacement), then stop stale instances that serve
 * nothing. */
void cattle_judge(struct pctx *c);
/* qsort_r order of stop victims, least harm first; each one's crowd set
 * (cattle_trim does). arg is unused. */
int cattle_victim_cmp(const void *pa, const void *pb, void *arg);
/* Stop live instances that match `pick` (NULL: any), least harm first,
 * while more than keep are live (keep < 0: all that match); a serving one
 * only while at least `floor` others still serve. Returns stops issued. */
int cattle_trim(struct pctx *c, int keep, int floor,
    bool (*pick)(const struct pctx *, const struct live *));
/* Live, not stopped instances: all, new (desired spec, not stale),
 * stale, and serving among them. */
struct cattle_count {
	int live, new, stale, old, serving, new_serving, new_avail, pending;
};
void cattle_count(struct pctx *c, struct cattle_count *out);
/* Predicates for cattle_trim over a rollout's sets, by spec: new (the
 * desired spec), old (any other), stable (the spec the rollout started
 * from), between (old, and not stable: superseded mid-rollout). */
bool cattle_pick_new(const struct pctx *c, const struct live *l);
bool cattle_pick_old(const struct pctx *c, const struct live *l);
bool cattle_pick_stable(const struct pctx *c, const struct live *l);
bool cattle_pick_between(const struct pctx *c, const struct live *l);

/* rollout.c */
/* Before the planner: strategy numbers, memo of a new rollout, abort,
 * promote, failure of the rollout (auto_rollback or Failed). */
void rollout_prepare(struct pctx *c);
/* After the planner: counts and phase for status, default traffic. */
void rollout_finish(struct pctx *c);
/* A rollout in progress failed for why (the crash budget of its new
 * cattle is spent): roll back or stop, as for any failure. false when no
 * rollout is in progress (or it failed already). */
bool ro_fail(struct pctx *c, const char *why);
/* Whether the rollout may take no step now (failed, aborted, paused,
 * waiting for a dependency); says why. */
bool ro_hold(struct pctx *c);
/* A wait of ms from since (-1: until promote) that a promote or a
 * rollback ends early: true when over, else says what it waits for. */
bool ro_wait(struct pctx *c, int64_t since, int64_t ms, const char *what);
/* A new instance available: ready (pl_ready), then for the rolling
 * strategy's min_ready. */
bool ro_available(const struct pctx *c, const struct lifecycle_instance *inst);
/* Start n instances of the old (prev) spec when the old set must be
 * whole again (abort, failure); 0 when there is no prev spec. */
int ro_refill_old(struct pctx *c, int n);
/* The planners of the strategies of cattle (pets: plan_pets). */
void plan_recreate(struct pctx *c);
void plan_bluegreen(struct pctx *c);
void plan_canary(struct pctx *c);

#endif
