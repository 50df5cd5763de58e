/*
 * state.c - the controller's records (services, instances, nodes), their
 * one state setter each, and their durable form in the store.
 *
 * Every state change is written together with its event in one store
 * batch (store_commit is all-or-nothing), so the event log and the records
 * never disagree, even for a controller killed between two calls. Keys:
 *   services/<name>  instances/<id>  nodes/<name>  desired  meta/revseq
 *   revisions/<seq, zero-padded>
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"
#include "xalloc.h"

/* ---- lookups ---- */

struct ctl_svc *
ctl_svc_find(struct ctl *c, const char *name)
{
	for (struct ctl_svc *s = c->svcs; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

struct ctl_svc *
ctl_svc_get(struct ctl *c, const char *name)
{
	struct ctl_svc *s, **pp;

	if ((s = ctl_svc_find(c, name)) != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatalx("out of memory");
	s->name = orch_xstrdup(name);
	s->state = SERVICE_PROVISION;
	s->scale = CTL_SCALE_UNSET;
	/* Append: lists keep a stable, readable order. */
	for (pp = &c->svcs; *pp; pp = &(*pp)->next)
		;
	*pp = s;
	return s;
}

/* Instances by id: a chained hash table beside the list (which keeps
 * the stable order). FNV-1a; doubles when the load reaches 1. */
static size_t
id_hash(const char *id)
{
	uint64_t h = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)h;
}

static void
tab_grow(struct ctl *c)
{
	size_t nb = c->inst_nbuckets ? c->inst_nbuckets * 2 : 256;
	struct ctl_inst **tab = calloc(nb, sizeof(*tab));

	if (tab == NULL)
		fatalx("out of memory");
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		size_t b = id_hash(i->id) & (nb - 1);

		i->hnext = tab[b];
		tab[b] = i;
	}
	free(c->inst_tab);
	c->inst_tab = tab;
	c->inst_nbuckets = nb;
}

static void
tab_remove(struct ctl *c, struct ctl_inst *i)
{
	struct ctl_inst **pp = &c->inst_tab[id_hash(i->id) & (c->inst_nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == i) {
			*pp = i->hnext;
			return;
		}
}

struct ctl_inst *
ctl_inst_find(struct ctl *c, const char *id)
{
	if (c->inst_nbuckets == 0)
		return NULL;
	for (struct ctl_inst *i = c->inst_tab[id_hash(id) & (c->inst_nbuckets - 1)]; i;
	    i = i->hnext)
		if (strcmp(i->id, id) == 0)
			return i;
	return NULL;
}

struct ctl_node *
ctl_node_find(struct ctl *c, const char *name)
{
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

struct ctl_inst *
ctl_inst_new(struct ctl *c, const char *id, const char *service)
{
	struct ctl_inst *i = calloc(1, sizeof(*i));
	size_t b;

	if (i == NULL)
		fatalx("out of memory");
	i->id = orch_xstrdup(id);
	i->service = orch_xstrdup(service);
	i->state = INSTANCE_PROVISION;
	i->exit_code = -1;
	i->created_mono = orch_mono_ms();
	/* Append at the tail: the list keeps creation order. */
	i->prev = c->insts_tail;
	if (c->insts_tail != NULL)
		c->insts_tail->next = i;
	else
		c->insts = i;
	c->insts_tail = i;
	if (++c->ninsts > c->inst_nbuckets)
		tab_grow(c); /* rehashes i too */
	else {
		b = id_hash(i->id) & (c->inst_nbuckets - 1);
		i->hnext = c->inst_tab[b];
		c->inst_tab[b] = i;
	}
	return i;
}

/* ---- JSON forms ---- */

static json_t *
memo_json(const struct lifecycle_memo *m)
{
	json_t *pets = json_array(), *alerts = json_array();

	for (size_t k = 0; k < m->npets; k++)
		json_array_append_new(pets, json_pack("{s:i, s:s}", "ordinal",
		    m->pets[k].ordinal, "node", m->pets[k].node));
	for (size_t k = 0; k < m->nalerts; k++)
		json_array_append_new(alerts, json_string(m->alerts[k]));
	/* Every field: a restarted controller goes on from the rollout step
	 * it was at (lifecycle.h). */
	json_t *crash = json_pack("{s:s, s:i, s:I, s:i, s:I, s:I, s:b, s:s}",
	    "fp", m->crash.fp, "count", m->crash.count,
	    "window_at", (json_int_t)m->crash.window_at, "streak", m->crash.streak,
	    "last_at", (json_int_t)m->crash.last_at,
	    "until", (json_int_t)m->crash.until, "failed", m->crash.failed,
	    "why", m->crash.why);

	return json_pack("{s:i, s:I, s:I, s:s, s:o, s:o, s:i, s:I, s:b, s:I, s:s, s:s, s:s,"
	    " s:o}",
	    "settled", m->settled, "next_id", (json_int_t)m->next_id,
	    "rollout_since", (json_int_t)m->rollout_since, "rollout_fp", m->rollout_fp,
	    "pets", pets, "alerts", alerts, "rollout_step", m->rollout_step,
	    "rollout_step_at", (json_int_t)m->rollout_step_at,
	    "rollout_promoted", m->rollout_promoted,
	    "rollout_switched_at", (json_int_t)m->rollout_switched_at,
	    "rollout_stable_fp", m->rollout_stable_fp,
	    "rollout_failed_fp", m->rollout_failed_fp,
	    "rollout_aborted_fp", m->rollout_aborted_fp, "crash", crash);
}

/* A fingerprint field: "" unless it is a string that fits. */
static void
copy_fp(char out[LIFECYCLE_FP_LEN], const json_t *v)
{
	const char *t = json_string_value(v);

	out[0] = '\0';
	if (t != NULL && strlen(t) < LIFECYCLE_FP_LEN)
		strcpy(out, t);
}

/* The crash loop's memo (lifecycle_crash): a restarted controller keeps
 * the backoff and the budget. */
static void
crash_parse(struct lifecycle_crash *k, const json_t *j)
{
	const char *why = json_string_value(json_object_get(j, "why"));

	copy_fp(k->fp, json_object_get(j, "fp"));
	k->count = (int)json_integer_value(json_object_get(j, "count"));
	k->window_at = json_integer_value(json_object_get(j, "window_at"));
	k->streak = (int)json_integer_value(json_object_get(j, "streak"));
	k->last_at = json_integer_value(json_object_get(j, "last_at"));
	k->until = json_integer_value(json_object_get(j, "until"));
	k->failed = json_is_true(json_object_get(j, "failed"));
	snprintf(k->why, sizeof(k->why), "%s", why ? why : "");
}

/* The inverse of memo_json, into a zeroed memo. Bad entries are skipped:
 * the planner rebuilds what it cannot find. */
static void
memo_parse(struct lifecycle_memo *m, const json_t *j)
{
	const json_t *pets = json_object_get(j, "pets");
	const json_t *alerts = json_object_get(j, "alerts");
	size_t k;

	memset(m, 0, sizeof(*m));
	m->settled = (int)json_integer_value(json_object_get(j, "settled"));
	m->next_id = (uint64_t)json_integer_value(json_object_get(j, "next_id"));
	m->rollout_since = json_integer_value(json_object_get(j, "rollout_since"));
	copy_fp(m->rollout_fp, json_object_get(j, "rollout_fp"));
	m->rollout_step = (int)json_integer_value(json_object_get(j, "rollout_step"));
	m->rollout_step_at = json_integer_value(json_object_get(j, "rollout_step_at"));
	m->rollout_promoted = json_is_true(json_object_get(j, "rollout_promoted"));
	m->rollout_switched_at = json_integer_value(json_object_get(j, "rollout_switched_at"));
	copy_fp(m->rollout_stable_fp, json_object_get(j, "rollout_stable_fp"));
	copy_fp(m->rollout_failed_fp, json_object_get(j, "rollout_failed_fp"));
	copy_fp(m->rollout_aborted_fp, json_object_get(j, "rollout_aborted_fp"));
	crash_parse(&m->crash, json_object_get(j, "crash"));
	if (json_array_size(pets) > 0 &&
	    (m->pets = calloc(json_array_size(pets), sizeof(*m->pets))) == NULL)
		fatalx("out of memory");
	for (k = 0; k < json_array_size(pets); k++) {
		const json_t *p = json_array_get(pets, k);
		const char *node = json_string_value(json_object_get(p, "node"));

		if (node == NULL || strlen(node) >= LIFECYCLE_NODE_MAX)
			continue;
		m->pets[m->npets].ordinal = (int)json_integer_value(json_object_get(p, "ordinal"));
		strcpy(m->pets[m->npets].node, node);
		m->npets++;
	}
	if (json_array_size(alerts) > 0 &&
	    (m->alerts = calloc(json_array_size(alerts), sizeof(*m->alerts))) == NULL)
		fatalx("out of memory");
	for (k = 0; k < json_array_size(alerts); k++) {
		const json_t *a = json_array_get(alerts, k);
		if (json_is_string(a))
			m->alerts[m->nalerts++] = orch_xstrdup(json_string_value(a));
	}
}

static json_t *
svc_record(const struct ctl_svc *s)
{
	json_t *j;

	/* "scale_to": the person's target, null for the manifest's. Records
	 * from before it hold "scale" only, where 0 meant the manifest's
	 * (load_svc reads both). */
	j = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:b, s:b, s:b, s:b, s:i, s:i, s:o, s:s?,"
	    " s:s?, s:s?}",
	    "name", s->name, "state", lifecycle_service_state_name(s->state),
	    "detail", lifecycle_scale_detail_name(s->detail), "reason", s->reason,
	    "scale_to", s->scale >= 0 ? json_integer(s->scale) : json_null(),
	    "paused", s->paused, "rollback", s->rollback,
	    "promote", s->promote, "abort", s->abort,
	    "desired", s->desired,
	    "ready", s->ready, "memo", memo_json(&s->memo), "revision", s->revision,
	    "pin", s->pin, "rolled_back", s->rolled_back);
	if (j != NULL && s->restart_gen > 0)
		json_object_set_new(j, "restart_gen", json_integer(s->restart_gen));
	/* A crash loop's events counted and not yet summarised: kept, so a
	 * controller killed before the summary loses none of them. */
	if (j != NULL && s->quiet_events > 0)
		json_object_set_new(j, "coalesced", json_pack("{s:i, s:i, s:I}",
		    "events", s->quiet_events, "starts", s->quiet_starts,
		    "since", (json_int_t)s->quiet_since_wall));
	return j;
}

static json_t *
inst_record(const struct ctl_inst *i)
{
	json_t *j, *last;

	j = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:O?, s:s, s:s, s:s,"
	    " s:i, s:i, s:I, s:O?, s:s?, s:b, s:b, s:I}",
	    "id", i->id, "service", i->service, "version", i->version,
	    "node", i->node, "revision", i->revision, "fingerprint", i->fingerprint,
	    "spec", i->spec, "kind", proto_kind_name(i->kind),
	    "state", proto_state_name(i->state), "health", proto_health_name(i->health),
	    "pid", i->pid, "restarts", i->restarts, "started_at", (json_int_t)i->started_at,
	    "ports", i->ports, "reason", i->reason, "gone", i->gone, "started", i->started,
	    "ready_at", (json_int_t)i->ready_at);
	/* What its slave last said of its last exit and its data dir. */
	last = json_pack("{s:i, s:i, s:s?}", "exit_code", i->exit_code,
	    "exit_signal", i->exit_signal, "data_dir", i->data_dir);

	if (j == NULL || last == NULL || json_object_update(j, last) < 0)
		fatalx("out of memory");
	json_decref(last);
	return j;
}

static json_t *
node_record(const struct ctl_node *n)
{
	return json_pack("{s:s, s:s?, s:b, s:f, s:I, s:O?, s:I}",
	    "name", n->name, "address", n->address, "drain", n->drain,
	    "cpu", n->cpu, "memory", (json_int_t)n->memory, "labels", n->labels,
	    "last_heartbeat", (json_int_t)n->last_hb_wall);
}

static void
batch_put_json(struct store_batch *b, const char *key, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	if (text == NULL)
		fatalx("out of memory");
	store_batch_put(b, key, text);
	free(text);
}

/* The record with the commit of the spec the service ran before (the
 * planner's previous spec, rollback.c: ctl_prev_spec). */
static json_t *
svc_record_prev(const struct ctl_svc *s)
{
	json_t *j = svc_record(s);

	if (j != NULL && s->prev_revision != NULL)
		json_object_set_new(j, "prev_revision", json_string(s->prev_revision));
	return j;
}

/* Put a service record and remember its text for ctl_svc_save_changed. */
static void
svc_put(struct store_batch *b, const char *key, struct ctl_svc *s)
{
	json_t *j = svc_record_prev(s);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	if (text == NULL)
		fatalx("out of memory");
	store_batch_put(b, key, text);
	free(s->saved);
	s->saved = text;
}

/* Put service name's record into batch b (nothing when unknown). */
static void
svc_put_named(struct ctl *c, struct store_batch *b, const char *name)
{
	struct ctl_svc *s = ctl_svc_find(c, name);
	char key[512];

	if (s == NULL)
		return;
	snprintf(key, sizeof(key), "services/%s", s->name);
	svc_put(b, key, s);
}

static void
commit(struct ctl *c, struct store_batch *b)
{
	uint64_t seq = 0;

	if (c->held != NULL && b != c->held) {
		size_t n;
		const struct store_op *op = store_batch_ops(b, &n);

		for (size_t k = 0; k < n; k++)
			switch (op[k].kind) {
			case STORE_OP_PUT:
				store_batch_put(c->held, op[k].key, op[k].value);
				break;
			case STORE_OP_DEL:
				store_batch_del(c->held, op[k].key);
				break;
			case STORE_OP_DEL_PREFIX:
				store_batch_del_prefix(c->held, op[k].key);
				break;
			case STORE_OP_EVENT:
				store_batch_event(c->held, op[k].value);
				break;
			}
		store_batch_free(b);
		return;
	}
	if (store_commit(c->store, b, &seq) < 0)
		ctl_store_failed(c, b);
	else if (seq > 0)
		ctl_sse_wake(c);
	store_batch_free(b);
}

void
ctl_store_hold(struct ctl *c)
{
	if (c->held == NULL)
		c->held = store_batch_new();
}

void
ctl_store_flush(struct ctl *c)
{
	struct store_batch *b = c->held;

	if (b == NULL)
		return;
	c->held = NULL;
	if (store_batch_len(b) == 0)
		store_batch_free(b);
	else
		commit(c, b);
}

/* How long one summary of a crash loop's coalesced events covers. */
#define COALESCE_MS 60000

/*
 * The coalescing rule (docs/lifecycle.md, Crash loops): while a service's
 * instances crash-loop (the planner's crashloop: two failures in a row or
 * more, or Failed by its restart budget), the events of its instances are
 * counted instead of recorded; their records still change. Service events
 * are always recorded, and so are the events of the first two failures,
 * which show what happened. True when this event is one of the counted.
 */
static bool
coalesced(struct ctl *c, const char *service, const char *instance,
    const char *from, const char *to)
{
	struct ctl_svc *s;

	if (service == NULL || instance == NULL ||
	    (s = ctl_svc_find(c, service)) == NULL || !s->crashloop)
		return false;
	if (s->quiet_since == 0) {
		s->quiet_since = orch_mono_ms();
		s->quiet_since_wall = orch_wall_ms();
	}
	s->quiet_events++;
	if (from == NULL && to != NULL && strcmp(to, "Provision") == 0)
		s->quiet_starts++; /* a replacement started (reconcile.c) */
	return true;
}

/* One event into batch b. node: the node it is about, or the instance's
 * node (NULL: none, or the instance is not placed). */
static void
batch_event(struct ctl *c, struct store_batch *b, const char *service,
    const char *instance, const char *node, const char *from, const char *to,
    const char *cause)
{
	/* actor: who made the API write this event comes from (durable.c
	 * sets it around the handler); absent for the controller's own. */
	json_t *ev = json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s?, s:s?}",
	    "time", (json_int_t)orch_wall_ms(), "service", service,
	    "instance", instance, "node", node, "from", from, "to", to,
	    "cause", cause ? cause : "", "revision", c->desired_commit,
	    "actor", c->actor[0] ? c->actor : NULL);
	char *text;

	if (coalesced(c, service, instance, from, to)) {
		/* The count goes to the store with the change it stands for. */
		svc_put_named(c, b, service);
		json_decref(ev);
		return;
	}
	text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (text == NULL)
		fatalx("out of memory");
	store_batch_event(b, text);
	free(text);
}

