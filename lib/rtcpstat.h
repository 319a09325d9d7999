/* rtcpstat.h - what a receiver reports about one RTP source (RFC 3550 6.4.1,
 * A.1, A.3, A.8): packets expected and received, the extended highest
 * sequence number, interarrival jitter and the last sender report, made
 * into an RTCP report block (lib/rtp.h's struct rv_rtcp_rb). Used by
 * rvrecv for the streams it records and by rvserver for WebRTC publishers.
 *
 * Sans-I/O: no clock is read, the caller passes the arrival time NOW_US
 * (microseconds on any monotonic clock; only differences matter). No
 * memory is allocated: a struct rv_rtcpstat is plain state the caller owns.
 *
 * Sequence numbers follow A.1: a jump of less than 3000 ahead moves the
 * highest (counting a wrap of the 16 bits), a packet at most 100 behind is
 * late or a duplicate and only counted; any other jump is taken for a
 * restarted source only when the next packet follows it, and then the
 * counts start again from it. Jitter is A.8's estimate in RTP timestamp
 * units, kept in 1/16 units as the RFC's integer version does; a timestamp
 * jump of more than 10 s (a source switched) does not count. */
#ifndef RV_RTCPSTAT_H
#define RV_RTCPSTAT_H

#include <stdint.h>

#include "rtp.h"

struct rv_rtcpstat {
	uint32_t ssrc;
	uint32_t clock;                  /* RTP clock rate, Hz */
	int init;                        /* a packet has been counted */
	uint16_t max_seq;
	uint32_t cycles;                 /* wraps of the sequence number, << 16 */
	uint32_t base_seq, bad_seq;      /* bad_seq: the next after a jump; > 0xFFFF none */
	uint64_t received, expected_prior, received_prior;
	uint32_t jitter16;               /* the jitter estimate * 16 */
	int32_t transit;                 /* arrival - timestamp, RTP units, of the last packet */
	int have_transit;
	uint32_t lsr;                    /* middle 32 bits of the last SR's NTP time */
	uint64_t lsr_at_us;              /* when it came */
	int have_sr;
};

/* rv_rtcpstat_init - S counts source SSRC, whose RTP clock is CLOCK Hz. */
void rv_rtcpstat_init(struct rv_rtcpstat *s, uint32_t ssrc, uint32_t clock);
/* rv_rtcpstat_packet - an RTP packet (SEQ, TS) arrived at NOW_US. 1 when
 * it was counted, 0 when it was the first after a jump and is held back
 * until the next confirms it (A.1's bad_seq). */
int rv_rtcpstat_packet(struct rv_rtcpstat *s, uint16_t seq, uint32_t ts, uint64_t now_us);
/* rv_rtcpstat_sr - a sender report with NTP time NTP (32.32) arrived at NOW_US. */
void rv_rtcpstat_sr(struct rv_rtcpstat *s, uint64_t ntp, uint64_t now_us);
/* rv_rtcpstat_block - the report block as of NOW_US into RB: the fraction
 * lost counts from the previous call (A.3), the cumulative loss may be
 * negative (duplicates), DLSR is 0 with LSR before any SR. 0, or -1 before
 * any packet (then RB is untouched). */
int rv_rtcpstat_block(struct rv_rtcpstat *s, uint64_t now_us, struct rv_rtcp_rb *rb);
/* rv_rtcpstat_jitter - the jitter estimate now, in RTP timestamp units. */
uint32_t rv_rtcpstat_jitter(const struct rv_rtcpstat *s);

#endif
