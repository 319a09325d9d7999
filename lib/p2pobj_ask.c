/* p2pobj_ask.c - a replicated object's engine (p2pobj.h): what to ask of
 * which neighbour (rarest first, the endgame, a rate a neighbour), and its
 * timers. The state is p2pobj_int.h's; messages in are p2pobj.c's. */
#include <stdint.h>

#include "p2pmsg.h"
#include "p2pobj_int.h"

/* ---- asking ---- */

/* The chunk to ask of P: missing, held by P, asked of nobody (or, in the
 * ENDGAME, of one other), rarest first, from a random start. UINT32_MAX:
 * none. *OPEN says whether any missing chunk is asked of nobody. */
static uint32_t pick(struct rv_p2p_obj *o, struct opeer *p, int endgame, int *open)
{
	uint32_t n = o->nmiss, best = UINT32_MAX, start = obj_rnd(o) % (n ? n : 1);
	int me = obj_pidx(o, p), full = obj_complete(o, p);
	uint16_t low = UINT16_MAX;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = o->miss[start + k < n ? start + k : start + k - n];
		struct ochunk *c = &o->c[i];
		int asked = (c->by[0] != NONE) + (c->by[1] != NONE);
		if (!asked)
			*open = 1;
		if (!p->have[i] || c->by[0] == me || c->by[1] == me || asked != endgame)
			continue;
		if (full && c->pavail && !c->failed && !endgame)
			continue;	/* a partial holder has it: leave the full ones' upload for the rest */
		if (c->avail < low) {
			low = c->avail;
			best = i;
			if (low <= 1)
				break;
		}
	}
	return best;
}

static void request(struct rv_p2p_obj *o, struct opeer *p, uint32_t i)
{
	struct ochunk *c = &o->c[i];
	int k = c->by[0] == NONE ? 0 : 1;
	c->by[k] = (int8_t)obj_pidx(o, p);
	c->at[k] = o->now;
	p->inflight++;
	p->tokens -= (double)rv_p2p_man_chunk_len(&o->m, i);
	o->st.requests++;
	obj_event(o, RV_P2P_OBJ_SEND_NOTIFY, p, i, NULL, NULL, 0);
}

/* Ask P for what it may give now, in one OBJ_WANT. */
void obj_ask(struct rv_p2p_obj *o, struct opeer *p)
{
	double cap = (double)o->conf.peer_rate / 4;
	if (cap < (double)o->conf.window * o->m.chunk_size)
		cap = (double)o->conf.window * o->m.chunk_size;
	p->tokens += (double)(o->now - p->tok_at) * o->conf.peer_rate / 1000.0;
	p->tok_at = o->now;
	if (p->tokens > cap)
		p->tokens = cap;
	struct rv_p2p_range r[RV_P2P_RANGES_MAX];
	size_t n = 0;
	while (p->inflight < o->conf.window && p->tokens >= o->m.chunk_size && n < RV_P2P_RANGES_MAX) {
		int open = 0;
		uint32_t i = pick(o, p, 0, &open);
		if (i == UINT32_MAX && !open)
			i = pick(o, p, 1, &open);
		if (i == UINT32_MAX)
			break;
		request(o, p, i);
		r[n].first = i;
		r[n++].count = 1;
	}
	if (n)
		obj_send_msg(o, p, rv_p2p_msg_obj_ranges(o->msg, sizeof o->msg, RV_P2P_M_OBJ_WANT, o->id, 0, r, n));
}

void obj_schedule(struct rv_p2p_obj *o)
{
	o->all = 0;
	if (!o->known) {
		obj_ask_manifest(o, o->now);
		return;
	}
	if (o->done || !o->m.nchunks)
		return;
	for (int k = 0; k < RV_P2P_OBJ_PEERS; k++) {
		struct opeer *p = &o->p[k];
		if (p->up && !p->avoided && p->nhave)
			obj_ask(o, p);
	}
}

/* ---- time ---- */

static void expire(struct rv_p2p_obj *o)
{
	for (uint32_t j = 0; j < o->nmiss; j++) {	/* only missing chunks are asked for */
		uint32_t i = o->miss[j];
		struct ochunk *c = &o->c[i];
		for (int k = 0; k < 2; k++) {
			if (c->by[k] == NONE || o->now < c->at[k] + o->conf.timeout_ms)
				continue;
			struct opeer *p = &o->p[(int)c->by[k]];
			c->by[k] = NONE;
			c->failed = 1;
			o->all = 1;
			p->inflight--;
			o->st.timeouts++;
			obj_event(o, RV_P2P_OBJ_FAILED, p, i, "timed out", NULL, 0);
		}
	}
}

void rv_p2p_obj_tick(struct rv_p2p_obj *o, uint64_t now)
{
	o->now = now;
	obj_announce_flush(o);
	if (now < o->tick_at)
		return;
	o->tick_at = now + RV_P2P_OBJ_TICK_MS;
	if (o->known)
		expire(o);
	for (int k = 0; o->seeding && k < RV_P2P_OBJ_PEERS; k++)
		if (o->p[k].up && !o->p[k].avoided && o->p[k].shown)
			obj_reveal(o, &o->p[k], 0, 0);
	obj_schedule(o);
}

uint64_t rv_p2p_obj_next(const struct rv_p2p_obj *o)
{
	if (o->nann && o->ann_at + RV_P2P_OBJ_ANNOUNCE_MS < o->tick_at)
		return o->ann_at + RV_P2P_OBJ_ANNOUNCE_MS;
	return o->tick_at;
}

void rv_p2p_obj_stats(const struct rv_p2p_obj *o, struct rv_p2p_obj_stats *st)
{
	*st = o->st;
}
