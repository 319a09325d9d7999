/* p2pobj_int.h - the state of a replicated object's engine (p2pobj.h),
 * shared by p2pobj.c (messages in, holdings, seeding) and p2pobj_ask.c
 * (what to ask of whom, timers). Not an interface: lib only. */
#ifndef RV_P2POBJ_INT_H
#define RV_P2POBJ_INT_H

#include <stdint.h>

#include "buf.h"
#include "p2pobj.h"

#define ID RV_P2P_HASH_LEN
#define NONE (-1)

struct opeer {
	int used, up, avoided, has_man;
	uint8_t id[ID];
	uint8_t *have;              /* a byte a chunk, once the manifest is known: it holds it */
	uint8_t *shown;             /* seeding: a byte a chunk: we said we hold it */
	uint32_t nhave, inflight, bad, serving;
	uint32_t pending;           /* seeding: chunks shown that it does not hold yet */
	uint64_t gained;            /* seeding: when it last took a chunk we did not show it */
	double tokens;
	uint64_t tok_at;
};

struct ochunk {
	uint64_t at[2];             /* when each request left */
	int8_t by[2];               /* the peers asked (NONE: no request) */
	uint8_t have, failed;       /* failed: a request timed out (any holder may be asked) */
	uint16_t avail, pavail;     /* holders up and not avoided; those of them not complete */
	uint16_t offered;           /* seeding: neighbours up it was shown to that have not taken it */
};

struct rv_p2p_obj {
	struct rv_p2p_obj_conf conf;
	uint8_t id[ID];
	uint8_t *man;               /* the manifest's bytes (owned), man_len of them */
	size_t man_len;
	struct rv_p2p_man m;
	int known, done, seeding;
	int all;                    /* after this input, ask every neighbour (not only its sender) */
	struct ochunk *c;
	uint32_t held;
	uint32_t *miss, *mpos, nmiss;
	uint32_t ann[RV_P2P_OBJ_ANNOUNCE], nann;   /* chunks checked, not announced yet (since ann_at) */
	uint64_t ann_at;   /* the chunks missing, in no order; where each is in miss */
	int stale;                  /* seeding: every chunk is held by a fetcher or shown (until one is not) */
	uint8_t *got;               /* a manifest arriving: man_total bytes, man_got so far */
	uint32_t man_total, man_got;
	int man_peer;
	uint64_t man_at;
	struct opeer p[RV_P2P_OBJ_PEERS];
	struct rv_buf out, events;
	uint64_t now, tick_at, rnd_state;
	struct rv_p2p_obj_stats st;
	uint8_t msg[RV_P2P_MSG_MAX];
	uint8_t ev[RV_P2P_CHUNK_MAX];
};

/* p2pobj.c */
uint32_t obj_rnd(struct rv_p2p_obj *o);
int obj_pidx(const struct rv_p2p_obj *o, const struct opeer *p);
int obj_complete(const struct rv_p2p_obj *o, const struct opeer *p);
void obj_event(struct rv_p2p_obj *o, enum rv_p2p_obj_ev_type type, const struct opeer *p, uint32_t index,
	       const char *why, const uint8_t *data, size_t len);
void obj_send_msg(struct rv_p2p_obj *o, const struct opeer *p, long len);
void obj_ask_manifest(struct rv_p2p_obj *o, uint64_t now);
void obj_announce_flush(struct rv_p2p_obj *o);
void obj_reveal(struct rv_p2p_obj *o, struct opeer *p, uint8_t flags, int again);
/* p2pobj_ask.c */
void obj_ask(struct rv_p2p_obj *o, struct opeer *p);
void obj_schedule(struct rv_p2p_obj *o);

#endif
