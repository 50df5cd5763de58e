/*
 * api_fuzz.h - the client side shared by fuzz_slave_api.c and
 * fuzz_controller_api.c: turn a fuzz input into HTTP requests, send each
 * over a loopback socket to the daemon's real server (common/httpd, run
 * in this process), turn the daemon's loop until the answer is complete,
 * and check it. Header-only (static functions) so that the replay test,
 * tests/integration/test_api_corpus.c, can compile both targets into one
 * program with -DORCH_FUZZ_REPLAY.
 *
 * Input format (both targets): up to FUZZ_MAX_REQS requests separated by
 * a line "@@@" ("\n@@@\n"). Each request is
 *
 *     METHOD TARGET\n          e.g. "POST /v1/instances?x=1"
 *     Name: value\n            zero or more headers
 *     \n
 *     BODY                     every byte up to the separator or the end
 *
 * - METHOD is [A-Za-z_-]{1,20}; anything else is sent as GET.
 * - TARGET (path and query) is sent with every byte that cannot appear in
 *   a request line (<= 0x20, >= 0x7f, '#') percent-encoded, so the exact
 *   bytes reach the router after decoding; a missing leading '/' is added.
 * - Headers: the driver sends Host, "Connection: close" and a correct
 *   Content-Length itself, and "Authorization: Bearer TOKEN" with the
 *   right token unless the input has its own Authorization line (then that
 *   one, e.g. a wrong token or none at all: "Authorization:"). An input
 *   Content-Length of 1-18 digits replaces the driver's (a lie, maybe:
 *   then the driver half-closes after the body and no answer is
 *   required); one that is not a number is dropped. Host, Connection,
 *   Transfer-Encoding and Expect lines are dropped (they test MHD, not
 *   orch); other lines without a valid "Name:" are dropped, and bytes of a
 *   value outside 0x20-0x7e are sent as '?'.
 *
 * Invariants checked per request (a failure prints the request and the
 * answer and aborts, which libFuzzer reports as a crash):
 * - an answer arrives within FUZZ_BUDGET_MS (unless Content-Length lied
 *   or the head is over FUZZ_MHD_HEAD_MAX), with a status line "HTTP/1.x NNN" and 100 <= NNN <= 599;
 * - every answer >= 400 to a non-HEAD request has a Content-Length body
 *   that is a JSON object with an "error" string (never an empty 500),
 *   but for MHD's own fixed HTML page for a request it cannot parse or
 *   hold (400, 413, 414, 431) before orch sees it;
 * - once the client has gone, the server closes every connection but
 *   open streams within FUZZ_BUDGET_MS (nothing left suspended for
 *   nobody; an idle stream notices at its next keep-alive; a body cut
 *   short by a lying Content-Length waits for httpd's read deadline);
 * - ASan/UBSan/LSan watch the daemon code meanwhile.
 */
#ifndef ORCH_API_FUZZ_H
#define ORCH_API_FUZZ_H

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "units.h"

#define FUZZ_MAX_REQS 4
/* Wall-clock bound on one answer and on the server letting go of a
 * client. Generous: the fuzzer runs at nice 19 on a shared, loaded box
 * and may get no CPU for seconds (a 5 s bound failed so, once, with no
 * fault in the daemon: regressions/slave_api/long-raw-path-under-load). */
#define FUZZ_BUDGET_MS 20000
#define FUZZ_MAX_ANSWER (32u << 20)  /* read no more of one answer */
#define FUZZ_LIE_MS 200              /* wait for an answer to a lying length */
#define FUZZ_SEP "\n@@@\n"
/* A request head this big leaves MHD 0.9.75 (32 KiB of memory per
 * connection, head and its per-header records included) too little room
 * to build any answer's header: it closes the connection without one
 * ("failed to create response header"), whatever orch would answer.
 * MHD's limit, not orch's: such a request needs no answer
 * (docs/fuzzing.md). 24 KiB was too high: a 22 KiB head of many lines
 * hit it (regressions/controller_api/mhd-head-22k-many-lines-no-answer). */
#define FUZZ_MHD_HEAD_MAX (16u << 10)

/* The daemon under test, as the driver sees it. */
struct fuzz_daemon {
	struct httpd *http;
	const char *token;
	void (*turn)(void *arg); /* one non-blocking turn of the daemon's loop */
	void *arg;
};

/* Set by the replay program: the file being replayed, for the report. */
static const char *fuzz_current;

