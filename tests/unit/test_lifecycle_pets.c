/*
 * test_lifecycle_pets.c - lifecycle/plan.c and policy.c for pets on
 * simulated clusters: stable ids and homes, a lost node (never a second
 * copy, the reason shown, one alert), the restart limit (service Failed,
 * a person's fix updates in place), updates in place one at a time,
 * scale in and out back onto the same homes, strays.
 */
#include "lifecycle_sim.h"

#define G (1024ULL * 1024 * 1024)

static const char pets_yaml[] =
    "architecture: t\n"
    "services:\n"
    "  db:\n"
    "    kind: pet\n"
    "    version: \"%s\"\n"
    "    command: [\"db\"]\n"
    "    replicas: %d\n"
    "    max: 5\n"
    "  web:\n"
    "    version: \"1.0.0\"\n"
    "    command: [\"web\"]\n"
    "    replicas: 2\n";

static struct manifest *
pets_manifest(const char *version, int replicas)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), pets_yaml, version, replicas);
	return sim_parse(yaml);
}

static struct sim *
pets_sim(const char *version, int replicas)
{
	struct sim *s = calloc(1, sizeof(*s));

	REQUIRE(s != NULL);
	s->now = 1000000;
	sim_apply(s, pets_manifest(version, replicas));
	sim_node(s, "node-a", 4, 8 * G);
	sim_node(s, "node-b", 4, 8 * G);
	sim_node(s, "node-c", 4, 8 * G);
	return s;
}

/* Node of instance id, or "" when it does not exist. */
static const char *
node_of(struct sim *s, const char *id)
{
	struct sim_inst *x = sim_find(s, id);

	return x ? x->node : "";
}

/* Live pets on node. */
static int
on_home_count(const struct sim *s, const char *node)
{
	int n = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++)
		if (s->inst[i].used && strcmp(s->inst[i].service, "db") == 0 &&
		    strcmp(s->inst[i].node, node) == 0 &&
		    s->inst[i].state != INSTANCE_DESTROY)
			n++;
	return n;
}

TEST(lifecycle_pets__stable_ids_and_homes)
{
	struct sim *s = pets_sim("1.0.0", 3);
	struct sim_svc *db = sim_svc(s, "db");

	sim_run(s, 30);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	CHECK(sim_find(s, "db-0") && sim_find(s, "db-1") && sim_find(s, "db-2"));
	/* Spread: three pets on three nodes, and those are their homes. */
	CHECK(strcmp(node_of(s, "db-0"), node_of(s, "db-1")) != 0);
	CHECK(strcmp(node_of(s, "db-1"), node_of(s, "db-2")) != 0);
	CHECK(strcmp(node_of(s, "db-0"), node_of(s, "db-2")) != 0);
	REQUIRE(db->memo.npets == 3);
	for (int i = 0; i < 3; i++) {
		char id[16];

		snprintf(id, sizeof(id), "db-%d", i);
		CHECK_EQ_INT(db->memo.pets[i].ordinal, i);
		CHECK_STR(db->memo.pets[i].node, node_of(s, id));
	}
	sim_free(s);
}

