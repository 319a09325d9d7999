/* p2pcast.h - one live stream among the neighbours of a peer, no I/O.
 *
 * The publisher cuts nothing: each of its RTP/SRTP packets (opaque bytes,
 * at most RV_P2P_CAST_FRAG_MAX) is a fragment, numbered in the stream (seq, from
 * 0), flagged where a keyframe starts. Every peer of the stream, the
 * publisher included, runs this engine (p2pmsg.h, CAST_* messages):
 *
 *  - on a neighbour's arrival both sides send CAST_MAP (flag ASK) and, when
 *    known, the stream's announce (CAST_INFO); a neighbour is in the stream
 *    once it sent a CAST_* message for it, and only those get the rest
 *    (the others get a map with flag ASK every 10 map periods: the first
 *    may have been lost); a peer without the announce flags its maps INFO,
 *    and a neighbour that has it sends it;
 *  - push: a receiver asks one neighbour per sub-stream (seq % 8) to push
 *    it that sub-stream's fragments (CAST_PUSH, a mask per neighbour), and
 *    the neighbour answers what of it it pushes (CAST_GRANT): one fed that
 *    sub-stream on a chain of pushes granted from the publisher (the hops
 *    its maps say, no further than ours said: not one we feed), with
 *    spare upload, at random weighted by the spare and by nearness to the
 *    publisher; this before the stream's first fragment and its announce
 *    too, as soon as a neighbour's map says it is fed, so that the trees
 *    are made before the stream comes; once the stream goes and none is
 *    fed, one whose map is the furthest ahead; a sub-stream whose pusher brought
 *    nothing for conf.fetch_ms while the stream went on is asked of another
 *    (so each of the 8 sub-streams settles on a neighbour that delivers),
 *    and so is one whose pusher brings only fragments we knew of for half
 *    a fetch period already (it is fed late: its own pulls); a push granted
 *    sends at once what the asker's map lacks of that sub-stream's last
 *    second, as pull answers (the stream's start, a new pusher);
 *    each fragment a peer holds first is forwarded at once to the
 *    neighbours that asked its sub-stream, not to the one it came from nor
 *    to one whose map has it, to at most conf.push_limit + 1 of them; a
 *    peer takes a sub-stream's push for that many neighbours at most: the
 *    next that asks it is not granted it, so that it asks another at once
 *    rather than stall and pull (and not that one again for 2 s, or
 *    conf.fetch_ms while its maps say it has spare upload); a grant that
 *    answers an ask since changed is stale and ignored;
 *  - availability: every conf.map_ms each neighbour gets our CAST_MAP (the
 *    fragments held in the window as ranges, the keyframe starts, and for
 *    each sub-stream our hops: 0 publishing, 1 + our pusher's while it
 *    granted it and has not stalled, else 255);
 *  - pull: a fragment known to exist (a later one arrived, or a map has it)
 *    and still missing conf.fetch_ms later (at once while its sub-stream
 *    has no pusher that brought one since asked: no push is coming) is
 *    asked (CAST_PULL) of a neighbour whose map has it, of another half a
 *    fetch period later, until its deadline; a peer sends each fragment at most conf.push_limit + 1 times
 *    in all (push and pull), so a publisher uploads at most that many
 *    times the stream, but answers a pull marked LAST (its asker's fifth
 *    try and on, RV_P2P_CAST_PULL_TRIES) whatever the limit: a forging
 *    relay or loss may have taken the copies, and it may be the only
 *    honest holder left;
 *  - the window: fragments older than conf.window_ms or more than
 *    conf.window_max behind the newest are dropped; one that comes again
 *    is dropped and counted (duplicates), one behind the window too;
 *  - delivery: in order from a keyframe start, each fragment as a DATA
 *    event; one still missing conf.deadline_ms after it was known to exist
 *    (or fallen out of the window) is given up (SKIP) and delivery goes on;
 *    when the caller did not run the engine for more than 4 map periods
 *    (a stall), the deadlines of what is missing move on by the gap;
 *    the first DATA always starts a keyframe (when the start joined at is
 *    given up, the receiver joins again at a later one, SKIP between);
 *  - join: a receiver starts, while the stream's first fragment is still
 *    held or in a map (a stream younger than the window), at the oldest
 *    keyframe start it holds or a map shows (so that a receiver that came
 *    before the publisher misses nothing), else at the newest; not before
 *    conf.fetch_ms after it learnt of the stream (for the maps to come)
 *    unless that is fragment 0; it pulls what follows at once (a first
 *    fragment that is no keyframe start is given up as below); while it
 *    knows of none it asks for a keyframe (CAST_KEY), at most every conf.key_ms,
 *    of the neighbour that pushed it a fragment last (or the one furthest
 *    ahead); each peer forwards such a request the same way (at most every
 *    conf.key_ms, never back, at most RV_P2P_TTL_MAX hops), and the
 *    publisher gets a KEY_REQUEST event (at most every conf.key_ms);
 *  - the end: the publisher ends the stream (rv_p2p_cast_end) and tells
 *    its neighbours (CAST_END: the fragments are 0 to END - 1); each peer
 *    that learns it tells its other neighbours at once, and every peer that
 *    knows it tells all its neighbours again every map period (a message
 *    may be lost) and any that comes up; fragments past the end are
 *    refused, what is missing before it is pulled as ever; once delivery
 *    reached the end (each fragment delivered or given up), or
 *    conf.deadline_ms after the end came to a receiver that never joined,
 *    an END event comes (once). An end before a fragment known is refused
 *    (RV_EPROTO); a second end is ignored.
 *
 * With conf.admit, a stream is taken only once an announce passed it
 * (where the group restricts publishing, p2pcap.h, it checks the
 * publisher's capability): until then its fragments are refused (counted),
 * maps do not make its fragments known, its end is ignored, and nothing
 * of it is delivered, held or passed on (an announce that fails is neither
 * kept nor passed on, and rv_p2p_cast_input says why); its pushes are
 * asked all the same (the trees are made before the announce comes), but
 * once an announce failed every ask is withdrawn and none made till one
 * passes; the INFO event
 * carries the application's bytes of the announce (past admit's *skip).
 *
 * Runs (conf.admit only): admit also reads the run of the stream an
 * announce is for (rvsend: when the publisher started), so that a
 * publisher that starts again under the same name, numbering from 0
 * again, is a new run of the stream (Flash's
 * NetStream.MulticastStream.Reset). A peer knows each neighbour's run
 * from the announces it sent; a neighbour whose run is not ours gets our
 * announce and a map asking for its own every map period, and its
 * fragments, maps, pulls and end are ignored meanwhile. An announce of a
 * newer run than ours resets the stream (the window, the maps, delivery,
 * the end: a RESET event, then INFO) and goes on to the other neighbours;
 * one of an older run gets ours back. A publisher keeps its own run.
 *
 * A publisher ignores fragments of its stream that neighbours send, and
 * their maps do not move its numbering; seq does not wrap (2^32
 * fragments).
 *
 * Signed fragments (conf.sign, conf.verify; rvkit: where the group
 * restricts publishing): the publisher signs each fragment it publishes,
 * and the signature goes with it everywhere (CAST_FRAG flag
 * RV_P2P_FRAG_SIGNED, IP multicast too); each receiver checks it before
 * it keeps, passes on or delivers the fragment, so that a member that may
 * not publish cannot slip its own packets into a stream it relays. The
 * signed bytes: "rvp2p-frag-1" | stream ID[32] | run u64 | seq u32 |
 * flags u8 (RV_P2P_FRAG_KEY or 0) | the fragment. One that fails, or comes
 * unsigned, is refused and counted (forged), and its neighbour told so
 * (rv_p2p_cast_input returns RV_EPROTO); before an announce was admitted
 * no fragment is taken at all.
 *
 * Upload budget (conf.max_upload, bits/s; 0: none, every push and pull
 * answer leaves at once as above). The budget counts what goes on the
 * wire (each message plus RV_P2P_CAST_WIRE_EXTRA bytes of session, UDP
 * and IP headers) and is the whole upload of the stream:
 *  - pacing: fragments pushed and sent on pulls wait for a token bucket
 *    filled at the budget (at most 50 ms of it, at least two fragments,
 *    deep): pushes first, pull answers with what they leave; the stream's
 *    other messages go at once but take their tokens too. A fragment that
 *    waited conf.upload_wait_ms is not sent, and a pull answer that would
 *    find half that much of the budget waiting is not taken: both counted
 *    in fragments_over_budget, not as pushed or requested (the fragment
 *    may be asked again, of another);
 *  - fan-out: the stream's rate is measured (its new fragments over the
 *    last 10 map periods, as they cost on the wire, once it came for that
 *    long: a keyframe would pass for the rate), and the peer pushes at
 *    most as many sub-streams in all (its slots) as fit in 85 % of the
 *    budget (8 till then: a feed of each): of a CAST_PUSH asking more,
 *    the sub-streams it pushes to the fewest neighbours are taken first
 *    and the CAST_GRANT says which (the neighbour asks another for the
 *    rest); one left with none pushed while the slots are all used gets
 *    CAST_MAP flag DECLINE instead (it asks another for all, and not this
 *    peer again for 2 s; refused for a sub-stream's fan-out alone, it
 *    asks others those sub-streams); when the rate grows past the slots, sub-streams of
 *    neighbours picked at random stop, till within them, and each is told
 *    (CAST_GRANT). A publisher pushes each neighbour
 *    at most an eighth of its slots (at least one), so that its few
 *    slots make many first relays, even one it pushes to nobody else: a
 *    sub-stream nobody asked of it goes unasked to the neighbour it
 *    pushes the fewest, caught up on it and told so (CAST_GRANT past what
 *    was asked: every sub-stream has a feed, each its own first relay,
 *    and the fragments out before anyone asked are not left to pulls of
 *    the publisher alone); that neighbour takes it up in place of a pusher
 *    that brings nothing (it asks for it, and is served it);
 *  - spare upload: every map says the slots not used (CAST_MAP flags'
 *    high nibble: 1 + K; 0 without a budget); a receiver picks a
 *    sub-stream's pusher among those about as far as the stream at random,
 *    weighted by (spare + 1) x (1 + 4 x how many of the sub-stream's last 8
 *    fragments its map has) (without a budget: the spare as said, as 7
 *    when not said), none that declined it in the last 2 s; its pulls go to
 *    holders with spare first;
 *  - maps: each map period ours goes to as many neighbours as a tenth of
 *    the budget carries (at least one), in turn, and says only the
 *    fragments that may still be pulled (known for less than
 *    conf.deadline_ms + conf.fetch_ms): a stream with holes does not fill
 *    the upload with maps, and a joiner starts at the newest keyframe.
 * Old peers ignore the new map flags (wire compatible): one that is
 * declined, or not pushed, asks another when its sub-streams stall, as
 * ever.
 *
 * The engine decides, the caller moves the bytes: it feeds the CAST_*
 * messages neighbours send (rv_p2p_cast_input), sends what
 * rv_p2p_cast_take gives to the neighbour it names, plays DATA events, and
 * calls rv_p2p_cast_tick when rv_p2p_cast_next says. The counters carry
 * NetStreamMulticastInfo's names, in all and by neighbour.
 *
 * Memory: conf.window_max fragments (at most RV_P2P_CAST_WINDOW_MAX, each
 * at most RV_P2P_CAST_FRAG_MAX bytes), a map of at most RV_P2P_RANGES_MAX ranges
 * per neighbour (at most RV_P2P_CAST_PEERS), the queues of messages out
 * (RV_P2P_CAST_OUT_MAX bytes) and events (RV_P2P_CAST_EVENTS_MAX): past
 * either a message or event is dropped and counted. Not thread-safe. */
