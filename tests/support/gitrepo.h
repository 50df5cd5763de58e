/*
 * gitrepo.h - test fixture: real git repositories made on the fly.
 *
 * A gitrepo is a repository with a work tree in a fresh directory under
 * $ORCH_TEST_OUT (or /tmp when unset), initial branch "main". Tests write
 * and remove files in the work tree, then commit the whole tree on the
 * current branch, tag, branch, switch branches and merge. Everything goes
 * through libgit2 with explicit signatures, so neither the machine's git
 * config nor the wall clock changes what a test sees: a commit without an
 * explicit time gets 100 s after the newest commit made so far (the first
 * one 1700000000), so commits are ordered in time as they are made.
 *
 * Functions return 0 or a negative ORCH_E* code with orch_err_last() set.
 * gitrepo_free() removes the directory.
 */
#ifndef ORCH_TEST_GITREPO_H
#define ORCH_TEST_GITREPO_H

#include <stdint.h>

struct gitrepo;

/* Who made a commit; used for author and committer alike. Any field may be
 * NULL/0 for the default ("Orch Test", "test@orch.invalid", next time). */
struct gitrepo_sig {
	const char *name;
	const char *email;
	int64_t time; /* seconds since the epoch, UTC */
};

int gitrepo_create(struct gitrepo **out);
/* Remove the repository's directory and free. Accepts NULL. */
void gitrepo_free(struct gitrepo *r);
/* The work tree root (lent). */
const char *gitrepo_path(const struct gitrepo *r);
/* "file://" + the work tree root (lent): for clone tests. */
const char *gitrepo_url(const struct gitrepo *r);

/* Write content to path (relative to the work tree; parents created). */
int gitrepo_write(struct gitrepo *r, const char *path, const char *content);
/* Same with an explicit length (binary or large content). */
int gitrepo_write_len(struct gitrepo *r, const char *path, const void *buf,
    size_t len);
/* Remove path from the work tree. */
int gitrepo_remove(struct gitrepo *r, const char *path);

/* Commit the whole work tree (added, changed and removed files) on the
 * current branch. who may be NULL. out_sha (41 bytes) may be NULL. */
int gitrepo_commit(char *out_sha, struct gitrepo *r, const char *message,
    const struct gitrepo_sig *who);
/* Commit the work tree as a merge: parents are the current branch's head
 * and the head of branch, in that order. The tree is whatever the work
 * tree holds, so a test chooses the merge result. */
int gitrepo_merge(char *out_sha, struct gitrepo *r, const char *branch,
    const char *message);

/* Tag the commit target (any rev-parse expression) as name; annotation
 * NULL makes a lightweight tag, otherwise an annotated tag object. */
int gitrepo_tag(struct gitrepo *r, const char *name, const char *target,
    const char *annotation);
/* Create branch name at target (rev-parse expression). */
int gitrepo_branch(struct gitrepo *r, const char *name, const char *target);
/* Delete branch name (not the current one). */
int gitrepo_branch_delete(struct gitrepo *r, const char *name);
/* Make branch the current one and reset the work tree to its head. */
int gitrepo_checkout(struct gitrepo *r, const char *branch);

/* A fresh empty directory under $ORCH_TEST_OUT (or /tmp); *out is
 * malloc'd. For caches and other scratch space. */
int gitrepo_mkdtemp(char **out, const char *prefix);
/* rm -rf path (never follows symlinks). */
int gitrepo_rmtree(const char *path);

#endif
