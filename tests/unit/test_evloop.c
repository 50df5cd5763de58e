/*
 * test_evloop.c - common/evloop: a watch released while one epoll batch
 * is being dispatched never sees an event of that batch again.
 *
 * The batches are made deterministic by making every descriptor ready
 * before the one evloop_wait() that takes them: pipes written to, and a
 * local HTTP server (plain sockets on this thread) that answers two
 * transfers at once only after it has read both requests. The first
 * event dispatched then releases the other watch, whose event is still
 * in the batch; before the fix that was a use after free (libcurl's
 * watch) or a stale event dispatched to a re-armed watch.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "evloop.h"
#include "units.h"

/* --- the daemon's own watches ------------------------------------------ */

struct tw {
	int kind;       /* first, as evloop.h wants */
	int fd;
	int wfd;        /* the pipe's write end */
	int hits;
};

struct owner {
	struct evloop *ev;
	struct tw *w[2];
	int hits;
	enum { KEEP, FREE, REARM } release; /* what the first event does to the other */
	/* transfers */
	CURL *easy[2];
	int done;
	CURLcode res[2];
};

static int
tw_pipe(struct tw *w)
{
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	w->fd = p[0];
	w->wfd = p[1];
	return 0;
}

static void
tw_close(struct tw *w)
{
	close(w->fd);
	close(w->wfd);
}

/* Whichever watch comes first releases the other. */
static void
dispatch(void *owner, void *ptr, uint32_t events)
{
	struct owner *o = owner;
	struct tw *w = ptr;
	int i = o->w[0] == w ? 1 : 0;
	struct tw *other = o->w[i];
	char b[16];

	while (read(w->fd, b, sizeof(b)) > 0)
		;
	w->hits++;
	o->hits++;
	if (other == NULL || o->release == KEEP)
		return;
	evloop_unwatch(o->ev, other->fd, other);
	tw_close(other);
	if (o->release == REARM) {
		o->release = KEEP;
		/* Same struct, new descriptor with nothing to read. */
		if (tw_pipe(other) == 0)
			evloop_watch(o->ev, other->fd, other, EPOLLIN);
		return;
	}
	free(other);
	o->w[i] = NULL;
	o->release = KEEP;
}

typedef void (*test_done_fn)(struct owner *o, void *arg, CURL *easy, CURLcode res);

static void
call_done(void *owner, evloop_fn done, void *arg, CURL *easy, CURLcode res)
{
	((test_done_fn)done)(owner, arg, easy, res);
}

static void
two_ready_pipes(struct owner *o, int release)
{
	memset(o, 0, sizeof(*o));
	o->release = release;
	REQUIRE(evloop_new(&o->ev, o, dispatch, call_done) == 0);
	for (int i = 0; i < 2; i++) {
		REQUIRE((o->w[i] = calloc(1, sizeof(*o->w[i]))) != NULL);
		o->w[i]->kind = 1;
		REQUIRE(tw_pipe(o->w[i]) == 0);
		REQUIRE(evloop_watch(o->ev, o->w[i]->fd, o->w[i], EPOLLIN) == 0);
		REQUIRE(write(o->w[i]->wfd, "x", 1) == 1);
	}
}

static void
owner_free(struct owner *o)
{
	for (int i = 0; i < 2; i++) {
		if (o->w[i] == NULL)
			continue;
		evloop_unwatch(o->ev, o->w[i]->fd, o->w[i]);
		tw_close(o->w[i]);
		free(o->w[i]);
	}
	evloop_free(o->ev);
}

/* The second event of the batch is for a watch the first one freed. */
TEST(evloop_unwatch__freed_in_batch)
{
	struct owner o;

	two_ready_pipes(&o, FREE);
	CHECK_EQ_INT(evloop_wait(o.ev, 1000), 2);
	CHECK_EQ_INT(o.hits, 1);
	CHECK((o.w[0] == NULL) != (o.w[1] == NULL));
	owner_free(&o);
}

/* Released and watched again on another descriptor within the batch:
 * the old descriptor's event is not the new one's. */
TEST(evloop_unwatch__rearmed_in_batch)
{
	struct owner o;

	two_ready_pipes(&o, REARM);
	CHECK_EQ_INT(evloop_wait(o.ev, 1000), 2);
	CHECK_EQ_INT(o.hits, 1);
	CHECK_EQ_INT(o.w[0]->hits + o.w[1]->hits, 1);
	/* The re-armed watch works: its new pipe's event comes through. */
	for (int i = 0; i < 2; i++)
		if (o.w[i]->hits == 0)
			REQUIRE(write(o.w[i]->wfd, "y", 1) == 1);
	CHECK_EQ_INT(evloop_wait(o.ev, 1000), 1);
	CHECK_EQ_INT(o.hits, 2);
	owner_free(&o);
}

