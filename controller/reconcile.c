/*
 * reconcile.c - the level-triggered reconcile: for every service, feed
 * lifecycle_plan() the desired spec, the observed instances, the nodes and
 * the time, and carry out the actions it returns (slave commands, record
 * changes through the one setter per kind, alerts).
 *
 * It runs after any turn of the loop that changed something (ctl_kick:
 * slave events, heartbeat changes, node state changes, apply, scale,
 * drain) and on the periodic resync, so a lost command or a missed event
 * is made good by the next pass. The planner sees the controller's own
 * commands (an instance is recorded Provision when its start is issued,
 * Destroy when its stop is), so passes never repeat them.
 *
 * Services run in start order (dependencies first); services that left the
 * manifest are planned with spec NULL after them and wait for the removed
 * services that depend on them (reverse dependency order).
 *
 * Time: the planner gets wall-clock ms, the clock of the slaves'
 * started_at, so start periods and rollout deadlines measured against a
 * slave's timestamps and the rollout memo survive a controller restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

json_t *
ctl_spec_json(struct ctl *c, const struct service_spec *s, const char *id,
    const char *node)
{
	/* Borrow the manifest's strings: proto_spec_encode() only reads. */
	struct instance_spec is;

	memset(&is, 0, sizeof(is));
	is.id = (char *)id;
	is.service = s->name;
	is.version = s->version;
	is.kind = s->kind;
	is.command = s->command;
	is.ncommand = s->ncommand;
	is.env = s->env;
	is.nenv = s->nenv;
	is.ports = s->ports;
	is.nports = s->nports;
	is.workdir = s->workdir;
	is.user = s->user;
	is.group = s->group;
	is.node = (char *)node;
	is.revision = c->desired_commit;
	is.artifact = s->artifact;
	is.resources = s->resources;
	is.limits = s->limits;
	is.health = s->health;
	is.stop = s->stop;
	is.restart = s->restart;
	return proto_spec_encode(&is);
}

static void
charge(struct lifecycle_node *nodes, size_t nn, const char *node,
    const struct service_spec *s)
{
	struct lifecycle_node *n = ctl_nodes_input_find(nodes, nn, node);

	if (n != NULL) {
		n->used_cpu += s->resources.cpu;
		n->used_memory += s->resources.memory;
	}
}

static void
do_start(struct ctl *c, const char *service, const struct lifecycle_action *a)
{
	struct ctl_inst *i = ctl_inst_find(c, a->id);
	bool fresh = i == NULL;

	if (fresh)
		i = ctl_inst_new(c, a->id, service);
	ctl_inst_set_node(c, i, a->node);
	orch_set_str(&i->fingerprint, a->fingerprint);
	orch_set_str(&i->version, a->spec->version);
	orch_set_str(&i->revision, c->desired_commit);
	i->kind = a->spec->kind;
	ctl_inst_set_spec(i, ctl_spec_json(c, a->spec, a->id, a->node));
	i->gone = false;
	i->started = false;
	i->removed = false;
	i->missing = 0;
	i->pid = 0;
	i->created_mono = orch_mono_ms();
	if (fresh || i->state == INSTANCE_PROVISION) {
		/* Record first, then command: a crash in between leaves a
		 * Provision record the planner re-issues, never a stray
		 * process the controller does not know. */
		ctl_event(c, service, a->id, NULL, "Provision", a->reason);
		ctl_inst_save(c, i);
	} else
		ctl_inst_set_state(c, i, INSTANCE_PROVISION, a->reason);
	log_info("instance=%s service=%s node=%s start: %s", a->id, service, a->node,
	    a->reason);
	if (ctl_slave_start(c, i) < 0)
		log_warnx("instance=%s: %s", a->id, orch_err_last());
}

