/*
 * cmd_nodes.c - `orchctl nodes`: the slaves registered with the controller
 * (GET /v1/nodes), their state, what they carry, and the cpu and memory
 * their instances hold of what they declare.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"
#include "units.h"

static const char *const headers[] = {
	"NAME", "ADDRESS", "STATE", "HEARTBEAT", "CPU", "MEMORY", "INSTANCES",
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

/* A cpu figure ("0.75", "4"), a memory figure ("384M", "23.5G") or a
 * string as given; "-" when v is absent or of another type. */
static void
figure(char *buf, size_t len, const json_t *v, bool memory)
{
	if (memory && json_is_integer(v) && json_integer_value(v) >= 0)
		human_size(buf, len, (uint64_t)json_integer_value(v));
	else if (!memory && json_is_number(v))
		snprintf(buf, len, "%g", json_number_value(v));
	else if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else
		snprintf(buf, len, "-");
}

/*
 * "USED/TOTAL" of one resource (key "cpu" or "memory"): the total is the
 * capacity the slave declares (the node's key, or capacity.key from an
 * older controller), USED what its live instances' resources hold
 * (used_KEY). A part the controller does not report is "-".
 */
static void
usage(char *buf, size_t len, const json_t *node, const char *key)
{
	const json_t *cap = json_object_get(node, "capacity");
	char used_key[32], used[32], total[32];
	bool memory = strcmp(key, "memory") == 0;

	if (!json_is_object(cap) || json_object_get(node, key) != NULL)
		cap = node;
	snprintf(used_key, sizeof(used_key), "used_%s", key);
	figure(used, sizeof(used), json_object_get(node, used_key), memory);
	figure(total, sizeof(total), json_object_get(cap, key), memory);
	snprintf(buf, len, "%s/%s", used, total);
}

static void
add_row(struct table *t, const json_t *node)
{
	char hb[32], cpu[72], mem[72], count[32] = "-";
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
	usage(cpu, sizeof(cpu), node, "cpu");
	usage(mem, sizeof(mem), node, "memory");
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
	row[4] = cpu;
	row[5] = mem;
	row[6] = count;
	table_add(t, row);
}

/* `nodes rm NODE`: DELETE /v1/nodes/NODE; the controller refuses a node
 * that is not Lost. */
static int
nodes_rm(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc, char **argv)
{
	struct client *c = NULL;
	json_t *reply = NULL;
	char *path = NULL;
	long long dropped = 0;
	int ex;

	if (argc != 1)
		return orchctl_usage_error(cmd, "nodes rm: need exactly one NODE (got "
		    "%d arguments)", argc);
	if (argv[0][0] == '\0')
		return orchctl_usage_error(cmd, "empty NODE name");
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	path = client_path("/v1/nodes/", argv[0], "");
	if ((ex = client_call(&reply, c, "DELETE", path, NULL)) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
		goto out;
	}
	jget_int(&dropped, reply, "instances_dropped");
	printf("Node %s removed (%lld instance record%s forgotten).\n", argv[0],
	    dropped, dropped == 1 ? "" : "s");
out:
	json_decref(reply);
	free(path);
	client_free(c);
	return ex;
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
	if (optind < argc && strcmp(argv[optind], "rm") == 0)
		return nodes_rm(ctx, cmd, argc - optind - 1, argv + optind + 1);
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
	.usage = "nodes\nnodes rm NODE",
	.help =
	    "List the nodes registered with the controller (GET /v1/nodes):\n"
	    "\n"
	    "  NAME     ADDRESS          STATE   HEARTBEAT   CPU      MEMORY    INSTANCES\n"
	    "  node-a   127.0.0.1:7101   Ready   1s ago      0.75/4   384M/8G   3\n"
	    "\n"
	    "STATE is Ready, Suspect (heartbeats late), Lost (its cattle moved\n"
	    "away) or Draining (`orchctl drain`: no new placements). CPU and\n"
	    "MEMORY are USED/TOTAL: TOTAL the capacity the slave declares\n"
	    "(orch-slave --cpu/--memory, else what it detects), USED what the\n"
	    "manifest `resources` of its live instances reserve; \"-\" for a\n"
	    "figure the controller does not report.\n"
	    "\n"
	    "`orchctl nodes rm NODE` forgets a Lost node (DELETE\n"
	    "/v1/nodes/NODE): its records go, its pets may start on other nodes\n"
	    "(with an empty data dir). A node that is not Lost is refused: drain\n"
	    "it and stop its slave first. A slave that comes back registers anew.\n"
	    "\n"
	    "Options:\n"
	    "  -o json             the controller's reply as received (cpu, memory,\n"
	    "                      used_cpu, used_memory per node)\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL ".\n"
	    "\n"
	    "Exit status: 0 listed, 1 API error, 2 usage error, 3 controller\n"
	    "unreachable.",
};
