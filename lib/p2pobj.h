/* p2pobj.h - replicating one object among the neighbours of a peer, no I/O.
 *
 * An object is a file named by its manifest (p2pman.h): the object ID is
 * the manifest's SHA-256, and the manifest names every chunk by its
 * SHA-256, so every byte a neighbour gives is checked before it is kept or
 * passed on. The sharer holds every chunk; a fetcher starts from the ID
 * alone (or from a manifest and the chunks it kept: resume), and serves
 * what it holds while it fetches (p2pmsg.h, OBJ_* messages):
 *
 *  - on a neighbour's arrival both sides send OBJ_HAVE with what they hold
 *    (flag ASK: "and tell me yours"; flag MAN: "I have the manifest");
 *    the chunks checked since are announced to every neighbour in one
 *    OBJ_HAVE at each rv_p2p_obj_tick (rv_p2p_obj_next: at most
 *    RV_P2P_OBJ_ANNOUNCE_MS after the first), or as soon as
 *    RV_P2P_OBJ_ANNOUNCE wait or the last came;
 *  - a fetcher without the manifest asks a neighbour that has it
 *    (OBJ_GET, piece by piece), checks its SHA-256 against the ID and its
 *    signature, and, when it fails, avoids that neighbour;
 *  - a holder of every chunk from the start (the sharer, a resume that
 *    found everything) seeds: it shows each neighbour only
 *    RV_P2P_OBJ_SHOWN chunks it lacks at a time, none that another holds
 *    or was shown, more as it takes them (BitTorrent's super-seeding), so
 *    that each chunk leaves it about once and the fetchers trade the rest;
 *    a neighbour that took nothing from the others for conf.timeout_ms is
 *    shown any chunk it lacks;
 *  - chunks are asked (OBJ_WANT) rarest first among the neighbours up: at
 *    most conf.window at once of one neighbour and conf.peer_rate bytes a
 *    second (under the node's flood limit, and the socket's buffer); a
 *    neighbour that holds everything is asked only for what no partial
 *    holder has (so the fetchers feed each other, not the sharer alone);
 *    when every missing chunk is being asked for (the endgame), a chunk
 *    may be asked of a second neighbour;
 *  - a request unanswered for conf.timeout_ms is given up (Fetch.Failed,
 *    "timed out") and may go elsewhere; a chunk whose length or hash is
 *    wrong is dropped (Fetch.Failed, "bad chunk"), counted against its
 *    sender, and a sender of conf.bad_max bad chunks (or of a message that
 *    makes no sense: a range past the object, a piece out of order) is
 *    avoided: asked nothing more, its requests not served.
 *
 * The engine decides, the caller moves the bytes: it feeds the OBJ_*
 * messages neighbours send (rv_p2p_obj_input), sends what rv_p2p_obj_take
 * gives to the neighbour it names, answers REQUEST events with the chunk's
 * bytes (rv_p2p_obj_serve), keeps RESULT events' bytes, and calls
 * rv_p2p_obj_tick when rv_p2p_obj_next says. Events (rv_p2p_obj_poll) carry
 * Flash's Replication names.
 *
 * Memory: the manifest (at most RV_P2P_MAN_MAX), 24 bytes a chunk, one byte
 * a chunk per neighbour (at most RV_P2P_OBJ_PEERS), the queues of messages
 * out (RV_P2P_OBJ_OUT_MAX bytes: past it a message is dropped and counted)
 * and of events (RV_P2P_OBJ_EVENTS_MAX, the same). Not thread-safe. */
#ifndef RV_P2POBJ_H
#define RV_P2POBJ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "p2pman.h"

#define RV_P2P_OBJ_PEERS 64
#define RV_P2P_OBJ_OUT_MAX (16u << 20)
#define RV_P2P_OBJ_EVENTS_MAX (16u << 20)
#define RV_P2P_OBJ_TICK_MS 50         /* timeouts checked, neighbours asked again this often */
#define RV_P2P_OBJ_SERVE_MAX 256      /* requests of one neighbour waiting for serve */
#define RV_P2P_OBJ_SHOWN 16           /* seeding: chunks shown to a neighbour and not yet taken */
#define RV_P2P_OBJ_ANNOUNCE 32        /* chunks checked and not yet announced (else at each tick) */
#define RV_P2P_OBJ_ANNOUNCE_MS 20     /* rv_p2p_obj_next: chunks checked wait at most this long */

struct rv_p2p_obj_conf {
	uint32_t window;                  /* chunks asked of one neighbour at once (0: 8) */
	uint32_t timeout_ms;              /* a request unanswered is given up (0: 3000) */
	uint32_t peer_rate;               /* chunk bytes asked of one neighbour a second (0: 8 MiB) */
	uint32_t bad_max;                 /* bad chunks before a neighbour is avoided (0: 1) */
	uint32_t (*rnd)(void *ud);        /* random numbers (NULL: a generator seeded by the ID) */
	void *rnd_ud;
};

