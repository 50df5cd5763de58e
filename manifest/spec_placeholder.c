/*
 * spec_placeholder.c - the ${NAME} placeholders of command, env and
 * health.command. They stay verbatim in the manifest (the node agent
 * expands them at start); here we only make sure each one names
 * something the agent will know, so a typo fails at validate time rather
 * than as a literal "${ORCH_PROT}" in a running process's argv.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static bool
placeholder_ok(const struct service_spec *s, const char *name, size_t len)
{
	static const char *const fixed[] = {
		"ORCH_DATA_DIR", "ORCH_INSTANCE_ID", "ORCH_SERVICE",
		"ORCH_VERSION", "ORCH_NODE",
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strlen(fixed[i]) == len && memcmp(fixed[i], name, len) == 0)
			return true;
	if (len == 9 && memcmp(name, "ORCH_PORT", 9) == 0)
		return s->nports > 0;
	if (len > 10 && memcmp(name, "ORCH_PORT_", 10) == 0) {
		for (size_t i = 0; i < s->nports; i++)
			if (strlen(s->ports[i]) == len - 10 &&
			    strncasecmp(s->ports[i], name + 10, len - 10) == 0) {
				/* The variable is the upper-cased name. */
				for (size_t j = 10; j < len; j++)
					if (islower((unsigned char)name[j]))
						return false;
				return true;
			}
		return false;
	}
	for (size_t i = 0; i < s->nenv; i++)
		if (strlen(s->env[i].key) == len &&
		    memcmp(s->env[i].key, name, len) == 0)
			return true;
	return false;
}

/* Where the byte at off of n's text is in the file: exact when the text
 * maps onto the source, else the start of the value. */
static struct mpos
text_pos(const struct mnode *n, size_t off)
{
	struct mpos p = n->pos;

	if (n->text_col == 0)
		return p;
	p.col = n->text_col;
	for (size_t i = 0; i < off && n->str[i]; i++)
		if (((unsigned char)n->str[i] & 0xc0) != 0x80)
			p.col++;
	return p;
}

/* Check every ${...} of one string; `$$` is a literal `$`. */
static void
check_placeholders(struct vctx *v, const struct service_spec *s,
    const struct mnode *n, const char *path)
{
	const char *str;

	if (n->type != MNODE_SCALAR)
		return;
	for (str = n->str; *str; str++) {
		const char *end;
		struct mpos at;
		size_t len;

		if (*str != '$')
			continue;
		at = text_pos(n, (size_t)(str - n->str));
		if (str[1] == '$') {
			str++;
			continue;
		}
		if (str[1] != '{') {
			spec_err(v, at, path, "a lone '$' must be written '$$' "
			    "(placeholders are ${NAME})");
			continue;
		}
		end = strchr(str + 2, '}');
		if (end == NULL) {
			spec_err(v, at, path, "unterminated placeholder "
			    "'%.40s' (missing '}')", str);
			return;
		}
		len = (size_t)(end - str - 2);
		if (len == 0 || len > 200) {
			spec_err(v, at, path, "bad placeholder '%.*s'",
			    (int)(len > 200 ? 40 : len + 3), str);
		} else if (strncmp(str + 2, "ORCH_PORT", 9) == 0 &&
		    s->nports == 0 && !placeholder_ok(s, str + 2, len)) {
			spec_err(v, at, path, "placeholder ${%.*s} needs a "
			    "port, but the service declares none in 'ports'",
			    (int)len, str + 2);
		} else if (!placeholder_ok(s, str + 2, len)) {
			spec_err(v, at, path, "unknown placeholder ${%.*s} "
			    "(allowed: ${ORCH_PORT}, ${ORCH_PORT_<NAME>} of a "
			    "declared port, ${ORCH_DATA_DIR}, ${ORCH_INSTANCE_ID}, "
			    "${ORCH_SERVICE}, ${ORCH_VERSION}, ${ORCH_NODE} and "
			    "the service's env names)", (int)len, str + 2);
		}
		str = end;
	}
}

static void
check_argv_placeholders(struct vctx *v, const struct service_spec *s,
    const struct mnode *n, const char *path)
{
	char p[SPEC_PATH_MAX];

	if (n == NULL || n->type != MNODE_SEQ)
		return;
	for (size_t i = 0; i < n->nitems; i++)
		check_placeholders(v, s, n->items[i],
		    spec_path_idx(p, path, i));
}

void
spec_placeholders(struct vctx *v, const struct service_spec *s,
    const struct mnode *svc, const char *path)
{
	char p[SPEC_PATH_MAX], kp[SPEC_PATH_MAX];
	const struct mnode *n, *h;

	check_argv_placeholders(v, s, spec_field(svc, "command"),
	    spec_path(p, path, "command"));
	if ((n = spec_field(svc, "env")) != NULL && n->type == MNODE_MAP &&
	    n->npairs <= SPEC_MAX_ENV) {
		spec_path(p, path, "env");
		for (size_t i = 0; i < n->npairs; i++)
			check_placeholders(v, s, n->pairs[i].val,
			    spec_path(kp, p, n->pairs[i].key->str));
	}
	if ((h = spec_field(svc, "health")) != NULL &&
	    s->health.type == HEALTH_EXEC) {
		spec_path(p, path, "health");
		check_argv_placeholders(v, s, spec_field(h, "command"),
		    spec_path(kp, p, "command"));
	}
}
