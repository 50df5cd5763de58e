/*
 * spec.h - functions on the shared types of spec-t.h: freeing the parts
 * that a manifest's struct service_spec and the protocol's struct
 * instance_spec both hold, so the two owners free them the same way.
 */
#ifndef ORCH_SPEC_H
#define ORCH_SPEC_H

#include <stddef.h>

#include "spec-t.h"

/* Free n strings and the array (NULL: nothing). */
void orch_strv_free(char **v, size_t n);
/* Free n key/value pairs and the array (NULL: nothing). */
void orch_kv_free(struct orch_kv *kv, size_t n);
/* Free what the struct owns (not the struct itself); fields left dangling. */
void orch_artifact_spec_release(struct artifact_spec *a);
void orch_health_spec_release(struct health_spec *h);

/* The defaults of the shared parts, written here only: the manifest and
 * the slave's protocol both start from them, so a field a manifest leaves
 * out and one a start command leaves out mean the same. Sets every field
 * of the four structs (pointers NULL). */
void orch_spec_defaults(struct health_spec *h, struct restart_spec *r,
    struct stop_spec *st, struct limits_spec *l);

#endif
