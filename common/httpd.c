/*
 * httpd.c - libmicrohttpd in external epoll mode, see httpd.h.
 *
 * Deferred answers and idle streams park their connection with
 * MHD_suspend_connection (from the access handler or the content reader:
 * the documented places) and MHD_resume_connection brings it back; MHD
 * then calls the access handler again (to send the late answer) or the
 * reader. Suspend/resume is on for every server: it costs one eventfd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "creds.h"
#include "err.h"
#include "httpd.h"
#include "httpd_auth.h"
#include "httpd_head.h"
#include "log.h"
#include "tls.h"
#include "units.h"

/* One open connection as the limits see it (MHD's socket context). The
 * list is oldest first, so the first match of a walk is the oldest. */
struct httpd_conn {
	struct httpd_conn *next, *prev;
	struct MHD_Connection *conn;
	int fd;
	struct in_addr addr;
	int64_t reading_since;   /* mono ms the request being read began;
	                            0: read whole (handled, deferred, streaming) */
	bool cut;                /* shut down by a limit, not yet closed */
};

struct httpd {
	struct MHD_Daemon *mhd;
	struct httpd_config cfg;
	int port;
	struct httpd_call *cur;       /* the request whose handler runs now */
	struct httpd_call *deferred;  /* waiting for httpd_finish() */
	struct httpd_stream *streams; /* queued and not yet over, newest first */
	struct httpd_conn *conns, *conns_tail;
	struct httpd_stats stats;
	struct creds *own_creds;      /* from cfg.token, when no cfg.creds */
};

enum call_state { CALL_RUN, CALL_WAIT, CALL_DONE };

/* Per-request state kept by MHD between calls of the access handler; the
 * handle of a deferred request. */
struct httpd_call {
	struct httpd_call *next;  /* in httpd.deferred while CALL_WAIT */
	struct httpd *h;
	struct MHD_Connection *conn;
	char *body;
	size_t len, cap;
	bool too_big;
	enum call_state state;    /* RUN: reading, handling or answered */
	struct orch_principal who; /* authenticated on the first call */
	struct httpd_resp late;   /* CALL_DONE: the answer to send */
	bool has_peer;            /* peer holds a verified certificate's */
	struct orch_principal peer;
};

struct httpd_stream {
	struct httpd_stream *next; /* in httpd.streams once queued */
	struct httpd *h;           /* NULL until queued */
	struct MHD_Connection *conn;
	struct MHD_Response *resp; /* until queued */
	httpd_stream_read read;
	void (*done)(void *arg);
	void *arg;
	struct in_addr addr;       /* of its client, for streams_per_addr */
	bool asleep;               /* suspended by its reader */
	bool closing;              /* the server stops or a limit ends it:
	                              end it, read no more */
};

char *
httpd_metrics_text(const struct httpd *h)
{
	struct httpd_stats st;
	char *out = NULL;

	httpd_stats(&st, h);
	if (asprintf(&out,
	    "# HELP orch_http_connections Open connections to the HTTP API.\n"
	    "# TYPE orch_http_connections gauge\norch_http_connections %u\n"
	    "# HELP orch_http_streams Open streams (Server-Sent Events).\n"
	    "# TYPE orch_http_streams gauge\norch_http_streams %u\n"
	    "# HELP orch_http_connections_cut_total Connections closed by a limit: a request"
	    " not read in time, room made for a new client, a stream past its bound.\n"
	    "# TYPE orch_http_connections_cut_total counter\n"
	    "orch_http_connections_cut_total{reason=\"read_timeout\"} %llu\n"
	    "orch_http_connections_cut_total{reason=\"evicted\"} %llu\n"
	    "orch_http_connections_cut_total{reason=\"stream_dropped\"} %llu\n",
	    st.conns, st.streams, (unsigned long long)st.read_timeouts,
	    (unsigned long long)st.evicted, (unsigned long long)st.streams_dropped) < 0)
		return NULL;
	return out;
}

