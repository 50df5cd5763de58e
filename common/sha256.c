/*
 * sha256.c - SHA-256 through OpenSSL's EVP interface; see sha256.h.
 *
 * Until issue 12 this was a hand-written FIPS 180-4 implementation; it was
 * 4x slower than libcrypto's (which uses the SHA extensions or AVX2 where
 * the CPU has them) on the artifact path. bench/sha256.c keeps a copy of
 * it as the "before" column.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "err.h"
#include "sha256.h"

int
sha256_init(struct sha256_ctx *c)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	c->md = NULL;
	c->failed = 0;
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		c->failed = 1;
		return orch_err_set(ORCH_ERROR, "sha256: libcrypto cannot set up a digest");
	}
	c->md = md;
	return 0;
}

void
sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	if (c->md == NULL || len == 0)
		return;
	if (EVP_DigestUpdate(c->md, data, len) != 1)
		c->failed = 1;
}

int
sha256_final(uint8_t out[SHA256_DIGEST_LEN], struct sha256_ctx *c)
{
	unsigned int n = 0;
	int ok = c->md != NULL && !c->failed &&
	    EVP_DigestFinal_ex(c->md, out, &n) == 1 && n == SHA256_DIGEST_LEN;

	sha256_discard(c);
	if (ok)
		return 0;
	memset(out, 0, SHA256_DIGEST_LEN);
	return orch_err_set(ORCH_ERROR, "sha256: libcrypto failed to compute a digest");
}

void
sha256_discard(struct sha256_ctx *c)
{
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

int
sha256_buf(uint8_t out[SHA256_DIGEST_LEN], const void *data, size_t len)
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 &&
	    n == SHA256_DIGEST_LEN)
		return 0;
	memset(out, 0, SHA256_DIGEST_LEN);
	return orch_err_set(ORCH_ERROR, "sha256: libcrypto failed to compute a digest");
}

void
sha256_hex(char out[SHA256_HEX_LEN + 1], const uint8_t digest[SHA256_DIGEST_LEN])
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < SHA256_DIGEST_LEN; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[SHA256_HEX_LEN] = '\0';
}

int
sha256_file_hex(char out[SHA256_HEX_LEN + 1], const char *path)
{
	struct sha256_ctx c;
	uint8_t buf[65536], digest[SHA256_DIGEST_LEN];
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return orch_err_sys(errno == ENOENT ? ORCH_ENOTFOUND : ORCH_ERROR,
		    "open %s", path);
	if ((rc = sha256_init(&c)) < 0)
		goto out;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = orch_err_sys(ORCH_ERROR, "read %s", path);
			sha256_discard(&c);
			goto out;
		}
		if (n == 0)
			break;
		sha256_update(&c, buf, (size_t)n);
	}
	if ((rc = sha256_final(digest, &c)) == 0)
		sha256_hex(out, digest);
out:
	close(fd);
	return rc;
}

int
sha256_hex_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < SHA256_HEX_LEN; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		    (ch >= 'A' && ch <= 'F')))
			return 0;
	}
	return s[SHA256_HEX_LEN] == '\0';
}
