/*
 * cdp.c - headless Chromium driven over the Chrome DevTools Protocol, for
 * tests of the web page (see cdp.h). The WebSocket client and the CDP
 * calls are those of test_web_page.c, shared here for test_web_login.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cdp.h"
#include "daemon.h"
#include "err.h"

#define CDP_TIMEOUT 15000

static struct daemon *browser;
static char *browser_dir;

/* ---- a minimal WebSocket client (RFC 6455), enough for CDP ---- */

struct ws {
	int fd;
	char *buf;            /* received, not yet consumed */
	size_t len, cap;
	int next_id;
};

static struct ws cdp = {.fd = -1};

/* Read until the buffer holds n bytes or the deadline passes. */
static int
ws_fill(struct ws *w, size_t n, int64_t deadline)
{
	while (w->len < n) {
		struct pollfd p = {.fd = w->fd, .events = POLLIN};
		int64_t left = deadline - orch_mono_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		if (w->cap - w->len < 65536) {
			size_t cap = w->cap * 2 + 65536;
			char *nb = realloc(w->buf, cap);

			if (nb == NULL)
				return -1;
			w->buf = nb;
			w->cap = cap;
		}
		if ((r = recv(w->fd, w->buf + w->len, w->cap - w->len, 0)) <= 0)
			return -1;
		w->len += (size_t)r;
	}
	return 0;
}

static void
ws_consume(struct ws *w, size_t n)
{
	memmove(w->buf, w->buf + n, w->len - n);
	w->len -= n;
}

/* Send one frame; clients must mask (RFC 6455 5.3). */
static int
ws_send(struct ws *w, int opcode, const char *data, size_t n)
{
	unsigned char hdr[14], mask[4];
	size_t h = 0, off = 0;
	char *frame;
	int rc = 0;

	hdr[h++] = (unsigned char)(0x80 | opcode);
	if (n < 126)
		hdr[h++] = (unsigned char)(0x80 | n);
	else if (n <= 0xffff) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(n >> 8);
		hdr[h++] = (unsigned char)n;
	} else {
		hdr[h++] = 0x80 | 127;
		for (int k = 7; k >= 0; k--)
			hdr[h++] = (unsigned char)((uint64_t)n >> (8 * k));
	}
	for (int k = 0; k < 4; k++)
		mask[k] = (unsigned char)(rand() & 0xff);
	if ((frame = malloc(h + 4 + n)) == NULL)
		return -1;
	memcpy(frame, hdr, h);
	memcpy(frame + h, mask, 4);
	for (size_t k = 0; k < n; k++)
		frame[h + 4 + k] = (char)(data[k] ^ mask[k % 4]);
	while (off < h + 4 + n) {
		ssize_t r = send(w->fd, frame + off, h + 4 + n - off, MSG_NOSIGNAL);

		if (r <= 0) {
			rc = -1;
			break;
		}
		off += (size_t)r;
	}
	free(frame);
	return rc;
}

/* One whole text message (fragments joined), malloc'd; NULL on a close,
 * an error or the deadline. Pings are answered. */
