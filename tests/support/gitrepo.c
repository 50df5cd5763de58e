/* gitrepo.c - real git repositories for tests, see gitrepo.h. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "err.h"
#include "gitrepo.h"

#define GITREPO_TIME_BASE 1700000000

struct gitrepo {
	git_repository *repo;
	char *dir;  /* work tree root, no trailing slash */
	char *url;  /* file://dir */
	int64_t last_time; /* of the newest commit made; 0 before the first */
};

/* orch_err_set() with libgit2's last message appended. */
static int gerr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
gerr(const char *fmt, ...)
{
	const git_error *e = git_error_last();
	char ctx[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	return orch_err_set(ORCH_ERROR, "gitrepo: %s: %s", ctx,
	    e && e->message ? e->message : "unknown libgit2 error");
}

static int
mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return orch_err_set(ORCH_EINVALID, "gitrepo: bad path '%s'", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return orch_err_sys(ORCH_ERROR,
				    "gitrepo: cannot create '%s'", buf);
			*p = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

int
gitrepo_mkdtemp(char **out, const char *prefix)
{
	const char *root = getenv("ORCH_TEST_OUT");
	char *tmpl = NULL;
	int rc;

	*out = NULL;
	if (root == NULL || root[0] == '\0')
		root = "/tmp";
	if ((rc = mkdir_p(root)) < 0)
		return rc;
	if (asprintf(&tmpl, "%s/%s-XXXXXX", root, prefix ? prefix : "tmp") < 0)
		return orch_err_set(ORCH_ERROR, "gitrepo: out of memory");
	if (mkdtemp(tmpl) == NULL) {
		rc = orch_err_sys(ORCH_ERROR, "gitrepo: mkdtemp '%s'", tmpl);
		free(tmpl);
		return rc;
	}
	*out = tmpl;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
gitrepo_rmtree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return orch_err_sys(ORCH_ERROR, "gitrepo: cannot remove '%s'", path);
	return 0;
}

int
gitrepo_create(struct gitrepo **out)
{
	git_repository_init_options opts;
	struct gitrepo *r;
	int rc;

	*out = NULL;
	if (git_libgit2_init() < 0)
		return gerr("init");
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		git_libgit2_shutdown();
		return orch_err_set(ORCH_ERROR, "gitrepo: out of memory");
	}
	if ((rc = gitrepo_mkdtemp(&r->dir, "gitrepo")) < 0)
		goto fail;
	if (asprintf(&r->url, "file://%s", r->dir) < 0) {
		r->url = NULL;
		rc = orch_err_set(ORCH_ERROR, "gitrepo: out of memory");
		goto fail;
	}
	git_repository_init_options_init(&opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	opts.flags = GIT_REPOSITORY_INIT_MKPATH;
	opts.initial_head = "main";
	if (git_repository_init_ext(&r->repo, r->dir, &opts) < 0) {
		rc = gerr("init '%s'", r->dir);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	gitrepo_free(r);
	return rc;
}

void
gitrepo_free(struct gitrepo *r)
{
	if (r == NULL)
		return;
	git_repository_free(r->repo);
	if (r->dir != NULL)
		(void)gitrepo_rmtree(r->dir);
	free(r->dir);
	free(r->url);
	free(r);
	git_libgit2_shutdown();
}

const char *
gitrepo_path(const struct gitrepo *r)
{
	return r->dir;
}

const char *
gitrepo_url(const struct gitrepo *r)
{
	return r->url;
}

int
gitrepo_write_len(struct gitrepo *r, const char *path, const void *buf,
    size_t len)
{
	char *full = NULL, *slash;
	FILE *f = NULL;
	int rc = 0;

	if (asprintf(&full, "%s/%s", r->dir, path) < 0)
		return orch_err_set(ORCH_ERROR, "gitrepo: out of memory");
	if ((slash = strrchr(full, '/')) != NULL && slash > full + strlen(r->dir)) {
		*slash = '\0';
		rc = mkdir_p(full);
		*slash = '/';
		if (rc < 0)
			goto done;
	}
	if ((f = fopen(full, "wb")) == NULL) {
		rc = orch_err_sys(ORCH_ERROR, "gitrepo: cannot write '%s'", full);
		goto done;
	}
	if (len > 0 && fwrite(buf, 1, len, f) != len)
		rc = orch_err_sys(ORCH_ERROR, "gitrepo: cannot write '%s'", full);
	if (fclose(f) != 0 && rc == 0)
		rc = orch_err_sys(ORCH_ERROR, "gitrepo: cannot write '%s'", full);
done:
	free(full);
	return rc;
}

int
gitrepo_write(struct gitrepo *r, const char *path, const char *content)
{
	return gitrepo_write_len(r, path, content, strlen(content));
}

int
gitrepo_remove(struct gitrepo *r, const char *path)
{
	char *full = NULL;
	int rc = 0;

	if (asprintf(&full, "%s/%s", r->dir, path) < 0)
		return orch_err_set(ORCH_ERROR, "gitrepo: out of memory");
	if (unlink(full) < 0)
		rc = orch_err_sys(ORCH_ERROR, "gitrepo: cannot remove '%s'", full);
	free(full);
	return rc;
}

/* The whole work tree as a tree object: stage every addition, change and
 * removal, as `git add -A` would. */
static int
stage_all(git_oid *out, struct gitrepo *r)
{
	char *star = "*";
	git_strarray all = {&star, 1};
	git_index *idx = NULL;
	int rc = 0;

	if (git_repository_index(&idx, r->repo) < 0 ||
	    git_index_add_all(idx, &all, GIT_INDEX_ADD_DEFAULT, NULL, NULL) < 0 ||
	    git_index_update_all(idx, &all, NULL, NULL) < 0 ||
	    git_index_write(idx) < 0 ||
	    git_index_write_tree(out, idx) < 0)
		rc = gerr("stage work tree");
	git_index_free(idx);
	return rc;
}

/* Commit the staged work tree with the given extra parent (or none). */
static int
commit_with(char *out_sha, struct gitrepo *r, const char *message,
    const struct gitrepo_sig *who, const git_commit *extra)
{
	const git_commit *parents[2];
	git_signature *sig = NULL;
	git_commit *head = NULL;
	git_tree *tree = NULL;
	git_oid tree_id, id;
	size_t nparents = 0;
	int64_t when;
	int rc;

	if ((rc = stage_all(&tree_id, r)) < 0)
		return rc;
	when = who && who->time ? who->time :
	    r->last_time ? r->last_time + 100 : GITREPO_TIME_BASE;
	if (git_signature_new(&sig, who && who->name ? who->name : "Orch Test",
	    who && who->email ? who->email : "test@orch.invalid",
	    (git_time_t)when, 0) < 0) {
		rc = gerr("signature");
		goto done;
	}
	if (git_tree_lookup(&tree, r->repo, &tree_id) < 0) {
		rc = gerr("tree");
		goto done;
	}
	/* An unborn HEAD (first commit) simply has no parent. */
	if (git_revparse_single((git_object **)&head, r->repo, "HEAD^{commit}") == 0)
		parents[nparents++] = head;
	if (extra != NULL)
		parents[nparents++] = extra;
	if (git_commit_create(&id, r->repo, "HEAD", sig, sig, NULL, message,
	    tree, nparents, parents) < 0) {
		rc = gerr("commit");
		goto done;
	}
	if (when > r->last_time)
		r->last_time = when;
	if (out_sha != NULL)
		git_oid_tostr(out_sha, 41, &id);
done:
	git_commit_free(head);
	git_tree_free(tree);
	git_signature_free(sig);
	return rc;
}

int
gitrepo_commit(char *out_sha, struct gitrepo *r, const char *message,
    const struct gitrepo_sig *who)
{
	return commit_with(out_sha, r, message, who, NULL);
}

int
gitrepo_merge(char *out_sha, struct gitrepo *r, const char *branch,
    const char *message)
{
	git_object *other = NULL;
	int rc;

	if (git_revparse_single(&other, r->repo, branch) < 0)
		return gerr("merge: resolve '%s'", branch);
	if (git_object_type(other) != GIT_OBJECT_COMMIT) {
		git_object_free(other);
		return orch_err_set(ORCH_EINVALID, "gitrepo: '%s' is not a commit",
		    branch);
	}
	rc = commit_with(out_sha, r, message, NULL, (git_commit *)other);
	git_object_free(other);
	return rc;
}

int
gitrepo_tag(struct gitrepo *r, const char *name, const char *target,
    const char *annotation)
{
	git_signature *sig = NULL;
	git_object *obj = NULL;
	git_oid id;
	int rc = 0;

	if (git_revparse_single(&obj, r->repo, target) < 0)
		return gerr("tag: resolve '%s'", target);
	if (annotation == NULL) {
		if (git_tag_create_lightweight(&id, r->repo, name, obj, 0) < 0)
			rc = gerr("tag '%s'", name);
	} else if (git_signature_new(&sig, "Orch Test", "test@orch.invalid",
	    r->last_time ? r->last_time : GITREPO_TIME_BASE, 0) < 0) {
		rc = gerr("signature");
	} else if (git_tag_create(&id, r->repo, name, obj, sig, annotation, 0) < 0) {
		rc = gerr("tag '%s'", name);
	}
	git_signature_free(sig);
	git_object_free(obj);
	return rc;
}

int
gitrepo_branch(struct gitrepo *r, const char *name, const char *target)
{
	git_object *obj = NULL;
	git_reference *ref = NULL;
	int rc = 0;

	if (git_revparse_single(&obj, r->repo, target) < 0)
		return gerr("branch: resolve '%s'", target);
	if (git_object_type(obj) != GIT_OBJECT_COMMIT)
		rc = orch_err_set(ORCH_EINVALID, "gitrepo: '%s' is not a commit",
		    target);
	else if (git_branch_create(&ref, r->repo, name, (git_commit *)obj, 0) < 0)
		rc = gerr("branch '%s'", name);
	git_reference_free(ref);
	git_object_free(obj);
	return rc;
}

/* The ref alone: git_branch_delete() would also clear branch.<name>.*
 * from the config, which libgit2 1.5.1 does with a regex that leaks
 * (ASan would fail the test), and these branches have no config. */
int
gitrepo_branch_delete(struct gitrepo *r, const char *name)
{
	char *refname = NULL;
	int rc = 0;

	if (asprintf(&refname, "refs/heads/%s", name) < 0)
		return orch_err_set(ORCH_ERROR, "gitrepo: out of memory");
	if (git_reference_remove(r->repo, refname) < 0)
		rc = gerr("delete branch '%s'", name);
	free(refname);
	return rc;
}

int
gitrepo_checkout(struct gitrepo *r, const char *branch)
{
	git_checkout_options opts;
	git_object *tree = NULL;
	char *refname = NULL, *spec = NULL;
	int rc = 0;

	if (asprintf(&refname, "refs/heads/%s", branch) < 0 ||
	    asprintf(&spec, "refs/heads/%s^{tree}", branch) < 0) {
		rc = orch_err_set(ORCH_ERROR, "gitrepo: out of memory");
		goto done;
	}
	/* FORCE: the work tree becomes exactly the branch's tree, files the
	 * old branch tracked and this one does not are removed. */
	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
	if (git_revparse_single(&tree, r->repo, spec) < 0) {
		rc = gerr("checkout: resolve '%s'", branch);
		goto done;
	}
	if (git_checkout_tree(r->repo, tree, &opts) < 0 ||
	    git_repository_set_head(r->repo, refname) < 0)
		rc = gerr("checkout '%s'", branch);
done:
	git_object_free(tree);
	free(refname);
	free(spec);
	return rc;
}
