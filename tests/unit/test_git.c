/*
 * test_git.c - manifest/git.c on real repositories made by the test
 * (tests/support/gitrepo.h): resolve, read, history, load, clone + fetch.
 */
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "check.h"
#include "err.h"
#include "gitrepo.h"
#include "manifest.h"

/* Stop the test with the error message when an operation fails. */
#define REQUIRE_OK(expr) do { int _rc = (expr); if (_rc != 0) { \
	check_fail(__FILE__, __LINE__, "%s = %d: %s", #expr, _rc, orch_err_last()); \
	longjmp(check_abort, 1); } } while (0)

#define T1 1700001000
#define T2 1700002000
#define T3 1700003000
#define T4 1700004000
#define T5 1700005000
#define TB 1700002500

static const struct gitrepo_sig alice = {"Alice Example", "alice@example.com", T1};
static const struct gitrepo_sig bob = {"Bob", "bob@example.com", T2};

static char *
manifest_text(const char *version)
{
	char *s = NULL;

	if (asprintf(&s, "architecture: shop\nservices:\n  web:\n"
	    "    version: \"%s\"\n    command: [\"/bin/true\"]\n", version) < 0)
		abort();
	return s;
}

static int
write_manifest(struct gitrepo *r, const char *path, const char *version)
{
	char *s = manifest_text(version);
	int rc = gitrepo_write(r, path, s);

	free(s);
	return rc;
}

/*
 * The standard history, oldest first, on main unless said:
 *   c1  add orch.yaml 1.0.0               (Alice, T1)
 *   c2  orch.yaml 1.1.0                   (Bob, T2)   tags v1.1, rel-1.1
 *   cb  orch.yaml 2.0.0-rc.1 on "canary"  (TB), branched from c2
 *   c3  README only                       (T3)
 *   c4  orch.yaml 1.2.0 + deploy/orch.yaml (T4)
 *   c5  remove orch.yaml                  (T5)
 */
struct fixture {
	struct gitrepo *r;
	char c1[41], c2[41], cb[41], c3[41], c4[41], c5[41];
};

static void
fixture_make(struct fixture *f)
{
	struct gitrepo_sig s = {NULL, NULL, 0};

	memset(f, 0, sizeof(*f));
	REQUIRE_OK(gitrepo_create(&f->r));
	REQUIRE_OK(write_manifest(f->r, "orch.yaml", "1.0.0"));
	REQUIRE_OK(gitrepo_commit(f->c1, f->r, "Add shop manifest\n", &alice));
	REQUIRE_OK(write_manifest(f->r, "orch.yaml", "1.1.0"));
	REQUIRE_OK(gitrepo_commit(f->c2, f->r,
	    "web 1.1.0\n\nLonger body explaining why.\n", &bob));
	REQUIRE_OK(gitrepo_tag(f->r, "v1.1", "HEAD", NULL));
	REQUIRE_OK(gitrepo_tag(f->r, "rel-1.1", "HEAD", "release 1.1\n"));
	REQUIRE_OK(gitrepo_branch(f->r, "canary", "HEAD"));
	REQUIRE_OK(gitrepo_checkout(f->r, "canary"));
	REQUIRE_OK(write_manifest(f->r, "orch.yaml", "2.0.0-rc.1"));
	s.time = TB;
	REQUIRE_OK(gitrepo_commit(f->cb, f->r, "canary 2.0.0-rc.1\n", &s));
	REQUIRE_OK(gitrepo_checkout(f->r, "main"));
	REQUIRE_OK(gitrepo_write(f->r, "README", "shop\n"));
	s.time = T3;
	REQUIRE_OK(gitrepo_commit(f->c3, f->r, "docs: readme\n", &s));
	REQUIRE_OK(write_manifest(f->r, "orch.yaml", "1.2.0"));
	REQUIRE_OK(write_manifest(f->r, "deploy/orch.yaml", "9.0.0"));
	s.time = T4;
	REQUIRE_OK(gitrepo_commit(f->c4, f->r, "web 1.2.0, deploy dir\n", &s));
	REQUIRE_OK(gitrepo_remove(f->r, "orch.yaml"));
	s.time = T5;
	REQUIRE_OK(gitrepo_commit(f->c5, f->r, "remove manifest\n", &s));
}

static void
fixture_free(struct fixture *f)
{
	gitrepo_free(f->r);
	f->r = NULL;
}

