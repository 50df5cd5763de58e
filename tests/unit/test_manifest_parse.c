/*
 * test_manifest_parse.c - manifest_parse(): every field and default of
 * the design.md example, units, placeholders, anchors and merge keys, the
 * limits against hostile input, duplicate keys, lookups, and the example
 * manifests shipped in examples/.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "manifest.h"
#include "units.h"

/* design.md's example, with the elided sha256 written out in full. */
static const char design_yaml[] =
"architecture: shop            # required: name of the whole architecture\n"
"version: \"2.4.0\"              # label of this architecture version\n"
"alerts:\n"
"  webhook: http://127.0.0.1:9000/alert   # POSTed JSON on Failed\n"
"services:\n"
"  cache:\n"
"    kind: pet                 # pet | cattle (default cattle)\n"
"    version: \"2.1.0\"          # software version; exported as ORCH_VERSION\n"
"    command: [\"examples/apps/kv\", \"--port\", \"${ORCH_PORT}\", \"--data\", \"${ORCH_DATA_DIR}\"]\n"
"    replicas: 1\n"
"    min: 1                    # bounds for `orchctl scale`\n"
"    max: 3\n"
"    health: {type: tcp, interval: 1s, timeout: 500ms}\n"
"    restart: {limit: 5, window: 60s, backoff: 100ms, max_backoff: 10s}\n"
"  web:\n"
"    version: \"1.3.0\"\n"
"    artifact:                 # optional; fetched by the slave\n"
"      url: \"file:///srv/builds/web-1.3.0.tar.gz\"\n"
"      sha256: \"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\"\n"
"    command: [\"bin/web\", \"--port\", \"${ORCH_PORT}\"]\n"
"    env: {LOG_LEVEL: info}\n"
"    workdir: \".\"              # relative to the artifact dir\n"
"    user: nobody              # optional; drop privileges\n"
"    resources: {cpu: 0.25, memory: 128M}\n"
"    limits: {nofile: 4096}    # rlimits\n"
"    replicas: 4\n"
"    min: 2\n"
"    max: 10\n"
"    nodes: [node-a, node-b]   # optional: allowed nodes\n"
"    ports: [http]             # ORCH_PORT, ORCH_PORT_HTTP\n"
"    health:\n"
"      type: http              # http | tcp | exec\n"
"      path: /healthz\n"
"      interval: 1s\n"
"      timeout: 500ms\n"
"      healthy_threshold: 1\n"
"      unhealthy_threshold: 3\n"
"      start_period: 5s\n"
"    stop: {signal: TERM, timeout: 10s}\n"
"    strategy:\n"
"      type: canary            # recreate | rolling | blue-green | canary\n"
"      steps:                  # canary: traffic weight %, pause\n"
"        - {weight: 10, pause: 30s}\n"
"        - {weight: 50, pause: 30s}\n"
"      # rolling:    max_surge: 1, max_unavailable: 0, min_ready: 2s\n"
"      auto_rollback: true\n"
"      progress_deadline: 120s\n"
"    depends_on:\n"
"      cache: \">=2.0.0 <3.0.0\" # start after cache is Run\n";

static struct manifest *
parse_ok(const char *yaml)
{
	struct manifest_errors errs;
	struct manifest *m = NULL;
	char line[2048];
	int rc;

	manifest_errors_init(&errs);
	rc = manifest_parse(&m, &errs, yaml, strlen(yaml), "t.yaml");
	for (size_t i = 0; i < errs.n; i++) {
		manifest_error_format(line, sizeof(line), &errs.v[i]);
		fprintf(stderr, "  unexpected: %s\n", line);
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(errs.n, 0);
	manifest_errors_free(&errs);
	return m;
}

/* Parse text that must fail with code; return the formatted errors
 * joined by '\n' (static buffer). */
static const char *
parse_fail(const char *yaml, size_t len, int code)
{
	static char out[16384];
	struct manifest_errors errs;
	struct manifest *m = (struct manifest *)&errs; /* must become NULL */
	char line[2048];
	size_t off = 0;
	int rc;

	manifest_errors_init(&errs);
	rc = manifest_parse(&m, &errs, yaml, len, "t.yaml");
	CHECK_EQ_INT(rc, code);
	CHECK(m == NULL);
	CHECK(errs.n > 0);
	CHECK(orch_err_last()[0] != '\0');
	out[0] = '\0';
	for (size_t i = 0; i < errs.n && off < sizeof(out); i++) {
		manifest_error_format(line, sizeof(line), &errs.v[i]);
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%s",
		    i ? "\n" : "", line);
	}
	manifest_errors_free(&errs);
	return out;
}

TEST(design_example__top_level)
{
	struct manifest *m = parse_ok(design_yaml);

	REQUIRE(m != NULL);
	CHECK_STR(m->file, "t.yaml");
	CHECK_STR(m->architecture, "shop");
	CHECK_STR(m->version, "2.4.0");
	CHECK_STR(m->webhook, "http://127.0.0.1:9000/alert");
	REQUIRE(m->nservices == 2);
	CHECK_STR(m->services[0].name, "cache");
	CHECK_STR(m->services[1].name, "web");
	CHECK_EQ_INT(m->services[0].pos.line, 6);
	CHECK_EQ_INT(m->services[0].pos.col, 3);
	manifest_free(m);
}

