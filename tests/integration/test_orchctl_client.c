/*
 * test_orchctl_client.c - the real orchctl binary as a client of the
 * controller API: usage errors (exit 2) for every controller verb, exit 3
 * against a loopback port nobody listens on, and every verb against a
 * scripted controller that answers with the shapes of design.md "APIs":
 * tables, -o json as received, {"error","detail"} printing, manifest
 * errors as file:line:col lines, the token (file and environment, 401
 * hint), apply --wait to success, failure and timeout, the SSE event
 * stream with a reconnect that resumes by Last-Event-ID, logs -f.
 *
 * The scripted controller (orchctl_fake.h) logs every request it gets,
 * so what orchctl sent is checked, not only what it printed. Then the
 * same verbs end to end against a real orch-controller with two real
 * orch-slaves and a git repository (tests/support/cluster.h): apply
 * --wait, the tables and -o json, scale within and outside min..max, an
 * invalid commit, a release that fails its health check, events -f,
 * drain, and the cpu and memory `orchctl nodes` shows a node's instances
 * hold of its capacity.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "cluster.h"
#include "err.h"
#include "manifest.h"
#include "orchctl_fake.h"
#include "run.h"
#include "units.h"

#define TIMEOUT_MS 60000
static char orchctl_bin[4096], work_dir[4096], reqlog[4200], token_file[4200];
static char closed_url[64];

/* ---- helpers ----------------------------------------------------------- */

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static char *
slurp(const char *path)
{
	char *s = read_file(path);

	return s ? s : strdup("");
}

static void
put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* A loopback port nothing listens on (daemon_free_port binds, reads and
 * closes it); the tests cannot go on without one. */
static int
free_port(void)
{
	int port;

	if (daemon_free_port(&port) < 0) {
		fprintf(stderr, "free_port: %s\n", orch_err_last());
		exit(1);
	}
	return port;
}

/* orchctl in the work dir against url, with token tok (ORCH_TOKEN). */
#define ctl(r, url, tok, ...) run_orchctl((r), work_dir, (url), NULL, (tok), __VA_ARGS__)

/* Wait until file holds needle (200 ms polls, up to ms). */
static bool
wait_for_text(const char *path, const char *needle, int64_t ms)
{
	int64_t end = orch_mono_ms() + ms;

	for (;;) {
		char *s = slurp(path);
		bool ok = strstr(s, needle) != NULL;

		free(s);
		if (ok)
			return true;
		if (orch_mono_ms() > end)
			return false;
		usleep(100000);
	}
}

/* orchctl in the background, stdout/stderr to files; for -f verbs that
 * run until SIGINT. */
