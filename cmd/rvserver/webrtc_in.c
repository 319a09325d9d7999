/* webrtc_in.c - a WHIP publisher's media: its packets, unprotected by
 * webrtc.c, go into its group as an ordinary stream through the session's
 * relay edge; and the RTCP of its leg ends here (RFC 3550 6.4.2).
 *
 * The stream is announced once every accepted track's SSRC is known (from
 * the offer's a=ssrc, else from the first packet of its payload type).
 * Every RTP packet is counted per SSRC (lib/rtcpstat.h), every sender
 * report noted, and about once a second the browser gets a compound RTCP
 * packet from the session's own SSRC: a receiver report with one block per
 * track (loss, extended highest sequence number, jitter, LSR/DLSR, from
 * which it learns its loss and round trip), an SDES CNAME, and for video
 * whose answer has goog-remb a REMB of --webrtc-max-bitrate, the cap its
 * bandwidth estimate then keeps under. Receivers' reports about the stream
 * stay at the server (the browser has ours for its leg); their NACK, PLI and
 * FIR go to the browser, which answers them. */
#include <string.h>

#include "bytes.h"
#include "err.h"
#include "log.h"
#include "rtp.h"
#include "server.h"
#include "srtp.h"
#include "webrtc_int.h"
#include "wsdp.h"

#define REPORT_MS 1000               /* between our receiver reports */
#define FIRST_REPORT_MS 300          /* the first: the REMB cap early */

static uint64_t now_us(void)
{
	return uv_hrtime() / 1000;
}

/* Announce the stream once every track's SSRC is known. */
static void announce(struct wsess *s)
{
	if (s->stream || s->state != W_UP)
		return;
	for (int i = 0; i < s->ntracks; i++)
		if (!s->tracks[i].ssrc)
			return;
	cJSON *media = cJSON_CreateArray();
	for (int i = 0; media && i < s->ntracks; i++) {
		const struct wtrack *k = &s->tracks[i];
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "kind", k->kind);
		cJSON_AddStringToObject(m, "codec", k->codec);
		cJSON_AddNumberToObject(m, "pt", k->pt);
		cJSON_AddNumberToObject(m, "clock", k->clock);
		if (!strcmp(k->kind, "audio"))
			cJSON_AddNumberToObject(m, "channels", k->channels ? k->channels : 2);
		cJSON_AddNumberToObject(m, "ssrc", k->ssrc);
		cJSON_AddItemToArray(media, m);
	}
	int64_t id = media ? relay_edge_stream(&s->srv->relay, s->edge, s->group, media) : -ENOMEM;
	cJSON_Delete(media);
	if (id < 0) {
		rv_warn("webrtc %s: its stream was refused: %s", s->client->id, rv_strerror((int)id));
		return;
	}
	s->stream = id;
}

void win_up(struct wsess *s)
{
	s->rtcp_due = now_ms(s->srv) + FIRST_REPORT_MS;
	announce(s);
}

/* A track without a signalled SSRC takes the first one its payload type
 * brings. */
static void learn_ssrc(struct wsess *s, const uint8_t *p)
{
	int pt = p[1] & 0x7F;
	uint32_t ssrc = rv_rd32(p + 8);
	for (int i = 0; i < s->ntracks; i++)
		if (s->tracks[i].ssrc == ssrc)
			return;
	for (int i = 0; i < s->ntracks; i++)
		if (!s->tracks[i].ssrc && s->tracks[i].pt == pt) {
			s->tracks[i].ssrc = ssrc;
			rv_debug("webrtc %s: %s is SSRC %u", s->client->id, s->tracks[i].kind, (unsigned)ssrc);
			announce(s);
			return;
		}
}

static struct wtrack *track_of(struct wsess *s, uint32_t ssrc)
{
	for (int i = 0; i < s->ntracks; i++)
		if (s->tracks[i].ssrc && s->tracks[i].ssrc == ssrc)
			return &s->tracks[i];
	return NULL;
}

/* K's statistics, started at its first packet. */
static struct rv_rtcpstat *stat_of(struct wtrack *k)
{
	if (k->rx.ssrc != k->ssrc || !k->rx.clock)
		rv_rtcpstat_init(&k->rx, k->ssrc, k->clock > 0 ? (uint32_t)k->clock : 90000);
	return &k->rx;
}

/* The browser's sender reports: LSR for our report blocks. */
static void sender_reports(struct wsess *s, const uint8_t *p, size_t n)
{
	struct rv_rtcp c;
	struct rv_rtcp_sr sr;
	struct wtrack *k;
	size_t off = 0;
	while (rv_rtcp_next(p, n, &off, &c) == 1)
		if (c.type == RV_RTCP_SR && rv_rtcp_parse_sr(&c, &sr) == 0 && (k = track_of(s, sr.ssrc)))
			rv_rtcpstat_sr(stat_of(k), sr.ntp, now_us());
}

