/*
 * lifecycle_sim.h - a small simulated cluster for the lifecycle tests.
 *
 * It plays the controller and the slaves around lifecycle_plan(): each
 * step plans every service (in start order, removed ones in teardown
 * order), applies the actions to the observed set the way the controller
 * records them (start -> instance in Provision, stop -> Destroy, state
 * changes through the setters, which must accept every move), then
 * advances time one tick and lets the "slaves" move instances on
 * (Provision -> Ready -> Run, Destroy -> gone; a bad version fails at
 * Ready, or runs unhealthy, or crash-loops; a stuck one stays Ready).
 * Nothing on a Lost node moves: its slave cannot report. It also plays
 * the controller's part in rollouts: a rollback request swaps the desired
 * and previous specs and sets flags.rollback, cleared once Run; promote
 * and abort are cleared once the plan took them.
 *
 * Every step also plans each service twice and checks that both plans are
 * identical: idempotence is checked in every scenario, not just one.
 *
 * Included by test_lifecycle_*.c only; functions are static and may go
 * unused in one of them.
 */
#ifndef ORCH_LIFECYCLE_SIM_H
#define ORCH_LIFECYCLE_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "err.h"
#include "lifecycle.h"
#include "manifest.h"

#define SIM_UNUSED __attribute__((unused))
#define SIM_MAX_INST 256
#define SIM_MAX_NODES 8
#define SIM_MAX_SVCS 8
#define SIM_MAX_IDS 1024

struct sim_inst {
	bool used;
	char id[LIFECYCLE_ID_MAX];
	char service[64];
	char node[LIFECYCLE_NODE_MAX];
	char fp[LIFECYCLE_FP_LEN];
	char version[32];
	double cpu;
	uint64_t memory;
	enum instance_state state;
	enum health_state health;
	int restarts;
	int64_t started_at;
	int64_t ready_at;
	bool doomed;       /* goes bad as the sim's bad_mode says */
};

struct sim_svc {
	char name[64];
	const struct service_spec *spec; /* NULL once removed */
	const struct service_spec *old;  /* last spec, for removed ones */
	enum service_state state;
	enum scale_detail detail;
	struct lifecycle_memo memo;
	struct lifecycle_flags flags;
	char reason[LIFECYCLE_REASON_MAX];
	int alerts;
	char last_alert[64];
	char last_alert_node[LIFECYCLE_NODE_MAX];
	int desired, ready;
	bool done;         /* destroyed and dropped */
	int first_start;   /* step of its first START, -1 none */
	int first_stop;    /* step of its first STOP, -1 none */
	int run_step;      /* step it first reached Run, -1 none */
	int done_step;
	int planned;       /* step + 1 of its last plan */
	bool seen_state[SERVICE__LAST];
	/* the controller's side of rollouts (docs/lifecycle.md, Strategies) */
	struct lifecycle_traffic traffic;       /* of the last plan */
	struct lifecycle_rollout_status rollout; /* of the last plan */
	int rollbacks;     /* rollback requests taken (desired swapped) */
	bool manual;       /* tests drive the flags: no auto clearing */
};

struct sim {
	struct manifest *m;      /* current */
	struct manifest *old[8]; /* earlier ones, kept for removed specs */
	size_t nold;
	struct sim_node {
		char name[64];
		enum node_state state;
		double cpu;
		uint64_t memory;
	} nodes[SIM_MAX_NODES];
	size_t nnodes;
	struct sim_inst inst[SIM_MAX_INST];
	struct sim_svc svcs[SIM_MAX_SVCS];
	size_t nsvcs;
	int64_t now;
	int step;
	char bad_version[32];    /* instances of it go bad (bad_mode) */
	int bad_from;            /* ... from its bad_from-th start on (0: all) */
	int bad_seen;            /* starts of bad_version so far */
	enum { SIM_BAD_FAIL = 0, /* Failed at Ready */
	    SIM_BAD_SICK,        /* Run, health unhealthy */
	    SIM_BAD_CRASH,       /* exits at once, restarted every tick */
	} bad_mode;
	char stuck_version[32];  /* instances of it stay Ready */
	char *ids[SIM_MAX_IDS];  /* every id ever started (pets: once) */
	size_t nids;
	int starts, stops;       /* actions applied */
	int last_actions;        /* actions applied in the last step */
	int lost_starts;         /* STARTs aimed at a non-Ready node (bug) */
	int dup_pets;            /* a pet id started while one lived (bug) */
};

