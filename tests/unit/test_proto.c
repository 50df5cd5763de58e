/*
 * test_proto.c - common/proto: the controller<->slave JSON. Defaults,
 * round trips, and a table of bad inputs each rejected with a message
 * naming its field.
 */
#include <signal.h>

#include "check.h"
#include "err.h"
#include "proto.h"
#include "signame.h"

static struct instance_spec *
decode(const char *text, int *out_rc)
{
	json_t *j = json_loads(text, 0, NULL);
	struct instance_spec *s = NULL;

	*out_rc = j ? proto_spec_decode(&s, j) : -100;
	json_decref(j);
	return s;
}

TEST(proto_spec__defaults)
{
	int rc;
	struct instance_spec *s = decode("{\"id\":\"a-1\",\"service\":\"a\",\"version\":\"1.0.0\","
	    "\"command\":[\"/bin/true\"]}", &rc);

	REQUIRE(rc == 0 && s != NULL);
	CHECK_EQ_INT(s->kind, KIND_CATTLE);
	CHECK_EQ_INT(s->ncommand, 1);
	CHECK(s->command[1] == NULL);
	CHECK_EQ_INT(s->health.type, HEALTH_NONE);
	CHECK_EQ_INT(s->restart.limit, 5);
	CHECK_EQ_INT(s->restart.window_ms, 60000);
	CHECK_EQ_INT(s->restart.backoff_ms, 100);
	CHECK_EQ_INT(s->restart.max_backoff_ms, 10000);
	CHECK_EQ_INT(s->stop.signal, SIGTERM);
	CHECK_EQ_INT(s->stop.timeout_ms, 10000);
	CHECK_EQ_INT(s->limits.nofile, -1);
	CHECK(s->artifact.url == NULL && s->workdir == NULL && s->user == NULL);
	instance_spec_free(s);
}

TEST(proto_spec__round_trip)
{
	const char *text = "{\"id\":\"db-0\",\"service\":\"db\",\"version\":\"2.1.0\",\"kind\":\"pet\","
	    "\"command\":[\"kv\",\"--port\",\"${ORCH_PORT}\"],\"env\":{\"B\":\"2\",\"A\":\"1\"},"
	    "\"ports\":[\"http\",\"admin\"],\"workdir\":\"app\",\"user\":\"nobody\",\"group\":\"nogroup\","
	    "\"node\":\"n1\",\"revision\":\"abc\","
	    "\"artifact\":{\"url\":\"file:///x.tar.gz\",\"sha256\":\"00\"},"
	    "\"resources\":{\"cpu\":0.25,\"memory\":134217728},\"limits\":{\"nofile\":4096,\"core\":0},"
	    "\"health\":{\"type\":\"http\",\"path\":\"/healthz\",\"port\":\"admin\",\"interval_ms\":1000,"
	    "\"timeout_ms\":500,\"start_period_ms\":5000,\"healthy_threshold\":2,\"unhealthy_threshold\":4},"
	    "\"stop\":{\"signal\":\"SIGINT\",\"timeout_ms\":3000},"
	    "\"restart\":{\"limit\":3,\"window_ms\":30000,\"backoff_ms\":50,\"max_backoff_ms\":800}}";
	struct instance_spec *a, *b = NULL;
	json_t *j;
	int rc;

	a = decode(text, &rc);
	REQUIRE(rc == 0 && a != NULL);
	CHECK_EQ_INT(a->kind, KIND_PET);
	CHECK_STR(a->env[0].key, "B");
	CHECK_STR(a->env[1].key, "A");
	CHECK_EQ_INT(a->stop.signal, SIGINT);
	CHECK_EQ_INT(a->health.type, HEALTH_HTTP);
	CHECK_STR(a->health.port, "admin");
	CHECK_EQ_INT(a->limits.nofile, 4096);
	CHECK_EQ_INT(a->limits.core, 0);
	CHECK_EQ_INT(a->resources.memory, 134217728);
	j = proto_spec_encode(a);
	CHECK_EQ_INT(proto_spec_decode(&b, j), 0);
	json_decref(j);
	REQUIRE(b != NULL);
	CHECK(proto_spec_equal(a, b));
	/* What runs differs: not equal. node/revision alone: equal. */
	free(b->node);
	b->node = strdup("elsewhere");
	CHECK(proto_spec_equal(a, b));
	b->restart.limit = 4;
	CHECK(!proto_spec_equal(a, b));
	instance_spec_free(a);
	instance_spec_free(b);
}

