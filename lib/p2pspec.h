/* p2pspec.h - peer group specs ("rvg1:..."), no I/O.
 *
 * A group spec is what every member of a peer group must know, and all it
 * takes to find the group: RTMFP's groupspec, made explicit. It is the text
 * "rvg1:" followed by the lowercase base32 (RFC 4648, no padding) of a
 * sequence of TLV fields, one byte of type and one of length each, in
 * increasing type order:
 *
 *   0x01 version   1 byte: 1 or 2 (RV_P2P_SPEC_VERSION)        required
 *   0x02 name      1..RV_P2P_NAME_MAX bytes of printable UTF-8  required
 *   0x03 caps      2 bytes, big-endian RV_P2P_CAP_* bits        required
 *   0x04 unique    16 bytes that make the group unlike any other of that name
 *   0x05 owner     32 bytes, an Ed25519 public key; repeated for each owner
 *                  (up to RV_P2P_OWNERS_MAX), in increasing byte order
 *   0x06 lan       IP multicast address for LAN discovery: 4 bytes IPv4 or
 *                  16 bytes IPv6, then 2 bytes of port
 *
 * Anything else is refused: unknown types, a field twice (but owner), a
 * field out of order, trailing bytes, upper-case or padded base32, a spec
 * longer than RV_P2P_SPEC_MAX. So each group has exactly one spec text, and
 * its group ID, SHA-256 of the TLV bytes, is the same for every member.
 * Capabilities that restrict who may post or publish name the owner keys
 * that sign the capabilities of those allowed: no password is hashed into
 * the spec. The server is told only SHA-256(group ID), never the spec.
 *
 * The capabilities say what the group does, as RTMFP's groupspec's
 * postingEnabled, routingEnabled, objectReplicationEnabled and
 * multicastEnabled: members neither do nor accept what the spec leaves out
 * (rv_p2p_spec_allows; lib/p2pnode enforces it). Version 1 specs predate
 * the replication and multicast bits, and allow both; version 2 specs
 * allow only what their bits say. */
#ifndef RV_P2PSPEC_H
#define RV_P2PSPEC_H

#include <stddef.h>
#include <stdint.h>

#define RV_P2P_SPEC_MAX 1024         /* the longest spec text accepted */
#define RV_P2P_SPEC_VERSION 2        /* the newest version: what new specs carry */
#define RV_P2P_NAME_MAX 200
#define RV_P2P_OWNERS_MAX 8
#define RV_P2P_UNIQUE_LEN 16
#define RV_P2P_KEY_LEN 32            /* an Ed25519 public key */
#define RV_P2P_ID_LEN 32             /* SHA-256: group and peer IDs */

enum rv_p2p_cap {
	RV_P2P_CAP_POSTING = 1 << 0,          /* posts reach every member */
	RV_P2P_CAP_ROUTING = 1 << 1,          /* messages routed to a peer or ring address */
	RV_P2P_CAP_REPLICATION = 1 << 2,      /* objects shared among members */
	RV_P2P_CAP_MULTICAST = 1 << 3,        /* live streams pushed through the mesh */
	RV_P2P_CAP_SERVER_CHANNEL = 1 << 4,   /* rvserver introduces members */
	RV_P2P_CAP_RESTRICT_POSTING = 1 << 5, /* only holders of an owner's capability post */
	RV_P2P_CAP_RESTRICT_PUBLISH = 1 << 6, /* the same for publishing streams */
	RV_P2P_CAP_ALL = (1 << 7) - 1,
};

struct rv_p2p_spec {
	uint8_t version;
	char name[RV_P2P_NAME_MAX + 1];       /* NUL-terminated */
	uint16_t caps;                        /* RV_P2P_CAP_* */
	int has_unique;
	uint8_t unique[RV_P2P_UNIQUE_LEN];
	int nowners;
	uint8_t owners[RV_P2P_OWNERS_MAX][RV_P2P_KEY_LEN];  /* increasing */
	int lan_family;                       /* 0 (none), 4 or 6 */
	uint8_t lan_addr[16];                 /* network order; 4 used for IPv4 */
	uint16_t lan_port;
};

/* rv_p2p_spec_parse - read TEXT (LEN bytes, no NUL needed) into S. 0, or
 * RV_EPROTO with *WHY saying what is wrong (a static string), or RV_ETOOBIG
 * past RV_P2P_SPEC_MAX. */
int rv_p2p_spec_parse(const char *text, size_t len, struct rv_p2p_spec *s, const char **why);
/* rv_p2p_spec_format - the spec text of S into OUT (LEN bytes, NUL added):
 * its length, or RV_EPROTO (*WHY set) when S breaks a rule above (owners
 * are sorted and deduplicated first), or RV_ETOOBIG when OUT is shorter
 * than RV_P2P_SPEC_MAX + 1 and the spec does not fit. */
int rv_p2p_spec_format(struct rv_p2p_spec *s, char *out, size_t len, const char **why);
/* rv_p2p_group_id - the group ID of S: SHA-256 of its TLV bytes. 0, or as
 * rv_p2p_spec_format. */
int rv_p2p_group_id(struct rv_p2p_spec *s, uint8_t id[RV_P2P_ID_LEN], const char **why);
/* rv_p2p_spec_allows - does S's group do everything in CAP (RV_P2P_CAP_*
 * bits)? 1 or 0, by the version rule above. */
int rv_p2p_spec_allows(const struct rv_p2p_spec *s, uint16_t cap);
/* rv_p2p_group_hash - what the server learns: SHA-256 of the group ID. */
void rv_p2p_group_hash(const uint8_t id[RV_P2P_ID_LEN], uint8_t out[RV_P2P_ID_LEN]);

#endif
