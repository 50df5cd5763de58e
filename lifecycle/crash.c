/*
 * crash.c - when an instance counts as ready, and what a service whose
 * cattle keep failing does (docs/lifecycle.md, Ready and Crash loops).
 *
 * Ready: Run, not failing its check, and either its health check passed
 * (the slave says Run for a checked instance only then) or, without a
 * check, up for the service's min_ready. A process that exits at once is
 * Run for a moment; counting that moment would call a crash loop healthy.
 *
 * A crash loop: cattle are never revived by their slave, the planner
 * replaces each failed one. Every failure of an instance of the desired
 * spec is counted in the memo (struct lifecycle_crash). The first of a
 * streak is replaced at once (one failure is not a loop); after that,
 * replacements wait an exponential backoff (Kubernetes'
 * CrashLoopBackOff): restart.backoff for the second failure in a row,
 * doubled for each one after, capped at
 * restart.max_backoff, jittered down by up to 25% so that services that
 * failed together do not come back together. The jitter is a hash of the
 * service name and the streak: lifecycle draws no random numbers, and the
 * same input must give the same plan. More than restart.limit failures in
 * a restart.window (a fixed window opened by its first failure, as Nomad's
 * restart tracker counts) spend the budget: the service is Failed with the
 * last failure's cause and nothing more is started, until a changed spec
 * (what runs, its health, min_ready or restart; or a rollback) is desired. restart.window without a failure is the
 * stable period that resets the streak and the count.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "units.h"

/* Up since its process started (the slave's clock); when that is unknown
 * or ahead of ours (a node's clock ahead would hold it not ready), since
 * the controller saw it Run. */
static int64_t
up_since(const struct pctx *c, const struct lifecycle_instance *inst)
{
	if (inst->started_at > 0 && inst->started_at <= c->in->now)
		return inst->started_at;
	return inst->ready_at;
}

bool
pl_ready(const struct pctx *c, const struct lifecycle_instance *inst)
{
	if (!pl_serving(inst))
		return false;
	if (inst->health == HEALTH_STATE_HEALTHY)
		return true;
	/* Up since its process started; an instance that gives no time
	 * at all is taken at its word, as before min_ready. */
	return up_since(c, inst) == 0 ||
	    c->in->now - up_since(c, inst) >= c->spec->min_ready_ms;
}

static void
crash_reset(struct lifecycle_crash *k)
{
	char fp[LIFECYCLE_FP_LEN];

	memcpy(fp, k->fp, sizeof(fp));
	memset(k, 0, sizeof(*k));
	memcpy(k->fp, fp, sizeof(k->fp));
}

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* What a crash loop is about: what runs (the fingerprint) and what judges
 * it (health, min_ready, restart). A change to any of them is a fix worth
 * trying: a new start. */
static void
crash_key(char out[LIFECYCLE_FP_LEN], const struct pctx *c)
{
	const struct service_spec *s = c->spec;
	const struct health_spec *h = &s->health;
	uint64_t x = 0xcbf29ce484222325ULL;

	x = mix(x, c->fp, strlen(c->fp));
	x = mix(x, &s->min_ready_ms, sizeof(s->min_ready_ms));
	x = mix(x, &s->restart.limit, sizeof(s->restart.limit));
	x = mix(x, &s->restart.window_ms, sizeof(s->restart.window_ms));
	x = mix(x, &s->restart.backoff_ms, sizeof(s->restart.backoff_ms));
	x = mix(x, &s->restart.max_backoff_ms, sizeof(s->restart.max_backoff_ms));
	x = mix(x, &h->type, sizeof(h->type));
	x = mix(x, &h->interval_ms, sizeof(h->interval_ms));
	x = mix(x, &h->timeout_ms, sizeof(h->timeout_ms));
	x = mix(x, &h->start_period_ms, sizeof(h->start_period_ms));
	x = mix(x, &h->healthy_threshold, sizeof(h->healthy_threshold));
	x = mix(x, &h->unhealthy_threshold, sizeof(h->unhealthy_threshold));
	snprintf(out, LIFECYCLE_FP_LEN, "%016llx", (unsigned long long)x);
}

void
crash_prepare(struct pctx *c)
{
	struct lifecycle_crash *k = &c->p->memo.crash;
	char key[LIFECYCLE_FP_LEN];

	crash_key(key, c);
	if (strcmp(k->fp, key) != 0) {
		/* A changed spec is desired (a fix, a rollback): a new start. */
		memset(k, 0, sizeof(*k));
		memcpy(k->fp, key, sizeof(k->fp));
		return;
	}
	if (!k->failed && k->last_at != 0 &&
	    c->in->now - k->last_at >= c->spec->restart.window_ms)
		crash_reset(k); /* stable for a window: forgiven */
}

