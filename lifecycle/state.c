/*
 * state.c - the service and instance state machines: names tables,
 * transition tables and the one setter per machine (curl's mstate()).
 *
 * The tables are the whole policy: a move not listed is a bug in the
 * caller, so the setter refuses it instead of recording an event nobody
 * could explain. No-ops are ignored, so a level-triggered loop that keeps
 * asking for the state it is already in records nothing.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "lifecycle.h"

static const char *const service_names[SERVICE__LAST] = {
	[SERVICE_PROVISION] = "Provision",
	[SERVICE_READY] = "Ready",
	[SERVICE_RUN] = "Run",
	[SERVICE_UPDATE] = "Update",
	[SERVICE_ROLLBACK] = "Rollback",
	[SERVICE_SCALE] = "Scale",
	[SERVICE_DESTROY] = "Destroy",
	[SERVICE_FAILED] = "Failed",
};

static const char *const detail_names[SCALE__LAST] = {
	[SCALE_NONE] = "",
	[SCALE_OUT] = "Scale-out",
	[SCALE_IN] = "Scale-in",
};

static const char *const node_names[NODE__LAST] = {
	[NODE_READY] = "Ready",
	[NODE_SUSPECT] = "Suspect",
	[NODE_LOST] = "Lost",
	[NODE_DRAINING] = "Draining",
};

#define S(x) (1u << SERVICE_##x)
/*
 * Allowed service moves, by source state. Why these:
 * - Provision is the first deploy only: once Run, a service never goes
 *   back to it. It comes back from Failed (the first deploy found no node,
 *   then one appeared) and from Destroy (re-added while being removed).
 *   Ready -> Provision: during a first deploy an instance died before all
 *   were started.
 * - Destroy is terminal except for that re-add.
 * - Failed waits for a person, whose apply, rollback or scale may lead
 *   anywhere; a condition that clears by itself (a node appears) too.
 */
static const unsigned service_moves[SERVICE__LAST] = {
	[SERVICE_PROVISION] = S(READY) | S(RUN) | S(FAILED) | S(DESTROY),
	[SERVICE_READY] = S(PROVISION) | S(RUN) | S(UPDATE) | S(ROLLBACK) |
	    S(SCALE) | S(DESTROY) | S(FAILED),
	[SERVICE_RUN] = S(READY) | S(UPDATE) | S(ROLLBACK) | S(SCALE) |
	    S(DESTROY) | S(FAILED),
	[SERVICE_UPDATE] = S(READY) | S(RUN) | S(ROLLBACK) | S(SCALE) |
	    S(DESTROY) | S(FAILED),
	[SERVICE_ROLLBACK] = S(READY) | S(RUN) | S(UPDATE) | S(SCALE) |
	    S(DESTROY) | S(FAILED),
	[SERVICE_SCALE] = S(READY) | S(RUN) | S(UPDATE) | S(ROLLBACK) |
	    S(DESTROY) | S(FAILED),
	[SERVICE_DESTROY] = S(PROVISION),
	[SERVICE_FAILED] = S(PROVISION) | S(READY) | S(RUN) | S(UPDATE) |
	    S(ROLLBACK) | S(SCALE) | S(DESTROY),
};
#undef S

#define I(x) (1u << INSTANCE_##x)
/*
 * Allowed instance moves. A pet restarted in place by its slave goes back
 * to Provision (Ready/Run/Failed -> Provision). Destroy is terminal: the
 * record is deleted once the slave confirms the stop, and a pet started
 * again under its stable id is a new record.
 */
static const unsigned instance_moves[INSTANCE__LAST] = {
	[INSTANCE_PROVISION] = I(READY) | I(RUN) | I(DESTROY) | I(FAILED),
	[INSTANCE_READY] = I(PROVISION) | I(RUN) | I(DESTROY) | I(FAILED),
	[INSTANCE_RUN] = I(PROVISION) | I(READY) | I(DESTROY) | I(FAILED),
	[INSTANCE_DESTROY] = 0,
	[INSTANCE_FAILED] = I(PROVISION) | I(DESTROY),
};
#undef I

const char *
lifecycle_service_state_name(enum service_state s)
{
	return (unsigned)s < SERVICE__LAST ? service_names[s] : "?";
}

int
lifecycle_service_state_parse(const char *word)
{
	for (int i = 0; i < SERVICE__LAST; i++)
		if (word != NULL && strcmp(word, service_names[i]) == 0)
			return i;
	return -1;
}

const char *
lifecycle_scale_detail_name(enum scale_detail d)
{
	return (unsigned)d < SCALE__LAST ? detail_names[d] : "?";
}

const char *
lifecycle_node_state_name(enum node_state s)
{
	return (unsigned)s < NODE__LAST ? node_names[s] : "?";
}

int
lifecycle_node_state_parse(const char *word)
{
	for (int i = 0; i < NODE__LAST; i++)
		if (word != NULL && strcmp(word, node_names[i]) == 0)
			return i;
	return -1;
}

bool
lifecycle_service_move_ok(enum service_state from, enum service_state to)
{
	if ((unsigned)from >= SERVICE__LAST || (unsigned)to >= SERVICE__LAST)
		return false;
	return from == to || (service_moves[from] & (1u << to)) != 0;
}

bool
lifecycle_instance_move_ok(enum instance_state from, enum instance_state to)
{
	if ((unsigned)from >= INSTANCE__LAST || (unsigned)to >= INSTANCE__LAST)
		return false;
	return from == to || (instance_moves[from] & (1u << to)) != 0;
}

static void
fill_event(struct lifecycle_event *out, int from, int to, const char *cause)
{
	if (out == NULL)
		return;
	out->from = from;
	out->to = to;
	snprintf(out->cause, sizeof(out->cause), "%s", cause ? cause : "");
}

int
lifecycle_service_set(struct lifecycle_event *out, enum service_state *state,
    enum service_state to, const char *cause)
{
	enum service_state from = *state;

	if (from == to)
		return 0;
	if (!lifecycle_service_move_ok(from, to))
		return orch_err_set(ORCH_EINVALID, "service: %s -> %s not allowed",
		    lifecycle_service_state_name(from),
		    lifecycle_service_state_name(to));
	*state = to;
	fill_event(out, (int)from, (int)to, cause);
	return 1;
}

int
lifecycle_instance_set(struct lifecycle_event *out, enum instance_state *state,
    enum instance_state to, const char *cause)
{
	enum instance_state from = *state;

	if (from == to)
		return 0;
	if (!lifecycle_instance_move_ok(from, to))
		return orch_err_set(ORCH_EINVALID, "instance: %s -> %s not allowed",
		    proto_state_name(from), proto_state_name(to));
	*state = to;
	fill_event(out, (int)from, (int)to, cause);
	return 1;
}