static pid_t
spawn_ctl_at(const char *url, const char *tokfile, const char *out,
    const char *err, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;
	pid_t pid;

	argv[n++] = orchctl_bin;
	argv[n++] = "--controller";
	argv[n++] = url;
	if (tokfile != NULL) {
		argv[n++] = "--token-file";
		argv[n++] = tokfile;
	}
	while (*args && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(o, 1);
		dup2(e, 2);
		setenv("ORCH_TOKEN", TOKEN, 1);
		unsetenv("ORCH_CONTROLLER");
		execv(orchctl_bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static pid_t
spawn_ctl(const char *out, const char *err, const char *const *args)
{
	return spawn_ctl_at(fake_url, NULL, out, err, args);
}

/* SIGINT, then the exit code (or -1 when it does not stop in 10 s). */
static int
interrupt_ctl(pid_t pid)
{
	int64_t end = orch_mono_ms() + 10000;
	int status;

	kill(pid, SIGINT);
	while (orch_mono_ms() < end) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status);
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* ---- setup ------------------------------------------------------------- */

__attribute__((constructor)) static void
setup_paths(void)
{
	const char *bld = env_or("ORCH_BUILD_DIR", "build");
	const char *out = env_or("ORCH_TEST_OUT", "/tmp");

	snprintf(orchctl_bin, sizeof(orchctl_bin), "%s/orchctl/orchctl", bld);
	mkdir(out, 0755);
	snprintf(work_dir, sizeof(work_dir), "%s/orchctl-client-XXXXXX", out);
	if (mkdtemp(work_dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", work_dir, strerror(errno));
		exit(1);
	}
	snprintf(reqlog, sizeof(reqlog), "%s/requests.log", work_dir);
	snprintf(token_file, sizeof(token_file), "%s/token", work_dir);
	/* Blanks around and a second line: only the first line, trimmed. */
	put_file(token_file, "  " TOKEN "  \nnot this line\n");
	chmod(token_file, 0600); /* a credentials file is its owner's alone */
	snprintf(closed_url, sizeof(closed_url), "http://127.0.0.1:%d",
	    free_port());
	fake_start(reqlog);
}

__attribute__((destructor)) static void
teardown(void)
{
	char cmd[4400];

	fake_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", work_dir);
}

/* ---- usage errors: exit 2, before any request -------------------------- */

/* Each line: the arguments of one bad command line, tab-separated, and
 * what the message must say. The controller is a closed port, so a verb
 * that tried to connect would exit 3, not 2. */
static const char *const usage_cases[][6] = {
	{"apply", "extra", NULL, NULL, NULL, "unexpected argument 'extra'"},
	{"apply", "--bogus", NULL, NULL, NULL, "unknown option '--bogus'"},
	{"apply", "--wait", "--timeout", "30", NULL, "--timeout:"},
	{"apply", "--wait", "--timeout", "0s", NULL, "more than 0s"},
	{"apply", "--timeout", "30s", NULL, NULL, "--timeout needs --wait"},
	{"apply", "--wait", "--dry-run", NULL, NULL, "exclude each other"},
	{"apply", "--ref", NULL, NULL, NULL, "needs a value"},
	{"status", "a", "b", NULL, NULL, "at most one SERVICE"},
	{"status", "-x", NULL, NULL, NULL, "unknown option '-x'"},
	{"instances", "a", "b", NULL, NULL, "at most one SERVICE"},
	{"nodes", "extra", NULL, NULL, NULL, "unexpected argument 'extra'"},
	{"history", "extra", NULL, NULL, NULL, "unexpected argument 'extra'"},
	{"events", "extra", NULL, NULL, NULL, "unexpected argument 'extra'"},
	{"events", "--since", "-1", NULL, NULL, "not an event sequence number"},
	{"events", "--since", "x", NULL, NULL, "not an event sequence number"},
	{"events", "--tail", NULL, NULL, NULL, "unknown option '--tail'"},
	{"scale", NULL, NULL, NULL, NULL, "need SERVICE and N (got 0"},
	{"scale", "api", NULL, NULL, NULL, "need SERVICE and N (got 1 argument)"},
	{"scale", "api", "3", "4", NULL, "need SERVICE and N (got 3"},
	{"scale", "api", "-1", NULL, NULL, "'-1' is not a non-negative integer"},
	{"scale", "api", "2.5", NULL, NULL, "'2.5' is not a non-negative integer"},
	{"scale", "api", "three", NULL, NULL, "is not a non-negative integer"},
	{"scale", "api", "+3", NULL, NULL, "is not a non-negative integer"},
	{"scale", "api", "99999999999", NULL, NULL, "is not a non-negative integer"},
	{"scale", "", "3", NULL, NULL, "empty SERVICE name"},
	{"drain", NULL, NULL, NULL, NULL, "need exactly one NODE"},
	{"drain", "a", "b", NULL, NULL, "need exactly one NODE"},
	{"logs", NULL, NULL, NULL, NULL, "need exactly one INSTANCE"},
	{"logs", "api-1", "--bytes", "0", NULL, "--bytes: want 1"},
	{"logs", "api-1", "--bytes", "17M", NULL, "--bytes: want 1"},
	{"logs", "api-1", "--bytes", "lots", NULL, "--bytes:"},
	{"logs", "api-1", "--tail", "0", NULL, "--tail: want 1"},
	{"logs", "api-1", "--stdout", NULL, NULL, "unknown option '--stdout'"},
};

TEST(orchctl_client__usage_errors)
{
	for (size_t i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
		const char *const *c = usage_cases[i];
		struct run_result r;

		ctl(&r, closed_url, NULL, c[0], c[1], c[2], c[3], c[4], NULL);
		if (r.status != 2 || strstr(r.err, c[5]) == NULL ||
		    strstr(r.err, "usage: orchctl") == NULL)
			check_fail(__FILE__, __LINE__, "orchctl %s %s %s %s: "
			    "want exit 2 and \"%s\", got %d: %s", c[0],
			    c[1] ? c[1] : "", c[2] ? c[2] : "", c[3] ? c[3] : "",
			    c[5], r.status, r.err);
		CHECK_STR(r.out, "");
		run_result_free(&r);
	}
}

TEST(orchctl_client__bad_controller_url)
{
	struct run_result r;

	ctl(&r, "ftp://127.0.0.1:21", NULL, "status", NULL);
	CHECK_EQ_INT(r.status, 2);
	CHECK_CONTAINS(r.err, "is not an http:// or https:// URL");
	run_result_free(&r);
	ctl(&r, "", NULL, "nodes", NULL);
	CHECK_EQ_INT(r.status, 2);
	CHECK_CONTAINS(r.err, "empty URL");
	run_result_free(&r);
}

TEST(orchctl_client__help)
{
	static const char *const verbs[] = {"apply", "status", "instances",
	    "nodes", "history", "events", "scale", "drain", "logs"};
	struct run_result r;

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char want[64];

		ctl(&r, closed_url, NULL, verbs[i], "--help", NULL);
		snprintf(want, sizeof(want), "usage: orchctl %s", verbs[i]);
		CHECK_EQ_INT(r.status, 0);
		CHECK_CONTAINS(r.out, want);
		CHECK_CONTAINS(r.out, "Exit status:");
		run_result_free(&r);
	}
	/* Every verb is in the main help too. */
	ctl(&r, NULL, NULL, "--help", NULL);
	CHECK_EQ_INT(r.status, 0);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char want[64];

		snprintf(want, sizeof(want), "  %s ", verbs[i]);
		CHECK_CONTAINS(r.out, want);
	}
	run_result_free(&r);
}

/* ---- unreachable: exit 3 ------------------------------------------------ */

TEST(orchctl_client__unreachable)
{
	static const char *const cases[][5] = {
		{"apply", NULL}, {"apply", "--wait", NULL}, {"status", NULL},
		{"status", "api", NULL}, {"instances", NULL}, {"nodes", NULL},
		{"history", NULL}, {"events", NULL}, {"events", "-f", NULL},
		{"events", "-f", "--since", "3", NULL}, {"scale", "api", "3", NULL},
		{"drain", "node-a", NULL}, {"logs", "api-1", NULL},
		{"logs", "api-1", "-f", NULL},
	};
	char want[128];

	snprintf(want, sizeof(want), "cannot reach the controller at %s",
	    closed_url);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *c = cases[i];
		struct run_result r;

		ctl(&r, closed_url, TOKEN, c[0], c[1], c[2], c[3], NULL);
		if (r.status != 3 || strstr(r.err, want) == NULL)
			check_fail(__FILE__, __LINE__, "orchctl %s %s: want exit 3 "
			    "and \"%s\", got %d: %s", c[0], c[1] ? c[1] : "",
			    want, r.status, r.err);
		run_result_free(&r);
	}
}

TEST(orchctl_client__unreachable_env_and_dns)
{
	const char *argv[] = {orchctl_bin, "status", NULL};
	char envc[128];
	const char *env[] = {envc, "ORCH_TOKEN=", NULL};
	struct run_result r;

	/* ORCH_CONTROLLER, in the host:port form, is used as the URL. */
	snprintf(envc, sizeof(envc), "ORCH_CONTROLLER=%s", closed_url + 7);
	REQUIRE(run_capture(&r, argv, work_dir, env, TIMEOUT_MS) == 0);
	CHECK_EQ_INT(r.status, 3);
	CHECK_CONTAINS(r.err, closed_url);
	run_result_free(&r);

	/* .invalid never resolves (RFC 6761). */
	ctl(&r, "http://orch-controller.invalid:7070", NULL, "nodes", NULL);
	CHECK_EQ_INT(r.status, 3);
	CHECK_CONTAINS(r.err, "cannot reach the controller at "
	    "http://orch-controller.invalid:7070");
	run_result_free(&r);
}

/* ---- against the scripted controller ------------------------------------ */

TEST(orchctl_client__status)
{
	struct run_result r;
	char *reqs;
	json_t *j;

	free(fake_requests()); /* start from none */
	ctl(&r, fake_url, NULL, "status", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "Architecture: shop 2.4.0   Revision: abcdef1 "
	    "\"api 1.3.0\"\n");
	CHECK_CONTAINS(r.out, "NAME   VERSION   KIND     STRATEGY   STATE   "
	    "READY   REVISION   REASON\n");
	CHECK_CONTAINS(r.out, "db     2.1.0     pet      rolling    Run     "
	    "1/1     abcdef1    -\n");
	CHECK_CONTAINS(r.out, "api    1.3.0     cattle   canary     Run     "
	    "2/2     abcdef1    -\n");
	run_result_free(&r);
	reqs = fake_requests();
	/* A read without a token sends none. */
	CHECK_CONTAINS(reqs, "GET /v1/status auth=[] ");
	free(reqs);

	ctl(&r, fake_url, NULL, "status", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_STR(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "services"), 1), "state")), "Run");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j,
	    "revision"), "message")), "api 1.3.0\n\nlonger text");
	json_decref(j);
	/* Pretty, as design says -o json prints. */
	CHECK_CONTAINS(r.out, "\n  \"services\": [");
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "status", "api", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "api    1.3.0     cattle   canary     Run     2/2");
	CHECK_CONTAINS(r.out, "Instances:\nID      VERSION   NODE     STATE   HEALTH\n"
	    "api-1   1.3.0     node-a   Run     healthy\n");
	run_result_free(&r);

	/* Scale keeps its word; Scale-out leads the reason. */
	ctl(&r, fake_url, NULL, "status", "worker", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "worker   1.0.0     cattle   rolling    Scale   "
	    "3/4     abcdef1    Scale-out: scale to 4\n");
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "status", "nosuch", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "orchctl: not found: no service nosuch\n");
	CHECK_STR(r.out, "");
	run_result_free(&r);
	ctl(&r, fake_url, NULL, "-o", "json", "status", "nosuch", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "\"error\": \"not found\"");
	run_result_free(&r);
}

