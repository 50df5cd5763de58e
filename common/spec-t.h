/*
 * spec-t.h - types only: how one service's processes run and are checked.
 *
 * Shared by manifest/ (which fills them from orch.yaml) and by the
 * controller<->slave protocol (which carries them to the node agent), so
 * the two never disagree on what a health check or a restart policy is.
 * Durations are milliseconds; sizes are bytes. Strings are heap-owned by
 * the struct that holds them (freed by that struct's owner's _free()).
 */
#ifndef ORCH_SPEC_T_H
#define ORCH_SPEC_T_H

#include <stddef.h>
#include <stdint.h>

enum orch_kind {
	KIND_CATTLE = 0, /* replaced by a new instance, anywhere it fits */
	KIND_PET,        /* revived in place: stable id, node and data dir */
	KIND__LAST
};

enum health_type {
	HEALTH_NONE = 0, /* Run as soon as the process has started */
	HEALTH_HTTP,     /* GET http://127.0.0.1:PORT/path answers 2xx/3xx */
	HEALTH_TCP,      /* a TCP connect to 127.0.0.1:PORT succeeds */
	HEALTH_EXEC,     /* a command exits 0 */
	HEALTH__LAST
};

struct health_spec {
	enum health_type type;
	char *path;            /* http: request path, default "/" */
	char *port;            /* named port to probe; NULL: the first port */
	char **command;        /* exec: argv, NULL-terminated */
	size_t ncommand;
	int64_t interval_ms;   /* default 5s */
	int64_t timeout_ms;    /* default 1s */
	int64_t start_period_ms; /* failures ignored this long after start; default 0 */
	int healthy_threshold;   /* consecutive passes to become healthy; default 1 */
	int unhealthy_threshold; /* consecutive failures to become unhealthy; default 3 */
};

struct restart_spec {
	int limit;              /* restarts allowed within window; default 5 */
	int64_t window_ms;      /* default 60s */
	int64_t backoff_ms;     /* first delay after a quick crash; default 100ms */
	int64_t max_backoff_ms; /* cap of the doubling delay; default 10s */
};

struct stop_spec {
	int signal;         /* signal number sent to the process group; default SIGTERM */
	int64_t timeout_ms; /* then SIGKILL to the group; default 10s */
};

struct artifact_spec {
	char *url;    /* file://, http:// or https://; NULL when the service has none */
	char *sha256; /* 64 lower-case hex digits */
};

struct resources_spec {
	double cpu;      /* cores, e.g. 0.25; 0 = not declared */
	uint64_t memory; /* bytes; 0 = not declared */
};

/* rlimits; -1 = leave as inherited, LIMIT_UNLIMITED = RLIM_INFINITY. */
#define LIMIT_UNLIMITED INT64_MAX
struct limits_spec {
	int64_t nofile;
	int64_t nproc;
	int64_t core;
	int64_t memlock;
	int64_t stack;
	int64_t fsize;
};

/* A name=value pair (env). */
struct orch_kv {
	char *key;
	char *value;
};

#endif
