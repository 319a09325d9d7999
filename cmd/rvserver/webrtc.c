/* webrtc.c - rvserver's WebRTC sessions (see webrtc.h): ICE-lite checks,
 * the DTLS handshake and its timer, SRTP; the media of a publisher is
 * webrtc_in.c's, of a viewer webrtc_out.c's, both through an edge of the
 * relay. The HTTP side is whip.c; the numbers are webrtc_stats.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bytes.h"
#include "dgram.h"
#include "dtls.h"
#include "err.h"
#include "ice.h"
#include "log.h"
#include "metrics.h"
#include "rtp.h"
#include "server.h"
#include "srtp.h"
#include "stun.h"
#include "token.h"
#include "webrtc_int.h"
#include "wsdp.h"

/* ---- candidates ---- */

static void add_cand(struct webrtc *w, const char *ip)
{
	for (int i = 0; i < w->ncands; i++)
		if (!strcmp(w->cands[i], ip))
			return;
	if (w->ncands < WEBRTC_MAX_CANDS)
		snprintf(w->cands[w->ncands++], sizeof w->cands[0], "%s", ip);
}

/* The addresses an answer offers: --public-ip, else the listening address,
 * else every interface's (IPv4, the loopback last). */
static void find_cands(struct webrtc *w, const char *public_ip, const char *listen)
{
	if (public_ip) {
		add_cand(w, public_ip);
		return;
	}
	if (listen && strcmp(listen, "0.0.0.0") && strcmp(listen, "::")) {
		add_cand(w, listen);
		return;
	}
	uv_interface_address_t *ifs;
	int n;
	if (uv_interface_addresses(&ifs, &n) == 0) {
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < n; i++) {
				char ip[INET6_ADDRSTRLEN];
				if (ifs[i].address.address4.sin_family != AF_INET || ifs[i].is_internal != pass)
					continue;
				uv_ip4_name(&ifs[i].address.address4, ip, sizeof ip);
				add_cand(w, ip);
			}
		uv_free_interface_addresses(ifs, n);
	}
	if (!w->ncands)
		add_cand(w, "127.0.0.1");
}

/* ---- sending: a path is a UDP address or a TCP connection ---- */

struct wtcp *wsess_tcp_path(const struct wsess *s, const struct sockaddr *to, socklen_t len)
{
	for (int i = 0; i < WSESS_TCP; i++)
		if (s->tcp[i].len == len && !memcmp(&s->tcp[i].addr, to, len))
			return (struct wtcp *)&s->tcp[i];
	return NULL;
}

/* P to TO: framed on C (ICE over TCP), or over UDP when C is NULL. A TCP
 * path past half its queue cap loses the packet, as a congested UDP path
 * would. */
static void send_on(struct server *srv, struct conn *c, const struct sockaddr *to, const uint8_t *p, size_t n)
{
	uint8_t head[RV_DGRAM_HEAD];
	if (!c) {
		relay_udp_send(&srv->relay, p, n, to);
		return;
	}
	if (c->closing)
		return;
	if (rv_stream_queued(&c->s) > srv->conf.max_queue / 2) {
		W(srv)->n.tcp_drops++;
		return;
	}
	rv_dgram_head(head, n);
	conn_sendv(c, head, sizeof head, p, n);
}

static void send_to_peer(struct wsess *s, const uint8_t *p, size_t n)
{
	socklen_t len;
	const struct sockaddr *to = rv_ice_selected(s->ice, &len);
	struct wtcp *t = to ? wsess_tcp_path(s, to, len) : NULL;
	if (to && (!t || t->c))	/* a TCP path whose connection closed is gone */
		send_on(s->srv, t ? t->c : NULL, to, p, n);
}

/* What the DTLS engine has to send, out now. */
static void dtls_flush(struct wsess *s)
{
	uint8_t d[RV_DTLS_MTU];
	ssize_t n;
	while ((n = rv_dtls_take(s->dtls, d, sizeof d)) > 0)
		send_to_peer(s, d, (size_t)n);
}

void wsess_send_srtp(struct wsess *s, uint8_t *p, size_t n)
{
	if (s->state != W_UP || rv_srtp_protect(s->out, p, &n) < 0)
		return;
	send_to_peer(s, p, n);
}

int wsess_queue_srtp(struct wsess *s, uint8_t *p, size_t n)
{
	socklen_t len;
	const struct sockaddr *to;
	if (s->state != W_UP || rv_srtp_protect(s->out, p, &n) < 0 || !(to = rv_ice_selected(s->ice, &len)))
		return 0;
	struct wtcp *t = wsess_tcp_path(s, to, len);
	if (t) {	/* framed on its connection, which copies; gone with it */
		if (t->c)
			send_on(s->srv, t->c, to, p, n);
		return 0;
	}
	/* S stands for its path: the batch goes out before a path moves (ice_check) */
	relay_udp_queue(&s->srv->relay, s, to, len, p, n);
	return 1;
}

