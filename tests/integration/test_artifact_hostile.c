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
#define ORCH_FUZZ_REPLAY 1
#include "../fuzz/fuzz_unpack.c"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "artifact.h"
#include "check.h"
#include "daemon.h"
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

/* Unpack t's bytes into a fresh ROOT/dir with opts o (NULL: defaults).
 * With ORCH_WRITE_SEEDS=DIR the archive is also saved as DIR/name: the
 * fuzz target's seeds (tests/fuzz/seeds/unpack/) are made that way. */
static int
unpack(struct tb *t, const struct artifact_opts *o, const char *name)
{
	const char *seeds = getenv("ORCH_WRITE_SEEDS");
	struct artifact_opts def;
	enum artifact_kind kind;
	char seed[1024];
	int fd, rc;

	if (seeds != NULL && seeds[0] != '\0') {
		snprintf(seed, sizeof(seed), "%s/%s", seeds, name);
		REQUIRE(tb_save(t, seed) == 0);
	}

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
	CHECK_EQ_INT(dir_entries(out), 0);
	CHECK_EQ_INT(dir_entries(root), 3);
}

/* Refused with code and a message containing why; dir left empty. */
#define CHECK_REFUSED(rc, code, why) do { \
	CHECK_EQ_INT((rc), (code)); \
	CHECK_CONTAINS(orch_err_last(), (why)); \
	CHECK_EQ_INT(dir_entries(dir), 0); \
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
	rc = unpack(&t, NULL, "dangling-chain");
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

/* ---- the corpus ---- */

/* A one-member (or few-member) archive refused with code and why. */
static void
refused(struct tb *t, const char *name, int code, const char *why)
{
	tb_close(t);
	CHECK_REFUSED(unpack(t, NULL, name), code, why);
}

TEST(hostile__traversal_and_absolute_names)
{
	char abs[700];
	struct tb t;

	setup();
	tb_open(&t, "pax", NULL);
	tb_file(&t, "../out/evil", 0644, "x");
	refused(&t, "dotdot", ORCH_EINVALID, "unsafe member name \"../out/evil\" (contains ..)");
	tb_open(&t, "pax", NULL);
	tb_file(&t, "ok", 0644, "fine");
	tb_file(&t, "a/b/../../../out/evil", 0644, "x");
	refused(&t, "dotdot-deep", ORCH_EINVALID, "(contains ..)");
	snprintf(abs, sizeof(abs), "%s/evil", out);
	tb_open(&t, "gnutar", "gzip");
	tb_file(&t, abs, 0644, "x");
	refused(&t, "absolute", ORCH_EINVALID, "(absolute path)");
	tb_open(&t, "pax", NULL);
	tb_file(&t, ARTIFACT_MARKER, 0644, "0000");
	refused(&t, "marker", ORCH_EINVALID, "is reserved for orch");
	teardown();
}

TEST(hostile__hard_links)
{
	char secret[700], abs[800];
	struct stat st, st2;
	struct tb t;

	setup();
	snprintf(secret, sizeof(secret), "%s/secret", out);
	REQUIRE(tb_save(&(struct tb){.buf = (char *)"s3cret", .len = 6}, secret) == 0);
	snprintf(abs, sizeof(abs), "%s", secret);
	tb_open(&t, "pax", NULL);
	tb_hardlink(&t, "h", abs);
	tb_close(&t);
	CHECK_EQ_INT(unpack(&t, NULL, "hardlink-absolute"), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "(absolute path)");
	tb_open(&t, "pax", NULL);
	tb_hardlink(&t, "h", "../out/secret");
	tb_close(&t);
	CHECK_EQ_INT(unpack(&t, NULL, "hardlink-dotdot"), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "(contains ..)");
	/* Through a symlink planted first: a link is not a file of the archive. */
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, "l", "bin/app");
	tb_file(&t, "bin/app", 0755, "app");
	tb_hardlink(&t, "h", "l");
	tb_close(&t);
	CHECK_EQ_INT(unpack(&t, NULL, "hardlink-to-symlink"), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "hard link h -> l does not name a file of the archive");
	CHECK_EQ_INT(dir_entries(dir), 0);
	/* The secret was never linked, nor changed. */
	CHECK(stat(secret, &st) == 0 && st.st_nlink == 1 && st.st_size == 6);
	CHECK_EQ_INT(dir_entries(out), 1);
	REQUIRE(unlink(secret) == 0);

	/* A hard link to a file of the archive is fine (its data is not
	 * written through the link). */
	tb_open(&t, "pax", NULL);
	tb_file(&t, "bin/app", 0755, "app");
	tb_hardlink(&t, "bin/app2", "./bin/app");
	tb_close(&t);
	CHECK_EQ_INT(unpack(&t, NULL, "hardlink-inside"), 0);
	snprintf(abs, sizeof(abs), "%s/bin/app", dir);
	snprintf(secret, sizeof(secret), "%s/bin/app2", dir);
	CHECK(stat(abs, &st) == 0 && stat(secret, &st2) == 0 && st.st_ino == st2.st_ino &&
	    st.st_size == 3);
	check_outside_untouched();
	teardown();
}

