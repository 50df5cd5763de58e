/* log.c - see log.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char *log_prog = "orch";
static enum log_level log_min = LOG_LEVEL_INFO;
static FILE *log_out;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
log_init(const char *prog, enum log_level min, FILE *out)
{
	log_prog = prog;
	log_min = min;
	log_out = out;
}

static void
vlog(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	FILE *f = log_out ? log_out : stderr;
	struct timespec ts;
	struct tm tm;
	char when[32];

	if (level < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf-sequence under the stdio lock, so lines never interleave. */
	flockfile(f);
	fprintf(f, "%s.%03ldZ %s level=%s ", when, ts.tv_nsec / 1000000L,
	    log_prog, level_names[level]);
	vfprintf(f, fmt, ap);
	if (with_errno)
		fprintf(f, ": %s", strerror(saved));
	fputc('\n', f);
	fflush(f);
	funlockfile(f);
	errno = saved;
}

#define LOG_FN(name, level, with_errno)          \
	void name(const char *fmt, ...)              \
	{                                            \
		va_list ap;                              \
		va_start(ap, fmt);                       \
		vlog(level, with_errno, fmt, ap);        \
		va_end(ap);                              \
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

bool
log_level_parse(enum log_level *out, const char *word)
{
	static const char *const words[] = {
		[LOG_LEVEL_DEBUG] = "debug", [LOG_LEVEL_INFO] = "info",
		[LOG_LEVEL_WARN] = "warn", [LOG_LEVEL_ERROR] = "error",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(word, words[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	return false;
}
