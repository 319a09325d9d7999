/* rtp.c - RTP/RTCP headers and the H.264, VP8 and Opus payload formats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "err.h"
#include "rtp.h"

int rv_rtp_parse(const uint8_t *p, size_t n, struct rv_rtp *r)
{
	if (n < RV_RTP_HEADER || (p[0] >> 6) != 2)
		return RV_EPROTO;
	size_t off = RV_RTP_HEADER + 4 * (size_t)(p[0] & 0x0F);
	if (off > n)
		return RV_EPROTO;
	if (p[0] & 0x10) {	/* header extension: 16-bit profile, 16-bit length in words */
		if (off + 4 > n)
			return RV_EPROTO;
		off += 4 + 4 * (size_t)rv_rd16(p + off + 2);
		if (off > n)
			return RV_EPROTO;
	}
	size_t end = n;
	if (p[0] & 0x20) {	/* padding: the last byte says how much */
		uint8_t pad = p[n - 1];
		if (pad == 0 || pad > end - off)
			return RV_EPROTO;
		end -= pad;
	}
	r->marker = p[1] >> 7;
	r->pt = p[1] & 0x7F;
	r->seq = rv_rd16(p + 2);
	r->ts = rv_rd32(p + 4);
	r->ssrc = rv_rd32(p + 8);
	r->payload = p + off;
	r->payload_len = end - off;
	return 0;
}

void rv_rtp_header(uint8_t out[RV_RTP_HEADER], const struct rv_rtp *r)
{
	out[0] = 0x80;
	out[1] = (uint8_t)((r->marker ? 0x80 : 0) | (r->pt & 0x7F));
	rv_wr16(out + 2, r->seq);
	rv_wr32(out + 4, r->ts);
	rv_wr32(out + 8, r->ssrc);
}

int rv_rtp_is_rtcp(const uint8_t *p, size_t n)
{
	return n >= 2 && (p[0] >> 6) == 2 && p[1] >= 192 && p[1] <= 223;
}

/* ---- RTCP ---- */

int rv_rtcp_next(const uint8_t *p, size_t n, size_t *off, struct rv_rtcp *out)
{
	if (*off >= n)
		return 0;
	const uint8_t *q = p + *off;
	size_t left = n - *off;
	if (left < 4 || (q[0] >> 6) != 2)
		return RV_EPROTO;
	size_t len = 4 * ((size_t)rv_rd16(q + 2) + 1);
	if (len > left || len < 8)
		return RV_EPROTO;
	out->type = q[1];
	out->fmt = q[0] & 0x1F;
	out->sender_ssrc = rv_rd32(q + 4);
	out->media_ssrc = len >= 12 ? rv_rd32(q + 8) : 0;
	out->body = q + 8;
	out->body_len = len - 8;
	*off += len;
	return 1;
}

int rv_rtcp_parse_sr(const struct rv_rtcp *c, struct rv_rtcp_sr *sr)
{
	if (c->type != RV_RTCP_SR || c->body_len < 20)
		return RV_EPROTO;
	sr->ssrc = c->sender_ssrc;
	sr->ntp = (uint64_t)rv_rd32(c->body) << 32 | rv_rd32(c->body + 4);
	sr->rtp_ts = rv_rd32(c->body + 8);
	sr->packets = rv_rd32(c->body + 12);
	sr->octets = rv_rd32(c->body + 16);
	return 0;
}

