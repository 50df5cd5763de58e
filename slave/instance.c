/*
 * instance.c - the instance table and its state machine.
 *
 * inst_set_state() is the one place a state changes (curl's mstate()):
 * it ignores no-ops, logs "old -> new" with the instance id, keeps the
 * reason, counts it in the metrics, marks the state file dirty and, when
 * the public word changes, queues an event for the controller.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact.h"
#include "err.h"
#include "log.h"
#include "slave.h"
#include "units.h"

#define ARTIFACT_KEEP 3 /* versions of a service kept on disk */

static const struct {
	const char *name;
	enum instance_state word;
} state_table[IST__LAST] = {
	[IST_PROVISION] = {"provision", INSTANCE_PROVISION},
	[IST_STARTING] = {"starting", INSTANCE_READY},
	[IST_RUNNING] = {"running", INSTANCE_RUN},
	[IST_BACKOFF] = {"backoff", INSTANCE_PROVISION},
	[IST_RESTARTING] = {"restarting", INSTANCE_READY},
	[IST_STOPPING] = {"stopping", INSTANCE_DESTROY},
	[IST_FAILED] = {"failed", INSTANCE_FAILED},
};

const char *
inst_state_word(enum inst_state st)
{
	return (unsigned)st < IST__LAST ? state_table[st].name : "?";
}

enum instance_state
inst_public_state(enum inst_state st)
{
	return state_table[st].word;
}

static json_t *
event_json(const struct slave *s, const struct instance *in, enum instance_state from,
    enum instance_state to, const char *cause)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
	    "time", (json_int_t)orch_wall_ms(),
	    "node", s->cfg.name,
	    "instance", in->spec->id,
	    "service", in->spec->service,
	    "from", proto_state_name(from),
	    "to", proto_state_name(to),
	    "cause", cause ? cause : "",
	    "revision", in->spec->revision ? json_string(in->spec->revision) : json_null(),
	    "status", inst_status_json(s, in));
}

void
inst_set_state(struct slave *s, struct instance *in, enum inst_state st,
    const char *fmt, ...)
{
	enum inst_state old = in->state;
	char reason[512];
	va_list ap;

	reason[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
	}
	if (st == old && (reason[0] == '\0' || (in->reason && strcmp(in->reason, reason) == 0)))
		return;
	if (reason[0] != '\0') {
		free(in->reason);
		in->reason = strdup(reason);
	}
	/* No process, so nothing is checked: a Failed instance or one
	 * waiting to restart is not "starting" (nor still "healthy").
	 * "unhealthy" stays: it is why it failed (docs/slave.md). */
	if ((st == IST_FAILED || st == IST_BACKOFF) && in->pid == 0 &&
	    in->health != HEALTH_STATE_UNHEALTHY)
		in->health = HEALTH_STATE_NONE;
	in->state = st;
	in->changed_wall = orch_wall_ms();
	s->state_dirty = true;
	log_info("instance=%s service=%s state %s -> %s%s%s", in->spec->id,
	    in->spec->service, inst_state_word(old), inst_state_word(st),
	    reason[0] ? " reason=" : "", reason);
	if (st == IST_FAILED && old != IST_FAILED)
		s->m.failures++;
	if (state_table[old].word != state_table[st].word)
		report_event(s, event_json(s, in, state_table[old].word,
		    state_table[st].word, reason[0] ? reason : NULL));
}

void
inst_set_health(struct slave *s, struct instance *in, enum health_state h)
{
	if (in->health == h)
		return;
	log_info("instance=%s health %s -> %s", in->spec->id,
	    proto_health_name(in->health), proto_health_name(h));
	in->health = h;
	in->changed_wall = orch_wall_ms();
	s->state_dirty = true;
}

struct instance *
inst_find(struct slave *s, const char *id)
{
	for (struct instance *in = s->instances; in; in = in->next)
		if (strcmp(in->spec->id, id) == 0 && !in->removed)
			return in;
	return NULL;
}

json_t *
inst_status_json(const struct slave *s, const struct instance *in)
{
	struct instance_port *ports = calloc(in->spec->nports + 1, sizeof(*ports));
	struct instance_status st = {0};
	json_t *j;

	st.id = in->spec->id;
	st.service = in->spec->service;
	st.version = in->spec->version;
	st.node = (char *)s->cfg.name;
	st.kind = in->spec->kind;
	st.state = state_table[in->state].word;
	st.health = in->health;
	st.pid = in->pid;
	st.restarts = in->restarts;
	st.exit_code = in->exit_code;
	st.exit_signal = in->exit_signal;
	st.reason = in->reason;
	st.started_at = in->pid ? in->started_wall : 0;
	st.changed_at = in->changed_wall;
	st.data_dir = in->data_dir;
	st.backoff_ms = in->backoff_ms;
	st.cgroup = in->cgroup_dirs[0] != NULL;
	for (size_t i = 0; ports && in->ports && i < in->spec->nports; i++) {
		ports[i].name = in->spec->ports[i];
		ports[i].port = in->ports[i];
		st.nports++;
	}
	st.ports = ports;
	j = proto_status_encode(&st);
	free(ports);
	return j;
}

