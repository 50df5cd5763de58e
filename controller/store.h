/*
 * store.h - the controller's durable state, behind an interface narrow
 * enough for two back ends: SQLite (embedded, default: store_sqlite.c) and
 * later etcd (3+ members, leases) for a highly available controller.
 *
 * The model is etcd's: string keys with JSON values, read one at a time or
 * by prefix, written in atomic batches; plus an append-only event log whose
 * sequence numbers only grow. Keys are paths: "revisions/<seq>",
 * "services/<name>", "instances/<id>", "nodes/<name>", "rollouts/<name>".
 * The reconcile code sees only these calls, never SQL.
 *
 * Ownership: strings returned through out pointers belong to the caller
 * (free() them, or the matching _free()). Errors follow common/err.h.
 */
#ifndef ORCH_STORE_H
#define ORCH_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_batch;

struct store_kv {
	char *key;
	char *value;
};

struct store_event {
	uint64_t seq;
	char *json; /* the event object as appended */
};

/* Open (creating if needed) the SQLite store at path, in WAL mode. */
int store_open_sqlite(struct store **out, const char *path);
void store_close(struct store *s);

/* Value of key (NUL-terminated, caller frees), or ORCH_ENOTFOUND. */
int store_get(char **out, struct store *s, const char *key);
/* Every key starting with prefix, in key order. */
int store_list(struct store_kv **out, size_t *out_n, struct store *s,
    const char *prefix);
void store_kv_free(struct store_kv *v, size_t n);

/*
 * A batch collects puts, deletes and events; store_commit() applies all of
 * them or none (one transaction, one fsync), so a controller killed between
 * two steps never leaves half of one step behind. The batch may be reused
 * after store_batch_reset().
 */
struct store_batch *store_batch_new(void);
void store_batch_put(struct store_batch *b, const char *key, const char *value);
void store_batch_del(struct store_batch *b, const char *key);
void store_batch_del_prefix(struct store_batch *b, const char *prefix);
void store_batch_event(struct store_batch *b, const char *json);
size_t store_batch_len(const struct store_batch *b);
void store_batch_reset(struct store_batch *b);
void store_batch_free(struct store_batch *b);
/* Apply b atomically. *out_seq (may be NULL) gets the last event seq
 * assigned (0 when the batch had no events). */
int store_commit(struct store *s, const struct store_batch *b, uint64_t *out_seq);

/* Events with seq > since, oldest first, at most limit (0: no limit). */
int store_events_since(struct store_event **out, size_t *out_n,
    struct store *s, uint64_t since, size_t limit);
void store_events_free(struct store_event *v, size_t n);
/* Highest event seq so far (0 when none). */
int store_last_seq(uint64_t *out, struct store *s);

/* ---- for back ends only ---- */
struct store_ops {
	int (*get)(char **out, struct store *s, const char *key);
	int (*list)(struct store_kv **out, size_t *out_n, struct store *s,
	    const char *prefix);
	int (*commit)(struct store *s, const struct store_batch *b, uint64_t *out_seq);
	int (*events_since)(struct store_event **out, size_t *out_n,
	    struct store *s, uint64_t since, size_t limit);
	int (*last_seq)(uint64_t *out, struct store *s);
	void (*close)(struct store *s);
};
struct store {
	const struct store_ops *ops;
};

enum store_op_kind { STORE_OP_PUT, STORE_OP_DEL, STORE_OP_DEL_PREFIX, STORE_OP_EVENT };
struct store_op {
	enum store_op_kind kind;
	char *key;   /* key or prefix; NULL for events */
	char *value; /* value or event json; NULL for deletes */
};
/* Lend the ops of a batch to a back end. */
const struct store_op *store_batch_ops(const struct store_batch *b, size_t *out_n);

#endif
