/*
 * run.h - run a program as a test would from a shell: argv, working
 * directory, extra environment; capture stdout, stderr and the exit
 * status, with a timeout so a hung child fails the test instead of CTest.
 */
#ifndef ORCH_TEST_RUN_H
#define ORCH_TEST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct run_result {
	int status;   /* exit code; 128+N when killed by signal N; -1 unknown */
	bool timed_out;
	char *out;    /* stdout, NUL-terminated (never NULL after success) */
	size_t out_len;
	char *err;    /* stderr, NUL-terminated */
	size_t err_len;
};

/*
 * Run argv[0] (searched in PATH when it has no '/') with argv, in dir (NULL:
 * the current directory), with env entries "NAME=value" added to (or
 * replacing those of) the current environment (env NULL-terminated, may
 * be NULL), stdin from /dev/null. Waits at most timeout_ms, then kills the
 * child's process group. 0, or ORCH_ERROR with orch_err_last() when the
 * program could not be started (exec failure gives status 127).
 * out is reset first and must be freed with run_result_free().
 */
int run_capture(struct run_result *out, const char *const *argv,
    const char *dir, const char *const *env, int64_t timeout_ms);
void run_result_free(struct run_result *r);

/* The lines of text as a NULL-terminated array of strings (without the
 * '\n'; a final line without '\n' counts). Free with run_lines_free(). */
char **run_lines(const char *text, size_t *out_n);
void run_lines_free(char **lines);

/*
 * Run orchctl (ORCH_BUILD_DIR/orchctl/orchctl) with the arguments that
 * follow (NULL-terminated), in dir (NULL: here), against url (NULL: no
 * --controller), authenticated by token_file (--token-file) or else by
 * token (ORCH_TOKEN); either may be NULL. The caller's ORCH_CONTROLLER and
 * ORCH_TOKEN never leak in. Fails the test when orchctl cannot be run,
 * takes over two minutes or prints a sanitizer report; ORCH_TEST_VERBOSE
 * echoes each run. The one orchctl runner of the integration tests.
 */
void run_orchctl(struct run_result *r, const char *dir, const char *url,
    const char *token_file, const char *token, ...);

#endif
