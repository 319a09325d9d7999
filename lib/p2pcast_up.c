/* p2pcast_up.c - a live stream's upload budget (p2pcast.h, "Upload
 * budget"): the token bucket that paces pushes and pull answers, the rates
 * measured, the sub-streams pushed within 85 % of the budget, the spare
 * upload our maps say and what a receiver makes of its neighbours'. The
 * window, the messages and delivery are p2pcast.c's (p2pcast_int.h).
 *
 * A fragment waiting for the bucket is a record in c->paced[0] (pushed)
 * or c->paced[1] (a pull's answer: these go only when no push waits, and
 * past half the wait's worth of the budget waiting a pull is not taken):
 * peer[32] | at u64 | seq u32 | flags u8 (RV_P2P_FRAG_PULLED) | len u16.
 * Its bytes stay in the window, and the message is made when it leaves
 * (one that left the window meanwhile, or whose neighbour went or was
 * declined, is not sent). */
#include <string.h>

#include "bytes.h"
#include "p2pcast_int.h"

#define REC (ID + 8 + 4 + 1 + 2)
#define FRAG_HEAD 38                /* a CAST_FRAG's bytes past the fragment's */
#define SHARE 0.85                  /* of the budget, for pushes: past it neighbours are declined */
#define DEPTH_MS 50                 /* the bucket holds this much of the budget */
#define UNSAID 7                    /* the weight of a neighbour that says no spare (no budget, old) */
#define CATCHUP_MS 1000             /* a push granted late sends at once what the asker lacks of this long */

static double cost_bits(size_t len)
{
	return (double)(len + FRAG_HEAD + RV_P2P_CAST_WIRE_EXTRA) * 8;
}

static double depth(const struct rv_p2p_cast *c)
{
	double d = (double)c->conf.max_upload * DEPTH_MS / 1000, min = 2 * cost_bits(RV_P2P_CAST_FRAG_MAX);
	return d > min ? d : min;
}

/* Tokens for the time gone by, at most the bucket's depth. */
static void refill(struct rv_p2p_cast *c)
{
	if (!c->tokens_at)
		c->tokens = depth(c);
	else if (c->now > c->tokens_at)
		c->tokens += (double)(c->now - c->tokens_at) * (double)c->conf.max_upload / 1000;
	if (c->tokens > depth(c))
		c->tokens = depth(c);
	c->tokens_at = c->now;
}

/* Fragment F (SEQ) counted as sent to P. */
static void count(struct rv_p2p_cast *c, struct cpeer *p, const struct frag *f, int pulled)
{
	if (pulled) {
		c->st.fragments_requested_by_peers++;
		c->st.bytes_requested_by_peers += f->len;
		p->ps->fragments_requested_by++;
		p->ps->bytes_requested_by += f->len;
	} else {
		c->st.fragments_pushed_to_peers++;
		c->st.bytes_pushed_to_peers += f->len;
		p->ps->fragments_pushed_to++;
		p->ps->bytes_pushed_to += f->len;
	}
}

static long frag_msg(struct rv_p2p_cast *c, uint8_t *out, size_t cap, uint32_t seq, const struct frag *f,
		     int pulled)
{
	return rv_p2p_msg_cast_frag_sig(out, cap, c->id, seq,
					(f->flags & RV_P2P_FRAG_KEY) | (pulled ? RV_P2P_FRAG_PULLED : 0),
					f->flags & RV_P2P_FRAG_SIGNED ? f->data + f->len : NULL, f->data, f->len);
}

/* One more copy of F sent (LAST pulls may take it past the push limit:
 * it stops at 255, past any limit). */
static void sent_one(struct frag *f)
{
	if (f->sent < UINT8_MAX)
		f->sent++;
}

void cast_frag_out(struct rv_p2p_cast *c, struct cpeer *p, uint32_t seq, struct frag *f, int pulled)
{
	if (!c->conf.max_upload) {
		sent_one(f);
		cast_send(c, p, frag_msg(c, c->msg, sizeof c->msg, seq, f, pulled));
		count(c, p, f, pulled);
		return;
	}
	double need = cost_bits(f->len);
	if (pulled && c->pull_bits + need > (double)c->conf.max_upload * c->conf.upload_wait_ms / 2000) {
		c->st.fragments_over_budget++;	/* could not go in time: let it ask another */
		c->st.bytes_over_budget += f->len;
		return;
	}
	uint8_t *q = rv_buf_reserve(&c->paced[pulled], REC);
	if (!q) {
		c->st.dropped++;
		return;
	}
	sent_one(f);
	memcpy(q, p->id, ID);
	rv_wr64(q + ID, c->now);
	rv_wr32(q + ID + 8, seq);
	q[ID + 12] = pulled ? RV_P2P_FRAG_PULLED : 0;
	rv_wr16(q + ID + 13, f->len);
	rv_buf_commit(&c->paced[pulled], REC);
	if (pulled)
		c->pull_bits += need;
	c->offer_acc += f->len + FRAG_HEAD + RV_P2P_CAST_WIRE_EXTRA;
	if (!c->paced_due)
		c->paced_due = c->now;
}

