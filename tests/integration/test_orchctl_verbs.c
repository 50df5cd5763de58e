/*
 * test_orchctl_verbs.c - issue 10 #6, #7, #8, #13 and the repair verbs,
 * end to end: the real orchctl against a real orch-controller, two real
 * orch-slaves and a git repository (tests/support/cluster.h).
 *
 *   - `scale web 0` stops every instance; `scale web --reset` returns to
 *     the manifest's count; `scale web 3 -o json` answers "desired": 3;
 *   - pause without a rollout says so plainly; the "Now:" of pause,
 *     resume and promote during a canary is the state after the request;
 *   - `events -f` prints only events newer than its start;
 *   - HEAD on public paths answers like GET, without a body;
 *   - `history` has SEQ and REASON columns;
 *   - `logs --tail N` counts lines, `--bytes N` bytes; `logs SERVICE`
 *     prints every instance's lines prefixed with its id;
 *   - `diff --repo DIR HEAD` shows the plan of an uncommitted change;
 *   - `restart SERVICE` replaces every instance; `restart INSTANCE`
 *     revives a Failed pet in place;
 *   - `drain --undo`, `nodes rm` of a Lost node and its refusal for a
 *     Ready one;
 *   - the controller refuses a --node-suspect under two heartbeats.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "cluster.h"
#include "err.h"
#include "run.h"
#include "store.h"
#include "units.h"

#define TIMEOUT_MS 60000
static char orchctl_bin[4096], controller_bin[4096];
static struct cluster *cl;
static char flag_file[1024];   /* db's command exits 3 until it exists */

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

__attribute__((constructor)) static void
setup_paths(void)
{
	const char *bld = env_or("ORCH_BUILD_DIR", "build");

	snprintf(orchctl_bin, sizeof(orchctl_bin), "%s/orchctl/orchctl", bld);
	snprintf(controller_bin, sizeof(controller_bin), "%s/controller/orch-controller",
	    bld);
}


/* orchctl against the cluster, with its token. */
#define CTL(r, ...) \
	run_orchctl((r), NULL, cl->url, cl->token_file, NULL, __VA_ARGS__, (const char *)NULL)

static const char *
manifest(const char *can_version, int web_replicas)
{
	static char buf[8192];
	const char *bin = cluster_app("httpapp");

	snprintf(buf, sizeof(buf),
	    "architecture: verbs\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: %d\n"
	    "    min: 0\n"
	    "    max: 4\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "  chatty:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"for i in $$(seq 1 100); do echo chat line $$i; done; exec sleep 600\"]\n"
	    "    replicas: 2\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "  db:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"sh\", \"-c\", \"test -e %s || exit 3; exec sleep 600\"]\n"
	    "    restart: {limit: 2, window: 60s, backoff: 50ms, max_backoff: 100ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "  can:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    strategy:\n"
	    "      type: canary\n"
	    "      steps:\n"
	    "        - {weight: 50}\n",
	    bin, web_replicas, flag_file, can_version, bin);
	return buf;
}

/* A field of /v1/services/NAME (the caller decrefs *hold). */
static json_t *
service(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/v1/services/%s", name);
	return cluster_get(cl, path);
}

static const char *
phase(const char *name)
{
	static char buf[64];
	json_t *j = service(name);

	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(
	    json_object_get(j, "rollout"), "phase")) ?: "?");
	json_decref(j);
	return buf;
}

/* The ids and pids of service's desired instances, "id:pid,..." sorted
 * as the API lists them (static buffer). */
static const char *
id_pids(const char *svc)
{
	static char buf[2048];
	json_t *j = cluster_get(cl, "/v1/instances"), *i;
	size_t k, off = 0;

	buf[0] = '\0';
	json_array_foreach(json_object_get(j, "instances"), k, i) {
		const char *s = json_string_value(json_object_get(i, "service"));

		if (s == NULL || strcmp(s, svc) != 0 ||
		    !json_is_true(json_object_get(i, "desired")))
			continue;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s:%lld,",
		    json_string_value(json_object_get(i, "id")),
		    (long long)json_integer_value(json_object_get(i, "pid")));
		if (off >= sizeof(buf))
			break;
	}
	json_decref(j);
	return buf;
}

