/*
 * httpd_auth.c - the two steps every request goes through before its
 * handler (issue 12): authenticate (credential -> principal), then
 * authorize (the route's rule against the principal). See httpd.h.
 */
#include <stdio.h>
#include <string.h>

#include "creds.h"
#include "httpd_auth.h"
#include "session.h"
#include "units.h"

static const char *const rule_names[] = {
	[HTTPD_PUBLIC] = "public",
	[HTTPD_READ] = "read",
	[HTTPD_ADMIN] = "admin",
	[HTTPD_NODE_SELF] = "node-self",
	[HTTPD_CONTROLLER] = "controller",
	[HTTPD_SCRAPE] = "scrape",
	[HTTPD_READ_SECRET] = "read-secret",
};

const char *
httpd_rule_name(enum httpd_rule rule)
{
	return (unsigned)rule < HTTPD_RULE_LAST ? rule_names[rule] : "?";
}

int
httpd_authorize(enum httpd_rule rule, const struct orch_principal *who, const char *self,
    bool public_read)
{
	enum orch_role r = who->role;
	bool ok = false;

	switch (rule) {
	case HTTPD_PUBLIC:
		ok = true;
		break;
	case HTTPD_READ:
		ok = public_read || r == ORCH_ROLE_READ || r == ORCH_ROLE_ADMIN;
		break;
	case HTTPD_READ_SECRET:
		ok = r == ORCH_ROLE_READ || r == ORCH_ROLE_ADMIN;
		break;
	case HTTPD_ADMIN:
		ok = r == ORCH_ROLE_ADMIN;
		break;
	case HTTPD_NODE_SELF:
		/* admin too: a cluster on one bare token has its slaves
		 * report with it (docs/security.md). */
		ok = r == ORCH_ROLE_ADMIN ||
		    (r == ORCH_ROLE_NODE && (self == NULL || strcmp(self, who->name) == 0));
		break;
	case HTTPD_CONTROLLER:
		ok = r == ORCH_ROLE_CONTROLLER;
		break;
	case HTTPD_SCRAPE:
		ok = r == ORCH_ROLE_CONTROLLER || r == ORCH_ROLE_READ || r == ORCH_ROLE_ADMIN;
		break;
	case HTTPD_RULE_LAST:
		break;
	}
	if (ok)
		return 0;
	return r == ORCH_ROLE_NONE ? 401 : 403;
}

/* Step 1: the principal of the request; false when it presents a
 * credential that authenticates no one. */
static bool
authenticate(struct orch_principal *out, const struct httpd_config *cfg,
    enum httpd_rule rule, const struct orch_principal *cert, const char *authorization,
    const char *cookie)
{
	const struct orch_principal *p = NULL;
	char id[SESSION_ID_LEN + 1];

	memset(out, 0, sizeof(*out));
	/* A verified client certificate (mTLS) takes precedence over any
	 * token: the TLS handshake proved it, the header only claims. */
	if (cert != NULL) {
		*out = *cert;
		return true;
	}
	if (authorization != NULL) {
		if (strncmp(authorization, "Bearer ", 7) != 0 ||
		    (p = creds_lookup(cfg->creds, authorization + 7)) == NULL)
			return false;
		*out = *p;
		return true;
	}
	/* The page's login session counts for reads only: a cookie rides
	 * along with any request the browser makes, so it must not carry
	 * a write (CSRF). */
	if ((rule == HTTPD_READ || rule == HTTPD_READ_SECRET) && cfg->sessions != NULL &&
	    cookie != NULL &&
	    sessions_cookie_id(id, cookie) &&
	    (p = sessions_find(cfg->sessions, id, orch_mono_ms())) != NULL)
		*out = *p;
	return true;
}

int
httpd_auth_check(struct orch_principal *out, char *why, size_t whylen,
    const struct httpd_config *cfg, const struct httpd_route *route, const char *self,
    const struct orch_principal *cert, const char *authorization, const char *cookie)
{
	enum httpd_rule rule = route ? route->rule : HTTPD_ADMIN;
	char who[ORCH_PRINCIPAL_NAME_MAX + 8];
	int st;

	memset(out, 0, sizeof(*out));
	if (rule == HTTPD_PUBLIC || (cfg->creds == NULL && cfg->tls == NULL))
		return 0;
	if (cfg->tls != NULL && cert == NULL &&
	    !(cfg->public_read && (rule == HTTPD_READ || route == NULL))) {
		snprintf(why, whylen, "this server needs a client certificate (mutual TLS)");
		return 401;
	}
	if (!authenticate(out, cfg, rule, cert, authorization, cookie)) {
		snprintf(why, whylen, "the credential is not known");
		return 401;
	}
	/* An unknown path or method: 404/405 for anyone known, so that an
	 * anonymous client learns nothing of the routes. */
	if (route == NULL)
		st = out->role == ORCH_ROLE_NONE && !cfg->public_read ? 401 : 0;
	else
		st = httpd_authorize(rule, out, self, cfg->public_read);
	/* Under mutual TLS a node's reports come from that node's
	 * certificate only: admin's leave to report (a cluster on one bare
	 * token) is for tokens. */
	if (st == 0 && cert != NULL && rule == HTTPD_NODE_SELF && out->role != ORCH_ROLE_NODE)
		st = 403;
	if (st == 401)
		snprintf(why, whylen, "this needs a credential: Authorization: Bearer TOKEN");
	else if (st == 403)
		snprintf(why, whylen, "%s may not call %s %s (allowed: %s)",
		    orch_principal_text(out, who, sizeof(who)), route->method, route->pattern,
		    httpd_rule_name(rule));
	return st;
}
