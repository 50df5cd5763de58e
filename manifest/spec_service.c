/*
 * spec_service.c - one entry of `services:` -> struct service_spec:
 * defaults, types and every per-service rule of docs/manifest.md.
 *
 * Each block reader starts from the defaults of manifest.h and overwrites
 * only what the user wrote and what passed its check, so a struct is
 * always complete and consistent even while errors pile up in v->errs.
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "internal.h"
#include "signame.h"
#include "spec.h"
#include "units.h"

/* The port a service gets when it needs one and declares none. */
#define IMPLICIT_PORT "main"

static const char *const service_keys[] = {
	"kind", "version", "command", "env", "workdir", "user", "group",
	"artifact", "resources", "limits", "replicas", "min", "max", "nodes",
	"ports", "route", "health", "stop", "restart", "min_ready", "strategy",
	"depends_on", NULL,
};

void
spec_service_clear(struct service_spec *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->version);
	orch_strv_free(s->command, s->ncommand);
	orch_kv_free(s->env, s->nenv);
	free(s->workdir);
	free(s->user);
	free(s->group);
	orch_artifact_spec_release(&s->artifact);
	orch_strv_free(s->nodes, s->nnodes);
	orch_strv_free(s->ports, s->nports);
	orch_health_spec_release(&s->health);
	free(s->strategy.steps);
	for (size_t i = 0; i < s->ndeps; i++) {
		free(s->deps[i].service);
		free(s->deps[i].constraint);
	}
	free(s->deps);
	memset(s, 0, sizeof(*s));
}

/* The defaults of manifest.h and spec-t.h, before any field is read. */
static void
set_defaults(struct service_spec *s)
{
	s->kind = KIND_CATTLE;
	s->workdir = spec_strdup(".");
	orch_spec_defaults(&s->health, &s->restart, &s->stop, &s->limits);
	s->replicas = 1;
	s->route = true;
	s->min = 0;
	s->max = 100;
	s->min_ready_ms = 1000;
	s->strategy.type = STRATEGY_ROLLING;
	s->strategy.max_surge = (struct count_or_pct){ 1, false };
	s->strategy.max_unavailable = (struct count_or_pct){ 0, false };
	s->strategy.min_ready_ms = 0;
	s->strategy.auto_promote_ms = 0;
	s->strategy.scale_down_delay_ms = 30000;
	s->strategy.auto_rollback = true;
	s->strategy.progress_deadline_ms = 600000;
}

/* ---- scalars and lists ----------------------------------------------- */

static void
read_kind(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	char p[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "kind", p, path);

	if (n == NULL)
		return;
	if (n->type == MNODE_SCALAR && strcmp(n->str, "pet") == 0)
		s->kind = KIND_PET;
	else if (n->type == MNODE_SCALAR && strcmp(n->str, "cattle") == 0)
		s->kind = KIND_CATTLE;
	else if (n->type == MNODE_SCALAR)
		spec_err(v, n->pos, p, "kind must be pet or cattle, got '%s'",
		    n->str);
	else
		spec_err(v, n->pos, p, "kind must be pet or cattle, got %s",
		    mnode_kind(n));
}

static void
read_version(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path, struct mpos at)
{
	char p[SPEC_PATH_MAX];
	const struct mnode *n = spec_field(svc, "version");
	char *ver = NULL;

	spec_path(p, path, "version");
	if (n == NULL) {
		spec_err(v, at, p, "missing required key 'version' (the "
		    "software version, semver such as \"1.2.3\")");
		return;
	}
	if (spec_string(v, &ver, n, p))
		return;
	if (semver_parse(&s->semver, ver) != 0) {
		spec_err(v, n->pos, p, "%s", orch_err_last());
		memset(&s->semver, 0, sizeof(s->semver));
		free(ver);
		return;
	}
	s->version = ver;
}

/*
 * The list a command string was probably meant to be: its words when it
 * is plain words, ["sh", "-c", "..."] when it uses shell syntax (quotes,
 * pipes, redirections, variables other than ${...} placeholders).
 */