TEST(lifecycle_pets__lost_node_never_duplicates)
{
	struct sim *s = pets_sim("1.0.0", 1);
	struct sim_svc *db = sim_svc(s, "db"), *web = sim_svc(s, "web");
	char home[LIFECYCLE_NODE_MAX], want[256];
	int starts;

	sim_run(s, 30);
	snprintf(home, sizeof(home), "%s", node_of(s, "db-0"));
	REQUIRE(home[0] != '\0');
	starts = db->alerts;
	CHECK_EQ_INT(starts, 0);
	sim_node_state(s, home, NODE_LOST);
	sim_run(s, 30);
	sim_run(s, 30);
	/* Cattle went elsewhere; the pet waits where it is. */
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, NULL), 2);
	CHECK_EQ_INT(sim_count(s, "db", -1, NULL), 1);
	CHECK_STR(node_of(s, "db-0"), home);
	CHECK_EQ_INT(s->dup_pets, 0);
	CHECK_EQ_INT(s->lost_starts, 0);
	snprintf(want, sizeof(want), "pet db-0 is on Lost node %s: not started "
	    "elsewhere", home);
	CHECK_STR(db->reason, want);
	CHECK_EQ_INT(db->state, SERVICE_READY);
	CHECK_EQ_INT(db->alerts, 1);
	CHECK_STR(db->last_alert, "lost:db-0");

	/* Its record vanishes (the controller forgot it): still only ever
	 * started at home, and no second alert for the same condition. */
	sim_find(s, "db-0")->used = false;
	sim_run(s, 30);
	CHECK_EQ_INT(sim_count(s, "db", -1, NULL), 0);
	CHECK_STR(db->reason, want);
	CHECK_EQ_INT(db->alerts, 1);

	/* The alert names the node (simulator: last_alert_node). */
	CHECK_STR(db->last_alert_node, home);

	/* The node comes back: the pet is started at home, the alert
	 * condition clears (and would alert again next time). */
	sim_node_state(s, home, NODE_READY);
	sim_run(s, 30);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	CHECK_STR(node_of(s, "db-0"), home);
	CHECK_EQ_INT(db->memo.nalerts, 0);
	CHECK_STR(db->reason, "");
	sim_free(s);
}

TEST(lifecycle_pets__restart_limit_fails_service)
{
	struct sim *s = pets_sim("1.0.0", 2);
	struct sim_svc *db = sim_svc(s, "db");
	struct sim_inst *x;
	char home[LIFECYCLE_NODE_MAX];
	int starts;

	sim_run(s, 30);
	x = sim_find(s, "db-1");
	REQUIRE(x != NULL);
	snprintf(home, sizeof(home), "%s", x->node);
	/* The slave gave up after its restart limit. */
	x->state = INSTANCE_FAILED;
	x->restarts = 5;
	starts = s->starts;
	sim_run(s, 30);
	CHECK_EQ_INT(db->state, SERVICE_FAILED);
	CHECK_STR(db->reason, "pet db-1 Failed after 5 restarts (restart limit): "
	    "a person decides");
	CHECK_EQ_INT(db->alerts, 1);
	CHECK_STR(db->last_alert, "failed");
	CHECK_EQ_INT(s->starts, starts); /* nothing started, nowhere */
	CHECK_EQ_INT(sim_find(s, "db-1")->state, INSTANCE_FAILED);
	sim_run(s, 30);
	CHECK_EQ_INT(db->alerts, 1);

	/* A person applies a fix: updated in place, same id, same node. */
	sim_apply(s, pets_manifest("1.0.1", 2));
	sim_run(s, 40);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "db", INSTANCE_RUN, "1.0.1"), 2);
	CHECK_STR(node_of(s, "db-1"), home);
	CHECK_EQ_INT(s->dup_pets, 0);
	sim_free(s);
}

/* In place, one at a time: a pet is stopped only while every other one is
 * Run, and comes back under its id on its node. */
TEST(lifecycle_pets__update_in_place_one_at_a_time)
{
	struct sim *s = pets_sim("1.0.0", 3);
	struct sim_svc *db = sim_svc(s, "db");
	char homes[3][LIFECYCLE_NODE_MAX];
	int steps = 0;

	sim_run(s, 30);
	for (int i = 0; i < 3; i++) {
		char id[16];

		snprintf(id, sizeof(id), "db-%d", i);
		snprintf(homes[i], sizeof(homes[i]), "%s", node_of(s, id));
	}
	sim_apply(s, pets_manifest("2.0.0", 3));
	while (sim_step(s) > 0) {
		int down = 3 - sim_count(s, "db", INSTANCE_RUN, NULL);

		CHECK(down <= 1);
		for (int i = 0; i < 3; i++) {
			char id[16];
			const char *n;

			snprintf(id, sizeof(id), "db-%d", i);
			n = node_of(s, id);
			CHECK(n[0] == '\0' || strcmp(n, homes[i]) == 0);
		}
		REQUIRE(++steps < 60);
	}
	CHECK(db->seen_state[SERVICE_UPDATE]);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "db", INSTANCE_RUN, "2.0.0"), 3);
	CHECK_EQ_INT(s->dup_pets, 0);
	for (int i = 0; i < 3; i++) {
		char id[16];

		snprintf(id, sizeof(id), "db-%d", i);
		CHECK_STR(node_of(s, id), homes[i]);
	}
	sim_free(s);
}

