/*
 * main.c - orchctl's entry point: global options, the verb table, help.
 *
 *   orchctl [--controller URL] [--token-file F] [-o table|json] [-v] VERB ...
 *
 * Global options go before the verb; the same ones are also accepted after
 * it (kubectl style), so `orchctl validate -o json` and
 * `orchctl -o json validate` mean the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

/* Every verb that really works; later verbs add one row each. */
static const struct orchctl_cmd *const commands[] = {
	&cmd_validate,
	&cmd_diff,
	&cmd_apply,
	&cmd_status,
	&cmd_instances,
	&cmd_nodes,
	&cmd_history,
	&cmd_events,
	&cmd_logs,
	&cmd_scale,
	&cmd_drain,
	&cmd_rollback,
	&cmd_promote,
	&cmd_abort,
	&cmd_pause,
	&cmd_resume,
	&cmd_restart,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

enum {
	OPT_CONTROLLER = 0x100,
	OPT_TOKEN_FILE,
	OPT_VERSION,
	OPT_TLS_CA,
	OPT_CERT,
	OPT_KEY,
};

static const char global_options_help[] =
"Global options (also accepted after the verb):\n"
"  --controller URL    controller address (default: $ORCH_CONTROLLER,\n"
"                      else http://127.0.0.1:7070)\n"
"  --token-file FILE   file holding the API token (default: $ORCH_TOKEN\n"
"                      holds the token itself)\n"
"  --tls-ca FILE       CA to verify an https:// controller with (default:\n"
"                      $ORCH_TLS_CA; a URL without a scheme is then https)\n"
"  --cert FILE, --key FILE\n"
"                      client certificate and key for mutual TLS (default:\n"
"                      $ORCH_TLS_CERT, $ORCH_TLS_KEY)\n"
"  -o, --output FMT    table (default, for people) or json (for machines)\n"
"  -v, --verbose       say more (repeatable)\n"
"  -h, --help          show help and exit\n"
"      --version       show the version and exit\n";

static const struct orchctl_cmd *
find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void
print_usage_lines(FILE *f, const char *usage)
{
	const char *p = usage;
	const char *prefix = "usage: ";

	/* usage holds one synopsis per line; indent the ones after the first
	 * under the first, as git does. */
	while (*p) {
		size_t n = strcspn(p, "\n");
		fprintf(f, "%sorchctl %.*s\n", prefix, (int)n, p);
		prefix = "   or: ";
		p += n;
		if (*p == '\n')
			p++;
	}
}

static void
print_main_help(FILE *f)
{
	struct table *t;
	const char *hdr[] = {"", ""};

	fputs("usage: orchctl [global options] VERB [options] [args]\n\n"
	    "orchctl lints and compares orch architecture manifests, and (with a\n"
	    "controller) applies them and shows the cluster.\n\n"
	    "Verbs:\n", f);
	t = table_new(2, hdr);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char name[64];
		const char *row[2];

		snprintf(name, sizeof(name), "  %s", commands[i]->name);
		row[0] = name;
		row[1] = commands[i]->summary;
		table_add(t, row);
	}
	table_print(t, f);
	table_free(t);
	fputs("\n", f);
	fputs(global_options_help, f);
	fputs("\nExit codes: 0 success, 1 failed or rejected, 2 usage error,\n"
	    "3 cannot reach the controller.\n"
	    "Run 'orchctl help VERB' or 'orchctl VERB --help' for a verb's "
	    "options.\n", f);
}

static void
print_cmd_help(FILE *f, const struct orchctl_cmd *cmd)
{
	print_usage_lines(f, cmd->usage);
	fprintf(f, "\n%s\n", cmd->help);
	fputs("\n", f);
	fputs(global_options_help, f);
}

