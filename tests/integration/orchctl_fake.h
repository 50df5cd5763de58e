/*
 * orchctl_fake.h - a scripted orch controller for test_orchctl_client.c:
 * a forked process speaking plain HTTP/1.1 on a loopback port, one
 * connection at a time, answering the controller API's paths with the
 * shapes of design.md and docs/api.md (and a few odd servers: a proxy's
 * 502, a stream that drops, a log larger than orchctl's follow window),
 * and logging every request (method, path, Authorization, Last-Event-ID,
 * body) to a file, so a test checks what orchctl sent as well as what it
 * printed. Included by one test program only (like slave_fixture.h).
 */
#ifndef ORCH_ORCHCTL_FAKE_H
#define ORCH_ORCHCTL_FAKE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "units.h"

/* The token the fake wants on mutations. */
#define TOKEN "s3cret-token"

static char fake_url[64], fake_reqlog[4200];
static pid_t fake_pid = -1;

/* ---- the scripted controller ------------------------------------------- */

struct req {
	char method[16];
	char path[1024];
	char auth[256];
	char lei[64];
	char *body;
};

/* What it remembers between requests (one process, one connection at a
 * time, so no locking). */
static struct {
	char applied[64]; /* ref of the last apply */
	int polls;        /* GET /v1/status since that apply */
	int streams;      /* /v1/events/stream connections */
	int log_reads;    /* log requests: the log grows one line each */
} fk;

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void
reply(int fd, int status, const char *ctype, const char *body)
{
	char head[512];

	snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, ctype,
	    strlen(body));
	send_all(fd, head, strlen(head));
	send_all(fd, body, strlen(body));
}

static void
reply_json(int fd, int status, const char *body)
{
	reply(fd, status, "application/json", body);
}

static const char status_run[] =
"{\"architecture\":\"shop\",\"version\":\"2.4.0\",\"revision\":{\"commit\":"
"\"abcdef1234567890\",\"message\":\"api 1.3.0\\n\\nlonger text\",\"author\":"
"\"Ann\",\"time\":1763896953},\"services\":["
"{\"name\":\"db\",\"version\":\"2.1.0\",\"kind\":\"pet\",\"strategy\":"
"\"rolling\",\"state\":\"Run\",\"desired\":1,\"ready\":1,\"reason\":\"\"},"
"{\"name\":\"api\",\"version\":\"1.3.0\",\"kind\":\"cattle\",\"strategy\":"
"\"canary\",\"state\":\"Run\",\"desired\":2,\"ready\":2,\"reason\":\"\"}]}";

static const char status_update[] =
"{\"architecture\":\"shop\",\"version\":\"2.4.0\",\"revision\":{\"commit\":"
"\"abcdef1234567890\",\"message\":\"api 1.3.0\",\"author\":\"Ann\","
"\"time\":1763896953},\"services\":["
"{\"name\":\"db\",\"version\":\"2.1.0\",\"kind\":\"pet\",\"strategy\":"
"\"rolling\",\"state\":\"Run\",\"desired\":1,\"ready\":1,\"reason\":\"\"},"
"{\"name\":\"api\",\"version\":\"1.3.0\",\"kind\":\"cattle\",\"strategy\":"
"\"canary\",\"state\":\"Update\",\"desired\":2,\"ready\":1,\"reason\":\"\"}]}";

static const char status_failed[] =
"{\"architecture\":\"shop\",\"version\":\"2.4.0\",\"revision\":{\"commit\":"
"\"abcdef1234567890\"},\"services\":["
"{\"name\":\"api\",\"version\":\"1.3.0\",\"kind\":\"cattle\",\"strategy\":"
"\"canary\",\"state\":\"Failed\",\"desired\":2,\"ready\":0,\"reason\":"
"\"rolled back: health check failed\"}]}";

/* Run at the applied revision, the controller's verdict "succeeded", but
 * api runs 1.2.0 where the plan said 1.3.0: the rollout was undone. */
static const char status_undone[] =
"{\"architecture\":\"shop\",\"version\":\"2.4.0\",\"revision\":{\"commit\":"
"\"abcdef1234567890\"},\"services\":["
"{\"name\":\"db\",\"version\":\"2.1.0\",\"kind\":\"pet\",\"strategy\":"
"\"rolling\",\"state\":\"Run\",\"desired\":1,\"ready\":1,\"reason\":\"\"},"
"{\"name\":\"api\",\"version\":\"1.2.0\",\"kind\":\"cattle\",\"strategy\":"
"\"canary\",\"state\":\"Run\",\"desired\":2,\"ready\":2,\"reason\":\"\"}]}";

