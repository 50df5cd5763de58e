/*
 * daemon.h - integration-test fixture for the orch daemons (redis's
 * tests/support/server.tcl): start a real binary with arguments in a
 * fresh temp dir, capture its log, talk HTTP to it, wait for conditions,
 * stop it and check how it exited.
 *
 *   struct daemon *d;
 *   daemon_start(&d, daemon_binary("slave/orch-slave"), args, NULL);
 *   CHECK(WAIT_FOR(daemon_log_contains(d, "listening"), 10000));
 *   http_request(&r, "GET", url, token, NULL, 0, 5000);
 *   CHECK_EQ_INT(daemon_stop(d, SIGTERM, 10000), 0);
 *   daemon_free(d);
 *
 * Functions return 0 or a negative ORCH_E* with orch_err_last() set.
 */
#ifndef ORCH_TEST_DAEMON_H
#define ORCH_TEST_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "units.h"

/*
 * How much slower than natively the daemons run in this test run: 1,
 * or under valgrind (ORCH_TEST_VALGRIND set, scripts/valgrind-tests) 10,
 * and ORCH_TEST_TIME_FACTOR=N overrides both. Every bound of waiting in
 * the fixtures is multiplied by it (WAIT_FOR, wait_for, http_request,
 * run_capture, daemon_stop), and so are the daemons' own liveness
 * timings the tests pass (--node-suspect, --node-lost, --node-heartbeat,
 * --heartbeat; see exec_daemon in daemon.c): a memcheck'd daemon is
 * 10-30x slower, and a test must not fail merely for that. What a test
 * asserts does not change, only how long it waits for it.
 */
int64_t test_time_factor(void);

/* Poll cond every 20 ms until it holds or timeout_ms (times
 * test_time_factor()) passes; the value is whether it held. Never a bare
 * sleep as synchronisation. */
#define WAIT_FOR(cond, timeout_ms) __extension__ ({                     \
	int64_t wf_deadline_ = orch_mono_ms() + (int64_t)(timeout_ms) * test_time_factor(); \
	bool wf_ok_;                                                    \
	while (!(wf_ok_ = (cond)) && orch_mono_ms() < wf_deadline_)     \
		usleep(20000);                                          \
	wf_ok_; })

/* The same as a function: cond(arg) polled every 20 ms. */
bool wait_for(bool (*cond)(void *arg), void *arg, int64_t timeout_ms);

struct daemon {
	pid_t pid;        /* 0 once reaped */
	int status;       /* exit code; 128+N when killed by signal N */
	char *log_path;   /* stdout + stderr of the daemon */
};

/* A new empty directory under $ORCH_TEST_OUT (or /tmp); *out malloc'd. */
int daemon_tmpdir(char **out, const char *prefix);
/* Remove a directory tree; missing is fine. */
void daemon_rmtree(const char *path);
/* Path of a built binary, $ORCH_BUILD_DIR/rel (malloc'd). */
char *daemon_binary(const char *rel);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int daemon_free_port(int *out);

/* Start argv[0] with argv (NULL-terminated), cwd dir (NULL: ours), its
 * output appended to log_path. */
int daemon_start(struct daemon **out, const char *const *argv, const char *dir,
    const char *log_path);
/* Whether it still runs (reaps it if it exited). */
bool daemon_running(struct daemon *d);
/* Send sig and wait up to timeout_ms for the exit; returns the exit
 * status (see struct daemon) or -1 on timeout. */
int daemon_stop(struct daemon *d, int sig, int64_t timeout_ms);
/* SIGKILL if still running, reap, free. Accepts NULL. */
void daemon_free(struct daemon *d);
/* The log so far (malloc'd, "" when empty). */
char *daemon_log(const struct daemon *d);
bool daemon_log_contains(const struct daemon *d, const char *needle);

struct http_result {
	long status;      /* 0 when no answer */
	char *body;       /* NUL-terminated, never NULL after success */
	size_t len;
};

/* A body collected by libcurl: CURLOPT_WRITEFUNCTION http_collect,
 * CURLOPT_WRITEDATA &buf. p stays NUL-terminated; the caller frees it. */
struct http_buf {
	char *p;
	size_t len;
};
size_t http_collect(char *ptr, size_t size, size_t n, void *arg);

/* One blocking HTTP request; token NULL sends no Authorization. A
 * connection failure is status 0 with ORCH_EUNAVAIL. */
int http_request(struct http_result *out, const char *method, const char *url,
    const char *token, const char *body, size_t len, int64_t timeout_ms);
void http_result_free(struct http_result *r);
/* http_request + parse the body as JSON; *out_json NULL when it is not. */
int http_json(json_t **out_json, long *out_status, const char *method,
    const char *url, const char *token, const char *body);

/* Whether pid is alive and not a zombie (reads /proc/PID/stat). */
bool pid_alive(pid_t pid);
/* Write text to path (truncating). */
int write_file(const char *path, const char *text);
/* Read a whole small file (malloc'd) or NULL. */
char *read_file(const char *path);

/* write_file() for a credentials file: mode 0600, as the daemons
 * demand. */
int write_secret(const char *path, const char *text);
/* Entries of a dir, "." and ".." excluded; -1 when it cannot be read. */
int dir_entries(const char *path);

#endif