void
ctl_events_coalesce_flush(struct ctl *c, struct ctl_svc *s, bool force)
{
	int64_t now = orch_mono_ms();
	struct store_batch *b;
	char cause[512], d[32];

	if (s->quiet_events == 0) {
		if (!s->crashloop)
			s->quiet_since = 0;
		return;
	}
	if (!force && now - s->quiet_since < COALESCE_MS)
		return;
	orch_fmt_duration(d, sizeof(d), now - s->quiet_since);
	snprintf(cause, sizeof(cause), "restarted %d times in the last %s%s%.256s%s; "
	    "%d instance events coalesced", s->quiet_starts, d,
	    s->memo.crash.why[0] ? " (" : "", s->memo.crash.why,
	    s->memo.crash.why[0] ? ")" : "", s->quiet_events);
	s->quiet_events = s->quiet_starts = 0;
	s->quiet_since = s->crashloop ? now : 0;
	s->quiet_since_wall = s->crashloop ? orch_wall_ms() : 0;
	b = store_batch_new();
	batch_event(c, b, s->name, NULL, NULL, NULL, NULL, cause);
	svc_put_named(c, b, s->name); /* the counts go with the summary */
	commit(c, b);
	log_info("service=%s %s", s->name, cause);
}

void
ctl_svc_save(struct ctl *c, struct ctl_svc *s)
{
	struct store_batch *b = store_batch_new();
	char key[512];

	snprintf(key, sizeof(key), "services/%s", s->name);
	svc_put(b, key, s);
	commit(c, b);
}