TEST(design_example__cache)
{
	struct manifest *m = parse_ok(design_yaml);
	const struct service_spec *s;

	REQUIRE(m != NULL);
	s = manifest_service(m, "cache");
	REQUIRE(s != NULL);
	CHECK_EQ_INT(s->kind, KIND_PET);
	CHECK_STR(s->version, "2.1.0");
	CHECK_EQ_INT(s->semver.major, 2);
	CHECK_EQ_INT(s->semver.minor, 1);
	CHECK_EQ_INT(s->semver.patch, 0);
	REQUIRE(s->ncommand == 5);
	CHECK_STR(s->command[0], "examples/apps/kv");
	CHECK_STR(s->command[2], "${ORCH_PORT}");
	CHECK_STR(s->command[4], "${ORCH_DATA_DIR}");
	CHECK(s->command[5] == NULL);
	CHECK_EQ_INT(s->replicas, 1);
	CHECK_EQ_INT(s->min, 1);
	CHECK_EQ_INT(s->max, 3);
	/* No ports written, but ${ORCH_PORT} and a tcp check: one implicit
	 * port named "main". */
	REQUIRE(s->nports == 1);
	CHECK_STR(s->ports[0], "main");
	CHECK_EQ_INT(s->health.type, HEALTH_TCP);
	CHECK_EQ_INT(s->health.interval_ms, 1000);
	CHECK_EQ_INT(s->health.timeout_ms, 500);
	CHECK_EQ_INT(s->health.healthy_threshold, 1);
	CHECK_EQ_INT(s->health.unhealthy_threshold, 3);
	CHECK_EQ_INT(s->health.start_period_ms, 0);
	CHECK(s->health.path == NULL);
	CHECK(s->health.port == NULL);
	CHECK_EQ_INT(s->restart.limit, 5);
	CHECK_EQ_INT(s->restart.window_ms, 60000);
	CHECK_EQ_INT(s->restart.backoff_ms, 100);
	CHECK_EQ_INT(s->restart.max_backoff_ms, 10000);
	/* Pet defaults: rolling in place. */
	CHECK_EQ_INT(s->strategy.type, STRATEGY_ROLLING);
	CHECK_EQ_INT(s->strategy.max_surge.value, 0);
	CHECK_EQ_INT(s->strategy.max_unavailable.value, 1);
	CHECK(!s->strategy.max_surge.percent);
	CHECK_EQ_INT(s->ndeps, 0);
	CHECK_EQ_INT(s->nenv, 0);
	CHECK(s->user == NULL);
	CHECK(s->group == NULL);
	CHECK(s->artifact.url == NULL);
	CHECK_STR(s->workdir, ".");
	manifest_free(m);
}

