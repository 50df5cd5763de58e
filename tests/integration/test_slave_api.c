/*
 * test_slave_api.c - orch-slave's HTTP API against the real daemon:
 * auth, bad bodies, start/stop/idempotent start, placeholders and env,
 * logs, metrics.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "slave_fixture.h"

#define SLEEPER(id, kind) "{\"id\":\"" id "\",\"service\":\"sleeper\",\"version\":\"1.0.0\"," \
	"\"kind\":\"" kind "\",\"command\":[\"/bin/sleep\",\"120\"]," \
	"\"stop\":{\"timeout_ms\":3000}}"

TEST(slave_api__healthz_needs_no_token_and_the_rest_does)
{
	struct http_result r;
	char url[256], marker[600], body[1024];
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(url, sizeof(url), "%s/healthz", fx.url);
	CHECK(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "\"ok\"");
	http_result_free(&r);

	snprintf(url, sizeof(url), "%s/v1/instances", fx.url);
	CHECK(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 401);
	CHECK_CONTAINS(r.body, "\"error\"");
	http_result_free(&r);
	CHECK(http_request(&r, "GET", url, "wrong-token", NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 401);
	http_result_free(&r);
	/* A token that is a prefix of the right one is still wrong. */
	CHECK(http_request(&r, "GET", url, "fx-token", NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 401);
	http_result_free(&r);
	snprintf(url, sizeof(url), "%s/metrics", fx.url);
	CHECK(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 401);
	http_result_free(&r);

	/* An unauthenticated start runs nothing. (The marker goes in the
	 * instance's own data dir: a root slave runs it as nobody.) */
	snprintf(marker, sizeof(marker), "%s/instances/x-1/data/ran", fx.data_dir);
	snprintf(body, sizeof(body), "{\"id\":\"x-1\",\"service\":\"x\",\"version\":\"1\","
	    "\"command\":[\"/bin/touch\",\"%s\"]}", marker);
	snprintf(url, sizeof(url), "%s/v1/instances", fx.url);
	CHECK(http_request(&r, "POST", url, NULL, body, strlen(body), 5000) == 0);
	CHECK_EQ_INT(r.status, 401);
	http_result_free(&r);
	CHECK(fx_empty(&fx));
	CHECK(access(marker, F_OK) != 0);
	/* The same body with the token runs. */
	CHECK(http_request(&r, "POST", url, FX_TOKEN, body, strlen(body), 5000) == 0);
	CHECK_EQ_INT(r.status, 201);
	http_result_free(&r);
	CHECK(WAIT_FOR(access(marker, F_OK) == 0, FX_WAIT));
	fx_finish(&fx);
}

