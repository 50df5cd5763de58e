/*
 * artifact_unpack.c - unpack a verified tar archive with libarchive so
 * that nothing lands outside the artifact dir (rules: docs/artifacts.md).
 *  1. Each member is judged before it is written (judge_member): name,
 *     type, size budget, hard link target, and its parent dir resolved by
 *     the kernel with openat2(RESOLVE_BENEATH), so a chain of links planted
 *     by earlier members cannot redirect a later one (EXDEV/ELOOP).
 *  2. libarchive writes it (SECURE_SYMLINKS, SECURE_NODOTDOT,
 *     SECURE_NOABSOLUTEPATHS, NO_OVERWRITE; no owners, no setuid bits),
 *     every byte counted against the budget as it is written.
 *  3. At the end every symlink is followed through the links on disk, a
 *     missing component taken as a dir to come (link_leads_out): a
 *     dangling link is judged by where it would lead.
 * archive_write_disk works relative to the cwd: the unpack runs on a thread
 * that unshares its cwd and umask (CLONE_FS) and enters the artifact dir.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "artifact.h"
#include "err.h"
#include "units.h"

#define MAX_DEPTH 128    /* directory nesting in an artifact */
#define MAX_NAME 2048    /* bytes of a member name */
#define MAX_HOPS 40      /* links followed judging one link (the kernel's) */
#define DISK_FLAGS (ARCHIVE_EXTRACT_SECURE_SYMLINKS | \
	ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | \
	ARCHIVE_EXTRACT_NO_OVERWRITE | ARCHIVE_EXTRACT_TIME)

void
artifact_rm_at(int dfd, const char *name, int depth)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return;
	if ((errno != EISDIR && errno != EPERM) || depth > MAX_DEPTH + 8)
		return;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			artifact_rm_at(fd, e->d_name, depth + 1);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

void
artifact_rm_tree(const char *path)
{
	artifact_rm_at(AT_FDCWD, path, 0);
}

/* ---- judging names and links ---- */

struct unpack {
	const char *url, *dir;
	struct artifact_opts o;
	int archive_fd;
	int rootfd;               /* the artifact dir, also our cwd */
	int rc;
	char err[1024];           /* rc's message, for the calling thread */
	uint64_t done;            /* bytes of the members written so far */
	uint64_t members;
	int64_t deadline;         /* orch_mono_ms() */
	char name[MAX_NAME + 1];  /* the member's name, cleaned */
	char link[MAX_NAME + 1];  /* a hard link's target, cleaned */
	char path[PATH_MAX];      /* the walk's dir, relative to the root */
	char cur[PATH_MAX];       /* link_leads_out: where we are */
	char todo[2 * PATH_MAX];  /* link_leads_out: what is left to follow */
	char target[PATH_MAX];
};

/* openat2 below rootfd: never above it (EXDEV), never through /proc
 * magic links; resolve adds RESOLVE_* flags. */
static int
beneath(int rootfd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = resolve | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, rootfd, path[0] ? path : ".", &how,
	    sizeof(how));
}

/* Copy name into out without "." or empty components; refuse absolute
 * names, "..", over-long names and our marker; *depth: components. */
static int
clean_name(char *out, int *depth, const char *name, const char *url)
{
	const char *p = name;
	size_t o = 0;
	int n = 0;

	if (name == NULL)
		return orch_err_set(ORCH_EINVALID, "artifact %s: unreadable member "
		    "name", url);
	if (name[0] == '/')
		return orch_err_set(ORCH_EINVALID, "artifact %s: unsafe member name "
		    "\"%s\" (absolute path)", url, name);
	if (strlen(name) > MAX_NAME)
		return orch_err_set(ORCH_EINVALID, "artifact %s: member name "
		    "\"%.64s...\" is too long (over %d bytes)", url, name, MAX_NAME);
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return orch_err_set(ORCH_EINVALID, "artifact %s: unsafe member "
			    "name \"%s\" (contains ..)", url, name);
		if (len > NAME_MAX)
			return orch_err_set(ORCH_EINVALID, "artifact %s: member name "
			    "\"%.64s...\" has a component over %d bytes", url, name,
			    NAME_MAX);
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
			n++;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	out[o] = '\0';
	if (n > MAX_DEPTH)
		return orch_err_set(ORCH_EINVALID, "artifact %s: member \"%.64s...\" "
		    "is nested deeper than %d dirs", url, name, MAX_DEPTH);
	if (n > 0 && strncmp(out, ARTIFACT_MARKER, strlen(ARTIFACT_MARKER)) == 0 &&
	    (out[strlen(ARTIFACT_MARKER)] == '\0' || out[strlen(ARTIFACT_MARKER)] == '/'))
		return orch_err_set(ORCH_EINVALID, "artifact %s: member name \"%s\" "
		    "is reserved for orch", url, name);
	*depth = n;
	return 0;
}

