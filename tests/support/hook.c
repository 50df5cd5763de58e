/*
 * hook.c - the webhook receiver of hook.h.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hook.h"

#define HOOK_MAX_BODIES 256
#define HOOK_MAX_BODY 8192

struct hook {
	struct MHD_Daemon *d;
	int port;
	pthread_mutex_t mu;
	char *bodies[HOOK_MAX_BODIES];
	size_t nbodies;
};

/* One request's body as it arrives. */
struct upload {
	char buf[HOOK_MAX_BODY];
	size_t len;
};

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *data, size_t *size, void **req)
{
	struct hook *h = cls;
	struct upload *u = *req;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)url;
	(void)method;
	(void)version;
	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return MHD_NO;
		*req = u;
		return MHD_YES;
	}
	if (*size > 0) {
		size_t n = *size < sizeof(u->buf) - 1 - u->len ? *size :
		    sizeof(u->buf) - 1 - u->len;

		memcpy(u->buf + u->len, data, n);
		u->len += n;
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&h->mu);
	if (h->nbodies < HOOK_MAX_BODIES)
		h->bodies[h->nbodies++] = strdup(u->buf);
	pthread_mutex_unlock(&h->mu);
	r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static void
done(void *cls, struct MHD_Connection *conn, void **req,
    enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)conn;
	(void)code;
	free(*req);
	*req = NULL;
}

int
hook_start(struct hook **out)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa;
	struct hook *h;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return orch_err_set(ORCH_ERROR, "out of memory");
	pthread_mutex_init(&h->mu, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
	    answer, h, MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	if (h->d == NULL || (info = MHD_get_daemon_info(h->d,
	    MHD_DAEMON_INFO_BIND_PORT)) == NULL) {
		hook_free(h);
		return orch_err_set(ORCH_ERROR, "hook: cannot start a receiver");
	}
	h->port = info->port;
	*out = h;
	return 0;
}

int
hook_port(const struct hook *h)
{
	return h->port;
}

int
hook_count(struct hook *h, const char *needle, ...)
{
	int n = 0;

	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->nbodies; i++) {
		const char *s = needle;
		bool all = true;
		va_list ap;

		va_start(ap, needle);
		for (; s != NULL && all; s = va_arg(ap, const char *))
			all = h->bodies[i] != NULL && strstr(h->bodies[i], s) != NULL;
		va_end(ap);
		n += all;
	}
	pthread_mutex_unlock(&h->mu);
	return n;
}

void
hook_free(struct hook *h)
{
	if (h == NULL)
		return;
	if (h->d != NULL)
		MHD_stop_daemon(h->d);
	for (size_t i = 0; i < h->nbodies; i++)
		free(h->bodies[i]);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
