/*
 * slave.h - internal interface of orch-slave, grouped by source file
 * (ntpd style). Everything here runs on the one main-loop thread, except
 * the artifact fetch worker, which touches only its own struct fetch.
 *
 * An instance moves through finer internal states than the five public
 * words; inst_state_word() translates (systemd's state_translation_table).
 * Every change goes through inst_set_state(), which logs "old -> new",
 * queues an event for the controller and marks the state file dirty.
 */
#ifndef ORCH_SLAVE_H
#define ORCH_SLAVE_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "httpd.h"
#include "proto.h"
#include "tls.h"

#define SLAVE_STABLE_MS 1000      /* a run at least this long that was Run restarts at once */
#define SLAVE_LOG_TAIL (64 * 1024)
#define SLAVE_MAX_INSTANCES 4096

enum inst_state {
	IST_PROVISION,  /* dirs, ports, artifact being prepared   -> Provision */
	IST_STARTING,   /* process started, not yet healthy       -> Ready */
	IST_RUNNING,    /* healthy, or no health check            -> Run */
	IST_BACKOFF,    /* exited, restart due at restart_at      -> Provision */
	IST_RESTARTING, /* unhealthy pet being stopped to restart -> Ready */
	IST_STOPPING,   /* DELETE: stopping, then removed         -> Destroy */
	IST_FAILED,     /* given up (cattle exit, limit hit)      -> Failed */
	IST__LAST
};

/* What one epoll registration points at (libcurl's sockets are
 * common/evloop's own). */
enum watch_kind {
	W_SIGNAL, W_HTTPD, W_PIDFD, W_TCPCHECK, W_FETCH, W__LAST
};

struct watch {
	int kind;      /* enum watch_kind; first, as evloop.h wants */
	int fd;
	void *ptr;     /* struct instance for W_PIDFD/W_TCPCHECK */
};

/* A running health probe; at most one per instance. */
struct probe {
	enum health_type type;   /* HEALTH_NONE: idle */
	int64_t started;         /* mono ms */
	int64_t deadline;        /* mono ms */
	pid_t pid;               /* exec */
	struct watch w;          /* tcp: the connecting socket */
	CURL *easy;              /* http */
};

/* Artifact fetch done off the loop thread (artifact_fetch blocks). */
struct fetch {
	pthread_t thread;
	bool running;
	int done;                /* set by the worker (atomic) */
	int rc;
	char *dir;               /* result */
	char err[512];
	struct instance_spec *spec; /* the worker's own copy */
	char *data_dir;
	int notify_fd;           /* write end; one byte when done */
};

struct instance {
	struct instance *next;
	struct instance_spec *spec;
	char *spec_text;         /* spec as compact JSON, encoded once, for the state file */
	enum inst_state state;
	enum health_state health;
	char *dir;               /* DATA/instances/ID */
	char *data_dir;          /* DATA/instances/ID/data: ORCH_DATA_DIR */
	char *artifact_dir;      /* NULL without an artifact */
	char *cwd;
	char *out_path, *err_path;
	int *ports;              /* parallel to spec->ports */
	/* Prepared once per start request and reused by every restart, so a
	 * crash -> exec needs no allocation (see spawn.c). */
	char **argv, **envp, **hargv;
	bool switch_user;
	uid_t uid;
	gid_t gid;
	gid_t *groups;           /* supplementary groups of uid (getgrouplist) */
	int ngroups;
	char *home;              /* the user's home dir when switching, else NULL */
	char *cgroup_dirs[2];    /* memory/cpu (v1) or the one v2 dir; NULL none */
	pid_t pid;               /* 0: no process */
	uint64_t starttime;      /* /proc/PID/stat field 22: pid identity */
	int pidfd;               /* re-adopted processes: -1 otherwise */
	bool adopted;            /* not our child (re-adopted after a slave restart) */
	int64_t alive_check_at;  /* adopted without a pidfd: next /proc check */
	struct watch pidw;
	int64_t started_mono, started_wall;
	int64_t changed_wall;    /* wall ms of the status's last change (proto changed_at) */
	int restarts;
	int64_t *restart_times;  /* mono ms of restarts inside the window, oldest first */
	size_t nrt, crt;         /* count, capacity */
	int streak;              /* consecutive quick crashes */
	int64_t backoff_ms;
	int64_t restart_at;      /* IST_BACKOFF: mono deadline */
	int64_t kill_at;         /* stopping: SIGKILL deadline; 0 none */
	int exit_code, exit_signal;
	char *reason;
	struct probe probe;
	int hpass, hfail;
	int64_t health_at;       /* next probe, mono ms */
	struct fetch *fetch;
	bool removed;            /* stopped: free at the end of this loop turn */
};

