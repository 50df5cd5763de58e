/*
 * events.c - reading the event log: GET /v1/events?since=SEQ (JSON) and
 * GET /v1/events/stream (Server-Sent Events).
 *
 * Events live in the store's append-only log (state.c writes them in the
 * same batch as the record they describe), so both endpoints read the
 * store and see exactly what survived a restart. A stream starts after
 * Last-Event-ID (or ?since=, default: everything) and stays open
 * (common/httpd.h: httpd_reply_stream): its reader sends "id: SEQ" +
 * "data: JSON" records while there are any, then lets the connection
 * sleep; state.c wakes every stream after a commit that added events, and
 * an idle stream gets a ": ping" comment every SSE_PING_MS so dead
 * clients are found. A client that reconnects with the last id it saw
 * misses nothing and sees nothing twice.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"

#define EVENTS_PAGE 1000
#define SSE_RETRY_MS 1000
#define SSE_BATCH 200
#define SSE_PING_MS 15000

/* Parse a decimal sequence number; false when s is not one. */
static bool
parse_seq(uint64_t *out, const char *s)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	*out = strtoull(s, &end, 10);
	return *end == '\0';
}

/* The events after since, each with its seq; NULL + reply on error. */
static json_t *
read_events(struct httpd_resp *out, struct ctl *c, uint64_t since, size_t limit,
    const char *service)
{
	struct store_event *ev = NULL;
	size_t n = 0;
	json_t *a;

	if (store_events_since(&ev, &n, c->store, since, limit) < 0) {
		httpd_reply_error(out, 500, "internal error", "%s", orch_err_last());
		return NULL;
	}
	a = json_array();
	for (size_t k = 0; k < n; k++) {
		json_t *j = json_loads(ev[k].json, 0, NULL);
		const char *s;

		if (j == NULL)
			continue;
		s = json_string_value(json_object_get(j, "service"));
		if (service != NULL && (s == NULL || strcmp(s, service) != 0)) {
			json_decref(j);
			continue;
		}
		json_object_set_new(j, "seq", json_integer((json_int_t)ev[k].seq));
		json_array_append_new(a, j);
	}
	store_events_free(ev, n);
	return a;
}

void
ctl_api_events(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *qs = httpd_query(req, "since"), *ql = httpd_query(req, "limit");
	uint64_t since = 0, limit = EVENTS_PAGE, last = 0;
	json_t *a;

	if (qs != NULL && !parse_seq(&since, qs)) {
		httpd_reply_error(out, 400, "bad request", "since: want a sequence number");
		return;
	}
	if (ql != NULL && (!parse_seq(&limit, ql) || limit == 0 || limit > EVENTS_PAGE)) {
		httpd_reply_error(out, 400, "bad request", "limit: want 1..%d", EVENTS_PAGE);
		return;
	}
	if ((a = read_events(out, c, since, limit, httpd_query(req, "service"))) == NULL)
		return;
	store_last_seq(&last, c->store);
	httpd_reply_json(out, 200, json_pack("{s:o, s:I}", "events", a,
	    "last_seq", (json_int_t)last));
}

struct ctl_sse {
	struct ctl_sse *next;
	struct ctl *c;
	struct httpd_stream *hs;  /* lent by the server until sse_free */
	uint64_t last;            /* last seq looked at */
	char *service;            /* ?service= filter, or NULL */
	char *buf;                /* formatted, not yet sent */
	size_t len, off, cap;
	bool started;             /* the retry hint went out */
	int64_t next_ping;        /* mono ms */
};

static void
sse_append(struct ctl_sse *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sse_append(struct ctl_sse *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		/* No buffer yet: measure (NULL + 0 is undefined behaviour). */
		n = vsnprintf(s->buf ? s->buf + s->len : NULL, s->cap - s->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < s->cap - s->len) {
			s->len += (size_t)n;
			return;
		}
		s->cap = s->cap * 2 + (size_t)(n > 0 ? n : 0) + 64;
		if ((s->buf = realloc(s->buf, s->cap)) == NULL)
			fatalx("out of memory");
	}
}

