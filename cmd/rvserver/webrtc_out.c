/* webrtc_out.c - a WHEP viewer's media: the group's streams, as the relay
 * hands them to the viewer's edge, sent to the browser; and the browser's
 * RTCP turned back into the sources' terms.
 *
 * A viewer follows one source per kind, the newest stream with the codec
 * its answer negotiated (others are left, and logged). Each packet is
 * copied once, given our SSRC (the answer's a=ssrc), the browser's payload
 * type, and sequence numbers and timestamps that go on across a change of
 * source, then protected with the session's SRTP key. The source's sender
 * reports go along with the same rewriting, so the browser lines audio up
 * with video by the source's own clock. The browser's PLI or FIR becomes a
 * PLI to the source. The last CACHE_SLOTS video packets of the leg are kept
 * as they were sent (rewritten, in the clear): the browser's NACK is
 * answered from them, protected again and resent on the same SSRC (no RTX:
 * RFC 4585 6.2.1), and only what the cache no longer has is asked of the
 * source, in its sequence numbers. The browser's receiver reports stay
 * here.
 *
 * What the viewers of one source share (struct wsrc): its SRTP contexts and
 * its last packet in the clear, so a packet is decrypted once for all its
 * viewers. Their packets to the browsers are protected in slots of W->tx
 * and go out with the UDP port's batch (one sendmmsg for many viewers, not
 * one sendto each): a slot lives until the batch is flushed, which happens
 * after each read of the UDP port, when TX_SLOTS are taken, or when the
 * batch is full. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "log.h"
#include "rtp.h"
#include "server.h"
#include "srtp.h"
#include "webrtc_int.h"

#define VIDEO_STEP 3000              /* RTP ticks between sources: a 30 fps frame */
#define AUDIO_STEP 960               /* and a 20 ms Opus frame */
#define G711_STEP 160                /* or 20 ms of G.711 */
#define CACHE_SLOTS 256              /* video packets kept for NACKs: a second at 2.5 Mbit/s */
#define TX_SLOTS 256                 /* viewers' packets in one UDP batch, at most */
#define TX_SLOT (WSRC_MAX_PACKET + RV_SRTP_MAX_TRAILER)

static struct wout *out_of_src(struct wsess *s, uint32_t ssrc)
{
	for (int k = 0; k < 2; k++)
		if (s->tx[k].src_ssrc && s->tx[k].src_ssrc == ssrc)
			return &s->tx[k];
	return NULL;
}

static struct wout *out_of_ours(struct wsess *s, uint32_t ssrc)
{
	for (int k = 0; k < 2; k++)
		if (s->tx[k].ssrc == ssrc && s->tx[k].src_ssrc)
			return &s->tx[k];
	return NULL;
}

/* RTCP from this viewer to the source of K (P has room for the trailer):
 * protected with the source's key when it has one, as its receivers do. */
static void to_source(struct wsess *s, struct wout *k, uint8_t *p, size_t n)
{
	if (k->src && rv_srtp_protect(k->src->out, p, &n) < 0)
		return;
	wsess_to_relay(s, p, n);
}

/* A PLI from this viewer to the source of K. */
static void ask_keyframe(struct wsess *s, struct wout *k)
{
	uint8_t pli[32 + RV_SRTP_MAX_TRAILER];
	int n = rv_rtcp_build_pli(pli, 32, k->fb_ssrc, k->src_ssrc);
	if (n > 0)
		to_source(s, k, pli, (size_t)n);
}

/* ---- what the viewers of a source share ---- */

