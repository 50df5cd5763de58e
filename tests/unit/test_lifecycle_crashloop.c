/*
 * test_lifecycle_crashloop.c - lifecycle/crash.c: when an instance counts
 * as ready (min_ready, a passed check), the backoff of a crash loop
 * (first failure replaced at once, then doubling, capped, jittered,
 * deterministic), the restart budget (Failed with the cause, one alert,
 * nothing more started), the reset after a stable window and by a changed
 * spec (issue 10 #1).
 *
 * The harness plays the controller around lifecycle_plan(): a start is a
 * new instance that the "slave" makes Run at once (no health check:
 * exactly what a process that exits at once looks like for a moment); a
 * stop removes the instance; the memo and the state are fed back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "lifecycle.h"
#include "manifest.h"

#define MAXI 16

struct fix {
	struct manifest *m;
	const struct service_spec *spec;
	struct lifecycle_memo memo;
	enum service_state state;
	struct lifecycle_instance inst[MAXI];
	char ids[MAXI][LIFECYCLE_ID_MAX];
	char fps[MAXI][LIFECYCLE_FP_LEN];
	size_t n;
	struct lifecycle_node nodes[2];
	int64_t now;
	int starts, alerts;
	char alert[LIFECYCLE_REASON_MAX];
};

static struct manifest *
parse(const char *yaml)
{
	struct manifest *m = NULL;

	REQUIRE(manifest_parse(&m, NULL, yaml, strlen(yaml), "t.yaml") == 0);
	return m;
}

/* web: replicas, min_ready, restart: {limit, backoff 100ms, max 1s,
 * window 10s}; health http when checked. */
static void
fix_init(struct fix *f, int replicas, const char *min_ready, int limit,
    const char *cmd)
{
	char yaml[1024];

	memset(f, 0, sizeof(*f));
	snprintf(yaml, sizeof(yaml),
	    "architecture: t\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"%s\"]\n"
	    "    replicas: %d\n"
	    "%s%s%s"
	    "    restart: {limit: %d, window: 10s, backoff: 100ms, max_backoff: 1s}\n",
	    cmd, replicas, min_ready ? "    min_ready: " : "",
	    min_ready ? min_ready : "", min_ready ? "\n" : "", limit);
	f->m = parse(yaml);
	f->spec = manifest_service(f->m, "web");
	f->state = SERVICE_PROVISION;
	f->nodes[0] = (struct lifecycle_node){.name = "node-a", .state = NODE_READY};
	f->nodes[1] = (struct lifecycle_node){.name = "node-b", .state = NODE_READY};
	f->now = 1000000;
}

static void
fix_free(struct fix *f)
{
	lifecycle_memo_clear(&f->memo);
	manifest_free(f->m);
}

static void
drop(struct fix *f, const char *id)
{
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->inst[i].id, id) != 0)
			continue;
		for (size_t j = i; j + 1 < f->n; j++) {
			f->inst[j] = f->inst[j + 1];
			memcpy(f->ids[j], f->ids[j + 1], sizeof(f->ids[j]));
			memcpy(f->fps[j], f->fps[j + 1], sizeof(f->fps[j]));
			f->inst[j].id = f->ids[j];
			f->inst[j].fingerprint = f->fps[j];
		}
		f->n--;
		return;
	}
}

/* Plan once (twice: both must be equal) and apply; the plan is the
 * caller's. */
static struct lifecycle_plan *
step(struct fix *f)
{
	struct lifecycle_input in = {
		.service = "web", .spec = f->spec, .state = f->state,
		.instances = f->inst, .ninstances = f->n,
		.nodes = f->nodes, .nnodes = 2, .memo = &f->memo, .now = f->now,
	};
	struct lifecycle_plan *p = NULL, *q = NULL;
	char *a, *b;

	REQUIRE(lifecycle_plan(&p, &in) == 0);
	REQUIRE(lifecycle_plan(&q, &in) == 0);
	a = lifecycle_plan_format(p);
	b = lifecycle_plan_format(q);
	CHECK_STR(a, b);
	CHECK_STR(p->reason, q->reason);
	CHECK_EQ_INT(p->wake_at, q->wake_at);
	free(a);
	free(b);
	lifecycle_plan_free(q);
	for (size_t k = 0; k < p->nactions; k++) {
		const struct lifecycle_action *x = &p->actions[k];

		switch (x->type) {
		case LIFECYCLE_START:
			REQUIRE(f->n < MAXI);
			memset(&f->inst[f->n], 0, sizeof(f->inst[0]));
			snprintf(f->ids[f->n], sizeof(f->ids[0]), "%s", x->id);
			memcpy(f->fps[f->n], x->fingerprint, sizeof(f->fps[0]));
			f->inst[f->n].id = f->ids[f->n];
			f->inst[f->n].node = "node-a";
			f->inst[f->n].fingerprint = f->fps[f->n];
			f->inst[f->n].state = INSTANCE_RUN; /* no check: Run at once */
			f->inst[f->n].started_at = f->now;
			f->inst[f->n].exit_code = -1;
			f->n++;
			f->starts++;
			break;
		case LIFECYCLE_STOP:
			drop(f, x->id);
			break;
		case LIFECYCLE_ALERT:
			f->alerts++;
			snprintf(f->alert, sizeof(f->alert), "%s", x->reason);
			break;
		case LIFECYCLE_SET_STATE:
			f->state = x->state;
			break;
		default:
			break;
		}
	}
	lifecycle_memo_clear(&f->memo);
	f->memo = p->memo;
	memset(&p->memo, 0, sizeof(p->memo));
	return p;
}

