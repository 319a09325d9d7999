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
 * Resending is limited two ways (rv_rtpcache_resend), so that a viewer's
 * NACKs cannot make the server send much more than it sent: a packet is
 * sent again at most once per RV_RTPCACHE_GAP_MS (a NACK repeated before
 * the first answer could arrive gets nothing), and the bytes sent again
 * come from a budget that every packet put adds half its length to, banked
 * up to RV_RTPCACHE_BANK bytes (a burst of loss is answered whole, a flood
 * of NACKs at most at half the stream's rate).
 *
 * Sans-I/O; the caller owns the struct, rv_rtpcache_free releases the
 * ring. */
#ifndef RV_RTPCACHE_H
#define RV_RTPCACHE_H

#include <stddef.h>
#include <stdint.h>

#define RV_RTPCACHE_SLOT 1500        /* the largest packet kept */
#define RV_RTPCACHE_MAX 32768        /* slots at most: half the sequence space */
#define RV_RTPCACHE_GAP_MS 20        /* one packet sent again at most this often */
#define RV_RTPCACHE_BANK (256 * 1024) /* the resend budget's cap, bytes */

struct rv_rtpcache_slot {
	uint32_t ext;                    /* extended sequence number */
	uint16_t len;                    /* 0: empty */
	uint64_t resent_ms;              /* when it was last sent again; 0: never */
};

struct rv_rtpcache {
	uint8_t *buf;                    /* N * RV_RTPCACHE_SLOT, NULL until the first put */
	struct rv_rtpcache_slot *slots;
	size_t n;
	uint32_t top;                    /* the highest extended sequence number put */
	int started;
	size_t budget;                   /* bytes that may be sent again now */
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

/* rv_rtpcache_resend outcomes */
enum { RV_RTPCACHE_MISS, RV_RTPCACHE_SEND, RV_RTPCACHE_RECENT, RV_RTPCACHE_OVER };
/* rv_rtpcache_resend - a NACK for SEQ at NOW_MS (> 0): RV_RTPCACHE_SEND
 * with the packet in *P (*LEN bytes, valid until the next put), its time
 * noted and its length spent from the budget; RV_RTPCACHE_MISS when the
 * cache does not have it (ask the source); RV_RTPCACHE_RECENT when it was
 * sent again less than RV_RTPCACHE_GAP_MS ago, RV_RTPCACHE_OVER when the
 * budget is short of it (both: send nothing). */
int rv_rtpcache_resend(struct rv_rtpcache *c, uint16_t seq, uint64_t now_ms, const uint8_t **p, size_t *len);

#endif
