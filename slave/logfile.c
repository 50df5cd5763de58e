/*
 * logfile.c - instance log files.
 *
 * The child writes its stdout/stderr straight into files it holds open
 * with O_APPEND (no pipe through the slave), so its output survives a
 * slave restart and a re-adopted process keeps logging. The price is
 * rotation: the file cannot be renamed under a writer that keeps its fd,
 * so rotation is copytruncate (logrotate's): copy the file to FILE.1,
 * then truncate FILE to zero; O_APPEND makes the writer's next write land
 * at the new end. Lines written between the copy and the truncate are
 * lost; with a check every two seconds that window is small, and it is
 * the only design that keeps output of a process the slave re-adopts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "slave.h"

static int
copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return orch_err_sys(ORCH_ERROR, "open %s", from);
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0) {
		close(in);
		return orch_err_sys(ORCH_ERROR, "open %s", to);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			rc = orch_err_sys(ORCH_ERROR, "write %s", to);
			break;
		}
	if (n < 0)
		rc = orch_err_sys(ORCH_ERROR, "read %s", from);
	close(in);
	close(out);
	return rc;
}

static void
rotate_one(const char *path, uint64_t max, const char *id)
{
	char old[4096];
	struct stat st;

	if (path == NULL || stat(path, &st) < 0 || (uint64_t)st.st_size <= max)
		return;
	snprintf(old, sizeof(old), "%s.1", path);
	if (copy_file(path, old) < 0) {
		log_warnx("instance=%s log rotation: %s", id, orch_err_last());
		return;
	}
	if (truncate(path, 0) < 0)
		log_warn("instance=%s truncate %s", id, path);
	else
		log_info("instance=%s rotated %s (%lld bytes)", id, path, (long long)st.st_size);
}

void
logfile_rotate(struct slave *s)
{
	for (struct instance *in = s->instances; in; in = in->next) {
		if (in->removed)
			continue;
		rotate_one(in->out_path, s->cfg.log_max, in->spec->id);
		rotate_one(in->err_path, s->cfg.log_max, in->spec->id);
	}
}

int
logfile_tail(char **out, size_t *out_len, const char *path, size_t max)
{
	struct stat st;
	char *buf;
	size_t want, got = 0;
	ssize_t n;
	off_t off;
	int fd;

	*out = NULL;
	*out_len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			*out = strdup("");
			return *out ? 0 : orch_err_set(ORCH_ERROR, "out of memory");
		}
		return orch_err_sys(ORCH_ERROR, "open %s", path);
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		return orch_err_sys(ORCH_ERROR, "stat %s", path);
	}
	want = (size_t)st.st_size > max ? max : (size_t)st.st_size;
	off = st.st_size - (off_t)want;
	if ((buf = malloc(want + 1)) == NULL) {
		close(fd);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	while (got < want && (n = pread(fd, buf + got, want - got, off + (off_t)got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*out_len = got;
	return 0;
}
