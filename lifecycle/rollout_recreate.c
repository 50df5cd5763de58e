/*
 * rollout_recreate.c - the recreate strategy of cattle: stop every old
 * instance, wait until they are gone, then start the whole new set. For
 * versions that cannot run side by side (a schema change, an exclusive
 * port); the service serves nothing in between, by design.
 *
 * Step 1 of 2 while an old instance lives or its stop is in flight, step
 * 2 while the new set comes up. Moves off Draining nodes and everything
 * outside a rollout are the rolling planner's (plan_cattle.c).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* An instance of another spec that is alive or still stopping. */
static bool
old_present(const struct pctx *c)
{
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];

		if (inst->fingerprint != NULL && strcmp(inst->fingerprint, c->fp) == 0)
			continue;
		if (inst->state == INSTANCE_DESTROY &&
		    policy_node_state(c->in->nodes, c->in->nnodes, inst->node) ==
		    NODE_LOST)
			continue; /* a stop that cannot complete: its node is away */
		return true;
	}
	return false;
}

void
plan_recreate(struct pctx *c)
{
	struct lifecycle_rollout_status *st = &c->p->rollout;
	int nold = 0;

	st->steps = 2;
	if (!c->rollout || !old_present(c) || c->ro_failed || c->aborted) {
		/* Phase 2 (or no rollout): the new set comes up at once;
		 * a failed rollout holds what runs. */
		plan_cattle(c);
		st->step = c->rollout ? 2 : 0;
		if (c->rollout && !c->ro_failed && !c->aborted)
			pl_reason(c, PRIO_PROGRESS, "%s: recreate: starting the new "
			    "set, %d to go", c->change, c->target - c->p->ready);
		st->steps = c->rollout ? 2 : 0;
		return;
	}
	st->step = 1;
	cattle_judge(c);
	for (size_t i = 0; i < c->nlive; i++)
		nold += !c->live[i].stopped && c->live[i].old;
	c->nold = nold;
	if (ro_hold(c))
		return;
	for (size_t i = 0; i < c->nlive; i++) {
		struct live *l = &c->live[i];

		if (l->stopped || !l->old)
			continue;
		pl_stop(c, l->inst, "recreate: every old instance stops first");
		l->stopped = true;
	}
	pl_reason(c, PRIO_PROGRESS, "%s: recreate: stopping the old set first",
	    c->change);
}
