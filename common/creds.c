/* creds.c - credentials files and token lookup; see creds.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"
#include "readfile.h"
#include "err.h"

#define CREDS_FILE_MAX (64 * 1024)
#define CREDS_MAX 1024

struct creds_entry {
	struct orch_principal who;
	char *token;
};

struct creds {
	struct creds_entry *v;
	size_t n;
	bool bare;
};

bool
creds_equal(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	unsigned char diff = n != m;

	/* Every byte of b is looked at, wherever a differs. */
	for (size_t i = 0; i < m; i++)
		diff |= (unsigned char)(b[i] ^ (i < n ? a[i] : 0));
	return diff == 0;
}

void
creds_free(struct creds *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		explicit_bzero(c->v[i].token, strlen(c->v[i].token));
		free(c->v[i].token);
	}
	free(c->v);
	free(c);
}

/* A token goes into a header: a control character or a space would
 * split it. */
static bool
token_ok(const char *t)
{
	if (*t == '\0')
		return false;
	for (; *t; t++)
		if ((unsigned char)*t <= ' ' || *t == 0x7f)
			return false;
	return true;
}

static int
add(struct creds *c, const struct orch_principal *who, const char *token)
{
	struct creds_entry *v;

	if (c->n == CREDS_MAX)
		return orch_err_set(ORCH_EINVALID, "more than %d credentials", CREDS_MAX);
	for (size_t i = 0; i < c->n; i++)
		if (creds_equal(token, c->v[i].token))
			return orch_err_set(ORCH_EINVALID, "a token is listed twice");
	if ((v = realloc(c->v, (c->n + 1) * sizeof(*v))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	c->v = v;
	v[c->n].who = *who;
	if ((v[c->n].token = strdup(token)) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	c->n++;
	return 0;
}

int
creds_single(struct creds **out, const char *token, enum orch_role role)
{
	struct orch_principal who = {.role = role};
	struct creds *c;
	int rc;

	*out = NULL;
	if (!token_ok(token))
		return orch_err_set(ORCH_EINVALID, "a token is one word of printable characters");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	c->bare = true;
	if ((rc = add(c, &who, token)) < 0) {
		creds_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Split line (trimmed, not a comment) into its words: at most two. */
static int
words(char **w, char *line)
{
	int n = 0;

	for (char *save = NULL, *t = strtok_r(line, " \t", &save); t;
	    t = strtok_r(NULL, " \t", &save)) {
		if (n == 2)
			return 3;
		w[n++] = t;
	}
	return n;
}

static int
parse(struct creds *c, char *text, const char *path, enum orch_role bare_role)
{
	struct orch_principal who;
	char *save = NULL, *w[2];
	int lineno = 0, nw, rc;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '#')
			continue;
		nw = words(w, line);
		if (nw == 1 && c->n == 0) {
			/* The old format: the first line is the token, and
			 * nothing after it was ever read. */
			who = (struct orch_principal){.role = bare_role};
			if (!token_ok(w[0]))
				return orch_err_set(ORCH_EINVALID, "%s:%d: a token is printable"
				    " characters", path, lineno);
			if ((rc = add(c, &who, w[0])) < 0)
				return rc;
			c->bare = true;
			break;
		}
		if (nw != 2)
			return orch_err_set(ORCH_EINVALID, "%s:%d: want \"ROLE TOKEN\" (ROLE: admin,"
			    " read, controller or node:NAME), or the file's one bare token",
			    path, lineno);
		if (orch_principal_parse(&who, w[0]) < 0)
			return orch_err_prefix(ORCH_EINVALID, "%s:%d", path, lineno);
		if ((rc = add(c, &who, w[1])) < 0)
			return orch_err_prefix(rc, "%s:%d", path, lineno);
	}
	if (c->n == 0)
		return orch_err_set(ORCH_EINVALID, "credentials file %s holds no token", path);
	return 0;
}

int
creds_load(struct creds **out, const char *path, enum orch_role bare_role)
{
	struct creds *c = NULL;
	char *text = NULL;
	int rc;

	*out = NULL;
	if ((rc = readfile_small(&text, path, CREDS_FILE_MAX, READFILE_PRIVATE,
	    "credentials file")) < 0)
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = orch_err_set(ORCH_ERROR, "out of memory");
		goto out;
	}
	if ((rc = parse(c, text, path, bare_role)) < 0)
		goto out;
	*out = c;
	c = NULL;
out:
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	creds_free(c);
	return rc;
}

const struct orch_principal *
creds_lookup(const struct creds *c, const char *token)
{
	const struct orch_principal *hit = NULL;

	if (c == NULL || token == NULL)
		return NULL;
	/* No early exit: which credential matched does not show in time. */
	for (size_t i = 0; i < c->n; i++)
		if (creds_equal(token, c->v[i].token))
			hit = &c->v[i].who;
	return hit;
}

static const struct creds_entry *
first_of(const struct creds *c, enum orch_role role)
{
	for (size_t i = 0; c != NULL && i < c->n; i++)
		if (c->v[i].who.role == role)
			return &c->v[i];
	return NULL;
}

const char *
creds_token(const struct creds *c, enum orch_role role)
{
	const struct creds_entry *e = first_of(c, role);

	return e ? e->token : NULL;
}

const struct orch_principal *
creds_principal(const struct creds *c, enum orch_role role)
{
	const struct creds_entry *e = first_of(c, role);

	return e ? &e->who : NULL;
}

bool
creds_bare(const struct creds *c)
{
	return c->bare;
}