/* Whether j's JSON text contains needle. */
static bool
json_has(const json_t *j, const char *needle)
{
	char *text = j ? json_dumps(j, 0) : NULL;
	bool yes = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return yes;
}

static bool
instance_is(const char *id, const char *state)
{
	json_t *j = cluster_instance(cl, id);
	const char *st = json_string_value(json_object_get(j, "state"));
	bool eq = st != NULL && strcmp(st, state) == 0;

	json_decref(j);
	return eq;
}

/* ---- setup ------------------------------------------------------------- */

TEST(verbs__setup)
{
	struct stat st;

	/* Never pass vacuously: the binaries are part of this tree. */
	REQUIRE(stat(controller_bin, &st) == 0);
	REQUIRE(stat(orchctl_bin, &st) == 0);
	REQUIRE(cluster_start(&cl, 2, NULL) == 0);
	snprintf(flag_file, sizeof(flag_file), "%s/db-ok", cl->dir);
	REQUIRE(cluster_commit(cl, manifest("1.0.0", 2), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_count(cl, "web", "Run") == 2 &&
	    cluster_count(cl, "chatty", "Run") == 2 &&
	    cluster_count(cl, "can", "Run") == 2, CL_WAIT));
}

/* ---- #6, #7: scale ------------------------------------------------------ */

TEST(verbs__scale_zero_stops_everything_and_reset_returns)
{
	struct run_result r;
	json_t *j;

	REQUIRE(cl != NULL);
	CTL(&r, "scale", "web", "0");
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "web scaled to 0 replicas.\n");
	run_result_free(&r);
	/* Every instance stops (before: 0 meant "the manifest's 2"). */
	CHECK(WAIT_FOR(cluster_count(cl, "web", NULL) == 0, CL_WAIT));
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run"), CL_WAIT));
	j = service("web");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "desired")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "scale")), 0);
	json_decref(j);

	CTL(&r, "scale", "web", "--reset");
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "web back to the manifest's 2 replicas.\n");
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	j = service("web");
	CHECK(json_is_null(json_object_get(j, "scale")));
	json_decref(j);

	/* --reset takes no N; N is not given with --reset. */
	CTL(&r, "scale", "web", "3", "--reset");
	CHECK_EQ_INT(r.status, 2);
	run_result_free(&r);
}

TEST(verbs__scale_json_shows_the_new_desired)
{
	struct run_result r;
	json_t *j;

	REQUIRE(cl != NULL);
	CTL(&r, "scale", "web", "3", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	/* The answer is after the request: 3, not the 2 running before. */
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "desired")), 3);
	json_decref(j);
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 3, CL_WAIT));
	CTL(&r, "scale", "web", "--reset", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "desired")), 2);
	json_decref(j);
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));
}

/* Rewrite service svc's stored record as a controller from before
 * "scale_to" wrote it: "scale": old, where 0 meant the manifest's. */
static bool
put_old_scale(struct store *st, const char *svc, int old)
{
	struct store_batch *b;
	char key[128], *text = NULL, *out;
	json_t *j;
	bool ok;

	snprintf(key, sizeof(key), "services/%s", svc);
	if (store_get(&text, st, key) < 0 || (j = json_loads(text, 0, NULL)) == NULL) {
		free(text);
		return false;
	}
	free(text);
	json_object_del(j, "scale_to");
	json_object_set_new(j, "scale", json_integer(old));
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	b = store_batch_new();
	store_batch_put(b, key, out);
	ok = store_commit(st, b, NULL) == 0;
	store_batch_free(b);
	free(out);
	return ok;
}

