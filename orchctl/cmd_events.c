/*
 * cmd_events.c - `orchctl events [-f] [--since SEQ]`: the lifecycle
 * transitions of services and instances (GET /v1/events), and with -f the
 * live stream (GET /v1/events/stream, Server-Sent Events) until Ctrl-C.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"

enum {
	OPT_SINCE = 0x200,
};

#define EVENTS_PAGE 1000      /* the API's largest page */
#define MAX_EVENTS 1000000    /* a bound on what one listing holds */

struct follow {
	const struct orchctl *ctx;
	long long last_seq; /* printed up to here; -1 none yet */
};

/* One line per event, fixed columns so a stream stays readable:
 * 2026-11-23T11:22:33Z  api   api-0   Provision -> Ready   started */
static void
print_event(const json_t *ev)
{
	char when[64], trans[64];
	const char *svc = jget_str(ev, "service");
	const char *node = jget_str(ev, "node");
	char nodebuf[128];
	const char *inst = jget_str(ev, "instance");
	const char *from = jget_str(ev, "from");
	const char *to = jget_str(ev, "to");
	const char *cause = jget_str(ev, "cause");

	fmt_time(when, sizeof(when), json_object_get(ev, "time"));
	/* A node's transition (Ready, Suspect, Lost, Draining) has no
	 * service: name the node in that column. */
	if ((svc == NULL || *svc == '\0') && node != NULL && *node) {
		snprintf(nodebuf, sizeof(nodebuf), "node/%s", node);
		svc = nodebuf;
	}
	snprintf(trans, sizeof(trans), "%s -> %s", from && *from ? from : "-",
	    to && *to ? to : "-");
	printf("%-20s  %-12s  %-16s  %-22s  %s\n", when, svc && *svc ? svc : "-",
	    inst && *inst ? inst : "-", trans, cause && *cause ? cause : "-");
}

static bool
seen_before(struct follow *f, const json_t *ev)
{
	long long seq;

	if (!jget_int(&seq, ev, "seq"))
		return false;
	/* A reconnect may replay what we printed; seqs only grow. */
	if (seq <= f->last_seq)
		return true;
	f->last_seq = seq;
	return false;
}

