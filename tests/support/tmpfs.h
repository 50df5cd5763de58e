/*
 * tmpfs.h - a small tmpfs over a test's dir and a file that fills it, for
 * disk-full tests (root: CI runs as root). The mount is detached at exit
 * whatever the test did.
 */
#ifndef ORCH_TEST_TMPFS_H
#define ORCH_TEST_TMPFS_H

/* Mount a tmpfs of size ("2m") over dir (what dir held is hidden until
 * tmpfs_umount). One at a time. 0 or -1. */
int tmpfs_mount(const char *dir, const char *size);
void tmpfs_umount(void);
/* Write zeros into path until the disk says no; the bytes written, -1
 * when path cannot be made. */
long tmpfs_fill(const char *path);

#endif