int rv_rtcp_parse_rb(const struct rv_rtcp *c, int i, struct rv_rtcp_rb *rb)
{
	size_t at = (c->type == RV_RTCP_SR ? 20 : c->type == RV_RTCP_RR ? 0 : SIZE_MAX);
	if (at == SIZE_MAX || i < 0 || i >= c->fmt || at + 24 * ((size_t)i + 1) > c->body_len)
		return RV_EPROTO;
	const uint8_t *b = c->body + at + 24 * (size_t)i;
	rb->ssrc = rv_rd32(b);
	rb->fraction = b[4];
	uint32_t lost = (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	rb->lost = (int32_t)(lost ^ 0x800000) - 0x800000;	/* sign-extend 24 bits */
	rb->highest = rv_rd32(b + 8);
	rb->jitter = rv_rd32(b + 12);
	rb->lsr = rv_rd32(b + 16);
	rb->dlsr = rv_rd32(b + 20);
	return 0;
}

int rv_rtcp_nack_each(const struct rv_rtcp *c, void (*fn)(void *ud, uint16_t seq), void *ud)
{
	if (c->type != RV_RTCP_RTPFB || c->fmt != 1 || c->body_len < 4 || c->body_len % 4)
		return RV_EPROTO;
	int count = 0;
	for (size_t i = 4; i + 4 <= c->body_len; i += 4) {	/* after the media SSRC */
		uint16_t pid = rv_rd16(c->body + i), blp = rv_rd16(c->body + i + 2);
		fn(ud, pid);
		count++;
		for (int b = 0; b < 16; b++)
			if (blp & (1 << b)) {
				fn(ud, (uint16_t)(pid + b + 1));
				count++;
			}
	}
	return count;
}

static void common(uint8_t *out, int fmt, int type, size_t len, uint32_t sender)
{
	out[0] = (uint8_t)(0x80 | (fmt & 0x1F));
	out[1] = (uint8_t)type;
	rv_wr16(out + 2, (uint16_t)(len / 4 - 1));
	rv_wr32(out + 4, sender);
}

#define NTP_UNIX_OFFSET 2208988800ull   /* seconds from 1900 to 1970 */

uint64_t rv_ntp_now(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return ((uint64_t)now.tv_sec + NTP_UNIX_OFFSET) << 32 | (uint64_t)((double)now.tv_nsec * 4294967296.0 / 1e9);
}

int64_t rv_ntp_unix_us(uint64_t ntp)
{
	return (int64_t)((ntp >> 32) - NTP_UNIX_OFFSET) * 1000000 + (int64_t)(((ntp & 0xFFFFFFFFull) * 1000000) >> 32);
}

double rv_rtcp_rtt_ms(uint32_t now, uint32_t lsr, uint32_t dlsr)
{
	if (!lsr)
		return -1;
	int32_t d = (int32_t)(now - lsr - dlsr);	/* 16.16 seconds, modulo 2^32 */
	return d <= 0 ? 0.0 : (double)d * 1000.0 / 65536.0;
}

int rv_rtcp_build_sr(uint8_t *out, size_t cap, const struct rv_rtcp_sr *sr)
{
	if (cap < 28)
		return RV_ETOOBIG;
	common(out, 0, RV_RTCP_SR, 28, sr->ssrc);
	rv_wr32(out + 8, (uint32_t)(sr->ntp >> 32));
	rv_wr32(out + 12, (uint32_t)sr->ntp);
	rv_wr32(out + 16, sr->rtp_ts);
	rv_wr32(out + 20, sr->packets);
	rv_wr32(out + 24, sr->octets);
	return 28;
}

int rv_rtcp_build_rrs(uint8_t *out, size_t cap, uint32_t sender, const struct rv_rtcp_rb *rb, size_t n)
{
	size_t len = 8 + 24 * n;
	if (n > 31)
		return -EINVAL;
	if (cap < len)
		return RV_ETOOBIG;
	common(out, (int)n, RV_RTCP_RR, len, sender);
	for (size_t i = 0; i < n; i++) {
		uint8_t *b = out + 8 + 24 * i;
		int32_t lost = rb[i].lost > 0x7FFFFF ? 0x7FFFFF : rb[i].lost < -0x800000 ? -0x800000 : rb[i].lost;
		rv_wr32(b, rb[i].ssrc);
		rv_wr32(b + 4, (uint32_t)rb[i].fraction << 24 | ((uint32_t)lost & 0xFFFFFF));
		rv_wr32(b + 8, rb[i].highest);
		rv_wr32(b + 12, rb[i].jitter);
		rv_wr32(b + 16, rb[i].lsr);
		rv_wr32(b + 20, rb[i].dlsr);
	}
	return (int)len;
}

int rv_rtcp_build_rr(uint8_t *out, size_t cap, uint32_t sender, const struct rv_rtcp_rb *rb)
{
	return rv_rtcp_build_rrs(out, cap, sender, rb, 1);
}

int rv_rtcp_build_sdes(uint8_t *out, size_t cap, uint32_t ssrc, const char *cname)
{
	size_t cl = strlen(cname);
	if (cl > 255)
		return -EINVAL;
	size_t len = (8 + 2 + cl + 1 + 3) & ~(size_t)3;	/* items end with a zero, padded to 32 bits */
	if (cap < len)
		return RV_ETOOBIG;
	common(out, 1, RV_RTCP_SDES, len, ssrc);
	memset(out + 8, 0, len - 8);
	out[8] = 1;	/* CNAME */
	out[9] = (uint8_t)cl;
	memcpy(out + 10, cname, cl);
	return (int)len;
}

#define REMB_ID 0x52454D42u             /* "REMB" */

int rv_rtcp_build_remb(uint8_t *out, size_t cap, uint32_t sender, uint64_t bps, const uint32_t *ssrcs, size_t n)
{
	size_t len = 20 + 4 * n;
	if (n == 0 || n > 255)
		return -EINVAL;
	if (cap < len)
		return RV_ETOOBIG;
	unsigned exp = 0;
	while ((bps >> exp) > 0x3FFFF)
		exp++;
	common(out, 15, RV_RTCP_PSFB, len, sender);
	rv_wr32(out + 8, 0);	/* media source: unused */
	rv_wr32(out + 12, REMB_ID);
	rv_wr32(out + 16, (uint32_t)n << 24 | exp << 18 | (uint32_t)(bps >> exp));
	for (size_t i = 0; i < n; i++)
		rv_wr32(out + 20 + 4 * i, ssrcs[i]);
	return (int)len;
}

int rv_rtcp_parse_remb(const struct rv_rtcp *c, uint64_t *bps, uint32_t *ssrcs, size_t max)
{
	if (c->type != RV_RTCP_PSFB || c->fmt != 15 || c->body_len < 12 || rv_rd32(c->body + 4) != REMB_ID)
		return RV_EPROTO;
	uint32_t w = rv_rd32(c->body + 8);
	size_t n = w >> 24;
	if (c->body_len < 12 + 4 * n)
		return RV_EPROTO;
	uint64_t mantissa = w & 0x3FFFF;
	unsigned exp = (w >> 18) & 0x3F;
	if (exp > 46)	/* past 2^64 */
		return RV_EPROTO;
	*bps = mantissa << exp;
	for (size_t i = 0; i < n && i < max; i++)
		ssrcs[i] = rv_rd32(c->body + 12 + 4 * i);
	return (int)n;
}

int rv_rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender, uint32_t media)
{
	if (cap < 12)
		return RV_ETOOBIG;
	common(out, 1, RV_RTCP_PSFB, 12, sender);
	rv_wr32(out + 8, media);
	return 12;
}

