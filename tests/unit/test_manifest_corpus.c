/*
 * test_manifest_corpus.c - the fuzz target's corpus, replayed in the normal
 * suite: every examples/ manifest, every saved fuzz regression, all their
 * truncations, seeded random mutations and hand-made hostile inputs go
 * through manifest_parse(). Each must return cleanly: either a manifest
 * that holds up to the graph and diff functions, or a rejection that
 * explains itself with well-formed errors. Under ASan/UBSan (scripts/test
 * --sanitize) this also catches the memory errors libFuzzer would.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "err.h"
#include "manifest.h"

#define MUTATIONS 2000
#define TRUNC_STEP 97
#define MAX_REPORTS 5 /* detailed reports per test; the rest are counted */

struct input {
	char *name;
	char *buf;
	size_t len;
};

static struct input *corpus;
static size_t ncorpus;
static int reports;

/* ---- corpus ---------------------------------------------------------- */

static int
read_file(char **out, size_t *out_len, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return -1;
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*out = buf;
	*out_len = len;
	return 0;
}

static void
corpus_add(const char *name, char *buf, size_t len)
{
	if ((corpus = realloc(corpus, (ncorpus + 1) * sizeof(*corpus))) == NULL)
		abort();
	corpus[ncorpus].name = strdup(name);
	corpus[ncorpus].buf = buf;
	corpus[ncorpus].len = len;
	if (corpus[ncorpus].name == NULL)
		abort();
	ncorpus++;
}

static int
collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t len = strlen(path);
	bool regression = strstr(path, "/tests/fuzz/regressions/") != NULL;
	char *buf;
	size_t n;

	if (type != FTW_F)
		return 0;
	/* Examples are YAML; regressions are whatever crashed the fuzzer. */
	if (!regression && (len < 5 || strcmp(path + len - 5, ".yaml") != 0))
		return 0;
	if (regression && strncmp(path + ftw->base, "README", 6) == 0)
		return 0;
	if (read_file(&buf, &n, path) == 0)
		corpus_add(path, buf, n);
	return 0;
}

static void
load_corpus(void)
{
	const char *src = getenv("ORCH_SOURCE_DIR");
	char dir[4096];

	if (corpus != NULL)
		return;
	if (src == NULL || *src == '\0')
		src = ".";
	snprintf(dir, sizeof(dir), "%s/examples", src);
	nftw(dir, collect, 16, FTW_PHYS);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions", src);
	nftw(dir, collect, 16, FTW_PHYS); /* may not exist: fine */
	/* nftw order is the directory's; sort so runs are reproducible. */
	for (size_t i = 1; i < ncorpus; i++)
		for (size_t j = i; j > 0 &&
		    strcmp(corpus[j - 1].name, corpus[j].name) > 0; j--) {
			struct input t = corpus[j];
			corpus[j] = corpus[j - 1];
			corpus[j - 1] = t;
		}
}

/* ---- the property ---------------------------------------------------- */

static size_t
count_lines(const char *buf, size_t len)
{
	size_t n = 1;

	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			n++;
	return n;
}

/* Keep a failing input where a person can feed it to fuzz_manifest. */
static void
save_failure(const char *buf, size_t len)
{
	const char *out = getenv("ORCH_TEST_OUT");
	char path[4096];
	FILE *f;

	if (out == NULL || *out == '\0')
		return;
	mkdir(out, 0755);
	snprintf(path, sizeof(path), "%s/corpus-failure-%d.yaml", out, reports);
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(buf, 1, len, f);
		fclose(f);
		printf("    input saved as %s\n", path);
	}
}

static void
problem(const char *what, const char *buf, size_t len, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	check_failed_in_test++;
	if (reports++ >= MAX_REPORTS)
		return;
	printf("    %s (%zu bytes): %s\n", what, len, msg);
	save_failure(buf, len);
}

/*
 * Parse len bytes at src (copied into a buffer of exactly len bytes, so
 * ASan sees any read past the end) and check the outcome. Returns 1 when
 * the input was accepted, 0 when rejected.
 */
