/* test_mpipe.c - media pipe datagram heads: round trip and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "mpipe.h"

/* A datagram for STREAM, FLAGS around a 12-byte RTP header. */
static size_t dgram(uint8_t *d, uint32_t stream, uint16_t flags)
{
	rv_mpipe_head(d, stream, flags);
	memset(d + RV_MPIPE_HEAD, 0, 12);
	d[RV_MPIPE_HEAD] = 0x80;
	return RV_MPIPE_HEAD + 12;
}

static void round_trip(void **state)
{
	(void)state;
	uint8_t d[32];
	size_t n = dgram(d, 0xDEADBEEF, RV_MPIPE_FEEDBACK);
	struct rv_mpipe m;
	assert_int_equal(rv_mpipe_parse(d, n, &m), 0);
	assert_int_equal(m.stream, 0xDEADBEEF);
	assert_int_equal(m.flags, RV_MPIPE_FEEDBACK);
	assert_ptr_equal(m.packet, d + RV_MPIPE_HEAD);
	assert_int_equal(m.len, 12);
	n = dgram(d, 1, RV_MPIPE_FORWARD);
	assert_int_equal(rv_mpipe_parse(d, n, &m), 0);
	assert_int_equal(m.flags, RV_MPIPE_FORWARD);
}

static void refusals(void **state)
{
	(void)state;
	uint8_t d[32];
	struct rv_mpipe m;
	size_t n = dgram(d, 5, RV_MPIPE_FORWARD);
	assert_int_equal(rv_mpipe_parse(d, RV_MPIPE_HEAD + RV_MPIPE_MIN_PACKET - 1, &m), RV_EPROTO);
	assert_int_equal(rv_mpipe_parse(d, RV_MPIPE_HEAD + RV_MPIPE_MIN_PACKET, &m), 0);
	dgram(d, 0, RV_MPIPE_FORWARD);	/* stream 0 */
	assert_int_equal(rv_mpipe_parse(d, n, &m), RV_EPROTO);
	dgram(d, 5, RV_MPIPE_FORWARD | RV_MPIPE_FEEDBACK);	/* both ways */
	assert_int_equal(rv_mpipe_parse(d, n, &m), RV_EPROTO);
	dgram(d, 5, 0);
	assert_int_equal(rv_mpipe_parse(d, n, &m), RV_EPROTO);
	dgram(d, 5, RV_MPIPE_FORWARD);
	d[7] = 1;	/* reserved */
	assert_int_equal(rv_mpipe_parse(d, n, &m), RV_EPROTO);
	dgram(d, 5, RV_MPIPE_FORWARD);
	d[RV_MPIPE_HEAD] = 0x40;	/* not RTP version 2 */
	assert_int_equal(rv_mpipe_parse(d, n, &m), RV_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
