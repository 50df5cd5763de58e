/*
 * diff.c - what changes between two manifests, service by service.
 *
 * Every field of struct service_spec is compared and each difference sets
 * its DIFF_F_* bit, so `orchctl diff` can name them all; whether the
 * service needs a rollout or an in-place update follows from the bits
 * (DIFF_ROLLOUT_FIELDS). Fields are compared by meaning, not by layout:
 * env, nodes and depends_on are sets (their order changes nothing), while
 * command and ports are sequences (argv order matters, and ports[0] is
 * ORCH_PORT). version is compared as written, so a new build label
 * ("1.0.0+b2") is a new version to roll out even though semver precedence
 * ignores it. Added and removed services carry no field bits: everything
 * about them changes. architecture_changed is true when exactly one side
 * is NULL.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "manifest.h"

#define NONE ((size_t)-1)

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static int
str_ptr_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;

	if (x == NULL || y == NULL)
		return (x != NULL) - (y != NULL);
	return strcmp(x, y);
}

/* Equal as multisets of strings: sort copies of the pointer arrays. */
static int
strset_eq(bool *out, char *const *a, size_t na, char *const *b, size_t nb)
{
	const char **sa = NULL, **sb = NULL;
	int rc = ORCH_ERROR;

	*out = false;
	if (na != nb)
		return 0;
	if (na == 0) {
		*out = true;
		return 0;
	}
	sa = malloc(na * sizeof(*sa));
	sb = malloc(nb * sizeof(*sb));
	if (sa == NULL || sb == NULL) {
		orch_err_set(ORCH_ERROR, "out of memory comparing manifests");
		goto out;
	}
	memcpy(sa, a, na * sizeof(*sa));
	memcpy(sb, b, nb * sizeof(*sb));
	qsort(sa, na, sizeof(*sa), str_ptr_cmp);
	qsort(sb, nb, sizeof(*sb), str_ptr_cmp);
	*out = true;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(sa[i], sb[i]))
			*out = false;
	rc = 0;
out:
	free(sa);
	free(sb);
	return rc;
}

static int
kv_cmp(const void *a, const void *b)
{
	const struct orch_kv *x = *(const struct orch_kv *const *)a;
	const struct orch_kv *y = *(const struct orch_kv *const *)b;
	int c = str_ptr_cmp(&x->key, &y->key);

	return c ? c : str_ptr_cmp(&x->value, &y->value);
}

/* env as a set of key=value: the order of the map in YAML means nothing. */
static int
env_eq(bool *out, const struct orch_kv *a, size_t na, const struct orch_kv *b,
    size_t nb)
{
	const struct orch_kv **sa = NULL, **sb = NULL;
	int rc = ORCH_ERROR;

	*out = false;
	if (na != nb)
		return 0;
	if (na == 0) {
		*out = true;
		return 0;
	}
	sa = malloc(na * sizeof(*sa));
	sb = malloc(nb * sizeof(*sb));
	if (sa == NULL || sb == NULL) {
		orch_err_set(ORCH_ERROR, "out of memory comparing manifests");
		goto out;
	}
	for (size_t i = 0; i < na; i++) {
		sa[i] = &a[i];
		sb[i] = &b[i];
	}
	qsort(sa, na, sizeof(*sa), kv_cmp);
	qsort(sb, nb, sizeof(*sb), kv_cmp);
	*out = true;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(sa[i]->key, sb[i]->key) ||
		    !str_eq(sa[i]->value, sb[i]->value))
			*out = false;
	rc = 0;
out:
	free(sa);
	free(sb);
	return rc;
}

/* depends_on as a set of (service, constraint); positions do not count. */
static bool
deps_eq(const struct service_spec *a, const struct service_spec *b)
{
	if (a->ndeps != b->ndeps)
		return false;
	for (size_t i = 0; i < a->ndeps; i++) {
		bool found = false;
		for (size_t j = 0; j < b->ndeps && !found; j++)
			found = str_eq(a->deps[i].service, b->deps[j].service) &&
			    str_eq(a->deps[i].constraint, b->deps[j].constraint);
		if (!found)
			return false;
	}
	return true;
}

static bool
health_eq(const struct health_spec *a, const struct health_spec *b)
{
	return a->type == b->type && str_eq(a->path, b->path) &&
	    str_eq(a->port, b->port) &&
	    strv_eq(a->command, a->ncommand, b->command, b->ncommand) &&
	    a->interval_ms == b->interval_ms && a->timeout_ms == b->timeout_ms &&
	    a->start_period_ms == b->start_period_ms &&
	    a->healthy_threshold == b->healthy_threshold &&
	    a->unhealthy_threshold == b->unhealthy_threshold;
}

