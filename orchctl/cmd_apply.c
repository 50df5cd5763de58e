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
	OPT_RETRY_FAILED,
};

#define APPLY_TIMEOUT_MS 120000 /* the controller may fetch the repo first */

static void
print_reply(const struct orchctl *ctx, const json_t *j, bool dry_run)
{
	const json_t *plan = j;
	const json_t *rev = json_object_get(j, "revision");
	const char *commit = rollout_reply_commit(j);
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

/* The services of the apply reply's plan (NULL when it has none). */
static const json_t *
plan_services(const json_t *reply)
{
	const json_t *svs = json_object_get(reply, "services");

	if (!json_is_array(svs))
		svs = json_object_get(json_object_get(reply, "plan"), "services");
	return json_is_array(svs) ? svs : NULL;
}

struct apply_opts {
	const char *ref;
	bool dry_run, wait, retry;
	int64_t timeout_ms;
};

/* -1 to go on, or the exit code to end with now (a usage error; --help). */
static int
apply_args(struct apply_opts *o, struct orchctl *ctx, const struct orchctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option longs[] = {
		{"ref", required_argument, NULL, OPT_REF},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"wait", no_argument, NULL, OPT_WAIT},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"retry-failed", no_argument, NULL, OPT_RETRY_FAILED},
		{NULL, 0, NULL, 0},
	};
	const char *timeout_arg = NULL;
	int ch, ex;

	while ((ch = orchctl_getopt(&ex, ctx, cmd, argc, argv, "", longs)) != -1) {
		switch (ch) {
		case OPT_EXIT:
			return ex;
		case OPT_REF:
			o->ref = optarg;
			break;
		case OPT_DRY_RUN:
			o->dry_run = true;
			break;
		case OPT_WAIT:
			o->wait = true;
			break;
		case OPT_TIMEOUT:
			timeout_arg = optarg;
			break;
		case OPT_RETRY_FAILED:
			o->retry = true;
			break;
		default:
			return orchctl_usage_error(cmd, "unexpected option");
		}
	}
	if (optind < argc)
		return orchctl_usage_error(cmd, "unexpected argument '%s' "
		    "(the manifest comes from the controller's repository; "
		    "use --ref)", argv[optind]);
	if (o->ref != NULL && *o->ref == '\0')
		return orchctl_usage_error(cmd, "--ref: empty ref");
	ex = rollout_wait_options(&o->timeout_ms, cmd, timeout_arg, o->wait, o->dry_run);
	return ex == EXIT_OK ? -1 : ex;
}

static int
run_apply(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	struct apply_opts o = {0};
	struct client *c = NULL;
	json_t *body = NULL, *reply = NULL;
	char *commit = NULL;
	long long seq;
	int ex;

	if ((ex = apply_args(&o, ctx, cmd, argc, argv)) >= 0)
		return ex;
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	body = jobj();
	if (o.ref != NULL)
		jset(body, "ref", jstr(o.ref));
	jset(body, "dry_run", json_boolean(o.dry_run));
	if (o.retry)
		jset(body, "retry_failed", json_true());
	client_set_timeout(c, APPLY_TIMEOUT_MS);
	if ((ex = client_call(&reply, c, "POST", "/v1/apply", body)) != EXIT_OK)
		goto out;
	if (!jget_int(&seq, json_object_get(reply, "revision"), "seq"))
		seq = 0;
	if (rollout_reply_commit(reply) != NULL &&
	    (commit = strdup(rollout_reply_commit(reply))) == NULL)
		abort();
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(json_incref(reply));
		fflush(stdout);
	} else
		print_reply(ctx, reply, o.dry_run);
	if (o.wait) {
		struct rollout_follow f = {commit, NULL, NULL, seq,
		    plan_services(reply), false, o.timeout_ms};

		fflush(stdout);
		ex = rollout_wait(ctx, c, &f);
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
	.usage = "apply [--ref REF] [--dry-run] [--retry-failed] [--wait] [--timeout D]",
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
	    "The plan is against what runs. A service rolled back after its\n"
	    "rollout failed (or was aborted) stays where it is when the\n"
	    "manifest asks for that same failed spec again (an unrelated\n"
	    "commit on top of it); the plan says so:\n"
	    "\n"
	    "  = web stays at 1.3.0: this would roll it out again to 1.4.0, a version\n"
	    "    whose rollout failed ...\n"
	    "\n"
	    "--retry-failed rolls such a version out again; a changed spec of\n"
	    "that service always rolls out.\n"
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
	    "  --retry-failed      roll out again a version whose rollout failed\n"
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
