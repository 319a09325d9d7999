/* p2pgossip.h - posting in a peer group: every member gets every post,
 * about once. No I/O and no clock of its own: the caller feeds messages
 * from neighbours and the time, and polls what to send and deliver.
 *
 * Plumtree (Leitão, Pereira, Rodrigues 2007; as iroh-gossip implements it)
 * over the neighbours the ring chose (p2pring.h):
 *   - a post seen for the first time is pushed whole to the *eager*
 *     neighbours and announced by ID to the *lazy* ones (IHAVE, batched for
 *     ihave_ms or RV_P2P_LIST_MAX IDs), at most lazy_max of them a post
 *     (gossipsub's D_lazy: each lazy link still hears of a post from
 *     several others, and a post costs a few control messages, not one per
 *     neighbour); a neighbour that has shown it has the post by the time
 *     its batch goes (it pushed or announced it to us) is not told;
 *   - a post that arrives again makes its sender lazy (we answer PRUNE), so
 *     the pushes settle on a spanning tree and each member gets each post
 *     about once;
 *   - an IHAVE for a post we lack arms a timer; if the post has not come
 *     within graft_ms, we ask the announcer with IWANT, which also makes the
 *     link eager again (a graft), and the next announcer after regraft_ms;
 *     once every announcer was asked, all of them again after 2, 4, 8 and
 *     16 x regraft_ms (an IWANT or its answer lost): the tree mends itself
 *     after loss and churn;
 *   - a peer does not lose its place in the tree: a duplicate prunes
 *     only while more than eager_min eager links are left, a PRUNE that
 *     leaves fewer makes a lazy neighbour eager at once (an IWANT of no
 *     ID), and so does the loss of an eager neighbour, always (one of the
 *     two parts of the tree it joined may find the other that way), so
 *     that a peer cut off by concurrent prunes or a closed session does not
 *     get every post by repair, late;
 *   - after a post larger than RV_P2P_LARGE, the other eager neighbours are
 *     told IDONTWANT, so they do not push it to us as well.
 * Every post is an envelope (p2penv.h) checked before it is delivered or
 * passed on; a bad one is reported against the neighbour that sent it (the
 * caller cuts it off) and goes no further. Its ID is remembered for seen_ms
 * and its bytes kept for cache_ms, to answer IWANT.
 *
 * Neighbours are slots 0..RV_P2P_GOSSIP_SLOTS-1 that the caller assigns
 * (its sessions). Memory: the posts held (capped by RV_P2P_GOSSIP_MSGS and
 * cache_ms) and the output queue (capped at RV_P2P_GOSSIP_OUT_MAX bytes:
 * past it, sends are dropped and counted, as a congested link would). */
#ifndef RV_P2PGOSSIP_H
#define RV_P2PGOSSIP_H

#include <stddef.h>
#include <stdint.h>

#include "bmap.h"
#include "buf.h"
#include "p2pmsg.h"

#define RV_P2P_GOSSIP_SLOTS 64
#define RV_P2P_GOSSIP_MSGS 65536       /* posts remembered at once */
#define RV_P2P_GOSSIP_MISSING 1024     /* announced posts awaited at once */
#define RV_P2P_GOSSIP_ANNOUNCERS 8     /* announcers remembered per awaited post */
#define RV_P2P_GOSSIP_DONTWANT 16      /* IDONTWANT IDs remembered per neighbour */
#define RV_P2P_GOSSIP_OUT_MAX (8u << 20)
#define RV_P2P_LARGE 1024

struct rv_p2p_gossip_conf {
	uint32_t ihave_ms;     /* IHAVE batching (20) */
	uint32_t lazy_max;     /* lazy neighbours told of a post at most (8; 0: all) */
	uint32_t eager_min;    /* eager links kept at least (1; 0: plain Plumtree) */
	uint32_t graft_ms;     /* wait for an announced post before IWANT (20) */
	uint32_t regraft_ms;   /* then before asking the next announcer (20) */
	uint32_t cache_ms;     /* posts kept to answer IWANT (30,000) */
	uint32_t seen_ms;      /* IDs remembered (120,000) */
	/* salt - mixed into which lazy_max of the lazy neighbours hear of a
	 * post: each member must pick its own (a node passes bits of its key),
	 * else members whose slots line up (joined in the same order) all tell
	 * the same ones and never the others (0 by default) */
	uint32_t salt;
	/* admit - may the opened post E stand (a restricted group's
	 * capabilities, p2pcap.h)? 0, or < 0 with *WHY: it is a bad post.
	 * NULL: every valid envelope may. */
	int (*admit)(void *ud, const struct rv_p2p_env *e, const char **why);
	void *admit_ud;
};

