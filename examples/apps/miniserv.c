/*
 * miniserv.c - see miniserv.h.
 *
 * Level-triggered poll() over every connection: simple, and good for the
 * few hundred keep-alive connections HAProxy and wrk open in the demo and
 * the benchmarks. Each connection owns an input buffer (one request head
 * plus body at most) and an output buffer; while the output backlog is
 * large we stop reading from that peer, so a client that never reads
 * cannot make us buffer without bound.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "miniserv.h"

#define MAX_HEAD (16 * 1024)
#define MAX_BODY (1024 * 1024)
#define OUT_HIGH (1024 * 1024)
#define IDLE_MS 60000

struct conn {
	int fd;
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff, outcap;
	int closing;   /* close once the output is drained */
	int continued; /* "100 Continue" already sent for the pending request */
	int64_t last;  /* last activity, for the idle sweep */
};

static struct conn *conns;
static size_t nconns, capconns;

int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ms_reply(struct ms_response *out, int status, const char *ctype,
    const void *body, size_t len)
{
	free(out->body);
	out->status = status;
	out->ctype = ctype;
	out->body = malloc(len + 1);
	out->len = out->body ? len : 0;
	if (out->body) {
		memcpy(out->body, body, len);
		out->body[len] = '\0';
	} else
		out->status = 500;
}

void
ms_replyf(struct ms_response *out, int status, const char *ctype,
    const char *fmt, ...)
{
	char *s = NULL;
	int n;
	va_list ap;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		ms_reply(out, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	free(out->body);
	out->status = status;
	out->ctype = ctype;
	out->body = s;
	out->len = (size_t)n;
}

void
ms_json_escape(char *dst, size_t len, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 7 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch < 0x20)
			o += (size_t)snprintf(dst + o, len - o, "\\u%04x", ch);
		else
			dst[o++] = (char)ch;
	}
	if (len > 0)
		dst[o < len ? o : len - 1] = '\0';
}