static bool
count_eq(struct count_or_pct a, struct count_or_pct b)
{
	return a.value == b.value && a.percent == b.percent;
}

static bool
strategy_eq(const struct strategy_spec *a, const struct strategy_spec *b)
{
	if (a->type != b->type || !count_eq(a->max_surge, b->max_surge) ||
	    !count_eq(a->max_unavailable, b->max_unavailable) ||
	    a->min_ready_ms != b->min_ready_ms ||
	    a->auto_promote_ms != b->auto_promote_ms ||
	    a->scale_down_delay_ms != b->scale_down_delay_ms ||
	    a->auto_rollback != b->auto_rollback ||
	    a->progress_deadline_ms != b->progress_deadline_ms ||
	    a->nsteps != b->nsteps)
		return false;
	for (size_t i = 0; i < a->nsteps; i++)
		if (a->steps[i].weight != b->steps[i].weight ||
		    a->steps[i].pause_ms != b->steps[i].pause_ms)
			return false;
	return true;
}

static bool
limits_eq(const struct limits_spec *a, const struct limits_spec *b)
{
	return a->nofile == b->nofile && a->nproc == b->nproc &&
	    a->core == b->core && a->memlock == b->memlock &&
	    a->stack == b->stack && a->fsize == b->fsize;
}

/* *out = the DIFF_F_* bits in which a and b differ. */
static int
service_fields(unsigned *out, const struct service_spec *a,
    const struct service_spec *b)
{
	unsigned f = 0;
	bool eq;

	if (!str_eq(a->version, b->version))
		f |= DIFF_F_VERSION;
	if (!strv_eq(a->command, a->ncommand, b->command, b->ncommand))
		f |= DIFF_F_COMMAND;
	if (env_eq(&eq, a->env, a->nenv, b->env, b->nenv) < 0)
		return ORCH_ERROR;
	if (!eq)
		f |= DIFF_F_ENV;
	if (!str_eq(a->artifact.url, b->artifact.url) ||
	    !str_eq(a->artifact.sha256, b->artifact.sha256))
		f |= DIFF_F_ARTIFACT;
	if (a->resources.cpu != b->resources.cpu ||
	    a->resources.memory != b->resources.memory)
		f |= DIFF_F_RESOURCES;
	if (!limits_eq(&a->limits, &b->limits))
		f |= DIFF_F_LIMITS;
	if (!str_eq(a->workdir, b->workdir))
		f |= DIFF_F_WORKDIR;
	if (!str_eq(a->user, b->user) || !str_eq(a->group, b->group))
		f |= DIFF_F_USER;
	if (!strv_eq(a->ports, a->nports, b->ports, b->nports))
		f |= DIFF_F_PORTS;
	if (a->kind != b->kind)
		f |= DIFF_F_KIND;
	if (a->replicas != b->replicas)
		f |= DIFF_F_REPLICAS;
	if (a->min != b->min || a->max != b->max)
		f |= DIFF_F_MINMAX;
	if (strset_eq(&eq, a->nodes, a->nnodes, b->nodes, b->nnodes) < 0)
		return ORCH_ERROR;
	if (!eq)
		f |= DIFF_F_NODES;
	if (!health_eq(&a->health, &b->health))
		f |= DIFF_F_HEALTH;
	if (a->stop.signal != b->stop.signal ||
	    a->stop.timeout_ms != b->stop.timeout_ms)
		f |= DIFF_F_STOP;
	if (a->restart.limit != b->restart.limit ||
	    a->restart.window_ms != b->restart.window_ms ||
	    a->restart.backoff_ms != b->restart.backoff_ms ||
	    a->restart.max_backoff_ms != b->restart.max_backoff_ms)
		f |= DIFF_F_RESTART;
	if (!strategy_eq(&a->strategy, &b->strategy))
		f |= DIFF_F_STRATEGY;
	if (!deps_eq(a, b))
		f |= DIFF_F_DEPENDS;
	if (a->route != b->route)
		f |= DIFF_F_ROUTE;
	*out = f;
	return 0;
}

/* The service of m named name, or NONE (NULL names never match). */
static size_t
find_service(const struct manifest *m, const char *name)
{
	if (m == NULL || name == NULL)
		return NONE;
	for (size_t i = 0; i < m->nservices; i++)
		if (str_eq(m->services[i].name, name))
			return i;
	return NONE;
}

