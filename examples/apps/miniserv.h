/*
 * miniserv.h - the tiny HTTP/1.1 server core shared by the demo apps
 * (httpapp, kv). Plain libc on purpose: the demo apps stand in for "any
 * program a user deploys" and must not depend on orch.
 *
 * One thread, one poll() loop, non-blocking sockets, keep-alive and
 * pipelining, Content-Length bodies (no chunked uploads), Expect:
 * 100-continue. SIGTERM and SIGINT end ms_serve() cleanly (signalfd).
 */
#ifndef MINISERV_H
#define MINISERV_H

#include <stddef.h>
#include <stdint.h>

struct ms_request {
	char method[16];
	char path[2048];     /* the request target as sent, query included */
	const char *body;    /* not NUL-terminated; lent for the call */
	size_t bodylen;
};

struct ms_response {
	int status;
	const char *ctype;   /* static string */
	char *body;          /* malloc'd; the server frees it */
	size_t len;
};

/* Fill out from req. Called once per request. */
typedef void (*ms_handler)(struct ms_response *out,
    const struct ms_request *req, void *arg);
/* Called at least every 200 ms from the loop (timers of the app). */
typedef void (*ms_tick)(void *arg);

/* Listen on 127.0.0.1:port; the socket, or -1 with a message on stderr. */
int ms_listen(int port);
/* Serve lfd until SIGTERM/SIGINT; 0 on a clean stop, 1 on a fatal error. */
int ms_serve(int lfd, ms_handler h, ms_tick tick, void *arg);

/* Set out to a copy of body (len bytes). */
void ms_reply(struct ms_response *out, int status, const char *ctype,
    const void *body, size_t len);
/* Set out to a printf-formatted body. */
void ms_replyf(struct ms_response *out, int status, const char *ctype,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* JSON-escape s into dst (always NUL-terminated, truncated to fit). */
void ms_json_escape(char *dst, size_t len, const char *s);
/* CLOCK_MONOTONIC in ms. */
int64_t ms_now(void);

#endif
