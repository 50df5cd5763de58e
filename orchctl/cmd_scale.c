/*
 * cmd_scale.c - `orchctl scale SERVICE N|--reset`: change a service's
 * instance count within its manifest's min..max, or return it to the
 * manifest's replicas (POST /v1/services/NAME/scale).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

enum {
	OPT_RESET = 0x200,
};

/* One line from the reply, the service after the controller took the
 * target: "api scaled to 4 replicas." (the count the controller now
 * aims at), "api back to the manifest's 3 replicas." */
static void
print_scaled(const char *service, const json_t *reply, long long n, bool reset)
{
	long long desired;
	bool known = jget_int(&desired, reply, "desired");

	if (reset && known)
		printf("%s back to the manifest's %lld replica%s.\n", service, desired,
		    desired == 1 ? "" : "s");
	else if (reset)
		printf("%s back to the manifest's replicas.\n", service);
	else {
		n = known ? desired : n;
		printf("%s scaled to %lld replica%s.\n", service, n, n == 1 ? "" : "s");
	}
}

static int
run_scale(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"reset", no_argument, NULL, OPT_RESET},
		{NULL, 0, NULL, 0},
	};
	struct client *c = NULL;
	json_t *body = NULL, *reply = NULL;
	const char *service;
	char *path = NULL;
	bool reset = false;
	long long n = 0;
	int ch, ex, want;

	/* getopt would take "scale api -1" for an option -1; say what is
	 * really wrong with it. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (argv[i][0] == '-' && argv[i][1] >= '0' && argv[i][1] <= '9')
			return orchctl_usage_error(cmd, "N: '%s' is not a "
			    "non-negative integer", argv[i]);
	while ((ch = orchctl_getopt(&ex, ctx, cmd, argc, argv, "", longs)) != -1) {
		if (ch == OPT_EXIT)
			return ex;
		if (ch != OPT_RESET)
			return orchctl_usage_error(cmd, "unexpected option");
		reset = true;
	}
	want = reset ? 1 : 2;
	if (argc - optind != want)
		return orchctl_usage_error(cmd, reset ? "--reset takes SERVICE only (got %d "
		    "argument%s)" : "need SERVICE and N (got %d argument%s)", argc - optind,
		    argc - optind == 1 ? "" : "s");
	service = argv[optind];
	if (*service == '\0')
		return orchctl_usage_error(cmd, "empty SERVICE name");
	/* Digits only: "-1", "+3", "2.5" and "3x" are typos, not counts. */
	if (!reset && (n = parse_count(argv[optind + 1], INT_MAX)) < 0)
		return orchctl_usage_error(cmd, "N: '%s' is not a non-negative "
		    "integer", argv[optind + 1]);
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	body = jobj();
	if (reset)
		jset(body, "reset", json_true());
	else
		jset(body, "replicas", jint(n));
	path = client_path("/v1/services/", service, "/scale");
	if ((ex = client_call(&reply, c, "POST", path, body)) != EXIT_OK)
		goto out;
	if (ctx->output == OUTPUT_JSON) {
		client_print_json(reply);
		reply = NULL;
	} else
		print_scaled(service, reply, n, reset);
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
	.usage = "scale SERVICE N\nscale SERVICE --reset",
	.help =
	    "Ask the controller to run N instances of SERVICE (POST\n"
	    "/v1/services/SERVICE/scale {\"replicas\": N}). N must lie within\n"
	    "the min..max the manifest gives the service; the controller\n"
	    "refuses anything else and says the bounds. N = 0 (when min is 0)\n"
	    "stops every instance. The service shows the state Scale until the\n"
	    "new count is Run.\n"
	    "\n"
	    "The target stays across applies, until an applied manifest changes\n"
	    "the service's replicas (that new count wins, as with kubectl apply)\n"
	    "or `orchctl scale SERVICE --reset` ({\"reset\": true}) returns the\n"
	    "service to the manifest's replicas.\n"
	    "\n"
	    "The answer is the service after the controller planned the change:\n"
	    "its desired count is the new one.\n"
	    "\n"
	    "Options:\n"
	    "  --reset             back to the manifest's replicas\n"
	    "  -o json             the controller's reply (the service object)\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL "; scaling needs the token (--token-file or\n"
	    "$ORCH_TOKEN).\n"
	    "\n"
	    "Exit status: 0 accepted, 1 refused (out of bounds, no such\n"
	    "service), 2 usage error (N not a non-negative integer),\n"
	    "3 controller unreachable.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl scale web 6\n"
	    "  orchctl scale worker 0\n"
	    "  orchctl scale web --reset",
};
