/*
 * rollout.c - what every rollout strategy shares: the strategy's numbers,
 * the memo of a rollout (reset when a new spec is desired), the steering
 * flags (promote, abort, paused), failure of a rollout and the
 * auto_rollback contract, the old set refilled from the previous spec,
 * and the progress shown in status.
 *
 * The contract of a failed rollout (docs/lifecycle.md, Strategies): a new
 * instance Failed, unhealthy, restarted past its restart limit, or the
 * progress_deadline missed fails the rollout to that spec; the memo keeps
 * its fingerprint (rollout_failed_fp) so no later pass takes a step
 * towards it. With auto_rollback and a previous spec the plan is Rollback
 * with rollout.rollback_requested: the controller makes prev the desired
 * spec and sets flags.rollback, and the planner walks back with the same
 * strategy's safety rules (its pauses and promote skipped) to Run. Without
 * auto_rollback, or without a previous spec to go to, the service is
 * Failed and the old instances keep running (without a previous spec and
 * with auto_rollback on, a failing instance is only replaced and the
 * deadline decides). A rollout that is itself a
 * rollback (flags.rollback) does not roll back again: failing instances
 * are replaced and only its deadline fails it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "internal.h"
#include "units.h"

/* A count or a percentage of n: a surge rounds up, an unavailable count
 * rounds down (Kubernetes), so a percentage never lets more go down than
 * asked. */
static int
resolve(struct count_or_pct v, int n, bool up)
{
	if (!v.percent)
		return v.value;
	if (up)
		return (int)(((int64_t)n * v.value + 99) / 100);
	return (int)((int64_t)n * v.value / 100);
}

static const char *
ver(const struct service_spec *s)
{
	return s != NULL && s->version != NULL ? s->version : "?";
}

bool
ro_available(const struct pctx *c, const struct lifecycle_instance *inst)
{
	int64_t since = inst->ready_at ? inst->ready_at : inst->started_at;

	if (!pl_ready(c, inst))
		return false;
	if (c->spec->strategy.min_ready_ms <= 0 ||
	    c->in->now - since >= c->spec->strategy.min_ready_ms)
		return true;
	plan_wake(c->p, since + c->spec->strategy.min_ready_ms);
	return false;
}

/* "18:20:08 UTC" of ms since the epoch (the controller's clock; pure). */
static void
fmt_clock(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "%lld ms", (long long)ms);
}

/* Fingerprint with the most serving (then live) instances that is not the
 * desired one; ties by fingerprint, so the choice is deterministic. */
static void
most_common_old(const struct pctx *c, char out[LIFECYCLE_FP_LEN])
{
	int best = -1;

	out[0] = '\0';
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *a = &c->in->instances[i];
		int n = 0;

		if (a->fingerprint == NULL || a->state == INSTANCE_DESTROY ||
		    strcmp(a->fingerprint, c->fp) == 0)
			continue;
		for (size_t j = 0; j < c->in->ninstances; j++) {
			const struct lifecycle_instance *b = &c->in->instances[j];

			if (b->fingerprint != NULL && b->state != INSTANCE_DESTROY &&
			    strcmp(a->fingerprint, b->fingerprint) == 0)
				n += pl_serving(b) ? 1000 : 1;
		}
		if (n > best || (n == best && strcmp(a->fingerprint, out) < 0)) {
			best = n;
			snprintf(out, LIFECYCLE_FP_LEN, "%s", a->fingerprint);
		}
	}
}

static bool
fp_serving(const struct pctx *c, const char *fp)
{
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *a = &c->in->instances[i];

		if (a->fingerprint != NULL && pl_serving(a) &&
		    strcmp(a->fingerprint, fp) == 0)
			return true;
	}
	return false;
}

/*
 * The spec that serves while the rollout goes on. A rollout that replaces
 * a rollout in progress starts from what served at its last pass: the
 * spec it had switched to (blue-green), else the one it started from;
 * instances of a spec in between count as old. Otherwise (or when that
 * spec serves nothing any more) the old spec with the most serving
 * instances.
 */
