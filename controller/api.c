/*
 * api.c - the controller's HTTP API: the route table and the read
 * endpoints (status, services, endpoints, instances, nodes). Mutations
 * and the slave-facing calls live in api_write.c, the event log in
 * events.c, /metrics in metrics.c.
 *
 * Who may call each route is its rule (the table at the end; issue 12,
 * docs/security.md). JSON shapes are design.md's, with extra fields where
 * they help.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"

static void
reply_not_found(struct httpd_resp *out, const char *what, const char *name)
{
	httpd_reply_error(out, 404, "not found", "no %s named \"%s\"", what, name);
}

/* The spec of service s in the desired manifest, or in the previous one
 * for a service being destroyed. */
static const struct service_spec *
svc_spec(struct ctl *c, const char *name)
{
	const struct service_spec *sp = NULL;

	sp = ctl_spec(c, name);
	if (sp == NULL && c->prev != NULL)
		sp = manifest_service(c->prev, name);
	return sp;
}

/* The instance count the planner aims at (its plan->desired): the
 * person's scale target or the manifest's replicas, within min..max. */
static int
svc_target(const struct service_spec *sp, const struct ctl_svc *s)
{
	int n = s->scale != CTL_SCALE_UNSET ? s->scale : sp->replicas;

	return n < sp->min ? sp->min : n > sp->max ? sp->max : n;
}

json_t *
ctl_service_json(struct ctl *c, struct ctl_svc *s)
{
	const struct service_spec *sp = svc_spec(c, s->name);
	bool live = c->desired && manifest_service(c->desired, s->name);
	const char *reason = s->reason ? s->reason : "";
	char routing[LIFECYCLE_REASON_MAX + sizeof(s->traffic_err) + 2];
	int running = 0, total = 0;

	/* Run again after an automatic rollback: say why it is not at the
	 * applied version (the planner has nothing to say then). */
	if (s->rolled_back != NULL && (s->state == SERVICE_RUN || *reason == '\0'))
		reason = s->rolled_back;
	/* HAProxy does not route it (traffic.c): whatever its state says,
	 * its instances get no requests. */
	if (s->traffic_err[0] != '\0') {
		snprintf(routing, sizeof(routing), "%s%s%s", reason, *reason ? "; " : "",
		    s->traffic_err);
		reason = routing;
	}

	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		if (strcmp(i->service, s->name) != 0 || i->gone)
			continue;
		total++;
		if (i->state == INSTANCE_RUN)
			running++;
	}
	const struct lifecycle_rollout_status *r = &s->rollout;
	json_t *rollout = json_pack("{s:s, s:s, s:i, s:i, s:b, s:i, s:i, s:i, s:b, s:I}",
	    "strategy", manifest_strategy_name(r->strategy),
	    "phase", lifecycle_rollout_phase_name(r->phase), "step", r->step,
	    "steps", r->steps, "full", r->full, "old", r->nold, "new", r->nnew,
	    "weight", r->weight, "waiting_promote", r->waiting_promote,
	    "wait_until", (json_int_t)r->wait_until);
	json_t *traffic = json_pack("{s:s, s:i, s:s}", "mode",
	    lifecycle_traffic_mode_name(s->traffic.mode), "new_weight", s->traffic.new_weight,
	    "error", s->traffic_err);

	return json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:i, s:i,"
	    " s:i, s:i, s:b, s:s?, s:b, s:b, s:b, s:o, s:o}",
	    "name", s->name,
	    "version", sp ? sp->version : NULL,
	    "kind", sp ? manifest_kind_name(sp->kind) : "cattle",
	    "strategy", sp ? manifest_strategy_name(sp->strategy.type) : "rolling",
	    "state", lifecycle_service_state_name(s->state),
	    "detail", lifecycle_scale_detail_name(s->detail),
	    "desired", live ? svc_target(sp, s) : 0,
	    "ready", s->ready,
	    "reason", reason,
	    "instances", total,
	    "running", running,
	    "min", sp ? sp->min : 0,
	    "max", sp ? sp->max : 0,
	    "paused", s->paused,
	    "revision", s->revision,
	    "rollback", s->rollback, "promote", s->promote, "abort", s->abort,
	    "rollout", rollout, "traffic", traffic);
}

