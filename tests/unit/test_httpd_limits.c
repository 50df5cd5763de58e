/*
 * test_httpd_limits.c - common/httpd: no client starves another, before
 * any authentication (issue 11 #3, #4; issue 10 #13 HEAD).
 *
 * Raw TCP clients from chosen loopback addresses (127.0.0.2, ...: every
 * 127/8 address is this machine) play the abusers: connections that
 * never finish their headers, bodies trickled a byte at a time, streams
 * never read. A well-behaved client (libcurl from 127.0.0.1) must still
 * be served throughout. The server runs on a thread, driven as a daemon
 * drives it (poll(httpd_fd) + httpd_run).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "rawsock.h"
#include "daemon.h"
#include "err.h"
#include "httpd.h"
#include "units.h"

#define TOKEN "limits-token"
#define WAIT_MS 8000

static int streams_done; /* streams whose done ran (server thread) */

static void
hello(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	httpd_reply_text(out, 200, "text/plain", "hello\n", 6);
}

static void
named(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	/* Echoes the capture into JSON: a non-UTF-8 name would break it. */
	httpd_reply_error(out, 404, "not found", "no thing %s", req->params[0]);
}

static ssize_t
never_read(void *arg, char *buf, size_t max)
{
	return 0; /* nothing to send: the stream sleeps */
}

static void
stream_done(void *arg)
{
	__atomic_add_fetch(&streams_done, 1, __ATOMIC_SEQ_CST);
}

static void
stream(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	httpd_reply_stream(out, "text/event-stream", never_read, stream_done, NULL);
}

static const struct httpd_route routes[] = {
	{"GET", "/open", hello, HTTPD_PUBLIC},
	{"GET", "/secret", hello, HTTPD_ADMIN},
	{"POST", "/secret", hello, HTTPD_ADMIN},
	{"GET", "/things/:name", named, HTTPD_PUBLIC},
	{"GET", "/stream", stream, HTTPD_PUBLIC},
};

struct server {
	struct httpd *h;
	pthread_t t;
	volatile int stop;
	int port;
	char base[64];
};

static void *
serve(void *arg)
{
	struct server *sv = arg;

	while (!sv->stop) {
		struct pollfd p = {.fd = httpd_fd(sv->h), .events = POLLIN};
		int64_t t = httpd_timeout_ms(sv->h);

		poll(&p, 1, t < 0 || t > 20 ? 20 : (int)t);
		httpd_run(sv->h);
	}
	return NULL;
}

/* Start with c's limits (listen, routes and token filled in here). */
static int
server_start(struct server *sv, struct httpd_config c)
{
	memset(sv, 0, sizeof(*sv));
	c.listen = "127.0.0.1:0";
	c.routes = routes;
	c.nroutes = sizeof(routes) / sizeof(routes[0]);
	c.token = TOKEN;
	if (httpd_start(&sv->h, &c) < 0)
		return -1;
	sv->port = httpd_port(sv->h);
	snprintf(sv->base, sizeof(sv->base), "http://127.0.0.1:%d", sv->port);
	return pthread_create(&sv->t, NULL, serve, sv) == 0 ? 0 : -1;
}

static void
server_stop(struct server *sv)
{
	sv->stop = 1;
	pthread_join(sv->t, NULL);
	httpd_free(sv->h);
}

static struct httpd_stats
stats(struct server *sv)
{
	struct httpd_stats st;

	/* Read between the thread's turns is racy for a moment's value but
	 * the counters only grow: tests wait for thresholds. */
	httpd_stats(&st, sv->h);
	return st;
}

/* GET path as a well-behaved client; the status (0: no answer). */
static long
get(struct server *sv, const char *path, const char *token)
{
	char url[256];
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s%s", sv->base, path);
	http_json(&j, &st, "GET", url, token, NULL);
	json_decref(j);
	return st;
}

