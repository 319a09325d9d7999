/* p2pobj.c - replicating one object among neighbours (p2pobj.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "buf.h"
#include "err.h"
#include "p2pobj.h"
#include "p2pobj_int.h"

/* The engine's state is p2pobj_int.h's; what to ask of whom, and the
 * timers, are p2pobj_ask.c's. */

uint32_t obj_rnd(struct rv_p2p_obj *o)
{
	if (o->conf.rnd)
		return o->conf.rnd(o->conf.rnd_ud);
	o->rnd_state ^= o->rnd_state << 13;
	o->rnd_state ^= o->rnd_state >> 7;
	o->rnd_state ^= o->rnd_state << 17;
	return (uint32_t)(o->rnd_state >> 16);
}

int rv_p2p_obj_new(struct rv_p2p_obj **out, const uint8_t id[ID], const struct rv_p2p_obj_conf *c)
{
	struct rv_p2p_obj *o = calloc(1, sizeof *o);
	if (!o)
		return -ENOMEM;
	if (c)
		o->conf = *c;
	o->conf.window = o->conf.window ? o->conf.window : 8;
	o->conf.timeout_ms = o->conf.timeout_ms ? o->conf.timeout_ms : 3000;
	o->conf.peer_rate = o->conf.peer_rate ? o->conf.peer_rate : 8u << 20;
	o->conf.bad_max = o->conf.bad_max ? o->conf.bad_max : 1;
	memcpy(o->id, id, ID);
	o->rnd_state = rv_rd64(id) | 1;
	o->man_peer = NONE;
	rv_buf_init(&o->out, RV_P2P_OBJ_OUT_MAX);
	rv_buf_init(&o->events, RV_P2P_OBJ_EVENTS_MAX);
	*out = o;
	return 0;
}

void rv_p2p_obj_free(struct rv_p2p_obj *o)
{
	if (!o)
		return;
	for (int i = 0; i < RV_P2P_OBJ_PEERS; i++) {
		free(o->p[i].have);
		free(o->p[i].shown);
	}
	free(o->man);
	free(o->got);
	free(o->c);
	free(o->miss);
	free(o->mpos);
	rv_buf_free(&o->out);
	rv_buf_free(&o->events);
	free(o);
}

/* ---- queues ---- */

/* An event: type u8 | peer | index u32 | why | len u32 | data. */
void obj_event(struct rv_p2p_obj *o, enum rv_p2p_obj_ev_type type, const struct opeer *p, uint32_t index,
		  const char *why, const uint8_t *data, size_t len)
{
	size_t head = 1 + ID + 4 + sizeof why + 4;
	uint8_t *q = rv_buf_reserve(&o->events, head + len);
	if (!q) {
		o->st.dropped++;
		return;
	}
	q[0] = (uint8_t)type;
	if (p)
		memcpy(q + 1, p->id, ID);
	else
		memset(q + 1, 0, ID);
	rv_wr32(q + 1 + ID, index);
	memcpy(q + 1 + ID + 4, &why, sizeof why);
	rv_wr32(q + 1 + ID + 4 + sizeof why, (uint32_t)len);
	if (len)
		memcpy(q + head, data, len);
	rv_buf_commit(&o->events, head + len);
}

int rv_p2p_obj_poll(struct rv_p2p_obj *o, struct rv_p2p_obj_ev *e)
{
	size_t head = 1 + ID + 4 + sizeof e->why + 4;
	if (rv_buf_size(&o->events) < head)
		return 0;
	const uint8_t *q = rv_buf_head(&o->events);
	memset(e, 0, sizeof *e);
	e->type = q[0];
	memcpy(e->peer, q + 1, ID);
	e->index = rv_rd32(q + 1 + ID);
	memcpy(&e->why, q + 1 + ID + 4, sizeof e->why);
	e->len = rv_rd32(q + 1 + ID + 4 + sizeof e->why);
	if (e->type == RV_P2P_OBJ_MANIFEST) {
		e->data = o->man;	/* its bytes stay ours */
		e->len = o->man_len;
	} else if (e->len) {
		memcpy(o->ev, q + head, e->len);
		e->data = o->ev;
	}
	rv_buf_consume(&o->events, head + (e->type == RV_P2P_OBJ_MANIFEST ? 0 : e->len));
	return 1;
}

