/*
 * test_controller_metrics.c - GET /metrics on a real cluster (a controller,
 * two slaves, two httpapp services): every line parses under a strict
 * reading of the Prometheus text exposition format 0.0.4, histograms are
 * cumulative and end in +Inf == _count, and the numbers agree with
 * /v1/status, /v1/instances and /v1/nodes read right after, the per-node
 * capacity gauges (declared and held by the services' resources) too.
 */
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "err.h"

#define MAX_FAMILIES 128
#define MAX_SAMPLES 1024
#define MAX_LABELS 8
#define NAME_MAX_ 128
#define VALUE_MAX 256

struct family {
	char name[NAME_MAX_];
	char type[16];
	bool help;
};

struct sample {
	char name[NAME_MAX_];
	int family;                     /* index into families */
	size_t nlabels;
	char lname[MAX_LABELS][NAME_MAX_];
	char lvalue[MAX_LABELS][VALUE_MAX]; /* unescaped */
	double value;
};

struct expo {
	struct family fam[MAX_FAMILIES];
	size_t nfam;
	struct sample s[MAX_SAMPLES];
	size_t ns;
	char err[512];                  /* the first error, "line N: why" */
};

static struct cluster *cl;

/* --- a strict parser of the text format ----------------------------- */

static bool
name_start(int ch, bool colon)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	    (colon && ch == ':');
}

static bool
name_char(int ch, bool colon)
{
	return name_start(ch, colon) || (ch >= '0' && ch <= '9');
}

/* A metric (colon) or label name at *p into out; advances *p. */
static int
parse_name(char *out, const char **p, bool colon)
{
	size_t n = 0;

	if (!name_start(**p, colon))
		return -1;
	while (name_char(**p, colon)) {
		if (n + 1 >= NAME_MAX_)
			return -1;
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return 0;
}

/* A Go ParseFloat-style value: a decimal/exponent float, NaN, +Inf, -Inf. */
static int
parse_value(double *out, const char **p)
{
	const char *s = *p;
	char *end;
	size_t n = strcspn(s, " ");

	if (n == 3 && strncmp(s, "NaN", 3) == 0)
		*out = NAN;
	else if (n == 4 && strncmp(s, "+Inf", 4) == 0)
		*out = INFINITY;
	else if (n == 4 && strncmp(s, "-Inf", 4) == 0)
		*out = -INFINITY;
	else {
		for (size_t k = 0; k < n; k++)
			if (strchr("0123456789+-.eE", s[k]) == NULL)
				return -1;
		*out = strtod(s, &end);
		if (end != s + n || n == 0)
			return -1;
	}
	*p = s + n;
	return 0;
}

static int
find_family(const struct expo *e, const char *name)
{
	for (size_t k = 0; k < e->nfam; k++)
		if (strcmp(e->fam[k].name, name) == 0)
			return (int)k;
	return -1;
}

/* The family a sample name belongs to: itself, or for histograms and
 * summaries the name without _bucket/_sum/_count. -1: undeclared. */
static int
sample_family(const struct expo *e, const char *name)
{
	static const char *const sfx[] = {"_bucket", "_sum", "_count"};
	int f = find_family(e, name);

	if (f >= 0 && strcmp(e->fam[f].type, "histogram") != 0)
		return f;
	for (size_t k = 0; k < 3; k++) {
		size_t ln = strlen(name), ls = strlen(sfx[k]);
		char base[NAME_MAX_];

		if (ln <= ls || strcmp(name + ln - ls, sfx[k]) != 0)
			continue;
		memcpy(base, name, ln - ls);
		base[ln - ls] = '\0';
		if ((f = find_family(e, base)) < 0)
			continue;
		if (strcmp(e->fam[f].type, "histogram") == 0 ||
		    (strcmp(e->fam[f].type, "summary") == 0 && k > 0))
			return f;
	}
	return -1;
}

static int
parse_comment(struct expo *e, const char *p)
{
	char name[NAME_MAX_];
	bool help;
	int f;

	if (strncmp(p, "# HELP ", 7) == 0)
		help = true;
	else if (strncmp(p, "# TYPE ", 7) == 0)
		help = false;
	else
		return 0; /* any other comment is ignored */
	p += 7;
	if (parse_name(name, &p, true) < 0)
		return snprintf(e->err, sizeof(e->err), "bad metric name in comment"), -1;
	if ((f = find_family(e, name)) < 0) {
		if (e->nfam == MAX_FAMILIES)
			return snprintf(e->err, sizeof(e->err), "too many families"), -1;
		f = (int)e->nfam++;
		snprintf(e->fam[f].name, sizeof(e->fam[f].name), "%s", name);
	}
	if (help) {
		if (e->fam[f].help)
			return snprintf(e->err, sizeof(e->err), "second HELP for %s", name), -1;
		if (*p != ' ' && *p != '\0')
			return snprintf(e->err, sizeof(e->err), "HELP %s: junk after name", name), -1;
		/* HELP text may hold \\ and \n escapes only. */
		for (const char *q = p; *q; q++)
			if (*q == '\\' && (q[1] != '\\' && q[1] != 'n'))
				return snprintf(e->err, sizeof(e->err), "HELP %s: bad escape", name), -1;
			else if (*q == '\\')
				q++;
		e->fam[f].help = true;
		return 0;
	}
	if (e->fam[f].type[0] != '\0')
		return snprintf(e->err, sizeof(e->err), "second TYPE for %s", name), -1;
	for (size_t k = 0; k < e->ns; k++)
		if (e->s[k].family == f || strcmp(e->s[k].name, name) == 0)
			return snprintf(e->err, sizeof(e->err), "TYPE %s after its samples", name), -1;
	if (*p++ != ' ')
		return snprintf(e->err, sizeof(e->err), "TYPE %s: no type", name), -1;
	if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0 && strcmp(p, "histogram") != 0 &&
	    strcmp(p, "summary") != 0 && strcmp(p, "untyped") != 0)
		return snprintf(e->err, sizeof(e->err), "TYPE %s: unknown type \"%s\"", name, p), -1;
	snprintf(e->fam[f].type, sizeof(e->fam[f].type), "%s", p);
	return 0;
}