TEST(orchctl_client__instances_nodes_history)
{
	struct run_result r;
	json_t *j;

	ctl(&r, fake_url, NULL, "instances", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "ID      SERVICE   VERSION   NODE     PID    "
	    "STATE       HEALTH    RESTARTS   AGE\n");
	CHECK_CONTAINS(r.out, "api-1   api       1.3.0     node-a   4242   "
	    "Run         healthy   0          125m\n");
	CHECK_CONTAINS(r.out, "db-0    db        2.1.0     node-b   -      "
	    "Provision   none      3          -\n");
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "instances", "db", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "instances")), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "instances"), 0), "id")), "db-0");
	json_decref(j);
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "instances", "web", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "No instances of service web.\n");
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "nodes", NULL);
	CHECK_EQ_INT(r.status, 0);
	/* CPU and MEMORY are used/total; this scripted controller reports
	 * no used_* (an older one): "-" for them, the capacity from either
	 * shape it may send ({"capacity": {...}} or the node's own keys). */
	CHECK_STR(r.out,
	    "NAME     ADDRESS          STATE      HEARTBEAT   CPU   MEMORY    INSTANCES\n"
	    "node-a   127.0.0.1:7101   Ready      2s ago      -/4   -/8G      2\n"
	    "node-b   127.0.0.1:7102   Draining   -           -/2   -/23.5G   0\n");
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "history", NULL);
	CHECK_EQ_INT(r.status, 0);
	/* SEQ (what rollback --to takes) and REASON columns, issue 10 #13. */
	CHECK_CONTAINS(r.out, "SEQ   COMMIT    TIME                   AUTHOR        "
	    "RESULT     MESSAGE     REASON\n");
	CHECK_CONTAINS(r.out, "7     abcdef1   2025-11-23T11:22:33Z   Ann Example   "
	    "applied    api 1.3.0   -\n");
	CHECK_CONTAINS(r.out, "6     0123456   2023-11-14T22:13:20Z   Bob           "
	    "rejected   first       -\n");
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "history", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "revisions")), 2);
	json_decref(j);
	run_result_free(&r);
}

TEST(orchctl_client__token)
{
	struct run_result r;
	char *reqs;

	/* No token: 401 and how to pass one. */
	free(fake_requests()); /* start from none */
	ctl(&r, fake_url, NULL, "scale", "api", "4", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "unauthorized: missing or wrong bearer token");
	CHECK_CONTAINS(r.err, "--token-file FILE");
	CHECK_CONTAINS(r.err, "ORCH_TOKEN");
	run_result_free(&r);

	/* A wrong one: the hint names where it came from. */
	ctl(&r, fake_url, "wrong", "drain", "node-a", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "rejected the token from ORCH_TOKEN");
	run_result_free(&r);

	/* From the file (first line, trimmed), over ORCH_TOKEN. */
	ctl(&r, fake_url, "wrong", "--token-file", token_file, "scale", "api",
	    "4", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "api scaled to 4 replicas.\n");
	run_result_free(&r);
	reqs = fake_requests();
	CHECK_CONTAINS(reqs, "POST /v1/services/api/scale auth=[Bearer "
	    TOKEN "] lei=[] body={\"replicas\":4}\n");
	free(reqs);

	ctl(&r, fake_url, NULL, "--token-file", "/nonexistent/token", "nodes",
	    NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "cannot read token file /nonexistent/token");
	run_result_free(&r);
}

TEST(orchctl_client__scale_and_drain)
{
	struct run_result r;

	ctl(&r, fake_url, TOKEN, "scale", "api", "11", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "scale refused: replicas must be within "
	    "min..max 1..10");
	run_result_free(&r);
	ctl(&r, fake_url, TOKEN, "scale", "api", "0", NULL);
	CHECK_EQ_INT(r.status, 1);
	run_result_free(&r);
	ctl(&r, fake_url, TOKEN, "scale", "api", "4", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "\"desired\": 4");
	run_result_free(&r);

	ctl(&r, fake_url, TOKEN, "drain", "node-a", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "Node node-a is draining");
	run_result_free(&r);
	/* Not the API's error shape: status and first line. */
	ctl(&r, fake_url, TOKEN, "drain", "proxy", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "answered HTTP 502: <html>Bad Gateway</html>");
	run_result_free(&r);
}