TEST(httpd_limits__head_is_get_without_body)
{
	struct server sv;
	char buf[512];
	ssize_t n;
	int fd;

	REQUIRE(server_start(&sv, (struct httpd_config){0}) == 0);
	/* A public path answers HEAD as GET, not 401 (issue 10 #13). */
	REQUIRE((fd = raw_connect(sv.port, 1)) >= 0);
	raw_send(fd, "HEAD /open HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	REQUIRE(n > 0);
	buf[n] = '\0';
	CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0);
	CHECK(strstr(buf, "hello") == NULL);
	close(fd);
	/* A private one still wants the token. */
	REQUIRE((fd = raw_connect(sv.port, 1)) >= 0);
	raw_send(fd, "HEAD /secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	REQUIRE(n > 0);
	buf[n] = '\0';
	CHECK(strncmp(buf, "HTTP/1.1 401", 12) == 0);
	close(fd);
	server_stop(&sv);
}

TEST(httpd_limits__path_not_utf8_is_400_json)
{
	struct server sv;
	char url[256];
	json_t *j = NULL;
	long st = 0;

	REQUIRE(server_start(&sv, (struct httpd_config){0}) == 0);
	/* Was a 500 with an empty body (issue 11 #4). */
	snprintf(url, sizeof(url), "%s/things/%%FF", sv.base);
	CHECK_EQ_INT(http_json(&j, &st, "GET", url, NULL, NULL), 0);
	CHECK_EQ_INT(st, 400);
	CHECK_STR(json_string_value(json_object_get(j, "error")), "bad request");
	json_decref(j);
	/* Valid UTF-8 still reaches the handler. */
	snprintf(url, sizeof(url), "%s/things/%%C3%%A9t%%C3%%A9", sv.base);
	CHECK_EQ_INT(http_json(&j, &st, "GET", url, NULL, NULL), 0);
	CHECK_EQ_INT(st, 404);
	CHECK(strstr(json_string_value(json_object_get(j, "detail")), "\xc3\xa9t\xc3\xa9") != NULL);
	json_decref(j);
	server_stop(&sv);
}

TEST(httpd_limits__trickled_request_is_cut_at_its_deadline)
{
	struct httpd_config c = {.read_timeout_s = 1, .conn_timeout_s = 30};
	struct server sv;
	int hdr, body, idle;
	bool hdr_cut = false, body_cut = false;
	int64_t t0;

	REQUIRE(server_start(&sv, c) == 0);
	/* Headers a byte at a time, and a body a byte at a time: each byte
	 * resets the 30 s idle timeout, so only a deadline on the whole
	 * request ends them. */
	REQUIRE((hdr = raw_connect(sv.port, 2)) >= 0);
	REQUIRE((body = raw_connect(sv.port, 3)) >= 0);
	REQUIRE((idle = raw_connect(sv.port, 4)) >= 0);
	raw_send(body, "POST /secret HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
	    TOKEN "\r\nContent-Length: 100\r\n\r\n");
	raw_send(hdr, "GET /open HTTP/1.1\r\n");
	t0 = orch_mono_ms();
	for (int i = 0; i < 40 && !(hdr_cut && body_cut); i++) {
		if (!hdr_cut)
			raw_send(hdr, "X");
		if (!body_cut)
			raw_send(body, "b");
		usleep(100 * 1000);
		hdr_cut = hdr_cut || raw_closed(hdr);
		body_cut = body_cut || raw_closed(body);
	}
	CHECK(hdr_cut);
	CHECK(body_cut);
	CHECK(orch_mono_ms() - t0 < 3500); /* within the 1 s deadline, loosely */
	/* A connection that sends nothing at all is cut as well. */
	WAIT_FOR(raw_closed(idle), WAIT_MS);
	CHECK(stats(&sv).read_timeouts >= 3);
	/* Served as before. */
	CHECK_EQ_INT(get(&sv, "/open", NULL), 200);
	close(hdr);
	close(body);
	close(idle);
	server_stop(&sv);
}

/* Open n stalled connections (a request line, never finished) from
 * 127.0.0.<host + i / per_host> into fds. */
static void
stall(int *fds, int n, int port, int host, int per_host)
{
	for (int i = 0; i < n; i++) {
		REQUIRE((fds[i] = raw_connect(port, host + i / per_host)) >= 0);
		raw_send(fds[i], "GET /open HTTP/1.1\r\n");
	}
}

/* A whole request from 127.0.0.<host> on a raw socket; true on a 200. */
static bool
raw_get_ok(int port, int host)
{
	char buf[256];
	ssize_t n;
	int fd = raw_connect(port, host);

	if (fd < 0)
		return false;
	raw_send(fd, "GET /open HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	return n > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

TEST(httpd_limits__one_address_cannot_take_every_connection)
{
	struct httpd_config c = {.conn_limit = 128, .conn_per_addr = 8};
	struct server sv;
	int fds[40];

	REQUIRE(server_start(&sv, c) == 0);
	/* 8 stalled connections from one address, a second old... */
	stall(fds, 8, sv.port, 5, 100);
	CHECK(WAIT_FOR(stats(&sv).conns == 8, WAIT_MS));
	usleep(1100 * 1000);
	/* ...then 32 more: each of the first 8 makes room for one, the
	 * other 24 are refused. 8 stay open. */
	stall(fds + 8, 32, sv.port, 5, 100);
	CHECK(WAIT_FOR(stats(&sv).evicted >= 32, WAIT_MS));
	CHECK(WAIT_FOR(stats(&sv).conns <= 8, WAIT_MS));
	for (int i = 0; i < 8; i++)
		CHECK(raw_closed(fds[i]));
	/* Another address is served; so is that address's next request,
	 * once its stalled ones are a second old. */
	CHECK_EQ_INT(get(&sv, "/open", NULL), 200);
	usleep(1100 * 1000);
	CHECK(raw_get_ok(sv.port, 5));
	for (int i = 0; i < 40; i++)
		close(fds[i]);
	server_stop(&sv);
}

TEST(httpd_limits__a_burst_from_one_address_is_served)
{
	struct httpd_config c = {.conn_limit = 128, .conn_per_addr = 64};
	struct server sv;
	int fds[48];
	int ok = 0;

	REQUIRE(server_start(&sv, c) == 0);
	/* 48 connections at once, each with a whole request: none is cut
	 * for being slow to be read. */
	for (int i = 0; i < 48; i++) {
		REQUIRE((fds[i] = raw_connect(sv.port, 6)) >= 0);
		raw_send(fds[i], "GET /open HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	}
	for (int i = 0; i < 48; i++) {
		char buf[64];
		ssize_t n = recv(fds[i], buf, sizeof(buf) - 1, 0);

		ok += n > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0;
		close(fds[i]);
	}
	CHECK_EQ_INT(ok, 48);
	CHECK_EQ_INT(stats(&sv).evicted, 0);
	server_stop(&sv);
}

TEST(httpd_limits__reserve_lets_a_new_client_in)
{
	struct httpd_config c = {.conn_limit = 32, .conn_reserve = 4, .conn_per_addr = 2};
	struct server sv;
	int fds[60];

	REQUIRE(server_start(&sv, c) == 0);
	/* 60 stalled connections from 30 addresses, 2 each: within every
	 * per-address bound, over the total. All but the reserve are taken,
	 * the rest refused. */
	stall(fds, 60, sv.port, 10, 2);
	CHECK(WAIT_FOR(stats(&sv).evicted >= 32, WAIT_MS));
	CHECK(stats(&sv).conns <= 28);
	/* Once they are a second old, each new client takes the place of
	 * the oldest and is served. */
	usleep(1100 * 1000);
	for (int k = 0; k < 5; k++)
		CHECK_EQ_INT(get(&sv, "/secret", TOKEN), 200);
	for (int i = 0; i < 60; i++)
		close(fds[i]);
	server_stop(&sv);
}

TEST(httpd_limits__streams_are_bounded_oldest_dropped)
{
	struct httpd_config c = {.streams_max = 6, .streams_per_addr = 2};
	struct server sv;
	int fds[12], before;

	REQUIRE(server_start(&sv, c) == 0);
	before = __atomic_load_n(&streams_done, __ATOMIC_SEQ_CST);
	/* 4 streams from one address: the 2 oldest end. */
	for (int i = 0; i < 4; i++) {
		REQUIRE((fds[i] = raw_connect(sv.port, 50)) >= 0);
		raw_send(fds[i], "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
		WAIT_FOR(stats(&sv).streams + (unsigned)(__atomic_load_n(&streams_done,
		    __ATOMIC_SEQ_CST) - before) == (unsigned)i + 1, WAIT_MS);
	}
	WAIT_FOR(raw_closed(fds[0]) && raw_closed(fds[1]), WAIT_MS);
	CHECK(raw_closed(fds[0]));
	CHECK(raw_closed(fds[1]));
	CHECK(!raw_closed(fds[2]));
	CHECK(!raw_closed(fds[3]));
	/* 8 more from 4 other addresses: never more than 6 in all. */
	for (int i = 4; i < 12; i++) {
		REQUIRE((fds[i] = raw_connect(sv.port, 51 + (i - 4) / 2)) >= 0);
		raw_send(fds[i], "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	WAIT_FOR(__atomic_load_n(&streams_done, __ATOMIC_SEQ_CST) - before >= 6, WAIT_MS);
	CHECK(stats(&sv).streams <= 6);
	CHECK(__atomic_load_n(&streams_done, __ATOMIC_SEQ_CST) - before >= 6);
	CHECK(!raw_closed(fds[11]));
	/* Requests are served all along. */
	CHECK_EQ_INT(get(&sv, "/open", NULL), 200);
	for (int i = 0; i < 12; i++)
		close(fds[i]);
	server_stop(&sv);
}

CHECK_MAIN(httpd_limits__head_is_get_without_body, httpd_limits__path_not_utf8_is_400_json,
    httpd_limits__trickled_request_is_cut_at_its_deadline,
    httpd_limits__one_address_cannot_take_every_connection,
    httpd_limits__a_burst_from_one_address_is_served,
    httpd_limits__reserve_lets_a_new_client_in,
    httpd_limits__streams_are_bounded_oldest_dropped)
