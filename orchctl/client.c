/*
 * client.c - orchctl's HTTP client of the controller's /v1 API (libcurl
 * easy interface, jansson), shared by every verb that talks to the
 * controller.
 *
 * The client decides the exit code of a failed call once, here, so every
 * verb fails the same way: a controller that cannot be reached (refused,
 * unknown host, timeout) is exit 3 with the URL named; an HTTP error is
 * exit 1 with the API's {"error", "detail"} printed for a person.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "creds.h"
#include "err.h"
#include "orchctl.h"
#include "units.h"

#define CONNECT_TIMEOUT_MS 5000
/* A reply bigger than this is not something the API sends; stop reading
 * rather than fill memory (a misdirected --controller may stream). */
#define MAX_REPLY (64u * 1024 * 1024)
#define MAX_SSE_LINE (1024u * 1024)
#define STREAM_BACKOFF_MIN_MS 500
#define STREAM_BACKOFF_MAX_MS 5000

struct client {
	const struct orchctl *ctx;
	char *url;   /* base, without a trailing '/' */
	char *token; /* NULL: none */
	char *auth;  /* "Authorization: Bearer ..." */
	bool token_from_file;
	long timeout_ms;
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
};

struct buf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void
buf_add(struct buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			abort(); /* as jstr(): no memory, nothing to say */
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static size_t
write_buf(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > MAX_REPLY) {
		b->overflow = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	buf_add(b, data, n);
	return n;
}

/* ---- setup -------------------------------------------------------------- */

/* The token orchctl sends, from a credentials file (common/creds.h;
 * only its owner may read it): a bare token, else the admin line, else
 * the read line. Into *out (malloc'd). */
static int
read_token_file(char **out, const char *path)
{
	struct creds *cr;
	const char *t;

	*out = NULL;
	if (creds_load(&cr, path, ORCH_ROLE_ADMIN) < 0) {
		orchctl_warnx("cannot read token file %s: %s", path, orch_err_last());
		return EXIT_FAILED;
	}
	if ((t = creds_token(cr, ORCH_ROLE_ADMIN)) == NULL)
		t = creds_token(cr, ORCH_ROLE_READ);
	if (t == NULL) {
		orchctl_warnx("token file %s has no admin or read line", path);
		creds_free(cr);
		return EXIT_FAILED;
	}
	if ((*out = strdup(t)) == NULL)
		abort();
	creds_free(cr);
	return EXIT_OK;
}

/* A token goes into a header: a control character would split it. */
static bool
token_ok(const char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t < 0x20 || *t == 0x7f)
			return false;
	return true;
}

int
client_open(struct client **out, const struct orchctl *ctx,
    const struct orchctl_cmd *cmd)
{
	const char *url = ctx->controller ? ctx->controller : CLIENT_DEFAULT_URL;
	struct client *c;
	size_t len;
	int ex;

	*out = NULL;
	if (*url == '\0')
		return orchctl_usage_error(cmd, "--controller: empty URL");
	if (strstr(url, "://") != NULL && strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)
		return orchctl_usage_error(cmd, "--controller: '%s' is not an "
		    "http:// or https:// URL", url);
	if (tls_files_check_client(&ctx->tls.files) < 0)
		return orchctl_usage_error(cmd, "--cert/--key: %s", orch_err_last());
	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->ctx = ctx;
	c->timeout_ms = CLIENT_TIMEOUT_MS;
	/* "host:port" as kubectl's --server takes it: plain http, or https
	 * when a CA is given to verify the controller with. */
	if (asprintf(&c->url, "%s%s", strstr(url, "://") ? "" :
	    strcmp(tls_scheme(&ctx->tls), "https") == 0 ? "https://" : "http://", url) < 0)
		abort();
	len = strlen(c->url);
	while (len > 0 && c->url[len - 1] == '/')
		c->url[--len] = '\0';

	if (ctx->token_file != NULL) {
		if ((ex = read_token_file(&c->token, ctx->token_file)) != EXIT_OK)
			goto fail;
		c->token_from_file = true;
	} else if (ctx->token != NULL && (c->token = strdup(ctx->token)) == NULL)
		abort();
	if (c->token != NULL) {
		if (!token_ok(c->token)) {
			orchctl_warnx("the token holds a control character");
			ex = EXIT_FAILED;
			goto fail;
		}
		if (asprintf(&c->auth, "Authorization: Bearer %s", c->token) < 0)
			abort();
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (c->h = curl_easy_init()) == NULL) {
		orchctl_warnx("cannot initialise libcurl");
		ex = EXIT_FAILED;
		goto fail;
	}
	*out = c;
	return EXIT_OK;
fail:
	client_free(c);
	return ex;
}

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	if (c->h != NULL) {
		curl_easy_cleanup(c->h);
		curl_global_cleanup();
	}
	free(c->url);
	if (c->token != NULL)
		explicit_bzero(c->token, strlen(c->token));
	if (c->auth != NULL)
		explicit_bzero(c->auth, strlen(c->auth));
	free(c->token);
	free(c->auth);
	free(c);
}

