/*
 * manifest.h - the interface of manifest/: orch.yaml -> typed structs,
 * strict validation, semver constraints, dependency graph, diff, and the
 * git source. Nothing here does I/O except manifest_load_file() and the
 * manifest_git_*() functions.
 *
 * Conventions (common/err.h): functions return 0 or a negative ORCH_E*
 * code with a message in orch_err_last(). What comes back through an out
 * pointer belongs to the caller and has a _free() that accepts NULL.
 *
 * Files:  parse.c (YAML -> node tree, limits)  spec.c (tree -> structs,
 *         defaults, field validation)  semver.c  graph.c  diff.c  git.c
 *         errors.c (error list)
 */
#ifndef ORCH_MANIFEST_H
#define ORCH_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec-t.h"

/* Limits against hostile input (documented in docs/manifest.md). */
#define MANIFEST_MAX_BYTES   (1024 * 1024) /* file size */
#define MANIFEST_MAX_DEPTH   32            /* nesting of maps/sequences */
#define MANIFEST_MAX_NODES   100000        /* nodes after alias expansion */
#define MANIFEST_MAX_SERVICES 1000
#define MANIFEST_MAX_REPLICAS 100000

/* ---- positions and errors ------------------------------------------- */

/* 1-based line and column in the source file; 0/0 when unknown. */
struct mpos {
	int line;
	int col;
};

struct manifest_error {
	char *file;  /* as given to the loader */
	struct mpos pos;
	char *path;  /* field path, e.g. "services.web.health.interval" */
	char *msg;
};

/* All errors of one load, in source order. */
struct manifest_errors {
	struct manifest_error *v;
	size_t n, cap;
};

