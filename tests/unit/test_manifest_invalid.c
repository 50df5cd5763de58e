/*
 * test_manifest_invalid.c - data-driven (curl's tests/data model): every
 * examples/invalid/NAME.yaml must be rejected with exactly the lines of
 * NAME.expected ("NAME.yaml:LINE:COL: path: message", in order), the
 * manifest out-pointer must stay NULL, and a run without an error list
 * must fail the same way.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "manifest.h"

static char invalid_dir_buf[4096];

/* examples/invalid of the source tree (CTest sets ORCH_SOURCE_DIR). */
static const char *
invalid_dir_get(void)
{
	const char *src = getenv("ORCH_SOURCE_DIR");

	snprintf(invalid_dir_buf, sizeof(invalid_dir_buf),
	    "%s/examples/invalid", src ? src : ".");
	return invalid_dir_buf;
}
#define invalid_dir (invalid_dir_get())

/* Read a whole file into a NUL-terminated heap buffer; NULL if missing. */
static char *
slurp(const char *path, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			char *nb;
			cap = (cap ? cap * 2 : 8192) + 4096;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	*out_len = len;
	return buf;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NAME.yaml files of examples/invalid, sorted. */
static size_t
list_cases(char ***out)
{
	DIR *d = opendir(invalid_dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	*out = NULL;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char **nv;
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (nv == NULL)
			break;
		v = nv;
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	return n;
}

static void
free_cases(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Run one case; returns whether it matched, printing the difference. */
static int
run_case(const char *name)
{
	char path[8192], line[4096];
	char *yaml = NULL, *expected = NULL, *got = NULL;
	size_t ylen = 0, elen = 0, off = 0, cap;
	struct manifest_errors errs;
	struct manifest *m = (struct manifest *)&errs; /* must become NULL */
	int rc, rc2, ok = 0;

	manifest_errors_init(&errs);
	snprintf(path, sizeof(path), "%s/%s", invalid_dir, name);
	yaml = slurp(path, &ylen);
	snprintf(path, sizeof(path), "%s/%.*s.expected", invalid_dir,
	    (int)(strlen(name) - 5), name);
	expected = slurp(path, &elen);
	if (yaml == NULL || expected == NULL) {
		fprintf(stderr, "  %s: cannot read the case or %s\n", name, path);
		goto out;
	}
	rc = manifest_parse(&m, &errs, yaml, ylen, name);
	if (rc != ORCH_EINVALID && rc != ORCH_ETOOBIG) {
		fprintf(stderr, "  %s: rc %d, expected a rejection\n", name, rc);
		goto out;
	}
	if (m != NULL) {
		fprintf(stderr, "  %s: *out is not NULL after a rejection\n", name);
		manifest_free(m);
		goto out;
	}
	cap = 4096 * (errs.n + 1);
	got = malloc(cap);
	if (got == NULL)
		goto out;
	got[0] = '\0';
	for (size_t i = 0; i < errs.n; i++) {
		manifest_error_format(line, sizeof(line), &errs.v[i]);
		off += (size_t)snprintf(got + off, cap - off, "%s\n", line);
	}
	if (strcmp(got, expected) != 0) {
		fprintf(stderr, "  %s: errors differ\n--- expected\n%s--- got\n%s",
		    name, expected, got);
		goto out;
	}
	/* Same verdict when the caller only wants the code. */
	m = (struct manifest *)&errs;
	rc2 = manifest_parse(&m, NULL, yaml, ylen, name);
	if (rc2 != rc || m != NULL) {
		fprintf(stderr, "  %s: without an error list: rc %d (want %d)\n",
		    name, rc2, rc);
		manifest_free(m);
		goto out;
	}
	ok = 1;
out:
	manifest_errors_free(&errs);
	free(yaml);
	free(expected);
	free(got);
	return ok;
}

TEST(invalid__every_case_matches_expected)
{
	char **cases;
	size_t n = list_cases(&cases);
	size_t passed = 0;

	for (size_t i = 0; i < n; i++)
		passed += (size_t)run_case(cases[i]);
	CHECK_EQ_INT(passed, n);
	/* About one file per rule: a lost directory must not pass quietly. */
	CHECK(n >= 30);
	free_cases(cases, n);
}

/* Every NAME.expected has its NAME.yaml (no orphaned expectations). */
TEST(invalid__no_orphan_expected)
{
	DIR *d = opendir(invalid_dir);
	struct dirent *de;
	char path[8192];
	size_t n = 0;

	REQUIRE(d != NULL);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		FILE *f;
		if (len < 10 || strcmp(de->d_name + len - 9, ".expected") != 0)
			continue;
		n++;
		snprintf(path, sizeof(path), "%s/%.*s.yaml", invalid_dir,
		    (int)(len - 9), de->d_name);
		f = fopen(path, "rb");
		if (f == NULL)
			fprintf(stderr, "  %s has no .yaml\n", de->d_name);
		CHECK(f != NULL);
		if (f != NULL)
			fclose(f);
	}
	closedir(d);
	CHECK(n >= 30);
}

/* The several-errors case really reports several, from different
 * services and different kinds of rules (fields, keys, graph). */
TEST(invalid__many_errors_all_reported)
{
	char path[8192];
	struct manifest_errors errs;
	struct manifest *m = NULL;
	bool graph = false, key = false, field = false;

	snprintf(path, sizeof(path), "%s/many-errors.yaml", invalid_dir);
	manifest_errors_init(&errs);
	CHECK_EQ_INT(manifest_load_file(&m, &errs, path), ORCH_EINVALID);
	CHECK(m == NULL);
	CHECK(errs.n >= 8);
	for (size_t i = 0; i < errs.n; i++) {
		CHECK_STR(errs.v[i].file, path);
		if (i > 0)
			CHECK(errs.v[i - 1].pos.line <= errs.v[i].pos.line);
		graph |= strstr(errs.v[i].msg, "cycle") != NULL;
		key |= strstr(errs.v[i].msg, "unknown key") != NULL;
		field |= strstr(errs.v[i].msg, "outside min..max") != NULL;
	}
	CHECK(graph && key && field);
	manifest_errors_free(&errs);
}

CHECK_MAIN(invalid__every_case_matches_expected, invalid__no_orphan_expected,
    invalid__many_errors_all_reported)
