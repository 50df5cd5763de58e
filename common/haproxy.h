/*
 * haproxy.h - drive HAProxy (>= 2.4; Debian 12 ships 2.6) through its
 * Runtime API socket: the traffic half of rollouts (docs/haproxy.md).
 *
 * Layout on the HAProxy side, one set per service that has a port
 * (haproxy_config() writes it):
 *
 *   frontend orch_<svc>        bind ADDR:PORT, picks its backend with
 *                              use_backend %[str(<svc>),map(MAP,...)]
 *   backend orch_<svc>_blue    balance roundrobin, servers added at run time
 *   backend orch_<svc>_green   the other colour, for blue-green
 *
 * Servers are dynamic ("add server", HAProxy >= 2.4), named after the
 * orch instance id, so nothing is pre-provisioned and nothing reloads.
 * Canary steps are server weights inside the live backend; blue-green
 * fills the idle colour and then flips the map entry of the service with
 * one "set map" (haproxy_switch): a map entry is a single value that each
 * request reads once, so every request sees the old colour or the new one,
 * never a mix. Weights changed over several commands are not atomic: other
 * threads keep balancing between two commands of a batch.
 *
 * Every call opens the unix socket, sends its commands, reads the answers
 * and closes it, all within HAPROXY_TIMEOUT_MS (the whole exchange, not
 * per read), so the controller may call it from its loop. The one call
 * that may wait longer is haproxy_server_del(), bounded by its wait_ms.
 *
 * Names (backend, server, map key) must match [A-Za-z0-9_.:-]{1,63}:
 * they are pasted into CLI commands, and ';' or a newline would start a
 * new command. Functions return 0 or a negative ORCH_E* with
 * orch_err_last() set: ORCH_EUNAVAIL when the socket cannot be reached,
 * ORCH_ENOTFOUND for an unknown backend or server, ORCH_EINVALID for bad
 * arguments, ORCH_EEXISTS for a name clash or a server that still has
 * connections, ORCH_ERROR for any other refusal (HAProxy's text quoted).
 */
#ifndef ORCH_HAPROXY_H
#define ORCH_HAPROXY_H

#include <stdbool.h>
#include <stddef.h>

#define HAPROXY_TIMEOUT_MS 500
#define HAPROXY_NAME_MAX 64

/* A server's administrative state, as "set server ... state" sets it. */
enum haproxy_admin {
	HAPROXY_READY,  /* takes new requests */
	HAPROXY_DRAIN,  /* out of balancing; requests in flight finish */
	HAPROXY_MAINT,  /* no traffic at all; the state "del server" needs */
	HAPROXY_ADMIN_LAST
};

struct haproxy_server {
	char name[HAPROXY_NAME_MAX];
	char addr[64];
	int port;
	int weight;               /* current (user) weight, 0..256 */
	enum haproxy_admin admin;
	bool up;                  /* operational state running or starting */
	long sessions;            /* current sessions (show stat scur) */
};

/* "ready", "drain", "maint". */
const char *haproxy_admin_name(enum haproxy_admin a);

/* The servers of backend: *out malloc'd array of *out_n (NULL when 0),
 * owned by the caller (free()). */
int haproxy_servers(struct haproxy_server **out, size_t *out_n,
    const char *sock, const char *backend);

/* Add server name at addr:port with weight (0..256) and make it take
 * traffic ("add server" then "enable server": dynamic servers are born in
 * maintenance). Idempotent: when name already exists at the same
 * addr:port its weight is set and it is made ready again; at another
 * address it is ORCH_EEXISTS. addr is a numeric IPv4/IPv6 address. */
int haproxy_server_add(const char *sock, const char *backend, const char *name,
    const char *addr, int port, int weight);

/* State drain: no new requests are balanced to it, those in flight finish.
 * Poll haproxy_servers() for sessions == 0 before stopping the process. */
int haproxy_server_drain(const char *sock, const char *backend, const char *name);

/* Set the state back to ready. */
int haproxy_server_ready(const char *sock, const char *backend, const char *name);

/* Remove the server: state maint, then "del server", retried every 20 ms
 * while HAProxy refuses because connections remain, for at most wait_ms
 * (0: one try). Still busy at the end: ORCH_EEXISTS, the server stays in
 * maint, call again later. Already gone: 0 (idempotent). */
int haproxy_server_del(const char *sock, const char *backend, const char *name,
    int wait_ms);

/* Set the weight (0..256; 0 takes it out of balancing, like drain). */
int haproxy_server_weight(const char *sock, const char *backend,
    const char *name, int weight);

/* Server weights that send pct % (0..100) of the requests to a set of
 * n_new servers and the rest to n_old servers (a canary step): every new
 * server gets *out_new, every old one *out_old, both within 0..256: the
 * share is exact when the reduced weights fit, within about a point when
 * they need scaling, and the nearest HAProxy can take when even that does
 * not fit (a share of 5 % spread over 50 servers against 1).
 * ORCH_EINVALID when pct is out of range or a set is empty while its
 * share is not 0. */
int haproxy_split_weights(int *out_new, int *out_old, int pct, int n_new,
    int n_old);

/* The backend the map entry key currently selects, into out (len bytes). */
int haproxy_live_backend(char *out, size_t len, const char *sock,
    const char *map, const char *key);

/* Point the map entry key at backend with one "set map" (or "add map"
 * when the entry is missing): the atomic blue-green flip. Refused with
 * ORCH_EINVALID, before anything changes, when backend has no server
 * that is ready, up and of weight > 0 (the flip would answer 503). */
int haproxy_switch(const char *sock, const char *map, const char *key,
    const char *backend);

/* The names haproxy_config() uses for a service (buffers of
 * HAPROXY_NAME_MAX): "orch_<svc>_blue" and "orch_<svc>_green". */
int haproxy_backend_name(char *out, size_t len, const char *service,
    bool green);

struct haproxy_service {
	const char *name;  /* orch service name */
	const char *bind;  /* listen address, e.g. "127.0.0.1" or "*" */
	int port;          /* the service's public port */
};

/* A complete haproxy.cfg (*out malloc'd, the caller frees): a global
 * section with the admin socket at sock, defaults that never fail a
 * request on a draining or vanished server (redispatch, retries,
 * retry-on), and per service a frontend and its two backends, reading the
 * live colour from map. *out_map gets the initial map file text (every
 * service on blue), which must be written to map before HAProxy starts. */
int haproxy_config(char **out, char **out_map, const char *sock,
    const char *map, const struct haproxy_service *svcs, size_t n);

#endif
