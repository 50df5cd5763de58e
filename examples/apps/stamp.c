/*
 * stamp - the restart benchmark's supervised program.
 *
 *   stamp [--out PATH] [--port P] [IGNORED...]  (PATH defaults to $STAMP_OUT)
 *
 * First thing after exec it reads CLOCK_MONOTONIC and CLOCK_REALTIME and
 * appends one line "PID MONOTONIC_NS REALTIME_NS\n" to PATH with a single
 * write() on an O_APPEND descriptor, so lines from successive (or
 * concurrent) processes never interleave. With --port it then accepts TCP
 * connections on 127.0.0.1:P (and closes them: a TCP health check);
 * otherwise it sleeps in pause() until a signal ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int
listen_port(long port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 128) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct timespec mono, real;
	const char *out = getenv("STAMP_OUT");
	char line[96], *end;
	long port = 0;
	int i, fd, n;

	/* Read the clocks before anything else: the benchmark measures up to
	 * the moment the new program runs. */
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = strtol(argv[++i], &end, 10);
			if (*end != '\0' || port <= 0 || port > 65535)
				goto usage;
		} else if (argv[i][0] == '-')
			goto usage;
		/* Other words are ignored: s6-supervise runs ./run with the
		 * service dir as its argument, and ./run may be this binary. */
	}
	if (out == NULL || out[0] == '\0')
		goto usage;
	n = snprintf(line, sizeof(line), "%ld %lld %lld\n", (long)getpid(),
	    (long long)mono.tv_sec * 1000000000LL + mono.tv_nsec,
	    (long long)real.tv_sec * 1000000000LL + real.tv_nsec);
	fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "stamp: %s: %s\n", out, strerror(errno));
		return 1;
	}
	close(fd);
	if (port > 0) {
		int lfd = listen_port(port);

		if (lfd < 0) {
			fprintf(stderr, "stamp: listen 127.0.0.1:%ld: %s\n", port,
			    strerror(errno));
			return 1;
		}
		for (;;) {
			int c = accept(lfd, NULL, NULL);

			if (c >= 0)
				close(c);
			else if (errno != EINTR && errno != ECONNABORTED)
				return 1;
		}
	}
	for (;;)
		pause();
usage:
	fprintf(stderr, "usage: stamp [--out PATH] [--port P] (or STAMP_OUT)\n");
	return 2;
}