static int
parse_labels(struct expo *e, struct sample *s, const char **pp)
{
	const char *p = *pp;

	if (*p != '{')
		return 0;
	p++;
	while (*p != '}') {
		size_t n = 0;

		if (s->nlabels == MAX_LABELS)
			return snprintf(e->err, sizeof(e->err), "too many labels"), -1;
		if (parse_name(s->lname[s->nlabels], &p, false) < 0)
			return snprintf(e->err, sizeof(e->err), "bad label name"), -1;
		for (size_t k = 0; k < s->nlabels; k++)
			if (strcmp(s->lname[k], s->lname[s->nlabels]) == 0)
				return snprintf(e->err, sizeof(e->err), "label %s twice",
				    s->lname[k]), -1;
		if (*p++ != '=' || *p++ != '"')
			return snprintf(e->err, sizeof(e->err), "want =\" after label name"), -1;
		for (; *p != '"'; p++) {
			char ch = *p;

			if (ch == '\0' || ch == '\n')
				return snprintf(e->err, sizeof(e->err), "unterminated label value"), -1;
			if (ch == '\\') {
				p++;
				if (*p == '\\' || *p == '"')
					ch = *p;
				else if (*p == 'n')
					ch = '\n';
				else
					return snprintf(e->err, sizeof(e->err), "bad escape in label value"), -1;
			}
			if (n + 1 >= VALUE_MAX)
				return snprintf(e->err, sizeof(e->err), "label value too long"), -1;
			s->lvalue[s->nlabels][n++] = ch;
		}
		s->lvalue[s->nlabels][n] = '\0';
		s->nlabels++;
		p++;
		if (*p == ',' && p[1] != '}')
			p++;
		else if (*p != '}')
			return snprintf(e->err, sizeof(e->err), "want , or } after label value"), -1;
	}
	*pp = p + 1;
	return 0;
}

