/*
 * xalloc.h - allocation that cannot fail to the caller.
 *
 * For the daemons' in-memory model, where a half-updated record would be
 * worse than stopping: out of memory there is a broken invariant, and the
 * process exits through fatalx() (logged), as redis' zmalloc does. Code
 * that can refuse one request instead (the API, the store's batches)
 * checks its allocations and answers the error.
 */
#ifndef ORCH_XALLOC_H
#define ORCH_XALLOC_H

/* strdup(s), NULL for NULL; exits on out of memory. */
char *orch_xstrdup(const char *s);
/* Replace the string *dst by a copy of src (NULL allowed), unless equal. */
void orch_set_str(char **dst, const char *src);

#endif
