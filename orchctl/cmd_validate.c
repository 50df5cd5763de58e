/*
 * cmd_validate.c - `orchctl validate`: lint a manifest file or the
 * manifest at a git revision, locally, with every error at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "orchctl.h"

enum {
	OPT_REPO = 0x200,
	OPT_REF,
	OPT_MANIFEST,
};

/* "a, b, c" or "a -> b -> c" into a fresh string. */
static char *
join_names(const struct manifest *m, const size_t *order, const char *sep)
{
	size_t len = 1, seplen = strlen(sep);
	char *s, *p;

	for (size_t i = 0; i < m->nservices; i++)
		len += strlen(m->services[i].name) + seplen;
	if ((s = malloc(len)) == NULL)
		abort();
	p = s;
	*p = '\0';
	for (size_t i = 0; i < m->nservices; i++) {
		const char *name = m->services[order ? order[i] : i].name;
		if (i > 0) {
			memcpy(p, sep, seplen);
			p += seplen;
		}
		memcpy(p, name, strlen(name));
		p += strlen(name);
	}
	*p = '\0';
	return s;
}

/* The service table of -v, in start order. */
static void
print_services(const struct manifest *m, const size_t *order)
{
	static const char *const hdr[] = {"NAME", "KIND", "VERSION", "REPLICAS",
	    "STRATEGY", "HEALTH", "DEPENDS ON"};
	struct table *t = table_new(7, hdr);

	for (size_t i = 0; i < m->nservices; i++) {
		const struct service_spec *sv = &m->services[order[i]];
		char replicas[64], deps[1024];
		const char *row[7];
		size_t off = 0;

		snprintf(replicas, sizeof(replicas), "%d (%d..%d)", sv->replicas,
		    sv->min, sv->max);
		deps[0] = '\0';
		for (size_t d = 0; d < sv->ndeps && off < sizeof(deps); d++) {
			int n = snprintf(deps + off, sizeof(deps) - off, "%s%s %s",
			    d ? ", " : "", sv->deps[d].service,
			    sv->deps[d].constraint);
			if (n < 0)
				break;
			off += (size_t)n;
		}
		row[0] = sv->name;
		row[1] = manifest_kind_name(sv->kind);
		row[2] = sv->version;
		row[3] = replicas;
		row[4] = manifest_strategy_name(sv->strategy.type);
		row[5] = manifest_health_name(sv->health.type);
		row[6] = deps[0] ? deps : "-";
		table_add(t, row);
	}
	table_print(t, stdout);
	table_free(t);
}

static int
report_valid(const struct orchctl *ctx, const struct source *src)
{
	const struct manifest *m = src->m;
	size_t *order = NULL;
	char *names, *chain;

	if (manifest_start_order(&order, m) < 0) {
		/* Validation rejects cycles, so this is the library's bug or
		 * an allocation failure; say so rather than print half. */
		orchctl_warnx("%s: %s", src->label, orch_err_last());
		return EXIT_FAILED;
	}
	if (ctx->output == OUTPUT_JSON) {
		json_t *o = jobj(), *sv = jarr(), *so = jarr();

		for (size_t i = 0; i < m->nservices; i++) {
			jpush(sv, jstr(m->services[i].name));
			jpush(so, jstr(m->services[order[i]].name));
		}
		jset(o, "valid", json_true());
		jset(o, "file", jstr(src->label));
		jset(o, "architecture", jstr(m->architecture));
		jset(o, "version", jstr(m->version));
		jset(o, "services", sv);
		jset(o, "start_order", so);
		if (src->has_commit)
			jset(o, "commit", source_commit_json(&src->commit));
		output_json(stdout, o);
		free(order);
		return EXIT_OK;
	}

	names = join_names(m, NULL, ", ");
	chain = join_names(m, order, " -> ");
	printf("%s", src->label);
	if (src->has_commit)
		printf(" \"%s\"", src->commit.summary ? src->commit.summary : "");
	printf(": valid: architecture %s%s%s, %zu service%s (%s), "
	    "start order %s\n", m->architecture,
	    m->version && m->version[0] ? " " : "",
	    m->version ? m->version : "", m->nservices,
	    m->nservices == 1 ? "" : "s", names, chain);
	if (ctx->verbose > 0 && m->nservices > 0) {
		fputc('\n', stdout);
		print_services(m, order);
	}
	free(names);
	free(chain);
	free(order);
	return EXIT_OK;
}