void webrtc_udp_flushed(struct server *srv)
{
	if (W(srv))
		wout_flushed(W(srv));
}

/* ---- the timer: DTLS retransmissions, ICE deadlines ---- */

static void on_timer(uv_timer_t *t);

static void rearm(struct wsess *s)
{
	if (s->state == W_CLOSED)
		return;
	uint64_t now = now_ms(s->srv), due = rv_ice_next_ms(s->ice);
	int64_t d = s->state == W_DTLS ? rv_dtls_timeout_ms(s->dtls) : -1;
	if (d >= 0 && now + (uint64_t)d < due)
		due = now + (uint64_t)d;
	if (s->state == W_DTLS && s->dtls_due < due)
		due = s->dtls_due;
	if (s->state == W_UP && s->rtcp_due && s->rtcp_due < due)
		due = s->rtcp_due;
	uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

static void fail(struct wsess *s, uint64_t *cause, const char *why)
{
	(*cause)++;
	W(s->srv)->n.failures++;
	webrtc_close(s, why);
}

static void on_timer(uv_timer_t *t)
{
	struct wsess *s = t->data;
	struct webrtc *w = W(s->srv);
	if (s->state == W_DTLS && now_ms(s->srv) >= s->dtls_due) {
		char why[80];
		snprintf(why, sizeof why, "DTLS: no handshake within %g s of the first valid check",
			 s->srv->conf.webrtc_consent);
		fail(s, &w->n.fail_dtls, why);
		return;
	}
	if (s->state == W_DTLS && rv_dtls_timeout_ms(s->dtls) == 0) {
		if (rv_dtls_on_timeout(s->dtls) < 0) {
			dtls_flush(s);
			fail(s, &w->n.fail_dtls, "DTLS: no answer to the handshake");
			return;
		}
		rv_debug("webrtc %s: DTLS: no answer yet, the handshake flight again", s->client->id);
		dtls_flush(s);
	}
	win_tick(s, now_ms(s->srv));
	if (rv_ice_tick(s->ice, now_ms(s->srv)) < 0) {
		char why[64];
		snprintf(why, sizeof why, "ICE: consent lost (no check for %g s)", s->srv->conf.webrtc_consent);
		fail(s, &w->n.fail_ice, s->state == W_ICE ? "ICE: no valid check within 10 s of the offer" : why);
		return;
	}
	rearm(s);
}

/* ---- media ---- */

static void media_in(struct wsess *s, uint8_t *p, size_t n)
{
	struct webrtc *w = W(s->srv);
	if (s->state != W_UP || n < 12) {
		s->early++;
		return;
	}
	if (rv_srtp_unprotect(s->in, p, &n) < 0) {
		s->srtp_fails++;
		w->n.srtp_fails++;
		return;
	}
	s->packets++;
	s->bytes += n;
	w->n.packets_in++;
	w->n.bytes_in += n;
	if (!s->viewer)
		win_media(s, p, n);
	else if (rv_rtp_is_rtcp(p, n))	/* a viewer sends only RTCP: reports, PLI, NACK */
		wout_rtcp(s, p, n);
}

/* The handshake is done: the peer must be who the offer said, then keys. */
static void dtls_up(struct wsess *s)
{
	struct webrtc *w = W(s->srv);
	struct rv_dtls_srtp k;
	if (rv_dtls_fingerprint_check(s->dtls, s->fp) != 0) {
		fail(s, &w->n.fail_fingerprint, "DTLS: the certificate does not match the offer's fingerprint");
		return;
	}
	int rc = rv_dtls_srtp_keys(s->dtls, &k);
	if (rc == 0 && (rv_srtp_new_raw(&s->in, k.suite, k.remote, k.len, 0) < 0 ||
			rv_srtp_new_raw(&s->out, k.suite, k.local, k.len, 1) < 0))
		rc = RV_ETLS;
	OPENSSL_cleanse(&k, sizeof k);
	if (rc < 0) {
		fail(s, &w->n.fail_keys, "DTLS: no SRTP keys (the peer offered no use_srtp profile we take)");
		return;
	}
	s->state = W_UP;
	w->n.handshakes++;
	rv_info("webrtc %s: connected in %llu ms, %s #%s", s->client->id,
		(unsigned long long)(now_ms(s->srv) - s->created_ms), s->viewer ? "watching" : "publishing to",
		s->group);
	if (s->viewer)
		wout_keyframe(s);	/* its picture starts at once */
	else
		win_up(s);
}

static void dtls_in(struct wsess *s, const uint8_t *p, size_t n)
{
	if (s->state != W_DTLS && s->state != W_UP)
		return;
	int rc = rv_dtls_feed(s->dtls, p, n);
	dtls_flush(s);
	if (rv_dtls_state(s->dtls) == RV_DTLS_CLOSED) {
		W(s->srv)->n.closed_by_peer++;
		webrtc_close(s, "the peer closed (DTLS close_notify)");
		return;
	}
	if (rc == RV_ETLS) {
		fail(s, &W(s->srv)->n.fail_dtls, rv_dtls_errstr(s->dtls));
		return;
	}
	if (s->state == W_DTLS && rv_dtls_state(s->dtls) == RV_DTLS_CONNECTED)
		dtls_up(s);
	rearm(s);
}

/* relay_edge: a datagram from the selected path. */
static void edge_datagram(void *ud, uint8_t *p, size_t n, const struct sockaddr *from)
{
	struct wsess *s = ud;
	(void)from;
	if (s->state == W_CLOSED)
		return;
	switch (rv_dtls_demux(p, n)) {
	case RV_DEMUX_DTLS: dtls_in(s, p, n); break;
	case RV_DEMUX_RTP: media_in(s, p, n); break;
	default: break;
	}
}

/* relay_edge: a receiver's RTCP for a publisher's stream; a viewer's
 * media. */
static void edge_packet(void *ud, const uint8_t *p, size_t n)
{
	struct wsess *s = ud;
	if (s->viewer)
		wout_packet(s, p, n);
	else
		win_feedback(s, p, n);
}

static void edge_stream(void *ud, const cJSON *announce, uint32_t fb_ssrc)
{
	wout_stream(ud, announce, fb_ssrc);
}

static void edge_stream_end(void *ud, uint32_t id)
{
	wout_stream_end(ud, id);
}

/* relay_edge: a receiver joined: a PLI (RFC 4585 6.3.1) for each video track. */
static void edge_keyframe(void *ud, uint32_t id)
{
	(void)id;
	win_keyframe(ud);
}

static const struct relay_edge edge_ops = { edge_datagram, edge_packet, edge_keyframe, edge_stream,
					    edge_stream_end };

void wsess_to_relay(struct wsess *s, const uint8_t *p, size_t n)
{
	relay_edge_packet(&s->srv->relay, s->edge, p, n);
	relay_udp_flush(&s->srv->relay);	/* P is the caller's, and short-lived */
}

/* ---- ICE ---- */

/* C carried S's valid check: it is one of S's paths from now on (with no
 * room, the oldest closed one makes it). */
static void tcp_bind(struct wsess *s, struct conn *c, const struct sockaddr *from, socklen_t flen)
{
	struct wtcp *t = NULL;
	for (int i = 0; i < WSESS_TCP && !t; i++)
		if (!s->tcp[i].len)
			t = &s->tcp[i];
	for (int i = 0; i < WSESS_TCP && !t; i++)
		if (!s->tcp[i].c)
			t = &s->tcp[i];
	if (!t)
		return;	/* four live connections: the fifth answers checks only */
	t->c = c;
	memcpy(&t->addr, from, flen);
	t->len = flen;
	c->wsess = s;
	W(s->srv)->n.tcp_paths++;
}

/* A STUN request whose USERNAME is "ours:theirs" from FROM, over UDP (C
 * NULL) or framed on C: 1 when taken, 0 when it is no ICE check. */
static int ice_check(struct server *srv, const uint8_t *p, size_t n, const struct sockaddr *from, struct conn *c)
{
	struct webrtc *w = W(srv);
	char ufrag[RV_ICE_UFRAG_LEN + 8];
	if (rv_ice_local_ufrag(p, n, ufrag, sizeof ufrag) < 0)
		return 0;	/* rv's own Binding */
	struct wsess *s = rv_map_get(&w->by_ufrag, ufrag);
	w->n.ice_checks++;
	if (!s || s->state == W_CLOSED || (c && c->wsess && c->wsess != s)) {
		w->n.ice_refused++;
		return 1;	/* nobody's (or a TCP path's other session): dropped without a word */
	}
	uint8_t out[RV_STUN_MAX];
	size_t olen = 0;
	socklen_t flen = from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int ev = rv_ice_feed(s->ice, now_ms(srv), p, n, from, flen, out, sizeof out, &olen);
	if (olen)
		send_on(srv, c, from, out, olen);
	char addr[72];
	relay_addr_text(from, addr, sizeof addr - 8);
	if (c)
		strcat(addr, " (TCP)");
	if (ev > 0 && (ev & RV_ICE_EV_VALID) && c && !c->wsess)
		tcp_bind(s, c, from, flen);
	if (ev < 0) {
		w->n.ice_refused++;
		/* the first refusal tells why a call fails; a flood is not logged at -v */
		if (s->ice_refused++)
			rv_debug("webrtc %s: ICE check from %s refused: %s", s->client->id, addr, rv_ice_errstr(s->ice));
		else
			rv_info("webrtc %s: ICE check from %s refused: %s", s->client->id, addr, rv_ice_errstr(s->ice));
		return 1;
	}
	if (s->old_ufrag[0] && !rv_ice_knows_ufrag(s->ice, s->old_ufrag)) {	/* a check with the new ones */
		rv_map_del(&w->by_ufrag, s->old_ufrag);
		s->old_ufrag[0] = 0;
		rv_info("webrtc %s: ICE restart done: checks come with the new credentials from %s", s->client->id, addr);
	}
	if (ev & RV_ICE_EV_SELECTED) {
		socklen_t sl;
		/* what S queued went to the path before (the batch knows S's
		 * datagrams by S, not by address: they must not meet there) */
		relay_udp_flush(&srv->relay);
		const struct sockaddr *sel = rv_ice_selected(s->ice, &sl);
		if (sel && !c)	/* a TCP path's datagrams come on its connection */
			relay_edge_addr(&srv->relay, s->edge, sel);
		if (!(ev & RV_ICE_EV_FIRST))
			rv_info("webrtc %s: ICE: the path moves to %s (nominated)", s->client->id, addr);
	}
	if ((ev & RV_ICE_EV_FIRST) && s->state == W_ICE) {
		/* a peer that checks but never finishes DTLS is as good as gone:
		 * it gets the consent timeout, not the engine's 38 s */
		s->state = W_DTLS;
		s->dtls_due = now_ms(srv) + (uint64_t)(srv->conf.webrtc_consent * 1000);
		rv_info("webrtc %s: ICE: first valid check from %s after %llu ms; DTLS handshake (client)",
			s->client->id, addr, (unsigned long long)(now_ms(srv) - s->created_ms));
		if (rv_dtls_start(s->dtls) < 0) {
			fail(s, &w->n.fail_dtls, "DTLS: cannot start the handshake");
			return 1;
		}
		dtls_flush(s);
	}
	rearm(s);
	return 1;
}

/* relay->ice_in: a check over UDP. */
static int ice_in(void *ud, const uint8_t *p, size_t n, const struct sockaddr *from)
{
	return ice_check(ud, p, n, from, NULL);
}

void webrtc_tcp_in(struct server *srv, struct conn *c, uint8_t *p, size_t n)
{
	if (!W(srv))
		return;
	if (rv_stun_is(p, n)) {
		struct sockaddr_storage ss;
		int sl = sizeof ss;
		memset(&ss, 0, sizeof ss);
		if (uv_tcp_getpeername(&c->s.tcp, (struct sockaddr *)&ss, &sl) == 0)
			ice_check(srv, p, n, (struct sockaddr *)&ss, c);
		return;
	}
	if (c->wsess) {	/* DTLS or SRTP on its path */
		edge_datagram(c->wsess, p, n, NULL);
		relay_udp_flush(&srv->relay);	/* what it queued points into P */
	}
}

void webrtc_tcp_closed(struct server *srv, struct conn *c)
{
	struct wsess *s = c->wsess;
	(void)srv;
	c->wsess = NULL;
	for (int i = 0; s && i < WSESS_TCP; i++)
		if (s->tcp[i].c == c) {
			s->tcp[i].c = NULL;
			rv_info("webrtc %s: a TCP path closed", s->client->id);
		}
}

/* ---- sessions ---- */

/* The offer's accepted m-lines into S's tracks. */
static int take_tracks(struct wsess *s, const struct rv_wsdp_choice *ch, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!ch[i].accepted || s->ntracks == MAX_TRACKS)
			continue;
		struct wtrack *k = &s->tracks[s->ntracks++];
		snprintf(k->kind, sizeof k->kind, "%s", ch[i].kind);
		snprintf(k->codec, sizeof k->codec, "%s", ch[i].codec);
		k->pt = ch[i].pt;
		k->clock = ch[i].clock;
		k->channels = ch[i].channels;
		k->fb = ch[i].fb;
		k->ssrc = ch[i].remote_ssrc;
	}
	return s->ntracks ? 0 : -1;
}

