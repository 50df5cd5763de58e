/*
 * plan.c - the service planner: desired spec + observed instances + time
 * -> the next actions, the public state and a reason.
 *
 * Level-triggered (Kubernetes controllers, Nomad's reconciler): nothing
 * here remembers what it did last time except through the memo the
 * controller hands back, and every pass recomputes the whole picture from
 * what is observed. The controller records each start as an instance in
 * Provision and each stop as Destroy before the next pass, so a pass sees
 * its own commands in flight and does not repeat them; a pass over an
 * unchanged picture emits the same actions, which carry the same ids, so
 * a repeat is harmless at the slave too.
 *
 * A pass runs in four steps:
 *   1. judge every instance (policy.c): live, dying, to be replaced, held;
 *   2. the kind's reconciler (cattle: fill, trim, surge; pets: revive in
 *      place, update in place), placing new instances with place.c;
 *   3. derive the public state from what was seen and done;
 *   4. alerts for conditions not yet alerted, and SET_STATE when the state
 *      moves.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "internal.h"
#include "units.h"

/* Reasons compete; the most important one is shown. */
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
	bool run;     /* state Run */
	bool stopped; /* stopped during this pass */
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
	const char **placed; /* nodes given an instance in this pass */
	size_t nplaced;
	const char **avoid; /* nodes where an instance just failed */
	size_t navoid;
	char **newids;      /* ids generated in this pass */
	size_t nnewids;
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
};

static void
reason(struct pctx *c, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void
reason(struct pctx *c, int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio <= c->prio)
		return;
	c->prio = prio;
	va_start(ap, fmt);
	vsnprintf(c->p->reason, sizeof(c->p->reason), fmt, ap);
	va_end(ap);
}

static void
push(struct pctx *c, const struct lifecycle_action *a)
{
	if (plan_push(c->p, a) < 0 && c->err == 0)
		c->err = ORCH_ERROR;
}

static void
act_stop(struct pctx *c, const struct lifecycle_instance *inst,
    const char *why)
{
	struct lifecycle_action a = {.type = LIFECYCLE_STOP, .ordinal = -1};

	c->stopping++;
	snprintf(a.id, sizeof(a.id), "%s", inst->id);
	snprintf(a.node, sizeof(a.node), "%s", inst->node ? inst->node : "");
	snprintf(a.reason, sizeof(a.reason), "%s", why);
	push(c, &a);
}

static void
act_mark_failed(struct pctx *c, const struct lifecycle_instance *inst,
    const char *why)
{
	struct lifecycle_action a = {.type = LIFECYCLE_MARK_FAILED, .ordinal = -1};

	snprintf(a.id, sizeof(a.id), "%s", inst->id);
	snprintf(a.node, sizeof(a.node), "%s", inst->node ? inst->node : "");
	snprintf(a.reason, sizeof(a.reason), "%s", why);
	push(c, &a);
}

/* Fire an alert once: the memo remembers every condition still true, and
 * a condition that clears and comes back alerts again. */
static void
alert(struct pctx *c, const char *key, const char *msg)
{
	struct lifecycle_action a = {.type = LIFECYCLE_ALERT, .ordinal = -1};

	if (memo_has_alert(&c->p->memo, key))
		return;
	if (memo_add_alert(&c->p->memo, key) < 0) {
		c->err = ORCH_ERROR;
		return;
	}
	if (memo_has_alert(c->in->memo, key))
		return;
	snprintf(a.key, sizeof(a.key), "%s", key);
	snprintf(a.reason, sizeof(a.reason), "%s: %s", c->in->service, msg);
	push(c, &a);
}

static void
add_name(struct pctx *c, const char ***v, size_t *n, const char *name)
{
	const char **nv;

	if (name == NULL)
		return;
	if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL) {
		c->err = ORCH_ERROR;
		return;
	}
	*v = nv;
	nv[(*n)++] = name;
}

/* ---- ids --------------------------------------------------------------- */

/* An invertible 32-bit mix (each step is a bijection), so distinct
 * counters give distinct suffixes that do not look like pet ordinals.
 * The added constant moves 0, a fixed point of the rest, away. */