TEST(proto_spec__bad_input_names_the_field)
{
	static const struct {
		const char *json;
		const char *field;
	} cases[] = {
		{"[]", "body"},
		{"{\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"]}", "id"},
		{"{\"id\":\"a b\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"]}", "id"},
		{"{\"id\":\"..\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"]}", "id"},
		{"{\"id\":\"a\",\"version\":\"1\",\"command\":[\"x\"]}", "service"},
		{"{\"id\":\"a\",\"service\":\"a\",\"command\":[\"x\"]}", "version"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\"}", "command"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[]}", "command"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\",3]}", "command[1]"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"kind\":\"dog\"}", "kind"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"env\":{\"1X\":\"v\"}}", "env.1X"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"env\":{\"X\":1}}", "env.X"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"ports\":[\"a\",\"a\"]}", "ports[1]"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"ports\":[\"a/b\"]}", "ports[0]"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"artifact\":{\"url\":\"ftp://x\",\"sha256\":\"0\"}}", "artifact.url"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"artifact\":{\"url\":\"file:///x\"}}", "artifact.sha256"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"resources\":{\"cpu\":-1}}", "resources.cpu"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"resources\":{\"memory\":\"1G\"}}", "resources.memory"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"limits\":{\"files\":3}}", "limits.files"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"health\":{\"type\":\"exec\"}}", "health.command"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"health\":{\"type\":\"tcp\"}}", "health.type"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"ports\":[\"p\"],\"health\":{\"type\":\"http\",\"port\":\"q\"}}", "health.port"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"ports\":[\"p\"],\"health\":{\"type\":\"http\",\"path\":\"x\"}}", "health.path"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"health\":{\"interval_ms\":0}}", "health.interval_ms"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"stop\":{\"signal\":\"BOGUS\"}}", "stop.signal"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"stop\":5}", "stop"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"restart\":{\"backoff_ms\":500,\"max_backoff_ms\":100}}", "restart.max_backoff_ms"},
		{"{\"id\":\"a\",\"service\":\"a\",\"version\":\"1\",\"command\":[\"x\"],\"restart\":{\"limit\":-1}}", "restart.limit"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;
		struct instance_spec *s = decode(cases[i].json, &rc);

		if (rc != ORCH_EINVALID || s != NULL)
			check_fail(__FILE__, __LINE__, "case %zu accepted: %s", i, cases[i].json);
		else if (strncmp(orch_err_last(), cases[i].field, strlen(cases[i].field)) != 0)
			check_fail(__FILE__, __LINE__, "case %zu: \"%s\" does not start with %s", i,
			    orch_err_last(), cases[i].field);
		instance_spec_free(s);
	}
}

TEST(proto_status__round_trip_and_words)
{
	struct instance_port ports[] = {{"http", 20001}};
	struct instance_status st = {
		.id = "db-0", .service = "db", .version = "1", .node = "n1", .kind = KIND_PET,
		.state = INSTANCE_RUN, .health = HEALTH_STATE_HEALTHY, .pid = 42, .restarts = 3,
		.exit_code = -1, .exit_signal = 9, .reason = "killed by signal 9", .ports = ports,
		.nports = 1, .started_at = 1795000000123LL, .data_dir = "/d", .backoff_ms = 200,
		.cgroup = true,
	}, *back = NULL;
	json_t *j = proto_status_encode(&st);

	CHECK(json_is_null(json_object_get(j, "exit_code")));
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Run");
	CHECK_EQ_INT(proto_status_decode(&back, j), 0);
	REQUIRE(back != NULL);
	CHECK_STR(back->id, "db-0");
	CHECK_EQ_INT(back->state, INSTANCE_RUN);
	CHECK_EQ_INT(back->health, HEALTH_STATE_HEALTHY);
	CHECK_EQ_INT(back->pid, 42);
	CHECK_EQ_INT(back->exit_code, -1);
	CHECK_EQ_INT(back->exit_signal, 9);
	CHECK_EQ_INT(back->nports, 1);
	CHECK_STR(back->ports[0].name, "http");
	CHECK_EQ_INT(back->ports[0].port, 20001);
	CHECK_EQ_INT(back->started_at, 1795000000123LL);
	CHECK(back->cgroup);
	instance_status_free(back);
	json_object_set_new(j, "state", json_string("Running"));
	CHECK_EQ_INT(proto_status_decode(&back, j), ORCH_EINVALID);
	CHECK(back == NULL);
	CHECK_CONTAINS(orch_err_last(), "state");
	json_decref(j);

	for (int i = 0; i < INSTANCE__LAST; i++)
		CHECK_EQ_INT(proto_state_parse(proto_state_name(i)), i);
	CHECK_STR(proto_state_name(INSTANCE_DESTROY), "Destroy");
	CHECK_EQ_INT(orch_signal_parse("TERM"), SIGTERM);
	CHECK_EQ_INT(orch_signal_parse("SIGKILL"), SIGKILL);
	CHECK_EQ_INT(orch_signal_parse("2"), SIGINT);
	CHECK_EQ_INT(orch_signal_parse("0"), -1);
	CHECK_EQ_INT(orch_signal_parse("NOPE"), -1);
	CHECK(!proto_name_valid(""));
	CHECK(!proto_name_valid("a/b"));
	CHECK(proto_name_valid("web-1.v2_x"));
}

CHECK_MAIN(proto_spec__defaults, proto_spec__round_trip, proto_spec__bad_input_names_the_field,
    proto_status__round_trip_and_words)
