/*
 * test_web_page.c - the status page in a real browser: a controller, a
 * slave and a git repo on loopback (cluster.h), a two-service manifest
 * (web depends on db), and headless Chromium driven over the Chrome
 * DevTools Protocol by the small WebSocket client below.
 *
 * The page keeps an EventSource open, so Chromium's --dump-dom with a
 * virtual time budget never settles (an open stream is a pending fetch);
 * the test reads the rendered DOM over CDP instead (Runtime.evaluate of
 * document.documentElement.outerHTML and of DOM queries, after the page's
 * own marker data-loaded says its fetches ran) and takes the screenshots
 * with Page.captureScreenshot. window.__loadId, set once at page load,
 * must be the same before and after each change: the page followed the
 * cluster without a reload.
 *
 * Chromium is Debian's `chromium` (scripts/deps test), or $CHROMIUM.
 * Screenshots and the DOM go to $ORCH_TEST_OUT/web/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "cdp.h"
#include "err.h"

#define CDP_TIMEOUT 15000
#define PAGE_WAIT 20000

static struct cluster *cl;
static char sha1[41], sha2[41];
static char load_id[128];

/* The browser: tests/support/cdp.h. */
#define cdp_call cdp_call_method
#define js cdp_js
#define js_str cdp_js_str
#define js_true cdp_js_true
#define js_int cdp_js_int

static int
b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* The page as PNG (width x height CSS px) into $ORCH_TEST_OUT/web/name;
 * the number of bytes written, or -1. */
static long
screenshot(const char *name, int width, int height, bool mobile)
{
	const char *outdir = getenv("ORCH_TEST_OUT");
	char dir[512], path[640];
	json_t *r;
	const char *b64;
	unsigned char *png;
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0;
	long written = -1;
	FILE *f;

	json_decref(cdp_call("Emulation.setDeviceMetricsOverride", json_pack(
	    "{s:i, s:i, s:i, s:b}", "width", width, "height", height,
	    "deviceScaleFactor", 1, "mobile", mobile)));
	/* Let the layout settle at the new size before the capture. */
	json_decref(js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"));
	r = cdp_call("Page.captureScreenshot", json_pack("{s:s}", "format", "png"));
	json_decref(cdp_call("Emulation.clearDeviceMetricsOverride", NULL));
	if ((b64 = json_string_value(json_object_get(r, "data"))) == NULL ||
	    (png = malloc(strlen(b64))) == NULL) {
		json_decref(r);
		return -1;
	}
	for (const char *p = b64; *p && *p != '='; p++) {
		int v = b64val(*p);

		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			png[n++] = (unsigned char)(acc >> bits);
		}
	}
	json_decref(r);
	snprintf(dir, sizeof(dir), "%s/web", outdir ? outdir : "/tmp");
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0 &&
	    (f = fopen(path, "wb")) != NULL) {
		if (fwrite(png, 1, n, f) == n)
			written = (long)n;
		fclose(f);
		printf("# screenshot %s (%ld bytes)\n", path, written);
	}
	free(png);
	return written;
}

/* ---- the cluster ---- */

/* web_strategy: a YAML flow mapping for web's strategy, or NULL. */
static const char *
manifest(const char *web_version, const char *web_strategy)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	    "architecture: shop\n"
	    "version: \"1.0.0\"\n"
	    "services:\n"
	    "  db:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"1.0.0\"]\n"
	    "    ports: [http]\n"
	    "    resources: {cpu: 250m, memory: 256M}\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 150ms}\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"%s\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    resources: {cpu: 125m, memory: 64M}\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 150ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    depends_on: {db: \">=1.0.0 <2.0.0\"}\n"
	    "%s%s%s",
	    cluster_app("httpapp"), web_version, cluster_app("httpapp"), web_version,
	    web_strategy ? "    strategy: " : "", web_strategy ? web_strategy : "",
	    web_strategy ? "\n" : "");
	return buf;
}

