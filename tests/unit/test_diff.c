/* test_diff.c - manifest/diff.c: what changes between two manifests. */
#include <stdbool.h>

#include "check.h"
#include "err.h"
#include "manifest.h"

/* Parse a manifest that must be valid; print its errors otherwise. */
static struct manifest *
parse(const char *yaml)
{
	struct manifest_errors e;
	struct manifest *m = NULL;
	char line[1200];

	manifest_errors_init(&e);
	if (manifest_parse(&m, &e, yaml, strlen(yaml), "orch.yaml") != 0) {
		for (size_t i = 0; i < e.n; i++) {
			manifest_error_format(line, sizeof(line), &e.v[i]);
			fprintf(stderr, "    %s\n", line);
		}
	}
	manifest_errors_free(&e);
	REQUIRE(m != NULL);
	return m;
}

/* One line per service: "name action [f1,f2] oldver->newver r->r". */
static void
diff_text(char *buf, size_t len, const struct manifest_diff *d)
{
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->nservices && at < len; i++) {
		const struct service_diff *s = &d->services[i];
		char fields[512] = "";
		size_t fa = 0;

		for (unsigned bit = 1; bit < DIFF_F__LAST; bit <<= 1)
			if (s->fields & bit)
				fa += (size_t)snprintf(fields + fa, sizeof(fields) - fa,
				    "%s%s", fa ? "," : "", manifest_diff_field_name(bit));
		at += (size_t)snprintf(buf + at, len - at, "%s %s [%s] %s->%s %d->%d\n",
		    s->name, manifest_diff_action_name(s->action), fields,
		    s->old_version ? s->old_version : "-",
		    s->new_version ? s->new_version : "-",
		    s->old_replicas, s->new_replicas);
	}
}

/* Diff two YAML texts (NULL: no manifest) and compare the text form. */
static void
check_diff(int line, const char *from_yaml, const char *to_yaml,
    const char *want)
{
	struct manifest *from = from_yaml ? parse(from_yaml) : NULL;
	struct manifest *to = to_yaml ? parse(to_yaml) : NULL;
	struct manifest_diff *d = NULL;
	char got[4096];

	if (manifest_diff(&d, from, to) != 0) {
		check_fail(__FILE__, line, "manifest_diff: %s", orch_err_last());
	} else {
		diff_text(got, sizeof(got), d);
		if (strcmp(got, want) != 0)
			check_fail(__FILE__, line, "\nwant:\n%sgot:\n%s", want, got);
	}
	manifest_diff_free(d);
	manifest_free(from);
	manifest_free(to);
}

#define HEAD "architecture: shop\nservices:\n"

/* A fully spelled-out service, used as the base of the field tests. */
#define WEB_BASE \
	"  web:\n" \
	"    version: \"1.0.0\"\n" \
	"    command: [bin/web, --port, \"${ORCH_PORT}\"]\n" \
	"    env: {A: \"1\", B: \"2\"}\n" \
	"    replicas: 2\n" \
	"    ports: [http, admin]\n" \
	"    nodes: [n1, n2]\n"

TEST(diff__added_removed_and_order)
{
	/* to's start order is e d a b (e before d, which needs it); the
	 * removed ones come last in from's teardown order: y x c. */
	check_diff(__LINE__,
	    HEAD
	    "  a: {version: 1.0.0, command: [a]}\n"
	    "  b: {version: 1.0.0, command: [b], depends_on: {a: \"*\"}}\n"
	    "  c: {version: 1.0.0, command: [c], depends_on: {b: \"*\"}}\n"
	    "  x: {version: 3.0.0, command: [x], replicas: 3}\n"
	    "  y: {version: 1.0.0, command: [y], depends_on: {x: \"*\"}}\n",
	    HEAD
	    "  d: {version: 2.0.0, command: [d], depends_on: {e: \"*\"}}\n"
	    "  e: {version: 1.0.0, command: [e], replicas: 2}\n"
	    "  b: {version: 1.0.0, command: [b], depends_on: {a: \"*\"}}\n"
	    "  a: {version: 1.0.0, command: [a]}\n",
	    "e added [] -->1.0.0 0->2\n"
	    "d added [] -->2.0.0 0->1\n"
	    "a unchanged [] 1.0.0->1.0.0 1->1\n"
	    "b unchanged [] 1.0.0->1.0.0 1->1\n"
	    "y removed [] 1.0.0->- 1->0\n"
	    "x removed [] 3.0.0->- 3->0\n"
	    "c removed [] 1.0.0->- 1->0\n");
}

