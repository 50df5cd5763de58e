/*
 * slaves.c - commands to slaves: start (POST /v1/instances) and stop
 * (DELETE /v1/instances/ID), as libcurl-multi transfers in the loop.
 *
 * Commands are idempotent by instance id (docs/slave.md), so a command
 * whose answer was lost is simply sent again: transport errors and 5xx
 * answers retry with a doubling backoff (CTL_CMD_BACKOFF_MIN..MAX), each
 * attempt bounded by CTL_CMD_TIMEOUT_MS. An instance has at most one
 * command in flight; a stop queued behind a start waits for it, a stop
 * replaces a start that was not sent yet. Many instances (and so many
 * slaves) have commands in flight at once: one slow slave holds only its
 * own transfers. Each node has at most CTL_CMD_WINDOW commands handed to
 * curl; the rest wait here, so the per-attempt timeout counts only the
 * request itself, not a wait for a connection.
 *
 * A node whose commands get no answer CTL_UNREACHABLE_AFTER times in a
 * row is unreachable, although its heartbeats may still arrive (a link
 * cut one way): it takes no new placement, cattle whose start was never
 * delivered there are failed so that the planner places them elsewhere,
 * and a GET /healthz every CTL_PROBE_MS (or any command answered) says
 * when it is back. Pets wait: their home is that node.
 *
 * An instance record points to its first command (i->cmd, the one that
 * may be on the wire); a command queued behind it hangs off that one
 * (->behind). A command whose record was dropped is an orphan: no longer
 * linked to any record, freed when its transfer ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "evloop.h"
#include "log.h"
#include "units.h"

enum cmd_op { CMD_START, CMD_STOP };

struct ctl_cmd {
	struct ctl_cmd *next, *prev; /* c->cmds, queue order */
	struct ctl_inst *inst;    /* its record; NULL once orphan */
	struct ctl_cmd *behind;   /* the command queued after this one for inst */
	struct ctl_node *n;       /* its node once found (nodes live until exit) */
	enum cmd_op op;
	char *id;                 /* instance id */
	char *node;
	char *body;               /* start request; NULL for stop */
	CURL *easy;               /* in flight, or NULL */
	struct curl_slist *hdrs;
	char *resp;
	size_t resp_len;
	int tries;
	int64_t next_at;          /* mono ms */
	int64_t backoff;
	bool orphan;              /* its instance record was dropped */
};

static void
cmd_free(struct ctl_cmd *m)
{
	free(m->id);
	free(m->node);
	free(m->body);
	curl_slist_free_all(m->hdrs);
	free(m->resp);
	free(m);
}

static void
cmd_unlink(struct ctl *c, struct ctl_cmd *m)
{
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		c->cmds = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	else
		c->cmds_tail = m->prev;
	m->next = m->prev = NULL;
}

/* m, the first command of its record, is done with it: the one behind
 * (if any) comes first now. */
static void
cmd_detach(struct ctl_cmd *m)
{
	if (m->inst != NULL && m->inst->cmd == m)
		m->inst->cmd = m->behind;
	m->inst = NULL;
	m->behind = NULL;
}

