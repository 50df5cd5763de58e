/*
 * restart_latency - crash->restart latency of supervisors side by side,
 * and the footprint of a supervisor that watches many processes.
 * Driven by bench/restart-latency.sh, which starts the peers.
 *
 *   restart_latency latency [--kills N] [--gap-ms MS] [--timeout-ms MS]
 *                           [--prog NAME] [--csv FILE]
 *                           [--token T --run PEER=PORT:ID]... PEER=STAMPFILE...
 *   restart_latency idle [--secs S] [--expect N] [--wait-s S] [--prog NAME]
 *                        [--since MONO_NS] PEER=PID
 *   restart_latency kill-tree PID...
 *   restart_latency now                  (prints CLOCK_MONOTONIC in ns)
 *
 * latency: every peer supervises one examples/apps/stamp writing to its
 * own STAMPFILE ("PID MONOTONIC_NS REALTIME_NS" per start). In rounds, for
 * each peer in turn: wait until its current process has run --gap-ms
 * (so throttles that only hit processes younger than a second never
 * count), read CLOCK_MONOTONIC, SIGKILL the process, wait (inotify, no
 * spinning: the peers need the CPU) for the next stamp line, and take
 * latency = the new process's own MONOTONIC_NS - the time of the kill.
 * The peers take turns in the same rounds, so a noisy moment of the
 * machine hits them all alike. Prints a table with median, p90 and max,
 * and each median over the median of the peer named "floor".
 *
 * --run PEER=PORT:ID: PEER is an orch-slave on 127.0.0.1:PORT whose
 * instance ID has a health check. After its restart, GET
 * /v1/instances/ID (Bearer --token) is polled every 1 ms until it shows
 * state Run with the new pid: "kill -> Run" = the monotonic time of that
 * answer - the time of the kill (restart, then the health check passing,
 * then at most ~1 ms of polling). Peers without --run have no health
 * check: n/a.
 *
 * idle: wait until the tree under PID has --expect processes named
 * --prog (reporting how long that took since --since), let it settle
 * 2 s, then report the supervisor's footprint: the sum of VmRSS (and of
 * Pss) of PID and every descendant that is not --prog, and their
 * utime+stime over --secs seconds.
 *
 * kill-tree: SIGSTOP every process of the trees under the PIDs (so no
 * supervisor can respawn anything), then SIGKILL them all. Only the
 * given roots and their descendants are touched.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "stamp";

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
sleep_until(int64_t ns)
{
	struct timespec ts = {ns / 1000000000, ns % 1000000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "restart_latency: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* ---- /proc ---- */

struct proc {
	pid_t pid, ppid;
	char comm[32];
	uint64_t ticks; /* utime + stime */
	int in_tree;
};

static struct proc *procs;
static size_t nprocs, capprocs;

static int
read_stat(struct proc *p, pid_t pid)
{
	char path[64], buf[1024], *rp, *s;
	ssize_t n;
	int fd, field;
	unsigned long long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and ')': the fields resume after the last ')'. */
	s = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (s == NULL || rp == NULL || rp < s)
		return -1;
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	snprintf(p->comm, sizeof(p->comm), "%.*s", (int)(rp - s - 1), s + 1);
	/* Field 3 (state) starts at rp + 2. */
	s = rp + 2;
	for (field = 3; field <= 15 && *s; field++) {
		if (field == 4)
			p->ppid = (pid_t)strtol(s, NULL, 10);
		else if (field == 14)
			ut = strtoull(s, NULL, 10);
		else if (field == 15)
			st = strtoull(s, NULL, 10);
		s = strchr(s, ' ');
		if (s == NULL)
			break;
		s++;
	}
	p->ticks = ut + st;
	return 0;
}

static int
cmp_pid(const void *a, const void *b)
{
	pid_t x = ((const struct proc *)a)->pid, y = ((const struct proc *)b)->pid;

	return x < y ? -1 : x > y;
}

static void
scan_procs(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc");

	if (d == NULL)
		die("opendir %s failed", "/proc");
	nprocs = 0;
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		if (nprocs == capprocs) {
			capprocs = capprocs ? capprocs * 2 : 1024;
			procs = realloc(procs, capprocs * sizeof(*procs));
			if (procs == NULL)
				die("%s", "out of memory");
		}
		if (read_stat(&procs[nprocs], (pid_t)atoi(e->d_name)) == 0)
			nprocs++;
	}
	closedir(d);
	/* By pid, so mark_tree() finds a parent with bsearch. */
	qsort(procs, nprocs, sizeof(*procs), cmp_pid);
}

