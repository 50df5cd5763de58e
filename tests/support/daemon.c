/* daemon.c - see daemon.h. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "err.h"
#include "procfs.h"

int64_t
test_time_factor(void)
{
	static int64_t factor;
	const char *s, *vg;

	if (factor == 0) {
		s = getenv("ORCH_TEST_TIME_FACTOR");
		vg = getenv("ORCH_TEST_VALGRIND");
		factor = s != NULL && atol(s) >= 1 ? atol(s) : vg != NULL && *vg != '\0' ? 10 : 1;
	}
	return factor;
}

bool
wait_for(bool (*cond)(void *arg), void *arg, int64_t timeout_ms)
{
	return WAIT_FOR(cond(arg), timeout_ms);
}

int
daemon_tmpdir(char **out, const char *prefix)
{
	const char *base = getenv("ORCH_TEST_OUT");
	char *p;

	*out = NULL;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	mkdir(base, 0755);
	if (asprintf(&p, "%s/%s-XXXXXX", base, prefix) < 0)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if (mkdtemp(p) == NULL) {
		free(p);
		return orch_err_sys(ORCH_ERROR, "mkdtemp under %s", base);
	}
	/* Search-only for others: a root slave runs instances as nobody
	 * (issue 12), which must reach its ORCH_DATA_DIR below this dir. */
	chmod(p, 0711);
	*out = p;
	return 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void
daemon_rmtree(const char *path)
{
	if (path != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
daemon_binary(const char *rel)
{
	const char *base = getenv("ORCH_BUILD_DIR");
	char *p;

	if (asprintf(&p, "%s/%s", base ? base : ".", rel) < 0)
		return NULL;
	return p;
}

int
daemon_free_port(int *out)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return orch_err_sys(ORCH_ERROR, "socket");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return orch_err_sys(ORCH_ERROR, "bind");
	}
	close(fd);
	*out = ntohs(sin.sin_port);
	return 0;
}

/* The daemons' liveness timings: how long a peer may stay silent, how
 * often it speaks. Under a time factor (test_time_factor()) each is
 * multiplied by it, so that a slowed daemon is not taken for a dead one;
 * their ratios, which the controller checks, stay the same. Timers that
 * do not judge a peer (--resync, --idle-timeout) are left alone. */
static const char *const scaled_flags[] = {
	"--node-suspect", "--node-lost", "--node-heartbeat", "--heartbeat",
};

/* argv[i] scaled into buf when it is the value of a scaled flag. */
static const char *
scaled_arg(const char *const *argv, size_t i, char *buf, size_t len)
{
	int64_t ms;

	if (i == 0 || test_time_factor() == 1)
		return argv[i];
	for (size_t k = 0; k < sizeof(scaled_flags) / sizeof(scaled_flags[0]); k++)
		if (strcmp(argv[i - 1], scaled_flags[k]) == 0 &&
		    orch_parse_duration(&ms, argv[i]) == 0) {
			snprintf(buf, len, "%lldms", (long long)(ms * test_time_factor()));
			return buf;
		}
	return argv[i];
}

/*
 * exec argv. With ORCH_TEST_VALGRIND=DIR, orch's own daemons (orch-*) run
 * under valgrind's memcheck instead (scripts/valgrind-tests): same pid
 * (valgrind execs in place), the report in DIR/LOGNAME.PID.vg, exit 99 at
 * the end when memcheck saw an invalid access or a definite leak -- which
 * the tests that check a clean exit (ctl_exit) already assert. Instances
 * the slave starts run natively (no --trace-children). Not --quiet: the
 * summaries tell a daemon that ended with a leak check from one killed -9
 * (scripts/valgrind-tests counts both). Under a time factor, the
 * liveness flags are scaled first (scaled_arg).
 */
static void
exec_daemon(const char *const *argv, const char *log_path)
{
	const char *base = strrchr(argv[0], '/'), *dir = getenv("ORCH_TEST_VALGRIND");
	const char *vg[64], *lb = strrchr(log_path, '/'), *args[64];
	char logopt[600], scaled[64][32];
	size_t n = 0, na;

	base = base ? base + 1 : argv[0];
	for (na = 0; argv[na] != NULL && na < 63; na++)
		args[na] = strncmp(base, "orch-", 5) == 0 ?
		    scaled_arg(argv, na, scaled[na], sizeof(scaled[na])) : argv[na];
	args[na] = NULL;
	argv = args;
	if (dir == NULL || *dir == '\0' || strncmp(base, "orch-", 5) != 0) {
		execv(argv[0], (char *const *)argv);
		return;
	}
	/* Beside the other reports, not in the test's dir: that is removed. */
	snprintf(logopt, sizeof(logopt), "--log-file=%s/%s.%%p.vg", dir,
	    lb ? lb + 1 : log_path);
	vg[n++] = "/usr/bin/valgrind";
	vg[n++] = "--leak-check=full";
	vg[n++] = "--show-leak-kinds=definite";
	vg[n++] = "--errors-for-leak-kinds=definite";
	vg[n++] = "--error-exitcode=99";
	vg[n++] = "--track-fds=no";
	vg[n++] = logopt;
	for (size_t i = 0; argv[i] != NULL && n < 63; i++)
		vg[n++] = argv[i];
	vg[n] = NULL;
	execv(vg[0], (char *const *)vg);
}