struct fuzz_buf {
	char *p;
	size_t len, cap;
};

static void
fuzz_add(struct fuzz_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n + 1) {
		b->cap = (b->len + n + 1) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void fuzz_addf(struct fuzz_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fuzz_addf(struct fuzz_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	fuzz_add(b, tmp, n < 0 ? 0 : (size_t)n >= sizeof(tmp) ? sizeof(tmp) - 1 : (size_t)n);
}

static void __attribute__((noreturn))
fuzz_fail(const struct fuzz_buf *req, const struct fuzz_buf *ans, const char *why)
{
	fprintf(stderr, "\napi fuzz: INVARIANT BROKEN: %s%s%s\n--- request (%zu bytes) ---\n",
	    why, fuzz_current ? " in " : "", fuzz_current ? fuzz_current : "", req->len);
	fwrite(req->p, 1, req->len > 1024 ? 1024 : req->len, stderr);
	fprintf(stderr, "\n--- answer (%zu bytes) ---\n", ans ? ans->len : 0);
	if (ans != NULL && ans->p != NULL)
		fwrite(ans->p, 1, ans->len > 1024 ? 1024 : ans->len, stderr);
	fprintf(stderr, "\n---\n");
	abort();
}

static bool
fuzz_token_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' || ch == '-';
}

/* Case-insensitive: does the header line start with "name:"? */
static bool
fuzz_is_header(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/*
 * Build the wire form of one request from its input text into out.
 * *out_honest: the Content-Length sent is the body's. *out_head: HEAD.
 */
static void
fuzz_build(struct fuzz_buf *out, bool *out_honest, bool *out_head,
    size_t *out_headlen, const struct fuzz_daemon *d, const char *in, size_t len)
{
	const char *eol = memchr(in, '\n', len), *sp, *p, *end = in + len;
	size_t linelen = eol ? (size_t)(eol - in) : len, mlen;
	bool auth = false, cl = false;
	const char *body;

	/* Request line. */
	sp = memchr(in, ' ', linelen);
	mlen = sp ? (size_t)(sp - in) : linelen;
	bool mok = mlen >= 1 && mlen <= 20;
	for (size_t i = 0; mok && i < mlen; i++)
		mok = fuzz_token_char((unsigned char)in[i]);
	if (mok)
		fuzz_add(out, in, mlen);
	else
		fuzz_add(out, "GET", 3);
	*out_head = mok && mlen == 4 && memcmp(in, "HEAD", 4) == 0;
	fuzz_add(out, " ", 1);
	p = sp ? sp + 1 : in + linelen;
	if (p >= in + linelen || *p != '/')
		fuzz_add(out, "/", 1);
	for (; p < in + linelen; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '\r' && p + 1 == in + linelen)
			break;
		if (ch <= 0x20 || ch >= 0x7f || ch == '#')
			fuzz_addf(out, "%%%02X", ch);
		else
			fuzz_add(out, p, 1);
	}
	fuzz_addf(out, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");

	/* Headers, up to an empty line. */
	p = eol ? eol + 1 : end;
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		size_t ll = le ? (size_t)(le - p) : (size_t)(end - p), nl = 0;

		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			p = le ? le + 1 : end;
			break;
		}
		while (nl < ll && (fuzz_token_char((unsigned char)p[nl]) ||
		    (p[nl] >= '0' && p[nl] <= '9')))
			nl++;
		if (nl > 0 && nl < ll && p[nl] == ':' &&
		    !fuzz_is_header(p, ll, "host") && !fuzz_is_header(p, ll, "connection") &&
		    !fuzz_is_header(p, ll, "transfer-encoding") &&
		    !fuzz_is_header(p, ll, "expect")) {
			bool is_cl = fuzz_is_header(p, ll, "content-length");
			size_t v = nl + 1, digits = 0;

			/* A length that is a number (a lie, maybe): not one
			 * MHD rejects before orch sees the request. */
			while (v < ll && p[v] == ' ')
				v++;
			while (v + digits < ll && p[v + digits] >= '0' && p[v + digits] <= '9')
				digits++;
			if (is_cl && (digits == 0 || digits > 18 || v + digits != ll)) {
				p = le ? le + 1 : end;
				continue;
			}
			auth = auth || fuzz_is_header(p, ll, "authorization");
			cl = cl || is_cl;
			for (size_t i = 0; i < ll; i++) {
				char ch = (p[i] == '\t' || (p[i] >= 0x20 && p[i] <= 0x7e)) ? p[i] : '?';

				fuzz_add(out, &ch, 1);
			}
			fuzz_add(out, "\r\n", 2);
		}
		p = le ? le + 1 : end;
	}
	body = p;
	if (!auth && d->token != NULL)
		fuzz_addf(out, "Authorization: Bearer %s\r\n", d->token);
	if (!cl)
		fuzz_addf(out, "Content-Length: %zu\r\n", (size_t)(end - body));
	*out_honest = !cl;
	fuzz_add(out, "\r\n", 2);
	*out_headlen = out->len;
	fuzz_add(out, body, (size_t)(end - body));
}

