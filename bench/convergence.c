/*
 * convergence - how long from `apply` until N instances are Run, and what
 * the controller costs while they run (issue #4).
 *
 *   convergence [--build DIR] [--timeout SECS] [--idle-secs SECS]
 *               [--services K] [--perf DIR] [--log-level LEVEL]
 *               SCENARIO...
 *
 * SCENARIO is INSTANCESxSLAVES ("1000x20", "10000x100") or floor:N.
 *
 * For each INSTANCESxSLAVES scenario, in a fresh temp dir on 127.0.0.1: a
 * real git repository whose orch.yaml has K services (default 10) of
 * INSTANCES/K cattle replicas each, running examples/apps/stamp without
 * --port (it writes one line to a file and pause()s: no port, no health
 * check); a real orch-controller (default timeouts, resync, log level);
 * SLAVES real orch-slave processes, each with its own data dir, its own
 * port range, 64 CPUs and 64G of capacity and --no-cgroup. Once every
 * node is Ready:
 *
 *   t0 = CLOCK_MONOTONIC; POST /v1/apply {}
 *   poll GET /v1/status every 100 ms until every service is Run with
 *   ready == desired: time to all Run = now - t0
 *
 * then it checks that exactly INSTANCES stamp processes run under the
 * slaves, lets the cluster settle 2 s and reads over --idle-secs (10):
 * the controller's utime+stime (/proc/PID/stat), its VmRSS and VmHWM
 * (peak, covering the convergence), and the sum of the slaves' VmRSS and
 * CPU. A scenario that is not converged after --timeout (120 s) reports
 * "did not converge in T" with how far it got, and the run goes on.
 *
 * floor:N forks and execs N stamp processes from this one process (each
 * in its own session, as the slave does) and reports how long until all N
 * have written their line: the machine's floor for starting N processes.
 *
 * --perf DIR records `perf record --call-graph dwarf` of the controller
 * during each convergence into DIR/perf-SCENARIO.data and during the idle
 * window into DIR/perf-SCENARIO-idle.data, and of the first slave into
 * the same names with -slave0 (a profiling run: its figures are not the
 * table's).
 *
 * Only processes this program starts are ever signalled: the controller
 * and slaves by their pid, instances by their process group after checking
 * that the process is a child of one of our slaves and leads its group.
 * At the end every process whose command line names the scenario's temp
 * dir is counted (must be 0) and the temp dir is removed.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "err.h"
#include "gitrepo.h"
#include "procfs.h"

#define TOKEN "bench-convergence-token-0123456789"
#define SETTLE_MS 2000

static const char *build_dir = ".";
static int timeout_s = 120;
static int idle_s = 10;
static int nservices = 10;
static const char *perf_dir;
static const char *log_level = "info";
static volatile sig_atomic_t interrupted;

/* ---- /proc ---- */

struct procinfo {
	pid_t pid, ppid, pgrp;
	char comm[32];
	long long ticks; /* utime + stime */
};

/* Fields of /proc/PID/stat; false when the process is gone. */
static bool
proc_stat(struct procinfo *out, pid_t pid)
{
	char buf[1024], *p, *rp;
	unsigned long long ut, st;
	int ppid, pgrp;

	/* comm may hold spaces and parentheses: it ends at the last ')'. */
	if ((rp = orch_procfs_stat(buf, sizeof(buf), pid)) == NULL ||
	    (p = strchr(buf, '(')) == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	snprintf(out->comm, sizeof(out->comm), "%.*s", (int)(rp - p - 1), p + 1);
	/* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime (fields 3..15). */
	if (sscanf(rp + 2, "%*c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ppid, &pgrp, &ut, &st) != 4)
		return false;
	out->ppid = ppid;
	out->pgrp = pgrp;
	out->ticks = (long long)(ut + st);
	return rp[2] != 'Z';
}

/* A "Key:   N kB" line of /proc/PID/status, in kB; -1 when missing. */
static long
proc_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Whether /proc/PID/cmdline contains needle. */
static bool
proc_cmdline_has(pid_t pid, const char *needle)
{
	char path[64], buf[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* Call fn for every pid in /proc; the number of pids seen. */
static long
proc_each(void (*fn)(pid_t pid, void *arg), void *arg)
{
	struct dirent *de;
	long n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		n++;
		if (fn != NULL)
			fn((pid_t)atoi(de->d_name), arg);
	}
	closedir(d);
	return n;
}

/* ---- the processes of one scenario ---- */

struct pidset {
	pid_t *v;
	size_t n, cap;
};

static void
pidset_add(struct pidset *s, pid_t p)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		if ((s->v = realloc(s->v, s->cap * sizeof(*s->v))) == NULL) {
			perror("convergence: realloc");
			exit(1);
		}
	}
	s->v[s->n++] = p;
}

static bool
pidset_has(const struct pidset *s, pid_t p)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == p)
			return true;
	return false;
}