static const char status_rollback[] =
"{\"architecture\":\"shop\",\"version\":\"2.4.0\",\"revision\":{\"commit\":"
"\"abcdef1234567890\"},\"services\":["
"{\"name\":\"old\",\"version\":\"1.0.0\",\"kind\":\"cattle\",\"strategy\":"
"\"rolling\",\"state\":\"Rollback\",\"desired\":1,\"ready\":1,\"reason\":"
"\"\",\"revision\":\"0123456789abcdef\"},"
"{\"name\":\"api\",\"version\":\"1.3.0\",\"kind\":\"cattle\",\"strategy\":"
"\"canary\",\"state\":\"Rollback\",\"desired\":2,\"ready\":1,\"reason\":"
"\"canary step 1 failed\",\"revision\":\"abcdef1234567890\"}]}";


/* The old revision: what a controller shows before the apply lands. */
static const char status_old[] =
"{\"architecture\":\"shop\",\"version\":\"2.3.0\",\"revision\":{\"commit\":"
"\"0123456789abcdef\"},\"services\":["
"{\"name\":\"api\",\"version\":\"1.2.0\",\"kind\":\"cattle\",\"strategy\":"
"\"canary\",\"state\":\"Run\",\"desired\":2,\"ready\":2,\"reason\":\"\"}]}";

/* The controller's apply reply: the plan under "plan", fields not split
 * into rollout and in-place (orchctl splits them as the library does). */
static const char apply_ok[] =
"{\"revision\":{\"seq\":7,\"commit\":\"abcdef1234567890\",\"message\":"
"\"api 1.3.0\"},\"dry_run\":false,\"plan\":{\"architecture_changed\":false,"
"\"services\":["
"{\"name\":\"db\",\"action\":\"unchanged\",\"fields\":[],"
"\"old_version\":\"2.1.0\",\"new_version\":\"2.1.0\","
"\"old_replicas\":1,\"new_replicas\":1},"
"{\"name\":\"api\",\"action\":\"changed\",\"fields\":[\"version\",\"replicas\"],"
"\"old_version\":\"1.2.0\",\"new_version\":\"1.3.0\",\"old_replicas\":2,"
"\"new_replicas\":3},"
"{\"name\":\"web\",\"action\":\"removed\",\"fields\":[],"
"\"old_version\":\"0.9.0\",\"new_version\":null,"
"\"old_replicas\":3,\"new_replicas\":0}]}}";

static const char apply_rejected[] =
"{\"error\":\"manifest rejected\",\"detail\":["
"{\"file\":\"orch.yaml\",\"line\":7,\"col\":15,\"path\":"
"\"services.api.replicas\",\"message\":\"replicas 12 is outside min..max 1..10\"},"
"{\"file\":\"orch.yaml\",\"line\":12,\"col\":5,\"path\":"
"\"services.web.depends_on.cache\",\"message\":\"no service cache\"}]}";

static void
sse_send(int fd, int id)
{
	char ev[512];

	snprintf(ev, sizeof(ev), "id: %d\ndata: {\"seq\":%d,\"time\":"
	    "1763896953000,\"service\":\"api\",\"instance\":\"api-%d\",\"from\":"
	    "\"Ready\",\"to\":\"Run\",\"cause\":\"healthy %d\",\"revision\":"
	    "\"abcdef1\"}\n\n", id, id, id, id);
	send_all(fd, ev, strlen(ev));
}

static void
fake_events_stream(int fd, const struct req *r)
{
	const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
	    "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
	char c;

	send_all(fd, head, strlen(head));
	send_all(fd, "retry: 200\n\n", 12);
	if (++fk.streams == 1) {
		/* The first connection drops after two events. */
		sse_send(fd, 1);
		sse_send(fd, 2);
		return;
	}
	/* Later ones resume after Last-Event-ID, with a keep-alive comment
	 * and (as some servers do) a repeat of the last event first. */
	send_all(fd, ": keep-alive\n\n", 14);
	sse_send(fd, atoi(r->lei[0] ? r->lei : "0"));
	sse_send(fd, atoi(r->lei[0] ? r->lei : "0") + 1);
	/* Hold the stream open until orchctl goes away. */
	while (read(fd, &c, 1) > 0)
		;
}

