/* media.c - rvrecv media --sdp FILE: receive the plain RTP an SDP
 * describes, put it back in order, rebuild whole frames and write them into
 * a container without re-encoding (Matroska by default; -o - for stdout). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cJSON.h>

#include "err.h"
#include "media.h"
#include "rtp.h"
#include "rvrecv.h"
#include "sdp.h"
#include "jitter.h"
#include "srtp.h"

#define HOLD_MS 100                /* how long a gap is waited for */

struct rx {
	struct jitter jb;
	uint32_t last_ts;
	int64_t ext_ts;                 /* RTP time, unwrapped */
	int have_ts;
	struct rv_depack dp;
	uint64_t frames, keyframes, unauth;
	struct rv_media_sink *sink;
	long max_frames;
	int sink_err;
};

static volatile sig_atomic_t stop_signal;
static void on_stop(int sig)
{
	stop_signal = sig;
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_frame(void *ud, const uint8_t *f, size_t len, uint32_t ts, int key)
{
	struct rx *x = ud;
	if (x->sink_err)
		return;
	x->ext_ts = x->have_ts ? x->ext_ts + (int32_t)(ts - x->last_ts) : 0;
	x->last_ts = ts;
	x->have_ts = 1;
	int rc = rv_media_sink_write(x->sink, 0, f, len, x->ext_ts * 100 / 9, key);
	if (rc < 0) {
		x->sink_err = rc;
		return;
	}
	x->frames++;
	x->keyframes += key != 0;
}

/* A packet in sequence order, to the depacketizer. */
static void on_packet(void *ud, const uint8_t *p, size_t n)
{
	struct rx *x = ud;
	struct rv_rtp r;
	if (rv_rtp_parse(p, n, &r) == 0)
		rv_depack_push(&x->dp, &r);
}

int cmd_media(struct app *a)
{
	char err[256], text[16384];
	struct rv_sdp sdp;
	int fd = open(a->sdp, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof text);
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		rv_say_error("cannot read --sdp %s: %s", a->sdp, strerror(errno));
		return RV_EXIT_USAGE;
	}
	if (rv_sdp_parse(text, (size_t)n, &sdp, err, sizeof err) < 0) {
		rv_say_error("%s: %s", a->sdp, err);
		return RV_EXIT_USAGE;
	}
	struct rv_srtp *srtp = NULL;
	if (sdp.has_crypto) {
		int suite = rv_srtp_suite(sdp.crypto_suite);
		if (!suite || rv_srtp_new(&srtp, suite, sdp.crypto_key, 0) < 0) {
			rv_say_error("%s: unusable a=crypto (%s; AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM work)",
				     a->sdp, sdp.crypto_suite[0] ? sdp.crypto_suite : "no suite");
			return RV_EXIT_USAGE;
		}
	}
	int codec = !strcmp(sdp.codec, "H264") ? RV_DEPACK_H264 : !strcmp(sdp.codec, "VP8") ? RV_DEPACK_VP8 : 0;
	if (!codec) {
		rv_say_error("%s: %s video is not supported (H264, VP8)", a->sdp, sdp.codec);
		return RV_EXIT_USAGE;
	}
	/* listen where the SDP says: its address when it is ours, else any */
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	if (sdp.v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)sdp.port);
		if (inet_pton(AF_INET6, sdp.addr, &s6->sin6_addr) != 1 || !IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			s6->sin6_addr = in6addr_any;
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)sdp.port);
		if (inet_pton(AF_INET, sdp.addr, &s4->sin_addr) != 1 || (ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		sl = sizeof *s4;
	}
	int sock = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int big = 4 << 20;
	setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	if (sock < 0 || bind(sock, (struct sockaddr *)&ss, sl) < 0) {
		rv_say_error("cannot listen on %s port %d: %s", sdp.addr, sdp.port, strerror(errno));
		if (sock >= 0)
			close(sock);
		return RV_EXIT_FAIL;
	}
	static struct rx x;
	x.max_frames = a->frames;
	int jrc = jitter_init(&x.jb, HOLD_MS, on_packet, &x);
	struct rv_media_track vt = { sdp.codec, sdp.width, sdp.height, 0 };
	if (jrc < 0 || rv_media_sink_open(&x.sink, a->output, a->mformat, &vt, NULL, err, sizeof err) < 0) {
		rv_say_error("%s", jrc < 0 ? "out of memory" : err);
		close(sock);
		return RV_EXIT_FAIL;
	}
	rv_depack_init(&x.dp, codec, 16u << 20, on_frame, &x);
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rv_say_info("receiving %s on %s port %d into %s", sdp.codec, sdp.addr, sdp.port, a->output);

	double start = mono_ms(), first = 0;
	int rc = 0;
	uint8_t pkt[2048];
	while (!stop_signal) {
		double now = mono_ms();
		if (a->duration > 0 && first && now - first >= a->duration * 1000)
			break;
		if (a->timeout > 0 && now - start >= a->timeout * 1000) {
			if (!x.frames)
				rc = RV_EXIT_TIMEOUT;
			break;
		}
		if (x.max_frames > 0 && (long)x.frames >= x.max_frames)
			break;
		if (x.sink_err) {
			rv_say_error("writing %s failed", a->output);
			rc = RV_EXIT_FAIL;
			break;
		}
		struct pollfd pf = { sock, POLLIN, 0 };
		if (poll(&pf, 1, 50) > 0) {
			ssize_t r;
			while ((r = recv(sock, pkt, sizeof pkt, MSG_DONTWAIT)) > 0) {
				if (!first)
					first = now;
				size_t len = (size_t)r;
				if (rv_rtp_is_rtcp(pkt, len))
					continue;
				if (srtp && rv_srtp_unprotect(srtp, pkt, &len) < 0) {
					x.unauth++;
					continue;
				}
				jitter_push(&x.jb, pkt, len, mono_ms());
			}
		}
		jitter_tick(&x.jb, mono_ms());
	}
	rv_depack_free(&x.dp);
	if (rv_media_sink_close(x.sink) < 0 && !rc)
		rc = RV_EXIT_FAIL;
	close(sock);
	rv_say_info("%" PRIu64 " packets (%" PRIu64 " lost, %" PRIu64 " late), %" PRIu64 " frames (%" PRIu64
		    " keyframes, %" PRIu64 " dropped incomplete)", x.jb.packets, x.jb.lost, x.jb.late, x.frames, x.keyframes,
		    x.dp.dropped);
	if (a->co.json && strcmp(a->output, "-")) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event", "media");
		cJSON_AddStringToObject(j, "codec", sdp.codec);
		cJSON_AddNumberToObject(j, "packets", (double)x.jb.packets);
		cJSON_AddNumberToObject(j, "lost", (double)x.jb.lost);
		cJSON_AddNumberToObject(j, "frames", (double)x.frames);
		cJSON_AddNumberToObject(j, "keyframes", (double)x.keyframes);
		cJSON_AddNumberToObject(j, "dropped", (double)x.dp.dropped);
		rv_out_obj(j);
	}
	jitter_free(&x.jb);
	rv_srtp_free(srtp);
	if (x.unauth)
		rv_say_info("%" PRIu64 " packets failed SRTP authentication", x.unauth);
	return rc;
}
