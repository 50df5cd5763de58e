/*
 * tarbuild.h - build (hostile) archives in memory with libarchive's
 * writer, for the artifact tests: any member name, type, mode, size or
 * link target, including what GNU tar would never write (absolute names,
 * "..", device nodes, a header promising a terabyte with no data after
 * it). Header-only so the tests and the fuzz seeds share it; failures of
 * the writer itself abort the test (they are bugs of the test).
 */
#ifndef ORCH_TEST_TARBUILD_H
#define ORCH_TEST_TARBUILD_H

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tb {
	struct archive *a;
	char *buf;
	size_t len, cap;
	int stop; /* set: the writer's further output is refused */
};

static inline void
tb_die(struct tb *t, const char *what)
{
	fprintf(stderr, "tarbuild: %s: %s\n", what,
	    t->a ? archive_error_string(t->a) : "no archive");
	abort();
}

static inline la_ssize_t
tb_write_cb(struct archive *a, void *arg, const void *p, size_t n)
{
	struct tb *t = arg;

	if (t->stop)
		return -1;
	if (t->len + n > t->cap) {
		size_t nc = (t->len + n) * 2 + 4096;
		char *nb = realloc(t->buf, nc);

		if (nb == NULL)
			return -1;
		t->buf = nb;
		t->cap = nc;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	return (la_ssize_t)n;
}

/* format: "pax", "gnutar", "ustar" or "zip"; filter: NULL, "gzip",
 * "bzip2", "xz" or "zstd". */
static inline void
tb_open(struct tb *t, const char *format, const char *filter)
{
	memset(t, 0, sizeof(*t));
	t->a = archive_write_new();
	if (t->a == NULL || archive_write_set_format_by_name(t->a, format) != ARCHIVE_OK)
		tb_die(t, format);
	if (filter != NULL && archive_write_add_filter_by_name(t->a, filter) != ARCHIVE_OK)
		tb_die(t, filter);
	/* Unblocked: what a header writes is in buf at once (tb_truncate). */
	archive_write_set_bytes_per_block(t->a, 0);
	if (archive_write_open(t->a, t, NULL, tb_write_cb, NULL) != ARCHIVE_OK)
		tb_die(t, "open");
}

/* One member; type AE_IFREG/AE_IFDIR/AE_IFLNK/AE_IFCHR/AE_IFIFO/...;
 * link: the symlink target, or (hard != 0) the hard link's target;
 * data of len bytes, or size zero bytes when data is NULL. */
static inline void
tb_entry(struct tb *t, const char *path, unsigned type, unsigned mode,
    const char *link, int hard, const void *data, int64_t size)
{
	struct archive_entry *e = archive_entry_new();
	static const char zeros[65536];

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, mode);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (link != NULL && hard)
		archive_entry_set_hardlink(e, link);
	else if (link != NULL)
		archive_entry_set_symlink(e, link);
	if (type == AE_IFCHR || type == AE_IFBLK)
		archive_entry_set_rdev(e, ((dev_t)1 << 8) | 3); /* like /dev/null */
	archive_entry_set_size(e, type == AE_IFREG ? size : 0);
	if (archive_write_header(t->a, e) < ARCHIVE_WARN)
		tb_die(t, path);
	archive_entry_free(e);
	while (type == AE_IFREG && size > 0) {
		size_t n = size > (int64_t)sizeof(zeros) ? sizeof(zeros) : (size_t)size;

		if (archive_write_data(t->a, data ? data : zeros, n) != (la_ssize_t)n)
			tb_die(t, "data");
		if (data != NULL)
			data = (const char *)data + n;
		size -= (int64_t)n;
	}
}

static inline void
tb_file(struct tb *t, const char *path, unsigned mode, const char *text)
{
	tb_entry(t, path, AE_IFREG, mode, NULL, 0, text, (int64_t)strlen(text));
}

static inline void
tb_dir(struct tb *t, const char *path)
{
	tb_entry(t, path, AE_IFDIR, 0755, NULL, 0, NULL, 0);
}

static inline void
tb_symlink(struct tb *t, const char *path, const char *target)
{
	tb_entry(t, path, AE_IFLNK, 0777, target, 0, NULL, 0);
}