static void
fake_logs(int fd, const struct req *r, const char *query)
{
	char log[65536] = "", *t;
	size_t tail = 65536, len;
	int lines;

	if ((t = strstr(query, "tail=")) != NULL)
		tail = strtoul(t + 5, NULL, 10);
	/* The log gains a line at every read; stderr has one fixed line. */
	lines = ++fk.log_reads;
	if (strstr(query, "stream=stderr") != NULL)
		snprintf(log, sizeof(log), "warning: on stderr\n");
	else
		for (int i = 1; i <= lines && strlen(log) < sizeof(log) - 32; i++)
			snprintf(log + strlen(log), sizeof(log) - strlen(log),
			    "line %d\n", i);
	len = strlen(log);
	reply(fd, 200, "text/plain", len > tail ? log + len - tail : log);
}

/* A log bigger than orchctl's follow window (256K): 3000 lines of 100
 * bytes and one more at every read, so the new bytes can only be found by
 * overlap, not by length. */
static void
fake_big_log(int fd, const char *query)
{
	static int reads;
	int n = 3000 + ++reads;
	size_t tail = 65536, len = (size_t)n * 100;
	char *log = malloc(len + 1), *t;

	if (log == NULL)
		abort();
	if ((t = strstr(query, "tail=")) != NULL)
		tail = strtoul(t + 5, NULL, 10);
	for (int i = 0; i < n; i++) {
		char *l = log + (size_t)i * 100;

		snprintf(l, 12, "big %06d ", (i + 1) % 1000000);
		memset(l + 11, 'x', 88);
		l[99] = '\n';
	}
	log[len] = '\0';
	reply(fd, 200, "text/plain", len > tail ? log + len - tail : log);
	free(log);
}

static bool
authorized(const struct req *r)
{
	return strcmp(r->auth, "Bearer " TOKEN) == 0;
}

