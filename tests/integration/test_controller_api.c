/*
 * test_controller_api.c - the controller's command line and HTTP surface
 * without slaves: usage errors, auth, bad bodies, size limits, unknown
 * names, dry-run apply, node registration and ageing (Ready -> Suspect ->
 * Lost without heartbeats), the event log and its Server-Sent Events form,
 * and /metrics.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cluster.h"
#include "err.h"
#include "run.h"

static struct cluster *cl;

static const char *
valid_manifest(void)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
	    "architecture: api\n"
	    "version: \"3.1.0\"\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    min: 1\n"
	    "    max: 3\n",
	    cluster_app("httpapp"));
	return buf;
}

static int
run_ctl(struct run_result *r, const char *const *args)
{
	const char *argv[32];
	char *bin = daemon_binary("controller/orch-controller");
	size_t n = 0;
	int rc;

	argv[n++] = bin;
	for (size_t i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	rc = run_capture(r, argv, NULL, NULL, 20000);
	free(bin);
	return rc;
}

/* A raw request with any headers; status and body (malloc'd) out. */
static long
raw(char **out_body, char **out_ctype, const char *method, const char *path,
    const char *const *headers, const char *body, size_t len)
{
	struct http_result r;
	char url[512];
	long st;
	CURL *e;
	struct curl_slist *h = NULL;
	FILE *mem;
	char *buf = NULL, *ct = NULL;
	size_t blen = 0;

	(void)r;
	snprintf(url, sizeof(url), "%s%s", cl->url, path);
	if ((e = curl_easy_init()) == NULL || (mem = open_memstream(&buf, &blen)) == NULL)
		return 0;
	for (size_t i = 0; headers && headers[i]; i++)
		h = curl_slist_append(h, headers[i]);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(e, CURLOPT_WRITEDATA, mem);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	st = 0;
	if (curl_easy_perform(e) == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
		if (out_ctype) {
			char *c = NULL;

			curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &c);
			ct = c ? strdup(c) : NULL;
		}
	}
	fclose(mem);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	if (out_body)
		*out_body = buf;
	else
		free(buf);
	if (out_ctype)
		*out_ctype = ct;
	return st;
}

