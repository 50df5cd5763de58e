/*
 * test_controller_deploy.c - orch-controller with two real slaves and a
 * real git repo on loopback: a pet and a cattle service with a dependency
 * are deployed, survive crashes, scale, update one at a time, survive a
 * kill -9 of the controller, and are destroyed when they leave the
 * manifest. The tests form one scenario on one cluster, in order.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "err.h"

static struct cluster *cl;
static char sha1[41], sha2[41];

/* The shop: db (a pet, kv) and web (cattle, httpapp) that depends on it. */
static const char *
manifest(const char *web_version, int web_replicas, bool with_db, bool with_extra)
{
	static char buf[8192];
	size_t n = 0;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
	    "architecture: shop\nversion: \"1.0.0\"\nservices:\n");
	if (with_db)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "  db:\n"
		    "    kind: pet\n"
		    "    version: \"1.0.0\"\n"
		    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--data\", \"${ORCH_DATA_DIR}\"]\n"
		    "    ports: [kv]\n"
		    "    health: {type: tcp, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
		    "    restart: {limit: 10, window: 60s, backoff: 50ms, max_backoff: 200ms}\n",
		    cluster_app("kv"));
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"%s\"]\n"
	    "    ports: [http]\n"
	    "    replicas: %d\n"
	    "    min: 1\n"
	    "    max: 4\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n",
	    web_version, cluster_app("httpapp"), web_version, web_replicas);
	if (with_db)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "    depends_on: {db: \">=1.0.0 <2.0.0\"}\n");
	if (with_extra)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "  extra:\n"
		    "    version: \"0.1.0\"\n"
		    "    command: [\"/bin/sh\", \"-c\", \"exec sleep 600\"]\n");
	return buf;
}

static bool
all_run(void)
{
	json_t *j = cluster_get(cl, "/v1/status"), *svcs;
	bool ok = j != NULL;
	size_t k;

	svcs = json_object_get(j, "services");
	if (json_array_size(svcs) == 0)
		ok = false;
	for (k = 0; k < json_array_size(svcs); k++) {
		const char *st = json_string_value(json_object_get(json_array_get(svcs, k), "state"));

		if (st == NULL || strcmp(st, "Run") != 0)
			ok = false;
	}
	json_decref(j);
	return ok;
}

/* The first event seq matching (service, instance-or-NULL-for-service-
 * events, to) after since; 0 when none. A NULL instance matches only
 * service events, "*" any instance event. */
static long long
first_event(const char *service, const char *instance, const char *to, long long since)
{
	char path[128];
	json_t *j, *evs;
	long long seq = 0;
	size_t k;

	snprintf(path, sizeof(path), "/v1/events?since=%lld", since);
	if ((j = cluster_get(cl, path)) == NULL)
		return 0;
	evs = json_object_get(j, "events");
	for (k = 0; k < json_array_size(evs) && seq == 0; k++) {
		json_t *e = json_array_get(evs, k);
		const char *s = json_string_value(json_object_get(e, "service"));
		const char *i = json_string_value(json_object_get(e, "instance"));
		const char *t = json_string_value(json_object_get(e, "to"));

		if (s == NULL || strcmp(s, service) != 0 || t == NULL || strcmp(t, to) != 0)
			continue;
		if (instance == NULL ? i != NULL :
		    (i == NULL || (strcmp(instance, "*") != 0 && strcmp(i, instance) != 0)))
			continue;
		seq = json_integer_value(json_object_get(e, "seq"));
	}
	json_decref(j);
	return seq;
}

static long long
inst_int(const char *id, const char *field)
{
	json_t *i = cluster_instance(cl, id);
	long long v = i ? json_integer_value(json_object_get(i, field)) : -1;

	json_decref(i);
	return v;
}

static bool
inst_is(const char *id, const char *state)
{
	json_t *i = cluster_instance(cl, id);
	const char *st = i ? json_string_value(json_object_get(i, "state")) : NULL;
	bool eq = st && strcmp(st, state) == 0;

	json_decref(i);
	return eq;
}

/* Id of the first desired instance of service (static buffer). */
static const char *
some_id(const char *service)
{
	static char id[160];
	const char *ids = cluster_ids(cl, service);

	snprintf(id, sizeof(id), "%.*s", (int)strcspn(ids, ","), ids);
	return id;
}