/* Follow symlink target t from the dir u->path[0..dirlen) (no links in
 * it) as the kernel would, through the links on disk, a missing name
 * taken as a dir to come. 0: stays inside; 1: leads out; 2: loops. */
static int
link_leads_out(struct unpack *u, size_t dirlen, const char *t)
{
	char *cur = u->cur, *todo = u->todo, *buf = u->target;
	int hops = 0;

	snprintf(cur, sizeof(u->cur), "%.*s", (int)dirlen, u->path);
	if ((size_t)snprintf(todo, sizeof(u->todo), "%s", t) >= sizeof(u->todo))
		return 2;
	while (*todo) {
		size_t len = strcspn(todo, "/"), clen = strlen(cur), rest;
		struct stat st;
		ssize_t n;

		if (len == 0 || (len == 1 && todo[0] == '.')) {
			/* nothing to do */
		} else if (len == 2 && todo[0] == '.' && todo[1] == '.') {
			char *slash = strrchr(cur, '/');

			if (clen == 0)
				return 1;
			*(slash ? slash : cur) = '\0';
		} else if (clen + 1 + len >= sizeof(u->cur)) {
			return 2;
		} else {
			snprintf(cur + clen, sizeof(u->cur) - clen, "%s%.*s",
			    clen ? "/" : "", (int)len, todo);
			/* cur is made of real dirs: only its last name can be a
			 * link, and it is not followed here. */
			if (fstatat(u->rootfd, cur, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode)) {
				n = readlinkat(u->rootfd, cur, buf, sizeof(u->target) - 1);
				cur[clen] = '\0';
				if (n <= 0 || ++hops > MAX_HOPS)
					return 2;
				buf[n] = '\0';
				if (buf[0] == '/')
					return 1;
				/* Replace the link's name in todo by its target. */
				rest = strlen(todo + len);
				if ((size_t)n + rest + 1 > sizeof(u->todo))
					return 2;
				memmove(todo + n, todo + len, rest + 1);
				memcpy(todo, buf, (size_t)n);
				continue;
			}
		}
		todo += len;
		if (*todo == '/')
			todo++;
		memmove(u->todo, todo, strlen(todo) + 1);
		todo = u->todo;
	}
	return 0;
}

/* ---- judging a member before it is written ---- */

static int
refuse(struct unpack *u, const char *why)
{
	return orch_err_set(ORCH_EINVALID, "artifact %s: member %s %s", u->url,
	    u->name, why);
}

static int
timed_out(struct unpack *u)
{
	return orch_err_set(ORCH_ERROR, "artifact %s: unpacking did not finish "
	    "within %lld ms", u->url, (long long)u->o.unpack_timeout_ms);
}

static int
too_big(struct unpack *u)
{
	return orch_err_set(ORCH_ETOOBIG, "artifact %s unpacks to more than %llu "
	    "bytes", u->url, (unsigned long long)u->o.max_unpacked_bytes);
}

/* The member's dir resolved by the kernel below the root, and its name
 * not taken yet (but by a dir, for a dir). */
static int
check_place(struct unpack *u, unsigned type)
{
	char *slash = strrchr(u->name, '/');
	const char *base = slash ? slash + 1 : u->name;
	struct stat st;
	int pfd, rc = 0;

	if (slash)
		*slash = '\0';
	pfd = beneath(u->rootfd, slash ? u->name : "", O_PATH | O_DIRECTORY, 0);
	if (slash)
		*slash = '/';
	if (pfd < 0 && (errno == EXDEV || errno == ELOOP))
		return refuse(u, "would be written through a symlink leading out of "
		    "the artifact dir");
	if (pfd < 0) /* missing: libarchive makes real dirs (or fails) */
		return errno == ENOENT || errno == ENOTDIR ? 0 : orch_err_sys(ORCH_ERROR,
		    "artifact %s: open the dir of %s", u->url, u->name);
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(type == AE_IFDIR && S_ISDIR(st.st_mode)))
		rc = refuse(u, "replaces an earlier member");
	close(pfd);
	return rc;
}

