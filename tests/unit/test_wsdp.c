/* test_wsdp.c - the WebRTC SDP offer parser and answer builder on real
 * offers: headless Chromium 156 and Firefox ESR (tests/unit/data/wsdp,
 * made by tests/browser/wsdp-offers.mjs), an aiortc-style and an OBS
 * 30-style one; answers for WHIP and WHEP parsed back; H.264 profile
 * matching; errors with their reasons; caps.
 *
 * `test_wsdp answer whip|whep [VIDEO_CODECS] < offer` prints the answer
 * instead (tests/browser/wsdp-answer.test.mjs gives it to Chromium). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "wsdp.h"

#ifndef RV_TEST_DATA
#define RV_TEST_DATA "tests/unit/data"
#endif

#define FP "7A:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:E1"

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/wsdp/%s", RV_TEST_DATA, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: cannot open", path);
	static char buf[RV_WSDP_MAX_SDP * 2];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *s = strdup(buf);
	assert_non_null(s);
	*len = n;
	return s;
}

static struct rv_wsdp_offer *parse_file(const char *name)
{
	size_t len;
	char *s = slurp(name, &len), err[200];
	struct rv_wsdp_offer *o;
	int r = rv_wsdp_parse(&o, s, len, err, sizeof err);
	if (r != 0)
		fail_msg("%s: %d %s", name, r, err);
	free(s);
	return o;
}

static struct rv_wsdp_answer_conf conf(enum rv_wsdp_role role, const char *video)
{
	struct rv_wsdp_answer_conf c = {
		.role = role, .ufrag = "h3Kq9zP1", .pwd = "Zr8c0a+Tq1mWv7s3Hk2Lx9Pd", .fingerprint = FP,
		.cand_ip = { "203.0.113.7", "2001:db8::7" }, .ncand = 2, .port = 7350,
		.tcp_port = 7351,
		.video_codecs = video, .send_ssrc_audio = 1111, .send_ssrc_video = 2222,
		.cname = "rvcname", .msid_stream = "rvs",
	};
	return c;
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *s = text; (s = strstr(s, line)); s += n)
		if ((s == text || s[-1] == '\n') && (s[n] == '\r' || s[n] == '\n' || !s[n]))
			return 1;
	return 0;
}

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *s = text; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

/* Answer O, check what every answer must be, return the parsed answer. */
static struct rv_wsdp_offer *answer_ok(const struct rv_wsdp_offer *o, const struct rv_wsdp_answer_conf *c,
				       char *out, size_t cap, struct rv_wsdp_choice *ch)
{
	char err[200];
	int n = rv_wsdp_answer(o, c, out, cap, ch, RV_WSDP_MAX_MEDIA, err, sizeof err);
	if (n < 0)
		fail_msg("answer: %d %s", n, err);
	assert_int_equal((size_t)n, strlen(out));
	struct rv_wsdp_offer *a;
	if (rv_wsdp_parse(&a, out, (size_t)n, err, sizeof err))
		fail_msg("the answer does not parse: %s\n%s", err, out);
	assert_int_equal(a->nmedia, o->nmedia);
	assert_true(a->ice_lite);
	assert_true(has_line(out, "v=0"));
	assert_true(has_line(out, "s=-"));
	assert_true(has_line(out, "t=0 0"));
	int nb = 0;
	for (int i = 0; i < o->nmedia; i++) {
		const struct rv_wsdp_media *om = &o->media[i], *am = &a->media[i];
		assert_string_equal(am->kind, om->kind);
		assert_string_equal(am->mid, om->mid);
		assert_string_equal(ch[i].mid, om->mid);
		assert_int_equal(am->rejected, !ch[i].accepted);
		if (!ch[i].accepted) {
			assert_int_equal(am->port, 0);
			assert_true(ch[i].why[0]);
			continue;
		}
		assert_string_equal(a->bundle[nb++], om->mid);
		assert_int_equal(am->ncodecs, 1);
		const struct rv_wsdp_codec *k = rv_wsdp_codec_find(om, ch[i].pt);
		assert_non_null(k);        /* the offer's PT number */
		assert_int_equal(am->codecs[0].pt, ch[i].pt);
		assert_string_equal(am->codecs[0].name, k->name);
		assert_int_equal(am->codecs[0].clock, k->clock);
		assert_string_equal(am->codecs[0].fmtp, ch[i].fmtp);
		assert_int_equal(am->dir, c->role == RV_WSDP_WHIP ? RV_WSDP_RECVONLY : RV_WSDP_SENDONLY);
		assert_int_equal(am->setup, RV_WSDP_ACTIVE);
		assert_true(am->rtcp_mux);
		assert_string_equal(am->ufrag, c->ufrag);
		assert_string_equal(am->pwd, c->pwd);
		assert_string_equal(am->fingerprint, FP);
		assert_int_equal(am->ncandidates, (c->no_udp ? 1 : 2) * c->ncand);
		assert_true(am->end_of_candidates);
		assert_int_equal(am->codecs[0].fb & RV_WSDP_FB_TWCC, 0);
		assert_int_equal(rv_wsdp_extmap_id(am, RV_WSDP_EXT_MID), rv_wsdp_extmap_id(om, RV_WSDP_EXT_MID));
		assert_int_equal(ch[i].mid_ext_id, rv_wsdp_extmap_id(om, RV_WSDP_EXT_MID));
		assert_int_equal(am->nextmap, ch[i].mid_ext_id ? 1 : 0);
		if (c->role == RV_WSDP_WHEP) {
			assert_int_equal(am->nssrcs, 1);
			assert_int_equal(am->ssrcs[0].ssrc, strcmp(om->kind, "video") ? 1111 : 2222);
			assert_string_equal(am->ssrcs[0].cname, "rvcname");
			assert_true(!strncmp(am->msid, "rvs rvs-", 8));
		} else {
			assert_int_equal(am->nssrcs, 0);
		}
	}
	assert_int_equal(a->nbundle, nb);
	assert_int_equal(count(out, "rtx"), 0);
	assert_int_equal(count(out, "a=rid"), 0);
	assert_int_equal(count(out, "simulcast"), 0);
	/* after each UDP candidate a passive TCP one, lower (RFC 6544 4.2) */
	assert_int_equal(has_line(out, "a=candidate:1 1 udp 2130706431 203.0.113.7 7350 typ host"), !c->no_udp);
	assert_int_equal(has_line(out, "a=candidate:2 1 udp 2130706431 2001:db8::7 7350 typ host"), !c->no_udp);
	assert_true(has_line(out, "a=candidate:3 1 tcp 2124414975 203.0.113.7 7351 typ host tcptype passive"));
	assert_true(has_line(out, "a=candidate:4 1 tcp 2124414975 2001:db8::7 7351 typ host tcptype passive"));
	assert_true(c->no_udp || strstr(out, "7350 typ host\r\na=candidate:3 1 tcp "));
	return a;
}