json_t *
inst_list_json(const struct slave *s)
{
	json_t *a = json_array();

	for (struct instance *in = s->instances; in; in = in->next)
		if (!in->removed)
			json_array_append_new(a, inst_status_json(s, in));
	return a;
}

struct instance *
inst_new(struct slave *s, struct instance_spec *spec)
{
	struct instance *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return NULL;
	in->spec = spec;
	in->pidfd = -1;
	in->pidw.fd = -1;
	in->probe.w.fd = -1;
	in->exit_code = -1;
	in->changed_wall = orch_wall_ms(); /* created (or re-adopted) now */
	in->health = spec->health.type == HEALTH_NONE ? HEALTH_STATE_NONE : HEALTH_STATE_STARTING;
	/* Room for the usual case up front, so a restart needs no allocation;
	 * it grows (after the exec) only for a large restart.limit. */
	in->crt = spec->restart.limit < 16 ? (size_t)spec->restart.limit + 1 : 16;
	in->restart_times = calloc(in->crt, sizeof(*in->restart_times));
	if (asprintf(&in->dir, "%s/instances/%s", s->cfg.data_dir, spec->id) < 0)
		in->dir = NULL;
	if (asprintf(&in->data_dir, "%s/data", in->dir ? in->dir : "") < 0)
		in->data_dir = NULL;
	if (in->restart_times == NULL || in->dir == NULL || in->data_dir == NULL) {
		in->spec = NULL;
		inst_free(s, in);
		return NULL;
	}
	in->next = s->instances;
	s->instances = in;
	s->ninstances++;
	return in;
}

static void
fetch_free(struct fetch *f)
{
	if (f == NULL)
		return;
	if (f->running)
		pthread_join(f->thread, NULL);
	instance_spec_free(f->spec);
	free(f->data_dir);
	free(f->dir);
	free(f);
}

void
inst_free(struct slave *s, struct instance *in)
{
	if (in == NULL)
		return;
	health_cancel(s, in);
	if (in->pidfd >= 0) {
		loop_unwatch(s, &in->pidw);
		close(in->pidfd);
	}
	fetch_free(in->fetch);
	spawn_free_prepared(in);
	free(in->spec_text);
	instance_spec_free(in->spec);
	free(in->dir);
	free(in->data_dir);
	free(in->artifact_dir);
	free(in->cwd);
	free(in->out_path);
	free(in->err_path);
	free(in->ports);
	free(in->cgroup_dirs[0]);
	free(in->cgroup_dirs[1]);
	free(in->restart_times);
	free(in->reason);
	free(in);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		log_warn("remove %s", path);
	return 0;
}

/* Free instances whose stop has finished (outside any iteration). */
void
inst_reap_removed(struct slave *s)
{
	struct instance **pp = &s->instances, *in;

	while ((in = *pp) != NULL) {
		if (!in->removed) {
			pp = &in->next;
			continue;
		}
		*pp = in->next;
		s->ninstances--;
		report_event(s, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
		    "time", (json_int_t)orch_wall_ms(), "node", s->cfg.name,
		    "instance", in->spec->id, "service", in->spec->service,
		    "from", "Destroy", "to", "Destroy", "cause", "stopped and removed",
		    "removed", 1));
		cgroup_remove(s, in);
		/* Cattle leave nothing behind; a pet's data outlives it. */
		if (in->spec->kind == KIND_CATTLE && in->dir != NULL)
			nftw(in->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		log_info("instance=%s removed", in->spec->id);
		inst_free(s, in);
		s->state_dirty = true;
	}
}

void
inst_launch(struct slave *s, struct instance *in, const char *after)
{
	int rc;

	if (in->argv == NULL && (rc = spawn_prepare(s, in)) < 0) {
		s->m.spawn_errors++;
		inst_set_state(s, in, IST_FAILED, "cannot prepare: %s", orch_err_last());
		return;
	}
	if ((rc = spawn_exec(s, in)) < 0) {
		s->m.spawn_errors++;
		inst_set_state(s, in, IST_FAILED, "cannot start: %s", orch_err_last());
		return;
	}
	s->m.starts++;
	health_reset(s, in);
	/* A restart says why: the event the controller records for it is
	 * where an operator looks first. */
	if (after != NULL)
		inst_set_state(s, in, IST_STARTING, "%s; restart %d, pid=%d", after,
		    in->restarts, (int)in->pid);
	else
		inst_set_state(s, in, IST_STARTING, "process started pid=%d", (int)in->pid);
	if (in->spec->health.type == HEALTH_NONE)
		inst_set_state(s, in, IST_RUNNING, "running, no health check");
}

