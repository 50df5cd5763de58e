/*
 * api_write.c - the mutating endpoints (apply, scale, drain), the
 * revision log, and the slave-facing calls (register, heartbeat, events).
 *
 * Every mutation validates its whole input first and changes nothing on
 * a rejection: a manifest with errors gets 422 with every error and the
 * cluster goes on as it was. A change is written to the store before the
 * answer, then the reconcile is kicked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"

static char *
xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		fatalx("out of memory");
	return d;
}

/* Parse the request body as a JSON object; "" is {}. NULL + 400 reply on
 * anything else. */
static json_t *
body_object(struct httpd_resp *out, const struct httpd_req *req)
{
	json_error_t e;
	json_t *j;

	if (req->body_len == 0)
		return json_object();
	if ((j = json_loadb(req->body, req->body_len, 0, &e)) == NULL) {
		httpd_reply_error(out, 400, "bad request", "body is not JSON: %s (line %d)",
		    e.text, e.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		httpd_reply_error(out, 400, "bad request", "body: want a JSON object");
		return NULL;
	}
	return j;
}

static void
reply_err(struct httpd_resp *out)
{
	switch (orch_err_code()) {
	case ORCH_ENOTFOUND:
		httpd_reply_error(out, 404, "not found", "%s", orch_err_last());
		break;
	case ORCH_EINVALID:
		httpd_reply_error(out, 400, "bad request", "%s", orch_err_last());
		break;
	case ORCH_EUNAVAIL:
		httpd_reply_error(out, 503, "unavailable", "%s", orch_err_last());
		break;
	case ORCH_EEXISTS:
		httpd_reply_error(out, 409, "conflict", "%s", orch_err_last());
		break;
	default:
		httpd_reply_error(out, 500, "internal error", "%s", orch_err_last());
		break;
	}
}

/* ---- revisions ---- */

static void
revision_key(char *buf, size_t len, uint64_t seq)
{
	snprintf(buf, len, "revisions/%020llu", (unsigned long long)seq);
}

/* Set result (and reason, when not NULL) of revision seq's record. */
static void
revision_update(struct ctl *c, uint64_t seq, const char *result, const char *reason)
{
	struct store_batch *b;
	char key[64], *text = NULL, *out;
	json_t *j;

	revision_key(key, sizeof(key), seq);
	if (store_get(&text, c->store, key) < 0 || (j = json_loads(text, 0, NULL)) == NULL) {
		free(text);
		return;
	}
	free(text);
	json_object_set_new(j, "result", json_string(result));
	if (reason != NULL)
		json_object_set_new(j, "reason", json_string(reason));
	out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	b = store_batch_new();
	store_batch_put(b, key, out);
	if (store_commit(c->store, b, NULL) < 0)
		log_warnx("store: %s", orch_err_last());
	store_batch_free(b);
	free(out);
	log_info("revision=%llu result=%s%s%s", (unsigned long long)seq, result,
	    reason ? " reason=" : "", reason ? reason : "");
}

void
ctl_revision_result(struct ctl *c, uint64_t seq, const char *result)
{
	/* Every service Run is no success when a service the revision
	 * changed runs its old set after `orchctl abort` (canary,
	 * blue-green): the revision is aborted (issue 10 #2). The caller
	 * counts a success after this call; an abort is none. */
	if (strcmp(result, "succeeded") == 0 && seq == c->rev_pending && c->desired != NULL)
		for (size_t k = 0; k < c->desired->nservices; k++) {
			struct ctl_svc *s = ctl_svc_find(c, c->desired->services[k].name);

			if (s != NULL && s->rollout.phase == ROLLOUT_ABORTED &&
			    ctl_revision_touched(c, s)) {
				result = "aborted";
				c->rollouts_succeeded--;
				break;
			}
		}
	revision_update(c, seq, result, NULL);
}

void
ctl_revision_end(struct ctl *c, uint64_t seq, const char *result, const char *reason)
{
	revision_update(c, seq, result, reason);
	if (c->rev_pending == seq) {
		if (strcmp(result, "failed") == 0)
			c->rollouts_failed++; /* decided here, before revision_outcome() */
		c->rev_pending = 0;
	}
}

void
ctl_revision_failed(struct ctl *c, uint64_t seq, const char *reason)
{
	ctl_revision_end(c, seq, "failed", reason);
}

uint64_t
ctl_revision_seq(struct ctl *c, const char *sha)
{
	struct store_kv *kv = NULL;
	uint64_t seq = 0;
	size_t n = 0;

	if (sha == NULL || store_list(&kv, &n, c->store, "revisions/") < 0)
		return 0;
	for (size_t k = n; k-- > 0 && seq == 0;) {
		json_t *j = json_loads(kv[k].value, 0, NULL);
		const char *commit = json_string_value(json_object_get(j, "commit"));

		if (commit != NULL && strcmp(commit, sha) == 0)
			seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
		json_decref(j);
	}
	store_kv_free(kv, n);
	return seq;
}

/* A service's revision is the commit whose spec it runs: the pending
 * revision changed it when that is the desired commit. A service another
 * revision changed (a pet Failed since) is not this revision's outcome. */
bool
ctl_revision_touched(struct ctl *c, const struct ctl_svc *s)
{
	return s->revision != NULL && c->desired_commit != NULL &&
	    strcmp(s->revision, c->desired_commit) == 0;
}

void
ctl_revision_resume(struct ctl *c)
{
	struct store_kv *kv = NULL;
	size_t n = 0;

	/* The record says "applied" until the outcome is written: a
	 * controller that stopped in between finishes the last one now
	 * (issue 11 #5); an older one a newer apply replaced while this
	 * held it only in memory is superseded. */
	if (c->rev_pending != 0 || store_list(&kv, &n, c->store, "revisions/") < 0)
		return;
	for (size_t k = 0; k < n; k++) {
		json_t *j = json_loads(kv[k].value, 0, NULL);
		const char *result = json_string_value(json_object_get(j, "result"));
		uint64_t seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));

		if (result != NULL && strcmp(result, "applied") == 0 && seq > 0) {
			if (seq == c->rev_seq)
				c->rev_pending = seq;
			else
				revision_update(c, seq, "superseded", NULL);
		}
		json_decref(j);
	}
	store_kv_free(kv, n);
}

