/* test_semver.c - manifest/semver.c: versions, precedence, npm ranges. */
#include <stdbool.h>

#include "check.h"
#include "err.h"
#include "manifest.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

TEST(semver_parse__valid)
{
	struct semver v;
	char buf[200];

	REQUIRE(semver_parse(&v, "1.2.3") == 0);
	CHECK_EQ_INT(v.major, 1);
	CHECK_EQ_INT(v.minor, 2);
	CHECK_EQ_INT(v.patch, 3);
	CHECK_STR(v.pre, "");
	CHECK_STR(v.build, "");

	REQUIRE(semver_parse(&v, "0.0.0-rc.1+build.5-x") == 0);
	CHECK_EQ_INT(v.major, 0);
	CHECK_STR(v.pre, "rc.1");
	CHECK_STR(v.build, "build.5-x");

	/* Build identifiers may have leading zeros; pre-release ones may
	 * only when they are not purely numeric. */
	REQUIRE(semver_parse(&v, "1.0.0-0a.alpha-1+001") == 0);
	CHECK_STR(v.pre, "0a.alpha-1");
	CHECK_STR(v.build, "001");

	REQUIRE(semver_parse(&v, "18446744073709551615.0.10") == 0);
	CHECK(v.major == UINT64_MAX);
	CHECK_EQ_INT(v.patch, 10);

	REQUIRE(semver_parse(&v, "10.20.30-x.7.z.92+meta") == 0);
	semver_format(buf, sizeof(buf), &v);
	CHECK_STR(buf, "10.20.30-x.7.z.92+meta");
	REQUIRE(semver_parse(&v, "2.1.0") == 0);
	semver_format(buf, sizeof(buf), &v);
	CHECK_STR(buf, "2.1.0");
	REQUIRE(semver_parse(&v, "2.1.0+b") == 0);
	semver_format(buf, sizeof(buf), &v);
	CHECK_STR(buf, "2.1.0+b");
	semver_format(buf, 4, &v); /* truncates, never overflows */
	CHECK_STR(buf, "2.1");
}

TEST(semver_parse__invalid)
{
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{"1.2", "bad version '1.2': expected MAJOR.MINOR.PATCH"},
		{"1", "bad version '1': expected MAJOR.MINOR.PATCH"},
		{"", "bad version '': expected MAJOR.MINOR.PATCH"},
		{"01.2.3", "bad version '01.2.3': leading zero in a number"},
		{"1.02.3", "leading zero in a number"},
		{"1.2.03", "leading zero in a number"},
		{"v1.2.3", "bad version 'v1.2.3': expected a number"},
		{"1.2.3.4", "bad version '1.2.3.4': unexpected '.' after '1.2.3'"},
		{"1.2.3-", "bad version '1.2.3-': empty pre-release"},
		{"1.2.3+", "empty build metadata"},
		{"1.2.3-01", "leading zero in a numeric pre-release identifier"},
		{"1.2.3-a..b", "empty pre-release identifier"},
		{"1.2.3-a.", "empty pre-release identifier"},
		{"1.2.3+a..b", "empty build metadata identifier"},
		{"1.2.3-a_b", "unexpected '_'"},
		{"1.2.3 ", "unexpected ' '"},
		{" 1.2.3", "expected a number"},
		{"-1.2.3", "expected a number"},
		{"1.2.x", "expected a number"},
		{"1..3", "expected a number"},
		{"18446744073709551616.0.0", "number too large"},
		{"1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    "pre-release longer than 63 characters"},
	};
	struct semver v;

	v.major = 42;
	for (size_t i = 0; i < NELEM(bad); i++) {
		int rc = semver_parse(&v, bad[i].in);
		if (rc != ORCH_EINVALID)
			check_fail(__FILE__, __LINE__, "'%s' parsed (rc %d)",
			    bad[i].in, rc);
		CHECK_CONTAINS(orch_err_last(), bad[i].msg);
	}
	CHECK_EQ_INT(v.major, 42); /* untouched on error */
	CHECK_EQ_INT(semver_parse(&v, NULL), ORCH_EINVALID);
}