static void *
fetch_worker(void *arg)
{
	struct fetch *f = arg;
	char b = 1;

	f->rc = artifact_fetch(&f->dir, f->data_dir, f->spec->service, f->spec->version,
	    &f->spec->artifact);
	if (f->rc < 0)
		snprintf(f->err, sizeof(f->err), "%s", orch_err_last());
	else if (artifact_prune(f->data_dir, f->spec->service, ARTIFACT_KEEP,
	    f->spec->version) < 0)
		log_warnx("service=%s artifact prune: %s", f->spec->service, orch_err_last());
	__atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
	/* A full pipe means a wake-up is pending anyway. */
	(void)!write(f->notify_fd, &b, 1);
	return NULL;
}

static int
fetch_begin(struct slave *s, struct instance *in)
{
	struct fetch *f = calloc(1, sizeof(*f));
	json_t *j;
	int rc;

	if (f == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	/* The worker gets its own copy: the loop may free in meanwhile. */
	j = proto_spec_encode(in->spec);
	rc = proto_spec_decode(&f->spec, j);
	json_decref(j);
	if (rc < 0 || (f->data_dir = strdup(s->cfg.data_dir)) == NULL) {
		fetch_free(f);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	f->notify_fd = s->fetch_pipe[1];
	if ((rc = pthread_create(&f->thread, NULL, fetch_worker, f)) != 0) {
		errno = rc;
		fetch_free(f);
		return orch_err_sys(ORCH_ERROR, "pthread_create");
	}
	f->running = true;
	in->fetch = f;
	return 0;
}

void
inst_fetch_done(struct slave *s)
{
	for (struct instance *in = s->instances; in; in = in->next) {
		struct fetch *f = in->fetch;

		if (f == NULL || !__atomic_load_n(&f->done, __ATOMIC_ACQUIRE))
			continue;
		pthread_join(f->thread, NULL);
		f->running = false;
		in->fetch = NULL;
		if (in->state == IST_STOPPING) {
			in->removed = true;
		} else if (f->rc < 0) {
			inst_set_state(s, in, IST_FAILED, "artifact: %s", f->err);
		} else {
			free(in->artifact_dir);
			in->artifact_dir = f->dir;
			f->dir = NULL;
			inst_launch(s, in, NULL);
		}
		fetch_free(f);
	}
}

/* Begin (or resume) provisioning: fetch the artifact, then launch. */
void
inst_provision(struct slave *s, struct instance *in)
{
	inst_set_state(s, in, IST_PROVISION, "provisioning");
	if (in->spec->artifact.url != NULL && in->artifact_dir == NULL) {
		if (fetch_begin(s, in) < 0)
			inst_set_state(s, in, IST_FAILED, "artifact: %s", orch_err_last());
		return;
	}
	inst_launch(s, in, NULL);
}

int
inst_start(struct instance **out, bool *out_created, struct slave *s,
    struct instance_spec *spec)
{
	struct instance *in = inst_find(s, spec->id);

	*out = NULL;
	*out_created = false;
	if (in != NULL) {
		if (!proto_spec_equal(in->spec, spec)) {
			instance_spec_free(spec);
			return orch_err_set(ORCH_EEXISTS,
			    "instance %s exists with a different spec; stop it first", in->spec->id);
		}
		instance_spec_free(spec);
		if (in->state == IST_STOPPING)
			return orch_err_set(ORCH_EEXISTS, "instance %s is being stopped", in->spec->id);
		*out = in;
		if (in->state != IST_FAILED || in->pid != 0)
			return 0; /* running or on its way: a repeat changes nothing */
		/* A Failed instance is revived by a new start with the same spec. */
		in->nrt = 0;
		in->streak = 0;
		in->backoff_ms = 0;
		log_info("instance=%s revived by a start request", in->spec->id);
		inst_provision(s, in);
		return 0;
	}
	if (s->ninstances >= SLAVE_MAX_INSTANCES) {
		instance_spec_free(spec);
		return orch_err_set(ORCH_ETOOBIG, "too many instances (%d)", SLAVE_MAX_INSTANCES);
	}
	if ((in = inst_new(s, spec)) == NULL) {
		instance_spec_free(spec);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	*out = in;
	*out_created = true;
	in->state = IST_PROVISION;
	log_info("instance=%s service=%s version=%s kind=%s start requested", spec->id,
	    spec->service, spec->version, proto_kind_name(spec->kind));
	report_event(s, event_json(s, in, INSTANCE_PROVISION, INSTANCE_PROVISION, "created"));
	inst_provision(s, in);
	return 0;
}

int
inst_stop(struct slave *s, struct instance *in)
{
	if (in->state == IST_STOPPING)
		return 0;
	health_cancel(s, in);
	inst_set_state(s, in, IST_STOPPING, "stop requested");
	s->m.stops++;
	if (in->fetch != NULL)
		return 0; /* removed when the fetch ends (inst_fetch_done) */
	if (in->pid > 0)
		sv_begin_stop(s, in);
	else {
		/* The main process is gone; descendants that left its group
		 * (found by cgroup and environment) go now. */
		sv_signal_tree(s, in, SIGKILL);
		in->removed = true;
	}
	return 0;
}
