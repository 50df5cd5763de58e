/*
 * nscluster.h - the cluster fixture (cluster.h) with every daemon in its
 * own network namespace (netns.h), so that a test can cut the network
 * between the controller and one slave. Root only.
 *
 *   struct nscluster *nc;
 *   nscluster_start(&nc, 2);          hub ns: controller; ns a, b: slaves
 *   cluster_commit(nc->cl, yaml, NULL); cluster_apply(nc->cl, NULL); ...
 *   netns_cut(nc->net, 1, NETNS_CUT_BOTH);   slave 0 cut off
 *   nscluster_free(nc);                also at exit(), whatever failed
 *
 * The controller listens on the hub's bridge address (port 7000), slave i
 * on its own namespace's address (port 7001, advertised as such), with
 * the loopback fixture's short timeouts (suspect 1s, lost 3s, resync 1s;
 * heartbeat 300ms). nscluster_start() moves the calling thread into the
 * hub namespace for good: the test's HTTP calls (cluster_call and the
 * rest of cluster.h work on nc->cl) then reach the controller as any
 * client on that network would, and the namespace the test started in
 * is never touched. Threads the test starts afterwards live there too.
 */
#ifndef ORCH_TEST_NSCLUSTER_H
#define ORCH_TEST_NSCLUSTER_H

#include "cluster.h"
#include "netns.h"

#define NSC_CTL_PORT 7000
#define NSC_SLAVE_PORT 7001

struct nscluster {
	struct netns_net *net; /* [0] the controller's, [i + 1] slave i's */
	struct cluster *cl;    /* the daemons, the repo and the temp dir */
};

/* Namespaces, controller and nslaves slaves, every slave a Ready node. */
int nscluster_start(struct nscluster **out, size_t nslaves);
/* (Re)start slave i inside its namespace; waits for its /healthz. */
int nscluster_slave_start(struct nscluster *nc, size_t i);
/* Lift every cut, stop and remove everything (cluster_free, then the
 * namespaces). Accepts NULL. */
void nscluster_free(struct nscluster *nc);

#endif