struct scan {
	const struct pidset *parents; /* the slaves */
	const char *marker;           /* the temp dir */
	struct pidset found;
	long ticks;
};

/* Instances: children of one of our slaves, leading their own group. */
static void
scan_instance(pid_t pid, void *arg)
{
	struct scan *sc = arg;
	struct procinfo pi;

	if (proc_stat(&pi, pid) && pidset_has(sc->parents, pi.ppid) &&
	    pi.pgrp == pid && strcmp(pi.comm, "stamp") == 0)
		pidset_add(&sc->found, pid);
}

/* Anything still alive that names our temp dir in its command line. */
static void
scan_marker(pid_t pid, void *arg)
{
	struct scan *sc = arg;
	struct procinfo pi;

	if (pid != getpid() && proc_stat(&pi, pid) && proc_cmdline_has(pid, sc->marker))
		pidset_add(&sc->found, pid);
}

struct slave {
	char name[64];
	char url[96];
	int port;
	struct daemon *d;
};

struct run {
	char *dir;
	struct gitrepo *repo;
	char token_file[512];
	char url[96];
	char stamps[512];
	struct daemon *ctl;
	struct slave *slaves;
	size_t nslaves;
	struct pidset slave_pids;
	pid_t perf[2];        /* perf record of the controller, of slave 0 */
};

static char *
bin(const char *rel)
{
	char *p;

	if (asprintf(&p, "%s/%s", build_dir, rel) < 0) {
		perror("convergence: asprintf");
		exit(1);
	}
	return p;
}

static bool
answers(const char *url)
{
	struct http_result r;
	bool ok = http_request(&r, "GET", url, TOKEN, NULL, 0, 2000) == 0 && r.status == 200;

	http_result_free(&r);
	return ok;
}

static int
start_controller(struct run *r)
{
	char *ctl = bin("controller/orch-controller");
	char data[600], log[600], listen[64], status[160];
	int port, rc = -1;

	snprintf(data, sizeof(data), "%s/controller", r->dir);
	snprintf(log, sizeof(log), "%s/controller.log", r->dir);
	for (int try = 0; try < 3 && rc < 0; try++) {
		daemon_free(r->ctl);
		r->ctl = NULL;
		if (daemon_free_port(&port) < 0)
			break;
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
		snprintf(r->url, sizeof(r->url), "http://%s", listen);
		snprintf(status, sizeof(status), "%s/v1/status", r->url);
		const char *argv[] = {ctl, "--repo", gitrepo_path(r->repo), "--data-dir", data,
		    "--listen", listen, "--token-file", r->token_file, "--log-level", log_level,
		    NULL};
		if (daemon_start(&r->ctl, argv, r->dir, log) < 0)
			break;
		if (WAIT_FOR(answers(status) || !daemon_running(r->ctl), 30000) &&
		    daemon_running(r->ctl))
			rc = 0;
	}
	free(ctl);
	if (rc < 0) {
		char *text = read_file(log);

		fprintf(stderr, "convergence: controller did not start; its log:\n%s\n",
		    text ? text : "");
		free(text);
	}
	return rc;
}

