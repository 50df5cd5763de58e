/*
 * log.h - daemon logging, one line per event (ntpd's log.h).
 *
 * Lines look like:  2026-11-23T10:00:00.123Z level=info msg text key=value
 * Callers put the ids they talk about into the message as key=value
 * (service=web instance=web-3), so a line can be grepped on its own.
 * log_warn() appends strerror(errno); log_warnx() does not. fatal() and
 * fatalx() log and exit(1): only at start-up or for broken invariants.
 */
#ifndef ORCH_LOG_H
#define ORCH_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* "debug", "info", "warn", "error" into *out; false for anything else. */
bool log_level_parse(enum log_level *out, const char *word);
/* prog names the daemon in every line; out NULL means stderr (not owned). */
void log_init(const char *prog, enum log_level min, FILE *out);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