TEST(verbs__old_scale_records_keep_their_meaning)
{
	struct run_result r;
	struct store *st = NULL;
	char path[700];
	json_t *j;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_ctl_stop(cl, SIGTERM) == 0);
	snprintf(path, sizeof(path), "%s/state.db", cl->ctl_data);
	REQUIRE(store_open_sqlite(&st, path) == 0);
	CHECK(put_old_scale(st, "web", 0));    /* 0: the manifest's, then */
	CHECK(put_old_scale(st, "chatty", 1)); /* a person's 1 */
	store_close(st);
	REQUIRE(cluster_ctl_start(cl) == 0);
	j = service("web");
	CHECK(json_is_null(json_object_get(j, "scale")));
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "desired")), 2);
	json_decref(j);
	j = service("chatty");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "scale")), 1);
	json_decref(j);
	CHECK(WAIT_FOR(cluster_count(cl, "chatty", NULL) == 1, CL_WAIT));
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	CTL(&r, "scale", "chatty", "--reset");
	CHECK_EQ_INT(r.status, 0);
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_count(cl, "chatty", "Run") == 2, CL_WAIT));
}

/* ---- #7, #8: steering --------------------------------------------------- */

TEST(verbs__pause_without_rollout_says_so)
{
	struct run_result r;

	REQUIRE(cl != NULL);
	CTL(&r, "pause", "web");
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.out, "step 0/0") == NULL);
	CHECK(strstr(r.out, "rollout  ") == NULL);
	CHECK_CONTAINS(r.out, "web: pause done. Now: Run, paused, no rollout.\n");
	CHECK_CONTAINS(r.out, "There is no rollout of web now; the next one takes "
	    "no step until `orchctl resume web`.\n");
	run_result_free(&r);
	CTL(&r, "resume", "web");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "web: resume done. Now: Run, no rollout.\n");
	run_result_free(&r);
}

TEST(verbs__steer_now_lines_show_the_state_after)
{
	struct run_result r;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, manifest("2.0.0", 2), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(strcmp(phase("can"), "waiting for promote") == 0, CL_WAIT));

	/* Before: "Now:" repeated the phase of the last plan. */
	CTL(&r, "pause", "can");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "can: pause done. Now: Update, paused, rollout paused");
	CHECK(strstr(r.out, "waiting for promote") == NULL);
	run_result_free(&r);
	CTL(&r, "resume", "can");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "can: resume done. Now: Update, rollout waiting for promote");
	CHECK(strstr(r.out, "paused") == NULL);
	run_result_free(&r);
	CTL(&r, "promote", "can");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "can: promote requested. Now: ");
	/* The planner took the promote before the answer. */
	CHECK(strstr(r.out, "waiting for promote") == NULL);
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_service_is(cl, "can", "Run") &&
	    cluster_count(cl, "can", "Run") == 2, CL_WAIT));
}

/* ---- #13: events -f ------------------------------------------------------ */

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (f == NULL)
		return strdup("");
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

