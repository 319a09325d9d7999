/* test_trunk.c - the cluster trunk (lib/trunk.h): the handshake both ways,
 * strangers and wrong secrets refused, frames split anywhere, every cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "err.h"
#include "trunk.h"

static const char key[] = "cluster secret";

struct got {
	int n;
	struct rv_cmsg last;
	uint64_t sconn;
	uint8_t payload[64];
	int stop_after;
};

static int on_msg(void *ud, const struct rv_cmsg *m, uint64_t sconn)
{
	struct got *g = ud;
	g->n++;
	g->last = *m;
	g->sconn = sconn;
	if (m->payload_len <= sizeof g->payload)
		memcpy(g->payload, m->payload, m->payload_len);
	return g->stop_after && g->n >= g->stop_after;
}

/* Everything in FROM goes to T (answers into TO), checked consumed whole. */
static long pass(struct rv_trunk *t, struct rv_buf *from, struct rv_buf *to, struct got *g)
{
	long rc = rv_trunk_input(t, rv_buf_head(from), rv_buf_size(from), to, on_msg, g);
	if (rc >= 0)
		rv_buf_consume(from, (size_t)rc);
	return rc;
}

/* Dialer D and listener L through the handshake (L's key LKEY). */
static long handshake(struct rv_trunk *d, struct rv_trunk *l, const char *lkey, struct rv_buf *dl, struct rv_buf *ld)
{
	assert_int_equal(rv_trunk_init(d, 1, "n1.1000", key, strlen(key)), 0);
	assert_int_equal(rv_trunk_init(l, 0, "n2.2000", lkey, strlen(lkey)), 0);
	assert_int_equal(rv_trunk_start(d, dl), 0);
	assert_memory_equal(rv_buf_head(dl), RV_TRUNK_PREFACE, RV_TRUNK_PREFACE_LEN);
	rv_buf_consume(dl, RV_TRUNK_PREFACE_LEN);	/* the listener's sniffer takes it */
	long rc = pass(l, dl, ld, NULL);
	if (rc < 0)
		return rc;
	assert_int_equal(l->state, RV_TRUNK_AUTH);
	if ((rc = pass(d, ld, dl, NULL)) < 0)
		return rc;
	assert_int_equal(d->state, RV_TRUNK_UP);
	return pass(l, dl, ld, NULL);
}

static void up_both_ways(void **state)
{
	(void)state;
	struct rv_trunk d, l;
	struct rv_buf dl, ld;
	rv_buf_init(&dl, 1 << 22);
	rv_buf_init(&ld, 1 << 22);
	assert_true(handshake(&d, &l, key, &dl, &ld) >= 0);
	assert_int_equal(l.state, RV_TRUNK_UP);
	assert_string_equal(l.peer, "n1.1000");
	assert_string_equal(d.peer, "n2.2000");
	/* a message, split at every byte */
	struct rv_cmsg m = { .type = RV_CMSG_DIRECT, .seq = 7, .code = 1 };
	strcpy(m.a, "bob");
	strcpy(m.b, "alice");
	static const uint8_t frame[] = "an RV frame";
	assert_int_equal(rv_trunk_msg_head(&dl, &m, 99, sizeof frame), 0);
	assert_int_equal(rv_buf_append(&dl, frame, sizeof frame), 0);
	size_t total = rv_buf_size(&dl);
	struct got g = { 0 };
	for (size_t cut = 0; cut <= total; cut++) {
		long a = rv_trunk_input(&l, rv_buf_head(&dl), cut, &ld, on_msg, &g);
		assert_true(a == 0 || (a == (long)total && cut == total));
	}
	assert_int_equal(g.n, 1);
	assert_int_equal(g.last.type, RV_CMSG_DIRECT);
	assert_int_equal(g.last.seq, 7);
	assert_int_equal(g.sconn, 99);
	assert_string_equal(g.last.a, "bob");
	assert_string_equal(g.last.origin, "n1.1000");
	assert_int_equal(g.last.payload_len, sizeof frame);
	assert_memory_equal(g.payload, frame, sizeof frame);
	/* the callback stops: the rest stays unconsumed */
	rv_buf_reset(&dl);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rv_trunk_msg_head(&dl, &m, 0, 0), 0);
	}
	struct got s = { .stop_after = 1 };
	long one = rv_trunk_input(&l, rv_buf_head(&dl), rv_buf_size(&dl), &ld, on_msg, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(one * 3, (long)rv_buf_size(&dl));
	/* the listener answers too: an ack to the dialer */
	struct rv_cmsg ack = { .type = RV_CMSG_ACK, .seq = 7, .count = 2 };
	rv_buf_reset(&ld);
	assert_int_equal(rv_trunk_msg_head(&ld, &ack, 0, 0), 0);
	struct got ga = { 0 };
	long alen = (long)rv_buf_size(&ld);
	assert_int_equal(pass(&d, &ld, &dl, &ga), alen);
	assert_int_equal(ga.n, 1);
	assert_int_equal(ga.last.count, 2);
	rv_buf_free(&dl);
	rv_buf_free(&ld);
}

