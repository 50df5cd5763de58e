/*
 * traffic.c - drive HAProxy from the plans (orch-controller --haproxy
 * SOCKET --haproxy-map FILE; docs/haproxy.md, "Controller integration").
 *
 * Level-triggered like the reconcile: each sync reads, per service that
 * has a port, its live colour (the map entry) and the servers of both of
 * its backends (haproxy_servers), works out the servers they should have
 * from the instances in Run and the plan's traffic (svc->traffic), and
 * sends only the differences. So a restarted controller or a restarted
 * HAProxy (which forgets dynamic servers and reloads the map file) is
 * made whole by the next sync, and a lost command by the one after.
 *
 *   TRAFFIC_ALL     every serving instance in the live colour, weight 100
 *   TRAFFIC_SPLIT   the same, weights from haproxy_split_weights so that
 *                   new_weight % goes to new_fp
 *   TRAFFIC_ACTIVE  the active_fp set in one colour, every other serving
 *                   instance in the other (pre-warmed); when the active
 *                   set is in the idle colour, one haproxy_switch
 *
 * A stop of an instance that may be a server is held (ctl_traffic_hold):
 * the sync drains its server, deletes it once its sessions are 0, and
 * only then sends the stop to the slave, or after TRAFFIC_HOLD_MAX_MS
 * whatever HAProxy says, so a stuck HAProxy never keeps an instance
 * forever.
 *
 * A held server that HAProxy keeps only for its idle connections (out of
 * balancing, no session) does not hold the stop: the stop goes as soon as
 * "show stat" says scur 0 after the drain, and the delete is retried.
 *
 * Every call is bounded by HAPROXY_TIMEOUT_MS. Each service is synced on
 * its own: an error of one service (its backend missing from haproxy.cfg,
 * a refused server) becomes its reason (svc->traffic_err, /v1/status),
 * one event and a count (orch_haproxy_service_errors_total), and the
 * other services are synced all the same. An error of HAProxy as a whole
 * (socket gone, no answer in time) ends the pass (a hung socket costs
 * one bound, not one per service), is logged when it differs from the
 * last one and retried TRAFFIC_RETRY_MS later. A service with route:
 * false (docs/manifest.md) is never a server and its stops are not held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "haproxy.h"
#include "log.h"
#include "units.h"

#define TRAFFIC_FULL 100         /* weight of a server that serves equally */
#define TRAFFIC_HOLD_MAX_MS 10000 /* a held stop goes out after this anyway */
#define TRAFFIC_BUSY_MS 50       /* next sync while servers drain */
#define TRAFFIC_IDLE_MS 1000     /* the level check when all is in place */
#define TRAFFIC_RETRY_MS 1000    /* after an error */

/* One server a backend should have. */
struct want {
	const struct ctl_inst *i;
	char addr[64];
	int port;
	int weight;
	int colour;      /* index into the service's two backends */
};

static const struct service_spec *
svc_spec(struct ctl *c, const char *name)
{
	const struct service_spec *sp = ctl_spec(c, name);

	if (sp == NULL && c->prev != NULL)
		sp = manifest_service(c->prev, name);
	return sp;
}

/* The host of a slave's "host:port" or "[v6]:port" address. */
static bool
addr_host(char *out, size_t len, const char *address)
{
	const char *colon;
	size_t n;

	if (address == NULL)
		return false;
	if (address[0] == '[') {
		const char *e = strchr(address, ']');

		if (e == NULL)
			return false;
		address++;
		n = (size_t)(e - address);
	} else {
		colon = strrchr(address, ':');
		n = colon ? (size_t)(colon - address) : strlen(address);
	}
	if (n == 0 || n >= len)
		return false;
	memcpy(out, address, n);
	out[n] = '\0';
	return true;
}

/* The port HAProxy sends the service's requests to: the first declared
 * port (ORCH_PORT), as the endpoints API shows it; 0 when unknown. */
static int
inst_port(const struct ctl_inst *i, const struct service_spec *sp)
{
	json_t *p = NULL;

	if (sp->nports > 0)
		p = json_object_get(i->ports, sp->ports[0]);
	if (p == NULL && json_object_size(i->ports) > 0)
		p = json_object_iter_value(json_object_iter(i->ports));
	return (int)json_integer_value(p);
}

