/*
 * loadgen.c - see loadgen.h. One thread per connection, blocking sockets
 * with SO_RCVTIMEO/SO_SNDTIMEO: simple, and a few dozen connections are
 * all the tests need. Each thread keeps its own tallies; loadgen_wait()
 * merges them, so the hot path takes no lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "loadgen.h"
#include "units.h"

#define MAX_CONNS 64
#define BUF_SIZE 16384

struct worker {
	struct loadgen *lg;
	pthread_t tid;
	bool started;
	struct loadgen_result r;   /* this thread's tallies */
};

struct loadgen {
	struct loadgen_opts o;
	char path[512];
	int64_t start_ms, end_ms;  /* end_ms 0: no time limit */
	atomic_long budget;        /* requests left to send when counted */
	atomic_long answered;
	atomic_bool stop;
	int n;
	struct worker w[MAX_CONNS];
};

/* errno still says why. */
static void
note_error(struct loadgen_result *r, const char *what)
{
	r->conn_errors++;
	if (r->first_error[0] == '\0')
		snprintf(r->first_error, sizeof(r->first_error), "%s: %s", what,
		    strerror(errno));
}

/* A connect interrupted by a signal goes on in the background: wait
 * for it and take its result (connect(2), EINTR). */
static int
connect_finish(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err = 0, n;

	while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		errno = n == 0 ? ETIMEDOUT : errno;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

static int
dial(struct loadgen *lg, struct loadgen_result *r)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv;
	int fd, one = 1;

	sin.sin_port = htons((uint16_t)lg->o.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	tv.tv_sec = lg->o.timeout_ms / 1000;
	tv.tv_usec = (lg->o.timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
	    !(errno == EINTR && connect_finish(fd, lg->o.timeout_ms) == 0)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	r->connects++;
	return fd;
}

/* Take one request from the budget; false when the run is over. */
static bool
may_send(struct loadgen *lg)
{
	if (atomic_load(&lg->stop))
		return false;
	if (lg->end_ms && orch_mono_ms() >= lg->end_ms)
		return false;
	if (lg->o.requests > 0 && atomic_fetch_sub(&lg->budget, 1) <= 0)
		return false;
	return true;
}

static void
tally_version(struct loadgen_result *r, const char *body, size_t len,
    int64_t sent, int64_t done)
{
	const char *p = memmem(body, len, "\"version\":\"", 11), *e;
	struct loadgen_version *v;
	size_t i, vl;

	if (p == NULL || (e = memchr(p + 11, '"', len - (size_t)(p + 11 - body))) == NULL) {
		r->no_version++;
		return;
	}
	p += 11;
	vl = (size_t)(e - p);
	for (i = 0; i < r->nversions; i++)
		if (strlen(r->versions[i].name) == vl &&
		    memcmp(r->versions[i].name, p, vl) == 0)
			break;
	if (i == r->nversions) {
		if (i == LOADGEN_MAX_VERSIONS || vl >= sizeof(v->name)) {
			r->no_version++;
			return;
		}
		v = &r->versions[r->nversions++];
		memcpy(v->name, p, vl);
		v->name[vl] = '\0';
		v->first_done_ms = done;
	}
	v = &r->versions[i];
	v->count++;
	if (done < v->first_done_ms)
		v->first_done_ms = done;
	if (sent > v->last_sent_ms)
		v->last_sent_ms = sent;
}

/*
 * Read one response on fd into buf (which may hold bytes already).
 * Returns the status (> 0) with *keep telling whether the connection
 * stays usable, or -1 when the connection failed first.
 */
static int
read_response(int fd, char *buf, size_t *have, int *keep, size_t *body_off,
    size_t *body_len)
{
	char *hend, *p, *line;
	size_t hlen, need;
	long clen = -1;
	int status = 0;
	ssize_t r;

	*keep = 1;
	for (;;) {
		buf[*have] = '\0';
		if ((hend = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (*have >= BUF_SIZE - 1) {
			errno = EMSGSIZE;
			return -1;
		}
		r = recv(fd, buf + *have, BUF_SIZE - 1 - *have, 0);
		/* A signal to this process (SIGCHLD of a test's SIGSTOP or
		 * SIGCONT) interrupts a recv with SO_RCVTIMEO even under
		 * SA_RESTART: that is not the server failing the request. */
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		*have += (size_t)r;
	}
	hlen = (size_t)(hend - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status < 100 ||
	    status > 599) {
		errno = EPROTO;
		return -1;
	}
	for (line = strstr(buf, "\r\n"); line && line < hend; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, "content-length:", 15) == 0)
			clen = strtol(line + 15, NULL, 10);
		else if (strncasecmp(line, "connection:", 11) == 0) {
			p = line + 11;
			while (*p == ' ')
				p++;
			if (strncasecmp(p, "close", 5) == 0)
				*keep = 0;
		}
	}
	/* Every answer the tests expect carries a length; no chunked. */
	if (clen < 0 || hlen + (size_t)clen >= BUF_SIZE) {
		errno = EPROTO;
		return -1;
	}
	need = hlen + (size_t)clen;
	while (*have < need) {
		r = recv(fd, buf + *have, BUF_SIZE - 1 - *have, 0);
		/* A signal to this process (SIGCHLD of a test's SIGSTOP or
		 * SIGCONT) interrupts a recv with SO_RCVTIMEO even under
		 * SA_RESTART: that is not the server failing the request. */
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		*have += (size_t)r;
	}
	*body_off = hlen;
	*body_len = (size_t)clen;
	return status;
}

/* Send all of buf, going on after a signal or a short write. */
static int
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct loadgen *lg = w->lg;
	struct loadgen_result *r = &w->r;
	char *buf = malloc(BUF_SIZE), req[700];
	size_t have = 0, boff = 0, blen = 0, reqlen;
	int64_t sent, done;
	int fd = -1, keep, status;

	if (buf == NULL)
		return NULL;
	reqlen = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nUser-Agent: orch-loadgen\r\n\r\n", lg->path,
	    lg->o.port);
	while (may_send(lg)) {
		if (fd < 0 && (fd = dial(lg, r)) < 0) {
			/* Counts as a failed request: this one was never served. */
			note_error(r, "connect");
			r->sent++;
			usleep(10000);  /* no tight loop against a closed port */
			continue;
		}
		sent = orch_mono_ms();
		r->sent++;
		if (send_all(fd, req, reqlen) < 0) {
			note_error(r, "send");
			close(fd);
			fd = -1;
			have = 0;
			continue;
		}
		status = read_response(fd, buf, &have, &keep, &boff, &blen);
		done = orch_mono_ms();
		if (status < 0) {
			note_error(r, "read response");
			close(fd);
			fd = -1;
			have = 0;
			continue;
		}
		r->answered++;
		atomic_fetch_add(&lg->answered, 1);
		r->status[status]++;
		if (status >= 200 && status < 300)
			tally_version(r, buf + boff, blen, sent, done);
		/* Keep what followed this answer (none: we do not pipeline). */
		memmove(buf, buf + boff + blen, have - (boff + blen));
		have -= boff + blen;
		if (!keep) {
			close(fd);
			fd = -1;
			have = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

int
loadgen_start(struct loadgen **out, const struct loadgen_opts *o)
{
	struct loadgen *lg;
	int i, rc = 0;

	*out = NULL;
	if (o->port <= 0 || o->port > 65535 || o->conns < 0 || o->conns > MAX_CONNS ||
	    (o->duration_ms <= 0 && o->requests <= 0))
		return orch_err_set(ORCH_EINVALID, "loadgen: need a port, at most %d "
		    "connections and a duration or a request count", MAX_CONNS);
	if ((lg = calloc(1, sizeof(*lg))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	lg->o = *o;
	if (lg->o.conns == 0)
		lg->o.conns = 4;
	if (lg->o.timeout_ms <= 0)
		lg->o.timeout_ms = 2000;
	snprintf(lg->path, sizeof(lg->path), "%s", o->path ? o->path : "/");
	lg->o.path = lg->path;
	lg->start_ms = orch_mono_ms();
	lg->end_ms = o->duration_ms > 0 ? lg->start_ms + o->duration_ms : 0;
	atomic_init(&lg->budget, o->requests);
	atomic_init(&lg->answered, 0);
	atomic_init(&lg->stop, false);
	lg->n = lg->o.conns;
	for (i = 0; i < lg->n; i++) {
		lg->w[i].lg = lg;
		if (pthread_create(&lg->w[i].tid, NULL, worker_main, &lg->w[i]) != 0) {
			rc = orch_err_set(ORCH_ERROR, "loadgen: pthread_create failed");
			break;
		}
		lg->w[i].started = true;
	}
	if (rc < 0) {
		struct loadgen_result dummy;

		loadgen_stop(lg);
		loadgen_wait(&dummy, lg);
		return rc;
	}
	*out = lg;
	return 0;
}

void
loadgen_stop(struct loadgen *lg)
{
	if (lg != NULL)
		atomic_store(&lg->stop, true);
}

long
loadgen_progress(const struct loadgen *lg)
{
	return atomic_load(&((struct loadgen *)lg)->answered);
}

static void
merge(struct loadgen_result *out, const struct loadgen_result *r)
{
	const struct loadgen_version *v;
	struct loadgen_version *m;
	size_t i, j;

	out->sent += r->sent;
	out->answered += r->answered;
	out->conn_errors += r->conn_errors;
	out->connects += r->connects;
	out->no_version += r->no_version;
	for (i = 0; i < 600; i++)
		out->status[i] += r->status[i];
	if (out->first_error[0] == '\0')
		memcpy(out->first_error, r->first_error, sizeof(out->first_error));
	for (i = 0; i < r->nversions; i++) {
		v = &r->versions[i];
		for (j = 0; j < out->nversions; j++)
			if (strcmp(out->versions[j].name, v->name) == 0)
				break;
		if (j == out->nversions) {
			if (j == LOADGEN_MAX_VERSIONS) {
				out->no_version += v->count;
				continue;
			}
			out->versions[out->nversions++] = *v;
			continue;
		}
		m = &out->versions[j];
		m->count += v->count;
		if (v->first_done_ms < m->first_done_ms)
			m->first_done_ms = v->first_done_ms;
		if (v->last_sent_ms > m->last_sent_ms)
			m->last_sent_ms = v->last_sent_ms;
	}
}

int
loadgen_wait(struct loadgen_result *out, struct loadgen *lg)
{
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < lg->n; i++) {
		if (!lg->w[i].started)
			continue;
		pthread_join(lg->w[i].tid, NULL);
		merge(out, &lg->w[i].r);
	}
	out->elapsed_ms = orch_mono_ms() - lg->start_ms;
	free(lg);
	return 0;
}

int
loadgen_run(struct loadgen_result *out, const struct loadgen_opts *o)
{
	struct loadgen *lg;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = loadgen_start(&lg, o)) < 0)
		return rc;
	return loadgen_wait(out, lg);
}

long
loadgen_failed(const struct loadgen_result *r)
{
	long bad = r->conn_errors;
	int s;

	for (s = 0; s < 600; s++)
		if (s < 200 || s >= 300)
			bad += r->status[s];
	return bad;
}

const struct loadgen_version *
loadgen_version(const struct loadgen_result *r, const char *v)
{
	size_t i;

	for (i = 0; i < r->nversions; i++)
		if (strcmp(r->versions[i].name, v) == 0)
			return &r->versions[i];
	return NULL;
}

void
loadgen_summary(char *buf, size_t len, const struct loadgen_result *r)
{
	size_t off, i;
	int s, w;

	w = snprintf(buf, len, "sent=%ld answered=%ld failed=%ld conn_errors=%ld "
	    "connects=%ld %.1fs %.0f req/s", r->sent, r->answered,
	    loadgen_failed(r), r->conn_errors, r->connects, r->elapsed_ms / 1000.0,
	    r->elapsed_ms > 0 ? r->answered * 1000.0 / r->elapsed_ms : 0.0);
	off = w < 0 ? 0 : (size_t)w;
	for (s = 0; s < 600 && off < len; s++) {
		if (r->status[s] == 0)
			continue;
		w = snprintf(buf + off, len - off, " http%d=%ld", s, r->status[s]);
		off += w < 0 ? 0 : (size_t)w;
	}
	for (i = 0; i < r->nversions && off < len; i++) {
		w = snprintf(buf + off, len - off, " %s=%ld(%.1f%%)",
		    r->versions[i].name, r->versions[i].count,
		    r->answered ? 100.0 * r->versions[i].count / r->answered : 0.0);
		off += w < 0 ? 0 : (size_t)w;
	}
	if (r->first_error[0] != '\0' && off < len)
		snprintf(buf + off, len - off, " first_error=\"%s\"", r->first_error);
}
