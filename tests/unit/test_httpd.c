/*
 * test_httpd.c - common/httpd: routing with captures, auth before the
 * body is read, body cap with and without Content-Length, query
 * arguments, error shapes; request headers, deferred answers and open
 * streams.
 *
 * The first tests run the server on a thread of the test, driven exactly
 * as a daemon drives it: poll(httpd_fd) + httpd_run. Deferred answers and
 * streams are finished and woken between turns of the server by the
 * thread that runs it, so their tests run a one-thread loop of their own
 * (struct rig): one poll over httpd_fd and a libcurl-multi client's
 * sockets, then httpd_run and curl_multi_perform, turned until a
 * condition holds or WAIT_MS pass -- never a bare sleep.
 */
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>

#include "check.h"
#include "daemon.h"
#include "err.h"
#include "httpd.h"
#include "units.h"

#define TOKEN "unit-token"

static void
echo_params(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	const char *q = httpd_query(req, "q");

	httpd_reply_json(out, 200, json_pack("{s:s, s:s, s:s?, s:i}", "x", req->params[0],
	    "y", req->params[1], "q", q, "n", (int)req->nparams));
}

static void
echo_body(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	httpd_reply_json(out, 200, json_pack("{s:I, s:b}", "len", (json_int_t)req->body_len,
	    "nul", req->body[req->body_len] == '\0'));
}

static void
open_route(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	httpd_reply_text(out, 200, "text/plain", "open\n", 5);
}

static const struct httpd_route routes[] = {
	{"GET", "/a/:x/b/:y", echo_params, HTTPD_ADMIN},
	{"POST", "/echo", echo_body, HTTPD_ADMIN},
	{"GET", "/open", open_route, HTTPD_PUBLIC},
};

struct server {
	struct httpd *h;
	pthread_t t;
	volatile int stop;
	char listen[64];
	char base[64];
};

static void *
serve(void *arg)
{
	struct server *sv = arg;

	while (!sv->stop) {
		struct pollfd p = {.fd = httpd_fd(sv->h), .events = POLLIN};
		int64_t t = httpd_timeout_ms(sv->h);

		poll(&p, 1, t < 0 || t > 50 ? 50 : (int)t);
		httpd_run(sv->h);
	}
	return NULL;
}

static int
server_start(struct server *sv)
{
	struct httpd_config c = {0};
	int port;

	memset(sv, 0, sizeof(*sv));
	strcpy(sv->listen, "127.0.0.1:0");
	c.listen = sv->listen;
	c.routes = routes;
	c.nroutes = sizeof(routes) / sizeof(routes[0]);
	c.token = TOKEN;
	c.max_body = 64 * 1024;
	if (httpd_start(&sv->h, &c) < 0)
		return -1;
	port = httpd_port(sv->h);
	snprintf(sv->base, sizeof(sv->base), "http://127.0.0.1:%d", port);
	return pthread_create(&sv->t, NULL, serve, sv) == 0 ? 0 : -1;
}

static void
server_stop(struct server *sv)
{
	sv->stop = 1;
	pthread_join(sv->t, NULL);
	httpd_free(sv->h);
}

static json_t *
call(struct server *sv, long *st, const char *method, const char *path, const char *token,
    const char *body)
{
	char url[256];
	json_t *j = NULL;

	snprintf(url, sizeof(url), "%s%s", sv->base, path);
	http_json(&j, st, method, url, token, body);
	return j;
}

TEST(httpd__routes_captures_and_query)
{
	struct server sv;
	json_t *j;
	long st;

	REQUIRE(server_start(&sv) == 0);
	CHECK(httpd_port(sv.h) > 0);
	j = call(&sv, &st, "GET", "/a/one/b/two?q=hi", TOKEN, NULL);
	CHECK_EQ_INT(st, 200);
	CHECK_STR(json_string_value(json_object_get(j, "x")), "one");
	CHECK_STR(json_string_value(json_object_get(j, "y")), "two");
	CHECK_STR(json_string_value(json_object_get(j, "q")), "hi");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "n")), 2);
	json_decref(j);
	j = call(&sv, &st, "GET", "/a/one/b", TOKEN, NULL);
	CHECK_EQ_INT(st, 404);
	CHECK_STR(json_string_value(json_object_get(j, "error")), "not found");
	CHECK(json_is_string(json_object_get(j, "detail")));
	json_decref(j);
	j = call(&sv, &st, "GET", "/a//b/two", TOKEN, NULL);
	CHECK_EQ_INT(st, 404);
	json_decref(j);
	j = call(&sv, &st, "DELETE", "/a/one/b/two", TOKEN, NULL);
	CHECK_EQ_INT(st, 405);
	json_decref(j);
	server_stop(&sv);
}

