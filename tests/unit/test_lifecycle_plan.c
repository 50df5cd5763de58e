/*
 * test_lifecycle_plan.c - lifecycle/plan.c on simulated clusters: first
 * deploy with a dependency, convergence from odd starting points, cattle
 * replacement, updates one at a time, scale, drain, nothing fits,
 * teardown order and idempotence (the simulator re-plans every service
 * twice per step and compares).
 */
#include "lifecycle_sim.h"

#define G (1024ULL * 1024 * 1024)

static const char two_tier[] =
    "architecture: t\n"
    "services:\n"
    "  db:\n"
    "    kind: pet\n"
    "    version: \"1.0.0\"\n"
    "    command: [\"db\"]\n"
    "    replicas: 1\n"
    "  web:\n"
    "    version: \"1.0.0\"\n"
    "    command: [\"web\"]\n"
    "    replicas: 3\n"
    "    min: 1\n"
    "    max: 6\n"
    "    depends_on: {db: \">=1.0.0\"}\n";

static const char web_only[] =
    "architecture: t\n"
    "services:\n"
    "  web:\n"
    "    version: \"%s\"\n"
    "    command: [\"web\"]\n"
    "    replicas: %d\n"
    "    min: 2\n"
    "    max: 5\n"
    "    resources: {cpu: 0.5, memory: 256M}\n";

static struct sim *
web_sim(const char *version, int replicas, int nodes)
{
	char yaml[1024];
	struct sim *s;

	snprintf(yaml, sizeof(yaml), web_only, version, replicas);
	s = sim_new(yaml);
	for (int i = 0; i < nodes; i++) {
		char name[16];

		snprintf(name, sizeof(name), "node-%c", 'a' + i);
		sim_node(s, name, 4, 8 * G);
	}
	return s;
}

static struct manifest *
web_manifest(const char *version, int replicas)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), web_only, version, replicas);
	return sim_parse(yaml);
}

/* Live (not Destroy) instances of service on node. */
static int
on_node(const struct sim *s, const char *service, const char *node)
{
	int n = 0;

	for (size_t i = 0; i < SIM_MAX_INST; i++)
		if (s->inst[i].used && strcmp(s->inst[i].service, service) == 0 &&
		    strcmp(s->inst[i].node, node) == 0 &&
		    s->inst[i].state != INSTANCE_DESTROY)
			n++;
	return n;
}

TEST(lifecycle_plan__first_deploy_waits_for_dependency)
{
	struct sim *s = sim_new(two_tier);
	struct sim_svc *db, *web;

	sim_node(s, "node-a", 4, 8 * G);
	sim_node(s, "node-b", 4, 8 * G);
	db = sim_svc(s, "db");
	web = sim_svc(s, "web");
	sim_step(s);
	CHECK_EQ_INT(sim_count(s, "db", -1, NULL), 1);
	CHECK(sim_find(s, "db-0") != NULL);
	CHECK_EQ_INT(sim_count(s, "web", -1, NULL), 0);
	CHECK_EQ_INT(web->state, SERVICE_PROVISION);
	CHECK_STR(web->reason, "waiting for db to be Run");
	sim_run(s, 50);
	CHECK_EQ_INT(db->state, SERVICE_RUN);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), 3);
	/* web's first start came after db was Run, never before. */
	REQUIRE(db->run_step >= 0);
	CHECK(web->first_start >= db->run_step);
	/* Provision -> Ready -> Run: the first deploy shows its progress. */
	CHECK(web->seen_state[SERVICE_READY]);
	CHECK_EQ_INT(web->memo.settled, 3);
	CHECK_STR(web->reason, "");
	/* Spread: 3 web over 2 nodes is 2 + 1. */
	CHECK(on_node(s, "web", "node-a") >= 1 && on_node(s, "web", "node-b") >= 1);
	CHECK_EQ_INT(s->dup_pets, 0);
	CHECK_EQ_INT(s->lost_starts, 0);
	sim_free(s);
}

