/*
 * test_orchctl_rollback.c - `orchctl rollback SERVICE` keeps depends_on
 * constraints in both directions (issue 10 #3), end to end through the
 * real orchctl, orch-controller and orch-slave:
 *
 *   - db 1.0.0 + app 1.0.0 (app needs db "^1.0.0"), then db 2.0.0 + app
 *     2.0.0 ("^2.0.0") + extra (needs db ">=2.0.0", new): `rollback app`
 *     would take db back to 1.0.0 for app's own constraint, which breaks
 *     extra, which has nothing to go back to: refused (exit 1, the
 *     reason), nothing changes;
 *   - without extra, `rollback app` takes db back too and says why, lists
 *     db before app (dependencies first, also in the JSON answer's
 *     order), and with --wait follows it to the end: exit 0, both run
 *     1.0.0, app never ran 1.0.0 against db 2.0.0;
 *   - `rollback app --to BAD --wait` to a spec that never gets healthy
 *     ends Failed: exit 1 with the reason.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "err.h"
#include "run.h"

static struct cluster *cl;

/* db and app (app needs db `range`; bad: app never gets healthy, with a
 * short progress_deadline), extra (needs db >=2.0.0) when asked. */
static const char *
manifest(const char *db, const char *app, const char *range, bool bad, bool extra)
{
	static char buf[8192];
	const char *bin = cluster_app("httpapp");

	snprintf(buf, sizeof(buf),
	    "architecture: rb\n"
	    "services:\n"
	    "  db:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"]\n"
	    "    ports: [http]\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 200ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "  app:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"%s]\n"
	    "    ports: [http]\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 200ms, "
	    "unhealthy_threshold: 2}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy: {type: rolling, progress_deadline: %s}\n"
	    "    depends_on:\n"
	    "      db: \"%s\"\n"
	    "%s",
	    db, bin, app, bin, bad ? ", \"--fail-health\"" : "", bad ? "4s" : "60s", range,
	    extra ?
	    "  extra:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sleep\", \"600\"]\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    depends_on:\n"
	    "      db: \">=2.0.0\"\n" : "");
	return buf;
}

/* svc is Run at version v, and its desired instances all run v. */
static bool
runs_only(const char *svc, const char *v)
{
	json_t *st = cluster_get(cl, "/v1/status"), *inst = cluster_get(cl, "/v1/instances");
	json_t *i;
	bool ok = false;
	int n = 0;
	size_t k;

	json_array_foreach(json_object_get(st, "services"), k, i) {
		const char *name = json_string_value(json_object_get(i, "name"));
		const char *ver = json_string_value(json_object_get(i, "version"));
		const char *s = json_string_value(json_object_get(i, "state"));

		if (name && strcmp(name, svc) == 0)
			ok = ver && s && strcmp(ver, v) == 0 && strcmp(s, "Run") == 0;
	}
	json_array_foreach(json_object_get(inst, "instances"), k, i) {
		const char *s = json_string_value(json_object_get(i, "service"));
		const char *ver = json_string_value(json_object_get(i, "version"));

		if (s == NULL || strcmp(s, svc) != 0)
			continue;
		if (ver == NULL || strcmp(ver, v) != 0)
			ok = false;
		else if (json_is_true(json_object_get(i, "desired")))
			n++;
	}
	json_decref(st);
	json_decref(inst);
	return ok && n == 1;
}

/* orchctl against the cluster, with its token (args NULL-terminated). */
#define orchctl(r, ...) run_orchctl((r), NULL, cl->url, cl->token_file, NULL, __VA_ARGS__)

/* The id of svc's desired instance at version v (static buffer). */
static const char *
instance_at(const char *svc, const char *v)
{
	static char buf[2][128];
	static int n;
	json_t *j = cluster_get(cl, "/v1/instances"), *i;
	char *out = buf[n++ % 2];
	size_t k;

	out[0] = '\0';
	json_array_foreach(json_object_get(j, "instances"), k, i) {
		const char *s = json_string_value(json_object_get(i, "service"));
		const char *ver = json_string_value(json_object_get(i, "version"));

		if (s && ver && strcmp(s, svc) == 0 && strcmp(ver, v) == 0 &&
		    json_is_true(json_object_get(i, "desired")))
			snprintf(out, 128, "%s", json_string_value(json_object_get(i, "id")));
	}
	json_decref(j);
	return out;
}

/* The seq of the first event after since about instance id (to state
 * `to`, or any when NULL); 0 when none. */
static long long
first_event(const char *id, const char *to, long long since)
{
	char path[128];

	for (;;) {
		json_t *j, *e;
		size_t k, n;
		long long found = 0;

		snprintf(path, sizeof(path), "/v1/events?since=%lld", since);
		j = cluster_get(cl, path);
		n = json_array_size(json_object_get(j, "events"));
		json_array_foreach(json_object_get(j, "events"), k, e) {
			const char *ei = json_string_value(json_object_get(e, "instance"));
			const char *et = json_string_value(json_object_get(e, "to"));

			since = json_integer_value(json_object_get(e, "seq"));
			if (found == 0 && ei && strcmp(ei, id) == 0 &&
			    (to == NULL || (et && strcmp(et, to) == 0)))
				found = since;
		}
		json_decref(j);
		if (found != 0 || n == 0)
			return found;
	}
}

