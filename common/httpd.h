/*
 * httpd.h - libmicrohttpd glue shared by the slave and the controller.
 *
 * One HTTP server driven from the caller's own event loop (redis ae.c
 * style, no thread per request): MHD runs in MHD_USE_EPOLL mode, and the
 * caller polls httpd_fd() for readability and wakes by httpd_timeout_ms(),
 * then calls httpd_run(). Requests are routed by method and a path pattern
 * whose ":name" segments capture ("/v1/instances/:id/logs"). The server
 * accumulates the body up to max_body (beyond: 413 without reading it when
 * Content-Length says so), answers unknown paths 404 and wrong methods 405
 * (with Allow), and errors as {"error", "detail"}. HEAD is answered
 * wherever GET is, without the body.
 *
 * Before anything else, a head whose framing a proxy could read otherwise
 * (Content-Length with Transfer-Encoding, either twice, white space before
 * a colon, HTTP/1.1 without Host) or whose method is not a token is 400,
 * another transfer coding than chunked 501 (httpd_head.h).
 *
 * Every request is authenticated, then authorized, before any handler
 * runs and before its body is read (issue 12):
 * 1. authenticate: who is calling, as a struct orch_principal. A bearer
 *    token is looked up in the credentials (creds.h); on a read route a
 *    login session cookie (session.h) counts too. (A verified client
 *    certificate will take precedence here: authenticate() is the one
 *    place.) No credential: the principal's role is ORCH_ROLE_NONE.
 * 2. authorize: the route's rule against that principal
 *    (httpd_authorize): 401 when the caller is unknown (no or a wrong
 *    credential), 403 when known but not allowed.
 * The handler sees the principal in req->who (events record it).
 *
 * No client can starve another, before any authentication:
 * - idle clients are cut by conn_timeout_s, and a request must be read
 *   whole (headers and body) within read_timeout_s of its first byte (or
 *   of the previous answer on a kept-alive connection), however slowly
 *   it trickles in;
 * - one client address holds at most conn_per_addr connections: past it
 *   a new one takes the place of the address's oldest connection that
 *   has been reading a request for a second or more, or is refused;
 * - at most conn_limit connections are open; once all but conn_reserve
 *   are taken, each new connection makes room by closing the oldest one
 *   reading its request for a second or more (else the oldest stream),
 *   or is refused: a new client (a slave's heartbeat, an operator's
 *   write) gets in as soon as an abuser's connection is a second old;
 * - at most streams_max open streams, streams_per_addr per address: a
 *   new one past either bound ends the oldest of its address (else the
 *   oldest of all).
 *
 * Two kinds of answer must not hold the loop, so the server suspends
 * their connection (not polled, no timeout, no cost) and the loop resumes
 * it later:
 * - a deferred answer: a handler that waits for something else (the
 *   controller's log proxy waits for a slave) calls httpd_defer() and
 *   returns; the answer goes out when httpd_finish() hands it over;
 * - a stream, a body that stays open (Server-Sent Events):
 *   httpd_reply_stream(); its reader says when it has nothing to send, and
 *   the connection sleeps until httpd_stream_wake().
 * MHD cannot stop with suspended connections, so httpd_free() first
 * answers the deferred requests 503 and ends the streams.
 */
#ifndef ORCH_HTTPD_H
#define ORCH_HTTPD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "principal.h"

#define HTTPD_MAX_PARAMS 4

struct creds;
struct sessions;

/* Who may call a route (docs/security.md has the table). */
enum httpd_rule {
	HTTPD_PUBLIC,     /* anyone, no credential (/healthz, the login) */
	HTTPD_READ,       /* read or admin; anyone with public_read */
	HTTPD_ADMIN,      /* admin */
	HTTPD_NODE_SELF,  /* node:NAME where the route's first :param is NAME
	                     (none: the handler checks its body), or admin */
	HTTPD_CONTROLLER, /* controller (a slave's commands) */
	HTTPD_SCRAPE,     /* controller or read (a slave's /metrics) */
	HTTPD_READ_SECRET, /* read or admin, even with public_read (logs) */
	HTTPD_RULE_LAST
};