static void
cause(char *out, size_t len, const struct lifecycle_instance *inst)
{
	if (inst->exit_signal > 0)
		snprintf(out, len, "killed by signal %d", inst->exit_signal);
	else if (inst->exit_code >= 0)
		snprintf(out, len, "exit status %d", inst->exit_code);
	else if (inst->reason != NULL && inst->reason[0] != '\0')
		snprintf(out, len, "%s", inst->reason);
	else
		snprintf(out, len, "%s Failed", inst->id);
}

/* A deterministic jitter in [0, n): FNV-1a of the name, mixed with the
 * streak. */
static int64_t
jitter(const char *name, int streak, int64_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	if (n <= 0)
		return 0;
	for (const char *s = name; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	h ^= (uint64_t)streak * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (int64_t)(h % (uint64_t)n);
}

int64_t
crash_backoff(const struct service_spec *s, const char *service, int streak)
{
	int64_t d = s->restart.backoff_ms, cap = s->restart.max_backoff_ms;

	/* One failure is not a loop: replaced at once, as always. */
	if (streak <= 1)
		return 0;
	for (int i = 2; i < streak && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	return d - jitter(service, streak, d / 4 + 1);
}

void
crash_note(struct pctx *c, const struct lifecycle_instance *inst)
{
	struct lifecycle_crash *k = &c->p->memo.crash;
	const struct restart_spec *r = &c->spec->restart;
	int64_t now = c->in->now;

	if (k->failed)
		return;
	if (k->count == 0 || now - k->window_at >= r->window_ms) {
		k->window_at = now;
		k->count = 0;
	}
	k->count++;
	k->streak++;
	k->last_at = now;
	cause(k->why, sizeof(k->why), inst);
	k->until = now + crash_backoff(c->spec, c->in->service, k->streak);
	if (k->count > r->limit)
		k->failed = true;
}

bool
crash_hold(struct pctx *c, char *why, size_t len)
{
	const struct lifecycle_crash *k = &c->p->memo.crash;
	char d[32], msg[LIFECYCLE_REASON_MAX];

	if (k->failed) {
		if (len > 0)
			snprintf(why, len, "crash loop: %s: restart budget spent",
			    k->why);
		return true;
	}
	if (k->until <= c->in->now)
		return false;
	orch_fmt_duration(d, sizeof(d), k->until - c->in->now);
	snprintf(msg, sizeof(msg), "crash loop: %s; %d failure%s in a row, "
	    "next start in %s (backoff)", k->why, k->streak,
	    k->streak == 1 ? "" : "s", d);
	if (len > 0)
		snprintf(why, len, "%s", msg);
	pl_reason(c, PRIO_STUCK, "%s", msg);
	return true;
}

/* "ID Failed on NODE (CAUSE); N failures, more than restart.limit L
 * within W" for a rollout whose new cattle spent the budget. */
static void
rollout_why(char *out, size_t len, const struct pctx *c, const char *window)
{
	const struct lifecycle_crash *k = &c->p->memo.crash;
	const struct lifecycle_instance *last = NULL;

	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];

		if (inst->state == INSTANCE_FAILED && inst->fingerprint != NULL &&
		    strcmp(inst->fingerprint, c->fp) == 0)
			last = inst;
	}
	snprintf(out, len, "%.160s%s%.128s%s%.200s%s; %d failures, more than "
	    "restart.limit %d within %s", last ? last->id : "", last ? " Failed on " : "",
	    last && last->node ? last->node : "", last ? " (" : "", k->why, last ? ")" : "",
	    k->count, c->spec->restart.limit, window);
}

void
crash_finish(struct pctx *c)
{
	const struct lifecycle_crash *k = &c->p->memo.crash;
	const struct restart_spec *r = &c->spec->restart;
	char w[32], why[LIFECYCLE_REASON_MAX];

	c->p->crashloop = k->failed || k->streak >= 2;
	if (!k->failed || c->ro_requested)
		return;
	orch_fmt_duration(w, sizeof(w), r->window_ms);
	/* The new version of a rollout keeps dying: the rollout failed
	 * (rolled back with auto_rollback), not only the service. */
	rollout_why(why, sizeof(why), c, w);
	if (ro_fail(c, why) && c->ro_requested)
		return;
	c->failed = true;
	pl_reason(c, PRIO_FAILED, "%s: %d failures, more than restart.limit %d "
	    "within %s: not replaced until a changed spec or a rollback",
	    k->why, k->count, r->limit, w);
}

/* Only a time still to come: a past one would re-plan at once, forever. */
static void
wake(struct pctx *c, int64_t at)
{
	if (at > c->in->now)
		plan_wake(c->p, at);
}

void
crash_wake(struct pctx *c)
{
	const struct lifecycle_crash *k = &c->p->memo.crash;

	if (!k->failed)
		wake(c, k->until);
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];

		if (pl_serving(inst) && !pl_ready(c, inst))
			wake(c, up_since(c, inst) + c->spec->min_ready_ms);
	}
}
