/*
 * test_slave_diskfull.c - a full disk under the slave's data dir (issue
 * 11 #1): no pet ever runs twice, nothing unwritten is acknowledged, and
 * the slave recovers by itself when space returns.
 *
 * The slave's data dir is a 2 MB tmpfs (root: CI runs as root), filled
 * to the last byte. A pet killed -9 is revived, but its new pid cannot be
 * written; the slave is then killed -9 and started again with the disk
 * still full: it must find the live pet by its environment rather than
 * start a second copy (a thread counts copies in /proc all along). Starts
 * are answered 507 while the state file cannot be written, the condition
 * is logged once and shown on the node, and once the filler is removed
 * starts are acknowledged again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "procs.h"
#include "units.h"

static struct cluster *cl;
static char mounted[512];
static char filler[600];

static void
unmount(void)
{
	if (mounted[0] != '\0' && umount2(mounted, MNT_DETACH) == 0)
		mounted[0] = '\0';
}

/* Write zeros into path until the disk says no; bytes written. */
static long
fill(const char *path)
{
	static char buf[4096];
	long total = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = write(fd, buf, sizeof(buf))) > 0)
		total += n;
	/* The last page may take less than a page. */
	while (write(fd, buf, 1) == 1)
		total++;
	close(fd);
	return total;
}

/* The pet's pid as the slave reports it, or 0. */
static int
slave_pid(const char *id)
{
	char url[256];
	json_t *j = NULL;
	long st = 0;
	int pid = 0;

	snprintf(url, sizeof(url), "%s/v1/instances/%s", cl->slaves[0].url, id);
	if (http_json(&j, &st, "GET", url, CL_TOKEN, NULL) == 0 && st == 200 &&
	    strcmp(json_string_value(json_object_get(j, "state")) ?: "", "Run") == 0)
		pid = (int)json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	return pid;
}

/* A start sent straight to the slave; the HTTP status. */
static long
direct_start(const char *id)
{
	char url[256], body[512];
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s/v1/instances", cl->slaves[0].url);
	snprintf(body, sizeof(body), "{\"id\": \"%s\", \"service\": \"probe\", \"version\":"
	    " \"1\", \"command\": [\"/bin/sleep\", \"300\"]}", id);
	http_json(&j, &st, "POST", url, CL_TOKEN, body);
	json_decref(j);
	return st;
}

static bool
node_state_error(bool want)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/nodes", NULL);
	json_t *n = json_array_get(json_object_get(j, "nodes"), 0);
	bool ok = n != NULL && json_is_string(json_object_get(n, "state_error")) == want;

	json_decref(j);
	return ok;
}

static int
log_count(const char *needle)
{
	char *text = daemon_log(cl->slaves[0].d), *p = text;
	int n = 0;

	while (p != NULL && (p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(text);
	return n;
}

TEST(diskfull__pet_never_twice_nothing_unwritten_acknowledged)
{
	struct procs_sampler *sampler = NULL;
	char yaml[2048];
	int pid1, pid2, pid3, most;

	REQUIRE(getuid() == 0); /* tmpfs mount: CI runs as root */
	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	/* The slave's data dir on a 2 MB tmpfs. */
	REQUIRE(cluster_slave_stop(cl, 0, SIGTERM) == 0);
	snprintf(mounted, sizeof(mounted), "%s", cl->slaves[0].data_dir);
	atexit(unmount);
	REQUIRE(mount("orchtest", mounted, "tmpfs", 0, "size=2m,mode=0700") == 0);
	REQUIRE(cluster_slave_start(cl, 0) == 0);
	REQUIRE(WAIT_FOR(cluster_node_is(cl, cl->slaves[0].name, "Ready"), CL_WAIT));
	snprintf(yaml, sizeof(yaml),
	    "architecture: diskfull\n"
	    "services:\n"
	    "  p:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    restart: {limit: 50, window: 60s, backoff: 50ms, max_backoff: 200ms}\n",
	    cluster_app("httpapp"));
	REQUIRE(cluster_commit(cl, yaml, NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_service_is(cl, "p", "Run") && slave_pid("p-0") > 0, CL_WAIT));
	pid1 = slave_pid("p-0");
	REQUIRE(procs_sampler_start(&sampler, cl->dir, "p-0") == 0);

	/* Fill the disk; kill the pet: revived, its new pid not written. */
	snprintf(filler, sizeof(filler), "%s/filler", mounted);
	CHECK(fill(filler) > 0);
	kill(pid1, SIGKILL);
	CHECK(WAIT_FOR((pid2 = slave_pid("p-0")) > 0 && pid2 != pid1, CL_WAIT));
	/* Nothing it cannot write is acknowledged: 507, nothing started. */
	CHECK(WAIT_FOR(direct_start("probe-1") == 507, CL_WAIT));
	CHECK(WAIT_FOR(node_state_error(true), CL_WAIT));

	/* Kill the slave and start it again, the disk still full. */
	CHECK_EQ_INT(cluster_slave_stop(cl, 0, SIGKILL), 128 + SIGKILL);
	REQUIRE(cluster_slave_start(cl, 0) == 0);
	CHECK(WAIT_FOR((pid3 = slave_pid("p-0")) > 0, CL_WAIT));
	CHECK_EQ_INT(pid3, pid2); /* the live pet, found: not a second one */
	CHECK(WAIT_FOR(procs_sampler_samples(sampler) >= 50, CL_WAIT));
	CHECK_EQ_INT(procs_copies(NULL, 0, cl->dir, "p-0", NULL), 1);
	/* Logged once per life of the slave, not once per failed write. */
	CHECK(log_count("state: ") <= 4);

	/* Space returns: the slave recovers by itself. */
	CHECK(unlink(filler) == 0);
	CHECK(WAIT_FOR(node_state_error(false), CL_WAIT));
	CHECK(WAIT_FOR(direct_start("probe-2") == 201, CL_WAIT));
	CHECK(log_count("state: written again") >= 1);
	CHECK(cluster_service_is(cl, "p", "Run"));
	CHECK_EQ_INT(slave_pid("p-0"), pid2);
	most = procs_sampler_stop(sampler);
	printf("# at most %d copies of p-0 at once\n", most);
	CHECK_EQ_INT(most, 1);
	cluster_free(cl);
	cl = NULL;
	unmount();
}

CHECK_MAIN(diskfull__pet_never_twice_nothing_unwritten_acknowledged)
