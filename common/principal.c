/* principal.c - parse and print roles; see principal.h. */
#include "principal.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

static const char *const role_words[] = {
	[ORCH_ROLE_NONE] = "none",
	[ORCH_ROLE_READ] = "read",
	[ORCH_ROLE_ADMIN] = "admin",
	[ORCH_ROLE_NODE] = "node",
	[ORCH_ROLE_CONTROLLER] = "controller",
};

const char *
orch_role_word(enum orch_role role)
{
	if ((size_t)role >= sizeof(role_words) / sizeof(role_words[0]))
		return "none";
	return role_words[role];
}

static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= ORCH_PRINCIPAL_NAME_MAX)
		return 0;
	for (; *s != '\0'; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
orch_principal_parse(struct orch_principal *out, const char *text)
{
	memset(out, 0, sizeof(*out));
	if (strcmp(text, "admin") == 0)
		out->role = ORCH_ROLE_ADMIN;
	else if (strcmp(text, "read") == 0)
		out->role = ORCH_ROLE_READ;
	else if (strcmp(text, "controller") == 0)
		out->role = ORCH_ROLE_CONTROLLER;
	else if (strncmp(text, "node:", 5) == 0) {
		if (!name_ok(text + 5))
			return orch_err_set(ORCH_EINVALID,
			    "role \"%.80s\": a node's name is 1-63 of [A-Za-z0-9._-]", text);
		out->role = ORCH_ROLE_NODE;
		memcpy(out->name, text + 5, strlen(text + 5) + 1);
	} else
		return orch_err_set(ORCH_EINVALID,
		    "unknown role \"%.80s\" (admin, read, controller or node:NAME)", text);
	return 0;
}

const char *
orch_principal_text(const struct orch_principal *p, char *buf, size_t n)
{
	if (p->role == ORCH_ROLE_NODE)
		snprintf(buf, n, "node:%s", p->name);
	else
		snprintf(buf, n, "%s", orch_role_word(p->role));
	return buf;
}
