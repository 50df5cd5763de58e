/*
 * events.c - reading the event log: GET /v1/events?since=SEQ (JSON) and
 * GET /v1/events/stream (Server-Sent Events).
 *
 * Events live in the store's append-only log (state.c writes them in the
 * same batch as the record they describe), so both endpoints read the
 * store and see exactly what survived a restart. The stream answers the
 * events after Last-Event-ID (or ?since=) as "id: SEQ" + "data: JSON"
 * records with a "retry:" hint and ends; an EventSource (or `orchctl
 * events -f`) reconnects with the last id it saw and gets the next ones,
 * so no event is lost or repeated across reconnects. Keeping the response
 * open needs a streaming hook in common/httpd (docs/controller.md).
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"

#define EVENTS_PAGE 1000
#define SSE_RETRY_MS 1000

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

void
ctl_api_events_stream(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *lid = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    "Last-Event-ID");
	const char *qs = httpd_query(req, "since");
	uint64_t since = 0;
	size_t k, len = 0, cap = 256;
	char *buf;
	json_t *a, *j;

	if (lid != NULL && *lid != '\0' && !parse_seq(&since, lid)) {
		httpd_reply_error(out, 400, "bad request", "Last-Event-ID: want a sequence number");
		return;
	}
	if ((lid == NULL || *lid == '\0') && qs != NULL && !parse_seq(&since, qs)) {
		httpd_reply_error(out, 400, "bad request", "since: want a sequence number");
		return;
	}
	if ((a = read_events(out, c, since, EVENTS_PAGE, httpd_query(req, "service"))) == NULL)
		return;
	if ((buf = malloc(cap)) == NULL)
		fatalx("out of memory");
	len = (size_t)snprintf(buf, cap, "retry: %d\n\n", SSE_RETRY_MS);
	json_array_foreach(a, k, j) {
		char *text = json_dumps(j, JSON_COMPACT);
		size_t need;

		if (text == NULL)
			continue;
		need = strlen(text) + 64;
		if (len + need >= cap) {
			cap = (len + need) * 2;
			if ((buf = realloc(buf, cap)) == NULL)
				fatalx("out of memory");
		}
		len += (size_t)snprintf(buf + len, cap - len, "id: %lld\ndata: %s\n\n",
		    (long long)json_integer_value(json_object_get(j, "seq")), text);
		free(text);
	}
	json_decref(a);
	out->status = 200;
	out->content_type = "text/event-stream";
	out->body = buf;
	out->len = len;
}
