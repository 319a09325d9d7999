/* pending.c - frames waiting for their place in time (see pending.h). */
#include <stdlib.h>
#include <string.h>

#include "pending.h"

void pending_clear(struct pending *q)
{
	struct pending_item *it;
	while ((it = pending_pop(q)))
		free(it);
}

int pending_add(struct pending *q, int audio, int key, uint32_t ts, const uint8_t *p, size_t n, double now)
{
	if (q->refused)
		return -1;
	if (!q->head)
		q->first_at = now;
	struct pending_item *it = NULL;
	if (q->bytes + n > PENDING_MAX_BYTES || now - q->first_at > PENDING_MAX_MS ||
	    !(it = malloc(sizeof *it + n))) {
		pending_clear(q);
		q->refused = 1;
		return -1;
	}
	it->next = NULL;
	it->audio = audio;
	it->key = key;
	it->ts = ts;
	it->len = n;
	memcpy(it->data, p, n);
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->bytes += n;
	return 0;
}

struct pending_item *pending_pop(struct pending *q)
{
	struct pending_item *it = q->head;
	if (it) {
		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		q->bytes -= it->len;
	}
	return it;
}
