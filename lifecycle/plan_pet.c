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

void
plan_pets(struct pctx *c)
{
	char why[LIFECYCLE_REASON_MAX];
	struct live **slot = NULL;
	bool *dying = NULL;
	struct live *upd = NULL;
	bool nofit = false, recreate_wait = false;
	int n = c->target;

	slot = calloc((size_t)n + 1, sizeof(*slot));
	dying = calloc((size_t)n + 1, sizeof(*dying));
	if (slot == NULL || dying == NULL) {
		c->err = ORCH_ERROR;
		goto out;
	}

	/* 1. Judge, and keep at most one instance per ordinal, on its home. */
	for (size_t i = 0; i < c->in->ninstances; i++) {
		const struct lifecycle_instance *inst = &c->in->instances[i];
		enum node_state ns = pl_node_state(c, inst->node);
		int ord = pet_ordinal(c->in->service, inst->id);
		enum verdict v = policy_judge(why, sizeof(why), inst, KIND_PET, ns);
		const char *home;
		struct live *l;

		if (v == VERDICT_DYING) {
			if (ord >= 0 && ord < n)
				dying[ord] = true;
			continue;
		}
		if (ord < 0 || ord >= n) {
			pl_stop(c, inst, ord < 0 ? "not an instance of this pet service" :
			    "over replicas");
			continue;
		}
		home = memo_pet_home(&c->p->memo, ord);
		if (home == NULL && inst->node != NULL) {
			/* Adopt what runs (a memo lost or from an older
			 * controller): its node becomes its home. */
			if (memo_set_pet_home(&c->p->memo, ord, inst->node) < 0)
				c->err = ORCH_ERROR;
		} else if (home != NULL && (inst->node == NULL ||
		    strcmp(home, inst->node) != 0)) {
			pl_stop(c, inst, "not on its home node");
			dying[ord] = true; /* back home once this one is gone */
			continue;
		}
		if (slot[ord] != NULL) {
			pl_stop(c, inst, "a second copy of a pet");
			continue;
		}
		l = &c->live[c->nlive++];
		l->inst = inst;
		l->ns = ns;
		l->ordinal = ord;
		l->old = inst->fingerprint == NULL ||
		    strcmp(inst->fingerprint, c->fp) != 0;
		l->stale = l->old;
		l->run = pl_ready(c, inst);
		slot[ord] = l;

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
				/* A person applied a fix: update it in place now,
				 * it serves nothing anyway. */
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

	/* Recreate: nothing of the new spec starts while an old pet lives or
	 * its stop is in flight. */
	if (c->spec->strategy.type == STRATEGY_RECREATE && c->rollout) {
		for (size_t i = 0; i < c->in->ninstances; i++) {
			const struct lifecycle_instance *inst = &c->in->instances[i];

			if (inst->fingerprint == NULL ||
			    strcmp(inst->fingerprint, c->fp) != 0)
				recreate_wait = true;
		}
	}

	/* 2. Revive missing ordinals in place; give new ones a home. */
	for (int ord = 0; ord < n; ord++) {
		const char *home;

		if (slot[ord] != NULL)
			continue;
		if (recreate_wait) {
			pl_reason(c, PRIO_PROGRESS, "%s: recreate: stopping every "
			    "old pet first", c->change);
			continue;
		}
		if (dying[ord])
			continue; /* never two copies: wait for the stop */
		if (c->first && !c->deps_ok) {
			pl_reason(c, PRIO_DEPS, "%s", c->deps_why);
			continue;
		}
		home = memo_pet_home(&c->p->memo, ord);
		if (home != NULL) {
			enum node_state ns = pl_node_state(c, home);
			char key[LIFECYCLE_ID_MAX + 8];

			if (ns == NODE_LOST || ns == NODE_SUSPECT) {
				snprintf(why, sizeof(why), "pet %s-%d is on %s node %s: "
				    "not started elsewhere", c->in->service, ord,
				    lifecycle_node_state_name(ns), home);
				pl_reason(c, PRIO_HOLD, "%s", why);
				if (ns == NODE_LOST) {
					snprintf(key, sizeof(key), "lost:%s-%d",
					    c->in->service, ord);
					pl_alert(c, key, home, why);
				}
				continue;
			}
			/* Its home, even Draining: drain moves cattle, and a
			 * pet's data lives there. */
			pl_start(c, ord, home, "start in place", why, sizeof(why));
			c->pending = true;
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

	/* 3. Update in place, one at a time, only when every other pet is
	 * Run: stop it now; the next passes start it again, same id, same
	 * node, same data dir, with the new spec. */
	for (int ord = n - 1; ord >= 0; ord--) {
		struct live *l = slot[ord];

		if (l == NULL || l->stopped || !l->old)
			continue;
		c->nold++;
		if (upd == NULL || (!l->run && upd->run))
			upd = l;
	}
	/* Status: rolling, pets updated so far of all; recreate, 1 of 2
	 * while old pets live or stop, then 2. */
	c->p->rollout.steps = c->rollout ? n : 0;
	for (int ord = 0; ord < n && c->rollout; ord++)
		c->p->rollout.step += slot[ord] != NULL && !slot[ord]->old &&
		    slot[ord]->run;
	if (c->rollout && c->spec->strategy.type == STRATEGY_RECREATE) {
		c->p->rollout.steps = 2;
		c->p->rollout.step = upd != NULL || recreate_wait ? 1 : 2;
	}
	if (upd != NULL && c->spec->strategy.type == STRATEGY_RECREATE) {
		if (!ro_hold(c)) {
			for (int ord = 0; ord < n; ord++) {
				struct live *l = slot[ord];

				if (l == NULL || l->stopped || !l->old)
					continue;
				pl_stop(c, l->inst, "recreate: every old pet stops first");
				l->stopped = true;
			}
			pl_reason(c, PRIO_PROGRESS, "%s: recreate: stopping every "
			    "old pet first", c->change);
		}
	} else if (upd != NULL) {
		bool others_blocked = false;

		for (int ord = 0; ord < n; ord++) {
			struct live *l = slot[ord];

			if (l == upd)
				continue;
			if (l == NULL || l->stopped || !l->run ||
			    l->ns == NODE_SUSPECT || l->ns == NODE_LOST ||
			    dying[ord])
				others_blocked = true;
		}
		if (ro_hold(c)) {
			/* paused, failed (a person or the rollback decides),
			 * waiting for a dependency */
		} else if (others_blocked) {
			pl_reason(c, PRIO_PROGRESS, "%s: updating pets in place one at a "
			    "time: %d to go, waiting for the others to be Run",
			    c->change, c->nold);
		} else if (upd->ns == NODE_LOST || upd->ns == NODE_SUSPECT) {
			pl_reason(c, PRIO_STUCK, "update waits for node %s",
			    upd->inst->node);
		} else {
			pl_stop(c, upd->inst, "update in place");
			upd->stopped = true;
			pl_reason(c, PRIO_PROGRESS, "%s: updating pets in place one at a "
			    "time: %d to go", c->change, c->nold);
		}
	}
out:
	free(slot);
	free(dying);
}