/* Every service is Run and every web instance runs version. */
static bool
settled(const char *web_version)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *a = json_object_get(j, "instances");
	int web = 0;
	bool ok = cluster_service_is(cl, "db", "Run") && cluster_service_is(cl, "web", "Run");

	for (size_t k = 0; k < json_array_size(a); k++) {
		json_t *i = json_array_get(a, k);
		const char *svc = json_string_value(json_object_get(i, "service"));
		const char *v = json_string_value(json_object_get(i, "version"));

		if (svc == NULL || strcmp(svc, "web") != 0)
			continue;
		web++;
		if (v == NULL || strcmp(v, web_version) != 0 ||
		    !json_is_true(json_object_get(i, "desired")))
			ok = false;
	}
	json_decref(j);
	return ok && web == 2;
}

/* The page shows every id of the comma-joined list as an instance row. */
static bool
page_shows_ids(const char *ids)
{
	char expr[1024], copy[512];

	snprintf(copy, sizeof(copy), "%s", ids);
	for (char *id = strtok(copy, ", "); id; id = strtok(NULL, ", ")) {
		snprintf(expr, sizeof(expr), "!!document.querySelector('tr[data-instance=\"%s\"]')", id);
		if (!js_true(expr))
			return false;
	}
	return copy[0] != '\0';
}

/* Bytes as the page writes them (and orchctl): a whole unit exactly when
 * that is short ("384M", "8G"), else one decimal of the largest unit
 * ("23.5G"). */
static void
size_text(char *buf, size_t len, double bytes)
{
	static const char units[] = "KMGT";
	long long b = (long long)bytes;
	double v = bytes;
	int u = -1;

	snprintf(buf, len, "%lld", b);
	for (int k = 3; k >= 0; k--) {
		long long m = 1LL << (10 * (k + 1));

		if (b >= m && b % m == 0) {
			snprintf(buf, len, "%lld%c", b / m, units[k]);
			break;
		}
	}
	if (strlen(buf) <= 5)
		return;
	while (u < 3 && v >= 1024) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%c", v, units[u]);
}

/*
 * What node 0's block must say of resource res ("cpu", "memory") when its
 * instances hold used of total: "cpu 0.5 / 2 (25%)" - the figures, and
 * the share in words so that it reads without the bar's colour. total is
 * what the slave declares: the fixture gives no --cpu/--memory, so it is
 * what the slave detected, taken from /v1/nodes.
 */
static const char *
usage_text(const char *res, double used, double total)
{
	static char buf[128];
	char u[32], t[32], pct[48];
	double p = 100 * used / total;

	if (strcmp(res, "cpu") == 0) {
		snprintf(u, sizeof(u), "%g", used);
		snprintf(t, sizeof(t), "%g", total);
	} else {
		size_text(u, sizeof(u), used);
		size_text(t, sizeof(t), total);
	}
	if (used > 0 && p < 1)
		snprintf(pct, sizeof(pct), "<1%%");
	else
		snprintf(pct, sizeof(pct), "%d%%%s", (int)floor(p + 0.5),
		    used > total ? " over capacity" : "");
	snprintf(buf, sizeof(buf), "%s %s / %s (%s)", res, u, t, pct);
	return buf;
}

/* Node 0 as /v1/nodes reports it: 0 and its numbers, or -1. */
static int
api_capacity(double *used_cpu, double *cpu, double *used_mem, double *mem)
{
	json_t *j = cluster_get(cl, "/v1/nodes"), *n;
	size_t k;
	int rc = -1;

	json_array_foreach(json_object_get(j, "nodes"), k, n) {
		const char *name = json_string_value(json_object_get(n, "name"));

		if (name == NULL || strcmp(name, cl->slaves[0].name) != 0)
			continue;
		*used_cpu = json_number_value(json_object_get(n, "used_cpu"));
		*cpu = json_number_value(json_object_get(n, "cpu"));
		*used_mem = json_number_value(json_object_get(n, "used_memory"));
		*mem = json_number_value(json_object_get(n, "memory"));
		rc = 0;
	}
	json_decref(j);
	return rc;
}

