/*
 * haproxy.c - HAProxy Runtime API client (see haproxy.h, docs/haproxy.md).
 *
 * One exchange = one connection: "prompt" first, then the commands one
 * per line, then "quit", then read to EOF. In prompt mode HAProxy ends
 * every answer with the prompt "> " at the start of a line, which is the
 * only reliable way to cut the output of several commands apart (in the
 * default mode the answers of a ';' list run together, and an error and a
 * success both may end with an empty line or not).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "haproxy.h"
#include "units.h"

#define MAX_CMDS 8
#define MAX_ANSWER (4 << 20) /* a show stat of a huge config stays below */

/* The answers of one exchange: ans[i] is the trimmed text of cmds[i]. */
struct answers {
	char *buf;
	const char *ans[MAX_CMDS];
	size_t n;
};

static const char *const admin_names[HAPROXY_ADMIN_LAST] = {
	[HAPROXY_READY] = "ready",
	[HAPROXY_DRAIN] = "drain",
	[HAPROXY_MAINT] = "maint",
};

const char *
haproxy_admin_name(enum haproxy_admin a)
{
	return a < HAPROXY_ADMIN_LAST ? admin_names[a] : "?";
}

/* Names go into command lines: refuse anything that could end one. */
static int
check_name(const char *what, const char *s)
{
	size_t i, len;

	if (s == NULL || (len = strlen(s)) == 0 || len >= HAPROXY_NAME_MAX)
		return orch_err_set(ORCH_EINVALID, "haproxy: %s name must be 1 to "
		    "%d characters", what, HAPROXY_NAME_MAX - 1);
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.:-", s[i]) == NULL)
			return orch_err_set(ORCH_EINVALID, "haproxy: %s name \"%s\" "
			    "may hold only letters, digits and _.:-", what, s);
	return 0;
}

/* Paths (socket, map) go into commands and the config: no blanks, quotes,
 * ';' or '#' (a comment in haproxy.cfg). */
static int
check_path(const char *what, const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0' || strlen(s) > 1000)
		return orch_err_set(ORCH_EINVALID, "haproxy: %s path missing or too long",
		    what);
	for (p = s; *p; p++)
		if (isspace((unsigned char)*p) || strchr("\"'\\;#", *p) != NULL)
			return orch_err_set(ORCH_EINVALID, "haproxy: %s path \"%s\" "
			    "may not hold blanks, quotes, '\\', ';' or '#'", what, s);
	return 0;
}

static void
answers_free(struct answers *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

/* Wait for ev on fd until deadline; 0, or an error set. */
static int
wait_fd(int fd, short ev, int64_t deadline, const char *sock)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int64_t left;
	int r;

	for (;;) {
		left = deadline - orch_mono_ms();
		if (left <= 0)
			return orch_err_set(ORCH_EUNAVAIL, "haproxy %s: no answer "
			    "within %d ms", sock, HAPROXY_TIMEOUT_MS);
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return orch_err_sys(ORCH_EUNAVAIL, "haproxy %s: poll", sock);
	}
}

/*
 * Cut raw at every prompt ("> " at the start of a line). The text before
 * the first prompt answers "prompt" itself; the next n pieces answer the
 * commands. Each answer is trimmed in place.
 */
static int
split_answers(struct answers *a, size_t n, const char *sock)
{
	char *p = a->buf, *start = NULL, *e;
	size_t seen = 0;

	for (;;) {
		char *q = p;

		while ((q = strstr(q, "> ")) != NULL && q != a->buf && q[-1] != '\n')
			q++;
		if (q == NULL)
			break;
		if (start != NULL) {
			/* [start, q) is the answer to command seen-1. */
			e = q;
			*e = '\0';
			while (e > start && isspace((unsigned char)e[-1]))
				*--e = '\0';
			while (isspace((unsigned char)*start))
				start++;
			a->ans[seen - 1] = start;
		}
		if (seen == n)
			break;
		seen++;
		start = q + 2;
		p = q + 2;
	}
	if (seen < n || a->ans[n - 1] == NULL)
		return orch_err_set(ORCH_ERROR, "haproxy %s: %zu of %zu answers "
		    "came back (not a Runtime API socket?)", sock,
		    seen ? seen - 1 : 0, n);
	a->n = n;
	return 0;
}