static void
argv_hint(char *buf, size_t len, const char *cmd)
{
	size_t off;
	int n;

	for (const char *c = cmd; *c; c++) {
		if (*c == '$' && c[1] == '{')
			continue;
		if (strchr("|&;<>()$`\\\"'*?~#\n", *c) != NULL) {
			snprintf(buf, len, "[\"sh\", \"-c\", \"...\"] if you "
			    "need a shell");
			return;
		}
	}
	if (cmd[strspn(cmd, " \t")] == '\0') {
		snprintf(buf, len, "[\"program\", \"arg\", ...]");
		return;
	}
	snprintf(buf, len, "[");
	off = 1;
	for (const char *c = cmd; *c != '\0' && off + 8 < len;) {
		size_t w;

		c += strspn(c, " \t");
		w = strcspn(c, " \t");
		if (w == 0)
			break;
		n = snprintf(buf + off, len - off - 4, "%s\"%.*s\"",
		    off > 1 ? ", " : "", (int)w, c);
		if (n < 0 || (size_t)n >= len - off - 4) {
			off = len - 8;
			snprintf(buf + off, 8, "...");
			off += 3;
			break;
		}
		off += (size_t)n;
		c += w;
	}
	snprintf(buf + off, len - off, "]");
}

/* An argv: a non-empty list of strings. Returns 0 when *out was set. */
static int
read_argv(struct vctx *v, char ***out, size_t *out_n, const struct mnode *n,
    const char *path)
{
	char p[SPEC_PATH_MAX], hint[300];
	char **argv;
	int bad = 0;

	if (n->type == MNODE_SCALAR) {
		argv_hint(hint, sizeof(hint), n->str);
		spec_err(v, n->pos, path, "must be a list, not a string: orch "
		    "runs the program directly, without a shell; write %s",
		    hint);
		return -1;
	}
	if (n->type != MNODE_SEQ) {
		spec_err(v, n->pos, path, "expected a list of strings, got %s",
		    mnode_kind(n));
		return -1;
	}
	if (n->nitems == 0) {
		spec_err(v, n->pos, path, "must not be empty: the first item "
		    "is the program to run");
		return -1;
	}
	argv = spec_calloc(n->nitems + 1, sizeof(*argv));
	for (size_t i = 0; i < n->nitems; i++) {
		const struct mnode *it = n->items[i];
		spec_path_idx(p, path, i);
		if (it->type != MNODE_SCALAR || mnode_is_null(it)) {
			spec_err(v, it->pos, p, "expected a string, got %s",
			    mnode_kind(it));
			bad = 1;
			continue;
		}
		if (i == 0 && it->str[0] == '\0') {
			spec_err(v, it->pos, p, "the program name must not be "
			    "empty");
			bad = 1;
		}
		argv[i] = spec_strdup(it->str);
	}
	if (bad) {
		orch_strv_free(argv, n->nitems);
		return -1;
	}
	orch_strv_free(*out, *out_n);
	*out = argv;
	*out_n = n->nitems;
	return 0;
}

static void
read_command(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path, struct mpos at)
{
	char p[SPEC_PATH_MAX];
	const struct mnode *n = spec_field(svc, "command");

	spec_path(p, path, "command");
	if (n == NULL) {
		spec_err(v, at, p, "missing required key 'command' (the argv "
		    "to run, e.g. [\"bin/web\", \"--port\", \"${ORCH_PORT}\"])");
		return;
	}
	read_argv(v, &s->command, &s->ncommand, n, p);
}

static void
read_env(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	char p[SPEC_PATH_MAX], kp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "env", p, path);

	if (n == NULL || spec_expect_map(v, n, p))
		return;
	if (n->npairs > SPEC_MAX_ENV) {
		spec_err(v, n->pos, p, "%zu env names, over the limit of %d",
		    n->npairs, SPEC_MAX_ENV);
		v->toobig = true;
		return;
	}
	s->env = spec_calloc(n->npairs, sizeof(*s->env));
	for (size_t i = 0; i < n->npairs; i++) {
		const struct mnode *k = n->pairs[i].key, *val = n->pairs[i].val;
		spec_path(kp, p, k->str);
		if (!spec_is_identifier(k->str)) {
			spec_err(v, k->pos, kp, "env name '%s' is not an "
			    "identifier ([A-Za-z_][A-Za-z0-9_]*)", k->str);
			continue;
		}
		if (strncmp(k->str, "ORCH_", 5) == 0) {
			spec_err(v, k->pos, kp, "env name '%s' is reserved: "
			    "orch sets the ORCH_* variables itself", k->str);
			continue;
		}
		if (val->type != MNODE_SCALAR) {
			spec_err(v, val->pos, kp, "expected a string, got %s",
			    mnode_kind(val));
			continue;
		}
		/* Values are the text as written: 8080, true and 1.0 stay
		 * "8080", "true" and "1.0"; a null value is empty. */
		s->env[s->nenv].key = spec_strdup(k->str);
		s->env[s->nenv].value = spec_strdup(mnode_is_null(val) ? "" :
		    val->str);
		s->nenv++;
	}
}