static void wrong_secret_refused(void **state)
{
	(void)state;
	struct rv_trunk d, l;
	struct rv_buf dl, ld;
	rv_buf_init(&dl, 4096);
	rv_buf_init(&ld, 4096);
	/* the dialer checks the listener's proof first */
	assert_int_equal(handshake(&d, &l, "another secret", &dl, &ld), RV_EDENIED);
	assert_int_not_equal(d.state, RV_TRUNK_UP);
	/* a stranger that copies the listener's own proof back (reflection) */
	rv_buf_reset(&dl);
	rv_buf_reset(&ld);
	struct rv_trunk s;
	assert_int_equal(rv_trunk_init(&s, 1, "n2.2000", key, strlen(key)), 0);
	assert_int_equal(rv_trunk_init(&l, 0, "n2.2000", key, strlen(key)), 0);
	assert_int_equal(rv_trunk_start(&s, &dl), 0);
	rv_buf_consume(&dl, RV_TRUNK_PREFACE_LEN);
	memcpy(s.nonce, l.nonce, RV_TRUNK_NONCE);	/* whatever it claims */
	assert_true(pass(&l, &dl, &ld, NULL) > 0);
	/* ld: HELLO, then AUTH (proof 'L'): send the AUTH frame back */
	size_t hello = 4 + rv_rd32(rv_buf_head(&ld));
	assert_int_equal(rv_trunk_input(&l, rv_buf_head(&ld) + hello, rv_buf_size(&ld) - hello, &dl, NULL, NULL),
			 RV_EDENIED);
	rv_buf_free(&dl);
	rv_buf_free(&ld);
}

