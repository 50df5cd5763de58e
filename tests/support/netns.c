/* netns.c - network namespaces, veths, a bridge and nftables cuts, see netns.h. */
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "netns.h"
#include "run.h"

#define NETNS_CMD_WAIT 10000 /* one ip or nft command */
#define NETNS_TABLE "orchcut" /* our table, inside our own namespace */

static struct netns_net *live; /* what netns_destroy() still has to remove */
static pid_t live_owner;       /* the test program (not a forked child) */

int
netns_run(const char *ns, const char *const *argv, int64_t timeout_ms)
{
	const char *full[32];
	struct run_result r = {0};
	size_t n = 0;
	int rc;

	full[n++] = "ip";
	full[n++] = "netns";
	full[n++] = "exec";
	full[n++] = ns;
	for (size_t i = 0; argv[i] != NULL && n < 31; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	if ((rc = run_capture(&r, full, NULL, NULL, timeout_ms)) == 0 && r.status != 0)
		rc = orch_err_set(ORCH_ERROR, "in %s: %s: exit %d: %s", ns, argv[0], r.status,
		    r.err);
	run_result_free(&r);
	return rc;
}

/* Run "ip ARGS" with ARGS a printf format split at spaces (no argument
 * here ever holds one). */
static int
ip(const char *fmt, ...)
{
	char line[512], *argv[32], *save = NULL;
	struct run_result r = {0};
	size_t n = 0;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	argv[n++] = (char *)"ip";
	for (char *t = strtok_r(line, " ", &save); t != NULL && n < 31;
	    t = strtok_r(NULL, " ", &save))
		argv[n++] = t;
	argv[n] = NULL;
	if ((rc = run_capture(&r, (const char *const *)argv, NULL, NULL, NETNS_CMD_WAIT)) == 0 &&
	    r.status != 0)
		rc = orch_err_set(ORCH_ERROR, "ip %s: exit %d: %s", argv[1], r.status, r.err);
	run_result_free(&r);
	return rc;
}

int
netns_nft(const char *ns, const char *script)
{
	char path[] = "/tmp/orch-netns-nft-XXXXXX";
	const char *argv[] = {"nft", "-f", path, NULL};
	size_t len = strlen(script);
	int rc, fd = mkstemp(path);

	if (fd < 0)
		return orch_err_sys(ORCH_ERROR, "mkstemp");
	rc = write(fd, script, len) == (ssize_t)len ? 0 : orch_err_sys(ORCH_ERROR, "write %s", path);
	close(fd);
	if (rc == 0)
		rc = netns_run(ns, argv, NETNS_CMD_WAIT);
	unlink(path);
	return rc;
}

int
netns_enter(const char *name)
{
	char path[128];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return orch_err_sys(ORCH_ERROR, "open %s", path);
	if (setns(fd, CLONE_NEWNET) < 0)
		rc = orch_err_sys(ORCH_ERROR, "setns %s", name);
	close(fd);
	return rc;
}

void
netns_destroy(struct netns_net *net)
{
	if (net == NULL)
		return;
	/* ip netns del unmounts the name; links die with the namespace. */
	for (size_t i = 0; i < net->n; i++)
		if (net->name[i][0] != '\0') {
			ip("netns del %s", net->name[i]);
			net->name[i][0] = '\0';
		}
	if (live == net)
		live = NULL;
	free(net);
}

/* exit() of the test program, after a REQUIRE or a CHECK failed too:
 * no namespace outlives the test (a forked child's exit() leaves its
 * parent's alone). */
static void
destroy_at_exit(void)
{
	if (getpid() == live_owner && live != NULL)
		netns_destroy(live);
}

/*
 * Connection tracking on in a namespace from its birth, before anything
 * there connects. The one-way cuts match on the direction conntrack gave
 * a connection; conntrack runs in a namespace only while a rule uses it,
 * and a connection it first meets mid-stream gets the direction of the
 * first packet it sees. Were the cut's own rules the first to switch it
 * on, a slave's keep-alive heartbeat connection with an answer in flight
 * would be recorded as opened by the controller, and its heartbeats
 * would pass a "slave -> controller" cut for as long as it lives: seen
 * under valgrind (a controller that answers slowly), where the node never
 * went Lost in test_fault_partition. This table only counts.
 */
#define NETNS_TRACK \
	"table inet orchtrack {\n" \
	"  chain pre { type filter hook prerouting priority -150; policy accept;\n" \
	"    ct state invalid counter\n  }\n" \
	"  chain out { type filter hook output priority -150; policy accept;\n" \
	"    ct state invalid counter\n  }\n" \
	"}\n"

/* Namespace i (1..) joined to the hub's bridge by a veth, its
 * connections tracked (NETNS_TRACK). */
static int
wire(struct netns_net *net, size_t i)
{
	const char *hub = net->name[0], *ns = net->name[i];
	int rc;

	if ((rc = ip("netns add %s", ns)) < 0 ||
	    (rc = ip("-n %s link set lo up", ns)) < 0 ||
	    (rc = ip("-n %s link add v%zu type veth peer name eth0 netns %s", hub, i, ns)) < 0 ||
	    (rc = ip("-n %s link set v%zu master br0 up", hub, i)) < 0 ||
	    (rc = ip("-n %s addr add %s/24 dev eth0", ns, net->addr[i])) < 0 ||
	    (rc = ip("-n %s link set eth0 up", ns)) < 0 ||
	    (rc = netns_nft(ns, NETNS_TRACK)) < 0)
		return rc;
	return 0;
}

int
netns_create(struct netns_net **out, size_t nothers)
{
	struct netns_net *net;
	int pid = (int)getpid(), a = 20 + pid % 200, b = pid / 200 % 250, rc;

	*out = NULL;
	if (nothers + 1 > NETNS_MAX)
		return orch_err_set(ORCH_EINVALID, "at most %d namespaces", NETNS_MAX);
	if (getuid() != 0)
		return orch_err_set(ORCH_EINVALID, "network namespaces need root");
	if ((net = calloc(1, sizeof(*net))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if (live_owner == 0) {
		live_owner = getpid();
		atexit(destroy_at_exit);
	}
	live = net;
	*out = net;
	net->n = nothers + 1;
	for (size_t i = 0; i < net->n; i++) {
		snprintf(net->name[i], sizeof(net->name[i]), "orch%d%c", pid,
		    i == 0 ? 'c' : (char)('a' + i - 1));
		snprintf(net->addr[i], sizeof(net->addr[i]), "10.%d.%d.%d", a, b,
		    i == 0 ? 1 : 10 + (int)i);
		/* A name left by an earlier program with our (reused) pid. */
		ip("netns del %s", net->name[i]);
	}
	if ((rc = ip("netns add %s", net->name[0])) < 0 ||
	    (rc = ip("-n %s link set lo up", net->name[0])) < 0 ||
	    (rc = ip("-n %s link add br0 type bridge", net->name[0])) < 0 ||
	    (rc = ip("-n %s addr add %s/24 dev br0", net->name[0], net->addr[0])) < 0 ||
	    (rc = ip("-n %s link set br0 up", net->name[0])) < 0)
		return rc;
	for (size_t i = 1; i < net->n; i++)
		if ((rc = wire(net, i)) < 0)
			return rc;
	return 0;
}

/* The rules of a cut, in namespace i's own table: input and output
 * chains, each dropping what how says about packets to/from the hub. */
static void
cut_rules(char *buf, size_t len, const char *peer, enum netns_cut how)
{
	const char *in = "", *out = "";

	switch (how) {
	case NETNS_CUT_BOTH: /* every packet */
		break;
	case NETNS_CUT_TO_HUB: /* connections we open: our packets and the answers */
		in = "ct direction reply ";
		out = "ct direction original ";
		break;
	case NETNS_CUT_FROM_HUB: /* connections the hub opens, both ways */
		in = "ct direction original ";
		out = "ct direction reply ";
		break;
	}
	snprintf(buf, len,
	    "add table inet " NETNS_TABLE "\n"
	    "delete table inet " NETNS_TABLE "\n"
	    "table inet " NETNS_TABLE " {\n"
	    "  chain in { type filter hook input priority 0; policy accept;\n"
	    "    ip saddr %s %sdrop\n"
	    "  }\n"
	    "  chain out { type filter hook output priority 0; policy accept;\n"
	    "    ip daddr %s %sdrop\n"
	    "  }\n"
	    "}\n", peer, in, peer, out);
}

int
netns_cut(struct netns_net *net, size_t i, enum netns_cut how)
{
	char script[1024];

	if (i == 0 || i >= net->n)
		return orch_err_set(ORCH_EINVALID, "no namespace %zu to cut", i);
	cut_rules(script, sizeof(script), net->addr[0], how);
	return netns_nft(net->name[i], script);
}

int
netns_heal(struct netns_net *net, size_t i)
{
	if (i == 0 || i >= net->n)
		return orch_err_set(ORCH_EINVALID, "no namespace %zu to heal", i);
	/* add first: deleting a table that is not there is an error. */
	return netns_nft(net->name[i],
	    "add table inet " NETNS_TABLE "\ndelete table inet " NETNS_TABLE "\n");
}
