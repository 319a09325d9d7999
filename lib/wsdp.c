/* wsdp.c - the WebRTC SDP offer parser (wsdp.h). One pass over the lines,
 * each copied to a bounded buffer; session-level values are kept aside and
 * applied at the end to the m= lines that have none of their own; then what
 * WebRTC needs is checked. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "wsdp.h"
#include "wsdp_int.h"

int wsdp_err(int code, char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int wsdp_token(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`{|}~", *s)))
			return 0;
	return 1;
}

enum { DIR_UNSET = -1 };

struct parser {
	struct rv_wsdp_offer *o;
	struct rv_wsdp_media *m;     /* the current m= line, NULL at session level */
	int line;
	int frag;                    /* an sdpfrag (RFC 8840): no v=, nothing required */
	char *err;
	size_t errlen;
	char ufrag[64], pwd[128], fp[96];
	enum rv_wsdp_setup setup;
	int dir;
	int mdir[RV_WSDP_MAX_MEDIA];
	char other_hash[16];         /* a fingerprint's hash that is not sha-256 */
};

#define BAD(p, ...) bad(p, RV_EPROTO, __VA_ARGS__)
#define BIG(p, ...) bad(p, RV_ETOOBIG, __VA_ARGS__)

__attribute__((format(printf, 3, 4)))
static int bad(struct parser *p, int code, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return wsdp_err(code, p->err, p->errlen, "line %d: %s", p->line, why);
}

/* Tokens of a line: S advances past the token and the spaces after it. */
static void skipsp(const char **s)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
}

/* word - the next token into DST (CAP bytes): 0, -1 if none, -2 if too long. */
static int word(const char **s, char *dst, size_t cap)
{
	size_t n = strcspn(*s, " \t");
	if (n == 0)
		return -1;
	if (n >= cap)
		return -2;
	memcpy(dst, *s, n);
	dst[n] = 0;
	*s += n;
	skipsp(s);
	return 0;
}

/* num - a decimal number of at most MAX, stopping at any non-digit. */
static int num(const char **s, unsigned long max, unsigned long *v)
{
	unsigned long x = 0;
	const char *q = *s;
	if (*q < '0' || *q > '9')
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		x = x * 10 + (unsigned long)(*q - '0');
		if (x > max)
			return -1;
	}
	*s = q;
	*v = x;
	return 0;
}

/* copy - the rest of S (trailing blanks dropped) into DST, or -1 if too long. */
static int copy(const char *s, char *dst, size_t cap)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

static struct rv_wsdp_codec *codec_of(struct rv_wsdp_media *m, const char **s)
{
	unsigned long pt;
	if (num(s, 127, &pt) < 0 || (**s != ' ' && **s != '\t'))
		return NULL;
	skipsp(s);
	return (struct rv_wsdp_codec *)rv_wsdp_codec_find(m, (int)pt);
}

const struct rv_wsdp_codec *rv_wsdp_codec_find(const struct rv_wsdp_media *m, int pt)
{
	for (int i = 0; i < m->ncodecs; i++)
		if (m->codecs[i].pt == pt)
			return &m->codecs[i];
	return NULL;
}

int rv_wsdp_extmap_id(const struct rv_wsdp_media *m, const char *uri)
{
	for (int i = 0; i < m->nextmap; i++)
		if (!strcmp(m->extmap[i].uri, uri))
			return m->extmap[i].id;
	return 0;
}

static int m_line(struct parser *p, const char *s)
{
	struct rv_wsdp_offer *o = p->o;
	unsigned long port, pt, n;
	if (o->nmedia == RV_WSDP_MAX_MEDIA)
		return BIG(p, "more than %d m= lines", RV_WSDP_MAX_MEDIA);
	p->mdir[o->nmedia] = DIR_UNSET;
	struct rv_wsdp_media *m = p->m = &o->media[o->nmedia++];
	if (word(&s, m->kind, sizeof m->kind) < 0)
		return BAD(p, "m=: bad media kind");
	if (num(&s, 65535, &port) < 0 || (*s == '/' && (s++, num(&s, 65535, &n) < 0)))
		return BAD(p, "m=: bad port");
	m->port = (int)port;
	skipsp(&s);
	if (word(&s, m->proto, sizeof m->proto) < 0)
		return BAD(p, "m=: bad transport");
	const char *fmts = s;
	if (word(&s, m->fmt, sizeof m->fmt) < 0)
		return BAD(p, "m=: bad or no format");
	s = fmts;
	if (!strstr(m->proto, "RTP/"))
		return 0;	/* a data channel: its formats are no payload types */
	while (*s) {
		if (num(&s, 127, &pt) < 0 || (*s && *s != ' ' && *s != '\t'))
			return BAD(p, "m=: bad payload type");
		skipsp(&s);
		if (rv_wsdp_codec_find(m, (int)pt))
			return BAD(p, "m=: payload type %lu twice", pt);
		if (m->ncodecs == RV_WSDP_MAX_CODECS)
			return BIG(p, "m=: more than %d payload types", RV_WSDP_MAX_CODECS);
		struct rv_wsdp_codec *c = &m->codecs[m->ncodecs++];
		c->pt = (int)pt;
		c->channels = 1;
		c->apt = -1;
		if (pt == 0 || pt == 8) {	/* static payload types (RFC 3551) */
			strcpy(c->name, pt ? "PCMA" : "PCMU");
			c->clock = 8000;
		}
	}
	if (!m->ncodecs)
		return BAD(p, "m=: no payload type");
	return 0;
}

