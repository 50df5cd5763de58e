/*
 * tls.h - TLS and mutual TLS for orch's listeners and its HTTP clients
 * (issue 12).
 *
 * Servers (libmicrohttpd with GnuTLS): tls_server_load() reads the
 * daemon's --tls-cert, --tls-key and --tls-ca once at start; httpd.c
 * hands them to MHD, which asks every client for a certificate but does
 * not check it. tls_peer_verify() does, for each connection: the chain
 * must end at the CA of --tls-ca, be valid now (neither expired nor not
 * yet valid) and, when it says what it is for, be meant for a TLS client.
 *
 * A verified certificate names a principal (principal.h) the way
 * Kubernetes reads a client certificate (CN = user, O = group): the
 * subject's O (organization) is the role word - "admin", "read",
 * "controller" or "node" - and its CN (common name) is who: the node's
 * name for "node" (O=node, CN=node-1 is node:node-1), a person or a host
 * for the others (O=admin, CN=alice). A subject with no O, several O, an
 * unknown role word or a bad node name is refused.
 *
 * Clients (libcurl): struct tls_client holds the same three files, and
 * tls_curl_setup() is the one place a curl handle gets them: the CA to
 * verify the server with (else the system's store), the certificate and
 * key to present.
 */
#ifndef ORCH_TLS_H
#define ORCH_TLS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "principal.h"

/* The three PEM files of a daemon or client; NULL members are unset. */
struct tls_files {
	const char *cert;
	const char *key;
	const char *ca;
};

/* Whether any of the three is set. */
bool tls_files_any(const struct tls_files *f);
/* A daemon needs all three or none: 0, or ORCH_EINVALID naming what is
 * missing. */
int tls_files_check_server(const struct tls_files *f);
/* A client: --cert and --key go together; 0 or ORCH_EINVALID. */
int tls_files_check_client(const struct tls_files *f);

/* The files of a server, read into memory (MHD takes PEM text). */
struct tls_server {
	char *cert_pem;
	char *key_pem;
	char *ca_pem;
};

/* Read f's three files (all required). *out is the caller's: free with
 * tls_server_free(). 0, or ORCH_EINVALID with the file and reason. */
int tls_server_load(struct tls_server **out, const struct tls_files *f);
void tls_server_free(struct tls_server *t);

struct MHD_OptionItem;

/* libmicrohttpd's options for a server at listen (addr its dotted quad):
 * with t, MHD_USE_TLS into *flags and the certificate, the key and the CA
 * (whose presence makes MHD ask every client for a certificate) into
 * opts, which has room for 4; without, none, and a warning when others
 * can reach the port (tls_plain_listen_warns). 0, or ORCH_EINVALID when
 * this libmicrohttpd has no TLS. */
int tls_mhd_options(struct MHD_OptionItem *opts, unsigned *flags, const struct tls_server *t,
    const char *listen, const char *addr);

enum tls_peer {
	TLS_PEER_NONE,     /* the client sent no certificate */
	TLS_PEER_OK,       /* verified; *out is its principal */
	TLS_PEER_REFUSED,  /* sent one that fails; why says how */
};

/* Verify the client certificate of a GnuTLS session (a
 * gnutls_session_t, as MHD_CONNECTION_INFO_GNUTLS_SESSION lends it)
 * against the CA the server was started with, and map it to a principal.
 * why (n bytes) gets a one-line reason when REFUSED. */
enum tls_peer tls_peer_verify(void *session, struct orch_principal *out, char *why,
    size_t n);

/* Map a certificate's subject fields to a principal (see above): 0, or
 * ORCH_EAUTH with the reason set. o_count is how many O the subject has. */
int tls_subject_principal(struct orch_principal *out, const char *o, size_t o_count,
    const char *cn);

/* Whether a daemon listening on addr (dotted quad, as httpd_parse_listen
 * gives it) without TLS should warn at start: anything but loopback
 * (127.0.0.0/8) is reachable by others, who would read tokens in clear. */
bool tls_plain_listen_warns(const char *addr);

/* A client's TLS settings; members point at caller-owned strings. */
struct tls_client {
	struct tls_files files;
};

/* Set up e for https: verify the server with files.ca (else the system's
 * CAs) and present files.cert/files.key when set. Accepts t == NULL or
 * empty (nothing to set: plain http, or https with the system's CAs). */
void tls_curl_setup(CURL *e, const struct tls_client *t);

/* The scheme to reach a peer with: "https" when t has a CA (a cluster
 * over TLS), else "http". */
const char *tls_scheme(const struct tls_client *t);

#endif