static void
step_free(struct fix *f)
{
	lifecycle_plan_free(step(f));
}

/* Every instance exits with code (signal when sig > 0). */
static void
crash_all(struct fix *f, int code, int sig, const char *reason)
{
	for (size_t i = 0; i < f->n; i++) {
		f->inst[i].state = INSTANCE_FAILED;
		f->inst[i].exit_code = sig > 0 ? -1 : code;
		f->inst[i].exit_signal = sig;
		f->inst[i].reason = reason;
		f->inst[i].started_at = 0;
	}
}

/* ---- ready ----------------------------------------------------------- */

TEST(crashloop__run_counts_only_after_min_ready)
{
	struct fix f;
	struct lifecycle_plan *p;

	fix_init(&f, 2, NULL, 5, "exec sleep 600"); /* default min_ready 1s */
	CHECK_EQ_INT(f.spec->min_ready_ms, 1000);
	step_free(&f);
	CHECK_EQ_INT(f.n, 2);
	/* Run by the slave's word, up 999ms: not ready, and the plan says
	 * when to look again. */
	f.now += 999;
	p = step(&f);
	CHECK_EQ_INT(p->ready, 0);
	CHECK(p->state != SERVICE_RUN);
	CHECK_EQ_INT(p->wake_at, f.now + 1);
	lifecycle_plan_free(p);
	f.now += 1;
	p = step(&f);
	CHECK_EQ_INT(p->ready, 2);
	CHECK_EQ_INT(p->state, SERVICE_RUN);
	CHECK_EQ_INT(p->wake_at, 0);
	lifecycle_plan_free(p);
	fix_free(&f);
}

TEST(crashloop__passed_check_is_ready_at_once)
{
	struct fix f;
	struct lifecycle_plan *p;

	fix_init(&f, 1, "30s", 5, "exec sleep 600");
	step_free(&f);
	f.inst[0].health = HEALTH_STATE_HEALTHY;
	p = step(&f);
	CHECK_EQ_INT(p->ready, 1);
	CHECK_EQ_INT(p->state, SERVICE_RUN);
	lifecycle_plan_free(p);
	/* min_ready 0: ready at start, as before. */
	fix_free(&f);
	fix_init(&f, 1, "0s", 5, "exec sleep 600");
	step_free(&f);
	p = step(&f);
	CHECK_EQ_INT(p->ready, 1);
	lifecycle_plan_free(p);
	fix_free(&f);
}

/* A node whose clock runs ahead: its started_at is in our future; the
 * time the controller saw it Run counts instead. */
TEST(crashloop__node_clock_ahead_uses_ready_at)
{
	struct fix f;
	struct lifecycle_plan *p;

	fix_init(&f, 1, NULL, 5, "exec sleep 600");
	step_free(&f);
	f.inst[0].started_at = f.now + 3600000;
	f.inst[0].ready_at = f.now;
	f.now += 500;
	p = step(&f);
	CHECK_EQ_INT(p->ready, 0);
	CHECK_EQ_INT(p->wake_at, f.now + 500);
	lifecycle_plan_free(p);
	f.now += 500;
	p = step(&f);
	CHECK_EQ_INT(p->ready, 1);
	lifecycle_plan_free(p);
	fix_free(&f);
}

/* ---- backoff --------------------------------------------------------- */