void
ctl_api_revisions(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	struct store_kv *kv = NULL;
	size_t n = 0;
	json_t *a;

	if (store_list(&kv, &n, c->store, "revisions/") < 0) {
		reply_err(out);
		return;
	}
	a = json_array();
	for (size_t k = 0; k < n; k++) {
		json_t *j = json_loads(kv[k].value, 0, NULL);

		if (j != NULL)
			json_array_append_new(a, j);
	}
	store_kv_free(kv, n);
	httpd_reply_json(out, 200, json_pack("{s:o}", "revisions", a));
}

/* ---- apply ---- */

static json_t *
errors_json(const struct manifest_errors *errs)
{
	json_t *a = json_array();

	for (size_t k = 0; k < errs->n; k++) {
		const struct manifest_error *e = &errs->v[k];

		json_array_append_new(a, json_pack("{s:s?, s:i, s:i, s:s?, s:s?}",
		    "file", e->file, "line", e->pos.line, "col", e->pos.col,
		    "path", e->path, "message", e->msg));
	}
	return a;
}

/* The plan of d; notes (may be NULL): per service name, keys that
 * replace or add to its entry (held back, retried). */
static json_t *
plan_json(const struct manifest_diff *d, const json_t *notes)
{
	json_t *svcs = json_array();

	for (size_t k = 0; k < d->nservices; k++) {
		const struct service_diff *s = &d->services[k];
		json_t *fields = json_array(), *e;

		for (unsigned bit = 1; bit < DIFF_F__LAST; bit <<= 1)
			if (s->fields & bit)
				json_array_append_new(fields,
				    json_string(manifest_diff_field_name(bit)));
		e = json_pack("{s:s, s:s, s:o, s:s?, s:s?, s:i, s:i}",
		    "name", s->name, "action", manifest_diff_action_name(s->action),
		    "fields", fields, "old_version", s->old_version,
		    "new_version", s->new_version, "old_replicas", s->old_replicas,
		    "new_replicas", s->new_replicas);
		if (notes != NULL && json_object_get(notes, s->name) != NULL)
			json_object_update(e, json_object_get(notes, s->name));
		json_array_append_new(svcs, e);
	}
	return json_pack("{s:b, s:o}", "architecture_changed", d->architecture_changed,
	    "services", svcs);
}

/*
 * What runs, as a manifest: the desired one with each pinned service's
 * spec in place of its desired one. Shallow (the specs are lent): free
 * with free(out->services). A plan is computed against it, not against
 * the desired manifest (issue 10 #9).
 */
