/*
 * test_orchctl_steer.c - the real orchctl's rollback, promote, abort,
 * pause and resume: usage errors (exit 2), a controller nobody listens
 * for (exit 3), then end to end against a real orch-controller, a real
 * orch-slave and a git repository (tests/support/cluster.h):
 *
 *   - a canary rollout of web waits for promote; `orchctl pause web`
 *     shows paused (its answer and `orchctl status -o json`), `resume`
 *     lifts it, `promote` ends the rollout at the new version;
 *   - a second canary is aborted back to the old version;
 *   - db goes 1.0.0 -> 2.0.0 with app's constraint following it;
 *     `rollback db --dry-run` lists db and app (whose constraint the
 *     revert breaks) and changes nothing, `rollback db` reverts both;
 *   - `rollback --to SHA1` restores the first revision's versions.
 *
 * Versions are checked through the API (the service's version and the
 * versions its instances run), not only in what orchctl printed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "cluster.h"
#include "err.h"
#include "run.h"

#define TIMEOUT_MS 60000
static char closed_url[64];
static struct cluster *cl;
static char sha1[41];

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

/* A loopback port nothing listens on (daemon_free_port binds, reads and
 * closes it); the tests cannot go on without one. */
static int
free_port(void)
{
	int port;

	if (daemon_free_port(&port) < 0) {
		fprintf(stderr, "free_port: %s\n", orch_err_last());
		exit(1);
	}
	return port;
}

__attribute__((constructor)) static void
setup_paths(void)
{
	snprintf(closed_url, sizeof(closed_url), "http://127.0.0.1:%d",
	    free_port());
}


/* orchctl against no controller, a closed port, or the cluster; with the
 * cluster's token file when there is a cluster. */
#define ctl(r, url, ...) run_orchctl((r), NULL, (url), cl != NULL ? cl->token_file : NULL, \
	NULL, __VA_ARGS__)
#define CTL(r, ...) ctl((r), NULL, __VA_ARGS__, (const char *)NULL)
#define DEAD(r, ...) ctl((r), closed_url, __VA_ARGS__, (const char *)NULL)
#define E2E(r, ...) ctl((r), cl->url, __VA_ARGS__, (const char *)NULL)

/* ---- without a controller ---------------------------------------------- */

TEST(orchctl_steer__usage_errors)
{
	static const char *const cases[][4] = {
		{"rollback", NULL},                 /* neither SERVICE nor --to */
		{"rollback", "--dry-run", NULL},
		{"rollback", "a", "b", NULL},
		{"rollback", "--to", NULL},         /* --to without its value */
		{"rollback", "--to", "", NULL},
		{"rollback", "", NULL},
		{"rollback", "--timeout=5s", "web", NULL}, /* needs --wait */
		{"promote", NULL},
		{"abort", NULL},
		{"pause", "a", "b", NULL},
		{"resume", "", NULL},
		{"promote", "--bogus", "web", NULL},
	};
	struct run_result r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i];

		ctl(&r, closed_url, a[0], a[1], a[2], a[3]);
		if (r.status != 2)
			check_fail(__FILE__, __LINE__, "orchctl %s %s: exit %d, "
			    "not 2\n%s", a[0], a[1] ? a[1] : "", r.status, r.err);
		CHECK_CONTAINS(r.err, "usage: orchctl ");
		CHECK_EQ_INT(r.out_len, 0);
		run_result_free(&r);
	}
	CTL(&r, "rollback");
	CHECK_CONTAINS(r.err, "need SERVICE or --to REV");
	run_result_free(&r);
}

TEST(orchctl_steer__help)
{
	static const char *const verbs[] = {"rollback", "promote", "abort",
	    "pause", "resume"};
	struct run_result r;

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		CTL(&r, verbs[i], "--help");
		CHECK_EQ_INT(r.status, 0);
		CHECK_CONTAINS(r.out, "usage: orchctl ");
		CHECK_CONTAINS(r.out, verbs[i]);
		run_result_free(&r);
	}
	CTL(&r, "--help");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "  rollback ");
	CHECK_CONTAINS(r.out, "  promote ");
	CHECK_CONTAINS(r.out, "  resume ");
	run_result_free(&r);
}

