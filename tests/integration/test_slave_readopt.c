/*
 * test_slave_readopt.c - the slave's own restarts: SIGTERM leaves the
 * instances running; a slave killed with SIGKILL and started again
 * re-adopts its running instances with unchanged pids and then sees a
 * later crash of one; instances that died while it was away are handled
 * (pets restarted, cattle Failed); a pid whose start time does not match
 * the state file is never taken for the instance; a burst of concurrent
 * starts answered by one group commit of the state file survives a
 * SIGKILL right after the last answer.
 */
#include <curl/curl.h>

#include "slave_fixture.h"

#define PET(id) "{\"id\":\"" id "\",\"service\":\"db\",\"version\":\"1\",\"kind\":\"pet\"," \
	"\"ports\":[\"p\"],\"command\":[\"/bin/sleep\",\"120\"],\"stop\":{\"timeout_ms\":3000}}"
#define CATTLE(id) "{\"id\":\"" id "\",\"service\":\"web\",\"version\":\"1\"," \
	"\"command\":[\"/bin/sleep\",\"120\"],\"stop\":{\"timeout_ms\":3000}}"

static long long
start_pid(struct fx *fx, const char *body)
{
	json_t *j = NULL;
	long long pid = -1;

	if (fx_post(fx, body, &j) == 201)
		pid = json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	return pid;
}

TEST(slave_readopt__sigkilled_slave_readopts_and_sees_later_crashes)
{
	long long pet, cattle, port;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	pet = start_pid(&fx, PET("db-0"));
	cattle = start_pid(&fx, CATTLE("web-1"));
	CHECK(pet > 0 && cattle > 0);
	port = -1;
	{
		json_t *j = fx_instance(&fx, "db-0");

		port = json_integer_value(json_object_get(json_object_get(j, "ports"), "p"));
		json_decref(j);
	}
	CHECK_EQ_INT(daemon_stop(fx.d, SIGKILL, FX_WAIT), 128 + SIGKILL);
	daemon_free(fx.d);
	fx.d = NULL;
	CHECK(pid_alive((pid_t)pet));
	CHECK(pid_alive((pid_t)cattle));

	REQUIRE(fx_launch(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_int(&fx, "db-0", "pid"), pet);
	CHECK_EQ_INT(fx_int(&fx, "web-1", "pid"), cattle);
	CHECK(fx_is(&fx, "db-0", "state", "Run"));
	CHECK(fx_is(&fx, "web-1", "state", "Run"));
	CHECK_EQ_INT(fx_int(&fx, "db-0", "restarts"), 0);
	CHECK(daemon_log_contains(fx.d, "re-adopted"));

	/* Not our child any more, and still its crash is seen at once. */
	CHECK(kill((pid_t)pet, SIGKILL) == 0);
	CHECK(WAIT_FOR(fx_int(&fx, "db-0", "restarts") == 1 && fx_int(&fx, "db-0", "pid") > 0 &&
	    fx_int(&fx, "db-0", "pid") != pet, FX_WAIT));
	{
		json_t *j = fx_instance(&fx, "db-0");

		CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "ports"), "p")), port);
		json_decref(j);
	}
	CHECK(kill((pid_t)cattle, SIGKILL) == 0);
	CHECK(WAIT_FOR(fx_is(&fx, "web-1", "state", "Failed"), FX_WAIT));
	CHECK_EQ_INT(fx_int(&fx, "web-1", "restarts"), 0);
	fx_finish(&fx);
}