TEST(design_example__web)
{
	struct manifest *m = parse_ok(design_yaml);
	const struct service_spec *s;

	REQUIRE(m != NULL);
	s = manifest_service(m, "web");
	REQUIRE(s != NULL);
	CHECK_EQ_INT(s->kind, KIND_CATTLE);
	CHECK_STR(s->version, "1.3.0");
	CHECK_STR(s->artifact.url, "file:///srv/builds/web-1.3.0.tar.gz");
	/* Digests are stored lower-case. */
	CHECK_STR(s->artifact.sha256,
	    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
	REQUIRE(s->ncommand == 3);
	CHECK_STR(s->command[0], "bin/web");
	CHECK_STR(s->command[2], "${ORCH_PORT}");
	REQUIRE(s->nenv == 1);
	CHECK_STR(s->env[0].key, "LOG_LEVEL");
	CHECK_STR(s->env[0].value, "info");
	CHECK_STR(s->workdir, ".");
	CHECK_STR(s->user, "nobody");
	CHECK(s->resources.cpu > 0.2499 && s->resources.cpu < 0.2501);
	CHECK_EQ_INT(s->resources.memory, 128ULL * 1024 * 1024);
	CHECK_EQ_INT(s->limits.nofile, 4096);
	CHECK_EQ_INT(s->limits.nproc, -1);
	CHECK_EQ_INT(s->limits.core, -1);
	CHECK_EQ_INT(s->limits.memlock, -1);
	CHECK_EQ_INT(s->limits.stack, -1);
	CHECK_EQ_INT(s->limits.fsize, -1);
	CHECK_EQ_INT(s->replicas, 4);
	CHECK_EQ_INT(s->min, 2);
	CHECK_EQ_INT(s->max, 10);
	REQUIRE(s->nnodes == 2);
	CHECK_STR(s->nodes[0], "node-a");
	CHECK_STR(s->nodes[1], "node-b");
	REQUIRE(s->nports == 1);
	CHECK_STR(s->ports[0], "http");
	CHECK_EQ_INT(s->health.type, HEALTH_HTTP);
	CHECK_STR(s->health.path, "/healthz");
	CHECK_EQ_INT(s->health.interval_ms, 1000);
	CHECK_EQ_INT(s->health.timeout_ms, 500);
	CHECK_EQ_INT(s->health.healthy_threshold, 1);
	CHECK_EQ_INT(s->health.unhealthy_threshold, 3);
	CHECK_EQ_INT(s->health.start_period_ms, 5000);
	CHECK_EQ_INT(s->stop.signal, SIGTERM);
	CHECK_EQ_INT(s->stop.timeout_ms, 10000);
	CHECK_EQ_INT(s->restart.limit, 5);
	CHECK_EQ_INT(s->strategy.type, STRATEGY_CANARY);
	REQUIRE(s->strategy.nsteps == 2);
	CHECK_EQ_INT(s->strategy.steps[0].weight, 10);
	CHECK_EQ_INT(s->strategy.steps[0].pause_ms, 30000);
	CHECK_EQ_INT(s->strategy.steps[1].weight, 50);
	CHECK_EQ_INT(s->strategy.steps[1].pause_ms, 30000);
	CHECK(s->strategy.auto_rollback);
	CHECK_EQ_INT(s->strategy.progress_deadline_ms, 120000);
	/* Cattle rolling defaults stay in place for other strategies. */
	CHECK_EQ_INT(s->strategy.max_surge.value, 1);
	CHECK_EQ_INT(s->strategy.max_unavailable.value, 0);
	REQUIRE(s->ndeps == 1);
	CHECK_STR(s->deps[0].service, "cache");
	CHECK_STR(s->deps[0].constraint, ">=2.0.0 <3.0.0");
	CHECK_EQ_INT(s->deps[0].pos.line, 49);
	CHECK_EQ_INT(s->deps[0].pos.col, 7);
	manifest_free(m);
}

static const char minimal_yaml[] =
"architecture: tiny\n"
"services:\n"
"  app:\n"
"    version: 0.1.0\n"
"    command: [/bin/app]\n";

TEST(defaults__minimal_service)
{
	struct manifest *m = parse_ok(minimal_yaml);
	const struct service_spec *s;

	REQUIRE(m != NULL);
	CHECK_STR(m->version, "");
	CHECK(m->webhook == NULL);
	s = &m->services[0];
	CHECK_EQ_INT(s->kind, KIND_CATTLE);
	CHECK_EQ_INT(s->replicas, 1);
	CHECK_EQ_INT(s->min, 0);
	CHECK_EQ_INT(s->max, 100);
	CHECK_STR(s->workdir, ".");
	CHECK_EQ_INT(s->nports, 0);
	CHECK_EQ_INT(s->nnodes, 0);
	CHECK(s->nodes == NULL);
	CHECK_EQ_INT(s->resources.memory, 0);
	CHECK(s->resources.cpu == 0);
	CHECK_EQ_INT(s->health.type, HEALTH_NONE);
	CHECK_EQ_INT(s->health.interval_ms, 5000);
	CHECK_EQ_INT(s->health.timeout_ms, 1000);
	CHECK_EQ_INT(s->stop.signal, SIGTERM);
	CHECK_EQ_INT(s->stop.timeout_ms, 10000);
	CHECK_EQ_INT(s->restart.limit, 5);
	CHECK_EQ_INT(s->restart.window_ms, 60000);
	CHECK_EQ_INT(s->restart.backoff_ms, 100);
	CHECK_EQ_INT(s->restart.max_backoff_ms, 10000);
	CHECK_EQ_INT(s->strategy.type, STRATEGY_ROLLING);
	CHECK_EQ_INT(s->strategy.max_surge.value, 1);
	CHECK_EQ_INT(s->strategy.max_unavailable.value, 0);
	CHECK_EQ_INT(s->strategy.min_ready_ms, 0);
	CHECK_EQ_INT(s->strategy.auto_promote_ms, 0);
	CHECK_EQ_INT(s->strategy.scale_down_delay_ms, 30000);
	CHECK(s->strategy.auto_rollback);
	CHECK_EQ_INT(s->strategy.progress_deadline_ms, 600000);
	CHECK_EQ_INT(s->strategy.nsteps, 0);
	CHECK_EQ_INT(s->limits.nofile, -1);
	CHECK_EQ_INT(s->limits.fsize, -1);
	CHECK_STR(s->version, "0.1.0");
	manifest_free(m);
}

TEST(defaults__max_follows_replicas_and_http_path)
{
	struct manifest *m = parse_ok(
	    "architecture: a\n"
	    "services:\n"
	    "  big:\n"
	    "    version: 1.0.0\n"
	    "    command: [x]\n"
	    "    replicas: 150\n"
	    "    ports: [http]\n"
	    "    health: {type: http}\n"
	    "    strategy: {type: blue-green, auto_promote: false}\n"
	    "  one:\n"
	    "    version: 1.0.0\n"
	    "    command: [x]\n"
	    "    replicas: 0\n"
	    "    strategy:\n"
	    "      type: canary\n"
	    "      steps: [{weight: 20}, {weight: 100, pause: 1m}]\n");

	REQUIRE(m != NULL);
	CHECK_EQ_INT(m->services[0].max, 150);
	CHECK_STR(m->services[0].health.path, "/");
	CHECK_EQ_INT(m->services[0].health.interval_ms, 5000);
	CHECK_EQ_INT(m->services[0].strategy.auto_promote_ms, -1);
	CHECK_EQ_INT(m->services[1].replicas, 0);
	CHECK_EQ_INT(m->services[1].max, 100);
	CHECK_EQ_INT(m->services[1].strategy.steps[0].pause_ms, -1);
	CHECK_EQ_INT(m->services[1].strategy.steps[1].pause_ms, 60000);
	manifest_free(m);
}

TEST(units__durations_sizes_counts)
{
	struct manifest *m = parse_ok(
	    "architecture: a\n"
	    "services:\n"
	    "  s:\n"
	    "    version: 1.0.0-rc.1+build.5\n"
	    "    command: [x]\n"
	    "    resources: {cpu: 1500m, memory: 1G}\n"
	    "    limits: {nofile: 65536, nproc: unlimited, core: 0, "
	    "stack: 8M, memlock: \"64K\", fsize: unlimited}\n"
	    "    stop: {signal: SIGUSR1, timeout: 1h30m}\n"
	    "    restart: {limit: 0, window: 1.5s, backoff: 300ms, "
	    "max_backoff: 2m}\n"
	    "    strategy: {max_surge: \"25%\", max_unavailable: 2, "
	    "min_ready: 2s, auto_rollback: false}\n");
	const struct service_spec *s;

	REQUIRE(m != NULL);
	s = &m->services[0];
	CHECK_STR(s->semver.pre, "rc.1");
	CHECK(s->resources.cpu > 1.4999 && s->resources.cpu < 1.5001);
	CHECK_EQ_INT(s->resources.memory, 1024ULL * 1024 * 1024);
	CHECK_EQ_INT(s->limits.nofile, 65536);
	CHECK(s->limits.nproc == LIMIT_UNLIMITED);
	CHECK_EQ_INT(s->limits.core, 0);
	CHECK_EQ_INT(s->limits.stack, 8 * 1024 * 1024);
	CHECK_EQ_INT(s->limits.memlock, 64 * 1024);
	CHECK(s->limits.fsize == LIMIT_UNLIMITED);
	CHECK_EQ_INT(s->stop.signal, SIGUSR1);
	CHECK_EQ_INT(s->stop.timeout_ms, 90 * 60 * 1000);
	CHECK_EQ_INT(s->restart.limit, 0);
	CHECK_EQ_INT(s->restart.window_ms, 1500);
	CHECK_EQ_INT(s->restart.backoff_ms, 300);
	CHECK_EQ_INT(s->restart.max_backoff_ms, 120000);
	CHECK_EQ_INT(s->strategy.max_surge.value, 25);
	CHECK(s->strategy.max_surge.percent);
	CHECK_EQ_INT(s->strategy.max_unavailable.value, 2);
	CHECK(!s->strategy.max_unavailable.percent);
	CHECK_EQ_INT(s->strategy.min_ready_ms, 2000);
	CHECK(!s->strategy.auto_rollback);
	manifest_free(m);
}

TEST(placeholders__kept_verbatim)
{
	struct manifest *m = parse_ok(
	    "architecture: a\n"
	    "services:\n"
	    "  s:\n"
	    "    version: 1.0.0\n"
	    "    ports: [http, Admin_1]\n"
	    "    env:\n"
	    "      GREETING: \"hi $$USER\"\n"
	    "      PORT: 8080\n"
	    "      DEBUG: true\n"
	    "      EMPTY:\n"
	    "      ADDR: \"127.0.0.1:${ORCH_PORT_ADMIN_1}\"\n"
	    "    command: [\"bin/s\", \"--port=${ORCH_PORT}\", \"${ORCH_PORT_HTTP}\",\n"
	    "      \"${ORCH_SERVICE}-${ORCH_INSTANCE_ID}@${ORCH_NODE}\",\n"
	    "      \"${ORCH_VERSION}\", \"${ORCH_DATA_DIR}/x\", \"${GREETING}\", \"$$5\"]\n"
	    "    health:\n"
	    "      type: exec\n"
	    "      command: [check, \"${ORCH_PORT_HTTP}\", \"${PORT}\"]\n");
	const struct service_spec *s;

	REQUIRE(m != NULL);
	s = &m->services[0];
	REQUIRE(s->ncommand == 8);
	CHECK_STR(s->command[1], "--port=${ORCH_PORT}");
	CHECK_STR(s->command[2], "${ORCH_PORT_HTTP}");
	CHECK_STR(s->command[3], "${ORCH_SERVICE}-${ORCH_INSTANCE_ID}@${ORCH_NODE}");
	CHECK_STR(s->command[6], "${GREETING}");
	CHECK_STR(s->command[7], "$$5");
	REQUIRE(s->nenv == 5);
	CHECK_STR(s->env[0].value, "hi $$USER");
	CHECK_STR(s->env[1].value, "8080");
	CHECK_STR(s->env[2].value, "true");
	CHECK_STR(s->env[3].key, "EMPTY");
	CHECK_STR(s->env[3].value, "");
	CHECK_STR(s->env[4].value, "127.0.0.1:${ORCH_PORT_ADMIN_1}");
	REQUIRE(s->health.ncommand == 3);
	CHECK_STR(s->health.command[1], "${ORCH_PORT_HTTP}");
	CHECK(s->health.command[3] == NULL);
	manifest_free(m);
}

TEST(placeholders__rejected)
{
	const char *yaml =
	    "architecture: a\n"
	    "services:\n"
	    "  s:\n"
	    "    version: 1.0.0\n"
	    "    ports: [http]\n"
	    "    command: [x, \"${HOME}\", \"${ORCH_PORT_ADMIN}\", \"${ORCH_PORT\", \"$5\"]\n"
	    "    env:\n"
	    "      A: \"${ORCH_PORT_http}\"\n"
	    "      B: \"\\t${X}\"\n"
	    "      C: >-\n"
	    "        folded ${Y}\n";
	const char *out = parse_fail(yaml, strlen(yaml), ORCH_EINVALID);

	/* Columns point at the placeholder itself when the text maps onto
	 * the source (here), at the value when escapes or folding moved it. */
	CHECK_CONTAINS(out, "t.yaml:6:19: services.s.command[1]: unknown placeholder ${HOME}");
	CHECK_CONTAINS(out, "t.yaml:9:10: services.s.env.B: unknown placeholder ${X}");
	CHECK_CONTAINS(out, "t.yaml:10:10: services.s.env.C: unknown placeholder ${Y}");
	CHECK_CONTAINS(out, "services.s.command[2]: unknown placeholder ${ORCH_PORT_ADMIN}");
	CHECK_CONTAINS(out, "services.s.command[3]: unterminated placeholder '${ORCH_PORT' (missing '}')");
	CHECK_CONTAINS(out, "services.s.command[4]: a lone '$' must be written '$$'");
	CHECK_CONTAINS(out, "t.yaml:8:11: services.s.env.A: unknown placeholder ${ORCH_PORT_http}");
}

TEST(anchors__alias_and_merge)
{
	struct manifest *m = parse_ok(
	    "architecture: a\n"
	    "x-base: &base\n"
	    "  version: 1.0.0\n"
	    "  command: &cmd [bin/app, --flag]\n"
	    "  replicas: 2\n"
	    "  env: {A: \"1\", B: \"2\"}\n"
	    "x-more: &more\n"
	    "  replicas: 7\n"
	    "  kind: cattle\n"
	    "  max: 9\n"
	    "services:\n"
	    "  one:\n"
	    "    <<: *base\n"
	    "    replicas: 3\n"
	    "  two:\n"
	    "    <<: [*base, *more]\n"
	    "    command: *cmd\n"
	    "    env:\n"
	    "      <<: {A: \"x\", C: \"3\"}\n"
	    "      A: \"y\"\n");
	const struct service_spec *one, *two;

	REQUIRE(m != NULL);
	one = manifest_service(m, "one");
	two = manifest_service(m, "two");
	REQUIRE(one != NULL && two != NULL);
	CHECK_STR(one->version, "1.0.0");
	CHECK_EQ_INT(one->replicas, 3);  /* own key wins over the merge */
	REQUIRE(one->ncommand == 2);
	CHECK_STR(one->command[1], "--flag");
	CHECK_EQ_INT(one->nenv, 2);
	CHECK_EQ_INT(two->replicas, 2);  /* earlier merge source wins */
	CHECK_EQ_INT(two->max, 9);
	REQUIRE(two->ncommand == 2);
	CHECK_STR(two->command[0], "bin/app");
	REQUIRE(two->nenv == 2);
	CHECK_STR(two->env[0].key, "A");
	CHECK_STR(two->env[0].value, "y");
	CHECK_STR(two->env[1].key, "C");
	manifest_free(m);
}

TEST(anchors__errors)
{
	const char *undef = "architecture: *nope\nservices: {}\n";
	const char *merge = "architecture: a\nservices:\n  s:\n    <<: [1]\n";
	const char *tag = "architecture: !Ref a\nservices: {}\n";
	const char *out;

	out = parse_fail(undef, strlen(undef), ORCH_EINVALID);
	CHECK_CONTAINS(out, "t.yaml:1:15: architecture: unknown alias '*nope'");
	out = parse_fail(merge, strlen(merge), ORCH_EINVALID);
	CHECK_CONTAINS(out, "t.yaml:4:10: services.s: '<<' merges a map or a "
	    "list of maps, not a number");
	out = parse_fail(tag, strlen(tag), ORCH_EINVALID);
	CHECK_CONTAINS(out, "unsupported YAML tag '!Ref'");
}

/* Nine levels of ten aliases: 10^9 nodes from a few hundred bytes. */
TEST(limits__billion_laughs)
{
	char yaml[4096];
	size_t off = 0;
	int64_t t0 = orch_mono_ms();
	const char *out;

	off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
	    "architecture: a\nx-0: &l0 \"lol\"\n");
	for (int i = 1; i <= 9; i++) {
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
		    "x-%d: &l%d [", i, i);
		for (int j = 0; j < 10; j++)
			off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
			    "%s*l%d", j ? ", " : "", i - 1);
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off, "]\n");
	}
	off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
	    "services: *l9\n");
	out = parse_fail(yaml, off, ORCH_ETOOBIG);
	CHECK_CONTAINS(out, "more than 100000 nodes after alias expansion");
	CHECK(orch_mono_ms() - t0 < 2000);
}

