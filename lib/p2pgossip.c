/* p2pgossip.c - posting in a peer group (p2pgossip.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "p2pgossip.h"

#define KEY 16                 /* the map key: an ID's first 16 bytes */
#define SWEEP_MS 1000
#define NEVER UINT64_MAX
#define GRAFT_ROUNDS 4         /* times every announcer is asked again */

/* A post the engine knows of: held (ENV set), or announced and awaited. */
struct gmsg {
	uint8_t id[32];
	uint64_t seen_until;       /* forget the ID then */
	uint64_t cache_until;      /* drop the bytes then */
	uint8_t *env;              /* owned; NULL when not held */
	uint32_t len;
	uint8_t have;              /* received (or ours) */
	uint64_t has;              /* held: the neighbours (bit per slot) known to have it */
	int32_t awaited;           /* index in g->missing, or -1 */
	uint8_t nann, next_ann;    /* announcers of an awaited post */
	uint8_t round;             /* times every announcer was asked */
	int8_t ann[RV_P2P_GOSSIP_ANNOUNCERS];
	uint64_t graft_at;
};

static const struct rv_p2p_gossip_conf defaults = {
	.ihave_ms = 20, .lazy_max = 8, .graft_ms = 20, .regraft_ms = 20, .cache_ms = 30000, .seen_ms = 120000,
	.eager_min = 1,
};

void rv_p2p_gossip_defaults(struct rv_p2p_gossip_conf *c)
{
	*c = defaults;
}

void rv_p2p_gossip_init(struct rv_p2p_gossip *g, const uint8_t group[32],
			const struct rv_p2p_gossip_conf *conf)
{
	memset(g, 0, sizeof *g);
	g->conf = conf ? *conf : defaults;
	memcpy(g->group, group, 32);
	rv_bmap_init(&g->msgs, KEY, RV_P2P_GOSSIP_MSGS);
	rv_buf_init(&g->out, RV_P2P_GOSSIP_OUT_MAX);
}

void rv_p2p_gossip_free(struct rv_p2p_gossip *g)
{
	size_t i = 0;
	struct gmsg *m;
	while ((m = rv_bmap_next(&g->msgs, &i, NULL))) {
		free(m->env);
		free(m);
	}
	rv_bmap_free(&g->msgs);
	rv_buf_free(&g->out);
}

/* ---- output: records of kind u8, slot u8, why (a pointer), len u32, bytes ---- */

struct rec {
	uint8_t ev, slot;
	const char *why;
	uint32_t len;
};

static int emit(struct rv_p2p_gossip *g, enum rv_p2p_gossip_event ev, int slot,
		const uint8_t *p, size_t n, const char *why)
{
	struct rec r = { (uint8_t)ev, (uint8_t)slot, why, (uint32_t)n };
	uint8_t *w = rv_buf_reserve(&g->out, sizeof r + n);
	if (!w) {
		g->st.dropped++;
		return -ENOBUFS;
	}
	memcpy(w, &r, sizeof r);
	if (n)
		memcpy(w + sizeof r, p, n);
	rv_buf_commit(&g->out, sizeof r + n);
	return 0;
}

static void send_msg(struct rv_p2p_gossip *g, int slot, const uint8_t *p, long n)
{
	if (n <= 0 || emit(g, RV_P2P_EV_SEND, slot, p, (size_t)n, NULL) < 0)
		return;
	if (p[0] == RV_P2P_M_POST)
		g->st.data_out += (uint64_t)n;
	else
		g->st.control_out += (uint64_t)n;
}

int rv_p2p_gossip_poll(struct rv_p2p_gossip *g, struct rv_p2p_gossip_out *o)
{
	struct rec r;
	if (rv_buf_size(&g->out) == 0) {
		rv_buf_reset(&g->out);
		return 0;
	}
	memcpy(&r, rv_buf_head(&g->out), sizeof r);
	o->ev = r.ev;
	o->slot = r.slot;
	o->why = r.why;
	o->len = r.len;
	o->bytes = rv_buf_head(&g->out) + sizeof r;
	rv_buf_consume(&g->out, sizeof r + r.len);   /* the bytes stay until the next append */
	return 1;
}

