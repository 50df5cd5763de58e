/*
 * test_slave_reasons.c - what a slave knows is said where people look
 * (issue 10 #11, #8; issue 11 #8), with a real controller and slave:
 *   - a pet killed -9 is restarted, and the controller's event for the
 *     restart names "killed by signal 9"; /v1/instances and `orchctl
 *     instances -o json` carry exit_code, exit_signal and data_dir;
 *   - a pet that failed for good (no process) has health "none", not
 *     "starting", and its exit status;
 *   - a slave on --listen 0.0.0.0 without --advertise refuses to start,
 *     saying why; with --advertise its node's address is that one;
 *   - the slave API refuses restart.backoff_ms 0 (400, nothing created);
 *   - the controller's state.db and the slave's state files are 0600.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "cluster.h"
#include "err.h"
#include "run.h"

static struct cluster *cl;

static const char *
manifest(void)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	    "architecture: reasons\nversion: \"1.0.0\"\nservices:\n"
	    "  cache:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--data\", \"${ORCH_DATA_DIR}\"]\n"
	    "    ports: [kv]\n"
	    "    health: {type: tcp, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "    restart: {limit: 10, window: 60s, backoff: 50ms, max_backoff: 200ms}\n"
	    "  broken:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"exit 3\"]\n"
	    "    ports: [p]\n"
	    "    health: {type: tcp, interval: 300ms, timeout: 300ms}\n"
	    "    restart: {limit: 1, window: 60s, backoff: 50ms, max_backoff: 100ms}\n",
	    cluster_app("kv"));
	return buf;
}

static bool
instance_is(const char *id, const char *field, const char *want)
{
	json_t *i = cluster_instance(cl, id);
	const char *v = i ? json_string_value(json_object_get(i, field)) : NULL;
	bool eq = v != NULL && strcmp(v, want) == 0;

	json_decref(i);
	return eq;
}

static long long
instance_int(const char *id, const char *field)
{
	json_t *i = cluster_instance(cl, id);
	long long v = i ? json_integer_value(json_object_get(i, field)) : -1;

	json_decref(i);
	return v;
}

/* Whether the controller recorded an event for instance whose cause
 * holds needle. */
static bool
event_says(const char *instance, const char *needle)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/events?since=0", NULL), *ev;
	bool found = false;
	size_t k;

	json_array_foreach(json_object_get(j, "events"), k, ev) {
		const char *in = json_string_value(json_object_get(ev, "instance"));
		const char *cause = json_string_value(json_object_get(ev, "cause"));

		if (in && strcmp(in, instance) == 0 && cause && strstr(cause, needle))
			found = true;
	}
	json_decref(j);
	return found;
}

/* The cause of the first event after seq where instance left Run ("" when
 * none yet; static buffer). */
static const char *
first_cause_leaving_run(const char *instance, long long seq)
{
	static char buf[512];
	char path[128];
	json_t *j, *ev;
	size_t k;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/v1/events?since=%lld", seq);
	j = cluster_call(cl, NULL, "GET", path, NULL);
	json_array_foreach(json_object_get(j, "events"), k, ev) {
		const char *in = json_string_value(json_object_get(ev, "instance"));
		const char *from = json_string_value(json_object_get(ev, "from"));
		const char *cause = json_string_value(json_object_get(ev, "cause"));

		if (in && strcmp(in, instance) == 0 && from && strcmp(from, "Run") == 0) {
			snprintf(buf, sizeof(buf), "%s", cause ? cause : "(null)");
			break;
		}
	}
	json_decref(j);
	return buf;
}

TEST(slave_reasons__deploy)
{
	/* Files are made with the usual umask; the daemons narrow theirs. */
	umask(022);
	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest(), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(instance_is("cache-0", "state", "Run") &&
	    instance_is("cache-0", "health", "healthy"), CL_WAIT));
}

