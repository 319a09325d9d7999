/* media.c - rvsend media: encode what FFmpeg opens and send it as RTP.
 * With --rtp HOST:PORT and --sdp FILE no server is involved: plain RTP to
 * an address, described by an SDP that ffplay and ffmpeg open. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/rand.h>

#include "err.h"
#include "media.h"
#include "rtp.h"
#include "rvsend.h"
#include "srtp.h"

struct rtp_out {
	int fd;
	struct sockaddr_storage to, rtcp_to;
	socklen_t tolen;
	struct rv_rtp hdr;
	uint32_t packets, octets;
	struct rv_srtp *srtp;           /* --srtp: protect what goes out */
	uint8_t pkt[RV_RTP_HEADER + RV_RTP_MAX_PAYLOAD + RV_SRTP_MAX_TRAILER];
};

static int out(struct rtp_out *o, const struct sockaddr_storage *to, uint8_t *p, size_t n)
{
	if (o->srtp && rv_srtp_protect(o->srtp, p, &n) < 0)
		return -EPROTO;
	if (sendto(o->fd, p, n, 0, (const struct sockaddr *)to, o->tolen) < 0 && errno != ECONNREFUSED)
		return -errno;
	return 0;
}

static int send_payload(void *ud, const uint8_t *data, size_t len, int last)
{
	struct rtp_out *o = ud;
	o->hdr.marker = last;
	rv_rtp_header(o->pkt, &o->hdr);
	memcpy(o->pkt + RV_RTP_HEADER, data, len);
	int rc = out(o, &o->to, o->pkt, RV_RTP_HEADER + len);
	if (rc < 0)
		return rc;
	o->hdr.seq++;
	o->packets++;
	o->octets += (uint32_t)len;
	return 0;
}

/* A sender report now and then lets receivers line up RTP time with wall time. */
static void sender_report(struct rtp_out *o, uint32_t ts)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t ntp = ((uint64_t)now.tv_sec + 2208988800ull) << 32 |
		       (uint64_t)((double)now.tv_nsec * 4294967296.0 / 1e9);
	struct rv_rtcp_sr sr = { o->hdr.ssrc, ntp, ts, o->packets, o->octets };
	uint8_t buf[64 + RV_SRTP_MAX_TRAILER];
	int n = rv_rtcp_build_sr(buf, 64, &sr);
	if (n > 0)
		out(o, &o->rtcp_to, buf, (size_t)n);
}

static int write_sdp(struct app *a, struct rv_media_src *src, const char *host, int port, const char *key)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", a->sdp);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	int v6 = strchr(host, ':') != NULL;
	int w, h;
	double fps;
	rv_media_size(src, &w, &h, &fps);
	fprintf(f, "v=0\r\no=- 0 0 IN IP%d %s\r\ns=rvkit\r\nc=IN IP%d %s\r\nt=0 0\r\n", v6 ? 6 : 4, host,
		v6 ? 6 : 4, host);
	fprintf(f, "m=video %d RTP/%s %d\r\n", port, key ? "SAVP" : "AVP", a->pt);
	if (key)	/* RFC 4568: what ffmpeg's sdp demuxer and rvrecv --sdp read */
		fprintf(f, "a=crypto:1 %s inline:%s\r\n", rv_srtp_suite_name(a->srtp), key);
	if (!strcmp(rv_media_codec(src), "H264")) {
		fprintf(f, "a=rtpmap:%d H264/90000\r\na=fmtp:%d packetization-mode=1;profile-level-id=42e01f",
			a->pt, a->pt);
		if (rv_media_sprop(src)[0])
			fprintf(f, ";sprop-parameter-sets=%s", rv_media_sprop(src));
		fprintf(f, "\r\n");
	} else {
		fprintf(f, "a=rtpmap:%d VP8/90000\r\n", a->pt);
	}
	fprintf(f, "a=framesize:%d %d-%d\r\na=framerate:%.2f\r\n", a->pt, w, h, fps);
	if (fclose(f) != 0 || rename(tmp, a->sdp) < 0)
		return -errno;
	return 0;
}

/* Capture devices run at their own pace; everything else is paced to its
 * timestamps when it is streamed live. */
static int is_device(const char *format)
{
	static const char *const live[] = { "v4l2", "video4linux2", "x11grab", "pulse", "alsa", "kmsgrab",
					    "fbdev", NULL };
	for (int i = 0; format && live[i]; i++)
		if (!strcmp(format, live[i]))
			return 1;
	return 0;
}

int media_open(struct app *a, int which, int want_video, int want_audio, struct rv_media_src **src,
	       char *err, size_t errlen)
{
	const char *format = a->inputs[which].format;
	struct rv_media_conf mc = {
		.format = format, .input = a->inputs[which].input,
		.vcodec = want_video ? a->vcodec : RV_VCODEC_NONE,
		.acodec = want_audio ? a->acodec : RV_ACODEC_NONE,
		.width = a->width, .height = a->height, .fps = a->fps, .bitrate = a->bitrate,
		.abitrate = a->abitrate, .gop = a->gop,
		.realtime = a->realtime || !is_device(format), .duration = a->duration,
	};
	return rv_media_open(src, &mc, err, errlen);
}

