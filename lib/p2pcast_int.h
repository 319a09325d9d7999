/* p2pcast_int.h - what p2pcast.c (the window, messages in, delivery,
 * push out, the end) and p2pcast_rx.c (a receiver's choices: where to
 * join, whom to ask for each push sub-stream, what to pull of whom, where a
 * keyframe request goes) share, with p2pcast_up.c (the upload budget),
 * p2pcast_sig.c (signed fragments) and p2pcast_ipmc.c. Not for users of
 * the engine: see p2pcast.h. */
#ifndef RV_P2PCAST_INT_H
#define RV_P2PCAST_INT_H

#include "buf.h"
#include "p2pcast.h"

#define ID RV_P2P_HASH_LEN
#define NONE (-1)
#define SUBS RV_P2P_CAST_SUBS
#define HOPS_NONE RV_P2P_CAST_HOPS_NONE
#define HOPS_MAX 16                 /* a neighbour further than this is taken as not fed */
#define HOLD_MS 2000                /* a neighbour that declined is not asked again for this long */

enum { EMPTY, MISSING, HELD };

struct frag {
	uint32_t seq;
	uint8_t state, flags, sent, tries;  /* sent: copies sent (HELD) */
	int8_t pull_peer;           /* MISSING: the neighbour asked last */
	uint16_t len;
	uint8_t *data;              /* HELD: len bytes (owned) */
	uint64_t at;                /* HELD: when it came; MISSING: when it was known to exist */
	uint64_t pulled_at;         /* MISSING: when it was last asked (0: never) */
};

struct cpeer {
	int used, in;               /* in: it sent a CAST_* message of the stream */
	uint8_t id[ID];
	uint8_t mask_in, mask_out;  /* sub-streams we asked it to push; it asked us to */
	uint8_t mask_srv;           /* those of mask_out we push (all, without an upload budget) */
	uint8_t mask_adopt;         /* a publisher's: sub-streams it pushes unasked (nobody asked them) */
	uint8_t told;               /* mask_srv as we last told it (CAST_GRANT) */
	uint8_t granted;            /* of mask_in, what it told us it pushes (CAST_GRANT) */
	uint8_t refused;            /* sub-streams it did not grant us lately (at refused_at) */
	uint64_t refused_at;
	uint8_t hops[SUBS];         /* its maps' hops (HOPS_NONE: not fed, or not said) */
	struct rv_p2p_range *map;   /* its last map: nmap ranges, in order */
	uint32_t nmap, map_end;     /* map_end: 1 + the newest it holds (0: none) */
	uint32_t keys[RV_P2P_CAST_KEYS];
	uint32_t nkeys;
	struct rv_p2p_cast_peer_stats *ps;  /* its counters (a slot of c->ps) */
	uint64_t run;               /* the run of the last announce it sent (conf.admit) */
	uint8_t spare;              /* its maps' spare upload (RV_P2P_CAST_MAP_SPARE) */
	uint64_t declined_at;       /* when it declined to push to us (0: never) */
};

