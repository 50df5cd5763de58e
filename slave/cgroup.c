/*
 * cgroup.c - per-instance cgroups where the host lets us write them.
 *
 * A cgroup does two jobs: it enforces resources.cpu / resources.memory,
 * and it is the exact list of an instance's processes, even those that
 * setsid() away and lose their parent. The slave makes its own subtree
 * "orch-NAME" under the cgroup it runs in (v2: one dir; v1: one in the
 * memory and one in the cpu hierarchy), one child per instance. The
 * child joins it between fork and exec. Without a writable hierarchy
 * (or with --no-cgroup) instances run without, and their status says
 * "cgroup": false; stopping then relies on groups, sessions and /proc.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "slave.h"

#define CG_ROOT "/sys/fs/cgroup"

/* Our own path in the hierarchy whose /proc/self/cgroup line matches
 * controller ("" for the v2 line "0::"). */
static bool
own_path(char *out, size_t len, const char *controller)
{
	char line[1024];
	bool found = false;
	FILE *f;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *ctl = strchr(line, ':'), *path;

		if (ctl == NULL || (path = strchr(ctl + 1, ':')) == NULL)
			continue;
		*path++ = '\0';
		ctl++;
		path[strcspn(path, "\n")] = '\0';
		if (*controller == '\0' ? *ctl == '\0' && strncmp(line, "0", 1) == 0 :
		    strstr(ctl, controller) != NULL) {
			snprintf(out, len, "%s", strcmp(path, "/") == 0 ? "" : path);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool
write_file(const char *dir, const char *file, const char *text)
{
	char path[4096];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return false;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

static char *
make_base(const char *hier, const char *own, const char *name)
{
	char *p;

	if (asprintf(&p, "%s%s%s/orch-%s", CG_ROOT, hier, own, name) < 0)
		return NULL;
	if (mkdir(p, 0755) < 0 && errno != EEXIST) {
		free(p);
		return NULL;
	}
	return p;
}

void
cgroup_detect(struct slave *s)
{
	char own[1024];
	struct stat st;

	s->cgroup_mode = 0;
	if (s->cfg.no_cgroup) {
		log_info("cgroups: disabled by --no-cgroup");
		return;
	}
	if (stat(CG_ROOT "/memory", &st) == 0 && own_path(own, sizeof(own), "memory")) {
		s->cgroup_base[0] = make_base("/memory", own, s->cfg.name);
		if (own_path(own, sizeof(own), "cpu,"))
			s->cgroup_base[1] = make_base("/cpu", own, s->cfg.name);
		else if (own_path(own, sizeof(own), "cpu"))
			s->cgroup_base[1] = make_base("/cpu", own, s->cfg.name);
		if (s->cgroup_base[0] != NULL)
			s->cgroup_mode = 1;
	} else if (stat(CG_ROOT "/cgroup.controllers", &st) == 0 && own_path(own, sizeof(own), "")) {
		s->cgroup_base[0] = make_base("", own, s->cfg.name);
		if (s->cgroup_base[0] != NULL) {
			s->cgroup_mode = 2;
			/* Limits need the controllers delegated to our subtree. */
			if (!write_file(s->cgroup_base[0], "cgroup.subtree_control", "+memory +cpu"))
				log_warnx("cgroups: v2 controllers not delegated; processes are tracked but not limited");
		}
	}
	if (s->cgroup_mode == 0) {
		free(s->cgroup_base[0]);
		free(s->cgroup_base[1]);
		s->cgroup_base[0] = s->cgroup_base[1] = NULL;
		log_info("cgroups: unavailable (no writable hierarchy); limits are rlimits only");
	} else
		log_info("cgroups: v%d at %s", s->cgroup_mode, s->cgroup_base[0]);
}

bool
cgroup_setup(struct slave *s, struct instance *in)
{
	char buf[64];

	if (s->cgroup_mode == 0)
		return false;
	for (int i = 0; i < 2; i++) {
		if (s->cgroup_base[i] == NULL)
			continue;
		if (asprintf(&in->cgroup_dirs[i], "%s/%s", s->cgroup_base[i], in->spec->id) < 0) {
			in->cgroup_dirs[i] = NULL;
			continue;
		}
		if (mkdir(in->cgroup_dirs[i], 0755) < 0 && errno != EEXIST) {
			log_warn("instance=%s cgroup %s", in->spec->id, in->cgroup_dirs[i]);
			free(in->cgroup_dirs[i]);
			in->cgroup_dirs[i] = NULL;
		}
	}
	if (in->cgroup_dirs[0] == NULL)
		return false;
	if (in->spec->resources.memory > 0) {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)in->spec->resources.memory);
		if (!write_file(in->cgroup_dirs[0], s->cgroup_mode == 1 ?
		    "memory.limit_in_bytes" : "memory.max", buf))
			log_warn("instance=%s cannot set the memory limit", in->spec->id);
	}
	if (in->spec->resources.cpu > 0) {
		long quota = (long)(in->spec->resources.cpu * 100000);
		const char *dir = s->cgroup_mode == 1 ? in->cgroup_dirs[1] : in->cgroup_dirs[0];

		if (quota < 1000)
			quota = 1000;
		if (dir == NULL)
			log_warnx("instance=%s no cpu cgroup: cpu not limited", in->spec->id);
		else if (s->cgroup_mode == 1) {
			snprintf(buf, sizeof(buf), "%ld", quota);
			if (!write_file(dir, "cpu.cfs_period_us", "100000") ||
			    !write_file(dir, "cpu.cfs_quota_us", buf))
				log_warn("instance=%s cannot set the cpu limit", in->spec->id);
		} else {
			snprintf(buf, sizeof(buf), "%ld 100000", quota);
			if (!write_file(dir, "cpu.max", buf))
				log_warn("instance=%s cannot set the cpu limit", in->spec->id);
		}
	}
	return true;
}

/* Between fork and exec: async-signal-safe only (no stdio, no malloc). */
void
cgroup_join_child(const struct instance *in)
{
	char path[4096];

	for (int i = 0; i < 2; i++) {
		size_t n;
		int fd;

		if (in->cgroup_dirs[i] == NULL)
			continue;
		n = strlen(in->cgroup_dirs[i]);
		if (n + sizeof("/cgroup.procs") > sizeof(path))
			continue;
		memcpy(path, in->cgroup_dirs[i], n);
		memcpy(path + n, "/cgroup.procs", sizeof("/cgroup.procs"));
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
			continue;
		/* "0" is the writing process itself. */
		(void)!write(fd, "0", 1);
		close(fd);
	}
}

size_t
cgroup_pids(pid_t *out, size_t max, const struct instance *in)
{
	char path[4096];
	size_t n = 0;
	int pid;
	FILE *f;

	if (in->cgroup_dirs[0] == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", in->cgroup_dirs[0]);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		out[n++] = pid;
	fclose(f);
	return n;
}

void
cgroup_remove(struct slave *s, struct instance *in)
{
	for (int i = 0; i < 2; i++) {
		char **v;

		if (in->cgroup_dirs[i] == NULL || rmdir(in->cgroup_dirs[i]) == 0 || errno == ENOENT)
			continue;
		if (errno != EBUSY) {
			log_warn("instance=%s rmdir %s", in->spec->id, in->cgroup_dirs[i]);
			continue;
		}
		/* SIGKILLed processes take a moment to leave: try again later. */
		if ((v = realloc(s->cg_pending, (s->ncg_pending + 1) * sizeof(*v))) == NULL)
			continue;
		s->cg_pending = v;
		s->cg_pending[s->ncg_pending++] = in->cgroup_dirs[i];
		in->cgroup_dirs[i] = NULL;
	}
}

void
cgroup_retry(struct slave *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->ncg_pending; i++) {
		if (rmdir(s->cg_pending[i]) == 0 || errno == ENOENT)
			free(s->cg_pending[i]);
		else
			s->cg_pending[k++] = s->cg_pending[i];
	}
	s->ncg_pending = k;
}

void
cgroup_free(struct slave *s)
{
	/* At exit, give just-killed processes half a second to leave. */
	for (int tries = 0; tries < 10 && s->ncg_pending > 0; tries++) {
		cgroup_retry(s);
		if (s->ncg_pending > 0)
			usleep(50 * 1000);
	}
	for (size_t i = 0; i < s->ncg_pending; i++) {
		log_warnx("cgroup %s still busy; left in place", s->cg_pending[i]);
		free(s->cg_pending[i]);
	}
	free(s->cg_pending);
	s->cg_pending = NULL;
	s->ncg_pending = 0;
	for (int i = 0; i < 2; i++) {
		/* Fails while instances still run in it: they keep their cgroups. */
		if (s->cgroup_base[i] != NULL)
			rmdir(s->cgroup_base[i]);
		free(s->cgroup_base[i]);
		s->cgroup_base[i] = NULL;
	}
}

/* An instance cgroup (a directory named as an id) of an id not in the
 * table; the hierarchy's own files are not directories. */
static bool
stray_dir(struct slave *s, const struct dirent *de)
{
	return (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) &&
	    proto_name_valid(de->d_name) && inst_find(s, de->d_name) == NULL;
}

size_t
cgroup_strays(struct slave *s, void (*fn)(void *arg, const char *id, pid_t pid), void *arg)
{
	char path[4096];
	struct dirent *de;
	size_t n = 0;
	int pid;
	DIR *d;
	FILE *f;

	if (s->cgroup_mode == 0 || s->cgroup_base[0] == NULL ||
	    (d = opendir(s->cgroup_base[0])) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!stray_dir(s, de))
			continue;
		snprintf(path, sizeof(path), "%s/%s/cgroup.procs", s->cgroup_base[0], de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		while (fscanf(f, "%d", &pid) == 1) {
			fn(arg, de->d_name, (pid_t)pid);
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

void
cgroup_remove_strays(struct slave *s)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	for (int i = 0; i < 2; i++) {
		if (s->cgroup_base[i] == NULL || (d = opendir(s->cgroup_base[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (!stray_dir(s, de))
				continue;
			snprintf(path, sizeof(path), "%s/%s", s->cgroup_base[i], de->d_name);
			/* Only an empty cgroup goes; a busy one says why in the log. */
			if (rmdir(path) < 0 && errno != ENOENT && errno != ENOTDIR)
				log_warn("cgroup %s of an unknown instance", path);
		}
		closedir(d);
	}
}