static int
report_invalid(const struct orchctl *ctx, const struct source *src)
{
	if (ctx->output == OUTPUT_JSON) {
		json_t *o = jobj(), *errs = jarr();

		output_errors_json(errs, &src->errs);
		jset(o, "valid", json_false());
		jset(o, "file", jstr(src->label));
		jset(o, "errors", errs);
		if (src->has_commit)
			jset(o, "commit", source_commit_json(&src->commit));
		output_json(stdout, o);
		return EXIT_FAILED;
	}
	output_errors_text(stderr, &src->errs);
	output_errors_count(stderr, src->errs.n);
	return EXIT_FAILED;
}

/* The manifest could not be read at all: missing file, bad ref. */
static int
report_unreadable(const struct orchctl *ctx, const char *label)
{
	if (ctx->output == OUTPUT_JSON) {
		json_t *o = jobj();

		jset(o, "valid", json_false());
		jset(o, "file", jstr(label));
		jset(o, "error", jstr(orch_err_last()));
		jset(o, "errors", jarr());
		output_json(stdout, o);
	} else
		orchctl_warnx("%s", orch_err_last());
	return EXIT_FAILED;
}

static int
run_validate(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"repo", required_argument, NULL, OPT_REPO},
		{"ref", required_argument, NULL, OPT_REF},
		{"manifest", required_argument, NULL, OPT_MANIFEST},
		{NULL, 0, NULL, 0},
	};
	const char *repo = NULL, *ref = NULL, *path = NULL, *file;
	struct manifest_git *g = NULL;
	struct source src;
	int c, ex, rc;

	while ((c = orchctl_getopt(&ex, ctx, cmd, argc, argv, "", longs)) != -1) {
		switch (c) {
		case OPT_EXIT:
			return ex;
		case OPT_REPO:
			repo = optarg;
			break;
		case OPT_REF:
			ref = optarg;
			break;
		case OPT_MANIFEST:
			path = optarg;
			break;
		default:
			return orchctl_usage_error(cmd, "unexpected option");
		}
	}
	if (argc - optind > 1)
		return orchctl_usage_error(cmd, "too many arguments");
	file = optind < argc ? argv[optind] : NULL;

	if (repo == NULL) {
		if (ref != NULL || path != NULL)
			return orchctl_usage_error(cmd,
			    "--ref and --manifest need --repo");
		if (file == NULL)
			file = "orch.yaml";
		rc = source_load_file(&src, file);
	} else {
		if (file != NULL)
			return orchctl_usage_error(cmd, "a FILE argument and "
			    "--repo exclude each other (use --manifest PATH)");
		if (ref == NULL)
			ref = "HEAD";
		if (path == NULL)
			path = "orch.yaml";
		if (manifest_git_open(&g, repo, NULL) < 0)
			return report_unreadable(ctx, repo);
		rc = source_load_git(&src, g, ref, path);
	}

	if (rc == 0)
		ex = report_valid(ctx, &src);
	else if (rc == ORCH_EINVALID)
		ex = report_invalid(ctx, &src);
	else
		ex = report_unreadable(ctx, src.label);
	source_free(&src);
	manifest_git_free(g);
	return ex;
}

const struct orchctl_cmd cmd_validate = {
	.name = "validate",
	.fn = run_validate,
	.summary = "lint a manifest file or the manifest at a git revision",
	.usage =
	    "validate [options] [FILE]\n"
	    "validate [options] --repo DIR [--ref REF] [--manifest PATH]",
	.help =
	    "Parse and fully validate an architecture manifest locally, without a\n"
	    "controller: types, units, semver, ranges, the dependency graph and\n"
	    "its version constraints. A valid manifest gives one summary line on\n"
	    "stdout and exit 0; an invalid one gives every error as\n"
	    "'file:line:col: field.path: message' on stderr, a count, and exit 1.\n"
	    "\n"
	    "FILE defaults to ./orch.yaml. With --repo, the manifest is read from\n"
	    "a commit of a local git repository instead of the work tree.\n"
	    "\n"
	    "Options:\n"
	    "  --repo DIR          read the manifest from the git repository DIR\n"
	    "  --ref REF           branch, tag, sha or rev expression (default HEAD)\n"
	    "  --manifest PATH     manifest path inside the repository\n"
	    "                      (default orch.yaml)\n"
	    "  -v                  also print a table of the services in start order\n"
	    "  -o json             print {\"valid\", \"architecture\", \"version\",\n"
	    "                      \"services\", \"start_order\", \"commit\"} or\n"
	    "                      {\"valid\": false, \"errors\": [...]} on stdout\n"
	    "\n"
	    "Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl validate\n"
	    "  orchctl validate examples/shop/orch.yaml -v\n"
	    "  orchctl validate --repo . --ref HEAD~1\n"
	    "  orchctl validate --repo /srv/arch --ref v2.4.0 -o json",
};
