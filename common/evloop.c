/*
 * evloop.c - epoll + libcurl-multi, the part of the daemons' event loops
 * that is the same in both (see evloop.h).
 *
 * libcurl says which of its sockets to watch for what through
 * CURLMOPT_SOCKETFUNCTION and when to call it anyway through
 * CURLMOPT_TIMERFUNCTION; we keep one small watch per socket (assigned to
 * it with curl_multi_assign) and one deadline. A transfer in flight is a
 * struct evloop_req, which CURLOPT_PRIVATE points at, on a list so that
 * evloop_free() can end what is left.
 *
 * One rule keeps a released watch from being used: evloop_unwatch()
 * also drops the watch's events from the batch being dispatched (see
 * there).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "evloop.h"
#include "units.h"

#define EVLOOP_BATCH 64

/* Kinds of the loop's own watches; the daemons' are >= 0. */
enum { EVLOOP_CURL = -1 };

/* One of libcurl's sockets. */
struct curlwatch {
	int kind; /* EVLOOP_CURL: first, like every watch */
	int fd;
};

/* A libcurl transfer in flight; CURLOPT_PRIVATE points at it. */
struct evloop_req {
	struct evloop_req *next, *prev;
	CURL *easy;
	evloop_fn done;
	void *arg;
};

struct evloop {
	int epfd;
	CURLM *multi;
	int64_t curl_timer;        /* mono ms, -1 none */
	struct evloop_req *reqs;   /* transfers in flight */
	void *owner;
	evloop_dispatch_fn dispatch;
	evloop_call_fn call;
	/* The events of the one epoll_wait() being dispatched: [next, nbatch)
	 * are still to come; nbatch is 0 outside evloop_wait(). */
	struct epoll_event batch[EVLOOP_BATCH];
	int nbatch, next;
};

static void
req_unlink(struct evloop *ev, struct evloop_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		ev->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

int
evloop_watch(struct evloop *ev, int fd, void *w, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = w};

	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		if (errno != EEXIST || epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &e) < 0)
			return orch_err_sys(ORCH_ERROR, "epoll_ctl fd %d", fd);
	}
	return 0;
}

/*
 * Why the batch is searched: one epoll_wait() returns up to EVLOOP_BATCH
 * events, each holding a watch pointer, and dispatching one of them can
 * release the watch of another still waiting in the same batch. libcurl
 * closes a socket (CURL_POLL_REMOVE, and we free its watch) when a
 * transfer ends or is cancelled -- from inside curl_multi_socket_action()
 * on any socket, or from a handler that cancels a transfer (the slave's
 * health probes, its reports); the slave closes a pidfd or a TCP probe
 * when an instance exits or a probe ends, and may watch the same struct
 * again on a new descriptor. EPOLL_CTL_DEL stops future events only: the
 * pending one would then point at freed memory, or be taken for an event
 * of the new descriptor. So the release clears the watch's pending
 * events, and evloop_wait() skips cleared ones; after evloop_unwatch()
 * nothing of the loop refers to w, and the owner may free it at once
 * (libuv's uv__platform_invalidate_fd does the same). A watch must go
 * through here before it or its descriptor goes.
 */
void
evloop_unwatch(struct evloop *ev, int fd, void *w)
{
	if (fd >= 0)
		epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
	for (int i = ev->next; i < ev->nbatch; i++)
		if (ev->batch[i].data.ptr == w)
			ev->batch[i].data.ptr = NULL;
}

/* libcurl tells which sockets to watch for what. */
static int
curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct evloop *ev = userp;
	struct curlwatch *w = sockp;
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			evloop_unwatch(ev, fd, w);
			free(w);
			curl_multi_assign(ev->multi, fd, NULL);
		}
		return 0;
	}
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return -1;
		w->kind = EVLOOP_CURL;
		w->fd = fd;
		curl_multi_assign(ev->multi, fd, w);
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	return evloop_watch(ev, fd, w, events) < 0 ? -1 : 0;
}

static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct evloop *ev = userp;

	ev->curl_timer = timeout_ms < 0 ? -1 : orch_mono_ms() + timeout_ms;
	return 0;
}

/* A transfer ended: off the multi handle and the list, then its done
 * function, then the handle goes. */
static void
curl_finish(struct evloop *ev, CURL *easy, CURLcode res)
{
	struct evloop_req *r = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
	curl_multi_remove_handle(ev->multi, easy);
	if (r != NULL)
		req_unlink(ev, r);
	if (r != NULL && r->done != NULL)
		ev->call(ev->owner, r->done, r->arg, easy, res);
	free(r);
	curl_easy_cleanup(easy);
}

