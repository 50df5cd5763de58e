/*
 * supervise.c - exits, the restart policy and stopping (s6-supervise's
 * job, inside the one loop).
 *
 * sv_reap() runs on SIGCHLD (via the signalfd) and reaps every exited
 * child with waitpid(-1, WNOHANG): instance main processes, exec health
 * probes, and orphaned descendants, which the kernel hands to us because
 * the slave is a child subreaper. A re-adopted process is not our child;
 * its pidfd turns readable when it exits (sv_pidfd_ready()).
 *
 * Restart policy of a pet (cattle are never revived here):
 *   - more than restart.limit restarts within restart.window: Failed;
 *   - it was Run and lived >= SLAVE_STABLE_MS: restart at once, right
 *     here in the SIGCHLD path, before any bookkeeping (the prepared argv
 *     and env make that a bare fork + exec);
 *   - otherwise a quick crash: wait backoff * 2^(streak-1), capped at
 *     max_backoff and jittered down by up to 25%, so a crash loop is
 *     never tight and two instances do not restart in lockstep.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "procfs.h"
#include "slave.h"
#include "units.h"

#define TREE_MAX 65536 /* processes looked at in one /proc sweep */

uint64_t
sv_proc_starttime(pid_t pid)
{
	char buf[1024], *p, *save = NULL;
	unsigned long long v = 0;
	int field;

	if ((p = orch_procfs_stat(buf, sizeof(buf), pid)) == NULL)
		return 0;
	/* p+2 is field 3 (state); starttime is field 22. */
	field = 3;
	for (char *tok = strtok_r(p + 2, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++)
		if (field == 22) {
			v = strtoull(tok, NULL, 10);
			break;
		}
	return v;
}

/* ppid, pgrp, session of pid; false when gone. */
static bool
proc_ids(pid_t pid, pid_t *ppid, pid_t *pgrp, pid_t *sid)
{
	char buf[1024], *p;
	int a, b, c;

	if ((p = orch_procfs_stat(buf, sizeof(buf), pid)) == NULL ||
	    sscanf(p + 2, "%*c %d %d %d", &a, &b, &c) != 3)
		return false;
	*ppid = a;
	*pgrp = b;
	*sid = c;
	return true;
}

/*
 * Whether pid's environment carries both ORCH_INSTANCE_ID=id and
 * ORCH_DATA_DIR=data_dir: how an orphan that left its session and lost its
 * parent is still known as ours. The id alone is not enough: another slave
 * on this host (another node, a test) may run an instance with the same
 * id, and its processes are not ours to kill. The data dir lies under this
 * slave's --data-dir, so the pair names one instance of one slave.
 */
static bool
proc_has_instance_env(pid_t pid, const char *id, const char *data_dir)
{
	char buf[65536];
	const char *v;
	ssize_t n;

	if (data_dir == NULL || (n = orch_procfs_environ(buf, sizeof(buf), pid)) <= 0)
		return false;
	return (v = orch_procfs_env_get(buf, (size_t)n, "ORCH_INSTANCE_ID")) != NULL &&
	    strcmp(v, id) == 0 &&
	    (v = orch_procfs_env_get(buf, (size_t)n, "ORCH_DATA_DIR")) != NULL &&
	    strcmp(v, data_dir) == 0;
}

size_t
sv_proc_scan(struct pinfo **out)
{
	struct pinfo *v;
	pid_t self = getpid();
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	*out = NULL;
	if ((v = calloc(TREE_MAX, sizeof(*v))) == NULL)
		return 0;
	if ((d = opendir("/proc")) == NULL) {
		free(v);
		return 0;
	}
	while ((de = readdir(d)) != NULL && n < TREE_MAX) {
		pid_t p = (pid_t)atoi(de->d_name);

		if (p <= 1 || p == self)
			continue;
		if (!proc_ids(p, &v[n].ppid, &v[n].pgrp, &v[n].sid))
			continue;
		v[n].pid = p;
		v[n].mark = false;
		n++;
	}
	closedir(d);
	*out = v;
	return n;
}

void
sv_proc_close(struct pinfo *v, size_t n)
{
	bool grew;

	do {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (v[i].mark)
				continue;
			for (size_t k = 0; k < n; k++)
				if (v[k].mark && (v[k].pid == v[i].ppid ||
				    (v[k].pid == v[k].pgrp && v[i].pgrp == v[k].pid) ||
				    (v[k].pid == v[k].sid && v[i].sid == v[k].pid))) {
					v[i].mark = grew = true;
					break;
				}
		}
	} while (grew);
}

/*
 * Signal every process of the instance: its group, its session, all
 * descendants of root (by ppid, to a fixpoint), orphans handed to us that
 * carry its ORCH_INSTANCE_ID and ORCH_DATA_DIR, and every pid of its cgroup.
 */
