/* httpd_auth.h - authentication and authorization of one request, for
 * httpd.c only (httpd.h says what the server promises). */
#ifndef ORCH_HTTPD_AUTH_H
#define ORCH_HTTPD_AUTH_H

#include "httpd.h"

/* Who sent a request with this verified client certificate and these
 * headers (each may be NULL) for route (NULL: an unknown path or method),
 * and whether they may call it: 0 (*out filled; role NONE for an anonymous
 * caller allowed in), or the status to answer (401, 403) with why filled.
 * self: the route's first :param, or NULL. A certificate takes precedence
 * over a token; on a TLS server (cfg->tls) a caller without one is let in
 * only where an anonymous caller is (mutual TLS: a token alone is not
 * enough). */
int httpd_auth_check(struct orch_principal *out, char *why, size_t whylen,
    const struct httpd_config *cfg, const struct httpd_route *route, const char *self,
    const struct orch_principal *cert, const char *authorization, const char *cookie);

#endif
