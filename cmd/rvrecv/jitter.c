/* jitter.c - rvrecv's jitter buffer (see jitter.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jitter.h"
#include "rtp.h"

#define S JITTER_SLOTS

int jitter_init(struct jitter *j, double hold_ms, void (*deliver)(void *, const uint8_t *, size_t),
		void *ud)
{
	memset(j, 0, sizeof *j);
	j->slots = calloc(S, sizeof *j->slots);
	j->miss = calloc(S, sizeof *j->miss);
	if (!j->slots || !j->miss) {
		jitter_free(j);
		return -ENOMEM;
	}
	j->hold_ms = hold_ms;
	j->retry_ms = hold_ms / 4;
	j->max_tries = 3;
	j->deliver = deliver;
	j->ud = ud;
	return 0;
}

void jitter_free(struct jitter *j)
{
	free(j->slots);
	free(j->miss);
	j->slots = NULL;
	j->miss = NULL;
}

static void reset(struct jitter *j, uint16_t seq)
{
	for (int i = 0; i < S; i++) {
		j->slots[i].used = 0;
		j->miss[i].live = 0;
	}
	j->next = seq;
	j->top = (uint16_t)(seq - 1);
}

static void nack(struct jitter *j, const uint16_t *seqs, size_t n)
{
	if (n && j->nack) {
		j->nacked += n;
		j->nack(j->ud, seqs, n);
	}
}

void jitter_push(struct jitter *j, const uint8_t *p, size_t n, double now)
{
	struct rv_rtp r;
	if (n > JITTER_PKT || rv_rtp_parse(p, n, &r) < 0)
		return;
	j->packets++;
	if (!j->have_next) {
		j->have_next = 1;
		reset(j, r.seq);
	}
	int16_t d = (int16_t)(r.seq - j->next);
	if (d < 0 && d > -S) {
		j->late++;	/* too late, or a duplicate */
		return;
	}
	if (d >= S || d < 0) {	/* a jump either way (a sender that restarted): start over here */
		if (d > 0)
			j->lost += (uint64_t)d;
		reset(j, r.seq);
	}
	struct jitter_slot *s = &j->slots[r.seq % S];
	if (s->used && s->seq == r.seq)
		return;	/* a duplicate (a retransmission that crossed the original) */
	s->used = 1;
	s->seq = r.seq;
	s->len = (uint16_t)n;
	s->at = now;
	memcpy(s->data, p, n);
	struct jitter_miss *m = &j->miss[r.seq % S];
	if (m->live && m->seq == r.seq) {
		m->live = 0;
		j->recovered++;
	}
	if ((int16_t)(r.seq - j->top) > 0) {	/* beyond the highest: a gap opens */
		uint16_t want[S];
		size_t nw = 0;
		for (uint16_t q = (uint16_t)(j->top + 1); q != r.seq; q++) {
			struct jitter_miss *x = &j->miss[q % S];
			x->seq = q;
			x->live = 1;
			x->tries = 1;
			x->at = now;
			want[nw++] = q;
		}
		j->top = r.seq;
		nack(j, want, nw);
	}
	jitter_tick(j, now);
}

void jitter_tick(struct jitter *j, double now)
{
	int gave_up = 0, known = 0;
	double oldest = 0;
	if (!j->have_next)
		return;
	for (;;) {
		struct jitter_slot *s = &j->slots[j->next % S];
		if (s->used && s->seq == j->next) {
			s->used = 0;
			j->deliver(j->ud, s->data, s->len);
			j->next++;
			known = 0;	/* it may have been the oldest */
			continue;
		}
		if ((int16_t)(j->top - j->next) < 0)
			break;	/* nothing held */
		if (!known) {	/* giving up on a packet does not change the oldest held */
			oldest = 0;
			for (int i = 0; i < S; i++)
				if (j->slots[i].used && (!oldest || j->slots[i].at < oldest))
					oldest = j->slots[i].at;
			known = 1;
		}
		if (!oldest || now - oldest < j->hold_ms)
			break;
		j->lost++;	/* waited long enough for this one */
		j->miss[j->next % S].live = 0;
		j->next++;
		gave_up = 1;
	}
	if (gave_up && j->gave_up)
		j->gave_up(j->ud);
	/* ask again for what is still missing */
	uint16_t want[S];
	size_t nw = 0;
	for (uint16_t q = j->next; (int16_t)(j->top - q) > 0; q++) {
		struct jitter_miss *m = &j->miss[q % S];
		if (m->live && m->seq == q && m->tries < j->max_tries && now - m->at >= j->retry_ms) {
			m->tries++;
			m->at = now;
			want[nw++] = q;
		}
	}
	nack(j, want, nw);
}
