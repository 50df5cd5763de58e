/*
 * cmd_rollback.c - `orchctl rollback SERVICE [--to REV] [--dry-run]` and
 * `orchctl rollback --to REV [--dry-run]` (POST /v1/rollback).
 *
 * With SERVICE the controller reverts that service to its previous
 * version (or its spec at REV) and every service whose depends_on
 * constraint the revert would break; the answer lists them, from and to
 * version, and orchctl prints that list. Without SERVICE the revision REV
 * is re-applied as a whole, and the answer is an apply's: the plan.
 *
 * No --wait: apply's follower lives in cmd_apply.c, keyed on a revision
 * seq that a per-service rollback does not create; `orchctl status`
 * shows the rollout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

enum {
	OPT_TO = 0x200,
	OPT_DRY_RUN,
};

/* A whole revision is applied like any apply: git/fetch may be slow. */
#define ROLLBACK_TIMEOUT_MS 120000

static void
add_row(struct table *t, const json_t *e, const char *role)
{
	const char *row[4];

	row[0] = jget_str(e, "name");
	row[1] = jget_str(e, "from_version");
	row[2] = jget_str(e, "to_version");
	row[3] = role;
	table_add(t, row);
}

/* The services of a per-service rollback: the one named first (every
 * other one is there because it depends on it, transitively), then the
 * dependents in the controller's order. */
static void
print_services(const json_t *reply, const char *service, bool dry_run)
{
	static const char *const hdr[] = {"SERVICE", "FROM", "TO", "WHY"};
	const json_t *list = json_object_get(reply, "services"), *e;
	const char *commit = jget_str(reply, "commit");
	struct table *t;
	char sha[16];
	size_t i, n = json_array_size(list);

	fmt_short_sha(sha, sizeof(sha), commit);
	printf("%s %s to its spec at %s: %zu service%s.\n",
	    dry_run ? "Would roll back" : "Rolling back", service, sha, n,
	    n == 1 ? "" : "s");
	t = table_new(4, hdr);
	json_array_foreach(list, i, e)
		if (jget_str(e, "name") && strcmp(jget_str(e, "name"), service) == 0)
			add_row(t, e, "requested");
	json_array_foreach(list, i, e)
		if (!jget_str(e, "name") || strcmp(jget_str(e, "name"), service) != 0)
			add_row(t, e, "depends_on constraint breaks");
	table_print(t, stdout);
	table_free(t);
	if (dry_run)
		printf("Dry run: nothing changed.\n");
	else
		printf("Rolled back; `orchctl status` follows the rollout.\n");
}

static void
print_revision(const struct orchctl *ctx, const json_t *reply, bool dry_run)
{
	const json_t *rev = json_object_get(reply, "revision");
	const char *msg = jget_str(rev, "message");
	char sha[16], summary[256] = "";

	plan_print(stdout, json_object_get(reply, "plan"), ctx->verbose);
	fmt_short_sha(sha, sizeof(sha), jget_str(rev, "commit"));
	if (msg != NULL && *msg != '\n' && *msg != '\0')
		snprintf(summary, sizeof(summary), " \"%.*s\"",
		    (int)strcspn(msg, "\n"), msg);
	if (dry_run)
		printf("Dry run: rollback to revision %s%s checked, nothing "
		    "applied.\n", sha, summary);
	else
		printf("Rolled back to revision %s%s.\n", sha, summary);
}

static int
run_rollback(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"to", required_argument, NULL, OPT_TO},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{NULL, 0, NULL, 0},
	};
	const char *service = NULL, *to = NULL;
	bool dry_run = false;
	struct client *c = NULL;
	json_t *body = NULL, *reply = NULL;
	int ch, ex;

	while ((ch = orchctl_getopt(&ex, ctx, cmd, argc, argv, "", longs)) != -1) {
		switch (ch) {
		case OPT_EXIT:
			return ex;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		default:
			return orchctl_usage_error(cmd, "unexpected option");
		}
	}
	if (argc - optind > 1)
		return orchctl_usage_error(cmd, "at most one SERVICE (got %d "
		    "arguments)", argc - optind);
	if (argc - optind == 1)
		service = argv[optind];
	if (service != NULL && *service == '\0')
		return orchctl_usage_error(cmd, "empty SERVICE name");
	if (to != NULL && *to == '\0')
		return orchctl_usage_error(cmd, "--to: empty revision");
	/* A bare `rollback` would silently pick the previous revision of
	 * everything: make the user say what goes back. */
	if (service == NULL && to == NULL)
		return orchctl_usage_error(cmd, "need SERVICE or --to REV");

	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	body = jobj();
	if (service != NULL)
		jset(body, "service", jstr(service));
	if (to != NULL)
		jset(body, "to", jstr(to));
	jset(body, "dry_run", json_boolean(dry_run));
	client_set_timeout(c, ROLLBACK_TIMEOUT_MS);
	if ((ex = client_call(&reply, c, "POST", "/v1/rollback", body)) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else if (service != NULL)
		print_services(reply, service, dry_run);
	else
		print_revision(ctx, reply, dry_run);
out:
	json_decref(reply);
	json_decref(body);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_rollback = {
	.name = "rollback",
	.fn = run_rollback,
	.summary = "revert a service (and what depends on it) or a revision",
	.usage = "rollback SERVICE [--to REV] [--dry-run]\n"
	    "rollback --to REV [--dry-run]",
	.help =
	    "With SERVICE, revert it to its previous version (the newest\n"
	    "applied revision that runs another spec of it), or to its spec at\n"
	    "REV, together with every service whose depends_on constraint the\n"
	    "revert would break, each to its spec of that same revision (POST\n"
	    "/v1/rollback {\"service\"}). orchctl lists them, from and to\n"
	    "version; they roll out in dependency order. The manifest does not\n"
	    "change: the next apply ends the rollback. The controller refuses\n"
	    "(exit 1, with its reason) when a dependent has no spec to go back\n"
	    "to, or there is no other version.\n"
	    "\n"
	    "With --to REV alone, re-apply revision REV as a whole (a revision\n"
	    "seq from `orchctl history`, or any git ref): a new revision whose\n"
	    "changed services move through Rollback; orchctl prints its plan.\n"
	    "\n"
	    "Options:\n"
	    "  --to REV            the revision to go back to\n"
	    "  --dry-run           print what would be reverted, change nothing\n"
	    "  -o json             the controller's reply as received\n"
	    "\n"
	    "There is no --wait: `orchctl status` follows the rollout.\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL "; rolling back needs the token (--token-file\n"
	    "or $ORCH_TOKEN).\n"
	    "\n"
	    "Exit status: 0 done (or planned), 1 refused (unknown service or\n"
	    "revision, a constraint that cannot be kept), 2 usage error (neither\n"
	    "SERVICE nor --to), 3 controller unreachable.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl rollback web --dry-run\n"
	    "  orchctl rollback --to 3",
};
