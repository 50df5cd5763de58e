/*
 * procfs.h - reading /proc/PID/stat and opening process fds, shared by
 * the slave's supervisor, the test fixtures and the benchmarks.
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

#endif