/* The next fragment the bucket lets go, into BUF: its length, or 0 (none
 * waits, or c->paced_due says when the head may go). Pushes first: pull
 * answers take what they leave. */
static ssize_t paced_take(struct rv_p2p_cast *c, uint8_t peer[ID], uint8_t *buf, size_t cap)
{
	refill(c);
	for (int k = 0; k < 2; k++) {
		struct rv_buf *b = &c->paced[k];
		while (rv_buf_size(b) >= REC) {
			const uint8_t *q = rv_buf_head(b);
			uint64_t at = rv_rd64(q + ID);
			uint32_t seq = rv_rd32(q + ID + 8);
			size_t len = rv_rd16(q + ID + 13);
			struct frag *f = cast_get(c, seq, HELD);
			double need = cost_bits(len);
			if (c->now >= at + c->conf.upload_wait_ms) {	/* too late: not sent, may be asked again */
				c->st.fragments_over_budget++;
				c->st.bytes_over_budget += len;
				if (f && f->sent)
					f->sent--;
				if (k)
					c->pull_bits -= need;
				rv_buf_consume(b, REC);
				continue;
			}
			if (c->tokens < need) {
				c->paced_due = c->now + 1 +
					       (uint64_t)((need - c->tokens) * 1000 / (double)c->conf.max_upload);
				return 0;
			}
			struct cpeer *p = cast_find(c, q);
			uint8_t bit = (uint8_t)(1u << (seq % SUBS));
			memcpy(peer, q, ID);
			rv_buf_consume(b, REC);
			if (k)
				c->pull_bits -= need;
			if (!f || !p || (!k && !((p->mask_srv | p->mask_adopt) & bit))) {	/* gone, or declined */
				if (f && f->sent)
					f->sent--;
				continue;
			}
			long n = frag_msg(c, buf, cap, seq, f, k);
			if (n <= 0) {
				c->st.dropped++;
				continue;
			}
			c->tokens -= need;
			count(c, p, f, k);
			return n;
		}
	}
	c->paced_due = 0;
	c->pull_bits = 0;
	return 0;
}

ssize_t rv_p2p_cast_take(struct rv_p2p_cast *c, uint8_t peer[ID], uint8_t *buf, size_t cap)
{
	long n = rv_p2p_queue_take(&c->out, peer, buf, cap);
	if (n < 0) {	/* the caller's buffer is too small: the message is lost */
		c->st.dropped++;
		return 0;
	}
	if (n > 0 && c->conf.max_upload) {	/* control goes at once, but on the budget too */
		refill(c);
		c->tokens -= cost_bits((size_t)n) - FRAG_HEAD * 8;
		if (c->tokens < -depth(c))
			c->tokens = -depth(c);
	}
	if (n > 0 || !c->conf.max_upload)
		return n;
	return paced_take(c, peer, buf, cap);
}

uint32_t cast_map_from(struct rv_p2p_cast *c)
{
	uint32_t s = cast_lower(c);
	uint64_t span = (uint64_t)c->conf.deadline_ms + c->conf.fetch_ms;
	while (c->conf.max_upload && s < c->end) {	/* (an older one is given up by all) */
		const struct frag *f = &c->f[s % c->w];
		if (f->seq == s && f->state != EMPTY && f->at + span > c->now)
			break;
		s++;
	}
	return s;
}

#define MAP_SHARE 0.1               /* of the budget, for our periodic maps */

