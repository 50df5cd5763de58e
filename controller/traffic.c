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
 * Every call is bounded by HAPROXY_TIMEOUT_MS; the first error ends the
 * pass (a hung socket costs one bound, not one per service), is logged
 * when it differs from the last one, counted (orch_haproxy_errors_total)
 * and retried TRAFFIC_RETRY_MS later.
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

/* Remember and log an error once (the same failure every second would
 * fill the log); count every one. Returns rc. */
static int
fail(struct ctl *c, const char *service, int rc)
{
	c->haproxy_errors++;
	if (strcmp(c->traffic_err, orch_err_last()) != 0) {
		snprintf(c->traffic_err, sizeof(c->traffic_err), "%s", orch_err_last());
		log_warnx("service=%s haproxy: %s; retrying", service, c->traffic_err);
	}
	return rc;
}

/* Sync one service; *busy when a server is still draining. */
static int
sync_service(struct ctl *c, const char *name, const struct service_spec *sp,
    int64_t now, bool *busy)
{
	const char *sock = c->cfg.haproxy, *map = c->cfg.haproxy_map;
	const struct lifecycle_traffic *t;
	char col[2][HAPROXY_NAME_MAX], live[HAPROXY_NAME_MAX];
	struct haproxy_server *have[2] = {NULL, NULL};
	size_t nhave[2] = {0, 0}, nw = 0, cap = 0;
	bool *dropped[2] = {NULL, NULL};
	struct want *w = NULL;
	struct ctl_svc *svc = ctl_svc_find(c, name);
	int rc, li, n_new = 0, n_old = 0, wn, wo, target;

	if (svc == NULL)
		return 0;
	t = &svc->traffic;
	if ((rc = haproxy_backend_name(col[0], sizeof(col[0]), name, false)) < 0 ||
	    (rc = haproxy_backend_name(col[1], sizeof(col[1]), name, true)) < 0)
		return fail(c, name, rc);
	rc = haproxy_live_backend(live, sizeof(live), sock, map, name);
	if (rc == ORCH_ENOTFOUND)
		snprintf(live, sizeof(live), "%s", col[0]); /* the map's default */
	else if (rc < 0)
		return fail(c, name, rc);
	li = strcmp(live, col[1]) == 0 ? 1 : 0;
	for (int k = 0; k < 2; k++) {
		if ((rc = haproxy_servers(&have[k], &nhave[k], sock, col[k])) < 0) {
			rc = fail(c, name, rc);
			goto out;
		}
		if ((dropped[k] = calloc(nhave[k] + 1, sizeof(bool))) == NULL)
			fatalx("out of memory");
	}

	/* The servers wanted, with their weights and colours. */
	for (struct ctl_inst *i = c->insts; i; i = i->next)
		cap++;
	if ((w = calloc(cap + 1, sizeof(*w))) == NULL)
		fatalx("out of memory");
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		if (strcmp(i->service, name) != 0 || !serving(c, i, sp, &w[nw]))
			continue;
		if (t->mode == TRAFFIC_SPLIT && fp_is(i, t->new_fp))
			n_new++;
		else
			n_old++;
		nw++;
	}
	target = li;
	if (t->mode == TRAFFIC_SPLIT) {
		split(&wn, &wo, t->new_weight, n_new, n_old);
		for (size_t k = 0; k < nw; k++)
			w[k].weight = fp_is(w[k].i, t->new_fp) ? wn : wo;
	} else if (t->mode == TRAFFIC_ACTIVE) {
		/* The active set goes where most of it already is (the idle
		 * colour after it was pre-warmed there), the rest to the
		 * other colour. */
		int in[2] = {0, 0};

		for (size_t k = 0; k < nw; k++)
			for (int b = 0; b < 2; b++)
				if (fp_is(w[k].i, t->active_fp) &&
				    have_find(have[b], nhave[b], w[k].i->id) != NULL)
					in[b]++;
		if (in[1 - li] > in[li])
			target = 1 - li;
		for (size_t k = 0; k < nw; k++)
			w[k].colour = fp_is(w[k].i, t->active_fp) ? target : 1 - target;
	}
	for (size_t k = 0; k < nw; k++)
		if (t->mode != TRAFFIC_ACTIVE)
			w[k].colour = li;

	/* Add first, remove last: the backend never runs empty while a
	 * replacement is ready. */
	for (size_t k = 0; k < nw; k++) {
		const struct haproxy_server *s = have_find(have[w[k].colour],
		    nhave[w[k].colour], w[k].i->id);
		const char *b = col[w[k].colour];

		if (s != NULL && s->port == w[k].port && strcmp(s->addr, w[k].addr) == 0 &&
		    s->weight == w[k].weight && s->admin == HAPROXY_READY)
			continue;
		if (s != NULL && (s->port != w[k].port || strcmp(s->addr, w[k].addr) != 0) &&
		    (rc = haproxy_server_del(sock, b, s->name, 0)) < 0) {
			rc = fail(c, name, rc); /* still busy: next pass */
			goto out;
		}
		if ((rc = haproxy_server_add(sock, b, w[k].i->id, w[k].addr, w[k].port,
		    w[k].weight)) < 0) {
			rc = fail(c, name, rc);
			goto out;
		}
		c->haproxy_changes++;
		log_info("service=%s instance=%s haproxy: %s %s:%d weight %d in %s", name,
		    w[k].i->id, s ? "set" : "added", w[k].addr, w[k].port, w[k].weight, b);
	}
	if (t->mode == TRAFFIC_ACTIVE && target != li) {
		if ((rc = haproxy_switch(sock, map, name, col[target])) < 0) {
			rc = fail(c, name, rc);
			goto out;
		}
		c->haproxy_changes++;
		log_info("service=%s haproxy: switched %s -> %s", name, col[li], col[target]);
		li = target;
	}
	for (int b = 0; b < 2; b++)
		for (size_t k = 0; k < nhave[b]; k++) {
			const struct haproxy_server *s = &have[b][k];
			bool wanted = false;

			for (size_t j = 0; j < nw && !wanted; j++)
				wanted = w[j].colour == b && strcmp(w[j].i->id, s->name) == 0;
			if (wanted)
				continue;
			if (s->admin == HAPROXY_READY && s->sessions > 0) {
				/* Requests in flight finish; deleted once idle. */
				if ((rc = haproxy_server_drain(sock, col[b], s->name)) < 0) {
					rc = fail(c, name, rc);
					goto out;
				}
				c->haproxy_changes++;
				log_info("service=%s instance=%s haproxy: draining in %s", name,
				    s->name, col[b]);
				*busy = true;
				continue;
			}
			rc = haproxy_server_del(sock, col[b], s->name, 0);
			if (rc == ORCH_EEXISTS) {
				*busy = true; /* connections remain: next pass */
				continue;
			}
			if (rc < 0) {
				rc = fail(c, name, rc);
				goto out;
			}
			dropped[b][k] = true;
			c->haproxy_changes++;
			log_info("service=%s instance=%s haproxy: deleted from %s", name,
			    s->name, col[b]);
		}

	/* Held stops whose server is gone from both colours go out now. */
	for (struct ctl_inst *i = c->insts; i; i = i->next) {
		bool present = false;

		if (i->held_mono == 0 || strcmp(i->service, name) != 0)
			continue;
		for (int b = 0; b < 2; b++)
			for (size_t k = 0; k < nhave[b]; k++)
				if (!dropped[b][k] && strcmp(have[b][k].name, i->id) == 0)
					present = true;
		if (!present) {
			log_info("instance=%s service=%s drained in %lld ms; stopping", i->id,
			    name, (long long)(now - i->held_mono));
			i->held_mono = 0;
			if (ctl_slave_stop(c, i) < 0)
				log_warnx("instance=%s: %s", i->id, orch_err_last());
		} else
			*busy = true;
	}
	rc = 0;
out:
	for (int k = 0; k < 2; k++) {
		free(have[k]);
		free(dropped[k]);
	}
	free(w);
	return rc;
}

bool
ctl_traffic_hold(struct ctl *c, struct ctl_inst *i)
{
	const struct service_spec *sp;

	if (c->cfg.haproxy == NULL)
		return false;
	if ((sp = svc_spec(c, i->service)) == NULL || sp->nports == 0)
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
	bool busy = false, failed = false;

	if (c->cfg.haproxy == NULL || now < c->traffic_retry)
		return;
	for (struct ctl_svc *s = c->svcs; s && !failed; s = s->next) {
		const struct service_spec *sp = svc_spec(c, s->name);

		if (sp == NULL || sp->nports == 0)
			continue;
		if (sync_service(c, s->name, sp, now, &busy) < 0)
			failed = true;
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
	if (failed)
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