const char *
client_url(const struct client *c)
{
	return c->url;
}

void
client_set_timeout(struct client *c, long ms)
{
	c->timeout_ms = ms;
}

/* ---- errors ------------------------------------------------------------- */

/* Transport failures that mean "the controller is not there". */
static bool
unreachable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return true;
	default:
		return false;
	}
}

static int
transport_error(struct client *c, CURLcode rc, const struct buf *b)
{
	const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);

	if (b != NULL && b->overflow) {
		orchctl_warnx("the reply from %s is larger than %u bytes",
		    c->url, MAX_REPLY);
		return EXIT_FAILED;
	}
	if (unreachable(rc)) {
		orchctl_warnx("cannot reach the controller at %s: %s", c->url, why);
		if (c->ctx->controller == NULL)
			fprintf(stderr, "(no --controller or ORCH_CONTROLLER given; "
			    "using the default %s)\n", CLIENT_DEFAULT_URL);
		return EXIT_UNREACHABLE;
	}
	orchctl_warnx("request to %s failed: %s", c->url, why);
	return EXIT_FAILED;
}

static void
print_error_line(FILE *f, const json_t *e)
{
	long long line = 0, col = 0;
	const char *file = jget_str(e, "file"), *path = jget_str(e, "path");
	const char *msg = jget_str(e, "message");

	if (json_is_string(e)) {
		fprintf(f, "%s\n", json_string_value(e));
		return;
	}
	if (!json_is_object(e))
		return;
	if (msg == NULL)
		msg = jget_str(e, "msg");
	jget_int(&line, e, "line");
	jget_int(&col, e, "col");
	/* Exactly what `orchctl validate` prints for the same error. */
	if (file != NULL)
		fprintf(f, "%s:%lld:%lld: ", file, line, col);
	if (path != NULL && *path)
		fprintf(f, "%s: ", path);
	fprintf(f, "%s\n", msg ? msg : "(no message)");
}

size_t
client_print_detail_errors(FILE *f, const json_t *list)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(list, i, e) {
		if (!json_is_object(e) && !json_is_string(e))
			continue;
		print_error_line(f, e);
		n++;
	}
	return n;
}

static void
print_auth_hint(const struct client *c, long status)
{
	/* With a client certificate, the answer's detail already said what
	 * was wrong with it (untrusted, expired, another role). */
	if (c->ctx->tls.files.cert != NULL)
		return;
	if (c->token == NULL)
		fprintf(stderr, "the controller wants a token: pass "
		    "--token-file FILE (the file's first line is the token) "
		    "or set ORCH_TOKEN%s\n", strncmp(c->url, "https://", 8) == 0 ?
		    "; over TLS, or a client certificate: --cert FILE --key FILE" : "");
	else if (status == 401)
		fprintf(stderr, "the controller rejected the token from %s\n",
		    c->token_from_file ? c->ctx->token_file : "ORCH_TOKEN");
	else if (status == 403)
		fprintf(stderr, "the token from %s is known but its role may not do this"
		    " (writes need an admin token)\n",
		    c->token_from_file ? c->ctx->token_file : "ORCH_TOKEN");
}