TEST(slave_api__bad_bodies_get_400_and_413)
{
	static const struct {
		const char *body, *detail;
	} invalid[] = {
		{"{\"id\":\"a-1\",\"service\":\"a\",\"version\":\"1\"}", "command"},
		{"{\"id\":\"a-1\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"/bin/true\"],"
		    "\"health\":{\"type\":\"carrier-pigeon\"}}", "health.type"},
		{"{\"id\":\"../etc\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"/bin/true\"]}",
		    "id"},
		{"{\"id\":\"a-1\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"/bin/true\"],"
		    "\"restart\":{\"limit\":\"five\"}}", "restart.limit"},
	};
	const char *const extra[] = {"--max-body", "4K", NULL};
	struct http_result r;
	char url[256], *big;
	json_t *j;
	long st;
	struct fx fx;

	REQUIRE(fx_start(&fx, extra) == 0);
	snprintf(url, sizeof(url), "%s/v1/instances", fx.url);

	j = fx_call(&fx, &st, "POST", "/v1/instances", "{\"id\": \"a\", ");
	CHECK_EQ_INT(st, 400);
	CHECK_STR(json_string_value(json_object_get(j, "error")), "malformed json");
	json_decref(j);

	j = fx_call(&fx, &st, "POST", "/v1/instances", "[1,2]");
	CHECK_EQ_INT(st, 400);
	json_decref(j);

	/* Bodies that are JSON but not a valid start: 400, and the detail
	 * names the field. */
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		j = fx_call(&fx, &st, "POST", "/v1/instances", invalid[i].body);
		CHECK_EQ_INT(st, 400);
		CHECK_CONTAINS(json_string_value(json_object_get(j, "detail")),
		    invalid[i].detail);
		json_decref(j);
	}

	/* Over --max-body: 413, whether announced by Content-Length or not. */
	big = malloc(8192 + 1);
	REQUIRE(big != NULL);
	memset(big, ' ', 8192);
	big[0] = '{';
	big[8191] = '}';
	big[8192] = '\0';
	CHECK(http_request(&r, "POST", url, FX_TOKEN, big, 8192, 5000) == 0);
	CHECK_EQ_INT(r.status, 413);
	CHECK_CONTAINS(r.body, "too large");
	http_result_free(&r);
	free(big);

	/* Unknown path and wrong method. */
	j = fx_call(&fx, &st, "GET", "/v1/nothing", NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	j = fx_call(&fx, &st, "PUT", "/v1/instances", NULL);
	CHECK_EQ_INT(st, 405);
	json_decref(j);

	CHECK(fx_empty(&fx));
	CHECK(fx_healthy(&fx));
	fx_finish(&fx);
}

TEST(slave_api__start_stop_and_idempotent_start)
{
	json_t *j = NULL;
	long long pid, pid2;
	long st;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_post(&fx, SLEEPER("s-1", "cattle"), &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	CHECK(pid > 0);
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Run");
	CHECK_STR(json_string_value(json_object_get(j, "node")), fx.name);
	json_decref(j);
	CHECK(pid_alive((pid_t)pid));

	/* The same start again changes nothing. */
	CHECK_EQ_INT(fx_post(&fx, SLEEPER("s-1", "cattle"), &j), 200);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "pid")), pid);
	json_decref(j);
	/* The same id with another spec is a conflict, and changes nothing. */
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"s-1\",\"service\":\"sleeper\",\"version\":\"2.0.0\","
	    "\"command\":[\"/bin/sleep\",\"120\"]}", &j), 409);
	json_decref(j);
	pid2 = fx_int(&fx, "s-1", "pid");
	CHECK_EQ_INT(pid2, pid);

	j = fx_call(&fx, &st, "GET", "/v1/instances", NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "instances")), 1);
	json_decref(j);

	j = fx_call(&fx, &st, "DELETE", "/v1/instances/s-1", NULL);
	CHECK_EQ_INT(st, 202);
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Destroy");
	json_decref(j);
	CHECK(WAIT_FOR(fx_gone(&fx, "s-1"), FX_WAIT));
	CHECK(WAIT_FOR(!pid_alive((pid_t)pid), FX_WAIT));
	j = fx_call(&fx, &st, "DELETE", "/v1/instances/s-1", NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	fx_finish(&fx);
}

