/* p2pnode.h - one peer of a group over one UDP socket, no I/O.
 *
 * The node joins the engines of a peer group: a session per neighbour
 * (p2psess.h: DTLS, the HELLO proof, fragments, keepalive), the ring's
 * choice of neighbours (p2pring.h), posting (p2pgossip.h) and directed
 * routing (rv_p2p_route_next). The caller owns the socket and the clock:
 * it feeds every datagram the socket receives (rv_p2p_node_input) with the
 * time in ms, sends what rv_p2p_node_take gives, calls rv_p2p_node_tick
 * when rv_p2p_node_next says, and polls events.
 *
 * Sessions are told apart by the peer's address. The side that opens a
 * session is the DTLS client; when two peers open to each other at once
 * (both learned of the other), the one with the higher peer ID gives way
 * and serves the other's handshake; a peer whose handshake to us is under
 * way when we choose it gets no second session from us (it would take the
 * first one's datagrams): we wait for it. A ClientHello from the address of a
 * session up for RV_P2P_NODE_RESTART_MS means the peer started again: the
 * old session ends (sooner, it is a late copy of a handshake that lost).
 * Two sessions up with one peer at two addresses: when the peer opened
 * both, or nothing came on the old one since the new one began, the peer
 * started again (or moved) and the old one ends; otherwise the higher peer
 * ID's choice stands, the same at both ends.
 *
 * Topology (librtmfp's NetGroup): every report_ms (the first time
 * RV_P2P_NODE_FIRST_REPORT_MS after it starts, so that a newcomer's
 * neighbours and the sessions it has too many of settle within seconds of
 * joining, not while the group is already in use) the node chooses its
 * best neighbours among the peers it knows (rv_p2p_choose: ring neighbours,
 * lowest RTT, one random, fingers, up to floor(log2 N) + 13), opens
 * sessions to the ring's own among them always and to the others while it
 * is short of the target (at most RV_P2P_NODE_OPENING at once); past
 * max_neighbors, it asks neighbours that are not among them to close
 * (ASK_CLOSE: the other side closes unless it wants us), and a quarter
 * past it, it closes some whatever they want; a peer that closed on us is
 * left alone 30 s. So sessions are not torn down and made again each round
 * (the random picks change);
 * it sends each neighbour a REPORT of the
 * peers that neighbour should know: the best list from *its* ring address
 * among ours. A peer that never answers is tried again later, with
 * backoff, as soon as its wait is over.
 * A new neighbour (and the first peer known) triggers a choice at once.
 *
 * Introducer (p2pintro.h), when the conf names a server: the node sends
 * JOIN at once and every RV_P2P_INTRO_REFRESH_S (sooner, doubling, while
 * unanswered; at once again, with the cookie, when answered 401 with one:
 * p2pintro.h), learns the members it is given, and on INTRO sends the
 * newcomer a punch (a datagram no session takes) so that its NAT lets the
 * newcomer's handshake in. A session of ours not up after
 * RV_P2P_NODE_PUNCH_MS, with not a datagram from the peer come straight
 * (a slow handshake is not a closed NAT), goes through the server instead
 * (RELAY), and so does a session whose peer's datagrams came that way
 * while none came straight; a datagram that comes straight switches it
 * back. It is reported as relayed
 * and counted.
 *
 * The spec says what the group does (p2pspec.h): we neither post, route,
 * share objects nor pass live streams where it leaves that out (RV_EDENIED),
 * and a neighbour that sends such messages ignores the spec (cut off, as
 * below). In a group whose spec restricts posting, a post must carry its
 * author's capability or come from an owner (p2pcap.h); our own posts carry
 * conf.cap and the payload delivered is the application's bytes alone.
 *
 * A neighbour that sends what does not parse, a post or routed envelope
 * that does not verify, a post a restricted group does not admit, a message
 * of something the spec leaves out, or more than RV_P2P_NODE_FLOOD_MSGS messages or
 * RV_P2P_NODE_FLOOD_BYTES in a second is cut off (BAD_PEER, then
 * NEIGHBOR_DOWN), and what it sent goes no further.
 *
 * Events (rv_p2p_node_poll) name what a NetGroup user sees: a neighbour
 * connected or gone (and why), a post delivered, a routed message for us.
 * The messages of replicated objects and live streams (OBJ_*, CAST_*) go neither through gossip nor
 * routing: a neighbour's come up as OBJECT events, and the caller's go to
 * one neighbour (rv_p2p_node_send_peer); p2pobj.h and p2pcast.h decide what they say.
 *
 * Memory: the sessions (at most RV_P2P_NODE_SESSIONS), the known peers (at
 * most RV_P2P_NODE_KNOWN, forgotten after RV_P2P_NODE_FORGET_MS unheard),
 * the gossip engine's posts, the event queue (RV_P2P_NODE_EVENTS_MAX bytes:
 * past it events are dropped and counted) and the datagrams queued outside
 * sessions (RV_P2P_NODE_OUT_MAX bytes). Not thread-safe. */
