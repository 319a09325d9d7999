/* test_rtcpstat.c - a receiver's RTCP arithmetic (RFC 3550 6.4.1, A.1, A.3,
 * A.8): loss and its fraction, the extended highest sequence number across
 * a wrap, reordering and duplicates, a restarted source, jitter, LSR and
 * DLSR; and the compound a WebRTC publisher gets: several report blocks,
 * SDES CNAME, REMB with its mantissa and exponent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "rtcpstat.h"
#include "rtp.h"

#define MS 1000ull                      /* microseconds */

/* Packets FROM..TO (inclusive, wrapping) 20 ms apart at 48 kHz, on time. */
static uint64_t run(struct rv_rtcpstat *s, uint16_t from, uint16_t to, uint64_t t)
{
	for (uint16_t q = from;; q++) {
		rv_rtcpstat_packet(s, q, (uint32_t)(t / MS) * 48, t);
		t += 20 * MS;
		if (q == to)
			return t;
	}
}

static void loss_and_fraction(void **state)
{
	(void)state;
	struct rv_rtcpstat s;
	struct rv_rtcp_rb rb;
	rv_rtcpstat_init(&s, 0x1234, 48000);
	assert_int_equal(rv_rtcpstat_block(&s, 0, &rb), -1);	/* nothing yet */
	uint64_t t = run(&s, 100, 102, 1000 * MS);
	t = run(&s, 105, 109, t);	/* 103 and 104 lost: 2 of 10 */
	assert_int_equal(rv_rtcpstat_block(&s, t, &rb), 0);
	assert_int_equal(rb.ssrc, 0x1234);
	assert_int_equal(rb.highest, 109);
	assert_int_equal(rb.lost, 2);
	assert_int_equal(rb.fraction, (2 << 8) / 10);	/* 51 */
	assert_int_equal(rb.lsr, 0);
	assert_int_equal(rb.dlsr, 0);
	/* the fraction is of the interval since the last block (A.3) */
	t = run(&s, 110, 129, t);
	assert_int_equal(rv_rtcpstat_block(&s, t, &rb), 0);
	assert_int_equal(rb.fraction, 0);
	assert_int_equal(rb.lost, 2);
	/* 104 comes late after all: the cumulative loss shrinks */
	rv_rtcpstat_packet(&s, 104, 0, t);
	assert_int_equal(rv_rtcpstat_block(&s, t, &rb), 0);
	assert_int_equal(rb.lost, 1);
	assert_int_equal(rb.highest, 129);
	assert_int_equal(rb.fraction, 0);	/* more received than expected in the interval */
	/* a duplicate makes it negative, as the RFC allows */
	rv_rtcpstat_packet(&s, 129, 0, t);
	rv_rtcpstat_packet(&s, 128, 0, t);
	assert_int_equal(rv_rtcpstat_block(&s, t, &rb), 0);
	assert_int_equal(rb.lost, -1);
	/* and the report block carries it as 24 signed bits */
	uint8_t buf[64];
	struct rv_rtcp c;
	size_t off = 0;
	struct rv_rtcp_rb got;
	assert_int_equal(rv_rtcp_build_rr(buf, sizeof buf, 9, &rb), 32);
	assert_int_equal(rv_rtcp_next(buf, 32, &off, &c), 1);
	assert_int_equal(rv_rtcp_parse_rb(&c, 0, &got), 0);
	assert_int_equal(got.lost, -1);
}