int
daemon_start(struct daemon **out, const char *const *argv, const char *dir,
    const char *log_path)
{
	struct daemon *d;
	int fd;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL || (d->log_path = strdup(log_path)) == NULL) {
		free(d);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0) {
		free(d->log_path);
		free(d);
		return orch_err_sys(ORCH_ERROR, "fork");
	}
	if (d->pid == 0) {
		if ((fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644)) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		if ((fd = open("/dev/null", O_RDONLY)) >= 0)
			dup2(fd, 0);
		if (dir != NULL && chdir(dir) < 0)
			_exit(126);
		exec_daemon(argv, log_path);
		_exit(127);
	}
	*out = d;
	return 0;
}

static void
record(struct daemon *d, int st)
{
	d->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	d->pid = 0;
}

bool
daemon_running(struct daemon *d)
{
	int st;

	if (d->pid == 0)
		return false;
	if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
		record(d, st);
		return false;
	}
	return true;
}

int
daemon_stop(struct daemon *d, int sig, int64_t timeout_ms)
{
	if (d->pid == 0)
		return d->status;
	kill(d->pid, sig);
	if (!WAIT_FOR(!daemon_running(d), timeout_ms))
		return -1;
	return d->status;
}

void
daemon_free(struct daemon *d)
{
	int st;

	if (d == NULL)
		return;
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		if (waitpid(d->pid, &st, 0) == d->pid)
			record(d, st);
	}
	free(d->log_path);
	free(d);
}

char *
read_file(const char *path)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *p = realloc(buf, cap = (len + 4096 + 1) * 2);

			if (p == NULL) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = p;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		buf = malloc(1);
	if (buf != NULL)
		buf[len] = '\0';
	return buf;
}

int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return orch_err_sys(ORCH_ERROR, "open %s", path);
	fputs(text, f);
	if (fclose(f) != 0)
		return orch_err_sys(ORCH_ERROR, "write %s", path);
	return 0;
}

char *
daemon_log(const struct daemon *d)
{
	char *s = read_file(d->log_path);

	return s ? s : strdup("");
}

bool
daemon_log_contains(const struct daemon *d, const char *needle)
{
	char *s = daemon_log(d);
	bool found = s != NULL && strstr(s, needle) != NULL;

	free(s);
	return found;
}

size_t
http_collect(char *ptr, size_t size, size_t n, void *arg)
{
	struct http_buf *b = arg;
	char *p = realloc(b->p, b->len + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + b->len, ptr, size * n);
	b->p = p;
	b->len += size * n;
	p[b->len] = '\0';
	return size * n;
}

int
http_request(struct http_result *out, const char *method, const char *url,
    const char *token, const char *body, size_t len, int64_t timeout_ms)
{
	struct curl_slist *h = NULL;
	struct http_buf b = {0};
	char auth[1024];
	CURLcode res;
	CURL *e;

	memset(out, 0, sizeof(*out));
	if ((e = curl_easy_init()) == NULL)
		return orch_err_set(ORCH_ERROR, "curl_easy_init failed");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_ms * test_time_factor()));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	res = curl_easy_perform(e);
	if (res == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	out->body = b.p ? b.p : strdup("");
	out->len = b.len;
	if (res != CURLE_OK)
		return orch_err_set(ORCH_EUNAVAIL, "%s %s: %s", method, url, curl_easy_strerror(res));
	return 0;
}

void
http_result_free(struct http_result *r)
{
	if (r == NULL)
		return;
	free(r->body);
	r->body = NULL;
}

int
http_json(json_t **out_json, long *out_status, const char *method, const char *url,
    const char *token, const char *body)
{
	struct http_result r;
	int rc;

	*out_json = NULL;
	rc = http_request(&r, method, url, token, body, body ? strlen(body) : 0, 10000);
	*out_status = r.status;
	if (rc == 0)
		*out_json = json_loads(r.body, 0, NULL);
	http_result_free(&r);
	return rc;
}

bool
pid_alive(pid_t pid)
{
	char buf[512], *p;

	if (pid <= 0)
		return false;
	if ((p = orch_procfs_stat(buf, sizeof(buf), pid)) == NULL || p[1] == '\0')
		return false;
	return p[2] != 'Z' && p[2] != 'X';
}

int
write_secret(const char *path, const char *text)
{
	int rc;

	/* Created 0600 before anything is written: a credentials file the
	 * daemons accept (common/creds.h). */
	if ((rc = write_file(path, "")) < 0)
		return rc;
	if (chmod(path, 0600) < 0)
		return orch_err_sys(ORCH_ERROR, "chmod %s", path);
	return write_file(path, text);
}

int
dir_entries(const char *path)
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
