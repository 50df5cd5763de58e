/*
 * test_slave_supervise.c - supervision by the real orch-slave: pets come
 * back in place with growing backoff, a crash loop ends Failed, cattle
 * are not revived, a stop leaves no process of the instance behind (with
 * and without cgroups), and a stop escalates to SIGKILL.
 */
#include "slave_fixture.h"

/* Restart count of id reaches n and it runs a process other than old. */
static bool
restarted(struct fx *fx, const char *id, long long n, long long old)
{
	json_t *j = fx_instance(fx, id);
	long long pid = j ? json_integer_value(json_object_get(j, "pid")) : 0;
	long long r = j ? json_integer_value(json_object_get(j, "restarts")) : 0;
	bool ok = r >= n && pid > 0 && pid != old;

	json_decref(j);
	return ok;
}

TEST(slave_supervise__pet_comes_back_in_place_with_growing_backoff)
{
	json_t *j = NULL;
	char dd[512];
	long long pid, port, backoff[4] = {0};
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"db-0\",\"service\":\"db\",\"version\":\"1.0.0\","
	    "\"kind\":\"pet\",\"ports\":[\"main\"],\"command\":[\"/bin/sleep\",\"120\"],"
	    /* A probe that never runs keeps it Ready: every crash is then a
	     * quick one, however slow the machine, and backs off. */
	    "\"health\":{\"type\":\"exec\",\"command\":[\"/bin/false\"],\"interval_ms\":600000},"
	    "\"restart\":{\"limit\":10,\"window_ms\":60000,\"backoff_ms\":200,\"max_backoff_ms\":5000},"
	    "\"stop\":{\"timeout_ms\":3000}}", &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	port = json_integer_value(json_object_get(json_object_get(j, "ports"), "main"));
	snprintf(dd, sizeof(dd), "%s", json_string_value(json_object_get(j, "data_dir")));
	json_decref(j);
	CHECK(pid > 0 && port > 0);

	for (int round = 1; round <= 3; round++) {
		CHECK(kill((pid_t)pid, SIGKILL) == 0);
		CHECK(WAIT_FOR(restarted(&fx, "db-0", round, pid), FX_WAIT));
		j = fx_instance(&fx, "db-0");
		REQUIRE(j != NULL);
		CHECK_STR(json_string_value(json_object_get(j, "id")), "db-0");
		CHECK_STR(json_string_value(json_object_get(j, "data_dir")), dd);
		CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "ports"), "main")), port);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "exit_signal")), 9);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "restarts")), round);
		backoff[round] = json_integer_value(json_object_get(j, "backoff_ms"));
		pid = json_integer_value(json_object_get(j, "pid"));
		json_decref(j);
	}
	/* Quick crashes: 200ms, then doubling (jittered down by < 25%). */
	CHECK(backoff[1] >= 150 && backoff[1] <= 200);
	CHECK(backoff[2] > backoff[1] && backoff[2] <= 400);
	CHECK(backoff[3] > backoff[2] && backoff[3] <= 800);
	fx_finish(&fx);
}

TEST(slave_supervise__healthy_pet_restarts_at_once)
{
	json_t *j = NULL;
	long long pid;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"fast-0\",\"service\":\"fast\",\"version\":\"1\","
	    "\"kind\":\"pet\",\"command\":[\"/bin/sleep\",\"120\"],"
	    "\"restart\":{\"backoff_ms\":5000,\"max_backoff_ms\":5000},"
	    "\"stop\":{\"timeout_ms\":3000}}", &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	/* Run for longer than the stable threshold (1s): then a crash is not
	 * a crash loop, and the restart skips the 5s backoff. */
	CHECK(WAIT_FOR(fx_int(&fx, "fast-0", "started_at") > 0 &&
	    orch_wall_ms() - fx_int(&fx, "fast-0", "started_at") > 1300, FX_WAIT));
	CHECK(kill((pid_t)pid, SIGKILL) == 0);
	CHECK(WAIT_FOR(restarted(&fx, "fast-0", 1, pid), 3000));
	CHECK_EQ_INT(fx_int(&fx, "fast-0", "backoff_ms"), 0);
	fx_finish(&fx);
}