static char out[RV_WSDP_MAX_SDP];

static void chromium_whip(void **state)
{
	(void)state;
	struct rv_wsdp_offer *o = parse_file("chromium-whip.sdp");
	assert_int_equal(o->nmedia, 2);
	assert_int_equal(o->nbundle, 2);
	assert_string_equal(o->bundle[0], "0");
	assert_string_equal(o->bundle[1], "1");
	const struct rv_wsdp_media *au = &o->media[0], *v = &o->media[1];
	assert_string_equal(au->kind, "audio");
	assert_string_equal(au->proto, "UDP/TLS/RTP/SAVPF");
	assert_int_equal(au->dir, RV_WSDP_SENDONLY);
	assert_int_equal(au->setup, RV_WSDP_ACTPASS);
	assert_int_equal(strlen(au->fingerprint), 95);
	assert_true(au->ufrag[0] && au->pwd[0]);
	assert_true(au->ncandidates >= 1);
	const struct rv_wsdp_codec *opus = rv_wsdp_codec_find(au, 111);
	assert_string_equal(opus->name, "opus");
	assert_int_equal(opus->clock, 48000);
	assert_int_equal(opus->channels, 2);
	assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
	assert_int_equal(opus->fb, RV_WSDP_FB_TWCC);
	assert_int_equal(rv_wsdp_extmap_id(au, RV_WSDP_EXT_MID), 4);
	assert_int_equal(au->nssrcs, 1);
	assert_true(au->ssrcs[0].cname[0] && au->ssrcs[0].msid[0]);
	const struct rv_wsdp_codec *vp8 = rv_wsdp_codec_find(v, 96);
	assert_string_equal(vp8->name, "VP8");
	assert_int_equal(vp8->fb, RV_WSDP_FB_NACK | RV_WSDP_FB_PLI | RV_WSDP_FB_FIR | RV_WSDP_FB_REMB |
				  RV_WSDP_FB_TWCC);
	assert_int_equal(rv_wsdp_codec_find(v, 97)->apt, 96);
	assert_int_equal(v->nssrcs, 2);
	assert_int_equal(v->fid[0], v->ssrcs[0].ssrc);
	assert_int_equal(v->fid[1], v->ssrcs[1].ssrc);
	assert_false(v->has_rid || v->has_simulcast);
	assert_true(v->msid[0]);

	struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHIP, NULL);
	struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
	struct rv_wsdp_offer *a = answer_ok(o, &c, out, sizeof out, ch);
	assert_string_equal(ch[0].codec, "opus");
	assert_int_equal(ch[0].pt, 111);
	assert_string_equal(ch[0].fmtp, "minptime=10;useinbandfec=1");
	assert_int_equal(ch[0].remote_ssrc, au->ssrcs[0].ssrc);
	assert_string_equal(ch[1].codec, "VP8");
	assert_int_equal(ch[1].pt, 96);
	assert_int_equal(ch[1].rtx_pt, 97);
	assert_int_equal(ch[1].remote_ssrc, v->fid[0]);
	assert_int_equal(ch[1].mid_ext_id, 4);
	assert_true(has_line(out, "a=group:BUNDLE 0 1"));
	assert_true(has_line(out, "m=audio 9 UDP/TLS/RTP/SAVPF 111"));
	assert_true(has_line(out, "m=video 9 UDP/TLS/RTP/SAVPF 96"));
	assert_true(has_line(out, "a=rtpmap:111 opus/48000/2"));
	assert_true(has_line(out, "a=rtpmap:96 VP8/90000"));
	assert_true(has_line(out, "a=rtcp-fb:96 nack"));
	assert_true(has_line(out, "a=rtcp-fb:96 nack pli"));
	assert_true(has_line(out, "a=rtcp-fb:96 ccm fir"));
	assert_true(has_line(out, "a=rtcp-fb:96 goog-remb"));
	assert_true(has_line(out, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid"));
	assert_true(has_line(out, "c=IN IP4 0.0.0.0"));
	assert_int_equal(count(out, "\r\n"), count(out, "\n"));
	assert_int_equal(count(out, "a=recvonly"), 2);
	assert_int_equal(count(out, "a=end-of-candidates"), 2);
	/* a network without UDP (RV_TEST_NO_UDP_CANDIDATES): the TCP ones alone */
	rv_wsdp_offer_free(a);
	c.no_udp = 1;
	a = answer_ok(o, &c, out, sizeof out, ch);
	assert_int_equal(count(out, " udp "), 0);
	assert_int_equal(count(out, "a=end-of-candidates"), 2);
	rv_wsdp_offer_free(a);

	/* H.264 preference: 42e01f before 42001f before 4d001f, pm=1 only. */
	c.video_codecs = "H264,VP8";
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_string_equal(ch[1].codec, "H264");
	assert_int_equal(ch[1].pt, 108);
	assert_string_equal(ch[1].fmtp, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
	assert_int_equal(ch[1].rtx_pt, 109);
	assert_true(has_line(out, "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"));
	c.video_codecs = "H264/4200";
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_int_equal(ch[1].pt, 102);
	c.video_codecs = "H264/4d00";
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_int_equal(ch[1].pt, 116);
	c.video_codecs = "";      /* no video: the video m= line is rejected */
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_false(ch[1].accepted);
	assert_true(has_line(out, "m=video 0 UDP/TLS/RTP/SAVPF 96"));
	assert_true(has_line(out, "a=group:BUNDLE 0"));
	rv_wsdp_offer_free(o);
}

/* The same offer with LF line ends parses to the same struct. */
static void lf_only(void **state)
{
	(void)state;
	size_t len, j = 0;
	char *s = slurp("chromium-whip.sdp", &len), err[200];
	for (size_t i = 0; i < len; i++)
		if (s[i] != '\r')
			s[j++] = s[i];
	struct rv_wsdp_offer *a, *b = parse_file("chromium-whip.sdp");
	assert_int_equal(rv_wsdp_parse(&a, s, j, err, sizeof err), 0);
	assert_memory_equal(a, b, sizeof *a);
	rv_wsdp_offer_free(a);
	rv_wsdp_offer_free(b);
	free(s);
}

static void firefox_whip(void **state)
{
	(void)state;
	struct rv_wsdp_offer *o = parse_file("firefox-whip.sdp");
	assert_int_equal(o->nmedia, 2);
	const struct rv_wsdp_media *v = &o->media[1];
	assert_int_equal(v->port, 0);              /* Firefox: port 0 + bundle-only */
	assert_true(v->bundle_only);
	assert_false(v->rejected);
	assert_string_equal(v->fingerprint, o->media[0].fingerprint); /* session level */
	assert_string_equal(v->ufrag, o->media[0].ufrag);
	assert_int_equal(v->ncandidates, 0);
	const struct rv_wsdp_codec *vp8 = rv_wsdp_codec_find(v, 120);  /* fmtp before rtpmap */
	assert_string_equal(vp8->name, "VP8");
	assert_string_equal(vp8->fmtp, "max-fs=12288;max-fr=60");
	assert_int_equal(rv_wsdp_codec_find(v, 124)->apt, 120);
	assert_int_equal(v->fid[0], v->ssrcs[0].ssrc);
	struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHIP, NULL);
	struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_int_equal(ch[0].pt, 109);
	assert_string_equal(ch[1].codec, "VP8");
	assert_int_equal(ch[1].pt, 120);
	assert_int_equal(ch[1].rtx_pt, 124);
	assert_true(has_line(out, "a=fmtp:120 max-fs=12288;max-fr=60"));
	assert_int_equal(ch[0].mid_ext_id, 3);
	/* Debian's Firefox has no H.264: a WHIP taking only H.264 cannot answer. */
	char err[200];
	c.video_codecs = "H264";
	c.audio_codecs = "";
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), RV_EPROTO);
	assert_string_equal(err, "nothing to answer: no codec in common: the offer has VP8, VP9, AV1; "
				 "we take H264");
	rv_wsdp_offer_free(o);
}