#ifndef RV_P2PNODE_H
#define RV_P2PNODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "bmap.h"
#include "buf.h"
#include "p2pgossip.h"
#include "p2psess.h"
#include "p2pspec.h"

#define RV_P2P_NODE_SESSIONS RV_P2P_GOSSIP_SLOTS
#define RV_P2P_NODE_KNOWN 4096
#define RV_P2P_NODE_OPENING 8             /* handshakes of our own at once */
#define RV_P2P_NODE_FORGET_MS 120000
#define RV_P2P_NODE_FIRST_REPORT_MS 2000  /* the first report round, after the start */
#define RV_P2P_NODE_EVENTS_MAX (16u << 20)
#define RV_P2P_NODE_OUT_MAX (1u << 20)
#define RV_P2P_NODE_DGRAM_MAX 1500        /* the largest datagram taken */
#define RV_P2P_NODE_TTL 32                /* hops a routed message may take */
#define RV_P2P_NODE_UNACKED 16            /* routed messages of ours kept to send again */
#define RV_P2P_NODE_RESEND_MS 1000        /* unacknowledged: sent again then, and twice that after */
#define RV_P2P_NODE_RESENDS 2             /* copies at most (at 1 s and 3 s) */
#define RV_P2P_NODE_ROUTED_SEEN 64        /* IDs of messages delivered here, against copies */
#define RV_P2P_NODE_RESTART_MS 2000
#define RV_P2P_NODE_PUNCH_MS 5000         /* then a handshake of ours goes through the server */
#define RV_P2P_NODE_SILENT_JOINS 3        /* JOINs unanswered before saying so */
#define RV_P2P_NODE_BOOT 16               /* add_peer addresses remembered */
#define RV_P2P_NODE_BOOT_MS 5000          /* a node with no neighbour tries them again this often */
#define RV_P2P_NODE_FLOOD_MSGS 5000       /* messages a neighbour may send in one second, */
#define RV_P2P_NODE_FLOOD_BYTES (16u << 20)   /* and bytes: past either it is cut off */

struct rv_p2p_node_conf {
	const struct rv_p2p_key *key;     /* this peer; outlives the node */
	uint8_t group[RV_P2P_HASH_LEN];   /* the group ID (p2pspec.h) */
	size_t max_neighbors;             /* 0: 32 (at most RV_P2P_NODE_SESSIONS) */
	uint32_t report_ms;               /* 0: 10,000 (the first: RV_P2P_NODE_FIRST_REPORT_MS,
					   * when shorter) */
	uint32_t (*rnd)(void *ud);        /* random numbers (NULL: random(3)) */
	void *rnd_ud;
	const struct rv_p2p_sess_conf *sess;        /* NULL: the defaults */
	const struct rv_p2p_gossip_conf *gossip;    /* NULL: the defaults */
	const struct rv_p2p_spec *spec;   /* the group's spec (outlives the node); NULL:
					   * everything allowed, nothing restricted */
	const uint8_t *cap;               /* our capability (p2pcap.h) in a restricted group,
					   * RV_P2P_CAP_LEN bytes; NULL: none, or we are an owner */
	uint64_t (*wall_ms)(void);        /* unix ms, to hold capabilities to; NULL: the posts' own */
	struct sockaddr_storage server;   /* the introducer (rvserver's UDP port) */
	socklen_t server_len;             /* 0: none */
};

