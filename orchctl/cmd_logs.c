/*
 * cmd_logs.c - `orchctl logs INSTANCE|SERVICE [-f] [--stderr] [--tail N |
 * --bytes N]`: an instance's stdout or stderr (or every instance's of a
 * service, each line prefixed with its id), read from its slave through
 * the controller (GET /v1/instances/ID/logs?stream=...&tail=BYTES).
 * --tail counts lines as tail -n and kubectl logs --tail do: orchctl asks
 * for a window of bytes big enough to hold them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "orchctl.h"
#include "units.h"

enum {
	OPT_STDERR = 0x200,
	OPT_TAIL,
	OPT_BYTES,
};

#define DEFAULT_TAIL (64u * 1024)        /* the slave's default too */
#define MAX_TAIL (16u * 1024 * 1024)     /* the slave's limit */
#define MAX_LINES 1000000
#define FOLLOW_WINDOW (256u * 1024)
#define POLL_MS 500
#define FOLLOW_REQUEST_MS 10000

/* One instance's log as this run follows it. */
struct src {
	const char *id;
	char *prev;            /* the last window read */
	size_t plen;
	size_t window;         /* bytes asked for each time */
	bool mid_line;         /* the last byte shown was not a newline */
};

struct logs {
	const struct orchctl *ctx;
	const char *stream;
	bool prefix;           /* several instances: "[id] " before each line */
};

/* Print n bytes of s's log; with a prefix, before each line that starts. */
static void
emit(const struct logs *l, struct src *s, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (l->ctx->output == OUTPUT_JSON) {
		json_t *o = jobj();
		char *copy = strndup(p, n);

		if (copy == NULL)
			abort();
		jset(o, "instance", jstr(s->id));
		jset(o, "stream", jstr(l->stream));
		jset(o, "log", jstr(copy));
		free(copy);
		json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
	} else if (!l->prefix)
		fwrite(p, 1, n, stdout);
	else
		for (size_t k = 0; k < n; k++) {
			if (!s->mid_line)
				printf("[%s] ", s->id);
			putchar(p[k]);
			s->mid_line = p[k] != '\n';
		}
	fflush(stdout);
}

/* Where the last `lines` lines of buf start (tail -n): after the
 * (lines+1)-th newline from the end, a last line without one counting
 * as a line. *enough: buf held that many lines (or is all there is). */
static size_t
last_lines_at(const char *buf, size_t len, long long lines, bool *enough)
{
	size_t k = len;

	if (k > 0 && buf[k - 1] == '\n')
		k--; /* the newline that ends the last line */
	for (; k > 0; k--)
		if (buf[k - 1] == '\n' && --lines == 0) {
			*enough = true;
			return k;
		}
	*enough = false;
	return 0;
}

/*
 * The API gives the last `window` bytes of the log, not an offset, so the
 * new bytes are found by overlap: if the log grew by g bytes, the new
 * window starts with the old one minus its first g bytes. The smallest
 * such g is taken. While the log is smaller than the window this is exact
 * (the old window is a prefix of the new one); beyond, a log that repeats
 * itself exactly over a whole window could hide lines (tail -f on a
 * rotated file has the same limit). No overlap at all: the log was
 * truncated or rotated, or grew by more than a window in one poll; show
 * the whole new window.
 */
static size_t
new_bytes_at(const char *prev, size_t plen, const char *cur, size_t clen,
    size_t window)
{
	if (plen < window) {
		if (clen >= plen && memcmp(prev, cur, plen) == 0)
			return plen;
		return 0;
	}
	for (size_t g = 0; g <= plen; g++) {
		size_t k = plen - g;

		if (k <= clen && memcmp(prev + g, cur, k) == 0)
			return k;
	}
	return 0;
}

static int
fetch(char **out, size_t *out_len, struct client *c, const struct logs *l,
    const char *id, size_t tail)
{
	char *base, *path;
	int ex;

	base = client_path("/v1/instances/", id, "/logs");
	if (asprintf(&path, "%s?stream=%s&tail=%zu", base, l->stream, tail) < 0)
		abort();
	ex = client_get_raw(out, out_len, c, path);
	free(path);
	free(base);
	return ex;
}

/*
 * The first read of s: the last `lines` lines (a window of bytes grown
 * until it holds them, the whole log, or the slave's 16M), or the last
 * `bytes` bytes. A follower keeps a bigger window than it shows, to find
 * where the next poll's new bytes begin.
 */
