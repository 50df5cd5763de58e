/*
 * api.c - the slave's HTTP API (docs/slave.md). Handlers run on the loop
 * thread and never block on anything but a bounded log-file read.
 *
 * A start or stop is durable before it is acknowledged: a slave killed
 * right after answering still knows the instance when it comes back. The
 * state file is rewritten whole (and fsync'd), so writing it per request
 * made a burst of N starts cost O(N^2) (500 starts on one slave: 70 % of
 * its CPU). Instead the answer waits (httpd_defer) until the loop's next
 * turn writes the file once for every request of the turn -- group
 * commit -- and then goes out (api_acks_flush).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "err.h"
#include "log.h"
#include "slave.h"

struct slave_ack {
	struct slave_ack *next;
	struct httpd_call *call;
	int status;
	json_t *body;
};

static void
get_healthz(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct slave *s = arg;

	httpd_reply_json(out, 200, json_pack("{s:s, s:s, s:b}", "status", "ok",
	    "node", s->cfg.name, "cgroup", s->cgroup_mode != 0));
}

static void
get_metrics(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	char *text = metrics_render(arg);

	if (text == NULL) {
		httpd_reply_error(out, 500, "internal", "out of memory");
		return;
	}
	out->status = 200;
	out->content_type = "text/plain; version=0.0.4";
	out->body = text;
	out->len = strlen(text);
}

/* 507 for a change the state file does not hold (body is dropped): the
 * controller sends it again, and it is answered once the file holds it
 * (a start is idempotent by id). Nothing unacknowledged survives a
 * restart of the slave: its processes, unlisted, are stopped at start
 * (orphan.c). */
static void
reply_not_durable(struct httpd_resp *out, struct slave *s, json_t *body)
{
	json_decref(body);
	httpd_reply_error(out, 507, "insufficient storage",
	    "the state file cannot be written: %s", s->state_err ? s->state_err : "not yet");
}

/* Refuse a start or stop at once while the state file cannot be
 * written: nothing is changed, nothing acknowledged. */
static bool
refuse_unwritable(struct httpd_resp *out, struct slave *s)
{
	if (s->state_err == NULL)
		return false;
	reply_not_durable(out, s, NULL);
	return true;
}

/* Answer status + body (taken) once the state file holds the change. */
static void
reply_durable(struct httpd_resp *out, const struct httpd_req *req, struct slave *s,
    int status, json_t *body)
{
	struct slave_ack *a, **tail;

	if (s->state_dirty && (a = calloc(1, sizeof(*a))) != NULL) {
		if ((a->call = httpd_defer(req)) != NULL) {
			a->status = status;
			a->body = body;
			for (tail = &s->acks; *tail; tail = &(*tail)->next)
				;
			*tail = a;
			return;
		}
		free(a);
	}
	/* Nothing to wait for, or no way to wait: write now. */
	if (s->state_dirty && state_save(s) < 0) {
		reply_not_durable(out, s, body);
		return;
	}
	httpd_reply_json(out, status, body);
}

void
api_acks_flush(struct slave *s)
{
	struct slave_ack *a;

	while ((a = s->acks) != NULL) {
		struct httpd_resp r = {0};

		s->acks = a->next;
		/* This turn's write failed or is not due yet (retries are
		 * paced): not durable, not acknowledged. */
		if (s->state_dirty)
			reply_not_durable(&r, s, a->body);
		else
			httpd_reply_json(&r, a->status, a->body);
		httpd_finish(a->call, &r);
		free(a);
	}
}

