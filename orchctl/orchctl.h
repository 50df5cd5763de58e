/*
 * orchctl.h - the internal header of orchctl, the CLI.
 *
 * main.c parses the global options and dispatches to one verb through the
 * table of struct orchctl_cmd; each verb lives in its own cmd_<verb>.c and
 * exports one struct orchctl_cmd. Adding a verb is one new file plus one
 * row in main.c's table (libgit2's src/cli layout).
 *
 * Every verb returns a process exit code (enum orchctl_exit), never a
 * negative ORCH_E* code: the translation from library errors to exit codes
 * happens once, in the verb, where the meaning is known.
 */
#ifndef ORCHCTL_H
#define ORCHCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "manifest.h"
#include "tls.h"

#ifndef ORCH_VERSION_STRING
#define ORCH_VERSION_STRING "0.1.0"
#endif

/* Exit codes fixed by design.md. */
enum orchctl_exit {
	EXIT_OK = 0,          /* success */
	EXIT_FAILED = 1,      /* operation failed or input rejected */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_UNREACHABLE = 3, /* cannot reach the controller */
};

enum output_format {
	OUTPUT_TABLE = 0, /* text for people: tables, one-line summaries */
	OUTPUT_JSON,      /* one JSON document on stdout, for machines */
};

/* Options every verb sees; filled from the environment, then the global
 * options, then the verb's own command line (last one wins). */
struct orchctl {
	const char *controller; /* --controller or ORCH_CONTROLLER; NULL: none */
	const char *token_file; /* --token-file; NULL: none */
	const char *token;      /* ORCH_TOKEN; NULL: none */
	/* --tls-ca/--cert/--key, else ORCH_TLS_CA/_CERT/_KEY; NULL: unset */
	struct tls_client tls;
	enum output_format output;
	int verbose;            /* -v count */
};

struct orchctl_cmd {
	const char *name;
	/* argv[0] is the verb's name; returns an enum orchctl_exit. */
	int (*fn)(struct orchctl *ctx, const struct orchctl_cmd *cmd,
	    int argc, char **argv);
	const char *summary; /* one line for `orchctl --help` */
	const char *usage;   /* synopsis lines, each without "usage: orchctl " */
	const char *help;    /* description, options, examples */
};

/* cmd_validate.c */
extern const struct orchctl_cmd cmd_validate;
/* cmd_diff.c */
extern const struct orchctl_cmd cmd_diff;

/* main.c */
/*
 * getopt_long() for a verb, which also takes the options every verb
 * accepts (-o/--output, -v/--verbose, -h/--help, --controller,
 * --token-file) and applies them to ctx. shortopts/longopts are the verb's
 * own (longopts ends with a zero entry; may be NULL). Returns the next
 * verb option (with optarg set), -1 at the end of the options, or
 * OPT_EXIT after printing help (*out_exit = EXIT_OK) or a usage error
 * (*out_exit = EXIT_USAGE). Start each verb's loop with optind = 0.
 */
#define OPT_EXIT (-2)
int orchctl_getopt(int *out_exit, struct orchctl *ctx,
    const struct orchctl_cmd *cmd, int argc, char **argv,
    const char *shortopts, const struct option *longopts);
/* orchctl_getopt for a verb with no options of its own: 0 when the verb
 * goes on to its arguments (at optind), OPT_EXIT when it must return
 * *out_exit (help printed, or a usage error). */
int orchctl_getopt_none(int *out_exit, struct orchctl *ctx,
    const struct orchctl_cmd *cmd, int argc, char **argv);
/* A verb with no options and one NAME argument (what: "SERVICE"): 0 with
 * *out the name, or OPT_EXIT when it must return *out_exit (help, no or
 * several names, an empty one). */
int orchctl_one_name(const char **out, int *out_exit, struct orchctl *ctx,
    const struct orchctl_cmd *cmd, int argc, char **argv, const char *what);
/* Print "orchctl VERB: message", the usage lines and the --help hint to
 * stderr; returns EXIT_USAGE. */