/* From each odd starting point the same fixpoint: 3 instances of the
 * desired spec, Run, and nothing else. */
TEST(lifecycle_plan__converges_from_any_start)
{
	for (int start = 0; start < 5; start++) {
		struct sim *s = web_sim("1.1.0", 3, 3);
		struct manifest *old = web_manifest("1.0.0", 3);
		const struct service_spec *cur = manifest_service(s->m, "web");
		const struct service_spec *prev = manifest_service(old, "web");
		struct sim_svc *web = sim_svc(s, "web");

		/* Not the first deploy: the service was Run before. */
		web->state = SERVICE_RUN;
		web->memo.settled = 3;
		switch (start) {
		case 0: /* empty */
			break;
		case 1: /* extra and unknown instances */
			sim_put(s, "web-one", "web", "node-a", cur, INSTANCE_RUN);
			sim_put(s, "web-two", "web", "node-b", cur, INSTANCE_RUN);
			sim_put(s, "web-three", "web", "node-c", cur, INSTANCE_RUN);
			sim_put(s, "web-four", "web", "node-a", cur, INSTANCE_RUN);
			sim_put(s, "mystery", "web", "node-b", cur, INSTANCE_READY);
			break;
		case 2: /* missing */
			sim_put(s, "web-one", "web", "node-a", cur, INSTANCE_RUN);
			break;
		case 3: /* wrong version everywhere */
			sim_put(s, "web-one", "web", "node-a", prev, INSTANCE_RUN);
			sim_put(s, "web-two", "web", "node-b", prev, INSTANCE_RUN);
			sim_put(s, "web-three", "web", "node-c", prev, INSTANCE_RUN);
			break;
		case 4: /* a mix, some on their way, one on an unknown node */
			sim_put(s, "web-one", "web", "node-a", prev, INSTANCE_PROVISION);
			sim_put(s, "web-two", "web", "node-b", cur, INSTANCE_READY);
			sim_put(s, "web-three", "web", "gone-node", cur, INSTANCE_RUN);
			sim_put(s, "web-four", "web", "node-c", prev, INSTANCE_FAILED);
			break;
		}
		sim_run(s, 60);
		CHECK_EQ_INT(sim_count(s, "web", -1, NULL), 3);
		CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.1.0"), 3);
		CHECK_EQ_INT(sim_count(s, "web", -1, "1.0.0"), 0);
		CHECK_EQ_INT(web->state, SERVICE_RUN);
		if (start == 3)
			CHECK(web->seen_state[SERVICE_UPDATE]);
		if (start == 4) {
			/* The instance on a node nobody knows is stopped, but
			 * the stop cannot complete while the node is away. */
			struct sim_inst *x = sim_find(s, "web-three");

			REQUIRE(x != NULL);
			CHECK_EQ_INT(x->state, INSTANCE_DESTROY);
		}
		manifest_free(old);
		sim_free(s);
	}
}

TEST(lifecycle_plan__cattle_failure_replaced_elsewhere)
{
	struct sim *s = web_sim("1.0.0", 2, 3);
	struct sim_svc *web = sim_svc(s, "web");
	struct sim_inst *victim = NULL;
	char vid[LIFECYCLE_ID_MAX], vnode[LIFECYCLE_NODE_MAX];
	int starts;

	sim_run(s, 30);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	for (size_t i = 0; i < SIM_MAX_INST && victim == NULL; i++)
		if (s->inst[i].used)
			victim = &s->inst[i];
	REQUIRE(victim != NULL);
	snprintf(vid, sizeof(vid), "%s", victim->id);
	snprintf(vnode, sizeof(vnode), "%s", victim->node);
	victim->state = INSTANCE_FAILED;
	victim->restarts = 3;
	starts = s->starts;
	sim_step(s);
	CHECK_EQ_INT(s->starts, starts + 1);
	/* Stopped, and (one tick later) gone. */
	CHECK(sim_find(s, vid) == NULL);
	/* The replacement (Ready after the tick) has a new id and went to
	 * another node. */
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_READY, NULL), 1);
	for (size_t i = 0; i < SIM_MAX_INST; i++) {
		const struct sim_inst *x = &s->inst[i];

		if (x->used && x->state == INSTANCE_READY) {
			CHECK(strcmp(x->id, vid) != 0);
			CHECK(strcmp(x->node, vnode) != 0);
			CHECK(strncmp(x->id, "web-", 4) == 0);
		}
	}
	CHECK_EQ_INT(web->state, SERVICE_READY);
	sim_run(s, 30);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, NULL), 2);
	CHECK(sim_find(s, vid) == NULL);
	sim_free(s);
}

