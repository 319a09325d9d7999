/* p2pcap.h - capabilities of a restricted peer group, no I/O.
 *
 * A group whose spec has RV_P2P_CAP_RESTRICT_POSTING (p2pspec.h) takes
 * posts only from its owners (the spec's owner keys) and from holders of a
 * capability an owner signed: no password in the spec, nothing the server
 * or a non-member could make. A capability names the group, the peer it is
 * for, what it allows and until when:
 *
 *   0    u8      version, 1
 *   1    u8      rights: RV_P2P_RIGHT_* bits
 *   2    32 B    group ID
 *   34   32 B    grantee's peer ID
 *   66   u64     expiry, unix seconds
 *   74   32 B    the owner's Ed25519 public key (one of the spec's owners)
 *   106  64 B    Ed25519 signature by that owner of every byte before it
 *
 * (integers big-endian; RV_P2P_CAP_LEN bytes). Its text form is "rvc1:"
 * and the lowercase base32 of those bytes.
 *
 * In such a group, every post's payload starts with one byte: 0 when its
 * author is an owner, 1 followed by the author's capability otherwise, then
 * the application's bytes (rv_p2p_cap_wrap / rv_p2p_cap_admit). Members
 * check it before delivering or passing a post on; one that fails is a bad
 * post, and the neighbour that sent it is cut off.
 *
 * A group whose spec has RV_P2P_CAP_RESTRICT_PUBLISH takes live streams
 * (p2pcast.h) only from its owners and from holders of a capability with
 * RV_P2P_RIGHT_PUBLISH. There a stream's announce (CAST_INFO) is signed by
 * its publisher and carries the capability:
 *
 *   0    u8      0: the publisher is an owner; 1: a capability follows
 *   1    32 B    the publisher's Ed25519 public key
 *   33   170 B   its capability (marker 1 only), for the publisher's peer ID
 *   then 64 B    Ed25519 signature by the publisher of "rvp2p-announce-1",
 *                the stream ID, and every byte of the announce but these 64
 *   then         the application's announce (an SDP)
 *
 * (rv_p2p_cap_announce / rv_p2p_cap_admit_announce). The signature binds
 * the capability to the stream and the announce: a member cannot put its
 * own announce under another's capability, nor move one to another stream.
 * Fragments are not signed (p2pcast.h): an admitted stream's packets are
 * the publisher's SRTP, whose key its announce carries. */
#ifndef RV_P2PCAP_H
#define RV_P2PCAP_H

#include <stddef.h>
#include <stdint.h>

#include "p2penv.h"
#include "p2pspec.h"

#define RV_P2P_CAP_LEN 170
#define RV_P2P_CAP_TEXT (5 + (RV_P2P_CAP_LEN * 8 + 4) / 5 + 1)   /* "rvc1:...", NUL */
#define RV_P2P_CAP_SKEW_S 300        /* an expiry is held to the checker's clock this loosely */

enum { RV_P2P_RIGHT_POST = 1, RV_P2P_RIGHT_PUBLISH = 2 };

/* rv_p2p_cap_make - OWNER's capability for GRANTEE in GROUP with RIGHTS
 * until EXPIRES (unix s) into OUT: 0, or RV_EPROTO (signing failed). */
int rv_p2p_cap_make(const struct rv_p2p_key *owner, const uint8_t group[RV_P2P_HASH_LEN],
		    const uint8_t grantee[RV_P2P_HASH_LEN], uint8_t rights, uint64_t expires,
		    uint8_t out[RV_P2P_CAP_LEN]);
/* rv_p2p_cap_check - is CAP (N bytes) a capability of one of SPEC's owners
 * for GROUP (SPEC's ID), held by AUTHOR (a peer ID), granting RIGHT, not
 * expired at NOW_S (unix s, less RV_P2P_CAP_SKEW_S)? 0, or RV_EDENIED with
 * *WHY: length, version, group, grantee, right, owner, expired, signature. */
int rv_p2p_cap_check(const uint8_t *cap, size_t n, const struct rv_p2p_spec *spec,
		     const uint8_t group[RV_P2P_HASH_LEN], const uint8_t author[RV_P2P_HASH_LEN], uint8_t right,
		     uint64_t now_s, const char **why);
/* The text form: rv_p2p_cap_format writes RV_P2P_CAP_TEXT bytes (with the
 * NUL); rv_p2p_cap_parse reads one (LEN characters, surrounding white
 * space allowed): 0 or RV_EPROTO. */
void rv_p2p_cap_format(const uint8_t cap[RV_P2P_CAP_LEN], char out[RV_P2P_CAP_TEXT]);
int rv_p2p_cap_parse(const char *text, size_t len, uint8_t cap[RV_P2P_CAP_LEN]);

/* rv_p2p_cap_wrap - the payload of a post in a restricted group: the
 * marker, CAP (NULL: we are an owner) and DATA (LEN bytes) into OUT (CAP_OUT
 * bytes): its length, or RV_ETOOBIG. */
long rv_p2p_cap_wrap(const uint8_t *cap, const void *data, size_t len, uint8_t *out, size_t cap_out);
/* rv_p2p_cap_admit - may the post E (opened) stand in SPEC's group (ID
 * GROUP) at NOW_S? 0 with *DATA and *LEN the application's bytes (within E's
 * payload), or RV_EDENIED with *WHY. */
int rv_p2p_cap_admit(const struct rv_p2p_env *e, const struct rv_p2p_spec *spec,
		     const uint8_t group[RV_P2P_HASH_LEN], uint64_t now_s, const uint8_t **data, size_t *len,
		     const char **why);

/* rv_p2p_cap_announce - the announce of stream STREAM in a group that
 * restricts publishing: K's signature, CAP (NULL: K is an owner) and DATA
 * (LEN bytes) into OUT (CAP_OUT bytes): its length, RV_ETOOBIG, or
 * RV_EPROTO (signing failed). */
long rv_p2p_cap_announce(const struct rv_p2p_key *k, const uint8_t *cap, const uint8_t stream[RV_P2P_HASH_LEN],
			 const void *data, size_t len, uint8_t *out, size_t cap_out);
/* rv_p2p_cap_admit_announce - may the announce P (N bytes) of STREAM stand
 * in SPEC's group (ID GROUP) at NOW_S: signed by its publisher, an owner
 * or the holder of an owner's capability with RV_P2P_RIGHT_PUBLISH? 0 with
 * *SKIP the offset of the application's bytes in P (and PUB, unless NULL,
 * the publisher's key), or RV_EDENIED with *WHY. */
int rv_p2p_cap_admit_announce(const uint8_t *p, size_t n, const struct rv_p2p_spec *spec,
			      const uint8_t group[RV_P2P_HASH_LEN], const uint8_t stream[RV_P2P_HASH_LEN],
			      uint64_t now_s, size_t *skip, uint8_t pub[RV_P2P_PUB_LEN], const char **why);

#endif
