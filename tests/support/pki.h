/*
 * pki.h - real certificates for TLS tests, made by the openssl command
 * (issue 12): a CA, and certificates it signs whose subject is O=ROLE,
 * CN=NAME (the mapping of common/tls.h), with the SANs 127.0.0.1 and
 * localhost and both TLS purposes (server and client), so one file serves
 * a daemon's listener and its client calls.
 *
 *   pki_ca(dir, "ca");                          dir/ca.pem, dir/ca.key
 *   pki_issue(dir, "ca", "node-1", "node", "node-1", false);
 *                                               dir/node-1.pem, .key
 *   pki_issue(dir, "ca", "old", "admin", "old", true);   expired in 2021
 *
 * Each CA keeps its openssl ca database in dir/NAME.db/. Functions return
 * 0, or ORCH_ERROR with openssl's message.
 */
#ifndef ORCH_TEST_PKI_H
#define ORCH_TEST_PKI_H

#include <stdbool.h>

/* A self-signed CA: dir/NAME.pem (certificate), dir/NAME.key. */
int pki_ca(const char *dir, const char *name);
/* A certificate signed by CA ca (made by pki_ca in dir): dir/FILE.pem and
 * dir/FILE.key, subject O=o, CN=cn. expired: valid 2020-01-01 to
 * 2021-01-01 only; else from now for a year. */
int pki_issue(const char *dir, const char *ca, const char *file, const char *o,
    const char *cn, bool expired);
/* The same with its validity from start to end (openssl's
 * YYYYMMDDHHMMSSZ), e.g. in the future: not yet valid. */
int pki_issue_dates(const char *dir, const char *ca, const char *file, const char *o,
    const char *cn, const char *start, const char *end);

#endif