static uint32_t
mix32(uint32_t x)
{
	x += 0x9e3779b9U;
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static bool
id_taken(const struct pctx *c, const char *id)
{
	for (size_t i = 0; i < c->in->ninstances; i++)
		if (c->in->instances[i].id != NULL &&
		    strcmp(c->in->instances[i].id, id) == 0)
			return true;
	for (size_t i = 0; i < c->nnewids; i++)
		if (strcmp(c->newids[i], id) == 0)
			return true;
	return false;
}

/* NAME-<7 base-36 digits of mix32(counter)>: 36^7 > 2^32, so ids repeat
 * only after 2^32 instances of one service, and never one that exists. */
static void
cattle_id(struct pctx *c, char *out, size_t len)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	char **v;

	do {
		uint32_t x = mix32((uint32_t)c->p->memo.next_id++);
		char suf[8];

		for (int i = 6; i >= 0; i--) {
			suf[i] = digits[x % 36];
			x /= 36;
		}
		suf[7] = '\0';
		snprintf(out, len, "%s-%s", c->in->service, suf);
	} while (id_taken(c, out));
	if ((v = realloc(c->newids, (c->nnewids + 1) * sizeof(*v))) == NULL ||
	    (v[c->nnewids] = strdup(out)) == NULL) {
		if (v != NULL)
			c->newids = v;
		c->err = ORCH_ERROR;
		return;
	}
	c->newids = v;
	c->nnewids++;
}

/* N of "NAME-N" (decimal, no leading zero), or -1. */
static int
pet_ordinal(const char *service, const char *id)
{
	size_t n = strlen(service);
	long v = 0;
	const char *s;

	if (id == NULL || strncmp(id, service, n) != 0 || id[n] != '-')
		return -1;
	s = id + n + 1;
	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > MANIFEST_MAX_REPLICAS)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return (int)v;
}

/* Run and not failing its health check: an instance the slave has not
 * yet given up on but that fails its checks serves nothing, so an update
 * waits for it and a scale-in takes it first. */
static bool
serving(const struct lifecycle_instance *inst)
{
	return inst->state == INSTANCE_RUN && inst->health != HEALTH_STATE_UNHEALTHY;
}

/* ---- placing ----------------------------------------------------------- */

static void
charge(struct pctx *c, size_t node)
{
	c->nodes[node].used_cpu += c->spec->resources.cpu;
	c->nodes[node].used_memory += c->spec->resources.memory;
	add_name(c, &c->placed, &c->nplaced, c->nodes[node].name);
}

/* Start one instance of the desired spec: on node `home` (a pet's home,
 * no choice) or wherever place.c says. 0, or ORCH_ENOTFOUND with why. */
static int
start(struct pctx *c, int ordinal, const char *home, const char *what,
    char *why, size_t whylen)
{
	struct lifecycle_action a = {.type = LIFECYCLE_START, .ordinal = ordinal};
	struct lifecycle_place_req req = {
		.spec = c->spec,
		.avoid = c->avoid, .navoid = c->navoid,
	};
	const char **peers = NULL;
	size_t npeers = 0, at = SIZE_MAX;
	int rc;

	/* Spread over what stays: this service's live instances not being
	 * stopped, and what this pass placed. */
	for (size_t i = 0; i < c->nlive; i++)
		if (!c->live[i].stopped)
			add_name(c, &peers, &npeers, c->live[i].inst->node);
	for (size_t i = 0; i < c->nplaced; i++)
		add_name(c, &peers, &npeers, c->placed[i]);
	req.peers = peers;
	req.npeers = npeers;
	rc = home == NULL ? lifecycle_place(&at, why, whylen, c->nodes,
	    c->in->nnodes, &req) : 0;
	free(peers);
	if (rc < 0)
		return ORCH_ENOTFOUND;
	if (home != NULL) {
		for (size_t i = 0; i < c->in->nnodes; i++)
			if (strcmp(c->nodes[i].name, home) == 0)
				at = i;
	}
	if (ordinal >= 0)
		snprintf(a.id, sizeof(a.id), "%s-%d", c->in->service, ordinal);
	else
		cattle_id(c, a.id, sizeof(a.id));
	snprintf(a.node, sizeof(a.node), "%s", at != SIZE_MAX ?
	    c->nodes[at].name : home);
	memcpy(a.fingerprint, c->fp, sizeof(a.fingerprint));
	a.spec = c->spec;
	snprintf(a.reason, sizeof(a.reason), "%s", what);
	if (at != SIZE_MAX)
		charge(c, at);
	if (ordinal >= 0 && home == NULL &&
	    memo_set_pet_home(&c->p->memo, ordinal, a.node) < 0)
		c->err = ORCH_ERROR;
	push(c, &a);
	return 0;
}