static pid_t
spawn_ctl(const char *out, const char *err, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	pid_t pid;

	argv[n++] = orchctl_bin;
	argv[n++] = "--controller";
	argv[n++] = cl->url;
	argv[n++] = "--token-file";
	argv[n++] = cl->token_file;
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(o, 1);
		dup2(e, 2);
		unsetenv("ORCH_CONTROLLER");
		unsetenv("ORCH_TOKEN");
		execv(orchctl_bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int
interrupt_ctl(pid_t pid)
{
	int64_t end = orch_mono_ms() + 10000;
	int status;

	kill(pid, SIGINT);
	while (orch_mono_ms() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Scale web between 2 and 3 until the follower printed a scale event
 * (it may not be streaming yet at the first one). */
static bool
scale_seen(const char *out)
{
	for (int k = 0; k < 15; k++) {
		struct run_result r;
		char *o;
		bool seen;

		CTL(&r, "scale", "web", k % 2 ? "2" : "3");
		run_result_free(&r);
		for (int w = 0; w < 20; w++) {
			o = slurp(out);
			seen = strstr(o, "\"cause\":\"scale to ") != NULL;
			free(o);
			if (seen)
				return true;
			usleep(100000);
		}
	}
	return false;
}

TEST(verbs__events_follow_shows_only_new_events)
{
	const char *args[] = {"events", "-f", "-o", "json", NULL};
	char out[1100], err[1100], *o, **lines;
	long long before, seq, prev = 0;
	size_t n = 0;
	pid_t pid;

	REQUIRE(cl != NULL);
	before = cluster_last_seq(cl);
	REQUIRE(before > 10); /* a history to replay, if it were replayed */
	snprintf(out, sizeof(out), "%s/events.out", cl->dir);
	snprintf(err, sizeof(err), "%s/events.err", cl->dir);
	pid = spawn_ctl(out, err, args);
	REQUIRE(pid > 0);
	CHECK(scale_seen(out));
	CHECK_EQ_INT(interrupt_ctl(pid), 0);
	o = slurp(out);
	lines = run_lines(o, &n);
	CHECK(n > 0);
	for (size_t k = 0; k < n; k++) {
		json_t *ev = json_loads(lines[k], 0, NULL);

		seq = json_integer_value(json_object_get(ev, "seq"));
		/* Nothing from before orchctl started, each once, in order. */
		if (ev == NULL || seq <= before || seq <= prev)
			check_fail(__FILE__, __LINE__, "events -f line %zu (seq %lld, "
			    "started after %lld): %s", k, seq, before, lines[k]);
		prev = seq;
		json_decref(ev);
	}
	run_lines_free(lines);
	free(o);
	CHECK(WAIT_FOR(cluster_count(cl, "web", NULL) >= 2, CL_WAIT));
	{
		struct run_result r;

		CTL(&r, "scale", "web", "--reset");
		CHECK_EQ_INT(r.status, 0);
		run_result_free(&r);
	}
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));
}

/* ---- #13: HEAD ----------------------------------------------------------- */

static size_t
count_body(char *p, size_t size, size_t n, void *arg)
{
	*(size_t *)arg += size * n;
	return size * n;
}

/* HEAD url without a token: the status, and body bytes into *body. */
static long
head(const char *path, size_t *body)
{
	char url[512];
	long code = 0;
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs = NULL;

	*body = 0;
	if (e == NULL)
		return 0;
	snprintf(url, sizeof(url), "%s%s", cl->url, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	/* Reads need a credential (issue 12); a read one is enough. */
	if (strcmp(path, "/v1/instances/web-x/logs") != 0)
		hdrs = curl_slist_append(NULL, "Authorization: Bearer " CL_TOKEN);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, count_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	return code;
}

TEST(verbs__head_on_public_paths_answers_like_get)
{
	static const char *const paths[] = {"/v1/status", "/v1/instances", "/v1/nodes",
	    "/v1/revisions", "/v1/services/web", "/metrics", "/"};
	size_t body;

	REQUIRE(cl != NULL);
	for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
		long code = head(paths[k], &body);

		if (code != 200)
			check_fail(__FILE__, __LINE__, "HEAD %s: %ld, not 200", paths[k], code);
		CHECK_EQ_INT(body, 0);
	}
	/* Without a token it is 401; an unknown one is 404. */
	CHECK_EQ_INT(head("/v1/instances/web-x/logs", &body), 401);
	CHECK_EQ_INT(head("/v1/services/nope", &body), 404);
}

/* ---- #13: history -------------------------------------------------------- */

TEST(verbs__history_has_seq_and_reason)
{
	struct run_result r;
	char **lines;
	size_t n = 0;

	REQUIRE(cl != NULL);
	CTL(&r, "history");
	CHECK_EQ_INT(r.status, 0);
	lines = run_lines(r.out, &n);
	REQUIRE(n >= 3); /* a header and the two applies of verbs__setup and
	                    verbs__steer_now_lines_show_the_state_after */
	CHECK(strncmp(lines[0], "SEQ ", 4) == 0);
	CHECK_CONTAINS(lines[0], " RESULT ");
	CHECK_CONTAINS(lines[0], " REASON");
	/* Rows start with the seq that `rollback --to` takes, newest last. */
	CHECK(strncmp(lines[1], "1 ", 2) == 0);
	CHECK(strncmp(lines[2], "2 ", 2) == 0);
	run_lines_free(lines);
	run_result_free(&r);
}

/* ---- #13: logs ----------------------------------------------------------- */

static const char *
first_id(const char *svc)
{
	static char buf[128];
	const char *s = id_pids(svc);

	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(s, ":"), s);
	return buf;
}

/* The instance printed its 100 lines (it was started a moment ago). */
static bool
log_done(const char *id)
{
	struct run_result r;
	bool done;

	CTL(&r, "logs", id, "--bytes", "14");
	done = r.status == 0 && strcmp(r.out, "chat line 100\n") == 0;
	run_result_free(&r);
	return done;
}

TEST(verbs__logs_tail_counts_lines_and_bytes_counts_bytes)
{
	struct run_result r;
	char id[128], want[2048] = "";
	size_t n = 0;
	char **lines;

	REQUIRE(cl != NULL);
	snprintf(id, sizeof(id), "%s", first_id("chatty"));
	REQUIRE(id[0] != '\0');
	CHECK(WAIT_FOR(log_done(id), CL_WAIT));
	CTL(&r, "logs", id, "--tail", "20");
	CHECK_EQ_INT(r.status, 0);
	for (int k = 81; k <= 100; k++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
		    "chat line %d\n", k);
	CHECK_STR(r.out, want); /* before: the last 20 bytes */
	run_result_free(&r);

	CTL(&r, "logs", id, "--bytes", "14");
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "chat line 100\n");
	run_result_free(&r);

	CTL(&r, "logs", id);
	CHECK_EQ_INT(r.status, 0);
	lines = run_lines(r.out, &n);
	CHECK_EQ_INT(n, 100);
	run_lines_free(lines);
	run_result_free(&r);
}