static void
apply_actions(struct ctl *c, struct ctl_svc *svc, struct lifecycle_plan *p,
    struct lifecycle_node *nodes, size_t nn)
{
	/* The plan's writes go in one store commit (the commands it queues
	 * are sent on the next loop turn, after it). */
	ctl_store_hold(c);
	for (size_t k = 0; k < p->nactions; k++) {
		const struct lifecycle_action *a = &p->actions[k];
		struct ctl_inst *i;

		switch (a->type) {
		case LIFECYCLE_START:
			do_start(c, svc->name, a);
			charge(nodes, nn, a->node, a->spec);
			break;
		case LIFECYCLE_STOP:
			if ((i = ctl_inst_find(c, a->id)) == NULL)
				break;
			i->gone = true;
			ctl_inst_set_state(c, i, INSTANCE_DESTROY, a->reason);
			ctl_inst_save(c, i);
			if (i->node == NULL || !i->started) {
				/* Never acknowledged by a slave: stop whatever
				 * start is queued, then forget it. */
				if (i->node != NULL)
					ctl_slave_stop(c, i);
				else
					ctl_inst_drop(c, i);
			} else if (!ctl_traffic_hold(c, i))
				ctl_slave_stop(c, i); /* else once drained */
			break;
		case LIFECYCLE_MARK_FAILED:
			if ((i = ctl_inst_find(c, a->id)) != NULL)
				ctl_inst_set_state(c, i, INSTANCE_FAILED, a->reason);
			break;
		case LIFECYCLE_ALERT:
			ctl_alert(c, a->key, svc->name, a->node[0] ? a->node : NULL, "%s",
			    a->reason);
			break;
		case LIFECYCLE_SET_STATE:
			svc->detail = a->detail;
			ctl_svc_set_state(c, svc, a->state, a->reason);
			break;
		default:
			break;
		}
	}
	ctl_store_flush(c);
}

/* Plan one service; spec NULL: it left the manifest. Returns true when
 * the service is gone for good. */
/* The instance records of one reconcile pass, grouped by service (in
 * record order within each): each service's plan takes its slice instead
 * of a scan of every record (10 services of 1,000: 10,000 comparisons and
 * a 10,000-entry array per service per pass, before). */
struct by_service {
	struct ctl_inst **v;
	size_t n;
};

struct ranked {
	struct ctl_inst *i;
	size_t k;
};

static int
ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int d = strcmp(x->i->service, y->i->service);

	if (d != 0)
		return d;
	return x->k < y->k ? -1 : x->k > y->k;
}

static void
by_service_build(struct by_service *bs, struct ctl *c)
{
	struct ranked *r;
	size_t n = 0;

	for (struct ctl_inst *i = c->insts; i; i = i->next)
		n++;
	if ((r = calloc(n ? n : 1, sizeof(*r))) == NULL ||
	    (bs->v = calloc(n ? n : 1, sizeof(*bs->v))) == NULL)
		fatalx("out of memory");
	n = 0;
	for (struct ctl_inst *i = c->insts; i; i = i->next, n++) {
		r[n].i = i;
		r[n].k = n;
	}
	qsort(r, n, sizeof(*r), ranked_cmp);
	for (size_t k = 0; k < n; k++)
		bs->v[k] = r[k].i;
	bs->n = n;
	free(r);
}

/* The records of service name: *out_n of them from the returned one. A
 * plan drops or adds records of its own service only, so the slices of
 * the services not planned yet stay valid through the pass. */
static struct ctl_inst **
by_service_slice(const struct by_service *bs, const char *name, size_t *out_n)
{
	size_t lo = 0, hi = bs->n, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(bs->v[mid]->service, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < bs->n && strcmp(bs->v[end]->service, name) == 0; end++)
		;
	*out_n = end - lo;
	return bs->v + lo;
}

/* The planner's view of a service's instances. */
static struct lifecycle_instance *
input_instances(struct ctl_inst **mine, size_t n)
{
	struct lifecycle_instance *iv = calloc(n ? n : 1, sizeof(*iv));

	if (iv == NULL)
		fatalx("out of memory");
	for (size_t k = 0; k < n; k++) {
		const struct ctl_inst *i = mine[k];

		iv[k] = (struct lifecycle_instance){
			.id = i->id,
			.node = i->node ? i->node : "",
			.fingerprint = i->fingerprint ? i->fingerprint : "",
			.version = i->version,
			.state = i->gone ? INSTANCE_DESTROY : i->state,
			.health = i->health,
			.restarts = i->restarts,
			.started_at = i->started_at,
			.ready_at = i->ready_at,
			.exit_code = i->exit_code,
			.exit_signal = i->exit_signal,
			.reason = i->reason,
		};
	}
	return iv;
}

/* The services this one waits for: with a spec, its dependencies; being
 * removed, the removed services that depend on it and still exist (they go
 * first; their specs are in the previous manifest). */
