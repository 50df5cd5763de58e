/* metrics.c - GET /metrics in the Prometheus text format. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "slave.h"

/* The plain counters of struct metrics, one family each. */
static const struct {
	const char *name, *help;
	size_t off;
} counters[] = {
	{"orch_slave_restarts_total", "Restarts done by the restart policy.",
	    offsetof(struct metrics, restarts)},
	{"orch_slave_starts_total", "Processes started.", offsetof(struct metrics, starts)},
	{"orch_slave_stops_total", "Stop requests.", offsetof(struct metrics, stops)},
	{"orch_slave_failures_total", "Instances that went Failed.",
	    offsetof(struct metrics, failures)},
	{"orch_slave_spawn_errors_total", "Starts that could not exec.",
	    offsetof(struct metrics, spawn_errors)},
	{"orch_slave_events_sent_total", "Events acknowledged by the controller.",
	    offsetof(struct metrics, events_sent)},
	{"orch_slave_events_dropped_total", "Events dropped from a full queue.",
	    offsetof(struct metrics, events_dropped)},
	{"orch_slave_heartbeat_lists_total", "Acknowledged heartbeats that carried the "
	    "instance list (the others carried its digest).",
	    offsetof(struct metrics, heartbeat_lists)},
};

static void
render_instances(FILE *f, const struct slave *s)
{
	size_t by_state[INSTANCE__LAST] = {0};
	uint64_t restarts = 0;

	for (const struct instance *in = s->instances; in; in = in->next) {
		if (in->removed)
			continue;
		by_state[inst_public_state(in->state)]++;
		restarts += (uint64_t)in->restarts;
	}
	fprintf(f, "# HELP orch_slave_instances Instances on this node by state.\n"
	    "# TYPE orch_slave_instances gauge\n");
	for (int i = 0; i < INSTANCE__LAST; i++)
		fprintf(f, "orch_slave_instances{state=\"%s\"} %zu\n",
		    proto_state_name(i), by_state[i]);
	fprintf(f, "# HELP orch_slave_instance_restarts Restarts of the current instances.\n"
	    "# TYPE orch_slave_instance_restarts gauge\n"
	    "orch_slave_instance_restarts %llu\n", (unsigned long long)restarts);
}

static void
render_health(FILE *f, const struct metrics *m)
{
	fprintf(f, "# HELP orch_slave_health_checks_total Health probes by type.\n"
	    "# TYPE orch_slave_health_checks_total counter\n");
	for (int t = HEALTH_HTTP; t < HEALTH__LAST; t++)
		fprintf(f, "orch_slave_health_checks_total{type=\"%s\"} %llu\n",
		    proto_health_type_name(t), (unsigned long long)m->checks[t]);
	fprintf(f, "# HELP orch_slave_health_check_failures_total Failed probes by type.\n"
	    "# TYPE orch_slave_health_check_failures_total counter\n");
	for (int t = HEALTH_HTTP; t < HEALTH__LAST; t++)
		fprintf(f, "orch_slave_health_check_failures_total{type=\"%s\"} %llu\n",
		    proto_health_type_name(t), (unsigned long long)m->check_failures[t]);
	fprintf(f, "# HELP orch_slave_health_check_seconds Probe latency (summary).\n"
	    "# TYPE orch_slave_health_check_seconds summary\n");
	for (int t = HEALTH_HTTP; t < HEALTH__LAST; t++) {
		fprintf(f, "orch_slave_health_check_seconds_sum{type=\"%s\"} %.3f\n",
		    proto_health_type_name(t), (double)m->check_ms_sum[t] / 1000.0);
		fprintf(f, "orch_slave_health_check_seconds_count{type=\"%s\"} %llu\n",
		    proto_health_type_name(t), (unsigned long long)m->checks[t]);
	}
}

char *
metrics_render(const struct slave *s)
{
	size_t len = 0;
	char *buf = NULL, *http;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	render_instances(f, s);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name,
		    counters[i].help, counters[i].name, counters[i].name,
		    (unsigned long long)*(const uint64_t *)((const char *)&s->m +
		    counters[i].off));
	render_health(f, &s->m);
	fprintf(f, "# HELP orch_slave_heartbeats_total Heartbeats by result.\n"
	    "# TYPE orch_slave_heartbeats_total counter\n"
	    "orch_slave_heartbeats_total{result=\"ok\"} %llu\n"
	    "orch_slave_heartbeats_total{result=\"failed\"} %llu\n",
	    (unsigned long long)s->m.heartbeats_ok, (unsigned long long)s->m.heartbeats_failed);
	fprintf(f, "# HELP orch_slave_cgroup Whether cgroup limits are available (0/1).\n"
	    "# TYPE orch_slave_cgroup gauge\norch_slave_cgroup %d\n", s->cgroup_mode != 0);
	fprintf(f, "# HELP orch_slave_state_writable Whether the state file could be written"
	    " at the last try (0/1); starts and stops are refused while it cannot.\n"
	    "# TYPE orch_slave_state_writable gauge\norch_slave_state_writable %d\n"
	    "# HELP orch_slave_state_write_failures_total Writes of the state file that failed.\n"
	    "# TYPE orch_slave_state_write_failures_total counter\n"
	    "orch_slave_state_write_failures_total %llu\n", s->state_err == NULL,
	    (unsigned long long)s->state_failures_total);
	if ((http = httpd_metrics_text(s->httpd)) != NULL) {
		fputs(http, f);
		free(http);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