TEST(slave_reasons__killed_pet_restart_says_why)
{
	char want_dir[700], *bin;
	struct run_result r;
	long long pid, seq;
	json_t *i, *j, *list, *v;
	struct stat st;

	REQUIRE(cl != NULL);
	/* A pet that ran a while (slave/slave.h SLAVE_STABLE_MS) is restarted
	 * at once, in the SIGCHLD path: the event it gives leaves Run for
	 * Ready, and that is the one that used to say only "process started". */
	CHECK(WAIT_FOR(instance_int("cache-0", "age_ms") >= 1500, CL_WAIT));
	pid = instance_int("cache-0", "pid");
	REQUIRE(pid > 0);
	seq = cluster_last_seq(cl);
	CHECK(kill((pid_t)pid, SIGKILL) == 0);
	CHECK(WAIT_FOR(instance_int("cache-0", "restarts") == 1 &&
	    instance_int("cache-0", "pid") > 0 && instance_int("cache-0", "pid") != pid &&
	    instance_is("cache-0", "state", "Run"), CL_WAIT));
	/* The restart's own event says why, not only "process started". */
	CHECK(WAIT_FOR(first_cause_leaving_run("cache-0", seq)[0] != '\0', CL_WAIT));
	CHECK_CONTAINS(first_cause_leaving_run("cache-0", seq), "killed by signal 9");

	i = cluster_instance(cl, "cache-0");
	REQUIRE(i != NULL);
	CHECK_EQ_INT(json_integer_value(json_object_get(i, "exit_signal")), 9);
	CHECK(json_is_null(json_object_get(i, "exit_code")));
	snprintf(want_dir, sizeof(want_dir), "%s/instances/cache-0/data", cl->slaves[0].data_dir);
	CHECK_STR(json_string_value(json_object_get(i, "data_dir")), want_dir);
	CHECK(stat(want_dir, &st) == 0 && S_ISDIR(st.st_mode));
	json_decref(i);

	/* orchctl shows them: in full with -o json, in short in the table. */
	bin = daemon_binary("orchctl/orchctl");
	{
		const char *argv[] = {bin, "--controller", cl->url, "--token-file", cl->token_file,
		    "instances", "cache", "-o", "json", NULL};

		CHECK(run_capture(&r, argv, NULL, NULL, CL_WAIT) == 0);
		CHECK_EQ_INT(r.status, 0);
		j = json_loads(r.out ? r.out : "", 0, NULL);
		list = json_object_get(j, "instances");
		CHECK_EQ_INT(json_array_size(list), 1);
		v = json_array_get(list, 0);
		CHECK_EQ_INT(json_integer_value(json_object_get(v, "exit_signal")), 9);
		CHECK_STR(json_string_value(json_object_get(v, "data_dir")), want_dir);
		json_decref(j);
		run_result_free(&r);
	}
	{
		const char *argv[] = {bin, "--controller", cl->url, "--token-file", cl->token_file,
		    "instances", "cache", NULL};

		CHECK(run_capture(&r, argv, NULL, NULL, CL_WAIT) == 0);
		CHECK_EQ_INT(r.status, 0);
		CHECK_CONTAINS(r.out, "1 (signal 9)");
		run_result_free(&r);
	}
	free(bin);
}

TEST(slave_reasons__failed_pet_health_and_exit_status)
{
	json_t *i;

	REQUIRE(cl != NULL);
	CHECK(WAIT_FOR(instance_is("broken-0", "state", "Failed"), CL_WAIT));
	i = cluster_instance(cl, "broken-0");
	REQUIRE(i != NULL);
	CHECK_EQ_INT(json_integer_value(json_object_get(i, "pid")), 0);
	/* No process: nothing is being checked, so not "starting". */
	CHECK_STR(json_string_value(json_object_get(i, "health")), "none");
	CHECK_EQ_INT(json_integer_value(json_object_get(i, "exit_code")), 3);
	CHECK(json_is_null(json_object_get(i, "exit_signal")));
	CHECK_CONTAINS(json_string_value(json_object_get(i, "reason")), "exit status 3");
	json_decref(i);
	CHECK(event_says("broken-0", "exit status 3"));
}

TEST(slave_reasons__backoff_zero_refused)
{
	static const char body[] = "{\"id\":\"zero-0\",\"service\":\"zero\",\"version\":\"1\","
	    "\"kind\":\"pet\",\"command\":[\"/bin/false\"],"
	    "\"restart\":{\"backoff_ms\":0,\"max_backoff_ms\":100}}";
	char url[256];
	json_t *j = NULL;
	long st = 0;

	REQUIRE(cl != NULL);
	snprintf(url, sizeof(url), "%s/v1/instances", cl->slaves[0].url);
	CHECK(http_json(&j, &st, "POST", url, CL_TOKEN, body) == 0);
	CHECK_EQ_INT(st, 400);
	CHECK_CONTAINS(json_string_value(json_object_get(j, "detail")), "restart.backoff_ms");
	json_decref(j);
	j = NULL;
	snprintf(url, sizeof(url), "%s/v1/instances/zero-0", cl->slaves[0].url);
	CHECK(http_json(&j, &st, "GET", url, CL_TOKEN, NULL) == 0);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
}