TEST(lifecycle_plan__lost_node_cattle_rescheduled)
{
	struct sim *s = web_sim("1.0.0", 3, 3);
	struct sim_svc *web = sim_svc(s, "web");
	int before;

	sim_run(s, 30);
	before = on_node(s, "web", "node-b");
	CHECK_EQ_INT(before, 1);
	sim_node_state(s, "node-b", NODE_SUSPECT);
	/* Suspect: late heartbeats are not a verdict; nothing moves. */
	CHECK_EQ_INT(sim_step(s), 0);
	sim_node_state(s, "node-b", NODE_LOST);
	sim_run(s, 30);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	CHECK_EQ_INT(on_node(s, "web", "node-a") + on_node(s, "web", "node-c"), 3);
	CHECK_EQ_INT(s->lost_starts, 0);
	/* The node comes back: the old instance's stop goes through. */
	sim_node_state(s, "node-b", NODE_READY);
	sim_run(s, 30);
	CHECK_EQ_INT(on_node(s, "web", "node-b"), 0);
	CHECK_EQ_INT(sim_count(s, "web", -1, NULL), 3);
	sim_free(s);
}

/* New before old: never fewer than replicas Run, never more than one new
 * instance on its way, never more than replicas + 1 live. */
TEST(lifecycle_plan__update_cattle_one_at_a_time)
{
	struct sim *s = web_sim("1.0.0", 3, 3);
	struct sim_svc *web = sim_svc(s, "web");
	int steps = 0;

	sim_run(s, 30);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	sim_apply(s, web_manifest("1.1.0", 3));
	while (sim_step(s) > 0) {
		int run = sim_count(s, "web", INSTANCE_RUN, NULL);
		int live = sim_count(s, "web", -1, NULL);
		int pending = sim_count(s, "web", INSTANCE_PROVISION, "1.1.0") +
		    sim_count(s, "web", INSTANCE_READY, "1.1.0");

		CHECK(run >= 3);
		CHECK(live <= 4);
		CHECK(pending <= 1);
		REQUIRE(++steps < 60);
	}
	CHECK(web->seen_state[SERVICE_UPDATE]);
	CHECK(!web->seen_state[SERVICE_ROLLBACK]);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.1.0"), 3);
	CHECK_EQ_INT(sim_count(s, "web", -1, "1.0.0"), 0);
	CHECK_EQ_INT(web->memo.rollout_since, 0);
	/* Rolling back is the same walk, shown as Rollback, with an alert. */
	web->flags.rollback = true;
	sim_apply(s, web_manifest("1.0.0", 3));
	sim_step(s);
	CHECK_EQ_INT(web->state, SERVICE_ROLLBACK);
	CHECK_STR(web->last_alert, "rollback");
	sim_run(s, 60);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), 3);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	sim_free(s);
}

/* A version that never becomes healthy (it stays Ready, never Failed):
 * the update never drops the old instances, and past progress_deadline
 * the service is Failed (auto_rollback off; with it, the rollback is
 * test_lifecycle_rollout_*.c's). */