static void sequence_wraps(void **state)
{
	(void)state;
	struct rv_rtcpstat s;
	struct rv_rtcp_rb rb;
	rv_rtcpstat_init(&s, 1, 48000);
	uint64_t t = run(&s, 65530, 5, 0);	/* 12 packets across the wrap */
	assert_int_equal(rv_rtcpstat_block(&s, t, &rb), 0);
	assert_int_equal(rb.highest, 0x10005);
	assert_int_equal(rb.lost, 0);
	/* reordered across the wrap: 65535 after 0 does not go back a cycle */
	rv_rtcpstat_init(&s, 1, 48000);
	rv_rtcpstat_packet(&s, 65534, 0, 0);
	rv_rtcpstat_packet(&s, 0, 0, 0);
	rv_rtcpstat_packet(&s, 65535, 0, 0);
	rv_rtcpstat_packet(&s, 1, 0, 0);
	assert_int_equal(rv_rtcpstat_block(&s, 0, &rb), 0);
	assert_int_equal(rb.highest, 0x10001);
	assert_int_equal(rb.lost, 0);
	/* a second wrap, with a gap of 2999 (still a dropout, not a jump) */
	rv_rtcpstat_init(&s, 1, 48000);
	rv_rtcpstat_packet(&s, 60000, 0, 0);
	rv_rtcpstat_packet(&s, 62999, 0, 0);
	rv_rtcpstat_packet(&s, 462, 0, 0);	/* 62999 + 2999 */
	assert_int_equal(rv_rtcpstat_block(&s, 0, &rb), 0);
	assert_int_equal(rb.highest, 0x10000 + 462);
	assert_int_equal(rb.lost, 0x10000 + 462 - 60000 + 1 - 3);
	/* 3000 ahead is a jump, not a dropout */
	assert_int_equal(rv_rtcpstat_packet(&s, 462 + 3000, 0, 0), 0);
}

static void restarted_source(void **state)
{
	(void)state;
	struct rv_rtcpstat s;
	struct rv_rtcp_rb rb;
	rv_rtcpstat_init(&s, 1, 90000);
	assert_int_equal(rv_rtcpstat_packet(&s, 100, 0, 0), 1);
	assert_int_equal(rv_rtcpstat_packet(&s, 101, 0, 0), 1);
	/* a jump alone is held back, and the next in order goes on counting */
	assert_int_equal(rv_rtcpstat_packet(&s, 30000, 0, 0), 0);
	assert_int_equal(rv_rtcpstat_packet(&s, 102, 0, 0), 1);
	assert_int_equal(rv_rtcpstat_block(&s, 0, &rb), 0);
	assert_int_equal(rb.highest, 102);
	assert_int_equal(rb.lost, 0);
	/* a jump confirmed by the packet after it: the counts start there */
	assert_int_equal(rv_rtcpstat_packet(&s, 40000, 0, 0), 0);
	assert_int_equal(rv_rtcpstat_packet(&s, 40001, 0, 0), 1);
	assert_int_equal(rv_rtcpstat_packet(&s, 40003, 0, 0), 1);
	assert_int_equal(rv_rtcpstat_block(&s, 0, &rb), 0);
	assert_int_equal(rb.highest, 40003);
	assert_int_equal(rb.lost, 1);	/* 40002 */
	assert_int_equal(rb.fraction, (1 << 8) / 3);
	/* 99 behind is late; 100 behind is a jump back */
	assert_int_equal(rv_rtcpstat_packet(&s, 40003 - 99, 0, 0), 1);
	assert_int_equal(rv_rtcpstat_packet(&s, 40003 - 100, 0, 0), 0);
}

static void jitter(void **state)
{
	(void)state;
	struct rv_rtcpstat s;
	struct rv_rtcp_rb rb;
	rv_rtcpstat_init(&s, 1, 90000);
	/* 10 ms apart, 900 ticks apart: no jitter */
	for (int i = 0; i < 10; i++)
		rv_rtcpstat_packet(&s, (uint16_t)i, 12345 + 900u * (uint32_t)i, 5000000 * MS + 10 * MS * (uint64_t)i);
	assert_int_equal(rv_rtcpstat_jitter(&s), 0);
	/* one 1 ms late (90 ticks): J += (90 - J)/16, in sixteenths as A.8 */
	rv_rtcpstat_packet(&s, 10, 12345 + 9000, 5000000 * MS + 101 * MS);
	assert_int_equal(s.jitter16, 90);
	assert_int_equal(rv_rtcpstat_jitter(&s), 5);
	/* back on time: the transit changes by 90 again */
	rv_rtcpstat_packet(&s, 11, 12345 + 9900, 5000000 * MS + 110 * MS);
	assert_int_equal(s.jitter16, 90 + 90 - ((90 + 8) >> 4));
	assert_int_equal(rv_rtcpstat_block(&s, 0, &rb), 0);
	assert_int_equal(rb.jitter, (90 + 90 - 6) >> 4);
	/* it decays when the packets are regular again */
	uint32_t j = s.jitter16;
	for (int i = 12; i < 40; i++)
		rv_rtcpstat_packet(&s, (uint16_t)i, 12345 + 900u * (uint32_t)i, 5000000 * MS + 10 * MS * (uint64_t)i);
	assert_true(s.jitter16 < j / 2);
	/* a timestamp jump of more than 10 s (another source) is not jitter */
	j = s.jitter16;
	rv_rtcpstat_packet(&s, 40, 12345 + 900u * 40 + 90000u * 20, 5000000 * MS + 400 * MS);
	assert_int_equal(s.jitter16, j);
	/* timestamps that wrap 32 bits are not a jump */
	rv_rtcpstat_init(&s, 1, 90000);
	rv_rtcpstat_packet(&s, 1, 0xFFFFFF00u, 7 * MS);
	rv_rtcpstat_packet(&s, 2, 0xFFFFFF00u + 900, 17 * MS);
	assert_int_equal(s.jitter16, 0);
}