/* A start that must happen for the service to have its instances: when
 * nothing fits, the service is Failed. */
static bool
start_needed(struct pctx *c, int ordinal, const char *what)
{
	char why[LIFECYCLE_REASON_MAX];

	if (start(c, ordinal, NULL, what, why, sizeof(why)) == 0)
		return true;
	c->failed = true;
	reason(c, PRIO_FAILED, "%s", why);
	return false;
}

static void
progress(struct pctx *c, int nstale)
{
	if (c->nold > 0)
		reason(c, PRIO_PROGRESS, "%s: replacing old instances one at a "
		    "time: %d to go", c->change, nstale);
	else
		reason(c, PRIO_PROGRESS, "moving instances off Draining nodes: "
		    "%d to go", nstale);
}

/* ---- cattle ------------------------------------------------------------ */

/* Victim order for stops (qsort): the instance whose loss hurts least
 * first. Old spec before new; not serving before serving; a Suspect node
 * before a Ready one; the most crowded node first (keeps the spread);
 * newest first; then id, so the order is total. */
static int
victim_cmp(const void *pa, const void *pb, void *arg)
{
	const struct live *a = pa, *b = pb;
	const struct pctx *c = arg;
	size_t na = 0, nb = 0;

	if (a->stale != b->stale)
		return a->stale ? -1 : 1;
	if (a->run != b->run)
		return a->run ? 1 : -1;
	if ((a->ns == NODE_SUSPECT) != (b->ns == NODE_SUSPECT))
		return a->ns == NODE_SUSPECT ? -1 : 1;
	for (size_t i = 0; i < c->nlive; i++) {
		const char *n = c->live[i].inst->node;

		if (n == NULL || c->live[i].stopped)
			continue;
		na += a->inst->node && strcmp(n, a->inst->node) == 0;
		nb += b->inst->node && strcmp(n, b->inst->node) == 0;
	}
	if (na != nb)
		return na > nb ? -1 : 1;
	if (a->inst->started_at != b->inst->started_at)
		return a->inst->started_at > b->inst->started_at ? -1 : 1;
	return strcmp(b->inst->id, a->inst->id);
}

static int
count_live(const struct pctx *c, bool *out_pending)
{
	int n = 0;

	*out_pending = false;
	for (size_t i = 0; i < c->nlive; i++) {
		if (c->live[i].stopped)
			continue;
		n++;
		if (!c->live[i].stale && !c->live[i].run)
			*out_pending = true;
	}
	return n;
}