enum rv_p2p_gossip_event {
	RV_P2P_EV_SEND = 1,    /* send BYTES to neighbour SLOT */
	RV_P2P_EV_DELIVER,     /* a new post: BYTES is its envelope, SLOT who brought it */
	RV_P2P_EV_BAD,         /* SLOT sent a bad post (WHY): cut it off */
};

struct rv_p2p_gossip_out {
	enum rv_p2p_gossip_event ev;
	int slot;
	const uint8_t *bytes;  /* valid until the next call into the engine */
	size_t len;
	const char *why;       /* RV_P2P_EV_BAD */
};

struct rv_p2p_gossip_stats {
	uint64_t posts_in, delivered, duplicates, bad, grafts, prunes;
	uint64_t data_out, control_out;     /* bytes queued: posts / everything else */
	uint64_t dropped;                   /* sends refused by a full output queue */
	uint64_t ihave_skipped;             /* announcements left out: the neighbour had the post */
};

struct rv_p2p_gossip_nb {
	uint8_t up, eager;
	uint8_t nihave;                             /* IDs waiting in ihave */
	uint64_t ihave_since;
	uint8_t ihave[RV_P2P_LIST_MAX][32];
	uint8_t dontwant[RV_P2P_GOSSIP_DONTWANT][16];   /* ID prefixes, a ring */
	uint8_t ndontwant;
};

struct rv_p2p_gossip {
	struct rv_p2p_gossip_conf conf;
	uint8_t group[32];
	struct rv_bmap msgs;                        /* ID prefix -> struct gmsg */
	struct gmsg *missing[RV_P2P_GOSSIP_MISSING];
	size_t nmissing;
	unsigned next_graft;                        /* where on_prune looks from */
	uint64_t next_sweep;
	struct rv_p2p_gossip_nb nb[RV_P2P_GOSSIP_SLOTS];
	struct rv_buf out;                          /* queued events */
	uint8_t scratch[RV_P2P_MSG_MAX];
	struct rv_p2p_gossip_stats st;
};

/* rv_p2p_gossip_defaults - the defaults above into C. */
void rv_p2p_gossip_defaults(struct rv_p2p_gossip_conf *c);
/* rv_p2p_gossip_init - an engine for GROUP (its ID) with CONF (NULL: the
 * defaults above). rv_p2p_gossip_free releases what it holds. */
void rv_p2p_gossip_init(struct rv_p2p_gossip *g, const uint8_t group[32],
			const struct rv_p2p_gossip_conf *conf);
void rv_p2p_gossip_free(struct rv_p2p_gossip *g);

/* A neighbour came (eager to start with) or went. */
void rv_p2p_gossip_up(struct rv_p2p_gossip *g, int slot);
void rv_p2p_gossip_down(struct rv_p2p_gossip *g, int slot);

/* rv_p2p_gossip_post - our own post ENV (a sealed envelope, LEN bytes) at
 * NOW: 0, RV_EPROTO when it is not a valid envelope of the group,
 * RV_EDENIED when the admit hook refuses it, or RV_ELIMIT when the engine
 * remembers too many posts. */
int rv_p2p_gossip_post(struct rv_p2p_gossip *g, uint64_t now, const uint8_t *env, size_t len);
/* rv_p2p_gossip_input - message M from neighbour SLOT at NOW: POST, IHAVE,
 * IWANT, IDONTWANT and PRUNE are handled; other types are not the
 * engine's (ignored, 0). */
int rv_p2p_gossip_input(struct rv_p2p_gossip *g, uint64_t now, int slot, const struct rv_p2p_msg *m);
/* rv_p2p_gossip_tick - do what is due at NOW; rv_p2p_gossip_next says when
 * the next thing is due (loop time, ms). */
void rv_p2p_gossip_tick(struct rv_p2p_gossip *g, uint64_t now);
uint64_t rv_p2p_gossip_next(const struct rv_p2p_gossip *g);
/* rv_p2p_gossip_poll - the next event into O: 1, or 0 when none is left. */
int rv_p2p_gossip_poll(struct rv_p2p_gossip *g, struct rv_p2p_gossip_out *o);

#endif