struct slave_config {
	const char *name;
	const char *controller;  /* NULL: standalone */
	const char *listen;
	const char *address;     /* as reported; default listen */
	const char *data_dir;
	char *token;             /* what it sends to the controller */
	char **labels;           /* "k=v" */
	size_t nlabels;
	double cpu;
	uint64_t memory;
	int port_lo, port_hi;
	int64_t heartbeat_ms;
	size_t max_body;
	int64_t idle_timeout_ms;
	uint64_t log_max;
	bool no_cgroup;
	/* Who instances without user: run as when the slave is root (issue
	 * 12: never root by default); "nobody" unless --default-user. */
	const char *default_user;
	struct tls_files tls;    /* --tls-cert/--tls-key/--tls-ca; all or none */
};

struct metrics {
	uint64_t starts, stops, restarts, failures, spawn_errors;
	uint64_t checks[HEALTH__LAST], check_failures[HEALTH__LAST];
	uint64_t check_ms_sum[HEALTH__LAST];
	uint64_t events_sent, events_dropped, heartbeats_ok, heartbeats_failed;
	uint64_t heartbeat_lists;   /* acknowledged heartbeats with the list */
};

struct report;
struct evloop;

struct slave {
	struct slave_config cfg;
	char address[160];       /* what cfg.address points to once listening */
	struct creds *creds;     /* who may call the API (main.c, api.c) */
	struct tls_server *tls_srv; /* the API's HTTPS; NULL: plain HTTP */
	struct tls_client tls;      /* reports to the controller: cfg.tls */
	struct evloop *loop;     /* epoll set, curl multi, transfers (loop.c) */
	struct watch sigw;
	struct httpd *httpd;
	struct watch httpdw;
	struct instance *instances;
	size_t ninstances;
	int next_port;
	bool state_dirty;
	/* state.c: the state file cannot be written (disk full, I/O error):
	 * why, since when, how many writes failed. Starts and stops are then
	 * refused (507) until a write succeeds; retried once a second. */
	char *state_err;
	int64_t state_err_since;  /* wall ms */
	int64_t state_retry_at;   /* mono ms */
	uint64_t state_failures;  /* writes failed in this episode */
	uint64_t state_failures_total;
	struct slave_ack *acks;   /* api.c: answers waiting for the state file */
	struct orphan_leader *leaders; /* orphan.c: instance sessions found by
	                                  their environment (state_load only) */
	size_t nleaders;
	bool leaders_scanned;
	bool quit;
	int cgroup_mode;         /* 0 none, 1 v1, 2 v2 */
	char *cgroup_base[2];
	char **cg_pending;       /* instance cgroups still emptying: rmdir later */
	size_t ncg_pending;
	struct report *report;
	struct metrics m;
	int fetch_pipe[2];
	struct watch fetchw;
};

/* loop.c */
int loop_init(struct slave *s);
int loop_run(struct slave *s);
void loop_free(struct slave *s);
int loop_watch(struct slave *s, struct watch *w, uint32_t events);
void loop_unwatch(struct slave *s, struct watch *w);
/* Add a libcurl easy handle; done(arg, easy, result) runs when it ends,
 * then the handle is removed and cleaned up by the loop. */
typedef void (*curl_done_fn)(struct slave *s, void *arg, CURL *easy, CURLcode res);
int loop_curl_add(struct slave *s, CURL *easy, curl_done_fn done, void *arg);
void loop_curl_cancel(struct slave *s, CURL *easy);