static void
plan_cattle(struct pctx *c)
{
	char why[LIFECYCLE_REASON_MAX];
	bool pending;
	int nlive, run = 0, nstale = 0;

	/* 1. Judge. Failed and lost instances are stopped now; their
	 * replacements come from the fill below, away from their nodes. */
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];
		enum node_state ns = policy_node_state(c->in->nodes,
		    c->in->nnodes, inst->node);
		struct live *l;

		switch (policy_judge(why, sizeof(why), inst, KIND_CATTLE, ns)) {
		case VERDICT_DYING:
			continue;
		case VERDICT_LOST:
			if (inst->state != INSTANCE_FAILED)
				act_mark_failed(c, inst, why);
			/* fall through */
		case VERDICT_REPLACE:
			act_stop(c, inst, why);
			add_name(c, &c->avoid, &c->navoid, inst->node);
			continue;
		default:
			break;
		}
		l = &c->live[c->nlive++];
		l->inst = inst;
		l->ns = ns;
		l->ordinal = -1;
		l->old = inst->fingerprint == NULL ||
		    strcmp(inst->fingerprint, c->fp) != 0;
		l->stale = l->old || ns == NODE_DRAINING;
		l->run = serving(inst);
	}

	/* 2. What is to be replaced and is not serving yet goes at once:
	 * waiting for it to become Run would only delay the new one. */
	for (size_t i = 0; i < c->nlive; i++) {
		struct live *l = &c->live[i];

		if (l->stale && !l->run) {
			act_stop(c, l->inst, l->old ? "old spec, not serving" :
			    "on a Draining node, not serving");
			l->stopped = true;
		}
	}

	/* 3. Fill up to the target with the desired spec. A dependent's first
	 * deploy waits for its dependencies; replacing what died does not
	 * (stopping self-healing when a dependency blips makes failures
	 * cascade). */
	nlive = count_live(c, &pending);
	if (nlive < c->target) {
		if (c->first && !c->deps_ok) {
			reason(c, PRIO_DEPS, "%s", c->deps_why);
		} else {
			for (int k = nlive; k < c->target; k++)
				if (!start_needed(c, -1, c->first ? "deploy" :
				    "below replicas"))
					break;
		}
	}

	/* 4. Trim what is over the target (scale-in, unknown extras, the old
	 * instance whose replacement is Run). While a new instance of a
	 * rollout is on its way, one extra is the surge and stays; and no
	 * serving instance stops if that would leave fewer than the target
	 * serving (new before old). */
	nlive = count_live(c, &pending);
	for (size_t i = 0; i < c->nlive; i++)
		if (!c->live[i].stopped && c->live[i].stale)
			nstale++;
	{
		int keep = c->target + (nstale > 0 && pending ? 1 : 0);
		struct live *v;
		size_t nv = 0;

		for (size_t i = 0; i < c->nlive; i++)
			if (!c->live[i].stopped && c->live[i].run)
				run++;
		if (nlive > keep && (v = calloc(c->nlive, sizeof(*v))) != NULL) {
			for (size_t i = 0; i < c->nlive; i++)
				if (!c->live[i].stopped)
					v[nv++] = c->live[i];
			qsort_r(v, nv, sizeof(*v), victim_cmp, c);
			for (size_t i = 0; i < nv && nlive > keep; i++) {
				if (v[i].run && run - 1 < c->target)
					continue;
				for (size_t j = 0; j < c->nlive; j++)
					if (c->live[j].inst == v[i].inst)
						c->live[j].stopped = true;
				act_stop(c, v[i].inst, v[i].old ? "replaced by the new spec" :
				    v[i].stale ? "moved off a Draining node" :
				    "over replicas");
				nlive--;
				run -= v[i].run;
			}
			free(v);
		} else if (nlive > keep) {
			c->err = ORCH_ERROR;
		}
	}

	/* 5. Surge: with exactly the target live and nothing new on its way,
	 * start one new instance to replace one stale one. */
	nlive = count_live(c, &pending);
	nstale = 0;
	c->nold = 0;
	for (size_t i = 0; i < c->nlive; i++) {
		if (c->live[i].stopped)
			continue;
		nstale += c->live[i].stale;
		c->nold += c->live[i].old;
	}
	if (nstale > 0 && nlive == c->target && !pending) {
		if (c->nold > 0 && c->in->flags.paused) {
			reason(c, PRIO_STUCK, "paused");
		} else if (c->nold > 0 && c->rollout_expired) {
			/* Failed: a person decides (rollback or a fix). */
		} else if (c->nold > 0 && !c->deps_ok) {
			reason(c, PRIO_DEPS, "%s", c->deps_why);
		} else if (start(c, -1, NULL, c->nold > 0 ? "update: new before old" :
		    "move off a Draining node", why, sizeof(why)) < 0) {
			reason(c, PRIO_STUCK, "%s waits: %s", c->nold > 0 ?
			    "update" : "drain", why);
		} else {
			progress(c, nstale);
		}
	} else if (nstale > 0) {
		progress(c, nstale);
	}
	c->pending = pending;
}

/* ---- pets -------------------------------------------------------------- */