static void
running_manifest(struct manifest *out, struct ctl *c)
{
	*out = *c->desired;
	if ((out->services = calloc(c->desired->nservices ? c->desired->nservices : 1,
	    sizeof(*out->services))) == NULL)
		fatalx("out of memory");
	for (size_t k = 0; k < c->desired->nservices; k++)
		out->services[k] = *ctl_spec(c, c->desired->services[k].name);
}

/*
 * The services of m that stay at what they run: rolled back after their
 * rollout failed (or was aborted), and m asks for the very spec that
 * failed again. An unrelated commit does not retry a version that failed;
 * retry (apply --retry-failed) or a changed spec does. held[] (indexes of
 * m->services) and notes get them and the retried ones.
 */
static void
hold_failed(bool *held, json_t *notes, struct ctl *c, const struct manifest *m, bool retry)
{
	char ffp[LIFECYCLE_FP_LEN], nfp[LIFECYCLE_FP_LEN];

	for (size_t k = 0; c->desired != NULL && k < m->nservices; k++) {
		const struct service_spec *nsp = &m->services[k], *failed, *runs;
		struct ctl_svc *s = ctl_svc_find(c, nsp->name);
		char text[1024];

		if (s == NULL || s->pin == NULL || s->rolled_back == NULL ||
		    (failed = manifest_service(c->desired, nsp->name)) == NULL)
			continue;
		lifecycle_fingerprint(ffp, failed);
		lifecycle_fingerprint(nfp, nsp);
		runs = ctl_spec(c, nsp->name);
		if (strcmp(ffp, nfp) != 0)
			continue;
		if (retry) {
			snprintf(text, sizeof(text), "%s failed its rollout before (%s); "
			    "rolling it out again (retry_failed)", nsp->version, s->rolled_back);
			json_object_set_new(notes, nsp->name, json_pack("{s:b, s:s}",
			    "retry", true, "note", text));
			continue;
		}
		held[k] = true;
		snprintf(text, sizeof(text), "stays at %s: this would roll it out again to "
		    "%s, a version whose rollout failed (%s); not retried unless asked "
		    "(retry_failed: orchctl apply --retry-failed)", runs->version,
		    nsp->version, s->rolled_back);
		json_object_set_new(notes, nsp->name, json_pack("{s:s, s:s, s:s, s:[], s:s}",
		    "action", "held", "new_version", runs->version, "failed_version",
		    nsp->version, "fields", "note", text));
	}
}

/* The entry of service name in d, or NULL. */
static const struct service_diff *
diff_find(const struct manifest_diff *d, const char *name)
{
	for (size_t k = 0; k < d->nservices; k++)
		if (strcmp(d->services[k].name, name) == 0)
			return &d->services[k];
	return NULL;
}

/* Each service's revision is the commit whose spec it runs: those this
 * apply changes (against what they ran) take sha, and remember the one
 * they ran before (the planner's previous spec). Held ones keep theirs. */
static void
revisions_move(struct ctl *c, const struct manifest *m, const bool *held,
    const struct manifest_diff *d, const char *sha)
{
	for (size_t k = 0; k < m->nservices; k++) {
		const struct service_diff *sd = diff_find(d, m->services[k].name);
		struct ctl_svc *s = ctl_svc_get(c, m->services[k].name);

		if (held[k] || (s->revision != NULL && sd != NULL &&
		    sd->action == DIFF_UNCHANGED))
			continue;
		free(s->prev_revision);
		s->prev_revision = s->revision;
		s->revision = xstrdup(sha);
	}
}

/* A new desired state m: per-service rollbacks are over, but for the
 * services held at what they run (hold_failed; their names into hl), and
 * revisions move (revisions_move). */
static void
pins_renew(json_t *hl, struct ctl *c, const struct manifest *m, const bool *held,
    const struct manifest_diff *d, const char *sha)
{
	char **pins, **notes;

	if ((pins = calloc(m->nservices + 1, sizeof(*pins))) == NULL ||
	    (notes = calloc(m->nservices + 1, sizeof(*notes))) == NULL)
		fatalx("out of memory");
	for (size_t k = 0; k < m->nservices; k++) {
		struct ctl_svc *s = ctl_svc_find(c, m->services[k].name);

		if (held[k] && s != NULL) {
			pins[k] = xstrdup(s->pin);
			notes[k] = xstrdup(s->rolled_back);
			json_array_append_new(hl, json_string(s->name));
		}
	}
	revisions_move(c, m, held, d, sha);
	ctl_pins_clear(c);
	for (size_t k = 0; k < m->nservices; k++)
		if (pins[k] != NULL) {
			struct ctl_svc *s = ctl_svc_get(c, m->services[k].name);

			s->pin = pins[k];
			s->rolled_back = notes[k];
			s->rollback = false;
		}
	free(pins);
	free(notes);
}

