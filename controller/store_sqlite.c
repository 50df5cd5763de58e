/*
 * store_sqlite.c - the embedded store: one SQLite file in WAL mode.
 *
 * Why WAL + synchronous=NORMAL: a commit is durable against the controller
 * being killed at any moment (kill -9 is the case the design names); only
 * an OS crash or power loss can drop the last few commits, and the
 * reconcile loop re-derives those from the slaves' next heartbeats. FULL
 * would add an fsync per commit on the hot path of every event.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "store.h"

/* Events kept: enough for `orchctl events` and the page to catch up after a
 * long disconnect, bounded so the file does not grow without end. */
#define EVENTS_KEEP 100000

struct store_sqlite {
	struct store base; /* first: a struct store * is a struct store_sqlite * */
	sqlite3 *db;
	sqlite3_stmt *get, *list, *put, *del, *del_range, *ev_add, *ev_since,
	    *ev_last, *ev_trim;
	uint64_t events_since_trim;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, json TEXT NOT NULL);";

static int
db_err(struct store_sqlite *s, const char *what)
{
	return orch_err_set(ORCH_ERROR, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* The exclusive end of the key range that starts with prefix: the prefix
 * with its last byte incremented (etcd's range_end rule). NULL: no end. */
static char *
prefix_end(const char *prefix)
{
	size_t len = strlen(prefix);
	char *end;

	while (len > 0 && (unsigned char)prefix[len - 1] == 0xff)
		len--;
	if (len == 0)
		return NULL;
	if ((end = strndup(prefix, len)) == NULL)
		abort();
	end[len - 1]++;
	return end;
}

static int
sqlite_get(char **out, struct store *base, const char *key)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int rc;

	*out = NULL;
	sqlite3_reset(s->get);
	sqlite3_bind_text(s->get, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->get);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s->get, 0);
		if ((*out = strdup(v ? v : "")) == NULL)
			abort();
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = orch_err_set(ORCH_ENOTFOUND, "store: no key '%s'", key);
	} else {
		rc = db_err(s, "get");
	}
	sqlite3_reset(s->get);
	return rc;
}

static int
sqlite_list(struct store_kv **out, size_t *out_n, struct store *base,
    const char *prefix)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	struct store_kv *v = NULL;
	size_t n = 0, cap = 0;
	char *end = prefix_end(prefix);
	int rc;

	sqlite3_reset(s->list);
	sqlite3_bind_text(s->list, 1, prefix, -1, SQLITE_STATIC);
	if (end)
		sqlite3_bind_text(s->list, 2, end, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s->list, 2);
	while ((rc = sqlite3_step(s->list)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((v = realloc(v, cap * sizeof(*v))) == NULL)
				abort();
		}
		v[n].key = strdup((const char *)sqlite3_column_text(s->list, 0));
		v[n].value = strdup((const char *)sqlite3_column_text(s->list, 1));
		if (v[n].key == NULL || v[n].value == NULL)
			abort();
		n++;
	}
	if (rc != SQLITE_DONE) {
		rc = db_err(s, "list");
		store_kv_free(v, n);
		v = NULL;
		n = 0;
	} else {
		rc = 0;
	}
	sqlite3_reset(s->list);
	sqlite3_clear_bindings(s->list);
	free(end);
	*out = v;
	*out_n = n;
	return rc;
}

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
apply_op(struct store_sqlite *s, const struct store_op *op)
{
	char *end;
	int rc;

	switch (op->kind) {
	case STORE_OP_PUT:
		sqlite3_bind_text(s->put, 1, op->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->put, 2, op->value, -1, SQLITE_STATIC);
		return step_done(s->put);
	case STORE_OP_DEL:
		sqlite3_bind_text(s->del, 1, op->key, -1, SQLITE_STATIC);
		return step_done(s->del);
	case STORE_OP_DEL_PREFIX:
		end = prefix_end(op->key);
		sqlite3_bind_text(s->del_range, 1, op->key, -1, SQLITE_STATIC);
		if (end)
			sqlite3_bind_text(s->del_range, 2, end, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(s->del_range, 2);
		rc = step_done(s->del_range);
		free(end);
		return rc;
	case STORE_OP_EVENT:
		sqlite3_bind_text(s->ev_add, 1, op->value, -1, SQLITE_STATIC);
		return step_done(s->ev_add);
	}
	return -1;
}

static int
sqlite_commit(struct store *base, const struct store_batch *b, uint64_t *out_seq)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	const struct store_op *ops;
	size_t n, nevents = 0;
	uint64_t seq = 0;

	ops = store_batch_ops(b, &n);
	if (n == 0) {
		if (out_seq)
			*out_seq = 0;
		return 0;
	}
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_err(s, "begin");
	for (size_t i = 0; i < n; i++) {
		if (apply_op(s, &ops[i]) != 0) {
			int rc = db_err(s, "write");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		if (ops[i].kind == STORE_OP_EVENT) {
			seq = (uint64_t)sqlite3_last_insert_rowid(s->db);
			nevents++;
		}
	}
	/* Trim the event log now and then, inside the same transaction. */
	s->events_since_trim += nevents;
	if (s->events_since_trim >= 1000 && seq > EVENTS_KEEP) {
		sqlite3_bind_int64(s->ev_trim, 1, (sqlite3_int64)(seq - EVENTS_KEEP));
		if (step_done(s->ev_trim) != 0) {
			int rc = db_err(s, "trim events");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		s->events_since_trim = 0;
	}
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = db_err(s, "commit");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	if (out_seq)
		*out_seq = seq;
	return 0;
}

static int
sqlite_events_since(struct store_event **out, size_t *out_n, struct store *base,
    uint64_t since, size_t limit)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	struct store_event *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	sqlite3_bind_int64(s->ev_since, 1, (sqlite3_int64)since);
	sqlite3_bind_int64(s->ev_since, 2, limit ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(s->ev_since)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((v = realloc(v, cap * sizeof(*v))) == NULL)
				abort();
		}
		v[n].seq = (uint64_t)sqlite3_column_int64(s->ev_since, 0);
		if ((v[n].json = strdup((const char *)sqlite3_column_text(s->ev_since, 1))) == NULL)
			abort();
		n++;
	}
	sqlite3_reset(s->ev_since);
	sqlite3_clear_bindings(s->ev_since);
	if (rc != SQLITE_DONE) {
		store_events_free(v, n);
		*out = NULL;
		*out_n = 0;
		return db_err(s, "events");
	}
	*out = v;
	*out_n = n;
	return 0;
}