static SIM_UNUSED struct manifest *
sim_parse(const char *yaml)
{
	struct manifest *m = NULL;
	struct manifest_errors errs;

	manifest_errors_init(&errs);
	if (manifest_parse(&m, &errs, yaml, strlen(yaml), "test.yaml") < 0) {
		char buf[512];

		for (size_t i = 0; i < errs.n; i++) {
			manifest_error_format(buf, sizeof(buf), &errs.v[i]);
			fprintf(stderr, "%s\n", buf);
		}
	}
	manifest_errors_free(&errs);
	REQUIRE(m != NULL);
	return m;
}

static SIM_UNUSED struct sim_svc *
sim_svc(struct sim *s, const char *name)
{
	for (size_t i = 0; i < s->nsvcs; i++)
		if (strcmp(s->svcs[i].name, name) == 0)
			return &s->svcs[i];
	return NULL;
}

/* Make m the desired manifest (taking ownership), as an apply would. */
static SIM_UNUSED void
sim_apply(struct sim *s, struct manifest *m)
{
	if (s->m != NULL) {
		REQUIRE(s->nold < 8);
		s->old[s->nold++] = s->m;
	}
	s->m = m;
	for (size_t i = 0; i < s->nsvcs; i++) {
		struct sim_svc *v = &s->svcs[i];

		v->old = v->spec ? v->spec : v->old;
		v->spec = manifest_service(m, v->name);
	}
	for (size_t i = 0; i < m->nservices; i++) {
		struct sim_svc *v = sim_svc(s, m->services[i].name);

		if (v == NULL) {
			REQUIRE(s->nsvcs < SIM_MAX_SVCS);
			v = &s->svcs[s->nsvcs++];
			memset(v, 0, sizeof(*v));
			snprintf(v->name, sizeof(v->name), "%s", m->services[i].name);
			v->state = SERVICE_PROVISION;
			v->first_start = v->first_stop = v->run_step = -1;
			v->done_step = -1;
			v->seen_state[SERVICE_PROVISION] = true;
		}
		v->spec = &m->services[i];
	}
}

static SIM_UNUSED struct sim *
sim_new(const char *yaml)
{
	struct sim *s = calloc(1, sizeof(*s));

	REQUIRE(s != NULL);
	s->now = 1000000;
	sim_apply(s, sim_parse(yaml));
	return s;
}

static SIM_UNUSED void
sim_free(struct sim *s)
{
	if (s == NULL)
		return;
	manifest_free(s->m);
	for (size_t i = 0; i < s->nold; i++)
		manifest_free(s->old[i]);
	for (size_t i = 0; i < s->nsvcs; i++)
		lifecycle_memo_clear(&s->svcs[i].memo);
	for (size_t i = 0; i < s->nids; i++)
		free(s->ids[i]);
	free(s);
}

static SIM_UNUSED void
sim_node(struct sim *s, const char *name, double cpu, uint64_t memory)
{
	REQUIRE(s->nnodes < SIM_MAX_NODES);
	snprintf(s->nodes[s->nnodes].name, sizeof(s->nodes[0].name), "%s", name);
	s->nodes[s->nnodes].state = NODE_READY;
	s->nodes[s->nnodes].cpu = cpu;
	s->nodes[s->nnodes].memory = memory;
	s->nnodes++;
}

static SIM_UNUSED void
sim_node_state(struct sim *s, const char *name, enum node_state st)
{
	for (size_t i = 0; i < s->nnodes; i++)
		if (strcmp(s->nodes[i].name, name) == 0) {
			s->nodes[i].state = st;
			return;
		}
	REQUIRE(!"no such node");
}

static SIM_UNUSED enum node_state
sim_node_of(const struct sim *s, const char *name)
{
	for (size_t i = 0; i < s->nnodes; i++)
		if (strcmp(s->nodes[i].name, name) == 0)
			return s->nodes[i].state;
	return NODE_LOST;
}

