/*
 * test_artifact_hostile.c - the hostile-archive corpus (issue 12): each
 * archive is made here with libarchive's writer (tests/support/tarbuild.h)
 * and given to the unpacker, artifact_unpack_tar(), in a sandbox
 *
 *     ROOT/in.tar   the archive
 *     ROOT/dir/     where it is unpacked (the artifact dir)
 *     ROOT/out/     a sibling that must stay empty
 *
 * Each case asserts the precise outcome (refused with which code and
 * message, or accepted with what was dropped) and that nothing outside
 * ROOT/dir was touched. The last test replays the fuzz target's seeds and
 * saved regressions (tests/fuzz/fuzz_unpack.c, compiled in with
 * -DORCH_FUZZ_REPLAY) through the same invariant checks.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "artifact.h"
#include "check.h"
#include "err.h"
#include "tarbuild.h"

static char root[512], dir[600], out[600], archive[600];

static void
setup(void)
{
	const char *base = getenv("ORCH_TEST_OUT");

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	mkdir(base, 0755);
	snprintf(root, sizeof(root), "%s/hostile-XXXXXX", base);
	REQUIRE(mkdtemp(root) != NULL);
	snprintf(dir, sizeof(dir), "%s/dir", root);
	snprintf(out, sizeof(out), "%s/out", root);
	snprintf(archive, sizeof(archive), "%s/in.tar", root);
	REQUIRE(mkdir(out, 0755) == 0);
}

static void
teardown(void)
{
	artifact_rm_tree(root);
	root[0] = '\0';
}

static int
exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
exists(const char *fmt, ...)
{
	char path[4096];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return lstat(path, &st) == 0;
}

static int
count_entries(const char *path)
{
	struct dirent *e;
	DIR *d = opendir(path);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Unpack t's bytes into a fresh ROOT/dir with opts o (NULL: defaults). */
static int
unpack(struct tb *t, const struct artifact_opts *o)
{
	struct artifact_opts def;
	enum artifact_kind kind;
	int fd, rc;

	memset(&def, 0, sizeof(def));
	def.max_unpacked_bytes = 8ULL << 30;
	def.unpack_timeout_ms = 60000;
	REQUIRE(tb_save(t, archive) == 0);
	artifact_rm_tree(dir);
	REQUIRE(mkdir(dir, 0755) == 0);
	fd = open(archive, O_RDONLY | O_CLOEXEC);
	REQUIRE(fd >= 0 && artifact_sniff(&kind, fd) == 0);
	close(fd);
	if (kind == ARTIFACT_FILE)
		kind = ARTIFACT_TAR; /* a zip, or garbage: give it to the unpacker anyway */
	rc = artifact_unpack_tar(archive, dir, kind, "test://hostile", o ? o : &def);
	tb_free(t);
	return rc;
}

/* Nothing but in.tar, dir and an empty out/ under ROOT. */
static void
check_outside_untouched(void)
{
	CHECK_EQ_INT(count_entries(out), 0);
	CHECK_EQ_INT(count_entries(root), 3);
}

/* Refused with code and a message containing why; dir left empty. */
#define CHECK_REFUSED(rc, code, why) do { \
	CHECK_EQ_INT((rc), (code)); \
	CHECK_CONTAINS(orch_err_last(), (why)); \
	CHECK_EQ_INT(count_entries(dir), 0); \
	check_outside_untouched(); \
} while (0)

/* ---- the regression of issue 12 ---- */

TEST(hostile__dangling_chain_does_not_escape)
{
	struct tb t;
	char x[700];
	int rc, fd;

	setup();
	tb_open(&t, "pax", NULL);
	tb_escape_chain(&t, dir, out);
	tb_file(&t, "bin/app", 0755, "#!/bin/sh\n");
	tb_close(&t);
	rc = unpack(&t, NULL);
	CHECK_REFUSED(rc, ORCH_EINVALID, "symlink x -> a/b/c/d/e/f/");
	CHECK_CONTAINS(orch_err_last(), "leads out of the artifact dir");
	/* Whatever was accepted, writing through x stays inside. */
	snprintf(x, sizeof(x), "%s/x", dir);
	fd = open(x, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		CHECK(write(fd, "owned\n", 6) == 6);
		close(fd);
	}
	CHECK(!exists("%s/pwned", out));
	check_outside_untouched();
	teardown();
}

CHECK_MAIN(hostile__dangling_chain_does_not_escape)