enum rv_p2p_node_ev_type {
	RV_P2P_NODE_NEIGHBOR_UP = 1,    /* PEER at ADDR is a neighbour */
	RV_P2P_NODE_NEIGHBOR_DOWN,      /* PEER is no longer one: WHY */
	RV_P2P_NODE_CONNECT_FAILED,     /* no session with ADDR (PEER if known): WHY */
	RV_P2P_NODE_POST,               /* a post: ID, AUTHOR, TIME, DATA; PEER brought it */
	RV_P2P_NODE_ROUTED,             /* a routed message for us: ID, AUTHOR, MODE, HOPS, DATA */
	RV_P2P_NODE_BAD_PEER,           /* PEER sent something bad (WHY) and is cut off */
	RV_P2P_NODE_INTRODUCED,         /* the server answered a JOIN: ADDR is ours as it sees it,
					 * HOPS the members it gave (the first answer only) */
	RV_P2P_NODE_REFUSED,            /* the server refused (DATA: its reason) */
	RV_P2P_NODE_SERVER_SILENT,      /* RV_P2P_NODE_SILENT_JOINS JOINs to ADDR went unanswered */
	RV_P2P_NODE_ACK,                /* a routed message of ours, ID, reached AUTHOR (MODE
					 * RV_P2P_ACK_DELIVERED), or stopped at AUTHOR, the peer
					 * nearest its destination (RV_P2P_ACK_NO_ROUTE: nobody
					 * has that ID; RV_P2P_ACK_TTL: out of hops) */
	RV_P2P_NODE_OBJECT,             /* an OBJ_* or CAST_* message (p2pmsg.h) from the neighbour PEER:
					 * DATA, LEN, framing checked, for the caller's p2pobj.h */
};

/* What an acknowledgement says (RV_P2P_NODE_ACK's mode). */
enum { RV_P2P_ACK_DELIVERED = 0, RV_P2P_ACK_NO_ROUTE = 1, RV_P2P_ACK_TTL = 2 };
#define RV_P2P_ACK_LEN 33                 /* an ACK's payload: status u8 | message ID */

struct rv_p2p_node_ev {
	enum rv_p2p_node_ev_type type;
	uint8_t peer[RV_P2P_HASH_LEN];    /* the neighbour concerned (zeros: unknown) */
	struct sockaddr_storage addr;     /* its address */
	socklen_t alen;
	const char *why;                  /* static */
	uint8_t id[RV_P2P_HASH_LEN];      /* POST, ROUTED: the message ID */
	uint8_t author[RV_P2P_HASH_LEN];  /* POST, ROUTED: the author's peer ID */
	uint64_t time_ms;                 /* POST, ROUTED: the author's clock */
	uint8_t mode, hops;               /* ROUTED; ACK: mode is the status */
	int relayed;                      /* NEIGHBOR_UP: through the server */
	const uint8_t *data;              /* POST, ROUTED: the payload; valid until the next call */
	size_t len;
};