static void
plan_pets(struct pctx *c)
{
	char why[LIFECYCLE_REASON_MAX];
	struct live **slot = NULL;
	bool *dying = NULL;
	struct live *upd = NULL;
	int n = c->target;

	slot = calloc((size_t)n + 1, sizeof(*slot));
	dying = calloc((size_t)n + 1, sizeof(*dying));
	if (slot == NULL || dying == NULL) {
		c->err = ORCH_ERROR;
		goto out;
	}

	/* 1. Judge, and keep at most one instance per ordinal, on its home. */
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];
		enum node_state ns = policy_node_state(c->in->nodes,
		    c->in->nnodes, inst->node);
		int ord = pet_ordinal(c->in->service, inst->id);
		enum verdict v = policy_judge(why, sizeof(why), inst, KIND_PET, ns);
		const char *home;
		struct live *l;

		if (v == VERDICT_DYING) {
			if (ord >= 0 && ord < n)
				dying[ord] = true;
			continue;
		}
		if (ord < 0 || ord >= n) {
			act_stop(c, inst, ord < 0 ? "not an instance of this pet service" :
			    "over replicas");
			continue;
		}
		home = memo_pet_home(&c->p->memo, ord);
		if (home == NULL && inst->node != NULL) {
			/* Adopt what runs (a memo lost or from an older
			 * controller): its node becomes its home. */
			if (memo_set_pet_home(&c->p->memo, ord, inst->node) < 0)
				c->err = ORCH_ERROR;
		} else if (home != NULL && (inst->node == NULL ||
		    strcmp(home, inst->node) != 0)) {
			act_stop(c, inst, "not on its home node");
			dying[ord] = true; /* back home once this one is gone */
			continue;
		}
		if (slot[ord] != NULL) {
			act_stop(c, inst, "a second copy of a pet");
			continue;
		}
		l = &c->live[c->nlive++];
		l->inst = inst;
		l->ns = ns;
		l->ordinal = ord;
		l->old = inst->fingerprint == NULL ||
		    strcmp(inst->fingerprint, c->fp) != 0;
		l->stale = l->old;
		l->run = serving(inst);
		slot[ord] = l;

		switch (v) {
		case VERDICT_PET_HOLD: {
			char key[LIFECYCLE_ID_MAX + 8];

			reason(c, PRIO_HOLD, "%s", why);
			snprintf(key, sizeof(key), "lost:%s", inst->id);
			alert(c, key, why);
			break;
		}
		case VERDICT_PET_FAILED:
			if (l->old) {
				/* A person applied a fix: update it in place now,
				 * it serves nothing anyway. */
				act_stop(c, inst, "Failed: update in place");
				l->stopped = true;
				break;
			}
			c->failed = true;
			reason(c, PRIO_FAILED, "%s", why);
			break;
		default:
			if (!l->run && !l->old)
				c->pending = true;
			break;
		}
	}

	/* 2. Revive missing ordinals in place; give new ones a home. */
	for (int ord = 0; ord < n; ord++) {
		const char *home;

		if (slot[ord] != NULL)
			continue;
		if (dying[ord])
			continue; /* never two copies: wait for the stop */
		if (c->first && !c->deps_ok) {
			reason(c, PRIO_DEPS, "%s", c->deps_why);
			continue;
		}
		home = memo_pet_home(&c->p->memo, ord);
		if (home != NULL) {
			enum node_state ns = policy_node_state(c->in->nodes,
			    c->in->nnodes, home);
			char key[LIFECYCLE_ID_MAX + 8];

			if (ns == NODE_LOST || ns == NODE_SUSPECT) {
				snprintf(why, sizeof(why), "pet %s-%d is on %s node %s: "
				    "not started elsewhere", c->in->service, ord,
				    lifecycle_node_state_name(ns), home);
				reason(c, PRIO_HOLD, "%s", why);
				if (ns == NODE_LOST) {
					snprintf(key, sizeof(key), "lost:%s-%d",
					    c->in->service, ord);
					alert(c, key, why);
				}
				continue;
			}
			/* Its home, even Draining: drain moves cattle, and a
			 * pet's data lives there. */
			start(c, ord, home, "start in place", why, sizeof(why));
			c->pending = true;
			continue;
		}
		if (!start_needed(c, ord, c->first ? "deploy" : "below replicas"))
			break;
		c->pending = true;
	}

	/* 3. Update in place, one at a time, only when every other pet is
	 * Run: stop it now; the next passes start it again, same id, same
	 * node, same data dir, with the new spec. */
	for (int ord = n - 1; ord >= 0; ord--) {
		struct live *l = slot[ord];

		if (l == NULL || l->stopped || !l->old)
			continue;
		c->nold++;
		if (upd == NULL || (!l->run && upd->run))
			upd = l;
	}
	if (upd != NULL) {
		bool others_blocked = false;

		for (int ord = 0; ord < n; ord++) {
			struct live *l = slot[ord];

			if (l == upd)
				continue;
			if (l == NULL || l->stopped || !l->run ||
			    l->ns == NODE_SUSPECT || l->ns == NODE_LOST ||
			    dying[ord])
				others_blocked = true;
		}
		if (c->in->flags.paused) {
			reason(c, PRIO_STUCK, "paused");
		} else if (c->rollout_expired) {
			/* Failed: a person decides. */
		} else if (!c->deps_ok) {
			reason(c, PRIO_DEPS, "%s", c->deps_why);
		} else if (others_blocked) {
			reason(c, PRIO_PROGRESS, "%s: updating pets in place one at a "
			    "time: %d to go, waiting for the others to be Run",
			    c->change, c->nold);
		} else if (upd->ns == NODE_LOST || upd->ns == NODE_SUSPECT) {
			reason(c, PRIO_STUCK, "update waits for node %s",
			    upd->inst->node);
		} else {
			act_stop(c, upd->inst, "update in place");
			upd->stopped = true;
			reason(c, PRIO_PROGRESS, "%s: updating pets in place one at a "
			    "time: %d to go", c->change, c->nold);
		}
	}
