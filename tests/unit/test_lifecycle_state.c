/*
 * test_lifecycle_state.c - lifecycle/state.c: the names tables, the
 * transition tables and the setters (no-ops ignored, illegal moves
 * refused with the state kept).
 */
#include "check.h"
#include "err.h"
#include "lifecycle.h"

TEST(lifecycle_state__names)
{
	static const char *const words[] = {"Provision", "Ready", "Run", "Update",
	    "Rollback", "Scale", "Destroy", "Failed"};

	CHECK_EQ_INT(SERVICE__LAST, 8);
	for (int i = 0; i < SERVICE__LAST; i++) {
		CHECK_STR(lifecycle_service_state_name(i), words[i]);
		CHECK_EQ_INT(lifecycle_service_state_parse(words[i]), i);
	}
	CHECK_EQ_INT(lifecycle_service_state_parse("run"), -1);
	CHECK_EQ_INT(lifecycle_service_state_parse(NULL), -1);
	CHECK_STR(lifecycle_service_state_name(SERVICE__LAST), "?");
	CHECK_STR(lifecycle_scale_detail_name(SCALE_OUT), "Scale-out");
	CHECK_STR(lifecycle_scale_detail_name(SCALE_IN), "Scale-in");
	CHECK_STR(lifecycle_scale_detail_name(SCALE_NONE), "");
	CHECK_STR(lifecycle_node_state_name(NODE_DRAINING), "Draining");
	CHECK_EQ_INT(lifecycle_node_state_parse("Suspect"), NODE_SUSPECT);
	CHECK_EQ_INT(lifecycle_node_state_parse("Gone"), -1);
	CHECK_STR(lifecycle_action_name(LIFECYCLE_MARK_FAILED), "mark-failed");
	CHECK_STR(lifecycle_action_name(LIFECYCLE__LAST), "?");
}

TEST(lifecycle_state__service_setter)
{
	enum service_state st = SERVICE_PROVISION;
	struct lifecycle_event ev = {.from = -7, .to = -7};

	/* No-op: nothing recorded, event untouched. */
	CHECK_EQ_INT(lifecycle_service_set(&ev, &st, SERVICE_PROVISION, "again"), 0);
	CHECK_EQ_INT(ev.from, -7);
	CHECK_EQ_INT(st, SERVICE_PROVISION);

	CHECK_EQ_INT(lifecycle_service_set(&ev, &st, SERVICE_READY, "started"), 1);
	CHECK_EQ_INT(ev.from, SERVICE_PROVISION);
	CHECK_EQ_INT(ev.to, SERVICE_READY);
	CHECK_STR(ev.cause, "started");
	CHECK_EQ_INT(lifecycle_service_set(&ev, &st, SERVICE_RUN, NULL), 1);
	CHECK_STR(ev.cause, "");
	CHECK_EQ_INT(lifecycle_service_set(NULL, &st, SERVICE_UPDATE, "apply"), 1);
	CHECK_EQ_INT(st, SERVICE_UPDATE);

	/* Once Run, never Provision again; the state stays. */
	st = SERVICE_RUN;
	ev.from = -7;
	CHECK_EQ_INT(lifecycle_service_set(&ev, &st, SERVICE_PROVISION, "x"),
	    ORCH_EINVALID);
	CHECK_EQ_INT(st, SERVICE_RUN);
	CHECK_EQ_INT(ev.from, -7);
	CHECK_STR(orch_err_last(), "service: Run -> Provision not allowed");

	/* Destroy is terminal but for a re-add. */
	st = SERVICE_DESTROY;
	CHECK_EQ_INT(lifecycle_service_set(&ev, &st, SERVICE_RUN, "x"), ORCH_EINVALID);
	CHECK_EQ_INT(lifecycle_service_set(&ev, &st, SERVICE_PROVISION, "re-added"), 1);

	/* Failed waits for a person, whose action may lead anywhere. */
	for (int to = 0; to < SERVICE__LAST; to++)
		CHECK(lifecycle_service_move_ok(SERVICE_FAILED, to));
	/* Anything can be destroyed; nothing but a first deploy is
	 * Provision. */
	for (int from = 0; from < SERVICE__LAST; from++) {
		CHECK(lifecycle_service_move_ok(from, SERVICE_DESTROY));
		CHECK(lifecycle_service_move_ok(from, SERVICE_PROVISION) ==
		    (from == SERVICE_PROVISION || from == SERVICE_READY ||
		    from == SERVICE_DESTROY || from == SERVICE_FAILED));
	}
	CHECK(!lifecycle_service_move_ok(SERVICE_PROVISION, SERVICE_UPDATE));
	CHECK(!lifecycle_service_move_ok(SERVICE__LAST, SERVICE_RUN));
	CHECK(!lifecycle_service_move_ok(SERVICE_RUN, (enum service_state)42));
	st = (enum service_state)42;
	CHECK_EQ_INT(lifecycle_service_set(&ev, &st, SERVICE_RUN, "x"), ORCH_EINVALID);
}

TEST(lifecycle_state__instance_setter)
{
	enum instance_state st = INSTANCE_PROVISION;
	struct lifecycle_event ev;

	CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, INSTANCE_PROVISION, "x"), 0);
	CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, INSTANCE_READY, "started"), 1);
	CHECK_EQ_INT(ev.from, INSTANCE_PROVISION);
	CHECK_EQ_INT(ev.to, INSTANCE_READY);
	CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, INSTANCE_RUN, "healthy"), 1);
	CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, INSTANCE_FAILED, "exit 1"), 1);
	/* A pet revived in place by its slave. */
	CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, INSTANCE_PROVISION, "restart"), 1);
	CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, INSTANCE_DESTROY, "stop"), 1);
	/* Destroy is terminal: a restarted pet is a new record. */
	for (int to = 0; to < INSTANCE__LAST; to++)
		if (to != INSTANCE_DESTROY)
			CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, to, "x"),
			    ORCH_EINVALID);
	CHECK_EQ_INT(st, INSTANCE_DESTROY);
	CHECK_STR(orch_err_last(), "instance: Destroy -> Failed not allowed");
	st = INSTANCE_FAILED;
	CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, INSTANCE_RUN, "x"), ORCH_EINVALID);
	CHECK_EQ_INT(lifecycle_instance_set(&ev, &st, INSTANCE_READY, "x"), ORCH_EINVALID);
	CHECK(!lifecycle_instance_move_ok(INSTANCE__LAST, INSTANCE_RUN));
}

CHECK_MAIN(lifecycle_state__names, lifecycle_state__service_setter,
    lifecycle_state__instance_setter)
