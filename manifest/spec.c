/*
 * spec.c - node tree -> struct manifest: the top level (architecture,
 * version, alerts, services), the typed field readers that
 * spec_service.c shares, the loaders and manifest_free().
 *
 * Validation never stops at the first error (ntpd's parse.y model): each
 * reader reports what is wrong with its own field and the walk goes on,
 * so one run of `orchctl validate` shows everything to fix. The manifest
 * is handed out only when no error at all was found.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "internal.h"
#include "units.h"

#define SPEC_MAX_ERRORS 1000

/* ---- helpers shared with spec_service.c ------------------------------ */

void *
spec_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		abort(); /* sizes are bounded by the manifest limits */
	return p;
}

char *
spec_strdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

void
spec_err(struct vctx *v, struct mpos pos, const char *path, const char *fmt,
    ...)
{
	char msg[1024];
	va_list ap;

	/* A hostile file could make one error per node; past a screenful
	 * nobody reads them, and they cost memory. */
	if (v->nerr >= SPEC_MAX_ERRORS) {
		if (v->nerr++ == SPEC_MAX_ERRORS)
			manifest_errors_add(v->errs, v->file, pos, path,
			    "too many errors; the first %d are reported",
			    SPEC_MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	manifest_errors_add(v->errs, v->file, pos, path, "%s", msg);
	v->nerr++;
}

const char *
spec_path(char *buf, const char *parent, const char *key)
{
	snprintf(buf, SPEC_PATH_MAX, "%s%s%s", parent, parent[0] ? "." : "",
	    key);
	return buf;
}

const char *
spec_path_idx(char *buf, const char *parent, size_t i)
{
	snprintf(buf, SPEC_PATH_MAX, "%s[%zu]", parent, i);
	return buf;
}

/* Levenshtein distance, capped: keys are short. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Names users bring from Kubernetes, Nomad and compose files, and what
 * orch calls the same thing (used only where that key is allowed). */
static const struct {
	const char *theirs;
	const char *ours;
} key_aliases[] = {
	{ "environment", "env" }, { "args", "command" },
	{ "cmd", "command" }, { "entrypoint", "command" },
	{ "image", "artifact" }, { "healthcheck", "health" },
	{ "livenessProbe", "health" }, { "readinessProbe", "health" },
	{ "check", "health" }, { "instances", "replicas" },
	{ "count", "replicas" }, { "scale", "replicas" },
	{ "deploy", "strategy" }, { "update", "strategy" },
	{ "update_config", "strategy" }, { "restart_policy", "restart" },
	{ "working_dir", "workdir" }, { "workingDir", "workdir" },
	{ "cwd", "workdir" }, { "dependsOn", "depends_on" },
	{ "constraint", "nodes" }, { "nodeSelector", "nodes" },
	{ "stop_signal", "stop" }, { "ulimits", "limits" },
	{ "name", "architecture" },
};

static const char *
key_alias(const char *key, const char *const *allowed)
{
	for (size_t i = 0; i < sizeof(key_aliases) / sizeof(key_aliases[0]);
	    i++) {
		if (strcmp(key, key_aliases[i].theirs) != 0)
			continue;
		for (size_t j = 0; allowed[j] != NULL; j++)
			if (strcmp(allowed[j], key_aliases[i].ours) == 0)
				return allowed[j];
	}
	return NULL;
}

void
spec_check_keys(struct vctx *v, const struct mnode *map, const char *path,
    const char *const *allowed, bool x_ok)
{
	char p[SPEC_PATH_MAX];

	for (size_t i = 0; i < map->npairs; i++) {
		const struct mnode *k = map->pairs[i].key;
		const char *best = NULL, *alias;
		size_t bestd = 3, off = 0;
		char list[512];
		bool ok = false;

		if (x_ok && strncmp(k->str, "x-", 2) == 0)
			continue;
		for (size_t j = 0; allowed[j] != NULL; j++) {
			size_t d;
			if (strcmp(k->str, allowed[j]) == 0) {
				ok = true;
				break;
			}
			d = edit_distance(k->str, allowed[j]);
			/* A suggestion must be closer than a rewrite. */
			if (d < bestd && d < strlen(allowed[j])) {
				bestd = d;
				best = allowed[j];
			}
		}
		if (ok)
			continue;
		spec_path(p, path, k->str);
		if ((alias = key_alias(k->str, allowed)) != NULL) {
			spec_err(v, k->pos, p, "unknown key '%s' (orch calls it "
			    "'%s')", k->str, alias);
			continue;
		}
		if (best != NULL) {
			spec_err(v, k->pos, p, "unknown key '%s' (did you mean "
			    "'%s'?)", k->str, best);
			continue;
		}
		list[0] = '\0';
		for (size_t j = 0; allowed[j] != NULL && off < sizeof(list); j++) {
			int n = snprintf(list + off, sizeof(list) - off, "%s%s",
			    j ? ", " : "", allowed[j]);
			if (n < 0)
				break;
			off += (size_t)n;
		}
		spec_err(v, k->pos, p, "unknown key '%s' (allowed: %s)", k->str,
		    list);
	}
}

const struct mnode *
spec_field(const struct mnode *map, const char *key)
{
	const struct mnode *n = mnode_get(map, key);

	return mnode_is_null(n) ? NULL : n;
}

const struct mnode *
spec_key(const struct mnode *map, const char *key)
{
	if (map == NULL || map->type != MNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->npairs; i++)
		if (strcmp(map->pairs[i].key->str, key) == 0)
			return map->pairs[i].key;
	return NULL;
}

int
spec_expect_map(struct vctx *v, const struct mnode *n, const char *path)
{
	if (n->type == MNODE_MAP)
		return 0;
	spec_err(v, n->pos, path, "expected a map, got %s", mnode_kind(n));
	return -1;
}

int
spec_string(struct vctx *v, char **out, const struct mnode *n,
    const char *path)
{
	if (n->type != MNODE_SCALAR || mnode_is_null(n)) {
		spec_err(v, n->pos, path, "expected a string, got %s",
		    mnode_kind(n));
		return -1;
	}
	free(*out);
	*out = spec_strdup(n->str);
	return 0;
}

static int
parse_int(int64_t *out, const char *s)
{
	const char *p = s;
	char *end;
	long long x;

	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = x;
	return 0;
}

int
spec_int(struct vctx *v, int64_t *out, const struct mnode *n, const char *path,
    int64_t min, int64_t max)
{
	int64_t x;

	if (n->type != MNODE_SCALAR || !n->plain || parse_int(&x, n->str)) {
		spec_err(v, n->pos, path, "expected an integer, got %s%s%s%s",
		    mnode_kind(n), n->type == MNODE_SCALAR ? " '" : "",
		    n->type == MNODE_SCALAR ? n->str : "",
		    n->type == MNODE_SCALAR ? "'" : "");
		return -1;
	}
	if (x < min || x > max) {
		if (max == INT64_MAX)
			spec_err(v, n->pos, path, "must be at least %lld, got %lld",
			    (long long)min, (long long)x);
		else
			spec_err(v, n->pos, path, "must be %lld..%lld, got %lld",
			    (long long)min, (long long)max, (long long)x);
		return -1;
	}
	*out = x;
	return 0;
}

int
spec_duration(struct vctx *v, int64_t *out, const struct mnode *n,
    const char *path, int64_t min_ms)
{
	int64_t ms;

	if (n->type != MNODE_SCALAR) {
		spec_err(v, n->pos, path, "expected a duration such as 300ms, "
		    "1s or 2m, got %s", mnode_kind(n));
		return -1;
	}
	if (orch_parse_duration(&ms, n->str) != 0) {
		spec_err(v, n->pos, path, "%s", orch_err_last());
		return -1;
	}
	if (ms < min_ms) {
		spec_err(v, n->pos, path, "must be greater than 0");
		return -1;
	}
	*out = ms;
	return 0;
}

int
spec_bool(struct vctx *v, bool *out, const struct mnode *n, const char *path)
{
	if (n->type == MNODE_SCALAR && n->plain) {
		if (strcmp(n->str, "true") == 0 || strcmp(n->str, "True") == 0 ||
		    strcmp(n->str, "TRUE") == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(n->str, "false") == 0 ||
		    strcmp(n->str, "False") == 0 ||
		    strcmp(n->str, "FALSE") == 0) {
			*out = false;
			return 0;
		}
	}
	spec_err(v, n->pos, path, "expected true or false, got %s%s%s%s",
	    mnode_kind(n), n->type == MNODE_SCALAR ? " '" : "",
	    n->type == MNODE_SCALAR ? n->str : "",
	    n->type == MNODE_SCALAR ? "'" : "");
	return -1;
}

bool
spec_is_identifier(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

bool
spec_is_dns_label(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && !(ch == '-' && i > 0 && i < len - 1))
			return false;
	}
	return true;
}

bool
spec_is_url(const char *s, bool allow_file)
{
	const char *rest;

	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else if (allow_file && strncmp(s, "file://", 7) == 0)
		return s[7] == '/' && s[8] != '\0'; /* file:///abs/path */
	else
		return false;
	/* A host, then nothing a URL cannot hold. */
	if (*rest == '\0' || *rest == '/' || *rest == ':')
		return false;
	for (; *rest; rest++)
		if (isspace((unsigned char)*rest) || iscntrl((unsigned char)*rest))
			return false;
	return true;
}

/* ---- names ----------------------------------------------------------- */

static const char *const kind_names[KIND__LAST] = {
	[KIND_CATTLE] = "cattle",
	[KIND_PET] = "pet",
};

static const char *const strategy_names[STRATEGY__LAST] = {
	[STRATEGY_ROLLING] = "rolling",
	[STRATEGY_RECREATE] = "recreate",
	[STRATEGY_BLUE_GREEN] = "blue-green",
	[STRATEGY_CANARY] = "canary",
};

static const char *const health_names[HEALTH__LAST] = {
	[HEALTH_NONE] = "none",
	[HEALTH_HTTP] = "http",
	[HEALTH_TCP] = "tcp",
	[HEALTH_EXEC] = "exec",
};

const char *
manifest_kind_name(enum orch_kind k)
{
	return (unsigned)k < KIND__LAST ? kind_names[k] : "unknown";
}

const char *
manifest_strategy_name(enum strategy_type t)
{
	return (unsigned)t < STRATEGY__LAST ? strategy_names[t] : "unknown";
}

const char *
manifest_health_name(enum health_type t)
{
	return (unsigned)t < HEALTH__LAST ? health_names[t] : "unknown";
}

/* ---- the manifest ---------------------------------------------------- */

void
manifest_free(struct manifest *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nservices; i++)
		spec_service_clear(&m->services[i]);
	free(m->services);
	free(m->file);
	free(m->architecture);
	free(m->version);
	free(m->webhook);
	free(m);
}

