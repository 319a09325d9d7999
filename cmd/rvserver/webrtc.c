/* webrtc.c - rvserver's WebRTC sessions at work (see webrtc.h): ICE-lite
 * checks, the paths (UDP or TCP), the DTLS handshake and its timer, SRTP;
 * the media of a publisher is webrtc_in.c's, of a viewer webrtc_out.c's,
 * both through an edge of the relay. A session's making and ending (the
 * offer, the answer, PATCH, the close) is webrtc_sess.c's, the HTTP side
 * whip.c's, the numbers webrtc_stats.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dgram.h"
#include "dtls.h"
#include "err.h"
#include "ice.h"
#include "log.h"
#include "rtp.h"
#include "server.h"
#include "srtp.h"
#include "stun.h"
#include "token.h"
#include "webrtc_int.h"

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
void wsess_dtls_flush(struct wsess *s)
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

void wsess_rearm(struct wsess *s)
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
			wsess_dtls_flush(s);
			fail(s, &w->n.fail_dtls, "DTLS: no answer to the handshake");
			return;
		}
		rv_debug("webrtc %s: DTLS: no answer yet, the handshake flight again", s->client->id);
		wsess_dtls_flush(s);
	}
	win_tick(s, now_ms(s->srv));
	if (rv_ice_tick(s->ice, now_ms(s->srv)) < 0) {
		char why[64];
		snprintf(why, sizeof why, "ICE: consent lost (no check for %g s)", s->srv->conf.webrtc_consent);
		fail(s, &w->n.fail_ice, s->state == W_ICE ? "ICE: no valid check within 10 s of the offer" : why);
		return;
	}
	wsess_rearm(s);
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
	wsess_dtls_flush(s);
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
	wsess_rearm(s);
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

const struct relay_edge wsess_edge_ops = { edge_datagram, edge_packet, edge_keyframe, edge_stream,
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
		wsess_dtls_flush(s);
	}
	wsess_rearm(s);
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