/* NetGroupInfo's counters and more (rv_p2p_node_stats). */
struct rv_p2p_node_stats {
	size_t neighbors, known, opening;
	uint64_t estimate;                /* members estimated from the ring */
	size_t target;                    /* neighbours wanted */
	uint64_t posts_sent, posts_received, routed_sent, routed_received, routed_forwarded;
	uint64_t no_route, ttl_expired, bad;
	uint64_t acks_sent, acks_received;
	uint64_t routed_resent;           /* copies of ours sent again for want of an ACK */
	uint64_t routed_duplicates;       /* copies that came here again: acknowledged, not delivered */
	uint64_t objects_in, objects_out;   /* OBJ_* messages */
	uint64_t connects, connect_failures, disconnects;
	uint64_t bytes_in, bytes_out, datagrams_in, datagrams_out, stray;
	uint64_t events_dropped;
	uint64_t joins, intros, punches, relayed_sessions, relayed_in, relayed_out;
	int introduced;                   /* the server has answered */
	struct sockaddr_storage mapped;   /* our address as the server sees it */
	struct rv_p2p_gossip_stats gossip;
};

/* A neighbour as rv_p2p_node_neighbor shows it. */
struct rv_p2p_node_nb {
	uint8_t peer[RV_P2P_HASH_LEN];
	struct sockaddr_storage addr;
	socklen_t alen;
	uint32_t rtt_ms;                  /* UINT32_MAX: not measured yet */
	uint64_t since_ms;                /* up since (node time) */
	int eager;                        /* on the posting tree */
	int relayed;                      /* through the server */
};

struct rv_p2p_node;

/* rv_p2p_node_new - a node with CONF at NOW: 0, -ENOMEM, or the DTLS
 * engine's error (*WHY says). */
int rv_p2p_node_new(struct rv_p2p_node **out, const struct rv_p2p_node_conf *conf, uint64_t now,
		    const char **why);
/* rv_p2p_node_free - every session ends without a word; everything goes. */
void rv_p2p_node_free(struct rv_p2p_node *n);
/* rv_p2p_node_close - say goodbye to every neighbour and the introducer
 * (take the datagrams). */
void rv_p2p_node_close(struct rv_p2p_node *n, uint64_t now);

/* rv_p2p_node_add_peer - a peer to connect to at ADDR (its ID unknown:
 * addNeighbor with an address), now. 0, RV_ELIMIT when no session is free,
 * or -EEXIST when a session with ADDR exists. The first RV_P2P_NODE_BOOT
 * addresses are remembered: while the node has no neighbour, it tries them
 * again every RV_P2P_NODE_BOOT_MS (a peer started later, a peer back). */
int rv_p2p_node_add_peer(struct rv_p2p_node *n, uint64_t now, const struct sockaddr *addr, socklen_t alen);
/* rv_p2p_node_learn - a peer ID at ADDR heard of elsewhere (the introducer,
 * the LAN): remembered, and connected to if the ring wants it. 0 or
 * RV_ELIMIT when too many peers are known. */
int rv_p2p_node_learn(struct rv_p2p_node *n, uint64_t now, const uint8_t id[RV_P2P_HASH_LEN],
		      const struct sockaddr *addr, socklen_t alen);

/* rv_p2p_node_input - a datagram (P, LEN) the socket received from FROM at
 * NOW: 0, or RV_EPROTO when it was not for a session (the caller may know
 * what it is: a STUN answer, a LAN announcement). */
int rv_p2p_node_input(struct rv_p2p_node *n, uint64_t now, const uint8_t *p, size_t len,
		      const struct sockaddr *from, socklen_t flen);
/* rv_p2p_node_take - the next datagram to send into BUF (CAP of at least
 * RV_P2P_NODE_DGRAM_MAX) and its destination: its length, or 0. */
ssize_t rv_p2p_node_take(struct rv_p2p_node *n, uint8_t *buf, size_t cap, struct sockaddr_storage *to,
			 socklen_t *tolen);
/* rv_p2p_node_queue - a datagram of the caller's (a STUN request, a LAN
 * announcement) to go out with the others: 0, RV_ELIMIT, RV_ETOOBIG past
 * RV_P2P_NODE_DGRAM_MAX, -EINVAL when empty. A session that turns out to be
 * with our own key (another process with it) is closed, not a neighbour. */
int rv_p2p_node_queue(struct rv_p2p_node *n, const uint8_t *p, size_t len, const struct sockaddr *to,
		      socklen_t tolen);

