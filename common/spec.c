/* spec.c - freeing the shared parts of specs, see spec.h. */
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
