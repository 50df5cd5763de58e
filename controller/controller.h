/*
 * controller.h - internal interface of orch-controller, grouped by source
 * file (ntpd style). Everything runs on the one main-loop thread: the
 * HTTP server, the libcurl-multi transfers to slaves and to the alert
 * webhook, the timers and the signals are all descriptors in one epoll set
 * (loop.c). Non-static names carry the ctl_ prefix so the controller
 * library links next to the slave library in tests.
 *
 * Model: the desired state is the manifest of the last applied revision
 * plus per-service overrides (scale target); the observed state is what
 * the slaves report in heartbeats and events. reconcile.c compares the two
 * and sends commands (slaves.c). Every service and instance state change
 * goes through one setter (state.c) that writes the record and an event in
 * one store batch, so a controller killed at any moment restarts from the
 * store where it was.
 */
#ifndef ORCH_CONTROLLER_H
#define ORCH_CONTROLLER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "httpd.h"
#include "lifecycle.h"
#include "manifest.h"
#include "proto.h"
#include "store.h"
#include "tls.h"

#define CTL_MAX_BODY (4 * 1024 * 1024) /* an apply body is small; events batches are not */
#define CTL_CMD_TIMEOUT_MS 5000       /* one request to a slave */
#define CTL_CMD_WINDOW 8           /* commands on the wire per node; the rest wait
                                      * in our queue, off the clock. Matches
                                      * CURLMOPT_MAX_HOST_CONNECTIONS (loop.c) */
#define CTL_CMD_BACKOFF_MIN 250
#define CTL_CMD_BACKOFF_MAX 10000
#define CTL_UNREACHABLE_AFTER 3       /* commands in a row without an answer */
#define CTL_PROBE_MS 2000             /* reachability probe of an unreachable node */
#define CTL_ALERT_TRIES 5
#define CTL_MISSING_HEARTBEATS 2      /* absent from this many heartbeats: gone */
#define CTL_SCALE_UNSET (-1)       /* ctl_svc.scale: no person's target */
#define CTL_HIST_BUCKETS 14       /* metrics.c: 13 bounds, 0.5ms..5s, and +Inf */

/* Service, node and instance states are lifecycle/'s enums (the public
 * words of design.md); the controller moves them only through
 * lifecycle_service_set()/lifecycle_instance_set() inside its setters. */

struct ctl_config {
	const char *repo;
	const char *branch;
	const char *manifest;
	const char *data_dir;
	const char *listen;
	const char *token_file;
	bool public_read;         /* --public-read: reads need no credential */
	const char *haproxy;      /* Runtime API socket; NULL: no HAProxy (traffic.c) */
	const char *haproxy_map;  /* the map file naming each service's live backend */
	int64_t node_suspect_ms;
	int64_t node_lost_ms;
	int64_t node_heartbeat_ms; /* --node-heartbeat: the slaves' period; 0 unknown */
	int64_t resync_ms;
	int log_level;
	struct tls_files tls;     /* --tls-cert/--tls-key/--tls-ca; all or none */
};

struct ctl_node {
	struct ctl_node *next;
	char *name;
	char *address;            /* host:port of the slave API */
	enum node_state state;
	bool drain;               /* persisted; Draining wins over Ready */
	bool seen;                /* heartbeat since this controller started */
	int64_t last_hb_mono;
	int64_t last_hb_wall;
	double cpu;
	int64_t memory;
	json_t *labels;
	struct ctl_inst *placed;  /* nodes.c: the instances whose node it is */
	char *digest;             /* nodes.c: of the last full instance list */
	uint64_t list_gen;        /* nodes.c: stamp of that list's processing */
	uint64_t cmds_sent, cmds_failed;
	int cmds_in_flight;       /* slaves.c: handed to curl, at most CTL_CMD_WINDOW */
	/* slaves.c: whether commands get through. Heartbeats come from the
	 * slave, commands go to it: a half-cut link loses only the second. */
	int cmd_streak;           /* commands in a row that got no answer */
	bool unreachable;         /* CTL_UNREACHABLE_AFTER of them: no new
	                             placements, undelivered cattle go elsewhere */
	char *unreachable_why;
	int64_t probe_at;         /* mono ms of the next GET /healthz while unreachable */
	bool probing;             /* that probe is on the wire */
	char *state_error;        /* nodes.c: the slave cannot write its state
	                             file (from its heartbeat): no placements */
};