static int
sqlite_last_seq(uint64_t *out, struct store *base)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	int rc = sqlite3_step(s->ev_last);

	*out = 0;
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(s->ev_last, 0);
	sqlite3_reset(s->ev_last);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_err(s, "last seq");
}

static void
sqlite_close(struct store *base)
{
	struct store_sqlite *s = (struct store_sqlite *)base;
	sqlite3_stmt *all[] = {s->get, s->list, s->put, s->del, s->del_range,
	    s->ev_add, s->ev_since, s->ev_last, s->ev_trim};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(s->db);
	free(s);
}

static const struct store_ops sqlite_ops = {
	.get = sqlite_get,
	.list = sqlite_list,
	.commit = sqlite_commit,
	.events_since = sqlite_events_since,
	.last_seq = sqlite_last_seq,
	.close = sqlite_close,
};

/*
 * The store holds every spec, environments included: its files are the
 * controller's alone (0600, whatever the umask). SQLite gives the -wal
 * and -shm files it creates the mode of the database file, so creating
 * that one 0600 is enough; files of an older run are narrowed too.
 */
static void
restrict_mode(const char *path)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char p[4096];
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd); /* a failure is sqlite3_open_v2's to report */
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		chmod(p, 0600);
	}
}

int
store_open_sqlite(struct store **out, const char *path)
{
	static const struct { size_t off; const char *sql; } stmts[] = {
		{offsetof(struct store_sqlite, get), "SELECT value FROM kv WHERE key = ?1"},
		{offsetof(struct store_sqlite, list),
		 "SELECT key, value FROM kv WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) ORDER BY key"},
		{offsetof(struct store_sqlite, put),
		 "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
		{offsetof(struct store_sqlite, del), "DELETE FROM kv WHERE key = ?1"},
		{offsetof(struct store_sqlite, del_range),
		 "DELETE FROM kv WHERE key >= ?1 AND (?2 IS NULL OR key < ?2)"},
		{offsetof(struct store_sqlite, ev_add), "INSERT INTO events (json) VALUES (?1)"},
		{offsetof(struct store_sqlite, ev_since),
		 "SELECT seq, json FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"},
		{offsetof(struct store_sqlite, ev_last), "SELECT COALESCE(MAX(seq), 0) FROM events"},
		{offsetof(struct store_sqlite, ev_trim), "DELETE FROM events WHERE seq <= ?1"},
	};
	struct store_sqlite *s;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		abort();
	s->base.ops = &sqlite_ops;
	restrict_mode(path);
	if (sqlite3_open_v2(path, &s->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		rc = orch_err_set(ORCH_ERROR, "store: cannot open '%s': %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
	    NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		rc = orch_err_set(ORCH_ERROR, "store: cannot initialise '%s': %s",
		    path, sqlite3_errmsg(s->db));
		goto fail;
	}
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		sqlite3_stmt **st = (sqlite3_stmt **)((char *)s + stmts[i].off);
		if (sqlite3_prepare_v2(s->db, stmts[i].sql, -1, st, NULL) != SQLITE_OK) {
			rc = db_err(s, "prepare");
			goto fail;
		}
	}
	*out = &s->base;
	return 0;
fail:
	sqlite_close(&s->base);
	return rc;
}
