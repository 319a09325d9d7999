/* p2pintro.h - the peer-group introducer on rvserver's UDP port, and the
 * codec a peer speaks it with. No sockets, no clock of its own.
 *
 * Peers of a group send STUN messages to the server's UDP port (the media
 * port, where STUN Binding is also answered). The server learns of a group
 * only its hash, rv_p2p_group_hash(group ID) (p2pspec.h), and of a peer its
 * peer ID and reflexive address. It hands each newcomer a few members to
 * connect to, tells those members to punch toward the newcomer at the same
 * moment, and relays datagrams between members when punching fails.
 *
 * Wire. Every message is STUN (RFC 8489 header with the magic cookie) and
 * ends with FINGERPRINT; methods in an unassigned range:
 *   JOIN   0x0C0 request: GROUP (0xC001, 32 bytes: the group hash), PEER-ID
 *          (0xC002, 32 bytes), COOKIE (0xC006, 20 bytes) once the server
 *          gave one. Sent on join and then every 20 s as a refresh (it also
 *          keeps the NAT mapping open).
 *          Success response: XOR-MAPPED-ADDRESS (the peer's reflexive
 *          address), LIFETIME (0xC004, u32 seconds after which an
 *          unrefreshed member is forgotten, default 60), a fresh COOKIE,
 *          and up to 8 MEMBER (0xC003: id[32] | family u8 (4 or 6) | port
 *          u16 | address 4 or 16 bytes) = members to connect to.
 *          Error response (ERROR-CODE): 401 with a COOKIE (see below), 400
 *          malformed, 508 group full or too many groups ("insufficient
 *          capacity"), 403 introducer disabled.
 *   INTRO  0x0C1 indication, server -> an existing member: one MEMBER = the
 *          newcomer, "punch toward it now" (the newcomer got this member in
 *          its response at the same moment).
 *   RELAY  0x0C2 indication, peer -> server: GROUP, MEMBER (the target: its
 *          id may be zeros, the address matters), DATA (0xC005, at most
 *          1,400 bytes). Forwarded only when sender and target are both
 *          members of that group, as a RELAY indication server -> target
 *          with GROUP, MEMBER = the sender (its id and reflexive address)
 *          and DATA. The fallback when hole punching fails; relayed bytes
 *          go through a token bucket (bytes per second for the whole
 *          server, a second's worth of burst), what is over it is dropped.
 *   LEAVE  0x0C3 indication: GROUP, PEER-ID: forget that member now (only
 *          when it comes from the member's registered address).
 * Indications are never answered. A message that is no STUN, lacks a good
 * FINGERPRINT or has the wrong class is dropped without an answer.
 *
 * Return routability (as STUN's NONCE, QUIC's Retry, DTLS's
 * HelloVerifyRequest): a JOIN is only acted on when it carries a COOKIE
 * the server made for its source address, group and peer ID less than
 * RV_P2P_INTRO_COOKIE_S ago: u32 the server's clock in seconds | the first
 * 16 bytes of HMAC-SHA256(a secret made at rv_p2p_intro_new, that clock |
 * the address | GROUP | PEER-ID). Any other JOIN is answered 401 "Cookie
 * Required" with a fresh COOKIE, and the peer sends it again at once with
 * it. So a JOIN from a forged source address registers nothing and sends
 * no INTRO, and nothing the server sends to an address it has not heard
 * back from (401, 400, 403) is larger than the request that caused it
 * (were it, it is not sent): no amplifier. Every success response carries
 * a fresh cookie for the next refresh; a restarted server (a new secret)
 * costs one more round.
 *
 * Who a newcomer is given: members of a group are kept ordered by ring
 * address (rv_p2p_ring_addr). A newcomer gets the 2 members just before and
 * the 2 just after its own ring address, then members drawn uniformly at
 * random (the caller's random function) up to 8 in all: never itself, no
 * duplicates; all of them when the group has at most 8 others. Each chosen
 * member gets one INTRO: O(1) messages per join whatever the group's size,
 * and no member is everybody's introduction. A refresh (same peer ID, same
 * address) is answered with members again but sends no INTRO; a changed
 * address counts as a new join. One member per address in a group: a JOIN
 * from an address another peer ID holds replaces that member.
 *
 * Ownership: the engine owns its state and the queued replies, which stay
 * valid until the next input or tick; messages passed in are read during
 * the call only. Not thread-safe. */
#ifndef RV_P2PINTRO_H
#define RV_P2PINTRO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