/* The controller's record of one instance: where it was placed and what
 * the slave last said about it. */
struct ctl_inst {
	struct ctl_inst *next, *prev;
	struct ctl_inst *hnext;   /* state.c: its bucket in the table by id */
	struct ctl_cmd *cmd;      /* slaves.c: its command on (or next for) the wire */
	struct ctl_node *home;    /* nodes.c: the record of its node, when there is one */
	struct ctl_inst *on_next, *on_prev; /* nodes.c: in home->placed */
	char *id;
	char *service;
	char *version;
	char *node;
	char *revision;
	char *fingerprint;        /* lifecycle_fingerprint() of its spec */
	json_t *spec;             /* the exact start request, re-sent to revive */
	double res_cpu;           /* its spec's resources, read once (ctl_inst_set_spec) */
	uint64_t res_memory;
	enum orch_kind kind;
	enum instance_state state;
	enum health_state health;
	int pid, restarts;
	int64_t started_at;
	int exit_code;            /* its last exit as its slave reports it: -1 none */
	int exit_signal;          /* 0: none */
	char *data_dir;           /* ORCH_DATA_DIR on its node; NULL unknown */
	json_t *ports;            /* {"http": 20001} */
	char *reason;
	bool gone;                /* the controller wants it destroyed */
	bool started;             /* a start command was acknowledged */
	bool removed;             /* the slave confirmed it is gone */
	bool in_flight;           /* a command is queued or in flight */
	int missing;              /* consecutive heartbeats without it */
	uint64_t listed_gen;      /* nodes.c: list_gen of the last full list holding it */
	enum instance_state obs_state; /* the state its slave last reported */
	int64_t obs_wall;         /* when what we know about it was true: the
	                             slave's changed_at of the status we took
	                             (its clock), else our receive time */
	bool obs_stamped;         /* obs_wall is the slave's changed_at */
	int64_t ready_at;         /* wall ms it last became Run; 0 unknown */
	int64_t created_mono;
	int64_t held_mono;        /* traffic.c: its stop waits for the drain; 0 none */
};

struct ctl_svc {
	struct ctl_svc *next;
	char *name;
	enum service_state state;
	enum scale_detail detail;
	char *reason;
	int scale;                /* `orchctl scale` target (0 stops every instance);
	                             CTL_SCALE_UNSET: the manifest's replicas */
	unsigned restart_gen;     /* `orchctl restart SERVICE`s so far: part of its
	                             spec (api_ops.c), persisted, kept across applies */
	bool paused;
	bool rollback;            /* its current rollout reverts (POST /v1/rollback) */
	bool promote, abort;      /* requests for the planner, until it took them */
	struct lifecycle_traffic traffic;        /* from the last plan */
	struct lifecycle_rollout_status rollout; /* from the last plan */
	int desired, ready;       /* from the last plan */
	struct lifecycle_memo memo; /* the planner's memory, stored verbatim */
	char *revision;           /* the commit whose spec it runs (its pin when pinned) */
	char *prev_revision;      /* the commit of the spec it ran before
	                             `revision`'s: the planner's previous spec */
	char *saved;              /* its record as last written (state.c) */
	char *pin;                /* rolled back: the commit whose spec it runs */
	char *rolled_back;        /* its rollout failed and was rolled back: why
	                             (its reason once Run again), until an apply */
	char traffic_err[256];    /* traffic.c: why HAProxy does not route it
	                             now ("" when it does); shown in its reason */
	uint64_t haproxy_errors;  /* traffic.c: its failed HAProxy syncs */
	/* state.c: while its instances crash-loop (plan->crashloop) their
	 * events are counted, not recorded, and one summary per minute says
	 * how many (docs/lifecycle.md, Crash loops) */
	bool crashloop;
	int64_t quiet_since;      /* mono ms the summary's minute began; 0 none */
	int quiet_events;         /* instance events not recorded since */
	int quiet_starts;         /* of them, replacements started */
	int64_t quiet_since_wall; /* quiet_since on the wall clock (stored) */
};

struct ctl_watch {
	int kind;                 /* enum in loop.c; first, as evloop.h wants */
	int fd;
};

struct ctl_cmd;
struct evloop;
struct ctl_alert;
struct ctl_pinned;
struct ctl_sse;

