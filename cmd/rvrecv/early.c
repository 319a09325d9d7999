/* early.c - packets before their stream's announcement (see early.h): a
 * ring of fixed slots. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "early.h"
#include "jitter.h"

struct slot {
	double at;
	uint32_t ssrc;               /* 0: empty or taken */
	uint16_t n;
	uint8_t p[JITTER_PKT];
};

struct early {
	struct slot s[EARLY_MAX];
	size_t next;                 /* the slot the next packet takes: the oldest */
};

int early_init(struct early **out)
{
	return (*out = calloc(1, sizeof **out)) ? 0 : -ENOMEM;
}

void early_free(struct early *e)
{
	free(e);
}

void early_hold(struct early *e, const uint8_t *p, size_t n, uint32_t ssrc, double now)
{
	if (!e || !ssrc || n > JITTER_PKT)
		return;
	struct slot *s = &e->s[e->next];
	e->next = (e->next + 1) % EARLY_MAX;
	s->at = now;
	s->ssrc = ssrc;
	s->n = (uint16_t)n;
	memcpy(s->p, p, n);
}

void early_take(struct early *e, uint32_t ssrc, double now, void (*fn)(void *ud, const uint8_t *p, size_t n),
		void *ud)
{
	if (!e || !ssrc)
		return;
	for (size_t k = 0; k < EARLY_MAX; k++) {
		struct slot *s = &e->s[(e->next + k) % EARLY_MAX];
		if (s->ssrc != ssrc)
			continue;
		s->ssrc = 0;
		if (now - s->at <= EARLY_MS)
			fn(ud, s->p, s->n);
	}
}