static void
pick_stable(struct pctx *c, const struct lifecycle_memo *m, bool fresh)
{
	struct lifecycle_memo *pm = &c->p->memo;
	const char *cand = NULL;

	if (fresh && m != NULL && m->rollout_fp[0] != '\0' &&
	    m->rollout_switched_at != 0)
		cand = m->rollout_fp;
	else if (m != NULL && m->rollout_stable_fp[0] != '\0')
		cand = m->rollout_stable_fp;
	if (cand != NULL && (strcmp(cand, c->fp) == 0 || fp_serving(c, cand))) {
		snprintf(pm->rollout_stable_fp, LIFECYCLE_FP_LEN, "%s", cand);
		return;
	}
	most_common_old(c, pm->rollout_stable_fp);
}

/*
 * A new instance that fails the rollout, with why; NULL when none.
 * A Failed cattle instance alone does not: it may have been killed from
 * outside (a kill -9, an OOM kill of a neighbour's making), and cattle
 * are replaced. It is counted against the service's restart budget
 * (crash.c), and the rollout fails once that is spent (crash_finish ->
 * ro_fail): a version whose instances keep dying is rolled back, one
 * kill is not a failed version (a Kubernetes Deployment's progress
 * deadline, Nomad's health budget). An unhealthy instance, or a pet past
 * its restart limit, fails it.
 */
static const struct lifecycle_instance *
new_failing(const struct pctx *c, char *why, size_t len)
{
	int limit = c->spec->restart.limit;

	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];

		if (inst->state == INSTANCE_DESTROY || inst->fingerprint == NULL ||
		    strcmp(inst->fingerprint, c->fp) != 0 ||
		    policy_node_state(c->in->nodes, c->in->nnodes, inst->node) ==
		    NODE_LOST)
			continue;
		if (inst->state == INSTANCE_FAILED && c->spec->kind == KIND_CATTLE)
			continue; /* replaced, and counted */
		if (inst->state == INSTANCE_FAILED)
			snprintf(why, len, "%s Failed on %s", inst->id,
			    inst->node ? inst->node : "?");
		else if (inst->state == INSTANCE_RUN &&
		    inst->health == HEALTH_STATE_UNHEALTHY)
			snprintf(why, len, "%s unhealthy on %s", inst->id,
			    inst->node ? inst->node : "?");
		else if (limit > 0 && inst->restarts > limit)
			snprintf(why, len, "%s restarted %d times (restart limit %d)",
			    inst->id, inst->restarts, limit);
		else
			continue;
		return inst;
	}
	return NULL;
}

static void
force_reason(struct pctx *c, int prio, const char *s)
{
	snprintf(c->p->reason, sizeof(c->p->reason), "%s", s);
	if (c->prio < prio)
		c->prio = prio;
}

/* The rollout to fp failed for why: roll back or stop. */
static void
fail_rollout(struct pctx *c, const char *why)
{
	struct lifecycle_memo *pm = &c->p->memo;
	char r[LIFECYCLE_REASON_MAX];

	c->ro_failed = true;
	snprintf(pm->rollout_failed_fp, LIFECYCLE_FP_LEN, "%s", c->fp);
	if (why != pm->rollout_failed_why)
		snprintf(pm->rollout_failed_why, sizeof(pm->rollout_failed_why),
		    "%s", why);
	/* Whatever was switched goes back: the old set serves again. */
	pm->rollout_switched_at = 0;
	if (c->spec->strategy.auto_rollback && c->prev != NULL &&
	    !c->in->flags.rollback) {
		c->ro_requested = true;
		c->p->rollout.rollback_requested = true;
		snprintf(r, sizeof(r), "rollout to %s failed: %s; rolling back to %s",
		    ver(c->spec), why, ver(c->prev));
	} else {
		snprintf(r, sizeof(r), "rollout to %s failed: %s%s", ver(c->spec),
		    why, c->prev == NULL || c->in->flags.rollback ? "" :
		    " (auto_rollback off: a person decides)");
	}
	force_reason(c, PRIO_FAILED, r);
}

