/*
 * rollback.c - POST /v1/rollback {service?, to?, dry_run?}.
 *
 * Without a service it re-applies an earlier revision as a whole (`to`: a
 * revision seq or any git ref; default the revision before the current
 * one): an apply whose changed services move through Rollback.
 *
 * With a service it reverts just that service to its previous version
 * (or to its spec at `to`), keeping every depends_on constraint in both
 * directions: the dependencies its spec there needs and the dependents
 * the revert would break go back too, each to its spec of that same
 * revision, or the revert is refused with the reason (plan_pins). The
 * desired manifest stays what it was; the reverted services are
 * "pinned": they run the spec of the pinned commit (ctl_spec), kept in
 * the store with the service and loaded from git again after a restart.
 * The next apply ends every pin, but for a service rolled back from a
 * failed rollout that the new manifest asks for that failed spec again
 * (api_write.c: held back unless retry_failed).
 *
 * The planner asks for the same revert when a rollout fails with
 * auto_rollback (ctl_rollback_service): then the revision that brought
 * the failed spec is recorded "failed" (or "aborted", after `orchctl
 * abort`) with the reason, and the service keeps "rolled back from NEW
 * to OLD: why" as its reason once it is Run again at the old version,
 * until an apply changes it. Neither an aborted revision nor a spec held
 * back is ever a rollback target.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"

/* A manifest read at a commit, kept while a service is pinned to it. */
struct ctl_pinned {
	struct ctl_pinned *next;
	char sha[41];
	struct manifest *m;
};

