/* p2pcast.c - one live stream among neighbours (p2pcast.h): the window,
 * the messages in, delivery, push out, the end, the counters; a
 * receiver's choices (join, push sub-streams, pulls, keyframe requests)
 * are p2pcast_rx.c's; the upload budget (p2pcast.h "Upload budget": a
 * token bucket pacing pushes and pull answers, pushes within 85 % of it,
 * DECLINE and spare upload in the maps' flags) is p2pcast_up.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "bytes.h"
#include "err.h"
#include "p2pcast_int.h"
#include "p2pman.h"

#define STALL 4                     /* map periods without a call: we were not run */
#define ASK_EVERY 10                /* ticks between maps to neighbours not (yet) in the stream */

void rv_p2p_cast_id(const char *name, uint8_t id[ID])
{
	uint8_t b[7 + 256];
	size_t n = strnlen(name, 256);
	memcpy(b, "rvcast:", 7);
	memcpy(b + 7, name, n);
	rv_p2p_sha256(b, 7 + n, id);
}

uint32_t cast_rnd(struct rv_p2p_cast *c)
{
	if (c->conf.rnd)
		return c->conf.rnd(c->conf.rnd_ud);
	c->rnd_state ^= c->rnd_state << 13;
	c->rnd_state ^= c->rnd_state >> 7;
	c->rnd_state ^= c->rnd_state << 17;
	return (uint32_t)(c->rnd_state >> 16);
}

static uint32_t dflt(uint32_t v, uint32_t d)
{
	return v ? v : d;
}

int rv_p2p_cast_new(struct rv_p2p_cast **out, const uint8_t id[ID], const struct rv_p2p_cast_conf *conf)
{
	struct rv_p2p_cast_conf k = { 0 };
	if (conf)
		k = *conf;
	k.push_limit = k.push_limit > 254 ? 254 : dflt(k.push_limit, 4);
	k.window_ms = dflt(k.window_ms, 8000);
	k.window_max = dflt(k.window_max, 4096);
	k.map_ms = dflt(k.map_ms, 100);
	k.fetch_ms = dflt(k.fetch_ms, 200);
	k.deadline_ms = dflt(k.deadline_ms, 2000);
	k.key_ms = dflt(k.key_ms, 1000);
	k.upload_wait_ms = dflt(k.upload_wait_ms, 300);
	if (k.window_max > RV_P2P_CAST_WINDOW_MAX)
		return -EINVAL;
	struct rv_p2p_cast *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->conf = k;
	c->w = k.window_max;
	c->f = calloc(c->w, sizeof *c->f);
	c->scratch = calloc(c->w / 2 + 1, sizeof *c->scratch);
	if (!c->f || !c->scratch) {
		rv_p2p_cast_free(c);
		return -ENOMEM;
	}
	memcpy(c->id, id, ID);
	c->rnd_state = rv_rd64(id) | 1;
	c->last_from = NONE;
	c->pull_salt = cast_rnd(c);
	for (int b = 0; b < SUBS; b++)
		c->sub[b] = NONE;
	memset(c->hops_said, HOPS_NONE, SUBS);
	rv_buf_init(&c->out, RV_P2P_CAST_OUT_MAX);
	rv_buf_init(&c->paced[0], RV_P2P_CAST_OUT_MAX);
	rv_buf_init(&c->paced[1], RV_P2P_CAST_OUT_MAX);
	rv_buf_init(&c->events, RV_P2P_CAST_EVENTS_MAX);
	*out = c;
	return 0;
}

void rv_p2p_cast_free(struct rv_p2p_cast *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; c->f && i < c->w; i++)
		free(c->f[i].data);
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		free(c->p[i].map);
	free(c->f);
	free(c->scratch);
	free(c->info);
	rv_buf_free(&c->out);
	rv_buf_free(&c->paced[0]);
	rv_buf_free(&c->paced[1]);
	rv_buf_free(&c->events);
	free(c);
}

/* ---- queues ---- */

/* An event: type u8 | peer | seq u32 | flags u8 | len u32 | data. */
#define EV_HEAD (1 + ID + 4 + 1 + 4)