TEST(slave_supervise__crash_loop_ends_failed_and_a_new_start_revives)
{
	const char *spec = "{\"id\":\"loop-0\",\"service\":\"loop\",\"version\":\"1\",\"kind\":\"pet\","
	    "\"command\":[\"/bin/sh\",\"-c\",\"exit 3\"],"
	    "\"restart\":{\"limit\":3,\"window_ms\":60000,\"backoff_ms\":50,\"max_backoff_ms\":200}}";
	json_t *j = NULL;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_post(&fx, spec, NULL), 201);
	CHECK(WAIT_FOR(fx_is(&fx, "loop-0", "state", "Failed"), FX_WAIT));
	j = fx_instance(&fx, "loop-0");
	REQUIRE(j != NULL);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "restarts")), 3);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "exit_code")), 3);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "pid")), 0);
	CHECK_CONTAINS(json_string_value(json_object_get(j, "reason")), "restart limit 3");
	json_decref(j);
	/* Failed stays Failed: no more restarts. */
	usleep(500 * 1000);
	CHECK_EQ_INT(fx_int(&fx, "loop-0", "restarts"), 3);
	CHECK(fx_is(&fx, "loop-0", "state", "Failed"));

	/* A new start with the same spec revives it (and it fails again). */
	CHECK_EQ_INT(fx_post(&fx, spec, &j), 200);
	CHECK(strcmp(json_string_value(json_object_get(j, "state")), "Failed") != 0);
	json_decref(j);
	CHECK(WAIT_FOR(fx_int(&fx, "loop-0", "restarts") >= 6 &&
	    fx_is(&fx, "loop-0", "state", "Failed"), FX_WAIT));
	CHECK_EQ_INT(fx_int(&fx, "loop-0", "restarts"), 6);
	fx_finish(&fx);
}

