/* errors.c - the list of every error found in one manifest load. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

void
manifest_errors_init(struct manifest_errors *e)
{
	memset(e, 0, sizeof(*e));
}

void
manifest_errors_free(struct manifest_errors *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].path);
		free(e->v[i].msg);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static char *
dup_or_empty(const char *s)
{
	char *d = strdup(s ? s : "");

	if (d == NULL)
		abort(); /* out of memory while reporting: nothing sane remains */
	return d;
}

void
manifest_errors_add(struct manifest_errors *e, const char *file,
    struct mpos pos, const char *path, const char *fmt, ...)
{
	struct manifest_error *err;
	char msg[1024];
	va_list ap;

	if (e == NULL)
		return;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct manifest_error *v = realloc(e->v, cap * sizeof(*v));
		if (v == NULL)
			abort();
		e->v = v;
		e->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err = &e->v[e->n++];
	err->file = dup_or_empty(file);
	err->pos = pos;
	err->path = dup_or_empty(path);
	err->msg = dup_or_empty(msg);
}

static int
pos_cmp(const void *a, const void *b)
{
	const struct manifest_error *x = a, *y = b;

	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	return 0;
}

void
manifest_errors_sort(struct manifest_errors *e)
{
	/* Insertion sort: stable, and error lists are short. */
	for (size_t i = 1; i < e->n; i++) {
		struct manifest_error tmp = e->v[i];
		size_t j = i;
		while (j > 0 && pos_cmp(&e->v[j - 1], &tmp) > 0) {
			e->v[j] = e->v[j - 1];
			j--;
		}
		e->v[j] = tmp;
	}
}

void
manifest_error_format(char *buf, size_t len, const struct manifest_error *err)
{
	if (err->path[0])
		snprintf(buf, len, "%s:%d:%d: %s: %s", err->file, err->pos.line,
		    err->pos.col, err->path, err->msg);
	else
		snprintf(buf, len, "%s:%d:%d: %s", err->file, err->pos.line,
		    err->pos.col, err->msg);
}