int
ms_listen(int port)
{
	struct sockaddr_in sa;
	struct rlimit rl;
	int fd, one = 1;

	/* Many concurrent connections behind a load balancer: use every
	 * descriptor the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "bad port %d\n", port);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1024) < 0) {
		fprintf(stderr, "listen 127.0.0.1:%d: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
out_append(struct conn *c, const void *p, size_t n)
{
	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *nb;

		while (cap < c->outlen + n)
			cap *= 2;
		nb = realloc(c->out, cap);
		if (nb == NULL)
			return -1;
		c->out = nb;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return 0;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

static int
send_response(struct conn *c, int status, const char *ctype,
    const char *body, size_t len, int head_only, int keep)
{
	char hdr[256];
	int n;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: %s\r\n\r\n", status,
	    reason(status), ctype ? ctype : "text/plain", len,
	    keep ? "keep-alive" : "close");
	if (out_append(c, hdr, (size_t)n) < 0)
		return -1;
	if (!head_only && len > 0 && out_append(c, body, len) < 0)
		return -1;
	return 0;
}

/* Case-insensitive: does header value v (vlen bytes) contain token t? */
static int
has_token(const char *v, size_t vlen, const char *t)
{
	size_t tl = strlen(t), i;

	for (i = 0; i + tl <= vlen; i++)
		if (strncasecmp(v + i, t, tl) == 0)
			return 1;
	return 0;
}

/*
 * Parse one request from the front of c->in. Returns 1 with req filled and
 * *consumed set, 0 when more bytes are needed, -1 with *err an HTTP status
 * when the request is unacceptable (the connection is then closed).
 */
static int
parse(struct conn *c, struct ms_request *req, size_t *consumed, int *keep,
    int *err)
{
	const char *p = c->in, *end, *eol, *sp1, *sp2;
	size_t headlen, clen = 0;
	int expect = 0, have_clen = 0;

	while (c->inlen >= 2 && p[0] == '\r' && p[1] == '\n') {
		/* RFC 9112 2.2: ignore empty lines before a request line. */
		memmove(c->in, c->in + 2, c->inlen - 2);
		c->inlen -= 2;
	}
	end = memmem(p, c->inlen, "\r\n\r\n", 4);
	if (end == NULL) {
		*err = 431;
		return c->inlen > MAX_HEAD ? -1 : 0;
	}
	headlen = (size_t)(end - p) + 4;
	*err = 400;
	eol = memmem(p, headlen, "\r\n", 2);
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (sp1 == NULL || sp1 == p || (size_t)(sp1 - p) >= sizeof(req->method))
		return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1 ||
	    (size_t)(sp2 - sp1 - 1) >= sizeof(req->path) || sp1[1] != '/')
		return -1;
	if ((size_t)(eol - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -1;
	if (sp2[8] == '1')
		*keep = 1;
	else if (sp2[8] == '0')
		*keep = 0;
	else
		return -1;
	memcpy(req->method, p, (size_t)(sp1 - p));
	req->method[sp1 - p] = '\0';
	memcpy(req->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	req->path[sp2 - sp1 - 1] = '\0';

	for (p = eol + 2; p < end; p = eol + 2) {
		const char *colon, *v;
		size_t vlen;

		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return -1;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		vlen = (size_t)(eol - v);
#define IS(name) ((size_t)(colon - p) == sizeof(name) - 1 && \
	strncasecmp(p, name, sizeof(name) - 1) == 0)
		if (IS("content-length")) {
			const char *q;

			if (vlen == 0 || have_clen)
				return -1;
			for (q = v, clen = 0; q < eol; q++) {
				if (*q < '0' || *q > '9')
					return -1;
				clen = clen * 10 + (size_t)(*q - '0');
				if (clen > MAX_BODY) {
					*err = 413;
					return -1;
				}
			}
			have_clen = 1;
		} else if (IS("transfer-encoding")) {
			*err = 501;
			return -1;
		} else if (IS("connection")) {
			if (has_token(v, vlen, "close"))
				*keep = 0;
			else if (has_token(v, vlen, "keep-alive"))
				*keep = 1;
		} else if (IS("expect")) {
			expect = has_token(v, vlen, "100-continue");
		}
#undef IS
	}
	if (c->inlen < headlen + clen) {
		if (expect && !c->continued) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

			if (out_append(c, cont, sizeof(cont) - 1) < 0) {
				*err = 500;
				return -1;
			}
			c->continued = 1;
		}
		return 0;
	}
	req->body = c->in + headlen;
	req->bodylen = clen;
	*consumed = headlen + clen;
	return 1;
}

/* Answer every complete request in the input buffer. */
static void
process(struct conn *c, ms_handler h, void *arg)
{
	struct ms_request req;
	struct ms_response resp;
	size_t consumed = 0;
	int keep = 1, err = 0, r;

	while (!c->closing) {
		r = parse(c, &req, &consumed, &keep, &err);
		if (r == 0)
			break;
		if (r < 0) {
			send_response(c, err, "text/plain", reason(err),
			    strlen(reason(err)), 0, 0);
			c->closing = 1;
			break;
		}
		memset(&resp, 0, sizeof(resp));
		h(&resp, &req, arg);
		if (send_response(c, resp.status ? resp.status : 500, resp.ctype,
		    resp.body, resp.len, strcmp(req.method, "HEAD") == 0,
		    keep) < 0)
			c->closing = 1;
		free(resp.body);
		memmove(c->in, c->in + consumed, c->inlen - consumed);
		c->inlen -= consumed;
		c->continued = 0;
		if (!keep)
			c->closing = 1;
	}
}

/* Flush what we can; -1 when the connection should be closed now. */
static int
conn_write(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return c->closing ? -1 : 0;
}

/* One read, then answer; -1 when the connection should be closed now. */
static int
conn_read(struct conn *c, ms_handler h, void *arg)
{
	ssize_t n;

	if (c->incap - c->inlen < 4096) {
		size_t cap = c->incap ? c->incap * 2 : 8192;
		char *nb;

		if (cap > MAX_HEAD + MAX_BODY + 8192)
			cap = MAX_HEAD + MAX_BODY + 8192;
		if (cap <= c->inlen)
			return -1; /* parse() bounds heads and bodies below this */
		nb = realloc(c->in, cap);
		if (nb == NULL)
			return -1;
		c->in = nb;
		c->incap = cap;
	}
	n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (n == 0) {
		c->closing = 1; /* peer is done sending: flush, then close */
		return conn_write(c);
	}
	c->inlen += (size_t)n;
	c->last = ms_now();
	process(c, h, arg);
	return conn_write(c);
}

static void
conn_close(size_t i)
{
	close(conns[i].fd);
	free(conns[i].in);
	free(conns[i].out);
	conns[i] = conns[--nconns];
}

static int
accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EMFILE: stop polling the listener until one closes. */
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
		}
		if (nconns == capconns) {
			size_t cap = capconns ? capconns * 2 : 64;
			struct conn *nc = realloc(conns, cap * sizeof(*nc));

			if (nc == NULL) {
				close(fd);
				return -1;
			}
			conns = nc;
			capconns = cap;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		memset(&conns[nconns], 0, sizeof(conns[nconns]));
		conns[nconns].fd = fd;
		conns[nconns].last = ms_now();
		nconns++;
	}
}