static void whep(void **state)
{
	(void)state;
	const char *files[] = { "chromium-whep.sdp", "firefox-whep.sdp" };
	for (int f = 0; f < 2; f++) {
		struct rv_wsdp_offer *o = parse_file(files[f]);
		assert_int_equal(o->media[0].dir, RV_WSDP_RECVONLY);
		assert_int_equal(o->media[1].dir, RV_WSDP_RECVONLY);
		struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHEP, "VP8");
		c.opus_stereo = 1;
		struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
		rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
		assert_string_equal(ch[1].codec, "VP8");
		assert_string_equal(ch[0].fmtp, "minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1");
		assert_int_equal(count(out, "a=sendonly"), 2);
		assert_int_equal(count(out, "a=rtcp-fb"), 3); /* nack, nack pli, ccm fir: no remb */
		assert_true(has_line(out, "a=ssrc:2222 cname:rvcname"));
		assert_true(has_line(out, "a=ssrc:2222 msid:rvs rvs-video"));
		assert_true(has_line(out, "a=msid:rvs rvs-audio"));
		assert_int_equal(ch[0].remote_ssrc, f ? o->media[0].ssrcs[0].ssrc : o->media[0].ssrcs[0].ssrc);
		/* A WHIP endpoint cannot answer an offer that only receives. */
		char err[200];
		c.role = RV_WSDP_WHIP;
		assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), RV_EPROTO);
		assert_string_equal(err, "nothing to answer: the offer does not send here (WHIP receives)");
		rv_wsdp_offer_free(o);
	}
	/* An H.264 source: Chromium takes 42e01f; Firefox ESR has none. */
	struct rv_wsdp_offer *o = parse_file("chromium-whep.sdp");
	struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHEP, "H264");
	struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_int_equal(ch[1].pt, 108);
	rv_wsdp_offer_free(o);
	o = parse_file("firefox-whep.sdp");
	char err[200];
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), RV_EPROTO);
	assert_string_equal(err, "stream is H264, the browser offers VP8, VP9, AV1");
	rv_wsdp_offer_free(o);
}