json_t *
ctl_instance_json(const struct ctl_inst *i)
{
	int64_t age = i->started_at > 0 ? orch_wall_ms() - i->started_at : 0;
	/* A Failed instance with no process has nothing checked: not
	 * "starting"; "unhealthy" stays, it says why (docs/slave.md). */
	enum health_state health = i->state == INSTANCE_FAILED && i->pid == 0 &&
	    i->health != HEALTH_STATE_UNHEALTHY ? HEALTH_STATE_NONE : i->health;

	return json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:i, s:s, s:s, s:i, s:I, s:I,"
	    " s:O?, s:s?, s:s?, s:b, s:o, s:o, s:s?}",
	    "id", i->id, "service", i->service, "version", i->version,
	    "node", i->node, "kind", proto_kind_name(i->kind), "pid", i->pid,
	    "state", proto_state_name(i->gone && i->state != INSTANCE_FAILED ?
	        INSTANCE_DESTROY : i->state),
	    "health", proto_health_name(health), "restarts", i->restarts,
	    "started_at", (json_int_t)i->started_at, "age_ms", (json_int_t)age,
	    "ports", i->ports, "reason", i->reason, "revision", i->revision,
	    "desired", !i->gone,
	    "exit_code", i->exit_code >= 0 ? json_integer(i->exit_code) : json_null(),
	    "exit_signal", i->exit_signal > 0 ? json_integer(i->exit_signal) : json_null(),
	    "data_dir", i->data_dir);
}

static void
api_status(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	json_t *svcs = json_array(), *rev = json_null();

	/* Desired services in manifest order, then those being destroyed. */
	if (c->desired != NULL)
		for (size_t k = 0; k < c->desired->nservices; k++) {
			struct ctl_svc *s = ctl_svc_get(c, c->desired->services[k].name);

			json_array_append_new(svcs, ctl_service_json(c, s));
		}
	for (struct ctl_svc *s = c->svcs; s; s = s->next)
		if (c->desired == NULL || manifest_service(c->desired, s->name) == NULL)
			json_array_append_new(svcs, ctl_service_json(c, s));
	if (c->desired_commit != NULL)
		rev = json_pack("{s:s, s:s?, s:s?, s:I, s:I}", "commit", c->desired_commit,
		    "message", c->rev.message, "author", c->rev.author,
		    "time", (json_int_t)c->rev.time * 1000, "seq", (json_int_t)c->rev_seq);
	httpd_reply_json(out, 200, json_pack("{s:s?, s:s?, s:o, s:o, s:s?, s:s, s:s?, s:o}",
	    "architecture", c->desired ? c->desired->architecture : NULL,
	    "version", c->desired ? c->desired->version : NULL,
	    "revision", rev, "services", svcs,
	    "repo", c->cfg.repo, "branch", c->cfg.branch, "haproxy", c->cfg.haproxy,
	    "store", ctl_store_json(c)));
}

static void
api_service(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *name = req->params[0];
	struct ctl_svc *s = ctl_svc_find(c, name);
	const struct service_spec *sp;
	json_t *j, *insts, *deps;

	if (s == NULL && (c->desired == NULL || manifest_service(c->desired, name) == NULL)) {
		reply_not_found(out, "service", name);
		return;
	}
	if (s == NULL)
		s = ctl_svc_get(c, name);
	j = ctl_service_json(c, s);
	insts = json_array();
	for (struct ctl_inst *i = c->insts; i; i = i->next)
		if (strcmp(i->service, name) == 0)
			json_array_append_new(insts, ctl_instance_json(i));
	json_object_set_new(j, "instance_list", insts);
	if ((sp = svc_spec(c, name)) != NULL) {
		deps = json_object();
		for (size_t k = 0; k < sp->ndeps; k++)
			json_object_set_new(deps, sp->deps[k].service,
			    json_string(sp->deps[k].constraint));
		json_object_set_new(j, "depends_on", deps);
		json_object_set_new(j, "replicas", json_integer(sp->replicas));
		json_object_set_new(j, "restart_gen", json_integer(s->restart_gen));
		/* null: no person's target, the manifest's replicas count */
		json_object_set_new(j, "scale", s->scale != CTL_SCALE_UNSET ?
		    json_integer(s->scale) : json_null());
	}
	httpd_reply_json(out, 200, j);
}

