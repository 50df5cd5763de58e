/*
 * output.c - what every verb prints the same way: aligned tables, JSON
 * documents, manifest error lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orchctl.h"
#include "xalloc.h"

/* kubectl separates columns by three spaces; so do we. */
#define TABLE_GAP 3

struct table {
	size_t ncols;
	char **cells; /* rows * ncols, row 0 the headers */
	size_t nrows, caprows;
	bool headers;
};

static void
table_grow(struct table *t)
{
	size_t cap;
	char **cells;

	if (t->nrows < t->caprows)
		return;
	cap = t->caprows ? t->caprows * 2 : 8;
	cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));
	if (cells == NULL)
		abort();
	t->cells = cells;
	t->caprows = cap;
}

struct table *
table_new(size_t ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		abort();
	t->ncols = ncols;
	/* All-empty headers mean a table without a header line (help). */
	for (size_t i = 0; i < ncols; i++)
		if (headers[i][0] != '\0')
			t->headers = true;
	table_add(t, headers);
	return t;
}

void
table_add(struct table *t, const char *const *cells)
{
	table_grow(t);
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
		    orch_xstrdup(cells[i] ? cells[i] : "-");
	t->nrows++;
}

void
table_print(const struct table *t, FILE *f)
{
	size_t *width = calloc(t->ncols, sizeof(*width));

	if (width == NULL)
		abort();
	for (size_t r = t->headers ? 0 : 1; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = strlen(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = t->headers ? 0 : 1; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fputs(s, f); /* no trailing blanks */
			else
				fprintf(f, "%-*s", (int)(width[c] + TABLE_GAP), s);
		}
		fputc('\n', f);
	}
	free(width);
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void
table_print_list(FILE *f, const json_t *list, size_t ncols,
    const char *const *headers,
    void (*add_row)(struct table *t, const json_t *elem))
{
	struct table *t = table_new(ncols, headers);
	const json_t *elem;
	size_t i;

	json_array_foreach(list, i, elem)
		add_row(t, elem);
	table_print(t, f);
	table_free(t);
}

json_t *
jstr(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	/* Manifest strings come from YAML, which libyaml has checked to be
	 * UTF-8; git messages need not be. json_stringn_nocheck would emit
	 * invalid JSON, so fall back to a lossy copy instead. */
	j = json_string(s);
	if (j == NULL) {
		char *copy = orch_xstrdup(s);
		for (char *p = copy; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		j = json_string(copy);
		free(copy);
	}
	if (j == NULL)
		abort();
	return j;
}

json_t *
jobj(void)
{
	json_t *j = json_object();

	if (j == NULL)
		abort();
	return j;
}

json_t *
jarr(void)
{
	json_t *j = json_array();

	if (j == NULL)
		abort();
	return j;
}

json_t *
jint(long long v)
{
	json_t *j = json_integer(v);

	if (j == NULL)
		abort();
	return j;
}

void
jset(json_t *obj, const char *key, json_t *val)
{
	if (json_object_set_new(obj, key, val) != 0)
		abort();
}

void
jpush(json_t *array, json_t *val)
{
	if (json_array_append_new(array, val) != 0)
		abort();
}

void
output_json(FILE *f, json_t *j)
{
	json_dumpf(j, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(j);
}

void
output_errors_text(FILE *f, const struct manifest_errors *errs)
{
	char line[2048];

	for (size_t i = 0; i < errs->n; i++) {
		manifest_error_format(line, sizeof(line), &errs->v[i]);
		fprintf(f, "%s\n", line);
	}
}

void
output_errors_count(FILE *f, size_t n)
{
	fprintf(f, "%zu error%s\n", n, n == 1 ? "" : "s");
}

void
output_errors_json(json_t *array, const struct manifest_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		const struct manifest_error *e = &errs->v[i];
		json_t *o = jobj();

		jset(o, "file", jstr(e->file));
		jset(o, "line", jint(e->pos.line));
		jset(o, "col", jint(e->pos.col));
		jset(o, "path", jstr(e->path));
		jset(o, "message", jstr(e->msg));
		jpush(array, o);
	}
}
