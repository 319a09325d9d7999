/* p2pcast_rx.c - a receiver's choices in a live stream (p2pcast.h):
 * where to join, which neighbour pushes each sub-stream, what to pull of
 * whom, where a keyframe request goes, a new run. The window, the messages and
 * delivery are p2pcast.c's (p2pcast_int.h). */
#include <stdint.h>
#include <string.h>

#include "p2pcast_int.h"

/* The neighbour a keyframe request goes to: the last that pushed to us,
 * else the one furthest ahead; never EXCEPT. */
static struct cpeer *upstream(struct rv_p2p_cast *c, const struct cpeer *except)
{
	if (c->last_from != NONE && &c->p[c->last_from] != except)
		return &c->p[c->last_from];
	struct cpeer *best = NULL;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++) {
		struct cpeer *p = &c->p[i];
		if (p->used && p->in && p != except && (!best || p->map_end > best->map_end))
			best = p;
	}
	return best;
}

void cast_ask_key(struct rv_p2p_cast *c, const struct cpeer *from, uint8_t hops)
{
	if (c->key_sent && c->now < c->key_at + c->conf.key_ms)
		return;
	struct cpeer *up = upstream(c, from);
	if (!up || hops >= RV_P2P_TTL_MAX)
		return;
	c->key_sent = 1;
	c->key_at = c->now;
	c->st.key_requests++;
	cast_send(c, up, rv_p2p_msg_cast_byte(c->msg, sizeof c->msg, RV_P2P_M_CAST_KEY, c->id, (uint8_t)(hops + 1)));
}

/* Where to join: while the stream's first fragment is still about (held
 * or in a map: a stream younger than the window), its oldest keyframe
 * start known, so that it is taken whole; else the newest. The keyframe
 * starts known are those we hold and those the maps show, in the window.
 * 1 with *SEQ, or 0 when none is known. */
static int join_point(struct rv_p2p_cast *c, uint32_t *seq)
{
	uint32_t lo = cast_lower(c), min = UINT32_MAX, max = 0;
	int found = 0, young = lo == 0 && !c->begun && cast_get(c, 0, HELD) != NULL;
	for (uint32_t s = lo; s < c->end; s++) {
		struct frag *f = cast_get(c, s, HELD);
		if (f && (f->flags & RV_P2P_FRAG_KEY) && s >= c->min_start) {
			min = s < min ? s : min;
			max = s > max ? s : max;
			found = 1;
		}
	}
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++) {
		const struct cpeer *p = &c->p[i];
		if (!p->used || !p->in)
			continue;
		young |= lo == 0 && !c->begun && cast_map_has(p, 0);
		for (uint32_t k = 0; k < p->nkeys; k++) {
			uint32_t s = p->keys[k];
			if (s < lo || s >= c->end || s < c->min_start)
				continue;
			min = s < min ? s : min;
			max = s > max ? s : max;
			found = 1;
		}
	}
	*seq = young ? min : max;
	return found;
}

void cast_join(struct rv_p2p_cast *c)
{
	if (c->conf.publisher || c->joined || c->end == 0 || c->end_told)
		return;
	uint32_t k = 0;
	int settled = c->now >= c->begin_at + c->conf.fetch_ms;	/* the maps had fetch_ms to come */
	int found = join_point(c, &k) && (!c->begun || k >= c->next);
	if (!found || (k && !settled && !c->begun)) {	/* an older start may yet show up in a map */
		if (!found && settled)
			cast_ask_key(c, NULL, 0);
		return;
	}
	c->joined = 1;
	c->st.joined = 1;
	if (c->begun && k > c->next)	/* joined again, further on */
		cast_skip_to(c, k);
	if (!c->playing)
		c->st.first = k;
	c->next = k;
	for (uint32_t s = k; s < c->end; s++) {	/* what follows is pulled at once */
		struct frag *f = cast_get(c, s, MISSING);
		if (f)
			f->at = c->now > c->conf.fetch_ms ? c->now - c->conf.fetch_ms : 0;
	}
	cast_deliver(c);
}

/* How many of the last 8 fragments of sub-stream B P's map has (it is
 * fed that sub-stream). */
static uint32_t fed(const struct rv_p2p_cast *c, const struct cpeer *p, int b)
{
	uint32_t n = 0, s = c->end;
	while (s > 0 && (s - 1) % SUBS != (uint32_t)b)
		s--;
	for (int k = 0; k < 8 && s > 0; k++, s = s > SUBS ? s - SUBS : 0)
		n += (uint32_t)cast_map_has(p, s - 1);
	return n;
}

/* We may ask pushes: a receiver, before the announce too unless one was
 * refused (a publisher we may not take: nothing of it asked). */
