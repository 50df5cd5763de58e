/*
 * semver.c - semantic versions (semver.org 2.0.0) and npm-style ranges.
 *
 * Versions are parsed strictly: three numeric parts without leading zeros,
 * an optional pre-release of dot-separated identifiers and optional build
 * metadata that never takes part in precedence.
 *
 * Ranges follow node-semver (npm) exactly, so that a constraint in
 * orch.yaml means what a JavaScript or Rust developer expects: every
 * comparator token is desugared into at most two primitive comparators
 * (op, version), e.g. "^1.2" -> ">=1.2.0 <2.0.0-0". The "-0" upper bounds
 * are node-semver's: 0 is the lowest pre-release, so "<2.0.0-0" shuts out
 * 2.0.0's pre-releases too. A range is evaluated while it is parsed, one
 * alternative at a time, so no comparator list is ever allocated and any
 * syntax error is reported even when an earlier alternative matched.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "manifest.h"

/* Longest single comparator token we accept ("~>" + 3 x 20 digits + a
 * 63-byte pre-release + 63-byte build fits with room to spare). */
#define TOKEN_MAX 256

/* ---- versions -------------------------------------------------------- */

/*
 * Read one numeric identifier at *sp (digits, no leading zero unless it is
 * "0", fits in uint64). Returns 0 and advances *sp, or ORCH_EINVALID with
 * why in *why (a static string).
 */
static int
read_num(uint64_t *out, const char **sp, const char **why)
{
	const char *s = *sp;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s)) {
		*why = "expected a number";
		return ORCH_EINVALID;
	}
	if (s[0] == '0' && isdigit((unsigned char)s[1])) {
		*why = "leading zero in a number";
		return ORCH_EINVALID;
	}
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10) {
			*why = "number too large";
			return ORCH_EINVALID;
		}
		v = v * 10 + d;
	}
	*out = v;
	*sp = s;
	return 0;
}

static bool
ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '-';
}

static bool
all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * Check a dot-separated identifier list of n bytes at s (the part after
 * '-' or '+'). Pre-release numeric identifiers may not have leading zeros;
 * build identifiers may. Sets *why on failure.
 */
static int
check_idents(const char *s, size_t n, bool pre, const char **why)
{
	size_t i = 0;

	if (n == 0) {
		*why = pre ? "empty pre-release" : "empty build metadata";
		return ORCH_EINVALID;
	}
	if (n >= sizeof(((struct semver *)0)->pre)) {
		*why = pre ? "pre-release longer than 63 characters" :
		    "build metadata longer than 63 characters";
		return ORCH_EINVALID;
	}
	while (i <= n) {
		size_t start = i;
		while (i < n && s[i] != '.') {
			if (!ident_char(s[i])) {
				*why = pre ? "pre-release may hold only [0-9A-Za-z-.]" :
				    "build metadata may hold only [0-9A-Za-z-.]";
				return ORCH_EINVALID;
			}
			i++;
		}
		if (i == start) {
			*why = pre ? "empty pre-release identifier" :
			    "empty build metadata identifier";
			return ORCH_EINVALID;
		}
		if (pre && i - start > 1 && s[start] == '0' &&
		    all_digits(s + start, i - start)) {
			*why = "leading zero in a numeric pre-release identifier";
			return ORCH_EINVALID;
		}
		i++; /* past the '.' (or past the end) */
	}
	return 0;
}

/*
 * Parse the version at *sp and advance *sp past it; what follows is the
 * caller's business. Shared by semver_parse and the range parser.
 */
static int
parse_version(struct semver *out, const char **sp, const char **why)
{
	struct semver v;
	const char *s = *sp, *p;
	size_t n;

	memset(&v, 0, sizeof(v));
	if (read_num(&v.major, &s, why) < 0)
		return ORCH_EINVALID;
	if (*s != '.') {
		*why = "expected MAJOR.MINOR.PATCH";
		return ORCH_EINVALID;
	}
	s++;
	if (read_num(&v.minor, &s, why) < 0)
		return ORCH_EINVALID;
	if (*s != '.') {
		*why = "expected MAJOR.MINOR.PATCH";
		return ORCH_EINVALID;
	}
	s++;
	if (read_num(&v.patch, &s, why) < 0)
		return ORCH_EINVALID;
	if (*s == '-') {
		p = ++s;
		while (ident_char(*s) || *s == '.')
			s++;
		n = (size_t)(s - p);
		if (check_idents(p, n, true, why) < 0)
			return ORCH_EINVALID;
		memcpy(v.pre, p, n);
		v.pre[n] = '\0';
	}
	if (*s == '+') {
		p = ++s;
		while (ident_char(*s) || *s == '.')
			s++;
		n = (size_t)(s - p);
		if (check_idents(p, n, false, why) < 0)
			return ORCH_EINVALID;
		memcpy(v.build, p, n);
		v.build[n] = '\0';
	}
	*out = v;
	*sp = s;
	return 0;
}

