/*
 * test_http_hostile.c - hostile HTTP on both real daemons, while a
 * legitimate client is served throughout (issue 11, "Hostile HTTP on
 * both daemons").
 *
 * A real controller and a real slave. A canary thread keeps making
 * authenticated requests from 127.0.0.1 (controller: GET /v1/status and
 * a scale to 2, within bounds; slave: GET /v1/instances) and records
 * each answer and its latency. Meanwhile hostile clients on other
 * loopback addresses send, with and without the token: oversized and
 * endless chunked bodies, deeply nested, malformed, non-UTF-8 and NUL
 * JSON, wrong types for every field, huge and very many headers, a huge
 * URL, bad methods and paths, conflicting or duplicate framing
 * (Content-Length with Transfer-Encoding, two Content-Lengths, negative
 * and overflowing lengths, an unknown transfer coding), HTTP/0.9 and
 * HTTP/2 garbage, pipelined requests, a request in 1-byte writes and
 * half-closed sockets. Each answer is checked exactly (status, the JSON
 * error word where orch answers, the close where the framing is unsure);
 * then: every canary request answered correctly within 5 s, the daemons
 * alive, their RSS grown by less than a bound, and nothing changed by a
 * rejected write (desired count, nodes, revisions, slave instances).
 */
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "rawsock.h"
#include "units.h"

#define AUTH "Authorization: Bearer " CL_TOKEN "\r\n"
#define SCALE "POST /v1/services/web/scale HTTP/1.1\r\nHost: x\r\n"
#define INST "POST /v1/instances HTTP/1.1\r\nHost: x\r\n"
#define B3 "{\"replicas\":3}" /* 14 bytes: a valid scale, if it got through */
#define R(s) s, sizeof(s) - 1
#define CANARY_MAX_MS 5000
#define ANSWER_MS 10000

#if defined(__SANITIZE_ADDRESS__)
#define RSS_GROWTH_KB (320 * 1024) /* ASan's quarantine keeps freed memory */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_GROWTH_KB (320 * 1024)
#endif
#endif
#ifndef RSS_GROWTH_KB
#define RSS_GROWTH_KB (48 * 1024)
#endif

static struct cluster *cl;
static int next_host = 10; /* hostile clients come from 127.0.0.10 and up */

/* ---- raw exchanges ---------------------------------------------------- */

struct ans {
	int status;       /* 0: no answer */
	char head[8192];  /* status line and fields */
	char *body;       /* malloc'd, NUL-terminated */
	size_t len;
	json_t *json;     /* the body parsed, or NULL */
};

struct rconn {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
};

static void
ans_free(struct ans *a)
{
	free(a->body);
	json_decref(a->json);
	memset(a, 0, sizeof(*a));
}

static int
rc_open(struct rconn *c, int port)
{
	struct timeval tv = {.tv_sec = 5};

	memset(c, 0, sizeof(*c));
	c->fd = raw_connect(port, next_host);
	next_host = next_host >= 250 ? 10 : next_host + 1;
	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return c->fd;
}

static void
rc_close(struct rconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Send it all, blocking (the server may close first: ignored). */
static void
rc_send(struct rconn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

/* Read more into c within the deadline; false on EOF, error or timeout. */
static bool
rc_fill(struct rconn *c, int64_t deadline)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	int64_t left = deadline - orch_mono_ms();
	ssize_t k;

	if (c->eof || left <= 0 || poll(&p, 1, (int)left) != 1)
		return false;
	if (c->len + 65536 + 1 > c->cap) {
		c->cap = (c->len + 65536 + 1) * 2;
		if ((c->buf = realloc(c->buf, c->cap)) == NULL)
			abort();
	}
	if ((k = recv(c->fd, c->buf + c->len, 65536, 0)) <= 0) {
		c->eof = true;
		return false;
	}
	c->len += (size_t)k;
	c->buf[c->len] = '\0';
	return true;
}

/* The next whole answer on c (one with a Content-Length body, as both
 * daemons and MHD's own error pages send). */
static void
rc_answer(struct rconn *c, struct ans *a)
{
	int64_t deadline = orch_mono_ms() + ANSWER_MS;
	char *end, *clen;
	size_t hlen, blen;

	memset(a, 0, sizeof(*a));
	while ((c->buf == NULL || (end = strstr(c->buf, "\r\n\r\n")) == NULL))
		if (!rc_fill(c, deadline))
			return;
	hlen = (size_t)(end - c->buf) + 4;
	snprintf(a->head, sizeof(a->head), "%.*s", (int)hlen, c->buf);
	clen = strcasestr(a->head, "\r\nContent-Length:");
	blen = clen ? strtoul(clen + 17, NULL, 10) : 0;
	while (c->len < hlen + blen)
		if (!rc_fill(c, deadline))
			return;
	if (sscanf(a->head, "HTTP/1.%*d %d", &a->status) != 1)
		a->status = -1;
	a->body = strndup(c->buf + hlen, blen);
	a->len = blen;
	a->json = json_loadb(a->body, blen, 0, NULL);
	memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen + 1);
	c->len -= hlen + blen;
}