/* A viewer lets go of C; the last one frees it. */
static void src_put(struct webrtc *w, struct wsrc *c)
{
	if (!c || --c->refs)
		return;
	for (struct wsrc **pp = &w->srcs; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	rv_srtp_free(c->in);
	rv_srtp_free(c->out);
	free(c);
}

/* Stream ID's shared state, keyed with SUITE and KEY (base64) when it is
 * new: a reference, or NULL when the key is unusable or without memory. */
static struct wsrc *src_get(struct webrtc *w, uint32_t id, const char *suite, const char *key)
{
	struct wsrc *c;
	for (c = w->srcs; c; c = c->next)
		if (c->stream == id) {
			c->refs++;
			return c;
		}
	int su = rv_srtp_suite(suite);
	if (!su || !key || !(c = calloc(1, sizeof *c)))
		return NULL;
	if (rv_srtp_new(&c->in, su, key, 0) < 0 || rv_srtp_new(&c->out, su, key, 1) < 0) {
		rv_srtp_free(c->in);
		free(c);
		return NULL;
	}
	c->stream = id;
	c->refs = 1;
	c->next = w->srcs;
	w->srcs = c;
	return c;
}

/* What tells the source's packet P (N bytes) apart, into ID: its head (RTP
 * or RTCP header: SSRC, sequence number, timestamp, or the SRTCP's) and its
 * tail, which ends in the authentication tag over all of it. Another
 * packet of the source with the same length and the same ID would need a
 * tag that collides: it is the same packet. (Only packets that passed
 * authentication are remembered.) */
static void packet_id(const uint8_t *p, size_t n, uint8_t id[32])
{
	memset(id, 0, 32);
	memcpy(id, p, n < 16 ? n : 16);
	if (n > 16)
		memcpy(id + 16, p + (n < 32 ? 16 : n - 16), n < 32 ? n - 16 : 16);
}

/* The source's packet P (N bytes, at most WSRC_MAX_PACKET) in the clear
 * into BUF: its length, or 0 when it fails authentication. The relay hands
 * the same packet to each viewer in turn: the first decrypts it. */
static size_t source_clear(struct webrtc *w, struct wsrc *c, const uint8_t *p, size_t n, uint8_t *buf)
{
	size_t m = n;
	uint8_t id[32];
	packet_id(p, n, id);
	if (c->cn == n && !memcmp(c->id, id, sizeof id)) {
		memcpy(buf, c->p, c->pn);
		return c->pn;
	}
	memcpy(buf, p, n);
	if (rv_srtp_unprotect(c->in, buf, &m) < 0)
		return 0;
	w->n.src_decrypts++;
	c->cn = n;
	memcpy(c->id, id, sizeof id);
	memcpy(c->p, buf, c->pn = m);
	return m;
}

void wout_free(struct wsess *s)
{
	for (int k = 0; k < 2; k++) {
		src_put(W(s->srv), s->tx[k].src);
		s->tx[k].src = NULL;
	}
	rv_rtpcache_free(&s->tx[0].cache);
}

void wout_free_all(struct webrtc *w)
{
	while (w->srcs) {
		w->srcs->refs = 1;
		src_put(w, w->srcs);
	}
	free(w->tx);
	w->tx = NULL;
}

/* ---- sending: slots of the UDP batch ---- */

/* Room for one packet to a viewer (TX_SLOT bytes) that lives until the UDP
 * batch goes out, or NULL without memory. A full batch (of slots, or of
 * the port's queue, which would flush with the packet half queued) goes
 * out first. */
static uint8_t *tx_slot(struct server *srv)
{
	struct webrtc *w = W(srv);
	if (!w->tx && !(w->tx = malloc((size_t)TX_SLOTS * TX_SLOT)))
		return NULL;
	if (w->tx_used == TX_SLOTS || srv->udpq.n == srv->udpq.cap)
		relay_udp_flush(&srv->relay);
	return w->tx_used < TX_SLOTS ? w->tx + w->tx_used * TX_SLOT : NULL;
}

/* The RTP packet P (in the clear, in the slot tx_slot gave) to the browser,
 * unless --drop-rate loses it on the way (after the cache, as a path
 * would); the slot is taken when the packet waits in the batch. */
static void send_leg(struct wsess *s, uint8_t *p, size_t n)
{
	struct webrtc *w = W(s->srv);
	if (!relay_test_drop(&s->srv->relay) && wsess_queue_srtp(s, p, n))
		w->tx_used = (size_t)(p - w->tx) / TX_SLOT + 1;
}

/* K takes the SRTP key of stream ID from its announcement, if any (no key:
 * the stream is in the clear): 0, or -1 with K as it was. */
static int take_keys(struct webrtc *w, struct wout *k, const cJSON *announce, uint32_t id)
{
	const cJSON *srtp = cJSON_GetObjectItemCaseSensitive(announce, "srtp");
	struct wsrc *c = NULL;
	if (srtp) {
		const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(srtp, "key"));
		const char *suite = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(srtp, "suite"));
		if (!(c = src_get(w, id, suite, key)))
			return -1;
	}
	src_put(w, k->src);
	k->src = c;
	return 0;
}