TEST(lifecycle_plan__update_bad_version_fails_at_deadline)
{
	struct sim *s = web_sim("1.0.0", 2, 2);
	struct sim_svc *web = sim_svc(s, "web");
	char yaml[1024];
	int alerts;

	sim_run(s, 30);
	snprintf(s->stuck_version, sizeof(s->stuck_version), "2.0.0");
	snprintf(yaml, sizeof(yaml), web_only, "2.0.0", 2);
	strcat(yaml, "    strategy: {auto_rollback: false}\n");
	sim_apply(s, sim_parse(yaml));
	alerts = web->alerts;
	for (int i = 0; i < 20; i++) {
		sim_step(s);
		CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), 2);
	}
	CHECK_EQ_INT(web->state, SERVICE_UPDATE);
	/* The default progress_deadline is 10m. */
	s->now += 10 * 60 * 1000;
	sim_run(s, 30);
	CHECK_EQ_INT(web->state, SERVICE_FAILED);
	CHECK_CONTAINS(web->reason, "did not finish within progress_deadline 10m");
	CHECK_EQ_INT(web->alerts, alerts + 1);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.0.0"), 2);
	/* Failed, nothing churns: no new instance of the bad version. */
	{
		int starts = s->starts;

		sim_run(s, 30);
		CHECK_EQ_INT(s->starts, starts);
	}
	/* A person applies a fix: a new rollout with its own clock. */
	sim_apply(s, web_manifest("2.0.1", 2));
	sim_step(s);
	CHECK_EQ_INT(web->state, SERVICE_UPDATE);
	sim_run(s, 40);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "2.0.1"), 2);
	CHECK_EQ_INT(sim_count(s, "web", -1, NULL), 2);
	CHECK_EQ_INT(web->memo.rollout_since, 0);
	CHECK_STR(web->memo.rollout_fp, "");
	sim_free(s);
}

TEST(lifecycle_plan__pause_holds_update)
{
	struct sim *s = web_sim("1.0.0", 2, 2);
	struct sim_svc *web = sim_svc(s, "web");

	sim_run(s, 30);
	web->flags.paused = true;
	sim_apply(s, web_manifest("1.1.0", 2));
	sim_run(s, 30);
	CHECK_EQ_INT(web->state, SERVICE_UPDATE);
	CHECK_STR(web->reason, "paused");
	CHECK_EQ_INT(sim_count(s, "web", -1, "1.1.0"), 0);
	web->flags.paused = false;
	sim_run(s, 30);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, "1.1.0"), 2);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	sim_free(s);
}

TEST(lifecycle_plan__scale_out_and_in)
{
	struct sim *s = web_sim("1.0.0", 2, 3);
	struct sim_svc *web = sim_svc(s, "web");
	const struct service_spec *spec = manifest_service(s->m, "web");

	sim_run(s, 30);
	CHECK_EQ_INT(lifecycle_scale_check(spec, 4), 0);
	web->flags.scale = 4;
	sim_step(s);
	CHECK_EQ_INT(web->state, SERVICE_SCALE);
	CHECK_EQ_INT(web->detail, SCALE_OUT);
	CHECK_STR(web->reason, "Scale-out: 2 -> 4");
	sim_run(s, 30);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, NULL), 4);
	CHECK(on_node(s, "web", "node-c") >= 1);

	web->flags.scale = 2;
	sim_step(s);
	CHECK_EQ_INT(web->state, SERVICE_SCALE);
	CHECK_EQ_INT(web->detail, SCALE_IN);
	sim_run(s, 30);
	CHECK_EQ_INT(sim_count(s, "web", -1, NULL), 2);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	/* Scale-in keeps the spread: 2 instances on 2 different nodes. */
	CHECK(on_node(s, "web", "node-a") <= 1 && on_node(s, "web", "node-b") <= 1 &&
	    on_node(s, "web", "node-c") <= 1);

	/* Outside min..max: refused, with the bounds in the message. */
	CHECK_EQ_INT(lifecycle_scale_check(spec, 1), ORCH_EINVALID);
	CHECK_STR(orch_err_last(), "web: cannot scale to 1: outside min..max 2..5");
	CHECK_EQ_INT(lifecycle_scale_check(spec, 6), ORCH_EINVALID);
	CHECK_EQ_INT(lifecycle_scale_check(spec, 5), 0);
	CHECK_EQ_INT(lifecycle_scale_check(spec, 2), 0);
	/* A stale override beyond max is clamped, never obeyed. */
	web->flags.scale = 9;
	sim_run(s, 30);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, NULL), 5);
	sim_free(s);
}