static int
resolve_sha(char *sha, struct manifest_git *g, const char *ref)
{
	struct git_commit_info ci;
	int rc = manifest_git_resolve(&ci, g, ref);

	if (rc == 0)
		memcpy(sha, ci.sha, 41);
	else
		sha[0] = '\0';
	git_commit_info_clear(&ci);
	return rc;
}

TEST(git_resolve__refs)
{
	struct manifest_git *g = NULL;
	struct fixture f;
	char sha[41], shortsha[8];

	fixture_make(&f);
	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(f.r), NULL));

	CHECK_EQ_INT(resolve_sha(sha, g, "main"), 0);
	CHECK_STR(sha, f.c5);
	CHECK_EQ_INT(resolve_sha(sha, g, "HEAD"), 0);
	CHECK_STR(sha, f.c5);
	CHECK_EQ_INT(resolve_sha(sha, g, "HEAD~1"), 0);
	CHECK_STR(sha, f.c4);
	CHECK_EQ_INT(resolve_sha(sha, g, "main~3"), 0);
	CHECK_STR(sha, f.c2);
	CHECK_EQ_INT(resolve_sha(sha, g, "canary"), 0);
	CHECK_STR(sha, f.cb);
	CHECK_EQ_INT(resolve_sha(sha, g, "refs/heads/canary"), 0);
	CHECK_STR(sha, f.cb);
	CHECK_EQ_INT(resolve_sha(sha, g, "v1.1"), 0);      /* lightweight */
	CHECK_STR(sha, f.c2);
	CHECK_EQ_INT(resolve_sha(sha, g, "rel-1.1"), 0);   /* annotated, peeled */
	CHECK_STR(sha, f.c2);
	CHECK_EQ_INT(resolve_sha(sha, g, f.c1), 0);        /* full sha */
	CHECK_STR(sha, f.c1);
	memcpy(shortsha, f.c3, 7);
	shortsha[7] = '\0';
	CHECK_EQ_INT(resolve_sha(sha, g, shortsha), 0);    /* short sha */
	CHECK_STR(sha, f.c3);

	manifest_git_free(g);
	fixture_free(&f);
}

TEST(git_resolve__commit_info)
{
	struct manifest_git *g = NULL;
	struct git_commit_info ci;
	struct fixture f;

	fixture_make(&f);
	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(f.r), NULL));

	REQUIRE_OK(manifest_git_resolve(&ci, g, "rel-1.1"));
	CHECK_STR(ci.sha, f.c2);
	CHECK_STR(ci.author, "Bob <bob@example.com>");
	CHECK_EQ_INT(ci.time, T2);
	CHECK_STR(ci.message, "web 1.1.0\n\nLonger body explaining why.\n");
	CHECK_STR(ci.summary, "web 1.1.0");
	git_commit_info_clear(&ci);
	CHECK(ci.author == NULL && ci.sha[0] == '\0');

	REQUIRE_OK(manifest_git_resolve(&ci, g, f.c1));
	CHECK_STR(ci.author, "Alice Example <alice@example.com>");
	CHECK_EQ_INT(ci.time, T1);
	CHECK_STR(ci.summary, "Add shop manifest");
	git_commit_info_clear(&ci);
	git_commit_info_clear(NULL);

	manifest_git_free(g);
	fixture_free(&f);
}

TEST(git_resolve__bad_refs)
{
	struct manifest_git *g = NULL;
	struct git_commit_info ci;
	struct fixture f;

	fixture_make(&f);
	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(f.r), NULL));

	CHECK_EQ_INT(manifest_git_resolve(&ci, g, "no-such-branch"), ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "no-such-branch");
	CHECK_CONTAINS(orch_err_last(), "not found");
	CHECK(ci.author == NULL && ci.sha[0] == '\0');
	CHECK_EQ_INT(manifest_git_resolve(&ci, g, "main~40"), ORCH_ENOTFOUND);
	CHECK_EQ_INT(manifest_git_resolve(&ci, g,
	    "0123456789012345678901234567890123456789"), ORCH_ENOTFOUND);
	/* A tree and a blob are not commits. */
	CHECK_EQ_INT(manifest_git_resolve(&ci, g, "main^{tree}"), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "tree, not a commit");
	CHECK_EQ_INT(manifest_git_resolve(&ci, g, "main:README"), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "blob, not a commit");
	CHECK_EQ_INT(manifest_git_resolve(&ci, g, "main^{nonsense}"), ORCH_EINVALID);
	CHECK_EQ_INT(manifest_git_resolve(&ci, g, ""), ORCH_EINVALID);
	CHECK_EQ_INT(manifest_git_resolve(&ci, g, NULL), ORCH_EINVALID);
	git_commit_info_clear(&ci);

	manifest_git_free(g);
	fixture_free(&f);
}

