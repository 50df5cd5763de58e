/*
 * httpd.h - libmicrohttpd glue shared by the slave and the controller.
 *
 * One HTTP server driven from the caller's own event loop (redis ae.c
 * style, no thread per request): MHD runs in MHD_USE_EPOLL mode, and the
 * caller polls httpd_fd() for readability and wakes by httpd_timeout_ms(),
 * then calls httpd_run(). Requests are routed by method and a path pattern
 * whose ":name" segments capture ("/v1/instances/:id/logs"). The server
 * accumulates the body up to max_body (beyond: 413 without reading it when
 * Content-Length says so), checks "Authorization: Bearer TOKEN" on every
 * route not marked public (401 before any handler runs), answers unknown
 * paths 404 and wrong methods 405, and errors as {"error", "detail"}.
 * Slow or idle clients are cut by conn_timeout_s; at most conn_limit
 * connections are open at once.
 */
#ifndef ORCH_HTTPD_H
#define ORCH_HTTPD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPD_MAX_PARAMS 4

struct httpd;

/* One request, lent to the handler for the duration of the call. */
struct httpd_req {
	const char *method;
	const char *path;
	const char *body;   /* NUL-terminated; "" when none */
	size_t body_len;
	const char *params[HTTPD_MAX_PARAMS]; /* ":name" captures, in order */
	size_t nparams;
	void *conn;         /* the MHD connection, for httpd_query() */
};

/* What the handler answers. body is malloc'd and taken by the server. */
struct httpd_resp {
	int status;
	char *body;
	size_t len;
	const char *content_type; /* static string; default application/json */
};

typedef void (*httpd_handler)(struct httpd_resp *out, const struct httpd_req *req,
    void *arg);

struct httpd_route {
	const char *method;  /* "GET", "POST", "DELETE", ... */
	const char *pattern; /* "/v1/instances/:id" */
	httpd_handler fn;
	bool public;         /* true: no token needed (/healthz) */
};

struct httpd_config {
	const char *listen;          /* "ADDR:PORT"; port 0 picks a free one */
	const struct httpd_route *routes;
	size_t nroutes;
	void *arg;                   /* passed to every handler */
	const char *token;           /* NULL: no auth at all (tests only) */
	size_t max_body;             /* default 1 MiB */
	unsigned conn_limit;         /* default 256 */
	unsigned conn_timeout_s;     /* default 30 */
};

/* Start listening. The config's strings must outlive the server. */
int httpd_start(struct httpd **out, const struct httpd_config *cfg);
/* The descriptor to poll for readability (an epoll fd). */
int httpd_fd(const struct httpd *h);
/* Milliseconds until httpd_run() is due regardless of I/O; -1 none. */
int64_t httpd_timeout_ms(const struct httpd *h);
/* Do all pending work without blocking. */
void httpd_run(struct httpd *h);
/* The port actually bound. */
int httpd_port(const struct httpd *h);
/* Stop and free; accepts NULL. */
void httpd_free(struct httpd *h);

/* Value of a query argument of the request, or NULL. Lent. */
const char *httpd_query(const struct httpd_req *req, const char *name);

/* Fill out with j serialised (j is stolen). */
void httpd_reply_json(struct httpd_resp *out, int status, json_t *j);
/* Fill out with {"error": error, "detail": printf(fmt)}. */
void httpd_reply_error(struct httpd_resp *out, int status, const char *error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Fill out with a text body (copied). */
void httpd_reply_text(struct httpd_resp *out, int status, const char *ctype,
    const char *text, size_t len);

/* Parse "ADDR:PORT" (IPv4 dotted quad or "localhost"). */
int httpd_parse_listen(char *out_addr, size_t addrlen, int *out_port, const char *s);

#endif
