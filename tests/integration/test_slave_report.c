/*
 * test_slave_report.c - orch-slave talking to a controller: registration,
 * heartbeats with labels and capacity, event pushes with retry until
 * acknowledged, and working on alone while the controller is away. The
 * controller here is a small fake built on common/httpd, run on a thread
 * of the test, that records what it receives.
 */
#include <poll.h>
#include <pthread.h>

#include "httpd.h"
#include "slave_fixture.h"

struct fake {
	struct httpd *h;
	pthread_t thread;
	volatile int stop;
	pthread_mutex_t mu;
	json_t *registers, *heartbeats, *events; /* bodies / event objects */
	int reject_events;   /* answer this many event pushes with 503 */
	char listen[64];
};

static void
record(struct httpd_resp *out, const struct httpd_req *req, struct fake *f, json_t *list)
{
	json_t *j = json_loadb(req->body, req->body_len, 0, NULL);

	if (j == NULL) {
		httpd_reply_error(out, 400, "malformed json", "fake controller");
		return;
	}
	pthread_mutex_lock(&f->mu);
	json_array_append_new(list, j);
	pthread_mutex_unlock(&f->mu);
	httpd_reply_json(out, 200, json_pack("{s:b}", "ok", 1));
}

static void
on_register(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	record(out, req, arg, ((struct fake *)arg)->registers);
}

static void
on_heartbeat(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	record(out, req, arg, ((struct fake *)arg)->heartbeats);
}

static void
on_events(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct fake *f = arg;
	json_t *j, *ev;
	size_t i;

	pthread_mutex_lock(&f->mu);
	if (f->reject_events > 0) {
		f->reject_events--;
		pthread_mutex_unlock(&f->mu);
		httpd_reply_error(out, 503, "unavailable", "try again");
		return;
	}
	pthread_mutex_unlock(&f->mu);
	if ((j = json_loadb(req->body, req->body_len, 0, NULL)) == NULL) {
		httpd_reply_error(out, 400, "malformed json", "fake controller");
		return;
	}
	pthread_mutex_lock(&f->mu);
	json_array_foreach(json_object_get(j, "events"), i, ev)
		json_array_append(f->events, ev);
	pthread_mutex_unlock(&f->mu);
	json_decref(j);
	httpd_reply_json(out, 200, json_pack("{s:b}", "ok", 1));
}

static const struct httpd_route fake_routes[] = {
	{"POST", "/v1/nodes/register", on_register, HTTPD_ADMIN},
	{"POST", "/v1/nodes/:name/heartbeat", on_heartbeat, HTTPD_ADMIN},
	{"POST", "/v1/nodes/:name/events", on_events, HTTPD_ADMIN},
};

static void *
fake_loop(void *arg)
{
	struct fake *f = arg;

	while (!f->stop) {
		struct pollfd p = {.fd = httpd_fd(f->h), .events = POLLIN};

		poll(&p, 1, 50);
		httpd_run(f->h);
	}
	return NULL;
}

static int
fake_start(struct fake *f, int port)
{
	struct httpd_config c = {0};
	int rc;

	snprintf(f->listen, sizeof(f->listen), "127.0.0.1:%d", port);
	c.listen = f->listen;
	c.routes = fake_routes;
	c.nroutes = sizeof(fake_routes) / sizeof(fake_routes[0]);
	c.arg = f;
	c.token = FX_TOKEN;
	if ((rc = httpd_start(&f->h, &c)) < 0)
		return rc;
	f->stop = 0;
	return pthread_create(&f->thread, NULL, fake_loop, f) == 0 ? 0 : -1;
}

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->registers = json_array();
	f->heartbeats = json_array();
	f->events = json_array();
}

static void
fake_free(struct fake *f)
{
	if (f->h != NULL) {
		f->stop = 1;
		pthread_join(f->thread, NULL);
		httpd_free(f->h);
		f->h = NULL;
	}
	json_decref(f->registers);
	json_decref(f->heartbeats);
	json_decref(f->events);
	pthread_mutex_destroy(&f->mu);
}