/* Make m (parsed from text at commit ci) the desired state. Takes m. */
static json_t *
adopt(struct ctl *c, struct manifest *m, char *text, const struct git_commit_info *ci,
    const struct manifest_diff *d, bool rollback, const bool *held, const json_t *notes)
{
	struct store_batch *b;
	char key[64], *rtext;
	json_t *rev, *hl = json_array();

	/* A person's scale survives an apply unless the manifest itself
	 * changes that service's replicas (kubectl apply's rule). */
	for (size_t k = 0; k < d->nservices; k++) {
		struct ctl_svc *s = ctl_svc_find(c, d->services[k].name);

		if (s != NULL && (d->services[k].fields & DIFF_F_REPLICAS))
			s->scale = CTL_SCALE_UNSET;
	}
	/* A newer apply replaces a revision whose outcome is not known. */
	if (c->rev_pending != 0)
		ctl_revision_end(c, c->rev_pending, "superseded", NULL);
	pins_renew(hl, c, m, held, d, ci->sha);
	manifest_free(c->prev);
	free(c->prev_text);
	c->prev = c->desired;
	c->prev_text = c->desired_text;
	c->desired = m;
	c->desired_text = text;
	free(c->desired_commit);
	c->desired_commit = xstrdup(ci->sha);
	git_commit_info_clear(&c->rev);
	snprintf(c->rev.sha, sizeof(c->rev.sha), "%s", ci->sha);
	c->rev.author = xstrdup(ci->author);
	c->rev.message = xstrdup(ci->message);
	c->rev.time = ci->time;
	c->rev_seq++;
	c->rev_pending = c->rev_seq;
	c->applies++;
	rev = json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:I, s:I, s:s, s:b}",
	    "seq", (json_int_t)c->rev_seq, "commit", ci->sha, "message", ci->message,
	    "summary", ci->summary, "author", ci->author,
	    "time", (json_int_t)orch_wall_ms(), "commit_time", (json_int_t)ci->time * 1000,
	    "result", "applied", "rollback", rollback);
	/* The stored record keeps what this revision changed (history and
	 * the page show it) and the services it held back (never a rollback
	 * target: their spec there did not run); the reply carries the plan
	 * once, beside it. */
	json_object_set_new(rev, "plan", plan_json(d, notes));
	json_object_set_new(rev, "held", hl);
	rtext = json_dumps(rev, JSON_COMPACT | JSON_SORT_KEYS);
	json_object_del(rev, "plan");
	/* Revision record and desired state in one batch: both or none. */
	b = store_batch_new();
	revision_key(key, sizeof(key), c->rev_seq);
	store_batch_put(b, key, rtext);
	store_commit(c->store, b, NULL);
	store_batch_free(b);
	free(rtext);
	if (ctl_desired_save(c) < 0)
		log_warnx("store: %s", orch_err_last());
	for (struct ctl_svc *s = c->svcs; s; s = s->next)
		ctl_svc_save(c, s);
	{
		char cause[512];

		snprintf(cause, sizeof(cause), "%s %.12s: %s", rollback ? "rollback to" : "apply",
		    ci->sha, ci->summary ? ci->summary : "");
		ctl_event(c, NULL, NULL, NULL, NULL, cause);
	}
	log_info("applied revision=%llu commit=%s", (unsigned long long)c->rev_seq, ci->sha);
	ctl_kick(c);
	return rev;
}