TEST(slave_api__placeholders_and_environment)
{
	char body[2048], path[700], *text;
	json_t *j = NULL, *ports;
	const char *dd;
	long long http, admin;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"env-0\",\"service\":\"envsvc\",\"version\":\"3.1.4\",\"kind\":\"pet\","
	    "\"ports\":[\"http\",\"admin\"],"
	    "\"env\":{\"GREETING\":\"hi-${ORCH_SERVICE}-$$-${ORCH_PORT_ADMIN}\"},"
	    "\"command\":[\"/bin/sh\",\"-c\","
	    "\"echo \\\"$ORCH_PORT $ORCH_PORT_HTTP $ORCH_PORT_ADMIN $ORCH_INSTANCE_ID $ORCH_SERVICE"
	    " $ORCH_VERSION $ORCH_NODE $GREETING $1 $2\\\" > $ORCH_DATA_DIR/env.txt; exec sleep 120\","
	    "\"sh\",\"${ORCH_PORT_ADMIN}\",\"${ORCH_DATA_DIR}/$${GREETING}\"],"
	    "\"stop\":{\"timeout_ms\":3000}}");
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	ports = json_object_get(j, "ports");
	http = json_integer_value(json_object_get(ports, "http"));
	admin = json_integer_value(json_object_get(ports, "admin"));
	CHECK(http >= 21000 && http <= 29999);
	CHECK(admin >= 21000 && admin <= 29999 && admin != http);
	dd = json_string_value(json_object_get(j, "data_dir"));
	REQUIRE(dd != NULL);
	snprintf(path, sizeof(path), "%s/env.txt", dd);
	CHECK(WAIT_FOR((text = read_file(path)) != NULL && strchr(text, '\n') != NULL ? true :
	    (free(text), false), FX_WAIT));
	if (text != NULL) {
		char want[1024];

		snprintf(want, sizeof(want), "%lld %lld %lld env-0 envsvc 3.1.4 %s hi-envsvc-$-%lld %lld %s/${GREETING}\n",
		    http, http, admin, fx.name, admin, admin, dd);
		CHECK_STR(text, want);
	}
	free(text);
	json_decref(j);

	/* An unknown placeholder is a bad request: 400 naming it, nothing made. */
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"bad-0\",\"service\":\"b\",\"version\":\"1\","
	    "\"command\":[\"/bin/echo\",\"${NOPE}\"]}", &j), 400);
	CHECK_CONTAINS(json_string_value(json_object_get(j, "detail")), "command[1]: unknown placeholder ${NOPE}");
	json_decref(j);
	CHECK(fx_gone(&fx, "bad-0"));
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"bad-0\",\"service\":\"b\",\"version\":\"1\","
	    "\"command\":[\"/bin/echo\",\"${ORCH_PORT}\"]}", &j), 400);
	CHECK_CONTAINS(json_string_value(json_object_get(j, "detail")), "${ORCH_PORT}");
	json_decref(j);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"bad-0\",\"service\":\"b\",\"version\":\"1\","
	    "\"env\":{\"X\":\"${ORCH_SERVICE\"},\"command\":[\"/bin/true\"]}", &j), 400);
	CHECK_CONTAINS(json_string_value(json_object_get(j, "detail")), "env.X");
	json_decref(j);
	CHECK(fx_gone(&fx, "bad-0"));
	/* So does a command that does not exist. */
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"bad-1\",\"service\":\"b\",\"version\":\"1\","
	    "\"command\":[\"/nonexistent/prog\"]}", &j), 201);
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Failed");
	CHECK_CONTAINS(json_string_value(json_object_get(j, "reason")), "/nonexistent/prog");
	json_decref(j);
	fx_finish(&fx);
}