void cast_up_maps(struct rv_p2p_cast *c, long n)
{
	int k = RV_P2P_CAST_PEERS;
	if (n <= 0)
		return;
	if (c->conf.max_upload) {
		double per = (double)(n + RV_P2P_CAST_WIRE_EXTRA) * 8;
		k = (int)(MAP_SHARE * (double)c->conf.max_upload * c->conf.map_ms / 1000 / per);
		k = k < 1 ? 1 : k;
	}
	int last = c->map_turn;
	for (int j = 0; j < RV_P2P_CAST_PEERS && k > 0; j++) {
		int i = (c->map_turn + j) % RV_P2P_CAST_PEERS;
		struct cpeer *p = &c->p[i];
		if (!p->used || !p->in || CAST_OTHER_RUN(c, p))
			continue;
		cast_send(c, p, n);
		k--;
		last = i;
	}
	c->map_turn = (last + 1) % RV_P2P_CAST_PEERS;
}

/* ---- fan-out ---- */

/* One sub-stream's rate on the wire, bits/s (what pushing it to one more neighbour costs). */
static double sub_rate(const struct rv_p2p_cast *c)
{
	return c->stream_rate / SUBS;
}

/* Sub-streams we may push in all (to all neighbours): within SHARE of the budget. */
static int slots(const struct rv_p2p_cast *c)
{
	if (sub_rate(c) <= 0)	/* nothing measured yet: a feed of each sub-stream */
		return SUBS;
	return (int)(SHARE * (double)c->conf.max_upload / sub_rate(c));
}

static int bits(uint8_t m)
{
	int n = 0;
	for (; m; m &= (uint8_t)(m - 1))
		n++;
	return n;
}

/* Sub-streams we push now, in all (served). */
static int used(const struct rv_p2p_cast *c)
{
	int n = 0;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used)
			n += bits(c->p[i].mask_srv | c->p[i].mask_adopt);
	return n;
}

/* Sub-streams of MASK that we push to no neighbour but P. */
static uint8_t only_feed(const struct rv_p2p_cast *c, const struct cpeer *p, uint8_t mask)
{
	uint8_t others = 0;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		if (c->p[i].used && &c->p[i] != p)
			others |= c->p[i].mask_srv | c->p[i].mask_adopt;
	return (uint8_t)(mask & ~others);
}

/* P is told to ask another for what it asked of us; we stop pushing to it. */
static void decline(struct rv_p2p_cast *c, struct cpeer *p)
{
	p->mask_out = p->mask_srv = p->mask_adopt = p->told = 0;
	c->st.push_declines++;
	cast_send(c, p, cast_build_map(c, RV_P2P_CAST_MAP_DECLINE | (c->info ? 0 : RV_P2P_CAST_MAP_INFO)));
}

/* The rates over the last 10 map periods (the stream's: as long as it
 * has been going, if less). */
static void rates(struct rv_p2p_cast *c)
{
	uint64_t dt = c->now > c->rate_at ? c->now - c->rate_at : 0;
	if (!c->rate_at || !dt) {
		c->rate_at = c->now;
		c->offer_acc = c->in_acc = 0;
		return;
	}
	uint32_t i = c->hist_i++ % 10;
	c->in_hist[i] = c->in_acc;
	c->offer_hist[i] = c->offer_acc;
	c->hist_ms[i] = dt;
	c->rate_at = c->now;
	c->offer_acc = c->in_acc = 0;
	uint64_t in = 0, offer = 0, ms = 0;
	int seen = 0, periods = 0;	/* from the first period the stream came in */
	uint32_t cnt = c->hist_i < 10 ? c->hist_i : 10;
	for (uint32_t k = 0; k < cnt; k++) {	/* oldest first */
		uint32_t j = (c->hist_i - cnt + k) % 10;
		seen |= c->in_hist[j] != 0;
		if (!seen)
			continue;
		periods++;
		in += c->in_hist[j];
		offer += c->offer_hist[j];
		ms += c->hist_ms[j];
	}
	if (periods < 10)	/* not a whole second: a keyframe would count as the rate */
		in = 0;
	c->stream_rate = ms ? (double)in * 8000 / (double)ms : 0;
	c->offer_rate = ms ? (double)offer * 8000 / (double)ms : 0;
	c->st.upload_rate = (uint64_t)c->offer_rate;
}

/* What P lacks of the sub-streams in NEW that we hold, of the last
 * CATCHUP_MS: sent now, as if P had pulled it (behind the pushes, within
 * what pull answers may take of the budget). A push granted after the
 * stream began (its start, a pusher that stalled or declined) would
 * otherwise leave those to P's pulls, a fetch period after P learnt of
 * them. */
static void catch_up(struct rv_p2p_cast *c, struct cpeer *p, uint8_t new)
{
	for (uint32_t s = cast_lower(c); new && s < c->end; s++) {
		struct frag *f = &c->f[s % c->w];
		if (f->seq == s && f->state == HELD && (new & (1u << (s % SUBS))) && f->at + CATCHUP_MS > c->now &&
		    f->sent <= c->conf.push_limit && !cast_map_has(p, s))
			cast_frag_out(c, p, s, f, 1);
	}
}