TEST(orchctl_client__apply)
{
	struct run_result r;
	char *reqs;

	free(fake_requests()); /* start from none */
	ctl(&r, fake_url, TOKEN, "apply", "--dry-run", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out,
	    "~ api 1.2.0 -> 1.3.0, replicas 2 -> 3 (rollout: version; "
	    "in place: replicas)\n"
	    "- web (removed) 0.9.0 x3\n"
	    "\n"
	    "Plan: 0 to add, 1 to roll out, 0 to change in place, 1 to remove.\n"
	    "Dry run: revision abcdef1 \"api 1.3.0\" checked, nothing applied.\n");
	run_result_free(&r);
	reqs = fake_requests();
	CHECK_CONTAINS(reqs, "POST /v1/apply auth=[Bearer " TOKEN "] lei=[] "
	    "body={\"dry_run\":true}\n");
	free(reqs);

	ctl(&r, fake_url, TOKEN, "apply", "--ref", "v2", "-v", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "  db (unchanged) 2.1.0 x1\n");
	CHECK_CONTAINS(r.out, "Applied revision abcdef1 \"api 1.3.0\".\n");
	run_result_free(&r);
	reqs = fake_requests();
	CHECK_CONTAINS(reqs, "body={\"ref\":\"v2\",\"dry_run\":false}\n");
	free(reqs);

	/* Rejected: every error as file:line:col: path: message. */
	ctl(&r, fake_url, TOKEN, "apply", "--ref", "bad", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_STR(r.err, "orchctl: manifest rejected\n"
	    "orch.yaml:7:15: services.api.replicas: replicas 12 is outside "
	    "min..max 1..10\n"
	    "orch.yaml:12:5: services.web.depends_on.cache: no service cache\n"
	    "2 errors\n");
	CHECK_STR(r.out, "");
	run_result_free(&r);
	ctl(&r, fake_url, TOKEN, "apply", "--ref", "bad", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "\"path\": \"services.api.replicas\"");
	run_result_free(&r);
}

TEST(orchctl_client__apply_wait)
{
	struct run_result r;
	char *reqs;

	/* Old revision, then Update 1/2, then Run: a line per change. */
	free(fake_requests());
	ctl(&r, fake_url, TOKEN, "apply", "--wait", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "Applied revision abcdef1");
	CHECK_CONTAINS(r.out, "api   Run       2/2\n"
	    "db    Run       1/1\n"
	    "api   Update    1/2\n"
	    "api   Run       2/2\n"
	    "Rollout of revision abcdef1 complete: 2 services Run.\n");
	run_result_free(&r);
	/* Run at poll 3, but the revision record said "applied" until
	 * poll 4: orchctl waited for the controller's verdict. */
	reqs = fake_requests();
	CHECK(strstr(reqs, "GET /v1/revisions") != NULL);
	{
		int polls = 0;

		for (char *p = reqs; (p = strstr(p, "GET /v1/status ")) != NULL; p++)
			polls++;
		CHECK_EQ_INT(polls, 4);
	}
	free(reqs);

	/* A service Failed: exit 1 with its reason. */
	ctl(&r, fake_url, TOKEN, "apply", "--ref", "fail", "--wait", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.out, "api   Failed    0/2   rolled back: health "
	    "check failed\n");
	CHECK_CONTAINS(r.err, "rollout of revision abcdef1 failed: service api "
	    "is Failed: rolled back: health check failed");
	run_result_free(&r);

	/* Rolling back from this revision ends the wait; a Rollback of an
	 * older revision (service old) is not blamed. */
	ctl(&r, fake_url, TOKEN, "apply", "--ref", "rollback", "--wait", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_STR(r.err, "orchctl: rollout of revision abcdef1 failed: service "
	    "api is rolling back: canary step 1 failed\n");
	run_result_free(&r);

	/* Everything Run and "succeeded", but not the version applied. */
	ctl(&r, fake_url, TOKEN, "apply", "--ref", "undone", "--wait", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_STR(r.err, "orchctl: rollout of revision abcdef1 failed: service "
	    "api runs 1.2.0, not 1.3.0: its rollout was undone\n");
	run_result_free(&r);

	/* The controller never shows the revision: timeout says so. */
	ctl(&r, fake_url, TOKEN, "apply", "--ref", "stuck", "--wait",
	    "--timeout", "1500ms", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "timed out after 1s500ms: the controller still "
	    "shows revision 0123456, not abcdef1");
	run_result_free(&r);

	/* -o json: the reply on stdout, progress on stderr. */
	ctl(&r, fake_url, TOKEN, "apply", "--wait", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(j,
	    "revision"), "commit")), "abcdef1234567890");
	json_decref(j);
	CHECK_CONTAINS(r.err, "Rollout of revision abcdef1 complete");
	run_result_free(&r);
}

TEST(orchctl_client__events)
{
	struct run_result r;
	json_t *j;

	ctl(&r, fake_url, NULL, "events", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out,
	    "2025-11-23T11:22:33Z  api           api-1             - -> Provision"
	    "          placed on node-a\n"
	    "2025-11-23T11:22:33Z  api           api-2             Ready -> "
	    "Provision      placed on node-a\n"
	    "2025-11-23T11:22:33Z  api           api-3             Ready -> "
	    "Provision      placed on node-a\n");
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "events", "--since", "2", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "events")), 1);
	json_decref(j);
	run_result_free(&r);

	/* More than a page: every one, in order, in three requests. */
	free(fake_requests());
	ctl(&r, fake_url, NULL, "events", "--since", "1000000", NULL);
	CHECK_EQ_INT(r.status, 0);
	{
		size_t n = 0;
		char **lines = run_lines(r.out, &n);

		CHECK_EQ_INT(n, 2500);
		if (n == 2500) {
			CHECK_CONTAINS(lines[0], " n1000001");
			CHECK_CONTAINS(lines[999], " n1001000");
			CHECK_CONTAINS(lines[1000], " n1001001");
			CHECK_CONTAINS(lines[2499], " n1002500");
		}
		run_lines_free(lines);
	}
	run_result_free(&r);
	{
		char *reqs = fake_requests();

		CHECK_CONTAINS(reqs, "GET /v1/events?since=1000000 ");
		CHECK_CONTAINS(reqs, "GET /v1/events?since=1001000 ");
		CHECK_CONTAINS(reqs, "GET /v1/events?since=1002000 ");
		CHECK(strstr(reqs, "since=1002500") == NULL);
		free(reqs);
	}
	ctl(&r, fake_url, NULL, "events", "--since", "1000000", "-o", "json", NULL);
	CHECK_EQ_INT(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "events")), 2500);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "last_seq")), 1002500);
	json_decref(j);
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "events", "--since", "3", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "No events after that sequence number.\n");
	run_result_free(&r);
}

/*
 * events -f: the first stream connection ends after events 1 and 2; orchctl
 * reconnects with Last-Event-ID: 2, skips the repeated event 2 and prints
 * event 3; Ctrl-C ends it with exit 0.
 */
TEST(orchctl_client__events_follow_reconnects)
{
	const char *args[] = {"events", "-f", NULL};
	char out[4400], err[4400], *reqs, *o;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/events.out", work_dir);
	snprintf(err, sizeof(err), "%s/events.err", work_dir);
	free(fake_requests()); /* start from none */
	pid = spawn_ctl(out, err, args);
	REQUIRE(pid > 0);
	CHECK(wait_for_text(out, "healthy 3", 20000));
	CHECK_EQ_INT(interrupt_ctl(pid), 0);
	o = slurp(out);
	CHECK_STR(o,
	    "2025-11-23T11:22:33Z  api           api-1             Ready -> Run"
	    "            healthy 1\n"
	    "2025-11-23T11:22:33Z  api           api-2             Ready -> Run"
	    "            healthy 2\n"
	    "2025-11-23T11:22:33Z  api           api-3             Ready -> Run"
	    "            healthy 3\n");
	free(o);
	/* A stream that ends cleanly is resumed without a word. */
	o = slurp(err);
	CHECK_STR(o, "");
	free(o);
	reqs = fake_requests();
	CHECK_CONTAINS(reqs, "GET /v1/events/stream auth=[Bearer " TOKEN
	    "] lei=[] ");
	CHECK_CONTAINS(reqs, "GET /v1/events/stream auth=[Bearer " TOKEN
	    "] lei=[2] ");
	free(reqs);
}