int rv_rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender, uint32_t media, uint8_t fir_seq)
{
	if (cap < 20)
		return RV_ETOOBIG;
	common(out, 4, RV_RTCP_PSFB, 20, sender);
	rv_wr32(out + 8, 0);	/* media source: unused for FIR (RFC 5104 4.3.1.2) */
	rv_wr32(out + 12, media);
	out[16] = fir_seq;
	out[17] = out[18] = out[19] = 0;
	return 20;
}

static int cmp16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

int rv_rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender, uint32_t media,
		       const uint16_t *seqs, size_t n)
{
	uint16_t sorted[256];
	if (n == 0 || n > 256)
		return -EINVAL;
	memcpy(sorted, seqs, n * sizeof *seqs);
	qsort(sorted, n, sizeof *sorted, cmp16);
	size_t len = 12;
	for (size_t i = 0; i < n;) {
		uint16_t pid = sorted[i], blp = 0;
		size_t j = i + 1;
		while (j < n && (uint16_t)(sorted[j] - pid) <= 16) {
			if (sorted[j] != pid)
				blp |= (uint16_t)(1 << (sorted[j] - pid - 1));
			j++;
		}
		if (len + 4 > cap)
			return RV_ETOOBIG;
		rv_wr16(out + len, pid);
		rv_wr16(out + len + 2, blp);
		len += 4;
		i = j;
	}
	common(out, 1, RV_RTCP_RTPFB, len, sender);
	rv_wr32(out + 8, media);
	return (int)len;
}

/* ---- H.264 (RFC 6184) ---- */

int rv_h264_next_nal(const uint8_t *p, size_t n, size_t *pos, const uint8_t **nal, size_t *len)
{
	size_t i = *pos;
	while (i + 3 <= n && !(p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1))
		i++;
	if (i + 3 > n)
		return 0;
	size_t start = i + 3, j = start;
	while (j + 3 <= n && !(p[j] == 0 && p[j + 1] == 0 && (p[j + 2] == 1 || (p[j + 2] == 0 && j + 3 < n && p[j + 3] == 1))))
		j++;
	if (j + 3 > n)
		j = n;
	*nal = p + start;
	*len = j - start;
	*pos = j;
	return *len > 0 ? 1 : rv_h264_next_nal(p, n, pos, nal, len);
}

int rv_h264_is_keyframe(const uint8_t *au, size_t len)
{
	size_t pos = 0, nl;
	const uint8_t *nal;
	while (rv_h264_next_nal(au, len, &pos, &nal, &nl))
		if ((nal[0] & 0x1F) == 5)
			return 1;
	return 0;
}

