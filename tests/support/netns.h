/*
 * netns.h - a private network for one test program: network namespaces
 * it creates and owns, joined by veth pairs to a bridge, and nftables
 * cuts between them. Root only (CI runs as root).
 *
 *   struct netns_net *net;
 *   netns_create(&net, 2);             hub "orch<pid>c" + "orch<pid>a", "orch<pid>b"
 *   netns_enter(net->name[0]);         this thread now lives in the hub
 *   netns_cut(net, 1, NETNS_CUT_BOTH); slave a and the hub cannot talk
 *   netns_heal(net, 1);
 *   netns_destroy(net);                also run at exit(), whatever failed
 *
 * Namespace 0 is the hub: it holds the bridge br0 with address .1 of a
 * private /24, 10.(20 + pid % 200).(pid / 200 % 250).0/24; namespace i
 * (1..n) holds eth0, the far end of a veth whose near end is a port of
 * br0, with address .(10 + i). Loopback is up everywhere. Nothing is
 * created in, or routed to, the namespace the test started in: the
 * addresses are only ever used between the test's own namespaces, so
 * another program choosing the same /24 cannot meet ours.
 *
 * A thread enters a namespace with setns(2); a process it forks or a
 * socket it opens afterwards lives there too (only the network is
 * namespaced: /proc, the file system and signals are shared, so a test
 * still sees and signals every process).
 *
 * Functions return 0 or a negative ORCH_E* with orch_err_last() set.
 */
#ifndef ORCH_TEST_NETNS_H
#define ORCH_TEST_NETNS_H

#include <stddef.h>
#include <stdint.h>

#define NETNS_MAX 5 /* the hub and up to 4 others */

struct netns_net {
	size_t n;                   /* namespaces, hub included */
	char name[NETNS_MAX][32];   /* "orch<pid>c", "orch<pid>a", ... */
	char addr[NETNS_MAX][48];   /* "10.A.B.1", "10.A.B.11", ... */
};

/* Which packets a cut drops, seen from the cut namespace towards the hub.
 * The one-way cuts go by connection (conntrack), as a real one-way
 * failure does to TCP: every packet of a connection opened in the
 * dropped direction is lost, both ways, and connections opened the other
 * way pass untouched. Connection tracking is on in every namespace from
 * its creation, so that each connection's direction is that of its SYN
 * (netns.c, NETNS_TRACK). */
enum netns_cut {
	NETNS_CUT_BOTH,     /* nothing passes either way */
	NETNS_CUT_TO_HUB,   /* connections from the namespace to the hub */
	NETNS_CUT_FROM_HUB, /* connections from the hub to the namespace */
};

/* The hub and nothers namespaces, wired and up; teardown registered
 * with atexit() the first time. */
int netns_create(struct netns_net **out, size_t nothers);
/* Remove every namespace (and so its links and rules); idempotent.
 * Processes still running in one keep it alive, unnamed, until they
 * exit. Accepts NULL. */
void netns_destroy(struct netns_net *net);

/* Move the calling thread into namespace name. */
int netns_enter(const char *name);
/* Run argv inside namespace ns (ip netns exec) and wait at most
 * timeout_ms; 0 only when it exited 0 (its stderr is printed otherwise). */
int netns_run(const char *ns, const char *const *argv, int64_t timeout_ms);
/* Load an nftables script inside namespace ns. */
int netns_nft(const char *ns, const char *script);

/* Cut namespace i (1..n-1) from the hub as how says (replacing any cut
 * already there); netns_heal lifts it (nothing to lift is fine). */
int netns_cut(struct netns_net *net, size_t i, enum netns_cut how);
int netns_heal(struct netns_net *net, size_t i);

#endif