static int
start_slave(struct run *r, size_t i)
{
	struct slave *s = &r->slaves[i];
	char *sl = bin("slave/orch-slave");
	char data[600], log[600], listen[64], range[64], health[160];
	int rc = -1;

	snprintf(s->name, sizeof(s->name), "conv%d-%zu", (int)getpid(), i);
	snprintf(data, sizeof(data), "%s/%s", r->dir, s->name);
	snprintf(log, sizeof(log), "%s/%s.log", r->dir, s->name);
	/* Instances take no port; still a range of their own per slave. */
	snprintf(range, sizeof(range), "%zu-%zu", 50000 + i * 10, 50000 + i * 10 + 9);
	for (int try = 0; try < 3 && rc < 0; try++) {
		daemon_free(s->d);
		s->d = NULL;
		if (daemon_free_port(&s->port) < 0)
			break;
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
		snprintf(s->url, sizeof(s->url), "http://%s", listen);
		snprintf(health, sizeof(health), "%s/healthz", s->url);
		const char *argv[] = {sl, "--name", s->name, "--controller", r->url,
		    "--listen", listen, "--data-dir", data, "--token-file", r->token_file,
		    "--cpu", "64", "--memory", "64G", "--port-range", range, "--no-cgroup",
		    "--log-level", log_level, NULL};
		if (daemon_start(&s->d, argv, r->dir, log) < 0)
			break;
		if (WAIT_FOR(answers(health) || !daemon_running(s->d), 30000) &&
		    daemon_running(s->d))
			rc = 0;
	}
	free(sl);
	if (rc == 0)
		pidset_add(&r->slave_pids, s->d->pid);
	else {
		char *text = read_file(log);

		fprintf(stderr, "convergence: slave %s did not start; its log:\n%s\n", s->name,
		    text ? text : "");
		free(text);
	}
	return rc;
}

static int
ready_nodes(struct run *r)
{
	json_t *j = NULL, *n;
	long st = 0;
	size_t i;
	int ready = 0;
	char url[160];

	snprintf(url, sizeof(url), "%s/v1/nodes", r->url);
	if (http_json(&j, &st, "GET", url, TOKEN, NULL) == 0 && st == 200)
		json_array_foreach(json_object_get(j, "nodes"), i, n)
			if (strcmp(json_string_value(json_object_get(n, "state")) ?: "",
			    "Ready") == 0)
				ready++;
	json_decref(j);
	return ready;
}

struct progress {
	int services, run, ready, desired;
};

/* One GET /v1/status; false when there was no usable answer. */
static bool
status(struct run *r, struct progress *out)
{
	json_t *j = NULL, *s;
	long st = 0;
	size_t i;
	char url[160];

	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "%s/v1/status", r->url);
	if (http_json(&j, &st, "GET", url, TOKEN, NULL) < 0 || st != 200 || j == NULL) {
		json_decref(j);
		return false;
	}
	json_array_foreach(json_object_get(j, "services"), i, s) {
		int ready = (int)json_integer_value(json_object_get(s, "ready"));
		int desired = (int)json_integer_value(json_object_get(s, "desired"));

		out->services++;
		out->ready += ready;
		out->desired += desired;
		if (strcmp(json_string_value(json_object_get(s, "state")) ?: "", "Run") == 0 &&
		    ready == desired)
			out->run++;
	}
	json_decref(j);
	return true;
}

/* Lines of a stamps file: processes that have started. */
static int
count_lines(const char *path)
{
	char *text = read_file(path);
	int lines = 0;

	for (char *c = text; c != NULL && *c; c++)
		lines += *c == '\n';
	free(text);
	return lines;
}

/* The metric's value in a Prometheus text body; -1 when missing. */
static double
metric(const char *text, const char *name)
{
	size_t len = strlen(name);
	const char *l = text, *nl;

	while (l != NULL && *l) {
		if (strncmp(l, name, len) == 0 && l[len] == ' ')
			return strtod(l + len + 1, NULL);
		l = (nl = strchr(l, '\n')) != NULL ? nl + 1 : NULL;
	}
	return -1;
}