void
ctl_svc_save_changed(struct ctl *c, struct ctl_svc *s)
{
	json_t *j = svc_record_prev(s);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	if (text == NULL)
		fatalx("out of memory");
	if (s->saved == NULL || strcmp(s->saved, text) != 0)
		ctl_svc_save(c, s);
	free(text);
}

void
ctl_inst_save(struct ctl *c, struct ctl_inst *i)
{
	struct store_batch *b = store_batch_new();
	char key[512];

	snprintf(key, sizeof(key), "instances/%s", i->id);
	batch_put_json(b, key, inst_record(i));
	commit(c, b);
}

void
ctl_node_save(struct ctl *c, struct ctl_node *n)
{
	struct store_batch *b = store_batch_new();
	char key[512];

	snprintf(key, sizeof(key), "nodes/%s", n->name);
	batch_put_json(b, key, node_record(n));
	commit(c, b);
}

void
ctl_event(struct ctl *c, const char *service, const char *instance,
    const char *from, const char *to, const char *cause)
{
	struct store_batch *b = store_batch_new();
	struct ctl_inst *i = instance ? ctl_inst_find(c, instance) : NULL;

	batch_event(c, b, service, instance, i ? i->node : NULL, from, to, cause);
	commit(c, b);
}

void
ctl_node_event(struct ctl *c, const char *node, const char *from, const char *to,
    const char *cause)
{
	struct store_batch *b = store_batch_new();

	batch_event(c, b, NULL, NULL, node, from, to, cause);
	commit(c, b);
}