static void
kill_tree(struct slave *s, struct instance *in, pid_t root, int sig)
{
	struct pinfo *v;
	pid_t cg[256], self = getpid();
	size_t n, ncg;

	if (root > 1) {
		kill(-root, sig);
		kill(root, sig);
	}
	ncg = cgroup_pids(cg, sizeof(cg) / sizeof(cg[0]), in);
	for (size_t i = 0; i < ncg; i++)
		if (cg[i] > 1 && cg[i] != self)
			kill(cg[i], sig);
	if ((n = sv_proc_scan(&v)) == 0) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		pid_t p = v[i].pid;

		v[i].mark = root > 1 && (p == root || v[i].pgrp == root || v[i].sid == root);
		if (!v[i].mark && (v[i].ppid == self || v[i].ppid == 1))
			v[i].mark = proc_has_instance_env(p, in->spec->id, in->data_dir);
	}
	sv_proc_close(v, n);
	for (size_t i = 0; i < n; i++)
		if (v[i].mark) {
			kill(v[i].pid, sig);
			if (sig != SIGKILL)
				kill(v[i].pid, SIGCONT);
		}
	free(v);
}

void
sv_signal_tree(struct slave *s, struct instance *in, int sig)
{
	kill_tree(s, in, in->pid, sig);
}

void
sv_begin_stop(struct slave *s, struct instance *in)
{
	log_info("instance=%s pid=%d sending signal %d, SIGKILL in %lldms", in->spec->id,
	    (int)in->pid, in->spec->stop.signal, (long long)in->spec->stop.timeout_ms);
	kill_tree(s, in, in->pid, in->spec->stop.signal);
	if (in->spec->stop.signal != SIGKILL)
		kill_tree(s, in, in->pid, SIGCONT);
	in->kill_at = orch_mono_ms() + in->spec->stop.timeout_ms;
}

void
sv_describe_exit(char *buf, size_t len, const struct instance *in)
{
	if (in->exit_signal > 0)
		snprintf(buf, len, "killed by signal %d", in->exit_signal);
	else if (in->exit_code >= 0)
		snprintf(buf, len, "exit status %d", in->exit_code);
	else
		snprintf(buf, len, "exited, status unknown (not the slave's child)");
}

/* Drop restarts older than the window; what is left is the count. */
static size_t
restarts_in_window(struct instance *in, int64_t now)
{
	size_t old = 0;

	while (old < in->nrt && now - in->restart_times[old] >= in->spec->restart.window_ms)
		old++;
	if (old > 0) {
		memmove(in->restart_times, in->restart_times + old,
		    (in->nrt - old) * sizeof(*in->restart_times));
		in->nrt -= old;
	}
	return in->nrt;
}

static void
record_restart(struct instance *in, int64_t when)
{
	if (in->nrt == in->crt) {
		size_t cap = in->crt * 2;
		int64_t *p = realloc(in->restart_times, cap * sizeof(*p));

		if (p == NULL) {
			/* Out of memory: forget the oldest rather than fail. */
			memmove(in->restart_times, in->restart_times + 1,
			    (in->nrt - 1) * sizeof(*in->restart_times));
			in->nrt--;
		} else {
			in->restart_times = p;
			in->crt = cap;
		}
	}
	in->restart_times[in->nrt++] = when;
}

static int64_t
backoff_delay(struct instance *in)
{
	const struct restart_spec *r = &in->spec->restart;
	int64_t d = r->backoff_ms;

	for (int i = 1; i < in->streak && d < r->max_backoff_ms; i++)
		d *= 2;
	if (d > r->max_backoff_ms)
		d = r->max_backoff_ms;
	/* Jitter down by up to a quarter: never above the cap, still growing. */
	return d - (d > 4 ? random() % (d / 4) : 0);
}

/* Record how the process ended and let go of it: its pid, its pidfd watch
 * and what it left in its process group. */
static void
reap_exit(struct slave *s, struct instance *in, pid_t old, int status, bool known)
{
	if (known && WIFSIGNALED(status)) {
		in->exit_signal = WTERMSIG(status);
		in->exit_code = -1;
	} else if (known) {
		in->exit_code = WEXITSTATUS(status);
		in->exit_signal = 0;
	} else {
		/* Not our child: how it ended is not ours to know, and an
		 * older exit's status must not pass for this one's. */
		in->exit_code = -1;
		in->exit_signal = 0;
	}
	in->pid = 0;
	in->adopted = false;
	in->alive_check_at = 0;
	if (in->pidfd >= 0) {
		loop_unwatch(s, &in->pidw);
		close(in->pidfd);
		in->pidfd = in->pidw.fd = -1;
	}
	/* What the main process left in its group goes with it (a kill to a
	 * group is one syscall: cheap enough to precede a restart). */
	if (old > 1)
		kill(-old, SIGKILL);
}

/* A pet's process ended: restart it in place, at once after a stable run,
 * else after a backoff; Failed past restart.limit within the window. */