/* "host:port" -> host (static buffer per call). */
static const char *
addr_host(const char *addr, char *buf, size_t len)
{
	const char *colon;

	if (addr == NULL)
		return NULL;
	colon = strrchr(addr, ':');
	snprintf(buf, len, "%.*s", colon ? (int)(colon - addr) : (int)strlen(addr), addr);
	return buf;
}

/* An endpoint's weight (0..100) from the planner's traffic: every Run
 * instance equally, or a canary split between the new spec's instances
 * and the rest, or only the active set of a blue-green rollout. The
 * weights of a service sum to about 100. */
static int
weight_of(struct ctl *c, const char *service, const struct ctl_inst *me)
{
	struct ctl_svc *s = ctl_svc_find(c, service);
	const struct lifecycle_traffic *t = s ? &s->traffic : NULL;
	bool mine_new;
	int nnew = 0, nold = 0, share;

	if (t == NULL || t->mode == TRAFFIC_ALL) {
		for (struct ctl_inst *i = c->insts; i; i = i->next)
			if (strcmp(i->service, service) == 0 && !i->gone && i->state == INSTANCE_RUN)
				nnew++;
		return nnew ? 100 / nnew : 0;
	}
	if (t->mode == TRAFFIC_ACTIVE) {
		if (me->fingerprint == NULL || strcmp(me->fingerprint, t->active_fp) != 0)
			return 0;
		for (struct ctl_inst *i = c->insts; i; i = i->next)
			if (strcmp(i->service, service) == 0 && !i->gone &&
			    i->state == INSTANCE_RUN && i->fingerprint &&
			    strcmp(i->fingerprint, t->active_fp) == 0)
				nnew++;
		return nnew ? 100 / nnew : 0;
	}
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		if (strcmp(i->service, service) != 0 || i->gone || i->state != INSTANCE_RUN)
			continue;
		if (i->fingerprint && strcmp(i->fingerprint, t->new_fp) == 0)
			nnew++;
		else
			nold++;
	}
	mine_new = me->fingerprint && strcmp(me->fingerprint, t->new_fp) == 0;
	share = mine_new ? t->new_weight : 100 - t->new_weight;
	return mine_new ? (nnew ? share / nnew : 0) : (nold ? share / nold : 0);
}

static void
api_endpoints(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *name = req->params[0];
	const struct service_spec *sp;
	json_t *eps = json_array();

	if (ctl_svc_find(c, name) == NULL &&
	    (c->desired == NULL || manifest_service(c->desired, name) == NULL)) {
		json_decref(eps);
		reply_not_found(out, "service", name);
		return;
	}
	sp = svc_spec(c, name);
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		struct ctl_node *n;
		json_t *port = NULL;
		char host[256];

		if (strcmp(i->service, name) != 0 || i->gone || i->state != INSTANCE_RUN)
			continue;
		n = i->node ? ctl_node_find(c, i->node) : NULL;
		if (n == NULL || n->state == NODE_LOST)
			continue;
		/* The first declared port is the service's (ORCH_PORT). */
		if (sp != NULL && sp->nports > 0)
			port = json_object_get(i->ports, sp->ports[0]);
		if (port == NULL && json_object_size(i->ports) > 0)
			port = json_object_iter_value(json_object_iter(i->ports));
		json_array_append_new(eps, json_pack("{s:s, s:s, s:s?, s:O?, s:O?, s:s?, s:i}",
		    "id", i->id, "node", i->node,
		    "address", addr_host(n->address, host, sizeof(host)),
		    "port", port, "ports", i->ports, "version", i->version,
		    "weight", weight_of(c, name, i)));
	}
	httpd_reply_json(out, 200, json_pack("{s:s, s:o}", "service", name, "endpoints", eps));
}