struct httpd;
struct httpd_call;   /* one request and its answer; the server's */
struct httpd_stream;
struct tls_server;

/* One request, lent to the handler for the duration of the call. */
struct httpd_req {
	const char *method;
	const char *path;
	const char *body;   /* NUL-terminated; "" when none */
	size_t body_len;
	const char *params[HTTPD_MAX_PARAMS]; /* ":name" captures, in order */
	size_t nparams;
	struct httpd_call *call; /* for httpd_query(), httpd_header(), httpd_defer() */
	const struct orch_principal *who; /* the caller (role NONE: anonymous) */
};

/* What the handler answers. body is malloc'd and taken by the server. */
struct httpd_resp {
	int status;
	char *body;
	size_t len;
	const char *content_type; /* static string; default application/json */
	struct httpd_stream *stream; /* set by httpd_reply_stream(): the body */
	char *set_cookie;            /* malloc'd Set-Cookie value, or NULL */
};

typedef void (*httpd_handler)(struct httpd_resp *out, const struct httpd_req *req,
    void *arg);

struct httpd_route {
	const char *method;  /* "GET", "POST", "DELETE", ... */
	const char *pattern; /* "/v1/instances/:id" */
	httpd_handler fn;
	enum httpd_rule rule;
};

struct httpd_config {
	const char *listen;          /* "ADDR:PORT"; port 0 picks a free one */
	const struct httpd_route *routes;
	size_t nroutes;
	void *arg;                   /* passed to every handler */
	const struct creds *creds;   /* who holds which token */
	const char *token;           /* no creds: this one token is admin
	                                (tests); neither: no auth at all */
	bool public_read;            /* HTTPD_READ routes need no credential */
	struct sessions *sessions;   /* login sessions, or NULL (no cookies) */
	size_t max_body;             /* default 1 MiB */
	unsigned conn_limit;         /* default 256 */
	unsigned conn_timeout_s;     /* idle; default 30 */
	unsigned read_timeout_s;     /* a whole request; default 10 */
	unsigned conn_per_addr;      /* default 64 */
	unsigned conn_reserve;       /* default conn_limit / 8 */
	unsigned streams_max;        /* default 64 */
	unsigned streams_per_addr;   /* default 8 */
	/* Optional, around every route's handler (after auth and body):
	 * guard may answer instead (fill out, return false: the handler does
	 * not run); after may change a synchronous answer (not a deferred
	 * one). The controller refuses writes it could not persist here. */
	bool (*guard)(struct httpd_resp *out, const struct httpd_req *req,
	    const struct httpd_route *route, void *arg);
	void (*after)(struct httpd_resp *out, const struct httpd_req *req,
	    const struct httpd_route *route, void *arg);
	/* HTTPS (tls.h); NULL: plain HTTP (a warning at start unless on
	 * loopback). Every client is asked for a certificate: one that fails
	 * verification is refused (401) on every route; a missing one on
	 * every route an anonymous caller may not call (a token alone is not
	 * enough); a verified one is the caller's principal, before any
	 * token, and the route's rule decides as for a token
	 * (httpd_peer_cert() tells the handler whose it is). */
	const struct tls_server *tls;
};

/* Whether who may call a route of rule: 0, 401 (unknown caller) or 403.
 * self: the route's first :param (NULL: none). */
int httpd_authorize(enum httpd_rule rule, const struct orch_principal *who,
    const char *self, bool public_read);
/* "public", "read", "admin", "node-self", "controller", "scrape",
 * "read-secret". */
const char *httpd_rule_name(enum httpd_rule rule);

