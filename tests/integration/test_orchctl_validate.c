/*
 * test_orchctl_validate.c - the real orchctl binary: validate and diff on
 * the examples, on every examples/invalid case, on a real git repository
 * made with the git CLI; usage errors, help, JSON output, exit codes.
 *
 * Expected values are computed with the manifest library where that is
 * possible (summary line, plan counts), so the test checks that the CLI
 * reports what the library found, not a copy of today's example contents.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "daemon.h"
#include "err.h"
#include "manifest.h"
#include "run.h"

#define TIMEOUT_MS 120000 /* generous: ASan builds and loaded CI hosts */

static char src_dir[4096], orchctl_bin[4096], shop_dir[4096], invalid_dir[4096];
static char work_dir[4096]; /* scratch, removed at the end */

/* ---- helpers ----------------------------------------------------------- */

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

/* Before main: every test may be run alone (by name). */
__attribute__((constructor)) static void
setup_paths(void)
{
	const char *src = env_or("ORCH_SOURCE_DIR", ".");
	const char *bld = env_or("ORCH_BUILD_DIR", "build");
	const char *out = env_or("ORCH_TEST_OUT", "/tmp");

	snprintf(src_dir, sizeof(src_dir), "%s", src);
	snprintf(orchctl_bin, sizeof(orchctl_bin), "%s/orchctl/orchctl", bld);
	snprintf(shop_dir, sizeof(shop_dir), "%s/examples/shop", src);
	snprintf(invalid_dir, sizeof(invalid_dir), "%s/examples/invalid", src);
	mkdir(out, 0755);
	snprintf(work_dir, sizeof(work_dir), "%s/orchctl-validate-XXXXXX", out);
	if (mkdtemp(work_dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", work_dir, strerror(errno));
		exit(1);
	}
}

/* Run orchctl in dir with the NULL-terminated arguments after dir. */
static void
orchctl(struct run_result *r, const char *dir, ...)
{
	const char *argv[64];
	size_t n = 0;
	va_list ap;

	argv[n++] = orchctl_bin;
	va_start(ap, dir);
	while (n < 63 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (run_capture(r, argv, dir, NULL, TIMEOUT_MS) < 0)
		check_fail(__FILE__, __LINE__, "run orchctl: %s", orch_err_last());
	if (r->timed_out)
		check_fail(__FILE__, __LINE__, "orchctl timed out");
	/* A sanitizer report goes to stderr; never let one pass unnoticed. */
	if (strstr(r->err, "Sanitizer") != NULL || strstr(r->err, "runtime error"))
		check_fail(__FILE__, __LINE__, "sanitizer report:\n%s", r->err);
}

static int
copy_file(const char *from, const char *to)
{
	char *s = read_file(from);
	FILE *f;
	int rc = -1;

	if (s == NULL)
		return -1;
	if ((f = fopen(to, "wb")) != NULL) {
		if (fputs(s, f) >= 0)
			rc = 0;
		if (fclose(f) != 0)
			rc = -1;
	}
	free(s);
	return rc;
}

static char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* The summary line orchctl must print for a valid manifest, built from
 * what the library says about it. */
static char *
expected_summary(const char *label, const char *commit_summary,
    const char *path)
{
	struct manifest *m = NULL;
	struct manifest_errors errs;
	size_t *order = NULL;
	char names[8192] = "", chain[8192] = "", *s = NULL;

	manifest_errors_init(&errs);
	if (manifest_load_file(&m, &errs, path) < 0 ||
	    manifest_start_order(&order, m) < 0)
		goto out;
	for (size_t i = 0; i < m->nservices; i++) {
		if (i) {
			strcat(names, ", ");
			strcat(chain, " -> ");
		}
		strncat(names, m->services[i].name, 200);
		strncat(chain, m->services[order[i]].name, 200);
	}
	s = xasprintf("%s%s%s%s: valid: architecture %s%s%s, %zu service%s "
	    "(%s), start order %s", label, commit_summary ? " \"" : "",
	    commit_summary ? commit_summary : "", commit_summary ? "\"" : "",
	    m->architecture, m->version[0] ? " " : "", m->version,
	    m->nservices, m->nservices == 1 ? "" : "s", names, chain);
out:
	free(order);
	manifest_free(m);
	manifest_errors_free(&errs);
	return s;
}

/* examples/invalid/NAME.yaml for every NAME that has a NAME.expected,
 * sorted, NULL-terminated. */
static char **
invalid_cases(size_t *out_n)
{
	DIR *d = opendir(invalid_dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	*out_n = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *exp;
		struct stat st;

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		exp = xasprintf("%s/%.*s.expected", invalid_dir, (int)(len - 5),
		    de->d_name);
		if (stat(exp, &st) == 0) {
			if ((v = realloc(v, (n + 2) * sizeof(*v))) == NULL)
				abort();
			v[n++] = strndup(de->d_name, len - 5);
			v[n] = NULL;
		}
		free(exp);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++) /* insertion sort: a handful */
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out_n = n;
	return v;
}

/* NAME.expected's lines, without an optional trailing "N errors" line. */
static char **
expected_lines(const char *name, size_t *out_n)
{
	char *path = xasprintf("%s/%s.expected", invalid_dir, name);
	char *text = read_file(path);
	char **lines;
	size_t n;

	free(path);
	if (text == NULL)
		return NULL;
	lines = run_lines(text, &n);
	free(text);
	while (n > 0 && (lines[n - 1][0] == '\0' ||
	    (strstr(lines[n - 1], " error") != NULL &&
	    strchr(lines[n - 1], ':') == NULL))) {
		free(lines[--n]);
		lines[n] = NULL;
	}
	*out_n = n;
	return lines;
}

static char *
count_line(size_t n)
{
	return xasprintf("%zu error%s", n, n == 1 ? "" : "s");
}

/*
 * A kubectl-style table starting at text+1 (after a '\n'): every row's
 * cell starts in the column of its header, after a blank, and no line
 * ends in a blank. Headers are told apart by two or more blanks
 * ("DEPENDS ON" is one).
 */
static void
check_table(const char *text)
{
	size_t nlines, ncols = 0, col[16];
	char **lines;

	REQUIRE(text != NULL);
	lines = run_lines(text + 1, &nlines);
	REQUIRE(nlines >= 2);
	for (size_t i = 0; lines[0][i] && ncols < 16; i++)
		if (lines[0][i] != ' ' && (i == 0 || (lines[0][i - 1] == ' ' &&
		    lines[0][i - 2] == ' ')))
			col[ncols++] = i;
	CHECK(ncols >= 3);
	for (size_t k = 0; k < nlines && lines[k][0]; k++) {
		size_t len = strlen(lines[k]);

		CHECK(lines[k][len - 1] != ' ');
		for (size_t c = 0; c < ncols; c++) {
			if (col[c] >= len || lines[k][col[c]] == ' ' ||
			    (col[c] > 0 && lines[k][col[c] - 1] != ' '))
				check_fail(__FILE__, __LINE__, "column %zu of "
				    "\"%s\" is not under its header \"%s\"", c,
				    lines[k], lines[0]);
		}
	}
	run_lines_free(lines);
}

/* ---- local files ----------------------------------------------------- */

TEST(orchctl_validate__shop_file)
{
	struct run_result r;
	char *path = xasprintf("%s/orch.yaml", shop_dir);
	char *want = expected_summary("orch.yaml", NULL, path);

	REQUIRE(want != NULL);
	orchctl(&r, shop_dir, "validate", "orch.yaml", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.err, "");
	CHECK(r.out_len > 0 && r.out[r.out_len - 1] == '\n');
	r.out[strcspn(r.out, "\n")] = '\0';
	CHECK_STR(r.out, want);
	run_result_free(&r);

	/* No FILE: ./orch.yaml. */
	orchctl(&r, shop_dir, "validate", NULL);
	CHECK_EQ_INT(r.status, 0);
	r.out[strcspn(r.out, "\n")] = '\0';
	CHECK_STR(r.out, want);
	run_result_free(&r);

	/* -v adds the service table after the line. */
	orchctl(&r, shop_dir, "validate", "-v", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "\nNAME ");
	CHECK_CONTAINS(r.out, "STRATEGY");
	check_table(strstr(r.out, "\nNAME "));
	run_result_free(&r);
	free(want);
	free(path);
}

TEST(orchctl_validate__invalid_examples)
{
	size_t ncases;
	char **cases = invalid_cases(&ncases);

	/* The examples are the spec of the error messages: there must be
	 * some, or this test would check nothing. */
	REQUIRE(ncases >= 3);
	for (size_t i = 0; i < ncases; i++) {
		struct run_result r;
		char *file = xasprintf("%s.yaml", cases[i]);
		size_t nexp, ngot;
		char **exp = expected_lines(cases[i], &nexp);
		char **got;
		char *count;

		orchctl(&r, invalid_dir, "validate", file, NULL);
		got = run_lines(r.err, &ngot);
		count = count_line(nexp);
		if (r.status != 1 || ngot != nexp + 1)
			check_fail(__FILE__, __LINE__, "%s: exit %d, %zu lines, "
			    "want exit 1 and %zu lines; stderr:\n%s", file,
			    r.status, ngot, nexp + 1, r.err);
		for (size_t k = 0; k < nexp && k < ngot; k++)
			if (strcmp(exp[k], got[k]) != 0)
				check_fail(__FILE__, __LINE__, "%s line %zu:\n"
				    "   got  %s\n   want %s", file, k + 1,
				    got[k], exp[k]);
		if (ngot == nexp + 1)
			CHECK_STR(got[nexp], count);
		CHECK_STR(r.out, "");
		free(count);
		run_lines_free(got);
		run_lines_free(exp);
		run_result_free(&r);
		free(file);
		free(cases[i]);
	}
	free(cases);
}

TEST(orchctl_validate__missing_file)
{
	struct run_result r;

	orchctl(&r, work_dir, "validate", "no-such.yaml", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "no-such.yaml");
	/* One message, not an error "at" line 0 of a file never read. */
	CHECK(strncmp(r.err, "orchctl: ", 9) == 0);
	CHECK(strstr(r.err, ":0:0:") == NULL);
	CHECK_STR(r.out, "");
	run_result_free(&r);

	/* In JSON the failure is part of the document, stderr stays quiet. */
	orchctl(&r, work_dir, "validate", "-o", "json", "no-such.yaml", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_STR(r.err, "");
	{
		json_error_t jerr;
		json_t *j = json_loads(r.out, 0, &jerr);

		REQUIRE(j != NULL);
		CHECK(json_is_false(json_object_get(j, "valid")));
		CHECK_CONTAINS(json_string_value(json_object_get(j, "error")),
		    "no-such.yaml");
		CHECK_EQ_INT(json_array_size(json_object_get(j, "errors")), 0);
		json_decref(j);
	}
	run_result_free(&r);

	/* A directory is not a manifest. */
	orchctl(&r, src_dir, "validate", "examples", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK(strncmp(r.err, "orchctl: ", 9) == 0);
	CHECK_CONTAINS(r.err, "examples");
	run_result_free(&r);

	/* No FILE and no ./orch.yaml. */
	orchctl(&r, work_dir, "validate", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "orch.yaml");
	run_result_free(&r);
}

TEST(orchctl_validate__json)
{
	struct run_result r;
	char *path = xasprintf("%s/orch.yaml", shop_dir);
	struct manifest *m = NULL;
	json_t *j, *sv, *so;
	json_error_t jerr;

	REQUIRE(manifest_load_file(&m, NULL, path) == 0);
	/* Global -o before the verb, then per-verb after it. */
	for (int form = 0; form < 2; form++) {
		if (form == 0)
			orchctl(&r, shop_dir, "-o", "json", "validate", NULL);
		else
			orchctl(&r, shop_dir, "validate", "orch.yaml",
			    "--output=json", NULL);
		CHECK_EQ_INT(r.status, 0);
		j = json_loads(r.out, 0, &jerr);
		REQUIRE(j != NULL);
		CHECK(json_is_true(json_object_get(j, "valid")));
		CHECK_STR(json_string_value(json_object_get(j, "architecture")),
		    m->architecture);
		CHECK_STR(json_string_value(json_object_get(j, "version")),
		    m->version);
		sv = json_object_get(j, "services");
		so = json_object_get(j, "start_order");
		REQUIRE(json_is_array(sv) && json_is_array(so));
		CHECK_EQ_INT(json_array_size(sv), m->nservices);
		CHECK_EQ_INT(json_array_size(so), m->nservices);
		for (size_t i = 0; i < m->nservices && i < json_array_size(sv); i++)
			CHECK_STR(json_string_value(json_array_get(sv, i)),
			    m->services[i].name);
		CHECK(json_object_get(j, "commit") == NULL);
		json_decref(j);
		run_result_free(&r);
	}
	manifest_free(m);
	free(path);
}

TEST(orchctl_validate__json_invalid)
{
	size_t ncases, nexp;
	char **cases = invalid_cases(&ncases);
	struct run_result r;
	char **exp;
	char *file;
	json_t *j, *errs;
	json_error_t jerr;

	REQUIRE(ncases > 0);
	file = xasprintf("%s.yaml", cases[0]);
	exp = expected_lines(cases[0], &nexp);
	orchctl(&r, invalid_dir, "validate", "-o", "json", file, NULL);
	CHECK_EQ_INT(r.status, 1);
	j = json_loads(r.out, 0, &jerr);
	REQUIRE(j != NULL);
	CHECK(json_is_false(json_object_get(j, "valid")));
	errs = json_object_get(j, "errors");
	REQUIRE(json_is_array(errs));
	CHECK_EQ_INT(json_array_size(errs), nexp);
	for (size_t i = 0; i < json_array_size(errs) && i < nexp; i++) {
		json_t *e = json_array_get(errs, i);
		const char *p = json_string_value(json_object_get(e, "path"));
		char *line;

		REQUIRE(json_is_string(json_object_get(e, "file")) &&
		    json_is_integer(json_object_get(e, "line")) &&
		    json_is_integer(json_object_get(e, "col")) && p != NULL &&
		    json_is_string(json_object_get(e, "message")));
		/* The same error as the text line, field by field. */
		line = xasprintf("%s:%lld:%lld: %s%s%s",
		    json_string_value(json_object_get(e, "file")),
		    json_integer_value(json_object_get(e, "line")),
		    json_integer_value(json_object_get(e, "col")), p,
		    p[0] ? ": " : "",
		    json_string_value(json_object_get(e, "message")));
		CHECK_STR(line, exp[i]);
		free(line);
	}
	json_decref(j);
	run_result_free(&r);
	run_lines_free(exp);
	free(file);
	for (size_t i = 0; i < ncases; i++)
		free(cases[i]);
	free(cases);
}

/* ---- command line ---------------------------------------------------- */

TEST(orchctl__usage_errors)
{
	static const char *const cases[][6] = {
		{NULL},                                  /* no verb */
		{"frobnicate", NULL},                     /* unknown verb */
		{"--frob", "validate", NULL},             /* unknown global option */
		{"validate", "--frob", NULL},             /* unknown verb option */
		{"validate", "-x", NULL},
		{"-o", "yaml", "validate", NULL},         /* bad output format */
		{"validate", "-o", "yaml", NULL},
		{"validate", "a.yaml", "b.yaml", NULL},   /* too many files */
		{"validate", "--ref", "HEAD", NULL},      /* --ref needs --repo */
		{"validate", "--repo", NULL},             /* missing value */
		{"diff", "a.yaml", NULL},                 /* diff needs two */
		{"diff", "--manifest", "x.yaml", "a", "b", NULL},
		{"help", "frobnicate", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run_result r;
		const char *argv[8];
		size_t n = 0;

		argv[n++] = orchctl_bin;
		for (size_t k = 0; cases[i][k] != NULL; k++)
			argv[n++] = cases[i][k];
		argv[n] = NULL;
		REQUIRE(run_capture(&r, argv, work_dir, NULL, TIMEOUT_MS) == 0);
		if (r.status != 2)
			check_fail(__FILE__, __LINE__, "case %zu (%s %s): exit %d, "
			    "want 2; stderr: %s", i, argv[1] ? argv[1] : "",
			    argv[1] && argv[2] ? argv[2] : "", r.status, r.err);
		CHECK_CONTAINS(r.err, "--help");
		CHECK_CONTAINS(r.err, "usage: orchctl");
		CHECK_STR(r.out, "");
		run_result_free(&r);
	}
}

TEST(orchctl__messages_name_the_problem)
{
	struct run_result r;

	orchctl(&r, work_dir, "frobnicate", NULL);
	CHECK_CONTAINS(r.err, "unknown verb 'frobnicate'");
	CHECK_CONTAINS(r.err, "see 'orchctl --help'");
	run_result_free(&r);
	orchctl(&r, work_dir, "validate", "--frob=1", NULL);
	CHECK_CONTAINS(r.err, "unknown option '--frob'");
	CHECK_CONTAINS(r.err, "see 'orchctl validate --help'");
	run_result_free(&r);
	orchctl(&r, work_dir, "validate", "--repo", NULL);
	CHECK_CONTAINS(r.err, "'--repo' needs a value");
	run_result_free(&r);
	orchctl(&r, work_dir, "validate", "-o", "yaml", NULL);
	CHECK_CONTAINS(r.err, "unknown output format 'yaml'");
	run_result_free(&r);
}

TEST(orchctl__help)
{
	struct run_result a, b, c;

	orchctl(&a, work_dir, "--help", NULL);
	CHECK_EQ_INT(a.status, 0);
	CHECK(strncmp(a.out, "usage: orchctl", 14) == 0);
	CHECK_CONTAINS(a.out, "\n  validate ");
	CHECK_CONTAINS(a.out, "\n  diff ");
	CHECK_CONTAINS(a.out, "--controller URL");
	CHECK_STR(a.err, "");
	run_result_free(&a);
	orchctl(&a, work_dir, "help", NULL);
	CHECK_EQ_INT(a.status, 0);
	CHECK(strncmp(a.out, "usage: orchctl", 14) == 0);
	run_result_free(&a);

	/* Three spellings of a verb's help give the same text. */
	orchctl(&a, work_dir, "validate", "--help", NULL);
	orchctl(&b, work_dir, "help", "validate", NULL);
	orchctl(&c, work_dir, "validate", "-h", NULL);
	CHECK_EQ_INT(a.status, 0);
	CHECK_EQ_INT(b.status, 0);
	CHECK_EQ_INT(c.status, 0);
	CHECK(strncmp(a.out, "usage: orchctl validate", 23) == 0);
	CHECK_CONTAINS(a.out, "--repo DIR");
	CHECK_CONTAINS(a.out, "Examples:");
	CHECK_STR(a.out, b.out);
	CHECK_STR(a.out, c.out);
	run_result_free(&a);
	run_result_free(&b);
	run_result_free(&c);

	orchctl(&a, work_dir, "diff", "--help", NULL);
	CHECK_EQ_INT(a.status, 0);
	CHECK(strncmp(a.out, "usage: orchctl diff", 19) == 0);
	CHECK_CONTAINS(a.out, "Plan:");
	run_result_free(&a);

	orchctl(&a, work_dir, "--version", NULL);
	CHECK_EQ_INT(a.status, 0);
	CHECK(strncmp(a.out, "orchctl ", 8) == 0);
	run_result_free(&a);
}

/* ---- diff of two files ----------------------------------------------- */

/* Plan counts the library computes between two files. */
static void
library_plan(size_t counts[5], const char *a, const char *b,
    struct manifest_diff **out)
{
	struct manifest *ma = NULL, *mb = NULL;

	memset(counts, 0, 5 * sizeof(counts[0]));
	*out = NULL;
	if (manifest_load_file(&ma, NULL, a) == 0 &&
	    manifest_load_file(&mb, NULL, b) == 0 &&
	    manifest_diff(out, ma, mb) == 0)
		for (size_t i = 0; i < (*out)->nservices; i++)
			counts[(*out)->services[i].action]++;
	manifest_free(ma);
	manifest_free(mb);
}

static void
check_plan_text(const char *out, const struct manifest_diff *d,
    const size_t counts[5])
{
	char *plan = xasprintf("\nPlan: %zu to add, %zu to roll out, %zu to "
	    "change in place, %zu to remove.\n", counts[DIFF_ADDED],
	    counts[DIFF_CHANGED], counts[DIFF_INPLACE], counts[DIFF_REMOVED]);

	CHECK_CONTAINS(out, plan);
	free(plan);
	/* One line per changed service, in the diff's order. */
	const char *at = out;
	for (size_t i = 0; i < d->nservices; i++) {
		const struct service_diff *sd = &d->services[i];
		char *want;
		const char *hit;

		if (sd->action == DIFF_UNCHANGED) {
			want = xasprintf("\n  %s (unchanged)", sd->name);
			CHECK(strstr(out, want) == NULL);
			free(want);
			continue;
		}
		want = xasprintf("\n%c %s ", sd->action == DIFF_ADDED ? '+' :
		    sd->action == DIFF_REMOVED ? '-' : '~', sd->name);
		hit = strstr(at, want);
		if (hit == NULL)
			check_fail(__FILE__, __LINE__, "no line \"%s\" after "
			    "the previous service in:\n%s", want + 1, out);
		else
			at = hit + 1;
		free(want);
	}
}

TEST(orchctl_diff__files)
{
	char *a = xasprintf("%s/orch.yaml", shop_dir);
	char *b = xasprintf("%s/orch-v2.yaml", shop_dir);
	struct manifest_diff *d;
	size_t counts[5];
	struct run_result r;
	json_t *j, *plan;
	json_error_t jerr;

	library_plan(counts, a, b, &d);
	REQUIRE(d != NULL);
	/* The v2 example exists to show a plan: it must have one. */
	CHECK(counts[DIFF_ADDED] + counts[DIFF_CHANGED] + counts[DIFF_INPLACE] +
	    counts[DIFF_REMOVED] > 0);
	orchctl(&r, shop_dir, "diff", "orch.yaml", "orch-v2.yaml", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.err, "");
	CHECK(strncmp(r.out, "orch.yaml -> orch-v2.yaml\n", 26) == 0);
	check_plan_text(r.out, d, counts);
	run_result_free(&r);

	/* -v lists the unchanged ones too. */
	orchctl(&r, shop_dir, "diff", "-v", "orch.yaml", "orch-v2.yaml", NULL);
	for (size_t i = 0; i < d->nservices; i++)
		if (d->services[i].action == DIFF_UNCHANGED) {
			char *want = xasprintf("\n  %s (unchanged) ",
			    d->services[i].name);
			CHECK_CONTAINS(r.out, want);
			free(want);
		}
	run_result_free(&r);

	/* A manifest against itself: no changes. */
	orchctl(&r, shop_dir, "diff", "orch.yaml", "orch.yaml", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "No changes");
	CHECK_CONTAINS(r.out, "Plan: 0 to add, 0 to roll out, 0 to change in "
	    "place, 0 to remove.");
	run_result_free(&r);

	orchctl(&r, shop_dir, "diff", "-o", "json", "orch.yaml", "orch-v2.yaml",
	    NULL);
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, &jerr);
	REQUIRE(j != NULL);
	plan = json_object_get(j, "plan");
	CHECK_EQ_INT(json_integer_value(json_object_get(plan, "add")),
	    counts[DIFF_ADDED]);
	CHECK_EQ_INT(json_integer_value(json_object_get(plan, "rollout")),
	    counts[DIFF_CHANGED]);
	CHECK_EQ_INT(json_integer_value(json_object_get(plan, "in_place")),
	    counts[DIFF_INPLACE]);
	CHECK_EQ_INT(json_integer_value(json_object_get(plan, "remove")),
	    counts[DIFF_REMOVED]);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "services")),
	    d->nservices);
	for (size_t i = 0; i < d->nservices; i++) {
		json_t *s = json_array_get(json_object_get(j, "services"), i);
		CHECK_STR(json_string_value(json_object_get(s, "name")),
		    d->services[i].name);
		CHECK_STR(json_string_value(json_object_get(s, "action")),
		    manifest_diff_action_name(d->services[i].action));
	}
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "to"),
	    "label")), "orch-v2.yaml");
	json_decref(j);
	run_result_free(&r);
	manifest_diff_free(d);
	free(a);
	free(b);
}