TEST(verbs__logs_service_prefixes_each_instance)
{
	struct run_result r;
	char ids[2048], a[128], b[128], pa[200], pb[200];
	size_t n = 0;
	char **lines;

	REQUIRE(cl != NULL);
	snprintf(ids, sizeof(ids), "%s", id_pids("chatty"));
	REQUIRE(sscanf(ids, "%127[^:]:%*d,%127[^:]:", a, b) == 2);
	CHECK(WAIT_FOR(log_done(a) && log_done(b), CL_WAIT));
	CTL(&r, "logs", "chatty", "--tail", "3");
	CHECK_EQ_INT(r.status, 0);
	lines = run_lines(r.out, &n);
	CHECK_EQ_INT(n, 6);
	run_lines_free(lines);
	snprintf(pa, sizeof(pa), "[%s] chat line 100\n", a);
	snprintf(pb, sizeof(pb), "[%s] chat line 100\n", b);
	CHECK_CONTAINS(r.out, pa);
	CHECK_CONTAINS(r.out, pb);
	snprintf(pa, sizeof(pa), "[%s] chat line 98\n", a);
	CHECK_CONTAINS(r.out, pa);
	run_result_free(&r);
}

/* ---- #13: diff against the working tree ---------------------------------- */

TEST(verbs__diff_ref_against_the_working_tree)
{
	struct run_result r;
	char path[1200];

	REQUIRE(cl != NULL);
	snprintf(path, sizeof(path), "%s/orch.yaml", gitrepo_path(cl->repo));
	/* An uncommitted change: web 2 -> 4 replicas. */
	REQUIRE(write_file(path, manifest("2.0.0", 4)) == 0);
	CTL(&r, "diff", "--repo", gitrepo_path(cl->repo), "HEAD");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, " -> orch.yaml (working tree)\n");
	CHECK_CONTAINS(r.out, "~ web replicas 2 -> 4 (in place: replicas)\n");
	CHECK_CONTAINS(r.out, "Plan: 0 to add, 0 to roll out, 1 to change in place, "
	    "0 to remove.\n");
	run_result_free(&r);
	/* As committed again: no change. */
	REQUIRE(write_file(path, manifest("2.0.0", 2)) == 0);
	CTL(&r, "diff", "--repo", gitrepo_path(cl->repo), "HEAD");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "No changes");
	run_result_free(&r);
}

/* ---- restart -------------------------------------------------------------- */

/* None of the ids in old (id:pid,...) is among svc's desired instances,
 * and it has n of them Run. */
