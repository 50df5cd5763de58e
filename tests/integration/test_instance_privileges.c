/*
 * test_instance_privileges.c - least privilege for instances (issue 12):
 * what a program started by a real slave holds. Read from /proc of the
 * instance's own process: its descriptors (0, 1, 2 and nothing of the
 * daemon's), its user and groups (a root slave runs an instance without
 * user: as --default-user, nobody by default; only user: root is root),
 * NoNewPrivs, an environment without the slave's credentials, and data
 * and artifact dirs owned by the instance's user with mode 0700.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include "cluster.h"
#include "sha256.h"
#include "slave_fixture.h"

#define SECRET "orch-secret-in-the-slaves-env-7f3a9c"

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

/* The open descriptors of pid as "0 1 2" (ascending), static buffer. */
static const char *
fd_list(long long pid)
{
	static char out[1024];
	char path[64];
	int fds[256], n = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%lld/fd", pid);
	out[0] = '\0';
	if ((d = opendir(path)) == NULL)
		return "(unreadable)";
	while ((e = readdir(d)) != NULL && n < 256)
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			fds[n++] = atoi(e->d_name);
	closedir(d);
	for (int i = 1; i < n; i++) /* insertion sort: a handful */
		for (int k = i; k > 0 && fds[k - 1] > fds[k]; k--) {
			int t = fds[k];

			fds[k] = fds[k - 1];
			fds[k - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(out);

		snprintf(out + len, sizeof(out) - len, "%s%d", i ? " " : "", fds[i]);
	}
	return out;
}

/* Whether /proc/PID/environ (NUL-separated) contains needle anywhere. */
static bool
environ_has(long long pid, const char *needle)
{
	char path[64], buf[65536];
	size_t len = 0;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%lld/environ", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return true; /* unreadable: fail the check rather than pass it */
	while (len < sizeof(buf) && (r = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)r;
	close(fd);
	return memmem(buf, len, needle, strlen(needle)) != NULL;
}

/* "U\tU\tU\tU" as /proc/PID/status shows a uid or gid everywhere. */
static const char *
ids4(unsigned id)
{
	static char buf[4][64];
	static int k;
	char *b = buf[k++ % 4];

	snprintf(b, 64, "%u\t%u\t%u\t%u", id, id, id, id);
	return b;
}

/* user's groups as initgroups() would set them, "g1 g2 ..." ascending. */
static const char *
groups_of(const char *user, gid_t gid)
{
	static char out[1024];
	gid_t g[256];
	int n = 256;

	out[0] = '\0';
	if (getgrouplist(user, gid, g, &n) < 0)
		return "(too many)";
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && g[k - 1] > g[k]; k--) {
			gid_t t = g[k];

			g[k] = g[k - 1];
			g[k - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(out);

		if (i == 0 || g[i] != g[i - 1])
			snprintf(out + len, sizeof(out) - len, "%s%u", len ? " " : "", (unsigned)g[i]);
	}
	return out;
}

/* The Groups: line of pid, sorted the same way. */
static const char *
proc_groups(long long pid)
{
	static char out[1024];
	char *v = proc_line(pid, "status", "Groups:");
	unsigned g[256];
	int n = 0, used;
	const char *p = v;

	out[0] = '\0';
	if (v == NULL)
		return "(unreadable)";
	while (n < 256 && sscanf(p, " %u%n", &g[n], &used) == 1) {
		n++;
		p += used;
	}
	free(v);
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && g[k - 1] > g[k]; k--) {
			unsigned t = g[k];

			g[k] = g[k - 1];
			g[k - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		size_t len = strlen(out);

		snprintf(out + len, sizeof(out) - len, "%s%u", i ? " " : "", g[i]);
	}
	return out;
}

/* pid has exec'd the program whose path ends in name. */
static bool
runs_exe(long long pid, const char *name)
{
	char path[64], exe[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%lld/exe", pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) <= 0)
		return false;
	exe[n] = '\0';
	return strlen(exe) >= strlen(name) && strcmp(exe + strlen(exe) - strlen(name), name) == 0;
}

static void
check_dir_owned(const char *dir, uid_t uid)
{
	struct stat st;

	REQUIRE(stat(dir, &st) == 0);
	CHECK_EQ_INT(st.st_uid, uid);
	CHECK_EQ_INT(st.st_mode & 07777, 0700);
}

static long long
instance_pid(struct cluster *cl, const char *id)
{
	json_t *j = cluster_instance(cl, id);
	long long pid = j ? json_integer_value(json_object_get(j, "pid")) : 0;

	json_decref(j);
	return pid;
}

/*
 * Through the controller: an instance without user: on a slave that has
 * ORCH_TOKEN in its environment. It holds 0, 1, 2 only; runs as nobody
 * (as the slave's own user when the slave is not root) with nobody's
 * groups and NoNewPrivs; has neither ORCH_TOKEN nor any token's value in
 * its environment; and owns its 0700 data dir.
 */
TEST(privileges__no_fd_no_root_no_token)
{
	struct cluster *cl = NULL;
	char yaml[1024], dir[1024], mine[1100], id[128];
	struct passwd *pw = getpwnam("nobody");
	bool root = geteuid() == 0;
	uid_t uid = root ? pw->pw_uid : geteuid();
	gid_t gid = root ? pw->pw_gid : getegid();
	long long pid = 0;
	char *v;

	REQUIRE(pw != NULL);
	/* The slave gets it from here (daemon_start keeps our environment). */
	REQUIRE(setenv("ORCH_TOKEN", SECRET, 1) == 0);
	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	unsetenv("ORCH_TOKEN");
	snprintf(yaml, sizeof(yaml),
	    "architecture: priv\n"
	    "version: \"1.0.0\"\n"
	    "services:\n"
	    "  plain:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"/bin/sh\", \"-c\", \"touch \\\"$${ORCH_DATA_DIR}/mine\\\" && exec sleep 120\"]\n"
	    "    restart: {limit: 10, window: 60s, backoff: 50ms, max_backoff: 200ms}\n");
	REQUIRE(cluster_commit(cl, yaml, NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	CHECK(WAIT_FOR(cluster_service_is(cl, "plain", "Run"), CL_WAIT));
	snprintf(id, sizeof(id), "%s", cluster_ids(cl, "plain"));
	REQUIRE(id[0] != '\0' && strchr(id, ',') == NULL);
	CHECK(WAIT_FOR((pid = instance_pid(cl, id)) > 0 && runs_exe(pid, "/sleep"), CL_WAIT));
	REQUIRE(pid > 0);

	/* The test means something: the slave itself has the token. */
	CHECK(environ_has(cl->slaves[0].d->pid, "ORCH_TOKEN=" SECRET));

	CHECK_STR(fd_list(pid), "0 1 2");
	v = proc_line(pid, "status", "Uid:\t");
	CHECK_STR(v, ids4(uid));
	free(v);
	v = proc_line(pid, "status", "Gid:\t");
	CHECK_STR(v, ids4(gid));
	free(v);
	if (root)
		CHECK_STR(proc_groups(pid), groups_of("nobody", gid));
	v = proc_line(pid, "status", "NoNewPrivs:\t");
	CHECK_STR(v, "1");
	free(v);
	CHECK(!environ_has(pid, "ORCH_TOKEN"));
	CHECK(!environ_has(pid, SECRET));
	CHECK(!environ_has(pid, CL_TOKEN));
	CHECK(environ_has(pid, "ORCH_INSTANCE_ID="));
	if (root) { /* nobody's home, not the slave's */
		char home[600];

		snprintf(home, sizeof(home), "HOME=%s", pw->pw_dir);
		CHECK(environ_has(pid, home));
	}

	snprintf(dir, sizeof(dir), "%s/instances/%s/data", cl->slaves[0].data_dir, id);
	check_dir_owned(dir, uid);
	snprintf(mine, sizeof(mine), "%s/mine", dir);
	CHECK(access(mine, F_OK) == 0);
	cluster_free(cl);
}

/* DIR/build/bin/run.sh (exec sleep) packed into DIR/app.tar.gz. */
static int
make_artifact(char *out_sha, const char *dir)
{
	char path[700], cmd[2048];

	snprintf(cmd, sizeof(cmd), "mkdir -p %s/build/bin", dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/build/bin/run.sh", dir);
	if (write_file(path, "#!/bin/sh\nexec sleep 120\n") < 0 || chmod(path, 0755) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "tar -czf %s/app.tar.gz -C %s/build bin", dir, dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/app.tar.gz", dir);
	return sha256_file_hex(out_sha, path);
}

static bool
healthy_run(struct fx *fx, const char *id)
{
	return fx_is(fx, id, "state", "Run") && fx_is(fx, id, "health", "healthy");
}

/*
 * --default-user: another user (daemon) for an instance without user:,
 * its artifact dir and data dir its own with 0700, and its exec health
 * check run as it too, with no_new_privs (the check passes only then).
 * user: root asks for root explicitly and gets it, still NoNewPrivs.
 * Not root: no switch at all, and user: root is refused with a reason.
 */
TEST(privileges__default_user_flag_and_explicit_root)
{
	static const char *const extra[] = {"--default-user", "daemon", NULL};
	struct passwd *pw = getpwnam("daemon");
	bool root = geteuid() == 0;
	uid_t uid;
	gid_t gid;
	char sha[SHA256_HEX_LEN + 1], body[2048], dir[1024];
	json_t *j = NULL;
	long long pid;
	struct fx fx;
	char *v;

	REQUIRE(pw != NULL);
	uid = root ? pw->pw_uid : geteuid();
	gid = root ? pw->pw_gid : getegid();
	REQUIRE(fx_start(&fx, extra) == 0);
	REQUIRE(make_artifact(sha, fx.dir) == 0);
	snprintf(body, sizeof(body),
	    "{\"id\":\"du-0\",\"service\":\"du\",\"version\":\"1.0.0\",\"kind\":\"pet\","
	    "\"artifact\":{\"url\":\"file://%s/app.tar.gz\",\"sha256\":\"%s\"},"
	    "\"command\":[\"bin/run.sh\"],"
	    "\"health\":{\"type\":\"exec\",\"command\":[\"/bin/sh\",\"-c\","
	    "\"test \\\"$(id -u)\\\" = %u && grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status\"],"
	    "\"interval_ms\":100,\"timeout_ms\":2000,\"unhealthy_threshold\":50},"
	    "\"stop\":{\"timeout_ms\":3000}}", fx.dir, sha, (unsigned)uid);
	CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
	json_decref(j);
	CHECK(WAIT_FOR(healthy_run(&fx, "du-0"), FX_WAIT));
	CHECK(WAIT_FOR((pid = fx_int(&fx, "du-0", "pid")) > 0 && runs_exe(pid, "/sleep"), FX_WAIT));
	CHECK_STR(fd_list(pid), "0 1 2");
	v = proc_line(pid, "status", "Uid:\t");
	CHECK_STR(v, ids4(uid));
	free(v);
	v = proc_line(pid, "status", "Gid:\t");
	CHECK_STR(v, ids4(gid));
	free(v);
	if (root)
		CHECK_STR(proc_groups(pid), groups_of("daemon", gid));
	v = proc_line(pid, "status", "NoNewPrivs:\t");
	CHECK_STR(v, "1");
	free(v);
	snprintf(dir, sizeof(dir), "%s/instances/du-0/data", fx.data_dir);
	check_dir_owned(dir, uid);
	snprintf(dir, sizeof(dir), "%s/artifacts/du/1.0.0", fx.data_dir);
	check_dir_owned(dir, uid);

	/* That artifact dir is daemon's now (it may have changed it): the
	 * same version is not handed to root. */
	if (root) {
		snprintf(body, sizeof(body),
		    "{\"id\":\"du-1\",\"service\":\"du\",\"version\":\"1.0.0\",\"user\":\"root\","
		    "\"artifact\":{\"url\":\"file://%s/app.tar.gz\",\"sha256\":\"%s\"},"
		    "\"command\":[\"bin/run.sh\"],\"stop\":{\"timeout_ms\":3000}}", fx.dir, sha);
		CHECK_EQ_INT(fx_post(&fx, body, &j), 201);
		json_decref(j);
		CHECK(WAIT_FOR(fx_is(&fx, "du-1", "state", "Failed"), FX_WAIT));
		j = fx_instance(&fx, "du-1");
		CHECK_CONTAINS(json_string_value(json_object_get(j, "reason")), "belongs to uid 1");
		json_decref(j);
	}

	/* Root only when the manifest says so. */
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"root-0\",\"service\":\"rt\",\"version\":\"1\","
	    "\"user\":\"root\",\"command\":[\"/bin/sleep\",\"120\"],"
	    "\"stop\":{\"timeout_ms\":3000}}", &j), 201);
	if (root) {
		CHECK_STR(json_string_value(json_object_get(j, "state")), "Run");
		pid = json_integer_value(json_object_get(j, "pid"));
		CHECK(WAIT_FOR(runs_exe(pid, "/sleep"), FX_WAIT));
		v = proc_line(pid, "status", "Uid:\t");
		CHECK_STR(v, ids4(0));
		free(v);
		v = proc_line(pid, "status", "NoNewPrivs:\t");
		CHECK_STR(v, "1");
		free(v);
		CHECK_STR(fd_list(pid), "0 1 2");
		snprintf(dir, sizeof(dir), "%s/instances/root-0/data", fx.data_dir);
		check_dir_owned(dir, 0);
	} else {
		CHECK_STR(json_string_value(json_object_get(j, "state")), "Failed");
		CHECK_CONTAINS(json_string_value(json_object_get(j, "reason")), "root");
	}
	json_decref(j);

	/* A uid stands for its user, as the manifest allows. */
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"num-0\",\"service\":\"num\",\"version\":\"1\","
	    "\"user\":\"1\",\"command\":[\"/bin/sleep\",\"120\"],"
	    "\"stop\":{\"timeout_ms\":3000}}", &j), 201);
	if (root) {
		CHECK_STR(json_string_value(json_object_get(j, "state")), "Run");
		pid = json_integer_value(json_object_get(j, "pid"));
		CHECK(WAIT_FOR(runs_exe(pid, "/sleep"), FX_WAIT));
		v = proc_line(pid, "status", "Uid:\t");
		CHECK_STR(v, ids4(1));
		free(v);
	} else {
		CHECK_STR(json_string_value(json_object_get(j, "state")), "Failed");
	}
	json_decref(j);
	fx_finish(&fx);
}

/* A root slave whose --default-user does not exist refuses to start
 * (exit 2, the name in its log): else every instance without user: would
 * fail. Not root the flag is moot (no switch) and the slave starts. */
TEST(privileges__unknown_default_user_is_refused_at_start)
{
	char *dir = NULL, *bin = daemon_binary("slave/orch-slave");
	char data[600], token[600], log[600], listen[64], name[64];
	struct daemon *d = NULL;
	int port = 0;

	REQUIRE(daemon_tmpdir(&dir, "privileges") == 0);
	REQUIRE(daemon_free_port(&port) == 0);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(token, sizeof(token), "%s/token", dir);
	snprintf(log, sizeof(log), "%s/slave.log", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(name, sizeof(name), "p%d", (int)getpid());
	REQUIRE(write_file(token, FX_TOKEN "\n") == 0);
	{
		const char *argv[] = {bin, "--name", name, "--listen", listen, "--data-dir", data,
		    "--token-file", token, "--default-user", "no-such-user-orch", NULL};

		REQUIRE(daemon_start(&d, argv, dir, log) == 0);
	}
	if (geteuid() == 0) {
		CHECK(WAIT_FOR(!daemon_running(d), FX_WAIT));
		CHECK_EQ_INT(d->status, 2);
		CHECK(daemon_log_contains(d, "--default-user: no user named \"no-such-user-orch\""));
	} else {
		CHECK(WAIT_FOR(daemon_log_contains(d, "listening"), FX_WAIT));
		CHECK_EQ_INT(daemon_stop(d, SIGTERM, FX_WAIT), 0);
	}
	daemon_free(d);
	daemon_rmtree(dir);
	free(dir);
	free(bin);
}

CHECK_MAIN(privileges__no_fd_no_root_no_token, privileges__default_user_flag_and_explicit_root,
    privileges__unknown_default_user_is_refused_at_start)