TEST(httpd__bearer_token)
{
	struct server sv;
	struct http_result r;
	char url[256];
	json_t *j;
	long st;

	REQUIRE(server_start(&sv) == 0);
	j = call(&sv, &st, "GET", "/a/1/b/2", NULL, NULL);
	CHECK_EQ_INT(st, 401);
	CHECK_STR(json_string_value(json_object_get(j, "error")), "unauthorized");
	json_decref(j);
	j = call(&sv, &st, "GET", "/a/1/b/2", TOKEN "x", NULL);
	CHECK_EQ_INT(st, 401);
	json_decref(j);
	j = call(&sv, &st, "POST", "/echo", "unit", "{}");
	CHECK_EQ_INT(st, 401);
	json_decref(j);
	/* Unknown paths do not tell an unauthenticated client what exists. */
	j = call(&sv, &st, "GET", "/secret", NULL, NULL);
	CHECK_EQ_INT(st, 401);
	json_decref(j);
	snprintf(url, sizeof(url), "%s/open", sv.base);
	CHECK(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_STR(r.body, "open\n");
	http_result_free(&r);
	server_stop(&sv);
}

struct chunks {
	size_t left;
};

static size_t
read_chunks(char *buf, size_t size, size_t n, void *arg)
{
	struct chunks *c = arg;
	size_t k = size * n < c->left ? size * n : c->left;

	memset(buf, 'x', k);
	c->left -= k;
	return k;
}

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;
}

static long
post_chunked(struct server *sv, size_t len)
{
	struct curl_slist *h = NULL;
	struct chunks c = {len};
	char url[256];
	long code = 0;
	CURL *e = curl_easy_init();

	snprintf(url, sizeof(url), "%s/echo", sv->base);
	h = curl_slist_append(h, "Authorization: Bearer " TOKEN);
	h = curl_slist_append(h, "Transfer-Encoding: chunked");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, read_chunks);
	curl_easy_setopt(e, CURLOPT_READDATA, &c);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return code;
}

TEST(httpd__body_accumulation_and_cap)
{
	struct server sv;
	char *big;
	json_t *j;
	long st;

	REQUIRE(server_start(&sv) == 0);
	big = malloc(80 * 1024 + 1);
	REQUIRE(big != NULL);
	memset(big, 'a', 60 * 1024);
	big[60 * 1024] = '\0';
	/* Under the cap: whole, NUL-terminated. */
	j = call(&sv, &st, "POST", "/echo", TOKEN, big);
	CHECK_EQ_INT(st, 200);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "len")), 60 * 1024);
	CHECK(json_is_true(json_object_get(j, "nul")));
	json_decref(j);
	/* Over it, announced by Content-Length: 413. */
	memset(big, 'a', 80 * 1024);
	big[80 * 1024] = '\0';
	j = call(&sv, &st, "POST", "/echo", TOKEN, big);
	CHECK_EQ_INT(st, 413);
	CHECK_STR(json_string_value(json_object_get(j, "error")), "body too large");
	json_decref(j);
	free(big);
	/* Chunked, no Content-Length: 413 as well; under the cap: fine. */
	CHECK_EQ_INT(post_chunked(&sv, 200 * 1024), 413);
	CHECK_EQ_INT(post_chunked(&sv, 1000), 200);
	server_stop(&sv);
}

/*
 * Deferred answers, streams and request headers. Here the test is the
 * daemon: one thread turns the server and a libcurl-multi client (turn()),
 * and calls httpd_finish() and httpd_stream_wake() between turns, as the
 * controller's loop does.
 */

#define WAIT_MS 3000 /* bound of every AWAIT; the conditions hold within ms */
#define RIG_MAX 4

/* One stream's source: the reader hands out buf, then sleeps or ends. */
struct feed {
	struct httpd_stream *hs; /* lent by the server until done runs */
	char buf[256];
	size_t len, off;
	bool end;                /* once buf is sent, end the body */
	int reads;               /* calls of the reader */
	int done;                /* calls of done */
};

/* One client request and what came back so far. */
struct xfer {
	CURL *e;                 /* NULL once the client dropped it */
	struct curl_slist *hdrs;
	char body[1024];
	size_t len;
	char head[1024];         /* the response's header lines */
	size_t hlen;
	bool done;
	CURLcode rc;
	long status;
};

