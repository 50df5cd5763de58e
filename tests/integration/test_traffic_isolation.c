/*
 * test_traffic_isolation.c - one service's HAProxy error does not stop
 * the others' traffic (issue 10 #4). A real HAProxy whose haproxy.cfg has
 * backends for `web` only, a real controller with --haproxy, 2 slaves:
 *
 *   alpha    has a port, no backend in haproxy.cfg (first in the
 *            manifest, so the first synced): reported in its reason
 *            (/v1/status and `orchctl status`), one event, a metric
 *   web      2 replicas behind HAProxy: gets its servers, serves 200s
 *   worker   has a port and `route: false`: needs no backend, no error
 *
 * and a stop of an instance with no session in HAProxy goes out without
 * the 10 s hold (the bound for a server that never drains): web 2 -> 1
 * and alpha 2 -> 1 each end well within 5 s.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "daemon.h"
#include "err.h"
#include "hapfix.h"
#include "haproxy.h"
#include "loadgen.h"
#include "run.h"
#include "units.h"

#define QUICK_STOP_MS 5000 /* the hold's bound is 10 s */

static struct cluster *cl;
static struct hapfix hap;

static const char *
manifest(void)
{
	static char buf[4096];
	const char *app = cluster_app("httpapp");

	snprintf(buf, sizeof(buf),
	    "architecture: iso\n"
	    "services:\n"
	    "  alpha:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"a1\"]\n"
	    "    ports: [http]\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"w1\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "  worker:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"k1\"]\n"
	    "    ports: [http]\n"
	    "    route: false\n"
	    "    stop: {signal: TERM, timeout: 2s}\n",
	    app, app, app);
	return buf;
}

/* HAProxy's backend has n servers, all ready and up. */
static bool
servers_are(const char *backend, size_t n)
{
	struct haproxy_server *v = NULL;
	size_t got = 0;
	bool ok = haproxy_servers(&v, &got, hap.sock, backend) == 0 && got == n;

	for (size_t k = 0; ok && k < got; k++)
		ok = v[k].admin == HAPROXY_READY && v[k].up;
	free(v);
	return ok;
}

static char *
service_field(const char *service, const char *field)
{
	char path[128];
	json_t *j;
	char *v = NULL;

	snprintf(path, sizeof(path), "/v1/services/%s", service);
	if ((j = cluster_get(cl, path)) != NULL) {
		const char *s = json_string_value(json_object_get(j, field));

		v = s ? strdup(s) : NULL;
	}
	json_decref(j);
	return v;
}

static bool
reason_has(const char *service, const char *text)
{
	char *r = service_field(service, "reason");
	bool yes = r != NULL && strstr(r, text) != NULL;

	free(r);
	return yes;
}

/* The value of a /metrics line that starts with key; -1 when missing. */
static long
metric(const char *key)
{
	struct http_result h = {0};
	char url[200], k[200];
	const char *p;
	long v = -1;

	snprintf(url, sizeof(url), "%s/metrics", cl->url);
	snprintf(k, sizeof(k), "\n%s ", key);
	if (http_request(&h, "GET", url, CL_TOKEN, NULL, 0, 5000) == 0 && h.body != NULL &&
	    (p = strstr(h.body, k)) != NULL)
		v = strtol(p + strlen(k), NULL, 10);
	http_result_free(&h);
	return v;
}

/* Events of service whose cause contains text. */
static int
events_with(const char *service, const char *text)
{
	char path[160];
	json_t *j, *evs;
	int n = 0;

	snprintf(path, sizeof(path), "/v1/events?service=%s&limit=1000", service);
	j = cluster_get(cl, path);
	evs = json_is_array(j) ? j : json_object_get(j, "events");
	for (size_t k = 0; k < json_array_size(evs); k++) {
		const char *cause = json_string_value(json_object_get(json_array_get(evs, k),
		    "cause"));

		n += cause != NULL && strstr(cause, text) != NULL;
	}
	json_decref(j);
	return n;
}

/* Every instance record of service, Destroy included. */
static int
records(const char *service)
{
	json_t *j = cluster_get(cl, "/v1/instances");
	json_t *v = json_is_array(j) ? j : json_object_get(j, "instances");
	int n = 0;

	for (size_t k = 0; k < json_array_size(v); k++) {
		const char *s = json_string_value(json_object_get(json_array_get(v, k),
		    "service"));

		n += s != NULL && strcmp(s, service) == 0;
	}
	json_decref(j);
	return n;
}

static long
scale(const char *service, int n)
{
	char path[128], body[64];
	long st = 0;

	snprintf(path, sizeof(path), "/v1/services/%s/scale", service);
	snprintf(body, sizeof(body), "{\"replicas\": %d}", n);
	json_decref(cluster_call(cl, &st, "POST", path, body));
	return st;
}