/* An instance that takes requests: Run (its health check passes), not
 * being stopped, on a node that is not Lost, with a known address. */
static bool
serving(struct ctl *c, const struct ctl_inst *i, const struct service_spec *sp,
    struct want *w)
{
	struct ctl_node *n;

	if (i->gone || i->state != INSTANCE_RUN || i->node == NULL)
		return false;
	if ((n = ctl_node_find(c, i->node)) == NULL || n->state == NODE_LOST)
		return false;
	memset(w, 0, sizeof(*w));
	w->i = i;
	w->weight = TRAFFIC_FULL;
	return addr_host(w->addr, sizeof(w->addr), n->address) &&
	    (w->port = inst_port(i, sp)) > 0;
}

static bool
fp_is(const struct ctl_inst *i, const char *fp)
{
	return i->fingerprint != NULL && strcmp(i->fingerprint, fp) == 0;
}

static const struct haproxy_server *
have_find(const struct haproxy_server *v, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (strcmp(v[k].name, name) == 0)
			return &v[k];
	return NULL;
}

/* Canary weights: new_weight % to the n_new servers, scaled so that the
 * heavier side stays near TRAFFIC_FULL. HAProxy's weighted round robin
 * moves to new weights gradually (servers keep their place), so the less
 * a weight changes, the sooner the share is the step's. */
static void
split(int *wn, int *wo, int pct, int n_new, int n_old)
{
	int k, top;

	*wn = *wo = TRAFFIC_FULL;
	if (n_new == 0 || n_old == 0)
		return;
	if (pct <= 0) {
		*wn = 0;
		return;
	}
	if (pct >= 100) {
		*wo = 0;
		return;
	}
	if (haproxy_split_weights(wn, wo, pct, n_new, n_old) < 0) {
		*wn = *wo = TRAFFIC_FULL;
		return;
	}
	top = *wn > *wo ? *wn : *wo;
	k = top > 0 ? TRAFFIC_FULL / top : 1;
	if (k > 1) {
		*wn *= k;
		*wo *= k;
	}
}

/* A failure that is HAProxy's as a whole (socket gone, no answer in
 * time): the pass ends, one bound spent, not one per service. Any other
 * error is the service's own (a missing backend, a refused server): the
 * other services are synced all the same. */
static bool
global_error(int rc)
{
	return rc == ORCH_EUNAVAIL || rc == ORCH_EAUTH;
}

/* Count every error; log a global one once (the same failure every
 * second would fill the log); make a service's own error its reason and
 * one event, until it is repaired. Returns rc. */
static int
fail(struct ctl *c, struct ctl_svc *svc, int rc)
{
	c->haproxy_errors++;
	svc->haproxy_errors++;
	if (global_error(rc)) {
		if (strcmp(c->traffic_err, orch_err_last()) != 0) {
			snprintf(c->traffic_err, sizeof(c->traffic_err), "%s",
			    orch_err_last());
			log_warnx("service=%s haproxy: %s; retrying", svc->name,
			    c->traffic_err);
		}
		return rc;
	}
	if (strcmp(svc->traffic_err, orch_err_last()) != 0) {
		snprintf(svc->traffic_err, sizeof(svc->traffic_err), "%s",
		    orch_err_last());
		log_warnx("service=%s %s; retrying", svc->name, svc->traffic_err);
		ctl_event(c, svc->name, NULL, NULL, NULL, svc->traffic_err);
	}
	return rc;
}

/* The service's sync went through: a reported error is over. */
static void
repaired(struct ctl *c, struct ctl_svc *svc)
{
	if (svc->traffic_err[0] == '\0')
		return;
	log_info("service=%s haproxy: routed again", svc->name);
	ctl_event(c, svc->name, NULL, NULL, NULL, "haproxy: routed again");
	svc->traffic_err[0] = '\0';
}