#ifndef RV_P2PCAST_H
#define RV_P2PCAST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "p2pmsg.h"

#define RV_P2P_CAST_PEERS 64
#define RV_P2P_CAST_WINDOW_MAX 65536
#define RV_P2P_CAST_OUT_MAX (8u << 20)
#define RV_P2P_CAST_EVENTS_MAX (8u << 20)
#define RV_P2P_CAST_WIRE_EXTRA 80     /* bytes a message costs on the wire past its own (upload budget) */

struct rv_p2p_cast_conf {
	int publisher;                /* we publish (rv_p2p_cast_publish) */
	uint32_t push_limit;          /* a fragment leaves a peer at most push_limit + 1 times (0: 4) */
	uint32_t window_ms;           /* fragments kept this long (0: 8000) */
	uint32_t window_max;          /* and at most this many (0: 4096; at most RV_P2P_CAST_WINDOW_MAX) */
	uint32_t map_ms;              /* availability maps this often (0: 100) */
	uint32_t fetch_ms;            /* push's head start before a pull (0: 200) */
	uint32_t deadline_ms;         /* a missing fragment is given up after (0: 2000) */
	uint32_t key_ms;              /* keyframe requests at most this often (0: 1000) */
	uint32_t (*rnd)(void *ud);    /* random numbers (NULL: a generator seeded by the stream ID) */
	void *rnd_ud;
	/* may the announce INFO (N bytes) stand? 0 with *SKIP the offset of
	 * the application's bytes and *RUN the run it is for, or RV_EDENIED
	 * with *WHY (NULL: every announce is taken whole, no runs) */
	int (*admit)(void *ud, const uint8_t *info, size_t n, size_t *skip, uint64_t *run, const char **why);
	void *admit_ud;
	uint64_t max_upload;          /* the upload budget, bits/s (see "Upload budget"; 0: none) */
	uint32_t upload_wait_ms;      /* a fragment waits for the budget at most this long (0: 300) */
	/* signed fragments (see "Signed fragments"): a publisher's signature of
	 * MSG (N bytes) into SIG, 0 or < 0 (the fragment is not published); a
	 * receiver's check of SIG against MSG for the stream's RUN, 0 when it
	 * is the publisher's (NULL both: fragments are not signed) */
	int (*sign)(void *ud, const uint8_t *msg, size_t n, uint8_t sig[RV_P2P_SIG_LEN]);
	int (*verify)(void *ud, uint64_t run, const uint8_t *msg, size_t n, const uint8_t sig[RV_P2P_SIG_LEN]);
	void *sig_ud;
};

