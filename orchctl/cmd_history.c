/*
 * cmd_history.c - `orchctl history`: the revisions applied to the cluster
 * (GET /v1/revisions), newest first as the controller lists them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

static const char *const headers[] = {
	"SEQ", "COMMIT", "TIME", "AUTHOR", "RESULT", "MESSAGE", "REASON",
};
#define NCOLS (sizeof(headers) / sizeof(headers[0]))

static void
add_row(struct table *t, const json_t *rev)
{
	char seq[32] = "-", sha[16], when[64], *summary = NULL;
	long long n;
	const char *msg = jget_str(rev, "message");
	const char *commit = jget_str(rev, "commit");
	const char *row[NCOLS];

	fmt_short_sha(sha, sizeof(sha), commit ? commit : jget_str(rev, "sha"));
	fmt_time(when, sizeof(when), json_object_get(rev, "time"));
	/* The summary: a commit message's first line, as git log --oneline. */
	if (msg != NULL && (summary = strndup(msg, strcspn(msg, "\n"))) == NULL)
		abort();
	/* SEQ is what `rollback --to` takes; REASON why a revision failed
	 * (or what superseded or aborted it), when the controller says. */
	if (jget_int(&n, rev, "seq"))
		snprintf(seq, sizeof(seq), "%lld", n);
	row[0] = seq;
	row[1] = sha;
	row[2] = when;
	row[3] = jget_str(rev, "author");
	row[4] = jget_str(rev, "result");
	row[5] = summary && *summary ? summary : NULL;
	row[6] = jget_str(rev, "reason");
	table_add(t, row);
	free(summary);
}

static int
run_history(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	struct client *c = NULL;
	json_t *reply = NULL, *list;
	int ex;

	if (orchctl_getopt_none(&ex, ctx, cmd, argc, argv) == OPT_EXIT)
		return ex;
	if (optind < argc)
		return orchctl_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	ex = client_get_list(&reply, &list, c, "/v1/revisions", "revisions");
	if (ex != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else if (json_array_size(list) == 0)
		printf("No revisions: nothing has been applied yet.\n");
	else
		table_print_list(stdout, list, NCOLS, headers, add_row);
out:
	json_decref(reply);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_history = {
	.name = "history",
	.fn = run_history,
	.summary = "list the applied revisions of the architecture",
	.usage = "history",
	.help =
	    "List every revision applied to the cluster (GET /v1/revisions):\n"
	    "\n"
	    "  SEQ   COMMIT    TIME                   AUTHOR   RESULT      MESSAGE     REASON\n"
	    "  1     3f2a9c1   2026-11-23T11:22:33Z   Ann      succeeded   api 1.3.0   -\n"
	    "  2     8d0e4b2   2026-11-23T11:30:02Z   Ann      failed      api 1.4.0   exit status 1\n"
	    "\n"
	    "SEQ numbers the applies; TIME is UTC; MESSAGE is the commit\n"
	    "message's first line; RESULT is what the controller recorded for\n"
	    "the apply (applied, succeeded, failed, aborted, superseded) and\n"
	    "REASON why, when it says. `orchctl rollback --to SEQ` (or a\n"
	    "commit) re-applies one of them.\n"
	    "\n"
	    "Options:\n"
	    "  -o json             the controller's reply as received\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL ".\n"
	    "\n"
	    "Exit status: 0 listed, 1 API error, 2 usage error, 3 controller\n"
	    "unreachable.",
};