/* How much work the controller did: reconcile passes and time, commands
 * sent to the slaves and failed (retried). On stderr. */
static void
diagnose(struct run *r, const char *scen, const char *when)
{
	struct http_result h = {0};
	json_t *j = NULL, *n;
	long st = 0, sent = 0, failed = 0;
	size_t i;
	char url[160];

	snprintf(url, sizeof(url), "%s/v1/nodes", r->url);
	if (http_json(&j, &st, "GET", url, TOKEN, NULL) == 0 && st == 200)
		json_array_foreach(json_object_get(j, "nodes"), i, n) {
			sent += (long)json_integer_value(json_object_get(n, "commands_sent"));
			failed += (long)json_integer_value(json_object_get(n, "commands_failed"));
		}
	json_decref(j);
	snprintf(url, sizeof(url), "%s/metrics", r->url);
	if (http_request(&h, "GET", url, TOKEN, NULL, 0, 10000) == 0 && h.status == 200)
		fprintf(stderr, "convergence: %s %s: reconcile passes %.0f, %.2f s in "
				"reconcile (last %.3f s); commands sent %ld, failed %ld\n",
		    scen, when, metric(h.body, "orch_reconcile_total"),
		    metric(h.body, "orch_reconcile_duration_seconds_sum"),
		    metric(h.body, "orch_reconcile_last_duration_seconds"), sent, failed);
	http_result_free(&h);
}

static long long
ticks_of(const struct pidset *s)
{
	struct procinfo pi;
	long long t = 0;

	for (size_t i = 0; i < s->n; i++)
		if (proc_stat(&pi, s->v[i]))
			t += pi.ticks;
	return t;
}

static long
rss_kb_of(const struct pidset *s, const char *key)
{
	long t = 0, v;

	for (size_t i = 0; i < s->n; i++)
		if ((v = proc_status_kb(s->v[i], key)) > 0)
			t += v;
	return t;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupted)
		;
}

static void
perf_start(struct run *r, const char *scen)
{
	pid_t who[2] = {r->ctl->pid, r->nslaves > 0 && r->slaves[0].d ? r->slaves[0].d->pid : 0};
	const char *what[2] = {"", "-slave0"};

	if (perf_dir == NULL)
		return;
	fflush(NULL);
	for (int k = 0; k < 2; k++) {
		char pid[32], out[600];

		if (who[k] <= 0)
			continue;
		snprintf(pid, sizeof(pid), "%d", (int)who[k]);
		snprintf(out, sizeof(out), "%s/perf-%s%s.data", perf_dir, scen, what[k]);
		if ((r->perf[k] = fork()) == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 1);
			dup2(fd, 2);
			execlp("perf", "perf", "record", "--call-graph", "dwarf,16384", "-F",
			    "199", "-p", pid, "-o", out, (char *)NULL);
			_exit(127);
		}
	}
	sleep_ms(300); /* perf attaches */
}

static void
perf_stop(struct run *r)
{
	int st;

	for (int k = 0; k < 2; k++) {
		if (r->perf[k] <= 0)
			continue;
		kill(r->perf[k], SIGINT);
		waitpid(r->perf[k], &st, 0);
		r->perf[k] = 0;
	}
}

