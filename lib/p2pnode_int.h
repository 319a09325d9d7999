/* p2pnode_int.h - what p2pnode.c (sessions, messages, events) and
 * p2ptopo.c (known peers, topology, reports, routing) share. Not for
 * users of the node: see p2pnode.h. */
#ifndef RV_P2PNODE_INT_H
#define RV_P2PNODE_INT_H

#include "p2pintro.h"
#include "p2pnode.h"

#define RV_P2P_KNOWN_KEY 20               /* known peers are keyed by an ID prefix */

/* A peer the node knows of: from a session, a REPORT, the introducer. */
struct known {
	uint8_t id[RV_P2P_HASH_LEN], ring[RV_P2P_ADDR_LEN];
	struct sockaddr_storage addr;
	socklen_t alen;
	uint64_t heard;             /* when it was last heard of (node time) */
	uint64_t retry_at;          /* no new session before */
	uint32_t fails;             /* sessions that never came up, in a row */
	int slot;                   /* its session, or -1 */
	int best;                   /* in our last best list */
};

/* A session slot; its index is the gossip engine's neighbour slot. */
struct nsess {
	int used, mine, up;         /* mine: we opened it (the DTLS client) */
	struct rv_p2p_sess s;
	struct sockaddr_storage addr;
	socklen_t alen;
	uint8_t want[RV_P2P_HASH_LEN];   /* the peer we meant to reach, if want_known */
	int want_known;
	int relayed;                /* its datagrams go through the introducer */
	uint64_t direct_rx;         /* datagrams that came straight: punching worked */
	uint64_t opened;            /* when it started */
	uint64_t win_start;         /* the second its messages are counted in */
	uint32_t win_msgs;
	size_t win_bytes;
	uint64_t since;             /* up since */
	struct known *k;            /* once up */
};

/* A routed message of ours that left, until its ACK (p2proute.c). */
struct p2p_unacked {
	uint8_t *env;               /* owned copy of its envelope; NULL: a free slot */
	size_t len;
	uint8_t id[RV_P2P_HASH_LEN], dst[RV_P2P_HASH_LEN];
	uint8_t mode, tries;        /* copies sent again so far */
	int answered;               /* its ACK came (env freed, the ID kept) */
	uint64_t sent, due;         /* node time: first sent, the next copy */
};

struct rv_p2p_node {
	struct rv_p2p_node_conf conf;
	struct evp_pkey_st *pkey;
	struct rv_dtls_ctx *ctx;
	uint8_t ring[RV_P2P_ADDR_LEN];
	struct nsess sess[RV_P2P_NODE_SESSIONS];
	uint64_t dirty;             /* slots that may have datagrams to take */
	struct rv_bmap known;       /* ID prefix -> struct known (owned) */
	struct rv_p2p_gossip g;
	struct rv_buf events, out;
	uint64_t now, next_report, choose_at;
	uint64_t nonce, estimate;
	size_t target;
	struct rv_p2p_node_stats st;
	uint8_t group_hash[RV_P2P_HASH_LEN];   /* what the introducer knows of the group */
	uint64_t join_at;           /* the next JOIN */
	uint32_t join_wait;         /* while unanswered: doubling */
	int refused;                /* for good (403): no more JOINs */
	unsigned unanswered;        /* JOINs since the last answer */
	uint8_t cookie[RV_P2P_INTRO_COOKIE_LEN];   /* the introducer's last, for our JOINs */
	int has_cookie;
	unsigned challenges;        /* 401s since the last success: JOINs sent again at once */
	struct sockaddr_storage boot[RV_P2P_NODE_BOOT];   /* the addresses add_peer was given */
	socklen_t bootlen[RV_P2P_NODE_BOOT];
	size_t nboot;
	uint64_t boot_at;           /* alone: those addresses tried again then */
	struct p2p_unacked unacked[RV_P2P_NODE_UNACKED];
	uint8_t routed_seen[RV_P2P_NODE_ROUTED_SEEN][RV_P2P_HASH_LEN];  /* delivered here lately */
	size_t seen_next;
	uint8_t msg[RV_P2P_MSG_MAX];     /* a message polled from a session */
	uint8_t env[RV_P2P_ENV_MAX];     /* an envelope being sealed */
	uint8_t route[RV_P2P_MSG_MAX];   /* a ROUTE being built */
	uint8_t wrap[RV_P2P_NODE_DGRAM_MAX];   /* a datagram being wrapped for the server */
};

/* p2pnode.c */
int p2p_addr_eq(const struct sockaddr_storage *a, const struct sockaddr *b);
void p2p_event(struct rv_p2p_node *n, const struct rv_p2p_node_ev *e);
struct nsess *p2p_sess_by_addr(struct rv_p2p_node *n, const struct sockaddr *a);
int p2p_slot(const struct rv_p2p_node *n, const struct nsess *s);
struct nsess *p2p_sess_open(struct rv_p2p_node *n, const struct sockaddr *addr, socklen_t alen, int mine);
void p2p_sess_end(struct rv_p2p_node *n, struct nsess *s, const char *why);
void p2p_send(struct rv_p2p_node *n, int slot, const uint8_t *m, size_t len);
void p2p_bad(struct rv_p2p_node *n, struct nsess *s, const char *why);
uint64_t p2p_nonce(struct rv_p2p_node *n);
/* Does the group's spec enable CAP (RV_P2P_CAP_*)? With no spec (the
 * simulator, tests), everything. */
int p2p_allows(const struct rv_p2p_node *n, uint16_t cap);

/* p2proute.c: directed routing */
void p2p_route_in(struct rv_p2p_node *n, struct nsess *s, const struct rv_p2p_msg *m);
void p2p_route_tick(struct rv_p2p_node *n);
uint64_t p2p_route_next(const struct rv_p2p_node *n);
void p2p_route_free(struct rv_p2p_node *n);

/* p2pjoin.c: the introducer and relaying through it */
void p2p_join_init(struct rv_p2p_node *n);
int p2p_is_server(const struct rv_p2p_node *n, const struct sockaddr *a);
void p2p_join_input(struct rv_p2p_node *n, const uint8_t *p, size_t len);
void p2p_join_tick(struct rv_p2p_node *n);
void p2p_leave(struct rv_p2p_node *n);
uint64_t p2p_join_next(const struct rv_p2p_node *n);
/* A datagram D (LEN) of session S wrapped for the server into OUT (CAP): its length, or 0. */
size_t p2p_relay_wrap(struct rv_p2p_node *n, const struct nsess *s, const uint8_t *d, size_t len, uint8_t *out,
		      size_t cap);
/* p2pnode.c: a datagram from FROM, RELAYED or not */
int p2p_input(struct rv_p2p_node *n, const uint8_t *p, size_t len, const struct sockaddr *from, socklen_t flen,
	      int relayed);
struct known *p2p_learn(struct rv_p2p_node *n, const uint8_t id[RV_P2P_HASH_LEN], const struct sockaddr *addr,
			socklen_t alen, uint64_t heard);

/* p2ptopo.c */
void p2p_known_attach(struct rv_p2p_node *n, struct nsess *s);
void p2p_known_detach(struct rv_p2p_node *n, struct nsess *s, int failed);
void p2p_known_free(struct rv_p2p_node *n);
void p2p_report_in(struct rv_p2p_node *n, struct nsess *s, const struct rv_p2p_msg *m);
void p2p_report_to(struct rv_p2p_node *n, struct nsess *s);
void p2p_ask_close_in(struct rv_p2p_node *n, struct nsess *s);
void p2p_maintain(struct rv_p2p_node *n);

#endif