/* Format what is new into the empty buffer. */
static void
sse_fill(struct ctl_sse *s)
{
	struct store_event *ev = NULL;
	size_t n = 0;

	s->len = s->off = 0;
	if (!s->started) {
		sse_append(s, "retry: %d\n\n", SSE_RETRY_MS);
		s->started = true;
	}
	if (store_events_since(&ev, &n, s->c->store, s->last, SSE_BATCH) < 0) {
		log_warnx("event stream: %s", orch_err_last());
		n = 0;
	}
	for (size_t k = 0; k < n; k++) {
		json_t *j = json_loads(ev[k].json, 0, NULL);
		const char *svc = json_string_value(json_object_get(j, "service"));
		char *text;

		s->last = ev[k].seq;
		if (j == NULL || (s->service && (svc == NULL || strcmp(svc, s->service) != 0))) {
			json_decref(j);
			continue;
		}
		json_object_set_new(j, "seq", json_integer((json_int_t)ev[k].seq));
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (text == NULL)
			continue;
		sse_append(s, "id: %llu\ndata: %s\n\n", (unsigned long long)ev[k].seq, text);
		free(text);
	}
	store_events_free(ev, n);
	if (s->len == 0 && orch_mono_ms() >= s->next_ping)
		sse_append(s, ": ping\n\n");
	if (s->len > 0)
		s->next_ping = orch_mono_ms() + SSE_PING_MS;
}

static ssize_t
sse_read(void *arg, char *out, size_t max)
{
	struct ctl_sse *s = arg;
	size_t n;

	if (s->off == s->len && !s->c->quit)
		sse_fill(s);
	if (s->off < s->len) {
		n = s->len - s->off < max ? s->len - s->off : max;
		memcpy(out, s->buf + s->off, n);
		s->off += n;
		return (ssize_t)n;
	}
	if (s->c->quit)
		return -1;
	/* Nothing to say: sleep until ctl_sse_wake() or the next ping. */
	return 0;
}

static void
sse_free(void *arg)
{
	struct ctl_sse *s = arg;

	for (struct ctl_sse **pp = &s->c->sse; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s->service);
	free(s->buf);
	free(s);
}

void
ctl_api_events_stream(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *lid = httpd_header(req, "Last-Event-ID");
	const char *qs = httpd_query(req, "since"), *svc = httpd_query(req, "service");
	struct ctl_sse *s;
	uint64_t since = 0;

	if (lid != NULL && *lid != '\0') {
		if (!parse_seq(&since, lid)) {
			httpd_reply_error(out, 400, "bad request",
			    "Last-Event-ID: want a sequence number");
			return;
		}
	} else if (qs != NULL && !parse_seq(&since, qs)) {
		httpd_reply_error(out, 400, "bad request", "since: want a sequence number");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatalx("out of memory");
	s->c = c;
	s->last = since;
	s->service = svc ? strdup(svc) : NULL;
	s->next_ping = orch_mono_ms() + SSE_PING_MS;
	/* On failure the server has called sse_free(s) and filled out. */
	if ((s->hs = httpd_reply_stream(out, "text/event-stream", sse_read, sse_free,
	    s)) == NULL)
		return;
	s->next = c->sse;
	c->sse = s;
}

void
ctl_sse_wake(struct ctl *c)
{
	for (struct ctl_sse *s = c->sse; s; s = s->next)
		httpd_stream_wake(s->hs);
}

int64_t
ctl_sse_tick(struct ctl *c, int64_t now)
{
	int64_t next = -1;

	for (struct ctl_sse *s = c->sse; s; s = s->next) {
		if (!httpd_stream_asleep(s->hs))
			continue;
		if (now >= s->next_ping)
			httpd_stream_wake(s->hs);
		else if (next < 0 || s->next_ping < next)
			next = s->next_ping;
	}
	return next;
}