/* ---- the setters ---- */

void
ctl_svc_set_state(struct ctl *c, struct ctl_svc *s, enum service_state st,
    const char *cause)
{
	struct lifecycle_event ev;
	struct store_batch *b;
	char key[512];
	int rc;

	rc = lifecycle_service_set(&ev, &s->state, st, cause);
	if (rc < 0) {
		log_warnx("service=%s: %s", s->name, orch_err_last());
		return;
	}
	if (rc == 0) {
		/* Same state: only a changed reason is worth a write. */
		if (cause && (s->reason == NULL || strcmp(s->reason, cause) != 0)) {
			orch_set_str(&s->reason, cause);
			ctl_svc_save(c, s);
		}
		return;
	}
	orch_set_str(&s->reason, cause ? cause : "");
	if (s->revision == NULL) /* else apply and rollback keep it (issue 10 #11) */
		orch_set_str(&s->revision, c->desired_commit);
	log_info("service=%s state %s -> %s reason=\"%s\"", s->name,
	    lifecycle_service_state_name(ev.from), lifecycle_service_state_name(ev.to),
	    ev.cause);
	b = store_batch_new();
	snprintf(key, sizeof(key), "services/%s", s->name);
	svc_put(b, key, s);
	batch_event(c, b, s->name, NULL, NULL, lifecycle_service_state_name(ev.from),
	    lifecycle_service_state_name(ev.to), ev.cause);
	commit(c, b);
	/* Alerts for Failed and Rollback come from the planner (ALERT
	 * actions), which remembers which it fired. */
}