/* A message (LEN bytes in o->msg) for P. */
void obj_send_msg(struct rv_p2p_obj *o, const struct opeer *p, long len)
{
	if (len > 0 && rv_p2p_queue_put(&o->out, p->id, o->msg, len) < 0)
		o->st.dropped++;
}

ssize_t rv_p2p_obj_take(struct rv_p2p_obj *o, uint8_t peer[ID], uint8_t *buf, size_t cap)
{
	long n = rv_p2p_queue_take(&o->out, peer, buf, cap);
	if (n < 0)	/* the caller's buffer is too small: the message is lost */
		o->st.dropped++;
	return n < 0 ? 0 : n;
}

/* ---- neighbours ---- */

static struct opeer *find(struct rv_p2p_obj *o, const uint8_t id[ID])
{
	for (int i = 0; i < RV_P2P_OBJ_PEERS; i++)
		if (o->p[i].used && !memcmp(o->p[i].id, id, ID))
			return &o->p[i];
	return NULL;
}

int obj_pidx(const struct rv_p2p_obj *o, const struct opeer *p)
{
	return (int)(p - o->p);
}

int obj_complete(const struct rv_p2p_obj *o, const struct opeer *p)
{
	return o->known && p->nhave == o->m.nchunks;
}

/* P's holdings counted (SIGN 1) or no longer (-1) in the chunks' availability. */
static void count(struct rv_p2p_obj *o, struct opeer *p, int sign)
{
	if (!o->known || !p->have)
		return;
	int partial = !obj_complete(o, p);
	for (uint32_t i = 0; i < o->m.nchunks; i++)
		if (p->have[i]) {
			o->c[i].avail = (uint16_t)(o->c[i].avail + sign);
			if (partial)
				o->c[i].pavail = (uint16_t)(o->c[i].pavail + sign);
		}
}

/* P's request for chunk I, if any, is over. */
static void unrequest(struct rv_p2p_obj *o, struct opeer *p, uint32_t i)
{
	struct ochunk *c = &o->c[i];
	for (int k = 0; k < 2; k++)
		if (c->by[k] == obj_pidx(o, p)) {
			c->by[k] = NONE;
			p->inflight--;
		}
}

static void avoid(struct rv_p2p_obj *o, struct opeer *p, const char *why)
{
	if (p->avoided)
		return;
	if (p->up)
		count(o, p, -1);
	p->avoided = 1;
	o->all = 1;
	o->st.avoided++;
	o->stale = 0;
	if (o->known)
		for (uint32_t i = 0; i < o->m.nchunks; i++) {
			unrequest(o, p, i);
			if (p->shown && p->shown[i] && !p->have[i]) {	/* its offers go back */
				p->shown[i] = 0;
				p->pending--;
				o->c[i].offered--;
			}
		}
	if (o->man_peer == obj_pidx(o, p))
		o->man_peer = NONE;
	obj_event(o, RV_P2P_OBJ_AVOID, p, 0, why, NULL, 0);
}

/* Our holdings, as OBJ_HAVEs of at most RV_P2P_RANGES_MAX ranges, to P
 * (seeding: a few at a time). */
