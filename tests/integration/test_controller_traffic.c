/*
 * test_controller_traffic.c - the controller drives a real HAProxy
 * (--haproxy): a real haproxy with the config haproxy_config() writes, a
 * real controller, 2 slaves and a git repo, service "web" (3 httpapp
 * replicas) behind it, and tests/support/loadgen sending requests
 * through HAProxy all along:
 *
 *   rolling v1 -> v2         no failed request, then only v2 answers
 *   canary 10 (promote) 50   ~10 % then ~50 % to the canary, no failure
 *   blue-green               one flip: no v3 answer sent after the first
 *                            v4 answer, no failure
 *   HAProxy restart          the controller adds the servers back
 *   bad release, rolling     rolled back, no failure, only the old answers
 *
 * HAProxy runs from a temp dir (socket, map, frontend on 127.0.0.1 only)
 * and is killed by pid at the end; the load is 2 keep-alive connections.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "daemon.h"
#include "err.h"
#include "haproxy.h"
#include "loadgen.h"
#include "units.h"

#define SVC "web"
#define CONNS 2

static struct cluster *cl;
static struct {
	char *dir;
	char sock[300], map[300], cfg[300], log[320];
	char blue[HAPROXY_NAME_MAX], green[HAPROXY_NAME_MAX];
	int port;
	struct daemon *d;
} hap;
static const char *ctl_args[6];

static const char *
haproxy_bin(void)
{
	static const char *const where[] = {"/usr/sbin/haproxy", "/usr/bin/haproxy",
	    "/usr/local/sbin/haproxy", "/usr/local/bin/haproxy"};

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

static bool
hap_answers(void)
{
	struct haproxy_server *v = NULL;
	size_t n = 0;
	int rc = haproxy_servers(&v, &n, hap.sock, hap.blue);

	free(v);
	return rc == 0;
}

/* Blank out HAProxy's retries and redispatch (docs/haproxy.md keeps them
 * for production): with them a request sent to a stopped instance is
 * replayed elsewhere, which would hide a stop that went out before the
 * drain. Without them only the controller's drain-delete-stop order
 * keeps every request whole. */
static void
no_retries(char *cfg)
{
	static const char *const drop[] = {"option redispatch", "retry-on "};
	char *r = strstr(cfg, "retries 3");

	for (size_t k = 0; k < sizeof(drop) / sizeof(drop[0]); k++) {
		char *p = strstr(cfg, drop[k]);

		for (; p && *p && *p != '\n'; p++)
			*p = ' ';
	}
	if (r != NULL)
		r[8] = '0'; /* HAProxy's default is 3 */
}

/* (Re)start HAProxy on its config; the map file is rewritten too, as a
 * fresh install would have it (every service on blue). */
static int
hap_start(void)
{
	struct haproxy_service svc = {.name = SVC, .bind = "127.0.0.1", .port = hap.port};
	char *cfg = NULL, *mtext = NULL;
	int rc;

	if ((rc = haproxy_config(&cfg, &mtext, hap.sock, hap.map, &svc, 1)) < 0)
		return rc;
	no_retries(cfg);
	if ((rc = write_file(hap.cfg, cfg)) == 0 && (rc = write_file(hap.map, mtext)) == 0)
		rc = daemon_start(&hap.d, (const char *const[]){haproxy_bin(), "-db", "-f",
		    hap.cfg, NULL}, hap.dir, hap.log);
	free(cfg);
	free(mtext);
	if (rc == 0 && !WAIT_FOR(hap_answers(), 5000))
		rc = orch_err_set(ORCH_EUNAVAIL, "haproxy did not come up");
	return rc;
}

static void
hap_down(void)
{
	daemon_free(hap.d);
	hap.d = NULL;
	if (hap.dir != NULL)
		daemon_rmtree(hap.dir);
	free(hap.dir);
	hap.dir = NULL;
}

static int web_replicas = 3;

static const char *
manifest(const char *version, const char *extra_arg, const char *strategy)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	    "architecture: traffic\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"%s\"%s]\n"
	    "    ports: [http]\n"
	    "    replicas: %d\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy: %s\n",
	    version, cluster_app("httpapp"), version, extra_arg, web_replicas, strategy);
	return buf;
}

