/*
 * spawn.c - turning a spec into a process: ports, dirs, ${...}
 * placeholders, environment, then fork/exec.
 *
 * Everything an exec needs (argv, envp, paths, uid/gid, cgroup dirs) is
 * built once per start request by spawn_prepare() and kept on the
 * instance, so a restart after a crash is a bare fork + exec with no
 * allocation and no disk write in the parent before it (the child opens
 * its log files itself). Errors from the child's side of the exec come
 * back through a close-on-exec pipe, so "no such file" is a clear reason
 * rather than an exit code 127.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "slave.h"
#include "units.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static bool
port_in_use_by_us(const struct slave *s, int port)
{
	for (const struct instance *in = s->instances; in; in = in->next)
		for (size_t i = 0; in->ports && i < in->spec->nports; i++)
			if (in->ports[i] == port)
				return true;
	return false;
}

/* A port is free when nobody holds it: bind it on the wildcard address. */
static bool
port_free(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return ok;
}

int
port_alloc(int *out, struct slave *s)
{
	int span = s->cfg.port_hi - s->cfg.port_lo + 1;

	if (s->next_port < s->cfg.port_lo || s->next_port > s->cfg.port_hi)
		s->next_port = s->cfg.port_lo;
	/* Round-robin, so a port just given up is not handed out at once. */
	for (int i = 0; i < span; i++) {
		int p = s->next_port;

		s->next_port = p == s->cfg.port_hi ? s->cfg.port_lo : p + 1;
		if (!port_in_use_by_us(s, p) && port_free(p)) {
			*out = p;
			return 0;
		}
	}
	return orch_err_set(ORCH_EUNAVAIL, "no free port in %d-%d", s->cfg.port_lo,
	    s->cfg.port_hi);
}

static void
env_suffix(char *out, size_t len, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < len; i++)
		out[i] = isalnum((unsigned char)name[i]) ? toupper((unsigned char)name[i]) : '_';
	out[i] = '\0';
}

/* The value of placeholder name for in, or NULL when unknown. */
static const char *
placeholder(char *buf, size_t len, const struct slave *s, const struct instance *in,
    const char *name)
{
	char sfx[PROTO_MAX_NAME + 1];

	if (strcmp(name, "ORCH_PORT") == 0) {
		if (in->spec->nports == 0)
			return NULL;
		snprintf(buf, len, "%d", in->ports[0]);
		return buf;
	}
	if (strncmp(name, "ORCH_PORT_", 10) == 0) {
		for (size_t i = 0; i < in->spec->nports; i++) {
			env_suffix(sfx, sizeof(sfx), in->spec->ports[i]);
			if (strcmp(sfx, name + 10) == 0) {
				snprintf(buf, len, "%d", in->ports[i]);
				return buf;
			}
		}
		return NULL;
	}
	if (strcmp(name, "ORCH_DATA_DIR") == 0)
		return in->data_dir;
	if (strcmp(name, "ORCH_INSTANCE_ID") == 0)
		return in->spec->id;
	if (strcmp(name, "ORCH_SERVICE") == 0)
		return in->spec->service;
	if (strcmp(name, "ORCH_VERSION") == 0)
		return in->spec->version;
	if (strcmp(name, "ORCH_NODE") == 0)
		return s->cfg.name;
	for (size_t i = 0; i < in->spec->nenv; i++)
		if (strcmp(in->spec->env[i].key, name) == 0)
			return in->spec->env[i].value;
	return NULL;
}