/* The text of node 0's usage block for res on the page (static buffer). */
static const char *
page_usage(const char *res)
{
	char expr[512];

	snprintf(expr, sizeof(expr), "document.querySelector('.node[data-node=\"%s\"]"
	    " .usage[data-res=\"%s\"]')?.textContent || ''", cl->slaves[0].name, res);
	return js_str(expr);
}

/*
 * The API says node 0's instances hold exactly cpu cores and mem bytes
 * (the manifest's resources: db 250m/256M, each web 125m/64M), and the
 * page shows those figures over the node's capacity, with the share in
 * words and a bar as wide as the share.
 */
static bool
page_shows_usage(double cpu, double mem)
{
	double used_cpu = 0, cap_cpu = 0, used_mem = 0, cap_mem = 0;
	char want[128], expr[512];

	if (api_capacity(&used_cpu, &cap_cpu, &used_mem, &cap_mem) < 0 ||
	    fabs(used_cpu - cpu) > 1e-9 || used_mem != mem || cap_cpu <= 0 || cap_mem <= 0)
		return false;
	snprintf(want, sizeof(want), "%s", usage_text("cpu", cpu, cap_cpu));
	if (strcmp(page_usage("cpu"), want) != 0)
		return false;
	snprintf(want, sizeof(want), "%s", usage_text("memory", mem, cap_mem));
	if (strcmp(page_usage("memory"), want) != 0)
		return false;
	snprintf(expr, sizeof(expr), "Math.abs(parseFloat(document.querySelector("
	    "'.node[data-node=\"%s\"] .usage[data-res=\"cpu\"] .bar > span').style.width)"
	    " - %.9f) < 1e-6", cl->slaves[0].name, 100 * fmin(cpu, cap_cpu) / cap_cpu);
	return js_true(expr);
}

static bool
page_loaded(void)
{
	return js_int("Number(document.body.dataset.loaded || 0)") >= 1;
}

/* ---- tests ---- */