static bool
all_replaced(const char *svc, const char *old, int n)
{
	char copy[2048], *save = NULL;
	const char *now = id_pids(svc);

	if (cluster_count(cl, svc, "Run") != n || !cluster_service_is(cl, svc, "Run"))
		return false;
	snprintf(copy, sizeof(copy), "%s", old);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char id[160];

		snprintf(id, sizeof(id), "%.*s:", (int)strcspn(t, ":"), t);
		if (strstr(now, id) != NULL)
			return false;
	}
	return true;
}

TEST(verbs__restart_service_replaces_every_instance)
{
	struct run_result r;
	char before[2048], path[128];
	long long seq;
	json_t *j;

	REQUIRE(cl != NULL);
	REQUIRE(WAIT_FOR(cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	snprintf(before, sizeof(before), "%s", id_pids("web"));
	seq = cluster_last_seq(cl);
	CTL(&r, "restart", "web");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "web: restart requested; every instance is replaced "
	    "with the service's strategy (rolling).");
	run_result_free(&r);
	/* Every instance replaced (new ids and pids), two Run again. */
	CHECK(WAIT_FOR(all_replaced("web", before, 2), CL_WAIT));
	/* The rollout went through the strategy: Update, then Run. */
	snprintf(path, sizeof(path), "/v1/events?service=web&since=%lld", seq);
	j = cluster_get(cl, path);
	CHECK(json_has(j, "restart requested (generation 1)"));
	CHECK(json_has(j, "\"to\": \"Update\""));
	json_decref(j);
	/* The generation is stored: a restarted controller keeps it (else
	 * every instance would roll once more). */
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	REQUIRE(cluster_ctl_start(cl) == 0);
	j = service("web");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "restart_gen")), 1);
	json_decref(j);
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));

	CTL(&r, "restart", "nosuch");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "nosuch");
	run_result_free(&r);
}

TEST(verbs__restart_instance_revives_a_failed_pet)
{
	struct run_result r;

	REQUIRE(cl != NULL);
	/* db exits 3 until the flag file exists: Failed past its limit. */
	CHECK(WAIT_FOR(instance_is("db-0", "Failed"), CL_WAIT));
	CHECK(write_file(flag_file, "ok\n") == 0);
	CTL(&r, "restart", "db-0");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "db-0: revived in place with a fresh restart budget.");
	run_result_free(&r);
	CHECK(WAIT_FOR(instance_is("db-0", "Run"), CL_WAIT));
	{
		json_t *j = cluster_instance(cl, "db-0");

		CHECK(json_integer_value(json_object_get(j, "pid")) > 0);
		json_decref(j);
	}
	/* A running pet, and cattle, are refused with what to do. */
	CTL(&r, "restart", "db-0");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "not Failed");
	run_result_free(&r);
	CTL(&r, "restart", first_id("web"));
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "is cattle");
	run_result_free(&r);
}

/* ---- drain --undo, nodes rm ---------------------------------------------- */

TEST(verbs__drain_keeps_pets_and_undo)
{
	struct run_result r;
	char node[128], want[256];
	json_t *j;
	long long pid;

	REQUIRE(cl != NULL);
	/* The node of the pet: drain keeps it there and says what to do. */
	j = cluster_instance(cl, "db-0");
	REQUIRE(j != NULL);
	snprintf(node, sizeof(node), "%s", json_string_value(json_object_get(j, "node")) ?: "");
	pid = json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	CTL(&r, "drain", node);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "is draining");
	snprintf(want, sizeof(want), "Pets staying on %s: db-0\n", node);
	CHECK_CONTAINS(r.out, want);
	snprintf(want, sizeof(want), "orchctl drain --undo %s", node);
	CHECK_CONTAINS(r.out, want);
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_node_is(cl, node, "Draining"), CL_WAIT));
	/* Its cattle moved away; the pet did not move. */
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	j = cluster_instance(cl, "db-0");
	CHECK_STR(json_string_value(json_object_get(j, "node")) ?: "", node);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "pid")), pid);
	json_decref(j);
	CTL(&r, "drain", "--undo", node);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "is no longer draining");
	run_result_free(&r);
	/* Ready (a heartbeat late on a loaded host may show Suspect first). */
	CHECK(WAIT_FOR(cluster_node_is(cl, node, "Ready"), CL_WAIT));
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run"), CL_WAIT));
}

