/*
 * test_auth_roles.c - roles enforced on every route of both daemons
 * (issue 12).
 *
 * Table-driven: every route and method of the controller and of the
 * slave is listed here with the rule the test expects, and each is
 * called by every principal (no credential, read, admin, node:self,
 * node:other, controller); the answer must be 401 (unknown), 403 (known,
 * not allowed) or anything else (allowed). The tables are checked both
 * ways against the daemons' own route tables (ctl_api_routes,
 * api_routes, linked in): a route added without a row here fails the
 * test. The expectations are spelled out per rule below, not taken from
 * the daemons' code.
 *
 * Plus: --public-read, a credentials file readable by others is refused
 * at start, tokens are in no command line and no log, a node token
 * cannot report for another node nor apply, and events name their actor.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "cluster.h"
#include "daemon.h"
#include "err.h"
#include "httpd.h"
#include "run.h"

/* The daemons' tables (controller/api.c, slave/api.c). */
extern const struct httpd_route ctl_api_routes[];
extern const size_t ctl_api_nroutes;
extern const struct httpd_route api_routes[];
extern const size_t api_nroutes;

#define T_ADMIN "admin-tok-0123456789abcdef0123"
#define T_READ "read-tok-0123456789abcdef01234"
#define T_ALPHA "alpha-tok-0123456789abcdef0123"
#define T_BETA "beta-tok-0123456789abcdef01234"
#define T_CTL "ctl-tok-0123456789abcdef0123456"

/* Who calls: index into the expectation strings below. */
enum who { W_NONE, W_READ, W_ADMIN, W_SELF, W_OTHER, W_CTL, W_N };
static const char *const who_name[W_N] = {"none", "read", "admin", "node:alpha",
    "node:beta", "controller"};
static const char *const who_token[W_N] = {NULL, T_READ, T_ADMIN, T_ALPHA, T_BETA, T_CTL};

/* Expected answer per principal, in enum who order: 'A' allowed (not 401
 * nor 403), 'U' 401, 'F' 403. */
enum rule { R_PUBLIC, R_READ, R_ADMIN, R_NODE, R_CONTROLLER, R_SCRAPE, R_SECRET };
static const char *const expect[] = {
	[R_PUBLIC] = "AAAAAA",
	[R_READ] = "UAAFFF",       /* read or admin */
	[R_ADMIN] = "UFAFFF",      /* admin */
	[R_NODE] = "UFAAFF",       /* that node (alpha here), or admin */
	[R_CONTROLLER] = "UFFFFA", /* the controller only */
	[R_SCRAPE] = "UAAFFA",     /* a slave's /metrics: read or controller */
	[R_SECRET] = "UAAFFF",     /* logs: read or admin */
};
/* With --public-read, the read routes are anyone's. */
static const char *const expect_public_read[] = {
	[R_PUBLIC] = "AAAAAA",
	[R_READ] = "AAAAAA",
	[R_ADMIN] = "UFAFFF",
	[R_NODE] = "UFAAFF",
	[R_CONTROLLER] = "UFFFFA",
	[R_SCRAPE] = "UAAFFA",
	[R_SECRET] = "UAAFFF",     /* logs stay private */
};

struct row {
	const char *method, *pattern; /* as in the daemon's table */
	const char *path;             /* what is called */
	const char *body;             /* NULL: none */
	enum rule rule;
	bool stream;                  /* an event stream: answer, then stays open */
};

#define REG "{\"name\":\"alpha\",\"address\":\"127.0.0.1:1\",\"cpu\":1,\"memory\":1000000}"

