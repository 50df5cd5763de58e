/*
 * cmd_rollback.c - `orchctl rollback SERVICE [--to REV] [--dry-run]` and
 * `orchctl rollback --to REV [--dry-run]` (POST /v1/rollback).
 *
 * With SERVICE the controller reverts that service to its previous
 * version (or its spec at REV), with the dependencies its own depends_on
 * needs at that revision and every dependent whose constraint the revert
 * would break; the answer lists them in dependency order (dependencies
 * first, the order they roll out in), from and to version and why, and
 * orchctl prints that list. Without SERVICE the revision REV is
 * re-applied as a whole, and the answer is an apply's: the plan.
 *
 * --wait follows the rollback with apply --wait's follower
 * (rollout_wait.c): the same progress lines and exit codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

enum {
	OPT_TO = 0x200,
	OPT_DRY_RUN,
	OPT_WAIT,
	OPT_TIMEOUT,
};

/* A whole revision is applied like any apply: git/fetch may be slow. */
#define ROLLBACK_TIMEOUT_MS 120000

/* The WHY column: requested, or which side of a depends_on edge. */
static const char *
role_words(const char *role)
{
	if (role == NULL || strcmp(role, "dependent") == 0)
		return "depends_on constraint breaks";
	if (strcmp(role, "dependency") == 0)
		return "needed by a depends_on";
	return role;
}

/* The services of a per-service rollback in the controller's order:
 * dependencies first, the order they roll out in; then why each one
 * that was not asked for goes back too. */
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
	json_array_foreach(list, i, e) {
		const char *row[4];

		row[0] = jget_str(e, "name");
		row[1] = jget_str(e, "from_version");
		row[2] = jget_str(e, "to_version");
		row[3] = role_words(jget_str(e, "role"));
		table_add(t, row);
	}
	table_print(t, stdout);
	table_free(t);
	if (n > 1)
		printf("In this order, dependencies first.\n");
	json_array_foreach(list, i, e) {
		const char *role = jget_str(e, "role"), *why = jget_str(e, "reason");

		if (role != NULL && strcmp(role, "requested") != 0 && why != NULL)
			printf("%s goes back too: %s.\n", jget_str(e, "name"), why);
	}
	if (dry_run)
		printf("Dry run: nothing changed.\n");
	else
		printf("Rolled back; `orchctl status` (or --wait) follows the "
		    "rollout.\n");
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

/* --wait: a per-service rollback ends when its services run their specs
 * at the pinned commit, under the same desired revision; a whole one as
 * an apply does, at its new revision (Rollback being the progress). */
static int
follow(const struct orchctl *ctx, struct client *c, const json_t *reply,
    const char *service, int64_t timeout_ms)
{
	struct rollout_follow f = {NULL, NULL, NULL, 0, NULL, true, timeout_ms};
	char what[256];
	long long seq;

	if (service != NULL) {
		snprintf(what, sizeof(what), "%s to", service);
		f.commit = jget_str(reply, "desired_commit");
		f.label = jget_str(reply, "commit");
		f.what = what;
		f.plan = json_object_get(reply, "services");
	} else {
		f.commit = rollout_reply_commit(reply);
		if (jget_int(&seq, json_object_get(reply, "revision"), "seq"))
			f.seq = seq;
		f.plan = json_object_get(json_object_get(reply, "plan"), "services");
	}
	return rollout_wait(ctx, c, &f);
}

static int
run_rollback(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"to", required_argument, NULL, OPT_TO},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"wait", no_argument, NULL, OPT_WAIT},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{NULL, 0, NULL, 0},
	};
	const char *service = NULL, *to = NULL, *timeout_arg = NULL;
	bool dry_run = false, wait = false;
	int64_t timeout_ms = 0;
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
	if ((ex = rollout_wait_options(&timeout_ms, cmd, timeout_arg, wait,
	    dry_run)) != EXIT_OK)
		return ex;

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
		client_print_json(json_incref(reply));
		fflush(stdout);
	} else if (service != NULL)
		print_services(reply, service, dry_run);
	else
		print_revision(ctx, reply, dry_run);
	if (wait) {
		fflush(stdout);
		ex = follow(ctx, c, reply, service, timeout_ms);
	}
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
	.usage = "rollback SERVICE [--to REV] [--dry-run] [--wait] [--timeout D]\n"
	    "rollback --to REV [--dry-run] [--wait] [--timeout D]",
	.help =
	    "With SERVICE, revert it to its previous version (the newest\n"
	    "applied revision that runs another spec of it), or to its spec at\n"
	    "REV (POST /v1/rollback {\"service\"}). depends_on constraints are\n"
	    "kept both ways: the dependencies its spec there needs go back too,\n"
	    "and so does every dependent whose constraint the revert would\n"
	    "break, each to its spec of that same revision. orchctl lists them\n"
	    "in dependency order (dependencies first, the order they roll out\n"
	    "in), from and to version, and says why each one it did not name\n"
	    "goes back. The manifest does not change: the next apply ends the\n"
	    "rollback. The controller refuses (exit 1, with its reason) when a\n"
	    "service that would have to follow has no spec to go back to, when\n"
	    "no revert keeps a constraint, or when there is no other version.\n"
	    "Revisions whose rollout was aborted are never gone back to.\n"
	    "\n"
	    "With --to REV alone, re-apply revision REV as a whole (a revision\n"
	    "seq from `orchctl history`, or any git ref): a new revision whose\n"
	    "changed services move through Rollback; orchctl prints its plan.\n"
	    "\n"
	    "Options:\n"
	    "  --to REV            the revision to go back to\n"
	    "  --dry-run           print what would be reverted, change nothing\n"
	    "  --wait              follow the rollback until it ends, as apply\n"
	    "                      --wait does (a line per change of a service)\n"
	    "  --timeout D         give up waiting after D (default 5m)\n"
	    "  -o json             the controller's reply as received (with\n"
	    "                      --wait, progress goes to stderr)\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL "; rolling back needs the token (--token-file\n"
	    "or $ORCH_TOKEN).\n"
	    "\n"
	    "Exit status: 0 done (or planned; with --wait: rolled back), 1\n"
	    "refused (unknown service or revision, a constraint that cannot be\n"
	    "kept) or, with --wait, failed or timed out, 2 usage error (neither\n"
	    "SERVICE nor --to), 3 controller unreachable.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl rollback web --dry-run\n"
	    "  orchctl rollback app --wait --timeout 2m\n"
	    "  orchctl rollback --to 3",
};
