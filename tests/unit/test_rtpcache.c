/* test_rtpcache.c - the NACK cache of a WebRTC viewer's leg: the last N
 * packets found by sequence number across the 16-bit wrap, nothing older
 * or newer, late packets kept, a late packet past the window not stored
 * over a newer one, sizes checked; resending limited per packet (once per
 * RV_RTPCACHE_GAP_MS) and in bytes (half of what was put, banked). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "rtp.h"
#include "rtpcache.h"

/* Packet SEQ: a header and LEN - 12 bytes of a pattern of SEQ. */
static size_t make(uint8_t *p, uint16_t seq, size_t len)
{
	struct rv_rtp r = { .pt = 96, .seq = seq, .ts = seq * 3000u, .ssrc = 7 };
	rv_rtp_header(p, &r);
	for (size_t i = RV_RTP_HEADER; i < len; i++)
		p[i] = (uint8_t)(seq + i);
	return len;
}

static int has(const struct rv_rtpcache *c, uint16_t seq)
{
	uint8_t want[RV_RTPCACHE_SLOT];
	size_t len = 0;
	const uint8_t *p = rv_rtpcache_get(c, seq, &len);
	if (!p)
		return 0;
	size_t n = make(want, seq, 100 + seq % 50);
	assert_int_equal(len, n);
	assert_memory_equal(p, want, n);
	return 1;
}

static void put(struct rv_rtpcache *c, uint16_t seq)
{
	uint8_t p[RV_RTPCACHE_SLOT];
	assert_int_equal(rv_rtpcache_put(c, p, make(p, seq, 100 + seq % 50)), 0);
}

static void window_and_wrap(void **state)
{
	(void)state;
	struct rv_rtpcache c;
	assert_int_equal(rv_rtpcache_init(&c, 0), -EINVAL);
	assert_int_equal(rv_rtpcache_init(&c, 300), -EINVAL);
	assert_int_equal(rv_rtpcache_init(&c, 65536), -EINVAL);
	assert_int_equal(rv_rtpcache_init(&c, 256), 0);
	assert_null(c.buf);	/* nothing until the first packet */
	assert_false(has(&c, 1));
	/* 300 packets across the wrap: the last 256 are there */
	for (int i = 0; i < 300; i++)
		put(&c, (uint16_t)(65400 + i));
	uint16_t last = (uint16_t)(65400 + 299);
	for (int back = 0; back < 256; back++)
		assert_true(has(&c, (uint16_t)(last - back)));
	for (int back = 256; back < 300; back++)
		assert_false(has(&c, (uint16_t)(last - back)));
	assert_false(has(&c, (uint16_t)(last + 1)));	/* not sent yet */
	assert_false(has(&c, (uint16_t)(last + 30000)));
	/* 65536 later the same 16 bits name another packet: not the old one */
	for (int k = 1; k <= 16; k++)
		put(&c, (uint16_t)(last + 4096 * k));
	assert_true(has(&c, last));	/* the one just put */
	assert_false(has(&c, (uint16_t)(last - 1)));	/* its slot holds the one of 65536 ago */
	rv_rtpcache_free(&c);
}

static void late_and_lost(void **state)
{
	(void)state;
	struct rv_rtpcache c;
	rv_rtpcache_init(&c, 256);
	put(&c, 10);
	put(&c, 12);
	assert_false(has(&c, 11));	/* lost before the cache: a NACK goes on */
	put(&c, 11);
	assert_true(has(&c, 11));
	/* a gap of a few: the skipped slots keep nothing that matches */
	put(&c, 1000);
	assert_false(has(&c, 12 + 256));
	assert_false(has(&c, 999));
	assert_true(has(&c, 1000));
	assert_false(has(&c, 12));	/* past the window now */
	/* a packet older than the window is not stored over a newer one */
	put(&c, 990);
	put(&c, 1000 - 256 - 10);	/* 734: slot of 990 */
	assert_false(has(&c, 734));
	assert_true(has(&c, 990));
	rv_rtpcache_free(&c);
	assert_false(has(&c, 990));
}

