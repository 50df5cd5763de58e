/*
 * test_httpd.c - common/httpd: routing with captures, auth before the
 * body is read, body cap with and without Content-Length, query
 * arguments, error shapes. The server runs on a thread of the test and
 * is driven exactly as a daemon drives it: poll(httpd_fd) + httpd_run.
 */
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>

#include "check.h"
#include "daemon.h"
#include "err.h"
#include "httpd.h"

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
	{"GET", "/a/:x/b/:y", echo_params, false},
	{"POST", "/echo", echo_body, false},
	{"GET", "/open", open_route, true},
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
    httpd__body_accumulation_and_cap, httpd__parse_listen)
