/* run.c - see run.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "run.h"
#include "daemon.h"
#include "units.h"

extern char **environ;

struct buf {
	char *p;
	size_t len, cap;
};

static int
buf_read(struct buf *b, int fd)
{
	ssize_t n;

	if (b->cap - b->len < 4096) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		char *p = realloc(b->p, cap);
		if (p == NULL)
			return orch_err_set(ORCH_ERROR, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	n = read(fd, b->p + b->len, b->cap - b->len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 :
		    orch_err_sys(ORCH_ERROR, "read");
	b->len += (size_t)n;
	b->p[b->len] = '\0';
	return n == 0 ? 0 : 1; /* 0: end of file */
}

/* environ with env's entries replacing same-named ones; the array is
 * malloc'd, the strings lent. */
static char **
merge_env(const char *const *env)
{
	size_t n = 0, nextra = 0, k = 0;
	char **v;

	while (environ[n])
		n++;
	while (env && env[nextra])
		nextra++;
	if ((v = calloc(n + nextra + 1, sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		size_t namelen = strcspn(environ[i], "=");
		for (size_t j = 0; j < nextra; j++)
			if (strncmp(env[j], environ[i], namelen) == 0 &&
			    env[j][namelen] == '=')
				replaced = true;
		if (!replaced)
			v[k++] = environ[i];
	}
	for (size_t j = 0; j < nextra; j++)
		v[k++] = (char *)env[j];
	v[k] = NULL;
	return v;
}

static void
child(const char *const *argv, const char *dir, char **envp, int outfd,
    int errfd)
{
	int devnull = open("/dev/null", O_RDONLY);

	/* Own process group, so a timeout kills grandchildren too. */
	setpgid(0, 0);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(outfd, 1);
	dup2(errfd, 2);
	if (dir != NULL && chdir(dir) < 0) {
		dprintf(2, "run: chdir %s: %s\n", dir, strerror(errno));
		_exit(127);
	}
	execvpe(argv[0], (char *const *)argv, envp);
	dprintf(2, "run: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int
run_capture(struct run_result *out, const char *const *argv,
    const char *dir, const char *const *env, int64_t timeout_ms)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};
	struct buf bo = {0}, be = {0};
	char **envp = NULL;
	int64_t deadline;
	pid_t pid = -1;
	int rc = ORCH_ERROR, status;
	bool open_out = true, open_err = true;

	memset(out, 0, sizeof(*out));
	out->status = -1;
	if ((envp = merge_env(env)) == NULL) {
		orch_err_set(ORCH_ERROR, "out of memory");
		goto done;
	}
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		orch_err_sys(ORCH_ERROR, "pipe");
		goto done;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		orch_err_sys(ORCH_ERROR, "fork");
		goto done;
	}
	if (pid == 0)
		child(argv, dir, envp, outp[1], errp[1]);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;

	/* Drain both pipes together: a child that fills one while we block
	 * on the other would deadlock. */
	deadline = orch_mono_ms() + timeout_ms * test_time_factor();
	while (open_out || open_err) {
		struct pollfd pfd[2];
		int64_t left = deadline - orch_mono_ms();
		nfds_t nfd = 0;
		int r;

		if (left <= 0) {
			out->timed_out = true;
			kill(-pid, SIGKILL);
			break;
		}
		if (open_out)
			pfd[nfd++] = (struct pollfd){.fd = outp[0], .events = POLLIN};
		if (open_err)
			pfd[nfd++] = (struct pollfd){.fd = errp[0], .events = POLLIN};
		r = poll(pfd, nfd, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno != EINTR) {
			orch_err_sys(ORCH_ERROR, "poll");
			kill(-pid, SIGKILL);
			break;
		}
		for (nfds_t i = 0; r > 0 && i < nfd; i++) {
			bool is_out = pfd[i].fd == outp[0];
			int more;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			more = buf_read(is_out ? &bo : &be, pfd[i].fd);
			if (more < 0) {
				kill(-pid, SIGKILL);
				open_out = open_err = false;
			} else if (more == 0) {
				if (is_out)
					open_out = false;
				else
					open_err = false;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			orch_err_sys(ORCH_ERROR, "waitpid");
			goto done;
		}
	}
	pid = -1;
	if (WIFEXITED(status))
		out->status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		out->status = 128 + WTERMSIG(status);
	rc = 0;
done:
	if (pid > 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(envp);
	/* Always hand back strings, so callers can strcmp without checks. */
	out->out = bo.p ? bo.p : strdup("");
	out->out_len = bo.len;
	out->err = be.p ? be.p : strdup("");
	out->err_len = be.len;
	if (out->out == NULL || out->err == NULL)
		abort();
	return rc;
}

void
run_result_free(struct run_result *r)
{
	if (r == NULL)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

char **
run_lines(const char *text, size_t *out_n)
{
	size_t n = 0, k = 0;
	const char *p;
	char **v;

	for (p = text; *p; p++)
		if (*p == '\n')
			n++;
	if (p > text && p[-1] != '\n')
		n++;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		abort();
	for (p = text; *p && k < n; k++) {
		size_t len = strcspn(p, "\n");
		if ((v[k] = strndup(p, len)) == NULL)
			abort();
		p += len;
		if (*p == '\n')
			p++;
	}
	if (out_n)
		*out_n = n;
	return v;
}

void
run_lines_free(char **lines)
{
	if (lines == NULL)
		return;
	for (size_t i = 0; lines[i]; i++)
		free(lines[i]);
	free(lines);
}

void
run_orchctl(struct run_result *r, const char *dir, const char *url,
    const char *token_file, const char *token, ...)
{
	const char *argv[64], *verb = "";
	const char *base = getenv("ORCH_BUILD_DIR");
	char bin[4096], envtok[512];
	const char *env[] = {"ORCH_CONTROLLER=", envtok, NULL};
	size_t n = 0;
	va_list ap;

	snprintf(bin, sizeof(bin), "%s/orchctl/orchctl", base != NULL ? base : "build");
	snprintf(envtok, sizeof(envtok), "ORCH_TOKEN=%s", token != NULL ? token : "");
	argv[n++] = bin;
	if (url != NULL) {
		argv[n++] = "--controller";
		argv[n++] = url;
	}
	if (token_file != NULL) {
		argv[n++] = "--token-file";
		argv[n++] = token_file;
	}
	va_start(ap, token);
	while (n < 63 && (argv[n] = va_arg(ap, const char *)) != NULL) {
		if (*verb == '\0')
			verb = argv[n];
		n++;
	}
	va_end(ap);
	argv[n] = NULL;
	if (run_capture(r, argv, dir, env, 120000) < 0)
		check_fail(__FILE__, __LINE__, "run orchctl: %s", orch_err_last());
	if (r->timed_out)
		check_fail(__FILE__, __LINE__, "orchctl %s timed out", verb);
	if (strstr(r->err, "Sanitizer") != NULL || strstr(r->err, "runtime error"))
		check_fail(__FILE__, __LINE__, "sanitizer report:\n%s", r->err);
	if (getenv("ORCH_TEST_VERBOSE") != NULL)
		fprintf(stderr, "$ orchctl %s -> %d\n%s%s", verb, r->status, r->out, r->err);
}