out:
	free(slot);
	free(dying);
}

/* ---- state ------------------------------------------------------------- */

static void
derive_state(struct pctx *c)
{
	struct lifecycle_plan *p = c->p;
	const struct lifecycle_memo *m = c->in->memo;
	int settled = m ? m->settled : 0;
	int ready = 0, nlive = 0, going = c->stopping;

	/* Instances on their way out still count as change in progress: a
	 * scale-in is over when they are gone, not when they are told. */
	for (size_t i = 0; i < c->in->ninstances; i++)
		going += c->in->instances[i].state == INSTANCE_DESTROY &&
		    policy_node_state(c->in->nodes, c->in->nnodes,
		    c->in->instances[i].node) != NODE_LOST;
	for (size_t i = 0; i < c->nlive; i++) {
		const struct live *l = &c->live[i];

		if (l->stopped)
			continue;
		nlive++;
		if (l->run && !l->old && l->ns != NODE_LOST)
			ready++;
	}
	p->ready = ready;
	p->desired = c->target;
	p->detail = SCALE_NONE;
	if (c->failed || c->rollout_expired) {
		p->state = SERVICE_FAILED;
	} else if (c->first) {
		if (ready >= c->target && c->nold == 0)
			p->state = SERVICE_RUN;
		else if (nlive >= c->target && c->nold == 0 && c->target > 0)
			p->state = SERVICE_READY;
		else
			p->state = SERVICE_PROVISION;
	} else if (c->rollout) {
		p->state = c->in->flags.rollback ? SERVICE_ROLLBACK : SERVICE_UPDATE;
	} else if (c->target != settled && (ready != c->target ||
	    nlive != c->target || going > 0)) {
		p->state = SERVICE_SCALE;
		p->detail = c->target > settled ? SCALE_OUT : SCALE_IN;
		reason(c, PRIO_PROGRESS, "%s: %d -> %d",
		    lifecycle_scale_detail_name(p->detail), settled, c->target);
	} else if (ready >= c->target) {
		p->state = SERVICE_RUN;
	} else {
		p->state = SERVICE_READY;
		reason(c, PRIO_PROGRESS, "%d of %d Run", ready, c->target);
	}
	if (p->state == SERVICE_RUN) {
		p->memo.settled = c->target;
		if (c->prio <= PRIO_PROGRESS)
			p->reason[0] = '\0';
	}
	if (p->state == SERVICE_FAILED)
		alert(c, "failed", p->reason);
	if (c->rollout && p->state != SERVICE_FAILED && ready >= c->target)
		reason(c, PRIO_PROGRESS, "%s: all %d Run, the last old ones "
		    "stopping", c->change, ready);
	else if (c->rollout && p->state != SERVICE_FAILED)
		reason(c, PRIO_PROGRESS, "%s: %d of %d Run with the new spec",
		    c->change, ready, c->target);
	if (p->state == SERVICE_ROLLBACK) {
		char msg[128];

		snprintf(msg, sizeof(msg), "rolling back to %s",
		    c->spec->version ? c->spec->version : "?");
		alert(c, "rollback", msg);
	}
}

static void
set_state(struct pctx *c)
{
	struct lifecycle_action a = {.type = LIFECYCLE_SET_STATE, .ordinal = -1};

	if (c->p->state == c->in->state)
		return;
	a.state = c->p->state;
	a.detail = c->p->detail;
	snprintf(a.reason, sizeof(a.reason), "%s", c->p->reason);
	push(c, &a);
}

/* ---- dependencies and rollout clock --------------------------------- */