static bool
nodes_rm_ok(const char *node)
{
	struct run_result r;
	bool ok;

	CTL(&r, "nodes", "rm", node);
	ok = r.status == 0;
	run_result_free(&r);
	return ok;
}

TEST(verbs__nodes_rm_forgets_a_lost_node_only)
{
	struct run_result r;
	const char *ready = cl ? cl->slaves[0].name : "", *gone = cl ? cl->slaves[1].name : "";
	json_t *j;

	REQUIRE(cl != NULL);
	CTL(&r, "nodes", "rm", ready);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, ", not Lost: only a Lost node is removed");
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_node_is(cl, ready, "Ready"), CL_WAIT));

	cluster_slave_stop(cl, 1, SIGKILL);
	REQUIRE(WAIT_FOR(cluster_node_is(cl, gone, "Lost"), CL_WAIT));
	CHECK(nodes_rm_ok(gone));
	j = cluster_get(cl, "/v1/nodes");
	CHECK(j != NULL && !json_has(j, gone));
	json_decref(j);
	/* Everything runs on the node left, the pet included. */
	CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 2 &&
	    cluster_count(cl, "db", "Run") == 1, CL_WAIT));
	CTL(&r, "nodes", "rm", gone);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "no node named");
	run_result_free(&r);
}

/* The manifest of the tests above plus a service "old" at version v
 * (NULL: without it). */
static const char *
manifest_old(const char *v)
{
	static char buf[9000];

	snprintf(buf, sizeof(buf), "%s", manifest("2.0.0", 2));
	if (v != NULL)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
		    "  old:\n"
		    "    version: \"%s\"\n"
		    "    command: [\"sleep\", \"600\"]\n"
		    "    stop: {signal: TERM, timeout: 2s}\n", v);
	return buf;
}

/* old runs version v (its one desired instance does). */
static bool
old_runs(const char *v)
{
	json_t *j = cluster_get(cl, "/v1/instances?service=old"), *i;
	int n = 0, ok = 0;
	size_t k;

	json_array_foreach(json_object_get(j, "instances"), k, i) {
		const char *ver = json_string_value(json_object_get(i, "version"));
		const char *st = json_string_value(json_object_get(i, "state"));

		n++;
		if (ver && st && strcmp(ver, v) == 0 && strcmp(st, "Run") == 0 &&
		    json_is_true(json_object_get(i, "desired")))
			ok++;
	}
	json_decref(j);
	return n == 1 && ok == 1;
}

TEST(verbs__teardown_line_names_the_running_version)
{
	struct run_result r;
	json_t *j, *s;
	long st;
	size_t k;
	const char *old_version = NULL;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, manifest_old("1.0.0"), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(old_runs("1.0.0"), CL_WAIT));
	REQUIRE(cluster_commit(cl, manifest_old("2.0.0"), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(old_runs("2.0.0"), CL_WAIT));
	/* Rolled back: old runs 1.0.0 while the desired manifest says 2.0.0. */
	j = cluster_call(cl, &st, "POST", "/v1/rollback", "{\"service\": \"old\"}");
	CHECK_EQ_INT(st, 200);
	json_decref(j);
	REQUIRE(WAIT_FOR(old_runs("1.0.0"), CL_WAIT));

	/* A commit without old: its teardown names 1.0.0, what runs. */
	REQUIRE(cluster_commit(cl, manifest_old(NULL), NULL) == 0);
	j = cluster_call(cl, &st, "POST", "/v1/apply", "{\"dry_run\": true}");
	CHECK_EQ_INT(st, 200);
	json_array_foreach(json_object_get(json_object_get(j, "plan"), "services"), k, s)
		if (strcmp(json_string_value(json_object_get(s, "name")) ?: "", "old") == 0)
			old_version = json_string_value(json_object_get(s, "old_version"));
	CHECK_STR(old_version ? old_version : "(none)", "1.0.0");
	json_decref(j);
	CTL(&r, "apply", "--dry-run");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "- old (removed) 1.0.0 x1");
	CHECK(strstr(r.out, "2.0.0 x1") == NULL);
	run_result_free(&r);
}