static int
queue(struct ctl *c, struct ctl_inst *i, enum cmd_op op)
{
	struct ctl_cmd *m, *last;

	if (i->node == NULL)
		return orch_err_set(ORCH_EINVALID, "instance %s has no node", i->id);
	last = i->cmd != NULL && i->cmd->behind != NULL ? i->cmd->behind : i->cmd;
	if (last != NULL && last->op == op)
		return 0;
	if (last != NULL && last->easy == NULL) {
		/* Not sent yet: the newer wish replaces it. */
		last->op = op;
		free(last->body);
		last->body = op == CMD_START ? json_dumps(i->spec, JSON_COMPACT) : NULL;
		return 0;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatalx("out of memory");
	m->op = op;
	m->id = strdup(i->id);
	m->node = strdup(i->node);
	if (op == CMD_START && (m->body = json_dumps(i->spec, JSON_COMPACT)) == NULL)
		fatalx("out of memory");
	if (m->id == NULL || m->node == NULL)
		fatalx("out of memory");
	m->inst = i;
	if (last == NULL)
		i->cmd = m;
	else
		last->behind = m; /* last is i->cmd, on the wire */
	m->prev = c->cmds_tail;
	if (c->cmds_tail != NULL)
		c->cmds_tail->next = m;
	else
		c->cmds = m;
	c->cmds_tail = m;
	i->in_flight = true;
	return 0;
}

int
ctl_slave_start(struct ctl *c, struct ctl_inst *i)
{
	if (i->spec == NULL)
		return orch_err_set(ORCH_EINVALID, "instance %s has no spec", i->id);
	return queue(c, i, CMD_START);
}

int
ctl_slave_stop(struct ctl *c, struct ctl_inst *i)
{
	return queue(c, i, CMD_STOP);
}

void
ctl_slaves_forget(struct ctl *c, struct ctl_inst *i)
{
	struct ctl_cmd *m, *next;

	for (m = i->cmd; m; m = next) {
		next = m->behind;
		m->inst = NULL;
		m->behind = NULL;
		if (m->easy != NULL) {
			m->orphan = true;
			continue;
		}
		cmd_unlink(c, m);
		cmd_free(m);
	}
	i->cmd = NULL;
	i->in_flight = false;
}

static size_t
collect(char *ptr, size_t size, size_t n, void *arg)
{
	struct ctl_cmd *m = arg;
	size_t len = size * n;
	char *p;

	if (m->resp_len + len > CTL_MAX_BODY)
		return 0;
	if ((p = realloc(m->resp, m->resp_len + len + 1)) == NULL)
		return 0;
	m->resp = p;
	memcpy(m->resp + m->resp_len, ptr, len);
	m->resp_len += len;
	m->resp[m->resp_len] = '\0';
	return len;
}

static void
retry_later(struct ctl_cmd *m)
{
	m->backoff = m->backoff == 0 ? CTL_CMD_BACKOFF_MIN : m->backoff * 2;
	if (m->backoff > CTL_CMD_BACKOFF_MAX)
		m->backoff = CTL_CMD_BACKOFF_MAX;
	m->next_at = orch_mono_ms() + m->backoff;
}

/* Apply a 2xx answer that carries the instance's status. */
static void
take_status(struct ctl *c, struct ctl_inst *i, const char *text)
{
	struct instance_status *st = NULL;
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	if (j != NULL && proto_status_decode(&st, j) == 0) {
		/* Stamped by the slave: an event it sent after this status
		 * (the process already died) may have come first. */
		if (st->changed_at > 0 && st->changed_at < i->obs_wall && i->obs_stamped) {
			instance_status_free(st);
			json_decref(j);
			return;
		}
		i->obs_wall = st->changed_at > 0 ? st->changed_at : orch_wall_ms();
		i->obs_stamped = st->changed_at > 0;
		ctl_inst_observe(c, i, st);
		instance_status_free(st);
	}
	json_decref(j);
}

enum node_state
ctl_node_sched_state(const struct ctl_node *n)
{
	return n->state == NODE_READY && (n->unreachable || n->state_error != NULL) ?
	    NODE_SUSPECT : n->state;
}

/* Cattle on n whose start never got an answer: fail them, so that the
 * planner starts replacements on reachable nodes (and stops these, which
 * is delivered, or found already gone, once the link is back). */
static void
fail_undelivered(struct ctl *c, struct ctl_node *n)
{
	char why[300];

	snprintf(why, sizeof(why), "start not delivered: node %s unreachable", n->name);
	for (struct ctl_inst *i = n->placed, *nx; i; i = nx) {
		nx = i->on_next;
		if (i->kind == KIND_CATTLE && !i->started && !i->gone &&
		    i->state == INSTANCE_PROVISION)
			ctl_inst_set_state(c, i, INSTANCE_FAILED, why);
	}
}

/* What a command or probe to n came to: answered (any HTTP status: the
 * slave is there) or not, with why. Marks n unreachable or back. */
static void
node_link(struct ctl *c, struct ctl_node *n, bool answered, const char *why)
{
	char cause[400];

	if (answered) {
		n->cmd_streak = 0;
		if (!n->unreachable)
			return;
		n->unreachable = false;
		free(n->unreachable_why);
		n->unreachable_why = NULL;
		log_info("node=%s reachable again", n->name);
		ctl_node_event(c, n->name, NULL, NULL, "reachable again: commands get through");
		ctl_kick(c);
		return;
	}
	if (++n->cmd_streak < CTL_UNREACHABLE_AFTER || n->unreachable)
		return;
	snprintf(cause, sizeof(cause), "unreachable: %d commands in a row failed (%s);"
	    " no new placements, undelivered cattle go elsewhere", n->cmd_streak, why);
	n->unreachable = true;
	free(n->unreachable_why);
	n->unreachable_why = strdup(cause);
	n->probe_at = orch_mono_ms() + CTL_PROBE_MS;
	log_warnx("node=%s %s", n->name, cause);
	ctl_node_event(c, n->name, NULL, NULL, cause);
	fail_undelivered(c, n);
	ctl_kick(c);
}

static void
probe_done(struct ctl *c, void *arg, CURL *easy, CURLcode res)
{
	struct ctl_node *n = arg;
	long code = 0;

	n->probing = false;
	if (res == CURLE_ABORTED_BY_CALLBACK)
		return;
	if (res == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	n->probe_at = orch_mono_ms() + CTL_PROBE_MS;
	node_link(c, n, code > 0, curl_easy_strerror(res));
}

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* GET /healthz on an unreachable node when due; the next due time. */
static int64_t
probe_tick(struct ctl *c, int64_t now)
{
	int64_t next = -1;

	for (struct ctl_node *n = c->nodes; n; n = n->next) {
		char url[1024];
		CURL *e;

		if (!n->unreachable || n->probing || n->address == NULL)
			continue;
		if (n->probe_at > now) {
			next = evloop_earliest(next, n->probe_at);
			continue;
		}
		n->probe_at = now + CTL_PROBE_MS;
		if ((e = curl_easy_init()) == NULL)
			continue;
		snprintf(url, sizeof(url), "%s://%s/healthz", tls_scheme(&c->tls), n->address);
		curl_easy_setopt(e, CURLOPT_URL, url);
		tls_curl_setup(e, &c->tls);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)CTL_PROBE_MS);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(e, CURLOPT_USERAGENT, "orch-controller");
		if (ctl_curl_add(c, e, probe_done, n) == 0)
			n->probing = true;
		next = evloop_earliest(next, n->probe_at);
	}
	return next;
}

