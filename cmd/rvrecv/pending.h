/* pending.h - frames waiting for their place in time.
 *
 * A recording of audio and video places both on one timeline by the
 * sender's reports (RTCP SR), and a track's first report may come a second
 * or more after its first packets: browsers send theirs after about a
 * second. Until both tracks have one, their frames wait here in arrival
 * order (copied), at most PENDING_MAX_BYTES and PENDING_MAX_MS; past a cap
 * everything held is dropped and the queue refuses more, so the recording
 * falls back to starting at a keyframe once the reports came. */
#ifndef RVRECV_PENDING_H
#define RVRECV_PENDING_H

#include <stddef.h>
#include <stdint.h>

#define PENDING_MAX_BYTES (8u << 20)
#define PENDING_MAX_MS 5000

struct pending_item {
	struct pending_item *next;
	int audio, key;
	uint32_t ts;                 /* RTP time of its track */
	size_t len;
	uint8_t data[];
};

struct pending {
	struct pending_item *head, *tail;
	size_t bytes;
	double first_at;             /* when the oldest held came */
	int refused;                 /* a cap was passed: holds no more */
};

/* pending_add - keep a copy of a frame (P, N bytes) that came at NOW: 0;
 * -1 when refused (a cap was passed now or before: nothing is held). */
int pending_add(struct pending *q, int audio, int key, uint32_t ts, const uint8_t *p, size_t n, double now);
/* pending_pop - the oldest frame held (the caller frees it), or NULL. */
struct pending_item *pending_pop(struct pending *q);
/* pending_clear - drop what is held. */
void pending_clear(struct pending *q);

#endif