/* Start listening. The config's strings must outlive the server. */
int httpd_start(struct httpd **out, const struct httpd_config *cfg);
/* The descriptor to poll for readability (an epoll fd). */
int httpd_fd(const struct httpd *h);
/* Milliseconds until httpd_run() is due regardless of I/O; -1 none. */
int64_t httpd_timeout_ms(const struct httpd *h);
/* Do all pending work without blocking. */
void httpd_run(struct httpd *h);
/* Connections closed by the limits above, since the start. */
struct httpd_stats {
	uint64_t read_timeouts;   /* request not read within read_timeout_s */
	uint64_t evicted;         /* closed to make room for a new client */
	uint64_t streams_dropped; /* ended by a newer stream past a bound */
	unsigned conns;           /* open now */
	unsigned streams;         /* open now */
};
void httpd_stats(struct httpd_stats *out, const struct httpd *h);
/* The same as Prometheus text (orch_http_connections, orch_http_streams,
 * orch_http_connections_cut_total{reason}); caller frees; NULL: ENOMEM. */
char *httpd_metrics_text(const struct httpd *h);
/* The port actually bound. */
int httpd_port(const struct httpd *h);
/* Stop and free; accepts NULL. */
void httpd_free(struct httpd *h);

/* Value of a query argument of the request, or NULL. Lent. */
const char *httpd_query(const struct httpd_req *req, const char *name);
/* Value of a request header (name in any case), or NULL. Lent. */
const char *httpd_header(const struct httpd_req *req, const char *name);

/* The verified client certificate's principal (tls.h), or NULL when the
 * request came without one (plain HTTP, or a public route). Lent. */
const struct orch_principal *httpd_peer_cert(const struct httpd_req *req);

/* Fill out with j serialised (j is stolen). */
void httpd_reply_json(struct httpd_resp *out, int status, json_t *j);
/* Fill out with {"error": error, "detail": printf(fmt)}. */
void httpd_reply_error(struct httpd_resp *out, int status, const char *error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Fill out with a text body (copied). */
void httpd_reply_text(struct httpd_resp *out, int status, const char *ctype,
    const char *text, size_t len);

/* From inside a route handler: answer later. The handler returns with
 * its reply unfilled (whatever it holds is dropped); the connection stays
 * suspended until httpd_finish(). Returns a lent handle, valid until
 * httpd_finish() or httpd_free() (which answers 503 "unavailable"; the
 * owner must then drop the handle unused). Calling it anywhere but in a
 * handler, or twice, is a broken invariant (fatalx). */
struct httpd_call *httpd_defer(const struct httpd_req *req);
/* Send the deferred request's answer; takes r's body (or stream). */
void httpd_finish(struct httpd_call *call, struct httpd_resp *r);

/* A stream's reader: copy at most max bytes of what comes next into buf
 * and return how many; 0 when there is nothing now (the connection sleeps
 * until httpd_stream_wake()); -1 to end the body. */
typedef ssize_t (*httpd_stream_read)(void *arg, char *buf, size_t max);
/* Fill out with a 200 whose body stays open (Cache-Control: no-cache):
 * read(arg) is called whenever the client can take more, and done(arg)
 * once when the stream is over (read ended it, the client left, the
 * server stopped). Returns the stream, lent until done(arg) runs; NULL
 * when out of memory, with done(arg) run and out holding a 500. */
struct httpd_stream *httpd_reply_stream(struct httpd_resp *out, const char *ctype,
    httpd_stream_read read, void (*done)(void *arg), void *arg);
/* There is more to read: wake the stream if it sleeps (else nothing). */
void httpd_stream_wake(struct httpd_stream *s);
/* Whether the stream sleeps: its reader had nothing to send. */
bool httpd_stream_asleep(const struct httpd_stream *s);

/* Parse "ADDR:PORT" (IPv4 dotted quad or "localhost"). */
int httpd_parse_listen(char *out_addr, size_t addrlen, int *out_port, const char *s);

#endif