/* The version of instance id, from the endpoints (static buffer). */
static const char *
version_of(json_t *eps, const char *id)
{
	for (size_t k = 0; k < json_array_size(eps); k++) {
		json_t *e = json_array_get(eps, k);

		if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
			return json_string_value(json_object_get(e, "version"));
	}
	return NULL;
}

/* The live backend's servers: how many, how many at version v (by the
 * endpoints API), and v's share of the weights in %; false on error, or
 * when the idle colour still has servers or one is not ready. */
static bool
hap_state(int *n, int *nv, double *share, const char *v)
{
	char live[HAPROXY_NAME_MAX];
	struct haproxy_server *s = NULL, *idle = NULL;
	size_t ns = 0, ni = 0;
	json_t *j = NULL, *eps;
	long wv = 0, wall = 0;
	bool ok = false;

	*n = *nv = 0;
	*share = 0;
	if (haproxy_live_backend(live, sizeof(live), hap.sock, hap.map, SVC) < 0 ||
	    haproxy_servers(&s, &ns, hap.sock, live) < 0 ||
	    haproxy_servers(&idle, &ni, hap.sock,
	    strcmp(live, hap.blue) == 0 ? hap.green : hap.blue) < 0 ||
	    (j = cluster_get(cl, "/v1/services/web/endpoints")) == NULL)
		goto out;
	eps = json_object_get(j, "endpoints");
	for (size_t k = 0; k < ns; k++) {
		const char *sv = version_of(eps, s[k].name);

		if (s[k].admin != HAPROXY_READY || !s[k].up)
			goto out;
		wall += s[k].weight;
		if (sv && strcmp(sv, v) == 0) {
			(*nv)++;
			wv += s[k].weight;
		}
	}
	*n = (int)ns;
	*share = wall > 0 ? 100.0 * (double)wv / (double)wall : 0;
	ok = ni == 0;
out:
	free(s);
	free(idle);
	json_decref(j);
	return ok;
}

/* Service Run, n instances, and HAProxy serving exactly them, all at v. */
static bool
settled(const char *v, int n)
{
	int hn, hv;
	double share;

	return cluster_service_is(cl, SVC, "Run") && cluster_count(cl, SVC, NULL) == n &&
	    hap_state(&hn, &hv, &share, v) && hn == n && hv == n;
}

static bool
phase_is(const char *want)
{
	json_t *j = cluster_get(cl, "/v1/services/web");
	const char *p = json_string_value(json_object_get(json_object_get(j, "rollout"), "phase"));
	bool eq = p && strcmp(p, want) == 0;

	json_decref(j);
	return eq;
}

/* Paused at a canary step: HAProxy has n servers, v's weights near pct. */
static bool
canary_at(const char *v, int n, int nv, double pct)
{
	int hn, hv;
	double share;

	return phase_is("waiting for promote") && hap_state(&hn, &hv, &share, v) &&
	    hn == n && hv == nv && share > pct - 2 && share < pct + 2;
}

static void
report(const char *what, const struct loadgen_result *r)
{
	char line[512];

	loadgen_summary(line, sizeof(line), r);
	printf("# %s: %s (%lld ms)\n", what, line, (long long)r->elapsed_ms);
}

static struct loadgen *
load_start(void)
{
	struct loadgen *lg = NULL;

	if (loadgen_start(&lg, &(struct loadgen_opts){.port = hap.port, .conns = CONNS,
	    .duration_ms = 120000}) < 0)
		return NULL;
	/* Something answered before the change starts. */
	WAIT_FOR(loadgen_progress(lg) > 100, 5000);
	return lg;
}

static long
load_end(struct loadgen *lg, struct loadgen_result *r, const char *what)
{
	loadgen_stop(lg);
	if (loadgen_wait(r, lg) < 0)
		return -1;
	report(what, r);
	return loadgen_failed(r);
}