const struct service_spec *
manifest_service(const struct manifest *m, const char *name)
{
	if (m == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < m->nservices; i++)
		if (strcmp(m->services[i].name, name) == 0)
			return &m->services[i];
	return NULL;
}

static void
top_alerts(struct vctx *v, struct manifest *m, const struct mnode *n)
{
	static const char *const keys[] = { "webhook", NULL };
	const struct mnode *w;
	char *url = NULL;

	if (spec_expect_map(v, n, "alerts"))
		return;
	spec_check_keys(v, n, "alerts", keys, false);
	if ((w = spec_field(n, "webhook")) == NULL)
		return;
	if (spec_string(v, &url, w, "alerts.webhook"))
		return;
	if (!spec_is_url(url, false)) {
		spec_err(v, w->pos, "alerts.webhook", "'%s' is not an http:// "
		    "or https:// URL", url);
		free(url);
		return;
	}
	m->webhook = url;
}

/*
 * Services: a non-empty map of DNS-label names. Returns whether its
 * structure is sound (every entry a map under a valid name), which is
 * what the graph check needs to say anything meaningful.
 */
static bool
top_services(struct vctx *v, struct manifest *m, const struct mnode *top)
{
	const struct mnode *n = spec_field(top, "services");
	const struct mnode *k = spec_key(top, "services");
	bool sound = true;

	if (n == NULL) {
		spec_err(v, k ? k->pos : top->pos, "services", k ?
		    "must be a non-empty map of services" :
		    "missing required key 'services'");
		return false;
	}
	if (n->type != MNODE_MAP || n->npairs == 0) {
		spec_err(v, n->pos, "services", "must be a non-empty map of "
		    "services, got %s", n->type == MNODE_MAP ? "an empty map" :
		    mnode_kind(n));
		return false;
	}
	if (n->npairs > MANIFEST_MAX_SERVICES) {
		spec_err(v, n->pos, "services", "%zu services, over the limit "
		    "of %d", n->npairs, MANIFEST_MAX_SERVICES);
		v->toobig = true;
		return false;
	}
	m->services = spec_calloc(n->npairs, sizeof(*m->services));
	for (size_t i = 0; i < n->npairs; i++) {
		const struct mpair *p = &n->pairs[i];
		char path[SPEC_PATH_MAX];

		spec_path(path, "services", p->key->str);
		if (!spec_is_dns_label(p->key->str)) {
			spec_err(v, p->key->pos, path, "service name '%s' is not "
			    "a DNS label (lower-case letters, digits and '-', "
			    "starting and ending with a letter or digit, at most "
			    "63 characters)", p->key->str);
			sound = false;
		}
		if (p->val->type != MNODE_MAP) {
			spec_err(v, p->val->pos, path, "a service is a map of "
			    "fields, got %s", mnode_kind(p->val));
			sound = false;
			continue;
		}
		spec_service(v, &m->services[m->nservices++], p);
	}
	return sound;
}

