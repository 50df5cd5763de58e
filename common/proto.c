/* proto.c - controller<->slave protocol JSON, see proto.h. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "proto.h"
#include "signame.h"
#include "spec.h"

static const char *const state_names[INSTANCE__LAST] = {
	"Provision", "Ready", "Run", "Destroy", "Failed",
};
static const char *const health_names[HEALTH_STATE__LAST] = {
	"none", "starting", "healthy", "unhealthy",
};
static const char *const kind_names[KIND__LAST] = {"cattle", "pet"};
static const char *const htype_names[HEALTH__LAST] = {"none", "http", "tcp", "exec"};

const char *
proto_state_name(enum instance_state s)
{
	return (unsigned)s < INSTANCE__LAST ? state_names[s] : "?";
}

int
proto_state_parse(const char *word)
{
	for (int i = 0; i < INSTANCE__LAST; i++)
		if (strcmp(word, state_names[i]) == 0)
			return i;
	return -1;
}

const char *
proto_health_name(enum health_state h)
{
	return (unsigned)h < HEALTH_STATE__LAST ? health_names[h] : "?";
}

int
proto_health_parse(const char *word)
{
	for (int i = 0; i < HEALTH_STATE__LAST; i++)
		if (strcmp(word, health_names[i]) == 0)
			return i;
	return -1;
}

const char *
proto_kind_name(enum orch_kind k)
{
	return (unsigned)k < KIND__LAST ? kind_names[k] : "?";
}

const char *
proto_health_type_name(enum health_type t)
{
	return (unsigned)t < HEALTH__LAST ? htype_names[t] : "?";
}

bool
proto_name_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > PROTO_MAX_NAME || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* ---- decoding helpers: each names the field it rejects ---------------- */

static int
dup_str(char **out, const json_t *v, const char *path)
{
	const char *s;

	if (!json_is_string(v))
		return orch_err_set(ORCH_EINVALID, "%s: must be a string", path);
	s = json_string_value(v);
	if (json_string_length(v) > PROTO_MAX_STRING || strlen(s) != json_string_length(v))
		return orch_err_set(ORCH_EINVALID, "%s: too long or contains NUL", path);
	if ((*out = strdup(s)) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	return 0;
}

/* Optional string: absent or null leaves *out NULL. */
static int
opt_str(char **out, const json_t *o, const char *key, const char *path)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	return dup_str(out, v, path);
}

static int
req_name(char **out, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	int rc;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return orch_err_set(ORCH_EINVALID, "%s: required", key);
	if ((rc = dup_str(out, v, key)) < 0)
		return rc;
	if (!proto_name_valid(*out))
		return orch_err_set(ORCH_EINVALID,
		    "%s: \"%.64s\" is not a name ([A-Za-z0-9_.-], at most %d)", key,
		    *out, PROTO_MAX_NAME);
	return 0;
}

/* Optional integer in [lo, hi]; absent or null leaves *out. */
static int
opt_int(int64_t *out, const json_t *o, const char *key, const char *path,
    int64_t lo, int64_t hi)
{
	const json_t *v = json_object_get(o, key);
	json_int_t n;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return orch_err_set(ORCH_EINVALID, "%s: must be an integer", path);
	n = json_integer_value(v);
	if (n < lo || n > hi)
		return orch_err_set(ORCH_EINVALID, "%s: %lld is out of range %lld..%lld",
		    path, (long long)n, (long long)lo, (long long)hi);
	*out = n;
	return 0;
}

static int
opt_intv(int *out, const json_t *o, const char *key, const char *path, int lo, int hi)
{
	int64_t v = *out;
	int rc;

	if ((rc = opt_int(&v, o, key, path, lo, hi)) < 0)
		return rc;
	*out = (int)v;
	return 0;
}

/* Optional array of strings -> NULL-terminated vector. */
static int
opt_strv(char ***out, size_t *out_n, const json_t *o, const char *key,
    const char *path, bool names)
{
	const json_t *v = json_object_get(o, key);
	char buf[160];
	size_t i, n;
	char **vec;
	int rc;

	*out = NULL;
	*out_n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return orch_err_set(ORCH_EINVALID, "%s: must be an array of strings", path);
	n = json_array_size(v);
	if (n > PROTO_MAX_ARGS)
		return orch_err_set(ORCH_EINVALID, "%s: more than %d entries", path, PROTO_MAX_ARGS);
	if ((vec = calloc(n + 1, sizeof(*vec))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "%s[%zu]", path, i);
		if ((rc = dup_str(&vec[i], json_array_get(v, i), buf)) < 0)
			goto fail;
		if (names && !proto_name_valid(vec[i])) {
			rc = orch_err_set(ORCH_EINVALID, "%s: \"%.64s\" is not a name", buf, vec[i]);
			i++;
			goto fail;
		}
	}
	*out = vec;
	*out_n = n;
	return 0;
fail:
	for (size_t k = 0; k < i; k++)
		free(vec[k]);
	free(vec);
	return rc;
}