/* A publisher: each sub-stream that no neighbour asked of it (or none
 * that it pushes to) is pushed unasked to one neighbour, the one with
 * the fewest pushed (at random among them), so that every sub-stream has
 * a feed; it relays it to those that ask it, and they find it fed. */
static void adopt(struct rv_p2p_cast *c)
{
	uint8_t fed = 0, adopted = 0;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		fed |= c->p[i].used ? c->p[i].mask_srv : 0;
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++) {
		c->p[i].mask_adopt &= (uint8_t)~fed;
		adopted |= c->p[i].mask_adopt;
	}
	for (int b = 0; b < SUBS && c->end; b++) {
		uint8_t bit = (uint8_t)(1u << b);
		int best = NONE, nbest = 0, start = (int)(cast_rnd(c) % RV_P2P_CAST_PEERS);
		if ((fed | adopted) & bit)
			continue;
		for (int k = 0; k < RV_P2P_CAST_PEERS; k++) {
			struct cpeer *p = &c->p[(start + k) % RV_P2P_CAST_PEERS];
			int n = bits(p->mask_srv | p->mask_adopt);
			if (!p->used || !p->in || CAST_OTHER_RUN(c, p) || (best != NONE && n >= nbest))
				continue;
			best = (start + k) % RV_P2P_CAST_PEERS;
			nbest = n;
		}
		if (best != NONE) {
			c->p[best].mask_adopt |= bit;
			catch_up(c, &c->p[best], bit);	/* (the stream's first fragments: nobody asked yet) */
		}
	}
}

/* A publisher pushes each neighbour at most this many sub-streams, so
 * that its few slots make many roots, each with a sub-stream to pass on. */
static int per_peer(const struct rv_p2p_cast *c)
{
	int k = (slots(c) + SUBS - 1) / SUBS;
	return !c->conf.publisher ? SUBS : k < 1 ? 1 : k;
}

/* The sub-streams in ORDER, those we push to the fewest neighbours first
 * (at random among equals): a publisher's few slots make a root for each. */