int
spawn_expand(char **out, const struct slave *s, const struct instance *in,
    const char *text)
{
	char *buf = NULL, name[256], num[32];
	size_t len = 0;
	const char *p, *v, *close;
	FILE *f;

	*out = NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return orch_err_sys(ORCH_ERROR, "open_memstream");
	for (p = text; *p; p++) {
		if (p[0] != '$') {
			fputc(*p, f);
			continue;
		}
		if (p[1] == '$') { /* "$$" is a literal '$' */
			fputc('$', f);
			p++;
			continue;
		}
		if (p[1] != '{') {
			fputc('$', f);
			continue;
		}
		close = strchr(p + 2, '}');
		if (close == NULL || (size_t)(close - p - 2) >= sizeof(name) || close == p + 2) {
			fclose(f);
			free(buf);
			return orch_err_set(ORCH_EINVALID, "unterminated or empty ${...} in \"%.100s\"", text);
		}
		memcpy(name, p + 2, close - p - 2);
		name[close - p - 2] = '\0';
		if ((v = placeholder(num, sizeof(num), s, in, name)) == NULL) {
			fclose(f);
			free(buf);
			return orch_err_set(ORCH_EINVALID, "unknown placeholder ${%s} in \"%.100s\"", name, text);
		}
		fputs(v, f);
		p = close;
	}
	if (fclose(f) != 0) {
		free(buf);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	*out = buf;
	return 0;
}

/* Whether ${name} can be expanded for spec (whatever its ports turn out). */
static bool
placeholder_known(const struct instance_spec *spec, const char *name)
{
	static const char *const fixed[] = {"ORCH_DATA_DIR", "ORCH_INSTANCE_ID",
	    "ORCH_SERVICE", "ORCH_VERSION", "ORCH_NODE"};
	char sfx[PROTO_MAX_NAME + 1];

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcmp(name, fixed[i]) == 0)
			return true;
	if (strcmp(name, "ORCH_PORT") == 0)
		return spec->nports > 0;
	for (size_t i = 0; strncmp(name, "ORCH_PORT_", 10) == 0 && i < spec->nports; i++) {
		env_suffix(sfx, sizeof(sfx), spec->ports[i]);
		if (strcmp(sfx, name + 10) == 0)
			return true;
	}
	for (size_t i = 0; i < spec->nenv; i++)
		if (strcmp(spec->env[i].key, name) == 0)
			return true;
	return false;
}

static int
check_text(const struct instance_spec *spec, const char *field, const char *text)
{
	const char *p, *close;
	char name[256];

	for (p = text; (p = strchr(p, '$')) != NULL; p++) {
		if (p[1] == '$') {
			p++;
			continue;
		}
		if (p[1] != '{')
			continue;
		close = strchr(p + 2, '}');
		if (close == NULL || close == p + 2 || (size_t)(close - p - 2) >= sizeof(name))
			return orch_err_set(ORCH_EINVALID, "%s: unterminated or empty ${...}", field);
		memcpy(name, p + 2, close - p - 2);
		name[close - p - 2] = '\0';
		if (!placeholder_known(spec, name))
			return orch_err_set(ORCH_EINVALID, "%s: unknown placeholder ${%s}", field, name);
		p = close;
	}
	return 0;
}

int
spawn_check(const struct instance_spec *spec)
{
	char field[PROTO_MAX_NAME + 32];
	int rc;

	for (size_t i = 0; i < spec->ncommand; i++) {
		snprintf(field, sizeof(field), "command[%zu]", i);
		if ((rc = check_text(spec, field, spec->command[i])) < 0)
			return rc;
	}
	for (size_t i = 0; i < spec->nenv; i++) {
		snprintf(field, sizeof(field), "env.%s", spec->env[i].key);
		if ((rc = check_text(spec, field, spec->env[i].value)) < 0)
			return rc;
	}
	for (size_t i = 0; i < spec->health.ncommand; i++) {
		snprintf(field, sizeof(field), "health.command[%zu]", i);
		if ((rc = check_text(spec, field, spec->health.command[i])) < 0)
			return rc;
	}
	return 0;
}

