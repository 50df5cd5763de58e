/*
 * alerts.c - POST a JSON alert to the manifest's alerts.webhook on a
 * service Failed, a node Lost and a rollback. Each alert is a libcurl-multi
 * transfer in the loop, retried with a doubling backoff up to
 * CTL_ALERT_TRIES times; a slow or dead webhook never holds anything else.
 * Every alert is also logged, so a cluster without a webhook still has a
 * record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"

struct ctl_alert {
	struct ctl_alert *next;
	char *url;
	char *body;
	CURL *easy;
	struct curl_slist *hdrs;
	int tries;
	int64_t next_at;
};

static void
alert_free(struct ctl_alert *a)
{
	free(a->url);
	free(a->body);
	curl_slist_free_all(a->hdrs);
	free(a);
}

static void
unlink_alert(struct ctl *c, struct ctl_alert *a)
{
	for (struct ctl_alert **pp = &c->alerts; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			return;
		}
}

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;
}

static void
alert_done(struct ctl *c, void *arg, CURL *easy, CURLcode res)
{
	struct ctl_alert *a = arg;
	long code = 0;

	curl_slist_free_all(a->hdrs);
	a->hdrs = NULL;
	a->easy = NULL;
	if (res == CURLE_ABORTED_BY_CALLBACK)
		return;
	if (res == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (res == CURLE_OK && code >= 200 && code < 300) {
		c->alerts_sent++;
		unlink_alert(c, a);
		alert_free(a);
		return;
	}
	if (a->tries >= CTL_ALERT_TRIES) {
		c->alerts_failed++;
		log_warnx("alert to %s dropped after %d tries (%s, status %ld)", a->url,
		    a->tries, res != CURLE_OK ? curl_easy_strerror(res) : "answered", code);
		unlink_alert(c, a);
		alert_free(a);
		return;
	}
	a->next_at = orch_mono_ms() + (500LL << (a->tries - 1));
}

static void
alert_send(struct ctl *c, struct ctl_alert *a)
{
	CURL *e = curl_easy_init();

	if (e == NULL) {
		a->next_at = orch_mono_ms() + 1000;
		return;
	}
	a->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_URL, a->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->hdrs);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)CTL_CMD_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "orch-controller");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	a->easy = e;
	a->tries++;
	if (ctl_curl_add(c, e, alert_done, a) < 0) {
		a->easy = NULL;
		curl_slist_free_all(a->hdrs);
		a->hdrs = NULL;
		a->next_at = orch_mono_ms() + 1000;
	}
}

void
ctl_alert(struct ctl *c, const char *kind, const char *service, const char *node,
    const char *fmt, ...)
{
	struct ctl_alert *a, **pp;
	char msg[1024];
	json_t *j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("alert kind=%s service=%s node=%s: %s", kind, service ? service : "-",
	    node ? node : "-", msg);
	if (c->desired == NULL || c->desired->webhook == NULL)
		return;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatalx("out of memory");
	j = json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:s?, s:s?}", "kind", kind,
	    "service", service, "node", node, "message", msg,
	    "time", (json_int_t)orch_wall_ms(), "revision", c->desired_commit,
	    "architecture", c->desired->architecture);
	a->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if ((a->url = strdup(c->desired->webhook)) == NULL || a->body == NULL)
		fatalx("out of memory");
	for (pp = &c->alerts; *pp; pp = &(*pp)->next)
		;
	*pp = a;
	alert_send(c, a);
}

int64_t
ctl_alerts_tick(struct ctl *c, int64_t now)
{
	int64_t next = -1;

	for (struct ctl_alert *a = c->alerts; a; a = a->next) {
		if (a->easy != NULL)
			continue;
		if (a->next_at <= now)
			alert_send(c, a);
		else if (next < 0 || a->next_at < next)
			next = a->next_at;
	}
	return next;
}

void
ctl_alerts_free(struct ctl *c)
{
	while (c->alerts != NULL) {
		struct ctl_alert *a = c->alerts;

		c->alerts = a->next;
		alert_free(a);
	}
}