int
semver_parse(struct semver *out, const char *s)
{
	struct semver v;
	const char *p = s, *why = NULL;

	if (s == NULL || *s == '\0')
		return orch_err_set(ORCH_EINVALID,
		    "bad version '': expected MAJOR.MINOR.PATCH");
	if (parse_version(&v, &p, &why) < 0)
		return orch_err_set(ORCH_EINVALID, "bad version '%s': %s", s, why);
	if (*p != '\0')
		return orch_err_set(ORCH_EINVALID,
		    "bad version '%s': unexpected '%c' after '%.*s'", s, *p,
		    (int)(p - s), s);
	*out = v;
	return 0;
}

/* Compare one pre-release identifier each (a_n / b_n bytes). */
static int
ident_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	bool anum = all_digits(a, an), bnum = all_digits(b, bn);
	int c;

	if (anum && bnum) {
		/* No leading zeros, so a longer number is a bigger one, and
		 * numbers of any size compare without overflow. */
		if (an != bn)
			return an < bn ? -1 : 1;
		return memcmp(a, b, an);
	}
	if (anum != bnum)
		return anum ? -1 : 1; /* numeric < alphanumeric */
	c = memcmp(a, b, an < bn ? an : bn);
	if (c != 0)
		return c;
	return an == bn ? 0 : (an < bn ? -1 : 1);
}

static int
pre_cmp(const char *a, const char *b)
{
	if (*a == '\0' || *b == '\0') {
		/* A version without pre-release ranks above one with. */
		if (*a == *b)
			return 0;
		return *a == '\0' ? 1 : -1;
	}
	for (;;) {
		size_t an = strcspn(a, "."), bn = strcspn(b, ".");
		int c = ident_cmp(a, an, b, bn);
		if (c != 0)
			return c < 0 ? -1 : 1;
		a += an;
		b += bn;
		if (*a == '\0' || *b == '\0') {
			/* Equal so far: the longer list ranks higher. */
			if (*a == *b)
				return 0;
			return *a == '\0' ? -1 : 1;
		}
		a++;
		b++;
	}
}

int
semver_cmp(const struct semver *a, const struct semver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return pre_cmp(a->pre, b->pre);
}

void
semver_format(char *buf, size_t len, const struct semver *v)
{
	if (len == 0)
		return;
	snprintf(buf, len, "%llu.%llu.%llu%s%s%s%s",
	    (unsigned long long)v->major, (unsigned long long)v->minor,
	    (unsigned long long)v->patch, v->pre[0] ? "-" : "", v->pre,
	    v->build[0] ? "+" : "", v->build);
}

/* ---- ranges ---------------------------------------------------------- */

enum cmp_op {
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_EQ
};

/* A partial version: "*", "1", "1.2", "1.x", "1.2.3-rc.1". */
struct partial {
	int nparts;        /* numeric parts given before any wildcard: 0..3 */
	uint64_t v[3];
	struct semver full; /* nparts == 3: the whole version incl. pre */
};

/*
 * The state of one alternative while it is evaluated against a version
 * (v == NULL: syntax check only). node-semver's testSet(): every
 * comparator must pass, and a pre-release version additionally needs a
 * comparator naming a pre-release of the same MAJOR.MINOR.PATCH.
 */
struct alt_eval {
	const struct semver *v;
	bool all_pass;
	bool pre_allowed;
	int ncomparators;
};

/* Context of one range parse, for error messages. */
struct range_ctx {
	const char *range; /* the whole range, as given */
};

