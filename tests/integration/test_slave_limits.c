/*
 * test_slave_limits.c - what an instance runs under: rlimits from
 * "limits", a cgroup with the memory and cpu limits where the host has a
 * writable one (status "cgroup" says which), and a user switch.
 */
#include <sys/stat.h>

#include "slave_fixture.h"

/* The value after "key" on its line of /proc/PID/<file>, or NULL. */
static char *
proc_line(long long pid, const char *file, const char *key)
{
	char path[64], *text, *p, *end, *r = NULL;

	snprintf(path, sizeof(path), "/proc/%lld/%s", pid, file);
	if ((text = read_file(path)) == NULL)
		return NULL;
	if ((p = strstr(text, key)) != NULL) {
		p += strlen(key);
		end = strchr(p, '\n');
		r = strndup(p, end ? (size_t)(end - p) : strlen(p));
	}
	free(text);
	return r;
}

TEST(slave_limits__rlimits_and_cgroup)
{
	json_t *j = NULL, *hz;
	long long pid;
	long st;
	char *v;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"lim-0\",\"service\":\"lim\",\"version\":\"1\","
	    "\"command\":[\"/bin/sleep\",\"120\"],\"limits\":{\"nofile\":321,\"core\":0},"
	    "\"resources\":{\"memory\":67108864,\"cpu\":0.5},\"stop\":{\"timeout_ms\":3000}}", &j), 201);
	pid = json_integer_value(json_object_get(j, "pid"));
	v = proc_line(pid, "limits", "Max open files");
	CHECK(v != NULL && strstr(v, " 321 ") != NULL);
	free(v);
	v = proc_line(pid, "limits", "Max core file size");
	CHECK(v != NULL && strstr(v, " 0 ") != NULL);
	free(v);

	/* The cgroup flag of the instance follows what the node offers. */
	hz = fx_call(&fx, &st, "GET", "/healthz", NULL);
	CHECK(json_is_true(json_object_get(hz, "cgroup")) == json_is_true(json_object_get(j, "cgroup")));
	if (json_is_true(json_object_get(j, "cgroup"))) {
		char want[128], path[700], *limit;

		/* The process sits in DATA's node cgroup, child named by id. */
		snprintf(want, sizeof(want), "/orch-%s/lim-0", fx.name);
		v = proc_line(pid, "cgroup", "memory:");
		if (v == NULL)
			v = proc_line(pid, "cgroup", "0::");
		CHECK_CONTAINS(v, want);
		if (v != NULL) {
			snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", v);
			if (access(path, F_OK) != 0)
				snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.max", v);
			limit = read_file(path);
			CHECK_STR(limit, "67108864\n");
			free(limit);
		}
		free(v);
	}
	json_decref(hz);
	json_decref(j);
	fx_finish(&fx);
}

TEST(slave_limits__user_switch)
{
	json_t *j = NULL;
	long st;
	char *v;
	struct fx fx;

	REQUIRE(fx_start(&fx, NULL) == 0);
	/* nobody must be able to reach its data dir through ours. */
	chmod(fx.dir, 0711);
	st = fx_post(&fx, "{\"id\":\"usr-0\",\"service\":\"usr\",\"version\":\"1\","
	    "\"user\":\"nobody\",\"command\":[\"/bin/sh\",\"-c\",\"touch $ORCH_DATA_DIR/mine; exec sleep 120\"],"
	    "\"stop\":{\"timeout_ms\":3000}}", &j);
	CHECK_EQ_INT(st, 201);
	if (geteuid() == 0) {
		long long pid = json_integer_value(json_object_get(j, "pid"));
		char path[700];

		CHECK_STR(json_string_value(json_object_get(j, "state")), "Run");
		v = proc_line(pid, "status", "Uid:\t");
		CHECK(v != NULL && strncmp(v, "65534\t", 6) == 0);
		free(v);
		/* Its data dir is its own. */
		snprintf(path, sizeof(path), "%s/mine",
		    json_string_value(json_object_get(j, "data_dir")));
		CHECK(WAIT_FOR(access(path, F_OK) == 0, FX_WAIT));
	} else {
		/* Not root: a clear refusal, nothing runs. */
		CHECK_STR(json_string_value(json_object_get(j, "state")), "Failed");
		CHECK_CONTAINS(json_string_value(json_object_get(j, "reason")), "root");
	}
	json_decref(j);
	/* A user that does not exist fails with its name in the reason. */
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"usr-1\",\"service\":\"usr\",\"version\":\"1\","
	    "\"user\":\"no-such-user-orch\",\"command\":[\"/bin/true\"]}", &j), 201);
	CHECK_STR(json_string_value(json_object_get(j, "state")), "Failed");
	CHECK_CONTAINS(json_string_value(json_object_get(j, "reason")), "no-such-user-orch");
	json_decref(j);
	fx_finish(&fx);
}

CHECK_MAIN(slave_limits__rlimits_and_cgroup, slave_limits__user_switch)