TEST(limits__too_many_plain_nodes)
{
	size_t n = 120000, len = 0;
	char *yaml = malloc(n * 2 + 64);
	const char *out;

	REQUIRE(yaml != NULL);
	len += (size_t)sprintf(yaml, "x-big: [");
	for (size_t i = 0; i < n; i++) {
		yaml[len++] = '1';
		yaml[len++] = ',';
	}
	len += (size_t)sprintf(yaml + len, "1]\n");
	out = parse_fail(yaml, len, ORCH_ETOOBIG);
	CHECK_CONTAINS(out, "more than 100000 nodes");
	free(yaml);
}

TEST(limits__file_size)
{
	size_t len = 2 * 1024 * 1024;
	char *yaml = malloc(len);
	const char *out;

	REQUIRE(yaml != NULL);
	memset(yaml, '#', len); /* one long comment: valid YAML, too big */
	out = parse_fail(yaml, len, ORCH_ETOOBIG);
	CHECK_CONTAINS(out, "t.yaml:1:1: manifest is 2097152 bytes, over the "
	    "limit of 1048576 bytes");
	free(yaml);
}

TEST(limits__depth)
{
	char yaml[512];
	size_t off = 0;
	const char *out;

	off += (size_t)snprintf(yaml, sizeof(yaml), "x-deep: ");
	for (int i = 0; i < 40; i++)
		yaml[off++] = '[';
	for (int i = 0; i < 40; i++)
		yaml[off++] = ']';
	yaml[off++] = '\n';
	out = parse_fail(yaml, off, ORCH_ETOOBIG);
	CHECK_CONTAINS(out, "nesting deeper than 32 levels");

	/* An alias must not smuggle depth past the limit either. */
	off = (size_t)snprintf(yaml, sizeof(yaml), "x-a: &a ");
	for (int i = 0; i < 20; i++)
		yaml[off++] = '[';
	for (int i = 0; i < 20; i++)
		yaml[off++] = ']';
	off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
	    "\nx-b: [[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]\n");
	out = parse_fail(yaml, off, ORCH_ETOOBIG);
	CHECK_CONTAINS(out, "nesting deeper than 32 levels");
}