struct rv_p2p_cast {
	struct rv_p2p_cast_conf conf;
	uint8_t id[ID];
	uint8_t *info;
	size_t info_len, info_skip;  /* info_skip: the application's bytes start there (conf.admit) */
	uint64_t run;               /* the run of our announce (conf.admit) */
	struct frag *f;             /* window_max slots: seq % window_max */
	uint32_t w;                 /* window_max */
	uint32_t end, tail;         /* 1 + the newest seq known; the oldest kept */
	uint64_t end_at, begin_at;  /* when end last moved; first moved */
	uint32_t next;              /* the next to deliver, once joined */
	int joined, last_from;      /* last_from: the peer that pushed us a fragment last */
	int begun, playing;         /* a DATA or SKIP came out; a DATA did */
	uint32_t min_start;         /* join at no keyframe start before this (one was not) */
	int sub[SUBS];              /* the pusher of each sub-stream */
	uint64_t sub_at[SUBS];      /* when it last pushed one (or was asked) */
	uint8_t sub_got;            /* sub-streams whose pusher pushed one since it was asked */
	int sub_avoid[SUBS];        /* 1 + the neighbour not to ask it of next (0: none) */
	uint8_t hops_said[SUBS];    /* the hops our last map said */
	uint64_t key_at, tick_at, now, rnd_state;
	uint64_t ipmc_at;           /* when IP multicast brought a new fragment last (0: never) */
	uint32_t ticks, pull_salt;  /* pull_salt: random, so that peers spread their pulls differently */
	int key_sent;
	int ended, end_told;        /* the end is known (end_seq); the END event came out */
	uint32_t end_seq;
	uint64_t ended_at;
	uint8_t end_from[ID];       /* who told us (zeros: we ended it) */
	struct cpeer p[RV_P2P_CAST_PEERS];
	struct rv_p2p_cast_peer_stats ps[RV_P2P_CAST_PEERS];   /* by neighbour: nps slots used */
	size_t nps;
	struct rv_p2p_range *scratch;   /* w / 2 + 1 ranges */
	struct rv_buf out, events;
	/* the upload budget (p2pcast_up.c) */
	struct rv_buf paced[2];     /* fragments waiting for the bucket: pushed, on pulls */
	double pull_bits;           /* what waits in paced[1] */
	double tokens;              /* bits */
	uint64_t tokens_at, paced_due, rate_at;   /* paced_due: when the head may go (0: none waits) */
	uint64_t offer_acc, in_acc; /* wire bytes offered to neighbours, of new fragments, since rate_at */
	uint64_t in_hist[10], offer_hist[10];   /* the same, in the last 10 map periods */
	uint64_t hist_ms[10];       /* how long each of those was */
	uint32_t hist_i;
	int map_turn;               /* the neighbour next in turn for our map */
	double offer_rate, stream_rate;   /* bits/s over those */
	struct rv_p2p_cast_stats st;
	uint8_t msg[RV_P2P_MSG_MAX];
	uint8_t sigmsg[12 + ID + 13 + RV_P2P_CAST_FRAG_MAX];   /* what a fragment's signature covers */
	uint8_t ev[RV_P2P_CAST_INFO_MAX];
};

/* p2pcast.c */
uint32_t cast_rnd(struct rv_p2p_cast *c);
/* The stream may be taken: not restricted, or its announce was admitted. */
#define CAST_OPEN(c) (!(c)->conf.admit || (c)->conf.publisher || (c)->info)
/* Neighbour P is on another run than ours: its fragments, maps, pulls and end are not ours. */
#define CAST_OTHER_RUN(c, p) ((c)->conf.admit && (c)->info && (p)->run != (c)->run)
/* An event: TYPE, from PEER (NULL: none), SEQ, FLAGS, DATA (LEN bytes; NULL: none but LEN). */
void cast_event(struct rv_p2p_cast *c, enum rv_p2p_cast_ev_type type, const uint8_t *peer, uint32_t seq,
		uint8_t flags, const uint8_t *data, size_t len);
/* F's bytes freed, F emptied. */
void cast_evict(struct frag *f);
/* A message (LEN bytes in c->msg, none when LEN <= 0) for P. */
void cast_send(struct rv_p2p_cast *c, const struct cpeer *p, long len);
/* The oldest seq the window keeps. */
uint32_t cast_lower(const struct rv_p2p_cast *c);
/* Fragment SEQ's slot, or NULL when it is not in the window or not in state WANT. */
struct frag *cast_get(struct rv_p2p_cast *c, uint32_t seq, int want);
/* P's last map has SEQ. */
int cast_map_has(const struct cpeer *p, uint32_t seq);
/* Delivery goes on at TO: a SKIP of what is before it. */
void cast_skip_to(struct rv_p2p_cast *c, uint32_t to);
/* What is due delivered, in order (DATA, SKIP, then END). */
void cast_deliver(struct rv_p2p_cast *c);

/* The clock moves to NOW (a stall moves the deadlines of what is missing). */
void cast_advance(struct rv_p2p_cast *c, uint64_t now);
/* Fragment SEQ (FLAGS, DATA, LEN bytes, SIG its signature or NULL) from
 * neighbour P, or from IP multicast (P NULL): kept when new, pushed on,
 * delivered; 0, or RV_EPROTO with *WHY when its signature fails
 * (conf.verify). */
int cast_frag_take(struct rv_p2p_cast *c, struct cpeer *p, uint32_t seq, uint8_t flags, const uint8_t *sig,
		   const uint8_t *data, size_t len, const char **why);
/* The announce in M (CAST_INFO) from FROM, or from IP multicast (NULL). */
int cast_info_in(struct rv_p2p_cast *c, struct cpeer *from, const struct rv_p2p_msg *m, const char **why);
/* The end at END from FROM, or from IP multicast (NULL). */
int cast_end_in(struct rv_p2p_cast *c, struct cpeer *from, uint32_t end, const char **why);