static int
range_err(const struct range_ctx *rc, const char *tok, const char *why)
{
	return orch_err_set(ORCH_EINVALID, "bad range '%s': '%s': %s",
	    rc->range, tok, why);
}

static void
apply(struct alt_eval *ae, enum cmp_op op, const struct semver *c)
{
	int r;
	bool ok = false;

	ae->ncomparators++;
	if (ae->v == NULL)
		return;
	r = semver_cmp(ae->v, c);
	switch (op) {
	case OP_LT: ok = r < 0; break;
	case OP_LE: ok = r <= 0; break;
	case OP_GT: ok = r > 0; break;
	case OP_GE: ok = r >= 0; break;
	case OP_EQ: ok = r == 0; break;
	}
	if (!ok)
		ae->all_pass = false;
	if (c->pre[0] && c->major == ae->v->major && c->minor == ae->v->minor &&
	    c->patch == ae->v->patch)
		ae->pre_allowed = true;
}

static struct semver
mkver(uint64_t ma, uint64_t mi, uint64_t pa, bool zero_pre)
{
	struct semver v;

	memset(&v, 0, sizeof(v));
	v.major = ma;
	v.minor = mi;
	v.patch = pa;
	if (zero_pre)
		strcpy(v.pre, "0");
	return v;
}

static bool
is_wild(char c)
{
	return c == 'x' || c == 'X' || c == '*';
}

/*
 * Parse a partial version filling the whole of tok. Parts after a wildcard
 * must be wildcards too; a pre-release or build needs all three numbers.
 */
static int
parse_partial(struct partial *out, const struct range_ctx *rc,
    const char *tok, const char *s)
{
	const char *why = NULL, *num;
	bool wild = false;

	memset(out, 0, sizeof(*out));
	if (*s == 'v' || *s == 'V')
		s++; /* npm accepts "v1.2.3" in ranges */
	num = s;
	if (*s == '\0')
		return range_err(rc, tok, "expected a version");
	for (int i = 0; i < 3; i++) {
		if (is_wild(*s)) {
			wild = true;
			s++;
		} else if (wild) {
			return range_err(rc, tok,
			    "a number cannot follow a wildcard");
		} else {
			if (read_num(&out->v[i], &s, &why) < 0)
				return range_err(rc, tok, why);
			out->nparts++;
		}
		if (*s != '.')
			break;
		if (i == 2)
			return range_err(rc, tok, "more than three version parts");
		s++;
		if (*s == '\0')
			return range_err(rc, tok, "expected a number after '.'");
	}
	if ((*s == '-' || *s == '+') && out->nparts == 3) {
		/* Re-parse the whole version with the strict parser so the
		 * pre-release rules are the same as semver_parse's. */
		s = num;
		if (parse_version(&out->full, &s, &why) < 0)
			return range_err(rc, tok, why);
	} else if (out->nparts == 3) {
		out->full = mkver(out->v[0], out->v[1], out->v[2], false);
	}
	if (*s == '-' || *s == '+')
		return range_err(rc, tok,
		    "a pre-release or build needs MAJOR.MINOR.PATCH");
	if (*s != '\0') {
		char msg[64];
		snprintf(msg, sizeof(msg), "unexpected '%c'", *s);
		return range_err(rc, tok, msg);
	}
	return 0;
}

/* n + 1, refusing to wrap around. */
static int
inc(uint64_t *out, uint64_t n, const struct range_ctx *rc, const char *tok)
{
	if (n == UINT64_MAX)
		return range_err(rc, tok, "number too large");
	*out = n + 1;
	return 0;
}

/* ">=lo <hi-0" for an X-range such as "1" or "1.2" (nparts 1 or 2). */
static int
xrange(struct alt_eval *ae, const struct partial *p,
    const struct range_ctx *rc, const char *tok)
{
	struct semver lo, hi;
	uint64_t n = 0;

	if (p->nparts == 1) {
		if (inc(&n, p->v[0], rc, tok) < 0)
			return ORCH_EINVALID;
		lo = mkver(p->v[0], 0, 0, false);
		hi = mkver(n, 0, 0, true);
	} else {
		if (inc(&n, p->v[1], rc, tok) < 0)
			return ORCH_EINVALID;
		lo = mkver(p->v[0], p->v[1], 0, false);
		hi = mkver(p->v[0], n, 0, true);
	}
	apply(ae, OP_GE, &lo);
	apply(ae, OP_LT, &hi);
	return 0;
}

