/*
 * test_api_corpus.c - the API fuzz targets' seeds and saved regressions,
 * replayed in the normal suite through the same code: this program
 * compiles tests/fuzz/fuzz_slave_api.c and tests/fuzz/fuzz_controller_api.c
 * with -DORCH_FUZZ_REPLAY (their LLVMFuzzer* entry points left out) and
 * feeds every file of tests/fuzz/seeds/{slave,controller}_api/ and
 * tests/fuzz/regressions/{slave,controller}_api/ to the target, in name
 * order. Each runs against the real in-process daemon and its real HTTP
 * server on loopback; a broken invariant (api_fuzz.h) aborts with the
 * request, the answer and the file's name. Under ORCH_SANITIZE this also
 * catches what ASan/LSan would have in the fuzzer.
 */
#define ORCH_FUZZ_REPLAY 1
#include "../fuzz/fuzz_slave_api.c"
#include "../fuzz/fuzz_controller_api.c"

#include <dirent.h>

#include "check.h"

/* Feed every regular file of SOURCE/dir to one, in name order; count. */
static size_t
replay_dir(const char *dir, int (*one)(const uint8_t *, size_t))
{
	const char *src = getenv("ORCH_SOURCE_DIR");
	struct dirent **names = NULL;
	char path[4096];
	size_t done = 0;
	int n;

	if (src == NULL || *src == '\0')
		src = ".";
	snprintf(path, sizeof(path), "%s/%s", src, dir);
	if ((n = scandir(path, &names, NULL, alphasort)) < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		char file[8192];
		struct fuzz_buf b = {0};
		char chunk[65536];
		size_t got;
		FILE *f;

		snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
		if (names[i]->d_name[0] == '.' || strcmp(names[i]->d_name, "README.md") == 0 ||
		    (f = fopen(file, "rb")) == NULL) {
			free(names[i]);
			continue;
		}
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fuzz_add(&b, chunk, got);
		fclose(f);
		fuzz_current = file;
		int64_t t0 = orch_mono_ms();
		one((const uint8_t *)(b.p ? b.p : ""), b.len);
		if (orch_mono_ms() - t0 > 1000)
			printf("    %s: %lld ms\n", names[i]->d_name, (long long)(orch_mono_ms() - t0));
		fuzz_current = NULL;
		free(b.p);
		free(names[i]);
		done++;
	}
	free(names);
	return done;
}

TEST(api_corpus__slave)
{
	size_t seeds, regressions;

	slave_fuzz_init();
	seeds = replay_dir("tests/fuzz/seeds/slave_api", slave_fuzz_one);
	regressions = replay_dir("tests/fuzz/regressions/slave_api", slave_fuzz_one);
	printf("    slave: %zu seeds, %zu regressions replayed\n", seeds, regressions);
	/* A seed per route and more: an empty dir would test nothing. */
	CHECK(seeds >= 10);
}

TEST(api_corpus__controller)
{
	size_t seeds, regressions;

	ctl_fuzz_init();
	seeds = replay_dir("tests/fuzz/seeds/controller_api", ctl_fuzz_one);
	regressions = replay_dir("tests/fuzz/regressions/controller_api", ctl_fuzz_one);
	printf("    controller: %zu seeds, %zu regressions replayed\n", seeds, regressions);
	CHECK(seeds >= 10);
}

CHECK_MAIN(api_corpus__slave, api_corpus__controller)