static void
check_deps(struct pctx *c)
{
	size_t used = 0;
	int k;

	c->deps_ok = true;
	for (size_t i = 0; i < c->in->ndeps; i++) {
		if (c->in->deps[i].state == SERVICE_RUN)
			continue;
		if (c->deps_ok)
			k = snprintf(c->deps_why, sizeof(c->deps_why), "waiting for %s",
			    c->in->deps[i].service);
		else
			k = snprintf(c->deps_why + used, sizeof(c->deps_why) - used,
			    ", %s", c->in->deps[i].service);
		used += k > 0 ? (size_t)k : 0;
		if (used >= sizeof(c->deps_why))
			used = sizeof(c->deps_why) - 1;
		c->deps_ok = false;
	}
	if (!c->deps_ok)
		snprintf(c->deps_why + used, sizeof(c->deps_why) - used,
		    " to be Run");
}

/*
 * A rollout runs from the first pass that sees an instance of an old spec
 * until every instance runs the new one: pets updated in place have a
 * moment with no old instance and the new one not started yet, and that
 * is still the rollout. Its clock is memo.rollout_since; a pause holds it
 * (Argo Rollouts: the progress deadline does not count paused time).
 */
static void
rollout_clock(struct pctx *c)
{
	const struct lifecycle_memo *m = c->in->memo;
	int64_t since = m ? m->rollout_since : 0;
	int64_t deadline = c->spec->strategy.progress_deadline_ms;
	bool any_old = false;
	int ready = 0;

	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];

		if (inst->state == INSTANCE_DESTROY)
			continue;
		if (inst->fingerprint == NULL || strcmp(inst->fingerprint, c->fp) != 0)
			any_old = true;
		else if (inst->state == INSTANCE_RUN &&
		    policy_node_state(c->in->nodes, c->in->nnodes, inst->node) !=
		    NODE_LOST)
			ready++;
	}
	c->rollout = !c->first && (any_old || (since != 0 && ready < c->target));
	if (!c->rollout) {
		c->p->memo.rollout_since = 0;
		return;
	}
	if (since == 0 || c->in->flags.paused)
		since = c->in->now;
	c->p->memo.rollout_since = since;
	if (deadline > 0 && c->in->now - since > deadline) {
		char d[32];

		orch_fmt_duration(d, sizeof(d), deadline);
		c->rollout_expired = true;
		reason(c, PRIO_FAILED, "rollout to %s did not finish within "
		    "progress_deadline %s", c->spec->version ? c->spec->version : "?", d);
	}
}

/* ---- destroy ----------------------------------------------------------- */

static void
plan_destroy(struct pctx *c)
{
	size_t used = 0, left = 0;
	int k;

	c->p->state = SERVICE_DESTROY;
	for (size_t i = 0; i < c->in->ninstances; i++)
		left++;
	if (c->in->ndeps > 0) {
		for (size_t i = 0; i < c->in->ndeps; i++) {
			k = snprintf(c->p->reason + used, sizeof(c->p->reason) - used,
			    "%s%s", i ? ", " : "waiting for ", c->in->deps[i].service);
			used += k > 0 ? (size_t)k : 0;
			if (used >= sizeof(c->p->reason))
				used = sizeof(c->p->reason) - 1;
		}
		snprintf(c->p->reason + used, sizeof(c->p->reason) - used,
		    " to be destroyed first");
	} else {
		for (size_t i = 0; i < c->in->ninstances; i++)
			if (c->in->instances[i].state != INSTANCE_DESTROY)
				act_stop(c, &c->in->instances[i], "service removed");
		if (left > 0)
			snprintf(c->p->reason, sizeof(c->p->reason),
			    "stopping %zu instance%s", left, left == 1 ? "" : "s");
	}
	c->p->done = left == 0 && c->in->ndeps == 0;
	c->p->memo.rollout_since = 0;
	set_state(c);
}

/* ---- entry points ------------------------------------------------------ */

