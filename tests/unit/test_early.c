/* test_early.c - rvrecv's packets ahead of their stream's announcement:
 * handed back by SSRC in arrival order, once; the oldest go first past
 * EARLY_MAX; none older than EARLY_MS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../cmd/rvrecv/early.c"

struct got {
	int seq[EARLY_MAX * 2];
	int n;
};

static void take(void *ud, const uint8_t *p, size_t n)
{
	struct got *g = ud;
	assert_int_equal(n, 12);
	g->seq[g->n++] = p[2] << 8 | p[3];
}

static void hold(struct early *e, uint32_t ssrc, int seq, double now)
{
	uint8_t p[12] = { 0x80, 96, (uint8_t)(seq >> 8), (uint8_t)seq };
	early_hold(e, p, sizeof p, ssrc, now);
}

static void by_ssrc_in_order_once(void **state)
{
	(void)state;
	struct early *e;
	struct got g = { 0 };
	assert_int_equal(early_init(&e), 0);
	hold(e, 7, 1, 0);
	hold(e, 9, 100, 1);
	hold(e, 7, 2, 2);
	hold(e, 7, 3, 3);
	early_take(e, 7, 10, take, &g);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.seq[0], 1);
	assert_int_equal(g.seq[1], 2);
	assert_int_equal(g.seq[2], 3);
	early_take(e, 7, 10, take, &g);	/* forgotten once taken */
	assert_int_equal(g.n, 3);
	early_take(e, 9, 10, take, &g);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.seq[3], 100);
	early_free(e);
}

static void oldest_go_first(void **state)
{
	(void)state;
	struct early *e;
	struct got g = { 0 };
	assert_int_equal(early_init(&e), 0);
	for (int i = 0; i < EARLY_MAX + 10; i++)
		hold(e, 7, i, i * 0.001);
	early_take(e, 7, 1, take, &g);
	assert_int_equal(g.n, EARLY_MAX);
	assert_int_equal(g.seq[0], 10);
	assert_int_equal(g.seq[EARLY_MAX - 1], EARLY_MAX + 9);
	early_free(e);
}

static void stale_ones_dropped(void **state)
{
	(void)state;
	struct early *e;
	struct got g = { 0 };
	assert_int_equal(early_init(&e), 0);
	hold(e, 7, 1, 0);
	hold(e, 7, 2, 500);
	early_take(e, 7, EARLY_MS + 100, take, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.seq[0], 2);
	early_take(NULL, 7, 0, take, &g);	/* no holding area: nothing, no crash */
	early_hold(NULL, (const uint8_t *)"x", 1, 7, 0);
	early_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(by_ssrc_in_order_once),
		cmocka_unit_test(oldest_go_first),
		cmocka_unit_test(stale_ones_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