/* ---- limits: connections per address, reserve, read deadline --------- */

static struct httpd_conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Close hc from our side: MHD sees the end of the stream at its next
 * turn and closes the connection through its usual path. */
static void
conn_cut(struct httpd_conn *hc)
{
	if (hc->cut)
		return;
	hc->cut = true;
	shutdown(hc->fd, SHUT_RDWR);
}

/* The request on conn is read whole: no read deadline until the next. */
static void
conn_read_done(struct MHD_Connection *conn)
{
	struct httpd_conn *hc = conn_of(conn);

	if (hc != NULL)
		hc->reading_since = 0;
}

/* A connection reading its request for this long may be closed to make
 * room; a younger one is only waiting for its turn to be read (a burst
 * of connections is accepted before any of them is read). */
#define HTTPD_EVICT_AGE_MS 1000

/* The oldest connection reading a request since at least
 * HTTPD_EVICT_AGE_MS (of addr when addr is not NULL), other than except;
 * NULL when none. */
static struct httpd_conn *
oldest_reader(struct httpd *h, const struct in_addr *addr, const struct httpd_conn *except)
{
	int64_t before = orch_mono_ms() - HTTPD_EVICT_AGE_MS;

	for (struct httpd_conn *hc = h->conns; hc; hc = hc->next)
		if (hc != except && !hc->cut && hc->reading_since != 0 &&
		    hc->reading_since <= before &&
		    (addr == NULL || hc->addr.s_addr == addr->s_addr))
			return hc;
	return NULL;
}

static void stream_end(struct httpd *h, struct httpd_stream *s);

/* A new connection: past its address's bound, it takes the place of that
 * address's oldest slow reader (an address's idle keep-alives never lock
 * out its next request) or is refused; past all but the reserve, it takes
 * the place of the oldest slow reader of any address, else of the oldest
 * stream, else it is refused. The reserve keeps MHD below its own limit,
 * where it would refuse without asking us, so a new client can always
 * make room. */
static void
conn_admit(struct httpd *h, struct httpd_conn *nc)
{
	struct httpd_conn *victim;
	unsigned same = 0, n = 0;

	for (struct httpd_conn *hc = h->conns; hc; hc = hc->next) {
		if (hc->cut)
			continue;
		n++;
		same += hc->addr.s_addr == nc->addr.s_addr;
	}
	if (same > h->cfg.conn_per_addr) {
		victim = oldest_reader(h, &nc->addr, nc);
		conn_cut(victim ? victim : nc);
		h->stats.evicted++;
		if (victim == NULL)
			return;
		n--;
	}
	if (n + h->cfg.conn_reserve <= h->cfg.conn_limit)
		return;
	h->stats.evicted++;
	if ((victim = oldest_reader(h, NULL, nc)) != NULL) {
		conn_cut(victim);
	} else if (h->streams != NULL) {
		struct httpd_stream *s = h->streams;

		while (s->next != NULL)
			s = s->next;
		stream_end(h, s);
	} else {
		conn_cut(nc);
	}
}

static void
notify_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;
	struct httpd_conn *hc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (hc == NULL)
			return;
		*(hc->prev ? &hc->prev->next : &h->conns) = hc->next;
		*(hc->next ? &hc->next->prev : &h->conns_tail) = hc->prev;
		h->stats.conns--;
		free(hc);
		*socket_context = NULL;
		return;
	}
	if ((hc = calloc(1, sizeof(*hc))) == NULL)
		return; /* unlimited, but served: better than refusing */
	hc->conn = conn;
	hc->fd = (ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD)) ?
	    ci->connect_fd : -1;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_INET)
		hc->addr = ((const struct sockaddr_in *)ci->client_addr)->sin_addr;
	hc->reading_since = orch_mono_ms();
	hc->prev = h->conns_tail;
	*(h->conns_tail ? &h->conns_tail->next : &h->conns) = hc;
	h->conns_tail = hc;
	h->stats.conns++;
	*socket_context = hc;
	conn_admit(h, hc);
}