void wout_keyframe(struct wsess *s)
{
	if (s->tx[0].src_ssrc)
		ask_keyframe(s, &s->tx[0]);
}

void wout_stream(struct wsess *s, const cJSON *announce, uint32_t fb_ssrc)
{
	const cJSON *m, *id = cJSON_GetObjectItemCaseSensitive(announce, "stream");
	const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(announce, "from"));
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(announce, "media")) {
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "kind"));
		const char *codec = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "codec"));
		const cJSON *ssrc = cJSON_GetObjectItemCaseSensitive(m, "ssrc");
		struct wout *k = !kind ? NULL : !strcmp(kind, "video") ? &s->tx[0] : !strcmp(kind, "audio") ? &s->tx[1]
															 : NULL;
		if (!k || !k->codec[0] || !codec || !cJSON_IsNumber(ssrc) || !cJSON_IsNumber(id))
			continue;
		if (strcasecmp(codec, k->codec)) {
			rv_info("webrtc %s: %s from %s is %s, this viewer takes %s: not sent", s->client->id, kind,
				from ? from : "?", codec, k->codec);
			continue;
		}
		if (take_keys(W(s->srv), k, announce, (uint32_t)id->valuedouble) < 0) {
			rv_info("webrtc %s: %s from %s has an SRTP key this server cannot use: not sent",
				s->client->id, kind, from ? from : "?");
			continue;
		}
		k->src_ssrc = (uint32_t)ssrc->valuedouble;
		k->stream = (uint32_t)id->valuedouble;
		k->fb_ssrc = fb_ssrc;
		k->rebase = 1;
		rv_debug("webrtc %s: %s from %s (stream %u)", s->client->id, kind, from ? from : "?", k->stream);
	}
	if (s->state == W_UP)
		wout_keyframe(s);
}

void wout_stream_end(struct wsess *s, uint32_t id)
{
	for (int k = 0; k < 2; k++)
		if (s->tx[k].src_ssrc && s->tx[k].stream == id) {
			s->tx[k].src_ssrc = 0;
			src_put(W(s->srv), s->tx[k].src);
			s->tx[k].src = NULL;
		}
}

/* Sequence numbers and timestamps on from the last sent (or the source's own
 * for the first source). */
static void rebase(struct wout *k, int video, uint16_t seq, uint32_t ts)
{
	uint16_t oseq = k->started ? (uint16_t)(k->last_seq + 1) : seq;
	uint32_t step = video ? VIDEO_STEP : strcmp(k->codec, "opus") ? G711_STEP : AUDIO_STEP;
	uint32_t ots = k->started ? k->last_ts + step : ts;
	k->seq_off = (uint16_t)(oseq - seq);
	k->ts_off = ots - ts;
	k->rebase = 0;
}

static void send_rtp(struct wsess *s, struct wout *k, const uint8_t *p, size_t n)
{
	uint8_t *buf;
	if (n > WSRC_MAX_PACKET || !(buf = tx_slot(s->srv)))
		return;
	if (!k->src)
		memcpy(buf, p, n);
	else if (!(n = source_clear(W(s->srv), k->src, p, n, buf)))
		return;
	uint16_t seq = rv_rd16(buf + 2);
	uint32_t ts = rv_rd32(buf + 4);
	if (k->rebase)
		rebase(k, k == &s->tx[0], seq, ts);
	buf[1] = (uint8_t)((buf[1] & 0x80) | (k->pt & 0x7F));
	k->last_seq = (uint16_t)(seq + k->seq_off);
	k->last_ts = ts + k->ts_off;
	rv_wr16(buf + 2, k->last_seq);
	rv_wr32(buf + 4, k->last_ts);
	rv_wr32(buf + 8, k->ssrc);
	k->started = 1;
	k->packets++;
	k->bytes += n;
	W(s->srv)->n.packets_out++;
	W(s->srv)->n.bytes_out += n;
	if (k == &s->tx[0] && (k->cache.n || rv_rtpcache_init(&k->cache, CACHE_SLOTS) == 0))
		rv_rtpcache_put(&k->cache, buf, n);	/* without memory: the source answers */
	send_leg(s, buf, n);
}