TEST(lifecycle_plan__drain_moves_cattle_first)
{
	struct sim *s = web_sim("1.0.0", 3, 3);
	struct sim_svc *web = sim_svc(s, "web");
	int steps = 0;

	sim_run(s, 30);
	CHECK_EQ_INT(on_node(s, "web", "node-a"), 1);
	memset(web->seen_state, 0, sizeof(web->seen_state));
	sim_node_state(s, "node-a", NODE_DRAINING);
	while (sim_step(s) > 0) {
		CHECK(sim_count(s, "web", INSTANCE_RUN, NULL) >= 3);
		REQUIRE(++steps < 30);
	}
	CHECK_EQ_INT(on_node(s, "web", "node-a"), 0);
	CHECK_EQ_INT(sim_count(s, "web", INSTANCE_RUN, NULL), 3);
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	/* Draining is not an update and never left Run. */
	CHECK(!web->seen_state[SERVICE_UPDATE]);
	CHECK(!web->seen_state[SERVICE_READY]);
	sim_free(s);
}

TEST(lifecycle_plan__nothing_fits_then_a_node_appears)
{
	static const char yaml[] =
	    "architecture: t\n"
	    "services:\n"
	    "  big:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"big\"]\n"
	    "    replicas: 1\n"
	    "    resources: {cpu: 1.5, memory: 1G}\n"
	    "    nodes: [node-a, node-b, node-d]\n";
	struct sim *s = sim_new(yaml);
	struct sim_svc *big = sim_svc(s, "big");

	sim_node(s, "node-a", 1, 8 * G);
	sim_node(s, "node-b", 4, 512ULL * 1024 * 1024);
	sim_node(s, "node-c", 8, 8 * G);
	sim_run(s, 10);
	CHECK_EQ_INT(big->state, SERVICE_FAILED);
	CHECK_STR(big->reason, "no node fits: node-a lacks 0.5 cpu, node-b lacks "
	    "512M memory, node-c not in nodes:");
	CHECK_EQ_INT(big->alerts, 1);
	CHECK_STR(big->last_alert, "failed");
	sim_run(s, 10);
	CHECK_EQ_INT(big->alerts, 1);
	sim_node(s, "node-d", 2, 2 * G);
	sim_run(s, 10);
	CHECK_EQ_INT(big->state, SERVICE_RUN);
	CHECK_EQ_INT(on_node(s, "big", "node-d"), 1);
	CHECK(big->seen_state[SERVICE_PROVISION]);
	sim_free(s);
}

