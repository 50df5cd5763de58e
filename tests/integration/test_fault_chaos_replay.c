/*
 * test_fault_chaos_replay.c - found by the chaos test (issue 11): a batch
 * of slave events sent again must not bring a removed instance back.
 *
 * A slave pushes its events until a 2xx acknowledges them. When the
 * controller takes a batch and is killed before it answers, the slave
 * sends the same batch again to the next controller: at least once, by
 * design. A batch holding an instance's last events (Run -> Destroy,
 * then removed) came back after the record was gone; the controller took
 * the first as an unknown instance: it made a record ("Provision ->
 * Destroy") for an id it had removed, sent the slave a stop for nothing,
 * and dropped it again ("removed" a second time). The event log then
 * showed a cattle id after its removal, which docs/controller.md rules
 * out (ids are never reused, so the log never mixes two instances under
 * one id). An event names an instance the controller does not know:
 * nothing to take from it; the slave's heartbeat list, which holds every
 * instance it runs, is the truth about unknown ones.
 *
 * Here: web x2, scaled to 1; the removed instance's stop and removal are
 * posted again, as its slave sent them. Nothing of it may come back: no
 * event after its removal, no record. Then an instance the controller
 * does not know, running on the slave (its heartbeat list shows it), is
 * still stopped: the list path is unchanged.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cluster.h"

static struct cluster *cl;

static const char *
manifest(int replicas)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "architecture: replay\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: %d\n"
	    "    nodes: [%s]\n"
	    "    health: {type: http, path: /healthz, interval: 200ms, timeout: 200ms}\n",
	    cluster_app("httpapp"), replicas, cl->slaves[0].name);
	return buf;
}

/* Events of instance id after seq since. */
static int
events_of(const char *id, long long since)
{
	char path[128];
	json_t *j, *e;
	size_t k;
	int n = 0;

	snprintf(path, sizeof(path), "/v1/events?since=%lld", since);
	j = cluster_call(cl, NULL, "GET", path, NULL);
	json_array_foreach(json_object_get(j, "events"), k, e)
		n += strcmp(json_string_value(json_object_get(e, "instance")) ?: "", id) == 0;
	json_decref(j);
	return n;
}

/* The two events a slave sends for an instance it stops and removes. */
static long
post_again(const char *id, long long t)
{
	char path[256], body[2048];
	json_t *j;
	long st = 0;

	snprintf(body, sizeof(body),
	    "{\"node\": \"%s\", \"events\": ["
	    "{\"time\": %lld, \"node\": \"%s\", \"instance\": \"%s\", \"service\": \"web\","
	    " \"from\": \"Run\", \"to\": \"Destroy\", \"cause\": \"stop requested\","
	    " \"revision\": null, \"status\": {\"id\": \"%s\", \"service\": \"web\","
	    " \"version\": \"1.0.0\", \"kind\": \"cattle\", \"node\": \"%s\","
	    " \"state\": \"Destroy\", \"health\": \"none\", \"pid\": 4242, \"restarts\": 0,"
	    " \"exit_code\": null, \"exit_signal\": null, \"reason\": \"stop requested\","
	    " \"ports\": {\"http\": 41001}, \"started_at\": %lld}},"
	    "{\"time\": %lld, \"node\": \"%s\", \"instance\": \"%s\", \"service\": \"web\","
	    " \"from\": \"Destroy\", \"to\": \"Destroy\", \"cause\": \"removed\","
	    " \"removed\": true}]}",
	    cl->slaves[0].name, t, cl->slaves[0].name, id, id, cl->slaves[0].name, t - 1000,
	    t + 1, cl->slaves[0].name, id);
	snprintf(path, sizeof(path), "/v1/nodes/%s/events", cl->slaves[0].name);
	j = cluster_call(cl, &st, "POST", path, body);
	json_decref(j);
	return st;
}

/* Start web-stray00 on the slave directly, behind the controller's back. */
static long
post_stray(void)
{
	char url[256];
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s/v1/instances", cl->slaves[0].url);
	http_json(&j, &st, "POST", url, CL_TOKEN,
	    "{\"id\": \"web-stray00\", \"service\": \"web\", \"version\": \"0.0.1\","
	    " \"kind\": \"cattle\", \"command\": [\"/bin/sleep\", \"120\"]}");
	json_decref(j);
	return st;
}

static bool
slave_lists(const char *id)
{
	char url[256];
	json_t *j = NULL, *i;
	long st = 0;
	size_t k;
	bool found = false;

	snprintf(url, sizeof(url), "%s/v1/instances", cl->slaves[0].url);
	http_json(&j, &st, "GET", url, CL_TOKEN, NULL);
	json_array_foreach(json_object_get(j, "instances"), k, i)
		found |= strcmp(json_string_value(json_object_get(i, "id")) ?: "", id) == 0;
	json_decref(j);
	return found || st != 200;
}

TEST(fault_chaos_replay__a_batch_sent_again_brings_nothing_back)
{
	char before[4096], gone[128] = "";
	long long seq;
	json_t *i;

	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest(2), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	snprintf(before, sizeof(before), "%s", cluster_ids(cl, "web"));
	REQUIRE(cluster_commit(cl, manifest(1), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	REQUIRE(WAIT_FOR(cluster_count(cl, "web", NULL) == 1 &&
	    strlen(cluster_ids(cl, "web")) > 0, CL_WAIT));
	/* The one of the two that is gone. */
	for (char *p = strtok(before, ", "); p != NULL; p = strtok(NULL, ", "))
		if (strstr(cluster_ids(cl, "web"), p) == NULL)
			snprintf(gone, sizeof(gone), "%s", p);
	REQUIRE(gone[0] != '\0');
	REQUIRE(WAIT_FOR((i = cluster_instance(cl, gone)) == NULL || (json_decref(i), false),
	    CL_WAIT));
	seq = cluster_last_seq(cl);
	CHECK_EQ_INT(post_again(gone, (long long)orch_wall_ms() - 5000), 200);
	/* Give a stop sent for nothing the time to come back as "removed". */
	CHECK(!WAIT_FOR(events_of(gone, seq) > 0, 3000));
	CHECK_EQ_INT(events_of(gone, seq), 0);
	i = cluster_instance(cl, gone);
	CHECK(i == NULL);
	json_decref(i);
	CHECK_EQ_INT(cluster_count(cl, "web", "Run"), 1);
	/* An instance the controller never placed, running on the slave:
	 * its heartbeat list shows it, and it is stopped. */
	CHECK(post_stray() == 201);
	CHECK(WAIT_FOR(events_of("web-stray00", seq) > 0 && !slave_lists("web-stray00"),
	    CL_WAIT));
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(fault_chaos_replay__a_batch_sent_again_brings_nothing_back)