TEST(diff__version_and_command_change)
{
	check_diff(__LINE__, HEAD WEB_BASE,
	    HEAD
	    "  web:\n"
	    "    version: \"1.1.0\"\n"
	    "    command: [bin/web, --port, \"${ORCH_PORT}\"]\n"
	    "    env: {A: \"1\", B: \"2\"}\n"
	    "    replicas: 2\n"
	    "    ports: [http, admin]\n"
	    "    nodes: [n1, n2]\n",
	    "web changed [version] 1.0.0->1.1.0 2->2\n");
	/* Argument order matters to the program. */
	check_diff(__LINE__, HEAD WEB_BASE,
	    HEAD
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [bin/web, \"${ORCH_PORT}\", --port]\n"
	    "    env: {A: \"1\", B: \"2\"}\n"
	    "    replicas: 2\n"
	    "    ports: [http, admin]\n"
	    "    nodes: [n1, n2]\n",
	    "web changed [command] 1.0.0->1.0.0 2->2\n");
}

TEST(diff__scale_only_is_in_place)
{
	check_diff(__LINE__, HEAD WEB_BASE,
	    HEAD
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [bin/web, --port, \"${ORCH_PORT}\"]\n"
	    "    env: {A: \"1\", B: \"2\"}\n"
	    "    replicas: 4\n"
	    "    ports: [http, admin]\n"
	    "    nodes: [n1, n2]\n",
	    "web in-place [replicas] 1.0.0->1.0.0 2->4\n");
}

TEST(diff__policy_only_is_in_place)
{
	check_diff(__LINE__, HEAD WEB_BASE,
	    HEAD WEB_BASE
	    "    min: 1\n"
	    "    max: 8\n"
	    "    health: {type: tcp, interval: 2s}\n"
	    "    stop: {signal: INT, timeout: 3s}\n"
	    "    restart: {limit: 9}\n"
	    "    strategy: {type: recreate}\n",
	    "web in-place [min/max,health,stop,restart,strategy] "
	    "1.0.0->1.0.0 2->2\n");
	/* A rollout field among policy ones makes it a rollout. */
	check_diff(__LINE__, HEAD WEB_BASE,
	    HEAD WEB_BASE
	    "    workdir: sub\n"
	    "    restart: {limit: 9}\n",
	    "web changed [workdir,restart] 1.0.0->1.0.0 2->2\n");
}

TEST(diff__sets_and_sequences)
{
	/* env, nodes and depends_on are sets: reordering changes nothing. */
	check_diff(__LINE__,
	    HEAD WEB_BASE
	    "    depends_on: {db: \"^1\", cache: \"*\"}\n"
	    "  db: {version: 1.0.0, command: [db]}\n"
	    "  cache: {version: 1.0.0, command: [cache]}\n",
	    HEAD
	    "  cache: {version: 1.0.0, command: [cache]}\n"
	    "  db: {version: 1.0.0, command: [db]}\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [bin/web, --port, \"${ORCH_PORT}\"]\n"
	    "    env: {B: \"2\", A: \"1\"}\n"
	    "    replicas: 2\n"
	    "    ports: [http, admin]\n"
	    "    nodes: [n2, n1]\n"
	    "    depends_on: {cache: \"*\", db: \"^1\"}\n",
	    "cache unchanged [] 1.0.0->1.0.0 1->1\n"
	    "db unchanged [] 1.0.0->1.0.0 1->1\n"
	    "web unchanged [] 1.0.0->1.0.0 2->2\n");
	/* ...but a changed value, node or constraint does. Ports are a
	 * sequence: ports[0] is ORCH_PORT. */
	check_diff(__LINE__,
	    HEAD WEB_BASE
	    "    depends_on: {db: \"^1\"}\n"
	    "  db: {version: 1.0.0, command: [db]}\n",
	    HEAD
	    "  db: {version: 1.0.0, command: [db]}\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [bin/web, --port, \"${ORCH_PORT}\"]\n"
	    "    env: {B: \"2\", A: \"3\"}\n"
	    "    replicas: 2\n"
	    "    ports: [admin, http]\n"
	    "    nodes: [n2, n3]\n"
	    "    depends_on: {db: \"^1.0\"}\n",
	    "db unchanged [] 1.0.0->1.0.0 1->1\n"
	    "web changed [env,ports,nodes,depends_on] 1.0.0->1.0.0 2->2\n");
}

TEST(diff__every_rollout_field)
{
	struct manifest *a = parse(HEAD WEB_BASE);
	struct manifest *b = parse(HEAD
	    "  web:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [bin/web, --port, \"${ORCH_PORT}\"]\n"
	    "    env: {A: \"1\", B: \"2\"}\n"
	    "    replicas: 2\n"
	    "    ports: [http, admin]\n"
	    "    nodes: [n1, n2]\n"
	    "    artifact: {url: \"file:///srv/web.tar.gz\", sha256: "
	    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}\n"
	    "    resources: {cpu: 0.5, memory: 64M}\n"
	    "    limits: {nofile: 1024}\n"
	    "    user: nobody\n");
	struct manifest_diff *d = NULL;
	unsigned want = DIFF_F_KIND | DIFF_F_ARTIFACT | DIFF_F_RESOURCES |
	    DIFF_F_LIMITS | DIFF_F_USER;

	REQUIRE(manifest_diff(&d, a, b) == 0);
	REQUIRE(d->nservices == 1);
	CHECK((d->services[0].fields & want) == want);
	CHECK((d->services[0].fields & (DIFF_F_VERSION | DIFF_F_COMMAND |
	    DIFF_F_ENV | DIFF_F_PORTS | DIFF_F_REPLICAS | DIFF_F_NODES)) == 0);
	CHECK_EQ_INT(d->services[0].action, DIFF_CHANGED);
	CHECK(!d->architecture_changed);
	manifest_diff_free(d);
	/* The other way round names the same fields. */
	REQUIRE(manifest_diff(&d, b, a) == 0);
	CHECK((d->services[0].fields & want) == want);
	manifest_diff_free(d);
	manifest_free(a);
	manifest_free(b);
}

TEST(diff__null_sides_and_architecture)
{
	static const char *const y =
	    "architecture: shop\n"
	    "version: \"2.4.0\"\n"
	    "services:\n"
	    "  web: {version: 1.0.0, command: [web], depends_on: {db: \"*\"}}\n"
	    "  db: {version: 1.0.0, command: [db]}\n";
	struct manifest *m = parse(y);
	struct manifest *relabel = parse(
	    "architecture: shop\n"
	    "version: \"2.5.0\"\n"
	    "services:\n"
	    "  web: {version: 1.0.0, command: [web], depends_on: {db: \"*\"}}\n"
	    "  db: {version: 1.0.0, command: [db]}\n");
	struct manifest_diff *d = NULL;
	char got[1024];

	REQUIRE(manifest_diff(&d, NULL, NULL) == 0);
	CHECK_EQ_INT(d->nservices, 0);
	CHECK(!d->architecture_changed);
	manifest_diff_free(d);

	REQUIRE(manifest_diff(&d, NULL, m) == 0);
	diff_text(got, sizeof(got), d);
	CHECK_STR(got, "db added [] -->1.0.0 0->1\nweb added [] -->1.0.0 0->1\n");
	CHECK(d->architecture_changed);
	manifest_diff_free(d);

	REQUIRE(manifest_diff(&d, m, NULL) == 0);
	diff_text(got, sizeof(got), d);
	CHECK_STR(got, "web removed [] 1.0.0->- 1->0\ndb removed [] 1.0.0->- 1->0\n");
	manifest_diff_free(d);

	REQUIRE(manifest_diff(&d, m, m) == 0);
	diff_text(got, sizeof(got), d);
	CHECK_STR(got, "db unchanged [] 1.0.0->1.0.0 1->1\n"
	    "web unchanged [] 1.0.0->1.0.0 1->1\n");
	CHECK(!d->architecture_changed);
	manifest_diff_free(d);

	REQUIRE(manifest_diff(&d, m, relabel) == 0);
	CHECK(d->architecture_changed);
	CHECK_EQ_INT(d->nservices, 2);
	manifest_diff_free(d);
	manifest_diff_free(NULL);
	manifest_free(m);
	manifest_free(relabel);
}

TEST(diff__cycle_falls_back_to_source_order)
{
	struct manifest *from = parse(HEAD "  z: {version: 1.0.0, command: [z]}\n");
	struct manifest *to = parse(HEAD
	    "  a: {version: 1.0.0, command: [a], depends_on: {b: \"*\"}}\n"
	    "  b: {version: 1.0.0, command: [b]}\n");
	struct manifest_diff *d = NULL;
	char got[1024];

	REQUIRE(manifest_diff(&d, from, to) == 0);
	diff_text(got, sizeof(got), d);
	CHECK_STR(got, "b added [] -->1.0.0 0->1\na added [] -->1.0.0 0->1\n"
	    "z removed [] 1.0.0->- 1->0\n");
	manifest_diff_free(d);
	/* Make a depend on itself, as a hand-edited struct might: the start
	 * order fails, and the diff still comes out in source order. */
	REQUIRE(to->services[0].ndeps == 1);
	free(to->services[0].deps[0].service);
	to->services[0].deps[0].service = strdup("a");
	REQUIRE(to->services[0].deps[0].service != NULL);
	REQUIRE(manifest_diff(&d, from, to) == 0);
	diff_text(got, sizeof(got), d);
	CHECK_STR(got, "a added [] -->1.0.0 0->1\nb added [] -->1.0.0 0->1\n"
	    "z removed [] 1.0.0->- 1->0\n");
	manifest_diff_free(d);
	manifest_free(from);
	manifest_free(to);
}

TEST(diff__names)
{
	static const char *const want[] = {
		"version", "command", "env", "artifact", "resources", "limits",
		"workdir", "user", "ports", "kind", "replicas", "min/max",
		"nodes", "health", "stop", "restart", "strategy", "depends_on",
		"route",
	};
	unsigned i = 0;

	for (unsigned bit = 1; bit < DIFF_F__LAST; bit <<= 1, i++)
		CHECK_STR(manifest_diff_field_name(bit), want[i]);
	CHECK_EQ_INT(i, sizeof(want) / sizeof(want[0]));
	CHECK_STR(manifest_diff_field_name(0), "?");
	CHECK_STR(manifest_diff_field_name(DIFF_F_ENV | DIFF_F_USER), "?");
	CHECK_STR(manifest_diff_field_name(DIFF_F__LAST), "?");
	CHECK_STR(manifest_diff_action_name(DIFF_ADDED), "added");
	CHECK_STR(manifest_diff_action_name(DIFF_REMOVED), "removed");
	CHECK_STR(manifest_diff_action_name(DIFF_CHANGED), "changed");
	CHECK_STR(manifest_diff_action_name(DIFF_INPLACE), "in-place");
	CHECK_STR(manifest_diff_action_name(DIFF_UNCHANGED), "unchanged");
}

CHECK_MAIN(diff__added_removed_and_order, diff__version_and_command_change,
    diff__scale_only_is_in_place, diff__policy_only_is_in_place,
    diff__sets_and_sequences, diff__every_rollout_field,
    diff__null_sides_and_architecture, diff__cycle_falls_back_to_source_order,
    diff__names)
