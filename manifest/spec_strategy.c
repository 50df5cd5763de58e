/*
 * spec_strategy.c - `strategy:` of a service: how a change that needs new
 * instances is rolled out (rolling, recreate, blue-green, canary), with
 * the pet rules (in place only, never two at once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* "1" or "25%". */
static int
read_count_or_pct(struct vctx *v, struct count_or_pct *out,
    const struct mnode *n, const char *path)
{
	int64_t x;

	if (n->type == MNODE_SCALAR && !mnode_is_null(n)) {
		size_t len = strlen(n->str);
		if (len >= 2 && n->str[len - 1] == '%' &&
		    strspn(n->str, "0123456789") == len - 1 && len <= 4) {
			x = atoi(n->str);
			if (x > 100) {
				spec_err(v, n->pos, path, "percentage must be "
				    "0%%..100%%, got %s", n->str);
				return -1;
			}
			*out = (struct count_or_pct){ (int)x, true };
			return 0;
		}
		if (n->plain && strspn(n->str, "0123456789") == len && len > 0) {
			if (spec_int(v, &x, n, path, 0, MANIFEST_MAX_REPLICAS))
				return -1;
			*out = (struct count_or_pct){ (int)x, false };
			return 0;
		}
	}
	spec_err(v, n->pos, path, "expected a count such as 1 or a "
	    "percentage such as \"25%%\", got %s%s%s%s", mnode_kind(n),
	    n->type == MNODE_SCALAR ? " '" : "",
	    n->type == MNODE_SCALAR ? n->str : "",
	    n->type == MNODE_SCALAR ? "'" : "");
	return -1;
}

static void
read_steps(struct vctx *v, struct strategy_spec *st, const struct mnode *n,
    const char *path)
{
	static const char *const keys[] = { "weight", "pause", NULL };
	char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
	int prev = 0;

	if (n->type != MNODE_SEQ) {
		spec_err(v, n->pos, path, "expected a list of {weight, pause} "
		    "steps, got %s", mnode_kind(n));
		return;
	}
	if (n->nitems == 0) {
		spec_err(v, n->pos, path, "a canary needs at least one step");
		return;
	}
	st->steps = spec_calloc(n->nitems, sizeof(*st->steps));
	for (size_t i = 0; i < n->nitems; i++) {
		const struct mnode *it = n->items[i], *f;
		struct canary_step step = { 0, -1 };
		int64_t x;

		spec_path_idx(p, path, i);
		if (spec_expect_map(v, it, p))
			continue;
		spec_check_keys(v, it, p, keys, false);
		if ((f = SPEC_FIELD(it, "weight", fp, p)) == NULL) {
			spec_err(v, it->pos, spec_path(fp, p, "weight"),
			    "missing required key 'weight' (1..100)");
		} else if (spec_int(v, &x, f, fp, 1, 100) == 0) {
			step.weight = (int)x;
			if (step.weight <= prev)
				spec_err(v, f->pos, fp, "weight %d does not rise "
				    "above the previous step's %d (weights rise "
				    "strictly, up to 100)", step.weight, prev);
			prev = step.weight;
		}
		if ((f = SPEC_FIELD(it, "pause", fp, p)) != NULL)
			spec_duration(v, &step.pause_ms, f, fp, 0);
		st->steps[st->nsteps++] = step;
	}
}

/* type: one of the strategy names. false when it is none of them. */
static bool
read_type(struct vctx *v, struct strategy_spec *st, const struct mnode *t,
    const char *fp)
{
	for (int i = 0; i < STRATEGY__LAST && t->type == MNODE_SCALAR; i++) {
		if (strcmp(t->str, manifest_strategy_name(i)) == 0) {
			st->type = (enum strategy_type)i;
			return true;
		}
	}
	spec_err(v, t->pos, fp, "strategy type must be rolling, recreate, blue-green "
	    "or canary, got %s%s%s", t->type == MNODE_SCALAR ? "'" : "",
	    t->type == MNODE_SCALAR ? t->str : mnode_kind(t),
	    t->type == MNODE_SCALAR ? "'" : "");
	return false;
}

/* Fields of one strategy type given with another: each an error. */
static void
check_fields_for_type(struct vctx *v, const struct mnode *n, const char *p,
    enum strategy_type type)
{
	static const struct {
		const char *field;
		enum strategy_type only;
	} owned[] = {
		{"max_surge", STRATEGY_ROLLING},
		{"max_unavailable", STRATEGY_ROLLING},
		{"min_ready", STRATEGY_ROLLING},
		{"auto_promote", STRATEGY_BLUE_GREEN},
		{"scale_down_delay", STRATEGY_BLUE_GREEN},
		{"steps", STRATEGY_CANARY},
	};
	char want[64];

	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		snprintf(want, sizeof(want), "strategy type %s",
		    manifest_strategy_name(owned[i].only));
		spec_not_for_type(v, n, p, owned[i].field, type == owned[i].only, want,
		    manifest_strategy_name(type));
	}
}

