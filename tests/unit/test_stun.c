/* test_stun.c - the STUN/TURN codec: RFC 5769 sample, round trips, bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "err.h"
#include "stun.h"

/* RFC 5769 2.2: sample IPv4 response (short-term credential). */
static const uint8_t rfc5769_v4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

static void rfc5769_response(void **state)
{
	(void)state;
	struct rv_stun_msg m;
	assert_int_equal(rv_stun_parse(rfc5769_v4, sizeof rfc5769_v4, &m), 0);
	assert_int_equal(m.method, RV_STUN_BINDING);
	assert_int_equal(m.cls, RV_STUN_SUCCESS);
	assert_int_equal(m.len, sizeof rfc5769_v4);
	const struct rv_stun_attr *a = rv_stun_get(&m, RV_STUN_A_XOR_MAPPED_ADDRESS);
	assert_non_null(a);
	struct sockaddr_storage ss;
	assert_int_equal(rv_stun_addr(&m, a, &ss), 0);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 32853);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0xC0000201);	/* 192.0.2.1 */
	const char *pw = "VOkJxbRl1RmTxUk/WvJxBt";
	assert_int_equal(rv_stun_check_integrity(&m, (const uint8_t *)pw, strlen(pw)), 1);
	assert_int_equal(rv_stun_check_integrity(&m, (const uint8_t *)"wrong", 5), 0);
	assert_int_equal(rv_stun_check_fingerprint(&m), 1);
}

static void build_and_parse(void **state)
{
	(void)state;
	struct rv_stun_builder b;
	uint8_t key[16];
	rv_stun_long_term_key("alice", "example.org", "secret", key);
	rv_stun_begin(&b, RV_STUN_ALLOCATE, RV_STUN_REQUEST, NULL);
	rv_stun_add_u32(&b, RV_STUN_A_REQUESTED_TRANSPORT, 17u << 24);
	rv_stun_add_str(&b, RV_STUN_A_USERNAME, "alice");
	rv_stun_add_str(&b, RV_STUN_A_REALM, "example.org");
	rv_stun_add_str(&b, RV_STUN_A_NONCE, "abc");
	struct sockaddr_in6 peer = { .sin6_family = AF_INET6, .sin6_port = htons(9000) };
	inet_pton(AF_INET6, "2001:db8::7", &peer.sin6_addr);
	rv_stun_add_xor_addr(&b, RV_STUN_A_XOR_PEER_ADDRESS, (struct sockaddr *)&peer);
	rv_stun_add_integrity(&b, key, sizeof key);
	rv_stun_add_fingerprint(&b);
	const uint8_t *msg;
	size_t len;
	assert_true(rv_stun_end(&b, &msg, &len) > 0);

	struct rv_stun_msg m;
	assert_int_equal(rv_stun_parse(msg, len, &m), 0);
	assert_int_equal(m.method, RV_STUN_ALLOCATE);
	assert_int_equal(m.cls, RV_STUN_REQUEST);
	assert_memory_equal(m.tid, rv_stun_tid(&b), 12);
	assert_int_equal(rv_stun_check_integrity(&m, key, sizeof key), 1);
	assert_int_equal(rv_stun_check_fingerprint(&m), 1);
	struct sockaddr_storage ss;
	assert_int_equal(rv_stun_addr(&m, rv_stun_get(&m, RV_STUN_A_XOR_PEER_ADDRESS), &ss), 0);
	assert_memory_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr, &peer.sin6_addr, 16);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9000);

	uint8_t copy[RV_STUN_MAX];	/* one flipped bit breaks both checks */
	memcpy(copy, msg, len);
	copy[33] ^= 1;	/* inside the USERNAME value */
	assert_int_equal(rv_stun_parse(copy, len, &m), 0);
	assert_int_equal(rv_stun_check_integrity(&m, key, sizeof key), 0);
	assert_int_equal(rv_stun_check_fingerprint(&m), 0);
}

