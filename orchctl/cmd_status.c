/*
 * cmd_status.c - `orchctl status [SERVICE]`: the services of the cluster
 * and where each is in its lifecycle (GET /v1/status), or one service
 * (GET /v1/services/NAME), kubectl-get style.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

static const char *const headers[] = {
	"NAME", "VERSION", "KIND", "STRATEGY", "STATE", "READY", "REVISION",
	"REASON",
};
#define NCOLS (sizeof(headers) / sizeof(headers[0]))

/* A service's revision: its own field (a commit id or {"commit"}), else
 * the architecture's. */
static void
service_revision(char *buf, size_t len, const json_t *sv, const char *arch_rev)
{
	const json_t *r = json_object_get(sv, "revision");
	const char *sha = json_is_string(r) ? json_string_value(r) :
	    jget_str(r, "commit");

	fmt_short_sha(buf, len, sha ? sha : arch_rev);
}

static void
add_row(struct table *t, const json_t *sv, const char *arch_rev)
{
	char ready[64], rev[16];
	long long r, d;
	const char *row[NCOLS];
	bool hr = jget_int(&r, sv, "ready"), hd = jget_int(&d, sv, "desired");
	const char *reason = jget_str(sv, "reason");
	const char *state = jget_str(sv, "state");
	const char *detail = jget_str(sv, "detail");
	char why[512];

	snprintf(ready, sizeof(ready), "%s%lld/%s%lld", hr ? "" : "?",
	    hr ? r : 0, hd ? "" : "?", hd ? d : 0);
	if (!hr && !hd)
		snprintf(ready, sizeof(ready), "-");
	service_revision(rev, sizeof(rev), sv, arch_rev);
	row[0] = jget_str(sv, "name");
	row[1] = jget_str(sv, "version");
	row[2] = jget_str(sv, "kind");
	row[3] = jget_str(sv, "strategy");
	/* A strategy may come as {"type": ...} as in the manifest. */
	if (row[3] == NULL)
		row[3] = jget_str(json_object_get(sv, "strategy"), "type");
	/* Scale-out / Scale-in is the detail of Scale (design.md): the
	 * state word stays one of the eight, the detail leads the reason. */
	if (state != NULL && strcmp(state, "Scale") == 0 && detail && *detail) {
		snprintf(why, sizeof(why), "%s%s%s", detail,
		    reason && *reason ? ": " : "", reason ? reason : "");
		reason = why;
	}
	row[4] = state;
	row[5] = ready;
	row[6] = rev;
	row[7] = reason && *reason ? reason : NULL;
	table_add(t, row);
}

static void
print_status(const json_t *st)
{
	const json_t *rev = json_object_get(st, "revision");
	const char *arch = jget_str(st, "architecture");
	const char *version = jget_str(st, "version");
	const char *msg = jget_str(rev, "message");
	const json_t *svs = json_object_get(st, "services");
	char sha[16];
	struct table *t;
	size_t i;
	json_t *sv;

	fmt_short_sha(sha, sizeof(sha), jget_str(rev, "commit"));
	if (arch != NULL)
		printf("Architecture: %s%s%s   Revision: %s%s%.*s%s\n\n", arch,
		    version && *version ? " " : "", version ? version : "", sha,
		    msg ? " \"" : "", msg ? (int)strcspn(msg, "\n") : 0,
		    msg ? msg : "", msg ? "\"" : "");
	if (json_array_size(svs) == 0) {
		printf("No services: nothing has been applied yet.\n");
		return;
	}
	t = table_new(NCOLS, headers);
	json_array_foreach(svs, i, sv)
		add_row(t, sv, jget_str(rev, "commit"));
	table_print(t, stdout);
	table_free(t);
}

/* One service; its instances too when the reply lists them. */
static void
print_service(const json_t *reply)
{
	const json_t *sv = json_object_get(reply, "service");
	const json_t *insts;
	struct table *t;
	size_t i;
	json_t *in;

	if (!json_is_object(sv))
		sv = reply;
	t = table_new(NCOLS, headers);
	add_row(t, sv, NULL);
	table_print(t, stdout);
	table_free(t);
	/* The API's "instances" is a count; the list is "instance_list". */
	insts = json_object_get(sv, "instance_list");
	if (!json_is_array(insts))
		insts = json_object_get(sv, "instances");
	if (json_array_size(insts) == 0)
		return;
	printf("\nInstances:\n");
	{
		static const char *const ih[] = {"ID", "VERSION", "NODE",
		    "STATE", "HEALTH"};
		t = table_new(5, ih);
		json_array_foreach(insts, i, in) {
			const char *row[5] = {jget_str(in, "id"),
			    jget_str(in, "version"), jget_str(in, "node"),
			    jget_str(in, "state"), jget_str(in, "health")};
			table_add(t, row);
		}
		table_print(t, stdout);
		table_free(t);
	}
}

static int
run_status(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	struct client *c = NULL;
	json_t *reply = NULL;
	char *path = NULL;
	int ex;

	if (orchctl_getopt_none(&ex, ctx, cmd, argc, argv) == OPT_EXIT)
		return ex;
	if (argc - optind > 1)
		return orchctl_usage_error(cmd, "at most one SERVICE (got %d "
		    "arguments)", argc - optind);
	if (optind < argc && argv[optind][0] == '\0')
		return orchctl_usage_error(cmd, "empty SERVICE name");
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	if (optind < argc)
		path = client_path("/v1/services/", argv[optind], "");
	ex = client_call(&reply, c, "GET", path ? path : "/v1/status", NULL);
	if (ex != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else if (path != NULL)
		print_service(reply);
	else
		print_status(reply);
out:
	json_decref(reply);
	free(path);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_status = {
	.name = "status",
	.fn = run_status,
	.summary = "show the services and their lifecycle state",
	.usage = "status [SERVICE]",
	.help =
	    "Show every service of the applied architecture (GET /v1/status),\n"
	    "or one service and its instances (GET /v1/services/SERVICE):\n"
	    "\n"
	    "  Architecture: shop 2.4.0   Revision: 3f2a9c1 \"api 1.3.0\"\n"
	    "\n"
	    "  NAME   VERSION   KIND     STRATEGY   STATE    READY   REVISION   REASON\n"
	    "  api    1.3.0     cattle   rolling    Update   2/3     3f2a9c1    -\n"
	    "\n"
	    "STATE is one of Provision, Ready, Run, Update, Rollback, Scale,\n"
	    "Destroy, Failed; READY counts healthy instances of the desired\n"
	    "number; REASON says why a service is where it is (why it Failed).\n"
	    "\n"
	    "Options:\n"
	    "  -o json             the controller's reply as received\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL ".\n"
	    "\n"
	    "Exit status: 0 shown, 1 no such service or an API error, 2 usage\n"
	    "error, 3 controller unreachable.",
};