static int rtpmap(struct parser *p, struct rv_wsdp_media *m, const char *s)
{
	unsigned long clock, ch = 1;
	struct rv_wsdp_codec *c = codec_of(m, &s);
	if (!c)
		return 0;	/* not in the m= line: ignored */
	size_t n = strcspn(s, "/");
	if (n == 0 || n >= sizeof c->name || !s[n])
		return BAD(p, "rtpmap: bad encoding name");
	memcpy(c->name, s, n);
	c->name[n] = 0;
	s += n + 1;
	if (num(&s, 10000000, &clock) < 0 || clock == 0)
		return BAD(p, "rtpmap: bad clock rate");
	if (*s == '/' && (s++, num(&s, 8, &ch) < 0 || ch == 0))
		return BAD(p, "rtpmap: bad channel count");
	c->clock = (int)clock;
	c->channels = (int)ch;
	return 0;
}

static int fmtp(struct parser *p, struct rv_wsdp_media *m, const char *s)
{
	struct rv_wsdp_codec *c = codec_of(m, &s);
	if (!c)
		return 0;
	if (copy(s, c->fmtp, sizeof c->fmtp) < 0)
		return BIG(p, "fmtp: longer than %zu bytes", sizeof c->fmtp - 1);
	const char *a = strstr(c->fmtp, "apt=");
	unsigned long apt;
	if (a && (a == c->fmtp || a[-1] == ';' || a[-1] == ' ') && (a += 4, num(&a, 127, &apt) == 0))
		c->apt = (int)apt;
	return 0;
}

static int rtcp_fb(struct parser *p, struct rv_wsdp_media *m, const char *s)
{
	struct rv_wsdp_codec *c = NULL;
	(void)p;
	if (*s == '*')
		s++, skipsp(&s);
	else if (!(c = codec_of(m, &s)))
		return 0;
	char t[160];
	if (copy(s, t, sizeof t) < 0)
		return 0;
	unsigned fb = !strcmp(t, "nack") ? RV_WSDP_FB_NACK : !strcmp(t, "nack pli") ? RV_WSDP_FB_PLI :
		      !strcmp(t, "ccm fir") ? RV_WSDP_FB_FIR : !strcmp(t, "goog-remb") ? RV_WSDP_FB_REMB :
		      !strcmp(t, "transport-cc") ? RV_WSDP_FB_TWCC : 0;
	for (int i = 0; i < m->ncodecs; i++)
		if (!c || c == &m->codecs[i])
			m->codecs[i].fb |= fb;
	return 0;
}

static int extmap(struct parser *p, struct rv_wsdp_media *m, const char *s)
{
	unsigned long id;
	char dir[16];
	if (num(&s, 255, &id) < 0 || id == 0 || (*s == '/' && word(&s, dir, sizeof dir) < 0))
		return BAD(p, "extmap: bad id");
	skipsp(&s);
	if (m->nextmap == RV_WSDP_MAX_EXTMAP)
		return BIG(p, "more than %d extmap lines", RV_WSDP_MAX_EXTMAP);
	struct rv_wsdp_extmap *e = &m->extmap[m->nextmap];
	int r = word(&s, e->uri, sizeof e->uri);
	if (r == -2)
		return BIG(p, "extmap: uri longer than %zu bytes", sizeof e->uri - 1);
	if (r < 0)
		return BAD(p, "extmap: no uri");
	e->id = (int)id;
	m->nextmap++;
	return 0;
}