TEST(semver_cmp__precedence)
{
	/* semver.org 2.0.0, section 11, in rising order. */
	static const char *const rising[] = {
		"0.0.0-0", "0.0.0", "0.9.99", "1.0.0-0", "1.0.0-alpha",
		"1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
		"1.0.1", "1.9.0", "1.10.0", "2.0.0-1", "2.0.0-9", "2.0.0-10",
		"2.0.0-99999999999999999999999", "2.0.0-A", "2.0.0-a",
		"2.0.0", "10.0.0",
	};
	struct semver a, b;

	for (size_t i = 0; i < NELEM(rising); i++) {
		REQUIRE(semver_parse(&a, rising[i]) == 0);
		CHECK_EQ_INT(semver_cmp(&a, &a), 0);
		for (size_t j = i + 1; j < NELEM(rising); j++) {
			REQUIRE(semver_parse(&b, rising[j]) == 0);
			if (semver_cmp(&a, &b) >= 0 || semver_cmp(&b, &a) <= 0)
				check_fail(__FILE__, __LINE__, "%s < %s fails",
				    rising[i], rising[j]);
		}
	}
	/* Build metadata does not take part in precedence. */
	REQUIRE(semver_parse(&a, "1.0.0+a") == 0);
	REQUIRE(semver_parse(&b, "1.0.0+b.2") == 0);
	CHECK_EQ_INT(semver_cmp(&a, &b), 0);
	REQUIRE(semver_parse(&a, "1.0.0-rc.1+x") == 0);
	REQUIRE(semver_parse(&b, "1.0.0-rc.1") == 0);
	CHECK_EQ_INT(semver_cmp(&a, &b), 0);
}

struct range_case {
	const char *range, *version;
	bool want;
};

/* Cases from node-semver's range-include / range-exclude fixtures (the
 * strict, non-loose ones), plus the forms orch's docs promise. */