/* Parse the manifest at commit ci into *out (422 reply on errors). */
static int
read_manifest(struct httpd_resp *out, struct manifest **m, char **text, struct ctl *c,
    const struct git_commit_info *ci)
{
	struct manifest_errors errs;
	char fname[512];
	size_t len = 0;
	int rc;

	snprintf(fname, sizeof(fname), "%s@%.7s", c->cfg.manifest, ci->sha);
	if ((rc = manifest_git_read(text, &len, c->git, ci->sha, c->cfg.manifest)) < 0) {
		c->applies_rejected++;
		httpd_reply_json(out, 422, json_pack("{s:s, s:[{s:s, s:i, s:i, s:s, s:s}]}",
		    "error", "invalid manifest", "detail", "file", fname, "line", 0, "col", 0,
		    "path", "", "message", orch_err_last()));
		return rc;
	}
	manifest_errors_init(&errs);
	if ((rc = manifest_parse(m, &errs, *text, len, fname)) < 0) {
		c->applies_rejected++;
		log_info("apply commit=%s rejected: %zu errors", ci->sha, errs.n);
		if (errs.n == 0)
			manifest_errors_add(&errs, fname, (struct mpos){0, 0}, "", "%s",
			    orch_err_last());
		httpd_reply_json(out, 422, json_pack("{s:s, s:s, s:o}", "error",
		    "invalid manifest", "commit", ci->sha, "detail", errors_json(&errs)));
	}
	manifest_errors_free(&errs);
	return rc;
}

/*
 * Read the manifest at ref, validate, diff against what runs, and unless
 * dry make it the desired state. rollback: services whose spec changes
 * move through Rollback instead of Update (POST /v1/rollback).
 * retry_failed: a service rolled back after its rollout failed rolls out
 * that same spec again; without it, it stays where it is.
 */
void
ctl_apply_ref(struct httpd_resp *out, struct ctl *c, const char *ref, bool dry, bool rollback,
    bool retry_failed)
{
	struct git_commit_info ci = {0};
	struct manifest_diff *d = NULL;
	struct manifest *m = NULL, run;
	json_t *rev = NULL, *notes = json_object();
	bool *held = NULL;
	char *text = NULL;
	int rc;

	/* The one blocking call of the controller: a fetch of a remote
	 * repository (a no-op for a local path). */
	if (manifest_git_fetch(c->git) < 0)
		log_warnx("git fetch: %s; using what the cache has", orch_err_last());
	if ((rc = manifest_git_resolve(&ci, c->git, ref)) < 0) {
		httpd_reply_error(out, rc == ORCH_ENOTFOUND ? 404 : 400,
		    rc == ORCH_ENOTFOUND ? "unknown ref" : "bad ref", "%s", orch_err_last());
		goto out;
	}
	if (read_manifest(out, &m, &text, c, &ci) < 0)
		goto out;
	if (c->desired != NULL)
		running_manifest(&run, c);
	rc = manifest_diff(&d, c->desired ? &run : NULL, m);
	if (c->desired != NULL)
		free(run.services);
	if (rc < 0) {
		reply_err(out);
		goto out;
	}
	if ((held = calloc(m->nservices + 1, sizeof(*held))) == NULL)
		fatalx("out of memory");
	hold_failed(held, notes, c, m, retry_failed);
	if (!dry) {
		/* A new apply replaces any rollback in progress: only what
		 * this one changes is a rollback. */
		for (size_t k = 0; k < d->nservices; k++) {
			struct ctl_svc *s = ctl_svc_find(c, d->services[k].name);

			if (s != NULL)
				s->rollback = rollback && d->services[k].action == DIFF_CHANGED;
		}
		rev = adopt(c, m, text, &ci, d, rollback, held, notes);
		m = NULL;
		text = NULL;
	} else
		rev = json_pack("{s:s, s:s?, s:s?, s:s?, s:I}", "commit", ci.sha,
		    "message", ci.message, "summary", ci.summary, "author", ci.author,
		    "commit_time", (json_int_t)ci.time * 1000);
	httpd_reply_json(out, 200, json_pack("{s:o, s:b, s:b, s:b, s:o}", "revision", rev,
	    "dry_run", dry, "rollback", rollback, "retry_failed", retry_failed,
	    "plan", plan_json(d, notes)));
out:
	json_decref(notes);
	free(held);
	manifest_diff_free(d);
	manifest_free(m);
	free(text);
	git_commit_info_clear(&ci);
}

