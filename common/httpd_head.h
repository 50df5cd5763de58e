/*
 * httpd_head.h - the request-head checks of httpd.c (internal to it):
 * a head whose framing a proxy in front could read otherwise than MHD
 * does (request smuggling: RFC 9112 6.1, 6.3), a transfer coding MHD
 * would read until the client closes, a method that is not a token. Kept
 * apart so that httpd.c stays the glue of the limits and the routes.
 */
#ifndef ORCH_HTTPD_HEAD_H
#define ORCH_HTTPD_HEAD_H

#include <microhttpd.h>

/* The status to refuse the request with (400, or 501 for a transfer
 * coding other than chunked) and *detail why; 0 when the head is fine.
 * Called on the first call of the access handler, before the body. */
int httpd_head_refused(struct MHD_Connection *conn, const char *method,
    const char *version, const char **detail);

#endif
