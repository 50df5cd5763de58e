/*
 * sha256.h - SHA-256 (FIPS 180-4), streaming, plus hex helpers.
 *
 * Used by the slave to verify fetched artifacts and by anything that wants
 * a content hash. OpenSSL's libcrypto (EVP) does the work: both daemons
 * link it anyway, and its assembly is several times faster than portable
 * C on the path that gates what runs (issue 12; bench/sha256.c).
 *
 *   struct sha256_ctx c;
 *   sha256_init(&c);
 *   sha256_update(&c, buf, n);   (any number of times, any sizes)
 *   sha256_final(digest, &c);    (or sha256_discard(&c) to give up)
 *
 * A context holds a libcrypto object from init until final or discard:
 * every init must be matched by exactly one of them.
 */
#ifndef ORCH_SHA256_H
#define ORCH_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 64 /* without the terminating NUL */

struct sha256_ctx {
	void *md;   /* EVP_MD_CTX; NULL once final/discard ran or init failed */
	int failed; /* a libcrypto call failed: final reports it */
};

/* 0, or ORCH_ERROR when libcrypto cannot set up a context (then update
 * does nothing and final fails: callers may check only final). */
int sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Write the digest and release c; it must be re-initialised before it is
 * used again. 0, or ORCH_ERROR (out is then all zeros: never a digest
 * that could match). */
int sha256_final(uint8_t out[SHA256_DIGEST_LEN], struct sha256_ctx *c);
/* Release c without a digest (an abandoned download). Safe after final. */
void sha256_discard(struct sha256_ctx *c);

/* One-shot digest of a buffer; 0 or ORCH_ERROR as sha256_final. */
int sha256_buf(uint8_t out[SHA256_DIGEST_LEN], const void *data, size_t len);
/* Lower-case hex of a digest into out (SHA256_HEX_LEN + 1 bytes). */
void sha256_hex(char out[SHA256_HEX_LEN + 1], const uint8_t digest[SHA256_DIGEST_LEN]);
/* Hash a whole file into lower-case hex; 0, or ORCH_ENOTFOUND/ORCH_ERROR
 * with a message naming the path. */
int sha256_file_hex(char out[SHA256_HEX_LEN + 1], const char *path);
/* 1 when s is exactly 64 hex digits (either case), else 0. */
int sha256_hex_valid(const char *s);

#endif
