/* relay.c - rvserver's media relay: streams, their receivers, the packet
 * path (see relay.h). UDP endpoints and Bindings are in relay_ep.c, the
 * numbers in relay_stats.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "bytes.h"
#include "err.h"
#include "frame.h"
#include "json.h"
#include "log.h"
#include "relay_int.h"
#include "router.h"
#include "rtp.h"
#include "rvcode.h"
#include "vec.h"

#define KEYFRAME_GAP_MS 300        /* at most one keyframe request this often */

int relay_init(struct relay *r, void *host, struct rv_router *router, size_t max_queue, double drop_rate)
{
	memset(r, 0, sizeof *r);
	r->host = host;
	r->router = router;
	r->max_queue = max_queue;
	r->drop_rate = drop_rate;
	rv_bmap_init(&r->by_addr, RELAY_ADDR_KEY, RELAY_MAX_ADDRS);
	rv_bmap_init(&r->by_fb, sizeof(uint32_t), RELAY_MAX_SUBS);
	rv_buf_init(&r->scratch, RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER);
	if (RAND_bytes(r->key, sizeof r->key) != 1)
		return RV_ETLS;
	return 0;
}

static void stream_free(struct relay *r, struct mstream *st);

void relay_free(struct relay *r)
{
	while (r->streams)
		stream_free(r, r->streams);
	rv_bmap_free(&r->by_addr);
	rv_bmap_free(&r->by_fb);
	rv_buf_free(&r->scratch);
	free(r->viewers);
	r->viewers = NULL;
	r->nviewers = r->viewercap = 0;
	free(r->rx);
	r->rx = NULL;
	r->rxcap = 0;
}

/* ---- control frames to a connection ---- */

static int send_json(struct relay *r, struct conn *c, cJSON *h)
{
	rv_buf_reset(&r->scratch);
	int rc = rv_frame_append_json(&r->scratch, h, NULL, 0);
	cJSON_Delete(h);
	if (rc == 0)
		rc = relay_conn_send(c, rv_buf_head(&r->scratch), rv_buf_size(&r->scratch), NULL, 0);
	return rc;
}

/* An error frame with CODE; MSG NULL: the code's default text. */
static void send_error(struct relay *r, struct conn *c, uint64_t re, enum rv_code code, const char *msg)
{
	rv_buf_reset(&r->scratch);
	if (rv_frame_append_error(&r->scratch, re, code, msg) == 0)
		relay_conn_send(c, rv_buf_head(&r->scratch), rv_buf_size(&r->scratch), NULL, 0);
}

/* ---- sending to an endpoint ---- */

static int ep_send(struct relay *r, struct relay_ep *ep, const uint8_t *p, size_t n)
{
	struct conn *c = ep->c;
	if (ep->edge) {	/* to an edge: it translates */
		ep->edge->packet(ep->edge_ud, p, n);
		r->n.packets_out++;
		r->n.bytes_out += n;
		return 0;
	}
	if (ep->udp) {	/* goes out with the rest of the batch */
		relay_udp_queue(r, ep, (const struct sockaddr *)&ep->addr, ep->alen, p, n);
	} else {
		/* A receiver that falls behind loses packets; it is never paused
		 * for, and never dropped for media alone. */
		if (!relay_conn_open(c) || relay_conn_queued(c) > r->max_queue / 2)
			return -1;
		uint8_t head[RV_FRAME_MEDIA_HEAD];
		rv_frame_media_head(head, n);
		if (relay_conn_send(c, head, sizeof head, p, n) < 0)
			return -1;
	}
	r->n.packets_out++;
	r->n.bytes_out += n;
	return 0;
}

/* ---- streams and their receivers ---- */

static void sub_free(struct relay *r, struct sub *s)
{
	rv_bmap_del(&r->by_fb, &s->fb_ssrc);
	free(s);
}

static void tell_end(struct relay *r, struct mstream *st, struct relay_ep *rx, const char *why)
{
	if (rx->edge) {
		rx->edge->stream_end(rx->edge_ud, st->id);
		return;
	}
	if (!relay_conn_open(rx->c))
		return;
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "stream-end");
	cJSON_AddNumberToObject(h, "stream", st->id);
	const char *from = rv_json_str(st->announce, "from");
	if (from)
		cJSON_AddStringToObject(h, "from", from);
	cJSON_AddStringToObject(h, "reason", why);
	send_json(r, rx->c, h);
}

