/*
 * evloop.h - the epoll + libcurl-multi core shared by the slave's and the
 * controller's event loops (redis ae.c style: one loop per daemon, no
 * thread per request).
 *
 * The loop owns one epoll set and one CURLM. The daemon registers its own
 * descriptors (signalfd, libmicrohttpd's epoll fd, pidfds, ...) with
 * evloop_watch(); libcurl's sockets are registered by the loop itself
 * (CURLMOPT_SOCKETFUNCTION), and curl's timer is a deadline the daemon
 * folds into its sleep (evloop_deadline()). evloop_wait() sleeps, hands
 * every event on a daemon's descriptor to the daemon's dispatch function,
 * drives libcurl for its own, runs curl's timer when due and calls each
 * finished transfer's done function.
 *
 * A watch is the daemon's: any struct whose first member is an int kind
 * (the daemon's own enum, >= 0; negative kinds are the loop's). It is
 * what the daemon's dispatch function gets back with the events.
 *
 * Everything here runs on the loop's thread.
 */
#ifndef ORCH_EVLOOP_H
#define ORCH_EVLOOP_H

#include <curl/curl.h>
#include <stdint.h>

struct evloop;

/* An event on one of the daemon's watches: w as registered, events the
 * EPOLL* bits. */
typedef void (*evloop_dispatch_fn)(void *owner, void *w, uint32_t events);

/* A transfer's done function, stored as a generic function pointer (the
 * daemons' own types take their own struct) and called through the
 * daemon's evloop_call_fn, which casts it back to what it was. */
typedef void (*evloop_fn)(void);
typedef void (*evloop_call_fn)(void *owner, evloop_fn done, void *arg, CURL *easy,
    CURLcode res);

/* A loop with an epoll set and a curl multi handle. owner is passed to
 * dispatch and call as it is. Returns 0 or ORCH_ERROR (message set). */
int evloop_new(struct evloop **out, void *owner, evloop_dispatch_fn dispatch,
    evloop_call_fn call);
/* Ends the transfers still in flight without calling their done
 * functions (see evloop_curl_abort_all() to call them), then closes
 * everything. Accepts NULL. */
void evloop_free(struct evloop *ev);

/* Watch fd for events (EPOLL* bits); events come back to dispatch with w.
 * Watching a watched fd again changes its events. */
int evloop_watch(struct evloop *ev, int fd, void *w, uint32_t events);
/* Stop watching fd (-1: nothing to remove). Call it before the watch or
 * its descriptor goes: it also drops w's events still pending in the
 * batch being dispatched, so w may be freed, or watched again on another
 * descriptor, at once, even from inside a dispatch. */
void evloop_unwatch(struct evloop *ev, int fd, void *w);

/* The libcurl multi handle, for options (lent). */
CURLM *evloop_multi(struct evloop *ev);
/* Mono ms when curl's timer is due, -1 none. */
int64_t evloop_deadline(const struct evloop *ev);
/* The earlier of two deadlines, -1 meaning none: for the daemons that
 * fold their deadlines into one sleep. */
int64_t evloop_earliest(int64_t a, int64_t b);
/* Wait at most timeout_ms for events and dispatch them; then run curl's
 * timer if due. Returns the number of events the wait returned (0 when
 * interrupted by a signal) or ORCH_ERROR. Not reentrant: never call it
 * from a dispatch or a done function. */
int evloop_wait(struct evloop *ev, int timeout_ms);

/* CURLOPT_OPENSOCKETFUNCTION: libcurl's sockets, SOCK_CLOEXEC (libcurl
 * opens them without), so no process a daemon starts inherits one (issue
 * 12). evloop_curl_add sets it; set it on a handle run another way. */
curl_socket_t evloop_curl_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a);
/* Start a transfer: takes easy (cleaned up at once on failure). done, if
 * not NULL, is called once through the loop's call function when it
 * ends; then the loop removes and cleans up the handle. */
int evloop_curl_add(struct evloop *ev, CURL *easy, evloop_fn done, void *arg);
/* Drop a transfer without calling its done function; cleans up easy. */
void evloop_curl_cancel(struct evloop *ev, CURL *easy);
/* End every transfer in flight, calling its done function with
 * CURLE_ABORTED_BY_CALLBACK. */
void evloop_curl_abort_all(struct evloop *ev);

#endif