static void out_of_order_and_caps(void **state)
{
	(void)state;
	struct rv_trunk l;
	struct rv_buf out, in;
	rv_buf_init(&out, 4096);
	rv_buf_init(&in, 1 << 22);
	assert_int_equal(rv_trunk_init(&l, 0, "n2.2000", key, strlen(key)), 0);
	/* a MSG before the handshake */
	struct rv_cmsg m = { .type = RV_CMSG_GROUP };
	strcpy(m.a, "ops");
	assert_int_equal(rv_trunk_msg_head(&in, &m, 0, 0), 0);
	assert_int_equal(rv_trunk_input(&l, rv_buf_head(&in), rv_buf_size(&in), &out, on_msg, NULL), RV_EPROTO);
	/* a big frame before the handshake: refused from its length alone */
	uint8_t big[5] = { 0, 0, 4, 0, 1 };
	assert_int_equal(rv_trunk_input(&l, big, sizeof big, &out, NULL, NULL), RV_EPROTO);
	uint8_t zero[4] = { 0 };
	assert_int_equal(rv_trunk_input(&l, zero, 4, &out, NULL, NULL), RV_EPROTO);
	/* a dialer's start on a listener */
	assert_int_equal(rv_trunk_start(&l, &out), RV_EPROTO);
	/* the encoder's caps */
	assert_int_equal(rv_trunk_msg_head(&in, &m, 0, RV_TRUNK_FRAME_MAX), RV_ETOOBIG);
	m.type = RV_CMSG_EVICT;
	assert_int_equal(rv_trunk_msg_head(&in, &m, 0, 0), RV_EPROTO);
	m.type = RV_CMSG_GROUP;
	strcpy(m.a, "bad id!");
	assert_int_equal(rv_trunk_msg_head(&in, &m, 0, 0), RV_EPROTO);
	assert_int_equal(rv_trunk_init(&l, 0, "bad inc!", key, strlen(key)), RV_EPROTO);
	assert_int_equal(rv_trunk_init(&l, 0, "n2", key, 0), RV_EPROTO);
	/* past the handshake: a frame past RV_TRUNK_FRAME_MAX is RV_ETOOBIG */
	struct rv_trunk d;
	struct rv_buf dl, ld;
	rv_buf_init(&dl, 4096);
	rv_buf_init(&ld, 4096);
	assert_true(handshake(&d, &l, key, &dl, &ld) >= 0);
	uint8_t huge[5];
	rv_wr32(huge, RV_TRUNK_FRAME_MAX + 1);
	huge[4] = 3;
	assert_int_equal(rv_trunk_input(&l, huge, sizeof huge, &out, NULL, NULL), RV_ETOOBIG);
	rv_buf_free(&dl);
	rv_buf_free(&ld);
	rv_buf_free(&out);
	rv_buf_free(&in);
}

/* PING: only once up, with no body; taken between messages, delivering nothing. */
static void ping_keepalive(void **state)
{
	(void)state;
	struct rv_trunk d, l;
	struct rv_buf dl, ld;
	rv_buf_init(&dl, 4096);
	rv_buf_init(&ld, 4096);
	assert_int_equal(rv_trunk_init(&d, 1, "n1.1000", key, strlen(key)), 0);
	assert_int_equal(rv_trunk_ping(&d, &dl), RV_EPROTO);	/* not up yet */
	assert_int_equal(rv_buf_size(&dl), 0);
	assert_true(handshake(&d, &l, key, &dl, &ld) >= 0);
	assert_int_equal(rv_trunk_ping(&d, &dl), 0);
	struct rv_cmsg m = { .type = RV_CMSG_DIRECT, .seq = 3 };
	strcpy(m.a, "bob");
	assert_int_equal(rv_trunk_msg_head(&dl, &m, 0, 0), 0);
	assert_int_equal(rv_trunk_ping(&d, &dl), 0);
	struct got g = { 0 };
	assert_true(pass(&l, &dl, &ld, &g) > 0);
	assert_int_equal(rv_buf_size(&dl), 0);
	assert_int_equal(l.pings_in, 2);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.last.seq, 3);
	/* a PING with a body is malformed */
	uint8_t bad[6] = { 0, 0, 0, 2, 4, 0 };
	assert_int_equal(rv_trunk_input(&l, bad, sizeof bad, &ld, on_msg, &g), RV_EPROTO);
	/* and one before the handshake too */
	struct rv_trunk l2;
	assert_int_equal(rv_trunk_init(&l2, 0, "n2.2000", key, strlen(key)), 0);
	uint8_t ping[5] = { 0, 0, 0, 1, 4 };
	assert_int_equal(rv_trunk_input(&l2, ping, sizeof ping, &ld, on_msg, &g), RV_EPROTO);
	rv_buf_free(&dl);
	rv_buf_free(&ld);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(up_both_ways),
		cmocka_unit_test(wrong_secret_refused),
		cmocka_unit_test(out_of_order_and_caps),
		cmocka_unit_test(ping_keepalive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
