/*
 * test_haproxy.c - common/haproxy.c against a real HAProxy (Debian's
 * haproxy package) and real httpapp processes, with tests/support/loadgen
 * as the client: servers added at run time take traffic, weights give
 * canary shares, drain + delete and the blue-green switch lose no request
 * under load, and a bad socket or backend gives a clear error quickly.
 *
 * Each test writes its own haproxy.cfg (haproxy_config()) into a temp
 * dir, with the admin socket there and the frontend on 127.0.0.1 only,
 * runs "haproxy -db" as a child and kills it by pid at the end.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "daemon.h"
#include "err.h"
#include "haproxy.h"
#include "loadgen.h"
#include "units.h"

#define MAX_APPS 4
#define SVC "web"

struct app {
	struct daemon *d;
	int port;
	char name[32];
};

/* One HAProxy with service "web", plus the apps behind it. */
static struct fx {
	char *dir;
	char sock[300], map[300], cfg[300];
	char blue[HAPROXY_NAME_MAX], green[HAPROXY_NAME_MAX];
	int port;
	struct daemon *hap;
	struct app apps[MAX_APPS];
	int napps;
} fx;

static const char *
haproxy_bin(void)
{
	static const char *const where[] = {"/usr/sbin/haproxy", "/usr/bin/haproxy",
	    "/usr/local/sbin/haproxy", "/usr/local/bin/haproxy"};
	size_t i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

static void
fx_down(void)
{
	int i;

	for (i = 0; i < fx.napps; i++)
		daemon_free(fx.apps[i].d);
	daemon_free(fx.hap);
	if (fx.dir != NULL)
		daemon_rmtree(fx.dir);
	free(fx.dir);
	memset(&fx, 0, sizeof(fx));
}

static bool
hap_answers(void)
{
	struct haproxy_server *v = NULL;
	size_t n = 0;
	int rc = haproxy_servers(&v, &n, fx.sock, fx.blue);

	free(v);
	return rc == 0;
}

/* Start HAProxy for service "web" with a generated config, extra (NULL:
 * none) appended to it. */
static int
fx_up_with(const char *extra)
{
	static bool registered;
	struct haproxy_service svc = {.name = SVC, .bind = "127.0.0.1"};
	char *cfg = NULL, *mtext = NULL, log[320];
	const char *bin = haproxy_bin();
	int rc;

	fx_down();
	if (!registered) {
		atexit(fx_down);
		registered = true;
	}
	if (bin == NULL)
		return orch_err_set(ORCH_ENOTFOUND, "haproxy not installed "
		    "(scripts/deps test)");
	if ((rc = daemon_tmpdir(&fx.dir, "hap")) < 0 ||
	    (rc = daemon_free_port(&fx.port)) < 0)
		return rc;
	snprintf(fx.sock, sizeof(fx.sock), "%s/admin.sock", fx.dir);
	snprintf(fx.map, sizeof(fx.map), "%s/orch.map", fx.dir);
	snprintf(fx.cfg, sizeof(fx.cfg), "%s/haproxy.cfg", fx.dir);
	snprintf(log, sizeof(log), "%s/haproxy.log", fx.dir);
	svc.port = fx.port;
	haproxy_backend_name(fx.blue, sizeof(fx.blue), SVC, false);
	haproxy_backend_name(fx.green, sizeof(fx.green), SVC, true);
	if ((rc = haproxy_config(&cfg, &mtext, fx.sock, fx.map, &svc, 1)) < 0)
		return rc;
	if (extra != NULL) {
		char *all = NULL;

		if (asprintf(&all, "%s%s", cfg, extra) < 0) {
			free(cfg);
			free(mtext);
			return orch_err_set(ORCH_ERROR, "out of memory");
		}
		free(cfg);
		cfg = all;
	}
	if ((rc = write_file(fx.cfg, cfg)) == 0 && (rc = write_file(fx.map, mtext)) == 0)
		rc = daemon_start(&fx.hap, (const char *const[]){bin, "-db", "-f",
		    fx.cfg, NULL}, fx.dir, log);
	free(cfg);
	free(mtext);
	if (rc < 0)
		return rc;
	if (!WAIT_FOR(hap_answers(), 5000)) {
		char *l = daemon_log(fx.hap);

		rc = orch_err_set(ORCH_EUNAVAIL, "haproxy did not come up: %s", l);
		free(l);
	}
	return rc;
}

static int
fx_up(void)
{
	return fx_up_with(NULL);
}

static bool
file_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

/* Start httpapp answering {"version":version}; the app's index or -1. */
static int
app_start(const char *version)
{
	struct app *a = &fx.apps[fx.napps];
	char ready[400], log[400], port[16];
	char *bin = daemon_binary("examples/apps/httpapp");
	int rc;

	if (fx.napps == MAX_APPS || bin == NULL) {
		free(bin);
		return -1;
	}
	snprintf(a->name, sizeof(a->name), "%s", version);
	snprintf(ready, sizeof(ready), "%s/app-%d.ready", fx.dir, fx.napps);
	snprintf(log, sizeof(log), "%s/app-%d.log", fx.dir, fx.napps);
	rc = daemon_free_port(&a->port);
	snprintf(port, sizeof(port), "%d", a->port);
	if (rc == 0)
		rc = daemon_start(&a->d, (const char *const[]){bin, "--port", port,
		    "--version", version, "--ready-file", ready, NULL}, fx.dir, log);
	free(bin);
	if (rc < 0)
		return -1;
	fx.napps++;
	if (!WAIT_FOR(file_exists(ready), 5000))
		return -1;
	return fx.napps - 1;
}

/* Start an app and add it to backend as server name. */
static int
app_serve(const char *backend, const char *name, const char *version, int weight)
{
	int i = app_start(version);

	if (i < 0)
		return -1;
	return haproxy_server_add(fx.sock, backend, name, "127.0.0.1",
	    fx.apps[i].port, weight);
}

static const struct haproxy_server *
find_server(const struct haproxy_server *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static long
sessions_of(const char *backend, const char *name)
{
	struct haproxy_server *v = NULL;
	const struct haproxy_server *s;
	size_t n = 0;
	long r = -1;

	if (haproxy_servers(&v, &n, fx.sock, backend) == 0 &&
	    (s = find_server(v, n, name)) != NULL)
		r = s->sessions;
	free(v);
	return r;
}

static double
share(const struct loadgen_result *r, const char *version)
{
	const struct loadgen_version *v = loadgen_version(r, version);

	return v && r->answered ? 100.0 * v->count / r->answered : 0.0;
}

static void
report(const char *what, const struct loadgen_result *r)
{
	char buf[1024];

	loadgen_summary(buf, sizeof(buf), r);
	printf("  figures %s: %s\n", what, buf);
}

TEST(haproxy_config__accepted_by_haproxy)
{
	struct haproxy_service svcs[2] = {{"web", "127.0.0.1", 18080},
	    {"api-2", "127.0.0.1", 18081}};
	struct haproxy_service bad = {"a b", "127.0.0.1", 1};
	char *cfg = NULL, *mtext = NULL, path[400], mpath[400], log[400];
	char *dir = NULL;
	const char *bin = haproxy_bin();
	struct daemon *d = NULL;

	REQUIRE(bin != NULL);
	REQUIRE(daemon_tmpdir(&dir, "hapcfg") == 0);
	snprintf(path, sizeof(path), "%s/haproxy.cfg", dir);
	snprintf(mpath, sizeof(mpath), "%s/orch.map", dir);
	snprintf(log, sizeof(log), "%s/check.log", dir);
	REQUIRE(haproxy_config(&cfg, &mtext, "/run/orch-haproxy.sock", mpath,
	    svcs, 2) == 0);
	CHECK_CONTAINS(cfg, "stats socket /run/orch-haproxy.sock mode 600 level admin");
	CHECK_CONTAINS(cfg, "option redispatch");
	CHECK_CONTAINS(cfg, "backend orch_api-2_green");
	CHECK_CONTAINS(mtext, "web orch_web_blue\n");
	CHECK(write_file(path, cfg) == 0);
	CHECK(write_file(mpath, mtext) == 0);
	/* haproxy -c parses the whole file and loads the map. */
	REQUIRE(daemon_start(&d, (const char *const[]){bin, "-c", "-q", "-f", path,
	    NULL}, dir, log) == 0);
	CHECK_EQ_INT(daemon_stop(d, 0, 10000), 0);
	daemon_free(d);
	free(cfg);
	free(mtext);

	CHECK_EQ_INT(haproxy_config(&cfg, &mtext, "/s", "/m", &bad, 1), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "\"a b\"");
	CHECK_EQ_INT(haproxy_config(&cfg, &mtext, "/s;x", "/m", svcs, 1),
	    ORCH_EINVALID);
	CHECK(cfg == NULL && mtext == NULL);
	daemon_rmtree(dir);
	free(dir);
}

TEST(haproxy_split_weights__shares)
{
	static const int cases[][3] = {{10, 1, 4}, {10, 1, 1}, {50, 3, 2},
	    {1, 1, 9}, {99, 7, 1}, {25, 100, 100}, {33, 2, 200}, {5, 20, 10}};
	int wn, wo, i;
	double got;

	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		REQUIRE(haproxy_split_weights(&wn, &wo, cases[i][0], cases[i][1],
		    cases[i][2]) == 0);
		CHECK(wn >= 1 && wn <= 256 && wo >= 1 && wo <= 256);
		got = 100.0 * wn * cases[i][1] / (wn * cases[i][1] + wo * cases[i][2]);
		if (got < cases[i][0] - 1.0 || got > cases[i][0] + 1.0)
			check_fail(__FILE__, __LINE__, "%d%% to %d new, %d old: "
			    "weights %d/%d give %.2f%%", cases[i][0], cases[i][1],
			    cases[i][2], wn, wo, got);
	}
	CHECK_EQ_INT(haproxy_split_weights(&wn, &wo, 10, 1, 4), 0);
	CHECK(wn == 4 && wo == 9);      /* exact: 4 / (4 + 4 * 9) = 10 % */
	/* 5 % over 50 servers against 1 needs 1 against 950: past 256, the
	 * nearest weights HAProxy takes. */
	CHECK_EQ_INT(haproxy_split_weights(&wn, &wo, 5, 50, 1), 0);
	CHECK(wn == 1 && wo == 256);
	CHECK_EQ_INT(haproxy_split_weights(&wn, &wo, 100, 2, 0), 0);
	CHECK(wn == 100 && wo == 0);
	CHECK_EQ_INT(haproxy_split_weights(&wn, &wo, 0, 0, 3), 0);
	CHECK(wn == 0 && wo == 100);
	CHECK_EQ_INT(haproxy_split_weights(&wn, &wo, 10, 0, 3), ORCH_EINVALID);
	CHECK_EQ_INT(haproxy_split_weights(&wn, &wo, 101, 1, 3), ORCH_EINVALID);
}

TEST(haproxy_add__servers_take_traffic)
{
	struct haproxy_server *v = NULL;
	const struct haproxy_server *s;
	struct loadgen_result r;
	size_t n = 0;

	REQUIRE(fx_up() == 0);
	REQUIRE(app_serve(fx.blue, "web-1", "v1", 50) == 0);
	REQUIRE(app_serve(fx.blue, "web-2", "v2", 50) == 0);
	REQUIRE(haproxy_servers(&v, &n, fx.sock, fx.blue) == 0);
	CHECK_EQ_INT(n, 2);
	REQUIRE((s = find_server(v, n, "web-2")) != NULL);
	CHECK_STR(s->addr, "127.0.0.1");
	CHECK_EQ_INT(s->port, fx.apps[1].port);
	CHECK_EQ_INT(s->weight, 50);
	CHECK_EQ_INT(s->admin, HAPROXY_READY);
	CHECK(s->up);
	free(v);

	REQUIRE(loadgen_run(&r, &(struct loadgen_opts){.port = fx.port, .conns = 4,
	    .requests = 400}) == 0);
	report("add", &r);
	CHECK_EQ_INT(r.answered, 400);
	CHECK_EQ_INT(loadgen_failed(&r), 0);
	CHECK_EQ_INT(r.status[200], 400);
	CHECK_EQ_INT(r.nversions, 2);
	/* Equal weights, round robin: an even split. */
	CHECK(share(&r, "v1") >= 45.0 && share(&r, "v1") <= 55.0);
	/* Keep-alive: far fewer connections than requests. */
	CHECK(r.connects <= 8);

	/* Idempotent: same address is fine, and brings back weight and state. */
	CHECK_EQ_INT(haproxy_server_drain(fx.sock, fx.blue, "web-1"), 0);
	CHECK_EQ_INT(haproxy_server_weight(fx.sock, fx.blue, "web-1", 3), 0);
	CHECK_EQ_INT(haproxy_server_add(fx.sock, fx.blue, "web-1", "127.0.0.1",
	    fx.apps[0].port, 50), 0);
	REQUIRE(haproxy_servers(&v, &n, fx.sock, fx.blue) == 0);
	CHECK_EQ_INT(n, 2);
	REQUIRE((s = find_server(v, n, "web-1")) != NULL);
	CHECK_EQ_INT(s->weight, 50);
	CHECK_EQ_INT(s->admin, HAPROXY_READY);
	free(v);
	/* Same name elsewhere is a clash. */
	CHECK_EQ_INT(haproxy_server_add(fx.sock, fx.blue, "web-1", "127.0.0.1",
	    fx.apps[1].port, 50), ORCH_EEXISTS);
	CHECK_CONTAINS(orch_err_last(), "exists at 127.0.0.1:");

	/* IPv6, in the idle colour (nothing listens there: no traffic). */
	CHECK_EQ_INT(haproxy_server_add(fx.sock, fx.green, "web-6", "::1", 8086, 7), 0);
	CHECK_EQ_INT(haproxy_server_add(fx.sock, fx.green, "web-6", "0::1", 8086, 7), 0);
	REQUIRE(haproxy_servers(&v, &n, fx.sock, fx.green) == 0);
	CHECK_EQ_INT(n, 1);
	REQUIRE((s = find_server(v, n, "web-6")) != NULL);
	CHECK_STR(s->addr, "::1");
	CHECK_EQ_INT(s->port, 8086);
	CHECK_EQ_INT(s->weight, 7);
	free(v);
	CHECK_EQ_INT(haproxy_server_del(fx.sock, fx.green, "web-6", 1000), 0);
	fx_down();
}

TEST(haproxy_weight__canary_shares)
{
	struct loadgen_result r;

	REQUIRE(fx_up() == 0);
	REQUIRE(app_serve(fx.blue, "web-1", "v1", 90) == 0);
	REQUIRE(app_serve(fx.blue, "web-2", "v2", 10) == 0);
	REQUIRE(loadgen_run(&r, &(struct loadgen_opts){.port = fx.port, .conns = 8,
	    .requests = 2000}) == 0);
	report("weights 90/10", &r);
	CHECK_EQ_INT(r.answered, 2000);
	CHECK_EQ_INT(loadgen_failed(&r), 0);
	CHECK(share(&r, "v2") >= 7.0 && share(&r, "v2") <= 13.0);

	/*
	 * A canary step: shift to 10/90 at run time. HAProxy's weighted round
	 * robin moves to new weights smoothly (the servers keep their place
	 * in the rotation), so the first few hundred requests still lean on
	 * the old split; measure after a thousand.
	 */
	CHECK_EQ_INT(haproxy_server_weight(fx.sock, fx.blue, "web-1", 10), 0);
	CHECK_EQ_INT(haproxy_server_weight(fx.sock, fx.blue, "web-2", 90), 0);
	REQUIRE(loadgen_run(&r, &(struct loadgen_opts){.port = fx.port, .conns = 8,
	    .requests = 1000}) == 0);
	report("weights 10/90, first 1000", &r);
	CHECK_EQ_INT(loadgen_failed(&r), 0);
	REQUIRE(loadgen_run(&r, &(struct loadgen_opts){.port = fx.port, .conns = 8,
	    .requests = 2000}) == 0);
	report("weights 10/90", &r);
	CHECK_EQ_INT(loadgen_failed(&r), 0);
	CHECK(share(&r, "v2") >= 87.0 && share(&r, "v2") <= 93.0);

	/* Weight 0 takes a server out of balancing altogether. */
	CHECK_EQ_INT(haproxy_server_weight(fx.sock, fx.blue, "web-1", 0), 0);
	REQUIRE(loadgen_run(&r, &(struct loadgen_opts){.port = fx.port, .conns = 4,
	    .requests = 300}) == 0);
	CHECK_EQ_INT(loadgen_failed(&r), 0);
	CHECK(loadgen_version(&r, "v1") == NULL);
	CHECK_EQ_INT(share(&r, "v2"), 100);
	fx_down();
}

TEST(haproxy_del__drain_then_delete_under_load)
{
	struct haproxy_server *v = NULL;
	const struct loadgen_version *gone;
	struct loadgen_result r;
	struct loadgen *lg = NULL;
	int64_t t_drained, t_deleted;
	long base;
	size_t n = 0;

	REQUIRE(fx_up() == 0);
	REQUIRE(app_serve(fx.blue, "web-1", "s1", 100) == 0);
	REQUIRE(app_serve(fx.blue, "web-2", "s2", 100) == 0);
	REQUIRE(app_serve(fx.blue, "web-3", "s3", 100) == 0);
	REQUIRE(loadgen_start(&lg, &(struct loadgen_opts){.port = fx.port,
	    .conns = 8, .duration_ms = 8000}) == 0);
	CHECK(WAIT_FOR(loadgen_progress(lg) > 2000, 4000));

	CHECK_EQ_INT(haproxy_server_drain(fx.sock, fx.blue, "web-3"), 0);
	t_drained = orch_mono_ms();
	REQUIRE(haproxy_servers(&v, &n, fx.sock, fx.blue) == 0);
	CHECK(find_server(v, n, "web-3") && find_server(v, n, "web-3")->admin ==
	    HAPROXY_DRAIN);
	free(v);
	/* What the controller does before stopping the process. */
	CHECK(WAIT_FOR(sessions_of(fx.blue, "web-3") == 0, 3000));
	CHECK_EQ_INT(haproxy_server_del(fx.sock, fx.blue, "web-3", 2000), 0);
	t_deleted = orch_mono_ms();
	/* Gone from HAProxy, so stopping it now must cost nothing. */
	CHECK_EQ_INT(daemon_stop(fx.apps[2].d, SIGTERM, 5000), 0);
	base = loadgen_progress(lg);
	CHECK(WAIT_FOR(loadgen_progress(lg) > base + 3000, 4000));
	loadgen_stop(lg);
	REQUIRE(loadgen_wait(&r, lg) == 0);
	report("drain+del", &r);
	printf("  drain->del %lld ms\n", (long long)(t_deleted - t_drained));

	CHECK_EQ_INT(loadgen_failed(&r), 0);
	CHECK(r.answered > 5000);
	REQUIRE((gone = loadgen_version(&r, "s3")) != NULL);
	CHECK(gone->count > 50);
	/* Nothing sent after the drain returned went to the drained server. */
	CHECK(gone->last_sent_ms <= t_drained);
	CHECK(loadgen_version(&r, "s1") && loadgen_version(&r, "s2"));

	REQUIRE(haproxy_servers(&v, &n, fx.sock, fx.blue) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK(find_server(v, n, "web-3") == NULL);
	free(v);
	/* Deleting what is gone is fine; an unknown backend is not. */
	CHECK_EQ_INT(haproxy_server_del(fx.sock, fx.blue, "web-3", 0), 0);
	CHECK_EQ_INT(haproxy_server_del(fx.sock, "orch_nope", "web-3", 0),
	    ORCH_ENOTFOUND);
	fx_down();
}

/*
 * A request in flight on a drained server finishes: web-2 is frozen
 * (SIGSTOP) so requests hang on it, which also shows its sessions; it
 * cannot be deleted while they are there; once it runs again they
 * complete, its sessions fall to 0 and the delete goes through.
 */
TEST(haproxy_drain__in_flight_requests_finish)
{
	const struct loadgen_version *v2;
	struct loadgen_result r;
	struct loadgen *lg = NULL;
	int64_t t_drained, t_del;
	int rc;

	REQUIRE(fx_up() == 0);
	REQUIRE(app_serve(fx.blue, "web-1", "v1", 100) == 0);
	REQUIRE(app_serve(fx.blue, "web-2", "v2", 100) == 0);
	REQUIRE(kill(fx.apps[1].d->pid, SIGSTOP) == 0);
	REQUIRE(loadgen_start(&lg, &(struct loadgen_opts){.port = fx.port,
	    .conns = 4, .duration_ms = 6000, .timeout_ms = 5000}) == 0);
	CHECK(WAIT_FOR(sessions_of(fx.blue, "web-2") >= 1, 3000));
	CHECK_EQ_INT(haproxy_server_drain(fx.sock, fx.blue, "web-2"), 0);
	t_drained = orch_mono_ms();
	/* Busy: refused after the bound, left in maint. */
	CHECK_EQ_INT(haproxy_server_del(fx.sock, fx.blue, "web-2", 100),
	    ORCH_EEXISTS);
	CHECK_CONTAINS(orch_err_last(), "still has connections");
	CHECK(sessions_of(fx.blue, "web-2") >= 1);
	REQUIRE(kill(fx.apps[1].d->pid, SIGCONT) == 0);
	CHECK(WAIT_FOR(sessions_of(fx.blue, "web-2") == 0, 3000));
	t_del = orch_mono_ms();
	if ((rc = haproxy_server_del(fx.sock, fx.blue, "web-2", 3000)) != 0)
		check_fail(__FILE__, __LINE__, "del after SIGCONT: %d %s", rc,
		    orch_err_last());
	t_del = orch_mono_ms() - t_del;
	CHECK_EQ_INT(sessions_of(fx.blue, "web-2"), -1);
	loadgen_stop(lg);
	REQUIRE(loadgen_wait(&r, lg) == 0);
	report("frozen+drain", &r);
	printf("  del after the hung requests ended: %lld ms\n", (long long)t_del);
	CHECK_EQ_INT(loadgen_failed(&r), 0);
	/* The hung requests were answered by web-2 itself, after the drain. */
	REQUIRE((v2 = loadgen_version(&r, "v2")) != NULL);
	CHECK(v2->count >= 1);
	CHECK(v2->first_done_ms >= t_drained);
	CHECK(v2->last_sent_ms <= t_drained);
	fx_down();
}

TEST(haproxy_switch__blue_green_atomic_under_load)
{
	const struct loadgen_version *v1, *v2;
	struct loadgen_result r;
	struct loadgen *lg = NULL;
	char live[HAPROXY_NAME_MAX];
	int64_t t0, t1;
	long base;

	REQUIRE(fx_up() == 0);
	REQUIRE(app_serve(fx.blue, "web-b1", "v1", 100) == 0);
	REQUIRE(app_serve(fx.blue, "web-b2", "v1", 100) == 0);
	CHECK_EQ_INT(haproxy_live_backend(live, sizeof(live), fx.sock, fx.map, SVC), 0);
	CHECK_STR(live, fx.blue);
	/* An empty colour is never switched to: it would answer 503. */
	CHECK_EQ_INT(haproxy_switch(fx.sock, fx.map, SVC, fx.green), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "none of its 0 servers");
	CHECK_EQ_INT(haproxy_live_backend(live, sizeof(live), fx.sock, fx.map, SVC), 0);
	CHECK_STR(live, fx.blue);

	REQUIRE(app_serve(fx.green, "web-g1", "v2", 100) == 0);
	REQUIRE(app_serve(fx.green, "web-g2", "v2", 100) == 0);
	REQUIRE(loadgen_start(&lg, &(struct loadgen_opts){.port = fx.port,
	    .conns = 8, .duration_ms = 8000}) == 0);
	CHECK(WAIT_FOR(loadgen_progress(lg) > 2000, 4000));
	t0 = orch_mono_ms();
	CHECK_EQ_INT(haproxy_switch(fx.sock, fx.map, SVC, fx.green), 0);
	t1 = orch_mono_ms();
	base = loadgen_progress(lg);
	CHECK(WAIT_FOR(loadgen_progress(lg) > base + 2000, 4000));
	loadgen_stop(lg);
	REQUIRE(loadgen_wait(&r, lg) == 0);
	report("blue-green", &r);
	printf("  switch took %lld ms\n", (long long)(t1 - t0));

	CHECK_EQ_INT(loadgen_failed(&r), 0);
	CHECK_EQ_INT(r.nversions, 2);
	REQUIRE((v1 = loadgen_version(&r, "v1")) != NULL);
	REQUIRE((v2 = loadgen_version(&r, "v2")) != NULL);
	/* Before the switch only v1, after it only v2: v1 answered nothing
	 * sent after the switch returned, v2 nothing before it began. */
	CHECK(v1->last_sent_ms <= t1);
	CHECK(v2->first_done_ms >= t0);
	CHECK(v1->count > 1500 && v2->count > 1500);
	CHECK_EQ_INT(haproxy_live_backend(live, sizeof(live), fx.sock, fx.map, SVC), 0);
	CHECK_STR(live, fx.green);

	REQUIRE(loadgen_run(&r, &(struct loadgen_opts){.port = fx.port, .conns = 4,
	    .requests = 500}) == 0);
	CHECK_EQ_INT(loadgen_failed(&r), 0);
	CHECK_EQ_INT(r.nversions, 1);
	CHECK_EQ_INT(share(&r, "v2"), 100);

	/* And back (a rollback is the same flip). */
	CHECK_EQ_INT(haproxy_switch(fx.sock, fx.map, SVC, fx.blue), 0);
	REQUIRE(loadgen_run(&r, &(struct loadgen_opts){.port = fx.port, .conns = 4,
	    .requests = 200}) == 0);
	CHECK_EQ_INT(share(&r, "v1"), 100);
	fx_down();
}

/* A unix socket that accepts connections but never answers. */
static int
mute_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 4) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

TEST(haproxy_errors__clear_and_bounded)
{
	struct haproxy_server *v = NULL;
	char path[400], live[HAPROXY_NAME_MAX], longp[200];
	size_t n = 0;
	int64_t t;
	int mute;

	/* A backend HAProxy cannot add servers to (static algorithm). */
	REQUIRE(fx_up_with("\nbackend orch_static\n    balance static-rr\n") == 0);
	CHECK_EQ_INT(haproxy_server_add(fx.sock, "orch_static", "x", "127.0.0.1",
	    80, 1), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "dynamic");
	CHECK_CONTAINS(orch_err_last(), "balance roundrobin");

	/* No such socket. */
	CHECK_EQ_INT(haproxy_servers(&v, &n, "/nonexistent/haproxy.sock", fx.blue),
	    ORCH_EUNAVAIL);
	CHECK_CONTAINS(orch_err_last(), "/nonexistent/haproxy.sock");
	CHECK_CONTAINS(orch_err_last(), "No such file");
	/* A file that is not a socket. */
	CHECK_EQ_INT(haproxy_server_drain(fx.cfg, fx.blue, "x"), ORCH_EUNAVAIL);
	CHECK_CONTAINS(orch_err_last(), fx.cfg);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK_EQ_INT(haproxy_servers(&v, &n, longp, fx.blue), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "too long");
	/* A socket that never answers costs HAPROXY_TIMEOUT_MS, no more. */
	snprintf(path, sizeof(path), "%s/mute.sock", fx.dir);
	REQUIRE((mute = mute_socket(path)) >= 0);
	t = orch_mono_ms();
	CHECK_EQ_INT(haproxy_server_weight(path, fx.blue, "x", 1), ORCH_EUNAVAIL);
	t = orch_mono_ms() - t;
	CHECK_CONTAINS(orch_err_last(), "no answer within 500 ms");
	CHECK(t >= HAPROXY_TIMEOUT_MS - 10 && t < HAPROXY_TIMEOUT_MS + 300);
	close(mute);

	/* Unknown backend, server, map, key. */
	CHECK_EQ_INT(haproxy_servers(&v, &n, fx.sock, "orch_nope"), ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "no backend \"orch_nope\"");
	CHECK(v == NULL && n == 0);
	CHECK_EQ_INT(haproxy_server_add(fx.sock, "orch_nope", "x", "127.0.0.1", 80, 1),
	    ORCH_ENOTFOUND);
	CHECK_EQ_INT(haproxy_server_drain(fx.sock, fx.blue, "nope"), ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "no such server");
	CHECK_EQ_INT(haproxy_server_weight(fx.sock, "orch_nope", "x", 1), ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "no such backend");
	CHECK_EQ_INT(haproxy_switch(fx.sock, fx.map, SVC, "orch_nope"), ORCH_ENOTFOUND);
	CHECK_EQ_INT(haproxy_live_backend(live, sizeof(live), fx.sock, "/no/such.map",
	    SVC), ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "no such map");
	CHECK_EQ_INT(haproxy_live_backend(live, sizeof(live), fx.sock, fx.map, "db"),
	    ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "no key \"db\"");

	/* Arguments refused before anything is sent. */
	CHECK_EQ_INT(haproxy_server_weight(fx.sock, fx.blue, "x", 300), ORCH_EINVALID);
	CHECK_EQ_INT(haproxy_server_add(fx.sock, fx.blue, "a;shutdown sessions",
	    "127.0.0.1", 80, 1), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "may hold only");
	CHECK_EQ_INT(haproxy_server_add(fx.sock, fx.blue, "x", "localhost", 80, 1),
	    ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "numeric IP");
	CHECK_EQ_INT(haproxy_server_add(fx.sock, fx.blue, "x", "127.0.0.1", 0, 1),
	    ORCH_EINVALID);
	CHECK_EQ_INT(haproxy_switch(fx.sock, "/m\nshutdown", SVC, fx.blue),
	    ORCH_EINVALID);
	/* HAProxy still fine after all that. */
	CHECK(hap_answers());
	CHECK(daemon_running(fx.hap));
	fx_down();
}

CHECK_MAIN(haproxy_config__accepted_by_haproxy, haproxy_split_weights__shares,
    haproxy_add__servers_take_traffic,
    haproxy_weight__canary_shares, haproxy_del__drain_then_delete_under_load,
    haproxy_drain__in_flight_requests_finish,
    haproxy_switch__blue_green_atomic_under_load, haproxy_errors__clear_and_bounded)
