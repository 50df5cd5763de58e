/*
 * cmd_instances.c - `orchctl instances [SERVICE]`: every instance the
 * controller knows (GET /v1/instances), or those of one service.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

static const char *const headers[] = {
	"ID", "SERVICE", "VERSION", "NODE", "PID", "STATE", "HEALTH",
	"RESTARTS", "AGE",
};
#define NCOLS (sizeof(headers) / sizeof(headers[0]))

/* RESTARTS with how the last process ended, when the slave said:
 * "2 (signal 9)", "0 (status 1)"; the count alone otherwise. The
 * exit_code/exit_signal fields of -o json say it in full. */
static void
last_exit(char *buf, size_t len, long long restarts, const json_t *in)
{
	long long v;

	if (jget_int(&v, in, "exit_signal") && v > 0)
		snprintf(buf, len, "%lld (signal %lld)", restarts, v);
	else if (jget_int(&v, in, "exit_code") && v >= 0)
		snprintf(buf, len, "%lld (status %lld)", restarts, v);
	else
		snprintf(buf, len, "%lld", restarts);
}

static void
add_row(struct table *t, const json_t *in)
{
	char pid[32] = "-", restarts[64] = "-", age[32];
	const char *row[NCOLS];
	long long v;

	/* pid 0 or none: not started (Provision) or gone. */
	if (jget_int(&v, in, "pid") && v > 0)
		snprintf(pid, sizeof(pid), "%lld", v);
	if (jget_int(&v, in, "restarts"))
		last_exit(restarts, sizeof(restarts), v, in);
	/* The controller's age_ms is measured on its clock, which a skewed
	 * client clock cannot spoil; started_at is the fallback. */
	if (jget_int(&v, in, "age_ms") && v >= 0 &&
	    json_integer_value(json_object_get(in, "started_at")) > 0)
		fmt_age_ms(age, sizeof(age), v);
	else
		fmt_age(age, sizeof(age), json_object_get(in, "started_at"));
	row[0] = jget_str(in, "id");
	row[1] = jget_str(in, "service");
	row[2] = jget_str(in, "version");
	row[3] = jget_str(in, "node");
	row[4] = pid;
	row[5] = jget_str(in, "state");
	row[6] = jget_str(in, "health");
	row[7] = restarts;
	row[8] = age;
	table_add(t, row);
}

static int
run_instances(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	const char *service = NULL;
	struct client *c = NULL;
	json_t *reply = NULL, *list;
	size_t i;
	int ex;

	if (orchctl_getopt_none(&ex, ctx, cmd, argc, argv) == OPT_EXIT)
		return ex;
	if (argc - optind > 1)
		return orchctl_usage_error(cmd, "at most one SERVICE (got %d "
		    "arguments)", argc - optind);
	if (optind < argc) {
		service = argv[optind];
		if (*service == '\0')
			return orchctl_usage_error(cmd, "empty SERVICE name");
	}
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	ex = client_get_list(&reply, &list, c, "/v1/instances", "instances");
	if (ex != EXIT_OK)
		goto out;
	/* The API lists every instance; a service is a filter here, so
	 * -o json keeps the API's shape with fewer entries. */
	if (service != NULL)
		for (i = json_array_size(list); i-- > 0;) {
			const char *s = jget_str(json_array_get(list, i), "service");

			if (s == NULL || strcmp(s, service) != 0)
				json_array_remove(list, i);
		}
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else if (json_array_size(list) == 0) {
		if (service != NULL)
			printf("No instances of service %s.\n", service);
		else
			printf("No instances.\n");
	} else
		table_print_list(stdout, list, NCOLS, headers, add_row);
out:
	json_decref(reply);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_instances = {
	.name = "instances",
	.fn = run_instances,
	.summary = "list instances: where each runs, its state and health",
	.usage = "instances [SERVICE]",
	.help =
	    "List the instances the controller placed (GET /v1/instances), all\n"
	    "of them or those of SERVICE:\n"
	    "\n"
	    "  ID          SERVICE   VERSION   NODE     PID     STATE   HEALTH    RESTARTS   AGE\n"
	    "  api-7f3c2   api       1.3.0     node-a   41235   Run     healthy   0          5m\n"
	    "\n"
	    "STATE is Provision, Ready, Run, Destroy or Failed; HEALTH is none\n"
	    "(no check configured, or no process to check: Failed, or waiting to\n"
	    "restart), starting, healthy or unhealthy; RESTARTS is followed by\n"
	    "how the last process ended, \"(signal 9)\" or \"(status 1)\", once\n"
	    "one has; AGE is the time since the current process started.\n"
	    "\n"
	    "Options:\n"
	    "  -o json             the controller's reply ({\"instances\": [...]},\n"
	    "                      only SERVICE's when one is named), with each\n"
	    "                      instance's exit_code, exit_signal (null: none)\n"
	    "                      and data_dir on its node\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL ".\n"
	    "\n"
	    "Exit status: 0 listed (even none), 1 API error, 2 usage error,\n"
	    "3 controller unreachable.",
};