bool
ro_fail(struct pctx *c, const char *why)
{
	struct lifecycle_traffic *t = &c->p->traffic;

	if (!c->rollout || c->ro_failed)
		return false;
	fail_rollout(c, why);
	/* The strategy's planner ran before this was known: the old set
	 * takes the traffic back in this same plan. */
	if (t->mode == TRAFFIC_SPLIT)
		t->new_weight = 0;
	else if (t->mode == TRAFFIC_ACTIVE && c->p->memo.rollout_stable_fp[0] != '\0')
		snprintf(t->active_fp, sizeof(t->active_fp), "%s", c->p->memo.rollout_stable_fp);
	return true;
}

static void
reset_progress(struct lifecycle_memo *pm)
{
	pm->rollout_step = 0;
	pm->rollout_step_at = 0;
	pm->rollout_promoted = false;
	pm->rollout_switched_at = 0;
}

/* The strategy's bounds for this pass, and the previous spec when it
 * differs from the desired one. */
static void
ro_bounds(struct pctx *c)
{
	const struct strategy_spec *sg = &c->spec->strategy;

	c->p->rollout.strategy = sg->type;
	c->surge = resolve(sg->max_surge, c->target, true);
	c->unavail = resolve(sg->max_unavailable, c->target, false);
	if (c->surge == 0 && c->unavail == 0)
		c->surge = 1; /* could never progress: Kubernetes' fallback */
	if (c->unavail > c->target)
		c->unavail = c->target;
	if (c->in->prev != NULL) {
		lifecycle_fingerprint(c->prev_fp, c->in->prev);
		if (strcmp(c->prev_fp, c->fp) != 0)
			c->prev = c->in->prev;
	}
}

/* No rollout: forget every rollout's memory, and take the steering
 * flags (nothing to promote or abort). */
static void
ro_settled(struct pctx *c)
{
	struct lifecycle_memo *pm = &c->p->memo;

	reset_progress(pm);
	pm->rollout_stable_fp[0] = '\0';
	pm->rollout_failed_fp[0] = '\0';
	pm->rollout_failed_why[0] = '\0';
	pm->rollout_aborted_fp[0] = '\0';
	c->p->rollout.promote_taken = c->in->flags.promote;
	c->p->rollout.abort_taken = c->in->flags.abort;
}

/* promote: after an abort it retries; else it ends the current wait now
 * or, when the rollout is not waiting yet, the next one. */
static void
ro_promote(struct pctx *c)
{
	struct lifecycle_memo *pm = &c->p->memo;

	if (c->in->flags.promote) {
		c->p->rollout.promote_taken = true;
		if (c->aborted) {
			pm->rollout_aborted_fp[0] = '\0';
			c->aborted = false;
			reset_progress(pm);
		} else {
			pm->rollout_promoted = true;
		}
	}
	c->promote = pm->rollout_promoted;
}

/* abort: canary and blue-green (and a first deploy) go back to the old
 * set at once; rolling and recreate have replaced old instances already,
 * so going back is a rollback. true: the pass's rollout work is decided. */
static bool
ro_abort(struct pctx *c)
{
	struct lifecycle_memo *pm = &c->p->memo;
	const struct strategy_spec *sg = &c->spec->strategy;
	bool cattle_split = c->spec->kind == KIND_CATTLE &&
	    (sg->type == STRATEGY_CANARY || sg->type == STRATEGY_BLUE_GREEN);
	char why[LIFECYCLE_REASON_MAX];

	if (c->in->flags.abort) {
		c->p->rollout.abort_taken = true;
		if (!c->aborted && !c->in->flags.rollback &&
		    pm->rollout_failed_fp[0] == '\0') {
			if (cattle_split || c->prev == NULL) {
				snprintf(pm->rollout_aborted_fp, LIFECYCLE_FP_LEN, "%s", c->fp);
				c->aborted = true;
				pm->rollout_switched_at = 0;
			} else {
				c->ro_failed = true;
				c->ro_requested = true;
				c->p->rollout.rollback_requested = true;
				snprintf(pm->rollout_failed_fp, LIFECYCLE_FP_LEN, "%s", c->fp);
				snprintf(pm->rollout_failed_why,
				    sizeof(pm->rollout_failed_why), "aborted");
				snprintf(why, sizeof(why), "aborted: rolling back to %s",
				    ver(c->prev));
				force_reason(c, PRIO_FAILED, why);
				return true;
			}
		}
	}
	if (!c->aborted)
		return false;
	/* No clock runs while the old spec is held. */
	c->rollout_expired = false;
	pm->rollout_since = c->in->now;
	snprintf(why, sizeof(why), "aborted: rollout to %s aborted, %s runs "
	    "(promote retries, a new apply replaces it)", ver(c->spec),
	    c->prev ? ver(c->prev) : "the old spec");
	force_reason(c, PRIO_FAILED, why);
	return true;
}

