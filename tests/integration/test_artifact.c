/*
 * test_artifact.c - slave/artifact.c with real archives made by GNU tar,
 * served over file:// and by a real HTTP server (libmicrohttpd, in a
 * thread, on 127.0.0.1).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "artifact.h"
#include "check.h"
#include "daemon.h"
#include "err.h"
#include "sha256.h"
#include "units.h"

static char root[512];      /* everything of this run */
static char src[600];       /* archives and their source trees */
static char data[600];      /* the slave's data dir */

/* ---- helpers ---- */

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		check_fail(__FILE__, __LINE__, "write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	chmod(path, mode);
}

static char *
read_text(const char *path)
{
	static char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static const char *
hash_of(const char *path)
{
	static char hex[4][SHA256_HEX_LEN + 1];
	static int slot;
	char *h = hex[slot++ % 4];

	if (sha256_file_hex(h, path) < 0)
		check_fail(__FILE__, __LINE__, "hash %s: %s", path, orch_err_last());
	return h;
}

static int
exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
exists(const char *fmt, ...)
{
	char path[1024];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return lstat(path, &st) == 0;
}

/* A source tree "NAME/" with bin/app printing TAG, packed as NAME.tar.gz
 * and NAME.tar. */
static void
make_release(const char *name, const char *tag)
{
	char path[1024], script[256];

	REQUIRE(sh("mkdir -p %s/%s/bin %s/%s/etc", src, name, src, name) == 0);
	snprintf(path, sizeof(path), "%s/%s/bin/app", src, name);
	snprintf(script, sizeof(script), "#!/bin/sh\necho %s\n", tag);
	put_file(path, script, 0755);
	snprintf(path, sizeof(path), "%s/%s/etc/app.conf", src, name);
	put_file(path, tag, 0644);
	REQUIRE(sh("cd %s/%s && tar -czf %s/%s.tar.gz bin etc && "
	    "tar -cf %s/%s.tar bin etc", src, name, src, name, src, name) == 0);
}

static void
setup(void)
{
	const char *base = getenv("ORCH_TEST_OUT");

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	mkdir(base, 0755);
	snprintf(root, sizeof(root), "%s/artifact-XXXXXX", base);
	REQUIRE(mkdtemp(root) != NULL);
	snprintf(src, sizeof(src), "%s/src", root);
	snprintf(data, sizeof(data), "%s/data", root);
	REQUIRE(mkdir(src, 0755) == 0 && mkdir(data, 0755) == 0);
}

static void
teardown(void)
{
	if (root[0])
		sh("rm -rf %s", root);
	root[0] = '\0';
}

static int
fetch(char **out, const char *svc, const char *ver, const char *url,
    const char *sha, const struct artifact_opts *o)
{
	struct artifact_spec a = {(char *)url, (char *)sha};

	*out = NULL;
	return artifact_fetch_opts(out, data, svc, ver, &a, o);
}

/* ---- an HTTP server on 127.0.0.1 ---- */

static struct MHD_Daemon *mhd;
static int mhd_port;
static volatile int mhd_hits;

static ssize_t
drip(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct timespec ts = {0, 100 * 1000000};

	if (pos >= 300)
		return MHD_CONTENT_READER_END_OF_STREAM;
	nanosleep(&ts, NULL);
	buf[0] = 'x';
	return 1;
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **req)
{
	struct MHD_Response *r = NULL;
	unsigned int status = 200;
	enum MHD_Result ret;
	char path[1024], loc[1024];

	__atomic_add_fetch(&mhd_hits, 1, __ATOMIC_SEQ_CST);
	if (strncmp(url, "/files/", 7) == 0 && strstr(url, "..") == NULL) {
		int fd;
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", src, url + 7);
		fd = open(path, O_RDONLY);
		if (fd >= 0 && fstat(fd, &st) == 0)
			r = MHD_create_response_from_fd((size_t)st.st_size, fd);
		else {
			if (fd >= 0)
				close(fd);
			status = 404;
		}
	} else if (strncmp(url, "/redirect/", 10) == 0) {
		snprintf(loc, sizeof(loc), "/files/%s", url + 10);
		status = 302;
	} else if (strcmp(url, "/loop") == 0) {
		snprintf(loc, sizeof(loc), "/loop");
		status = 302;
	} else if (strcmp(url, "/to-file") == 0) {
		snprintf(loc, sizeof(loc), "file://%s/v1.tar.gz", src);
		status = 302;
	} else if (strcmp(url, "/drip") == 0) {
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1, drip,
		    NULL, NULL);
	} else if (strcmp(url, "/error") == 0)
		status = 500;
	else
		status = 404;
	if (r == NULL)
		r = MHD_create_response_from_buffer(2, (void *)"no",
		    MHD_RESPMEM_PERSISTENT);
	if (status == 302)
		MHD_add_response_header(r, "Location", loc);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* key and cert: PEM text for an https server, or NULL for http. */
static void
http_start_tls(const char *key, const char *cert)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_INTERNAL_POLLING_THREAD;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (key != NULL)
		mhd = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, answer,
		    NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_HTTPS_MEM_KEY, key,
		    MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
	else
		mhd = MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL,
		    MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	REQUIRE(mhd != NULL);
	info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
	REQUIRE(info != NULL && info->port > 0);
	mhd_port = info->port;
}

