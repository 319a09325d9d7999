/* test_rtp.c - RTP and RTCP headers; H.264 and VP8 round trips and loss. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "rtp.h"

static void rtp_header(void **state)
{
	(void)state;
	struct rv_rtp r = { .pt = 96, .marker = 1, .seq = 65535, .ts = 0xdeadbeef, .ssrc = 0x01020304 }, q;
	uint8_t pkt[64];
	rv_rtp_header(pkt, &r);
	memcpy(pkt + 12, "abc", 3);
	assert_int_equal(rv_rtp_parse(pkt, 15, &q), 0);
	assert_int_equal(q.pt, 96);
	assert_int_equal(q.marker, 1);
	assert_int_equal(q.seq, 65535);
	assert_int_equal(q.ts, 0xdeadbeef);
	assert_int_equal(q.ssrc, 0x01020304);
	assert_int_equal(q.payload_len, 3);
	/* one CSRC, a one-word extension, two bytes of padding */
	uint8_t x[40] = { 0xB1, 96 };
	memset(x + 12, 0, 4);		/* CSRC */
	x[16] = 0xBE; x[17] = 0xDE; x[18] = 0; x[19] = 1;	/* extension, 1 word */
	memcpy(x + 24, "hey", 3);
	x[27] = 0; x[28] = 2;		/* pad 2: payload is "hey" + 0 */
	assert_int_equal(rv_rtp_parse(x, 29, &q), 0);
	assert_int_equal(q.payload_len, 3);
	assert_memory_equal(q.payload, "hey", 3);
	x[28] = 40;	/* padding longer than the packet */
	assert_int_equal(rv_rtp_parse(x, 29, &q), RV_EPROTO);
	assert_int_equal(rv_rtp_parse(x, 8, &q), RV_EPROTO);
	assert_true(rv_rtp_is_rtcp((const uint8_t *)"\x80\xc8", 2));
	assert_false(rv_rtp_is_rtcp(pkt, 15));
}

static uint16_t got[64];
static size_t ngot;
static void collect(void *ud, uint16_t seq)
{
	(void)ud;
	got[ngot++] = seq;
}

static void rtcp(void **state)
{
	(void)state;
	uint8_t buf[256];
	size_t len = 0;
	struct rv_rtcp_sr sr = { 0x11, 0x0102030405060708ull, 90000, 10, 1000 }, sr2;
	len += (size_t)rv_rtcp_build_sr(buf, sizeof buf, &sr);
	len += (size_t)rv_rtcp_build_pli(buf + len, sizeof buf - len, 0x22, 0x11);
	uint16_t lost[] = { 100, 102, 117, 300 };
	len += (size_t)rv_rtcp_build_nack(buf + len, sizeof buf - len, 0x22, 0x11, lost, 4);
	size_t off = 0;
	struct rv_rtcp c;
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), 1);
	assert_int_equal(rv_rtcp_parse_sr(&c, &sr2), 0);
	assert_int_equal(sr2.ntp, sr.ntp);
	assert_int_equal(sr2.rtp_ts, 90000);
	assert_int_equal(sr2.octets, 1000);
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), 1);
	assert_int_equal(c.type, RV_RTCP_PSFB);
	assert_int_equal(c.fmt, 1);
	assert_int_equal(c.media_ssrc, 0x11);
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), 1);
	ngot = 0;
	assert_int_equal(rv_rtcp_nack_each(&c, collect, NULL), 4);
	assert_int_equal(got[0], 100);
	assert_int_equal(got[1], 102);
	assert_int_equal(got[2], 117);
	assert_int_equal(got[3], 300);
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), 0);
	buf[3] = 200;	/* a length past the end */
	off = 0;
	assert_int_equal(rv_rtcp_next(buf, len, &off, &c), RV_EPROTO);
}

/* Packetize into a list of packets, then feed them back. */
struct pkts {
	uint8_t data[256][1300];
	size_t len[256];
	int marker[256];
	int n;
};

static int store(void *ud, const uint8_t *d, size_t len, int last)
{
	struct pkts *p = ud;
	assert_true(len <= 1200);
	memcpy(p->data[p->n], d, len);
	p->len[p->n] = len;
	p->marker[p->n] = last;
	p->n++;
	return 0;
}

static uint8_t out[65536];
static size_t outlen;
static int outkey, nframes;
static void frame(void *ud, const uint8_t *f, size_t len, uint32_t ts, int key)
{
	(void)ud; (void)ts;
	memcpy(out, f, len);
	outlen = len;
	outkey = key;
	nframes++;
}

static void feed(struct rv_depack *d, struct pkts *p, uint16_t seq0, int skip)
{
	for (int i = 0; i < p->n; i++) {
		if (i == skip)
			continue;
		struct rv_rtp r = { .pt = 96, .seq = (uint16_t)(seq0 + i), .ts = 3000, .marker = p->marker[i],
				    .payload = p->data[i], .payload_len = p->len[i] };
		rv_depack_push(d, &r);
	}
}

