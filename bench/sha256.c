/*
 * sha256 - SHA-256 throughput: the hand-written implementation orch had
 * until issue 12 ("before", copied below verbatim, bench-only), OpenSSL's
 * EVP as common/sha256.c uses it now (through sha256.h), and coreutils'
 * sha256sum reading a file from the page cache.
 *
 *   sha256 [--mib N] [--runs R] [--chunk KIB] [--dir DIR]
 *
 * Hashes N MiB (default 1024 = 1 GiB) of pseudo-random bytes in memory,
 * fed in --chunk KiB updates (default 64, the size sha256_file_hex and
 * curl use), R times per implementation (default 5, taking turns so a
 * busy moment hits all alike), and prints the median, min and max wall
 * time, the median throughput and each median over EVP's, and the same
 * for CPU time (the thread's for the in-process two, the child's user +
 * system for sha256sum): on a machine shared with other work the CPU
 * columns are the steadier comparison. sha256sum
 * hashes the same bytes written once to a file under --dir (default
 * /tmp), warmed into the page cache first. All three digests must agree,
 * else it exits 1.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"

/* ---- before: common/sha256.c as of 302573b (FIPS 180-4 section 6.2) ---- */

struct old_ctx {
	uint32_t h[8];
	uint64_t nbytes;
	uint8_t buf[64];
	size_t nbuf;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
compress(uint32_t h[8], const uint8_t p[64])
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		    ((e & f) ^ (~e & g)) + K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		    ((a & b) ^ (a & c) ^ (b & c));
		hh = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void
old_init(struct old_ctx *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof(iv));
	c->nbytes = 0;
	c->nbuf = 0;
}

static void
old_update(struct old_ctx *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->nbytes += len;
	if (c->nbuf > 0) {
		size_t take = 64 - c->nbuf;

		if (take > len)
			take = len;
		memcpy(c->buf + c->nbuf, p, take);
		c->nbuf += take;
		p += take;
		len -= take;
		if (c->nbuf < 64)
			return;
		compress(c->h, c->buf);
		c->nbuf = 0;
	}
	/* Whole blocks straight from the caller's buffer: no copy. */
	for (; len >= 64; p += 64, len -= 64)
		compress(c->h, p);
	if (len > 0) {
		memcpy(c->buf, p, len);
		c->nbuf = len;
	}
}

static void
old_final(uint8_t out[32], struct old_ctx *c)
{
	uint64_t bits = c->nbytes * 8;
	int i;

	/* Padding: 0x80, zeros to 56 mod 64, then the bit length big-endian. */
	c->buf[c->nbuf++] = 0x80;
	if (c->nbuf > 56) {
		memset(c->buf + c->nbuf, 0, 64 - c->nbuf);
		compress(c->h, c->buf);
		c->nbuf = 0;
	}
	memset(c->buf + c->nbuf, 0, 56 - c->nbuf);
	for (i = 0; i < 8; i++)
		c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(c->h, c->buf);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
	memset(c, 0, sizeof(*c));
}

/* ---- the bench ---- */

enum { IMPL_OLD, IMPL_EVP, IMPL_SUM, NIMPL };
static const char *const impl_name[NIMPL] = {
	"hand-written (before)", "OpenSSL EVP (common/sha256.c)", "sha256sum FILE"};

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b);

static double
cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* User + system seconds of our waited-for children so far. */
static double
children_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
hash_old(char hex[SHA256_HEX_LEN + 1], const uint8_t *p, size_t len, size_t chunk)
{
	struct old_ctx c;
	uint8_t d[32];

	old_init(&c);
	for (size_t off = 0; off < len; off += chunk)
		old_update(&c, p + off, len - off < chunk ? len - off : chunk);
	old_final(d, &c);
	sha256_hex(hex, d);
}

static int
hash_evp(char hex[SHA256_HEX_LEN + 1], const uint8_t *p, size_t len, size_t chunk)
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];

	if (sha256_init(&c) < 0)
		return -1;
	for (size_t off = 0; off < len; off += chunk)
		sha256_update(&c, p + off, len - off < chunk ? len - off : chunk);
	if (sha256_final(d, &c) < 0)
		return -1;
	sha256_hex(hex, d);
	return 0;
}