/* Has the rollout failed: a failure recorded for this spec, the progress
 * deadline, or a failing new instance (within the crash budget, see
 * new_failing)? */
static void
ro_judge(struct pctx *c)
{
	struct lifecycle_memo *pm = &c->p->memo;
	const struct strategy_spec *sg = &c->spec->strategy;
	char why[LIFECYCLE_REASON_MAX], expired[96] = "";

	if (c->rollout_expired) {
		char d[32];

		orch_fmt_duration(d, sizeof(d), sg->progress_deadline_ms);
		snprintf(expired, sizeof(expired), "did not finish within "
		    "progress_deadline %s", d);
	}
	if (pm->rollout_failed_fp[0] != '\0') {
		fail_rollout(c, c->rollout_expired ? expired :
		    pm->rollout_failed_why[0] ? pm->rollout_failed_why :
		    "a new instance failed");
		return;
	}
	if (c->in->flags.rollback) {
		/* A rollback does not roll back: failing instances are
		 * replaced, the deadline alone fails it (Failed). */
		if (c->rollout_expired)
			c->ro_failed = true;
		return;
	}
	/* With nothing to roll back to (no previous spec given) and
	 * auto_rollback on, a failing instance is only replaced, as outside
	 * a rollout, and the deadline decides. */
	if ((c->prev != NULL || !sg->auto_rollback) &&
	    new_failing(c, why, sizeof(why)) != NULL) {
		fail_rollout(c, why);
	} else if (c->rollout_expired) {
		fail_rollout(c, expired);
	}
}

void
rollout_prepare(struct pctx *c)
{
	const struct lifecycle_memo *m = c->in->memo;
	struct lifecycle_memo *pm = &c->p->memo;
	bool fresh;

	ro_bounds(c);
	if (!c->rollout) {
		ro_settled(c);
		return;
	}
	/* A new spec desired: a new rollout, from where the cluster stands. */
	fresh = m == NULL || strcmp(m->rollout_fp, c->fp) != 0;
	if (fresh)
		reset_progress(pm);
	pick_stable(c, m, fresh);
	/* A failure holds while its spec is desired, unless a rollback
	 * (a person's, or ours) asks for that spec again. */
	if (strcmp(pm->rollout_failed_fp, c->fp) != 0 || c->in->flags.rollback) {
		pm->rollout_failed_fp[0] = '\0';
		pm->rollout_failed_why[0] = '\0';
	}
	if (strcmp(pm->rollout_aborted_fp, c->fp) != 0 || c->in->flags.rollback)
		pm->rollout_aborted_fp[0] = '\0';
	c->aborted = pm->rollout_aborted_fp[0] != '\0';
	ro_promote(c);
	if (ro_abort(c))
		return;
	ro_judge(c);
}

bool
ro_hold(struct pctx *c)
{
	if (c->ro_failed || c->aborted)
		return true;
	if (c->in->flags.paused) {
		pl_reason(c, PRIO_STUCK, "paused");
		c->p->rollout.phase = ROLLOUT_PAUSED;
		return true;
	}
	if (!c->deps_ok) {
		pl_reason(c, PRIO_DEPS, "%s", c->deps_why);
		return true;
	}
	return false;
}

