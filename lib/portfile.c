/* portfile.c - a server's --port-file, written atomically (see portfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "portfile.h"

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int format_ports(char *buf, size_t size, const int *ports, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(buf + len, size - len, "%d\n", ports[i]);
		if (k < 0 || (size_t)k >= size - len)
			return -ENOBUFS;
		len += (size_t)k;
	}
	return (int)len;
}

int rv_port_file_write(const char *path, const int *ports, size_t n)
{
	char tmp[4096], text[256];
	int len = format_ports(text, sizeof text, ports, n);
	if (len < 0)
		return len;
	int k = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (k < 0 || (size_t)k >= sizeof tmp)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = write_all(fd, text, (size_t)len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}
