/* spec.c - the shared parts of specs: their defaults and freeing; see spec.h. */
#include <signal.h>
#include <stdlib.h>

#include "spec.h"

void
orch_strv_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
orch_kv_free(struct orch_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void
orch_artifact_spec_release(struct artifact_spec *a)
{
	free(a->url);
	free(a->sha256);
}

void
orch_health_spec_release(struct health_spec *h)
{
	free(h->path);
	free(h->port);
	orch_strv_free(h->command, h->ncommand);
}

void
orch_spec_defaults(struct health_spec *h, struct restart_spec *r,
    struct stop_spec *st, struct limits_spec *l)
{
	*h = (struct health_spec){
		.type = HEALTH_NONE,
		.interval_ms = 5000,
		.timeout_ms = 1000,
		.start_period_ms = 0,
		.healthy_threshold = 1,
		.unhealthy_threshold = 3,
	};
	*r = (struct restart_spec){
		.limit = 5,
		.window_ms = 60000,
		.backoff_ms = 100,
		.max_backoff_ms = 10000,
	};
	*st = (struct stop_spec){.signal = SIGTERM, .timeout_ms = 10000};
	*l = (struct limits_spec){-1, -1, -1, -1, -1, -1};
}