void cast_event(struct rv_p2p_cast *c, enum rv_p2p_cast_ev_type type, const uint8_t *peer, uint32_t seq,
		  uint8_t flags, const uint8_t *data, size_t len)
{
	uint8_t *q = rv_buf_reserve(&c->events, EV_HEAD + (data ? len : 0));
	if (!q) {
		c->st.dropped++;
		return;
	}
	q[0] = (uint8_t)type;
	if (peer)
		memcpy(q + 1, peer, ID);
	else
		memset(q + 1, 0, ID);
	rv_wr32(q + 1 + ID, seq);
	q[1 + ID + 4] = flags;
	rv_wr32(q + 1 + ID + 5, (uint32_t)len);
	if (data && len)
		memcpy(q + EV_HEAD, data, len);
	rv_buf_commit(&c->events, EV_HEAD + (data ? len : 0));
}

int rv_p2p_cast_poll(struct rv_p2p_cast *c, struct rv_p2p_cast_ev *e)
{
	if (rv_buf_size(&c->events) < EV_HEAD)
		return 0;
	const uint8_t *q = rv_buf_head(&c->events);
	memset(e, 0, sizeof *e);
	e->type = q[0];
	memcpy(e->peer, q + 1, ID);
	e->seq = rv_rd32(q + 1 + ID);
	e->flags = q[1 + ID + 4];
	e->len = rv_rd32(q + 1 + ID + 5);
	size_t body = e->type == RV_P2P_CAST_SKIP ? 0 : e->len;
	if (body) {
		memcpy(c->ev, q + EV_HEAD, body);
		e->data = c->ev;
	}
	rv_buf_consume(&c->events, EV_HEAD + body);
	return 1;
}

/* A message (LEN bytes in c->msg) for P. */
void cast_send(struct rv_p2p_cast *c, const struct cpeer *p, long len)
{
	if (len <= 0)
		return;
	if (rv_p2p_queue_put(&c->out, p->id, c->msg, len) < 0)
		c->st.dropped++;
	else if (c->msg[0] != RV_P2P_M_CAST_FRAG)
		c->st.control_bytes_out += (uint64_t)len;
}

/* ---- the window ---- */

static struct frag *slot(struct rv_p2p_cast *c, uint32_t seq)
{
	return &c->f[seq % c->w];
}

/* The oldest seq the window keeps. */
uint32_t cast_lower(const struct rv_p2p_cast *c)
{
	uint32_t lo = c->end > c->w ? c->end - c->w : 0;
	return c->tail > lo ? c->tail : lo;
}

/* Fragment SEQ's slot, or NULL when it is not in the window (or not held
 * with WANT HELD). */
struct frag *cast_get(struct rv_p2p_cast *c, uint32_t seq, int want)
{
	if (seq >= c->end || seq < cast_lower(c))
		return NULL;
	struct frag *f = slot(c, seq);
	return f->seq == seq && f->state == want ? f : NULL;
}

void cast_evict(struct frag *f)
{
	free(f->data);
	memset(f, 0, sizeof *f);
}

/* The stream goes on at least to NEW_END (exclusive): the seqs between are
 * known to exist from NOW, missing (at most the window's worth). */
static void extend(struct rv_p2p_cast *c, uint32_t new_end)
{
	if (new_end <= c->end)
		return;
	uint32_t from = new_end - c->end > c->w ? new_end - c->w : c->end;
	for (uint32_t s = from; s < new_end; s++) {
		struct frag *f = slot(c, s);
		cast_evict(f);
		f->seq = s;
		f->state = MISSING;
		f->at = c->now;
	}
	if (c->end == 0)
		c->begin_at = c->now;
	c->end = new_end;
	c->end_at = c->now;
	if (c->tail < cast_lower(c))
		c->tail = cast_lower(c);
}

/* Drop what is older than the window's time. */
static void expire(struct rv_p2p_cast *c)
{
	c->tail = cast_lower(c);
	while (c->tail < c->end) {
		struct frag *f = slot(c, c->tail);
		if (f->seq == c->tail && f->state != EMPTY && f->at + c->conf.window_ms > c->now)
			break;
		if (f->seq == c->tail)
			cast_evict(f);
		c->tail++;
	}
}