static size_t
count(struct fake *f, json_t *list)
{
	size_t n;

	pthread_mutex_lock(&f->mu);
	n = json_array_size(list);
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* Whether an event for instance id reached state word to. */
static bool
has_event(struct fake *f, const char *id, const char *to)
{
	json_t *ev;
	size_t i;
	bool found = false;

	pthread_mutex_lock(&f->mu);
	json_array_foreach(f->events, i, ev) {
		const char *a = json_string_value(json_object_get(ev, "instance"));
		const char *b = json_string_value(json_object_get(ev, "to"));

		if (a && b && strcmp(a, id) == 0 && strcmp(b, to) == 0)
			found = true;
	}
	pthread_mutex_unlock(&f->mu);
	return found;
}

TEST(slave_report__registers_heartbeats_and_pushes_events)
{
	char ctl[128];
	const char *extra[] = {"--controller", ctl, "--heartbeat", "200ms",
	    "--labels", "zone=a,disk=ssd", "--cpu", "3", "--memory", "2G", NULL};
	struct fake f;
	json_t *reg;
	struct fx fx;
	int port;

	fake_init(&f);
	REQUIRE(daemon_free_port(&port) == 0);
	REQUIRE(fake_start(&f, port) == 0);
	snprintf(ctl, sizeof(ctl), "http://127.0.0.1:%d", port);
	REQUIRE(fx_start(&fx, extra) == 0);
	CHECK(WAIT_FOR(count(&f, f.registers) >= 1, FX_WAIT));
	pthread_mutex_lock(&f.mu);
	reg = json_deep_copy(json_array_get(f.registers, 0));
	pthread_mutex_unlock(&f.mu);
	CHECK_STR(json_string_value(json_object_get(reg, "name")), fx.name);
	CHECK_STR(json_string_value(json_object_get(json_object_get(reg, "labels"), "zone")), "a");
	CHECK_STR(json_string_value(json_object_get(json_object_get(reg, "labels"), "disk")), "ssd");
	CHECK(json_number_value(json_object_get(reg, "cpu")) == 3.0);
	CHECK_EQ_INT(json_integer_value(json_object_get(reg, "memory")), 2LL << 30);
	CHECK(json_is_array(json_object_get(reg, "instances")));
	CHECK_CONTAINS(json_string_value(json_object_get(reg, "address")), "127.0.0.1:");
	json_decref(reg);
	CHECK(WAIT_FOR(count(&f, f.heartbeats) >= 2, FX_WAIT));

	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"ev-0\",\"service\":\"ev\",\"version\":\"1\","
	    "\"kind\":\"pet\",\"command\":[\"/bin/sleep\",\"120\"],\"stop\":{\"timeout_ms\":3000}}",
	    NULL), 201);
	CHECK(WAIT_FOR(has_event(&f, "ev-0", "Run"), FX_WAIT));
	CHECK(has_event(&f, "ev-0", "Ready"));
	/* A crash and its restart are pushed at once, not only in heartbeats. */
	CHECK(kill((pid_t)fx_int(&fx, "ev-0", "pid"), SIGKILL) == 0);
	CHECK(WAIT_FOR(has_event(&f, "ev-0", "Provision") && fx_is(&fx, "ev-0", "state", "Run"),
	    FX_WAIT));
	fx_finish(&fx);
	fake_free(&f);
}

TEST(slave_report__works_alone_and_delivers_events_once_the_controller_is_back)
{
	char ctl[128];
	const char *extra[] = {"--controller", ctl, "--heartbeat", "200ms", NULL};
	long long pid;
	struct fake f;
	struct fx fx;
	int port;

	fake_init(&f);
	REQUIRE(daemon_free_port(&port) == 0);
	snprintf(ctl, sizeof(ctl), "http://127.0.0.1:%d", port);
	/* No controller yet: the slave runs and revives pets on its own. */
	REQUIRE(fx_start(&fx, extra) == 0);
	CHECK_EQ_INT(fx_post(&fx, "{\"id\":\"solo-0\",\"service\":\"solo\",\"version\":\"1\","
	    "\"kind\":\"pet\",\"command\":[\"/bin/sleep\",\"120\"],\"stop\":{\"timeout_ms\":3000}}",
	    NULL), 201);
	pid = fx_int(&fx, "solo-0", "pid");
	CHECK(kill((pid_t)pid, SIGKILL) == 0);
	CHECK(WAIT_FOR(fx_int(&fx, "solo-0", "restarts") == 1 && fx_is(&fx, "solo-0", "state", "Run"),
	    FX_WAIT));
	CHECK(daemon_log_contains(fx.d, "unreachable"));

	/* The controller comes up and refuses the first two pushes. */
	f.reject_events = 2;
	REQUIRE(fake_start(&f, port) == 0);
	CHECK(WAIT_FOR(count(&f, f.registers) >= 1, 40000));
	CHECK(WAIT_FOR(has_event(&f, "solo-0", "Run") && has_event(&f, "solo-0", "Provision"), 40000));
	pthread_mutex_lock(&f.mu);
	CHECK_EQ_INT(f.reject_events, 0);
	/* Nothing lost, nothing twice: created, Ready, Run, then the crash. */
	{
		json_t *ev;
		size_t i, runs = 0;

		json_array_foreach(f.events, i, ev)
			if (strcmp(json_string_value(json_object_get(ev, "to")), "Run") == 0)
				runs++;
		CHECK_EQ_INT(runs, 2);
	}
	pthread_mutex_unlock(&f.mu);
	fx_finish(&fx);
	fake_free(&f);
}

CHECK_MAIN(slave_report__registers_heartbeats_and_pushes_events,
    slave_report__works_alone_and_delivers_events_once_the_controller_is_back)
