/* tmpfs.c - see tmpfs.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include "tmpfs.h"

static char mounted[512];

void
tmpfs_umount(void)
{
	if (mounted[0] != '\0' && umount2(mounted, MNT_DETACH) == 0)
		mounted[0] = '\0';
}

int
tmpfs_mount(const char *dir, const char *size)
{
	static int registered;
	char opts[64];

	if (mounted[0] != '\0')
		return -1;
	if (!registered++)
		atexit(tmpfs_umount);
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (mount("orchtest", dir, "tmpfs", 0, opts) < 0)
		return -1;
	snprintf(mounted, sizeof(mounted), "%s", dir);
	return 0;
}

long
tmpfs_fill(const char *path)
{
	static char buf[4096];
	long total = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = write(fd, buf, sizeof(buf))) > 0)
		total += n;
	/* The last page may take less than a page. */
	while (write(fd, buf, 1) == 1)
		total++;
	close(fd);
	return total;
}