TEST(orchctl_diff__invalid_side)
{
	size_t ncases, nexp;
	char **cases = invalid_cases(&ncases);
	char *bad, *good, **exp, *count;
	struct run_result r;

	REQUIRE(ncases > 0);
	bad = xasprintf("%s.yaml", cases[0]);
	good = xasprintf("%s/orch.yaml", shop_dir);
	exp = expected_lines(cases[0], &nexp);
	count = count_line(nexp);
	orchctl(&r, invalid_dir, "diff", good, bad, NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_STR(r.out, "");
	for (size_t i = 0; i < nexp; i++)
		CHECK_CONTAINS(r.err, exp[i]);
	CHECK_CONTAINS(r.err, count);
	run_result_free(&r);

	orchctl(&r, invalid_dir, "diff", good, "no-such.yaml", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "no-such.yaml");
	run_result_free(&r);
	run_lines_free(exp);
	free(count);
	free(bad);
	free(good);
	for (size_t i = 0; i < ncases; i++)
		free(cases[i]);
	free(cases);
}

/* ---- git revisions --------------------------------------------------- */

static const char *const git_env[] = {
	"GIT_AUTHOR_NAME=Orch Test", "GIT_AUTHOR_EMAIL=test@orch.invalid",
	"GIT_COMMITTER_NAME=Orch Test", "GIT_COMMITTER_EMAIL=test@orch.invalid",
	"GIT_AUTHOR_DATE=2026-01-02T03:04:05Z",
	"GIT_COMMITTER_DATE=2026-01-02T03:04:05Z",
	/* Neither the machine's nor the user's git config may change what
	 * the repository looks like (signing, hooks, default branch). */
	"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
	NULL,
};

/* git -C dir ARGS...; returns stdout (malloc'd, trailing '\n' cut) or
 * NULL after recording a failure. */
static char *
git(const char *dir, ...)
{
	const char *argv[32] = {"git", "-C", dir};
	size_t n = 3;
	struct run_result r;
	char *out = NULL;
	va_list ap;

	va_start(ap, dir);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (run_capture(&r, argv, NULL, git_env, TIMEOUT_MS) < 0 || r.status != 0) {
		check_fail(__FILE__, __LINE__, "git %s: exit %d: %s", argv[3],
		    r.status, r.err);
	} else {
		out = r.out;
		out[strcspn(out, "\n")] = '\0';
		r.out = NULL;
	}
	run_result_free(&r);
	return out;
}

static char repo_dir[4200];
static char sha[3][41], shortsha[3][8];

/* A broken manifest for the third commit: a wrong type and a missing
 * command, whatever the examples hold. */
static const char broken_manifest[] =
    "architecture: shop\n"
    "services:\n"
    "  web:\n"
    "    replicas: many\n";

/* A repository with three commits of orch.yaml: shop v1, shop v2, and a
 * broken one. Made once, with the git CLI, as a person would. */
static void
make_repo(void)
{
	static const char *const msgs[3] = {"shop v1", "shop v2", "broken"};
	char *srcs[2], *dst, *o;
	FILE *f;

	if (repo_dir[0])
		return;
	snprintf(repo_dir, sizeof(repo_dir), "%s/repo", work_dir);
	REQUIRE(mkdir(repo_dir, 0755) == 0);
	free(git(repo_dir, "init", "-q", "-b", "main", NULL));
	srcs[0] = xasprintf("%s/orch.yaml", shop_dir);
	srcs[1] = xasprintf("%s/orch-v2.yaml", shop_dir);
	dst = xasprintf("%s/orch.yaml", repo_dir);
	for (int i = 0; i < 3; i++) {
		if (i < 2) {
			REQUIRE(copy_file(srcs[i], dst) == 0);
			free(srcs[i]);
		} else {
			REQUIRE((f = fopen(dst, "w")) != NULL);
			fputs(broken_manifest, f);
			REQUIRE(fclose(f) == 0);
		}
		free(git(repo_dir, "add", "orch.yaml", NULL));
		free(git(repo_dir, "commit", "-q", "-m", msgs[i], NULL));
	}
	for (int i = 0; i < 3; i++) {
		char ref[16];
		snprintf(ref, sizeof(ref), "HEAD~%d", 2 - i);
		o = git(repo_dir, "rev-parse", ref, NULL);
		REQUIRE(o != NULL && strlen(o) == 40);
		memcpy(sha[i], o, 41);
		snprintf(shortsha[i], sizeof(shortsha[i]), "%.7s", o);
		free(o);
	}
	free(dst);
}

TEST(orchctl_validate__git_revisions)
{
	struct run_result r;
	char *label, *path, *want;
	json_t *j, *c;
	json_error_t jerr;

	make_repo();
	/* v1 at HEAD~2. */
	label = xasprintf("orch.yaml@%s", shortsha[0]);
	path = xasprintf("%s/orch.yaml", shop_dir);
	want = expected_summary(label, "shop v1", path);
	REQUIRE(want != NULL);
	orchctl(&r, work_dir, "validate", "--repo", repo_dir, "--ref", "HEAD~2",
	    NULL);
	CHECK_EQ_INT(r.status, 0);
	r.out[strcspn(r.out, "\n")] = '\0';
	CHECK_STR(r.out, want);
	CHECK_STR(r.err, "");
	run_result_free(&r);
	free(want);
	free(label);
	free(path);

	/* v2 by short sha, as JSON with the commit. */
	orchctl(&r, work_dir, "validate", "--repo", repo_dir, "--ref",
	    shortsha[1], "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, &jerr);
	REQUIRE(j != NULL);
	CHECK(json_is_true(json_object_get(j, "valid")));
	c = json_object_get(j, "commit");
	CHECK_STR(json_string_value(json_object_get(c, "sha")), sha[1]);
	CHECK_STR(json_string_value(json_object_get(c, "short")), shortsha[1]);
	CHECK_STR(json_string_value(json_object_get(c, "summary")), "shop v2");
	CHECK_STR(json_string_value(json_object_get(c, "time")),
	    "2026-01-02T03:04:05Z");
	CHECK_CONTAINS(json_string_value(json_object_get(c, "author")),
	    "Orch Test");
	json_decref(j);
	run_result_free(&r);

	/* HEAD (the default ref) is the broken commit: its errors carry
	 * "orch.yaml@shortsha" as the file. */
	orchctl(&r, work_dir, "validate", "--repo", repo_dir, NULL);
	CHECK_EQ_INT(r.status, 1);
	label = xasprintf("orch.yaml@%s:", shortsha[2]);
	CHECK(strncmp(r.err, label, strlen(label)) == 0);
	CHECK_CONTAINS(r.err, " error");
	CHECK_STR(r.out, "");
	free(label);
	run_result_free(&r);
}

TEST(orchctl_validate__git_errors)
{
	struct run_result r;
	char *notrepo;

	make_repo();
	orchctl(&r, work_dir, "validate", "--repo", repo_dir, "--ref",
	    "no-such-ref", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "no-such-ref");
	CHECK_STR(r.out, "");
	run_result_free(&r);

	orchctl(&r, work_dir, "validate", "--repo", repo_dir, "--ref", "HEAD~1",
	    "--manifest", "deploy/none.yaml", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "deploy/none.yaml");
	run_result_free(&r);

	notrepo = xasprintf("%s/not-a-repo", work_dir);
	mkdir(notrepo, 0755);
	orchctl(&r, work_dir, "validate", "--repo", notrepo, NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK(r.err_len > 0);
	run_result_free(&r);
	free(notrepo);

	orchctl(&r, work_dir, "diff", "--repo", repo_dir, "HEAD~2", "nope~9",
	    NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "nope~9");
	run_result_free(&r);
}

TEST(orchctl_diff__git_revisions)
{
	char *a = xasprintf("%s/orch.yaml", shop_dir);
	char *b = xasprintf("%s/orch-v2.yaml", shop_dir);
	struct manifest_diff *d;
	struct run_result r, f;
	size_t counts[5];
	char *head;
	json_t *j;
	json_error_t jerr;

	make_repo();
	library_plan(counts, a, b, &d);
	REQUIRE(d != NULL);
	orchctl(&r, work_dir, "diff", "--repo", repo_dir, "HEAD~2", "HEAD~1",
	    NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.err, "");
	head = xasprintf("orch.yaml@%s -> orch.yaml@%s\n", shortsha[0],
	    shortsha[1]);
	CHECK(strncmp(r.out, head, strlen(head)) == 0);
	check_plan_text(r.out, d, counts);

	/* Same plan as the two files: everything after the header line. */
	orchctl(&f, shop_dir, "diff", "orch.yaml", "orch-v2.yaml", NULL);
	CHECK_STR(r.out + strlen(head), f.out + strcspn(f.out, "\n") + 1);
	run_result_free(&f);
	run_result_free(&r);

	orchctl(&r, work_dir, "-o", "json", "diff", "--repo", repo_dir,
	    "HEAD~2", "HEAD~1", NULL);
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, &jerr);
	REQUIRE(j != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(
	    json_object_get(j, "from"), "commit"), "sha")), sha[0]);
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "to"),
	    "ref")), "HEAD~1");
	json_decref(j);
	run_result_free(&r);

	/* To the broken commit: its errors, exit 1. */
	orchctl(&r, work_dir, "diff", "--repo", repo_dir, "HEAD~1", "HEAD", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_STR(r.out, "");
	CHECK_CONTAINS(r.err, shortsha[2]);
	run_result_free(&r);

	manifest_diff_free(d);
	free(head);
	free(a);
	free(b);
}

/* Runs last: remove the scratch directory. */
TEST(orchctl__cleanup)
{
	const char *argv[] = {"rm", "-rf", work_dir, NULL};
	struct run_result r;

	REQUIRE(run_capture(&r, argv, NULL, NULL, TIMEOUT_MS) == 0);
	CHECK_EQ_INT(r.status, 0);
	run_result_free(&r);
}

TEST(orchctl__setup)
{
	struct stat st;

	REQUIRE(stat(orchctl_bin, &st) == 0);
	REQUIRE(stat(shop_dir, &st) == 0);
}

CHECK_MAIN(orchctl__setup, orchctl_validate__shop_file,
    orchctl_validate__invalid_examples, orchctl_validate__missing_file,
    orchctl_validate__json, orchctl_validate__json_invalid,
    orchctl__usage_errors, orchctl__messages_name_the_problem, orchctl__help,
    orchctl_diff__files, orchctl_diff__invalid_side,
    orchctl_validate__git_revisions, orchctl_validate__git_errors,
    orchctl_diff__git_revisions, orchctl__cleanup)
