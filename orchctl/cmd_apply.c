/*
 * cmd_apply.c - `orchctl apply`: ask the controller to apply the manifest
 * at a git ref (POST /v1/apply), print its plan, and with --wait follow
 * the rollout through GET /v1/status until it succeeds, fails or times
 * out (kubectl rollout status, argo rollouts --watch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "orchctl.h"
#include "units.h"

enum {
	OPT_REF = 0x200,
	OPT_DRY_RUN,
	OPT_WAIT,
	OPT_TIMEOUT,
};

#define APPLY_TIMEOUT_MS 120000 /* the controller may fetch the repo first */
#define WAIT_DEFAULT_MS (5 * 60 * 1000)
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
static const char *
reply_commit(const json_t *j)
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

static void
print_reply(const struct orchctl *ctx, const json_t *j, bool dry_run)
{
	const json_t *plan = j;
	const json_t *rev = json_object_get(j, "revision");
	const char *commit = reply_commit(j);
	const char *msg = jget_str(rev, "message");
	char sha[16], summary[256] = "";

	if (!json_is_array(json_object_get(plan, "services")))
		plan = json_object_get(j, "plan");
	plan_print(stdout, plan, ctx->verbose);
	fmt_short_sha(sha, sizeof(sha), commit);
	/* The commit message's first line, quoted, as git log --oneline. */
	if (msg != NULL && *msg != '\n' && *msg != '\0')
		snprintf(summary, sizeof(summary), " \"%.*s\"",
		    (int)strcspn(msg, "\n"), msg);
	if (dry_run)
		printf("Dry run: revision %s%s checked, nothing applied.\n",
		    sha, summary);
	else
		printf("Applied revision %s%s.\n", sha, summary);
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

/*
 * Print a line per service whose state or counts changed since the last
 * poll, and judge: done when the applied revision is current and every
 * service is Run; failed when any service is Failed (its name and reason
 * into why).
 */
static enum verdict
observe(struct waiter *w, const json_t *st, const char *commit, char *why,
    size_t whylen)
{
	const json_t *svs = json_object_get(st, "services");
	const char *cur = reply_commit(st);
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
		if (strcmp(state, "Run") != 0)
			all_run = false;
		if (strcmp(state, "Failed") == 0 && v != WAIT_FAILED) {
			snprintf(why, whylen, "service %s is Failed%s%s", name,
			    reason && *reason ? ": " : "", reason ? reason : "");
			v = WAIT_FAILED;
		}
		/* Rolling back from what we applied: this revision will not
		 * run, whatever the rollback ends in (argo rollouts status
		 * calls it Degraded). A Rollback left from before our apply
		 * has an older revision and is not ours to judge. */
		if (strcmp(state, "Rollback") == 0 && v != WAIT_FAILED &&
		    (commit == NULL || same_commit(commit,
		    jget_str(sv, "revision")))) {
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
 * the apply reply) moves from "applied" to "succeeded" or "failed" once
 * the outcome is known. A record that is missing or uses other words
 * leaves the status verdict as it is.
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
		else if (strcmp(result, "failed") == 0 ||
		    strcmp(result, "rejected") == 0) {
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

/* The services of the apply reply's plan (NULL when it has none). */
static const json_t *
plan_services(const json_t *reply)
{
	const json_t *svs = json_object_get(reply, "services");

	if (!json_is_array(svs))
		svs = json_object_get(json_object_get(reply, "plan"), "services");
	return json_is_array(svs) ? svs : NULL;
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
		const char *want = jget_str(p, "new_version");
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

static int
wait_rollout(const struct orchctl *ctx, struct client *c, const char *commit,
    long long seq, const json_t *plan, int64_t timeout_ms)
{
	struct waiter w = {NULL, 0, ctx->output == OUTPUT_JSON ? stderr : stdout};
	int64_t deadline = orch_mono_ms() + timeout_ms;
	char why[1024], pending[2048] = "", tbuf[32], sha[16];
	const char *cur = NULL;
	json_t *st = NULL;
	int ex = EXIT_FAILED;

	client_set_timeout(c, CLIENT_TIMEOUT_MS);
	fmt_short_sha(sha, sizeof(sha), commit);
	for (;;) {
		struct timespec ts = {0, POLL_MS * 1000000L};
		enum verdict v;

		json_decref(st);
		if ((ex = client_call(&st, c, "GET", "/v1/status", NULL)) != EXIT_OK)
			goto out;
		v = observe(&w, st, commit, why, sizeof(why));
		if (v == WAIT_DONE && seq > 0 &&
		    (ex = revision_verdict(&v, c, seq, why, sizeof(why))) != EXIT_OK)
			goto out;
		if (v == WAIT_DONE && plan != NULL)
			v = versions_verdict(st, plan, why, sizeof(why));
		if (v == WAIT_DONE) {
			fprintf(w.out, "Rollout of revision %s complete: %zu "
			    "service%s Run.\n", sha,
			    json_array_size(json_object_get(st, "services")),
			    json_array_size(json_object_get(st, "services")) == 1 ?
			    "" : "s");
			ex = EXIT_OK;
			goto out;
		}
		if (v == WAIT_FAILED) {
			orchctl_warnx("rollout of revision %s failed: %s", sha, why);
			ex = EXIT_FAILED;
			goto out;
		}
		if (orch_mono_ms() + POLL_MS > deadline)
			break;
		nanosleep(&ts, NULL);
	}
	orch_fmt_duration(tbuf, sizeof(tbuf), timeout_ms);
	pending_list(pending, sizeof(pending),
	    json_object_get(st, "services"));
	cur = reply_commit(st);
	if (commit != NULL && !same_commit(commit, cur)) {
		char cursha[16];

		fmt_short_sha(cursha, sizeof(cursha), cur);
		orchctl_warnx("timed out after %s: the controller still shows "
		    "revision %s, not %s%s%s", tbuf, cursha, sha,
		    pending[0] ? "; not Run: " : "", pending);
	} else
		orchctl_warnx("timed out after %s waiting for revision %s: "
		    "not Run: %s", tbuf, sha, pending[0] ? pending : "-");
	ex = EXIT_FAILED;
out:
	json_decref(st);
	waiter_free(&w);
	return ex;
}

static int
run_apply(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"ref", required_argument, NULL, OPT_REF},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"wait", no_argument, NULL, OPT_WAIT},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{NULL, 0, NULL, 0},
	};
	const char *ref = NULL, *timeout_arg = NULL;
	bool dry_run = false, wait = false;
	int64_t timeout_ms = WAIT_DEFAULT_MS;
	struct client *c = NULL;
	json_t *body = NULL, *reply = NULL;
	char *commit = NULL;
	long long seq;
	int ch, ex;

	while ((ch = orchctl_getopt(&ex, ctx, cmd, argc, argv, "", longs)) != -1) {
		switch (ch) {
		case OPT_EXIT:
			return ex;
		case OPT_REF:
			ref = optarg;
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		case OPT_WAIT:
			wait = true;
			break;
		case OPT_TIMEOUT:
			timeout_arg = optarg;
			break;
		default:
			return orchctl_usage_error(cmd, "unexpected option");
		}
	}
	if (optind < argc)
		return orchctl_usage_error(cmd, "unexpected argument '%s' "
		    "(the manifest comes from the controller's repository; "
		    "use --ref)", argv[optind]);
	if (ref != NULL && *ref == '\0')
		return orchctl_usage_error(cmd, "--ref: empty ref");
	if (timeout_arg != NULL) {
		if (!wait)
			return orchctl_usage_error(cmd, "--timeout needs --wait");
		if (orch_parse_duration(&timeout_ms, timeout_arg) < 0)
			return orchctl_usage_error(cmd, "--timeout: %s",
			    orch_err_last());
		if (timeout_ms <= 0)
			return orchctl_usage_error(cmd, "--timeout: must be "
			    "more than 0s");
	}
	if (wait && dry_run)
		return orchctl_usage_error(cmd, "--wait and --dry-run exclude "
		    "each other (a dry run starts no rollout)");

	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	body = jobj();
	if (ref != NULL)
		jset(body, "ref", jstr(ref));
	jset(body, "dry_run", json_boolean(dry_run));
	client_set_timeout(c, APPLY_TIMEOUT_MS);
	if ((ex = client_call(&reply, c, "POST", "/v1/apply", body)) != EXIT_OK)
		goto out;
	if (!jget_int(&seq, json_object_get(reply, "revision"), "seq"))
		seq = 0;
	if (reply_commit(reply) != NULL &&
	    (commit = strdup(reply_commit(reply))) == NULL)
		abort();
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(json_incref(reply));
		fflush(stdout);
	} else
		print_reply(ctx, reply, dry_run);
	if (wait) {
		fflush(stdout);
		ex = wait_rollout(ctx, c, commit, seq, plan_services(reply),
		    timeout_ms);
	}
out:
	free(commit);
	json_decref(reply);
	json_decref(body);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_apply = {
	.name = "apply",
	.fn = run_apply,
	.summary = "apply the manifest at a git ref on the controller",
	.usage = "apply [--ref REF] [--dry-run] [--wait] [--timeout D]",
	.help =
	    "Ask the controller to read the manifest at REF of its repository\n"
	    "(default: the head of its branch), validate it, and make it the\n"
	    "cluster's desired state. The plan is printed as `orchctl diff`\n"
	    "prints one, then the applied revision:\n"
	    "\n"
	    "  + web (added) 1.3.0 x4\n"
	    "  ~ api 1.2.0 -> 1.3.0 (rollout: version)\n"
	    "\n"
	    "  Plan: 1 to add, 1 to roll out, 0 to change in place, 0 to remove.\n"
	    "  Applied revision 3f2a9c1 \"api 1.3.0\".\n"
	    "\n"
	    "A rejected manifest changes nothing; its errors are printed as\n"
	    "file:line:col: path: message lines.\n"
	    "\n"
	    "With --wait, orchctl then follows the rollout (GET /v1/status every\n"
	    "0.5s), printing a line whenever a service's state or ready/desired\n"
	    "count changes:\n"
	    "\n"
	    "  api   Update   2/3\n"
	    "\n"
	    "and ends when every service is Run at the applied revision (exit\n"
	    "0), when a service is Failed or rolling back from this revision\n"
	    "(exit 1, with its reason), or when the timeout passes (exit 1,\n"
	    "naming what is not Run yet).\n"
	    "\n"
	    "Options:\n"
	    "  --ref REF           git ref to apply: branch, tag or commit\n"
	    "  --dry-run           validate and print the plan, change nothing\n"
	    "  --wait              follow the rollout until it ends\n"
	    "  --timeout D         give up waiting after D (default 5m; 30s,\n"
	    "                      1m30s, ...)\n"
	    "  -v                  also list unchanged services\n"
	    "  -o json             the controller's reply as received (with\n"
	    "                      --wait, progress goes to stderr)\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL "; applying needs the token (--token-file or\n"
	    "$ORCH_TOKEN).\n"
	    "\n"
	    "Exit status: 0 applied (and with --wait: rolled out), 1 rejected,\n"
	    "failed or timed out, 2 usage error, 3 controller unreachable.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl apply --dry-run\n"
	    "  orchctl apply --ref v2.4.0 --wait --timeout 10m",
};
