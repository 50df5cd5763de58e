/*
 * test_architecture.c - the map in docs/architecture.md is true.
 *
 * - The link graph of orch's parts that the build has (CMake writes it to
 *   ORCH_BUILD_DIR/link-graph.txt) is the one the doc draws, line for line.
 * - No part includes a header of a part it does not link (directly or
 *   through one it links), so the arrows cannot be crossed by an #include.
 * - lifecycle/ is pure: no clock, no I/O, no randomness, no environment.
 * - manifest/ does I/O only in its loaders (spec.c's file loader, git.c).
 */
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NPARTS 6
static const char *const parts[NPARTS] = {
	"common", "manifest", "lifecycle", "controller", "slave", "orchctl",
};

static char src[4096], bld[4096];

__attribute__((constructor)) static void
setup_paths(void)
{
	const char *s = getenv("ORCH_SOURCE_DIR"), *b = getenv("ORCH_BUILD_DIR");

	snprintf(src, sizeof(src), "%s", s && *s ? s : "..");
	snprintf(bld, sizeof(bld), "%s", b && *b ? b : ".");
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		len = fread(buf, 1, (size_t)n, f);
		buf[len] = '\0';
	}
	fclose(f);
	return buf;
}

static int
part_index(const char *name)
{
	for (int i = 0; i < NPARTS; i++)
		if (strcmp(parts[i], name) == 0)
			return i;
	return -1;
}