/* A list of unique names. ident: names must be identifiers (ports). */
static void
read_names(struct vctx *v, char ***out, size_t *out_n, const struct mnode *n,
    const char *path, bool ident)
{
	char p[SPEC_PATH_MAX];

	if (n->type != MNODE_SEQ) {
		spec_err(v, n->pos, path, "expected a list of names, got %s",
		    mnode_kind(n));
		return;
	}
	if (n->nitems > (ident ? SPEC_MAX_PORTS : SPEC_MAX_NODES)) {
		spec_err(v, n->pos, path, "%zu %s, over the limit of %d",
		    n->nitems, ident ? "ports" : "nodes",
		    ident ? SPEC_MAX_PORTS : SPEC_MAX_NODES);
		v->toobig = true;
		return;
	}
	*out = spec_calloc(n->nitems + 1, sizeof(**out));
	for (size_t i = 0; i < n->nitems; i++) {
		const struct mnode *it = n->items[i];
		bool dup = false;

		spec_path_idx(p, path, i);
		if (it->type != MNODE_SCALAR || mnode_is_null(it)) {
			spec_err(v, it->pos, p, "expected a name, got %s",
			    mnode_kind(it));
			continue;
		}
		if (ident && !spec_is_identifier(it->str)) {
			spec_err(v, it->pos, p, "port name '%s' is not an "
			    "identifier ([A-Za-z_][A-Za-z0-9_]*)", it->str);
			continue;
		}
		if (!ident && (it->str[0] == '\0' || strlen(it->str) > 253)) {
			spec_err(v, it->pos, p, "node name must be 1..253 "
			    "characters");
			continue;
		}
		/* Ports become ORCH_PORT_<NAME>: names equal once upper-cased
		 * would collide there. */
		for (size_t j = 0; j < *out_n && !dup; j++)
			dup = ident ? strcasecmp((*out)[j], it->str) == 0 :
			    strcmp((*out)[j], it->str) == 0;
		if (dup) {
			spec_err(v, it->pos, p, "duplicate %s name '%s'",
			    ident ? "port" : "node", it->str);
			continue;
		}
		(*out)[(*out_n)++] = spec_strdup(it->str);
	}
}

static bool
is_user_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 32)
		return false;
	for (; *s; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s) ||
		    *s == ':' || *s == '/')
			return false;
	return true;
}

static bool
mentions_port(const struct mnode *n)
{
	if (n == NULL)
		return false;
	if (n->type == MNODE_SCALAR)
		return strstr(n->str, "${ORCH_PORT}") != NULL;
	for (size_t i = 0; i < n->nitems; i++)
		if (mentions_port(n->items[i]))
			return true;
	for (size_t i = 0; i < n->npairs; i++)
		if (mentions_port(n->pairs[i].val))
			return true;
	return false;
}

/*
 * A service that leaves out `ports` but uses ${ORCH_PORT} or an http/tcp
 * health check gets one port named "main" (the design's `cache` example
 * does exactly this). `ports: []` says "no ports" and gets none.
 */
static bool
needs_port(const struct mnode *svc)
{
	const struct mnode *h = spec_field(svc, "health"), *t;

	t = spec_field(h, "type");
	if (t != NULL && t->type == MNODE_SCALAR &&
	    (strcmp(t->str, "http") == 0 || strcmp(t->str, "tcp") == 0))
		return true;
	return mentions_port(spec_field(svc, "command")) ||
	    mentions_port(spec_field(svc, "env")) ||
	    mentions_port(spec_field(h, "command"));
}