/* A primitive with an operator: node-semver's replaceXRange for gtlt. */
static int
primitive(struct alt_eval *ae, enum cmp_op op, const struct partial *p,
    const struct range_ctx *rc, const char *tok)
{
	struct semver c;
	uint64_t ma = p->v[0], mi = p->v[1];

	if (p->nparts == 3) {
		apply(ae, op, &p->full);
		return 0;
	}
	if (p->nparts == 0) {
		if (op == OP_LT || op == OP_GT) {
			/* "<*" and ">*": nothing is allowed. */
			c = mkver(0, 0, 0, true);
			apply(ae, OP_LT, &c);
		}
		return 0; /* ">=*", "<=*", "=*": anything */
	}
	switch (op) {
	case OP_EQ:
		return xrange(ae, p, rc, tok);
	case OP_GT: /* >1 => >=2.0.0, >1.2 => >=1.3.0 */
		if (p->nparts == 1) {
			if (inc(&ma, ma, rc, tok) < 0)
				return ORCH_EINVALID;
			mi = 0;
		} else if (inc(&mi, mi, rc, tok) < 0)
			return ORCH_EINVALID;
		c = mkver(ma, mi, 0, false);
		apply(ae, OP_GE, &c);
		return 0;
	case OP_GE:
		c = mkver(ma, p->nparts == 1 ? 0 : mi, 0, false);
		apply(ae, OP_GE, &c);
		return 0;
	case OP_LE: /* <=1.2 => <1.3.0-0, <=1 => <2.0.0-0 */
		if (p->nparts == 1) {
			if (inc(&ma, ma, rc, tok) < 0)
				return ORCH_EINVALID;
			mi = 0;
		} else if (inc(&mi, mi, rc, tok) < 0)
			return ORCH_EINVALID;
		c = mkver(ma, mi, 0, true);
		apply(ae, OP_LT, &c);
		return 0;
	case OP_LT: /* <1.2 => <1.2.0-0 */
		c = mkver(ma, p->nparts == 1 ? 0 : mi, 0, true);
		apply(ae, OP_LT, &c);
		return 0;
	}
	return 0;
}

/* "~1.2.3" => >=1.2.3 <1.3.0-0; "~1.2" the same from 1.2.0; "~1" <2.0.0-0. */
static int
tilde(struct alt_eval *ae, const struct partial *p,
    const struct range_ctx *rc, const char *tok)
{
	struct semver hi;
	uint64_t n = 0;

	if (p->nparts == 0)
		return 0;
	if (p->nparts < 3)
		return xrange(ae, p, rc, tok);
	if (inc(&n, p->v[1], rc, tok) < 0)
		return ORCH_EINVALID;
	hi = mkver(p->v[0], n, 0, true);
	apply(ae, OP_GE, &p->full);
	apply(ae, OP_LT, &hi);
	return 0;
}

/*
 * "^1.2.3" => >=1.2.3 <2.0.0-0; "^0.2.3" => <0.3.0-0; "^0.0.3" =>
 * <0.0.4-0; "^1.2" => >=1.2.0 <2.0.0-0; "^0.2" => <0.3.0-0; "^0.0" =>
 * <0.1.0-0; "^1" => <2.0.0-0. The left-most non-zero part may not change.
 */
static int
caret(struct alt_eval *ae, const struct partial *p,
    const struct range_ctx *rc, const char *tok)
{
	struct semver lo, hi;
	uint64_t n = 0;

	if (p->nparts == 0)
		return 0;
	if (p->nparts == 1)
		return xrange(ae, p, rc, tok);
	if (p->nparts == 2) {
		if (p->v[0] == 0)
			return xrange(ae, p, rc, tok);
		if (inc(&n, p->v[0], rc, tok) < 0)
			return ORCH_EINVALID;
		lo = mkver(p->v[0], p->v[1], 0, false);
		hi = mkver(n, 0, 0, true);
		apply(ae, OP_GE, &lo);
		apply(ae, OP_LT, &hi);
		return 0;
	}
	if (p->v[0] != 0) {
		if (inc(&n, p->v[0], rc, tok) < 0)
			return ORCH_EINVALID;
		hi = mkver(n, 0, 0, true);
	} else if (p->v[1] != 0) {
		if (inc(&n, p->v[1], rc, tok) < 0)
			return ORCH_EINVALID;
		hi = mkver(0, n, 0, true);
	} else {
		if (inc(&n, p->v[2], rc, tok) < 0)
			return ORCH_EINVALID;
		hi = mkver(0, 0, n, true);
	}
	apply(ae, OP_GE, &p->full);
	apply(ae, OP_LT, &hi);
	return 0;
}