static const struct row ctl_rows[] = {
	{"GET", "/healthz", "/healthz", NULL, R_PUBLIC, false},
	/* (a login with an unknown token is a 401 of its own: test_web_login.c) */
	{"POST", "/v1/login", "/v1/login", "{\"token\":\"" T_READ "\"}", R_PUBLIC, false},
	{"POST", "/v1/logout", "/v1/logout", "{}", R_PUBLIC, false},
	{"GET", "/", "/", NULL, R_PUBLIC, false},
	{"GET", "/assets/:file", "/assets/app.js", NULL, R_PUBLIC, false},
	{"GET", "/v1/status", "/v1/status", NULL, R_READ, false},
	{"GET", "/v1/services/:name", "/v1/services/web", NULL, R_READ, false},
	{"GET", "/v1/services/:name/endpoints", "/v1/services/web/endpoints", NULL, R_READ,
	    false},
	{"GET", "/v1/instances", "/v1/instances", NULL, R_READ, false},
	{"GET", "/v1/instances/:id/logs", "/v1/instances/web-x/logs", NULL, R_SECRET, false},
	{"GET", "/v1/nodes", "/v1/nodes", NULL, R_READ, false},
	{"GET", "/v1/nodes/:name", "/v1/nodes/alpha", NULL, R_READ, false},
	{"GET", "/v1/revisions", "/v1/revisions", NULL, R_READ, false},
	{"GET", "/v1/events", "/v1/events", NULL, R_READ, false},
	{"GET", "/v1/events/stream", "/v1/events/stream", NULL, R_READ, true},
	{"GET", "/metrics", "/metrics", NULL, R_READ, false},
	{"POST", "/v1/apply", "/v1/apply", "{\"ref\":\"nope\"}", R_ADMIN, false},
	{"POST", "/v1/rollback", "/v1/rollback", "{}", R_ADMIN, false},
	{"POST", "/v1/services/:name/scale", "/v1/services/web/scale", "{\"replicas\":1}",
	    R_ADMIN, false},
	{"POST", "/v1/services/:name/pause", "/v1/services/web/pause", "{}", R_ADMIN, false},
	{"POST", "/v1/services/:name/resume", "/v1/services/web/resume", "{}", R_ADMIN, false},
	{"POST", "/v1/services/:name/promote", "/v1/services/web/promote", "{}", R_ADMIN,
	    false},
	{"POST", "/v1/services/:name/abort", "/v1/services/web/abort", "{}", R_ADMIN, false},
	{"POST", "/v1/nodes/:name/drain", "/v1/nodes/nobody/drain", "{}", R_ADMIN, false},
	{"DELETE", "/v1/nodes/:name", "/v1/nodes/nobody", NULL, R_ADMIN, false},
	{"POST", "/v1/services/:name/restart", "/v1/services/web/restart", "{}", R_ADMIN,
	    false},
	{"POST", "/v1/instances/:id/restart", "/v1/instances/web-x/restart", "{}", R_ADMIN,
	    false},
	{"POST", "/v1/nodes/register", "/v1/nodes/register", REG, R_NODE, false},
	{"POST", "/v1/nodes/:name/heartbeat", "/v1/nodes/alpha/heartbeat", REG, R_NODE, false},
	{"POST", "/v1/nodes/:name/events", "/v1/nodes/alpha/events", "{\"events\":[]}",
	    R_NODE, false},
};

static const struct row slave_rows[] = {
	{"GET", "/healthz", "/healthz", NULL, R_PUBLIC, false},
	{"GET", "/metrics", "/metrics", NULL, R_SCRAPE, false},
	{"POST", "/v1/instances", "/v1/instances", "{}", R_CONTROLLER, false},
	{"GET", "/v1/instances", "/v1/instances", NULL, R_CONTROLLER, false},
	{"GET", "/v1/instances/:id", "/v1/instances/web-x", NULL, R_CONTROLLER, false},
	{"DELETE", "/v1/instances/:id", "/v1/instances/web-x", NULL, R_CONTROLLER, false},
	{"GET", "/v1/instances/:id/logs", "/v1/instances/web-x/logs", NULL, R_CONTROLLER,
	    false},
};

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static char *dir;

/* Status of one request (0: no answer). A stream's status is known once
 * its headers are in; the short timeout then ends it. */