enum rv_p2p_obj_ev_type {
	RV_P2P_OBJ_MANIFEST = 1,  /* the manifest came and checks: DATA, LEN (keep it to resume) */
	RV_P2P_OBJ_SEND_NOTIFY,   /* chunk INDEX asked of PEER (Fetch.SendNotify) */
	RV_P2P_OBJ_RESULT,        /* chunk INDEX from PEER checks: DATA, LEN, to keep at
				   * INDEX x chunk_size (Fetch.Result) */
	RV_P2P_OBJ_FAILED,        /* chunk INDEX from PEER: WHY ("bad chunk", "timed out") (Fetch.Failed) */
	RV_P2P_OBJ_AVOID,         /* PEER is avoided from now on: WHY */
	RV_P2P_OBJ_REQUEST,       /* PEER wants chunk INDEX we hold: rv_p2p_obj_serve (Replication.Request) */
	RV_P2P_OBJ_DONE,          /* every chunk is held (after the last RESULT) */
};

struct rv_p2p_obj_ev {
	enum rv_p2p_obj_ev_type type;
	uint8_t peer[RV_P2P_HASH_LEN];
	uint32_t index;
	const char *why;                  /* static */
	const uint8_t *data;              /* valid until the next call */
	size_t len;
};

struct rv_p2p_obj_stats {
	uint32_t chunks, held;            /* 0 chunks while the manifest is unknown */
	uint64_t size;
	uint64_t bytes_up, bytes_down;    /* chunk bytes sent, and received (checked or not) */
	uint64_t requests, results, duplicates, bad_chunks, timeouts, avoided;
	uint64_t served, manifest_up, dropped;   /* chunks sent; manifest bytes sent; queue overflows */
};

struct rv_p2p_obj;

/* rv_p2p_obj_new - an engine for the object ID: 0 or -ENOMEM. */
int rv_p2p_obj_new(struct rv_p2p_obj **out, const uint8_t id[RV_P2P_HASH_LEN], const struct rv_p2p_obj_conf *c);
void rv_p2p_obj_free(struct rv_p2p_obj *o);

/* rv_p2p_obj_set_manifest - the manifest (P, N bytes) when the caller has
 * it (sharing, resuming): 0, RV_EPROTO or RV_EDENIED (*WHY) when it does
 * not parse or is not the object's, -EEXIST when one is set, -ENOMEM. */
int rv_p2p_obj_set_manifest(struct rv_p2p_obj *o, const uint8_t *p, size_t n, const char **why);
/* rv_p2p_obj_manifest - the manifest, or NULL while unknown. */
const struct rv_p2p_man *rv_p2p_obj_manifest(const struct rv_p2p_obj *o);
/* rv_p2p_obj_hold - chunk I is held already (the caller checked it, e.g.
 * with rv_p2p_man_check): 0, or -EINVAL without a manifest or past it. */
int rv_p2p_obj_hold(struct rv_p2p_obj *o, uint32_t i);
int rv_p2p_obj_holds(const struct rv_p2p_obj *o, uint32_t i);

/* Neighbours: PEER came up at NOW (our HAVE goes to it), or went. */
void rv_p2p_obj_peer_up(struct rv_p2p_obj *o, uint64_t now, const uint8_t peer[RV_P2P_HASH_LEN]);
void rv_p2p_obj_peer_down(struct rv_p2p_obj *o, const uint8_t peer[RV_P2P_HASH_LEN]);

/* rv_p2p_obj_input - the OBJ_* message M (parsed by p2pmsg) from PEER at
 * NOW: 0 (a message for another object is ignored), or RV_EPROTO when it
 * makes no sense (*WHY; the peer is then avoided). */
int rv_p2p_obj_input(struct rv_p2p_obj *o, uint64_t now, const uint8_t peer[RV_P2P_HASH_LEN],
		     const struct rv_p2p_msg *m, const char **why);
/* rv_p2p_obj_serve - the caller's answer to a REQUEST: chunk I's bytes
 * (DATA, LEN; NULL when it cannot read them: nothing is sent) for PEER. */
void rv_p2p_obj_serve(struct rv_p2p_obj *o, const uint8_t peer[RV_P2P_HASH_LEN], uint32_t i,
		      const uint8_t *data, size_t len);

/* rv_p2p_obj_take - the next message to send into BUF (CAP of at least
 * RV_P2P_MSG_MAX) and the neighbour it is for: its length, or 0. */
ssize_t rv_p2p_obj_take(struct rv_p2p_obj *o, uint8_t peer[RV_P2P_HASH_LEN], uint8_t *buf, size_t cap);
/* rv_p2p_obj_poll - the next event into E: 1, or 0 when none waits. */
int rv_p2p_obj_poll(struct rv_p2p_obj *o, struct rv_p2p_obj_ev *e);

/* rv_p2p_obj_tick - timers at NOW; rv_p2p_obj_next says when the next is due. */
void rv_p2p_obj_tick(struct rv_p2p_obj *o, uint64_t now);
uint64_t rv_p2p_obj_next(const struct rv_p2p_obj *o);

void rv_p2p_obj_stats(const struct rv_p2p_obj *o, struct rv_p2p_obj_stats *st);

#endif