/* Cut every connection whose request is not read whole in time
 * (httpd_timeout_ms wakes the loop for the next deadline). */
static void
conns_expire(struct httpd *h, int64_t now)
{
	int64_t lim = (int64_t)h->cfg.read_timeout_s * 1000;

	for (struct httpd_conn *hc = h->conns; hc; hc = hc->next) {
		if (hc->cut || hc->reading_since == 0)
			continue;
		if (now - hc->reading_since >= lim) {
			log_debug("httpd: cut a connection from %s: request not read within %us",
			    inet_ntoa(hc->addr), h->cfg.read_timeout_s);
			conn_cut(hc);
			h->stats.read_timeouts++;
		}
	}
}

void
httpd_stats(struct httpd_stats *out, const struct httpd *h)
{
	unsigned n = 0;

	*out = h->stats;
	for (const struct httpd_stream *s = h->streams; s; s = s->next)
		n++;
	out->streams = n;
}

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("httpd: %s", buf);
}

void
httpd_reply_text(struct httpd_resp *out, int status, const char *ctype,
    const char *text, size_t len)
{
	out->status = status;
	out->content_type = ctype;
	out->body = malloc(len + 1);
	out->len = out->body ? len : 0;
	if (out->body) {
		memcpy(out->body, text, len);
		out->body[len] = '\0';
	}
}

void
httpd_reply_json(struct httpd_resp *out, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (s == NULL) {
		/* A string that is not UTF-8 (json_pack refuses it) or out of
		 * memory: still a JSON error, never an empty 500. */
		static const char fail[] =
		    "{\"error\":\"internal error\",\"detail\":\"cannot encode the answer\"}";

		status = 500;
		s = strdup(fail);
	}
	out->status = status;
	out->content_type = "application/json";
	out->body = s;
	out->len = s ? strlen(s) : 0;
}

void
httpd_reply_error(struct httpd_resp *out, int status, const char *error,
    const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	httpd_reply_json(out, status, json_pack("{s:s, s:s}", "error", error,
	    "detail", detail));
}

const char *
httpd_query(const struct httpd_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->call->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
httpd_header(const struct httpd_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->call->conn, MHD_HEADER_KIND, name);
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct httpd_stream *s = cls;
	ssize_t n;

	if (s->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if ((n = s->read(s->arg, buf, max)) < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n == 0) {
		/* Returning 0 alone would have MHD ask again at once, a busy
		 * loop: sleep until httpd_stream_wake(). */
		MHD_suspend_connection(s->conn);
		s->asleep = true;
	}
	return n;
}

/* MHD frees the response: the stream is over. */
static void
stream_free(void *cls)
{
	struct httpd_stream *s = cls;

	if (s->h != NULL) {
		for (struct httpd_stream **pp = &s->h->streams; *pp; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
	}
	s->done(s->arg);
	free(s);
}

struct httpd_stream *
httpd_reply_stream(struct httpd_resp *out, const char *ctype, httpd_stream_read read,
    void (*done)(void *arg), void *arg)
{
	struct httpd_stream *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		done(arg);
		httpd_reply_error(out, 500, "internal error", "out of memory");
		return NULL;
	}
	s->read = read;
	s->done = done;
	s->arg = arg;
	/* From here the response owns s: stream_free runs when it goes. */
	s->resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
	    stream_read, s, stream_free);
	if (s->resp == NULL) {
		stream_free(s);
		httpd_reply_error(out, 500, "internal error", "cannot open a stream");
		return NULL;
	}
	MHD_add_response_header(s->resp, "Content-Type", ctype);
	MHD_add_response_header(s->resp, "Cache-Control", "no-cache");
	out->status = 200;
	out->stream = s;
	return s;
}

void
httpd_stream_wake(struct httpd_stream *s)
{
	if (!s->asleep)
		return;
	s->asleep = false;
	MHD_resume_connection(s->conn);
}