/* Run cmds (n <= MAX_CMDS) over one connection within HAPROXY_TIMEOUT_MS. */
static int
exchange(struct answers *out, const char *sock, const char *const *cmds, size_t n)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int64_t deadline = orch_mono_ms() + HAPROXY_TIMEOUT_MS;
	char *req = NULL;
	size_t reqlen = 0, off = 0, cap = 0, len = 0, i;
	FILE *f = NULL;
	ssize_t r;
	int fd = -1, rc = ORCH_ERROR;

	memset(out, 0, sizeof(*out));
	if (sock == NULL || *sock == '\0')
		return orch_err_set(ORCH_EINVALID, "haproxy: no socket path given");
	if (strlen(sock) >= sizeof(sun.sun_path))
		return orch_err_set(ORCH_EINVALID, "haproxy socket path too long: %s",
		    sock);
	memcpy(sun.sun_path, sock, strlen(sock) + 1);

	if ((f = open_memstream(&req, &reqlen)) == NULL) {
		rc = orch_err_sys(ORCH_ERROR, "open_memstream");
		goto out;
	}
	fputs("prompt\n", f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s\n", cmds[i]);
	fputs("quit\n", f);
	if (fclose(f) != 0) {
		f = NULL;
		rc = orch_err_set(ORCH_ERROR, "out of memory");
		goto out;
	}
	f = NULL;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = orch_err_sys(ORCH_ERROR, "socket");
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		/* EAGAIN on a unix socket: the listen backlog is full. */
		rc = orch_err_sys(ORCH_EUNAVAIL, "haproxy socket %s", sock);
		goto out;
	}
	while (off < reqlen) {
		if ((rc = wait_fd(fd, POLLOUT, deadline, sock)) < 0)
			goto out;
		r = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
		if (r < 0 && errno != EAGAIN && errno != EINTR) {
			rc = orch_err_sys(ORCH_EUNAVAIL, "haproxy socket %s: send", sock);
			goto out;
		}
		if (r > 0)
			off += (size_t)r;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nb;

			if (cap >= MAX_ANSWER) {
				rc = orch_err_set(ORCH_ETOOBIG, "haproxy %s: answer over "
				    "%d bytes", sock, MAX_ANSWER);
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(out->buf, cap + 1)) == NULL) {
				rc = orch_err_set(ORCH_ERROR, "out of memory");
				goto out;
			}
			out->buf = nb;
		}
		if ((rc = wait_fd(fd, POLLIN, deadline, sock)) < 0)
			goto out;
		r = recv(fd, out->buf + len, cap - len, 0);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			rc = orch_err_sys(ORCH_EUNAVAIL, "haproxy socket %s: recv", sock);
			goto out;
		}
		len += (size_t)r;
	}
	if (out->buf == NULL) {
		rc = orch_err_set(ORCH_EUNAVAIL, "haproxy %s: closed without answer",
		    sock);
		goto out;
	}
	out->buf[len] = '\0';
	rc = split_answers(out, n, sock);
out:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	free(req);
	if (rc < 0)
		answers_free(out);
	return rc;
}

/* One command whose success is an empty answer or exactly ok_text. */
static int
judge(const char *cmd, const char *ans, const char *ok_text)
{
	if (*ans == '\0' || (ok_text != NULL && strcmp(ans, ok_text) == 0))
		return 0;
	if (strstr(ans, "No such backend") || strstr(ans, "Can't find backend"))
		return orch_err_set(ORCH_ENOTFOUND, "haproxy: %s: no such backend", cmd);
	if (strstr(ans, "No such server"))
		return orch_err_set(ORCH_ENOTFOUND, "haproxy: %s: no such server", cmd);
	if (strstr(ans, "Unknown map identifier"))
		return orch_err_set(ORCH_ENOTFOUND, "haproxy: %s: no such map "
		    "(the path must be the one haproxy.cfg names)", cmd);
	if (strstr(ans, "Permission denied"))
		return orch_err_set(ORCH_EAUTH, "haproxy: %s: permission denied "
		    "(the stats socket needs \"level admin\")", cmd);
	return orch_err_set(ORCH_ERROR, "haproxy: %s: %s", cmd, ans);
}

