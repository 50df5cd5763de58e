/*
 * httpapp - the demo's stateless web service.
 *
 *   httpapp --port P [--version V] [--fail-health] [--crash-after SEC]
 *           [--ready-file F]
 *
 * GET /        {"version":"V","instance":"$ORCH_INSTANCE_ID","pid":N}
 * GET /healthz 200 "ok" (500 with --fail-health: the "bad release" of the
 *              rollback demo)
 * --crash-after SEC aborts the process SEC seconds after start (a crashing
 * release); --ready-file F is written (atomically, containing the pid) once
 * the port is listening. V defaults to $ORCH_VERSION. SIGTERM: clean exit 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "miniserv.h"

struct app {
	char version[256];
	char instance[256];
	int fail_health;
	int64_t crash_at; /* ms_now() deadline, 0 = never */
	long requests;
};

static void
usage(void)
{
	fprintf(stderr, "usage: httpapp --port P [--version V] [--fail-health] "
	    "[--crash-after SEC] [--ready-file F]\n");
	exit(2);
}

static void
handle(struct ms_response *out, const struct ms_request *req, void *arg)
{
	struct app *a = arg;
	size_t plen = strcspn(req->path, "?");

	a->requests++;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		ms_replyf(out, 405, "application/json",
		    "{\"error\":\"method not allowed\"}\n");
		return;
	}
	if (plen == 1) {
		ms_replyf(out, 200, "application/json",
		    "{\"version\":\"%s\",\"instance\":\"%s\",\"pid\":%ld}\n",
		    a->version, a->instance, (long)getpid());
	} else if (plen == 8 && strncmp(req->path, "/healthz", 8) == 0) {
		if (a->fail_health)
			ms_replyf(out, 500, "application/json",
			    "{\"status\":\"failing\",\"version\":\"%s\"}\n",
			    a->version);
		else
			ms_replyf(out, 200, "application/json",
			    "{\"status\":\"ok\",\"version\":\"%s\"}\n", a->version);
	} else
		ms_replyf(out, 404, "application/json",
		    "{\"error\":\"not found\"}\n");
}

static void
tick(void *arg)
{
	struct app *a = arg;
	struct rlimit no_core = {0, 0};

	if (a->crash_at && ms_now() >= a->crash_at) {
		fprintf(stderr, "httpapp: --crash-after reached, aborting\n");
		/* A crash, not an exit, but no core file in the instance dir. */
		setrlimit(RLIMIT_CORE, &no_core);
		abort();
	}
}

static int
write_ready(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct app a;
	const char *ready = NULL, *v;
	char *end;
	long port = -1, crash = -1;
	int i, lfd, rc;

	memset(&a, 0, sizeof(a));
	v = getenv("ORCH_VERSION");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = strtol(argv[++i], &end, 10);
			if (*end != '\0' || port <= 0 || port > 65535)
				usage();
		} else if (strcmp(argv[i], "--version") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strcmp(argv[i], "--fail-health") == 0)
			a.fail_health = 1;
		else if (strcmp(argv[i], "--crash-after") == 0 && i + 1 < argc) {
			crash = strtol(argv[++i], &end, 10);
			if (*end != '\0' || crash < 0)
				usage();
		} else if (strcmp(argv[i], "--ready-file") == 0 && i + 1 < argc)
			ready = argv[++i];
		else
			usage();
	}
	if (port < 0)
		usage();
	ms_json_escape(a.version, sizeof(a.version), v ? v : "unknown");
	ms_json_escape(a.instance, sizeof(a.instance),
	    getenv("ORCH_INSTANCE_ID") ? getenv("ORCH_INSTANCE_ID") : "");
	if (crash >= 0)
		a.crash_at = ms_now() + crash * 1000;

	lfd = ms_listen((int)port);
	if (lfd < 0)
		return 1;
	if (ready && write_ready(ready) < 0) {
		fprintf(stderr, "httpapp: ready file %s: %s\n", ready, strerror(errno));
		return 1;
	}
	fprintf(stderr, "httpapp: version=%s pid=%ld listening on 127.0.0.1:%ld\n",
	    a.version, (long)getpid(), port);
	rc = ms_serve(lfd, handle, tick, &a);
	close(lfd);
	fprintf(stderr, "httpapp: stopping pid=%ld requests=%ld\n",
	    (long)getpid(), a.requests);
	return rc;
}