bool
ro_wait(struct pctx *c, int64_t since, int64_t ms, const char *what)
{
	struct lifecycle_rollout_status *st = &c->p->rollout;
	char d[32], at[32];

	if (c->promote || c->in->flags.rollback)
		return true;
	/* A wait is not slowness: the progress deadline counts from its end
	 * (Argo Rollouts does not count a pause either). */
	c->p->memo.rollout_since = c->in->now;
	if (ms < 0) {
		st->phase = ROLLOUT_WAIT_PROMOTE;
		st->waiting_promote = true;
		pl_reason(c, PRIO_PROGRESS, "%s: %s: waiting for promote", c->change,
		    what);
		return false;
	}
	if (c->in->now - since >= ms)
		return true;
	st->phase = ROLLOUT_WAITING;
	st->wait_until = since + ms;
	/* A timer, due at its time (the controller plans again then); the
	 * reason names the time, which stays true, not a countdown that
	 * would be stale until the next plan. */
	plan_wake(c->p, since + ms);
	orch_fmt_duration(d, sizeof(d), ms);
	fmt_clock(at, sizeof(at), since + ms);
	pl_reason(c, PRIO_PROGRESS, "%s: %s: waits %s, until %s", c->change, what,
	    d, at);
	return false;
}

int
ro_refill_old(struct pctx *c, int n)
{
	const struct service_spec *spec = c->spec;
	char fp[LIFECYCLE_FP_LEN], why[LIFECYCLE_REASON_MAX];
	int started = 0;

	/* Only the set that serves is made whole: instances of another
	 * spec would only be stopped again. */
	if (c->prev == NULL || n <= 0 || (c->p->memo.rollout_stable_fp[0] != '\0' &&
	    strcmp(c->p->memo.rollout_stable_fp, c->prev_fp) != 0))
		return 0;
	memcpy(fp, c->fp, sizeof(fp));
	c->spec = c->prev;
	memcpy(c->fp, c->prev_fp, sizeof(c->fp));
	for (int k = 0; k < n; k++) {
		if (pl_start(c, -1, NULL, "make the old set whole", why,
		    sizeof(why)) < 0) {
			pl_reason(c, PRIO_STUCK, "old set not whole: %s", why);
			break;
		}
		started++;
	}
	c->spec = spec;
	memcpy(c->fp, fp, sizeof(c->fp));
	return started;
}

void
rollout_finish(struct pctx *c)
{
	struct lifecycle_rollout_status *st = &c->p->rollout;
	struct lifecycle_traffic *t = &c->p->traffic;
	int serving = 0, new_serving = 0;

	st->nold = st->nnew = 0;
	for (size_t i = 0; i < c->nlive; i++) {
		const struct live *l = &c->live[i];

		if (l->stopped)
			continue;
		if (l->old) {
			st->nold++;
		} else {
			st->nnew++;
			new_serving += l->run;
		}
		serving += l->run;
	}
	/* The progress deadline is a time too (plan.c's rollout_clock fails
	 * the rollout once it is passed). */
	if (c->rollout && !c->rollout_expired && !c->ro_failed && !c->aborted &&
	    c->spec->strategy.progress_deadline_ms > 0 && c->p->memo.rollout_since > 0)
		plan_wake(c->p, c->p->memo.rollout_since +
		    c->spec->strategy.progress_deadline_ms + 1);
	if (!c->rollout) {
		st->phase = ROLLOUT_NONE;
		st->step = st->steps = 0;
		st->weight = 100;
		memset(t, 0, sizeof(*t));
		return;
	}
	if (c->ro_failed)
		st->phase = ROLLOUT_FAILED;
	else if (c->aborted)
		st->phase = ROLLOUT_ABORTED;
	else if (c->in->flags.paused && (st->phase == ROLLOUT_NONE ||
	    st->phase == ROLLOUT_PROGRESS))
		st->phase = ROLLOUT_PAUSED;
	else if (st->phase == ROLLOUT_NONE)
		st->phase = ROLLOUT_PROGRESS;
	switch (t->mode) {
	case TRAFFIC_SPLIT:
		st->weight = t->new_weight;
		break;
	case TRAFFIC_ACTIVE:
		st->weight = strcmp(t->active_fp, c->fp) == 0 ? 100 : 0;
		break;
	default:
		st->weight = serving > 0 ? new_serving * 100 / serving : 0;
		break;
	}
}
