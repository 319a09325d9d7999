/* dgram.h - datagrams on a stream, RFC 4571 framing, no I/O.
 *
 * ICE over TCP (RFC 6544) carries STUN, DTLS and SRTP on a TCP connection,
 * each datagram preceded by its length in 2 bytes, big-endian. The caller
 * keeps the bytes read and not yet taken, and hands them all each time.
 * A length of 0 or past the caller's MAX is a protocol error: the stream
 * cannot be read further (close it). */
#ifndef RV_DGRAM_H
#define RV_DGRAM_H

#include <stddef.h>
#include <stdint.h>

#define RV_DGRAM_HEAD 2                 /* the length before each datagram */

/* rv_dgram_next - the first datagram of P[0..N) into *PKT (pointing into P)
 * and *PLEN. Returns the bytes it took (its head and body, > 0), 0 when it
 * is not whole yet, or RV_EPROTO for a length of 0 or above MAX. */
long rv_dgram_next(const uint8_t *p, size_t n, size_t max, const uint8_t **pkt, size_t *plen);

/* rv_dgram_head - the head of a datagram of N bytes (1..65535) into OUT. */
void rv_dgram_head(uint8_t out[RV_DGRAM_HEAD], size_t n);

#endif
