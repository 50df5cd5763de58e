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
 * The list is long (10,000 instances over 20 nodes: 500 statuses every 2
 * s from each) and almost always the same as the last one, so a slave
 * sends it with its digest and then, while nothing changed, the digest
 * alone. A digest-only heartbeat whose digest is the one of the last list
 * this controller took counts as that list sent again. Any doubt -- a
 * digest we do not hold (restart, new list), a node back from Suspect or
 * Lost, or a record the controller changed on its own since (its state is
 * no longer the one the slave reported) -- is answered 409 and the slave
 * sends the full list at once (see docs/api.md).
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
#include "xalloc.h"

static void
unlink_home(struct ctl_inst *i)
{
	if (i->home == NULL)
		return;
	if (i->on_prev != NULL)
		i->on_prev->on_next = i->on_next;
	else
		i->home->placed = i->on_next;
	if (i->on_next != NULL)
		i->on_next->on_prev = i->on_prev;
	i->home = NULL;
	i->on_next = i->on_prev = NULL;
}

static void
link_home(struct ctl_node *n, struct ctl_inst *i)
{
	i->home = n;
	i->on_prev = NULL;
	i->on_next = n->placed;
	if (n->placed != NULL)
		n->placed->on_prev = i;
	n->placed = i;
}

void
ctl_inst_set_node(struct ctl *c, struct ctl_inst *i, const char *name)
{
	struct ctl_node *n;

	if (i->node != NULL && name != NULL && strcmp(i->node, name) == 0)
		return;
	unlink_home(i);
	free(i->node);
	i->node = orch_xstrdup(name);
	if (name != NULL && (n = ctl_node_find(c, name)) != NULL)
		link_home(n, i);
}

void
ctl_inst_unplace(struct ctl_inst *i)
{
	unlink_home(i);
}

void
ctl_node_adopt(struct ctl *c, struct ctl_node *n)
{
	for (struct ctl_inst *i = c->insts; i; i = i->next)
		if (i->home == NULL && i->node != NULL && strcmp(i->node, n->name) == 0)
			link_home(n, i);
}

