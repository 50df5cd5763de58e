/*
 * test_graph.c - manifest/graph.c: start order, cycles, unknown services
 * and version constraints.
 *
 * A manifest with a cycle never comes out of manifest_parse(), so the
 * start-order tests build struct manifest by hand from a one-line
 * description; the validation tests go through manifest_parse() to see
 * the file:line:col and field path a user sees.
 */
#include <stdbool.h>

#include "check.h"
#include "err.h"
#include "manifest.h"

static char *
xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	REQUIRE(d != NULL);
	return d;
}

/*
 * "a@1.0.0:b=^1,c;b;c@2.0.0" -> services a (version 1.0.0, depending on
 * b with "^1" and on c with "*"), b and c. A service without "@" has a
 * NULL version, as when its version failed to parse. Dependency j of
 * service i sits at line i + 1, column j + 1.
 */
static struct manifest *
build(const char *desc)
{
	struct manifest *m = calloc(1, sizeof(*m));
	const char *s = desc;

	REQUIRE(m != NULL);
	m->file = xstrndup("hand.yaml", 9);
	m->architecture = xstrndup("test", 4);
	m->version = xstrndup("", 0);
	m->services = calloc(64, sizeof(*m->services));
	REQUIRE(m->services != NULL);
	while (*s) {
		struct service_spec *sv = &m->services[m->nservices];
		size_t n = strcspn(s, "@:;");

		sv->name = xstrndup(s, n);
		sv->pos = (struct mpos){(int)m->nservices + 1, 1};
		sv->replicas = 1;
		s += n;
		if (*s == '@') {
			n = strcspn(++s, ":;");
			sv->version = xstrndup(s, n);
			REQUIRE(semver_parse(&sv->semver, sv->version) == 0);
			s += n;
		}
		if (*s == ':') {
			sv->deps = calloc(16, sizeof(*sv->deps));
			REQUIRE(sv->deps != NULL);
			do {
				struct dependency *d = &sv->deps[sv->ndeps];
				s++;
				n = strcspn(s, "=,;");
				d->service = xstrndup(s, n);
				s += n;
				if (*s == '=') {
					n = strcspn(++s, ",;");
					d->constraint = xstrndup(s, n);
					s += n;
				} else {
					d->constraint = xstrndup("*", 1);
				}
				d->pos = (struct mpos){(int)m->nservices + 1,
				    (int)sv->ndeps + 1};
				sv->ndeps++;
			} while (*s == ',');
		}
		m->nservices++;
		if (*s == ';')
			s++;
	}
	return m;
}

/* The start order as "a b c", or the error message. */
static void
order_text(char *buf, size_t len, const struct manifest *m)
{
	size_t *order = NULL;
	size_t at = 0;

	buf[0] = '\0';
	if (manifest_start_order(&order, m) != 0) {
		snprintf(buf, len, "error: %s", orch_err_last());
		CHECK(order == NULL);
		return;
	}
	for (size_t i = 0; i < m->nservices; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " " : "",
		    m->services[order[i]].name);
	free(order);
}

static void
check_order(const char *desc, const char *want)
{
	struct manifest *m = build(desc);
	char got[1024];

	order_text(got, sizeof(got), m);
	if (strcmp(got, want) != 0)
		check_fail(__FILE__, __LINE__, "%s: want \"%s\", got \"%s\"",
		    desc, want, got);
	manifest_free(m);
}

TEST(graph_order__chain_diamond_independent)
{
	check_order("c:b;b:a;a", "a b c");
	check_order("top:left,right;left:base;right:base;base",
	    "base left right top");
	/* Unrelated services keep source order, whatever their names. */
	check_order("zeta;alpha;mid", "zeta alpha mid");
	/* The first ready service in source order goes first: cache is
	 * ready before db, and web waits for db. */
	check_order("web:db;cache;db", "cache db web");
	check_order("web:db,cache;db:cache;cache;lone", "cache db web lone");
	/* An unknown dependency (reported by the check) does not block. */
	check_order("a:ghost;b", "a b");
	check_order("only", "only");
}