/* ---- neighbours ---- */

static int valid(int slot)
{
	return slot >= 0 && slot < RV_P2P_GOSSIP_SLOTS;
}

static void set_eager(struct rv_p2p_gossip *g, int slot, int eager)
{
	g->nb[slot].eager = (uint8_t)eager;
}

static uint32_t eager_count(const struct rv_p2p_gossip *g)
{
	uint32_t n = 0;
	for (int s = 0; s < RV_P2P_GOSSIP_SLOTS; s++)
		n += g->nb[s].up && g->nb[s].eager;
	return n;
}

void rv_p2p_gossip_up(struct rv_p2p_gossip *g, int slot)
{
	if (!valid(slot))
		return;
	memset(&g->nb[slot], 0, sizeof g->nb[slot]);
	g->nb[slot].up = g->nb[slot].eager = 1;
}

/* Make a lazy neighbour other than EXCEPT eager, with an IWANT of no ID (a
 * graft), taking them in turn: after a PRUNE that left fewer than
 * eager_min eager links, or an eager neighbour gone (p2pgossip.h). */
static void graft_lazy(struct rv_p2p_gossip *g, int except)
{
	for (int k = 0; k < RV_P2P_GOSSIP_SLOTS; k++) {
		int s = (int)((g->next_graft + (unsigned)k) % RV_P2P_GOSSIP_SLOTS);
		if (!g->nb[s].up || g->nb[s].eager || s == except)
			continue;
		g->next_graft = (unsigned)s + 1;
		set_eager(g, s, 1);
		g->st.grafts++;
		send_msg(g, s, g->scratch, rv_p2p_msg_ids(g->scratch, sizeof g->scratch, RV_P2P_M_IWANT, NULL, 0));
		return;
	}
}

void rv_p2p_gossip_down(struct rv_p2p_gossip *g, int slot)
{
	if (!valid(slot))
		return;
	int was_eager = g->nb[slot].up && g->nb[slot].eager;
	memset(&g->nb[slot], 0, sizeof g->nb[slot]);
	if (was_eager)
		graft_lazy(g, slot);
}

static int dont_want(const struct rv_p2p_gossip_nb *nb, const uint8_t id[32])
{
	for (int i = 0; i < RV_P2P_GOSSIP_DONTWANT; i++)
		if (!memcmp(nb->dontwant[i], id, 16))
			return 1;
	return 0;
}

static struct gmsg *lookup(struct rv_p2p_gossip *g, const uint8_t id[32]);

static uint64_t bit(int slot)
{
	return (uint64_t)1 << slot;
}

/* The IHAVE batched for SLOT, less the posts it has shown us it has (it
 * sent or announced them since): they would tell it nothing. */
static void flush_ihave(struct rv_p2p_gossip *g, int slot)
{
	struct rv_p2p_gossip_nb *nb = &g->nb[slot];
	size_t n = 0;
	for (size_t i = 0; i < nb->nihave; i++) {
		const struct gmsg *m = lookup(g, nb->ihave[i]);
		if (m && (m->has & bit(slot)))
			continue;
		if (n != i)
			memcpy(nb->ihave[n], nb->ihave[i], 32);
		n++;
	}
	g->st.ihave_skipped += nb->nihave - n;
	if (n)
		send_msg(g, slot, g->scratch,
			 rv_p2p_msg_ids(g->scratch, sizeof g->scratch, RV_P2P_M_IHAVE, nb->ihave[0], n));
	nb->nihave = 0;
}

static void announce(struct rv_p2p_gossip *g, uint64_t now, int slot, const uint8_t id[32])
{
	struct rv_p2p_gossip_nb *nb = &g->nb[slot];
	if (!nb->nihave)
		nb->ihave_since = now;
	memcpy(nb->ihave[nb->nihave++], id, 32);
	if (nb->nihave == RV_P2P_LIST_MAX)
		flush_ihave(g, slot);
}

