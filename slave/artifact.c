/*
 * artifact.c - fetch, verify, unpack and prune artifacts; see artifact.h.
 *
 * The order of a fetch, and why:
 *  1. A complete DATA/artifacts/SERVICE/VERSION with the same sha256 is
 *     reused: versions are immutable, a restart must not re-download.
 *  2. Download with libcurl into a temp file next to the final dir (same
 *     filesystem, so the last step is a rename), hashing while writing.
 *  3. Verify the sha256 before anything reads the content.
 *  4. Unpack with libarchive into a temp dir, refusing any member that
 *     could reach outside it and counting bytes as they are written
 *     (artifact_unpack.c).
 *  5. Write the marker, syncfs(), and renameat2(RENAME_NOREPLACE) the temp
 *     dir into place: either the whole version appears or none of it, and
 *     an existing version is never replaced (a concurrent fetch of the
 *     same version that won the race is reused if its sha256 matches).
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifact.h"
#include "err.h"
#include "evloop.h"
#include "sha256.h"

#define STALE_TEMP_SEC 3600

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	/* curl_global_init is not thread-safe on every libcurl; once. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
artifact_name_valid(const char *s, int allow_plus)
{
	size_t n;

	if (s == NULL || s[0] == '\0' || s[0] == '.')
		return 0;
	for (n = 0; s[n]; n++) {
		char ch = s[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-' || (allow_plus && ch == '+')))
			return 0;
	}
	return n <= 128;
}

static char *
join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

static int
oom(void)
{
	return orch_err_set(ORCH_ERROR, "out of memory");
}


/* ---- download ---- */

struct dl {
	int fd;
	struct sha256_ctx sha;
	uint64_t n, max;
	int too_big;
	int werr;
};

static size_t
dl_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct dl *d = arg;
	size_t len = size * nmemb, off = 0;

	if (d->n + len > d->max) {
		d->too_big = 1;
		return 0;
	}
	while (off < len) {
		ssize_t w = write(d->fd, p + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->werr = errno;
			return 0;
		}
		off += (size_t)w;
	}
	sha256_update(&d->sha, p, len);
	d->n += len;
	return len;
}

/* Download url into fd, hashing it into hex. */
static int
download(char hex[SHA256_HEX_LEN + 1], int fd, const char *url,
    const struct artifact_opts *o)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	uint8_t digest[SHA256_DIGEST_LEN];
	struct dl d;
	CURLcode res;
	CURL *c;
	long code = 0, stall_s;
	int rc = 0;

	pthread_once(&curl_once, curl_init_once);
	memset(&d, 0, sizeof(d));
	d.fd = fd;
	d.max = o->max_bytes;
	if ((rc = sha256_init(&d.sha)) < 0)
		return rc;
	c = curl_easy_init();
	if (c == NULL) {
		sha256_discard(&d.sha);
		return orch_err_set(ORCH_ERROR, "curl_easy_init failed");
	}
	stall_s = (long)((o->stall_ms + 999) / 1000);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, evloop_curl_opensocket);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)o->max_redirects);
	/* A redirect may never turn an http URL into a local file read. */
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "file,http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_FILE | CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "orch-slave/0.1");
	if (o->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);

	res = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	switch (res) {
	case CURLE_OK:
		break;
	case CURLE_FILESIZE_EXCEEDED:
		rc = orch_err_set(ORCH_ETOOBIG, "artifact %s is larger than the "
		    "%llu-byte limit", url, (unsigned long long)o->max_bytes);
		break;
	case CURLE_WRITE_ERROR:
		if (d.too_big)
			rc = orch_err_set(ORCH_ETOOBIG, "artifact %s is larger than "
			    "the %llu-byte limit", url, (unsigned long long)o->max_bytes);
		else
			rc = orch_err_set(ORCH_ERROR, "fetch %s: write: %s", url,
			    strerror(d.werr));
		break;
	case CURLE_HTTP_RETURNED_ERROR:
		rc = orch_err_set(code == 404 || code == 410 ? ORCH_ENOTFOUND :
		    ORCH_ERROR, "fetch %s: HTTP %ld", url, code);
		break;
	case CURLE_FILE_COULDNT_READ_FILE:
	case CURLE_REMOTE_FILE_NOT_FOUND:
		rc = orch_err_set(ORCH_ENOTFOUND, "fetch %s: %s", url,
		    errbuf[0] ? errbuf : curl_easy_strerror(res));
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		rc = orch_err_set(ORCH_ERROR, "fetch %s: TLS: %s", url,
		    errbuf[0] ? errbuf : curl_easy_strerror(res));
		break;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		rc = orch_err_set(ORCH_EUNAVAIL, "fetch %s: %s", url,
		    errbuf[0] ? errbuf : curl_easy_strerror(res));
		break;
	default:
		rc = orch_err_set(ORCH_ERROR, "fetch %s: %s", url,
		    errbuf[0] ? errbuf : curl_easy_strerror(res));
		break;
	}
	curl_easy_cleanup(c);
	if (rc == 0 && (rc = sha256_final(digest, &d.sha)) == 0)
		sha256_hex(hex, digest);
	sha256_discard(&d.sha); /* after final a no-op; after a failed fetch it frees */
	return rc;
}

