/*
 * internal.h - private to lifecycle/: helpers shared by its files.
 */
#ifndef ORCH_LIFECYCLE_INTERNAL_H
#define ORCH_LIFECYCLE_INTERNAL_H

#include "lifecycle.h"

/* memo.c */
/* Append a copy of *a; ORCH_ERROR on ENOMEM. */
int plan_push(struct lifecycle_plan *p, const struct lifecycle_action *a);
/* Append an alert key to m (copied); ORCH_ERROR on ENOMEM. */
int memo_add_alert(struct lifecycle_memo *m, const char *key);
bool memo_has_alert(const struct lifecycle_memo *m, const char *key);
/* Home of ordinal, or NULL. */
const char *memo_pet_home(const struct lifecycle_memo *m, int ordinal);
int memo_set_pet_home(struct lifecycle_memo *m, int ordinal, const char *node);

/* policy.c */
/* What the failure policy says about one observed instance. */
enum verdict {
	VERDICT_LIVE = 0,    /* counts: running or on its way */
	VERDICT_DYING,       /* Destroy: a stop is under way, wait */
	VERDICT_REPLACE,     /* cattle Failed: stop it, start a new one elsewhere */
	VERDICT_LOST,        /* cattle on a Lost node: mark Failed, stop, replace */
	VERDICT_PET_HOLD,    /* pet on a Lost node: never started elsewhere */
	VERDICT_PET_FAILED,  /* pet Failed past its restart limit: a person decides */
	VERDICT__LAST
};
/* Judge inst of a service of kind k whose node is in state ns. why gets a
 * human reason for every verdict but LIVE and DYING. */
enum verdict policy_judge(char *why, size_t whylen,
    const struct lifecycle_instance *inst, enum orch_kind k, enum node_state ns);
/* Node state of name in nodes (NODE_LOST when it is not there). */
enum node_state policy_node_state(const struct lifecycle_node *nodes,
    size_t nnodes, const char *name);

#endif
