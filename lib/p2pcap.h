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
 * post, and the neighbour that sent it is cut off. */
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

#endif
