/* chaos.c - kill -9 chaos on a cluster during rollouts, see chaos.h. */
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"
#include "err.h"
#include "procfs.h"
#include "procs.h"
#include "units.h"

#define CHAOS_POLL_MS 250
#define CHAOS_MAX_PETS (sizeof(((struct chaos *)0)->ss) / sizeof(struct procs_sampler *))

static void stop_samplers(struct chaos *ch);

static const char *const kind_names[CHAOS_NKINDS] = {"instance", "slave", "controller"};

/* splitmix64: small, good enough, and the same on every host. */
static uint64_t
rnd(struct chaos *ch)
{
	uint64_t z = (ch->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in lo..hi (inclusive). */
static int64_t
rnd_range(struct chaos *ch, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rnd(ch) % (uint64_t)(hi - lo + 1));
}

int
chaos_new(struct chaos **out, struct cluster *cl, const struct chaos_opts *o)
{
	struct chaos *ch = calloc(1, sizeof(*ch));
	const char *env = getenv("ORCH_CHAOS_SEED");

	*out = NULL;
	if (ch == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	ch->cl = cl;
	ch->o = *o;
	if (env != NULL && *env != '\0')
		ch->seed = strtoull(env, NULL, 0);
	else
		ch->seed = (uint64_t)orch_wall_ms() * 1000003ULL ^ (uint64_t)getpid();
	ch->rng = ch->seed;
	printf("# chaos: seed %" PRIu64 " (replay: ORCH_CHAOS_SEED=%" PRIu64 ")\n", ch->seed,
	    ch->seed);
	fflush(stdout);
	*out = ch;
	return 0;
}

void
chaos_free(struct chaos *ch)
{
	if (ch == NULL)
		return;
	stop_samplers(ch);
	free(ch->log);
	free(ch);
}

/* ---- the manifest ---- */

const char *
chaos_manifest(struct chaos *ch, int version)
{
	static char buf[8192];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "architecture: chaos\nservices:\n");
	for (size_t k = 0; k < ch->o.nsvcs && n < sizeof(buf); k++) {
		const struct chaos_service *s = &ch->o.svcs[k];

		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		    "  %s:\n"
		    "    kind: %s\n"
		    "    version: \"%d.0.0\"\n"
		    "    replicas: %d\n"
		    "    ports: [p]\n"
		    "    restart: {limit: 100000, window: 5s, backoff: 50ms, max_backoff: 400ms}\n"
		    "    stop: {signal: TERM, timeout: 2s}\n",
		    s->name, s->pet ? "pet" : "cattle", version, s->replicas);
		if (s->pet)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--data\","
			    " \"${ORCH_DATA_DIR}\"]\n"
			    "    health: {type: tcp, interval: 200ms, timeout: 200ms,"
			    " unhealthy_threshold: 20}\n"
			    "    strategy: {type: rolling, max_surge: 0, max_unavailable: 1}\n",
			    cluster_app("kv"));
		else
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
			    "    health: {type: http, path: /healthz, interval: 200ms,"
			    " timeout: 200ms, unhealthy_threshold: 20}\n"
			    "    strategy: {type: rolling, max_surge: 1, max_unavailable: 0,"
			    " min_ready: 300ms}\n",
			    cluster_app("httpapp"));
	}
	return buf;
}

/* Apply the head commit when one is pending and the controller runs. */
static void
try_apply(struct chaos *ch)
{
	json_t *j;
	long st = 0;
	char *body;

	if (!ch->apply_pending || ch->cl->ctl == NULL || !daemon_running(ch->cl->ctl))
		return;
	j = cluster_call(ch->cl, &st, "POST", "/v1/apply", "{}");
	if (st == 200) {
		ch->apply_pending = false;
		if (ch->version > 1)
			ch->rollouts++;
		printf("# chaos: applied %d.0.0\n", ch->version);
	} else if (st != 0 && st < 500) {
		/* Not a lost answer: a refusal, which no chaos explains. */
		body = j ? json_dumps(j, JSON_COMPACT) : NULL;
		printf("# chaos: apply of %d.0.0 answered %ld: %s\n", ch->version, st,
		    body ? body : "");
		free(body);
		ch->apply_pending = false;
		ch->refused++;
	}
	json_decref(j);
}