bool
httpd_stream_asleep(const struct httpd_stream *s)
{
	return s->asleep;
}

/* End stream s now: its reader is not asked again, and its connection
 * is cut (a client that reads nothing would hold the last chunk). */
static void
stream_end(struct httpd *h, struct httpd_stream *s)
{
	struct httpd_conn *hc = conn_of(s->conn);

	if (s->closing)
		return;
	s->closing = true;
	h->stats.streams_dropped++;
	httpd_stream_wake(s);
	if (hc != NULL)
		conn_cut(hc);
}

/* A new stream s from addr is queued: past streams_per_addr the oldest of
 * its address ends, past streams_max the oldest of all. */
static void
streams_bound(struct httpd *h, struct httpd_stream *s)
{
	struct httpd_stream *oldest_same = NULL, *oldest = NULL;
	unsigned same = 0, n = 0;

	for (struct httpd_stream *t = h->streams; t; t = t->next) {
		if (t->closing)
			continue;
		n++;
		oldest = t;
		if (t->addr.s_addr == s->addr.s_addr) {
			same++;
			oldest_same = t;
		}
	}
	if (same > h->cfg.streams_per_addr && oldest_same != s)
		stream_end(h, oldest_same);
	else if (n > h->cfg.streams_max && oldest != s)
		stream_end(h, oldest);
}

static enum MHD_Result
send_stream(struct httpd *h, struct MHD_Connection *conn, struct httpd_stream *s)
{
	struct MHD_Response *resp = s->resp;
	struct httpd_conn *hc = conn_of(conn);
	enum MHD_Result ret;

	s->resp = NULL;
	s->conn = conn;
	if (hc != NULL)
		s->addr = hc->addr;
	ret = MHD_queue_response(conn, 200, resp);
	if (ret == MHD_YES) {
		s->h = h;
		s->next = h->streams;
		h->streams = s;
		streams_bound(h, s);
	}
	/* Queued, the connection holds the response; else this frees s. */
	MHD_destroy_response(resp);
	return ret;
}

/* Queue r; hname: one extra header (Allow on a 405), or NULL. */
static enum MHD_Result
send_resp_hdr(struct httpd *h, struct MHD_Connection *conn, struct httpd_resp *r,
    const char *hname, const char *hvalue)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	conn_read_done(conn);
	if (r->stream != NULL) {
		ret = send_stream(h, conn, r->stream);
		r->stream = NULL;
		return ret;
	}
	if (r->body == NULL) {
		/* Only out of memory gets here; answer without a body. */
		r->status = 500;
		r->len = 0;
	}
	resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
	    r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(r->body);
		free(r->set_cookie);
		return MHD_NO;
	}
	r->body = NULL;
	MHD_add_response_header(resp, "Content-Type",
	    r->content_type ? r->content_type : "application/json");
	if (hname != NULL)
		MHD_add_response_header(resp, hname, hvalue);
	if (r->set_cookie != NULL) {
		MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
		free(r->set_cookie);
		r->set_cookie = NULL;
	}
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_resp(struct httpd *h, struct MHD_Connection *conn, struct httpd_resp *r)
{
	return send_resp_hdr(h, conn, r, NULL, NULL);
}

/* Free a reply that will not be sent. */
static void
resp_drop(struct httpd_resp *r)
{
	free(r->body);
	r->body = NULL;
	free(r->set_cookie);
	r->set_cookie = NULL;
	if (r->stream != NULL)
		MHD_destroy_response(r->stream->resp); /* frees the stream */
	r->stream = NULL;
}