static void fewest_fed_first(struct rv_p2p_cast *c, int order[SUBS])
{
	int feeds[SUBS] = { 0 }, first = (int)(cast_rnd(c) % SUBS);
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		for (int b = 0; c->p[i].used && b < SUBS; b++)
			feeds[b] += ((c->p[i].mask_srv | c->p[i].mask_adopt) >> b) & 1;
	for (int k = 0; k < SUBS; k++)
		order[k] = (first + k) % SUBS;
	for (int k = 1; k < SUBS; k++)	/* (a stable sort: equals stay in their random turn) */
		for (int j = k; j > 0 && feeds[order[j]] < feeds[order[j - 1]]; j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

/* The sub-streams we push to push_limit + 1 neighbours other than P
 * already: each of their fragments would go to none past those. */
static uint8_t full(const struct rv_p2p_cast *c, const struct cpeer *p)
{
	uint8_t m = 0;
	for (int b = 0; b < SUBS; b++) {
		uint8_t bit = (uint8_t)(1u << b);
		uint32_t n = 0;
		for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
			n += c->p[i].used && &c->p[i] != p && ((c->p[i].mask_srv | c->p[i].mask_adopt) & bit);
		if (n > c->conf.push_limit)
			m |= bit;
	}
	return m;
}


/* What we push P, of what it asked, told it (CAST_GRANT): when that
 * changed, or ALWAYS (an answer to its CAST_PUSH). */
static void tell(struct rv_p2p_cast *c, struct cpeer *p, int always)
{
	uint8_t g = p->mask_srv | p->mask_adopt;	/* (a publisher's unasked ones too: P takes them up) */
	if (!p->used || (!p->mask_out && !g && !p->told) || (!always && p->told == g))
		return;
	if (p->mask_out & ~g)	/* some: it asks another for the rest */
		c->st.push_declines++;
	p->told = g;
	cast_send(c, p, rv_p2p_msg_cast_grant(c->msg, sizeof c->msg, c->id, p->mask_out, g));
}

void cast_up_tick(struct rv_p2p_cast *c)
{
	if (!c->conf.max_upload)
		return;
	rates(c);
	if (c->conf.publisher)
		adopt(c);
	/* more pushed than the slots (the stream grew): a sub-stream less for
	 * neighbours picked at random (a publisher keeps one for each
	 * sub-stream), till within them; one left with none is declined */
	int n = used(c), max = slots(c);
	for (int tries = 0; n > max && tries < 4 * RV_P2P_CAST_PEERS; tries++) {
		struct cpeer *p = &c->p[cast_rnd(c) % RV_P2P_CAST_PEERS];
		uint8_t can = p->used ? p->mask_srv : 0;
		if (c->conf.publisher)
			can &= (uint8_t)~only_feed(c, p, can);
		if (!can)
			continue;
		p->mask_srv &= (uint8_t)(can - 1) | (uint8_t)~can;	/* its lowest */
		n--;
		if (!p->mask_srv)
			decline(c, p);
	}
	/* room (the stream's rate measured at last, a neighbour gone): what
	 * neighbours asked and we did not take, taken now */
	for (int i = 0; i < RV_P2P_CAST_PEERS && n < max; i++) {
		struct cpeer *p = &c->p[i];
		uint8_t want = p->used ? (uint8_t)(p->mask_out & ~(p->mask_srv | p->mask_adopt) & ~full(c, p)) : 0, got = 0;
		for (int b = 0; b < SUBS && n < max && bits(p->mask_srv | p->mask_adopt) < per_peer(c); b++)
			if (want & (1u << b)) {
				p->mask_srv |= (uint8_t)(1u << b);
				got |= (uint8_t)(1u << b);
				n++;
			}
		catch_up(c, p, got);
	}
	for (int i = 0; i < RV_P2P_CAST_PEERS; i++)
		tell(c, &c->p[i], 0);
}

uint8_t cast_up_flags(const struct rv_p2p_cast *c)
{
	if (!c->conf.max_upload)
		return 0;
	int k = slots(c) - used(c);
	k = k < 0 ? 0 : k > 14 ? 14 : k;
	return (uint8_t)((1 + k) << 4);
}

void cast_up_push_in(struct rv_p2p_cast *c, struct cpeer *p, uint8_t mask)
{
	uint8_t before = p->mask_srv | p->mask_adopt;
	uint8_t can = (uint8_t)(mask & ~(full(c, p) & ~p->mask_srv));	/* one already pushed stays */
	p->mask_out = mask;
	if (!c->conf.max_upload) {
		p->mask_srv = can;
	} else {
		/* what we cannot push (past our slots) we do not take, and say so
		 * (tell): the neighbour asks another for it */
		p->mask_srv &= mask;
		p->mask_srv |= mask & p->mask_adopt;	/* asked what we push it unasked: served */
		p->mask_adopt &= (uint8_t)~mask;
		int n = used(c), order[SUBS];
		fewest_fed_first(c, order);
		for (int k = 0; k < SUBS; k++) {
			uint8_t bit = (uint8_t)(1u << order[k]);
			int only = c->conf.publisher && only_feed(c, p, bit);	/* nobody else has it of us */
			if (!(can & bit) || (p->mask_srv & bit) || bits(p->mask_srv | p->mask_adopt) >= per_peer(c))
				continue;	/* (a publisher's sub-stream past that: adopt gives it another root) */
			if (n < slots(c) || only) {
				p->mask_srv |= bit;
				n++;
			}
		}
	}
	if (mask && !p->mask_srv && c->conf.max_upload && used(c) >= slots(c))
		decline(c, p);	/* none, our upload full: it had better ask another at once, for a while */
	else
		tell(c, p, 1);	/* (none, a fan-out full: it asks those sub-streams of others) */
	catch_up(c, p, (uint8_t)(p->mask_srv & ~before));
}

void cast_up_map_in(struct rv_p2p_cast *c, struct cpeer *p, uint8_t flags)
{
	p->spare = (uint8_t)RV_P2P_CAST_MAP_SPARE(flags);
	if (!(flags & RV_P2P_CAST_MAP_DECLINE) || !p->mask_in)
		return;
	c->st.push_declined++;
	p->declined_at = c->now ? c->now : 1;
	int i = (int)(p - c->p);
	for (int b = 0; b < SUBS; b++)
		if (c->sub[b] == i)
			c->sub[b] = NONE;
	p->mask_in = 0;	/* (it forgot our mask already) */
	cast_resubscribe(c);
}

int cast_up_weight(const struct rv_p2p_cast *c, const struct cpeer *p)
{
	if (p->declined_at && c->now < p->declined_at + HOLD_MS)
		return -1;
	return p->spare == 0 ? UNSAID : p->spare - 1;
}