int rv_h264_packetize(const uint8_t *au, size_t len, size_t mtu, rv_rtp_out_fn fn, void *ud)
{
	const uint8_t *nals[64];
	size_t lens[64], count = 0, pos = 0;
	uint8_t pkt[RV_RTP_MAX_PAYLOAD + 64];
	int packets = 0, rc;

	if (mtu > RV_RTP_MAX_PAYLOAD || mtu < 64)
		return -EINVAL;
	while (count < 64 && rv_h264_next_nal(au, len, &pos, &nals[count], &lens[count]))
		count++;
	for (size_t i = 0; i < count;) {
		int last_nal = i + 1 == count;
		if (lens[i] > mtu) {	/* FU-A: indicator, header, then pieces */
			uint8_t nri = nals[i][0] & 0x60, type = nals[i][0] & 0x1F;
			const uint8_t *p = nals[i] + 1;
			size_t left = lens[i] - 1;
			int first = 1;
			while (left) {
				size_t take = left < mtu - 2 ? left : mtu - 2;
				pkt[0] = (uint8_t)(nri | 28);
				pkt[1] = (uint8_t)((first ? 0x80 : 0) | (take == left ? 0x40 : 0) | type);
				memcpy(pkt + 2, p, take);
				if ((rc = fn(ud, pkt, take + 2, last_nal && take == left)) < 0)
					return rc;
				packets++;
				p += take;
				left -= take;
				first = 0;
			}
			i++;
			continue;
		}
		/* STAP-A for as many small NAL units as fit, else one alone */
		size_t j = i, total = 1;
		uint8_t nri = 0;
		while (j < count && lens[j] <= mtu && total + 2 + lens[j] <= mtu) {
			total += 2 + lens[j];
			if ((nals[j][0] & 0x60) > nri)
				nri = nals[j][0] & 0x60;
			j++;
		}
		if (j - i >= 2) {
			size_t o = 1;
			pkt[0] = (uint8_t)(nri | 24);
			for (size_t k = i; k < j; k++) {
				rv_wr16(pkt + o, (uint16_t)lens[k]);
				memcpy(pkt + o + 2, nals[k], lens[k]);
				o += 2 + lens[k];
			}
			if ((rc = fn(ud, pkt, o, j == count)) < 0)
				return rc;
			i = j;
		} else {
			if ((rc = fn(ud, nals[i], lens[i], last_nal)) < 0)
				return rc;
			i++;
		}
		packets++;
	}
	return packets;
}

/* ---- VP8 (RFC 7741) ---- */

int rv_vp8_packetize(const uint8_t *frame, size_t len, size_t mtu, uint16_t picture_id,
		     rv_rtp_out_fn fn, void *ud)
{
	uint8_t pkt[RV_RTP_MAX_PAYLOAD + 64];
	int packets = 0, rc;
	if (mtu > RV_RTP_MAX_PAYLOAD || mtu < 64)
		return -EINVAL;
	for (size_t off = 0; off < len || (len == 0 && packets == 0);) {
		size_t take = len - off < mtu - 4 ? len - off : mtu - 4;
		pkt[0] = (uint8_t)(0x80 | (off == 0 ? 0x10 : 0));	/* X, S (start), partition 0 */
		pkt[1] = 0x80;						/* I: a PictureID follows */
		pkt[2] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7F));	/* M: 15 bits */
		pkt[3] = (uint8_t)picture_id;
		memcpy(pkt + 4, frame + off, take);
		off += take;
		if ((rc = fn(ud, pkt, take + 4, off >= len)) < 0)
			return rc;
		packets++;
		if (len == 0)
			break;
	}
	return packets;
}

/* The VP8 payload descriptor's length; *START set from its S bit. */
static int vp8_descriptor(const uint8_t *p, size_t n, int *start)
{
	if (n < 1)
		return RV_EPROTO;
	size_t o = 1;
	*start = (p[0] & 0x10) && (p[0] & 0x07) == 0;
	if (p[0] & 0x80) {	/* X: an extension byte */
		if (n < 2)
			return RV_EPROTO;
		uint8_t x = p[1];
		o = 2;
		if (x & 0x80) {	/* I: PictureID, 7 or 15 bits */
			if (o >= n)
				return RV_EPROTO;
			o += (p[o] & 0x80) ? 2 : 1;
		}
		if (x & 0x40)	/* L: TL0PICIDX */
			o++;
		if (x & 0x30)	/* T or K: TID/KEYIDX */
			o++;
	}
	return o <= n ? (int)o : RV_EPROTO;
}

/* ---- depacketizing ---- */