static int ssrc(struct parser *p, struct rv_wsdp_media *m, const char *s)
{
	unsigned long v;
	if (num(&s, 0xffffffffUL, &v) < 0 || (*s != ' ' && *s != '\t'))
		return BAD(p, "ssrc: bad number");
	skipsp(&s);
	struct rv_wsdp_ssrc *x = NULL;
	for (int i = 0; i < m->nssrcs && !x; i++)
		if (m->ssrcs[i].ssrc == v)
			x = &m->ssrcs[i];
	if (!x) {
		if (m->nssrcs == RV_WSDP_MAX_SSRCS)
			return BIG(p, "more than %d ssrcs in an m= line", RV_WSDP_MAX_SSRCS);
		x = &m->ssrcs[m->nssrcs++];
		x->ssrc = (uint32_t)v;
	}
	if (!strncmp(s, "cname:", 6) && copy(s + 6, x->cname, sizeof x->cname) < 0)
		return BIG(p, "ssrc: cname longer than %zu bytes", sizeof x->cname - 1);
	if (!strncmp(s, "msid:", 5) && copy(s + 5, x->msid, sizeof x->msid) < 0)
		return BIG(p, "ssrc: msid longer than %zu bytes", sizeof x->msid - 1);
	return 0;
}

static int ssrc_group(struct parser *p, struct rv_wsdp_media *m, const char *s)
{
	unsigned long a, b;
	if (!strncmp(s, "SIM ", 4))
		m->has_simulcast = 1;
	if (strncmp(s, "FID ", 4))
		return 0;
	s += 4;
	skipsp(&s);
	if (num(&s, 0xffffffffUL, &a) < 0 || (skipsp(&s), num(&s, 0xffffffffUL, &b) < 0))
		return BAD(p, "ssrc-group:FID: bad ssrc");
	if (!m->fid[0]) {	/* simulcast has one per layer: the first is kept */
		m->fid[0] = (uint32_t)a;
		m->fid[1] = (uint32_t)b;
	}
	return 0;
}

static int bundle(struct parser *p, const char *s)
{
	struct rv_wsdp_offer *o = p->o;
	if (strncmp(s, "BUNDLE", 6) || (s[6] && s[6] != ' ') || o->nbundle)
		return 0;	/* another group, or a second BUNDLE: ignored */
	s += 6;
	skipsp(&s);
	while (*s) {
		if (o->nbundle == RV_WSDP_MAX_MEDIA)
			return BIG(p, "BUNDLE: more than %d mids", RV_WSDP_MAX_MEDIA);
		char *mid = o->bundle[o->nbundle];
		if (word(&s, mid, sizeof o->bundle[0]) < 0 || !wsdp_token(mid, sizeof o->bundle[0]))
			return BAD(p, "group:BUNDLE: bad mid");
		o->nbundle++;
	}
	if (!o->nbundle)
		return BAD(p, "group:BUNDLE: no mid");
	return 0;
}

static int fingerprint(struct parser *p, char *dst, const char *s)
{
	char hash[16], v[128];
	if (word(&s, hash, sizeof hash) < 0 || copy(s, v, sizeof v) < 0)
		return BAD(p, "fingerprint: malformed");
	if (strcasecmp(hash, "sha-256")) {
		strcpy(p->other_hash, hash);
		return 0;
	}
	if (strlen(v) != 95)
		return BAD(p, "fingerprint: sha-256 needs 32 hex pairs");
	for (int i = 0; i < 95; i++) {
		char c = v[i];
		int ok = i % 3 == 2 ? c == ':' : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
						  (c >= 'A' && c <= 'F');
		if (!ok)
			return BAD(p, "fingerprint: sha-256 needs 32 hex pairs");
		v[i] = (char)(c >= 'a' && c <= 'f' ? c - 32 : c);
	}
	strcpy(dst, v);
	return 0;
}

static int setup(struct parser *p, enum rv_wsdp_setup *dst, const char *s)
{
	if (!strcmp(s, "actpass"))
		*dst = RV_WSDP_ACTPASS;
	else if (!strcmp(s, "active"))
		*dst = RV_WSDP_ACTIVE;
	else if (!strcmp(s, "passive"))
		*dst = RV_WSDP_PASSIVE;
	else
		return BAD(p, "setup:%.20s: not actpass, active or passive", s);
	return 0;
}

static int direction(const char *name)
{
	static const char *const names[] = { "sendrecv", "sendonly", "recvonly", "inactive" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i]))
			return i;
	return DIR_UNSET;
}