/* Mark root and its descendants (in_tree); returns how many. */
static size_t
mark_tree(pid_t root)
{
	size_t i, n = 0;
	int changed = 1;

	for (i = 0; i < nprocs; i++)
		procs[i].in_tree = procs[i].pid == root;
	/* Pass until nothing changes: trees here are 2-3 levels deep. */
	while (changed) {
		changed = 0;
		for (i = 0; i < nprocs; i++) {
			struct proc key, *parent;

			if (procs[i].in_tree)
				continue;
			key.pid = procs[i].ppid;
			parent = bsearch(&key, procs, nprocs, sizeof(*procs), cmp_pid);
			if (parent != NULL && parent->in_tree) {
				procs[i].in_tree = 1;
				changed = 1;
			}
		}
	}
	for (i = 0; i < nprocs; i++)
		n += (size_t)procs[i].in_tree;
	return n;
}

/* A "Key:   N kB" line of a /proc file, in kB (0 when absent). */
static long
proc_kb(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0) {
			kb = strtol(line + klen, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* Is comm one of the comma-separated names in prog? ("stamp,run": the
 * daemontools family runs ./run, a symlink to stamp, named "run".) */
static int
is_prog(const char *comm)
{
	const char *p = prog;
	size_t n = strlen(comm);

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, comm, n) == 0)
			return 1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
alive_prog(pid_t pid)
{
	struct proc p;

	return read_stat(&p, pid) == 0 && is_prog(p.comm);
}

/* ---- latency ---- */

struct peer {
	const char *name, *file;
	int64_t *lat;     /* ns */
	int n, fails;
	int run_port;     /* --run: orch-slave API port; 0 none */
	const char *run_id;
	int64_t *run;     /* kill -> state Run with the new pid, ns */
	int nrun, run_fails;
};

/* GET path from 127.0.0.1:port into buf (headers and body); bytes or -1. */
static ssize_t
http_get(char *buf, size_t len, int port, const char *path, const char *token)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[1024];
	size_t got = 0;
	ssize_t n;
	int fd, rlen;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Authorization: Bearer %s\r\nConnection: close\r\n\r\n", path,
	    token ? token : "");
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, (size_t)rlen) != rlen) {
		close(fd);
		return -1;
	}
	while (got + 1 < len && (n = read(fd, buf + got, len - got - 1)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Does the slave's compact JSON in buf say state Run with pid? */
static int
shows_run(const char *buf, pid_t pid)
{
	char want[48];

	snprintf(want, sizeof(want), "\"pid\":%d,", (int)pid);
	return strstr(buf, "\"state\":\"Run\"") != NULL && strstr(buf, want) != NULL;
}

/* Poll until the instance is Run with npid (or the deadline); ns or -1. */
static int64_t
wait_run(const struct peer *p, const char *token, pid_t npid, int64_t deadline)
{
	static char buf[65536];
	char path[512];

	snprintf(path, sizeof(path), "/v1/instances/%s", p->run_id);
	for (;;) {
		if (http_get(buf, sizeof(buf), p->run_port, path, token) > 0 &&
		    shows_run(buf, npid))
			return mono_ns();
		if (mono_ns() > deadline)
			return -1;
		usleep(1000);
	}
}

/* The last complete line of a stamp file; lines counts them. */
static int
last_stamp(const char *path, pid_t *pid, int64_t *mono, int *lines)
{
	static char buf[1 << 20];
	char *end, *start;
	ssize_t n;
	long long p, m;
	int fd = open(path, O_RDONLY | O_CLOEXEC), c = 0;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		c += buf[i] == '\n';
	end = strrchr(buf, '\n');
	if (end == NULL)
		return -1;
	*end = '\0';
	start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	if (sscanf(start, "%lld %lld", &p, &m) != 2)
		return -1;
	*pid = (pid_t)p;
	*mono = m;
	*lines = c;
	return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double
median_ms(const int64_t *a, int n)
{
	if (n == 0)
		return 0;
	if (n % 2)
		return a[n / 2] / 1e6;
	return (a[n / 2 - 1] + a[n / 2]) / 2e6;
}

static int
cmd_latency(int argc, char **argv)
{
	struct peer *peers;
	int npeers = 0, kills = 50, i, r, ifd;
	int64_t gap = 1100 * 1000000LL, timeout = 10000 * 1000000LL;
	const char *csv = NULL, *token = NULL;
	double floor_med = 0;
	struct {
		char *name, *id;
		int port;
	} runs[16];
	int nruns = 0;
	FILE *cf = NULL;

	peers = calloc((size_t)argc, sizeof(*peers));
	for (i = 0; i < argc; i++) {
		char *eq;

		if (strcmp(argv[i], "--kills") == 0 && i + 1 < argc)
			kills = atoi(argv[++i]);
		else if (strcmp(argv[i], "--gap-ms") == 0 && i + 1 < argc)
			gap = atoll(argv[++i]) * 1000000LL;
		else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
			timeout = atoll(argv[++i]) * 1000000LL;
		else if (strcmp(argv[i], "--prog") == 0 && i + 1 < argc)
			prog = argv[++i];
		else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
			csv = argv[++i];
		else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
			token = argv[++i];
		else if (strcmp(argv[i], "--run") == 0 && i + 1 < argc && nruns < 16) {
			char *a = argv[++i], *e = strchr(a, '='), *c;

			if (e == NULL || (c = strchr(e + 1, ':')) == NULL)
				die("--run wants PEER=PORT:ID, not %s", a);
			*e = *c = '\0';
			runs[nruns].name = a;
			runs[nruns].port = atoi(e + 1);
			runs[nruns].id = c + 1;
			nruns++;
		}
		else if ((eq = strchr(argv[i], '=')) != NULL) {
			*eq = '\0';
			peers[npeers].name = argv[i];
			peers[npeers].file = eq + 1;
			peers[npeers].lat = calloc((size_t)kills + 1, sizeof(int64_t));
			npeers++;
		} else
			die("bad argument %s", argv[i]);
	}
	if (npeers == 0 || kills <= 0)
		die("%s", "usage: latency [--kills N] PEER=STAMPFILE...");
	for (int k = 0; k < nruns; k++) {
		for (i = 0; i < npeers && strcmp(peers[i].name, runs[k].name) != 0; i++)
			;
		if (i == npeers)
			die("--run names no peer: %s", runs[k].name);
		peers[i].run_port = runs[k].port;
		peers[i].run_id = runs[k].id;
		peers[i].run = calloc((size_t)kills + 1, sizeof(int64_t));
	}
	if (csv && (cf = fopen(csv, "w")) == NULL)
		die("cannot write %s", csv);
	if (cf)
		fprintf(cf, "peer,kill,latency_ns,run_ns\n");
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0)
		die("%s", "inotify_init1 failed");
	for (i = 0; i < npeers; i++) {
		pid_t pid;
		int64_t mono, deadline = mono_ns() + 30 * 1000000000LL;
		int lines;

		/* Each peer must have started its program once. */
		while (last_stamp(peers[i].file, &pid, &mono, &lines) < 0) {
			if (mono_ns() > deadline)
				die("no stamp from peer %s within 30 s", peers[i].name);
			usleep(20000);
		}
		if (inotify_add_watch(ifd, peers[i].file, IN_MODIFY) < 0)
			die("inotify_add_watch %s failed", peers[i].file);
	}
	fprintf(stderr, "restart_latency: %d peers, %d kills each, %lld ms apart\n",
	    npeers, kills, (long long)(gap / 1000000));

	for (r = 0; r < kills; r++) {
		for (i = 0; i < npeers; i++) {
			struct peer *p = &peers[i];
			pid_t pid, npid;
			int64_t mono, nmono, t0, deadline;
			int lines, nlines;
			char evbuf[4096];

			if (last_stamp(p->file, &pid, &mono, &lines) < 0 ||
			    !alive_prog(pid)) {
				p->fails++;
				continue;
			}
			sleep_until(mono + gap);
			while (read(ifd, evbuf, sizeof(evbuf)) > 0)
				; /* drain: only what follows the kill matters */
			t0 = mono_ns();
			if (kill(pid, SIGKILL) < 0) {
				p->fails++;
				continue;
			}
			deadline = t0 + timeout;
			for (;;) {
				struct pollfd pfd = {ifd, POLLIN, 0};
				int64_t left;

				if (last_stamp(p->file, &npid, &nmono, &nlines) == 0 &&
				    nlines > lines && npid != pid)
					break;
				left = deadline - mono_ns();
				if (left <= 0)
					break;
				poll(&pfd, 1, (int)(left / 1000000) + 1);
				while (read(ifd, evbuf, sizeof(evbuf)) > 0)
					;
			}
			if (nlines > lines && npid != pid) {
				int64_t run = -1;

				p->lat[p->n++] = nmono - t0;
				if (p->run_port > 0) {
					run = wait_run(p, token, npid, deadline);
					if (run < 0)
						p->run_fails++;
					else
						p->run[p->nrun++] = run - t0;
				}
				if (cf)
					fprintf(cf, "%s,%d,%lld,%lld\n", p->name, r,
					    (long long)(nmono - t0),
					    (long long)(run < 0 ? -1 : run - t0));
			} else {
				fprintf(stderr, "restart_latency: %s: no restart within "
				    "%lld ms\n", p->name, (long long)(timeout / 1000000));
				p->fails++;
			}
		}
		if ((r + 1) % 10 == 0)
			fprintf(stderr, "restart_latency: round %d/%d\n", r + 1, kills);
	}

	for (i = 0; i < npeers; i++) {
		qsort(peers[i].lat, (size_t)peers[i].n, sizeof(int64_t), cmp_i64);
		if (peers[i].run != NULL)
			qsort(peers[i].run, (size_t)peers[i].nrun, sizeof(int64_t), cmp_i64);
		if (strcmp(peers[i].name, "floor") == 0)
			floor_med = median_ms(peers[i].lat, peers[i].n);
	}
	printf("| peer | n | median ms | p90 ms | max ms | median / floor "
	    "| kill -> Run (health passing): median ms | p90 ms |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < npeers; i++) {
		struct peer *p = &peers[i];
		int k90 = (p->n * 9 + 9) / 10 - 1; /* nearest rank */
		double med = median_ms(p->lat, p->n);

		if (p->n == 0) {
			printf("| %s | 0 (%d failed) | - | - | - | - | - | - |\n", p->name,
			    p->fails);
			continue;
		}
		printf("| %s | %d%s | %.2f | %.2f | %.2f | ", p->name, p->n,
		    p->fails ? " (+fail)" : "", med, p->lat[k90] / 1e6,
		    p->lat[p->n - 1] / 1e6);
		if (floor_med > 0)
			printf("%.1fx | ", med / floor_med);
		else
			printf("- | ");
		if (p->run == NULL)
			printf("n/a | n/a |\n"); /* no health check */
		else if (p->nrun == 0)
			printf("0 (%d failed) | - |\n", p->run_fails);
		else
			printf("%.2f%s | %.2f |\n", median_ms(p->run, p->nrun),
			    p->run_fails ? " (+fail)" : "",
			    p->run[(p->nrun * 9 + 9) / 10 - 1] / 1e6);
	}
	if (cf)
		fclose(cf);
	close(ifd);
	for (i = 0; i < npeers; i++) {
		free(peers[i].lat);
		free(peers[i].run);
	}
	free(peers);
	return 0;
}

/* ---- idle footprint ---- */

static int
cmd_idle(int argc, char **argv)
{
	const char *name = NULL;
	pid_t root = 0;
	int secs = 10, expect = 1000, wait_s = 300, i;
	size_t nsup = 0, nprog = 0;
	uint64_t *t1pid = NULL, *t1ticks = NULL, ticks = 0;
	size_t n1 = 0;
	long rss = 0, pss = 0;
	int64_t t_start = mono_ns(), t_up = 0;
	long hz = sysconf(_SC_CLK_TCK);

	for (i = 0; i < argc; i++) {
		char *eq;

		if (strcmp(argv[i], "--secs") == 0 && i + 1 < argc)
			secs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
			expect = atoi(argv[++i]);
		else if (strcmp(argv[i], "--wait-s") == 0 && i + 1 < argc)
			wait_s = atoi(argv[++i]);
		else if (strcmp(argv[i], "--prog") == 0 && i + 1 < argc)
			prog = argv[++i];
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			t_start = atoll(argv[++i]);
		else if ((eq = strchr(argv[i], '=')) != NULL) {
			*eq = '\0';
			name = argv[i];
			root = (pid_t)atoi(eq + 1);
		} else
			die("bad argument %s", argv[i]);
	}
	if (name == NULL || root <= 0)
		die("%s", "usage: idle [--secs S] [--expect N] PEER=PID");

	/* Until every supervised process is up. */
	for (;;) {
		size_t k;

		scan_procs();
		mark_tree(root);
		nprog = 0;
		for (k = 0; k < nprocs; k++)
			if (procs[k].in_tree && is_prog(procs[k].comm))
				nprog++;
		if (kill(root, 0) < 0 && errno == ESRCH)
			die("supervisor %s is gone", name);
		if ((int)nprog >= expect)
			break;
		if (mono_ns() - t_start > (int64_t)wait_s * 1000000000) {
			fprintf(stderr, "restart_latency: %s: only %zu of %d up after "
			    "%d s\n", name, nprog, expect, wait_s);
			break;
		}
		usleep(250000);
	}
	t_up = mono_ns() - t_start;
	sleep(2);

	/* CPU of the supervisor tree (everything but prog) over secs. */
	scan_procs();
	mark_tree(root);
	t1pid = calloc(nprocs + 1, sizeof(uint64_t));
	t1ticks = calloc(nprocs + 1, sizeof(uint64_t));
	for (size_t k = 0; k < nprocs; k++)
		if (procs[k].in_tree && !is_prog(procs[k].comm)) {
			t1pid[n1] = (uint64_t)procs[k].pid;
			t1ticks[n1++] = procs[k].ticks;
		}
	sleep((unsigned)secs);
	scan_procs();
	mark_tree(root);
	nprog = 0;
	for (size_t k = 0; k < nprocs; k++) {
		struct proc *p = &procs[k];
		size_t j;

		if (!p->in_tree)
			continue;
		if (is_prog(p->comm)) {
			nprog++;
			continue;
		}
		nsup++;
		rss += proc_kb(p->pid, "status", "VmRSS:");
		/* PSS splits shared pages (libc, the binary) among their
		 * users: the fair sum for a tree of 1,000 small processes. */
		pss += proc_kb(p->pid, "smaps_rollup", "Pss:");
		ticks += p->ticks;
		for (j = 0; j < n1; j++)
			if (t1pid[j] == (uint64_t)p->pid) {
				ticks -= t1ticks[j];
				break;
			}
	}
	printf("| %s | %zu | %zu | %.1f | %.1f | %.1f | %.0f | %.2f%% |\n", name,
	    nsup, nprog, t_up / 1e9, rss / 1024.0, pss / 1024.0,
	    ticks * 1000.0 / (double)hz,
	    100.0 * (double)ticks / (double)hz / secs);
	free(t1pid);
	free(t1ticks);
	return 0;
}

/* ---- kill-tree ---- */

static int
cmd_kill_tree(int argc, char **argv)
{
	pid_t *victims = NULL;
	size_t nv = 0, cap = 0, k;
	int i, pass;

	/* Two passes: a supervisor stopped in the first cannot have
	 * started anything new by the second. */
	for (pass = 0; pass < 2; pass++) {
		scan_procs();
		for (i = 0; i < argc; i++) {
			pid_t root = (pid_t)atoi(argv[i]);

			if (root <= 1)
				continue;
			mark_tree(root);
			for (k = 0; k < nprocs; k++) {
				if (!procs[k].in_tree)
					continue;
				kill(procs[k].pid, SIGSTOP);
				if (nv == cap) {
					cap = cap ? cap * 2 : 256;
					victims = realloc(victims, cap * sizeof(*victims));
					if (victims == NULL)
						die("%s", "out of memory");
				}
				victims[nv++] = procs[k].pid;
			}
		}
	}
	for (k = 0; k < nv; k++) {
		kill(victims[k], SIGKILL);
		kill(victims[k], SIGCONT);
	}
	free(victims);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "latency") == 0)
		return cmd_latency(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "idle") == 0)
		return cmd_idle(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "now") == 0) {
		printf("%lld\n", (long long)mono_ns());
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "kill-tree") == 0)
		return cmd_kill_tree(argc - 2, argv + 2);
	fprintf(stderr, "usage: restart_latency latency|idle|kill-tree ...\n");
	return 2;
}
