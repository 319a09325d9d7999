/* gso.c - UDP segmentation offload and coalesced reads (see gso.h). */
#include <errno.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include "gso.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

size_t rv_gso_run(const struct iovec *v, size_t n)
{
	if (n == 0)
		return 0;
	size_t seg = v[0].iov_len, bytes = seg, k = 1;
	while (k < n && k < RV_GSO_MAX_SEGS && v[k].iov_len <= seg && bytes + v[k].iov_len <= RV_GSO_MAX_BYTES) {
		bytes += v[k].iov_len;
		if (v[k++].iov_len < seg)
			break;	/* only the last may be shorter */
	}
	return k;
}

void rv_gso_set(struct msghdr *m, union rv_gso_ctl *ctl, size_t seg)
{
	m->msg_control = ctl->buf;
	m->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
	struct cmsghdr *c = CMSG_FIRSTHDR(m);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t size = (uint16_t)seg;
	memcpy(CMSG_DATA(c), &size, sizeof size);
}

int rv_gso_unsupported(int err)
{
	return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

int rv_gro_enable(int fd)
{
	int one = 1;
	return setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) < 0 ? -errno : 0;
}

void rv_gro_read_setup(struct msghdr *m, union rv_gso_ctl *ctl)
{
	m->msg_control = ctl->buf;
	m->msg_controllen = sizeof ctl->buf;
}

size_t rv_gro_segment(const struct msghdr *m, size_t len)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO)
			continue;
		int seg;
		memcpy(&seg, CMSG_DATA(c), sizeof seg);
		if (seg > 0 && (size_t)seg < len)
			return (size_t)seg;
	}
	return len;
}