static long long
reconciles(void)
{
	struct http_result r;
	char url[256];
	const char *p;
	long long n = -1;

	snprintf(url, sizeof(url), "%s/metrics", cl->url);
	if (http_request(&r, "GET", url, CL_TOKEN, NULL, 0, 5000) == 0 && r.status == 200 &&
	    (p = strstr(r.body, "\norch_reconcile_total ")) != NULL)
		n = strtoll(p + 22, NULL, 10);
	http_result_free(&r);
	return n;
}

TEST(deploy__dependency_first)
{
	static const char *const extra[] = {"--log-level", "debug", NULL};

	REQUIRE(cluster_start(&cl, 2, extra) == 0);
	REQUIRE(cluster_commit(cl, manifest("1.0.0", 2, true, false), sha1) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(all_run(), CL_WAIT));
	CHECK_EQ_INT(cluster_count(cl, "db", "Run"), 1);
	CHECK_EQ_INT(cluster_count(cl, "web", "Run"), 2);
	CHECK(inst_is("db-0", "Run"));
	/* db reached Run before any web instance was even placed. */
	{
		long long db_run = first_event("db", NULL, "Run", 0);
		long long web_prov = first_event("web", "*", "Provision", 0);

		CHECK(db_run > 0);
		CHECK(web_prov > 0);
		CHECK(db_run < web_prov);
	}
	/* Endpoints are the Run instances with their ports. */
	{
		json_t *j = cluster_get(cl, "/v1/services/web/endpoints");
		json_t *eps = json_object_get(j, "endpoints");

		CHECK_EQ_INT(json_array_size(eps), 2);
		CHECK(json_integer_value(json_object_get(json_array_get(eps, 0), "port")) > 0);
		CHECK_STR(json_string_value(json_object_get(json_array_get(eps, 0), "version")),
		    "1.0.0");
		json_decref(j);
	}
}

TEST(deploy__cattle_killed_is_replaced)
{
	char old[160];
	long long pid;

	REQUIRE(cl != NULL && all_run());
	snprintf(old, sizeof(old), "%s", some_id("web"));
	pid = inst_int(old, "pid");
	REQUIRE(pid > 0);
	CHECK(kill((pid_t)pid, SIGKILL) == 0);
	/* A new id takes its place; the old record goes away. */
	CHECK(WAIT_FOR(strstr(cluster_ids(cl, "web"), old) == NULL &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	CHECK(WAIT_FOR(all_run(), CL_WAIT));
}

TEST(deploy__pet_killed_is_revived_in_place)
{
	long long pid, restarts;

	REQUIRE(cl != NULL && all_run());
	pid = inst_int("db-0", "pid");
	restarts = inst_int("db-0", "restarts");
	REQUIRE(pid > 0);
	CHECK(kill((pid_t)pid, SIGKILL) == 0);
	CHECK(WAIT_FOR(inst_int("db-0", "pid") > 0 && inst_int("db-0", "pid") != pid &&
	    inst_is("db-0", "Run"), CL_WAIT));
	CHECK_EQ_INT(inst_int("db-0", "restarts"), restarts + 1);
	CHECK_STR(cluster_ids(cl, "db"), "db-0");
	CHECK(WAIT_FOR(all_run(), CL_WAIT));
}

TEST(deploy__scale_out_and_in)
{
	json_t *j;
	long st;

	REQUIRE(cl != NULL && all_run());
	/* Outside min..max: refused with the bounds, nothing changes. */
	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": 9}");
	CHECK_EQ_INT(st, 422);
	CHECK_CONTAINS(json_string_value(json_object_get(j, "detail")), "1..4");
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": \"x\"}");
	CHECK_EQ_INT(st, 400);
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/services/nope/scale", "{\"replicas\": 2}");
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	CHECK_EQ_INT(cluster_count(cl, "web", NULL), 2);

	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": 4}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 4 && all_run(), CL_WAIT));
	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": 1}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(cluster_count(cl, "web", NULL) == 1 && all_run(), CL_WAIT));
	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": 2}");
	json_decref(j);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2 && all_run(), CL_WAIT));
}