static SIM_UNUSED struct sim_inst *
sim_find(struct sim *s, const char *id)
{
	for (size_t i = 0; i < SIM_MAX_INST; i++)
		if (s->inst[i].used && strcmp(s->inst[i].id, id) == 0)
			return &s->inst[i];
	return NULL;
}

/* Put an instance into the observed set directly (a starting point). */
static SIM_UNUSED struct sim_inst *
sim_put(struct sim *s, const char *id, const char *service, const char *node,
    const struct service_spec *spec, enum instance_state st)
{
	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		struct sim_inst *x = &s->inst[i];

		if (x->used)
			continue;
		memset(x, 0, sizeof(*x));
		x->used = true;
		snprintf(x->id, sizeof(x->id), "%s", id);
		snprintf(x->service, sizeof(x->service), "%s", service);
		snprintf(x->node, sizeof(x->node), "%s", node);
		lifecycle_fingerprint(x->fp, spec);
		snprintf(x->version, sizeof(x->version), "%s", spec->version);
		/* sim_put'd starting points of the bad version go bad too */
		x->doomed = strcmp(x->version, s->bad_version) == 0;
		x->cpu = spec->resources.cpu;
		x->memory = spec->resources.memory;
		x->state = st;
		/* A starting point has been up a while: past min_ready. */
		x->started_at = s->now - 60000;
		return x;
	}
	REQUIRE(!"simulator full");
	return NULL;
}

/* Count instances of service in state st (-1: any but Destroy) with
 * version ver (NULL: any), on nodes not Lost unless any_node. */
static SIM_UNUSED int
sim_count(const struct sim *s, const char *service, int st, const char *ver)
{
	int n = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		const struct sim_inst *x = &s->inst[i];

		if (!x->used || strcmp(x->service, service) != 0)
			continue;
		if (st < 0 ? x->state == INSTANCE_DESTROY : (int)x->state != st)
			continue;
		if (ver != NULL && strcmp(x->version, ver) != 0)
			continue;
		n++;
	}
	return n;
}

static SIM_UNUSED bool
sim_id_seen(const struct sim *s, const char *id)
{
	for (size_t i = 0; i < s->nids; i++)
		if (strcmp(s->ids[i], id) == 0)
			return true;
	return false;
}

/* Build the input of one service; arrays are the caller's to free. */
static SIM_UNUSED void
sim_input(struct sim *s, struct sim_svc *v, struct lifecycle_input *in,
    struct lifecycle_instance **out_inst, struct lifecycle_node **out_nodes,
    struct lifecycle_dep **out_deps)
{
	struct lifecycle_instance *iv = calloc(SIM_MAX_INST, sizeof(*iv));
	struct lifecycle_node *nv = calloc(SIM_MAX_NODES, sizeof(*nv));
	struct lifecycle_dep *dv = calloc(SIM_MAX_SVCS, sizeof(*dv));