/*
 * A real ambiguous short sha: store blobs "blob 0", "blob 1", ... until two
 * ids share their first 4 hex digits (the shortest prefix git accepts);
 * that takes a few hundred blobs and is deterministic.
 */
TEST(git_resolve__ambiguous_short_sha)
{
	struct manifest_git *g = NULL;
	struct git_commit_info ci;
	git_repository *repo = NULL;
	struct gitrepo *r = NULL;
	static char seen[65536];
	char prefix[5] = "";

	REQUIRE_OK(gitrepo_create(&r));
	REQUIRE_OK(gitrepo_write(r, "orch.yaml", "x\n"));
	REQUIRE_OK(gitrepo_commit(NULL, r, "one\n", NULL));
	REQUIRE(git_libgit2_init() > 0);
	REQUIRE(git_repository_open(&repo, gitrepo_path(r)) == 0);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 100000 && prefix[0] == '\0'; i++) {
		char content[32], hex[41];
		git_oid id;
		unsigned key;

		snprintf(content, sizeof(content), "blob %d\n", i);
		REQUIRE(git_blob_create_from_buffer(&id, repo, content,
		    strlen(content)) == 0);
		git_oid_tostr(hex, sizeof(hex), &id);
		key = (unsigned)strtoul((char[]){hex[0], hex[1], hex[2], hex[3], 0},
		    NULL, 16);
		if (seen[key])
			memcpy(prefix, hex, 4);
		seen[key] = 1;
	}
	git_repository_free(repo);
	git_libgit2_shutdown();
	REQUIRE(prefix[0] != '\0');

	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(r), NULL));
	CHECK_EQ_INT(manifest_git_resolve(&ci, g, prefix), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "ambiguous");
	CHECK_CONTAINS(orch_err_last(), prefix);
	git_commit_info_clear(&ci);
	manifest_git_free(g);
	gitrepo_free(r);
}

/* Run git (the CLI) with argv, isolated from the machine's config; 0 when
 * it exits 0. */
static int
run_git(char *const argv[])
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
		setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
		execvp("git", argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * A plain `git clone` (work tree) has only origin/canary, no local canary:
 * "canary" still resolves, to origin's branch. And the mirror cache is a
 * repository git itself reads.
 */
TEST(git_resolve__remote_tracking_branch)
{
	struct manifest_git *g = NULL;
	struct fixture f;
	char *dir = NULL, *work = NULL, sha[41];

	fixture_make(&f);
	REQUIRE_OK(gitrepo_mkdtemp(&dir, "gitclone"));
	REQUIRE(asprintf(&work, "%s/work", dir) > 0);
	REQUIRE(run_git((char *[]){"git", "clone", "-q", (char *)gitrepo_url(f.r),
	    work, NULL}) == 0);
	REQUIRE_OK(manifest_git_open(&g, work, NULL));
	CHECK_EQ_INT(resolve_sha(sha, g, "canary"), 0);
	CHECK_STR(sha, f.cb);
	CHECK_EQ_INT(resolve_sha(sha, g, "origin/canary"), 0);
	CHECK_STR(sha, f.cb);
	CHECK_EQ_INT(resolve_sha(sha, g, "main"), 0);
	CHECK_STR(sha, f.c5);
	CHECK_EQ_INT(resolve_sha(sha, g, "canary~1"), 0);
	CHECK_STR(sha, f.c2);
	CHECK_EQ_INT(resolve_sha(sha, g, "nope~1"), ORCH_ENOTFOUND);
	manifest_git_free(g);

	gitrepo_rmtree(dir);
	free(dir);
	free(work);
	fixture_free(&f);
}

static void
check_read(struct manifest_git *g, const char *sha, const char *path,
    const char *version)
{
	char *want = manifest_text(version), *got = NULL;
	size_t len = 0;
	int rc = manifest_git_read(&got, &len, g, sha, path);

	if (rc != 0)
		check_fail(__FILE__, __LINE__, "read %s at %.7s: %s", path, sha,
		    orch_err_last());
	CHECK_STR(got, want);
	CHECK_EQ_INT(len, strlen(want));
	free(want);
	free(got);
}

TEST(git_read__each_commit)
{
	struct manifest_git *g = NULL;
	struct fixture f;
	char *buf = NULL, want[128];
	size_t len = 7;

	fixture_make(&f);
	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(f.r), NULL));

	check_read(g, f.c1, "orch.yaml", "1.0.0");
	check_read(g, f.c2, "orch.yaml", "1.1.0");
	check_read(g, f.cb, "orch.yaml", "2.0.0-rc.1");
	check_read(g, f.c3, "orch.yaml", "1.1.0");
	check_read(g, f.c4, "orch.yaml", "1.2.0");
	check_read(g, f.c4, "./orch.yaml", "1.2.0");
	check_read(g, f.c4, "deploy/orch.yaml", "9.0.0");

	/* Removed: ENOTFOUND naming the file and the short sha. */
	CHECK_EQ_INT(manifest_git_read(&buf, &len, g, f.c5, "orch.yaml"),
	    ORCH_ENOTFOUND);
	snprintf(want, sizeof(want), "orch.yaml not found at commit %.7s", f.c5);
	CHECK_STR(orch_err_last(), want);
	CHECK(buf == NULL && len == 0);
	CHECK_EQ_INT(manifest_git_read(&buf, &len, g, f.c1, "deploy/orch.yaml"),
	    ORCH_ENOTFOUND);
	CHECK_EQ_INT(manifest_git_read(&buf, &len, g, f.c4, "deploy"),
	    ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "directory");
	CHECK_EQ_INT(manifest_git_read(&buf, &len, g, f.c4, "/orch.yaml"),
	    ORCH_EINVALID);
	CHECK_EQ_INT(manifest_git_read(&buf, &len, g, f.c4, ""), ORCH_EINVALID);
	CHECK_EQ_INT(manifest_git_read(&buf, &len, g, "main", "orch.yaml"),
	    ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "40 hex");
	CHECK_EQ_INT(manifest_git_read(&buf, &len, g,
	    "0123456789012345678901234567890123456789", "orch.yaml"),
	    ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "commit 0123456 not found");
	CHECK(buf == NULL);

	manifest_git_free(g);
	fixture_free(&f);
}