TEST(orchctl_steer__unreachable)
{
	struct run_result r;

	DEAD(&r, "rollback", "web");
	CHECK_EQ_INT(r.status, 3);
	CHECK_CONTAINS(r.err, "cannot reach the controller");
	run_result_free(&r);
	DEAD(&r, "rollback", "--to", "1", "--dry-run");
	CHECK_EQ_INT(r.status, 3);
	run_result_free(&r);
	DEAD(&r, "promote", "web");
	CHECK_EQ_INT(r.status, 3);
	CHECK_CONTAINS(r.err, "cannot reach the controller");
	run_result_free(&r);
	DEAD(&r, "pause", "web", "-o", "json");
	CHECK_EQ_INT(r.status, 3);
	run_result_free(&r);
}

/* ---- end to end -------------------------------------------------------- */

/*
 * web: a canary whose one step waits for promote (no pause given);
 * db and app rolling, app depending on db's major version.
 */
static const char *
manifest_x(const char *web, const char *db, const char *app, const char *range,
    bool extra)
{
	static char buf[4096];
	const char *x = extra ?
	    "  extra:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sleep\", \"600\"]\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    depends_on:\n"
	    "      db: \">=2.0.0\"\n" : "";
	const char *bin = cluster_app("httpapp");

	snprintf(buf, sizeof(buf),
	    "architecture: steer\n"
	    "services:\n"
	    "  db:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"]\n"
	    "    ports: [http]\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "  app:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"]\n"
	    "    ports: [http]\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    depends_on:\n"
	    "      db: \"%s\"\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy:\n"
	    "      type: canary\n"
	    "      steps:\n"
	    "        - {weight: 50}\n"
	    "%s",
	    db, bin, app, bin, range, web, bin, x);
	return buf;
}

static const char *
manifest(const char *web, const char *db, const char *app, const char *range)
{
	return manifest_x(web, db, app, range, false);
}

static const char *
phase(const char *svc)
{
	static char buf[64];
	char path[128];
	json_t *j;

	snprintf(path, sizeof(path), "/v1/services/%s", svc);
	j = cluster_get(cl, path);
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(
	    json_object_get(j, "rollout"), "phase")) ?: "");
	json_decref(j);
	return buf;
}

static bool
paused(const char *svc)
{
	char path[128];
	json_t *j;
	bool p;

	snprintf(path, sizeof(path), "/v1/services/%s", svc);
	j = cluster_get(cl, path);
	p = json_is_true(json_object_get(j, "paused"));
	json_decref(j);
	return p;
}

/* svc is Run with version v, and its n desired instances all run v. */
static bool
runs_only(const char *svc, const char *v, int n)
{
	json_t *j = cluster_get(cl, "/v1/status"), *list, *i;
	json_t *inst = cluster_get(cl, "/v1/instances");
	bool ok = false;
	int count = 0;
	size_t k;

	list = json_object_get(j, "services");
	json_array_foreach(list, k, i) {
		const char *name = json_string_value(json_object_get(i, "name"));
		const char *ver = json_string_value(json_object_get(i, "version"));
		const char *st = json_string_value(json_object_get(i, "state"));

		if (name && strcmp(name, svc) == 0)
			ok = ver && st && strcmp(ver, v) == 0 && strcmp(st, "Run") == 0;
	}
	list = json_object_get(inst, "instances");
	json_array_foreach(list, k, i) {
		const char *s = json_string_value(json_object_get(i, "service"));
		const char *ver = json_string_value(json_object_get(i, "version"));

		if (s == NULL || strcmp(s, svc) != 0)
			continue;
		/* An old instance still stopping counts against "only". */
		if (ver == NULL || strcmp(ver, v) != 0)
			ok = false;
		else if (json_is_true(json_object_get(i, "desired")))
			count++;
	}
	json_decref(j);
	json_decref(inst);
	return ok && count == n;
}

