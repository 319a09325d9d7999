/* test_bmap.c - the byte-keyed map: get/put/del, replacement, keys copied,
 * growth through tombstones, the entry cap, iteration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bmap.h"
#include "err.h"

static void key_of(uint8_t k[6], uint32_t n)
{
	memset(k, 0, 6);
	k[0] = 4;
	k[1] = (uint8_t)(n >> 24);
	k[2] = (uint8_t)(n >> 16);
	k[3] = (uint8_t)(n >> 8);
	k[4] = (uint8_t)n;
}

static void put_get_del(void **state)
{
	(void)state;
	struct rv_bmap m;
	int a, b;
	uint8_t k1[6], k2[6];
	rv_bmap_init(&m, 6, 0);
	key_of(k1, 1);
	key_of(k2, 2);
	assert_null(rv_bmap_get(&m, k1));
	assert_null(rv_bmap_del(&m, k1));
	assert_int_equal(rv_bmap_put(&m, k1, &a), 0);
	k1[5] = 0;	/* the map keeps its own copy */
	assert_ptr_equal(rv_bmap_get(&m, k1), &a);
	assert_null(rv_bmap_get(&m, k2));
	assert_int_equal(rv_bmap_put(&m, k1, &b), 0);	/* replace */
	assert_ptr_equal(rv_bmap_get(&m, k1), &b);
	assert_int_equal(m.count, 1);
	assert_ptr_equal(rv_bmap_del(&m, k1), &b);
	assert_null(rv_bmap_get(&m, k1));
	assert_int_equal(m.count, 0);
	rv_bmap_free(&m);
	assert_int_equal(m.klen, 6);
}

/* Many keys in and out: tombstones never lose a live key; the table is
 * rebuilt and every key still found. */
static void churn(void **state)
{
	(void)state;
	struct rv_bmap m;
	static int vals[2000];
	uint8_t k[6];
	rv_bmap_init(&m, 6, 0);
	for (uint32_t round = 0; round < 4; round++) {
		for (uint32_t i = 0; i < 2000; i++) {
			key_of(k, i + round * 1000);
			assert_int_equal(rv_bmap_put(&m, k, &vals[i]), 0);
		}
		for (uint32_t i = 0; i < 2000; i += 2) {
			key_of(k, i + round * 1000);
			assert_ptr_equal(rv_bmap_del(&m, k), &vals[i]);
		}
		for (uint32_t i = 0; i < 2000; i++) {
			key_of(k, i + round * 1000);
			void *v = rv_bmap_get(&m, k);
			if (i % 2)
				assert_ptr_equal(v, &vals[i]);
			else
				assert_null(v);
		}
		for (uint32_t i = 1; i < 2000; i += 2) {
			key_of(k, i + round * 1000);
			assert_ptr_equal(rv_bmap_del(&m, k), &vals[i]);
		}
		assert_int_equal(m.count, 0);
	}
	assert_true(m.cap <= 4096);	/* tombstones were reclaimed, not piled up */
	rv_bmap_free(&m);
}

static void cap_and_walk(void **state)
{
	(void)state;
	struct rv_bmap m;
	int v[4];
	uint32_t ssrc;
	rv_bmap_init(&m, sizeof ssrc, 3);
	for (ssrc = 0; ssrc < 3; ssrc++)
		assert_int_equal(rv_bmap_put(&m, &ssrc, &v[ssrc]), 0);
	assert_int_equal(rv_bmap_put(&m, &ssrc, &v[3]), RV_ELIMIT);
	assert_null(rv_bmap_get(&m, &ssrc));
	ssrc = 1;
	assert_int_equal(rv_bmap_put(&m, &ssrc, &v[3]), 0);	/* replacing is not adding */
	size_t i = 0, n = 0;
	const uint8_t *key;
	void *val;
	while ((val = rv_bmap_next(&m, &i, &key))) {
		uint32_t k;
		memcpy(&k, key, sizeof k);
		assert_ptr_equal(val, k == 1 ? &v[3] : &v[k]);
		n++;
	}
	assert_int_equal(n, 3);
	rv_bmap_free(&m);
	/* key lengths are clamped */
	rv_bmap_init(&m, 0, 0);
	assert_int_equal(m.klen, 1);
	rv_bmap_init(&m, 1000, 0);
	assert_int_equal(m.klen, RV_BMAP_KEY_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_get_del),
		cmocka_unit_test(churn),
		cmocka_unit_test(cap_and_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