TEST(git_read__size_limit)
{
	struct manifest_git *g = NULL;
	struct gitrepo *r = NULL;
	struct git_commit_info ci = {0};
	char *big = malloc(MANIFEST_MAX_BYTES + 1), *buf = NULL;
	size_t len = 0;

	REQUIRE(big != NULL);
	memset(big, 'a', MANIFEST_MAX_BYTES + 1);
	REQUIRE_OK(gitrepo_create(&r));
	REQUIRE_OK(gitrepo_write_len(r, "exact.yaml", big, MANIFEST_MAX_BYTES));
	REQUIRE_OK(gitrepo_write_len(r, "big.yaml", big, MANIFEST_MAX_BYTES + 1));
	free(big);
	REQUIRE_OK(gitrepo_commit(NULL, r, "big files\n", NULL));
	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(r), NULL));
	REQUIRE_OK(manifest_git_resolve(&ci, g, "main"));

	CHECK_EQ_INT(manifest_git_read(&buf, &len, g, ci.sha, "big.yaml"),
	    ORCH_ETOOBIG);
	CHECK_CONTAINS(orch_err_last(), "over the limit");
	CHECK(buf == NULL);
	CHECK_EQ_INT(manifest_git_read(&buf, &len, g, ci.sha, "exact.yaml"), 0);
	CHECK_EQ_INT(len, MANIFEST_MAX_BYTES);
	CHECK(buf != NULL && buf[len] == '\0' && buf[len - 1] == 'a');
	free(buf);

	git_commit_info_clear(&ci);
	manifest_git_free(g);
	gitrepo_free(r);
}

