/*
 * test_fault_partition.c - the partition part of the fault suite (issue
 * 11): a real controller and two real slaves, each in its own network
 * namespace joined by veth to a bridge (tests/support/nscluster.h), a
 * pet (kv) and 3 cattle (httpapp). The pet's node is cut off from the
 * controller four ways in turn:
 *
 *   symmetric cut        nothing passes either way          node Lost
 *   slave -> controller  heartbeats lost, commands pass     node Lost
 *   controller -> slave  commands lost, heartbeats arrive   node unreachable
 *   SIGSTOP / SIGCONT    the slave frozen                   node Lost
 *
 * Each asserts, at every 20 ms sample of /proc, at most one copy of the
 * pet (procs.h: by environment; other namespaces' processes are visible);
 * during the fault, the cattle of the cut node replaced on the other one
 * and the pet neither moved nor started elsewhere (a pet waits: it is
 * never run twice, even across a partition); after the heal, convergence
 * within CL_WAIT to exactly 3 cattle and 1 pet, in the API and on the
 * host. It prints the figures (time to detect, to converge, most copies
 * of the pet, cattle at the end); docs/faults.md records a run.
 *
 * Root only (namespaces, nftables), as CI runs; every namespace, rule
 * and process is removed at the end, also when a check fails.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nscluster.h"
#include "procs.h"

/* A fault lasts at least this long after it is detected: time for a
 * wrong controller to start the pet elsewhere, as it would within a
 * resync (1 s); longer by the time factor of a slower run (valgrind). */
#define HOLD_MS 3000

enum fault { CUT_BOTH, CUT_TO_CTL, CUT_FROM_CTL, FREEZE };

struct figures {
	const char *name;
	long long detect_ms;   /* fault -> node Lost (or unreachable) */
	long long converge_ms; /* heal -> exactly the manifest again */
	int pet_most;          /* most copies of the pet at one sample */
	int samples;
	int cattle_end;        /* web processes on the host at the end */
	bool done;
};

static struct nscluster *nc;
static struct cluster *cl;
static struct figures figs[4];

static const char *
manifest(void)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
	    "architecture: partition\n"
	    "services:\n"
	    "  db:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--data\", \"${ORCH_DATA_DIR}\"]\n"
	    "    ports: [kv]\n"
	    "    health: {type: tcp, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 3\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms, unhealthy_threshold: 20}\n"
	    "    stop: {signal: TERM, timeout: 2s}\n",
	    cluster_app("kv"), cluster_app("httpapp"));
	return buf;
}

/* A field of /v1/nodes' entry for node (true/false fields as "true"). */
static bool
node_field_is(const char *node, const char *field, const char *want)
{
	json_t *j = cluster_get(cl, "/v1/nodes"), *n;
	bool eq = false;
	size_t k;

	json_array_foreach(json_object_get(j, "nodes"), k, n) {
		json_t *v = json_object_get(n, field);
		const char *s = json_is_boolean(v) ? (json_is_true(v) ? "true" : "false") :
		    json_string_value(v);

		if (strcmp(json_string_value(json_object_get(n, "name")), node) == 0)
			eq = s != NULL && strcmp(s, want) == 0;
	}
	json_decref(j);
	return eq;
}

/* Desired instances of service in state Run on node. */
static int
on_node(const char *service, const char *node)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *i;
	size_t k;
	int n = 0;

	json_array_foreach(json_object_get(j, "instances"), k, i) {
		const char *s = json_string_value(json_object_get(i, "service"));
		const char *nd = json_string_value(json_object_get(i, "node"));
		const char *st = json_string_value(json_object_get(i, "state"));

		if (s && strcmp(s, service) == 0 && nd && strcmp(nd, node) == 0 && st &&
		    strcmp(st, "Run") == 0 && json_is_true(json_object_get(i, "desired")))
			n++;
	}
	json_decref(j);
	return n;
}

static const char *
pet_node(void)
{
	static char buf[64];
	json_t *i = cluster_instance(cl, "db-0");
	const char *v = i ? json_string_value(json_object_get(i, "node")) : NULL;

	snprintf(buf, sizeof(buf), "%s", v ? v : "");
	json_decref(i);
	return buf;
}

/* Processes of service (NULL: db-0) on the host, under the test's dir. */
static int
copies(const char *service)
{
	return (int)procs_copies(NULL, 0, cl->dir, service ? NULL : "db-0", service);
}

/* Exactly the manifest: both nodes Ready and reachable, both services
 * Run, 3 cattle and 1 pet desired and running, and as many processes. */
