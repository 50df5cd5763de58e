/*
 * report.c - talking to the controller: registration, heartbeats and
 * event pushes, all as libcurl-multi transfers inside the loop (never a
 * blocking call). The controller may be away for any length of time:
 * requests fail, the slave backs off (doubling from 500ms up to the
 * heartbeat period for heartbeats, 30s for events) and carries on
 * supervising. Events wait in a bounded queue and are
 * re-sent until a 2xx acknowledges them, in order, in batches.
 *
 *   POST {controller}/v1/nodes/register         node description
 *   POST {controller}/v1/nodes/NAME/heartbeat   the same, periodically
 *   POST {controller}/v1/nodes/NAME/events      {"node", "events": [...]}
 *
 * The node description carries the instance list and its digest (SHA-256
 * of the list as sent). Once the controller took a list, heartbeats carry
 * the digest alone while it stays the same -- most of the time: a node of
 * 500 instances then sends ~300 bytes instead of ~200 KB every period,
 * and the controller parses nothing. A 409 answer means the controller
 * does not hold that list (it restarted, or wants to settle a doubt): the
 * full list goes at once. Every FULL_EVERY_MS the list goes anyway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "sha256.h"
#include "slave.h"
#include "units.h"

#define EVENTS_MAX 10000
#define EVENTS_BATCH 100
#define BACKOFF_MIN 500
#define BACKOFF_MAX 30000
#define REQUEST_TIMEOUT_MS 5000
#define FULL_EVERY_MS 30000

enum chan { CHAN_HEARTBEAT, CHAN_EVENTS, CHAN__LAST };

struct channel {
	CURL *easy;            /* in flight, or NULL */
	struct curl_slist *headers;
	int64_t next_at;       /* mono ms; 0 now */
	int64_t backoff;
	size_t nsent;          /* events in the batch in flight */
	bool full;             /* heartbeat in flight carries the list */
	char digest[SHA256_HEX_LEN + 1]; /* ... whose digest is this */
};

struct report {
	bool registered;
	json_t *queue;         /* events not yet acknowledged */
	char taken[SHA256_HEX_LEN + 1]; /* digest of the list the controller took */
	int64_t full_at;       /* mono ms it was sent */
	struct channel ch[CHAN__LAST];
	char *auth;            /* "Authorization: Bearer ..." */
};

/* The node description for a registration or heartbeat: with the
 * instance list, or (may_omit, and the list is the one the controller
 * took) with its digest alone. Notes in c what was sent. */
static json_t *
node_json(struct slave *s, struct channel *c, bool may_omit)
{
	struct report *r = s->report;
	json_t *labels = json_object(), *list = inst_list_json(s), *j;
	uint8_t sum[SHA256_DIGEST_LEN];
	char *text = json_dumps(list, JSON_COMPACT);

	for (size_t i = 0; i < s->cfg.nlabels; i++) {
		const char *eq = strchr(s->cfg.labels[i], '=');
		char key[256];

		if (eq == NULL || (size_t)(eq - s->cfg.labels[i]) >= sizeof(key))
			continue;
		memcpy(key, s->cfg.labels[i], eq - s->cfg.labels[i]);
		key[eq - s->cfg.labels[i]] = '\0';
		json_object_set_new(labels, key, json_string(eq + 1));
	}
	/* Out of memory: no digest, the list goes (and is never omitted). */
	c->digest[0] = '\0';
	if (text != NULL && sha256_buf(sum, text, strlen(text)) == 0)
		sha256_hex(c->digest, sum);
	free(text);
	c->full = !may_omit || c->digest[0] == '\0' || strcmp(c->digest, r->taken) != 0 ||
	    orch_mono_ms() - r->full_at >= FULL_EVERY_MS;
	j = json_pack("{s:s, s:s, s:o, s:f, s:I}",
	    "name", s->cfg.name,
	    "address", s->cfg.address,
	    "labels", labels,
	    "cpu", s->cfg.cpu,
	    "memory", (json_int_t)s->cfg.memory);
	if (c->digest[0] != '\0')
		json_object_set_new(j, "digest", json_string(c->digest));
	/* The controller checks its --node-suspect against it. */
	json_object_set_new(j, "heartbeat_ms", json_integer(s->cfg.heartbeat_ms));
	/* The controller shows it on the node: starts there are refused. */
	if (s->state_err != NULL)
		json_object_set_new(j, "state_error", json_string(s->state_err));
	if (c->full)
		json_object_set_new(j, "instances", list);
	else
		json_decref(list);
	return j;
}

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;
}

/*
 * The next try after a failure: the backoff doubles from BACKOFF_MIN up to
 * max. The heartbeat's max is the heartbeat period (no more often than
 * when all is well, so no more load): a controller that comes back after
 * an outage hears from every node within one period. A cap of 30 s let
 * a restarted controller wait up to 30 s for nodes that were fine and
 * declare them Lost after --node-lost (10 s), replacing their cattle
 * (issue 11, found by the chaos test).
 */
static void
channel_failed(struct channel *c, int64_t max)
{
	if (max < BACKOFF_MIN)
		max = BACKOFF_MIN;
	c->backoff = c->backoff == 0 ? BACKOFF_MIN : c->backoff * 2;
	if (c->backoff > max)
		c->backoff = max;
	c->next_at = orch_mono_ms() + c->backoff;
}