static void request_keyframe(struct relay *r, struct mstream *st)
{
	uint64_t now = relay_now(r);
	if (st->last_kf_ms && now - st->last_kf_ms < KEYFRAME_GAP_MS)
		return;
	st->last_kf_ms = now;
	r->n.keyframe_requests++;
	if (st->src->edge) {
		st->src->edge->keyframe(st->src->edge_ud, st->id);
		return;
	}
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "keyframe");
	cJSON_AddNumberToObject(h, "stream", st->id);
	send_json(r, st->src->c, h);
}

/* The receivers a route reaches: at most CAP, or as many as memory allows
 * with GROW (a stamp marks each, so one listed twice counts once). */
struct collect {
	struct relay_ep **v;
	size_t n, cap;
	int grow, truncated;
	uint64_t stamp;
};

static void collect_ep(struct collect *k, struct relay_ep *ep);

static void collect(void *ud, struct rv_client *to)
{
	struct conn *c = to->recv;
	struct relay_ep *ep = c ? *relay_ep_slot(c) : NULL;
	if (!ep || !ep->watching || !relay_conn_open(c))
		return;
	collect_ep(ud, ep);
}

static void collect_ep(struct collect *k, struct relay_ep *ep)
{
	if (k->stamp) {
		if (ep->seen == k->stamp)
			return;
		ep->seen = k->stamp;
	}
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		struct relay_ep **v = k->grow ? realloc(k->v, cap * sizeof *v) : NULL;
		if (!v) {
			k->truncated |= k->grow;
			return;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = ep;
}

static struct sub *add_sub(struct relay *r, struct mstream *st, struct relay_ep *rx)
{
	if (rv_grow((void **)&st->subs, &st->subcap, st->nsubs + 1, sizeof *st->subs) < 0)
		return NULL;
	struct sub *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	do	/* a server-wide unique SSRC for this receiver's RTCP */
		s->fb_ssrc = ++r->last_ssrc;
	while (s->fb_ssrc == 0 || rv_bmap_get(&r->by_fb, &s->fb_ssrc));
	if (rv_bmap_put(&r->by_fb, &s->fb_ssrc, st) < 0) {
		free(s);
		return NULL;
	}
	s->rx = rx;
	st->subs[st->nsubs++] = s;
	if (rx->edge) {
		rx->edge->stream(rx->edge_ud, st->announce, s->fb_ssrc);
		return s;
	}
	cJSON *h = cJSON_Duplicate(st->announce, 1);
	cJSON_AddNumberToObject(h, "rtcp_ssrc", s->fb_ssrc);
	send_json(r, rx->c, h);
	return s;
}

/* A viewer edge EP takes a stream to GROUP from FROM (NULL: gone). */
static int views(const struct relay_ep *ep, const char *group, const struct rv_client *from)
{
	return !strcmp(ep->watch_group, group) && (!ep->watch_from || (from && !strcmp(ep->watch_from, from->id)));
}

/* Work out the stream's receivers again: newcomers are told of it (and get
 * a keyframe soon), those who left are told it ended for them. In time
 * linear in the receivers, with no cap on their number. */
static void refresh(struct relay *r, struct mstream *st)
{
	struct collect k = { r->rx, 0, r->rxcap, 1, 0, ++r->stamp };
	struct rv_client *from = relay_ep_client(st->src);
	st->gen = r->gen;
	if (from)
		rv_router_route(r->router, from, st->to, st->group, collect, &k, NULL);
	for (size_t i = 0; st->group && i < r->nviewers; i++)	/* edges watching its group */
		if (relay_ep_client(r->viewers[i]) != from && views(r->viewers[i], st->group, from))
			collect_ep(&k, r->viewers[i]);
	for (int i = 0; i < st->npipes; i++)	/* the nodes it is piped to */
		collect_ep(&k, st->pipes[i]);
	r->rx = k.v;
	r->rxcap = k.cap;
	if (k.truncated)
		rv_warn("stream %u: out of memory listing its receivers: only %zu reached", st->id, k.n);
	for (size_t i = 0; i < st->nsubs;) {
		struct relay_ep *ep = st->subs[i]->rx;
		if (ep->seen == k.stamp) {	/* still a receiver */
			ep->subscribed = k.stamp;
			i++;
			continue;
		}
		tell_end(r, st, ep, "not a receiver any more");
		sub_free(r, st->subs[i]);
		st->subs[i] = st->subs[--st->nsubs];
	}
	int added = 0;
	for (size_t j = 0; j < k.n; j++)
		if (k.v[j]->subscribed != k.stamp && add_sub(r, st, k.v[j]) && k.v[j]->watching != WATCH_EVENTS)
			added++;
	if (added && st->started)
		request_keyframe(r, st);
}

static void stream_free(struct relay *r, struct mstream *st)
{
	for (struct mstream **pp = &r->streams; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	r->nstreams--;
	struct relay_ep *src = st->src;
	for (int k = 0; k < src->nmine; k++)
		if (src->mine[k] == st) {
			src->mine[k] = src->mine[--src->nmine];
			break;
		}
	for (size_t i = 0; i < st->nsubs; i++)
		sub_free(r, st->subs[i]);
	free(st->subs);
	free(st->to);
	if (st->group && !st->piped)
		relay_group_source(r, st->group, -1);
	free(st->group);
	cJSON_Delete(st->announce);
	free(st);
}

static void stream_end(struct relay *r, struct mstream *st, const char *why)
{
	for (size_t i = 0; i < st->nsubs; i++)
		tell_end(r, st, st->subs[i]->rx, why);
	rv_debug("stream %u ended: %s", st->id, why);
	stream_free(r, st);
}

static struct mstream *stream_by_id(struct relay *r, struct conn *c, double id)
{
	for (struct mstream *st = r->streams; st; st = st->next)
		if (st->id == id && st->src->c == c)
			return st;
	return NULL;
}

static void reply_ok(struct relay *r, struct conn *c, uint64_t seq, cJSON *extra_udp, uint32_t stream,
		     int receivers)
{
	cJSON *ok = cJSON_CreateObject();
	cJSON_AddStringToObject(ok, "type", "ok");
	cJSON_AddNumberToObject(ok, "re", (double)seq);
	if (stream) {
		cJSON_AddNumberToObject(ok, "stream", stream);
		cJSON_AddNumberToObject(ok, "receivers", receivers);
		if (r->next_nodes > 0)
			cJSON_AddNumberToObject(ok, "nodes", r->next_nodes);
	}
	if (extra_udp)
		cJSON_AddItemToObject(ok, "udp", extra_udp);
	send_json(r, c, ok);
}

/* The "media" entries of a stream request into ST's SSRCs: 0, or -1 when
 * one is not an object with kind, codec and an SSRC in 1..2^32-1. */
static int take_ssrcs(struct mstream *st, const cJSON *media)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, media) {
		cJSON *ssrc = cJSON_GetObjectItemCaseSensitive(it, "ssrc");
		if (!cJSON_IsObject(it) || !cJSON_IsNumber(ssrc) || ssrc->valuedouble < 1 ||
		    ssrc->valuedouble > 4294967295.0 || !rv_json_str(it, "codec") || !rv_json_str(it, "kind"))
			return -1;
		st->ssrc[st->nssrc++] = (uint32_t)ssrc->valuedouble;
	}
	return 0;
}

