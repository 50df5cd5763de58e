/*
 * plan_pet.c - the planner of pets: stable ids NAME-N, each on its home
 * node for life; a missing pet is started again only at home, never while
 * a copy may still run (a stop in flight, its node Lost or Suspect); an
 * update goes in place: rolling, one pet at a time, each stopped only
 * while every other one is Run; recreate, every old pet stopped, and only
 * once all are gone every one started again (same ids, nodes, data dirs).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "internal.h"

/* N of "NAME-N" (decimal, no leading zero), or -1. */
static int
pet_ordinal(const char *service, const char *id)
{
	size_t n = strlen(service);
	long v = 0;
	const char *s;

	if (id == NULL || strncmp(id, service, n) != 0 || id[n] != '-')
		return -1;
	s = id + n + 1;
	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > MANIFEST_MAX_REPLICAS)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return (int)v;
}

/* What the phases of plan_pets() share: at most one live instance per
 * ordinal (slot), and the ordinals whose copy is still stopping (dying). */
struct pets {
	struct live **slot;
	bool *dying;
	int n;
	bool recreate_wait; /* recreate: an old pet lives or stops */
};

/* Judge one instance, and keep it as its ordinal's one copy when it is
 * that, on its home; anything else is stopped. */
static void
pets_judge_one(struct pctx *c, struct pets *p, const struct lifecycle_instance *inst)
{
	char why[LIFECYCLE_REASON_MAX];
	enum node_state ns = pl_node_state(c, inst->node);
	int ord = pet_ordinal(c->in->service, inst->id);
	enum verdict v = policy_judge(why, sizeof(why), inst, KIND_PET, ns);
	const char *home;
	struct live *l;

	if (v == VERDICT_DYING) {
		if (ord >= 0 && ord < p->n)
			p->dying[ord] = true;
		return;
	}
	if (ord < 0 || ord >= p->n) {
		pl_stop(c, inst, ord < 0 ? "not an instance of this pet service" :
		    "over replicas");
		return;
	}
	home = memo_pet_home(&c->p->memo, ord);
	if (home == NULL && inst->node != NULL) {
		/* Adopt what runs (a memo lost or from an older controller):
		 * its node becomes its home. */
		if (memo_set_pet_home(&c->p->memo, ord, inst->node) < 0)
			c->err = ORCH_ERROR;
	} else if (home != NULL && (inst->node == NULL || strcmp(home, inst->node) != 0)) {
		pl_stop(c, inst, "not on its home node");
		p->dying[ord] = true; /* back home once this one is gone */
		return;
	}
	if (p->slot[ord] != NULL) {
		pl_stop(c, inst, "a second copy of a pet");
		return;
	}
	l = &c->live[c->nlive++];
	l->inst = inst;
	l->ns = ns;
	l->ordinal = ord;
	l->old = inst->fingerprint == NULL || strcmp(inst->fingerprint, c->fp) != 0;
	l->stale = l->old;
	l->run = pl_ready(c, inst);
	p->slot[ord] = l;

	switch (v) {
	case VERDICT_PET_HOLD: {
		char key[LIFECYCLE_ID_MAX + 8];

		pl_reason(c, PRIO_HOLD, "%s", why);
		snprintf(key, sizeof(key), "lost:%s", inst->id);
		pl_alert(c, key, inst->node, why);
		break;
	}
	case VERDICT_PET_FAILED:
		if (l->old && !c->ro_failed) {
			/* A person applied a fix: update it in place now, it
			 * serves nothing anyway. */
			pl_stop(c, inst, "Failed: update in place");
			l->stopped = true;
			break;
		}
		c->failed = true;
		pl_reason(c, PRIO_FAILED, "%s", why);
		break;
	default:
		if (!l->run && !l->old)
			c->pending = true;
		break;
	}
}

/* 1. Judge every instance. Recreate: nothing of the new spec starts while
 * an old pet lives or its stop is in flight. */
static void
pets_judge(struct pctx *c, struct pets *p)
{
	for (size_t i = 0; i < c->in->ninstances; i++)
		pets_judge_one(c, p, &c->in->instances[i]);
	if (c->spec->strategy.type != STRATEGY_RECREATE || !c->rollout)
		return;
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];

		if (inst->fingerprint == NULL || strcmp(inst->fingerprint, c->fp) != 0)
			p->recreate_wait = true;
	}
}

/* Start a missing pet that has a home, there and only there: never
 * elsewhere while its node may still run it. */
static void
pets_revive_at_home(struct pctx *c, int ord, const char *home)
{
	char why[LIFECYCLE_REASON_MAX], key[LIFECYCLE_ID_MAX + 8];
	enum node_state ns = pl_node_state(c, home);

	if (ns == NODE_LOST || ns == NODE_SUSPECT) {
		snprintf(why, sizeof(why), "pet %s-%d is on %s node %s: not started "
		    "elsewhere", c->in->service, ord, lifecycle_node_state_name(ns), home);
		pl_reason(c, PRIO_HOLD, "%s", why);
		if (ns == NODE_LOST) {
			snprintf(key, sizeof(key), "lost:%s-%d", c->in->service, ord);
			pl_alert(c, key, home, why);
		}
		return;
	}
	/* Its home, even Draining: drain moves cattle, and a pet's data
	 * lives there. */
	pl_start(c, ord, home, "start in place", why, sizeof(why));
	c->pending = true;
}