static bool
converged(void)
{
	for (size_t i = 0; i < cl->nslaves; i++)
		if (!node_field_is(cl->slaves[i].name, "state", "Ready") ||
		    !node_field_is(cl->slaves[i].name, "reachable", "true"))
			return false;
	return cluster_service_is(cl, "db", "Run") && cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", NULL) == 3 && cluster_count(cl, "web", "Run") == 3 &&
	    cluster_count(cl, "db", NULL) == 1 && cluster_count(cl, "db", "Run") == 1 &&
	    copies("web") == 3 && copies(NULL) == 1;
}

static size_t
slave_index(const char *node)
{
	for (size_t i = 0; i < cl->nslaves; i++)
		if (strcmp(cl->slaves[i].name, node) == 0)
			return i;
	return 0;
}

/* Set the fault up (in_fault true) or lift it. */
static void
fault(enum fault f, size_t p, bool in_fault)
{
	static const enum netns_cut cuts[] = {
		[CUT_BOTH] = NETNS_CUT_BOTH,
		[CUT_TO_CTL] = NETNS_CUT_TO_HUB,
		[CUT_FROM_CTL] = NETNS_CUT_FROM_HUB,
	};

	if (f == FREEZE)
		REQUIRE(kill(cl->slaves[p].d->pid, in_fault ? SIGSTOP : SIGCONT) == 0);
	else if (in_fault)
		REQUIRE(netns_cut(nc->net, p + 1, cuts[f]) == 0);
	else
		REQUIRE(netns_heal(nc->net, p + 1) == 0);
}

/* Cattle beside the pet, so that the fault has some to replace: drain
 * the other node (its cattle move to the pet's) and lift the drain. */
static void
cattle_beside_pet(size_t p, size_t q)
{
	char path[256];
	json_t *j;
	long st;

	if (on_node("web", cl->slaves[p].name) > 0)
		return;
	snprintf(path, sizeof(path), "/v1/nodes/%s/drain", cl->slaves[q].name);
	j = cluster_call(cl, &st, "POST", path, NULL);
	json_decref(j);
	REQUIRE(st == 200);
	REQUIRE(WAIT_FOR(on_node("web", cl->slaves[p].name) == 3, CL_WAIT));
	j = cluster_call(cl, &st, "POST", path, "{\"drain\": false}");
	json_decref(j);
	REQUIRE(st == 200);
	REQUIRE(WAIT_FOR(converged(), CL_WAIT));
}

/* Whether the test, in the controller's namespace with its address,
 * gets an answer from slave p's API: the shape of the cut. */
static bool
slave_answers(size_t p)
{
	char url[256];
	struct http_result r;
	bool ok;

	snprintf(url, sizeof(url), "%s/healthz", cl->slaves[p].url);
	ok = http_request(&r, "GET", url, NULL, NULL, 0, 2000) == 0 && r.status == 200;
	http_result_free(&r);
	return ok;
}

/* What the cut namespace's connection tracking holds: when a cut does
 * not cut, the direction conntrack gave each connection says why. */
static void
dump_conntrack(size_t p)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns exec %s cat /proc/net/nf_conntrack | sed 's/^/#   /'",
	    nc->net->name[p + 1]);
	printf("# conntrack in %s:\n", nc->net->name[p + 1]);
	fflush(stdout);
	if (system(cmd) != 0)
		printf("#   (none)\n");
}

/* Kill -9 one web process of node p; whether one was there. */
static bool
kill_one_cattle(size_t p)
{
	pid_t pids[8];

	if (procs_copies(pids, 8, cl->slaves[p].data_dir, NULL, "web") == 0)
		return false;
	return kill(pids[0], SIGKILL) == 0;
}