/* Stop everything of the run, check nothing is left, remove the dir. */
static long
teardown(struct run *r)
{
	struct scan sc = {.parents = &r->slave_pids, .marker = r->dir};
	long left;

	perf_stop(r);
	/* 1. The controller first, so nothing new is asked of the slaves. */
	if (r->ctl != NULL && daemon_stop(r->ctl, SIGTERM, 20000) < 0)
		fprintf(stderr, "convergence: controller did not stop on SIGTERM\n");
	daemon_free(r->ctl);
	r->ctl = NULL;
	/* 2. Record the instances: children of our slaves, each leading
	 * its own group. */
	proc_each(scan_instance, &sc);
	/* 3. The slaves: SIGTERM leaves instances running (docs/slave.md),
	 * so they exit at once instead of handling thousands of deaths. */
	for (size_t i = 0; i < r->nslaves; i++)
		if (r->slaves[i].d != NULL)
			kill(r->slaves[i].d->pid, SIGTERM);
	for (size_t i = 0; i < r->nslaves; i++) {
		if (r->slaves[i].d != NULL && daemon_stop(r->slaves[i].d, SIGTERM, 20000) < 0)
			fprintf(stderr, "convergence: slave %s did not stop\n", r->slaves[i].name);
		daemon_free(r->slaves[i].d);
		r->slaves[i].d = NULL;
	}
	/* 4. The recorded instances' groups, each checked to be still our
	 * stamp (its command line names our dir) so a reused pid is never
	 * hit. */
	for (size_t i = 0; i < sc.found.n; i++) {
		struct procinfo pi;

		if (proc_stat(&pi, sc.found.v[i]) && pi.pgrp == pi.pid &&
		    proc_cmdline_has(pi.pid, r->dir))
			kill(-pi.pid, SIGKILL);
	}
	/* 5. Anything left that names our dir (a stamp started after the
	 * scan, say): its group, then count again. */
	free(sc.found.v);
	sc.found = (struct pidset){0};
	proc_each(scan_marker, &sc);
	for (size_t i = 0; i < sc.found.n; i++) {
		struct procinfo pi;

		if (proc_stat(&pi, sc.found.v[i]) && pi.pgrp == pi.pid)
			kill(-pi.pid, SIGKILL);
		else
			kill(sc.found.v[i], SIGKILL);
	}
	if (sc.found.n > 0)
		sleep_ms(500);
	free(sc.found.v);
	sc.found = (struct pidset){0};
	proc_each(scan_marker, &sc);
	left = (long)sc.found.n;
	free(sc.found.v);
	gitrepo_free(r->repo);
	daemon_rmtree(r->dir);
	rmdir(r->dir);
	free(r->dir);
	free(r->slaves);
	free(r->slave_pids.v);
	return left;
}

/* The git repository, inside the scenario's dir (gitrepo.c makes it
 * under $ORCH_TEST_OUT, which daemon_tmpdir() reads too: set only here). */
static int
make_repo(struct run *r)
{
	char *was = getenv("ORCH_TEST_OUT") ? strdup(getenv("ORCH_TEST_OUT")) : NULL;
	int rc;

	setenv("ORCH_TEST_OUT", r->dir, 1);
	rc = gitrepo_create(&r->repo);
	if (was != NULL)
		setenv("ORCH_TEST_OUT", was, 1);
	else
		unsetenv("ORCH_TEST_OUT");
	free(was);
	return rc;
}

static char *
manifest(const char *stamp, const char *out, int instances)
{
	int per = instances / nservices;
	size_t cap = 256 + (size_t)nservices * (strlen(stamp) + strlen(out) + 200);
	char *y = malloc(cap);
	size_t n;

	if (y == NULL)
		return NULL;
	n = (size_t)snprintf(y, cap, "architecture: bench\nversion: \"1.0.0\"\nservices:\n");
	/* min_ready 0s: the time to all Run measures orchestration, as it
	 * did before readiness waited a constant 1s by default. */
	for (int i = 0; i < nservices; i++)
		n += (size_t)snprintf(y + n, cap - n,
		    "  s%02d:\n"
		    "    version: \"1.0.0\"\n"
		    "    command: [\"%s\", \"--out\", \"%s\"]\n"
		    "    replicas: %d\n"
		    "    max: %d\n"
		    "    min_ready: 0s\n",
		    i, stamp, out, per, per < 100 ? 100 : per);
	return y;
}

static void
row_fail(const char *scen, int n, size_t slaves, const char *why)
{
	printf("| %s | %d | %zu | %s | | | | | | | | |\n", scen, n, slaves, why);
	fflush(stdout);
}