/* n requests; true when every one answered with version v. */
static bool
only_answers(const char *v, long n, const char *what)
{
	struct loadgen_result r;
	const struct loadgen_version *lv;

	if (loadgen_run(&r, &(struct loadgen_opts){.port = hap.port, .conns = CONNS,
	    .requests = n}) < 0)
		return false;
	report(what, &r);
	lv = loadgen_version(&r, v);
	return loadgen_failed(&r) == 0 && lv != NULL && lv->count == n && r.nversions == 1;
}

static double
share_of(const struct loadgen_result *r, const char *v)
{
	const struct loadgen_version *lv = loadgen_version(r, v);

	return r->answered > 0 && lv ? 100.0 * (double)lv->count / (double)r->answered : 0;
}

static bool
promote(void)
{
	long st = 0;
	json_t *j = cluster_call(cl, &st, "POST", "/v1/services/web/promote", NULL);

	json_decref(j);
	return st == 200;
}

TEST(traffic__start)
{
	const char *bin = haproxy_bin();

	REQUIRE(bin != NULL); /* scripts/deps test installs it */
	REQUIRE(daemon_tmpdir(&hap.dir, "traf") == 0 && daemon_free_port(&hap.port) == 0);
	snprintf(hap.sock, sizeof(hap.sock), "%s/admin.sock", hap.dir);
	snprintf(hap.map, sizeof(hap.map), "%s/orch.map", hap.dir);
	snprintf(hap.cfg, sizeof(hap.cfg), "%s/haproxy.cfg", hap.dir);
	snprintf(hap.log, sizeof(hap.log), "%s/haproxy.log", hap.dir);
	haproxy_backend_name(hap.blue, sizeof(hap.blue), SVC, false);
	haproxy_backend_name(hap.green, sizeof(hap.green), SVC, true);
	REQUIRE(hap_start() == 0);
	ctl_args[0] = "--haproxy";
	ctl_args[1] = hap.sock;
	ctl_args[2] = "--haproxy-map";
	ctl_args[3] = hap.map;
	ctl_args[4] = NULL;
	REQUIRE(cluster_start(&cl, 2, ctl_args) == 0);
	REQUIRE(cluster_commit(cl, manifest("1.0.0", "", "{type: rolling}"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	REQUIRE(WAIT_FOR(settled("1.0.0", 3), CL_WAIT));
	CHECK(only_answers("1.0.0", 300, "v1 serving"));
}

/* (a) rolling: each old instance is drained and deleted before its stop. */
TEST(traffic__rolling_update_loses_nothing)
{
	struct loadgen_result r;
	struct loadgen *lg;

	REQUIRE(cl != NULL && (lg = load_start()) != NULL);
	REQUIRE(cluster_commit(cl, manifest("2.0.0", "", "{type: rolling}"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(settled("2.0.0", 3), CL_WAIT));
	CHECK_EQ_INT(load_end(lg, &r, "rolling 1.0.0 -> 2.0.0"), 0);
	CHECK(loadgen_version(&r, "1.0.0") != NULL && loadgen_version(&r, "2.0.0") != NULL);
	CHECK(only_answers("2.0.0", 300, "after rolling"));
}

/* (b) canary: the steps' weights in HAProxy give the steps' shares. */
TEST(traffic__canary_steps_shift_shares)
{
	struct loadgen_result r, m;
	struct loadgen *lg;

	REQUIRE(cl != NULL && (lg = load_start()) != NULL);
	REQUIRE(cluster_commit(cl, manifest("3.0.0", "", "{type: canary, steps: "
	    "[{weight: 10}, {weight: 50}]}"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	/* 1 canary beside 3 old servers, 10 % of the weights. */
	CHECK(WAIT_FOR(canary_at("3.0.0", 4, 1, 10), CL_WAIT));
	CHECK(loadgen_run(&m, &(struct loadgen_opts){.port = hap.port, .conns = CONNS,
	    .requests = 1000}) == 0);
	report("canary 10 %", &m);
	printf("# canary 10 %%: share of 3.0.0 %.1f %%\n", share_of(&m, "3.0.0"));
	CHECK_EQ_INT(loadgen_failed(&m), 0);
	CHECK(share_of(&m, "3.0.0") >= 4 && share_of(&m, "3.0.0") <= 20);

	CHECK(promote());
	CHECK(WAIT_FOR(canary_at("3.0.0", 5, 2, 50), CL_WAIT));
	/* HAProxy moves to new weights over a round; measure after it. */
	CHECK(loadgen_run(&m, &(struct loadgen_opts){.port = hap.port, .conns = CONNS,
	    .requests = 300}) == 0);
	CHECK(loadgen_run(&m, &(struct loadgen_opts){.port = hap.port, .conns = CONNS,
	    .requests = 1000}) == 0);
	report("canary 50 %", &m);
	printf("# canary 50 %%: share of 3.0.0 %.1f %%\n", share_of(&m, "3.0.0"));
	CHECK_EQ_INT(loadgen_failed(&m), 0);
	CHECK(share_of(&m, "3.0.0") >= 35 && share_of(&m, "3.0.0") <= 65);

	CHECK(promote());
	CHECK(WAIT_FOR(settled("3.0.0", 3), CL_WAIT));
	CHECK_EQ_INT(load_end(lg, &r, "canary 2.0.0 -> 3.0.0"), 0);
	CHECK(only_answers("3.0.0", 300, "after canary"));
}

/* (c) blue-green: the new set fills the idle colour, one map flip. */
TEST(traffic__blue_green_flips_once)
{
	struct loadgen_result r;
	const struct loadgen_version *v3, *v4;
	char before[HAPROXY_NAME_MAX] = "", after[HAPROXY_NAME_MAX] = "";
	struct loadgen *lg;

	REQUIRE(cl != NULL);
	CHECK(haproxy_live_backend(before, sizeof(before), hap.sock, hap.map, SVC) == 0);
	REQUIRE((lg = load_start()) != NULL);
	REQUIRE(cluster_commit(cl, manifest("4.0.0", "", "{type: blue-green, "
	    "scale_down_delay: 1s}"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(settled("4.0.0", 3), CL_WAIT));
	CHECK_EQ_INT(load_end(lg, &r, "blue-green 3.0.0 -> 4.0.0"), 0);
	CHECK(haproxy_live_backend(after, sizeof(after), hap.sock, hap.map, SVC) == 0);
	printf("# blue-green: live %s -> %s\n", before, after);
	CHECK(strcmp(before, after) != 0);
	v3 = loadgen_version(&r, "3.0.0");
	v4 = loadgen_version(&r, "4.0.0");
	CHECK(v3 != NULL && v4 != NULL);
	if (v3 != NULL && v4 != NULL) {
		printf("# blue-green: last 3.0.0 sent at +%lld ms, first 4.0.0 answer at "
		    "+%lld ms\n", (long long)(v3->last_sent_ms - v3->first_done_ms),
		    (long long)(v4->first_done_ms - v3->first_done_ms));
		CHECK(v3->last_sent_ms <= v4->first_done_ms);
	}
	CHECK(only_answers("4.0.0", 300, "after blue-green"));
}

/* A counter of /metrics; -1 when missing. */
static long
metric(const char *name)
{
	struct http_result h = {0};
	char url[200], key[128];
	const char *p;
	long v = -1;

	snprintf(url, sizeof(url), "%s/metrics", cl->url);
	snprintf(key, sizeof(key), "\n%s ", name);
	if (http_request(&h, "GET", url, CL_TOKEN, NULL, 0, 5000) == 0 && h.body != NULL &&
	    (p = strstr(h.body, key)) != NULL)
		v = strtol(p + strlen(key), NULL, 10);
	http_result_free(&h);
	return v;
}

/* HAProxy restarted (servers forgotten, map back to blue): while it is
 * down the controller counts errors and keeps answering; then its next
 * syncs put everything back. */
TEST(traffic__haproxy_restart_is_repaired)
{
	long errors;
	int64_t t0;

	REQUIRE(cl != NULL);
	errors = metric("orch_haproxy_errors_total");
	CHECK(errors >= 0);
	CHECK(daemon_stop(hap.d, SIGTERM, 5000) >= 0);
	daemon_free(hap.d);
	hap.d = NULL;
	CHECK(WAIT_FOR(metric("orch_haproxy_errors_total") > errors, 10000));
	CHECK(cluster_service_is(cl, SVC, "Run"));
	t0 = orch_mono_ms();
	REQUIRE(hap_start() == 0);
	CHECK(WAIT_FOR(settled("4.0.0", 3), CL_WAIT));
	printf("# haproxy restart: servers back in %lld ms\n", (long long)(orch_mono_ms() - t0));
	CHECK(only_answers("4.0.0", 300, "after haproxy restart"));
}

/* The service went through Rollback (it may be back in Run already). */
static bool
went_rollback(void)
{
	json_t *j = cluster_get(cl, "/v1/events?service=web&limit=1000");
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	bool yes = text && strstr(text, "\"to\":\"Rollback\"") != NULL;

	free(text);
	json_decref(j);
	return yes;
}

/* (d) a release that never turns healthy never gets a request; the
 * rollback loses none. */
TEST(traffic__bad_release_rolls_back_without_failures)
{
	struct loadgen_result r;
	struct loadgen *lg;

	REQUIRE(cl != NULL && (lg = load_start()) != NULL);
	REQUIRE(cluster_commit(cl, manifest("5.0.0", ", \"--fail-health\"",
	    "{type: rolling, auto_rollback: true, progress_deadline: 3s}"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(went_rollback(), CL_WAIT));
	CHECK(WAIT_FOR(settled("4.0.0", 3), CL_WAIT));
	CHECK_EQ_INT(load_end(lg, &r, "bad 5.0.0, rolled back to 4.0.0"), 0);
	CHECK(loadgen_version(&r, "5.0.0") == NULL);
	CHECK(only_answers("4.0.0", 300, "after rollback"));
}

/* (e) blue-green where the whole new set turns serving in one pass (one
 * instance): the switch comes in the same pass as its first sync, and the
 * new set must still go to the idle colour and the map flip, not the old
 * set move out of the live one (it did, in CI, with three instances that
 * turned Run together: both versions served for a moment). */
TEST(traffic__blue_green_single_instance_flips)
{
	char before[HAPROXY_NAME_MAX] = "", after[HAPROXY_NAME_MAX] = "";
	const struct loadgen_version *v4, *v6;
	struct loadgen_result r;
	struct loadgen *lg;

	REQUIRE(cl != NULL);
	CHECK(haproxy_live_backend(before, sizeof(before), hap.sock, hap.map, SVC) == 0);
	REQUIRE((lg = load_start()) != NULL);
	web_replicas = 1;
	REQUIRE(cluster_commit(cl, manifest("6.0.0", "", "{type: blue-green, "
	    "scale_down_delay: 1s}"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(settled("6.0.0", 1), CL_WAIT));
	CHECK_EQ_INT(load_end(lg, &r, "blue-green 4.0.0 x3 -> 6.0.0 x1"), 0);
	CHECK(haproxy_live_backend(after, sizeof(after), hap.sock, hap.map, SVC) == 0);
	printf("# blue-green, one instance: live %s -> %s\n", before, after);
	CHECK(strcmp(before, after) != 0);
	v4 = loadgen_version(&r, "4.0.0");
	v6 = loadgen_version(&r, "6.0.0");
	CHECK(v4 != NULL && v6 != NULL);
	if (v4 != NULL && v6 != NULL)
		CHECK(v4->last_sent_ms <= v6->first_done_ms);
	CHECK(only_answers("6.0.0", 300, "after blue-green of one"));
}

TEST(traffic__finish)
{
	REQUIRE(cl != NULL);
	printf("# orch_haproxy_changes_total %ld, orch_haproxy_errors_total %ld\n",
	    metric("orch_haproxy_changes_total"), metric("orch_haproxy_errors_total"));
	CHECK(metric("orch_haproxy_changes_total") > 0);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
	hap_down();
}

CHECK_MAIN(traffic__start, traffic__rolling_update_loses_nothing,
    traffic__canary_steps_shift_shares, traffic__blue_green_flips_once,
    traffic__haproxy_restart_is_repaired,
    traffic__bad_release_rolls_back_without_failures,
    traffic__blue_green_single_instance_flips, traffic__finish)