	REQUIRE(iv && nv && dv);
	memset(in, 0, sizeof(*in));
	in->service = v->name;
	in->spec = v->spec;
	in->prev = v->old;
	in->state = v->state;
	in->flags = v->flags;
	in->memo = &v->memo;
	in->now = s->now;
	for (size_t i = 0; i < s->nnodes; i++) {
		nv[i].name = s->nodes[i].name;
		nv[i].state = s->nodes[i].state;
		nv[i].cpu = s->nodes[i].cpu;
		nv[i].memory = s->nodes[i].memory;
		for (size_t j = 0; j < SIM_MAX_INST; j++) {
			const struct sim_inst *x = &s->inst[j];

			if (!x->used || strcmp(x->node, nv[i].name) != 0 ||
			    x->state == INSTANCE_DESTROY || x->state == INSTANCE_FAILED)
				continue;
			nv[i].used_cpu += x->cpu;
			nv[i].used_memory += x->memory;
		}
	}
	in->nodes = nv;
	in->nnodes = s->nnodes;
	for (size_t j = 0; j < SIM_MAX_INST; j++) {
		const struct sim_inst *x = &s->inst[j];
		struct lifecycle_instance *li = &iv[in->ninstances];

		if (!x->used || strcmp(x->service, v->name) != 0)
			continue;
		li->id = x->id;
		li->node = x->node;
		li->fingerprint = x->fp;
		li->version = x->version;
		li->state = x->state;
		li->health = x->health;
		li->restarts = x->restarts;
		li->started_at = x->started_at;
		li->ready_at = x->ready_at;
		in->ninstances++;
	}
	in->instances = iv;
	if (v->spec != NULL) {
		for (size_t d = 0; d < v->spec->ndeps; d++) {
			struct sim_svc *dep = sim_svc(s, v->spec->deps[d].service);

			dv[in->ndeps].service = v->spec->deps[d].service;
			dv[in->ndeps].state = dep ? dep->state : SERVICE_PROVISION;
			in->ndeps++;
		}
	} else {
		/* Removed: wait for the removed services that depend on it. */
		for (size_t k = 0; k < s->nsvcs; k++) {
			struct sim_svc *o = &s->svcs[k];

			if (o->spec != NULL || o->done || o->old == NULL)
				continue;
			for (size_t d = 0; d < o->old->ndeps; d++)
				if (strcmp(o->old->deps[d].service, v->name) == 0) {
					dv[in->ndeps].service = o->name;
					dv[in->ndeps].state = o->state;
					in->ndeps++;
				}
		}
	}
	in->deps = dv;
	*out_inst = iv;
	*out_nodes = nv;
	*out_deps = dv;
}

/* The rolling max_unavailable as a count (rounded down), as the
 * planner resolves it; both 0 is surge 1, unavailable 0. */
static SIM_UNUSED int
sim_unavailable(const struct service_spec *sp, int n)
{
	const struct count_or_pct *u = &sp->strategy.max_unavailable;

	return u->percent ? n * u->value / 100 : u->value;
}

/* The rolling max_surge as a count (rounded up). */
static SIM_UNUSED int
sim_surge(const struct service_spec *sp, int n)
{
	const struct count_or_pct *u = &sp->strategy.max_surge;
	int surge = u->percent ? (n * u->value + 99) / 100 : u->value;

	if (surge == 0 && sim_unavailable(sp, n) == 0)
		surge = 1;
	return surge;
}

/* Instances of service Run on a node not Lost: what serves. */
static SIM_UNUSED int
sim_serving(const struct sim *s, const char *service)
{
	int n = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		const struct sim_inst *x = &s->inst[i];

		if (x->used && strcmp(x->service, service) == 0 &&
		    x->state == INSTANCE_RUN && sim_node_of(s, x->node) != NODE_LOST)
			n++;
	}
	return n;
}