TEST(limits__services_and_replicas)
{
	size_t cap = 1001 * 48 + 64, off = 0;
	char *yaml = malloc(cap);
	const char *out;
	const char *reps = "architecture: a\nservices:\n  s:\n    version: 1.0.0\n"
	    "    command: [x]\n    replicas: 100001\n";

	REQUIRE(yaml != NULL);
	off += (size_t)snprintf(yaml, cap, "architecture: a\nservices:\n");
	for (int i = 0; i < 1001; i++)
		off += (size_t)snprintf(yaml + off, cap - off,
		    "  s%d: {version: 1.0.0, command: [x]}\n", i);
	out = parse_fail(yaml, off, ORCH_ETOOBIG);
	CHECK_CONTAINS(out, "t.yaml:3:3: services: 1001 services, over the "
	    "limit of 1000");
	free(yaml);
	out = parse_fail(reps, strlen(reps), ORCH_ETOOBIG);
	CHECK_CONTAINS(out, "t.yaml:6:15: services.s.replicas: replicas 100001 "
	    "is over the limit of 100000");
}

/* Hostile shapes stay linear: a 45000-key map (duplicate detection is
 * hashed), oversized env/ports lists and an error per key (capped). */
TEST(limits__big_maps_and_lists_fast)
{
	size_t cap = 2 * 1024 * 1024, off = 0;
	char *yaml = malloc(cap);
	int64_t t0 = orch_mono_ms();
	struct manifest *m = NULL;
	struct manifest_errors errs;
	const char *out;

	REQUIRE(yaml != NULL);
	off += (size_t)snprintf(yaml, cap, "architecture: a\nx-big:\n");
	for (int i = 0; i < 45000; i++)
		off += (size_t)snprintf(yaml + off, cap - off, "  k%d: 1\n", i);
	off += (size_t)snprintf(yaml + off, cap - off,
	    "  k17: 2\nservices: {s: {version: 1.0.0, command: [x]}}\n");
	out = parse_fail(yaml, off, ORCH_EINVALID);
	CHECK_STR(out, "t.yaml:45003:3: x-big.k17: duplicate key 'k17' (first at line 20)");

	off = (size_t)snprintf(yaml, cap, "architecture: a\nservices:\n  s:\n"
	    "    version: 1.0.0\n    command: [x]\n    ports: [");
	for (int i = 0; i < 65; i++)
		off += (size_t)snprintf(yaml + off, cap - off, "%sp%d", i ? "," : "", i);
	off += (size_t)snprintf(yaml + off, cap - off, "]\n    env:\n");
	for (int i = 0; i < 1001; i++)
		off += (size_t)snprintf(yaml + off, cap - off,
		    "      E%d: \"${E%d}\"\n", i, i);
	out = parse_fail(yaml, off, ORCH_ETOOBIG);
	CHECK_STR(out,
	    "t.yaml:6:12: services.s.ports: 65 ports, over the limit of 64\n"
	    "t.yaml:8:7: services.s.env: 1001 env names, over the limit of 1000");

	off = (size_t)snprintf(yaml, cap, "architecture: a\nservices:\n  s:\n"
	    "    version: 1.0.0\n    command: [x]\n");
	for (int i = 0; i < 3000; i++)
		off += (size_t)snprintf(yaml + off, cap - off, "    bad%d: 1\n", i);
	manifest_errors_init(&errs);
	CHECK_EQ_INT(manifest_parse(&m, &errs, yaml, off, "t.yaml"),
	    ORCH_EINVALID);
	CHECK(m == NULL);
	CHECK_EQ_INT(errs.n, 1001);
	CHECK_STR(errs.v[1000].msg, "too many errors; the first 1000 are reported");
	manifest_errors_free(&errs);
	free(yaml);
	CHECK(orch_mono_ms() - t0 < 3000);
}

