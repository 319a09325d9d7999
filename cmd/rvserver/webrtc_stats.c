/* webrtc_stats.c - the WebRTC sessions' numbers: one table for /stats'
 * "webrtc" object and /metrics' rvserver_webrtc_* lines, and the list of
 * sessions with their legs (GET /webrtc, /stats webrtc.legs). */
#include <stdlib.h>

#include <cJSON.h>

#include "metrics.h"
#include "server.h"
#include "webrtc_int.h"

static double nsessions(const void *ctx) { return (double)((const struct webrtc *)ctx)->nsessions; }

static const char *const state_names[] = { "ice", "dtls", "up", "closed" };

static void add_u64(cJSON *o, const char *key, uint64_t v)
{
	cJSON_AddNumberToObject(o, key, (double)v);
}

/* A publisher's tracks: what came in of each kind and how it fared. */
static cJSON *tracks_in(const struct wsess *s)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; a && i < s->ntracks; i++) {
		const struct wtrack *k = &s->tracks[i];
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "kind", k->kind);
		cJSON_AddStringToObject(t, "codec", k->codec);
		add_u64(t, "ssrc", k->ssrc);
		add_u64(t, "packets", k->packets);
		add_u64(t, "bytes", k->bytes);
		if (k->rx.init) {
			uint64_t expected = (uint64_t)k->rx.cycles + k->rx.max_seq - k->rx.base_seq + 1;
			add_u64(t, "lost", expected > k->rx.received ? expected - k->rx.received : 0);
			add_u64(t, "jitter", rv_rtcpstat_jitter(&k->rx));
		}
		cJSON_AddItemToArray(a, t);
	}
	return a;
}

/* A viewer's: what went out of each kind, and from which stream. */
static cJSON *tracks_out(const struct wsess *s)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; a && i < 2; i++) {
		const struct wout *k = &s->tx[i];
		if (!k->codec[0])
			continue;
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "kind", i ? "audio" : "video");
		cJSON_AddStringToObject(t, "codec", k->codec);
		add_u64(t, "ssrc", k->ssrc);
		add_u64(t, "packets", k->packets);
		add_u64(t, "bytes", k->bytes);
		add_u64(t, "retransmits", k->retransmits);
		if (k->src_ssrc)
			add_u64(t, "stream", k->stream);
		cJSON_AddItemToArray(a, t);
	}
	return a;
}

static cJSON *sess_json(const struct wsess *s, uint64_t now)
{
	cJSON *o = cJSON_CreateObject();
	socklen_t sl;
	const struct sockaddr *path = s->ice ? rv_ice_selected(s->ice, &sl) : NULL;
	char addr[64];
	cJSON_AddStringToObject(o, "id", s->client ? s->client->id : "?");
	cJSON_AddStringToObject(o, "group", s->group);
	cJSON_AddStringToObject(o, "role", s->viewer ? "viewer" : "publisher");
	cJSON_AddStringToObject(o, "state", state_names[s->state]);
	cJSON_AddNumberToObject(o, "age_s", (double)(now - s->created_ms) / 1000.0);
	if (path) {
		relay_addr_text(path, addr, sizeof addr);
		cJSON_AddStringToObject(o, "path", addr);
		cJSON_AddStringToObject(o, "transport", wsess_tcp_path(s, path, sl) ? "tcp" : "udp");
	}
	add_u64(o, "packets_in", s->packets);
	add_u64(o, "bytes_in", s->bytes);
	add_u64(o, "packets_out", s->tx[0].packets + s->tx[1].packets);
	add_u64(o, "bytes_out", s->tx[0].bytes + s->tx[1].bytes);
	add_u64(o, "nacks", s->nacks);
	add_u64(o, "plis", s->plis);
	add_u64(o, s->viewer ? "retransmits" : "reports", s->viewer ? s->tx[0].retransmits : s->reports);
	add_u64(o, "srtp_failures", s->srtp_fails);
	add_u64(o, "early", s->early);
	cJSON_AddItemToObject(o, "tracks", s->viewer ? tracks_out(s) : tracks_in(s));
	return o;
}

