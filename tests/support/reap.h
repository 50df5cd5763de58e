/*
 * reap.h - no instance process outlives a test fixture.
 *
 * An orch-slave that exits leaves its instances running by design
 * (docs/slave.md, "Processes outlive the slave"), so a fixture that only
 * stops its slaves leaves demo apps behind. A fixture's teardown therefore
 * goes in three steps:
 *
 *   reap_slave_delete_all(url, token)   for each slave that still runs
 *   WAIT_FOR(reap_slave_empty(...), a few seconds)
 *   stop the slaves, then reap_kill(&n, dir, grace)   the last resort
 *
 * The first two stop instances the way the product does (the instance's
 * stop signal, its whole process tree, its cgroup). reap_kill() catches
 * what they cannot: instances of a slave the test killed and left dead,
 * and instances whose stop did not end in time.
 *
 * Which processes are ours: those whose environment carries
 * ORCH_INSTANCE_ID and an ORCH_DATA_DIR under dir, the fixture's own
 * mkdtemp() directory. A slave puts both into every instance it starts
 * (slave/spawn.c) and every descendant inherits them, so the pair proves
 * the process descends from a slave whose --data-dir lies in dir: one we
 * started. Checking the parent pid (as bench/convergence.c does while its
 * slaves run) does not work here: once a slave is gone, its instances
 * are re-parented to init or a subreaper, which is exactly when we need
 * to find them. The slave's state file is no better: it lists only each
 * instance's main pid (not children that left its process group), an
 * instance in Provision has no pid yet, and a pet restarted in the
 * SIGCHLD path runs before its new pid is written. A command line or cwd
 * does not name the instance reliably (apps live in the build dir; the
 * slaves and the controller share the instance's cwd). The slave uses
 * the same pair to find orphans of its own (slave/supervise.c).
 *
 * Functions return 0 or a negative ORCH_E* with orch_err_last() set.
 */
#ifndef ORCH_TEST_REAP_H
#define ORCH_TEST_REAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* DELETE every instance that the slave at url (http://HOST:PORT) lists,
 * with the bearer token. The slave stops them in the background.
 * ORCH_EUNAVAIL when it does not answer the list. */
int reap_slave_delete_all(const char *url, const char *token);
/* Whether the slave at url answers its list, and the list is empty. */
bool reap_slave_empty(const char *url, const char *token);

/* Live (not zombie) processes of the instances under dir; see above. */
size_t reap_count(const char *dir);
/* The last resort: the stop signal SIGTERM (with SIGCONT, for a stopped
 * process) to every process reap_count() counts, up to grace_ms for them
 * to exit, then SIGKILL to those left and a short wait. Each process is
 * signalled by pid through a pidfd after checking it is ours, so a pid
 * reused meanwhile is never hit. *out_found is how many were found at
 * first. 0 when none is left, else ORCH_ERROR saying how many. */
int reap_kill(size_t *out_found, const char *dir, int64_t grace_ms);

#endif