static int may_ask(const struct rv_p2p_cast *c)
{
	return !c->conf.publisher && (CAST_OPEN(c) || !c->st.announces_refused);
}

uint8_t cast_hops(const struct rv_p2p_cast *c, int b)
{
	if (c->conf.publisher)
		return 0;
	if (c->sub[b] == NONE)
		return HOPS_NONE;
	const struct cpeer *p = &c->p[c->sub[b]];
	int granted = (p->granted & p->mask_in) >> b & 1;
	int stalled = c->end_at > c->sub_at[b] && c->now >= c->sub_at[b] + c->conf.fetch_ms;	/* (a loop too) */
	return granted && !stalled && p->hops[b] < HOPS_MAX ? (uint8_t)(p->hops[b] + 1) : HOPS_NONE;
}

void cast_hops_in(struct rv_p2p_cast *c, struct cpeer *p, const uint8_t *hops)
{
	int ask = 0;
	for (int b = 0; b < SUBS; b++) {
		uint8_t h = hops ? hops[b] : HOPS_NONE;
		ask |= c->sub[b] == NONE && h < HOPS_MAX && p->hops[b] >= HOPS_MAX;
		p->hops[b] = h;
	}
	if (ask && !c->conf.publisher)	/* (before the stream and its announce too: its trees ready) */
		cast_resubscribe(c);
}

/* What we ask P to push now (CAST_PUSH of its mask_in). */
static void ask(struct rv_p2p_cast *c, const struct cpeer *p)
{
	cast_send(c, p, rv_p2p_msg_cast_byte(c->msg, sizeof c->msg, RV_P2P_M_CAST_PUSH, c->id, p->mask_in));
}

/* The sub-streams of MASK (unasked: a publisher's feed for them) that P
 * now pushes us instead of a pusher that brings nothing. */
static void take_adopted(struct rv_p2p_cast *c, struct cpeer *p, uint8_t mask)
{
	int i = (int)(p - c->p);
	for (int b = 0; b < SUBS; b++) {
		int cur = c->sub[b];
		if (!(mask >> b & 1) || (cur != NONE && (c->sub_got >> b & 1)))
			continue;
		if (cur != NONE) {
			c->p[cur].mask_in &= (uint8_t)~(1u << b);
			ask(c, &c->p[cur]);
		}
		c->sub[b] = i;
		c->sub_at[b] = c->now;
		c->sub_got &= (uint8_t)~(1u << b);
		p->mask_in |= (uint8_t)(1u << b);
		p->granted |= (uint8_t)(1u << b);
	}
}

void cast_grant_in(struct rv_p2p_cast *c, struct cpeer *p, uint8_t asked, uint8_t mask)
{
	int i = (int)(p - c->p);
	if (asked != p->mask_in || !may_ask(c))	/* an answer to an ask we since changed */
		return;
	uint8_t drop = (uint8_t)(p->mask_in & ~mask), before = p->mask_in;
	p->granted = (uint8_t)(mask & p->mask_in);
	take_adopted(c, p, (uint8_t)(mask & ~p->mask_in));
	if (drop) {
		if (c->now >= p->refused_at + HOLD_MS)
			p->refused = 0;
		p->refused |= drop;	/* not asked again for a while (asked at once, it would refuse again) */
		p->refused_at = c->now;
		for (int b = 0; b < SUBS; b++)
			if ((drop >> b & 1) && c->sub[b] == i) {
				c->sub[b] = NONE;
				c->sub_avoid[b] = i + 1;
			}
		p->mask_in &= (uint8_t)~drop;
		c->st.push_declined++;
	}
	if (p->mask_in != before)	/* what it pushes us, as asked (adopted ones too) */
		ask(c, p);
	if (drop)
		cast_resubscribe(c);
}

/* P refused us sub-stream B lately. */
static int refused(const struct rv_p2p_cast *c, const struct cpeer *p, int b)
{
	uint64_t hold = p->spare > 1 ? c->conf.fetch_ms : HOLD_MS;	/* (less when its map says it has room) */
	return (p->refused >> b & 1) && c->now < p->refused_at + hold;
}

/* One of the N candidates CAND at random, weighted by W (TOTAL in all;
 * 0: all alike). */
static int weighted(struct rv_p2p_cast *c, const int *cand, const uint32_t *w, int n, uint32_t total)
{
	if (!total)
		return cand[cast_rnd(c) % (uint32_t)n];
	uint32_t r = cast_rnd(c) % total;
	for (int k = 0; k < n; k++) {
		if (r < w[k])
			return cand[k];
		r -= w[k];
	}
	return cand[n - 1];
}

