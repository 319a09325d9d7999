/* test_p2pcast_map.c - a live stream's maps (p2pcast.h): a neighbour that
 * holds nothing yet, at the stream's start, sends empty maps, and their
 * flags count all the same: it asks for the announce and for our map, and
 * gets both. (An empty map used to be dropped whole, flags and all, so such
 * a neighbour waited for the next periodic map to learn the stream.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "p2pcast.h"

static uint8_t buf[RV_P2P_MSG_MAX];
static uint8_t stream[32], nb[32];
static uint64_t now = 1000;

static void input(struct rv_p2p_cast *c, long n)
{
	struct rv_p2p_msg m;
	const char *why;
	assert_true(n > 0);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_cast_input(c, now, nb, &m, &why), 0);
}

/* What C sends: the announces (CAST_INFO) and maps among it. */
static void sent(struct rv_p2p_cast *c, int *infos, int *maps)
{
	uint8_t peer[32];
	ssize_t n;
	struct rv_p2p_cast_ev e;
	*infos = *maps = 0;
	while ((n = rv_p2p_cast_take(c, peer, buf, sizeof buf)) > 0) {
		struct rv_p2p_msg m;
		const char *why;
		assert_memory_equal(peer, nb, 32);
		assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
		*infos += m.type == RV_P2P_M_CAST_INFO;
		*maps += m.type == RV_P2P_M_CAST_MAP;
	}
	while (rv_p2p_cast_poll(c, &e))
		;
}

static void empty_map_flags_count(void **state)
{
	(void)state;
	struct rv_p2p_cast *c;
	struct rv_p2p_cast_conf conf = { .publisher = 1 };
	rv_p2p_cast_id("live", stream);
	memset(nb, 0x40, sizeof nb);
	assert_int_equal(rv_p2p_cast_new(&c, stream, &conf), 0);
	assert_int_equal(rv_p2p_cast_set_info(c, (const uint8_t *)"v=0\r\n", 5), 0);
	rv_p2p_cast_peer_up(c, now, nb);
	int infos, maps;
	sent(c, &infos, &maps);
	input(c, rv_p2p_msg_cast_map(buf, sizeof buf, stream, RV_P2P_CAST_MAP_INFO | RV_P2P_CAST_MAP_ASK,
				     NULL, 0, NULL, 0, NULL));
	sent(c, &infos, &maps);
	assert_int_equal(infos, 1);
	assert_int_equal(maps, 1);
	rv_p2p_cast_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_map_flags_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
