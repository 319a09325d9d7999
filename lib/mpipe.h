/* mpipe.h - the header of a media pipe datagram between two rvserver
 * cluster nodes (cmd/rvserver/cluster_pipe.c), sans-I/O.
 *
 * A pipe datagram is RV_MPIPE_HEAD bytes, then one RTP or RTCP packet
 * exactly as the sender made it (SRTP/SRTCP: the nodes never hold the key):
 *
 *    u32 stream   the stream's number on the node it comes from (forward)
 *                 or goes back to (feedback), network order, not 0
 *    u16 flags    RV_MPIPE_FORWARD (sender's node -> receivers' node) or
 *                 RV_MPIPE_FEEDBACK (receivers' RTCP back); exactly one
 *    u16 reserved 0
 *
 * Ownership: none; the parser points into the caller's bytes. */
#ifndef RV_MPIPE_H
#define RV_MPIPE_H

#include <stddef.h>
#include <stdint.h>

#define RV_MPIPE_HEAD 8
#define RV_MPIPE_FORWARD 1
#define RV_MPIPE_FEEDBACK 2
#define RV_MPIPE_MIN_PACKET 8           /* an RTCP header and its SSRC */

struct rv_mpipe {
	uint32_t stream;
	uint16_t flags;
	const uint8_t *packet;          /* into the caller's input */
	size_t len;
};

/* rv_mpipe_parse - the N bytes at P into *M. 0; RV_EPROTO when N is below
 * RV_MPIPE_HEAD + RV_MPIPE_MIN_PACKET, the stream is 0, the flags are not
 * exactly one direction, the reserved bits are set, or the packet is not
 * RTP version 2. */
int rv_mpipe_parse(const uint8_t *p, size_t n, struct rv_mpipe *m);

/* rv_mpipe_head - write the head for STREAM and FLAGS to OUT. */
void rv_mpipe_head(uint8_t out[RV_MPIPE_HEAD], uint32_t stream, uint16_t flags);

#endif