static const struct range_case range_cases[] = {
	/* plain comparators */
	{"1.0.0", "1.0.0", true},
	{"1.0.0", "1.0.1", false},
	{"=1.0.0", "1.0.0", true},
	{">=1.0.0", "1.0.0", true},
	{">=1.0.0", "1.1.0", true},
	{">=1.0.0", "0.1.0", false},
	{">1.0.0", "1.0.1", true},
	{">1.0.0", "1.0.0", false},
	{"<=2.0.0", "2.0.0", true},
	{"<=2.0.0", "0.2.9", true},
	{"<=2.0.0", "2.2.9", false},
	{"<2.0.0", "1.9999.9999", true},
	{"<2.0.0", "2.0.0", false},
	{">= 1.0.0", "1.0.0", true},
	{">=   1.0.0", "1.1.0", true},
	{"<    2.0.0", "1.9999.9999", true},
	{">=0.1.97", "0.1.93", false},
	{">=v1.2.3", "1.2.3", true},
	/* ANDs and ORs */
	{">=2.0.0 <3.0.0", "2.9.1", true},
	{">=2.0.0 <3.0.0", "3.0.0", false},
	{"0.1.20 || 1.2.4", "1.2.4", true},
	{"0.1.20 || 1.2.4", "1.2.3", false},
	{">=0.2.3 || <0.0.1", "0.0.0", true},
	{">=0.2.3 || <0.0.1", "0.2.2", false},
	{"~1.2.1 >=1.2.3", "1.2.3", true},
	{"~1.2.1 =1.2.3", "1.2.3", true},
	{"~1.2.1 1.2.3", "1.2.3", true},
	{">=1.2.1 >=1.2.3", "1.2.2", false},
	{"^1.2 ^1", "1.4.2", true},
	/* partial versions and X-ranges */
	{"", "1.0.0", true},
	{"*", "1.2.3", true},
	{"x", "0.0.1", true},
	{">=*", "0.2.4", true},
	{"<*", "0.0.0", false},
	{">*", "9.9.9", false},
	{"2", "2.1.2", true},
	{"2", "1.1.2", false},
	{"2", "3.0.0", false},
	{"2.3", "2.3.1", true},
	{"2.3", "2.4.1", false},
	{"2.x.x", "2.1.3", true},
	{"2.x.x", "3.1.3", false},
	{"1.2.x", "1.2.3", true},
	{"1.2.x", "1.3.3", false},
	{"1.2.*", "1.2.0", true},
	{"2.*.*", "1.1.3", false},
	{"1.2.x || 2.x", "2.1.3", true},
	{"1.2.x || 2.x", "1.1.3", false},
	{">=1.2", "1.2.0", true},
	{">=1.2", "1.1.9", false},
	{">=1", "1.0.0", true},
	{"<1.2", "1.1.9", true},
	{"<1.2", "1.2.0", false},
	{"<1", "1.0.0", false},
	{">1.2", "1.3.0", true},
	{">1.2", "1.2.8", false},
	{">1", "2.0.0", true},
	{">1", "1.9.9", false},
	{"<=1.2", "1.2.99", true},
	{"<=1.2", "1.3.0", false},
	{"=0.7.x", "0.7.2", true},
	{"=0.7.x", "0.8.2", false},
	{"<=0.7.x", "0.7.2", true},
	{">=0.7.x", "0.6.2", false},
	{"<0.7.x", "0.7.2", false},
	{"<=7.x", "7.9.9", true},
	/* tilde */
	{"~1.2.3", "1.2.3", true},
	{"~1.2.3", "1.2.9", true},
	{"~1.2.3", "1.3.0", false},
	{"~1.2.3", "1.2.2", false},
	{"~1.2", "1.2.0", true},
	{"~1.2", "1.3.0", false},
	{"~1", "1.9.9", true},
	{"~1", "2.0.0", false},
	{"~1", "0.2.3", false},
	{"~0.0.1", "0.0.2", true},
	{"~0.0.1", "0.1.0", false},
	{"~>3.2.1", "3.2.2", true},
	{"~>3.2.1", "3.3.2", false},
	{"~x", "0.0.9", true},
	{"~v0.5.4-pre", "0.5.5", true},
	{"~v0.5.4-pre", "0.5.4-pre.1", true},
	/* caret */
	{"^1.2.3", "1.8.1", true},
	{"^1.2.3", "1.2.3", true},
	{"^1.2.3", "1.2.2", false},
	{"^1.2.3", "2.0.0", false},
	{"^0.2.3", "0.2.9", true},
	{"^0.2.3", "0.3.0", false},
	{"^0.0.3", "0.0.3", true},
	{"^0.0.3", "0.0.4", false},
	{"^1.2", "1.4.2", true},
	{"^1.2", "1.1.9", false},
	{"^1.2", "2.0.0", false},
	{"^0.1", "0.1.2", true},
	{"^0.1", "0.2.0", false},
	{"^0", "0.9.9", true},
	{"^0", "1.0.0", false},
	{"^x", "1.2.3", true},
	{"^1.2.3+build", "1.3.0", true},
	{"^1.2.3+build", "1.2.0", false},
	/* hyphen ranges */
	{"1.0.0 - 2.0.0", "1.2.3", true},
	{"1.0.0 - 2.0.0", "2.0.0", true},
	{"1.0.0 - 2.0.0", "2.2.3", false},
	{"1.2.3 - 2.3", "2.3.9", true},
	{"1.2.3 - 2.3", "2.4.0", false},
	{"1.2 - 2", "1.2.0", true},
	{"1.2 - 2", "2.9.9", true},
	{"1.2 - 2", "3.0.0", false},
	{"1.2 - 2", "1.1.9", false},
	{"x - 1.0.0", "0.9.7", true},
	{"1.0.0 - x", "1.9.7", true},
	{"1.2.3+asdf - 2.4.3+asdf", "1.2.3", true},
	/* pre-releases: only with a comparator naming the same M.m.p */
	{"*", "1.2.3-foo", false},
	{"", "1.0.0-rc.1", false},
	{"^1.2.3", "1.2.3-beta", false},
	{"^1.2.3", "1.2.4-beta", false},
	{"^1.2.3", "2.0.0-alpha", false},
	{"^1.2.3-alpha", "1.2.3-pre", true},
	{"^1.2.3-alpha", "1.2.4-pre", false},
	{"^0.0.1-alpha", "0.0.1-beta", true},
	{"^0.0.1-alpha", "0.0.1", true},
	{">1.2", "1.3.0-beta", false},
	{"<=1.2.3", "1.2.3-beta", false},
	{"<1.2.3", "1.2.3-beta", false},
	{"=1.2.3", "1.2.3-beta", false},
	{"=0.7.x", "0.7.0-asdf", false},
	{">=1.0.0 <1.1.0", "1.1.0-pre", false},
	{">=1.2.3-beta", "1.2.3-rc.1", true},
	{">=1.2.3-beta", "1.2.3-alpha", false},
	{">=1.2.3-beta", "1.2.4-rc.1", false},
	{">=1.2.3-beta <1.3.0", "1.2.5", true},
	{"1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2", true},
	{"1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha", true},
	{"1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha", false},
	{"1.0.0-rc.1 || >=2.0.0", "1.0.0-rc.1", true},
	{"1.0.0-rc.1 || >=2.0.0", "2.0.0-rc.1", false},
	{"^1.0.0", "2.0.0-rc1", false},
	{"^1.2.3-rc2", "2.0.0", false},
	/* build metadata never counts */
	{"1.2.3", "1.2.3+build.7", true},
	{"=1.2.3+a", "1.2.3+b", true},
};