static long
status_of(const char *base, const struct row *r, const char *token)
{
	struct curl_slist *h = NULL;
	struct http_buf b = {0};
	char url[512], auth[256];
	long st = 0;
	CURL *e;

	snprintf(url, sizeof(url), "%s%s", base, r->path);
	if ((e = curl_easy_init()) == NULL)
		return 0;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->stream ? 2000L : 20000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (r->body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
	/* 401 and 403 are JSON {"error", "detail"}. */
	if ((st == 401 || st == 403) && (b.p == NULL || strstr(b.p, "\"error\"") == NULL ||
	    strstr(b.p, "\"detail\"") == NULL))
		check_fail(__FILE__, __LINE__, "%s %s: %ld without {error, detail}: %s",
		    r->method, r->path, st, b.p ? b.p : "");
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	free(b.p);
	return st;
}

/* Every route of the daemon's table has exactly one row, and every row
 * is a route of the table. */
static void
check_covers(const char *what, const struct row *rows, size_t nrows,
    const struct httpd_route *routes, size_t nroutes)
{
	for (size_t i = 0; i < nroutes; i++) {
		int n = 0;

		for (size_t k = 0; k < nrows; k++)
			n += strcmp(rows[k].method, routes[i].method) == 0 &&
			    strcmp(rows[k].pattern, routes[i].pattern) == 0;
		if (n != 1)
			check_fail(__FILE__, __LINE__, "%s route %s %s: %d rows in the test's"
			    " table, want 1", what, routes[i].method, routes[i].pattern, n);
	}
	for (size_t k = 0; k < nrows; k++) {
		bool found = false;

		for (size_t i = 0; i < nroutes; i++)
			found |= strcmp(rows[k].method, routes[i].method) == 0 &&
			    strcmp(rows[k].pattern, routes[i].pattern) == 0;
		if (!found)
			check_fail(__FILE__, __LINE__, "%s: the test's row %s %s is no route",
			    what, rows[k].method, rows[k].pattern);
	}
	CHECK_EQ_INT(nrows, nroutes);
}

/* Call every row as every principal; the number of calls checked. */
static int
check_table(const char *base, const struct row *rows, size_t nrows,
    const char *const *want)
{
	int n = 0;

	for (size_t k = 0; k < nrows; k++)
		for (int w = 0; w < W_N; w++) {
			long st = status_of(base, &rows[k], who_token[w]);
			char e = want[rows[k].rule][w];
			bool ok = e == 'U' ? st == 401 : e == 'F' ? st == 403 :
			    st != 0 && st != 401 && st != 403;

			if (!ok)
				check_fail(__FILE__, __LINE__, "%s %s%s as %s: %ld, want %s",
				    rows[k].method, base, rows[k].path, who_name[w], st,
				    e == 'U' ? "401" : e == 'F' ? "403" : "allowed");
			n++;
		}
	return n;
}

/* A credentials file in dir (0600 unless mode says). */
static const char *
creds_file(const char *name, const char *text, mode_t mode)
{
	static char path[8][600];
	static int next;
	char *p = path[next++ % 8];

	snprintf(p, 600, "%s/%s", dir, name);
	if (write_secret(p, text) < 0 || chmod(p, mode) < 0)
		return NULL;
	return p;
}

static const char ctl_creds_text[] =
	"# the controller's credentials (issue 12)\n"
	"admin " T_ADMIN "\n"
	"read   " T_READ "\n"
	"\n"
	"node:alpha " T_ALPHA "\n"
	"node:beta\t" T_BETA "\n"
	"controller " T_CTL "\n";

static const char slave_creds_text[] =
	"node:alpha " T_ALPHA "\n"
	"controller " T_CTL "\n"
	"read " T_READ "\n"
	"admin " T_ADMIN "\n"
	"node:beta " T_BETA "\n";

static void
setup(void)
{
	if (dir == NULL)
		REQUIRE(daemon_tmpdir(&dir, "auth-roles") == 0);
}

/* A controller (no slaves: alpha and beta are names only) on a roles
 * file; extra: NULL or "--public-read". */
static struct cluster *
start_ctl(const char *extra)
{
	static const char *args[2][4];
	static int n;
	const char **a = args[n++ % 2];
	struct cluster *cl = NULL;
	const char *f = creds_file("controller.creds", ctl_creds_text, 0600);

	if (f == NULL)
		return NULL;
	/* The later --token-file wins over the fixture's bare one. */
	a[0] = "--token-file";
	a[1] = f;
	a[2] = extra;
	a[3] = NULL;
	if (cluster_start(&cl, 0, a) < 0) {
		printf("# %s\n", orch_err_last());
		cluster_free(cl);
		return NULL;
	}
	return cl;
}

TEST(auth__controller_every_route)
{
	struct cluster *cl;

	check_covers("controller", ctl_rows, NROWS(ctl_rows), ctl_api_routes, ctl_api_nroutes);
	setup();
	REQUIRE((cl = start_ctl(NULL)) != NULL);
	CHECK_EQ_INT(check_table(cl->url, ctl_rows, NROWS(ctl_rows), expect),
	    (int)NROWS(ctl_rows) * W_N);
	/* A wrong token is 401 even where no token is needed to read. */
	{
		struct http_result r;
		char url[300];

		snprintf(url, sizeof(url), "%s/v1/status", cl->url);
		REQUIRE(http_request(&r, "GET", url, "not-a-token", NULL, 0, 5000) == 0);
		CHECK_EQ_INT(r.status, 401);
		http_result_free(&r);
	}
	cluster_free(cl);
}

TEST(auth__controller_public_read)
{
	struct cluster *cl;

	setup();
	REQUIRE((cl = start_ctl("--public-read")) != NULL);
	CHECK_EQ_INT(check_table(cl->url, ctl_rows, NROWS(ctl_rows), expect_public_read),
	    (int)NROWS(ctl_rows) * W_N);
	cluster_free(cl);
}

/* A standalone slave named alpha on its roles file; its URL into url. */
static struct daemon *
start_slave(char *url, size_t len, const char *creds)
{
	char *bin = daemon_binary("slave/orch-slave");
	char listen[64], data[600], log[600], health[300];
	struct daemon *d = NULL;
	int port = 0;

	if (daemon_free_port(&port) < 0)
		return NULL;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(data, sizeof(data), "%s/slave-data", dir);
	snprintf(log, sizeof(log), "%s/slave.log", dir);
	{
		const char *argv[] = {bin, "--name", "alpha", "--listen", listen, "--data-dir",
		    data, "--token-file", creds, "--no-cgroup", NULL};

		if (daemon_start(&d, argv, dir, log) < 0)
			d = NULL;
	}
	free(bin);
	snprintf(url, len, "http://127.0.0.1:%d", port);
	snprintf(health, sizeof(health), "%s/healthz", url);
	if (d != NULL && !WAIT_FOR(({
		struct http_result r;
		bool ok = http_request(&r, "GET", health, NULL, NULL, 0, 2000) == 0 &&
		    r.status == 200;
		http_result_free(&r);
		ok; }) || !daemon_running(d), CL_WAIT)) {
		daemon_free(d);
		return NULL;
	}
	return d;
}

TEST(auth__slave_every_route)
{
	struct daemon *d;
	const char *f;
	char url[128];

	check_covers("slave", slave_rows, NROWS(slave_rows), api_routes, api_nroutes);
	setup();
	REQUIRE((f = creds_file("slave.creds", slave_creds_text, 0600)) != NULL);
	REQUIRE((d = start_slave(url, sizeof(url), f)) != NULL);
	REQUIRE(daemon_running(d));
	CHECK_EQ_INT(check_table(url, slave_rows, NROWS(slave_rows), expect),
	    (int)NROWS(slave_rows) * W_N);
	/* Tokens are never in a command line (they come from files). */
	{
		char path[64], *cmd;
		size_t n = 0;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)d->pid);
		REQUIRE((cmd = read_file(path)) != NULL);
		n = strlen(cmd);
		CHECK(n > 0);
		CHECK(strstr(cmd, "tok-") == NULL);
		free(cmd);
	}
	CHECK_EQ_INT(daemon_stop(d, SIGTERM, CL_WAIT), 0);
	/* ... nor in its log, after every refusal above. */
	{
		char *log = daemon_log(d);

		CHECK(strstr(log, "tok-") == NULL);
		free(log);
	}
	daemon_free(d);
}

