/*
 * test_lifecycle_place.c - lifecycle/place.c: feasibility (node state,
 * nodes:, cpu, memory), ranking (spread, free cpu, free memory, hash,
 * avoided nodes last) and the per-node reasons when nothing fits.
 */
#include "check.h"
#include "err.h"
#include "lifecycle.h"

#define M (1024ULL * 1024)

static struct manifest *
parse(const char *yaml)
{
	struct manifest *m = NULL;

	REQUIRE(manifest_parse(&m, NULL, yaml, strlen(yaml), "t.yaml") == 0);
	return m;
}

static const char svc_yaml[] =
    "architecture: t\n"
    "services:\n"
    "  web:\n"
    "    version: \"1.0.0\"\n"
    "    command: [\"web\"]\n"
    "    resources: {cpu: 0.5, memory: 256M}\n"
    "  pinned:\n"
    "    version: \"1.0.0\"\n"
    "    command: [\"p\"]\n"
    "    nodes: [b, c]\n";

TEST(lifecycle_place__rank)
{
	struct manifest *m = parse(svc_yaml);
	struct lifecycle_node n[3] = {
		{.name = "c", .state = NODE_READY, .cpu = 4, .memory = 4096 * M},
		{.name = "a", .state = NODE_READY, .cpu = 4, .memory = 4096 * M},
		{.name = "b", .state = NODE_READY, .cpu = 4, .memory = 4096 * M},
	};
	struct lifecycle_place_req r = {.spec = manifest_service(m, "web")};
	const char *peers[3] = {"a", "a", "c"};
	const char *avoid[1] = {"a"};
	char why[256];
	size_t at = 99;

	/* All equal: a fixed choice per service (a hash of service and
	 * node, not the first name: test_lifecycle_spread). */
	REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 3, &r) == 0);
	CHECK_STR(n[at].name, "b");
	CHECK_STR(why, "");
	/* Most free cpu first, then most free memory. */
	n[1].used_cpu = 1;
	REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 3, &r) == 0);
	CHECK_STR(n[at].name, "b");
	n[2].used_memory = 1024 * M;
	REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 3, &r) == 0);
	CHECK_STR(n[at].name, "c");
	/* Spread beats free resources: b has none of this service. */
	r.peers = peers;
	r.npeers = 3;
	REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 3, &r) == 0);
	CHECK_STR(n[at].name, "b");
	/* Avoided nodes come last, but are used when nothing else fits. */
	n[1].used_cpu = 0;
	n[2].used_memory = 0;
	r.npeers = 0;
	r.avoid = avoid;
	r.navoid = 1;
	REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 3, &r) == 0);
	CHECK_STR(n[at].name, "b");
	n[0].state = NODE_DRAINING;
	n[2].state = NODE_SUSPECT;
	REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 3, &r) == 0);
	CHECK_STR(n[at].name, "a");
	manifest_free(m);
}

TEST(lifecycle_place__nothing_fits_says_why)
{
	struct manifest *m = parse(svc_yaml);
	struct lifecycle_node n[5] = {
		{.name = "a", .state = NODE_READY, .cpu = 1, .used_cpu = 0.75,
		 .memory = 4096 * M},
		{.name = "b", .state = NODE_READY, .cpu = 4, .memory = 1024 * M,
		 .used_memory = 900 * M},
		{.name = "c", .state = NODE_LOST, .cpu = 4, .memory = 4096 * M},
		{.name = "d", .state = NODE_DRAINING, .cpu = 4, .memory = 4096 * M},
		{.name = "e", .state = NODE_SUSPECT, .cpu = 4, .memory = 4096 * M},
	};
	struct lifecycle_place_req r = {.spec = manifest_service(m, "web")};
	char why[256];
	size_t at = 99;

	CHECK_EQ_INT(lifecycle_place(&at, why, sizeof(why), n, 5, &r), ORCH_ENOTFOUND);
	CHECK_EQ_INT(at, 99);
	CHECK_STR(why, "no node fits: a lacks 0.25 cpu, b lacks 132M memory, "
	    "c is Lost, d is Draining, e is Suspect");
	CHECK_CONTAINS(orch_err_last(), "web: no node fits: a lacks");

	/* nodes: restricts; capacity 0 means not declared. */
	r.spec = manifest_service(m, "pinned");
	n[0].cpu = 0;
	n[1].state = NODE_SUSPECT;
	CHECK_EQ_INT(lifecycle_place(&at, why, sizeof(why), n, 5, &r), ORCH_ENOTFOUND);
	CHECK_STR(why, "no node fits: a not in nodes:, b is Suspect, c is Lost, "
	    "d is Draining, e is Suspect");
	n[1].state = NODE_READY;
	REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 5, &r) == 0);
	CHECK_STR(n[at].name, "b");
	r.spec = manifest_service(m, "web");
	REQUIRE(lifecycle_place(&at, why, sizeof(why), n, 5, &r) == 0);
	CHECK_STR(n[at].name, "a");

	/* No nodes at all; and a small buffer is cut, not overrun. */
	CHECK_EQ_INT(lifecycle_place(&at, why, sizeof(why), n, 0, &r), ORCH_ENOTFOUND);
	CHECK_STR(why, "no node fits: no nodes registered");
	n[0].cpu = 1;
	CHECK_EQ_INT(lifecycle_place(&at, why, 20, n, 2, &r), ORCH_ENOTFOUND);
	CHECK_STR(why, "no node fits: a lac");
	manifest_free(m);
}

CHECK_MAIN(lifecycle_place__rank, lifecycle_place__nothing_fits_says_why)