static SIM_UNUSED void
sim_apply_plan(struct sim *s, struct sim_svc *v, struct lifecycle_plan *p)
{
	int serving = sim_serving(s, v->name);
	int live = sim_count(s, v->name, -1, NULL);

	for (size_t i = 0; i < p->nactions; i++) {
		const struct lifecycle_action *a = &p->actions[i];
		struct sim_inst *x = a->type == LIFECYCLE_START ? NULL : sim_find(s, a->id);
		struct lifecycle_event ev;
		int rc;

		s->last_actions++;
		switch (a->type) {
		case LIFECYCLE_START:
			if (sim_node_of(s, a->node) == NODE_LOST ||
			    sim_node_of(s, a->node) == NODE_SUSPECT)
				s->lost_starts++;
			if (sim_find(s, a->id) != NULL) {
				s->dup_pets++;
				break;
			}
			REQUIRE(a->spec != NULL);
			x = sim_put(s, a->id, v->name, a->node, a->spec,
			    INSTANCE_PROVISION);
			CHECK_STR(x->fp, a->fingerprint);
			x->started_at = s->now;
			if (strcmp(x->version, s->bad_version) == 0)
				x->doomed = s->bad_seen++ >= s->bad_from;
			if (a->ordinal < 0)
				CHECK(!sim_id_seen(s, a->id)); /* never reused */
			if (!sim_id_seen(s, a->id) && s->nids < SIM_MAX_IDS)
				s->ids[s->nids++] = strdup(a->id);
			s->starts++;
			if (v->first_start < 0)
				v->first_start = s->step;
			break;
		case LIFECYCLE_STOP:
			REQUIRE(x != NULL);
			rc = lifecycle_instance_set(&ev, &x->state, INSTANCE_DESTROY,
			    a->reason);
			CHECK(rc >= 0);
			s->stops++;
			if (v->first_stop < 0)
				v->first_stop = s->step;
			break;
		case LIFECYCLE_MARK_FAILED:
			REQUIRE(x != NULL);
			rc = lifecycle_instance_set(&ev, &x->state, INSTANCE_FAILED,
			    a->reason);
			CHECK(rc >= 0);
			break;
		case LIFECYCLE_ALERT:
			v->alerts++;
			snprintf(v->last_alert, sizeof(v->last_alert), "%s", a->key);
			snprintf(v->last_alert_node, sizeof(v->last_alert_node), "%s",
			    a->node);
			break;
		case LIFECYCLE_SET_STATE:
			rc = lifecycle_service_set(&ev, &v->state, a->state, a->reason);
			if (rc < 0)
				fprintf(stderr, "%s: %s\n", v->name, orch_err_last());
			CHECK_EQ_INT(rc, 1);
			v->detail = a->detail;
			v->seen_state[v->state] = true;
			break;
		default:
			CHECK(!"unknown action");
		}
	}
	CHECK_EQ_INT(v->state, p->state);
	/* Cattle availability: a plan never takes what serves below the
	 * desired count less the rolling max_unavailable (pets updated in
	 * place go down one by design; recreate stops everything first). */
	if (v->spec != NULL && v->spec->kind == KIND_CATTLE &&
	    v->spec->strategy.type != STRATEGY_RECREATE) {
		int after = sim_serving(s, v->name), floor = p->desired;

		if (v->spec->strategy.type == STRATEGY_ROLLING)
			floor -= sim_unavailable(v->spec, p->desired);
		CHECK(after >= (serving < floor ? serving : floor));
		/* A rolling plan never grows the service past replicas +
		 * max_surge. */
		if (v->spec->strategy.type == STRATEGY_ROLLING) {
			int cap = p->desired + sim_surge(v->spec, p->desired);
			int now_live = sim_count(s, v->name, -1, NULL);

			CHECK(now_live <= (live > cap ? live : cap));
		}
	}
	/* The controller's side: a rollback request swaps desired and
	 * previous and sets the flag; the flag goes once Run; promote and
	 * abort are cleared once taken. */
	v->traffic = p->traffic;
	v->rollout = p->rollout;
	if (p->rollout.rollback_requested && v->old != NULL && v->spec != NULL) {
		const struct service_spec *t = v->spec;

		v->spec = v->old;
		v->old = t;
		v->flags.rollback = true;
		v->rollbacks++;
	}
	if (!v->manual) {
		if (v->state == SERVICE_RUN && v->flags.rollback)
			v->flags.rollback = false;
		if (p->rollout.promote_taken)
			v->flags.promote = false;
		if (p->rollout.abort_taken)
			v->flags.abort = false;
	}
	snprintf(v->reason, sizeof(v->reason), "%s", p->reason);
	v->desired = p->desired;
	v->ready = p->ready;
	if (v->state == SERVICE_RUN && v->run_step < 0)
		v->run_step = s->step;
	lifecycle_memo_clear(&v->memo);
	v->memo = p->memo;
	memset(&p->memo, 0, sizeof(p->memo));
	if (p->done) {
		v->done = true;
		v->done_step = s->step;
	}
}

