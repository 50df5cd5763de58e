/* procs.c - see procs.h. */
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "procfs.h"
#include "procs.h"

static pid_t
parent_of(pid_t pid)
{
	char buf[1024], *p;
	int ppid;

	if ((p = orch_procfs_stat(buf, sizeof(buf), pid)) == NULL ||
	    sscanf(p + 2, "%*c %d", &ppid) != 1)
		return 0;
	return (pid_t)ppid;
}

/* Every matching process (see procs_copies) with its parent. */
static size_t
procs_matching(pid_t *pids, pid_t *ppids, size_t max, const char *dir, const char *id,
    const char *service)
{
	char prefix[600], *env = malloc(65536);
	size_t n = 0, plen;
	struct dirent *de;
	DIR *d;

	if (env == NULL || (d = opendir("/proc")) == NULL) {
		free(env);
		return 0;
	}
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/", dir);
	while ((de = readdir(d)) != NULL) {
		const char *iid, *dd, *svc;
		pid_t pid;
		ssize_t len;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (pid <= 1 || pid == getpid() || !pid_alive(pid) ||
		    (len = orch_procfs_environ(env, 65536, pid)) <= 0)
			continue;
		iid = orch_procfs_env_get(env, (size_t)len, "ORCH_INSTANCE_ID");
		dd = orch_procfs_env_get(env, (size_t)len, "ORCH_DATA_DIR");
		svc = orch_procfs_env_get(env, (size_t)len, "ORCH_SERVICE");
		if (iid == NULL || dd == NULL || strncmp(dd, prefix, plen) != 0 ||
		    (id != NULL && strcmp(iid, id) != 0) ||
		    (service != NULL && (svc == NULL || strcmp(svc, service) != 0)))
			continue;
		if (n < max) {
			pids[n] = pid;
			ppids[n] = parent_of(pid);
			n++;
		}
	}
	closedir(d);
	free(env);
	return n;
}

size_t
procs_copies(pid_t *out, size_t max, const char *dir, const char *id, const char *service)
{
	pid_t pids[PROCS_MAX], ppids[PROCS_MAX];
	size_t n = 0, found;

	found = procs_matching(pids, ppids, PROCS_MAX, dir, id, service);
	for (size_t i = 0; i < found; i++) {
		bool child = false;

		for (size_t k = 0; k < found; k++)
			if (ppids[i] == pids[k])
				child = true;
		if (child)
			continue;
		if (n < max && out != NULL)
			out[n] = pids[i];
		n++;
	}
	return n;
}

struct procs_sampler {
	pthread_t t;
	char dir[512];
	char id[160];
	atomic_bool on;
	atomic_int most, samples;
};

static void *
sample(void *arg)
{
	struct procs_sampler *s = arg;

	while (atomic_load(&s->on)) {
		int n = (int)procs_copies(NULL, 0, s->dir, s->id, NULL);

		if (n > atomic_load(&s->most))
			atomic_store(&s->most, n);
		atomic_fetch_add(&s->samples, 1);
		usleep(20 * 1000);
	}
	return NULL;
}

int
procs_sampler_start(struct procs_sampler **out, const char *dir, const char *id)
{
	struct procs_sampler *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->id, sizeof(s->id), "%s", id);
	atomic_store(&s->on, true);
	if (pthread_create(&s->t, NULL, sample, s) != 0) {
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int
procs_sampler_samples(struct procs_sampler *s)
{
	return atomic_load(&s->samples);
}

int
procs_sampler_stop(struct procs_sampler *s)
{
	int most;

	if (s == NULL)
		return -1;
	atomic_store(&s->on, false);
	pthread_join(s->t, NULL);
	most = atomic_load(&s->most);
	free(s);
	return most;
}
