/* sdp.c - the video and audio parts of an SDP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sdp.h"

/* Where the lines go: the session part, the first m=video, the first
 * m=audio, or nowhere (other m= sections). */
enum { SEC_SESSION, SEC_VIDEO, SEC_AUDIO, SEC_SKIP };

struct sec {
	int seen;                    /* an m= line with a port and a payload type */
	int port, pt, clock, channels, width, height;
	char codec[16];
	int has_addr, v6;
	char addr[64];
	int has_crypto;
	char suite[32], key[64];
};

struct parse {
	int cur;
	struct sec s[3];             /* by SEC_SESSION, SEC_VIDEO, SEC_AUDIO */
};

/* c=IN IP4 ADDR[/TTL]: the last one of a section wins. */
static void on_conn(struct sec *s, const char *v)
{
	char net[8], type[8], addr[64];
	if (sscanf(v, "%7s %7s %63s", net, type, addr) != 3 || strcmp(net, "IN") != 0)
		return;
	addr[strcspn(addr, "/")] = 0;	/* multicast TTL */
	snprintf(s->addr, sizeof s->addr, "%s", addr);
	s->v6 = !strcmp(type, "IP6");
	s->has_addr = 1;
}

/* m=MEDIA PORT PROTO FMT...: the section the next lines belong to. */
static int on_media(struct parse *p, const char *v)
{
	char media[16], proto[32];
	int port, pt;
	if (sscanf(v, "%15s %d %31s %d", media, &port, proto, &pt) != 4 || port <= 0 || port >= 65536 ||
	    pt < 0 || pt >= 128)
		return SEC_SKIP;
	int sec = !strcmp(media, "video") ? SEC_VIDEO : !strcmp(media, "audio") ? SEC_AUDIO : SEC_SKIP;
	if (sec == SEC_SKIP || p->s[sec].seen)
		return SEC_SKIP;
	p->s[sec].seen = 1;
	p->s[sec].port = port;
	p->s[sec].pt = pt;
	return sec;
}

/* a=crypto:TAG SUITE inline:KEY[|LIFETIME][|MKI:LEN]: the first of a
 * section counts, even when it cannot be read (the caller says so). */
static void on_crypto(struct sec *s, const char *v)
{
	int tag;
	char suite[32], params[64];
	if (s->has_crypto)
		return;
	s->has_crypto = 1;
	if (sscanf(v, "%d %31s inline:%63s", &tag, suite, params) != 3)
		return;
	params[strcspn(params, "|")] = 0;
	snprintf(s->suite, sizeof s->suite, "%s", suite);
	snprintf(s->key, sizeof s->key, "%s", params);
}

/* a=rtpmap:PT CODEC/CLOCK[/CHANNELS] for the section's payload type. */
static void on_rtpmap(struct sec *s, const char *v)
{
	int pt, clock = 0, channels = 1;
	char codec[16];
	if (sscanf(v, "%d %15[^/]/%d/%d", &pt, codec, &clock, &channels) < 2 || pt != s->pt || s->codec[0])
		return;
	snprintf(s->codec, sizeof s->codec, "%s", codec);
	s->clock = clock;
	s->channels = channels;
}

static void on_framesize(struct sec *s, const char *v)
{
	int pt, w, h;
	if (sscanf(v, "%d %d-%d", &pt, &w, &h) == 3 && pt == s->pt && w > 0 && h > 0 && w <= 16384 && h <= 16384) {
		s->width = w;
		s->height = h;
	}
}

static void on_line(struct parse *p, char *line)
{
	char *v = line + 2;
	struct sec *s = p->cur == SEC_SKIP ? NULL : &p->s[p->cur];
	if (line[0] == 'm')
		p->cur = on_media(p, v);
	else if (!s)
		return;
	else if (line[0] == 'c')
		on_conn(s, v);
	else if (line[0] != 'a')
		return;
	else if (!strncmp(v, "crypto:", 7))
		on_crypto(s, v + 7);
	else if (!strncmp(v, "rtpmap:", 7) && p->cur != SEC_SESSION)
		on_rtpmap(s, v + 7);
	else if (!strncmp(v, "framesize:", 10) && p->cur == SEC_VIDEO)
		on_framesize(s, v + 10);
}

/* A section's address and key: its own, else the session's. */
static void resolve(const struct sec *s, const struct sec *session, char addr[64], int *v6, int *has_crypto,
		    char suite[32], char key[64])
{
	const struct sec *c = s->has_addr ? s : session;
	snprintf(addr, 64, "%s", c->has_addr ? c->addr : "0.0.0.0");
	*v6 = c->has_addr && c->v6;
	const struct sec *k = s->has_crypto ? s : session;
	*has_crypto = k->has_crypto;
	snprintf(suite, 32, "%s", k->suite);
	snprintf(key, 64, "%s", k->key);
}

static void fill(const struct parse *p, struct rv_sdp *out)
{
	const struct sec *v = &p->s[SEC_VIDEO], *a = &p->s[SEC_AUDIO], *ss = &p->s[SEC_SESSION];
	struct rv_sdp_audio *au = &out->audio;
	out->pt = v->seen ? v->pt : -1;
	out->port = v->port;
	snprintf(out->codec, sizeof out->codec, "%s", v->codec);
	out->clock = v->clock;
	out->width = v->width;
	out->height = v->height;
	resolve(v, ss, out->addr, &out->v6, &out->has_crypto, out->crypto_suite, out->crypto_key);
	au->pt = a->seen ? a->pt : -1;
	au->port = a->port;
	snprintf(au->codec, sizeof au->codec, "%s", a->codec);
	au->clock = a->clock;
	au->channels = a->channels;
	if (!au->codec[0] && (au->pt == 0 || au->pt == 8)) {	/* static types need no rtpmap (RFC 3551) */
		snprintf(au->codec, sizeof au->codec, "%s", au->pt ? "PCMA" : "PCMU");
		au->clock = 8000;
		au->channels = 1;
	}
	resolve(a, ss, au->addr, &au->v6, &au->has_crypto, au->crypto_suite, au->crypto_key);
}

int rv_sdp_has_video(const struct rv_sdp *s)
{
	return s->port > 0 && s->codec[0];
}

int rv_sdp_has_audio(const struct rv_sdp *s)
{
	return s->audio.port > 0 && s->audio.codec[0];
}

int rv_sdp_parse(const char *text, size_t len, struct rv_sdp *out, char *err, size_t errlen)
{
	static const struct parse zero;
	struct parse p = zero;
	char line[512];
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < len;) {
		size_t l = 0;
		while (i + l < len && text[i + l] != '\n')
			l++;
		size_t use = l && text[i + l - 1] == '\r' ? l - 1 : l;
		if (use >= sizeof line)
			use = sizeof line - 1;
		memcpy(line, text + i, use);
		line[use] = 0;
		i += l + 1;
		if (use >= 2 && line[1] == '=')
			on_line(&p, line);
	}
	fill(&p, out);
	if (rv_sdp_has_video(out) || rv_sdp_has_audio(out))
		return 0;
	if (!p.s[SEC_VIDEO].seen && !p.s[SEC_AUDIO].seen)
		snprintf(err, errlen, "no m=video or m=audio line with a port and a payload type");
	else if (p.s[SEC_VIDEO].seen)
		snprintf(err, errlen, "no a=rtpmap for payload type %d of m=video", out->pt);
	else
		snprintf(err, errlen, "no a=rtpmap for payload type %d of m=audio", out->audio.pt);
	return RV_EPROTO;
}
