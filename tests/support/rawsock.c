/* rawsock.c - see rawsock.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rawsock.h"

int
raw_connect(int port, int host)
{
	struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char a[32];

	if (fd < 0)
		return -1;
	snprintf(a, sizeof(a), "127.0.0.%d", host);
	inet_pton(AF_INET, a, &src.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	dst.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void
raw_send(int fd, const char *s)
{
	(void)!send(fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool
raw_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[4096];

	while (poll(&p, 1, 0) == 1) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n <= 0)
			return true;
	}
	return false;
}