static int
parse_sample(struct expo *e, const char *p)
{
	struct sample *s;
	const char *f;

	if (e->ns == MAX_SAMPLES)
		return snprintf(e->err, sizeof(e->err), "too many samples"), -1;
	s = &e->s[e->ns];
	memset(s, 0, sizeof(*s));
	if (parse_name(s->name, &p, true) < 0)
		return snprintf(e->err, sizeof(e->err), "bad metric name"), -1;
	if (parse_labels(e, s, &p) < 0)
		return -1;
	if (*p != ' ')
		return snprintf(e->err, sizeof(e->err), "%s: want a space before the value", s->name), -1;
	while (*p == ' ')
		p++;
	if (parse_value(&s->value, &p) < 0)
		return snprintf(e->err, sizeof(e->err), "%s: bad value", s->name), -1;
	if (*p == ' ') { /* an optional timestamp: an int64 of milliseconds */
		while (*p == ' ')
			p++;
		if (*p == '-')
			p++;
		f = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == f)
			return snprintf(e->err, sizeof(e->err), "%s: bad timestamp", s->name), -1;
	}
	if (*p != '\0')
		return snprintf(e->err, sizeof(e->err), "%s: junk at end of line", s->name), -1;
	if ((s->family = sample_family(e, s->name)) < 0 || e->fam[s->family].type[0] == '\0')
		return snprintf(e->err, sizeof(e->err), "%s: no TYPE before it", s->name), -1;
	/* A family's samples are one group: none of it after another family. */
	if (e->ns > 0 && e->s[e->ns - 1].family != s->family)
		for (size_t k = 0; k < e->ns; k++)
			if (e->s[k].family == s->family)
				return snprintf(e->err, sizeof(e->err), "%s: family not contiguous",
				    s->name), -1;
	for (size_t k = 0; k < e->ns; k++) { /* no sample twice */
		bool same = strcmp(e->s[k].name, s->name) == 0 && e->s[k].nlabels == s->nlabels;

		for (size_t l = 0; same && l < s->nlabels; l++) {
			bool found = false;

			for (size_t m = 0; m < s->nlabels; m++)
				if (strcmp(e->s[k].lname[m], s->lname[l]) == 0 &&
				    strcmp(e->s[k].lvalue[m], s->lvalue[l]) == 0)
					found = true;
			same = found;
		}
		if (same)
			return snprintf(e->err, sizeof(e->err), "%s: sample twice", s->name), -1;
	}
	e->ns++;
	return 0;
}

static const char *
label(const struct sample *s, const char *name)
{
	for (size_t k = 0; k < s->nlabels; k++)
		if (strcmp(s->lname[k], name) == 0)
			return s->lvalue[k];
	return NULL;
}

/* Histograms: per family, le ascending, counts non-decreasing, the last
 * bucket +Inf, equal to _count, and a _sum. (orch's have no other label.) */
static int
check_histograms(struct expo *e)
{
	for (size_t f = 0; f < e->nfam; f++) {
		double prev_le = -INFINITY, prev = 0, inf = -1, count = -1;
		bool sum = false;
		size_t nb = 0;
		char want[NAME_MAX_ + 8];

		if (strcmp(e->fam[f].type, "histogram") != 0)
			continue;
		snprintf(want, sizeof(want), "%s_bucket", e->fam[f].name);
		for (size_t k = 0; k < e->ns; k++) {
			const struct sample *s = &e->s[k];
			const char *le;
			char *end;
			double v;

			if (s->family != (int)f)
				continue;
			if (strcmp(s->name, want) == 0) {
				if ((le = label(s, "le")) == NULL)
					return snprintf(e->err, sizeof(e->err), "%s: bucket without le",
					    s->name), -1;
				v = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, &end);
				if (v != INFINITY && (*end != '\0' || end == le))
					return snprintf(e->err, sizeof(e->err), "%s: bad le \"%s\"",
					    s->name, le), -1;
				if (inf >= 0 || v <= prev_le || s->value < prev)
					return snprintf(e->err, sizeof(e->err), "%s{le=\"%s\"}: not "
					    "ascending or not cumulative", s->name, le), -1;
				prev_le = v;
				prev = s->value;
				if (v == INFINITY)
					inf = s->value;
				nb++;
			} else if (label(s, "le") != NULL) {
				return snprintf(e->err, sizeof(e->err), "%s: le outside a bucket",
				    s->name), -1;
			} else if (strstr(s->name, "_count") == s->name + strlen(s->name) - 6) {
				count = s->value;
			} else {
				sum = true;
			}
		}
		if (nb < 2 || inf < 0 || count < 0 || !sum || inf != count)
			return snprintf(e->err, sizeof(e->err), "histogram %s: want buckets ending "
			    "in +Inf == _count (%g vs %g) and a _sum", e->fam[f].name, inf, count), -1;
	}
	return 0;
}

