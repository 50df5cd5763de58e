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

#endif
