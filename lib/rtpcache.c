/* rtpcache.c - the last packets sent, for NACKs (see rtpcache.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "rtp.h"
#include "rtpcache.h"

int rv_rtpcache_init(struct rv_rtpcache *c, size_t n)
{
	memset(c, 0, sizeof *c);
	if (n == 0 || n > RV_RTPCACHE_MAX || (n & (n - 1)))
		return -EINVAL;
	c->n = n;
	return 0;
}

void rv_rtpcache_free(struct rv_rtpcache *c)
{
	free(c->buf);
	free(c->slots);
	c->buf = NULL;
	c->slots = NULL;
	c->started = 0;
}

/* SEQ's extended number next to the highest seen. */
static uint32_t extend(const struct rv_rtpcache *c, uint16_t seq)
{
	return c->top + (uint32_t)(int32_t)(int16_t)(seq - (uint16_t)c->top);
}

int rv_rtpcache_put(struct rv_rtpcache *c, const uint8_t *p, size_t len)
{
	if (len < RV_RTP_HEADER)
		return RV_EPROTO;
	if (len > RV_RTPCACHE_SLOT)
		return RV_ETOOBIG;
	if (!c->buf) {
		c->buf = malloc(c->n * RV_RTPCACHE_SLOT);
		c->slots = calloc(c->n, sizeof *c->slots);
		if (!c->buf || !c->slots) {
			rv_rtpcache_free(c);
			return -ENOMEM;
		}
	}
	uint16_t seq = rv_rd16(p + 2);
	uint32_t ext;
	if (!c->started) {
		ext = 0x10000u + seq;	/* room below for late packets */
		c->top = ext;
		c->started = 1;
	} else {
		ext = extend(c, seq);
		if ((int32_t)(ext - c->top) > 0)
			c->top = ext;
		else if (c->top - ext >= c->n)
			return 0;	/* older than the window: its slot holds a newer one */
	}
	struct rv_rtpcache_slot *s = &c->slots[ext & (c->n - 1)];
	s->ext = ext;
	s->len = (uint16_t)len;
	s->resent_ms = 0;
	c->budget += len / 2;
	if (c->budget > RV_RTPCACHE_BANK)
		c->budget = RV_RTPCACHE_BANK;
	memcpy(c->buf + (ext & (c->n - 1)) * RV_RTPCACHE_SLOT, p, len);
	return 0;
}

/* SEQ's slot when the cache holds it, else NULL. */
static struct rv_rtpcache_slot *slot_of(const struct rv_rtpcache *c, uint16_t seq)
{
	if (!c->buf || !c->started)
		return NULL;
	uint32_t ext = extend(c, seq);
	if ((int32_t)(ext - c->top) > 0 || c->top - ext >= c->n)
		return NULL;
	struct rv_rtpcache_slot *s = &c->slots[ext & (c->n - 1)];
	return s->len && s->ext == ext ? s : NULL;
}

const uint8_t *rv_rtpcache_get(const struct rv_rtpcache *c, uint16_t seq, size_t *len)
{
	const struct rv_rtpcache_slot *s = slot_of(c, seq);
	if (!s)
		return NULL;
	*len = s->len;
	return c->buf + (size_t)(s - c->slots) * RV_RTPCACHE_SLOT;
}

int rv_rtpcache_resend(struct rv_rtpcache *c, uint16_t seq, uint64_t now_ms, const uint8_t **p, size_t *len)
{
	struct rv_rtpcache_slot *s = slot_of(c, seq);
	if (!s)
		return RV_RTPCACHE_MISS;
	if (s->resent_ms && now_ms < s->resent_ms + RV_RTPCACHE_GAP_MS)
		return RV_RTPCACHE_RECENT;
	if (c->budget < s->len)
		return RV_RTPCACHE_OVER;
	c->budget -= s->len;
	s->resent_ms = now_ms;
	*len = s->len;
	*p = c->buf + (size_t)(s - c->slots) * RV_RTPCACHE_SLOT;
	return RV_RTPCACHE_SEND;
}
