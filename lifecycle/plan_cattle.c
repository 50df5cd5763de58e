/*
 * plan_cattle.c - the planner of cattle and its rolling strategy: fill up
 * to the target, trim what is over it, and replace what is stale (an old
 * spec, or a Draining node) the way Kubernetes' Deployment does: at most
 * max_surge instances over the target, at most max_unavailable under it,
 * a new instance counting as available once it has served for min_ready.
 * Moves off Draining nodes are not a rollout and go one at a time, new
 * before old (surge 1, unavailable 0), or old before new when max_surge
 * is 0.
 *
 * The other strategies (rollout_*.c) share the judging, counting and
 * trimming here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "internal.h"

static void
progress(struct pctx *c, int nstale)
{
	if (c->nold > 0 && nstale > 0)
		pl_reason(c, PRIO_PROGRESS, "%s: rolling: %d old to replace "
		    "(max_surge %d, max_unavailable %d)", c->change, nstale,
		    c->surge, c->unavail);
	else if (c->nold > 0 || (c->rollout && nstale == 0))
		pl_reason(c, PRIO_PROGRESS, "%s: rolling: the last old ones "
		    "stopping", c->change);
	else
		pl_reason(c, PRIO_PROGRESS, "moving instances off Draining nodes: "
		    "%d to go", nstale);
}

/* Victim order for stops (qsort): the instance whose loss hurts least
 * first. Old spec before new; not serving before serving; a Suspect node
 * before a Ready one; the most crowded node first (keeps the spread:
 * crowd, counted by crowd_count() before sorting); newest first; then
 * id, so the order is total. */
int
cattle_victim_cmp(const void *pa, const void *pb, void *arg)
{
	const struct live *a = pa, *b = pb;
	size_t na = a->crowd, nb = b->crowd;

	(void)arg;

	if (a->stale != b->stale)
		return a->stale ? -1 : 1;
	if (a->run != b->run)
		return a->run ? 1 : -1;
	if ((a->ns == NODE_SUSPECT) != (b->ns == NODE_SUSPECT))
		return a->ns == NODE_SUSPECT ? -1 : 1;
	if (na != nb)
		return na > nb ? -1 : 1;
	if (a->inst->started_at != b->inst->started_at)
		return a->inst->started_at > b->inst->started_at ? -1 : 1;
	return strcmp(b->inst->id, a->inst->id);
}

void
cattle_count(struct pctx *c, struct cattle_count *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < c->nlive; i++) {
		const struct live *l = &c->live[i];

		if (l->stopped)
			continue;
		out->live++;
		out->serving += l->run;
		if (l->stale) {
			out->stale++;
			out->old += l->old;
			continue;
		}
		out->new++;
		out->new_serving += l->run;
		out->new_avail += ro_available(c, l->inst);
		out->pending += !l->run;
	}
	/* What this pass started is live too. */
	out->live += c->started_new + c->started_old;
	out->new += c->started_new;
	out->pending += c->started_new;
	out->stale += c->started_old;
	out->old += c->started_old;
}

static int
node_cmp(const void *pa, const void *pb, void *arg)
{
	const struct pctx *c = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;

	return strcmp(c->live[a].inst->node, c->live[b].inst->node);
}

/* crowd of every live instance not stopped: how many of them (itself
 * included) are on its node. Sorting by node name makes each node one
 * run, so this is O(n log n) once rather than a walk per comparison.
 * false when out of memory. */
static bool
crowd_count(struct pctx *c)
{
	size_t *ix, n = 0;

	if ((ix = calloc(c->nlive + 1, sizeof(*ix))) == NULL) {
		c->err = ORCH_ERROR;
		return false;
	}
	for (size_t i = 0; i < c->nlive; i++) {
		c->live[i].crowd = 0;
		if (!c->live[i].stopped && c->live[i].inst->node != NULL)
			ix[n++] = i;
	}
	qsort_r(ix, n, sizeof(*ix), node_cmp, c);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && node_cmp(&ix[i], &ix[j], c) == 0; j++)
			;
		for (size_t k = i; k < j; k++)
			c->live[ix[k]].crowd = j - i;
	}
	free(ix);
	return true;
}

int
cattle_trim(struct pctx *c, int keep, int floor,
    bool (*pick)(const struct pctx *, const struct live *))
{
	struct live *v;
	size_t nv = 0;
	int n = 0, serving = 0, stops = 0;

	if ((v = calloc(c->nlive + 1, sizeof(*v))) == NULL) {
		c->err = ORCH_ERROR;
		return 0;
	}
	for (size_t i = 0; i < c->nlive; i++) {
		if (c->live[i].stopped)
			continue;
		serving += c->live[i].run;
		if (pick != NULL && !pick(c, &c->live[i]))
			continue;
		n++;
		c->live[i].at = i;
		v[nv++] = c->live[i];
	}
	/* Nothing over keep (the usual pass): no order needed. */
	if (nv == 0 || (keep >= 0 && n <= keep) || !crowd_count(c)) {
		free(v);
		return 0;
	}
	for (size_t i = 0; i < nv; i++)
		v[i].crowd = c->live[v[i].at].crowd;
	qsort_r(v, nv, sizeof(*v), cattle_victim_cmp, c);
	for (size_t i = 0; i < nv && (keep < 0 || n > keep); i++) {
		if (v[i].run && serving - 1 < floor)
			continue;
		c->live[v[i].at].stopped = true;
		pl_stop(c, v[i].inst, v[i].old ? "replaced by the new spec" :
		    v[i].stale ? "moved off a Draining node" : "over replicas");
		n--;
		serving -= v[i].run;
		stops++;
	}
	free(v);
	return stops;
}