/* The "stream" event receivers are told, without rtcp_ssrc. */
static cJSON *announce(const struct mstream *st, const char *from, const cJSON *h)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "type", "stream");
	cJSON_AddNumberToObject(a, "stream", st->id);
	cJSON_AddStringToObject(a, "from", from);
	if (st->group)
		cJSON_AddStringToObject(a, "group", st->group);
	cJSON_AddItemToObject(a, "media", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "media"), 1));
	cJSON *srtp = cJSON_GetObjectItemCaseSensitive(h, "srtp");
	if (cJSON_IsObject(srtp))
		cJSON_AddItemToObject(a, "srtp", cJSON_Duplicate(srtp, 1));
	return a;
}

/* ST (its SSRCs taken) becomes EP's, sent by FROM to TO or GROUP and
 * announced with H's media and srtp: numbered, listed and routed. */
static void stream_link(struct relay *r, struct mstream *st, struct relay_ep *ep, const char *from,
			const char *to, const char *group, const cJSON *h)
{
	st->src = ep;
	ep->mine[ep->nmine++] = st;
	st->id = ++r->last_stream ? r->last_stream : ++r->last_stream;
	st->to = to ? strdup(to) : NULL;
	st->group = !to && group ? strdup(group) : NULL;
	st->announce = announce(st, from, h);
	if (st->group && !st->piped)
		relay_group_source(r, st->group, 1);
	st->next = r->streams;
	r->streams = st;
	r->nstreams++;
	r->n.streams_total++;
	refresh(r, st);
}