/* What one sync of a service works on. */
struct sync {
	struct ctl_svc *svc;
	const struct service_spec *sp;
	const char *sock, *map;
	char col[2][HAPROXY_NAME_MAX];
	struct haproxy_server *have[2];
	size_t nhave[2];
	bool *clear[2];   /* deleted, or drained with no session: not in the way */
	struct want *w;
	size_t nw;
	int live, target; /* colour indexes */
	bool *busy;
};

/* The live colour and both backends' servers. A missing backend is the
 * service's error (its message says what to do), the other colour is
 * still read so that held stops are judged on what HAProxy has. */
static int
sync_read(struct ctl *c, struct sync *y)
{
	char live[HAPROXY_NAME_MAX];
	int rc, missing = 0;

	for (int k = 0; k < 2; k++)
		if ((rc = haproxy_backend_name(y->col[k], sizeof(y->col[k]),
		    y->svc->name, k == 1)) < 0)
			return rc;
	rc = haproxy_live_backend(live, sizeof(live), y->sock, y->map, y->svc->name);
	if (rc == ORCH_ENOTFOUND)
		snprintf(live, sizeof(live), "%s", y->col[0]); /* the map's default */
	else if (rc < 0)
		return rc;
	y->live = y->target = strcmp(live, y->col[1]) == 0 ? 1 : 0;
	for (int k = 0; k < 2; k++) {
		rc = haproxy_servers(&y->have[k], &y->nhave[k], y->sock, y->col[k]);
		if (rc == ORCH_ENOTFOUND)
			missing |= 1 << k;
		else if (rc < 0)
			return rc;
		if ((y->clear[k] = calloc(y->nhave[k] + 1, sizeof(bool))) == NULL)
			fatalx("out of memory");
	}
	if (missing != 0)
		return orch_err_set(ORCH_ENOTFOUND, "haproxy has no backend %s: its "
		    "instances get no requests (add the service's backends to "
		    "haproxy.cfg, docs/haproxy.md, or set route: false)",
		    y->col[(missing & 1) ? 0 : 1]);
	return 0;
}

/* The servers wanted, with their weights and colours. */
static void
sync_want(struct ctl *c, struct sync *y)
{
	const struct lifecycle_traffic *t = &y->svc->traffic;
	size_t cap = 0;
	int n_new = 0, n_old = 0, wn, wo, in[2] = {0, 0}, others[2] = {0, 0};

	for (struct ctl_inst *i = c->insts; i; i = i->next)
		cap++;
	if ((y->w = calloc(cap + 1, sizeof(*y->w))) == NULL)
		fatalx("out of memory");
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		if (strcmp(i->service, y->svc->name) != 0 ||
		    !serving(c, i, y->sp, &y->w[y->nw]))
			continue;
		if (t->mode == TRAFFIC_SPLIT && fp_is(i, t->new_fp))
			n_new++;
		else
			n_old++;
		y->w[y->nw++].colour = y->live;
	}
	if (t->mode == TRAFFIC_SPLIT) {
		split(&wn, &wo, t->new_weight, n_new, n_old);
		for (size_t k = 0; k < y->nw; k++)
			y->w[k].weight = fp_is(y->w[k].i, t->new_fp) ? wn : wo;
	} else if (t->mode == TRAFFIC_ACTIVE) {
		/* The active set goes where most of it already is (the idle
		 * colour after it was pre-warmed there), the rest to the
		 * other colour. When none of it is in HAProxy yet (the whole
		 * new set turned serving in the pass that switches), it goes
		 * where the rest is not: into the idle colour, then the map
		 * flips, and the old set never moves out from under its
		 * requests. */
		for (size_t k = 0; k < y->nw; k++)
			for (int b = 0; b < 2; b++)
				if (have_find(y->have[b], y->nhave[b], y->w[k].i->id)) {
					if (fp_is(y->w[k].i, t->active_fp))
						in[b]++;
					else
						others[b]++;
				}
		if (in[1 - y->live] > in[y->live] || (in[1 - y->live] == in[y->live] &&
		    others[y->live] > others[1 - y->live]))
			y->target = 1 - y->live;
		for (size_t k = 0; k < y->nw; k++)
			y->w[k].colour = fp_is(y->w[k].i, t->active_fp) ? y->target :
			    1 - y->target;
	}
}

