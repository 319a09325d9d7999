/* rxstats.c - receiver statistics for RTCP receiver reports (see rxstats.h). */
#include <math.h>
#include <string.h>

#include "rxstats.h"

void rxstats_init(struct rxstats *s, uint32_t ssrc, int clock)
{
	memset(s, 0, sizeof *s);
	s->ssrc = ssrc;
	s->clock = clock;
}

void rxstats_packet(struct rxstats *s, uint16_t seq, uint32_t ts, double now)
{
	s->received++;
	if (!s->init) {
		s->init = 1;
		s->base_seq = seq;
		s->max_seq = seq;
	} else {
		int16_t d = (int16_t)(seq - s->max_seq);
		if (d > 0) {
			if (seq < s->max_seq)
				s->cycles += 65536;
			s->max_seq = seq;
		}
	}
	/* A.8: the transit time's change, smoothed with a gain of 1/16 */
	double transit = now * s->clock / 1000.0 - (double)ts;
	if (s->have_transit) {
		double d = fabs(transit - s->transit);
		if (d < (double)s->clock * 10)	/* not across a timestamp jump */
			s->jitter += (d - s->jitter) / 16;
	}
	s->transit = transit;
	s->have_transit = 1;
}

void rxstats_sr(struct rxstats *s, uint64_t ntp, double now)
{
	s->lsr = (uint32_t)(ntp >> 16);
	s->lsr_at = now;
}

int rxstats_block(struct rxstats *s, double now, struct rv_rtcp_rb *rb)
{
	if (!s->init)
		return -1;
	uint64_t highest = (uint64_t)s->cycles + s->max_seq;
	uint64_t expected = highest - s->base_seq + 1;
	int64_t lost = (int64_t)expected - (int64_t)s->received;	/* retransmissions make it smaller */
	uint64_t exp_int = expected - s->expected_prior, rec_int = s->received - s->received_prior;
	s->expected_prior = expected;
	s->received_prior = s->received;
	int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
	memset(rb, 0, sizeof *rb);
	rb->ssrc = s->ssrc;
	int64_t frac = exp_int && lost_int > 0 ? (lost_int << 8) / (int64_t)exp_int : 0;
	rb->fraction = (uint8_t)(frac > 255 ? 255 : frac);
	rb->lost = lost > 0x7FFFFF ? 0x7FFFFF : lost < 0 ? 0 : (int32_t)lost;
	rb->highest = (uint32_t)highest;
	rb->jitter = (uint32_t)s->jitter;
	if (s->lsr_at) {
		rb->lsr = s->lsr;
		rb->dlsr = (uint32_t)((now - s->lsr_at) * 65536.0 / 1000.0);	/* 1/65536 s */
	}
	return 0;
}