/* graph.c skips what validation left unset (a NULL version, a
 * constraint it cannot parse), so it never repeats our complaints. */
static void
check_graph(struct vctx *v, const struct manifest *m)
{
	size_t before = v->errs->n;

	manifest_check_graph(m, v->errs);
	v->nerr += v->errs->n - before;
}

static void
top_level(struct vctx *v, struct manifest *m, const struct mnode *top)
{
	static const char *const keys[] = {
		"architecture", "version", "alerts", "services", NULL,
	};
	const struct mnode *n;
	bool sound;

	if (top->type != MNODE_MAP) {
		spec_err(v, top->pos, "", "a manifest is a map with "
		    "'architecture' and 'services', got %s", mnode_kind(top));
		return;
	}
	spec_check_keys(v, top, "", keys, true);
	if ((n = spec_field(top, "architecture")) == NULL) {
		const struct mnode *k = spec_key(top, "architecture");
		spec_err(v, k ? k->pos : top->pos, "architecture",
		    k ? "must not be empty" :
		    "missing required key 'architecture'");
	} else if (spec_string(v, &m->architecture, n, "architecture") == 0) {
		if (m->architecture[0] == '\0' ||
		    strlen(m->architecture) > 128) {
			spec_err(v, n->pos, "architecture", "must be 1..128 "
			    "characters");
		}
	}
	m->version = spec_strdup("");
	if ((n = spec_field(top, "version")) != NULL)
		spec_string(v, &m->version, n, "version");
	if ((n = spec_field(top, "alerts")) != NULL)
		top_alerts(v, m, n);
	sound = top_services(v, m, top);
	/* Unrelated field errors do not stop the graph check: the user sees
	 * every problem at once. A broken services map would make it lie. */
	if (sound)
		check_graph(v, m);
}