TEST(slave_api__logs_and_metrics)
{
	struct http_result r;
	char url[256];
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"log-1\",\"service\":\"l\",\"version\":\"1\","
	    "\"command\":[\"/bin/sh\",\"-c\",\"echo hello-out; echo hello-err >&2; exec sleep 120\"],"
	    "\"stop\":{\"timeout_ms\":3000}}", NULL), 201);
	snprintf(url, sizeof(url), "%s/v1/instances/log-1/logs", fx.url);
	CHECK(WAIT_FOR(http_request(&r, "GET", url, FX_TOKEN, NULL, 0, 5000) == 0 &&
	    strstr(r.body, "hello-out") != NULL ? true : (http_result_free(&r), false), FX_WAIT));
	CHECK_EQ_INT(r.status, 200);
	http_result_free(&r);
	snprintf(url, sizeof(url), "%s/v1/instances/log-1/logs?stream=stderr", fx.url);
	CHECK(WAIT_FOR(http_request(&r, "GET", url, FX_TOKEN, NULL, 0, 5000) == 0 &&
	    strstr(r.body, "hello-err") != NULL ? true : (http_result_free(&r), false), FX_WAIT));
	http_result_free(&r);
	snprintf(url, sizeof(url), "%s/v1/instances/log-1/logs?stream=stdout&tail=3", fx.url);
	CHECK(http_request(&r, "GET", url, FX_TOKEN, NULL, 0, 5000) == 0);
	CHECK_STR(r.body, "ut\n");
	http_result_free(&r);
	snprintf(url, sizeof(url), "%s/v1/instances/log-1/logs?stream=bogus", fx.url);
	CHECK(http_request(&r, "GET", url, FX_TOKEN, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 400);
	http_result_free(&r);

	snprintf(url, sizeof(url), "%s/metrics", fx.url);
	CHECK(http_request(&r, "GET", url, FX_TOKEN, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "orch_slave_instances{state=\"Run\"} 1");
	CHECK_CONTAINS(r.body, "orch_slave_starts_total 1");
	CHECK_CONTAINS(r.body, "orch_slave_health_check_seconds_count{type=\"http\"}");
	http_result_free(&r);
	fx_finish(&fx);
}

static int
connect_to(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the server closed fd (EOF or reset), waiting up to ms. */
static bool
closed_by_peer(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];

	if (poll(&p, 1, ms) <= 0)
		return false;
	return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0;
}

TEST(slave_api__slow_and_idle_clients_cannot_hold_the_daemon)
{
	const char *const extra[] = {"--idle-timeout", "1s", NULL};
	const char partial[] = "POST /v1/instances HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer " FX_TOKEN "\r\nContent-Length: 1000\r\n\r\n{\"id\":";
	int idle[20], slow;
	int64_t t0;
	struct fx fx;

	REQUIRE(fx_start(&fx, extra) == 0);
	/* Connections that send nothing, and one that stops mid-body. */
	for (int i = 0; i < 20; i++)
		idle[i] = connect_to(fx.port);
	slow = connect_to(fx.port);
	REQUIRE(slow >= 0);
	CHECK(send(slow, partial, strlen(partial), 0) == (ssize_t)strlen(partial));
	/* The one loop still serves everyone else at once. */
	t0 = orch_mono_ms();
	CHECK(fx_healthy(&fx));
	CHECK(fx_empty(&fx));
	CHECK(orch_mono_ms() - t0 < 2000);
	/* And drops the idle ones after --idle-timeout. */
	CHECK(WAIT_FOR(closed_by_peer(slow, 100), FX_WAIT));
	for (int i = 0; i < 20; i++) {
		CHECK(idle[i] >= 0 && WAIT_FOR(closed_by_peer(idle[i], 100), FX_WAIT));
		if (idle[i] >= 0)
			close(idle[i]);
	}
	close(slow);
	CHECK(fx_empty(&fx));
	fx_finish(&fx);
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

TEST(slave_api__logs_rotate_by_size)
{
	const char *const extra[] = {"--log-max", "2K", NULL};
	char out[700], old[720], *text;
	struct fx fx;

	REQUIRE(fx_start(&fx, extra) == 0);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"chatty-1\",\"service\":\"c\",\"version\":\"1\","
	    "\"command\":[\"/bin/sh\",\"-c\",\"i=0; while [ $i -lt 200 ]; do echo line-$i-0123456789abcdef;"
	    " i=$((i+1)); done; sleep 5; echo after-rotation; exec sleep 120\"],"
	    "\"stop\":{\"timeout_ms\":3000}}", NULL), 201);
	snprintf(out, sizeof(out), "%s/instances/chatty-1/stdout.log", fx.data_dir);
	snprintf(old, sizeof(old), "%s.1", out);
	/* Checked every 2s: over 2K it is copied to .1 and truncated. */
	CHECK(WAIT_FOR(file_size(old) > 2048, FX_WAIT));
	text = read_file(old);
	CHECK_CONTAINS(text, "line-0-0123456789abcdef");
	CHECK_CONTAINS(text, "line-199-");
	free(text);
	/* The writer keeps its fd (O_APPEND): later output lands at the start
	 * of the truncated file, with no hole before it. */
	CHECK(WAIT_FOR((text = read_file(out)) != NULL && strstr(text, "after-rotation") ? true :
	    (free(text), false), FX_WAIT));
	if (text != NULL)
		CHECK_STR(text, "after-rotation\n");
	free(text);
	fx_finish(&fx);
}