static int
mode_of(const char *dir, const char *file)
{
	char path[700];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (stat(path, &st) < 0) {
		printf("# %s: missing\n", path);
		return -1;
	}
	return (int)(st.st_mode & 07777);
}

TEST(slave_reasons__data_files_0600)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(mode_of(cl->ctl_data, "state.db"), 0600);
	CHECK_EQ_INT(mode_of(cl->ctl_data, "state.db-wal"), 0600);
	CHECK_EQ_INT(mode_of(cl->slaves[0].data_dir, "state.json"), 0600);
	CHECK_EQ_INT(mode_of(cl->slaves[0].data_dir, "slave.lock"), 0600);
}

/* A slave of this cluster started with extra listen/advertise args. */
static void
run_slave(struct run_result *r, const char *listen, const char *advertise, const char *name)
{
	char *bin = daemon_binary("slave/orch-slave"), data[600];
	const char *argv[20];
	size_t n = 0;

	snprintf(data, sizeof(data), "%s/%s", cl->dir, name);
	argv[n++] = bin;
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--controller";
	argv[n++] = cl->url;
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--data-dir";
	argv[n++] = data;
	argv[n++] = "--token-file";
	argv[n++] = cl->token_file;
	if (advertise != NULL) {
		argv[n++] = "--advertise";
		argv[n++] = advertise;
	}
	argv[n] = NULL;
	CHECK(run_capture(r, argv, NULL, NULL, CL_WAIT) == 0);
	free(bin);
}

static bool
node_address_is(const char *node, const char *want)
{
	json_t *j = cluster_get(cl, "/v1/nodes"), *n;
	bool eq = false;
	size_t k;

	json_array_foreach(json_object_get(j, "nodes"), k, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		const char *addr = json_string_value(json_object_get(n, "address"));

		if (name && strcmp(name, node) == 0 && addr && strcmp(addr, want) == 0)
			eq = true;
	}
	json_decref(j);
	return eq;
}

TEST(slave_reasons__wildcard_listen_needs_advertise)
{
	struct run_result r;
	struct daemon *d = NULL;
	char listen[64], want[64], name[64], data[600], log[600];
	char *bin;
	int port;

	REQUIRE(cl != NULL);
	/* Refused before it binds anything: 0.0.0.0 names no address. */
	run_slave(&r, "0.0.0.0:1", NULL, "wild");
	CHECK_EQ_INT(r.status, 2);
	CHECK_CONTAINS(r.err, "--listen 0.0.0.0");
	CHECK_CONTAINS(r.err, "--advertise ADDR");
	run_result_free(&r);
	run_slave(&r, "127.0.0.1:1", "0.0.0.0", "wild");
	CHECK_EQ_INT(r.status, 2);
	CHECK_CONTAINS(r.err, "--advertise: 0.0.0.0 is not an address");
	run_result_free(&r);

	/* --advertise HOST takes the listening port; the node registers it. */
	REQUIRE(daemon_free_port(&port) == 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(want, sizeof(want), "localhost:%d", port);
	snprintf(name, sizeof(name), "adv%d", (int)getpid());
	snprintf(data, sizeof(data), "%s/%s", cl->dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", cl->dir, name);
	bin = daemon_binary("slave/orch-slave");
	{
		const char *argv[] = {bin, "--name", name, "--controller", cl->url,
		    "--listen", listen, "--advertise", "localhost", "--data-dir", data,
		    "--token-file", cl->token_file, "--heartbeat", "300ms", NULL};

		REQUIRE(daemon_start(&d, argv, cl->dir, log) == 0);
	}
	free(bin);
	CHECK(WAIT_FOR(node_address_is(name, want), CL_WAIT));
	CHECK(WAIT_FOR(cluster_node_is(cl, name, "Ready"), CL_WAIT));
	CHECK_EQ_INT(daemon_stop(d, SIGTERM, CL_WAIT), 0);
	daemon_free(d);
}

TEST(slave_reasons__teardown)
{
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(slave_reasons__deploy, slave_reasons__killed_pet_restart_says_why,
    slave_reasons__failed_pet_health_and_exit_status, slave_reasons__backoff_zero_refused,
    slave_reasons__data_files_0600, slave_reasons__wildcard_listen_needs_advertise,
    slave_reasons__teardown)