enum rv_p2p_cast_ev_type {
	RV_P2P_CAST_DATA = 1,         /* fragment SEQ, in order: DATA, LEN, FLAGS (RV_P2P_FRAG_KEY) */
	RV_P2P_CAST_SKIP,             /* fragment SEQ was given up: delivery goes on after it */
	RV_P2P_CAST_INFO,             /* the stream's announce came: DATA, LEN */
	RV_P2P_CAST_KEY_REQUEST,      /* publisher: a receiver wants a keyframe (from PEER) */
	RV_P2P_CAST_END,              /* the stream ended at SEQ (its fragments: 0 to SEQ - 1), all delivered
				       * or given up; from PEER (or none: ours) */
	RV_P2P_CAST_RESET,            /* a new run of the stream (announced by PEER; SEQ: how many fragments
				       * the old one had); delivery starts again, an INFO event follows */
};

struct rv_p2p_cast_ev {
	enum rv_p2p_cast_ev_type type;
	uint8_t peer[RV_P2P_HASH_LEN];
	uint32_t seq;
	uint8_t flags;
	const uint8_t *data;          /* valid until the next call */
	size_t len;
};

/* NetStreamMulticastInfo's counters, and ours. */
struct rv_p2p_cast_stats {
	uint64_t fragments_pushed_from_peers, bytes_pushed_from_peers;   /* new fragments pushed to us */
	uint64_t fragments_pushed_to_peers, bytes_pushed_to_peers;       /* fragments we pushed */
	uint64_t fragments_requested_by_peers, bytes_requested_by_peers; /* pulls we answered */
	uint64_t fragments_requested_from_peers, bytes_requested_from_peers;   /* new fragments pulled */
	uint64_t fragments_published, bytes_published;
	uint64_t fragments_from_ipmc, bytes_from_ipmc;   /* new fragments from IP multicast */
	uint64_t pulls;                   /* fragments asked (CAST_PULL) */
	uint64_t duplicates, bytes_duplicate, late;   /* copies held already; fragments behind the window */
	uint64_t delivered, skipped;      /* DATA events; fragments given up */
	uint64_t key_requests;            /* CAST_KEY sent (receiver) or KEY_REQUEST events (publisher) */
	uint64_t refused, dropped;        /* pulls past the limit (and a publisher: fragments sent
					   * to it; a restricted stream: its fragments before an
					   * admitted announce); queue overflows */
	uint64_t announces_refused;       /* announces that failed conf.admit */
	uint64_t forged;                  /* fragments whose signature failed (or had none): refused */
	uint64_t resets;                  /* new runs of the stream (RESET events) */
	uint64_t other_run;               /* messages of neighbours (or IP multicast fragments) on another
					   * run, ignored */
	uint64_t run;                     /* the run we are in (0: none known) */
	uint64_t stalls;                  /* gaps of more than 4 map periods between calls */
	uint64_t control_bytes_out;       /* maps, pulls, push masks, key requests, announces sent */
	uint64_t fragments_over_budget, bytes_over_budget;   /* pushes and pull answers the budget
							   * could not send in time: not sent, not
							   * counted as pushed or requested */
	uint64_t push_declines;           /* neighbours told to ask another for all (DECLINE) or some
					   * (CAST_GRANT of less than asked): our upload was full */
	uint64_t push_declined;           /* times a neighbour told us so */
	uint64_t upload_rate;             /* bits/s of pushes and pull answers offered, measured (budget only) */
	uint32_t first, newest;           /* the first fragment delivered (after a SKIP or DATA), the newest known */
	int joined;                       /* delivery started */
	int ended;                        /* the end is known: the stream has END fragments */
	uint32_t end;
};