/* A hard link may only name a regular file the archive already made. */
static int
check_hardlink(struct unpack *u, struct archive_entry *e)
{
	struct stat st;
	int depth, fd, ok;

	if ((ok = clean_name(u->link, &depth, archive_entry_hardlink(e), u->url)) < 0)
		return ok;
	fd = beneath(u->rootfd, u->link, O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
	ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && depth > 0;
	if (fd >= 0)
		close(fd);
	if (!ok)
		return orch_err_set(ORCH_EINVALID, "artifact %s: hard link %s -> %s "
		    "does not name a file of the archive", u->url, u->name,
		    archive_entry_hardlink(e));
	archive_entry_set_hardlink(e, u->link);
	archive_entry_set_size(e, 0); /* never write through a hard link */
	return 0;
}

/* 0: write e (name and mode rewritten); 1: skip it (the root dir). */
static int
judge_member(struct unpack *u, struct archive_entry *e)
{
	unsigned type = archive_entry_filetype(e);
	int depth, rc;

	if ((rc = clean_name(u->name, &depth, archive_entry_pathname(e), u->url)) < 0)
		return rc;
	if (++u->members > (uint64_t)u->o.max_entries)
		return orch_err_set(ORCH_ETOOBIG, "artifact %s has more than %d "
		    "members", u->url, u->o.max_entries);
	if (depth == 0) {
		if (type == AE_IFDIR && archive_entry_hardlink(e) == NULL)
			return 1;
		return orch_err_set(ORCH_EINVALID, "artifact %s: member \"%s\" "
		    "would replace the artifact dir", u->url,
		    archive_entry_pathname(e));
	}
	if (archive_entry_hardlink(e) != NULL) {
		if ((rc = check_hardlink(u, e)) < 0)
			return rc;
	} else if (type == AE_IFREG) {
		int64_t size = archive_entry_size(e);

		if (size < 0 || (uint64_t)size > u->o.max_unpacked_bytes - u->done)
			return too_big(u);
	} else if (type == AE_IFLNK) {
		if (archive_entry_symlink(e) == NULL || !archive_entry_symlink(e)[0])
			return refuse(u, "is a symlink without a target");
	} else if (type != AE_IFDIR)
		return refuse(u, "is a device node, fifo or socket");
	if ((rc = check_place(u, type)) < 0)
		return rc;
	archive_entry_set_pathname(e, u->name);
	/* No setuid/setgid/sticky; dirs stay ours to walk and remove. */
	archive_entry_set_perm(e, (archive_entry_perm(e) & 0777) |
	    (type == AE_IFDIR ? 0700 : 0));
	return 0;
}

/* ---- writing ---- */

static int
archive_fail(struct unpack *u, struct archive *a, const char *what)
{
	int en = archive_errno(a);
	const char *msg = archive_error_string(a);
	/* The disk's own failures are ours; the rest is the archive's. */
	int code = (en == ENOSPC || en == EDQUOT || en == EIO || en == ENOMEM ||
	    en == EROFS || en == EMFILE || en == ENFILE) ? ORCH_ERROR : ORCH_EINVALID;

	return orch_err_set(code, "artifact %s: %s%s%s: %s", u->url, what,
	    u->name[0] ? " " : "", u->name, msg ? msg : "unknown error");
}

/* Copy a member's data, counting every byte (holes too) against the
 * budget as it is written: a header's size is not trusted alone. */
static int
copy_data(struct unpack *u, struct archive *in, struct archive *out,
    int64_t size)
{
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(in, &buf, &len, &off);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return archive_fail(u, in, "damaged data of");
		if (off < 0 || (uint64_t)off + len > (uint64_t)size ||
		    u->done + (uint64_t)off + len > u->o.max_unpacked_bytes)
			return too_big(u);
		if (archive_write_data_block(out, buf, len, off) < ARCHIVE_WARN)
			return archive_fail(u, out, "write");
		if (orch_mono_ms() > u->deadline)
			return timed_out(u);
	}
}

/* Every member of in, judged, then written by out. */
static int
unpack_members(struct unpack *u, struct archive *in, struct archive *out)
{
	struct archive_entry *e;
	int rc = 0, r;

	while (rc == 0) {
		int64_t size;

		r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return archive_fail(u, in, u->members ? "damaged archive after"
			    : "not a tar archive");
		if ((rc = judge_member(u, e)) != 0) {
			rc = rc > 0 ? 0 : rc;
			continue;
		}
		if (archive_write_header(out, e) < ARCHIVE_WARN)
			return archive_fail(u, out, "cannot write");
		size = archive_entry_filetype(e) == AE_IFREG &&
		    archive_entry_hardlink(e) == NULL ? archive_entry_size(e) : 0;
		if (size > 0)
			rc = copy_data(u, in, out, size);
		if (rc == 0 && archive_write_finish_entry(out) < ARCHIVE_WARN)
			rc = archive_fail(u, out, "cannot finish");
		u->done += (uint64_t)size;
	}
	if (rc == 0 && u->members == 0)
		rc = orch_err_set(ORCH_EINVALID, "artifact %s: archive has no "
		    "members (not a tar archive?)", u->url);
	return rc;
}

/* Layer 3: every symlink of the tree at dfd (u->path), depth below the
 * root, followed to where it leads. */