TEST(deploy__update_one_at_a_time_new_before_old)
{
	char before[4096];
	long long since, first_new_run = 0, first_old_destroy = 0;
	int created_before_destroy = 0;
	json_t *j, *evs;
	size_t k;

	REQUIRE(cl != NULL && all_run());
	snprintf(before, sizeof(before), "%s", cluster_ids(cl, "web"));
	since = cluster_last_seq(cl);
	REQUIRE(cluster_commit(cl, manifest("2.0.0", 2, true, false), sha2) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2 && all_run() &&
	    strstr(cluster_ids(cl, "web"), some_id("web")) &&
	    strcmp(cluster_ids(cl, "web"), before) != 0, CL_WAIT));
	CHECK(WAIT_FOR(cluster_count(cl, "web", NULL) == 2, CL_WAIT));
	/* Every web instance now runs 2.0.0 and answers with it. */
	j = cluster_get(cl, "/v1/services/web/endpoints");
	evs = json_object_get(j, "endpoints");
	CHECK_EQ_INT(json_array_size(evs), 2);
	for (k = 0; k < json_array_size(evs); k++)
		CHECK_STR(json_string_value(json_object_get(json_array_get(evs, k), "version")),
		    "2.0.0");
	json_decref(j);
	/* The db did not move. */
	CHECK_STR(cluster_ids(cl, "db"), "db-0");
	/* Event order: a new instance was Run before the first old one was
	 * stopped, and only one new instance was started before that. */
	j = cluster_get(cl, "/v1/events?since=0");
	evs = json_object_get(j, "events");
	for (k = 0; k < json_array_size(evs); k++) {
		json_t *e = json_array_get(evs, k);
		long long seq = json_integer_value(json_object_get(e, "seq"));
		const char *s = json_string_value(json_object_get(e, "service"));
		const char *i = json_string_value(json_object_get(e, "instance"));
		const char *to = json_string_value(json_object_get(e, "to"));
		bool old;

		if (seq <= since || s == NULL || strcmp(s, "web") != 0 || i == NULL || to == NULL)
			continue;
		old = strstr(before, i) != NULL;
		if (!old && strcmp(to, "Run") == 0 && first_new_run == 0)
			first_new_run = seq;
		if (old && strcmp(to, "Destroy") == 0 && first_old_destroy == 0)
			first_old_destroy = seq;
		if (!old && json_is_null(json_object_get(e, "from")) && first_old_destroy == 0)
			created_before_destroy++;
	}
	json_decref(j);
	CHECK(first_new_run > 0);
	CHECK(first_old_destroy > 0);
	CHECK(first_new_run < first_old_destroy);
	CHECK_EQ_INT(created_before_destroy, 1);
	/* The service passed through Update. */
	CHECK(first_event("web", NULL, "Update", since) > 0);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "id=pid id=pid ..." of every instance, sorted; "" on error. Instances
 * being destroyed make it "busy". */
static void
snapshot(char *buf, size_t len)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *list;
	char items[64][128];
	const char *ptrs[64];
	size_t k, n = 0, off = 0;

	buf[0] = '\0';
	if (j == NULL)
		return;
	list = json_object_get(j, "instances");
	for (k = 0; k < json_array_size(list) && n < 64; k++) {
		json_t *i = json_array_get(list, k);

		if (!json_is_true(json_object_get(i, "desired"))) {
			snprintf(buf, len, "busy");
			json_decref(j);
			return;
		}
		snprintf(items[n], sizeof(items[n]), "%s=%lld",
		    json_string_value(json_object_get(i, "id")),
		    (long long)json_integer_value(json_object_get(i, "pid")));
		ptrs[n] = items[n];
		n++;
	}
	json_decref(j);
	qsort(ptrs, n, sizeof(ptrs[0]), cmp_str);
	for (k = 0; k < n; k++)
		off += (size_t)snprintf(buf + off, len - off, "%s ", ptrs[k]);
}

static bool
settled(char *buf, size_t len)
{
	snapshot(buf, len);
	return all_run() && buf[0] != '\0' && strcmp(buf, "busy") != 0;
}

TEST(deploy__controller_kill9_keeps_every_pid)
{
	char before[8192], after[8192];
	json_t *j;
	long long n0;

	REQUIRE(cl != NULL);
	REQUIRE(WAIT_FOR(settled(before, sizeof(before)), CL_WAIT));
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGKILL), 128 + SIGKILL);
	REQUIRE(cluster_ctl_start(cl) == 0);
	CHECK(WAIT_FOR(cluster_node_is(cl, cl->slaves[0].name, "Ready") &&
	    cluster_node_is(cl, cl->slaves[1].name, "Ready"), CL_WAIT));
	/* Several passes of the reconcile after the nodes spoke. */
	n0 = reconciles();
	CHECK(WAIT_FOR(reconciles() >= n0 + 3, CL_WAIT));
	CHECK(all_run());
	snapshot(after, sizeof(after));
	CHECK_STR(after, before);
	/* The desired revision came back from the store. */
	j = cluster_get(cl, "/v1/status");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "revision"), "commit")),
	    sha2);
	json_decref(j);
}

