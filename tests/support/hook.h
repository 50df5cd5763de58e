/*
 * hook.h - a webhook receiver for alert tests: an HTTP server on
 * 127.0.0.1 (libmicrohttpd, its own thread, like a real alert sink) that
 * keeps the body of every request it gets.
 *
 *   struct hook *h;
 *   hook_start(&h);                     then webhook: http://127.0.0.1:PORT/alert
 *   WAIT_FOR(hook_count(h, "\"kind\":\"failed\"") > 0, CL_WAIT);
 *   hook_free(h);
 */
#ifndef ORCH_TEST_HOOK_H
#define ORCH_TEST_HOOK_H

struct hook;

/* Start a receiver on a free loopback port. 0 or ORCH_ERROR. */
int hook_start(struct hook **out);
int hook_port(const struct hook *h);
/* How many of the bodies received so far contain every one of the
 * NULL-terminated needles. */
int hook_count(struct hook *h, const char *needle, ...)
	__attribute__((sentinel));
void hook_free(struct hook *h);

#endif
