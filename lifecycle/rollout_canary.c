/*
 * rollout_canary.c - the canary strategy of cattle (Argo Rollouts'
 * canary with traffic routing): for each step, run enough new instances
 * for its weight (ceil(replicas * weight / 100), at least 1) beside the
 * whole old set, and once they are Run send that share of the traffic to
 * them (traffic SPLIT: new_weight to the new spec, the rest to the old);
 * pause (a duration, or -1: until `orchctl promote`); after the last step
 * the full new set comes up, takes all the traffic and the old set stops.
 *
 * The old set stays whole until the end, so an abort or a failure sends
 * the traffic back at once and only the canaries stop. Without a router
 * the controller approximates the weights with instance counts.
 *
 * Steps: the manifest's steps, then the full set (memo: rollout_step is
 * the index, rollout_step_at when the step's instances were all Run and
 * its weight set). Status numbers them as the user declared them: step
 * 1..N of N, then the full set (rollout.full, step N of N). A rollback, and a desired spec that is the one the old
 * set runs (a revert), go straight to the full set.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The weight of step i; i == nsteps is the full set. */
static int
step_weight(const struct strategy_spec *sg, int i)
{
	return i < (int)sg->nsteps ? sg->steps[i].weight : 100;
}

/* New instances step i needs: its share of replicas, rounded up, at least
 * one. */
static int
step_count(const struct pctx *c, int i)
{
	int w = step_weight(&c->spec->strategy, i);
	int n = (int)(((int64_t)c->target * w + 99) / 100);

	if (n < 1)
		n = 1;
	return n > c->target ? c->target : n;
}

/* Step i's canaries are not all Run yet (i == last: the full set). */
static void
starting_reason(struct pctx *c, int i, int last, int serving, int want)
{
	if (i == last)
		pl_reason(c, PRIO_PROGRESS, "%s: canary: full set after step %d/%d: "
		    "%d of %d new Run", c->change, last, last, serving, want);
	else
		pl_reason(c, PRIO_PROGRESS, "%s: canary step %d/%d: %d of %d new "
		    "Run, weight %d%%", c->change, i + 1, last, serving, want,
		    i > 0 ? step_weight(&c->spec->strategy, i - 1) : 0);
}

/* Step i's pause is over: the next step from the next pass, at once
 * (its canaries first). */
static void
advance(struct pctx *c, int i, int last)
{
	struct lifecycle_memo *pm = &c->p->memo;
	struct lifecycle_rollout_status *st = &c->p->rollout;

	plan_wake(c->p, c->in->now);
	pm->rollout_step = i + 1;
	pm->rollout_step_at = 0;
	pm->rollout_promoted = false;
	st->full = i + 1 == last;
	st->step = st->full ? last : i + 2;
	if (st->full)
		pl_reason(c, PRIO_PROGRESS, "%s: canary: step %d/%d done, full set "
		    "next", c->change, last, last);
	else
		pl_reason(c, PRIO_PROGRESS, "%s: canary step %d/%d", c->change, i + 2,
		    last);
}

/* The old set stays whole, but no more than replicas of it: specs
 * superseded mid-rollout go first, with what serves least. */
static void
old_at_most_target(struct pctx *c)
{
	int stable = 0;

	for (size_t k = 0; k < c->nlive; k++)
		stable += !c->live[k].stopped && c->live[k].old &&
		    cattle_pick_stable(c, &c->live[k]);
	cattle_trim(c, stable >= c->target ? 0 : c->target - stable, 0,
	    cattle_pick_between);
	cattle_trim(c, c->target, 0, cattle_pick_old);
}

/* Failed or aborted: all traffic back to the old set, the canaries go. */
static void
back_to_old(struct pctx *c)
{
	struct cattle_count n;

	c->p->traffic.new_weight = 0;
	cattle_trim(c, 0, c->target, cattle_pick_new);
	/* The old set whole again first (from the previous spec); a
	 * canary still serving stops once it is. */
	cattle_count(c, &n);
	if (n.live - n.new < c->target)
		ro_refill_old(c, c->target - (n.live - n.new));
}

void
plan_canary(struct pctx *c)
{
	struct lifecycle_memo *pm = &c->p->memo;
	struct lifecycle_rollout_status *st = &c->p->rollout;
	struct lifecycle_traffic *t = &c->p->traffic;
	const struct strategy_spec *sg = &c->spec->strategy;
	int last = (int)sg->nsteps, i = pm->rollout_step, want, weight;
	char why[LIFECYCLE_REASON_MAX], what[96];
	struct cattle_count n;
	bool hold;

	if (!c->rollout) {
		plan_cattle(c);
		return;
	}
	cattle_judge(c);
	for (size_t k = 0; k < c->nlive; k++)
		c->live[k].stale = c->live[k].old;
	if (i < 0 || i > last)
		i = last;
	if (c->in->flags.rollback || strcmp(pm->rollout_stable_fp, c->fp) == 0 ||
	    pm->rollout_stable_fp[0] == '\0')
		i = last;
	if (i != pm->rollout_step) {
		pm->rollout_step = i;
		pm->rollout_step_at = 0;
	}
	/* The numbers the user declared: step i + 1 of the manifest's
	 * last; after them the full set (step == steps, full). */
	st->steps = last;
	st->step = i < last ? i + 1 : last;
	st->full = i == last;
	t->mode = TRAFFIC_SPLIT;
	snprintf(t->new_fp, sizeof(t->new_fp), "%s", c->fp);

	if (c->ro_failed || c->aborted) {
		back_to_old(c);
		return;
	}
	hold = ro_hold(c);
	want = step_count(c, i);

	cattle_count(c, &n);
	if (n.stale > c->target)
		old_at_most_target(c);
	/* This step's canaries. */
	if (n.new > want)
		cattle_trim(c, want, 0, cattle_pick_new);
	else if (n.new < want && !hold) {
		for (int k = n.new; k < want; k++)
			if (pl_start(c, -1, NULL, "canary", why, sizeof(why)) < 0) {
				pl_reason(c, PRIO_STUCK, "canary waits: %s", why);
				break;
			}
	}
	cattle_count(c, &n);
	c->pending = n.pending > 0;
	if (n.new_serving >= want && pm->rollout_step_at == 0 && !hold)
		pm->rollout_step_at = c->in->now;
	weight = pm->rollout_step_at != 0 ? step_weight(sg, i) :
	    i > 0 ? step_weight(sg, i - 1) : 0;
	t->new_weight = weight;
	if (pm->rollout_step_at == 0) {
		starting_reason(c, i, last, n.new_serving, want);
		return;
	}
	if (i == last) {
		/* Done: the new set takes everything, the old set goes, only
		 * behind a whole new set. */
		if (!hold && n.new_serving >= want)
			cattle_trim(c, 0, 0, cattle_pick_old);
		return;
	}
	snprintf(what, sizeof(what), "canary step %d/%d at %d%%", i + 1, last,
	    weight);
	if (!hold && ro_wait(c, pm->rollout_step_at, sg->steps[i].pause_ms, what))
		advance(c, i, last);
}