static int
expand_vec(char ***out, const struct slave *s, const struct instance *in, char **v, size_t n)
{
	char **r = calloc(n + 1, sizeof(*r));
	int rc;

	*out = r;
	if (r == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	for (size_t i = 0; i < n; i++)
		if ((rc = spawn_expand(&r[i], s, in, v[i])) < 0)
			return rc;
	return 0;
}

static void
vec_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

void
spawn_free_prepared(struct instance *in)
{
	vec_free(in->argv);
	vec_free(in->envp);
	vec_free(in->hargv);
	in->argv = in->envp = in->hargv = NULL;
	free(in->groups);
	free(in->home);
	in->groups = NULL;
	in->ngroups = 0;
	in->home = NULL;
}

static int
env_add(char **envp, size_t *n, const char *key, const char *value)
{
	/* A later entry of the same name replaces the earlier one. */
	size_t klen = strlen(key), i;
	char *e;

	if (asprintf(&e, "%s=%s", key, value) < 0)
		return orch_err_set(ORCH_ERROR, "out of memory");
	for (i = 0; i < *n; i++)
		if (strncmp(envp[i], key, klen) == 0 && envp[i][klen] == '=') {
			free(envp[i]);
			envp[i] = e;
			return 0;
		}
	envp[(*n)++] = e;
	return 0;
}

static int
build_env(const struct slave *s, struct instance *in)
{
	static const char *const inherit[] = {"PATH", "HOME", "LANG", "TZ", "TMPDIR"};
	size_t cap = 16 + in->spec->nports + in->spec->nenv, n = 0;
	char num[32], key[PROTO_MAX_NAME + 16], sfx[PROTO_MAX_NAME + 1], *v;
	const char *iv;
	int rc = 0;

	if ((in->envp = calloc(cap + 1, sizeof(char *))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	for (size_t i = 0; i < sizeof(inherit) / sizeof(inherit[0]); i++)
		if ((iv = getenv(inherit[i])) != NULL && (rc = env_add(in->envp, &n, inherit[i], iv)) < 0)
			return rc;
	/* Switched to another user: its own home, not the slave's. */
	if (in->home != NULL && (rc = env_add(in->envp, &n, "HOME", in->home)) < 0)
		return rc;
	if (getenv("PATH") == NULL &&
	    (rc = env_add(in->envp, &n, "PATH", "/usr/local/bin:/usr/bin:/bin")) < 0)
		return rc;
	if ((rc = env_add(in->envp, &n, "ORCH_INSTANCE_ID", in->spec->id)) < 0 ||
	    (rc = env_add(in->envp, &n, "ORCH_SERVICE", in->spec->service)) < 0 ||
	    (rc = env_add(in->envp, &n, "ORCH_VERSION", in->spec->version)) < 0 ||
	    (rc = env_add(in->envp, &n, "ORCH_NODE", s->cfg.name)) < 0 ||
	    (rc = env_add(in->envp, &n, "ORCH_DATA_DIR", in->data_dir)) < 0)
		return rc;
	for (size_t i = 0; i < in->spec->nports; i++) {
		snprintf(num, sizeof(num), "%d", in->ports[i]);
		if (i == 0 && (rc = env_add(in->envp, &n, "ORCH_PORT", num)) < 0)
			return rc;
		env_suffix(sfx, sizeof(sfx), in->spec->ports[i]);
		snprintf(key, sizeof(key), "ORCH_PORT_%s", sfx);
		if ((rc = env_add(in->envp, &n, key, num)) < 0)
			return rc;
	}
	for (size_t i = 0; i < in->spec->nenv; i++) {
		if ((rc = spawn_expand(&v, s, in, in->spec->env[i].value)) < 0)
			return rc;
		rc = env_add(in->envp, &n, in->spec->env[i].key, v);
		free(v);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return orch_err_set(ORCH_EINVALID, "path too long: %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return orch_err_sys(ORCH_ERROR, "mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return orch_err_sys(ORCH_ERROR, "mkdir %s", buf);
	return 0;
}

/* The supplementary groups of user (as initgroups would set them), looked
 * up here because the child may call only async-signal-safe functions. */
static int
user_groups(struct instance *in, const char *user)
{
	int n = 16;

	for (;;) {
		gid_t *g = realloc(in->groups, (size_t)n * sizeof(gid_t));
		int got = n;

		if (g == NULL)
			return orch_err_set(ORCH_ERROR, "out of memory");
		in->groups = g;
		if (getgrouplist(user, in->gid, g, &got) >= 0) {
			in->ngroups = got;
			return 0;
		}
		if (got <= n && n >= 65536)
			return orch_err_set(ORCH_ERROR, "user: cannot list the groups of \"%s\"", user);
		n = got > n ? got : n * 2;
	}
}

/*
 * Who the instance runs as (issue 12, least privilege). A manifest user:
 * wins, root included (the only way to run as root is to say so). With
 * none, a root slave runs it as --default-user (nobody), never as itself.
 * A slave that is not root cannot switch: a user: or group: other than
 * its own is an error, reported as the instance's reason.
 */
static int
resolve_user(const struct slave *s, struct instance *in)
{
	const char *user = in->spec->user, *group = in->spec->group;
	struct passwd *pw = NULL;
	struct group *gr;
	bool root = geteuid() == 0;
	int rc;

	in->switch_user = false;
	in->ngroups = 0;
	free(in->home);
	in->home = NULL;
	if (user == NULL && root)
		user = s->cfg.default_user != NULL ? s->cfg.default_user : "nobody";
	if (user == NULL && in->spec->group == NULL)
		return 0;
	in->uid = geteuid();
	in->gid = getegid();
	if (user != NULL) {
		/* A uid stands for its user (the manifest allows either). */
		if ((pw = getpwnam(user)) == NULL && user[strspn(user, "0123456789")] == '\0')
			pw = getpwuid((uid_t)strtoul(user, NULL, 10));
		if (pw == NULL)
			return orch_err_set(ORCH_EINVALID, "user: no user named \"%s\"%s", user,
			    in->spec->user == NULL ? " (the slave's --default-user)" : "");
		in->uid = pw->pw_uid;
		in->gid = pw->pw_gid;
		if (root && (in->home = strdup(pw->pw_dir)) == NULL)
			return orch_err_set(ORCH_ERROR, "out of memory");
	}
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL && group[strspn(group, "0123456789")] == '\0')
			gr = getgrgid((gid_t)strtoul(group, NULL, 10));
		if (gr == NULL)
			return orch_err_set(ORCH_EINVALID, "group: no group named \"%s\"", group);
		in->gid = gr->gr_gid;
	}
	if (!root) {
		if (in->uid != geteuid() || in->gid != getegid())
			return orch_err_set(ORCH_EINVALID, "user: switching user needs a slave running as root");
		return 0; /* already who it asks to be: nothing to switch */
	}
	/* As root pw is never NULL here (the default user stands in). */
	if (pw == NULL)
		return orch_err_set(ORCH_ERROR, "user: none to switch to");
	if ((rc = user_groups(in, pw->pw_name)) < 0)
		return rc;
	in->switch_user = true;
	return 0;
}

/* The instance's own dirs (its data dir, its artifact dir) belong to the
 * user it runs as, and to nobody else: 0700. */
static int
own_dir(const struct instance *in, const char *dir)
{
	if (dir == NULL)
		return 0;
	if (in->switch_user && chown(dir, in->uid, in->gid) < 0)
		return orch_err_sys(ORCH_ERROR, "chown %s", dir);
	if (chmod(dir, 0700) < 0)
		return orch_err_sys(ORCH_ERROR, "chmod %s", dir);
	return 0;
}

/*
 * The artifact dir is its instances' own too, so they can change it. It
 * is unpacked as root and reused by every instance of that version here:
 * one already handed to another user is not handed to this one (a later
 * user: root would run what nobody may have rewritten). A new version
 * gets a fresh dir.
 */
static int
own_artifact_dir(const struct instance *in)
{
	struct stat st;

	if (in->artifact_dir == NULL)
		return 0;
	if (stat(in->artifact_dir, &st) < 0)
		return orch_err_sys(ORCH_ERROR, "stat %s", in->artifact_dir);
	if (in->switch_user && st.st_uid != 0 && st.st_uid != in->uid)
		return orch_err_set(ORCH_EINVALID, "artifact dir %s belongs to uid %u, which "
		    "may have changed it: not handed to uid %u (give the new user a new "
		    "version)", in->artifact_dir, (unsigned)st.st_uid, (unsigned)in->uid);
	return own_dir(in, in->artifact_dir);
}

int
spawn_prepare(struct slave *s, struct instance *in)
{
	char cwd[4096], *base;
	const char *wd = in->spec->workdir;
	int rc;

	spawn_free_prepared(in);
	if ((rc = mkdirs(in->data_dir, 0711)) < 0)
		return rc;
	if (in->ports == NULL && in->spec->nports > 0) {
		if ((in->ports = calloc(in->spec->nports, sizeof(int))) == NULL)
			return orch_err_set(ORCH_ERROR, "out of memory");
		for (size_t i = 0; i < in->spec->nports; i++)
			if ((rc = port_alloc(&in->ports[i], s)) < 0) {
				free(in->ports);
				in->ports = NULL;
				return rc;
			}
	}
	free(in->out_path);
	free(in->err_path);
	free(in->cwd);
	in->cwd = NULL;
	if (asprintf(&in->out_path, "%s/stdout.log", in->dir) < 0 ||
	    asprintf(&in->err_path, "%s/stderr.log", in->dir) < 0)
		return orch_err_set(ORCH_ERROR, "out of memory");
	/* workdir is relative to the artifact dir when there is one, else to
	 * the slave's own working directory (as a shell would read it). */
	if (in->artifact_dir != NULL)
		base = in->artifact_dir;
	else if ((base = getcwd(cwd, sizeof(cwd))) == NULL)
		return orch_err_sys(ORCH_ERROR, "getcwd");
	if (wd == NULL || strcmp(wd, ".") == 0)
		in->cwd = strdup(base);
	else if (wd[0] == '/')
		in->cwd = strdup(wd);
	else if (asprintf(&in->cwd, "%s/%s", base, wd) < 0)
		in->cwd = NULL;
	if (in->cwd == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	if ((rc = resolve_user(s, in)) < 0)
		return rc;
	/* The instance owns its data dir, whoever it runs as (its parents
	 * are search-only for others: 0711). */
	if ((rc = own_dir(in, in->data_dir)) < 0 || (rc = own_artifact_dir(in)) < 0)
		return rc;
	if ((rc = expand_vec(&in->argv, s, in, in->spec->command, in->spec->ncommand)) < 0)
		goto fail;
	if (in->spec->health.ncommand > 0 &&
	    (rc = expand_vec(&in->hargv, s, in, in->spec->health.command, in->spec->health.ncommand)) < 0) {
		orch_err_prefix(rc, "health.command");
		goto fail;
	}
	if ((rc = build_env(s, in)) < 0)
		goto fail;
	if (in->cgroup_dirs[0] == NULL)
		cgroup_setup(s, in);
	return 0;
fail:
	spawn_free_prepared(in);
	return rc;
}

static void
set_rlimit(int res, int64_t v)
{
	struct rlimit rl;

	if (v < 0)
		return;
	rl.rlim_cur = rl.rlim_max = (rlim_t)v;
	setrlimit(res, &rl);
}

/* In a child: report errno on the pipe (errfd -1: none) and leave.
 * Async-signal-safe. */
static void __attribute__((noreturn))
child_fail(int fd, int err)
{
	if (fd >= 0) {
		ssize_t r = write(fd, &err, sizeof(err));

		(void)r;
	}
	_exit(127);
}

/* In a child: make fd the descriptor target, inheritable (fd was opened
 * close-on-exec, like every descriptor the slave opens). */
static int
child_move_fd(int fd, int target)
{
	if (fd < 0)
		return -1;
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	if (dup2(fd, target) < 0)
		return -1;
	close(fd);
	return 0;
}

/* Linux's getdents64 record (glibc exposes no async-signal-safe reader). */
struct child_dirent {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/*
 * In a child, just before exec: every descriptor above 2 close-on-exec,
 * whatever opened it (libcurl, libmicrohttpd, a library that forgot
 * O_CLOEXEC). Belt and braces: the slave opens everything O_CLOEXEC
 * already. Marking rather than closing keeps the exec-error pipe open
 * until the exec. close_range (Linux 5.11), else a getdents64 walk of
 * /proc/self/fd, else every number below the descriptor limit.
 */
static void
child_cloexec_all(void)
{
	struct rlimit rl;
	char buf[2048];
	long n = -1;
	int dfd;

	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if ((dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
			for (long off = 0; off < n;) {
				struct child_dirent *d = (struct child_dirent *)(buf + off);
				int fd = 0;
				const char *p;

				for (p = d->name; *p >= '0' && *p <= '9'; p++)
					fd = fd * 10 + (*p - '0');
				if (*p == '\0' && p != d->name && fd > 2)
					fcntl(fd, F_SETFD, FD_CLOEXEC);
				off += d->reclen;
			}
		close(dfd);
		if (n == 0)
			return;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max > (1 << 20))
		rl.rlim_max = 1 << 20;
	for (int fd = 3; fd < (int)rl.rlim_max; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/*
 * In a child: become who the instance runs as (resolve_user decided; the
 * groups were listed in the parent), then no_new_privs, so neither the
 * program nor anything it execs gains privileges through setuid/setgid
 * bits or file capabilities, then no inherited descriptor. -1 and errno.
 */
static int
child_drop_privileges(const struct instance *in)
{
	/* The raw system calls, as glibc's posix_spawn does: they change this
	 * task alone. glibc's setuid() would signal every thread of the
	 * process to change theirs too, and a vfork child shares the slave's
	 * threads' memory (and, on the raw calls, nothing else). */
	if (in->switch_user &&
	    (syscall(SYS_setgroups, (size_t)in->ngroups, in->groups) < 0 ||
	    syscall(SYS_setresgid, in->gid, in->gid, in->gid) < 0 ||
	    syscall(SYS_setresuid, in->uid, in->uid, in->uid) < 0))
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	child_cloexec_all();
	return 0;
}

/* The child's side: only async-signal-safe calls from here to exec. */
static void __attribute__((noreturn))
child_exec(const struct instance *in, int errfd)
{
	const struct limits_spec *l = &in->spec->limits;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Its own session and group: a stop signals the whole group, and the
	 * instance lives on when the slave exits. */
	if (setsid() < 0)
		child_fail(errfd, errno);
	cgroup_join_child(in);
	/* The process holds its own log files: they outlive the slave, which
	 * is what lets a restarted slave re-adopt it. Opened before the user
	 * switch: the instance dir that holds them is the slave's. */
	if (child_move_fd(open("/dev/null", O_RDONLY | O_CLOEXEC), 0) < 0 ||
	    child_move_fd(open(in->out_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640), 1) < 0 ||
	    child_move_fd(open(in->err_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640), 2) < 0)
		child_fail(errfd, errno);
	if (chdir(in->cwd) < 0)
		child_fail(errfd, errno);
	set_rlimit(RLIMIT_NOFILE, l->nofile);
	set_rlimit(RLIMIT_NPROC, l->nproc);
	set_rlimit(RLIMIT_CORE, l->core);
	set_rlimit(RLIMIT_MEMLOCK, l->memlock);
	set_rlimit(RLIMIT_STACK, l->stack);
	set_rlimit(RLIMIT_FSIZE, l->fsize);
	if (child_drop_privileges(in) < 0)
		child_fail(errfd, errno);
	execvpe(in->argv[0], in->argv, in->envp);
	child_fail(errfd, errno);
}

int
spawn_exec(struct slave *s, struct instance *in)
{
	int pfd[2], err = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return orch_err_sys(ORCH_ERROR, "pipe2");
	/*
	 * vfork: the child borrows our memory until it execs, so the cost
	 * does not grow with the slave's size (posix_spawn's trick). It only
	 * makes system calls on data we prepared; a user switch, too, is raw
	 * system calls (child_drop_privileges). Not under ASan, whose runtime
	 * wants a real fork.
	 */
#if defined(__SANITIZE_ADDRESS__)
	pid = fork();
#else
	pid = vfork();
#endif
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return orch_err_sys(ORCH_ERROR, "fork");
	}
	if (pid == 0) {
		close(pfd[0]);
		child_exec(in, pfd[1]);
	}
	close(pfd[1]);
	/* Blocks only until the child has exec'd (EOF) or failed (errno). */
	do
		n = read(pfd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == sizeof(err)) {
		/* The child exits 127; sv_reap() reaps it as nobody's. */
		errno = err;
		return orch_err_sys(ORCH_EINVALID, "exec %s", in->argv[0]);
	}
	in->pid = pid;
	in->started_mono = orch_mono_ms();
	in->started_wall = orch_wall_ms();
	in->starttime = sv_proc_starttime(pid);
	return 0;
}

int
spawn_helper(pid_t *out, char *const argv[], char *const envp[], const char *cwd,
    const struct instance *as)
{
	sigset_t none;
	pid_t pid;
	int fd;

	*out = 0;
	pid = fork();
	if (pid < 0)
		return orch_err_sys(ORCH_ERROR, "fork");
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setpgid(0, 0);
		if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (cwd != NULL && chdir(cwd) < 0)
			_exit(126);
		/* A health command is the manifest's code too: it runs as the
		 * instance does (user, no_new_privs, no descriptor), never with
		 * more. */
		if (as != NULL && child_drop_privileges(as) < 0)
			_exit(126);
		if (as == NULL)
			child_cloexec_all();
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	/* Also from the parent, so a kill(-pid) right away finds the group. */
	setpgid(pid, pid);
	*out = pid;
	return 0;
}