TEST(auth__token_not_in_cmdline_or_log)
{
	struct cluster *cl;
	char path[64], *text;

	setup();
	REQUIRE((cl = start_ctl(NULL)) != NULL);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)cl->ctl->pid);
	REQUIRE((text = read_file(path)) != NULL);
	CHECK(strstr(text, "orch-controller") != NULL);
	/* cmdline is NUL-separated: look at every argument. */
	{
		char *buf = NULL;
		size_t n = 0;
		FILE *f = fopen(path, "r");
		bool clean = true;

		REQUIRE(f != NULL);
		while (getdelim(&buf, &n, '\0', f) > 0)
			clean &= strstr(buf, "tok-") == NULL;
		fclose(f);
		free(buf);
		CHECK(clean);
	}
	free(text);
	/* Refused and accepted calls alike: no token reaches the log. */
	CHECK_EQ_INT(check_table(cl->url, ctl_rows, 6, expect), 6 * W_N);
	CHECK(!daemon_log_contains(cl->ctl, "tok-"));
	cluster_free(cl);
}

TEST(auth__world_readable_file_refused)
{
	const char *f;
	char *cbin = daemon_binary("controller/orch-controller");
	char *sbin = daemon_binary("slave/orch-slave");
	char data[600];
	struct run_result r;

	setup();
	REQUIRE((f = creds_file("open.creds", ctl_creds_text, 0644)) != NULL);
	snprintf(data, sizeof(data), "%s/refused-data", dir);
	{
		const char *argv[] = {cbin, "--repo", dir, "--data-dir", data, "--listen",
		    "127.0.0.1:0", "--token-file", f, NULL};

		REQUIRE(run_capture(&r, argv, dir, NULL, 20000) == 0);
		CHECK(r.status != 0);
		CHECK_CONTAINS(r.err, "accessible by group or others");
		CHECK_CONTAINS(r.err, "chmod 600");
		CHECK(strstr(r.err, "tok-") == NULL);
		run_result_free(&r);
	}
	REQUIRE((f = creds_file("open-slave.creds", slave_creds_text, 0640)) != NULL);
	{
		const char *argv[] = {sbin, "--name", "alpha", "--listen", "127.0.0.1:0",
		    "--data-dir", data, "--token-file", f, "--no-cgroup", NULL};

		REQUIRE(run_capture(&r, argv, dir, NULL, 20000) == 0);
		CHECK(r.status != 0);
		CHECK_CONTAINS(r.err, "chmod 600");
		run_result_free(&r);
	}
	/* A bare token file too (the old format keeps working, at 0600). */
	REQUIRE((f = creds_file("bare.creds", "just-a-token\n", 0604)) != NULL);
	{
		const char *argv[] = {cbin, "--repo", dir, "--data-dir", data, "--listen",
		    "127.0.0.1:0", "--token-file", f, NULL};

		REQUIRE(run_capture(&r, argv, dir, NULL, 20000) == 0);
		CHECK(r.status != 0);
		CHECK_CONTAINS(r.err, "chmod 600");
		run_result_free(&r);
	}
	free(cbin);
	free(sbin);
}