static void
request_done(struct slave *s, void *arg, CURL *easy, CURLcode res)
{
	struct report *r = s->report;
	enum chan which = (enum chan)(intptr_t)arg;
	struct channel *c = &r->ch[which];
	long code = 0;
	bool ok;

	curl_slist_free_all(c->headers);
	c->headers = NULL;
	c->easy = NULL;
	if (res == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	ok = res == CURLE_OK && code >= 200 && code < 300;
	if (which == CHAN_EVENTS) {
		if (ok) {
			/* Acknowledged: drop exactly what was sent. */
			for (size_t i = 0; i < c->nsent; i++)
				json_array_remove(r->queue, 0);
			s->m.events_sent += c->nsent;
			c->backoff = 0;
			c->next_at = 0;
		} else
			channel_failed(c, BACKOFF_MAX);
		c->nsent = 0;
		return;
	}
	if (ok) {
		if (!r->registered)
			log_info("registered with the controller at %s", s->cfg.controller);
		r->registered = true;
		c->backoff = 0;
		c->next_at = orch_mono_ms() + s->cfg.heartbeat_ms;
		/* The controller answers again: queued events go now, not
		 * after what is left of their own backoff. */
		if (r->ch[CHAN_EVENTS].easy == NULL) {
			r->ch[CHAN_EVENTS].backoff = 0;
			r->ch[CHAN_EVENTS].next_at = 0;
		}
		if (c->full) {
			memcpy(r->taken, c->digest, sizeof(r->taken));
			r->full_at = orch_mono_ms();
			s->m.heartbeat_lists++;
		}
		s->m.heartbeats_ok++;
		return;
	}
	if (code == 409 && !c->full) {
		/* Not a list the controller holds: send it, now. */
		r->taken[0] = '\0';
		c->next_at = 0;
		return;
	}
	s->m.heartbeats_failed++;
	/* A controller that forgot us (404) hears a registration next. */
	if (code == 404 || code == 401)
		r->registered = false;
	if (c->backoff == 0)
		log_warnx("controller %s unreachable (%s, status %ld); retrying with backoff",
		    s->cfg.controller, res == CURLE_OK ? "answered" : curl_easy_strerror(res), code);
	channel_failed(c, s->cfg.heartbeat_ms);
}

static void
post(struct slave *s, enum chan which, const char *path, json_t *body)
{
	struct report *r = s->report;
	struct channel *c = &r->ch[which];
	char url[1024], *text;
	CURL *e;

	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL || (e = curl_easy_init()) == NULL) {
		free(text);
		channel_failed(c, BACKOFF_MAX);
		return;
	}
	snprintf(url, sizeof(url), "%s%s", s->cfg.controller, path);
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, r->auth);
	curl_easy_setopt(e, CURLOPT_URL, url);
	tls_curl_setup(e, &s->tls);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, text);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "orch-slave");
	free(text);
	c->easy = e;
	if (loop_curl_add(s, e, request_done, (void *)(intptr_t)which) < 0) {
		c->easy = NULL;
		curl_slist_free_all(c->headers);
		c->headers = NULL;
		channel_failed(c, BACKOFF_MAX);
	}
}

int
report_init(struct slave *s)
{
	struct report *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->queue = json_array()) == NULL ||
	    asprintf(&r->auth, "Authorization: Bearer %s", s->cfg.token) < 0) {
		if (r)
			json_decref(r->queue);
		free(r);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	s->report = r;
	return 0;
}

void
report_free(struct slave *s)
{
	struct report *r = s->report;

	if (r == NULL)
		return;
	for (int i = 0; i < CHAN__LAST; i++) {
		if (r->ch[i].easy != NULL)
			loop_curl_cancel(s, r->ch[i].easy);
		curl_slist_free_all(r->ch[i].headers);
	}
	json_decref(r->queue);
	free(r->auth);
	free(r);
	s->report = NULL;
}

void
report_event(struct slave *s, json_t *j)
{
	struct report *r = s->report;

	if (j == NULL)
		return;
	if (r == NULL || s->cfg.controller == NULL) {
		json_decref(j);
		return;
	}
	if (json_array_size(r->queue) >= EVENTS_MAX) {
		json_array_remove(r->queue, 0);
		s->m.events_dropped++;
	}
	json_array_append_new(r->queue, j);
}

int64_t
report_tick(struct slave *s, int64_t now)
{
	struct report *r = s->report;
	struct channel *hb, *ev;
	char path[512];
	int64_t next = -1;

	if (r == NULL || s->cfg.controller == NULL)
		return -1;
	hb = &r->ch[CHAN_HEARTBEAT];
	ev = &r->ch[CHAN_EVENTS];
	if (hb->easy == NULL) {
		if (now >= hb->next_at) {
			if (!r->registered)
				post(s, CHAN_HEARTBEAT, "/v1/nodes/register",
				    node_json(s, hb, false));
			else {
				snprintf(path, sizeof(path), "/v1/nodes/%s/heartbeat", s->cfg.name);
				post(s, CHAN_HEARTBEAT, path, node_json(s, hb, true));
			}
		} else
			next = hb->next_at;
	}
	if (ev->easy == NULL && json_array_size(r->queue) > 0) {
		if (now >= ev->next_at) {
			json_t *batch = json_array();
			size_t n = json_array_size(r->queue);

			if (n > EVENTS_BATCH)
				n = EVENTS_BATCH;
			for (size_t i = 0; i < n; i++)
				json_array_append(batch, json_array_get(r->queue, i));
			ev->nsent = n;
			snprintf(path, sizeof(path), "/v1/nodes/%s/events", s->cfg.name);
			post(s, CHAN_EVENTS, path, json_pack("{s:s, s:o}", "node", s->cfg.name,
			    "events", batch));
		} else if (next < 0 || ev->next_at < next)
			next = ev->next_at;
	}
	return next;
}