void
ctl_inst_set_state(struct ctl *c, struct ctl_inst *i, enum instance_state st,
    const char *cause)
{
	enum instance_state old = i->state;
	struct store_batch *b;
	char key[512];

	struct lifecycle_event ev;

	if (cause != NULL)
		orch_set_str(&i->reason, cause);
	if (st == old)
		return;
	/* The table guards the controller's own moves; what a slave reports
	 * is the truth even where the table has no arrow for it. */
	if (lifecycle_instance_set(&ev, &i->state, st, cause) < 0) {
		log_debug("instance=%s: %s; taking the slave's word", i->id, orch_err_last());
		i->state = st;
	}
	/* min_ready counts from the moment it became Run. */
	i->ready_at = st == INSTANCE_RUN ? orch_wall_ms() : 0;
	log_info("instance=%s service=%s node=%s state %s -> %s reason=\"%s\"", i->id,
	    i->service, i->node ? i->node : "-", proto_state_name(old),
	    proto_state_name(st), cause ? cause : "");
	b = store_batch_new();
	snprintf(key, sizeof(key), "instances/%s", i->id);
	batch_put_json(b, key, inst_record(i));
	batch_event(c, b, i->service, i->id, i->node, proto_state_name(old),
	    proto_state_name(st), cause);
	commit(c, b);
}

/* ---- observed state ---- */

void
ctl_inst_set_spec(struct ctl_inst *i, json_t *spec)
{
	const json_t *r = json_object_get(spec, "resources");

	json_decref(i->spec);
	i->spec = spec;
	i->res_cpu = json_number_value(json_object_get(r, "cpu"));
	i->res_memory = (uint64_t)json_integer_value(json_object_get(r, "memory"));
}

void
ctl_inst_observe(struct ctl *c, struct ctl_inst *i, const struct instance_status *st)
{
	bool changed = false;
	json_t *ports = json_object();

	for (size_t k = 0; k < st->nports; k++)
		json_object_set_new(ports, st->ports[k].name, json_integer(st->ports[k].port));
	if (i->ports == NULL || !json_equal(i->ports, ports)) {
		json_decref(i->ports);
		i->ports = json_incref(ports);
		changed = true;
	}
	json_decref(ports);
	if (i->pid != st->pid || i->restarts != st->restarts ||
	    i->started_at != st->started_at || i->health != st->health ||
	    i->exit_code != st->exit_code || i->exit_signal != st->exit_signal)
		changed = true;
	i->pid = st->pid;
	i->restarts = st->restarts;
	i->started_at = st->started_at;
	i->health = st->health;
	i->exit_code = st->exit_code;
	i->exit_signal = st->exit_signal;
	if (st->data_dir != NULL && (i->data_dir == NULL || strcmp(i->data_dir, st->data_dir) != 0)) {
		orch_set_str(&i->data_dir, st->data_dir);
		changed = true;
	}
	i->missing = 0;
	i->started = true;
	i->obs_state = st->state;
	if (i->version == NULL && st->version != NULL)
		i->version = orch_xstrdup(st->version);
	/* Being stopped: the record stays Destroy until the slave confirms
	 * the removal; a status sent before the stop must not undo that. */
	if (i->gone && i->state == INSTANCE_DESTROY) {
		if (changed)
			ctl_inst_save(c, i);
	} else if (i->state != st->state)
		ctl_inst_set_state(c, i, st->state, st->reason);
	else if (changed)
		ctl_inst_save(c, i);
}

