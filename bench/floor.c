/*
 * floor - the least a supervisor can do: the restart-latency floor.
 *
 *   floor PROGRAM [ARG...]
 *
 * fork/exec PROGRAM; when it dies, fork/exec it again at once. SIGCHLD is
 * blocked and taken with sigwaitinfo(), so there is no handler and no
 * event loop between the death and the next fork. SIGTERM/SIGINT: stop the
 * child and exit. If the program cannot be executed (status 127 within a
 * second of the start) floor exits instead of respawning in a tight loop.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;
static struct timespec started;

static void
spawn(char **argv, const sigset_t *orig)
{
	child = fork();
	if (child < 0) {
		perror("floor: fork");
		exit(1);
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, orig, NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	clock_gettime(CLOCK_MONOTONIC, &started);
}

int
main(int argc, char **argv)
{
	sigset_t set, orig;
	siginfo_t si;
	int st;

	if (argc < 2) {
		fprintf(stderr, "usage: floor PROGRAM [ARG...]\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &orig);
	spawn(argv + 1, &orig);
	for (;;) {
		if (sigwaitinfo(&set, &si) < 0) {
			if (errno == EINTR)
				continue;
			perror("floor: sigwaitinfo");
			return 1;
		}
		if (si.si_signo != SIGCHLD) {
			kill(child, SIGTERM);
			waitpid(child, &st, 0);
			return 0;
		}
		for (;;) {
			pid_t p = waitpid(-1, &st, WNOHANG);
			struct timespec now;

			if (p <= 0)
				break;
			if (p != child)
				continue;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (WIFEXITED(st) && WEXITSTATUS(st) == 127 &&
			    now.tv_sec - started.tv_sec < 1) {
				fprintf(stderr, "floor: cannot run %s\n", argv[1]);
				return 1;
			}
			spawn(argv + 1, &orig);
		}
	}
}
