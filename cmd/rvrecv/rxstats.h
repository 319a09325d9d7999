/* rxstats.h - what a receiver reports about one source (RFC 3550 6.4.1,
 * A.1, A.3, A.8): packets expected and received, the extended highest
 * sequence number, interarrival jitter, and the last sender report, made
 * into an RTCP report block. No I/O: times are passed in. */
#ifndef RVRECV_RXSTATS_H
#define RVRECV_RXSTATS_H

#include <stdint.h>

#include "rtp.h"

struct rxstats {
	uint32_t ssrc;
	int clock;                       /* RTP clock rate */
	int init;
	uint16_t max_seq;
	uint32_t base_seq, cycles;
	uint64_t received, expected_prior, received_prior;
	double jitter;                   /* in RTP units */
	double transit;
	int have_transit;
	uint32_t lsr;                    /* middle 32 bits of the last SR's NTP time */
	double lsr_at;                   /* when it came (ms), 0: none yet */
};

void rxstats_init(struct rxstats *s, uint32_t ssrc, int clock);
/* rxstats_packet - an RTP packet (SEQ, TS) arrived at NOW (ms). */
void rxstats_packet(struct rxstats *s, uint16_t seq, uint32_t ts, double now);
/* rxstats_sr - a sender report with NTP time NTP arrived at NOW (ms). */
void rxstats_sr(struct rxstats *s, uint64_t ntp, double now);
/* rxstats_block - the report block as of NOW; the fraction lost counts
 * from the previous call. 0, or -1 before any packet. */
int rxstats_block(struct rxstats *s, double now, struct rv_rtcp_rb *rb);

#endif