static void
post_instance(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct slave *s = arg;
	struct instance_spec *spec;
	struct instance *in;
	json_error_t jerr;
	bool created;
	json_t *j;
	int rc;

	if (refuse_unwritable(out, s))
		return;
	if ((j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		httpd_reply_error(out, 400, "malformed json", "line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return;
	}
	rc = proto_spec_decode(&spec, j);
	json_decref(j);
	/* A placeholder that can never expand is the request's fault: 400,
	 * and nothing is created. */
	if (rc == 0 && (rc = spawn_check(spec)) < 0)
		instance_spec_free(spec);
	if (rc < 0) {
		httpd_reply_error(out, 400, "invalid instance", "%s", orch_err_last());
		return;
	}
	if ((rc = inst_start(&in, &created, s, spec)) < 0) {
		httpd_reply_error(out, rc == ORCH_EEXISTS ? 409 : rc == ORCH_ETOOBIG ? 507 : 500,
		    rc == ORCH_EEXISTS ? "conflict" : "cannot start", "%s", orch_err_last());
		return;
	}
	reply_durable(out, req, s, created ? 201 : 200, inst_status_json(s, in));
}

static void
get_instances(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct slave *s = arg;

	httpd_reply_json(out, 200, json_pack("{s:s, s:o}", "node", s->cfg.name,
	    "instances", inst_list_json(s)));
}

static struct instance *
find_or_404(struct httpd_resp *out, struct slave *s, const struct httpd_req *req)
{
	struct instance *in = inst_find(s, req->params[0]);

	if (in == NULL)
		httpd_reply_error(out, 404, "not found", "no instance %.128s", req->params[0]);
	return in;
}

static void
get_instance(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct instance *in = find_or_404(out, arg, req);

	if (in != NULL)
		httpd_reply_json(out, 200, inst_status_json(arg, in));
}

static void
delete_instance(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct instance *in;

	if (refuse_unwritable(out, arg) || (in = find_or_404(out, arg, req)) == NULL)
		return;
	inst_stop(arg, in);
	reply_durable(out, req, arg, 202, inst_status_json(arg, in));
}

static void
get_logs(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct instance *in = find_or_404(out, arg, req);
	const char *stream, *tail, *path;
	size_t max = SLAVE_LOG_TAIL, len;
	char *end, *text;

	if (in == NULL)
		return;
	stream = httpd_query(req, "stream");
	if (stream == NULL || strcmp(stream, "stdout") == 0)
		path = in->out_path;
	else if (strcmp(stream, "stderr") == 0)
		path = in->err_path;
	else {
		httpd_reply_error(out, 400, "bad request", "stream: want stdout or stderr");
		return;
	}
	if ((tail = httpd_query(req, "tail")) != NULL) {
		unsigned long long v = strtoull(tail, &end, 10);

		if (*tail == '\0' || *end != '\0' || v == 0 || v > 16u * 1024 * 1024) {
			httpd_reply_error(out, 400, "bad request", "tail: want bytes 1..16777216");
			return;
		}
		max = (size_t)v;
	}
	if (path == NULL) {
		httpd_reply_text(out, 200, "text/plain; charset=utf-8", "", 0);
		return;
	}
	if (logfile_tail(&text, &len, path, max) < 0) {
		httpd_reply_error(out, 500, "cannot read log", "%s", orch_err_last());
		return;
	}
	out->status = 200;
	out->content_type = "text/plain; charset=utf-8";
	out->body = text;
	out->len = len;
}

/* Only the controller commands a slave, reads its instances and their
 * logs (issue 12); /metrics is also for a read credential (a scraper). */
const struct httpd_route api_routes[] = {
	{"GET", "/healthz", get_healthz, HTTPD_PUBLIC},
	{"GET", "/metrics", get_metrics, HTTPD_SCRAPE},
	{"POST", "/v1/instances", post_instance, HTTPD_CONTROLLER},
	{"GET", "/v1/instances", get_instances, HTTPD_CONTROLLER},
	{"GET", "/v1/instances/:id", get_instance, HTTPD_CONTROLLER},
	{"DELETE", "/v1/instances/:id", delete_instance, HTTPD_CONTROLLER},
	{"GET", "/v1/instances/:id/logs", get_logs, HTTPD_CONTROLLER},
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

/* Serve the API on cfg.listen (main.c; the fuzz target in tests/fuzz). */
int
api_start(struct slave *s)
{
	struct httpd_config hc = {
		.listen = s->cfg.listen,
		.routes = api_routes,
		.nroutes = api_nroutes,
		.arg = s,
		.max_body = s->cfg.max_body,
		.conn_limit = 128,
		/* Only the controller commands a slave: the routes' rules
		 * refuse a node's certificate (another slave's) as they refuse
		 * its token. */
		.tls = s->tls_srv,
		/* MHD counts whole seconds; round up. */
		.conn_timeout_s = (unsigned)((s->cfg.idle_timeout_ms + 999) / 1000),
	};
	int rc;

	/* No credentials file (the fuzz target): its one token is the
	 * controller's. */
	if (s->creds == NULL && s->cfg.token != NULL &&
	    (rc = creds_single(&s->creds, s->cfg.token, ORCH_ROLE_CONTROLLER)) < 0)
		return rc;
	hc.creds = s->creds;
	return httpd_start(&s->httpd, &hc);
}