/* The manifest at commit sha (cached), or NULL with orch_err set. */
static const struct manifest *
pinned_manifest(struct ctl *c, const char *sha)
{
	struct manifest_errors errs;
	struct ctl_pinned *p;
	struct manifest *m = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	for (p = c->pinned; p; p = p->next)
		if (strcmp(p->sha, sha) == 0)
			return p->m;
	if (manifest_git_read(&text, &len, c->git, sha, c->cfg.manifest) < 0)
		return NULL;
	manifest_errors_init(&errs);
	rc = manifest_parse(&m, &errs, text, len, c->cfg.manifest);
	manifest_errors_free(&errs);
	free(text);
	if (rc < 0) {
		orch_err_set(ORCH_EINVALID, "the manifest at %.12s does not parse", sha);
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatalx("out of memory");
	snprintf(p->sha, sizeof(p->sha), "%s", sha);
	p->m = m;
	p->next = c->pinned;
	c->pinned = p;
	return m;
}

const struct service_spec *
ctl_spec(struct ctl *c, const char *name)
{
	const struct service_spec *sp;
	const struct manifest *pm;
	struct ctl_svc *s;

	if (c->desired == NULL || (sp = manifest_service(c->desired, name)) == NULL)
		return NULL;
	if ((s = ctl_svc_find(c, name)) == NULL || s->pin == NULL)
		return sp;
	if ((pm = pinned_manifest(c, s->pin)) == NULL) {
		log_warnx("service=%s pinned to %.12s: %s; running the desired spec", name,
		    s->pin, orch_err_last());
		return sp;
	}
	return manifest_service(pm, name) ? manifest_service(pm, name) : sp;
}

const struct service_spec *
ctl_spec_at(struct ctl *c, const char *sha, const char *name)
{
	const struct manifest *m = pinned_manifest(c, sha);
	const struct service_spec *sp;

	if (m == NULL)
		return NULL;
	if ((sp = manifest_service(m, name)) == NULL)
		orch_err_set(ORCH_ENOTFOUND, "%s: no spec at %.12s", name, sha);
	return sp;
}

const struct service_spec *
ctl_prev_spec(struct ctl *c, const char *name)
{
	struct ctl_svc *s = ctl_svc_find(c, name);
	const struct service_spec *sp;

	/* What it ran before: after a rollback that is the pinned spec, not
	 * the previous desired manifest's (which may be the one that
	 * failed: its old set would be refilled with it). */
	if (s != NULL && s->prev_revision != NULL &&
	    (sp = ctl_spec_at(c, s->prev_revision, name)) != NULL)
		return sp;
	return c->prev ? manifest_service(c->prev, name) : NULL;
}

void
ctl_pins_clear(struct ctl *c)
{
	for (struct ctl_svc *s = c->svcs; s; s = s->next) {
		free(s->pin);
		s->pin = NULL;
		free(s->rolled_back);
		s->rolled_back = NULL;
	}
	while (c->pinned != NULL) {
		struct ctl_pinned *p = c->pinned;

		c->pinned = p->next;
		manifest_free(p->m);
		free(p);
	}
}

/* Resolve REV (seq digits or a git ref) to a commit sha into out. */
static int
resolve_rev(char out[41], struct ctl *c, const char *rev)
{
	struct git_commit_info ci = {0};
	char *commit;
	int rc;

	if (strspn(rev, "0123456789") == strlen(rev) && strlen(rev) < 20) {
		if ((commit = ctl_revision_commit(c, strtoull(rev, NULL, 10))) == NULL)
			return orch_err_set(ORCH_ENOTFOUND, "no revision %s", rev);
		snprintf(out, 41, "%s", commit);
		free(commit);
		return 0;
	}
	if ((rc = manifest_git_resolve(&ci, c->git, rev)) < 0)
		return rc;
	snprintf(out, 41, "%s", ci.sha);
	git_commit_info_clear(&ci);
	return 0;
}

/* Whether name is in the revision record j's "held" list: its spec there
 * never ran (an earlier rollout of it failed, and it stayed back). */
static bool
held_in(const json_t *j, const char *name)
{
	size_t i;
	json_t *h;

	json_array_foreach(json_object_get(j, "held"), i, h)
		if (json_string_value(h) && strcmp(json_string_value(h), name) == 0)
			return true;
	return false;
}

/* Whether revision record j may be gone back to for name. An aborted
 * rollout, or a spec held back, never is. stable: neither a revision
 * whose rollout failed nor one superseded before it finished -- an
 * automatic rollback goes back to what last worked, never to the broken
 * revision before the broken one (Argo Rollouts aborts to the stable
 * ReplicaSet, not to the previous one). A person's `orchctl rollback`
 * takes the previous version otherwise, whatever became of it. */
static bool
rollback_target(const json_t *j, const char *name, bool stable)
{
	const char *result = json_string_value(json_object_get(j, "result"));

	if (held_in(j, name) || (result != NULL && strcmp(result, "aborted") == 0))
		return false;
	return !stable || result == NULL || (strcmp(result, "failed") != 0 &&
	    strcmp(result, "superseded") != 0);
}

/* Newest applied revision whose spec of name runs something else than
 * cur (another fingerprint: version, command, env, ...) and that may be
 * gone back to; 0 with out set, or ORCH_ENOTFOUND. */
static int
previous_version(char out[41], struct ctl *c, const char *name,
    const struct service_spec *cur, bool stable)
{
	char fp[LIFECYCLE_FP_LEN], ofp[LIFECYCLE_FP_LEN];

	struct store_kv *kv = NULL;
	size_t n = 0;
	int rc = ORCH_ENOTFOUND;

	lifecycle_fingerprint(fp, cur);
	if (store_list(&kv, &n, c->store, "revisions/") < 0)
		return ORCH_ERROR;
	for (size_t k = n; k-- > 0 && rc == ORCH_ENOTFOUND;) {
		json_t *j = json_loads(kv[k].value, 0, NULL);
		const char *sha = json_string_value(json_object_get(j, "commit"));
		const struct manifest *m;
		const struct service_spec *sp;

		if (!rollback_target(j, name, stable))
			sha = NULL;
		if (sha != NULL && (m = pinned_manifest(c, sha)) != NULL &&
		    (sp = manifest_service(m, name)) != NULL) {
			lifecycle_fingerprint(ofp, sp);
			if (strcmp(ofp, fp) != 0) {
				snprintf(out, 41, "%s", sha);
				rc = 0;
			}
		}
		json_decref(j);
	}
	store_kv_free(kv, n);
	if (rc == ORCH_ENOTFOUND)
		orch_err_set(rc, "%s: no %sapplied revision runs another spec than %s", name,
		    stable ? "successfully " : "", cur->version);
	return rc;
}

/* Whether version v satisfies range (bad input: false). */
static bool
satisfies(const char *range, const char *v)
{
	struct semver sv;
	bool ok = false;

	return semver_parse(&sv, v) == 0 && semver_satisfies(&ok, range, &sv) == 0 && ok;
}

/* What the services of a revert would run: the spec at the revision for
 * those that go back, what they run now for the others. */
struct pinset {
	struct ctl *c;
	const struct manifest *at;
	const char *sha;
	bool *want;               /* by index in c->desired->services */
	char **why;               /* why each one goes back */
	const char **role;        /* "requested", "dependent", "dependency" */
};

static const struct service_spec *
would_run(const struct pinset *ps, size_t k)
{
	const char *name = ps->c->desired->services[k].name;

	return ps->want[k] ? manifest_service(ps->at, name) : ctl_spec(ps->c, name);
}

static size_t
desired_index(const struct ctl *c, const char *name)
{
	size_t k;

	for (k = 0; k < c->desired->nservices; k++)
		if (strcmp(c->desired->services[k].name, name) == 0)
			break;
	return k;
}

/* Add service k to the revert (it has a spec at the revision). */
static void
pin_add(struct pinset *ps, size_t k, const char *role, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
pin_add(struct pinset *ps, size_t k, const char *role, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ps->want[k] = true;
	ps->role[k] = role;
	free(ps->why[k]);
	if ((ps->why[k] = strdup(buf)) == NULL)
		fatalx("out of memory");
}

/*
 * One depends_on edge, of service k on its j-th dependency, as the
 * revert would run them. Kept: 0. Broken: the side that does not go back
 * yet goes back too (the dependency the reverted service needs, or the
 * dependent the revert breaks), 1; or ORCH_EEXISTS with the reason when
 * that side has no spec at the revision, or both go back already.
 */
static int
check_edge(struct pinset *ps, size_t k, size_t j)
{
	const struct service_spec *d = would_run(ps, k), *dep;
	const struct dependency *e = &d->deps[j];
	size_t di = desired_index(ps->c, e->service);

	if (di == ps->c->desired->nservices)
		return ps->want[k] ? orch_err_set(ORCH_EEXISTS, "%s %s depends on %s, "
		    "which the running manifest does not have", d->name, d->version,
		    e->service) : 0;
	dep = would_run(ps, di);
	if (satisfies(e->constraint, dep->version) || (!ps->want[k] && !ps->want[di]))
		return 0;
	if (ps->want[k] && !ps->want[di]) {
		if (manifest_service(ps->at, e->service) == NULL)
			return orch_err_set(ORCH_EEXISTS, "%s %s depends on %s \"%s\", "
			    "which %s %s breaks, and %s has no spec at %.12s to go back to",
			    d->name, d->version, e->service, e->constraint, e->service,
			    dep->version, e->service, ps->sha);
		pin_add(ps, di, "dependency", "%s %s needs %s \"%s\", which %s %s breaks",
		    d->name, d->version, e->service, e->constraint, e->service, dep->version);
		return 1;
	}
	if (!ps->want[k]) {
		if (manifest_service(ps->at, d->name) == NULL)
			return orch_err_set(ORCH_EEXISTS, "%s depends on %s \"%s\", "
			    "which %s %s breaks, and %s has no spec to go back to",
			    d->name, e->service, e->constraint, e->service, dep->version,
			    d->name);
		pin_add(ps, k, "dependent", "%s %s needs %s \"%s\", which %s %s breaks",
		    d->name, d->version, e->service, e->constraint, e->service, dep->version);
		return 1;
	}
	return orch_err_set(ORCH_EEXISTS, "%s %s depends on %s \"%s\", and %s goes back "
	    "to %s at %.12s: no revert keeps that constraint", d->name, d->version,
	    e->service, e->constraint, e->service, dep->version, ps->sha);
}

/*
 * Grow the revert from its first service until every depends_on edge
 * holds in both directions: a reverted service's own constraints against
 * what its dependencies would run (they go back too), and its dependents'
 * constraints against it (they go back too), transitively, each to its
 * spec at the same revision. 0, or ORCH_EEXISTS with the reason (nothing
 * changed).
 */
static int
plan_pins(struct pinset *ps, size_t first)
{
	bool grew = true;
	int rc;

	pin_add(ps, first, "requested", "requested");
	while (grew) {
		grew = false;
		for (size_t k = 0; k < ps->c->desired->nservices; k++) {
			const struct service_spec *d = would_run(ps, k);

			for (size_t j = 0; d != NULL && j < d->ndeps; j++) {
				if ((rc = check_edge(ps, k, j)) < 0)
					return rc;
				if (rc > 0) {
					grew = true;
					d = would_run(ps, k);
				}
			}
		}
	}
	return 0;
}

/* Pin one service of a revert (not dry): it runs its spec at sha now. */
static void
pin_one(struct ctl *c, const char *sn, const struct service_spec *from,
    const struct service_spec *tos, const char *sha, const char *why)
{
	struct ctl_svc *s = ctl_svc_get(c, sn);
	char fp_from[LIFECYCLE_FP_LEN], fp_to[LIFECYCLE_FP_LEN], cause[1024];

	lifecycle_fingerprint(fp_from, from);
	lifecycle_fingerprint(fp_to, tos);
	free(s->pin);
	s->pin = strdup(sha);
	free(s->rolled_back); /* a person's revert says nothing failed */
	s->rolled_back = NULL;
	s->rollback = strcmp(fp_from, fp_to) != 0;
	/* Its revision is the commit whose spec it runs (issue 10 #11). */
	free(s->revision);
	s->revision = strdup(sha);
	if (s->pin == NULL || s->revision == NULL)
		fatalx("out of memory");
	ctl_svc_save(c, s);
	snprintf(cause, sizeof(cause), "rollback %s %s -> %s (%.12s)%s%s", sn,
	    from->version, tos->version, sha, strcmp(why, "requested") ? ": " : "",
	    strcmp(why, "requested") ? why : "");
	ctl_event(c, sn, NULL, NULL, NULL, cause);
	log_info("service=%s %s", sn, cause);
}

/*
 * Revert service name to its spec at `to` (NULL: its previous one; stable:
 * the previous one of a revision that did not fail), with the services
 * the revert would break otherwise (see plan_pins). list (may be NULL)
 * gets one {name, from_version, to_version, role, reason} per service in
 * start order (dependencies first), which is the order they roll out in;
 * out_sha the commit. Nothing changes when dry or on an error
 * (ORCH_ENOTFOUND: unknown service or revision; ORCH_EEXISTS: no spec to
 * go back to, or a constraint no revert keeps).
 */
static int
revert(json_t *list, char out_sha[41], struct ctl *c, const char *name, const char *to,
    bool dry, bool stable)
{
	const struct service_spec *cur = ctl_spec(c, name);
	struct pinset ps = {c, NULL, out_sha, NULL, NULL, NULL};
	size_t n, *order = NULL;
	int rc;

	if (cur == NULL)
		return orch_err_set(ORCH_ENOTFOUND, "no service named \"%s\"", name);
	rc = to ? resolve_rev(out_sha, c, to) : previous_version(out_sha, c, name, cur, stable);
	if (rc < 0)
		return rc;
	if ((ps.at = pinned_manifest(c, out_sha)) == NULL)
		return orch_err_prefix(ORCH_EEXISTS, "%s", name);
	if (manifest_service(ps.at, name) == NULL)
		return orch_err_set(ORCH_EEXISTS, "%s: no spec at %.12s", name, out_sha);
	if ((rc = manifest_start_order(&order, c->desired)) < 0)
		return rc;
	n = c->desired->nservices;
	if ((ps.want = calloc(n, sizeof(*ps.want))) == NULL ||
	    (ps.why = calloc(n, sizeof(*ps.why))) == NULL ||
	    (ps.role = calloc(n, sizeof(*ps.role))) == NULL)
		fatalx("out of memory");
	if ((rc = plan_pins(&ps, desired_index(c, name))) < 0)
		goto out;
	for (size_t o = 0; o < n; o++) {
		size_t k = order[o];
		const char *sn = c->desired->services[k].name;
		const struct service_spec *from = ctl_spec(c, sn), *tos;

		if (!ps.want[k])
			continue;
		tos = manifest_service(ps.at, sn);
		if (list != NULL)
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s}",
			    "name", sn, "from_version", from->version, "to_version",
			    tos->version, "role", ps.role[k], "reason", ps.why[k]));
		if (!dry)
			pin_one(c, sn, from, tos, out_sha, ps.why[k]);
	}
	if (!dry)
		ctl_kick(c);
