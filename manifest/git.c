/*
 * git.c - the git source of manifests: open a repository (a local one in
 * place, or a bare mirror of a URL kept in a cache directory), resolve refs
 * to commits, read one file at a commit, and list the commits that changed
 * that file.
 *
 * A struct manifest_git is not thread-safe (libgit2 objects of one
 * repository must not be used from two threads at once): give each thread
 * its own handle. Handles on different threads are fine.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "err.h"
#include "manifest.h"

struct manifest_git {
	git_repository *repo;
	char *where; /* what the caller passed (URLs with the password hidden) */
	char *url;   /* origin URL of a cached mirror; NULL for a local repo */
};

/* ---- errors ---------------------------------------------------------- */

static const char *
git_msg(void)
{
	const git_error *e = git_error_last();

	return e != NULL && e->message != NULL ? e->message :
	    "unknown libgit2 error";
}

/* orch_err_set(code, "<context>: <libgit2's last message>"). */
static int gerr(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
gerr(int code, const char *fmt, ...)
{
	char ctx[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	return orch_err_set(code, "%s: %s", ctx, git_msg());
}

static int
oom(void)
{
	return orch_err_set(ORCH_ERROR, "out of memory");
}

/* ---- commit info ----------------------------------------------------- */

void
git_commit_info_clear(struct git_commit_info *c)
{
	if (c == NULL)
		return;
	free(c->author);
	free(c->message);
	free(c->summary);
	memset(c, 0, sizeof(*c));
}

void
manifest_git_history_free(struct git_commit_info *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		git_commit_info_clear(&v[i]);
	free(v);
}

/* Fill out from commit c. On failure out is left cleared. */
static int
fill_info(struct git_commit_info *out, const git_commit *c)
{
	const git_signature *a = git_commit_author(c);
	const char *msg = git_commit_message(c);
	size_t len;

	memset(out, 0, sizeof(*out));
	if (msg == NULL)
		msg = "";
	git_oid_tostr(out->sha, sizeof(out->sha), git_commit_id(c));
	/* Committer time, not author time: it is when the commit entered the
	 * branch, which is what ordering by "when was this revision made"
	 * means for a rebased or cherry-picked commit. */
	out->time = (int64_t)git_commit_committer(c)->when.time;
	if (asprintf(&out->author, "%s <%s>", a->name ? a->name : "",
	    a->email ? a->email : "") < 0) {
		out->author = NULL;
		goto fail;
	}
	if ((out->message = strdup(msg)) == NULL)
		goto fail;
	/* The summary is the first line (git_commit_summary() would join the
	 * whole first paragraph), without trailing blanks or a CR. */
	len = strcspn(msg, "\n");
	while (len > 0 && (msg[len - 1] == ' ' || msg[len - 1] == '\t' ||
	    msg[len - 1] == '\r'))
		len--;
	if ((out->summary = strndup(msg, len)) == NULL)
		goto fail;
	return 0;
fail:
	git_commit_info_clear(out);
	return oom();
}

/* ---- opening --------------------------------------------------------- */

/* A URL is what git itself would fetch from rather than open: anything
 * with a scheme, or scp-like user@host:path (a colon before any slash, so
 * a local "./a@b:c" stays a path). */
static bool
is_url(const char *s)
{
	const char *at = strchr(s, '@'), *colon = strchr(s, ':');
	const char *slash = strchr(s, '/');

	if (strstr(s, "://") != NULL)
		return true;
	return at != NULL && colon != NULL && at > s && colon > at + 1 &&
	    (slash == NULL || colon < slash);
}

/* A copy of url fit for messages: the password of
 * scheme://user:password@host is replaced by "***". */
static char *
redact_url(const char *url)
{
	const char *auth = strstr(url, "://"), *at, *colon, *end;
	char *out;

	if (auth == NULL)
		return strdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = memrchr(auth, '@', (size_t)(end - auth));
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon == NULL)
		return strdup(url);
	if (asprintf(&out, "%.*s***%s", (int)(colon + 1 - url), url, at) < 0)
		return NULL;
	return out;
}

/* Directory name of the mirror of url: a readable part (host and path,
 * no scheme or user) and a hash of the full URL, so that two URLs never
 * share a cache and a person can still tell which is which. */
static char *
cache_name(const char *url)
{
	const char *p = url, *s;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */
	char readable[49];
	size_t n = 0;
	char *out;

	for (s = url; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	/* Skip the scheme and any user[:password]@, which must never end up
	 * in a directory name. */
	if ((s = strstr(url, "://")) != NULL) {
		p = s + 3;
		if ((s = memrchr(p, '@', strcspn(p, "/?#"))) != NULL)
			p = s + 1;
	} else if ((s = strchr(p, '@')) != NULL && s < p + strcspn(p, ":")) {
		p = s + 1; /* scp-like user@host:path */
	}
	for (; *p && n < sizeof(readable) - 1; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (c == '.' && n > 0);
		if (!ok)
			c = '_';
		if (c == '_' && n > 0 && readable[n - 1] == '_')
			continue;
		readable[n++] = c;
	}
	if (n >= 4 && memcmp(readable + n - 4, ".git", 4) == 0)
		n -= 4; /* ".../shop.git" -> "..._shop-<hash>.git" */
	while (n > 0 && (readable[n - 1] == '_' || readable[n - 1] == '.'))
		n--;
	readable[n] = '\0';
	if (asprintf(&out, "%s-%016llx.git", readable, (unsigned long long)h) < 0)
		return NULL;
	return out;
}

static int
mkdir_p(const char *path)
{
	char *buf = strdup(path);
	int rc = 0;

	if (buf == NULL)
		return oom();
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
			rc = orch_err_sys(ORCH_ERROR,
			    "cannot create cache directory '%s'", buf);
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(buf);
	return rc;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Asks ssh-agent once for ssh URLs; https credentials come from the URL
 * itself (libgit2 uses its userinfo). Giving up after one try keeps libgit2
 * from calling us forever on a key the server refuses. */
static int
credentials_cb(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	int *tries = payload;

	(void)url;
	if ((*tries)++ > 0 || !(allowed & GIT_CREDENTIAL_SSH_KEY))
		return GIT_PASSTHROUGH;
	return git_credential_ssh_key_from_agent(out, user ? user : "git");
}

/* The mirror refspec: every ref of the origin lands under the same name
 * here, so "main" and "v1.2" resolve in the cache exactly as upstream. */
#define MIRROR_REFSPEC "+refs/*:refs/*"

/*
 * A remote for url with the mirror refspec; named (saved in the cache's
 * config) when name is given, in memory otherwise. url.<base>.insteadOf
 * rewriting is skipped on purpose: libgit2 1.5.1 matches every config key
 * against a regex to apply it and leaks the PCRE2 match data (~20 KB) per
 * key and per lookup (libgit2 PR #6382), which a controller fetching every
 * few seconds cannot afford. Give orch the final URL.
 */
static int
mirror_remote(git_remote **out, git_repository *repo, const char *name,
    const char *url)
{
	git_remote_create_options opts;
	int rc;

	*out = NULL;
	if ((rc = git_remote_create_options_init(&opts,
	    GIT_REMOTE_CREATE_OPTIONS_VERSION)) < 0)
		return rc;
	opts.repository = repo;
	opts.name = name;
	opts.fetchspec = MIRROR_REFSPEC;
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	return git_remote_create_with_opts(out, url, &opts);
}

/* git_clone()'s remote_cb: origin, saved as a mirror (as `git clone
 * --mirror` writes it, so a person inspecting the cache sees what it is). */
static int
mirror_remote_cb(git_remote **out, git_repository *repo, const char *name,
    const char *url, void *payload)
{
	git_config *cfg = NULL;
	int rc;

	(void)payload;
	if ((rc = mirror_remote(out, repo, name, url)) < 0)
		return rc;
	if ((rc = git_repository_config(&cfg, repo)) == 0) {
		rc = git_config_set_bool(cfg, "remote.origin.mirror", 1);
		git_config_free(cfg);
	}
	if (rc < 0) {
		git_remote_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Fetch g->url into the mirror, pruning refs deleted upstream. The remote
 * is made in memory from the URL rather than looked up by name (see
 * mirror_remote() for why). */
static int
fetch_origin(struct manifest_git *g)
{
	git_fetch_options opts;
	git_remote *origin = NULL;
	int tries = 0, rc = 0;

	/* The *_init() functions, not the INIT macros: those leave fields to
	 * zero-initialisation, which -Wextra flags. */
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	opts.prune = GIT_FETCH_PRUNE;
	opts.update_fetchhead = 0;
	opts.proxy_opts.type = GIT_PROXY_AUTO; /* http.proxy, $https_proxy */
	opts.callbacks.credentials = credentials_cb;
	opts.callbacks.payload = &tries;
	if (mirror_remote(&origin, g->repo, NULL, g->url) < 0)
		return gerr(ORCH_ERROR, "cannot fetch into '%s'", g->where);
	if (git_remote_fetch(origin, NULL, &opts, "orch: fetch") < 0)
		rc = gerr(ORCH_EUNAVAIL, "cannot fetch '%s'", g->where);
	git_remote_free(origin);
	return rc;
}

/*
 * With a mirror refspec git_clone() finds the origin's default branch
 * already there and leaves HEAD at the init default (unborn "master"); it
 * records the origin's HEAD as refs/remotes/origin/HEAD instead. Point our
 * HEAD where the origin's points, as `git clone --mirror` does, and drop
 * that ref, which the origin does not have.
 */
static int
adopt_remote_head(git_repository *repo)
{
	git_reference *ref = NULL;
	int rc = 0;

	if (git_reference_lookup(&ref, repo, "refs/remotes/origin/HEAD") < 0)
		return 0; /* origin's HEAD detached or unknown: keep ours */
	if (git_reference_type(ref) == GIT_REFERENCE_SYMBOLIC &&
	    (git_repository_set_head(repo, git_reference_symbolic_target(ref)) < 0 ||
	    git_reference_delete(ref) < 0))
		rc = gerr(ORCH_ERROR, "cannot set HEAD of the clone");
	git_reference_free(ref);
	return rc;
}

/*
 * Clone url as a bare mirror into path. The clone goes into a temporary
 * sibling that is renamed into place only when complete, so a clone cut
 * short (crash, network) never leaves a half-filled cache that later opens
 * would take for a good one. If another process won the race, its clone is
 * used and ours is dropped.
 */
static int
clone_mirror(struct manifest_git *g, const char *url, const char *path)
{
	git_clone_options opts;
	char *tmp = NULL;
	int tries = 0, rc = 0;

	if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0)
		return oom();
	if (mkdtemp(tmp) == NULL) {
		rc = orch_err_sys(ORCH_ERROR, "cannot create '%s'", tmp);
		goto done;
	}
	git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
	opts.bare = 1;
	opts.remote_cb = mirror_remote_cb;
	opts.fetch_opts.update_fetchhead = 0;
	opts.fetch_opts.proxy_opts.type = GIT_PROXY_AUTO;
	opts.fetch_opts.callbacks.credentials = credentials_cb;
	opts.fetch_opts.callbacks.payload = &tries;
	if (git_clone(&g->repo, url, tmp, &opts) < 0) {
		rc = gerr(ORCH_EUNAVAIL, "cannot clone '%s'", g->where);
		goto done;
	}
	if ((rc = adopt_remote_head(g->repo)) < 0)
		goto done;
	/* The handle points at the temporary path: reopen at the final one. */
	git_repository_free(g->repo);
	g->repo = NULL;
	if (rename(tmp, path) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
		rc = orch_err_sys(ORCH_ERROR, "cannot move clone into '%s'", path);
		goto done;
	}
	if (git_repository_open_bare(&g->repo, path) < 0)
		rc = gerr(ORCH_ERROR, "cannot open cache '%s'", path);
done:
	if (tmp != NULL && access(tmp, F_OK) == 0)
		(void)nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(tmp);
	return rc;
}

/* Open (fetching) or create (cloning) the cached mirror of url. */
static int
open_url(struct manifest_git *g, const char *url, const char *cache_dir)
{
	const char *origin_url = NULL;
	git_config *cfg = NULL;
	char *name = NULL, *path = NULL;
	struct stat st;
	int rc;

	if (cache_dir == NULL || cache_dir[0] == '\0')
		return orch_err_set(ORCH_EINVALID,
		    "cannot clone '%s': no cache directory given", g->where);
	if ((g->url = strdup(url)) == NULL || (name = cache_name(url)) == NULL ||
	    asprintf(&path, "%s/%s", cache_dir, name) < 0) {
		path = NULL;
		rc = oom();
		goto done;
	}
	if ((rc = mkdir_p(cache_dir)) < 0)
		goto done;
	if (stat(path, &st) < 0) {
		rc = clone_mirror(g, url, path);
		goto done;
	}
	if (git_repository_open_bare(&g->repo, path) < 0) {
		rc = gerr(ORCH_ERROR, "cache '%s' of '%s' is not a usable "
		    "repository (remove it to clone again)", path, g->where);
		goto done;
	}
	/* The name hashes the URL, so only a hand-edited cache can hold
	 * another origin; refuse rather than serve the wrong manifests. */
	if (git_repository_config_snapshot(&cfg, g->repo) < 0 ||
	    git_config_get_string(&origin_url, cfg, "remote.origin.url") < 0) {
		rc = gerr(ORCH_ERROR, "cache '%s' has no origin", path);
		goto done;
	}
	if (strcmp(origin_url, url) != 0) {
		rc = orch_err_set(ORCH_EEXISTS, "cache '%s' mirrors another "
		    "repository, not '%s'", path, g->where);
		goto done;
	}
	rc = fetch_origin(g);
done:
	git_config_free(cfg); /* origin_url lives in the snapshot */
	free(name);
	free(path);
	return rc;
}

/*
 * A local repository is opened exactly at path: its work tree root or its
 * git directory (bare, or the .git inside a work tree). No search upwards
 * (GIT_REPOSITORY_OPEN_NO_SEARCH): a typo'd subdirectory of some unrelated
 * checkout, or a directory that happens to sit inside one, must be an
 * error, not a silent match on the enclosing repository.
 */
static int
open_local(struct manifest_git *g, const char *path)
{
	struct stat st;
	int rc;

	if (stat(path, &st) < 0)
		return orch_err_sys(ORCH_ENOTFOUND, "cannot open repository '%s'",
		    path);
	if (!S_ISDIR(st.st_mode))
		return orch_err_set(ORCH_ENOTFOUND, "cannot open repository '%s': "
		    "not a directory", path);
	rc = git_repository_open_ext(&g->repo, path,
	    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (rc == GIT_ENOTFOUND)
		return orch_err_set(ORCH_ENOTFOUND, "cannot open repository '%s': "
		    "not a git repository (give the repository's root or its .git "
		    "directory)", path);
	if (rc < 0)
		return gerr(ORCH_ERROR, "cannot open repository '%s'", path);
	return 0;
}

/*
 * libgit2 keeps its own thread-safe init count: each handle takes one
 * reference and manifest_git_free() drops it, so the library is torn down
 * exactly when the last handle goes (and again set up by the next open),
 * with no global state of ours to guard.
 */
int
manifest_git_open(struct manifest_git **out, const char *path_or_url,
    const char *cache_dir)
{
	struct manifest_git *g;
	int rc;

	*out = NULL;
	if (path_or_url == NULL || path_or_url[0] == '\0')
		return orch_err_set(ORCH_EINVALID, "no repository given");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return oom();
	if (git_libgit2_init() < 0) {
		free(g);
		return gerr(ORCH_ERROR, "cannot initialise libgit2");
	}
	if ((g->where = redact_url(path_or_url)) == NULL) {
		rc = oom();
		goto fail;
	}
	rc = is_url(path_or_url) ? open_url(g, path_or_url, cache_dir) :
	    open_local(g, path_or_url);
	if (rc < 0)
		goto fail;
	*out = g;
	return 0;
fail:
	manifest_git_free(g);
	return rc;
}

int
manifest_git_fetch(struct manifest_git *g)
{
	return g->url == NULL ? 0 : fetch_origin(g);
}

void
manifest_git_free(struct manifest_git *g)
{
	if (g == NULL)
		return;
	git_repository_free(g->repo);
	free(g->where);
	free(g->url);
	free(g);
	git_libgit2_shutdown();
}

/* ---- resolving ------------------------------------------------------- */

/* Length of the leading name of ref when it could be a branch name (not
 * HEAD, not a full refname, not empty): worth a second try as origin's
 * branch, with whatever follows ("~1", "^{tree}") kept. 0 otherwise. */
static size_t
branch_part(const char *ref)
{
	size_t n = strcspn(ref, "~^:@{}");

	if (n == 0 || strncmp(ref, "refs/", 5) == 0 ||
	    (n == 4 && strncmp(ref, "HEAD", 4) == 0))
		return 0;
	return n;
}

/*
 * ref -> commit. git_revparse_single() does what `git rev-parse` does:
 * refs/<ref>, tags, then branches, then remote branches, then full or
 * abbreviated shas, and any expression (main~1, v1^{commit}). A work tree
 * that only has origin's copy of a branch (a plain `git clone` never made
 * the local branch) is tried as refs/remotes/origin/<ref> too (so
 * "canary~1" works as well as "canary"), but only after the real lookup
 * failed, so a local branch always wins. Tags are
 * peeled; anything that is not a commit in the end is rejected.
 */
static int
lookup_commit(git_commit **out, struct manifest_git *g, const char *ref)
{
	git_object *obj = NULL, *peeled = NULL;
	char *remote = NULL;
	int rc;

	*out = NULL;
	if (ref == NULL || ref[0] == '\0')
		return orch_err_set(ORCH_EINVALID, "no ref given");
	rc = git_revparse_single(&obj, g->repo, ref);
	if (rc == GIT_ENOTFOUND && branch_part(ref) > 0) {
		if (asprintf(&remote, "refs/remotes/origin/%s", ref) < 0)
			return oom();
		if (git_revparse_single(&obj, g->repo, remote) == 0)
			rc = 0;
		free(remote);
	}
	switch (rc) {
	case 0:
		break;
	case GIT_ENOTFOUND:
	case GIT_EUNBORNBRANCH:
		return orch_err_set(ORCH_ENOTFOUND, "ref '%s' not found in '%s'",
		    ref, g->where);
	case GIT_EAMBIGUOUS:
		return gerr(ORCH_EINVALID, "ref '%s' is ambiguous in '%s' "
		    "(give more digits of the sha)", ref, g->where);
	case GIT_EINVALIDSPEC:
		return gerr(ORCH_EINVALID, "invalid ref '%s'", ref);
	default:
		return gerr(ORCH_ERROR, "cannot resolve '%s' in '%s'", ref, g->where);
	}
	if (git_object_type(obj) == GIT_OBJECT_COMMIT) {
		*out = (git_commit *)obj;
		return 0;
	}
	if (git_object_type(obj) == GIT_OBJECT_TAG &&
	    git_object_peel(&peeled, obj, GIT_OBJECT_ANY) == 0 &&
	    git_object_type(peeled) == GIT_OBJECT_COMMIT) {
		git_object_free(obj);
		*out = (git_commit *)peeled;
		return 0;
	}
	rc = orch_err_set(ORCH_EINVALID, "ref '%s' names a %s, not a commit", ref,
	    git_object_type2string(git_object_type(peeled ? peeled : obj)));
	git_object_free(peeled);
	git_object_free(obj);
	return rc;
}

int
manifest_git_resolve(struct git_commit_info *out, struct manifest_git *g,
    const char *ref)
{
	git_commit *c = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lookup_commit(&c, g, ref)) < 0)
		return rc;
	rc = fill_info(out, c);
	git_commit_free(c);
	return rc;
}

/* ---- reading --------------------------------------------------------- */

/* A path inside the tree: relative, not empty; a leading "./" is allowed
 * (people write it) and dropped. */
static int
tree_path(const char **out, const char *path)
{
	*out = NULL;
	if (path == NULL)
		return orch_err_set(ORCH_EINVALID, "no path given");
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (path[0] == '\0' || path[0] == '/')
		return orch_err_set(ORCH_EINVALID, "bad path '%s': give a path "
		    "relative to the repository root", path);
	*out = path;
	return 0;
}

/* The commit named by exactly 40 hex digits. */
static int
commit_by_sha(git_commit **out, struct manifest_git *g, const char *sha)
{
	git_oid id;
	int rc;

	*out = NULL;
	if (sha == NULL || strlen(sha) != GIT_OID_HEXSZ ||
	    strspn(sha, "0123456789abcdefABCDEF") != GIT_OID_HEXSZ ||
	    git_oid_fromstr(&id, sha) < 0)
		return orch_err_set(ORCH_EINVALID, "'%s' is not a commit sha "
		    "(40 hex digits)", sha ? sha : "(null)");
	rc = git_commit_lookup(out, g->repo, &id);
	if (rc == GIT_ENOTFOUND)
		return orch_err_set(ORCH_ENOTFOUND, "commit %.7s not found in '%s'",
		    sha, g->where);
	if (rc < 0)
		return gerr(ORCH_ERROR, "cannot read commit %.7s", sha);
	return 0;
}

/* A manifest is a regular file of the tree: not a directory, a link (its
 * blob holds the target, not a manifest; following links inside a tree is
 * a can of worms we keep closed) or a submodule. */
static int
entry_is_file(const git_tree_entry *entry, const char *path, const char *sha)
{
	const char *what;

	switch (git_tree_entry_filemode(entry)) {
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		return 0;
	case GIT_FILEMODE_TREE:
		what = "a directory";
		break;
	case GIT_FILEMODE_LINK:
		what = "a symbolic link";
		break;
	default:
		what = "a submodule";
		break;
	}
	return orch_err_set(ORCH_EINVALID, "%s at commit %.7s is %s, not a file",
	    path, sha, what);
}

/* The blob's bytes, NUL-terminated. The object header alone gives the
 * size: a huge blob is refused before anything inflates it. */
static int
read_blob(char **out, size_t *out_len, struct manifest_git *g,
    const git_tree_entry *entry, const char *path, const char *sha)
{
	git_blob *blob = NULL;
	git_odb *odb = NULL;
	git_object_t type;
	size_t size;
	int rc = 0;

	if (git_repository_odb(&odb, g->repo) < 0 ||
	    git_odb_read_header(&size, &type, odb, git_tree_entry_id(entry)) < 0) {
		rc = gerr(ORCH_ERROR, "cannot read %s at commit %.7s", path, sha);
		goto done;
	}
	if (size > MANIFEST_MAX_BYTES) {
		rc = orch_err_set(ORCH_ETOOBIG, "%s at commit %.7s is %zu bytes, "
		    "over the limit of %d", path, sha, size, MANIFEST_MAX_BYTES);
		goto done;
	}
	if (git_blob_lookup(&blob, g->repo, git_tree_entry_id(entry)) < 0) {
		rc = gerr(ORCH_ERROR, "cannot read %s at commit %.7s", path, sha);
		goto done;
	}
	size = (size_t)git_blob_rawsize(blob);
	if ((*out = malloc(size + 1)) == NULL) {
		rc = oom();
		goto done;
	}
	memcpy(*out, git_blob_rawcontent(blob), size);
	(*out)[size] = '\0';
	*out_len = size;
done:
	git_blob_free(blob);
	git_odb_free(odb);
	return rc;
}

int
manifest_git_read(char **out, size_t *out_len, struct manifest_git *g,
    const char *sha, const char *path)
{
	git_tree_entry *entry = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if ((rc = tree_path(&path, path)) < 0 ||
	    (rc = commit_by_sha(&commit, g, sha)) < 0)
		return rc;
	if (git_commit_tree(&tree, commit) < 0) {
		rc = gerr(ORCH_ERROR, "cannot read the tree of commit %.7s", sha);
		goto done;
	}
	if ((rc = git_tree_entry_bypath(&entry, tree, path)) < 0) {
		rc = rc == GIT_ENOTFOUND ?
		    orch_err_set(ORCH_ENOTFOUND, "%s not found at commit %.7s",
		    path, sha) :
		    gerr(ORCH_ERROR, "cannot look up %s at commit %.7s", path, sha);
		goto done;
	}
	if ((rc = entry_is_file(entry, path, sha)) < 0 ||
	    (rc = read_blob(out, &len, g, entry, path, sha)) < 0)
		goto done;
	if (out_len != NULL)
		*out_len = len;
done:
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(commit);
	return rc;
}

/*
 * Errors before parsing (unknown ref, missing file, too big) are reported
 * by the return code and orch_err_last() only, never in errs: errs holds
 * what is wrong inside the manifest (file name "path@shortsha"). Once
 * ref resolves, *out_commit (when given) is filled even if reading or
 * parsing then fails, so a caller can record which commit it rejected; it
 * is zeroed otherwise. Clear it with git_commit_info_clear() either way.
 */
int
manifest_git_load(struct manifest **out, struct manifest_errors *errs,
    struct git_commit_info *out_commit, struct manifest_git *g,
    const char *ref, const char *path)
{
	struct git_commit_info ci;
	char *buf = NULL, *fname = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (out_commit != NULL)
		memset(out_commit, 0, sizeof(*out_commit));
	if ((rc = manifest_git_resolve(&ci, g, ref)) < 0)
		return rc;
	if ((rc = manifest_git_read(&buf, &len, g, ci.sha, path)) < 0)
		goto done;
	(void)tree_path(&path, path); /* valid: read accepted it */
	if (asprintf(&fname, "%s@%.7s", path, ci.sha) < 0) {
		fname = NULL;
		rc = oom();
		goto done;
	}
	/* manifest_parse() puts every error into errs and the first one into
	 * orch_err_last(); make sure a message exists even if it did not. */
	orch_err_clear();
	rc = manifest_parse(out, errs, buf, len, fname);
	if (rc < 0 && orch_err_last()[0] == '\0')
		orch_err_set(rc, "%s: invalid manifest", fname);
done:
	if (out_commit != NULL)
		*out_commit = ci;
	else
		git_commit_info_clear(&ci);
	free(buf);
	free(fname);
	return rc;
}

/* ---- history --------------------------------------------------------- */

/* What a commit's tree holds at path. */
struct at_path {
	bool present;
	git_oid id;
	git_filemode_t mode;
};

static int
entry_at(struct at_path *out, const git_commit *c, const char *path)
{
	git_tree_entry *e = NULL;
	git_tree *tree = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (git_commit_tree(&tree, c) < 0)
		return gerr(ORCH_ERROR, "cannot read the tree of a commit");
	rc = git_tree_entry_bypath(&e, tree, path);
	if (rc == 0) {
		out->present = true;
		git_oid_cpy(&out->id, git_tree_entry_id(e));
		out->mode = git_tree_entry_filemode(e);
	} else if (rc == GIT_ENOTFOUND) {
		rc = 0;
	} else {
		rc = gerr(ORCH_ERROR, "cannot look up %s", path);
	}
	git_tree_entry_free(e);
	git_tree_free(tree);
	return rc;
}

static bool
same_at_path(const struct at_path *a, const struct at_path *b)
{
	if (a->present != b->present)
		return false;
	return !a->present || (a->mode == b->mode && git_oid_equal(&a->id, &b->id));
}

/*
 * Did commit c change path? A root commit did if it has the file. Any
 * other commit did if its entry differs from its parent's -- and for a
 * merge, from *every* parent's: a merge that kept one side's version made
 * no change of its own (that side's commit is the change, and it is listed
 * in its own right), while a merge that resolved a conflict into a new
 * version, or dropped the file from both sides, is a change. This is git
 * log's rule for showing merges (a merge TREESAME to some parent is not
 * shown). Unlike git log's default, though, we do not prune the side
 * whose version the merge discarded: every commit reachable from ref is
 * considered, so a version that existed on a merged branch is listed too
 * (like --full-history for ordinary commits), which is what a person
 * auditing "which revisions of orch.yaml existed" wants.
 */
static int
changed_here(bool *out, const git_commit *c, const char *path)
{
	struct at_path self, parent;
	unsigned n = git_commit_parentcount(c);
	int rc;

	*out = false;
	if ((rc = entry_at(&self, c, path)) < 0)
		return rc;
	if (n == 0) {
		*out = self.present;
		return 0;
	}
	*out = true;
	for (unsigned i = 0; i < n && *out; i++) {
		git_commit *p = NULL;

		if (git_commit_parent(&p, c, i) < 0)
			return gerr(ORCH_ERROR, "cannot read a parent of commit %.7s",
			    git_oid_tostr_s(git_commit_id(c)));
		rc = entry_at(&parent, p, path);
		git_commit_free(p);
		if (rc < 0)
			return rc;
		if (same_at_path(&self, &parent))
			*out = false;
	}
	return 0;
}

int
manifest_git_history(struct git_commit_info **out, size_t *out_n,
    struct manifest_git *g, const char *ref, const char *path, size_t max)
{
	struct git_commit_info *v = NULL;
	git_revwalk *walk = NULL;
	git_commit *tip = NULL;
	size_t n = 0, cap = 0;
	git_oid id;
	int rc;

	*out = NULL;
	*out_n = 0;
	if ((rc = tree_path(&path, path)) < 0 ||
	    (rc = lookup_commit(&tip, g, ref)) < 0)
		return rc;
	/* Topological first (no parent before a child), time among the
	 * rest: newest first, as git log shows it. */
	if (git_revwalk_new(&walk, g->repo) < 0 ||
	    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) < 0 ||
	    git_revwalk_push(walk, git_commit_id(tip)) < 0) {
		rc = gerr(ORCH_ERROR, "cannot walk the history of '%s'", ref);
		goto done;
	}
	while (max == 0 || n < max) {
		git_commit *c = NULL;
		bool changed;

		if ((rc = git_revwalk_next(&id, walk)) == GIT_ITEROVER) {
			rc = 0;
			break;
		}
		if (rc < 0 || git_commit_lookup(&c, g->repo, &id) < 0) {
			rc = gerr(ORCH_ERROR, "cannot walk the history of '%s'", ref);
			goto done;
		}
		rc = changed_here(&changed, c, path);
		if (rc == 0 && changed) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct git_commit_info *nv = realloc(v, ncap * sizeof(*nv));
				if (nv == NULL) {
					git_commit_free(c);
					rc = oom();
					goto done;
				}
				v = nv;
				cap = ncap;
			}
			if ((rc = fill_info(&v[n], c)) == 0)
				n++;
		}
		git_commit_free(c);
		if (rc < 0)
			goto done;
	}
	*out = v;
	*out_n = n;
	v = NULL;
	n = 0;
done:
	manifest_git_history_free(v, n);
	git_revwalk_free(walk);
	git_commit_free(tip);
	return rc;
}