int cmd_media(struct app *a)
{
	char host[256], err[256];
	int port = -1;
	if (rv_parse_hostport(a->rtp, host, sizeof host, &port) < 0 || port <= 0 || port > 65534) {
		rv_say_error("--rtp takes HOST:PORT (an even port; RTCP goes to the next one)");
		return RV_EXIT_USAGE;
	}
	struct rtp_out o = { .fd = -1 };
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai) {
		rv_say_error("cannot resolve %s", host);
		return RV_EXIT_CONNECT;
	}
	memcpy(&o.to, ai->ai_addr, ai->ai_addrlen);
	o.tolen = ai->ai_addrlen;
	freeaddrinfo(ai);
	o.rtcp_to = o.to;
	if (o.to.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&o.rtcp_to)->sin6_port = htons((uint16_t)(port + 1));
	else
		((struct sockaddr_in *)&o.rtcp_to)->sin_port = htons((uint16_t)(port + 1));
	char key[64] = "";
	if (a->srtp_set && a->srtp != RV_SRTP_NONE &&
	    (rv_srtp_new_key(a->srtp, key) < 0 || rv_srtp_new(&o.srtp, a->srtp, key, 1) < 0)) {
		rv_say_error("cannot set up SRTP");
		return RV_EXIT_FAIL;
	}
	o.fd = socket(o.to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (o.fd < 0)
		return RV_EXIT_FAIL;

	struct rv_media_src *src;
	if (a->inputs[1].input)
		rv_say_info("--rtp sends the video of the first input only");
	if (a->vcodec == RV_VCODEC_NONE) {
		rv_say_error("--rtp sends video: --vcodec none leaves nothing to send");
		rv_srtp_free(o.srtp);
		close(o.fd);
		return RV_EXIT_USAGE;
	}
	if (media_open(a, 0, 1, 0, &src, err, sizeof err) < 0) {
		rv_say_error("%s", err);
		rv_srtp_free(o.srtp);
		close(o.fd);
		return RV_EXIT_FAIL;
	}
	uint8_t r[6];
	RAND_bytes(r, sizeof r);
	o.hdr.pt = (uint8_t)a->pt;
	o.hdr.ssrc = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
	o.hdr.seq = (uint16_t)(r[4] << 8 | r[5]);
	uint32_t base = o.hdr.ssrc ^ 0x5a5a5a5a;	/* a random start for timestamps */

	struct rv_media_frame f;
	int rc, frames = 0, sdp_written = 0;
	uint16_t picture_id = 0;
	uint32_t last_sr = 0;
	while ((rc = rv_media_next(src, &f)) == 1) {
		if (!sdp_written) {	/* once the first frame told us SPS and PPS */
			if (a->sdp && write_sdp(a, src, host, port, o.srtp ? key : NULL) < 0) {
				rv_say_error("cannot write --sdp %s: %s", a->sdp, strerror(errno));
				rc = -1;
				break;
			}
			sdp_written = 1;
			rv_say_info("sending %s %s to %s", rv_media_codec(src), a->inputs[0].input, a->rtp);
		}
		o.hdr.ts = base + f.ts;
		int n = !strcmp(rv_media_codec(src), "H264")
			? rv_h264_packetize(f.data, f.len, RV_RTP_MAX_PAYLOAD, send_payload, &o)
			: rv_vp8_packetize(f.data, f.len, RV_RTP_MAX_PAYLOAD, picture_id++ & 0x7FFF, send_payload, &o);
		if (n < 0) {
			rv_say_error("sending: %s", strerror(-n));
			rc = n;
			break;
		}
		if (f.ts - last_sr >= 90000 || frames == 0) {
			sender_report(&o, o.hdr.ts);
			last_sr = f.ts;
		}
		frames++;
	}
	if (rc < 0 && rc != -1) {
		char msg[128];
		snprintf(msg, sizeof msg, "%d", rc);
		rv_say_error("media: error %s", msg);
	}
	rv_say_info("%d frames, %u packets, %u bytes sent", frames, o.packets, o.octets);
	if (rv_out_json_mode()) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "media");
		cJSON_AddStringToObject(j, "codec", rv_media_codec(src));
		cJSON_AddNumberToObject(j, "frames", frames);
		cJSON_AddNumberToObject(j, "packets", o.packets);
		cJSON_AddNumberToObject(j, "bytes", o.octets);
		rv_out_obj(j);
	}
	rv_media_close(src);
	rv_srtp_free(o.srtp);
	close(o.fd);
	return rc < 0 ? RV_EXIT_FAIL : frames ? 0 : RV_EXIT_FAIL;
}