static void video_only_and_datachannel(void **state)
{
	(void)state;
	const char *files[] = { "chromium-video.sdp", "firefox-video.sdp", "chromium-datachannel.sdp",
				"firefox-datachannel.sdp" };
	for (int f = 0; f < 4; f++) {
		struct rv_wsdp_offer *o = parse_file(files[f]);
		struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHIP, NULL);
		struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
		rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
		if (f < 2) {
			assert_int_equal(o->nmedia, 1);
			assert_string_equal(ch[0].codec, "VP8");
			assert_true(has_line(out, "a=group:BUNDLE 0"));
		} else {
			assert_int_equal(o->nmedia, 3);
			assert_string_equal(o->media[2].kind, "application");
			assert_false(ch[2].accepted);
			assert_string_equal(ch[2].why, "data channels are not supported");
			assert_true(has_line(out, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel"));
			assert_true(has_line(out, "a=mid:2"));
			assert_true(has_line(out, "a=group:BUNDLE 0 1"));
		}
		rv_wsdp_offer_free(o);
	}
}

static void aiortc_and_obs(void **state)
{
	(void)state;
	struct rv_wsdp_offer *o = parse_file("aiortc-whip.sdp");
	assert_int_equal(o->ncandidates, 4);
	struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHIP, "H264,VP8");
	struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_int_equal(ch[0].pt, 96);
	assert_string_equal(ch[1].codec, "H264");
	assert_int_equal(ch[1].pt, 101);           /* 42e01f, though 42001f comes first */
	assert_int_equal(ch[1].rtx_pt, 102);
	assert_int_equal(ch[1].remote_ssrc, 2371939117u);
	assert_int_equal(ch[1].mid_ext_id, 1);
	assert_int_equal(ch[1].fb, RV_WSDP_FB_NACK | RV_WSDP_FB_PLI | RV_WSDP_FB_REMB); /* no fir offered */
	rv_wsdp_offer_free(o);

	o = parse_file("obs-whip.sdp");            /* session-level ICE and DTLS */
	assert_string_equal(o->media[1].ufrag, "Kd3d");
	assert_string_equal(o->media[1].pwd, "mc8ue5rOmf8ynbaGxbi1Pe");
	assert_int_equal(o->media[1].setup, RV_WSDP_ACTPASS);
	assert_int_equal(o->ncandidates, 0);
	c.video_codecs = NULL;
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_string_equal(ch[1].codec, "H264");
	assert_int_equal(ch[1].pt, 96);
	assert_int_equal(ch[1].remote_ssrc, 2880397475u);
	assert_int_equal(ch[1].mid_ext_id, 0);
	assert_string_equal(ch[1].fmtp, "profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1");
	char err[200];
	c.video_codecs = "VP8";
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch)); /* audio still answers */
	assert_false(ch[1].accepted);
	assert_string_equal(ch[1].why, "no codec in common: the offer has H264; we take VP8");
	c.audio_codecs = "PCMU";
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), RV_EPROTO);
	assert_string_equal(err, "nothing to answer: no codec in common: the offer has opus; we take PCMU");
	rv_wsdp_offer_free(o);
}