int
manifest_parse(struct manifest **out, struct manifest_errors *errs,
    const char *buf, size_t len, const char *filename)
{
	struct manifest_errors local;
	struct manifest *m = NULL;
	struct mtree tree;
	struct vctx v;
	char first[1200];
	int rc;

	*out = NULL;
	if (filename == NULL)
		filename = "orch.yaml";
	manifest_errors_init(&local);
	memset(&v, 0, sizeof(v));
	v.errs = &local;
	v.file = filename;
	rc = mtree_parse(&tree, &local, buf, len, filename);
	if (rc != 0)
		goto done;
	m = spec_calloc(1, sizeof(*m));
	m->file = spec_strdup(filename);
	top_level(&v, m, tree.root);
	mtree_free(&tree);
	if (local.n > 0)
		rc = v.toobig ? ORCH_ETOOBIG : ORCH_EINVALID;
done:
	manifest_errors_sort(&local);
	if (rc != 0) {
		manifest_free(m);
		m = NULL;
		if (local.n > 0) {
			manifest_error_format(first, sizeof(first), &local.v[0]);
			orch_err_set(rc, "%s%s", first, local.n > 1 ?
			    " (and more errors)" : "");
		} else {
			orch_err_set(rc, "%s: invalid manifest", filename);
		}
	}
	for (size_t i = 0; errs != NULL && i < local.n; i++)
		manifest_errors_add(errs, local.v[i].file, local.v[i].pos,
		    local.v[i].path, "%s", local.v[i].msg);
	manifest_errors_free(&local);
	*out = m;
	return rc;
}

int
manifest_load_file(struct manifest **out, struct manifest_errors *errs,
    const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = orch_err_sys(errno == ENOENT ? ORCH_ENOTFOUND : ORCH_ERROR,
		    "cannot open %s", path);
		goto fail_msg;
	}
	if (fstat(fd, &st) != 0) {
		rc = orch_err_sys(ORCH_ERROR, "cannot stat %s", path);
		goto fail_msg;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = orch_err_set(ORCH_EINVALID, "%s is not a regular file",
		    path);
		goto fail_msg;
	}
	/* Read one byte past the cap so a file that grew since fstat() is
	 * still caught. */
	buf = spec_calloc(MANIFEST_MAX_BYTES + 2, 1);
	for (;;) {
		ssize_t r = read(fd, buf + len, MANIFEST_MAX_BYTES + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = orch_err_sys(ORCH_ERROR, "cannot read %s", path);
			goto fail_msg;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > MANIFEST_MAX_BYTES)
			break;
	}
	if (len > MANIFEST_MAX_BYTES) {
		rc = orch_err_set(ORCH_ETOOBIG, "%s is over the limit of %d "
		    "bytes", path, MANIFEST_MAX_BYTES);
		goto fail_msg;
	}
	rc = manifest_parse(out, errs, buf, len, path);
	goto done;
fail_msg:
	if (errs != NULL)
		manifest_errors_add(errs, path, (struct mpos){ 0, 0 }, "", "%s",
		    orch_err_last());
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}