struct rig {
	struct httpd *h;         /* NULL once the test freed it */
	CURLM *m;
	char listen[32];
	char base[64];
	struct xfer *x[RIG_MAX];
	size_t nx;
	struct httpd_call *calls[RIG_MAX]; /* deferred by /defer, in order */
	size_t ncalls;
	struct feed feeds[RIG_MAX];        /* served by /stream, in order */
	size_t nfeeds;
};

static ssize_t
feed_read(void *arg, char *buf, size_t max)
{
	struct feed *f = arg;
	size_t n = f->len - f->off;

	f->reads++;
	if (n == 0)
		return f->end ? -1 : 0;
	if (n > max)
		n = max;
	memcpy(buf, f->buf + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

static void
feed_done(void *arg)
{
	struct feed *f = arg;

	f->done++;
	f->hs = NULL;
}

static void
feed_put(struct feed *f, const char *text)
{
	size_t n = strlen(text);

	if (f->off == f->len)
		f->off = f->len = 0;
	REQUIRE(f->len + n <= sizeof(f->buf));
	memcpy(f->buf + f->len, text, n);
	f->len += n;
}

/* Defers; with ?early=1 it fills its reply first, which the server must
 * drop (ASan reports the leak otherwise). */
static void
defer_route(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct rig *r = arg;

	if (httpd_query(req, "early") != NULL)
		httpd_reply_text(out, 200, "text/plain", "early\n", 6);
	if (r->ncalls == RIG_MAX) {
		httpd_reply_error(out, 500, "test", "too many deferred requests");
		return;
	}
	r->calls[r->ncalls++] = httpd_defer(req);
}

static void
fast_route(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	httpd_reply_text(out, 200, "text/plain", "fast\n", 5);
}

static void
header_route(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	httpd_reply_json(out, 200, json_pack("{s:s?, s:s?, s:s?, s:s?}",
	    "lower", httpd_header(req, "x-orch-test"),
	    "upper", httpd_header(req, "X-ORCH-TEST"),
	    "lid", httpd_header(req, "Last-Event-ID"),
	    "absent", httpd_header(req, "X-Absent")));
}

/* Streams the next feed (filled beforehand by the test). */
static void
stream_route(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct rig *r = arg;
	struct feed *f;

	if (r->nfeeds == RIG_MAX) {
		httpd_reply_error(out, 500, "test", "too many streams");
		return;
	}
	f = &r->feeds[r->nfeeds++];
	f->hs = httpd_reply_stream(out, "text/event-stream", feed_read, feed_done, f);
}

static const struct httpd_route rig_routes[] = {
	{"GET", "/defer", defer_route, HTTPD_ADMIN},
	{"GET", "/fast", fast_route, HTTPD_ADMIN},
	{"GET", "/header", header_route, HTTPD_ADMIN},
	{"GET", "/stream", stream_route, HTTPD_ADMIN},
};

static size_t
xfer_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t k = size * n;

	if (k >= sizeof(x->body) - x->len)
		return 0; /* more than any test sends: fail the transfer */
	memcpy(x->body + x->len, p, k);
	x->len += k;
	x->body[x->len] = '\0';
	return k;
}

static size_t
xfer_head(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t k = size * n;

	if (k >= sizeof(x->head) - x->hlen)
		return 0;
	memcpy(x->head + x->hlen, p, k);
	x->hlen += k;
	x->head[x->hlen] = '\0';
	return k;
}

static void
rig_start(struct rig *r)
{
	struct httpd_config c = {0};

	memset(r, 0, sizeof(*r));
	strcpy(r->listen, "127.0.0.1:0");
	c.listen = r->listen;
	c.routes = rig_routes;
	c.nroutes = sizeof(rig_routes) / sizeof(rig_routes[0]);
	c.arg = r;
	c.token = TOKEN;
	REQUIRE(httpd_start(&r->h, &c) == 0);
	REQUIRE((r->m = curl_multi_init()) != NULL);
	snprintf(r->base, sizeof(r->base), "http://127.0.0.1:%d", httpd_port(r->h));
}

/* Start GET path with the headers hdrs (NULL-terminated, or NULL). */
static struct xfer *
xfer_start(struct rig *r, const char *path, const char *const *hdrs)
{
	struct xfer *x;
	char url[256];

	REQUIRE(r->nx < RIG_MAX);
	REQUIRE((x = calloc(1, sizeof(*x))) != NULL);
	r->x[r->nx++] = x;
	snprintf(url, sizeof(url), "%s%s", r->base, path);
	x->hdrs = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
	for (; hdrs && *hdrs; hdrs++)
		x->hdrs = curl_slist_append(x->hdrs, *hdrs);
	REQUIRE((x->e = curl_easy_init()) != NULL);
	curl_easy_setopt(x->e, CURLOPT_URL, url);
	curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, xfer_body);
	curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->e, CURLOPT_HEADERFUNCTION, xfer_head);
	curl_easy_setopt(x->e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
	REQUIRE(curl_multi_add_handle(r->m, x->e) == CURLM_OK);
	return x;
}