/* Simulcast (rid h and l) is declined: one layer, no rid, no simulcast. */
static void simulcast(void **state)
{
	(void)state;
	const char *files[] = { "chromium-simulcast.sdp", "firefox-simulcast.sdp" };
	for (int f = 0; f < 2; f++) {
		struct rv_wsdp_offer *o = parse_file(files[f]);
		const struct rv_wsdp_media *v = &o->media[1];
		assert_true(v->has_rid && v->has_simulcast);
		assert_false(o->media[0].has_rid || o->media[0].has_simulcast);
		if (f)
			assert_int_equal(v->fid[0], v->ssrcs[0].ssrc); /* the first FID group */
		struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHIP, NULL);
		struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
		rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
		assert_string_equal(ch[1].codec, "VP8");
		assert_int_equal(ch[1].remote_ssrc, 0);
		assert_int_equal(ch[0].remote_ssrc, o->media[0].ssrcs[0].ssrc);
		rv_wsdp_offer_free(o);
	}
}

/* Offered m= lines that cannot be taken are rejected, the rest answered. */
static void rejections(void **state)
{
	(void)state;
	static const char offer[] =
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE v\r\n"
		"a=ice-ufrag:uf01\r\na=ice-pwd:pwpwpwpwpwpwpwpwpwpwpw\r\na=fingerprint:sha-256 " FP "\r\n"
		"m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:old\r\na=rtpmap:111 opus/48000/2\r\n"
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:nb\r\na=rtpmap:111 opus/48000/2\r\n"
		"m=audio 9 RTP/AVP 0\r\na=mid:plain\r\n"
		"m=text 9 UDP/TLS/RTP/SAVPF 98\r\na=mid:t\r\n"
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:v\r\na=rtpmap:96 VP8/90000\r\n";
	struct rv_wsdp_offer *o;
	char err[200];
	assert_int_equal(rv_wsdp_parse(&o, offer, strlen(offer), err, sizeof err), 0);
	assert_true(o->media[0].rejected);
	assert_int_equal(o->media[4].setup, RV_WSDP_SETUP_NONE); /* taken as actpass */
	assert_int_equal(o->media[4].dir, RV_WSDP_SENDRECV);
	struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHIP, NULL);
	struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
	rv_wsdp_offer_free(answer_ok(o, &c, out, sizeof out, ch));
	assert_string_equal(ch[0].why, "rejected in the offer (port 0)");
	assert_string_equal(ch[1].why, "not in the BUNDLE group");
	assert_string_equal(ch[2].why, "transport is not UDP/TLS/RTP/SAVPF");
	assert_string_equal(ch[3].why, "unknown media kind");
	assert_string_equal(ch[3].kind, "");
	assert_true(ch[4].accepted);
	assert_true(has_line(out, "m=audio 0 UDP/TLS/RTP/SAVPF 111"));
	assert_true(has_line(out, "m=audio 0 RTP/AVP 0"));
	assert_true(has_line(out, "m=text 0 UDP/TLS/RTP/SAVPF 98"));
	assert_true(has_line(out, "a=group:BUNDLE v"));
	rv_wsdp_offer_free(o);
}

