/*
 * http.c - the controller's HTTP server: libmicrohttpd in external epoll
 * mode, driven from loop.c, with the route table, bearer auth, body cap
 * and JSON errors of common/httpd.h (same route and handler types, same
 * reply helpers) plus one thing common/httpd does not do: a response that
 * stays open, for GET /v1/events/stream (Server-Sent Events).
 *
 * A stream is a callback response whose reader suspends the connection
 * when it has nothing to send (MHD_suspend_connection from the reader is
 * the documented way); events.c resumes it when the store has new events,
 * so the stream costs nothing while idle and never blocks the loop. MHD
 * forbids stopping a daemon with suspended connections, so ctl_http_free()
 * resumes them all first.
 *
 * A handler may also answer later (GET /v1/instances/ID/logs waits for a
 * slave): it calls ctl_http_defer() and returns without a reply; the
 * connection is suspended until ctl_http_finish() hands over the answer
 * and resumes it, and MHD calls the access handler again to send it. The
 * loop never waits for the slave. A deferred request still open when the
 * server stops is answered 503.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"

struct ctl_http {
	struct MHD_Daemon *mhd;
	struct httpd_config cfg;
	const char *stream_path;
	ctl_stream_open stream_open;
	int port;
	struct ctl_defer *cur;    /* the request whose handler runs now */
	struct ctl_defer *deferred; /* waiting for ctl_http_finish() */
};

enum defer_state { DEFER_NONE, DEFER_WAIT, DEFER_DONE };

/* Per-request state kept by MHD between calls of the access handler; the
 * handle of a deferred request. */
struct ctl_defer {
	struct ctl_defer *next;   /* in ctl_http.deferred while waiting */
	struct ctl_http *h;
	struct MHD_Connection *conn;
	char *body;
	size_t len, cap;
	bool too_big;
	enum defer_state defer;
	struct httpd_resp resp;   /* the late answer */
};

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("http: %s", buf);
}

static enum MHD_Result
send_resp(struct MHD_Connection *conn, struct httpd_resp *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->body == NULL) {
		/* Only out of memory gets here; answer without a body. */
		r->status = 500;
		r->len = 0;
	}
	resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
	    r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	MHD_add_response_header(resp, "Content-Type",
	    r->content_type ? r->content_type : "application/json");
	ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_error(struct MHD_Connection *conn, int status, const char *error, const char *detail)
{
	struct httpd_resp r = {0};

	httpd_reply_error(&r, status, error, "%s", detail);
	return send_resp(conn, &r);
}

/* Match path against pattern; captures go into req->params (pointers into
 * buf, a copy of path split at '/'). */