static inline void
tb_hardlink(struct tb *t, const char *path, const char *target)
{
	tb_entry(t, path, AE_IFREG, 0644, target, 1, NULL, 0);
}

/* A sparse member of apparent size size holding "data" at offset 0 only
 * (pax GNU.sparse 1.0). */
static inline void
tb_sparse(struct tb *t, const char *path, int64_t size)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, size);
	archive_entry_sparse_add_entry(e, 0, 4);
	archive_entry_sparse_add_entry(e, size - 4, 4);
	if (archive_write_header(t->a, e) < ARCHIVE_WARN)
		tb_die(t, path);
	archive_entry_free(e);
	/* The writer takes the whole logical content and skips the holes. */
	if (archive_write_data(t->a, "data", 4) != 4)
		tb_die(t, "sparse data");
	for (int64_t left = size - 8; left > 0;) {
		static const char zeros[1 << 20];
		size_t n = left > (int64_t)sizeof(zeros) ? sizeof(zeros) : (size_t)left;

		if (archive_write_data(t->a, zeros, n) != (la_ssize_t)n)
			tb_die(t, "sparse hole");
		left -= (int64_t)n;
	}
	if (archive_write_data(t->a, "tail", 4) != 4)
		tb_die(t, "sparse tail");
}

/* Finish the archive; the bytes stay in t->buf / t->len. */
static inline void
tb_close(struct tb *t)
{
	if (archive_write_close(t->a) != ARCHIVE_OK)
		tb_die(t, "close");
	archive_write_free(t->a);
	t->a = NULL;
}

/* Cut the archive here (after a header promising data that never comes):
 * what the writer would add next (padding, the end) is thrown away. */
static inline void
tb_truncate(struct tb *t)
{
	t->stop = 1;
	archive_write_free(t->a);
	t->a = NULL;
}

/* Write the bytes to path; 0 or -1. */
static inline int
tb_save(struct tb *t, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < t->len) {
		ssize_t n = write(fd, t->buf + off, t->len - off);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return close(fd);
}

/*
 * The dangling chain of issue 12: N nested dirs a/b/..., a link "l" at
 * the bottom climbing back to the artifact root (lexically fine), and
 * "x -> a/.../l/" followed by N+1 ".." and the absolute path outside
 * (without its "/"): lexically x stays inside, but l already is the root,
 * so x climbs out to "/" and down to outside. N is 6, or more when
 * artifact_dir (where it will be unpacked) is deeper than 6 levels, so
 * that the climb reaches "/".
 */
static inline void
tb_escape_chain(struct tb *t, const char *artifact_dir, const char *outside)
{
	char dirs[1024] = "", link[1024] = "", x[4096] = "";
	int depth = 0, n, i;

	for (const char *p = artifact_dir; *p; p++)
		if (*p == '/' && p[1] != '/' && p[1] != '\0')
			depth++;
	n = depth - 1 > 6 ? depth - 1 : 6;
	for (i = 0; i < n; i++) {
		size_t l = strlen(dirs);

		snprintf(dirs + l, sizeof(dirs) - l, "%s%c", l ? "/" : "", 'a' + i % 26);
		tb_dir(t, dirs);
		l = strlen(link);
		snprintf(link + l, sizeof(link) - l, "%s..", l ? "/" : "");
	}
	snprintf(x, sizeof(x), "%s/l", dirs);
	tb_symlink(t, x, link);         /* a/b/c/d/e/f/l -> ../../../../../.. */
	snprintf(x, sizeof(x), "%s/l/", dirs);
	for (i = 0; i <= n; i++)
		strcat(x, "../");
	strcat(x, outside + 1);
	strcat(x, "/pwned");
	tb_symlink(t, "x", x);          /* x -> a/b/c/d/e/f/l/../../../../../../../OUT/pwned */
}

/* Read path's bytes into an empty t (no writer); 0 or -1. */
static inline int
tb_load(struct tb *t, const char *path)
{
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		t->stop = 0;
		if (tb_write_cb(NULL, t, chunk, (size_t)n) != n)
			break;
	}
	close(fd);
	return n == 0 ? 0 : -1;
}

static inline void
tb_free(struct tb *t)
{
	if (t->a != NULL) {
		t->stop = 1;
		archive_write_free(t->a);
	}
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

#endif
