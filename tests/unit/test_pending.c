/* test_pending.c - rvrecv's frames waiting for their sender reports: kept
 * in order with their fields, and refused for good (everything held
 * dropped) past the byte or time cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../cmd/rvrecv/pending.c"

static void kept_in_order(void **state)
{
	(void)state;
	struct pending q = { 0 };
	assert_int_equal(pending_add(&q, 0, 1, 1000, (const uint8_t *)"key", 3, 0), 0);
	assert_int_equal(pending_add(&q, 1, 0, 48000, (const uint8_t *)"opus", 4, 10), 0);
	assert_int_equal(pending_add(&q, 0, 0, 4000, (const uint8_t *)"delta", 5, 20), 0);
	assert_int_equal(q.bytes, 12);
	struct pending_item *it = pending_pop(&q);
	assert_non_null(it);
	assert_int_equal(it->audio, 0);
	assert_int_equal(it->key, 1);
	assert_int_equal(it->ts, 1000);
	assert_memory_equal(it->data, "key", 3);
	free(it);
	it = pending_pop(&q);
	assert_int_equal(it->audio, 1);
	assert_memory_equal(it->data, "opus", 4);
	free(it);
	it = pending_pop(&q);
	assert_int_equal(it->len, 5);
	free(it);
	assert_null(pending_pop(&q));
	assert_int_equal(q.bytes, 0);
	assert_int_equal(pending_add(&q, 0, 1, 1, (const uint8_t *)"k", 1, 30), 0);	/* empty again: usable */
	pending_clear(&q);
	assert_null(q.head);
}

static void refused_past_time(void **state)
{
	(void)state;
	struct pending q = { 0 };
	assert_int_equal(pending_add(&q, 0, 1, 0, (const uint8_t *)"a", 1, 0), 0);
	assert_int_equal(pending_add(&q, 0, 0, 0, (const uint8_t *)"b", 1, PENDING_MAX_MS), 0);
	assert_int_equal(pending_add(&q, 0, 0, 0, (const uint8_t *)"c", 1, PENDING_MAX_MS + 1), -1);
	assert_null(q.head);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(pending_add(&q, 0, 1, 0, (const uint8_t *)"d", 1, PENDING_MAX_MS + 2), -1);	/* for good */
}

static void refused_past_bytes(void **state)
{
	(void)state;
	struct pending q = { 0 };
	static uint8_t big[PENDING_MAX_BYTES / 2];
	assert_int_equal(pending_add(&q, 0, 1, 0, big, sizeof big, 0), 0);
	assert_int_equal(pending_add(&q, 0, 0, 0, big, sizeof big, 1), 0);
	assert_int_equal(pending_add(&q, 0, 0, 0, big, 1, 2), -1);
	assert_null(q.head);
	assert_int_equal(q.refused, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kept_in_order),
		cmocka_unit_test(refused_past_time),
		cmocka_unit_test(refused_past_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