/* The clock moves to NOW. A gap of more than STALL map periods since the
 * last call means the caller did not run us (a busy or stopped process):
 * what was missing could not be pulled meanwhile, so its deadline moves
 * on by the gap, rather than everything being given up at once. */
void cast_advance(struct rv_p2p_cast *c, uint64_t now)
{
	uint64_t gap = now > c->now ? now - c->now : 0;
	c->now = now;
	if (!c->end || gap <= (uint64_t)STALL * c->conf.map_ms)
		return;
	gap -= c->conf.map_ms;
	for (uint32_t s = cast_lower(c); s < c->end; s++) {
		struct frag *f = cast_get(c, s, MISSING);
		if (f)
			f->at = f->at + gap < now ? f->at + gap : now;
	}
	c->st.stalls++;
}

/* ---- neighbours ---- */

struct cpeer *cast_find(struct rv_p2p_cast *c, const uint8_t id[ID])
{
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used && !memcmp(c->p[i].id, id, ID))
			return &c->p[i];
	return NULL;
}

static int pidx(const struct rv_p2p_cast *c, const struct cpeer *p)
{
	return (int)(p - c->p);
}

int cast_map_has(const struct cpeer *p, uint32_t seq)
{
	size_t lo = 0, hi = p->nmap;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct rv_p2p_range *r = &p->map[mid];
		if (seq < r->first)
			hi = mid;
		else if (seq - r->first >= r->count)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

long cast_build_map(struct rv_p2p_cast *c, uint8_t flags)
{
	size_t n = 0, nk = 0;
	uint32_t keys[RV_P2P_CAST_KEYS];
	for (uint32_t s = cast_map_from(c); s < c->end; s++) {
		struct frag *f = cast_get(c, s, HELD);
		if (!f)
			continue;
		if (n && c->scratch[n - 1].first + c->scratch[n - 1].count == s)
			c->scratch[n - 1].count++;
		else
			c->scratch[n++] = (struct rv_p2p_range){ s, 1 };
		if (f->flags & RV_P2P_FRAG_KEY) {
			if (nk == RV_P2P_CAST_KEYS) {
				memmove(keys, keys + 1, sizeof keys - sizeof keys[0]);
				nk--;
			}
			keys[nk++] = s;
		}
	}
	size_t first = n > RV_P2P_RANGES_MAX ? n - RV_P2P_RANGES_MAX : 0;   /* the newest */
	for (int b = 0; b < SUBS; b++)
		c->hops_said[b] = cast_hops(c, b);
	return rv_p2p_msg_cast_map(c->msg, sizeof c->msg, c->id, flags | cast_up_flags(c), c->scratch + first,
				   n - first, keys, nk, c->hops_said);
}

static void send_info(struct rv_p2p_cast *c, const struct cpeer *p)
{
	if (c->info)
		cast_send(c, p, rv_p2p_msg_cast_info(c->msg, sizeof c->msg, c->id, c->info, c->info_len));
}

/* PEER's counters: its slot, a new one, or one of a neighbour gone. */
static struct rv_p2p_cast_peer_stats *peer_slot(struct rv_p2p_cast *c, const uint8_t peer[ID])
{
	struct rv_p2p_cast_peer_stats *gone = NULL, *s = NULL;
	for (size_t i = 0; i < c->nps && !s; i++)
		if (!memcmp(c->ps[i].peer, peer, ID))
			s = &c->ps[i];
		else if (!gone && !c->ps[i].up)
			gone = &c->ps[i];
	if (!s && c->nps < RV_P2P_CAST_PEERS)
		s = &c->ps[c->nps++];
	if (!s) {	/* at most RV_P2P_CAST_PEERS are up: one is gone */
		s = gone;
		memset(s, 0, sizeof *s);
	}
	memcpy(s->peer, peer, ID);
	s->up = 1;
	return s;
}

static void send_end(struct rv_p2p_cast *c, const struct cpeer *p)
{
	if (c->ended)
		cast_send(c, p, rv_p2p_msg_cast_end(c->msg, sizeof c->msg, c->id, c->end_seq));
}

void rv_p2p_cast_peer_up(struct rv_p2p_cast *c, uint64_t now, const uint8_t peer[ID])
{
	cast_advance(c, now);
	struct cpeer *p = cast_find(c, peer);
	for (int i = 0; !p && i < RV_P2P_CAST_PEERS; i++)
		if (!c->p[i].used)
			p = &c->p[i];
	if (!p)
		return;
	if (!p->used) {
		memset(p, 0, sizeof *p);
		p->used = 1;
		memcpy(p->id, peer, ID);
		memset(p->hops, HOPS_NONE, SUBS);
		p->ps = peer_slot(c, peer);
	}
	cast_send(c, p, cast_build_map(c, RV_P2P_CAST_MAP_ASK | (c->info ? 0 : RV_P2P_CAST_MAP_INFO)));
	send_info(c, p);
	send_end(c, p);
}

void rv_p2p_cast_peer_down(struct rv_p2p_cast *c, const uint8_t peer[ID])
{
	struct cpeer *p = cast_find(c, peer);
	if (!p)
		return;
	int i = pidx(c, p);
	for (int b = 0; b < SUBS; b++)
		if (c->sub[b] == i)
			c->sub[b] = NONE;
	if (c->last_from == i)
		c->last_from = NONE;
	p->ps->up = 0;
	free(p->map);
	memset(p, 0, sizeof *p);
}

/* ---- delivery and join ---- */

/* Delivery goes on at TO: a SKIP of what is before it. */
void cast_skip_to(struct rv_p2p_cast *c, uint32_t to)
{
	cast_event(c, RV_P2P_CAST_SKIP, NULL, c->next, 0, NULL, to - c->next);
	c->st.skipped += to - c->next;
	c->next = to;
	c->begun = 1;
}

/* The END event, once. */
static void end_event(struct rv_p2p_cast *c)
{
	if (c->end_told)
		return;
	c->end_told = 1;
	cast_event(c, RV_P2P_CAST_END, c->end_from, c->end_seq, 0, NULL, 0);
}

void cast_deliver(struct rv_p2p_cast *c)
{
	if (!c->joined)
		return;
	uint32_t lo = cast_lower(c);
	if (c->next < lo)	/* fell out of the window */
		cast_skip_to(c, lo);
	while (c->next < c->end) {
		struct frag *f = slot(c, c->next);
		if (f->seq == c->next && f->state == HELD) {
			if (!c->playing && !(f->flags & RV_P2P_FRAG_KEY)) {	/* the keyframe start was lost */
				c->joined = 0;	/* (or a neighbour lied): join again, later */
				c->min_start = c->next + 1;
				return;
			}
			cast_event(c, RV_P2P_CAST_DATA, NULL, c->next, f->flags & RV_P2P_FRAG_KEY, f->data, f->len);
			c->st.delivered++;
			c->playing = c->begun = 1;
		} else if (f->seq != c->next || f->state == EMPTY || f->at + c->conf.deadline_ms <= c->now) {
			cast_skip_to(c, c->next + 1);
			continue;
		} else {
			return;
		}
		c->next++;
	}
	if (c->ended && c->next >= c->end_seq)
		end_event(c);
}

/* ---- push ---- */

/* Fragment F (SEQ) to the neighbours that asked its sub-stream, but FROM
 * and those that hold it, within the limit. */
static void push(struct rv_p2p_cast *c, uint32_t seq, struct frag *f, const struct cpeer *from)
{
	uint8_t bit = (uint8_t)(1u << (seq % SUBS));
	for (int i = 0; i < RV_P2P_CAST_PEERS && f->sent <= c->conf.push_limit; i++) {
		struct cpeer *p = &c->p[i];
		if (!p->used || !p->in || p == from || !((p->mask_srv | p->mask_adopt) & bit) ||
		    cast_map_has(p, seq))
			continue;
		cast_frag_out(c, p, seq, f, 0);
	}
}

/* Fragment SEQ's bytes kept (its slot in the window, MISSING). */
static int keep(struct rv_p2p_cast *c, uint32_t seq, uint8_t flags, const uint8_t *sig, const uint8_t *data,
		size_t len)
{
	struct frag *f = slot(c, seq);
	uint8_t *d = malloc(len + (sig ? RV_P2P_SIG_LEN : 0));	/* (the signature after the bytes) */
	if (!d)
		return -ENOMEM;
	memcpy(d, data, len);
	if (sig)
		memcpy(d + len, sig, RV_P2P_SIG_LEN);
	cast_evict(f);
	f->seq = seq;
	f->state = HELD;
	f->flags = (uint8_t)((flags & RV_P2P_FRAG_KEY) | (sig ? RV_P2P_FRAG_SIGNED : 0));
	f->len = (uint16_t)len;
	f->data = d;
	f->at = c->now;
	c->in_acc += len + RV_P2P_CAST_WIRE_EXTRA + 38;	/* (the stream's rate, as a push costs) */
	return 0;
}

long rv_p2p_cast_publish(struct rv_p2p_cast *c, uint64_t now, const uint8_t *p, size_t n, int key)
{
	if (!c->conf.publisher || c->ended || (c->conf.sign && !c->info))	/* (signed: its run announced first) */
		return -EINVAL;
	if (n == 0 || n > RV_P2P_CAST_FRAG_MAX)
		return RV_ETOOBIG;
	cast_advance(c, now);
	uint32_t seq = c->end;
	uint8_t sig[RV_P2P_SIG_LEN], flags = key ? RV_P2P_FRAG_KEY : 0;
	if (c->conf.sign && cast_sign(c, seq, flags, p, n, sig) < 0)
		return RV_EPROTO;
	extend(c, seq + 1);
	int rc = keep(c, seq, flags, c->conf.sign ? sig : NULL, p, n);
	if (rc < 0)
		return rc;
	c->st.fragments_published++;
	c->st.bytes_published += n;
	push(c, seq, slot(c, seq), NULL);
	return seq;
}

int cast_frag_take(struct rv_p2p_cast *c, struct cpeer *p, uint32_t seq, uint8_t flags, const uint8_t *sig,
		   const uint8_t *data, size_t len, const char **why)
{
	if (c->conf.publisher || !CAST_OPEN(c)) {	/* the stream is ours: another's fragment of it is not;
							 * or nobody allowed announced it yet */
		c->st.refused++;
		return 0;
	}
	if (seq < cast_lower(c) && seq < c->end) {
		c->st.late++;
		return 0;
	}
	if (c->ended && seq >= c->end_seq) {	/* past the end: a liar's */
		c->st.refused++;
		return 0;
	}
	if (cast_get(c, seq, HELD)) {
		c->st.duplicates++;
		c->st.bytes_duplicate += len;
		if (p)
			p->ps->duplicates++;
		return 0;
	}
	if (c->conf.verify && cast_check(c, seq, flags, sig, data, len, why) < 0)
		return RV_EPROTO;	/* (checked before it moves the window: a forger's seq moves nothing) */
	extend(c, seq + 1);
	struct frag *f = slot(c, seq);
	uint64_t known = f->seq == seq && f->state == MISSING ? f->at : c->now;	/* since when we know it exists */
	if (keep(c, seq, flags, c->conf.verify ? sig : NULL, data, len) < 0)
		return 0;
	if (!p) {
		c->st.fragments_from_ipmc++;
		c->st.bytes_from_ipmc += len;
		c->ipmc_at = c->now;
	} else if (flags & RV_P2P_FRAG_PULLED) {
		c->st.fragments_requested_from_peers++;
		c->st.bytes_requested_from_peers += len;
		p->ps->fragments_requested_from++;
		p->ps->bytes_requested_from += len;
	} else {
		c->st.fragments_pushed_from_peers++;
		c->st.bytes_pushed_from_peers += len;
		p->ps->fragments_pushed_from++;
		p->ps->bytes_pushed_from += len;
		c->last_from = pidx(c, p);
		/* a push in time keeps its pusher: one that brings its sub-stream
		 * only long after we knew of it is fed late (its own pulls), and is
		 * left like one that brings nothing (cast_resubscribe) */
		if (c->sub[seq % SUBS] == pidx(c, p) && c->now < known + c->conf.fetch_ms / 2) {
			c->sub_at[seq % SUBS] = c->now;
			c->sub_got |= (uint8_t)(1u << (seq % SUBS));
		}
	}
	push(c, seq, f, p);
	cast_join(c);
	cast_deliver(c);
	return 0;
}

/* ---- maps, pulls, push masks, keys, announces ---- */

static int map_in(struct rv_p2p_cast *c, struct cpeer *p, const struct rv_p2p_msg *m, const char **why)
{
	for (size_t i = 1; i < m->n; i++) {
		struct rv_p2p_range a = rv_p2p_msg_range(m, i - 1), b = rv_p2p_msg_range(m, i);
		if (b.first < a.first + a.count)
			return *why = "map out of order", RV_EPROTO;
	}
	struct rv_p2p_range *map = m->n ? realloc(p->map, m->n * sizeof *map) : p->map;
	if (!map && m->n)	/* (an empty map is one still: its flags count) */
		return 0;
	p->map = map;
	p->nmap = (uint32_t)m->n;
	for (size_t i = 0; i < m->n; i++)
		map[i] = rv_p2p_msg_range(m, i);
	p->map_end = m->n ? map[m->n - 1].first + map[m->n - 1].count : 0;
	p->nkeys = (uint32_t)m->nkeys;
	for (size_t i = 0; i < m->nkeys; i++)
		p->keys[i] = rv_p2p_msg_key(m, i);
	cast_up_map_in(c, p, m->flags);
	cast_hops_in(c, p, m->cast_hops);
	if (m->flags & RV_P2P_CAST_MAP_ASK)
		cast_send(c, p, cast_build_map(c, c->info ? 0 : RV_P2P_CAST_MAP_INFO));
	if (m->flags & (RV_P2P_CAST_MAP_ASK | RV_P2P_CAST_MAP_INFO))
		send_info(c, p);
	if (!c->conf.publisher && CAST_OPEN(c))	/* ours goes on only as we publish, and not past the end */
		extend(c, c->ended && p->map_end > c->end_seq ? c->end_seq : p->map_end);
	cast_join(c);
	cast_deliver(c);
	return 0;
}

static int pull_in(struct rv_p2p_cast *c, struct cpeer *p, const struct rv_p2p_msg *m, const char **why)
{
	uint64_t total = 0;
	for (size_t i = 0; i < m->n; i++)
		total += rv_p2p_msg_range(m, i).count;
	if (total > c->w)
		return *why = "pull past the window", RV_EPROTO;
	for (size_t i = 0; i < m->n; i++) {
		struct rv_p2p_range r = rv_p2p_msg_range(m, i);
		for (uint32_t s = r.first; s - r.first < r.count; s++) {
			struct frag *f = cast_get(c, s, HELD);
			if (!f)
				continue;
			if (f->sent > c->conf.push_limit && !(m->flags & RV_P2P_CAST_PULL_LAST)) {
				c->st.refused++;
				continue;
			}
			cast_frag_out(c, p, s, f, 1);
		}
	}
	return 0;
}

static void key_in(struct rv_p2p_cast *c, struct cpeer *p, const struct rv_p2p_msg *m)
{
	if (!c->conf.publisher) {
		cast_ask_key(c, p, m->hops);
		return;
	}
	if (c->key_sent && c->now < c->key_at + c->conf.key_ms)
		return;
	c->key_sent = 1;
	c->key_at = c->now;
	c->st.key_requests++;
	cast_event(c, RV_P2P_CAST_KEY_REQUEST, p->id, 0, 0, NULL, 0);
}

/* The announce P (N bytes, the application's from SKIP) of RUN kept. */
static int keep_info(struct rv_p2p_cast *c, const uint8_t *p, size_t n, size_t skip, uint64_t run)
{
	if (n == 0 || n > RV_P2P_CAST_INFO_MAX || skip > n)
		return RV_ETOOBIG;
	uint8_t *d = malloc(n);
	if (!d)
		return -ENOMEM;
	memcpy(d, p, n);
	free(c->info);
	c->info = d;
	c->info_len = n;
	c->info_skip = skip;
	c->run = run;
	return 0;
}

int cast_info_in(struct rv_p2p_cast *c, struct cpeer *from, const struct rv_p2p_msg *m, const char **why)
{
	size_t skip = 0;
	uint64_t run = 0;
	if (!c->conf.admit && c->info)
		return 0;
	if (c->conf.admit && c->conf.admit(c->conf.admit_ud, m->data, m->data_len, &skip, &run, why) < 0) {
		c->st.announces_refused++;
		if (!CAST_OPEN(c))	/* what we asked before an announce came: of none we may take */
			cast_unsubscribe(c);
		return RV_EDENIED;
	}
	if (c->conf.publisher && !c->info) {	/* not announced yet: never another's */
		if (from)
			from->run = run;
		return 0;
	}
	if (c->info) {
		if (from)
			from->run = run;
		if (from && (run < c->run || (run != c->run && c->conf.publisher)))	/* it is behind: ours */
			send_info(c, from);	/* (a publisher keeps its own run) */
		if (run <= c->run || c->conf.publisher)
			return 0;
		cast_reset(c, from);	/* a newer run */
	}
	if (keep_info(c, m->data, m->data_len, skip, run) < 0)
		return 0;
	if (from)
		from->run = run;
	cast_event(c, RV_P2P_CAST_INFO, from ? from->id : NULL, 0, 0, c->info + skip, c->info_len - skip);
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used && &c->p[i] != from)
			send_info(c, &c->p[i]);
	return 0;
}

