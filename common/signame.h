/*
 * signame.h - signal names ("TERM" <-> SIGTERM), the one table shared by
 * the controller<->slave protocol (proto.c) and the manifest reader.
 */
#ifndef ORCH_SIGNAME_H
#define ORCH_SIGNAME_H

/* "TERM" or "SIGTERM" -> SIGTERM; names only, no numbers. -1 when unknown. */
int orch_signal_lookup(const char *name);
/* Like orch_signal_lookup, also taking a number: "15" -> 15 (1..NSIG-1).
 * -1 when unknown or NULL. */
int orch_signal_parse(const char *s);
/* SIGTERM -> "TERM" (static); NULL when the signal has no name here. */
const char *orch_signal_name(int sig);

#endif