static void
fake_route(int fd, const struct req *r)
{
	char path[1024], *query;

	snprintf(path, sizeof(path), "%s", r->path);
	if ((query = strchr(path, '?')) != NULL)
		*query++ = '\0';
	else
		query = (char *)"";
	/* As design.md: mutating calls need the token. */
	if (strcmp(r->method, "POST") == 0 && !authorized(r)) {
		reply_json(fd, 401, "{\"error\":\"unauthorized\",\"detail\":"
		    "\"missing or wrong bearer token\"}");
		return;
	}
	if (strcmp(path, "/v1/status") == 0) {
		fk.polls++;
		if (strcmp(fk.applied, "fail") == 0)
			reply_json(fd, 200, fk.polls > 1 ? status_failed :
			    status_update);
		else if (strcmp(fk.applied, "undone") == 0)
			reply_json(fd, 200, status_undone);
		else if (strcmp(fk.applied, "rollback") == 0)
			reply_json(fd, 200, status_rollback);
		else if (strcmp(fk.applied, "stuck") == 0)
			reply_json(fd, 200, status_old);
		else if (fk.applied[0] && fk.polls <= 2)
			reply_json(fd, 200, fk.polls == 1 ? status_old :
			    status_update);
		else
			reply_json(fd, 200, status_run);
	} else if (strcmp(path, "/v1/apply") == 0) {
		json_t *b = json_loads(r->body, 0, NULL);
		const char *ref = json_string_value(json_object_get(b, "ref"));

		if (ref != NULL && strcmp(ref, "bad") == 0)
			reply_json(fd, 422, apply_rejected);
		else {
			snprintf(fk.applied, sizeof(fk.applied), "%s",
			    ref ? ref : "main");
			fk.polls = 0;
			reply_json(fd, 200, apply_ok);
		}
		json_decref(b);
	} else if (strcmp(path, "/v1/services/api") == 0)
		reply_json(fd, 200, "{\"name\":\"api\",\"version\":\"1.3.0\","
		    "\"kind\":\"cattle\",\"strategy\":\"canary\",\"state\":\"Run\","
		    "\"desired\":2,\"ready\":2,\"reason\":\"\",\"revision\":"
		    "\"abcdef1234567890\",\"instances\":1,\"instance_list\":[{\"id\":\"api-1\","
		    "\"version\":\"1.3.0\",\"node\":\"node-a\",\"state\":\"Run\","
		    "\"health\":\"healthy\"}]}");
	else if (strcmp(path, "/v1/services/worker") == 0)
		reply_json(fd, 200, "{\"name\":\"worker\",\"version\":\"1.0.0\","
		    "\"kind\":\"cattle\",\"strategy\":\"rolling\",\"state\":"
		    "\"Scale\",\"detail\":\"Scale-out\",\"desired\":4,\"ready\":3,"
		    "\"reason\":\"scale to 4\",\"revision\":\"abcdef1234567890\"}");
	else if (strncmp(path, "/v1/services/", 13) == 0 &&
	    strstr(path, "/scale") == NULL)
		reply_json(fd, 404, "{\"error\":\"not found\",\"detail\":"
		    "\"no service nosuch\"}");
	else if (strcmp(path, "/v1/services/api/scale") == 0) {
		json_t *b = json_loads(r->body, 0, NULL);
		json_int_t n = json_integer_value(json_object_get(b, "replicas"));

		if (!json_is_integer(json_object_get(b, "replicas")) || n < 1 || n > 10)
			reply_json(fd, 409, "{\"error\":\"scale refused\",\"detail\":"
			    "\"replicas must be within min..max 1..10\"}");
		else
			reply_json(fd, 200, "{\"name\":\"api\",\"desired\":4}");
		json_decref(b);
	} else if (strcmp(path, "/v1/instances") == 0) {
		char body[1024];

		snprintf(body, sizeof(body), "{\"instances\":["
		    "{\"id\":\"api-1\",\"service\":\"api\",\"version\":\"1.3.0\","
		    "\"node\":\"node-a\",\"pid\":4242,\"state\":\"Run\",\"health\":"
		    "\"healthy\",\"restarts\":0,\"started_at\":%lld,"
		    "\"age_ms\":7500000},"
		    "{\"id\":\"db-0\",\"service\":\"db\",\"version\":\"2.1.0\","
		    "\"node\":\"node-b\",\"pid\":0,\"state\":\"Provision\","
		    "\"health\":\"none\",\"restarts\":3,\"started_at\":0,"
		    "\"age_ms\":0}]}",
		    (long long)(orch_wall_ms() - 3725000)); /* not age_ms: skew */
		reply_json(fd, 200, body);
	} else if (strcmp(path, "/v1/nodes") == 0) {
		char body[1024];

		snprintf(body, sizeof(body), "{\"nodes\":[{\"name\":\"node-a\","
		    "\"address\":\"127.0.0.1:7101\",\"state\":\"Ready\","
		    "\"last_heartbeat\":%lld,\"heartbeat_age_ms\":2400,"
		    "\"capacity\":{\"cpu\":4,\"memory\":"
		    "8589934592},\"instances\":[\"api-1\",\"api-2\"]},{\"name\":"
		    "\"node-b\",\"address\":\"127.0.0.1:7102\",\"state\":"
		    "\"Draining\",\"heartbeat_age_ms\":-1,\"last_heartbeat\":0,"
		    "\"cpu\":2,\"memory\":25276510208,"
		    "\"instances\":0}]}",
		    /* a skewed clock: the age from the controller wins */
		    (long long)(orch_wall_ms() - 3600000));
		reply_json(fd, 200, body);
	} else if (strcmp(path, "/v1/revisions") == 0) {
		/* Revision 7 (the apply's) stays "applied" until the fourth
		 * status poll: orchctl apply --wait must wait for it. */
		char body[1024];

		snprintf(body, sizeof(body), "{\"revisions\":[{\"seq\":7,"
		    "\"commit\":\"abcdef1234567890\",\"message\":\"api 1.3.0"
		    "\\n\\nwhy\",\"author\":\"Ann Example\",\"time\":"
		    "\"2025-11-23T11:22:33Z\",\"result\":\"%s\"},{\"seq\":6,"
		    "\"commit\":\"0123456789abcdef\",\"message\":\"first\","
		    "\"author\":\"Bob\",\"time\":1700000000,\"result\":"
		    "\"rejected\"}]}", fk.applied[0] && fk.polls >= 4 ?
		    "succeeded" : "applied");
		reply_json(fd, 200, body);
	} else if (strcmp(path, "/v1/events") == 0 &&
	    atoll(strstr(query, "since=") ? strstr(query, "since=") + 6 : "0") >=
	    1000000) {
		/* Paging: 2500 events after 1000000, at most 1000 a page. */
		long long since = atoll(strstr(query, "since=") + 6);
		size_t cap = 300000, len;
		char *body = malloc(cap);

		if (body == NULL)
			abort();
		len = (size_t)snprintf(body, cap, "{\"events\":[");
		for (long long i = since + 1; i <= 1002500 && i <= since + 1000; i++)
			len += (size_t)snprintf(body + len, cap - len,
			    "%s{\"seq\":%lld,\"time\":1763896953000,\"service\":"
			    "\"many\",\"instance\":null,\"from\":\"Run\",\"to\":"
			    "\"Scale\",\"cause\":\"n%lld\"}", i > since + 1 ? "," : "",
			    i, i);
		snprintf(body + len, cap - len, "],\"last_seq\":1002500}");
		reply_json(fd, 200, body);
		free(body);
	} else if (strcmp(path, "/v1/events") == 0) {
		/* Events 1..3; since=N gives those after N. */
		int since = atoi(strstr(query, "since=") ? strstr(query, "since=") + 6 : "0");
		char body[2048] = "{\"events\":[";

		for (int i = since + 1; i <= 3; i++)
			snprintf(body + strlen(body), sizeof(body) - strlen(body),
			    "%s{\"seq\":%d,\"time\":1763896953000,\"service\":"
			    "\"api\",\"instance\":\"api-%d\",\"from\":%s,\"to\":"
			    "\"Provision\",\"cause\":\"placed on node-a\","
			    "\"revision\":\"abcdef1\"}", i > since + 1 ? "," : "",
			    i, i, i == 1 ? "null" : "\"Ready\"");
		strcat(body, "]}");
		reply_json(fd, 200, body);
	} else if (strcmp(path, "/v1/events/stream") == 0)
		fake_events_stream(fd, r);
	else if (strcmp(path, "/v1/instances/api-1/logs") == 0)
		fake_logs(fd, r, query);
	else if (strcmp(path, "/v1/instances/big-1/logs") == 0)
		fake_big_log(fd, query);
	else if (strcmp(path, "/v1/nodes/node-a/drain") == 0)
		reply_json(fd, 200, "{\"name\":\"node-a\",\"state\":\"Draining\"}");
	else if (strcmp(path, "/v1/nodes/proxy/drain") == 0)
		reply(fd, 502, "text/html", "<html>Bad Gateway</html>\n");
	else
		reply_json(fd, 404, "{\"error\":\"not found\",\"detail\":"
		    "\"no such route\"}");
}

