/* bmap.c - a byte-keyed open-addressing hash map (FNV-1a, linear probing). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bmap.h"
#include "err.h"

enum { EMPTY, LIVE, DELETED };

static uint64_t hash(const uint8_t *k, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= k[i];
		h *= 1099511628211ULL;
	}
	return h ^ h >> 29;	/* the low bits pick the slot: mix the high ones in */
}

void rv_bmap_init(struct rv_bmap *m, size_t klen, size_t max)
{
	memset(m, 0, sizeof *m);
	m->klen = klen < 1 ? 1 : klen > RV_BMAP_KEY_MAX ? RV_BMAP_KEY_MAX : klen;
	m->max = max;
}

void rv_bmap_free(struct rv_bmap *m)
{
	free(m->slots);
	rv_bmap_init(m, m->klen, m->max);
}

static struct rv_bmap_slot *find(const struct rv_bmap *m, const uint8_t *key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = hash(key, m->klen) & mask;; i = (i + 1) & mask) {
		struct rv_bmap_slot *s = &m->slots[i];
		if (s->state == EMPTY)
			return NULL;
		if (s->state == LIVE && memcmp(s->key, key, m->klen) == 0)
			return s;
	}
}

void *rv_bmap_get(const struct rv_bmap *m, const void *key)
{
	struct rv_bmap_slot *s = find(m, key);
	return s ? s->val : NULL;
}

/* A table for one more live entry, tombstones dropped. */
static int grow(struct rv_bmap *m)
{
	size_t cap = m->cap ? m->cap : 8;
	while ((m->count + 1) * 4 >= cap * 3)	/* keep live load under 3/4 */
		cap *= 2;
	struct rv_bmap_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct rv_bmap_slot *s = &m->slots[i];
		if (s->state != LIVE)
			continue;
		size_t j = hash(s->key, m->klen) & (cap - 1);
		while (slots[j].state != EMPTY)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->count;
	return 0;
}

int rv_bmap_put(struct rv_bmap *m, const void *key, void *val)
{
	struct rv_bmap_slot *s = find(m, key);
	if (s) {
		s->val = val;
		return 0;
	}
	if (m->max && m->count >= m->max)
		return RV_ELIMIT;
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) < 0)
		return -ENOMEM;
	size_t mask = m->cap - 1;
	size_t i = hash(key, m->klen) & mask;
	while (m->slots[i].state == LIVE)
		i = (i + 1) & mask;
	s = &m->slots[i];
	if (s->state == EMPTY)
		m->used++;
	memcpy(s->key, key, m->klen);
	s->state = LIVE;
	s->val = val;
	m->count++;
	return 0;
}

void *rv_bmap_del(struct rv_bmap *m, const void *key)
{
	struct rv_bmap_slot *s = find(m, key);
	if (!s)
		return NULL;
	void *v = s->val;
	s->state = DELETED;
	s->val = NULL;
	m->count--;
	return v;
}

void *rv_bmap_next(const struct rv_bmap *m, size_t *i, const uint8_t **key)
{
	for (; *i < m->cap; (*i)++) {
		struct rv_bmap_slot *s = &m->slots[*i];
		if (s->state == LIVE) {
			(*i)++;
			if (key)
				*key = s->key;
			return s->val;
		}
	}
	return NULL;
}