static int
parse_one(const char *what, const char *src, size_t len)
{
	/* Not NULL: the parser must set *out on every path. */
	struct manifest *m = (struct manifest *)&reports;
	struct manifest_errors errs;
	char *buf = malloc(len ? len : 1);
	int rc, accepted = 0;

	if (buf == NULL)
		abort();
	memcpy(buf, src, len);
	manifest_errors_init(&errs);
	rc = manifest_parse(&m, &errs, buf, len, "fuzz.yaml");
	if (rc == 0) {
		struct manifest_diff *d = NULL;
		size_t *order = NULL;

		accepted = 1;
		if (m == NULL || errs.n != 0) {
			problem(what, src, len, "success with m=%p, %zu errors",
			    (void *)m, errs.n);
			goto out;
		}
		/* A valid manifest has no cycle, and equals itself. */
		if (manifest_start_order(&order, m) != 0)
			problem(what, src, len, "valid but start order fails: %s",
			    orch_err_last());
		free(order);
		if (manifest_diff(&d, m, m) != 0)
			problem(what, src, len, "diff(m, m) fails: %s",
			    orch_err_last());
		else
			for (size_t i = 0; i < d->nservices; i++)
				if (d->services[i].action != DIFF_UNCHANGED)
					problem(what, src, len, "diff(m, m): %s %s",
					    d->services[i].name,
					    manifest_diff_action_name(
					    d->services[i].action));
		manifest_diff_free(d);
		d = NULL;
		if (manifest_diff(&d, NULL, m) != 0 || d->nservices != m->nservices)
			problem(what, src, len, "diff(NULL, m) is not all added");
		manifest_diff_free(d);
		manifest_free(m);
		goto out;
	}
	if (m != NULL) {
		problem(what, src, len, "rc %d but *out not NULL", rc);
		goto out;
	}
	if (rc != ORCH_EINVALID && rc != ORCH_ETOOBIG) {
		problem(what, src, len, "rc %d (%s)", rc, orch_err_last());
		goto out;
	}
	if (errs.n == 0) {
		problem(what, src, len, "rejected (rc %d) without an error", rc);
		goto out;
	}
	size_t nlines = count_lines(src, len);
	for (size_t i = 0; i < errs.n; i++) {
		const struct manifest_error *e = &errs.v[i];
		char line[2048];

		manifest_error_format(line, sizeof(line), e);
		if (strcmp(e->file, "fuzz.yaml") != 0 || e->msg[0] == '\0' ||
		    e->pos.line < 0 || e->pos.col < 0 ||
		    (size_t)e->pos.line > nlines + 1)
			problem(what, src, len, "bad error (of %zu lines): %s",
			    nlines, line);
	}
out:
	manifest_errors_free(&errs);
	free(buf);
	return accepted;
}

/* ---- tests ----------------------------------------------------------- */

TEST(manifest_corpus__examples)
{
	size_t yaml = 0, accepted = 0;

	load_corpus();
	reports = 0;
	for (size_t i = 0; i < ncorpus; i++) {
		if (strstr(corpus[i].name, "/examples/") != NULL)
			yaml++;
		accepted += (size_t)parse_one(corpus[i].name, corpus[i].buf,
		    corpus[i].len);
	}
	printf("    %zu inputs (%zu examples), %zu valid\n", ncorpus, yaml,
	    accepted);
	/* Something to replay, and the shop example among the valid ones. */
	CHECK(yaml >= 2);
	CHECK(accepted >= 1);
}

TEST(manifest_corpus__truncations)
{
	size_t runs = 0;

	load_corpus();
	reports = 0;
	for (size_t i = 0; i < ncorpus; i++)
		for (size_t cut = 0; cut < corpus[i].len; cut += TRUNC_STEP) {
			char what[4200];

			snprintf(what, sizeof(what), "%s cut at %zu",
			    corpus[i].name, cut);
			parse_one(what, corpus[i].buf, cut);
			runs++;
		}
	printf("    %zu truncations\n", runs);
	CHECK(runs > 0);
}

/* xorshift64*: the same sequence on every libc, so a failure reproduces. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

TEST(manifest_corpus__mutations)
{
	/* Bytes that change YAML's structure, more often than random. */
	static const char special[] = ":-[]{},&*!|>'\"#%@` \t\n\r\\?";
	size_t accepted = 0;

	load_corpus();
	REQUIRE(ncorpus > 0);
	reports = 0;
	rng = 0x9e3779b97f4a7c15ULL;
	for (int it = 0; it < MUTATIONS; it++) {
		const struct input *in = &corpus[next_rand() % ncorpus];
		size_t len = in->len, nflips = 1 + next_rand() % 4;
		char *buf = malloc(len + 8);
		char what[4200];

		if (buf == NULL)
			abort();
		memcpy(buf, in->buf, len);
		for (size_t k = 0; k < nflips && len > 0; k++) {
			size_t at = next_rand() % len;
			uint64_t r = next_rand();

			switch (r % 4) {
			case 0: /* random byte */
				buf[at] = (char)(r >> 8);
				break;
			case 1: /* structural byte */
				buf[at] = special[(r >> 8) % (sizeof(special) - 1)];
				break;
			case 2: /* bit flip */
				buf[at] ^= (char)(1u << ((r >> 8) % 8));
				break;
			case 3: /* delete a byte */
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			}
		}
		snprintf(what, sizeof(what), "%s mutation %d", in->name, it);
		accepted += (size_t)parse_one(what, buf, len);
		free(buf);
	}
	printf("    %d mutations, %zu still valid\n", MUTATIONS, accepted);
}

/* A growable string for the generated inputs. */
struct sb {
	char *p;
	size_t len, cap;
};

static void
sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
		    b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (b->p && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
}

