/*
 * units.h - durations, sizes and clocks, shared by the manifest, the
 * daemons and the CLI.
 *
 * Durations are int64_t milliseconds everywhere in orch. The text form is
 * one or more <number><unit> groups, Go/Nomad style: "300ms", "1s", "2m",
 * "1h30m", "1.5s"; units ms, s, m, h. A bare number is rejected (a unit is
 * always required, so "30" is never mistaken for ms or s).
 *
 * Sizes are uint64_t bytes. The text form is <number>[unit] with units
 * K, M, G, T (powers of 1024, as systemd's MemoryMax= and docker's -m read
 * them); Ki, Mi, Gi, Ti and KB, MB, GB, TB are accepted with the same
 * meaning; a bare number is bytes.
 */
#ifndef ORCH_UNITS_H
#define ORCH_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parse a duration; 0 or ORCH_EINVALID with a message. */
int orch_parse_duration(int64_t *out_ms, const char *s);
/* Parse a size; 0 or ORCH_EINVALID with a message. */
int orch_parse_size(uint64_t *out_bytes, const char *s);
/* Shortest exact text for a duration ("1m30s", "250ms", "0s"). */
void orch_fmt_duration(char *buf, size_t len, int64_t ms);
/* Text for a size, exact when it is a whole unit ("128M", "1536K", "100"). */
void orch_fmt_size(char *buf, size_t len, uint64_t bytes);

/* CLOCK_MONOTONIC in ms: for timeouts, backoff and intervals. */
int64_t orch_mono_ms(void);
/* Wall clock (CLOCK_REALTIME) in ms since the epoch: for records only. */
int64_t orch_wall_ms(void);

#endif
