/*
 * fuzz_unpack.c - libFuzzer target: the input is an artifact archive
 * (tar, or tar compressed with gzip, bzip2, xz or zstd), given to the
 * slave's unpacker, artifact_unpack_tar(), in a sandbox
 *
 *     BASE/in    the input
 *     BASE/dir/  the artifact dir it is unpacked into
 *     BASE/out/  a sibling that must stay empty
 *
 * (BASE: a fresh dir on /dev/shm when there is one, else /tmp), with small
 * limits (1 MiB unpacked, 64 members, 20 s), so that a bomb is cheap.
 *
 * Checked for every input, besides ASan, UBSan and LeakSanitizer (a
 * failure prints why and aborts, which libFuzzer reports as a crash):
 * - a refusal is ORCH_EINVALID, ORCH_ETOOBIG or ORCH_ERROR with a message
 *   naming the artifact, and leaves the dir empty;
 * - an acceptance leaves only dirs, regular files and symlinks, no
 *   setuid/setgid bit, at most 1 MiB of (apparent) file bytes, and no
 *   symlink the kernel resolves above the dir (openat2 RESOLVE_BENEATH:
 *   EXDEV) or in a loop (ELOOP);
 * - either way nothing else appears under BASE, and out/ stays empty.
 *
 * Built only with -DORCH_FUZZ=ON and clang (tests/fuzz/CMakeLists.txt);
 * run with scripts/fuzz fuzz_unpack. Seeds: tests/fuzz/seeds/unpack/
 * (the hostile corpus, written by test_artifact_hostile with
 * ORCH_WRITE_SEEDS=DIR); crash inputs go to tests/fuzz/regressions/unpack/.
 * tests/integration/test_artifact_hostile.c compiles this file with
 * -DORCH_FUZZ_REPLAY and replays both dirs through fuzz_unpack_one().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "artifact.h"
#include "daemon.h"
#include "err.h"

#define FZ_MAX_BYTES (1u << 20)

static char fz_base[256], fz_in[300], fz_dir[300], fz_out[300];

static void __attribute__((noreturn, format(printf, 1, 2)))
fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_unpack: INVARIANT BROKEN: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

static void
fz_cleanup(void)
{
	if (fz_base[0])
		artifact_rm_tree(fz_base);
}

static void
fz_setup(void)
{
	struct stat st;

	if (fz_base[0])
		return;
	atexit(fz_cleanup);
	snprintf(fz_base, sizeof(fz_base), "%s/orch-fuzz-unpack-XXXXXX",
	    stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
	if (mkdtemp(fz_base) == NULL)
		fz_fail("mkdtemp %s: %s", fz_base, strerror(errno));
	snprintf(fz_in, sizeof(fz_in), "%s/in", fz_base);
	snprintf(fz_dir, sizeof(fz_dir), "%s/dir", fz_base);
	snprintf(fz_out, sizeof(fz_out), "%s/out", fz_base);
	if (mkdir(fz_out, 0755) < 0)
		fz_fail("mkdir %s: %s", fz_out, strerror(errno));
}

/* What an accepted archive left under rootfd/rel (dfd): see the top. */
static void
fz_check_tree(int rootfd, int dfd, char *rel, size_t cap, uint64_t *bytes)
{
	size_t len = strlen(rel);
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd = dup(dfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL)
		fz_fail("read %s: %s", rel, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(rel + len, cap - len, "%s%s", len ? "/" : "", e->d_name);
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			fz_fail("stat %s: %s", rel, strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0)
				fz_fail("open %s: %s", rel, strerror(errno));
			fz_check_tree(rootfd, sub, rel, cap, bytes);
			close(sub);
		} else if (S_ISLNK(st.st_mode)) {
			struct open_how how;
			int lfd;

			memset(&how, 0, sizeof(how));
			how.flags = O_PATH | O_CLOEXEC;
			how.resolve = RESOLVE_BENEATH;
			lfd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
			if (lfd < 0 && (errno == EXDEV || errno == ELOOP))
				fz_fail("accepted symlink %s resolves out or loops (%s)",
				    rel, strerror(errno));
			if (lfd >= 0)
				close(lfd);
		} else if (S_ISREG(st.st_mode)) {
			if (st.st_mode & (S_ISUID | S_ISGID))
				fz_fail("accepted %s with mode %o", rel, (unsigned)st.st_mode);
			*bytes += (uint64_t)st.st_size;
		} else
			fz_fail("accepted %s of type %o", rel, (unsigned)(st.st_mode & S_IFMT));
	}
	rel[len] = '\0';
	closedir(d);
}

/* One input through the unpacker and the checks; 0. */
static int
fuzz_unpack_one(const uint8_t *data, size_t size)
{
	struct artifact_opts o;
	enum artifact_kind kind;
	char rel[8192] = "";
	uint64_t bytes = 0;
	int fd, rc;

	fz_setup();
	fd = open(fz_in, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		fz_fail("write %s: %s", fz_in, strerror(errno));
	if (artifact_sniff(&kind, fd) < 0)
		fz_fail("sniff: %s", orch_err_last());
	close(fd);
	if (mkdir(fz_dir, 0755) < 0)
		fz_fail("mkdir %s: %s", fz_dir, strerror(errno));
	memset(&o, 0, sizeof(o));
	o.max_unpacked_bytes = FZ_MAX_BYTES;
	o.max_entries = 64;
	o.unpack_timeout_ms = 20000;
	rc = artifact_unpack_tar(fz_in, fz_dir, kind == ARTIFACT_FILE ? ARTIFACT_TAR :
	    kind, "fuzz://in", &o);
	if (rc < 0) {
		if (rc != ORCH_EINVALID && rc != ORCH_ETOOBIG && rc != ORCH_ERROR)
			fz_fail("refused with code %d: %s", rc, orch_err_last());
		if (strncmp(orch_err_last(), "artifact fuzz://in", 18) != 0)
			fz_fail("refusal without the artifact's name: \"%s\"", orch_err_last());
		if (dir_entries(fz_dir) != 0)
			fz_fail("refused (%s) but left %d entries", orch_err_last(),
			    dir_entries(fz_dir));
	} else {
		int dfd = open(fz_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0)
			fz_fail("open %s: %s", fz_dir, strerror(errno));
		fz_check_tree(dfd, dfd, rel, sizeof(rel), &bytes);
		close(dfd);
		if (bytes > FZ_MAX_BYTES)
			fz_fail("accepted %llu bytes, over the limit",
			    (unsigned long long)bytes);
	}
	if (dir_entries(fz_out) != 0 || dir_entries(fz_base) != 3)
		fz_fail("something appeared outside the artifact dir (rc %d)", rc);
	artifact_rm_tree(fz_dir);
	return 0;
}

#ifndef ORCH_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_unpack_one(data, size);
}
#endif