static void
cmd_done(struct ctl *c, void *arg, CURL *easy, CURLcode res)
{
	struct ctl_cmd *m = arg;
	struct ctl_node *n = m->n; /* set when it was sent */
	struct ctl_inst *i;
	long code = 0;
	bool finished = false;

	curl_slist_free_all(m->hdrs);
	m->hdrs = NULL;
	m->easy = NULL;
	if (m->n != NULL)
		m->n->cmds_in_flight--;
	if (res == CURLE_ABORTED_BY_CALLBACK)
		return; /* shutting down: ctl_slaves_free() frees it */
	if (res == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	i = m->orphan ? NULL : m->inst;
	if (n != NULL)
		node_link(c, n, code > 0, res != CURLE_OK ? curl_easy_strerror(res) : "no answer");
	if (res != CURLE_OK || code >= 500 || code == 0) {
		if (n != NULL)
			n->cmds_failed++;
		if (m->tries == 1 || m->backoff == CTL_CMD_BACKOFF_MAX)
			log_warnx("node=%s instance=%s %s failed (%s, status %ld); retrying",
			    m->node, m->id, m->op == CMD_START ? "start" : "stop",
			    res != CURLE_OK ? curl_easy_strerror(res) : "answered", code);
		if (i == NULL) {
			finished = true;
		} else
			retry_later(m);
	} else if (i == NULL) {
		finished = true;
	} else if (m->op == CMD_START) {
		finished = true;
		if (code == 200 || code == 201) {
			i->started = true;
			i->missing = 0;
			take_status(c, i, m->resp);
		} else {
			if (n != NULL)
				n->cmds_failed++;
			log_warnx("node=%s instance=%s start refused: %ld %s", m->node, m->id,
			    code, m->resp ? m->resp : "");
			ctl_inst_set_state(c, i, INSTANCE_FAILED, "the slave refused to start it");
		}
	} else {
		finished = true;
		if (code == 404) {
			/* Already gone: the stop is done. m is ours to free
			 * below, not ctl_slaves_forget()'s (via the drop). */
			cmd_detach(m);
			m->orphan = true;
			i->in_flight = false;
			ctl_inst_drop(c, i);
			i = NULL;
		} else if (code == 200 || code == 202) {
			take_status(c, i, m->resp);
		} else {
			if (n != NULL)
				n->cmds_failed++;
			log_warnx("node=%s instance=%s stop refused: %ld", m->node, m->id, code);
		}
	}
	free(m->resp);
	m->resp = NULL;
	m->resp_len = 0;
	if (finished) {
		cmd_unlink(c, m);
		cmd_detach(m);
		/* A command queued behind this one may exist. */
		if (i != NULL)
			i->in_flight = i->cmd != NULL;
		cmd_free(m);
		ctl_kick(c);
	}
}

static void
send_cmd(struct ctl *c, struct ctl_cmd *m, struct ctl_node *n)
{
	char url[1024], auth[1024];
	CURL *e;

	/* A controller with TLS talks TLS to every slave (mutual: its
	 * certificate is its credential there). */
	if (m->op == CMD_START)
		snprintf(url, sizeof(url), "%s://%s/v1/instances", tls_scheme(&c->tls),
		    n->address);
	else
		snprintf(url, sizeof(url), "%s://%s/v1/instances/%s", tls_scheme(&c->tls),
		    n->address, m->id);
	if ((e = curl_easy_init()) == NULL) {
		retry_later(m);
		return;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
	m->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	m->hdrs = curl_slist_append(m->hdrs, auth);
	curl_easy_setopt(e, CURLOPT_URL, url);
	tls_curl_setup(e, &c->tls);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, m->hdrs);
	if (m->op == CMD_START)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, m->body);
	else
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)CTL_CMD_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, m);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "orch-controller");
	m->easy = e;
	m->tries++;
	n->cmds_sent++;
	n->cmds_in_flight++;
	log_debug("node=%s instance=%s %s (try %d)", n->name, m->id,
	    m->op == CMD_START ? "start" : "stop", m->tries);
	if (ctl_curl_add(c, e, cmd_done, m) < 0) {
		n->cmds_in_flight--;
		m->easy = NULL;
		curl_slist_free_all(m->hdrs);
		m->hdrs = NULL;
		retry_later(m);
	}
}

