/* rtpcache.h - the last packets of one RTP stream as they were sent, by
 * sequence number, so that a generic NACK (RFC 4585 6.2.1) is answered by
 * sending them again. rvserver keeps one per WebRTC viewer's video.
 *
 * A ring of N slots (a power of two) of at most RV_RTPCACHE_SLOT bytes
 * each, allocated at the first packet (a cache that is never used costs
 * nothing): packet Q is in slot Q mod N, and a slot also holds Q's
 * extended sequence number (the 16 bits plus the wraps the cache has seen),
 * so a NACK finds only the packet it names and nothing older than the N
 * most recent sequence numbers. Packets that come late are kept when still
 * in the window; a packet older than the window is not stored.
 *
 * Sans-I/O; the caller owns the struct, rv_rtpcache_free releases the
 * ring. */
#ifndef RV_RTPCACHE_H
#define RV_RTPCACHE_H

#include <stddef.h>
#include <stdint.h>

#define RV_RTPCACHE_SLOT 1500        /* the largest packet kept */
#define RV_RTPCACHE_MAX 32768        /* slots at most: half the sequence space */

struct rv_rtpcache_slot {
	uint32_t ext;                    /* extended sequence number */
	uint16_t len;                    /* 0: empty */
};

struct rv_rtpcache {
	uint8_t *buf;                    /* N * RV_RTPCACHE_SLOT, NULL until the first put */
	struct rv_rtpcache_slot *slots;
	size_t n;
	uint32_t top;                    /* the highest extended sequence number put */
	int started;
};

/* rv_rtpcache_init - an empty cache of N slots: 0, or -EINVAL when N is
 * not a power of two from 1 to RV_RTPCACHE_MAX. Allocates nothing. */
int rv_rtpcache_init(struct rv_rtpcache *c, size_t n);
void rv_rtpcache_free(struct rv_rtpcache *c);
/* rv_rtpcache_put - keep the RTP packet P (LEN bytes; its sequence number
 * is read from its header). 0 (also when it is too old to keep),
 * RV_ETOOBIG past RV_RTPCACHE_SLOT, RV_EPROTO for less than an RTP
 * header, -ENOMEM. */
int rv_rtpcache_put(struct rv_rtpcache *c, const uint8_t *p, size_t len);
/* rv_rtpcache_get - packet SEQ as it was put (*LEN bytes, valid until the
 * next put), or NULL when the cache does not have it. */
const uint8_t *rv_rtpcache_get(const struct rv_rtpcache *c, uint16_t seq, size_t *len);

#endif
