/* test_helpers.c - the small library helpers every tool shares: typed JSON
 * field reads (json.h), network-order integers (bytes.h), growable arrays
 * (vec.h) and TURN REST credentials (token.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "json.h"
#include "token.h"
#include "vec.h"

static void json_fields(void **state)
{
	(void)state;
	cJSON *o = cJSON_Parse("{\"s\":\"x\",\"n\":7,\"neg\":-1,\"frac\":1.5,\"big\":1e300,\"str\":\"7\"}");
	assert_non_null(o);
	assert_string_equal(rv_json_str(o, "s"), "x");
	assert_null(rv_json_str(o, "n"));        /* not a string */
	assert_null(rv_json_str(o, "missing"));
	assert_null(rv_json_str(NULL, "s"));
	assert_int_equal(rv_json_u64(o, "n", 0), 7);
	assert_int_equal(rv_json_u64(o, "neg", 9), 9);
	assert_int_equal(rv_json_u64(o, "frac", 9), 9);
	assert_int_equal(rv_json_u64(o, "big", 9), 9);
	assert_int_equal(rv_json_u64(o, "str", 9), 9);   /* a string is not a number */
	assert_int_equal(rv_json_u64(o, "missing", 3), 3);
	cJSON_Delete(o);
}

static void network_order(void **state)
{
	(void)state;
	uint8_t b[9] = { 0 };
	rv_wr16(b + 1, 0x1234);      /* odd offsets: no alignment needed */
	assert_memory_equal(b + 1, "\x12\x34", 2);
	assert_int_equal(rv_rd16(b + 1), 0x1234);
	rv_wr32(b + 1, 0x89abcdefu);
	assert_memory_equal(b + 1, "\x89\xab\xcd\xef", 4);
	assert_int_equal(rv_rd32(b + 1), 0x89abcdefu);
	rv_wr64(b + 1, 0x0102030405060708ull);
	assert_memory_equal(b + 1, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_true(rv_rd64(b + 1) == 0x0102030405060708ull);
	assert_int_equal(b[0], 0);
}

static void grow(void **state)
{
	(void)state;
	int *v = NULL;
	size_t alloc = 0, reallocs = 0;
	for (size_t n = 0; n < 1000; n++) {
		size_t before = alloc;
		assert_int_equal(rv_grow((void **)&v, &alloc, n + 1, sizeof *v), 0);
		reallocs += alloc != before;
		v[n] = (int)n;
	}
	assert_true(alloc >= 1000);
	assert_true(reallocs <= 8);   /* 8, 16, ..., 1024: doubling */
	for (size_t n = 0; n < 1000; n++)
		assert_int_equal(v[n], (int)n);
	size_t a = alloc;
	assert_int_equal(rv_grow((void **)&v, &alloc, SIZE_MAX / 2, sizeof *v), -ENOMEM);
	assert_int_equal(alloc, a);  /* unchanged on failure */
	assert_int_equal(v[999], 999);
	free(v);
}

/* The password as `printf 1600000000:alice | openssl dgst -sha1 -hmac north
 * -binary | base64` computes it. */
static void turn_rest(void **state)
{
	(void)state;
	char user[64], pass[RV_TURN_REST_PASS_MAX];
	assert_int_equal(rv_turn_rest("north", 5, "alice", 1600000000, user, sizeof user, pass), 0);
	assert_string_equal(user, "1600000000:alice");
	assert_string_equal(pass, "gq98pTOhhHaAu0we9aV79kOVVv0=");
	char small[8];
	assert_int_equal(rv_turn_rest("north", 5, "alice", 1600000000, small, sizeof small, pass), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_fields),
		cmocka_unit_test(network_order),
		cmocka_unit_test(grow),
		cmocka_unit_test(turn_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