TEST(duplicate_keys__every_level)
{
	const char *yaml =
	    "architecture: a\n"
	    "services:\n"
	    "  s:\n"
	    "    version: 1.0.0\n"
	    "    command: [x]\n"
	    "    health: {type: none, type: tcp}\n"
	    "    version: 2.0.0\n"
	    "  s:\n"
	    "    version: 1.0.0\n"
	    "architecture: b\n";
	const char *out = parse_fail(yaml, strlen(yaml), ORCH_EINVALID);

	CHECK_STR(out,
	    "t.yaml:6:26: services.s.health.type: duplicate key 'type' (first at line 6)\n"
	    "t.yaml:7:5: services.s.version: duplicate key 'version' (first at line 4)\n"
	    "t.yaml:8:3: services.s: duplicate key 's' (first at line 3)\n"
	    "t.yaml:10:1: architecture: duplicate key 'architecture' (first at line 1)");
}

TEST(syntax__errors_documents_empty)
{
	const char *bad = "architecture: a\nservices:\n  s: [1, 2\n";
	const char *two = "architecture: a\n---\narchitecture: b\n";
	const char *tabs = "architecture: a\nservices:\n\tweb: 1\n";
	const char *out;

	out = parse_fail(bad, strlen(bad), ORCH_EINVALID);
	CHECK_CONTAINS(out, "t.yaml:4:1: YAML syntax error: did not find "
	    "expected ',' or ']'");
	out = parse_fail(two, strlen(two), ORCH_EINVALID);
	CHECK_STR(out, "t.yaml:2:1: a second YAML document: orch.yaml holds "
	    "exactly one (remove the '---' separator)");
	out = parse_fail("", 0, ORCH_EINVALID);
	CHECK_CONTAINS(out, "t.yaml:1:1: empty manifest");
	out = parse_fail(NULL, 0, ORCH_EINVALID);
	CHECK_CONTAINS(out, "t.yaml:1:1: empty manifest");
	out = parse_fail("# only a comment\n", 17, ORCH_EINVALID);
	CHECK_CONTAINS(out, "empty manifest");
	out = parse_fail(tabs, strlen(tabs), ORCH_EINVALID);
	CHECK_CONTAINS(out, "t.yaml:3:1: YAML syntax error: found character "
	    "that cannot start any token");
	out = parse_fail("a: \"\\0\"\n", 8, ORCH_EINVALID);
	CHECK_CONTAINS(out, "t.yaml:1:4: a: string contains a NUL character");
	out = parse_fail("a: \xff\n", 6, ORCH_EINVALID);
	CHECK_CONTAINS(out, "t.yaml:1:4: YAML syntax error: invalid");
	out = parse_fail("[1, 2]\n", 7, ORCH_EINVALID);
	CHECK_STR(out, "t.yaml:1:1: a manifest is a map with 'architecture' "
	    "and 'services', got a list");
}