TEST(api__usage_errors_exit_2)
{
	static const char *const cases[][12] = {
		{NULL},
		{"--repo", "/nonexistent", NULL},
		{"--repo", "r", "--data-dir", "d", "--listen", "127.0.0.1:0", NULL},
		{"--repo", "r", "--data-dir", "d", "--listen", "nowhere", "--token-file", "t", NULL},
		{"--repo", "r", "--data-dir", "d", "--listen", "127.0.0.1:0", "--token-file", "t",
		    "--node-lost", "1s", NULL},
		{"--repo", "r", "--data-dir", "d", "--listen", "127.0.0.1:0", "--token-file", "t",
		    "--resync", "5", NULL},
		{"--repo", "r", "--data-dir", "d", "--listen", "127.0.0.1:0", "--token-file", "t",
		    "--bogus", NULL},
		{"--repo", "r", "--data-dir", "d", "--listen", "127.0.0.1:0", "--token-file", "t",
		    "extra-arg", NULL},
		{"--repo", "r", "--data-dir", "d", "--listen", "127.0.0.1:0", "--token-file", "t",
		    "--log-level", "loud", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run_result r;

		REQUIRE(run_ctl(&r, cases[i]) == 0);
		CHECK_EQ_INT(r.status, 2);
		CHECK_CONTAINS(r.err, "orch-controller: ");
		CHECK_CONTAINS(r.err, "usage:");
		run_result_free(&r);
	}
}

TEST(api__bad_repo_or_token_exit_1)
{
	char *dir = NULL, data[512], tok[512], empty[512];
	struct run_result r;

	REQUIRE(daemon_tmpdir(&dir, "ctlargs") == 0);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	write_secret(tok, "secret\n");
	write_file(empty, "  \n");
	{
		const char *const args[] = {"--repo", dir, "--data-dir", data, "--listen",
		    "127.0.0.1:0", "--token-file", tok, NULL};

		REQUIRE(run_ctl(&r, args) == 0);
		CHECK_EQ_INT(r.status, 1);
		CHECK_CONTAINS(r.err, "repository");
		run_result_free(&r);
	}
	{
		const char *const args[] = {"--repo", dir, "--data-dir", data, "--listen",
		    "127.0.0.1:0", "--token-file", empty, NULL};

		REQUIRE(run_ctl(&r, args) == 0);
		CHECK_EQ_INT(r.status, 1);
		CHECK_CONTAINS(r.err, "empty");
		run_result_free(&r);
	}
	daemon_rmtree(dir);
	free(dir);
}

TEST(api__reads_are_public_mutations_need_the_token)
{
	const char *const wrong[] = {"Authorization: Bearer nope", NULL};
	const char *const auth[] = {"Authorization: Bearer " CL_TOKEN, NULL};
	json_t *j;
	long st;

	REQUIRE(cluster_start(&cl, 0, NULL) == 0);
	j = cluster_get(cl, "/v1/status");
	REQUIRE(j != NULL);
	CHECK(json_is_null(json_object_get(j, "revision")));
	CHECK_EQ_INT(json_array_size(json_object_get(j, "services")), 0);
	json_decref(j);
	CHECK_EQ_INT(raw(NULL, NULL, "POST", "/v1/apply", NULL, "{}", 2), 401);
	CHECK_EQ_INT(raw(NULL, NULL, "POST", "/v1/apply", wrong, "{}", 2), 401);
	CHECK_EQ_INT(raw(NULL, NULL, "POST", "/v1/nodes/register", NULL, "{}", 2), 401);
	CHECK_EQ_INT(raw(NULL, NULL, "POST", "/v1/nodes/x/heartbeat", NULL, "{}", 2), 401);
	/* Reads need a credential too (issue 12; --public-read lifts it:
	 * test_auth_roles.c). */
	CHECK_EQ_INT(raw(NULL, NULL, "GET", "/v1/nodes", NULL, NULL, 0), 401);
	CHECK_EQ_INT(raw(NULL, NULL, "GET", "/v1/instances", NULL, NULL, 0), 401);
	CHECK_EQ_INT(raw(NULL, NULL, "GET", "/v1/revisions", NULL, NULL, 0), 401);
	CHECK_EQ_INT(raw(NULL, NULL, "GET", "/v1/revisions", auth, NULL, 0), 200);
	/* Unknown paths are not public: without the token they are 401. */
	CHECK_EQ_INT(raw(NULL, NULL, "GET", "/v1/nope", NULL, NULL, 0), 401);
	j = cluster_call(cl, &st, "GET", "/v1/nope", NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	j = cluster_call(cl, &st, "DELETE", "/v1/status", NULL);
	CHECK_EQ_INT(st, 405);
	json_decref(j);
	j = cluster_call(cl, &st, "GET", "/v1/services/nope", NULL);
	CHECK_EQ_INT(st, 404);
	CHECK_STR(json_string_value(json_object_get(j, "error")), "not found");
	json_decref(j);
	j = cluster_call(cl, &st, "GET", "/v1/services/nope/endpoints", NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	j = cluster_call(cl, &st, "GET", "/v1/nodes/nope", NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
}

TEST(api__bad_bodies_change_nothing)
{
	const char *const auth[] = {"Authorization: Bearer " CL_TOKEN,
	    "Content-Type: application/json", NULL};
	size_t big = 5 * 1024 * 1024;
	char *huge;
	json_t *j;
	long st;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, valid_manifest(), NULL) == 0);
	j = cluster_call(cl, &st, "POST", "/v1/apply", "not json");
	CHECK_EQ_INT(st, 400);
	CHECK(json_string_value(json_object_get(j, "error")) != NULL);
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/apply", "{\"ref\": 5}");
	CHECK_EQ_INT(st, 400);
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/apply", "[1]");
	CHECK_EQ_INT(st, 400);
	json_decref(j);
	huge = malloc(big);
	REQUIRE(huge != NULL);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	CHECK_EQ_INT(raw(NULL, NULL, "POST", "/v1/apply", auth, huge, big), 413);
	free(huge);
	/* Nothing of the above was applied. */
	j = cluster_get(cl, "/v1/revisions");
	CHECK_EQ_INT(json_array_size(json_object_get(j, "revisions")), 0);
	json_decref(j);
}

TEST(api__dry_run_plans_without_applying)
{
	json_t *j, *svcs;
	long st;

	REQUIRE(cl != NULL);
	j = cluster_call(cl, &st, "POST", "/v1/apply", "{\"dry_run\": true}");
	CHECK_EQ_INT(st, 200);
	CHECK(json_is_true(json_object_get(j, "dry_run")));
	svcs = json_object_get(json_object_get(j, "plan"), "services");
	CHECK_EQ_INT(json_array_size(svcs), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(svcs, 0), "action")), "added");
	CHECK_STR(json_string_value(json_object_get(json_array_get(svcs, 0), "name")), "web");
	json_decref(j);
	j = cluster_get(cl, "/v1/status");
	CHECK_EQ_INT(json_array_size(json_object_get(j, "services")), 0);
	json_decref(j);
	j = cluster_get(cl, "/v1/revisions");
	CHECK_EQ_INT(json_array_size(json_object_get(j, "revisions")), 0);
	json_decref(j);
}

