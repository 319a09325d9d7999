/* fuzz_rtp.c - RTP and RTCP parsing (SR, report blocks, NACK, REMB), both
 * depacketizers, the receiver statistics and the NACK cache on arbitrary
 * packets: the input is a series of u16-length-prefixed packets. */
#include <stddef.h>
#include <stdint.h>

#include "rtcpstat.h"
#include "rtp.h"
#include "rtpcache.h"

static void frame(void *ud, const uint8_t *f, size_t len, uint32_t ts, int key)
{
	(void)ud; (void)f; (void)len; (void)ts; (void)key;
}

static void seq(void *ud, uint16_t s)
{
	(void)ud; (void)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_depack h, v;
	struct rv_rtcpstat st;
	struct rv_rtpcache cache;
	struct rv_rtcp_rb block;
	rv_rtcpstat_init(&st, 1, 90000);
	rv_rtpcache_init(&cache, 64);
	rv_depack_init(&h, RV_DEPACK_H264, 1 << 20, frame, NULL);
	rv_depack_init(&v, RV_DEPACK_VP8, 1 << 20, frame, NULL);
	for (size_t o = 0; o + 2 <= size;) {
		size_t n = (size_t)data[o] << 8 | data[o + 1];
		o += 2;
		if (n > size - o)
			n = size - o;
		const uint8_t *p = data + o;
		o += n;
		if (rv_rtp_is_rtcp(p, n)) {
			size_t off = 0;
			struct rv_rtcp c;
			struct rv_rtcp_sr sr;
			struct rv_rtcp_rb rb;
			while (rv_rtcp_next(p, n, &off, &c) == 1) {
				if (rv_rtcp_parse_sr(&c, &sr) == 0)
					rv_rtcpstat_sr(&st, sr.ntp, (uint64_t)o * 1000);
				rv_rtcp_nack_each(&c, seq, NULL);
				uint64_t bps;
				uint32_t ssrcs[4];
				rv_rtcp_parse_remb(&c, &bps, ssrcs, 4);
				for (int i = 0; i < 32 && rv_rtcp_parse_rb(&c, i, &rb) == 0; i++)
					;	/* report blocks of an RR or SR */
			}
			continue;
		}
		struct rv_rtp r;
		if (rv_rtp_parse(p, n, &r) == 0) {
			rv_depack_push(r.pt & 1 ? &h : &v, &r);
			rv_h264_is_keyframe(r.payload, r.payload_len);
			rv_rtcpstat_packet(&st, r.seq, r.ts, (uint64_t)o * 1000);
			size_t len;
			rv_rtpcache_put(&cache, p, n);
			rv_rtpcache_get(&cache, (uint16_t)(r.seq - r.pt), &len);
		}
	}
	rv_rtcpstat_block(&st, (uint64_t)size * 1000, &block);
	rv_rtpcache_free(&cache);
	rv_depack_free(&h);
	rv_depack_free(&v);
	return 0;
}
