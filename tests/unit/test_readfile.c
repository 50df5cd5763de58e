/* test_readfile.c - common/readfile: the one reader of credentials and
 * PEM files (a private one refused when others may read it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "readfile.h"

static char dir[] = "/tmp/orch-readfile-XXXXXX";

static const char *
put(const char *name, const char *text, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
	chmod(path, mode);
	return path;
}

TEST(readfile__reads_whole_and_caps)
{
	char *s = NULL;

	REQUIRE(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(readfile_small(&s, put("a", "hello\n", 0600), 16, READFILE_PRIVATE,
	    "test file"), 0);
	CHECK_STR(s, "hello\n");
	free(s);
	/* Exactly the cap is fine; one byte over is not. */
	CHECK_EQ_INT(readfile_small(&s, put("b", "0123456789", 0600), 10, 0, "test file"), 0);
	free(s);
	CHECK_EQ_INT(readfile_small(&s, put("c", "0123456789x", 0600), 10, 0, "test file"),
	    ORCH_EINVALID);
	CHECK(s == NULL);
}

TEST(readfile__private_refuses_others)
{
	char *s = NULL;
	const char *p = put("key", "-----BEGIN PRIVATE KEY-----\n", 0644);

	CHECK_EQ_INT(readfile_small(&s, p, 1024, READFILE_PRIVATE, "TLS key"), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "accessible by group or others (mode 0644)");
	CHECK(s == NULL);
	/* Not private: others may read a certificate. */
	CHECK_EQ_INT(readfile_small(&s, p, 1024, 0, "TLS file"), 0);
	free(s);
	CHECK_EQ_INT(readfile_small(&s, dir, 1024, 0, "TLS file"), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "not a regular file");
	CHECK_EQ_INT(readfile_small(&s, "/nonexistent/x", 1024, 0, "TLS file"), ORCH_EINVALID);
}

TEST(readfile__cleanup)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

CHECK_MAIN(readfile__reads_whole_and_caps, readfile__private_refuses_others, readfile__cleanup)
