/* webrtc_sess.c - a WebRTC session's making and ending (see webrtc.h): an
 * offer taken (a WHIP publisher or a WHEP viewer: its tracks, its edge in
 * the relay, its ICE and DTLS engines) and answered, an ICE restart by
 * PATCH, the close; the lookups whip.c makes. A session at work (ICE
 * checks, DTLS, SRTP, the timer) is webrtc.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "dtls.h"
#include "err.h"
#include "ice.h"
#include "log.h"
#include "server.h"
#include "srtp.h"
#include "token.h"
#include "webrtc_int.h"
#include "wsdp.h"

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
		wsess_dtls_flush(s);
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
	    !(s->edge = relay_edge_new(&srv->relay, s->client, &wsess_edge_ops, s))) {
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
	wsess_rearm(s);
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
