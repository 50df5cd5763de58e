/*
 * parse.c - one YAML document -> the node tree of internal.h.
 *
 * libyaml's event API gives us marks (line/col) for every node, which its
 * document API would also give, but the event API lets us stop the moment
 * a limit is crossed: a "billion laughs" file is a few hundred bytes that
 * expands to billions of nodes, so aliases are never copied. An alias
 * shares the anchored node and adds that node's expanded weight to a
 * running count, which fails past MANIFEST_MAX_NODES long before any
 * memory is spent on it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "err.h"
#include "internal.h"

#define PATH_MAX_LEN 512

struct anchor {
	char *name;
	struct mnode *node;
};

struct pctx {
	yaml_parser_t parser;
	struct manifest_errors *errs;
	const char *file;
	const char *buf;
	size_t len;
	struct mtree tree;
	struct anchor *anchors;
	size_t nanchors, capanchors;
	size_t count;              /* nodes so far, aliases expanded */
	char path[PATH_MAX_LEN];   /* field path of the node being built */
	size_t pathlen;
};

static struct mpos
mark_pos(yaml_mark_t m)
{
	struct mpos p = { (int)m.line + 1, (int)m.column + 1 };

	return p;
}

/* Line:col of a byte offset (reader errors carry only the offset). */
static struct mpos
offset_pos(const char *buf, size_t len, size_t off)
{
	struct mpos p = { 1, 1 };

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			p.line++;
			p.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			p.col++;
		}
	}
	return p;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		abort(); /* bounded by the limits: failure means the host is out */
	return p;
}

static struct mnode *
node_new(struct pctx *c, enum mnode_type type, yaml_mark_t mark)
{
	struct mnode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->pos = mark_pos(mark);
	n->weight = 1;
	n->next_alloc = c->tree.nodes;
	c->tree.nodes = n;
	return n;
}

void
mtree_free(struct mtree *t)
{
	struct mnode *n, *next;

	if (t == NULL)
		return;
	for (n = t->nodes; n != NULL; n = next) {
		next = n->next_alloc;
		free(n->str);
		free(n->items);
		free(n->pairs);
		free(n);
	}
	t->nodes = NULL;
	t->root = NULL;
}

/* Push ".key" or "[i]" onto the path; returns the old length to restore. */
static size_t
path_push(struct pctx *c, const char *key, long idx)
{
	size_t old = c->pathlen;
	int n;

	if (key != NULL)
		n = snprintf(c->path + old, sizeof(c->path) - old, "%s%s",
		    old ? "." : "", key);
	else
		n = snprintf(c->path + old, sizeof(c->path) - old, "[%ld]", idx);
	if (n < 0 || (size_t)n >= sizeof(c->path) - old)
		c->pathlen = sizeof(c->path) - 1; /* truncated, still terminated */
	else
		c->pathlen = old + (size_t)n;
	return old;
}

static void
path_pop(struct pctx *c, size_t old)
{
	c->pathlen = old;
	c->path[old] = '\0';
}

static int
too_many_nodes(struct pctx *c, yaml_mark_t mark)
{
	manifest_errors_add(c->errs, c->file, mark_pos(mark), c->path,
	    "document has more than %d nodes after alias expansion",
	    MANIFEST_MAX_NODES);
	return ORCH_ETOOBIG;
}

static int
count_nodes(struct pctx *c, size_t n, yaml_mark_t mark)
{
	if (n > MANIFEST_MAX_NODES || c->count + n > MANIFEST_MAX_NODES)
		return too_many_nodes(c, mark);
	c->count += n;
	return 0;
}

static int
too_deep(struct pctx *c, yaml_mark_t mark)
{
	manifest_errors_add(c->errs, c->file, mark_pos(mark), c->path,
	    "nesting deeper than %d levels", MANIFEST_MAX_DEPTH);
	return ORCH_ETOOBIG;
}