static void
revive_pet(struct slave *s, struct instance *in, pid_t old, bool was_run,
    const char *why)
{
	int64_t now = orch_mono_ms(), uptime = now - in->started_mono, delay;

	if (restarts_in_window(in, now) >= (size_t)in->spec->restart.limit) {
		inst_set_state(s, in, IST_FAILED, "%s; restart limit %d within %lldms reached",
		    why, in->spec->restart.limit, (long long)in->spec->restart.window_ms);
		kill_tree(s, in, old, SIGKILL);
		return;
	}
	if (was_run && uptime >= SLAVE_STABLE_MS) {
		in->streak = 0;
		delay = 0;
	} else {
		/* A process that outlived the window was not part of a loop. */
		if (uptime >= in->spec->restart.window_ms)
			in->streak = 0;
		in->streak++;
		delay = backoff_delay(in);
	}
	in->restarts++;
	s->m.restarts++;
	in->backoff_ms = delay;
	if (delay == 0) {
		/* The fast path: exec first, then record, log and persist. */
		inst_launch(s, in, why);
		record_restart(in, now);
		log_info("instance=%s %s: restarted at once pid=%d restarts=%d", in->spec->id,
		    why, (int)in->pid, in->restarts);
		return;
	}
	/* Not in a hurry here: sweep what is left of the old tree, so the
	 * new process finds its ports free. */
	kill_tree(s, in, old, SIGKILL);
	record_restart(in, now);
	in->restart_at = now + delay;
	inst_set_state(s, in, IST_BACKOFF, "%s; restart %d in %lldms", why, in->restarts,
	    (long long)delay);
}

void
sv_exited(struct slave *s, struct instance *in, int status, bool known)
{
	bool was_run = in->state == IST_RUNNING;
	pid_t old = in->pid;
	char why[128];

	reap_exit(s, in, old, status, known);
	sv_describe_exit(why, sizeof(why), in);
	if (in->state == IST_RESTARTING) {
		char tmp[sizeof(why)];

		memcpy(tmp, why, sizeof(tmp));
		snprintf(why, sizeof(why), "unhealthy, %.100s", tmp);
	}
	switch (in->state) {
	case IST_STOPPING:
		kill_tree(s, in, old, SIGKILL);
		in->kill_at = 0;
		in->removed = true;
		log_info("instance=%s pid=%d %s: stopped", in->spec->id, (int)old, why);
		return;
	case IST_FAILED:
		kill_tree(s, in, old, SIGKILL);
		in->kill_at = 0;
		return;
	case IST_STARTING:
	case IST_RUNNING:
	case IST_RESTARTING:
		break;
	case IST_PROVISION:
	case IST_BACKOFF:
	case IST__LAST:
		return;
	}
	health_cancel(s, in);
	in->kill_at = 0;
	if (in->spec->kind == KIND_CATTLE) {
		/* Cattle are replaced by the controller, not revived here. */
		inst_set_state(s, in, IST_FAILED, "%s", why);
		kill_tree(s, in, old, SIGKILL);
		return;
	}
	revive_pet(s, in, old, was_run, why);
}

void
sv_reap(struct slave *s)
{
	struct instance *in;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (in = s->instances; in; in = in->next)
			if (in->pid == pid && !in->adopted)
				break;
		if (in != NULL) {
			sv_exited(s, in, status, true);
			continue;
		}
		if (health_exec_reaped(s, pid, status))
			continue;
		/* An orphaned descendant handed to us (subreaper), or a probe
		 * we already gave up on: reaped, so never a zombie. */
		log_debug("reaped pid=%d", (int)pid);
	}
}

void
sv_pidfd_ready(struct slave *s, struct instance *in)
{
	/* The pidfd of a re-adopted process turns readable when it exits;
	 * it is not our child, so its status is not ours to read. */
	sv_exited(s, in, 0, false);
}

int64_t
sv_tick(struct slave *s, int64_t now)
{
	int64_t next = -1;

	for (struct instance *in = s->instances; in; in = in->next) {
		if (in->removed)
			continue;
		if (in->alive_check_at > 0 && in->pid > 0) {
			if (now >= in->alive_check_at) {
				if (sv_proc_starttime(in->pid) != in->starttime) {
					sv_exited(s, in, 0, false);
					continue;
				}
				in->alive_check_at = now + 1000;
			}
			if (next < 0 || in->alive_check_at < next)
				next = in->alive_check_at;
		}
		if (in->kill_at > 0 && in->pid > 0) {
			if (now >= in->kill_at) {
				log_info("instance=%s pid=%d did not stop in time: SIGKILL",
				    in->spec->id, (int)in->pid);
				kill_tree(s, in, in->pid, SIGKILL);
				in->kill_at = 0;
			} else if (next < 0 || in->kill_at < next)
				next = in->kill_at;
		}
		if (in->state == IST_BACKOFF) {
			if (now >= in->restart_at) {
				char why[128];

				sv_describe_exit(why, sizeof(why), in);
				inst_launch(s, in, why);
			} else if (next < 0 || in->restart_at < next)
				next = in->restart_at;
		}
	}
	return next;
}