static void
read_plain_strings(struct vctx *v, struct service_spec *s,
    const struct mnode *svc, const char *path)
{
	char p[SPEC_PATH_MAX];
	const struct mnode *n;

	if ((n = SPEC_FIELD(svc, "workdir", p, path)) != NULL &&
	    spec_string(v, &s->workdir, n, p) == 0 && s->workdir[0] == '\0')
		spec_err(v, n->pos, p, "must not be empty (use \".\")");
	if ((n = SPEC_FIELD(svc, "user", p, path)) != NULL &&
	    spec_string(v, &s->user, n, p) == 0 && !is_user_name(s->user)) {
		spec_err(v, n->pos, p, "'%s' is not a user name or uid",
		    s->user);
		free(s->user);
		s->user = NULL;
	}
	if ((n = SPEC_FIELD(svc, "group", p, path)) != NULL &&
	    spec_string(v, &s->group, n, p) == 0 && !is_user_name(s->group)) {
		spec_err(v, n->pos, p, "'%s' is not a group name or gid",
		    s->group);
		free(s->group);
		s->group = NULL;
	}
	if ((n = SPEC_FIELD(svc, "nodes", p, path)) != NULL)
		read_names(v, &s->nodes, &s->nnodes, n, p, false);
	if ((n = SPEC_FIELD(svc, "ports", p, path)) != NULL) {
		read_names(v, &s->ports, &s->nports, n, p, true);
	} else if (needs_port(svc)) {
		s->ports = spec_calloc(2, sizeof(*s->ports));
		s->ports[0] = spec_strdup(IMPLICIT_PORT);
		s->nports = 1;
	}
	if ((n = SPEC_FIELD(svc, "route", p, path)) != NULL)
		spec_bool(v, &s->route, n, p);
}

/* ---- artifact, resources, limits -------------------------------------- */

static void
read_artifact(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	static const char *const keys[] = { "url", "sha256", NULL };
	char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "artifact", p, path), *f;
	const struct mnode *k = spec_key(svc, "artifact");
	char *url = NULL, *sum = NULL;

	if (n == NULL || spec_expect_map(v, n, p))
		return;
	spec_check_keys(v, n, p, keys, false);
	if ((f = SPEC_FIELD(n, "url", fp, p)) == NULL) {
		spec_err(v, k->pos, spec_path(fp, p, "url"),
		    "missing required key 'url'");
	} else if (spec_string(v, &url, f, fp) == 0 && !spec_is_url(url, true)) {
		spec_err(v, f->pos, fp, "'%s' is not a file:///, http:// or "
		    "https:// URL", url);
		free(url);
		url = NULL;
	}
	if ((f = SPEC_FIELD(n, "sha256", fp, p)) == NULL) {
		spec_err(v, k->pos, spec_path(fp, p, "sha256"),
		    "missing required key 'sha256' (the artifact is verified "
		    "before it is unpacked)");
	} else if (spec_string(v, &sum, f, fp) == 0) {
		size_t i;
		for (i = 0; sum[i] && isxdigit((unsigned char)sum[i]); i++)
			sum[i] = (char)tolower((unsigned char)sum[i]);
		if (i != 64 || sum[i] != '\0') {
			spec_err(v, f->pos, fp, "must be 64 hex digits (a "
			    "SHA-256 digest)");
			free(sum);
			sum = NULL;
		}
	}
	s->artifact.url = url;
	s->artifact.sha256 = sum;
}

/* cpu: cores as a number ("0.25") or Kubernetes millicores ("250m"). */
static void
read_cpu(struct vctx *v, struct service_spec *s, const struct mnode *n,
    const char *path)
{
	char *end = NULL;
	double cores = 0;
	size_t len;

	if (n->type == MNODE_SCALAR && (len = strlen(n->str)) > 0 &&
	    (isdigit((unsigned char)n->str[0]) || n->str[0] == '.')) {
		cores = strtod(n->str, &end);
		if (end[0] == 'm' && end[1] == '\0') {
			cores /= 1000;
			end++;
		}
	}
	if (end == NULL || *end != '\0' || !(cores > 0) || cores > 4096) {
		spec_err(v, n->pos, path, "cpu must be a number of cores "
		    "greater than 0 (e.g. 0.25 or 250m), got %s%s%s%s",
		    mnode_kind(n), n->type == MNODE_SCALAR ? " '" : "",
		    n->type == MNODE_SCALAR ? n->str : "",
		    n->type == MNODE_SCALAR ? "'" : "");
		return;
	}
	s->resources.cpu = cores;
}