/* Run one command and judge it. */
static int
command(const char *sock, const char *cmd, const char *ok_text)
{
	struct answers a;
	int rc;

	if ((rc = exchange(&a, sock, &cmd, 1)) < 0)
		return rc;
	rc = judge(cmd, a.ans[0], ok_text);
	answers_free(&a);
	return rc;
}

/* Split line at blanks into at most max fields (in place). */
static size_t
fields(char **out, size_t max, char *line, const char *sep)
{
	size_t n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(line, sep, &save); t && n < max;
	    t = strtok_r(NULL, sep, &save))
		out[n++] = t;
	return n;
}

/* "show servers state" format 1: be_id be_name srv_id srv_name srv_addr
 * srv_op_state srv_admin_state srv_uweight ... srv_port (field 18). */
static int
parse_state(struct haproxy_server **out, size_t *out_n, char *text,
    const char *backend)
{
	struct haproxy_server *v = NULL, *s;
	char *save = NULL, *line, *f[32];
	size_t n = 0;
	long adm;

	line = strtok_r(text, "\n", &save);
	if (line == NULL || strcmp(line, "1") != 0)
		return orch_err_set(ORCH_ERROR, "haproxy: show servers state %s: "
		    "unknown format \"%.60s\"", backend, line ? line : "");
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		if (line[0] == '#')
			continue;
		if (fields(f, 32, line, " ") < 19 || strcmp(f[1], backend) != 0)
			continue;
		if ((s = reallocarray(v, n + 1, sizeof(*v))) == NULL) {
			free(v);
			return orch_err_set(ORCH_ERROR, "out of memory");
		}
		v = s;
		s = &v[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", f[3]);
		snprintf(s->addr, sizeof(s->addr), "%s", f[4]);
		s->up = atoi(f[5]) == 1 || atoi(f[5]) == 2;
		adm = strtol(f[6], NULL, 10);
		/* forced, inherited, config or DNS maintenance; then drain */
		s->admin = (adm & 0x27) ? HAPROXY_MAINT :
		    (adm & 0x18) ? HAPROXY_DRAIN : HAPROXY_READY;
		s->weight = atoi(f[7]);
		s->port = atoi(f[18]);
	}
	*out = v;
	*out_n = n;
	return 0;
}

/* "show stat": CSV whose header line names the columns; take scur. */
static void
parse_stat(struct haproxy_server *v, size_t n, char *text)
{
	char *save = NULL, *line, *f[128];
	size_t nf, i, scur = 0, k;

	while ((line = strtok_r(text, "\n", &save)) != NULL) {
		text = NULL;
		if (line[0] == '#') {
			nf = fields(f, 128, line + 2, ",");
			for (i = 0; i < nf; i++)
				if (strcmp(f[i], "scur") == 0)
					scur = i;
			continue;
		}
		/* Empty CSV fields matter here: split by hand, not strtok. */
		nf = 0;
		for (char *p = line; p && nf < 128; ) {
			f[nf++] = p;
			if ((p = strchr(p, ',')) != NULL)
				*p++ = '\0';
		}
		if (scur == 0 || nf <= scur)
			continue;
		for (k = 0; k < n; k++)
			if (strcmp(v[k].name, f[1]) == 0)
				v[k].sessions = strtol(f[scur], NULL, 10);
	}
}