/* The file name a single-file artifact gets: the URL path's last segment
 * when it is a plain name, else "artifact". */
static void
file_name_from_url(char *out, size_t len, const char *url)
{
	const char *p = strstr(url, "://"), *end, *slash;
	size_t n;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "?#");
	for (slash = end; slash > p && slash[-1] != '/'; slash--)
		;
	n = (size_t)(end - slash);
	if (n > 0 && n < len) {
		memcpy(out, slash, n);
		out[n] = '\0';
		if (artifact_name_valid(out, 1) && strcmp(out, ARTIFACT_MARKER) != 0)
			return;
	}
	snprintf(out, len, "artifact");
}

int
artifact_sniff(enum artifact_kind *out, int fd)
{
	uint8_t b[512];
	ssize_t n = pread(fd, b, sizeof(b), 0);

	if (n < 0)
		return orch_err_sys(ORCH_ERROR, "read downloaded artifact");
	*out = ARTIFACT_FILE;
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		*out = ARTIFACT_TARGZ;
	else if ((n >= 6 && memcmp(b, "\xfd" "7zXZ\0", 6) == 0) ||
	    (n >= 4 && memcmp(b, "\x28\xb5\x2f\xfd", 4) == 0) ||
	    (n >= 4 && memcmp(b, "BZh", 3) == 0 && b[3] >= '1' && b[3] <= '9'))
		*out = ARTIFACT_TARAUTO; /* xz, zstd, bzip2 */
	else if (n >= 262 && memcmp(b + 257, "ustar", 5) == 0)
		*out = ARTIFACT_TAR;
	return 0;
}

/* ---- the version dir ---- */