void manifest_errors_init(struct manifest_errors *e);
void manifest_errors_free(struct manifest_errors *e); /* frees contents */
/* Append one error (copies every string). */
void manifest_errors_add(struct manifest_errors *e, const char *file,
    struct mpos pos, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Sort by line, then column (stable). */
void manifest_errors_sort(struct manifest_errors *e);
/* "file:line:col: path: message" into buf. */
void manifest_error_format(char *buf, size_t len, const struct manifest_error *err);

/* ---- semver ---------------------------------------------------------- */

struct semver {
	uint64_t major, minor, patch;
	char pre[64];   /* pre-release ("rc.1"), "" when none */
	char build[64]; /* build metadata, ignored by comparison */
};

/* Parse "MAJOR.MINOR.PATCH[-pre][+build]" (semver.org 2.0.0, no leading
 * "v", no leading zeros). 0 or ORCH_EINVALID with a message. */
int semver_parse(struct semver *out, const char *s);
/* <0, 0, >0 by semver precedence. */
int semver_cmp(const struct semver *a, const struct semver *b);
void semver_format(char *buf, size_t len, const struct semver *v);

/*
 * A constraint range as npm/Cargo write them: comparators separated by
 * spaces are ANDed, "||" separates alternatives. Comparators: =, >, >=, <,
 * <=, ^X[.Y[.Z]], ~X[.Y[.Z]], X, X.Y, X.Y.Z, X.x, *. Parse failures give
 * ORCH_EINVALID with a message.
 */
int semver_range_check(const char *range); /* validate syntax only */
/* *out = whether v satisfies range. Pre-releases match only comparators
 * that name a pre-release of the same MAJOR.MINOR.PATCH (npm rule). */
int semver_satisfies(bool *out, const char *range, const struct semver *v);

/* ---- the manifest ---------------------------------------------------- */

enum strategy_type {
	STRATEGY_ROLLING = 0,
	STRATEGY_RECREATE,
	STRATEGY_BLUE_GREEN,
	STRATEGY_CANARY,
	STRATEGY__LAST
};

/* A count or a percentage of replicas ("1", "25%"). */
struct count_or_pct {
	int value;
	bool percent;
};

struct canary_step {
	int weight;       /* 1..100, strictly rising */
	int64_t pause_ms; /* -1: wait for `orchctl promote` */
};

struct strategy_spec {
	enum strategy_type type;
	/* rolling */
	struct count_or_pct max_surge;       /* default 1 (0 for pets) */
	struct count_or_pct max_unavailable; /* default 0 (1 for pets) */
	int64_t min_ready_ms;                /* default 0 */
	/* blue-green */
	int64_t auto_promote_ms;     /* -1: wait for promote; default 0 */
	int64_t scale_down_delay_ms; /* default 30s */
	/* canary */
	struct canary_step *steps;
	size_t nsteps;
	/* all */
	bool auto_rollback;          /* default true */
	int64_t progress_deadline_ms; /* default 600s */
};

struct dependency {
	char *service;    /* name of the depended-on service */
	char *constraint; /* semver range; "*" when given as null/empty */
	struct mpos pos;
};

struct service_spec {
	char *name;
	struct mpos pos;
	enum orch_kind kind;
	char *version;          /* as written */
	struct semver semver;   /* parsed */
	char **command;         /* argv, NULL-terminated; placeholders kept */
	size_t ncommand;
	struct orch_kv *env;    /* in source order; placeholders kept */
	size_t nenv;
	char *workdir;          /* default "." */
	char *user;             /* NULL: do not switch */
	char *group;            /* NULL: the user's primary group */
	struct artifact_spec artifact;
	struct resources_spec resources;
	struct limits_spec limits;
	int replicas;           /* default 1 */
	int min;                /* default 0 */
	int max;                /* default max(replicas, 100) */
	char **nodes;           /* allowed node names; NULL/0: any node */
	size_t nnodes;
	char **ports;           /* port names, e.g. "http"; ORCH_PORT is ports[0] */
	size_t nports;
	bool route;             /* default true: with --haproxy its Run instances
	                           are servers of its backends; false: it takes
	                           no routed traffic (docs/haproxy.md) */
	struct health_spec health;
	struct stop_spec stop;
	struct restart_spec restart;
	struct strategy_spec strategy;
	struct dependency *deps;
	size_t ndeps;
};

struct manifest {
	char *file;           /* name used in errors */
	char *architecture;
	char *version;        /* architecture label; "" when absent */
	char *webhook;        /* alerts.webhook; NULL when absent */
	struct service_spec *services; /* in source order */
	size_t nservices;
};

/*
 * Parse and fully validate a manifest held in memory. filename is used in
 * error messages only. On success *out is a manifest with every default
 * filled in; on failure returns ORCH_EINVALID (or ORCH_ETOOBIG), *out is
 * NULL and errs holds every error found (errs must be initialised; it is
 * appended to). errs may be NULL when only the code matters.
 */
int manifest_parse(struct manifest **out, struct manifest_errors *errs,
    const char *buf, size_t len, const char *filename);
/* Read path (size-capped) and manifest_parse() it. */
int manifest_load_file(struct manifest **out, struct manifest_errors *errs,
    const char *path);
void manifest_free(struct manifest *m);

/* Lend the service named name, or NULL. */
const struct service_spec *manifest_service(const struct manifest *m,
    const char *name);

const char *manifest_kind_name(enum orch_kind k);          /* "pet"/"cattle" */
const char *manifest_strategy_name(enum strategy_type t);  /* "rolling", "blue-green", ... */
const char *manifest_health_name(enum health_type t);      /* "none", "http", ... */

/* ---- dependency graph (graph.c) -------------------------------------- */

/*
 * Start order: *out is a malloc'd array of m->nservices indexes into
 * m->services, every service after all it depends on (ties kept in source
 * order, so the order is deterministic). On a cycle returns ORCH_EINVALID
 * and the message reads "dependency cycle: a -> b -> c -> a". Teardown
 * order is this array read backwards.
 */
int manifest_start_order(size_t **out, const struct manifest *m);
/* Add to errs every depends_on naming a missing service, every cycle and
 * every constraint the named service's version does not satisfy. */
void manifest_check_graph(const struct manifest *m, struct manifest_errors *errs);

/* ---- diff (diff.c) --------------------------------------------------- */

/* Fields of a service that differ between two manifests. */
enum diff_field {
	DIFF_F_VERSION   = 1u << 0,
	DIFF_F_COMMAND   = 1u << 1,
	DIFF_F_ENV       = 1u << 2,
	DIFF_F_ARTIFACT  = 1u << 3,
	DIFF_F_RESOURCES = 1u << 4,
	DIFF_F_LIMITS    = 1u << 5,
	DIFF_F_WORKDIR   = 1u << 6,
	DIFF_F_USER      = 1u << 7,
	DIFF_F_PORTS     = 1u << 8,
	DIFF_F_KIND      = 1u << 9,
	DIFF_F_REPLICAS  = 1u << 10,
	DIFF_F_MINMAX    = 1u << 11,
	DIFF_F_NODES     = 1u << 12,
	DIFF_F_HEALTH    = 1u << 13,
	DIFF_F_STOP      = 1u << 14,
	DIFF_F_RESTART   = 1u << 15,
	DIFF_F_STRATEGY  = 1u << 16,
	DIFF_F_DEPENDS   = 1u << 17,
	DIFF_F_ROUTE     = 1u << 18,
	DIFF_F__LAST     = 1u << 19
};
/* Changes to these fields change what runs: they need a rollout (new
 * instances). The rest apply in place. */
#define DIFF_ROLLOUT_FIELDS (DIFF_F_VERSION | DIFF_F_COMMAND | DIFF_F_ENV | \
    DIFF_F_ARTIFACT | DIFF_F_RESOURCES | DIFF_F_LIMITS | DIFF_F_WORKDIR | \
    DIFF_F_USER | DIFF_F_PORTS | DIFF_F_KIND)

