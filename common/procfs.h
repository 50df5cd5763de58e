/*
 * procfs.h - reading /proc/PID/stat and /proc/PID/environ and opening
 * process fds, shared by the slave's supervisor, the test fixtures and
 * the benchmarks.
 */
#ifndef ORCH_PROCFS_H
#define ORCH_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read /proc/PID/stat into buf (len bytes, NUL-terminated; a longer file
 * is cut) and return a pointer into buf at the last ')', which ends comm
 * (comm may hold spaces and parentheses, so fields are counted from
 * there: ')' + 2 is field 3, the state). NULL when the process is gone or
 * the file has no ')'.
 */
char *orch_procfs_stat(char *buf, size_t len, pid_t pid);

/* pidfd_open(2) (Linux 5.3; glibc has no wrapper before 2.36): a file
 * descriptor for pid, or -1 with errno (ENOSYS on an older kernel or
 * headers without the call). */
int orch_pidfd_open(pid_t pid);

/*
 * Read /proc/PID/environ into buf (len bytes): NUL-separated NAME=VALUE
 * entries, NUL-terminated; a longer environment is cut at len - 1. The
 * number of bytes read, or -1 when the process is gone or not ours to
 * read (another user's, without privilege).
 */
ssize_t orch_procfs_environ(char *buf, size_t len, pid_t pid);

/* The value of NAME in an environment block as orch_procfs_environ()
 * read it (n bytes), or NULL when it has none. Points into env. */
const char *orch_procfs_env_get(const char *env, size_t n, const char *name);

/*
 * Mark every descriptor of this process above 2 close-on-exec: those a
 * library opened without O_CLOEXEC (libcurl's multi handle makes a
 * socketpair so) and those inherited from whoever started us, so that no
 * program we exec inherits them. The number marked, or -1 with errno.
 */
int orch_procfs_cloexec_all(void);

#endif