static int
scenario(const char *scen, int instances, size_t nslaves)
{
	struct run r = {0};
	struct progress p = {0};
	struct scan sc = {0};
	char *stamp = bin("examples/apps/stamp"), *yaml = NULL, why[160], url[160];
	long hz = sysconf(_SC_CLK_TCK), left, st = 0;
	long long c0, c1, cs0, cs1, conv_ticks, conv_slave_ticks;
	int64_t t0, t_run = -1, t_started = -1, deadline;
	struct pidset ctl = {0};
	json_t *j = NULL;
	int rc = 1;

	if (instances % nservices != 0) {
		fprintf(stderr, "convergence: %d instances not a multiple of %d services\n",
		    instances, nservices);
		return 1;
	}
	if (daemon_tmpdir(&r.dir, "orch-conv") < 0) {
		fprintf(stderr, "convergence: %s\n", orch_err_last());
		return 1;
	}

	snprintf(r.token_file, sizeof(r.token_file), "%s/token", r.dir);
	snprintf(r.stamps, sizeof(r.stamps), "%s/stamps", r.dir);
	if ((r.slaves = calloc(nslaves, sizeof(*r.slaves))) == NULL ||
	    write_secret(r.token_file, TOKEN "\n") < 0 || make_repo(&r) < 0 ||
	    (yaml = manifest(stamp, r.stamps, instances)) == NULL ||
	    gitrepo_write(r.repo, "orch.yaml", yaml) < 0 ||
	    gitrepo_commit(NULL, r.repo, "bench", NULL) < 0) {
		row_fail(scen, instances, nslaves, "setup failed");
		fprintf(stderr, "convergence: setup: %s\n", orch_err_last());
		goto out;
	}
	if (start_controller(&r) < 0) {
		row_fail(scen, instances, nslaves, "controller did not start");
		goto out;
	}
	pidset_add(&ctl, r.ctl->pid);
	for (size_t i = 0; i < nslaves && !interrupted; i++) {
		r.nslaves = i + 1;
		if (start_slave(&r, i) < 0) {
			row_fail(scen, instances, nslaves, "slave did not start");
			goto out;
		}
	}
	if (!WAIT_FOR(ready_nodes(&r) == (int)nslaves || interrupted, 60000) || interrupted) {
		snprintf(why, sizeof(why), "only %d of %zu nodes Ready in 60 s",
		    ready_nodes(&r), nslaves);
		row_fail(scen, instances, nslaves, why);
		goto out;
	}

	perf_start(&r, scen);
	c0 = ticks_of(&ctl);
	cs0 = ticks_of(&r.slave_pids);
	snprintf(url, sizeof(url), "%s/v1/apply", r.url);
	t0 = orch_mono_ms();
	if (http_json(&j, &st, "POST", url, TOKEN, "{}") < 0 || st != 200) {
		snprintf(why, sizeof(why), "apply answered %ld", st);
		row_fail(scen, instances, nslaves, why);
		json_decref(j);
		goto out;
	}
	json_decref(j);
	deadline = t0 + (int64_t)timeout_s * 1000;
	while (!interrupted && orch_mono_ms() < deadline) {
		if (t_started < 0 && count_lines(r.stamps) >= instances)
			t_started = orch_mono_ms() - t0;
		if (status(&r, &p) && p.services == nservices && p.run == nservices &&
		    p.ready == instances) {
			t_run = orch_mono_ms() - t0;
			break;
		}
		if (!daemon_running(r.ctl))
			break;
		sleep_ms(100);
	}
	c1 = ticks_of(&ctl);
	cs1 = ticks_of(&r.slave_pids);
	perf_stop(&r);
	diagnose(&r, scen, "converging");
	conv_ticks = c1 - c0;
	conv_slave_ticks = cs1 - cs0;
	if (t_run < 0) {
		if (!daemon_running(r.ctl))
			snprintf(why, sizeof(why), "controller exited (status %d)", r.ctl->status);
		else
			snprintf(why, sizeof(why),
			    "did not converge in %d s (%d/%d services Run, %d/%d ready)",
			    timeout_s, p.run, nservices, p.ready, instances);
		printf("| %s | %d | %zu | %s | %s | %.1f | %.0f | | | %.0f | | |\n", scen,
		    instances, nslaves, t_started < 0 ? "-" : "all started", why,
		    (double)conv_ticks / (double)hz,
		    (double)proc_status_kb(r.ctl->pid, "VmHWM") / 1024.0,
		    (double)rss_kb_of(&r.slave_pids, "VmRSS") / 1024.0);
		fflush(stdout);
		goto out;
	}

	/* Every Run instance is a live process under one of our slaves. */
	sc.parents = &r.slave_pids;
	proc_each(scan_instance, &sc);
	if ((int)sc.found.n != instances)
		fprintf(stderr, "convergence: %s: %zu stamp processes run, %d expected\n",
		    scen, sc.found.n, instances);

	sleep_ms(SETTLE_MS);
	if (perf_dir != NULL) {
		char name[128];

		snprintf(name, sizeof(name), "%s-idle", scen);
		perf_start(&r, name);
	}
	c0 = ticks_of(&ctl);
	cs0 = ticks_of(&r.slave_pids);
	t0 = orch_mono_ms();
	sleep_ms((int64_t)idle_s * 1000);
	c1 = ticks_of(&ctl);
	cs1 = ticks_of(&r.slave_pids);
	perf_stop(&r);
	diagnose(&r, scen, "after idle");
	{
		double secs = (double)(orch_mono_ms() - t0) / 1000.0;
		double idle_pct = 100.0 * (double)(c1 - c0) / (double)hz / secs;
		double slaves_pct = 100.0 * (double)(cs1 - cs0) / (double)hz / secs;

		/* Columns: time, ctl CPU during convergence, ctl peak RSS,
		 * ctl RSS idle, ctl idle CPU, slaves' RSS, slaves' idle CPU,
		 * processes seen. */
		if (t_started < 0)
			t_started = count_lines(r.stamps) >= instances ? t_run : -1;
		printf("| %s | %d | %zu | %.2f | %.2f | %.1f | %.0f | %.0f | %.2f %% | %.0f | %.1f %% | %zu |\n",
		    scen, instances, nslaves, (double)t_started / 1000.0, (double)t_run / 1000.0,
		    (double)conv_ticks / (double)hz,
		    (double)proc_status_kb(r.ctl->pid, "VmHWM") / 1024.0,
		    (double)proc_status_kb(r.ctl->pid, "VmRSS") / 1024.0, idle_pct,
		    (double)rss_kb_of(&r.slave_pids, "VmRSS") / 1024.0, slaves_pct,
		    sc.found.n);
		fprintf(stderr, "convergence: %s: slaves used %.1f s CPU during convergence\n",
		    scen, (double)conv_slave_ticks / (double)hz);
		fflush(stdout);
	}
	rc = 0;
out:
	free(sc.found.v);
	free(ctl.v);
	free(yaml);
	free(stamp);
	if (r.dir != NULL) {
		char dir[600];

		snprintf(dir, sizeof(dir), "%s", r.dir);
		if ((left = teardown(&r)) != 0) {
			fprintf(stderr, "convergence: %s: %ld processes of %s left\n", scen, left,
			    dir);
			rc = 1;
		}
	}
	return rc;
}