/* 2. Revive missing ordinals in place; give new ones a home. */
static void
pets_revive(struct pctx *c, struct pets *p)
{
	bool nofit = false;

	for (int ord = 0; ord < p->n; ord++) {
		const char *home;

		if (p->slot[ord] != NULL)
			continue;
		if (p->recreate_wait) {
			pl_reason(c, PRIO_PROGRESS, "%s: recreate: stopping every "
			    "old pet first", c->change);
			continue;
		}
		if (p->dying[ord])
			continue; /* never two copies: wait for the stop */
		if (c->first && !c->deps_ok) {
			pl_reason(c, PRIO_DEPS, "%s", c->deps_why);
			continue;
		}
		if ((home = memo_pet_home(&c->p->memo, ord)) != NULL) {
			pets_revive_at_home(c, ord, home);
			continue;
		}
		/* After one new pet found no node, the next would not either;
		 * but keep reviving the others at home. */
		if (nofit)
			continue;
		if (!pl_start_needed(c, ord, c->first ? "deploy" : "below replicas")) {
			nofit = true;
			continue;
		}
		c->pending = true;
	}
}

/* Rolling: stop upd (the pet to update next) only while every other pet
 * is Run; the next passes start it again. */
static void
pets_update_rolling(struct pctx *c, struct pets *p, struct live *upd)
{
	bool others_blocked = false;

	for (int ord = 0; ord < p->n; ord++) {
		struct live *l = p->slot[ord];

		if (l == upd)
			continue;
		if (l == NULL || l->stopped || !l->run || l->ns == NODE_SUSPECT ||
		    l->ns == NODE_LOST || p->dying[ord])
			others_blocked = true;
	}
	if (ro_hold(c)) {
		/* paused, failed (a person or the rollback decides), waiting
		 * for a dependency */
	} else if (others_blocked) {
		pl_reason(c, PRIO_PROGRESS, "%s: updating pets in place one at a time: "
		    "%d to go, waiting for the others to be Run", c->change, c->nold);
	} else if (upd->ns == NODE_LOST || upd->ns == NODE_SUSPECT) {
		pl_reason(c, PRIO_STUCK, "update waits for node %s", upd->inst->node);
	} else {
		pl_stop(c, upd->inst, "update in place");
		upd->stopped = true;
		pl_reason(c, PRIO_PROGRESS, "%s: updating pets in place one at a time: "
		    "%d to go", c->change, c->nold);
	}
}

/* Recreate: every old pet stops first; they start again together. */
static void
pets_update_recreate(struct pctx *c, struct pets *p)
{
	if (ro_hold(c))
		return;
	for (int ord = 0; ord < p->n; ord++) {
		struct live *l = p->slot[ord];

		if (l == NULL || l->stopped || !l->old)
			continue;
		pl_stop(c, l->inst, "recreate: every old pet stops first");
		l->stopped = true;
	}
	pl_reason(c, PRIO_PROGRESS, "%s: recreate: stopping every old pet first",
	    c->change);
}

/* 3. Update in place (same id, node and data dir, new spec), and the
 * rollout's progress: rolling, pets updated so far of all; recreate, 1 of
 * 2 while old pets live or stop, then 2. */
static void
pets_update(struct pctx *c, struct pets *p)
{
	bool recreate = c->spec->strategy.type == STRATEGY_RECREATE;
	struct live *upd = NULL;

	for (int ord = p->n - 1; ord >= 0; ord--) {
		struct live *l = p->slot[ord];

		if (l == NULL || l->stopped || !l->old)
			continue;
		c->nold++;
		if (upd == NULL || (!l->run && upd->run))
			upd = l;
	}
	c->p->rollout.steps = c->rollout ? p->n : 0;
	for (int ord = 0; ord < p->n && c->rollout; ord++)
		c->p->rollout.step += p->slot[ord] != NULL && !p->slot[ord]->old &&
		    p->slot[ord]->run;
	if (c->rollout && recreate) {
		c->p->rollout.steps = 2;
		c->p->rollout.step = upd != NULL || p->recreate_wait ? 1 : 2;
	}
	if (upd != NULL && recreate)
		pets_update_recreate(c, p);
	else if (upd != NULL)
		pets_update_rolling(c, p, upd);
}

void
plan_pets(struct pctx *c)
{
	struct pets p = {.n = c->target};

	p.slot = calloc((size_t)p.n + 1, sizeof(*p.slot));
	p.dying = calloc((size_t)p.n + 1, sizeof(*p.dying));
	if (p.slot == NULL || p.dying == NULL) {
		c->err = ORCH_ERROR;
		goto out;
	}
	pets_judge(c, &p);
	pets_revive(c, &p);
	pets_update(c, &p);
out:
	free(p.slot);
	free(p.dying);
}
