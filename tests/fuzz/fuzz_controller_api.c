/*
 * fuzz_controller_api.c - libFuzzer target: HTTP requests to
 * orch-controller's API, through the real server and the real handlers.
 *
 * Input format: see api_fuzz.h (up to 4 requests "METHOD TARGET\n",
 * headers, "\n", body, separated by "\n@@@\n"; the right token unless
 * the input brings its own Authorization line). Example, an apply then a
 * scale of a service it created:
 *
 *     POST /v1/apply
 *
 *     {"ref":"v1"}
 *     @@@
 *     POST /v1/services/web/scale
 *
 *     {"replicas":3}
 *
 * The controller is a real struct ctl set up as controller/main.c does it
 * (store_open_sqlite, manifest_git_open, ctl_state_load, ctl_loop_init,
 * ctl_api_start) on a SQLite store in a temp dir and a real git repository
 * made once at start with libgit2 (tests/support/gitrepo): branch main,
 * tags v1 and v2, orch.yaml with two services. Its server listens on
 * 127.0.0.1:0; each request goes over a loopback socket and the
 * controller's loop pieces turn on this thread until the answer is
 * complete (ct_turn below, the body of ctl_loop_run without the sleep;
 * a reconcile runs in the turn a handler asked for one).
 *
 * No slave runs. A node registered by an input is a record only; any
 * command or log request the controller sends to it goes through
 * http_proxy, set to a closed local port, so it fails at once on this
 * host whatever address the input gave (no DNS, no traffic out).
 *
 * Between inputs the controller's state is dropped (as by a shutdown:
 * transfers aborted, commands, alerts and records freed, the store
 * closed) and set up again on an empty store, so each input starts from
 * a fresh controller; git, the server and open event streams stay up.
 *
 * Built with -DORCH_FUZZ=ON (scripts/fuzz fuzz_controller_api); replayed
 * in the normal suite by tests/integration/test_api_corpus.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_fuzz.h"
#include "controller.h"
#include "err.h"
#include "evloop.h"
#include "gitrepo.h"
#include "log.h"

static const char ct_manifest_v1[] =
    "architecture: fuzz\n"
    "services:\n"
    "  db:\n"
    "    version: \"1.0.0\"\n"
    "    kind: pet\n"
    "    command: [\"/bin/sleep\", \"1000\"]\n"
    "    ports: [pg]\n"
    "    replicas: 1\n"
    "  web:\n"
    "    version: \"1.0.0\"\n"
    "    command: [\"/bin/sleep\", \"1000\"]\n"
    "    ports: [http]\n"
    "    replicas: 2\n"
    "    depends_on: {db: \">=1.0.0\"}\n";
static const char ct_manifest_v2[] =
    "architecture: fuzz\n"
    "services:\n"
    "  db:\n"
    "    version: \"1.0.0\"\n"
    "    kind: pet\n"
    "    command: [\"/bin/sleep\", \"1000\"]\n"
    "    ports: [pg]\n"
    "    replicas: 1\n"
    "  web:\n"
    "    version: \"2.0.0\"\n"
    "    command: [\"/bin/sleep\", \"1000\"]\n"
    "    ports: [http]\n"
    "    replicas: 3\n"
    "    depends_on: {db: \">=1.0.0\"}\n";

static struct ctl ct;
static struct gitrepo *ct_repo;
static char *ct_dir;
static struct fuzz_daemon ct_daemon;

/* One turn of controller/loop.c's ctl_loop_run without its sleep. */
static void
ct_turn(void *arg)
{
	struct ctl *c = arg;
	int64_t now;

	evloop_wait(c->loop, 0);
	httpd_run(c->http);
	now = orch_mono_ms();
	ctl_nodes_tick(c, now);
	ctl_slaves_tick(c, now);
	ctl_alerts_tick(c, now);
	ctl_sse_tick(c, now);
	ctl_traffic_tick(c, now);
	if (c->kick && !c->quit) {
		c->kick = false;
		ctl_reconcile(c);
		ctl_traffic_sync(c);
	}
}

static void
ctl_fuzz_cleanup(void)
{
	if (ct_dir != NULL)
		gitrepo_rmtree(ct_dir);
	gitrepo_free(ct_repo);
}