TEST(git_open__not_a_repository)
{
	struct manifest_git *g = NULL;
	struct fixture f;
	char *dir = NULL, *sub = NULL, *dotgit = NULL;

	fixture_make(&f);
	REQUIRE_OK(gitrepo_mkdtemp(&dir, "notrepo"));
	CHECK_EQ_INT(manifest_git_open(&g, dir, NULL), ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "not a git repository");
	CHECK_CONTAINS(orch_err_last(), dir);
	CHECK(g == NULL);
	CHECK_EQ_INT(manifest_git_open(&g, "/nonexistent/orch-repo", NULL),
	    ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "/nonexistent/orch-repo");
	CHECK_EQ_INT(manifest_git_open(&g, "", NULL), ORCH_EINVALID);

	/* A subdirectory of a work tree is not its repository. */
	REQUIRE(asprintf(&sub, "%s/deploy", gitrepo_path(f.r)) > 0);
	CHECK_EQ_INT(manifest_git_open(&g, sub, NULL), ORCH_ENOTFOUND);
	/* The .git directory itself is. */
	REQUIRE(asprintf(&dotgit, "%s/.git", gitrepo_path(f.r)) > 0);
	REQUIRE_OK(manifest_git_open(&g, dotgit, NULL));
	/* Local repositories have nothing to fetch. */
	CHECK_EQ_INT(manifest_git_fetch(g), 0);
	manifest_git_free(g);
	manifest_git_free(NULL);

	gitrepo_rmtree(dir);
	free(dir);
	free(sub);
	free(dotgit);
	fixture_free(&f);
}

/* Check that history lists exactly want[0..n) (newest first). */
static void
check_history(struct manifest_git *g, const char *ref, const char *path,
    size_t max, const char *const *want, size_t n)
{
	struct git_commit_info *v = NULL;
	size_t got = 99;
	int rc = manifest_git_history(&v, &got, g, ref, path, max);

	if (rc != 0) {
		check_fail(__FILE__, __LINE__, "history %s %s: %s", ref, path,
		    orch_err_last());
		return;
	}
	if (got != n)
		check_fail(__FILE__, __LINE__, "history %s %s: %zu commits, "
		    "want %zu", ref, path, got, n);
	for (size_t i = 0; i < n && i < got; i++)
		CHECK_STR(v[i].sha, want[i]);
	manifest_git_history_free(v, got);
}

TEST(git_history__file_changes)
{
	struct git_commit_info *v = NULL;
	struct manifest_git *g = NULL;
	struct fixture f;
	size_t n = 0;

	fixture_make(&f);
	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(f.r), NULL));

	/* The README-only commit c3 is not there; the removal c5 is. */
	check_history(g, "main", "orch.yaml", 0,
	    (const char *[]){f.c5, f.c4, f.c2, f.c1}, 4);
	check_history(g, "main", "orch.yaml", 2,
	    (const char *[]){f.c5, f.c4}, 2);
	check_history(g, "canary", "orch.yaml", 0,
	    (const char *[]){f.cb, f.c2, f.c1}, 3);
	check_history(g, "v1.1", "orch.yaml", 0,
	    (const char *[]){f.c2, f.c1}, 2);
	check_history(g, "main", "deploy/orch.yaml", 0,
	    (const char *[]){f.c4}, 1);
	check_history(g, "main", "README", 0, (const char *[]){f.c3}, 1);
	check_history(g, "main", "nothing.yaml", 0, NULL, 0);

	/* Commit details come along. */
	REQUIRE_OK(manifest_git_history(&v, &n, g, "main", "orch.yaml", 0));
	REQUIRE(n == 4);
	CHECK_STR(v[2].author, "Bob <bob@example.com>");
	CHECK_EQ_INT(v[2].time, T2);
	CHECK_STR(v[2].summary, "web 1.1.0");
	CHECK_STR(v[0].summary, "remove manifest");
	CHECK_EQ_INT(v[0].time, T5);
	manifest_git_history_free(v, n);
	manifest_git_history_free(NULL, 0);

	CHECK_EQ_INT(manifest_git_history(&v, &n, g, "nope", "orch.yaml", 0),
	    ORCH_ENOTFOUND);
	CHECK(v == NULL && n == 0);
	CHECK_EQ_INT(manifest_git_history(&v, &n, g, "main", "/orch.yaml", 0),
	    ORCH_EINVALID);

	manifest_git_free(g);
	fixture_free(&f);
}

/*
 * Merges: one that took a side's version unchanged is not a change of its
 * own (the side's commit is listed); one that resolved into a new version
 * is.
 *   a1 orch.yaml 1.0.0 (main)
 *   f1 orch.yaml 2.0.0 (feat, from a1)
 *   a2 README (main)
 *   m1 merge feat, keeps 2.0.0            -> not listed
 *   x1 orch.yaml 3.0.0 (fix, from m1)
 *   a3 orch.yaml 4.0.0 (main)
 *   m2 merge fix, resolves to 5.0.0       -> listed
 */
