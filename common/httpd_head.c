/*
 * httpd_head.c - what httpd refuses in a request head before routing it,
 * see httpd_head.h.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "httpd_head.h"

/* Whether s is an HTTP token (RFC 9110 5.6.2), as a method must be: a
 * method that is not (say a byte that is not UTF-8) is refused before it
 * can reach an answer. */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return false;
	return true;
}

/* The head's fields that say where the body ends (and Host). */
struct head_scan {
	unsigned clen;       /* Content-Length fields */
	unsigned te;         /* Transfer-Encoding fields */
	bool te_chunked;     /* the (last) Transfer-Encoding is "chunked" */
	bool host;
	bool bad_name;       /* a field name holding a space or tab */
};

static enum MHD_Result
head_scan_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct head_scan *hs = cls;

	(void)kind;
	if (strpbrk(key, " \t") != NULL)
		hs->bad_name = true;
	else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		hs->clen++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		hs->te++;
		hs->te_chunked = value != NULL && strcasecmp(value, "chunked") == 0;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		hs->host = true;
	return MHD_YES;
}

/* A request head that is not HTTP/1.1 as RFC 9112 frames it: its body
 * would end where MHD says and elsewhere for a proxy in front (request
 * smuggling), or MHD would read it until the client closes. The status
 * to refuse it with (the connection then closes: the answer is queued
 * before the body is read), or 0. */
int
httpd_head_refused(struct MHD_Connection *conn, const char *method, const char *version,
    const char **detail)
{
	struct head_scan hs = {0};

	MHD_get_connection_values(conn, MHD_HEADER_KIND, head_scan_cb, &hs);
	if (!is_token(method))
		*detail = "the method is not a token";
	else if (hs.bad_name)
		*detail = "a header name holds white space";
	else if (hs.clen > 1)
		*detail = "more than one Content-Length";
	else if (hs.te > 0 && hs.clen > 0)
		*detail = "both Content-Length and Transfer-Encoding";
	else if (hs.te > 1)
		*detail = "more than one Transfer-Encoding";
	else if (!hs.host && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)
		*detail = "an HTTP/1.1 request without Host";
	else if (hs.te > 0 && !hs.te_chunked) {
		*detail = "Transfer-Encoding: only chunked is supported";
		return 501;
	} else
		return 0;
	return 400;
}