static void
http_start(void)
{
	http_start_tls(NULL, NULL);
}

static void
http_stop(void)
{
	if (mhd)
		MHD_stop_daemon(mhd);
	mhd = NULL;
}

/* ---- tests ---- */

TEST(artifact__file_url_targz)
{
	char url[1024], svcdir[1024], *dir = NULL, *marker;
	const char *sha;

	setup();
	make_release("v1", "one");
	snprintf(url, sizeof(url), "file://%s/v1.tar.gz", src);
	sha = hash_of(url + 7);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, sha, NULL), 0);
	REQUIRE(dir != NULL);
	CHECK(strstr(dir, "/artifacts/web/1.0.0") != NULL);
	CHECK(exists("%s/bin/app", dir));
	CHECK(exists("%s/etc/app.conf", dir));
	CHECK_EQ_INT(access(dir, F_OK), 0);
	CHECK(sh("test \"$(%s/bin/app)\" = one", dir) == 0);
	marker = read_text(strcat(strcpy(svcdir, dir), "/" ARTIFACT_MARKER));
	REQUIRE(marker != NULL);
	CHECK(strncmp(marker, sha, SHA256_HEX_LEN) == 0);
	/* Only the version dir: no temp file or dir left next to it. */
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web", data);
	CHECK_EQ_INT(dir_entries(svcdir), 1);
	free(dir);
	teardown();
}

TEST(artifact__plain_tar_and_single_file)
{
	char url[1024], *dir = NULL;
	struct stat st;

	setup();
	make_release("v1", "plain");
	snprintf(url, sizeof(url), "file://%s/v1.tar", src);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, hash_of(url + 7), NULL), 0);
	CHECK(dir && sh("test \"$(%s/bin/app)\" = plain", dir) == 0);
	free(dir);

	/* Not an archive: kept as-is under its URL name, executable. */
	snprintf(url, sizeof(url), "%s/tool.sh", src);
	put_file(url, "#!/bin/sh\necho single\n", 0644);
	snprintf(url, sizeof(url), "file://%s/tool.sh", src);
	CHECK_EQ_INT(fetch(&dir, "tool", "2.0.0+build.7", url, hash_of(url + 7),
	    NULL), 0);
	REQUIRE(dir != NULL);
	snprintf(url, sizeof(url), "%s/tool.sh", dir);
	CHECK(stat(url, &st) == 0 && (st.st_mode & 0111) == 0111);
	CHECK(sh("test \"$(%s)\" = single", url) == 0);
	free(dir);
	teardown();
}