static int
first_read(struct client *c, const struct logs *l, struct src *s, long long lines,
    size_t bytes, bool follow)
{
	size_t at = 0, len = 0, window;
	char *buf = NULL;
	bool enough;
	int ex;

	window = lines > 0 ? DEFAULT_TAIL : bytes;
	if (follow && window < FOLLOW_WINDOW)
		window = FOLLOW_WINDOW;
	for (;;) {
		if ((ex = fetch(&buf, &len, c, l, s->id, window)) != EXIT_OK)
			return ex;
		if (lines <= 0) {
			at = len > bytes ? len - bytes : 0;
			break;
		}
		at = last_lines_at(buf, len, lines, &enough);
		if (enough || len < window || window >= MAX_TAIL)
			break;
		free(buf);
		buf = NULL;
		window = window * 4 > MAX_TAIL ? MAX_TAIL : window * 4;
	}
	emit(l, s, buf + at, len - at);
	s->prev = buf;
	s->plen = len;
	s->window = window;
	return EXIT_OK;
}

/* One poll of s: print what is new since the last read. */
static int
poll_src(struct client *c, const struct logs *l, struct src *s)
{
	char *cur = NULL;
	size_t clen = 0, at;
	int ex;

	if ((ex = fetch(&cur, &clen, c, l, s->id, s->window)) != EXIT_OK)
		return ex;
	at = new_bytes_at(s->prev, s->plen, cur, clen, s->window);
	emit(l, s, cur + at, clen - at);
	free(s->prev);
	s->prev = cur;
	s->plen = clen;
	return EXIT_OK;
}

/*
 * What name is: an instance id the controller lists (one source), or a
 * service with instances (each of its desired instances, in the
 * controller's order). Neither: taken as an instance id, so that the
 * logs endpoint says what is wrong. The ids are borrowed from *hold.
 */
static int
resolve(struct src **out, size_t *out_n, json_t **hold, struct client *c,
    const char *name)
{
	json_t *list, *i;
	struct src *v;
	size_t k, n = 0;
	int ex;

	*out = NULL;
	*out_n = 0;
	if ((ex = client_get_list(hold, &list, c, "/v1/instances", "instances")) != EXIT_OK)
		return ex;
	if ((v = calloc(json_array_size(list) + 1, sizeof(*v))) == NULL)
		abort();
	json_array_foreach(list, k, i)
		if (jget_str(i, "id") != NULL && strcmp(jget_str(i, "id"), name) == 0)
			goto one;
	json_array_foreach(list, k, i)
		if (jget_str(i, "service") != NULL && jget_str(i, "id") != NULL &&
		    strcmp(jget_str(i, "service"), name) == 0 &&
		    !json_is_false(json_object_get(i, "desired")))
			v[n++].id = jget_str(i, "id");
	if (n > 0) {
		*out = v;
		*out_n = n;
		return EXIT_OK;
	}
one:
	v[0].id = name;
	*out = v;
	*out_n = 1;
	return EXIT_OK;
}

/* Poll every source until interrupted or none is left; of several, one
 * that went away is dropped and the others go on. */
static int
follow_all(struct client *c, const struct logs *l, struct src *v, size_t n, size_t live)
{
	volatile sig_atomic_t *stop = orchctl_catch_interrupt();
	int ex;

	client_set_timeout(c, FOLLOW_REQUEST_MS);
	while (!*stop && live > 0) {
		struct timespec ts = {0, POLL_MS * 1000000L};

		nanosleep(&ts, NULL);
		for (size_t k = 0; k < n && !*stop; k++) {
			if (v[k].prev == NULL)
				continue; /* gone or never read */
			if ((ex = poll_src(c, l, &v[k])) == EXIT_OK)
				continue;
			if (ex == EXIT_UNREACHABLE || n == 1)
				return ex;
			free(v[k].prev);
			v[k].prev = NULL;
			live--;
		}
	}
	return EXIT_OK;
}

struct logs_opts {
	bool follow;
	long long lines;   /* --tail; 0: bytes */
	uint64_t bytes;    /* --bytes, or the default window */
};

