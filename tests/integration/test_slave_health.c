/*
 * test_slave_health.c - health checks of each type flip an instance
 * between Run and unhealthy in the real orch-slave: exec (a file the
 * test creates and removes), tcp (a listener the test opens and closes),
 * http (the demo httpapp, frozen with SIGSTOP); an unhealthy pet is
 * restarted, unhealthy cattle are Failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "slave_fixture.h"

static bool
reason_has(struct fx *fx, const char *id, const char *needle)
{
	json_t *j = fx_instance(fx, id);
	const char *r = j ? json_string_value(json_object_get(j, "reason")) : NULL;
	bool ok = r && strstr(r, needle);

	json_decref(j);
	return ok;
}

static bool
run_healthy(struct fx *fx, const char *id)
{
	return fx_is(fx, id, "state", "Run") && fx_is(fx, id, "health", "healthy");
}

TEST(slave_health__exec_check_flips_run_and_unhealthy)
{
	char body[1024], ok[700];
	json_t *j = NULL;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"ex-0\",\"service\":\"ex\",\"version\":\"1\",\"kind\":\"pet\","
	    "\"command\":[\"/bin/sleep\",\"120\"],"
	    "\"health\":{\"type\":\"exec\",\"command\":[\"/bin/sh\",\"-c\",\"test -f ${ORCH_DATA_DIR}/ok\"],"
	    "\"interval_ms\":100,\"timeout_ms\":2000,\"unhealthy_threshold\":2,\"start_period_ms\":60000},"
	    "\"restart\":{\"backoff_ms\":1000,\"max_backoff_ms\":1000},"
	    "\"stop\":{\"timeout_ms\":3000}}");
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Ready");
	CHECK_STR(json_string_value(json_object_get(j, "health")), "starting");
	snprintf(ok, sizeof(ok), "%s/ok", json_string_value(json_object_get(j, "data_dir")));
	json_decref(j);
	/* Failing inside start_period: Ready, not restarted. */
	usleep(500 * 1000);
	CHECK(fx_is(&fx, "ex-0", "state", "Ready"));
	CHECK_EQ_INT(fx_int(&fx, "ex-0", "restarts"), 0);

	CHECK(write_file(ok, "") == 0);
	CHECK(WAIT_FOR(run_healthy(&fx, "ex-0"), FX_WAIT));
	CHECK(unlink(ok) == 0);
	CHECK(WAIT_FOR(reason_has(&fx, "ex-0", "unhealthy"), FX_WAIT));
	CHECK(!fx_is(&fx, "ex-0", "state", "Run"));
	CHECK(WAIT_FOR(fx_int(&fx, "ex-0", "restarts") == 1 && fx_int(&fx, "ex-0", "pid") > 0, FX_WAIT));
	CHECK(write_file(ok, "") == 0);
	CHECK(WAIT_FOR(run_healthy(&fx, "ex-0"), FX_WAIT));
	CHECK_EQ_INT(fx_int(&fx, "ex-0", "restarts"), 1);
	fx_finish(&fx);
}

static int
listen_on(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST(slave_health__tcp_check_flips_run_and_unhealthy)
{
	json_t *j = NULL;
	int port, lfd;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"tcp-0\",\"service\":\"tcp\",\"version\":\"1\",\"kind\":\"pet\","
	    "\"ports\":[\"svc\"],\"command\":[\"/bin/sleep\",\"120\"],"
	    "\"health\":{\"type\":\"tcp\",\"interval_ms\":100,\"timeout_ms\":1000,"
	    "\"unhealthy_threshold\":2,\"start_period_ms\":60000},"
	    "\"restart\":{\"backoff_ms\":1000,\"max_backoff_ms\":1000},"
	    "\"stop\":{\"timeout_ms\":3000}}", &j), 201);
	port = (int)json_integer_value(json_object_get(json_object_get(j, "ports"), "svc"));
	json_decref(j);
	REQUIRE(port > 0);
	/* The test plays the service's socket: open -> Run. */
	lfd = listen_on(port);
	REQUIRE(lfd >= 0);
	CHECK(WAIT_FOR(run_healthy(&fx, "tcp-0"), FX_WAIT));
	close(lfd);
	CHECK(WAIT_FOR(reason_has(&fx, "tcp-0", "unhealthy"), FX_WAIT));
	CHECK(WAIT_FOR(fx_int(&fx, "tcp-0", "restarts") == 1, FX_WAIT));
	/* Same port after the restart (a pet keeps it). */
	lfd = listen_on(port);
	CHECK(lfd >= 0);
	CHECK(WAIT_FOR(run_healthy(&fx, "tcp-0"), FX_WAIT));
	if (lfd >= 0)
		close(lfd);
	fx_finish(&fx);
}