TEST(graph_order__cycles)
{
	check_order("a:a", "error: dependency cycle: a -> a");
	check_order("a:b;b:a", "error: dependency cycle: a -> b -> a");
	check_order("x;a:b;b:c;c:a;y",
	    "error: dependency cycle: a -> b -> c -> a");
	/* Named from the cycle's first service in source order, in the
	 * direction of the depends_on edges. */
	check_order("c:a;b:c;a:b", "error: dependency cycle: c -> a -> b -> c");
	/* web is stuck behind the cycle but not on it. */
	check_order("web:a;a:b;b:a", "error: dependency cycle: a -> b -> a");
	/* Two cycles: the one with the earlier service is named. */
	check_order("p:q;q:p;a:b;b:a", "error: dependency cycle: p -> q -> p");
	/* The shortest way round is named when there are several. */
	check_order("a:b,c;b:c;c:a", "error: dependency cycle: a -> c -> a");
}

TEST(graph_order__empty_and_code)
{
	struct manifest *m = build("");
	struct manifest *cyc = build("a:b;b:a");
	size_t *order = (size_t *)1;

	CHECK_EQ_INT(manifest_start_order(&order, m), 0);
	CHECK_EQ_INT(m->nservices, 0);
	free(order);
	order = (size_t *)1;
	CHECK_EQ_INT(manifest_start_order(&order, cyc), ORCH_EINVALID);
	CHECK(order == NULL);
	manifest_free(m);
	manifest_free(cyc);
}

/* errs as "line:col path: msg" lines. */
static void
errs_text(char *buf, size_t len, const struct manifest_errors *e)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < e->n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%d:%d %s: %s\n",
		    e->v[i].pos.line, e->v[i].pos.col, e->v[i].path, e->v[i].msg);
}

static void
check_graph_errs(const char *desc, const char *want)
{
	struct manifest *m = build(desc);
	struct manifest_errors e;
	char got[4096];

	manifest_errors_init(&e);
	manifest_check_graph(m, &e);
	manifest_errors_sort(&e);
	errs_text(got, sizeof(got), &e);
	if (strcmp(got, want) != 0)
		check_fail(__FILE__, __LINE__, "%s:\nwant:\n%sgot:\n%s", desc,
		    want, got);
	for (size_t i = 0; i < e.n; i++)
		CHECK_STR(e.v[i].file, "hand.yaml");
	manifest_errors_free(&e);
	manifest_free(m);
}

TEST(graph_check__by_hand)
{
	check_graph_errs("a@1.0.0:b=^1;b@1.4.0", "");
	check_graph_errs("a@1.0.0:b=^2;b@1.4.0",
	    "1:1 services.a.depends_on.b: requires b ^2, but b is at 1.4.0\n");
	check_graph_errs("a:ghost", "1:1 services.a.depends_on.ghost: "
	    "depends on unknown service 'ghost'\n");
	check_graph_errs("a:a", "1:1 services.a.depends_on.a: a service cannot "
	    "depend on itself (dependency cycle: a -> a)\n");
	/* One cycle, one error, at the entry that closes it. */
	check_graph_errs("a:b;b:a",
	    "2:1 services.b.depends_on.a: dependency cycle: a -> b -> a\n");
	check_graph_errs("a:b;b:c;c:a",
	    "3:1 services.c.depends_on.a: dependency cycle: a -> b -> c -> a\n");
	/* Reached from a service outside it, the cycle still starts at its
	 * first service in source order. */
	check_graph_errs("web:c;a:b;b:c;c:a", "4:1 services.c.depends_on.a: "
	    "dependency cycle: a -> b -> c -> a\n");
	/* Two cycles sharing a: both reported. */
	check_graph_errs("a:b,c;b:a;c:a",
	    "2:1 services.b.depends_on.a: dependency cycle: a -> b -> a\n"
	    "3:1 services.c.depends_on.a: dependency cycle: a -> c -> a\n");
	/* A NULL version (it failed to parse) skips the constraint only. */
	check_graph_errs("a@1.0.0:b=^9,zz;b", "1:2 services.a.depends_on.zz: "
	    "depends on unknown service 'zz'\n");
	/* A pre-release needs a constraint that names one (npm rule). */
	check_graph_errs("a@1.0.0:b=>=2.0.0;b@2.1.0-rc.1",
	    "1:1 services.a.depends_on.b: requires b >=2.0.0, but b is at "
	    "2.1.0-rc.1\n");
	check_graph_errs("a@1.0.0:b=>=2.1.0-rc.0;b@2.1.0-rc.1", "");
	/* No constraint ("*", as a null one is stored) takes any version,
	 * pre-releases too: it only orders the start. */
	check_graph_errs("a@1.0.0:b,c=;b@2.1.0-rc.1;c@0.0.1-0", "");
	check_graph_errs("a@1.0.0:b=*;b@2.1.0-rc.1", "");
	check_graph_errs("a@1.0.0:b=x;b@2.1.0-rc.1", "");
	/* Any other range keeps npm's rule. */
	check_graph_errs("a@1.0.0:b=>=0.0.0;b@2.1.0-rc.1", "1:1 "
	    "services.a.depends_on.b: requires b >=0.0.0, but b is at "
	    "2.1.0-rc.1\n");
	/* An unparsable constraint is the field check's business. */
	check_graph_errs("a@1.0.0:b=>>1;b@1.0.0", "");
}