/* ---- posts ---- */

static void stop_awaiting(struct rv_p2p_gossip *g, struct gmsg *m)
{
	if (m->awaited < 0)
		return;
	struct gmsg *last = g->missing[--g->nmissing];
	g->missing[m->awaited] = last;
	last->awaited = m->awaited;
	m->awaited = -1;
}

static struct gmsg *lookup(struct rv_p2p_gossip *g, const uint8_t id[32])
{
	struct gmsg *m = rv_bmap_get(&g->msgs, id);
	return m && !memcmp(m->id, id, 32) ? m : NULL;
}

static struct gmsg *entry(struct rv_p2p_gossip *g, uint64_t now, const uint8_t id[32])
{
	struct gmsg *m = lookup(g, id);
	if (m)
		return m;
	if (rv_bmap_get(&g->msgs, id))             /* a 128-bit prefix collision: refuse */
		return NULL;
	if (!(m = calloc(1, sizeof *m)))
		return NULL;
	memcpy(m->id, id, 32);
	m->awaited = -1;
	m->seen_until = now + g->conf.seen_ms;
	if (rv_bmap_put(&g->msgs, id, m) < 0) {
		free(m);
		return NULL;
	}
	return m;
}

/* Keep ENV as M's bytes and pass it on: pushed to the eager neighbours,
 * announced to the lazy ones, never back to FROM (-1: ours). */
static int hold_and_forward(struct rv_p2p_gossip *g, uint64_t now, struct gmsg *m, int from,
			    const uint8_t *env, size_t len)
{
	if (!(m->env = malloc(len)))
		return -ENOMEM;
	memcpy(m->env, env, len);
	m->len = (uint32_t)len;
	m->have = 1;
	m->cache_until = now + g->conf.cache_ms;
	stop_awaiting(g, m);
	long n = rv_p2p_msg_post(g->scratch, sizeof g->scratch, env, len);
	int lazy[RV_P2P_GOSSIP_SLOTS];
	size_t nlazy = 0, cap = g->conf.lazy_max ? g->conf.lazy_max : RV_P2P_GOSSIP_SLOTS;
	for (int s = 0; s < RV_P2P_GOSSIP_SLOTS; s++) {
		struct rv_p2p_gossip_nb *nb = &g->nb[s];
		if (!nb->up || s == from)
			continue;
		if (!nb->eager)
			lazy[nlazy++] = s;
		else if (!dont_want(nb, m->id))
			send_msg(g, s, g->scratch, n);
	}
	/* lazy links: at most lazy_max of them, from a place among them the
	 * ID and our salt pick, so that each gets its share of announcements
	 * (slots are dense from 0: a place among all 64 would favour the first
	 * ones) and hears of each post from its own share of the members */
	size_t first = nlazy > cap ? (size_t)(rv_rd32(m->id) ^ g->conf.salt) % nlazy : 0;
	for (size_t k = 0; k < nlazy && k < cap; k++)
		announce(g, now, lazy[(first + k) % nlazy], m->id);
	if (len > RV_P2P_LARGE && from >= 0) {      /* the others need not push it to us */
		n = rv_p2p_msg_ids(g->scratch, sizeof g->scratch, RV_P2P_M_IDONTWANT, m->id, 1);
		for (int s = 0; s < RV_P2P_GOSSIP_SLOTS; s++)
			if (g->nb[s].up && g->nb[s].eager && s != from)
				send_msg(g, s, g->scratch, n);
	}
	return 0;
}