static void h264_roundtrip(void **state)
{
	(void)state;
	static uint8_t au[8000];
	size_t n = 0;
	/* SPS, PPS (small: one STAP-A), then a 5000-byte IDR (FU-A) */
	const uint8_t sps[] = { 0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda };
	const uint8_t pps[] = { 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80 };
	memcpy(au + n, sps, sizeof sps); n += sizeof sps;
	memcpy(au + n, pps, sizeof pps); n += sizeof pps;
	memcpy(au + n, "\0\0\0\1\x65", 5); n += 5;
	for (int i = 0; i < 5000; i++)
		au[n++] = (uint8_t)(i * 7 + 1) | 1;	/* never a start code */
	assert_true(rv_h264_is_keyframe(au, n));
	static struct pkts p;
	p.n = 0;
	int k = rv_h264_packetize(au, n, 1200, store, &p);
	assert_true(k >= 6);
	assert_int_equal(p.data[0][0] & 0x1F, 24);	/* STAP-A first */
	assert_int_equal(p.data[1][0] & 0x1F, 28);	/* then FU-A */
	assert_true(p.marker[p.n - 1]);
	struct rv_depack d;
	rv_depack_init(&d, RV_DEPACK_H264, 1 << 20, frame, NULL);
	nframes = 0;
	feed(&d, &p, 100, -1);
	assert_int_equal(nframes, 1);
	assert_true(outkey);
	assert_int_equal(outlen, n);
	assert_memory_equal(out, au, n);
	/* losing a fragment loses the frame, and only it */
	nframes = 0;
	feed(&d, &p, (uint16_t)(100 + p.n), 3);
	assert_int_equal(nframes, 0);
	assert_int_equal(d.dropped, 1);
	feed(&d, &p, (uint16_t)(100 + 2 * p.n), -1);
	assert_int_equal(nframes, 1);
	rv_depack_free(&d);
}

static void vp8_roundtrip(void **state)
{
	(void)state;
	static uint8_t f[3000];
	for (size_t i = 0; i < sizeof f; i++)
		f[i] = (uint8_t)(i * 13);
	f[0] = 0x10;	/* P bit 0: a keyframe */
	static struct pkts p;
	p.n = 0;
	assert_int_equal(rv_vp8_packetize(f, sizeof f, 1200, 4242, store, &p), 3);
	assert_int_equal(p.data[0][0] & 0x10, 0x10);	/* S on the first only */
	assert_int_equal(p.data[1][0] & 0x10, 0);
	struct rv_depack d;
	rv_depack_init(&d, RV_DEPACK_VP8, 1 << 20, frame, NULL);
	nframes = 0;
	feed(&d, &p, 7, -1);
	assert_int_equal(nframes, 1);
	assert_true(outkey);
	assert_int_equal(outlen, sizeof f);
	assert_memory_equal(out, f, sizeof f);
	nframes = 0;
	feed(&d, &p, 10, 0);	/* the start is lost */
	assert_int_equal(nframes, 0);
	rv_depack_free(&d);
}

static void receiver_report(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct rv_rtcp_rb rb = { .ssrc = 0xabcdef01, .fraction = 25, .lost = -3, .highest = 0x1ffff,
				 .jitter = 77, .lsr = 0x12345678, .dlsr = 65536 };
	int n = rv_rtcp_build_rr(buf, sizeof buf, 0x11111111, &rb);
	assert_int_equal(n, 32);
	assert_true(rv_rtp_is_rtcp(buf, (size_t)n));
	size_t off = 0;
	struct rv_rtcp c;
	assert_int_equal(rv_rtcp_next(buf, (size_t)n, &off, &c), 1);
	assert_int_equal(c.type, RV_RTCP_RR);
	assert_int_equal(c.sender_ssrc, 0x11111111);
	struct rv_rtcp_rb got;
	assert_int_equal(rv_rtcp_parse_rb(&c, 0, &got), 0);
	assert_int_equal(got.ssrc, rb.ssrc);
	assert_int_equal(got.fraction, 25);
	assert_int_equal(got.lost, -3);	/* 24-bit signed */
	assert_int_equal(got.highest, 0x1ffff);
	assert_int_equal(got.jitter, 77);
	assert_int_equal(got.lsr, 0x12345678);
	assert_int_equal(got.dlsr, 65536);
	assert_int_not_equal(rv_rtcp_parse_rb(&c, 1, &got), 0);	/* only one block */
	assert_int_equal(rv_rtcp_build_rr(buf, 31, 1, &rb), RV_ETOOBIG);
	rb.lost = 1 << 30;	/* clamped to the largest 24-bit count */
	rv_rtcp_build_rr(buf, sizeof buf, 1, &rb);
	off = 0;
	rv_rtcp_next(buf, 32, &off, &c);
	rv_rtcp_parse_rb(&c, 0, &got);
	assert_int_equal(got.lost, 0x7FFFFF);
}

/* RFC 3550 6.4.1: A - LSR - DLSR in 16.16 seconds, never negative. */
static void round_trip(void **state)
{
	(void)state;
	/* the RFC's example: A 0xb710:8000, LSR 0xb705:2000, DLSR 5.25 s -> 6.125 s */
	assert_true(rv_rtcp_rtt_ms(0xb7108000u, 0xb7052000u, 0x00054000u) == 6125.0);
	assert_true(rv_rtcp_rtt_ms(0x00010000u, 0x00008000u, 0) == 500.0);
	/* loopback: DLSR rounded up past A - LSR by a few units: 0, not 65536 s */
	assert_true(rv_rtcp_rtt_ms(0x12340010u, 0x12340000u, 0x14) == 0.0);
	assert_true(rv_rtcp_rtt_ms(0x12340000u, 0x12340000u, 1) == 0.0);
	assert_true(rv_rtcp_rtt_ms(0x12340000u, 0x12340000u, 0) == 0.0);
	/* across the 16-bit seconds wrap */
	assert_true(rv_rtcp_rtt_ms(0x00000100u, 0xFFFFFF00u, 0) == 7.8125);	/* 0x200 units */
	assert_true(rv_rtcp_rtt_ms(0x1000, 0, 0) == -1.0);	/* no sender report yet */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(receiver_report),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(rtp_header),
		cmocka_unit_test(rtcp),
		cmocka_unit_test(h264_roundtrip),
		cmocka_unit_test(vp8_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