static bool
route_match(struct httpd_req *req, char *buf, size_t buflen, const char *pattern,
    const char *path)
{
	const char *p = pattern, *s = path;
	char *w = buf, *end = buf + buflen - 1;

	req->nparams = 0;
	while (*p && *s) {
		if (*p == ':') {
			if (*s == '/' || req->nparams == HTTPD_MAX_PARAMS)
				return false;
			req->params[req->nparams++] = w;
			while (*s && *s != '/' && w < end)
				*w++ = *s++;
			if (w >= end)
				return false;
			*w++ = '\0';
			while (*p && *p != '/')
				p++;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

static bool
token_ok(const struct ctl_http *h, struct MHD_Connection *conn)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	const char *want = h->cfg.token;
	unsigned char diff = 0;
	size_t n, m;

	if (want == NULL)
		return true;
	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	n = strlen(auth);
	m = strlen(want);
	/* Compare in time independent of where they differ. */
	for (size_t i = 0; i < m; i++)
		diff |= (unsigned char)(want[i] ^ (i < n ? auth[i] : 0));
	return diff == 0 && n == m;
}

static enum MHD_Result
open_stream(struct ctl_http *h, struct MHD_Connection *conn, const char *url)
{
	struct httpd_req req = {0};
	struct httpd_resp err = {0};
	struct MHD_Response *resp;
	enum MHD_Result ret;

	req.method = "GET";
	req.path = url;
	req.body = "";
	req.conn = conn;
	if ((resp = h->stream_open(h->cfg.arg, &req, &err)) == NULL)
		return send_resp(conn, &err);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct ctl_http *h = cls;
	struct ctl_defer *ctx = *con_cls;
	const struct httpd_route *route = NULL;
	struct httpd_resp resp = {0};
	struct httpd_req req = {0};
	bool path_known = false;
	char buf[1024];
	const char *cl;

	if (strlen(url) >= sizeof(buf))
		return send_error(conn, 414, "uri too long", "the path is too long");
	for (size_t i = 0; i < h->cfg.nroutes; i++) {
		if (!route_match(&req, buf, sizeof(buf), h->cfg.routes[i].pattern, url))
			continue;
		path_known = true;
		if (strcmp(method, h->cfg.routes[i].method) == 0) {
			route = &h->cfg.routes[i];
			break;
		}
	}
	if (ctx == NULL) {
		/* First call: only headers are known. Reject early so an
		 * unauthenticated or oversized body is never read. */
		if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
			return MHD_NO;
		*con_cls = ctx;
		if ((route == NULL || !route->public) && !token_ok(h, conn))
			return send_error(conn, 401, "unauthorized",
			    "missing or wrong bearer token");
		if (route == NULL)
			return path_known ?
			    send_error(conn, 405, "method not allowed", method) :
			    send_error(conn, 404, "not found", "no such path");
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > h->cfg.max_body)
			return send_error(conn, 413, "body too large",
			    "the request body is over the limit");
		return MHD_YES;
	}
	if (ctx->defer == DEFER_DONE) {
		/* Resumed by ctl_http_finish(): send the late answer. */
		ctx->defer = DEFER_NONE;
		return send_resp(conn, &ctx->resp);
	}
	if (ctx->defer == DEFER_WAIT) {
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (ctx->too_big || ctx->len + n > h->cfg.max_body) {
			/* Chunked bodies have no Content-Length: drop the rest. */
			ctx->too_big = true;
			return MHD_YES;
		}
		if (ctx->len + n + 1 > ctx->cap) {
			size_t cap = (ctx->len + n + 1) * 2;
			char *p = realloc(ctx->body, cap);

			if (p == NULL)
				return MHD_NO;
			ctx->body = p;
			ctx->cap = cap;
		}
		memcpy(ctx->body + ctx->len, upload_data, n);
		ctx->len += n;
		ctx->body[ctx->len] = '\0';
		return MHD_YES;
	}
	if (ctx->too_big)
		return send_error(conn, 413, "body too large", "the request body is over the limit");
	if (route == NULL)
		return send_error(conn, 404, "not found", "no such path");
	if (h->stream_path != NULL && strcmp(route->pattern, h->stream_path) == 0 &&
	    strcmp(method, "GET") == 0)
		return open_stream(h, conn, url);
	req.method = method;
	req.path = url;
	req.body = ctx->body ? ctx->body : "";
	req.body_len = ctx->len;
	req.conn = conn;
	ctx->conn = conn;
	ctx->h = h;
	h->cur = ctx;
	route->fn(&resp, &req, h->cfg.arg);
	h->cur = NULL;
	if (ctx->defer == DEFER_WAIT) {
		free(resp.body);
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	return send_resp(conn, &resp);
}

struct ctl_defer *
ctl_http_defer(struct ctl_http *h)
{
	struct ctl_defer *d = h->cur;

	if (d == NULL || d->defer != DEFER_NONE)
		fatalx("ctl_http_defer outside a handler");
	d->defer = DEFER_WAIT;
	d->next = h->deferred;
	h->deferred = d;
	return d;
}

void
ctl_http_finish(struct ctl_defer *d, struct httpd_resp *r)
{
	struct ctl_http *h = d->h;

	for (struct ctl_defer **pp = &h->deferred; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	d->next = NULL;
	d->resp = *r;
	r->body = NULL;
	d->defer = DEFER_DONE;
	MHD_resume_connection(d->conn);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct ctl_defer *ctx = *con_cls;

	if (ctx != NULL) {
		if (ctx->defer == DEFER_DONE)
			free(ctx->resp.body); /* the client left first */
		free(ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
}

int
ctl_http_start(struct ctl_http **out, const struct httpd_config *cfg,
    const char *stream_path, ctl_stream_open stream_open)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sin;
	struct ctl_http *h;
	char addr[64];
	int port, rc;

	*out = NULL;
	if ((rc = httpd_parse_listen(addr, sizeof(addr), &port, cfg->listen)) < 0)
		return rc;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	h->cfg = *cfg;
	h->stream_path = stream_path;
	h->stream_open = stream_open;
	if (h->cfg.max_body == 0)
		h->cfg.max_body = 1024 * 1024;
	if (h->cfg.conn_limit == 0)
		h->cfg.conn_limit = 256;
	if (h->cfg.conn_timeout_s == 0)
		h->cfg.conn_timeout_s = 30;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
	    (uint16_t)port, NULL, NULL, access_cb, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_CONNECTION_LIMIT, h->cfg.conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, h->cfg.conn_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
	    MHD_OPTION_END);
	if (h->mhd == NULL) {
		free(h);
		return orch_err_sys(ORCH_EUNAVAIL, "cannot listen on %s", cfg->listen);
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : port;
	*out = h;
	return 0;
}

int
ctl_http_fd(const struct ctl_http *h)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd,
	    MHD_DAEMON_INFO_EPOLL_FD);

	return info ? info->epoll_fd : -1;
}

int64_t
ctl_http_timeout_ms(const struct ctl_http *h)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (MHD_get_timeout(h->mhd, &t) != MHD_YES)
		return -1;
	return t > INT32_MAX ? INT32_MAX : (int64_t)t;
}

void
ctl_http_run(struct ctl_http *h)
{
	MHD_run(h->mhd);
}

int
ctl_http_port(const struct ctl_http *h)
{
	return h->port;
}

void
ctl_http_free(struct ctl_http *h)
{
	if (h == NULL)
		return;
	/* MHD cannot stop with suspended connections: answer the waiting
	 * ones. Their owners see their transfers aborted and let go. */
	while (h->deferred != NULL) {
		struct httpd_resp r = {0};

		httpd_reply_error(&r, 503, "unavailable", "the controller is stopping");
		ctl_http_finish(h->deferred, &r);
	}
	MHD_run(h->mhd);
	MHD_stop_daemon(h->mhd);
	free(h);
}
