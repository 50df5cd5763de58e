/*
 * plan_cattle.c - the planner of cattle: fill up to the target, trim what
 * is over it, and replace what is stale (an old spec, or a Draining node)
 * one at a time, new before old.
 *
 * This is the simple safe update of issue #4 (rolling with max_surge 1,
 * max_unavailable 0); issue #5's strategies sit next to it and share the
 * judging, filling and trimming.
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
	if (c->nold > 0)
		pl_reason(c, PRIO_PROGRESS, "%s: replacing old instances one at a "
		    "time: %d to go", c->change, nstale);
	else
		pl_reason(c, PRIO_PROGRESS, "moving instances off Draining nodes: "
		    "%d to go", nstale);
}

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

void
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
				pl_mark_failed(c, inst, why);
			/* fall through */
		case VERDICT_REPLACE:
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
		l->run = pl_serving(inst);
	}

	/* 2. What is to be replaced and is not serving yet goes at once:
	 * waiting for it to become Run would only delay the new one. */
	for (size_t i = 0; i < c->nlive; i++) {
		struct live *l = &c->live[i];

		if (l->stale && !l->run) {
			pl_stop(c, l->inst, l->old ? "old spec, not serving" :
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
			pl_reason(c, PRIO_DEPS, "%s", c->deps_why);
		} else {
			for (int k = nlive; k < c->target; k++)
				if (!pl_start_needed(c, -1, c->first ? "deploy" :
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
				pl_stop(c, v[i].inst, v[i].old ? "replaced by the new spec" :
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
			pl_reason(c, PRIO_STUCK, "paused");
		} else if (c->nold > 0 && c->rollout_expired) {
			/* Failed: a person decides (rollback or a fix). */
		} else if (c->nold > 0 && !c->deps_ok) {
			pl_reason(c, PRIO_DEPS, "%s", c->deps_why);
		} else if (pl_start(c, -1, NULL, c->nold > 0 ? "update: new before old" :
		    "move off a Draining node", why, sizeof(why)) < 0) {
			pl_reason(c, PRIO_STUCK, "%s waits: %s", c->nold > 0 ?
			    "update" : "drain", why);
		} else {
			progress(c, nstale);
		}
	} else if (nstale > 0) {
		progress(c, nstale);
	}
	c->pending = pending;
}