/* "part: dep dep" lines into links[part][dep]; false on a malformed line. */
static bool
parse_graph(bool links[NPARTS][NPARTS], const char *text)
{
	char line[512];

	memset(links, 0, sizeof(bool) * NPARTS * NPARTS);
	while (*text != '\0') {
		size_t n = strcspn(text, "\n");
		char *colon, *tok, *save;
		int from;

		snprintf(line, sizeof(line), "%.*s", (int)n, text);
		text += n + (text[n] == '\n');
		if (line[0] == '\0')
			continue;
		if ((colon = strchr(line, ':')) == NULL)
			return false;
		*colon = '\0';
		if ((from = part_index(line)) < 0)
			return false;
		for (tok = strtok_r(colon + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			int to = part_index(tok);

			if (to < 0)
				return false;
			links[from][to] = true;
		}
	}
	return true;
}

/* The fenced block after the "link-graph" marker of docs/architecture.md. */
static char *
doc_graph(void)
{
	char path[4200], *doc, *p, *end, *out = NULL;

	snprintf(path, sizeof(path), "%s/docs/architecture.md", src);
	if ((doc = slurp(path)) == NULL)
		return NULL;
	if ((p = strstr(doc, "<!-- link-graph")) != NULL && (p = strstr(p, "```")) != NULL &&
	    (p = strchr(p, '\n')) != NULL && (end = strstr(p + 1, "```")) != NULL)
		out = strndup(p + 1, (size_t)(end - p - 1));
	free(doc);
	return out;
}

TEST(architecture__doc_draws_the_link_graph)
{
	char path[4200], *built, *drawn;
	bool a[NPARTS][NPARTS], b[NPARTS][NPARTS];

	snprintf(path, sizeof(path), "%s/link-graph.txt", bld);
	REQUIRE((built = slurp(path)) != NULL);
	REQUIRE((drawn = doc_graph()) != NULL);
	CHECK(parse_graph(a, built));
	CHECK(parse_graph(b, drawn));
	for (int i = 0; i < NPARTS; i++)
		for (int j = 0; j < NPARTS; j++)
			if (a[i][j] != b[i][j])
				check_fail(__FILE__, __LINE__, "%s -> %s: the build %s it, "
				    "docs/architecture.md %s it", parts[i], parts[j],
				    a[i][j] ? "has" : "does not have",
				    b[i][j] ? "draws" : "does not draw");
	free(built);
	free(drawn);
}

/* Which part has a header of this name (-1: none, a system or test one). */
static int
header_owner(const char *name)
{
	char path[4400];

	for (int i = 0; i < NPARTS; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s/%s", src, parts[i], name);
		if ((f = fopen(path, "r")) != NULL) {
			fclose(f);
			return i;
		}
	}
	return -1;
}

static bool
is_source(const char *name)
{
	size_t n = strlen(name);

	return n > 2 && name[n - 2] == '.' && (name[n - 1] == 'c' || name[n - 1] == 'h');
}

/* Call fn(part, file name, text) for every .c and .h of every part. */
static void
each_source(void (*fn)(int part, const char *file, const char *text, void *arg), void *arg)
{
	for (int i = 0; i < NPARTS; i++) {
		char dir[4200], path[4500];
		struct dirent *e;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/%s", src, parts[i]);
		if ((d = opendir(dir)) == NULL) {
			check_fail(__FILE__, __LINE__, "opendir %s", dir);
			continue;
		}
		while ((e = readdir(d)) != NULL) {
			char *text;

			if (!is_source(e->d_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if ((text = slurp(path)) != NULL)
				fn(i, e->d_name, text, arg);
			free(text);
		}
		closedir(d);
	}
}

static void
check_includes(int part, const char *file, const char *text, void *arg)
{
	bool (*reach)[NPARTS] = arg;

	for (const char *p = strstr(text, "#include \""); p; p = strstr(p + 1, "#include \"")) {
		char name[256];
		size_t n = strcspn(p + 10, "\"\n");
		int owner;

		snprintf(name, sizeof(name), "%.*s", (int)n, p + 10);
		owner = header_owner(name);
		if (owner >= 0 && owner != part && !reach[part][owner])
			check_fail(__FILE__, __LINE__, "%s/%s includes %s of %s, which %s "
			    "does not link", parts[part], file, name, parts[owner], parts[part]);
	}
}

TEST(architecture__includes_follow_the_links)
{
	char path[4200], *built;
	bool reach[NPARTS][NPARTS];
	int seen = 0;

	snprintf(path, sizeof(path), "%s/link-graph.txt", bld);
	REQUIRE((built = slurp(path)) != NULL);
	REQUIRE(parse_graph(reach, built));
	free(built);
	/* What a part links through another counts (PUBLIC links). */
	for (int k = 0; k < NPARTS; k++)
		for (int i = 0; i < NPARTS; i++)
			for (int j = 0; j < NPARTS; j++)
				reach[i][j] = reach[i][j] || (reach[i][k] && reach[k][j]);
	for (int i = 0; i < NPARTS; i++)
		seen += reach[i][0];
	CHECK(seen >= 4); /* the graph was read: most parts reach common */
	each_source(check_includes, reach);
}

/* Calls that would make code impure: clock, I/O, randomness, environment. */
static const char *const impure[] = {
	"clock_gettime", "gettimeofday", "time", "orch_mono_ms", "orch_wall_ms",
	"fopen", "open", "openat", "read", "write", "fread", "fwrite", "printf",
	"puts", "opendir", "stat", "socket", "connect", "getenv", "rand",
	"random", "getrandom", "sleep", "usleep", "nanosleep", "fork", "execv",
	"execvp", "system", "curl_easy_perform", "sqlite3_exec", "git_repository_open",
	NULL,
};

/* The first impure call in text (a name followed by '('), or NULL. */
static const char *
first_impure(const char *text)
{
	for (size_t k = 0; impure[k] != NULL; k++) {
		size_t n = strlen(impure[k]);

		for (const char *p = strstr(text, impure[k]); p; p = strstr(p + 1, impure[k])) {
			char before = p == text ? ' ' : p[-1];

			if (!isalnum((unsigned char)before) && before != '_' && before != '.' &&
			    before != '>' && p[n] == '(')
				return impure[k];
		}
	}
	return NULL;
}

struct purity {
	int part;
	const char *const *allowed; /* files that may do I/O */
	int checked;
};

static void
check_pure(int part, const char *file, const char *text, void *arg)
{
	struct purity *pu = arg;
	const char *bad;

	if (part != pu->part)
		return;
	for (size_t i = 0; pu->allowed != NULL && pu->allowed[i] != NULL; i++)
		if (strcmp(pu->allowed[i], file) == 0)
			return;
	pu->checked++;
	if ((bad = first_impure(text)) != NULL)
		check_fail(__FILE__, __LINE__, "%s/%s calls %s(): %s does no I/O and "
		    "reads no clock (time is an argument)", parts[part], file, bad,
		    parts[part]);
}

TEST(architecture__lifecycle_is_pure)
{
	struct purity pu = {.part = part_index("lifecycle")};

	each_source(check_pure, &pu);
	CHECK(pu.checked >= 10);
	/* The check itself sees what it looks for. */
	CHECK(first_impure("x = orch_mono_ms();") != NULL);
	CHECK(first_impure("fd = open(path, 0);") != NULL);
	CHECK(first_impure("snprintf(b, n, \"%d\", 1); c->now = in->now;") == NULL);
}

TEST(architecture__manifest_io_only_in_loaders)
{
	static const char *const loaders[] = {"spec.c", "git.c", NULL};
	struct purity pu = {.part = part_index("manifest"), .allowed = loaders};

	each_source(check_pure, &pu);
	CHECK(pu.checked >= 8);
}

CHECK_MAIN(architecture__doc_draws_the_link_graph, architecture__includes_follow_the_links,
    architecture__lifecycle_is_pure, architecture__manifest_io_only_in_loaders)