TEST(slave_supervise__cattle_are_not_revived)
{
	json_t *j = NULL;
	long long pid;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"web-1\",\"service\":\"web\",\"version\":\"1\","
	    "\"command\":[\"/bin/sleep\",\"120\"]}", &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	CHECK(kill((pid_t)pid, SIGKILL) == 0);
	CHECK(WAIT_FOR(fx_is(&fx, "web-1", "state", "Failed"), FX_WAIT));
	usleep(500 * 1000);
	j = fx_instance(&fx, "web-1");
	REQUIRE(j != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Failed");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "restarts")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "pid")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "exit_signal")), 9);
	CHECK_CONTAINS(json_string_value(json_object_get(j, "reason")), "signal 9");
	json_decref(j);
	fx_finish(&fx);
}

/* A child that forks grandchildren, one of which leaves the session. */
static void
tree_case(const char *const *extra)
{
	char body[2048], path[700];
	long pids[4] = {0};
	json_t *j = NULL;
	const char *dd;
	struct fx fx;

	REQUIRE(fx_start(&fx, extra) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"tree-0\",\"service\":\"tree\",\"version\":\"1\",\"kind\":\"pet\","
	    "\"command\":[\"/bin/sh\",\"-c\","
	    "\"sleep 120 & echo $! > $ORCH_DATA_DIR/p1;"
	    " setsid /bin/sh -c 'echo $$$$ > $ORCH_DATA_DIR/p2; sleep 120 & echo $! > $ORCH_DATA_DIR/p3; wait' &"
	    " wait\"],"
	    "\"stop\":{\"timeout_ms\":2000}}");
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	dd = json_string_value(json_object_get(j, "data_dir"));
	REQUIRE(dd != NULL);
	pids[0] = json_integer_value(json_object_get(j, "pid"));
	for (int i = 1; i <= 3; i++) {
		snprintf(path, sizeof(path), "%s/p%d", dd, i);
		if (!WAIT_FOR((pids[i] = fx_read_long(path)) > 0, FX_WAIT))
			check_fail(__FILE__, __LINE__, "no pid in %s", path);
		CHECK(pid_alive((pid_t)pids[i]));
	}
	json_decref(j);
	json_decref(fx_call(&fx, NULL, "DELETE", "/v1/instances/tree-0", NULL));
	CHECK(WAIT_FOR(fx_gone(&fx, "tree-0"), FX_WAIT));
	for (int i = 0; i < 4; i++)
		CHECK(WAIT_FOR(!pid_alive((pid_t)pids[i]), 5000));
	fx_finish(&fx);
}

TEST(slave_supervise__stop_leaves_no_process_of_the_tree)
{
	tree_case(NULL);
}

TEST(slave_supervise__stop_leaves_no_process_without_cgroups)
{
	const char *const extra[] = {"--no-cgroup", NULL};

	tree_case(extra);
}

TEST(slave_supervise__stop_escalates_to_sigkill)
{
	char ready[700];
	json_t *j = NULL;
	long long pid;
	int64_t t0;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	/* Ignores TERM (and so do its sleeps, which inherit the ignore). */
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"stub-0\",\"service\":\"stub\",\"version\":\"1\","
	    "\"command\":[\"/bin/sh\",\"-c\",\"trap '' TERM; touch $ORCH_DATA_DIR/trapped;"
	    " while :; do sleep 0.2; done\"],"
	    "\"stop\":{\"signal\":\"TERM\",\"timeout_ms\":700}}", &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	snprintf(ready, sizeof(ready), "%s/trapped", json_string_value(json_object_get(j, "data_dir")));
	json_decref(j);
	/* The shell has installed its trap once it made the file. */
	CHECK(WAIT_FOR(access(ready, F_OK) == 0, FX_WAIT));
	t0 = orch_mono_ms();
	json_decref(fx_call(&fx, NULL, "DELETE", "/v1/instances/stub-0", NULL));
	CHECK(WAIT_FOR(fx_gone(&fx, "stub-0"), FX_WAIT));
	CHECK(orch_mono_ms() - t0 >= 650);
	CHECK(!pid_alive((pid_t)pid));
	CHECK(daemon_log_contains(fx.d, "SIGKILL"));
	fx_finish(&fx);
}

/* The demo pet: data written before a SIGKILL is there after the revival. */
TEST(slave_supervise__kv_pet_keeps_its_data_across_a_crash)
{
	char body[1024], url[256], *kv = daemon_binary("examples/apps/kv");
	struct http_result r;
	json_t *j = NULL;
	long long pid, port;
	struct fx fx;

	REQUIRE(access(kv, X_OK) == 0);
	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"cache-0\",\"service\":\"cache\",\"version\":\"2.1.0\",\"kind\":\"pet\","
	    "\"ports\":[\"http\"],\"command\":[\"%s\",\"--port\",\"${ORCH_PORT}\",\"--data\",\"${ORCH_DATA_DIR}\"],"
	    "\"health\":{\"type\":\"http\",\"path\":\"/healthz\",\"interval_ms\":100,\"timeout_ms\":1000},"
	    "\"stop\":{\"timeout_ms\":3000}}", kv);
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	port = json_integer_value(json_object_get(json_object_get(j, "ports"), "http"));
	json_decref(j);
	CHECK(WAIT_FOR(fx_is(&fx, "cache-0", "state", "Run"), FX_WAIT));
	snprintf(url, sizeof(url), "http://127.0.0.1:%lld/greeting", port);
	CHECK(http_request(&r, "PUT", url, NULL, "hello-pet", 9, 5000) == 0);
	CHECK(r.status == 201 || r.status == 200);
	http_result_free(&r);

	CHECK(kill((pid_t)pid, SIGKILL) == 0);
	CHECK(WAIT_FOR(restarted(&fx, "cache-0", 1, pid) && fx_is(&fx, "cache-0", "state", "Run"),
	    FX_WAIT));
	CHECK(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_STR(r.body, "hello-pet");
	http_result_free(&r);
	fx_finish(&fx);
	free(kv);
}

/* A cattle instance whose main process exits would leave a setsid()'d
 * grandchild behind: going Failed ends it (its ports are free again). */
TEST(slave_supervise__a_failed_instance_leaves_no_leftovers)
{
	char body[1024], path[700];
	json_t *j = NULL;
	long left = -1;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"orphan-1\",\"service\":\"o\",\"version\":\"1\","
	    "\"command\":[\"/bin/sh\",\"-c\","
	    "\"setsid /bin/sh -c 'echo $$$$ > $ORCH_DATA_DIR/left; exec sleep 120' &"
	    " while [ ! -s $ORCH_DATA_DIR/left ]; do sleep 0.05; done; exit 7\"]}");
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	snprintf(path, sizeof(path), "%s/left", json_string_value(json_object_get(j, "data_dir")));
	json_decref(j);
	CHECK(WAIT_FOR(fx_is(&fx, "orphan-1", "state", "Failed"), FX_WAIT));
	CHECK_EQ_INT(fx_int(&fx, "orphan-1", "exit_code"), 7);
	left = fx_read_long(path);
	CHECK(left > 0);
	CHECK(WAIT_FOR(!pid_alive((pid_t)left), FX_WAIT));
	json_decref(fx_call(&fx, NULL, "DELETE", "/v1/instances/orphan-1", NULL));
	CHECK(WAIT_FOR(fx_gone(&fx, "orphan-1"), FX_WAIT));
	fx_finish(&fx);
}

CHECK_MAIN(slave_supervise__pet_comes_back_in_place_with_growing_backoff,
    slave_supervise__healthy_pet_restarts_at_once,
    slave_supervise__crash_loop_ends_failed_and_a_new_start_revives,
    slave_supervise__cattle_are_not_revived,
    slave_supervise__stop_leaves_no_process_of_the_tree,
    slave_supervise__stop_leaves_no_process_without_cgroups,
    slave_supervise__stop_escalates_to_sigkill,
    slave_supervise__kv_pet_keeps_its_data_across_a_crash,
    slave_supervise__a_failed_instance_leaves_no_leftovers)