static void
read_rolling(struct vctx *v, struct service_spec *s, const struct mnode *n,
    const char *p)
{
	struct strategy_spec *st = &s->strategy;
	char fp[SPEC_PATH_MAX];
	const struct mnode *surge = SPEC_FIELD(n, "max_surge", fp, p);
	const struct mnode *unav, *f;

	if (surge != NULL && read_count_or_pct(v, &st->max_surge, surge, fp) == 0 &&
	    s->kind == KIND_PET && st->max_surge.value != 0)
		spec_err(v, surge->pos, fp, "must be 0 for a pet: a pet is updated "
		    "in place, never run twice");
	if ((unav = SPEC_FIELD(n, "max_unavailable", fp, p)) != NULL)
		read_count_or_pct(v, &st->max_unavailable, unav, fp);
	if (st->max_surge.value == 0 && st->max_unavailable.value == 0) {
		const struct mnode *at = unav ? unav : surge;

		spec_err(v, at->pos, spec_path(fp, p, unav ? "max_unavailable" :
		    "max_surge"), "max_surge and max_unavailable cannot both be 0: "
		    "the rollout could never make progress");
	}
	if ((f = SPEC_FIELD(n, "min_ready", fp, p)) != NULL)
		spec_duration(v, &st->min_ready_ms, f, fp, 0);
}

static void
read_bluegreen(struct vctx *v, struct strategy_spec *st, const struct mnode *n,
    const char *p)
{
	char fp[SPEC_PATH_MAX];
	const struct mnode *f;

	if ((f = SPEC_FIELD(n, "auto_promote", fp, p)) != NULL) {
		if (f->type == MNODE_SCALAR && f->plain && strcmp(f->str, "false") == 0)
			st->auto_promote_ms = -1;
		else if (f->type == MNODE_SCALAR && f->plain && strcmp(f->str, "true") == 0)
			spec_err(v, f->pos, fp, "expected a duration or false (wait "
			    "for `orchctl promote`), got true");
		else
			spec_duration(v, &st->auto_promote_ms, f, fp, 0);
	}
	if ((f = SPEC_FIELD(n, "scale_down_delay", fp, p)) != NULL)
		spec_duration(v, &st->scale_down_delay_ms, f, fp, 0);
}

void
spec_strategy(struct vctx *v, struct service_spec *s, const struct mnode *svc,
    const char *path)
{
	static const char *const keys[] = {
		"type", "max_surge", "max_unavailable", "min_ready",
		"auto_promote", "scale_down_delay", "steps", "auto_rollback",
		"progress_deadline", NULL,
	};
	char p[SPEC_PATH_MAX], fp[SPEC_PATH_MAX];
	const struct mnode *n = SPEC_FIELD(svc, "strategy", p, path), *f, *t;
	struct strategy_spec *st = &s->strategy;
	bool typed = true;

	/* Pets update in place: one down at a time, never a second copy. */
	if (s->kind == KIND_PET) {
		st->max_surge = (struct count_or_pct){ 0, false };
		st->max_unavailable = (struct count_or_pct){ 1, false };
	}
	if (n == NULL || spec_expect_map(v, n, p))
		return;
	spec_check_keys(v, n, p, keys, false);
	if ((t = SPEC_FIELD(n, "type", fp, p)) != NULL)
		typed = read_type(v, st, t, fp);
	if ((f = SPEC_FIELD(n, "auto_rollback", fp, p)) != NULL)
		spec_bool(v, &st->auto_rollback, f, fp);
	if ((f = SPEC_FIELD(n, "progress_deadline", fp, p)) != NULL)
		spec_duration(v, &st->progress_deadline_ms, f, fp, 1);
	if (!typed)
		return;
	if (s->kind == KIND_PET && st->type != STRATEGY_ROLLING &&
	    st->type != STRATEGY_RECREATE)
		spec_err(v, t->pos, spec_path(fp, p, "type"), "a pet cannot use "
		    "the %s strategy: pets are updated in place (use rolling "
		    "or recreate)", manifest_strategy_name(st->type));
	check_fields_for_type(v, n, p, st->type);
	switch (st->type) {
	case STRATEGY_ROLLING:
		read_rolling(v, s, n, p);
		break;
	case STRATEGY_BLUE_GREEN:
		read_bluegreen(v, st, n, p);
		break;
	case STRATEGY_CANARY:
		if ((f = SPEC_FIELD(n, "steps", fp, p)) != NULL)
			read_steps(v, st, f, fp);
		else
			spec_err(v, t->pos, spec_path(fp, p, "steps"), "a canary "
			    "needs 'steps' (at least one {weight, pause})");
		break;
	case STRATEGY_RECREATE:
	case STRATEGY__LAST:
		break;
	}
}