static enum MHD_Result
send_error(struct httpd *h, struct MHD_Connection *conn, int status, const char *error,
    const char *detail)
{
	struct httpd_resp r = {0};

	httpd_reply_error(&r, status, error, "%s", detail);
	return send_resp(h, conn, &r);
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

/* Authenticate and authorize (httpd_auth.c); false: answered 401/403. */
static bool
auth_ok(struct httpd *h, struct MHD_Connection *conn, struct httpd_call *call,
    const struct httpd_route *route, const struct httpd_req *req, enum MHD_Result *ret)
{
	char why[256];
	int st;

	st = httpd_auth_check(&call->who, why, sizeof(why), &h->cfg, route,
	    req->nparams > 0 ? req->params[0] : NULL, call->has_peer ? &call->peer : NULL,
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE));
	if (st == 0)
		return true;
	*ret = send_error(h, conn, st, st == 401 ? "unauthorized" : "forbidden", why);
	return false;
}

/* Whether s is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF), as jansson requires of every string. */
static bool
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n, cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		p += n + 1;
	}
	return true;
}

/* 405 for a path known with other methods, with the Allow field that
 * RFC 9110 requires. */
static enum MHD_Result
send_not_allowed(struct httpd *h, struct MHD_Connection *conn, const char *method,
    const char *url)
{
	struct httpd_resp r = {0};
	struct httpd_req req = {0};
	char allow[128] = "", buf[1024];
	size_t n = 0;

	for (size_t i = 0; i < h->cfg.nroutes; i++) {
		const char *m = h->cfg.routes[i].method;

		if (!route_match(&req, buf, sizeof(buf), h->cfg.routes[i].pattern, url))
			continue;
		n += snprintf(allow + n, sizeof(allow) - n, "%s%s%s", n ? ", " : "", m,
		    strcmp(m, "GET") == 0 ? ", HEAD" : "");
		if (n >= sizeof(allow))
			break;
	}
	httpd_reply_error(&r, 405, "method not allowed", "%s", method);
	return send_resp_hdr(h, conn, &r, MHD_HTTP_HEADER_ALLOW, allow);
}

/* ---- TLS: the client certificate, before any handler (tls.h) ------- */

const struct orch_principal *
httpd_peer_cert(const struct httpd_req *req)
{
	return req->call != NULL && req->call->has_peer ? &req->call->peer : NULL;
}

/* With TLS, verify the client's certificate, when it presents one, into
 * call->peer (authentication then takes it before any token). A
 * certificate that fails verification is refused (the answer is sent;
 * *out_ret says what to return to MHD); a missing one is decided by the
 * route's rule (httpd_auth_check). */
static bool
peer_check(struct httpd *h, struct MHD_Connection *conn, struct httpd_call *call,
    enum MHD_Result *out_ret)
{
	const union MHD_ConnectionInfo *ci;
	char why[512];

	if (h->cfg.tls == NULL)
		return true;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	switch (tls_peer_verify(ci ? ci->tls_session : NULL, &call->peer, why, sizeof(why))) {
	case TLS_PEER_OK:
		call->has_peer = true;
		break;
	case TLS_PEER_NONE:
		break;
	case TLS_PEER_REFUSED:
		log_info("httpd: refused a client certificate: %s", why);
		*out_ret = send_error(h, conn, 401, "unauthorized", why);
		return false;
	}
	return true;
}

/* The route of method on url (NULL: none), its ":name" captures into req
 * (held in buf); *path_known: some route has this path. */
static const struct httpd_route *
find_route(struct httpd *h, struct httpd_req *req, char *buf, size_t n,
    const char *method, const char *url, bool *path_known)
{
	*path_known = false;
	for (size_t i = 0; i < h->cfg.nroutes; i++) {
		const char *m = h->cfg.routes[i].method;

		if (!route_match(req, buf, n, h->cfg.routes[i].pattern, url))
			continue;
		*path_known = true;
		/* HEAD is GET without the body (MHD leaves the body out). */
		if (strcmp(method, m) == 0 || (strcmp(method, "HEAD") == 0 &&
		    strcmp(m, "GET") == 0))
			return &h->cfg.routes[i];
	}
	return NULL;
}

