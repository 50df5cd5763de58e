/*
 * place.c - the scheduler: which node gets one new instance.
 *
 * Filter, then rank (Nomad's feasibility/ranking split, reduced to what
 * orch knows): a node is feasible when it is Ready, allowed by the
 * service's nodes: list and has the cpu and memory the instance asks for.
 * Feasible nodes rank by fewest instances of this service (spread, so one
 * lost node costs a service as little as possible; the planner counts
 * only instances of the spec being placed, so a rollout spreads the new
 * version, not the sum of old and new), then most free cpu, then most
 * free memory, then a hash of service and node (equal nodes are not
 * taken in name order by every service), then name: deterministic.
 * Nodes the caller wants to avoid (where an instance just failed) rank
 * last but stay usable: a replacement on the same node beats none.
 * The planner passes the counts per node (req->counts), kept as it
 * places; other callers may pass the peers' nodes, counted here.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "units.h"
#include "internal.h"

static bool
in_list(const char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(v[i], name) == 0)
			return true;
	return false;
}

static size_t
count_in(const char *const *v, size_t n, const char *name)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i] != NULL && strcmp(v[i], name) == 0)
			c++;
	return c;
}

/* A size as a person reads it: whole units exact ("64G"), else one
 * decimal of the largest unit it reaches ("76.5G", not "80216064K"). */
static void
fmt_size_human(char *buf, size_t len, uint64_t bytes)
{
	static const char units[] = "KMGT";
	uint64_t unit = 1;
	int k = -1;

	while (k < 3 && bytes >= unit * 1024) {
		unit *= 1024;
		k++;
	}
	if (k < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
	else if (bytes % unit == 0)
		snprintf(buf, len, "%llu%c", (unsigned long long)(bytes / unit), units[k]);
	else
		snprintf(buf, len, "%.1f%c", (double)bytes / (double)unit, units[k]);
}

/* Why node cannot take the instance, or NULL when it can. buf holds the
 * text when it is not a constant. */
static const char *
unfit(char *buf, size_t len, const struct lifecycle_node *n,
    const struct service_spec *s)
{
	if (n->state != NODE_READY) {
		snprintf(buf, len, "%s is %s", n->name,
		    lifecycle_node_state_name(n->state));
		return buf;
	}
	if (s->nnodes > 0 && !in_list((const char *const *)s->nodes, s->nnodes,
	    n->name)) {
		snprintf(buf, len, "%s not in nodes:", n->name);
		return buf;
	}
	if (n->cpu > 0 && s->resources.cpu > 0 &&
	    n->cpu - n->used_cpu < s->resources.cpu - 1e-9) {
		double free_cpu = n->cpu - n->used_cpu;

		snprintf(buf, len, "%s lacks %.3g cpu", n->name,
		    s->resources.cpu - (free_cpu > 0 ? free_cpu : 0));
		return buf;
	}
	if (n->memory > 0 && s->resources.memory > 0 &&
	    (n->used_memory >= n->memory ||
	    n->memory - n->used_memory < s->resources.memory)) {
		uint64_t free_mem = n->used_memory >= n->memory ? 0 :
		    n->memory - n->used_memory;
		char sz[32];

		fmt_size_human(sz, sizeof(sz), s->resources.memory - free_mem);
		snprintf(buf, len, "%s lacks %s memory", n->name, sz);
		return buf;
	}
	return NULL;
}

/* The last tie-break among equal nodes: a hash of the service and the
 * node (rendezvous hashing), so that equal nodes are not always taken in
 * name order: each service's first instance lands on its own node, and
 * one-replica services spread instead of piling on the first name. */
static uint64_t
spread_hash(const char *service, const char *node)
{
	uint64_t h = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)service; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL; /* "ab"+"c" is not "a"+"bc" */
	for (const unsigned char *p = (const unsigned char *)node; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* <0 when node ia ranks before ib. */
static int
rank_cmp(const struct lifecycle_node *nodes, size_t ia, size_t ib,
    const struct lifecycle_place_req *r)
{
	const struct lifecycle_node *a = &nodes[ia], *b = &nodes[ib];
	bool avoid_a = in_list(r->avoid, r->navoid, a->name);
	bool avoid_b = in_list(r->avoid, r->navoid, b->name);
	size_t pa = r->counts ? r->counts[ia] :
	    count_in(r->peers, r->npeers, a->name);
	size_t pb = r->counts ? r->counts[ib] :
	    count_in(r->peers, r->npeers, b->name);
	double ca = a->cpu - a->used_cpu, cb = b->cpu - b->used_cpu;
	uint64_t ma = a->memory > a->used_memory ? a->memory - a->used_memory : 0;
	uint64_t mb = b->memory > b->used_memory ? b->memory - b->used_memory : 0;

	if (avoid_a != avoid_b)
		return avoid_a ? 1 : -1;
	if (pa != pb)
		return pa < pb ? -1 : 1;
	if (ca != cb)
		return ca > cb ? -1 : 1;
	if (ma != mb)
		return ma > mb ? -1 : 1;
	if (spread_hash(r->spec->name, a->name) != spread_hash(r->spec->name, b->name))
		return spread_hash(r->spec->name, a->name) <
		    spread_hash(r->spec->name, b->name) ? -1 : 1;
	return strcmp(a->name, b->name);
}

int
lifecycle_place(size_t *out, char *why, size_t whylen,
    const struct lifecycle_node *nodes, size_t nnodes,
    const struct lifecycle_place_req *req)
{
	size_t best = SIZE_MAX, used = 0;
	char buf[256];

	for (size_t i = 0; i < nnodes; i++) {
		if (unfit(buf, sizeof(buf), &nodes[i], req->spec) != NULL)
			continue;
		if (best == SIZE_MAX || rank_cmp(nodes, i, best, req) < 0)
			best = i;
	}
	if (best != SIZE_MAX) {
		*out = best;
		if (whylen > 0)
			why[0] = '\0';
		return 0;
	}
	/* Nothing fits: say why for each node, in the order given, so a
	 * person sees at once which knob to turn. */
	if (whylen > 0) {
		int k = snprintf(why, whylen, "no node fits:");

		used = k > 0 ? (size_t)k : 0;
		if (nnodes == 0)
			snprintf(why + used, used < whylen ? whylen - used : 0,
			    " no nodes registered");
		for (size_t i = 0; i < nnodes && used < whylen; i++) {
			const char *u = unfit(buf, sizeof(buf), &nodes[i], req->spec);

			k = snprintf(why + used, whylen - used, "%s %s",
			    i ? "," : "", u ? u : "?");
			used += k > 0 ? (size_t)k : 0;
		}
	}
	return orch_err_set(ORCH_ENOTFOUND, "%s: %s", req->spec->name,
	    whylen > 0 ? why : "no node fits");
}

bool
lifecycle_place_suspect_fits(const struct lifecycle_node *nodes, size_t nnodes,
    const struct service_spec *spec)
{
	char buf[256];

	for (size_t i = 0; i < nnodes; i++) {
		struct lifecycle_node n = nodes[i];

		if (n.state != NODE_SUSPECT)
			continue;
		n.state = NODE_READY;
		if (unfit(buf, sizeof(buf), &n, spec) == NULL)
			return true;
	}
	return false;
}