TEST(orchctl_client__logs)
{
	const char *args[] = {"logs", "api-1", "-f", "--bytes", "7", NULL};
	struct run_result r;
	char out[4400], err[4400], *o, *reqs;
	pid_t pid;

	free(fake_requests()); /* start from none */
	ctl(&r, fake_url, NULL, "logs", "api-1", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "line 1\n");
	run_result_free(&r);
	ctl(&r, fake_url, NULL, "logs", "api-1", "--bytes", "7", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "line 2\n"); /* the log has 2 lines by now */
	run_result_free(&r);
	reqs = fake_requests();
	CHECK_CONTAINS(reqs, "GET /v1/instances/api-1/logs?stream=stdout&tail=7 ");
	free(reqs);

	ctl(&r, fake_url, NULL, "logs", "api-1", "--stderr", NULL);
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "warning: on stderr\n");
	run_result_free(&r);

	ctl(&r, fake_url, NULL, "logs", "nope", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "not found");
	run_result_free(&r);

	/* -f: the last 7 bytes first, then each new line exactly once. */
	snprintf(out, sizeof(out), "%s/logs.out", work_dir);
	snprintf(err, sizeof(err), "%s/logs.err", work_dir);
	pid = spawn_ctl(out, err, args);
	REQUIRE(pid > 0);
	o = NULL;
	CHECK(wait_for_text(out, "line 7\n", 20000));
	CHECK_EQ_INT(interrupt_ctl(pid), 0);
	o = slurp(out);
	/* The fake's log had 4 lines at the first read of this run. */
	CHECK(strncmp(o, "line 4\nline 5\nline 6\nline 7\n", 28) == 0);
	{
		/* Every line after the first once, in order. */
		int want = 4;
		for (char *p = o; *p; p = strchr(p, '\n') + 1) {
			char line[32];

			snprintf(line, sizeof(line), "line %d\n", want++);
			if (strncmp(p, line, strlen(line)) != 0) {
				check_fail(__FILE__, __LINE__, "logs -f: want "
				    "\"%s\" at \"%s\"", line, p);
				break;
			}
		}
	}
	free(o);
	o = slurp(err);
	CHECK_STR(o, ""); /* no warning, no sanitizer report */
	free(o);
}

TEST(orchctl_client__logs_follow_big)
{
	const char *args[] = {"logs", "big-1", "-f", "--bytes", "100", NULL};
	char out[4400], err[4400], *o;
	int want = 3001;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/big.out", work_dir);
	snprintf(err, sizeof(err), "%s/big.err", work_dir);
	pid = spawn_ctl(out, err, args);
	REQUIRE(pid > 0);
	CHECK(wait_for_text(out, "big 003005 ", 20000));
	CHECK_EQ_INT(interrupt_ctl(pid), 0);
	o = slurp(out);
	/* The last line at the first read, then every new one once. */
	for (char *p = o; *p; p += 100) {
		char head[32];

		snprintf(head, sizeof(head), "big %06d ", want++);
		if (strlen(p) < 100 || strncmp(p, head, strlen(head)) != 0 ||
		    p[99] != '\n') {
			check_fail(__FILE__, __LINE__, "logs -f: want \"%s\" "
			    "at \"%.40s\"", head, p);
			break;
		}
	}
	CHECK(want > 3005);
	free(o);
	o = slurp(err);
	CHECK_STR(o, "");
	free(o);
}

/* ---- end to end: a real controller, two real slaves, a git repo ------ */

static struct cluster *cl;
static char e2e_sha[41], e2e_short[8];

/* back (1 instance) and front (2, min 1, max 3) that depends on back;
 * both the httpapp demo. extra: appended to front (a broken field). */
static const char *
e2e_manifest_v(int front_replicas, const char *front_version,
    const char *front_args, const char *extra)
{
	static char buf[4096];
	const char *app = cluster_app("httpapp");

	snprintf(buf, sizeof(buf),
	    "architecture: e2e\n"
	    "version: \"1.0.0\"\n"
	    "services:\n"
	    "  back:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"1.0.0\"]\n"
	    "    ports: [http]\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 150ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "  front:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"%s\"%s]\n"
	    "    ports: [http]\n"
	    "    replicas: %d\n"
	    "    min: 1\n"
	    "    max: 3\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 150ms}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n"
	    "    depends_on: {back: \">=1.0.0 <2.0.0\"}\n"
	    "%s",
	    app, front_version, app, front_version, front_args, front_replicas,
	    extra ? extra : "");
	return buf;
}

static const char *
e2e_manifest(int front_replicas, const char *extra)
{
	return e2e_manifest_v(front_replicas, "2.0.0", "", extra);
}

/* orchctl against the cluster's controller with its token file. */
#define E2E(r, ...) ctl(r, cl->url, NULL, "--token-file", cl->token_file, \
    __VA_ARGS__, NULL)

/* The line of out that starts with prefix (copied into buf), or "". */
static const char *
line_starting(char *buf, size_t len, const char *out, const char *prefix)
{
	size_t plen = strlen(prefix);

	buf[0] = '\0';
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, plen) == 0) {
			snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
			break;
		}
	return buf;
}

/* Collapse runs of blanks to one, so checks do not depend on widths. */
static void
squeeze(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++)
		if (*p != ' ' || w == s || w[-1] != ' ')
			*w++ = *p;
	*w = '\0';
}

/* Bytes as docs/cli.md says `orchctl nodes` prints them: a whole unit
 * exactly when that is short ("128M", "8G"), else one decimal of the
 * largest unit ("23.5G"). */
static void
size_text(char *buf, size_t len, long long bytes)
{
	static const char units[] = "KMGT";
	double v = (double)bytes;
	int u = -1;

	snprintf(buf, len, "%lld", bytes);
	for (int k = 3; k >= 0; k--) {
		long long m = 1LL << (10 * (k + 1));

		if (bytes >= m && bytes % m == 0) {
			snprintf(buf, len, "%lld%c", bytes / m, units[k]);
			break;
		}
	}
	if (strlen(buf) <= 5) /* "128M", "1536K"; not "24684092K" */
		return;
	while (u < 3 && v >= 1024) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%c", v, units[u]);
}

/* " USED/TOTAL USED/TOTAL " (cpu, memory) of a /v1/nodes entry, as the
 * squeezed table must show it. */
static void
usage_cols(char *buf, size_t len, const json_t *node)
{
	char used[32], total[32];

	size_text(used, sizeof(used), json_integer_value(json_object_get(node, "used_memory")));
	size_text(total, sizeof(total), json_integer_value(json_object_get(node, "memory")));
	snprintf(buf, len, " %g/%g %s/%s ",
	    json_number_value(json_object_get(node, "used_cpu")),
	    json_number_value(json_object_get(node, "cpu")), used, total);
}

/* The /v1/nodes entry of node name (caller decrefs), or NULL. */
static json_t *
api_node(const char *name)
{
	json_t *j = cluster_get(cl, "/v1/nodes"), *v, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(j, "nodes"), i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));

		if (n && strcmp(n, name) == 0)
			found = json_incref(v);
	}
	json_decref(j);
	return found;
}