/* Start order of m, or source order when the graph has a cycle. */
static int
order_of(size_t **out, const struct manifest *m)
{
	size_t *v;

	*out = NULL;
	if (m == NULL || m->nservices == 0)
		return 0;
	if (manifest_start_order(out, m) == 0)
		return 0;
	if (orch_err_code() == ORCH_ERROR)
		return ORCH_ERROR; /* out of memory, not a cycle */
	if ((v = malloc(m->nservices * sizeof(*v))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory comparing manifests");
	for (size_t i = 0; i < m->nservices; i++)
		v[i] = i;
	*out = v;
	return 0;
}

static int
dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (s != NULL && (*out = strdup(s)) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory comparing manifests");
	return 0;
}

/* Fill d from the service on each side (either may be NULL, not both). */
static int
fill(struct service_diff *d, const struct service_spec *a,
    const struct service_spec *b)
{
	const struct service_spec *any = b ? b : a;

	if (dup_opt(&d->name, any->name) < 0 ||
	    dup_opt(&d->old_version, a ? a->version : NULL) < 0 ||
	    dup_opt(&d->new_version, b ? b->version : NULL) < 0)
		return ORCH_ERROR;
	d->old_replicas = a ? a->replicas : 0;
	d->new_replicas = b ? b->replicas : 0;
	if (a == NULL) {
		d->action = DIFF_ADDED;
		return 0;
	}
	if (b == NULL) {
		d->action = DIFF_REMOVED;
		return 0;
	}
	if (service_fields(&d->fields, a, b) < 0)
		return ORCH_ERROR;
	if (d->fields & DIFF_ROLLOUT_FIELDS)
		d->action = DIFF_CHANGED;
	else if (d->fields != 0)
		d->action = DIFF_INPLACE;
	else
		d->action = DIFF_UNCHANGED;
	return 0;
}

int
manifest_diff(struct manifest_diff **out, const struct manifest *from,
    const struct manifest *to)
{
	struct manifest_diff *d = NULL;
	size_t *to_order = NULL, *from_order = NULL;
	size_t nfrom = from ? from->nservices : 0, nto = to ? to->nservices : 0;
	int rc = ORCH_ERROR;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		orch_err_set(ORCH_ERROR, "out of memory comparing manifests");
		goto out;
	}
	if (nfrom + nto > 0 &&
	    (d->services = calloc(nfrom + nto, sizeof(*d->services))) == NULL) {
		orch_err_set(ORCH_ERROR, "out of memory comparing manifests");
		goto out;
	}
	if (from != NULL || to != NULL)
		d->architecture_changed = from == NULL || to == NULL ||
		    !str_eq(from->architecture, to->architecture) ||
		    !str_eq(from->version, to->version);
	if (order_of(&to_order, to) < 0 || order_of(&from_order, from) < 0)
		goto out;
	/* What `to` holds, in the order it would be started. */
	for (size_t k = 0; k < nto; k++) {
		const struct service_spec *b = &to->services[to_order[k]];
		size_t ai = find_service(from, b->name);

		if (fill(&d->services[d->nservices++],
		    ai == NONE ? NULL : &from->services[ai], b) < 0)
			goto out;
	}
	/* Then what goes away, in the order it would be torn down. */
	for (size_t k = nfrom; k-- > 0;) {
		const struct service_spec *a = &from->services[from_order[k]];

		if (a->name != NULL && find_service(to, a->name) != NONE)
			continue;
		if (fill(&d->services[d->nservices++], a, NULL) < 0)
			goto out;
	}
	*out = d;
	d = NULL;
	rc = 0;
out:
	free(to_order);
	free(from_order);
	manifest_diff_free(d);
	return rc;
}

void
manifest_diff_free(struct manifest_diff *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nservices; i++) {
		free(d->services[i].name);
		free(d->services[i].old_version);
		free(d->services[i].new_version);
	}
	free(d->services);
	free(d);
}

const char *
manifest_diff_field_name(unsigned bit)
{
	static const char *const names[] = {
		"version", "command", "env", "artifact", "resources", "limits",
		"workdir", "user", "ports", "kind", "replicas", "min/max",
		"nodes", "health", "stop", "restart", "strategy", "depends_on",
		"route",
	};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (bit == 1u << i)
			return names[i];
	return "?";
}

const char *
manifest_diff_action_name(enum diff_action a)
{
	switch (a) {
	case DIFF_ADDED: return "added";
	case DIFF_REMOVED: return "removed";
	case DIFF_CHANGED: return "changed";
	case DIFF_INPLACE: return "in-place";
	case DIFF_UNCHANGED: return "unchanged";
	}
	return "?";
}