static int
check_object(const json_t *v, const char *path)
{
	if (v != NULL && !json_is_null(v) && !json_is_object(v))
		return orch_err_set(ORCH_EINVALID, "%s: must be an object", path);
	return 0;
}

static int
env_name_valid(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static int
decode_env(struct instance_spec *s, const json_t *o)
{
	const json_t *env = json_object_get(o, "env"), *v;
	const char *key;
	char path[160];
	size_t i = 0;
	int rc;

	if (env == NULL || json_is_null(env))
		return 0;
	if (!json_is_object(env))
		return orch_err_set(ORCH_EINVALID, "env: must be an object of strings");
	if (json_object_size(env) > PROTO_MAX_ARGS)
		return orch_err_set(ORCH_EINVALID, "env: more than %d entries", PROTO_MAX_ARGS);
	if ((s->env = calloc(json_object_size(env) + 1, sizeof(*s->env))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	json_object_foreach((json_t *)env, key, v) {
		snprintf(path, sizeof(path), "env.%.100s", key);
		if (!env_name_valid(key))
			return orch_err_set(ORCH_EINVALID, "%s: not an identifier", path);
		if ((rc = dup_str(&s->env[i].value, v, path)) < 0)
			return rc;
		s->nenv = i + 1;
		if ((s->env[i].key = strdup(key)) == NULL)
			return orch_err_set(ORCH_ERROR, "out of memory");
		i++;
	}
	return 0;
}

static int
decode_health(struct health_spec *h, const json_t *o, size_t nports, char **ports)
{
	const json_t *v;
	int rc, t;

	if ((rc = check_object(o, "health")) < 0)
		return rc;
	if (o == NULL || json_is_null(o))
		return 0;
	if ((v = json_object_get(o, "type")) != NULL && !json_is_null(v)) {
		if (!json_is_string(v))
			return orch_err_set(ORCH_EINVALID, "health.type: must be a string");
		for (t = 0; t < HEALTH__LAST; t++)
			if (strcmp(json_string_value(v), htype_names[t]) == 0)
				break;
		if (t == HEALTH__LAST)
			return orch_err_set(ORCH_EINVALID,
			    "health.type: \"%.32s\" is not none, http, tcp or exec",
			    json_string_value(v));
		h->type = t;
	}
	if ((rc = opt_str(&h->path, o, "path", "health.path")) < 0 ||
	    (rc = opt_str(&h->port, o, "port", "health.port")) < 0 ||
	    (rc = opt_strv(&h->command, &h->ncommand, o, "command", "health.command", false)) < 0 ||
	    (rc = opt_int(&h->interval_ms, o, "interval_ms", "health.interval_ms", 1, INT32_MAX)) < 0 ||
	    (rc = opt_int(&h->timeout_ms, o, "timeout_ms", "health.timeout_ms", 1, INT32_MAX)) < 0 ||
	    (rc = opt_int(&h->start_period_ms, o, "start_period_ms", "health.start_period_ms", 0, INT32_MAX)) < 0 ||
	    (rc = opt_intv(&h->healthy_threshold, o, "healthy_threshold", "health.healthy_threshold", 1, 1000)) < 0 ||
	    (rc = opt_intv(&h->unhealthy_threshold, o, "unhealthy_threshold", "health.unhealthy_threshold", 1, 1000)) < 0)
		return rc;
	if (h->path != NULL && h->path[0] != '/')
		return orch_err_set(ORCH_EINVALID, "health.path: must start with /");
	if (h->type == HEALTH_EXEC && h->ncommand == 0)
		return orch_err_set(ORCH_EINVALID, "health.command: required for an exec check");
	if ((h->type == HEALTH_HTTP || h->type == HEALTH_TCP) && nports == 0)
		return orch_err_set(ORCH_EINVALID, "health.type: a %s check needs a port in ports",
		    htype_names[h->type]);
	if (h->port != NULL) {
		size_t i;
		for (i = 0; i < nports; i++)
			if (strcmp(ports[i], h->port) == 0)
				break;
		if (i == nports)
			return orch_err_set(ORCH_EINVALID, "health.port: \"%.64s\" is not in ports", h->port);
	}
	return 0;
}

static int
decode_stop(struct stop_spec *st, const json_t *o)
{
	const json_t *v;
	char buf[32];
	int rc, sig;

	if ((rc = check_object(o, "stop")) < 0)
		return rc;
	if (o == NULL || json_is_null(o))
		return 0;
	if ((v = json_object_get(o, "signal")) != NULL && !json_is_null(v)) {
		if (json_is_integer(v)) {
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
			sig = orch_signal_parse(buf);
		} else if (json_is_string(v)) {
			sig = orch_signal_parse(json_string_value(v));
		} else
			sig = -1;
		if (sig < 0)
			return orch_err_set(ORCH_EINVALID, "stop.signal: not a signal name or number");
		st->signal = sig;
	}
	return opt_int(&st->timeout_ms, o, "timeout_ms", "stop.timeout_ms", 0, 3600000);
}

static int
decode_restart(struct restart_spec *r, const json_t *o)
{
	int rc;

	if ((rc = check_object(o, "restart")) < 0)
		return rc;
	if (o == NULL || json_is_null(o))
		return 0;
	if ((rc = opt_intv(&r->limit, o, "limit", "restart.limit", 0, 1000000)) < 0 ||
	    (rc = opt_int(&r->window_ms, o, "window_ms", "restart.window_ms", 1, INT32_MAX)) < 0 ||
	    /* The manifest's bounds (backoff > 0): a zero backoff would be
	     * a tight respawn loop. */
	    (rc = opt_int(&r->backoff_ms, o, "backoff_ms", "restart.backoff_ms", 1, INT32_MAX)) < 0 ||
	    (rc = opt_int(&r->max_backoff_ms, o, "max_backoff_ms", "restart.max_backoff_ms", 1, INT32_MAX)) < 0)
		return rc;
	if (r->max_backoff_ms < r->backoff_ms)
		return orch_err_set(ORCH_EINVALID, "restart.max_backoff_ms: below restart.backoff_ms");
	return 0;
}

static int
decode_limits(struct limits_spec *l, const json_t *o)
{
	static const char *const names[] = {"nofile", "nproc", "core", "memlock", "stack", "fsize"};
	int64_t *fields[] = {&l->nofile, &l->nproc, &l->core, &l->memlock, &l->stack, &l->fsize};
	char path[64];
	const char *key;
	json_t *v;
	size_t i;
	int rc;

	if ((rc = check_object(o, "limits")) < 0)
		return rc;
	if (o == NULL || json_is_null(o))
		return 0;
	json_object_foreach((json_t *)o, key, v) {
		for (i = 0; i < 6; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i == 6)
			return orch_err_set(ORCH_EINVALID, "limits.%.64s: unknown limit", key);
		snprintf(path, sizeof(path), "limits.%s", names[i]);
		if ((rc = opt_int(fields[i], o, key, path, -1, INT64_MAX)) < 0)
			return rc;
	}
	return 0;
}

static int
decode_resources(struct resources_spec *r, const json_t *o)
{
	const json_t *v;
	int64_t mem = 0;
	int rc;

	if ((rc = check_object(o, "resources")) < 0)
		return rc;
	if (o == NULL || json_is_null(o))
		return 0;
	if ((v = json_object_get(o, "cpu")) != NULL && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 4096)
			return orch_err_set(ORCH_EINVALID, "resources.cpu: must be a number of cores 0..4096");
		r->cpu = json_number_value(v);
	}
	if ((rc = opt_int(&mem, o, "memory", "resources.memory", 0, INT64_MAX)) < 0)
		return rc;
	r->memory = (uint64_t)mem;
	return 0;
}

void
proto_spec_defaults(struct instance_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = KIND_CATTLE;
	orch_spec_defaults(&s->health, &s->restart, &s->stop, &s->limits);
}

int
proto_spec_decode(struct instance_spec **out, const json_t *j)
{
	struct instance_spec *s;
	const json_t *v;
	int rc;

	*out = NULL;
	if (!json_is_object(j))
		return orch_err_set(ORCH_EINVALID, "body: must be a JSON object");
	if ((s = malloc(sizeof(*s))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	proto_spec_defaults(s);
	if ((rc = req_name(&s->id, j, "id")) < 0 ||
	    (rc = req_name(&s->service, j, "service")) < 0)
		goto fail;
	if ((v = json_object_get(j, "version")) == NULL || json_is_null(v)) {
		rc = orch_err_set(ORCH_EINVALID, "version: required");
		goto fail;
	}
	if ((rc = dup_str(&s->version, v, "version")) < 0)
		goto fail;
	if ((v = json_object_get(j, "kind")) != NULL && !json_is_null(v)) {
		if (json_is_string(v) && strcmp(json_string_value(v), "pet") == 0)
			s->kind = KIND_PET;
		else if (json_is_string(v) && strcmp(json_string_value(v), "cattle") == 0)
			s->kind = KIND_CATTLE;
		else {
			rc = orch_err_set(ORCH_EINVALID, "kind: must be \"pet\" or \"cattle\"");
			goto fail;
		}
	}
	if ((rc = opt_strv(&s->command, &s->ncommand, j, "command", "command", false)) < 0)
		goto fail;
	if (s->ncommand == 0 || s->command[0][0] == '\0') {
		rc = orch_err_set(ORCH_EINVALID, "command: required, a non-empty array of strings");
		goto fail;
	}
	if ((rc = decode_env(s, j)) < 0 ||
	    (rc = opt_strv(&s->ports, &s->nports, j, "ports", "ports", true)) < 0 ||
	    (rc = opt_str(&s->workdir, j, "workdir", "workdir")) < 0 ||
	    (rc = opt_str(&s->user, j, "user", "user")) < 0 ||
	    (rc = opt_str(&s->group, j, "group", "group")) < 0 ||
	    (rc = opt_str(&s->node, j, "node", "node")) < 0 ||
	    (rc = opt_str(&s->revision, j, "revision", "revision")) < 0)
		goto fail;
	for (size_t i = 0; i < s->nports; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(s->ports[i], s->ports[k]) == 0) {
				rc = orch_err_set(ORCH_EINVALID, "ports[%zu]: \"%s\" given twice", i, s->ports[i]);
				goto fail;
			}
	v = json_object_get(j, "artifact");
	if ((rc = check_object(v, "artifact")) < 0)
		goto fail;
	if (v != NULL && json_is_object(v)) {
		if ((rc = opt_str(&s->artifact.url, v, "url", "artifact.url")) < 0 ||
		    (rc = opt_str(&s->artifact.sha256, v, "sha256", "artifact.sha256")) < 0)
			goto fail;
		if (s->artifact.url != NULL && strncmp(s->artifact.url, "file://", 7) != 0 &&
		    strncmp(s->artifact.url, "http://", 7) != 0 &&
		    strncmp(s->artifact.url, "https://", 8) != 0) {
			rc = orch_err_set(ORCH_EINVALID, "artifact.url: must be file://, http:// or https://");
			goto fail;
		}
		if (s->artifact.url != NULL && s->artifact.sha256 == NULL) {
			rc = orch_err_set(ORCH_EINVALID, "artifact.sha256: required with artifact.url");
			goto fail;
		}
	}
	if ((rc = decode_resources(&s->resources, json_object_get(j, "resources"))) < 0 ||
	    (rc = decode_limits(&s->limits, json_object_get(j, "limits"))) < 0 ||
	    (rc = decode_health(&s->health, json_object_get(j, "health"), s->nports, s->ports)) < 0 ||
	    (rc = decode_stop(&s->stop, json_object_get(j, "stop"))) < 0 ||
	    (rc = decode_restart(&s->restart, json_object_get(j, "restart"))) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	instance_spec_free(s);
	return rc;
}

static json_t *
strv_json(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *
opt_json_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *
proto_spec_encode(const struct instance_spec *s)
{
	json_t *j, *env, *h, *lim;
	const char *sig;

	env = json_object();
	for (size_t i = 0; i < s->nenv; i++)
		json_object_set_new(env, s->env[i].key, json_string(s->env[i].value));
	h = json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:i, s:i}",
	    "type", proto_health_type_name(s->health.type),
	    "path", opt_json_str(s->health.path),
	    "port", opt_json_str(s->health.port),
	    "command", s->health.ncommand ? strv_json(s->health.command, s->health.ncommand) : json_null(),
	    "interval_ms", (json_int_t)s->health.interval_ms,
	    "timeout_ms", (json_int_t)s->health.timeout_ms,
	    "start_period_ms", (json_int_t)s->health.start_period_ms,
	    "healthy_threshold", s->health.healthy_threshold,
	    "unhealthy_threshold", s->health.unhealthy_threshold);
	lim = json_object();
	if (s->limits.nofile >= 0) json_object_set_new(lim, "nofile", json_integer(s->limits.nofile));
	if (s->limits.nproc >= 0) json_object_set_new(lim, "nproc", json_integer(s->limits.nproc));
	if (s->limits.core >= 0) json_object_set_new(lim, "core", json_integer(s->limits.core));
	if (s->limits.memlock >= 0) json_object_set_new(lim, "memlock", json_integer(s->limits.memlock));
	if (s->limits.stack >= 0) json_object_set_new(lim, "stack", json_integer(s->limits.stack));
	if (s->limits.fsize >= 0) json_object_set_new(lim, "fsize", json_integer(s->limits.fsize));
	sig = orch_signal_name(s->stop.signal);
	j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:{s:o, s:o}, s:{s:f, s:I}, s:o, s:o, s:{s:o, s:I},"
	    " s:{s:i, s:I, s:I, s:I}}",
	    "id", s->id, "service", s->service, "version", s->version,
	    "kind", proto_kind_name(s->kind),
	    "command", strv_json(s->command, s->ncommand),
	    "env", env,
	    "ports", strv_json(s->ports, s->nports),
	    "workdir", opt_json_str(s->workdir),
	    "user", opt_json_str(s->user),
	    "group", opt_json_str(s->group),
	    "node", opt_json_str(s->node),
	    "revision", opt_json_str(s->revision),
	    "artifact", "url", opt_json_str(s->artifact.url), "sha256", opt_json_str(s->artifact.sha256),
	    "resources", "cpu", s->resources.cpu, "memory", (json_int_t)s->resources.memory,
	    "limits", lim,
	    "health", h,
	    "stop", "signal", sig ? json_string(sig) : json_integer(s->stop.signal),
	    "timeout_ms", (json_int_t)s->stop.timeout_ms,
	    "restart", "limit", s->restart.limit, "window_ms", (json_int_t)s->restart.window_ms,
	    "backoff_ms", (json_int_t)s->restart.backoff_ms,
	    "max_backoff_ms", (json_int_t)s->restart.max_backoff_ms);
	return j;
}

bool
proto_spec_equal(const struct instance_spec *a, const struct instance_spec *b)
{
	json_t *ja = proto_spec_encode(a), *jb = proto_spec_encode(b);
	bool eq;

	/* node and revision are bookkeeping, not what runs. */
	json_object_del(ja, "node");
	json_object_del(jb, "node");
	json_object_del(ja, "revision");
	json_object_del(jb, "revision");
	eq = json_equal(ja, jb);
	json_decref(ja);
	json_decref(jb);
	return eq;
}

void
instance_spec_free(struct instance_spec *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->service);
	free(s->version);
	orch_strv_free(s->command, s->ncommand);
	orch_kv_free(s->env, s->nenv);
	orch_strv_free(s->ports, s->nports);
	free(s->workdir);
	free(s->user);
	free(s->group);
	free(s->node);
	free(s->revision);
	orch_artifact_spec_release(&s->artifact);
	orch_health_spec_release(&s->health);
	free(s);
}

/* ---- status ----------------------------------------------------------- */

json_t *
proto_status_encode(const struct instance_status *s)
{
	json_t *ports = json_object();

	for (size_t i = 0; i < s->nports; i++)
		json_object_set_new(ports, s->ports[i].name, json_integer(s->ports[i].port));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:i, s:i, s:o, s:o,"
	    " s:o, s:o, s:I, s:I, s:o, s:I, s:b}",
	    "id", s->id, "service", s->service, "version", s->version,
	    "kind", proto_kind_name(s->kind),
	    "node", opt_json_str(s->node),
	    "state", proto_state_name(s->state),
	    "health", proto_health_name(s->health),
	    "pid", s->pid, "restarts", s->restarts,
	    "exit_code", s->exit_code >= 0 ? json_integer(s->exit_code) : json_null(),
	    "exit_signal", s->exit_signal > 0 ? json_integer(s->exit_signal) : json_null(),
	    "reason", opt_json_str(s->reason),
	    "ports", ports,
	    "started_at", (json_int_t)s->started_at,
	    "changed_at", (json_int_t)s->changed_at,
	    "data_dir", opt_json_str(s->data_dir),
	    "backoff_ms", (json_int_t)s->backoff_ms,
	    "cgroup", s->cgroup);
}

static int
word_field(int *out, const json_t *j, const char *key, int (*parse)(const char *))
{
	const json_t *v = json_object_get(j, key);

	if (!json_is_string(v) || (*out = parse(json_string_value(v))) < 0)
		return orch_err_set(ORCH_EINVALID, "%s: missing or not a known word", key);
	return 0;
}

static int
kind_parse(const char *s)
{
	return strcmp(s, "pet") == 0 ? KIND_PET : strcmp(s, "cattle") == 0 ? KIND_CATTLE : -1;
}

int
proto_status_decode(struct instance_status **out, const json_t *j)
{
	struct instance_status *s;
	const json_t *ports, *v;
	int64_t n;
	const char *key;
	int rc, w;

	*out = NULL;
	if (!json_is_object(j))
		return orch_err_set(ORCH_EINVALID, "status: must be a JSON object");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	s->exit_code = -1;
	if ((rc = req_name(&s->id, j, "id")) < 0 ||
	    (rc = req_name(&s->service, j, "service")) < 0)
		goto fail;
	if ((v = json_object_get(j, "version")) == NULL) {
		rc = orch_err_set(ORCH_EINVALID, "version: required");
		goto fail;
	}
	if ((rc = dup_str(&s->version, v, "version")) < 0 ||
	    (rc = opt_str(&s->node, j, "node", "node")) < 0 ||
	    (rc = opt_str(&s->reason, j, "reason", "reason")) < 0 ||
	    (rc = opt_str(&s->data_dir, j, "data_dir", "data_dir")) < 0)
		goto fail;
	if ((rc = word_field(&w, j, "state", proto_state_parse)) < 0)
		goto fail;
	s->state = w;
	if ((rc = word_field(&w, j, "health", proto_health_parse)) < 0)
		goto fail;
	s->health = w;
	if ((rc = word_field(&w, j, "kind", kind_parse)) < 0)
		goto fail;
	s->kind = w;
	if ((rc = opt_intv(&s->pid, j, "pid", "pid", 0, INT_MAX)) < 0 ||
	    (rc = opt_intv(&s->restarts, j, "restarts", "restarts", 0, INT_MAX)) < 0 ||
	    (rc = opt_intv(&s->exit_code, j, "exit_code", "exit_code", 0, 255)) < 0 ||
	    (rc = opt_intv(&s->exit_signal, j, "exit_signal", "exit_signal", 0, 128)) < 0 ||
	    (rc = opt_int(&s->started_at, j, "started_at", "started_at", 0, INT64_MAX)) < 0 ||
	    (rc = opt_int(&s->changed_at, j, "changed_at", "changed_at", 0, INT64_MAX)) < 0 ||
	    (rc = opt_int(&s->backoff_ms, j, "backoff_ms", "backoff_ms", 0, INT64_MAX)) < 0)
		goto fail;
	s->cgroup = json_is_true(json_object_get(j, "cgroup"));
	ports = json_object_get(j, "ports");
	if (ports != NULL && !json_is_null(ports)) {
		if (!json_is_object(ports) || json_object_size(ports) > PROTO_MAX_ARGS) {
			rc = orch_err_set(ORCH_EINVALID, "ports: must be an object of name: port");
			goto fail;
		}
		if ((s->ports = calloc(json_object_size(ports) + 1, sizeof(*s->ports))) == NULL) {
			rc = orch_err_set(ORCH_ERROR, "out of memory");
			goto fail;
		}
		json_object_foreach((json_t *)ports, key, v) {
			n = 0;
			if (!json_is_integer(v) || (n = json_integer_value(v)) < 1 || n > 65535) {
				rc = orch_err_set(ORCH_EINVALID, "ports.%.64s: must be a port number", key);
				goto fail;
			}
			if ((s->ports[s->nports].name = strdup(key)) == NULL) {
				rc = orch_err_set(ORCH_ERROR, "out of memory");
				goto fail;
			}
			s->ports[s->nports++].port = (int)n;
		}
	}
	*out = s;
	return 0;
fail:
	instance_status_free(s);
	return rc;
}

void
instance_status_free(struct instance_status *s)
{
	if (s == NULL)
		return;
	free(s->id);
	free(s->service);
	free(s->version);
	free(s->node);
	free(s->reason);
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].name);
	free(s->ports);
	free(s->data_dir);
	free(s);
}
