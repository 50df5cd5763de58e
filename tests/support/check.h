/*
 * check.h - the test harness: a program is a list of TEST()s run by
 * CHECK_MAIN(); it prints one line per test and closes with the line CI
 * reads, "N passed, N failed", exiting non-zero when any test failed.
 *
 *   TEST(parse_duration__units) { CHECK_EQ_INT(x, 300); }
 *   CHECK_MAIN(parse_duration__units, ...)
 *
 * A failed CHECK records file:line and the expression and goes on, so one
 * run shows every failure; REQUIRE stops the current test.
 */
#ifndef ORCH_CHECK_H
#define ORCH_CHECK_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int check_failed_in_test;
extern int check_failed_total; /* failed checks so far in this program */
extern jmp_buf check_abort;

void check_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int check_run(const char *prog, const char *const *names,
    void (*const *fns)(void), size_t n, int argc, char **argv);

#define TEST(name) static void name(void)

#define CHECK(cond) do { if (!(cond)) \
	check_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); } while (0)
#define REQUIRE(cond) do { if (!(cond)) { \
	check_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond); \
	longjmp(check_abort, 1); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) check_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
	    #a, #b, _a, _b); } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) \
	check_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
	    _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define CHECK_CONTAINS(hay, needle) do { const char *_h = (hay), *_n = (needle); \
	if (_h == NULL || strstr(_h, _n) == NULL) \
	check_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay, _n, \
	    _h ? _h : "(null)"); } while (0)

#define CHECK_NAMES_(...) #__VA_ARGS__
/* CHECK_MAIN(t1, t2, ...): run the listed tests (or those named in argv). */
#define CHECK_MAIN(...) \
	int main(int argc, char **argv) { \
		void (*const fns[])(void) = {__VA_ARGS__}; \
		static const char all[] = CHECK_NAMES_(__VA_ARGS__); \
		const char *names[sizeof(fns) / sizeof(fns[0])]; \
		static char buf[sizeof(all)]; \
		memcpy(buf, all, sizeof(all)); \
		size_t i = 0; \
		for (char *s = strtok(buf, ", \t\n"); s && i < sizeof(fns) / sizeof(fns[0]); \
		     s = strtok(NULL, ", \t\n")) names[i++] = s; \
		return check_run(argv[0], names, fns, i, argc, argv); \
	}

#endif