/* Our map into c->msg, FLAGS and our spare upload: its length. */
long cast_build_map(struct rv_p2p_cast *c, uint8_t flags);
/* Our neighbour with ID, or NULL. */
struct cpeer *cast_find(struct rv_p2p_cast *c, const uint8_t id[ID]);

/* p2pcast_up.c: the upload budget */
/* The first seq our maps say: the window's; with a budget, the first
 * that may still be pulled (known for less than deadline_ms + fetch_ms). */
uint32_t cast_map_from(struct rv_p2p_cast *c);
/* Fragment F (SEQ) to P, pushed or on its pull (PULLED): sent at once
 * without a budget, else queued for the bucket; counted once sent. */
void cast_frag_out(struct rv_p2p_cast *c, struct cpeer *p, uint32_t seq, struct frag *f, int pulled);
/* The rates measured, neighbours declined while the push rate is past the budget's 85 %. */
void cast_up_tick(struct rv_p2p_cast *c);
/* Our map (N bytes in c->msg) to the neighbours in the stream, on our
 * run: to all without a budget; with one, to as many as a tenth of it
 * carries, in turn. */
void cast_up_maps(struct rv_p2p_cast *c, long n);
/* Our spare upload for our maps' flags (already shifted). */
uint8_t cast_up_flags(const struct rv_p2p_cast *c);
/* Neighbour P asks us to push MASK (CAST_PUSH): taken, or declined; what
 * we push it is said (CAST_GRANT). */
void cast_up_push_in(struct rv_p2p_cast *c, struct cpeer *p, uint8_t mask);
/* P's map flags: its spare upload; DECLINE: its sub-streams asked of another. */
void cast_up_map_in(struct rv_p2p_cast *c, struct cpeer *p, uint8_t flags);
/* P may be asked to push (it did not decline us lately): its weight (spare), 0: not now, -1: never. */
int cast_up_weight(const struct rv_p2p_cast *c, const struct cpeer *p);

/* p2pcast_sig.c: signed fragments */
/* Fragment SEQ (FLAGS, DATA, LEN bytes) signed by conf.sign into SIG: 0 or RV_EPROTO. */
int cast_sign(struct rv_p2p_cast *c, uint32_t seq, uint8_t flags, const uint8_t *data, size_t len,
	      uint8_t sig[RV_P2P_SIG_LEN]);
/* SIG (NULL: none) is the publisher's for fragment SEQ (conf.verify): 0,
 * or RV_EPROTO with *WHY, counted forged. */
int cast_check(struct rv_p2p_cast *c, uint32_t seq, uint8_t flags, const uint8_t *sig, const uint8_t *data,
	       size_t len, const char **why);

/* p2pcast_rx.c */
/* How far we are from the publisher on sub-stream B's pushes granted: 0
 * publishing, 1 + our pusher's, or HOPS_NONE. */
uint8_t cast_hops(const struct rv_p2p_cast *c, int b);
/* P's maps' hops (HOPS, NULL: not said) kept; a sub-stream nobody pushes
 * us that P is fed is asked at once. */
void cast_hops_in(struct rv_p2p_cast *c, struct cpeer *p, const uint8_t *hops);
/* P pushes us MASK of ASKED (CAST_GRANT; stale unless ASKED is what we
 * ask of it now): the rest asked of another, a publisher's unasked ones
 * taken up. */
void cast_grant_in(struct rv_p2p_cast *c, struct cpeer *p, uint8_t asked, uint8_t mask);
/* A keyframe request (HOPS so far) toward the publisher, never back to FROM. */
void cast_ask_key(struct rv_p2p_cast *c, const struct cpeer *from, uint8_t hops);
/* Join, when a keyframe start to join at is known (and delivery starts). */
void cast_join(struct rv_p2p_cast *c);
/* Each sub-stream without a pusher that delivers, asked of another (before
 * the announce too, unless one was refused). */
void cast_resubscribe(struct rv_p2p_cast *c);
/* Every push asked withdrawn. */
void cast_unsubscribe(struct rv_p2p_cast *c);
/* What push did not bring in time, asked of neighbours whose maps have it. */
void cast_pull(struct rv_p2p_cast *c);
/* A new run of the stream, announced by FROM (NULL: IP multicast): the old one forgotten (a RESET event). */
void cast_reset(struct rv_p2p_cast *c, const struct cpeer *from);

#endif