int
ms_serve(int lfd, ms_handler h, ms_tick tick, void *arg)
{
	struct pollfd *pfd = NULL;
	size_t cappfd = 0, i, npfd;
	sigset_t set;
	int sfd, rc = 1, listener_paused = 0;
	int64_t last_sweep = ms_now();

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		perror("signalfd");
		return 1;
	}
	for (;;) {
		if (cappfd < nconns + 2) {
			struct pollfd *np = realloc(pfd, (nconns + 64) * sizeof(*np));

			if (np == NULL)
				goto out;
			pfd = np;
			cappfd = nconns + 64;
		}
		pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = listener_paused ? -1 : lfd,
		    .events = POLLIN};
		for (i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			short ev = 0;

			if (!c->closing && c->outlen - c->outoff < OUT_HIGH)
				ev |= POLLIN;
			if (c->outoff < c->outlen)
				ev |= POLLOUT;
			pfd[2 + i] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		npfd = 2 + nconns;
		if (poll(pfd, npfd, 200) < 0 && errno != EINTR) {
			perror("poll");
			goto out;
		}
		if (pfd[0].revents & POLLIN) {
			rc = 0;
			goto out;
		}
		/* Backwards: conn_close() moves the last entry into slot i,
		 * and every entry past i has already been handled. */
		for (i = npfd - 2; i-- > 0;) {
			short re = pfd[2 + i].revents;
			int dead = 0;

			if (re & (POLLERR | POLLNVAL))
				dead = 1;
			else if (re & (POLLIN | POLLHUP))
				dead = conn_read(&conns[i], h, arg) < 0;
			if (!dead && (re & POLLOUT))
				dead = conn_write(&conns[i]) < 0;
			if (dead) {
				conn_close(i);
				listener_paused = 0;
			}
		}
		if (pfd[1].revents & POLLIN)
			listener_paused = accept_all(lfd) < 0;
		if (ms_now() - last_sweep >= 1000) {
			int64_t now = last_sweep = ms_now();

			for (i = nconns; i-- > 0;)
				if (now - conns[i].last > IDLE_MS)
					conn_close(i);
		}
		if (tick)
			tick(arg);
	}
out:
	for (i = nconns; i-- > 0;)
		conn_close(i);
	free(conns);
	conns = NULL;
	capconns = 0;
	free(pfd);
	close(sfd);
	return rc;
}