static char *
ws_recv(struct ws *w, int64_t deadline)
{
	char *msg = NULL;
	size_t mlen = 0;

	for (;;) {
		unsigned char b0, b1;
		uint64_t n;
		size_t h = 2;
		unsigned char mask[4] = {0};
		bool fin, masked;
		int op;
		char *p;

		if (ws_fill(w, 2, deadline) < 0)
			goto fail;
		b0 = (unsigned char)w->buf[0];
		b1 = (unsigned char)w->buf[1];
		fin = b0 & 0x80;
		op = b0 & 0x0f;
		masked = b1 & 0x80;
		n = b1 & 0x7f;
		if (n == 126) {
			if (ws_fill(w, 4, deadline) < 0)
				goto fail;
			n = ((uint64_t)(unsigned char)w->buf[2] << 8) | (unsigned char)w->buf[3];
			h = 4;
		} else if (n == 127) {
			if (ws_fill(w, 10, deadline) < 0)
				goto fail;
			n = 0;
			for (int k = 0; k < 8; k++)
				n = (n << 8) | (unsigned char)w->buf[2 + k];
			h = 10;
		}
		if (masked) {
			if (ws_fill(w, h + 4, deadline) < 0)
				goto fail;
			memcpy(mask, w->buf + h, 4);
			h += 4;
		}
		if (n > 64u * 1024 * 1024 || ws_fill(w, h + (size_t)n, deadline) < 0)
			goto fail;
		if (masked)
			for (size_t k = 0; k < n; k++)
				w->buf[h + k] ^= (char)mask[k % 4];
		if (op == 0x8)
			goto fail;
		if (op == 0x9) {
			ws_send(w, 0xA, w->buf + h, (size_t)n);
			ws_consume(w, h + (size_t)n);
			continue;
		}
		if ((p = realloc(msg, mlen + (size_t)n + 1)) == NULL)
			goto fail;
		msg = p;
		memcpy(msg + mlen, w->buf + h, (size_t)n);
		mlen += (size_t)n;
		msg[mlen] = '\0';
		ws_consume(w, h + (size_t)n);
		if (fin && op != 0xA)
			return msg;
		if (op == 0xA) {          /* an unsolicited pong: not a message */
			free(msg);
			msg = NULL;
			mlen = 0;
		}
	}
fail:
	free(msg);
	return NULL;
}

