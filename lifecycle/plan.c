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

/* ---- helpers shared by the planners (internal.h) --------------------- */

void
pl_reason(struct pctx *c, int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio <= c->prio)
		return;
	c->prio = prio;
	va_start(ap, fmt);
	vsnprintf(c->p->reason, sizeof(c->p->reason), fmt, ap);
	va_end(ap);
}

void
pl_push(struct pctx *c, const struct lifecycle_action *a)
{
	if (plan_push(c->p, a) < 0 && c->err == 0)
		c->err = ORCH_ERROR;
}

void
pl_stop(struct pctx *c, const struct lifecycle_instance *inst,
    const char *why)
{
	struct lifecycle_action a = {.type = LIFECYCLE_STOP, .ordinal = -1};

	c->stopping++;
	snprintf(a.id, sizeof(a.id), "%s", inst->id);
	snprintf(a.node, sizeof(a.node), "%s", inst->node ? inst->node : "");
	snprintf(a.reason, sizeof(a.reason), "%s", why);
	pl_push(c, &a);
}

void
pl_mark_failed(struct pctx *c, const struct lifecycle_instance *inst,
    const char *why)
{
	struct lifecycle_action a = {.type = LIFECYCLE_MARK_FAILED, .ordinal = -1};

	snprintf(a.id, sizeof(a.id), "%s", inst->id);
	snprintf(a.node, sizeof(a.node), "%s", inst->node ? inst->node : "");
	snprintf(a.reason, sizeof(a.reason), "%s", why);
	pl_push(c, &a);
}

/* Fire an alert once: the memo remembers every condition still true, and
 * a condition that clears and comes back alerts again. */
void
pl_alert(struct pctx *c, const char *key, const char *node, const char *msg)
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
	snprintf(a.node, sizeof(a.node), "%s", node ? node : "");
	snprintf(a.reason, sizeof(a.reason), "%s: %s", c->in->service, msg);
	pl_push(c, &a);
}

void
pl_add_name(struct pctx *c, const char ***v, size_t *n, const char *name)
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

static size_t
id_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)h;
}

static bool
idset_has(const struct pctx *c, const char *id)
{
	for (size_t i = id_hash(id) & (c->idcap - 1); c->idset[i] != NULL;
	    i = (i + 1) & (c->idcap - 1))
		if (strcmp(c->idset[i], id) == 0)
			return true;
	return false;
}

/* Add id to the set (growing it to stay at most half full); on ENOMEM
 * the set goes and id_taken() walks the lists. */
static void
idset_put(struct pctx *c, const char *id)
{
	if (c->idset == NULL || id == NULL || idset_has(c, id))
		return;
	if (2 * (c->nidset + 1) > c->idcap) {
		const char **old = c->idset;
		size_t oldcap = c->idcap;

		c->idcap *= 2;
		if ((c->idset = calloc(c->idcap, sizeof(*c->idset))) == NULL) {
			free(old);
			return;
		}
		c->nidset = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i] != NULL)
				idset_put(c, old[i]);
		free(old);
	}
	for (size_t i = id_hash(id) & (c->idcap - 1);;
	    i = (i + 1) & (c->idcap - 1)) {
		if (c->idset[i] == NULL) {
			c->idset[i] = id;
			c->nidset++;
			return;
		}
	}
}

static void
idset_build(struct pctx *c)
{
	size_t cap = 64;

	if (c->idset != NULL)
		return;
	while (cap < 4 * (c->in->ninstances + c->nnewids + 1))
		cap *= 2;
	if ((c->idset = calloc(cap, sizeof(*c->idset))) == NULL)
		return;
	c->idcap = cap;
	for (size_t i = 0; i < c->in->ninstances && c->idset; i++)
		idset_put(c, c->in->instances[i].id);
	for (size_t i = 0; i < c->nnewids && c->idset; i++)
		idset_put(c, c->newids[i]);
}

static bool
id_taken(const struct pctx *c, const char *id)
{
	if (c->idset != NULL)
		return idset_has(c, id);
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

	idset_build(c);
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
	idset_put(c, v[c->nnewids - 1]);
}


/* Run and not failing its health check: an instance the slave has not
 * yet given up on but that fails its checks serves nothing, so an update
 * waits for it and a scale-in takes it first. */
bool
pl_serving(const struct lifecycle_instance *inst)
{
	return inst->state == INSTANCE_RUN && inst->health != HEALTH_STATE_UNHEALTHY;
}

/* ---- placing ----------------------------------------------------------- */