TEST(lifecycle_plan__teardown_reverse_dependency_order)
{
	static const char three[] =
	    "architecture: t\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"web\"]\n"
	    "    replicas: 2\n"
	    "    depends_on: {api: \"*\"}\n"
	    "  api:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"api\"]\n"
	    "    depends_on: {db: \"*\"}\n"
	    "  db:\n"
	    "    kind: pet\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"db\"]\n"
	    "  other:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"other\"]\n";
	static const char rest[] =
	    "architecture: t\n"
	    "services:\n"
	    "  other:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"other\"]\n";
	struct sim *s = sim_new(three);
	struct manifest *next = sim_parse(rest);
	struct sim_svc *web, *api, *db;
	size_t *order = NULL, n = 0;

	/* The helper: removed services, dependents first. */
	REQUIRE(lifecycle_teardown_order(&order, &n, s->m, next) == 0);
	REQUIRE(n == 3);
	CHECK_STR(s->m->services[order[0]].name, "web");
	CHECK_STR(s->m->services[order[1]].name, "api");
	CHECK_STR(s->m->services[order[2]].name, "db");
	free(order);
	REQUIRE(lifecycle_teardown_order(&order, &n, s->m, NULL) == 0);
	CHECK_EQ_INT(n, 4);
	free(order);

	sim_node(s, "node-a", 4, 8 * G);
	sim_node(s, "node-b", 4, 8 * G);
	sim_run(s, 50);
	web = sim_svc(s, "web");
	api = sim_svc(s, "api");
	db = sim_svc(s, "db");
	CHECK_EQ_INT(web->state, SERVICE_RUN);
	sim_apply(s, next);
	sim_step(s);
	CHECK_EQ_INT(web->state, SERVICE_DESTROY);
	CHECK_EQ_INT(api->state, SERVICE_DESTROY);
	CHECK_STR(api->reason, "waiting for web to be destroyed first");
	sim_run(s, 50);
	CHECK(web->done && api->done && db->done);
	CHECK(web->first_stop >= 0);
	/* Each one starts stopping only once its dependents are gone. */
	CHECK(api->first_stop >= web->done_step);
	CHECK(db->first_stop >= api->done_step);
	CHECK_EQ_INT(sim_count(s, "web", -1, NULL) + sim_count(s, "api", -1, NULL) +
	    sim_count(s, "db", -1, NULL), 0);
	CHECK_EQ_INT(sim_svc(s, "other")->state, SERVICE_RUN);
	sim_free(s);
}

/* Same input, same actions, same new ids; a different counter, other ids,
 * and never one that exists. */
TEST(lifecycle_plan__idempotent)
{
	struct manifest *m = web_manifest("1.0.0", 3);
	struct lifecycle_node nodes[2] = {
		{.name = "node-a", .state = NODE_READY, .cpu = 4, .memory = 8 * G},
		{.name = "node-b", .state = NODE_READY, .cpu = 4, .memory = 8 * G},
	};
	struct lifecycle_instance inst[1] = {
		{.id = "web-x", .node = "node-a", .state = INSTANCE_RUN},
	};
	struct lifecycle_memo memo = {.next_id = 41};
	struct lifecycle_input in = {
		.service = "web", .spec = manifest_service(m, "web"),
		.instances = inst, .ninstances = 1, .nodes = nodes, .nnodes = 2,
		.memo = &memo, .now = 5000,
	};
	struct lifecycle_plan *p = NULL, *q = NULL;
	char fp[LIFECYCLE_FP_LEN];
	char *a, *b;

	lifecycle_fingerprint(fp, in.spec);
	inst[0].fingerprint = fp;
	REQUIRE(lifecycle_plan(&p, &in) == 0);
	REQUIRE(lifecycle_plan(&q, &in) == 0);
	a = lifecycle_plan_format(p);
	b = lifecycle_plan_format(q);
	CHECK_STR(a, b);
	CHECK_EQ_INT(p->nactions, 2); /* 2 starts; still Provision */
	CHECK_EQ_INT(p->memo.next_id, 43);
	REQUIRE(p->nactions >= 2);
	CHECK_EQ_INT(p->actions[0].type, LIFECYCLE_START);
	CHECK_EQ_INT(p->actions[1].type, LIFECYCLE_START);
	CHECK(strcmp(p->actions[0].id, p->actions[1].id) != 0);
	CHECK_STR(p->actions[0].fingerprint, fp);
	/* Spread: node-b has none yet, so it comes first. */
	CHECK_STR(p->actions[0].node, "node-b");
	free(a);
	free(b);

	/* A counter that would land on an existing id skips it. */
	inst[0].id = p->actions[0].id;
	lifecycle_plan_free(q);
	REQUIRE(lifecycle_plan(&q, &in) == 0);
	CHECK(strcmp(q->actions[0].id, p->actions[0].id) != 0);
	CHECK(strcmp(q->actions[1].id, p->actions[0].id) != 0);
	CHECK_EQ_INT(q->memo.next_id, 44);
	lifecycle_plan_free(p);
	lifecycle_plan_free(q);

	/* The fingerprint names what runs: replicas do not change it,
	 * the version and env do. */
	{
		struct manifest *m2 = web_manifest("1.0.0", 4);
		struct manifest *m3 = web_manifest("1.0.1", 3);
		char f2[LIFECYCLE_FP_LEN], f3[LIFECYCLE_FP_LEN];

		lifecycle_fingerprint(f2, manifest_service(m2, "web"));
		lifecycle_fingerprint(f3, manifest_service(m3, "web"));
		CHECK_STR(f2, fp);
		CHECK(strcmp(f3, fp) != 0);
		CHECK_EQ_INT(strlen(fp), 16);
		manifest_free(m2);
		manifest_free(m3);
	}
	manifest_free(m);
}