/* ICE and DTLS attributes, at either level. */
static int transport_attr(struct parser *p, const char *name, const char *v)
{
	struct rv_wsdp_media *m = p->m;
	char *ufrag = m ? m->ufrag : p->ufrag, *pwd = m ? m->pwd : p->pwd;
	if (!strcmp(name, "ice-ufrag") && (copy(v, ufrag, sizeof m->ufrag) < 0 || strchr(ufrag, ' ')))
		return BAD(p, "ice-ufrag: malformed or longer than %zu bytes", sizeof m->ufrag - 1);
	if (!strcmp(name, "ice-pwd") && (copy(v, pwd, sizeof m->pwd) < 0 || strchr(pwd, ' ')))
		return BAD(p, "ice-pwd: malformed or longer than %zu bytes", sizeof m->pwd - 1);
	if (!strcmp(name, "fingerprint"))
		return fingerprint(p, m ? m->fingerprint : p->fp, v);
	if (!strcmp(name, "setup"))
		return setup(p, m ? &m->setup : &p->setup, v);
	int d = direction(name);
	if (d != DIR_UNSET)
		*(m ? &p->mdir[m - p->o->media] : &p->dir) = d;
	return 0;
}

static int media_attr(struct parser *p, struct rv_wsdp_media *m, const char *name, const char *v)
{
	if (!strcmp(name, "mid")) {
		if (copy(v, m->mid, sizeof m->mid) < 0 || !wsdp_token(m->mid, sizeof m->mid))
			return BAD(p, "mid: not a token of at most %zu bytes", sizeof m->mid - 1);
		return 0;
	}
	if (!strcmp(name, "rtpmap"))
		return rtpmap(p, m, v);
	if (!strcmp(name, "fmtp"))
		return fmtp(p, m, v);
	if (!strcmp(name, "rtcp-fb"))
		return rtcp_fb(p, m, v);
	if (!strcmp(name, "extmap"))
		return extmap(p, m, v);
	if (!strcmp(name, "ssrc"))
		return ssrc(p, m, v);
	if (!strcmp(name, "ssrc-group"))
		return ssrc_group(p, m, v);
	if (!strcmp(name, "msid") && copy(v, m->msid, sizeof m->msid) < 0)
		return BIG(p, "msid: longer than %zu bytes", sizeof m->msid - 1);
	if (!strcmp(name, "rid"))
		m->has_rid = 1;
	else if (!strcmp(name, "simulcast"))
		m->has_simulcast = 1;
	else if (!strcmp(name, "candidate"))
		m->ncandidates++, p->o->ncandidates++;
	else if (!strcmp(name, "end-of-candidates"))
		m->end_of_candidates = 1;
	else if (!strcmp(name, "bundle-only"))
		m->bundle_only = 1;
	else if (!strcmp(name, "rtcp-mux"))
		m->rtcp_mux = 1;
	return 0;
}

static int attribute(struct parser *p, char *s)
{
	char *v = strchr(s, ':');
	if (v)
		*v++ = 0;
	else
		v = s + strlen(s);
	int r = transport_attr(p, s, v);
	if (r < 0)
		return r;
	if (p->m)
		return media_attr(p, p->m, s, v);
	if (!strcmp(s, "group"))
		return bundle(p, v);
	if (!strcmp(s, "ice-lite"))
		p->o->ice_lite = 1;
	return 0;
}

/* One line, NUL-terminated, without its end of line. */
static int one_line(struct parser *p, char *s, int first)
{
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 ? *q != '\t' : *q == 0x7f)
			return BAD(p, "a control character");
	if (s[0] < 'a' || s[0] > 'z' || s[1] != '=')
		return BAD(p, "not a type=value line");
	if (p->frag && s[0] == 'v')
		return BAD(p, "a v= line in an SDP fragment");
	if (!p->frag && first != (s[0] == 'v'))
		return BAD(p, first ? "the SDP does not start with v=0" : "a second v= line");
	if (!p->frag && first && strcmp(s, "v=0"))
		return BAD(p, "not v=0");
	if (s[0] == 'm')
		return m_line(p, s + 2);
	if (s[0] == 'a')
		return attribute(p, s + 2);
	return 0;
}

static int lines(struct parser *p, const char *sdp, size_t len)
{
	char buf[RV_WSDP_MAX_LINE + 1];
	size_t i = 0;
	int first = 1;
	while (i < len) {
		const char *nl = memchr(sdp + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - sdp) : len, n = end - i;
		p->line++;
		if (n && sdp[i + n - 1] == '\r')
			n--;
		if (n > RV_WSDP_MAX_LINE)
			return BIG(p, "longer than %d bytes", RV_WSDP_MAX_LINE);
		memcpy(buf, sdp + i, n);
		buf[n] = 0;
		i = end + 1;
		if (!n)
			continue;	/* blank lines (a trailing one) are tolerated */
		if (memchr(buf, 0, n))
			return BAD(p, "a NUL byte");
		int r = one_line(p, buf, first);
		if (r < 0)
			return r;
		first = 0;
	}
	return 0;
}