static void sizes(void **state)
{
	(void)state;
	struct rv_rtpcache c;
	uint8_t p[RV_RTPCACHE_SLOT + 1];
	rv_rtpcache_init(&c, 1);
	assert_int_equal(rv_rtpcache_put(&c, p, make(p, 5, 11)), RV_EPROTO);
	assert_int_equal(rv_rtpcache_put(&c, p, make(p, 5, RV_RTPCACHE_SLOT + 1)), RV_ETOOBIG);
	assert_int_equal(rv_rtpcache_put(&c, p, make(p, 5, RV_RTPCACHE_SLOT)), 0);
	size_t len;
	const uint8_t *q = rv_rtpcache_get(&c, 5, &len);
	assert_non_null(q);
	assert_int_equal(len, RV_RTPCACHE_SLOT);
	assert_memory_equal(q, p, len);
	/* a one-slot cache holds the newest only */
	put(&c, 6);
	assert_null(rv_rtpcache_get(&c, 5, &len));
	assert_true(has(&c, 6));
	rv_rtpcache_free(&c);
}

/* Resending: at most once per RV_RTPCACHE_GAP_MS a packet, and from a
 * budget of half the bytes put: a flood of NACKs for the same 64 packets
 * gets back about half of what went out, then nothing. */
static void resend_limits(void **state)
{
	(void)state;
	struct rv_rtpcache c;
	const uint8_t *p;
	size_t len, put_bytes = 0, sent = 0;
	assert_int_equal(rv_rtpcache_init(&c, 64), 0);
	assert_int_equal(rv_rtpcache_resend(&c, 1, 1, &p, &len), RV_RTPCACHE_MISS);	/* nothing put yet */
	for (uint16_t q = 0; q < 64; q++) {
		put(&c, q);
		put_bytes += 100 + q % 50;
	}
	assert_int_equal(rv_rtpcache_resend(&c, 64, 1000, &p, &len), RV_RTPCACHE_MISS);	/* not yet put */
	assert_int_equal(rv_rtpcache_resend(&c, 5, 1000, &p, &len), RV_RTPCACHE_SEND);
	assert_int_equal(len, 105);
	assert_int_equal(p[RV_RTP_HEADER], (uint8_t)(5 + RV_RTP_HEADER));
	sent += len;
	/* asked again before the gap: nothing; after it: again */
	assert_int_equal(rv_rtpcache_resend(&c, 5, 1000 + RV_RTPCACHE_GAP_MS - 1, &p, &len), RV_RTPCACHE_RECENT);
	assert_int_equal(rv_rtpcache_resend(&c, 5, 1000 + RV_RTPCACHE_GAP_MS, &p, &len), RV_RTPCACHE_SEND);
	sent += len;
	/* the flood: every packet, every gap, for a second */
	int over = 0;
	for (uint64_t t = 2000; t < 3000; t += RV_RTPCACHE_GAP_MS)
		for (uint16_t q = 0; q < 64; q++) {
			int r = rv_rtpcache_resend(&c, q, t, &p, &len);
			assert_true(r == RV_RTPCACHE_SEND || r == RV_RTPCACHE_OVER);
			if (r == RV_RTPCACHE_SEND)
				sent += len;
			else
				over++;
		}
	assert_true(over > 0);
	assert_true(sent <= put_bytes / 2);
	assert_true(sent + 150 > put_bytes / 2);	/* the budget is spent, not lost */
	/* new packets refill it by half their length */
	for (uint16_t q = 64; q < 128; q++)
		put(&c, q);
	assert_int_equal(rv_rtpcache_resend(&c, 100, 4000, &p, &len), RV_RTPCACHE_SEND);
	rv_rtpcache_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(window_and_wrap),
		cmocka_unit_test(late_and_lost),
		cmocka_unit_test(sizes),
		cmocka_unit_test(resend_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