TEST(api__apply_without_nodes_waits)
{
	json_t *j, *s;

	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_apply(cl, "main"), 200);
	j = cluster_get(cl, "/v1/status");
	CHECK_STR(json_string_value(json_object_get(j, "architecture")), "api");
	CHECK_STR(json_string_value(json_object_get(j, "version")), "3.1.0");
	CHECK(json_string_value(json_object_get(json_object_get(j, "revision"), "commit")) != NULL);
	s = json_array_get(json_object_get(j, "services"), 0);
	CHECK_STR(json_string_value(json_object_get(s, "name")), "web");
	CHECK_STR(json_string_value(json_object_get(s, "kind")), "cattle");
	CHECK_STR(json_string_value(json_object_get(s, "strategy")), "rolling");
	CHECK_EQ_INT(json_integer_value(json_object_get(s, "desired")), 2);
	CHECK_EQ_INT(json_integer_value(json_object_get(s, "ready")), 0);
	json_decref(j);
	/* No node: nothing fits anywhere, which needs a person (design.md):
	 * Failed, with the scheduler's reason. */
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Failed"), CL_WAIT));
	j = cluster_get(cl, "/v1/services/web");
	CHECK_CONTAINS(json_string_value(json_object_get(j, "reason")), "node");
	json_decref(j);
	CHECK_EQ_INT(cluster_count(cl, "web", NULL), 0);
}

TEST(api__node_register_and_ageing)
{
	json_t *j;
	long st;

	REQUIRE(cl != NULL);
	j = cluster_call(cl, &st, "POST", "/v1/nodes/register", "{\"name\": \"ghost\"}");
	CHECK_EQ_INT(st, 400); /* no address */
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/nodes/register",
	    "{\"name\": \"../x\", \"address\": \"127.0.0.1:1\"}");
	CHECK_EQ_INT(st, 400);
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/nodes/ghost/heartbeat", "{}");
	CHECK_EQ_INT(st, 404); /* not registered: the slave registers again */
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/nodes/register",
	    "{\"name\": \"ghost\", \"address\": \"127.0.0.1:1\", \"cpu\": 1.0, "
	    "\"memory\": 1048576, \"instances\": []}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(cluster_node_is(cl, "ghost", "Ready"));
	j = cluster_call(cl, &st, "POST", "/v1/nodes/ghost/heartbeat",
	    "{\"name\": \"ghost\", \"instances\": 7}");
	CHECK_EQ_INT(st, 400);
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/nodes/ghost/events", "{\"events\": {}}");
	CHECK_EQ_INT(st, 400);
	json_decref(j);
	/* Silent: Suspect after 1s, Lost after 3s. */
	CHECK(WAIT_FOR(cluster_node_is(cl, "ghost", "Suspect"), CL_WAIT));
	CHECK(WAIT_FOR(cluster_node_is(cl, "ghost", "Lost"), CL_WAIT));
	/* A heartbeat brings it back. */
	j = cluster_call(cl, &st, "POST", "/v1/nodes/ghost/heartbeat",
	    "{\"name\": \"ghost\", \"address\": \"127.0.0.1:1\", \"instances\": []}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(cluster_node_is(cl, "ghost", "Ready"));
}

