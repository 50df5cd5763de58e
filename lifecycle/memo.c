/*
 * memo.c - the containers of the planner's output (actions, plan, memo),
 * their text form, and the spec fingerprint.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "internal.h"

static const char *const action_names[LIFECYCLE__LAST] = {
	[LIFECYCLE_START] = "start",
	[LIFECYCLE_STOP] = "stop",
	[LIFECYCLE_MARK_FAILED] = "mark-failed",
	[LIFECYCLE_ALERT] = "alert",
	[LIFECYCLE_SET_STATE] = "set-state",
};

const char *
lifecycle_action_name(enum lifecycle_action_type t)
{
	return (unsigned)t < LIFECYCLE__LAST ? action_names[t] : "?";
}

static const char *const phase_names[ROLLOUT__LAST] = {
	[ROLLOUT_NONE] = "",
	[ROLLOUT_PROGRESS] = "in progress",
	[ROLLOUT_PAUSED] = "paused",
	[ROLLOUT_WAITING] = "waiting",
	[ROLLOUT_WAIT_PROMOTE] = "waiting for promote",
	[ROLLOUT_ABORTED] = "aborted",
	[ROLLOUT_FAILED] = "failed",
};

const char *
lifecycle_rollout_phase_name(enum lifecycle_rollout_phase ph)
{
	return (unsigned)ph < ROLLOUT__LAST ? phase_names[ph] : "?";
}

static const char *const traffic_names[TRAFFIC__LAST] = {
	[TRAFFIC_ALL] = "all",
	[TRAFFIC_SPLIT] = "split",
	[TRAFFIC_ACTIVE] = "active",
};

const char *
lifecycle_traffic_mode_name(enum lifecycle_traffic_mode m)
{
	return (unsigned)m < TRAFFIC__LAST ? traffic_names[m] : "?";
}

void
plan_wake(struct lifecycle_plan *p, int64_t at)
{
	if (at > 0 && (p->wake_at == 0 || at < p->wake_at))
		p->wake_at = at;
}

int
plan_push(struct lifecycle_plan *p, const struct lifecycle_action *a)
{
	if (p->nactions == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct lifecycle_action *v = realloc(p->actions, cap * sizeof(*v));

		if (v == NULL)
			return orch_err_set(ORCH_ERROR, "out of memory");
		p->actions = v;
		p->cap = cap;
	}
	p->actions[p->nactions++] = *a;
	return 0;
}

void
lifecycle_memo_clear(struct lifecycle_memo *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nalerts; i++)
		free(m->alerts[i]);
	free(m->alerts);
	free(m->pets);
	memset(m, 0, sizeof(*m));
}

int
lifecycle_memo_copy(struct lifecycle_memo *dst, const struct lifecycle_memo *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src == NULL)
		return 0;
	dst->settled = src->settled;
	dst->next_id = src->next_id;
	dst->rollout_since = src->rollout_since;
	memcpy(dst->rollout_fp, src->rollout_fp, sizeof(dst->rollout_fp));
	dst->rollout_fp[sizeof(dst->rollout_fp) - 1] = '\0';
	dst->rollout_step = src->rollout_step;
	dst->rollout_step_at = src->rollout_step_at;
	dst->rollout_promoted = src->rollout_promoted;
	dst->rollout_switched_at = src->rollout_switched_at;
	memcpy(dst->rollout_stable_fp, src->rollout_stable_fp,
	    sizeof(dst->rollout_stable_fp));
	dst->rollout_stable_fp[LIFECYCLE_FP_LEN - 1] = '\0';
	memcpy(dst->rollout_failed_fp, src->rollout_failed_fp,
	    sizeof(dst->rollout_failed_fp));
	dst->rollout_failed_fp[LIFECYCLE_FP_LEN - 1] = '\0';
	memcpy(dst->rollout_failed_why, src->rollout_failed_why,
	    sizeof(dst->rollout_failed_why));
	dst->rollout_failed_why[sizeof(dst->rollout_failed_why) - 1] = '\0';
	memcpy(dst->rollout_aborted_fp, src->rollout_aborted_fp,
	    sizeof(dst->rollout_aborted_fp));
	dst->rollout_aborted_fp[LIFECYCLE_FP_LEN - 1] = '\0';
	for (size_t i = 0; i < src->npets; i++)
		if (memo_set_pet_home(dst, src->pets[i].ordinal, src->pets[i].node) < 0)
			goto on_error;
	for (size_t i = 0; i < src->nalerts; i++)
		if (memo_add_alert(dst, src->alerts[i]) < 0)
			goto on_error;
	return 0;
on_error:
	lifecycle_memo_clear(dst);
	return ORCH_ERROR;
}

int
memo_add_alert(struct lifecycle_memo *m, const char *key)
{
	char **v;
	char *s;

	if (memo_has_alert(m, key))
		return 0;
	if ((s = strdup(key)) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if ((v = realloc(m->alerts, (m->nalerts + 1) * sizeof(*v))) == NULL) {
		free(s);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	m->alerts = v;
	m->alerts[m->nalerts++] = s;
	return 0;
}

bool
memo_has_alert(const struct lifecycle_memo *m, const char *key)
{
	for (size_t i = 0; m != NULL && i < m->nalerts; i++)
		if (strcmp(m->alerts[i], key) == 0)
			return true;
	return false;
}

const char *
memo_pet_home(const struct lifecycle_memo *m, int ordinal)
{
	for (size_t i = 0; m != NULL && i < m->npets; i++)
		if (m->pets[i].ordinal == ordinal)
			return m->pets[i].node;
	return NULL;
}

/* Homes stay sorted by ordinal so two equal memos compare equal. */
int
memo_set_pet_home(struct lifecycle_memo *m, int ordinal, const char *node)
{
	struct lifecycle_pet_home *v;
	size_t at = 0;

	while (at < m->npets && m->pets[at].ordinal < ordinal)
		at++;
	if (at < m->npets && m->pets[at].ordinal == ordinal) {
		snprintf(m->pets[at].node, sizeof(m->pets[at].node), "%s", node);
		return 0;
	}
	if ((v = realloc(m->pets, (m->npets + 1) * sizeof(*v))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	m->pets = v;
	memmove(&v[at + 1], &v[at], (m->npets - at) * sizeof(*v));
	v[at].ordinal = ordinal;
	snprintf(v[at].node, sizeof(v[at].node), "%s", node);
	m->npets++;
	return 0;
}

void
lifecycle_plan_free(struct lifecycle_plan *p)
{
	if (p == NULL)
		return;
	free(p->actions);
	lifecycle_memo_clear(&p->memo);
	free(p);
}

/* Append to a growing string; on ENOMEM the string is dropped. */
static void
sappend(char **s, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void
sappend(char **s, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *n;
	int k;

	if (*s == NULL)
		return;
	va_start(ap, fmt);
	k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0 || (n = realloc(*s, *len + (size_t)k + 1)) == NULL) {
		free(*s);
		*s = NULL;
		return;
	}
	*s = n;
	va_start(ap, fmt);
	vsnprintf(*s + *len, (size_t)k + 1, fmt, ap);
	va_end(ap);
	*len += (size_t)k;
}

char *
lifecycle_plan_format(const struct lifecycle_plan *p)
{
	char *s = calloc(1, 1);
	size_t len = 0;

	for (size_t i = 0; i < p->nactions; i++) {
		const struct lifecycle_action *a = &p->actions[i];

		switch (a->type) {
		case LIFECYCLE_START:
			sappend(&s, &len, "start %s on %s (%s)", a->id, a->node,
			    a->spec && a->spec->version ? a->spec->version : a->fingerprint);
			break;
		case LIFECYCLE_STOP:
		case LIFECYCLE_MARK_FAILED:
			sappend(&s, &len, "%s %s on %s", lifecycle_action_name(a->type),
			    a->id, a->node);
			break;
		case LIFECYCLE_ALERT:
			sappend(&s, &len, "alert %s", a->key);
			break;
		case LIFECYCLE_SET_STATE:
			sappend(&s, &len, "set-state %s%s%s",
			    lifecycle_service_state_name(a->state),
			    a->detail ? " " : "", lifecycle_scale_detail_name(a->detail));
			break;
		default:
			sappend(&s, &len, "?");
			break;
		}
		sappend(&s, &len, "%s%s\n", a->reason[0] ? ": " : "", a->reason);
	}
	if (s == NULL)
		orch_err_set(ORCH_ERROR, "out of memory");
	return s;
}

/* ---- fingerprint ---------------------------------------------------- */

/* FNV-1a, 64 bit: small, stable across hosts and releases, and enough to
 * tell two specs apart (it names a spec, it does not protect anything). */
struct fnv {
	uint64_t h;
};

static void
fnv_bytes(struct fnv *f, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		f->h ^= b[i];
		f->h *= 0x100000001b3ULL;
	}
}

/* Length-prefixed, so ("ab","c") and ("a","bc") differ; NULL differs
 * from "". */
static void
fnv_str(struct fnv *f, const char *s)
{
	uint64_t n = s ? (uint64_t)strlen(s) : UINT64_MAX;

	fnv_bytes(f, &n, sizeof(n));
	if (s != NULL)
		fnv_bytes(f, s, strlen(s));
}

static void
fnv_int(struct fnv *f, int64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	fnv_str(f, buf);
}

void
lifecycle_fingerprint(char out[LIFECYCLE_FP_LEN], const struct service_spec *s)
{
	struct fnv f = {0xcbf29ce484222325ULL};
	char buf[64];

	fnv_int(&f, s->kind);
	fnv_str(&f, s->version);
	fnv_int(&f, (int64_t)s->ncommand);
	for (size_t i = 0; i < s->ncommand; i++)
		fnv_str(&f, s->command[i]);
	fnv_int(&f, (int64_t)s->nenv);
	for (size_t i = 0; i < s->nenv; i++) {
		fnv_str(&f, s->env[i].key);
		fnv_str(&f, s->env[i].value);
	}
	fnv_str(&f, s->artifact.url);
	fnv_str(&f, s->artifact.sha256);
	snprintf(buf, sizeof(buf), "%.9g", s->resources.cpu);
	fnv_str(&f, buf);
	fnv_int(&f, (int64_t)s->resources.memory);
	fnv_int(&f, s->limits.nofile);
	fnv_int(&f, s->limits.nproc);
	fnv_int(&f, s->limits.core);
	fnv_int(&f, s->limits.memlock);
	fnv_int(&f, s->limits.stack);
	fnv_int(&f, s->limits.fsize);
	fnv_str(&f, s->workdir);
	fnv_str(&f, s->user);
	fnv_str(&f, s->group);
	fnv_int(&f, (int64_t)s->nports);
	for (size_t i = 0; i < s->nports; i++)
		fnv_str(&f, s->ports[i]);
	snprintf(out, LIFECYCLE_FP_LEN, "%016" PRIx64, f.h);
}