TEST(artifact__bad_checksum_leaves_nothing)
{
	char url[1024], svcdir[1024], *dir = (char *)"x";
	const char *wrong =
	    "0000000000000000000000000000000000000000000000000000000000000000";

	setup();
	make_release("v1", "one");
	snprintf(url, sizeof(url), "file://%s/v1.tar.gz", src);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, wrong, NULL), ORCH_EINVALID);
	CHECK(dir == NULL);
	CHECK_CONTAINS(orch_err_last(), "checksum mismatch for file://");
	CHECK_CONTAINS(orch_err_last(), "expected 0000000000");
	CHECK_CONTAINS(orch_err_last(), hash_of(url + 7));
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web", data);
	CHECK_EQ_INT(dir_entries(svcdir), 0);
	CHECK(!exists("%s/1.0.0", svcdir));
	teardown();
}

TEST(artifact__http)
{
	char url[1024], svcdir[1024], *dir = NULL;
	struct artifact_opts o;
	const char *sha;
	int64_t t0, took;

	setup();
	http_start();
	make_release("v1", "web1");
	snprintf(url, sizeof(url), "%s/v1.tar.gz", src);
	sha = hash_of(url);
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web", data);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/files/v1.tar.gz", mhd_port);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, sha, NULL), 0);
	CHECK(dir && sh("test \"$(%s/bin/app)\" = web1", dir) == 0);
	free(dir);

	/* Redirects are followed (bounded), never into file://. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect/v1.tar.gz",
	    mhd_port);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.1", url, sha, NULL), 0);
	free(dir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/loop", mhd_port);
	CHECK_EQ_INT(fetch(&dir, "web", "9.0.0", url, sha, NULL), ORCH_ERROR);
	CHECK_CONTAINS(orch_err_last(), "edirect");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/to-file", mhd_port);
	CHECK(fetch(&dir, "web", "9.0.0", url, sha, NULL) < 0);
	CHECK(dir == NULL);

	/* HTTP errors fail the fetch with the status in the message. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/missing.tar.gz", mhd_port);
	CHECK_EQ_INT(fetch(&dir, "web", "9.0.0", url, sha, NULL), ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "HTTP 404");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/error", mhd_port);
	CHECK_EQ_INT(fetch(&dir, "web", "9.0.0", url, sha, NULL), ORCH_ERROR);
	CHECK_CONTAINS(orch_err_last(), "HTTP 500");

	/* A server that drips one byte per 100 ms hits the total timeout. */
	memset(&o, 0, sizeof(o));
	o.timeout_ms = 1000;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/drip", mhd_port);
	t0 = orch_mono_ms();
	CHECK_EQ_INT(fetch(&dir, "web", "9.0.0", url, sha, &o), ORCH_EUNAVAIL);
	took = orch_mono_ms() - t0;
	CHECK(took >= 900 && took < 5000);
	CHECK_CONTAINS(orch_err_last(), "imed out");

	/* The size cap. */
	memset(&o, 0, sizeof(o));
	o.max_bytes = 64;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/files/v1.tar.gz", mhd_port);
	CHECK_EQ_INT(fetch(&dir, "web", "9.0.0", url, sha, &o), ORCH_ETOOBIG);
	CHECK_CONTAINS(orch_err_last(), "64-byte limit");

	/* Nothing is refused for being closed: a port nobody listens on. */
	snprintf(url, sizeof(url), "http://127.0.0.1:1/v1.tar.gz");
	CHECK_EQ_INT(fetch(&dir, "web", "9.0.0", url, sha, NULL), ORCH_EUNAVAIL);

	/* After all those failures only the two good versions are there. */
	CHECK_EQ_INT(dir_entries(svcdir), 2);
	CHECK(!exists("%s/9.0.0", svcdir));
	http_stop();
	teardown();
}