/* Pull the next event, turning a libyaml failure into an error line. */
static int
next_event(struct pctx *c, yaml_event_t *ev)
{
	struct mpos pos;

	if (yaml_parser_parse(&c->parser, ev))
		return 0;
	if (c->parser.error == YAML_READER_ERROR)
		pos = offset_pos(c->buf, c->len, c->parser.problem_offset);
	else
		pos = mark_pos(c->parser.problem_mark);
	if (c->parser.error == YAML_MEMORY_ERROR)
		manifest_errors_add(c->errs, c->file, pos, "",
		    "YAML parser out of memory");
	else if (c->parser.context != NULL)
		manifest_errors_add(c->errs, c->file, pos, "",
		    "YAML syntax error: %s %s (line %d col %d)",
		    c->parser.problem ? c->parser.problem : "error",
		    c->parser.context, (int)c->parser.context_mark.line + 1,
		    (int)c->parser.context_mark.column + 1);
	else
		manifest_errors_add(c->errs, c->file, pos, "",
		    "YAML syntax error: %s",
		    c->parser.problem ? c->parser.problem : "error");
	return ORCH_EINVALID;
}

static void
anchor_add(struct pctx *c, const yaml_char_t *name, struct mnode *n)
{
	char *s;

	if (name == NULL)
		return;
	if (c->nanchors == c->capanchors) {
		size_t cap = c->capanchors ? c->capanchors * 2 : 16;
		struct anchor *v = realloc(c->anchors, cap * sizeof(*v));
		if (v == NULL)
			abort();
		c->anchors = v;
		c->capanchors = cap;
	}
	s = strdup((const char *)name);
	if (s == NULL)
		abort();
	c->anchors[c->nanchors].name = s;
	c->anchors[c->nanchors].node = n;
	c->nanchors++;
}

/* The latest definition of an anchor wins, as YAML says. */
static struct mnode *
anchor_find(struct pctx *c, const char *name)
{
	for (size_t i = c->nanchors; i > 0; i--)
		if (strcmp(c->anchors[i - 1].name, name) == 0)
			return c->anchors[i - 1].node;
	return NULL;
}

/*
 * Tags: !!str forces a string (so `!!str 5` is the text "5"); the other
 * core tags change nothing we care about; anything else (application
 * tags like !Ref) has no meaning in orch.yaml and is rejected.
 */
static int
check_tag(struct pctx *c, const yaml_char_t *tag, yaml_mark_t mark,
    bool *is_str)
{
	const char *t = (const char *)tag;

	*is_str = false;
	if (t == NULL || strcmp(t, "!") == 0)
		return 0;
	if (strncmp(t, "tag:yaml.org,2002:", 18) == 0) {
		*is_str = strcmp(t + 18, "str") == 0;
		return 0;
	}
	manifest_errors_add(c->errs, c->file, mark_pos(mark), c->path,
	    "unsupported YAML tag '%s'", t);
	return ORCH_EINVALID;
}

static int parse_node(struct pctx *c, yaml_event_t *ev, int depth,
    struct mnode **out);

static int
parse_scalar(struct pctx *c, yaml_event_t *ev, struct mnode **out)
{
	struct mnode *n;
	size_t raw, quotes;
	bool is_str;
	int rc;

	if ((rc = check_tag(c, ev->data.scalar.tag, ev->start_mark, &is_str)))
		return rc;
	if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
		manifest_errors_add(c->errs, c->file, mark_pos(ev->start_mark),
		    c->path, "string contains a NUL character");
		return ORCH_EINVALID;
	}
	if ((rc = count_nodes(c, 1, ev->start_mark)))
		return rc;
	n = node_new(c, MNODE_SCALAR, ev->start_mark);
	n->str = xcalloc(ev->data.scalar.length + 1, 1);
	memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !is_str;
	/* Lets an error point inside the string (at a bad placeholder). */
	quotes = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ? 1 : 0;
	raw = ev->end_mark.index - ev->start_mark.index;
	if ((ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || quotes) &&
	    ev->start_mark.line == ev->end_mark.line &&
	    raw == ev->data.scalar.length + 2 * quotes)
		n->text_col = n->pos.col + quotes;
	*out = n;
	return 0;
}

static int
parse_seq(struct pctx *c, yaml_event_t *start, int depth, struct mnode **out)
{
	struct mnode *n;
	yaml_event_t ev;
	size_t cap = 0;
	int rc;

	n = node_new(c, MNODE_SEQ, start->start_mark);
	n->height = 1;
	for (;;) {
		struct mnode *item;
		size_t old;

		if ((rc = next_event(c, &ev)))
			return rc;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		old = path_push(c, NULL, (long)n->nitems);
		rc = parse_node(c, &ev, depth + 1, &item);
		path_pop(c, old);
		if (rc)
			return rc;
		if (n->nitems == cap) {
			struct mnode **v;
			cap = cap ? cap * 2 : 4;
			v = realloc(n->items, cap * sizeof(*v));
			if (v == NULL)
				abort();
			n->items = v;
		}
		n->items[n->nitems++] = item;
		n->weight += item->weight;
		if (item->height + 1 > n->height)
			n->height = item->height + 1;
	}
	*out = n;
	return 0;
}