static void last_sender_report(void **state)
{
	(void)state;
	struct rv_rtcpstat s;
	struct rv_rtcp_rb rb;
	rv_rtcpstat_init(&s, 1, 48000);
	rv_rtcpstat_packet(&s, 7, 0, 1000 * MS);
	rv_rtcpstat_sr(&s, 0x0001234567890000ull, 2000 * MS);
	assert_int_equal(rv_rtcpstat_block(&s, 3500 * MS, &rb), 0);
	assert_int_equal(rb.lsr, 0x23456789u);	/* the middle 32 bits */
	assert_int_equal(rb.dlsr, 98304);	/* 1.5 s in 1/65536 s */
	/* the sender's round trip from it: A - LSR - DLSR */
	uint32_t a = 0x23456789u + 98304 + 0x0CCC;	/* 50 ms of network (3276.8 units) */
	double rtt = rv_rtcp_rtt_ms(a, rb.lsr, rb.dlsr);
	assert_true(rtt > 49.9 && rtt < 50.1);
}

static void compound(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct rv_rtcp_rb rb[2] = { { .ssrc = 11, .fraction = 3, .lost = 4, .highest = 70000, .jitter = 5 },
				    { .ssrc = 22, .lost = 0x900000 /* clamped */, .lsr = 6, .dlsr = 7 } };
	int n = rv_rtcp_build_rrs(buf, sizeof buf, 99, rb, 2);
	assert_int_equal(n, 8 + 48);
	assert_int_equal(rv_rtcp_build_rrs(buf, 55, 99, rb, 2), RV_ETOOBIG);
	assert_int_equal(rv_rtcp_build_rrs(buf, sizeof buf, 99, rb, 32), -EINVAL);
	int m = rv_rtcp_build_sdes(buf + n, sizeof buf - (size_t)n, 99, "ab");
	assert_int_equal(m, 16);	/* 8 + type, length, "ab", end, padded to 4 */
	assert_int_equal(rv_rtcp_build_sdes(buf + n, sizeof buf - (size_t)n, 99, "abcde"), 16);	/* 8+2+5+1 */
	assert_int_equal(rv_rtcp_build_sdes(buf + n, sizeof buf - (size_t)n, 99, "abcdef"), 20);	/* 17 -> 20 */
	m = rv_rtcp_build_sdes(buf + n, sizeof buf - (size_t)n, 99, "ab");
	uint32_t ssrcs[1] = { 11 };
	int k = rv_rtcp_build_remb(buf + n + m, sizeof buf - (size_t)(n + m), 99, 200000, ssrcs, 1);
	assert_int_equal(k, 24);
	size_t len = (size_t)(n + m + k), off = 0;
	struct rv_rtcp c;
	struct rv_rtcp_rb got;
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), 1);
	assert_int_equal(c.type, RV_RTCP_RR);
	assert_int_equal(c.fmt, 2);
	assert_int_equal(c.sender_ssrc, 99);
	assert_int_equal(rv_rtcp_parse_rb(&c, 1, &got), 0);
	assert_int_equal(got.ssrc, 22);
	assert_int_equal(got.lost, 0x7FFFFF);
	assert_int_equal(got.dlsr, 7);
	assert_int_equal(rv_rtcp_parse_rb(&c, 0, &got), 0);
	assert_int_equal(got.highest, 70000);
	assert_int_equal(got.fraction, 3);
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), 1);
	assert_int_equal(c.type, RV_RTCP_SDES);
	assert_int_equal(c.body_len, 8);
	assert_memory_equal(c.body, "\x01\x02" "ab\0\0\0\0", 8);
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), 1);
	assert_int_equal(c.type, RV_RTCP_PSFB);
	assert_int_equal(c.fmt, 15);
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), 0);
	char big[300];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(rv_rtcp_build_sdes(buf, sizeof buf, 1, big), -EINVAL);
}

