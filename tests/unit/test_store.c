/* test_store.c - controller/store_sqlite.c on a real SQLite file. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "store.h"

static char dir[64];
static char path[256];

/* Each test gets its own directory; open_fresh() reopens the same file
 * when called again before remove_db(). */
static struct store *
open_fresh(void)
{
	struct store *s = NULL;

	if (dir[0] == '\0') {
		strcpy(dir, "/tmp/orch-store-XXXXXX");
		REQUIRE(mkdtemp(dir) != NULL);
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	REQUIRE(store_open_sqlite(&s, path) == 0);
	return s;
}

static void
remove_db(void)
{
	char p[300];
	const char *suffix[] = {"", "-wal", "-shm"};

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
	rmdir(dir);
	dir[0] = '\0';
}

TEST(store_sqlite__put_get_list_delete)
{
	struct store *s = open_fresh();
	struct store_batch *b = store_batch_new();
	struct store_kv *kv = NULL;
	size_t n = 0;
	char *v = NULL;

	store_batch_put(b, "services/web", "{\"v\":1}");
	store_batch_put(b, "services/api", "{\"v\":2}");
	store_batch_put(b, "servicesX", "outside");
	store_batch_put(b, "nodes/a", "{}");
	CHECK_EQ_INT(store_commit(s, b, NULL), 0);

	CHECK_EQ_INT(store_get(&v, s, "services/web"), 0);
	CHECK_STR(v, "{\"v\":1}");
	free(v);
	CHECK_EQ_INT(store_get(&v, s, "services/none"), ORCH_ENOTFOUND);
	CHECK(v == NULL);

	CHECK_EQ_INT(store_list(&kv, &n, s, "services/"), 0);
	REQUIRE(n == 2);
	CHECK_STR(kv[0].key, "services/api"); /* key order */
	CHECK_STR(kv[1].key, "services/web");
	store_kv_free(kv, n);

	/* overwrite, delete one, delete a prefix: all in one batch */
	store_batch_reset(b);
	store_batch_put(b, "services/web", "{\"v\":3}");
	store_batch_del(b, "nodes/a");
	store_batch_del_prefix(b, "services/a");
	CHECK_EQ_INT(store_commit(s, b, NULL), 0);
	CHECK_EQ_INT(store_list(&kv, &n, s, ""), 0);
	REQUIRE(n == 2);
	CHECK_STR(kv[0].key, "services/web");
	CHECK_STR(kv[0].value, "{\"v\":3}");
	CHECK_STR(kv[1].key, "servicesX");
	store_kv_free(kv, n);

	store_batch_free(b);
	store_close(s);
	remove_db();
}

TEST(store_sqlite__events_sequence_and_reopen)
{
	struct store *s = open_fresh();
	struct store_batch *b = store_batch_new();
	struct store_event *ev = NULL;
	uint64_t seq = 0, last = 0;
	size_t n = 0;

	for (int i = 0; i < 5; i++) {
		char json[64];
		snprintf(json, sizeof(json), "{\"i\":%d}", i);
		store_batch_event(b, json);
	}
	store_batch_put(b, "revisions/1", "{\"commit\":\"abc\"}");
	CHECK_EQ_INT(store_commit(s, b, &seq), 0);
	CHECK_EQ_INT(seq, 5);
	CHECK_EQ_INT(store_events_since(&ev, &n, s, 2, 0), 0);
	REQUIRE(n == 3);
	CHECK_EQ_INT(ev[0].seq, 3);
	CHECK_STR(ev[0].json, "{\"i\":2}");
	store_events_free(ev, n);
	CHECK_EQ_INT(store_events_since(&ev, &n, s, 0, 2), 0);
	CHECK_EQ_INT(n, 2);
	store_events_free(ev, n);
	store_close(s);

	/* A reopened store has everything committed, and seq keeps growing. */
	s = open_fresh();
	CHECK_EQ_INT(store_last_seq(&last, s), 0);
	CHECK_EQ_INT(last, 5);
	store_batch_reset(b);
	store_batch_event(b, "{\"i\":5}");
	CHECK_EQ_INT(store_commit(s, b, &seq), 0);
	CHECK_EQ_INT(seq, 6);
	store_batch_free(b);
	store_close(s);
	remove_db();
}

TEST(store_sqlite__bad_path_is_an_error)
{
	struct store *s = NULL;

	CHECK(store_open_sqlite(&s, "/nonexistent-dir/x/state.db") != 0);
	CHECK(s == NULL);
	CHECK_CONTAINS(orch_err_last(), "cannot open");
}

CHECK_MAIN(store_sqlite__put_get_list_delete,
    store_sqlite__events_sequence_and_reopen, store_sqlite__bad_path_is_an_error)