TEST(graph_check__partial_manifest)
{
	struct manifest *m = build("a@1.0.0:b,c;b;c@1.0.0");
	struct manifest_errors e;

	/* What a half-validated manifest may hold: no name, no deps array
	 * entry name, no constraint. Nothing may crash. */
	free(m->services[1].name);
	m->services[1].name = NULL;
	free(m->services[0].deps[1].constraint);
	m->services[0].deps[1].constraint = NULL;
	free(m->services[0].deps[0].service);
	m->services[0].deps[0].service = NULL;
	manifest_errors_init(&e);
	manifest_check_graph(m, &e);
	CHECK_EQ_INT(e.n, 0);
	manifest_check_graph(NULL, &e);
	manifest_check_graph(m, NULL);
	CHECK_EQ_INT(e.n, 0);
	manifest_errors_free(&e);
	manifest_free(m);
}

static const char *const yaml_head =
    "architecture: shop\n"
    "services:\n";

/* Parse head + body; the error lines as "file:line:col: path: msg\n". */
static int
parse_errs(char *buf, size_t len, const char *body)
{
	struct manifest_errors e;
	struct manifest *m = NULL;
	char y[4096], line[1200];
	size_t at = 0;
	int rc;

	snprintf(y, sizeof(y), "%s%s", yaml_head, body);
	manifest_errors_init(&e);
	rc = manifest_parse(&m, &e, y, strlen(y), "orch.yaml");
	buf[0] = '\0';
	for (size_t i = 0; i < e.n && at < len; i++) {
		manifest_error_format(line, sizeof(line), &e.v[i]);
		at += (size_t)snprintf(buf + at, len - at, "%s\n", line);
	}
	if (rc == 0)
		CHECK(m != NULL);
	else
		CHECK(m == NULL);
	manifest_free(m);
	manifest_errors_free(&e);
	return rc;
}

TEST(graph_check__through_manifest_parse)
{
	char got[8192];

	CHECK_EQ_INT(parse_errs(got, sizeof(got),
	    "  web:\n"
	    "    version: \"1.3.0\"\n"
	    "    command: [bin/web]\n"
	    "    depends_on:\n"
	    "      cache: \">=2.0.0 <3.0.0\"\n"
	    "  cache:\n"
	    "    version: \"2.1.0\"\n"
	    "    command: [bin/cache]\n"), 0);
	CHECK_STR(got, "");

	CHECK_EQ_INT(parse_errs(got, sizeof(got),
	    "  web:\n"
	    "    version: \"1.3.0\"\n"
	    "    command: [bin/web]\n"
	    "    depends_on:\n"
	    "      cache: \">=2.0.0 <3.0.0\"\n"
	    "      db: \"*\"\n"
	    "  cache:\n"
	    "    version: \"1.5.0\"\n"
	    "    command: [bin/cache]\n"), ORCH_EINVALID);
	CHECK_STR(got,
	    "orch.yaml:7:7: services.web.depends_on.cache: requires cache "
	    ">=2.0.0 <3.0.0, but cache is at 1.5.0\n"
	    "orch.yaml:8:7: services.web.depends_on.db: depends on unknown "
	    "service 'db'\n");

	CHECK_EQ_INT(parse_errs(got, sizeof(got),
	    "  a: {version: 1.0.0, command: [a], depends_on: {b: \"*\"}}\n"
	    "  b: {version: 1.0.0, command: [b], depends_on: {c: \"*\"}}\n"
	    "  c: {version: 1.0.0, command: [c], depends_on: {a: \"*\"}}\n"),
	    ORCH_EINVALID);
	CHECK_STR(got, "orch.yaml:5:50: services.c.depends_on.a: "
	    "dependency cycle: a -> b -> c -> a\n");
}

CHECK_MAIN(graph_order__chain_diamond_independent, graph_order__cycles,
    graph_order__empty_and_code, graph_check__by_hand,
    graph_check__partial_manifest, graph_check__through_manifest_parse)
