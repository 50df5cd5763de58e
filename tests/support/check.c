/* check.c - see check.h. */
#include <stdarg.h>

#include "check.h"

int check_failed_in_test;
int check_failed_total;
jmp_buf check_abort;

void
check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "    %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	check_failed_in_test++;
	check_failed_total++;
}

static int
selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int
check_run(const char *prog, const char *const *names,
    void (*const *fns)(void), size_t n, int argc, char **argv)
{
	volatile int passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (volatile size_t i = 0; i < n; i++) {
		if (!selected(names[i], argc, argv))
			continue;
		check_failed_in_test = 0;
		if (setjmp(check_abort) == 0)
			fns[i]();
		if (check_failed_in_test) {
			printf("FAIL %s\n", names[i]);
			failed++;
		} else {
			printf("ok   %s\n", names[i]);
			passed++;
		}
	}
	printf("%s: %d passed, %d failed\n", prog, passed, failed);
	return failed ? 1 : 0;
}
