/*
 * test_fault_chaos_coalesce.c - found by the long chaos run (issue 11):
 * a controller killed during a crash loop must not lose the loop's
 * events.
 *
 * While a service crash-loops, the controller counts its instances'
 * events instead of recording each, and records a summary ("restarted N
 * times ...; M instance events coalesced") at the end of each minute and
 * when the loop ends (docs/lifecycle.md, Crash loops). The counts lived
 * in memory only: a controller killed before the summary lost them, and
 * those transitions were neither in the log nor counted in it. Now the
 * count is stored with the change it stands for (in the service record,
 * in the same store transaction) and summarised after a restart.
 *
 * Here: web runs a command that exits at once (a crash loop: a new
 * instance every backoff). The controller logs every transition it makes
 * (start, state change, removal), recorded or coalesced. Once it has
 * logged 25 of web's, it is killed -9 and restarted, and a working
 * version is applied: the loop ends and the summary comes. Then every
 * transition logged is in the event log, recorded or counted: at most 3
 * fewer (those of a transaction the kill cut short, logged but never
 * committed, are made again). Before the fix the counts of the first
 * controller were lost: dozens fewer.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cluster.h"

static struct cluster *cl;

static const char *
manifest(bool broken)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "architecture: coalesce\n"
	    "services:\n"
	    "  web:\n"
	    "    version: \"%s\"\n"
	    "    command: [\"%s\"%s]\n"
	    "    ports: [http]\n"
	    "    replicas: 2\n"
	    "    restart: {limit: 100000, window: 60s, backoff: 50ms, max_backoff: 200ms}\n",
	    broken ? "1.0.0" : "2.0.0", broken ? "/bin/false" : cluster_app("httpapp"),
	    broken ? "" : ", \"--port\", \"${ORCH_PORT}\"");
	return buf;
}

/* Transitions of web the controller logged: starts, state changes and
 * removals (controller/reconcile.c, state.c). */
static int
logged(void)
{
	char *log = daemon_log(cl->ctl), *line;
	int n = 0;

	for (line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n"))
		if (strstr(line, " service=web ") != NULL && strstr(line, "instance=web-") != NULL &&
		    (strstr(line, " start: ") || strstr(line, " state ") ||
		    (strlen(line) > 8 && strcmp(line + strlen(line) - 8, " removed") == 0)))
			n++;
	free(log);
	return n;
}

/* Events of web's instances recorded, plus those the summaries counted. */
static int
in_the_log(int *summaries)
{
	json_t *j = cluster_call(cl, NULL, "GET", "/v1/events?since=0", NULL), *e;
	size_t k;
	int n = 0;

	*summaries = 0;
	json_array_foreach(json_object_get(j, "events"), k, e) {
		const char *svc = json_string_value(json_object_get(e, "service")) ?: "";
		const char *cause = json_string_value(json_object_get(e, "cause")) ?: "";
		const char *p = strstr(cause, " instance events coalesced");

		if (strcmp(svc, "web") != 0)
			continue;
		if (!json_is_null(json_object_get(e, "instance")))
			n++;
		else if (p != NULL) {
			while (p > cause && p[-1] >= '0' && p[-1] <= '9')
				p--;
			n += atoi(p);
			(*summaries)++;
		}
	}
	json_decref(j);
	return n;
}

TEST(fault_chaos_coalesce__a_killed_controller_loses_no_coalesced_event)
{
	int before, summaries, recorded;

	REQUIRE(cluster_start(&cl, 1, NULL) == 0);
	REQUIRE(cluster_commit(cl, manifest(true), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	CHECK(WAIT_FOR(logged() >= 25, CL_WAIT));
	REQUIRE(cluster_ctl_stop(cl, SIGKILL) == 128 + SIGKILL);
	before = logged(); /* the restart appends to the same log */
	REQUIRE(cluster_ctl_start(cl) == 0);
	REQUIRE(cluster_commit(cl, manifest(false), NULL) == 0);
	REQUIRE(cluster_apply(cl, NULL) == 200);
	CHECK(WAIT_FOR(cluster_service_is(cl, "web", "Run") &&
	    cluster_count(cl, "web", "Run") == 2, CL_WAIT));
	/* The summary comes when the loop ends. */
	CHECK(WAIT_FOR(in_the_log(&summaries) >= logged() - 3, CL_WAIT));
	recorded = in_the_log(&summaries);
	printf("# %d transitions logged before the kill, %d in all; %d in the event log "
	    "(%d summaries)\n", before, logged(), recorded, summaries);
	CHECK(recorded >= logged() - 3);
	CHECK(summaries > 0);
	cluster_free(cl);
	cl = NULL;
}

CHECK_MAIN(fault_chaos_coalesce__a_killed_controller_loses_no_coalesced_event)
