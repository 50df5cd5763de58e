/*
 * internal.h - private to manifest/parse.c and manifest/spec*.c: the YAML
 * node tree that sits between libyaml's events and struct manifest.
 *
 * parse.c turns one YAML document into this tree: every node carries the
 * 1-based line:col where it starts, anchors/aliases are resolved by
 * sharing (an alias points at the anchored node, so the tree is a DAG),
 * `<<` merge keys are applied, duplicate keys are reported and dropped,
 * and the limits of manifest.h are enforced. spec.c only reads the tree.
 */
#ifndef ORCH_MANIFEST_INTERNAL_H
#define ORCH_MANIFEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "manifest.h"

enum mnode_type {
	MNODE_SCALAR = 0,
	MNODE_SEQ,
	MNODE_MAP,
	MNODE__LAST
};

struct mnode;

struct mpair {
	struct mnode *key; /* always a scalar */
	struct mnode *val;
};

struct mnode {
	enum mnode_type type;
	struct mpos pos;
	/* scalar */
	char *str;     /* NUL-terminated text (NUL bytes inside are rejected) */
	bool plain;    /* plain style and no !!str tag: may be null/bool/number */
	int text_col;  /* column of str[0] when the text is the source byte
	                  for byte on one line (no escapes), else 0 */
	/* sequence */
	struct mnode **items;
	size_t nitems;
	/* map, in source order, merge keys applied */
	struct mpair *pairs;
	size_t npairs;

	size_t weight; /* nodes in this subtree after alias expansion */
	int height;    /* collection levels in this subtree (scalar: 0) */
	struct mnode *next_alloc; /* every node of a tree, for freeing */
};

struct mtree {
	struct mnode *root;  /* the document's root node */
	struct mnode *nodes; /* allocation chain */
};

/* parse.c */

/*
 * Parse buf into *out. Errors go to errs with file as the file name.
 * Returns 0 when a tree was built (errs may still have gained non-fatal
 * errors such as duplicate keys), ORCH_EINVALID on a syntax error, an
 * unknown alias, several documents or an empty file, ORCH_ETOOBIG over a
 * limit. On error *out is empty and nothing needs freeing.
 */
int mtree_parse(struct mtree *out, struct manifest_errors *errs,
    const char *buf, size_t len, const char *file);
void mtree_free(struct mtree *t);

/* Lend the value of key in map (NULL when absent or map is no map). */
const struct mnode *mnode_get(const struct mnode *map, const char *key);
/* A plain null scalar ("", "~", "null"). */
bool mnode_is_null(const struct mnode *n);
/* "a map", "a list", "a string", "a number", "true/false", "null". */
const char *mnode_kind(const struct mnode *n);

/*
 * spec.c: the validation context and the typed field readers that
 * spec_service.c shares. A reader that fails adds one error (at the
 * node, with the field path) and returns -1, leaving *out untouched, so
 * the default stays and validation goes on to find the next error.
 */
#define SPEC_PATH_MAX 256

struct vctx {
	struct manifest_errors *errs;
	const char *file;
	size_t nerr;  /* errors added by this load */
	bool toobig;  /* one of them was a limit: the load returns ETOOBIG */
};

void spec_err(struct vctx *v, struct mpos pos, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* buf (SPEC_PATH_MAX bytes) = parent.key or parent[i]; returns buf. */
const char *spec_path(char *buf, const char *parent, const char *key);
const char *spec_path_idx(char *buf, const char *parent, size_t i);
/* Report every key of map not in allowed (NULL-terminated), suggesting
 * the closest allowed key. Keys starting with "x-" pass when x_ok. */
void spec_check_keys(struct vctx *v, const struct mnode *map, const char *path,
    const char *const *allowed, bool x_ok);
/* The value of key, or NULL when absent or null (null means unset). */
const struct mnode *spec_field(const struct mnode *map, const char *key);
/* The key node of key in map, for positions; NULL when absent. */
const struct mnode *spec_key(const struct mnode *map, const char *key);
int spec_expect_map(struct vctx *v, const struct mnode *n, const char *path);
int spec_string(struct vctx *v, char **out, const struct mnode *n,
    const char *path);
int spec_int(struct vctx *v, int64_t *out, const struct mnode *n,
    const char *path, int64_t min, int64_t max);
int spec_duration(struct vctx *v, int64_t *out, const struct mnode *n,
    const char *path, int64_t min_ms);
int spec_bool(struct vctx *v, bool *out, const struct mnode *n,
    const char *path);
bool spec_is_identifier(const char *s);
bool spec_is_dns_label(const char *s);
/* http:// or https:// with a host (file:// too when allow_file). */
bool spec_is_url(const char *s, bool allow_file);
char *spec_strdup(const char *s);
void *spec_calloc(size_t n, size_t size);

/* Read the value of key in map when set: fills pathbuf with the field's
 * path (parent.key) and yields its node, else NULL. */
#define SPEC_FIELD(map, key, pathbuf, parent) \
	(spec_field((map), (key)) != NULL ? \
	 (spec_path((pathbuf), (parent), (key)), spec_field((map), (key))) : NULL)

/* Counts that no real service comes near; they keep the per-service
 * checks (duplicates, placeholder lookups) cheap on hostile input. */
#define SPEC_MAX_ENV   1000
#define SPEC_MAX_PORTS 64
#define SPEC_MAX_NODES 1000

/* spec_service.c */

/* Fill s (defaults first) from the pair `name: {...}` of services. */
void spec_service(struct vctx *v, struct service_spec *s, const struct mpair *p);
void spec_service_clear(struct service_spec *s);
/* Report key of map (at path) when allowed is false: it belongs to
 * another type ("'steps' applies only to strategy type canary"). */
void spec_not_for_type(struct vctx *v, const struct mnode *map,
    const char *path, const char *key, bool allowed, const char *what,
    const char *type);

/* spec_strategy.c: `strategy:`, after kind is known (pets differ). */
void spec_strategy(struct vctx *v, struct service_spec *s,
    const struct mnode *svc, const char *path);

/* spec_placeholder.c: every ${...} of command, env and health.command,
 * once ports and env are read. */
void spec_placeholders(struct vctx *v, const struct service_spec *s,
    const struct mnode *svc, const char *path);

#endif
