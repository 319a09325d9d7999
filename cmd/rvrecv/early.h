/* early.h - media packets that came before their stream was announced.
 *
 * The server relays a stream's first packets over UDP at once, while the
 * "stream" event that names their SSRC goes on the TCP connection: the
 * packets may arrive first, and the first of them hold the keyframe the
 * recording starts at. They are held here, by arrival, at most EARLY_MAX
 * of them (the oldest go first) for at most EARLY_MS, and handed back when
 * a stream with their SSRC is announced. One allocation, at early_init. */
#ifndef RVRECV_EARLY_H
#define RVRECV_EARLY_H

#include <stddef.h>
#include <stdint.h>

#define EARLY_MAX 256                /* packets held at most */
#define EARLY_MS 1000                /* each for at most this long */

struct early;

/* early_init - an empty holding area in *OUT: 0 or -ENOMEM. */
int early_init(struct early **out);
void early_free(struct early *e);
/* early_hold - keep the packet P (N bytes, at most JITTER_PKT) of SSRC,
 * arrived at NOW (ms). */
void early_hold(struct early *e, const uint8_t *p, size_t n, uint32_t ssrc, double now);
/* early_take - hand FN (with UD) every packet of SSRC held since
 * NOW - EARLY_MS, oldest first, and forget them. */
void early_take(struct early *e, uint32_t ssrc, double now, void (*fn)(void *ud, const uint8_t *p, size_t n),
		void *ud);

#endif