bool
ctl_node_usable(const struct ctl_node *n)
{
	return n->state == NODE_READY && !n->drain && ctl_node_sched_state(n) == NODE_READY;
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
 * answer or heartbeat: what is older than what we know is ignored. gen:
 * the stamp of the full list it comes in (0: an event). */
static void
observe(struct ctl *c, struct ctl_node *n, const json_t *j, int64_t when, uint64_t gen)
{
	struct instance_status *st = NULL;
	struct ctl_inst *i;

	if (proto_status_decode(&st, j) < 0) {
		log_warnx("node=%s: bad instance status: %s", n->name, orch_err_last());
		return;
	}
	i = ctl_inst_find(c, st->id);
	/* The status's own stamp orders it against what came by another
	 * road (an answer to a command, a list): both are the slave's clock,
	 * where the controller's receive time is not (a failure the slave saw
	 * before its answer to the start arrived must not be taken as older
	 * than that answer). */
	if (st->changed_at > 0)
		when = st->changed_at;
	if (i != NULL && when > 0 && when < i->obs_wall &&
	    (st->changed_at == 0 || i->obs_stamped)) {
		instance_status_free(st);
		return;
	}
	if (i == NULL && gen == 0) {
		/* An event about an instance we have no record of: most
		 * likely a batch sent again (we took it, then died before
		 * answering) about one we removed since. Bringing it back
		 * would put a removed id in the log again and stop nothing;
		 * if it does run, the slave's list (every heartbeat that
		 * changed, and every 30 s) shows it, and that is where an
		 * unknown instance is stopped (issue 11). */
		log_debug("instance=%s node=%s: event about an unknown instance ignored",
		    st->id, n->name);
	} else if (i == NULL) {
		/* Not ours (a record dropped while the node was away, or
		 * a leftover of a service that is gone): destroy it. */
		i = ctl_inst_new(c, st->id, st->service);
		ctl_inst_set_node(c, i, n->name);
		i->kind = st->kind;
		i->version = orch_xstrdup(st->version);
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
			ctl_inst_set_node(c, i, n->name);
		if (strcmp(i->node, n->name) != 0) {
			log_warnx("instance=%s reported by node=%s but placed on node=%s",
			    st->id, n->name, i->node);
		} else {
			enum instance_state before = i->state;

			i->obs_wall = when > 0 ? when : orch_wall_ms();
			i->obs_stamped = st->changed_at > 0;
			if (gen != 0)
				i->listed_gen = gen;
			ctl_inst_observe(c, i, st);
			if (before != i->state)
				ctl_kick(c);
		}
	}
	instance_status_free(st);
}

/* The slave says whether it can write its state file (err NULL: yes).
 * While it cannot, it refuses starts: the node takes no placement, and
 * the change is an event each way. */
static void
node_state_error(struct ctl *c, struct ctl_node *n, const char *err)
{
	char cause[600];

	if ((err == NULL) == (n->state_error == NULL) &&
	    (err == NULL || strcmp(err, n->state_error) == 0))
		return;
	if (err != NULL)
		snprintf(cause, sizeof(cause), "the slave cannot write its state file (%s):"
		    " no placements until it can", err);
	else
		snprintf(cause, sizeof(cause), "the slave writes its state file again");
	if ((err == NULL) != (n->state_error == NULL)) {
		log_warnx("node=%s %s", n->name, cause);
		ctl_node_event(c, n->name, NULL, NULL, cause);
		ctl_kick(c);
	}
	free(n->state_error);
	n->state_error = err ? orch_xstrdup(err) : NULL;
}

static void
node_update(struct ctl *c, struct ctl_node *n, const json_t *body)
{
	const char *addr = json_string_value(json_object_get(body, "address"));
	json_t *labels = json_object_get(body, "labels");
	bool changed = false;

	if (addr != NULL && (n->address == NULL || strcmp(addr, n->address) != 0)) {
		free(n->address);
		n->address = orch_xstrdup(addr);
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
	node_state_error(c, n, json_string_value(json_object_get(body, "state_error")));
	n->last_hb_mono = orch_mono_ms();
	n->last_hb_wall = orch_wall_ms();
	if (changed || !n->seen)
		ctl_node_save(c, n);
	n->seen = true;
}

/* The instances placed on n that its last full list did not hold, as if
 * that list came again: each is missing one more time. */
static void
count_missing(struct ctl *c, struct ctl_node *n)
{
	for (struct ctl_inst *i = n->placed, *next; i; i = next) {
		next = i->on_next;
		if (i->in_flight || !i->started || i->listed_gen == n->list_gen)
			continue;
		if (++i->missing >= CTL_MISSING_HEARTBEATS)
			inst_vanished(c, i, "not running on its node");
	}
}

/* A digest-only heartbeat: true when it stands for the last full list.
 * Then what that list said is still true now (obs_wall moves on, so an
 * older event cannot undo it) and the missing count goes on as if the
 * list had come again. */
static bool
same_list(struct ctl *c, struct ctl_node *n, const char *digest, bool was_live)
{
	int64_t now = orch_wall_ms();

	if (!was_live || n->digest == NULL || strcmp(n->digest, digest) != 0)
		return false;
	for (struct ctl_inst *i = n->placed; i; i = i->on_next)
		/* Changed by the controller since the slave said otherwise
		 * (Failed on a lost node, Provision to revive): only the
		 * list itself can settle it. */
		if (i->listed_gen == n->list_gen && i->state != i->obs_state &&
		    !(i->gone && i->state == INSTANCE_DESTROY))
			return false;
	/* Statuses stamped by the slave (changed_at) order themselves: an
	 * older event cannot undo the list. Unstamped ones take our clock. */
	for (struct ctl_inst *i = n->placed; i; i = i->on_next)
		if (i->listed_gen == n->list_gen && !i->obs_stamped)
			i->obs_wall = now;
	count_missing(c, n);
	return true;
}

/* Whether s is "HOST:PORT" with a port of 1..65535. */
static bool
addr_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || colon == s || strlen(s) > 255)
		return false;
	port = strtol(colon + 1, &end, 10);
	return end != colon + 1 && *end == '\0' && port >= 1 && port <= 65535;
}

