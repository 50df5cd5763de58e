/* cluster.c - controller + slaves + git repo fixture, see cluster.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "err.h"
#include "reap.h"

/* After DELETE, how long the running slaves get to stop their instances:
 * the demo apps exit on SIGTERM within milliseconds; one that ignores it
 * would wait out its stop.timeout (10 s by default), which the last
 * resort (reap_kill) cuts short. */
#define CL_STOP_WAIT 5000
/* reap_kill's grace between SIGTERM and SIGKILL. */
#define CL_REAP_GRACE 2000

static bool
answers(const char *url)
{
	struct http_result r;
	bool ok;

	ok = http_request(&r, "GET", url, NULL, NULL, 0, 2000) == 0 && r.status == 200;
	http_result_free(&r);
	return ok;
}

int
cluster_ctl_start(struct cluster *cl)
{
	const char *argv[48];
	char *bin = daemon_binary("controller/orch-controller");
	char listen[64], status[192];
	size_t n = 0;
	int rc;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", cl->ctl_port);
	argv[n++] = bin;
	argv[n++] = "--repo";
	argv[n++] = gitrepo_path(cl->repo);
	argv[n++] = "--data-dir";
	argv[n++] = cl->ctl_data;
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--token-file";
	argv[n++] = cl->token_file;
	argv[n++] = "--node-suspect";
	argv[n++] = "1s";
	argv[n++] = "--node-lost";
	argv[n++] = "3s";
	argv[n++] = "--resync";
	argv[n++] = "1s";
	for (size_t i = 0; cl->ctl_extra && cl->ctl_extra[i] && n < 46; i++)
		argv[n++] = cl->ctl_extra[i];
	argv[n] = NULL;
	daemon_free(cl->ctl);
	cl->ctl = NULL;
	rc = daemon_start(&cl->ctl, argv, cl->dir, cl->ctl_log);
	free(bin);
	if (rc < 0)
		return rc;
	/* Public: reads need a credential (issue 12). */
	snprintf(status, sizeof(status), "%s/healthz", cl->url);
	if (!WAIT_FOR(answers(status) || !daemon_running(cl->ctl), CL_WAIT) ||
	    !daemon_running(cl->ctl))
		return orch_err_set(ORCH_ERROR, "controller did not answer /healthz");
	return 0;
}

int
cluster_ctl_stop(struct cluster *cl, int sig)
{
	if (cl->ctl == NULL)
		return -1;
	cl->ctl_exit = daemon_stop(cl->ctl, sig, CL_WAIT);
	return cl->ctl_exit;
}

int
cluster_slave_start(struct cluster *cl, size_t i)
{
	struct cluster_slave *s = &cl->slaves[i];
	const char *argv[32];
	char *bin = daemon_binary("slave/orch-slave");
	char listen[64], range[64], health[192];
	size_t n = 0;
	int rc;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	snprintf(range, sizeof(range), "%d-%d", s->port_lo, s->port_lo + 199);
	argv[n++] = bin;
	argv[n++] = "--name";
	argv[n++] = s->name;
	argv[n++] = "--controller";
	argv[n++] = cl->url;
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--data-dir";
	argv[n++] = s->data_dir;
	argv[n++] = "--token-file";
	argv[n++] = cl->token_file;
	argv[n++] = "--heartbeat";
	argv[n++] = cl->slave_heartbeat != NULL ? cl->slave_heartbeat : "300ms";
	argv[n++] = "--port-range";
	argv[n++] = range;
	argv[n] = NULL;
	daemon_free(s->d);
	s->d = NULL;
	rc = daemon_start(&s->d, argv, cl->dir, s->log);
	free(bin);
	if (rc < 0)
		return rc;
	snprintf(health, sizeof(health), "%s/healthz", s->url);
	if (!WAIT_FOR(answers(health), CL_WAIT))
		return orch_err_set(ORCH_ERROR, "slave %s did not answer /healthz", s->name);
	return 0;
}

int
cluster_slave_stop(struct cluster *cl, size_t i, int sig)
{
	if (cl->slaves[i].d == NULL)
		return -1;
	return daemon_stop(cl->slaves[i].d, sig, CL_WAIT);
}

static unsigned cluster_seq; /* clusters started by this program */

