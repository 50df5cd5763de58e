/* signame.c - signal names, see signame.h. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "signame.h"

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"TERM", SIGTERM}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
	{"HUP", SIGHUP}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ABRT", SIGABRT},
	{"ALRM", SIGALRM}, {"WINCH", SIGWINCH}, {"STOP", SIGSTOP}, {"CONT", SIGCONT},
	{"PWR", SIGPWR}, {"SEGV", SIGSEGV},
};

int
orch_signal_lookup(const char *name)
{
	if (name == NULL)
		return -1;
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcmp(name, signals[i].name) == 0)
			return signals[i].sig;
	return -1;
}

int
orch_signal_parse(const char *s)
{
	char *end;
	long n;

	if (s == NULL || *s == '\0')
		return -1;
	if (isdigit((unsigned char)s[0])) {
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno || *end || n < 1 || n >= NSIG)
			return -1;
		return (int)n;
	}
	return orch_signal_lookup(s);
}

const char *
orch_signal_name(int sig)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return NULL;
}