/* Session-level values for the m= lines that have none of their own. */
static void inherit(struct parser *p)
{
	strcpy(p->o->ufrag, p->ufrag);
	strcpy(p->o->pwd, p->pwd);
	for (int i = 0; i < p->o->nmedia; i++) {
		struct rv_wsdp_media *m = &p->o->media[i];
		m->dir = (enum rv_wsdp_dir)(p->mdir[i] != DIR_UNSET ? p->mdir[i] : p->dir);
		if (!m->ufrag[0])
			strcpy(m->ufrag, p->ufrag);
		if (!m->pwd[0])
			strcpy(m->pwd, p->pwd);
		if (!m->fingerprint[0])
			strcpy(m->fingerprint, p->fp);
		if (m->setup == RV_WSDP_SETUP_NONE)
			m->setup = p->setup;
		m->rejected = m->port == 0 && !m->bundle_only;
	}
}

static int validate(struct parser *p)
{
	struct rv_wsdp_offer *o = p->o;
	char *err = p->err;
	size_t el = p->errlen;
	if (!o->nmedia)
		return wsdp_err(RV_EPROTO, err, el, "no m= line");
	if (!o->nbundle)
		return wsdp_err(RV_EPROTO, err, el, "no BUNDLE group (a=group:BUNDLE)");
	for (int i = 0; i < o->nmedia; i++) {
		struct rv_wsdp_media *m = &o->media[i];
		for (int j = 0; j < i && m->mid[0]; j++)
			if (!strcmp(o->media[j].mid, m->mid))
				return wsdp_err(RV_EPROTO, err, el, "mid %s twice", m->mid);
		if (m->rejected)
			continue;
		if (!m->mid[0])
			return wsdp_err(RV_EPROTO, err, el, "m= line %d (%s) has no mid", i + 1, m->kind);
		if (!m->ufrag[0])
			return wsdp_err(RV_EPROTO, err, el, "no ice-ufrag for mid %s", m->mid);
		if (!m->pwd[0])
			return wsdp_err(RV_EPROTO, err, el, "no ice-pwd for mid %s", m->mid);
		if (!m->fingerprint[0] && p->other_hash[0])
			return wsdp_err(RV_EPROTO, err, el, "not sha-256: the fingerprint is %s",
					p->other_hash);
		if (!m->fingerprint[0])
			return wsdp_err(RV_EPROTO, err, el, "no fingerprint for mid %s", m->mid);
	}
	for (int b = 0; b < o->nbundle; b++) {
		int found = 0;
		for (int i = 0; i < o->nmedia && !found; i++)
			found = !strcmp(o->media[i].mid, o->bundle[b]);
		if (!found)
			return wsdp_err(RV_EPROTO, err, el, "BUNDLE names mid %s: no such m= line",
					o->bundle[b]);
	}
	return 0;
}

static int parse(struct rv_wsdp_offer **out, const char *sdp, size_t len, int frag,
		 char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (len > RV_WSDP_MAX_SDP)
		return wsdp_err(RV_ETOOBIG, err, errlen, "SDP of %zu bytes: more than %d", len,
				RV_WSDP_MAX_SDP);
	struct parser p = { .err = err, .errlen = errlen, .dir = RV_WSDP_SENDRECV, .frag = frag };
	if (!(p.o = calloc(1, sizeof *p.o)))
		return -ENOMEM;
	int r = lines(&p, sdp, len);
	if (r == 0) {
		inherit(&p);
		r = frag ? 0 : validate(&p);
	}
	if (r < 0) {
		free(p.o);
		return r;
	}
	*out = p.o;
	return 0;
}

int rv_wsdp_parse(struct rv_wsdp_offer **out, const char *sdp, size_t len,
		  char *err, size_t errlen)
{
	return parse(out, sdp, len, 0, err, errlen);
}

int rv_wsdp_parse_frag(struct rv_wsdp_offer **out, const char *frag, size_t len,
		       char *err, size_t errlen)
{
	return parse(out, frag, len, 1, err, errlen);
}

void rv_wsdp_offer_free(struct rv_wsdp_offer *o)
{
	free(o);
}