/* Index of the end of the head (after "\r\n\r\n"), or 0 while incomplete. */
static size_t
fuzz_head_end(const struct fuzz_buf *a)
{
	const char *e = a->p ? strstr(a->p, "\r\n\r\n") : NULL;

	return e ? (size_t)(e - a->p) + 4 : 0;
}

/* Value of header name in the answer's head (NUL-terminated copy), or "". */
static void
fuzz_answer_header(char *out, size_t max, const struct fuzz_buf *a, size_t head,
    const char *name)
{
	size_t n = strlen(name);

	*out = '\0';
	for (const char *l = strstr(a->p, "\r\n"); l && (size_t)(l - a->p) < head;
	    l = strstr(l + 2, "\r\n")) {
		const char *v = l + 2;

		if (strncasecmp(v, name, n) == 0 && v[n] == ':') {
			size_t k = 0;

			for (v += n + 1; *v == ' '; v++)
				;
			while (k + 1 < max && v[k] != '\r' && v[k] != '\0') {
				out[k] = v[k];
				k++;
			}
			out[k] = '\0';
			return;
		}
	}
}

/* How long to poll: until MHD's own next deadline, at most 5 ms. */
static int
fuzz_poll_ms(const struct fuzz_daemon *d)
{
	int64_t t = httpd_timeout_ms(d->http);

	return t >= 0 && t < 5 ? (int)t : 5;
}

/* Send one request, turn the daemon until the answer is complete. */
static void
fuzz_exchange(struct fuzz_buf *ans, const struct fuzz_daemon *d, const struct fuzz_buf *req,
    bool honest)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)httpd_port(d->http))};
	int64_t deadline = orch_mono_ms() + FUZZ_BUDGET_MS;
	size_t sent = 0;
	bool shut = false;
	char buf[65536];
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		fuzz_fail(req, NULL, "cannot connect to the daemon");
	for (;;) {
		struct pollfd pf[2] = {
			{.fd = fd, .events = POLLIN | (sent < req->len ? POLLOUT : 0)},
			{.fd = httpd_fd(d->http), .events = POLLIN},
		};
		ssize_t n;
		size_t head;

		if (sent < req->len) {
			n = send(fd, req->p + sent, req->len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != ENOTCONN &&
			    errno != EINPROGRESS)
				sent = req->len; /* the server closed early (413): read */
		}
		if (sent == req->len && !honest && !shut) {
			/* A lying length: let the server see the end. An answer
			 * is not required; one that comes at once is checked. */
			shutdown(fd, SHUT_WR);
			shut = true;
			if (deadline > orch_mono_ms() + FUZZ_LIE_MS)
				deadline = orch_mono_ms() + FUZZ_LIE_MS;
		}
		d->turn(d->arg);
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0 && ans->len < FUZZ_MAX_ANSWER)
			fuzz_add(ans, buf, (size_t)n);
		if (n == 0 || (n < 0 && errno != EAGAIN) || ans->len >= FUZZ_MAX_ANSWER)
			break;
		/* A stream never ends by itself: its head is the answer. */
		if ((head = fuzz_head_end(ans)) > 0) {
			char ct[128];

			fuzz_answer_header(ct, sizeof(ct), ans, head, "content-type");
			if (strncmp(ct, "text/event-stream", 17) == 0)
				break;
		}
		if (orch_mono_ms() > deadline)
			break;
		poll(pf, 2, fuzz_poll_ms(d));
	}
	close(fd);
}