int
haproxy_servers(struct haproxy_server **out, size_t *out_n, const char *sock,
    const char *backend)
{
	char c1[128], c2[128];
	const char *cmds[2] = {c1, c2};
	struct answers a;
	int rc;

	*out = NULL;
	*out_n = 0;
	if ((rc = check_name("backend", backend)) < 0)
		return rc;
	snprintf(c1, sizeof(c1), "show servers state %s", backend);
	snprintf(c2, sizeof(c2), "show stat %s 4 -1", backend);
	if ((rc = exchange(&a, sock, cmds, 2)) < 0)
		return rc;
	if (strstr(a.ans[0], "Can't find backend") != NULL) {
		rc = orch_err_set(ORCH_ENOTFOUND, "haproxy: no backend \"%s\"", backend);
		goto out;
	}
	if ((rc = parse_state(out, out_n, (char *)a.ans[0], backend)) < 0)
		goto out;
	parse_stat(*out, *out_n, (char *)a.ans[1]);
out:
	answers_free(&a);
	return rc;
}

/* Same address? Compares the binary forms, so "::1" equals "0::1". */
static bool
same_addr(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return memcmp(x, y, 16) == 0;
	return strcmp(a, b) == 0;
}

static int
check_server_args(const char *backend, const char *name)
{
	int rc;

	if ((rc = check_name("backend", backend)) < 0)
		return rc;
	return check_name("server", name);
}

int
haproxy_server_add(const char *sock, const char *backend, const char *name,
    const char *addr, int port, int weight)
{
	struct haproxy_server *v = NULL;
	unsigned char bin[16];
	char c1[256], c2[160];
	const char *cmds[2] = {c1, c2};
	struct answers a = {0};
	size_t n = 0, i;
	int rc, v6;

	if ((rc = check_server_args(backend, name)) < 0)
		return rc;
	v6 = addr != NULL && inet_pton(AF_INET6, addr, bin) == 1;
	if (addr == NULL || (!v6 && inet_pton(AF_INET, addr, bin) != 1))
		return orch_err_set(ORCH_EINVALID, "haproxy: server %s/%s: \"%s\" is "
		    "not a numeric IP address", backend, name, addr ? addr : "");
	if (port < 1 || port > 65535 || weight < 0 || weight > 256)
		return orch_err_set(ORCH_EINVALID, "haproxy: server %s/%s: port %d "
		    "or weight %d out of range (1-65535, 0-256)", backend, name,
		    port, weight);
	if ((rc = haproxy_servers(&v, &n, sock, backend)) < 0)
		return rc;
	for (i = 0; i < n && strcmp(v[i].name, name) != 0; i++)
		;
	if (i < n) {
		if (!same_addr(v[i].addr, addr) || v[i].port != port) {
			rc = orch_err_set(ORCH_EEXISTS, "haproxy: server %s/%s exists at "
			    "%s:%d, not %s:%d", backend, name, v[i].addr, v[i].port,
			    addr, port);
			goto out;
		}
		/* Already there: bring it back to the asked weight and state. */
		snprintf(c1, sizeof(c1), "set server %s/%s weight %d", backend, name,
		    weight);
		snprintf(c2, sizeof(c2), "set server %s/%s state ready", backend, name);
		if ((rc = exchange(&a, sock, cmds, 2)) < 0)
			goto out;
		if ((rc = judge(c1, a.ans[0], NULL)) == 0)
			rc = judge(c2, a.ans[1], NULL);
		goto out;
	}
	/* "ipv6@" makes the last ':' the port separator without brackets. */
	snprintf(c1, sizeof(c1), "add server %s/%s %s%s:%d weight %d", backend, name,
	    v6 ? "ipv6@" : "", addr, port, weight);
	snprintf(c2, sizeof(c2), "enable server %s/%s", backend, name);
	if ((rc = exchange(&a, sock, cmds, 2)) < 0)
		goto out;
	if (strstr(a.ans[0], "Already exists") != NULL) {
		rc = orch_err_set(ORCH_EEXISTS, "haproxy: server %s/%s was added by "
		    "someone else meanwhile", backend, name);
		goto out;
	}
	if (strstr(a.ans[0], "dynamic") != NULL || strstr(a.ans[0], "algorithm")) {
		rc = orch_err_set(ORCH_EINVALID, "haproxy: %s: %s (the backend needs "
		    "\"balance roundrobin\" or another dynamic algorithm, see "
		    "docs/haproxy.md)", c1, a.ans[0]);
		goto out;
	}
	if ((rc = judge(c1, a.ans[0], "New server registered.")) == 0)
		rc = judge(c2, a.ans[1], NULL);
out:
	answers_free(&a);
	free(v);
	return rc;
}