static int
hash_sum(char hex[SHA256_HEX_LEN + 1], const char *path)
{
	char cmd[4200], line[256];
	FILE *f;
	int ok;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	ok = fgets(line, sizeof(line), f) != NULL && strlen(line) > SHA256_HEX_LEN;
	if (pclose(f) != 0 || !ok)
		return -1;
	memcpy(hex, line, SHA256_HEX_LEN);
	hex[SHA256_HEX_LEN] = '\0';
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wbe");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: sha256 [--mib N] [--runs R] [--chunk KIB] [--dir DIR]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	size_t mib = 1024, runs = 5, chunk = 64 * 1024, len;
	const char *dir = "/tmp";
	char path[4096], hex[NIMPL][SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1];
	double *t[NIMPL], *c[NIMPL], med[NIMPL], cmed[NIMPL];
	uint8_t *buf;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--mib") == 0)
			mib = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--chunk") == 0)
			chunk = strtoul(argv[++i], NULL, 10) * 1024;
		else if (strcmp(argv[i], "--dir") == 0)
			dir = argv[++i];
		else
			usage();
	}
	if (mib == 0 || runs == 0 || chunk == 0)
		usage();
	len = mib << 20;
	if ((buf = malloc(len)) == NULL) {
		perror("sha256: malloc");
		return 1;
	}
	/* xorshift64: incompressible bytes, the same every run. */
	for (size_t i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	snprintf(path, sizeof(path), "%s/orch-bench-sha256.%ld", dir, (long)getpid());
	if (write_file(path, buf, len) < 0 || hash_sum(want, path) < 0) {
		fprintf(stderr, "sha256: cannot write or sha256sum %s: %s\n", path, strerror(errno));
		unlink(path);
		return 1;
	}
	for (int k = 0; k < NIMPL; k++)
		if ((t[k] = calloc(runs, sizeof(double))) == NULL ||
		    (c[k] = calloc(runs, sizeof(double))) == NULL)
			return 1;
	for (size_t r = 0; r < runs; r++) {
		for (int k = 0; k < NIMPL; k++) {
			double t0 = now_s(), c0 = k == IMPL_SUM ? children_cpu_s() : cpu_s();
			int bad = 0;

			switch (k) {
			case IMPL_OLD: hash_old(hex[k], buf, len, chunk); break;
			case IMPL_EVP: bad = hash_evp(hex[k], buf, len, chunk); break;
			case IMPL_SUM: bad = hash_sum(hex[k], path); break;
			}
			t[k][r] = now_s() - t0;
			c[k][r] = (k == IMPL_SUM ? children_cpu_s() : cpu_s()) - c0;
			if (bad < 0 || strcmp(hex[k], want) != 0) {
				fprintf(stderr, "sha256: %s gave %s, sha256sum %s\n",
				    impl_name[k], bad < 0 ? "an error" : hex[k], want);
				rc = 1;
			}
		}
	}
	unlink(path);
	printf("%zu MiB in %zu KiB chunks, %zu runs each, digest %.16s...\n\n",
	    mib, chunk / 1024, runs, want);
	printf("| implementation | median s | min s | max s | MiB/s (median) | median / EVP "
	    "| median CPU s | MiB per CPU s | CPU / EVP |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int k = 0; k < NIMPL; k++) {
		med[k] = median(t[k], runs);
		cmed[k] = median(c[k], runs);
	}
	for (int k = 0; k < NIMPL; k++)
		printf("| %s | %.3f | %.3f | %.3f | %.0f | %.2fx | %.3f | %.0f | %.2fx |\n",
		    impl_name[k], med[k], t[k][0], t[k][runs - 1], (double)mib / med[k],
		    med[k] / med[IMPL_EVP], cmed[k], (double)mib / cmed[k], cmed[k] / cmed[IMPL_EVP]);
	for (int k = 0; k < NIMPL; k++) {
		free(t[k]);
		free(c[k]);
	}
	free(buf);
	return rc;
}