/* REMB's bitrate: an 18-bit mantissa shifted by a 6-bit exponent. */
static uint64_t remb_round_trip(uint64_t bps, uint8_t *word)
{
	uint8_t buf[64];
	uint32_t ssrcs[2] = { 0xAAAA, 0xBBBB }, back[2] = { 0 };
	int n = rv_rtcp_build_remb(buf, sizeof buf, 1, bps, ssrcs, 2);
	assert_int_equal(n, 28);
	memcpy(word, buf + 16, 4);
	assert_memory_equal(buf + 12, "REMB", 4);
	struct rv_rtcp c;
	size_t off = 0;
	uint64_t got = 0;
	assert_int_equal(rv_rtcp_next(buf, (size_t)n, &off, &c), 1);
	assert_int_equal(rv_rtcp_parse_remb(&c, &got, back, 2), 2);
	assert_int_equal(back[0], 0xAAAA);
	assert_int_equal(back[1], 0xBBBB);
	return got;
}

static void remb(void **state)
{
	(void)state;
	uint8_t w[4];
	/* 200 kbit/s fits 18 bits: exponent 0 */
	assert_int_equal(remb_round_trip(200000, w), 200000);
	assert_memory_equal(w, "\x02\x03\x0D\x40", 4);	/* 2 SSRCs, exp 0, 0x30D40 */
	/* 2.5 Mbit/s: 156250 << 4, exactly */
	assert_int_equal(remb_round_trip(2500000, w), 2500000);
	assert_int_equal(w[1] >> 2, 4);
	/* the largest mantissa at exponent 0, and one past it */
	assert_int_equal(remb_round_trip(0x3FFFF, w), 0x3FFFF);
	assert_int_equal(w[1] >> 2, 0);
	assert_int_equal(remb_round_trip(0x40000, w), 0x40000);
	assert_int_equal(w[1] >> 2, 1);
	/* an odd rate loses its low bits, rounded down: never above the cap */
	uint64_t got = remb_round_trip(1000000001, w);
	assert_true(got <= 1000000001 && got > 1000000001 - (1000000001 >> 17));
	assert_int_equal(remb_round_trip(0, w), 0);
	assert_int_equal(remb_round_trip(UINT64_MAX, w), 0x3FFFFull << 46);
	/* no SSRC, or a packet that is not REMB */
	uint8_t buf[64];
	assert_int_equal(rv_rtcp_build_remb(buf, sizeof buf, 1, 1, NULL, 0), -EINVAL);
	assert_int_equal(rv_rtcp_build_remb(buf, 23, 1, 1, (uint32_t[]){ 1 }, 1), RV_ETOOBIG);
	int n = rv_rtcp_build_pli(buf, sizeof buf, 1, 2);
	struct rv_rtcp c;
	size_t off = 0;
	uint64_t bps;
	rv_rtcp_next(buf, (size_t)n, &off, &c);
	assert_int_equal(rv_rtcp_parse_remb(&c, &bps, NULL, 0), RV_EPROTO);
	/* a count of SSRCs past the packet's end */
	n = rv_rtcp_build_remb(buf, sizeof buf, 1, 1, (uint32_t[]){ 1 }, 1);
	buf[16] = 5;
	off = 0;
	rv_rtcp_next(buf, (size_t)n, &off, &c);
	assert_int_equal(rv_rtcp_parse_remb(&c, &bps, NULL, 0), RV_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loss_and_fraction),
		cmocka_unit_test(sequence_wraps),
		cmocka_unit_test(restarted_source),
		cmocka_unit_test(jitter),
		cmocka_unit_test(last_sender_report),
		cmocka_unit_test(compound),
		cmocka_unit_test(remb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