static int
set_state(const char *sock, const char *backend, const char *name,
    enum haproxy_admin st)
{
	char cmd[192];
	int rc;

	if ((rc = check_server_args(backend, name)) < 0)
		return rc;
	snprintf(cmd, sizeof(cmd), "set server %s/%s state %s", backend, name,
	    haproxy_admin_name(st));
	return command(sock, cmd, NULL);
}

int
haproxy_server_drain(const char *sock, const char *backend, const char *name)
{
	return set_state(sock, backend, name, HAPROXY_DRAIN);
}

int
haproxy_server_ready(const char *sock, const char *backend, const char *name)
{
	return set_state(sock, backend, name, HAPROXY_READY);
}

int
haproxy_server_weight(const char *sock, const char *backend, const char *name,
    int weight)
{
	char cmd[192];
	int rc;

	if ((rc = check_server_args(backend, name)) < 0)
		return rc;
	if (weight < 0 || weight > 256)
		return orch_err_set(ORCH_EINVALID, "haproxy: weight %d of %s/%s out of "
		    "range 0-256", weight, backend, name);
	snprintf(cmd, sizeof(cmd), "set server %s/%s weight %d", backend, name,
	    weight);
	return command(sock, cmd, NULL);
}

/*
 * HAProxy deletes only a server in maintenance with no connection, active
 * or idle, and an empty queue. Requests in flight on it finish after the
 * maint (maint does not cut streams), and idle keep-alive connections to
 * it are closed by HAProxy shortly after, so retrying for a bounded time
 * is the way to wait for both.
 */
int
haproxy_server_del(const char *sock, const char *backend, const char *name,
    int wait_ms)
{
	int64_t deadline = orch_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
	char c1[192];
	const char *cmd = c1;
	struct answers a = {0};
	int rc;

	if ((rc = set_state(sock, backend, name, HAPROXY_MAINT)) < 0) {
		if (rc == ORCH_ENOTFOUND && strstr(orch_err_last(), "no such server")) {
			orch_err_clear();
			return 0;       /* already gone */
		}
		return rc;
	}
	snprintf(c1, sizeof(c1), "del server %s/%s", backend, name);
	for (;;) {
		if ((rc = exchange(&a, sock, &cmd, 1)) < 0)
			return rc;
		if (strstr(a.ans[0], "still has") == NULL) {
			rc = judge(c1, a.ans[0], "Server deleted.");
			break;
		}
		if (orch_mono_ms() >= deadline) {
			rc = orch_err_set(ORCH_EEXISTS, "haproxy: %s/%s still has "
			    "connections after %d ms (%s); it stays in maint", backend,
			    name, wait_ms, a.ans[0]);
			break;
		}
		answers_free(&a);
		usleep(20000);
	}
	answers_free(&a);
	return rc;
}

/*
 * A set's share is the sum of its weights over the total, so with
 * w_new = pct * n_old and w_old = (100 - pct) * n_new the new set gets
 * exactly pct %. Reduced by their gcd, and scaled down when still above
 * 256 (HAProxy's limit), rounding but never to 0 a share that is not 0.
 */