/* The fields of a registration or heartbeat have the types a slave sends
 * (slave/report.c): one that does not is refused whole, before anything
 * changes, rather than read as absent or zero. */
static int
report_check(const json_t *body)
{
	const json_t *v, *list = json_object_get(body, "instances");
	const char *key;
	size_t k;

	if ((v = json_object_get(body, "address")) != NULL &&
	    (!json_is_string(v) || !addr_valid(json_string_value(v))))
		return orch_err_set(ORCH_EINVALID, "address: want \"host:port\"");
	if ((v = json_object_get(body, "cpu")) != NULL &&
	    (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) <= 1e6)))
		return orch_err_set(ORCH_EINVALID, "cpu: want a number of CPUs >= 0");
	if ((v = json_object_get(body, "memory")) != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) < 0))
		return orch_err_set(ORCH_EINVALID, "memory: want bytes, an integer >= 0");
	if ((v = json_object_get(body, "heartbeat_ms")) != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 86400000))
		return orch_err_set(ORCH_EINVALID, "heartbeat_ms: want 0..86400000");
	if ((v = json_object_get(body, "state_error")) != NULL && !json_is_string(v) &&
	    !json_is_null(v))
		return orch_err_set(ORCH_EINVALID, "state_error: want a string or null");
	if ((v = json_object_get(body, "labels")) != NULL) {
		const json_t *lv;

		if (!json_is_object(v))
			return orch_err_set(ORCH_EINVALID, "labels: want an object of strings");
		json_object_foreach((json_t *)v, key, lv)
			if (!json_is_string(lv))
				return orch_err_set(ORCH_EINVALID, "labels.%s: want a string", key);
	}
	for (k = 0; json_is_array(list) && k < json_array_size(list); k++)
		if (!json_is_object(json_array_get(list, k)))
			return orch_err_set(ORCH_EINVALID, "instances[%zu]: want an object", k);
	return 0;
}