static void send_have(struct rv_p2p_obj *o, struct opeer *p, uint8_t flags)
{
	struct rv_p2p_range r[RV_P2P_RANGES_MAX];
	size_t n = 0;
	if (o->known)
		flags |= RV_P2P_OBJ_HAVE_MAN;
	if (o->seeding && p->shown)
		return obj_reveal(o, p, flags, 1);
	uint32_t total = o->known ? o->m.nchunks : 0;
	for (uint32_t i = 0; i < total; i++) {
		if (!o->c[i].have)
			continue;
		if (n && r[n - 1].first + r[n - 1].count == i) {
			r[n - 1].count++;
			continue;
		}
		if (n == RV_P2P_RANGES_MAX) {
			obj_send_msg(o, p, rv_p2p_msg_obj_ranges(o->msg, sizeof o->msg, RV_P2P_M_OBJ_HAVE, o->id, flags, r, n));
			n = 0;
			flags = 0;
		}
		r[n].first = i;
		r[n++].count = 1;
	}
	obj_send_msg(o, p, rv_p2p_msg_obj_ranges(o->msg, sizeof o->msg, RV_P2P_M_OBJ_HAVE, o->id, flags, r, n));
}

/* Seeding (BitTorrent's super-seeding, BEP 16): a holder of every chunk
 * shows each neighbour only RV_P2P_OBJ_SHOWN chunks it lacks at a time,
 * those least held and least shown first, and more as it takes them, so
 * that each chunk leaves us about once and the neighbours trade the rest. */
void obj_reveal(struct rv_p2p_obj *o, struct opeer *p, uint8_t flags, int again)
{
	struct rv_p2p_range r[2 * RV_P2P_OBJ_SHOWN];
	size_t n = 0;
	uint32_t total = o->m.nchunks, start = total ? obj_rnd(o) % total : 0;
	for (uint32_t i = 0; again && i < total && n < RV_P2P_OBJ_SHOWN; i++)
		if (p->shown[i] && !p->have[i]) {	/* AGAIN: those shown before too (it had no manifest) */
			r[n].first = i;
			r[n++].count = 1;
		}
	/* what other fetchers hold it may take from them, and what others
	 * were shown and have not taken yet it may take from them soon; unless
	 * it is stuck (its neighbours are not theirs, or they are slow), only
	 * what no fetcher holds and no one else was shown is shown. A holder of
	 * everything that does not seed is no reason to hold a chunk back: its
	 * neighbours ask it last, and it may be a liar they avoid. */
	int stuck = o->now >= p->gained + o->conf.timeout_ms;
	while (p->pending < RV_P2P_OBJ_SHOWN && p->nhave + p->pending < total && (stuck || !o->stale)) {
		uint32_t best = UINT32_MAX, low = UINT32_MAX;
		for (uint32_t k = 0; k < total; k++) {
			uint32_t i = start + k < total ? start + k : start + k - total;
			uint32_t score = (uint32_t)o->c[i].pavail + o->c[i].offered;
			if (!stuck && score)
				continue;
			if (!p->have[i] && !p->shown[i] && score < low) {
				low = score;
				best = i;
				if (!score)
					break;
			}
		}
		if (best == UINT32_MAX) {
			o->stale = !stuck;	/* every chunk is held or shown: none to scan for until one is not */
			break;
		}
		p->shown[best] = 1;
		p->pending++;
		o->c[best].offered++;
		r[n].first = best;
		r[n++].count = 1;
	}
	if (n || flags)
		obj_send_msg(o, p, rv_p2p_msg_obj_ranges(o->msg, sizeof o->msg, RV_P2P_M_OBJ_HAVE, o->id,
						     flags | RV_P2P_OBJ_HAVE_MAN, r, n));
}

/* P's per-chunk arrays, once the manifest is known: 0 or -ENOMEM. */
static int peer_arrays(struct rv_p2p_obj *o, struct opeer *p)
{
	size_t n = o->m.nchunks ? o->m.nchunks : 1;
	p->have = calloc(n, 1);
	p->shown = calloc(n, 1);
	if (p->have && p->shown)
		return 0;
	free(p->have);
	free(p->shown);
	p->have = p->shown = NULL;
	return -ENOMEM;
}