/* Whole small file as a string (malloc'd), or NULL. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) != NULL &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

TEST(artifact__https)
{
	char url[1024], keyp[700], certp[700], *key, *cert, *dir = NULL;
	struct artifact_opts o;
	const char *sha;

	setup();
	make_release("v1", "tls");
	snprintf(url, sizeof(url), "%s/v1.tar.gz", src);
	sha = hash_of(url);
	/* A self-signed certificate for 127.0.0.1, made for this run. */
	snprintf(keyp, sizeof(keyp), "%s/key.pem", root);
	snprintf(certp, sizeof(certp), "%s/cert.pem", root);
	REQUIRE(sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
	    "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
	    "-keyout %s -out %s >/dev/null 2>&1", keyp, certp) == 0);
	key = slurp(keyp);
	cert = slurp(certp);
	REQUIRE(key && cert);
	http_start_tls(key, cert);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/files/v1.tar.gz",
	    mhd_port);

	/* Not signed by a CA we trust: refused. */
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, sha, NULL), ORCH_ERROR);
	CHECK_CONTAINS(orch_err_last(), "TLS");
	CHECK(dir == NULL);
	/* Trusting it explicitly. */
	memset(&o, 0, sizeof(o));
	o.ca_file = certp;
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, sha, &o), 0);
	CHECK(dir && sh("test \"$(%s/bin/app)\" = tls", dir) == 0);
	free(dir);
	http_stop();
	free(key);
	free(cert);
	teardown();
}

TEST(artifact__versions_side_by_side_and_reuse)
{
	char url1[1024], url2[1024], *d1 = NULL, *d2 = NULL, *d3 = NULL;
	char sha1[SHA256_HEX_LEN + 1], sha2[SHA256_HEX_LEN + 1], svcdir[1024];
	char upper[SHA256_HEX_LEN + 1];
	int hits, i;

	setup();
	http_start();
	make_release("v1", "one");
	make_release("v2", "two");
	snprintf(url1, sizeof(url1), "%s/v1.tar.gz", src);
	snprintf(url2, sizeof(url2), "%s/v2.tar.gz", src);
	strcpy(sha1, hash_of(url1));
	strcpy(sha2, hash_of(url2));
	snprintf(url1, sizeof(url1), "http://127.0.0.1:%d/files/v1.tar.gz", mhd_port);
	snprintf(url2, sizeof(url2), "http://127.0.0.1:%d/files/v2.tar.gz", mhd_port);

	CHECK_EQ_INT(fetch(&d1, "web", "1.0.0", url1, sha1, NULL), 0);
	CHECK_EQ_INT(fetch(&d2, "web", "2.0.0", url2, sha2, NULL), 0);
	REQUIRE(d1 && d2);
	CHECK(strcmp(d1, d2) != 0);
	CHECK(sh("test \"$(%s/bin/app)\" = one", d1) == 0);
	CHECK(sh("test \"$(%s/bin/app)\" = two", d2) == 0);

	/* A re-fetch of a complete version reuses it without a request,
	 * whatever the case of the hex digits. */
	hits = mhd_hits;
	for (i = 0; i < SHA256_HEX_LEN + 1; i++)
		upper[i] = (char)(sha1[i] >= 'a' && sha1[i] <= 'f' ? sha1[i] - 32 :
		    sha1[i]);
	CHECK_EQ_INT(fetch(&d3, "web", "1.0.0", url1, upper, NULL), 0);
	CHECK_STR(d3, d1);
	CHECK_EQ_INT(mhd_hits, hits);
	free(d3);

	/* The same version from another artifact: refused, v1 untouched. */
	CHECK_EQ_INT(fetch(&d3, "web", "1.0.0", url2, sha2, NULL), ORCH_EEXISTS);
	CHECK_CONTAINS(orch_err_last(),
	    "version 1.0.0 of web already unpacked from a different artifact");
	CHECK(d3 == NULL);
	CHECK(sh("test \"$(%s/bin/app)\" = one", d1) == 0);

	/* A dir we did not make (no marker) is never taken over. */
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web/3.0.0", data);
	REQUIRE(mkdir(svcdir, 0755) == 0);
	CHECK_EQ_INT(fetch(&d3, "web", "3.0.0", url1, sha1, NULL), ORCH_EEXISTS);
	CHECK_CONTAINS(orch_err_last(), ARTIFACT_MARKER);
	CHECK_EQ_INT(dir_entries(svcdir), 0);
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web", data);
	CHECK_EQ_INT(dir_entries(svcdir), 3);
	free(d1);
	free(d2);
	http_stop();
	teardown();
}