/* The source's sender report, alone, in our terms. */
static void send_sr(struct wsess *s, struct wout *k, const struct rv_rtcp *c)
{
	struct rv_rtcp_sr sr;
	uint8_t buf[64 + RV_SRTP_MAX_TRAILER];
	if (!k->started || rv_rtcp_parse_sr(c, &sr) < 0)
		return;
	sr.ssrc = k->ssrc;
	sr.rtp_ts += k->ts_off;
	int n = rv_rtcp_build_sr(buf, 64, &sr);
	if (n > 0)
		wsess_send_srtp(s, buf, (size_t)n);
}

void wout_packet(struct wsess *s, const uint8_t *p, size_t n)
{
	if (s->state != W_UP || n < RV_RTP_HEADER)
		return;
	if (!rv_rtp_is_rtcp(p, n)) {
		struct wout *k = out_of_src(s, rv_rd32(p + 8));
		if (k)
			send_rtp(s, k, p, n);
		return;
	}
	/* the sender's reports: in the clear only after the source's key */
	struct wout *k = out_of_src(s, rv_rd32(p + 4));
	uint8_t buf[WSRC_MAX_PACKET];
	struct rv_rtcp c;
	size_t off = 0;
	if (!k || n > sizeof buf)
		return;
	if (!k->src)
		memcpy(buf, p, n);
	else if (!(n = source_clear(W(s->srv), k->src, p, n, buf)))	/* once for all: the context is shared */
		return;
	while (rv_rtcp_next(buf, n, &off, &c) == 1)
		if (c.type == RV_RTCP_SR && (k = out_of_src(s, c.sender_ssrc)))
			send_sr(s, k, &c);
}

struct nack {
	struct wsess *s;
	struct wout *k;
	uint16_t seqs[256];              /* not in the cache: the source's numbers */
	size_t n;
};

/* Packet SEQ (ours) again from the cache, else noted for the source. */
static void nack_one(void *ud, uint16_t seq)
{
	struct nack *a = ud;
	uint8_t *buf;
	const uint8_t *p;
	size_t len;
	switch (rv_rtpcache_resend(&a->k->cache, seq, now_ms(a->s->srv), &p, &len)) {
	case RV_RTPCACHE_SEND:
		if (len > WSRC_MAX_PACKET || !(buf = tx_slot(a->s->srv)))
			break;
		memcpy(buf, p, len);
		a->k->retransmits++;
		W(a->s->srv)->n.retransmits++;
		send_leg(a->s, buf, len);
		break;
	case RV_RTPCACHE_MISS:
		if (a->n < sizeof a->seqs / sizeof a->seqs[0])
			a->seqs[a->n++] = (uint16_t)(seq - a->k->seq_off);
		break;
	default:	/* sent again a moment ago, or past the leg's resend budget */
		W(a->s->srv)->n.retransmits_limited++;
	}
}

void wout_rtcp(struct wsess *s, const uint8_t *p, size_t n)
{
	struct rv_rtcp c;
	size_t off = 0;
	while (rv_rtcp_next(p, n, &off, &c) == 1) {
		struct wout *k = out_of_ours(s, c.media_ssrc);
		if (!k)
			continue;
		if (c.type == RV_RTCP_PSFB && (c.fmt == 1 || c.fmt == 4)) {	/* PLI, FIR */
			s->plis++;
			W(s->srv)->n.plis++;
			ask_keyframe(s, k);
		} else if (c.type == RV_RTCP_RTPFB && c.fmt == 1) {	/* generic NACK */
			struct nack a = { .s = s, .k = k };
			uint8_t buf[1200 + RV_SRTP_MAX_TRAILER];
			s->nacks++;
			W(s->srv)->n.nacks_in++;
			rv_rtcp_nack_each(&c, nack_one, &a);
			W(s->srv)->n.nacks_to_sources += a.n;
			int len = a.n ? rv_rtcp_build_nack(buf, 1200, k->fb_ssrc, k->src_ssrc, a.seqs, a.n) : 0;
			if (len > 0)
				to_source(s, k, buf, (size_t)len);
		}
	}
}
