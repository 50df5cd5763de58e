/* test_creds.c - common/creds.c, httpd_authorize and session.c: the
 * credentials file formats, its mode, the rules (issue 12). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "creds.h"
#include "daemon.h"
#include "err.h"
#include "httpd.h"
#include "session.h"

static char path[600];

/* Write text to a fresh file of mode; path holds its name. */
static void
put(const char *text, mode_t mode)
{
	static char *dir;

	if (dir == NULL && daemon_tmpdir(&dir, "creds") < 0)
		abort();
	snprintf(path, sizeof(path), "%s/creds", dir);
	unlink(path);
	if (write_secret(path, text) < 0 || chmod(path, mode) < 0)
		abort();
}

TEST(creds__bare_token_keeps_working)
{
	struct creds *c;
	const struct orch_principal *p;

	/* As before: the first line, trimmed; later lines never read. */
	put("  tok-1  \r\nnot this line\n", 0600);
	REQUIRE(creds_load(&c, path, ORCH_ROLE_ADMIN) == 0);
	CHECK(creds_bare(c));
	REQUIRE((p = creds_lookup(c, "tok-1")) != NULL);
	CHECK_EQ_INT(p->role, ORCH_ROLE_ADMIN);
	CHECK(creds_lookup(c, "tok-") == NULL);
	CHECK(creds_lookup(c, "tok-12") == NULL);
	CHECK(creds_lookup(c, "not") == NULL);
	CHECK_STR(creds_token(c, ORCH_ROLE_ADMIN), "tok-1");
	creds_free(c);
	/* On a slave the same file is the controller's credential. */
	REQUIRE(creds_load(&c, path, ORCH_ROLE_CONTROLLER) == 0);
	CHECK_EQ_INT(creds_lookup(c, "tok-1")->role, ORCH_ROLE_CONTROLLER);
	creds_free(c);
}

TEST(creds__roles_file)
{
	struct creds *c;
	const struct orch_principal *p;

	put("# comment\n\nadmin a-tok\n  read\tr-tok  \nnode:n1 n1-tok\nnode:n2 n2-tok\n"
	    "controller c-tok\n", 0600);
	REQUIRE(creds_load(&c, path, ORCH_ROLE_ADMIN) == 0);
	CHECK(!creds_bare(c));
	CHECK_EQ_INT(creds_lookup(c, "a-tok")->role, ORCH_ROLE_ADMIN);
	CHECK_EQ_INT(creds_lookup(c, "r-tok")->role, ORCH_ROLE_READ);
	REQUIRE((p = creds_lookup(c, "n2-tok")) != NULL);
	CHECK_EQ_INT(p->role, ORCH_ROLE_NODE);
	CHECK_STR(p->name, "n2");
	CHECK_EQ_INT(creds_lookup(c, "c-tok")->role, ORCH_ROLE_CONTROLLER);
	CHECK(creds_lookup(c, "admin") == NULL);
	CHECK(creds_lookup(c, "") == NULL);
	CHECK_STR(creds_token(c, ORCH_ROLE_NODE), "n1-tok");
	CHECK_STR(creds_principal(c, ORCH_ROLE_NODE)->name, "n1");
	creds_free(c);
}

TEST(creds__bad_files_refused)
{
	static const char *const bad[] = {
		"",                          /* no token */
		"# only a comment\n",
		"admin a b\n",               /* three words */
		"root a-tok\n",              /* unknown role */
		"node: x\n",                 /* empty node name */
		"admin a-tok\nread a-tok\n", /* a token twice */
		"admin a-tok\nlonely\n",     /* a bare word after a role line */
	};
	struct creds *c = (void *)1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(bad[i], 0600);
		CHECK_EQ_INT(creds_load(&c, path, ORCH_ROLE_ADMIN), ORCH_EINVALID);
		CHECK(c == NULL);
		/* The reason names the file, never a token. */
		CHECK(strstr(orch_err_last(), "a-tok") == NULL);
	}
}

TEST(creds__mode_must_be_private)
{
	static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601};
	struct creds *c;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		put("admin a-tok\n", modes[i]);
		CHECK_EQ_INT(creds_load(&c, path, ORCH_ROLE_ADMIN), ORCH_EINVALID);
		CHECK_CONTAINS(orch_err_last(), "chmod 600");
	}
	put("admin a-tok\n", 0400);
	CHECK_EQ_INT(creds_load(&c, path, ORCH_ROLE_ADMIN), 0);
	creds_free(c);
	CHECK_EQ_INT(creds_load(&c, "/nonexistent/creds", ORCH_ROLE_ADMIN), ORCH_EINVALID);
}