TEST(hostile__symlinks)
{
	char abs[700], etc[128], why[256];
	struct tb t;

	setup();
	/* A link to /etc, then a file under it (as root: /etc is writable). */
	snprintf(etc, sizeof(etc), "etc/orch-hostile-%d", (int)getpid());
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, "etc", "/etc");
	tb_file(&t, etc, 0644, "x");
	snprintf(why, sizeof(why), "member %s would be written through a symlink "
	    "leading out of the artifact dir", etc);
	refused(&t, "symlink-etc", ORCH_EINVALID, why);
	CHECK(!exists("/%s", etc));
	/* Alone, the link is refused as well (found by the final walk). */
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, "etc", "/etc");
	refused(&t, "symlink-etc-alone", ORCH_EINVALID, "symlink etc -> /etc leads out of the artifact dir");
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, "o", out);
	snprintf(abs, sizeof(abs), "o/f");
	tb_file(&t, abs, 0644, "x");
	refused(&t, "symlink-out-abs", ORCH_EINVALID,
	    "member o/f would be written through a symlink leading out of the artifact dir");
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, "a/up", "../../out");
	refused(&t, "symlink-climb", ORCH_EINVALID, "symlink a/up -> ../../out leads out");
	/* Lexically inside, but l is the root already: m climbs out, and a
	 * member under m is stopped by openat2 before anything is written. */
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, "a/b/l", "../..");
	tb_symlink(&t, "a/b/m", "l/../out");
	tb_file(&t, "a/b/m/pwned", 0644, "x");
	refused(&t, "chain-parent", ORCH_EINVALID,
	    "member a/b/m/pwned would be written through a symlink leading out");
	/* A link inside is fine, but nothing is written through it (libarchive's
	 * SECURE_SYMLINKS). */
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, "l", ".");
	tb_file(&t, "l/f", 0644, "x");
	refused(&t, "through-inner-link", ORCH_EINVALID, "cannot write l/f: Cannot extract through symlink l");
	/* A dir replaced by a link, then written through. */
	tb_open(&t, "pax", NULL);
	tb_dir(&t, "d");
	tb_symlink(&t, "d", ".");
	tb_file(&t, "d/f", 0644, "x");
	refused(&t, "dir-replaced-by-link", ORCH_EINVALID, "member d replaces an earlier member");
	tb_open(&t, "pax", NULL);
	tb_file(&t, "f", 0644, "one");
	tb_file(&t, "f", 0644, "two");
	refused(&t, "duplicate", ORCH_EINVALID, "member f replaces an earlier member");
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, ".", "/");
	refused(&t, "root-as-link", ORCH_EINVALID, "would replace the artifact dir");
	tb_open(&t, "pax", NULL);
	tb_symlink(&t, "a", "b");
	tb_symlink(&t, "b", "a");
	refused(&t, "loop", ORCH_EINVALID, "loops"); /* a or b, whichever is seen first */
	/* Links that stay inside, dangling or not, are kept. */
	tb_open(&t, "pax", NULL);
	tb_file(&t, "bin/app", 0755, "app");
	tb_symlink(&t, "current", "bin/app");
	tb_symlink(&t, "log", "var/log/app.log");
	tb_symlink(&t, "bin/self", "../bin/./app");
	tb_close(&t);
	CHECK_EQ_INT(unpack(&t, NULL, "links-inside"), 0);
	CHECK(exists("%s/current", dir) && exists("%s/log", dir) && exists("%s/bin/self", dir));
	check_outside_untouched();
	teardown();
}

TEST(hostile__special_files)
{
	static const struct {
		unsigned type;
		const char *name;
	} cases[] = {{AE_IFCHR, "dev-null"}, {AE_IFBLK, "dev-block"}, {AE_IFIFO, "fifo"}};
	/* (tar cannot hold a socket) */
	char why[128];
	struct tb t;

	setup();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tb_open(&t, "pax", NULL);
		tb_file(&t, "bin/app", 0755, "app");
		tb_entry(&t, cases[i].name, cases[i].type, 0666, NULL, 0, NULL, 0);
		snprintf(why, sizeof(why), "member %s is a device node, fifo or socket",
		    cases[i].name);
		refused(&t, cases[i].name, ORCH_EINVALID, why);
	}
	teardown();
}

/* st_mode of ROOT/dir/rel, 0 when it is not there. */
static unsigned
mode_of(const char *rel)
{
	char p[1024];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return stat(p, &st) == 0 ? (unsigned)st.st_mode : 0;
}

