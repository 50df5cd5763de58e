/* readfile.c - see readfile.h. */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

int
readfile_small(char **out, const char *path, size_t max, unsigned flags, const char *what)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return orch_err_sys(ORCH_EINVALID, "%s %s", what, path);
	if (fstat(fd, &st) < 0) {
		rc = orch_err_sys(ORCH_EINVALID, "%s %s", what, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = orch_err_set(ORCH_EINVALID, "%s %s is not a regular file", what, path);
		goto out;
	}
	if ((flags & READFILE_PRIVATE) && (st.st_mode & 077) != 0) {
		rc = orch_err_set(ORCH_EINVALID, "%s %s is accessible by group or others "
		    "(mode %04o): it must be its owner's alone; chmod 600 %s", what, path,
		    (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		rc = orch_err_set(ORCH_ERROR, "out of memory");
		goto out;
	}
	/* Up to one byte past the cap, to tell "over" from "exactly". */
	while (len <= max && (n = read(fd, buf + len, max + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = orch_err_sys(ORCH_EINVALID, "%s %s", what, path);
			goto out;
		}
		len += (size_t)n;
	}
	if (len > max) {
		rc = orch_err_set(ORCH_EINVALID, "%s %s is over %zu KiB", what, path, max / 1024);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}
