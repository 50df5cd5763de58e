/*
 * rollout_wait.c - follow a rollout until it ends: `orchctl apply --wait`
 * and `orchctl rollback --wait` share it (GET /v1/status every 0.5s, a
 * line per service whose state or counts change, kubectl rollout status,
 * argo rollouts --watch). Done (exit 0) when every service is Run at the
 * desired revision, its record (when there is one) says it succeeded and
 * each planned service runs its planned version; failed (exit 1, with the
 * reason) when a service of the plan is Failed, or -- for an apply -- is
 * rolling back from it; exit 1 too when the timeout passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "orchctl.h"
#include "units.h"

#define POLL_MS 500

/* What the last poll showed of one service, to print only changes. */
struct seen {
	char *name;
	char *state;
	long long ready, desired;
};

struct waiter {
	struct seen *v;
	size_t n;
	FILE *out; /* progress: stdout for people, stderr beside -o json */
};

static const char *
str_or(const char *s, const char *dflt)
{
	return s && s[0] ? s : dflt;
}

/* The commit the controller says it applied: {"revision": {"commit"}} or
 * {"commit"}. */
const char *
rollout_reply_commit(const json_t *j)
{
	const char *c = jget_str(json_object_get(j, "revision"), "commit");

	if (c == NULL)
		c = jget_str(json_object_get(j, "revision"), "sha");
	if (c == NULL)
		c = jget_str(j, "commit");
	return c;
}

/* Both ids name the same commit (either may be abbreviated). */
static bool
same_commit(const char *a, const char *b)
{
	size_t n;

	if (a == NULL || b == NULL)
		return false;
	n = strlen(a) < strlen(b) ? strlen(a) : strlen(b);
	return n >= 7 && strncmp(a, b, n) == 0;
}

static struct seen *
seen_find(struct waiter *w, const char *name)
{
	struct seen *s;

	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->v[i].name, name) == 0)
			return &w->v[i];
	if ((w->v = realloc(w->v, (w->n + 1) * sizeof(*w->v))) == NULL)
		abort();
	s = &w->v[w->n++];
	memset(s, 0, sizeof(*s));
	if ((s->name = strdup(name)) == NULL)
		abort();
	s->ready = s->desired = -1;
	return s;
}

static void
waiter_free(struct waiter *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i].name);
		free(w->v[i].state);
	}
	free(w->v);
}