/* Clusters started and not yet freed, for free_at_exit(); a cluster
 * beyond the table's size just has no safety net. */
static struct cluster *live[8];
static pid_t live_owner; /* the test program: the pid that registered it */

/*
 * A test that stops between cluster_start() and cluster_free() (a REQUIRE
 * failing in the middle, a run of one selected TEST without the one that
 * frees) would leave the controller, the slaves and every instance
 * running after the program exits. exit() runs this, in the test program
 * only: a forked child that calls exit() must not tear down its parent's
 * cluster.
 */
static void
free_at_exit(void)
{
	if (getpid() != live_owner)
		return;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] != NULL) {
			printf("# cluster: %s was not freed by the test: freed at exit\n",
			    live[i]->dir ? live[i]->dir : "(no dir)");
			cluster_free(live[i]);
		}
}

static void
remember(struct cluster *cl)
{
	if (live_owner == 0) {
		live_owner = getpid();
		atexit(free_at_exit);
	}
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == NULL) {
			live[i] = cl;
			break;
		}
}

static void
forget(struct cluster *cl)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i] == cl)
			live[i] = NULL;
}

int
cluster_start(struct cluster **out, size_t nslaves, const char *const *ctl_extra)
{
	struct cluster *cl;
	int rc, base;

	*out = NULL;
	if (nslaves > CL_MAX_SLAVES)
		return orch_err_set(ORCH_EINVALID, "at most %d slaves", CL_MAX_SLAVES);
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	*out = cl;
	remember(cl);
	cl->ctl_extra = ctl_extra;
	cl->ctl_exit = -1;
	if ((rc = daemon_tmpdir(&cl->dir, "cluster")) < 0 ||
	    (rc = gitrepo_create(&cl->repo)) < 0)
		return rc;
	snprintf(cl->token_file, sizeof(cl->token_file), "%s/token", cl->dir);
	snprintf(cl->ctl_data, sizeof(cl->ctl_data), "%s/controller", cl->dir);
	snprintf(cl->ctl_log, sizeof(cl->ctl_log), "%s/controller.log", cl->dir);
	if ((rc = write_secret(cl->token_file, CL_TOKEN "\n")) < 0 ||
	    (rc = daemon_free_port(&cl->ctl_port)) < 0)
		return rc;
	snprintf(cl->url, sizeof(cl->url), "http://127.0.0.1:%d", cl->ctl_port);
	if ((rc = cluster_ctl_start(cl)) < 0)
		return rc;
	/* Instance ports: a range per slave, spread by pid so concurrent
	 * test programs rarely meet (the slave checks each port anyway). */
	cluster_seq++;
	base = 40000 + (int)(getpid() % 40) * 500;
	for (size_t i = 0; i < nslaves; i++) {
		struct cluster_slave *s = &cl->slaves[i];

		char name[sizeof(s->name)];

		/* Format from a local copy: gcc -Wrestrict cannot tell that
		 * s->name and s->data_dir are distinct members of *cl. */
		/* Unique per cluster: slaves of concurrent tests on one host
		 * must not share a cgroup (orch-NODE/ID) or an instance
		 * environment, and instance ids repeat across clusters. */
		snprintf(name, sizeof(name), "n%d-%u-%c", (int)getpid(), cluster_seq,
		    (char)('a' + i));
		memcpy(s->name, name, sizeof(name));
		snprintf(s->data_dir, sizeof(s->data_dir), "%s/%s", cl->dir, name);
		snprintf(s->log, sizeof(s->log), "%s/%s.log", cl->dir, name);
		s->port_lo = base + (int)i * 100;
		if ((rc = daemon_free_port(&s->port)) < 0)
			return rc;
		snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
		cl->nslaves++;
		if ((rc = cluster_slave_start(cl, i)) < 0)
			return rc;
	}
	for (size_t i = 0; i < nslaves; i++)
		if (!WAIT_FOR(cluster_node_is(cl, cl->slaves[i].name, "Ready"), CL_WAIT))
			return orch_err_set(ORCH_ERROR, "node %s never became Ready",
			    cl->slaves[i].name);
	return 0;
}

/* Whether every slave that runs lists no instance. */
static bool
slaves_empty(struct cluster *cl)
{
	for (size_t i = 0; i < cl->nslaves; i++) {
		struct cluster_slave *s = &cl->slaves[i];

		if (s->d != NULL && daemon_running(s->d) && !reap_slave_empty(s->url, CL_TOKEN))
			return false;
	}
	return true;
}