static int
walk_links(struct unpack *u, int dfd, int depth)
{
	size_t plen = strlen(u->path);
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd, rc = 0;

	if ((fd = dup(dfd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return orch_err_sys(ORCH_ERROR, "artifact %s: read %s", u->url, u->path);
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    (orch_mono_ms() > u->deadline && (rc = timed_out(u)) < 0))
			continue;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			st.st_mode = 0; /* vanished: refused below, as unknown */
		snprintf(u->path + plen, sizeof(u->path) - plen, "%s%s",
		    plen ? "/" : "", e->d_name);
		if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
			int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);

			rc = sub < 0 ? orch_err_sys(ORCH_ERROR, "artifact %s: open %s",
			    u->url, u->path) : walk_links(u, sub, depth + 1);
			if (sub >= 0)
				close(sub);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX];
			ssize_t n = readlinkat(dfd, e->d_name, t, sizeof(t) - 1);
			int out, kfd;

			t[n > 0 ? n : 0] = '\0';
			out = n <= 0 ? 2 : link_leads_out(u, plen, t);
			/* And the kernel's opinion, for a link that resolves. */
			kfd = out ? -1 : beneath(u->rootfd, u->path, O_PATH, 0);
			if (kfd < 0 && (errno == EXDEV || errno == ELOOP) && !out)
				out = errno == EXDEV ? 1 : 2;
			if (kfd >= 0)
				close(kfd);
			if (out)
				rc = orch_err_set(ORCH_EINVALID, "artifact %s: symlink %s -> "
				    "%s %s", u->url, u->path, t, out == 1 ?
				    "leads out of the artifact dir" : "loops");
		} else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			rc = orch_err_set(ORCH_EINVALID, "artifact %s: %s is a device "
			    "node, fifo or socket", u->url, u->path);
	}
	u->path[plen] = '\0';
	closedir(d);
	return rc;
}

/* ---- the unpacking thread ---- */

static int
unpack_here(struct unpack *u)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	int rc;

	if (in == NULL || out == NULL) {
		rc = orch_err_set(ORCH_ERROR, "out of memory");
		goto out;
	}
	archive_read_support_format_tar(in);
	archive_read_support_filter_gzip(in);
	archive_read_support_filter_bzip2(in);
	archive_read_support_filter_xz(in);
	archive_read_support_filter_zstd(in);
	archive_write_disk_set_options(out, DISK_FLAGS);
	if (archive_read_open_fd(in, u->archive_fd, 64 * 1024) != ARCHIVE_OK) {
		rc = archive_fail(u, in, "not a tar archive");
		goto out;
	}
	rc = unpack_members(u, in, out);
	if (archive_write_close(out) < ARCHIVE_WARN && rc == 0)
		rc = archive_fail(u, out, "cannot finish");
	if (rc == 0)
		rc = walk_links(u, u->rootfd, 0);
out:
	archive_write_free(out);
	archive_read_free(in);
	return rc;
}

static void *
unpack_thread(void *arg)
{
	struct unpack *u = arg;

	/* A cwd (and umask: libarchive sets it to read it) of our own. */
	if (unshare(CLONE_FS) < 0)
		u->rc = orch_err_sys(ORCH_ERROR, "artifact %s: unshare", u->url);
	else if ((u->rootfd = open(u->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fchdir(u->rootfd) < 0)
		u->rc = orch_err_sys(ORCH_ERROR, "artifact %s: enter %s", u->url, u->dir);
	else
		u->rc = unpack_here(u);
	if (u->rootfd >= 0)
		close(u->rootfd);
	if (u->rc < 0) /* the message is thread-local: hand it over */
		snprintf(u->err, sizeof(u->err), "%s", orch_err_last());
	return NULL;
}

int
artifact_unpack_tar(const char *archive, const char *dir, enum artifact_kind kind,
    const char *url, const struct artifact_opts *o)
{
	struct unpack *u = calloc(1, sizeof(*u));
	pthread_t th;
	int rc;

	if (u == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	artifact_opts_fill(&u->o, o);
	u->url = url;
	u->dir = dir;
	u->rootfd = -1;
	u->deadline = orch_mono_ms() + u->o.unpack_timeout_ms;
	/* Opened here: a relative path means our cwd, not the thread's. */
	u->archive_fd = open(archive, O_RDONLY | O_CLOEXEC);
	if (u->archive_fd < 0)
		rc = orch_err_sys(ORCH_ERROR, "artifact %s: open %s", url, archive);
	else if ((rc = pthread_create(&th, NULL, unpack_thread, u)) != 0) {
		errno = rc;
		rc = orch_err_sys(ORCH_ERROR, "artifact %s: start unpacking", url);
	} else {
		pthread_join(th, NULL);
		rc = u->rc < 0 ? orch_err_set(u->rc, "%s", u->err) : 0;
	}
	if (u->archive_fd >= 0)
		close(u->archive_fd);
	free(u);
	if (rc < 0) { /* nothing an archive made outlives its refusal */
		artifact_rm_tree(dir);
		mkdir(dir, 0755);
	}
	return rc;
}
