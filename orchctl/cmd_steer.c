/*
 * cmd_steer.c - `orchctl promote|abort|pause|resume SERVICE`: steer a
 * rollout (POST /v1/services/NAME/{promote,abort,pause,resume}). One
 * request shape, four verbs: each row of the table below is one verb.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

/* The verb's name is also the last path segment. */
static int
run_steer(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	struct client *c = NULL;
	json_t *reply = NULL, *ro;
	const char *service, *state, *reason, *phase;
	char *path = NULL, suffix[32];
	long long step, steps;
	int ex;

	if (orchctl_getopt_none(&ex, ctx, cmd, argc, argv) == OPT_EXIT)
		return ex;
	if (argc - optind != 1)
		return orchctl_usage_error(cmd, "need exactly one SERVICE (got %d "
		    "arguments)", argc - optind);
	service = argv[optind];
	if (*service == '\0')
		return orchctl_usage_error(cmd, "empty SERVICE name");
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	snprintf(suffix, sizeof(suffix), "/%s", cmd->name);
	path = client_path("/v1/services/", service, suffix);
	if ((ex = client_call(&reply, c, "POST", path, NULL)) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
		goto out;
	}
	/* The controller answers with the service object of /v1/status. */
	state = jget_str(reply, "state");
	reason = jget_str(reply, "reason");
	ro = json_object_get(reply, "rollout");
	phase = jget_str(ro, "phase");
	/* The answer is the service as it is when the request is taken;
	 * the planner acts on it next. */
	printf("%s: %s %s. Now: %s", service, cmd->name,
	    strcmp(cmd->name, "pause") == 0 ? "done" :
	    strcmp(cmd->name, "resume") == 0 ? "done" : "requested",
	    state ? state : "-");
	if (json_is_true(json_object_get(reply, "paused")))
		printf(", paused");
	if (phase != NULL && strcmp(phase, "none") != 0) {
		printf(", rollout %s", phase);
		if (jget_int(&step, ro, "step") && jget_int(&steps, ro, "steps"))
			printf(json_is_true(json_object_get(ro, "full")) ?
			    " (full set, after step %lld/%lld)" : " (step %lld/%lld)",
			    step, steps);
	}
	if (reason != NULL && *reason)
		printf(": %s", reason);
	printf(".\n");
out:
	json_decref(reply);
	free(path);
	client_free(c);
	return ex;
}

#define STEER_TAIL \
	"\n" \
	"Options:\n" \
	"  -o json             the controller's reply (the service object)\n" \
	"\n" \
	"The controller is --controller URL, else $ORCH_CONTROLLER, else\n" \
	CLIENT_DEFAULT_URL "; steering needs the token (--token-file or\n" \
	"$ORCH_TOKEN). `orchctl status SERVICE` shows the rollout.\n" \
	"\n" \
	"Exit status: 0 accepted, 1 refused (no such service), 2 usage\n" \
	"error, 3 controller unreachable."

const struct orchctl_cmd cmd_promote = {
	.name = "promote",
	.fn = run_steer,
	.summary = "end a rollout's current pause now (canary, blue-green)",
	.usage = "promote SERVICE",
	.help =
	    "Ask the controller to take SERVICE's rollout on (POST\n"
	    "/v1/services/SERVICE/promote): a canary waiting for promote (or\n"
	    "in a timed pause) goes to its next step, a blue-green rollout\n"
	    "switches to the new set; after an abort, the rollout is retried.\n"
	    "The planner takes the request on its next pass.\n"
	    STEER_TAIL,
};

const struct orchctl_cmd cmd_abort = {
	.name = "abort",
	.fn = run_steer,
	.summary = "send a rollout back to the old version",
	.usage = "abort SERVICE",
	.help =
	    "Ask the controller to abort SERVICE's rollout (POST\n"
	    "/v1/services/SERVICE/abort): canary and blue-green go back to the\n"
	    "old set at once; rolling and recreate roll back. `orchctl promote`\n"
	    "retries the rollout.\n"
	    STEER_TAIL,
};

const struct orchctl_cmd cmd_pause = {
	.name = "pause",
	.fn = run_steer,
	.summary = "stop a rollout from taking new steps",
	.usage = "pause SERVICE",
	.help =
	    "Pause SERVICE's rollout (POST /v1/services/SERVICE/pause): what\n"
	    "runs keeps running, no new step is taken, and the progress\n"
	    "deadline does not count the paused time. `orchctl resume` lifts\n"
	    "it.\n"
	    STEER_TAIL,
};

const struct orchctl_cmd cmd_resume = {
	.name = "resume",
	.fn = run_steer,
	.summary = "let a paused rollout go on",
	.usage = "resume SERVICE",
	.help =
	    "Lift a pause of SERVICE's rollout (POST\n"
	    "/v1/services/SERVICE/resume).\n"
	    STEER_TAIL,
};
