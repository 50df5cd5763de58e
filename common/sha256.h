/*
 * sha256.h - SHA-256 (FIPS 180-4), streaming, plus hex helpers.
 *
 * Used by the slave to verify fetched artifacts and by anything that wants
 * a content hash. Self-contained so common/ does not pull in a crypto
 * library for one digest.
 *
 *   struct sha256_ctx c;
 *   sha256_init(&c);
 *   sha256_update(&c, buf, n);   (any number of times, any sizes)
 *   sha256_final(digest, &c);
 */
#ifndef ORCH_SHA256_H
#define ORCH_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 64 /* without the terminating NUL */

struct sha256_ctx {
	uint32_t h[8];
	uint64_t nbytes;    /* message length so far, in bytes */
	uint8_t buf[64];    /* partial block */
	size_t nbuf;
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Write the digest; c must be re-initialised before it is used again. */
void sha256_final(uint8_t out[SHA256_DIGEST_LEN], struct sha256_ctx *c);

/* One-shot digest of a buffer. */
void sha256_buf(uint8_t out[SHA256_DIGEST_LEN], const void *data, size_t len);
/* Lower-case hex of a digest into out (SHA256_HEX_LEN + 1 bytes). */
void sha256_hex(char out[SHA256_HEX_LEN + 1], const uint8_t digest[SHA256_DIGEST_LEN]);
/* Hash a whole file into lower-case hex; 0, or ORCH_ENOTFOUND/ORCH_ERROR
 * with a message naming the path. */
int sha256_file_hex(char out[SHA256_HEX_LEN + 1], const char *path);
/* 1 when s is exactly 64 hex digits (either case), else 0. */
int sha256_hex_valid(const char *s);

#endif