TEST(crashloop__backoff_doubles_capped_jittered)
{
	struct fix f;
	struct lifecycle_plan *p;
	int64_t expect = 100;

	fix_init(&f, 1, NULL, 1000, "exit 1");
	step_free(&f);
	/* The first failure is replaced at once. */
	crash_all(&f, 1, 0, NULL);
	p = step(&f);
	CHECK_EQ_INT(f.starts, 2);
	CHECK_EQ_INT(p->crashloop, false);
	lifecycle_plan_free(p);
	/* Then each failure in a row waits 100ms, 200ms, ... 1s (capped),
	 * jittered down by at most 25%: no start before, one at the end. */
	for (int streak = 2; streak <= 8; streak++) {
		int64_t wait, failed_at = f.now;
		int starts = f.starts;

		crash_all(&f, 1, 0, NULL);
		p = step(&f);
		CHECK(p->crashloop);
		CHECK_EQ_INT(f.starts, starts);
		CHECK_CONTAINS(p->reason, "crash loop: exit status 1");
		wait = p->wake_at - failed_at;
		if (wait > expect || wait < expect - expect / 4)
			check_fail(__FILE__, __LINE__, "streak %d: backoff %lldms, "
			    "want %lld less at most 25%%", streak, (long long)wait,
			    (long long)expect);
		lifecycle_plan_free(p);
		f.now = failed_at + wait - 1;
		step_free(&f);
		CHECK_EQ_INT(f.starts, starts);
		f.now = failed_at + wait;
		step_free(&f);
		CHECK_EQ_INT(f.starts, starts + 1);
		expect = expect * 2 > 1000 ? 1000 : expect * 2;
	}
	fix_free(&f);
}

/* The jitter is a function of the name and the streak: the same for the
 * same service, and services failing together do not all come back in
 * lockstep. */
TEST(crashloop__jitter_deterministic_per_service)
{
	int64_t waits[2][2];
	const char *names[2] = {"web", "api"};

	for (int run = 0; run < 2; run++)
		for (int s = 0; s < 2; s++) {
			struct fix f;
			struct lifecycle_plan *p;
			struct lifecycle_input in;

			fix_init(&f, 1, NULL, 1000, "exit 1");
			step_free(&f);
			crash_all(&f, 1, 0, NULL);
			step_free(&f);
			for (int k = 0; k < 3; k++) {
				crash_all(&f, 1, 0, NULL);
				memset(&in, 0, sizeof(in));
				in.service = names[s];
				in.spec = f.spec;
				in.state = f.state;
				in.instances = f.inst;
				in.ninstances = f.n;
				in.nodes = f.nodes;
				in.nnodes = 2;
				in.memo = &f.memo;
				in.now = f.now;
				REQUIRE(lifecycle_plan(&p, &in) == 0);
				waits[run][s] = p->wake_at - f.now;
				lifecycle_plan_free(p);
				p = step(&f);
				f.now = p->wake_at;
				lifecycle_plan_free(p);
				step_free(&f);
			}
			fix_free(&f);
		}
	CHECK_EQ_INT(waits[0][0], waits[1][0]);
	CHECK_EQ_INT(waits[0][1], waits[1][1]);
	CHECK(waits[0][0] != waits[0][1]);
}

/* ---- the budget ------------------------------------------------------ */

TEST(crashloop__budget_spent_failed_with_cause_alert_once)
{
	static const struct {
		int code, sig;
		const char *reason, *want;
	} causes[] = {
		{1, 0, "exited with code 1", "exit status 1"},
		{-1, 9, "killed by signal 9", "killed by signal 9"},
		{-1, 0, "artifact: checksum mismatch for file:///a.tar: expected "
		    "00, got 11", "checksum mismatch for file:///a.tar: expected 00, got 11"},
	};

	for (size_t c = 0; c < sizeof(causes) / sizeof(causes[0]); c++) {
		struct fix f;
		struct lifecycle_plan *p = NULL;
		int starts;

		fix_init(&f, 2, NULL, 3, "exit 1");
		step_free(&f);
		/* 2 replicas, limit 3: 2 failures, then 2 more spend it. */
		for (int round = 0; round < 2; round++) {
			crash_all(&f, causes[c].code, causes[c].sig, causes[c].reason);
			lifecycle_plan_free(p);
			p = step(&f);
			if (p->wake_at > 0) {
				f.now = p->wake_at;
				step_free(&f);
			}
		}
		CHECK_EQ_INT(p->state, SERVICE_FAILED);
		CHECK_EQ_INT(f.state, SERVICE_FAILED);
		CHECK_CONTAINS(p->reason, causes[c].want);
		CHECK_CONTAINS(p->reason, "more than restart.limit 3 within 10s");
		CHECK_EQ_INT(f.alerts, 1);
		CHECK_CONTAINS(f.alert, causes[c].want);
		CHECK_EQ_INT(f.n, 0);
		lifecycle_plan_free(p);
		/* It stays so: nothing starts, no second alert, no wake-up. */
		starts = f.starts;
		for (int k = 0; k < 5; k++) {
			f.now += 60000;
			p = step(&f);
			CHECK_EQ_INT(p->state, SERVICE_FAILED);
			CHECK_EQ_INT(p->wake_at, 0);
			CHECK(p->crashloop);
			lifecycle_plan_free(p);
		}
		CHECK_EQ_INT(f.starts, starts);
		CHECK_EQ_INT(f.alerts, 1);
		CHECK_CONTAINS(f.memo.crash.why, causes[c].want);
		fix_free(&f);
	}
}