cJSON *webrtc_list(struct server *srv)
{
	cJSON *a = cJSON_CreateArray();
	const struct webrtc *w = W(srv);
	uint64_t now = now_ms(srv);
	for (const struct wsess *s = w ? w->sessions : NULL; a && s; s = s->next) {
		cJSON *o = sess_json(s, now);
		if (!o || !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

#define C(key, name, help, member) \
	RV_METRIC_AT("webrtc." key, "rvserver_webrtc_" name, help, struct webrtc, n.member)
static const struct rv_metric table[] = {
	RV_METRIC_FN("webrtc.sessions", "rvserver_webrtc_sessions", "WebRTC sessions now.", nsessions),
	{ "webrtc.legs", "rvserver_webrtc_legs", RV_METRIC_GAUGE,
	  "WebRTC legs now, publishers and viewers (in /stats one object each, as GET /webrtc).", 0, nsessions,
	  RV_METRIC_LIST },
	C("sessions_total", "sessions_total", "WebRTC sessions accepted (WHIP offers answered).", sessions),
	C("offers_refused", "offers_refused_total", "WHIP offers refused (malformed, nothing in common).",
	  offers_refused),
	C("offers_per_ip_refused", "offers_per_ip_refused_total", "Offers refused past --webrtc-max-per-ip (429).",
	  per_ip_refused),
	C("ice_checks", "ice_checks_total", "ICE connectivity checks received.", ice_checks),
	C("ice_refused", "ice_refused_total", "ICE checks refused or for no session.", ice_refused),
	C("tcp_paths", "tcp_paths_total", "Connections of the TCP port that became a session's path (ICE over TCP).",
	  tcp_paths),
	C("tcp_drops", "tcp_drops_total", "Packets not sent on a TCP path past half its queue cap.", tcp_drops),
	C("handshakes", "handshakes_total", "DTLS handshakes completed with SRTP keys.", handshakes),
	C("failures", "failures_total", "WebRTC sessions that failed (by cause below).", failures),
	C("failures_ice", "failures_ice_total", "Sessions ended without ICE checks (none in 10 s, or consent lost).",
	  fail_ice),
	C("failures_dtls", "failures_dtls_total", "Sessions whose DTLS handshake failed.", fail_dtls),
	C("failures_fingerprint", "failures_fingerprint_total", "Sessions whose certificate did not match the offer.",
	  fail_fingerprint),
	C("failures_keys", "failures_keys_total", "Sessions that negotiated no SRTP profile.", fail_keys),
	C("trickles", "trickles_total", "PATCHes with trickled candidates (204; not needed by ICE-lite).", trickles),
	C("ice_restarts", "ice_restarts_total", "ICE restarts (PATCH with If-Match: *), answered with new credentials.",
	  ice_restarts),
	C("closed_by_peer", "closed_by_peer_total", "Sessions the peer closed (DTLS close_notify).", closed_by_peer),
	C("deleted", "deleted_total", "Sessions ended by an HTTP DELETE.", deleted),
	C("packets_in", "packets_in_total", "SRTP and SRTCP packets received and authenticated.", packets_in),
	C("bytes_in", "bytes_in_total", "Bytes of those packets, unprotected.", bytes_in),
	C("srtp_failures", "srtp_failures_total", "Packets that failed SRTP authentication or replay checks.",
	  srtp_fails),
	C("plis", "plis_total", "PLIs sent to publishers for receivers' keyframe requests.", plis),
	C("reports", "reports_total", "Receiver reports sent to publishers (RTCP, about one a second).", reports),
	C("rembs", "rembs_total", "REMBs of --webrtc-max-bitrate sent with them.", rembs),
	C("nacks_to_publishers", "nacks_to_publishers_total", "Receivers' NACKs passed on to publishers.",
	  nacks_to_publishers),
	C("rtcp_terminated", "rtcp_terminated_total",
	  "Receivers' RTCP reports about publishers' streams kept at the server.", rtcp_terminated),
	C("packets_out", "packets_out_total", "RTP packets sent to viewers (retransmissions apart).", packets_out),
	C("bytes_out", "bytes_out_total", "Bytes of those packets, before SRTP.", bytes_out),
	C("nacks_in", "nacks_in_total", "NACKs received from viewers.", nacks_in),
	C("retransmits", "retransmits_total", "Packets sent to viewers again from their legs' caches for NACKs.",
	  retransmits),
	C("retransmits_limited", "retransmits_limited_total",
	  "NACKed packets not sent again: sent a moment ago, or past the leg's resend budget (half its bytes).",
	  retransmits_limited),
	C("nacks_to_sources", "nacks_to_sources_total",
	  "Packets viewers NACKed that their caches no longer had, asked of the sources.", nacks_to_sources),
	C("source_decrypts", "source_decrypts_total",
	  "Source packets unprotected for viewers: once a packet, however many viewers take it.", src_decrypts),
};
#undef C

int webrtc_metrics(struct server *srv, struct rv_buf *out)
{
	return W(srv) ? rv_metrics_prom(out, table, sizeof table / sizeof table[0], W(srv)) : 0;
}

int webrtc_stats(struct server *srv, cJSON *root)
{
	if (!W(srv))
		return 0;
	int rc = rv_metrics_json(root, table, sizeof table / sizeof table[0], W(srv));
	cJSON *list = rc < 0 ? NULL : webrtc_list(srv);
	if (rc == 0 && (!list || !cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(root, "webrtc"), "legs", list))) {
		cJSON_Delete(list);
		rc = -ENOMEM;
	}
	return rc;
}

/* webrtc_deleted - count a DELETE (whip.c). */
void webrtc_deleted(struct server *srv)
{
	W(srv)->n.deleted++;
}
