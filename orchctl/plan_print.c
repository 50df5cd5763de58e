/*
 * plan_print.c - print a plan (what applying a manifest does to each
 * service) from its JSON form, in the same lines `orchctl diff` prints:
 *
 *   + web (added) 1.3.0 x4
 *   ~ api 1.2.0 -> 1.3.0, replicas 2 -> 3 (rollout: version; in place: replicas)
 *   ~ worker replicas 2 -> 4 (in place: replicas)
 *   - old (removed) 0.9.0 x1
 *
 *   Plan: 1 to add, 1 to roll out, 1 to change in place, 1 to remove.
 *
 * The controller's plan may also hold back a service ("held": it stays
 * at what runs, since the manifest asks for a version whose rollout
 * failed) or retry one ("retry": true); both come with its "note":
 *
 *   = web stays at 1.3.0: this would roll it out again to 1.4.0, a version
 *     whose rollout failed (...); not retried unless asked (...)
 *   ! web 1.4.0 failed its rollout before (...); rolling it out again
 *
 * Working from JSON lets `orchctl apply` print the plan the controller
 * computed with the same code that could print diff's (cmd_diff.c builds
 * exactly this JSON for -o json and could pass it here).
 */
#include <stdio.h>
#include <string.h>

#include "orchctl.h"

static const char *
str_or(const char *s, const char *dflt)
{
	return s && s[0] ? s : dflt;
}

/* The DIFF_F_* bit of a field name; 0 for a name this orchctl does not
 * know (it then counts as in place, the harmless guess). */
static unsigned
field_bit(const char *name)
{
	for (unsigned bit = 1; bit < DIFF_F__LAST; bit <<= 1)
		if (strcmp(manifest_diff_field_name(bit), name) == 0)
			return bit;
	return 0;
}

/* "version, env" from a JSON array of field names, those whose bit is in
 * mask (unknown names count as in place: outside DIFF_ROLLOUT_FIELDS). */