/* The stream ends at END: told on to the others, what is missing before
 * it pulled, the END event once delivery reached it. */
int cast_end_in(struct rv_p2p_cast *c, struct cpeer *from, uint32_t end, const char **why)
{
	if (c->ended || c->conf.publisher || !CAST_OPEN(c))
		return 0;
	if (end < c->end)
		return *why = "end before a fragment known", RV_EPROTO;
	c->ended = 1;
	c->end_seq = end;
	c->ended_at = c->now;
	if (from)
		memcpy(c->end_from, from->id, ID);
	extend(c, end);
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used && c->p[i].in && &c->p[i] != from)
			send_end(c, &c->p[i]);
	cast_join(c);
	cast_deliver(c);
	return 0;
}

int rv_p2p_cast_end(struct rv_p2p_cast *c, uint64_t now)
{
	if (!c->conf.publisher || c->ended)
		return -EINVAL;
	cast_advance(c, now);
	c->ended = 1;
	c->end_seq = c->end;
	c->ended_at = now;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used && c->p[i].in)
			send_end(c, &c->p[i]);
	end_event(c);
	return 0;
}

int rv_p2p_cast_input(struct rv_p2p_cast *c, uint64_t now, const uint8_t peer[ID], const struct rv_p2p_msg *m,
		      const char **why)
{
	struct cpeer *p = cast_find(c, peer);
	if (!p || m->type < RV_P2P_M_CAST_FRAG || m->type > RV_P2P_M_CAST_GRANT || memcmp(m->obj, c->id, ID))
		return 0;
	cast_advance(c, now);
	p->in = 1;
	if (CAST_OTHER_RUN(c, p) && m->type != RV_P2P_M_CAST_INFO && m->type != RV_P2P_M_CAST_KEY &&
	    m->type != RV_P2P_M_CAST_PUSH) {	/* not of our run: we told it ours (each map period) */
		c->st.other_run++;
		return 0;
	}
	switch (m->type) {
	case RV_P2P_M_CAST_FRAG:
		return cast_frag_take(c, p, m->index, m->flags, m->sig, m->data, m->data_len, why);
	case RV_P2P_M_CAST_MAP:
		return map_in(c, p, m, why);
	case RV_P2P_M_CAST_PULL:
		return pull_in(c, p, m, why);
	case RV_P2P_M_CAST_PUSH:
		cast_up_push_in(c, p, m->flags);
		return 0;
	case RV_P2P_M_CAST_KEY:
		key_in(c, p, m);
		return 0;
	case RV_P2P_M_CAST_END:
		return cast_end_in(c, p, m->index, why);
	case RV_P2P_M_CAST_GRANT:
		cast_grant_in(c, p, m->asked, m->flags);
		return 0;
	default:	/* CAST_INFO */
		return cast_info_in(c, p, m, why);
	}
}

