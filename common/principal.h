/*
 * principal.h - who made a request, and with what role (issue 12).
 *
 * A request is authenticated either by a bearer token (looked up in the
 * daemon's credentials) or by a verified client certificate (mTLS). Both
 * end in the same principal, and authorization looks only at it, so a
 * route's rule does not care how the caller proved who it is.
 *
 * Roles, as users of Kubernetes' RBAC or Nomad's ACLs expect them:
 *   admin       every write and every read of the controller
 *   read        every read of the controller, the page, the event stream
 *   node:NAME   a slave's own registration, heartbeats and events only
 *   controller  the controller commanding a slave (the slave's only caller)
 * The textual form ("admin", "read", "node:NAME", "controller") is the one
 * used in credentials files, in a certificate's subject and in events.
 */
#ifndef ORCH_PRINCIPAL_H
#define ORCH_PRINCIPAL_H

#include <stddef.h>

enum orch_role {
	ORCH_ROLE_NONE = 0,   /* unauthenticated */
	ORCH_ROLE_READ,
	ORCH_ROLE_ADMIN,
	ORCH_ROLE_NODE,       /* name holds the node's name */
	ORCH_ROLE_CONTROLLER,
};

#define ORCH_PRINCIPAL_NAME_MAX 64

struct orch_principal {
	enum orch_role role;
	/* NODE: the node's name. Others: who, for events ("" when unknown). */
	char name[ORCH_PRINCIPAL_NAME_MAX];
};

/* Parse "admin", "read", "controller" or "node:NAME" (NAME non-empty,
 * [A-Za-z0-9._-], shorter than ORCH_PRINCIPAL_NAME_MAX) into *out.
 * 0, or ORCH_EINVALID with the reason set. */
int orch_principal_parse(struct orch_principal *out, const char *text);

/* The textual form ("node:NAME" for a node); lent, valid while p is. */
const char *orch_principal_text(const struct orch_principal *p, char *buf, size_t n);

/* The bare role word ("admin", "read", "node", "controller", "none"). */
const char *orch_role_word(enum orch_role role);

#endif