/* Parse text into e: 0, or -1 with e->err. */
static int
expo_parse(struct expo *e, const char *text)
{
	size_t line = 0;
	char *copy = strdup(text), *p, *nl;
	int rc = 0;

	memset(e, 0, sizeof(*e));
	if (copy == NULL)
		return -1;
	if (*text == '\0' || text[strlen(text) - 1] != '\n') {
		snprintf(e->err, sizeof(e->err), "the text does not end in a newline");
		free(copy);
		return -1;
	}
	for (p = copy; *p; p = nl + 1) {
		char why[sizeof(e->err)];

		nl = strchr(p, '\n');
		*nl = '\0';
		line++;
		if (*p == '\0')
			continue;
		rc = *p == '#' ? parse_comment(e, p) : parse_sample(e, p);
		if (rc < 0) {
			snprintf(why, sizeof(why), "%s", e->err);
			snprintf(e->err, sizeof(e->err), "line %zu \"%.80s\": %.380s", line, p, why);
			break;
		}
	}
	free(copy);
	return rc < 0 ? -1 : check_histograms(e);
}

/* The value of name{lname="lvalue"} (lname NULL: no labels); NAN if absent. */
static double
value_of(const struct expo *e, const char *name, const char *lname, const char *lvalue)
{
	for (size_t k = 0; k < e->ns; k++) {
		const struct sample *s = &e->s[k];

		if (strcmp(s->name, name) != 0)
			continue;
		if (lname == NULL ? s->nlabels == 0 :
		    (s->nlabels == 1 && label(s, lname) && strcmp(label(s, lname), lvalue) == 0))
			return s->value;
	}
	return NAN;
}

/* --- the parser, on its own ----------------------------------------- */

TEST(metrics__parser_is_strict)
{
	static struct expo e;
	static const char *const bad[] = {
		"x 1\n",                                        /* no TYPE */
		"# TYPE x gauge\nx{a=\"b\\t\"} 1\n",            /* bad escape */
		"# TYPE x gauge\nx{a=\"b} 1\n",                 /* unterminated */
		"# TYPE x gauge\nx{a=b} 1\n",                   /* unquoted */
		"# TYPE x gauge\nx one\n",                      /* not a number */
		"# TYPE x gauge\n# TYPE x counter\nx 1\n",      /* TYPE twice */
		"# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n", /* not contiguous */
		"# TYPE 1x gauge\n",                            /* bad name */
		"# TYPE x flow\n",                              /* bad type */
		"# TYPE x gauge\nx 1 junk\n",                   /* bad timestamp */
		"# TYPE x gauge\nx 1",                          /* no final newline */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
		    "h_sum 0\nh_count 1\n",                     /* not cumulative */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
		    "h_sum 0\nh_count 3\n",                     /* +Inf != _count */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 2\n"
		    "h_sum 0\nh_count 2\n",                     /* no +Inf */
	};

	CHECK_EQ_INT(expo_parse(&e, "# HELP x A \\\\ help\\n.\n# TYPE x gauge\n"
	    "x{a=\"q\\\"\\\\\\n\",b=\"\"} -1.5e3 1700000000000\n\n# just a comment\n"
	    "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
	    "h_sum 0.7\nh_count 2\n# TYPE x:y_total counter\nx:y_total +Inf\n"), 0);
	CHECK_STR(e.err, "");
	CHECK_EQ_INT(e.ns, 6);
	CHECK_STR(e.s[0].lvalue[0], "q\"\\\n");
	CHECK(e.s[0].value == -1500);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (expo_parse(&e, bad[k]) == 0)
			check_fail(__FILE__, __LINE__, "accepted: %s", bad[k]);
}

/* --- against a real cluster ----------------------------------------- */

