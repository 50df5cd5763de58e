/*
 * fuzz_manifest.c - libFuzzer target: arbitrary bytes through
 * manifest_parse(), then, when they make a valid manifest, through the
 * graph and diff functions a controller would run on it next.
 *
 * Built only with -DORCH_FUZZ=ON and clang (tests/fuzz/CMakeLists.txt);
 * run with scripts/fuzz. A crash input goes to tests/fuzz/regressions/,
 * which tests/unit/test_manifest_corpus.c replays in the normal suite.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m = NULL;
	struct manifest_diff *d = NULL;
	struct manifest_errors errs;
	size_t *order = NULL;
	char line[2048];

	manifest_errors_init(&errs);
	if (manifest_parse(&m, &errs, (const char *)data, size, "fuzz.yaml") == 0) {
		/* Valid: these must work on anything the validator let in. */
		if (manifest_start_order(&order, m) != 0)
			abort();
		free(order);
		if (manifest_diff(&d, m, m) != 0)
			abort();
		for (size_t i = 0; i < d->nservices; i++)
			if (d->services[i].action != DIFF_UNCHANGED)
				abort();
		manifest_diff_free(d);
		manifest_free(m);
	} else {
		if (m != NULL || errs.n == 0)
			abort(); /* a rejection must explain itself */
		/* Format every error as orchctl would print it. */
		for (size_t i = 0; i < errs.n; i++)
			manifest_error_format(line, sizeof(line), &errs.v[i]);
	}
	manifest_errors_free(&errs);
	return 0;
}
