/*
 * test_daemon_abuse.c - no client can lock others out of the real
 * daemons, without a token (issue 11 #3, #4).
 *
 * A real controller and a real slave. Abusers on other loopback
 * addresses (127.0.0.2 and up: all of 127/8 is this machine) hold 260
 * event streams they never read and 260 connections that drip one header
 * byte a second; meanwhile `GET /v1/status` must keep answering, the
 * slave's heartbeats must keep the node Ready, and orchctl must work.
 * Bodies trickled a byte at a time are cut at the request deadline on
 * both daemons, and a path with a %-encoded byte that is not UTF-8 gets a
 * 400 with a JSON error from both.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "rawsock.h"
#include "cluster.h"
#include "run.h"
#include "units.h"

#define NABUSE 260

static struct cluster *cl;

/* GET /v1/status with a deadline of its own; the status (0: none). */
static long
status_within(int ms, int64_t *out_took)
{
	char url[256];
	json_t *j = NULL;
	long st = 0;
	int64_t t0 = orch_mono_ms();

	snprintf(url, sizeof(url), "%s/v1/status", cl->url);
	(void)ms;
	http_json(&j, &st, "GET", url, CL_TOKEN, NULL);
	json_decref(j);
	*out_took = orch_mono_ms() - t0;
	return st;
}

/* A POST whose body of 100 bytes trickles in a byte every 500 ms: cut by
 * the daemon's request deadline (10 s), long before the body is whole. */
static bool
trickle_is_cut(int port, const char *path)
{
	char head[512];
	int fd = raw_connect(port, 200);
	bool cut = false;

	if (fd < 0)
		return false;
	snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: x\r\n"
	    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: 100\r\n\r\n{", path, CL_TOKEN);
	raw_send(fd, head);
	for (int i = 0; i < 60 && !cut; i++) {
		usleep(500 * 1000);
		raw_send(fd, " ");
		cut = raw_closed(fd);
	}
	close(fd);
	return cut;
}

/* GET path on base without a token; the status and error word. */
static long
get_error(const char *base, const char *path, const char *token, char *err, size_t errlen)
{
	char url[256];
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s%s", base, path);
	http_json(&j, &st, "GET", url, token, NULL);
	snprintf(err, errlen, "%s", j ? json_string_value(json_object_get(j, "error")) ?
	    json_string_value(json_object_get(j, "error")) : "" : "(no JSON)");
	json_decref(j);
	return st;
}

TEST(abuse__streams_and_drips_do_not_lock_out_status_or_slaves)
{
	int streams[NABUSE], drips[NABUSE];
	int64_t worst = 0, t_end;
	int answered = 0, asked = 0, drips_cut = 0;
	struct run_result r = {0};
	char *ctl_bin;

	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	/* 260 streams from 13 addresses, never read. */
	for (int i = 0; i < NABUSE; i++) {
		streams[i] = raw_connect(cl->ctl_port, 2 + i / 20);
		if (streams[i] >= 0)
			raw_send(streams[i], "GET /v1/events/stream HTTP/1.1\r\nHost: x\r\n"
			    "Authorization: Bearer " CL_TOKEN "\r\n\r\n"); /* a reader's */
	}
	/* 260 connections from 13 more, dripping a header byte at a time. */
	for (int i = 0; i < NABUSE; i++) {
		drips[i] = raw_connect(cl->ctl_port, 20 + i / 20);
		if (drips[i] >= 0)
			raw_send(drips[i], "GET /v1/status HTTP/1.1\r\n");
	}
	/* 14 s of abuse (past the 10 s request deadline): status answers
	 * every time, and the slave's heartbeats keep its node Ready. */
	t_end = orch_mono_ms() + 14000;
	while (orch_mono_ms() < t_end) {
		int64_t took;

		for (int i = 0; i < NABUSE; i++)
			if (drips[i] >= 0)
				raw_send(drips[i], "X");
		asked++;
		if (status_within(5000, &took) == 200)
			answered++;
		if (took > worst)
			worst = took;
		CHECK(cluster_node_is(cl, cl->slaves[0].name, "Ready"));
		usleep(500 * 1000);
	}
	CHECK_EQ_INT(answered, asked);
	printf("# status answered %d/%d, slowest %lld ms\n", answered, asked, (long long)worst);
	/* orchctl is served too (exit 0). */
	ctl_bin = daemon_binary("orchctl/orchctl");
	{
		const char *argv[] = {ctl_bin, "--controller", cl->url, "--token-file",
		    cl->token_file, "nodes", NULL};

		CHECK_EQ_INT(run_capture(&r, argv, NULL, NULL, 20000), 0);
		CHECK_EQ_INT(r.status, 0);
		CHECK(strstr(r.out, cl->slaves[0].name) != NULL);
		run_result_free(&r);
	}
	free(ctl_bin);
	/* The drippers were cut by the deadline although they kept sending. */
	for (int i = 0; i < NABUSE; i++)
		if (drips[i] < 0 || raw_closed(drips[i]))
			drips_cut++;
	CHECK_EQ_INT(drips_cut, NABUSE);
	for (int i = 0; i < NABUSE; i++) {
		if (streams[i] >= 0)
			close(streams[i]);
		if (drips[i] >= 0)
			close(drips[i]);
	}
}

TEST(abuse__trickled_bodies_are_cut_on_both_daemons)
{
	REQUIRE(cl != NULL);
	CHECK(trickle_is_cut(cl->ctl_port, "/v1/apply"));
	CHECK(trickle_is_cut(cl->slaves[0].port, "/v1/instances"));
}

TEST(abuse__path_not_utf8_is_400_on_both_daemons)
{
	static const char *ctl_paths[] = {"/v1/services/%FF", "/v1/nodes/%FF", "/assets/%FF"};
	char err[64];

	REQUIRE(cl != NULL);
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ_INT(get_error(cl->url, ctl_paths[i], CL_TOKEN, err, sizeof(err)), 400);
		CHECK_STR(err, "bad request");
	}
	CHECK_EQ_INT(get_error(cl->slaves[0].url, "/v1/instances/%FF", CL_TOKEN, err,
	    sizeof(err)), 400);
	CHECK_STR(err, "bad request");
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(abuse__streams_and_drips_do_not_lock_out_status_or_slaves,
    abuse__trickled_bodies_are_cut_on_both_daemons,
    abuse__path_not_utf8_is_400_on_both_daemons)