/* One neighbour's share of the counters above (NetStreamMulticastInfo's,
 * by peer). A neighbour's are kept after it left, as long as there is
 * room (RV_P2P_CAST_PEERS neighbours): past that a new one takes the place
 * of one gone. So, while fewer neighbours came, each field summed over the
 * neighbours is the total above. */
struct rv_p2p_cast_peer_stats {
	uint8_t peer[RV_P2P_HASH_LEN];
	int up;                           /* a neighbour now */
	uint64_t fragments_pushed_from, bytes_pushed_from;       /* new fragments it pushed to us */
	uint64_t fragments_requested_from, bytes_requested_from; /* new fragments it sent on our pulls */
	uint64_t duplicates;              /* fragments it sent that we held already */
	uint64_t fragments_pushed_to, bytes_pushed_to;           /* fragments we pushed to it */
	uint64_t fragments_requested_by, bytes_requested_by;     /* fragments we sent on its pulls */
};

struct rv_p2p_cast;

/* rv_p2p_cast_id - the ID of the stream named NAME (SHA-256 of
 * "rvcast:" NAME) into ID. */
void rv_p2p_cast_id(const char *name, uint8_t id[RV_P2P_HASH_LEN]);

/* rv_p2p_cast_new - an engine for the stream ID: 0, -EINVAL (a window past
 * RV_P2P_CAST_WINDOW_MAX) or -ENOMEM. */
