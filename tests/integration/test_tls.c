/*
 * test_tls.c - TLS and mutual TLS between every component (issue 12),
 * with real certificates made by openssl (tests/support/pki.h) and real
 * daemons on loopback: a controller and two slaves that all listen with
 * --tls-cert/--tls-key/--tls-ca, orchctl over https with a client
 * certificate, and the refusals: no certificate, another CA's, an
 * expired one, one not yet valid, a node's certificate commanding a slave, a node reporting
 * for another node, plain HTTP to a TLS port.
 *
 * The tests share one cluster, started by the first and stopped by the
 * last, in order.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check.h"
#include "daemon.h"
#include "err.h"
#include "gitrepo.h"
#include "log.h"
#include "pki.h"
#include "reap.h"
#include "run.h"
#include "tls.h"

#define T_TOKEN "tls-test-token-0123456789abcdef"
#define T_WAIT 30000
#define T_NSLAVES 2

struct tslave {
	char name[64];
	char url[128];
	char data_dir[512];
	char log[512];
	char cert[600], key[600];
	int port;
	struct daemon *d;
};

static struct {
	char *dir;
	char pki[512];
	struct gitrepo *repo;
	char token_file[600];
	char ctl_url[128];
	char ctl_log[600];
	struct daemon *ctl;
	struct tslave s[T_NSLAVES];
	int exits[1 + T_NSLAVES]; /* teardown: the daemons' exit statuses */
} T;

/* dir/pki/NAME.EXT; interned: the same text for the whole run, so a
 * tls_client may point at it. */
static const char *
pki_file(const char *name, const char *ext)
{
	static char files[64][600];
	static size_t n;
	char want[600];

	snprintf(want, sizeof(want), "%s/%s.%s", T.pki, name, ext);
	for (size_t i = 0; i < n; i++)
		if (strcmp(files[i], want) == 0)
			return files[i];
	if (n == sizeof(files) / sizeof(files[0]))
		fatalx("test_tls: too many certificate files");
	memcpy(files[n], want, sizeof(want));
	return files[n++];
}

/* A client with the cluster's CA and the certificate NAME (NULL: none). */
static struct tls_client
client(const char *ca, const char *name)
{
	struct tls_client c = {{0}};

	c.files.ca = ca ? pki_file(ca, "pem") : NULL;
	if (name != NULL) {
		c.files.cert = pki_file(name, "pem");
		c.files.key = pki_file(name, "key");
	}
	return c;
}

/* METHOD url over TLS as t says, with the bearer token when given; the
 * status (0: no HTTP answer, e.g. a failed handshake) and *out the body. */