/* Plan service v (twice: both plans must be equal) and apply the plan. */
static SIM_UNUSED void
sim_plan_one(struct sim *s, struct sim_svc *v)
{
	struct lifecycle_input in;
	struct lifecycle_instance *iv;
	struct lifecycle_node *nv;
	struct lifecycle_dep *dv;
	struct lifecycle_plan *p = NULL, *q = NULL;
	char *a, *b;

	if (v->planned == s->step + 1)
		return;
	v->planned = s->step + 1;
	sim_input(s, v, &in, &iv, &nv, &dv);
	if (lifecycle_plan(&p, &in) < 0)
		fprintf(stderr, "plan %s: %s\n", v->name, orch_err_last());
	REQUIRE(p != NULL);
	REQUIRE(lifecycle_plan(&q, &in) == 0);
	a = lifecycle_plan_format(p);
	b = lifecycle_plan_format(q);
	REQUIRE(a && b);
	CHECK_STR(a, b);
	CHECK_STR(p->reason, q->reason);
	CHECK_EQ_INT(p->memo.next_id, q->memo.next_id);
	CHECK_EQ_INT(p->memo.nalerts, q->memo.nalerts);
	CHECK(memcmp(&p->traffic, &q->traffic, sizeof(p->traffic)) == 0);
	CHECK(memcmp(&p->rollout, &q->rollout, sizeof(p->rollout)) == 0);
	CHECK_EQ_INT(p->memo.rollout_step, q->memo.rollout_step);
	CHECK_EQ_INT(p->memo.rollout_step_at, q->memo.rollout_step_at);
	if (getenv("SIM_TRACE") && a[0])
		fprintf(stderr, "step %d %s [%s] %s\n%s", s->step, v->name,
		    lifecycle_service_state_name(p->state), p->reason, a);
	free(a);
	free(b);
	sim_apply_plan(s, v, p);
	lifecycle_plan_free(p);
	lifecycle_plan_free(q);
	free(iv);
	free(nv);
	free(dv);
}

/* The slaves: move every instance on one tick. Returns how many moved. */
static SIM_UNUSED int
sim_tick(struct sim *s)
{
	int moved = 0;

	s->now += 1000;
	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		struct sim_inst *x = &s->inst[i];
		enum node_state ns;

		if (!x->used)
			continue;
		ns = sim_node_of(s, x->node);
		if (ns == NODE_LOST)
			continue;
		switch (x->state) {
		case INSTANCE_PROVISION:
			x->state = INSTANCE_READY;
			moved++;
			break;
		case INSTANCE_READY:
			if (strcmp(x->version, s->stuck_version) == 0)
				break;
			if (x->doomed && s->bad_mode == SIM_BAD_CRASH) {
				/* exits at once; its slave restarts it */
				x->restarts++;
				moved++;
				break;
			}
			x->state = x->doomed && s->bad_mode == SIM_BAD_FAIL ?
			    INSTANCE_FAILED : INSTANCE_RUN;
			if (x->state == INSTANCE_RUN) {
				x->ready_at = s->now;
				if (x->doomed && s->bad_mode == SIM_BAD_SICK)
					x->health = HEALTH_STATE_UNHEALTHY;
			}
			moved++;
			break;

		case INSTANCE_DESTROY:
			x->used = false;
			moved++;
			break;
		default:
			break;
		}
	}
	return moved;
}

/* One step: plan every service (start order, then removed ones in
 * teardown order), then tick. Returns actions + moves. */
static SIM_UNUSED int
sim_step(struct sim *s)
{
	size_t *order = NULL, n = 0;
	int moved;

	s->last_actions = 0;
	REQUIRE(manifest_start_order(&order, s->m) == 0);
	for (size_t i = 0; i < s->m->nservices; i++)
		sim_plan_one(s, sim_svc(s, s->m->services[order[i]].name));
	free(order);
	for (size_t k = s->nold; k-- > 0;) {
		REQUIRE(lifecycle_teardown_order(&order, &n, s->old[k], s->m) == 0);
		for (size_t i = 0; i < n; i++) {
			struct sim_svc *v = sim_svc(s, s->old[k]->services[order[i]].name);

			if (v != NULL && v->spec == NULL && !v->done)
				sim_plan_one(s, v);
		}
		free(order);
	}
	moved = sim_tick(s);
	s->step++;
	return s->last_actions + moved;
}

/* Step until nothing happens any more (a fixpoint). */
static SIM_UNUSED int
sim_run(struct sim *s, int max)
{
	int steps = 0;

	while (sim_step(s) > 0) {
		steps++;
		REQUIRE(steps < max);
	}
	return steps;
}

#endif