void rv_depack_init(struct rv_depack *d, int codec, size_t max, rv_rtp_frame_fn fn, void *ud)
{
	memset(d, 0, sizeof *d);
	d->codec = codec;
	d->max = max;
	d->fn = fn;
	d->ud = ud;
}

void rv_depack_free(struct rv_depack *d)
{
	free(d->buf);
	d->buf = NULL;
}

static int append(struct rv_depack *d, const uint8_t *p, size_t n, int start_code)
{
	size_t need = d->len + n + (start_code ? 4 : 0);
	if (need > d->max) {
		d->broken = 1;
		return RV_ETOOBIG;
	}
	if (need > d->cap) {
		size_t cap = d->cap ? d->cap : 65536;
		while (cap < need)
			cap *= 2;
		uint8_t *b = realloc(d->buf, cap);
		if (!b)
			return -ENOMEM;
		d->buf = b;
		d->cap = cap;
	}
	if (start_code) {
		memcpy(d->buf + d->len, "\0\0\0\1", 4);
		d->len += 4;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
	return 0;
}

static void emit(struct rv_depack *d)
{
	if (d->len && !d->broken) {
		d->frames++;
		d->fn(d->ud, d->buf, d->len, d->ts, d->keyframe);
	} else if (d->broken) {
		d->dropped++;
	}
	d->len = 0;
	d->broken = 0;
	d->in_fu = 0;
	d->keyframe = 0;
	d->have_ts = 0;
}

static int h264_payload(struct rv_depack *d, const uint8_t *p, size_t n)
{
	if (n < 1)
		return RV_EPROTO;
	uint8_t type = p[0] & 0x1F;
	if (type >= 1 && type <= 23) {
		if (type == 5)
			d->keyframe = 1;
		d->in_fu = 0;
		return append(d, p, n, 1);
	}
	if (type == 24) {	/* STAP-A */
		for (size_t o = 1; o < n;) {
			if (o + 2 > n)
				return RV_EPROTO;
			size_t l = rv_rd16(p + o);
			if (l == 0 || o + 2 + l > n)
				return RV_EPROTO;
			if ((p[o + 2] & 0x1F) == 5)
				d->keyframe = 1;
			int rc = append(d, p + o + 2, l, 1);
			if (rc < 0)
				return rc;
			o += 2 + l;
		}
		return 0;
	}
	if (type == 28) {	/* FU-A */
		if (n < 2)
			return RV_EPROTO;
		int start = p[1] & 0x80, end = p[1] & 0x40;
		uint8_t hdr = (uint8_t)((p[0] & 0xE0) | (p[1] & 0x1F));
		if (start) {
			if ((hdr & 0x1F) == 5)
				d->keyframe = 1;
			d->in_fu = 1;
			int rc = append(d, &hdr, 1, 1);
			if (rc < 0)
				return rc;
		} else if (!d->in_fu) {
			d->broken = 1;	/* the start was lost */
			return 0;
		}
		int rc = append(d, p + 2, n - 2, 0);
		if (end)
			d->in_fu = 0;
		return rc;
	}
	return RV_EPROTO;	/* STAP-B, MTAP, FU-B are not in packetization-mode 1 */
}

static int vp8_payload(struct rv_depack *d, const uint8_t *p, size_t n)
{
	int start, o = vp8_descriptor(p, n, &start);
	if (o < 0)
		return o;
	if (start && (size_t)o < n)
		d->keyframe = (p[o] & 0x01) == 0;	/* the P bit of the VP8 header */
	if (!start && d->len == 0) {
		d->broken = 1;	/* the frame's beginning was lost */
		return 0;
	}
	return append(d, p + o, n - (size_t)o, 0);
}

int rv_depack_push(struct rv_depack *d, const struct rv_rtp *r)
{
	if (d->have_seq && r->seq != d->next_seq) {	/* a gap: this frame is incomplete */
		if ((uint16_t)(r->seq - d->next_seq) > 0x8000)
			return 0;	/* old or duplicate */
		if (d->have_ts && d->ts == r->ts)
			d->broken = 1;
		else if (d->len)
			d->broken = 1, emit(d);
		d->in_fu = 0;
	}
	d->have_seq = 1;
	d->next_seq = (uint16_t)(r->seq + 1);
	if (d->have_ts && r->ts != d->ts)	/* a new frame began without a marker */
		emit(d);
	d->ts = r->ts;
	d->have_ts = 1;
	int rc = d->codec == RV_DEPACK_H264 ? h264_payload(d, r->payload, r->payload_len)
					    : vp8_payload(d, r->payload, r->payload_len);
	if (rc < 0)
		d->broken = 1;
	if (r->marker)
		emit(d);
	return rc < 0 ? rc : 0;
}