/* {"type":"stream","to"|"group":...,"media":[{"kind","codec","ssrc",...}],
 *  "srtp":{...}}: a new stream from this connection. */
void relay_stream(struct relay *r, struct conn *c, cJSON *h)
{
	uint64_t seq = rv_json_u64(h, "seq", 0);
	const char *to = rv_json_str(h, "to"), *group = rv_json_str(h, "group");
	struct rv_client *cl = relay_client(c);
	struct relay_ep *ep = *relay_ep_slot(c);
	enum rv_route_miss miss;
	cJSON *media = cJSON_GetObjectItemCaseSensitive(h, "media");
	if ((to && !rv_id_valid(to)) || (group && !rv_id_valid(group)) || !cJSON_IsArray(media) ||
	    cJSON_GetArraySize(media) < 1 || cJSON_GetArraySize(media) > MAX_SSRCS) {
		send_error(r, c, seq, RV_CODE_BAD_REQUEST, "stream needs media (1-4 entries) and a valid to or group");
		return;
	}
	struct mstream *st = calloc(1, sizeof *st);
	if (!st) {
		send_error(r, c, seq, RV_CODE_INTERNAL, NULL);
		return;
	}
	if (take_ssrcs(st, media) < 0) {
		free(st);
		send_error(r, c, seq, RV_CODE_BAD_REQUEST, "each media entry needs kind, codec and an ssrc");
		return;
	}
	if (ep && ep->nmine >= MAX_STREAMS_PER_CONN) {
		free(st);
		send_error(r, c, seq, RV_CODE_LIMIT, "too many streams on one connection");
		return;
	}
	/* A refused target is refused now; one that is not there yet (a group
	 * nobody joined, a receiver not connected) may come later. */
	struct relay_ep *probe[1];
	struct collect k = { probe, 0, 0, 0, 0, 0 };
	int rc = rv_router_route(r->router, cl, to, to ? NULL : group, collect, &k, &miss);
	if (rc == RV_EDENIED || (rc < 0 && miss == RV_MISS_NO_CONTACTS)) {
		free(st);
		send_error(r, c, seq, rv_route_miss_code(miss), rv_route_miss_text(miss));
		return;
	}
	ep = relay_ep_of(c);
	cJSON *udp = ep ? relay_udp_info(r, c) : NULL;
	if (!ep || !udp) {
		free(st);
		cJSON_Delete(udp);
		send_error(r, c, seq, RV_CODE_INTERNAL, NULL);
		return;
	}
	stream_link(r, st, ep, cl->id, to, group, h);
	rv_info("%s: stream %u to %s%s (%zu receivers)", cl->id, st->id, st->group ? "#" : "",
		st->to ? st->to : st->group ? st->group : "default receivers", st->nsubs);
	reply_ok(r, c, seq, udp, st->id, (int)st->nsubs);
}

void relay_stream_end(struct relay *r, struct conn *c, cJSON *h)
{
	uint64_t seq = rv_json_u64(h, "seq", 0);
	cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "stream");
	struct mstream *st = cJSON_IsNumber(id) ? stream_by_id(r, c, id->valuedouble) : NULL;
	if (!st) {
		send_error(r, c, seq, RV_CODE_NOT_FOUND, NULL);
		return;
	}
	stream_end(r, st, "the sender ended it");
	if (seq)
		reply_ok(r, c, seq, NULL, 0, 0);
}