/* Direct inputs, reading the actions: what a lost node's cattle and an
 * unhealthy instance produce. */
TEST(lifecycle_plan__actions_lost_and_unhealthy)
{
	struct manifest *m = web_manifest("1.0.0", 2);
	struct manifest *m2 = web_manifest("1.1.0", 2);
	struct lifecycle_node nodes[3] = {
		{.name = "node-a", .state = NODE_READY, .cpu = 4, .memory = 8 * G},
		{.name = "node-b", .state = NODE_LOST, .cpu = 4, .memory = 8 * G},
		{.name = "node-c", .state = NODE_READY, .cpu = 4, .memory = 8 * G},
	};
	char fp[LIFECYCLE_FP_LEN], fp2[LIFECYCLE_FP_LEN];
	struct lifecycle_instance inst[3] = {
		{.id = "web-a", .node = "node-a", .state = INSTANCE_RUN},
		{.id = "web-b", .node = "node-b", .state = INSTANCE_RUN},
		{.id = "web-c", .node = "node-c", .state = INSTANCE_RUN,
		 .health = HEALTH_STATE_UNHEALTHY},
	};
	struct lifecycle_memo memo = {.settled = 2, .next_id = 7};
	struct lifecycle_input in = {
		.service = "web", .spec = manifest_service(m, "web"),
		.state = SERVICE_RUN, .instances = inst, .ninstances = 2,
		.nodes = nodes, .nnodes = 3, .memo = &memo, .now = 5000,
	};
	struct lifecycle_plan *p = NULL;
	char *text;

	lifecycle_fingerprint(fp, in.spec);
	lifecycle_fingerprint(fp2, manifest_service(m2, "web"));
	for (int i = 0; i < 3; i++)
		inst[i].fingerprint = fp;
	REQUIRE(lifecycle_plan(&p, &in) == 0);
	text = lifecycle_plan_format(p);
	REQUIRE(p->nactions == 4);
	CHECK_EQ_INT(p->actions[0].type, LIFECYCLE_MARK_FAILED);
	CHECK_STR(p->actions[0].id, "web-b");
	CHECK_STR(p->actions[0].reason, "node node-b Lost: web-b replaced elsewhere");
	CHECK_EQ_INT(p->actions[1].type, LIFECYCLE_STOP);
	CHECK_STR(p->actions[1].id, "web-b");
	CHECK_EQ_INT(p->actions[2].type, LIFECYCLE_START);
	CHECK_STR(p->actions[2].node, "node-c");
	CHECK_EQ_INT(p->actions[3].type, LIFECYCLE_SET_STATE);
	CHECK_EQ_INT(p->actions[3].state, SERVICE_READY);
	CHECK_STR(p->reason, "1 of 2 Run");
	CHECK_CONTAINS(text, "mark-failed web-b on node-b: node node-b Lost");
	free(text);
	lifecycle_plan_free(p);

	/* A new instance Run but failing its check fails the rollout (issue
	 * #5): with no previous spec to go back to and auto_rollback on, it
	 * is only waited for: it does not serve, so no old one stops for it. */
	nodes[1].state = NODE_READY;
	in.spec = manifest_service(m2, "web");
	in.state = SERVICE_UPDATE;
	inst[1].id = "web-b";
	inst[2].fingerprint = fp2;
	in.ninstances = 3;
	REQUIRE(lifecycle_plan(&p, &in) == 0);
	CHECK_EQ_INT(p->nactions, 0);
	CHECK_EQ_INT(p->state, SERVICE_UPDATE);
	CHECK_EQ_INT(p->ready, 0);
	lifecycle_plan_free(p);
	/* With the previous spec given, the rollout fails and asks for the
	 * rollback, and no old instance stops either. */
	in.prev = manifest_service(m, "web");
	REQUIRE(lifecycle_plan(&p, &in) == 0);
	CHECK_EQ_INT(p->state, SERVICE_ROLLBACK);
	CHECK(p->rollout.rollback_requested);
	CHECK_CONTAINS(p->reason, "web-c unhealthy on node-c; rolling back to 1.0.0");
	for (size_t i = 0; i < p->nactions; i++)
		CHECK(p->actions[i].type == LIFECYCLE_ALERT ||
		    p->actions[i].type == LIFECYCLE_SET_STATE);
	lifecycle_plan_free(p);
	in.prev = NULL;
	/* Healthy: one old one stops (the newest of the two), and the next
	 * new one starts in the same pass. */
	inst[2].health = HEALTH_STATE_HEALTHY;
	inst[0].started_at = 1;
	inst[1].started_at = 2;
	REQUIRE(lifecycle_plan(&p, &in) == 0);
	REQUIRE(p->nactions == 2);
	CHECK_EQ_INT(p->actions[0].type, LIFECYCLE_STOP);
	CHECK_STR(p->actions[0].id, "web-b");
	CHECK_EQ_INT(p->actions[1].type, LIFECYCLE_START);
	CHECK_STR(p->actions[1].fingerprint, fp2);
	CHECK_EQ_INT(p->ready, 1);
	lifecycle_plan_free(p);
	manifest_free(m);
	manifest_free(m2);
}