TEST(lifecycle_pets__scale_keeps_homes)
{
	struct sim *s = pets_sim("1.0.0", 3);
	struct sim_svc *db = sim_svc(s, "db");
	char home2[LIFECYCLE_NODE_MAX];

	sim_run(s, 30);
	snprintf(home2, sizeof(home2), "%s", node_of(s, "db-2"));
	db->flags.scale = 1;
	sim_step(s);
	CHECK_EQ_INT(db->state, SERVICE_SCALE);
	CHECK_EQ_INT(db->detail, SCALE_IN);
	sim_run(s, 30);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	CHECK(sim_find(s, "db-0") != NULL);
	CHECK(sim_find(s, "db-1") == NULL && sim_find(s, "db-2") == NULL);
	/* Scale out again: db-2 returns to its home, where its data is. */
	db->flags.scale = 3;
	sim_run(s, 30);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	CHECK_STR(node_of(s, "db-2"), home2);
	CHECK(db->seen_state[SERVICE_SCALE]);
	sim_free(s);
}

TEST(lifecycle_pets__strays_stopped)
{
	struct sim *s = pets_sim("1.0.0", 2);
	struct sim_svc *db = sim_svc(s, "db");
	const struct service_spec *spec = manifest_service(s->m, "db");

	/* Adopted: db-0 runs on node-c and becomes its home. */
	db->state = SERVICE_RUN;
	db->memo.settled = 2;
	sim_put(s, "db-0", "db", "node-c", spec, INSTANCE_RUN);
	sim_put(s, "db-7", "db", "node-a", spec, INSTANCE_RUN);  /* > replicas */
	sim_put(s, "db-x", "db", "node-a", spec, INSTANCE_RUN);  /* unknown */
	sim_put(s, "db-01", "db", "node-b", spec, INSTANCE_RUN); /* not N */
	sim_run(s, 30);
	CHECK_STR(node_of(s, "db-0"), "node-c");
	CHECK(sim_find(s, "db-7") == NULL);
	CHECK(sim_find(s, "db-x") == NULL);
	CHECK(sim_find(s, "db-01") == NULL);
	CHECK(sim_find(s, "db-1") != NULL);
	CHECK_EQ_INT(sim_count(s, "db", INSTANCE_RUN, NULL), 2);
	CHECK_EQ_INT(db->state, SERVICE_RUN);

	/* A copy away from its home is stopped and the pet comes back home,
	 * never two at once. */
	sim_find(s, "db-1")->used = false;
	sim_put(s, "db-1", "db", "node-c", spec, INSTANCE_RUN);
	{
		char h[LIFECYCLE_NODE_MAX] = "";

		/* A copy: the memo is replaced on every step. */
		for (size_t i = 0; i < db->memo.npets; i++)
			if (db->memo.pets[i].ordinal == 1)
				snprintf(h, sizeof(h), "%s", db->memo.pets[i].node);
		REQUIRE(h[0] != '\0');
		REQUIRE(strcmp(h, "node-c") != 0);
		sim_run(s, 30);
		CHECK_STR(node_of(s, "db-1"), h);
	}
	CHECK_EQ_INT(s->dup_pets, 0);
	sim_free(s);
}

/* A pet being stopped is not started again until the stop completes. */
TEST(lifecycle_pets__waits_for_stop)
{
	struct sim *s = pets_sim("1.0.0", 1);
	struct sim_svc *db = sim_svc(s, "db");
	struct sim_inst *x;
	char home[LIFECYCLE_NODE_MAX];

	sim_run(s, 30);
	x = sim_find(s, "db-0");
	REQUIRE(x != NULL);
	snprintf(home, sizeof(home), "%s", x->node);
	x->state = INSTANCE_DESTROY;
	/* Its node goes Lost: the stop can never complete, so the pet is
	 * never started again, anywhere. */
	sim_node_state(s, home, NODE_LOST);
	sim_run(s, 30);
	CHECK_EQ_INT(s->dup_pets, 0);
	CHECK_EQ_INT(sim_find(s, "db-0")->state, INSTANCE_DESTROY);
	CHECK(db->state != SERVICE_RUN);
	sim_node_state(s, home, NODE_READY);
	sim_run(s, 30);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	CHECK_STR(node_of(s, "db-0"), home);
	sim_free(s);
}

