/* udpq.c - the batched UDP sender (see udpq.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "udpq.h"

/* What the flush knows of each message it built. */
struct rv_udpq_msg {
	size_t seg;                   /* datagram size (GSO), or 0: one datagram */
	size_t dgrams;                /* datagrams it carries */
};

/* A destination seen in the flush being built: its latest item. */
struct rv_udpq_slot {
	uint32_t gen, item;
};

int rv_udpq_init(struct rv_udpq *q, size_t cap)
{
	if (cap > UINT32_MAX / 4)
		return -ENOMEM;
	size_t slots = 2;
	while (slots < 2 * cap)
		slots *= 2;
	*q = (struct rv_udpq){ .cap = cap, .gso = 1, .mask = slots - 1 };
	q->items = calloc(cap ? cap : 1, sizeof *q->items);
	q->msgs = calloc(cap ? cap : 1, sizeof *q->msgs);
	q->iov = calloc(cap ? cap : 1, sizeof *q->iov);
	q->ctl = calloc(cap ? cap : 1, sizeof *q->ctl);
	q->meta = calloc(cap ? cap : 1, sizeof *q->meta);
	q->next = calloc(cap ? cap : 1, sizeof *q->next);
	q->slots = calloc(slots, sizeof *q->slots);
	if (!q->items || !q->msgs || !q->iov || !q->ctl || !q->meta || !q->next || !q->slots) {
		rv_udpq_free(q);
		return -ENOMEM;
	}
	return 0;
}

void rv_udpq_free(struct rv_udpq *q)
{
	free(q->items);
	free(q->msgs);
	free(q->iov);
	free(q->ctl);
	free(q->meta);
	free(q->next);
	free(q->slots);
	*q = (struct rv_udpq){ 0 };
}

int rv_udpq_add_burst(struct rv_udpq *q, const void *dest, const struct sockaddr *to, socklen_t tolen,
		      const void *data, size_t len, size_t seg)
{
	if (q->n == q->cap)
		return -ENOBUFS;
	if (tolen > sizeof q->items[0].to || (tolen && !to))
		return -EINVAL;
	struct rv_udpq_item *it = &q->items[q->n++];
	it->dest = dest;
	if (tolen)
		memcpy(&it->to, to, tolen);
	it->tolen = tolen;
	it->data = data;
	it->len = len;
	it->seg = seg && seg < len ? seg : len;
	it->taken = 0;
	return 0;
}

int rv_udpq_add(struct rv_udpq *q, const void *dest, const struct sockaddr *to, socklen_t tolen,
		const void *data, size_t len)
{
	return rv_udpq_add_burst(q, dest, to, tolen, data, len, len);
}

static int same_dest(const struct rv_udpq_item *a, const struct rv_udpq_item *b)
{
	if (a->dest || b->dest)
		return a->dest == b->dest;
	return a->tolen == b->tolen && memcmp(&a->to, &b->to, a->tolen) == 0;
}

static size_t hash_dest(const struct rv_udpq_item *it)
{
	uint64_t h = 1469598103934665603u;	/* FNV-1a */
	const uint8_t *p = it->dest ? (const uint8_t *)&it->dest : (const uint8_t *)&it->to;
	size_t n = it->dest ? sizeof it->dest : it->tolen;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return (size_t)(h ^ h >> 29);
}

/* NEXT for the queued items: each one's next item to the same destination,
 * so a message gathers its run without looking at every later item (one
 * datagram each to N viewers was N * N / 2 comparisons). Last to first,
 * each destination's slot holding its latest item so far. */
static void link_dests(struct rv_udpq *q)
{
	if (++q->gen == 0) {	/* wrapped: old stamps could pass for new ones */
		memset(q->slots, 0, (q->mask + 1) * sizeof *q->slots);
		q->gen = 1;
	}
	for (size_t i = q->n; i-- > 0;) {
		size_t h = hash_dest(&q->items[i]) & q->mask;
		while (q->slots[h].gen == q->gen && !same_dest(&q->items[q->slots[h].item], &q->items[i]))
			h = (h + 1) & q->mask;
		struct rv_udpq_slot *s = &q->slots[h];
		q->next[i] = s->gen == q->gen ? s->item + 1 : 0;
		*s = (struct rv_udpq_slot){ q->gen, (uint32_t)i };
	}
}

static size_t dgrams_of(const struct rv_udpq_item *it)
{
	return it->len ? (it->len + it->seg - 1) / it->seg : 1;
}

/* One GSO message from ITEMS[I]: it, then the later items to the same
 * destination (NEXT's chain) that continue the run as rv_gso_run does (datagrams of its
 * size, at most one shorter, which ends it). Items to other destinations
 * in between wait for their own message, so each destination gets its
 * datagrams in order. Fills IOV and M; returns the iovecs used. */
