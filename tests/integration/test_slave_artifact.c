/*
 * test_slave_artifact.c - an instance whose spec has an artifact runs
 * from the unpacked artifact dir (fetched off the loop by a worker); a
 * checksum mismatch fails the instance with a clear reason. (Fetching
 * itself is covered by the artifact module's own tests.)
 */
#include <sys/stat.h>

#include "sha256.h"
#include "slave_fixture.h"

/* DIR/build/bin/run.sh packed into DIR/app.tar.gz; *out_sha its digest. */
static int
make_artifact(char *out_sha, const char *dir)
{
	char path[700], cmd[2048];

	snprintf(path, sizeof(path), "%s/build/bin", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/build/bin/run.sh", dir);
	if (write_file(path, "#!/bin/sh\necho \"cwd=$(pwd) v=$ORCH_VERSION\"\nexec sleep 120\n") < 0 ||
	    chmod(path, 0755) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "tar -czf %s/app.tar.gz -C %s/build bin", dir, dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/app.tar.gz", dir);
	return sha256_file_hex(out_sha, path);
}

static bool
log_has(struct fx *fx, const char *id, const char *needle)
{
	struct http_result r;
	char url[256];
	bool ok;

	snprintf(url, sizeof(url), "%s/v1/instances/%s/logs", fx->url, id);
	ok = http_request(&r, "GET", url, FX_TOKEN, NULL, 0, 5000) == 0 && strstr(r.body, needle);
	http_result_free(&r);
	return ok;
}

TEST(slave_artifact__runs_from_the_artifact_dir)
{
	char sha[SHA256_HEX_LEN + 1], body[2048], want[800];
	json_t *j = NULL;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	REQUIRE(make_artifact(sha, fx.dir) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"art-0\",\"service\":\"art\",\"version\":\"1.3.0\",\"kind\":\"pet\","
	    "\"artifact\":{\"url\":\"file://%s/app.tar.gz\",\"sha256\":\"%s\"},"
	    "\"command\":[\"bin/run.sh\"],\"stop\":{\"timeout_ms\":3000}}", fx.dir, sha);
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	json_decref(j);
	CHECK(WAIT_FOR(fx_is(&fx, "art-0", "state", "Run"), FX_WAIT));
	snprintf(want, sizeof(want), "cwd=%s/artifacts/art/1.3.0 v=1.3.0", fx.data_dir);
	CHECK(WAIT_FOR(log_has(&fx, "art-0", want), FX_WAIT));
	/* A crash re-execs from the same dir without fetching again. */
	CHECK(kill((pid_t)fx_int(&fx, "art-0", "pid"), SIGKILL) == 0);
	CHECK(WAIT_FOR(fx_int(&fx, "art-0", "restarts") == 1 && fx_is(&fx, "art-0", "state", "Run"),
	    FX_WAIT));
	fx_finish(&fx);
}

TEST(slave_artifact__checksum_mismatch_fails_the_instance)
{
	char sha[SHA256_HEX_LEN + 1], body[2048];
	json_t *j = NULL, *st;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	REQUIRE(make_artifact(sha, fx.dir) == 0);
	sha[0] = sha[0] == '0' ? '1' : '0';
	snprintf(body, sizeof(body),
	    "{\"id\":\"art-1\",\"service\":\"art\",\"version\":\"1.4.0\","
	    "\"artifact\":{\"url\":\"file://%s/app.tar.gz\",\"sha256\":\"%s\"},"
	    "\"command\":[\"bin/run.sh\"]}", fx.dir, sha);
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Provision");
	json_decref(j);
	CHECK(WAIT_FOR(fx_is(&fx, "art-1", "state", "Failed"), FX_WAIT));
	st = fx_instance(&fx, "art-1");
	CHECK_CONTAINS(json_string_value(json_object_get(st, "reason")), "checksum mismatch");
	CHECK_EQ_INT(json_integer_value(json_object_get(st, "pid")), 0);
	json_decref(st);
	fx_finish(&fx);
}

CHECK_MAIN(slave_artifact__runs_from_the_artifact_dir,
    slave_artifact__checksum_mismatch_fails_the_instance)