/* Methods, attributes and limits of the wire above. */
enum {
	RV_P2P_INTRO_M_JOIN = 0x0C0, RV_P2P_INTRO_M_INTRO = 0x0C1,
	RV_P2P_INTRO_M_RELAY = 0x0C2, RV_P2P_INTRO_M_LEAVE = 0x0C3,
};
enum {
	RV_P2P_INTRO_A_GROUP = 0xC001, RV_P2P_INTRO_A_PEER_ID = 0xC002,
	RV_P2P_INTRO_A_MEMBER = 0xC003, RV_P2P_INTRO_A_LIFETIME = 0xC004,
	RV_P2P_INTRO_A_DATA = 0xC005, RV_P2P_INTRO_A_COOKIE = 0xC006,
};
#define RV_P2P_INTRO_ID_LEN 32
#define RV_P2P_INTRO_GIVEN 8          /* members a JOIN response lists at most */
#define RV_P2P_INTRO_DATA_MAX 1400    /* DATA of a RELAY */
#define RV_P2P_INTRO_REFRESH_S 20     /* how often a member sends JOIN again */
#define RV_P2P_INTRO_QUEUE (RV_P2P_INTRO_GIVEN + 1)   /* replies one input makes at most */
#define RV_P2P_INTRO_COOKIE_LEN 20    /* u32 seconds | 16 bytes of HMAC */
#define RV_P2P_INTRO_COOKIE_S 120     /* a cookie is good this long */

/* ---- the codec: what peers send and parse ---- */

/* A member as MEMBER carries it. */
struct rv_p2p_intro_member {
	uint8_t id[RV_P2P_INTRO_ID_LEN];
	struct sockaddr_storage addr;   /* AF_INET or AF_INET6 */
};

enum rv_p2p_intro_kind {
	RV_P2P_INTRO_JOIN = 1,          /* request: group, id, cookie if any */
	RV_P2P_INTRO_JOINED,            /* success: mapped, lifetime, members, cookie if any */
	RV_P2P_INTRO_REFUSED,           /* error response: code, reason; 401: cookie */
	RV_P2P_INTRO_INTRO,             /* indication: members[0] is the newcomer */
	RV_P2P_INTRO_RELAY,             /* indication: group, members[0], data */
	RV_P2P_INTRO_LEAVE,             /* indication: group, id */
};

/* One parsed message; pointers alias the parsed bytes. */
struct rv_p2p_intro_msg {
	enum rv_p2p_intro_kind kind;
	uint8_t tid[12];
	uint8_t group[RV_P2P_INTRO_ID_LEN];
	uint8_t id[RV_P2P_INTRO_ID_LEN];
	struct sockaddr_storage mapped;
	uint32_t lifetime;              /* seconds */
	struct rv_p2p_intro_member members[RV_P2P_INTRO_GIVEN];
	size_t nmembers;
	int code;                       /* REFUSED: 400, 403, 508... */
	char reason[64];
	uint8_t cookie[RV_P2P_INTRO_COOKIE_LEN];
	int has_cookie;                 /* a COOKIE came (JOIN, JOINED, REFUSED) */
	const uint8_t *data;            /* RELAY */
	size_t len;
};

/* rv_p2p_intro_is - 1 when P (N bytes) is a STUN message of one of the
 * introducer's methods (what the UDP port hands to the engine), else 0. */
int rv_p2p_intro_is(const uint8_t *p, size_t n);
/* rv_p2p_intro_parse - read the introducer message P (exactly N bytes)
 * into M: 0, or RV_EPROTO (no STUN, bad or missing FINGERPRINT, a method or
 * class not above, a missing or malformed attribute (a COOKIE not of
 * RV_P2P_INTRO_COOKIE_LEN bytes among them), more than
 * RV_P2P_INTRO_GIVEN members, DATA over RV_P2P_INTRO_DATA_MAX). */
int rv_p2p_intro_parse(const uint8_t *p, size_t n, struct rv_p2p_intro_msg *m);

/* The requests a peer sends, built into B (the message: rv_stun_end):
 * 0, or RV_ETOOBIG (DATA over RV_P2P_INTRO_DATA_MAX), RV_EPROTO (an address
 * neither AF_INET nor AF_INET6). TID (12 bytes) may be NULL: random.
 * COOKIE: the last one the server gave (RV_P2P_INTRO_COOKIE_LEN bytes), or
 * NULL. */
int rv_p2p_intro_join_build(struct rv_stun_builder *b, const uint8_t group[RV_P2P_INTRO_ID_LEN],
			    const uint8_t id[RV_P2P_INTRO_ID_LEN], const uint8_t *cookie, const uint8_t *tid);
int rv_p2p_intro_leave_build(struct rv_stun_builder *b, const uint8_t group[RV_P2P_INTRO_ID_LEN],
			     const uint8_t id[RV_P2P_INTRO_ID_LEN]);
/* TO: the target (its id may be zeros); DATA/N the datagram relayed. The
 * server forwards it with the same builder, TO then being the sender. */