static int
pair_find(const struct mnode *map, const char *key)
{
	for (size_t i = 0; i < map->npairs; i++)
		if (strcmp(map->pairs[i].key->str, key) == 0)
			return (int)i;
	return -1;
}

/*
 * Key index of a map under construction. Duplicate keys must be caught in
 * every map, and a hostile map may have tens of thousands of keys: a
 * linear search per key would be quadratic, so keys are hashed (FNV-1a,
 * open addressing, at most half full).
 */
struct keyix {
	size_t *slot; /* pair index + 1; 0 = empty */
	size_t cap;   /* power of two */
};

static uint64_t
key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Index of key in map, or -1. */
static long
keyix_find(const struct keyix *ix, const struct mnode *map, const char *key)
{
	size_t mask = ix->cap - 1, i;

	if (ix->cap == 0)
		return -1;
	for (i = key_hash(key) & mask; ix->slot[i] != 0; i = (i + 1) & mask)
		if (strcmp(map->pairs[ix->slot[i] - 1].key->str, key) == 0)
			return (long)(ix->slot[i] - 1);
	return -1;
}

static void
keyix_put(struct keyix *ix, const struct mnode *map, size_t pair)
{
	size_t mask, i;

	if ((pair + 1) * 2 > ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 16;
		free(ix->slot);
		ix->slot = xcalloc(cap, sizeof(*ix->slot));
		ix->cap = cap;
		/* Rehash every earlier pair, then fall through for this one. */
		for (size_t p = 0; p < pair; p++) {
			mask = cap - 1;
			for (i = key_hash(map->pairs[p].key->str) & mask;
			    ix->slot[i] != 0; i = (i + 1) & mask)
				;
			ix->slot[i] = p + 1;
		}
	}
	mask = ix->cap - 1;
	for (i = key_hash(map->pairs[pair].key->str) & mask; ix->slot[i] != 0;
	    i = (i + 1) & mask)
		;
	ix->slot[i] = pair + 1;
}

static void
pair_append(struct mnode *map, size_t *cap, struct keyix *ix, struct mnode *k,
    struct mnode *v)
{
	if (map->npairs == *cap) {
		struct mpair *p;
		*cap = *cap ? *cap * 2 : 8;
		p = realloc(map->pairs, *cap * sizeof(*p));
		if (p == NULL)
			abort();
		map->pairs = p;
	}
	map->pairs[map->npairs].key = k;
	map->pairs[map->npairs].val = v;
	keyix_put(ix, map, map->npairs);
	map->npairs++;
}

/*
 * Apply the `<<` merge sources of a map once its own keys are known: keys
 * written in the map win over merged ones, and among several sources
 * (`<<: [*a, *b]`) the earlier one wins (YAML merge key spec).
 */
static int
apply_merge(struct pctx *c, struct mnode *map, size_t *cap, struct keyix *ix,
    const struct mnode *src, yaml_mark_t mark)
{
	const struct mnode *const *srcs = (const struct mnode *const *)&src;
	size_t nsrcs = 1;

	if (src->type == MNODE_SEQ) {
		srcs = (const struct mnode *const *)src->items;
		nsrcs = src->nitems;
	}
	for (size_t s = 0; s < nsrcs; s++) {
		if (srcs[s]->type != MNODE_MAP) {
			manifest_errors_add(c->errs, c->file, srcs[s]->pos, c->path,
			    "'<<' merges a map or a list of maps, not %s",
			    mnode_kind(srcs[s]));
			return ORCH_EINVALID;
		}
		for (size_t i = 0; i < srcs[s]->npairs; i++) {
			const struct mpair *p = &srcs[s]->pairs[i];
			if (keyix_find(ix, map, p->key->str) >= 0)
				continue;
			/* Merged pairs count as nodes of their own. */
			if (count_nodes(c, 1, mark))
				return ORCH_ETOOBIG;
			pair_append(map, cap, ix, p->key, p->val);
		}
	}
	return 0;
}

