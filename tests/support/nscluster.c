/* nscluster.c - the cluster fixture in network namespaces, see nscluster.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "nscluster.h"

static struct nscluster *live; /* started and not yet freed */
static pid_t live_owner;

static bool
answers(const char *url)
{
	struct http_result r;
	bool ok;

	ok = http_request(&r, "GET", url, NULL, NULL, 0, 2000) == 0 && r.status == 200;
	http_result_free(&r);
	return ok;
}

/* The controller, started from this thread, which is in the hub. */
static int
ctl_start(struct nscluster *nc)
{
	struct cluster *cl = nc->cl;
	char *bin = daemon_binary("controller/orch-controller");
	char listen[64], status[192];
	const char *argv[] = {bin, "--repo", gitrepo_path(cl->repo), "--data-dir", cl->ctl_data,
	    "--listen", listen, "--token-file", cl->token_file, "--node-suspect", "1s",
	    "--node-lost", "3s", "--resync", "1s", NULL};
	int rc;

	snprintf(listen, sizeof(listen), "%s:%d", nc->net->addr[0], cl->ctl_port);
	rc = daemon_start(&cl->ctl, argv, cl->dir, cl->ctl_log);
	free(bin);
	if (rc < 0)
		return rc;
	/* Public: reads need a credential (issue 12). */
	snprintf(status, sizeof(status), "%s/healthz", cl->url);
	if (!WAIT_FOR(answers(status) || !daemon_running(cl->ctl), CL_WAIT) ||
	    !daemon_running(cl->ctl))
		return orch_err_set(ORCH_ERROR, "controller did not answer /healthz");
	return 0;
}

int
nscluster_slave_start(struct nscluster *nc, size_t i)
{
	struct cluster *cl = nc->cl;
	struct cluster_slave *s = &cl->slaves[i];
	char *bin = daemon_binary("slave/orch-slave");
	char listen[64], range[64], health[192];
	const char *argv[] = {bin, "--name", s->name, "--controller", cl->url, "--listen",
	    listen, "--advertise", listen, "--data-dir", s->data_dir, "--token-file",
	    cl->token_file, "--heartbeat", "300ms", "--port-range", range, NULL};
	int rc;

	snprintf(listen, sizeof(listen), "%s:%d", nc->net->addr[i + 1], s->port);
	snprintf(range, sizeof(range), "%d-%d", s->port_lo, s->port_lo + 199);
	daemon_free(s->d);
	s->d = NULL;
	/* The child is forked from this thread: it is born in the slave's
	 * namespace; the thread goes back to the hub at once. */
	if ((rc = netns_enter(nc->net->name[i + 1])) == 0) {
		rc = daemon_start(&s->d, argv, cl->dir, s->log);
		if (netns_enter(nc->net->name[0]) < 0) {
			fprintf(stderr, "nscluster: cannot go back to the hub: %s\n",
			    orch_err_last());
			abort();
		}
	}
	free(bin);
	if (rc < 0)
		return rc;
	snprintf(health, sizeof(health), "%s/healthz", s->url);
	if (!WAIT_FOR(answers(health), CL_WAIT))
		return orch_err_set(ORCH_ERROR, "slave %s did not answer /healthz", s->name);
	return 0;
}

void
nscluster_free(struct nscluster *nc)
{
	if (nc == NULL)
		return;
	if (live == nc)
		live = NULL;
	/* Healed first: cluster_free asks each slave to stop its instances. */
	for (size_t i = 1; nc->net != NULL && i < nc->net->n; i++)
		netns_heal(nc->net, i);
	cluster_free(nc->cl);
	netns_destroy(nc->net);
	free(nc);
}

/* exit() of the test program (not of a forked child). */
static void
free_at_exit(void)
{
	if (getpid() == live_owner && live != NULL) {
		printf("# nscluster: not freed by the test: freed at exit\n");
		nscluster_free(live);
	}
}

/* The fields cluster.h's functions and cluster_free() read. */
static int
fill(struct nscluster *nc, size_t nslaves)
{
	struct cluster *cl = nc->cl;
	int rc;

	cl->ctl_exit = -1;
	if ((rc = daemon_tmpdir(&cl->dir, "nscluster")) < 0 || (rc = gitrepo_create(&cl->repo)) < 0)
		return rc;
	snprintf(cl->token_file, sizeof(cl->token_file), "%s/token", cl->dir);
	snprintf(cl->ctl_data, sizeof(cl->ctl_data), "%s/controller", cl->dir);
	snprintf(cl->ctl_log, sizeof(cl->ctl_log), "%s/controller.log", cl->dir);
	cl->ctl_port = NSC_CTL_PORT;
	snprintf(cl->url, sizeof(cl->url), "http://%s:%d", nc->net->addr[0], NSC_CTL_PORT);
	for (size_t i = 0; i < nslaves; i++) {
		struct cluster_slave *s = &cl->slaves[i];
		char name[sizeof(s->name)];

		/* Unique on the host: cgroups (orch-NODE/ID) and instance
		 * environments are not namespaced. */
		snprintf(name, sizeof(name), "n%d-ns-%c", (int)getpid(), (char)('a' + i));
		memcpy(s->name, name, sizeof(name));
		snprintf(s->data_dir, sizeof(s->data_dir), "%s/%s", cl->dir, name);
		snprintf(s->log, sizeof(s->log), "%s/%s.log", cl->dir, name);
		s->port = NSC_SLAVE_PORT;
		s->port_lo = 40000; /* each slave has its namespace's ports */
		snprintf(s->url, sizeof(s->url), "http://%s:%d", nc->net->addr[i + 1], s->port);
	}
	return write_secret(cl->token_file, CL_TOKEN "\n");
}

int
nscluster_start(struct nscluster **out, size_t nslaves)
{
	struct nscluster *nc;
	int rc;

	*out = NULL;
	if (nslaves > CL_MAX_SLAVES || nslaves + 1 > NETNS_MAX)
		return orch_err_set(ORCH_EINVALID, "at most %d slaves", CL_MAX_SLAVES);
	if ((nc = calloc(1, sizeof(*nc))) == NULL || (nc->cl = calloc(1, sizeof(*nc->cl))) == NULL) {
		free(nc);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	*out = nc;
	/* The namespaces' own teardown is registered first, so it runs
	 * after ours (atexit runs in reverse). */
	if ((rc = netns_create(&nc->net, nslaves)) < 0)
		return rc;
	if (live_owner == 0) {
		live_owner = getpid();
		atexit(free_at_exit);
	}
	live = nc;
	if ((rc = fill(nc, nslaves)) < 0 || (rc = netns_enter(nc->net->name[0])) < 0 ||
	    (rc = ctl_start(nc)) < 0)
		return rc;
	for (size_t i = 0; i < nslaves; i++) {
		nc->cl->nslaves++;
		if ((rc = nscluster_slave_start(nc, i)) < 0)
			return rc;
	}
	for (size_t i = 0; i < nslaves; i++)
		if (!WAIT_FOR(cluster_node_is(nc->cl, nc->cl->slaves[i].name, "Ready"), CL_WAIT))
			return orch_err_set(ORCH_ERROR, "node %s never became Ready",
			    nc->cl->slaves[i].name);
	return 0;
}