/* Whether the server closes c (after what it sent) within ms. */
static bool
rc_closes(struct rconn *c, int ms)
{
	int64_t deadline = orch_mono_ms() + ms;

	while (!c->eof && orch_mono_ms() < deadline)
		if (!rc_fill(c, deadline))
			break;
	return c->eof;
}

/* One request on a fresh connection from a new address; the answer. */
static void
exchange(struct ans *a, int port, const char *req, size_t len)
{
	struct rconn c;

	if (rc_open(&c, port) < 0) {
		memset(a, 0, sizeof(*a));
		return;
	}
	rc_send(&c, req, len);
	rc_answer(&c, a);
	rc_close(&c);
}

/* What an answer must be: status, and the "error" word of orch's JSON
 * body (NULL: MHD's own HTML page, before orch sees the request). */
static bool
answer_is(const char *what, const struct ans *a, int status, const char *error)
{
	const char *got = json_string_value(json_object_get(a->json, "error"));

	if (a->status == status && (error == NULL ? a->status > 0 && a->json == NULL &&
	    a->len > 0 : got != NULL && strcmp(got, error) == 0 &&
	    json_is_string(json_object_get(a->json, "detail"))))
		return true;
	printf("# %s: want %d %s, got %d %.300s\n", what, status, error ? error : "(page)",
	    a->status, a->body ? a->body : "(no answer)");
	return false;
}

/* A literal request, its answer, and whether the connection must close. */
struct hcase {
	const char *name;
	bool slave;
	const char *req;
	size_t len;
	int status;
	const char *error;
	bool closes;
};

static bool
run_case(const struct hcase *k)
{
	struct rconn c;
	struct ans a;
	bool ok;

	if (rc_open(&c, k->slave ? cl->slaves[0].port : cl->ctl_port) < 0)
		return false;
	rc_send(&c, k->req, k->len);
	rc_answer(&c, &a);
	ok = answer_is(k->name, &a, k->status, k->error);
	/* RFC 9110: a 405 says what is allowed. */
	if (ok && k->status == 405 && strstr(a.head, "\r\nAllow: GET, HEAD") == NULL &&
	    strstr(a.head, "\r\nAllow: POST, GET, HEAD") == NULL) {
		printf("# %s: no Allow field in %s\n", k->name, a.head);
		ok = false;
	}
	if (ok && k->closes && !rc_closes(&c, 5000)) {
		printf("# %s: the connection stays open\n", k->name);
		ok = false;
	}
	ans_free(&a);
	rc_close(&c);
	return ok;
}

/* ---- the canary ------------------------------------------------------- */

struct canary {
	pthread_t th;
	volatile bool stop;
	int asked, bad;
	int64_t worst_ms;
	char first_bad[256];
};

static bool
canary_one(struct canary *k, const char *method, const char *url, const char *body,
    const char *want_key)
{
	int64_t t0 = orch_mono_ms(), took;
	json_t *j = NULL;
	long st = 0;
	bool ok;

	http_json(&j, &st, method, url, CL_TOKEN, body);
	took = orch_mono_ms() - t0;
	ok = st == 200 && json_object_get(j, want_key) != NULL;
	if (ok && body != NULL)
		ok = json_integer_value(json_object_get(j, "desired")) == 2;
	k->asked++;
	if (took > k->worst_ms)
		k->worst_ms = took;
	if (!ok && k->bad++ == 0)
		snprintf(k->first_bad, sizeof(k->first_bad), "%s %s: %ld after %lld ms",
		    method, url, st, (long long)took);
	json_decref(j);
	return ok;
}

static void *
canary_run(void *arg)
{
	struct canary *k = arg;
	char status[256], scale[256], insts[256];

	snprintf(status, sizeof(status), "%s/v1/status", cl->url);
	snprintf(scale, sizeof(scale), "%s/v1/services/web/scale", cl->url);
	snprintf(insts, sizeof(insts), "%s/v1/instances", cl->slaves[0].url);
	while (!k->stop) {
		canary_one(k, "GET", status, NULL, "services");
		canary_one(k, "POST", scale, "{\"replicas\":2}", "name");
		canary_one(k, "GET", insts, NULL, "instances");
		usleep(50 * 1000);
	}
	return NULL;
}