static int
parse_map(struct pctx *c, yaml_event_t *start, int depth, struct mnode **out)
{
	struct mnode *n, *merge = NULL;
	yaml_event_t ev;
	yaml_mark_t merge_mark = start->start_mark;
	struct keyix ix = { NULL, 0 };
	size_t cap = 0;
	long first;
	int rc;

	n = node_new(c, MNODE_MAP, start->start_mark);
	n->height = 1;
	for (;;) {
		struct mnode *key, *val;
		yaml_mark_t kmark;
		size_t old;

		if ((rc = next_event(c, &ev)))
			goto out;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		kmark = ev.start_mark;
		rc = parse_node(c, &ev, depth + 1, &key);
		if (rc)
			goto out;
		if (key->type != MNODE_SCALAR) {
			manifest_errors_add(c->errs, c->file, key->pos, c->path,
			    "map keys must be strings, not %s", mnode_kind(key));
			rc = ORCH_EINVALID;
			goto out;
		}
		old = path_push(c, key->str, 0);
		if ((rc = next_event(c, &ev)) == 0)
			rc = parse_node(c, &ev, depth + 1, &val);
		if (rc) {
			path_pop(c, old);
			goto out;
		}
		n->weight += key->weight + val->weight;
		if (val->height + 1 > n->height)
			n->height = val->height + 1;
		if (key->plain && strcmp(key->str, "<<") == 0) {
			if (merge != NULL) {
				manifest_errors_add(c->errs, c->file, key->pos,
				    c->path, "duplicate key '<<' (first at line %d)",
				    (int)merge_mark.line + 1);
			} else {
				merge = val;
				merge_mark = kmark;
			}
			path_pop(c, old);
			continue;
		}
		first = keyix_find(&ix, n, key->str);
		if (first >= 0)
			manifest_errors_add(c->errs, c->file, key->pos, c->path,
			    "duplicate key '%s' (first at line %d)", key->str,
			    n->pairs[first].key->pos.line);
		else
			pair_append(n, &cap, &ix, key, val);
		path_pop(c, old);
	}
	if (merge != NULL)
		rc = apply_merge(c, n, &cap, &ix, merge, merge_mark);
	if (rc == 0)
		*out = n;
out:
	free(ix.slot);
	return rc;
}

/*
 * Build the node that starts with event ev (consumed here, whatever
 * happens). depth is the nesting level of a collection started by ev.
 */
static int
parse_node(struct pctx *c, yaml_event_t *ev, int depth, struct mnode **out)
{
	const yaml_char_t *anchor = NULL;
	struct mnode *n = NULL, *target;
	bool is_str;
	int rc = 0;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		target = anchor_find(c, (const char *)ev->data.alias.anchor);
		if (target == NULL) {
			manifest_errors_add(c->errs, c->file,
			    mark_pos(ev->start_mark), c->path,
			    "unknown alias '*%s' (anchors must be defined "
			    "before use)", (const char *)ev->data.alias.anchor);
			rc = ORCH_EINVALID;
			break;
		}
		if (depth - 1 + target->height > MANIFEST_MAX_DEPTH) {
			rc = too_deep(c, ev->start_mark);
			break;
		}
		if ((rc = count_nodes(c, target->weight, ev->start_mark)))
			break;
		n = target;
		break;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		rc = parse_scalar(c, ev, &n);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (depth > MANIFEST_MAX_DEPTH) {
			rc = too_deep(c, ev->start_mark);
			break;
		}
		if ((rc = count_nodes(c, 1, ev->start_mark)))
			break;
		if (ev->type == YAML_SEQUENCE_START_EVENT) {
			anchor = ev->data.sequence_start.anchor;
			rc = check_tag(c, ev->data.sequence_start.tag,
			    ev->start_mark, &is_str);
			if (rc == 0)
				rc = parse_seq(c, ev, depth, &n);
		} else {
			anchor = ev->data.mapping_start.anchor;
			rc = check_tag(c, ev->data.mapping_start.tag,
			    ev->start_mark, &is_str);
			if (rc == 0)
				rc = parse_map(c, ev, depth, &n);
		}
		break;
	default:
		manifest_errors_add(c->errs, c->file, mark_pos(ev->start_mark),
		    c->path, "unexpected YAML event");
		rc = ORCH_EINVALID;
		break;
	}
	/* Registered only now, so an alias inside its own anchor is unknown
	 * and no cycle can be built. */
	if (rc == 0)
		anchor_add(c, anchor, n);
	yaml_event_delete(ev);
	if (rc == 0)
		*out = n;
	return rc;
}