static void
field_list(char *buf, size_t len, const json_t *fields, unsigned mask)
{
	size_t i, off = 0;
	json_t *f;

	buf[0] = '\0';
	json_array_foreach(fields, i, f) {
		unsigned bit;
		int n;

		if (!json_is_string(f))
			continue;
		bit = field_bit(json_string_value(f));
		if (mask != ~0u && !(bit ? (bit & mask) :
		    !(mask & DIFF_ROLLOUT_FIELDS)))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
		    json_string_value(f));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

static bool
has_field(const json_t *fields, const char *name)
{
	size_t i;
	json_t *f;

	json_array_foreach(fields, i, f)
		if (json_is_string(f) && strcmp(json_string_value(f), name) == 0)
			return true;
	return false;
}

static long long
int_or(const json_t *o, const char *key, long long dflt)
{
	long long v;

	return jget_int(&v, o, key) ? v : dflt;
}

struct counts {
	size_t add, rollout, inplace, remove, held;
};

static void
print_service(FILE *f, const json_t *sv, int verbose, struct counts *pc)
{
	const char *name = str_or(jget_str(sv, "name"), "?");
	const char *action = str_or(jget_str(sv, "action"), "");
	const char *ov = str_or(jget_str(sv, "old_version"), "-");
	const char *nv = str_or(jget_str(sv, "new_version"), "-");
	const json_t *fields = json_object_get(sv, "fields");
	long long orep = int_or(sv, "old_replicas", 0);
	long long nrep = int_or(sv, "new_replicas", 0);
	char rollout[512], inplace[512];
	bool replicas;

	if (json_is_array(json_object_get(sv, "rollout_fields"))) {
		field_list(rollout, sizeof(rollout),
		    json_object_get(sv, "rollout_fields"), ~0u);
		field_list(inplace, sizeof(inplace),
		    json_object_get(sv, "in_place_fields"), ~0u);
	} else {
		/* Only "fields" (the controller's plan): split them the way
		 * the manifest library classifies each field. */
		field_list(rollout, sizeof(rollout), fields,
		    DIFF_ROLLOUT_FIELDS);
		field_list(inplace, sizeof(inplace), fields,
		    ~DIFF_ROLLOUT_FIELDS);
	}
	replicas = has_field(fields, "replicas") || orep != nrep;
	if (strcmp(action, "held") == 0) {
		/* The controller keeps it at what runs: the manifest asks for
		 * a version whose rollout failed (issue 10 #9). */
		pc->held++;
		fprintf(f, "= %s %s\n", name, str_or(jget_str(sv, "note"),
		    "held back"));
		return;
	}
	if (json_is_true(json_object_get(sv, "retry")))
		fprintf(f, "! %s %s\n", name, str_or(jget_str(sv, "note"),
		    "rolls out a version that failed before"));
	if (strcmp(action, "added") == 0) {
		pc->add++;
		fprintf(f, "+ %s (added) %s x%lld\n", name, nv, nrep);
	} else if (strcmp(action, "removed") == 0) {
		pc->remove++;
		fprintf(f, "- %s (removed) %s x%lld\n", name, ov, orep);
	} else if (strcmp(action, "changed") == 0) {
		pc->rollout++;
		fprintf(f, "~ %s ", name);
		if (strcmp(ov, nv) != 0)
			fprintf(f, "%s -> %s", ov, nv);
		else
			fprintf(f, "%s", nv);
		if (replicas)
			fprintf(f, ", replicas %lld -> %lld", orep, nrep);
		fprintf(f, " (rollout: %s", rollout[0] ? rollout : "-");
		if (inplace[0])
			fprintf(f, "; in place: %s", inplace);
		fprintf(f, ")\n");
	} else if (strcmp(action, "in-place") == 0 ||
	    strcmp(action, "inplace") == 0 || strcmp(action, "in_place") == 0) {
		pc->inplace++;
		fprintf(f, "~ %s ", name);
		if (replicas)
			fprintf(f, "replicas %lld -> %lld", orep, nrep);
		else
			fprintf(f, "%s", nv);
		fprintf(f, " (in place: %s)\n", inplace[0] ? inplace : "-");
	} else if (strcmp(action, "unchanged") == 0) {
		if (verbose > 0)
			fprintf(f, "  %s (unchanged) %s x%lld\n", name, nv, nrep);
	} else {
		/* An action this orchctl does not know: still say it. */
		fprintf(f, "? %s (%s) %s\n", name, str_or(action, "?"), nv);
	}
}

bool
plan_print(FILE *f, const json_t *plan, int verbose)
{
	const json_t *svs = json_object_get(plan, "services");
	const json_t *from = json_object_get(plan, "from");
	const json_t *to = json_object_get(plan, "to");
	struct counts pc = {0, 0, 0, 0, 0};
	size_t i;
	json_t *sv;

	if (!json_is_array(svs))
		return false;
	if (jget_str(from, "label") && jget_str(to, "label"))
		fprintf(f, "%s -> %s\n", jget_str(from, "label"),
		    jget_str(to, "label"));
	/* Only with both sides named: the controller's first apply changes
	 * the architecture from nothing, which says nothing. */
	if (json_is_true(json_object_get(plan, "architecture_changed")) &&
	    jget_str(from, "architecture") && jget_str(to, "architecture")) {
		const char *aa = str_or(jget_str(from, "architecture"), "-");
		const char *ba = str_or(jget_str(to, "architecture"), "-");
		const char *av = str_or(jget_str(from, "version"), "");
		const char *bv = str_or(jget_str(to, "version"), "");

		fprintf(f, "~ architecture %s%s%s -> ", aa, av[0] ? " " : "", av);
		if (strcmp(aa, ba) == 0)
			fprintf(f, "%s\n", str_or(bv, "-"));
		else
			fprintf(f, "%s%s%s\n", ba, bv[0] ? " " : "", bv);
	}
	json_array_foreach(svs, i, sv)
		print_service(f, sv, verbose, &pc);
	if (pc.add + pc.rollout + pc.inplace + pc.remove + pc.held == 0 &&
	    !json_is_true(json_object_get(plan, "architecture_changed")))
		fprintf(f, "No changes: both describe the same cluster.\n");
	fprintf(f, "\nPlan: %zu to add, %zu to roll out, %zu to change in "
	    "place, %zu to remove.\n", pc.add, pc.rollout, pc.inplace,
	    pc.remove);
	if (pc.held > 0)
		fprintf(f, "Held back: %zu service%s at the version that runs, "
		    "not rolled out again to a version that failed (apply "
		    "--retry-failed does).\n", pc.held, pc.held == 1 ? "" : "s");
	return true;
}
