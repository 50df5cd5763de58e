/*
 * hapfix.c - a real HAProxy for integration tests (hapfix.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "hapfix.h"
#include "haproxy.h"

const char *
hapfix_bin(void)
{
	static const char *const where[] = {"/usr/sbin/haproxy", "/usr/bin/haproxy",
	    "/usr/local/sbin/haproxy", "/usr/local/bin/haproxy"};

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* The socket answers a show servers state (of any backend name). */
static bool
answers(const struct hapfix *h)
{
	struct haproxy_server *v = NULL;
	size_t n = 0;
	int rc = haproxy_servers(&v, &n, h->sock, "orch_none_blue");

	free(v);
	return rc == 0 || rc == ORCH_ENOTFOUND;
}

int
hapfix_start(struct hapfix *h, const char *const *services, size_t n)
{
	struct haproxy_service svcs[HAPFIX_MAX];
	char *cfg = NULL, *mtext = NULL;
	int rc;

	memset(h, 0, sizeof(*h));
	if (n > HAPFIX_MAX || hapfix_bin() == NULL)
		return orch_err_set(ORCH_EINVALID, "hapfix: no haproxy or too many services");
	if ((rc = daemon_tmpdir(&h->dir, "hap")) < 0)
		return rc;
	snprintf(h->sock, sizeof(h->sock), "%s/admin.sock", h->dir);
	snprintf(h->map, sizeof(h->map), "%s/orch.map", h->dir);
	snprintf(h->cfg, sizeof(h->cfg), "%s/haproxy.cfg", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/haproxy.log", h->dir);
	for (size_t i = 0; i < n; i++) {
		if ((rc = daemon_free_port(&h->port[i])) < 0)
			return rc;
		svcs[i] = (struct haproxy_service){.name = services[i], .bind = "127.0.0.1",
		    .port = h->port[i]};
	}
	if ((rc = haproxy_config(&cfg, &mtext, h->sock, h->map, svcs, n)) < 0)
		return rc;
	if ((rc = write_file(h->cfg, cfg)) == 0 && (rc = write_file(h->map, mtext)) == 0)
		rc = daemon_start(&h->d, (const char *const[]){hapfix_bin(), "-db", "-f",
		    h->cfg, NULL}, h->dir, h->log);
	free(cfg);
	free(mtext);
	if (rc == 0 && !WAIT_FOR(answers(h), 5000))
		rc = orch_err_set(ORCH_EUNAVAIL, "haproxy did not come up");
	h->ctl_args[0] = "--haproxy";
	h->ctl_args[1] = h->sock;
	h->ctl_args[2] = "--haproxy-map";
	h->ctl_args[3] = h->map;
	h->ctl_args[4] = NULL;
	return rc;
}

void
hapfix_free(struct hapfix *h)
{
	daemon_free(h->d);
	h->d = NULL;
	if (h->dir != NULL)
		daemon_rmtree(h->dir);
	free(h->dir);
	h->dir = NULL;
}
