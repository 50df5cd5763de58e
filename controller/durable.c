/*
 * durable.c - nothing acknowledged is lost when the store cannot be
 * written (a full disk, an I/O error).
 *
 * Every record change goes through a store batch (state.c). When a commit
 * fails the controller is *degraded*:
 * - it says so once in the log (then counts: /metrics
 *   orch_store_write_failures_total), in GET /v1/status ("store") and on
 *   the page, and as an event once the store takes writes again;
 * - an operator's write (apply, rollback, scale, steer, drain, restart,
 *   nodes rm) is refused with 507 before it changes anything, and a write
 *   whose own commit failed is answered 507 too, never 200;
 * - no start command leaves for a slave (slaves.c holds them): an
 *   instance whose record the store does not hold never runs, so a
 *   controller killed meanwhile never finds a process it does not know,
 *   and a cattle id is never given to two processes;
 * - the slaves' reports are still taken (what runs is observed), and
 *   stops still go out.
 * Once a second it writes every record in memory in one batch
 * (ctl_store_resave): when that commits, the store holds what memory
 * holds, the condition ends by itself, and the held starts go out.
 *
 * Not covered: a write whose probe commit succeeded and whose own commit
 * failed right after (the disk filled in between) is answered 507, but
 * its change stays in memory and is written by the catch-up: it takes
 * effect as if the operator had retried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "log.h"
#include "units.h"

#define STORE_RETRY_MS 1000

void
ctl_store_failed(struct ctl *c, const struct store_batch *b)
{
	size_t n;
	const struct store_op *op = store_batch_ops(b, &n);

	for (size_t k = 0; k < n; k++)
		if (op[k].kind == STORE_OP_EVENT)
			c->store_lost_events++;
	c->store_failures++;
	c->store_failures_total++;
	if (c->store_err == NULL) {
		log_warnx("store: %s; writes are refused (507) and no instance is started"
		    " until it can be written (retried every second, failures counted in"
		    " /metrics)", orch_err_last());
		c->store_err_since = orch_wall_ms();
		c->store_retry = orch_mono_ms() + STORE_RETRY_MS;
	}
	free(c->store_err);
	if ((c->store_err = strdup(orch_err_last())) == NULL)
		fatalx("out of memory");
}

int64_t
ctl_store_tick(struct ctl *c, int64_t now)
{
	char cause[512];

	if (c->store_err == NULL)
		return -1;
	if (now < c->store_retry)
		return c->store_retry;
	c->store_retry = now + STORE_RETRY_MS;
	if (ctl_store_resave(c) < 0)
		return c->store_retry;
	snprintf(cause, sizeof(cause), "the store takes writes again after %llu failed"
	    " (%s, since %lld); every record re-saved", (unsigned long long)c->store_failures,
	    c->store_err, (long long)c->store_err_since);
	log_info("store: %s", cause);
	free(c->store_err);
	c->store_err = NULL;
	c->store_failures = 0;
	ctl_event(c, NULL, NULL, NULL, NULL, cause);
	ctl_kick(c); /* the held starts go out */
	return -1;
}

/* The routes a slave reports on (its node's own: HTTPD_NODE_SELF) are
 * taken whatever the store does, since they only tell what runs. */
static bool
is_report(const struct httpd_route *r)
{
	return r->rule == HTTPD_NODE_SELF;
}

static bool
is_write(const struct httpd_req *req, const struct httpd_route *r)
{
	return strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0 &&
	    !is_report(r);
}

static void
refuse(struct httpd_resp *out, const struct ctl *c)
{
	httpd_reply_error(out, 507, "insufficient storage",
	    "the controller cannot write its store (%s): nothing was changed; retry once"
	    " it can", c->store_err ? c->store_err : "unknown");
}

/* Whether the store takes a write now: a small commit of its own, so
 * that a disk that just filled is found before the write changes
 * anything rather than after. */
static bool
store_probe(struct ctl *c)
{
	struct store_batch *b = store_batch_new();
	char now[32];
	int rc;

	snprintf(now, sizeof(now), "%lld", (long long)orch_wall_ms());
	store_batch_put(b, "meta/probe", now);
	if ((rc = store_commit(c->store, b, NULL)) < 0)
		ctl_store_failed(c, b);
	store_batch_free(b);
	return rc == 0;
}

bool
ctl_api_guard(struct httpd_resp *out, const struct httpd_req *req,
    const struct httpd_route *route, void *arg)
{
	struct ctl *c = arg;

	/* Events of this write say who made it (state.c); the rule let
	 * only an authenticated principal in. */
	c->actor[0] = '\0';
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0 &&
	    req->who != NULL && req->who->role != ORCH_ROLE_NONE)
		orch_principal_text(req->who, c->actor, sizeof(c->actor));
	if (!is_write(req, route))
		return true;
	if (c->store_err == NULL && store_probe(c))
		return true;
	c->actor[0] = '\0';
	refuse(out, c);
	return false;
}

void
ctl_api_after(struct httpd_resp *out, const struct httpd_req *req,
    const struct httpd_route *route, void *arg)
{
	struct ctl *c = arg;

	c->actor[0] = '\0';
	if (c->store_err == NULL || !is_write(req, route) || out->status >= 300)
		return;
	free(out->body);
	out->body = NULL;
	refuse(out, c);
}

json_t *
ctl_store_json(const struct ctl *c)
{
	return json_pack("{s:b, s:s?, s:o?, s:I, s:I}", "writable", c->store_err == NULL,
	    "error", c->store_err,
	    "since", c->store_err ? json_integer(c->store_err_since) : NULL,
	    "failed_writes", (json_int_t)c->store_failures,
	    "lost_events", (json_int_t)c->store_lost_events);
}
