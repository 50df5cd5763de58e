/*
 * artifact_unpack.c - unpack a verified archive with /bin/tar, safely;
 * the part of the artifact module that runs tar and judges what it made
 * (see artifact.c for the order of a fetch).
 *
 * First `tar -tP` (-P shows the member names as stored, which is what we
 * must judge: without it GNU tar silently strips a leading '/') and refuse
 * absolute names, ".." components and our marker's name; then extract
 * without -P, where GNU tar's own defaults strip '/' and refuse ".." again
 * (defence in depth), with --no-same-owner. Then walk the result: no
 * device nodes, fifos or sockets, no setuid/setgid bits, no symlink
 * leading out of the dir (tar happily restores "lib -> /etc" or
 * "up -> ../..").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "artifact.h"
#include "err.h"

#define TAR_PATH "/bin/tar"
#define MAX_LISTING (32u << 20)   /* bytes of `tar -t` output we accept */
#define MAX_DEPTH 128             /* directory nesting in an artifact */

void
artifact_rm_at(int dfd, const char *name, int depth)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return;
	if ((errno != EISDIR && errno != EPERM) || depth > MAX_DEPTH + 8)
		return;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			artifact_rm_at(fd, e->d_name, depth + 1);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

void
artifact_rm_tree(const char *path)
{
	artifact_rm_at(AT_FDCWD, path, 0);
}

/* ---- running /bin/tar ---- */

/* The first, version-0 part of the kernel's struct clone_args: declared
 * here because <linux/sched.h> and glibc's <sched.h> clash. */
struct clone_args_v0 {
	uint64_t flags, pidfd, child_tid, parent_tid;
	uint64_t exit_signal, stack, stack_size, tls;
};

/*
 * fork() without glibc's bookkeeping, choosing the signal the parent gets
 * when the child ends. With exit_signal 0 there is no SIGCHLD at all and
 * waitpid(-1, ...) without __WALL does not see the child: a daemon that
 * reaps with waitpid(-1) on its main thread cannot steal the status that
 * this thread waits for. The kernel resets the exit signal to SIGCHLD on
 * execve, so the process that execs tar is a grandchild, waited for by an
 * intermediate that never execs. Children of a raw clone only make plain
 * system calls (no malloc, no locks) until they exec or _exit.
 */
static pid_t
fork_signal(int exit_signal)
{
#ifdef SYS_clone3
	struct clone_args_v0 ca;

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = (uint64_t)exit_signal;
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
#else
	errno = ENOSYS;
	return -1;
#endif
}