/* Add first, remove last: the backend never runs empty while a
 * replacement is ready. Then the blue-green flip, when it is due. */
static int
sync_add(struct ctl *c, struct sync *y)
{
	int rc;

	for (size_t k = 0; k < y->nw; k++) {
		const struct want *w = &y->w[k];
		const struct haproxy_server *s = have_find(y->have[w->colour],
		    y->nhave[w->colour], w->i->id);
		const char *b = y->col[w->colour];

		if (s != NULL && s->port == w->port && strcmp(s->addr, w->addr) == 0 &&
		    s->weight == w->weight && s->admin == HAPROXY_READY)
			continue;
		if (s != NULL && (s->port != w->port || strcmp(s->addr, w->addr) != 0) &&
		    (rc = haproxy_server_del(y->sock, b, s->name, 0)) < 0)
			return rc; /* still busy: next pass */
		if ((rc = haproxy_server_add(y->sock, b, w->i->id, w->addr, w->port,
		    w->weight)) < 0)
			return rc;
		c->haproxy_changes++;
		log_info("service=%s instance=%s haproxy: %s %s:%d weight %d in %s",
		    y->svc->name, w->i->id, s ? "set" : "added", w->addr, w->port,
		    w->weight, b);
	}
	if (y->svc->traffic.mode == TRAFFIC_ACTIVE && y->target != y->live) {
		if ((rc = haproxy_switch(y->sock, y->map, y->svc->name,
		    y->col[y->target])) < 0)
			return rc;
		c->haproxy_changes++;
		log_info("service=%s haproxy: switched %s -> %s", y->svc->name,
		    y->col[y->live], y->col[y->target]);
		y->live = y->target;
	}
	return 0;
}

/* Servers no instance wants: drained while requests are in flight, then
 * deleted. One that HAProxy keeps (idle connections still attached) but
 * that was out of balancing with no session when read is clear: its
 * instance may stop, the delete is retried on the next passes. */
static int
sync_remove(struct ctl *c, struct sync *y)
{
	int rc;

	for (int b = 0; b < 2; b++)
		for (size_t k = 0; k < y->nhave[b]; k++) {
			const struct haproxy_server *s = &y->have[b][k];
			bool wanted = false;

			for (size_t j = 0; j < y->nw && !wanted; j++)
				wanted = y->w[j].colour == b &&
				    strcmp(y->w[j].i->id, s->name) == 0;
			if (wanted)
				continue;
			if (s->admin == HAPROXY_READY && s->sessions > 0) {
				/* Requests in flight finish; deleted once idle. */
				if ((rc = haproxy_server_drain(y->sock, y->col[b],
				    s->name)) < 0)
					return rc;
				c->haproxy_changes++;
				log_info("service=%s instance=%s haproxy: draining in %s",
				    y->svc->name, s->name, y->col[b]);
				*y->busy = true;
				continue;
			}
			rc = haproxy_server_del(y->sock, y->col[b], s->name, 0);
			if (rc == ORCH_EEXISTS) {
				y->clear[b][k] = s->admin != HAPROXY_READY &&
				    s->sessions == 0;
				*y->busy = true; /* connections remain: next pass */
				continue;
			}
			if (rc < 0)
				return rc;
			y->clear[b][k] = true;
			c->haproxy_changes++;
			log_info("service=%s instance=%s haproxy: deleted from %s",
			    y->svc->name, s->name, y->col[b]);
		}
	return 0;
}

/* Held stops whose server is gone from both colours, or clear, go out. */
static void
sync_release(struct ctl *c, struct sync *y, int64_t now)
{
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		bool present = false;

		if (i->held_mono == 0 || strcmp(i->service, y->svc->name) != 0)
			continue;
		for (int b = 0; b < 2; b++)
			for (size_t k = 0; k < y->nhave[b]; k++)
				if (!y->clear[b][k] &&
				    strcmp(y->have[b][k].name, i->id) == 0)
					present = true;
		if (present) {
			*y->busy = true;
			continue;
		}
		log_info("instance=%s service=%s drained in %lld ms; stopping", i->id,
		    y->svc->name, (long long)(now - i->held_mono));
		i->held_mono = 0;
		if (ctl_slave_stop(c, i) < 0)
			log_warnx("instance=%s: %s", i->id, orch_err_last());
	}
}