int
lifecycle_plan(struct lifecycle_plan **out, const struct lifecycle_input *in)
{
	struct pctx c = {.in = in, .spec = in->spec};
	const struct lifecycle_memo *m = in->memo;
	int rc = 0;

	*out = NULL;
	if (in->service == NULL || (in->ninstances > 0 && in->instances == NULL) ||
	    (in->nnodes > 0 && in->nodes == NULL) ||
	    (in->ndeps > 0 && in->deps == NULL))
		return orch_err_set(ORCH_EINVALID, "lifecycle_plan: incomplete input");
	for (size_t i = 0; i < in->ninstances; i++)
		if (in->instances[i].id == NULL)
			return orch_err_set(ORCH_EINVALID, "%s: instance %zu has no id",
			    in->service, i);
	if ((c.p = calloc(1, sizeof(*c.p))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if (lifecycle_memo_copy(&c.p->memo, m) < 0) {
		rc = orch_err_set(ORCH_ERROR, "out of memory");
		goto out;
	}
	/* Alerts are rebuilt from the conditions true now. */
	for (size_t i = 0; i < c.p->memo.nalerts; i++)
		free(c.p->memo.alerts[i]);
	free(c.p->memo.alerts);
	c.p->memo.alerts = NULL;
	c.p->memo.nalerts = 0;

	if (in->spec == NULL) {
		plan_destroy(&c);
		goto out;
	}
	if (in->flags.scale < 0) {
		rc = orch_err_set(ORCH_EINVALID, "%s: negative scale target",
		    in->service);
		goto out;
	}
	c.target = in->flags.scale > 0 ? in->flags.scale : in->spec->replicas;
	/* An override from `orchctl scale` stays inside min..max even when
	 * a later manifest moves the bounds. */
	if (c.target < in->spec->min)
		c.target = in->spec->min;
	if (c.target > in->spec->max)
		c.target = in->spec->max;
	lifecycle_fingerprint(c.fp, in->spec);
	c.first = (m == NULL || m->settled == 0) &&
	    (in->state == SERVICE_PROVISION || in->state == SERVICE_READY ||
	    in->state == SERVICE_FAILED || in->state == SERVICE_DESTROY);
	if (in->state == SERVICE_DESTROY) {
		/* Re-added while being removed: a new service. */
		c.first = true;
		c.p->memo.settled = 0;
	}
	/* The previous revision names the change; without one, "update". */
	if (in->prev != NULL && in->prev->version != NULL && in->spec->version &&
	    strcmp(in->prev->version, in->spec->version) != 0)
		snprintf(c.change, sizeof(c.change), "%s %s -> %s",
		    in->flags.rollback ? "rollback" : "update",
		    in->prev->version, in->spec->version);
	else
		snprintf(c.change, sizeof(c.change), "%s",
		    in->flags.rollback ? "rollback" : "update");
	c.nodes = calloc(in->nnodes + 1, sizeof(*c.nodes));
	c.live = calloc(in->ninstances + 1, sizeof(*c.live));
	if (c.nodes == NULL || c.live == NULL) {
		rc = orch_err_set(ORCH_ERROR, "out of memory");
		goto out;
	}
	if (in->nnodes > 0)
		memcpy(c.nodes, in->nodes, in->nnodes * sizeof(*c.nodes));
	check_deps(&c);
	rollout_clock(&c);

	if (in->spec->kind == KIND_PET)
		plan_pets(&c);
	else
		plan_cattle(&c);
	derive_state(&c);
	set_state(&c);
out:
	if (rc == 0 && c.err != 0)
		rc = orch_err_set(ORCH_ERROR, "out of memory");
	for (size_t i = 0; i < c.nnewids; i++)
		free(c.newids[i]);
	free(c.newids);
	free(c.nodes);
	free(c.live);
	free(c.placed);
	free(c.avoid);
	if (rc < 0)
		lifecycle_plan_free(c.p);
	else
		*out = c.p;
	return rc;
}

int
lifecycle_scale_check(const struct service_spec *spec, int n)
{
	if (n < spec->min || n > spec->max)
		return orch_err_set(ORCH_EINVALID, "%s: cannot scale to %d: outside "
		    "min..max %d..%d", spec->name, n, spec->min, spec->max);
	return 0;
}

int
lifecycle_teardown_order(size_t **out, size_t *out_n,
    const struct manifest *from, const struct manifest *to)
{
	size_t *order = NULL, *v = NULL, n = 0;
	int rc;

	*out = NULL;
	*out_n = 0;
	if (from == NULL || from->nservices == 0)
		return 0;
	if ((rc = manifest_start_order(&order, from)) < 0)
		return rc;
	if ((v = calloc(from->nservices, sizeof(*v))) == NULL) {
		free(order);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	for (size_t i = from->nservices; i-- > 0;) {
		const struct service_spec *s = &from->services[order[i]];

		if (to == NULL || manifest_service(to, s->name) == NULL)
			v[n++] = order[i];
	}
	free(order);
	*out = v;
	*out_n = n;
	return 0;
}