static int
parse_stream(struct pctx *c)
{
	yaml_event_t ev;
	int rc;

	if ((rc = next_event(c, &ev)))
		return rc;
	yaml_event_delete(&ev); /* STREAM_START */
	if ((rc = next_event(c, &ev)))
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		manifest_errors_add(c->errs, c->file, (struct mpos){ 1, 1 }, "",
		    "empty manifest: expected a map with 'architecture' and "
		    "'services'");
		return ORCH_EINVALID;
	}
	yaml_event_delete(&ev); /* DOCUMENT_START */
	if ((rc = next_event(c, &ev)))
		return rc;
	if ((rc = parse_node(c, &ev, 1, &c->tree.root)))
		return rc;
	if ((rc = next_event(c, &ev)))
		return rc;
	yaml_event_delete(&ev); /* DOCUMENT_END */
	if ((rc = next_event(c, &ev)))
		return rc;
	if (ev.type != YAML_STREAM_END_EVENT) {
		manifest_errors_add(c->errs, c->file, mark_pos(ev.start_mark), "",
		    "a second YAML document: orch.yaml holds exactly one "
		    "(remove the '---' separator)");
		yaml_event_delete(&ev);
		return ORCH_EINVALID;
	}
	yaml_event_delete(&ev);
	return 0;
}

int
mtree_parse(struct mtree *out, struct manifest_errors *errs, const char *buf,
    size_t len, const char *file)
{
	struct pctx c;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if (buf == NULL) { /* libyaml asserts on a NULL input */
		buf = "";
		len = 0;
	}
	c.errs = errs;
	c.file = file;
	c.buf = buf;
	c.len = len;
	if (len > MANIFEST_MAX_BYTES) {
		manifest_errors_add(errs, file, (struct mpos){ 1, 1 }, "",
		    "manifest is %zu bytes, over the limit of %d bytes", len,
		    MANIFEST_MAX_BYTES);
		return ORCH_ETOOBIG;
	}
	if (!yaml_parser_initialize(&c.parser))
		abort();
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&c.parser, YAML_UTF8_ENCODING);
	rc = parse_stream(&c);
	yaml_parser_delete(&c.parser);
	for (size_t i = 0; i < c.nanchors; i++)
		free(c.anchors[i].name);
	free(c.anchors);
	if (rc) {
		mtree_free(&c.tree);
		return rc;
	}
	*out = c.tree;
	return 0;
}

const struct mnode *
mnode_get(const struct mnode *map, const char *key)
{
	int i;

	if (map == NULL || map->type != MNODE_MAP)
		return NULL;
	i = pair_find(map, key);
	return i < 0 ? NULL : map->pairs[i].val;
}

bool
mnode_is_null(const struct mnode *n)
{
	if (n == NULL || n->type != MNODE_SCALAR || !n->plain)
		return false;
	return strcmp(n->str, "") == 0 || strcmp(n->str, "~") == 0 ||
	    strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	    strcmp(n->str, "NULL") == 0;
}

static bool
is_bool_text(const char *s)
{
	static const char *const words[] = {
		"true", "True", "TRUE", "false", "False", "FALSE",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

static bool
is_number_text(const char *s)
{
	char *end;

	if (*s == '\0' || isspace((unsigned char)*s))
		return false;
	(void)strtod(s, &end);
	return *end == '\0';
}

const char *
mnode_kind(const struct mnode *n)
{
	if (n == NULL)
		return "nothing";
	switch (n->type) {
	case MNODE_MAP:
		return "a map";
	case MNODE_SEQ:
		return "a list";
	case MNODE_SCALAR:
	case MNODE__LAST:
		break;
	}
	if (mnode_is_null(n))
		return "null";
	if (n->plain && is_bool_text(n->str))
		return "a boolean";
	if (n->plain && is_number_text(n->str))
		return "a number";
	return "a string";
}
