/* units.c - see units.h. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "units.h"

/* A year of milliseconds is far beyond any sane timeout; capping keeps the
 * arithmetic of callers (now + duration) clear of overflow. */
#define DURATION_MAX_MS (366LL * 24 * 3600 * 1000)

int
orch_parse_duration(int64_t *out_ms, const char *s)
{
	const char *p = s;
	double total = 0;

	if (s == NULL || *s == '\0')
		return orch_err_set(ORCH_EINVALID, "empty duration");
	while (*p) {
		char *end;
		double v, mult;

		if (!isdigit((unsigned char)*p) && *p != '.')
			goto bad;
		v = strtod(p, &end);
		if (end == p || v < 0)
			goto bad;
		p = end;
		if (strncmp(p, "ms", 2) == 0) {
			mult = 1;
			p += 2;
		} else if (*p == 's') {
			mult = 1000;
			p++;
		} else if (*p == 'm') {
			mult = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			mult = 3600 * 1000;
			p++;
		} else {
			goto bad;
		}
		total += v * mult;
		if (total > (double)DURATION_MAX_MS)
			return orch_err_set(ORCH_EINVALID,
			    "duration '%s' is too long (at most 8784h)", s);
	}
	*out_ms = (int64_t)llround(total);
	return 0;
bad:
	return orch_err_set(ORCH_EINVALID,
	    "bad duration '%s' (expected e.g. 300ms, 1s, 2m, 1h30m)", s);
}

int
orch_parse_size(uint64_t *out_bytes, const char *s)
{
	const char *p = s;
	char *end;
	double v, mult = 1;

	if (s == NULL || *s == '\0')
		return orch_err_set(ORCH_EINVALID, "empty size");
	if (!isdigit((unsigned char)*p))
		goto bad;
	v = strtod(p, &end);
	if (end == p || v < 0)
		goto bad;
	p = end;
	switch (*p) {
	case '\0': mult = 1; break;
	case 'K': mult = 1024.0; break;
	case 'M': mult = 1024.0 * 1024; break;
	case 'G': mult = 1024.0 * 1024 * 1024; break;
	case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
	default: goto bad;
	}
	if (*p) {
		p++;
		if (*p == 'i' || *p == 'B')
			p++;
		if (*p)
			goto bad;
	}
	v *= mult;
	if (v > 1.8e19)
		return orch_err_set(ORCH_EINVALID, "size '%s' is too large", s);
	if (v != floor(v))
		return orch_err_set(ORCH_EINVALID,
		    "size '%s' is not a whole number of bytes", s);
	*out_bytes = (uint64_t)v;
	return 0;
bad:
	return orch_err_set(ORCH_EINVALID,
	    "bad size '%s' (expected e.g. 512K, 128M, 2G)", s);
}

void
orch_fmt_duration(char *buf, size_t len, int64_t ms)
{
	static const struct { const char *unit; int64_t ms; } u[] = {
		{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
	};
	size_t off = 0;

	if (ms <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]) && off < len; i++) {
		if (ms >= u[i].ms) {
			int n = snprintf(buf + off, len - off, "%lld%s",
			    (long long)(ms / u[i].ms), u[i].unit);
			if (n < 0)
				return;
			off += (size_t)n;
			ms %= u[i].ms;
		}
	}
}

void
orch_fmt_size(char *buf, size_t len, uint64_t bytes)
{
	static const char units[] = "TGMK";
	for (int i = 0; i < 4; i++) {
		uint64_t m = 1ULL << (10 * (4 - i));
		if (bytes >= m && bytes % m == 0) {
			snprintf(buf, len, "%llu%c",
			    (unsigned long long)(bytes / m), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

int64_t
orch_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
orch_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