void relay_watch(struct relay *r, struct conn *c, cJSON *h, int on)
{
	uint64_t seq = rv_json_u64(h, "seq", 0);
	int events = on && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(h, "media"));
	struct relay_ep *ep = relay_ep_of(c);
	cJSON *udp = ep && on && !events ? relay_udp_info(r, c) : NULL;
	if (!ep || (on && !events && !udp)) {
		send_error(r, c, seq, RV_CODE_INTERNAL, NULL);
		return;
	}
	ep->watching = !on ? WATCH_NONE : events ? WATCH_EVENTS : WATCH_MEDIA;
	reply_ok(r, c, seq, udp, 0, 0);
	relay_changed(r);
	/* tell it of the streams already running */
	for (struct mstream *st = r->streams; st; st = st->next)
		refresh(r, st);
}

void relay_conn_closed(struct relay *r, struct conn *c)
{
	struct relay_ep **slot = relay_ep_slot(c), *ep = *slot;
	if (!ep)
		return;
	for (struct mstream *st = r->streams, *next; st; st = next) {
		next = st->next;
		if (st->src == ep) {
			stream_end(r, st, "the sender left");
			continue;
		}
		for (size_t i = 0; i < st->nsubs; i++)
			if (st->subs[i]->rx == ep) {
				sub_free(r, st->subs[i]);
				st->subs[i] = st->subs[--st->nsubs];
				break;
			}
	}
	relay_ep_unregister(r, ep);
	relay_changed(r);
	free(ep);
	*slot = NULL;
}

/* ---- packets ---- */

int relay_test_drop(struct relay *r)
{
	if (r->drop_rate <= 0)
		return 0;
	if ((double)random() / ((double)RAND_MAX + 1.0) >= r->drop_rate)
		return 0;
	r->n.test_drops++;
	return 1;
}

/* RTP and sender reports from the sender: to every receiver. */
static void fan_out(struct relay *r, struct mstream *st, const uint8_t *p, size_t n, int rtp)
{
	if (st->gen != r->gen)
		refresh(r, st);
	st->started = 1;
	st->packets++;
	st->bytes += n;
	for (size_t i = 0; i < st->nsubs; i++) {
		struct sub *s = st->subs[i];
		if (s->rx->watching == WATCH_EVENTS || (rtp && !s->rx->edge && relay_test_drop(r)))
			continue;	/* an edge loses them on its own path (relay_test_drop) */
		if (ep_send(r, s->rx, p, n) < 0) {
			s->drops++;
			st->drops++;
			r->n.drops++;
		} else {
			s->packets++;
		}
	}
}

static struct mstream *stream_of_ssrc(struct relay_ep *ep, uint32_t ssrc, int *which)
{
	for (int k = 0; k < ep->nmine; k++) {
		struct mstream *st = ep->mine[k];
		for (int i = 0; i < st->nssrc; i++)
			if (st->ssrc[i] == ssrc) {
				*which = i;
				return st;
			}
	}
	return NULL;
}

static void seq_seen(struct seqstat *s, uint16_t seq)
{
	s->received++;
	if (!s->init) {
		s->init = 1;
		s->base = s->max = seq;
		return;
	}
	int16_t d = (int16_t)(seq - s->max);
	if (d > 0) {
		if (seq < s->max)
			s->cycles += 65536;
		s->max = seq;
	}
}

/* RTCP that is not the sender's: a receiver's feedback, by the SSRC it was
 * given, back to the stream's sender. */
static void feedback(struct relay *r, struct relay_ep *ep, uint32_t ssrc, const uint8_t *p, size_t n)
{
	struct mstream *st = rv_bmap_get(&r->by_fb, &ssrc);
	for (size_t i = 0; st && i < st->nsubs; i++)
		if (st->subs[i]->fb_ssrc == ssrc && st->subs[i]->rx == ep) {
			r->n.feedback++;
			ep_send(r, st->src, p, n);
			return;
		}
	r->n.unknown++;
}