static const char *
manifest(void)
{
	static char buf[4096];
	const char *app = cluster_app("httpapp");

	snprintf(buf, sizeof(buf),
	    "architecture: met\n"
	    "version: \"1.0.0\"\n"
	    "services:\n"
	    "  front:\n"
	    "    version: \"1.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    resources: {cpu: 250m, memory: 64M}\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n"
	    "  back:\n"
	    "    version: \"2.0.0\"\n"
	    "    command: [\"%s\", \"--port\", \"${ORCH_PORT}\", \"--version\", \"${ORCH_VERSION}\"]\n"
	    "    ports: [http]\n"
	    "    replicas: 1\n"
	    "    resources: {cpu: 0.5, memory: 128M}\n"
	    "    health: {type: http, path: /healthz, interval: 300ms, timeout: 300ms}\n",
	    app, app);
	return buf;
}

/* GET /metrics, parsed into e; 0 or -1 (a CHECK failure says why). */
static int
scrape(struct expo *e)
{
	struct http_result r = {0};
	char url[256];
	int rc;

	snprintf(url, sizeof(url), "%s/metrics", cl->url);
	if (http_request(&r, "GET", url, CL_TOKEN, NULL, 0, 10000) < 0 || r.status != 200) {
		check_fail(__FILE__, __LINE__, "GET /metrics: status %ld", r.status);
		http_result_free(&r);
		return -1;
	}
	if ((rc = expo_parse(e, r.body)) < 0)
		check_fail(__FILE__, __LINE__, "/metrics does not parse: %s", e->err);
	http_result_free(&r);
	return rc;
}

/* Count the objects of array key of GET path by their "state". */
struct tally {
	char state[16][32];
	int n[16];
	size_t len;
	int total;
};

static int
tally(struct tally *out, const char *path, const char *key)
{
	json_t *j = cluster_get(cl, path), *a = json_object_get(j, key), *o;
	size_t k;

	memset(out, 0, sizeof(*out));
	if (!json_is_array(a)) {
		json_decref(j);
		return -1;
	}
	json_array_foreach(a, k, o) {
		const char *st = json_string_value(json_object_get(o, "state"));
		size_t m;

		if (st == NULL)
			continue;
		for (m = 0; m < out->len && strcmp(out->state[m], st) != 0; m++)
			;
		if (m == out->len && out->len < 16)
			snprintf(out->state[out->len++], sizeof(out->state[0]), "%s", st);
		if (m < 16)
			out->n[m]++;
		out->total++;
	}
	json_decref(j);
	return 0;
}

static int
tally_of(const struct tally *t, const char *state)
{
	for (size_t m = 0; m < t->len; m++)
		if (strcmp(t->state[m], state) == 0)
			return t->n[m];
	return 0;
}

/* Whether family name{state=...} of e says what t says: every state of t
 * has its sample, and every sample its count. why: the first difference. */
static bool
agrees(const struct expo *e, const char *name, const struct tally *t, char *why, size_t len)
{
	double total = 0;

	for (size_t m = 0; m < t->len; m++)
		if (value_of(e, name, "state", t->state[m]) != t->n[m]) {
			snprintf(why, len, "%s{state=\"%s\"} %g, JSON %d", name, t->state[m],
			    value_of(e, name, "state", t->state[m]), t->n[m]);
			return false;
		}
	for (size_t k = 0; k < e->ns; k++)
		if (strcmp(e->s[k].name, name) == 0) {
			const char *st = label(&e->s[k], "state");

			if (st == NULL || e->s[k].value != tally_of(t, st)) {
				snprintf(why, len, "%s{state=\"%s\"} %g, JSON %d", name,
				    st ? st : "?", e->s[k].value, st ? tally_of(t, st) : -1);
				return false;
			}
			total += e->s[k].value;
		}
	if (total != t->total) {
		snprintf(why, len, "%s: %g in all, JSON %d", name, total, t->total);
		return false;
	}
	return true;
}

/* The per-node capacity gauges and the /v1/nodes field each must equal. */
static const char *const node_gauges[][2] = {
	{"orch_node_cpu_used", "used_cpu"},
	{"orch_node_cpu_capacity", "cpu"},
	{"orch_node_memory_used_bytes", "used_memory"},
	{"orch_node_memory_capacity_bytes", "memory"},
};
#define NODE_GAUGES (sizeof(node_gauges) / sizeof(node_gauges[0]))