/* The first call of a request: only its head is known. Everything that
 * can be refused from the head is, here, so an unauthenticated or
 * oversized body is never read. */
static enum MHD_Result
first_call(struct httpd *h, struct MHD_Connection *conn, const struct httpd_route *route,
    bool path_known, const struct httpd_req *req, const char *method, const char *url,
    const char *version, void **con_cls)
{
	struct httpd_call *call = calloc(1, sizeof(*call));
	enum MHD_Result ret;
	const char *why, *cl;
	int refused;

	if (call == NULL)
		return MHD_NO;
	call->h = h;
	call->conn = conn;
	*con_cls = call;
	if ((refused = httpd_head_refused(conn, method, version, &why)) != 0)
		return send_error(h, conn, refused, refused == 501 ? "not implemented" :
		    "bad request", why);
	if (!peer_check(h, conn, call, &ret) || !auth_ok(h, conn, call, route, req, &ret))
		return ret;
	if (route == NULL)
		return path_known ? send_not_allowed(h, conn, method, url) :
		    send_error(h, conn, 404, "not found", "no such path");
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && strtoull(cl, NULL, 10) > h->cfg.max_body)
		return send_error(h, conn, 413, "body too large",
		    "the request body is over the limit");
	return MHD_YES;
}

/* A piece of the body: kept up to max_body; past it (chunked bodies have
 * no Content-Length) the rest is dropped and the answer will be 413. */
static enum MHD_Result
take_body(struct httpd *h, struct httpd_call *call, const char *data, size_t n)
{
	if (call->too_big || call->len + n > h->cfg.max_body) {
		call->too_big = true;
		return MHD_YES;
	}
	if (call->len + n + 1 > call->cap) {
		size_t cap = (call->len + n + 1) * 2;
		char *p = realloc(call->body, cap);

		if (p == NULL)
			return MHD_NO;
		call->body = p;
		call->cap = cap;
	}
	memcpy(call->body + call->len, data, n);
	call->len += n;
	call->body[call->len] = '\0';
	return MHD_YES;
}

/* The whole request is in: run the route's handler (through the guard
 * and after hooks) and answer, or park the connection for a deferred
 * answer. */
