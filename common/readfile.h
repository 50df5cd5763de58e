/*
 * readfile.h - read a small file whole: a credentials file, a PEM file.
 *
 * One reader for the files a daemon takes at start, so that each refuses
 * the same things with the same words: not a regular file, over the cap,
 * and, for secrets (tokens, private keys), readable by anyone but its
 * owner (as ssh refuses a private key others can read).
 */
#ifndef ORCH_READFILE_H
#define ORCH_READFILE_H

#include <stddef.h>

#define READFILE_PRIVATE 1u /* refuse a file group or others may access */

/* The text of path (NUL-terminated, caller frees) into *out, at most max
 * bytes. what names the file in errors ("credentials file"). 0, or
 * ORCH_EINVALID / ORCH_ERROR with the reason set. */
int readfile_small(char **out, const char *path, size_t max, unsigned flags,
    const char *what);

#endif