/* A heartbeat of node "dg"; returns the status. */
static long
dg_beat(const char *fields)
{
	char body[512];
	json_t *j;
	long st;

	snprintf(body, sizeof(body), "{\"name\": \"dg\", \"address\": \"127.0.0.1:1\"%s}",
	    fields);
	j = cluster_call(cl, &st, "POST", "/v1/nodes/dg/heartbeat", body);
	json_decref(j);
	return st;
}

/* Digest heartbeats (docs/api.md): a digest alone stands for the last
 * list the controller took; anything else is 409 and changes nothing. */
TEST(api__heartbeat_digest)
{
	json_t *j;
	long st;

	REQUIRE(cl != NULL);
	j = cluster_call(cl, &st, "POST", "/v1/nodes/register",
	    "{\"name\": \"dg\", \"address\": \"127.0.0.1:1\", \"digest\": \"d1\"}");
	CHECK_EQ_INT(st, 400); /* a registration carries the list */
	json_decref(j);
	j = cluster_call(cl, &st, "POST", "/v1/nodes/register",
	    "{\"name\": \"dg\", \"address\": \"127.0.0.1:1\", \"digest\": \"d1\", "
	    "\"instances\": []}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK_EQ_INT(dg_beat(", \"digest\": \"d1\""), 200);
	CHECK_EQ_INT(dg_beat(", \"digest\": \"d2\""), 409); /* not the list we hold */
	CHECK_EQ_INT(dg_beat(", \"digest\": 5"), 400);
	CHECK_EQ_INT(dg_beat(", \"digest\": \"\""), 400);
	CHECK_EQ_INT(dg_beat(", \"digest\": \"d2\", \"instances\": []"), 200);
	CHECK_EQ_INT(dg_beat(", \"digest\": \"d2\""), 200);
	CHECK(cluster_node_is(cl, "dg", "Ready"));
	/* A 409 is not a sign of life: silent past --node-suspect, the node
	 * is Suspect, and a digest alone does not bring it back (the
	 * controller may have acted meanwhile): only the list does. */
	CHECK(WAIT_FOR(dg_beat(", \"digest\": \"d3\"") == 409 &&
	    cluster_node_is(cl, "dg", "Suspect"), CL_WAIT));
	CHECK_EQ_INT(dg_beat(", \"digest\": \"d2\""), 409);
	CHECK(cluster_node_is(cl, "dg", "Suspect"));
	CHECK_EQ_INT(dg_beat(", \"digest\": \"d2\", \"instances\": []"), 200);
	CHECK(cluster_node_is(cl, "dg", "Ready"));
	CHECK_EQ_INT(dg_beat(", \"digest\": \"d2\""), 200);
}

/* A streaming read: collects until the buffer holds "live-node". Once
 * the backlog arrived, registers that node (from inside the transfer, on
 * another handle) so the event must come through the open stream. */
struct stream {
	char buf[65536];
	size_t len;
	bool poked;
	char *ct;
};

static size_t
stream_cb(char *ptr, size_t size, size_t n, void *arg)
{
	struct stream *s = arg;
	size_t len = size * n;

	if (s->len + len >= sizeof(s->buf))
		return 0;
	memcpy(s->buf + s->len, ptr, len);
	s->len += len;
	s->buf[s->len] = '\0';
	if (!s->poked && strstr(s->buf, "id: 3\n") != NULL) {
		json_t *j;
		long st;

		s->poked = true;
		j = cluster_call(cl, &st, "POST", "/v1/nodes/register",
		    "{\"name\": \"live-node\", \"address\": \"127.0.0.1:1\"}");
		json_decref(j);
	}
	/* Enough: stop the transfer (the stream itself never ends). */
	return strstr(s->buf, "live-node") != NULL ? 0 : len;
}