/* "api Update 2/3, web Run 1/1" of the services not Run, into buf. */
static void
pending_list(char *buf, size_t len, const json_t *svs)
{
	size_t i, off = 0;
	json_t *sv;

	buf[0] = '\0';
	json_array_foreach(svs, i, sv) {
		const char *state = str_or(jget_str(sv, "state"), "-");
		long long r = -1, d = -1;
		int n;

		if (strcmp(state, "Run") == 0)
			continue;
		jget_int(&r, sv, "ready");
		jget_int(&d, sv, "desired");
		n = snprintf(buf + off, len - off, "%s%s %s %lld/%lld",
		    off ? ", " : "", str_or(jget_str(sv, "name"), "?"), state,
		    r, d);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

enum verdict {
	WAIT_MORE,
	WAIT_DONE,
	WAIT_FAILED,
};

/* The entry of service name in plan, or NULL. */
static const json_t *
plan_entry(const json_t *plan, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach(plan, i, p)
		if (jget_str(p, "name") && strcmp(jget_str(p, "name"), name) == 0)
			return p;
	return NULL;
}

/* Whether what happens to service name is ours to judge: it is in the
 * plan (or there is none) and the plan changes it. A pet that was Failed
 * before an apply that leaves it alone does not fail that apply. */
static bool
ours(const json_t *plan, const char *name)
{
	const json_t *p = plan_entry(plan, name);
	const char *action = jget_str(p, "action");

	if (plan == NULL)
		return true;
	return p != NULL && (action == NULL || (strcmp(action, "unchanged") != 0 &&
	    strcmp(action, "held") != 0));
}

/*
 * Print a line per service whose state or counts changed since the last
 * poll, and judge: done when the applied revision is current and every
 * service is Run; failed when a service of ours is Failed (its name and
 * reason into why), or for an apply is rolling back from it.
 */
static enum verdict
observe(struct waiter *w, const json_t *st, const struct rollout_follow *f,
    char *why, size_t whylen)
{
	const char *commit = f->commit;
	const json_t *svs = json_object_get(st, "services");
	const char *cur = rollout_reply_commit(st);
	bool all_run = json_array_size(svs) > 0;
	enum verdict v = WAIT_MORE;
	int width = 0;
	size_t i;
	json_t *sv;

	json_array_foreach(svs, i, sv) {
		int n = (int)strlen(str_or(jget_str(sv, "name"), "?"));

		if (n > width)
			width = n;
	}
	json_array_foreach(svs, i, sv) {
		const char *name = str_or(jget_str(sv, "name"), "?");
		const char *state = str_or(jget_str(sv, "state"), "-");
		const char *reason = jget_str(sv, "reason");
		long long r = -1, d = -1;
		struct seen *s = seen_find(w, name);

		jget_int(&r, sv, "ready");
		jget_int(&d, sv, "desired");
		if (s->state == NULL || strcmp(s->state, state) != 0 ||
		    s->ready != r || s->desired != d) {
			fprintf(w->out, "%-*s   %-9s %lld/%lld%s%s\n", width, name,
			    state, r, d, reason && *reason ? "   " : "",
			    reason ? reason : "");
			fflush(w->out);
			free(s->state);
			if ((s->state = strdup(state)) == NULL)
				abort();
			s->ready = r;
			s->desired = d;
		}
		if (strcmp(state, "Failed") == 0 && !ours(f->plan, name))
			continue;
		if (strcmp(state, "Run") != 0)
			all_run = false;
		/* A rollback not taken up yet shows the old instances Run. */
		if (f->rollback && json_is_true(json_object_get(sv, "rollback")) &&
		    plan_entry(f->plan, name) != NULL)
			all_run = false;
		if (strcmp(state, "Failed") == 0 && v != WAIT_FAILED) {
			snprintf(why, whylen, "service %s is Failed%s%s", name,
			    reason && *reason ? ": " : "", reason ? reason : "");
			v = WAIT_FAILED;
		}
		/* Rolling back from what we applied: this revision will not
		 * run, whatever the rollback ends in (argo rollouts status
		 * calls it Degraded). A Rollback left from before our apply
		 * has an older revision and is not ours to judge. Following
		 * a rollback, Rollback is the progress. */
		if (!f->rollback && strcmp(state, "Rollback") == 0 &&
		    v != WAIT_FAILED && (commit == NULL || same_commit(commit,
		    jget_str(sv, "revision")) || (f->plan != NULL &&
		    ours(f->plan, name)))) {
			snprintf(why, whylen, "service %s is rolling back%s%s",
			    name, reason && *reason ? ": " : "",
			    reason ? reason : "");
			v = WAIT_FAILED;
		}
	}
	if (v == WAIT_FAILED)
		return v;
	/* Without a commit in the apply reply there is nothing to compare:
	 * then all Run is all we can ask. */
	if (all_run && (commit == NULL || same_commit(commit, cur)))
		return WAIT_DONE;
	return WAIT_MORE;
}

/*
 * Every service shows Run at the applied commit; but right after an apply
 * the controller may not have planned yet, and Run may still be the old
 * instances. Its own verdict settles it: the revision record (seq from
 * the apply reply) moves from "applied" to "succeeded" -- or "failed",
 * "aborted", "superseded", none of them a success -- once the outcome is
 * known. A record that is missing leaves the status verdict as it is.
 */
static int
revision_verdict(enum verdict *v, struct client *c, long long seq, char *why,
    size_t whylen)
{
	json_t *revs = NULL, *r;
	size_t i;
	int ex;

	if ((ex = client_call(&revs, c, "GET", "/v1/revisions", NULL)) != EXIT_OK)
		return ex;
	json_array_foreach(json_object_get(revs, "revisions"), i, r) {
		const char *result = jget_str(r, "result");
		long long rs;

		if (!jget_int(&rs, r, "seq") || rs != seq || result == NULL)
			continue;
		if (strcmp(result, "applied") == 0)
			*v = WAIT_MORE; /* outcome not known yet */
		else if (strcmp(result, "succeeded") != 0) {
			/* failed, aborted, superseded: not a success */
			const char *reason = jget_str(r, "reason");

			/* The controller's reason says it best ("service
			 * web rolled back from 2.0.0 to 1.0.0: ..."). */
			if (reason != NULL && *reason != '\0')
				snprintf(why, whylen, "%s", reason);
			else
				snprintf(why, whylen, "the controller marked "
				    "revision %lld %s", seq, result);
			*v = WAIT_FAILED;
		}
		break;
	}
	json_decref(revs);
	return EXIT_OK;
}

/*
 * All Run at the applied revision: but is it the applied spec that runs?
 * A controller that rolled a service back may show it Run at its old
 * version; the plan says which version each service must have. Done when
 * every planned service shows its new version and removed ones are gone;
 * failed when one shows another version (its rollout was undone).
 */
static enum verdict
versions_verdict(const json_t *st, const json_t *plan, char *why,
    size_t whylen)
{
	const json_t *svs = json_object_get(st, "services");
	size_t i, k;
	json_t *p, *sv;

	json_array_foreach(plan, i, p) {
		const char *name = jget_str(p, "name");
		const char *want = jget_str(p, "new_version") ?
		    jget_str(p, "new_version") : jget_str(p, "to_version");
		const char *action = jget_str(p, "action");
		const json_t *found = NULL;

		if (name == NULL)
			continue;
		json_array_foreach(svs, k, sv) {
			const char *n = jget_str(sv, "name");

			if (n != NULL && strcmp(n, name) == 0)
				found = sv;
		}
		if (action != NULL && strcmp(action, "removed") == 0) {
			if (found != NULL)
				return WAIT_MORE; /* still being destroyed */
			continue;
		}
		if (found == NULL)
			return WAIT_MORE;
		if (want != NULL && jget_str(found, "version") != NULL &&
		    strcmp(want, jget_str(found, "version")) != 0) {
			snprintf(why, whylen, "service %s runs %s, not %s: its "
			    "rollout was undone", name,
			    jget_str(found, "version"), want);
			return WAIT_FAILED;
		}
	}
	return WAIT_DONE;
}

int
rollout_wait(const struct orchctl *ctx, struct client *c, const struct rollout_follow *f)
{
	struct waiter w = {NULL, 0, ctx->output == OUTPUT_JSON ? stderr : stdout};
	int64_t deadline = orch_mono_ms() + f->timeout_ms;
	char why[1024], pending[2048] = "", tbuf[32], sha[16];
	const char *cur = NULL, *what = f->what ? f->what : "revision";
	json_t *st = NULL;
	int ex = EXIT_FAILED;

	client_set_timeout(c, CLIENT_TIMEOUT_MS);
	fmt_short_sha(sha, sizeof(sha), f->label ? f->label : f->commit);
	for (;;) {
		struct timespec ts = {0, POLL_MS * 1000000L};
		enum verdict v;

		json_decref(st);
		if ((ex = client_call(&st, c, "GET", "/v1/status", NULL)) != EXIT_OK)
			goto out;
		v = observe(&w, st, f, why, sizeof(why));
		if (v == WAIT_DONE && f->seq > 0 &&
		    (ex = revision_verdict(&v, c, f->seq, why, sizeof(why))) != EXIT_OK)
			goto out;
		if (v == WAIT_DONE && f->plan != NULL)
			v = versions_verdict(st, f->plan, why, sizeof(why));
		if (v == WAIT_DONE) {
			fprintf(w.out, "%s of %s %s complete: %zu service%s Run.\n",
			    f->rollback ? "Rollback" : "Rollout", what, sha,
			    json_array_size(json_object_get(st, "services")),
			    json_array_size(json_object_get(st, "services")) == 1 ?
			    "" : "s");
			ex = EXIT_OK;
			goto out;
		}
		if (v == WAIT_FAILED) {
			orchctl_warnx("%s of %s %s failed: %s", f->rollback ?
			    "rollback" : "rollout", what, sha, why);
			ex = EXIT_FAILED;
			goto out;
		}
		if (orch_mono_ms() + POLL_MS > deadline)
			break;
		nanosleep(&ts, NULL);
	}
	orch_fmt_duration(tbuf, sizeof(tbuf), f->timeout_ms);
	pending_list(pending, sizeof(pending),
	    json_object_get(st, "services"));
	cur = rollout_reply_commit(st);
	if (f->commit != NULL && !same_commit(f->commit, cur)) {
		char cursha[16];

		fmt_short_sha(cursha, sizeof(cursha), cur);
		orchctl_warnx("timed out after %s: the controller still shows "
		    "revision %s, not %s%s%s", tbuf, cursha, sha,
		    pending[0] ? "; not Run: " : "", pending);
	} else
		orchctl_warnx("timed out after %s waiting for %s %s: not Run: %s",
		    tbuf, what, sha, pending[0] ? pending : "-");
	ex = EXIT_FAILED;
out:
	json_decref(st);
	waiter_free(&w);
	return ex;
}

int
rollout_wait_options(int64_t *out, const struct orchctl_cmd *cmd, const char *timeout,
    bool wait, bool dry_run)
{
	*out = ROLLOUT_WAIT_DEFAULT_MS;
	if (timeout != NULL) {
		if (!wait)
			return orchctl_usage_error(cmd, "--timeout needs --wait");
		if (orch_parse_duration(out, timeout) < 0)
			return orchctl_usage_error(cmd, "--timeout: %s",
			    orch_err_last());
		if (*out <= 0)
			return orchctl_usage_error(cmd, "--timeout: must be "
			    "more than 0s");
	}
	if (wait && dry_run)
		return orchctl_usage_error(cmd, "--wait and --dry-run exclude "
		    "each other (a dry run starts no rollout)");
	return EXIT_OK;
}
