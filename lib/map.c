/* map.c - string-keyed open-addressing hash map (FNV-1a, linear probing). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

static const char tombstone[1];

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

void rv_map_init(struct rv_map *m)
{
	memset(m, 0, sizeof *m);
}

void rv_map_free(struct rv_map *m)
{
	free(m->slots);
	rv_map_init(m);
}

static struct rv_map_slot *find(const struct rv_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
		struct rv_map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != tombstone && strcmp(s->key, key) == 0)
			return s;
	}
}

void *rv_map_get(const struct rv_map *m, const char *key)
{
	struct rv_map_slot *s = find(m, key);
	return s ? s->val : NULL;
}

static int grow(struct rv_map *m)
{
	size_t cap = m->cap ? m->cap : 8;
	while ((m->count + 1) * 4 >= cap * 3)	/* keep live load under 3/4 */
		cap *= 2;
	struct rv_map_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct rv_map_slot *s = &m->slots[i];
		if (!s->key || s->key == tombstone)
			continue;
		size_t j = hash(s->key) & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->count;
	return 0;
}

int rv_map_put(struct rv_map *m, const char *key, void *val)
{
	struct rv_map_slot *s = find(m, key);
	if (s) {
		s->key = key;
		s->val = val;
		return 0;
	}
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) < 0)
		return -ENOMEM;
	size_t mask = m->cap - 1;
	size_t i = hash(key) & mask;
	while (m->slots[i].key && m->slots[i].key != tombstone)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->count++;
	return 0;
}

void *rv_map_del(struct rv_map *m, const char *key)
{
	struct rv_map_slot *s = find(m, key);
	if (!s)
		return NULL;
	void *v = s->val;
	s->key = tombstone;
	s->val = NULL;
	m->count--;
	return v;
}

void *rv_map_next(const struct rv_map *m, size_t *i, const char **key)
{
	for (; *i < m->cap; (*i)++) {
		struct rv_map_slot *s = &m->slots[*i];
		if (s->key && s->key != tombstone) {
			(*i)++;
			if (key)
				*key = s->key;
			return s->val;
		}
	}
	return NULL;
}