/* fork/exec n stamps in their own sessions; time until all n stamped. */
static int
floor_row(const char *scen, int n)
{
	char *stamp = bin("examples/apps/stamp"), *dir = NULL, out[600];
	struct pidset kids = {0};
	int64_t t0, t_all = -1, deadline;
	int rc = 1;

	if (daemon_tmpdir(&dir, "orch-conv-floor") < 0) {
		free(stamp);
		return 1;
	}
	snprintf(out, sizeof(out), "%s/stamps", dir);
	fflush(NULL);
	t0 = orch_mono_ms();
	for (int i = 0; i < n && !interrupted; i++) {
		pid_t p = fork();

		if (p == 0) {
			setsid();
			execl(stamp, stamp, "--out", out, (char *)NULL);
			_exit(127);
		}
		if (p < 0) {
			perror("convergence: floor: fork");
			break;
		}
		pidset_add(&kids, p);
	}
	deadline = t0 + (int64_t)timeout_s * 1000;
	while (!interrupted && orch_mono_ms() < deadline) {
		if (count_lines(out) >= n) {
			t_all = orch_mono_ms() - t0;
			break;
		}
		sleep_ms(10);
	}
	if (t_all >= 0) {
		printf("| %s | %d | - | %.2f | - | - | - | - | - | - | - | %zu |\n", scen, n,
		    (double)t_all / 1000.0, kids.n);
		rc = 0;
	} else
		row_fail(scen, n, 0, "did not start all in time");
	fflush(stdout);
	for (size_t i = 0; i < kids.n; i++)
		kill(-kids.v[i], SIGKILL);
	for (size_t i = 0; i < kids.n; i++)
		waitpid(kids.v[i], NULL, 0);
	free(kids.v);
	daemon_rmtree(dir);
	free(dir);
	free(stamp);
	return rc;
}

