/*
 * source.c - load a manifest from a file or a git revision, keeping what
 * the verbs print about where it came from (label, commit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "orchctl.h"

static int
source_init(struct source *s, const char *label, const char *ref)
{
	memset(s, 0, sizeof(*s));
	manifest_errors_init(&s->errs);
	s->label = strdup(label);
	if (ref != NULL)
		s->ref = strdup(ref);
	if (s->label == NULL || (ref != NULL && s->ref == NULL))
		return orch_err_set(ORCH_ERROR, "out of memory");
	return 0;
}

/* Map the loader's result: a rejection with positioned errors (invalid,
 * or over a limit found while parsing) keeps its list and becomes
 * ORCH_EINVALID; any other failure (missing file, not a regular file,
 * unknown ref, file over the size limit) is one message, since
 * "file:0:0:" would point into a file that was never read. */
static int
source_result(struct source *s, int rc)
{
	if (rc == 0)
		return 0;
	/* The loaders report I/O failures as one error without a position
	 * (and the message in orch_err_last()). */
	if (s->errs.n > 1 || (s->errs.n == 1 && s->errs.v[0].pos.line > 0)) {
		manifest_errors_sort(&s->errs);
		return ORCH_EINVALID;
	}
	if (s->errs.n > 0)
		orch_err_set(rc, "%s", s->errs.v[0].msg);
	else if (orch_err_last()[0] == '\0')
		orch_err_set(rc, "%s: cannot load manifest", s->label);
	/* Say which manifest, unless the message already does. */
	if (strstr(orch_err_last(), s->label) == NULL)
		orch_err_prefix(rc, "%s", s->label);
	return rc == ORCH_EINVALID || rc >= 0 ? ORCH_ERROR : rc;
}

int
source_load_file(struct source *s, const char *path)
{
	int rc;

	if ((rc = source_init(s, path, NULL)) < 0)
		return rc;
	orch_err_clear();
	rc = manifest_load_file(&s->m, &s->errs, path);
	return source_result(s, rc);
}

int
source_load_git(struct source *s, struct manifest_git *g, const char *ref,
    const char *path)
{
	struct git_commit_info c;
	char label[1024], shortsha[8];
	int rc;

	if ((rc = source_init(s, path, ref)) < 0)
		return rc;
	/* Resolve first, then load by full sha: the commit printed is the
	 * one validated even if the branch moves in between, and it is known
	 * also when the manifest there is missing or invalid. */
	memset(&c, 0, sizeof(c));
	orch_err_clear();
	if ((rc = manifest_git_resolve(&c, g, ref)) < 0) {
		/* The message names the ref; the path is beside the point. */
		git_commit_info_clear(&c);
		if (orch_err_last()[0] == '\0')
			orch_err_set(rc, "cannot resolve '%s'", ref);
		return rc;
	}
	s->commit = c;
	s->has_commit = true;
	source_short_sha(shortsha, &s->commit);
	snprintf(label, sizeof(label), "%s@%s", path, shortsha);
	free(s->label);
	if ((s->label = strdup(label)) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");

	memset(&c, 0, sizeof(c));
	rc = manifest_git_load(&s->m, &s->errs, &c, g, s->commit.sha, path);
	git_commit_info_clear(&c);
	return source_result(s, rc);
}

int
source_load_worktree(struct source *s, const char *repo, const char *path)
{
	char root[4096], file[8192], label[1200], *base;
	size_t n;
	int rc;

	/* The repository's root, or its .git directory (manifest_git_open
	 * takes either): the working tree is the root. */
	snprintf(root, sizeof(root), "%s", repo);
	for (n = strlen(root); n > 1 && root[n - 1] == '/'; n--)
		root[n - 1] = '\0';
	base = strrchr(root, '/');
	base = base ? base + 1 : root;
	if (strcmp(base, ".git") == 0) {
		if (base == root)
			snprintf(root, sizeof(root), ".");
		else
			base[base - 1 == root ? 0 : -1] = '\0';
	}
	snprintf(file, sizeof(file), "%s/%s", root, path);
	rc = source_load_file(s, file);
	/* The label says which side this is, as git diff's does. */
	snprintf(label, sizeof(label), "%s (working tree)", path);
	free(s->label);
	if ((s->label = strdup(label)) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	return rc;
}

void
source_free(struct source *s)
{
	if (s == NULL)
		return;
	free(s->label);
	free(s->ref);
	if (s->has_commit)
		git_commit_info_clear(&s->commit);
	manifest_free(s->m);
	manifest_errors_free(&s->errs);
	memset(s, 0, sizeof(*s));
}

void
source_short_sha(char *buf, const struct git_commit_info *c)
{
	snprintf(buf, 8, "%.7s", c->sha);
}

json_t *
source_commit_json(const struct git_commit_info *c)
{
	json_t *o = jobj();
	char shortsha[8], when[32];
	time_t t = (time_t)c->time;
	struct tm tm;

	source_short_sha(shortsha, c);
	/* RFC 3339 in UTC, as the controller API writes times. */
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(when, sizeof(when), "%lld", (long long)c->time);
	jset(o, "sha", jstr(c->sha));
	jset(o, "short", jstr(shortsha));
	jset(o, "author", jstr(c->author));
	jset(o, "time", jstr(when));
	jset(o, "summary", jstr(c->summary));
	return o;
}
