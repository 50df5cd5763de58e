/* test_err.c - common/err.c: the thread-local message and its prefixes. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "err.h"

TEST(err_prefix__once_per_call)
{
	/* The bug this guards: orch_err_set(rc, "%s: %s", name, orch_err_last())
	 * formats into the buffer it reads, and printed "web: web: web:". */
	orch_err_set(ORCH_EINVALID, "bad port");
	CHECK_EQ_INT(orch_err_prefix(ORCH_EEXISTS, "%s", "web"), ORCH_EEXISTS);
	CHECK_STR(orch_err_last(), "web: bad port");
	CHECK_EQ_INT(orch_err_code(), ORCH_EEXISTS);
	orch_err_prefix(ORCH_EEXISTS, "rollback %s", "app");
	CHECK_STR(orch_err_last(), "rollback app: web: bad port");
}

TEST(err_prefix__empty_message_and_truncation)
{
	char big[2000];

	orch_err_clear();
	orch_err_prefix(ORCH_ERROR, "web");
	CHECK_STR(orch_err_last(), "web");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	orch_err_set(ORCH_ERROR, "%s", big);
	orch_err_prefix(ORCH_ERROR, "svc");
	CHECK(strncmp(orch_err_last(), "svc: xxx", 8) == 0);
	CHECK_EQ_INT(strlen(orch_err_last()), 1023);
}

TEST(err_sys__appends_strerror_and_keeps_errno)
{
	errno = ENOENT;
	orch_err_sys(ORCH_ERROR, "open %s", "x");
	CHECK_STR(orch_err_last(), "open x: No such file or directory");
	CHECK_EQ_INT(errno, ENOENT);
}

CHECK_MAIN(err_prefix__once_per_call, err_prefix__empty_message_and_truncation,
    err_sys__appends_strerror_and_keeps_errno)