static size_t gather(struct rv_udpq *q, size_t i, struct iovec *iov, struct rv_udpq_msg *m)
{
	struct rv_udpq_item *first = &q->items[i];
	size_t n = 0, seg = first->seg, bytes = first->len;
	iov[n++] = (struct iovec){ (void *)first->data, first->len };
	first->taken = 1;
	*m = (struct rv_udpq_msg){ .seg = first->len > seg ? seg : 0, .dgrams = dgrams_of(first) };
	if (!seg || first->len % seg)
		return n;	/* empty, or a burst ending short: nothing may follow */
	for (uint32_t j = q->next[i]; j; j = q->next[j - 1]) {
		struct rv_udpq_item *it = &q->items[j - 1];
		if (it->taken)
			continue;
		size_t d = dgrams_of(it);
		int fits = it->len && (it->seg == seg || (d == 1 && it->len < seg));
		if (!fits || m->dgrams + d > RV_GSO_MAX_SEGS || bytes + it->len > RV_GSO_MAX_BYTES)
			break;
		iov[n++] = (struct iovec){ (void *)it->data, it->len };
		it->taken = 1;
		bytes += it->len;
		m->dgrams += d;
		m->seg = seg;
		if (it->len % seg)
			break;	/* only the last may be shorter */
	}
	return n;
}

static void lost(struct rv_udpq *q, int err, size_t dgrams)
{
	q->last_err = err;
	if (err == EAGAIN || err == EWOULDBLOCK)
		q->count.eagain += dgrams;
	else
		q->count.dropped += dgrams;
}

/* The kernel refused GSO: message H datagram by datagram. */
static size_t send_singly(struct rv_udpq *q, int fd, const struct msghdr *h, size_t seg)
{
	size_t sent = 0;
	for (size_t s = 0; s < h->msg_iovlen; s++) {
		const uint8_t *p = h->msg_iov[s].iov_base;
		size_t len = h->msg_iov[s].iov_len, step = seg ? seg : len, off = 0;
		do {	/* once for an empty datagram */
			size_t d = len - off < step ? len - off : step;
			ssize_t r;
			q->count.calls++;
			while ((r = sendto(fd, p + off, d, MSG_DONTWAIT, h->msg_name, h->msg_namelen)) < 0 &&
			       errno == EINTR)
				;
			if (r < 0)
				lost(q, errno, 1);
			else
				sent++;
			off += d;
		} while (off < len);
	}
	return sent;
}

/* Messages 0..NMSG-1 of the flush: one sendmmsg, and another from where
 * one failed. */
static size_t send_batch(struct rv_udpq *q, int fd, size_t nmsg)
{
	size_t sent = 0;
	for (size_t at = 0; at < nmsg;) {
		q->count.calls++;
		int r = sendmmsg(fd, q->msgs + at, (unsigned)(nmsg - at), MSG_DONTWAIT);
		if (r > 0) {
			for (size_t j = at; j < at + (size_t)r; j++) {
				sent += q->meta[j].dgrams;
				q->count.gso_sends += q->meta[j].seg != 0;
			}
			at += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		int err = r < 0 ? errno : EIO;
		if (q->gso && q->meta[at].seg && rv_gso_unsupported(err)) {
			rv_debug("UDP GSO unavailable (%s): sending datagrams one by one", strerror(err));
			q->gso = 0;
			for (size_t m = at; m < nmsg; m++)
				sent += send_singly(q, fd, &q->msgs[m].msg_hdr, q->meta[m].seg);
			break;
		}
		lost(q, err, q->meta[at].dgrams);	/* a full buffer: this message, not the rest */
		at++;
	}
	return sent;
}

/* Without GSO: the next datagram of item I from *OFF on, as message M. */
static void one_datagram(struct rv_udpq *q, size_t i, size_t *off, size_t m)
{
	struct rv_udpq_item *it = &q->items[i];
	size_t d = it->len - *off < it->seg ? it->len - *off : it->seg;
	q->iov[m] = (struct iovec){ (uint8_t *)it->data + *off, d };
	q->msgs[m].msg_hdr = (struct msghdr){ .msg_name = it->tolen ? &it->to : NULL, .msg_namelen = it->tolen,
					      .msg_iov = &q->iov[m], .msg_iovlen = 1 };
	q->meta[m] = (struct rv_udpq_msg){ .seg = 0, .dgrams = 1 };
	*off += d;
}

size_t rv_udpq_flush(struct rv_udpq *q, int fd)
{
	size_t sent = 0, i = 0, off = 0;
	if (q->gso)
		link_dests(q);
	while (i < q->n) {
		size_t nmsg = 0, niov = 0;
		/* with GSO every item goes in one pass (a message takes one
		 * item at least); without, a burst may need more passes */
		while (i < q->n && nmsg < q->cap) {
			struct rv_udpq_item *it = &q->items[i];
			if (it->taken) {
				i++;
				continue;
			}
			if (!q->gso) {
				one_datagram(q, i, &off, nmsg++);
				if (off >= it->len) {
					i++;
					off = 0;
				}
				continue;
			}
			struct msghdr *m = &q->msgs[nmsg].msg_hdr;
			size_t k = gather(q, i, q->iov + niov, &q->meta[nmsg]);
			*m = (struct msghdr){ .msg_name = it->tolen ? &it->to : NULL, .msg_namelen = it->tolen,
					      .msg_iov = q->iov + niov, .msg_iovlen = k };
			if (q->meta[nmsg].seg)
				rv_gso_set(m, &q->ctl[nmsg], q->meta[nmsg].seg);
			niov += k;
			nmsg++;
			i++;
		}
		sent += send_batch(q, fd, nmsg);
	}
	q->count.sent += sent;
	q->n = 0;
	return sent;
}
