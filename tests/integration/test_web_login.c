/*
 * test_web_login.c - the page's login (issue 12): reads need a read
 * credential, so the page shows a login form when the API answers 401,
 * trades a read token for an HttpOnly, SameSite=Strict session cookie,
 * and then works; with --public-read it works without a login.
 *
 * The protocol is checked with plain HTTP (the cookie's attributes, what
 * it grants and what not, logout), the page in a real headless Chromium
 * (tests/support/cdp.h) that logs in the way a person does.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdp.h"
#include "check.h"
#include "cluster.h"
#include "err.h"

#define PAGE_WAIT 20000
#define T_ADMIN "admin-tok-for-the-web-login-test"
#define T_READ "read-tok-for-the-web-login-test"
#define T_NODE "node-tok-for-the-web-login-test"

static char *dir;

struct answer {
	long status;
	struct http_buf body, headers;
};

/* One request with optional token, cookie and JSON body. */
static void
request(struct answer *a, struct cluster *cl, const char *method, const char *path,
    const char *token, const char *cookie, const char *body, const char *ctype)
{
	struct curl_slist *h = NULL;
	char url[512], line[512];
	CURL *e = curl_easy_init();

	memset(a, 0, sizeof(*a));
	snprintf(url, sizeof(url), "%s%s", cl->url, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &a->body);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_collect);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &a->headers);
	if (token != NULL) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, line);
	}
	if (cookie != NULL) {
		snprintf(line, sizeof(line), "Cookie: %s", cookie);
		h = curl_slist_append(h, line);
	}
	if (body != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		h = curl_slist_append(h, line);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	if (a->body.p == NULL)
		a->body.p = strdup("");
	if (a->headers.p == NULL)
		a->headers.p = strdup("");
}

static void
answer_free(struct answer *a)
{
	free(a->body.p);
	free(a->headers.p);
}

