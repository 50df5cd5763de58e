/*
 * err.h - the one error convention of orch.
 *
 * Functions that can fail return int: 0 on success, or one of the negative
 * ORCH_E* codes below. Before returning an error they set a message with
 * orch_err_set() (or orch_err_sys(), which appends strerror(errno)); the
 * caller reads it with orch_err_last(). The message is thread-local and
 * stays until the next orch_err_set() on that thread (libgit2's model).
 */
#ifndef ORCH_ERR_H
#define ORCH_ERR_H

enum orch_errcode {
	ORCH_OK = 0,
	ORCH_ERROR = -1,     /* generic failure; the message says what */
	ORCH_ENOTFOUND = -2, /* a named thing does not exist */
	ORCH_EINVALID = -3,  /* input rejected (parse or validation) */
	ORCH_EEXISTS = -4,   /* already exists / conflicts */
	ORCH_ETOOBIG = -5,   /* input over a size or count limit */
	ORCH_EAUTH = -6,     /* missing or wrong credentials */
	ORCH_EUNAVAIL = -7,  /* a peer could not be reached */
};

/* Set the thread's error message (printf-style); returns code. */
int orch_err_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like orch_err_set, appending ": strerror(errno)". Preserves errno. */
int orch_err_sys(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Put "prefix: " (printf-style) before the thread's message, keeping its
 * code's place: orch_err_prefix(rc, "web") turns "bad port" into
 * "web: bad port". Safe where orch_err_set(rc, "%s: %s", x,
 * orch_err_last()) is not (it would format into the buffer it reads).
 * Returns code. */
int orch_err_prefix(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The last message set on this thread, or "" when none. Lent, not owned. */
const char *orch_err_last(void);
/* The code passed with the last message (ORCH_OK when none). */
int orch_err_code(void);
void orch_err_clear(void);

#endif
