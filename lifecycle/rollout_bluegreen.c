/*
 * rollout_bluegreen.c - the blue-green strategy of cattle (Argo Rollouts'
 * BlueGreen): start a whole new set beside the old one, which keeps all
 * the traffic; when every new instance is Run and auto_promote has passed
 * (-1: on `orchctl promote`), switch the traffic at once (one change of
 * traffic.active_fp, so the two sets never serve together); keep the old
 * set for scale_down_delay, so going back is instant; then stop it.
 *
 * Steps: 1 start the new set, 2 switch, 3 scale the old set down (memo:
 * rollout_step 0..2, rollout_step_at when the new set was all Run,
 * rollout_switched_at). Old instances of a spec other than the active one
 * serve nothing and stop at once (a spec superseded mid-rollout). A failed
 * or aborted rollout sends the traffic back to the old set and stops the
 * new one.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* A failed or aborted rollout: back to the old set, which has kept
 * running, so this is instant; the new set goes. The old set is made whole
 * again first (from the previous spec); a canary still serving stops once
 * it is. */
static void
bg_back(struct pctx *c)
{
	struct cattle_count n;

	cattle_trim(c, 0, c->target, cattle_pick_new);
	cattle_count(c, &n);
	if (n.live - n.new < c->target)
		ro_refill_old(c, c->target - (n.live - n.new));
}

/* 1. The new set, whole, beside the old one. */
static void
bg_new_set(struct pctx *c, bool hold)
{
	char why[LIFECYCLE_REASON_MAX];
	struct cattle_count n;

	cattle_count(c, &n);
	if (n.new > c->target)
		cattle_trim(c, c->target, 0, cattle_pick_new);
	else if (n.new < c->target && !hold) {
		for (int k = n.new; k < c->target; k++)
			if (pl_start(c, -1, NULL, "blue-green: new set", why,
			    sizeof(why)) < 0) {
				pl_reason(c, PRIO_STUCK, "blue-green waits: %s", why);
				break;
			}
	}
}

/* 2. The switch, once the new set is all Run and auto_promote has passed
 * (or a promote). When the old set serves nothing (it died), there is
 * nothing to wait for. */
static void
bg_switch(struct pctx *c, const struct cattle_count *n, bool hold)
{
	struct lifecycle_memo *pm = &c->p->memo;
	int stable_serving = 0;

	for (size_t i = 0; i < c->nlive; i++)
		stable_serving += !c->live[i].stopped && c->live[i].old &&
		    c->live[i].run;
	if (n->new_serving < c->target || n->new < c->target) {
		pm->rollout_step = 0;
		pl_reason(c, PRIO_PROGRESS, "%s: blue-green: new set %d of %d Run",
		    c->change, n->new_serving, c->target);
		return;
	}
	if (pm->rollout_step_at == 0)
		pm->rollout_step_at = c->in->now;
	pm->rollout_step = 1;
	if (!hold && (stable_serving == 0 || ro_wait(c, pm->rollout_step_at,
	    c->spec->strategy.auto_promote_ms, "new set Run, switch"))) {
		pm->rollout_switched_at = c->in->now;
		pm->rollout_step = 2;
		/* The promote was for the switch; the old set's delay needs
		 * its own. */
		pm->rollout_promoted = false;
		c->promote = false;
	}
}

/* 3. Switched: the old set stays for scale_down_delay, so going back is
 * one switch while it runs; then it stops. */
static void
bg_scale_down(struct pctx *c, const struct cattle_count *n, bool hold)
{
	struct lifecycle_memo *pm = &c->p->memo;

	snprintf(c->p->traffic.active_fp, sizeof(c->p->traffic.active_fp), "%s", c->fp);
	if (n->stale > 0 && !hold && n->new_serving >= c->target &&
	    ro_wait(c, pm->rollout_switched_at, c->spec->strategy.scale_down_delay_ms,
	    "switched, old set kept"))
		cattle_trim(c, 0, 0, cattle_pick_old);
	else if (n->new_serving < c->target)
		pl_reason(c, PRIO_PROGRESS, "%s: blue-green: switched, new set %d of %d "
		    "Run, old set kept", c->change, n->new_serving, c->target);
}

void
plan_bluegreen(struct pctx *c)
{
	struct lifecycle_memo *pm = &c->p->memo;
	struct lifecycle_traffic *t = &c->p->traffic;
	const char *stable = pm->rollout_stable_fp;
	struct cattle_count n;
	bool hold;

	if (!c->rollout) {
		plan_cattle(c);
		return;
	}
	c->p->rollout.steps = 3;
	cattle_judge(c);
	/* The sets are by spec: a move off a Draining node waits for the
	 * end of the rollout. */
	for (size_t i = 0; i < c->nlive; i++)
		c->live[i].stale = c->live[i].old;
	/* The stable set is the new one already (a revert): it serves. */
	if (stable[0] == '\0' || strcmp(stable, c->fp) == 0) {
		if (pm->rollout_switched_at == 0)
			pm->rollout_switched_at = c->in->now;
		pm->rollout_step = 2;
	}
	/* Old instances outside the active set get no traffic: they go
	 * (while what serves stays at replicas). */
	cattle_trim(c, 0, c->target, cattle_pick_between);
	t->mode = TRAFFIC_ACTIVE;
	snprintf(t->active_fp, sizeof(t->active_fp), "%s", stable);

	if (c->ro_failed || c->aborted) {
		bg_back(c);
	} else {
		hold = ro_hold(c);
		bg_new_set(c, hold);
		cattle_count(c, &n);
		c->pending = n.pending > 0;
		if (pm->rollout_switched_at == 0)
			bg_switch(c, &n, hold);
		if (pm->rollout_switched_at != 0)
			bg_scale_down(c, &n, hold);
	}
	c->p->rollout.step = pm->rollout_step + 1;
}