void win_media(struct wsess *s, const uint8_t *p, size_t n)
{
	if (rv_rtp_is_rtcp(p, n)) {
		sender_reports(s, p, n);
	} else if (n >= RV_RTP_HEADER) {
		if (!s->stream)
			learn_ssrc(s, p);
		struct wtrack *k = track_of(s, rv_rd32(p + 8));
		if (k) {
			k->packets++;
			k->bytes += n;
			rv_rtcpstat_packet(stat_of(k), rv_rd16(p + 2), rv_rd32(p + 4), now_us());
		}
	}
	if (s->stream)
		relay_edge_packet(&s->srv->relay, s->edge, p, n);
}

/* Our compound RTCP: RR (a block per track heard from), SDES CNAME, and
 * REMB for the video tracks that negotiated it. */
static void report(struct wsess *s)
{
	struct webrtc *w = W(s->srv);
	uint8_t buf[RV_RTP_MAX_PAYLOAD + RV_SRTP_MAX_TRAILER];
	const size_t cap = RV_RTP_MAX_PAYLOAD;
	struct rv_rtcp_rb rb[MAX_TRACKS];
	uint32_t video[MAX_TRACKS];
	size_t nrb = 0, nvideo = 0;
	uint64_t bps = s->srv->conf.webrtc_max_bitrate, t = now_us();
	for (int i = 0; i < s->ntracks; i++) {
		struct wtrack *k = &s->tracks[i];
		if (!k->ssrc)
			continue;
		if (k->rx.ssrc == k->ssrc && rv_rtcpstat_block(&k->rx, t, &rb[nrb]) == 0)
			nrb++;
		if (!strcmp(k->kind, "video") && (k->fb & RV_WSDP_FB_REMB))
			video[nvideo++] = k->ssrc;
	}
	int remb = bps && nvideo;
	if (!nrb && !remb)
		return;
	int rr = rv_rtcp_build_rrs(buf, cap, s->own_ssrc, rb, nrb);
	int sdes = rr < 0 ? rr : rv_rtcp_build_sdes(buf + rr, cap - (size_t)rr, s->own_ssrc, s->client->id);
	int len = sdes < 0 ? sdes : rr + sdes;
	if (len >= 0 && remb) {
		int m = rv_rtcp_build_remb(buf + len, cap - (size_t)len, s->own_ssrc, bps, video, nvideo);
		len = m < 0 ? m : len + m;
	}
	if (len < 0) {
		rv_debug("webrtc %s: no receiver report: %s", s->client->id, rv_strerror(len));
		return;
	}
	s->reports++;
	w->n.reports++;
	w->n.rembs += (uint64_t)remb;
	wsess_send_srtp(s, buf, (size_t)len);
}

void win_tick(struct wsess *s, uint64_t now)
{
	if (s->viewer || s->state != W_UP || !s->rtcp_due || now < s->rtcp_due)
		return;
	report(s);
	s->rtcp_due = now + REPORT_MS;
}

void win_feedback(struct wsess *s, const uint8_t *p, size_t n)
{
	struct webrtc *w = W(s->srv);
	uint8_t out[1500 + RV_SRTP_MAX_TRAILER];
	struct rv_rtcp c;
	size_t off = 0, at = 0, len = 0;
	if (n > 1500)
		return;
	for (; rv_rtcp_next(p, n, &off, &c) == 1; at = off) {
		int nack = c.type == RV_RTCP_RTPFB && c.fmt == 1;
		int key = c.type == RV_RTCP_PSFB && (c.fmt == 1 || c.fmt == 4);	/* PLI, FIR */
		if (!nack && !key) {
			w->n.rtcp_terminated++;
			continue;
		}
		memcpy(out + len, p + at, off - at);
		len += off - at;
		if (nack) {
			s->nacks++;
			w->n.nacks_to_publishers++;
		} else {
			s->plis++;
			w->n.plis++;
		}
	}
	if (len)
		wsess_send_srtp(s, out, len);
}

void win_keyframe(struct wsess *s)
{
	for (int i = 0; i < s->ntracks; i++) {
		if (strcmp(s->tracks[i].kind, "video") || !s->tracks[i].ssrc)
			continue;
		uint8_t pli[12 + RV_SRTP_MAX_TRAILER];
		int n = rv_rtcp_build_pli(pli, 12, s->own_ssrc, s->tracks[i].ssrc);
		if (n < 0)
			continue;
		s->plis++;
		W(s->srv)->n.plis++;
		wsess_send_srtp(s, pli, (size_t)n);
	}
}
