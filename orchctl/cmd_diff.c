/*
 * cmd_diff.c - `orchctl diff`: the plan between two manifests (two files,
 * or two revisions of a git repository), as terraform plan shows one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "orchctl.h"

enum {
	OPT_REPO = 0x200,
	OPT_MANIFEST,
};

struct plan_counts {
	size_t add, rollout, inplace, remove, unchanged;
};

static void
count_plan(struct plan_counts *out, const struct manifest_diff *d)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < d->nservices; i++) {
		switch (d->services[i].action) {
		case DIFF_ADDED:
			out->add++;
			break;
		case DIFF_REMOVED:
			out->remove++;
			break;
		case DIFF_CHANGED:
			out->rollout++;
			break;
		case DIFF_INPLACE:
			out->inplace++;
			break;
		case DIFF_UNCHANGED:
			out->unchanged++;
			break;
		}
	}
}

/* "version, env" for the bits of fields inside mask, into buf. */
static void
field_list(char *buf, size_t len, unsigned fields, unsigned mask)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned bit = 1; bit < DIFF_F__LAST; bit <<= 1) {
		int n;

		if (!(fields & mask & bit))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
		    manifest_diff_field_name(bit));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

static const char *
str_or(const char *s, const char *dflt)
{
	return s && s[0] ? s : dflt;
}

/* One line of the plan; see docs/cli.md for the forms. */
static void
print_service(const struct service_diff *sd)
{
	char rollout[512], inplace[512];
	bool replicas = (sd->fields & DIFF_F_REPLICAS) != 0;

	field_list(rollout, sizeof(rollout), sd->fields, DIFF_ROLLOUT_FIELDS);
	field_list(inplace, sizeof(inplace), sd->fields, ~DIFF_ROLLOUT_FIELDS);
	switch (sd->action) {
	case DIFF_ADDED:
		printf("+ %s (added) %s x%d\n", sd->name,
		    str_or(sd->new_version, "-"), sd->new_replicas);
		break;
	case DIFF_REMOVED:
		printf("- %s (removed) %s x%d\n", sd->name,
		    str_or(sd->old_version, "-"), sd->old_replicas);
		break;
	case DIFF_UNCHANGED:
		printf("  %s (unchanged) %s x%d\n", sd->name,
		    str_or(sd->new_version, "-"), sd->new_replicas);
		break;
	case DIFF_CHANGED:
		printf("~ %s ", sd->name);
		if (sd->fields & DIFF_F_VERSION)
			printf("%s -> %s", str_or(sd->old_version, "-"),
			    str_or(sd->new_version, "-"));
		else
			printf("%s", str_or(sd->new_version, "-"));
		if (replicas)
			printf(", replicas %d -> %d", sd->old_replicas,
			    sd->new_replicas);
		printf(" (rollout: %s", rollout[0] ? rollout : "-");
		if (inplace[0])
			printf("; in place: %s", inplace);
		printf(")\n");
		break;
	case DIFF_INPLACE:
		printf("~ %s ", sd->name);
		if (replicas)
			printf("replicas %d -> %d", sd->old_replicas,
			    sd->new_replicas);
		else
			printf("%s", str_or(sd->new_version, "-"));
		printf(" (in place: %s)\n", inplace[0] ? inplace : "-");
		break;
	}
}

static void
print_plan(const struct orchctl *ctx, const struct source *from,
    const struct source *to, const struct manifest_diff *d)
{
	const struct manifest *a = from->m, *b = to->m;
	struct plan_counts pc;

	count_plan(&pc, d);
	printf("%s -> %s\n", from->label, to->label);
	if (d->architecture_changed) {
		/* "shop 2.4.0 -> 2.5.0", or the whole "store 1.0.0" on the
		 * right when the name changed too. */
		const char *av = str_or(a->version, ""), *bv = str_or(b->version, "");
		bool same_name = strcmp(a->architecture, b->architecture) == 0;

		printf("~ architecture %s%s%s -> ", a->architecture,
		    av[0] ? " " : "", av);
		if (same_name)
			printf("%s\n", str_or(bv, "-"));
		else
			printf("%s%s%s\n", b->architecture, bv[0] ? " " : "", bv);
	}
	for (size_t i = 0; i < d->nservices; i++)
		if (d->services[i].action != DIFF_UNCHANGED || ctx->verbose > 0)
			print_service(&d->services[i]);
	if (pc.add + pc.rollout + pc.inplace + pc.remove == 0 &&
	    !d->architecture_changed)
		printf("No changes: both describe the same cluster.\n");
	printf("\nPlan: %zu to add, %zu to roll out, %zu to change in place, "
	    "%zu to remove.\n", pc.add, pc.rollout, pc.inplace, pc.remove);
}