/*
 * Stop every instance, then the slaves. A slave that exits leaves its
 * instances running (docs/slave.md), and a test may have killed a slave
 * and left it dead, or failed while one was SIGSTOPped. So: each running
 * slave stops its own instances the product's way (stop signal, process
 * tree, cgroup), all slaves at once and within one deadline; then the
 * slaves stop, so none can restart a pet; then whatever is still alive is
 * killed by signal (reap.h: how a process is known to be ours).
 */
static void
stop_slaves(struct cluster *cl)
{
	size_t found;

	for (size_t i = 0; i < cl->nslaves; i++) {
		struct cluster_slave *s = &cl->slaves[i];

		if (s->d == NULL || !daemon_running(s->d))
			continue;
		/* A test that failed between its SIGSTOP and SIGCONT. */
		kill(s->d->pid, SIGCONT);
		if (reap_slave_delete_all(s->url, CL_TOKEN) < 0)
			printf("# cluster: %s: %s\n", s->name, orch_err_last());
	}
	if (!WAIT_FOR(slaves_empty(cl), CL_STOP_WAIT))
		printf("# cluster: instances still stopping after %d ms\n", CL_STOP_WAIT);
	for (size_t i = 0; i < cl->nslaves; i++) {
		struct cluster_slave *s = &cl->slaves[i];

		if (s->d != NULL && daemon_running(s->d))
			daemon_stop(s->d, SIGTERM, CL_WAIT);
		daemon_free(s->d);
		s->d = NULL;
	}
	if (cl->dir == NULL) /* cluster_start() failed before any slave */
		return;
	if (reap_kill(&found, cl->dir, CL_REAP_GRACE) < 0)
		printf("# cluster: %s\n", orch_err_last());
	else if (found > 0)
		printf("# cluster: %zu instance processes outlived their slaves: killed\n", found);
}

/* Print the last lines of a daemon's log: when a check failed, CI's
 * output then says what the controller and slaves were doing. */
static void
print_log_tail(const char *what, const struct daemon *d)
{
	char *text, *p;
	int lines = 0;

	if (d == NULL || (text = daemon_log(d)) == NULL)
		return;
	for (p = text + strlen(text); p > text && lines < 60; p--)
		if (p[-1] == '\n')
			lines++;
	printf("---- last lines of %s ----\n%s\n", what, p);
	free(text);
}

void
cluster_free(struct cluster *cl)
{
	if (cl == NULL)
		return;
	forget(cl);
	if (check_failed_total > 0) {
		print_log_tail("controller log", cl->ctl);
		for (size_t i = 0; i < cl->nslaves; i++)
			print_log_tail(cl->slaves[i].name, cl->slaves[i].d);
	}
	/* The controller first: it would otherwise restart what we stop. */
	if (cl->ctl != NULL && daemon_running(cl->ctl))
		cluster_ctl_stop(cl, SIGTERM);
	daemon_free(cl->ctl);
	stop_slaves(cl);
	gitrepo_free(cl->repo);
	if (cl->dir != NULL && getenv("ORCH_KEEP_TEST_DIRS") == NULL)
		daemon_rmtree(cl->dir);
	free(cl->dir);
	free(cl);
}

int
cluster_commit(struct cluster *cl, const char *yaml, char *out_sha)
{
	int rc;

	if ((rc = gitrepo_write(cl->repo, "orch.yaml", yaml)) < 0)
		return rc;
	return gitrepo_commit(out_sha, cl->repo, "orch.yaml update", NULL);
}

const char *
cluster_app(const char *name)
{
	static char bufs[4][512];
	static int slot;
	const char *base = getenv("ORCH_BUILD_DIR");
	char *b = bufs[slot++ % 4];

	snprintf(b, 512, "%s/examples/apps/%s", base ? base : ".", name);
	return b;
}

json_t *
cluster_call(struct cluster *cl, long *out_status, const char *method, const char *path,
    const char *body)
{
	char url[512];
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s%s", cl->url, path);
	http_json(&j, &st, method, url, CL_TOKEN, body);
	if (out_status)
		*out_status = st;
	return j;
}

