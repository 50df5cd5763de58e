/*
 * rawsock.h - raw TCP clients for abuse tests: a connection from a
 * chosen loopback address (127.0.0.<host>: all of 127/8 is this
 * machine, so each "client address" is distinct to the server), bytes
 * sent as they are, and whether the server closed it.
 */
#ifndef ORCH_TEST_RAWSOCK_H
#define ORCH_TEST_RAWSOCK_H

#include <stdbool.h>

/* A TCP connection from 127.0.0.<host> to 127.0.0.1:port; -1 on failure. */
int raw_connect(int port, int host);
/* Send s without blocking (what does not fit is dropped: abusers do not
 * care) and without SIGPIPE. */
void raw_send(int fd, const char *s);
/* Whether the server closed fd; reads and drops what it sent first. */
bool raw_closed(int fd);

#endif