static int
byname_cmp(const void *pa, const void *pb, void *arg)
{
	const struct lifecycle_node *nodes = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int d = strcmp(nodes[a].name, nodes[b].name);

	if (d != 0)
		return d;
	return a < b ? -1 : a > b;
}

/* The first index of a node named name, or SIZE_MAX. */
static size_t
node_canon(const struct pctx *c, const char *name)
{
	size_t lo = 0, hi = c->in->nnodes;

	if (name == NULL)
		return SIZE_MAX;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->nodes[c->byname[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->in->nnodes && strcmp(c->nodes[c->byname[lo]].name, name) == 0)
		return c->byname[lo];
	return SIZE_MAX;
}

/* Index the nodes by name once per plan; false when out of memory. */
static bool
node_index(struct pctx *c)
{
	size_t n = c->in->nnodes;

	if (c->indexed)
		return true;
	c->byname = calloc(n + 1, sizeof(*c->byname));
	c->canon = calloc(n + 1, sizeof(*c->canon));
	c->placed = calloc(n + 1, sizeof(*c->placed));
	c->counts = calloc(n + 1, sizeof(*c->counts));
	c->live_at = calloc(c->in->ninstances + 1, sizeof(*c->live_at));
	if (c->byname == NULL || c->canon == NULL || c->placed == NULL ||
	    c->counts == NULL || c->live_at == NULL) {
		c->err = ORCH_ERROR;
		return false;
	}
	for (size_t i = 0; i < n; i++)
		c->byname[i] = i;
	qsort_r(c->byname, n, sizeof(*c->byname), byname_cmp, c->nodes);
	for (size_t i = 0; i < n; i++)
		c->canon[i] = node_canon(c, c->nodes[i].name);
	c->indexed = true;
	return true;
}

enum node_state
pl_node_state(struct pctx *c, const char *name)
{
	size_t k;

	if (!node_index(c))
		return policy_node_state(c->in->nodes, c->in->nnodes, name);
	k = node_canon(c, name);
	return k == SIZE_MAX ? NODE_LOST : c->nodes[k].state;
}

/* Instances of this service on each node, for spreading: its live
 * instances not being stopped, and what this pass placed. The same for
 * every node of one name. NULL when out of memory. */
static const size_t *
node_counts(struct pctx *c)
{
	size_t n = c->in->nnodes;

	if (!node_index(c))
		return NULL;
	for (; c->nlive_at < c->nlive; c->nlive_at++)
		c->live_at[c->nlive_at] = node_canon(c,
		    c->live[c->nlive_at].inst->node);
	memcpy(c->counts, c->placed, n * sizeof(*c->counts));
	/* Only instances of the spec being placed: those of another one are
	 * being replaced and would pile the new ones up (issue 10 #12). */
	for (size_t i = 0; i < c->nlive; i++)
		if (!c->live[i].stopped && c->live_at[i] != SIZE_MAX &&
		    c->live[i].inst->fingerprint != NULL &&
		    strcmp(c->live[i].inst->fingerprint, c->fp) == 0)
			c->counts[c->live_at[i]]++;
	for (size_t i = 0; i < n; i++)
		c->counts[i] = c->counts[c->canon[i]];
	return c->counts;
}

static void
charge(struct pctx *c, size_t node)
{
	c->nodes[node].used_cpu += c->spec->resources.cpu;
	c->nodes[node].used_memory += c->spec->resources.memory;
	if (node_index(c))
		c->placed[c->canon[node]]++;
}

/* Start one instance of the desired spec: on node `home` (a pet's home,
 * no choice) or wherever place.c says. 0, or ORCH_ENOTFOUND with why. */
int
pl_start(struct pctx *c, int ordinal, const char *home, const char *what,
    char *why, size_t whylen)
{
	struct lifecycle_action a = {.type = LIFECYCLE_START, .ordinal = ordinal};
	struct lifecycle_place_req req = {
		.spec = c->spec,
		.avoid = c->avoid, .navoid = c->navoid,
	};
	size_t at = SIZE_MAX;
	int rc = 0;

	/* Replacements of cattle that keep failing wait their backoff. */
	if (ordinal < 0 && c->spec == c->in->spec && crash_hold(c, why, whylen))
		return ORCH_ENOTFOUND;
	/* Spread over what stays: this service's live instances not being
	 * stopped, and what this pass placed. */
	if (home == NULL) {
		if ((req.counts = node_counts(c)) == NULL) {
			if (whylen > 0)
				snprintf(why, whylen, "out of memory");
			return ORCH_ENOTFOUND; /* and c->err */
		}
		rc = lifecycle_place(&at, why, whylen, c->nodes, c->in->nnodes,
		    &req);
	}
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
	if (c->spec == c->in->spec)
		c->started_new++;
	else
		c->started_old++;
	if (ordinal >= 0 && home == NULL &&
	    memo_set_pet_home(&c->p->memo, ordinal, a.node) < 0)
		c->err = ORCH_ERROR;
	pl_push(c, &a);
	return 0;
}

/* A start that must happen for the service to have its instances: when
 * nothing fits, the service is Failed. */
bool
pl_start_needed(struct pctx *c, int ordinal, const char *what)
{
	char why[LIFECYCLE_REASON_MAX];

	if (pl_start(c, ordinal, NULL, what, why, sizeof(why)) == 0)
		return true;
	if (ordinal < 0 && c->spec == c->in->spec && crash_hold(c, NULL, 0))
		return false; /* backing off, not stuck (crash.c) */
	if (lifecycle_place_suspect_fits(c->nodes, c->in->nnodes, c->spec)) {
		/* A Suspect node is not gone (a controller that just
		 * restarted sees every node so until its heartbeat). */
		pl_reason(c, PRIO_STUCK, "waiting for a Suspect node: %s", why);
		return false;
	}
	c->failed = true;
	pl_reason(c, PRIO_FAILED, "%s", why);
	return false;
}

/* ---- state ------------------------------------------------------------- */

/* What the pass leaves: live instances (not told to stop), Run ones of the
 * desired spec and of an old one, and those on their way out (they still
 * count as change in progress: a scale-in is over when they are gone, not
 * when they are told). */
struct tally {
	int nlive, ready, old_ready, going;
};

static void
tally(struct pctx *c, struct tally *t)
{
	*t = (struct tally){.going = c->stopping};
	for (size_t i = 0; i < c->in->ninstances; i++)
		t->going += c->in->instances[i].state == INSTANCE_DESTROY &&
		    pl_node_state(c, c->in->instances[i].node) != NODE_LOST;
	for (size_t i = 0; i < c->nlive; i++) {
		const struct live *l = &c->live[i];

		if (l->stopped)
			continue;
		t->nlive++;
		if (l->run && !l->old && l->ns != NODE_LOST)
			t->ready++;
		if (l->run && l->old && l->ns != NODE_LOST)
			t->old_ready++;
	}
}

static void
derive_state(struct pctx *c)
{
	struct lifecycle_plan *p = c->p;
	const struct lifecycle_memo *m = c->in->memo;
	int settled = m ? m->settled : 0;
	struct tally t;
	int ready, nlive, going, old_ready;

	tally(c, &t);
	ready = t.ready, nlive = t.nlive, going = t.going, old_ready = t.old_ready;
	p->ready = ready;
	p->desired = c->target;
	p->detail = SCALE_NONE;
	if (c->ro_requested) {
		/* The rollout failed: back to the previous spec (rollout.c). */
		p->state = SERVICE_ROLLBACK;
	} else if (c->failed || c->ro_failed ||
	    (c->rollout_expired && !c->aborted)) {
		p->state = SERVICE_FAILED;
	} else if (c->first) {
		if (ready >= c->target && c->nold == 0)
			p->state = SERVICE_RUN;
		else if (nlive >= c->target && c->nold == 0 && c->target > 0 &&
		    !p->crashloop) /* no Provision <-> Ready per crash */
			p->state = SERVICE_READY;
		else
			p->state = SERVICE_PROVISION;
	} else if (c->aborted) {
		/* Aborted: the old spec serves, as before the rollout. */
		p->ready = old_ready;
		p->state = old_ready >= c->target ? SERVICE_RUN : SERVICE_READY;
	} else if (c->rollout) {
		p->state = c->in->flags.rollback ? SERVICE_ROLLBACK : SERVICE_UPDATE;
	} else if (c->target != settled && (ready != c->target ||
	    nlive != c->target || going > 0)) {
		p->state = SERVICE_SCALE;
		p->detail = c->target > settled ? SCALE_OUT : SCALE_IN;
		pl_reason(c, PRIO_PROGRESS, "%s: %d -> %d",
		    lifecycle_scale_detail_name(p->detail), settled, c->target);
	} else if (ready >= c->target) {
		p->state = SERVICE_RUN;
	} else {
		p->state = SERVICE_READY;
		pl_reason(c, PRIO_PROGRESS, "%d of %d Run", ready, c->target);
	}
	/* Re-added while being removed: Destroy leads only to Provision,
	 * and the next pass goes on from there. */
	if (c->in->state == SERVICE_DESTROY)
		p->state = SERVICE_PROVISION;
	if (p->state == SERVICE_RUN) {
		p->memo.settled = c->target;
		if (c->prio <= PRIO_PROGRESS)
			p->reason[0] = '\0';
	}
	if (p->state == SERVICE_FAILED)
		pl_alert(c, "failed", NULL, p->reason);
	if (c->rollout && p->state != SERVICE_FAILED && ready >= c->target)
		pl_reason(c, PRIO_PROGRESS, "%s: all %d Run, the last old ones "
		    "stopping", c->change, ready);
	else if (c->rollout && p->state != SERVICE_FAILED)
		pl_reason(c, PRIO_PROGRESS, "%s: %d of %d Run with the new spec",
		    c->change, ready, c->target);
	if (p->state == SERVICE_ROLLBACK) {
		char msg[LIFECYCLE_REASON_MAX];

		if (c->ro_requested)
			snprintf(msg, sizeof(msg), "%s", p->reason);
		else
			snprintf(msg, sizeof(msg), "rolling back to %s",
			    c->spec->version ? c->spec->version : "?");
		pl_alert(c, "rollback", NULL, msg);
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
	pl_push(c, &a);
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
		else if (pl_ready(c, inst) &&
		    pl_node_state(c, inst->node) !=
		    NODE_LOST)
			ready++;
	}
	c->rollout = !c->first && (any_old || (since != 0 && ready < c->target));
	if (!c->rollout) {
		c->p->memo.rollout_since = 0;
		c->p->memo.rollout_fp[0] = '\0';
		return;
	}
	/* A new apply during a rollout (a fix, a rollback) is a new rollout
	 * with its own deadline. */
	if (since == 0 || c->in->flags.paused || m == NULL ||
	    strcmp(m->rollout_fp, c->fp) != 0)
		since = c->in->now;
	c->p->memo.rollout_since = since;
	memcpy(c->p->memo.rollout_fp, c->fp, sizeof(c->p->memo.rollout_fp));
	if (deadline > 0 && c->in->now - since > deadline) {
		char d[32];

		orch_fmt_duration(d, sizeof(d), deadline);
		c->rollout_expired = true;
		pl_reason(c, PRIO_FAILED, "rollout to %s did not finish within "
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
	left = c->in->ninstances;
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
				pl_stop(c, &c->in->instances[i], "service removed");
		if (left > 0)
			snprintf(c->p->reason, sizeof(c->p->reason),
			    "stopping %zu instance%s", left, left == 1 ? "" : "s");
	}
	c->p->done = left == 0 && c->in->ndeps == 0;
	c->p->memo.rollout_since = 0;
	c->p->memo.rollout_fp[0] = '\0';
	c->p->memo.rollout_step = 0;
	c->p->memo.rollout_step_at = 0;
	c->p->memo.rollout_promoted = false;
	c->p->memo.rollout_switched_at = 0;
	c->p->memo.rollout_stable_fp[0] = '\0';
	c->p->memo.rollout_failed_fp[0] = '\0';
	c->p->memo.rollout_failed_why[0] = '\0';
	c->p->memo.rollout_aborted_fp[0] = '\0';
	memset(&c->p->memo.crash, 0, sizeof(c->p->memo.crash));
	c->p->rollout.promote_taken = c->in->flags.promote;
	c->p->rollout.abort_taken = c->in->flags.abort;
	set_state(c);
}

/* ---- the planner of a service --------------------------------------- */

typedef void (*planner_fn)(struct pctx *c);

/*
 * By kind, then strategy (docs/lifecycle.md, Strategies). Pets (rolling
 * or recreate only) update in place in plan_pet.c, which reads the
 * strategy itself.
 */
static const planner_fn cattle_planners[STRATEGY__LAST] = {
	[STRATEGY_ROLLING] = plan_cattle,
	[STRATEGY_RECREATE] = plan_recreate,
	[STRATEGY_BLUE_GREEN] = plan_bluegreen,
	[STRATEGY_CANARY] = plan_canary,
};

static planner_fn
planner_for(const struct service_spec *s)
{
	if (s->kind == KIND_PET)
		return plan_pets;
	if ((unsigned)s->strategy.type < STRATEGY__LAST &&
	    cattle_planners[s->strategy.type] != NULL)
		return cattle_planners[s->strategy.type];
	return plan_cattle;
}

/* ---- entry points ------------------------------------------------------ */

static int
input_check(const struct lifecycle_input *in)
{
	if (in->service == NULL || (in->ninstances > 0 && in->instances == NULL) ||
	    (in->nnodes > 0 && in->nodes == NULL) ||
	    (in->ndeps > 0 && in->deps == NULL))
		return orch_err_set(ORCH_EINVALID, "lifecycle_plan: incomplete input");
	for (size_t i = 0; i < in->ninstances; i++)
		if (in->instances[i].id == NULL)
			return orch_err_set(ORCH_EINVALID, "%s: instance %zu has no id",
			    in->service, i);
	if (in->spec != NULL && in->flags.scale < 0)
		return orch_err_set(ORCH_EINVALID, "%s: negative scale target",
		    in->service);
	return 0;
}

/* The plan starts from the memo, without its alerts: they are rebuilt from
 * the conditions true now. */
static int
plan_new(struct pctx *c)
{
	if ((c->p = calloc(1, sizeof(*c->p))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if (lifecycle_memo_copy(&c->p->memo, c->in->memo) < 0)
		return orch_err_set(ORCH_ERROR, "out of memory");
	for (size_t i = 0; i < c->p->memo.nalerts; i++)
		free(c->p->memo.alerts[i]);
	free(c->p->memo.alerts);
	c->p->memo.alerts = NULL;
	c->p->memo.nalerts = 0;
	return 0;
}

/* What this pass aims at: the count, the spec's fingerprint, whether it is
 * a first deploy, and the words naming the change. */
static void
plan_frame(struct pctx *c)
{
	const struct lifecycle_input *in = c->in;
	const struct lifecycle_memo *m = in->memo;

	c->target = in->flags.scale_set || in->flags.scale > 0 ? in->flags.scale :
	    in->spec->replicas;
	/* An override from `orchctl scale` stays inside min..max even when
	 * a later manifest moves the bounds. */
	if (c->target < in->spec->min)
		c->target = in->spec->min;
	if (c->target > in->spec->max)
		c->target = in->spec->max;
	lifecycle_fingerprint(c->fp, in->spec);
	/* A first deploy: the stored state says so, or the service was never
	 * Run and its state allows a first deploy to go on. */
	c->first = in->state == SERVICE_PROVISION || in->state == SERVICE_DESTROY ||
	    ((m == NULL || m->settled == 0) &&
	    (in->state == SERVICE_READY || in->state == SERVICE_FAILED));
	if (in->state == SERVICE_DESTROY) {
		/* Re-added while being removed: a new service. */
		c->first = true;
		c->p->memo.settled = 0;
	}
	/* The previous revision names the change; without one, "update". */
	if (in->prev != NULL && in->prev->version != NULL && in->spec->version &&
	    strcmp(in->prev->version, in->spec->version) != 0)
		snprintf(c->change, sizeof(c->change), "%s %s -> %s",
		    in->flags.rollback ? "rollback" : "update",
		    in->prev->version, in->spec->version);
	else
		snprintf(c->change, sizeof(c->change), "%s",
		    in->flags.rollback ? "rollback" : "update");
}

static void
pctx_free(struct pctx *c)
{
	for (size_t i = 0; i < c->nnewids; i++)
		free(c->newids[i]);
	free(c->newids);
	free(c->idset);
	free(c->nodes);
	free(c->live);
	free(c->byname);
	free(c->canon);
	free(c->live_at);
	free(c->placed);
	free(c->counts);
	free(c->avoid);
}

int
lifecycle_plan(struct lifecycle_plan **out, const struct lifecycle_input *in)
{
	struct pctx c = {.in = in, .spec = in->spec};
	int rc;

	*out = NULL;
	if ((rc = input_check(in)) < 0)
		return rc;
	if ((rc = plan_new(&c)) < 0)
		goto out;
	if (in->spec == NULL) {
		plan_destroy(&c);
		goto out;
	}
	plan_frame(&c);
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
	rollout_prepare(&c);
	crash_prepare(&c);

	planner_for(in->spec)(&c);
	crash_finish(&c);
	rollout_finish(&c);
	derive_state(&c);
	crash_wake(&c);
	set_state(&c);
out:
	if (rc == 0 && c.err != 0)
		rc = orch_err_set(ORCH_ERROR, "out of memory");
	pctx_free(&c);
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