TEST(web__assets_served)
{
	struct http_result r;
	char url[256];

	/* The page without a login (test_web_login.c logs in). */
	static const char *const public_read[] = {"--public-read", NULL};

	REQUIRE(cluster_start(&cl, 1, public_read) == 0);
	snprintf(url, sizeof(url), "%s/", cl->url);
	REQUIRE(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "/assets/app.js");
	CHECK_CONTAINS(r.body, "/assets/style.css");
	http_result_free(&r);
	snprintf(url, sizeof(url), "%s/assets/app.js", cl->url);
	REQUIRE(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_CONTAINS(r.body, "new EventSource('/v1/events/stream");
	http_result_free(&r);
	snprintf(url, sizeof(url), "%s/assets/style.css", cl->url);
	REQUIRE(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK_CONTAINS(r.body, ".st-Failed");
	http_result_free(&r);
	snprintf(url, sizeof(url), "%s/assets/nope.js", cl->url);
	REQUIRE(http_request(&r, "GET", url, NULL, NULL, 0, 5000) == 0);
	CHECK_EQ_INT(r.status, 404);
	http_result_free(&r);
	/* The page is read-only: no write verb on it. */
	snprintf(url, sizeof(url), "%s/", cl->url);
	REQUIRE(http_request(&r, "POST", url, NULL, "x", 1, 5000) == 0);
	CHECK(r.status == 401 || r.status == 405);
	http_result_free(&r);
}

TEST(web__page_renders_cluster)
{
	char url[256], sel[256];
	char *dom;
	const char *s;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, manifest("2.0.0", NULL), sha1) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	REQUIRE(WAIT_FOR(settled("2.0.0"), CL_WAIT));

	snprintf(url, sizeof(url), "%s/", cl->url);
	REQUIRE(cdp_start(url, PAGE_WAIT) == 0);

	/* The page ran its scripts and its fetches, and the stream is open. */
	REQUIRE(WAIT_FOR(page_loaded(), PAGE_WAIT));
	CHECK(WAIT_FOR(strcmp(js_str("document.getElementById('conn').textContent"),
	    "events: live") == 0, PAGE_WAIT));
	snprintf(load_id, sizeof(load_id), "%s", js_str("String(window.__loadId)"));
	CHECK(load_id[0] != '\0');

	/* The rendered DOM (not the served HTML): kept for a person to read. */
	dom = strdup(js_str("document.documentElement.outerHTML"));
	{
		char path[640];
		const char *o = getenv("ORCH_TEST_OUT");

		snprintf(path, sizeof(path), "%s/web", o ? o : "/tmp");
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/web/dom.html", o ? o : "/tmp");
		write_file(path, dom);
	}
	CHECK_CONTAINS(dom, "data-service=\"db\"");
	CHECK_CONTAINS(dom, "data-service=\"web\"");
	{
		char sha7[8];

		snprintf(sha7, sizeof(sha7), "%.7s", sha1);
		CHECK_CONTAINS(dom, sha7);
		CHECK_STR(js_str("document.querySelector('#revision .sha').textContent"), sha7);
	}
	free(dom);
	CHECK_STR(js_str("document.getElementById('arch').textContent"), "shop");
	CHECK_STR(js_str("document.getElementById('arch-version').textContent"), "v1.0.0");
	CHECK_CONTAINS(js_str("document.getElementById('revision').textContent"), "Orch Test");
	CHECK(WAIT_FOR(strstr(js_str("document.getElementById('apply').textContent"),
	    "succeeded") != NULL, PAGE_WAIT));
	CHECK_STR(js_str("document.getElementById('health').textContent"), "controller: up");

	/* Each service card: name, state word, version, ready/desired. */
	s = js_str("[...document.querySelectorAll('#services .card')].map(c =>"
	    " c.dataset.service + ' ' + c.querySelector('.state').textContent + ' ' +"
	    " c.querySelector('.version').textContent + ' ' +"
	    " c.querySelector('.ready').textContent).join('\\n')");
	CHECK_CONTAINS(s, "db Run 1.0.0 1/1");
	CHECK_CONTAINS(s, "web Run 2.0.0 2/2");

	/* The graph: one node per service with its state word, one edge
	 * web -> db, db in the first column. */
	CHECK_EQ_INT(js_int("document.querySelectorAll('#depgraph g.gnode').length"), 2);
	s = js_str("[...document.querySelectorAll('#depgraph g.gnode')].map(g =>"
	    " g.dataset.service + ' ' + g.querySelector('.gstate').textContent).join(',')");
	CHECK_CONTAINS(s, "db Run");
	CHECK_CONTAINS(s, "web Run");
	CHECK_EQ_INT(js_int("document.querySelectorAll('#depgraph path.gedge').length"), 1);
	CHECK(js_true("!!document.querySelector('#depgraph path.gedge[data-from=\"web\"][data-to=\"db\"]')"));
	CHECK(js_true("(() => { const t = s => document.querySelector("
	    "'#depgraph g.gnode[data-service=\"' + s + '\"]').transform.baseVal[0].matrix.e;"
	    " return t('db') < t('web'); })()"));

	/* Instances under their node, the node with its state. */
	CHECK(page_shows_ids(cluster_ids(cl, "web")));
	CHECK(page_shows_ids(cluster_ids(cl, "db")));
	snprintf(sel, sizeof(sel), "document.querySelector('.node[data-node=\"%s\"]"
	    " .nodehead .state').textContent", cl->slaves[0].name);
	CHECK_STR(js_str(sel), "Ready");
	/* Capacity used vs declared: db 250m + 2 x 125m cpu, 256M + 2 x 64M. */
	CHECK(WAIT_FOR(page_shows_usage(0.5, 384 << 20), PAGE_WAIT));
	{
		char cpu[128];

		snprintf(cpu, sizeof(cpu), "%s", page_usage("cpu"));
		printf("# node 0: %s; %s\n", cpu, page_usage("memory"));
	}
	CHECK(js_true("document.querySelectorAll('.usage .bar[aria-label]').length === 2"));
	/* The page's own meter on the cases this cluster does not reach:
	 * over capacity, under 1 %, no capacity declared. */
	CHECK_STR(js_str("usage('cpu', 2.6, 2, cores).textContent"),
	    "cpu 2.6 / 2 (130% over capacity)");
	CHECK(js_true("usage('cpu', 2.6, 2, cores).classList.contains('over')"));
	CHECK_STR(js_str("usage('memory', 1 << 20, 8 * 2 ** 30, size).textContent"),
	    "memory 1M / 8G (<1%)");
	CHECK_STR(js_str("usage('cpu', 0.25, 0, cores).textContent"),
	    "cpu 0.25 / \u2013 (capacity not declared)");
	CHECK(js_true("!usage('cpu', 0.25, 0, cores).querySelector('.bar')"));
	CHECK(js_true("document.querySelectorAll('#revisions tbody tr[data-commit]').length === 1"));

	CHECK(screenshot("wide.png", 1280, 1100, false) > 1000);
	CHECK(screenshot("phone.png", 390, 1600, true) > 1000);
	/* Phone-sized: nothing wider than the screen but the scrollable tables. */
	json_decref(cdp_call("Emulation.setDeviceMetricsOverride", json_pack(
	    "{s:i, s:i, s:i, s:b}", "width", 390, "height", 844, "deviceScaleFactor", 1,
	    "mobile", 1)));
	CHECK(js_true("new Promise(r => requestAnimationFrame(() => r("
	    "document.documentElement.scrollWidth <= 390)))"));
	json_decref(cdp_call("Emulation.clearDeviceMetricsOverride", NULL));
}

TEST(web__follows_new_revision_without_reload)
{
	char sha7[8], expr[256];

	REQUIRE(cdp_running());
	REQUIRE(cluster_commit(cl, manifest("2.1.0", NULL), sha2) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	snprintf(sha7, sizeof(sha7), "%.7s", sha2);
	snprintf(expr, sizeof(expr),
	    "document.querySelector('#revision .sha').textContent === '%s'", sha7);
	/* The header follows the apply at once; the card follows the rollout. */
	CHECK(WAIT_FOR(js_true(expr), PAGE_WAIT));
	REQUIRE(WAIT_FOR(settled("2.1.0"), CL_WAIT));
	CHECK(WAIT_FOR(strcmp(js_str("document.querySelector("
	    "'#services .card[data-service=\"web\"] .version').textContent"), "2.1.0") == 0,
	    PAGE_WAIT));
	CHECK(WAIT_FOR(page_shows_ids(cluster_ids(cl, "web")), PAGE_WAIT));
	CHECK(js_true("document.querySelectorAll('#revisions tbody tr[data-commit]').length === 2"));
	/* The history says what the new revision changed, version to version. */
	CHECK(WAIT_FOR(js_true("document.querySelector('#revisions').textContent"
	    ".includes('web: changed 2.0.0 \u2192 2.1.0')"), PAGE_WAIT));
	CHECK(js_true("document.querySelectorAll('#events li[data-seq]').length > 0"));
	CHECK_STR(js_str("String(window.__loadId)"), load_id);
	CHECK(screenshot("after-update.png", 1280, 1100, false) > 1000);
}

TEST(web__reconnects_after_controller_restart)
{
	json_t *inst;
	char before[512], id[160], expr[256];
	int pid;

	REQUIRE(cdp_running());
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	CHECK(WAIT_FOR(strstr(js_str("document.getElementById('conn').textContent"),
	    "reconnecting") != NULL, PAGE_WAIT));
	CHECK(WAIT_FOR(strcmp(js_str("document.getElementById('health').textContent"),
	    "controller: unreachable") == 0, PAGE_WAIT));
	CHECK(screenshot("reconnecting.png", 1280, 900, false) > 1000);
	REQUIRE(cluster_ctl_start(cl) == 0);
	CHECK(WAIT_FOR(strcmp(js_str("document.getElementById('conn').textContent"),
	    "events: live") == 0, PAGE_WAIT));

	/* A cattle instance killed with -9 is replaced; the page shows the
	 * new instance, still without a reload. */
	snprintf(before, sizeof(before), "%s", cluster_ids(cl, "web"));
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(before, ","), before);
	REQUIRE((inst = cluster_instance(cl, id)) != NULL);
	pid = (int)json_integer_value(json_object_get(inst, "pid"));
	json_decref(inst);
	REQUIRE(pid > 0);
	CHECK_EQ_INT(kill(pid, SIGKILL), 0);
	CHECK(WAIT_FOR(strcmp(cluster_ids(cl, "web"), before) != 0 &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	CHECK(WAIT_FOR(page_shows_ids(cluster_ids(cl, "web")), PAGE_WAIT));
	snprintf(expr, sizeof(expr), "!!document.querySelector('tr[data-instance=\"%s\"]')", id);
	CHECK(WAIT_FOR(!js_true(expr), PAGE_WAIT));
	CHECK_STR(js_str("String(window.__loadId)"), load_id);
	CHECK_STR(js_str("document.getElementById('health').textContent"), "controller: up");
}

/* A blue-green rollout that waits for `orchctl promote`: the card shows
 * Update, the rollout's old and new sets, and the commands to steer it
 * (text, not buttons: the page changes nothing). */
TEST(web__rollout_in_progress)
{
	const char *card = "#services .card[data-service=\"web\"]";
	char expr[256];
	const char *s;

	REQUIRE(cdp_running());
	REQUIRE(cluster_commit(cl, manifest("2.2.0",
	    "{type: blue-green, auto_promote: false, scale_down_delay: 1s}"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	REQUIRE(WAIT_FOR(cluster_service_is(cl, "web", "Update") &&
	    cluster_count(cl, "web", "Run") >= 4, CL_WAIT));
	snprintf(expr, sizeof(expr), "document.querySelector('%s .state').textContent", card);
	CHECK(WAIT_FOR(strcmp(js_str(expr), "Update") == 0, PAGE_WAIT));
	snprintf(expr, sizeof(expr), "document.querySelector('%s .rollout')?.textContent || ''", card);
	CHECK(WAIT_FOR(strstr(js_str(expr), "new 2.2.0: 2") != NULL, PAGE_WAIT));
	s = js_str(expr);
	CHECK_CONTAINS(s, "old: 2");
	/* The controller's own rollout status: its step and phase. */
	CHECK_CONTAINS(s, "step 2/3");
	CHECK_CONTAINS(s, "waiting for promote");
	/* Both sets hold their resources: db + 4 web, on the page too. */
	CHECK(WAIT_FOR(page_shows_usage(0.75, 512 << 20), PAGE_WAIT));
	snprintf(expr, sizeof(expr), "document.querySelector('%s .rollout .waiting')?.textContent"
	    " || ''", card);
	CHECK_CONTAINS(js_str(expr), "orchctl promote web");
	snprintf(expr, sizeof(expr), "[...document.querySelectorAll('%s .hints code')]"
	    ".map(c => c.textContent).join(',')", card);
	s = js_str(expr);
	CHECK_CONTAINS(s, "orchctl promote web");
	CHECK_CONTAINS(s, "orchctl abort web");
	CHECK(js_true("document.querySelector('#depgraph g.gnode[data-service=\"web\"]')"
	    ".classList.contains('st-Update')"));
	/* Nothing on the page can change the cluster: no form, no button
	 * but the login's and logout (issue 12), hidden here (--public-read). */
	CHECK_EQ_INT(js_int("document.querySelectorAll('form:not(#login-form),"
	    " button:not(#login-submit):not(#logout), input:not(#login-token)').length"), 0);
	CHECK(js_true("document.getElementById('login').hidden &&"
	    " document.getElementById('logout').hidden"));
	CHECK_STR(js_str("String(window.__loadId)"), load_id);
	CHECK(screenshot("rollout.png", 1280, 1100, false) > 1000);

	/* Promoted (as orchctl would, with the token): the page follows to
	 * Run with only the new set, and the rollout block goes away. */
	{
		long st = 0;

		json_decref(cluster_call(cl, &st, "POST", "/v1/services/web/promote", "{}"));
		CHECK_EQ_INT(st, 200);
	}
	CHECK(WAIT_FOR(settled("2.2.0"), CL_WAIT));
	snprintf(expr, sizeof(expr), "document.querySelector('%s .state').textContent", card);
	CHECK(WAIT_FOR(strcmp(js_str(expr), "Run") == 0, PAGE_WAIT));
	CHECK(WAIT_FOR(page_shows_ids(cluster_ids(cl, "web")), PAGE_WAIT));
	snprintf(expr, sizeof(expr), "!document.querySelector('%s .rollout')", card);
	CHECK(WAIT_FOR(js_true(expr), PAGE_WAIT));
	/* The old set's resources are released. */
	CHECK(WAIT_FOR(page_shows_usage(0.5, 384 << 20), PAGE_WAIT));
	CHECK_STR(js_str("String(window.__loadId)"), load_id);
}

/* A scale, then a kill: the node's capacity used follows without a
 * reload, and a killed instance's resources are held by its successor,
 * not twice. */
TEST(web__capacity_follows_scale_and_kill)
{
	char id[160], expr[256];
	json_t *inst, *j;
	long st = 0;
	int pid;

	REQUIRE(cdp_running());
	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": 3}");
	json_decref(j);
	CHECK_EQ_INT(st, 200);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 3, CL_WAIT));
	CHECK(WAIT_FOR(page_shows_usage(0.625, 448 << 20), PAGE_WAIT));
	CHECK(WAIT_FOR(page_shows_ids(cluster_ids(cl, "web")), PAGE_WAIT));
	CHECK(screenshot("capacity.png", 1280, 1100, false) > 1000);
	CHECK(screenshot("capacity-phone.png", 390, 1600, true) > 1000);

	snprintf(id, sizeof(id), "%.*s", (int)strcspn(cluster_ids(cl, "web"), ","),
	    cluster_ids(cl, "web"));
	REQUIRE((inst = cluster_instance(cl, id)) != NULL);
	pid = (int)json_integer_value(json_object_get(inst, "pid"));
	json_decref(inst);
	REQUIRE(pid > 0);
	CHECK_EQ_INT(kill(pid, SIGKILL), 0);
	snprintf(expr, sizeof(expr), "!document.querySelector('tr[data-instance=\"%s\"]')", id);
	CHECK(WAIT_FOR(js_true(expr) && cluster_count(cl, "web", "Run") == 3, CL_WAIT));
	CHECK(WAIT_FOR(page_shows_ids(cluster_ids(cl, "web")), PAGE_WAIT));
	CHECK(WAIT_FOR(page_shows_usage(0.625, 448 << 20), PAGE_WAIT));

	j = cluster_call(cl, &st, "POST", "/v1/services/web/scale", "{\"replicas\": 1}");
	json_decref(j);
	CHECK_EQ_INT(st, 200);
	CHECK(WAIT_FOR(cluster_count(cl, "web", NULL) == 1, CL_WAIT));
	CHECK(WAIT_FOR(page_shows_usage(0.375, 320 << 20), PAGE_WAIT));
	CHECK_STR(js_str("String(window.__loadId)"), load_id);
}

TEST(web__cleanup)
{
	cdp_stop();
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(web__assets_served, web__page_renders_cluster,
    web__follows_new_revision_without_reload, web__reconnects_after_controller_restart,
    web__rollout_in_progress, web__capacity_follows_scale_and_kill, web__cleanup)
