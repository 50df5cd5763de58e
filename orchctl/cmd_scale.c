/*
 * cmd_scale.c - `orchctl scale SERVICE N`: change a service's instance
 * count within its manifest's min..max (POST /v1/services/NAME/scale).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

static int
run_scale(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	struct client *c = NULL;
	json_t *body = NULL, *reply = NULL;
	const char *service;
	char *path = NULL;
	long long n;
	int ex;

	/* getopt would take "scale api -1" for an option -1; say what is
	 * really wrong with it. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (argv[i][0] == '-' && argv[i][1] >= '0' && argv[i][1] <= '9')
			return orchctl_usage_error(cmd, "N: '%s' is not a "
			    "non-negative integer", argv[i]);
	if (orchctl_getopt_none(&ex, ctx, cmd, argc, argv) == OPT_EXIT)
		return ex;
	if (argc - optind != 2)
		return orchctl_usage_error(cmd, "need SERVICE and N (got %d "
		    "argument%s)", argc - optind, argc - optind == 1 ? "" : "s");
	service = argv[optind];
	if (*service == '\0')
		return orchctl_usage_error(cmd, "empty SERVICE name");
	/* Digits only: "-1", "+3", "2.5" and "3x" are typos, not counts. */
	if ((n = parse_count(argv[optind + 1], INT_MAX)) < 0)
		return orchctl_usage_error(cmd, "N: '%s' is not a non-negative "
		    "integer", argv[optind + 1]);
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	body = jobj();
	jset(body, "replicas", jint(n));
	path = client_path("/v1/services/", service, "/scale");
	if ((ex = client_call(&reply, c, "POST", path, body)) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else
		printf("%s scaled to %lld replica%s.\n", service, n,
		    n == 1 ? "" : "s");
out:
	json_decref(reply);
	json_decref(body);
	free(path);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_scale = {
	.name = "scale",
	.fn = run_scale,
	.summary = "set a service's instance count within its min..max",
	.usage = "scale SERVICE N",
	.help =
	    "Ask the controller to run N instances of SERVICE (POST\n"
	    "/v1/services/SERVICE/scale {\"replicas\": N}). N must lie within\n"
	    "the min..max the manifest gives the service; the controller\n"
	    "refuses anything else and says the bounds. The service shows the\n"
	    "state Scale until the new count is Run. The next apply sets the\n"
	    "count back to the manifest's replicas.\n"
	    "\n"
	    "Options:\n"
	    "  -o json             the controller's reply as received\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL "; scaling needs the token (--token-file or\n"
	    "$ORCH_TOKEN).\n"
	    "\n"
	    "Exit status: 0 accepted, 1 refused (out of bounds, no such\n"
	    "service), 2 usage error (N not a non-negative integer),\n"
	    "3 controller unreachable.\n"
	    "\n"
	    "Example:\n"
	    "  orchctl scale web 6",
};