/* Connect to ws://127.0.0.1:port/path and upgrade. */
static int
ws_open(struct ws *w, int port, const char *path)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[512];
	int64_t deadline = orch_mono_ms() + CDP_TIMEOUT;
	char *end;

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if ((w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(w->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	/* No Origin header: Chromium only checks origins that are sent. */
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", path, port);
	if (send(w->fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		return -1;
	for (size_t want = 1;; want = w->len + 1) {
		if (ws_fill(w, want, deadline) < 0)
			return -1;
		if ((end = memmem(w->buf, w->len, "\r\n\r\n", 4)) != NULL)
			break;
	}
	if (strncmp(w->buf, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "websocket upgrade refused: %.*s\n", (int)(end - w->buf), w->buf);
		return -1;
	}
	ws_consume(w, (size_t)(end + 4 - w->buf));
	return 0;
}

static void
ws_close(struct ws *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

/* ---- CDP ---- */

/* Call method with params (stolen, may be NULL); the "result" object
 * (caller decrefs) or NULL. Events that arrive meanwhile are dropped. */
static json_t *
cdp_call(const char *method, json_t *params)
{
	int id = ++cdp.next_id;
	json_t *req = json_pack("{s:i, s:s, s:o}", "id", id, "method", method,
	    "params", params ? params : json_object());
	char *text = json_dumps(req, JSON_COMPACT);
	int64_t deadline = orch_mono_ms() + CDP_TIMEOUT;
	json_t *res = NULL;

	json_decref(req);
	if (text == NULL || ws_send(&cdp, 0x1, text, strlen(text)) < 0) {
		free(text);
		return NULL;
	}
	free(text);
	for (;;) {
		char *msg = ws_recv(&cdp, deadline);
		json_t *j;

		if (msg == NULL)
			return NULL;
		j = json_loads(msg, 0, NULL);
		free(msg);
		if (j != NULL && json_integer_value(json_object_get(j, "id")) == id) {
			if ((res = json_object_get(j, "result")) != NULL)
				json_incref(res);
			else
				fprintf(stderr, "cdp %s: %s\n", method,
				    json_string_value(json_object_get(json_object_get(j, "error"),
				        "message")));
			json_decref(j);
			return res;
		}
		json_decref(j);
	}
}

/* Evaluate a JavaScript expression in the page; its value (caller
 * decrefs) or NULL when it threw. */
static json_t *
js(const char *expr)
{
	json_t *r = cdp_call("Runtime.evaluate", json_pack("{s:s, s:b, s:b}",
	    "expression", expr, "returnByValue", 1, "awaitPromise", 1));
	json_t *v = NULL;

	if (r != NULL && json_object_get(r, "exceptionDetails") == NULL &&
	    (v = json_object_get(json_object_get(r, "result"), "value")) != NULL)
		json_incref(v);
	json_decref(r);
	return v;
}

/* A string-valued expression (static buffer; "" when not a string). */
static const char *
js_str(const char *expr)
{
	static char buf[65536];
	json_t *v = js(expr);

	snprintf(buf, sizeof(buf), "%s", json_is_string(v) ? json_string_value(v) : "");
	json_decref(v);
	return buf;
}

static bool
js_true(const char *expr)
{
	json_t *v = js(expr);
	bool t = json_is_true(v);

	json_decref(v);
	return t;
}

static long long
js_int(const char *expr)
{
	json_t *v = js(expr);
	long long n = json_is_number(v) ? (long long)json_number_value(v) : -1;

	json_decref(v);
	return n;
}

int
cdp_start(const char *url, int64_t timeout_ms)
{
	const char *chromium = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
	char udd[600], portfile[700], list[256], wspath[256], log[700];
	char *text = NULL;
	int port = 0, rc;

	if (access(chromium, X_OK) != 0)
		return orch_err_set(ORCH_ERROR, "no chromium at %s", chromium);
	if ((rc = daemon_tmpdir(&browser_dir, "chromium")) < 0)
		return rc;
	snprintf(udd, sizeof(udd), "--user-data-dir=%s/profile", browser_dir);
	snprintf(log, sizeof(log), "%s/chromium.log", browser_dir);
	{
		const char *argv[] = {chromium, "--headless", "--no-sandbox", "--disable-gpu",
		    "--disable-quic", "--no-first-run", "--disable-background-networking",
		    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		    "--window-size=1280,900", udd, url, NULL};

		if ((rc = daemon_start(&browser, argv, browser_dir, log)) < 0)
			return rc;
	}
	/* Chromium writes the port it picked into the profile. */
	snprintf(portfile, sizeof(portfile), "%s/profile/DevToolsActivePort", browser_dir);
	if (!WAIT_FOR((free(text), text = read_file(portfile)) != NULL && atoi(text) > 0,
	    timeout_ms)) {
		free(text);
		return orch_err_set(ORCH_ERROR, "chromium wrote no DevToolsActivePort");
	}
	port = atoi(text);
	free(text);
	snprintf(list, sizeof(list), "http://127.0.0.1:%d/json/list", port);
	wspath[0] = '\0';
	if (!WAIT_FOR(({
		long st = 0;
		json_t *targets = NULL;
		http_json(&targets, &st, "GET", list, NULL, NULL);
		for (size_t k = 0; k < json_array_size(targets); k++) {
			json_t *t = json_array_get(targets, k);
			const char *ws = json_string_value(json_object_get(t, "webSocketDebuggerUrl"));
			const char *type = json_string_value(json_object_get(t, "type"));
			const char *p;

			if (ws && type && strcmp(type, "page") == 0 &&
			    (p = strstr(ws, "/devtools/")) != NULL)
				snprintf(wspath, sizeof(wspath), "%s", p);
		}
		json_decref(targets);
		wspath[0] != '\0'; }), timeout_ms))
		return orch_err_set(ORCH_ERROR, "chromium lists no page");
	return ws_open(&cdp, port, wspath);
}

bool
cdp_running(void)
{
	return cdp.fd >= 0;
}

void
cdp_stop(void)
{
	ws_close(&cdp);
	if (browser != NULL) {
		daemon_stop(browser, SIGTERM, 10000);
		daemon_free(browser);
		browser = NULL;
	}
	if (browser_dir != NULL)
		daemon_rmtree(browser_dir);
	free(browser_dir);
	browser_dir = NULL;
}

json_t *
cdp_js(const char *expr)
{
	return js(expr);
}

const char *
cdp_js_str(const char *expr)
{
	return js_str(expr);
}

bool
cdp_js_true(const char *expr)
{
	return js_true(expr);
}

long long
cdp_js_int(const char *expr)
{
	return js_int(expr);
}

json_t *
cdp_call_method(const char *method, json_t *params)
{
	return cdp_call(method, params);
}