static long
call(char **out, const struct tls_client *t, const char *method, const char *url,
    const char *token, const char *body)
{
	struct http_buf b = {0};
	struct curl_slist *h = NULL;
	char auth[256];
	long st = 0;
	CURLcode res;
	CURL *e = curl_easy_init();

	if (e == NULL)
		return 0;
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (body != NULL)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	tls_curl_setup(e, t);
	if ((res = curl_easy_perform(e)) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
	else
		printf("# %s %s: %s\n", method, url, curl_easy_strerror(res));
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	if (out != NULL)
		*out = b.p ? b.p : strdup("");
	else
		free(b.p);
	return st;
}

/* GET the controller's path as admin; the JSON or NULL. */
static json_t *
ctl_get(const char *path)
{
	struct tls_client t = client("ca", "admin");
	char url[512], *body = NULL;
	json_t *j = NULL;

	snprintf(url, sizeof(url), "%s%s", T.ctl_url, path);
	if (call(&body, &t, "GET", url, NULL, NULL) == 200)
		j = json_loads(body, 0, NULL);
	free(body);
	return j;
}

static bool
node_ready(const char *name)
{
	json_t *j = ctl_get("/v1/nodes"), *v;
	bool ok = false;
	size_t i;

	json_array_foreach(json_object_get(j, "nodes"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")) ?: "", name) == 0)
			ok = strcmp(json_string_value(json_object_get(v, "state")) ?: "",
			    "Ready") == 0;
	json_decref(j);
	return ok;
}

/* Instances of service in state Run on the controller's view. */
static int
running(const char *service)
{
	json_t *j = ctl_get("/v1/instances"), *v;
	int n = 0;
	size_t i;

	json_array_foreach(json_object_get(j, "instances"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "service")) ?: "", service) == 0 &&
		    strcmp(json_string_value(json_object_get(v, "state")) ?: "", "Run") == 0)
			n++;
	json_decref(j);
	return n;
}

static bool
slave_answers(struct tslave *s)
{
	struct tls_client t = client("ca", NULL);
	char url[256];

	snprintf(url, sizeof(url), "%s/healthz", s->url);
	return call(NULL, &t, "GET", url, NULL, NULL) == 200;
}

static int
start_controller(int port)
{
	char *bin = daemon_binary("controller/orch-controller");
	char listen[64], data[600];
	int rc;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(data, sizeof(data), "%s/controller", T.dir);
	rc = daemon_start(&T.ctl, (const char *const[]){bin, "--repo", gitrepo_path(T.repo),
	    "--data-dir", data, "--listen", listen, "--token-file", T.token_file,
	    "--node-suspect", "1s", "--node-lost", "3s", "--resync", "1s",
	    "--tls-cert", pki_file("controller", "pem"), "--tls-key",
	    pki_file("controller", "key"), "--tls-ca", pki_file("ca", "pem"), NULL},
	    T.dir, T.ctl_log);
	free(bin);
	return rc;
}

static int
start_slave(struct tslave *s)
{
	char *bin = daemon_binary("slave/orch-slave");
	char listen[64], range[64];
	int rc, lo = 41000 + (int)(getpid() % 40) * 400 + (int)(s - T.s) * 100;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	snprintf(range, sizeof(range), "%d-%d", lo, lo + 99);
	rc = daemon_start(&s->d, (const char *const[]){bin, "--name", s->name,
	    "--controller", T.ctl_url, "--listen", listen, "--data-dir", s->data_dir,
	    "--token-file", T.token_file, "--heartbeat", "300ms", "--port-range", range,
	    "--tls-cert", s->cert, "--tls-key", s->key, "--tls-ca", pki_file("ca", "pem"),
	    NULL}, T.dir, s->log);
	free(bin);
	return rc;
}

/* The PKI: the cluster's CA, another CA, and the certificates. */
static int
make_pki(void)
{
	int rc;

	snprintf(T.pki, sizeof(T.pki), "%s/pki", T.dir);
	if (mkdir(T.pki, 0700) < 0)
		return orch_err_sys(ORCH_ERROR, "mkdir %s", T.pki);
	if ((rc = pki_ca(T.pki, "ca")) < 0 || (rc = pki_ca(T.pki, "ca2")) < 0 ||
	    (rc = pki_issue(T.pki, "ca", "controller", "controller", "controller", false)) < 0 ||
	    (rc = pki_issue(T.pki, "ca", "admin", "admin", "alice", false)) < 0 ||
	    (rc = pki_issue(T.pki, "ca", "read", "read", "bob", false)) < 0 ||
	    (rc = pki_issue(T.pki, "ca", "expired", "admin", "old", true)) < 0 ||
	    (rc = pki_issue_dates(T.pki, "ca", "future", "admin", "early", "20990101000000Z",
	    "21000101000000Z")) < 0 ||
	    (rc = pki_issue(T.pki, "ca2", "stranger", "admin", "mallory", false)) < 0 ||
	    (rc = pki_issue(T.pki, "ca2", "stranger-ctl", "controller", "controller", false)) < 0)
		return rc;
	for (size_t i = 0; i < T_NSLAVES; i++)
		if ((rc = pki_issue(T.pki, "ca", T.s[i].name, "node", T.s[i].name, false)) < 0)
			return rc;
	return 0;
}

static void
print_tail(const char *what, const struct daemon *d)
{
	char *text = d ? daemon_log(d) : NULL, *p;
	int lines = 0;

	if (text == NULL)
		return;
	for (p = text + strlen(text); p > text && lines < 40; p--)
		if (p[-1] == '\n')
			lines++;
	printf("---- last lines of %s ----\n%s\n", what, p);
	free(text);
}

/* Stop everything: the controller (it would restart what we stop), each
 * slave's instances through the slave (as the controller, the only
 * caller a slave takes), the slaves, and any instance left. */
static void
teardown(void)
{
	struct tls_client t = client("ca", "controller");
	size_t found;

	if (check_failed_total > 0) {
		print_tail("controller", T.ctl);
		for (size_t i = 0; i < T_NSLAVES; i++)
			print_tail(T.s[i].name, T.s[i].d);
	}
	if (T.ctl != NULL && daemon_running(T.ctl))
		T.exits[0] = daemon_stop(T.ctl, SIGTERM, T_WAIT);
	daemon_free(T.ctl);
	T.ctl = NULL;
	for (size_t i = 0; i < T_NSLAVES; i++) {
		char url[256], *body = NULL, path[512];
		json_t *j, *v;
		size_t k;

		if (T.s[i].d == NULL)
			continue;
		snprintf(url, sizeof(url), "%s/v1/instances", T.s[i].url);
		call(&body, &t, "GET", url, NULL, NULL);
		j = json_loads(body, 0, NULL);
		json_array_foreach(json_object_get(j, "instances"), k, v) {
			snprintf(path, sizeof(path), "%s/%s", url,
			    json_string_value(json_object_get(v, "id")) ?: "none");
			call(NULL, &t, "DELETE", path, NULL, NULL);
		}
		json_decref(j);
		free(body);
	}
	for (size_t i = 0; i < T_NSLAVES; i++) {
		if (T.s[i].d != NULL && daemon_running(T.s[i].d))
			T.exits[1 + i] = daemon_stop(T.s[i].d, SIGTERM, T_WAIT);
		daemon_free(T.s[i].d);
		T.s[i].d = NULL;
	}
	if (T.dir != NULL && reap_kill(&found, T.dir, 2000) == 0 && found > 0)
		printf("# %zu instance processes outlived their slaves: killed\n", found);
	gitrepo_free(T.repo);
	T.repo = NULL;
	if (T.dir != NULL && getenv("ORCH_KEEP_TEST_DIRS") == NULL)
		daemon_rmtree(T.dir);
	free(T.dir);
	T.dir = NULL;
}

static const char manifest[] =
    "architecture: tls\nversion: \"1.0.0\"\nservices:\n"
    "  web:\n"
    "    version: \"1.0.0\"\n"
    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"1.0.0\"]\n"
    "    ports: [http]\n"
    "    replicas: 2\n"
    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms, "
    "unhealthy_threshold: 20}\n"
    "    restart: {limit: 10, window: 60s, backoff: 50ms, max_backoff: 200ms}\n"
    "    stop: {signal: TERM, timeout: 2s}\n";

/* orchctl as a person runs it, with argv after the global options. */
static int
orchctl(struct run_result *r, const char *const *args, const char *const *env)
{
	const char *argv[32];
	char *bin = daemon_binary("orchctl/orchctl");
	size_t n = 0;
	int rc;

	argv[n++] = bin;
	for (size_t i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	rc = run_capture(r, argv, T.dir, env, T_WAIT);
	free(bin);
	return rc;
}

TEST(tls_cluster_over_mtls)
{
	char yaml[2048], app[512], sha[41];
	int ctl_port;

	atexit(teardown); /* a REQUIRE that stops a test leaves nothing behind */
	REQUIRE(daemon_tmpdir(&T.dir, "tls") == 0);
	for (size_t i = 0; i < T_NSLAVES; i++) {
		struct tslave *s = &T.s[i];
		char name[sizeof(s->name)];

		snprintf(name, sizeof(name), "t%d-%c", (int)getpid(), (char)('a' + i));
		memcpy(s->name, name, sizeof(name));
		snprintf(s->data_dir, sizeof(s->data_dir), "%s/%s", T.dir, name);
		snprintf(s->log, sizeof(s->log), "%s/%s.log", T.dir, name);
		REQUIRE(daemon_free_port(&s->port) == 0);
		snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", s->port);
	}
	if (make_pki() < 0)
		printf("# %s\n", orch_err_last());
	REQUIRE(access(pki_file("expired", "pem"), R_OK) == 0);
	for (size_t i = 0; i < T_NSLAVES; i++) {
		snprintf(T.s[i].cert, sizeof(T.s[i].cert), "%s", pki_file(T.s[i].name, "pem"));
		snprintf(T.s[i].key, sizeof(T.s[i].key), "%s", pki_file(T.s[i].name, "key"));
	}
	snprintf(T.token_file, sizeof(T.token_file), "%s/token", T.dir);
	snprintf(T.ctl_log, sizeof(T.ctl_log), "%s/controller.log", T.dir);
	REQUIRE(write_secret(T.token_file, T_TOKEN "\n") == 0);
	REQUIRE(gitrepo_create(&T.repo) == 0);
	snprintf(app, sizeof(app), "%s/examples/apps/httpapp", getenv("ORCH_BUILD_DIR") ?: ".");
	snprintf(yaml, sizeof(yaml), manifest, app);
	REQUIRE(gitrepo_write(T.repo, "orch.yaml", yaml) == 0);
	REQUIRE(gitrepo_commit(sha, T.repo, "tls", NULL) == 0);

	REQUIRE(daemon_free_port(&ctl_port) == 0);
	snprintf(T.ctl_url, sizeof(T.ctl_url), "https://127.0.0.1:%d", ctl_port);
	REQUIRE(start_controller(ctl_port) == 0);
	for (size_t i = 0; i < T_NSLAVES; i++) {
		REQUIRE(start_slave(&T.s[i]) == 0);
		REQUIRE(WAIT_FOR(slave_answers(&T.s[i]), T_WAIT));
	}
	/* Registration and heartbeats cross mutual TLS with node certs. */
	for (size_t i = 0; i < T_NSLAVES; i++)
		CHECK(WAIT_FOR(node_ready(T.s[i].name), T_WAIT));

	/* orchctl with flags: apply; the controller commands the slaves
	 * over mutual TLS with its certificate, and the instances run. */
	{
		struct run_result r;

		REQUIRE(orchctl(&r, (const char *const[]){"--controller", T.ctl_url,
		    "--tls-ca", pki_file("ca", "pem"), "--cert", pki_file("admin", "pem"),
		    "--key", pki_file("admin", "key"), "apply", NULL}, NULL) == 0);
		CHECK_EQ_INT(r.status, 0);
		if (r.status != 0)
			printf("# orchctl apply: %s%s\n", r.out, r.err);
		run_result_free(&r);
	}
	CHECK(WAIT_FOR(running("web") == 2, T_WAIT));
	/* orchctl from the environment, a URL without a scheme: https. */
	{
		struct run_result r;
		char ca[700], cert[700], key[700], ctl[160];

		snprintf(ca, sizeof(ca), "ORCH_TLS_CA=%s", pki_file("ca", "pem"));
		snprintf(cert, sizeof(cert), "ORCH_TLS_CERT=%s", pki_file("read", "pem"));
		snprintf(key, sizeof(key), "ORCH_TLS_KEY=%s", pki_file("read", "key"));
		snprintf(ctl, sizeof(ctl), "ORCH_CONTROLLER=%.120s", T.ctl_url + strlen("https://"));
		REQUIRE(orchctl(&r, (const char *const[]){"status", NULL},
		    (const char *const[]){ca, cert, key, ctl, "ORCH_TOKEN=", NULL}) == 0);
		CHECK_EQ_INT(r.status, 0);
		CHECK_CONTAINS(r.out, "web");
		run_result_free(&r);
	}
	/* The log proxy: controller -> slave over mutual TLS. */
	{
		json_t *j = ctl_get("/v1/instances"), *v;
		struct tls_client t = client("ca", "admin");
		char url[512], *body = NULL;
		size_t i;

		json_array_foreach(json_object_get(j, "instances"), i, v) {
			snprintf(url, sizeof(url), "%s/v1/instances/%s/logs", T.ctl_url,
			    json_string_value(json_object_get(v, "id")) ?: "none");
			CHECK_EQ_INT(call(&body, &t, "GET", url, NULL, NULL), 200);
			free(body);
			body = NULL;
			break;
		}
		json_decref(j);
	}
}

TEST(tls_refuses_missing_untrusted_expired)
{
	struct tls_client none = client("ca", NULL), other = client("ca", "stranger");
	struct tls_client old = client("ca", "expired"), admin = client("ca", "admin");
	struct tls_client noca = client(NULL, "admin"), future = client("ca", "future");
	char url[256], *body = NULL;

	REQUIRE(T.ctl != NULL);
	snprintf(url, sizeof(url), "%s/v1/apply", T.ctl_url);
	/* No certificate: refused even with the right token. */
	CHECK_EQ_INT(call(&body, &none, "POST", url, T_TOKEN, "{\"dry_run\": true}"), 401);
	CHECK_CONTAINS(body, "client certificate");
	free(body);
	/* Another CA's certificate, though its subject says admin. */
	CHECK_EQ_INT(call(&body, &other, "POST", url, NULL, "{\"dry_run\": true}"), 401);
	CHECK_CONTAINS(body, "issuer is unknown");
	free(body);
	/* Expired (2020-2021), from the right CA. */
	CHECK_EQ_INT(call(&body, &old, "POST", url, NULL, "{\"dry_run\": true}"), 401);
	CHECK_CONTAINS(body, "expired");
	free(body);
	/* Not yet valid (2099-2100), from the right CA. */
	CHECK_EQ_INT(call(&body, &future, "POST", url, NULL, "{\"dry_run\": true}"), 401);
	CHECK_CONTAINS(body, "not yet valid");
	free(body);
	/* The same request with a good certificate passes. */
	CHECK_EQ_INT(call(&body, &admin, "POST", url, NULL, "{\"dry_run\": true}"), 200);
	free(body);
	/* orchctl says why, and exits 1 (refused), not 3 (unreachable). */
	{
		struct run_result r;

		REQUIRE(orchctl(&r, (const char *const[]){"--controller", T.ctl_url,
		    "--tls-ca", pki_file("ca", "pem"), "--cert", pki_file("expired", "pem"),
		    "--key", pki_file("expired", "key"), "apply", "--dry-run", NULL},
		    (const char *const[]){"ORCH_TOKEN=", NULL}) == 0);
		CHECK_EQ_INT(r.status, 1);
		CHECK_CONTAINS(r.err, "expired");
		run_result_free(&r);
	}
	/* A client that cannot verify the server (no CA) does not talk. */
	CHECK_EQ_INT(call(NULL, &noca, "POST", url, NULL, "{\"dry_run\": true}"), 0);
	/* The slaves refuse the same three. */
	snprintf(url, sizeof(url), "%s/v1/instances", T.s[0].url);
	CHECK_EQ_INT(call(NULL, &none, "GET", url, T_TOKEN, NULL), 401);
	CHECK_EQ_INT(call(NULL, &old, "GET", url, NULL, NULL), 401);
	other = client("ca", "stranger-ctl");
	CHECK_EQ_INT(call(NULL, &other, "GET", url, NULL, NULL), 401);
}

TEST(tls_slave_takes_commands_from_the_controller_only)
{
	struct tls_client ctl = client("ca", "controller"), node = client("ca", T.s[0].name);
	struct tls_client admin = client("ca", "admin");
	char url[256], *body = NULL;

	REQUIRE(T.ctl != NULL);
	/* Slave a's own certificate, against slave b: refused. */
	snprintf(url, sizeof(url), "%s/v1/instances", T.s[1].url);
	CHECK_EQ_INT(call(&body, &node, "POST", url, NULL,
	    "{\"id\": \"evil-1\", \"service\": \"evil\", \"version\": \"1.0.0\", "
	    "\"command\": [\"/bin/true\"]}"), 403);
	CHECK_CONTAINS(body, "(allowed: controller)");
	free(body);
	CHECK_EQ_INT(call(NULL, &node, "GET", url, NULL, NULL), 403);
	CHECK_EQ_INT(call(NULL, &admin, "GET", url, NULL, NULL), 403);
	/* The controller's certificate: served. */
	CHECK_EQ_INT(call(NULL, &ctl, "GET", url, NULL, NULL), 200);
}

TEST(tls_node_cannot_report_for_another)
{
	struct tls_client a = client("ca", T.s[0].name);
	char url[256], body[256], *out = NULL;

	REQUIRE(T.ctl != NULL);
	snprintf(url, sizeof(url), "%s/v1/nodes/%s/heartbeat", T.ctl_url, T.s[1].name);
	snprintf(body, sizeof(body), "{\"name\": \"%s\"}", T.s[1].name);
	CHECK_EQ_INT(call(&out, &a, "POST", url, NULL, body), 403);
	CHECK_CONTAINS(out, "may not call POST /v1/nodes/:name/heartbeat (allowed: node-self)");
	free(out);
	snprintf(url, sizeof(url), "%s/v1/nodes/register", T.ctl_url);
	CHECK_EQ_INT(call(NULL, &a, "POST", url, NULL, body), 403);
	snprintf(url, sizeof(url), "%s/v1/nodes/%s/events", T.ctl_url, T.s[1].name);
	CHECK_EQ_INT(call(NULL, &a, "POST", url, NULL, "{\"events\": []}"), 403);
	/* The admin role is no node either. */
	a = client("ca", "admin");
	snprintf(url, sizeof(url), "%s/v1/nodes/%s/heartbeat", T.ctl_url, T.s[1].name);
	CHECK_EQ_INT(call(NULL, &a, "POST", url, NULL, body), 403);
	/* Meanwhile both nodes go on reporting for themselves. */
	CHECK(node_ready(T.s[0].name));
	CHECK(node_ready(T.s[1].name));
}

TEST(tls_plain_http_to_a_tls_port_fails)
{
	struct tls_client plain = {{0}};
	struct run_result r;
	char url[256];

	REQUIRE(T.ctl != NULL);
	snprintf(url, sizeof(url), "http://%.120s/v1/status", T.ctl_url + strlen("https://"));
	CHECK_EQ_INT(call(NULL, &plain, "GET", url, T_TOKEN, NULL), 0);
	snprintf(url, sizeof(url), "http://%.120s/healthz", T.s[0].url + strlen("https://"));
	CHECK_EQ_INT(call(NULL, &plain, "GET", url, T_TOKEN, NULL), 0);
	snprintf(url, sizeof(url), "http://%.120s", T.ctl_url + strlen("https://"));
	REQUIRE(orchctl(&r, (const char *const[]){"--controller", url, "status", NULL},
	    (const char *const[]){"ORCH_TOKEN=" T_TOKEN, NULL}) == 0);
	CHECK_EQ_INT(r.status, 3);
	run_result_free(&r);
	/* Every daemon exits 0: under ASan, nothing leaked (GnuTLS, MHD's
	 * TLS sessions, the loaded PEM files). */
	memset(T.exits, 0xff, sizeof(T.exits));
	teardown();
	for (size_t i = 0; i < 1 + T_NSLAVES; i++)
		CHECK_EQ_INT(T.exits[i], 0);
}

TEST(tls_daemon_flags_go_together)
{
	struct run_result r;
	char *bin = daemon_binary("slave/orch-slave");

	REQUIRE(run_capture(&r, (const char *const[]){bin, "--name", "x", "--listen",
	    "127.0.0.1:0", "--data-dir", "/nonexistent", "--token-file", "/nonexistent",
	    "--tls-cert", "/nonexistent", NULL}, NULL, NULL, T_WAIT) == 0);
	CHECK_EQ_INT(r.status, 2);
	CHECK_CONTAINS(r.err, "--tls-key");
	run_result_free(&r);
	free(bin);
}

TEST(tls_plain_listen_warning_decision)
{
	CHECK(tls_plain_listen_warns("0.0.0.0"));
	CHECK(tls_plain_listen_warns("10.1.2.3"));
	CHECK(tls_plain_listen_warns("192.168.0.1"));
	CHECK(!tls_plain_listen_warns("127.0.0.1"));
	CHECK(!tls_plain_listen_warns("127.9.8.7"));
}

TEST(tls_subject_maps_to_principal)
{
	struct orch_principal p;

	CHECK_EQ_INT(tls_subject_principal(&p, "node", 1, "node-1"), 0);
	CHECK_EQ_INT(p.role, ORCH_ROLE_NODE);
	CHECK_STR(p.name, "node-1");
	CHECK_EQ_INT(tls_subject_principal(&p, "admin", 1, "alice"), 0);
	CHECK_EQ_INT(p.role, ORCH_ROLE_ADMIN);
	CHECK_STR(p.name, "alice");
	CHECK_EQ_INT(tls_subject_principal(&p, "controller", 1, "ctl"), 0);
	CHECK_EQ_INT(p.role, ORCH_ROLE_CONTROLLER);
	CHECK_EQ_INT(tls_subject_principal(&p, "read", 1, ""), 0);
	CHECK_EQ_INT(p.role, ORCH_ROLE_READ);
	CHECK_EQ_INT(tls_subject_principal(&p, "root", 1, "x"), ORCH_EAUTH);
	CHECK_EQ_INT(tls_subject_principal(&p, "admin", 2, "x"), ORCH_EAUTH);
	CHECK_EQ_INT(tls_subject_principal(&p, "", 0, "x"), ORCH_EAUTH);
	CHECK_EQ_INT(tls_subject_principal(&p, "node", 1, ""), ORCH_EAUTH);
	CHECK_EQ_INT(tls_subject_principal(&p, "node", 1, "a/b"), ORCH_EAUTH);
}

CHECK_MAIN(tls_cluster_over_mtls, tls_refuses_missing_untrusted_expired,
    tls_slave_takes_commands_from_the_controller_only, tls_node_cannot_report_for_another,
    tls_plain_http_to_a_tls_port_fails, tls_daemon_flags_go_together,
    tls_plain_listen_warning_decision, tls_subject_maps_to_principal)