/* Run orch-slave with args to its exit; the exit status, its output in *out. */
static int
run_slave(char **out, const char *dir, const char *const *args)
{
	const char *argv[24];
	char *bin = daemon_binary("slave/orch-slave"), log[600];
	struct daemon *d = NULL;
	size_t n = 0;
	int st = -1;

	snprintf(log, sizeof(log), "%s/cli.log", dir);
	unlink(log);
	argv[n++] = bin;
	for (size_t i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (daemon_start(&d, argv, NULL, log) == 0 && WAIT_FOR(!daemon_running(d), FX_WAIT))
		st = d->status;
	*out = d ? daemon_log(d) : NULL;
	daemon_free(d);
	free(bin);
	return st;
}

TEST(slave_api__command_line_errors)
{
	char data[600], tok[600], listen[64], *out = NULL;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(data, sizeof(data), "%s/other", fx.dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", fx.port);
	{
		const char *a[] = {"--name", "x", NULL};

		CHECK_EQ_INT(run_slave(&out, fx.dir, a), 2);
		CHECK_CONTAINS(out, "required");
		free(out);
	}
	{
		const char *a[] = {"--name", "x", "--listen", "127.0.0.1:0", "--data-dir", data,
		    "--token-file", fx.token_file, "--port-range", "30000-20000", NULL};

		CHECK_EQ_INT(run_slave(&out, fx.dir, a), 2);
		CHECK_CONTAINS(out, "--port-range");
		free(out);
	}
	{
		const char *a[] = {"--name", "x", "--listen", "127.0.0.1:0", "--data-dir", data,
		    "--token-file", fx.token_file, "--controller", "ftp://x", NULL};

		CHECK_EQ_INT(run_slave(&out, fx.dir, a), 2);
		CHECK_CONTAINS(out, "--controller");
		free(out);
	}
	snprintf(tok, sizeof(tok), "%s/missing-token", fx.dir);
	{
		const char *a[] = {"--name", "x", "--listen", "127.0.0.1:0", "--data-dir", data,
		    "--token-file", tok, NULL};

		CHECK_EQ_INT(run_slave(&out, fx.dir, a), 1);
		CHECK_CONTAINS(out, "missing-token");
		free(out);
	}
	{
		/* The port of the running slave is taken. */
		const char *a[] = {"--name", "x", "--listen", listen, "--data-dir", data,
		    "--token-file", fx.token_file, NULL};

		CHECK_EQ_INT(run_slave(&out, fx.dir, a), 1);
		CHECK_CONTAINS(out, "cannot listen");
		free(out);
	}
	{
		/* Its data dir is taken too. */
		const char *a[] = {"--name", "x", "--listen", "127.0.0.1:0", "--data-dir", fx.data_dir,
		    "--token-file", fx.token_file, NULL};

		CHECK_EQ_INT(run_slave(&out, fx.dir, a), 1);
		CHECK_CONTAINS(out, "another orch-slave");
		free(out);
	}
	CHECK(fx_healthy(&fx));
	fx_finish(&fx);
}

CHECK_MAIN(slave_api__healthz_needs_no_token_and_the_rest_does,
    slave_api__bad_bodies_get_400_and_413,
    slave_api__start_stop_and_idempotent_start,
    slave_api__placeholders_and_environment,
    slave_api__logs_and_metrics,
    slave_api__logs_rotate_by_size,
    slave_api__slow_and_idle_clients_cannot_hold_the_daemon,
    slave_api__command_line_errors)