TEST(semver_satisfies__npm_table)
{
	for (size_t i = 0; i < NELEM(range_cases); i++) {
		const struct range_case *c = &range_cases[i];
		struct semver v;
		bool got = !c->want;
		int rc;

		if (semver_parse(&v, c->version) != 0) {
			check_fail(__FILE__, __LINE__, "bad fixture version %s",
			    c->version);
			continue;
		}
		CHECK_EQ_INT(semver_range_check(c->range), 0);
		rc = semver_satisfies(&got, c->range, &v);
		if (rc != 0 || got != c->want)
			check_fail(__FILE__, __LINE__,
			    "'%s' vs %s: want %s, got %s (rc %d: %s)", c->range,
			    c->version, c->want ? "match" : "no match",
			    got ? "match" : "no match", rc, orch_err_last());
	}
	CHECK(NELEM(range_cases) >= 80);
}

TEST(semver_range__invalid)
{
	static const struct {
		const char *range, *msg;
	} bad[] = {
		{">=1.2.3 <foo", "bad range '>=1.2.3 <foo': '<foo': expected a number"},
		{"1.2.3 -", "'-': a hyphen range is written 'A - B'"},
		{"- 1.2.3", "'-': a hyphen range"},
		{"1 - 2 - 3", "'-': a hyphen range"},
		{">=", "'>=': operator without a version"},
		{"^", "'^': operator without a version"},
		{"^1.2.3.4", "'^1.2.3.4': more than three version parts"},
		{"1.x.3", "'1.x.3': a number cannot follow a wildcard"},
		{"1.2-beta", "'1.2-beta': a pre-release or build needs MAJOR.MINOR.PATCH"},
		{">=01.2", "'>=01.2': leading zero in a number"},
		{"1.2.3-01", "'1.2.3-01': leading zero in a numeric pre-release"},
		{"1.2.", "'1.2.': expected a number after '.'"},
		{"=>1.2.3", "'=>1.2.3': expected a number"},
		{"~^1", "'~^1': expected a number"},
		{"1.2.3 ||", "empty alternative around '||'"},
		{"|| 1.2.3", "empty alternative around '||'"},
		{"1 || || 2", "empty alternative around '||'"},
		{"1.2.3abc", "'1.2.3abc': unexpected 'a'"},
		{">=1.0.0,<2.0.0", "unexpected ','"},
		{"99999999999999999999", "number too large"},
		{"^18446744073709551615", "'^18446744073709551615': number too large"},
	};
	struct semver v;
	bool got = true;

	REQUIRE(semver_parse(&v, "1.2.3") == 0);
	for (size_t i = 0; i < NELEM(bad); i++) {
		int rc = semver_range_check(bad[i].range);
		if (rc != ORCH_EINVALID)
			check_fail(__FILE__, __LINE__, "'%s' accepted (rc %d)",
			    bad[i].range, rc);
		CHECK_CONTAINS(orch_err_last(), bad[i].msg);
		/* satisfies validates the whole range, even past a match */
		CHECK_EQ_INT(semver_satisfies(&got, bad[i].range, &v),
		    ORCH_EINVALID);
	}
	CHECK(got); /* untouched on error */
	CHECK_EQ_INT(semver_satisfies(&got, "1.2.3 || >=foo", &v), ORCH_EINVALID);
	CHECK_CONTAINS(orch_err_last(), "'>=foo'");
	CHECK_EQ_INT(semver_range_check(NULL), ORCH_EINVALID);
	CHECK_EQ_INT(semver_satisfies(&got, "*", NULL), ORCH_EINVALID);
}

CHECK_MAIN(semver_parse__valid, semver_parse__invalid, semver_cmp__precedence,
    semver_satisfies__npm_table, semver_range__invalid)