static json_t *
call(struct cluster *cl, long *st, const char *method, const char *path, const char *token,
    const char *body)
{
	char url[512];
	json_t *j = NULL;

	snprintf(url, sizeof(url), "%s%s", cl->url, path);
	*st = 0;
	http_json(&j, st, method, url, token, body);
	return j;
}

/* Whether /v1/events holds an event about node alpha whose cause has
 * needle and whose actor is actor. */
static bool
event_by(struct cluster *cl, const char *needle, const char *actor)
{
	long st;
	json_t *j = call(cl, &st, "GET", "/v1/events", T_READ, NULL);
	json_t *evs = json_object_get(j, "events"), *ev;
	size_t k;
	bool found = false;

	json_array_foreach(evs, k, ev) {
		const char *cause = json_string_value(json_object_get(ev, "cause"));
		const char *a = json_string_value(json_object_get(ev, "actor"));

		if (cause && strstr(cause, needle) && a && strcmp(a, actor) == 0)
			found = true;
	}
	json_decref(j);
	return found;
}

TEST(auth__node_token_is_scoped_to_its_node)
{
	struct cluster *cl;
	json_t *j;
	long st;

	setup();
	REQUIRE((cl = start_ctl(NULL)) != NULL);
	/* beta cannot register or heartbeat as alpha, alpha can. */
	j = call(cl, &st, "POST", "/v1/nodes/register", T_BETA, REG);
	CHECK_EQ_INT(st, 403);
	CHECK_CONTAINS(json_string_value(json_object_get(j, "detail")), "only itself");
	json_decref(j);
	j = call(cl, &st, "GET", "/v1/nodes/alpha", T_READ, NULL);
	CHECK_EQ_INT(st, 404); /* nothing was registered */
	json_decref(j);
	j = call(cl, &st, "POST", "/v1/nodes/register", T_ALPHA, REG);
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	j = call(cl, &st, "POST", "/v1/nodes/alpha/heartbeat", T_BETA, REG);
	CHECK_EQ_INT(st, 403);
	json_decref(j);
	j = call(cl, &st, "POST", "/v1/nodes/alpha/heartbeat", T_ALPHA, REG);
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	/* A node token writes nothing else, and reads nothing. */
	j = call(cl, &st, "POST", "/v1/apply", T_ALPHA, "{}");
	CHECK_EQ_INT(st, 403);
	CHECK_STR(json_string_value(json_object_get(j, "error")), "forbidden");
	json_decref(j);
	j = call(cl, &st, "POST", "/v1/nodes/alpha/drain", T_ALPHA, "{}");
	CHECK_EQ_INT(st, 403);
	json_decref(j);
	j = call(cl, &st, "GET", "/v1/status", T_ALPHA, NULL);
	CHECK_EQ_INT(st, 403);
	json_decref(j);
	/* A read token reads but writes nothing. */
	j = call(cl, &st, "POST", "/v1/apply", T_READ, "{}");
	CHECK_EQ_INT(st, 403);
	json_decref(j);
	/* Events say who: the node registered itself; admin drained it. */
	CHECK(WAIT_FOR(event_by(cl, "registered", "node:alpha"), CL_WAIT));
	j = call(cl, &st, "POST", "/v1/nodes/alpha/drain", T_ADMIN, "{}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	CHECK(WAIT_FOR(event_by(cl, "drain", "admin"), CL_WAIT));
	cluster_free(cl);
}

CHECK_MAIN(auth__controller_every_route, auth__controller_public_read,
    auth__slave_every_route, auth__token_not_in_cmdline_or_log,
    auth__world_readable_file_refused, auth__node_token_is_scoped_to_its_node)
