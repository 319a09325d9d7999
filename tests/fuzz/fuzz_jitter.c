/* fuzz_jitter.c - rvrecv's jitter buffer fed RTP packets from the network:
 * arbitrary packets in any order at advancing times, ticks, NACKs and give-ups,
 * and the packets it hands on depacketized (H.264 or VP8).
 *
 * The input: a byte of settings (bit 0: VP8, else H.264; bit 1: a NACK
 * callback; bit 2: a give-up callback; bit 3: max_tries from bits 4-7), a
 * byte for the hold time (1 + 2 * B ms), then records, by op byte % 3:
 *   0: u16 length | packet | u8 time step        a raw packet
 *   1: u16 time step                             a tick
 *   2: u8 seq step | u8 flags | u8 length | payload | u8 time step
 *      an RTP packet built around PAYLOAD, its sequence number a step
 *      (-128..127, or a jump with flag 0x80) from the last one built
 * Times start at 1000 ms and only advance, as a monotonic clock does.
 *
 * Checked as it runs: what is held lies between the next to hand on and the
 * highest seen, at most a window apart; packets come out as valid RTP, each
 * the next in sequence; a NACK asks, once each and in order, only for
 * numbers in that range that are not held, and survives rv_rtcp_build_nack
 * and rv_rtcp_nack_each unchanged; a give-up follows a loss; a last tick far
 * in the future hands on everything held. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cmd/rvrecv/jitter.c"

struct fuzz {
	struct jitter j;
	struct rv_depack dp;
	uint64_t lost_seen;             /* j.lost at the last give-up */
	uint16_t nack_seqs[64];         /* one NACK's numbers, parsed back */
	size_t nack_n;
};

static void check_state(const struct jitter *j)
{
	if (!j->have_next)
		return;
	/* the highest seen is at most a window ahead of the next to hand on,
	 * and never more than one behind it */
	int16_t d = (int16_t)(j->top - j->next);
	if (d < -1 || d >= JITTER_SLOTS)
		abort();
	/* what is held lies between them, in its own slot */
	for (int i = 0; i < JITTER_SLOTS; i++) {
		const struct jitter_slot *s = &j->slots[i];
		if (s->used && (s->seq % JITTER_SLOTS != i || (int16_t)(s->seq - j->next) < 0 ||
				(int16_t)(j->top - s->seq) < 0))
			abort();
	}
}

static void on_frame(void *ud, const uint8_t *f, size_t len, uint32_t ts, int key)
{
	struct fuzz *z = ud;
	(void)ts; (void)key;
	if (len > (1u << 20))
		abort();
	if (z->dp.codec == RV_DEPACK_H264) {
		rv_h264_is_keyframe(f, len);
	} else {
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < len; i++)
			sum ^= f[i];
		(void)sum;
	}
}

static void on_deliver(void *ud, const uint8_t *p, size_t n)
{
	struct fuzz *z = ud;
	struct rv_rtp r;
	/* only what jitter_push accepted, and the next in sequence */
	if (n > JITTER_PKT || rv_rtp_parse(p, n, &r) < 0 || r.seq != z->j.next)
		abort();
	rv_depack_push(&z->dp, &r);
}

static void nack_seq(void *ud, uint16_t seq)
{
	struct fuzz *z = ud;
	size_t i;
	for (i = 0; i < z->nack_n && z->nack_seqs[i] != seq; i++)
		;
	if (i == z->nack_n)
		abort();	/* asked for one that was not given */
}