static void
read_resources(struct vctx *v, struct service_spec *s,
    const struct mnode *svc, const char *path)
{
	static const char *const keys[] = { "cpu", "memory", NULL };
	char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "resources", p, path), *f;
	uint64_t bytes;

	if (n == NULL || spec_expect_map(v, n, p))
		return;
	spec_check_keys(v, n, p, keys, false);
	if ((f = SPEC_FIELD(n, "cpu", fp, p)) != NULL)
		read_cpu(v, s, f, fp);
	if ((f = SPEC_FIELD(n, "memory", fp, p)) == NULL)
		return;
	if (f->type != MNODE_SCALAR) {
		spec_err(v, f->pos, fp, "expected a size such as 128M, got %s",
		    mnode_kind(f));
	} else if (orch_parse_size(&bytes, f->str) != 0) {
		spec_err(v, f->pos, fp, "%s", orch_err_last());
	} else if (bytes == 0) {
		spec_err(v, f->pos, fp, "must be greater than 0");
	} else {
		s->resources.memory = bytes;
	}
}

static void
read_limits(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	/* Byte-valued rlimits also take sizes ("8M"). */
	static const struct {
		const char *key;
		size_t off;
		bool bytes;
	} tab[] = {
		{ "nofile", offsetof(struct limits_spec, nofile), false },
		{ "nproc", offsetof(struct limits_spec, nproc), false },
		{ "core", offsetof(struct limits_spec, core), true },
		{ "memlock", offsetof(struct limits_spec, memlock), true },
		{ "stack", offsetof(struct limits_spec, stack), true },
		{ "fsize", offsetof(struct limits_spec, fsize), true },
	};
	static const char *const keys[] = {
		"nofile", "nproc", "core", "memlock", "stack", "fsize", NULL,
	};
	char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "limits", p, path), *f;

	if (n == NULL || spec_expect_map(v, n, p))
		return;
	spec_check_keys(v, n, p, keys, false);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		int64_t *dst = (int64_t *)((char *)&s->limits + tab[i].off);
		uint64_t bytes;
		int64_t x;

		if ((f = SPEC_FIELD(n, tab[i].key, fp, p)) == NULL)
			continue;
		if (f->type == MNODE_SCALAR && strcmp(f->str, "unlimited") == 0) {
			*dst = LIMIT_UNLIMITED;
		} else if (f->type == MNODE_SCALAR && f->plain &&
		    (f->str[0] == '-' || isdigit((unsigned char)f->str[0])) &&
		    strspn(f->str + 1, "0123456789") == strlen(f->str + 1)) {
			if (f->str[0] == '-')
				spec_err(v, f->pos, fp, "must not be negative, "
				    "got %s (leave the key out to inherit the "
				    "limit)", f->str);
			else if (spec_int(v, &x, f, fp, 0, INT64_MAX - 1) == 0)
				*dst = x;
		} else if (tab[i].bytes && f->type == MNODE_SCALAR &&
		    orch_parse_size(&bytes, f->str) == 0 &&
		    bytes < (uint64_t)INT64_MAX) {
			*dst = (int64_t)bytes;
		} else {
			spec_err(v, f->pos, fp, "expected a non-negative "
			    "integer%s or \"unlimited\", got %s%s%s%s",
			    tab[i].bytes ? ", a size such as 8M" : "",
			    mnode_kind(f), f->type == MNODE_SCALAR ? " '" : "",
			    f->type == MNODE_SCALAR ? f->str : "",
			    f->type == MNODE_SCALAR ? "'" : "");
		}
	}
}

/* ---- replicas --------------------------------------------------------- */

static void
read_scale(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	static const char *const names[3] = { "replicas", "min", "max" };
	const struct mnode *n[3];
	int64_t val[3] = { 1, 0, -1 };
	bool ok[3];
	char p[3][SPEC_PATH_MAX];

	for (int i = 0; i < 3; i++) {
		n[i] = spec_field(svc, names[i]);
		spec_path(p[i], path, names[i]);
		ok[i] = n[i] == NULL;
		if (n[i] == NULL)
			continue;
		if (spec_int(v, &val[i], n[i], p[i], 0, INT64_MAX) != 0)
			continue;
		if (val[i] > MANIFEST_MAX_REPLICAS) {
			spec_err(v, n[i]->pos, p[i], "%s %lld is over the limit "
			    "of %d", names[i], (long long)val[i],
			    MANIFEST_MAX_REPLICAS);
			v->toobig = true;
			continue;
		}
		ok[i] = true;
	}
	if (!ok[0] || !ok[1] || !ok[2])
		return;
	if (val[2] < 0)
		val[2] = val[0] > 100 ? val[0] : 100;
	s->replicas = (int)val[0];
	s->min = (int)val[1];
	s->max = (int)val[2];
	if (s->min > s->max) {
		const struct mnode *at = n[1] ? n[1] : n[2];
		spec_err(v, at->pos, at == n[1] ? p[1] : p[2],
		    "min %d is greater than max %d", s->min, s->max);
		return;
	}
	if (s->replicas < s->min || s->replicas > s->max) {
		const struct mnode *at = n[0];
		const char *ap = p[0];
		if (at == NULL) {
			at = s->replicas < s->min ? n[1] : n[2];
			ap = s->replicas < s->min ? p[1] : p[2];
		}
		spec_err(v, at->pos, ap, "replicas %d is outside min..max "
		    "(%d..%d)%s", s->replicas, s->min, s->max,
		    n[0] == NULL ? "; replicas defaults to 1" : "");
	}
}