TEST(deploy__bad_commit_changes_nothing)
{
	char ids[4096], bad[41];
	const char *yaml =
	    "architecture: shop\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"not-semver\"\n"
	    "    replicas: 2\n"
	    "    bogus: 1\n";
	json_t *j, *detail;
	long st;

	REQUIRE(cl != NULL && all_run());
	snprintf(ids, sizeof(ids), "%s|%s", cluster_ids(cl, "web"), cluster_ids(cl, "db"));
	REQUIRE(cluster_commit(cl, yaml, bad) == 0);
	j = cluster_call(cl, &st, "POST", "/v1/apply", "{}");
	CHECK_EQ_INT(st, 422);
	detail = json_object_get(j, "detail");
	/* Every error: the version, the missing command, the unknown key. */
	CHECK(json_array_size(detail) >= 3);
	for (size_t k = 0; k < json_array_size(detail); k++) {
		json_t *e = json_array_get(detail, k);

		CHECK(json_integer_value(json_object_get(e, "line")) > 0);
		CHECK_CONTAINS(json_string_value(json_object_get(e, "file")), "orch.yaml");
		CHECK(json_string_value(json_object_get(e, "message")) != NULL);
		CHECK(json_string_value(json_object_get(e, "path")) != NULL);
	}
	json_decref(j);
	/* Nothing changed: same revision, same instances. */
	j = cluster_get(cl, "/v1/status");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "revision"), "commit")),
	    sha2);
	json_decref(j);
	{
		char now[4096];

		snprintf(now, sizeof(now), "%s|%s", cluster_ids(cl, "web"), cluster_ids(cl, "db"));
		CHECK_STR(now, ids);
	}
	/* An unknown ref is a 404, also without change. */
	CHECK_EQ_INT(cluster_apply(cl, "no-such-branch"), 404);
}

static bool
service_exists(const char *name)
{
	char path[256];
	json_t *j;

	snprintf(path, sizeof(path), "/v1/services/%s", name);
	j = cluster_get(cl, path);
	json_decref(j);
	return j != NULL;
}