TEST(creds__equal)
{
	CHECK(creds_equal("abc", "abc"));
	CHECK(!creds_equal("abc", "abd"));
	CHECK(!creds_equal("ab", "abc"));
	CHECK(!creds_equal("abcd", "abc"));
	CHECK(!creds_equal("", "abc"));
	CHECK(creds_equal("", ""));
}

TEST(authorize__rules)
{
	struct orch_principal none = {0}, rd = {.role = ORCH_ROLE_READ},
	    ad = {.role = ORCH_ROLE_ADMIN}, ct = {.role = ORCH_ROLE_CONTROLLER},
	    n1 = {.role = ORCH_ROLE_NODE, .name = "n1"};

	CHECK_EQ_INT(httpd_authorize(HTTPD_PUBLIC, &none, NULL, false), 0);
	CHECK_EQ_INT(httpd_authorize(HTTPD_READ, &none, NULL, false), 401);
	CHECK_EQ_INT(httpd_authorize(HTTPD_READ, &none, NULL, true), 0);
	CHECK_EQ_INT(httpd_authorize(HTTPD_READ_SECRET, &none, NULL, true), 401);
	CHECK_EQ_INT(httpd_authorize(HTTPD_READ, &rd, NULL, false), 0);
	CHECK_EQ_INT(httpd_authorize(HTTPD_READ, &n1, NULL, false), 403);
	CHECK_EQ_INT(httpd_authorize(HTTPD_ADMIN, &rd, NULL, false), 403);
	CHECK_EQ_INT(httpd_authorize(HTTPD_ADMIN, &ad, NULL, false), 0);
	CHECK_EQ_INT(httpd_authorize(HTTPD_NODE_SELF, &n1, "n1", false), 0);
	CHECK_EQ_INT(httpd_authorize(HTTPD_NODE_SELF, &n1, "n2", false), 403);
	CHECK_EQ_INT(httpd_authorize(HTTPD_NODE_SELF, &ad, "n2", false), 0);
	CHECK_EQ_INT(httpd_authorize(HTTPD_NODE_SELF, &ct, "n1", false), 403);
	CHECK_EQ_INT(httpd_authorize(HTTPD_CONTROLLER, &ct, NULL, false), 0);
	CHECK_EQ_INT(httpd_authorize(HTTPD_CONTROLLER, &ad, NULL, true), 403);
	CHECK_EQ_INT(httpd_authorize(HTTPD_SCRAPE, &rd, NULL, false), 0);
	CHECK_EQ_INT(httpd_authorize(HTTPD_SCRAPE, &n1, NULL, false), 403);
}

TEST(sessions__open_find_expire_bound)
{
	struct sessions *s = sessions_new();
	struct orch_principal rd = {.role = ORCH_ROLE_READ};
	char id[SESSION_ID_LEN + 1], first[SESSION_ID_LEN + 1], got[SESSION_ID_LEN + 1];
	char cookie[200];

	REQUIRE(s != NULL);
	REQUIRE(sessions_open(s, first, &rd, 1000) == 0);
	CHECK_EQ_INT(strlen(first), SESSION_ID_LEN);
	CHECK(sessions_find(s, first, 1000 + SESSION_TTL_MS - 1) != NULL);
	CHECK(sessions_find(s, first, 1000 + SESSION_TTL_MS) == NULL); /* expired */
	REQUIRE(sessions_open(s, first, &rd, 2000) == 0);
	/* Past SESSION_MAX the oldest goes. */
	for (int i = 0; i < SESSION_MAX; i++)
		REQUIRE(sessions_open(s, id, &rd, 2000) == 0);
	CHECK(sessions_find(s, first, 2000) == NULL);
	CHECK(sessions_find(s, id, 2000) != NULL);
	snprintf(cookie, sizeof(cookie), "a=1; " SESSION_COOKIE "=%s; b=2", id);
	CHECK_EQ_INT(sessions_cookie_id(got, cookie), 1);
	CHECK_STR(got, id);
	CHECK_EQ_INT(sessions_cookie_id(got, "x_orch_session=1"), 0);
	sessions_close(s, id);
	CHECK(sessions_find(s, id, 2000) == NULL);
	sessions_free(s);
}

CHECK_MAIN(creds__bare_token_keeps_working, creds__roles_file, creds__bad_files_refused,
    creds__mode_must_be_private, creds__equal, authorize__rules,
    sessions__open_find_expire_bound)
