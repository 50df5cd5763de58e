/*
 * slave_fixture.h - shared by tests/integration/test_slave_*.c: a real
 * orch-slave on a loopback port in a fresh temp dir, standalone (no
 * controller), and small helpers to drive its API.
 *
 * fx_finish() deletes every instance, waits until none is left, sends
 * SIGTERM and checks the slave exited 0 (under ASan a leak makes that
 * fail), then removes the temp dir.
 */
#ifndef ORCH_SLAVE_FIXTURE_H
#define ORCH_SLAVE_FIXTURE_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "daemon.h"
#include "err.h"

#define FX_TOKEN "fx-token-0123456789"
#define FX_WAIT 15000 /* generous: 2 cores shared by many builds */

struct fx {
	char *dir;
	char data_dir[512];
	char token_file[512];
	char log[512];
	char name[64];
	char url[128];
	char range[32];  /* instance ports: a slice of 21000-29999 of its own */
	int port;
	struct daemon *d;
};

static inline bool
fx_healthy(struct fx *fx)
{
	struct http_result r;
	char url[256];
	bool ok;

	snprintf(url, sizeof(url), "%s/healthz", fx->url);
	ok = http_request(&r, "GET", url, NULL, NULL, 0, 2000) == 0 && r.status == 200;
	http_result_free(&r);
	return ok;
}

/* (Re)start the slave on fx's dir; extra args NULL-terminated or NULL. */
static inline int
fx_launch(struct fx *fx, const char *const *extra)
{
	const char *argv[40];
	char *bin = daemon_binary("slave/orch-slave");
	char listen[64];
	size_t n = 0;
	int rc;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", fx->port);
	argv[n++] = bin;
	argv[n++] = "--name";
	argv[n++] = fx->name;
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--data-dir";
	argv[n++] = fx->data_dir;
	argv[n++] = "--token-file";
	argv[n++] = fx->token_file;
	argv[n++] = "--port-range";
	argv[n++] = fx->range;
	for (size_t i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	rc = daemon_start(&fx->d, argv, fx->dir, fx->log);
	free(bin);
	if (rc < 0)
		return rc;
	if (!WAIT_FOR(fx_healthy(fx), FX_WAIT))
		return orch_err_set(ORCH_ERROR, "slave did not answer /healthz");
	return 0;
}

static inline int
fx_start(struct fx *fx, const char *const *extra)
{
	static int seq;
	int rc;

	memset(fx, 0, sizeof(*fx));
	if ((rc = daemon_tmpdir(&fx->dir, "slave")) < 0)
		return rc;
	snprintf(fx->data_dir, sizeof(fx->data_dir), "%s/data", fx->dir);
	snprintf(fx->token_file, sizeof(fx->token_file), "%s/token", fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/slave.log", fx->dir);
	snprintf(fx->name, sizeof(fx->name), "t%d-%d", (int)getpid(), ++seq);
	if ((rc = write_secret(fx->token_file, FX_TOKEN "\n")) < 0)
		return rc;
	if ((rc = daemon_free_port(&fx->port)) < 0)
		return rc;
	snprintf(fx->url, sizeof(fx->url), "http://127.0.0.1:%d", fx->port);
	/* Test programs run side by side (ctest -j): give each slave its own
	 * 100 ports, so two instances of different tests never race for one. */
	{
		int slice = (int)(((unsigned)getpid() * 7u + (unsigned)seq) % 89u);

		snprintf(fx->range, sizeof(fx->range), "%d-%d", 21000 + slice * 100,
		    21000 + slice * 100 + 99);
	}
	return fx_launch(fx, extra);
}

/* METHOD path with token and optional body; JSON answer or NULL. */
static inline json_t *
fx_call(struct fx *fx, long *out_status, const char *method, const char *path,
    const char *body)
{
	char url[512];
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s%s", fx->url, path);
	http_json(&j, &st, method, url, FX_TOKEN, body);
	if (out_status)
		*out_status = st;
	return j;
}

static inline json_t *
fx_instance(struct fx *fx, const char *id)
{
	char path[256];
	long st;
	json_t *j;

	snprintf(path, sizeof(path), "/v1/instances/%s", id);
	j = fx_call(fx, &st, "GET", path, NULL);
	if (st != 200) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A field of the instance as an integer (-1 when absent or null). */
static inline long long
fx_int(struct fx *fx, const char *id, const char *field)
{
	json_t *j = fx_instance(fx, id);
	long long v = -1;

	if (j && json_is_integer(json_object_get(j, field)))
		v = json_integer_value(json_object_get(j, field));
	json_decref(j);
	return v;
}

/* Whether the instance's field (a string) equals want. */
static inline bool
fx_is(struct fx *fx, const char *id, const char *field, const char *want)
{
	json_t *j = fx_instance(fx, id);
	const char *v = j ? json_string_value(json_object_get(j, field)) : NULL;
	bool eq = v && strcmp(v, want) == 0;

	json_decref(j);
	return eq;
}

static inline bool
fx_gone(struct fx *fx, const char *id)
{
	char path[256];
	long st = 0;
	json_t *j;

	snprintf(path, sizeof(path), "/v1/instances/%s", id);
	j = fx_call(fx, &st, "GET", path, NULL);
	json_decref(j);
	return st == 404;
}

/* POST a start; returns the HTTP status; *out the status JSON (may be NULL). */
static inline long
fx_post(struct fx *fx, const char *body, json_t **out)
{
	long st;
	json_t *j = fx_call(fx, &st, "POST", "/v1/instances", body);

	if (out)
		*out = j;
	else
		json_decref(j);
	return st;
}

static inline bool
fx_empty(struct fx *fx)
{
	long st;
	json_t *j = fx_call(fx, &st, "GET", "/v1/instances", NULL);
	bool empty = st == 200 && json_array_size(json_object_get(j, "instances")) == 0;

	json_decref(j);
	return empty;
}

static inline void
fx_delete_all(struct fx *fx)
{
	json_t *list, *v;
	char path[256];
	size_t i;
	long st;

	list = fx_call(fx, &st, "GET", "/v1/instances", NULL);
	json_array_foreach(json_object_get(list, "instances"), i, v) {
		snprintf(path, sizeof(path), "/v1/instances/%s",
		    json_string_value(json_object_get(v, "id")));
		json_decref(fx_call(fx, &st, "DELETE", path, NULL));
	}
	json_decref(list);
}

/* Stop everything, SIGTERM the slave, require exit 0, remove the dir. */
static inline void
fx_finish(struct fx *fx)
{
	if (fx->d != NULL && daemon_running(fx->d)) {
		fx_delete_all(fx);
		CHECK(WAIT_FOR(fx_empty(fx), FX_WAIT));
		CHECK_EQ_INT(daemon_stop(fx->d, SIGTERM, FX_WAIT), 0);
	}
	if (check_failed_in_test) {
		char *log = daemon_log(fx->d);

		fprintf(stdout, "---- slave log ----\n%s-------------------\n", log);
		free(log);
	}
	daemon_free(fx->d);
	fx->d = NULL;
	daemon_rmtree(fx->dir);
	free(fx->dir);
	fx->dir = NULL;
}

/* Integer read from a small file (a pid a script wrote), -1 if none. */
static inline long
fx_read_long(const char *path)
{
	char *s = read_file(path);
	long v = -1;

	if (s && *s)
		v = strtol(s, NULL, 10);
	free(s);
	return v;
}

#endif