/* Drain moves cattle, not pets: a pet stays on its Draining home (its
 * data is there) and is revived there; new pets go elsewhere. */
TEST(lifecycle_pets__drain_leaves_pets)
{
	struct sim *s = pets_sim("1.0.0", 1);
	struct sim_svc *db = sim_svc(s, "db");
	char home[LIFECYCLE_NODE_MAX];

	sim_run(s, 30);
	snprintf(home, sizeof(home), "%s", node_of(s, "db-0"));
	sim_node_state(s, home, NODE_DRAINING);
	sim_run(s, 30);
	CHECK_STR(node_of(s, "db-0"), home);
	CHECK_EQ_INT(sim_find(s, "db-0")->state, INSTANCE_RUN);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	/* Gone (its process stopped and the record went): back at home. */
	sim_find(s, "db-0")->used = false;
	db->flags.scale = 3;
	sim_run(s, 30);
	CHECK_STR(node_of(s, "db-0"), home);
	CHECK(strcmp(node_of(s, "db-1"), home) != 0);
	CHECK(strcmp(node_of(s, "db-2"), home) != 0);
	CHECK(node_of(s, "db-1")[0] && node_of(s, "db-2")[0]);
	CHECK_EQ_INT(on_home_count(s, home), 1);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	sim_free(s);
}

/* A new pet that fits nowhere makes the service Failed, but does not
 * keep the others from being revived at home. */
TEST(lifecycle_pets__nofit_still_revives_homes)
{
	struct manifest *m = pets_manifest("1.0.0", 3);
	struct lifecycle_node nodes[2] = {
		{.name = "node-a", .state = NODE_READY},
		{.name = "node-b", .state = NODE_LOST},
	};
	struct lifecycle_pet_home homes[2] = {{1, "node-b"}, {2, "node-a"}};
	struct lifecycle_memo memo = {.settled = 3, .pets = homes, .npets = 2};
	struct lifecycle_input in = {
		.service = "db", .spec = manifest_service(m, "db"),
		.state = SERVICE_RUN, .nodes = nodes, .nnodes = 2, .memo = &memo,
		.now = 1,
	};
	struct lifecycle_plan *p = NULL;

	/* db-0 has no home and node-a is Draining: nowhere to go. */
	nodes[0].state = NODE_DRAINING;
	REQUIRE(lifecycle_plan(&p, &in) == 0);
	{
		const struct lifecycle_action *start = NULL, *lost = NULL;

		for (size_t i = 0; i < p->nactions; i++) {
			if (p->actions[i].type == LIFECYCLE_START)
				start = &p->actions[i];
			if (p->actions[i].type == LIFECYCLE_ALERT &&
			    strcmp(p->actions[i].key, "lost:db-1") == 0)
				lost = &p->actions[i];
		}
		REQUIRE(start != NULL);
		CHECK_STR(start->id, "db-2");
		CHECK_STR(start->node, "node-a");
		CHECK_EQ_INT(start->ordinal, 2);
		REQUIRE(lost != NULL);
		CHECK_STR(lost->node, "node-b");
	}
	CHECK_EQ_INT(p->state, SERVICE_FAILED);
	CHECK_STR(p->reason, "no node fits: node-a is Draining, node-b is Lost");
	for (size_t i = 0; i < p->nactions; i++)
		CHECK(p->actions[i].type != LIFECYCLE_START ||
		    strcmp(p->actions[i].id, "db-1") != 0);
	lifecycle_plan_free(p);
	manifest_free(m);
}

CHECK_MAIN(lifecycle_pets__stable_ids_and_homes,
    lifecycle_pets__lost_node_never_duplicates,
    lifecycle_pets__restart_limit_fails_service,
    lifecycle_pets__update_in_place_one_at_a_time,
    lifecycle_pets__scale_keeps_homes,
    lifecycle_pets__strays_stopped,
    lifecycle_pets__waits_for_stop,
    lifecycle_pets__drain_leaves_pets,
    lifecycle_pets__nofit_still_revives_homes)
