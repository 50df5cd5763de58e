/*
 * artifact.h - fetch, verify and unpack a service's artifact (orch-slave).
 *
 * Layout under the slave's data dir:
 *
 *   DATA/artifacts/SERVICE/VERSION/            one dir per version, never
 *                                              overwritten once complete
 *   DATA/artifacts/SERVICE/VERSION/.orch-complete   the sha256 it came from
 *   DATA/artifacts/SERVICE/.fetch-* .unpack-*  work in progress (temp)
 *
 * A tar or tar.gz artifact (recognised by its bytes, not its name) is
 * unpacked into the version dir; anything else is a single-file artifact
 * and lands as VERSION/NAME, NAME being the last segment of the URL path,
 * made executable. The version dir appears atomically (rename of a fully
 * prepared temp dir), so a crash never leaves a half-unpacked version that
 * looks complete.
 *
 * These calls block (network, disk): the slave runs them on a worker
 * thread. They are thread-safe and start no process; unpacking (with
 * libarchive, artifact_unpack.c) runs on a thread of its own with a
 * private working directory and umask.
 */
#ifndef ORCH_SLAVE_ARTIFACT_H
#define ORCH_SLAVE_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include "spec-t.h"

#define ARTIFACT_MARKER ".orch-complete"

/* Limits of one fetch; a zero field takes the default shown. */
struct artifact_opts {
	int64_t connect_timeout_ms; /* 10s */
	int64_t timeout_ms;         /* whole download, redirects included: 10 min */
	int64_t stall_ms;           /* abort when no byte arrives this long: 60s */
	uint64_t max_bytes;         /* download size cap: 2 GiB */
	uint64_t max_unpacked_bytes; /* bytes an archive unpacks to, holes of
	                              * sparse files included: 8 GiB */
	int max_redirects;          /* 5; http(s) only, never to file:// */
	int64_t unpack_timeout_ms;  /* unpacking one archive: 10 min */
	int max_entries;            /* members of one archive: 100,000 */
	const char *ca_file;        /* PEM CA bundle for https; NULL: the system's */
};

/*
 * Make artifact a of SERVICE at VERSION available under data_dir and set
 * *out_dir (malloc'd, the caller frees) to DATA/artifacts/SERVICE/VERSION.
 * When that dir already exists complete with the same sha256 it is reused
 * without a download. Returns 0, or:
 *   ORCH_EINVALID  bad service/version name, URL scheme or sha256;
 *                  "checksum mismatch for URL: expected X, got Y";
 *                  an archive that is damaged or not a tar, or that has
 *                  absolute or ".." member names, symlinks leading out of
 *                  the artifact dir, device nodes, fifos, hard links to
 *                  anything but its own files, a member replacing another
 *                  (docs/artifacts.md)
 *   ORCH_EEXISTS   "version X of SERVICE already unpacked from a different
 *                  artifact"
 *   ORCH_ENOTFOUND the URL does not exist (404, no such file)
 *   ORCH_EUNAVAIL  connect failure or timeout
 *   ORCH_ETOOBIG   over max_bytes, or an archive that unpacks to more
 *                  than max_unpacked_bytes or has over max_entries members
 *   ORCH_ERROR     anything else (HTTP >= 400, disk, unpack timeout)
 * with a message. On any error nothing is left behind under data_dir.
 */
int artifact_fetch(char **out_dir, const char *data_dir, const char *service,
    const char *version, const struct artifact_spec *a);
/* artifact_fetch with explicit limits; opts NULL means all defaults. */
int artifact_fetch_opts(char **out_dir, const char *data_dir,
    const char *service, const char *version, const struct artifact_spec *a,
    const struct artifact_opts *opts);

/*
 * Remove SERVICE's oldest complete versions (ordered by the mtime of their
 * marker, i.e. when they were unpacked) so that at most keep remain, never
 * removing in_use_version (may be NULL), which is kept on top of keep when
 * it is among the old ones. Dirs without a marker are not ours and are left
 * alone; leftover temp dirs older than an hour (from a crash) are removed.
 * Returns the number of versions removed (>= 0) or a negative ORCH_E*.
 */
int artifact_prune(const char *data_dir, const char *service, size_t keep,
    const char *in_use_version);

/* 1 when s is usable as a service (or, with allow_plus, version) name in
 * a path: [A-Za-z0-9._-] (+ '+'), 1..128 chars, not starting with '.'. */
int artifact_name_valid(const char *s, int allow_plus);

/* ---- artifact_unpack.c: internal to the artifact module ---- */

enum artifact_kind {
	ARTIFACT_FILE,    /* anything else: a single-file artifact */
	ARTIFACT_TAR,     /* ustar magic at offset 257 */
	ARTIFACT_TARGZ,   /* gzip magic 1f 8b */
	ARTIFACT_TARAUTO, /* xz, zstd or bzip2 magic: libarchive detects it */
};

/* o with every zero field of in (NULL: all) set to its default. */
void artifact_opts_fill(struct artifact_opts *o, const struct artifact_opts *in);

/* Tell the kind of the file open at fd by its first bytes. */
int artifact_sniff(enum artifact_kind *out, int fd);
/* Unpack archive (of kind, not ARTIFACT_FILE; the compression is told by
 * libarchive) into the existing empty dir with the limits of o (zero
 * fields: defaults), refusing unsafe members (ORCH_EINVALID, message
 * naming url and the member) and going over the limits (ORCH_ETOOBIG).
 * On error dir is left empty, for the caller to remove. */
int artifact_unpack_tar(const char *archive, const char *dir,
    enum artifact_kind kind, const char *url, const struct artifact_opts *o);
/* Remove a tree without following symlinks; best effort. */
void artifact_rm_tree(const char *path);
/* Same, for dfd/name; depth bounds the recursion. */
void artifact_rm_at(int dfd, const char *name, int depth);

#endif