/* Tell the user what a non-2xx reply says; EXIT_FAILED. */
static int
http_error(struct client *c, long status, const struct buf *b)
{
	json_t *j = b->len ? json_loadb(b->p, b->len, 0, NULL) : NULL;
	const char *err = jget_str(j, "error");
	const json_t *detail = json_object_get(j, "detail");

	if (j != NULL && err != NULL) {
		if (json_is_string(detail) && *json_string_value(detail))
			orchctl_warnx("%s: %s", err, json_string_value(detail));
		else
			orchctl_warnx("%s", err);
		if (json_is_array(detail)) {
			size_t n = client_print_detail_errors(stderr, detail);

			if (n > 0)
				output_errors_count(stderr, n);
		} else if (json_is_object(detail)) {
			char *s = json_dumps(detail, JSON_COMPACT);

			if (s != NULL)
				fprintf(stderr, "%s\n", s);
			free(s);
		}
		if (c->ctx->output == OUTPUT_JSON)
			output_json(stdout, json_incref(j));
	} else {
		/* Not the API's error shape (a proxy, another server):
		 * show its first line, which usually says enough. */
		size_t n = b->len ? strcspn(b->p, "\r\n") : 0;

		orchctl_warnx("the controller at %s answered HTTP %ld%s%.*s",
		    c->url, status, n ? ": " : "", (int)(n > 200 ? 200 : n),
		    n ? b->p : "");
	}
	if (status == 401 || status == 403)
		print_auth_hint(c, status);
	json_decref(j);
	return EXIT_FAILED;
}

/* ---- requests ----------------------------------------------------------- */

static struct curl_slist *
common_setup(struct client *c, CURL *h, const char *path, char **out_url)
{
	struct curl_slist *hdrs = NULL;

	if (asprintf(out_url, "%s%s", c->url, path) < 0)
		abort();
	c->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, *out_url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "orchctl/" ORCH_VERSION_STRING);
	tls_curl_setup(h, &c->ctx->tls);
	if (c->auth != NULL)
		hdrs = curl_slist_append(hdrs, c->auth);
	return hdrs;
}

/* One request; the reply status and body on a completed exchange. */
static int
request(long *out_status, struct buf *out, struct client *c,
    const char *method, const char *path, const json_t *body)
{
	struct curl_slist *hdrs;
	char *url = NULL, *text = NULL;
	CURLcode rc;

	*out_status = 0;
	curl_easy_reset(c->h);
	hdrs = common_setup(c, c->h, path, &url);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL)
			abort();
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, text);
	} else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, write_buf);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, out);
	if (c->ctx->verbose > 1)
		fprintf(stderr, "orchctl: %s %s\n", method, url);
	rc = curl_easy_perform(c->h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, out_status);
	curl_slist_free_all(hdrs);
	free(text);
	free(url);
	return rc == CURLE_OK ? EXIT_OK : transport_error(c, rc, out);
}

int
client_call(json_t **out, struct client *c, const char *method,
    const char *path, const json_t *body)
{
	struct buf b = {0};
	json_error_t jerr;
	long status;
	int ex;

	*out = NULL;
	if ((ex = request(&status, &b, c, method, path, body)) != EXIT_OK)
		goto out;
	if (status < 200 || status > 299) {
		ex = http_error(c, status, &b);
		goto out;
	}
	if (b.len == 0) {
		*out = jobj(); /* 204: nothing to say is an empty object */
		goto out;
	}
	if ((*out = json_loadb(b.p, b.len, 0, &jerr)) == NULL) {
		orchctl_warnx("%s %s: the reply is not JSON (%s at line %d)",
		    method, path, jerr.text, jerr.line);
		ex = EXIT_FAILED;
	}
out:
	free(b.p);
	return ex;
}

