/* test_units.c - common/units.c: durations and sizes. */
#include "check.h"
#include "err.h"
#include "units.h"

TEST(units_duration__valid)
{
	int64_t ms = -1;

	CHECK_EQ_INT(orch_parse_duration(&ms, "300ms"), 0); CHECK_EQ_INT(ms, 300);
	CHECK_EQ_INT(orch_parse_duration(&ms, "1s"), 0); CHECK_EQ_INT(ms, 1000);
	CHECK_EQ_INT(orch_parse_duration(&ms, "2m"), 0); CHECK_EQ_INT(ms, 120000);
	CHECK_EQ_INT(orch_parse_duration(&ms, "1h30m"), 0); CHECK_EQ_INT(ms, 5400000);
	CHECK_EQ_INT(orch_parse_duration(&ms, "1.5s"), 0); CHECK_EQ_INT(ms, 1500);
	CHECK_EQ_INT(orch_parse_duration(&ms, "0s"), 0); CHECK_EQ_INT(ms, 0);
}

TEST(units_duration__invalid)
{
	int64_t ms = 7;
	const char *bad[] = {"", "30", "1x", "s", "-1s", "1s2", "ms", "1 s", "9999999h"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(orch_parse_duration(&ms, bad[i]), ORCH_EINVALID);
		CHECK(orch_err_last()[0] != '\0');
	}
	CHECK_EQ_INT(ms, 7); /* untouched on error */
}

TEST(units_size__valid_and_invalid)
{
	uint64_t b = 0;

	CHECK_EQ_INT(orch_parse_size(&b, "128M"), 0); CHECK_EQ_INT(b, 128ULL << 20);
	CHECK_EQ_INT(orch_parse_size(&b, "1Gi"), 0); CHECK_EQ_INT(b, 1ULL << 30);
	CHECK_EQ_INT(orch_parse_size(&b, "512KB"), 0); CHECK_EQ_INT(b, 512ULL << 10);
	CHECK_EQ_INT(orch_parse_size(&b, "100"), 0); CHECK_EQ_INT(b, 100);
	CHECK_EQ_INT(orch_parse_size(&b, "1.5K"), 0); CHECK_EQ_INT(b, 1536);
	CHECK_EQ_INT(orch_parse_size(&b, "12Q"), ORCH_EINVALID);
	CHECK_EQ_INT(orch_parse_size(&b, "M"), ORCH_EINVALID);
	CHECK_EQ_INT(orch_parse_size(&b, "1.1"), ORCH_EINVALID);
	CHECK_EQ_INT(orch_parse_size(&b, "-5M"), ORCH_EINVALID);
}

TEST(units_format__roundtrip)
{
	char buf[32];
	int64_t ms;

	orch_fmt_duration(buf, sizeof(buf), 90500);
	CHECK_STR(buf, "1m30s500ms");
	CHECK_EQ_INT(orch_parse_duration(&ms, buf), 0);
	CHECK_EQ_INT(ms, 90500);
	orch_fmt_duration(buf, sizeof(buf), 0);
	CHECK_STR(buf, "0s");
	orch_fmt_size(buf, sizeof(buf), 128ULL << 20);
	CHECK_STR(buf, "128M");
	orch_fmt_size(buf, sizeof(buf), 1000);
	CHECK_STR(buf, "1000");
}

CHECK_MAIN(units_duration__valid, units_duration__invalid,
    units_size__valid_and_invalid, units_format__roundtrip)
