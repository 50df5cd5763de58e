/*
 * cmd_nodes.c - `orchctl nodes`: the slaves registered with the controller
 * (GET /v1/nodes), their state and what they carry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"
#include "units.h"

static const char *const headers[] = {
	"NAME", "ADDRESS", "STATE", "HEARTBEAT", "CAPACITY", "INSTANCES",
};
#define NCOLS (sizeof(headers) / sizeof(headers[0]))

/* Bytes for a person: exact when a whole unit ("8G", "512M"), else one
 * decimal of the largest unit ("23.5G"), as df -h does. */
static void
human_size(char *buf, size_t len, uint64_t bytes)
{
	static const char units[] = "KMGT";
	double v = (double)bytes;
	int u = -1;

	orch_fmt_size(buf, len, bytes);
	if (strlen(buf) <= 5)
		return; /* "8G", "1536K": short enough as it is */
	while (u < 3 && v >= 1024) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		return;
	snprintf(buf, len, "%.1f%c", v, units[u]);
}

/* "cpu 4, memory 8G" from {"capacity": {"cpu", "memory"}} or the same
 * fields on the node itself; memory in bytes or as the text it was
 * given. */
static void
capacity(char *buf, size_t len, const json_t *node)
{
	const json_t *cap = json_object_get(node, "capacity");
	const json_t *cpu, *mem;
	char cpus[32] = "", mems[32] = "";

	if (!json_is_object(cap))
		cap = node;
	cpu = json_object_get(cap, "cpu");
	mem = json_object_get(cap, "memory");
	if (json_is_number(cpu))
		snprintf(cpus, sizeof(cpus), "%g", json_number_value(cpu));
	else if (json_is_string(cpu))
		snprintf(cpus, sizeof(cpus), "%s", json_string_value(cpu));
	if (json_is_integer(mem) && json_integer_value(mem) >= 0)
		human_size(mems, sizeof(mems), (uint64_t)json_integer_value(mem));
	else if (json_is_string(mem))
		snprintf(mems, sizeof(mems), "%s", json_string_value(mem));
	if (!cpus[0] && !mems[0])
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s%s%s%s%s", cpus[0] ? "cpu " : "", cpus,
		    cpus[0] && mems[0] ? ", " : "", mems[0] ? "memory " : "",
		    mems);
}

static void
add_row(struct table *t, const json_t *node)
{
	char hb[32], cap[96], count[32] = "-";
	const json_t *insts = json_object_get(node, "instances");
	const char *row[NCOLS];
	long long ms;

	/* heartbeat_age_ms is the controller's own measure (-1: not heard
	 * from since it started); last_heartbeat the fallback. */
	if (!jget_int(&ms, node, "heartbeat_age_ms"))
		fmt_age(hb, sizeof(hb), json_object_get(node, "last_heartbeat"));
	else if (ms < 0)
		snprintf(hb, sizeof(hb), "-");
	else
		fmt_age_ms(hb, sizeof(hb), ms);
	if (strcmp(hb, "-") != 0)
		strcat(hb, " ago");
	capacity(cap, sizeof(cap), node);
	/* A count, or the list of instance ids. */
	if (json_is_integer(insts))
		snprintf(count, sizeof(count), "%lld",
		    (long long)json_integer_value(insts));
	else if (json_is_array(insts))
		snprintf(count, sizeof(count), "%zu", json_array_size(insts));
	row[0] = jget_str(node, "name");
	row[1] = jget_str(node, "address");
	row[2] = jget_str(node, "state");
	row[3] = hb;
	row[4] = cap;
	row[5] = count;
	table_add(t, row);
}

static int
run_nodes(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
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
	if ((ex = client_get_list(&reply, &list, c, "/v1/nodes", "nodes")) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else if (json_array_size(list) == 0)
		printf("No nodes: no slave has registered yet.\n");
	else
		table_print_list(stdout, list, NCOLS, headers, add_row);
out:
	json_decref(reply);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_nodes = {
	.name = "nodes",
	.fn = run_nodes,
	.summary = "list the nodes (slaves), their state and load",
	.usage = "nodes",
	.help =
	    "List the nodes registered with the controller (GET /v1/nodes):\n"
	    "\n"
	    "  NAME     ADDRESS          STATE   HEARTBEAT   CAPACITY             INSTANCES\n"
	    "  node-a   127.0.0.1:7101   Ready   1s ago      cpu 4, memory 8G     3\n"
	    "\n"
	    "STATE is Ready, Suspect (heartbeats late), Lost (its cattle moved\n"
	    "away) or Draining (`orchctl drain`: no new placements).\n"
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
