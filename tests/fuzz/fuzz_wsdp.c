/* fuzz_wsdp.c - the WebRTC offer parser on any text, then the answer builder
 * on what it accepts, in both roles: the answer fits its buffer, parses again
 * with rv_wsdp_parse, keeps the offer's m= lines and mids in order, and its
 * BUNDLE group names exactly the accepted ones. Errors come with a reason.
 * The same text is parsed as a PATCH fragment too. The last input byte picks
 * the video preference and a small buffer, so RV_ETOOBIG is fuzzed too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "wsdp.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static char out[RV_WSDP_MAX_SDP];

static void answer(const struct rv_wsdp_offer *o, enum rv_wsdp_role role, uint8_t pick)
{
	static const char *const video[] = { NULL, "H264", "H264/4d00,VP8", "" };
	struct rv_wsdp_answer_conf c = {
		.role = role, .ufrag = "h3Kq9zP1", .pwd = "Zr8c0a+Tq1mWv7s3Hk2Lx9Pd",
		.fingerprint = "7A:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
			       "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:E1",
		.cand_ip = { "203.0.113.7", "2001:db8::7" }, .ncand = 2, .port = 7350,
		.video_codecs = video[pick & 3], .send_ssrc_audio = 1, .send_ssrc_video = 2,
	};
	size_t cap = pick & 4 ? 700 : sizeof out;
	struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
	char err[200];
	err[0] = 1;
	int n = rv_wsdp_answer(o, &c, out, cap, ch, RV_WSDP_MAX_MEDIA, err, sizeof err);
	if (n < 0) {
		CHECK(n == RV_EPROTO || n == RV_ETOOBIG);
		CHECK(err[0] && strnlen(err, sizeof err) < sizeof err);
		return;
	}
	CHECK((size_t)n < cap && strlen(out) == (size_t)n);
	struct rv_wsdp_offer *a;
	CHECK(rv_wsdp_parse(&a, out, (size_t)n, err, sizeof err) == 0);
	CHECK(a->nmedia == o->nmedia && a->ice_lite);
	int nb = 0;
	for (int i = 0; i < o->nmedia; i++) {
		CHECK(!strcmp(a->media[i].mid, o->media[i].mid));
		CHECK(!strcmp(a->media[i].kind, o->media[i].kind));
		CHECK(a->media[i].rejected == !ch[i].accepted);
		if (!ch[i].accepted)
			continue;
		CHECK(nb < a->nbundle && !strcmp(a->bundle[nb++], o->media[i].mid));
		CHECK(a->media[i].ncodecs == 1 && a->media[i].codecs[0].pt == ch[i].pt);
		CHECK(rv_wsdp_codec_find(&o->media[i], ch[i].pt));
	}
	CHECK(nb == a->nbundle);
	rv_wsdp_offer_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_wsdp_offer *o;
	char err[200];
	err[0] = 1;
	int r = rv_wsdp_parse_frag(&o, (const char *)data, size, err, sizeof err);
	CHECK(r == 0 ? o && o->nmedia <= RV_WSDP_MAX_MEDIA : !o && err[0]);
	rv_wsdp_offer_free(o);
	err[0] = 1;
	r = rv_wsdp_parse(&o, (const char *)data, size, err, sizeof err);
	if (r < 0) {
		CHECK(!o && (r == RV_EPROTO || r == RV_ETOOBIG));
		CHECK(err[0] && strnlen(err, sizeof err) < sizeof err);
		return 0;
	}
	uint8_t pick = size ? data[size - 1] : 0;
	answer(o, RV_WSDP_WHIP, pick);
	answer(o, RV_WSDP_WHEP, pick);
	rv_wsdp_offer_free(o);
	return 0;
}