int64_t
ctl_slaves_tick(struct ctl *c, int64_t now)
{
	int64_t next = probe_tick(c, now);

	for (struct ctl_cmd *m = c->cmds, *nx; m; m = nx) {
		struct ctl_node *n;

		nx = m->next;
		if (m->easy != NULL || m->orphan)
			continue;
		/* One command per instance on the wire, in queue order. */
		if (m->inst->cmd != m)
			continue;
		/* The store does not hold its record: it must not run
		 * (durable.c); ctl_store_tick kicks us once it does. */
		if (m->op == CMD_START && c->store_err != NULL)
			continue;
		if (m->next_at > now) {
			next = evloop_earliest(next, m->next_at);
			continue;
		}
		if (m->n == NULL)
			m->n = ctl_node_find(c, m->node);
		n = m->n;
		if (n == NULL || n->address == NULL) {
			m->next_at = now + CTL_CMD_BACKOFF_MAX;
			continue;
		}
		/* The node's window is full: wait here (its next answer
		 * ends a loop turn, and this runs again). */
		if (n->cmds_in_flight >= CTL_CMD_WINDOW)
			continue;
		send_cmd(c, m, n);
	}
	return next;
}

void
ctl_slaves_free(struct ctl *c)
{
	while (c->cmds != NULL) {
		struct ctl_cmd *m = c->cmds;

		c->cmds = m->next;
		if (m->inst != NULL && m->inst->cmd == m)
			m->inst->cmd = NULL;
		cmd_free(m);
	}
	c->cmds_tail = NULL;
}