void
ctl_api_apply(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const json_t *jref, *jdry, *jretry;
	const char *ref;
	json_t *body;
	struct timespec t0, t1;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((body = body_object(out, req)) == NULL)
		goto out;
	jref = json_object_get(body, "ref");
	jdry = json_object_get(body, "dry_run");
	jretry = json_object_get(body, "retry_failed");
	if ((jref && !json_is_string(jref) && !json_is_null(jref)) ||
	    (jdry && !json_is_boolean(jdry) && !json_is_null(jdry)) ||
	    (jretry && !json_is_boolean(jretry) && !json_is_null(jretry))) {
		httpd_reply_error(out, 400, "bad request", "want {\"ref\": string, "
		    "\"dry_run\": boolean, \"retry_failed\": boolean}");
		goto out;
	}
	ref = json_string_value(jref);
	if (ref == NULL || *ref == '\0')
		ref = c->cfg.branch;
	ctl_apply_ref(out, c, ref, json_is_true(jdry), false, json_is_true(jretry));
out:
	json_decref(body);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
	c->apply_sum_us += us;
	ctl_metrics_observe(c->apply_hist, us);
}

/* The commit of revision seq, or NULL (caller frees). */
char *
ctl_revision_commit(struct ctl *c, uint64_t seq)
{
	char key[64], *text = NULL, *commit = NULL;
	json_t *j;

	revision_key(key, sizeof(key), seq);
	if (store_get(&text, c->store, key) < 0)
		return NULL;
	if ((j = json_loads(text, 0, NULL)) != NULL &&
	    json_string_value(json_object_get(j, "commit")) != NULL)
		commit = xstrdup(json_string_value(json_object_get(j, "commit")));
	json_decref(j);
	free(text);
	return commit;
}

enum svc_flag { FLAG_PAUSE, FLAG_RESUME, FLAG_PROMOTE, FLAG_ABORT };

/* Set one of the planner's service flags (persisted) and plan again. */
static void
set_flag(struct httpd_resp *out, struct ctl *c, const char *name, enum svc_flag f)
{
	static const char *const what[] = {"paused", "resumed", "promote requested",
	    "abort requested"};
	struct ctl_svc *s;
	bool *flag, want;

	if (c->desired == NULL || manifest_service(c->desired, name) == NULL) {
		httpd_reply_error(out, 404, "not found", "no service named \"%s\"", name);
		return;
	}
	s = ctl_svc_get(c, name);
	flag = f == FLAG_PAUSE || f == FLAG_RESUME ? &s->paused :
	    f == FLAG_PROMOTE ? &s->promote : &s->abort;
	want = f != FLAG_RESUME;
	if (*flag != want) {
		*flag = want;
		ctl_svc_save(c, s);
		ctl_event(c, name, NULL, NULL, NULL, what[f]);
		log_info("service=%s %s", name, what[f]);
		/* The answer is the service once the planner took the request
		 * (a promote moved the rollout on, an abort sent it back). */
		ctl_replan(c);
	}
	httpd_reply_json(out, 200, ctl_service_json(c, s));
}

/* POST /v1/services/NAME/pause: a rollout takes no new step. */
void
ctl_api_pause(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	set_flag(out, arg, req->params[0], FLAG_PAUSE);
}

/* POST /v1/services/NAME/resume */
void
ctl_api_resume(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	set_flag(out, arg, req->params[0], FLAG_RESUME);
}

/* POST /v1/services/NAME/promote: end the current pause now, switch a
 * blue-green rollout; after an abort, retry. The planner takes it. */
void
ctl_api_promote(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	set_flag(out, arg, req->params[0], FLAG_PROMOTE);
}

/* POST /v1/services/NAME/abort: canary/blue-green back to the old set at
 * once; rolling/recreate roll back. */
void
ctl_api_abort(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	set_flag(out, arg, req->params[0], FLAG_ABORT);
}

/* ---- scale, drain ---- */

/* The target a scale body asks for: {"replicas": N} (0 stops every
 * instance) or {"reset": true} (back to the manifest's replicas,
 * CTL_SCALE_UNSET). false + 400 reply on anything else. */
static bool
scale_target(struct httpd_resp *out, const json_t *body, int *n)
{
	const json_t *jr = json_object_get(body, "replicas");
	const json_t *jreset = json_object_get(body, "reset");

	if (jreset != NULL && !json_is_boolean(jreset)) {
		httpd_reply_error(out, 400, "bad request", "reset: want a boolean");
		return false;
	}
	if (json_is_true(jreset)) {
		if (jr != NULL && !json_is_null(jr)) {
			httpd_reply_error(out, 400, "bad request",
			    "want either {\"replicas\": N} or {\"reset\": true}, not both");
			return false;
		}
		*n = CTL_SCALE_UNSET;
		return true;
	}
	if (!json_is_integer(jr) || json_integer_value(jr) < 0 ||
	    json_integer_value(jr) > MANIFEST_MAX_REPLICAS) {
		httpd_reply_error(out, 400, "bad request", "replicas: want an integer >= 0 "
		    "(or {\"reset\": true} for the manifest's replicas)");
		return false;
	}
	*n = (int)json_integer_value(jr);
	return true;
}

