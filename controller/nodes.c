/*
 * nodes.c - the node registry: registration, heartbeats, event pushes,
 * and the ageing of silent nodes (Ready -> Suspect -> Lost).
 *
 * A heartbeat carries the full list of the node's instances: that list is
 * the observed state. The controller keeps no opinion of its own about
 * what runs where beyond its records, so a restarted controller learns the
 * truth from the first heartbeat of every node and never restarts an
 * instance merely because it was away itself.
 *
 * An instance is "missing" from a node only after CTL_MISSING_HEARTBEATS
 * heartbeats in a row do not list it: a start acknowledged just after the
 * slave built a heartbeat must not look like a vanished process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"

static char *
xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		fatalx("out of memory");
	return d;
}

bool
ctl_node_usable(const struct ctl_node *n)
{
	return n->state == NODE_READY && !n->drain;
}

void
ctl_node_set_state(struct ctl *c, struct ctl_node *n, enum node_state st,
    const char *cause)
{
	enum node_state old = n->state;
	char what[512];

	if (st == old)
		return;
	n->state = st;
	log_info("node=%s state %s -> %s reason=\"%s\"", n->name,
	    lifecycle_node_state_name(old), lifecycle_node_state_name(st), cause);
	snprintf(what, sizeof(what), "node %s: %s", n->name, cause);
	ctl_node_event(c, n->name, lifecycle_node_state_name(old),
	    lifecycle_node_state_name(st), what);
	if (st == NODE_LOST)
		ctl_alert(c, "node_lost", NULL, n->name, "node %s lost: no heartbeat for %lld ms",
		    n->name, (long long)(orch_mono_ms() - n->last_hb_mono));
	ctl_kick(c);
}

/* An instance the slave says is gone for good (removed, or missing from
 * its heartbeats). */
static void
inst_vanished(struct ctl *c, struct ctl_inst *i, const char *why)
{
	if (i->gone || i->kind == KIND_CATTLE) {
		/* Wanted gone, or cattle: the record ends here and the
		 * reconcile places a replacement with a new id. */
		if (!i->gone && i->state != INSTANCE_FAILED)
			ctl_inst_set_state(c, i, INSTANCE_FAILED, why);
		ctl_inst_drop(c, i);
	} else if (i->spec == NULL) {
		ctl_inst_drop(c, i);
	} else {
		/* A pet keeps its id and node: start it again in place, with
		 * the very request it was started with (idempotent). */
		i->started = false;
		i->pid = 0;
		ctl_inst_set_state(c, i, INSTANCE_PROVISION, why);
		ctl_slave_start(c, i);
	}
	ctl_kick(c);
}

/* Take one status object from a slave, true at wall time `when` (an
 * event's time; 0: now). A slave's event batch can arrive after a fresher
 * answer or heartbeat: what is older than what we know is ignored. */
static void
observe(struct ctl *c, struct ctl_node *n, const json_t *j, int64_t when)
{
	struct instance_status *st = NULL;
	struct ctl_inst *i;

	if (proto_status_decode(&st, j) < 0) {
		log_warnx("node=%s: bad instance status: %s", n->name, orch_err_last());
		return;
	}
	i = ctl_inst_find(c, st->id);
	if (i != NULL && when > 0 && when < i->obs_wall) {
		instance_status_free(st);
		return;
	}
	if (i == NULL) {
		/* Not ours (a record dropped while the node was away, or
		 * a leftover of a service that is gone): destroy it. */
		i = ctl_inst_new(c, st->id, st->service);
		i->node = xstrdup(n->name);
		i->kind = st->kind;
		i->version = xstrdup(st->version);
		i->gone = true;
		i->started = true;
		log_info("instance=%s node=%s: unknown to the controller; destroying",
		    st->id, n->name);
		ctl_inst_observe(c, i, st);
		ctl_inst_set_state(c, i, INSTANCE_DESTROY, "unknown to the controller");
		ctl_slave_stop(c, i);
		ctl_kick(c);
	} else {
		if (i->node == NULL)
			i->node = xstrdup(n->name);
		if (strcmp(i->node, n->name) != 0) {
			log_warnx("instance=%s reported by node=%s but placed on node=%s",
			    st->id, n->name, i->node);
		} else {
			enum instance_state before = i->state;

			i->obs_wall = when > 0 ? when : orch_wall_ms();
			ctl_inst_observe(c, i, st);
			if (before != i->state)
				ctl_kick(c);
		}
	}
	instance_status_free(st);
}

static void
node_update(struct ctl *c, struct ctl_node *n, const json_t *body)
{
	const char *addr = json_string_value(json_object_get(body, "address"));
	json_t *labels = json_object_get(body, "labels");
	bool changed = false;

	if (addr != NULL && (n->address == NULL || strcmp(addr, n->address) != 0)) {
		free(n->address);
		n->address = xstrdup(addr);
		changed = true;
	}
	if (json_is_number(json_object_get(body, "cpu")))
		n->cpu = json_number_value(json_object_get(body, "cpu"));
	if (json_is_integer(json_object_get(body, "memory")))
		n->memory = json_integer_value(json_object_get(body, "memory"));
	if (json_is_object(labels) && (n->labels == NULL || !json_equal(labels, n->labels))) {
		json_decref(n->labels);
		n->labels = json_incref(labels);
		changed = true;
	}
	n->last_hb_mono = orch_mono_ms();
	n->last_hb_wall = orch_wall_ms();
	if (changed || !n->seen)
		ctl_node_save(c, n);
	n->seen = true;
}

