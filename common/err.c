/* err.c - thread-local error message, see err.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static __thread char err_msg[1024];
static __thread int err_code;

int
orch_err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	err_code = code;
	return code;
}

int
orch_err_sys(int code, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	len = strlen(err_msg);
	snprintf(err_msg + len, sizeof(err_msg) - len, ": %s", strerror(saved));
	err_code = code;
	errno = saved;
	return code;
}

int
orch_err_prefix(int code, const char *fmt, ...)
{
	char prev[sizeof(err_msg)];
	size_t len;
	va_list ap;

	/* Copy first: the message is both the input and the output. */
	memcpy(prev, err_msg, sizeof(prev));
	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	len = strlen(err_msg);
	if (prev[0] != '\0')
		snprintf(err_msg + len, sizeof(err_msg) - len, ": %s", prev);
	err_code = code;
	return code;
}

const char *
orch_err_last(void)
{
	return err_msg;
}

int
orch_err_code(void)
{
	return err_code;
}

void
orch_err_clear(void)
{
	err_msg[0] = '\0';
	err_code = ORCH_OK;
}
