/* test_p2psess.c - peer sessions (p2psess.h) in memory: DTLS, then the
 * HELLOs that prove each side's key and group, then messages of any size
 * in fragments; a lost fragment loses only its message; a peer of another
 * group is refused; keepalives measure the RTT; silence and a handshake
 * that never ends fail the session with a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "err.h"
#include "p2psess.h"

struct side {
	EVP_PKEY *pk;
	struct rv_dtls_ctx *ctx;
	struct rv_p2p_key key;
	struct rv_p2p_sess s;
};

static struct side a, b;
static uint64_t now;
static int drop_next;              /* datagrams from A to lose */
static int drop_hello;             /* lose A's first datagram once its DTLS is up: its HELLO */

static void side_init(struct side *x, int seed, const uint8_t group[32], int role)
{
	char err[256];
	uint8_t sd[32] = { (uint8_t)seed };
	assert_int_equal(rv_dtls_key_p256(&x->pk), 0);
	assert_int_equal(rv_dtls_ctx_new(&x->ctx, x->pk, 0, err, sizeof err), 0);
	assert_int_equal(rv_p2p_key_from_seed(&x->key, sd), 0);
	assert_int_equal(rv_p2p_sess_new(&x->s, x->ctx, &x->key, group, role, now, NULL), 0);
}

static void side_free(struct side *x)
{
	rv_p2p_sess_free(&x->s);
	rv_dtls_ctx_free(x->ctx);
	EVP_PKEY_free(x->pk);
	rv_p2p_key_free(&x->key);
}

/* Move datagrams both ways until none is left. */
static void shuttle(void)
{
	uint8_t d[RV_DTLS_MTU];
	for (int moved = 1; moved;) {
		ssize_t n;
		moved = 0;
		while ((n = rv_p2p_sess_take(&a.s, d, sizeof d)) > 0) {
			moved = 1;
			if (drop_next > 0) {
				drop_next--;
				continue;
			}
			if (drop_hello && a.s.state != RV_P2P_SESS_HANDSHAKE) {
				drop_hello = 0;
				continue;
			}
			rv_p2p_sess_feed(&b.s, now, d, (size_t)n);
		}
		while ((n = rv_p2p_sess_take(&b.s, d, sizeof d)) > 0) {
			moved = 1;
			rv_p2p_sess_feed(&a.s, now, d, (size_t)n);
		}
	}
}

static void connect_pair(const uint8_t *ga, const uint8_t *gb)
{
	now = 1000;
	drop_next = 0;
	side_init(&a, 1, ga, 0);
	side_init(&b, 2, gb, 1);
	assert_int_equal(rv_p2p_sess_start(&a.s), 0);
	shuttle();
}

static const uint8_t group[32] = { 0x47 };

static void up_and_messages(void **state)
{
	(void)state;
	static uint8_t big[5000], got[RV_P2P_MSG_MAX];
	connect_pair(group, group);
	assert_int_equal(a.s.state, RV_P2P_SESS_UP);
	assert_int_equal(b.s.state, RV_P2P_SESS_UP);
	assert_memory_equal(a.s.peer_id, b.key.id, 32);     /* each knows who the other is */
	assert_memory_equal(b.s.peer_id, a.key.id, 32);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(rv_p2p_sess_send(&a.s, now, (const uint8_t *)"\x04hi", 3), 0);
	assert_int_equal(rv_p2p_sess_send(&a.s, now, big, sizeof big), 0);   /* 5 fragments */
	assert_int_equal(rv_p2p_sess_send(&b.s, now, big, 1200), 0);
	shuttle();
	assert_int_equal(rv_p2p_sess_poll(&b.s, got, sizeof got), 3);
	assert_memory_equal(got, "\x04hi", 3);
	assert_int_equal(rv_p2p_sess_poll(&b.s, got, sizeof got), sizeof big);
	assert_memory_equal(got, big, sizeof big);
	assert_int_equal(rv_p2p_sess_poll(&b.s, got, sizeof got), 0);
	assert_int_equal(rv_p2p_sess_poll(&a.s, got, sizeof got), 1200);
	assert_int_equal(rv_p2p_sess_poll(&a.s, got, 10), 0);
	/* a lost fragment loses its message only */
	assert_int_equal(rv_p2p_sess_send(&a.s, now, big, sizeof big), 0);
	drop_next = 1;
	shuttle();
	assert_int_equal(rv_p2p_sess_send(&a.s, now, (const uint8_t *)"\x04ok", 3), 0);
	shuttle();
	assert_int_equal(rv_p2p_sess_poll(&b.s, got, sizeof got), 3);
	assert_memory_equal(got, "\x04ok", 3);
	assert_int_equal(rv_p2p_sess_send(&a.s, now, big, RV_P2P_MSG_MAX + 1), RV_ETOOBIG);
	/* a datagram that is not DTLS is refused and changes nothing */
	assert_int_equal(rv_p2p_sess_feed(&b.s, now, (const uint8_t *)"\x00\x01", 2), RV_EPROTO);
	assert_int_equal(b.s.state, RV_P2P_SESS_UP);
	/* a goodbye: what came before it is read, then the session is closed */
	assert_int_equal(rv_p2p_sess_send(&a.s, now, (const uint8_t *)"\x04by", 3), 0);
	rv_p2p_sess_close(&a.s, "leaving");
	shuttle();
	assert_int_equal(b.s.state, RV_P2P_SESS_CLOSED);
	assert_string_equal(b.s.why, "the peer closed");
	assert_int_equal(rv_p2p_sess_poll(&b.s, got, sizeof got), 3);
	assert_memory_equal(got, "\x04by", 3);
	side_free(&a);
	side_free(&b);
}