static void
api_instances(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *svc = httpd_query(req, "service");
	const char *node = httpd_query(req, "node");
	json_t *a = json_array();

	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		if (svc != NULL && strcmp(i->service, svc) != 0)
			continue;
		if (node != NULL && (i->node == NULL || strcmp(i->node, node) != 0))
			continue;
		json_array_append_new(a, ctl_instance_json(i));
	}
	httpd_reply_json(out, 200, json_pack("{s:o}", "instances", a));
}

/* One node as GET /v1/nodes lists it; use: ctl_nodes_input()'s array. */
static json_t *
node_json(struct ctl *c, const struct ctl_node *n, struct lifecycle_node *use, size_t nn)
{
	const struct lifecycle_node *u = ctl_nodes_input_find(use, nn, n->name);
	int count = 0;

	for (struct ctl_inst *i = n->placed; i; i = i->on_next)
		if (!i->gone)
			count++;
	return json_pack("{s:s, s:s?, s:s, s:I, s:I, s:i, s:f, s:I, s:f, s:I, s:O?, s:b,"
	    " s:I, s:I, s:b, s:s?, s:s?}",
	    "name", n->name, "address", n->address,
	    "state", lifecycle_node_state_name(n->state),
	    "last_heartbeat", (json_int_t)n->last_hb_wall,
	    "heartbeat_age_ms", (json_int_t)(n->seen ? orch_mono_ms() - n->last_hb_mono : -1),
	    "instances", count, "cpu", n->cpu, "memory", (json_int_t)n->memory,
	    "used_cpu", u ? u->used_cpu : 0.0,
	    "used_memory", (json_int_t)(u ? u->used_memory : 0),
	    "labels", n->labels, "drain", n->drain,
	    "commands_sent", (json_int_t)n->cmds_sent,
	    "commands_failed", (json_int_t)n->cmds_failed,
	    "reachable", !n->unreachable, "unreachable_reason", n->unreachable_why,
	    "state_error", n->state_error);
}

static void
api_nodes(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	json_t *a = json_array();
	size_t nn;
	struct lifecycle_node *use = ctl_nodes_input(c, &nn);

	for (struct ctl_node *n = c->nodes; n; n = n->next)
		json_array_append_new(a, node_json(c, n, use, nn));
	free(use);
	httpd_reply_json(out, 200, json_pack("{s:o}", "nodes", a));
}

/* GET /v1/nodes/NAME: the same, with its instances in full. */
static void
api_node(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	struct ctl_node *n = ctl_node_find(c, req->params[0]);
	struct lifecycle_node *use;
	json_t *insts, *j;
	size_t nn;

	if (n == NULL) {
		reply_not_found(out, "node", req->params[0]);
		return;
	}
	insts = json_array();
	for (struct ctl_inst *i = c->insts; i; i = i->next)
		if (i->node && strcmp(i->node, n->name) == 0)
			json_array_append_new(insts, ctl_instance_json(i));
	use = ctl_nodes_input(c, &nn);
	j = node_json(c, n, use, nn);
	free(use);
	json_object_set_new(j, "instances", insts);
	httpd_reply_json(out, 200, j);
}

static void
api_healthz(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	httpd_reply_json(out, 200, json_pack("{s:s}", "status", "ok"));
}

/*
 * Who may call what (issue 12; docs/security.md): every read (the page,
 * the API's GETs, the event stream, /metrics) needs read or admin unless
 * --public-read; every write needs admin; a slave's reports need that
 * node's own credential (or admin: one bare token runs a whole cluster).
 * test_auth_roles.c holds its own copy of this table and checks both
 * ways that it lists every route.
 */
