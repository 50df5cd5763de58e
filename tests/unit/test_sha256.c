/* test_sha256.c - common/sha256.c (libcrypto EVP behind sha256.h) against
 * the FIPS 180-2 / NIST vectors, streamed at odd boundaries too. */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "sha256.h"

static const char msg448[] =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char msg896[] =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
static const char hex_empty[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char hex_abc[] =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char hex_448[] =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
static const char hex_896[] =
    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";
static const char hex_million_a[] =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void
hex_of(char out[SHA256_HEX_LEN + 1], const void *p, size_t n)
{
	uint8_t d[SHA256_DIGEST_LEN];

	sha256_buf(d, p, n);
	sha256_hex(out, d);
}

TEST(sha256__nist_vectors)
{
	char hex[SHA256_HEX_LEN + 1];

	hex_of(hex, "", 0);
	CHECK_STR(hex, hex_empty);
	hex_of(hex, "abc", 3);
	CHECK_STR(hex, hex_abc);
	hex_of(hex, msg448, strlen(msg448));
	CHECK_STR(hex, hex_448);
	hex_of(hex, msg896, strlen(msg896));
	CHECK_STR(hex, hex_896);
}

TEST(sha256__million_a_streamed)
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];
	char hex[SHA256_HEX_LEN + 1], chunk[1000];
	int i;

	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&c);
	for (i = 0; i < 1000; i++)
		sha256_update(&c, chunk, sizeof(chunk));
	sha256_final(d, &c);
	sha256_hex(hex, d);
	CHECK_STR(hex, hex_million_a);
}

/* Every split point of a message must give the same digest: this walks the
 * partial-block paths of sha256_update (including the 55/56/64 edges). */
TEST(sha256__chunking_does_not_matter)
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];
	char hex[SHA256_HEX_LEN + 1];
	size_t n = strlen(msg896), i, j;

	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j += 7) {
			sha256_init(&c);
			sha256_update(&c, msg896, i);
			sha256_update(&c, msg896 + i, j - i);
			sha256_update(&c, msg896 + j, n - j);
			sha256_final(d, &c);
			sha256_hex(hex, d);
			if (strcmp(hex, hex_896) != 0) {
				CHECK_STR(hex, hex_896);
				return;
			}
		}
	}
	/* One byte at a time too. */
	sha256_init(&c);
	for (i = 0; i < strlen(msg448); i++)
		sha256_update(&c, msg448 + i, 1);
	sha256_final(d, &c);
	sha256_hex(hex, d);
	CHECK_STR(hex, hex_448);
}

TEST(sha256__file)
{
	char dir[] = "/tmp/orch-sha256-XXXXXX", path[256], hex[SHA256_HEX_LEN + 1];
	char *big;
	size_t bigsz = 1000000;
	int fd;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/abc", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "abc", 3) == 3);
	close(fd);
	CHECK_EQ_INT(sha256_file_hex(hex, path), 0);
	CHECK_STR(hex, hex_abc);

	/* Larger than the read buffer: one million 'a' from a file. */
	big = malloc(bigsz);
	REQUIRE(big != NULL);
	memset(big, 'a', bigsz);
	snprintf(path, sizeof(path), "%s/million", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	CHECK(write(fd, big, bigsz) == (ssize_t)bigsz);
	close(fd);
	free(big);
	CHECK_EQ_INT(sha256_file_hex(hex, path), 0);
	CHECK_STR(hex, hex_million_a);

	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK_EQ_INT(sha256_file_hex(hex, path), ORCH_ENOTFOUND);
	CHECK_CONTAINS(orch_err_last(), "missing");

	snprintf(path, sizeof(path), "%s/abc", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/million", dir);
	unlink(path);
	rmdir(dir);
}

TEST(sha256__hex_valid)
{
	CHECK(sha256_hex_valid(hex_abc));
	CHECK(sha256_hex_valid(
	    "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	CHECK(!sha256_hex_valid(NULL));
	CHECK(!sha256_hex_valid(""));
	CHECK(!sha256_hex_valid("abc"));
	/* 63 digits, 65 digits, a non-hex digit. */
	CHECK(!sha256_hex_valid(
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a"));
	CHECK(!sha256_hex_valid(
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"));
	CHECK(!sha256_hex_valid(
	    "ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

/* The million-'a' vector fed in a cycle of odd, prime and block-straddling
 * sizes (1, 3, 55, 56, 63, 64, 65, 127, 4099 bytes), then the empty string
 * streamed as zero updates and as an update of length 0. */
TEST(sha256__odd_boundaries)
{
	static const size_t sizes[] = {1, 3, 55, 56, 63, 64, 65, 127, 4099};
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];
	char hex[SHA256_HEX_LEN + 1], *a;
	size_t off = 0, k = 0, n;

	REQUIRE((a = malloc(1000000)) != NULL);
	memset(a, 'a', 1000000);
	CHECK_EQ_INT(sha256_init(&c), 0);
	while (off < 1000000) {
		n = sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))];
		if (n > 1000000 - off)
			n = 1000000 - off;
		sha256_update(&c, a + off, n);
		off += n;
	}
	CHECK_EQ_INT(sha256_final(d, &c), 0);
	sha256_hex(hex, d);
	CHECK_STR(hex, hex_million_a);
	/* The one-shot path over the same buffer. */
	CHECK_EQ_INT(sha256_buf(d, a, 1000000), 0);
	sha256_hex(hex, d);
	CHECK_STR(hex, hex_million_a);
	free(a);

	CHECK_EQ_INT(sha256_init(&c), 0);
	CHECK_EQ_INT(sha256_final(d, &c), 0);
	sha256_hex(hex, d);
	CHECK_STR(hex, hex_empty);
	CHECK_EQ_INT(sha256_init(&c), 0);
	sha256_update(&c, "", 0);
	CHECK_EQ_INT(sha256_final(d, &c), 0);
	sha256_hex(hex, d);
	CHECK_STR(hex, hex_empty);
}

/* A context given up half-way is released (ASan's leak check sees it) and
 * a fresh one after it is unaffected; discard after final is harmless. */
TEST(sha256__discard)
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];
	char hex[SHA256_HEX_LEN + 1];

	CHECK_EQ_INT(sha256_init(&c), 0);
	sha256_update(&c, "ab", 2);
	sha256_discard(&c);
	sha256_discard(&c);
	CHECK_EQ_INT(sha256_init(&c), 0);
	sha256_update(&c, "a", 1);
	sha256_update(&c, "bc", 2);
	CHECK_EQ_INT(sha256_final(d, &c), 0);
	sha256_discard(&c);
	sha256_hex(hex, d);
	CHECK_STR(hex, hex_abc);
}

CHECK_MAIN(sha256__nist_vectors, sha256__odd_boundaries, sha256__discard, sha256__million_a_streamed,
    sha256__chunking_does_not_matter, sha256__file, sha256__hex_valid)