int
client_get_list(json_t **out, json_t **out_list, struct client *c,
    const char *path, const char *key)
{
	int ex;

	*out_list = NULL;
	if ((ex = client_call(out, c, "GET", path, NULL)) != EXIT_OK)
		return ex;
	*out_list = json_object_get(*out, key);
	if (!json_is_array(*out_list)) {
		orchctl_warnx("GET %s: the reply has no \"%s\" list", path, key);
		json_decref(*out);
		*out = NULL;
		*out_list = NULL;
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

int
client_get_raw(char **out, size_t *out_len, struct client *c,
    const char *path)
{
	struct buf b = {0};
	long status;
	int ex;

	*out = NULL;
	*out_len = 0;
	if ((ex = request(&status, &b, c, "GET", path, NULL)) != EXIT_OK) {
		free(b.p);
		return ex;
	}
	if (status < 200 || status > 299) {
		ex = http_error(c, status, &b);
		free(b.p);
		return ex;
	}
	if (b.p == NULL)
		buf_add(&b, "", 0);
	*out = b.p;
	*out_len = b.len;
	return EXIT_OK;
}

char *
client_path(const char *prefix, const char *name, const char *suffix)
{
	char *esc = curl_easy_escape(NULL, name, 0), *p;

	if (esc == NULL || asprintf(&p, "%s%s%s", prefix, esc, suffix) < 0)
		abort();
	curl_free(esc);
	return p;
}

void
client_print_json(json_t *j)
{
	output_json(stdout, j);
}

/* ---- Server-Sent Events ------------------------------------------------- */

struct sse {
	struct client *c;
	CURL *h;
	client_event_fn fn;
	void *arg;
	volatile sig_atomic_t *stop;
	struct buf line;  /* the line being received */
	struct buf data;  /* data: lines of the event being received */
	char *id;         /* id: of the event being received */
	char *last_id;    /* last id of a dispatched event: Last-Event-ID */
	bool checked;     /* the HTTP status was looked at */
	bool ok;          /* ... and it was 2xx */
	bool quit;        /* fn asked to stop */
	int64_t retry_ms; /* the server's retry: hint; 0 none */
	bool lost;        /* the user was told the stream was lost */
	struct buf errbody;
};

static void
sse_dispatch(struct sse *s)
{
	if (s->id != NULL) {
		free(s->last_id);
		if ((s->last_id = strdup(s->id)) == NULL)
			abort();
	}
	if (s->data.len > 0 && !s->quit &&
	    s->fn(s->id, s->data.p, s->arg) != 0)
		s->quit = true;
	s->data.len = 0;
	if (s->data.p)
		s->data.p[0] = '\0';
	free(s->id);
	s->id = NULL;
}

/* One complete line of the stream (the WHATWG EventSource rules, minus
 * event types and retry, which the controller does not use). */
static void
sse_line(struct sse *s, char *l, size_t n)
{
	const char *val;
	size_t flen;

	if (n > 0 && l[n - 1] == '\r')
		l[--n] = '\0';
	if (n == 0) {
		sse_dispatch(s);
		return;
	}
	if (l[0] == ':')
		return; /* comment: the controller's keep-alive */
	flen = strcspn(l, ":");
	val = l[flen] == ':' ? l + flen + 1 : "";
	if (*val == ' ')
		val++;
	if (flen == 4 && strncmp(l, "data", 4) == 0) {
		if (s->data.len > 0)
			buf_add(&s->data, "\n", 1);
		buf_add(&s->data, val, strlen(val));
	} else if (flen == 5 && strncmp(l, "retry", 5) == 0) {
		long long ms = parse_count(val, STREAM_BACKOFF_MAX_MS * 12);

		if (ms >= 0)
			s->retry_ms = ms;
	} else if (flen == 2 && strncmp(l, "id", 2) == 0) {
		free(s->id);
		if ((s->id = strdup(val)) == NULL)
			abort();
	}
}

static size_t
sse_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sse *s = arg;
	size_t n = size * nmemb;

	if (!s->checked) {
		long status = 0;

		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
		s->checked = true;
		s->ok = status >= 200 && status <= 299;
		/* Say so now: a live stream may not end for hours. */
		if (s->ok && s->lost) {
			fprintf(stderr, "orchctl: event stream from %s is back\n",
			    s->c->url);
			s->lost = false;
		}
	}
	if (!s->ok)
		return write_buf(data, size, nmemb, &s->errbody);
	for (size_t i = 0; i < n; i++) {
		if (data[i] != '\n') {
			if (s->line.len >= MAX_SSE_LINE)
				return 0; /* not an event stream */
			buf_add(&s->line, &data[i], 1);
			continue;
		}
		if (s->line.p == NULL)
			buf_add(&s->line, "", 0);
		sse_line(s, s->line.p, s->line.len);
		s->line.len = 0;
		if (s->quit)
			return 0;
	}
	return n;
}

static int
sse_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct sse *s = arg;

	return *s->stop || s->quit; /* non-zero aborts the transfer */
}