static void on_nack(void *ud, const uint16_t *seqs, size_t n)
{
	struct fuzz *z = ud;
	const struct jitter *j = &z->j;
	if (n == 0 || n >= JITTER_SLOTS)
		abort();
	for (size_t i = 0; i < n; i++) {
		uint16_t q = seqs[i];
		const struct jitter_slot *s = &j->slots[q % JITTER_SLOTS];
		if ((int16_t)(q - j->next) < 0 || (int16_t)(j->top - q) <= 0)
			abort();	/* delivered already, or never missed */
		if (s->used && s->seq == q)
			abort();	/* held: not missing */
		if (i && (int16_t)(q - seqs[i - 1]) <= 0)
			abort();	/* each once, in order */
	}
	/* as rvrecv's watch does: NACK packets of at most 64 numbers each,
	 * which must parse back to the same numbers */
	for (size_t i = 0; i < n; i += 64) {
		size_t k = n - i < 64 ? n - i : 64;
		uint8_t buf[1200];
		int len = rv_rtcp_build_nack(buf, sizeof buf, 0x11111111, 0x22222222, seqs + i, k);
		if (len < 0)
			abort();
		memcpy(z->nack_seqs, seqs + i, k * sizeof *seqs);
		z->nack_n = k;
		size_t off = 0;
		struct rv_rtcp c;
		if (rv_rtcp_next(buf, (size_t)len, &off, &c) != 1 || off != (size_t)len ||
		    c.type != RV_RTCP_RTPFB || c.fmt != 1 || c.sender_ssrc != 0x11111111 ||
		    c.media_ssrc != 0x22222222)
			abort();
		int got = rv_rtcp_nack_each(&c, nack_seq, z);
		if (got != (int)k)
			abort();	/* every number asked for, once */
	}
}

static void on_gave_up(void *ud)
{
	struct fuzz *z = ud;
	if (z->j.lost <= z->lost_seen)
		abort();	/* a give-up without a loss */
	z->lost_seen = z->j.lost;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz fz;
	struct fuzz *z = &fz;
	if (size < 2)
		return 0;
	memset(z, 0, sizeof *z);
	uint8_t set = data[0];
	double hold = 1 + data[1] * 2;	/* 1..511 ms */
	if (jitter_init(&z->j, hold, on_deliver, z) < 0)
		return 0;
	if (set & 2)
		z->j.nack = on_nack;
	if (set & 4)
		z->j.gave_up = on_gave_up;
	if (set & 8)
		z->j.max_tries = set >> 4;
	rv_depack_init(&z->dp, set & 1 ? RV_DEPACK_VP8 : RV_DEPACK_H264, 1 << 20, on_frame, z);

	double now = 1000;
	uint16_t seq = 0;
	uint32_t ts = 0;
	uint8_t pkt[JITTER_PKT + 16];
	size_t p = 2;
	while (p < size) {
		uint8_t op = data[p++];
		switch (op % 3) {
		case 0: {	/* a raw packet */
			if (p + 2 > size)
				goto done;
			size_t n = get16(data + p);
			p += 2;
			if (n > size - p)
				n = size - p;
			/* a copy, so that reading past it is caught */
			uint8_t *copy = malloc(n ? n : 1);
			if (!copy)
				goto done;
			memcpy(copy, data + p, n);
			p += n;
			jitter_push(&z->j, copy, n, now);
			free(copy);
			if (p < size)
				now += data[p++];
			break;
		}
		case 1:		/* a tick */
			if (p + 2 > size)
				goto done;
			now += get16(data + p);
			p += 2;
			jitter_tick(&z->j, now);
			break;
		case 2: {	/* a built RTP packet */
			if (p + 3 > size)
				goto done;
			uint8_t step = data[p], flags = data[p + 1];
			size_t n = data[p + 2];
			p += 3;
			if (flags & 0x80)
				seq = (uint16_t)(seq + (uint16_t)(step << 8 | step));
			else
				seq = (uint16_t)(seq + (int8_t)step);
			if (flags & 0x40)
				ts += 3000;
			if (n > size - p)
				n = size - p;
			struct rv_rtp r = { .pt = 96 + (flags & 7), .marker = (flags >> 3) & 1,
					    .seq = seq, .ts = ts, .ssrc = 0x1234 };
			rv_rtp_header(pkt, &r);
			memcpy(pkt + RV_RTP_HEADER, data + p, n);
			p += n;
			jitter_push(&z->j, pkt, RV_RTP_HEADER + n, now);
			if (p < size)
				now += data[p++];
			break;
		}
		}
		check_state(&z->j);
	}
done:
	jitter_tick(&z->j, now + 1e6);	/* hand on what is held: all of it */
	check_state(&z->j);
	for (int i = 0; z->j.have_next && i < JITTER_SLOTS; i++)
		if (z->j.slots[i].used)
			abort();
	rv_depack_free(&z->dp);
	jitter_free(&z->j);
	return 0;
}
