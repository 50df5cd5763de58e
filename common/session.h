/*
 * session.h - the web page's login sessions (issue 12).
 *
 * POST /v1/login trades a read (or admin) token for a random session id
 * (256 bits from getrandom) that the browser keeps in an HttpOnly,
 * SameSite=Strict cookie, so the page never holds the token. Sessions
 * live in memory only (a restart logs everyone out), expire after
 * SESSION_TTL_MS, and are bounded: past SESSION_MAX the oldest is
 * dropped. A session authenticates read routes only (httpd.c).
 */
#ifndef ORCH_SESSION_H
#define ORCH_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "principal.h"

#define SESSION_COOKIE "orch_session"
#define SESSION_TTL_MS (12LL * 3600 * 1000)
#define SESSION_MAX 256
#define SESSION_ID_LEN 64 /* hex of 32 random bytes */

struct sessions;

struct sessions *sessions_new(void); /* NULL: out of memory */
void sessions_free(struct sessions *s);
/* A new session for who, valid until now + SESSION_TTL_MS; its id into
 * id (SESSION_ID_LEN + 1 bytes). 0 or ORCH_ERROR (no randomness). */
int sessions_open(struct sessions *s, char *id, const struct orch_principal *who,
    int64_t now);
/* The principal of a live session, or NULL. Lent. */
const struct orch_principal *sessions_find(struct sessions *s, const char *id, int64_t now);
/* End the session (nothing when there is none). */
void sessions_close(struct sessions *s, const char *id);
/* The session id in a Cookie header's value, copied into id; 0 when
 * there is none. */
int sessions_cookie_id(char *id, const char *cookie_header);

#endif