TEST(git_history__merges)
{
	struct manifest_git *g = NULL;
	struct gitrepo *r = NULL;
	char a1[41], f1[41], a2[41], m1[41], x1[41], a3[41], m2[41];

	REQUIRE_OK(gitrepo_create(&r));
	REQUIRE_OK(write_manifest(r, "orch.yaml", "1.0.0"));
	REQUIRE_OK(gitrepo_commit(a1, r, "a1\n", NULL));
	REQUIRE_OK(gitrepo_branch(r, "feat", "main"));
	REQUIRE_OK(gitrepo_checkout(r, "feat"));
	REQUIRE_OK(write_manifest(r, "orch.yaml", "2.0.0"));
	REQUIRE_OK(gitrepo_commit(f1, r, "f1\n", NULL));
	REQUIRE_OK(gitrepo_checkout(r, "main"));
	REQUIRE_OK(gitrepo_write(r, "README", "x\n"));
	REQUIRE_OK(gitrepo_commit(a2, r, "a2\n", NULL));
	REQUIRE_OK(write_manifest(r, "orch.yaml", "2.0.0"));
	REQUIRE_OK(gitrepo_merge(m1, r, "feat", "m1\n"));
	REQUIRE_OK(gitrepo_branch(r, "fix", "main"));
	REQUIRE_OK(gitrepo_checkout(r, "fix"));
	REQUIRE_OK(write_manifest(r, "orch.yaml", "3.0.0"));
	REQUIRE_OK(gitrepo_commit(x1, r, "x1\n", NULL));
	REQUIRE_OK(gitrepo_checkout(r, "main"));
	REQUIRE_OK(write_manifest(r, "orch.yaml", "4.0.0"));
	REQUIRE_OK(gitrepo_commit(a3, r, "a3\n", NULL));
	REQUIRE_OK(write_manifest(r, "orch.yaml", "5.0.0"));
	REQUIRE_OK(gitrepo_merge(m2, r, "fix", "m2\n"));

	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(r), NULL));
	check_history(g, "main", "orch.yaml", 0,
	    (const char *[]){m2, a3, x1, f1, a1}, 5);
	check_history(g, "main~1", "orch.yaml", 0,
	    (const char *[]){a3, f1, a1}, 3);
	check_history(g, "main", "README", 0, (const char *[]){a2}, 1);
	(void)m1;
	manifest_git_free(g);
	gitrepo_free(r);
}

TEST(git_load__valid_and_invalid)
{
	struct manifest_errors errs;
	struct git_commit_info ci;
	struct manifest_git *g = NULL;
	struct manifest *m = NULL;
	struct fixture f;
	char bad[41], want[64];

	fixture_make(&f);
	REQUIRE_OK(gitrepo_write(f.r, "orch.yaml",
	    "architecture: shop\nservices:\n  web:\n    version: \"1.3.0\"\n"));
	REQUIRE_OK(gitrepo_commit(bad, f.r, "forgot the command\n", NULL));
	REQUIRE_OK(manifest_git_open(&g, gitrepo_path(f.r), NULL));
	manifest_errors_init(&errs);

	REQUIRE_OK(manifest_git_load(&m, &errs, &ci, g, "rel-1.1", "orch.yaml"));
	REQUIRE(m != NULL);
	CHECK_STR(m->architecture, "shop");
	REQUIRE(m->nservices == 1);
	CHECK_STR(m->services[0].name, "web");
	CHECK_STR(m->services[0].version, "1.1.0");
	snprintf(want, sizeof(want), "orch.yaml@%.7s", f.c2);
	CHECK_STR(m->file, want);
	CHECK_STR(ci.sha, f.c2);
	CHECK_STR(ci.author, "Bob <bob@example.com>");
	CHECK_EQ_INT(errs.n, 0);
	manifest_free(m);
	git_commit_info_clear(&ci);

	REQUIRE_OK(manifest_git_load(&m, NULL, NULL, g, f.c4, "deploy/orch.yaml"));
	CHECK_STR(m->services[0].version, "9.0.0");
	manifest_free(m);

	/* Invalid revision: every error names "orch.yaml@<short sha>". */
	CHECK_EQ_INT(manifest_git_load(&m, &errs, &ci, g, "main", "orch.yaml"),
	    ORCH_EINVALID);
	CHECK(m == NULL);
	snprintf(want, sizeof(want), "orch.yaml@%.7s", bad);
	REQUIRE(errs.n >= 1);
	CHECK_STR(errs.v[0].file, want);
	CHECK_CONTAINS(errs.v[0].msg, "command");
	CHECK_CONTAINS(orch_err_last(), want);
	CHECK_STR(ci.sha, bad); /* which commit was rejected */
	git_commit_info_clear(&ci);
	manifest_errors_free(&errs);

	/* File missing at that revision; unknown ref. */
	manifest_errors_init(&errs);
	CHECK_EQ_INT(manifest_git_load(&m, &errs, &ci, g, "main~1", "orch.yaml"),
	    ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "not found at commit");
	CHECK_STR(ci.sha, f.c5);
	CHECK_EQ_INT(errs.n, 0);
	git_commit_info_clear(&ci);
	CHECK_EQ_INT(manifest_git_load(&m, &errs, &ci, g, "nope", "orch.yaml"),
	    ORCH_ENOTFOUND);
	CHECK(m == NULL && ci.sha[0] == '\0' && ci.author == NULL);
	manifest_errors_free(&errs);

	manifest_git_free(g);
	fixture_free(&f);
}