static void sha256_integrity(void **state)
{
	(void)state;
	struct rv_stun_builder b;
	uint8_t key[32];
	rv_stun_long_term_key_sha256("alice", "example.org", "secret", key);
	rv_stun_begin(&b, RV_STUN_REFRESH, RV_STUN_REQUEST, NULL);
	rv_stun_add_u32(&b, RV_STUN_A_PASSWORD_ALGORITHM, 0x00020000);
	rv_stun_add_integrity_sha256(&b, key, sizeof key);
	rv_stun_add_fingerprint(&b);
	const uint8_t *msg;
	size_t len;
	assert_true(rv_stun_end(&b, &msg, &len) > 0);
	struct rv_stun_msg m;
	assert_int_equal(rv_stun_parse(msg, len, &m), 0);
	assert_int_equal(rv_stun_check_integrity_sha256(&m, key, sizeof key), 1);
	assert_int_equal(rv_stun_check_integrity(&m, key, 16), -1);	/* no SHA-1 one */
	key[0] ^= 1;
	assert_int_equal(rv_stun_check_integrity_sha256(&m, key, sizeof key), 0);

	/* PASSWORD-ALGORITHMS: MD5 (1) then SHA-256 (2), no parameters */
	rv_stun_begin(&b, RV_STUN_ALLOCATE, RV_STUN_ERROR, NULL);
	uint8_t algs[8] = { 0, 1, 0, 0, 0, 2, 0, 0 };
	rv_stun_add(&b, RV_STUN_A_PASSWORD_ALGORITHMS, algs, sizeof algs);
	rv_stun_end(&b, &msg, &len);
	assert_int_equal(rv_stun_parse(msg, len, &m), 0);
	assert_int_equal(rv_stun_offers_sha256(&m), 1);
	algs[5] = 1;
	rv_stun_begin(&b, RV_STUN_ALLOCATE, RV_STUN_ERROR, NULL);
	rv_stun_add(&b, RV_STUN_A_PASSWORD_ALGORITHMS, algs, sizeof algs);
	rv_stun_end(&b, &msg, &len);
	rv_stun_parse(msg, len, &m);
	assert_int_equal(rv_stun_offers_sha256(&m), 0);
}

static void error_codes(void **state)
{
	(void)state;
	struct rv_stun_builder b;
	rv_stun_begin(&b, RV_STUN_ALLOCATE, RV_STUN_ERROR, NULL);
	uint8_t ec[4 + 12] = { 0, 0, 4, 1 };
	memcpy(ec + 4, "Unauthorized", 12);
	rv_stun_add(&b, RV_STUN_A_ERROR_CODE, ec, sizeof ec);
	const uint8_t *msg;
	size_t len;
	rv_stun_end(&b, &msg, &len);
	struct rv_stun_msg m;
	assert_int_equal(rv_stun_parse(msg, len, &m), 0);
	assert_int_equal(m.cls, RV_STUN_ERROR);
	char reason[64];
	assert_int_equal(rv_stun_error_code(&m, reason, sizeof reason), 401);
	assert_string_equal(reason, "Unauthorized");
}

static void bad_input(void **state)
{
	(void)state;
	struct rv_stun_msg m;
	uint8_t p[64];
	memcpy(p, rfc5769_v4, sizeof p);
	assert_int_equal(rv_stun_parse(p, 10, &m), -EAGAIN);
	assert_int_equal(rv_stun_parse(rfc5769_v4, 40, &m), -EAGAIN);	/* truncated body */
	p[4] = 0;	/* no magic cookie */
	assert_int_equal(rv_stun_parse(p, sizeof p, &m), RV_EPROTO);
	uint8_t odd[RV_STUN_HEADER + 4];
	memcpy(odd, rfc5769_v4, RV_STUN_HEADER);
	odd[2] = 0; odd[3] = 4;
	odd[20] = 0; odd[21] = 0x20; odd[22] = 0; odd[23] = 9;	/* attribute past the end */
	assert_int_equal(rv_stun_parse(odd, sizeof odd, &m), RV_EPROTO);
}

static void channel_data(void **state)
{
	(void)state;
	uint8_t buf[64];
	int n = rv_channel_data_build(buf, sizeof buf, 0x4001, "hello", 5, 1);
	assert_int_equal(n, 12);
	uint16_t ch;
	const uint8_t *d;
	size_t len, total;
	assert_int_equal(rv_channel_data_parse(buf, (size_t)n, &ch, &d, &len, &total), 0);
	assert_int_equal(ch, 0x4001);
	assert_int_equal(len, 5);
	assert_int_equal(total, 12);
	assert_memory_equal(d, "hello", 5);
	assert_int_equal(rv_channel_data_build(buf, sizeof buf, 0x4001, "hello", 5, 0), 9);
	buf[0] = 0x30;
	assert_int_equal(rv_channel_data_parse(buf, 9, &ch, &d, &len, &total), RV_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc5769_response),
		cmocka_unit_test(build_and_parse),
		cmocka_unit_test(sha256_integrity),
		cmocka_unit_test(error_codes),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(channel_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