int rv_p2p_gossip_post(struct rv_p2p_gossip *g, uint64_t now, const uint8_t *env, size_t len)
{
	struct rv_p2p_env e;
	const char *why;
	if (rv_p2p_env_open(env, len, g->group, &e, &why) < 0)
		return RV_EPROTO;
	if (g->conf.admit && g->conf.admit(g->conf.admit_ud, &e, &why) < 0)
		return RV_EDENIED;
	struct gmsg *m = entry(g, now, e.id);
	if (!m)
		return RV_ELIMIT;
	if (m->have)
		return 0;                           /* posted already */
	return hold_and_forward(g, now, m, -1, env, len);
}

static void on_post(struct rv_p2p_gossip *g, uint64_t now, int slot, const uint8_t *env, size_t len)
{
	uint8_t id[32];
	struct rv_p2p_env e;
	const char *why;
	g->st.posts_in++;
	rv_p2p_sha256(env, len, id);                /* cheap: duplicates skip the signature */
	struct gmsg *m = lookup(g, id);
	if (m && m->have) {
		m->has |= bit(slot);
		g->st.duplicates++;
		if (g->nb[slot].eager && eager_count(g) > g->conf.eager_min) {   /* another way here */
			set_eager(g, slot, 0);
			g->st.prunes++;
			send_msg(g, slot, g->scratch, rv_p2p_msg_signal(g->scratch, sizeof g->scratch, RV_P2P_M_PRUNE));
		}
		return;
	}
	why = NULL;
	if (rv_p2p_env_open(env, len, g->group, &e, &why) < 0 || e.kind != RV_P2P_POST ||
	    (g->conf.admit && g->conf.admit(g->conf.admit_ud, &e, &why) < 0)) {
		g->st.bad++;
		emit(g, RV_P2P_EV_BAD, slot, NULL, 0, !why ? "not a post" : why);
		return;
	}
	if (!m && !(m = entry(g, now, id)))
		return;
	set_eager(g, slot, 1);                      /* it brought us something new */
	m->has = bit(slot);
	if (hold_and_forward(g, now, m, slot, env, len) == 0) {
		g->st.delivered++;
		emit(g, RV_P2P_EV_DELIVER, slot, env, len, NULL);
	}
}

static void await(struct rv_p2p_gossip *g, uint64_t now, struct gmsg *m)
{
	m->awaited = (int32_t)g->nmissing;
	g->missing[g->nmissing++] = m;
	m->graft_at = now + g->conf.graft_ms;
	m->nann = m->next_ann = m->round = 0;
}

static void on_ihave(struct rv_p2p_gossip *g, uint64_t now, int slot, const struct rv_p2p_msg *msg)
{
	for (size_t i = 0; i < msg->n; i++) {
		struct gmsg *m = lookup(g, msg->ids[i]);
		if (m && m->have) {
			m->has |= bit(slot);
			continue;
		}
		if (!m && (g->nmissing == RV_P2P_GOSSIP_MISSING || !(m = entry(g, now, msg->ids[i]))))
			continue;
		if (m->awaited < 0) {
			if (g->nmissing == RV_P2P_GOSSIP_MISSING)
				continue;
			await(g, now, m);
		}
		if (m->nann < RV_P2P_GOSSIP_ANNOUNCERS)
			m->ann[m->nann++] = (int8_t)slot;
	}
}

static void on_iwant(struct rv_p2p_gossip *g, int slot, const struct rv_p2p_msg *msg)
{
	set_eager(g, slot, 1);                      /* a graft */
	for (size_t i = 0; i < msg->n; i++) {
		struct gmsg *m = lookup(g, msg->ids[i]);
		if (m && m->env)
			send_msg(g, slot, g->scratch, rv_p2p_msg_post(g->scratch, sizeof g->scratch, m->env, m->len));
	}
}

static void on_idontwant(struct rv_p2p_gossip *g, int slot, const struct rv_p2p_msg *msg)
{
	struct rv_p2p_gossip_nb *nb = &g->nb[slot];
	for (size_t i = 0; i < msg->n; i++) {
		memcpy(nb->dontwant[nb->ndontwant], msg->ids[i], 16);
		nb->ndontwant = (uint8_t)((nb->ndontwant + 1) % RV_P2P_GOSSIP_DONTWANT);
	}
}

