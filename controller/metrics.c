/*
 * metrics.c - GET /metrics in the Prometheus text format (0.0.4): services,
 * instances and nodes by state, reconcile passes and their duration
 * (histogram), rollouts by result, commands sent and failed, heartbeat
 * age and capacity (declared and used, cpu and memory) per slave, alerts,
 * applies and their duration (histogram).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "log.h"
#include "units.h"

struct text {
	char *buf;
	size_t len, cap;
};

static void
emit(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
emit(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0);
		if ((t->buf = realloc(t->buf, t->cap)) == NULL)
			fatalx("out of memory");
	}
}

/* Upper bounds of the histogram buckets, in microseconds; the last bucket
 * (index CTL_HIST_BUCKETS - 1) is +Inf. */
static const int64_t hist_le_us[CTL_HIST_BUCKETS - 1] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000,
};

void
ctl_metrics_observe(uint64_t *hist, int64_t us)
{
	size_t k = 0;

	while (k < CTL_HIST_BUCKETS - 1 && us > hist_le_us[k])
		k++;
	hist[k]++;
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void
emit_label(struct text *t, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			emit(t, "\\\\");
		else if (*v == '"')
			emit(t, "\\\"");
		else if (*v == '\n')
			emit(t, "\\n");
		else
			emit(t, "%c", *v);
	}
}