/* A's HELLO is lost: B holds what A sends meanwhile, asks again, and A
 * (already up) answers with its HELLO; then B polls what it held. */
static void lost_hello(void **state)
{
	(void)state;
	uint8_t got[64];
	now = 1000;
	drop_next = 0;
	drop_hello = 1;
	side_init(&a, 1, group, 0);
	side_init(&b, 2, group, 1);
	assert_int_equal(rv_p2p_sess_start(&a.s), 0);
	shuttle();
	assert_int_equal(a.s.state, RV_P2P_SESS_UP);
	assert_int_equal(b.s.state, RV_P2P_SESS_PROVING);
	assert_int_equal(rv_p2p_sess_send(&a.s, now, (const uint8_t *)"\x04" "early", 6), 0);
	shuttle();
	assert_int_equal(b.s.state, RV_P2P_SESS_PROVING);
	assert_int_equal(rv_p2p_sess_poll(&b.s, got, sizeof got), 0);	/* held: not proven yet */
	assert_true(rv_p2p_sess_next(&b.s) <= now + RV_P2P_HELLO_RESEND_MS);
	now += RV_P2P_HELLO_RESEND_MS;
	rv_p2p_sess_tick(&b.s, now);
	shuttle();
	assert_int_equal(b.s.state, RV_P2P_SESS_UP);
	assert_memory_equal(b.s.peer_id, a.key.id, 32);
	assert_int_equal(rv_p2p_sess_poll(&b.s, got, sizeof got), 6);
	assert_memory_equal(got, "\x04" "early", 6);
	/* both up: a HELLO without the NEED flag is not answered (no ping-pong) */
	uint8_t d[RV_DTLS_MTU];
	assert_int_equal(rv_p2p_sess_take(&a.s, d, sizeof d), 0);
	side_free(&a);
	side_free(&b);
}

static void another_group(void **state)
{
	(void)state;
	static const uint8_t other[32] = { 0x48 };
	connect_pair(group, other);
	assert_int_equal(a.s.state, RV_P2P_SESS_FAILED);
	assert_int_equal(b.s.state, RV_P2P_SESS_FAILED);
	assert_string_equal(b.s.why, "wrong group proof");
	uint8_t m[1] = { 4 };
	assert_int_equal(rv_p2p_sess_send(&a.s, now, m, 1), -ENOTCONN);
	side_free(&a);
	side_free(&b);
}

static void keepalive_and_silence(void **state)
{
	(void)state;
	connect_pair(group, group);
	assert_int_equal(a.s.rtt_ms, 0);              /* a PING as soon as up: the RTT at once */
	now += 15000;                                 /* keepalive due */
	assert_true(rv_p2p_sess_next(&a.s) <= now);
	rv_p2p_sess_tick(&a.s, now);
	now += 3;
	shuttle();                                    /* PING there, PONG back */
	assert_int_equal(a.s.rtt_ms, 3);
	uint8_t got[64];
	assert_int_equal(rv_p2p_sess_poll(&b.s, got, sizeof got), 0);   /* not the caller's */
	now += 45000;                                 /* then nothing at all */
	rv_p2p_sess_tick(&a.s, now);
	assert_int_equal(a.s.state, RV_P2P_SESS_FAILED);
	assert_string_equal(a.s.why, "peer silent");
	assert_true(rv_p2p_sess_next(&a.s) == UINT64_MAX);
	side_free(&a);
	side_free(&b);
}

static void handshake_deadline(void **state)
{
	(void)state;
	now = 1000;
	side_init(&a, 1, group, 0);
	assert_int_equal(rv_p2p_sess_start(&a.s), 0);   /* nobody answers */
	rv_p2p_sess_tick(&a.s, now + 9999);
	assert_int_equal(a.s.state, RV_P2P_SESS_HANDSHAKE);
	rv_p2p_sess_tick(&a.s, now + 10000);
	assert_int_equal(a.s.state, RV_P2P_SESS_FAILED);
	assert_string_equal(a.s.why, "handshake timed out");
	side_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(up_and_messages),
		cmocka_unit_test(lost_hello),
		cmocka_unit_test(another_group),
		cmocka_unit_test(keepalive_and_silence),
		cmocka_unit_test(handshake_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