int
haproxy_split_weights(int *out_new, int *out_old, int pct, int n_new, int n_old)
{
	long wn, wo, a, b, t, max;

	*out_new = *out_old = 0;
	if (pct < 0 || pct > 100 || n_new < 0 || n_old < 0 ||
	    (pct > 0 && n_new == 0) || (pct < 100 && n_old == 0))
		return orch_err_set(ORCH_EINVALID, "haproxy: cannot send %d%% to %d "
		    "new and the rest to %d old servers", pct, n_new, n_old);
	if (pct == 0 || pct == 100) {
		*out_new = pct == 100 ? 100 : 0;
		*out_old = pct == 100 ? 0 : 100;
		return 0;
	}
	wn = (long)pct * n_old;
	wo = (long)(100 - pct) * n_new;
	for (a = wn, b = wo; b != 0; t = a % b, a = b, b = t)
		;
	wn /= a;
	wo /= a;
	max = wn > wo ? wn : wo;
	if (max > 256) {
		wn = (wn * 256 + max / 2) / max;
		wo = (wo * 256 + max / 2) / max;
		if (wn == 0)
			wn = 1;
		if (wo == 0)
			wo = 1;
	}
	*out_new = (int)wn;
	*out_old = (int)wo;
	return 0;
}

int
haproxy_live_backend(char *out, size_t len, const char *sock, const char *map,
    const char *key)
{
	char cmd[1200];
	const char *cmdp = cmd, *v, *e;
	struct answers a;
	int rc;

	if (len > 0)
		*out = '\0';
	if ((rc = check_path("map", map)) < 0 || (rc = check_name("key", key)) < 0)
		return rc;
	snprintf(cmd, sizeof(cmd), "get map %s %s", map, key);
	if ((rc = exchange(&a, sock, &cmdp, 1)) < 0)
		return rc;
	if (strstr(a.ans[0], "found=yes") == NULL) {
		if (strstr(a.ans[0], "found=no") != NULL)
			rc = orch_err_set(ORCH_ENOTFOUND, "haproxy: map %s has no key "
			    "\"%s\"", map, key);
		else
			rc = judge(cmd, a.ans[0], NULL);
		if (rc == 0)
			rc = orch_err_set(ORCH_ERROR, "haproxy: %s: empty answer", cmd);
		goto out;
	}
	if ((v = strstr(a.ans[0], "value=\"")) == NULL ||
	    (e = strchr(v + 7, '"')) == NULL) {
		rc = orch_err_set(ORCH_ERROR, "haproxy: %s: no value in \"%s\"", cmd,
		    a.ans[0]);
		goto out;
	}
	v += 7;
	if ((size_t)(e - v) >= len) {
		rc = orch_err_set(ORCH_ETOOBIG, "haproxy: map value too long");
		goto out;
	}
	memcpy(out, v, (size_t)(e - v));
	out[e - v] = '\0';
out:
	answers_free(&a);
	return rc;
}

int
haproxy_switch(const char *sock, const char *map, const char *key,
    const char *backend)
{
	struct haproxy_server *v = NULL;
	char cmd[1200];
	const char *cmdp = cmd;
	struct answers a = {0};
	size_t n = 0, i;
	int rc;

	if ((rc = check_path("map", map)) < 0 || (rc = check_name("key", key)) < 0)
		return rc;
	if ((rc = haproxy_servers(&v, &n, sock, backend)) < 0)
		return rc;
	for (i = 0; i < n; i++)
		if (v[i].admin == HAPROXY_READY && v[i].up && v[i].weight > 0)
			break;
	if (i == n) {
		rc = orch_err_set(ORCH_EINVALID, "haproxy: not switching %s to %s: "
		    "none of its %zu servers is ready, up and weighted", key, backend,
		    n);
		goto out;
	}
	/* One command: the entry's value changes in a single step. */
	snprintf(cmd, sizeof(cmd), "set map %s %s %s", map, key, backend);
	if ((rc = exchange(&a, sock, &cmdp, 1)) < 0)
		goto out;
	if (strstr(a.ans[0], "not found") != NULL) {
		answers_free(&a);
		snprintf(cmd, sizeof(cmd), "add map %s %s %s", map, key, backend);
		if ((rc = exchange(&a, sock, &cmdp, 1)) < 0)
			goto out;
	}
	rc = judge(cmd, a.ans[0], NULL);
out:
	answers_free(&a);
	free(v);
	return rc;
}