void
cattle_judge(struct pctx *c)
{
	char why[LIFECYCLE_REASON_MAX];

	/* Failed and lost instances are stopped now; their replacements
	 * come from the fill, away from their nodes. */
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];
		enum node_state ns = pl_node_state(c, inst->node);
		struct live *l;
		enum verdict t = policy_judge(why, sizeof(why), inst,
		    KIND_CATTLE, ns);

		switch (t) {
		case VERDICT_DYING:
			continue;
		case VERDICT_LOST:
			if (inst->state != INSTANCE_FAILED)
				pl_mark_failed(c, inst, why);
			/* fall through */
		case VERDICT_REPLACE:
			if (t == VERDICT_REPLACE && inst->fingerprint != NULL &&
			    strcmp(inst->fingerprint, c->fp) == 0)
				crash_note(c, inst);
			pl_stop(c, inst, why);
			pl_add_name(c, &c->avoid, &c->navoid, inst->node);
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
		l->run = pl_ready(c, inst);
	}

	/* What is to be replaced and is not serving yet goes at once:
	 * waiting for it to become Run would only delay the new one. Not
	 * when the old spec is what the service goes back to. */
	for (size_t i = 0; i < c->nlive; i++) {
		struct live *l = &c->live[i];

		if (l->stale && !l->run && !c->ro_failed && !c->aborted) {
			pl_stop(c, l->inst, l->old ? "old spec, not serving" :
			    "on a Draining node, not serving");
			l->stopped = true;
		}
	}
}

static bool
pick_stale(const struct pctx *c, const struct live *l)
{
	(void)c;
	return l->stale;
}

static bool
pick_fresh(const struct pctx *c, const struct live *l)
{
	(void)c;
	return !l->stale;
}

bool
cattle_pick_new(const struct pctx *c, const struct live *l)
{
	(void)c;
	return !l->old;
}

bool
cattle_pick_old(const struct pctx *c, const struct live *l)
{
	(void)c;
	return l->old;
}

bool
cattle_pick_stable(const struct pctx *c, const struct live *l)
{
	return l->inst->fingerprint != NULL &&
	    strcmp(l->inst->fingerprint, c->p->memo.rollout_stable_fp) == 0;
}

bool
cattle_pick_between(const struct pctx *c, const struct live *l)
{
	return l->old && !cattle_pick_stable(c, l);
}

/*
 * Fill up to the target with the desired spec. A dependent's first deploy
 * waits for its dependencies; replacing what died does not (stopping
 * self-healing when a dependency blips makes failures cascade). A failed
 * or aborted rollout does not start more of the spec it gave up on: the
 * old set is made whole from the previous spec instead, when there is one.
 */
static void
fill(struct pctx *c)
{
	struct cattle_count n;

	cattle_count(c, &n);
	if (n.live >= c->target)
		return;
	if (c->first && !c->deps_ok) {
		pl_reason(c, PRIO_DEPS, "%s", c->deps_why);
		return;
	}
	if (c->ro_failed || c->aborted) {
		/* recreate never runs the two side by side */
		if (c->spec->strategy.type != STRATEGY_RECREATE)
			ro_refill_old(c, c->target - n.live);
		return;
	}
	for (int k = n.live; k < c->target; k++)
		if (!pl_start_needed(c, -1, c->first ? "deploy" : "below replicas"))
			break;
}

void
plan_cattle(struct pctx *c)
{
	char why[LIFECYCLE_REASON_MAX];
	struct cattle_count n;
	int surge = 1, unavail = 0;

	cattle_judge(c);
	fill(c);
	cattle_count(c, &n);
	c->nold = n.old;
	/* A rollout uses the strategy's numbers; moves off Draining nodes
	 * keep every instance serving, unless the service allows no surge
	 * at all (max_surge 0): then they go down one at a time. */
	if (n.old > 0 || c->surge == 0) {
		surge = c->surge;
		unavail = c->unavail;
	}
	if (n.stale == 0) {
		/* Scale-in, unknown extras: never below the target serving. */
		cattle_trim(c, c->target, c->target, NULL);
	} else {
		/* More new than the target (a scale-in during the rollout):
		 * the newest, not serving ones go first. */
		if (n.new > c->target)
			cattle_trim(c, c->target, c->target - unavail, pick_fresh);
		cattle_count(c, &n);
		if (n.old > 0 && ro_hold(c)) {
			/* paused, failed, aborted or waiting: no step */
		} else {
			int avail = n.serving - n.new_serving + n.new_avail;
			int floor = c->target - unavail;
			int want;

			/* Scale the old down as far as availability allows:
			 * what stays available (serving old, available new)
			 * never drops below target - max_unavailable. */
			if (avail - 1 >= floor) {
				int keep = n.stale - (avail - floor);

				cattle_trim(c, keep < 0 ? 0 : keep,
				    floor + (n.new_serving - n.new_avail), pick_stale);
			}
			cattle_count(c, &n);
			/* Then scale the new up: never more than target +
			 * max_surge live. */
			want = c->target + surge - n.stale;
			if (want > c->target)
				want = c->target;
			for (int k = n.new; k < want; k++) {
				if (pl_start(c, -1, NULL, n.old > 0 ?
				    "update: new before old" :
				    "move off a Draining node", why, sizeof(why)) < 0) {
					pl_reason(c, PRIO_STUCK, "%s waits: %s",
					    n.old > 0 ? "update" : "drain", why);
					break;
				}
			}
		}
		cattle_count(c, &n);
		progress(c, n.stale);
	}
	cattle_count(c, &n);
	c->nold = n.old;
	c->pending = n.pending > 0;
	if (c->rollout) {
		c->p->rollout.step = n.new_avail > c->target ? c->target : n.new_avail;
		c->p->rollout.steps = c->target;
	}
}