static struct cluster *
start(const char *extra)
{
	static const char *args[2][4];
	static int n;
	static char path[600];
	const char **a = args[n++ % 2];
	struct cluster *cl = NULL;

	if (dir == NULL && daemon_tmpdir(&dir, "web-login") < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/creds", dir);
	if (write_secret(path, "admin " T_ADMIN "\nread " T_READ "\nnode:n1 " T_NODE "\n") < 0)
		return NULL;
	a[0] = "--token-file"; /* the later one wins over the fixture's */
	a[1] = path;
	a[2] = extra;
	a[3] = NULL;
	if (cluster_start(&cl, 0, a) < 0) {
		printf("# %s\n", orch_err_last());
		cluster_free(cl);
		return NULL;
	}
	return cl;
}

/* "orch_session=HEX" from a Set-Cookie header, into buf. */
static bool
session_cookie(char *buf, size_t len, const char *headers)
{
	const char *p = strstr(headers, "Set-Cookie: orch_session=");

	if (p == NULL)
		return false;
	p += strlen("Set-Cookie: ");
	snprintf(buf, len, "%.*s", (int)strcspn(p, ";\r\n"), p);
	return strlen(buf) == strlen("orch_session=") + 64;
}

TEST(login__protocol)
{
	struct cluster *cl;
	struct answer a;
	char cookie[128];

	REQUIRE((cl = start(NULL)) != NULL);
	/* Wrong token 401, a node token 403, a form post 415: no cookie. */
	request(&a, cl, "POST", "/v1/login", NULL, NULL, "{\"token\":\"nope\"}",
	    "application/json");
	CHECK_EQ_INT(a.status, 401);
	CHECK(strstr(a.headers.p, "Set-Cookie") == NULL);
	answer_free(&a);
	request(&a, cl, "POST", "/v1/login", NULL, NULL, "{\"token\":\"" T_NODE "\"}",
	    "application/json");
	CHECK_EQ_INT(a.status, 403);
	answer_free(&a);
	request(&a, cl, "POST", "/v1/login", NULL, NULL, "token=" T_READ,
	    "application/x-www-form-urlencoded");
	CHECK_EQ_INT(a.status, 415);
	CHECK(strstr(a.headers.p, "Set-Cookie") == NULL);
	answer_free(&a);

	/* A read token: a session cookie, HttpOnly, SameSite=Strict, with
	 * an expiry; the token is not in the answer. */
	request(&a, cl, "POST", "/v1/login", NULL, NULL, "{\"token\":\"" T_READ "\"}",
	    "application/json");
	CHECK_EQ_INT(a.status, 200);
	CHECK_CONTAINS(a.headers.p, "HttpOnly");
	CHECK_CONTAINS(a.headers.p, "SameSite=Strict");
	CHECK_CONTAINS(a.headers.p, "Path=/");
	CHECK_CONTAINS(a.headers.p, "Max-Age=43200");
	CHECK(strstr(a.headers.p, T_READ) == NULL && strstr(a.body.p, T_READ) == NULL);
	REQUIRE(session_cookie(cookie, sizeof(cookie), a.headers.p));
	answer_free(&a);

	/* The cookie reads ... */
	request(&a, cl, "GET", "/v1/status", NULL, cookie, NULL, NULL);
	CHECK_EQ_INT(a.status, 200);
	answer_free(&a);
	request(&a, cl, "GET", "/v1/status", NULL, NULL, NULL, NULL);
	CHECK_EQ_INT(a.status, 401);
	answer_free(&a);
	/* ... but writes nothing, even from an admin login (CSRF). */
	request(&a, cl, "POST", "/v1/login", NULL, NULL, "{\"token\":\"" T_ADMIN "\"}",
	    "application/json");
	CHECK_EQ_INT(a.status, 200);
	{
		char admin_cookie[128];

		REQUIRE(session_cookie(admin_cookie, sizeof(admin_cookie), a.headers.p));
		answer_free(&a);
		request(&a, cl, "POST", "/v1/apply", NULL, admin_cookie, "{}",
		    "application/json");
		CHECK_EQ_INT(a.status, 401);
	}
	answer_free(&a);
	/* A made-up session is nobody. */
	request(&a, cl, "GET", "/v1/status", NULL, "orch_session="
	    "00000000000000000000000000000000000000000000000000000000000000ff", NULL, NULL);
	CHECK_EQ_INT(a.status, 401);
	answer_free(&a);

	/* Logout ends the session and clears the cookie. */
	request(&a, cl, "POST", "/v1/logout", NULL, cookie, "{}", "application/json");
	CHECK_EQ_INT(a.status, 200);
	CHECK_CONTAINS(a.headers.p, "Max-Age=0");
	answer_free(&a);
	request(&a, cl, "GET", "/v1/status", NULL, cookie, NULL, NULL);
	CHECK_EQ_INT(a.status, 401);
	answer_free(&a);
	cluster_free(cl);
}

static bool
page_loaded(void)
{
	return cdp_js_int("Number(document.body.dataset.loaded || 0)") >= 1;
}

TEST(login__page_in_chromium)
{
	struct cluster *cl, *pub;
	char url[256], nav[300];

	REQUIRE((cl = start(NULL)) != NULL);
	snprintf(url, sizeof(url), "%s/", cl->url);
	REQUIRE(cdp_start(url, PAGE_WAIT) == 0);

	/* The API answered 401: the form shows, the cluster view does not. */
	CHECK(WAIT_FOR(cdp_js_true("document.body.dataset.login === 'shown'"), PAGE_WAIT));
	CHECK(cdp_js_true("document.getElementById('main').hidden"));
	CHECK(!page_loaded());

	/* A wrong token: the controller's reason, still no data. */
	CHECK(cdp_js_true("document.getElementById('login-token').value = 'wrong';"
	    " document.getElementById('login-form').requestSubmit(); true"));
	CHECK(WAIT_FOR(strstr(cdp_js_str("document.getElementById('login-error')"
	    ".textContent"), "not known") != NULL, PAGE_WAIT));
	CHECK(!page_loaded());

	/* The read token, typed into the form and submitted. */
	CHECK(cdp_js_true("document.getElementById('login-token').value = '" T_READ "';"
	    " document.getElementById('login-form').requestSubmit(); true"));
	CHECK(WAIT_FOR(page_loaded(), PAGE_WAIT));
	CHECK(cdp_js_true("document.getElementById('login').hidden"));
	CHECK(!cdp_js_true("document.getElementById('main').hidden"));
	CHECK_STR(cdp_js_str("document.getElementById('health').textContent"),
	    "controller: up");
	/* The event stream is authenticated by the cookie too. */
	CHECK(WAIT_FOR(strcmp(cdp_js_str("document.getElementById('conn').textContent"),
	    "events: live") == 0, PAGE_WAIT));
	/* HttpOnly: the page's script cannot read the session, and the
	 * form forgot the token. */
	CHECK(strstr(cdp_js_str("document.cookie"), "orch_session") == NULL);
	CHECK_STR(cdp_js_str("document.getElementById('login-token').value"), "");

	/* --public-read: the page works with no login at all. */
	REQUIRE((pub = start("--public-read")) != NULL);
	snprintf(nav, sizeof(nav), "%s/", pub->url);
	json_decref(cdp_call_method("Page.navigate", json_pack("{s:s}", "url", nav)));
	CHECK(WAIT_FOR(strstr(cdp_js_str("location.href"), pub->url) != NULL && page_loaded(),
	    PAGE_WAIT));
	CHECK(!cdp_js_true("document.body.dataset.login === 'shown'"));
	CHECK(cdp_js_true("document.getElementById('login').hidden"));
	CHECK_STR(cdp_js_str("document.getElementById('health').textContent"),
	    "controller: up");

	cdp_stop();
	cluster_free(pub);
	cluster_free(cl);
}

CHECK_MAIN(login__protocol, login__page_in_chromium)
