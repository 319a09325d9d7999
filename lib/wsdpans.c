/* wsdpans.c - the WebRTC SDP answer builder (wsdp.h): choose per m= line,
 * then write the text. The answer is an ICE-lite, DTLS-client (setup:active)
 * endpoint's; it echoes the offer's payload type numbers and video fmtp
 * (browsers map PTs by number, webrtc-media.md section 5). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "wsdp.h"
#include "wsdp_int.h"

#define MAX_PREF 8

struct pref {                        /* one entry of a codec preference list */
	char name[8];                /* "VP8", "H264", "opus", "PCMU", "PCMA" */
	char profile[5];             /* H264: "42e0"...; "" any of the role's */
};

struct ans {
	const struct rv_wsdp_offer *o;
	const struct rv_wsdp_answer_conf *c;
	struct pref video[MAX_PREF], audio[MAX_PREF];
	int nvideo, naudio;
	const char *vlist, *alist;   /* the lists as given, for messages */
	struct rv_wsdp_choice ch[RV_WSDP_MAX_MEDIA];
	char *out;
	size_t cap, len;
	int over;
};

static int parse_prefs(const char *list, struct pref *v, int *n, int video)
{
	static const char *const known[2][3] = { { "opus", "PCMU", "PCMA" }, { "VP8", "H264", "" } };
	const char *s = list;
	*n = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		char item[16];
		if (len == 0 || len >= sizeof item || *n == MAX_PREF)
			return -1;
		memcpy(item, s, len);
		item[len] = 0;
		s += len + (s[len] == ',');
		struct pref *p = &v[(*n)++];
		char *slash = strchr(item, '/');
		if (slash) {
			*slash++ = 0;
			if (!video || strlen(slash) != 4 || strcasecmp(item, "H264"))
				return -1;
			strcpy(p->profile, slash);
		}
		int ok = 0;
		for (int i = 0; i < 3 && !ok; i++)
			if (known[video][i][0] && !strcasecmp(item, known[video][i]))
				ok = 1, strcpy(p->name, known[video][i]);
		if (!ok)
			return -1;
	}
	return 0;
}

/* fmtp_get - the value of KEY in an fmtp "a=1;b=2" into V (CAP bytes); -1
 * without one, -2 if too long. */
static int fmtp_get(const char *fmtp, const char *key, char *v, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *s = fmtp; *s;) {
		while (*s == ' ' || *s == ';')
			s++;
		size_t n = strcspn(s, ";");
		if (n > kl && !strncasecmp(s, key, kl) && s[kl] == '=') {
			if (n - kl - 1 >= cap)
				return -2;
			memcpy(v, s + kl + 1, n - kl - 1);
			v[n - kl - 1] = 0;
			return 0;
		}
		s += n;
	}
	return -1;
}

/* H.264: same profile (profile_idc and iop, RFC 6184 8.2.2; absent means
 * 42000a) and packetization-mode=1 (lib/rtp.c's). */
static int h264_ok(const struct rv_wsdp_codec *k, const char *profile)
{
	char plid[8] = "42000a", pm[4] = "0";
	if (fmtp_get(k->fmtp, "profile-level-id", plid, sizeof plid) == -2 ||
	    fmtp_get(k->fmtp, "packetization-mode", pm, sizeof pm) == -2)
		return 0;
	return strlen(plid) == 6 && !strncasecmp(plid, profile, 4) && !strcmp(pm, "1");
}

static int codec_ok(const struct rv_wsdp_codec *k, const struct pref *p, const char *profile)
{
	if (strcasecmp(k->name, p->name))
		return 0;
	if (!strcmp(p->name, "opus"))
		return k->clock == 48000 && k->channels == 2;
	if (p->name[0] == 'P')
		return k->clock == 8000 && k->channels == 1;
	if (k->clock != 90000)
		return 0;
	return strcmp(p->name, "H264") || h264_ok(k, profile);
}

/* pick - the first codec of M in the preference order. */
static const struct rv_wsdp_codec *pick(const struct ans *a, const struct rv_wsdp_media *m,
					const struct pref *prefs, int n)
{
	static const char *const whip_profiles[] = { "42e0", "4200", "4d00" };
	for (int i = 0; i < n; i++) {
		const struct pref *p = &prefs[i];
		int np = strcmp(p->name, "H264") || p->profile[0] || a->c->role == RV_WSDP_WHEP ? 1 : 3;
		for (int j = 0; j < np; j++) {
			const char *profile = p->profile[0] ? p->profile : whip_profiles[j];
			for (int k = 0; k < m->ncodecs; k++)
				if (codec_ok(&m->codecs[k], p, profile))
					return &m->codecs[k];
		}
	}
	return NULL;
}

