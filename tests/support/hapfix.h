/*
 * hapfix.h - integration-test fixture: a real HAProxy (`haproxy -db`) in
 * a temp dir, with the haproxy.cfg and map that haproxy_config() writes
 * for the services named (socket and map in the dir, frontends on
 * 127.0.0.1 only), and the controller arguments that point at it.
 *
 *   struct hapfix h;
 *   hapfix_start(&h, (const char *[]){"web"}, 1);   web's frontend: h.port[0]
 *   cluster_start(&cl, 2, h.ctl_args);
 *   hapfix_free(&h);                                 killed by pid, dir removed
 *
 * A service left out of the list has no backend in haproxy.cfg (what an
 * operator who forgot one has). Functions return 0 or a negative ORCH_E*.
 */
#ifndef ORCH_TEST_HAPFIX_H
#define ORCH_TEST_HAPFIX_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon.h"

#define HAPFIX_MAX 8

struct hapfix {
	char *dir;
	char sock[300], map[300], cfg[300], log[320];
	int port[HAPFIX_MAX];         /* frontend port of each service given */
	struct daemon *d;
	const char *ctl_args[5];      /* --haproxy SOCK --haproxy-map MAP, NULL */
};

/* The haproxy binary, or NULL when it is not installed. */
const char *hapfix_bin(void);
/* Write the config for services[0..n) and start HAProxy; waits until its
 * socket answers. */
int hapfix_start(struct hapfix *h, const char *const *services, size_t n);
/* Stop HAProxy (by pid) and remove its dir. */
void hapfix_free(struct hapfix *h);

#endif