out:
	for (size_t k = 0; k < n; k++)
		free(ps.why[k]);
	free(ps.why);
	free(ps.role);
	free(ps.want);
	free(order);
	return rc;
}

int
ctl_rollback_service(struct ctl *c, const char *name)
{
	const struct service_spec *from = ctl_spec(c, name), *to;
	struct ctl_svc *s = ctl_svc_find(c, name);
	char sha[41], from_version[128], why[LIFECYCLE_REASON_MAX], note[1024];
	const char *w, *end, *result;
	uint64_t seq;
	int rc;

	if (from == NULL || s == NULL)
		return orch_err_set(ORCH_ENOTFOUND, "no service named \"%s\"", name);
	snprintf(from_version, sizeof(from_version), "%s", from->version);
	/* The planner's reason: "rollout to V failed: WHY; rolling back to
	 * OLD", or "aborted: rolling back to OLD" after `orchctl abort`.
	 * Keep WHY. */
	w = s->reason ? s->reason : "";
	result = strncmp(w, "aborted", 7) == 0 ? "aborted" : "failed";
	if (strncmp(w, "rollout to ", 11) == 0 && strstr(w, " failed: ") != NULL)
		w = strstr(w, " failed: ") + 9;
	end = strstr(w, strcmp(result, "aborted") == 0 ? ": rolling back to " :
	    "; rolling back to ");
	snprintf(why, sizeof(why), "%.*s", (int)(end ? (size_t)(end - w) : strlen(w)), w);
	/* The revision whose rollout failed is the one that brought the
	 * spec it leaves (its revision), not a later one that did not touch
	 * it; the pending one when that is unknown. */
	if ((seq = ctl_revision_seq(c, s->revision)) == 0)
		seq = c->rev_pending;
	if ((rc = revert(NULL, sha, c, name, NULL, false, true)) < 0)
		return rc;
	to = ctl_spec(c, name);
	snprintf(note, sizeof(note), "rolled back from %s to %s: %s", from_version,
	    to ? to->version : "?", *why ? why : "the rollout failed");
	free(s->rolled_back);
	if ((s->rolled_back = strdup(note)) == NULL)
		fatalx("out of memory");
	ctl_svc_save(c, s);
	log_warnx("service=%s %s", name, note);
	if (seq > 0) {
		char rr[1200];

		snprintf(rr, sizeof(rr), "service %s %s", name, note);
		ctl_revision_end(c, seq, result, rr);
	}
	return 0;
}