/* The memo is what survives a controller restart: a copy of it gives the
 * same plan. */
TEST(crashloop__memo_copy_keeps_backoff)
{
	struct fix f;
	struct lifecycle_memo copy;
	struct lifecycle_plan *p;
	int64_t wake;

	fix_init(&f, 1, NULL, 1000, "exit 1");
	step_free(&f);
	crash_all(&f, 1, 0, NULL);
	step_free(&f);
	crash_all(&f, 1, 0, NULL);
	p = step(&f);
	wake = p->wake_at;
	lifecycle_plan_free(p);
	REQUIRE(lifecycle_memo_copy(&copy, &f.memo) == 0);
	lifecycle_memo_clear(&f.memo);
	f.memo = copy;
	CHECK_EQ_INT(f.memo.crash.streak, 2);
	p = step(&f);
	CHECK_EQ_INT(p->wake_at, wake);
	CHECK_EQ_INT(f.n, 0); /* still backing off */
	lifecycle_plan_free(p);
	fix_free(&f);
}

/* ---- reset ----------------------------------------------------------- */

TEST(crashloop__stable_window_resets_streak)
{
	struct fix f;
	struct lifecycle_plan *p;
	int starts;

	fix_init(&f, 1, NULL, 1000, "exit 1");
	step_free(&f);
	crash_all(&f, 1, 0, NULL);
	step_free(&f);
	crash_all(&f, 1, 0, NULL);
	p = step(&f);
	f.now = p->wake_at;
	lifecycle_plan_free(p);
	step_free(&f);
	CHECK_EQ_INT(f.memo.crash.streak, 2);
	/* Up for a whole window (10s): forgiven; the next failure is a
	 * first one again, replaced at once. */
	f.now += 10000;
	step_free(&f);
	CHECK_EQ_INT(f.memo.crash.streak, 0);
	CHECK_EQ_INT(f.memo.crash.count, 0);
	starts = f.starts;
	crash_all(&f, 1, 0, NULL);
	p = step(&f);
	CHECK_EQ_INT(f.starts, starts + 1);
	CHECK(!p->crashloop);
	lifecycle_plan_free(p);
	fix_free(&f);
}

TEST(crashloop__changed_spec_recovers_from_failed)
{
	struct fix f;
	struct manifest *fixed;
	struct lifecycle_plan *p;

	fix_init(&f, 1, NULL, 0, "exit 1"); /* limit 0: the first failure */
	step_free(&f);
	crash_all(&f, 1, 0, NULL);
	p = step(&f);
	CHECK_EQ_INT(p->state, SERVICE_FAILED);
	lifecycle_plan_free(p);
	/* The same spec again: still Failed. A fixed command: a new start,
	 * Run once up for min_ready. */
	fixed = f.m;
	f.m = parse("architecture: t\nservices:\n  web:\n    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"exec sleep 600\"]\n"
	    "    restart: {limit: 0, window: 10s, backoff: 100ms, max_backoff: 1s}\n");
	manifest_free(fixed);
	f.spec = manifest_service(f.m, "web");
	step_free(&f);
	CHECK_EQ_INT(f.n, 1);
	CHECK(!f.memo.crash.failed);
	f.now += 1000;
	p = step(&f);
	CHECK_EQ_INT(p->state, SERVICE_RUN);
	CHECK_STR(p->reason, "");
	lifecycle_plan_free(p);
	fix_free(&f);
}

CHECK_MAIN(crashloop__run_counts_only_after_min_ready,
    crashloop__passed_check_is_ready_at_once,
    crashloop__node_clock_ahead_uses_ready_at,
    crashloop__backoff_doubles_capped_jittered,
    crashloop__jitter_deterministic_per_service,
    crashloop__budget_spent_failed_with_cause_alert_once,
    crashloop__memo_copy_keeps_backoff,
    crashloop__stable_window_resets_streak,
    crashloop__changed_spec_recovers_from_failed)