static bool
same_counts(const struct expo *a, const struct expo *b)
{
	static const char *const fams[] = {"orch_services", "orch_instances", "orch_nodes"};

	for (size_t f = 0; f < 3; f++)
		for (size_t k = 0; k < a->ns; k++)
			if (strcmp(a->s[k].name, fams[f]) == 0 &&
			    value_of(b, fams[f], "state", label(&a->s[k], "state")) != a->s[k].value)
				return false;
	for (size_t f = 0; f < NODE_GAUGES; f++)
		for (size_t k = 0; k < a->ns; k++)
			if (strcmp(a->s[k].name, node_gauges[f][0]) == 0 &&
			    value_of(b, node_gauges[f][0], "node", label(&a->s[k], "node")) !=
			    a->s[k].value)
				return false;
	return true;
}

static bool
rollout_succeeded(void)
{
	static struct expo e;

	return scrape(&e) == 0 && value_of(&e, "orch_rollouts_total", "result", "succeeded") >= 1;
}

TEST(metrics__start_and_deploy)
{
	char sha[41];

	REQUIRE(cluster_start(&cl, 2, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest(), sha) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	CHECK(WAIT_FOR(cluster_service_is(cl, "front", "Run") &&
	    cluster_service_is(cl, "back", "Run"), CL_WAIT));
	CHECK(WAIT_FOR(rollout_succeeded(), 10000));
}

TEST(metrics__parse_and_match_the_api)
{
	static struct expo before, after;
	struct tally svcs, insts, nodes;
	char why[512] = "";
	bool stable = false;
	json_t *jn;
	size_t k;
	json_t *o;

	REQUIRE(cl != NULL);
	/* /metrics, then the JSON, then /metrics again: when both scrapes
	 * agree nothing moved in between, and the JSON must agree too. */
	for (int tries = 0; tries < 50 && !stable; tries++) {
		if (tries > 0)
			usleep(100000);
		REQUIRE(scrape(&before) == 0);
		REQUIRE(tally(&svcs, "/v1/status", "services") == 0);
		REQUIRE(tally(&insts, "/v1/instances", "instances") == 0);
		REQUIRE(tally(&nodes, "/v1/nodes", "nodes") == 0);
		REQUIRE(scrape(&after) == 0);
		stable = same_counts(&before, &after) && same_counts(&after, &before);
	}
	REQUIRE(stable);
	if (!agrees(&after, "orch_services", &svcs, why, sizeof(why)) ||
	    !agrees(&after, "orch_instances", &insts, why, sizeof(why)) ||
	    !agrees(&after, "orch_nodes", &nodes, why, sizeof(why)))
		check_fail(__FILE__, __LINE__, "metrics and API differ: %s", why);
	CHECK_EQ_INT(tally_of(&svcs, "Run"), 2);
	CHECK_EQ_INT(tally_of(&insts, "Run"), 3);
	CHECK_EQ_INT(tally_of(&nodes, "Ready"), 2);

	/* Families and their types. */
	CHECK_STR(after.fam[find_family(&after, "orch_reconcile_duration_seconds")].type, "histogram");
	CHECK_STR(after.fam[find_family(&after, "orch_apply_duration_seconds")].type, "histogram");
	CHECK_STR(after.fam[find_family(&after, "orch_rollouts_total")].type, "counter");
	CHECK_STR(after.fam[find_family(&after, "orch_node_heartbeat_age_seconds")].type, "gauge");
	for (size_t f = 0; f < after.nfam; f++) {
		if (!after.fam[f].help || after.fam[f].type[0] == '\0')
			check_fail(__FILE__, __LINE__, "%s: HELP and TYPE", after.fam[f].name);
		if (strcmp(after.fam[f].type, "counter") == 0 &&
		    strstr(after.fam[f].name, "_total") == NULL)
			check_fail(__FILE__, __LINE__, "counter %s not _total", after.fam[f].name);
	}

	/* Rollouts, applies, reconciles. */
	CHECK(value_of(&after, "orch_rollouts_total", "result", "succeeded") >= 1);
	CHECK(value_of(&after, "orch_rollouts_total", "result", "failed") == 0);
	CHECK(value_of(&after, "orch_apply_duration_seconds_count", NULL, NULL) >= 1);
	CHECK(value_of(&after, "orch_apply_duration_seconds_sum", NULL, NULL) > 0);
	CHECK(value_of(&after, "orch_reconcile_duration_seconds_count", NULL, NULL) >= 1);
	CHECK(value_of(&after, "orch_reconcile_duration_seconds_count", NULL, NULL) ==
	    value_of(&after, "orch_reconcile_total", NULL, NULL));

	/* Every node's heartbeat is recent (slaves beat every 300 ms). */
	jn = cluster_get(cl, "/v1/nodes");
	CHECK_EQ_INT(json_array_size(json_object_get(jn, "nodes")), 2);
	json_array_foreach(json_object_get(jn, "nodes"), k, o) {
		const char *name = json_string_value(json_object_get(o, "name"));
		double age = value_of(&after, "orch_node_heartbeat_age_seconds", "node", name);

		if (!(age >= 0 && age < 10))
			check_fail(__FILE__, __LINE__, "heartbeat age of %s: %g", name, age);
		if (!(value_of(&after, "orch_slave_commands_sent_total", "node", name) >= 0))
			check_fail(__FILE__, __LINE__, "no commands_sent sample for %s", name);
	}
	json_decref(jn);
}

/* Per node, capacity declared and held: one gauge family each, a sample
 * per node equal to GET /v1/nodes, and what is held adds up to the
 * manifest's resources (front 2 x 250m/64M, back 500m/128M), wherever
 * the scheduler put them. The JSON is read between two equal scrapes. */
TEST(metrics__node_capacity)
{
	static struct expo before, after;
	double cpu_held = 0, mem_held = 0;
	bool stable = false;
	json_t *jn = NULL, *o;
	size_t k;

	REQUIRE(cl != NULL);
	for (int tries = 0; tries < 50 && !stable; tries++) {
		if (tries > 0)
			usleep(100000);
		json_decref(jn);
		REQUIRE(scrape(&before) == 0);
		jn = cluster_get(cl, "/v1/nodes");
		REQUIRE(scrape(&after) == 0);
		stable = same_counts(&before, &after) && same_counts(&after, &before);
	}
	REQUIRE(stable);
	for (size_t f = 0; f < NODE_GAUGES; f++) {
		int fam = find_family(&after, node_gauges[f][0]);
		size_t n = 0;

		if (fam < 0) {
			check_fail(__FILE__, __LINE__, "no family %s", node_gauges[f][0]);
			continue;
		}
		CHECK_STR(after.fam[fam].type, "gauge");
		for (size_t i = 0; i < after.ns; i++)
			if (after.s[i].family == fam)
				n++;
		CHECK_EQ_INT(n, json_array_size(json_object_get(jn, "nodes")));
	}
	CHECK_EQ_INT(json_array_size(json_object_get(jn, "nodes")), 2);
	json_array_foreach(json_object_get(jn, "nodes"), k, o) {
		const char *name = json_string_value(json_object_get(o, "name"));

		for (size_t f = 0; f < NODE_GAUGES; f++) {
			double api = json_number_value(json_object_get(o, node_gauges[f][1]));
			double got = value_of(&after, node_gauges[f][0], "node", name);

			if (got != api)
				check_fail(__FILE__, __LINE__, "%s{node=\"%s\"} %.17g, /v1/nodes %s %.17g",
				    node_gauges[f][0], name, got, node_gauges[f][1], api);
		}
		CHECK(value_of(&after, "orch_node_cpu_capacity", "node", name) > 0);
		CHECK(value_of(&after, "orch_node_memory_capacity_bytes", "node", name) > 0);
		cpu_held += value_of(&after, "orch_node_cpu_used", "node", name);
		mem_held += value_of(&after, "orch_node_memory_used_bytes", "node", name);
	}
	json_decref(jn);
	CHECK(cpu_held == 1.0);
	CHECK(mem_held == 256.0 * 1024 * 1024);
}

TEST(metrics__finish)
{
	REQUIRE(cl != NULL);
	CHECK_EQ_INT(cluster_ctl_stop(cl, SIGTERM), 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(metrics__parser_is_strict, metrics__start_and_deploy,
    metrics__parse_and_match_the_api, metrics__node_capacity, metrics__finish)