static void random_hex(char *out, size_t bytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t r[64];
	if (bytes > sizeof r || RAND_bytes(r, (int)bytes) != 1)
		memset(r, 0, sizeof r);
	for (size_t i = 0; i < bytes; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * bytes] = 0;
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

void webrtc_close(struct wsess *s, const char *why)
{
	struct webrtc *w = W(s->srv);
	if (s->state == W_CLOSED)
		return;
	if (s->state == W_UP || s->state == W_DTLS) {
		rv_dtls_close(s->dtls);
		dtls_flush(s);
	}
	s->state = W_CLOSED;
	for (int i = 0; i < WSESS_TCP; i++)	/* its TCP paths close once the close_notify is out */
		if (s->tcp[i].c) {
			s->tcp[i].c->wsess = NULL;
			conn_bye(s->tcp[i].c, RV_CODE_CLOSED, NULL);
			s->tcp[i].c = NULL;
		}
	rv_info("webrtc %s: session ended after %llu ms: %s (%llu packets in, %llu out, %llu before the keys, "
		"%llu failed SRTP, %llu NACKs, %llu PLIs)",
		s->client ? s->client->id : "?", (unsigned long long)(now_ms(s->srv) - s->created_ms), why,
		(unsigned long long)s->packets, (unsigned long long)(s->tx[0].packets + s->tx[1].packets),
		(unsigned long long)s->early, (unsigned long long)s->srtp_fails, (unsigned long long)s->nacks,
		(unsigned long long)s->plis);
	rv_map_del(&w->by_ufrag, s->cred.ufrag);
	if (s->old_ufrag[0])
		rv_map_del(&w->by_ufrag, s->old_ufrag);
	rv_map_del(&w->by_secret, s->secret);
	for (struct wsess **pp = &w->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	w->nsessions--;
	relay_edge_free(&s->srv->relay, s->edge);
	if (s->source)
		cluster_source(s->srv, s->group, -1);
	relay_udp_flush(&s->srv->relay);
	if (s->client)
		rv_router_detach(&s->srv->router, s->client);
	rv_ice_free(s->ice);
	rv_dtls_free(s->dtls);
	rv_srtp_free(s->in);
	rv_srtp_free(s->out);
	wout_free(s);
	uv_close((uv_handle_t *)&s->timer, on_closed);
}

static size_t sessions_from(const struct webrtc *w, const char *ip)
{
	size_t n = 0;
	for (const struct wsess *t = w->sessions; t; t = t->next)
		n += !strcmp(t->ip, ip);
	return n;
}

/* NAME cannot be S's client: another publisher has it. An RV client's
 * name is free (a room page's member publishes and watches as itself), and
 * so is another viewer's. */
static int id_taken(struct server *srv, const struct wsess *s, const char *name)
{
	const struct rv_client *c = rv_router_find(&srv->router, name);
	for (const struct wsess *t = W(srv)->sessions; c && !s->viewer && t; t = t->next)
		if (t->client == c && !t->viewer)
			return 1;
	return 0;
}

/* The session's parts; 0, or a status with ERR. */
static int sess_make(struct server *srv, struct wsess *s, const char *id, const struct rv_wsdp_offer *o,
		     char *err, size_t errlen)
{
	struct webrtc *w = W(srv);
	char name[RV_ID_MAX + 1];
	if (id)
		snprintf(name, sizeof name, "%s", id);
	else
		snprintf(name, sizeof name, "%s-%u", s->viewer ? "whep" : "whip", ++w->last_id);
	if (id_taken(srv, s, name)) {
		snprintf(err, errlen, "%s is already connected", name);
		return 409;
	}
	if (rv_ice_cred_new(&s->cred) < 0 || rv_ice_new(&s->ice, &s->cred, o->media[0].ufrag, now_ms(srv)) < 0 ||
	    rv_ice_set_consent(s->ice, (uint64_t)(srv->conf.webrtc_consent * 1000)) < 0 ||
	    rv_dtls_new(&s->dtls, w->ctx, 0) < 0 || !(s->client = rv_router_attach(&srv->router, name)) ||
	    !(s->edge = relay_edge_new(&srv->relay, s->client, &edge_ops, s))) {
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	random_hex(s->secret, WEBRTC_SECRET_LEN / 2);
	if (RAND_bytes((uint8_t *)&s->own_ssrc, sizeof s->own_ssrc) != 1 || !s->own_ssrc)
		s->own_ssrc = 1;
	if (rv_map_put(&w->by_ufrag, s->cred.ufrag, s) < 0 || rv_map_put(&w->by_secret, s->secret, s) < 0) {
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	return 0;
}

/* A viewer's answer: the video codec of the group's newest stream (else
 * H.264, else VP8), its audio codec when that is G.711 (a WHIP publisher's
 * PCMU or PCMA), else Opus in stereo as rvsend sends it; our SSRCs. */
static long answer_viewer(struct wsess *s, const char *from, const struct rv_wsdp_offer *o,
			  struct rv_wsdp_answer_conf *ac, char *text, struct rv_wsdp_choice *ch, char *err, size_t errlen)
{
	const char *codec = NULL, *acodec = "opus";
	const cJSON *m, *media = relay_group_media(&s->srv->relay, s->group, from);
	cJSON_ArrayForEach(m, media) {
		const cJSON *kind = cJSON_GetObjectItemCaseSensitive(m, "kind");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "codec");
		if (!cJSON_IsString(kind) || !cJSON_IsString(c))
			continue;
		if (!strcmp(kind->valuestring, "video"))
			codec = c->valuestring;
		else if (!strcmp(kind->valuestring, "audio"))
			acodec = !strcmp(c->valuestring, "PCMU") ? "PCMU" : !strcmp(c->valuestring, "PCMA") ? "PCMA" : "opus";
	}
	for (int k = 0; k < 2; k++)
		if (RAND_bytes((uint8_t *)&s->tx[k].ssrc, sizeof s->tx[k].ssrc) != 1 || !s->tx[k].ssrc)
			s->tx[k].ssrc = 1000 + (uint32_t)k;
	ac->role = RV_WSDP_WHEP;
	ac->audio_codecs = acodec;
	ac->opus_stereo = !strcmp(acodec, "opus");
	ac->send_ssrc_video = s->tx[0].ssrc;
	ac->send_ssrc_audio = s->tx[1].ssrc;
	ac->cname = s->client->id;
	ac->msid_stream = s->group;
	ac->video_codecs = codec ? codec : "H264";
	long n = rv_wsdp_answer(o, ac, text, ANSWER_MAX, ch, RV_WSDP_MAX_MEDIA, err, errlen);
	if (n < 0 && !codec) {	/* no stream yet to follow: VP8 then */
		ac->video_codecs = "VP8";
		n = rv_wsdp_answer(o, ac, text, ANSWER_MAX, ch, RV_WSDP_MAX_MEDIA, err, errlen);
	}
	for (int i = 0; n >= 0 && i < o->nmedia && i < RV_WSDP_MAX_MEDIA; i++) {
		struct wout *k = !ch[i].accepted ? NULL : !strcmp(ch[i].kind, "video") ? &s->tx[0]
						  : !strcmp(ch[i].kind, "audio") ? &s->tx[1] : NULL;
		if (k && !k->codec[0]) {
			snprintf(k->codec, sizeof k->codec, "%s", ch[i].codec);
			k->pt = ch[i].pt;
		}
	}
	return n;
}

int webrtc_offer(struct server *srv, const struct webrtc_req *rq, const char *sdp, size_t len, char **answer,
		 size_t *alen, struct wsess **out, char *err, size_t errlen)
{
	struct webrtc *w = W(srv);
	int viewer = rq->viewer;
	const char *group = rq->group;
	struct rv_wsdp_offer *o = NULL;
	struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA] = { 0 };
	if (w->nsessions >= MAX_SESSIONS) {
		snprintf(err, errlen, "too many WebRTC sessions (%d)", MAX_SESSIONS);
		return 503;
	}
	if (rq->ip && srv->conf.webrtc_max_per_ip && sessions_from(w, rq->ip) >= srv->conf.webrtc_max_per_ip) {
		w->n.per_ip_refused++;
		snprintf(err, errlen, "too many WebRTC sessions from %s (%zu)", rq->ip, srv->conf.webrtc_max_per_ip);
		return 429;
	}
	if (rv_wsdp_parse(&o, sdp, len, err, errlen) < 0) {
		w->n.offers_refused++;
		return 400;
	}
	struct rv_wsdp_answer_conf ac = { .role = RV_WSDP_WHIP, .fingerprint = rv_dtls_ctx_fingerprint(w->ctx),
					  .video_codecs = "VP8,H264" };
	struct wsess *s = calloc(1, sizeof *s);
	char *text = malloc(ANSWER_MAX);
	int status = s && text ? 0 : 500;
	if (status)
		snprintf(err, errlen, "out of memory");
	if (!status) {
		s->srv = srv;
		s->viewer = viewer;
		s->created_ms = now_ms(srv);
		snprintf(s->group, sizeof s->group, "%s", group);
		snprintf(s->ip, sizeof s->ip, "%s", rq->ip ? rq->ip : "");
		snprintf(s->fp, sizeof s->fp, "%s", o->media[0].fingerprint);
		/* linked first: a failure below is undone by webrtc_close */
		uv_timer_init(srv->loop, &s->timer);
		s->timer.data = s;
		s->next = w->sessions;
		w->sessions = s;
		w->nsessions++;
		status = sess_make(srv, s, rq->id, o, err, errlen);
	}
	if (!status) {
		ac.ufrag = s->cred.ufrag;
		ac.pwd = s->cred.pwd;
		ac.port = (uint16_t)srv->bound_udp_port;
		ac.tcp_port = (uint16_t)srv->bound_port;
		ac.no_udp = w->no_udp;
		for (int i = 0; i < w->ncands; i++)
			ac.cand_ip[ac.ncand++] = w->cands[i];
		long n = viewer ? answer_viewer(s, rq->from, o, &ac, text, ch, err, errlen)
				: rv_wsdp_answer(o, &ac, text, ANSWER_MAX, ch, RV_WSDP_MAX_MEDIA, err, errlen);
		if (n < 0)
			status = viewer && strstr(err, "stream is") ? 422 : 400;
		else if (!viewer && take_tracks(s, ch, RV_WSDP_MAX_MEDIA) < 0)
			status = 400, snprintf(err, errlen, "no audio or video to publish in the offer");
		else if (viewer && relay_edge_watch(&srv->relay, s->edge, group, rq->from) < 0)
			status = 500, snprintf(err, errlen, "out of memory");
		else
			*alen = (size_t)n;
	}
	rv_wsdp_offer_free(o);
	if (status) {
		w->n.offers_refused++;
		free(text);
		if (s && s->srv)
			webrtc_close(s, err);
		else
			free(s);
		return status;
	}
	w->n.sessions++;
	if (!viewer) {	/* a source from its accepted offer on: why in cluster_home.c */
		s->source = 1;
		cluster_source(srv, group, 1);
	}
	if (viewer)
		rv_info("webrtc %s: WHEP offer for #%s accepted (%s%s%s); waiting for ICE", s->client->id, group,
			s->tx[0].codec, s->tx[0].codec[0] && s->tx[1].codec[0] ? " and " : "", s->tx[1].codec);
	else
		rv_info("webrtc %s: WHIP offer for #%s accepted (%d tracks); waiting for ICE", s->client->id, group,
			s->ntracks);
	rearm(s);
	*answer = text;
	*out = s;
	return 201;
}

/* An ICE restart: new local credentials for S and the peer's new UFRAG; the
 * old local ufrag stays mapped until a check with the new one (lib/ice).
 * The map's keys are S's own strings: cred.ufrag and old_ufrag. */
static int restart(struct wsess *s, const char *ufrag, char *err, size_t errlen)
{
	struct webrtc *w = W(s->srv);
	struct rv_ice_cred nc;
	if (rv_ice_cred_new(&nc) < 0) {
		snprintf(err, errlen, "no random bytes for the new credentials");
		return 500;
	}
	if (rv_ice_restart(s->ice, &nc, ufrag) < 0) {
		snprintf(err, errlen, "the new ice-ufrag is not valid (4 to %d ice-chars)", RV_ICE_REMOTE_MAX);
		return 400;
	}
	if (s->old_ufrag[0])	/* a restart before the last one's first check: that one is forgotten */
		rv_map_del(&w->by_ufrag, s->old_ufrag);
	rv_map_del(&w->by_ufrag, s->cred.ufrag);
	memcpy(s->old_ufrag, s->cred.ufrag, sizeof s->old_ufrag);
	s->cred = nc;
	if (rv_map_put(&w->by_ufrag, s->old_ufrag, s) < 0 || rv_map_put(&w->by_ufrag, s->cred.ufrag, s) < 0) {
		snprintf(err, errlen, "out of memory");
		webrtc_close(s, err);
		return 500;
	}
	w->n.ice_restarts++;
	rv_info("webrtc %s: ICE restart: new credentials %s", s->client->id, nc.ufrag);
	return 200;
}

int webrtc_patch(struct wsess *s, const char *if_match, const char *frag, size_t len, char *out, size_t cap,
		 size_t *olen, char *err, size_t errlen)
{
	char etag[RV_ICE_UFRAG_LEN + 3];
	snprintf(etag, sizeof etag, "\"%s\"", s->cred.ufrag);
	int again = !strcmp(if_match, "*") || !strcmp(if_match, "\"*\"");
	*olen = 0;
	if (!if_match[0]) {
		snprintf(err, errlen, "If-Match required: the ETag for trickled candidates, * for an ICE restart");
		return 428;
	}
	if (!again && strcmp(if_match, etag)) {
		snprintf(err, errlen, "If-Match %.64s is not this session's ETag %s", if_match, etag);
		return 412;
	}
	struct rv_wsdp_offer *o = NULL;
	if (rv_wsdp_parse_frag(&o, frag, len, err, errlen) < 0)
		return 400;
	const char *ufrag = o->nmedia ? o->media[0].ufrag : o->ufrag, *pwd = o->nmedia ? o->media[0].pwd : o->pwd;
	int status = 204;
	if (!again)	/* ICE-lite needs no remote candidates: checks come peer-reflexive */
		W(s->srv)->n.trickles++;
	else if (!ufrag[0] || !pwd[0])
		status = 400, snprintf(err, errlen, "an ICE restart needs the new ice-ufrag and ice-pwd");
	else
		status = restart(s, ufrag, err, errlen);
	rv_wsdp_offer_free(o);
	if (status == 200) {
		int n = snprintf(out, cap, "a=ice-lite\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", s->cred.ufrag, s->cred.pwd);
		*olen = n > 0 && (size_t)n < cap ? (size_t)n : 0;
	}
	return status;
}

int webrtc_links(struct server *srv, const char *user, char links[][WEBRTC_LINK_MAX], int max)
{
	const struct server_conf *c = &srv->conf;
	struct webrtc *w = W(srv);
	char name[128], pass[RV_TURN_REST_PASS_MAX];
	int n = 0, creds = w && w->turn_secret_len &&
			   rv_turn_rest(w->turn_secret, w->turn_secret_len, user, (int64_t)(wall_ms() / 1000) +
					(int64_t)c->turn_ttl, name, sizeof name, pass) == 0;
	for (int i = 0; i < c->nice && n < max; i++) {
		int k = snprintf(links[n], WEBRTC_LINK_MAX, "Link: <%s>; rel=\"ice-server\"", c->ice[i]);
		if (creds && rv_ice_uri_turn(c->ice[i]))
			k = snprintf(links[n] + k, WEBRTC_LINK_MAX - (size_t)k,
				     "; username=\"%s\"; credential=\"%s\"; credential-type=\"password\"", name, pass);
		n += k > 0 && k < WEBRTC_LINK_MAX;
	}
	return n;
}

struct wsess *webrtc_find(struct server *srv, const char *secret)
{
	return W(srv) ? rv_map_get(&W(srv)->by_secret, secret) : NULL;
}

const char *webrtc_secret(const struct wsess *s) { return s->secret; }
const char *webrtc_etag(const struct wsess *s) { return s->cred.ufrag; }
const char *webrtc_id(const struct wsess *s) { return s->client ? s->client->id : "?"; }
const char *webrtc_group(const struct wsess *s) { return s->group; }
int webrtc_viewer(const struct wsess *s) { return s->viewer; }

/* ---- the server's side ---- */

int webrtc_start(struct server *srv, const char *public_ip)
{
	struct evp_pkey_st *key = NULL;
	char err[256] = "";
	struct webrtc *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	srv->webrtc = w;
	rv_map_init(&w->by_ufrag);
	rv_map_init(&w->by_secret);
	int rc = rv_dtls_key_p256(&key);
	if (rc == 0)
		rc = rv_dtls_ctx_new(&w->ctx, key, 1, err, sizeof err);
	EVP_PKEY_free(key);
	if (rc < 0) {
		rv_error("WebRTC: cannot make the DTLS identity: %s", err[0] ? err : rv_strerror(rc));
		return rc;
	}
	const char *tsf = srv->conf.turn_secret_file;
	if (tsf && (rc = rv_secret_read(tsf, w->turn_secret, sizeof w->turn_secret, &w->turn_secret_len)) < 0) {
		rv_error("cannot read --turn-secret-file %s: %s", tsf, rc == -EINVAL ? "empty" : rv_strerror(rc));
		return rc;
	}
	find_cands(w, public_ip, srv->conf.listen);
	const char *no_udp = getenv("RV_TEST_NO_UDP_CANDIDATES");	/* test only: a network without UDP */
	w->no_udp = no_udp && *no_udp && strcmp(no_udp, "0");
	if (w->no_udp)
		rv_warn("RV_TEST_NO_UDP_CANDIDATES: answers offer TCP candidates only (a test setting)");
	srv->relay.ice_in = ice_in;
	srv->relay.ice_ud = srv;
	char list[WEBRTC_MAX_CANDS * 66] = "";
	for (int i = 0; i < w->ncands; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", w->cands[i]);
	rv_debug("WebRTC: DTLS fingerprint sha-256 %s; candidates %s (UDP port %d%s, TCP port %d passive)",
		 rv_dtls_ctx_fingerprint(w->ctx), list, srv->bound_udp_port, w->no_udp ? " not offered" : "",
		 srv->bound_port);
	return 0;
}

void webrtc_stop(struct server *srv)
{
	struct webrtc *w = W(srv);
	while (w && w->sessions)
		webrtc_close(w->sessions, "the server is stopping");
}

void webrtc_free(struct server *srv)
{
	struct webrtc *w = W(srv);
	if (!w)
		return;
	rv_map_free(&w->by_ufrag);
	rv_map_free(&w->by_secret);
	rv_dtls_ctx_free(w->ctx);
	wout_free_all(w);
	free(w);
	srv->webrtc = NULL;
}