int rv_p2p_cast_new(struct rv_p2p_cast **out, const uint8_t id[RV_P2P_HASH_LEN], const struct rv_p2p_cast_conf *c);
void rv_p2p_cast_free(struct rv_p2p_cast *c);

/* rv_p2p_cast_set_info - the stream's announce (P, N bytes: 1 to
 * RV_P2P_CAST_INFO_MAX, RV_ETOOBIG past it), sent to every neighbour; with
 * conf.admit, the publisher's run is read from it (RV_EDENIED when admit
 * refuses it). */
int rv_p2p_cast_set_info(struct rv_p2p_cast *c, const uint8_t *p, size_t n);
/* rv_p2p_cast_info - the announce (*N bytes, whole: with a restricted
 * stream's signature and capability), or NULL while unknown (a restricted
 * stream's: admitted). */
const uint8_t *rv_p2p_cast_info(const struct rv_p2p_cast *c, size_t *n);

/* rv_p2p_cast_publish - the publisher's next fragment (P, N bytes; KEY: a
 * keyframe starts here) at NOW: its seq (>= 0), -EINVAL when we do not
 * publish, RV_ETOOBIG for 0 or past RV_P2P_CAST_FRAG_MAX bytes, -ENOMEM. */
long rv_p2p_cast_publish(struct rv_p2p_cast *c, uint64_t now, const uint8_t *p, size_t n, int key);

/* rv_p2p_cast_end - the publisher ends the stream at NOW (after the
 * fragments published): 0, or -EINVAL when we do not publish or ended it
 * already. Nothing is published after. */
int rv_p2p_cast_end(struct rv_p2p_cast *c, uint64_t now);

/* Neighbours: PEER came up at NOW (our map and announce go to it), or went. */
void rv_p2p_cast_peer_up(struct rv_p2p_cast *c, uint64_t now, const uint8_t peer[RV_P2P_HASH_LEN]);
void rv_p2p_cast_peer_down(struct rv_p2p_cast *c, const uint8_t peer[RV_P2P_HASH_LEN]);

/* rv_p2p_cast_input - the CAST_* message M (parsed by p2pmsg) from PEER at
 * NOW: 0 (a message for another stream, or from a peer not up, is
 * ignored), or RV_EPROTO (*WHY) when it makes no sense: a map whose ranges
 * are out of order or overlap, a pull of more fragments than the window
 * holds; or RV_EDENIED (*WHY, conf.admit's) for an announce refused. */
int rv_p2p_cast_input(struct rv_p2p_cast *c, uint64_t now, const uint8_t peer[RV_P2P_HASH_LEN],
		      const struct rv_p2p_msg *m, const char **why);