int
haproxy_backend_name(char *out, size_t len, const char *service, bool green)
{
	int rc, w;

	if ((rc = check_name("service", service)) < 0)
		return rc;
	w = snprintf(out, len, "orch_%s_%s", service, green ? "green" : "blue");
	if (w < 0 || (size_t)w >= len || w >= HAPROXY_NAME_MAX)
		return orch_err_set(ORCH_ETOOBIG, "haproxy: backend name for service "
		    "\"%s\" too long", service);
	return 0;
}

int
haproxy_config(char **out, char **out_map, const char *sock, const char *map,
    const struct haproxy_service *svcs, size_t n)
{
	char blue[HAPROXY_NAME_MAX], green[HAPROXY_NAME_MAX];
	char *cfg = NULL, *mtext = NULL;
	size_t clen = 0, mlen = 0, i;
	FILE *f = NULL, *m = NULL;
	int rc;

	*out = NULL;
	*out_map = NULL;
	if ((rc = check_path("socket", sock)) < 0 || (rc = check_path("map", map)) < 0)
		return rc;
	if ((f = open_memstream(&cfg, &clen)) == NULL ||
	    (m = open_memstream(&mtext, &mlen)) == NULL) {
		rc = orch_err_sys(ORCH_ERROR, "open_memstream");
		goto out;
	}
	/*
	 * Why each default: redispatch + retries + retry-on let a request
	 * whose server vanished (refused, or closed an idle keep-alive
	 * connection without answering) go to another server instead of
	 * failing; the timeouts keep a dead peer from holding a request.
	 */
	fprintf(f,
	    "# haproxy.cfg generated by orch (docs/haproxy.md)\n"
	    "global\n"
	    "    stats socket %s mode 600 level admin\n"
	    "    stats timeout 10s\n"
	    "\n"
	    "defaults\n"
	    "    mode http\n"
	    "    option http-keep-alive\n"
	    "    timeout connect 2s\n"
	    "    timeout client 30s\n"
	    "    timeout server 30s\n"
	    "    timeout http-request 10s\n"
	    "    timeout http-keep-alive 10s\n"
	    "    timeout queue 5s\n"
	    "    option redispatch 1\n"
	    "    retries 3\n"
	    "    retry-on conn-failure empty-response\n", sock);
	for (i = 0; i < n; i++) {
		if ((rc = haproxy_backend_name(blue, sizeof(blue), svcs[i].name,
		    false)) < 0 ||
		    (rc = haproxy_backend_name(green, sizeof(green), svcs[i].name,
		    true)) < 0)
			goto out;
		if (svcs[i].port < 1 || svcs[i].port > 65535 ||
		    (rc = check_path("bind address", svcs[i].bind)) < 0) {
			rc = orch_err_set(ORCH_EINVALID, "haproxy: service %s: bind "
			    "address or port %d invalid", svcs[i].name, svcs[i].port);
			goto out;
		}
		fprintf(f,
		    "\n"
		    "frontend orch_%s\n"
		    "    bind %s:%d\n"
		    "    use_backend %%[str(%s),map(%s,%s)]\n"
		    "\n"
		    "backend %s\n"
		    "    balance roundrobin\n"
		    "\n"
		    "backend %s\n"
		    "    balance roundrobin\n",
		    svcs[i].name, svcs[i].bind, svcs[i].port, svcs[i].name, map,
		    blue, blue, green);
		fprintf(m, "%s %s\n", svcs[i].name, blue);
	}
	rc = 0;
out:
	if (f != NULL && fclose(f) != 0 && rc == 0)
		rc = orch_err_set(ORCH_ERROR, "out of memory");
	if (m != NULL && fclose(m) != 0 && rc == 0)
		rc = orch_err_set(ORCH_ERROR, "out of memory");
	if (rc < 0) {
		free(cfg);
		free(mtext);
		return rc;
	}
	*out = cfg;
	*out_map = mtext;
	return 0;
}
