/* chaos_events.c - the chaos engine's audit of the event log, see chaos.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaos.h"
#include "units.h"

#define jstr chaos_jstr

/* ---- the event log ---- */

/* Every event so far, oldest first, or NULL. */
static json_t *
all_events(struct chaos *ch)
{
	json_t *all = json_array();
	long long since = 0;

	for (;;) {
		char path[128];
		json_t *j, *list;
		size_t n;

		snprintf(path, sizeof(path), "/v1/events?since=%lld&limit=1000", since);
		if ((j = cluster_get(ch->cl, path)) == NULL) {
			json_decref(all);
			return NULL;
		}
		list = json_object_get(j, "events");
		n = json_array_size(list);
		json_array_extend(all, list);
		if (n > 0)
			since = json_integer_value(json_object_get(json_array_get(list, n - 1),
			    "seq"));
		json_decref(j);
		if (n < 1000)
			return all;
	}
}

static bool
is_null_or_missing(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return v == NULL || json_is_null(v);
}

static int64_t
ival(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

/* The record's removal: Destroy -> Destroy, cause "removed". */
static bool
is_removal(const json_t *e)
{
	return strcmp(jstr(e, "from"), "Destroy") == 0 && strcmp(jstr(e, "to"), "Destroy") == 0 &&
	    strcmp(jstr(e, "cause"), "removed") == 0;
}

/* A crash loop's summary, "restarted N times in the last D (...); M
 * instance events coalesced" (docs/lifecycle.md, Crash loops): M, else 0. */
static int
summary_count(const json_t *e)
{
	const char *c = jstr(e, "cause"), *p;

	if (!is_null_or_missing(e, "instance") || !is_null_or_missing(e, "to") ||
	    (p = strstr(c, " instance events coalesced")) == NULL)
		return 0;
	while (p > c && isdigit((unsigned char)p[-1]))
		p--;
	return atoi(p);
}

/*
 * Whether events of service's instances between wall times after and
 * before may have been coalesced rather than recorded: while a service
 * crash-loops, its instance events are counted, and a summary event says
 * how many, for the period since the service's previous summary. So:
 * a summary of the service at or after `after` whose period began at or
 * before `before`.
 */
static bool
coalesced(json_t *events, const char *service, int64_t after, int64_t before)
{
	int64_t prev = 0;
	json_t *e;
	size_t k;

	json_array_foreach(events, k, e) {
		int64_t t;

		if (strcmp(jstr(e, "service"), service) != 0 || summary_count(e) == 0)
			continue;
		t = ival(e, "time");
		if (t >= after && prev <= before)
			return true;
		prev = t;
	}
	return false;
}

/* What one check of the log found. */
struct audit {
	struct chaos *ch;
	json_t *events;
	bool verbose;        /* print each problem */
	int problems;
	int gaps[CHAOS_MAX_SVCS];    /* missing events, by service */
};

static void
problem(struct audit *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct audit *a, const char *fmt, ...)
{
	va_list ap;

	a->problems++;
	if (!a->verbose)
		return;
	va_start(ap, fmt);
	printf("# chaos: event log: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static int
svc_index(struct chaos *ch, const char *name)
{
	for (size_t k = 0; k < ch->o.nsvcs; k++)
		if (strcmp(ch->o.svcs[k].name, name) == 0)
			return (int)k;
	return -1;
}

/*
 * Each instance's events form one chain: the first creates the record
 * (from null), each later one starts from the state the previous one
 * reached, a pet's id is created again only after its removal, and a
 * cattle id has nothing after its removal (ids are never reused). A
 * break is a problem unless a crash loop's summary covers it.
 */
static void
audit_chains(struct audit *a)
{
	json_t *last = json_object(), *e;
	size_t k;

	json_array_foreach(a->events, k, e) {
		const char *id = json_string_value(json_object_get(e, "instance"));
		const char *svc = jstr(e, "service");
		int si = svc_index(a->ch, svc);
		json_t *prev;
		bool created = is_null_or_missing(e, "from"), ok;

		if (id == NULL)
			continue;
		prev = json_object_get(last, id);
		if (prev != NULL && is_removal(prev) && (si < 0 || !a->ch->o.svcs[si].pet)) {
			problem(a, "event %lld: %s %s -> %s after its removal (event %lld)",
			    (long long)ival(e, "seq"), id, jstr(e, "from"), jstr(e, "to"),
			    (long long)ival(prev, "seq"));
		} else {
			ok = prev == NULL ? created : created ? strcmp(jstr(prev, "to"), "Destroy") == 0 :
			    strcmp(jstr(prev, "to"), jstr(e, "from")) == 0;
			if (!ok && si >= 0)
				a->gaps[si]++;
			if (!ok && !coalesced(a->events, svc, prev ? ival(prev, "time") : 0,
			    ival(e, "time")))
				problem(a, "event %lld: %s %s -> %s after %s (event %lld), no crash "
				    "loop summary covers the gap", (long long)ival(e, "seq"), id,
				    created ? "null" : jstr(e, "from"), jstr(e, "to"),
				    prev ? jstr(prev, "to") : "nothing",
				    prev ? (long long)ival(prev, "seq") : 0);
		}
		json_object_set(last, id, e);
	}
	json_decref(last);
}

/* Each service's gaps are at most the events its summaries counted. */
static void
audit_counts(struct audit *a)
{
	for (size_t s = 0; s < a->ch->o.nsvcs; s++) {
		int counted = 0;
		json_t *e;
		size_t k;

		json_array_foreach(a->events, k, e)
			if (strcmp(jstr(e, "service"), a->ch->o.svcs[s].name) == 0)
				counted += summary_count(e);
		if (a->gaps[s] > counted)
			problem(a, "%s: %d gaps in its instances' chains, %d events coalesced",
			    a->ch->o.svcs[s].name, a->gaps[s], counted);
	}
}

/* The last event of instance id (NULL: none). */
static json_t *
last_of(json_t *events, const char *id)
{
	json_t *e, *found = NULL;
	size_t k;

	json_array_foreach(events, k, e)
		if (strcmp(jstr(e, "instance"), id) == 0)
			found = e;
	return found;
}

/* Every instance Run at the end got there through its events. */
static void
audit_run(struct audit *a, int64_t now)
{
	json_t *j = cluster_get(a->ch->cl, "/v1/instances"), *i;
	size_t k;

	if (j == NULL) {
		problem(a, "no answer to /v1/instances");
		return;
	}
	json_array_foreach(json_object_get(j, "instances"), k, i) {
		json_t *e = last_of(a->events, jstr(i, "id"));

		if ((e == NULL || strcmp(jstr(e, "to"), "Run") != 0) &&
		    !coalesced(a->events, jstr(i, "service"), e ? ival(e, "time") : 0, now))
			problem(a, "%s is %s, its last event (%lld) says %s", jstr(i, "id"),
			    jstr(i, "state"), e ? (long long)ival(e, "seq") : 0,
			    e ? jstr(e, "to") : "nothing");
	}
	json_decref(j);
}

/* Whether slave node was killed after wall time `after`. */
static bool
slave_killed_after(struct chaos *ch, const char *node, int64_t after)
{
	for (size_t k = 0; k < ch->nlog; k++)
		if (ch->log[k].kind == CHAOS_SLAVE && strcmp(ch->log[k].node, node) == 0 &&
		    ch->log[k].at > after)
			return true;
	return false;
}

/* The first event at or after wall time t matching what: its seq and
 * time into *seq and *at (0 when none). */
enum wanted { W_EXIT, W_RUN, W_REMOVED, W_CREATED };

static void
find_event(json_t *events, const struct chaos_kill *kl, enum wanted what, int64_t t,
    int64_t *seq, int64_t *at)
{
	json_t *e;
	size_t k;

	*seq = *at = 0;
	json_array_foreach(events, k, e) {
		bool mine = strcmp(jstr(e, "instance"), kl->id) == 0, hit = false;

		if (ival(e, "time") < t)
			continue;
		switch (what) {
		case W_EXIT:
			hit = mine && strcmp(jstr(e, "to"), "Run") != 0;
			break;
		case W_RUN:
			hit = mine && strcmp(jstr(e, "to"), "Run") == 0;
			break;
		case W_REMOVED:
			hit = mine && strcmp(jstr(e, "to"), "Destroy") == 0;
			break;
		case W_CREATED:
			hit = !mine && strcmp(jstr(e, "service"), kl->service) == 0 &&
			    !is_null_or_missing(e, "instance") && is_null_or_missing(e, "from");
			break;
		}
		if (hit) {
			*seq = ival(e, "seq");
			*at = ival(e, "time");
			return;
		}
	}
}

/*
 * A killed instance has an event of its exit at or after the kill, then
 * a pet one back to Run, a cattle instance its removal and a new instance
 * of its service created. Each may be covered by a crash loop's summary;
 * a pet's exit may also have died with its slave: revived at once, the
 * event was still queued in the slave's memory when the slave was killed
 * (counted in events_lost, not a problem: the heartbeat list then shows
 * the same state, Run, and only restarts+1 says it).
 */
static void
audit_kills(struct audit *a, int64_t now)
{
	a->ch->events_lost = 0;
	for (size_t n = 0; n < a->ch->nlog; n++) {
		const struct chaos_kill *kl = &a->ch->log[n];
		int64_t exit_seq, exit_at, seq, at;

		if (kl->kind != CHAOS_INSTANCE)
			continue;
		find_event(a->events, kl, W_EXIT, kl->at, &exit_seq, &exit_at);
		if (exit_seq == 0 && coalesced(a->events, kl->service, kl->at, now))
			continue;
		if (exit_seq == 0 && kl->pet && slave_killed_after(a->ch, kl->node, kl->at)) {
			a->ch->events_lost++;
			continue;
		}
		if (exit_seq == 0) {
			problem(a, "%s killed (pid %d on %s at %lld): no event of its exit",
			    kl->id, (int)kl->pid, kl->node, (long long)kl->at);
			continue;
		}
		for (enum wanted w = W_RUN; w <= W_CREATED; w++) {
			if (kl->pet != (w == W_RUN))
				continue;
			find_event(a->events, kl, w, exit_at, &seq, &at);
			if (seq == 0 && !coalesced(a->events, kl->service, exit_at, now))
				problem(a, "%s killed (pid %d on %s at %lld), exit event %lld: no "
				    "event of its %s", kl->id, (int)kl->pid, kl->node,
				    (long long)kl->at, (long long)exit_seq,
				    w == W_RUN ? "revival" : w == W_REMOVED ? "removal" :
				    "replacement's creation");
		}
	}
}

static void
dump_events(json_t *events)
{
	json_t *e;
	size_t k;

	json_array_foreach(events, k, e) {
		char *s = json_dumps(e, JSON_COMPACT);

		printf("# event %s\n", s ? s : "");
		free(s);
	}
}

/* One check of the whole log; the problems found. */
static int
audit(struct chaos *ch, bool verbose)
{
	struct audit a = {.ch = ch, .verbose = verbose};
	int64_t now = orch_wall_ms();

	if ((a.events = all_events(ch)) == NULL)
		return -1;
	if (verbose && getenv("ORCH_CHAOS_DUMP_EVENTS") != NULL)
		dump_events(a.events);
	audit_chains(&a);
	audit_counts(&a);
	audit_run(&a, now);
	audit_kills(&a, now);
	json_decref(a.events);
	return a.problems;
}

/* A crash loop's summary comes when the loop ends (restart.window after
 * its last failure) or at the end of its minute: give it that long. */
#define CHAOS_SUMMARY_WAIT 70000

int
chaos_event_problems(struct chaos *ch)
{
	int64_t t0 = orch_mono_ms();

	while (audit(ch, false) != 0 && orch_mono_ms() - t0 < CHAOS_SUMMARY_WAIT)
		usleep(500 * 1000);
	return audit(ch, true);
}