void relay_packet(struct relay *r, struct relay_ep *ep, const uint8_t *p, size_t n)
{
	struct mstream *st;
	int which;
	if (n < 8 || (p[0] & 0xC0) != 0x80) {
		r->n.unknown++;
		return;
	}
	r->n.packets_in++;
	r->n.bytes_in += n;
	if (!rv_rtp_is_rtcp(p, n)) {
		if (n < RV_RTP_HEADER)
			return;
		if ((st = stream_of_ssrc(ep, rv_rd32(p + 8), &which))) {
			seq_seen(&st->seq[which], rv_rd16(p + 2));
			fan_out(r, st, p, n, 1);
		} else {
			r->n.unknown++;
		}
		return;
	}
	r->n.rtcp_in++;
	/* RTCP: the first packet's sender SSRC is clear text even in SRTCP. */
	uint32_t ssrc = rv_rd32(p + 4);
	if ((st = stream_of_ssrc(ep, ssrc, &which)))	/* the sender's reports */
		fan_out(r, st, p, n, 0);
	else
		feedback(r, ep, ssrc, p, n);
}

/* ---- edges ---- */

struct relay_ep *relay_edge_new(struct relay *r, struct rv_client *as, const struct relay_edge *ops, void *ud)
{
	(void)r;
	struct relay_ep *ep = calloc(1, sizeof *ep);
	if (ep) {
		ep->edge = ops;
		ep->edge_ud = ud;
		ep->client = as;
	}
	return ep;
}

void relay_edge_addr(struct relay *r, struct relay_ep *ep, const struct sockaddr *sa)
{
	relay_ep_register(r, ep, sa);
}

int64_t relay_edge_stream(struct relay *r, struct relay_ep *ep, const char *group, const cJSON *media)
{
	if (!cJSON_IsArray(media) || cJSON_GetArraySize(media) < 1 || cJSON_GetArraySize(media) > MAX_SSRCS ||
	    !rv_id_valid(group))
		return RV_EPROTO;
	if (ep->nmine >= MAX_STREAMS_PER_CONN)
		return RV_ELIMIT;
	struct mstream *st = calloc(1, sizeof *st);
	cJSON *h = cJSON_CreateObject();
	if (!st || !h || !cJSON_AddItemReferenceToObject(h, "media", (cJSON *)media)) {
		free(st);
		cJSON_Delete(h);
		return -ENOMEM;
	}
	if (take_ssrcs(st, media) < 0) {
		free(st);
		cJSON_Delete(h);
		return RV_EPROTO;
	}
	stream_link(r, st, ep, ep->client->id, NULL, group, h);
	cJSON_Delete(h);	/* the reference only: MEDIA stays the caller's */
	rv_info("%s: stream %u to #%s (%zu receivers)", ep->client->id, st->id, group, st->nsubs);
	return st->id;
}

int relay_edge_watch(struct relay *r, struct relay_ep *ep, const char *group, const char *from)
{
	if (ep->watch_group || !(ep->watch_group = strdup(group)) || (from && !(ep->watch_from = strdup(from))) ||
	    rv_grow((void **)&r->viewers, &r->viewercap, r->nviewers + 1, sizeof *r->viewers) < 0)
		return -ENOMEM;
	r->viewers[r->nviewers++] = ep;
	relay_changed(r);
	for (struct mstream *st = r->streams; st; st = st->next)	/* those running */
		refresh(r, st);
	return 0;
}

const cJSON *relay_group_media(const struct relay *r, const char *group, const char *from)
{
	for (const struct mstream *st = r->streams; st; st = st->next) {	/* newest first */
		const struct rv_client *c = relay_ep_client(st->src);
		if (st->group && !strcmp(st->group, group) && (!from || (c && !strcmp(c->id, from))))
			return cJSON_GetObjectItemCaseSensitive(st->announce, "media");
	}
	return NULL;
}

void relay_edge_packet(struct relay *r, struct relay_ep *ep, const uint8_t *p, size_t n)
{
	relay_packet(r, ep, p, n);
}