static int
on_stream_event(const char *id, const char *data, void *arg)
{
	struct follow *f = arg;
	json_t *ev = json_loads(data, 0, NULL);

	if (!json_is_object(ev)) {
		/* Not an event object: show it rather than hide it. */
		if (f->ctx->verbose > 0)
			fprintf(stderr, "orchctl: stream data is not an event: "
			    "%s\n", data);
		json_decref(ev);
		return 0;
	}
	if (json_object_get(ev, "seq") == NULL && id != NULL) {
		long long seq = parse_count(id, INT64_MAX);

		if (seq >= 0)
			jset(ev, "seq", jint(seq));
	}
	if (!seen_before(f, ev)) {
		if (f->ctx->output == OUTPUT_JSON) {
			/* A stream of documents: one compact one per line. */
			json_dumpf(ev, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
		} else
			print_event(ev);
		fflush(stdout);
	}
	json_decref(ev);
	return 0;
}

/*
 * Every event after since: the API answers a page (at most 1000), oldest
 * first, so ask again after the last one until a page comes back short.
 * *out is the first reply with the later pages' events appended (the
 * API's shape, for -o json); last_seq, when there, is the last page's.
 */
static int
fetch_events(json_t **out, struct client *c, long long since)
{
	json_t *all = NULL, *page = NULL, *evs;
	long long seq;
	int ex;

	*out = NULL;
	for (;;) {
		char path[64];

		snprintf(path, sizeof(path), "/v1/events?since=%lld", since);
		if ((ex = client_get_list(&page, &evs, c, path, "events")) != EXIT_OK)
			goto fail;
		if (all == NULL)
			all = json_incref(page);
		else {
			json_array_extend(json_object_get(all, "events"), evs);
			if (json_object_get(page, "last_seq") != NULL)
				jset(all, "last_seq", json_incref(
				    json_object_get(page, "last_seq")));
		}
		/* A short page is the last; so is one that does not move
		 * forward (a server without paging must not loop us). */
		if (json_array_size(evs) < EVENTS_PAGE ||
		    !jget_int(&seq, json_array_get(evs, json_array_size(evs) - 1),
		    "seq") || seq <= since ||
		    json_array_size(json_object_get(all, "events")) >= MAX_EVENTS)
			break;
		since = seq;
		json_decref(page);
		page = NULL;
	}
	json_decref(page);
	*out = all;
	return EXIT_OK;
fail:
	json_decref(page);
	json_decref(all);
	return ex;
}

/*
 * -f without --since shows only what happens from now on (tail -f, kubectl
 * get -w): the stream starts after the newest stored event, whose seq the
 * API gives as last_seq. A controller that does not say it streams from
 * the start (*out stays -1).
 */
static int
last_seq_now(long long *out, struct client *c)
{
	json_t *reply = NULL, *evs;
	long long seq;
	int ex;

	if ((ex = client_get_list(&reply, &evs, c, "/v1/events?limit=1",
	    "events")) != EXIT_OK)
		return ex;
	if (jget_int(&seq, reply, "last_seq") && seq >= 0)
		*out = seq;
	json_decref(reply);
	return EXIT_OK;
}

static int
run_events(struct orchctl *ctx, const struct orchctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longs[] = {
		{"follow", no_argument, NULL, 'f'},
		{"since", required_argument, NULL, OPT_SINCE},
		{NULL, 0, NULL, 0},
	};
	struct follow fl = {ctx, -1};
	long long since = 0;
	bool follow = false, have_since = false;
	struct client *c = NULL;
	json_t *reply = NULL, *list, *ev;
	char lastid[32];
	volatile sig_atomic_t *stop;
	size_t i;
	int ch, ex;

	while ((ch = orchctl_getopt(&ex, ctx, cmd, argc, argv, "f", longs)) != -1) {
		switch (ch) {
		case OPT_EXIT:
			return ex;
		case 'f':
			follow = true;
			break;
		case OPT_SINCE:
			if ((since = parse_count(optarg, INT64_MAX)) < 0)
				return orchctl_usage_error(cmd, "--since: '%s' is "
				    "not an event sequence number", optarg);
			have_since = true;
			break;
		default:
			return orchctl_usage_error(cmd, "unexpected option");
		}
	}
	if (optind < argc)
		return orchctl_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	if ((ex = client_open(&c, ctx, cmd)) != EXIT_OK)
		return ex;

	/* Without -f, or -f from a point in the past: the stored events
	 * first (a follower then continues from the last one shown). */
	if (!follow || have_since) {
		if ((ex = fetch_events(&reply, c, since)) != EXIT_OK)
			goto out;
		list = json_object_get(reply, "events");
		if (!follow && ctx->output == OUTPUT_JSON) {
			client_print_json(reply);
			reply = NULL;
			goto out;
		}
		fl.last_seq = since;
		json_array_foreach(list, i, ev) {
			if (seen_before(&fl, ev))
				continue;
			if (ctx->output == OUTPUT_JSON) {
				json_dumpf(ev, stdout, JSON_COMPACT |
				    JSON_PRESERVE_ORDER);
				fputc('\n', stdout);
			} else
				print_event(ev);
		}
		if (!follow) {
			if (json_array_size(list) == 0 && ctx->output != OUTPUT_JSON)
				printf("No events%s.\n", have_since ?
				    " after that sequence number" : "");
			goto out;
		}
		fflush(stdout);
	} else if ((ex = last_seq_now(&fl.last_seq, c)) != EXIT_OK)
		goto out;
	stop = orchctl_catch_interrupt();
	client_set_timeout(c, 0);
	snprintf(lastid, sizeof(lastid), "%lld", fl.last_seq);
	ex = client_stream(c, "/v1/events/stream",
	    fl.last_seq >= 0 ? lastid : NULL, on_stream_event, &fl, stop);
out:
	json_decref(reply);
	client_free(c);
	return ex;
}

const struct orchctl_cmd cmd_events = {
	.name = "events",
	.fn = run_events,
	.summary = "show lifecycle events; -f follows them live",
	.usage = "events [-f] [--since SEQ]",
	.help =
	    "Print the state transitions the controller recorded (GET\n"
	    "/v1/events?since=SEQ), one line per event:\n"
	    "\n"
	    "  2026-11-23T11:22:33Z  api           api-0             Provision -> Ready      started\n"
	    "\n"
	    "time (UTC), service, instance (- for the service itself), from ->\n"
	    "to state, cause.\n"
	    "\n"
	    "With -f, orchctl follows the live stream (GET /v1/events/stream,\n"
	    "Server-Sent Events) until Ctrl-C, from the newest event on: only\n"
	    "new events (with --since SEQ: those after SEQ first); after a lost\n"
	    "connection it reconnects and resumes after the last event shown\n"
	    "(Last-Event-ID), so nothing is printed twice or skipped.\n"
	    "\n"
	    "Options:\n"
	    "  -f, --follow        follow new events until interrupted\n"
	    "  --since SEQ         only events after sequence number SEQ (with\n"
	    "                      -f: print those, then follow); default: all\n"
	    "                      (with -f: only new ones)\n"
	    "  -o json             the controller's reply as received; with -f\n"
	    "                      one compact event object per line\n"
	    "\n"
	    "The controller is --controller URL, else $ORCH_CONTROLLER, else\n"
	    CLIENT_DEFAULT_URL ".\n"
	    "\n"
	    "Exit status: 0 shown (-f: interrupted), 1 API error, 2 usage\n"
	    "error, 3 controller unreachable.",
};
