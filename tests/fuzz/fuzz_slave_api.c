/*
 * fuzz_slave_api.c - libFuzzer target: HTTP requests to orch-slave's API,
 * through the real server and the real handlers.
 *
 * Input format: see api_fuzz.h (up to 4 requests "METHOD TARGET\n",
 * headers, "\n", body, separated by "\n@@@\n"; the right token unless
 * the input brings its own Authorization line). Example:
 *
 *     POST /v1/instances
 *
 *     {"id":"web-0","service":"web","version":"1.0.0","kind":"cattle",
 *      "command":["/bin/true"]}
 *     @@@
 *     GET /v1/instances/web-0/logs?stream=stderr&tail=10
 *
 * The slave is a real struct slave set up as slave/main.c does it
 * (loop_init, report_init, cgroup_detect, state_load, orphan_sweep,
 * api_start) with
 * its data dir in a fresh temp dir, standalone (no controller), no
 * cgroups, a 64 KiB body cap (so oversized bodies fit in an input). Its
 * server listens on 127.0.0.1:0; each request goes over a loopback socket
 * and the slave's loop pieces turn on this thread until the answer is
 * complete (slave_turn below, the body of loop_run without the sleep).
 *
 * No process is ever started. A valid start request would fork/exec its
 * command; instead, this program defines fork(), vfork() and (for clone
 * and clone3) syscall() itself. The executable's own definitions take
 * precedence over libc's for every caller in the process (symbol
 * interposition), so the slave's spawn fails with EAGAIN exactly as it
 * does when a process limit is hit: the instance goes through the
 * daemon's real spawn-error path (Failed or backoff). The daemon's code
 * is unchanged, and the sanitizer runtimes make their own raw system
 * calls, unaffected. Artifact downloads cannot leave the machine either:
 * http_proxy points at a closed local port (file:// URLs read local files
 * only, as in the daemon).
 *
 * Between inputs every instance is freed and the instances/ dir removed,
 * so each input starts from an empty slave (deterministic; inputs do not
 * pile up thousands of instances).
 *
 * Built with -DORCH_FUZZ=ON (scripts/fuzz fuzz_slave_api); replayed in the
 * normal suite by tests/integration/test_api_corpus.c (-DORCH_FUZZ_REPLAY).
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "api_fuzz.h"
#include "err.h"
#include "evloop.h"
#include "gitrepo.h"
#include "log.h"
#include "slave.h"

/* ---- no process is started (see above) --------------------------- */

pid_t
fork(void)
{
	errno = EAGAIN;
	return -1;
}

pid_t
vfork(void)
{
	errno = EAGAIN;
	return -1;
}

long
syscall(long nr, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;

	if (nr == SYS_clone
#ifdef SYS_clone3
	    || nr == SYS_clone3
#endif
	    ) {
		errno = EAGAIN;
		return -1;
	}
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (real == NULL && (real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall")) == NULL)
		abort();
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- the slave ---------------------------------------------------- */

static struct slave sl;
static char *sl_dir;
static struct fuzz_daemon sl_daemon;

/* One turn of slave/loop.c's loop_run without its sleep: events
 * (signals, transfers, fetches), the HTTP server, timers, the end of
 * the turn (removed instances, the state file, the waiting answers). */
static void
slave_turn(void *arg)
{
	struct slave *s = arg;
	int64_t now;

	evloop_wait(s->loop, 0);
	httpd_run(s->httpd);
	now = orch_mono_ms();
	sv_tick(s, now);
	health_tick(s, now);
	report_tick(s, now);
	inst_reap_removed(s);
	if (s->state_dirty)
		state_save(s);
	api_acks_flush(s);
}

static void
slave_fuzz_cleanup(void)
{
	if (sl_dir != NULL)
		gitrepo_rmtree(sl_dir);
}

static int
slave_fuzz_init(void)
{
	static char token[] = "fuzz-slave-token";

	/* Any HTTP transfer (artifact fetch) fails at once, on this host. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("https_proxy", "http://127.0.0.1:1", 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	log_init("orch-slave", getenv("ORCH_FUZZ_TRACE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, NULL);
	fuzz_scratch_root();
	if (gitrepo_mkdtemp(&sl_dir, "fuzz-slave") < 0)
		goto fail;
	atexit(slave_fuzz_cleanup);
	/* What main.c's options would set. */
	sl.cfg.name = "fuzz-node";
	sl.cfg.listen = "127.0.0.1:0";
	sl.cfg.data_dir = sl_dir;
	sl.cfg.token = token;
	sl.cfg.cpu = 4;
	sl.cfg.memory = 8ull << 30;
	sl.cfg.port_lo = 40000;
	sl.cfg.port_hi = 40999;
	sl.cfg.heartbeat_ms = 2000;
	sl.cfg.max_body = 64 * 1024;
	sl.cfg.idle_timeout_ms = 10000;
	sl.cfg.log_max = 1024 * 1024;
	sl.cfg.no_cgroup = true;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || loop_init(&sl) < 0 ||
	    report_init(&sl) < 0)
		goto fail;
	cgroup_detect(&sl);
	if (state_load(&sl) < 0)
		goto fail;
	orphan_sweep(&sl);
	if (api_start(&sl) < 0)
		goto fail;
	sl_daemon.http = sl.httpd;
	sl_daemon.token = token;
	sl_daemon.turn = slave_turn;
	sl_daemon.arg = &sl;
	return 0;
fail:
	fprintf(stderr, "fuzz_slave_api: set-up failed: %s\n", orch_err_last());
	abort();
}

/* Back to an empty slave: every instance and its files gone. */
static void
slave_reset(void)
{
	struct instance *in;
	char path[4096];

	while ((in = sl.instances) != NULL) {
		sl.instances = in->next;
		inst_free(&sl, in);
	}
	sl.ninstances = 0;
	snprintf(path, sizeof(path), "%s/instances", sl_dir);
	gitrepo_rmtree(path);
	sl.state_dirty = true;
	state_save(&sl);
}

static int
slave_fuzz_one(const uint8_t *data, size_t size)
{
	fuzz_api_input(&sl_daemon, data, size);
	slave_reset();
	return 0;
}

#ifndef ORCH_FUZZ_REPLAY
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return slave_fuzz_init();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return slave_fuzz_one(data, size);
}
#endif
