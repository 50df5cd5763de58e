/*
 * kv - the demo's stateful pet: a tiny HTTP key-value store.
 *
 *   kv --port P --data DIR
 *
 * GET /KEY     the value (404 when absent)
 * PUT /KEY     store the request body (201 new, 200 replaced)
 * DELETE /KEY  remove it (204, or 404)
 * GET /        {"keys":N,"boots":B,"pid":P,"data_dir":"DIR",...}
 * GET /healthz 200
 *
 * Keys are [A-Za-z0-9._-], 1..128 characters, not starting with '.'.
 * Every value is one file DIR/data/KEY, written to a temp file, fsync'd,
 * renamed into place and the directory fsync'd: an acknowledged PUT
 * survives a SIGKILL or a power cut. DIR/boots counts starts, so a revived
 * pet shows the same data and a rising boot count. DIR/.lock is held
 * (flock) while running: a second kv on the same DIR refuses to start,
 * because a pet must never run twice at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miniserv.h"

struct kv {
	int datafd;       /* DIR/data */
	long boots;
	char dir_json[1024];
	char version[256];
	char instance[256];
};

static void
usage(void)
{
	fprintf(stderr, "usage: kv --port P --data DIR\n");
	exit(2);
}

static int
key_valid(const char *k)
{
	size_t n = 0;

	if (k[0] == '.' || k[0] == '\0')
		return 0;
	for (; k[n]; n++) {
		char ch = k[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return n <= 128;
}

/* Write len bytes to dirfd/name durably: temp file, fsync, rename, fsync
 * of the directory. 0 or -1 with errno. */
static int
write_durable(int dirfd, const char *name, const void *p, size_t len)
{
	char tmp[256];
	const char *q = p;
	int fd, saved;

	snprintf(tmp, sizeof(tmp), ".tmp.%s", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, q, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		q += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0 || fsync(dirfd) < 0)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	errno = saved;
	return -1;
}

static long
count_keys(int datafd)
{
	DIR *d;
	struct dirent *e;
	long n = 0;
	int fd = dup(datafd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
get_key(struct ms_response *out, struct kv *kv, const char *key)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	int fd = openat(kv->datafd, key, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			ms_replyf(out, 404, "application/json",
			    "{\"error\":\"no such key\"}\n");
		else
			ms_replyf(out, 500, "application/json",
			    "{\"error\":\"%s\"}\n", strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		ms_replyf(out, 500, "application/json", "{\"error\":\"read\"}\n");
		close(fd);
		return;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	free(out->body);
	out->status = 200;
	out->ctype = "application/octet-stream";
	out->body = buf;
	out->len = off;
}

static void
handle(struct ms_response *out, const struct ms_request *req, void *arg)
{
	struct kv *kv = arg;
	char key[2048];

	snprintf(key, sizeof(key), "%.*s", (int)strcspn(req->path + 1, "?"),
	    req->path + 1);
	if (key[0] == '\0' && (strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0)) {
		ms_replyf(out, 200, "application/json",
		    "{\"keys\":%ld,\"boots\":%ld,\"pid\":%ld,\"data_dir\":\"%s\","
		    "\"version\":\"%s\",\"instance\":\"%s\"}\n",
		    count_keys(kv->datafd), kv->boots, (long)getpid(),
		    kv->dir_json, kv->version, kv->instance);
		return;
	}
	if (strcmp(key, "healthz") == 0) {
		ms_replyf(out, 200, "application/json", "{\"status\":\"ok\"}\n");
		return;
	}
	if (!key_valid(key)) {
		ms_replyf(out, 400, "application/json", "{\"error\":\"bad key: "
		    "use [A-Za-z0-9._-], at most 128, not starting with '.'\"}\n");
		return;
	}
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		get_key(out, kv, key);
	else if (strcmp(req->method, "PUT") == 0) {
		struct stat st;
		int existed = fstatat(kv->datafd, key, &st, 0) == 0;

		if (write_durable(kv->datafd, key, req->body, req->bodylen) < 0)
			ms_replyf(out, 500, "application/json",
			    "{\"error\":\"write: %s\"}\n", strerror(errno));
		else
			ms_replyf(out, existed ? 200 : 201, "application/json",
			    "{\"key\":\"%s\",\"bytes\":%zu}\n", key, req->bodylen);
	} else if (strcmp(req->method, "DELETE") == 0) {
		if (unlinkat(kv->datafd, key, 0) < 0)
			ms_replyf(out, errno == ENOENT ? 404 : 500,
			    "application/json", "{\"error\":\"%s\"}\n",
			    errno == ENOENT ? "no such key" : strerror(errno));
		else {
			fsync(kv->datafd);
			ms_reply(out, 204, "application/json", "", 0);
		}
	} else
		ms_replyf(out, 405, "application/json",
		    "{\"error\":\"method not allowed\"}\n");
}

/* Read DIR/boots, add one, write it back durably. */
static int
count_boot(struct kv *kv, int dirfd)
{
	char buf[32];
	ssize_t n;
	int fd = openat(dirfd, "boots", O_RDONLY | O_CLOEXEC);

	kv->boots = 0;
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			kv->boots = strtol(buf, NULL, 10);
		}
	}
	kv->boots++;
	n = snprintf(buf, sizeof(buf), "%ld\n", kv->boots);
	return write_durable(dirfd, "boots", buf, (size_t)n);
}

int
main(int argc, char **argv)
{
	struct kv kv;
	const char *dir = NULL, *v;
	char *end;
	long port = -1;
	int i, lfd, dirfd, lockfd, rc;

	memset(&kv, 0, sizeof(kv));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = strtol(argv[++i], &end, 10);
			if (*end != '\0' || port <= 0 || port > 65535)
				usage();
		} else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			dir = argv[++i];
		else
			usage();
	}
	if (port < 0 || dir == NULL || dir[0] == '\0')
		usage();
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "kv: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "kv: open %s: %s\n", dir, strerror(errno));
		return 1;
	}
	lockfd = openat(dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "kv: data dir %s is in use by another kv: %s\n",
		    dir, strerror(errno));
		return 1;
	}
	if ((mkdirat(dirfd, "data", 0700) < 0 && errno != EEXIST) ||
	    (kv.datafd = openat(dirfd, "data", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || count_boot(&kv, dirfd) < 0) {
		fprintf(stderr, "kv: prepare %s: %s\n", dir, strerror(errno));
		return 1;
	}
	v = getenv("ORCH_VERSION");
	ms_json_escape(kv.dir_json, sizeof(kv.dir_json), dir);
	ms_json_escape(kv.version, sizeof(kv.version), v ? v : "unknown");
	ms_json_escape(kv.instance, sizeof(kv.instance),
	    getenv("ORCH_INSTANCE_ID") ? getenv("ORCH_INSTANCE_ID") : "");

	lfd = ms_listen((int)port);
	if (lfd < 0)
		return 1;
	fprintf(stderr, "kv: pid=%ld boot=%ld data=%s listening on 127.0.0.1:%ld\n",
	    (long)getpid(), kv.boots, dir, port);
	rc = ms_serve(lfd, handle, NULL, &kv);
	close(lfd);
	close(kv.datafd);
	close(lockfd);
	close(dirfd);
	return rc;
}
