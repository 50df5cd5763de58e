/*
 * test_controller_diskfull.c - the controller's data dir fills up (issue
 * 11 #2): a write it cannot persist is not acknowledged, nothing starts
 * that the store does not hold, the condition is shown, and the
 * controller recovers by itself when space returns; killed while the
 * disk is full, it comes back with nothing acknowledged lost and no
 * cattle id given to a second process.
 *
 * The controller's data dir is a small tmpfs (root: CI runs as root),
 * filled to the last byte.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "procs.h"
#include "tmpfs.h"

static struct cluster *cl;
static char filler[600];

static const char *
manifest(const char *version)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "architecture: diskfull\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    max: 5\n"
	    "    min_ready: 0s\n"
	    "    health: {type: tcp, interval: 200ms, timeout: 200ms}\n",
	    version, cluster_app("httpapp"));
	return buf;
}

static bool
store_writable(bool want)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/status", NULL);
	json_t *w = json_object_get(json_object_get(j, "store"), "writable");
	bool ok = json_is_boolean(w) && json_is_true(w) == want;

	json_decref(j);
	return ok;
}

static char *
status_commit(void)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/status", NULL);
	const char *c = json_string_value(json_object_get(json_object_get(j, "revision"),
	    "commit"));
	char *out = c ? strdup(c) : NULL;

	json_decref(j);
	return out;
}

/* id -> pid of every instance with a process, appended to seen (ids
 * owned by it); how many there are now. */
static size_t
collect(json_t *seen)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/instances", NULL), *i;
	size_t k, n = 0;

	json_array_foreach(json_object_get(j, "instances"), k, i) {
		json_int_t pid = json_integer_value(json_object_get(i, "pid"));
		const char *id = json_string_value(json_object_get(i, "id"));
		json_t *was;

		if (id == NULL || pid <= 0)
			continue;
		n++;
		if ((was = json_object_get(seen, id)) == NULL)
			json_object_set_new(seen, id, json_integer(pid));
		else
			CHECK_EQ_INT(json_integer_value(was), pid); /* never reused */
	}
	json_decref(j);
	return n;
}

/* A cattle instance's pid from /v1/instances (the first with a process). */
static int
some_pid(void)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/instances", NULL), *i;
	size_t k;
	int pid = 0;

	json_array_foreach(json_object_get(j, "instances"), k, i)
		if (pid == 0 && json_integer_value(json_object_get(i, "pid")) > 0)
			pid = (int)json_integer_value(json_object_get(i, "pid"));
	json_decref(j);
	return pid;
}

TEST(ctl_diskfull__nothing_unpersisted_is_acknowledged_and_nothing_is_lost)
{
	json_t *seen = json_object(), *j;
	char sha1[41], sha2[41], *now;
	long st;

	REQUIRE(getuid() == 0); /* tmpfs mount: CI runs as root */
	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	REQUIRE(cluster_ctl_stop(cl, SIGTERM) == 0);
	REQUIRE(tmpfs_mount(cl->ctl_data, "3m") == 0);
	REQUIRE(cluster_ctl_start(cl) == 0);
	REQUIRE(WAIT_FOR(cluster_node_is(cl, cl->slaves[0].name, "Ready"), CL_WAIT));
	REQUIRE(cluster_commit(cl, manifest("1.0.0"), sha1) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	CHECK(store_writable(true));
	collect(seen);

	/* The disk fills: an apply and a scale are refused, nothing changes. */
	snprintf(filler, sizeof(filler), "%s/filler", cl->ctl_data);
	CHECK(tmpfs_fill(filler) > 0);
	REQUIRE(cluster_commit(cl, manifest("2.0.0"), sha2) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 507);
	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": 3}");
	CHECK_EQ_INT(st, 507);
	CHECK(j != NULL && strstr(json_string_value(json_object_get(j, "detail")) ?: "",
	    "cannot write its store") != NULL);
	json_decref(j);
	CHECK(store_writable(false));
	now = status_commit();
	CHECK(now != NULL && strcmp(now, sha1) == 0);
	free(now);

	/* A cattle instance dies: its replacement is not started while the
	 * store cannot hold its record. */
	kill(some_pid(), SIGKILL);
	CHECK(WAIT_FOR(procs_copies(NULL, 0, cl->dir, NULL, "web") == 1, CL_WAIT));
	usleep(1500 * 1000);
	CHECK_EQ_INT(procs_copies(NULL, 0, cl->dir, NULL, "web"), 1);

	/* Space returns: it recovers by itself, and the replacement runs. */
	CHECK(unlink(filler) == 0);
	CHECK(WAIT_FOR(store_writable(true), CL_WAIT));
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	collect(seen);

	/* Full again; an instance dies; the controller is killed -9 there
	 * and started once space is back: nothing acknowledged is lost. */
	CHECK(tmpfs_fill(filler) > 0);
	kill(some_pid(), SIGKILL);
	CHECK(WAIT_FOR(store_writable(false), CL_WAIT));
	collect(seen);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGKILL), 128 + SIGKILL);
	CHECK(unlink(filler) == 0);
	REQUIRE(cluster_ctl_start(cl) == 0);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2 &&
	    procs_copies(NULL, 0, cl->dir, NULL, "web") == 2, CL_WAIT));
	now = status_commit();
	CHECK(now != NULL && strcmp(now, sha1) == 0); /* 2.0.0 was never acknowledged */
	free(now);
	CHECK_EQ_INT(collect(seen), 2); /* and no id came back with another pid */
	json_decref(seen);
	cluster_free(cl);
	cl = NULL;
	tmpfs_umount();
}

CHECK_MAIN(ctl_diskfull__nothing_unpersisted_is_acknowledged_and_nothing_is_lost)