/* offered - the distinct media codec names of M ("VP9, AV1"). */
static void offered(const struct rv_wsdp_media *m, char *dst, size_t cap)
{
	static const char *const aux[] = { "rtx", "red", "ulpfec", "flexfec-03", "CN",
					   "telephone-event", "" };
	size_t len = 0;
	dst[0] = 0;
	for (int i = 0; i < m->ncodecs; i++) {
		const char *name = m->codecs[i].name;
		int skip = 0;
		for (int j = 0; aux[j][0] && !skip; j++)
			skip = !strcasecmp(name, aux[j]);
		for (int j = 0; j < i && !skip; j++)
			skip = !strcasecmp(name, m->codecs[j].name);
		if (!skip && name[0] && len + strlen(name) + 3 < cap)
			len += (size_t)snprintf(dst + len, cap - len, "%s%s", len ? ", " : "", name);
	}
	if (!dst[0])
		snprintf(dst, cap, "nothing we know");
}

static int rtx_of(const struct rv_wsdp_media *m, int pt)
{
	for (int i = 0; i < m->ncodecs; i++)
		if (!strcasecmp(m->codecs[i].name, "rtx") && m->codecs[i].apt == pt)
			return m->codecs[i].pt;
	return -1;
}

static int in_bundle(const struct rv_wsdp_offer *o, const char *mid)
{
	for (int i = 0; i < o->nbundle; i++)
		if (!strcmp(o->bundle[i], mid))
			return 1;
	return 0;
}

/* Why M cannot be accepted in this role, or NULL. */
static const char *unfit(const struct ans *a, const struct rv_wsdp_media *m, int video)
{
	int whip = a->c->role == RV_WSDP_WHIP;
	if (m->rejected)
		return "rejected in the offer (port 0)";
	if (!strcmp(m->kind, "application"))
		return "data channels are not supported";
	if (strcmp(m->kind, "audio") && strcmp(m->kind, "video"))
		return "unknown media kind";
	if (!strstr(m->proto, "RTP/SAVPF"))
		return "transport is not UDP/TLS/RTP/SAVPF";
	if (!in_bundle(a->o, m->mid))
		return "not in the BUNDLE group";
	if (m->dir == RV_WSDP_INACTIVE || m->dir == (whip ? RV_WSDP_RECVONLY : RV_WSDP_SENDONLY))
		return whip ? "the offer does not send here (WHIP receives)" :
			      "the offer does not receive here (WHEP sends)";
	if (!(video ? a->nvideo : a->naudio))
		return video ? "no video here" : "no audio here";
	return NULL;
}

/* choose - fill a->ch[i] for the offer's m= line I; <0 when fatal. */
static int choose(struct ans *a, int i, char *err, size_t errlen)
{
	const struct rv_wsdp_media *m = &a->o->media[i];
	struct rv_wsdp_choice *ch = &a->ch[i];
	int video = !strcmp(m->kind, "video");
	memset(ch, 0, sizeof *ch);
	ch->pt = ch->rtx_pt = -1;
	if (video || !strcmp(m->kind, "audio"))
		strcpy(ch->kind, m->kind);
	strcpy(ch->mid, m->mid);
	const char *why = unfit(a, m, video);
	if (why) {
		snprintf(ch->why, sizeof ch->why, "%s", why);
		return 0;
	}
	const struct rv_wsdp_codec *k = video ? pick(a, m, a->video, a->nvideo) :
						pick(a, m, a->audio, a->naudio);
	if (!k) {
		char have[48];
		offered(m, have, sizeof have);
		if (a->c->role == RV_WSDP_WHEP)
			return wsdp_err(RV_EPROTO, err, errlen, "stream is %s, the browser offers %s",
					video ? a->vlist : a->alist, have);
		snprintf(ch->why, sizeof ch->why, "no codec in common: the offer has %s; we take %.32s",
			 have, video ? a->vlist : a->alist);
		return 0;
	}
	if (m->setup == RV_WSDP_ACTIVE)
		return wsdp_err(RV_EPROTO, err, errlen,
				"setup:active in the offer: rvserver is the DTLS client (offer actpass)");
	ch->accepted = 1;
	ch->pt = k->pt;
	static const char *const names[] = { "VP8", "H264", "opus", "PCMU", "PCMA" };
	for (int j = 0; j < 5; j++)
		if (!strcasecmp(k->name, names[j]))
			strcpy(ch->codec, names[j]);
	ch->clock = k->clock;
	ch->channels = k->channels;
	if (!strcmp(ch->codec, "opus"))
		snprintf(ch->fmtp, sizeof ch->fmtp, "minptime=10;useinbandfec=1%s",
			 a->c->role == RV_WSDP_WHEP && a->c->opus_stereo ? ";stereo=1;sprop-stereo=1" : "");
	else if (video)
		strcpy(ch->fmtp, k->fmtp);
	if (!m->has_rid && !m->has_simulcast)
		ch->remote_ssrc = m->fid[0] ? m->fid[0] : m->nssrcs ? m->ssrcs[0].ssrc : 0;
	ch->rtx_pt = rtx_of(m, k->pt);
	ch->mid_ext_id = rv_wsdp_extmap_id(m, RV_WSDP_EXT_MID);
	if (video)
		ch->fb = k->fb & (RV_WSDP_FB_NACK | RV_WSDP_FB_PLI | RV_WSDP_FB_FIR |
				  (a->c->role == RV_WSDP_WHIP ? RV_WSDP_FB_REMB : 0));
	return 0;
}