TEST(orchctl_e2e__apply_wait)
{
	char bin[4200], line[512];
	struct run_result r;
	struct stat st;

	/* Never pass vacuously: the controller is part of this tree. */
	snprintf(bin, sizeof(bin), "%s/controller/orch-controller",
	    env_or("ORCH_BUILD_DIR", "build"));
	REQUIRE(stat(bin, &st) == 0);
	REQUIRE(cluster_start(&cl, 2, NULL) == 0);
	REQUIRE(cluster_commit(cl, e2e_manifest(2, NULL), e2e_sha) == 0);
	snprintf(e2e_short, sizeof(e2e_short), "%.7s", e2e_sha);

	E2E(&r, "apply", "--wait", "--timeout", "60s");
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.out, "architecture") == NULL); /* from nothing */
	CHECK_CONTAINS(r.out, "+ back (added) 1.0.0 x1\n");
	CHECK_CONTAINS(r.out, "+ front (added) 2.0.0 x2\n");
	CHECK_CONTAINS(r.out, "Plan: 2 to add, 0 to roll out, 0 to change in "
	    "place, 0 to remove.\n");
	snprintf(line, sizeof(line), "Applied revision %s", e2e_short);
	CHECK_CONTAINS(r.out, line);
	snprintf(line, sizeof(line), "Rollout of revision %s complete: 2 "
	    "services Run.\n", e2e_short);
	CHECK_CONTAINS(r.out, line);
	/* Progress lines: front reached Run 2/2 on the way. */
	CHECK_CONTAINS(r.out, "front   Run       2/2\n");
	run_result_free(&r);
	/* It said Run because it is. */
	CHECK(cluster_service_is(cl, "back", "Run"));
	CHECK(cluster_service_is(cl, "front", "Run"));
	CHECK_EQ_INT(cluster_count(cl, "front", "Run"), 2);
}

TEST(orchctl_e2e__tables_and_json)
{
	char line[512], want[512];
	struct run_result r;
	json_t *j, *v;
	size_t i;

	REQUIRE(cl != NULL);
	E2E(&r, "status");
	CHECK_EQ_INT(r.status, 0);
	squeeze(r.out);
	snprintf(want, sizeof(want), "Architecture: e2e 1.0.0 Revision: %s",
	    e2e_short);
	CHECK_CONTAINS(r.out, want);
	CHECK_CONTAINS(r.out, "NAME VERSION KIND STRATEGY STATE READY REVISION REASON\n");
	snprintf(want, sizeof(want), "back 1.0.0 cattle rolling Run 1/1 %s",
	    e2e_short);
	CHECK_CONTAINS(line_starting(line, sizeof(line), r.out, "back "), want);
	snprintf(want, sizeof(want), "front 2.0.0 cattle rolling Run 2/2 %s",
	    e2e_short);
	CHECK_CONTAINS(line_starting(line, sizeof(line), r.out, "front "), want);
	run_result_free(&r);

	E2E(&r, "status", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	REQUIRE((j = json_loads(r.out, 0, NULL)) != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "architecture")), "e2e");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j,
	    "revision"), "commit")), e2e_sha);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "services")), 2);
	json_array_foreach(json_object_get(j, "services"), i, v)
		CHECK_STR(json_string_value(json_object_get(v, "state")), "Run");
	json_decref(j);
	run_result_free(&r);

	E2E(&r, "status", "front");
	CHECK_EQ_INT(r.status, 0);
	squeeze(r.out);
	CHECK_CONTAINS(r.out, "front 2.0.0 cattle rolling Run 2/2");
	run_result_free(&r);
	E2E(&r, "status", "nosuch");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "not found");
	run_result_free(&r);

	/* instances: every one Run and healthy, with a pid, on a node. */
	E2E(&r, "instances");
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "ID ");
	{
		size_t n = 0;
		char **lines = run_lines(r.out, &n);

		CHECK_EQ_INT(n, 4); /* header + 3 */
		for (size_t k = 1; k < n; k++) {
			squeeze(lines[k]);
			char n0[80], n1[80];

			snprintf(n0, sizeof(n0), " %s ", cl->slaves[0].name);
			snprintf(n1, sizeof(n1), " %s ", cl->slaves[1].name);
			CHECK_CONTAINS(lines[k], " Run healthy ");
			CHECK(strstr(lines[k], n0) || strstr(lines[k], n1));
		}
		run_lines_free(lines);
	}
	run_result_free(&r);
	E2E(&r, "instances", "front", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	REQUIRE((j = json_loads(r.out, 0, NULL)) != NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "instances")), 2);
	json_array_foreach(json_object_get(j, "instances"), i, v) {
		CHECK_STR(json_string_value(json_object_get(v, "service")), "front");
		CHECK(json_integer_value(json_object_get(v, "pid")) > 0);
	}
	json_decref(j);
	run_result_free(&r);

	E2E(&r, "nodes");
	CHECK_EQ_INT(r.status, 0);
	squeeze(r.out);
	CHECK_CONTAINS(r.out, "NAME ADDRESS STATE HEARTBEAT CPU MEMORY INSTANCES\n");
	snprintf(want, sizeof(want), "%s 127.0.0.1:%d Ready ", cl->slaves[0].name,
	    cl->slaves[0].port);
	CHECK_CONTAINS(line_starting(line, sizeof(line), r.out,
	    cl->slaves[0].name), want);
	CHECK_CONTAINS(line_starting(line, sizeof(line), r.out,
	    cl->slaves[1].name), " Ready ");
	/* CPU and MEMORY, used/total, as /v1/nodes has them (no service
	 * declares resources yet: 0 used; orchctl_e2e__nodes_usage has
	 * some). */
	for (size_t k = 0; k < 2; k++) {
		json_t *n = api_node(cl->slaves[k].name);

		REQUIRE(n != NULL);
		CHECK_EQ_INT(json_integer_value(json_object_get(n, "used_memory")), 0);
		usage_cols(want, sizeof(want), n);
		CHECK_CONTAINS(line_starting(line, sizeof(line), r.out,
		    cl->slaves[k].name), want);
		json_decref(n);
	}
	run_result_free(&r);
	E2E(&r, "nodes", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	REQUIRE((j = json_loads(r.out, 0, NULL)) != NULL);
	CHECK_EQ_INT(json_array_size(json_object_get(j, "nodes")), 2);
	json_array_foreach(json_object_get(j, "nodes"), i, v) {
		CHECK(json_is_number(json_object_get(v, "cpu")));
		CHECK(json_is_integer(json_object_get(v, "memory")));
		CHECK(json_is_number(json_object_get(v, "used_cpu")));
		CHECK(json_is_integer(json_object_get(v, "used_memory")));
	}
	json_decref(j);
	run_result_free(&r);

	E2E(&r, "history");
	CHECK_EQ_INT(r.status, 0);
	squeeze(r.out);
	CHECK_CONTAINS(r.out, "SEQ COMMIT TIME AUTHOR RESULT MESSAGE REASON\n");
	{
		/* SEQ first: the row is the one that holds the commit. */
		const char *at = strstr(r.out, e2e_short);

		while (at != NULL && at > r.out && at[-1] != '\n')
			at--;
		CHECK_CONTAINS(line_starting(line, sizeof(line), at ? at : "", ""),
		    " succeeded ");
	}
	run_result_free(&r);
	E2E(&r, "history", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	REQUIRE((j = json_loads(r.out, 0, NULL)) != NULL);
	CHECK_STR(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "revisions"), 0), "commit")), e2e_sha);
	json_decref(j);
	run_result_free(&r);
}