/* POST /v1/services/NAME/scale {"replicas": N} | {"reset": true}. The
 * answer is the service after the planner took the new target. */
void
ctl_api_scale(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *name = req->params[0];
	const struct service_spec *sp;
	struct ctl_svc *s;
	json_t *body;
	char cause[128];
	int n;

	if ((body = body_object(out, req)) == NULL)
		return;
	sp = c->desired ? manifest_service(c->desired, name) : NULL;
	if (sp == NULL) {
		httpd_reply_error(out, 404, "not found", "no service named \"%s\"", name);
		goto out;
	}
	if (!scale_target(out, body, &n))
		goto out;
	if (n != CTL_SCALE_UNSET && lifecycle_scale_check(sp, n) < 0) {
		httpd_reply_error(out, 422, "out of bounds", "%s", orch_err_last());
		goto out;
	}
	s = ctl_svc_get(c, name);
	s->scale = n;
	ctl_svc_save(c, s);
	if (n == CTL_SCALE_UNSET)
		snprintf(cause, sizeof(cause), "scale reset to the manifest's %d", sp->replicas);
	else
		snprintf(cause, sizeof(cause), "scale to %d", n);
	ctl_event(c, name, NULL, NULL, NULL, cause);
	log_info("service=%s %s", name, cause);
	ctl_replan(c);
	httpd_reply_json(out, 200, ctl_service_json(c, s));
out:
	json_decref(body);
}

/* Whether a drain body asks to drain (true) or to undo one: {} and
 * {"drain": true} drain; {"undo": true} or {"drain": false} undo. false +
 * 400 reply on anything else. */
static bool
drain_wanted(struct httpd_resp *out, const json_t *body, bool *drain)
{
	const json_t *jd = json_object_get(body, "drain");
	const json_t *ju = json_object_get(body, "undo");

	if ((jd != NULL && !json_is_boolean(jd)) || (ju != NULL && !json_is_boolean(ju))) {
		httpd_reply_error(out, 400, "bad request",
		    "want {\"undo\": boolean} or {\"drain\": boolean}");
		return false;
	}
	if (jd != NULL && ju != NULL && json_is_true(jd) == json_is_true(ju)) {
		httpd_reply_error(out, 400, "bad request", "drain and undo contradict each other");
		return false;
	}
	*drain = ju != NULL ? !json_is_true(ju) : jd == NULL || json_is_true(jd);
	return true;
}

/* The pets on node n (they stay when it drains), and what to do. */
static json_t *
drain_pets(struct ctl *c, const struct ctl_node *n, json_t **out_message)
{
	json_t *pets = json_array();
	char msg[512];

	for (struct ctl_inst *i = n->placed; i; i = i->on_next)
		if (!i->gone && i->kind == KIND_PET)
			json_array_append_new(pets, json_string(i->id));
	*out_message = NULL;
	if (json_array_size(pets) > 0 && n->drain) {
		snprintf(msg, sizeof(msg), "%zu pet%s stay%s on %s (a pet's data dir lives on its "
		    "node, so drain never moves it): stop the node's work another way, or "
		    "undo the drain when done (orchctl drain --undo %s); a pet starts elsewhere "
		    "only once the node is Lost and removed (orchctl nodes rm %s), with an "
		    "empty data dir",
		    json_array_size(pets), json_array_size(pets) == 1 ? "" : "s",
		    json_array_size(pets) == 1 ? "s" : "", n->name, n->name, n->name);
		*out_message = json_string(msg);
	}
	return pets;
}

/* POST /v1/nodes/NAME/drain {} | {"undo": true}: Draining (cattle move
 * away, pets stay, nothing new is placed) or back to Ready. */