static json_t *
side_json(const struct source *s)
{
	json_t *o = jobj();

	jset(o, "label", jstr(s->label));
	if (s->ref != NULL)
		jset(o, "ref", jstr(s->ref));
	if (s->has_commit)
		jset(o, "commit", source_commit_json(&s->commit));
	jset(o, "architecture", jstr(s->m->architecture));
	jset(o, "version", jstr(s->m->version));
	return o;
}

static json_t *
fields_json(unsigned fields, unsigned mask)
{
	json_t *a = jarr();

	for (unsigned bit = 1; bit < DIFF_F__LAST; bit <<= 1)
		if (fields & mask & bit)
			jpush(a, jstr(manifest_diff_field_name(bit)));
	return a;
}

static void
print_plan_json(const struct source *from, const struct source *to,
    const struct manifest_diff *d)
{
	json_t *o = jobj(), *svs = jarr(), *plan = jobj();
	struct plan_counts pc;

	count_plan(&pc, d);
	jset(o, "from", side_json(from));
	jset(o, "to", side_json(to));
	jset(o, "architecture_changed", json_boolean(d->architecture_changed));
	/* Every service, unchanged ones too: a machine filters by action. */
	for (size_t i = 0; i < d->nservices; i++) {
		const struct service_diff *sd = &d->services[i];
		json_t *s = jobj();

		jset(s, "name", jstr(sd->name));
		jset(s, "action", jstr(manifest_diff_action_name(sd->action)));
		jset(s, "fields", fields_json(sd->fields, ~0u));
		jset(s, "rollout_fields",
		    fields_json(sd->fields, DIFF_ROLLOUT_FIELDS));
		jset(s, "in_place_fields",
		    fields_json(sd->fields, ~DIFF_ROLLOUT_FIELDS));
		jset(s, "old_version", jstr(sd->old_version));
		jset(s, "new_version", jstr(sd->new_version));
		jset(s, "old_replicas", jint(sd->old_replicas));
		jset(s, "new_replicas", jint(sd->new_replicas));
		jpush(svs, s);
	}
	jset(o, "services", svs);
	jset(plan, "add", jint((long long)pc.add));
	jset(plan, "rollout", jint((long long)pc.rollout));
	jset(plan, "in_place", jint((long long)pc.inplace));
	jset(plan, "remove", jint((long long)pc.remove));
	jset(plan, "unchanged", jint((long long)pc.unchanged));
	jset(o, "plan", plan);
	output_json(stdout, o);
}

/*
 * Either side unusable: say why for both sides (a person fixing FROM wants
 * to know TO is broken too). rcs are source_load_*() results.
 */
static int
report_sides(const struct orchctl *ctx, const struct source *sides, int *rcs,
    const char **msgs)
{
	size_t nerr = 0;

	if (ctx->output == OUTPUT_JSON) {
		json_t *o = jobj(), *errs = jarr();

		jset(o, "valid", json_false());
		for (int i = 0; i < 2; i++) {
			if (rcs[i] == ORCH_EINVALID)
				output_errors_json(errs, &sides[i].errs);
			else if (rcs[i] != 0 && !json_object_get(o, "error"))
				jset(o, "error", jstr(msgs[i]));
		}
		jset(o, "errors", errs);
		output_json(stdout, o);
		return EXIT_FAILED;
	}
	for (int i = 0; i < 2; i++) {
		if (rcs[i] == ORCH_EINVALID) {
			output_errors_text(stderr, &sides[i].errs);
			nerr += sides[i].errs.n;
		} else if (rcs[i] != 0)
			orchctl_warnx("%s", msgs[i]);
	}
	if (nerr > 0)
		output_errors_count(stderr, nerr);
	return EXIT_FAILED;
}