int rv_p2p_intro_relay_build(struct rv_stun_builder *b, const uint8_t group[RV_P2P_INTRO_ID_LEN],
			     const struct rv_p2p_intro_member *to, const void *data, size_t n,
			     const uint8_t *tid);
/* rv_p2p_intro_add_member - append a MEMBER attribute for M to B (an
 * IPv4-mapped IPv6 address is written as IPv4): 0 or RV_EPROTO. */
int rv_p2p_intro_add_member(struct rv_stun_builder *b, const struct rv_p2p_intro_member *m);
/* rv_p2p_intro_unmap - SA into OUT, an IPv4-mapped IPv6 address as IPv4
 * (what a dual-stack socket reports); OUT is zeroed when SA is neither
 * AF_INET nor AF_INET6. */
void rv_p2p_intro_unmap(const struct sockaddr *sa, struct sockaddr_storage *out);

/* ---- the server's engine ---- */

struct rv_p2p_intro_conf {
	size_t max_groups;              /* groups at once (RV_ELIMIT past it: 508) */
	size_t max_members;             /* members of one group */
	size_t max_total;               /* members of all groups */
	uint32_t lifetime;              /* seconds an unrefreshed member stays (1..86400) */
	uint64_t relay_budget;          /* relayed DATA bytes per second; 0: no relaying */
	int disabled;                   /* JOIN is answered 403, the rest dropped */
	uint32_t (*random)(void *ud);   /* uniform 32-bit numbers; required */
	void *random_ud;
};

/* rv_p2p_intro_defaults - 10,000 groups, 10,000 members a group, 100,000
 * in all, 60 s, 1 MB/s of relay, enabled; RANDOM is left for the caller. */
void rv_p2p_intro_defaults(struct rv_p2p_intro_conf *c);

/* What the engine counts; GROUPS and MEMBERS are gauges. */
struct rv_p2p_intro_counters {
	uint64_t joins, refreshes, leaves, expired, intros;
	uint64_t relayed, relayed_bytes, relay_drops;          /* drops: over the budget, or relaying off */
	uint64_t refused_malformed, refused_capacity, refused_disabled;
	uint64_t refused_stranger;      /* RELAY or LEAVE from no member, or to none */
	uint64_t challenges;            /* JOINs with no good COOKIE, answered 401 with one */
	uint64_t groups, members;
};

struct rv_p2p_intro;

/* rv_p2p_intro_new - an empty introducer with CONF (copied; 0 caps are
 * taken as 1) and a cookie secret of its own (OpenSSL's RAND_bytes): NULL
 * when there is no memory, no random secret, or CONF->random is NULL. */
struct rv_p2p_intro *rv_p2p_intro_new(const struct rv_p2p_intro_conf *conf);
void rv_p2p_intro_free(struct rv_p2p_intro *e);

/* rv_p2p_intro_input - a datagram P (N bytes) from FROM (AF_INET or
 * AF_INET6) at NOW (ms, never decreasing). Replies are queued (poll them
 * before the next input). Returns what became of it:
 *   0             accepted: joined, refreshed, relayed, left
 *   RV_EPROTO     malformed (a JOIN request that parsed as STUN is
 *                 answered 400; anything else is dropped)
 *   RV_ELIMIT     a cap: JOIN answered 508; a RELAY over the budget
 *   RV_EDENIED    the introducer is disabled (JOIN answered 403), a JOIN
 *                 without a good COOKIE (answered 401 with one), or a
 *                 RELAY/LEAVE from or to an address that is no member
 *   -ENOMEM       no memory (JOIN answered 508) */
int rv_p2p_intro_input(struct rv_p2p_intro *e, uint64_t now, const struct sockaddr *from,
		       const uint8_t *p, size_t n);
/* rv_p2p_intro_poll - the next queued reply: 1 with its bytes in *P and *N and
 * its destination in *TO (valid until the next input or tick); 0 when none
 * is left. */
int rv_p2p_intro_poll(struct rv_p2p_intro *e, const uint8_t **p, size_t *n,
		      const struct sockaddr **to);
/* rv_p2p_intro_tick - forget the members unrefreshed for the lifetime at
 * NOW: how many went. Queues nothing. */
size_t rv_p2p_intro_tick(struct rv_p2p_intro *e, uint64_t now);
/* rv_p2p_intro_next - when (ms) the next member expires; UINT64_MAX: none. */
uint64_t rv_p2p_intro_next(const struct rv_p2p_intro *e);
/* rv_p2p_intro_stats - the counters (updated in place, live as E). */
const struct rv_p2p_intro_counters *rv_p2p_intro_stats(const struct rv_p2p_intro *e);

#endif