TEST(errors__all_reported_sorted_and_errs_optional)
{
	const char *yaml =
	    "services:\n"
	    "  b:\n"
	    "    version: nope\n"
	    "    command: [x]\n"
	    "    depends_on: {c: \"^1.0.0\"}\n"
	    "  a:\n"
	    "    command: [x]\n"
	    "    kind: horse\n";
	struct manifest *m = NULL;
	const char *out = parse_fail(yaml, strlen(yaml), ORCH_EINVALID);

	/* Field errors do not hide the graph check, and all come in source
	 * order. */
	CHECK_STR(out,
	    "t.yaml:1:1: architecture: missing required key 'architecture'\n"
	    "t.yaml:3:14: services.b.version: bad version 'nope': expected a number\n"
	    "t.yaml:5:18: services.b.depends_on.c: depends on unknown service 'c'\n"
	    "t.yaml:6:3: services.a.version: missing required key 'version' (the software version, semver such as \"1.2.3\")\n"
	    "t.yaml:8:11: services.a.kind: kind must be pet or cattle, got 'horse'");
	CHECK_EQ_INT(manifest_parse(&m, NULL, yaml, strlen(yaml), "t.yaml"),
	    ORCH_EINVALID);
	CHECK(m == NULL);
	CHECK_CONTAINS(orch_err_last(), "t.yaml:1:1: architecture: missing");
}

TEST(lookup__and_names)
{
	struct manifest *m = parse_ok(design_yaml);

	REQUIRE(m != NULL);
	CHECK(manifest_service(m, "web") == &m->services[1]);
	CHECK(manifest_service(m, "nope") == NULL);
	CHECK(manifest_service(m, NULL) == NULL);
	CHECK(manifest_service(NULL, "web") == NULL);
	manifest_free(m);
	manifest_free(NULL);
	CHECK_STR(manifest_kind_name(KIND_PET), "pet");
	CHECK_STR(manifest_kind_name(KIND_CATTLE), "cattle");
	CHECK_STR(manifest_strategy_name(STRATEGY_ROLLING), "rolling");
	CHECK_STR(manifest_strategy_name(STRATEGY_RECREATE), "recreate");
	CHECK_STR(manifest_strategy_name(STRATEGY_BLUE_GREEN), "blue-green");
	CHECK_STR(manifest_strategy_name(STRATEGY_CANARY), "canary");
	CHECK_STR(manifest_health_name(HEALTH_NONE), "none");
	CHECK_STR(manifest_health_name(HEALTH_HTTP), "http");
	CHECK_STR(manifest_health_name(HEALTH_TCP), "tcp");
	CHECK_STR(manifest_health_name(HEALTH_EXEC), "exec");
	CHECK_STR(manifest_health_name(HEALTH__LAST), "unknown");
}