/* One comparator token (operator already glued to its version). */
static int
comparator(struct alt_eval *ae, const struct range_ctx *rc, const char *tok)
{
	struct partial p;
	const char *s = tok;
	enum cmp_op op = OP_EQ;
	enum { K_PLAIN, K_OP, K_TILDE, K_CARET } kind = K_PLAIN;

	if (strncmp(s, ">=", 2) == 0) {
		op = OP_GE; kind = K_OP; s += 2;
	} else if (strncmp(s, "<=", 2) == 0) {
		op = OP_LE; kind = K_OP; s += 2;
	} else if (*s == '>') {
		op = OP_GT; kind = K_OP; s++;
	} else if (*s == '<') {
		op = OP_LT; kind = K_OP; s++;
	} else if (*s == '=') {
		op = OP_EQ; kind = K_OP; s++;
	} else if (strncmp(s, "~>", 2) == 0) {
		kind = K_TILDE; s += 2; /* npm reads "~>" like "~" */
	} else if (*s == '~') {
		kind = K_TILDE; s++;
	} else if (*s == '^') {
		kind = K_CARET; s++;
	}
	if (parse_partial(&p, rc, tok, s) < 0)
		return ORCH_EINVALID;
	switch (kind) {
	case K_PLAIN:
	case K_OP:
		return primitive(ae, op, &p, rc, tok);
	case K_TILDE:
		return tilde(ae, &p, rc, tok);
	case K_CARET:
		return caret(ae, &p, rc, tok);
	}
	return 0;
}

/* "A - B": node-semver's hyphenReplace. */
static int
hyphen(struct alt_eval *ae, const struct range_ctx *rc, const char *from,
    const char *to)
{
	struct partial a, b;
	struct semver c;
	uint64_t n = 0;

	if (parse_partial(&a, rc, from, from) < 0 ||
	    parse_partial(&b, rc, to, to) < 0)
		return ORCH_EINVALID;
	if (a.nparts == 3) {
		apply(ae, OP_GE, &a.full);
	} else if (a.nparts > 0) {
		c = mkver(a.v[0], a.nparts == 2 ? a.v[1] : 0, 0, false);
		apply(ae, OP_GE, &c);
	}
	if (b.nparts == 3) {
		apply(ae, OP_LE, &b.full);
	} else if (b.nparts == 2) {
		if (inc(&n, b.v[1], rc, to) < 0)
			return ORCH_EINVALID;
		c = mkver(b.v[0], n, 0, true);
		apply(ae, OP_LT, &c);
	} else if (b.nparts == 1) {
		if (inc(&n, b.v[0], rc, to) < 0)
			return ORCH_EINVALID;
		c = mkver(n, 0, 0, true);
		apply(ae, OP_LT, &c);
	}
	return 0;
}

static bool
is_op_only(const char *t)
{
	return strcmp(t, ">") == 0 || strcmp(t, ">=") == 0 ||
	    strcmp(t, "<") == 0 || strcmp(t, "<=") == 0 ||
	    strcmp(t, "=") == 0 || strcmp(t, "~") == 0 ||
	    strcmp(t, "~>") == 0 || strcmp(t, "^") == 0;
}

/*
 * Copy the next whitespace-separated token of [*sp, end) into tok.
 * Returns 1 when a token was read, 0 at the end, <0 when it is too long.
 */