/* A fresh store in ct_dir and the state loaded from it, as main.c. */
static int
ctl_fuzz_open_state(void)
{
	static const char *const files[] = {"state.db", "state.db-wal", "state.db-shm"};
	char path[4096];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", ct_dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/state.db", ct_dir);
	if (store_open_sqlite(&ct.store, path) < 0 || ctl_state_load(&ct) < 0)
		return ORCH_ERROR;
	return 0;
}

static int
ctl_fuzz_repo(void)
{
	if (gitrepo_create(&ct_repo) < 0 ||
	    gitrepo_write(ct_repo, "orch.yaml", ct_manifest_v1) < 0 ||
	    gitrepo_commit(NULL, ct_repo, "v1", NULL) < 0 ||
	    gitrepo_tag(ct_repo, "v1", "HEAD", NULL) < 0 ||
	    gitrepo_write(ct_repo, "orch.yaml", ct_manifest_v2) < 0 ||
	    gitrepo_commit(NULL, ct_repo, "v2", NULL) < 0 ||
	    gitrepo_tag(ct_repo, "v2", "HEAD", "second") < 0)
		return ORCH_ERROR;
	return 0;
}

static int
ctl_fuzz_init(void)
{
	static char token[] = "fuzz-controller-token";
	char path[4096];

	/* Commands and log requests to nodes fail at once, on this host. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	log_init("orch-controller", getenv("ORCH_FUZZ_TRACE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, NULL);
	fuzz_scratch_root();
	if (ctl_fuzz_repo() < 0 || gitrepo_mkdtemp(&ct_dir, "fuzz-controller") < 0)
		goto fail;
	atexit(ctl_fuzz_cleanup);
	/* What main.c's options would set. */
	ct.cfg.repo = gitrepo_path(ct_repo);
	ct.cfg.branch = "main";
	ct.cfg.manifest = "orch.yaml";
	ct.cfg.data_dir = ct_dir;
	ct.cfg.listen = "127.0.0.1:0";
	ct.cfg.node_suspect_ms = 3000;
	ct.cfg.node_lost_ms = 10000;
	ct.cfg.resync_ms = 5000;
	ct.cfg.haproxy_map = "/nonexistent/orch.map";
	ct.cfg.log_level = LOG_LEVEL_ERROR;
	ct.token = token;
	ct.start_mono = orch_mono_ms();
	snprintf(path, sizeof(path), "%s/git", ct_dir);
	if (manifest_git_open(&ct.git, ct.cfg.repo, path) < 0 || ctl_fuzz_open_state() < 0 ||
	    ctl_loop_init(&ct) < 0 || ctl_api_start(&ct) < 0)
		goto fail;
	ct_daemon.http = ct.http;
	ct_daemon.token = token;
	ct_daemon.turn = ct_turn;
	ct_daemon.arg = &ct;
	return 0;
fail:
	fprintf(stderr, "fuzz_controller_api: set-up failed: %s\n", orch_err_last());
	abort();
}

/* Drop the state as main.c's shutdown does, keep git, loop and server
 * (and the event streams still open: their client has left, and they end
 * at their next keep-alive, as in the daemon), and load an empty store
 * again. */
static void
ct_reset(void)
{
	struct ctl keep;

	evloop_curl_abort_all(ct.loop);
	ctl_slaves_free(&ct);
	ctl_alerts_free(&ct);
	ctl_state_free(&ct);
	store_close(ct.store);
	keep = ct;
	memset(&ct, 0, sizeof(ct));
	ct.cfg = keep.cfg;
	ct.token = keep.token;
	ct.git = keep.git;
	ct.http = keep.http;
	ct.loop = keep.loop;
	ct.sigw = keep.sigw;
	ct.httpdw = keep.httpdw;
	ct.sse = keep.sse;
	ct.start_mono = keep.start_mono;
	if (ctl_fuzz_open_state() < 0) {
		fprintf(stderr, "fuzz_controller_api: reset failed: %s\n", orch_err_last());
		abort();
	}
}

static int
ctl_fuzz_one(const uint8_t *data, size_t size)
{
	fuzz_api_input(&ct_daemon, data, size);
	ct_reset();
	return 0;
}

#ifndef ORCH_FUZZ_REPLAY
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return ctl_fuzz_init();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return ctl_fuzz_one(data, size);
}
#endif