/* The verb's options into o (and l->stream); OPT_EXIT with *out_exit. */
static int
parse_opts(int *out_exit, struct logs_opts *o, struct logs *l, struct orchctl *ctx,
    const struct orchctl_cmd *cmd, int argc, char **argv)
{
	static const struct option longs[] = {
		{"follow", no_argument, NULL, 'f'},
		{"stderr", no_argument, NULL, OPT_STDERR},
		{"tail", required_argument, NULL, OPT_TAIL},
		{"bytes", required_argument, NULL, OPT_BYTES},
		{NULL, 0, NULL, 0},
	};
	bool have_bytes = false;
	int ch;

	while ((ch = orchctl_getopt(out_exit, ctx, cmd, argc, argv, "f", longs)) != -1) {
		switch (ch) {
		case OPT_EXIT:
			return OPT_EXIT;
		case 'f':
			o->follow = true;
			break;
		case OPT_STDERR:
			l->stream = "stderr";
			break;
		case OPT_TAIL:
			if ((o->lines = parse_count(optarg, MAX_LINES)) <= 0)
				goto usage_tail;
			break;
		case OPT_BYTES:
			if (orch_parse_size(&o->bytes, optarg) < 0) {
				*out_exit = orchctl_usage_error(cmd, "--bytes: %s",
				    orch_err_last());
				return OPT_EXIT;
			}
			if (o->bytes == 0 || o->bytes > MAX_TAIL) {
				*out_exit = orchctl_usage_error(cmd, "--bytes: want 1 "
				    "to %u bytes (16M), got '%s'", MAX_TAIL, optarg);
				return OPT_EXIT;
			}
			have_bytes = true;
			break;
		default:
			*out_exit = orchctl_usage_error(cmd, "unexpected option");
			return OPT_EXIT;
		}
	}
	if (o->lines > 0 && have_bytes) {
		*out_exit = orchctl_usage_error(cmd, "--tail (lines) and --bytes "
		    "exclude each other");
		return OPT_EXIT;
	}
	return 0;
usage_tail:
	*out_exit = orchctl_usage_error(cmd, "--tail: want 1 to %d lines, got '%s' "
	    "(--bytes N for bytes)", MAX_LINES, optarg);
	return OPT_EXIT;
}

static int
run_logs(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	struct logs_opts o = {false, 0, DEFAULT_TAIL};
	struct logs l = {ctx, "stdout", false};
	struct client *c = NULL;
	struct src *v = NULL;
	json_t *hold = NULL;
	size_t n = 0;
	int ex, failed = 0;

	if (parse_opts(&ex, &o, &l, ctx, cmd, argc, argv) == OPT_EXIT)
		return ex;
	if (argc - optind != 1)
		return orchctl_usage_error(cmd, "need exactly one INSTANCE or SERVICE "
		    "(got %d arguments)", argc - optind);
	if (*argv[optind] == '\0')
		return orchctl_usage_error(cmd, "empty INSTANCE id");
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;
	if ((ex = resolve(&v, &n, &hold, c, argv[optind])) != EXIT_OK)
		goto out;
	l.prefix = n > 1 || strcmp(v[0].id, argv[optind]) != 0;
	/* Of a service, an instance that cannot be read is said (the client
	 * printed why) and the others go on; exit 1 at the end. */
	for (size_t k = 0; k < n; k++)
		if ((ex = first_read(c, &l, &v[k], o.lines, (size_t)o.bytes,
		    o.follow)) != EXIT_OK) {
			if (ex == EXIT_UNREACHABLE || n == 1)
				goto out;
			failed++;
		}
	ex = failed ? EXIT_FAILED : EXIT_OK;
	if (o.follow)
		ex = follow_all(c, &l, v, n, n - (size_t)failed);
out:
	for (size_t k = 0; k < n; k++)
		free(v[k].prev);
	free(v);
	json_decref(hold);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_logs = {
	.name = "logs",
	.fn = run_logs,
	.summary = "print an instance's (or a service's) stdout or stderr; -f follows",
	.usage = "logs INSTANCE [-f] [--stderr] [--tail LINES | --bytes SIZE]\n"
	    "logs SERVICE [-f] [--stderr] [--tail LINES | --bytes SIZE]",
	.help =
	    "Print the end of an instance's log as its slave keeps it, read\n"
	    "through the controller (GET /v1/instances/INSTANCE/logs), which\n"
	    "knows the node. INSTANCE is an id from `orchctl instances`. A\n"
	    "SERVICE name prints the log of each of its instances, every line\n"
	    "prefixed with \"[INSTANCE] \" (kubectl logs --prefix).\n"
	    "\n"
	    "Options:\n"
	    "  -f, --follow        keep printing what is written (polls every\n"
	    "                      0.5s) until Ctrl-C or the instances are gone\n"
	    "  --stderr            the stderr log instead of stdout\n"
	    "  --tail LINES        the last LINES lines (tail -n, kubectl logs\n"
	    "                      --tail), from at most the last 16M of the log\n"
	    "  --bytes SIZE        the last SIZE bytes instead (1 to 16M; K, M\n"
	    "                      units); default without either: the last 64K\n"
	    "  -o json             {\"instance\", \"stream\", \"log\"} per chunk,\n"
	    "                      one compact object per line\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL ".\n"
	    "\n"
	    "Exit status: 0 printed (-f: interrupted), 1 no such instance or\n"
	    "an API error, 2 usage error, 3 controller unreachable.\n"
	    "\n"
	    "Examples:\n"
	    "  orchctl logs api-7f3c2 --tail 20\n"
	    "  orchctl logs api --bytes 4K\n"
	    "  orchctl logs db-0 --stderr -f",
};