static struct lifecycle_dep *
input_deps(struct ctl *c, const struct ctl_svc *svc, const struct service_spec *spec,
    size_t *out_n)
{
	struct lifecycle_dep *deps;
	size_t nd = 0, cap = 0;

	if (spec != NULL)
		cap = spec->ndeps;
	else
		for (struct ctl_svc *o = c->svcs; o; o = o->next)
			cap++;
	if ((deps = calloc(cap ? cap : 1, sizeof(*deps))) == NULL)
		fatalx("out of memory");
	for (size_t k = 0; spec != NULL && k < spec->ndeps; k++) {
		struct ctl_svc *d = ctl_svc_find(c, spec->deps[k].service);

		deps[nd].service = spec->deps[k].service;
		deps[nd++].state = d ? d->state : SERVICE_PROVISION;
	}
	for (struct ctl_svc *o = c->svcs; spec == NULL && o; o = o->next) {
		const struct service_spec *os = c->prev ? manifest_service(c->prev, o->name) : NULL;

		if (o == svc || os == NULL ||
		    (c->desired && manifest_service(c->desired, o->name)))
			continue;
		for (size_t k = 0; k < os->ndeps; k++)
			if (strcmp(os->deps[k].service, svc->name) == 0) {
				deps[nd].service = o->name;
				deps[nd++].state = o->state;
				break;
			}
	}
	*out_n = nd;
	return deps;
}

/* Take the plan's outcome into the service: state and reason, rollout and
 * traffic, the steering flags it consumed, a rollback it asked for, its
 * wake-up, the crash loop's event summary and the new memo. */
static void
take_plan(struct ctl *c, struct ctl_svc *svc, const struct service_spec *spec,
    struct lifecycle_plan *plan, enum service_state before)
{
	/* Keep the derived reason visible even without a state move. */
	if (plan->state == svc->state)
		ctl_svc_set_state(c, svc, svc->state, plan->reason);
	svc->detail = plan->detail;
	if (svc->state == SERVICE_RUN)
		svc->rollback = false; /* the revert is complete */
	svc->traffic = plan->traffic;
	svc->rollout = plan->rollout;
	if (plan->rollout.promote_taken)
		svc->promote = false;
	if (plan->rollout.abort_taken)
		svc->abort = false;
	if (plan->rollout.rollback_requested && spec != NULL && !svc->rollback) {
		/* The rollout failed with auto_rollback: back to the previous
		 * version (and what depends on it), planned on the next pass. */
		if (ctl_rollback_service(c, svc->name) == 0) {
			svc->rollback = true;
			ctl_kick(c);
		} else
			log_warnx("service=%s: cannot roll back: %s", svc->name, orch_err_last());
	}
	svc->desired = plan->desired;
	svc->ready = plan->ready;
	ctl_wake_at(c, plan->wake_at); /* its timed step, at its time */
	/* Coalesce a crash loop's instance events; say how many at the end
	 * of each minute, when the loop ends and when it fails (before the
	 * memo goes: a fix clears the loop's cause there). */
	svc->crashloop = plan->crashloop;
	ctl_events_coalesce_flush(c, svc, !plan->crashloop ||
	    (plan->state == SERVICE_FAILED && before != SERVICE_FAILED));
	lifecycle_memo_clear(&svc->memo);
	svc->memo = plan->memo;
	memset(&plan->memo, 0, sizeof(plan->memo));
	ctl_svc_save_changed(c, svc);
}

/* One line per plan in the debug log: the plan's lines joined. */
static void
log_plan(const struct ctl_svc *svc, const struct lifecycle_plan *plan)
{
	char *text;

	if (plan->nactions == 0)
		return;
	text = lifecycle_plan_format(plan);
	for (char *p = text; p && *p; p++)
		if (*p == '\n')
			*p = p[1] ? ';' : '\0';
	log_debug("service=%s plan: %s", svc->name, text ? text : "");
	free(text);
}

static bool
plan_service(struct ctl *c, struct ctl_svc *svc, const struct service_spec *spec,
    struct lifecycle_node *nodes, size_t nn, const struct by_service *bs, int64_t now)
{
	struct lifecycle_plan *plan = NULL;
	struct lifecycle_input in = {0};
	size_t nmine;
	struct ctl_inst **mine = by_service_slice(bs, svc->name, &nmine);
	bool done = false;

