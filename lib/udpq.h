/* udpq.h - one batched UDP sender: a queue of datagrams flushed with one
 * sendmmsg, consecutive datagrams of one size to one destination joined
 * into a single UDP GSO send (gso.h) that the kernel cuts apart again.
 * When the kernel refuses GSO once, the queue remembers it and sends
 * datagram by datagram from then on (still one sendmmsg a flush).
 *
 * Zero copy, zero allocation per datagram: the queue holds pointers to the
 * payloads, which the caller keeps alive and unchanged until the next
 * rv_udpq_flush; all its memory is taken once by rv_udpq_init. The socket
 * is the flush's, so one queue can serve several sockets in turn. Used by
 * rvserver's UDP port, rv_mlink_sendv and rvturn bench. No libuv. */
#ifndef RV_UDPQ_H
#define RV_UDPQ_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "gso.h"

/* What the queue did, in datagrams unless said otherwise. */
struct rv_udpq_counts {
	uint64_t sent;                /* datagrams the kernel took */
	uint64_t gso_sends;           /* messages that carried more than one (GSO) */
	uint64_t calls;               /* sendmmsg and sendto calls */
	uint64_t eagain;              /* datagrams lost to a full socket buffer */
	uint64_t dropped;             /* datagrams lost to other errors */
};

/* One queued payload: LEN bytes at DATA, datagrams of SEG bytes each (the
 * last may be shorter; SEG is LEN for a single datagram). */
struct rv_udpq_item {
	const void *dest;             /* stands for the address, or NULL: compare TO */
	struct sockaddr_in6 to;       /* big enough for IPv4 and IPv6 */
	socklen_t tolen;              /* 0: the socket is connected */
	const void *data;
	size_t len, seg;
	int taken;                    /* in a message of the flush being built */
};

struct rv_udpq {
	struct rv_udpq_item *items;   /* CAP of them, N queued */
	size_t n, cap;
	int gso;                      /* 1 until the kernel refuses UDP_SEGMENT once */
	int last_err;                 /* errno of the last datagram lost, or 0 */
	struct rv_udpq_counts count;
	/* the flush's own storage, CAP of each (udpq.c) */
	struct mmsghdr *msgs;
	struct iovec *iov;
	union rv_gso_ctl *ctl;
	struct rv_udpq_msg *meta;
	uint32_t *next;               /* per item: the next one to its destination (index + 1), or 0 */
	struct rv_udpq_slot *slots;   /* a hash of destinations (mask + 1 of them) that builds NEXT */
	size_t mask;
	uint32_t gen;                 /* the flush a slot belongs to (none are cleared) */
};

/* rv_udpq_init - room for CAP datagrams (or bursts); 0 or -ENOMEM. The one
 * allocation the queue makes. */
int rv_udpq_init(struct rv_udpq *q, size_t cap);
/* rv_udpq_free - the memory back; the queue can be initialized again. */
void rv_udpq_free(struct rv_udpq *q);

/* rv_udpq_add - queue the LEN bytes at DATA (kept alive by the caller
 * until the flush) as one datagram to TO (TOLEN bytes; NULL and 0 on a
 * connected socket). DEST, when not NULL, stands for the address: equal
 * DESTs are the same address, and addresses are not compared. 0, or
 * -ENOBUFS when the queue is full (flush, then add again) or TOLEN is too
 * big (-EINVAL). */
int rv_udpq_add(struct rv_udpq *q, const void *dest, const struct sockaddr *to, socklen_t tolen,
		const void *data, size_t len);
/* rv_udpq_add_burst - the same for LEN bytes that are several datagrams of
 * SEG bytes, the last one possibly shorter (a GRO read): sent as one GSO
 * send, or cut into datagrams when the kernel has no GSO. */
int rv_udpq_add_burst(struct rv_udpq *q, const void *dest, const struct sockaddr *to, socklen_t tolen,
		      const void *data, size_t len, size_t seg);

/* rv_udpq_flush - send everything queued on FD (non-blocking), empty the
 * queue, and return how many datagrams the kernel took; the others are
 * lost (counted in q->count, the reason in q->last_err). Each destination
 * gets its datagrams in the order they were queued. */
size_t rv_udpq_flush(struct rv_udpq *q, int fd);

#endif