/* A fed neighbour for sub-stream B, but EXCEPT: one whose maps say it is
 * pushed B on a chain of grants from the publisher, no further from it
 * than our last map said we were (so not one we feed), with spare upload;
 * at random weighted by that spare, and by how near the publisher it is.
 * Before the stream's first fragment, the only choice (the trees are made
 * before it comes). NONE when there is none. */
static int pick_fed(struct rv_p2p_cast *c, int except, int b)
{
	int cand[RV_P2P_CAST_PEERS], n = 0;
	uint32_t w[RV_P2P_CAST_PEERS], total = 0;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++) {
		const struct cpeer *p = &c->p[i];
		int weight = p->used ? cast_up_weight(c, p) : -1;
		if (!p->used || !p->in || i == except || weight <= 0 || p->hops[b] >= HOPS_MAX ||
		    p->hops[b] > c->hops_said[b] || CAST_OTHER_RUN(c, p) || refused(c, p, b))
			continue;
		w[n] = (uint32_t)weight * (uint32_t)(HOPS_MAX - p->hops[b]);
		total += w[n];
		cand[n++] = i;
	}
	return n ? weighted(c, cand, w, n, total) : NONE;
}

/* A neighbour for sub-stream B, but EXCEPT: a fed one (pick_fed); else among those whose map
 * reaches about as far as the stream (within NEAR fragments; 4 x NEAR
 * with an upload budget: its maps come in turn, less often), at random
 * weighted by their spare upload (p2pcast_up.c) and, with an upload
 * budget, by how much of B's last fragments they have; else at random
 * among them, else the one furthest ahead; none that declined us lately;
 * or NONE. */
#define NEAR 64
static int pick_pusher(struct rv_p2p_cast *c, int except, int b)
{
	int cand[RV_P2P_CAST_PEERS], n = 0, best = pick_fed(c, except, b);
	uint32_t w[RV_P2P_CAST_PEERS], total = 0;
	if (best != NONE || !c->end)
		return best;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++) {
		const struct cpeer *p = &c->p[i];
		int weight = p->used ? cast_up_weight(c, p) : -1;
		if (!p->used || !p->in || i == except || weight < 0 || refused(c, p, b))
			continue;
		if (p->map_end && p->map_end + (c->conf.max_upload ? 4 * NEAR : NEAR) >= c->end) {
			w[n] = c->conf.max_upload ? (uint32_t)(weight + 1) * (1 + 4 * fed(c, p, b)) : (uint32_t)weight;
			total += w[n];
			cand[n++] = i;
		}
		if (best == NONE || p->map_end > c->p[best].map_end)
			best = i;
	}
	return n ? weighted(c, cand, w, n, total) : best;
}

/* Each sub-stream whose pusher is gone, or brought nothing for fetch_ms
 * while the stream went on, is asked of another neighbour; none while IP
 * multicast brings the stream. */
void cast_resubscribe(struct rv_p2p_cast *c)
{
	uint8_t before[RV_P2P_CAST_PEERS];
	if (!may_ask(c))
		return;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		before[i] = c->p[i].mask_in;
	int ipmc = c->ipmc_at && c->now < c->ipmc_at + c->conf.fetch_ms;   /* IP multicast brings it */
	for (int b = 0; b < SUBS; b++) {
		int cur = c->sub[b];
		if (ipmc) {	/* fusion: the mesh only fills gaps, by pull */
			if (cur != NONE)
				c->p[cur].mask_in &= (uint8_t)~(1u << b);
			c->sub[b] = NONE;
			continue;
		}
		int stalled = c->now >= c->sub_at[b] + c->conf.fetch_ms && c->end_at > c->sub_at[b];
		if (cur != NONE && !stalled)
			continue;
		int to = pick_pusher(c, cur != NONE ? cur : c->sub_avoid[b] - 1, b);
		c->sub_avoid[b] = 0;
		if (to == NONE || to == cur)
			continue;
		c->sub_got &= (uint8_t)~(1u << b);
		if (cur != NONE)
			c->p[cur].mask_in &= (uint8_t)~(1u << b);
		c->p[to].mask_in |= (uint8_t)(1u << b);
		c->sub[b] = to;
		c->sub_at[b] = c->now;
	}
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used && c->p[i].mask_in != before[i])
			ask(c, &c->p[i]);
}

void cast_unsubscribe(struct rv_p2p_cast *c)
{
	for (int b = 0; b < SUBS; b++)
		c->sub[b] = NONE;
	c->sub_got = 0;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++) {
		struct cpeer *p = &c->p[i];
		if (!p->used || !p->mask_in)
			continue;
		p->mask_in = p->granted = 0;
		ask(c, p);
	}
}

/* A neighbour whose map has SEQ: the fragments spread over the holders,
 * and each try of one goes to the next holder (one that ignored the pull,
 * at its limit, is not asked again at once); or NONE. */