int rv_p2p_cast_set_info(struct rv_p2p_cast *c, const uint8_t *p, size_t n)
{
	size_t skip = 0;
	uint64_t run = 0;
	const char *why;
	if (n == 0 || n > RV_P2P_CAST_INFO_MAX)
		return RV_ETOOBIG;
	if (c->conf.admit && c->conf.admit(c->conf.admit_ud, p, n, &skip, &run, &why) < 0)
		return RV_EDENIED;
	int rc = keep_info(c, p, n, skip, run);
	if (rc < 0)
		return rc;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used)
			send_info(c, &c->p[i]);
	return 0;
}

const uint8_t *rv_p2p_cast_info(const struct rv_p2p_cast *c, size_t *n)
{
	*n = c->info_len;
	return c->info;
}

/* ---- timers ---- */

void rv_p2p_cast_tick(struct rv_p2p_cast *c, uint64_t now)
{
	cast_advance(c, now);
	expire(c);
	if (now < c->tick_at)
		return;
	c->tick_at = now + c->conf.map_ms;
	cast_up_tick(c);
	/* the same bytes to each in the stream; to the others, asking, once a
	 * second (their first map may have been lost, or they are not in it) */
	long n = cast_build_map(c, c->info ? 0 : RV_P2P_CAST_MAP_INFO);
	int other = 0;
	cast_up_maps(c, n);	/* (with a budget: to some of them in turn) */
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used && c->p[i].in && CAST_OTHER_RUN(c, &c->p[i]))
			other = 1;
	if (other) {	/* on another run: ours, and a map asking for theirs */
		n = cast_build_map(c, RV_P2P_CAST_MAP_INFO);
		for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
			if (c->p[i].used && c->p[i].in && CAST_OTHER_RUN(c, &c->p[i]))
				cast_send(c, &c->p[i], n);
		for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
			if (c->p[i].used && c->p[i].in && CAST_OTHER_RUN(c, &c->p[i]))
				send_info(c, &c->p[i]);
	}
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)	/* the end again: one may have been lost */
		if (c->p[i].used)
			send_end(c, &c->p[i]);
	if (++c->ticks % ASK_EVERY == 0) {
		n = cast_build_map(c, RV_P2P_CAST_MAP_ASK | (c->info ? 0 : RV_P2P_CAST_MAP_INFO));
		for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
			if (c->p[i].used && !c->p[i].in)
				cast_send(c, &c->p[i], n);
	}
	if (c->conf.publisher)
		return;
	cast_resubscribe(c);	/* (before the announce too: the trees are ready when the stream comes) */
	if (!CAST_OPEN(c))
		return;
	cast_join(c);
	cast_pull(c);
	cast_deliver(c);
	if (c->ended && !c->joined && now >= c->ended_at + c->conf.deadline_ms)
		end_event(c);	/* nothing to join came in time */
}

uint64_t rv_p2p_cast_next(const struct rv_p2p_cast *c)
{
	return c->paced_due && c->paced_due < c->tick_at ? c->paced_due : c->tick_at;
}

void rv_p2p_cast_stats(const struct rv_p2p_cast *c, struct rv_p2p_cast_stats *st)
{
	*st = c->st;
	st->newest = c->end ? c->end - 1 : 0;
	st->run = c->run;
	st->ended = c->ended;
	st->end = c->end_seq;
}

int rv_p2p_cast_peer_stats(const struct rv_p2p_cast *c, size_t i, struct rv_p2p_cast_peer_stats *st)
{
	if (i >= c->nps)
		return 0;
	*st = c->ps[i];
	return 1;
}