/* ---- removal and freeing ---- */

void
ctl_inst_free(struct ctl_inst *i)
{
	if (i == NULL)
		return;
	free(i->id);
	free(i->service);
	free(i->version);
	free(i->node);
	free(i->revision);
	free(i->fingerprint);
	free(i->data_dir);
	json_decref(i->spec);
	json_decref(i->ports);
	free(i->reason);
	free(i);
}

void
ctl_svc_free(struct ctl_svc *s)
{
	if (s == NULL)
		return;
	free(s->name);
	free(s->reason);
	free(s->revision);
	lifecycle_memo_clear(&s->memo);
	free(s->saved);
	free(s->pin);
	free(s->rolled_back);
	free(s->prev_revision);
	free(s);
}

void
ctl_node_free(struct ctl_node *n)
{
	if (n == NULL)
		return;
	free(n->name);
	free(n->address);
	free(n->digest);
	free(n->unreachable_why);
	free(n->state_error);
	json_decref(n->labels);
	free(n);
}

void
ctl_inst_drop(struct ctl *c, struct ctl_inst *i)
{
	struct store_batch *b = store_batch_new();
	char key[512];

	if (i->prev != NULL)
		i->prev->next = i->next;
	else
		c->insts = i->next;
	if (i->next != NULL)
		i->next->prev = i->prev;
	else
		c->insts_tail = i->prev;
	tab_remove(c, i);
	ctl_inst_unplace(i);
	c->ninsts--;
	ctl_slaves_forget(c, i);
	snprintf(key, sizeof(key), "instances/%s", i->id);
	store_batch_del(b, key);
	batch_event(c, b, i->service, i->id, i->node, proto_state_name(i->state),
	    "Destroy", "removed");
	commit(c, b);
	log_info("instance=%s service=%s removed", i->id, i->service);
	ctl_inst_free(i);
}

