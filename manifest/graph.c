/*
 * graph.c - the depends_on graph: start order, cycles, missing services
 * and version constraints.
 *
 * An edge a -> b means "a depends on b": b starts first. The graph is
 * rebuilt from the manifest on every call (services <= 1000, so a sorted
 * name index and O(n * (n + E)) loops are cheap) and must cope with a
 * manifest that validation only partly filled: NULL names, NULL versions
 * and dependencies on services that do not exist are skipped, never
 * dereferenced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "manifest.h"

#define NONE ((size_t)-1)

struct graph {
	const struct manifest *m;
	size_t n;
	size_t *first; /* n + 1 offsets into to[]: service i's edges */
	size_t *to;    /* target service of each depends_on entry, or NONE */
};

struct name_ix {
	const char *name;
	size_t ix;
};

static int
name_ix_cmp(const void *a, const void *b)
{
	const struct name_ix *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->ix < y->ix ? -1 : x->ix > y->ix;
}

/* The first service in source order named name, or NONE. */
static size_t
lookup(const struct name_ix *ix, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	/* Lower bound, so a duplicated name resolves to its first use. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && strcmp(ix[lo].name, name) == 0)
		return ix[lo].ix;
	return NONE;
}

static void
graph_free(struct graph *g)
{
	free(g->first);
	free(g->to);
	memset(g, 0, sizeof(*g));
}

/* Resolve every depends_on entry to a service index. 0 or ORCH_ERROR. */
static int
graph_build(struct graph *g, const struct manifest *m)
{
	struct name_ix *ix = NULL;
	size_t nix = 0, nedges = 0, e = 0;
	int rc = ORCH_ERROR;

	memset(g, 0, sizeof(*g));
	g->m = m;
	g->n = m->nservices;
	for (size_t i = 0; i < g->n; i++)
		nedges += m->services[i].ndeps;
	g->first = calloc(g->n + 1, sizeof(*g->first));
	g->to = calloc(nedges ? nedges : 1, sizeof(*g->to));
	ix = calloc(g->n ? g->n : 1, sizeof(*ix));
	if (g->first == NULL || g->to == NULL || ix == NULL) {
		orch_err_set(ORCH_ERROR, "out of memory building the dependency graph");
		goto out;
	}
	for (size_t i = 0; i < g->n; i++) {
		if (m->services[i].name == NULL)
			continue;
		ix[nix].name = m->services[i].name;
		ix[nix].ix = i;
		nix++;
	}
	qsort(ix, nix, sizeof(*ix), name_ix_cmp);
	for (size_t i = 0; i < g->n; i++) {
		const struct service_spec *s = &m->services[i];
		g->first[i] = e;
		for (size_t j = 0; j < s->ndeps; j++, e++) {
			const char *dn = s->deps ? s->deps[j].service : NULL;
			g->to[e] = dn ? lookup(ix, nix, dn) : NONE;
		}
	}
	g->first[g->n] = e;
	rc = 0;
out:
	free(ix);
	if (rc < 0)
		graph_free(g);
	return rc;
}

static const char *
svc_name(const struct graph *g, size_t i)
{
	const char *n = g->m->services[i].name;

	return n ? n : "?";
}

/*
 * "dependency cycle: a -> b -> a" for the cycle path[0..len) (each
 * depending on the next, the last on path[0]). Malloc'd, or NULL.
 */
static char *
cycle_text(const struct graph *g, const size_t *path, size_t len)
{
	size_t cap = sizeof("dependency cycle: ");
	char *buf, *p;

	for (size_t i = 0; i < len; i++)
		cap += strlen(svc_name(g, path[i])) + 4;
	cap += strlen(svc_name(g, path[0])) + 1;
	if ((buf = malloc(cap)) == NULL)
		return NULL;
	p = buf + sprintf(buf, "dependency cycle: ");
	for (size_t i = 0; i < len; i++)
		p += sprintf(p, "%s -> ", svc_name(g, path[i]));
	sprintf(p, "%s", svc_name(g, path[0]));
	return buf;
}

/*
 * Shortest cycle through s using only services with alive[] set, found by
 * breadth-first search along depends_on entries in their order (so the
 * answer is deterministic). Fills path (room for g->n) starting at s and
 * returns its length, or 0 when s is on no cycle.
 */
static size_t
cycle_through(size_t *path, const struct graph *g, size_t s,
    const bool *alive, size_t *parent, size_t *queue)
{
	size_t head = 0, tail = 0, last = NONE, len = 0;

	for (size_t i = 0; i < g->n; i++)
		parent[i] = NONE;
	parent[s] = s;
	queue[tail++] = s;
	while (head < tail && last == NONE) {
		size_t x = queue[head++];
		for (size_t e = g->first[x]; e < g->first[x + 1]; e++) {
			size_t y = g->to[e];
			if (y == NONE || !alive[y])
				continue;
			if (y == s) {
				last = x;
				break;
			}
			if (parent[y] != NONE)
				continue;
			parent[y] = x;
			queue[tail++] = y;
		}
	}
	if (last == NONE)
		return 0;
	/* Walk back from last to s, then reverse into dependency order. */
	for (size_t x = last; ; x = parent[x]) {
		path[len++] = x;
		if (x == s)
			break;
	}
	for (size_t i = 0; i < len / 2; i++) {
		size_t t = path[i];
		path[i] = path[len - 1 - i];
		path[len - 1 - i] = t;
	}
	return len;
}

int
manifest_start_order(size_t **out, const struct manifest *m)
{
	struct graph g;
	size_t *order = NULL, *path = NULL, *parent = NULL, *queue = NULL;
	bool *placed = NULL;
	size_t nplaced = 0;
	int rc;

	*out = NULL;
	if (m == NULL)
		return orch_err_set(ORCH_EINVALID, "no manifest");
	if ((rc = graph_build(&g, m)) < 0)
		return rc;
	rc = ORCH_ERROR;
	order = malloc((g.n ? g.n : 1) * sizeof(*order));
	placed = calloc(g.n ? g.n : 1, sizeof(*placed));
	if (order == NULL || placed == NULL) {
		orch_err_set(ORCH_ERROR, "out of memory ordering services");
		goto out;
	}
	/*
	 * Kahn's algorithm, always taking the first ready service in source
	 * order: the result is the lexicographically smallest topological
	 * order, so unrelated services keep the order they were written in.
	 * Unknown dependencies do not constrain the order.
	 */
	while (nplaced < g.n) {
		size_t pick = NONE;
		for (size_t i = 0; i < g.n && pick == NONE; i++) {
			bool ready = !placed[i];
			for (size_t e = g.first[i]; ready && e < g.first[i + 1]; e++)
				if (g.to[e] != NONE && !placed[g.to[e]])
					ready = false;
			if (ready)
				pick = i;
		}
		if (pick == NONE)
			break;
		placed[pick] = true;
		order[nplaced++] = pick;
	}
	if (nplaced < g.n) {
		bool *alive = placed; /* reuse: alive = not placed */
		size_t len = 0;
		char *msg;

		for (size_t i = 0; i < g.n; i++)
			alive[i] = !placed[i];
		path = malloc(g.n * sizeof(*path));
		parent = malloc(g.n * sizeof(*parent));
		queue = malloc(g.n * sizeof(*queue));
		if (path == NULL || parent == NULL || queue == NULL) {
			orch_err_set(ORCH_ERROR, "out of memory ordering services");
			goto out;
		}
		/* The first stuck service in source order that lies on a
		 * cycle is the first of its cycle in source order: every
		 * member of that cycle is stuck and on a cycle too. */
		for (size_t s = 0; s < g.n && len == 0; s++)
			if (alive[s])
				len = cycle_through(path, &g, s, alive, parent, queue);
		msg = len ? cycle_text(&g, path, len) : NULL;
		rc = orch_err_set(ORCH_EINVALID, "%s",
		    msg ? msg : "dependency cycle");
		free(msg);
		goto out;
	}
	*out = order;
	order = NULL;
	rc = 0;
out:
	free(order);
	free(placed);
	free(path);
	free(parent);
	free(queue);
	graph_free(&g);
	return rc;
}

static void
dep_path(char *buf, size_t len, const char *svc, const char *dep)
{
	snprintf(buf, len, "services.%s.depends_on.%s", svc ? svc : "?",
	    dep ? dep : "?");
}

/*
 * Report the cycle path[0..len) once, at the depends_on entry that closes
 * it. The cycle is rotated to start at its first service in source order
 * (the same text manifest_start_order gives), so the closing entry is the
 * last service's dependency on that first one.
 */
static void
report_cycle(const struct graph *g, size_t *path, size_t len,
    struct manifest_errors *errs)
{
	const struct service_spec *last;
	size_t min = 0, e;
	char p[512];
	char *msg;

	for (size_t i = 1; i < len; i++)
		if (path[i] < path[min])
			min = i;
	/* Rotate left by min, in place (len is small; O(len * min) is fine). */
	for (size_t r = 0; r < min; r++) {
		size_t t = path[0];
		memmove(path, path + 1, (len - 1) * sizeof(*path));
		path[len - 1] = t;
	}
	last = &g->m->services[path[len - 1]];
	for (e = g->first[path[len - 1]]; e < g->first[path[len - 1] + 1]; e++)
		if (g->to[e] == path[0])
			break;
	e -= g->first[path[len - 1]];
	dep_path(p, sizeof(p), last->name, last->deps[e].service);
	msg = cycle_text(g, path, len);
	manifest_errors_add(errs, g->m->file, last->deps[e].pos, p, "%s",
	    msg ? msg : "dependency cycle");
	free(msg);
}

enum { WHITE = 0, GRAY, BLACK };

/*
 * Depth-first search from every service in source order; each back edge
 * u -> v (v still on the stack) closes one cycle v -> ... -> u -> v.
 * Self-dependencies are reported by the caller and skipped here.
 */
static void
find_cycles(const struct graph *g, struct manifest_errors *errs)
{
	unsigned char *color = calloc(g->n ? g->n : 1, 1);
	size_t *stack = malloc((g->n ? g->n : 1) * sizeof(*stack));
	size_t *next = malloc((g->n ? g->n : 1) * sizeof(*next));
	size_t *at = malloc((g->n ? g->n : 1) * sizeof(*at));
	size_t *path = malloc((g->n ? g->n : 1) * sizeof(*path));

	if (!color || !stack || !next || !at || !path) {
		manifest_errors_add(errs, g->m->file, (struct mpos){0, 0}, "",
		    "out of memory checking dependency cycles");
		goto out;
	}
	for (size_t root = 0; root < g->n; root++) {
		size_t sp = 0;

		if (color[root] != WHITE)
			continue;
		color[root] = GRAY;
		at[root] = sp;
		stack[sp] = root;
		next[sp++] = g->first[root];
		while (sp > 0) {
			size_t u = stack[sp - 1], e = next[sp - 1], v;

			if (e == g->first[u + 1]) {
				color[u] = BLACK;
				sp--;
				continue;
			}
			next[sp - 1]++;
			v = g->to[e];
			if (v == NONE || v == u)
				continue;
			if (color[v] == GRAY) {
				size_t len = sp - at[v];
				memcpy(path, stack + at[v], len * sizeof(*path));
				report_cycle(g, path, len, errs);
			} else if (color[v] == WHITE) {
				color[v] = GRAY;
				at[v] = sp;
				stack[sp] = v;
				next[sp++] = g->first[v];
			}
		}
	}
out:
	free(color);
	free(stack);
	free(next);
	free(at);
	free(path);
}

/*
 * "*" (or "x", or "") is what depends_on says when it names no
 * constraint (a null value is stored as "*"): "start after it", whatever
 * its version. npm would refuse a pre-release there, but a dependency
 * without a constraint must not fail because the other service ships an
 * "-rc.1".
 */
static bool
any_version(const char *c)
{
	c += strspn(c, " \t");
	if (*c == '*' || *c == 'x' || *c == 'X')
		c++;
	c += strspn(c, " \t");
	return *c == '\0';
}

void
manifest_check_graph(const struct manifest *m, struct manifest_errors *errs)
{
	struct graph g;
	char p[512];

	if (m == NULL || errs == NULL)
		return;
	if (graph_build(&g, m) < 0) {
		manifest_errors_add(errs, m->file, (struct mpos){0, 0}, "", "%s",
		    orch_err_last());
		return;
	}
	for (size_t i = 0; i < g.n; i++) {
		const struct service_spec *s = &m->services[i];

		for (size_t j = 0; j < s->ndeps; j++) {
			const struct dependency *d = &s->deps[j];
			const struct service_spec *t;
			size_t to = g.to[g.first[i] + j];
			bool ok = true;

			if (d->service == NULL)
				continue;
			dep_path(p, sizeof(p), s->name, d->service);
			if (to == NONE) {
				manifest_errors_add(errs, m->file, d->pos, p,
				    "depends on unknown service '%s'", d->service);
				continue;
			}
			if (to == i) {
				manifest_errors_add(errs, m->file, d->pos, p,
				    "a service cannot depend on itself "
				    "(dependency cycle: %s -> %s)",
				    svc_name(&g, i), svc_name(&g, i));
				continue;
			}
			t = &m->services[to];
			/* A NULL version or an unparsable constraint was
			 * already reported where it was read. */
			if (t->version == NULL || d->constraint == NULL ||
			    any_version(d->constraint))
				continue;
			if (semver_satisfies(&ok, d->constraint, &t->semver) < 0)
				continue;
			if (!ok)
				manifest_errors_add(errs, m->file, d->pos, p,
				    "requires %s %s, but %s is at %s", d->service,
				    d->constraint, d->service, t->version);
		}
	}
	find_cycles(&g, errs);
	graph_free(&g);
}
