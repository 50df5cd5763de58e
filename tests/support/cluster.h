/*
 * cluster.h - integration-test fixture: a real orch-controller, N real
 * orch-slaves and a real git repository, all on loopback in one fresh
 * temp dir (redis's tests/support/server.tcl, one level up).
 *
 *   struct cluster *cl;
 *   cluster_start(&cl, 2, NULL);                 controller + 2 slaves
 *   cluster_commit(cl, yaml, sha);               orch.yaml, committed
 *   cluster_call(cl, &st, "POST", "/v1/apply", "{}");
 *   WAIT_FOR(cluster_service_is(cl, "web", "Run"), CL_WAIT);
 *   cluster_free(cl);                            everything stopped, removed
 *
 * The controller runs with short node timeouts (suspect 1s, lost 3s,
 * resync 1s) and the slaves heartbeat every 300ms, so failure tests take
 * seconds. cluster_free() stops the controller with SIGTERM (recording
 * whether it exited 0 - under ASan, no leak - in cl->ctl_exit), deletes
 * every instance through each slave that still runs, stops the slaves,
 * and then kills any instance process still alive, such as those of a
 * slave the test killed (reap.h), so that no process outlives the test.
 * A cluster the test never frees is freed at exit(). Functions return 0
 * or a negative ORCH_E*.
 */
#ifndef ORCH_TEST_CLUSTER_H
#define ORCH_TEST_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon.h"
#include "gitrepo.h"

#define CL_TOKEN "cluster-token-0123456789abcdef"
#define CL_WAIT 30000       /* generous: 2 cores shared by many builds */
#define CL_MAX_SLAVES 4

struct cluster_slave {
	char name[64];        /* "n<pid>-<seq>-a": unique on the host */
	char data_dir[512];
	char log[512];
	char url[128];
	int port;
	int port_lo;          /* its own instance port range */
	struct daemon *d;
};

struct cluster {
	char *dir;
	struct gitrepo *repo;
	char token_file[512];
	char ctl_data[512];
	char ctl_log[512];
	char url[128];        /* http://127.0.0.1:PORT of the controller */
	int ctl_port;
	const char *const *ctl_extra; /* extra controller args, NULL-terminated */
	const char *slave_heartbeat;  /* the slaves' --heartbeat; NULL: 300ms */
	struct daemon *ctl;
	int ctl_exit;         /* exit status of the last controller stop */
	size_t nslaves;
	struct cluster_slave slaves[CL_MAX_SLAVES];
};

/* Start a controller (extra args may be NULL; they must outlive the
 * cluster: restarts reuse them) and nslaves slaves, and
 * wait until every slave is a Ready node. */
int cluster_start(struct cluster **out, size_t nslaves, const char *const *ctl_extra);
/* (Re)start the controller on the same data dir and port; waits until
 * it answers. */
int cluster_ctl_start(struct cluster *cl);
/* Stop the controller with sig (SIGTERM, SIGKILL); the exit status. */
int cluster_ctl_stop(struct cluster *cl, int sig);
/* (Re)start slave i on its data dir and port; waits for /healthz. */
int cluster_slave_start(struct cluster *cl, size_t i);
/* Stop slave i with sig; the exit status. */
int cluster_slave_stop(struct cluster *cl, size_t i, int sig);
void cluster_free(struct cluster *cl);

/* Write orch.yaml with text and commit it; out_sha (41 bytes) may be NULL. */
int cluster_commit(struct cluster *cl, const char *yaml, char *out_sha);
/* $ORCH_BUILD_DIR/examples/apps/NAME (static buffer, one per name). */
const char *cluster_app(const char *name);

/* METHOD path on the controller with the token; the JSON answer (caller
 * decrefs) or NULL; *out_status the HTTP status (0: no answer). */
json_t *cluster_call(struct cluster *cl, long *out_status, const char *method,
    const char *path, const char *body);
/* GET path with the token (reads need one); the answer when 200. */
json_t *cluster_get(struct cluster *cl, const char *path);
/* POST /v1/apply {"ref": ref or branch head}; the HTTP status. */
long cluster_apply(struct cluster *cl, const char *ref);

/* The service's state word is want. */
bool cluster_service_is(struct cluster *cl, const char *service, const char *want);
/* Desired (not being destroyed) instances of service in state (NULL: any). */
int cluster_count(struct cluster *cl, const char *service, const char *state);
/* The instance object from /v1/instances (caller decrefs), or NULL. */
json_t *cluster_instance(struct cluster *cl, const char *id);
/* A node's state word is want. */
bool cluster_node_is(struct cluster *cl, const char *node, const char *want);
/* The ids of service's desired instances, as a sorted ", "-joined string
 * (static buffer) for comparing sets. */
const char *cluster_ids(struct cluster *cl, const char *service);

/* The seq of the controller's last event (0 when none or unreachable). */
long long cluster_last_seq(struct cluster *c);

#endif