/* A small valid offer and edits of it. */
static const char base[] =
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a v\r\n"
	"a=fingerprint:sha-256 " FP "\r\n"
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\n"
	"a=ice-ufrag:uf01\r\na=ice-pwd:pwpwpwpwpwpwpwpwpwpwpw\r\na=setup:actpass\r\na=sendonly\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"m=video 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\n"
	"a=ice-ufrag:uf01\r\na=ice-pwd:pwpwpwpwpwpwpwpwpwpwpw\r\na=setup:actpass\r\na=sendonly\r\n"
	"a=rtpmap:100 H264/90000\r\na=fmtp:100 profile-level-id=42e01f;packetization-mode=0\r\n";

static char *edit(const char *from, const char *to)
{
	static char buf[RV_WSDP_MAX_SDP * 2];
	const char *p = strstr(base, from);
	assert_non_null(p);
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
	return buf;
}

static void expect(const char *sdp, int code, const char *why)
{
	struct rv_wsdp_offer *o = (void *)1;
	char err[200];
	assert_int_equal(rv_wsdp_parse(&o, sdp, strlen(sdp), err, sizeof err), code);
	assert_null(o);
	if (strcmp(err, why))
		fail_msg("got \"%s\", want \"%s\"", err, why);
}

/* WHIP PATCH bodies: trickled candidates, an ICE restart. */
static void fragments(void **state)
{
	(void)state;
	static const char trickle[] =
		"a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\na=group:BUNDLE 0 1\r\n"
		"m=audio 9 RTP/AVP 0\r\na=mid:0\r\n"
		"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n"
		"a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n"
		"a=end-of-candidates\r\n";
	struct rv_wsdp_offer *o;
	char err[200];
	assert_int_equal(rv_wsdp_parse_frag(&o, trickle, strlen(trickle), err, sizeof err), 0);
	assert_string_equal(o->ufrag, "EsAw");
	assert_int_equal(o->nmedia, 1);
	assert_string_equal(o->media[0].mid, "0");
	assert_string_equal(o->media[0].pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
	assert_int_equal(o->media[0].ncandidates, 2);
	assert_true(o->media[0].end_of_candidates);
	rv_wsdp_offer_free(o);
	static const char restart[] = "a=ice-ufrag:new1\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBuiX\n";
	assert_int_equal(rv_wsdp_parse_frag(&o, restart, strlen(restart), err, sizeof err), 0);
	assert_int_equal(o->nmedia, 0);
	assert_string_equal(o->ufrag, "new1");
	assert_string_equal(o->pwd, "P2uYro0UCOQ4zxjKXaWCBuiX");
	rv_wsdp_offer_free(o);
	/* a fragment is no offer, and an offer needs its v=0 */
	assert_int_equal(rv_wsdp_parse(&o, restart, strlen(restart), err, sizeof err), RV_EPROTO);
	assert_int_equal(rv_wsdp_parse_frag(&o, base, strlen(base), err, sizeof err), RV_EPROTO);
	assert_string_equal(err, "line 1: a v= line in an SDP fragment");
}

static void errors(void **state)
{
	(void)state;
	struct rv_wsdp_offer *o;
	char err[200];
	assert_int_equal(rv_wsdp_parse(&o, base, strlen(base), err, sizeof err), 0);
	struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHIP, "H264");
	struct rv_wsdp_choice ch[2];
	/* packetization-mode=0 only: no H.264 in common */
	assert_true(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err) > 0);
	assert_false(ch[1].accepted);
	assert_true(ch[0].accepted);
	assert_string_equal(ch[0].codec, "opus");
	rv_wsdp_offer_free(o);
	/* H.264 fmtp: matched on profile_idc+iop and packetization-mode=1, any
	 * level and order, case-insensitive; no profile-level-id means 42000a */
	static const struct { const char *fmtp; int ok; } h264[] = {
		{ "profile-level-id=42e01f;packetization-mode=1", 1 },
		{ "packetization-mode=1; profile-level-id=42E034", 1 },
		{ "packetization-mode=1", 0 },           /* 4200: not in "H264/42e0" */
		{ "profile-level-id=42e01f", 0 },        /* pm 0 */
		{ "profile-level-id=42e01f0;packetization-mode=1", 0 },
		{ "profile-level-id=640c1f;packetization-mode=1", 0 },
		{ "profile-level-id=42e01f;packetization-mode=10", 0 },
	};
	c.video_codecs = "H264/42e0";
	for (size_t i = 0; i < sizeof h264 / sizeof h264[0]; i++) {
		char fl[128];
		snprintf(fl, sizeof fl, "a=fmtp:100 %s", h264[i].fmtp);
		const char *s = edit("a=fmtp:100 profile-level-id=42e01f;packetization-mode=0", fl);
		assert_int_equal(rv_wsdp_parse(&o, s, strlen(s), err, sizeof err), 0);
		assert_true(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err) > 0);
		if (ch[1].accepted != h264[i].ok)
			fail_msg("%s: accepted %d", h264[i].fmtp, ch[1].accepted);
		rv_wsdp_offer_free(o);
	}
	c.video_codecs = "H264";

	static const struct { const char *from, *to, *why; } bad[] = {
		{ "v=0", "v=1", "line 1: not v=0" },
		{ "v=0\r\n", "", "line 1: the SDP does not start with v=0" },
		{ "s=-", "s", "line 3: not a type=value line" },
		{ "s=-", "s=\001", "line 3: a control character" },
		{ "a=group:BUNDLE a v\r\n", "", "no BUNDLE group (a=group:BUNDLE)" },
		{ "BUNDLE a v", "BUNDLE a v x", "BUNDLE names mid x: no such m= line" },
		{ "a=mid:v", "a=mid:a", "mid a twice" },
		{ "a=mid:v", "a=mid:v w", "line 17: mid: not a token of at most 31 bytes" },
		{ "a=mid:v\r\n", "", "m= line 2 (video) has no mid" },
		{ "a=mid:v\r\na=ice-ufrag:uf01", "a=mid:v\r\n", "no ice-ufrag for mid v" },
		{ "a=fingerprint:sha-256 " FP "\r\n", "", "no fingerprint for mid a" },
		{ "fingerprint:sha-256 ", "fingerprint:sha-1 ", "not sha-256: the fingerprint is sha-1" },
		{ "sha-256 7A", "sha-256 7G", "line 6: fingerprint: sha-256 needs 32 hex pairs" },
		{ "opus/48000/2", "opus/x", "line 14: rtpmap: bad clock rate" },
		{ "opus/48000/2", "opus/48000/9", "line 14: rtpmap: bad channel count" },
		{ "a=setup:actpass", "a=setup:both", "line 12: setup:both: not actpass, active or passive" },
		{ "SAVPF 111 0", "SAVPF 111 0 128", "line 7: m=: bad payload type" },
		{ "SAVPF 111 0", "SAVPF 111 111", "line 7: m=: payload type 111 twice" },
		{ "SAVPF 111 0", "SAVPF", "line 7: m=: bad or no format" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect(edit(bad[i].from, bad[i].to), RV_EPROTO, bad[i].why);
	expect("", RV_EPROTO, "no m= line");

	/* The offer's setup:active leaves rvserver no DTLS role. */
	const char *act = edit("a=setup:actpass", "a=setup:active");
	assert_int_equal(rv_wsdp_parse(&o, act, strlen(act), err, sizeof err), 0);
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), RV_EPROTO);
	assert_string_equal(err, "setup:active in the offer: rvserver is the DTLS client (offer actpass)");
	rv_wsdp_offer_free(o);

	/* A bad conf is the caller's bug. */
	assert_int_equal(rv_wsdp_parse(&o, base, strlen(base), err, sizeof err), 0);
	c.fingerprint = "7A:11";
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), -EINVAL);
	c = conf(RV_WSDP_WHIP, NULL);
	c.cand_ip[0] = "rv.example.com";
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), -EINVAL);
	assert_string_equal(err, "candidate 1: not an IP literal");
	c = conf(RV_WSDP_WHIP, NULL);
	c.no_udp = 1;
	c.tcp_port = 0;
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), -EINVAL);
	assert_string_equal(err, "no UDP candidates needs a TCP port");
	c = conf(RV_WSDP_WHIP, "VP9");
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), -EINVAL);
	c = conf(RV_WSDP_WHIP, NULL);
	c.pwd = "short";
	assert_int_equal(rv_wsdp_answer(o, &c, out, sizeof out, ch, 2, err, sizeof err), -EINVAL);
	rv_wsdp_offer_free(o);
}

