/*
 * api_ops.c - the operator's repair verbs: restart a service (a rolling
 * restart with its strategy), revive a Failed pet in place, forget a Lost
 * node; and ctl_replan(), which lets the mutating endpoints answer with
 * the state after the planner took the request.
 *
 * A rolling restart is a new spec for the planner: the service's restart
 * generation (persisted with the service, kept across applies) goes into
 * the spec as ORCH_RESTART=N, so the fingerprint changes and every
 * instance is replaced under the service's own strategy (rolling,
 * canary, blue-green, recreate; pets in place), exactly as an update
 * would - the way `kubectl rollout restart` stamps the pod template.
 * Generation 0 adds nothing, so services never restarted keep their
 * fingerprint.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"

#define RESTART_ENV "ORCH_RESTART"

void
ctl_replan(struct ctl *c)
{
	/* The same pass the loop would run at the end of this turn, run
	 * before the answer; the kick still syncs traffic after it. A
	 * controller still waiting for its nodes after a restart plans
	 * nothing yet (ctl_reconcile), and the answer says what was. */
	ctl_reconcile(c);
	ctl_kick(c);
}

/* The spec with its env and the generation's text, in one block. */
struct gen_spec {
	struct service_spec spec;
	char gen[24];
	struct orch_kv env[];
};

struct service_spec *
ctl_restart_spec(const struct ctl_svc *s, const struct service_spec *spec)
{
	struct gen_spec *r;

	if (s == NULL || spec == NULL || s->restart_gen == 0)
		return NULL;
	if ((r = calloc(1, sizeof(*r) + (spec->nenv + 1) * sizeof(r->env[0]))) == NULL)
		fatalx("out of memory");
	r->spec = *spec; /* borrows every string of the manifest's spec */
	snprintf(r->gen, sizeof(r->gen), "%u", s->restart_gen);
	if (spec->nenv > 0)
		memcpy(r->env, spec->env, spec->nenv * sizeof(r->env[0]));
	r->env[spec->nenv].key = (char *)RESTART_ENV;
	r->env[spec->nenv].value = r->gen;
	r->spec.env = r->env;
	r->spec.nenv = spec->nenv + 1;
	return &r->spec;
}

void
ctl_restart_spec_free(struct service_spec *spec)
{
	free(spec); /* the first member of its struct gen_spec */
}

/* POST /v1/services/NAME/restart: replace every instance, with the
 * service's strategy. */
void
ctl_api_restart_service(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *name = req->params[0];
	struct ctl_svc *s;
	char cause[64];

	if (c->desired == NULL || manifest_service(c->desired, name) == NULL) {
		httpd_reply_error(out, 404, "not found", "no service named \"%s\"", name);
		return;
	}
	s = ctl_svc_get(c, name);
	s->restart_gen++;
	ctl_svc_save(c, s);
	snprintf(cause, sizeof(cause), "restart requested (generation %u)", s->restart_gen);
	ctl_event(c, name, NULL, NULL, NULL, cause);
	log_info("service=%s %s", name, cause);
	ctl_replan(c);
	httpd_reply_json(out, 200, ctl_service_json(c, s));
}

/* POST /v1/instances/ID/restart: a Failed pet starts again in place (same
 * id, node and data dir) with a fresh restart budget. Anything else is
 * refused with what to do instead. */
void
ctl_api_restart_instance(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *id = req->params[0];
	struct ctl_inst *i = ctl_inst_find(c, id);

	if (i == NULL) {
		httpd_reply_error(out, 404, "not found", "no instance named \"%s\"", id);
		return;
	}
	if (i->gone) {
		httpd_reply_error(out, 409, "conflict", "instance %s is being removed", id);
		return;
	}
	if (i->kind != KIND_PET) {
		httpd_reply_error(out, 409, "conflict", "instance %s is cattle: the controller "
		    "replaces failed cattle itself; `orchctl restart %s` restarts every "
		    "instance of the service", id, i->service);
		return;
	}
	if (i->state != INSTANCE_FAILED) {
		httpd_reply_error(out, 409, "conflict", "pet %s is %s, not Failed: only a "
		    "Failed pet is revived; `orchctl restart %s` restarts every instance of "
		    "the service", id, proto_state_name(i->state), i->service);
		return;
	}
	if (ctl_slave_start(c, i) < 0) {
		httpd_reply_error(out, 500, "internal error", "%s", orch_err_last());
		return;
	}
	/* The slave revives a Failed instance on a start with its spec and
	 * resets its budget; the record says so at once. */
	i->restarts = 0;
	i->pid = 0;
	ctl_inst_set_state(c, i, INSTANCE_PROVISION, "revived by request: restart budget reset");
	log_info("instance=%s service=%s revived by request", id, i->service);
	ctl_replan(c);
	httpd_reply_json(out, 200, ctl_instance_json(i));
}

/* The planner's memory of pets at home on node: forgotten, so that they
 * are placed anew (the node and its data dirs are gone). */
static void
forget_pet_homes(struct ctl *c, const char *node)
{
	for (struct ctl_svc *s = c->svcs; s; s = s->next) {
		struct lifecycle_memo *m = &s->memo;
		size_t k = 0, was = m->npets;

		for (size_t j = 0; j < m->npets; j++)
			if (strcmp(m->pets[j].node, node) != 0)
				m->pets[k++] = m->pets[j];
		m->npets = k;
		if (k != was)
			ctl_svc_save(c, s);
	}
}

/* DELETE /v1/nodes/NAME: forget a Lost node and the records of what it
 * ran (its cattle were replaced already; its pets may now start
 * elsewhere, with an empty data dir). A node that is not Lost is
 * refused: it may come back, or it is alive. A slave of that name that
 * comes back registers as a new node. */
void
ctl_api_node_delete(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	struct ctl_node *n = ctl_node_find(c, req->params[0]), **pp;
	struct store_batch *b;
	char key[512];
	int dropped = 0;

	if (n == NULL) {
		httpd_reply_error(out, 404, "not found", "no node named \"%s\"", req->params[0]);
		return;
	}
	if (n->state != NODE_LOST) {
		httpd_reply_error(out, 409, "conflict", "node %s is %s, not Lost: only a Lost "
		    "node is removed (drain it and stop its slave first)", n->name,
		    lifecycle_node_state_name(n->state));
		return;
	}
	forget_pet_homes(c, n->name);
	while (n->placed != NULL) {
		ctl_inst_drop(c, n->placed);
		dropped++;
	}
	for (pp = &c->nodes; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	b = store_batch_new();
	snprintf(key, sizeof(key), "nodes/%s", n->name);
	store_batch_del(b, key);
	if (store_commit(c->store, b, NULL) < 0)
		log_warnx("store: %s", orch_err_last());
	store_batch_free(b);
	ctl_node_event(c, n->name, "Lost", NULL, "removed by request");
	log_info("node=%s removed by request (%d instance records dropped)", n->name, dropped);
	httpd_reply_json(out, 200, json_pack("{s:s, s:b, s:i}", "name", n->name,
	    "removed", 1, "instances_dropped", dropped));
	/* Transfers still on the wire (commands, probes) hold the record:
	 * nodes live until exit (slaves.c), so it is retired, not freed. */
	n->next = c->nodes_removed;
	c->nodes_removed = n;
	ctl_replan(c);
}

void
ctl_nodes_removed_free(struct ctl *c)
{
	for (struct ctl_node *n = c->nodes_removed, *next; n; n = next) {
		next = n->next;
		ctl_node_free(n);
	}
	c->nodes_removed = NULL;
}