void
orchctl_warnx(const char *fmt, ...)
{
	va_list ap;

	fputs("orchctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
orchctl_usage_error(const struct orchctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "orchctl %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_usage_lines(stderr, cmd->usage);
	fprintf(stderr, "see 'orchctl %s --help'\n", cmd->name);
	return EXIT_USAGE;
}

static int
set_output(struct orchctl *ctx, const char *arg)
{
	if (strcmp(arg, "table") == 0 || strcmp(arg, "text") == 0)
		ctx->output = OUTPUT_TABLE;
	else if (strcmp(arg, "json") == 0)
		ctx->output = OUTPUT_JSON;
	else
		return -1;
	return 0;
}

/* The text of the option getopt just rejected, for the message. */
static void
bad_option_text(char *buf, size_t len, int argc, char **argv)
{
	const char *arg = NULL;

	if (optind - 1 >= 1 && optind - 1 < argc)
		arg = argv[optind - 1];
	if (arg != NULL && strncmp(arg, "--", 2) == 0) {
		/* "--opt=value": name the option only. */
		snprintf(buf, len, "%.*s", (int)strcspn(arg, "="), arg);
	} else if (optopt > ' ' && optopt < 0x7f)
		snprintf(buf, len, "-%c", optopt);
	else
		snprintf(buf, len, "%s", arg ? arg : "?");
}

/* --tls-ca, --cert, --key: one of the client's TLS files. */
static void
set_tls_file(struct orchctl *ctx, int opt, const char *path)
{
	if (opt == OPT_TLS_CA)
		ctx->tls.files.ca = path;
	else if (opt == OPT_CERT)
		ctx->tls.files.cert = path;
	else
		ctx->tls.files.key = path;
}

#define COMMON_SHORT "ho:v"
#define MAX_LONGOPTS 32

static const struct option common_longopts[] = {
	{"help", no_argument, NULL, 'h'},
	{"output", required_argument, NULL, 'o'},
	{"verbose", no_argument, NULL, 'v'},
	{"controller", required_argument, NULL, OPT_CONTROLLER},
	{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	{"tls-ca", required_argument, NULL, OPT_TLS_CA},
	{"cert", required_argument, NULL, OPT_CERT},
	{"key", required_argument, NULL, OPT_KEY},
};
#define NCOMMON_LONG (sizeof(common_longopts) / sizeof(common_longopts[0]))

int
orchctl_getopt(int *out_exit, struct orchctl *ctx,
    const struct orchctl_cmd *cmd, int argc, char **argv,
    const char *shortopts, const struct option *longopts)
{
	/* getopt_long wants one option string and one array; merge the
	 * verb's with the common ones. ":" first: report missing arguments
	 * as ':' so the message can say which. */
	char shorts[64];
	struct option longs[MAX_LONGOPTS];
	size_t n = 0;
	int c;

	snprintf(shorts, sizeof(shorts), ":%s%s", COMMON_SHORT,
	    shortopts ? shortopts : "");
	for (size_t i = 0; i < NCOMMON_LONG; i++)
		longs[n++] = common_longopts[i];
	for (size_t i = 0; longopts && longopts[i].name && n < MAX_LONGOPTS - 1; i++)
		longs[n++] = longopts[i];
	memset(&longs[n], 0, sizeof(longs[n]));

	opterr = 0;
	for (;;) {
		char bad[128];

		optopt = 0;
		c = getopt_long(argc, argv, shorts, longs, NULL);
		switch (c) {
		case 'h':
			print_cmd_help(stdout, cmd);
			*out_exit = EXIT_OK;
			return OPT_EXIT;
		case 'o':
			if (set_output(ctx, optarg) < 0) {
				*out_exit = orchctl_usage_error(cmd,
				    "unknown output format '%s' (table, json)",
				    optarg);
				return OPT_EXIT;
			}
			continue;
		case 'v':
			ctx->verbose++;
			continue;
		case OPT_CONTROLLER:
			ctx->controller = optarg;
			continue;
		case OPT_TOKEN_FILE:
			ctx->token_file = optarg;
			continue;
		case OPT_TLS_CA:
		case OPT_CERT:
		case OPT_KEY:
			set_tls_file(ctx, c, optarg);
			continue;
		case ':':
			bad_option_text(bad, sizeof(bad), argc, argv);
			*out_exit = orchctl_usage_error(cmd,
			    "option '%s' needs a value", bad);
			return OPT_EXIT;
		case '?':
			bad_option_text(bad, sizeof(bad), argc, argv);
			*out_exit = orchctl_usage_error(cmd,
			    "unknown option '%s'", bad);
			return OPT_EXIT;
		default:
			return c;
		}
	}
}

int
orchctl_getopt_none(int *out_exit, struct orchctl *ctx,
    const struct orchctl_cmd *cmd, int argc, char **argv)
{
	int ch;

	while ((ch = orchctl_getopt(out_exit, ctx, cmd, argc, argv, "",
	    NULL)) != -1) {
		if (ch != OPT_EXIT)
			*out_exit = orchctl_usage_error(cmd, "unexpected option");
		return OPT_EXIT;
	}
	return 0;
}

int
orchctl_one_name(const char **out, int *out_exit, struct orchctl *ctx,
    const struct orchctl_cmd *cmd, int argc, char **argv, const char *what)
{
	if (orchctl_getopt_none(out_exit, ctx, cmd, argc, argv) == OPT_EXIT)
		return OPT_EXIT;
	if (argc - optind != 1) {
		*out_exit = orchctl_usage_error(cmd, "need exactly one %s (got %d arguments)",
		    what, argc - optind);
		return OPT_EXIT;
	}
	if (*argv[optind] == '\0') {
		*out_exit = orchctl_usage_error(cmd, "empty %s name", what);
		return OPT_EXIT;
	}
	*out = argv[optind];
	return 0;
}

static int
main_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("orchctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nusage: orchctl [global options] VERB [options] [args]\n"
	    "see 'orchctl --help'\n", stderr);
	return EXIT_USAGE;
}

/* `orchctl help [VERB]`. */
static int
run_help(int argc, char **argv)
{
	const struct orchctl_cmd *cmd;

	if (argc < 2) {
		print_main_help(stdout);
		return EXIT_OK;
	}
	if (argc > 2)
		return main_usage_error("help takes at most one verb");
	if ((cmd = find_command(argv[1])) == NULL)
		return main_usage_error("unknown verb '%s'", argv[1]);
	print_cmd_help(stdout, cmd);
	return EXIT_OK;
}

/* What the environment says: ORCH_CONTROLLER, ORCH_TOKEN, ORCH_TLS_*
 * (an empty variable says nothing). The options come after and win. */
static void
from_environment(struct orchctl *ctx)
{
	static const struct {
		const char *name;
		size_t off;
	} vars[] = {
		{"ORCH_CONTROLLER", offsetof(struct orchctl, controller)},
		{"ORCH_TOKEN", offsetof(struct orchctl, token)},
		{"ORCH_TLS_CA", offsetof(struct orchctl, tls.files.ca)},
		{"ORCH_TLS_CERT", offsetof(struct orchctl, tls.files.cert)},
		{"ORCH_TLS_KEY", offsetof(struct orchctl, tls.files.key)},
	};
	const char *env;

	memset(ctx, 0, sizeof(*ctx));
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if ((env = getenv(vars[i].name)) != NULL && *env != '\0')
			*(const char **)((char *)ctx + vars[i].off) = env;
}

int
main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{"output", required_argument, NULL, 'o'},
		{"verbose", no_argument, NULL, 'v'},
		{"controller", required_argument, NULL, OPT_CONTROLLER},
		{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
		{"tls-ca", required_argument, NULL, OPT_TLS_CA},
		{"cert", required_argument, NULL, OPT_CERT},
		{"key", required_argument, NULL, OPT_KEY},
		{NULL, 0, NULL, 0},
	};
	struct orchctl ctx;
	const struct orchctl_cmd *cmd;
	char bad[128];
	int c, rc;

	from_environment(&ctx);

	/* "+": stop at the verb; its options are the verb's to parse. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:ho:v", longs, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_main_help(stdout);
			return EXIT_OK;
		case OPT_VERSION:
			printf("orchctl %s\n", ORCH_VERSION_STRING);
			return EXIT_OK;
		case 'o':
			if (set_output(&ctx, optarg) < 0)
				return main_usage_error(
				    "unknown output format '%s' (table, json)",
				    optarg);
			break;
		case 'v':
			ctx.verbose++;
			break;
		case OPT_CONTROLLER:
			ctx.controller = optarg;
			break;
		case OPT_TOKEN_FILE:
			ctx.token_file = optarg;
			break;
		case OPT_TLS_CA:
		case OPT_CERT:
		case OPT_KEY:
			set_tls_file(&ctx, c, optarg);
			break;
		case ':':
			bad_option_text(bad, sizeof(bad), argc, argv);
			return main_usage_error("option '%s' needs a value", bad);
		default:
			bad_option_text(bad, sizeof(bad), argc, argv);
			return main_usage_error("unknown option '%s'", bad);
		}
		optopt = 0;
	}
	if (optind >= argc)
		return main_usage_error("no verb given");
	if (strcmp(argv[optind], "help") == 0)
		return run_help(argc - optind, argv + optind);
	if ((cmd = find_command(argv[optind])) == NULL)
		return main_usage_error("unknown verb '%s'", argv[optind]);

	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: 0 re-initialises getopt for the verb's argv */
	rc = cmd->fn(&ctx, cmd, argc, argv);
	if (fflush(stdout) != 0 && rc == EXIT_OK) {
		/* A full disk or closed pipe must not look like success. */
		orchctl_warnx("cannot write output");
		rc = EXIT_FAILED;
	}
	return rc;
}