TEST(slave_readopt__sigterm_leaves_instances_running)
{
	long long pet;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	pet = start_pid(&fx, PET("db-1"));
	CHECK(pet > 0);
	CHECK_EQ_INT(daemon_stop(fx.d, SIGTERM, FX_WAIT), 0);
	daemon_free(fx.d);
	fx.d = NULL;
	usleep(200 * 1000);
	CHECK(pid_alive((pid_t)pet));
	REQUIRE(fx_launch(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_int(&fx, "db-1", "pid"), pet);
	fx_finish(&fx);
	CHECK(!pid_alive((pid_t)pet));
}

TEST(slave_readopt__instances_that_died_meanwhile_are_handled)
{
	long long pet, cattle;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	pet = start_pid(&fx, PET("db-2"));
	cattle = start_pid(&fx, CATTLE("web-2"));
	CHECK(pet > 0 && cattle > 0);
	CHECK_EQ_INT(daemon_stop(fx.d, SIGKILL, FX_WAIT), 128 + SIGKILL);
	daemon_free(fx.d);
	fx.d = NULL;
	/* Both die while no slave watches (they are orphans of init now). */
	CHECK(kill((pid_t)pet, SIGKILL) == 0);
	CHECK(kill((pid_t)cattle, SIGKILL) == 0);
	CHECK(WAIT_FOR(!pid_alive((pid_t)pet) && !pid_alive((pid_t)cattle), FX_WAIT));

	REQUIRE(fx_launch(&fx, NULL) == 0);
	CHECK(WAIT_FOR(fx_int(&fx, "db-2", "restarts") == 1 && fx_int(&fx, "db-2", "pid") > 0, FX_WAIT));
	CHECK(fx_int(&fx, "db-2", "pid") != pet);
	CHECK(fx_is(&fx, "web-2", "state", "Failed"));
	CHECK_EQ_INT(fx_int(&fx, "web-2", "pid"), 0);
	fx_finish(&fx);
}

TEST(slave_readopt__a_pid_with_another_start_time_is_not_the_instance)
{
	char path[700], *text, *p, *rest;
	const char *argv[] = {"/bin/sleep", "60", NULL};
	long long pet, now;
	struct daemon *other = NULL;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	pet = start_pid(&fx, PET("db-3"));
	CHECK(pet > 0);
	CHECK_EQ_INT(daemon_stop(fx.d, SIGKILL, FX_WAIT), 128 + SIGKILL);
	daemon_free(fx.d);
	fx.d = NULL;
	/* The pet dies while the slave is away, and its pid goes to another
	 * program (not an instance: nothing in its environment names one). */
	kill((pid_t)pet, SIGKILL);
	CHECK(WAIT_FOR(!pid_alive((pid_t)pet), FX_WAIT));
	snprintf(path, sizeof(path), "%s/other.log", fx.data_dir);
	REQUIRE(daemon_start(&other, argv, NULL, path) == 0);
	snprintf(path, sizeof(path), "%s/state.json", fx.data_dir);
	text = read_file(path);
	REQUIRE(text != NULL);
	p = strstr(text, "\"pid\":");
	REQUIRE(p != NULL);
	p += strlen("\"pid\":");
	strtol(p, &rest, 10);
	{
		char *edited = NULL;

		REQUIRE(asprintf(&edited, "%.*s%d%s", (int)(p - text), text, (int)other->pid,
		    rest) > 0);
		CHECK(write_file(path, edited) == 0);
		free(edited);
	}
	free(text);

	REQUIRE(fx_launch(&fx, NULL) == 0);
	/* The other program was not adopted (nor stopped): the pet was
	 * started anew. */
	CHECK(WAIT_FOR((now = fx_int(&fx, "db-3", "pid")) > 0 && now != other->pid, FX_WAIT));
	CHECK(pid_alive(other->pid));
	daemon_stop(other, SIGKILL, FX_WAIT);
	daemon_free(other);
	fx_finish(&fx);
}

#define BURST 40

/* BURST starts at once (one connection each), and the slave SIGKILLed the
 * moment the last answer is in: every acknowledged start must be in the
 * state file, so the slave started again re-adopts every one of them with
 * the pid it answered. */
TEST(slave_readopt__an_acknowledged_burst_survives_sigkill)
{
	CURL *e[BURST];
	char *bodies[BURST];
	char url[256], *resp[BURST];
	size_t rlen[BURST];
	FILE *mem[BURST];
	long long pid[BURST];
	struct curl_slist *h = NULL;
	CURLM *m = curl_multi_init();
	int running = 0, acked = 0;
	struct fx fx;

	REQUIRE(m != NULL);
	REQUIRE(fx_start(&fx, NULL) == 0);
	snprintf(url, sizeof(url), "%s/v1/instances", fx.url);
	h = curl_slist_append(h, "Authorization: Bearer " FX_TOKEN);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)BURST);
	for (int k = 0; k < BURST; k++) {
		REQUIRE(asprintf(&bodies[k], "{\"id\":\"web-b%02d\",\"service\":\"web\","
		    "\"version\":\"1\",\"command\":[\"/bin/sleep\",\"120\"],"
		    "\"stop\":{\"timeout_ms\":3000}}", k) > 0);
		resp[k] = NULL;
		mem[k] = open_memstream(&resp[k], &rlen[k]);
		e[k] = curl_easy_init();
		curl_easy_setopt(e[k], CURLOPT_URL, url);
		curl_easy_setopt(e[k], CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e[k], CURLOPT_POSTFIELDS, bodies[k]);
		curl_easy_setopt(e[k], CURLOPT_WRITEDATA, mem[k]);
		curl_easy_setopt(e[k], CURLOPT_TIMEOUT_MS, 20000L);
		curl_easy_setopt(e[k], CURLOPT_FORBID_REUSE, 1L);
		curl_multi_add_handle(m, e[k]);
	}
	do {
		curl_multi_perform(m, &running);
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 200, NULL);
	} while (running > 0);
	/* Every transfer is done: the last answer just came. Kill now. */
	CHECK_EQ_INT(daemon_stop(fx.d, SIGKILL, FX_WAIT), 128 + SIGKILL);
	daemon_free(fx.d);
	fx.d = NULL;
	for (int k = 0; k < BURST; k++) {
		long st = 0;
		json_t *j;

		curl_easy_getinfo(e[k], CURLINFO_RESPONSE_CODE, &st);
		fclose(mem[k]);
		j = resp[k] ? json_loads(resp[k], 0, NULL) : NULL;
		pid[k] = st == 201 ? json_integer_value(json_object_get(j, "pid")) : -1;
		if (pid[k] > 0)
			acked++;
		json_decref(j);
		free(resp[k]);
		free(bodies[k]);
		curl_multi_remove_handle(m, e[k]);
		curl_easy_cleanup(e[k]);
	}
	curl_slist_free_all(h);
	curl_multi_cleanup(m);
	CHECK_EQ_INT(acked, BURST);

	REQUIRE(fx_launch(&fx, NULL) == 0);
	for (int k = 0; k < BURST; k++) {
		char id[32];

		snprintf(id, sizeof(id), "web-b%02d", k);
		CHECK_EQ_INT(fx_int(&fx, id, "pid"), pid[k]);
		CHECK(fx_is(&fx, id, "state", "Run"));
	}
	fx_finish(&fx);
}

CHECK_MAIN(slave_readopt__sigkilled_slave_readopts_and_sees_later_crashes,
    slave_readopt__an_acknowledged_burst_survives_sigkill,
    slave_readopt__sigterm_leaves_instances_running,
    slave_readopt__instances_that_died_meanwhile_are_handled,
    slave_readopt__a_pid_with_another_start_time_is_not_the_instance)