static void
on_signal(int sig)
{
	interrupted = 1;
}

static void
environment(void)
{
	struct rlimit rl;
	struct utsname u;
	char pidmax[32] = "?", thrmax[32] = "?", *t;
	long procs = proc_each(NULL, NULL);
	double load[1] = {0};

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	if ((t = read_file("/proc/sys/kernel/pid_max")) != NULL) {
		snprintf(pidmax, sizeof(pidmax), "%ld", strtol(t, NULL, 10));
		free(t);
	}
	if ((t = read_file("/proc/sys/kernel/threads-max")) != NULL) {
		snprintf(thrmax, sizeof(thrmax), "%ld", strtol(t, NULL, 10));
		free(t);
	}
	uname(&u);
	getloadavg(load, 1);
	printf("# convergence: %ld CPUs, %s %s, RLIMIT_NOFILE %llu, pid_max %s, "
	       "threads-max %s, %ld processes running, load %.2f\n",
	    sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release,
	    (unsigned long long)rl.rlim_cur, pidmax, thrmax, procs, load[0]);
	if (atol(pidmax) < 10000 + 100 + procs + 1000)
		printf("# WARNING: pid_max %s leaves little room for 10,000 instances\n", pidmax);
}

static void
usage(void)
{
	fprintf(stderr, "usage: convergence [--build DIR] [--timeout SECS] [--idle-secs SECS]\n"
			"                   [--services K] [--perf DIR] [--log-level L]\n"
			"                   INSTANCESxSLAVES|floor:N ...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	int i, rc = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--build") == 0)
			build_dir = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout_s = atoi(argv[++i]);
		else if (strcmp(argv[i], "--idle-secs") == 0)
			idle_s = atoi(argv[++i]);
		else if (strcmp(argv[i], "--services") == 0)
			nservices = atoi(argv[++i]);
		else if (strcmp(argv[i], "--perf") == 0)
			perf_dir = argv[++i];
		else if (strcmp(argv[i], "--log-level") == 0)
			log_level = argv[++i];
		else
			usage();
	}
	if (i == argc || timeout_s <= 0 || idle_s <= 0 || nservices <= 0)
		usage();
	/* The daemons start in the temp dir: the build dir must be absolute. */
	if ((build_dir = realpath(build_dir, NULL)) == NULL) {
		perror("convergence: --build");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	environment();
	printf("\n| scenario | instances | slaves | all processes started (s) | "
	       "time to all Run (s) | controller CPU during it (s) | controller peak RSS (MB) | controller RSS idle (MB) | "
	       "controller idle CPU | slaves' total RSS (MB) | slaves' idle CPU | "
	       "processes running |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	fflush(stdout);
	for (; i < argc && !interrupted; i++) {
		int n = 0, s = 0;

		if (sscanf(argv[i], "floor:%d", &n) == 1 && n > 0)
			rc |= floor_row(argv[i], n);
		else if (sscanf(argv[i], "%dx%d", &n, &s) == 2 && n > 0 && s > 0)
			rc |= scenario(argv[i], n, (size_t)s);
		else
			usage();
	}
	return rc;
}