/* ---- state that rejected writes must not change ----------------------- */

static long
rss_kb(pid_t pid)
{
	char path[64], *text, *p;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((text = read_file(path)) != NULL && (p = strstr(text, "VmRSS:")) != NULL)
		kb = strtol(p + 6, NULL, 10);
	free(text);
	return kb;
}

/* "nodes=N revisions=N scale=N desired=N slave_instances=IDS" */
static void
snapshot(char *out, size_t len)
{
	json_t *nodes, *revs, *svc, *insts;
	char url[256], ids[1024] = "";
	long st;

	nodes = cluster_call(cl, &st, "GET", "/v1/nodes", NULL);
	revs = cluster_call(cl, &st, "GET", "/v1/revisions", NULL);
	svc = cluster_call(cl, &st, "GET", "/v1/services/web", NULL);
	snprintf(url, sizeof(url), "%s/v1/instances", cl->slaves[0].url);
	http_json(&insts, &st, "GET", url, CL_TOKEN, NULL);
	for (size_t i = 0; i < json_array_size(json_object_get(insts, "instances")); i++) {
		json_t *in = json_array_get(json_object_get(insts, "instances"), i);

		const char *id = json_string_value(json_object_get(in, "id"));

		if (id == NULL || strncmp(id, "web-", 4) != 0)
			snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s ",
			    id ? id : "(no id)");
	}
	snprintf(out, len, "nodes=%zu revisions=%zu scale=%lld desired=%lld foreign=[%s]",
	    json_array_size(json_object_get(nodes, "nodes")),
	    json_array_size(json_object_get(revs, "revisions")),
	    json_integer_value(json_object_get(svc, "scale")),
	    json_integer_value(json_object_get(svc, "desired")), ids);
	json_decref(nodes);
	json_decref(revs);
	json_decref(svc);
	json_decref(insts);
}

/* ---- the hostile inputs ----------------------------------------------- */