int
ctl_node_report(struct ctl *c, const char *name, const json_t *body, bool registering)
{
	const json_t *list = json_object_get(body, "instances");
	const char *addr = json_string_value(json_object_get(body, "address"));
	const json_t *dj = json_object_get(body, "digest");
	const char *digest = json_string_value(dj);
	struct ctl_node *n;
	bool was_live;
	int rc = 0;

	if (!json_is_object(body))
		return orch_err_set(ORCH_EINVALID, "body: want a JSON object");
	if (name == NULL || !proto_name_valid(name))
		return orch_err_set(ORCH_EINVALID, "name: want [A-Za-z0-9_.-]{1,128}");
	if (list != NULL && !json_is_array(list))
		return orch_err_set(ORCH_EINVALID, "instances: want an array");
	if (dj != NULL && (digest == NULL || digest[0] == '\0' || strlen(digest) > 128))
		return orch_err_set(ORCH_EINVALID, "digest: want a string of 1 to 128 characters");
	if (list == NULL && digest != NULL && registering)
		return orch_err_set(ORCH_EINVALID, "instances: a registration carries the list");
	if (report_check(body) < 0)
		return orch_err_code();
	if ((n = ctl_node_find(c, name)) == NULL) {
		if (!registering)
			return orch_err_set(ORCH_ENOTFOUND, "node %s is not registered", name);
		if (addr == NULL)
			return orch_err_set(ORCH_EINVALID, "address: want \"host:port\"");
		if ((n = calloc(1, sizeof(*n))) == NULL)
			fatalx("out of memory");
		n->name = orch_xstrdup(name);
		n->state = NODE_READY;
		n->next = c->nodes;
		c->nodes = n;
		ctl_node_adopt(c, n);
		log_info("node=%s registered address=%s", name, addr);
		ctl_node_event(c, name, NULL, "Ready", "node registered");
		ctl_kick(c);
	}
	was_live = n->seen && (n->state == NODE_READY || n->state == NODE_DRAINING);
	ctl_store_hold(c);
	if (list == NULL && digest != NULL && !same_list(c, n, digest, was_live)) {
		/* Not a list we hold: the node stays as it was (not even
		 * alive) until the full list comes, a moment later. */
		rc = orch_err_set(ORCH_EEXISTS, "send the full instance list");
		goto out;
	}
	node_update(c, n, body);
	if (n->drain)
		ctl_node_set_state(c, n, NODE_DRAINING, "heartbeat");
	else
		ctl_node_set_state(c, n, NODE_READY, "heartbeat");
	if (list != NULL || digest == NULL) {
		/* A full list (none at all: an empty one). */
		n->list_gen = ++c->list_gens;
		free(n->digest);
		n->digest = orch_xstrdup(digest);
		for (size_t k = 0; k < json_array_size(list); k++)
			observe(c, n, json_array_get(list, k), 0, n->list_gen);
		count_missing(c, n);
	}
out:
	ctl_store_flush(c);
	return rc;
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
	for (k = 0; k < json_array_size(evs); k++)
		if (!json_is_object(json_array_get(evs, k)))
			return orch_err_set(ORCH_EINVALID, "events[%zu]: want an object", k);
	if ((n = ctl_node_find(c, name)) == NULL)
		return orch_err_set(ORCH_ENOTFOUND, "node %s is not registered", name);
	/* A batch's transitions go to the store in one commit. */
	ctl_store_hold(c);
	for (k = 0; k < json_array_size(evs); k++) {
		const json_t *ev = json_array_get(evs, k);
		const json_t *st = json_object_get(ev, "status");
		const char *id = json_string_value(json_object_get(ev, "instance"));
		struct ctl_inst *i;

		if (json_is_object(st)) {
			observe(c, n, st, json_integer_value(json_object_get(ev, "time")), 0);
			continue;
		}
		if (id == NULL || !json_is_true(json_object_get(ev, "removed")))
			continue;
		if ((i = ctl_inst_find(c, id)) != NULL && i->node != NULL &&
		    strcmp(i->node, name) == 0 && !i->in_flight)
			inst_vanished(c, i, "stopped and removed by the slave");
	}
	ctl_store_flush(c);
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

static int
input_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lifecycle_node *)a)->name,
	    ((const struct lifecycle_node *)b)->name);
}

struct lifecycle_node *
ctl_nodes_input_find(struct lifecycle_node *v, size_t n, const char *name)
{
	struct lifecycle_node key = {.name = name};

	if (name == NULL || n == 0)
		return NULL;
	return bsearch(&key, v, n, sizeof(*v), input_cmp);
}

struct lifecycle_node *
ctl_nodes_input(struct ctl *c, size_t *out_n)
{
	struct lifecycle_node *v;
	size_t n = 0;

	for (struct ctl_node *nd = c->nodes; nd; nd = nd->next)
		n++;
	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		fatalx("out of memory");
	n = 0;
	for (struct ctl_node *nd = c->nodes; nd; nd = nd->next, n++) {
		v[n].name = nd->name;
		v[n].state = ctl_node_sched_state(nd);
		v[n].cpu = nd->cpu;
		v[n].memory = nd->memory > 0 ? (uint64_t)nd->memory : 0;
	}
	qsort(v, n, sizeof(*v), input_cmp);
	/* What is held: every instance that is not on its way out. */
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		struct lifecycle_node *at;

		if (i->gone || i->state == INSTANCE_DESTROY || i->state == INSTANCE_FAILED ||
		    (at = ctl_nodes_input_find(v, n, i->node)) == NULL)
			continue;
		at->used_cpu += i->res_cpu;
		at->used_memory += i->res_memory;
	}
	*out_n = n;
	return v;
}