/* The client gives up on x: its connection is closed. */
static void
xfer_drop(struct rig *r, struct xfer *x)
{
	if (x->e == NULL)
		return;
	curl_multi_remove_handle(r->m, x->e);
	curl_easy_cleanup(x->e);
	x->e = NULL;
}

static const char *
xfer_ctype(const struct xfer *x)
{
	char *ct = NULL;

	curl_easy_getinfo(x->e, CURLINFO_CONTENT_TYPE, &ct);
	return ct;
}

static void
rig_free(struct rig *r)
{
	httpd_free(r->h);
	r->h = NULL;
	for (size_t i = 0; i < r->nx; i++) {
		xfer_drop(r, r->x[i]);
		curl_slist_free_all(r->x[i]->hdrs);
		free(r->x[i]);
	}
	curl_multi_cleanup(r->m);
}

/*
 * One turn of the loop: wait until the server's epoll fd or a client
 * socket is ready, or a due timeout, at most 10 ms (so AWAIT sees its
 * deadline); then let the server and the client work.
 */
static void
turn(struct rig *r)
{
	struct curl_waitfd w = {0};
	unsigned nw = 0;
	int ms = 10, running, left;
	CURLMsg *msg;

	if (r->h != NULL) {
		int64_t t = httpd_timeout_ms(r->h);

		w.fd = httpd_fd(r->h);
		w.events = CURL_WAIT_POLLIN;
		nw = 1;
		if (t >= 0 && t < ms)
			ms = (int)t;
	}
	curl_multi_poll(r->m, &w, nw, ms, NULL);
	if (r->h != NULL)
		httpd_run(r->h);
	curl_multi_perform(r->m, &running);
	while ((msg = curl_multi_info_read(r->m, &left)) != NULL) {
		struct xfer *x;
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		x = (struct xfer *)priv;
		x->rc = msg->data.result;
		curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &x->status);
		x->done = true;
	}
}

/* Turn the loop until cond holds; after WAIT_MS fail and leave the test. */
#define AWAIT(r, cond) do { \
	int64_t end_ = orch_mono_ms() + WAIT_MS; \
	while (!(cond)) { \
		if (orch_mono_ms() >= end_) { \
			check_fail(__FILE__, __LINE__, "AWAIT(%s): not within %d ms", \
			    #cond, WAIT_MS); \
			longjmp(check_abort, 1); \
		} \
		turn(r); \
	} \
} while (0)

static bool
asleep(const struct feed *f)
{
	return f->hs != NULL && httpd_stream_asleep(f->hs);
}

/* A JSON error body's "error" and "detail" are these. */
static void
check_error(const struct xfer *x, const char *error, const char *detail)
{
	json_t *j = json_loads(x->body, 0, NULL);

	CHECK_STR(json_string_value(json_object_get(j, "error")), error);
	CHECK_STR(json_string_value(json_object_get(j, "detail")), detail);
	json_decref(j);
}

TEST(httpd__header_any_case)
{
	static const char *const hdrs[] = {"X-Orch-Test: hello world",
	    "Last-Event-ID: 42", NULL};
	struct rig r;
	struct xfer *x;
	json_t *j;

	rig_start(&r);
	x = xfer_start(&r, "/header", hdrs);
	AWAIT(&r, x->done);
	CHECK_EQ_INT(x->rc, CURLE_OK);
	CHECK_EQ_INT(x->status, 200);
	j = json_loads(x->body, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(j, "lower")), "hello world");
	CHECK_STR(json_string_value(json_object_get(j, "upper")), "hello world");
	CHECK_STR(json_string_value(json_object_get(j, "lid")), "42");
	CHECK(json_is_null(json_object_get(j, "absent")));
	json_decref(j);
	rig_free(&r);
}