static void
rollback_service(struct httpd_resp *out, struct ctl *c, const char *name,
    const char *to, bool dry)
{
	json_t *list = json_array(), *order = json_array(), *e;
	char sha[41];
	size_t i;
	int rc;

	if ((rc = revert(list, sha, c, name, to, dry, false)) < 0) {
		json_decref(list);
		json_decref(order);
		httpd_reply_error(out, rc == ORCH_ENOTFOUND ? 404 : rc == ORCH_EEXISTS ? 409 : 400,
		    rc == ORCH_ENOTFOUND ? "not found" : rc == ORCH_EEXISTS ? "conflict" :
		    "bad request", "%s", orch_err_last());
		return;
	}
	json_array_foreach(list, i, e)
		json_array_append(order, json_object_get(e, "name"));
	httpd_reply_json(out, 200, json_pack("{s:s, s:s, s:s?, s:b, s:o, s:o}", "service", name,
	    "commit", sha, "desired_commit", c->desired_commit, "dry_run", dry,
	    "services", list, "order", order));
}

void
ctl_api_rollback(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const json_t *jto, *jdry, *jsvc;
	char digits[32], sha[41];
	const char *to = NULL;
	json_error_t e;
	json_t *body;

	body = req->body_len ? json_loadb(req->body, req->body_len, 0, &e) : json_object();
	if (!json_is_object(body)) {
		json_decref(body);
		httpd_reply_error(out, 400, "bad request", "body: want a JSON object");
		return;
	}
	jto = json_object_get(body, "to");
	jdry = json_object_get(body, "dry_run");
	jsvc = json_object_get(body, "service");
	if ((jto && !json_is_string(jto) && !json_is_integer(jto) && !json_is_null(jto)) ||
	    (jdry && !json_is_boolean(jdry) && !json_is_null(jdry)) ||
	    (jsvc && !json_is_string(jsvc) && !json_is_null(jsvc))) {
		httpd_reply_error(out, 400, "bad request", "want {\"service\": name, "
		    "\"to\": revision seq or git ref, \"dry_run\": boolean}, all optional");
		goto out;
	}
	if (json_is_integer(jto)) {
		snprintf(digits, sizeof(digits), "%lld", (long long)json_integer_value(jto));
		to = digits;
	} else if (json_string_value(jto) && *json_string_value(jto))
		to = json_string_value(jto);
	if (json_string_value(jsvc) != NULL) {
		rollback_service(out, c, json_string_value(jsvc), to, json_is_true(jdry));
		goto out;
	}
	if (to == NULL) {
		if (c->rev_seq < 2) {
			httpd_reply_error(out, 409, "conflict",
			    "nothing to roll back to: fewer than two revisions were applied");
			goto out;
		}
		snprintf(digits, sizeof(digits), "%llu", (unsigned long long)(c->rev_seq - 1));
		to = digits;
	}
	if (resolve_rev(sha, c, to) < 0) {
		httpd_reply_error(out, 404, "not found", "%s", orch_err_last());
		goto out;
	}
	ctl_apply_ref(out, c, sha, json_is_true(jdry), true, true);
out:
	json_decref(body);
}
