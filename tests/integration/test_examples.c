/*
 * test_examples.c - the demo apps (examples/apps: httpapp, kv, stamp) as
 * real processes on 127.0.0.1: what the demo, the slave tests and the
 * benchmarks rely on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "daemon.h"
#include "err.h"
#include "run.h"

static char *dir;

static void
setup(void)
{
	REQUIRE(daemon_tmpdir(&dir, "examples") == 0);
}

static void
teardown(void)
{
	daemon_rmtree(dir);
	free(dir);
	dir = NULL;
}

/* A fresh log file path in dir for each daemon (lent, rotating buffers). */
static const char *
logp(void)
{
	static char buf[4][512];
	static int n;
	char *b = buf[n % 4];

	snprintf(b, sizeof(buf[0]), "%s/daemon-%d.log", dir, n++);
	return b;
}

static char *
app(const char *name)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "examples/apps/%s", name);
	return daemon_binary(rel);
}

static int
connect_port(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool
port_open(int port)
{
	int fd = connect_port(port);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Send raw bytes, read until the server closes (or 5 s). */
static char *
raw_exchange(int port, const char *req, size_t len)
{
	struct timeval tv = {5, 0};
	size_t cap = 65536, n = 0;
	char *buf = calloc(1, cap + 1);
	int fd = connect_port(port);
	ssize_t r;

	if (fd < 0 || buf == NULL) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, req, len) != (ssize_t)len) {
		close(fd);
		free(buf);
		return NULL;
	}
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
	return buf;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static size_t
lines_in(const char *path)
{
	char *text = read_file(path);
	size_t n = text ? count(text, "\n") : 0;

	free(text);
	return n;
}

static long
get(char **body, int port, const char *method, const char *path,
    const char *data, size_t len)
{
	struct http_result r;
	char url[256];
	long st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	if (http_request(&r, method, url, NULL, data, len, 5000) < 0)
		return 0;
	st = r.status;
	if (body)
		*body = r.body;
	else
		free(r.body);
	return st;
}

TEST(examples_httpapp__serves_version_and_health)
{
	const char *argv[8];
	char ready[512], *bin = app("httpapp"), *body = NULL, want[64], *raw;
	char portbuf[16];
	struct daemon *d = NULL;
	int port, fds[200], i, ok = 0;

	setup();
	REQUIRE(daemon_free_port(&port) == 0);
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	argv[0] = bin; argv[1] = "--port"; argv[2] = portbuf;
	argv[3] = "--ready-file"; argv[4] = ready; argv[5] = NULL;
	setenv("ORCH_VERSION", "1.4.2", 1);
	setenv("ORCH_INSTANCE_ID", "web-3", 1);
	REQUIRE(daemon_start(&d, argv, dir, logp()) == 0);
	unsetenv("ORCH_VERSION");
	unsetenv("ORCH_INSTANCE_ID");
	REQUIRE(WAIT_FOR(access(ready, F_OK) == 0, 5000));
	CHECK(port_open(port));

	CHECK_EQ_INT(get(&body, port, "GET", "/", NULL, 0), 200);
	CHECK_CONTAINS(body, "\"version\":\"1.4.2\"");
	CHECK_CONTAINS(body, "\"instance\":\"web-3\"");
	snprintf(want, sizeof(want), "\"pid\":%d}", (int)d->pid);
	CHECK_CONTAINS(body, want);
	free(body);
	CHECK_EQ_INT(get(NULL, port, "GET", "/healthz", NULL, 0), 200);
	CHECK_EQ_INT(get(NULL, port, "GET", "/healthz?probe=1", NULL, 0), 200);
	CHECK_EQ_INT(get(NULL, port, "GET", "/nope", NULL, 0), 404);
	CHECK_EQ_INT(get(NULL, port, "POST", "/", "x", 1), 405);

	/* Keep-alive and pipelining: three answers on one connection, the
	 * HTTP/1.0 request last closes it. */
	{
		static const char pipelined[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /x HTTP/1.0\r\n\r\n";

		raw = raw_exchange(port, pipelined, sizeof(pipelined) - 1);
	}
	REQUIRE(raw != NULL);
	CHECK_EQ_INT(count(raw, "HTTP/1.1 "), 3);
	CHECK_EQ_INT(count(raw, "Connection: keep-alive"), 2);
	CHECK_CONTAINS(raw, "404 Not Found");
	free(raw);
	/* Garbage gets 400 and a closed connection, not a crash. */
	raw = raw_exchange(port, "\x01\x02 nonsense\r\n\r\n", 16);
	CHECK(raw && strncmp(raw, "HTTP/1.1 400", 12) == 0);
	free(raw);

	/* Many connections at once, all answered. */
	for (i = 0; i < 200; i++) {
		fds[i] = connect_port(port);
		if (fds[i] >= 0 && write(fds[i], "GET / HTTP/1.1\r\n\r\n", 18) != 18) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	for (i = 0; i < 200; i++) {
		char buf[512];
		struct timeval tv = {5, 0};

		if (fds[i] < 0)
			continue;
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (read(fds[i], buf, sizeof(buf)) > 12 &&
		    strncmp(buf, "HTTP/1.1 200", 12) == 0)
			ok++;
		close(fds[i]);
	}
	CHECK_EQ_INT(ok, 200);

	CHECK_EQ_INT(daemon_stop(d, SIGTERM, 5000), 0); /* clean exit */
	daemon_free(d);
	free(bin);
	teardown();
}

TEST(examples_httpapp__failing_and_crashing_releases)
{
	char *bin = app("httpapp"), portbuf[16];
	const char *argv[8];
	struct daemon *d = NULL;
	char *body = NULL;
	int port;
	int64_t t0;

	setup();
	REQUIRE(daemon_free_port(&port) == 0);
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	argv[0] = bin; argv[1] = "--port"; argv[2] = portbuf;
	argv[3] = "--version"; argv[4] = "2.0.0-bad"; argv[5] = "--fail-health";
	argv[6] = NULL;
	REQUIRE(daemon_start(&d, argv, dir, logp()) == 0);
	REQUIRE(WAIT_FOR(port_open(port), 5000));
	CHECK_EQ_INT(get(NULL, port, "GET", "/healthz", NULL, 0), 500);
	CHECK_EQ_INT(get(&body, port, "GET", "/", NULL, 0), 200);
	CHECK_CONTAINS(body, "\"version\":\"2.0.0-bad\"");
	free(body);
	CHECK_EQ_INT(daemon_stop(d, SIGTERM, 5000), 0);
	daemon_free(d);

	/* --crash-after: serves, then dies of SIGABRT on its own. */
	argv[3] = "--crash-after"; argv[4] = "1"; argv[5] = NULL;
	t0 = orch_mono_ms();
	REQUIRE(daemon_start(&d, argv, dir, logp()) == 0);
	REQUIRE(WAIT_FOR(port_open(port), 5000));
	CHECK_EQ_INT(get(NULL, port, "GET", "/healthz", NULL, 0), 200);
	CHECK(WAIT_FOR(!daemon_running(d), 5000));
	CHECK_EQ_INT(d->status, 128 + SIGABRT);
	CHECK(orch_mono_ms() - t0 >= 900);
	daemon_free(d);
	free(bin);
	teardown();
}

TEST(examples_apps__bad_usage)
{
	struct run_result r;
	char *h = app("httpapp"), *k = app("kv"), *s = app("stamp");
	const char *a1[] = {h, NULL};
	const char *a2[] = {h, "--port", "99999", NULL};
	const char *a3[] = {k, "--port", "1234", NULL};
	const char *a4[] = {s, NULL};
	const char *a5[] = {s, "--out", "/nonexistent-dir/x", NULL};

	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(run_capture(&r, a1, NULL, NULL, 5000), 0);
	CHECK_EQ_INT(r.status, 2);
	CHECK_CONTAINS(r.err, "usage");
	run_result_free(&r);
	CHECK_EQ_INT(run_capture(&r, a2, NULL, NULL, 5000), 0);
	CHECK_EQ_INT(r.status, 2);
	run_result_free(&r);
	CHECK_EQ_INT(run_capture(&r, a3, NULL, NULL, 5000), 0);
	CHECK_EQ_INT(r.status, 2);
	run_result_free(&r);
	unsetenv("STAMP_OUT");
	CHECK_EQ_INT(run_capture(&r, a4, NULL, NULL, 5000), 0);
	CHECK_EQ_INT(r.status, 2);
	run_result_free(&r);
	CHECK_EQ_INT(run_capture(&r, a5, NULL, NULL, 5000), 0);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "/nonexistent-dir/x");
	run_result_free(&r);
	free(h);
	free(k);
	free(s);
}

static int
start_kv(struct daemon **d, const char *bin, int port, const char *data,
    const char *log)
{
	char portbuf[16];
	const char *argv[] = {bin, "--port", portbuf, "--data", data, NULL};

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	return daemon_start(d, argv, dir, log);
}

TEST(examples_kv__stores_durably_and_counts_boots)
{
	char *bin = app("kv"), data[512], log[512], *body = NULL, big[300000];
	struct daemon *d = NULL, *d2 = NULL;
	int port, port2;

	setup();
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/kv2.log", dir);
	REQUIRE(daemon_free_port(&port) == 0);
	REQUIRE(start_kv(&d, bin, port, data, logp()) == 0);
	REQUIRE(WAIT_FOR(port_open(port), 5000));

	CHECK_EQ_INT(get(NULL, port, "PUT", "/color", "blue", 4), 201);
	CHECK_EQ_INT(get(NULL, port, "PUT", "/color", "green", 5), 200);
	CHECK_EQ_INT(get(&body, port, "GET", "/color", NULL, 0), 200);
	CHECK_STR(body, "green");
	free(body);
	CHECK_EQ_INT(get(NULL, port, "GET", "/missing", NULL, 0), 404);
	CHECK_EQ_INT(get(NULL, port, "PUT", "/.hidden", "x", 1), 400);
	CHECK_EQ_INT(get(NULL, port, "PUT", "/a%2Fb", "x", 1), 400);
	CHECK_EQ_INT(get(NULL, port, "PUT", "/gone", "x", 1), 201);
	CHECK_EQ_INT(get(NULL, port, "DELETE", "/gone", NULL, 0), 204);
	CHECK_EQ_INT(get(NULL, port, "DELETE", "/gone", NULL, 0), 404);
	/* A value bigger than one read, byte-exact. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	CHECK_EQ_INT(get(NULL, port, "PUT", "/big", big, sizeof(big)), 201);
	{
		struct http_result r;
		char url[128];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", port);
		REQUIRE(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
		CHECK_EQ_INT(r.len, sizeof(big));
		CHECK(r.len == sizeof(big) && memcmp(r.body, big, r.len) == 0);
		http_result_free(&r);
	}
	CHECK_EQ_INT(get(&body, port, "GET", "/", NULL, 0), 200);
	CHECK_CONTAINS(body, "\"keys\":2");
	CHECK_CONTAINS(body, "\"boots\":1");
	free(body);

	/* A pet never runs twice: a second kv on the same data dir refuses. */
	REQUIRE(daemon_free_port(&port2) == 0);
	REQUIRE(start_kv(&d2, bin, port2, data, log) == 0);
	CHECK(WAIT_FOR(!daemon_running(d2), 5000));
	CHECK_EQ_INT(d2->status, 1);
	CHECK(daemon_log_contains(d2, "in use"));
	daemon_free(d2);

	/* Killed hard and revived: same data, one more boot. */
	CHECK_EQ_INT(daemon_stop(d, SIGKILL, 5000), 128 + SIGKILL);
	daemon_free(d);
	REQUIRE(start_kv(&d, bin, port, data, logp()) == 0);
	REQUIRE(WAIT_FOR(port_open(port), 5000));
	CHECK_EQ_INT(get(&body, port, "GET", "/color", NULL, 0), 200);
	CHECK_STR(body, "green");
	free(body);
	CHECK_EQ_INT(get(&body, port, "GET", "/", NULL, 0), 200);
	CHECK_CONTAINS(body, "\"boots\":2");
	free(body);
	CHECK_EQ_INT(daemon_stop(d, SIGTERM, 5000), 0);
	daemon_free(d);
	free(bin);
	teardown();
}

TEST(examples_stamp__writes_one_line_per_start)
{
	char *bin = app("stamp"), out[512], portbuf[16], *text;
	const char *argv[] = {bin, "--out", out, NULL, NULL, NULL};
	struct daemon *d = NULL, *d2 = NULL;
	struct timespec before, after, real;
	long long pid, mono, wall;
	int port;

	setup();
	snprintf(out, sizeof(out), "%s/stamps", dir);
	clock_gettime(CLOCK_MONOTONIC, &before);
	REQUIRE(daemon_start(&d, argv, dir, logp()) == 0);
	REQUIRE(WAIT_FOR(lines_in(out) >= 1, 5000));
	text = read_file(out);
	clock_gettime(CLOCK_MONOTONIC, &after);
	clock_gettime(CLOCK_REALTIME, &real);
	REQUIRE(text != NULL);
	CHECK_EQ_INT(sscanf(text, "%lld %lld %lld", &pid, &mono, &wall), 3);
	CHECK_EQ_INT(pid, d->pid);
	CHECK(mono >= before.tv_sec * 1000000000LL + before.tv_nsec);
	CHECK(mono <= after.tv_sec * 1000000000LL + after.tv_nsec);
	CHECK(llabs(wall - (real.tv_sec * 1000000000LL + real.tv_nsec)) <
	    5000000000LL);
	free(text);
	CHECK(daemon_running(d)); /* it sleeps until told otherwise */

	/* A second one (STAMP_OUT, with a TCP port) appends its own line. */
	REQUIRE(daemon_free_port(&port) == 0);
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	argv[1] = "--port";
	argv[2] = portbuf;
	setenv("STAMP_OUT", out, 1);
	REQUIRE(daemon_start(&d2, argv, dir, logp()) == 0);
	unsetenv("STAMP_OUT");
	CHECK(WAIT_FOR(port_open(port), 5000));
	CHECK_EQ_INT(lines_in(out), 2);
	CHECK_EQ_INT(daemon_stop(d, SIGTERM, 5000), 128 + SIGTERM);
	CHECK_EQ_INT(daemon_stop(d2, SIGTERM, 5000), 128 + SIGTERM);
	daemon_free(d);
	daemon_free(d2);
	free(bin);
	teardown();
}

CHECK_MAIN(examples_httpapp__serves_version_and_health,
    examples_httpapp__failing_and_crashing_releases, examples_apps__bad_usage,
    examples_kv__stores_durably_and_counts_boots,
    examples_stamp__writes_one_line_per_start)