TEST(load_file__missing)
{
	struct manifest_errors errs;
	struct manifest *m = NULL;

	manifest_errors_init(&errs);
	CHECK_EQ_INT(manifest_load_file(&m, &errs, "/nonexistent/orch.yaml"),
	    ORCH_ENOTFOUND);
	CHECK(m == NULL);
	CHECK_EQ_INT(errs.n, 1);
	CHECK_CONTAINS(orch_err_last(), "/nonexistent/orch.yaml");
	manifest_errors_free(&errs);
}

/* Every examples/<dir>/NAME.yaml but examples/invalid/ must validate. */
TEST(examples__all_valid)
{
	const char *src = getenv("ORCH_SOURCE_DIR");
	char dir[4096], path[8192], line[2048];
	struct dirent *de, *fe;
	int found = 0;
	DIR *top, *sub;

	REQUIRE(src != NULL);
	snprintf(dir, sizeof(dir), "%s/examples", src);
	top = opendir(dir);
	REQUIRE(top != NULL);
	while ((de = readdir(top)) != NULL) {
		char subdir[4600];
		if (de->d_name[0] == '.' || strcmp(de->d_name, "invalid") == 0)
			continue;
		snprintf(subdir, sizeof(subdir), "%s/%s", dir, de->d_name);
		if ((sub = opendir(subdir)) == NULL)
			continue;
		while ((fe = readdir(sub)) != NULL) {
			struct manifest_errors errs;
			struct manifest *m = NULL;
			size_t len = strlen(fe->d_name);
			int rc;

			if (len < 6 || strcmp(fe->d_name + len - 5, ".yaml") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", subdir, fe->d_name);
			manifest_errors_init(&errs);
			rc = manifest_load_file(&m, &errs, path);
			for (size_t i = 0; i < errs.n; i++) {
				manifest_error_format(line, sizeof(line), &errs.v[i]);
				fprintf(stderr, "  %s\n", line);
			}
			CHECK_EQ_INT(rc, 0);
			CHECK(m != NULL && m->nservices > 0);
			manifest_errors_free(&errs);
			manifest_free(m);
			found++;
		}
		closedir(sub);
	}
	closedir(top);
	CHECK(found >= 3);
}

TEST(examples__shop_covers_every_strategy_and_kind)
{
	const char *src = getenv("ORCH_SOURCE_DIR");
	struct manifest *m = NULL;
	char path[4096];
	int strategies[STRATEGY__LAST] = { 0 }, kinds[KIND__LAST] = { 0 };
	int health[HEALTH__LAST] = { 0 };

	REQUIRE(src != NULL);
	snprintf(path, sizeof(path), "%s/examples/shop/orch.yaml", src);
	REQUIRE(manifest_load_file(&m, NULL, path) == 0);
	for (size_t i = 0; i < m->nservices; i++) {
		strategies[m->services[i].strategy.type]++;
		kinds[m->services[i].kind]++;
		health[m->services[i].health.type]++;
	}
	for (int i = 0; i < STRATEGY__LAST; i++)
		CHECK(strategies[i] > 0);
	for (int i = 0; i < KIND__LAST; i++)
		CHECK(kinds[i] > 0);
	for (int i = 0; i < HEALTH__LAST; i++)
		CHECK(health[i] > 0);
	CHECK_STR(m->file, path);
	manifest_free(m);
}

/* The short example of docs/manifest.md is a valid manifest. */
TEST(docs__example_valid)
{
	const char *src = getenv("ORCH_SOURCE_DIR");
	char path[4096], *buf, *start, *end;
	struct manifest *m;
	FILE *f;
	long len;

	REQUIRE(src != NULL);
	snprintf(path, sizeof(path), "%s/docs/manifest.md", src);
	f = fopen(path, "rb");
	REQUIRE(f != NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	REQUIRE(buf != NULL);
	CHECK_EQ_INT(fread(buf, 1, (size_t)len, f), len);
	fclose(f);
	start = strstr(buf, "```yaml\n");
	REQUIRE(start != NULL);
	start += 8;
	end = strstr(start, "```");
	REQUIRE(end != NULL);
	*end = '\0';
	m = parse_ok(start);
	CHECK(m != NULL && m->nservices == 2);
	manifest_free(m);
	free(buf);
}

CHECK_MAIN(design_example__top_level, design_example__cache,
    design_example__web, defaults__minimal_service,
    defaults__max_follows_replicas_and_http_path, units__durations_sizes_counts,
    placeholders__kept_verbatim, placeholders__rejected, anchors__alias_and_merge,
    anchors__errors, limits__billion_laughs, limits__too_many_plain_nodes,
    limits__file_size, limits__depth, limits__services_and_replicas,
    limits__big_maps_and_lists_fast,
    duplicate_keys__every_level, syntax__errors_documents_empty,
    errors__all_reported_sorted_and_errs_optional, lookup__and_names,
    load_file__missing, examples__all_valid,
    examples__shop_covers_every_strategy_and_kind, docs__example_valid)
