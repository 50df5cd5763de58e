/* tls.c - server certificates, client-certificate checks, curl's TLS; see tls.h. */
#include "tls.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "readfile.h"

/* A PEM file is a few KiB; a bound keeps a wrong path (a log, /dev/zero)
 * from being read whole. */
#define TLS_PEM_MAX (1024 * 1024)

bool
tls_files_any(const struct tls_files *f)
{
	return f->cert != NULL || f->key != NULL || f->ca != NULL;
}

int
tls_files_check_server(const struct tls_files *f)
{
	if (!tls_files_any(f))
		return 0;
	if (f->cert == NULL || f->key == NULL || f->ca == NULL)
		return orch_err_set(ORCH_EINVALID, "TLS needs all of --tls-cert, --tls-key and "
		    "--tls-ca (missing %s)", f->cert == NULL ? "--tls-cert" :
		    f->key == NULL ? "--tls-key" : "--tls-ca");
	return 0;
}

int
tls_files_check_client(const struct tls_files *f)
{
	if ((f->cert == NULL) != (f->key == NULL))
		return orch_err_set(ORCH_EINVALID, "a client certificate needs both its "
		    "certificate and its key (%s is missing)", f->cert == NULL ? "cert" : "key");
	return 0;
}

/* A PEM file's text; a private key must be its owner's alone. */
static int
read_pem(char **out, const char *path, bool key)
{
	int rc;

	if ((rc = readfile_small(out, path, TLS_PEM_MAX, key ? READFILE_PRIVATE : 0,
	    key ? "TLS key" : "TLS file")) < 0)
		return rc;
	if (strstr(*out, "-----BEGIN ") == NULL) {
		free(*out);
		*out = NULL;
		return orch_err_set(ORCH_EINVALID, "TLS file %s: not PEM (no -----BEGIN line)",
		    path);
	}
	return 0;
}

int
tls_server_load(struct tls_server **out, const struct tls_files *f)
{
	struct tls_server *t;
	int rc;

	*out = NULL;
	if ((rc = tls_files_check_server(f)) < 0)
		return rc;
	if (!tls_files_any(f))
		return orch_err_set(ORCH_EINVALID, "no TLS files given");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if ((rc = read_pem(&t->cert_pem, f->cert, false)) < 0 ||
	    (rc = read_pem(&t->key_pem, f->key, true)) < 0 ||
	    (rc = read_pem(&t->ca_pem, f->ca, false)) < 0) {
		tls_server_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void
tls_server_free(struct tls_server *t)
{
	if (t == NULL)
		return;
	free(t->cert_pem);
	if (t->key_pem != NULL)
		explicit_bzero(t->key_pem, strlen(t->key_pem));
	free(t->key_pem);
	free(t->ca_pem);
	free(t);
}

int
tls_mhd_options(struct MHD_OptionItem *opts, unsigned *flags, const struct tls_server *t,
    const char *listen, const char *addr)
{
	size_t i = 0;

	if (t == NULL) {
		if (tls_plain_listen_warns(addr))
			log_warnx("listening on %s without TLS: tokens and data cross the "
			    "network in clear; give --tls-cert, --tls-key and --tls-ca "
			    "(docs/security.md)", listen);
	} else {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return orch_err_set(ORCH_EINVALID, "this libmicrohttpd has no TLS support");
		*flags |= MHD_USE_TLS;
		opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert_pem};
		opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->key_pem};
		opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->ca_pem};
	}
	opts[i] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	return 0;
}

