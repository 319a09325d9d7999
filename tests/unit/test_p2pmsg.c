/* test_p2pmsg.c - peer group messages (p2pmsg.h): each type built and
 * parsed back, and the refusals a peer's bad bytes meet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "p2pmsg.h"

static uint8_t buf[RV_P2P_MSG_MAX];
static struct rv_p2p_msg m;
static const char *why;

static void round_trips(void **state)
{
	(void)state;
	uint8_t a[32], b[32], ids[64];
	memset(a, 0xa1, 32);
	memset(b, 0xb2, 32);
	memcpy(ids, a, 32);
	memcpy(ids + 32, b, 32);

	long n = rv_p2p_msg_hello(buf, sizeof buf, a, b, ids, 3);
	assert_int_equal(n, 130);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_HELLO);
	assert_memory_equal(m.key, a, 32);
	assert_memory_equal(m.proof, b, 32);
	assert_memory_equal(m.sig, ids, 64);
	assert_int_equal(m.flags, 3);

	static const uint8_t v4[4] = { 127, 0, 0, 2 }, v6[16] = { [15] = 1 };
	struct rv_p2p_peer_seen seen[2] = { { a, 5, 4, 7400, v4 }, { b, 300, 6, 9, v6 } };
	n = rv_p2p_msg_report(buf, sizeof buf, seen, 2);
	assert_int_equal(n, 2 + 2 * 37 + 4 + 16);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.n, 2);
	assert_memory_equal(m.peers[1].id, b, 32);
	assert_int_equal(m.peers[1].age_s, 300);
	assert_int_equal(m.peers[0].family, 4);
	assert_int_equal(m.peers[0].port, 7400);
	assert_memory_equal(m.peers[0].ip, v4, 4);
	assert_int_equal(m.peers[1].family, 6);
	assert_memory_equal(m.peers[1].ip, v6, 16);
	buf[2 + 32 + 2] = 5;	/* no such family */
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);
	buf[2 + 32 + 2] = 4;
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n - 1, &m, &why), RV_EPROTO);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);

	n = rv_p2p_msg_ids(buf, sizeof buf, RV_P2P_M_IWANT, ids, 2);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_IWANT);
	assert_memory_equal(m.ids[0], a, 32);
	assert_memory_equal(m.ids[1], b, 32);

	n = rv_p2p_msg_route(buf, sizeof buf, RV_P2P_TO_NEAREST, 16, 2, a, (const uint8_t *)"env", 3);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.mode, RV_P2P_TO_NEAREST);
	assert_int_equal(m.ttl, 16);
	assert_int_equal(m.hops, 2);
	assert_memory_equal(m.dst, a, 32);
	assert_int_equal(m.env_len, 3);
	assert_memory_equal(m.env, "env", 3);

	n = rv_p2p_msg_post(buf, sizeof buf, (const uint8_t *)"e", 1);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.env_len, 1);

	n = rv_p2p_msg_ping(buf, sizeof buf, RV_P2P_M_PONG, 0x0102030405060708ull);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_PONG);
	assert_true(m.stamp == 0x0102030405060708ull);

	n = rv_p2p_msg_signal(buf, sizeof buf, RV_P2P_M_PRUNE);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_PRUNE);
	assert_int_equal(rv_p2p_msg_signal(buf, sizeof buf, RV_P2P_M_PING), RV_EPROTO);
}

static void refusals(void **state)
{
	(void)state;
	uint8_t a[32] = { 0 };
	static uint8_t ids[33 * 32];
	assert_int_equal(rv_p2p_msg_parse(buf, 0, &m, &why), RV_EPROTO);
	buf[0] = 0x7f;
	assert_int_equal(rv_p2p_msg_parse(buf, 1, &m, &why), RV_EPROTO);
	assert_string_equal(why, "unknown message type");
	long n = rv_p2p_msg_ids(buf, sizeof buf, RV_P2P_M_IHAVE, ids, 2);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n - 1, &m, &why), RV_EPROTO);
	assert_string_equal(why, "message length mismatch");
	buf[1] = RV_P2P_LIST_MAX + 1;                 /* a count past the cap */
	assert_int_equal(rv_p2p_msg_parse(buf, 2 + 33 * 32, &m, &why), RV_EPROTO);
	assert_string_equal(why, "list too long");
	n = rv_p2p_msg_route(buf, sizeof buf, RV_P2P_TO_PEER, 8, 0, a, (const uint8_t *)"x", 1);
	buf[2] = RV_P2P_TTL_MAX + 1;
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);
	assert_string_equal(why, "route TTL past the maximum");
	buf[2] = 8;
	buf[1] = 3;
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);
	assert_string_equal(why, "unknown route mode");
	assert_int_equal(rv_p2p_msg_parse(buf, RV_P2P_MSG_MAX + 1, &m, &why), RV_ETOOBIG);
	/* builders keep to the caps */
	assert_int_equal(rv_p2p_msg_ids(buf, sizeof buf, RV_P2P_M_IHAVE, ids, 33), RV_ETOOBIG);
	assert_int_equal(rv_p2p_msg_ids(buf, sizeof buf, RV_P2P_M_POST, ids, 1), RV_EPROTO);
	assert_int_equal(rv_p2p_msg_hello(buf, 10, a, a, ids, 0), RV_ETOOBIG);
	assert_int_equal(rv_p2p_msg_route(buf, sizeof buf, RV_P2P_TO_PEER, 65, 0, a, a, 1), RV_EPROTO);
	assert_int_equal(rv_p2p_msg_post(buf, sizeof buf, a, 0), RV_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trips),
		cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