static int
run_diff(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"repo", required_argument, NULL, OPT_REPO},
		{"manifest", required_argument, NULL, OPT_MANIFEST},
		{NULL, 0, NULL, 0},
	};
	const char *repo = NULL, *path = NULL;
	struct manifest_git *g = NULL;
	struct manifest_diff *d = NULL;
	struct source sides[2];
	char *msgs[2] = {NULL, NULL};
	int rcs[2] = {0, 0};
	int c, ex;
	int nloaded = 0;

	while ((c = orchctl_getopt(&ex, ctx, cmd, argc, argv, "", longs)) != -1) {
		switch (c) {
		case OPT_EXIT:
			return ex;
		case OPT_REPO:
			repo = optarg;
			break;
		case OPT_MANIFEST:
			path = optarg;
			break;
		default:
			return orchctl_usage_error(cmd, "unexpected option");
		}
	}
	/* With --repo, one ref is compared with the working tree (git diff
	 * REF): the plan of a change not committed yet. */
	if (argc - optind != 2 && !(repo != NULL && argc - optind == 1))
		return orchctl_usage_error(cmd, "need FROM and TO (got %d "
		    "argument%s)", argc - optind, argc - optind == 1 ? "" : "s");
	if (repo == NULL && path != NULL)
		return orchctl_usage_error(cmd, "--manifest needs --repo");
	if (path == NULL)
		path = "orch.yaml";
	if (repo != NULL && manifest_git_open(&g, repo, NULL) < 0) {
		orchctl_warnx("%s", orch_err_last());
		return EXIT_FAILED;
	}

	for (int i = 0; i < 2; i++) {
		const char *arg = optind + i < argc ? argv[optind + i] : NULL;

		rcs[i] = arg == NULL ? source_load_worktree(&sides[i], repo, path) :
		    g ? source_load_git(&sides[i], g, arg, path) :
		    source_load_file(&sides[i], arg);
		nloaded++;
		if (rcs[i] != 0 && rcs[i] != ORCH_EINVALID &&
		    (msgs[i] = strdup(orch_err_last())) == NULL)
			abort();
	}
	if (rcs[0] != 0 || rcs[1] != 0) {
		ex = report_sides(ctx, sides, rcs, (const char **)msgs);
		goto out;
	}
	if (manifest_diff(&d, sides[0].m, sides[1].m) < 0) {
		orchctl_warnx("diff: %s", orch_err_last());
		ex = EXIT_FAILED;
		goto out;
	}
	if (ctx->output == OUTPUT_JSON)
		print_plan_json(&sides[0], &sides[1], d);
	else
		print_plan(ctx, &sides[0], &sides[1], d);
	ex = EXIT_OK;
out:
	manifest_diff_free(d);
	for (int i = 0; i < nloaded; i++) {
		source_free(&sides[i]);
		free(msgs[i]);
	}
	manifest_git_free(g);
	return ex;
}

const struct orchctl_cmd cmd_diff = {
	.name = "diff",
	.fn = run_diff,
	.summary = "show the plan between two manifests or two git revisions",
	.usage =
	    "diff [options] FROM.yaml TO.yaml\n"
	    "diff [options] --repo DIR [--manifest PATH] FROM-REF TO-REF\n"
	    "diff [options] --repo DIR [--manifest PATH] REF",
	.help =
	    "Compare two architecture manifests and print what applying TO over\n"
	    "FROM would do to each service, in start order of TO, removed\n"
	    "services last:\n"
	    "\n"
	    "  + web (added) 1.3.0 x4\n"
	    "  ~ api 1.2.0 -> 1.3.0 (rollout: version, env)\n"
	    "  ~ worker replicas 2 -> 4 (in place: replicas)\n"
	    "  - old (removed) 0.9.0 x1\n"
	    "\n"
	    "  Plan: 1 to add, 1 to roll out, 1 to change in place, 1 to remove.\n"
	    "\n"
	    "A rollout replaces instances (what runs changed: version, command,\n"
	    "env, artifact, ...); an in-place change does not (replicas, health,\n"
	    "restart policy, strategy, ...). Both sides are validated first; if\n"
	    "either is invalid its errors are printed and nothing else.\n"
	    "\n"
	    "Options:\n"
	    "  --repo DIR          FROM and TO are git refs of the repository DIR;\n"
	    "                      with one REF, TO is the manifest in DIR's\n"
	    "                      working tree, uncommitted changes included\n"
	    "                      (as git diff REF)\n"
	    "  --manifest PATH     manifest path inside the repository\n"
	    "                      (default orch.yaml)\n"
	    "  -v                  also list unchanged services\n"
	    "  -o json             {\"from\", \"to\", \"architecture_changed\",\n"
	    "                      \"services\": [{\"name\", \"action\", \"fields\",\n"
	    "                      ...}], \"plan\": {\"add\", \"rollout\", ...}}\n"
	    "\n"
	    "Exit status: 0 the plan was printed (changes or not), 1 a side is\n"
	    "invalid or unreadable, 2 usage error.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl diff examples/shop/orch.yaml examples/shop/orch-v2.yaml\n"
	    "  orchctl diff --repo . HEAD~1 HEAD\n"
	    "  orchctl diff --repo . HEAD          (the uncommitted change)\n"
	    "  orchctl diff --repo /srv/arch v2.4.0 main -o json",
};