static void __attribute__((noreturn))
tar_exec(char *const argv[], int nullfd, int outfd, int errfd)
{
	sigset_t none;

	/* Dies with the intermediate, which dies with the fetching thread:
	 * a slave killed mid-unpack leaves no tar behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(nullfd, 0);
	dup2(outfd, 1);
	dup2(errfd, 2);
	/* Ignored signals stay ignored across exec; tar (and the gzip it
	 * runs) expect the defaults. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(TAR_PATH, argv);
	_exit(127);
}

/* The intermediate: start tar, wait for it with a deadline, exit with its
 * status (exit code, 128+signal, 124 on timeout, 126 if it could not
 * start, 127 if exec failed). */
static void __attribute__((noreturn))
tar_intermediate(char *const argv[], int nullfd, int outfd, int errfd,
    int64_t timeout_ms)
{
	struct timespec now, deadline, ts;
	sigset_t all, chld;
	pid_t gc;
	int st;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigfillset(&all);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* SIG_IGN would make the kernel reap tar before we read its status. */
	signal(SIGCHLD, SIG_DFL);
	gc = fork_signal(SIGCHLD);
	if (gc < 0 && errno == ENOSYS)
		gc = fork();
	if (gc < 0)
		_exit(126);
	if (gc == 0)
		tar_exec(argv, nullfd, outfd, errfd);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	for (;;) {
		pid_t r = waitpid(gc, &st, WNOHANG);
		int64_t left;

		if (r == gc)
			break;
		if (r < 0 && errno != EINTR)
			_exit(126);
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (int64_t)(deadline.tv_sec - now.tv_sec) * 1000000000 +
		    (deadline.tv_nsec - now.tv_nsec);
		if (left <= 0) {
			kill(gc, SIGKILL);
			waitpid(gc, &st, 0);
			_exit(124);
		}
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		sigtimedwait(&chld, NULL, &ts);
	}
	if (WIFEXITED(st))
		_exit(WEXITSTATUS(st));
	_exit(128 + (WTERMSIG(st) & 0x7f));
}

/* Read a memfd's content (up to max bytes) as a NUL-terminated string. */
static char *
memfd_text(int fd, size_t max, int *truncated)
{
	struct stat st;
	size_t len, off = 0;
	char *s;

	*truncated = 0;
	if (fstat(fd, &st) < 0)
		return NULL;
	len = (size_t)st.st_size;
	if (len > max) {
		len = max;
		*truncated = 1;
	}
	s = malloc(len + 1);
	if (s == NULL)
		return NULL;
	while (off < len) {
		ssize_t n = pread(fd, s + off, len - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	s[off] = '\0';
	return s;
}

/*
 * Run /bin/tar with argv. Returns 0 with *out_stdout (malloc'd) when tar
 * exited 0; otherwise an error whose message says what (what tar printed
 * on stderr included). out_stdout may be NULL when the output is unwanted.
 */
static int
run_tar(char **out_stdout, char *const argv[], int64_t timeout_ms,
    const char *what)
{
	char *err = NULL, *out = NULL;
	int outfd = -1, errfd = -1, nullfd = -1, st = 0, code, trunc, rc = 0;
	int wflags = __WCLONE;
	pid_t pid;

	outfd = memfd_create("orch-tar-out", MFD_CLOEXEC);
	errfd = memfd_create("orch-tar-err", MFD_CLOEXEC);
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (outfd < 0 || errfd < 0 || nullfd < 0) {
		rc = orch_err_sys(ORCH_ERROR, "%s: prepare tar", what);
		goto out;
	}
	pid = fork_signal(0);
	if (pid < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* No clone3 (old kernel or a seccomp filter): a plain fork.
		 * Then a daemon's waitpid(-1) could race us for the status. */
		pid = fork();
		wflags = 0;
	}
	if (pid < 0) {
		rc = orch_err_sys(ORCH_ERROR, "%s: fork", what);
		goto out;
	}
	if (pid == 0)
		tar_intermediate(argv, nullfd, outfd, errfd, timeout_ms);
	while (waitpid(pid, &st, wflags) < 0) {
		if (errno != EINTR) {
			rc = orch_err_sys(ORCH_ERROR, "%s: wait for tar", what);
			goto out;
		}
	}
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 126;
	err = memfd_text(errfd, 2048, &trunc);
	if (err != NULL) {
		size_t n = strlen(err);

		while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		for (char *p = err; *p; p++)
			if (*p == '\n')
				*p = ' ';
	}
	if (code == 124)
		rc = orch_err_set(ORCH_ERROR, "%s: tar did not finish within %lld ms",
		    what, (long long)timeout_ms);
	else if (code == 127)
		rc = orch_err_set(ORCH_ERROR, "%s: cannot run %s", what, TAR_PATH);
	else if (code != 0)
		rc = orch_err_set(ORCH_ERROR, "%s: tar failed (exit %d): %s", what,
		    code, err && err[0] ? err : "no message");
	if (rc == 0 && out_stdout != NULL) {
		out = memfd_text(outfd, MAX_LISTING, &trunc);
		if (out == NULL)
			rc = orch_err_set(ORCH_ERROR, "out of memory");
		else if (trunc)
			rc = orch_err_set(ORCH_ETOOBIG, "%s: archive lists more than "
			    "%u bytes of names", what, MAX_LISTING);
		else {
			*out_stdout = out;
			out = NULL;
		}
	}
out:
	free(err);
	free(out);
	if (outfd >= 0)
		close(outfd);
	if (errfd >= 0)
		close(errfd);
	if (nullfd >= 0)
		close(nullfd);
	return rc;
}

/* ---- judging an archive ---- */

int
artifact_sniff(enum artifact_kind *out, int fd)
{
	uint8_t b[512];
	ssize_t n = pread(fd, b, sizeof(b), 0);

	if (n < 0)
		return orch_err_sys(ORCH_ERROR, "read downloaded artifact");
	*out = ARTIFACT_FILE;
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		*out = ARTIFACT_TARGZ;
	else if ((n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0) ||
	    (n >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0) ||
	    (n >= 4 && memcmp(b, "BZh", 3) == 0 && b[3] >= '1' && b[3] <= '9'))
		*out = ARTIFACT_TARAUTO; /* xz, zstd, bzip2: GNU tar detects these */
	else if (n >= 262 && memcmp(b + 257, "ustar", 5) == 0)
		*out = ARTIFACT_TAR;
	return 0;
}

/* Refuse member names that could land outside the dir (see the top). */
static int
check_listing(char *listing, const char *url)
{
	char *line, *save = NULL;

	/* GNU tar reads a short non-tar stream as an empty archive. */
	if (listing[strspn(listing, "\n")] == '\0')
		return orch_err_set(ORCH_EINVALID, "artifact %s: archive has no "
		    "members (not a tar archive?)", url);
	for (line = strtok_r(listing, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *p = line, *first = NULL;
		size_t ncomp = 0;

		if (line[0] == '/')
			return orch_err_set(ORCH_EINVALID, "artifact %s: unsafe "
			    "member name \"%s\" (absolute path)", url, line);
		while (*p) {
			size_t len = strcspn(p, "/");

			if (len == 2 && p[0] == '.' && p[1] == '.')
				return orch_err_set(ORCH_EINVALID, "artifact %s: unsafe "
				    "member name \"%s\" (contains ..)", url, line);
			if (len > 0 && !(len == 1 && p[0] == '.')) {
				if (ncomp++ == 0)
					first = p;
			}
			p += len;
			if (*p == '/')
				p++;
		}
		if (ncomp == 1 && strncmp(first, ARTIFACT_MARKER,
		    strlen(ARTIFACT_MARKER)) == 0 &&
		    (first[strlen(ARTIFACT_MARKER)] == '\0' ||
		    first[strlen(ARTIFACT_MARKER)] == '/'))
			return orch_err_set(ORCH_EINVALID, "artifact %s: member name "
			    "\"%s\" is reserved for orch", url, line);
	}
	return 0;
}

/* Sum the member sizes of a `tar -tv --numeric-owner` listing (third
 * field: "MODE UID/GID SIZE DATE TIME NAME"): a small gzip can expand to
 * fill the disk, and the download cap bounds only the compressed size. */
static int
check_sizes(const char *listing, uint64_t max, const char *url)
{
	const char *line = listing;
	uint64_t total = 0;

	while (*line) {
		size_t len = strcspn(line, "\n");
		unsigned long long sz;
		char buf[256];

		snprintf(buf, sizeof(buf), "%.*s", (int)(len < 255 ? len : 255), line);
		if (sscanf(buf, "%*s %*s %llu", &sz) == 1) {
			if (sz > max || total + sz > max)
				return orch_err_set(ORCH_ETOOBIG, "artifact %s unpacks to "
				    "more than %llu bytes", url, (unsigned long long)max);
			total += sz;
		}
		line += len;
		if (*line == '\n')
			line++;
	}
	return 0;
}

/* Does symlink target t, found in a dir depth levels below the root, stay
 * inside the root when read as a path (without following other links)? */
static int
link_stays_inside(const char *t, int depth)
{
	if (t[0] == '/')
		return 0;
	while (*t) {
		size_t len = strcspn(t, "/");

		if (len == 2 && t[0] == '.' && t[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (len > 0 && !(len == 1 && t[0] == '.'))
			depth++;
		t += len;
		if (*t == '/')
			t++;
	}
	return 1;
}

struct walk {
	const char *url;
	char root_real[PATH_MAX];
	size_t root_len;
	char path[PATH_MAX];   /* the dir being walked, grown and cut back */
	char target[PATH_MAX]; /* scratch: kept off the recursion's stack */
	char real[PATH_MAX];
};

/* Walk the unpacked tree at dfd (w->path), depth levels below the root:
 * see step 4 at the top. */
static int
walk_check(struct walk *w, int dfd, int depth)
{
	struct dirent *e;
	struct stat st;
	size_t plen = strlen(w->path);
	DIR *d;
	int fd, rc = 0;

	fd = dup(dfd);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return orch_err_sys(ORCH_ERROR, "read %s", w->path);
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		const char *name = e->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (plen + 1 + strlen(name) >= sizeof(w->path)) {
			rc = orch_err_set(ORCH_EINVALID, "artifact %s: path too long "
			    "under %s", w->url, w->path);
			break;
		}
		snprintf(w->path + plen, sizeof(w->path) - plen, "/%s", name);
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = orch_err_sys(ORCH_ERROR, "stat %s", w->path);
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			if (depth + 1 >= MAX_DEPTH) {
				rc = orch_err_set(ORCH_EINVALID, "artifact %s: nested "
				    "deeper than %d dirs", w->url, MAX_DEPTH);
				break;
			}
			/* u+rwx so we can always walk and delete it later. */
			fchmodat(dfd, name, (st.st_mode & 01777) | 0700, 0);
			sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
			if (sub < 0)
				rc = orch_err_sys(ORCH_ERROR, "open %s", w->path);
			else {
				rc = walk_check(w, sub, depth + 1);
				close(sub);
			}
		} else if (S_ISREG(st.st_mode)) {
			if (st.st_mode & (S_ISUID | S_ISGID))
				fchmodat(dfd, name, st.st_mode & 01777, 0);
		} else if (S_ISLNK(st.st_mode)) {
			char *target = w->target, *real = w->real;
			ssize_t n = readlinkat(dfd, name, target, PATH_MAX - 1);

			if (n < 0) {
				rc = orch_err_sys(ORCH_ERROR, "readlink %s", w->path);
				break;
			}
			target[n] = '\0';
			/* Lexically, then for real: the lexical test misses
			 * chains (d -> ., e -> d/..) that realpath resolves. */
			if (!link_stays_inside(target, depth) ||
			    (realpath(w->path, real) != NULL &&
			    (strncmp(real, w->root_real, w->root_len) != 0 ||
			    (real[w->root_len] != '/' && real[w->root_len] != '\0'))))
				rc = orch_err_set(ORCH_EINVALID, "artifact %s: symlink "
				    "%s -> %s leads out of the artifact dir", w->url,
				    w->path + w->root_len + 1, target);
		} else
			rc = orch_err_set(ORCH_EINVALID, "artifact %s: %s is a device, "
			    "fifo or socket", w->url, w->path + w->root_len + 1);
	}
	w->path[plen] = '\0';
	closedir(d);
	return rc;
}

int
artifact_unpack_tar(const char *archive, const char *dir, enum artifact_kind kind,
    const char *url, const struct artifact_opts *o)
{
	const char *zflag = kind == ARTIFACT_TARGZ ? "-z" : NULL;
	char *listing = NULL, *vlisting = NULL, what[256];
	struct walk *w = NULL;
	int rc, dfd = -1;
	/* Optional flags go last so a NULL ends argv early. */
	char *list_argv[] = {"tar", "-t", "-P", "-f", (char *)archive,
	    (char *)zflag, NULL};
	char *vlist_argv[] = {"tar", "-t", "-v", "--numeric-owner", "-f",
	    (char *)archive, (char *)zflag, NULL};
	char *x_argv[] = {"tar", "-x", "--no-same-owner", "--no-same-permissions",
	    "--warning=no-timestamp", "-f", (char *)archive, "-C", (char *)dir,
	    (char *)zflag, NULL};

	snprintf(what, sizeof(what), "artifact %.200s", url);
	rc = run_tar(&listing, list_argv, o->unpack_timeout_ms, what);
	if (rc < 0)
		goto out;
	rc = check_listing(listing, url);
	if (rc < 0)
		goto out;
	rc = run_tar(&vlisting, vlist_argv, o->unpack_timeout_ms, what);
	if (rc < 0)
		goto out;
	rc = check_sizes(vlisting, o->max_unpacked_bytes, url);
	if (rc < 0)
		goto out;
	rc = run_tar(NULL, x_argv, o->unpack_timeout_ms, what);
	if (rc < 0)
		goto out;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		rc = orch_err_set(ORCH_ERROR, "out of memory");
		goto out;
	}
	w->url = url;
	if (realpath(dir, w->root_real) == NULL) {
		rc = orch_err_sys(ORCH_ERROR, "realpath %s", dir);
		goto out;
	}
	w->root_len = strlen(w->root_real);
	snprintf(w->path, sizeof(w->path), "%s", w->root_real);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = orch_err_sys(ORCH_ERROR, "open %s", dir);
		goto out;
	}
	rc = walk_check(w, dfd, 0);
out:
	if (dfd >= 0)
		close(dfd);
	free(w);
	free(listing);
	free(vlisting);
	return rc;
}