void
ctl_api_drain(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	struct ctl_node *n = ctl_node_find(c, req->params[0]);
	json_t *body, *pets, *msg;
	bool drain;

	if ((body = body_object(out, req)) == NULL)
		return;
	if (n == NULL) {
		httpd_reply_error(out, 404, "not found", "no node named \"%s\"", req->params[0]);
		goto out;
	}
	if (!drain_wanted(out, body, &drain))
		goto out;
	if (n->drain != drain) {
		n->drain = drain;
		ctl_node_save(c, n);
	}
	if (n->state == NODE_READY || n->state == NODE_DRAINING)
		ctl_node_set_state(c, n, drain ? NODE_DRAINING : NODE_READY,
		    drain ? "drained by request" : "drain lifted by request");
	ctl_replan(c);
	pets = drain_pets(c, n, &msg);
	httpd_reply_json(out, 200, json_pack("{s:s, s:s, s:b, s:o, s:o*}", "name", n->name,
	    "state", lifecycle_node_state_name(n->state), "drain", n->drain,
	    "pets", pets, "message", msg));
out:
	json_decref(body);
}

/* The request body as a JSON object ("" is {}), for the handlers of
 * api_ops.c; NULL after a 400 reply. */
json_t *
ctl_api_body(struct httpd_resp *out, const struct httpd_req *req)
{
	return body_object(out, req);
}

/* ---- slave-facing ---- */

/* A slave that heartbeats less often than half of --node-suspect makes
 * its node flap Ready <-> Suspect: say so where people look, once per
 * registration (main.c refuses it at start when --node-heartbeat says). */
static void
check_heartbeat(struct ctl *c, const char *name, const json_t *body)
{
	json_int_t hb = json_integer_value(json_object_get(body, "heartbeat_ms"));
	char why[384];

	if (hb <= 0 || c->cfg.node_suspect_ms >= 2 * hb)
		return;
	snprintf(why, sizeof(why), "heartbeats every %lldms, but --node-suspect is %lldms "
	    "(less than two heartbeats): the node will flap between Ready and Suspect; "
	    "give the slave --heartbeat %lldms or less, or the controller --node-suspect "
	    "%lldms or more", (long long)hb, (long long)c->cfg.node_suspect_ms,
	    (long long)(c->cfg.node_suspect_ms / 2), (long long)(2 * hb));
	log_warnx("node=%s %s", name, why);
	ctl_node_event(c, name, NULL, NULL, why);
}

/* Over mutual TLS a node's reports (registration, heartbeats, events)
 * come from that node's certificate only (O=node, CN=NAME): a slave cannot
 * report for another. Without a certificate, the token's rules apply. */
static bool
reporter_ok(struct httpd_resp *out, const struct httpd_req *req, const char *name)
{
	const struct orch_principal *p = httpd_peer_cert(req);
	char who[96];

	if (p == NULL || (p->role == ORCH_ROLE_NODE && name != NULL &&
	    strcmp(p->name, name) == 0))
		return true;
	httpd_reply_error(out, 403, "forbidden", "a certificate of %s may not report for "
	    "node %s", orch_principal_text(p, who, sizeof(who)), name ? name : "(none)");
	return false;
}

void
ctl_api_register(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	json_t *body;
	const char *name;

	if ((body = body_object(out, req)) == NULL)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (!reporter_ok(out, req, name)) {
		json_decref(body);
		return;
	}
	if (ctl_node_report(c, name, body, true) < 0)
		reply_err(out);
	else {
		check_heartbeat(c, name, body);
		httpd_reply_json(out, 200, json_pack("{s:s, s:s}", "name", name, "state",
		    lifecycle_node_state_name(ctl_node_find(c, name)->state)));
	}
	json_decref(body);
}

void
ctl_api_heartbeat(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *name = req->params[0], *bname;
	json_t *body;

	if (!reporter_ok(out, req, name) || (body = body_object(out, req)) == NULL)
		return;
	bname = json_string_value(json_object_get(body, "name"));
	if (bname != NULL && strcmp(bname, name) != 0)
		httpd_reply_error(out, 400, "bad request", "name \"%s\" differs from the path",
		    bname);
	else if (ctl_node_report(c, name, body, false) < 0)
		reply_err(out);
	else
		httpd_reply_json(out, 200, json_pack("{s:s, s:s}", "name", name, "state",
		    lifecycle_node_state_name(ctl_node_find(c, name)->state)));
	json_decref(body);
}

void
ctl_api_node_events(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	json_t *body;

	if (!reporter_ok(out, req, req->params[0]))
		return;
	if ((body = body_object(out, req)) == NULL)
		return;
	if (ctl_node_events(c, req->params[0], body) < 0)
		reply_err(out);
	else
		httpd_reply_json(out, 200, json_pack("{s:I}", "accepted",
		    (json_int_t)json_array_size(json_object_get(body, "events"))));
	json_decref(body);
}