/* One connection: until it ends, or stop. The CURLcode of the transfer;
 * *out_status the HTTP status when there was one. */
static CURLcode
sse_connect(long *out_status, struct sse *s, const char *path)
{
	struct curl_slist *hdrs;
	char *url = NULL, *lei = NULL;
	CURLcode rc;

	*out_status = 0;
	s->checked = s->ok = false;
	s->line.len = s->data.len = 0;
	s->errbody.len = 0;
	free(s->id);
	s->id = NULL;
	curl_easy_reset(s->h);
	hdrs = common_setup(s->c, s->h, path, &url);
	hdrs = curl_slist_append(hdrs, "Accept: text/event-stream");
	if (s->last_id != NULL) {
		if (asprintf(&lei, "Last-Event-ID: %s", s->last_id) < 0)
			abort();
		hdrs = curl_slist_append(hdrs, lei);
	}
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, sse_write);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->h, CURLOPT_XFERINFOFUNCTION, sse_progress);
	curl_easy_setopt(s->h, CURLOPT_XFERINFODATA, s);
	rc = curl_easy_perform(s->h);
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, out_status);
	curl_slist_free_all(hdrs);
	free(lei);
	free(url);
	return rc;
}

/* Sleep ms, waking early when *stop turns true. */
static void
nap(int64_t ms, volatile sig_atomic_t *stop)
{
	int64_t end = orch_mono_ms() + ms;

	while (!*stop) {
		int64_t left = end - orch_mono_ms();
		struct timespec ts;

		if (left <= 0)
			break;
		if (left > 100)
			left = 100;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

int
client_stream(struct client *c, const char *path, const char *last_id,
    client_event_fn on_event, void *arg, volatile sig_atomic_t *stop)
{
	struct sse s = {.c = c, .h = c->h, .fn = on_event, .arg = arg,
	    .stop = stop};
	int64_t backoff = STREAM_BACKOFF_MIN_MS;
	bool ever_connected = false;
	int ex = EXIT_OK;

	if (last_id != NULL && (s.last_id = strdup(last_id)) == NULL)
		abort();
	while (!*stop && !s.quit) {
		long status;
		CURLcode rc = sse_connect(&status, &s, path);

		if (*stop || s.quit)
			break;
		/* A 5xx after we were in is a controller restarting behind a
		 * proxy: wait it out like a dropped link. Anything else is
		 * an answer. */
		if (s.checked && !s.ok && (!ever_connected || status < 500)) {
			ex = http_error(c, status, &s.errbody);
			break;
		}
		if (!s.checked && !ever_connected) {
			/* Never got an answer: as any other call. */
			ex = transport_error(c, rc, NULL);
			break;
		}
		if (s.checked && s.ok) {
			ever_connected = true;
			backoff = STREAM_BACKOFF_MIN_MS;
		}
		if (s.checked && s.ok && rc == CURLE_OK) {
			/* A clean end: the controller answers what it has and
			 * closes (long polling), or restarts. Come back after
			 * its retry: hint, resuming by Last-Event-ID, as an
			 * EventSource does; nothing to tell anyone. */
			if (c->ctx->verbose > 1)
				fprintf(stderr, "orchctl: event stream ended; "
				    "reconnecting\n");
			nap(s.retry_ms > 0 ? s.retry_ms : STREAM_BACKOFF_MIN_MS,
			    stop);
			continue;
		}
		/* Lost: a link or controller down. Say so once per outage,
		 * keep trying with a growing pause. */
		if (!s.lost || c->ctx->verbose > 0)
			fprintf(stderr, "orchctl: lost the event stream from %s "
			    "(%s); reconnecting\n", c->url, c->errbuf[0] ?
			    c->errbuf : curl_easy_strerror(rc));
		s.lost = true;
		nap(backoff, stop);
		backoff = backoff * 2 > STREAM_BACKOFF_MAX_MS ?
		    STREAM_BACKOFF_MAX_MS : backoff * 2;
	}
	free(s.line.p);
	free(s.data.p);
	free(s.errbody.p);
	free(s.id);
	free(s.last_id);
	return ex;
}

/* ---- reading replies ------------------------------------------------------ */

const char *
jget_str(const json_t *o, const char *key)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool
jget_int(long long *out, const json_t *o, const char *key)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		*out = (long long)json_real_value(v);
		return true;
	}
	if (json_is_string(v)) {
		long long n = parse_count(json_string_value(v), INT64_MAX);

		if (n >= 0) {
			*out = n;
			return true;
		}
	}
	return false;
}