static int
next_token(char *tok, const char **sp, const char *end,
    const struct range_ctx *rc)
{
	const char *s = *sp, *t;
	size_t n;

	while (s < end && isspace((unsigned char)*s))
		s++;
	if (s == end) {
		*sp = s;
		return 0;
	}
	t = s;
	while (s < end && !isspace((unsigned char)*s))
		s++;
	n = (size_t)(s - t);
	if (n >= TOKEN_MAX)
		return orch_err_set(ORCH_EINVALID,
		    "bad range '%s': a comparator longer than %d characters",
		    rc->range, TOKEN_MAX - 1);
	memcpy(tok, t, n);
	tok[n] = '\0';
	*sp = s;
	return 1;
}

/*
 * Evaluate one alternative [s, end). Tokens: comparators separated by
 * whitespace, an operator may stand apart from its version (">= 1.2.3"),
 * or exactly "A - B". An alternative without comparators matches any
 * release version.
 */
static int
alternative(struct alt_eval *ae, const struct range_ctx *rc, const char *s,
    const char *end)
{
	char tok[TOKEN_MAX], tok2[TOKEN_MAX], tok3[TOKEN_MAX];
	char glued[2 * TOKEN_MAX];
	const char *p = s;
	int r, ntok = 0;

	/* Hyphen range first: exactly three tokens, the middle one "-". */
	{
		const char *q = s;
		int a = next_token(tok, &q, end, rc);
		int b = a > 0 ? next_token(tok2, &q, end, rc) : a;
		int c = b > 0 ? next_token(tok3, &q, end, rc) : b;
		char extra[TOKEN_MAX];
		int d = c > 0 ? next_token(extra, &q, end, rc) : c;

		if (a < 0 || b < 0 || c < 0 || d < 0)
			return ORCH_EINVALID;
		if (a > 0 && b > 0 && c > 0 && d == 0 &&
		    strcmp(tok2, "-") == 0)
			return hyphen(ae, rc, tok, tok3);
	}
	while ((r = next_token(tok, &p, end, rc)) > 0) {
		ntok++;
		if (strcmp(tok, "-") == 0)
			return range_err(rc, tok,
			    "a hyphen range is written 'A - B' and stands alone");
		if (is_op_only(tok)) {
			r = next_token(tok2, &p, end, rc);
			if (r < 0)
				return r;
			if (r == 0)
				return range_err(rc, tok,
				    "operator without a version");
			snprintf(glued, sizeof(glued), "%s%s", tok, tok2);
			if (strlen(glued) >= TOKEN_MAX)
				return range_err(rc, tok2, "too long");
			if (comparator(ae, rc, glued) < 0)
				return ORCH_EINVALID;
			continue;
		}
		if (comparator(ae, rc, tok) < 0)
			return ORCH_EINVALID;
	}
	return r;
}

/*
 * Walk the alternatives of range, evaluating each against v (NULL: only
 * check the syntax). *out = some alternative matched.
 */
static int
range_eval(bool *out, const char *range, const struct semver *v)
{
	struct range_ctx rc = {range};
	const char *s = range, *bar;
	bool any = false;
	int nalt = 0;

	if (range == NULL)
		return orch_err_set(ORCH_EINVALID, "bad range: none given");
	for (;;) {
		struct alt_eval ae = {v, true, false, 0};
		const char *end;

		bar = strstr(s, "||");
		end = bar ? bar : s + strlen(s);
		nalt++;
		if (alternative(&ae, &rc, s, end) < 0)
			return ORCH_EINVALID;
		if (ae.ncomparators == 0 && (bar != NULL || nalt > 1)) {
			/* An empty side of "||" is almost surely a typo. */
			const char *q = s;
			while (q < end && isspace((unsigned char)*q))
				q++;
			if (q == end)
				return orch_err_set(ORCH_EINVALID,
				    "bad range '%s': empty alternative around '||'",
				    range);
		}
		if (v != NULL && ae.all_pass &&
		    (v->pre[0] == '\0' || ae.pre_allowed))
			any = true;
		if (bar == NULL)
			break;
		s = bar + 2;
	}
	if (out)
		*out = any;
	return 0;
}

int
semver_range_check(const char *range)
{
	return range_eval(NULL, range, NULL);
}

int
semver_satisfies(bool *out, const char *range, const struct semver *v)
{
	bool r = false;

	if (v == NULL)
		return orch_err_set(ORCH_EINVALID, "no version to check");
	if (range_eval(&r, range, v) < 0)
		return ORCH_EINVALID;
	*out = r;
	return 0;
}