void
ctl_svc_drop(struct ctl *c, struct ctl_svc *s)
{
	struct store_batch *b = store_batch_new();
	char key[512];

	for (struct ctl_svc **pp = &c->svcs; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	snprintf(key, sizeof(key), "services/%s", s->name);
	store_batch_del(b, key);
	batch_event(c, b, s->name, NULL, NULL, lifecycle_service_state_name(s->state),
	    "Destroy", "removed");
	commit(c, b);
	log_info("service=%s removed", s->name);
	ctl_svc_free(s);
}

/* ---- loading at start-up ---- */

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A record's scale target: "scale_to" (null: none), or in a record from
 * before it "scale", where 0 meant the manifest's count. */
static int
load_scale(const json_t *o)
{
	const json_t *to = json_object_get(o, "scale_to");
	json_int_t v;

	if (to != NULL)
		v = json_is_integer(to) ? json_integer_value(to) : CTL_SCALE_UNSET;
	else
		v = json_integer_value(json_object_get(o, "scale"));
	if (to == NULL && v == 0)
		v = CTL_SCALE_UNSET;
	return v < 0 || v > MANIFEST_MAX_REPLICAS ? CTL_SCALE_UNSET : (int)v;
}


/* The counts of svc_record()'s "coalesced", back on the mono clock. */
static void
load_coalesced(struct ctl_svc *s, const json_t *q)
{
	int64_t since = (int64_t)json_integer_value(json_object_get(q, "since"));
	int64_t ago = orch_wall_ms() - since;

	s->quiet_events = (int)json_integer_value(json_object_get(q, "events"));
	s->quiet_starts = (int)json_integer_value(json_object_get(q, "starts"));
	if (s->quiet_events > 0) {
		s->quiet_since = orch_mono_ms() - (ago > 0 ? ago : 0);
		s->quiet_since_wall = since;
	}
}

static void
load_svc(struct ctl *c, const json_t *o)
{
	struct ctl_svc *s;
	int st;

	if (jstr(o, "name") == NULL)
		return;
	s = ctl_svc_get(c, jstr(o, "name"));
	if ((st = lifecycle_service_state_parse(jstr(o, "state"))) >= 0)
		s->state = st;
	if (jstr(o, "detail") && strcmp(jstr(o, "detail"), "Scale-out") == 0)
		s->detail = SCALE_OUT;
	else if (jstr(o, "detail") && strcmp(jstr(o, "detail"), "Scale-in") == 0)
		s->detail = SCALE_IN;
	s->reason = orch_xstrdup(jstr(o, "reason"));
	s->scale = load_scale(o);
	s->restart_gen = (unsigned)json_integer_value(json_object_get(o, "restart_gen"));
	load_coalesced(s, json_object_get(o, "coalesced"));
	s->paused = json_is_true(json_object_get(o, "paused"));
	s->rollback = json_is_true(json_object_get(o, "rollback"));
	s->promote = json_is_true(json_object_get(o, "promote"));
	s->abort = json_is_true(json_object_get(o, "abort"));
	s->pin = orch_xstrdup(jstr(o, "pin"));
	s->rolled_back = orch_xstrdup(jstr(o, "rolled_back"));
	s->desired = (int)json_integer_value(json_object_get(o, "desired"));
	s->ready = (int)json_integer_value(json_object_get(o, "ready"));
	memo_parse(&s->memo, json_object_get(o, "memo"));
	s->revision = orch_xstrdup(jstr(o, "revision"));
	s->prev_revision = orch_xstrdup(jstr(o, "prev_revision"));
}

static void
load_inst(struct ctl *c, const json_t *o)
{
	struct ctl_inst *i;
	int v;

	if (jstr(o, "id") == NULL || jstr(o, "service") == NULL)
		return;
	i = ctl_inst_new(c, jstr(o, "id"), jstr(o, "service"));
	i->version = orch_xstrdup(jstr(o, "version"));
	ctl_inst_set_node(c, i, jstr(o, "node"));
	i->revision = orch_xstrdup(jstr(o, "revision"));
	i->fingerprint = orch_xstrdup(jstr(o, "fingerprint"));
	ctl_inst_set_spec(i, json_incref(json_object_get(o, "spec")));
	i->kind = jstr(o, "kind") && strcmp(jstr(o, "kind"), "pet") == 0 ? KIND_PET : KIND_CATTLE;
	if ((v = proto_state_parse(jstr(o, "state"))) >= 0)
		i->state = v;
	if ((v = proto_health_parse(jstr(o, "health"))) >= 0)
		i->health = v;
	i->pid = (int)json_integer_value(json_object_get(o, "pid"));
	i->restarts = (int)json_integer_value(json_object_get(o, "restarts"));
	i->started_at = json_integer_value(json_object_get(o, "started_at"));
	i->ports = json_incref(json_object_get(o, "ports"));
	i->reason = orch_xstrdup(jstr(o, "reason"));
	i->gone = json_is_true(json_object_get(o, "gone"));
	i->started = json_is_true(json_object_get(o, "started"));
	i->ready_at = json_integer_value(json_object_get(o, "ready_at"));
	/* Records written before these fields: none known. */
	if (json_is_integer(json_object_get(o, "exit_code")))
		i->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
	i->exit_signal = (int)json_integer_value(json_object_get(o, "exit_signal"));
	i->data_dir = orch_xstrdup(jstr(o, "data_dir"));
}

static void
load_node(struct ctl *c, const json_t *o, int64_t now)
{
	struct ctl_node *n;

	if (jstr(o, "name") == NULL)
		return;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		fatalx("out of memory");
	n->name = orch_xstrdup(jstr(o, "name"));
	n->address = orch_xstrdup(jstr(o, "address"));
	n->drain = json_is_true(json_object_get(o, "drain"));
	/* Suspect until it is heard from: nothing new goes there before. */
	n->state = n->drain ? NODE_DRAINING : NODE_SUSPECT;
	n->cpu = json_number_value(json_object_get(o, "cpu"));
	n->memory = json_integer_value(json_object_get(o, "memory"));
	n->labels = json_incref(json_object_get(o, "labels"));
	n->last_hb_wall = json_integer_value(json_object_get(o, "last_heartbeat"));
	/* A restarted controller gives every node a fresh heartbeat window:
	 * it was away, not the nodes. */
	n->last_hb_mono = now;
	n->next = c->nodes;
	c->nodes = n;
	ctl_node_adopt(c, n);
}

typedef void (*load_fn)(struct ctl *c, const json_t *o);

static int
load_prefix(struct ctl *c, const char *prefix, load_fn fn)
{
	struct store_kv *kv = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_list(&kv, &n, c->store, prefix)) < 0)
		return rc;
	for (size_t k = 0; k < n; k++) {
		json_t *o = json_loads(kv[k].value, 0, NULL);

		if (o == NULL) {
			log_warnx("store: %s is not JSON; ignored", kv[k].key);
			continue;
		}
		if (fn != NULL)
			fn(c, o);
		else
			load_node(c, o, c->start_mono);
		json_decref(o);
	}
	store_kv_free(kv, n);
	return 0;
}

/* The desired manifest and the revision counter into b. */
static void
desired_put(struct ctl *c, struct store_batch *b)
{
	json_t *j;
	char seq[32];

	j = json_pack("{s:s?, s:s?, s:s?, s:s?, s:I, s:s?}", "commit", c->desired_commit,
	    "text", c->desired_text, "author", c->rev.author, "message", c->rev.message,
	    "time", (json_int_t)c->rev.time, "prev_text", c->prev_text);
	batch_put_json(b, "desired", j);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)c->rev_seq);
	store_batch_put(b, "meta/revseq", seq);
}

