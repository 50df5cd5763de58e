/* pki.c - a test CA and its certificates with openssl; see pki.h. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "err.h"
#include "pki.h"
#include "run.h"

#define PKI_TIMEOUT_MS 60000

/* openssl's configuration: the request defaults, the CA's and the leaf
 * certificates' extensions, and an `openssl ca` database (which alone
 * can set a start date, for the expired certificate). */
static const char pki_cnf[] =
    "[req]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[dn]\n"
    "CN = unused\n"
    "[ca_ext]\n"
    "basicConstraints = critical,CA:TRUE\n"
    "keyUsage = critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[leaf_ext]\n"
    "basicConstraints = CA:FALSE\n"
    "keyUsage = critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage = serverAuth,clientAuth\n"
    "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
    "authorityKeyIdentifier = keyid\n"
    "subjectKeyIdentifier = hash\n"
    "[ca]\n"
    "default_ca = ca_sect\n"
    "[ca_sect]\n"
    "database = index.txt\n"
    "new_certs_dir = .\n"
    "serial = serial\n"
    "default_md = sha256\n"
    "policy = pol\n"
    "unique_subject = no\n"
    "[pol]\n"
    "organizationName = supplied\n"
    "commonName = supplied\n";

static int
openssl(const char *dir, const char *const *argv)
{
	struct run_result r;
	int rc = 0;

	if (run_capture(&r, argv, dir, NULL, PKI_TIMEOUT_MS) < 0)
		return ORCH_ERROR;
	if (r.status != 0)
		rc = orch_err_set(ORCH_ERROR, "openssl %s %s: exit %d: %.400s", argv[1],
		    argv[2], r.status, r.err);
	run_result_free(&r);
	return rc;
}

int
pki_ca(const char *dir, const char *name)
{
	char db[512], path[600], cnf[600], key[600], pem[600], subj[128];
	int rc;

	snprintf(db, sizeof(db), "%s/%s.db", dir, name);
	snprintf(cnf, sizeof(cnf), "%s/openssl.cnf", db);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(pem, sizeof(pem), "%s/%s.pem", dir, name);
	snprintf(subj, sizeof(subj), "/O=orch test/CN=%s", name);
	if (mkdir(db, 0700) < 0)
		return orch_err_sys(ORCH_ERROR, "mkdir %s", db);
	snprintf(path, sizeof(path), "%s/index.txt", db);
	if ((rc = write_file(cnf, pki_cnf)) < 0 || (rc = write_file(path, "")) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/serial", db);
	if ((rc = write_file(path, "1000\n")) < 0)
		return rc;
	return openssl(db, (const char *const[]){"openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem,
	    "-days", "3650", "-subj", subj, "-config", cnf, "-extensions", "ca_ext", NULL});
}

int
pki_issue(const char *dir, const char *ca, const char *file, const char *o,
    const char *cn, bool expired)
{
	return pki_issue_dates(dir, ca, file, o, cn, expired ? "20200101000000Z" : NULL,
	    expired ? "20210101000000Z" : NULL);
}

int
pki_issue_dates(const char *dir, const char *ca, const char *file, const char *o,
    const char *cn, const char *start, const char *end)
{
	char db[512], cnf[600], key[600], pem[600], csr[600], subj[256], capem[600], cakey[600];
	int rc;

	snprintf(db, sizeof(db), "%s/%s.db", dir, ca);
	snprintf(cnf, sizeof(cnf), "%s/openssl.cnf", db);
	snprintf(capem, sizeof(capem), "%s/%s.pem", dir, ca);
	snprintf(cakey, sizeof(cakey), "%s/%s.key", dir, ca);
	snprintf(key, sizeof(key), "%s/%s.key", dir, file);
	snprintf(pem, sizeof(pem), "%s/%s.pem", dir, file);
	snprintf(csr, sizeof(csr), "%s/%s.csr", db, file);
	snprintf(subj, sizeof(subj), "/O=%s/CN=%s", o, cn);
	if ((rc = openssl(db, (const char *const[]){"openssl", "req", "-new", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
	    "-subj", subj, "-config", cnf, NULL})) < 0)
		return rc;
	if (start != NULL)
		return openssl(db, (const char *const[]){"openssl", "ca", "-batch", "-notext",
		    "-config", cnf, "-cert", capem, "-keyfile", cakey, "-in", csr, "-out", pem,
		    "-startdate", start, "-enddate", end, "-extfile", cnf, "-extensions",
		    "leaf_ext", NULL});
	return openssl(db, (const char *const[]){"openssl", "ca", "-batch", "-notext",
	    "-config", cnf, "-cert", capem, "-keyfile", cakey, "-in", csr, "-out", pem,
	    "-days", "365", "-extfile", cnf, "-extensions", "leaf_ext", NULL});
}