/* rv_p2p_node_post - post DATA (LEN bytes, at most RV_P2P_PAYLOAD_MAX) to
 * the group at NOW, stamped with TIME_MS (the author's clock, unix ms): 0
 * and its message ID in ID (may be NULL), RV_ETOOBIG, RV_ELIMIT, or
 * RV_EDENIED when the group's spec does not enable posting, or is
 * restricted and we may not post. */
int rv_p2p_node_post(struct rv_p2p_node *n, uint64_t now, uint64_t time_ms, const void *data, size_t len,
		     uint8_t id[RV_P2P_HASH_LEN]);
/* rv_p2p_node_send - route DATA to the peer whose ID is DST (MODE
 * RV_P2P_TO_PEER) or to whoever is nearest the ring address DST
 * (RV_P2P_TO_NEAREST), hop by hop: 0 when it left (or, when it is ours,
 * was delivered here as an event), RV_ENOTFOUND when no neighbour is nearer
 * and it is not ours (NO_ROUTE), RV_ETOOBIG, RV_EDENIED when the group's
 * spec does not enable routing. A message that left is
 * acknowledged end to end: the peer that delivers it, or the one where it
 * stops (no peer has the ID, no hops left), routes an ACK envelope
 * (p2penv.h, signed by it) back to the author, who gets RV_P2P_NODE_ACK
 * with the message ID. Until it comes, the message is sent again
 * (RV_P2P_NODE_RESENDS copies, after RV_P2P_NODE_RESEND_MS and twice that),
 * and the destination delivers one copy and acknowledges each; the caller
 * bounds its wait. */
int rv_p2p_node_send(struct rv_p2p_node *n, uint64_t now, uint64_t time_ms, enum rv_p2p_route_mode mode,
		     const uint8_t dst[RV_P2P_HASH_LEN], const void *data, size_t len,
		     uint8_t id[RV_P2P_HASH_LEN]);

/* rv_p2p_node_send_peer - an OBJ_* or CAST_* message (MSG, LEN: p2pmsg.h, built by
 * p2pobj.h, p2pcast.h) to the neighbour PEER (its newest session, when a peer that
 * started again has two), at NOW: 0, RV_ENOTFOUND when PEER is not a
 * neighbour up, RV_EPROTO when MSG is not such a message, RV_EDENIED when
 * the group's spec does not enable replication (OBJ_*) or multicast
 * (CAST_*), RV_ETOOBIG. */
int rv_p2p_node_send_peer(struct rv_p2p_node *n, uint64_t now, const uint8_t peer[RV_P2P_HASH_LEN],
			  const uint8_t *msg, size_t len);

/* rv_p2p_node_cut - the neighbour PEER broke the rules of something the
 * caller runs over the node (WHY: a forged fragment, p2pcast.h): cut off
 * as one that broke the node's (BAD_PEER). Nothing when it is none. */
void rv_p2p_node_cut(struct rv_p2p_node *n, uint64_t now, const uint8_t peer[RV_P2P_HASH_LEN], const char *why);

/* rv_p2p_node_tick - timers at NOW; rv_p2p_node_next says when the next is
 * due (node time, ms). */
void rv_p2p_node_tick(struct rv_p2p_node *n, uint64_t now);
uint64_t rv_p2p_node_next(const struct rv_p2p_node *n);

/* rv_p2p_node_poll - the next event into E: 1, or 0 when none waits. */
int rv_p2p_node_poll(struct rv_p2p_node *n, struct rv_p2p_node_ev *e);

/* What the node is: its counters, its neighbours (I from 0 up; 0 past
 * the last), its peer ID and ring address. */
void rv_p2p_node_stats(const struct rv_p2p_node *n, struct rv_p2p_node_stats *st);
int rv_p2p_node_neighbor(const struct rv_p2p_node *n, size_t i, struct rv_p2p_node_nb *nb);
const uint8_t *rv_p2p_node_ring(const struct rv_p2p_node *n);

#endif