int orchctl_usage_error(const struct orchctl_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "orchctl: message" to stderr (a failure, not a usage error). */
void orchctl_warnx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* source.c - where a manifest comes from: a file or a git revision. */
struct source {
	char *label;       /* what the user named: path, or "path@shortsha" */
	char *ref;         /* the git ref as given; NULL for files */
	bool has_commit;
	struct git_commit_info commit;
	struct manifest *m;          /* NULL unless valid */
	struct manifest_errors errs; /* validation errors when invalid */
};
/* Load and validate. 0 when valid; ORCH_EINVALID with s->errs filled when
 * the manifest is rejected; another ORCH_E* code with orch_err_last()
 * when it could not be read at all (missing file, bad ref). s is always
 * initialised and must be passed to source_free(). */
int source_load_file(struct source *s, const char *path);
int source_load_git(struct source *s, struct manifest_git *g,
    const char *ref, const char *path);
/* The manifest at path in the working tree of repo (its root or its .git
 * directory), uncommitted changes and all; labelled "path (working
 * tree)". Results as source_load_file. */
int source_load_worktree(struct source *s, const char *repo, const char *path);
void source_free(struct source *s);
/* Abbreviated commit id (7 hex digits) into buf (>= 8 bytes). */
void source_short_sha(char *buf, const struct git_commit_info *c);
/* {"sha", "short", "author", "time", "summary"}; new reference. */
json_t *source_commit_json(const struct git_commit_info *c);

/* output.c */
/* A text table aligned like kubectl's: columns padded to the widest cell
 * plus three spaces, the last column not padded. */
struct table;
struct table *table_new(size_t ncols, const char *const *headers);
/* Append a row of ncols cells (copied); NULL cells print as "-". */
void table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);
/* A table of one row per element of the JSON array list, each added by
 * add_row, printed to f. */
void table_print_list(FILE *f, const json_t *list, size_t ncols,
    const char *const *headers,
    void (*add_row)(struct table *t, const json_t *elem));

/* Print a JSON document (2-space indent, trailing newline); steals j. */
void output_json(FILE *f, json_t *j);
/* One "file:line:col: path: message" line per error. */
void output_errors_text(FILE *f, const struct manifest_errors *errs);
/* "N error(s)" line after the error lines. */
void output_errors_count(FILE *f, size_t n);
/* Append {"file","line","col","path","message"} per error to array. */
void output_errors_json(json_t *array, const struct manifest_errors *errs);
/* json_string/json_integer that abort on allocation failure, so the
 * builders stay readable (an orchctl without memory has nothing to say). */
json_t *jstr(const char *s);  /* NULL -> JSON null */
json_t *jint(long long v);
json_t *jobj(void);
json_t *jarr(void);
void jset(json_t *obj, const char *key, json_t *val); /* steals val */
void jpush(json_t *array, json_t *val);               /* steals val */

/* ---- controller client and its verbs (issue #4) ------------------------ */

#include <signal.h>

/* client.c - a thin libcurl client of the controller's /v1 API.
 *
 * Every call returns an enum orchctl_exit and has already told the user
 * what went wrong: EXIT_UNREACHABLE ("cannot reach the controller at URL:
 * ...") for connection refused, DNS failure and timeouts; EXIT_FAILED for
 * an HTTP error (the API's {"error", "detail"} printed, manifest errors as
 * file:line:col lines; with -o json the error document also goes to
 * stdout) or a reply that is not the JSON it should be. */
#define CLIENT_DEFAULT_URL "http://127.0.0.1:7070"
#define CLIENT_TIMEOUT_MS 30000 /* a whole ordinary request */

struct client;
/* Resolve the controller URL (--controller, $ORCH_CONTROLLER, else
 * CLIENT_DEFAULT_URL) and the token (--token-file, first line trimmed,
 * else $ORCH_TOKEN). A bad URL is a usage error for cmd; an unreadable
 * token file EXIT_FAILED. */
int client_open(struct client **out, const struct orchctl *ctx,
    const struct orchctl_cmd *cmd);
void client_free(struct client *c);
const char *client_url(const struct client *c); /* lent */
/* Whole-request timeout for the following calls (0: none). */
void client_set_timeout(struct client *c, long ms);
/* method path (with query), body (NULL: none; lent) -> *out the parsed
 * reply (new reference) on 2xx. */
int client_call(json_t **out, struct client *c, const char *method,
    const char *path, const json_t *body);
/* GET path -> *out the parsed reply (new reference) and *out_list its
 * array key (borrowed from *out); a reply without that array is
 * EXIT_FAILED ("GET path: the reply has no "key" list"), *out NULL. */
int client_get_list(json_t **out, json_t **out_list, struct client *c,
    const char *path, const char *key);
/* GET path -> the raw reply body (malloc'd, NUL-terminated) on 2xx. */
int client_get_raw(char **out, size_t *out_len, struct client *c,
    const char *path);
/*
 * Follow a Server-Sent Events stream at path until *stop turns true
 * (a SIGINT handler sets it) or on_event returns non-zero. Each event's
 * id (NULL when the event had none) and data go to on_event. After a
 * disconnect it reconnects (backoff 0.5s..5s) sending Last-Event-ID: the
 * last id seen (or last_id as given). EXIT_OK when stopped; the first
 * connection failing is EXIT_UNREACHABLE or EXIT_FAILED as for calls.
 */
typedef int (*client_event_fn)(const char *id, const char *data, void *arg);
int client_stream(struct client *c, const char *path, const char *last_id,
    client_event_fn on_event, void *arg, volatile sig_atomic_t *stop);
