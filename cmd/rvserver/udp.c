/* udp.c - rvserver's UDP port, batched both ways: libuv reads datagrams
 * with recvmmsg into the shared read buffer, and what the relay sends while
 * it handles them is queued and goes out at the end of the batch in one
 * sendmmsg, consecutive datagrams of one size to one address joined into a
 * single UDP GSO send (the kernel cuts them apart again). */
#include <errno.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "log.h"
#include "media.h"
#include "server.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 60000

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct server *srv = h->data;
	(void)hint;
	buf->base = (char *)srv->io.rbuf;
	buf->len = sizeof srv->io.rbuf;	/* 16 datagrams of up to 64 KB a call */
}

static void on_udp(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags)
{
	struct server *srv = h->data;
	if (n > 0 && addr)
		media_udp(srv, (const uint8_t *)buf->base, (size_t)n, addr);
	/* the batch ends with a call that frees it, or is a single read */
	if ((flags & UV_UDP_MMSG_FREE) || !(flags & UV_UDP_MMSG_CHUNK))
		udp_flush(srv);
}

int udp_start(struct server *srv, const struct sockaddr *sa)
{
	int rc = uv_udp_init_ex(srv->loop, &srv->udp, sa->sa_family | UV_UDP_RECVMMSG);
	if (rc < 0)
		return rc;
	srv->udp.data = srv;
	if ((rc = uv_udp_bind(&srv->udp, sa, 0)) < 0)
		return rc;
	int big = 4 << 20;
	uv_recv_buffer_size((uv_handle_t *)&srv->udp, &big);
	uv_send_buffer_size((uv_handle_t *)&srv->udp, &big);
	srv->udpq.gso = 1;
	return uv_udp_recv_start(&srv->udp, on_alloc, on_udp);
}

void udp_queue(struct server *srv, const void *dest, const struct sockaddr *to, socklen_t tolen,
	       const void *p, size_t n)
{
	struct udp_queue *q = &srv->udpq;
	if (q->n == UDP_QUEUE_MAX)
		udp_flush(srv);
	struct udp_item *it = &q->items[q->n++];
	it->dest = dest;
	memcpy(&it->to, to, tolen);
	it->tolen = tolen;
	it->data = p;
	it->len = n;
	it->taken = 0;
}

/* One message: ITEMS[I] and, with GSO, the later items to the same address
 * with the same length (up to one of another length to it, which keeps the
 * order to that address). */
static size_t gather(struct udp_queue *q, size_t i, struct iovec *iov, size_t max)
{
	struct udp_item *first = &q->items[i];
	size_t n = 0, bytes = 0;
	iov[n++] = (struct iovec){ (void *)first->data, first->len };
	first->taken = 1;
	bytes += first->len;
	if (!q->gso)
		return n;
	for (size_t j = i + 1; j < q->n && n < max; j++) {
		struct udp_item *it = &q->items[j];
		if (it->taken || it->dest != first->dest)
			continue;
		if (it->len != first->len || bytes + it->len > GSO_MAX_BYTES)
			break;
		iov[n++] = (struct iovec){ (void *)it->data, it->len };
		it->taken = 1;
		bytes += it->len;
	}
	return n;
}

void udp_flush(struct server *srv)
{
	struct udp_queue *q = &srv->udpq;
	static struct mmsghdr msgs[UDP_QUEUE_MAX];
	static struct iovec iov[UDP_QUEUE_MAX];
	static union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[UDP_QUEUE_MAX];
	static size_t segs[UDP_QUEUE_MAX];
	if (!q->n)
		return;
	size_t nmsg = 0, niov = 0;
	for (size_t i = 0; i < q->n; i++) {
		if (q->items[i].taken)
			continue;
		size_t k = gather(q, i, iov + niov, GSO_MAX_SEGS);
		struct msghdr *m = &msgs[nmsg].msg_hdr;
		memset(m, 0, sizeof *m);
		m->msg_name = &q->items[i].to;
		m->msg_namelen = q->items[i].tolen;
		m->msg_iov = iov + niov;
		m->msg_iovlen = k;
		if (k > 1) {	/* GSO: the kernel sends K datagrams of this size */
			m->msg_control = ctl[nmsg].buf;
			m->msg_controllen = sizeof ctl[nmsg].buf;
			struct cmsghdr *c = CMSG_FIRSTHDR(m);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			uint16_t size = (uint16_t)q->items[i].len;
			memcpy(CMSG_DATA(c), &size, sizeof size);
		}
		segs[nmsg++] = k;
		niov += k;
	}
	int fd;
	uv_fileno((uv_handle_t *)&srv->udp, &fd);
	size_t sent = 0;
	while (sent < nmsg) {
		int r = sendmmsg(fd, msgs + sent, (unsigned)(nmsg - sent), MSG_DONTWAIT);
		if (r > 0) {
			sent += (size_t)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		/* the message at SENT failed: a kernel without GSO, or a full buffer */
		if ((errno == EIO || errno == EINVAL) && q->gso && segs[sent] > 1) {
			rv_info("UDP GSO unavailable (%s): sending datagrams one by one", strerror(errno));
			q->gso = 0;
			for (size_t m = sent; m < nmsg; m++) {
				struct msghdr *h = &msgs[m].msg_hdr;
				for (size_t s = 0; s < h->msg_iovlen; s++)
					if (sendto(fd, h->msg_iov[s].iov_base, h->msg_iov[s].iov_len, MSG_DONTWAIT,
						   h->msg_name, h->msg_namelen) < 0)
						srv->media.n.drops++;
			}
			break;
		}
		srv->media.n.drops += segs[sent];
		sent++;
	}
	q->n = 0;
}
