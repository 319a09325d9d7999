/* fuzz_trunk.c - the cluster trunk's handshake and frames (lib/trunk.h) on
 * arbitrary bytes.
 *
 * Input grammar: byte 0 picks the engine: bit 0 clear, a fresh listener
 * (the surface a stranger reaches: preface stripped, HELLO and AUTH
 * expected); set, a listener already up after a real handshake with a
 * dialer in memory (MSG frames); bit 1 picks a dialer instead of the fresh
 * listener. Byte 1 splits the rest in two reads. Invariants: rv_trunk_input
 * returns bytes consumed (whole frames, never past the input) or one of
 * its documented errors; no MSG is delivered before the handshake; a MSG it
 * delivers has valid fields and a payload inside the input, and its head
 * encodes again (rv_trunk_msg_head) to exactly the bytes received; a PING
 * (kind 4, no body) is taken only once up, and delivers nothing. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "router.h"
#include "trunk.h"

static const char key[] = "cluster-secret";

struct ctx {
	const uint8_t *in, *end;
	int up;
	size_t msgs;
};

static int on_msg(void *ud, const struct rv_cmsg *m, uint64_t sconn)
{
	struct ctx *x = ud;
	assert(x->up);
	assert(m->type == RV_CMSG_DIRECT || m->type == RV_CMSG_GROUP || m->type == RV_CMSG_ACK ||
	       m->type == RV_CMSG_PIPE);
	assert(!m->a[0] || rv_id_valid(m->a));
	assert(!m->b[0] || rv_id_valid(m->b));
	assert(m->payload >= x->in && m->payload + m->payload_len <= x->end);
	struct rv_buf b;
	rv_buf_init(&b, RV_TRUNK_FRAME_MAX);
	assert(rv_trunk_msg_head(&b, m, sconn, m->payload_len) == 0);
	size_t hl = rv_buf_size(&b);
	assert(m->payload - hl >= x->in && memcmp(m->payload - hl, rv_buf_head(&b), hl) == 0);
	rv_buf_free(&b);
	x->msgs++;
	return x->msgs % 3 == 0;	/* stop now and then: the caller offers the rest again */
}

/* A dialer and a listener in memory, through the handshake. */
static void handshake(struct rv_trunk *d, struct rv_trunk *l)
{
	struct rv_buf a, b;
	rv_buf_init(&a, 4096);
	rv_buf_init(&b, 4096);
	assert(rv_trunk_init(d, 1, "n1.1000", key, sizeof key - 1) == 0);
	assert(rv_trunk_init(l, 0, "n2.2000", key, sizeof key - 1) == 0);
	assert(rv_trunk_start(d, &a) == 0);
	rv_buf_consume(&a, RV_TRUNK_PREFACE_LEN);
	assert(rv_trunk_input(l, rv_buf_head(&a), rv_buf_size(&a), &b, NULL, NULL) == (long)rv_buf_size(&a));
	rv_buf_reset(&a);
	assert(rv_trunk_input(d, rv_buf_head(&b), rv_buf_size(&b), &a, NULL, NULL) == (long)rv_buf_size(&b));
	assert(d->state == RV_TRUNK_UP);
	rv_buf_reset(&b);
	assert(rv_trunk_input(l, rv_buf_head(&a), rv_buf_size(&a), &b, NULL, NULL) == (long)rv_buf_size(&a));
	assert(l->state == RV_TRUNK_UP && strcmp(l->peer, "n1.1000") == 0);
	rv_buf_free(&a);
	rv_buf_free(&b);
}

static int feed(struct rv_trunk *t, struct ctx *x, const uint8_t *p, size_t n, struct rv_buf *out)
{
	size_t used = 0;
	while (used < n) {
		x->up = t->state == RV_TRUNK_UP;
		long rc = rv_trunk_input(t, p + used, n - used, out, on_msg, x);
		assert(rc == RV_EDENIED || rc == RV_ETOOBIG || rc == RV_EPROTO || (rc >= 0 && (size_t)rc <= n - used));
		if (rc <= 0)
			return (int)rc;
		used += (size_t)rc;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct rv_trunk t, other;
	struct rv_buf out;
	rv_buf_init(&out, 1 << 16);
	if (data[0] & 1)
		handshake(&other, &t);
	else
		assert(rv_trunk_init(&t, (data[0] >> 1) & 1, "n3.3000", key, sizeof key - 1) == 0);
	const uint8_t *p = data + 2;
	size_t n = size - 2, cut = n ? data[1] % (n + 1) : 0;
	struct ctx x = { p, p + n, 0, 0 };
	/* a first read, then the rest joined to what it left (as a caller keeps it) */
	x.up = t.state == RV_TRUNK_UP;
	long rc = rv_trunk_input(&t, p, cut, &out, on_msg, &x);
	assert(rc == RV_EDENIED || rc == RV_ETOOBIG || rc == RV_EPROTO || (rc >= 0 && (size_t)rc <= cut));
	if (rc >= 0)
		feed(&t, &x, p + rc, n - (size_t)rc, &out);
	assert(t.pings_in == 0 || (data[0] & 1));	/* a fresh engine never got up */
	rv_buf_free(&out);
	return 0;
}