static void
scenario(struct figures *fg, enum fault f)
{
	struct procs_sampler *s = NULL;
	char node[64], other[64];
	int64_t t0;
	size_t p, q;
	int before;

	REQUIRE(cl != NULL && WAIT_FOR(converged(), CL_WAIT));
	snprintf(node, sizeof(node), "%s", pet_node());
	REQUIRE(node[0] != '\0');
	p = slave_index(node);
	q = p == 0 ? 1 : 0;
	snprintf(other, sizeof(other), "%s", cl->slaves[q].name);
	cattle_beside_pet(p, q);
	before = on_node("web", node);
	REQUIRE(procs_sampler_start(&s, cl->dir, "db-0") == 0);

	t0 = orch_mono_ms();
	fault(f, p, true);
	if (f == CUT_FROM_CTL) {
		/* Heartbeats still arrive: the node stays Ready, and nothing
		 * needs replacing until a cattle dies. Its replacement must
		 * not wait for the node: commands to it fail, and it turns
		 * unreachable for placement. */
		CHECK(kill_one_cattle(p));
		/* Three commands in a row without an answer, each up to
		 * its timeout, however the controller spaces them. */
		CHECK(WAIT_FOR(node_field_is(node, "reachable", "false"), 2 * CL_WAIT));
		fg->detect_ms = orch_mono_ms() - t0;
		CHECK(node_field_is(node, "state", "Ready"));
		CHECK(WAIT_FOR(cluster_count(cl, "web", "Run") == 3 && on_node("web", other) >= 1,
		    CL_WAIT));
	} else {
		CHECK(WAIT_FOR(cluster_node_is(cl, node, "Lost"), CL_WAIT));
		fg->detect_ms = orch_mono_ms() - t0;
		if (!cluster_node_is(cl, node, "Lost"))
			dump_conntrack(p);
		/* Every cattle of the lost node replaced on the other. */
		CHECK(WAIT_FOR(on_node("web", other) == 3 && cluster_count(cl, "web", "Run") == 3,
		    CL_WAIT));
	}
	/* The fault is the one named: connections from the controller's
	 * side pass only in a cut of the slave's own connections (a frozen
	 * slave's kernel still accepts them, but nothing answers). */
	CHECK(slave_answers(p) == (f == CUT_TO_CTL));
	/* The pet waits for its node: same id, same node, not on the other. */
	usleep((useconds_t)(HOLD_MS * test_time_factor() * 1000));
	CHECK_STR(cluster_ids(cl, "db"), "db-0");
	CHECK_STR(pet_node(), node);
	CHECK_EQ_INT(on_node("db", other), 0);
	CHECK_EQ_INT(copies(NULL), 1);

	t0 = orch_mono_ms();
	fault(f, p, false);
	CHECK(WAIT_FOR(converged(), CL_WAIT));
	fg->converge_ms = orch_mono_ms() - t0;
	CHECK_STR(pet_node(), node);
	fg->samples = procs_sampler_samples(s);
	fg->pet_most = procs_sampler_stop(s);
	fg->cattle_end = copies("web");
	fg->done = true;
	CHECK(fg->samples > 0);
	CHECK(fg->pet_most <= 1);
	CHECK_EQ_INT(fg->cattle_end, 3);
	printf("# %s: %d cattle beside the pet; detected in %lld ms, converged %lld ms after the "
	    "heal; pet copies at most %d in %d samples; %d cattle at the end\n",
	    fg->name, before, fg->detect_ms, fg->converge_ms, fg->pet_most, fg->samples,
	    fg->cattle_end);
}

TEST(partition__deploy)
{
	if (getuid() != 0)
		printf("# test_fault_partition needs root: network namespaces and nftables\n");
	REQUIRE(getuid() == 0);
	REQUIRE(nscluster_start(&nc, 2) == 0);
	cl = nc->cl;
	REQUIRE(cluster_commit(cl, manifest(), NULL) == 0);
	CHECK_EQ_INT(cluster_apply(cl, NULL), 200);
	CHECK(WAIT_FOR(converged(), CL_WAIT));
}

TEST(partition__symmetric_cut)
{
	figs[0].name = "symmetric cut";
	scenario(&figs[0], CUT_BOTH);
}

TEST(partition__cut_slave_to_controller)
{
	figs[1].name = "cut slave -> controller";
	scenario(&figs[1], CUT_TO_CTL);
}

TEST(partition__cut_controller_to_slave)
{
	figs[2].name = "cut controller -> slave";
	scenario(&figs[2], CUT_FROM_CTL);
}

TEST(partition__sigstop_sigcont)
{
	figs[3].name = "SIGSTOP/SIGCONT of the slave";
	scenario(&figs[3], FREEZE);
}

TEST(partition__finish)
{
	REQUIRE(cl != NULL);
	printf("# | fault | detected (ms) | converged after heal (ms) | most pet copies | "
	    "cattle at end |\n");
	for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++)
		if (figs[i].done)
			printf("# | %s | %lld | %lld | %d | %d |\n", figs[i].name, figs[i].detect_ms,
			    figs[i].converge_ms, figs[i].pet_most, figs[i].cattle_end);
	/* Exit 0: under ASan, no leak in the controller either. */
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	nscluster_free(nc);
	nc = NULL;
	cl = NULL;
}

CHECK_MAIN(partition__deploy, partition__symmetric_cut, partition__cut_slave_to_controller,
    partition__cut_controller_to_slave, partition__sigstop_sigcont, partition__finish)