static void caps(void **state)
{
	(void)state;
	static char big[RV_WSDP_MAX_SDP * 2];
	char err[200];
	struct rv_wsdp_offer *o;
	/* the whole SDP */
	memset(big, 'x', RV_WSDP_MAX_SDP + 1);
	assert_int_equal(rv_wsdp_parse(&o, big, RV_WSDP_MAX_SDP + 1, err, sizeof err), RV_ETOOBIG);
	assert_string_equal(err, "SDP of 16385 bytes: more than 16384");
	/* one line */
	char longline[RV_WSDP_MAX_LINE + 8];
	memset(longline, 'y', sizeof longline);
	memcpy(longline, "s=", 2);
	longline[RV_WSDP_MAX_LINE + 1] = 0;
	expect(edit("s=-", longline), RV_ETOOBIG, "line 3: longer than 1024 bytes");
	longline[RV_WSDP_MAX_LINE] = 0;     /* exactly the cap: fine */
	const char *s = edit("s=-", longline);
	assert_int_equal(rv_wsdp_parse(&o, s, strlen(s), err, sizeof err), 0);
	rv_wsdp_offer_free(o);
	/* m= lines */
	size_t n = (size_t)snprintf(big, sizeof big, "%s", base);
	for (int i = 0; i < RV_WSDP_MAX_MEDIA - 1; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "m=audio 0 RTP/AVP 0\r\n");
	assert_int_equal(rv_wsdp_parse(&o, big, n, err, sizeof err), RV_ETOOBIG);
	assert_string_equal(err, "line 38: more than 16 m= lines");
	/* payload types */
	n = (size_t)snprintf(big, sizeof big, "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF");
	for (int i = 0; i <= RV_WSDP_MAX_CODECS; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, " %d", i);
	assert_int_equal(rv_wsdp_parse(&o, big, n, err, sizeof err), RV_ETOOBIG);
	assert_string_equal(err, "line 2: m=: more than 64 payload types");
	/* fmtp text */
	char fmtp[300];
	memset(fmtp, 'f', sizeof fmtp);
	memcpy(fmtp, "a=fmtp:100 ", 11);
	fmtp[sizeof fmtp - 1] = 0;
	expect(edit("a=fmtp:100 profile-level-id=42e01f;packetization-mode=0", fmtp), RV_ETOOBIG,
	       "line 23: fmtp: longer than 255 bytes");
	/* the answer's buffer */
	assert_int_equal(rv_wsdp_parse(&o, base, strlen(base), err, sizeof err), 0);
	struct rv_wsdp_answer_conf c = conf(RV_WSDP_WHIP, NULL);
	int len = rv_wsdp_answer(o, &c, out, sizeof out, NULL, 0, err, sizeof err);
	assert_true(len > 0);
	char small[2048];
	assert_true((size_t)len < sizeof small);
	assert_int_equal(rv_wsdp_answer(o, &c, small, (size_t)len + 1, NULL, 0, err, sizeof err), len);
	assert_int_equal(rv_wsdp_answer(o, &c, small, (size_t)len, NULL, 0, err, sizeof err), RV_ETOOBIG);
	assert_string_equal(small, "");
	rv_wsdp_offer_free(o);
}