void rv_p2p_obj_peer_up(struct rv_p2p_obj *o, uint64_t now, const uint8_t peer[ID])
{
	struct opeer *p = find(o, peer);
	for (int i = 0; !p && i < RV_P2P_OBJ_PEERS; i++)
		if (!o->p[i].used || (!o->p[i].up && !o->p[i].avoided))
			p = &o->p[i];
	if (!p || p->up)
		return;
	int avoided = p->used && !memcmp(p->id, peer, ID) && p->avoided;   /* remembered */
	uint32_t bad = avoided ? p->bad : 0;
	free(p->have);
	free(p->shown);
	memset(p, 0, sizeof *p);
	p->used = p->up = 1;
	p->avoided = avoided;
	p->bad = bad;
	memcpy(p->id, peer, ID);
	p->tok_at = p->gained = now;
	p->tokens = (double)o->conf.window * RV_P2P_CHUNK_MAX;
	if (o->known && peer_arrays(o, p) < 0)
		p->used = p->up = 0;
	else
		send_have(o, p, RV_P2P_OBJ_HAVE_ASK);
}

void rv_p2p_obj_peer_down(struct rv_p2p_obj *o, const uint8_t peer[ID])
{
	struct opeer *p = find(o, peer);
	if (!p || !p->up)
		return;
	if (!p->avoided)
		count(o, p, -1);
	o->stale = 0;
	if (o->known)
		for (uint32_t i = 0; i < o->m.nchunks; i++) {
			unrequest(o, p, i);
			if (p->shown && p->shown[i] && !p->have[i])
				o->c[i].offered--;	/* shown, never taken: as if not shown */
		}
	if (o->man_peer == obj_pidx(o, p))
		o->man_peer = NONE;
	p->up = 0;
	free(p->have);
	free(p->shown);
	p->have = p->shown = NULL;
	p->nhave = p->pending = 0;
	if (!p->avoided)
		p->used = 0;
}

/* ---- the manifest ---- */

static int adopt(struct rv_p2p_obj *o, const uint8_t *bytes, size_t n, const char **why)
{
	struct rv_p2p_man m;
	int rc = rv_p2p_man_parse(bytes, n, &m, why);
	if (rc < 0)
		return rc;
	if (CRYPTO_memcmp(m.id, o->id, ID)) {
		*why = "the manifest is not the object's";
		return RV_EPROTO;
	}
	uint8_t *copy = malloc(n);
	struct ochunk *c = calloc(m.nchunks ? m.nchunks : 1, sizeof *c);
	uint32_t *miss = calloc(m.nchunks ? m.nchunks : 1, sizeof *miss);
	uint32_t *mpos = calloc(m.nchunks ? m.nchunks : 1, sizeof *mpos);
	if (!copy || !c || !miss || !mpos) {
		free(copy);
		free(c);
		free(miss);
		free(mpos);
		*why = "out of memory";
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m.nchunks; i++) {
		c[i].by[0] = c[i].by[1] = NONE;
		miss[i] = mpos[i] = i;
	}
	memcpy(copy, bytes, n);
	o->man = copy;
	o->man_len = n;
	rv_p2p_man_parse(o->man, n, &o->m, why);	/* pointers into our copy */
	for (int i = 0; i < RV_P2P_OBJ_PEERS; i++)
		if (o->p[i].up && peer_arrays(o, &o->p[i]) < 0)
			o->p[i].up = o->p[i].used = 0;
	o->c = c;
	o->miss = miss;
	o->mpos = mpos;
	o->nmiss = m.nchunks;
	o->known = 1;
	o->st.chunks = m.nchunks;
	o->st.size = m.size;
	return 0;
}

int rv_p2p_obj_set_manifest(struct rv_p2p_obj *o, const uint8_t *p, size_t n, const char **why)
{
	if (o->known)
		return -EEXIST;
	return adopt(o, p, n, why);
}

const struct rv_p2p_man *rv_p2p_obj_manifest(const struct rv_p2p_obj *o)
{
	return o->known ? &o->m : NULL;
}

static void finished(struct rv_p2p_obj *o)
{
	if (!o->done && o->known && o->held == o->m.nchunks) {
		o->done = 1;
		obj_event(o, RV_P2P_OBJ_DONE, NULL, 0, NULL, NULL, 0);
	}
}