static int
new_version(struct chaos *ch)
{
	int rc;

	ch->version++;
	if ((rc = cluster_commit(ch->cl, chaos_manifest(ch, ch->version), NULL)) < 0)
		return rc;
	ch->apply_pending = true;
	try_apply(ch);
	return 0;
}

int
chaos_deploy(struct chaos *ch)
{
	int rc;

	ch->version = 0;
	if ((rc = new_version(ch)) < 0)
		return rc;
	if (ch->refused > 0)
		return orch_err_set(ORCH_ERROR, "the first apply was refused");
	if (chaos_wait_converged(ch) < 0)
		return orch_err_set(ORCH_ERROR, "1.0.0 never converged");
	return 0;
}

/* ---- the kills ---- */

static struct chaos_kill *
log_kill(struct chaos *ch, enum chaos_kind kind)
{
	struct chaos_kill *k;

	if (ch->nlog == ch->caplog) {
		size_t cap = ch->caplog ? ch->caplog * 2 : 256;
		struct chaos_kill *p = realloc(ch->log, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		ch->log = p;
		ch->caplog = cap;
	}
	k = &ch->log[ch->nlog++];
	memset(k, 0, sizeof(*k));
	k->kind = kind;
	k->at = orch_wall_ms();
	ch->kills[kind]++;
	return k;
}

static size_t
slaves_up(struct chaos *ch)
{
	size_t n = 0;

	for (size_t i = 0; i < ch->cl->nslaves; i++)
		n += ch->down_until[i] == 0;
	return n;
}

/* The slave's instance list, or NULL. */
static json_t *
slave_list(struct cluster_slave *s)
{
	char url[256];
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s/v1/instances", s->url);
	http_json(&j, &st, "GET", url, CL_TOKEN, NULL);
	if (st != 200) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Whether pid is a copy of instance id of this cluster (never kill a
 * pid we cannot prove is ours: it may have been reused). */
static bool
is_ours(struct chaos *ch, const char *id, pid_t pid)
{
	pid_t pids[PROCS_MAX];
	size_t n = procs_copies(pids, PROCS_MAX, ch->cl->dir, id, NULL);

	for (size_t k = 0; k < n; k++)
		if (pids[k] == pid)
			return true;
	return false;
}

/* kill -9 a random instance process of a random running slave. */
static void
kill_instance(struct chaos *ch)
{
	size_t up = slaves_up(ch), pick, i;
	json_t *j, *list, *inst;
	struct chaos_kill *k;

	if (up == 0)
		return;
	pick = (size_t)rnd_range(ch, 0, (int64_t)up - 1);
	for (i = 0; i < ch->cl->nslaves; i++)
		if (ch->down_until[i] == 0 && pick-- == 0)
			break;
	if ((j = slave_list(&ch->cl->slaves[i])) == NULL)
		return;
	list = json_object_get(j, "instances");
	inst = json_array_size(list) ? json_array_get(list, (size_t)rnd_range(ch, 0,
	    (int64_t)json_array_size(list) - 1)) : NULL;
	if (inst != NULL) {
		const char *id = json_string_value(json_object_get(inst, "id"));
		const char *svc = json_string_value(json_object_get(inst, "service"));
		const char *kind = json_string_value(json_object_get(inst, "kind"));
		const char *state = json_string_value(json_object_get(inst, "state"));
		pid_t pid = (pid_t)json_integer_value(json_object_get(inst, "pid"));

		if (id && svc && pid > 0 && state && strcmp(state, "Destroy") != 0 &&
		    is_ours(ch, id, pid) && (k = log_kill(ch, CHAOS_INSTANCE)) != NULL) {
			snprintf(k->id, sizeof(k->id), "%s", id);
			snprintf(k->service, sizeof(k->service), "%s", svc);
			snprintf(k->node, sizeof(k->node), "%s", ch->cl->slaves[i].name);
			k->pet = kind && strcmp(kind, "pet") == 0;
			k->pid = pid;
			kill(pid, SIGKILL);
		}
	}
	json_decref(j);
}

static void
kill_slave(struct chaos *ch)
{
	size_t i = (size_t)rnd_range(ch, 0, (int64_t)ch->cl->nslaves - 1);
	struct chaos_kill *k;

	/* One slave always runs: a rollout can then always move. */
	if (ch->down_until[i] != 0 || slaves_up(ch) < 2 ||
	    (k = log_kill(ch, CHAOS_SLAVE)) == NULL)
		return;
	snprintf(k->node, sizeof(k->node), "%s", ch->cl->slaves[i].name);
	k->pid = ch->cl->slaves[i].d->pid;
	cluster_slave_stop(ch->cl, i, SIGKILL);
	ch->down_until[i] = orch_mono_ms() + rnd_range(ch, ch->o.down_min_ms, ch->o.down_max_ms);
}

static void
kill_controller(struct chaos *ch)
{
	struct chaos_kill *k;

	if (ch->ctl_down_until != 0 || (k = log_kill(ch, CHAOS_CONTROLLER)) == NULL)
		return;
	k->pid = ch->cl->ctl->pid;
	cluster_ctl_stop(ch->cl, SIGKILL);
	ch->ctl_down_until = orch_mono_ms() + rnd_range(ch, ch->o.down_min_ms,
	    ch->o.down_max_ms / 2);
}

static void
kill_one(struct chaos *ch)
{
	unsigned total = 0, r;
	int kind;

	for (kind = 0; kind < CHAOS_NKINDS; kind++)
		total += ch->o.weight[kind];
	if (total == 0)
		return;
	r = (unsigned)(rnd(ch) % total);
	for (kind = 0; kind < CHAOS_NKINDS - 1 && r >= ch->o.weight[kind]; kind++)
		r -= ch->o.weight[kind];
	/* The first kills of a run take each kind with a weight once, in a
	 * random order: a short run then always has all three. */
	if (ch->nlog < CHAOS_NKINDS && ch->o.weight[(ch->seed + ch->nlog) % CHAOS_NKINDS])
		kind = (int)((ch->seed + ch->nlog) % CHAOS_NKINDS);
	switch ((enum chaos_kind)kind) {
	case CHAOS_INSTANCE:
		kill_instance(ch);
		break;
	case CHAOS_SLAVE:
		kill_slave(ch);
		break;
	case CHAOS_CONTROLLER:
		kill_controller(ch);
		break;
	case CHAOS_NKINDS:
		break;
	}
}

/* Start again every daemon whose down time ended (all when force). */
static int
restart_due(struct chaos *ch, bool force)
{
	int64_t now = orch_mono_ms();
	int rc;

	for (size_t i = 0; i < ch->cl->nslaves; i++)
		if (ch->down_until[i] != 0 && (force || now >= ch->down_until[i])) {
			ch->down_until[i] = 0;
			if ((rc = cluster_slave_start(ch->cl, i)) < 0)
				return rc;
		}
	if (ch->ctl_down_until != 0 && (force || now >= ch->ctl_down_until)) {
		ch->ctl_down_until = 0;
		if ((rc = cluster_ctl_start(ch->cl)) < 0)
			return rc;
	}
	return 0;
}

/* ---- the run ---- */

static void
start_samplers(struct chaos *ch)
{
	char id[96];

	for (size_t k = 0; k < ch->o.nsvcs; k++) {
		if (!ch->o.svcs[k].pet)
			continue;
		for (int p = 0; p < ch->o.svcs[k].replicas && ch->nss < CHAOS_MAX_PETS; p++) {
			snprintf(id, sizeof(id), "%s-%d", ch->o.svcs[k].name, p);
			if (procs_sampler_start(&ch->ss[ch->nss], ch->cl->dir, id) == 0)
				ch->nss++;
		}
	}
}

static void
stop_samplers(struct chaos *ch)
{
	for (size_t k = 0; k < ch->nss; k++) {
		int most;

		ch->samples += procs_sampler_samples(ch->ss[k]);
		most = procs_sampler_stop(ch->ss[k]);
		if (most > ch->pet_most)
			ch->pet_most = most;
	}
	ch->nss = 0;
}

int
chaos_run(struct chaos *ch)
{
	int64_t t0 = orch_mono_ms(), end = t0 + ch->o.chaos_ms;
	int64_t next_kill = t0 + rnd_range(ch, ch->o.gap_min_ms, ch->o.gap_max_ms);
	int64_t next_rollout = t0 + ch->o.rollout_first_ms;
	int rc = 0;

	start_samplers(ch);
	while (rc == 0 && orch_mono_ms() < end) {
		int64_t now = orch_mono_ms();

		if ((rc = restart_due(ch, false)) < 0)
			break;
		try_apply(ch);
		if (now >= next_rollout) {
			rc = new_version(ch);
			next_rollout = ch->o.rollout_every_ms > 0 ?
			    now + ch->o.rollout_every_ms : INT64_MAX;
		}
		if (now >= next_kill) {
			kill_one(ch);
			next_kill = orch_mono_ms() + rnd_range(ch, ch->o.gap_min_ms,
			    ch->o.gap_max_ms);
		}
		usleep(20 * 1000);
	}
	if (rc == 0)
		rc = restart_due(ch, true);
	/* The last version is applied whatever the chaos did to its apply. */
	if (rc == 0 && !WAIT_FOR((try_apply(ch), !ch->apply_pending), CL_WAIT))
		rc = orch_err_set(ORCH_ERROR, "the apply of %d.0.0 was never answered",
		    ch->version);
	if (rc == 0 && ch->refused > 0)
		rc = orch_err_set(ORCH_ERROR, "%d applies refused", ch->refused);
	return rc;
}

/* ---- convergence ---- */

static const struct chaos_service *
service_of(struct chaos *ch, const char *name)
{
	for (size_t k = 0; k < ch->o.nsvcs; k++)
		if (name != NULL && strcmp(ch->o.svcs[k].name, name) == 0)
			return &ch->o.svcs[k];
	return NULL;
}

const char *
chaos_jstr(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

#define jstr chaos_jstr

/* Every daemon runs, every node is Ready and reachable. */
static bool
nodes_ok(struct chaos *ch, char *why, size_t len)
{
	json_t *j, *n;
	size_t k, ready = 0;

	if (ch->cl->ctl == NULL || !daemon_running(ch->cl->ctl))
		return snprintf(why, len, "the controller is not running"), false;
	for (size_t i = 0; i < ch->cl->nslaves; i++)
		if (ch->cl->slaves[i].d == NULL || !daemon_running(ch->cl->slaves[i].d))
			return snprintf(why, len, "slave %zu is not running", i), false;
	if ((j = cluster_get(ch->cl, "/v1/nodes")) == NULL)
		return snprintf(why, len, "no answer to /v1/nodes"), false;
	json_array_foreach(json_object_get(j, "nodes"), k, n)
		if (strcmp(jstr(n, "state"), "Ready") == 0 &&
		    !json_is_false(json_object_get(n, "reachable")))
			ready++;
	json_decref(j);
	if (ready != ch->cl->nslaves)
		return snprintf(why, len, "%zu of %zu nodes Ready", ready, ch->cl->nslaves), false;
	return true;
}

/* The controller's instances: exactly the manifest's, all Run, all at
 * its version, pets under their ordinal ids. */
static bool
records_ok(struct chaos *ch, json_t *insts, char *why, size_t len)
{
	char want[32], pet[96];
	json_t *i;
	size_t k;

	snprintf(want, sizeof(want), "%d.0.0", ch->version);
	json_array_foreach(insts, k, i) {
		const struct chaos_service *s = service_of(ch, jstr(i, "service"));

		if (s == NULL || !json_is_true(json_object_get(i, "desired")) ||
		    strcmp(jstr(i, "state"), "Run") != 0 || strcmp(jstr(i, "version"), want) != 0)
			return snprintf(why, len, "instance %s: %s %s desired=%d (want Run %s)",
			    jstr(i, "id"), jstr(i, "state"), jstr(i, "version"),
			    json_is_true(json_object_get(i, "desired")), want), false;
	}
	for (size_t n = 0; n < ch->o.nsvcs; n++) {
		const struct chaos_service *s = &ch->o.svcs[n];
		int count = 0;

		json_array_foreach(insts, k, i)
			count += strcmp(jstr(i, "service"), s->name) == 0;
		if (count != s->replicas)
			return snprintf(why, len, "%s: %d instances, want %d", s->name, count,
			    s->replicas), false;
		if (!cluster_service_is(ch->cl, s->name, "Run"))
			return snprintf(why, len, "%s: not Run", s->name), false;
		for (int p = 0; s->pet && p < s->replicas; p++) {
			bool found = false;

			snprintf(pet, sizeof(pet), "%s-%d", s->name, p);
			json_array_foreach(insts, k, i)
				found |= strcmp(jstr(i, "id"), pet) == 0;
			if (!found)
				return snprintf(why, len, "no pet %s", pet), false;
		}
	}
	return true;
}

/* What the slaves report is what the controller records (id, node, pid,
 * state), and the host runs exactly those processes. */
static bool
slaves_ok(struct chaos *ch, json_t *insts, char *why, size_t len)
{
	size_t k, m;
	json_t *i, *r;

	for (size_t n = 0; n < ch->cl->nslaves; n++) {
		struct cluster_slave *s = &ch->cl->slaves[n];
		json_t *j = slave_list(s);
		bool ok = j != NULL;

		json_array_foreach(json_object_get(j, "instances"), k, i) {
			bool match = false;

			json_array_foreach(insts, m, r)
				match |= strcmp(jstr(r, "id"), jstr(i, "id")) == 0 &&
				    strcmp(jstr(r, "node"), s->name) == 0 &&
				    json_equal(json_object_get(r, "pid"), json_object_get(i, "pid"));
			if (!match || strcmp(jstr(i, "state"), "Run") != 0) {
				snprintf(why, len, "slave %s reports %s %s pid %lld, unlike the "
				    "controller", s->name, jstr(i, "id"), jstr(i, "state"),
				    json_integer_value(json_object_get(i, "pid")));
				ok = false;
				break;
			}
		}
		json_decref(j);
		if (!ok)
			return false;
	}
	json_array_foreach(insts, k, i) {
		const char *id = jstr(i, "id");
		pid_t pids[PROCS_MAX];
		size_t n = procs_copies(pids, PROCS_MAX, ch->cl->dir, id, NULL);

		if (n != 1 || pids[0] != (pid_t)json_integer_value(json_object_get(i, "pid")))
			return snprintf(why, len, "%s: %zu processes on the host", id, n), false;
	}
	return true;
}

static bool
revision_ok(struct chaos *ch, char *why, size_t len)
{
	json_t *j = cluster_call(ch->cl, NULL, "GET", "/v1/revisions", NULL);
	json_t *a = json_object_get(j, "revisions");
	json_t *r = json_array_get(a, json_array_size(a) - 1);
	bool ok = strcmp(jstr(r, "result"), "succeeded") == 0;

	if (!ok)
		snprintf(why, len, "last revision: %s", r ? jstr(r, "result") : "none");
	json_decref(j);
	return ok;
}

bool
chaos_converged(struct chaos *ch, char *why, size_t len)
{
	char dummy[8];
	json_t *j;
	bool ok;

	if (why == NULL) {
		why = dummy;
		len = sizeof(dummy);
	}
	if (ch->apply_pending)
		return snprintf(why, len, "the apply of %d.0.0 is pending", ch->version), false;
	if (!nodes_ok(ch, why, len))
		return false;
	if ((j = cluster_get(ch->cl, "/v1/instances")) == NULL)
		return snprintf(why, len, "no answer to /v1/instances"), false;
	ok = records_ok(ch, json_object_get(j, "instances"), why, len) &&
	    slaves_ok(ch, json_object_get(j, "instances"), why, len) &&
	    revision_ok(ch, why, len);
	json_decref(j);
	return ok;
}

int64_t
chaos_wait_converged(struct chaos *ch)
{
	int64_t t0 = orch_mono_ms(), took = -1;
	char why[512] = "";

	do {
		if (chaos_converged(ch, why, sizeof(why))) {
			took = orch_mono_ms() - t0;
			break;
		}
		usleep(CHAOS_POLL_MS * 1000);
	} while (orch_mono_ms() - t0 < ch->o.converge_ms);
	stop_samplers(ch);
	if (took < 0)
		printf("# chaos: not converged after %" PRId64 " ms: %s\n", ch->o.converge_ms, why);
	return took;
}

/* ---- orphans and zombies ---- */

/* Whether a slave reports instance id with pid. */
static bool
reported(json_t **lists, size_t n, const char *id, pid_t pid)
{
	json_t *i;
	size_t k;

	for (size_t s = 0; s < n; s++)
		json_array_foreach(json_object_get(lists[s], "instances"), k, i)
			if (strcmp(jstr(i, "id"), id) == 0 &&
			    (pid_t)json_integer_value(json_object_get(i, "pid")) == pid)
				return true;
	return false;
}

int
chaos_orphans(struct chaos *ch)
{
	json_t *lists[CL_MAX_SLAVES] = {0};
	pid_t pids[PROCS_MAX];
	size_t n = procs_copies(pids, PROCS_MAX, ch->cl->dir, NULL, NULL);
	char *env = malloc(65536);
	int orphans = 0;

	for (size_t s = 0; s < ch->cl->nslaves; s++)
		lists[s] = slave_list(&ch->cl->slaves[s]);
	for (size_t k = 0; env != NULL && k < n; k++) {
		ssize_t len = orch_procfs_environ(env, 65536, pids[k]);
		const char *id = len > 0 ? orch_procfs_env_get(env, (size_t)len,
		    "ORCH_INSTANCE_ID") : NULL;

		if (id == NULL) /* exited meanwhile */
			continue;
		if (!reported(lists, ch->cl->nslaves, id, pids[k])) {
			printf("# chaos: orphan: pid %d of instance %s, reported by no slave\n",
			    (int)pids[k], id);
			orphans++;
		}
	}
	for (size_t s = 0; s < ch->cl->nslaves; s++)
		json_decref(lists[s]);
	free(env);
	return orphans;
}

/* Zombie children of the slaves into out (up to max): the count. */
static size_t
zombies(struct chaos *ch, pid_t *out, size_t max)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		char buf[1024], *p, state;
		int ppid;

		if (!isdigit((unsigned char)de->d_name[0]) ||
		    (p = orch_procfs_stat(buf, sizeof(buf), (pid_t)atoi(de->d_name))) == NULL ||
		    sscanf(p + 2, "%c %d", &state, &ppid) != 2 || state != 'Z')
			continue;
		for (size_t s = 0; s < ch->cl->nslaves; s++)
			if (ch->cl->slaves[s].d != NULL && ch->cl->slaves[s].d->pid == ppid)
				out[n++] = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return n;
}

int
chaos_zombies(struct chaos *ch)
{
	pid_t first[64], second[64];
	size_t n1 = zombies(ch, first, 64), n2;
	int both = 0;

	if (n1 == 0)
		return 0;
	/* A child that just exited is a zombie until its slave reaps it. */
	usleep(500 * 1000);
	n2 = zombies(ch, second, 64);
	for (size_t a = 0; a < n1; a++)
		for (size_t b = 0; b < n2; b++)
			if (first[a] == second[b]) {
				printf("# chaos: zombie: pid %d, a child of a slave\n", (int)first[a]);
				both++;
			}
	return both;
}

void
chaos_print(struct chaos *ch)
{
	printf("# chaos: seed %" PRIu64 ": kills: %d %s, %d %s, %d %s; "
	    "rollouts %d (now %d.0.0); most copies of a pet %d in %ld samples; "
	    "kill events lost with their slave %d\n", ch->seed,
	    ch->kills[CHAOS_INSTANCE], kind_names[CHAOS_INSTANCE],
	    ch->kills[CHAOS_SLAVE], kind_names[CHAOS_SLAVE],
	    ch->kills[CHAOS_CONTROLLER], kind_names[CHAOS_CONTROLLER], ch->rollouts,
	    ch->version, ch->pet_most, ch->samples, ch->events_lost);
}