enum diff_action {
	DIFF_ADDED,
	DIFF_REMOVED,
	DIFF_CHANGED,   /* needs a rollout */
	DIFF_INPLACE,   /* only in-place fields changed (scale, policy) */
	DIFF_UNCHANGED
};

struct service_diff {
	char *name;
	enum diff_action action;
	unsigned fields;         /* DIFF_F_* bits */
	char *old_version, *new_version; /* NULL when absent on that side */
	int old_replicas, new_replicas;  /* 0 when absent on that side */
};

struct manifest_diff {
	bool architecture_changed; /* name or version label */
	struct service_diff *services; /* new order first (start order of
	                                  `to`), then removed ones */
	size_t nservices;
};

/* Diff from -> to. Either may be NULL (empty cluster). */
int manifest_diff(struct manifest_diff **out, const struct manifest *from,
    const struct manifest *to);
void manifest_diff_free(struct manifest_diff *d);
/* Lower-case field name of one DIFF_F_* bit ("version", "env", ...). */
const char *manifest_diff_field_name(unsigned bit);
const char *manifest_diff_action_name(enum diff_action a); /* "added", ... */

/* ---- git source (git.c) ---------------------------------------------- */

struct manifest_git;

struct git_commit_info {
	char sha[41];
	char *author;    /* "Name <email>" */
	int64_t time;    /* seconds since the epoch (committer time) */
	char *message;   /* full message */
	char *summary;   /* first line */
};
void git_commit_info_clear(struct git_commit_info *c);

/*
 * Open a repository. A local path is opened in place (bare or not); a URL
 * (scheme://... or user@host:path) is cloned bare into cache_dir (or, if
 * already there, fetched). cache_dir may be NULL for local paths.
 * Not a repository / unreachable: ORCH_ENOTFOUND / ORCH_EUNAVAIL.
 */
int manifest_git_open(struct manifest_git **out, const char *path_or_url,
    const char *cache_dir);
/* Fetch from origin (URL repos); a no-op for local repositories. */
int manifest_git_fetch(struct manifest_git *g);
void manifest_git_free(struct manifest_git *g);

/* Resolve a branch, tag, full or short sha, or any rev-parse expression
 * to a commit. Unknown or ambiguous refs give ORCH_ENOTFOUND/EINVALID. */
int manifest_git_resolve(struct git_commit_info *out, struct manifest_git *g,
    const char *ref);
/* Read the blob at path in commit sha (40 hex). Missing: ORCH_ENOTFOUND;
 * over MANIFEST_MAX_BYTES: ORCH_ETOOBIG. *out is NUL-terminated. */
int manifest_git_read(char **out, size_t *out_len, struct manifest_git *g,
    const char *sha, const char *path);
/* Resolve ref, read path there and manifest_parse() it. The error file
 * name is "path@shortsha". */
int manifest_git_load(struct manifest **out, struct manifest_errors *errs,
    struct git_commit_info *out_commit, struct manifest_git *g,
    const char *ref, const char *path);
/* Commits reachable from ref that changed path (added, modified or
 * removed it), newest first, at most max (0: no limit). */
int manifest_git_history(struct git_commit_info **out, size_t *out_n,
    struct manifest_git *g, const char *ref, const char *path, size_t max);
void manifest_git_history_free(struct git_commit_info *v, size_t n);

#endif
