/*
 * cmd_drain.c - `orchctl drain NODE`: stop placing on a node and move its
 * cattle away (POST /v1/nodes/NAME/drain), as kubectl drain.
 */
#include <stdio.h>
#include <stdlib.h>

#include "orchctl.h"

static int
run_drain(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	struct client *c = NULL;
	json_t *reply = NULL;
	char *path = NULL;
	int ex;

	if (orchctl_getopt_none(&ex, ctx, cmd, argc, argv) == OPT_EXIT)
		return ex;
	if (argc - optind != 1)
		return orchctl_usage_error(cmd, "need exactly one NODE (got %d "
		    "arguments)", argc - optind);
	if (argv[optind][0] == '\0')
		return orchctl_usage_error(cmd, "empty NODE name");
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	path = client_path("/v1/nodes/", argv[optind], "/drain");
	if ((ex = client_call(&reply, c, "POST", path, NULL)) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else
		printf("Node %s is draining: no new placements; its cattle "
		    "move to other nodes.\n", argv[optind]);
out:
	json_decref(reply);
	free(path);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_drain = {
	.name = "drain",
	.fn = run_drain,
	.summary = "move cattle off a node and refuse new placements there",
	.usage = "drain NODE",
	.help =
	    "Mark NODE Draining (POST /v1/nodes/NODE/drain): the scheduler\n"
	    "places nothing new there and the controller replaces its cattle\n"
	    "instances on other nodes that fit. Pets stay where they are (their\n"
	    "data lives on that node). `orchctl nodes` shows the state.\n"
	    "\n"
	    "Options:\n"
	    "  -o json             the controller's reply as received\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL "; draining needs the token (--token-file or\n"
	    "$ORCH_TOKEN).\n"
	    "\n"
	    "Exit status: 0 accepted, 1 refused (no such node), 2 usage error,\n"
	    "3 controller unreachable.",
};
