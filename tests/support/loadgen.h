/*
 * loadgen.h - a small HTTP load generator for the traffic tests: conns
 * keep-alive connections to 127.0.0.1:port, each a thread sending
 * "GET path" one after the other, for a duration or a request count.
 *
 * It counts answers by status code, connection errors (refused, reset,
 * closed or timed out before a whole answer), and tallies the answers by
 * the "version" field of their JSON body (the demo httpapp's), with the
 * time window in which each version answered, so a test can prove zero
 * failed requests, canary shares, and that a switch was clean: a version
 * seen only from first_done_ms on, another only for requests sent up to
 * last_sent_ms.
 *
 *   struct loadgen *lg;
 *   loadgen_start(&lg, &(struct loadgen_opts){.port = p, .conns = 8,
 *       .duration_ms = 3000});
 *   ... change the routing ...
 *   loadgen_wait(&res, lg);          // joins, frees lg
 *   CHECK_EQ_INT(loadgen_failed(&res), 0);
 *
 * Times are orch_mono_ms(). Functions return 0 or a negative ORCH_E*.
 */
#ifndef ORCH_TEST_LOADGEN_H
#define ORCH_TEST_LOADGEN_H

#include <stddef.h>
#include <stdint.h>

#define LOADGEN_MAX_VERSIONS 16

struct loadgen_opts {
	int port;              /* on 127.0.0.1 */
	int conns;             /* connections (threads); default 4, max 64 */
	int64_t duration_ms;   /* stop after this long (0: no time limit) */
	long requests;         /* stop after this many sent (0: no count limit) */
	const char *path;      /* default "/" */
	int64_t timeout_ms;    /* per request; default 2000 */
};

struct loadgen_version {
	char name[64];         /* the body's "version" */
	long count;
	int64_t first_done_ms; /* earliest time an answer of it was read */
	int64_t last_sent_ms;  /* latest send time of a request it answered */
};

struct loadgen_result {
	long sent;             /* requests written */
	long answered;         /* whole responses read */
	long status[600];      /* answers by status code */
	long conn_errors;      /* requests lost to the connection */
	long connects;         /* connections opened */
	long no_version;       /* 2xx answers without a "version" */
	size_t nversions;
	struct loadgen_version versions[LOADGEN_MAX_VERSIONS];
	int64_t elapsed_ms;
	char first_error[160]; /* the first connection error, for the report */
};

struct loadgen;

/* Start the threads; at least one of duration_ms, requests must be set. */
int loadgen_start(struct loadgen **out, const struct loadgen_opts *o);
/* Ask the threads to stop after their current request. */
void loadgen_stop(struct loadgen *lg);
/* Wait for the end (the limits, or loadgen_stop), merge, free lg. */
int loadgen_wait(struct loadgen_result *out, struct loadgen *lg);
/* loadgen_start + loadgen_wait. */
int loadgen_run(struct loadgen_result *out, const struct loadgen_opts *o);

/* Answers so far, while running (for wait_for conditions). */
long loadgen_progress(const struct loadgen *lg);

/* Failed requests: connection errors plus answers not 2xx. */
long loadgen_failed(const struct loadgen_result *r);
/* The tally of version v, or NULL when it never answered. */
const struct loadgen_version *loadgen_version(const struct loadgen_result *r,
    const char *v);
/* One line of figures: "sent=.. ok=.. failed=.. v1=90.1% v2=9.9% ..." */
void loadgen_summary(char *buf, size_t len, const struct loadgen_result *r);

#endif