__attribute__((format(printf, 2, 3)))
static void put(struct ans *a, const char *fmt, ...)
{
	va_list ap;
	size_t room = a->len < a->cap ? a->cap - a->len : 0;
	va_start(ap, fmt);
	int n = vsnprintf(a->out + (room ? a->len : 0), room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		a->over = 1;
	else
		a->len += (size_t)n;
}

static void put_rejected(struct ans *a, const struct rv_wsdp_media *m)
{
	put(a, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->kind, m->proto, m->fmt);
	if (m->mid[0])
		put(a, "a=mid:%s\r\n", m->mid);
}

static void put_accepted(struct ans *a, const struct rv_wsdp_media *m, const struct rv_wsdp_choice *ch)
{
	const struct rv_wsdp_answer_conf *c = a->c;
	int whep = c->role == RV_WSDP_WHEP, video = !strcmp(ch->kind, "video");
	put(a, "m=%s 9 %s %d\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\n", m->kind, m->proto, ch->pt, m->mid);
	put(a, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\n", c->ufrag, c->pwd,
	    c->fingerprint);
	put(a, "a=setup:active\r\na=rtcp-mux\r\na=%s\r\n", whep ? "sendonly" : "recvonly");
	if (ch->mid_ext_id)
		put(a, "a=extmap:%d %s\r\n", ch->mid_ext_id, RV_WSDP_EXT_MID);
	put(a, "a=rtpmap:%d %s/%d", ch->pt, ch->codec, ch->clock);
	put(a, ch->channels > 1 ? "/%d\r\n" : "\r\n", ch->channels);
	if (ch->fmtp[0])
		put(a, "a=fmtp:%d %s\r\n", ch->pt, ch->fmtp);
	static const char *const fb[] = { "nack", "nack pli", "ccm fir", "goog-remb" };
	for (int i = 0; i < 4; i++)
		if (ch->fb & (1u << i))
			put(a, "a=rtcp-fb:%d %s\r\n", ch->pt, fb[i]);
	if (whep) {
		const char *stream = c->msid_stream ? c->msid_stream : "rv";
		uint32_t ssrc = video ? c->send_ssrc_video : c->send_ssrc_audio;
		put(a, "a=msid:%s %s-%s\r\n", stream, stream, ch->kind);
		if (ssrc)
			put(a, "a=ssrc:%u cname:%s\r\na=ssrc:%u msid:%s %s-%s\r\n", (unsigned)ssrc,
			    c->cname ? c->cname : "rvserver", (unsigned)ssrc, stream, stream, ch->kind);
	}
	for (int i = 0; i < c->ncand; i++) {
		if (!c->no_udp)
			put(a, "a=candidate:%d 1 udp %u %s %u typ host\r\n", i + 1, RV_WSDP_UDP_PRIORITY,
			    c->cand_ip[i], (unsigned)c->port);
		if (c->tcp_port)
			put(a, "a=candidate:%d 1 tcp %u %s %u typ host tcptype passive\r\n", c->ncand + i + 1,
			    RV_WSDP_TCP_PRIORITY, c->cand_ip[i], (unsigned)c->tcp_port);
	}
	put(a, "a=end-of-candidates\r\n");
}

static uint64_t session_id(const struct rv_wsdp_answer_conf *c)
{
	if (c->session_id)
		return c->session_id;
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */
	for (const char *s = c->ufrag; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (h >> 2) + 1;
}

static void write_answer(struct ans *a)
{
	const struct rv_wsdp_offer *o = a->o;
	put(a, "v=0\r\no=- %llu 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE",
	    (unsigned long long)session_id(a->c));
	for (int i = 0; i < o->nmedia; i++)
		if (a->ch[i].accepted)
			put(a, " %s", o->media[i].mid);
	put(a, "\r\na=ice-lite\r\n");
	if (a->c->role == RV_WSDP_WHEP)
		put(a, "a=msid-semantic: WMS %s\r\n", a->c->msid_stream ? a->c->msid_stream : "rv");
	for (int i = 0; i < o->nmedia; i++) {
		if (a->ch[i].accepted)
			put_accepted(a, &o->media[i], &a->ch[i]);
		else
			put_rejected(a, &o->media[i]);
	}
}

static int ice_chars(const char *s, size_t min)
{
	size_t n = s ? strlen(s) : 0;
	if (n < min || n > 255)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/") == n;
}

static int fingerprint_ok(const char *s)
{
	if (!s || strlen(s) != 95)
		return 0;
	for (int i = 0; i < 95; i++)
		if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789ABCDEFabcdef", s[i]) || !s[i])
			return 0;
	return 1;
}

static int check_conf(struct ans *a, char *err, size_t errlen)
{
	const struct rv_wsdp_answer_conf *c = a->c;
	int whep = c->role == RV_WSDP_WHEP;
	if (!ice_chars(c->ufrag, 4) || !ice_chars(c->pwd, 22))
		return wsdp_err(-EINVAL, err, errlen, "ice ufrag or pwd: too short or not ice-chars");
	if (!fingerprint_ok(c->fingerprint))
		return wsdp_err(-EINVAL, err, errlen, "fingerprint: not 32 hex pairs");
	if (c->ncand < 1 || c->ncand > 4 || !c->port)
		return wsdp_err(-EINVAL, err, errlen, "1 to 4 candidates and a port are needed");
	if (c->no_udp && !c->tcp_port)
		return wsdp_err(-EINVAL, err, errlen, "no UDP candidates needs a TCP port");
	for (int i = 0; i < c->ncand; i++) {
		unsigned char b[16];
		const char *ip = c->cand_ip[i];
		if (!ip || (inet_pton(AF_INET, ip, b) != 1 && inet_pton(AF_INET6, ip, b) != 1))
			return wsdp_err(-EINVAL, err, errlen, "candidate %d: not an IP literal", i + 1);
	}
	if ((c->msid_stream && !wsdp_token(c->msid_stream, 64)) || (c->cname && !wsdp_token(c->cname, 64)))
		return wsdp_err(-EINVAL, err, errlen, "msid_stream or cname: not a token");
	a->vlist = c->video_codecs ? c->video_codecs : "VP8,H264";
	a->alist = c->audio_codecs ? c->audio_codecs : whep ? "opus" : "opus,PCMU,PCMA";
	if (parse_prefs(a->vlist, a->video, &a->nvideo, 1) < 0)
		return wsdp_err(-EINVAL, err, errlen, "video_codecs: %.40s: not VP8, H264[/xxxx]", a->vlist);
	if (parse_prefs(a->alist, a->audio, &a->naudio, 0) < 0)
		return wsdp_err(-EINVAL, err, errlen, "audio_codecs: %.40s: not opus, PCMU, PCMA", a->alist);
	return 0;
}

int rv_wsdp_answer(const struct rv_wsdp_offer *o, const struct rv_wsdp_answer_conf *c,
		   char *out, size_t cap, struct rv_wsdp_choice *choices,
		   size_t nchoices, char *err, size_t errlen)
{
	struct ans a = { .o = o, .c = c, .out = out, .cap = cap };
	if (err && errlen)
		err[0] = 0;
	if (cap)
		out[0] = 0;
	int r = check_conf(&a, err, errlen);
	const char *first_why = NULL;
	int accepted = 0;
	for (int i = 0; i < o->nmedia && r == 0; i++) {
		r = choose(&a, i, err, errlen);
		accepted += a.ch[i].accepted;
		/* the reason told: the first, or the first codec mismatch */
		const char *why = a.ch[i].why;
		if (!a.ch[i].accepted && a.ch[i].kind[0] && !o->media[i].rejected &&
		    (!first_why || (strncmp(first_why, "no codec", 8) && !strncmp(why, "no codec", 8))))
			first_why = why;
	}
	if (r < 0)
		return r;
	if (!accepted)
		return wsdp_err(RV_EPROTO, err, errlen, "nothing to answer: %s",
				first_why ? first_why : "the offer has no audio or video");
	write_answer(&a);
	if (a.over) {
		if (cap)
			out[0] = 0;
		return wsdp_err(RV_ETOOBIG, err, errlen, "the answer needs more than %zu bytes", cap);
	}
	for (size_t i = 0; i < nchoices && i < (size_t)o->nmedia; i++)
		choices[i] = a.ch[i];
	return (int)a.len;
}