static void
curl_check_done(struct evloop *ev)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(ev->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			curl_finish(ev, msg->easy_handle, msg->data.result);
}

static void
curl_ready(struct evloop *ev, struct curlwatch *w, uint32_t events)
{
	int running, flags = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	/* The action may close this very socket and free w: not used after. */
	curl_multi_socket_action(ev->multi, w->fd, flags, &running);
	curl_check_done(ev);
}

int
evloop_new(struct evloop **out, void *owner, evloop_dispatch_fn dispatch,
    evloop_call_fn call)
{
	struct evloop *ev;

	*out = NULL;
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	ev->curl_timer = -1;
	ev->owner = owner;
	ev->dispatch = dispatch;
	ev->call = call;
	if ((ev->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		orch_err_sys(ORCH_ERROR, "epoll_create1");
		free(ev);
		return ORCH_ERROR;
	}
	if ((ev->multi = curl_multi_init()) == NULL) {
		evloop_free(ev);
		return orch_err_set(ORCH_ERROR, "curl_multi_init failed");
	}
	curl_multi_setopt(ev->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(ev->multi, CURLMOPT_SOCKETDATA, ev);
	curl_multi_setopt(ev->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(ev->multi, CURLMOPT_TIMERDATA, ev);
	*out = ev;
	return 0;
}

void
evloop_free(struct evloop *ev)
{
	if (ev == NULL)
		return;
	if (ev->multi != NULL) {
		while (ev->reqs != NULL)
			evloop_curl_cancel(ev, ev->reqs->easy);
		curl_multi_cleanup(ev->multi);
	}
	close(ev->epfd);
	free(ev);
}

CURLM *
evloop_multi(struct evloop *ev)
{
	return ev->multi;
}

int64_t
evloop_deadline(const struct evloop *ev)
{
	return ev->curl_timer;
}

int64_t
evloop_earliest(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int
evloop_wait(struct evloop *ev, int timeout_ms)
{
	int n, running;

	n = epoll_wait(ev->epfd, ev->batch, EVLOOP_BATCH, timeout_ms);
	if (n < 0 && errno != EINTR)
		return orch_err_sys(ORCH_ERROR, "epoll_wait");
	ev->nbatch = n > 0 ? n : 0;
	for (ev->next = 0; ev->next < ev->nbatch;) {
		const struct epoll_event *e = &ev->batch[ev->next++];
		int *kind = e->data.ptr;

		if (kind == NULL)
			continue; /* released since the wait: evloop_unwatch() */
		if (*kind == EVLOOP_CURL)
			curl_ready(ev, (struct curlwatch *)kind, e->events);
		else
			ev->dispatch(ev->owner, kind, e->events);
	}
	ev->nbatch = ev->next = 0;
	if (ev->curl_timer >= 0 && orch_mono_ms() >= ev->curl_timer) {
		ev->curl_timer = -1;
		curl_multi_socket_action(ev->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		curl_check_done(ev);
	}
	return n < 0 ? 0 : n;
}

curl_socket_t
evloop_curl_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)arg;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

int
evloop_curl_add(struct evloop *ev, CURL *easy, evloop_fn done, void *arg)
{
	struct evloop_req *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		curl_easy_cleanup(easy);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	r->easy = easy;
	r->done = done;
	r->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, evloop_curl_opensocket);
	if (curl_multi_add_handle(ev->multi, easy) != CURLM_OK) {
		free(r);
		curl_easy_cleanup(easy);
		return orch_err_set(ORCH_ERROR, "curl_multi_add_handle failed");
	}
	r->next = ev->reqs;
	if (r->next)
		r->next->prev = r;
	ev->reqs = r;
	return 0;
}

void
evloop_curl_cancel(struct evloop *ev, CURL *easy)
{
	struct evloop_req *r = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
	curl_multi_remove_handle(ev->multi, easy);
	if (r != NULL)
		req_unlink(ev, r);
	free(r);
	curl_easy_cleanup(easy);
}

void
evloop_curl_abort_all(struct evloop *ev)
{
	while (ev->reqs != NULL) {
		struct evloop_req *r = ev->reqs;
		CURL *easy = r->easy;

		req_unlink(ev, r);
		curl_multi_remove_handle(ev->multi, easy);
		if (r->done != NULL)
			ev->call(ev->owner, r->done, r->arg, easy, CURLE_ABORTED_BY_CALLBACK);
		free(r);
		curl_easy_cleanup(easy);
	}
}