TEST(deploy__service_removed_is_destroyed)
{
	long long since;

	REQUIRE(cl != NULL);
	/* First add a third service, then drop it again. */
	REQUIRE(cluster_commit(cl, manifest("2.0.0", 2, true, true), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(cluster_count(cl, "extra", "Run") == 1 && all_run(), CL_WAIT));
	since = cluster_last_seq(cl);
	REQUIRE(cluster_commit(cl, manifest("2.0.0", 2, true, false), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(!service_exists("extra"), CL_WAIT));
	CHECK(first_event("extra", NULL, "Destroy", since) > 0);
	CHECK_EQ_INT(cluster_count(cl, "extra", NULL), 0);
	CHECK(all_run());
}

TEST(deploy__revisions_are_listed)
{
	json_t *j, *revs;
	size_t n;

	REQUIRE(cl != NULL);
	j = cluster_get(cl, "/v1/revisions");
	revs = json_object_get(j, "revisions");
	n = json_array_size(revs);
	/* Four applies went through; the rejected one is not a revision. */
	CHECK_EQ_INT(n, 4);
	if (n >= 2) {
		json_t *r0 = json_array_get(revs, 0), *r1 = json_array_get(revs, 1);

		CHECK_STR(json_string_value(json_object_get(r0, "commit")), sha1);
		CHECK_STR(json_string_value(json_object_get(r1, "commit")), sha2);
		CHECK_STR(json_string_value(json_object_get(r0, "result")), "succeeded");
		CHECK(json_string_value(json_object_get(r0, "author")) != NULL);
		CHECK(json_string_value(json_object_get(r0, "message")) != NULL);
		CHECK(json_integer_value(json_object_get(r0, "time")) > 0);
		/* The record says what the revision changed: web 1.0.0 -> 2.0.0. */
		{
			json_t *svcs = json_object_get(json_object_get(r1, "plan"), "services");
			json_t *web = NULL, *e;
			size_t i;

			json_array_foreach(svcs, i, e)
				if (json_is_string(json_object_get(e, "name")) &&
				    strcmp(json_string_value(json_object_get(e, "name")), "web") == 0)
					web = e;
			REQUIRE(web != NULL);
			CHECK_STR(json_string_value(json_object_get(web, "action")), "changed");
			CHECK_STR(json_string_value(json_object_get(web, "old_version")), "1.0.0");
			CHECK_STR(json_string_value(json_object_get(web, "new_version")), "2.0.0");
		}
	}
	json_decref(j);
}

/* Every web endpoint reports version v (and there are two). */
static bool
web_at(const char *v)
{
	json_t *j = cluster_get(cl, "/v1/services/web/endpoints"), *eps;
	bool ok;

	eps = json_object_get(j, "endpoints");
	ok = json_array_size(eps) == 2 && cluster_count(cl, "web", NULL) == 2;
	for (size_t k = 0; k < json_array_size(eps); k++) {
		const char *ev = json_string_value(json_object_get(json_array_get(eps, k), "version"));

		if (ev == NULL || strcmp(ev, v) != 0)
			ok = false;
	}
	json_decref(j);
	return ok;
}

static bool
service_flag(const char *name, const char *flag)
{
	char path[256];
	json_t *j;
	bool v;

	snprintf(path, sizeof(path), "/v1/services/%s", name);
	j = cluster_get(cl, path);
	v = json_is_true(json_object_get(j, flag));
	json_decref(j);
	return v;
}

TEST(deploy__rollback_service_and_revision_pause_resume)
{
	long long since;
	json_t *j, *list;
	long st;

	REQUIRE(cl != NULL && all_run());
	REQUIRE(web_at("2.0.0"));
	/* Dry run: the plan only. */
	j = cluster_call(cl, &st, "POST", "/v1/rollback", "{\"service\": \"web\", \"dry_run\": true}");
	CHECK_EQ_INT(st, 200);
	list = json_object_get(j, "services");
	CHECK_EQ_INT(json_array_size(list), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "to_version")), "1.0.0");
	json_decref(j);
	CHECK(web_at("2.0.0"));
	/* web goes back to its previous version, through Rollback; db stays. */
	since = cluster_last_seq(cl);
	j = cluster_call(cl, &st, "POST", "/v1/rollback", "{\"service\": \"web\"}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(web_at("1.0.0") && all_run(), CL_WAIT));
	CHECK(first_event("web", NULL, "Rollback", since) > 0);
	CHECK_STR(cluster_ids(cl, "db"), "db-0");
	/* Pause and resume are flags on the service. */
	j = cluster_call(cl, &st, "POST", "/v1/services/web/pause", NULL);
	CHECK_EQ_INT(st, 200);
	CHECK(json_is_true(json_object_get(j, "paused")));
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/services/web/resume", NULL);
	CHECK_EQ_INT(st, 200);
	CHECK(json_is_false(json_object_get(j, "paused")));
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/services/nope/pause", NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	/* Promote with no rollout under way: taken (nothing to promote),
	 * the request flag is cleared by the next plan. */
	j = cluster_call(cl, &st, "POST", "/v1/services/web/promote", NULL);
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(!service_flag("web", "promote"), CL_WAIT));
	j = cluster_call(cl, &st, "POST", "/v1/services/nope/abort", NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	/* A whole revision: revision 2 had web 2.0.0. */
	j = cluster_call(cl, &st, "POST", "/v1/rollback", "{\"to\": 2}");
	CHECK_EQ_INT(st, 200);
	CHECK(json_is_true(json_object_get(j, "rollback")));
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "revision"), "commit")), sha2);
	json_decref(j);
	CHECK(WAIT_FOR(web_at("2.0.0") && all_run(), CL_WAIT));
	j = cluster_get(cl, "/v1/revisions");
	CHECK_EQ_INT(json_array_size(json_object_get(j, "revisions")), 5);
	CHECK(json_is_true(json_object_get(json_array_get(json_object_get(j, "revisions"), 4),
	    "rollback")));
	json_decref(j);
	/* Bad requests change nothing. */
	j = cluster_call(cl, &st, "POST", "/v1/rollback", "{\"to\": 99}");
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/rollback", "{\"service\": \"nope\"}");
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/rollback", "{\"to\": []}");
	CHECK_EQ_INT(st, 400);
	json_decref(j);
	CHECK(web_at("2.0.0"));
}

TEST(deploy__controller_exits_cleanly)
{
	REQUIRE(cl != NULL);
	/* SIGTERM: exit 0, everything freed (ASan reports leaks as failure). */
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(deploy__dependency_first, deploy__cattle_killed_is_replaced,
    deploy__pet_killed_is_revived_in_place, deploy__scale_out_and_in,
    deploy__update_one_at_a_time_new_before_old, deploy__controller_kill9_keeps_every_pid,
    deploy__bad_commit_changes_nothing, deploy__service_removed_is_destroyed,
    deploy__revisions_are_listed, deploy__rollback_service_and_revision_pause_resume,
    deploy__controller_exits_cleanly)