TEST(hostile__modes_and_owners)
{
	struct archive_entry *e;
	struct tb t;

	setup();
	tb_open(&t, "pax", NULL);
	tb_entry(&t, "bin", AE_IFDIR, 03775, NULL, 0, NULL, 0);
	tb_entry(&t, "bin/su", AE_IFREG, 04755, NULL, 0, "#!/bin/sh\n", 10);
	tb_entry(&t, "bin/sg", AE_IFREG, 02711, NULL, 0, "#!/bin/sh\n", 10);
	tb_entry(&t, "ro", AE_IFDIR, 0500, NULL, 0, NULL, 0);
	/* Someone else's file, as root would restore it. */
	e = archive_entry_new();
	archive_entry_set_pathname(e, "theirs");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_uid(e, 4321);
	archive_entry_set_gid(e, 4321);
	archive_entry_set_size(e, 0);
	REQUIRE(archive_write_header(t.a, e) == ARCHIVE_OK);
	archive_entry_free(e);
	tb_close(&t);
	CHECK_EQ_INT(unpack(&t, NULL, "setuid-setgid"), 0);
	CHECK((mode_of("bin/su") & 07000) == 0 && (mode_of("bin/su") & 0100));
	CHECK((mode_of("bin/sg") & 07000) == 0 && (mode_of("bin/sg") & 0100));
	CHECK((mode_of("bin") & 07000) == 0 && S_ISDIR(mode_of("bin")));
	CHECK((mode_of("ro") & 0700) == 0700);
	{
		char p[700];
		struct stat st;

		snprintf(p, sizeof(p), "%s/theirs", dir);
		CHECK(stat(p, &st) == 0 && st.st_uid == getuid() && st.st_gid == getgid());
	}
	check_outside_untouched();
	teardown();
}

TEST(hostile__sizes_and_bombs)
{
	struct artifact_opts o;
	struct tb t;

	setup();
	memset(&o, 0, sizeof(o));
	/* A header promising a terabyte, and nothing after it. */
	tb_open(&t, "gnutar", NULL);
	{
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, "huge");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (int64_t)1 << 40);
		REQUIRE(archive_write_header(t.a, e) == ARCHIVE_OK);
		archive_entry_free(e);
	}
	tb_truncate(&t);
	CHECK(t.len > 0 && t.len < 4096);
	CHECK_REFUSED(unpack(&t, NULL, "huge-header"), ORCH_ETOOBIG,
	    "unpacks to more than 8589934592 bytes");
	/* A sparse file of 16 GiB in a few KiB: holes count. */
	tb_open(&t, "pax", "gzip");
	tb_sparse(&t, "sparse", (int64_t)16 << 30);
	tb_close(&t);
	CHECK(t.len < 65536);
	CHECK_REFUSED(unpack(&t, NULL, "sparse-16g"), ORCH_ETOOBIG,
	    "unpacks to more than 8589934592 bytes");
	/* A gzip bomb: 64 MiB of zeros in ~64 KiB, over a 1 MiB budget. The
	 * same budget counts the bytes of every member together. */
	o.max_unpacked_bytes = 1 << 20;
	tb_open(&t, "pax", "gzip");
	tb_entry(&t, "zeros", AE_IFREG, 0644, NULL, 0, NULL, (int64_t)64 << 20);
	tb_close(&t);
	CHECK(t.len < (1 << 20));
	CHECK_REFUSED(unpack(&t, &o, "gzip-bomb"), ORCH_ETOOBIG,
	    "unpacks to more than 1048576 bytes");
	tb_open(&t, "pax", "xz");
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "part%d", i);
		tb_entry(&t, name, AE_IFREG, 0644, NULL, 0, NULL, 400 << 10);
	}
	tb_close(&t);
	CHECK_REFUSED(unpack(&t, &o, "sum-over-budget"), ORCH_ETOOBIG,
	    "unpacks to more than 1048576 bytes");
	/* A zip (even of a bomb) is not a tar. */
	tb_open(&t, "zip", NULL);
	tb_entry(&t, "zeros", AE_IFREG, 0644, NULL, 0, NULL, (int64_t)8 << 20);
	tb_close(&t);
	CHECK_REFUSED(unpack(&t, &o, "zip-bomb"), ORCH_EINVALID, "not a tar archive");
	/* Within the budget, a sparse file keeps its size and its data. */
	tb_open(&t, "pax", NULL);
	tb_sparse(&t, "sparse", 65536);
	tb_close(&t);
	CHECK_EQ_INT(unpack(&t, &o, "sparse-small"), 0);
	{
		char p[700], buf[8] = "";
		struct stat st;
		int fd;

		snprintf(p, sizeof(p), "%s/sparse", dir);
		CHECK(stat(p, &st) == 0 && st.st_size == 65536);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0 && pread(fd, buf, 4, 65532) == 4 && memcmp(buf, "tail", 4) == 0);
		if (fd >= 0)
			close(fd);
	}
	check_outside_untouched();
	teardown();
}

