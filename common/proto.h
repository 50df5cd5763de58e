/*
 * proto.h - the controller<->slave protocol: what the controller asks a
 * slave to run (struct instance_spec) and what a slave reports back
 * (struct instance_status), with their JSON forms (docs/slave.md).
 *
 * Decoders reject bad input with ORCH_EINVALID and a message naming the
 * field ("health.interval_ms: must be a positive integer"); they never
 * keep a partly filled object. Encoders return a new jansson reference
 * owned by the caller (json_decref it).
 */
#ifndef ORCH_PROTO_H
#define ORCH_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "spec-t.h"

#define PROTO_MAX_NAME 128     /* ids, service and port names */
#define PROTO_MAX_ARGS 1024    /* argv entries, env entries, ports */
#define PROTO_MAX_STRING 65536 /* one string */

/* The public instance states of design.md, exactly these words. */
enum instance_state {
	INSTANCE_PROVISION = 0,
	INSTANCE_READY,
	INSTANCE_RUN,
	INSTANCE_DESTROY,
	INSTANCE_FAILED,
	INSTANCE__LAST
};

enum health_state {
	HEALTH_STATE_NONE = 0, /* no check configured */
	HEALTH_STATE_STARTING, /* not yet passed healthy_threshold */
	HEALTH_STATE_HEALTHY,
	HEALTH_STATE_UNHEALTHY,
	HEALTH_STATE__LAST
};

struct instance_spec {
	char *id;
	char *service;
	char *version;
	enum orch_kind kind;
	char **command;        /* NULL-terminated; placeholders kept */
	size_t ncommand;
	struct orch_kv *env;   /* in request order; placeholders kept */
	size_t nenv;
	char **ports;          /* port names; NULL-terminated */
	size_t nports;
	char *workdir;         /* NULL: the data dir (or the artifact dir) */
	char *user;            /* NULL: do not switch */
	char *group;           /* NULL: the user's primary group */
	char *node;            /* node the controller placed it on; may be NULL */
	char *revision;        /* manifest revision; may be NULL */
	struct artifact_spec artifact;
	struct resources_spec resources;
	struct limits_spec limits;
	struct health_spec health;
	struct stop_spec stop;
	struct restart_spec restart;
};

struct instance_port {
	char *name;
	int port;
};

struct instance_status {
	char *id;
	char *service;
	char *version;
	char *node;
	enum orch_kind kind;
	enum instance_state state;
	enum health_state health;
	int pid;              /* 0 when no process runs */
	int restarts;
	int exit_code;        /* -1: none recorded */
	int exit_signal;      /* 0: none recorded */
	char *reason;         /* why the last change happened; may be NULL */
	struct instance_port *ports;
	size_t nports;
	int64_t started_at;   /* wall ms of the current process's start; 0 none */
	/* The slave's wall ms of the last change of this status: what orders
	 * the statuses of one instance that reach the controller by
	 * different roads (events, command answers, lists), all stamped by
	 * the same clock. 0: unknown. */
	int64_t changed_at;
	char *data_dir;
	int64_t backoff_ms;   /* delay before the last restart */
	bool cgroup;          /* limits enforced by a cgroup */
};

/* Decode a start request. *out is caller-owned (instance_spec_free). */
int proto_spec_decode(struct instance_spec **out, const json_t *j);
json_t *proto_spec_encode(const struct instance_spec *s);
/* Defaults of a spec with nothing set (kind cattle, no health, ...). */
void proto_spec_defaults(struct instance_spec *s);
/* Whether two specs ask for the same thing (compares their encodings). */
bool proto_spec_equal(const struct instance_spec *a, const struct instance_spec *b);
void instance_spec_free(struct instance_spec *s);

int proto_status_decode(struct instance_status **out, const json_t *j);
json_t *proto_status_encode(const struct instance_status *s);
void instance_status_free(struct instance_status *s);

/* State and health words ("Run", "healthy"); parse returns -1 if unknown. */
const char *proto_state_name(enum instance_state s);
int proto_state_parse(const char *word);
const char *proto_health_name(enum health_state h);
int proto_health_parse(const char *word);
const char *proto_kind_name(enum orch_kind k);
const char *proto_health_type_name(enum health_type t);
/* [A-Za-z0-9_.-]{1,PROTO_MAX_NAME}, not "." or "..". */
bool proto_name_valid(const char *s);

#endif