int
ctl_node_report(struct ctl *c, const char *name, const json_t *body, bool registering)
{
	const json_t *list = json_object_get(body, "instances");
	const char *addr = json_string_value(json_object_get(body, "address"));
	struct ctl_node *n;
	struct ctl_inst *i, *next;
	size_t k;

	if (!json_is_object(body))
		return orch_err_set(ORCH_EINVALID, "body: want a JSON object");
	if (name == NULL || !proto_name_valid(name))
		return orch_err_set(ORCH_EINVALID, "name: want [A-Za-z0-9_.-]{1,128}");
	if (list != NULL && !json_is_array(list))
		return orch_err_set(ORCH_EINVALID, "instances: want an array");
	if ((n = ctl_node_find(c, name)) == NULL) {
		if (!registering)
			return orch_err_set(ORCH_ENOTFOUND, "node %s is not registered", name);
		if (addr == NULL)
			return orch_err_set(ORCH_EINVALID, "address: want \"host:port\"");
		if ((n = calloc(1, sizeof(*n))) == NULL)
			fatalx("out of memory");
		n->name = xstrdup(name);
		n->state = NODE_READY;
		n->next = c->nodes;
		c->nodes = n;
		log_info("node=%s registered address=%s", name, addr);
		ctl_node_event(c, name, NULL, "Ready", "node registered");
		ctl_kick(c);
	}
	node_update(c, n, body);
	if (n->drain)
		ctl_node_set_state(c, n, NODE_DRAINING, "heartbeat");
	else
		ctl_node_set_state(c, n, NODE_READY, "heartbeat");
	for (k = 0; k < json_array_size(list); k++)
		observe(c, n, json_array_get(list, k), 0);
	/* Instances placed here that the list does not hold. */
	for (i = c->insts; i; i = next) {
		bool listed = false;

		next = i->next;
		if (i->node == NULL || strcmp(i->node, name) != 0 || i->in_flight || !i->started)
			continue;
		for (k = 0; k < json_array_size(list); k++) {
			const char *id = json_string_value(json_object_get(json_array_get(list, k),
			    "id"));

			if (id && strcmp(id, i->id) == 0)
				listed = true;
		}
		if (listed)
			continue;
		if (++i->missing >= CTL_MISSING_HEARTBEATS)
			inst_vanished(c, i, "not running on its node");
	}
	return 0;
}

/* POST /v1/nodes/NAME/events {"node", "events": [...]}: a batch of state
 * changes pushed by a slave, each with the instance's status (or
 * "removed": true once it is gone). */
int
ctl_node_events(struct ctl *c, const char *name, const json_t *body)
{
	const json_t *evs = json_object_get(body, "events");
	struct ctl_node *n;
	size_t k;

	if (!json_is_object(body) || !json_is_array(evs))
		return orch_err_set(ORCH_EINVALID, "body: want {\"node\", \"events\": [...]}");
	if ((n = ctl_node_find(c, name)) == NULL)
		return orch_err_set(ORCH_ENOTFOUND, "node %s is not registered", name);
	for (k = 0; k < json_array_size(evs); k++) {
		const json_t *ev = json_array_get(evs, k);
		const json_t *st = json_object_get(ev, "status");
		const char *id = json_string_value(json_object_get(ev, "instance"));
		struct ctl_inst *i;

		if (json_is_object(st)) {
			observe(c, n, st, json_integer_value(json_object_get(ev, "time")));
			continue;
		}
		if (id == NULL || !json_is_true(json_object_get(ev, "removed")))
			continue;
		if ((i = ctl_inst_find(c, id)) != NULL && i->node != NULL &&
		    strcmp(i->node, name) == 0 && !i->in_flight)
			inst_vanished(c, i, "stopped and removed by the slave");
	}
	return 0;
}

int64_t
ctl_nodes_tick(struct ctl *c, int64_t now)
{
	int64_t next = -1;

	for (struct ctl_node *n = c->nodes; n; n = n->next) {
		int64_t age = now - n->last_hb_mono, due;

		if (age >= c->cfg.node_lost_ms) {
			ctl_node_set_state(c, n, NODE_LOST, "no heartbeat");
			continue;
		}
		if (age >= c->cfg.node_suspect_ms) {
			ctl_node_set_state(c, n, NODE_SUSPECT, "heartbeats missed");
			due = n->last_hb_mono + c->cfg.node_lost_ms;
		} else
			due = n->last_hb_mono + c->cfg.node_suspect_ms;
		if (next < 0 || due < next)
			next = due;
	}
	return next;
}