static const struct hcase literal[] = {
	/* Framing a proxy in front could read differently (smuggling). */
	{"ctl CL+TE", false, R(SCALE AUTH "Content-Length: 14\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "e\r\n" B3 "\r\n0\r\n\r\n"), 400, "bad request", true},
	{"ctl CL+TE no token", false, R(SCALE "Content-Length: 14\r\n"
	    "Transfer-Encoding: chunked\r\n\r\ne\r\n" B3 "\r\n0\r\n\r\n"), 400, "bad request", true},
	{"ctl CL twice, differing", false, R(SCALE AUTH "Content-Length: 14\r\n"
	    "Content-Length: 3\r\n\r\n" B3), 400, "bad request", true},
	{"ctl CL twice, same", false, R(SCALE AUTH "Content-Length: 14\r\n"
	    "Content-Length: 14\r\n\r\n" B3), 400, "bad request", true},
	{"ctl TE twice", false, R(SCALE AUTH "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\ne\r\n" B3 "\r\n0\r\n\r\n"), 400, "bad request", true},
	{"ctl TE gzip", false, R(SCALE AUTH "Transfer-Encoding: gzip\r\n\r\n" B3), 501,
	    "not implemented", true},
	{"ctl space before colon", false, R(SCALE AUTH "Content-Length : 14\r\n\r\n" B3), 400,
	    "bad request", true},
	{"ctl HTTP/1.1 without Host", false, R("POST /v1/services/web/scale HTTP/1.1\r\n" AUTH
	    "Content-Length: 14\r\n\r\n" B3), 400, "bad request", true},
	{"ctl CL negative", false, R(SCALE AUTH "Content-Length: -1\r\n\r\n" B3), 400, NULL, true},
	{"ctl CL 2^64", false, R(SCALE AUTH "Content-Length: 18446744073709551616\r\n\r\n" B3),
	    413, NULL, true},
	{"ctl CL over limit", false, R(SCALE AUTH "Content-Length: 99999999\r\n\r\n" B3), 413,
	    "body too large", true},
	{"ctl CL over limit no token", false, R(SCALE "Content-Length: 99999999\r\n\r\n" B3), 401,
	    "unauthorized", true},
	{"ctl scale no token", false, R(SCALE "Content-Length: 14\r\n\r\n" B3), 401,
	    "unauthorized", false},
	/* Not HTTP/1.x. */
	{"ctl HTTP/0.9", false, R("GET /v1/status\r\n\r\n"), 400, NULL, true},
	{"ctl HTTP/2 preface", false, R("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0"), 505,
	    NULL, true},
	/* Methods. */
	{"ctl TRACE", false, R("TRACE /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 405,
	    "method not allowed", false},
	{"ctl CONNECT", false, R("CONNECT /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 405,
	    "method not allowed", false},
	{"ctl CONNECT no token", false, R("CONNECT /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"),
	    401, "unauthorized", false},
	{"ctl PROPFIND", false, R("PROPFIND /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 405,
	    "method not allowed", false},
	{"ctl lowercase get", false, R("get /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 405,
	    "method not allowed", false},
	{"ctl method not UTF-8", false, R("G\xff\xfeT /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH
	    "\r\n"), 400, "bad request", true},
	{"ctl method with a quote", false, R("G\"T /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"), 400,
	    "bad request", true},
	/* Paths: never a file, never a 500. */
	{"ctl /../etc/passwd", false, R("GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"),
	    404, "not found", false},
	{"ctl //v1/status", false, R("GET //v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 404,
	    "not found", false},
	{"ctl %2e%2e", false, R("GET /v1/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n" AUTH
	    "\r\n"), 404, "not found", false},
	{"ctl %00", false, R("GET /v1/services/%00 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 404,
	    "not found", false},
	{"ctl %zz", false, R("GET /v1/services/%zz HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 404,
	    "not found", false},
	{"ctl lone %", false, R("GET /v1/services/% HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 404,
	    "not found", false},
	{"ctl %FF", false, R("GET /v1/services/%FF HTTP/1.1\r\nHost: x\r\n\r\n"), 400,
	    "bad request", false},
	{"ctl /assets/../../etc/passwd", false, R("GET /assets/../../etc/passwd HTTP/1.1\r\n"
	    "Host: x\r\n" AUTH "\r\n"), 404, "not found", false},
	{"ctl /assets/../../etc/passwd no token", false, R("GET /assets/../../etc/passwd "
	    "HTTP/1.1\r\nHost: x\r\n\r\n"), 401, "unauthorized", false},
	{"ctl /assets/..%2f..%2fetc%2fpasswd", false, R("GET /assets/..%2f..%2fetc%2fpasswd "
	    "HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 404, "not found", false},
	{"ctl /assets/%2e%2e", false, R("GET /assets/%2e%2e HTTP/1.1\r\nHost: x\r\n\r\n"), 404,
	    "not found", false},
	{"ctl URL 3000", false, R("GET /v1/services/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n"), 414, "uri too long", false},
	/* The slave: its writes and reads all need the token. */
	{"slave CL+TE", true, R(INST AUTH "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\n{}\r\n0\r\n\r\n"), 400, "bad request", true},
	{"slave CL twice", true, R(INST AUTH "Content-Length: 2\r\nContent-Length: 1\r\n\r\n{}"),
	    400, "bad request", true},
	{"slave TE gzip", true, R(INST AUTH "Transfer-Encoding: gzip\r\n\r\n{}"), 501,
	    "not implemented", true},
	{"slave space before colon", true, R(INST AUTH "Content-Length : 2\r\n\r\n{}"), 400,
	    "bad request", true},
	{"slave CL negative", true, R(INST AUTH "Content-Length: -5\r\n\r\n{}"), 400, NULL, true},
	{"slave CL 2^64+1", true, R(INST AUTH "Content-Length: 18446744073709551617\r\n\r\n{}"),
	    413, NULL, true},
	{"slave CL over limit", true, R(INST AUTH "Content-Length: 2000000\r\n\r\n{}"), 413,
	    "body too large", true},
	{"slave CL over limit no token", true, R(INST "Content-Length: 2000000\r\n\r\n{}"), 401,
	    "unauthorized", true},
	{"slave HTTP/0.9", true, R("GET /v1/instances\r\n\r\n"), 400, NULL, true},
	{"slave HTTP/2 preface", true, R("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505, NULL, true},
	{"slave TRACE", true, R("TRACE /v1/instances HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 405,
	    "method not allowed", false},
	{"slave TRACE no token", true, R("TRACE /v1/instances HTTP/1.1\r\nHost: x\r\n\r\n"), 401,
	    "unauthorized", false},
	{"slave lowercase get", true, R("get /v1/instances HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"),
	    405, "method not allowed", false},
	{"slave method not UTF-8", true, R("\xc3\x28 /v1/instances HTTP/1.1\r\nHost: x\r\n" AUTH
	    "\r\n"), 400, "bad request", true},
	{"slave ..%2f..%2fetc%2fpasswd", true, R("GET /v1/instances/..%2f..%2fetc%2fpasswd "
	    "HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 404, "not found", false},
	{"slave %2e%2e/logs", true, R("GET /v1/instances/%2e%2e/logs HTTP/1.1\r\nHost: x\r\n" AUTH
	    "\r\n"), 404, "not found", false},
	{"slave %00", true, R("GET /v1/instances/%00 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 404,
	    "not found", false},
	{"slave %FF", true, R("DELETE /v1/instances/%FF HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"), 400,
	    "bad request", false},
	{"slave no token", true, R("GET /v1/instances HTTP/1.1\r\nHost: x\r\n\r\n"), 401,
	    "unauthorized", false},
};

/* POST body to path with a correct Content-Length; the answer. */
static void
post_raw(struct ans *a, bool slave, const char *path, const char *body, size_t len,
    bool token)
{
	char *req;
	int n;

	n = asprintf(&req, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", path, token ? AUTH : "", len);
	REQUIRE(n > 0 && (req = realloc(req, (size_t)n + len)) != NULL);
	memcpy(req + n, body, len);
	exchange(a, slave ? cl->slaves[0].port : cl->ctl_port, req, (size_t)n + len);
	free(req);
}

static bool
post_as(bool token, bool slave, const char *path, const char *body, size_t len, int status,
    const char *error)
{
	struct ans a;
	char what[160];
	bool ok;

	post_raw(&a, slave, path, body, len, token);
	snprintf(what, sizeof(what), "POST %s %.60s", path, body);
	ok = answer_is(what, &a, status, error);
	ans_free(&a);
	return ok;
}

static bool
post_is(bool slave, const char *path, const char *body, size_t len, int status,
    const char *error)
{
	return post_as(true, slave, path, body, len, status, error);
}

/* Malformed bodies: not JSON, not UTF-8, NUL, too deep. */
static int
bad_bodies(void)
{
	static const struct { const char *b; size_t len; } bodies[] = {
		{R("{")}, {R("{\"replicas\":")}, {R("[1,2")}, {R("{} {}")}, {R("\xff\xfe")},
		{R("{\"replicas\":2,\"x\":\"\xff\xfe\"}")}, {R("{\"\xc0\xaf\":2}")},
		{R("{\"replicas\":\"\\u0000\"}")}, {R("{\"a\\u0000b\":2}")}, {R("{\"replicas\":\0 2}")},
		{R("{\"replicas\":\"\\ud800\"}")}, {R("nul")}, {R("{\"replicas\":1e999}")},
		{R("{\"replicas\":99999999999999999999999}")},
	};
	size_t deep = 100000;
	char *nest = malloc(deep * 5 + 1);
	int bad = 0;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		bad += !post_is(false, "/v1/services/web/scale", bodies[i].b, bodies[i].len, 400,
		    "bad request");
		bad += !post_is(false, "/v1/apply", bodies[i].b, bodies[i].len, 400, "bad request");
		bad += !post_is(true, "/v1/instances", bodies[i].b, bodies[i].len, 400,
		    "malformed json");
		/* Without the token, the body is never read. */
		bad += !post_as(false, false, "/v1/apply", bodies[i].b, bodies[i].len, 401,
		    "unauthorized");
		bad += !post_as(false, true, "/v1/instances", bodies[i].b, bodies[i].len, 401,
		    "unauthorized");
	}
	/* 100k '[' and 100k '{"a":': a parse depth bound, not the stack. */
	memset(nest, '[', deep);
	bad += !post_is(false, "/v1/services/web/scale", nest, deep, 400, "bad request");
	bad += !post_is(true, "/v1/instances", nest, deep, 400, "malformed json");
	bad += !post_as(false, false, "/v1/apply", nest, deep, 401, "unauthorized");
	for (size_t i = 0; i < deep; i++)
		memcpy(nest + i * 5, "{\"a\":", 5);
	bad += !post_is(false, "/v1/nodes/register", nest, deep * 5, 400, "bad request");
	bad += !post_is(true, "/v1/instances", nest, deep * 5, 400, "malformed json");
	free(nest);
	return bad;
}

/* Whether w is a legitimate value for a field holding v: the same JSON
 * type (true for false, an integer for a real). */
static bool
same_kind(const json_t *v, const json_t *w)
{
	return json_typeof(w) == json_typeof(v) ||
	    (json_is_boolean(w) && json_is_boolean(v)) ||
	    (json_is_real(v) && json_is_integer(w));
}

/* Every field of obj (in root), and of the objects it holds, replaced in
 * turn by each value of another JSON type: 400 each time. */
static int
wrong_fields(bool slave, const char *path, json_t *root, json_t *obj, const char *error)
{
	static const char *const values[] = {"\"x\"", "1", "-1", "2.5", "true", "[1]",
	    "{\"a\":1}", "4611686018427387904"};
	const char *key;
	json_t *v;
	int bad = 0;

	json_object_foreach(obj, key, v) {
		json_incref(v);
		if (json_is_object(v))
			bad += wrong_fields(slave, path, root, v, error);
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			json_t *w = json_loads(values[i], JSON_DECODE_ANY, NULL);
			char *text;

			if (same_kind(v, w)) {
				json_decref(w);
				continue;
			}
			json_object_set_new(obj, key, w);
			text = json_dumps(root, JSON_COMPACT);
			bad += !post_is(slave, path, text, strlen(text), 400, error);
			free(text);
		}
		json_object_set_new(obj, key, v);
	}
	return bad;
}

static int
wrong_types(bool slave, const char *path, const char *valid, const char *error)
{
	json_t *base = json_loads(valid, 0, NULL);
	int bad;

	if (base == NULL)
		return 1;
	bad = wrong_fields(slave, path, base, base, error);
	json_decref(base);
	return bad;
}

static int
all_wrong_types(void)
{
	char hb[512];
	int bad = 0;

	bad += wrong_types(false, "/v1/services/web/scale", "{\"replicas\":3}", "bad request");
	bad += wrong_types(false, "/v1/services/web/scale", "{\"reset\":true}", "bad request");
	bad += wrong_types(false, "/v1/apply", "{\"ref\":\"main\",\"dry_run\":false,"
	    "\"retry_failed\":false}", "bad request");
	bad += wrong_types(false, "/v1/rollback", "{\"service\":\"web\",\"dry_run\":false}",
	    "bad request");
	snprintf(hb, sizeof(hb), "/v1/nodes/%s/drain", cl->slaves[0].name);
	bad += wrong_types(false, hb, "{\"drain\":true,\"undo\":false}", "bad request");
	/* Slave-facing: a registration of a node that must not appear, and
	 * heartbeats and events of the real node that must not disturb it. */
	bad += wrong_types(false, "/v1/nodes/register", "{\"name\":\"hostile-node\","
	    "\"address\":\"127.0.0.1:9\",\"labels\":{},\"cpu\":1.5,\"memory\":1000,"
	    "\"heartbeat_ms\":300,\"instances\":[],\"state_error\":\"e\"}", "bad request");
	snprintf(hb, sizeof(hb), "/v1/nodes/%s/heartbeat", cl->slaves[0].name);
	bad += wrong_types(false, hb, "{\"labels\":{},\"cpu\":1.5,\"memory\":1000,"
	    "\"address\":\"127.0.0.1:9\",\"heartbeat_ms\":300,\"instances\":[{}],"
	    "\"state_error\":\"e\"}", "bad request");
	snprintf(hb, sizeof(hb), "/v1/nodes/%s/events", cl->slaves[0].name);
	bad += wrong_types(false, hb, "{\"events\":[{}]}", "bad request");
	bad += !post_is(false, hb, R("{\"events\":[1]}"), 400, "bad request");
	bad += !post_is(false, hb, R("{\"events\":[\"x\",{}]}"), 400, "bad request");
	snprintf(hb, sizeof(hb), "/v1/nodes/%s/heartbeat", cl->slaves[0].name);
	bad += !post_is(false, hb, R("{\"instances\":[1]}"), 400, "bad request");
	bad += !post_is(false, hb, R("{\"labels\":{\"a\":1}}"), 400, "bad request");
	bad += !post_is(false, "/v1/nodes/register", R("{\"name\":\"hostile-node\","
	    "\"address\":\"nowhere\",\"instances\":[]}"), 400, "bad request");
	bad += wrong_types(true, "/v1/instances", "{\"id\":\"hx-0\",\"service\":\"hx\","
	    "\"version\":\"1\",\"kind\":\"cattle\",\"command\":[\"/bin/sleep\",\"30\"],"
	    "\"env\":{\"A\":\"b\"},\"ports\":[\"http\"],\"workdir\":\".\","
	    "\"resources\":{\"cpu\":0.5,\"memory\":1000000},\"limits\":{\"nofile\":64},"
	    "\"health\":{\"type\":\"tcp\",\"port\":\"http\"},\"stop\":{\"timeout_ms\":100},"
	    "\"restart\":{\"limit\":1},\"revision\":\"r\"}", "invalid instance");
	return bad;
}

/* A chunked body that grows far past the limit: 413 once it ends, and
 * not held (the RSS check at the end). */
static bool
chunked_flood(bool slave, const char *path, size_t mib)
{
	static char chunk[8 + 65536 + 2];
	struct rconn c;
	struct ans a;
	char head[512];
	bool ok;

	memcpy(chunk, "10000\r\n", 7);
	memset(chunk + 7, 'x', 65536);
	memcpy(chunk + 7 + 65536, "\r\n", 2);
	if (rc_open(&c, slave ? cl->slaves[0].port : cl->ctl_port) < 0)
		return false;
	snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: x\r\n" AUTH
	    "Transfer-Encoding: chunked\r\n\r\n", path);
	rc_send(&c, head, strlen(head));
	for (size_t i = 0; i < mib * 16; i++)
		rc_send(&c, chunk, 7 + 65536 + 2);
	rc_send(&c, "0\r\n\r\n", 5);
	rc_answer(&c, &a);
	ok = answer_is("chunked flood", &a, 413, "body too large");
	ans_free(&a);
	rc_close(&c);
	return ok;
}

/* Huge header line, very many headers, a huge URL: MHD's 431 / 414. */
static int
huge_heads(int port)
{
	size_t big = 100 * 1024;
	char *req = malloc(big * 2), *p;
	struct ans a;
	int bad = 0;

	p = req + sprintf(req, "GET /v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "X-Big: ");
	memset(p, 'a', big);
	p += big;
	p += sprintf(p, "\r\n\r\n");
	exchange(&a, port, req, (size_t)(p - req));
	bad += !answer_is("huge header line", &a, 431, NULL);
	ans_free(&a);
	p = req + sprintf(req, "GET /v1/status HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 5000; i++)
		p += sprintf(p, "X-%d: v\r\n", i);
	p += sprintf(p, "\r\n");
	exchange(&a, port, req, (size_t)(p - req));
	bad += !answer_is("5000 headers", &a, 431, NULL);
	ans_free(&a);
	p = req + sprintf(req, "GET /v1/");
	memset(p, 'a', big);
	p += big;
	p += sprintf(p, " HTTP/1.1\r\nHost: x\r\n\r\n");
	exchange(&a, port, req, (size_t)(p - req));
	bad += !answer_is("100 KB URL", &a, 414, NULL);
	ans_free(&a);
	free(req);
	return bad;
}

/* Three pipelined GETs: three answers, in order; then the same request
 * written a byte at a time (well within the read deadline). */
static int
pipelined_and_dribbled(int port, const char *path)
{
	char req[512];
	struct rconn c;
	struct ans a;
	int bad = 0, n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"
	    "GET %s HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n"
	    "GET %s HTTP/1.1\r\nHost: x\r\n" AUTH "Connection: close\r\n\r\n", path, path, path);
	if (rc_open(&c, port) < 0)
		return 1;
	rc_send(&c, req, (size_t)n);
	for (int i = 0; i < 3; i++) {
		rc_answer(&c, &a);
		bad += a.status != 200 || !json_is_object(a.json);
		ans_free(&a);
	}
	bad += !rc_closes(&c, 5000);
	rc_close(&c);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n", path);
	if (rc_open(&c, port) < 0)
		return bad + 1;
	for (int i = 0; i < n; i++) {
		rc_send(&c, req + i, 1);
		usleep(2000);
	}
	rc_answer(&c, &a);
	bad += a.status != 200 || !json_is_object(a.json);
	ans_free(&a);
	rc_close(&c);
	/* A whole request, then the client's half of the socket closed:
	 * still answered. */
	if (rc_open(&c, port) < 0)
		return bad + 1;
	rc_send(&c, req, (size_t)n);
	shutdown(c.fd, SHUT_WR);
	rc_answer(&c, &a);
	bad += a.status != 200 || !json_is_object(a.json);
	ans_free(&a);
	rc_close(&c);
	if (bad)
		printf("# pipelined/dribbled/half-closed on port %d: %d bad\n", port, bad);
	return bad;
}

/* ---- the tests -------------------------------------------------------- */

TEST(hostile__setup)
{
	char yaml[1024];
	long st;
	json_t *j;

	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	snprintf(yaml, sizeof(yaml),
	    "architecture: hostile\nversion: \"1.0.0\"\nservices:\n"
	    "  web:\n    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n    replicas: 1\n    min: 1\n    max: 3\n",
	    cluster_app("httpapp"));
	REQUIRE(cluster_commit(cl, yaml, NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\":2}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));
}

TEST(hostile__answers_exact_and_others_served_throughout)
{
	struct canary k = {0};
	struct rconn garbage, halfway;
	char before[1400], after[1400];
	long rss0[2], rss1[2];
	pid_t pids[2];
	int bad;

	REQUIRE(cl != NULL);
	pids[0] = cl->ctl->pid;
	pids[1] = cl->slaves[0].d->pid;
	snapshot(before, sizeof(before));
	for (int i = 0; i < 2; i++)
		rss0[i] = rss_kb(pids[i]);
	REQUIRE(pthread_create(&k.th, NULL, canary_run, &k) == 0);

	/* Two that only the read deadline ends (10 s), checked last: a TLS
	 * hello (no line end ever) and a head half-sent then half-closed. */
	REQUIRE(rc_open(&garbage, cl->ctl_port) >= 0);
	rc_send(&garbage, R("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"));
	REQUIRE(rc_open(&halfway, cl->slaves[0].port) >= 0);
	rc_send(&halfway, R("GET /v1/instances HTTP/1.1\r\nHost: x\r\n"));
	shutdown(halfway.fd, SHUT_WR);

	for (size_t i = 0; i < sizeof(literal) / sizeof(literal[0]); i++)
		CHECK(run_case(&literal[i]));
	CHECK_EQ_INT(bad = bad_bodies(), 0);
	CHECK_EQ_INT(bad = all_wrong_types(), 0);
	CHECK_EQ_INT(bad = huge_heads(cl->ctl_port), 0);
	CHECK_EQ_INT(bad = huge_heads(cl->slaves[0].port), 0);
	CHECK_EQ_INT(bad = pipelined_and_dribbled(cl->ctl_port, "/v1/status"), 0);
	CHECK_EQ_INT(bad = pipelined_and_dribbled(cl->slaves[0].port, "/v1/instances"), 0);
	for (int i = 0; i < 3; i++) {
		CHECK(chunked_flood(false, "/v1/apply", 32));
		CHECK(chunked_flood(true, "/v1/instances", 32));
	}
	CHECK(WAIT_FOR(rc_closes(&garbage, 100), 20000));
	CHECK(WAIT_FOR(rc_closes(&halfway, 100), 20000));
	rc_close(&garbage);
	rc_close(&halfway);

	k.stop = true;
	pthread_join(k.th, NULL);
	printf("# canary: %d requests, %d bad, slowest %lld ms%s%s\n", k.asked, k.bad,
	    (long long)k.worst_ms, k.bad ? "; first bad: " : "", k.first_bad);
	CHECK(k.asked >= 30);
	CHECK_EQ_INT(k.bad, 0);
	CHECK(k.worst_ms <= CANARY_MAX_MS);

	/* Alive, memory bounded, and nothing changed by what was refused. */
	for (int i = 0; i < 2; i++) {
		CHECK(pid_alive(pids[i]));
		rss1[i] = rss_kb(pids[i]);
		printf("# %s RSS %ld -> %ld kB\n", i ? "slave" : "controller", rss0[i], rss1[i]);
		CHECK(rss0[i] > 0 && rss1[i] > 0 && rss1[i] - rss0[i] <= RSS_GROWTH_KB);
	}
	snapshot(after, sizeof(after));
	printf("# state before: %s\n# state after:  %s\n", before, after);
	CHECK_STR(after, before);
	CHECK_CONTAINS(before, "nodes=1 ");
	CHECK_CONTAINS(before, "scale=2 desired=2 foreign=[]");
	CHECK(cluster_node_is(cl, cl->slaves[0].name, "Ready"));
	CHECK_EQ_INT(cluster_count(cl, "web", "Run"), 2);
}

TEST(hostile__daemons_stop_cleanly)
{
	REQUIRE(cl != NULL);
	/* Exit 0: under ASan, no leak from any of the above. */
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	/* (Its instances outlive it, as they should: cluster_free reaps them.) */
	CHECK_EQ_INT(cluster_slave_stop(cl, 0, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(hostile__setup, hostile__answers_exact_and_others_served_throughout,
    hostile__daemons_stop_cleanly)