TEST(orchctl_steer__e2e_pause_resume_promote)
{
	char bin[4200];
	struct run_result r;
	struct stat st;

	/* Never pass vacuously: the controller is part of this tree. */
	snprintf(bin, sizeof(bin), "%s/controller/orch-controller",
	    env_or("ORCH_BUILD_DIR", "build"));
	REQUIRE(stat(bin, &st) == 0);
	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest("1.0.0", "1.0.0", "1.0.0",
	    ">=1.0.0 <2.0.0"), sha1) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(runs_only("web", "1.0.0", 2) &&
	    runs_only("db", "1.0.0", 1) && runs_only("app", "1.0.0", 1), CL_WAIT));

	/* Refused: nothing to go back to yet (409), exit 1 with the reason. */
	E2E(&r, "rollback", "db", "--dry-run");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "no applied revision runs another spec");
	CHECK_EQ_INT(r.out_len, 0);
	run_result_free(&r);

	/* Unknown service: the controller's 404 message, exit 1. */
	E2E(&r, "promote", "nope");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "no service named");
	run_result_free(&r);
	E2E(&r, "pause", "nope", "-o", "json");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "\"error\"");
	run_result_free(&r);

	REQUIRE(cluster_commit(cl, manifest("2.0.0", "1.0.0", "1.0.0",
	    ">=1.0.0 <2.0.0"), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(strcmp(phase("web"), "waiting for promote") == 0,
	    CL_WAIT));

	E2E(&r, "pause", "web");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "web: pause done. Now: ");
	CHECK_CONTAINS(r.out, ", paused");
	run_result_free(&r);
	CHECK(paused("web"));
	E2E(&r, "status", "web", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "\"paused\": true");
	run_result_free(&r);

	E2E(&r, "resume", "web", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "\"paused\": false");
	CHECK_CONTAINS(r.out, "\"name\": \"web\"");
	run_result_free(&r);
	CHECK(!paused("web"));
	/* Still waiting: resume is not promote. */
	CHECK_STR(phase("web"), "waiting for promote");

	E2E(&r, "promote", "web");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "web: promote requested. Now: ");
	run_result_free(&r);
	CHECK(WAIT_FOR(runs_only("web", "2.0.0", 2), CL_WAIT));
}

TEST(orchctl_steer__e2e_abort)
{
	struct run_result r;

	REQUIRE(cl != NULL && runs_only("web", "2.0.0", 2));
	REQUIRE(cluster_commit(cl, manifest("3.0.0", "1.0.0", "1.0.0",
	    ">=1.0.0 <2.0.0"), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(strcmp(phase("web"), "waiting for promote") == 0,
	    CL_WAIT));
	CHECK_EQ_INT(cluster_count(cl, "web", NULL), 3);

	E2E(&r, "abort", "web");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "web: abort requested. Now: ");
	run_result_free(&r);
	CHECK(WAIT_FOR(strcmp(phase("web"), "aborted") == 0, CL_WAIT));
	/* Back to the old set: two instances, all at 2.0.0. */
	CHECK(WAIT_FOR(cluster_count(cl, "web", NULL) == 2, CL_WAIT));
	{
		json_t *j = cluster_get(cl, "/v1/instances"), *i;
		size_t k;

		json_array_foreach(json_object_get(j, "instances"), k, i) {
			const char *s = json_string_value(json_object_get(i, "service"));

			if (s && strcmp(s, "web") == 0 &&
			    json_is_true(json_object_get(i, "desired")))
				CHECK_STR(json_string_value(json_object_get(i,
				    "version")), "2.0.0");
		}
		json_decref(j);
	}
}