TEST(verbs__cleanup)
{
	if (cl != NULL) {
		cluster_free(cl);
		cl = NULL;
	}
}

/* ---- #8: --node-suspect -------------------------------------------------- */

TEST(verbs__controller_refuses_short_node_suspect)
{
	char dir[] = "/tmp/orch-verbs-XXXXXX", data[512], tok[512];
	const char *argv[] = {controller_bin, "--repo", dir, "--data-dir", data,
	    "--listen", "127.0.0.1:1", "--token-file", tok, "--node-heartbeat", "2s",
	    "--node-suspect", "1s", "--node-lost", "5s", NULL};
	struct run_result r;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	REQUIRE(write_secret(tok, "t\n") == 0);
	REQUIRE(run_capture(&r, argv, NULL, NULL, TIMEOUT_MS) == 0);
	CHECK_EQ_INT(r.status, 2);
	CHECK_CONTAINS(r.err, "--node-suspect (1000ms) must be at least twice the "
	    "slaves' heartbeat period --node-heartbeat (2000ms)");
	run_result_free(&r);

	/* lost <= suspect: refused with both values. */
	argv[10] = "300ms";
	argv[14] = "1s";
	REQUIRE(run_capture(&r, argv, NULL, NULL, TIMEOUT_MS) == 0);
	CHECK_EQ_INT(r.status, 2);
	CHECK_CONTAINS(r.err, "--node-lost (1000ms) must be longer than --node-suspect "
	    "(1000ms)");
	run_result_free(&r);
	unlink(tok);
	rmdir(data);
	rmdir(dir);
}

/* Without --node-heartbeat, each slave's registration is checked against
 * --node-suspect: the fixture's slaves beat every 300ms, so a 500ms
 * suspect is said, per node, in the log people read (the events). */
static bool
warned(struct cluster *c2, const char *node)
{
	char want[256];
	json_t *j = cluster_get(c2, "/v1/events?since=0");
	bool yes;

	/* Both flags are scaled alike under valgrind (test_time_factor()). */
	snprintf(want, sizeof(want), "heartbeats every %lldms, but --node-suspect is "
	    "%lldms (less than two heartbeats)", (long long)(300 * test_time_factor()),
	    (long long)(500 * test_time_factor()));
	yes = json_has(j, want) && json_has(j, node);
	json_decref(j);
	return yes;
}

TEST(verbs__slave_heartbeat_too_slow_for_node_suspect_is_said)
{
	static const char *const extra[] = {"--node-suspect", "500ms", NULL};
	struct cluster *c2 = NULL;

	REQUIRE(cluster_start(&c2, 1, extra) == 0 || c2 != NULL);
	CHECK(WAIT_FOR(warned(c2, c2->slaves[0].name), CL_WAIT));
	cluster_free(c2);
}

CHECK_MAIN(verbs__setup, verbs__scale_zero_stops_everything_and_reset_returns,
    verbs__scale_json_shows_the_new_desired, verbs__old_scale_records_keep_their_meaning,
    verbs__pause_without_rollout_says_so,
    verbs__steer_now_lines_show_the_state_after,
    verbs__events_follow_shows_only_new_events,
    verbs__head_on_public_paths_answers_like_get, verbs__history_has_seq_and_reason,
    verbs__logs_tail_counts_lines_and_bytes_counts_bytes,
    verbs__logs_service_prefixes_each_instance, verbs__diff_ref_against_the_working_tree,
    verbs__restart_service_replaces_every_instance,
    verbs__restart_instance_revives_a_failed_pet, verbs__drain_keeps_pets_and_undo,
    verbs__nodes_rm_forgets_a_lost_node_only,
    verbs__teardown_line_names_the_running_version, verbs__cleanup,
    verbs__controller_refuses_short_node_suspect,
    verbs__slave_heartbeat_too_slow_for_node_suspect_is_said)
