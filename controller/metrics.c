/*
 * metrics.c - GET /metrics in the Prometheus text format (0.0.4): services,
 * instances and nodes by state, reconcile passes and their duration,
 * commands sent and failed per slave, alerts and applies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "log.h"

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

void
ctl_api_metrics(struct httpd_resp *out, const struct httpd_req *req, void *arg)
{
	struct ctl *c = arg;
	struct text t = {.cap = 4096};
	int svc[SERVICE__LAST] = {0}, inst[INSTANCE__LAST] = {0}, node[NODE__LAST] = {0};

	if ((t.buf = malloc(t.cap)) == NULL)
		fatalx("out of memory");
	for (struct ctl_svc *s = c->svcs; s; s = s->next)
		if (s->state < SERVICE__LAST)
			svc[s->state]++;
	for (struct ctl_inst *i = c->insts; i; i = i->next)
		if (i->state < INSTANCE__LAST)
			inst[i->gone && i->state != INSTANCE_FAILED ? INSTANCE_DESTROY : i->state]++;
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		if (n->state < NODE__LAST)
			node[n->state]++;
	emit(&t, "# HELP orch_services Services by lifecycle state.\n# TYPE orch_services gauge\n");
	for (int k = 0; k < SERVICE__LAST; k++)
		emit(&t, "orch_services{state=\"%s\"} %d\n", lifecycle_service_state_name(k), svc[k]);
	emit(&t, "# HELP orch_instances Instances by state.\n# TYPE orch_instances gauge\n");
	for (int k = 0; k < INSTANCE__LAST; k++)
		emit(&t, "orch_instances{state=\"%s\"} %d\n", proto_state_name(k), inst[k]);
	emit(&t, "# HELP orch_nodes Nodes by state.\n# TYPE orch_nodes gauge\n");
	for (int k = 0; k < NODE__LAST; k++)
		emit(&t, "orch_nodes{state=\"%s\"} %d\n", lifecycle_node_state_name(k), node[k]);
	emit(&t, "# HELP orch_reconcile_total Reconcile passes.\n# TYPE orch_reconcile_total counter\n"
	    "orch_reconcile_total %llu\n", (unsigned long long)c->reconciles);
	emit(&t, "# HELP orch_reconcile_duration_seconds Time spent reconciling.\n"
	    "# TYPE orch_reconcile_duration_seconds summary\n"
	    "orch_reconcile_duration_seconds_sum %.6f\norch_reconcile_duration_seconds_count %llu\n",
	    (double)c->reconcile_sum_us / 1e6, (unsigned long long)c->reconciles);
	emit(&t, "# HELP orch_reconcile_last_duration_seconds Duration of the last pass.\n"
	    "# TYPE orch_reconcile_last_duration_seconds gauge\n"
	    "orch_reconcile_last_duration_seconds %.6f\n", (double)c->reconcile_last_us / 1e6);
	emit(&t, "# HELP orch_slave_commands_sent_total Commands sent to a slave.\n"
	    "# TYPE orch_slave_commands_sent_total counter\n");
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		emit(&t, "orch_slave_commands_sent_total{node=\"%s\"} %llu\n", n->name,
		    (unsigned long long)n->cmds_sent);
	emit(&t, "# HELP orch_slave_commands_failed_total Commands that failed or were refused.\n"
	    "# TYPE orch_slave_commands_failed_total counter\n");
	for (struct ctl_node *n = c->nodes; n; n = n->next)
		emit(&t, "orch_slave_commands_failed_total{node=\"%s\"} %llu\n", n->name,
		    (unsigned long long)n->cmds_failed);
	emit(&t, "# HELP orch_alerts_total Alerts posted to the webhook.\n"
	    "# TYPE orch_alerts_total counter\n"
	    "orch_alerts_total{result=\"sent\"} %llu\norch_alerts_total{result=\"failed\"} %llu\n",
	    (unsigned long long)c->alerts_sent, (unsigned long long)c->alerts_failed);
	emit(&t, "# HELP orch_applies_total Applies by result.\n# TYPE orch_applies_total counter\n"
	    "orch_applies_total{result=\"applied\"} %llu\norch_applies_total{result=\"rejected\"} %llu\n",
	    (unsigned long long)c->applies, (unsigned long long)c->applies_rejected);
	emit(&t, "# HELP orch_haproxy_changes_total HAProxy servers added, set, drained, deleted, switches.\n"
	    "# TYPE orch_haproxy_changes_total counter\norch_haproxy_changes_total %llu\n"
	    "# HELP orch_haproxy_errors_total HAProxy calls that failed (retried).\n"
	    "# TYPE orch_haproxy_errors_total counter\norch_haproxy_errors_total %llu\n",
	    (unsigned long long)c->haproxy_changes, (unsigned long long)c->haproxy_errors);
	emit(&t, "# HELP orch_revision Sequence number of the desired revision.\n"
	    "# TYPE orch_revision gauge\norch_revision %llu\n", (unsigned long long)c->rev_seq);
	out->status = 200;
	out->content_type = "text/plain; version=0.0.4";
	out->body = t.buf;
	out->len = t.len;
}
