/* jitter.h - rvrecv's jitter buffer: RTP packets in any order in, packets
 * in sequence order out. A gap is waited for a bounded time; with a NACK
 * callback the missing packets are asked for at once and again every
 * retry interval; a gap given up on is counted lost and reported, so that
 * the caller can ask for a keyframe. No I/O, no clock: times are passed in. */
#ifndef RVRECV_JITTER_H
#define RVRECV_JITTER_H

#include <stddef.h>
#include <stdint.h>

#define JITTER_SLOTS 512             /* packets held for reordering */
#define JITTER_PKT 1600

struct jitter_slot {
	int used;
	uint16_t seq;
	uint16_t len;
	double at;                       /* when it arrived (ms) */
	uint8_t data[JITTER_PKT];
};

/* A missing packet: asked for (NACKed) at, how many times. */
struct jitter_miss {
	uint16_t seq;
	uint8_t tries, live;
	double at;
};

struct jitter {
	struct jitter_slot *slots;
	struct jitter_miss *miss;        /* by seq % JITTER_SLOTS */
	uint16_t next, top;              /* next to hand out; highest seen */
	int have_next;
	double hold_ms, retry_ms;
	int max_tries;
	uint64_t packets, lost, late, nacked, recovered;
	void (*deliver)(void *ud, const uint8_t *p, size_t n);
	void (*nack)(void *ud, const uint16_t *seqs, size_t n);   /* may be NULL */
	void (*gave_up)(void *ud);                                /* may be NULL */
	void *ud;
};

/* jitter_init - HOLD_MS: the longest a gap is waited for. 0 or -ENOMEM. */
int jitter_init(struct jitter *j, double hold_ms, void (*deliver)(void *, const uint8_t *, size_t),
		void *ud);
void jitter_free(struct jitter *j);
/* jitter_push - one RTP packet (P: N bytes) received at NOW (ms). */
void jitter_push(struct jitter *j, const uint8_t *p, size_t n, double now);
/* jitter_tick - hand on what is due, NACK again, give up on old gaps. */
void jitter_tick(struct jitter *j, double now);

#endif