/* instance.c */
const char *inst_state_word(enum inst_state st);
enum instance_state inst_public_state(enum inst_state st);
void inst_set_state(struct slave *s, struct instance *in, enum inst_state st,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct instance *inst_find(struct slave *s, const char *id);
/* Handle a start request (idempotent by id); *out_created tells 201/200. */
int inst_start(struct instance **out, bool *out_created, struct slave *s,
    struct instance_spec *spec);
int inst_stop(struct slave *s, struct instance *in);
void inst_set_health(struct slave *s, struct instance *in, enum health_state h);
json_t *inst_status_json(const struct slave *s, const struct instance *in);
json_t *inst_list_json(const struct slave *s);
struct instance *inst_new(struct slave *s, struct instance_spec *spec);
void inst_free(struct slave *s, struct instance *in);
void inst_reap_removed(struct slave *s);
/* Provision finished (artifact ready or none), or a restart is due:
 * prepare and spawn. after: why the previous process ended, for a
 * restart ("killed by signal 9"), else NULL; it leads the reason. */
void inst_launch(struct slave *s, struct instance *in, const char *after);
/* Fetch the artifact if the spec has one (off the loop), then launch. */
void inst_provision(struct slave *s, struct instance *in);
void inst_fetch_done(struct slave *s);

/* spawn.c */
/* Every ${...} of spec's command, env and health.command can be expanded:
 * 0, or ORCH_EINVALID naming the field. */
int spawn_check(const struct instance_spec *spec);
/* Build argv/envp/hargv, dirs and ports for in; 0 or error with message. */
int spawn_prepare(struct slave *s, struct instance *in);
/* fork/exec in's prepared command; sets in->pid, starttime, started_*. */
int spawn_exec(struct slave *s, struct instance *in);
/* Expand ${...} placeholders of in; *out is malloc'd. */
int spawn_expand(char **out, const struct slave *s, const struct instance *in,
    const char *text);
/* fork/exec an argv with output to /dev/null, new process group. */
int spawn_helper(pid_t *out, char *const argv[], char *const envp[], const char *cwd,
    const struct instance *as);
void spawn_free_prepared(struct instance *in);
int port_alloc(int *out, struct slave *s);

/* supervise.c */
/* Reap every exited child and dispatch; called on SIGCHLD. */
void sv_reap(struct slave *s);
/* The instance's main process is gone (status from waitpid or -1 unknown). */
void sv_exited(struct slave *s, struct instance *in, int status, bool known);
/* Send the stop signal to everything of in; escalate at kill_at. */
void sv_signal_tree(struct slave *s, struct instance *in, int sig);
void sv_begin_stop(struct slave *s, struct instance *in);
/* Timers: backoff restarts and SIGKILL escalation; returns next deadline. */
int64_t sv_tick(struct slave *s, int64_t now);
uint64_t sv_proc_starttime(pid_t pid);
void sv_pidfd_ready(struct slave *s, struct instance *in);
/* How in's last process ended, from exit_code/exit_signal: "killed by
 * signal 9", "exit status 1", "exited, status unknown (...)". */
void sv_describe_exit(char *buf, size_t len, const struct instance *in);
/* One process as /proc/PID/stat tells it; mark: chosen by the caller. */
struct pinfo {
	pid_t pid, ppid, pgrp, sid;
	bool mark;
};
/* Every process but init and us into *out (caller frees, even when the
 * count is 0), marks cleared. */
size_t sv_proc_scan(struct pinfo **out);
/* Mark, to a fixpoint, the children of marked processes and the members
 * of groups and sessions that a marked process leads. */
void sv_proc_close(struct pinfo *v, size_t n);

/* orphan.c */
/* At start, after state_load and before the slave serves or reports:
 * stop the processes of this node's data dir whose instance the state
 * file does not list (see orphan.c for why stop, not re-adopt). */
void orphan_sweep(struct slave *s);
/* The live process leading instance id's session (spawn.c: setsid), found
 * by its environment; 0 when none. For state_load: a pet revived after
 * the state file's last write has a pid the file does not know (one scan
 * of /proc for all of them, freed by orphan_sweep). */
pid_t orphan_find_leader(struct slave *s, const char *id);

/* health.c */
int64_t health_tick(struct slave *s, int64_t now);
void health_tcp_ready(struct slave *s, struct instance *in);
/* An exec probe child exited; true when pid belonged to a probe. */
bool health_exec_reaped(struct slave *s, pid_t pid, int status);
void health_cancel(struct slave *s, struct instance *in);
void health_reset(struct slave *s, struct instance *in);

/* api.c */
extern const struct httpd_route api_routes[];
extern const size_t api_nroutes;
/* Start s->httpd on cfg.listen with the routes above. */
int api_start(struct slave *s);

/* state.c */
/* api.c: answer the requests whose change the state file now holds
 * (after state_save; also at exit). */
void api_acks_flush(struct slave *s);
int state_save(struct slave *s);
int state_load(struct slave *s);

/* report.c */
int report_init(struct slave *s);
void report_free(struct slave *s);
int64_t report_tick(struct slave *s, int64_t now);
/* Queue an event (j is stolen) and try to push it now. */
void report_event(struct slave *s, json_t *j);

/* metrics.c */
char *metrics_render(const struct slave *s);

/* cgroup.c */
void cgroup_detect(struct slave *s);
/* Create the instance's cgroup(s) and write its limits; false: unavailable. */
bool cgroup_setup(struct slave *s, struct instance *in);
/* Called in the child between fork and exec: join the cgroup. */
void cgroup_join_child(const struct instance *in);
/* Pids in the instance's cgroup into out (up to max); count. */
size_t cgroup_pids(pid_t *out, size_t max, const struct instance *in);
void cgroup_remove(struct slave *s, struct instance *in);
/* Retry removing cgroups whose last processes were still exiting. */
void cgroup_retry(struct slave *s);
/* For each process in the cgroup of an instance the slave does not know
 * (an id not in its table: a lost state file), fn(arg, id, pid); the
 * count. They are found even when their environment was scrubbed. */
size_t cgroup_strays(struct slave *s, void (*fn)(void *arg, const char *id, pid_t pid),
    void *arg);
/* Remove the now empty cgroups of instances the slave does not know. */
void cgroup_remove_strays(struct slave *s);
void cgroup_free(struct slave *s);

/* logfile.c */
/* Rotate every instance log over cfg.log_max (copytruncate). */
void logfile_rotate(struct slave *s);
/* Tail of a log into *out (malloc'd). */
int logfile_tail(char **out, size_t *out_len, const char *path, size_t max);

#endif