void obj_ask_manifest(struct rv_p2p_obj *o, uint64_t now)
{
	if (o->known || (o->man_peer != NONE && now < o->man_at + o->conf.timeout_ms))
		return;
	int from = o->man_peer == NONE ? 0 : o->man_peer + 1;
	o->man_peer = NONE;
	for (int k = 0; k < RV_P2P_OBJ_PEERS; k++) {
		struct opeer *p = &o->p[(from + k) % RV_P2P_OBJ_PEERS];
		if (p->up && p->has_man && !p->avoided) {
			o->man_peer = obj_pidx(o, p);
			o->man_at = now;
			obj_send_msg(o, p, rv_p2p_msg_obj_get(o->msg, sizeof o->msg, o->id, o->man_got));
			return;
		}
	}
}

/* A piece of the manifest from P. */
static int man_in(struct rv_p2p_obj *o, struct opeer *p, const struct rv_p2p_msg *m, const char **why)
{
	if (o->known || o->man_peer != obj_pidx(o, p) || m->offset != o->man_got)
		return 0;	/* late, or not asked for */
	if (!o->got) {
		if (!(o->got = malloc(m->total)))
			return 0;
		o->man_total = m->total;
	} else if (m->total != o->man_total) {
		*why = "manifest total changed";
		return RV_EPROTO;
	}
	memcpy(o->got + o->man_got, m->data, m->data_len);
	o->man_got += (uint32_t)m->data_len;
	o->man_at = o->now;
	if (o->man_got < o->man_total) {
		obj_send_msg(o, p, rv_p2p_msg_obj_get(o->msg, sizeof o->msg, o->id, o->man_got));
		return 0;
	}
	int rc = adopt(o, o->got, o->man_total, why);
	free(o->got);
	o->got = NULL;
	o->man_got = o->man_total = 0;
	o->man_peer = NONE;
	if (rc == -ENOMEM)
		return 0;
	if (rc < 0)
		return RV_EPROTO;
	obj_event(o, RV_P2P_OBJ_MANIFEST, p, 0, NULL, NULL, 0);
	for (int i = 0; i < RV_P2P_OBJ_PEERS; i++)
		if (o->p[i].up)
			send_have(o, &o->p[i], RV_P2P_OBJ_HAVE_ASK);	/* now their holdings mean something */
	finished(o);
	return 0;
}

static void get_in(struct rv_p2p_obj *o, struct opeer *p, const struct rv_p2p_msg *m)
{
	if (!o->known || m->offset >= o->man_len)
		return;
	size_t len = o->man_len - m->offset;
	if (len > RV_P2P_PIECE_MAX)
		len = RV_P2P_PIECE_MAX;
	long n = rv_p2p_msg_obj_man(o->msg, sizeof o->msg, o->id, (uint32_t)o->man_len, m->offset,
				    o->man + m->offset, len);
	obj_send_msg(o, p, n);
	o->st.manifest_up += len;
}

/* ---- holdings ---- */

static void peer_has(struct rv_p2p_obj *o, struct opeer *p, uint32_t i)
{
	if (p->have[i])
		return;
	int counted = !p->avoided;
	p->have[i] = 1;
	p->nhave++;
	if (!p->shown[i])	/* from another: it has other sources */
		p->gained = o->now;
	if (p->shown[i]) {
		p->pending--;
		o->c[i].offered--;	/* taken: no longer an offer out */
	}
	if (counted) {
		o->c[i].avail++;
		o->c[i].pavail++;
	}
	if (counted && obj_complete(o, p)) {	/* complete now: a holder of everything, not a partial one */
		for (uint32_t k = 0; k < o->m.nchunks; k++)
			o->c[k].pavail--;
		o->stale = 0;
	}
}

/* Every range of M within the object? */
static int ranges_ok(const struct rv_p2p_obj *o, const struct rv_p2p_msg *m, const char **why)
{
	for (size_t k = 0; k < m->n; k++) {
		struct rv_p2p_range r = rv_p2p_msg_range(m, k);
		if (r.first + r.count > o->m.nchunks) {
			*why = "chunk range past the object";
			return RV_EPROTO;
		}
	}
	return 0;
}