TEST(lifecycle_plan__bad_input)
{
	struct lifecycle_input in = {0};
	struct lifecycle_plan *p = (struct lifecycle_plan *)&in;
	struct lifecycle_instance inst = {0};

	CHECK_EQ_INT(lifecycle_plan(&p, &in), ORCH_EINVALID);
	CHECK(p == NULL);
	in.service = "web";
	in.instances = &inst;
	in.ninstances = 1;
	CHECK_EQ_INT(lifecycle_plan(&p, &in), ORCH_EINVALID);
	CHECK_STR(orch_err_last(), "web: instance 0 has no id");
	lifecycle_plan_free(NULL);
	lifecycle_memo_clear(NULL);
}

CHECK_MAIN(lifecycle_plan__first_deploy_waits_for_dependency,
    lifecycle_plan__converges_from_any_start,
    lifecycle_plan__cattle_failure_replaced_elsewhere,
    lifecycle_plan__lost_node_cattle_rescheduled,
    lifecycle_plan__update_cattle_one_at_a_time,
    lifecycle_plan__update_bad_version_fails_at_deadline,
    lifecycle_plan__pause_holds_update,
    lifecycle_plan__scale_out_and_in,
    lifecycle_plan__drain_moves_cattle_first,
    lifecycle_plan__nothing_fits_then_a_node_appears,
    lifecycle_plan__teardown_reverse_dependency_order,
    lifecycle_plan__idempotent,
    lifecycle_plan__actions_lost_and_unhealthy,
    lifecycle_plan__bad_input)