struct ctl {
	struct ctl_config cfg;
	char *token;              /* what it sends to slaves (creds: controller,
	                             else admin) */
	struct creds *creds;      /* who may call the API (common/creds.h) */
	struct sessions *sessions; /* the page's logins (common/session.h) */
	char actor[ORCH_PRINCIPAL_NAME_MAX + 8]; /* the API write running now,
	                             for its events; "" none */
	struct tls_server *tls_srv; /* the API's HTTPS; NULL: plain HTTP */
	struct tls_client tls;      /* calls to slaves: cfg.tls as the client */
	struct store *store;
	struct manifest_git *git;
	struct httpd *http;       /* common/httpd.h: the API, page, streams */
	struct evloop *loop;      /* epoll set, curl multi, transfers (loop.c) */
	struct ctl_watch sigw, httpdw;
	bool quit;

	struct manifest *desired; /* NULL before the first apply */
	struct manifest *prev;    /* the revision before it; NULL none */
	struct ctl_pinned *pinned; /* rollback.c: manifests of pinned commits */
	char *prev_text;
	char *desired_text;       /* its YAML, kept to reload after restart */
	char *desired_commit;
	struct git_commit_info rev;   /* of the desired revision */
	uint64_t rev_seq;         /* revisions recorded so far */
	uint64_t rev_pending;     /* revision whose outcome is not known yet */

	struct ctl_svc *svcs;
	struct ctl_inst *insts;
	struct ctl_inst *insts_tail;
	struct ctl_inst **inst_tab; /* state.c: chained hash by id */
	size_t inst_nbuckets, ninsts;
	struct ctl_node *nodes;
	struct ctl_node *nodes_removed; /* api_ops.c: `nodes rm`, freed at exit */
	uint64_t list_gens;       /* nodes.c: full instance lists taken so far */
	struct ctl_cmd *cmds;     /* slaves.c, in queue order */
	struct ctl_cmd *cmds_tail;
	struct store_batch *held; /* state.c: writes gathered by ctl_store_hold */
	struct ctl_alert *alerts; /* alerts.c: queued and in flight */
	struct ctl_sse *sse;      /* events.c: open event streams */

	int64_t start_mono;
	int64_t next_resync;
	int64_t wake_mono;        /* loop.c: the plans' earliest timer; 0 none */
	bool kick;                /* reconcile at the end of this loop turn */

	/* metrics */
	uint64_t reconciles;
	int64_t reconcile_last_us, reconcile_sum_us;
	uint64_t alerts_sent, alerts_failed;
	uint64_t applies, applies_rejected;
	uint64_t rollouts_succeeded, rollouts_failed;
	/* histograms: one count per bucket (bounds in metrics.c),
	 * the last one above them all (+Inf); not cumulative */
	uint64_t reconcile_hist[CTL_HIST_BUCKETS];
	uint64_t apply_hist[CTL_HIST_BUCKETS];
	int64_t apply_sum_us;

	/* durable.c: the store cannot be written (NULL: it can) */
	char *store_err;
	int64_t store_err_since;  /* wall ms */
	int64_t store_retry;      /* mono ms of the next re-save */
	uint64_t store_failures;  /* commits failed in this episode */
	uint64_t store_failures_total;
	uint64_t store_lost_events; /* events of failed commits, in all */

	/* traffic.c */
	int64_t traffic_next;     /* mono ms of the next HAProxy sync */
	int64_t traffic_retry;    /* after an error: no sync before this */
	char traffic_err[256];    /* the last error logged (logged once) */
	uint64_t haproxy_changes, haproxy_errors;
};

/* main.c: nothing exported. */

/* loop.c */
int ctl_loop_init(struct ctl *c);
int ctl_loop_run(struct ctl *c);
void ctl_loop_free(struct ctl *c);
typedef void (*ctl_curl_done)(struct ctl *c, void *arg, CURL *easy, CURLcode res);
/* Add a transfer; done is called once when it ends. Takes easy. */
int ctl_curl_add(struct ctl *c, CURL *easy, ctl_curl_done done, void *arg);
/* Ask for a reconcile at the end of this loop turn. */
void ctl_kick(struct ctl *c);
/* A plan's timer (lifecycle_plan.wake_at, wall ms; 0 none): reconcile at
 * that time, not at the next resync. The earliest of a pass is kept. */
