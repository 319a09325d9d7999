/* sniff.h - which protocol a connection speaks, from its first bytes, no I/O.
 *
 * One port serves several protocols (rvserver: TLS, the RV preface and HTTP;
 * rvsignal: TLS, then HTTP or its line broker). The caller keeps the first
 * bytes of a connection until rv_sniff decides, and hands it all of them
 * each time (nothing is kept here):
 *
 *   RV_SNIFF_MORE     the bytes so far fit more than one answer: wait
 *   RV_SNIFF_TLS      a TLS record (0x16, a handshake): a ClientHello
 *   RV_SNIFF_PREFACE  the caller's preface, whole (its bytes are the
 *                     preface's: the protocol starts after them)
 *   RV_SNIFF_HTTP     an HTTP request line (an upper-case method letter)
 *   RV_SNIFF_STUN     ICE over TCP (RFC 6544): a STUN Binding request framed
 *                     as RFC 4571 says (a 2-byte big-endian length of 20 to
 *                     RV_SNIFF_STUN_MAX, then type 0x0001, a 2-byte length
 *                     and the magic cookie 0x2112A442: 10 bytes decide)
 *   RV_SNIFF_OTHER    none of those it accepts: the caller's fallback
 *                     (rvserver closes; rvsignal reads lines or HTTP)
 *
 * ACCEPT says which of TLS, PREFACE, HTTP and STUN to look for (RV_SNIFF_ACCEPT
 * bits); a protocol not accepted is never answered, so after a TLS
 * handshake the caller sniffs the plaintext again without TLS. A decision
 * needs at most max(1, preface length) bytes, 10 with STUN accepted (a
 * first byte 0x00 to 0x05 may be a framed length until then). */
#ifndef RV_SNIFF_H
#define RV_SNIFF_H

#include <stddef.h>
#include <stdint.h>

enum rv_sniff { RV_SNIFF_MORE, RV_SNIFF_TLS, RV_SNIFF_PREFACE, RV_SNIFF_HTTP, RV_SNIFF_OTHER,
	       RV_SNIFF_STUN };

#define RV_SNIFF_ACCEPT(p) (1u << (p))   /* RV_SNIFF_ACCEPT(RV_SNIFF_TLS) | ... */

/* The TLS record type of a handshake: a ClientHello's first byte. */
#define RV_SNIFF_TLS_BYTE 0x16
/* The largest framed datagram RV_SNIFF_STUN takes (ICE-TCP: one MTU). */
#define RV_SNIFF_STUN_MAX 1500

/* rv_sniff - decide from P[0..N), the first N bytes the peer sent.
 * PREFACE (PLEN bytes, PLEN > 0) is looked for when ACCEPT has PREFACE;
 * it may be NULL otherwise. No bytes (N 0) are always MORE. */
enum rv_sniff rv_sniff(const uint8_t *p, size_t n, unsigned accept,
		       const void *preface, size_t plen);

#endif
