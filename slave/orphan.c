/*
 * orphan.c - instance processes of this slave that its state file does
 * not list, found and stopped at start.
 *
 * The state file is what lets a restarted slave re-adopt its instances
 * (state.c). When it is gone - the data dir moved away or lost with its
 * disk - the processes of the slave's earlier life still run: instances
 * live in their own sessions and outlive the slave by design. Left alone
 * they are orphans nobody stops, and the controller, told by the new
 * slave that it runs nothing, starts each pet again under the same id:
 * two copies of one pet.
 *
 * Which processes are ours: every instance carries ORCH_NODE (this
 * node's --name) and ORCH_DATA_DIR = DATA/instances/ID/data with
 * ORCH_INSTANCE_ID = ID (spawn.c), and descendants inherit them. Only
 * this slave can own that data dir (the data dir's lock), so the triple
 * names a process of this slave; another slave on the host (another node,
 * another data dir) never matches. A process that scrubbed its
 * environment is still in its instance's cgroup (orch-NODE/ID, where the
 * host lets the slave make cgroups), which names the id too. Their
 * process groups, sessions and children go with them (sv_proc_close), as
 * a stop does; the emptied cgroups are removed.
 *
 * Stop, not re-adopt: without the state file the slave has no spec for
 * them - not the restart policy, health check, stop signal or ports it
 * would need to supervise them - and nothing it could tell the controller
 * about them would be true. So they are stopped (SIGTERM to the process
 * and its group, SIGKILL after ORPHAN_GRACE_MS) before the slave answers
 * its API or reports to the controller, which then starts each pet again
 * under its id, once. A pet's data dir lies under the slave's data dir
 * (DATA/instances/ID/data), so it went wherever the data dir went: the
 * pet starts with an empty one, which is the truth of a lost data dir.
 *
 * Instances the state file does list are state.c's: re-adopted when
 * their recorded process still runs, or when the process leading their
 * session is found by its environment (orphan_find_leader: the file
 * could not be written after a revive, so its pid is stale); their
 * leftovers are swept by the stop that ends them (kill_tree in
 * supervise.c). A process of a listed instance outside the session the
 * slave adopted is a second copy, and is stopped here: a pet never runs
 * twice, whatever the state file missed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"
#include "slave.h"
#include "units.h"

#define ORPHAN_GRACE_MS 5000 /* SIGTERM -> SIGKILL, as an instance's stop.timeout */
#define ORPHAN_KILL_WAIT_MS 2000
#define ORPHAN_ENV_MAX 65536

/* A marked process and the start time that tells it from a reused pid. */
struct orphan {
	pid_t pid;
	uint64_t starttime;
};

/* A session leader found by its environment (orphan_find_leader). */
struct orphan_leader {
	char id[PROTO_MAX_NAME + 1];
	pid_t pid;
};

/*
 * The instance id pid belongs to when its environment names this node and
 * an instance data dir of this slave's data dir, copied into id (len
 * bytes); false otherwise.
 */
static bool
instance_of(char *id, size_t len, struct slave *s, pid_t pid, char *env)
{
	const char *node, *iid, *dir;
	char want[4608];
	ssize_t n;

	if ((n = orch_procfs_environ(env, ORPHAN_ENV_MAX, pid)) <= 0)
		return false;
	node = orch_procfs_env_get(env, (size_t)n, "ORCH_NODE");
	iid = orch_procfs_env_get(env, (size_t)n, "ORCH_INSTANCE_ID");
	dir = orch_procfs_env_get(env, (size_t)n, "ORCH_DATA_DIR");
	if (node == NULL || iid == NULL || dir == NULL || strcmp(node, s->cfg.name) != 0 ||
	    !proto_name_valid(iid))
		return false;
	if ((size_t)snprintf(want, sizeof(want), "%s/instances/%s/data", s->cfg.data_dir,
	    iid) >= sizeof(want) || strcmp(dir, want) != 0)
		return false;
	snprintf(id, len, "%s", iid);
	return true;
}

/*
 * Whether process p (its ids from sv_proc_scan) is a stray of this slave:
 * its environment names an instance the state file does not list, or one
 * it lists but p is outside that instance's session (a copy the state
 * file lost track of: a pet revived while the file could not be
 * written, then the slave restarted). The instance's own session is
 * state.c's. id (len bytes) gets the instance id.
 */
static bool
orphan_of(char *id, size_t len, struct slave *s, const struct pinfo *p, char *env)
{
	const struct instance *in;

	if (!instance_of(id, len, s, p->pid, env))
		return false;
	in = inst_find(s, id);
	return in == NULL || in->pid <= 0 || p->sid != in->pid;
}

static int
leader_cmp(const void *a, const void *b)
{
	return strcmp(((const struct orphan_leader *)a)->id, ((const struct orphan_leader *)b)->id);
}

/* One scan of /proc: every session leader whose environment names an
 * instance of this slave, sorted by id. */