TEST(orchctl_steer__e2e_rollback_service)
{
	struct run_result r;

	REQUIRE(cl != NULL);
	/* First with extra, which needs db 2.x and did not exist before:
	 * reverting db would break it and it has nothing to go back to, so
	 * the controller refuses, and orchctl exits 1 with its reason. */
	REQUIRE(cluster_commit(cl, manifest_x("2.0.0", "2.0.0", "2.0.0",
	    ">=2.0.0 <3.0.0", true), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(runs_only("db", "2.0.0", 1) &&
	    runs_only("app", "2.0.0", 1) && runs_only("extra", "1.0.0", 1),
	    CL_WAIT));
	E2E(&r, "rollback", "db");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "conflict: extra depends on db");
	CHECK_CONTAINS(r.err, "extra has no spec to go back to");
	run_result_free(&r);
	CHECK(runs_only("db", "2.0.0", 1) && runs_only("app", "2.0.0", 1));

	/* Without extra: db 2.0.0 and app 2.0.0, which needs db 2.x:
	 * reverting db breaks app's constraint, so app has to follow. web
	 * goes back to 2.0.0 (no change against what runs after the abort). */
	REQUIRE(cluster_commit(cl, manifest("2.0.0", "2.0.0", "2.0.0",
	    ">=2.0.0 <3.0.0"), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(runs_only("db", "2.0.0", 1) &&
	    runs_only("app", "2.0.0", 1), CL_WAIT));

	E2E(&r, "rollback", "db", "--dry-run");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "Would roll back db to its spec at ");
	CHECK_CONTAINS(r.out, ": 2 services.\n");
	CHECK_CONTAINS(r.out, "db        2.0.0   1.0.0   requested\n");
	CHECK_CONTAINS(r.out, "app       2.0.0   1.0.0   depends_on constraint "
	    "breaks\n");
	/* In dependency order: db before app. */
	CHECK(strstr(r.out, "db  ") != NULL && strstr(r.out, "app  ") != NULL &&
	    strstr(r.out, "db  ") < strstr(r.out, "app  "));
	CHECK_CONTAINS(r.out, "Dry run: nothing changed.\n");
	run_result_free(&r);
	/* A dry run changes nothing. */
	CHECK(runs_only("db", "2.0.0", 1) && runs_only("app", "2.0.0", 1));

	E2E(&r, "rollback", "db", "--dry-run", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "\"dry_run\": true");
	CHECK_CONTAINS(r.out, "\"to_version\": \"1.0.0\"");
	run_result_free(&r);

	E2E(&r, "rollback", "nope");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "no service named");
	run_result_free(&r);

	E2E(&r, "rollback", "db");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "Rolling back db to its spec at ");
	CHECK_CONTAINS(r.out, "app       2.0.0   1.0.0   depends_on constraint "
	    "breaks\n");
	run_result_free(&r);
	CHECK(WAIT_FOR(runs_only("db", "1.0.0", 1) &&
	    runs_only("app", "1.0.0", 1), CL_WAIT));
}

/* Promote web's rollout when it waits for that; then whether it is done. */
static bool
web_back_at(const char *v)
{
	if (strcmp(phase("web"), "waiting for promote") == 0)
		json_decref(cluster_call(cl, &(long){0}, "POST",
		    "/v1/services/web/promote", NULL));
	return runs_only("web", v, 2);
}

TEST(orchctl_steer__e2e_rollback_to)
{
	struct run_result r;
	char want[64];

	REQUIRE(cl != NULL);
	/* A new apply ends the pins: db and app 2.0.0 again. */
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(runs_only("db", "2.0.0", 1) &&
	    runs_only("app", "2.0.0", 1), CL_WAIT));

	E2E(&r, "rollback", "--to", "no-such-ref");
	CHECK_EQ_INT(r.status, 1);
	run_result_free(&r);

	E2E(&r, "rollback", "--to", sha1, "--dry-run");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "Dry run: rollback to revision ");
	run_result_free(&r);
	CHECK(runs_only("db", "2.0.0", 1));

	E2E(&r, "rollback", "--to", sha1);
	CHECK_EQ_INT(r.status, 0);
	snprintf(want, sizeof(want), "Rolled back to revision %.7s", sha1);
	CHECK_CONTAINS(r.out, want);
	CHECK_CONTAINS(r.out, "db");
	run_result_free(&r);
	CHECK(WAIT_FOR(runs_only("db", "1.0.0", 1) &&
	    runs_only("app", "1.0.0", 1) && web_back_at("1.0.0"), CL_WAIT));
}

TEST(orchctl_steer__cleanup)
{
	if (cl == NULL)
		return;
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(orchctl_steer__usage_errors, orchctl_steer__help,
    orchctl_steer__unreachable, orchctl_steer__e2e_pause_resume_promote,
    orchctl_steer__e2e_abort, orchctl_steer__e2e_rollback_service,
    orchctl_steer__e2e_rollback_to, orchctl_steer__cleanup)