static void
set_marker_time(const char *version, time_t t)
{
	char path[1024];
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	snprintf(path, sizeof(path), "%s/artifacts/web/%s/" ARTIFACT_MARKER, data,
	    version);
	CHECK_EQ_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
}

TEST(artifact__prune)
{
	static const char *vers[] = {"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"};
	char url[1024], svcdir[1024], *dir;
	const char *sha;
	time_t now = time(NULL);
	size_t i;

	setup();
	make_release("v1", "one");
	snprintf(url, sizeof(url), "file://%s/v1.tar.gz", src);
	sha = hash_of(url + 7);
	for (i = 0; i < 5; i++) {
		CHECK_EQ_INT(fetch(&dir, "web", vers[i], url, sha, NULL), 0);
		free(dir);
		/* Unpacked in this order, a minute apart. */
		set_marker_time(vers[i], now - 600 + (time_t)i * 60);
	}
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web/not-ours", data);
	REQUIRE(mkdir(svcdir, 0755) == 0);
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web", data);

	/* Keep the 2 newest plus the in-use oldest: 1.1.0 and 1.2.0 go. */
	CHECK_EQ_INT(artifact_prune(data, "web", 2, "1.0.0"), 2);
	CHECK(exists("%s/1.0.0", svcdir));
	CHECK(!exists("%s/1.1.0", svcdir));
	CHECK(!exists("%s/1.2.0", svcdir));
	CHECK(exists("%s/1.3.0/bin/app", svcdir));
	CHECK(exists("%s/1.4.0/bin/app", svcdir));
	CHECK(exists("%s/not-ours", svcdir));
	CHECK_EQ_INT(dir_entries(svcdir), 4); /* no trash left */

	/* Nothing more to do. */
	CHECK_EQ_INT(artifact_prune(data, "web", 2, "1.0.0"), 0);
	/* keep 0: only the in-use one survives (and what is not ours). */
	CHECK_EQ_INT(artifact_prune(data, "web", 0, "1.3.0"), 2);
	CHECK(exists("%s/1.3.0/bin/app", svcdir));
	CHECK_EQ_INT(dir_entries(svcdir), 2);
	/* A service with no artifacts yet. */
	CHECK_EQ_INT(artifact_prune(data, "nothing-here", 1, NULL), 0);
	CHECK_EQ_INT(artifact_prune(data, "../web", 1, NULL), ORCH_EINVALID);
	CHECK_EQ_INT(artifact_prune(data, "web", 1, "../x"), ORCH_EINVALID);
	teardown();
}

/* A fetch of an archive that must be refused leaves nothing anywhere. */
static void
check_refused(const char *archive, const char *why)
{
	char url[1024], svcdir[1024], *dir = NULL;

	snprintf(url, sizeof(url), "file://%s/%s", src, archive);
	CHECK_EQ_INT(fetch(&dir, "evil", "1.0.0", url, hash_of(url + 7), NULL),
	    ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), why);
	CHECK(dir == NULL);
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/evil", data);
	CHECK_EQ_INT(dir_entries(svcdir), 0);
}