const struct httpd_route ctl_api_routes[] = {
	{"GET", "/healthz", api_healthz, HTTPD_PUBLIC},
	{"POST", "/v1/login", ctl_web_login, HTTPD_PUBLIC},   /* web.c */
	{"POST", "/v1/logout", ctl_web_logout, HTTPD_PUBLIC},
	/* The page's code holds no data (that comes from the read routes):
	 * public, so that it can show its login form. */
	{"GET", "/", ctl_web_serve, HTTPD_PUBLIC},
	{"GET", "/assets/:file", ctl_web_serve, HTTPD_PUBLIC},
	{"GET", "/v1/status", api_status, HTTPD_READ},
	{"GET", "/v1/services/:name", api_service, HTTPD_READ},
	{"GET", "/v1/services/:name/endpoints", api_endpoints, HTTPD_READ},
	{"GET", "/v1/instances", api_instances, HTTPD_READ},
	/* logs.c: what a process prints can be a secret: never public */
	{"GET", "/v1/instances/:id/logs", ctl_api_logs, HTTPD_READ_SECRET},
	{"GET", "/v1/nodes", api_nodes, HTTPD_READ},
	{"GET", "/v1/nodes/:name", api_node, HTTPD_READ},
	{"GET", "/v1/revisions", ctl_api_revisions, HTTPD_READ},
	{"GET", "/v1/events", ctl_api_events, HTTPD_READ},
	{"GET", "/v1/events/stream", ctl_api_events_stream, HTTPD_READ},
	{"GET", "/metrics", ctl_api_metrics, HTTPD_READ},
	{"POST", "/v1/apply", ctl_api_apply, HTTPD_ADMIN},
	{"POST", "/v1/rollback", ctl_api_rollback, HTTPD_ADMIN},
	{"POST", "/v1/services/:name/scale", ctl_api_scale, HTTPD_ADMIN},
	{"POST", "/v1/services/:name/pause", ctl_api_pause, HTTPD_ADMIN},
	{"POST", "/v1/services/:name/resume", ctl_api_resume, HTTPD_ADMIN},
	{"POST", "/v1/services/:name/promote", ctl_api_promote, HTTPD_ADMIN},
	{"POST", "/v1/services/:name/abort", ctl_api_abort, HTTPD_ADMIN},
	{"POST", "/v1/nodes/:name/drain", ctl_api_drain, HTTPD_ADMIN},
	{"DELETE", "/v1/nodes/:name", ctl_api_node_delete, HTTPD_ADMIN},   /* api_ops.c */
	{"POST", "/v1/services/:name/restart", ctl_api_restart_service, HTTPD_ADMIN},
	{"POST", "/v1/instances/:id/restart", ctl_api_restart_instance, HTTPD_ADMIN},
	/* register has no :name: the handler checks the body's name */
	{"POST", "/v1/nodes/register", ctl_api_register, HTTPD_NODE_SELF},
	{"POST", "/v1/nodes/:name/heartbeat", ctl_api_heartbeat, HTTPD_NODE_SELF},
	{"POST", "/v1/nodes/:name/events", ctl_api_node_events, HTTPD_NODE_SELF},
};
const size_t ctl_api_nroutes = sizeof(ctl_api_routes) / sizeof(ctl_api_routes[0]);

int
ctl_api_start(struct ctl *c)
{
	struct httpd_config hc = {
		.listen = c->cfg.listen,
		.routes = ctl_api_routes,
		.nroutes = ctl_api_nroutes,
		.arg = c,
		.creds = c->creds,
		.token = c->token, /* no creds (the fuzz target): it is admin */
		.public_read = c->cfg.public_read,
		.sessions = c->sessions,
		.max_body = CTL_MAX_BODY,
		.guard = ctl_api_guard,
		.after = ctl_api_after,
		.tls = c->tls_srv,
	};
	int rc;

	if ((rc = httpd_start(&c->http, &hc)) < 0)
		return rc;
	log_info("listening on %s port=%d", c->cfg.listen, httpd_port(c->http));
	return 0;
}