/* Check one answer against the invariants in the header comment. */
static void
fuzz_check(const struct fuzz_buf *req, const struct fuzz_buf *ans, bool honest, bool head_req,
    size_t req_head)
{
	size_t head = fuzz_head_end(ans);
	char clen[32], *end;
	unsigned long long want;
	json_error_t jerr;
	json_t *j;
	int status;

	/* A lying Content-Length may get no answer, nor a head MHD cannot
	 * answer (FUZZ_MHD_HEAD_MAX): fine. */
	if (ans->len == 0 && (!honest || req_head > FUZZ_MHD_HEAD_MAX))
		return;
	if (head == 0)
		fuzz_fail(req, ans, "no complete answer head");
	if (strncmp(ans->p, "HTTP/1.", 7) != 0 || sscanf(ans->p + 9, "%3d", &status) != 1 ||
	    ans->p[8] != ' ' || status < 100 || status > 599)
		fuzz_fail(req, ans, "not an HTTP status line");
	if (status < 400 || head_req)
		return;
	fuzz_answer_header(clen, sizeof(clen), ans, head, "content-length");
	want = strtoull(clen, &end, 10);
	if (clen[0] == '\0' || *end != '\0')
		fuzz_fail(req, ans, "an error answer without a Content-Length");
	if (ans->len - head < want)
		fuzz_fail(req, ans, "an error answer cut short");
	/* MHD answers a request it cannot parse or hold (400, 413, 414,
	 * 431) itself, with its fixed HTML page, before orch's router sees
	 * it: nothing in orch can shape that answer. orch's own are JSON. */
	if ((status == 400 || status == 413 || status == 414 || status == 431) &&
	    strncmp(ans->p + head, "<html><head><title>", 19) == 0)
		return;
	j = json_loadb(ans->p + head, (size_t)want, 0, &jerr);
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "error")))
		fuzz_fail(req, ans, "an error answer that is not JSON with \"error\"");
	json_decref(j);
}

/* Turn the daemon until it holds no connection: the client has gone.
 * Not after a lying Content-Length: MHD 0.9.75 does not notice that a
 * client closed in the middle of a body, and the connection stays until
 * httpd's read deadline (read_timeout_s) cuts it, bounded as designed. */
static void
fuzz_settle(const struct fuzz_daemon *d, const struct fuzz_buf *req, bool honest)
{
	int64_t deadline = orch_mono_ms() + FUZZ_BUDGET_MS;
	struct httpd_stats st;

	for (;;) {
		struct pollfd pf = {.fd = httpd_fd(d->http), .events = POLLIN};

		d->turn(d->arg);
		httpd_stats(&st, d->http);
		/* An idle stream whose client left is noticed at its next
		 * keep-alive (the controller's events.c, SSE_PING_MS), by
		 * design; the stream bounds of httpd.h keep them few. */
		if (st.conns <= st.streams || !honest)
			return;
		if (orch_mono_ms() > deadline)
			fuzz_fail(req, NULL, "the server keeps a connection of a client that left");
		poll(&pf, 1, fuzz_poll_ms(d));
	}
}

/* Scratch dirs (gitrepo_mkdtemp) under $ORCH_TEST_OUT, else on tmpfs:
 * the daemons fsync their state on every write. */
static void
fuzz_scratch_root(void)
{
	const char *out = getenv("ORCH_TEST_OUT");

	if ((out == NULL || *out == '\0') && access("/dev/shm", W_OK) == 0)
		setenv("ORCH_TEST_OUT", "/dev/shm/orch-fuzz", 1);
}

/* Run every request of one fuzz input through the daemon. */
static void
fuzz_api_input(const struct fuzz_daemon *d, const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	for (int n = 0; n < FUZZ_MAX_REQS && p <= end; n++) {
		const char *sep = memmem(p, (size_t)(end - p), FUZZ_SEP, strlen(FUZZ_SEP));
		size_t len = sep ? (size_t)(sep - p) : (size_t)(end - p);
		struct fuzz_buf req = {0}, ans = {0};
		bool honest, head;
		size_t req_head;

		fuzz_build(&req, &honest, &head, &req_head, d, p, len);
		fuzz_exchange(&ans, d, &req, honest);
		fuzz_check(&req, &ans, honest, head, req_head);
		if (getenv("ORCH_FUZZ_TRACE") != NULL) /* what each request got */
			fprintf(stderr, "%.*s -> %.*s\n", (int)strcspn(req.p, "\r"), req.p,
			    ans.p ? (int)strcspn(ans.p, "\r") : 0, ans.p ? ans.p : "");
		fuzz_settle(d, &req, honest);
		free(req.p);
		free(ans.p);
		if (sep == NULL)
			break;
		p = sep + strlen(FUZZ_SEP);
	}
}

#endif