int
tls_subject_principal(struct orch_principal *out, const char *o, size_t o_count,
    const char *cn)
{
	char text[16 + ORCH_PRINCIPAL_NAME_MAX];

	memset(out, 0, sizeof(*out));
	if (o_count != 1)
		return orch_err_set(ORCH_EAUTH, "the certificate's subject has %zu O (organization) "
		    "fields; want exactly one, the role", o_count);
	if (strcmp(o, "node") == 0) {
		if (cn == NULL || *cn == '\0')
			return orch_err_set(ORCH_EAUTH, "a node certificate (O=node) needs the "
			    "node's name as its CN");
		snprintf(text, sizeof(text), "node:%.*s", ORCH_PRINCIPAL_NAME_MAX, cn);
	} else if (strcmp(o, "admin") == 0 || strcmp(o, "read") == 0 ||
	    strcmp(o, "controller") == 0) {
		snprintf(text, sizeof(text), "%s", o);
	} else
		return orch_err_set(ORCH_EAUTH, "the certificate's O \"%.64s\" is no role (admin, "
		    "read, controller or node)", o);
	if (orch_principal_parse(out, text) < 0)
		return orch_err_prefix(ORCH_EAUTH, "certificate");
	if (out->role != ORCH_ROLE_NODE && cn != NULL)
		snprintf(out->name, sizeof(out->name), "%s", cn);
	return 0;
}

/* The index-th value of one field (oid) of the subject into buf; false
 * (and "") when there is none. */
static bool
subject_field(gnutls_x509_crt_t crt, const char *oid, unsigned index, char *buf, size_t n)
{
	size_t len = n;

	buf[0] = '\0';
	if (gnutls_x509_crt_get_dn_by_oid(crt, oid, index, 0, buf, &len) < 0) {
		buf[0] = '\0';
		return false;
	}
	return true;
}

/* The principal of a verified DER certificate. */
static int
cert_principal(struct orch_principal *out, const gnutls_datum_t *der)
{
	gnutls_x509_crt_t crt;
	char o[128], cn[128], extra[128];
	size_t o_count = 0;
	int rc;

	if (gnutls_x509_crt_init(&crt) < 0)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0) {
		rc = orch_err_set(ORCH_EAUTH, "cannot parse the client certificate");
		goto out;
	}
	if (subject_field(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, o, sizeof(o)))
		o_count = 1 + subject_field(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 1,
		    extra, sizeof(extra));
	subject_field(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, sizeof(cn));
	rc = tls_subject_principal(out, o, o_count, cn);
out:
	gnutls_x509_crt_deinit(crt);
	return rc;
}

enum tls_peer
tls_peer_verify(void *session, struct orch_principal *out, char *why, size_t n)
{
	gnutls_session_t s = session;
	const gnutls_datum_t *certs;
	unsigned ncerts = 0, status = 0;
	/* A certificate that says what it is for must say TLS client. */
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	gnutls_datum_t text = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	if (s == NULL || gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 ||
	    (certs = gnutls_certificate_get_peers(s, &ncerts)) == NULL || ncerts == 0)
		return TLS_PEER_NONE;
	/* Against the trust list MHD loaded from --tls-ca; checks the chain,
	 * the signatures and the dates. */
	if ((rc = gnutls_certificate_verify_peers(s, &purpose, 1, &status)) < 0) {
		snprintf(why, n, "cannot verify the client certificate: %s",
		    gnutls_strerror(rc));
		return TLS_PEER_REFUSED;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
		    &text, 0) == 0) {
			size_t len;

			snprintf(why, n, "client certificate refused: %s", text.data);
			gnutls_free(text.data);
			len = strlen(why);
			while (len > 0 && why[len - 1] == ' ')
				why[--len] = '\0';
		} else
			snprintf(why, n, "client certificate refused (status 0x%x)", status);
		return TLS_PEER_REFUSED;
	}
	if (cert_principal(out, &certs[0]) < 0) {
		snprintf(why, n, "%s", orch_err_last());
		return TLS_PEER_REFUSED;
	}
	return TLS_PEER_OK;
}

bool
tls_plain_listen_warns(const char *addr)
{
	struct in_addr a;

	if (inet_pton(AF_INET, addr, &a) != 1)
		return true;
	return (ntohl(a.s_addr) >> 24) != 127;
}

void
tls_curl_setup(CURL *e, const struct tls_client *t)
{
	if (t == NULL)
		return;
	if (t->files.ca != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, t->files.ca);
	if (t->files.cert != NULL) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, t->files.cert);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (t->files.key != NULL) {
		curl_easy_setopt(e, CURLOPT_SSLKEY, t->files.key);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

const char *
tls_scheme(const struct tls_client *t)
{
	return t != NULL && t->files.ca != NULL ? "https" : "http";
}
