/*
 * logs.c - GET /v1/instances/ID/logs?stream=stdout|stderr&tail=BYTES: an
 * instance's log, read from the slave that runs it.
 *
 * The controller keeps no logs; it forwards the request, with its token
 * (its controller credential, else admin: main.c),
 * to the slave at the address of the instance's node (docs/slave.md) and
 * passes the text/plain answer through. The slave request is one more
 * libcurl-multi transfer of the loop and the client's connection is
 * suspended meanwhile (common/httpd.h: httpd_defer), so a slow or dead
 * slave costs the loop nothing: it is answered 502 with the reason after
 * at most CTL_CMD_TIMEOUT_MS. Logs can carry secrets, so this read needs
 * a read credential even with --public-read (docs/api.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"

#define LOGS_MAX_BODY (17 * 1024 * 1024) /* the slave's 16 MiB tail, and headers */

/* One forwarded request: owned by its transfer, freed when it ends. */
struct logreq {
	struct httpd_call *d;     /* the client's deferred request */
	char *id, *node, *address;
	struct curl_slist *hdrs;
	char *buf;
	size_t len;
	bool too_big;
};

static void
logreq_free(struct logreq *q)
{
	free(q->id);
	free(q->node);
	free(q->address);
	curl_slist_free_all(q->hdrs);
	free(q->buf);
	free(q);
}

static size_t
collect(char *ptr, size_t size, size_t n, void *arg)
{
	struct logreq *q = arg;
	size_t len = size * n;
	char *p;

	if (q->len + len > LOGS_MAX_BODY) {
		q->too_big = true;
		return 0;
	}
	if ((p = realloc(q->buf, q->len + len + 1)) == NULL)
		return 0;
	q->buf = p;
	memcpy(q->buf + q->len, ptr, len);
	q->len += len;
	q->buf[q->len] = '\0';
	return len;
}

/* The slave's error detail, or its body as text. */
static const char *
slave_detail(const struct logreq *q, json_t **hold)
{
	const char *d;

	*hold = q->buf ? json_loads(q->buf, 0, NULL) : NULL;
	d = json_string_value(json_object_get(*hold, "detail"));
	if (d == NULL)
		d = json_string_value(json_object_get(*hold, "error"));
	return d ? d : q->buf ? q->buf : "";
}

static void
logs_done(struct ctl *c, void *arg, CURL *easy, CURLcode res)
{
	struct logreq *q = arg;
	struct httpd_resp r = {0};
	json_t *hold = NULL;
	const char *ctype = NULL;
	long code = 0;

	if (res == CURLE_ABORTED_BY_CALLBACK) {
		/* Shutting down: the server already answered the client. */
		logreq_free(q);
		return;
	}
	if (res == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK) {
		log_warnx("node=%s instance=%s logs: %s", q->node, q->id,
		    q->too_big ? "answer too large" : curl_easy_strerror(res));
		httpd_reply_error(&r, 502, "bad gateway", "node %s (%s): %s", q->node,
		    q->address, q->too_big ? "the log answer is too large" :
		    curl_easy_strerror(res));
	} else if (code == 200) {
		curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype);
		httpd_reply_text(&r, 200, ctype && strncmp(ctype, "text/plain", 10) == 0 ?
		    "text/plain; charset=utf-8" : "text/plain", q->buf ? q->buf : "", q->len);
	} else if (code == 400 || code == 404) {
		/* The request or the instance is wrong on the slave too: say
		 * it as the slave did (the instance may be gone from it). */
		httpd_reply_error(&r, (int)code, code == 404 ? "not found" : "bad request",
		    "node %s: %s", q->node, slave_detail(q, &hold));
	} else {
		log_warnx("node=%s instance=%s logs: the slave answered %ld", q->node, q->id,
		    code);
		httpd_reply_error(&r, 502, "bad gateway", "node %s (%s) answered %ld: %s",
		    q->node, q->address, code, slave_detail(q, &hold));
	}
	json_decref(hold);
	httpd_finish(q->d, &r);
	logreq_free(q);
}

/* Validate the query: stream stdout|stderr, tail a positive byte count. */
static bool
parse_query(struct httpd_resp *out, const struct httpd_req *req, const char **stream,
    const char **tail)
{
	*stream = httpd_query(req, "stream");
	*tail = httpd_query(req, "tail");
	if (*stream == NULL)
		*stream = "stdout";
	if (strcmp(*stream, "stdout") != 0 && strcmp(*stream, "stderr") != 0) {
		httpd_reply_error(out, 400, "bad request", "stream: want stdout or stderr");
		return false;
	}
	if (*tail != NULL && (**tail == '\0' || strspn(*tail, "0123456789") != strlen(*tail) ||
	    strlen(*tail) > 12)) {
		httpd_reply_error(out, 400, "bad request", "tail: want a number of bytes");
		return false;
	}
	return true;
}

void
ctl_api_logs(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	const char *id = req->params[0], *stream, *tail;
	struct ctl_inst *i = ctl_inst_find(c, id);
	struct ctl_node *n;
	struct logreq *q;
	char url[2048], auth[1024];
	char *eid;
	CURL *e;

	if (i == NULL) {
		httpd_reply_error(out, 404, "not found", "no instance named \"%s\"", id);
		return;
	}
	if (!parse_query(out, req, &stream, &tail))
		return;
	n = i->node ? ctl_node_find(c, i->node) : NULL;
	if (n == NULL || n->address == NULL) {
		httpd_reply_error(out, 502, "bad gateway", "instance %s: node %s %s", id,
		    i->node ? i->node : "(none)", n == NULL ? "is not registered" :
		    "has no address");
		return;
	}
	if ((e = curl_easy_init()) == NULL) {
		httpd_reply_error(out, 500, "internal error", "curl_easy_init failed");
		return;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		fatalx("out of memory");
	q->id = strdup(id);
	q->node = strdup(n->name);
	q->address = strdup(n->address);
	if (q->id == NULL || q->node == NULL || q->address == NULL)
		fatalx("out of memory");
	eid = curl_easy_escape(e, id, 0);
	snprintf(url, sizeof(url), "%s://%s/v1/instances/%s/logs?stream=%s%s%s",
	    tls_scheme(&c->tls), n->address, eid ? eid : id, stream, tail ? "&tail=" : "",
	    tail ? tail : "");
	curl_free(eid);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
	q->hdrs = curl_slist_append(NULL, auth);
	curl_easy_setopt(e, CURLOPT_URL, url);
	tls_curl_setup(e, &c->tls);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)CTL_CMD_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "orch-controller");
	if (ctl_curl_add(c, e, logs_done, q) < 0) {
		httpd_reply_error(out, 500, "internal error", "%s", orch_err_last());
		logreq_free(q);
		return;
	}
	log_debug("node=%s instance=%s logs stream=%s tail=%s", q->node, q->id, stream,
	    tail ? tail : "default");
	q->d = httpd_defer(req);
}