void relay_edge_free(struct relay *r, struct relay_ep *ep)
{
	if (!ep)
		return;
	while (ep->nmine)
		stream_end(r, ep->mine[0], "the sender left");
	for (size_t i = 0; i < r->nviewers; i++)
		if (r->viewers[i] == ep) {
			r->viewers[i] = r->viewers[--r->nviewers];
			break;
		}
	for (struct mstream *st = r->streams; st; st = st->next) {	/* its subscriptions */
		for (int i = 0; i < st->npipes; i++)
			if (st->pipes[i] == ep) {
				st->pipes[i] = st->pipes[--st->npipes];
				break;
			}
		for (size_t i = 0; i < st->nsubs; i++)
			if (st->subs[i]->rx == ep) {
				sub_free(r, st->subs[i]);
				st->subs[i] = st->subs[--st->nsubs];
				break;
			}
	}
	free(ep->watch_group);
	free(ep->watch_from);
	relay_ep_unregister(r, ep);
	relay_changed(r);
	free(ep);
}

void relay_tcp_in(struct relay *r, struct conn *c, const uint8_t *p, size_t n)
{
	struct relay_ep *ep = *relay_ep_slot(c);
	if (!ep) {
		r->n.unknown++;
		return;
	}
	relay_packet(r, ep, p, n);
	relay_udp_flush(r);	/* P lives only as long as this frame */
}

/* ---- pipes: streams across cluster nodes (cluster_pipe.c) ---- */

static struct mstream *stream_find(struct relay *r, uint32_t id)
{
	for (struct mstream *st = r->streams; st; st = st->next)
		if (st->id == id)
			return st;
	return NULL;
}

uint32_t relay_conn_newest(struct relay *r, struct conn *c)
{
	struct relay_ep *ep = *relay_ep_slot(c);
	return r->streams && ep && r->streams->src == ep ? r->streams->id : 0;
}

int relay_pipe_attach(struct relay *r, uint32_t id, struct relay_ep *ep)
{
	struct mstream *st = stream_find(r, id);
	if (!st)
		return RV_ECLOSED;
	if (st->npipes >= RELAY_PIPES)
		return RV_ELIMIT;
	st->pipes[st->npipes++] = ep;
	relay_changed(r);
	refresh(r, st);
	return 0;
}

void relay_each_sent(struct relay *r, void (*fn)(void *ud, uint32_t id, const char *to, const char *group),
		     void *ud)
{
	for (struct mstream *st = r->streams; st; st = st->next)
		if (!st->piped && st->src->c && (st->to || st->group))
			fn(ud, st->id, st->to, st->group);
}

int64_t relay_pipe_stream(struct relay *r, struct relay_ep *ep, const cJSON *announce, const char *to,
			  const char *group)
{
	const cJSON *media = cJSON_GetObjectItemCaseSensitive(announce, "media");
	if (!cJSON_IsArray(media) || cJSON_GetArraySize(media) < 1 || cJSON_GetArraySize(media) > MAX_SSRCS ||
	    (to && !rv_id_valid(to)) || (group && !rv_id_valid(group)) || (!to && !group))
		return RV_EPROTO;
	if (ep->nmine >= MAX_STREAMS_PER_CONN)
		return RV_ELIMIT;
	struct mstream *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	if (take_ssrcs(st, media) < 0) {
		free(st);
		return RV_EPROTO;
	}
	st->piped = 1;
	stream_link(r, st, ep, ep->client->id, to, group, announce);
	rv_info("%s: stream %u from another node to %s%s (%zu receivers)", ep->client->id, st->id,
		group ? "#" : "", to ? to : group, st->nsubs);
	return st->id;
}

void relay_pipe_feedback(struct relay *r, struct relay_ep *ep, uint32_t id, const uint8_t *p, size_t n)
{
	struct mstream *st = stream_find(r, id);
	for (size_t i = 0; st && n >= 8 && rv_rtp_is_rtcp(p, n) && i < st->nsubs; i++)
		if (st->subs[i]->rx == ep) {
			r->n.rtcp_in++;
			r->n.feedback++;
			ep_send(r, st->src, p, n);
			return;
		}
	r->n.unknown++;
}

void relay_pipe_keyframe(struct relay *r, uint32_t id)
{
	struct mstream *st = stream_find(r, id);
	if (st && st->started)
		request_keyframe(r, st);
}
