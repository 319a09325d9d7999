/* rtcpstat.c - receiver statistics for RTCP reports (see rtcpstat.h). */
#include <string.h>

#include "rtcpstat.h"

#define MAX_DROPOUT 3000                 /* A.1 */
#define MAX_MISORDER 100
#define SEQ_MOD 65536u

void rv_rtcpstat_init(struct rv_rtcpstat *s, uint32_t ssrc, uint32_t clock)
{
	memset(s, 0, sizeof *s);
	s->ssrc = ssrc;
	s->clock = clock;
	s->bad_seq = SEQ_MOD + 1;
}

/* A.1's init_seq: the counts start at SEQ. */
static void restart(struct rv_rtcpstat *s, uint16_t seq)
{
	s->init = 1;
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = SEQ_MOD + 1;
	s->cycles = 0;
	s->received = s->received_prior = s->expected_prior = 0;
	s->have_transit = 0;
}

/* A.8: the change of the transit time, smoothed with a gain of 1/16. */
static void jitter(struct rv_rtcpstat *s, uint32_t ts, uint64_t now_us)
{
	uint64_t c = s->clock;
	uint32_t arrival = (uint32_t)((now_us / 1000000) * c + (now_us % 1000000) * c / 1000000);
	int32_t transit = (int32_t)(arrival - ts);
	if (s->have_transit) {
		int64_t d = (int32_t)((uint32_t)transit - (uint32_t)s->transit);
		if (d < 0)
			d = -d;
		if (d <= (int64_t)c * 10)	/* not across a jump of the timestamps */
			s->jitter16 = (uint32_t)((int64_t)s->jitter16 + d - (((int64_t)s->jitter16 + 8) >> 4));
	}
	s->transit = transit;
	s->have_transit = 1;
}

int rv_rtcpstat_packet(struct rv_rtcpstat *s, uint16_t seq, uint32_t ts, uint64_t now_us)
{
	if (!s->init) {
		restart(s, seq);
	} else {
		uint16_t udelta = (uint16_t)(seq - s->max_seq);
		if (udelta < MAX_DROPOUT) {
			if (seq < s->max_seq)
				s->cycles += SEQ_MOD;
			s->max_seq = seq;
		} else if (udelta <= SEQ_MOD - MAX_MISORDER) {
			if (seq != s->bad_seq) {	/* a jump: wait for the next to confirm it */
				s->bad_seq = (seq + 1u) & (SEQ_MOD - 1);
				return 0;
			}
			restart(s, seq);
		}	/* else late or duplicated: counted only */
	}
	s->received++;
	jitter(s, ts, now_us);
	return 1;
}

void rv_rtcpstat_sr(struct rv_rtcpstat *s, uint64_t ntp, uint64_t now_us)
{
	s->lsr = (uint32_t)(ntp >> 16);
	s->lsr_at_us = now_us;
	s->have_sr = 1;
}

uint32_t rv_rtcpstat_jitter(const struct rv_rtcpstat *s)
{
	return s->jitter16 >> 4;
}

int rv_rtcpstat_block(struct rv_rtcpstat *s, uint64_t now_us, struct rv_rtcp_rb *rb)
{
	if (!s->init)
		return -1;
	uint64_t highest = (uint64_t)s->cycles + s->max_seq;
	uint64_t expected = highest - s->base_seq + 1;
	int64_t lost = (int64_t)expected - (int64_t)s->received;
	uint64_t exp_int = expected - s->expected_prior, rec_int = s->received - s->received_prior;
	int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
	s->expected_prior = expected;
	s->received_prior = s->received;
	memset(rb, 0, sizeof *rb);
	rb->ssrc = s->ssrc;
	int64_t frac = exp_int && lost_int > 0 ? (lost_int << 8) / (int64_t)exp_int : 0;
	rb->fraction = (uint8_t)(frac > 255 ? 255 : frac);	/* all lost: 256 would wrap */
	rb->lost = lost > 0x7FFFFF ? 0x7FFFFF : lost < -0x800000 ? -0x800000 : (int32_t)lost;
	rb->highest = (uint32_t)highest;
	rb->jitter = rv_rtcpstat_jitter(s);
	if (s->have_sr) {
		rb->lsr = s->lsr;
		rb->dlsr = (uint32_t)((now_us - s->lsr_at_us) * 65536 / 1000000);	/* 1/65536 s */
	}
	return 0;
}
