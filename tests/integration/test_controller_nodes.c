/*
 * test_controller_nodes.c - node failures with a real controller and two
 * real slaves: a slave killed -9 makes its node Suspect then Lost (an
 * alert is posted to the manifest's webhook), its cattle are rescheduled
 * on the other node and its pet is never started twice; the slave comes
 * back, re-adopts its processes, and the controller stops the extra
 * cattle. Then a drain moves cattle away and keeps the pet.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "err.h"

static struct cluster *cl;
static struct MHD_Daemon *hook;
static int hook_port;
static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;
static char hook_seen[16384];   /* alert bodies received, concatenated */

/* ---- a webhook receiver (its own thread, like a real alert sink) ---- */

static enum MHD_Result
hook_answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **req)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (*req == NULL) {
		*req = (void *)1;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		pthread_mutex_lock(&hook_mu);
		strncat(hook_seen, upload, *upload_size < sizeof(hook_seen) - strlen(hook_seen) - 1 ?
		    *upload_size : sizeof(hook_seen) - strlen(hook_seen) - 1);
		strncat(hook_seen, "\n", sizeof(hook_seen) - strlen(hook_seen) - 1);
		pthread_mutex_unlock(&hook_mu);
		*upload_size = 0;
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static bool
hook_has(const char *needle)
{
	bool has;

	pthread_mutex_lock(&hook_mu);
	has = strstr(hook_seen, needle) != NULL;
	pthread_mutex_unlock(&hook_mu);
	return has;
}

/* ---- helpers ---- */

static const char *
manifest_with(const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	    "architecture: nodes\n"
	    "alerts:\n"
	    "  webhook: http://127.0.0.1:%d/alert\n"
	    "services:\n"
	    "  db:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--data\", \"${ORCH_DATA_DIR}\"]\n"
	    "    ports: [kv]\n"
	    "    health: {type: tcp, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n%s",
	    hook_port, cluster_app("kv"), cluster_app("httpapp"), extra);
	return buf;
}

static const char *
manifest(void)
{
	return manifest_with("");
}

static const char *
inst_str(const char *id, const char *field)
{
	static char buf[256];
	json_t *i = cluster_instance(cl, id);
	const char *v = i ? json_string_value(json_object_get(i, field)) : NULL;

	snprintf(buf, sizeof(buf), "%s", v ? v : "");
	json_decref(i);
	return buf;
}

/* Desired instances of service in state Run on node. */
static int
on_node(const char *service, const char *node)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *list;
	int n = 0;

	list = json_object_get(j, "instances");
	for (size_t k = 0; k < json_array_size(list); k++) {
		json_t *i = json_array_get(list, k);
		const char *s = json_string_value(json_object_get(i, "service"));
		const char *nd = json_string_value(json_object_get(i, "node"));
		const char *st = json_string_value(json_object_get(i, "state"));

		if (s && strcmp(s, service) == 0 && nd && strcmp(nd, node) == 0 &&
		    st && strcmp(st, "Run") == 0 && json_is_true(json_object_get(i, "desired")))
			n++;
	}
	json_decref(j);
	return n;
}

/* What a slave itself runs of service (its own API), -1 on error. */
static int
slave_runs(size_t idx, const char *service)
{
	char url[256];
	json_t *j = NULL, *list;
	long st = 0;
	int n = 0;

	snprintf(url, sizeof(url), "%s/v1/instances", cl->slaves[idx].url);
	http_json(&j, &st, "GET", url, CL_TOKEN, NULL);
	if (st != 200) {
		json_decref(j);
		return -1;
	}
	list = json_object_get(j, "instances");
	for (size_t k = 0; k < json_array_size(list); k++) {
		const char *s = json_string_value(json_object_get(json_array_get(list, k),
		    "service"));

		if (s && strcmp(s, service) == 0)
			n++;
	}
	json_decref(j);
	return n;
}

static bool
converged(void)
{
	return cluster_service_is(cl, "db", "Run") && cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2 && cluster_count(cl, "db", "Run") == 1;
}

static size_t
slave_index(const char *node)
{
	for (size_t i = 0; i < cl->nslaves; i++)
		if (strcmp(cl->slaves[i].name, node) == 0)
			return i;
	return 0;
}

/* ---- tests ---- */

TEST(nodes__deploy)
{
	const union MHD_DaemonInfo *info;

	hook = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, hook_answer,
	    NULL, MHD_OPTION_END);
	REQUIRE(hook != NULL);
	info = MHD_get_daemon_info(hook, MHD_DAEMON_INFO_BIND_PORT);
	REQUIRE(info != NULL);
	hook_port = info->port;
	REQUIRE(cluster_start(&cl, 2, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest(), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(converged(), CL_WAIT));
}