int rv_p2p_gossip_input(struct rv_p2p_gossip *g, uint64_t now, int slot, const struct rv_p2p_msg *m)
{
	if (!valid(slot) || !g->nb[slot].up)
		return RV_EPROTO;
	switch (m->type) {
	case RV_P2P_M_POST: on_post(g, now, slot, m->env, m->env_len); break;
	case RV_P2P_M_IHAVE: on_ihave(g, now, slot, m); break;
	case RV_P2P_M_IWANT: on_iwant(g, slot, m); break;
	case RV_P2P_M_IDONTWANT: on_idontwant(g, slot, m); break;
	case RV_P2P_M_PRUNE:
		set_eager(g, slot, 0);
		if (eager_count(g) < g->conf.eager_min)
			graft_lazy(g, slot);
		break;
	default: break;
	}
	return 0;
}

/* Ask the next live announcer of M for it (a graft), regraft_ms apart;
 * once each was asked, again after 2, 4, 8 and 16 x regraft_ms (an IWANT
 * or its answer lost on a lossy link); then give it up. */
static void graft(struct rv_p2p_gossip *g, uint64_t now, struct gmsg *m)
{
	for (;;) {
		for (; m->next_ann < m->nann; m->next_ann++) {
			int s = m->ann[m->next_ann];
			if (!g->nb[s].up)
				continue;
			set_eager(g, s, 1);
			g->st.grafts++;
			send_msg(g, s, g->scratch, rv_p2p_msg_ids(g->scratch, sizeof g->scratch, RV_P2P_M_IWANT, m->id, 1));
			m->next_ann++;
			m->graft_at = now + ((uint64_t)g->conf.regraft_ms << (m->next_ann < m->nann ? 0 : m->round + 1));
			return;
		}
		if (!m->nann || m->round == GRAFT_ROUNDS)
			break;
		m->round++;
		m->next_ann = 0;
	}
	stop_awaiting(g, m);                         /* nobody left to ask: a later IHAVE may */
	m->nann = m->next_ann = m->round = 0;
}

/* Forget what has expired: bytes after cache_ms, IDs after seen_ms. */
static void sweep(struct rv_p2p_gossip *g, uint64_t now)
{
	size_t i = 0;
	struct gmsg *m;
	while ((m = rv_bmap_next(&g->msgs, &i, NULL))) {
		if (m->env && now >= m->cache_until) {
			free(m->env);
			m->env = NULL;
		}
		if (now >= m->seen_until && m->awaited < 0) {
			rv_bmap_del(&g->msgs, m->id);
			free(m);
		}
	}
	g->next_sweep = now + SWEEP_MS;
}

void rv_p2p_gossip_tick(struct rv_p2p_gossip *g, uint64_t now)
{
	for (int s = 0; s < RV_P2P_GOSSIP_SLOTS; s++)
		if (g->nb[s].nihave && now >= g->nb[s].ihave_since + g->conf.ihave_ms)
			flush_ihave(g, s);
	for (size_t i = 0; i < g->nmissing;) {
		struct gmsg *m = g->missing[i];
		if (now >= m->graft_at)
			graft(g, now, m);
		if (i < g->nmissing && g->missing[i] == m)
			i++;                                  /* else the last one moved here */
	}
	if (now >= g->next_sweep)
		sweep(g, now);
}

uint64_t rv_p2p_gossip_next(const struct rv_p2p_gossip *g)
{
	uint64_t next = g->next_sweep;
	for (int s = 0; s < RV_P2P_GOSSIP_SLOTS; s++)
		if (g->nb[s].nihave && g->nb[s].ihave_since + g->conf.ihave_ms < next)
			next = g->nb[s].ihave_since + g->conf.ihave_ms;
	for (size_t i = 0; i < g->nmissing; i++)
		if (g->missing[i]->graft_at < next)
			next = g->missing[i]->graft_at;
	return next;
}