void ctl_wake_at(struct ctl *c, int64_t wall_ms);

/* api.c (reads) and api_write.c (mutations) */
int ctl_api_start(struct ctl *c);
json_t *ctl_service_json(struct ctl *c, struct ctl_svc *s);
json_t *ctl_instance_json(const struct ctl_inst *i);
void ctl_api_apply(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_scale(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* Apply the manifest at ref (POST /v1/apply's work; rollback: changed
 * services go through Rollback; retry_failed: a service rolled back from
 * a failed rollout rolls that spec out again, else it stays). Fills out. */
void ctl_apply_ref(struct httpd_resp *out, struct ctl *c, const char *ref, bool dry,
    bool rollback, bool retry_failed);
/* The commit of revision seq, or NULL (caller frees). */
char *ctl_revision_commit(struct ctl *c, uint64_t seq);
void ctl_api_pause(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_promote(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_abort(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_resume(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_drain(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* The request body as a JSON object ("" is {}); NULL after a 400 reply. */
json_t *ctl_api_body(struct httpd_resp *out, const struct httpd_req *req);
void ctl_api_register(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_heartbeat(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_node_events(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_revisions(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* Set the result of revision seq ("succeeded", "failed"). */
void ctl_revision_result(struct ctl *c, uint64_t seq, const char *result);
/* Revision seq failed (a rollout of it was rolled back): result "failed"
 * and reason, and it is no longer pending. */
void ctl_revision_failed(struct ctl *c, uint64_t seq, const char *reason);
/* The same with another result ("aborted", "failed"). */
void ctl_revision_end(struct ctl *c, uint64_t seq, const char *result,
    const char *reason);
/* The newest revision of commit sha; 0 when none. */
uint64_t ctl_revision_seq(struct ctl *c, const char *sha);
/* Whether the pending revision changed service s (its outcome counts). */
bool ctl_revision_touched(struct ctl *c, const struct ctl_svc *s);
/* After a restart: a revision recorded "applied" is pending again. */
void ctl_revision_resume(struct ctl *c);

/* api_ops.c: restart, revive, forget a node; answers after the plan */
/* Plan now (what the loop would do at the end of this turn), so that an
 * answer shows the state after the request took effect. */
void ctl_replan(struct ctl *c);
/* spec with s's restart generation in its env (ORCH_RESTART=N), so that
 * its fingerprint changes with every `orchctl restart`; NULL when s was
 * never restarted (use spec). Borrows spec's strings; free with
 * ctl_restart_spec_free() after the plan that used it. */
struct service_spec *ctl_restart_spec(const struct ctl_svc *s,
    const struct service_spec *spec);
void ctl_restart_spec_free(struct service_spec *spec);
void ctl_api_restart_service(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_restart_instance(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_api_node_delete(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* Free the records of removed nodes (at exit, after the transfers). */
void ctl_nodes_removed_free(struct ctl *c);

/* state.c: the records, the one setter per kind, persistence */
struct ctl_svc *ctl_svc_find(struct ctl *c, const char *name);
struct ctl_svc *ctl_svc_get(struct ctl *c, const char *name); /* find or create */
struct ctl_inst *ctl_inst_find(struct ctl *c, const char *id);
struct ctl_node *ctl_node_find(struct ctl *c, const char *name);
/* The one setter of a service's state: no-op when unchanged; else logs,
 * persists the service and appends an event {from, to, cause}. */
void ctl_svc_set_state(struct ctl *c, struct ctl_svc *s, enum service_state st,
    const char *cause);
/* The one setter of an instance's state (same contract). */
void ctl_inst_set_state(struct ctl *c, struct ctl_inst *i, enum instance_state st,
    const char *cause);
/* Append an event without a state change on a record (node changes,
 * removals). Any of service/instance/from/to may be NULL. */
void ctl_event(struct ctl *c, const char *service, const char *instance,
    const char *from, const char *to, const char *cause);
/* An event about node (its state words, or neither). Instance events name
 * their instance's node too (ctl_event, the setters). */
void ctl_node_event(struct ctl *c, const char *node, const char *from,
    const char *to, const char *cause);
/* A crash loop's coalesced instance events: record the one summary event
 * when its minute is over, or now when force (the loop ended, or the
 * service is Failed). */
void ctl_events_coalesce_flush(struct ctl *c, struct ctl_svc *s, bool force);
void ctl_svc_save(struct ctl *c, struct ctl_svc *s);
/* Write the record only when it differs from what was last written. */
void ctl_svc_save_changed(struct ctl *c, struct ctl_svc *s);
void ctl_inst_save(struct ctl *c, struct ctl_inst *i);
void ctl_node_save(struct ctl *c, struct ctl_node *n);
/* Gather the setters' and savers' writes into one batch, committed (all
 * or nothing, in order) by ctl_store_flush: one transaction for many
 * changes. Not nested. */
void ctl_store_hold(struct ctl *c);
void ctl_store_flush(struct ctl *c);
struct ctl_inst *ctl_inst_new(struct ctl *c, const char *id, const char *service);
/* Unlink, delete from the store, free. */
void ctl_inst_drop(struct ctl *c, struct ctl_inst *i);
void ctl_svc_drop(struct ctl *c, struct ctl_svc *s);
void ctl_inst_free(struct ctl_inst *i);
void ctl_svc_free(struct ctl_svc *s);
void ctl_node_free(struct ctl_node *n);
/* Give i its start request (owned from now on) and cache its resources:
 * the scheduler sums them on every pass. */
void ctl_inst_set_spec(struct ctl_inst *i, json_t *spec);
/* Take what a slave said about an instance (status object). */
void ctl_inst_observe(struct ctl *c, struct ctl_inst *i, const struct instance_status *st);
/* Load everything from the store at start-up. */
int ctl_state_load(struct ctl *c);
/* Record the desired manifest (text + commit) durably. */
int ctl_desired_save(struct ctl *c);
/* Write every record in memory (desired state, services, instances,
 * nodes) in one batch: how the store catches up after it could not be
 * written. 0 or the store's error. */
int ctl_store_resave(struct ctl *c);
void ctl_state_free(struct ctl *c);

/* nodes.c */
/* Register or heartbeat: body is the slave's node description. */
int ctl_node_report(struct ctl *c, const char *name, const json_t *body,
    bool registering);
/* A batch of instance events pushed by a slave. */
int ctl_node_events(struct ctl *c, const char *name, const json_t *body);
/* Age the heartbeats: Ready -> Suspect -> Lost. Returns the next due time. */
int64_t ctl_nodes_tick(struct ctl *c, int64_t now);
void ctl_node_set_state(struct ctl *c, struct ctl_node *n, enum node_state st,
    const char *cause);
bool ctl_node_usable(const struct ctl_node *n); /* takes new placements */
/* The one way to set i->node (NULL: none): it keeps each node's list of
 * its instances, so a heartbeat visits the node's instances only. */
void ctl_inst_set_node(struct ctl *c, struct ctl_inst *i, const char *name);
/* i leaves its node's list (before it is freed). */
void ctl_inst_unplace(struct ctl_inst *i);
/* A node record just made: its list takes the instances naming it. */
void ctl_node_adopt(struct ctl *c, struct ctl_node *n);
/* Every node as the scheduler sees it, sorted by name, with the resources
 * its live instances hold (used_cpu, used_memory): one pass over the
 * instances. Free with free(); the names point into the records. */
struct lifecycle_node *ctl_nodes_input(struct ctl *c, size_t *out_n);
/* The entry named name in such an array, or NULL. */
struct lifecycle_node *ctl_nodes_input_find(struct lifecycle_node *v, size_t n,
    const char *name);

/* slaves.c */
int ctl_slave_start(struct ctl *c, struct ctl_inst *i);
int ctl_slave_stop(struct ctl *c, struct ctl_inst *i);
int64_t ctl_slaves_tick(struct ctl *c, int64_t now);
/* The node as the scheduler sees it: a node that heartbeats but that
 * commands cannot reach is Suspect (keep what runs, place nothing). */
enum node_state ctl_node_sched_state(const struct ctl_node *n);
void ctl_slaves_free(struct ctl *c);
/* Cancel queued commands of an instance about to be dropped. */
void ctl_slaves_forget(struct ctl *c, struct ctl_inst *i);

/* rollback.c: POST /v1/rollback, per-service pins */
void ctl_api_rollback(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* The spec service name runs: the desired manifest's, or the one of the
 * revision it is rolled back to. NULL when not in the desired manifest. */
const struct service_spec *ctl_spec(struct ctl *c, const char *name);
/* Revert service name to its previous version, with the dependents the
 * revert would break (the planner asked: a failed rollout). 0 or an
 * ORCH_E* with a message; changes nothing on failure. */
int ctl_rollback_service(struct ctl *c, const char *name);
/* Forget every pin (a new apply) and the manifests they held. */
void ctl_pins_clear(struct ctl *c);
/* The spec service name ran before the one it runs now (its
 * prev_revision's), for the planner's old set; NULL when none. */
const struct service_spec *ctl_prev_spec(struct ctl *c, const char *name);
/* The spec of service name at commit sha (NULL with orch_err set). */
const struct service_spec *ctl_spec_at(struct ctl *c, const char *sha, const char *name);

/* reconcile.c */
void ctl_reconcile(struct ctl *c);
/* Build the start request of instance id of service s (caller owns). */
json_t *ctl_spec_json(struct ctl *c, const struct service_spec *s, const char *id,
    const char *node);

/* durable.c: a store that cannot be written (disk full, I/O error) */
/* A commit of b failed (orch_err_last() says why): the store is
 * degraded until ctl_store_tick re-saves everything. */
void ctl_store_failed(struct ctl *c, const struct store_batch *b);
/* While degraded, re-save everything once a second; the next due time. */
int64_t ctl_store_tick(struct ctl *c, int64_t now);
/* httpd guard/after hooks: an operator's write is refused (507) while
 * the store cannot be written, and not acknowledged when it failed. */
bool ctl_api_guard(struct httpd_resp *out, const struct httpd_req *req,
    const struct httpd_route *route, void *arg);
void ctl_api_after(struct httpd_resp *out, const struct httpd_req *req,
    const struct httpd_route *route, void *arg);
/* {"writable", "error", "since", "failed_writes", "lost_events"} */
json_t *ctl_store_json(const struct ctl *c);

/* traffic.c: HAProxy servers, weights and switches from the plans */
/* A stop of gone instance i is about to go out: true when it must wait
 * (--haproxy and the service has a port); the sync then drains and
 * deletes its server and sends the stop itself, at the latest after a
 * bound. false: send it now. */
bool ctl_traffic_hold(struct ctl *c, struct ctl_inst *i);
/* Bring HAProxy in line with the instances and plans now (after each
 * reconcile); every call bounded, errors retried a second later. */
void ctl_traffic_sync(struct ctl *c);
/* Sync when due; the next due time (-1: no HAProxy). */
int64_t ctl_traffic_tick(struct ctl *c, int64_t now);

/* events.c: event log reads, Server-Sent Events */
void ctl_api_events(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* GET /v1/events/stream: a stream that stays open (httpd_reply_stream). */
void ctl_api_events_stream(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* New events are in the store: wake the idle streams. */
void ctl_sse_wake(struct ctl *c);
/* Keep-alive comments for idle streams; the next due time. */
int64_t ctl_sse_tick(struct ctl *c, int64_t now);

/* logs.c: GET /v1/instances/ID/logs, forwarded to the instance's slave */
void ctl_api_logs(struct httpd_resp *out, const struct httpd_req *req, void *arg);

/* metrics.c */
void ctl_api_metrics(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* Count a duration of us microseconds into hist (CTL_HIST_BUCKETS long). */
void ctl_metrics_observe(uint64_t *hist, int64_t us);

/* web.c: the status page, compiled in (routes "/" and "/assets/:file") */
void ctl_web_serve(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* POST /v1/login {"token"}: a session cookie for a read or admin token;
 * POST /v1/logout ends it (web.c). */
void ctl_web_login(struct httpd_resp *out, const struct httpd_req *req, void *arg);
void ctl_web_logout(struct httpd_resp *out, const struct httpd_req *req, void *arg);
/* The route table (api.c), for the tests that check every route. */
extern const struct httpd_route ctl_api_routes[];
extern const size_t ctl_api_nroutes;

/* alerts.c */
/* POST {kind, service, instance, node, message, time} to alerts.webhook,
 * retried with backoff; never blocks. No webhook: logged only. */
void ctl_alert(struct ctl *c, const char *kind, const char *service,
    const char *node, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int64_t ctl_alerts_tick(struct ctl *c, int64_t now);
void ctl_alerts_free(struct ctl *c);

#endif