/* ---- health, stop, restart -------------------------------------------- */

static bool
has_port(const struct service_spec *s, const char *name)
{
	for (size_t i = 0; i < s->nports; i++)
		if (strcmp(s->ports[i], name) == 0)
			return true;
	return false;
}

void
spec_not_for_type(struct vctx *v, const struct mnode *map, const char *path,
    const char *key, bool allowed, const char *what, const char *type)
{
	const struct mnode *k = spec_key(map, key);
	char p[SPEC_PATH_MAX];

	if (k == NULL || allowed)
		return;
	spec_err(v, k->pos, spec_path(p, path, key), "'%s' applies only to "
	    "%s (this one is %s)", key, what, type);
}

/* Report "a must not exceed b", at the one the user wrote. */
static void
check_order(struct vctx *v, const struct mnode *map, const char *path,
    const char *lo_key, int64_t lo, const char *hi_key, int64_t hi)
{
	const struct mnode *at = spec_field(map, lo_key);
	const char *key = lo_key;
	char p[SPEC_PATH_MAX], a[32], b[32];

	if (lo <= hi)
		return;
	if (at == NULL) {
		at = spec_field(map, hi_key);
		key = hi_key;
	}
	orch_fmt_duration(a, sizeof(a), lo);
	orch_fmt_duration(b, sizeof(b), hi);
	spec_err(v, at->pos, spec_path(p, path, key), "%s (%s) must not "
	    "exceed %s (%s)", lo_key, a, hi_key, b);
}

/* health.type: required, one of the names. false when unusable. */
static bool
read_health_type(struct vctx *v, struct health_spec *h, const struct mnode *svc,
    const struct mnode *t, const char *fp)
{
	if (t == NULL) {
		spec_err(v, spec_key(svc, "health")->pos, fp,
		    "missing required key 'type' (http, tcp, exec or none)");
		return false;
	}
	if (t->type != MNODE_SCALAR) {
		spec_err(v, t->pos, fp, "health type must be http, tcp, exec "
		    "or none, got %s", mnode_kind(t));
		return false;
	}
	for (int i = 0; i < HEALTH__LAST; i++) {
		if (strcmp(t->str, manifest_health_name(i)) == 0) {
			h->type = (enum health_type)i;
			return true;
		}
	}
	spec_err(v, t->pos, fp, "health type must be http, tcp, exec or none, "
	    "got '%s'", t->str);
	return false;
}

/* Timing and thresholds: the same for every type. */
static void
read_health_timing(struct vctx *v, struct health_spec *h, const struct mnode *n,
    const char *p)
{
	char fp[SPEC_PATH_MAX];
	const struct mnode *f;
	bool timing_ok = true;
	int64_t x;

	if ((f = SPEC_FIELD(n, "interval", fp, p)) != NULL &&
	    spec_duration(v, &h->interval_ms, f, fp, 1) != 0)
		timing_ok = false;
	if ((f = SPEC_FIELD(n, "timeout", fp, p)) != NULL &&
	    spec_duration(v, &h->timeout_ms, f, fp, 1) != 0)
		timing_ok = false;
	if ((f = SPEC_FIELD(n, "start_period", fp, p)) != NULL)
		spec_duration(v, &h->start_period_ms, f, fp, 0);
	if ((f = SPEC_FIELD(n, "healthy_threshold", fp, p)) != NULL &&
	    spec_int(v, &x, f, fp, 1, 1000) == 0)
		h->healthy_threshold = (int)x;
	if ((f = SPEC_FIELD(n, "unhealthy_threshold", fp, p)) != NULL &&
	    spec_int(v, &x, f, fp, 1, 1000) == 0)
		h->unhealthy_threshold = (int)x;
	if (timing_ok)
		check_order(v, n, p, "timeout", h->timeout_ms, "interval", h->interval_ms);
}