static enum MHD_Result
handle(struct httpd *h, struct MHD_Connection *conn, struct httpd_call *call,
    const struct httpd_route *route, struct httpd_req *req, const char *method,
    const char *url)
{
	struct httpd_resp resp = {0};

	req->method = method;
	req->path = url;
	req->body = call->body ? call->body : "";
	req->body_len = call->len;
	req->call = call;
	req->who = &call->who;
	if (h->cfg.guard != NULL && !h->cfg.guard(&resp, req, route, h->cfg.arg))
		return send_resp(h, conn, &resp);
	h->cur = call;
	route->fn(&resp, req, h->cfg.arg);
	h->cur = NULL;
	if (call->state != CALL_WAIT && h->cfg.after != NULL)
		h->cfg.after(&resp, req, route, h->cfg.arg);
	if (call->state == CALL_WAIT) {
		resp_drop(&resp);
		conn_read_done(conn);
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	return send_resp(h, conn, &resp);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct httpd_call *call = *con_cls;
	const struct httpd_route *route;
	struct httpd_req req = {0};
	bool path_known;
	char buf[1024];

	if (strlen(url) >= sizeof(buf))
		return send_error(h, conn, 414, "uri too long", "the path is too long");
	/* MHD has decoded %XX: a byte that is not UTF-8 would reach names
	 * and messages that JSON cannot carry. */
	if (!utf8_valid(url))
		return send_error(h, conn, 400, "bad request", "the path is not valid UTF-8");
	route = find_route(h, &req, buf, sizeof(buf), method, url, &path_known);
	if (call == NULL)
		return first_call(h, conn, route, path_known, &req, method, url, version,
		    con_cls);
	switch (call->state) {
	case CALL_DONE:
		/* Resumed by httpd_finish(): send the late answer. */
		call->state = CALL_RUN;
		return send_resp(h, conn, &call->late);
	case CALL_WAIT:
		/* Still waiting: park again. (Only a resume brings MHD back
		 * here, and httpd_finish() marks the call done first.) */
		MHD_suspend_connection(conn);
		return MHD_YES;
	case CALL_RUN:
		break;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		return take_body(h, call, upload_data, n);
	}
	if (call->too_big)
		return send_error(h, conn, 413, "body too large",
		    "the request body is over the limit");
	if (route == NULL) /* cannot happen: rejected on the first call */
		return send_error(h, conn, 404, "not found", "no such path");
	return handle(h, conn, call, route, &req, method, url);
}

struct httpd_call *
httpd_defer(const struct httpd_req *req)
{
	struct httpd_call *call = req->call;
	struct httpd *h = call->h;

	if (h->cur != call || call->state != CALL_RUN)
		fatalx("httpd_defer outside a route handler");
	call->state = CALL_WAIT;
	call->next = h->deferred;
	h->deferred = call;
	return call;
}

void
httpd_finish(struct httpd_call *call, struct httpd_resp *r)
{
	struct httpd *h = call->h;

	for (struct httpd_call **pp = &h->deferred; *pp; pp = &(*pp)->next)
		if (*pp == call) {
			*pp = call->next;
			break;
		}
	call->next = NULL;
	call->late = *r;
	r->body = NULL;
	r->stream = NULL;
	call->state = CALL_DONE;
	MHD_resume_connection(call->conn);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct httpd_call *call = *con_cls;
	struct httpd_conn *hc = conn_of(conn);

	/* Kept alive, the connection now waits for its next request: the
	 * read deadline counts from here. */
	if (hc != NULL && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		hc->reading_since = orch_mono_ms();
	if (call != NULL) {
		if (call->state == CALL_DONE)
			resp_drop(&call->late); /* the client left first */
		free(call->body);
		free(call);
		*con_cls = NULL;
	}
}

int
httpd_parse_listen(char *out_addr, size_t addrlen, int *out_port, const char *s)
{
	const char *colon = strrchr(s, ':');
	struct in_addr a;
	char host[64], *end;
	long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host) || colon == s)
		return orch_err_set(ORCH_EINVALID, "listen address \"%s\": want ADDR:PORT", s);
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &a) != 1)
		return orch_err_set(ORCH_EINVALID, "listen address \"%s\": not an IPv4 address", s);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return orch_err_set(ORCH_EINVALID, "listen address \"%s\": bad port", s);
	if (strlen(host) >= addrlen)
		return orch_err_set(ORCH_EINVALID, "listen address too long");
	strcpy(out_addr, host);
	*out_port = (int)port;
	return 0;
}