static long
stream_read(struct stream *s, const char *last_id)
{
	struct curl_slist *h = NULL;
	char url[512], hdr[128];
	long st = 0;
	CURL *e;

	snprintf(url, sizeof(url), "%s/v1/events/stream", cl->url);
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s", last_id);
	if ((e = curl_easy_init()) == NULL)
		return 0;
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Authorization: Bearer " CL_TOKEN);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_perform(e); /* ends by our write error, or the timeout */
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
	{
		char *c = NULL;

		curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &c);
		s->ct = c ? strdup(c) : NULL;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return st;
}

TEST(api__events_and_stream)
{
	json_t *j, *evs;
	long long prev = 0;
	long st;
	size_t k;

	REQUIRE(cl != NULL);
	j = cluster_get(cl, "/v1/events?since=0");
	evs = json_object_get(j, "events");
	CHECK(json_array_size(evs) >= 4);
	for (k = 0; k < json_array_size(evs); k++) {
		json_t *e = json_array_get(evs, k);
		long long seq = json_integer_value(json_object_get(e, "seq"));

		CHECK(seq > prev);
		prev = seq;
		CHECK(json_integer_value(json_object_get(e, "time")) > 0);
		CHECK(json_object_get(e, "from") != NULL);
		CHECK(json_object_get(e, "to") != NULL);
		CHECK(json_object_get(e, "cause") != NULL);
		CHECK(json_object_get(e, "revision") != NULL);
	}
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "last_seq")), prev);
	json_decref(j);
	j = cluster_get(cl, "/v1/events?since=2&limit=1");
	CHECK_EQ_INT(json_array_size(json_object_get(j, "events")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(
	    json_object_get(j, "events"), 0), "seq")), 3);
	json_decref(j);
	j = cluster_call(cl, &st, "GET", "/v1/events?since=abc", NULL);
	CHECK_EQ_INT(st, 400);
	json_decref(j);
	/* SSE: ids after Last-Event-ID, one data line of JSON each; the
	 * stream stays open and carries an event made while it is read. */
	{
		struct stream st2 = {0};

		CHECK_EQ_INT(stream_read(&st2, "2"), 200);
		CHECK(st2.poked);
		CHECK_CONTAINS(st2.ct, "text/event-stream");
		CHECK_CONTAINS(st2.buf, "retry: ");
		CHECK_CONTAINS(st2.buf, "id: 3\ndata: {");
		CHECK(strstr(st2.buf, "id: 2\n") == NULL);
		CHECK(strstr(st2.buf, "id: 1\n") == NULL);
		CHECK_CONTAINS(st2.buf, "live-node");
		free(st2.ct);
	}
}

TEST(api__metrics)
{
	const char *const auth[] = {"Authorization: Bearer " CL_TOKEN, NULL};
	char *body = NULL, *ct = NULL;

	REQUIRE(cl != NULL);
	CHECK_EQ_INT(raw(&body, &ct, "GET", "/metrics", auth, NULL, 0), 200);
	CHECK_CONTAINS(ct, "text/plain");
	CHECK_CONTAINS(body, "# TYPE orch_services gauge");
	CHECK_CONTAINS(body, "orch_services{state=\"Run\"} 0");
	CHECK_CONTAINS(body, "orch_instances{state=\"Run\"} 0");
	CHECK_CONTAINS(body, "orch_nodes{state=\"Lost\"} ");
	CHECK_CONTAINS(body, "orch_reconcile_duration_seconds_count ");
	CHECK_CONTAINS(body, "orch_slave_commands_sent_total{node=\"ghost\"}");
	CHECK_CONTAINS(body, "orch_applies_total{result=\"applied\"} 1");
	free(body);
	free(ct);
}

TEST(api__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(api__usage_errors_exit_2, api__bad_repo_or_token_exit_1,
    api__reads_are_public_mutations_need_the_token, api__bad_bodies_change_nothing,
    api__dry_run_plans_without_applying, api__apply_without_nodes_waits,
    api__node_register_and_ageing, api__events_and_stream, api__heartbeat_digest,
    api__metrics, api__finish)