/* The fields of the type: http's path and port, tcp's port, exec's
 * command; each only with its type. */
static void
read_health_probe(struct vctx *v, struct service_spec *s, const struct mnode *n,
    const struct mnode *t, const char *p)
{
	struct health_spec *h = &s->health;
	const char *tname = manifest_health_name(h->type);
	bool port_probe = h->type == HEALTH_HTTP || h->type == HEALTH_TCP;
	char fp[SPEC_PATH_MAX];
	const struct mnode *f;

	spec_not_for_type(v, n, p, "path", h->type == HEALTH_HTTP, "type http", tname);
	spec_not_for_type(v, n, p, "port", port_probe, "types http and tcp", tname);
	spec_not_for_type(v, n, p, "command", h->type == HEALTH_EXEC, "type exec", tname);
	if (port_probe && s->nports == 0)
		spec_err(v, t->pos, spec_path(fp, p, "type"), "health type %s probes a "
		    "port, but the service declares none in 'ports'", tname);
	if (h->type == HEALTH_HTTP)
		h->path = spec_strdup("/");
	if (h->type == HEALTH_HTTP && (f = SPEC_FIELD(n, "path", fp, p)) != NULL &&
	    spec_string(v, &h->path, f, fp) == 0 && h->path[0] != '/')
		spec_err(v, f->pos, fp, "must start with '/', got '%s'", h->path);
	if (port_probe && (f = SPEC_FIELD(n, "port", fp, p)) != NULL &&
	    spec_string(v, &h->port, f, fp) == 0 && s->nports > 0 && !has_port(s, h->port))
		spec_err(v, f->pos, fp, "port '%s' is not declared in 'ports'", h->port);
	if (h->type == HEALTH_EXEC) {
		if ((f = SPEC_FIELD(n, "command", fp, p)) != NULL)
			read_argv(v, &h->command, &h->ncommand, f, fp);
		else
			spec_err(v, t->pos, spec_path(fp, p, "command"),
			    "health type exec needs 'command'");
	}
}

static void
read_health(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	static const char *const keys[] = {
		"type", "path", "port", "command", "interval", "timeout",
		"healthy_threshold", "unhealthy_threshold", "start_period", NULL,
	};
	char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "health", p, path), *t;
	bool typed;

	if (n == NULL || spec_expect_map(v, n, p))
		return;
	spec_check_keys(v, n, p, keys, false);
	t = SPEC_FIELD(n, "type", fp, p);
	if (t == NULL)
		spec_path(fp, p, "type");
	typed = read_health_type(v, &s->health, svc, t, fp);
	read_health_timing(v, &s->health, n, p);
	/* Without a type, its rules would only add noise. */
	if (typed)
		read_health_probe(v, s, n, t, p);
}

/* The signals a manifest may name for stop.signal; names come from signame.c. */
static const int stop_signals[] = {
	SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGKILL, SIGUSR1, SIGUSR2,
};

static void
read_stop(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	static const char *const keys[] = { "signal", "timeout", NULL };
	char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "stop", p, path), *f;

	if (n == NULL || spec_expect_map(v, n, p))
		return;
	spec_check_keys(v, n, p, keys, false);
	if ((f = SPEC_FIELD(n, "signal", fp, p)) != NULL) {
		const char *name = f->type == MNODE_SCALAR ? f->str : "";
		int sig = orch_signal_lookup(name);
		bool found = false;

		for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
			if (sig == stop_signals[i]) {
				s->stop.signal = sig;
				found = true;
			}
		}
		if (!found)
			spec_err(v, f->pos, fp, "unknown signal %s%s%s (use TERM, "
			    "INT, QUIT, HUP, KILL, USR1 or USR2)",
			    f->type == MNODE_SCALAR ? "'" : "",
			    f->type == MNODE_SCALAR ? f->str : mnode_kind(f),
			    f->type == MNODE_SCALAR ? "'" : "");
	}
	if ((f = SPEC_FIELD(n, "timeout", fp, p)) != NULL)
		spec_duration(v, &s->stop.timeout_ms, f, fp, 0);
}