static void
leaders_scan(struct slave *s)
{
	char *env = malloc(ORPHAN_ENV_MAX), id[PROTO_MAX_NAME + 1];
	struct pinfo *v;
	size_t n = sv_proc_scan(&v);

	s->leaders_scanned = true;
	if (env != NULL && n > 0 && (s->leaders = calloc(n, sizeof(*s->leaders))) != NULL) {
		for (size_t i = 0; i < n; i++) {
			if (v[i].sid != v[i].pid || !instance_of(id, sizeof(id), s, v[i].pid, env))
				continue;
			snprintf(s->leaders[s->nleaders].id, sizeof(s->leaders[0].id), "%s", id);
			s->leaders[s->nleaders++].pid = v[i].pid;
		}
		qsort(s->leaders, s->nleaders, sizeof(*s->leaders), leader_cmp);
	}
	free(env);
	free(v);
}

pid_t
orphan_find_leader(struct slave *s, const char *id)
{
	struct orphan_leader key, *hit;

	if (!s->leaders_scanned)
		leaders_scan(s);
	if (s->nleaders == 0)
		return 0;
	snprintf(key.id, sizeof(key.id), "%s", id);
	hit = bsearch(&key, s->leaders, s->nleaders, sizeof(key), leader_cmp);
	return hit ? hit->pid : 0;
}

/* Alive and still the process we marked (not a zombie, not a reused pid). */
static bool
orphan_alive(const struct orphan *o)
{
	char buf[1024], *p;

	if ((p = orch_procfs_stat(buf, sizeof(buf), o->pid)) == NULL || p[1] == '\0' ||
	    p[2] == 'Z' || p[2] == 'X')
		return false;
	return sv_proc_starttime(o->pid) == o->starttime;
}

static size_t
orphans_left(const struct orphan *v, size_t n)
{
	size_t left = 0;

	for (size_t i = 0; i < n; i++)
		if (orphan_alive(&v[i]))
			left++;
	return left;
}

static void
orphans_signal(const struct orphan *v, size_t n, int sig)
{
	for (size_t i = 0; i < n; i++) {
		if (!orphan_alive(&v[i]))
			continue;
		kill(v[i].pid, sig);
		if (sig != SIGKILL)
			kill(v[i].pid, SIGCONT);
	}
}

static bool
orphans_wait(const struct orphan *v, size_t n, int64_t ms)
{
	int64_t deadline = orch_mono_ms() + ms;

	while (orphans_left(v, n) > 0) {
		if (orch_mono_ms() >= deadline)
			return false;
		usleep(20 * 1000);
	}
	return true;
}

struct marking {
	struct pinfo *v;
	size_t n, found;
};

/* cgroup_strays callback: a process in the cgroup of an unknown id. */
static void
mark_in_cgroup(void *arg, const char *id, pid_t pid)
{
	struct marking *m = arg;

	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].pid == pid && !m->v[i].mark) {
			m->v[i].mark = true;
			m->found++;
			log_info("instance=%s pid=%d is in the cgroup of an instance its state "
			    "file does not list: stopping it", id, (int)pid);
		}
}

/* Mark the orphans in v (from sv_proc_scan) and log each instance's;
 * how many processes the environment or a cgroup named. */
static size_t
orphans_mark(struct slave *s, struct pinfo *v, size_t n)
{
	char *env = malloc(ORPHAN_ENV_MAX), id[PROTO_MAX_NAME + 1];
	struct marking m = {0};
	size_t found = 0;

	if (env == NULL) {
		log_warnx("orphans: out of memory; not looked for");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!orphan_of(id, sizeof(id), s, &v[i], env))
			continue;
		v[i].mark = true;
		found++;
		log_info("instance=%s pid=%d runs from an earlier life of this slave but %s:"
		    " stopping it", id, (int)v[i].pid, inst_find(s, id) == NULL ?
		    "its state file does not list it" : "is not the process it adopted");
	}
	free(env);
	/* A process that scrubbed its environment is still in its cgroup. */
	m.v = v;
	m.n = n;
	cgroup_strays(s, mark_in_cgroup, &m);
	return found + m.found;
}

void
orphan_sweep(struct slave *s)
{
	struct orphan *o = NULL;
	struct pinfo *v;
	size_t n, no = 0, named;

	n = sv_proc_scan(&v);
	if ((named = orphans_mark(s, v, n)) == 0)
		goto out;
	sv_proc_close(v, n);
	if ((o = calloc(n, sizeof(*o))) == NULL) {
		log_warnx("orphans: out of memory; %zu left running", named);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].mark) {
			o[no].pid = v[i].pid;
			o[no].starttime = sv_proc_starttime(v[i].pid);
			if (o[no].starttime != 0)
				no++;
		}
	orphans_signal(o, no, SIGTERM);
	if (!orphans_wait(o, no, ORPHAN_GRACE_MS)) {
		log_info("orphans: %zu of %zu processes still running after %dms: SIGKILL",
		    orphans_left(o, no), no, ORPHAN_GRACE_MS);
		orphans_signal(o, no, SIGKILL);
		orphans_wait(o, no, ORPHAN_KILL_WAIT_MS);
	}
	if (orphans_left(o, no) > 0)
		log_warnx("orphans: %zu processes survived SIGKILL", orphans_left(o, no));
	else
		log_info("orphans: stopped %zu processes not in the state file", no);
out:
	cgroup_remove_strays(s);
	free(o);
	free(v);
	free(s->leaders);
	s->leaders = NULL;
	s->nleaders = 0;
}
