/*
 * policy.c - pet vs cattle: what a failed instance or a lost node means.
 *
 * The table is by kind and by what happened, s6-supervise style: cattle
 * are interchangeable, so anything wrong with one is answered by a new
 * one elsewhere; a pet owns data on one node, so the only safe answers
 * are "its slave revives it in place" and "a person decides". A pet on a
 * Lost node is never started elsewhere: the node may only be cut off,
 * with the pet still running and writing there, and two copies of a pet
 * are worse than none.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* What happened to an instance, before its kind is considered. */
enum trouble {
	TROUBLE_NONE = 0,
	TROUBLE_STOPPING,  /* Destroy */
	TROUBLE_FAILED,    /* exited or unhealthy past its policy */
	TROUBLE_NODE_LOST, /* its node stopped answering */
	TROUBLE__LAST
};

static const enum verdict verdicts[KIND__LAST][TROUBLE__LAST] = {
	[KIND_CATTLE] = {
		[TROUBLE_NONE] = VERDICT_LIVE,
		[TROUBLE_STOPPING] = VERDICT_DYING,
		[TROUBLE_FAILED] = VERDICT_REPLACE,
		[TROUBLE_NODE_LOST] = VERDICT_LOST,
	},
	[KIND_PET] = {
		[TROUBLE_NONE] = VERDICT_LIVE,
		[TROUBLE_STOPPING] = VERDICT_DYING,
		[TROUBLE_FAILED] = VERDICT_PET_FAILED,
		[TROUBLE_NODE_LOST] = VERDICT_PET_HOLD,
	},
};

enum node_state
policy_node_state(const struct lifecycle_node *nodes, size_t nnodes,
    const char *name)
{
	for (size_t i = 0; name != NULL && i < nnodes; i++)
		if (strcmp(nodes[i].name, name) == 0)
			return nodes[i].state;
	return NODE_LOST;
}

enum verdict
policy_judge(char *why, size_t whylen, const struct lifecycle_instance *inst,
    enum orch_kind k, enum node_state ns)
{
	enum trouble t = TROUBLE_NONE;
	enum verdict v;

	/* A stop in flight wins: whatever else is true, it is going away. */
	if (inst->state == INSTANCE_DESTROY)
		t = TROUBLE_STOPPING;
	else if (ns == NODE_LOST)
		t = TROUBLE_NODE_LOST;
	else if (inst->state == INSTANCE_FAILED)
		t = TROUBLE_FAILED;
	if ((unsigned)k >= KIND__LAST)
		k = KIND_CATTLE;
	v = verdicts[k][t];
	switch (v) {
	case VERDICT_REPLACE:
		snprintf(why, whylen, "%s Failed on %s: replaced", inst->id,
		    inst->node ? inst->node : "?");
		break;
	case VERDICT_LOST:
		snprintf(why, whylen, "node %s Lost: %s replaced elsewhere",
		    inst->node ? inst->node : "?", inst->id);
		break;
	case VERDICT_PET_HOLD:
		snprintf(why, whylen, "pet %s is on Lost node %s: not started elsewhere",
		    inst->id, inst->node ? inst->node : "?");
		break;
	case VERDICT_PET_FAILED:
		snprintf(why, whylen, "pet %s Failed after %d restarts "
		    "(restart limit): a person decides", inst->id, inst->restarts);
		break;
	default:
		if (whylen > 0)
			why[0] = '\0';
		break;
	}
	return v;
}