/* prefix + name (URL-escaped) + suffix, e.g. ("/v1/services/", "web",
 * "/scale"); malloc'd. */
char *client_path(const char *prefix, const char *name, const char *suffix);
/* Print a 2xx reply the way -o json does: pretty, as received. Steals j. */
void client_print_json(json_t *j);
/* Print a manifest error list ({file,line,col,path,message} objects or
 * strings) as "file:line:col: path: message" lines to f; returns count. */
size_t client_print_detail_errors(FILE *f, const json_t *list);

/* Reading API replies leniently (a missing field prints "-"). */
const char *jget_str(const json_t *o, const char *key); /* NULL if absent */
/* Integer field; strings of digits are accepted too. false if absent. */
bool jget_int(long long *out, const json_t *o, const char *key);
/* A time field (ms or s since the epoch, or an RFC 3339 string) as
 * "2026-11-23T11:22:33Z" (UTC); "-" when absent. */
void fmt_time(char *buf, size_t len, const json_t *v);
/* Time since a time field, kubectl style ("42s", "5m", "3h", "2d"). */
void fmt_age(char *buf, size_t len, const json_t *v);
/* An age in ms as fmt_age prints it. */
void fmt_age_ms(char *buf, size_t len, long long ms);
/* The first 7 characters of a commit id, or "-". */
void fmt_short_sha(char *buf, size_t len, const char *sha);
/* A string of digits as a non-negative int no larger than max; -1 else. */
long long parse_count(const char *s, long long max);
/* SIGINT/SIGTERM set *flag (returned) instead of killing orchctl, so a
 * follow loop ends cleanly (exit 0, output flushed). */
volatile sig_atomic_t *orchctl_catch_interrupt(void);

/* plan_print.c - the plan of a manifest change, as `orchctl diff` prints
 * it, from its JSON form (diff -o json: {"from", "to",
 * "architecture_changed", "services": [{"name", "action", "fields",
 * "rollout_fields", "in_place_fields", "old_version", "new_version",
 * "old_replicas", "new_replicas"}]}); the controller's apply reply uses
 * it. Unchanged services only with verbose. Returns false when plan has
 * no services list (nothing printed). */
bool plan_print(FILE *f, const json_t *plan, int verbose);

/* cmd_apply.c, cmd_status.c, ... one verb each */
extern const struct orchctl_cmd cmd_apply;
extern const struct orchctl_cmd cmd_status;
extern const struct orchctl_cmd cmd_instances;
extern const struct orchctl_cmd cmd_nodes;
extern const struct orchctl_cmd cmd_history;
extern const struct orchctl_cmd cmd_events;
extern const struct orchctl_cmd cmd_scale;
extern const struct orchctl_cmd cmd_drain;
extern const struct orchctl_cmd cmd_logs;
/* cmd_rollback.c */
extern const struct orchctl_cmd cmd_rollback;
/* cmd_steer.c: one request shape, four verbs */
extern const struct orchctl_cmd cmd_promote;
extern const struct orchctl_cmd cmd_abort;
extern const struct orchctl_cmd cmd_pause;
extern const struct orchctl_cmd cmd_resume;
/* cmd_restart.c */
extern const struct orchctl_cmd cmd_restart;

/* rollout_wait.c - follow a rollout until it ends, for `apply --wait` and
 * `rollback --wait` (the same progress lines and exit codes). */
struct rollout_follow {
	const char *commit;   /* the desired commit it ends at; NULL: any */
	const char *label;    /* printed instead of commit (NULL: commit) */
	const char *what;     /* "revision" (NULL) or e.g. "web to" */
	long long seq;        /* the revision whose record decides; 0: none */
	const json_t *plan;   /* [{name, action, new_version|to_version}]; NULL */
	bool rollback;        /* Rollback is progress, not a failure */
	int64_t timeout_ms;
};
/* EXIT_OK when it succeeded; EXIT_FAILED (said why) when it failed or
 * timed out; the client's exit code when the controller cannot answer. */
int rollout_wait(const struct orchctl *ctx, struct client *c,
    const struct rollout_follow *f);
/* --timeout (NULL: ROLLOUT_WAIT_DEFAULT_MS) into *out; a usage error
 * when it comes without --wait, or --wait with --dry-run. */
#define ROLLOUT_WAIT_DEFAULT_MS (5 * 60 * 1000)
int rollout_wait_options(int64_t *out, const struct orchctl_cmd *cmd,
    const char *timeout, bool wait, bool dry_run);
/* The commit of an apply reply or a status: {"revision": {"commit"}} or
 * {"commit"} (lent; NULL when absent). */
const char *rollout_reply_commit(const json_t *j);

/* ---- end of the controller client section ----------------------------- */

#endif