/* ms from a scale-in of service to n until its last extra record is gone. */
static int64_t
scale_in_ms(const char *service, int n)
{
	int64_t t0 = orch_mono_ms();

	if (scale(service, n) != 200 || !WAIT_FOR(records(service) == n, CL_WAIT))
		return -1;
	return orch_mono_ms() - t0;
}

TEST(isolation__start)
{
	REQUIRE(hapfix_bin() != NULL); /* scripts/deps test installs it */
	REQUIRE(hapfix_start(&hap, (const char *const[]){"web"}, 1) == 0);
	REQUIRE(cluster_start(&cl, 2, hap.ctl_args) == 0);
	REQUIRE(cluster_commit(cl, manifest(), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(cluster_service_is(cl, "alpha", "Run") &&
	    cluster_service_is(cl, "web", "Run") &&
	    cluster_service_is(cl, "worker", "Run"), CL_WAIT));
}

/* alpha's missing backend leaves web routed: its two servers, 200s. */
TEST(isolation__other_service_still_served)
{
	struct loadgen_result r;
	const struct loadgen_version *v;

	REQUIRE(cl != NULL);
	CHECK(WAIT_FOR(servers_are("orch_web_blue", 2), CL_WAIT));
	REQUIRE(loadgen_run(&r, &(struct loadgen_opts){.port = hap.port[0], .conns = 2,
	    .requests = 200}) == 0);
	v = loadgen_version(&r, "w1");
	printf("# web through haproxy: %ld answered, %ld failed\n", (long)r.answered,
	    loadgen_failed(&r));
	CHECK_EQ_INT(loadgen_failed(&r), 0);
	CHECK(v != NULL && v->count == 200);
}

/* alpha says why (status, orchctl, one event, a metric); worker, which
 * declares route: false, has nothing to say. */
TEST(isolation__missing_backend_reported)
{
	char tok[600], bin[512];
	const char *env[] = {"ORCH_CONTROLLER=", "ORCH_TOKEN=", NULL};
	struct run_result rr = {0};
	char *state;

	REQUIRE(cl != NULL);
	CHECK(WAIT_FOR(reason_has("alpha", "no backend orch_alpha_blue"), CL_WAIT));
	state = service_field("alpha", "state");
	CHECK_STR(state, "Run"); /* its instances run; only routing is missing */
	free(state);
	/* Several syncs failed, the event was written once. */
	CHECK(WAIT_FOR(metric("orch_haproxy_service_errors_total{service=\"alpha\"}") >= 3,
	    CL_WAIT));
	CHECK_EQ_INT(events_with("alpha", "no backend orch_alpha_blue"), 1);
	CHECK_EQ_INT(metric("orch_haproxy_service_errors_total{service=\"worker\"}"), -1);
	CHECK_EQ_INT(metric("orch_haproxy_service_errors_total{service=\"web\"}"), -1);
	CHECK(!reason_has("worker", "haproxy"));
	CHECK(!reason_has("web", "haproxy"));

	snprintf(bin, sizeof(bin), "%s/orchctl/orchctl", getenv("ORCH_BUILD_DIR") ?
	    getenv("ORCH_BUILD_DIR") : "build");
	snprintf(tok, sizeof(tok), "%s", cl->token_file);
	REQUIRE(run_capture(&rr, (const char *const[]){bin, "--controller", cl->url,
	    "--token-file", tok, "status", NULL}, NULL, env, 20000) == 0);
	CHECK_EQ_INT(rr.status, 0);
	CHECK_CONTAINS(rr.out, "no backend orch_alpha_blue");
	run_result_free(&rr);
}

/* Stops of instances with no session in HAProxy: no 10 s hold, for a
 * routed service (web, which served just before) and for the one with
 * no backend (alpha). */
TEST(isolation__idle_stop_is_quick)
{
	int64_t web_ms, alpha_ms;

	REQUIRE(cl != NULL);
	web_ms = scale_in_ms("web", 1);
	printf("# web 2 -> 1: last record gone in %lld ms\n", (long long)web_ms);
	CHECK(web_ms >= 0 && web_ms < QUICK_STOP_MS);
	CHECK(WAIT_FOR(servers_are("orch_web_blue", 1), CL_WAIT));

	CHECK_EQ_INT(scale("alpha", 2), 200);
	CHECK(WAIT_FOR(cluster_count(cl, "alpha", "Run") == 2, CL_WAIT));
	alpha_ms = scale_in_ms("alpha", 1);
	printf("# alpha 2 -> 1: last record gone in %lld ms\n", (long long)alpha_ms);
	CHECK(alpha_ms >= 0 && alpha_ms < QUICK_STOP_MS);
}

TEST(isolation__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
	hapfix_free(&hap);
}

CHECK_MAIN(isolation__start, isolation__other_service_still_served,
    isolation__missing_backend_reported, isolation__idle_stop_is_quick,
    isolation__finish)