/* Entries of dir (not . and ..), whether all end in ".git", and the name
 * of the last one into last (when not NULL). */
static int
count_entries(const char *dir, int *all_git, char *last, size_t lastlen)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	*all_git = 1;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (len < 4 || strcmp(de->d_name + len - 4, ".git") != 0)
			*all_git = 0;
		if (last != NULL)
			snprintf(last, lastlen, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

TEST(git_clone__file_url_and_fetch)
{
	struct manifest_git *g = NULL, *g2 = NULL;
	struct fixture f;
	char *cache = NULL, *bad_url = NULL, *url = NULL, *gitdir = NULL;
	char sha[41], c6[41], entry[256];
	int all_git;

	fixture_make(&f);
	REQUIRE_OK(gitrepo_mkdtemp(&cache, "gitcache"));

	REQUIRE_OK(manifest_git_open(&g, gitrepo_url(f.r), cache));
	CHECK_EQ_INT(count_entries(cache, &all_git, NULL, 0), 1);
	CHECK(all_git);
	CHECK_EQ_INT(resolve_sha(sha, g, "main"), 0);
	CHECK_STR(sha, f.c5);
	CHECK_EQ_INT(resolve_sha(sha, g, "canary"), 0);
	CHECK_STR(sha, f.cb);
	CHECK_EQ_INT(resolve_sha(sha, g, "rel-1.1"), 0);
	CHECK_STR(sha, f.c2);
	CHECK_EQ_INT(resolve_sha(sha, g, "v1.1"), 0);
	CHECK_STR(sha, f.c2);
	CHECK_EQ_INT(resolve_sha(sha, g, "HEAD"), 0);
	CHECK_STR(sha, f.c5);
	check_read(g, f.c4, "orch.yaml", "1.2.0");
	check_history(g, "main", "orch.yaml", 0,
	    (const char *[]){f.c5, f.c4, f.c2, f.c1}, 4);

	/* A new commit upstream: invisible until fetched. */
	REQUIRE_OK(write_manifest(f.r, "orch.yaml", "1.3.0"));
	REQUIRE_OK(gitrepo_commit(c6, f.r, "web 1.3.0\n", NULL));
	CHECK_EQ_INT(resolve_sha(sha, g, "main"), 0);
	CHECK_STR(sha, f.c5);
	REQUIRE_OK(manifest_git_fetch(g));
	CHECK_EQ_INT(resolve_sha(sha, g, "main"), 0);
	CHECK_STR(sha, c6);
	check_read(g, c6, "orch.yaml", "1.3.0");

	/* A branch deleted upstream goes away here too (mirror, pruned). */
	REQUIRE_OK(gitrepo_branch_delete(f.r, "canary"));
	REQUIRE_OK(manifest_git_fetch(g));
	CHECK_EQ_INT(resolve_sha(sha, g, "canary"), ORCH_ENOTFOUND);
	CHECK_EQ_INT(resolve_sha(sha, g, "v1.1"), 0);

	/* A second open reuses the cache (and fetches into it). */
	REQUIRE_OK(write_manifest(f.r, "orch.yaml", "1.4.0"));
	REQUIRE_OK(gitrepo_commit(c6, f.r, "web 1.4.0\n", NULL));
	REQUIRE_OK(manifest_git_open(&g2, gitrepo_url(f.r), cache));
	CHECK_EQ_INT(count_entries(cache, &all_git, NULL, 0), 1);
	CHECK_EQ_INT(resolve_sha(sha, g2, "main"), 0);
	CHECK_STR(sha, c6);
	manifest_git_free(g2);
	manifest_git_free(g);

	/* The cache is an ordinary bare mirror that git itself reads; one
	 * whose origin was changed by hand is refused, not fetched into. */
	REQUIRE(count_entries(cache, &all_git, entry, sizeof(entry)) == 1);
	REQUIRE(asprintf(&gitdir, "--git-dir=%s/%s", cache, entry) > 0);
	CHECK(run_git((char *[]){"git", gitdir, "rev-parse", "-q", "--verify",
	    "refs/heads/main", NULL}) == 0);
	CHECK(run_git((char *[]){"git", gitdir, "symbolic-ref", "-q", "HEAD",
	    NULL}) == 0);
	REQUIRE(run_git((char *[]){"git", gitdir, "config", "remote.origin.url",
	    "file:///elsewhere", NULL}) == 0);
	CHECK_EQ_INT(manifest_git_open(&g, gitrepo_url(f.r), cache), ORCH_EEXISTS);
	CHECK_CONTAINS(orch_err_last(), "mirrors another repository");
	CHECK(g == NULL);
	REQUIRE(run_git((char *[]){"git", gitdir, "config", "remote.origin.url",
	    (char *)gitrepo_url(f.r), NULL}) == 0);

	/* Unreachable: EUNAVAIL, and no half-made cache left behind. */
	REQUIRE(asprintf(&bad_url, "file://%s/no-such-repo", cache) > 0);
	CHECK_EQ_INT(manifest_git_open(&g, bad_url, cache), ORCH_EUNAVAIL);
	CHECK_CONTAINS(orch_err_last(), "cannot clone");
	CHECK_CONTAINS(orch_err_last(), bad_url);
	CHECK(g == NULL);
	CHECK_EQ_INT(count_entries(cache, &all_git, NULL, 0), 1);
	/* A URL needs somewhere to keep its clone. */
	CHECK_EQ_INT(manifest_git_open(&g, gitrepo_url(f.r), NULL), ORCH_EINVALID);

	/* Upstream gone after the clone: the open's fetch fails, EUNAVAIL. */
	REQUIRE((url = strdup(gitrepo_url(f.r))) != NULL);
	fixture_free(&f);
	CHECK_EQ_INT(manifest_git_open(&g, url, cache), ORCH_EUNAVAIL);
	CHECK_CONTAINS(orch_err_last(), "cannot fetch");
	CHECK(g == NULL);

	gitrepo_rmtree(cache);
	free(cache);
	free(bad_url);
	free(url);
	free(gitdir);
}

/*
 * What counts as a URL: a scheme, or scp-like user@host:path. Nothing
 * listens on 127.0.0.1:1 and the ssh attempt fails without a key, so both
 * fail fast with EUNAVAIL -- a local path would have given ENOTFOUND. A
 * password in the URL never shows in the message.
 */
TEST(git_open__url_forms)
{
	struct manifest_git *g = NULL;
	char *cache = NULL;
	int all_git;

	REQUIRE_OK(gitrepo_mkdtemp(&cache, "gitcache"));
	CHECK_EQ_INT(manifest_git_open(&g,
	    "https://orch:s3cret@127.0.0.1:1/shop.git", cache), ORCH_EUNAVAIL);
	CHECK_CONTAINS(orch_err_last(), "https://orch:***@127.0.0.1:1/shop.git");
	CHECK(strstr(orch_err_last(), "s3cret") == NULL);
	CHECK(g == NULL);
	CHECK_EQ_INT(manifest_git_open(&g, "orch@127.0.0.1:shop.git", cache),
	    ORCH_EUNAVAIL);
	CHECK_CONTAINS(orch_err_last(), "cannot clone 'orch@127.0.0.1:shop.git'");
	CHECK_EQ_INT(count_entries(cache, &all_git, NULL, 0), 0);
	/* A colon after a slash is part of a local path. */
	CHECK_EQ_INT(manifest_git_open(&g, "./no@such:dir", cache), ORCH_ENOTFOUND);
	gitrepo_rmtree(cache);
	free(cache);
}

CHECK_MAIN(git_resolve__refs, git_resolve__commit_info, git_resolve__bad_refs,
    git_resolve__ambiguous_short_sha, git_read__each_commit,
    git_read__size_limit, git_open__not_a_repository,
    git_history__file_changes, git_history__merges,
    git_load__valid_and_invalid, git_clone__file_url_and_fetch,
    git_open__url_forms, git_resolve__remote_tracking_branch)