TEST(artifact__traversal_rejected)
{
	static const char *bad_names[] = {"", ".", "..", "../web", "a/b", ".hidden",
	    "web\n", "we b", "/abs"};
	char url[1024], *dir = NULL, longname[200];
	const char *sha;
	size_t i;

	setup();
	make_release("v1", "one");
	snprintf(url, sizeof(url), "file://%s/v1.tar.gz", src);
	sha = hash_of(url + 7);
	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		CHECK_EQ_INT(fetch(&dir, bad_names[i], "1.0.0", url, sha, NULL),
		    ORCH_EINVALID);
		CHECK_EQ_INT(fetch(&dir, "web", bad_names[i], url, sha, NULL),
		    ORCH_EINVALID);
	}
	CHECK_EQ_INT(fetch(&dir, NULL, "1.0.0", url, sha, NULL), ORCH_EINVALID);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0/../../x", url, sha, NULL),
	    ORCH_EINVALID);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ_INT(fetch(&dir, longname, "1.0.0", url, sha, NULL), ORCH_EINVALID);
	CHECK_EQ_INT(dir_entries(data), 0);

	/* Archives with dangerous members, made with GNU tar -P (which
	 * stores names as given). */
	REQUIRE(sh("mkdir -p %s/t/sub && echo x > %s/t/outside.txt && "
	    "cd %s/t/sub && tar -cPf %s/dotdot.tar ../outside.txt 2>/dev/null && "
	    "tar -cPzf %s/abs.tar.gz %s/t/outside.txt 2>/dev/null",
	    src, src, src, src, src, src) == 0);
	check_refused("dotdot.tar", "(contains ..)");
	check_refused("abs.tar.gz", "(absolute path)");
	CHECK(!exists("%s/artifacts/outside.txt", data));

	/* Symlinks out of the artifact dir: absolute, climbing, chained. */
	REQUIRE(sh("mkdir -p %s/l1 %s/l2/a %s/l3 %s/l4 && "
	    "ln -s /etc %s/l1/etc && ln -s ../../.. %s/l2/a/up && "
	    "ln -s . %s/l3/d && ln -s d/.. %s/l3/e && "
	    "echo hi > %s/l4/" ARTIFACT_MARKER " && "
	    "tar -C %s/l1 -cf %s/l1.tar . && tar -C %s/l2 -cf %s/l2.tar . && "
	    "tar -C %s/l3 -cf %s/l3.tar d e && tar -C %s/l4 -cf %s/l4.tar .",
	    src, src, src, src, src, src, src, src, src,
	    src, src, src, src, src, src, src, src) == 0);
	check_refused("l1.tar", "leads out of the artifact dir");
	check_refused("l2.tar", "leads out of the artifact dir");
	check_refused("l3.tar", "leads out of the artifact dir");
	check_refused("l4.tar", "reserved for orch");

	/* An inside symlink is fine. */
	REQUIRE(sh("mkdir -p %s/ok/bin && echo hi > %s/ok/bin/real && "
	    "ln -s bin/real %s/ok/link && tar -C %s/ok -czf %s/ok.tar.gz .",
	    src, src, src, src, src) == 0);
	snprintf(url, sizeof(url), "file://%s/ok.tar.gz", src);
	CHECK_EQ_INT(fetch(&dir, "good", "1.0.0", url, hash_of(url + 7), NULL), 0);
	CHECK(dir && exists("%s/link", dir));
	free(dir);
	teardown();
}

TEST(artifact__bad_inputs)
{
	char url[1024], svcdir[1024], *dir = NULL;
	const char *sha;
	struct artifact_spec none = {NULL, NULL};

	setup();
	make_release("v1", "one");
	snprintf(url, sizeof(url), "file://%s/v1.tar.gz", src);
	sha = hash_of(url + 7);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", "ftp://host/x.tgz", sha, NULL),
	    ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "not file://, http:// or https://");
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, "abc", NULL), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "64 hex digits");
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, NULL, NULL), ORCH_EINVALID);
	CHECK_EQ_INT(artifact_fetch(&dir, data, "web", "1.0.0", &none),
	    ORCH_EINVALID);
	CHECK_EQ_INT(artifact_fetch(&dir, data, "web", "1.0.0", NULL),
	    ORCH_EINVALID);
	snprintf(url, sizeof(url), "file://%s/nope.tar.gz", src);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, sha, NULL), ORCH_ENOTFOUND);

	/* gzip that is not a tar, long or short: libarchive's complaint
	 * comes back. */
	REQUIRE(sh("head -c 2000 /dev/urandom | gzip > %s/notar.gz && "
	    "echo hello | gzip > %s/short.gz", src, src) == 0);
	snprintf(url, sizeof(url), "file://%s/notar.gz", src);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, hash_of(url + 7), NULL),
	    ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "not a tar archive: Unrecognized archive format");
	snprintf(url, sizeof(url), "file://%s/short.gz", src);
	CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, hash_of(url + 7), NULL),
	    ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "not a tar archive");
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web", data);
	CHECK_EQ_INT(dir_entries(svcdir), 0);

	/* A small gzip that would unpack to 8 MiB of zeros, over a 1 MiB cap. */
	REQUIRE(sh("mkdir -p %s/bomb && head -c 8388608 /dev/zero > %s/bomb/z && "
	    "tar -C %s/bomb -czf %s/bomb.tar.gz z", src, src, src, src) == 0);
	{
		struct artifact_opts o;

		memset(&o, 0, sizeof(o));
		o.max_unpacked_bytes = 1 << 20;
		snprintf(url, sizeof(url), "file://%s/bomb.tar.gz", src);
		CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, hash_of(url + 7), &o),
		    ORCH_ETOOBIG);
		CHECK_CONTAINS(orch_err_last(), "unpacks to more than 1048576 bytes");
		CHECK_EQ_INT(dir_entries(svcdir), 0);
		/* Within the default cap it is fine. */
		CHECK_EQ_INT(fetch(&dir, "web", "1.0.0", url, hash_of(url + 7), NULL),
		    0);
		CHECK(dir && exists("%s/z", dir));
		free(dir);
		dir = NULL;
	}

	/* A data dir that does not exist. */
	{
		struct artifact_spec a = {url, (char *)sha};
		char missing[700];

		snprintf(missing, sizeof(missing), "%s/no/such", root);
		CHECK_EQ_INT(artifact_fetch(&dir, missing, "web", "1.0.0", &a),
		    ORCH_ENOTFOUND);
	}
	teardown();
}