/* --- libcurl's watches ------------------------------------------------- */

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* The first transfer to end cancels the other, whose socket (and so
 * libcurl's watch of it) goes while its event waits in the batch. */
static void
cancel_other(struct owner *o, void *arg, CURL *easy, CURLcode res)
{
	int i = (int)(intptr_t)arg;

	o->res[i] = res;
	o->done++;
	o->easy[i] = NULL; /* the loop cleans it up */
	if (o->easy[!i] != NULL) {
		evloop_curl_cancel(o->ev, o->easy[!i]);
		o->easy[!i] = NULL;
	}
}

static void
record(struct owner *o, void *arg, CURL *easy, CURLcode res)
{
	int i = (int)(intptr_t)arg;

	o->res[i] = res;
	o->done++;
	o->easy[i] = NULL;
}

static int
listen_local(int *out_port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	*out_port = ntohs(sin.sin_port);
	return fd;
}

static CURL *
get(int port, const char *path)
{
	char url[128];
	CURL *e = curl_easy_init();

	if (e == NULL)
		return NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	return e;
}

struct conn {
	int fd;
	char buf[4096];
	size_t len;
};

/* The test's HTTP server: a listening socket and the two connections. */
struct server {
	int lfd;
	struct conn c[2];
};

static void
server_close(struct server *sv)
{
	for (int i = 0; i < 2; i++)
		close(sv->c[i].fd);
	close(sv->lfd);
}

/* Run the loop until the server holds both transfers' whole requests. */
static bool
serve_until_requests(struct owner *o, int lfd, struct conn *c, int n)
{
	int64_t until = orch_mono_ms() + 10000;
	int have = 0, full;

	while (orch_mono_ms() < until) {
		if (evloop_wait(o->ev, 10) < 0)
			return false;
		while (have < n) {
			int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd < 0)
				break;
			c[have].fd = fd;
			c[have++].len = 0;
		}
		full = 0;
		for (int i = 0; i < have; i++) {
			ssize_t r = read(c[i].fd, c[i].buf + c[i].len, sizeof(c[i].buf) - 1 - c[i].len);

			if (r > 0)
				c[i].len += (size_t)r;
			c[i].buf[c[i].len] = '\0';
			if (strstr(c[i].buf, "\r\n\r\n") != NULL)
				full++;
		}
		if (full == n)
			return true;
	}
	return false;
}

static void
two_transfers_answered(struct owner *o, struct server *sv, test_done_fn done)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	int port;

	memset(o, 0, sizeof(*o));
	REQUIRE(evloop_new(&o->ev, o, dispatch, call_done) == 0);
	REQUIRE((sv->lfd = listen_local(&port)) >= 0);
	for (int i = 0; i < 2; i++) {
		REQUIRE((o->easy[i] = get(port, i ? "/b" : "/a")) != NULL);
		REQUIRE(evloop_curl_add(o->ev, o->easy[i], (evloop_fn)done,
		    (void *)(intptr_t)i) == 0);
	}
	CHECK(evloop_deadline(o->ev) >= 0);
	REQUIRE(serve_until_requests(o, sv->lfd, sv->c, 2));
	CHECK_EQ_INT(o->done, 0);
	/* Both answers are in the sockets before the loop looks again. */
	for (int i = 0; i < 2; i++)
		REQUIRE(write(sv->c[i].fd, resp, sizeof(resp) - 1) == (ssize_t)sizeof(resp) - 1);
}

TEST(evloop_curl__socket_removed_in_batch)
{
	struct owner o;
	struct server sv;

	two_transfers_answered(&o, &sv, cancel_other);
	CHECK_EQ_INT(evloop_wait(o.ev, 1000), 2);
	CHECK_EQ_INT(o.done, 1);
	CHECK(o.res[0] == CURLE_OK || o.res[1] == CURLE_OK);
	CHECK(o.easy[0] == NULL && o.easy[1] == NULL);
	evloop_free(o.ev);
	server_close(&sv);
}

/* Both answered in one batch: both done functions run, once each. */
TEST(evloop_curl__both_done)
{
	struct owner o;
	struct server sv;

	two_transfers_answered(&o, &sv, record);
	CHECK_EQ_INT(evloop_wait(o.ev, 1000), 2);
	CHECK_EQ_INT(o.done, 2);
	CHECK(o.res[0] == CURLE_OK && o.res[1] == CURLE_OK);
	evloop_free(o.ev);
	server_close(&sv);
}

/* evloop_curl_abort_all() tells every owner; evloop_free() tells none. */
TEST(evloop_curl__abort_all)
{
	struct owner o;
	int lfd, port;

	memset(&o, 0, sizeof(o));
	REQUIRE(evloop_new(&o.ev, &o, dispatch, call_done) == 0);
	REQUIRE((lfd = listen_local(&port)) >= 0);
	for (int i = 0; i < 2; i++) {
		REQUIRE((o.easy[i] = get(port, "/")) != NULL);
		REQUIRE(evloop_curl_add(o.ev, o.easy[i], (evloop_fn)record,
		    (void *)(intptr_t)i) == 0);
	}
	CHECK_EQ_INT(evloop_wait(o.ev, 10) >= 0, 1);
	evloop_curl_abort_all(o.ev);
	CHECK_EQ_INT(o.done, 2);
	CHECK(o.res[0] == CURLE_ABORTED_BY_CALLBACK && o.res[1] == CURLE_ABORTED_BY_CALLBACK);
	REQUIRE((o.easy[0] = get(port, "/")) != NULL);
	REQUIRE(evloop_curl_add(o.ev, o.easy[0], (evloop_fn)record, NULL) == 0);
	evloop_free(o.ev);
	CHECK_EQ_INT(o.done, 2);
	close(lfd);
}

CHECK_MAIN(evloop_unwatch__freed_in_batch, evloop_unwatch__rearmed_in_batch,
    evloop_curl__socket_removed_in_batch, evloop_curl__both_done, evloop_curl__abort_all)