long long
parse_count(const char *s, long long max)
{
	long long n = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (max - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n;
}

/* A time value as ms since the epoch: integers above 1e11 are ms (that is
 * 1973 in ms, 5138 in s), smaller ones seconds; strings are digits or
 * RFC 3339 ("2026-11-23T11:22:33Z", fractions and offsets read). */
static bool
time_ms(int64_t *out, const json_t *v)
{
	const char *s, *p;
	struct tm tm;
	long long n;

	if (json_is_integer(v) || json_is_real(v)) {
		double d = json_number_value(v);

		*out = d > 1e11 ? (int64_t)d : (int64_t)(d * 1000);
		return d > 0;
	}
	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	if ((n = parse_count(s, INT64_MAX)) > 0) {
		*out = n > 100000000000LL ? n : n * 1000;
		return true;
	}
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL &&
	    (p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) == NULL)
		return false;
	*out = (int64_t)timegm(&tm) * 1000;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1])) {
		int hh = 0, mm = 0;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) >= 1)
			*out -= (*p == '+' ? 1 : -1) *
			    ((int64_t)hh * 3600 + mm * 60) * 1000;
	}
	return true;
}

void
fmt_time(char *buf, size_t len, const json_t *v)
{
	int64_t ms;
	time_t t;
	struct tm tm;

	if (!time_ms(&ms, v)) {
		snprintf(buf, len, "%s", json_is_string(v) &&
		    *json_string_value(v) ? json_string_value(v) : "-");
		return;
	}
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
fmt_age(char *buf, size_t len, const json_t *v)
{
	int64_t ms;

	if (!time_ms(&ms, v)) {
		snprintf(buf, len, "-");
		return;
	}
	fmt_age_ms(buf, len, (long long)(orch_wall_ms() - ms));
}

void
fmt_age_ms(char *buf, size_t len, long long ms)
{
	long long s = ms / 1000;

	if (s < 0)
		s = 0;
	/* kubectl's HumanDuration, in fewer steps. */
	if (s < 120)
		snprintf(buf, len, "%llds", s);
	else if (s < 600 && s % 60)
		snprintf(buf, len, "%lldm%llds", s / 60, s % 60);
	else if (s < 3 * 3600)
		snprintf(buf, len, "%lldm", s / 60);
	else if (s < 48 * 3600)
		snprintf(buf, len, "%lldh", s / 3600);
	else
		snprintf(buf, len, "%lldd", s / 86400);
}

void
fmt_short_sha(char *buf, size_t len, const char *sha)
{
	snprintf(buf, len, "%.7s", sha && *sha ? sha : "-");
}

/* ---- interrupts ----------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void
on_interrupt(int sig)
{
	interrupted = 1;
}

volatile sig_atomic_t *
orchctl_catch_interrupt(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a sleeping follow loop wakes at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &interrupted;
}