/* `test_wsdp answer whip|whep [VIDEO_CODECS]`: offer on stdin, answer out. */
static int answer_main(int argc, char **argv)
{
	static char in[RV_WSDP_MAX_SDP + 1];
	size_t n = fread(in, 1, sizeof in, stdin);
	struct rv_wsdp_offer *o;
	char err[256];
	int r = rv_wsdp_parse(&o, in, n, err, sizeof err);
	if (r == 0) {
		struct rv_wsdp_answer_conf c = conf(strcmp(argv[2], "whep") ? RV_WSDP_WHIP : RV_WSDP_WHEP,
						    argc > 3 ? argv[3] : NULL);
		c.cand_ip[0] = "127.0.0.1";
		c.ncand = 1;
		r = rv_wsdp_answer(o, &c, out, sizeof out, NULL, 0, err, sizeof err);
		rv_wsdp_offer_free(o);
	}
	if (r < 0) {
		fprintf(stderr, "test_wsdp: %s\n", err);
		return 1;
	}
	fputs(out, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "answer"))
		return answer_main(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chromium_whip),
		cmocka_unit_test(lf_only),
		cmocka_unit_test(firefox_whip),
		cmocka_unit_test(whep),
		cmocka_unit_test(video_only_and_datachannel),
		cmocka_unit_test(aiortc_and_obs),
		cmocka_unit_test(simulcast),
		cmocka_unit_test(rejections),
		cmocka_unit_test(fragments),
		cmocka_unit_test(errors),
		cmocka_unit_test(caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
