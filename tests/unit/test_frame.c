/* test_frame.c - the RV frame codec, capped buffers, tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "token.h"

static void roundtrip(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 20);
	const char *h = "{\"type\":\"msg\",\"group\":\"ops\"}";
	assert_int_equal(rv_frame_append(&b, h, strlen(h), "hello", 5), 0);
	assert_int_equal(rv_buf_size(&b), 8 + strlen(h) + 5);
	struct rv_frame_view v;
	long n = rv_frame_decode(rv_buf_head(&b), rv_buf_size(&b), 1024, &v);
	assert_int_equal(n, (long)rv_buf_size(&b));
	assert_int_equal(v.hdr_len, strlen(h));
	assert_memory_equal(v.body, "hello", 5);
	const char *type;
	int err;
	cJSON *j = rv_frame_header(&v, &type, &err);
	assert_non_null(j);
	assert_string_equal(type, "msg");
	cJSON_Delete(j);
	rv_buf_free(&b);
}

/* Every prefix of a frame is "need more"; the whole frame decodes. */
static void partial(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 20);
	const char *h = "{\"type\":\"ping\"}";
	rv_frame_append(&b, h, strlen(h), "xyz", 3);
	struct rv_frame_view v;
	for (size_t i = 0; i < rv_buf_size(&b); i++)
		assert_int_equal(rv_frame_decode(rv_buf_head(&b), i, 1024, &v), 0);
	assert_true(rv_frame_decode(rv_buf_head(&b), rv_buf_size(&b), 1024, &v) > 0);
	rv_buf_free(&b);
}

static void caps(void **state)
{
	(void)state;
	uint8_t p[8] = { 0, 0, 0x40, 0x01, 0, 0, 0, 0 };	/* header 16385 bytes */
	struct rv_frame_view v;
	assert_int_equal(rv_frame_decode(p, sizeof p, 1024, &v), RV_ETOOBIG);
	uint8_t q[8] = { 0, 0, 0, 2, 0, 0, 4, 1 };		/* body 1025 > 1024 */
	assert_int_equal(rv_frame_decode(q, sizeof q, 1024, &v), RV_ETOOBIG);
	uint8_t z[8] = { 0 };					/* empty header */
	assert_int_equal(rv_frame_decode(z, sizeof z, 1024, &v), RV_EPROTO);
}

static void bad_headers(void **state)
{
	(void)state;
	const char *bad[] = { "[1,2]", "{\"type\":1}", "{\"type\":\"\"}", "{not json", "{}" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct rv_frame_view v = { bad[i], strlen(bad[i]), NULL, 0 };
		const char *type;
		int err = 0;
		assert_null(rv_frame_header(&v, &type, &err));
		assert_int_equal(err, RV_EJSON);
	}
}

static void buf_cap(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, 10);
	assert_int_equal(rv_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(rv_buf_append(&b, "x", 1), RV_ETOOBIG);
	rv_buf_consume(&b, 4);
	assert_int_equal(rv_buf_append(&b, "abcd", 4), 0);	/* compacts */
	assert_int_equal(rv_buf_size(&b), 10);
	assert_memory_equal(rv_buf_head(&b), "456789abcd", 10);
	assert_int_equal(rv_buf_printf(&b, "%s", "y"), RV_ETOOBIG);
	rv_buf_free(&b);
}

static void tokens(void **state)
{
	(void)state;
	char tok[RV_TOKEN_MAX];
	const char *why;
	assert_int_equal(rv_token_make("s3cret", 6, "alice", 2000, tok, sizeof tok), 0);
	assert_int_equal(rv_token_check("s3cret", 6, "alice", tok, 1999, &why), 0);
	assert_int_equal(rv_token_check("s3cret", 6, "alice", tok, 2001, &why), RV_EDENIED);
	assert_string_equal(why, "token expired");
	assert_int_equal(rv_token_check("s3cret", 6, "bob", tok, 1999, &why), RV_EDENIED);
	assert_int_equal(rv_token_check("other", 5, "alice", tok, 1999, &why), RV_EDENIED);
	assert_string_equal(why, "bad token signature");
	assert_int_equal(rv_token_check("s3cret", 6, "alice", "v1.x.y", 1, &why), RV_EDENIED);
	assert_int_equal(rv_token_check("s3cret", 6, "alice", NULL, 1, &why), RV_EDENIED);
	tok[strlen(tok) - 1] ^= 1;
	assert_int_equal(rv_token_check("s3cret", 6, "alice", tok, 1999, &why), RV_EDENIED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(partial),
		cmocka_unit_test(caps),
		cmocka_unit_test(bad_headers),
		cmocka_unit_test(buf_cap),
		cmocka_unit_test(tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
