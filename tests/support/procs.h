/*
 * procs.h - counting instance processes on this host by their
 * environment, for tests that must prove a pet never runs twice.
 *
 * An instance carries ORCH_INSTANCE_ID, ORCH_SERVICE and ORCH_DATA_DIR
 * (slave/spawn.c), and its children inherit them. A *copy* is a matching
 * live process whose parent does not match too (under LeakSanitizer an
 * instance that exits forks a tracer that carries its environment: a
 * child, not a second copy).
 */
#ifndef ORCH_TEST_PROCS_H
#define ORCH_TEST_PROCS_H

#include <stddef.h>
#include <sys/types.h>

#define PROCS_MAX 256

/* Copies of instance id (any when NULL) of service (any when NULL) whose
 * ORCH_DATA_DIR lies under dir: their pids into out (up to max; out may
 * be NULL), and the count. */
size_t procs_copies(pid_t *out, size_t max, const char *dir, const char *id,
    const char *service);

/* A thread that counts the copies of id under dir every 20 ms and keeps
 * the most it saw at once. */
struct procs_sampler;
int procs_sampler_start(struct procs_sampler **out, const char *dir, const char *id);
/* Samples taken so far. */
int procs_sampler_samples(struct procs_sampler *s);
/* Stop and free; the most copies seen at once (-1: s is NULL). */
int procs_sampler_stop(struct procs_sampler *s);

#endif
