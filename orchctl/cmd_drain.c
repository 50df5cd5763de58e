/*
 * cmd_drain.c - `orchctl drain [--undo] NODE`: stop placing on a node and
 * move its cattle away, as kubectl drain, or lift that again, as kubectl
 * uncordon (POST /v1/nodes/NAME/drain, {"undo": true} to lift).
 */
#include <stdio.h>
#include <stdlib.h>

#include "orchctl.h"

enum {
	OPT_UNDO = 0x200,
};

/* What the controller said: the node's state, and the pets that stay. */
static void
print_drained(const char *node, const json_t *reply, bool undo)
{
	const char *state = jget_str(reply, "state");
	const char *msg = jget_str(reply, "message");
	const json_t *pets = json_object_get(reply, "pets");
	const json_t *p;
	size_t i;

	if (undo) {
		printf("Node %s is no longer draining: it takes new placements "
		    "again (now %s).\n", node, state ? state : "-");
		return;
	}
	printf("Node %s is draining: no new placements; its cattle move to "
	    "other nodes.\n", node);
	if (json_array_size(pets) > 0) {
		printf("Pets staying on %s:", node);
		json_array_foreach(pets, i, p)
			printf(" %s", json_string_value(p) ? json_string_value(p) : "?");
		printf("\n");
	}
	if (msg != NULL && *msg)
		printf("%s.\n", msg);
}

static int
run_drain(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"undo", no_argument, NULL, OPT_UNDO},
		{NULL, 0, NULL, 0},
	};
	struct client *c = NULL;
	json_t *reply = NULL, *body = NULL;
	char *path = NULL;
	bool undo = false;
	int ch, ex;

	while ((ch = orchctl_getopt(&ex, ctx, cmd, argc, argv, "", longs)) != -1) {
		if (ch == OPT_EXIT)
			return ex;
		if (ch != OPT_UNDO)
			return orchctl_usage_error(cmd, "unexpected option");
		undo = true;
	}
	if (argc - optind != 1)
		return orchctl_usage_error(cmd, "need exactly one NODE (got %d "
		    "arguments)", argc - optind);
	if (argv[optind][0] == '\0')
		return orchctl_usage_error(cmd, "empty NODE name");
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	if (undo) {
		body = jobj();
		jset(body, "undo", json_true());
	}
	path = client_path("/v1/nodes/", argv[optind], "/drain");
	if ((ex = client_call(&reply, c, "POST", path, body)) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else
		print_drained(argv[optind], reply, undo);
out:
	json_decref(reply);
	json_decref(body);
	free(path);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_drain = {
	.name = "drain",
	.fn = run_drain,
	.summary = "move cattle off a node and refuse new placements there",
	.usage = "drain NODE\ndrain --undo NODE",
	.help =
	    "Mark NODE Draining (POST /v1/nodes/NODE/drain): the scheduler\n"
	    "places nothing new there and the controller replaces its cattle\n"
	    "instances on other nodes that fit. Pets stay where they are (their\n"
	    "data lives on that node): the answer lists them and says what to\n"
	    "do. `orchctl nodes` shows the state.\n"
	    "\n"
	    "With --undo ({\"undo\": true}) the node takes new placements again\n"
	    "(kubectl uncordon); cattle already moved stay where they went.\n"
	    "\n"
	    "Options:\n"
	    "  --undo              lift the drain\n"
	    "  -o json             the controller's reply ({\"name\", \"state\",\n"
	    "                      \"drain\", \"pets\", \"message\"})\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL "; draining needs the token (--token-file or\n"
	    "$ORCH_TOKEN).\n"
	    "\n"
	    "Exit status: 0 accepted, 1 refused (no such node), 2 usage error,\n"
	    "3 controller unreachable.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl drain node-b\n"
	    "  orchctl drain --undo node-b",
};