	in.service = svc->name;
	in.spec = spec;
	in.prev = spec ? ctl_prev_spec(c, svc->name) : NULL; /* what it ran (issue 10 #9) */
	in.state = svc->state;
	in.instances = input_instances(mine, nmine);
	in.ninstances = nmine;
	in.nodes = nodes;
	in.nnodes = nn;
	in.deps = input_deps(c, svc, spec, &in.ndeps);
	in.flags.scale_set = spec != NULL && svc->scale != CTL_SCALE_UNSET;
	in.flags.scale = in.flags.scale_set ? svc->scale : 0;
	in.flags.paused = svc->paused;
	in.flags.rollback = spec != NULL && svc->rollback;
	in.flags.promote = svc->promote;
	in.flags.abort = svc->abort;
	in.memo = &svc->memo;
	in.now = now;
	if (lifecycle_plan(&plan, &in) < 0) {
		log_warnx("service=%s: planner: %s", svc->name, orch_err_last());
		goto out;
	}
	log_plan(svc, plan);
	apply_actions(c, svc, plan, nodes, nn);
	take_plan(c, svc, spec, plan, in.state);
	done = plan->done;
out:
	lifecycle_plan_free(plan);
	free((void *)in.instances);
	free((void *)in.deps);
	return done;
}

/* Move the outcome of the last applied revision into its record once it
 * is known: every service Run (succeeded) or one Failed (failed). */
static void
revision_outcome(struct ctl *c)
{
	const struct ctl_svc *failed = NULL;
	char why[1024];

	if (c->rev_pending == 0 || c->desired == NULL)
		return;
	/* One Failed service decides it, whatever the others are still
	 * doing; a service this revision did not change (a pet Failed
	 * before) is not its outcome (issue 10 #2). */
	for (size_t k = 0; k < c->desired->nservices && failed == NULL; k++) {
		struct ctl_svc *s = ctl_svc_find(c, c->desired->services[k].name);

		if (s != NULL && s->state == SERVICE_FAILED && ctl_revision_touched(c, s))
			failed = s;
	}
	for (size_t k = 0; k < c->desired->nservices && failed == NULL; k++) {
		struct ctl_svc *s = ctl_svc_find(c, c->desired->services[k].name);

		if (s != NULL && s->state == SERVICE_FAILED)
			continue;
		if (s == NULL || s->state != SERVICE_RUN)
			return;
	}
	if (failed != NULL) {
		/* The reason goes with the result: `orchctl history` and
		 * `apply --wait` say why. ctl_revision_failed counts it. */
		snprintf(why, sizeof(why), "service %s is Failed%s%s", failed->name,
		    failed->reason && *failed->reason ? ": " : "",
		    failed->reason ? failed->reason : "");
		ctl_revision_failed(c, c->rev_pending, why);
		return;
	}
	for (struct ctl_svc *s = c->svcs; s; s = s->next)
		if (manifest_service(c->desired, s->name) == NULL)
			return; /* a removed service is still being destroyed */
	ctl_revision_result(c, c->rev_pending, "succeeded");
	c->rollouts_succeeded++;
	c->rev_pending = 0;
}

void
ctl_reconcile(struct ctl *c)
{
	struct lifecycle_node *nodes;
	struct by_service bs;
	struct timespec t0, t1;
	size_t nn, *order = NULL;
	int64_t now = orch_wall_ms(), mono = orch_mono_ms();
	bool all_seen = true;

	/* After a restart, act on nothing missing until every known node
	 * has spoken or one --node-suspect has passed: the instances are
	 * most likely still running, we just have not heard yet. */
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		if (!n->seen)
			all_seen = false;
	if (!all_seen && mono - c->start_mono < c->cfg.node_suspect_ms)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	nodes = ctl_nodes_input(c, &nn);
	by_service_build(&bs, c);
	if (c->desired != NULL) {
		if (manifest_start_order(&order, c->desired) < 0) {
			log_warnx("reconcile: %s", orch_err_last());
			order = NULL;
		}
		for (size_t k = 0; order && k < c->desired->nservices; k++) {
			const struct service_spec *spec = ctl_spec(c,
			    c->desired->services[order[k]].name);
			struct ctl_svc *svc = ctl_svc_get(c, spec->name);
			struct service_spec *rs = ctl_restart_spec(svc, spec); /* api_ops.c */

			plan_service(c, svc, rs ? rs : spec, nodes, nn, &bs, now);
			ctl_restart_spec_free(rs);
		}
	}
	for (struct ctl_svc *s = c->svcs, *next; s; s = next) {
		next = s->next;
		if (c->desired && manifest_service(c->desired, s->name))
			continue;
		if (plan_service(c, s, NULL, nodes, nn, &bs, now))
			ctl_svc_drop(c, s);
	}
	free(order);
	free(nodes);
	free(bs.v);
	revision_outcome(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->reconcile_last_us = (t1.tv_sec - t0.tv_sec) * 1000000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000;
	c->reconcile_sum_us += c->reconcile_last_us;
	c->reconciles++;
	ctl_metrics_observe(c->reconcile_hist, c->reconcile_last_us);
}
