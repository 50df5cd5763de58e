/*
 * state.c - the slave's state file and re-adoption after its own restart.
 *
 * DATA/state.json holds every instance: its spec and what the slave knows
 * about it (pid and the pid's start time, ports, restarts, state). It is
 * written atomically (temp file, fsync, rename, fsync of the dir) after
 * every loop turn that changed something, so a slave killed at any moment
 * finds either the old or the new file, never half of one.
 *
 * On start, an instance whose pid is alive with the recorded start time
 * (/proc/PID/stat field 22) is re-adopted as is: a reused pid never
 * passes for an instance. Its exit is then seen through a pidfd. An
 * instance that died while the slave was away is handled like any exit:
 * a pet is restarted, cattle are reported Failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "procfs.h"
#include "slave.h"
#include "units.h"

#define STATE_MAX_BYTES (64 * 1024 * 1024)

/*
 * One instance's line of the state file, written to f: the spec and what
 * the slave knows about it. The spec never changes for an instance, so
 * it is encoded once and kept as compact text rather than as a jansson
 * tree (a hashtable per object: ~7 KB an instance, where the text is
 * ~0.6 KB); the rest is small and encoded at every save.
 */
static int
write_inst(FILE *f, struct instance *in)
{
	json_t *ports = json_array(), *rest;
	char *text;

	if (in->spec_text == NULL) {
		json_t *spec = proto_spec_encode(in->spec);

		in->spec_text = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
		json_decref(spec);
		if (in->spec_text == NULL) {
			json_decref(ports);
			return orch_err_set(ORCH_ERROR, "out of memory");
		}
	}
	for (size_t i = 0; in->ports && i < in->spec->nports; i++)
		json_array_append_new(ports, json_integer(in->ports[i]));
	rest = json_pack("{s:s, s:s, s:i, s:I, s:o, s:i, s:i, s:i, s:I, s:o, s:o, s:i}",
	    "state", inst_state_word(in->state),
	    "health", proto_health_name(in->health),
	    "pid", (int)in->pid,
	    "starttime", (json_int_t)in->starttime,
	    "ports", ports,
	    "restarts", in->restarts,
	    "exit_code", in->exit_code,
	    "exit_signal", in->exit_signal,
	    "started_wall", (json_int_t)in->started_wall,
	    "reason", in->reason ? json_string(in->reason) : json_null(),
	    "artifact_dir", in->artifact_dir ? json_string(in->artifact_dir) : json_null(),
	    "streak", in->streak);
	text = rest ? json_dumps(rest, JSON_COMPACT) : NULL;
	json_decref(rest);
	if (text == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	/* {"spec":SPEC, then rest without its "{" (never empty). */
	fprintf(f, "{\"spec\":%s,%s", in->spec_text, text + 1);
	free(text);
	return 0;
}

/* The whole file into f; 0 or error (ferror is checked by the caller). */
static int
write_state(FILE *f, struct slave *s)
{
	json_t *node = json_string(s->cfg.name);
	bool first = true;
	int rc;

	if (node == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	fputs("{\"format\":1,\"node\":", f);
	rc = json_dumpf(node, f, JSON_ENCODE_ANY);
	json_decref(node);
	if (rc < 0)
		return orch_err_set(ORCH_ERROR, "cannot encode the node name");
	fprintf(f, ",\"next_port\":%d,\"instances\":[", s->next_port);
	for (struct instance *in = s->instances; in; in = in->next) {
		if (in->removed)
			continue;
		if (!first)
			fputc(',', f);
		first = false;
		if ((rc = write_inst(f, in)) < 0)
			return rc;
	}
	fputs("]}", f);
	return 0;
}

/* A write failed (rc < 0) or succeeded: log the change of condition once,
 * count the failures, and pace the retries. */
static void
state_outcome(struct slave *s, int rc)
{
	if (rc == 0) {
		if (s->state_err != NULL) {
			log_info("state: written again after %llu failed writes",
			    (unsigned long long)s->state_failures);
			free(s->state_err);
			s->state_err = NULL;
			s->state_failures = 0;
		}
		return;
	}
	s->state_dirty = true; /* try again */
	s->state_retry_at = orch_mono_ms() + 1000;
	s->state_failures++;
	s->state_failures_total++;
	if (s->state_err == NULL) {
		log_warnx("state: %s; starts and stops are refused (507) until it can be"
		    " written (retried every second; failures counted in /metrics)",
		    orch_err_last());
		s->state_err_since = orch_wall_ms();
	}
	free(s->state_err);
	s->state_err = strdup(orch_err_last());
}

int
state_save(struct slave *s)
{
	char path[4096], tmp[4096];
	int fd, dfd, rc = 0;
	FILE *f;

	s->state_dirty = false;
	snprintf(path, sizeof(path), "%s/state.json", s->cfg.data_dir);
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", s->cfg.data_dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		rc = orch_err_sys(ORCH_ERROR, "open %s", tmp);
		goto out;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		rc = orch_err_sys(ORCH_ERROR, "fdopen %s", tmp);
		close(fd);
		goto out;
	}
	if ((rc = write_state(f, s)) < 0) {
		fclose(f);
		goto out;
	}
	if (fflush(f) != 0 || ferror(f) || fsync(fd) < 0) {
		rc = orch_err_sys(ORCH_ERROR, "write %s", tmp);
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0) {
		rc = orch_err_sys(ORCH_ERROR, "close %s", tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = orch_err_sys(ORCH_ERROR, "rename %s", tmp);
		goto out;
	}
	if ((dfd = open(s->cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	if (rc < 0)
		unlink(tmp); /* give back what a full disk took */
	state_outcome(s, rc);
	return rc;
}

static int
state_parse(const char *word)
{
	for (int i = 0; i < IST__LAST; i++)
		if (strcmp(word, inst_state_word(i)) == 0)
			return i;
	return -1;
}

/* Re-adopt in (its pid alive and the same process) or handle its loss. */
static void
readopt(struct slave *s, struct instance *in, pid_t pid, uint64_t starttime)
{
	int64_t now = orch_mono_ms();
	pid_t live;
	int fd;

	if (!(pid > 0 && starttime != 0 && sv_proc_starttime(pid) == starttime) &&
	    in->state != IST_PROVISION && in->state != IST_FAILED &&
	    (live = orphan_find_leader(s, in->spec->id)) > 0 &&
	    (starttime = sv_proc_starttime(live)) != 0) {
		/* The file could not record its last (re)start: the process
		 * is ours all the same, and starting it again would run it
		 * twice. */
		log_info("instance=%s pid=%d found by its environment (the state file named "
		    "pid %d)", in->spec->id, (int)live, (int)pid);
		pid = live;
		in->started_wall = orch_wall_ms();
	}
	if (pid > 0 && starttime != 0 && sv_proc_starttime(pid) == starttime) {
		in->pid = pid;
		in->starttime = starttime;
		in->adopted = true;
		/* Uptime as the wall clock tells it; only the restart policy's
		 * "stable run" test reads it. */
		in->started_mono = now - (orch_wall_ms() - in->started_wall);
		if ((fd = orch_pidfd_open(pid)) >= 0) {
			in->pidfd = fd;
			in->pidw.kind = W_PIDFD;
			in->pidw.fd = fd;
			in->pidw.ptr = in;
			if (loop_watch(s, &in->pidw, EPOLLIN) < 0)
				log_warnx("instance=%s: %s", in->spec->id, orch_err_last());
		} else {
			/* No pidfd (old kernel): watch it through /proc, once a
			 * second, rather than start a second copy of it. */
			log_warn("instance=%s pidfd_open; checking it every second", in->spec->id);
			in->alive_check_at = now + 1000;
		}
		in->health_at = now;
		log_info("instance=%s pid=%d re-adopted state=%s", in->spec->id, (int)pid,
		    inst_state_word(in->state));
		if (in->state == IST_STOPPING)
			sv_begin_stop(s, in);
		else if (in->state == IST_RESTARTING)
			sv_begin_stop(s, in);
		return;
	}
	in->pid = 0;
	switch (in->state) {
	case IST_STARTING:
	case IST_RUNNING:
	case IST_RESTARTING:
		log_info("instance=%s pid=%d is gone since the slave stopped", in->spec->id, (int)pid);
		sv_exited(s, in, 0, false);
		break;
	case IST_STOPPING:
		in->removed = true;
		break;
	case IST_BACKOFF:
		in->restart_at = now;
		break;
	case IST_PROVISION:
		inst_provision(s, in);
		break;
	case IST_FAILED:
	case IST__LAST:
		break;
	}
}

static int
load_one(struct slave *s, const json_t *j)
{
	struct instance_spec *spec;
	struct instance *in;
	const json_t *ports, *v;
	const char *word;
	int st, rc;

	if ((rc = proto_spec_decode(&spec, json_object_get(j, "spec"))) < 0)
		return rc;
	if (inst_find(s, spec->id) != NULL) {
		instance_spec_free(spec);
		return orch_err_set(ORCH_EEXISTS, "instance listed twice");
	}
	if ((in = inst_new(s, spec)) == NULL) {
		instance_spec_free(spec);
		return orch_err_set(ORCH_ERROR, "out of memory");
	}
	word = json_string_value(json_object_get(j, "state"));
	st = word ? state_parse(word) : -1;
	in->state = st < 0 ? IST_FAILED : st;
	word = json_string_value(json_object_get(j, "health"));
	if (word != NULL && proto_health_parse(word) >= 0)
		in->health = proto_health_parse(word);
	if (in->health == HEALTH_STATE_HEALTHY)
		in->hpass = spec->health.healthy_threshold;
	in->restarts = (int)json_integer_value(json_object_get(j, "restarts"));
	in->streak = (int)json_integer_value(json_object_get(j, "streak"));
	in->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	in->exit_signal = (int)json_integer_value(json_object_get(j, "exit_signal"));
	in->started_wall = json_integer_value(json_object_get(j, "started_wall"));
	if ((v = json_object_get(j, "reason")) != NULL && json_is_string(v))
		in->reason = strdup(json_string_value(v));
	if ((v = json_object_get(j, "artifact_dir")) != NULL && json_is_string(v))
		in->artifact_dir = strdup(json_string_value(v));
	ports = json_object_get(j, "ports");
	if (spec->nports > 0 && json_array_size(ports) == spec->nports) {
		if ((in->ports = calloc(spec->nports, sizeof(int))) != NULL)
			for (size_t i = 0; i < spec->nports; i++)
				in->ports[i] = (int)json_integer_value(json_array_get(ports, i));
	}
	/* Rebuild argv/env now, so a later restart is as quick as ever. */
	if (in->state != IST_PROVISION && in->state != IST_FAILED && spawn_prepare(s, in) < 0)
		log_warnx("instance=%s: %s", spec->id, orch_err_last());
	/* Know its cgroup even when not preparing: a stop sweeps and removes it. */
	if (in->cgroup_dirs[0] == NULL)
		cgroup_setup(s, in);
	readopt(s, in, (pid_t)json_integer_value(json_object_get(j, "pid")),
	    (uint64_t)json_integer_value(json_object_get(j, "starttime")));
	return 0;
}

int
state_load(struct slave *s)
{
	char path[4096];
	json_error_t jerr;
	json_t *root, *list;
	size_t i;

	snprintf(path, sizeof(path), "%s/state.json", s->cfg.data_dir);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return orch_err_set(ORCH_EINVALID, "%s:%d: %s", path, jerr.line, jerr.text);
	s->next_port = (int)json_integer_value(json_object_get(root, "next_port"));
	list = json_object_get(root, "instances");
	for (i = 0; i < json_array_size(list); i++)
		if (load_one(s, json_array_get(list, i)) < 0)
			log_warnx("state: instance %zu skipped: %s", i, orch_err_last());
	json_decref(root);
	log_info("state: loaded %zu instances", s->ninstances);
	s->state_dirty = true;
	return 0;
}