/* One labelled per-node sample: name{node="..."} value. */
static void
emit_node(struct text *t, const char *name, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
emit_node(struct text *t, const char *name, const char *node, const char *fmt, ...)
{
	char val[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	emit(t, "%s{node=\"", name);
	emit_label(t, node);
	emit(t, "\"} %s\n", val);
}

/* A histogram family: cumulative buckets, +Inf, _sum and _count. */
static void
emit_hist(struct text *t, const char *name, const char *help, const uint64_t *hist,
    int64_t sum_us)
{
	uint64_t cum = 0;

	emit(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t k = 0; k < CTL_HIST_BUCKETS - 1; k++) {
		cum += hist[k];
		emit(t, "%s_bucket{le=\"%g\"} %llu\n", name, (double)hist_le_us[k] / 1e6,
		    (unsigned long long)cum);
	}
	cum += hist[CTL_HIST_BUCKETS - 1];
	emit(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
	    (unsigned long long)cum, name, (double)sum_us / 1e6, name, (unsigned long long)cum);
}

/* A double in the fewest digits that read back as the same value
 * ("0.75", not "0.75000000000000000"), so a scrape equals the JSON. */
static void
fmt_double(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

/*
 * Per node: the capacity its slave declares and what the resources of its
 * live instances hold, from the scheduler's own accounting
 * (ctl_nodes_input(), the numbers GET /v1/nodes shows). Four gauge
 * families, each one group, every node in each.
 */
static void
node_capacity(struct text *t, struct ctl *c)
{
	static const struct {
		const char *name, *help;
	} fams[] = {
		{"orch_node_cpu_used", "Cores the resources of the node's live instances hold."},
		{"orch_node_cpu_capacity", "Cores the node's slave declares (--cpu, else detected)."},
		{"orch_node_memory_used_bytes",
		    "Bytes the resources of the node's live instances hold."},
		{"orch_node_memory_capacity_bytes",
		    "Bytes the node's slave declares (--memory, else detected)."},
	};
	size_t nn;
	struct lifecycle_node *use = ctl_nodes_input(c, &nn);
	char val[64];

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		emit(t, "# HELP %s %s\n# TYPE %s gauge\n", fams[f].name, fams[f].help,
		    fams[f].name);
		for (size_t k = 0; k < nn; k++) {
			const struct lifecycle_node *n = &use[k];

			switch (f) {
			case 0:
				fmt_double(val, sizeof(val), n->used_cpu);
				break;
			case 1:
				fmt_double(val, sizeof(val), n->cpu);
				break;
			case 2:
				snprintf(val, sizeof(val), "%llu", (unsigned long long)n->used_memory);
				break;
			default:
				snprintf(val, sizeof(val), "%llu", (unsigned long long)n->memory);
				break;
			}
			emit_node(t, fams[f].name, n->name, "%s", val);
		}
	}
	free(use);
}

/* Services, instances and nodes by state. */
static void
by_state(struct text *t, const struct ctl *c)
{
	int svc[SERVICE__LAST] = {0}, inst[INSTANCE__LAST] = {0}, node[NODE__LAST] = {0};

	for (struct ctl_svc *s = c->svcs; s; s = s->next)
		if (s->state < SERVICE__LAST)
			svc[s->state]++;
	for (struct ctl_inst *i = c->insts; i; i = i->next)
		if (i->state < INSTANCE__LAST)
			inst[i->gone && i->state != INSTANCE_FAILED ? INSTANCE_DESTROY : i->state]++;
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		if (n->state < NODE__LAST)
			node[n->state]++;
	emit(t, "# HELP orch_services Services by lifecycle state.\n# TYPE orch_services gauge\n");
	for (int k = 0; k < SERVICE__LAST; k++)
		emit(t, "orch_services{state=\"%s\"} %d\n", lifecycle_service_state_name(k), svc[k]);
	emit(t, "# HELP orch_instances Instances by state.\n# TYPE orch_instances gauge\n");
	for (int k = 0; k < INSTANCE__LAST; k++)
		emit(t, "orch_instances{state=\"%s\"} %d\n", proto_state_name(k), inst[k]);
	emit(t, "# HELP orch_nodes Nodes by state.\n# TYPE orch_nodes gauge\n");
	for (int k = 0; k < NODE__LAST; k++)
		emit(t, "orch_nodes{state=\"%s\"} %d\n", lifecycle_node_state_name(k), node[k]);
}

/* Per node: commands sent and failed, heartbeat age. */
static void
per_node(struct text *t, const struct ctl *c)
{
	int64_t now = orch_mono_ms();

	emit(t, "# HELP orch_slave_commands_sent_total Commands sent to a slave.\n"
	    "# TYPE orch_slave_commands_sent_total counter\n");
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		emit_node(t, "orch_slave_commands_sent_total", n->name, "%llu",
		    (unsigned long long)n->cmds_sent);
	emit(t, "# HELP orch_slave_commands_failed_total Commands that failed or were refused.\n"
	    "# TYPE orch_slave_commands_failed_total counter\n");
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		emit_node(t, "orch_slave_commands_failed_total", n->name, "%llu",
		    (unsigned long long)n->cmds_failed);
	emit(t, "# HELP orch_node_heartbeat_age_seconds Time since the node's last heartbeat"
	    " (nodes heard since the controller started).\n"
	    "# TYPE orch_node_heartbeat_age_seconds gauge\n");
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		if (n->seen)
			emit_node(t, "orch_node_heartbeat_age_seconds", n->name, "%.3f",
			    (double)(now - n->last_hb_mono) / 1e3);
}

/* What the controller did: passes, rollouts, alerts, applies. */
static void
activity(struct text *t, const struct ctl *c)
{
	emit(t, "# HELP orch_reconcile_total Reconcile passes.\n# TYPE orch_reconcile_total counter\n"
	    "orch_reconcile_total %llu\n", (unsigned long long)c->reconciles);
	emit_hist(t, "orch_reconcile_duration_seconds", "Time spent in a reconcile pass.",
	    c->reconcile_hist, c->reconcile_sum_us);
	emit(t, "# HELP orch_reconcile_last_duration_seconds Duration of the last pass.\n"
	    "# TYPE orch_reconcile_last_duration_seconds gauge\n"
	    "orch_reconcile_last_duration_seconds %.6f\n", (double)c->reconcile_last_us / 1e6);
	emit(t, "# HELP orch_rollouts_total Applied revisions by outcome.\n"
	    "# TYPE orch_rollouts_total counter\n"
	    "orch_rollouts_total{result=\"succeeded\"} %llu\norch_rollouts_total{result=\"failed\"} %llu\n",
	    (unsigned long long)c->rollouts_succeeded, (unsigned long long)c->rollouts_failed);
	emit(t, "# HELP orch_alerts_total Alerts posted to the webhook.\n"
	    "# TYPE orch_alerts_total counter\n"
	    "orch_alerts_total{result=\"sent\"} %llu\norch_alerts_total{result=\"failed\"} %llu\n",
	    (unsigned long long)c->alerts_sent, (unsigned long long)c->alerts_failed);
	emit(t, "# HELP orch_applies_total Applies by result.\n# TYPE orch_applies_total counter\n"
	    "orch_applies_total{result=\"applied\"} %llu\norch_applies_total{result=\"rejected\"} %llu\n",
	    (unsigned long long)c->applies, (unsigned long long)c->applies_rejected);
	emit_hist(t, "orch_apply_duration_seconds", "Time spent handling POST /v1/apply.",
	    c->apply_hist, c->apply_sum_us);
}

static void
haproxy_metrics(struct text *t, const struct ctl *c)
{
	emit(t, "# HELP orch_haproxy_changes_total HAProxy servers added, set, drained, deleted, switches.\n"
	    "# TYPE orch_haproxy_changes_total counter\norch_haproxy_changes_total %llu\n"
	    "# HELP orch_haproxy_errors_total HAProxy calls that failed (retried).\n"
	    "# TYPE orch_haproxy_errors_total counter\norch_haproxy_errors_total %llu\n",
	    (unsigned long long)c->haproxy_changes, (unsigned long long)c->haproxy_errors);
	emit(t, "# HELP orch_haproxy_service_errors_total HAProxy syncs of the service that"
	    " failed (its reason says why while it lasts).\n"
	    "# TYPE orch_haproxy_service_errors_total counter\n");
	for (struct ctl_svc *s = c->svcs; s; s = s->next)
		if (s->haproxy_errors > 0) {
			emit(t, "orch_haproxy_service_errors_total{service=\"");
			emit_label(t, s->name);
			emit(t, "\"} %llu\n", (unsigned long long)s->haproxy_errors);
		}
}

static void
store_metrics(struct text *t, const struct ctl *c)
{
	emit(t, "# HELP orch_store_writable Whether the store takes writes (0/1); while it"
	    " does not, writes are refused with 507 and no instance is started.\n"
	    "# TYPE orch_store_writable gauge\norch_store_writable %d\n"
	    "# HELP orch_store_write_failures_total Store commits that failed.\n"
	    "# TYPE orch_store_write_failures_total counter\norch_store_write_failures_total %llu\n"
	    "# HELP orch_store_lost_events_total Events of failed commits (not in the log).\n"
	    "# TYPE orch_store_lost_events_total counter\norch_store_lost_events_total %llu\n",
	    c->store_err == NULL, (unsigned long long)c->store_failures_total,
	    (unsigned long long)c->store_lost_events);
	emit(t, "# HELP orch_revision Sequence number of the desired revision.\n"
	    "# TYPE orch_revision gauge\norch_revision %llu\n", (unsigned long long)c->rev_seq);
}

void
ctl_api_metrics(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	struct text t = {.cap = 4096};
	char *http;

	if ((t.buf = malloc(t.cap)) == NULL)
		fatalx("out of memory");
	by_state(&t, c);
	activity(&t, c);
	per_node(&t, c);
	node_capacity(&t, c);
	haproxy_metrics(&t, c);
	if ((http = httpd_metrics_text(c->http)) != NULL) {
		emit(&t, "%s", http);
		free(http);
	}
	store_metrics(&t, c);
	out->status = 200;
	out->content_type = "text/plain; version=0.0.4";
	out->body = t.buf;
	out->len = t.len;
}