TEST(orchctl_e2e__scale)
{
	struct run_result r;

	REQUIRE(cl != NULL);
	E2E(&r, "scale", "front", "3");
	CHECK_EQ_INT(r.status, 0);
	CHECK_STR(r.out, "front scaled to 3 replicas.\n");
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_count(cl, "front", "Run") == 3, CL_WAIT));

	/* Outside min..max: refused with the bounds, nothing changes. */
	E2E(&r, "scale", "front", "4");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "cannot scale to 4: outside min..max 1..3");
	run_result_free(&r);
	E2E(&r, "scale", "front", "0");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "outside min..max 1..3");
	run_result_free(&r);
	E2E(&r, "scale", "nosuch", "1");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "not found");
	run_result_free(&r);
	/* Without the token: 401 and the hint. */
	ctl(&r, cl->url, NULL, "scale", "front", "2", NULL);
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "--token-file");
	run_result_free(&r);
	CHECK_EQ_INT(cluster_count(cl, "front", "Run"), 3);

	E2E(&r, "scale", "front", "2");
	CHECK_EQ_INT(r.status, 0);
	run_result_free(&r);
	CHECK(WAIT_FOR(cluster_count(cl, "front", NULL) == 2, CL_WAIT));
}

TEST(orchctl_e2e__invalid_commit)
{
	char sha[41], fname[64], line[2048];
	const char *yaml = e2e_manifest(5, "    colour: blue\n");
	struct manifest_errors errs;
	struct manifest *m = NULL;
	struct run_result r;
	json_t *j;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, yaml, sha) == 0);
	/* The errors orchctl must print are the library's for that text. */
	snprintf(fname, sizeof(fname), "orch.yaml@%.7s", sha);
	manifest_errors_init(&errs);
	CHECK(manifest_parse(&m, &errs, yaml, strlen(yaml), fname) < 0);
	CHECK(errs.n >= 2);

	E2E(&r, "apply", "--ref", sha, "--wait");
	CHECK_EQ_INT(r.status, 1);
	CHECK_STR(r.out, "");
	CHECK_CONTAINS(r.err, "invalid manifest");
	for (size_t k = 0; k < errs.n; k++) {
		manifest_error_format(line, sizeof(line), &errs.v[k]);
		strcat(line, "\n");
		CHECK_CONTAINS(r.err, line);
	}
	CHECK_CONTAINS(r.err, ": services.front.replicas: ");
	CHECK_CONTAINS(r.err, ": services.front.colour: ");
	manifest_free(m);
	manifest_errors_free(&errs);
	run_result_free(&r);

	/* A rejected manifest changed nothing. */
	E2E(&r, "status", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	REQUIRE((j = json_loads(r.out, 0, NULL)) != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(j,
	    "revision"), "commit")), e2e_sha);
	json_decref(j);
	run_result_free(&r);

	E2E(&r, "apply", "--ref", "no-such-branch");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "unknown ref");
	run_result_free(&r);
}