TEST(hostile__counts_and_names)
{
	struct artifact_opts o;
	char name[4096];
	struct tb t;
	int i;

	setup();
	memset(&o, 0, sizeof(o));
	o.max_entries = 10;
	tb_open(&t, "pax", NULL);
	for (i = 0; i < 11; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		tb_file(&t, name, 0644, "x");
	}
	tb_close(&t);
	CHECK_REFUSED(unpack(&t, &o, "too-many"), ORCH_ETOOBIG, "has more than 10 members");
	memset(name, 'n', 300);
	name[300] = '\0';
	tb_open(&t, "pax", NULL);
	tb_file(&t, name, 0644, "x");
	refused(&t, "long-component", ORCH_EINVALID, "has a component over 255 bytes");
	for (i = 0; i < 30; i++)
		memcpy(name + i * 100, "dddddddddddddddddddddddddddddddddddddddddddddddddd"
		    "ddddddddddddddddddddddddddddddddddddddddddddddddd/", 100);
	strcpy(name + 3000, "f");
	tb_open(&t, "pax", NULL);
	tb_file(&t, name, 0644, "x");
	refused(&t, "long-name", ORCH_EINVALID, "is too long (over 2048 bytes)");
	for (i = 0; i < 130; i++)
		memcpy(name + i * 2, "d/", 2);
	strcpy(name + 260, "f");
	tb_open(&t, "pax", NULL);
	tb_file(&t, name, 0644, "x");
	refused(&t, "deep", ORCH_EINVALID, "is nested deeper than 128 dirs");
	teardown();
}

TEST(hostile__compressions_and_garbage)
{
	static const char *filters[] = {NULL, "gzip", "bzip2", "xz", "zstd"};
	struct tb t;

	setup();
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "ok-%s", filters[i] ? filters[i] : "tar");
		tb_open(&t, i % 2 ? "gnutar" : "pax", filters[i]);
		tb_dir(&t, "./");
		tb_file(&t, "./bin/app", 0755, "#!/bin/sh\necho hi\n");
		tb_symlink(&t, "app", "bin/app");
		tb_close(&t);
		CHECK_EQ_INT(unpack(&t, NULL, name), 0);
		CHECK(exists("%s/bin/app", dir) && exists("%s/app", dir));
		check_outside_untouched();
	}
	/* A tar cut in the middle of a member's data. */
	tb_open(&t, "pax", "gzip");
	tb_entry(&t, "data", AE_IFREG, 0644, NULL, 0, NULL, 100000);
	tb_close(&t);
	t.len /= 2;
	CHECK_REFUSED(unpack(&t, NULL, "cut"), ORCH_EINVALID, "artifact test://hostile: ");
	tb_open(&t, "pax", NULL);
	tb_close(&t);
	CHECK_REFUSED(unpack(&t, NULL, "empty"), ORCH_EINVALID, "archive has no members");
	teardown();
}

/* The fuzz target's seeds and saved regressions, through its checks. */
TEST(hostile__fuzz_corpus_replay)
{
	static const char *dirs[] = {"tests/fuzz/seeds/unpack", "tests/fuzz/regressions/unpack"};
	const char *src = getenv("ORCH_SOURCE_DIR");
	size_t n = 0;

	for (size_t i = 0; i < 2; i++) {
		struct dirent **names = NULL;
		char path[1024];
		int k;

		snprintf(path, sizeof(path), "%s/%s", src && *src ? src : ".", dirs[i]);
		if ((k = scandir(path, &names, NULL, alphasort)) < 0)
			continue;
		for (int j = 0; j < k; j++) {
			char file[2048];
			struct tb t;

			snprintf(file, sizeof(file), "%s/%s", path, names[j]->d_name);
			memset(&t, 0, sizeof(t));
			if (names[j]->d_name[0] != '.' && strcmp(names[j]->d_name, "README.md") != 0 &&
			    tb_load(&t, file) == 0) {
				fuzz_unpack_one((const uint8_t *)t.buf, t.len);
				n++;
			}
			tb_free(&t);
			free(names[j]);
		}
		free(names);
	}
	CHECK(n >= 20); /* the seeds are there */
}

CHECK_MAIN(hostile__dangling_chain_does_not_escape, hostile__traversal_and_absolute_names,
    hostile__hard_links, hostile__symlinks, hostile__special_files, hostile__modes_and_owners,
    hostile__sizes_and_bombs, hostile__counts_and_names, hostile__compressions_and_garbage,
    hostile__fuzz_corpus_replay)