TEST(orchctl_rollback__refused_when_a_dependent_cannot_follow)
{
	struct run_result r;

	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest("1.0.0", "1.0.0", "^1.0.0", false, false),
	    NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(runs_only("db", "1.0.0") && runs_only("app", "1.0.0"), CL_WAIT));
	REQUIRE(cluster_commit(cl, manifest("2.0.0", "2.0.0", "^2.0.0", false, true),
	    NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(runs_only("db", "2.0.0") && runs_only("app", "2.0.0") &&
	    runs_only("extra", "1.0.0"), CL_WAIT));

	/* app 1.0.0 needs db ^1.0.0; db 1.0.0 breaks extra (>=2.0.0), which
	 * has no spec at that revision: refused, with both reasons. */
	orchctl(&r, "rollback", "app", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "conflict: extra depends on db \">=2.0.0\", which db 1.0.0 "
	    "breaks, and extra has no spec to go back to");
	CHECK_EQ_INT(r.out_len, 0);
	run_result_free(&r);
	orchctl(&r, "rollback", "app", "--dry-run", NULL);
	CHECK_EQ_INT(r.status, 1);
	run_result_free(&r);
	CHECK(runs_only("db", "2.0.0") && runs_only("app", "2.0.0"));
	{
		json_t *j = cluster_get(cl, "/v1/services/app");

		CHECK(json_is_false(json_object_get(j, "rollback")));
		CHECK_STR(json_string_value(json_object_get(j, "version")), "2.0.0");
		json_decref(j);
	}
}

TEST(orchctl_rollback__drags_the_dependency_back_first_and_waits)
{
	struct run_result r;
	const char *pdb, *papp;
	long long since;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, manifest("2.0.0", "2.0.0", "^2.0.0", false, false),
	    NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(runs_only("db", "2.0.0") && runs_only("app", "2.0.0") &&
	    cluster_count(cl, "extra", NULL) == 0, CL_WAIT));

	/* Asked for app only: db goes back too, first, and orchctl says why. */
	orchctl(&r, "rollback", "app", "--dry-run", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, ": 2 services.\n");
	CHECK_CONTAINS(r.out, "needed by a depends_on");
	CHECK_CONTAINS(r.out, "db goes back too: app 1.0.0 needs db \"^1.0.0\", which "
	    "db 2.0.0 breaks.\n");
	CHECK_CONTAINS(r.out, "In this order, dependencies first.");
	pdb = strstr(r.out, "\ndb ");
	papp = strstr(r.out, "\napp ");
	CHECK(pdb != NULL && papp != NULL && pdb < papp);
	CHECK_CONTAINS(r.out, "Dry run: nothing changed.");
	run_result_free(&r);
	orchctl(&r, "rollback", "app", "--dry-run", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	{
		json_t *j = json_loads(r.out, 0, NULL), *order = json_object_get(j, "order");

		CHECK_EQ_INT(json_array_size(order), 2);
		CHECK_STR(json_string_value(json_array_get(order, 0)), "db");
		CHECK_STR(json_string_value(json_array_get(order, 1)), "app");
		CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(j,
		    "services"), 0), "role")), "dependency");
		json_decref(j);
	}
	run_result_free(&r);
	CHECK(runs_only("db", "2.0.0") && runs_only("app", "2.0.0"));

	/* --wait: follows it to the end, exit 0. */
	since = cluster_last_seq(cl);
	orchctl(&r, "rollback", "app", "--wait", "--timeout", "60s", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "Rolling back app to its spec at ");
	CHECK_CONTAINS(r.out, "Rollback of app to ");
	CHECK_CONTAINS(r.out, " complete: 2 services Run.");
	run_result_free(&r);
	/* Run at 1.0.0; the last 2.0.0 instance may still be stopping. */
	CHECK(WAIT_FOR(runs_only("db", "1.0.0") && runs_only("app", "1.0.0"), CL_WAIT));
	/* app 1.0.0 was started only once db 1.0.0 ran: never against db
	 * 2.0.0. */
	{
		char db1[128], app1[128];
		long long db_run, app_first;

		snprintf(db1, sizeof(db1), "%s", instance_at("db", "1.0.0"));
		snprintf(app1, sizeof(app1), "%s", instance_at("app", "1.0.0"));
		REQUIRE(db1[0] != '\0' && app1[0] != '\0');
		db_run = first_event(db1, "Run", since);
		app_first = first_event(app1, NULL, since);
		CHECK(db_run > 0 && app_first > 0);
		CHECK(db_run < app_first);
	}
}

TEST(orchctl_rollback__wait_exits_1_when_the_rollback_fails)
{
	struct run_result r;
	char bad[41];

	REQUIRE(cl != NULL);
	/* A commit never applied, whose app never gets healthy: going back
	 * to it fails at its 4s progress_deadline (a rollback does not roll
	 * back again). It needs db ^2.0.0: db goes to 2.0.0 with it. */
	REQUIRE(cluster_commit(cl, manifest("2.0.0", "2.0.1", "^2.0.0", true, false),
	    bad) == 0);
	orchctl(&r, "rollback", "app", "--to", bad, "--wait", "--timeout", "60s", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "app       1.0.0   2.0.1   requested");
	CHECK_CONTAINS(r.err, "rollback of app to ");
	CHECK_CONTAINS(r.err, "service app is Failed");
	run_result_free(&r);
	CHECK(cluster_service_is(cl, "app", "Failed"));

	/* Usage: --timeout without --wait, --wait with --dry-run. */
	orchctl(&r, "rollback", "app", "--timeout", "5s", NULL);
	CHECK_EQ_INT(r.status, 2);
	run_result_free(&r);
	orchctl(&r, "rollback", "app", "--wait", "--dry-run", NULL);
	CHECK_EQ_INT(r.status, 2);
	run_result_free(&r);
}

TEST(orchctl_rollback__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(orchctl_rollback__refused_when_a_dependent_cannot_follow,
    orchctl_rollback__drags_the_dependency_back_first_and_waits,
    orchctl_rollback__wait_exits_1_when_the_rollback_fails, orchctl_rollback__finish)