TEST(httpd__defer_answered_later)
{
	struct httpd_resp late = {0};
	struct xfer *a, *b, *c;
	struct rig r;

	rig_start(&r);
	/* The handler fills a reply, then defers: nothing goes out. */
	a = xfer_start(&r, "/defer?early=1", NULL);
	AWAIT(&r, r.ncalls == 1);
	/* Meanwhile the server serves others. */
	b = xfer_start(&r, "/fast", NULL);
	AWAIT(&r, b->done);
	CHECK_EQ_INT(b->status, 200);
	CHECK_STR(b->body, "fast\n");
	CHECK(!a->done);
	CHECK_EQ_INT(a->len, 0);
	CHECK_EQ_INT(a->hlen, 0);
	/* A second deferred request, finished first: each call is its own. */
	c = xfer_start(&r, "/defer", NULL);
	AWAIT(&r, r.ncalls == 2);
	httpd_reply_json(&late, 201, json_pack("{s:s}", "late", "second"));
	httpd_finish(r.calls[1], &late);
	CHECK(late.body == NULL); /* taken */
	AWAIT(&r, c->done);
	CHECK_EQ_INT(c->rc, CURLE_OK);
	CHECK_EQ_INT(c->status, 201);
	CHECK_STR(c->body, "{\"late\":\"second\"}");
	CHECK_STR(xfer_ctype(c), "application/json");
	CHECK(!a->done);
	/* The first gets its late answer, not what the handler had filled. */
	httpd_reply_text(&late, 202, "text/plain", "late\n", 5);
	httpd_finish(r.calls[0], &late);
	AWAIT(&r, a->done);
	CHECK_EQ_INT(a->rc, CURLE_OK);
	CHECK_EQ_INT(a->status, 202);
	CHECK_STR(a->body, "late\n");
	CHECK_STR(xfer_ctype(a), "text/plain");
	rig_free(&r);
}

TEST(httpd__defer_open_at_free_gets_503)
{
	struct xfer *a, *b;
	struct rig r;

	rig_start(&r);
	a = xfer_start(&r, "/defer", NULL);
	b = xfer_start(&r, "/defer?early=1", NULL);
	AWAIT(&r, r.ncalls == 2);
	CHECK(!a->done && !b->done);
	/* The handles die with the server; the clients are answered. */
	httpd_free(r.h);
	r.h = NULL;
	AWAIT(&r, a->done && b->done);
	CHECK_EQ_INT(a->rc, CURLE_OK);
	CHECK_EQ_INT(a->status, 503);
	check_error(a, "unavailable", "the server is stopping");
	CHECK_EQ_INT(b->rc, CURLE_OK);
	CHECK_EQ_INT(b->status, 503);
	check_error(b, "unavailable", "the server is stopping");
	rig_free(&r);
}

TEST(httpd__stream_sleeps_wakes_and_ends)
{
	struct feed *f;
	struct xfer *x;
	struct rig r;
	int reads;

	rig_start(&r);
	f = &r.feeds[0];
	feed_put(f, "one\n");
	x = xfer_start(&r, "/stream", NULL);
	/* The first chunk arrives; with nothing more the stream sleeps. */
	AWAIT(&r, x->len == 4 && asleep(f));
	CHECK_STR(x->body, "one\n");
	CHECK(!x->done);
	CHECK_CONTAINS(x->head, " 200 ");
	CHECK_CONTAINS(x->head, "Content-Type: text/event-stream");
	CHECK_CONTAINS(x->head, "Cache-Control: no-cache");
	/* Asleep, its reader is not asked again (no busy loop). */
	reads = f->reads;
	for (int i = 0; i < 10; i++)
		turn(&r);
	CHECK_EQ_INT(f->reads, reads);
	CHECK(asleep(f));
	/* Woken, it sends what came since and sleeps again. */
	feed_put(f, "two\n");
	httpd_stream_wake(f->hs);
	CHECK(!httpd_stream_asleep(f->hs));
	httpd_stream_wake(f->hs); /* awake: nothing */
	AWAIT(&r, x->len == 8 && asleep(f));
	CHECK_STR(x->body, "one\ntwo\n");
	CHECK(!x->done);
	/* The reader ends the body: the transfer completes, done runs once. */
	feed_put(f, "three\n");
	f->end = true;
	httpd_stream_wake(f->hs);
	AWAIT(&r, x->done && f->done > 0);
	CHECK_EQ_INT(x->rc, CURLE_OK);
	CHECK_EQ_INT(x->status, 200);
	CHECK_STR(x->body, "one\ntwo\nthree\n");
	CHECK(f->hs == NULL);
	rig_free(&r);
	CHECK_EQ_INT(f->done, 1);
	CHECK_EQ_INT(r.nfeeds, 1);
}