static void
read_restart(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	static const char *const keys[] = {
		"limit", "window", "backoff", "max_backoff", NULL,
	};
	char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "restart", p, path), *f;
	struct restart_spec *r = &s->restart;
	bool timing_ok = true;
	int64_t x;

	if (n == NULL || spec_expect_map(v, n, p))
		return;
	spec_check_keys(v, n, p, keys, false);
	if ((f = SPEC_FIELD(n, "limit", fp, p)) != NULL &&
	    spec_int(v, &x, f, fp, 0, 1000000) == 0)
		r->limit = (int)x;
	if ((f = SPEC_FIELD(n, "window", fp, p)) != NULL)
		spec_duration(v, &r->window_ms, f, fp, 1);
	/* A zero backoff would be a tight respawn loop. */
	if ((f = SPEC_FIELD(n, "backoff", fp, p)) != NULL &&
	    spec_duration(v, &r->backoff_ms, f, fp, 1) != 0)
		timing_ok = false;
	if ((f = SPEC_FIELD(n, "max_backoff", fp, p)) != NULL &&
	    spec_duration(v, &r->max_backoff_ms, f, fp, 1) != 0)
		timing_ok = false;
	if (timing_ok)
		check_order(v, n, p, "backoff", r->backoff_ms, "max_backoff",
		    r->max_backoff_ms);
}

/* Readiness (docs/lifecycle.md, Ready): how long an instance without a
 * health check must stay up before it counts. 0 is allowed (ready at
 * start, the old behaviour) but then a crash loop looks healthy between
 * crashes. */
static void
read_min_ready(struct vctx *v, struct service_spec *s,
    const struct mnode *svc, const char *path)
{
	char p[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "min_ready", p, path);

	if (n != NULL)
		spec_duration(v, &s->min_ready_ms, n, p, 0);
}

/* ---- depends_on ------------------------------------------------------- */

static void
read_depends(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	char p[SPEC_PATH_MAX], kp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "depends_on", p, path);

	if (n == NULL)
		return;
	if (n->type != MNODE_MAP) {
		spec_err(v, n->pos, p, "expected a map of service: version "
		    "constraint (null or \"*\" for any version), got %s",
		    mnode_kind(n));
		return;
	}
	s->deps = spec_calloc(n->npairs, sizeof(*s->deps));
	for (size_t i = 0; i < n->npairs; i++) {
		const struct mnode *k = n->pairs[i].key, *val = n->pairs[i].val;
		const char *c = "*";

		spec_path(kp, p, k->str);
		if (val->type != MNODE_SCALAR) {
			spec_err(v, val->pos, kp, "expected a version constraint "
			    "such as \">=2.0.0 <3.0.0\", got %s", mnode_kind(val));
			continue;
		}
		if (!mnode_is_null(val) && val->str[0] != '\0')
			c = val->str;
		if (semver_range_check(c) != 0)
			spec_err(v, val->pos, kp, "%s", orch_err_last());
		s->deps[s->ndeps].service = spec_strdup(k->str);
		s->deps[s->ndeps].constraint = spec_strdup(c);
		s->deps[s->ndeps].pos = k->pos;
		s->ndeps++;
	}
}

/* ---- the service ------------------------------------------------------ */

void
spec_service(struct vctx *v, struct service_spec *s, const struct mpair *pair)
{
	const struct mnode *svc = pair->val;
	char path[SPEC_PATH_MAX];

	spec_path(path, "services", pair->key->str);
	s->name = spec_strdup(pair->key->str);
	s->pos = pair->key->pos;
	set_defaults(s);
	spec_check_keys(v, svc, path, service_keys, true);
	/* Order matters: kind picks the strategy defaults, ports and env
	 * define the placeholders the strings may use. */
	read_kind(v, s, svc, path);
	read_version(v, s, svc, path, s->pos);
	read_plain_strings(v, s, svc, path);
	read_env(v, s, svc, path);
	read_command(v, s, svc, path, s->pos);
	read_artifact(v, s, svc, path);
	read_resources(v, s, svc, path);
	read_limits(v, s, svc, path);
	read_scale(v, s, svc, path);
	read_health(v, s, svc, path);
	read_stop(v, s, svc, path);
	read_restart(v, s, svc, path);
	read_min_ready(v, s, svc, path);
	spec_strategy(v, s, svc, path);
	read_depends(v, s, svc, path);
	spec_placeholders(v, s, svc, path);
}