/* Read one request: headers, then Content-Length bytes of body. */
static bool
read_request(int fd, struct req *r)
{
	char buf[65536], *hend, *p;
	size_t len = 0, clen = 0;

	memset(r, 0, sizeof(*r));
	while ((hend = len ? strstr(buf, "\r\n\r\n") : NULL) == NULL) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
	}
	sscanf(buf, "%15s %1023s", r->method, r->path);
	for (p = strstr(buf, "\r\n"); p && p < hend; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, "Authorization: ", 15) == 0)
			sscanf(p + 17, "%255[^\r]", r->auth);
		else if (strncasecmp(p + 2, "Last-Event-ID: ", 15) == 0)
			sscanf(p + 17, "%63[^\r]", r->lei);
		else if (strncasecmp(p + 2, "Content-Length: ", 16) == 0)
			clen = strtoul(p + 18, NULL, 10);
	}
	hend += 4;
	while ((size_t)(buf + len - hend) < clen && len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	r->body = strndup(hend, clen);
	return r->body != NULL;
}

static void
fake_serve(int lfd)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		struct req r;
		FILE *log;

		if (fd < 0)
			continue;
		if (read_request(fd, &r)) {
			if ((log = fopen(fake_reqlog, "a")) != NULL) {
				fprintf(log, "%s %s auth=[%s] lei=[%s] body=%s\n",
				    r.method, r.path, r.auth, r.lei, r.body);
				fclose(log);
			}
			fake_route(fd, &r);
		}
		free(r.body);
		close(fd);
	}
}

/* Listen on a free loopback port (fake_url), serve in a child process,
 * log requests to log_path. */
static void
fake_start(const char *log_path)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
		fprintf(stderr, "fake controller: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(fake_reqlog, sizeof(fake_reqlog), "%s", log_path);
	snprintf(fake_url, sizeof(fake_url), "http://127.0.0.1:%d",
	    ntohs(a.sin_port));
	fflush(NULL);
	if ((fake_pid = fork()) == 0) {
		signal(SIGPIPE, SIG_IGN);
		fake_serve(lfd);
		_exit(0);
	}
	close(lfd);
}

/* Requests the fake got since the last call (and forget them); never
 * NULL. */
static char *
fake_requests(void)
{
	FILE *f = fopen(fake_reqlog, "rb");
	char *buf = NULL;
	size_t len = 0;

	if (f != NULL) {
		FILE *m = open_memstream(&buf, &len);
		char chunk[4096];
		size_t n;

		if (m == NULL)
			abort();
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, m);
		fclose(m);
		fclose(f);
	}
	if (buf == NULL && (buf = strdup("")) == NULL)
		abort();
	unlink(fake_reqlog);
	return buf;
}

static void
fake_stop(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
		fake_pid = -1;
	}
}

#endif