static char *
httpapp_path(void)
{
	return daemon_binary("examples/apps/httpapp");
}

TEST(slave_health__http_check_flips_run_and_unhealthy)
{
	char body[1024], *app = httpapp_path();
	json_t *j = NULL;
	long long pid;
	struct fx fx;

	REQUIRE(access(app, X_OK) == 0);
	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"web-0\",\"service\":\"web\",\"version\":\"2.0.0\",\"kind\":\"pet\","
	    "\"ports\":[\"http\"],\"command\":[\"%s\",\"--port\",\"${ORCH_PORT}\"],"
	    "\"health\":{\"type\":\"http\",\"path\":\"/healthz\",\"interval_ms\":100,"
	    "\"timeout_ms\":300,\"unhealthy_threshold\":2},"
	    "\"restart\":{\"backoff_ms\":500,\"max_backoff_ms\":500},"
	    "\"stop\":{\"timeout_ms\":3000}}", app);
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	CHECK(WAIT_FOR(run_healthy(&fx, "web-0"), FX_WAIT));
	/* A frozen process answers nothing: probes time out. */
	CHECK(kill((pid_t)pid, SIGSTOP) == 0);
	CHECK(WAIT_FOR(reason_has(&fx, "web-0", "unhealthy"), FX_WAIT));
	CHECK(WAIT_FOR(fx_int(&fx, "web-0", "restarts") == 1, FX_WAIT));
	CHECK(WAIT_FOR(run_healthy(&fx, "web-0"), FX_WAIT));
	CHECK(fx_int(&fx, "web-0", "pid") != pid);
	CHECK(WAIT_FOR(!pid_alive((pid_t)pid), FX_WAIT));
	fx_finish(&fx);
	free(app);
}

TEST(slave_health__unhealthy_cattle_are_failed_and_stopped)
{
	char body[1024], *app = httpapp_path();
	json_t *j = NULL;
	long long pid;
	struct fx fx;

	REQUIRE(access(app, X_OK) == 0);
	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"bad-1\",\"service\":\"bad\",\"version\":\"1.1.0\",\"kind\":\"cattle\","
	    "\"ports\":[\"http\"],\"command\":[\"%s\",\"--port\",\"${ORCH_PORT}\",\"--fail-health\"],"
	    "\"health\":{\"type\":\"http\",\"path\":\"/healthz\",\"interval_ms\":100,"
	    "\"timeout_ms\":1000,\"unhealthy_threshold\":2},"
	    "\"stop\":{\"timeout_ms\":3000}}", app);
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	CHECK(WAIT_FOR(fx_is(&fx, "bad-1", "state", "Failed"), FX_WAIT));
	CHECK(reason_has(&fx, "bad-1", "status 500"));
	CHECK(fx_is(&fx, "bad-1", "health", "unhealthy"));
	CHECK(WAIT_FOR(fx_int(&fx, "bad-1", "pid") == 0, FX_WAIT));
	CHECK(WAIT_FOR(!pid_alive((pid_t)pid), FX_WAIT));
	CHECK_EQ_INT(fx_int(&fx, "bad-1", "restarts"), 0);
	fx_finish(&fx);
	free(app);
}

CHECK_MAIN(slave_health__exec_check_flips_run_and_unhealthy,
    slave_health__tcp_check_flips_run_and_unhealthy,
    slave_health__http_check_flips_run_and_unhealthy,
    slave_health__unhealthy_cattle_are_failed_and_stopped)