static void
sb_repeat(struct sb *b, const char *s, size_t times)
{
	for (size_t i = 0; i < times; i++)
		sb_add(b, "%s", s);
}

TEST(manifest_corpus__hostile)
{
	/* Each of these must be rejected. */
	static const char *const rejected[] = {
		"", "---\n", "...\n", "~\n", "[]\n", "\"just a string\"\n",
		"architecture: \xff\xfe\n",               /* invalid UTF-8 */
		"services:\n\tweb: {}\n",                  /* tab indentation */
		"a: 1\n---\nb: 2\n",                       /* two documents */
		"architecture: x\narchitecture: y\n",      /* duplicate key */
		"base: &b {command: [x]}\nservices:\n  web:\n    <<: *b\n",
		"architecture: *nope\n",                   /* undefined alias */
		"architecture: &a x\nservices: {web: {command: [*a], "
		    "replicas: 99999999999999999999}}\n",
		"architecture: x\nservices:\n  a: {command: [x], "
		    "depends_on: {a: \">=1\"}}\n",          /* self cycle */
		"architecture: x\nservices:\n  a: {command: [x], "
		    "health: {interval: 1e400s}}\n",
		"? [complex, key]\n: value\n",
		"architecture: x\nservices: {\"\": {command: [x]}}\n",
	};
	/* These may go either way (tags, empty service maps); they must
	 * only not crash. */
	static const char *const either[] = {
		"architecture: !!binary aGVsbG8=\n",
		"architecture: !custom x\nservices: !!map {}\n",
		"%YAML 1.1\n%TAG ! tag:x,2000:\n--- !x\narchitecture: x\n",
	};
	struct sb b = {0};
	size_t n;

	reports = 0;
	for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
		char what[32];

		snprintf(what, sizeof(what), "hostile #%zu", i);
		if (parse_one(what, rejected[i], strlen(rejected[i])) != 0)
			problem(what, rejected[i], strlen(rejected[i]),
			    "accepted");
	}
	for (size_t i = 0; i < sizeof(either) / sizeof(either[0]); i++)
		parse_one("odd but harmless", either[i], strlen(either[i]));
	/* NUL bytes inside the document: never read as the end of it. */
	parse_one("NULs", "architecture: a\0b\nservices: {}\n", 31);

	/* Billion laughs: 10^9 nodes after alias expansion. */
	sb_add(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++)
		sb_add(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
		    "*a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1, i - 1,
		    i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	CHECK_EQ_INT(parse_one("billion laughs", b.p, b.len), 0);
	b.len = 0;

	/* Nesting far past MANIFEST_MAX_DEPTH, flow and block style. */
	sb_repeat(&b, "[", 100000);
	CHECK_EQ_INT(parse_one("deep flow", b.p, b.len), 0);
	b.len = 0;
	sb_add(&b, "architecture: x\nservices:\n");
	for (int i = 0; i < 200; i++)
		sb_add(&b, "%*s k%d:\n", 2 + 2 * i, "", i);
	CHECK_EQ_INT(parse_one("deep block", b.p, b.len), 0);
	b.len = 0;

	/* One byte over the size limit: rejected as too big. */
	sb_add(&b, "architecture: x\n");
	sb_repeat(&b, "#", MANIFEST_MAX_BYTES - b.len + 1);
	{
		struct manifest *m = NULL;
		struct manifest_errors errs;

		manifest_errors_init(&errs);
		CHECK_EQ_INT(manifest_parse(&m, &errs, b.p, b.len, "big.yaml"),
		    ORCH_ETOOBIG);
		CHECK(m == NULL);
		manifest_errors_free(&errs);
	}
	b.len = 0;

	/* Over MANIFEST_MAX_SERVICES services. */
	sb_add(&b, "architecture: x\nservices:\n");
	for (int i = 0; i <= MANIFEST_MAX_SERVICES; i++)
		sb_add(&b, "  s%d: {command: [x]}\n", i);
	CHECK_EQ_INT(parse_one("too many services", b.p, b.len), 0);
	b.len = 0;

	/* A 200 KB key and a 200 KB scalar. */
	sb_add(&b, "architecture: x\nservices:\n  ");
	sb_repeat(&b, "k", 200000);
	sb_add(&b, ": {command: [");
	sb_repeat(&b, "v", 200000);
	sb_add(&b, "]}\n");
	n = b.len;
	parse_one("long strings", b.p, n);
	free(b.p);
}

static void
free_corpus(void)
{
	for (size_t i = 0; i < ncorpus; i++) {
		free(corpus[i].name);
		free(corpus[i].buf);
	}
	free(corpus);
	corpus = NULL;
	ncorpus = 0;
}

TEST(manifest_corpus__done)
{
	free_corpus(); /* so LeakSanitizer sees a clean exit */
}

CHECK_MAIN(manifest_corpus__examples, manifest_corpus__truncations,
    manifest_corpus__mutations, manifest_corpus__hostile,
    manifest_corpus__done)