int
httpd_start(struct httpd **out, const struct httpd_config *cfg)
{
	struct MHD_OptionItem tlsopts[4];
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	struct sockaddr_in sin;
	const union MHD_DaemonInfo *info;
	struct httpd *h;
	char addr[64];
	int port, rc;

	*out = NULL;
	if ((rc = httpd_parse_listen(addr, sizeof(addr), &port, cfg->listen)) < 0 ||
	    (rc = tls_mhd_options(tlsopts, &flags, cfg->tls, cfg->listen, addr)) < 0)
		return rc;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	h->cfg = *cfg;
	if (h->cfg.creds == NULL && h->cfg.token != NULL) {
		if ((rc = creds_single(&h->own_creds, h->cfg.token, ORCH_ROLE_ADMIN)) < 0) {
			free(h);
			return rc;
		}
		h->cfg.creds = h->own_creds;
	}
	if (h->cfg.max_body == 0)
		h->cfg.max_body = 1024 * 1024;
	if (h->cfg.conn_limit == 0)
		h->cfg.conn_limit = 256;
	if (h->cfg.conn_timeout_s == 0)
		h->cfg.conn_timeout_s = 30;
	if (h->cfg.read_timeout_s == 0)
		h->cfg.read_timeout_s = 10;
	if (h->cfg.conn_per_addr == 0)
		h->cfg.conn_per_addr = 64;
	if (h->cfg.conn_reserve == 0 || h->cfg.conn_reserve >= h->cfg.conn_limit)
		h->cfg.conn_reserve = h->cfg.conn_limit / 8;
	if (h->cfg.streams_max == 0)
		h->cfg.streams_max = 64;
	if (h->cfg.streams_per_addr == 0)
		h->cfg.streams_per_addr = 8;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, addr, &sin.sin_addr);
	h->mhd = MHD_start_daemon(flags, port, NULL, NULL, access_cb, h,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_CONNECTION_LIMIT, h->cfg.conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, h->cfg.conn_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
	    MHD_OPTION_NOTIFY_CONNECTION, notify_cb, h,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
	    MHD_OPTION_ARRAY, tlsopts,
	    /* No SO_REUSEPORT: a second daemon on a taken port must fail, not
	     * share it. (MHD sets SO_REUSEADDR, so a restart binds at once.) */
	    MHD_OPTION_END);
	if (h->mhd == NULL) {
		creds_free(h->own_creds);
		free(h);
		return orch_err_sys(ORCH_EUNAVAIL, "cannot listen on %s", cfg->listen);
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : port;
	*out = h;
	return 0;
}

int
httpd_fd(const struct httpd *h)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd,
	    MHD_DAEMON_INFO_EPOLL_FD);

	return info ? info->epoll_fd : -1;
}

int64_t
httpd_timeout_ms(const struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG t;
	int64_t mhd = -1, next = -1, now = orch_mono_ms();
	int64_t lim = (int64_t)h->cfg.read_timeout_s * 1000;

	if (MHD_get_timeout(h->mhd, &t) == MHD_YES)
		mhd = t > INT32_MAX ? INT32_MAX : (int64_t)t;
	for (const struct httpd_conn *hc = h->conns; hc; hc = hc->next)
		if (!hc->cut && hc->reading_since != 0 &&
		    (next < 0 || hc->reading_since + lim < next))
			next = hc->reading_since + lim;
	if (next >= 0) {
		next = next > now ? next - now : 0;
		if (mhd < 0 || next < mhd)
			mhd = next;
	}
	return mhd;
}

void
httpd_run(struct httpd *h)
{
	uint64_t cut;

	MHD_run(h->mhd);
	/* Cut the requests past their deadline; MHD closes them at once. */
	cut = h->stats.read_timeouts;
	conns_expire(h, orch_mono_ms());
	if (h->stats.read_timeouts != cut)
		MHD_run(h->mhd);
}

int
httpd_port(const struct httpd *h)
{
	return h->port;
}

void
httpd_free(struct httpd *h)
{
	bool resumed = false;

	if (h == NULL)
		return;
	/* MHD cannot stop with suspended connections: answer the waiting
	 * requests (their owners learn it from httpd_defer's contract) and
	 * end the streams, then let MHD take them back. */
	while (h->deferred != NULL) {
		struct httpd_resp r = {0};

		httpd_reply_error(&r, 503, "unavailable", "the server is stopping");
		httpd_finish(h->deferred, &r);
		resumed = true;
	}
	for (struct httpd_stream *s = h->streams; s; s = s->next) {
		s->closing = true;
		resumed |= s->asleep;
		httpd_stream_wake(s);
	}
	if (resumed)
		MHD_run(h->mhd);
	/* One run resumes them all but does not finish every stream: each
	 * ends only once its last chunk is written, a turn or more later.
	 * Bounded: a client that reads nothing is cut by the stop. */
	for (int i = 0; h->streams != NULL && i < 64; i++)
		MHD_run(h->mhd);
	MHD_stop_daemon(h->mhd);
	creds_free(h->own_creds);
	free(h);
}