json_t *
cluster_get(struct cluster *cl, const char *path)
{
	char url[512];
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s%s", cl->url, path);
	/* Reads need a credential (issue 12): the cluster's token. */
	http_json(&j, &st, "GET", url, CL_TOKEN, NULL);
	if (st != 200) {
		json_decref(j);
		return NULL;
	}
	return j;
}

long
cluster_apply(struct cluster *cl, const char *ref)
{
	char body[256];
	long st = 0;
	json_t *j;

	if (ref != NULL)
		snprintf(body, sizeof(body), "{\"ref\": \"%s\"}", ref);
	else
		snprintf(body, sizeof(body), "{}");
	j = cluster_call(cl, &st, "POST", "/v1/apply", body);
	json_decref(j);
	return st;
}

bool
cluster_service_is(struct cluster *cl, const char *service, const char *want)
{
	char path[256];
	json_t *j;
	const char *st;
	bool eq;

	snprintf(path, sizeof(path), "/v1/services/%s", service);
	if ((j = cluster_get(cl, path)) == NULL)
		return false;
	st = json_string_value(json_object_get(j, "state"));
	eq = st != NULL && strcmp(st, want) == 0;
	json_decref(j);
	return eq;
}

int
cluster_count(struct cluster *cl, const char *service, const char *state)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *list;
	int n = 0;
	size_t k;

	if (j == NULL)
		return -1;
	list = json_object_get(j, "instances");
	for (k = 0; k < json_array_size(list); k++) {
		json_t *i = json_array_get(list, k);
		const char *svc = json_string_value(json_object_get(i, "service"));
		const char *st = json_string_value(json_object_get(i, "state"));

		if (svc == NULL || strcmp(svc, service) != 0 ||
		    !json_is_true(json_object_get(i, "desired")))
			continue;
		if (state == NULL || (st && strcmp(st, state) == 0))
			n++;
	}
	json_decref(j);
	return n;
}

json_t *
cluster_instance(struct cluster *cl, const char *id)
{
	json_t *j = cluster_get(cl, "/v1/instances"), *list, *found = NULL;
	size_t k;

	if (j == NULL)
		return NULL;
	list = json_object_get(j, "instances");
	for (k = 0; k < json_array_size(list); k++) {
		json_t *i = json_array_get(list, k);
		const char *iid = json_string_value(json_object_get(i, "id"));

		if (iid && strcmp(iid, id) == 0)
			found = json_incref(i);
	}
	json_decref(j);
	return found;
}

bool
cluster_node_is(struct cluster *cl, const char *node, const char *want)
{
	json_t *j = cluster_get(cl, "/v1/nodes"), *list;
	bool eq = false;
	size_t k;

	if (j == NULL)
		return false;
	list = json_object_get(j, "nodes");
	for (k = 0; k < json_array_size(list); k++) {
		json_t *n = json_array_get(list, k);
		const char *name = json_string_value(json_object_get(n, "name"));
		const char *st = json_string_value(json_object_get(n, "state"));

		if (name && strcmp(name, node) == 0 && st && strcmp(st, want) == 0)
			eq = true;
	}
	json_decref(j);
	return eq;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *
cluster_ids(struct cluster *cl, const char *service)
{
	static char buf[4096];
	json_t *j = cluster_get(cl, "/v1/instances"), *list;
	const char *ids[256];
	size_t k, n = 0, len = 0;

	buf[0] = '\0';
	if (j == NULL)
		return buf;
	list = json_object_get(j, "instances");
	for (k = 0; k < json_array_size(list) && n < 256; k++) {
		json_t *i = json_array_get(list, k);
		const char *svc = json_string_value(json_object_get(i, "service"));

		if (svc && strcmp(svc, service) == 0 && json_is_true(json_object_get(i, "desired")))
			ids[n++] = json_string_value(json_object_get(i, "id"));
	}
	qsort(ids, n, sizeof(ids[0]), cmp_str);
	for (k = 0; k < n; k++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", k ? ", " : "",
		    ids[k]);
	json_decref(j);
	return buf;
}

long long
cluster_last_seq(struct cluster *c)
{
	json_t *j = cluster_get(c, "/v1/events?limit=1");
	long long seq = j ? json_integer_value(json_object_get(j, "last_seq")) : 0;

	json_decref(j);
	return seq;
}