/* rv_p2p_cast_input_fragment - fragment SEQ (DATA, LEN bytes; FLAGS:
 * RV_P2P_FRAG_KEY) of the stream's RUN, as IP multicast brought it at NOW
 * (fusion: the caller checked that the datagram is of this group and
 * stream, p2pipmc.h). Taken as one a neighbour pushed (held, pushed on to
 * neighbours that asked its sub-stream, delivered), but counted in
 * fragments_from_ipmc; refused (counted) as a neighbour's would be: by a
 * publisher, before a restricted stream's announce was admitted, past the
 * end; a copy of one held is a duplicate. With conf.admit, one of another
 * run than ours is ignored (other_run). While IP multicast brings new
 * fragments (one in the last conf.fetch_ms), the receiver asks no
 * neighbour to push (the sub-streams are dropped, CAST_PUSH 0): the mesh
 * only fills, by pull, what multicast missed. 0, or RV_ETOOBIG for 0 or
 * past RV_P2P_CAST_FRAG_MAX bytes. */
int rv_p2p_cast_input_fragment(struct rv_p2p_cast *c, uint64_t now, uint64_t run, uint32_t seq, uint8_t flags,
			       const uint8_t *data, size_t len);
/* The same with the publisher's signature SIG (RV_P2P_SIG_LEN bytes; NULL:
 * none); with conf.verify a fragment whose signature fails, or has none, is
 * refused (forged) and RV_EPROTO returned. */
int rv_p2p_cast_input_fragment_sig(struct rv_p2p_cast *c, uint64_t now, uint64_t run, uint32_t seq, uint8_t flags,
				   const uint8_t *sig, const uint8_t *data, size_t len);
/* rv_p2p_cast_sig - fragment SEQ's signature (RV_P2P_SIG_LEN bytes, valid
 * until the next call), or NULL: not held, or not signed. */
const uint8_t *rv_p2p_cast_sig(const struct rv_p2p_cast *c, uint32_t seq);

/* rv_p2p_cast_input_announce - the stream's announce (P, N bytes) as IP
 * multicast brought it at NOW: taken as a neighbour's CAST_INFO would be
 * (conf.admit, runs, the INFO or RESET event with no peer, passed on to
 * the neighbours), so that a receiver with no neighbour can play the
 * stream. 0, RV_ETOOBIG (0 or past RV_P2P_CAST_INFO_MAX bytes), or
 * RV_EDENIED (*WHY, conf.admit's). */
int rv_p2p_cast_input_announce(struct rv_p2p_cast *c, uint64_t now, const uint8_t *p, size_t n, const char **why);
/* rv_p2p_cast_input_end - the stream of RUN ends at END, as IP multicast
 * told at NOW: taken as a neighbour's CAST_END (the END event with no
 * peer, told on to the neighbours); with conf.admit, another run's is
 * ignored (other_run). 0, or RV_EPROTO (*WHY) for an end before a
 * fragment known. */
int rv_p2p_cast_input_end(struct rv_p2p_cast *c, uint64_t now, uint64_t run, uint32_t end, const char **why);

/* rv_p2p_cast_take - the next message to send into BUF (CAP of at least
 * RV_P2P_MSG_MAX) and the neighbour it is for: its length, or 0. With an
 * upload budget, 0 may leave fragments waiting for it: rv_p2p_cast_next
 * says when to call rv_p2p_cast_tick (then this) again. */
ssize_t rv_p2p_cast_take(struct rv_p2p_cast *c, uint8_t peer[RV_P2P_HASH_LEN], uint8_t *buf, size_t cap);
/* rv_p2p_cast_poll - the next event into E: 1, or 0 when none waits. */
int rv_p2p_cast_poll(struct rv_p2p_cast *c, struct rv_p2p_cast_ev *e);

/* rv_p2p_cast_tick - timers at NOW; rv_p2p_cast_next says when the next
 * is due (or when the upload budget lets a waiting fragment go). */
void rv_p2p_cast_tick(struct rv_p2p_cast *c, uint64_t now);
uint64_t rv_p2p_cast_next(const struct rv_p2p_cast *c);

void rv_p2p_cast_stats(const struct rv_p2p_cast *c, struct rv_p2p_cast_stats *st);
/* rv_p2p_cast_peer_stats - the Ith neighbour's counters (from 0, in the
 * order of their slots) into ST: 1, or 0 past the last. */
int rv_p2p_cast_peer_stats(const struct rv_p2p_cast *c, size_t i, struct rv_p2p_cast_peer_stats *st);

#endif
