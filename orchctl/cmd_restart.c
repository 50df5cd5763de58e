/*
 * cmd_restart.c - `orchctl restart SERVICE|INSTANCE`: a rolling restart
 * of every instance of a service with its strategy (POST
 * /v1/services/NAME/restart), or a Failed pet revived in place with a
 * fresh restart budget (POST /v1/instances/ID/restart).
 *
 * One argument names either: a service of that name wins; otherwise it
 * is taken for an instance id (the controller says when it is neither).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

/* Whether name is a service the controller lists (GET /v1/status: a
 * 404 of GET /v1/services/NAME would be printed as an error). *out_ex
 * is set when the controller could not be asked. */
static bool
is_service(int *out_ex, struct client *c, const char *name)
{
	json_t *reply = NULL, *svcs, *s;
	bool yes = false;
	size_t i;

	if ((*out_ex = client_get_list(&reply, &svcs, c, "/v1/status",
	    "services")) != EXIT_OK)
		return false;
	json_array_foreach(svcs, i, s)
		if (jget_str(s, "name") != NULL && strcmp(jget_str(s, "name"), name) == 0)
			yes = true;
	json_decref(reply);
	return yes;
}

static int
run_restart(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	struct client *c = NULL;
	json_t *reply = NULL;
	const char *name, *state;
	char *path = NULL;
	bool service;
	int ex;

	if (orchctl_one_name(&name, &ex, ctx, cmd, argc, argv, "SERVICE or INSTANCE") == OPT_EXIT)
		return ex;
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	service = is_service(&ex, c, name);
	if (ex != EXIT_OK)
		goto out;
	path = service ? client_path("/v1/services/", name, "/restart") :
	    client_path("/v1/instances/", name, "/restart");
	if ((ex = client_call(&reply, c, "POST", path, NULL)) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
		goto out;
	}
	state = jget_str(reply, "state");
	if (service)
		printf("%s: restart requested; every instance is replaced with the "
		    "service's strategy (%s). Now: %s.\n", name,
		    jget_str(reply, "strategy") ? jget_str(reply, "strategy") : "-",
		    state ? state : "-");
	else
		printf("%s: revived in place with a fresh restart budget. Now: %s.\n",
		    name, state ? state : "-");
out:
	json_decref(reply);
	free(path);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_restart = {
	.name = "restart",
	.fn = run_restart,
	.summary = "rolling restart of a service; revive a Failed pet",
	.usage = "restart SERVICE\nrestart INSTANCE",
	.help =
	    "restart SERVICE (POST /v1/services/SERVICE/restart): replace every\n"
	    "instance of SERVICE, one step at a time with the service's own\n"
	    "strategy (rolling: max_surge/max_unavailable; canary and\n"
	    "blue-green with their steps; recreate: all at once; pets in place,\n"
	    "same id, node and data dir), as `kubectl rollout restart`. The\n"
	    "controller counts restarts per service (ORCH_RESTART=N in the\n"
	    "instances' environment); the count stays across applies.\n"
	    "\n"
	    "restart INSTANCE (POST /v1/instances/INSTANCE/restart): a pet that\n"
	    "is Failed past its restart limit starts again in place with a fresh\n"
	    "restart budget. Cattle are refused (the controller replaces failed\n"
	    "cattle itself), and so is a pet that is not Failed.\n"
	    "\n"
	    "A name that is a service is taken as one; otherwise as an instance\n"
	    "id (`orchctl instances`).\n"
	    "\n"
	    "Options:\n"
	    "  -o json             the controller's reply (the service or the\n"
	    "                      instance object)\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL "; restarting needs the token (--token-file or\n"
	    "$ORCH_TOKEN).\n"
	    "\n"
	    "Exit status: 0 accepted, 1 refused (no such service or instance,\n"
	    "not a Failed pet), 2 usage error, 3 controller unreachable.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl restart web\n"
	    "  orchctl restart db-0",
};