TEST(orchctl_e2e__events)
{
	/* --since 0: the past first (plain -f shows only new events). */
	const char *args[] = {"events", "-f", "--since", "0", "-o", "json", NULL};
	char out[4400], err[4400], *o;
	struct run_result r;
	json_t *j;
	pid_t pid;

	REQUIRE(cl != NULL);
	E2E(&r, "events");
	CHECK_EQ_INT(r.status, 0);
	squeeze(r.out);
	CHECK_CONTAINS(r.out, " back back-");
	CHECK_CONTAINS(r.out, " -> Run ");
	CHECK_CONTAINS(r.out, " front front-");
	run_result_free(&r);
	/* One line per event the API holds. */
	E2E(&r, "events", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	REQUIRE((j = json_loads(r.out, 0, NULL)) != NULL);
	{
		size_t nev = json_array_size(json_object_get(j, "events")), n = 0;
		struct run_result t;
		char **lines;

		E2E(&t, "events");
		lines = run_lines(t.out, &n);
		CHECK(nev > 0);
		CHECK(n >= nev); /* more may have happened in between */
		run_lines_free(lines);
		run_result_free(&t);
	}
	json_decref(j);
	run_result_free(&r);

	/* -f: the past, then what a scale does now, until Ctrl-C. */
	snprintf(out, sizeof(out), "%s/e2e-events.out", work_dir);
	snprintf(err, sizeof(err), "%s/e2e-events.err", work_dir);
	pid = spawn_ctl_at(cl->url, cl->token_file, out, err, args);
	REQUIRE(pid > 0);
	CHECK(wait_for_text(out, "\"to\":\"Run\"", 20000));
	E2E(&r, "scale", "front", "3");
	CHECK_EQ_INT(r.status, 0);
	run_result_free(&r);
	CHECK(wait_for_text(out, "scale to 3", 20000));
	CHECK(WAIT_FOR(cluster_count(cl, "front", "Run") == 3, CL_WAIT));
	o = slurp(err);
	CHECK_STR(o, ""); /* the controller's idle stream needs no word */
	free(o);

	/* The controller goes away and comes back: orchctl says so once,
	 * resumes after the last event it printed, repeats none. */
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	CHECK(wait_for_text(err, "lost the event stream", 20000));
	REQUIRE(cluster_ctl_start(cl) == 0);
	CHECK(wait_for_text(err, "is back", 20000));
	E2E(&r, "scale", "front", "2");
	CHECK_EQ_INT(r.status, 0);
	run_result_free(&r);
	CHECK(wait_for_text(out, "scale to 2", 20000));
	CHECK_EQ_INT(interrupt_ctl(pid), 0);
	/* One compact event a line, each seq once, in order. */
	o = slurp(out);
	{
		size_t n = 0;
		char **lines = run_lines(o, &n);
		long long last = 0;

		CHECK(n > 0);
		for (size_t k = 0; k < n; k++) {
			json_t *ev = json_loads(lines[k], 0, NULL);
			long long seq = json_integer_value(json_object_get(ev,
			    "seq"));

			if (ev == NULL || seq <= last)
				check_fail(__FILE__, __LINE__, "events -f line %zu "
				    "(seq %lld after %lld): %s", k, seq, last,
				    lines[k]);
			last = seq;
			json_decref(ev);
		}
		run_lines_free(lines);
	}
	free(o);
	o = slurp(err);
	CHECK(strstr(o, "Sanitizer") == NULL);
	free(o);
	CHECK(WAIT_FOR(cluster_count(cl, "front", NULL) == 2, CL_WAIT));
}

/* A release whose health check fails: the controller stops the rollout
 * and rolls back (Failed, Rollback, or back at the old version, as it
 * reports it), and apply --wait exits 1 saying why, without waiting for
 * its timeout. */
TEST(orchctl_e2e__apply_wait_failed)
{
	char yaml[4096], sha[41], want[256];
	struct run_result r;

	REQUIRE(cl != NULL);
	/* front 2.0.0 -> 2.1.0, which never turns healthy. */
	snprintf(yaml, sizeof(yaml), "%s", e2e_manifest_v(2, "2.1.0",
	    ", \"--fail-health\"", "    strategy: {type: rolling, "
	    "auto_rollback: true, progress_deadline: 2s}\n"));
	REQUIRE(cluster_commit(cl, yaml, sha) == 0);
	E2E(&r, "apply", "--wait", "--timeout", "40s");
	CHECK_EQ_INT(r.status, 1);
	/* Failed, or already rolling back from it: either way this
	 * revision will not run, and orchctl says so without waiting for
	 * the timeout. */
	snprintf(want, sizeof(want), "rollout of revision %.7s failed: service "
	    "front ", sha);
	CHECK_CONTAINS(r.err, want);
	CHECK(strstr(r.err, "timed out") == NULL);
	/* The progress showed the rollout on its way there. */
	CHECK_CONTAINS(r.out, "~ front 2.0.0 -> 2.1.0 (rollout: version, "
	    "command; in place: strategy)\n");
	CHECK_CONTAINS(r.out, "front   Update ");
	run_result_free(&r);
	/* What orchctl called a failure is one: 2.1.0 is not running. */
	{
		json_t *j = cluster_get(cl, "/v1/instances"), *in;
		size_t i;

		REQUIRE(j != NULL);
		json_array_foreach(json_object_get(j, "instances"), i, in) {
			const char *v = json_string_value(json_object_get(in,
			    "version"));
			const char *st = json_string_value(json_object_get(in,
			    "state"));

			CHECK(!(v && st && strcmp(v, "2.1.0") == 0 &&
			    strcmp(st, "Run") == 0));
		}
		json_decref(j);
	}
}

TEST(orchctl_e2e__drain)
{
	char line[512];
	struct run_result r;

	REQUIRE(cl != NULL);
	E2E(&r, "drain", cl->slaves[1].name);
	CHECK_EQ_INT(r.status, 0);
	CHECK_CONTAINS(r.out, "is draining");
	run_result_free(&r);
	E2E(&r, "nodes");
	CHECK_EQ_INT(r.status, 0);
	squeeze(r.out);
	CHECK_CONTAINS(line_starting(line, sizeof(line), r.out,
	    cl->slaves[1].name), " Draining ");
	run_result_free(&r);
	E2E(&r, "drain", "no-such-node");
	CHECK_EQ_INT(r.status, 1);
	CHECK_CONTAINS(r.err, "not found");
	run_result_free(&r);
}

/* front's instances reserve resources: `orchctl nodes` shows what they
 * hold of each node's capacity, exactly, and -o json passes it through.
 * Node 1 drains (orchctl_e2e__drain), so both run on node 0. */
static bool
node0_holds(double cpu, long long memory)
{
	json_t *n = api_node(cl->slaves[0].name);
	bool ok = n != NULL &&
	    json_number_value(json_object_get(n, "used_cpu")) == cpu &&
	    json_integer_value(json_object_get(n, "used_memory")) == memory;

	json_decref(n);
	return ok;
}

TEST(orchctl_e2e__nodes_usage)
{
	char line[512], want[256];
	struct run_result r;
	json_t *j, *v, *n;
	size_t i;

	REQUIRE(cl != NULL);
	REQUIRE(cluster_commit(cl, e2e_manifest(2,
	    "    resources: {cpu: 250m, memory: 64M}\n"), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(cluster_service_is(cl, "front", "Run") &&
	    cluster_count(cl, "front", NULL) == 2 &&
	    node0_holds(0.5, 128LL << 20), CL_WAIT));

	E2E(&r, "nodes");
	CHECK_EQ_INT(r.status, 0);
	squeeze(r.out);
	REQUIRE((n = api_node(cl->slaves[0].name)) != NULL);
	snprintf(want, sizeof(want), " 0.5/%g 128M/",
	    json_number_value(json_object_get(n, "cpu")));
	CHECK_CONTAINS(line_starting(line, sizeof(line), r.out,
	    cl->slaves[0].name), want);
	usage_cols(want, sizeof(want), n);
	CHECK_CONTAINS(line_starting(line, sizeof(line), r.out,
	    cl->slaves[0].name), want);
	json_decref(n);
	REQUIRE((n = api_node(cl->slaves[1].name)) != NULL);
	snprintf(want, sizeof(want), " 0/%g 0/",
	    json_number_value(json_object_get(n, "cpu")));
	CHECK_CONTAINS(line_starting(line, sizeof(line), r.out,
	    cl->slaves[1].name), want);
	json_decref(n);
	run_result_free(&r);

	E2E(&r, "nodes", "-o", "json");
	CHECK_EQ_INT(r.status, 0);
	REQUIRE((j = json_loads(r.out, 0, NULL)) != NULL);
	json_array_foreach(json_object_get(j, "nodes"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		bool first = name && strcmp(name, cl->slaves[0].name) == 0;

		CHECK(json_number_value(json_object_get(v, "used_cpu")) == (first ? 0.5 : 0));
		CHECK_EQ_INT(json_integer_value(json_object_get(v, "used_memory")),
		    first ? 128LL << 20 : 0);
		CHECK(json_number_value(json_object_get(v, "cpu")) > 0);
		CHECK(json_integer_value(json_object_get(v, "memory")) > 0);
	}
	json_decref(j);
	run_result_free(&r);
}

TEST(orchctl_e2e__cleanup)
{
	if (cl == NULL)
		return;
	/* The controller served every call above and stops cleanly (under
	 * ASan: without a leak). */
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(orchctl_client__usage_errors, orchctl_client__bad_controller_url,
    orchctl_client__help, orchctl_client__unreachable,
    orchctl_client__unreachable_env_and_dns, orchctl_client__status,
    orchctl_client__instances_nodes_history, orchctl_client__token,
    orchctl_client__scale_and_drain, orchctl_client__apply,
    orchctl_client__apply_wait, orchctl_client__events,
    orchctl_client__events_follow_reconnects, orchctl_client__logs,
    orchctl_client__logs_follow_big,
    orchctl_e2e__apply_wait, orchctl_e2e__tables_and_json, orchctl_e2e__scale,
    orchctl_e2e__invalid_commit, orchctl_e2e__events, orchctl_e2e__apply_wait_failed, orchctl_e2e__drain,
    orchctl_e2e__nodes_usage, orchctl_e2e__cleanup)
