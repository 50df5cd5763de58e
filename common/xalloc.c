/* xalloc.c - see xalloc.h. */
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

char *
orch_xstrdup(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		fatalx("out of memory");
	return d;
}

void
orch_set_str(char **dst, const char *src)
{
	if (*dst == src || (*dst != NULL && src != NULL && strcmp(*dst, src) == 0))
		return;
	free(*dst);
	*dst = orch_xstrdup(src);
}