static int have_in(struct rv_p2p_obj *o, struct opeer *p, const struct rv_p2p_msg *m, const char **why)
{
	if (m->flags & RV_P2P_OBJ_HAVE_MAN)
		p->has_man = 1;
	if (!o->known) {
		if (m->flags & RV_P2P_OBJ_HAVE_ASK)
			send_have(o, p, 0);
		return 0;
	}
	int rc = ranges_ok(o, m, why);
	for (size_t k = 0; rc == 0 && k < m->n; k++) {
		struct rv_p2p_range r = rv_p2p_msg_range(m, k);
		for (uint32_t i = r.first; i < r.first + r.count; i++)
			peer_has(o, p, i);
	}
	if (rc == 0 && (m->flags & RV_P2P_OBJ_HAVE_ASK))
		send_have(o, p, 0);
	else if (rc == 0 && o->seeding)
		obj_reveal(o, p, 0, 0);	/* it took some: show it more */
	return rc;
}

static int want_in(struct rv_p2p_obj *o, struct opeer *p, const struct rv_p2p_msg *m, const char **why)
{
	if (!o->known)
		return 0;
	int rc = ranges_ok(o, m, why);
	for (size_t k = 0; rc == 0 && k < m->n; k++) {
		struct rv_p2p_range r = rv_p2p_msg_range(m, k);
		for (uint32_t i = r.first; i < r.first + r.count && p->serving < RV_P2P_OBJ_SERVE_MAX; i++)
			if (o->c[i].have) {
				p->serving++;
				obj_event(o, RV_P2P_OBJ_REQUEST, p, i, NULL, NULL, 0);
			}
	}
	return rc;
}

void rv_p2p_obj_serve(struct rv_p2p_obj *o, const uint8_t peer[ID], uint32_t i, const uint8_t *data,
		      size_t len)
{
	struct opeer *p = find(o, peer);
	if (!p || !p->serving)
		return;
	p->serving--;
	if (!data || !p->up || p->avoided)
		return;
	long n = rv_p2p_msg_obj_chunk(o->msg, sizeof o->msg, o->id, i, data, len);
	if (n > 0) {
		o->st.bytes_up += len;
		o->st.served++;
	}
	obj_send_msg(o, p, n);
}

static void keep(struct rv_p2p_obj *o, uint32_t i)
{
	uint32_t at = o->mpos[i], last = o->miss[--o->nmiss];
	o->miss[at] = last;	/* the last missing one takes its place */
	o->mpos[last] = at;
	o->c[i].have = 1;
	o->held++;
	o->st.held = o->held;
}

/* The chunks checked since the last call, in one OBJ_HAVE to every
 * neighbour: they may ask us for them now. */
void obj_announce_flush(struct rv_p2p_obj *o)
{
	struct rv_p2p_range r[RV_P2P_OBJ_ANNOUNCE];
	if (!o->nann)
		return;
	for (uint32_t k = 0; k < o->nann; k++) {
		r[k].first = o->ann[k];
		r[k].count = 1;
	}
	long len = rv_p2p_msg_obj_ranges(o->msg, sizeof o->msg, RV_P2P_M_OBJ_HAVE, o->id, RV_P2P_OBJ_HAVE_MAN,
					 r, o->nann);
	o->nann = 0;
	for (int k = 0; k < RV_P2P_OBJ_PEERS; k++)
		if (o->p[k].up && !o->p[k].avoided)
			obj_send_msg(o, &o->p[k], len);
}

/* Chunk I, just checked: announced with the others of this tick (a HAVE a
 * chunk to every neighbour was most of the datagrams), at once when
 * RV_P2P_OBJ_ANNOUNCE wait or the object is whole. */
