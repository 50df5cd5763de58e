/* procfs.c - /proc/PID/stat, /proc/PID/environ and pidfds, see procfs.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfs.h"

int
orch_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

char *
orch_procfs_stat(char *buf, size_t len, pid_t pid)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return strrchr(buf, ')');
}

ssize_t
orch_procfs_environ(char *buf, size_t len, pid_t pid)
{
	char path[64];
	ssize_t n, got = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* The kernel hands a large environment out a page at a time. */
	while ((size_t)got < len - 1 &&
	    (n = read(fd, buf + got, len - 1 - (size_t)got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

const char *
orch_procfs_env_get(const char *env, size_t n, const char *name)
{
	size_t klen = strlen(name);

	for (size_t off = 0; off < n; off += strlen(env + off) + 1)
		if (n - off > klen && memcmp(env + off, name, klen) == 0 && env[off + klen] == '=')
			return env + off + klen + 1;
	return NULL;
}

int
orch_procfs_cloexec_all(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, fd, flags;
	char *end;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		fd = (int)strtol(e->d_name, &end, 10);
		if (*end != '\0' || end == e->d_name || fd <= 2 || fd == dirfd(d))
			continue;
		if ((flags = fcntl(fd, F_GETFD)) >= 0 && !(flags & FD_CLOEXEC) &&
		    fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0)
			n++;
	}
	closedir(d);
	return n;
}