TEST(nodes__lost_node_cattle_rescheduled_pet_not_duplicated)
{
	char pet_node[64], other[64];
	size_t p, q;

	REQUIRE(cl != NULL && converged());
	snprintf(pet_node, sizeof(pet_node), "%s", inst_str("db-0", "node"));
	REQUIRE(pet_node[0] != '\0');
	p = slave_index(pet_node);
	q = p == 0 ? 1 : 0;
	snprintf(other, sizeof(other), "%s", cl->slaves[q].name);
	/* The pet's node dies (its processes live on, unseen). */
	CHECK_EQ_INT(cluster_slave_stop(cl, p, SIGKILL), 128 + SIGKILL);
	CHECK(WAIT_FOR(cluster_node_is(cl, pet_node, "Lost"), CL_WAIT));
	CHECK(WAIT_FOR(hook_has("node_lost") && hook_has(pet_node), CL_WAIT));
	/* Both web instances now run on the other node... */
	CHECK(WAIT_FOR(on_node("web", other) == 2, CL_WAIT));
	CHECK_EQ_INT(slave_runs(q, "web"), 2);
	/* ...and the pet was not started there: same id, same node. */
	CHECK_STR(cluster_ids(cl, "db"), "db-0");
	CHECK_STR(inst_str("db-0", "node"), pet_node);
	CHECK_EQ_INT(slave_runs(q, "db"), 0);

	/* The node comes back and re-adopts its processes; the controller
	 * stops the web instance it replaced meanwhile. */
	REQUIRE(cluster_slave_start(cl, p) == 0);
	CHECK(WAIT_FOR(cluster_node_is(cl, pet_node, "Ready"), CL_WAIT));
	CHECK(WAIT_FOR(slave_runs(p, "web") == 0, CL_WAIT));
	CHECK(WAIT_FOR(converged(), CL_WAIT));
	CHECK_EQ_INT(slave_runs(p, "db"), 1);
	CHECK_EQ_INT(slave_runs(q, "db"), 0);
	CHECK_EQ_INT(slave_runs(q, "web"), 2);
	CHECK_STR(inst_str("db-0", "node"), pet_node);
}

TEST(nodes__drain_moves_cattle_keeps_pet)
{
	char pet_node[64], path[256];
	json_t *j;
	long st;
	size_t p, q;

	REQUIRE(cl != NULL && converged());
	snprintf(pet_node, sizeof(pet_node), "%s", inst_str("db-0", "node"));
	p = slave_index(pet_node);
	q = p == 0 ? 1 : 0;
	/* Drain the node that has the cattle: they move to the pet's node. */
	snprintf(path, sizeof(path), "/v1/nodes/%s/drain", cl->slaves[q].name);
	j = cluster_call(cl, &st, "POST", path, NULL);
	CHECK_EQ_INT(st, 200);
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Draining");
	json_decref(j);
	CHECK(WAIT_FOR(cluster_node_is(cl, cl->slaves[q].name, "Draining"), CL_WAIT));
	CHECK(WAIT_FOR(on_node("web", pet_node) == 2 && slave_runs(q, "web") == 0, CL_WAIT));
	CHECK(WAIT_FOR(converged(), CL_WAIT));
	CHECK_STR(inst_str("db-0", "node"), pet_node);
	/* Lifting the drain makes it Ready again; nothing needs to move. */
	j = cluster_call(cl, &st, "POST", path, "{\"drain\": false}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(cluster_node_is(cl, cl->slaves[q].name, "Ready"), CL_WAIT));
	/* Unknown node, no token, bad body. */
	j = cluster_call(cl, &st, "POST", "/v1/nodes/nope/drain", NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	{
		char url[512];
		struct http_result r;

		snprintf(url, sizeof(url), "%s%s", cl->url, path);
		CHECK(http_request(&r, "POST", url, NULL, "{}", 2, 5000) == 0);
		CHECK_EQ_INT(r.status, 401);
		http_result_free(&r);
	}
	j = cluster_call(cl, &st, "POST", path, "{\"drain\": 3}");
	CHECK_EQ_INT(st, 400);
	json_decref(j);
}

TEST(nodes__pet_past_its_restart_limit_fails_and_alerts)
{
	json_t *j;

	REQUIRE(cl != NULL && converged());
	REQUIRE(cluster_commit(cl, manifest_with(
	    "  crashy:\n"
	    "    kind: pet\n"
	    "    version: \"0.0.1\"\n"
	    "    command: [\"/bin/sh\", \"-c\", \"exit 3\"]\n"
	    "    restart: {limit: 2, window: 60s, backoff: 50ms, max_backoff: 100ms}\n"),
	    NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	/* The slave revives it in place until the limit, then gives up: the
	 * service is Failed (a person decides) and the webhook hears it. */
	CHECK(WAIT_FOR(cluster_service_is(cl, "crashy", "Failed"), CL_WAIT));
	CHECK(WAIT_FOR(hook_has("\"service\":\"crashy\""), CL_WAIT));
	CHECK_STR(cluster_ids(cl, "crashy"), "crashy-0");
	j = cluster_get(cl, "/v1/services/crashy");
	CHECK(strlen(json_string_value(json_object_get(j, "reason"))) > 0);
	json_decref(j);
	/* The others are untouched. */
	CHECK(converged());
}

TEST(nodes__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
	MHD_stop_daemon(hook);
	hook = NULL;
}

CHECK_MAIN(nodes__deploy, nodes__lost_node_cattle_rescheduled_pet_not_duplicated,
    nodes__drain_moves_cattle_keeps_pet, nodes__pet_past_its_restart_limit_fails_and_alerts,
    nodes__finish)