static void announce(struct rv_p2p_obj *o, uint32_t i)
{
	if (!o->nann)
		o->ann_at = o->now;
	o->ann[o->nann++] = i;
	if (o->nann == RV_P2P_OBJ_ANNOUNCE || o->held == o->m.nchunks)
		obj_announce_flush(o);
}

static int chunk_in(struct rv_p2p_obj *o, struct opeer *p, const struct rv_p2p_msg *m, const char **why)
{
	if (!o->known)
		return 0;	/* a chunk of a manifest we have not had: ignored */
	uint32_t i = m->index;
	if (i >= o->m.nchunks) {
		*why = "chunk index past the object";
		return RV_EPROTO;
	}
	o->st.bytes_down += m->data_len;
	unrequest(o, p, i);
	if (o->c[i].have) {
		o->st.duplicates++;
		return 0;
	}
	if (rv_p2p_man_check(&o->m, i, m->data, m->data_len) < 0) {
		o->st.bad_chunks++;
		o->all = 1;	/* the chunk may go elsewhere now */
		obj_event(o, RV_P2P_OBJ_FAILED, p, i, "bad chunk", NULL, 0);
		if (++p->bad >= o->conf.bad_max)
			avoid(o, p, "sent bad chunks");
		return 0;
	}
	int other = NONE;
	for (int k = 0; k < 2; k++)	/* the endgame's other request: its answer will be a duplicate */
		if (o->c[i].by[k] != NONE) {
			other = o->c[i].by[k];
			unrequest(o, &o->p[other], i);
		}
	if (other != NONE)	/* it may be asked something else */
		o->all = 1;
	keep(o, i);
	announce(o, i);
	o->st.results++;
	obj_event(o, RV_P2P_OBJ_RESULT, p, i, NULL, m->data, m->data_len);
	finished(o);
	return 0;
}

int rv_p2p_obj_hold(struct rv_p2p_obj *o, uint32_t i)
{
	if (!o->known || i >= o->m.nchunks)
		return -EINVAL;
	for (int k = 0; k < 2 && !o->c[i].have; k++)	/* asked too: no longer */
		if (o->c[i].by[k] != NONE)
			unrequest(o, &o->p[(int)o->c[i].by[k]], i);
	if (!o->c[i].have)
		keep(o, i);
	if (o->held == o->m.nchunks)	/* all the caller's own: we seed */
		o->done = o->seeding = 1;
	return 0;
}

int rv_p2p_obj_holds(const struct rv_p2p_obj *o, uint32_t i)
{
	return o->known && i < o->m.nchunks && o->c[i].have;
}

int rv_p2p_obj_input(struct rv_p2p_obj *o, uint64_t now, const uint8_t peer[ID], const struct rv_p2p_msg *m,
		     const char **why)
{
	struct opeer *p = find(o, peer);
	o->now = now;
	if (!m->obj || memcmp(m->obj, o->id, ID) || !p || !p->up || p->avoided)
		return 0;
	int rc = 0;
	switch (m->type) {
	case RV_P2P_M_OBJ_GET:
		get_in(o, p, m);
		break;
	case RV_P2P_M_OBJ_MAN:
		rc = man_in(o, p, m, why);
		break;
	case RV_P2P_M_OBJ_HAVE:
		rc = have_in(o, p, m, why);
		break;
	case RV_P2P_M_OBJ_WANT:
		rc = want_in(o, p, m, why);
		break;
	case RV_P2P_M_OBJ_CHUNK:
		rc = chunk_in(o, p, m, why);
		break;
	default:
		return 0;
	}
	if (rc < 0)
		avoid(o, p, *why);
	/* what changed concerns the sender (its holdings, its requests), unless
	 * a chunk was opened again or the manifest came: then every neighbour */
	if (o->all || !o->known || m->type == RV_P2P_M_OBJ_MAN)
		obj_schedule(o);
	else if ((m->type == RV_P2P_M_OBJ_HAVE || m->type == RV_P2P_M_OBJ_CHUNK) && !o->done && p->up &&
		 !p->avoided && p->nhave)
		obj_ask(o, p);
	o->all = 0;
	return rc;
}