int
ctl_desired_save(struct ctl *c)
{
	struct store_batch *b = store_batch_new();
	uint64_t dummy;
	int rc;

	desired_put(c, b);
	if ((rc = store_commit(c->store, b, &dummy)) < 0)
		ctl_store_failed(c, b);
	store_batch_free(b);
	return rc;
}

int
ctl_store_resave(struct ctl *c)
{
	struct store_batch *b = store_batch_new();
	char key[512];
	uint64_t dummy;
	int rc;

	if (c->desired != NULL)
		desired_put(c, b);
	for (struct ctl_svc *s = c->svcs; s; s = s->next) {
		snprintf(key, sizeof(key), "services/%s", s->name);
		svc_put(b, key, s);
	}
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		snprintf(key, sizeof(key), "instances/%s", i->id);
		batch_put_json(b, key, inst_record(i));
	}
	for (struct ctl_node *n = c->nodes; n; n = n->next) {
		snprintf(key, sizeof(key), "nodes/%s", n->name);
		batch_put_json(b, key, node_record(n));
	}
	rc = store_commit(c->store, b, &dummy);
	store_batch_free(b);
	return rc;
}

static int
load_desired(struct ctl *c)
{
	struct manifest_errors errs;
	char *text = NULL;
	json_t *j = NULL;
	const char *t;
	int rc;

	if ((rc = store_get(&text, c->store, "meta/revseq")) == 0) {
		c->rev_seq = strtoull(text, NULL, 10);
		free(text);
		text = NULL;
	}
	if ((rc = store_get(&text, c->store, "desired")) < 0)
		return rc == ORCH_ENOTFOUND ? 0 : rc;
	rc = ORCH_ERROR;
	if ((j = json_loads(text, 0, NULL)) == NULL ||
	    (t = jstr(j, "text")) == NULL) {
		orch_err_set(ORCH_ERROR, "store: the desired state is unreadable");
		goto out;
	}
	manifest_errors_init(&errs);
	rc = manifest_parse(&c->desired, &errs, t, strlen(t), c->cfg.manifest);
	manifest_errors_free(&errs);
	if (rc < 0) {
		orch_err_set(ORCH_ERROR, "store: the stored manifest no longer parses");
		goto out;
	}
	c->desired_text = orch_xstrdup(t);
	if ((t = jstr(j, "prev_text")) != NULL) {
		manifest_errors_init(&errs);
		if (manifest_parse(&c->prev, &errs, t, strlen(t), c->cfg.manifest) == 0)
			c->prev_text = orch_xstrdup(t);
		manifest_errors_free(&errs);
	}
	c->desired_commit = orch_xstrdup(jstr(j, "commit"));
	if (c->desired_commit)
		snprintf(c->rev.sha, sizeof(c->rev.sha), "%s", c->desired_commit);
	c->rev.author = orch_xstrdup(jstr(j, "author"));
	c->rev.message = orch_xstrdup(jstr(j, "message"));
	c->rev.time = json_integer_value(json_object_get(j, "time"));
	rc = 0;
out:
	json_decref(j);
	free(text);
	return rc;
}

int
ctl_state_load(struct ctl *c)
{
	int rc;

	if ((rc = load_desired(c)) < 0)
		return rc;
	if ((rc = load_prefix(c, "services/", load_svc)) < 0 ||
	    (rc = load_prefix(c, "instances/", load_inst)) < 0 ||
	    (rc = load_prefix(c, "nodes/", NULL)) < 0)
		return rc;
	ctl_revision_resume(c);
	/* Commands in flight died with the last controller. A start never
	 * acknowledged or a stop never confirmed is sent again: both are
	 * idempotent, and the planner, which sees these records as in
	 * progress, would not issue them again itself. */
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		if (i->node == NULL)
			continue;
		if (i->gone)
			ctl_slave_stop(c, i);
		else if (!i->started && i->spec != NULL)
			ctl_slave_start(c, i);
	}
	log_info("state loaded: revision=%s", c->desired_commit ? c->desired_commit : "none");
	return 0;
}

void
ctl_state_free(struct ctl *c)
{
	free(c->store_err);
	c->store_err = NULL;
	ctl_pins_clear(c);
	while (c->svcs) {
		struct ctl_svc *s = c->svcs;

		c->svcs = s->next;
		ctl_svc_free(s);
	}
	while (c->insts) {
		struct ctl_inst *i = c->insts;

		c->insts = i->next;
		ctl_inst_free(i);
	}
	c->insts_tail = NULL;
	free(c->inst_tab);
	c->inst_tab = NULL;
	c->inst_nbuckets = c->ninsts = 0;
	while (c->nodes) {
		struct ctl_node *n = c->nodes;

		c->nodes = n->next;
		ctl_node_free(n);
	}
	manifest_free(c->desired);
	c->desired = NULL;
	manifest_free(c->prev);
	c->prev = NULL;
	free(c->prev_text);
	free(c->desired_text);
	free(c->desired_commit);
	git_commit_info_clear(&c->rev);
}