/* Sync one service; *busy when a server is still draining. A global
 * error is returned as it is; the service's own errors are its reason. */
static int
sync_service(struct ctl *c, struct ctl_svc *svc, const struct service_spec *sp,
    int64_t now, bool *busy)
{
	struct sync y = {.svc = svc, .sp = sp, .sock = c->cfg.haproxy,
	    .map = c->cfg.haproxy_map, .busy = busy};
	int rc;

	rc = sync_read(c, &y);
	if (rc == 0) {
		sync_want(c, &y);
		if ((rc = sync_add(c, &y)) == 0)
			rc = sync_remove(c, &y);
	}
	/* Also after an error of its own: a held stop whose server HAProxy
	 * does not have (no backend at all) waits for nothing. */
	if (rc == 0 || (!global_error(rc) && y.clear[0] && y.clear[1]))
		sync_release(c, &y, now);
	if (rc < 0)
		fail(c, svc, rc);
	else
		repaired(c, svc);
	for (int k = 0; k < 2; k++) {
		free(y.have[k]);
		free(y.clear[k]);
	}
	free(y.w);
	return rc;
}

/* Services that HAProxy routes: a port, route not off. */
static const struct service_spec *
routed(struct ctl *c, const char *name)
{
	const struct service_spec *sp = svc_spec(c, name);

	return sp != NULL && sp->nports > 0 && sp->route ? sp : NULL;
}

bool
ctl_traffic_hold(struct ctl *c, struct ctl_inst *i)
{
	const struct service_spec *sp;

	if (c->cfg.haproxy == NULL)
		return false;
	if ((sp = routed(c, i->service)) == NULL)
		return false;
	if (i->held_mono == 0)
		i->held_mono = orch_mono_ms();
	c->traffic_next = 0;
	return true;
}

void
ctl_traffic_sync(struct ctl *c)
{
	int64_t now = orch_mono_ms();
	bool busy = false, failed = false, global = false;

	if (c->cfg.haproxy == NULL || now < c->traffic_retry)
		return;
	/* Each service on its own: one service's error (its backend
	 * missing) leaves the others routed. */
	for (struct ctl_svc *s = c->svcs; s && !global; s = s->next) {
		const struct service_spec *sp = routed(c, s->name);
		int rc;

		if (sp == NULL) {
			s->traffic_err[0] = '\0'; /* route: false, or no port now */
			continue;
		}
		if ((rc = sync_service(c, s, sp, now, &busy)) < 0) {
			failed = true;
			global = global_error(rc);
		}
	}
	/* Past the bound (HAProxy unreachable, a connection that never
	 * ends): the stop goes out anyway, HAProxy's retries cover it. */
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		if (i->held_mono == 0)
			continue;
		if (now - i->held_mono < TRAFFIC_HOLD_MAX_MS) {
			busy = true;
			continue;
		}
		log_warnx("instance=%s service=%s not drained after %d ms; stopping anyway",
		    i->id, i->service, TRAFFIC_HOLD_MAX_MS);
		i->held_mono = 0;
		if (ctl_slave_stop(c, i) < 0)
			log_warnx("instance=%s: %s", i->id, orch_err_last());
	}
	if (global)
		c->traffic_retry = now + TRAFFIC_RETRY_MS;
	else
		c->traffic_err[0] = '\0'; /* the next error is news */
	c->traffic_next = now + (failed ? TRAFFIC_RETRY_MS : busy ? TRAFFIC_BUSY_MS :
	    TRAFFIC_IDLE_MS);
}

int64_t
ctl_traffic_tick(struct ctl *c, int64_t now)
{
	if (c->cfg.haproxy == NULL)
		return -1;
	if (now >= c->traffic_next)
		ctl_traffic_sync(c);
	return c->traffic_next;
}
