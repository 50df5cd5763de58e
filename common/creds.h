/*
 * creds.h - credentials files: who holds which token (issue 12).
 *
 * One loader for the three binaries. A file is either
 *   - one bare token on its first line (the format before roles; as
 *     before, the lines after it are not read): what it means is the
 *     daemon's (bare_role: admin on the controller, controller on a
 *     slave, which also sends it to the controller), or
 *   - one credential per line, "ROLE TOKEN", ROLE as principal.h parses it
 *     (admin, read, controller, node:NAME); '#' starts a comment line.
 * The file must be the caller's alone (no group or other access, as ssh
 * wants of a key): a token readable by others is refused at start.
 *
 * Tokens are compared in constant time and are never logged: errors name
 * the file and line, never the token.
 */
#ifndef ORCH_CREDS_H
#define ORCH_CREDS_H

#include <stdbool.h>
#include <stddef.h>

#include "principal.h"

struct creds;

/* Load path; a bare token becomes a credential of bare_role. 0, or
 * ORCH_EINVALID with the reason set (missing, unreadable, readable by
 * group or other, empty, malformed line). *out is the caller's. */
int creds_load(struct creds **out, const char *path, enum orch_role bare_role);
/* One credential in memory (fixtures, fuzz targets, the single-token
 * mode of httpd). */
int creds_single(struct creds **out, const char *token, enum orch_role role);
void creds_free(struct creds *c);

/* The principal that token authenticates, or NULL. Every credential is
 * compared whole, in time independent of where a token differs. Lent. */
const struct orch_principal *creds_lookup(const struct creds *c, const char *token);
/* The token of the first credential of role (NODE: any node), or NULL.
 * Lent. */
const char *creds_token(const struct creds *c, enum orch_role role);
/* The principal of the first credential of role, or NULL. Lent. */
const struct orch_principal *creds_principal(const struct creds *c, enum orch_role role);
/* Whether the file was one bare token. */
bool creds_bare(const struct creds *c);

/* Constant-time equality of two NUL-terminated secrets (time depends on
 * the lengths only). */
bool creds_equal(const char *a, const char *b);

#endif
