/* test_cmsg.c - cluster messages: round trip, authentication, every cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmsg.h"
#include "err.h"

static const char key[] = "cluster secret";

static struct rv_cmsg sample(void)
{
	static const uint8_t body[] = "frame bytes";
	struct rv_cmsg m = { .type = RV_CMSG_DIRECT, .seq = 42, .conn = (7ull << 32) | 3, .count = 0,
			     .payload = body, .payload_len = sizeof body };
	strcpy(m.origin, "n1.1733400000000");
	strcpy(m.a, "bob");
	strcpy(m.b, "alice");
	strcpy(m.c, "n1.1733400000000/17");
	return m;
}

static void encode(struct rv_buf *b, const struct rv_cmsg *m)
{
	rv_buf_init(b, RV_CMSG_MAX);
	assert_int_equal(rv_cmsg_encode(b, m, key, strlen(key)), 0);
}

/* The sample, encoded into B: its bytes (writable) and their count. */
static uint8_t *sample_bytes(struct rv_buf *b, size_t *n)
{
	struct rv_cmsg m = sample();
	encode(b, &m);
	*n = rv_buf_size(b);
	return (uint8_t *)rv_buf_head(b);
}

static int dec(const uint8_t *p, size_t n, struct rv_cmsg *d)
{
	return rv_cmsg_decode(p, n, key, strlen(key), d);
}

static void round_trip(void **state)
{
	(void)state;
	struct rv_cmsg m = sample(), d;
	struct rv_buf b;
	encode(&b, &m);
	assert_int_equal(rv_cmsg_decode(rv_buf_head(&b), rv_buf_size(&b), key, strlen(key), &d), 0);
	assert_int_equal(d.type, RV_CMSG_DIRECT);
	assert_true(d.seq == 42 && d.conn == ((7ull << 32) | 3));
	assert_string_equal(d.origin, m.origin);
	assert_string_equal(d.a, "bob");
	assert_string_equal(d.b, "alice");
	assert_string_equal(d.c, m.c);
	assert_int_equal(d.payload_len, m.payload_len);
	assert_memory_equal(d.payload, m.payload, m.payload_len);
	rv_buf_free(&b);
}

static void empty_fields(void **state)
{
	(void)state;
	struct rv_cmsg m = { .type = RV_CMSG_ACK, .code = 6, .count = 3 }, d;
	strcpy(m.origin, "n2");
	struct rv_buf b;
	encode(&b, &m);
	assert_int_equal(rv_cmsg_decode(rv_buf_head(&b), rv_buf_size(&b), key, strlen(key), &d), 0);
	assert_int_equal(d.code, 6);
	assert_int_equal(d.count, 3);
	assert_string_equal(d.a, "");
	assert_null(d.payload);
	rv_buf_free(&b);
}

static void wrong_key_or_tampered(void **state)
{
	(void)state;
	struct rv_cmsg d;
	struct rv_buf b;
	size_t n;
	uint8_t *p = sample_bytes(&b, &n);
	assert_int_equal(rv_cmsg_decode(p, n, "other", 5, &d), RV_EDENIED);
	p[n - 40] ^= 1;	/* a payload byte */
	assert_int_equal(dec(p, n, &d), RV_EDENIED);
	p[n - 40] ^= 1;
	p[n - 1] ^= 1;	/* the MAC */
	assert_int_equal(dec(p, n, &d), RV_EDENIED);
	rv_buf_free(&b);
}

static void malformed(void **state)
{
	(void)state;
	struct rv_cmsg d;
	struct rv_buf b;
	size_t n;
	uint8_t *p = sample_bytes(&b, &n);
	for (size_t cut = 0; cut < n; cut++)	/* every truncation */
		assert_int_not_equal(dec(p, cut, &d), 0);
	p[0] = 'X';
	assert_int_equal(dec(p, n, &d), RV_EPROTO);
	p[0] = 'R';
	p[4] = 0;	/* type */
	assert_int_equal(dec(p, n, &d), RV_EPROTO);
	p[4] = RV_CMSG_TYPE_MAX + 1;
	assert_int_equal(dec(p, n, &d), RV_EPROTO);
	p[4] = RV_CMSG_DIRECT;
	p[6] = 1;	/* reserved */
	assert_int_equal(dec(p, n, &d), RV_EPROTO);
	p[6] = 0;
	assert_int_equal(dec(p, n, &d), 0);
	assert_int_equal(dec(p, RV_CMSG_MAX + 1, &d), RV_ETOOBIG);
	rv_buf_free(&b);
}

static void encoder_refuses(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, RV_CMSG_MAX);
	struct rv_cmsg m = sample();
	strcpy(m.a, "no spaces");
	assert_int_equal(rv_cmsg_encode(&b, &m, key, 1), RV_EPROTO);
	m = sample();
	m.origin[0] = 0;
	assert_int_equal(rv_cmsg_encode(&b, &m, key, 1), RV_EPROTO);
	m = sample();
	m.c[0] = '\n';
	assert_int_equal(rv_cmsg_encode(&b, &m, key, 1), RV_EPROTO);
	m = sample();
	m.type = 0;
	assert_int_equal(rv_cmsg_encode(&b, &m, key, 1), RV_EPROTO);
	m = sample();
	m.payload_len = RV_CMSG_PAYLOAD_MAX + 1;
	assert_int_equal(rv_cmsg_encode(&b, &m, key, 1), RV_ETOOBIG);
	assert_int_equal(rv_buf_size(&b), 0);
	rv_buf_free(&b);
	assert_true(rv_cmsg_node_valid("n1.1733400000000"));
	assert_false(rv_cmsg_node_valid("n1/x"));
	assert_false(rv_cmsg_node_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(empty_fields),
		cmocka_unit_test(wrong_key_or_tampered),
		cmocka_unit_test(malformed),
		cmocka_unit_test(encoder_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
