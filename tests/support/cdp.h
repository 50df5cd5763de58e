/*
 * cdp.h - one headless Chromium for a test of the web page, driven over
 * the Chrome DevTools Protocol (Runtime.evaluate):
 *   cdp_start(url, 20000);
 *   WAIT_FOR(cdp_js_true("document.body.dataset.loaded >= 1"), 20000);
 *   cdp_stop();
 * Chromium is Debian's `chromium`, or $CHROMIUM.
 */
#ifndef ORCH_TEST_CDP_H
#define ORCH_TEST_CDP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Start Chromium on url and connect to its page; 0 or ORCH_ERROR. */
int cdp_start(const char *url, int64_t timeout_ms);
/* Whether a browser is connected (cdp_start succeeded, no cdp_stop). */
bool cdp_running(void);
/* Stop it and remove its profile; accepts not started. */
void cdp_stop(void);
/* The value of a JavaScript expression (promises awaited; caller
 * decrefs), or NULL when it threw. */
json_t *cdp_js(const char *expr);
/* A string-valued expression (static buffer; "" when not a string). */
const char *cdp_js_str(const char *expr);
bool cdp_js_true(const char *expr);
long long cdp_js_int(const char *expr); /* -1 when not a number */
/* Any CDP method; its "result" (caller decrefs) or NULL. */
json_t *cdp_call_method(const char *method, json_t *params);

#endif