/*
 * Three streams open at httpd_free(): two asleep and one woken with text
 * it has not sent yet. Every one ends cleanly: its reader is not asked
 * again, done runs once, and each client sees its body end (not a cut).
 * (One MHD_run after resuming them all used to end only the first.)
 */
static bool
all_asleep(struct rig *r, int n)
{
	for (int k = 0; k < n; k++)
		if (!asleep(&r->feeds[k]))
			return false;
	return true;
}

TEST(httpd__streams_open_at_free_end)
{
	struct xfer *x[3];
	struct rig r;
	int reads[3];

	rig_start(&r);
	for (int k = 0; k < 3; k++) {
		feed_put(&r.feeds[k], "one\n");
		x[k] = xfer_start(&r, "/stream", NULL);
		AWAIT(&r, r.nfeeds == (size_t)k + 1 && x[k]->len == 4 && all_asleep(&r, k + 1));
	}
	/* Woken, not run: its new text is never read, the stream ends. */
	feed_put(&r.feeds[2], "two\n");
	httpd_stream_wake(r.feeds[2].hs);
	for (int k = 0; k < 3; k++)
		reads[k] = r.feeds[k].reads;
	httpd_free(r.h);
	r.h = NULL;
	for (int k = 0; k < 3; k++) {
		CHECK_EQ_INT(r.feeds[k].done, 1);
		CHECK_EQ_INT(r.feeds[k].reads, reads[k]);
	}
	AWAIT(&r, x[0]->done && x[1]->done && x[2]->done);
	for (int k = 0; k < 3; k++) {
		CHECK_EQ_INT(x[k]->rc, CURLE_OK);
		CHECK_EQ_INT(x[k]->status, 200);
		CHECK_STR(x[k]->body, "one\n");
	}
	rig_free(&r);
}

/* The client left: the next wake-up's write finds it gone (the
 * controller's pings do this for SSE clients). */
static bool
ping_until_done(struct feed *f)
{
	if (f->done)
		return true;
	if (asleep(f)) {
		feed_put(f, ": ping\n");
		httpd_stream_wake(f->hs);
	}
	return false;
}

TEST(httpd__stream_client_gone)
{
	struct feed *f;
	struct xfer *x;
	struct rig r;

	rig_start(&r);
	f = &r.feeds[0];
	feed_put(f, "one\n");
	x = xfer_start(&r, "/stream", NULL);
	AWAIT(&r, x->len == 4 && asleep(f));
	xfer_drop(&r, x);
	AWAIT(&r, ping_until_done(f));
	CHECK_EQ_INT(f->done, 1);
	rig_free(&r);
	CHECK_EQ_INT(f->done, 1);
}

TEST(httpd__parse_listen)
{
	char addr[64];
	int port;

	CHECK_EQ_INT(httpd_parse_listen(addr, sizeof(addr), &port, "127.0.0.1:8080"), 0);
	CHECK_STR(addr, "127.0.0.1");
	CHECK_EQ_INT(port, 8080);
	CHECK_EQ_INT(httpd_parse_listen(addr, sizeof(addr), &port, "localhost:0"), 0);
	CHECK_STR(addr, "127.0.0.1");
	CHECK_EQ_INT(httpd_parse_listen(addr, sizeof(addr), &port, "127.0.0.1"), ORCH_EINVALID);
	CHECK_EQ_INT(httpd_parse_listen(addr, sizeof(addr), &port, "127.0.0.1:99999"), ORCH_EINVALID);
	CHECK_EQ_INT(httpd_parse_listen(addr, sizeof(addr), &port, "nohost:80"), ORCH_EINVALID);
	CHECK_EQ_INT(httpd_parse_listen(addr, sizeof(addr), &port, ":80"), ORCH_EINVALID);
}

CHECK_MAIN(httpd__routes_captures_and_query, httpd__bearer_token,
    httpd__body_accumulation_and_cap, httpd__header_any_case,
    httpd__defer_answered_later, httpd__defer_open_at_free_gets_503,
    httpd__stream_sleeps_wakes_and_ends, httpd__streams_open_at_free_end,
    httpd__stream_client_gone, httpd__parse_listen)
