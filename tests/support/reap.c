/* reap.c - stop every instance process of a fixture, see reap.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon.h"
#include "err.h"
#include "procfs.h"
#include "reap.h"

/* After SIGKILL only the kernel's teardown is left: a short wait. */
#define REAP_KILL_WAIT_MS 2000

int
reap_slave_delete_all(const char *url, const char *token)
{
	char path[512], first[640] = "";
	json_t *list = NULL, *v;
	size_t i, failed = 0;
	long st = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/v1/instances", url);
	if (http_json(&list, &st, "GET", path, token, NULL) < 0 || st != 200) {
		rc = orch_err_set(ORCH_EUNAVAIL, "GET %s: status %ld", path, st);
		goto out;
	}
	json_array_foreach(json_object_get(list, "instances"), i, v) {
		const char *id = json_string_value(json_object_get(v, "id"));
		json_t *r = NULL;

		if (id == NULL)
			continue;
		/* Ids are [A-Za-z0-9_.-] (docs/slave.md): no escaping. 404
		 * is an instance that went away since the list: fine. */
		snprintf(path, sizeof(path), "%s/v1/instances/%s", url, id);
		if ((http_json(&r, &st, "DELETE", path, token, NULL) < 0 ||
		    (st != 202 && st != 404)) && failed++ == 0)
			snprintf(first, sizeof(first), "DELETE %s: status %ld%s%s", path, st,
			    st == 0 ? ": " : "", st == 0 ? orch_err_last() : "");
		json_decref(r);
	}
	if (failed > 0)
		rc = orch_err_set(ORCH_ERROR, "%zu DELETEs failed, the first: %s", failed, first);
out:
	json_decref(list);
	return rc;
}

bool
reap_slave_empty(const char *url, const char *token)
{
	char path[512];
	json_t *list = NULL;
	long st = 0;
	bool empty;

	snprintf(path, sizeof(path), "%s/v1/instances", url);
	http_json(&list, &st, "GET", path, token, NULL);
	empty = st == 200 && json_array_size(json_object_get(list, "instances")) == 0;
	json_decref(list);
	return empty;
}

/*
 * Whether pid's environment holds ORCH_INSTANCE_ID and an ORCH_DATA_DIR
 * that starts with prefix ("DIR/"): an instance of one of our slaves
 * (reap.h says why this test). A process we may not read (another user)
 * is not ours.
 */
static bool
is_instance_under(pid_t pid, const char *prefix)
{
	static const char id_key[] = "ORCH_INSTANCE_ID=", dir_key[] = "ORCH_DATA_DIR=";
	char path[64], buf[65536];
	size_t plen = strlen(prefix), n = 0;
	bool has_id = false, has_dir = false;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	/* An environment longer than buf is cut: the orch variables come
	 * first after the slave's few (slave/spawn.c), well inside it. */
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	for (size_t off = 0; off < n; off += strlen(buf + off) + 1) {
		const char *e = buf + off;

		if (strncmp(e, id_key, sizeof(id_key) - 1) == 0)
			has_id = true;
		else if (strncmp(e, dir_key, sizeof(dir_key) - 1) == 0 &&
		    strncmp(e + sizeof(dir_key) - 1, prefix, plen) == 0)
			has_dir = true;
	}
	return has_id && has_dir;
}

/* "DIR/" into out, so that DIR2 beside DIR never matches. */
static int
make_prefix(char *out, size_t len, const char *dir)
{
	if (dir == NULL || *dir == '\0')
		return orch_err_set(ORCH_EINVALID, "no directory to reap under");
	if ((size_t)snprintf(out, len, "%s/", dir) >= len)
		return orch_err_set(ORCH_ETOOBIG, "directory name too long: %s", dir);
	return 0;
}

/* Call fn(pid, arg) for every live instance process under prefix; the
 * number found. */
static size_t
each_instance(const char *prefix, void (*fn)(pid_t pid, void *arg), void *arg)
{
	pid_t self = getpid();
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (pid <= 1 || pid == self || !pid_alive(pid) || !is_instance_under(pid, prefix))
			continue;
		n++;
		if (fn != NULL)
			fn(pid, arg);
	}
	closedir(d);
	return n;
}

size_t
reap_count(const char *dir)
{
	char prefix[PATH_MAX + 2];

	if (make_prefix(prefix, sizeof(prefix), dir) < 0)
		return 0;
	return each_instance(prefix, NULL, NULL);
}

struct reap_sig {
	const char *prefix;
	int sig;
};

#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
#define HAVE_PIDFD 1
#else
#define HAVE_PIDFD 0
#endif

/* sig to the process fd names, or to pid when there is no fd. */
static void
send_sig(int fd, pid_t pid, int sig)
{
#if HAVE_PIDFD
	if (fd >= 0)
		syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
	else
#endif
		kill(pid, sig);
}

/*
 * Signal pid by a pidfd opened before checking that it is ours: the pidfd
 * names one process for good, so if pid was reused between the scan and
 * now, the check reads the new process and fails, or the signal goes to
 * the old, dead one and fails. Only when there is no pidfd for another
 * reason than the process being gone (Linux < 5.3, a seccomp filter) is
 * the signal sent by pid, right after the check. SIGCONT follows a
 * catchable signal so that a stopped process (a test's SIGSTOP) gets it.
 */
static void
signal_checked(pid_t pid, void *arg)
{
	const struct reap_sig *rs = arg;
	int fd = orch_pidfd_open(pid);

	if (fd < 0 && errno == ESRCH)
		goto out; /* gone already */
	if (!is_instance_under(pid, rs->prefix))
		goto out;
	send_sig(fd, pid, rs->sig);
	if (rs->sig != SIGKILL)
		send_sig(fd, pid, SIGCONT);
out:
	if (fd >= 0)
		close(fd);
}

int
reap_kill(size_t *out_found, const char *dir, int64_t grace_ms)
{
	char prefix[PATH_MAX + 2];
	struct reap_sig term = {prefix, SIGTERM}, killsig = {prefix, SIGKILL};
	size_t left;
	int rc;

	*out_found = 0;
	if ((rc = make_prefix(prefix, sizeof(prefix), dir)) < 0)
		goto out;
	/* SIGTERM first: the demo apps exit on it at once, and an app that
	 * flushes on exit leaves a log worth reading after a failure. */
	if ((*out_found = each_instance(prefix, signal_checked, &term)) == 0)
		goto out;
	if (!WAIT_FOR(each_instance(prefix, NULL, NULL) == 0, grace_ms)) {
		each_instance(prefix, signal_checked, &killsig);
		WAIT_FOR(each_instance(prefix, NULL, NULL) == 0, REAP_KILL_WAIT_MS);
	}
	if ((left = each_instance(prefix, NULL, NULL)) > 0)
		rc = orch_err_set(ORCH_ERROR, "%zu instance processes under %s outlived SIGKILL",
		    left, dir);
out:
	return rc;
}