/* 0: dir exists complete with sha; 1: absent; < 0: error. */
static int
existing_version(const char *final, const char *service, const char *version,
    const char *sha)
{
	char buf[SHA256_HEX_LEN + 1], *marker;
	struct stat st;
	ssize_t n;
	int fd;

	if (lstat(final, &st) < 0) {
		if (errno == ENOENT)
			return 1;
		return orch_err_sys(ORCH_ERROR, "stat %s", final);
	}
	if (!S_ISDIR(st.st_mode))
		return orch_err_set(ORCH_EEXISTS, "%s exists and is not a "
		    "directory", final);
	marker = join(final, ARTIFACT_MARKER);
	if (marker == NULL)
		return oom();
	fd = open(marker, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(marker);
	if (fd < 0)
		return orch_err_set(ORCH_EEXISTS, "version %s of %s exists at %s "
		    "but was not unpacked by orch (no %s); remove it", version,
		    service, final, ARTIFACT_MARKER);
	n = read(fd, buf, SHA256_HEX_LEN);
	close(fd);
	if (n == SHA256_HEX_LEN && memcmp(buf, sha, SHA256_HEX_LEN) == 0)
		return 0;
	return orch_err_set(ORCH_EEXISTS, "version %s of %s already unpacked "
	    "from a different artifact", version, service);
}

static int
write_marker(const char *dir, const char *sha)
{
	char *path = join(dir, ARTIFACT_MARKER), line[SHA256_HEX_LEN + 2];
	int fd, rc = 0;

	if (path == NULL)
		return oom();
	/* O_EXCL|O_NOFOLLOW: never write through anything the archive made. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	snprintf(line, sizeof(line), "%s\n", sha);
	if (fd < 0 || write(fd, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1)
		rc = orch_err_sys(ORCH_ERROR, "write %s", path);
	/* Everything unpacked reaches the disk before the marker vouches
	 * for it (and before the rename makes it visible). */
	if (rc == 0 && (syncfs(fd) < 0 || fsync(fd) < 0))
		rc = orch_err_sys(ORCH_ERROR, "sync %s", path);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int
mkdir_one(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return orch_err_sys(errno == ENOENT ? ORCH_ENOTFOUND : ORCH_ERROR,
		    "mkdir %s", path);
	return 0;
}

void
artifact_opts_fill(struct artifact_opts *o, const struct artifact_opts *in)
{
	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = 10000;
	if (o->timeout_ms <= 0)
		o->timeout_ms = 600000;
	if (o->stall_ms <= 0)
		o->stall_ms = 60000;
	if (o->max_bytes == 0)
		o->max_bytes = 2ULL << 30;
	if (o->max_unpacked_bytes == 0)
		o->max_unpacked_bytes = 8ULL << 30;
	if (o->max_redirects <= 0)
		o->max_redirects = 5;
	if (o->unpack_timeout_ms <= 0)
		o->unpack_timeout_ms = 600000;
	if (o->max_entries <= 0)
		o->max_entries = 100000;
}

/* The request is well formed; sha gets its digest in lower case. */
static int
fetch_args(char sha[SHA256_HEX_LEN + 1], const char *data_dir, const char *service,
    const char *version, const struct artifact_spec *a)
{
	if (data_dir == NULL || data_dir[0] == '\0')
		return orch_err_set(ORCH_EINVALID, "artifact: no data dir");
	if (!artifact_name_valid(service, 0))
		return orch_err_set(ORCH_EINVALID, "artifact: bad service name "
		    "\"%s\": use [A-Za-z0-9._-], at most 128, not starting with '.'",
		    service ? service : "(null)");
	if (!artifact_name_valid(version, 1))
		return orch_err_set(ORCH_EINVALID, "artifact: bad version \"%s\" "
		    "of %s: use [A-Za-z0-9._+-], at most 128, not starting with '.'",
		    version ? version : "(null)", service);
	if (a == NULL || a->url == NULL || (strncasecmp(a->url, "file://", 7) != 0 &&
	    strncasecmp(a->url, "http://", 7) != 0 &&
	    strncasecmp(a->url, "https://", 8) != 0))
		return orch_err_set(ORCH_EINVALID, "artifact of %s: URL \"%s\" is "
		    "not file://, http:// or https://", service,
		    a && a->url ? a->url : "(null)");
	if (!sha256_hex_valid(a->sha256))
		return orch_err_set(ORCH_EINVALID, "artifact %s: sha256 \"%s\" is "
		    "not 64 hex digits", a->url, a->sha256 ? a->sha256 : "(null)");
	for (int i = 0; i < SHA256_HEX_LEN; i++)
		sha[i] = (char)((a->sha256[i] >= 'A' && a->sha256[i] <= 'F') ?
		    a->sha256[i] - 'A' + 'a' : a->sha256[i]);
	sha[SHA256_HEX_LEN] = '\0';
	return 0;
}

/* Download url into a new temp file of svcdir (*out_tmpfile, open as
 * *out_fd; the caller unlinks and closes both), checked against sha. */
static int
fetch_to_temp(char **out_tmpfile, int *out_fd, const char *svcdir, const char *version,
    const char *url, const char *sha, const struct artifact_opts *o)
{
	char got[SHA256_HEX_LEN + 1];
	int rc;

	if (asprintf(out_tmpfile, "%s/.fetch-%s-XXXXXX", svcdir, version) < 0) {
		*out_tmpfile = NULL;
		return oom();
	}
	if ((*out_fd = mkostemp(*out_tmpfile, O_CLOEXEC)) < 0) {
		free(*out_tmpfile);
		*out_tmpfile = NULL;
		return orch_err_sys(ORCH_ERROR, "create temp file in %s", svcdir);
	}
	if ((rc = download(got, *out_fd, url, o)) < 0)
		return rc;
	if (strcmp(got, sha) != 0)
		return orch_err_set(ORCH_EINVALID, "checksum mismatch for %s: expected %s, "
		    "got %s", url, sha, got);
	return 0;
}

/* The version's content in a new temp dir of svcdir (*out_tmpdir; the
 * caller removes it unless it is published): the downloaded file itself
 * (taken from *tmpfile), or what its archive holds; then the marker. */
static int
make_content(char **out_tmpdir, const char *svcdir, const char *version, char **tmpfile,
    int fd, const char *url, const char *sha, const struct artifact_opts *o)
{
	enum artifact_kind kind = ARTIFACT_FILE;
	char fname[256], *dest;
	int rc;

	if ((rc = artifact_sniff(&kind, fd)) < 0)
		return rc;
	if (asprintf(out_tmpdir, "%s/.unpack-%s-XXXXXX", svcdir, version) < 0) {
		*out_tmpdir = NULL;
		return oom();
	}
	if (mkdtemp(*out_tmpdir) == NULL) {
		free(*out_tmpdir);
		*out_tmpdir = NULL;
		return orch_err_sys(ORCH_ERROR, "create temp dir in %s", svcdir);
	}
	chmod(*out_tmpdir, 0755);
	if (kind != ARTIFACT_FILE) {
		if ((rc = artifact_unpack_tar(*tmpfile, *out_tmpdir, kind, url, o)) < 0)
			return rc;
		return write_marker(*out_tmpdir, sha);
	}
	file_name_from_url(fname, sizeof(fname), url);
	if ((dest = join(*out_tmpdir, fname)) == NULL)
		return oom();
	if (fchmod(fd, 0755) < 0 || rename(*tmpfile, dest) < 0) {
		rc = orch_err_sys(ORCH_ERROR, "move artifact to %s", dest);
		free(dest);
		return rc;
	}
	free(dest);
	free(*tmpfile);
	*tmpfile = NULL;
	return write_marker(*out_tmpdir, sha);
}

/* Move the temp dir to its version's place, never over another one: when
 * someone else unpacked this version meanwhile, theirs is used (if it is
 * the same sha). *tmpdir is NULL once it has moved. */
static int
publish(char **tmpdir, const char *final, const char *service, const char *version,
    const char *sha)
{
	int rc;

	if (renameat2(AT_FDCWD, *tmpdir, AT_FDCWD, final, RENAME_NOREPLACE) == 0) {
		free(*tmpdir);
		*tmpdir = NULL;
		return 0;
	}
	if (errno != EEXIST && errno != ENOTEMPTY)
		return orch_err_sys(ORCH_ERROR, "rename %s to %s", *tmpdir, final);
	rc = existing_version(final, service, version, sha);
	return rc == 1 ? orch_err_set(ORCH_ERROR, "%s vanished", final) : rc;
}

int
artifact_fetch_opts(char **out_dir, const char *data_dir, const char *service,
    const char *version, const struct artifact_spec *a,
    const struct artifact_opts *opts)
{
	struct artifact_opts o;
	char sha[SHA256_HEX_LEN + 1];
	char *arts = NULL, *svcdir = NULL, *final = NULL, *tmpfile = NULL, *tmpdir = NULL;
	int rc, fd = -1;

	*out_dir = NULL;
	artifact_opts_fill(&o, opts);
	if ((rc = fetch_args(sha, data_dir, service, version, a)) < 0)
		return rc;
	arts = join(data_dir, "artifacts");
	svcdir = arts ? join(arts, service) : NULL;
	final = svcdir ? join(svcdir, version) : NULL;
	if (final == NULL) {
		rc = oom();
		goto out;
	}
	rc = existing_version(final, service, version, sha);
	if (rc <= 0)
		goto out; /* reused (0) or conflict */
	if ((rc = mkdir_one(arts)) < 0 || (rc = mkdir_one(svcdir)) < 0 ||
	    (rc = fetch_to_temp(&tmpfile, &fd, svcdir, version, a->url, sha, &o)) < 0 ||
	    (rc = make_content(&tmpdir, svcdir, version, &tmpfile, fd, a->url, sha, &o)) < 0 ||
	    (rc = publish(&tmpdir, final, service, version, sha)) < 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmpfile)
		unlink(tmpfile);
	if (tmpdir)
		artifact_rm_tree(tmpdir);
	if (rc == 0) {
		*out_dir = final;
		final = NULL;
	}
	free(tmpdir);
	free(tmpfile);
	free(final);
	free(svcdir);
	free(arts);
	return rc;
}

int
artifact_fetch(char **out_dir, const char *data_dir, const char *service,
    const char *version, const struct artifact_spec *a)
{
	return artifact_fetch_opts(out_dir, data_dir, service, version, a, NULL);
}

/* ---- pruning ---- */

struct ver {
	char *name;
	struct timespec when;
};

static int
ver_newest_first(const void *pa, const void *pb)
{
	const struct ver *a = pa, *b = pb;

	if (a->when.tv_sec != b->when.tv_sec)
		return a->when.tv_sec > b->when.tv_sec ? -1 : 1;
	if (a->when.tv_nsec != b->when.tv_nsec)
		return a->when.tv_nsec > b->when.tv_nsec ? -1 : 1;
	return -strcmp(a->name, b->name);
}

/* Remove svcdir/name: renamed away first so it vanishes at once. */
static int
remove_version(const char *svcdir, const char *name)
{
	char *from = join(svcdir, name), *trash = NULL;
	int rc = 0;

	if (from == NULL || asprintf(&trash, "%s/.trash-XXXXXX", svcdir) < 0) {
		free(from);
		return oom();
	}
	if (mkdtemp(trash) == NULL || rename(from, trash) < 0) {
		rc = orch_err_sys(ORCH_ERROR, "remove %s", from);
		rmdir(trash);
	} else
		artifact_rm_tree(trash);
	free(trash);
	free(from);
	return rc;
}

int
artifact_prune(const char *data_dir, const char *service, size_t keep,
    const char *in_use_version)
{
	struct ver *v = NULL;
	struct dirent *e;
	struct stat st;
	size_t n = 0, cap = 0, kept = 0, i;
	char *arts = NULL, *svcdir = NULL;
	DIR *d = NULL;
	int rc = 0, removed = 0, dfd;
	time_t now = time(NULL);

	if (data_dir == NULL || !artifact_name_valid(service, 0))
		return orch_err_set(ORCH_EINVALID, "artifact prune: bad service "
		    "name \"%s\"", service ? service : "(null)");
	if (in_use_version != NULL && !artifact_name_valid(in_use_version, 1))
		return orch_err_set(ORCH_EINVALID, "artifact prune: bad version "
		    "\"%s\"", in_use_version);
	arts = join(data_dir, "artifacts");
	svcdir = arts ? join(arts, service) : NULL;
	if (svcdir == NULL) {
		rc = oom();
		goto out;
	}
	d = opendir(svcdir);
	if (d == NULL) {
		if (errno != ENOENT)
			rc = orch_err_sys(ORCH_ERROR, "open %s", svcdir);
		goto out;
	}
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		char marker[512];

		if (e->d_name[0] == '.') {
			/* Work dirs of a fetch that crashed long ago. */
			if ((strncmp(e->d_name, ".fetch-", 7) == 0 ||
			    strncmp(e->d_name, ".unpack-", 8) == 0 ||
			    strncmp(e->d_name, ".trash-", 7) == 0) &&
			    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    now - st.st_mtime > STALE_TEMP_SEC)
				artifact_rm_at(dfd, e->d_name, 0);
			continue;
		}
		snprintf(marker, sizeof(marker), "%s/%s", e->d_name, ARTIFACT_MARKER);
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) ||
		    fstatat(dfd, marker, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue; /* not a version dir made by us */
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct ver *nv = realloc(v, nc * sizeof(*nv));

			if (nv == NULL) {
				rc = oom();
				goto out;
			}
			v = nv;
			cap = nc;
		}
		v[n].name = strdup(e->d_name);
		if (v[n].name == NULL) {
			rc = oom();
			goto out;
		}
		v[n++].when = st.st_mtim;
	}
	qsort(v, n, sizeof(*v), ver_newest_first);
	for (i = 0; i < n; i++) {
		if (kept < keep) {
			kept++;
			continue;
		}
		if (in_use_version && strcmp(v[i].name, in_use_version) == 0)
			continue;
		rc = remove_version(svcdir, v[i].name);
		if (rc < 0)
			goto out;
		removed++;
	}
	rc = removed;
out:
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	if (d)
		closedir(d);
	free(svcdir);
	free(arts);
	return rc;
}
