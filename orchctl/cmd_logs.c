/*
 * cmd_logs.c - `orchctl logs INSTANCE [-f] [--stderr] [--tail BYTES]`: an
 * instance's stdout or stderr, read from its slave through the controller
 * (GET /v1/instances/ID/logs?stream=...&tail=...).
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
};

#define DEFAULT_TAIL (64u * 1024)        /* the slave's default too */
#define MAX_TAIL (16u * 1024 * 1024)     /* the slave's limit */
#define FOLLOW_WINDOW (256u * 1024)
#define POLL_MS 500
#define FOLLOW_REQUEST_MS 10000

struct logs {
	const struct orchctl *ctx;
	const char *id;
	const char *stream;
};

static void
emit(const struct logs *l, const char *p, size_t n)
{
	if (n == 0)
		return;
	if (l->ctx->output == OUTPUT_JSON) {
		json_t *o = jobj();
		char *copy = strndup(p, n);

		if (copy == NULL)
			abort();
		jset(o, "instance", jstr(l->id));
		jset(o, "stream", jstr(l->stream));
		jset(o, "log", jstr(copy));
		free(copy);
		json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
	} else
		fwrite(p, 1, n, stdout);
	fflush(stdout);
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
    size_t tail)
{
	char *base, *path;
	int ex;

	base = client_path("/v1/instances/", l->id, "/logs");
	if (asprintf(&path, "%s?stream=%s&tail=%zu", base, l->stream, tail) < 0)
		abort();
	ex = client_get_raw(out, out_len, c, path);
	free(path);
	free(base);
	return ex;
}

static int
run_logs(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"follow", no_argument, NULL, 'f'},
		{"stderr", no_argument, NULL, OPT_STDERR},
		{"tail", required_argument, NULL, OPT_TAIL},
		{NULL, 0, NULL, 0},
	};
	struct logs l = {ctx, NULL, "stdout"};
	uint64_t tail = DEFAULT_TAIL;
	size_t window, plen = 0, clen = 0;
	bool follow = false;
	struct client *c = NULL;
	char *prev = NULL, *cur = NULL;
	volatile sig_atomic_t *stop;
	int ch, ex;

	while ((ch = orchctl_getopt(&ex, ctx, cmd, argc, argv, "f", longs)) != -1) {
		switch (ch) {
		case OPT_EXIT:
			return ex;
		case 'f':
			follow = true;
			break;
		case OPT_STDERR:
			l.stream = "stderr";
			break;
		case OPT_TAIL:
			if (orch_parse_size(&tail, optarg) < 0)
				return orchctl_usage_error(cmd, "--tail: %s",
				    orch_err_last());
			if (tail == 0 || tail > MAX_TAIL)
				return orchctl_usage_error(cmd, "--tail: want 1 "
				    "to %u bytes (16M), got '%s'", MAX_TAIL, optarg);
			break;
		default:
			return orchctl_usage_error(cmd, "unexpected option");
		}
	}
	if (argc - optind != 1)
		return orchctl_usage_error(cmd, "need exactly one INSTANCE (got "
		    "%d arguments)", argc - optind);
	l.id = argv[optind];
	if (*l.id == '\0')
		return orchctl_usage_error(cmd, "empty INSTANCE id");
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;

	/* A follower keeps a bigger window than it shows, to find where
	 * the next poll's new bytes begin. */
	window = follow && tail < FOLLOW_WINDOW ? FOLLOW_WINDOW : (size_t)tail;
	if ((ex = fetch(&prev, &plen, c, &l, window)) != EXIT_OK)
		goto out;
	emit(&l, prev + (plen > tail ? plen - tail : 0),
	    plen > tail ? (size_t)tail : plen);
	if (!follow)
		goto out;

	stop = orchctl_catch_interrupt();
	client_set_timeout(c, FOLLOW_REQUEST_MS);
	while (!*stop) {
		struct timespec ts = {0, POLL_MS * 1000000L};
		size_t at;

		nanosleep(&ts, NULL);
		if (*stop)
			break;
		if ((ex = fetch(&cur, &clen, c, &l, window)) != EXIT_OK)
			goto out;
		at = new_bytes_at(prev, plen, cur, clen, window);
		emit(&l, cur + at, clen - at);
		free(prev);
		prev = cur;
		plen = clen;
		cur = NULL;
	}
	ex = EXIT_OK;
out:
	free(prev);
	free(cur);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_logs = {
	.name = "logs",
	.fn = run_logs,
	.summary = "print an instance's stdout or stderr; -f follows it",
	.usage = "logs INSTANCE [-f] [--stderr] [--tail BYTES]",
	.help =
	    "Print the end of an instance's log as its slave keeps it, read\n"
	    "through the controller (GET /v1/instances/INSTANCE/logs), which\n"
	    "knows the node. INSTANCE is an id from `orchctl instances`.\n"
	    "\n"
	    "Options:\n"
	    "  -f, --follow        keep printing what is written (polls every\n"
	    "                      0.5s) until Ctrl-C or the instance is gone\n"
	    "  --stderr            the stderr log instead of stdout\n"
	    "  --tail BYTES        how much of the end to show first (default\n"
	    "                      64K; 1 to 16M; K, M units)\n"
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
	    "  orchctl logs api-7f3c2 --tail 4K\n"
	    "  orchctl logs db-0 --stderr -f",
};
