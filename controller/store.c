/* store.c - back-end independent parts of the store: batches, dispatch. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "xalloc.h"

struct store_batch {
	struct store_op *ops;
	size_t n, cap;
};

struct store_batch *
store_batch_new(void)
{
	struct store_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		abort();
	return b;
}

/* Out of memory in a batch would leave a half-described step: abort, as
 * the store cannot keep its all-or-nothing promise otherwise. */
static void
batch_add(struct store_batch *b, enum store_op_kind kind, const char *key,
    const char *value)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct store_op *ops = realloc(b->ops, cap * sizeof(*ops));
		if (ops == NULL)
			abort();
		b->ops = ops;
		b->cap = cap;
	}
	b->ops[b->n].kind = kind;
	b->ops[b->n].key = orch_xstrdup(key);
	b->ops[b->n].value = orch_xstrdup(value);
	b->n++;
}

void
store_batch_put(struct store_batch *b, const char *key, const char *value)
{
	batch_add(b, STORE_OP_PUT, key, value);
}

void
store_batch_del(struct store_batch *b, const char *key)
{
	batch_add(b, STORE_OP_DEL, key, NULL);
}

void
store_batch_del_prefix(struct store_batch *b, const char *prefix)
{
	batch_add(b, STORE_OP_DEL_PREFIX, prefix, NULL);
}

void
store_batch_event(struct store_batch *b, const char *json)
{
	batch_add(b, STORE_OP_EVENT, NULL, json);
}

size_t
store_batch_len(const struct store_batch *b)
{
	return b->n;
}

void
store_batch_reset(struct store_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->ops[i].key);
		free(b->ops[i].value);
	}
	b->n = 0;
}

void
store_batch_free(struct store_batch *b)
{
	if (b == NULL)
		return;
	store_batch_reset(b);
	free(b->ops);
	free(b);
}

const struct store_op *
store_batch_ops(const struct store_batch *b, size_t *out_n)
{
	*out_n = b->n;
	return b->ops;
}

int
store_get(char **out, struct store *s, const char *key)
{
	return s->ops->get(out, s, key);
}

int
store_list(struct store_kv **out, size_t *out_n, struct store *s,
    const char *prefix)
{
	return s->ops->list(out, out_n, s, prefix);
}

int
store_commit(struct store *s, const struct store_batch *b, uint64_t *out_seq)
{
	return s->ops->commit(s, b, out_seq);
}

int
store_events_since(struct store_event **out, size_t *out_n, struct store *s,
    uint64_t since, size_t limit)
{
	return s->ops->events_since(out, out_n, s, since, limit);
}

int
store_last_seq(uint64_t *out, struct store *s)
{
	return s->ops->last_seq(out, s);
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

void
store_kv_free(struct store_kv *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

void
store_events_free(struct store_event *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].json);
	free(v);
}