struct racer {
	const char *url, *sha;
	int rc;
	char *dir;
	char err[1024];
};

static void *
race(void *arg)
{
	struct racer *r = arg;

	r->rc = fetch(&r->dir, "web", "5.0.0", r->url, r->sha, NULL);
	snprintf(r->err, sizeof(r->err), "%s", orch_err_last());
	return NULL;
}

static volatile int reaper_stop;
static volatile int reaper_reaped;

/* What a daemon's main loop does on SIGCHLD: reap anything. */
static void *
reaper(void *arg)
{
	struct timespec ts = {0, 200000};

	while (!reaper_stop) {
		int st;

		if (waitpid(-1, &st, WNOHANG) > 0)
			reaper_reaped++;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

TEST(artifact__concurrent_and_reaper_safe)
{
	struct racer r[4];
	pthread_t th[4], rt;
	char url[1024], svcdir[1024];
	const char *sha;
	int i;

	setup();
	make_release("v1", "one");
	snprintf(url, sizeof(url), "file://%s/v1.tar.gz", src);
	sha = hash_of(url + 7);
	/* Four fetches of the same version at once, while another thread
	 * reaps every child it can see, as the slave's loop does. */
	reaper_stop = 0;
	reaper_reaped = 0;
	REQUIRE(pthread_create(&rt, NULL, reaper, NULL) == 0);
	for (i = 0; i < 4; i++) {
		r[i].url = url;
		r[i].sha = sha;
		r[i].dir = NULL;
		REQUIRE(pthread_create(&th[i], NULL, race, &r[i]) == 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	reaper_stop = 1;
	pthread_join(rt, NULL);
	CHECK_EQ_INT(reaper_reaped, 0); /* unpacking starts no process */
	for (i = 0; i < 4; i++) {
		CHECK_EQ_INT(r[i].rc, 0);
		if (r[i].rc < 0)
			printf("    racer %d: %s\n", i, r[i].err);
		CHECK(r[i].dir && sh("test \"$(%s/bin/app)\" = one", r[i].dir) == 0);
		CHECK(r[i].dir && r[0].dir && strcmp(r[i].dir, r[0].dir) == 0);
	}
	for (i = 0; i < 4; i++)
		free(r[i].dir);
	snprintf(svcdir, sizeof(svcdir), "%s/artifacts/web", data);
	CHECK_EQ_INT(dir_entries(svcdir), 1);
	teardown();
}

CHECK_MAIN(artifact__file_url_targz, artifact__plain_tar_and_single_file,
    artifact__bad_checksum_leaves_nothing, artifact__http, artifact__https,
    artifact__versions_side_by_side_and_reuse, artifact__prune,
    artifact__traversal_rejected, artifact__bad_inputs,
    artifact__concurrent_and_reaper_safe)