static int holder(struct rv_p2p_cast *c, uint32_t seq, uint32_t tries)
{
	int cand[RV_P2P_CAST_PEERS], n = 0;	/* those with spare upload first */
	for (int pass = 0; pass < 2 && !n; pass++)
		for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
			if (c->p[i].used && c->p[i].in && cast_map_has(&c->p[i], seq) &&
			    (pass || c->p[i].spare != 1)) {
				cand[n++] = i;
			}
	return n ? cand[(seq + tries + c->pull_salt) % (uint32_t)n] : NONE;
}

/* One neighbour's pulls, gathered as ranges in c->scratch: those asked
 * fewer than RV_P2P_CAST_PULL_TRIES times before, or (LAST) the others. */
static void pull_from(struct rv_p2p_cast *c, int peer, uint32_t from, int last)
{
	size_t n = 0;
	for (uint32_t s = from; s < c->end && n < RV_P2P_RANGES_MAX; s++) {
		struct frag *f = cast_get(c, s, MISSING);
		if (!f || f->pulled_at != c->now || f->pull_peer != peer || (f->tries > RV_P2P_CAST_PULL_TRIES) != last)
			continue;
		if (n && c->scratch[n - 1].first + c->scratch[n - 1].count == s)
			c->scratch[n - 1].count++;
		else
			c->scratch[n++] = (struct rv_p2p_range){ s, 1 };
	}
	if (n)
		cast_send(c, &c->p[peer], rv_p2p_msg_obj_ranges(c->msg, sizeof c->msg, RV_P2P_M_CAST_PULL, c->id,
							       last ? RV_P2P_CAST_PULL_LAST : 0, c->scratch, n));
}

/* What push has not brought fetch_ms after it was known is asked of a
 * neighbour whose map has it, gathered in one CAST_PULL per neighbour;
 * from the (RV_P2P_CAST_PULL_TRIES + 1)th try on, in one marked LAST, which a
 * holder answers even past its push limit: the copies a fragment may
 * leave a peer were all taken (by a forging relay, lost), and it is the
 * only one that has it. */
void cast_pull(struct rv_p2p_cast *c)
{
	if (!c->joined)
		return;
	uint64_t used = 0, last = 0;
	uint32_t from = c->next > cast_lower(c) ? c->next : cast_lower(c);
	for (uint32_t s = from; s < c->end; s++) {
		struct frag *f = cast_get(c, s, MISSING);
		int b = (int)(s % SUBS), wait = c->sub[b] != NONE && (c->sub_got >> b & 1);
		if (!f || (wait && c->now < f->at + c->conf.fetch_ms) || c->now >= f->at + c->conf.deadline_ms ||
		    (f->pulled_at && c->now < f->pulled_at + c->conf.fetch_ms / 2))
			continue;
		int h = holder(c, s, f->tries);
		if (h == NONE)
			continue;
		f->pulled_at = c->now;
		f->tries++;
		f->pull_peer = (int8_t)h;
		if (f->tries > RV_P2P_CAST_PULL_TRIES)
			last |= 1ull << h;
		else
			used |= 1ull << h;
		c->st.pulls++;
	}
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++) {
		if (used & (1ull << i))
			pull_from(c, i, from, 0);
		if (last & (1ull << i))
			pull_from(c, i, from, 1);
	}
}

/* A new run of the stream, announced by FROM (NULL: IP multicast): everything of the old one
 * forgotten (the neighbours' maps too: they were of the old run). */
void cast_reset(struct rv_p2p_cast *c, const struct cpeer *from)
{
	uint32_t old = c->end;
	for (uint32_t i = 0; i < c->w; i++)
		cast_evict(&c->f[i]);
	c->end = c->tail = c->next = c->min_start = 0;
	c->end_at = c->begin_at = 0;
	c->joined = c->begun = c->playing = c->key_sent = 0;
	c->ended = c->end_told = 0;
	c->end_seq = 0;
	c->ended_at = 0;
	memset(c->end_from, 0, ID);
	c->last_from = NONE;
	c->ipmc_at = 0;
	rv_buf_reset(&c->paced[0]);	/* the old run's */
	rv_buf_reset(&c->paced[1]);
	c->pull_bits = 0;
	c->paced_due = 0;
	for (int b = 0; b < SUBS; b++) {
		c->sub[b] = NONE;
		c->sub_at[b] = 0;
		c->hops_said[b] = HOPS_NONE;
	}
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++) {
		struct cpeer *p = &c->p[i];
		p->nmap = p->map_end = p->nkeys = 0;
		p->mask_in = p->granted = 0;
		memset(p->hops, HOPS_NONE, SUBS);
	}
	c->st.resets++;
	cast_event(c, RV_P2P_CAST_RESET, from ? from->id : NULL, old, 0, NULL, 0);
}
