/* sdp.c - the video part of an SDP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sdp.h"

int rv_sdp_parse(const char *text, size_t len, struct rv_sdp *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->pt = -1;
	int in_video = 0, have_m = 0;
	char line[512];
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
		if (use < 2 || line[1] != '=')
			continue;
		char *v = line + 2;
		switch (line[0]) {
		case 'c': {	/* c=IN IP4 ADDR (session or media level; the last one wins) */
			char net[8], type[8], addr[64];
			if (sscanf(v, "%7s %7s %63s", net, type, addr) == 3 && !strcmp(net, "IN") &&
			    (!out->addr[0] || in_video)) {
				char *slash = strchr(addr, '/');	/* multicast TTL */
				if (slash)
					*slash = 0;
				snprintf(out->addr, sizeof out->addr, "%s", addr);
				out->v6 = !strcmp(type, "IP6");
			}
			break;
		}
		case 'm': {
			char media[16], proto[32];
			int port, pt;
			in_video = 0;
			if (!have_m && sscanf(v, "%15s %d %31s %d", media, &port, proto, &pt) == 4 &&
			    !strcmp(media, "video") && port > 0 && port < 65536 && pt >= 0 && pt < 128) {
				out->port = port;
				out->pt = pt;
				in_video = have_m = 1;
			}
			break;
		}
		case 'a':
			if (!strncmp(v, "crypto:", 7) && (in_video || !have_m) && !out->has_crypto) {
				/* a=crypto:TAG SUITE inline:KEY[|LIFETIME][|MKI:LEN] */
				int tag;
				char suite[32], params[64];
				if (sscanf(v + 7, "%d %31s inline:%63s", &tag, suite, params) == 3) {
					params[strcspn(params, "|")] = 0;
					snprintf(out->crypto_suite, sizeof out->crypto_suite, "%s", suite);
					snprintf(out->crypto_key, sizeof out->crypto_key, "%s", params);
				}
				out->has_crypto = 1;
				break;
			}
			if (!in_video)
				break;
			if (!strncmp(v, "rtpmap:", 7)) {
				int pt, clock = 0;
				char codec[16];
				if (sscanf(v + 7, "%d %15[^/]/%d", &pt, codec, &clock) >= 2 && pt == out->pt) {
					snprintf(out->codec, sizeof out->codec, "%s", codec);
					out->clock = clock;
				}
			} else if (!strncmp(v, "framesize:", 10)) {
				int pt, w, h;
				if (sscanf(v + 10, "%d %d-%d", &pt, &w, &h) == 3 && pt == out->pt && w > 0 && h > 0 &&
				    w <= 16384 && h <= 16384) {
					out->width = w;
					out->height = h;
				}
			}
			break;
		}
	}
	if (!have_m) {
		snprintf(err, errlen, "no m=video line with a port and a payload type");
		return RV_EPROTO;
	}
	if (!out->codec[0]) {
		snprintf(err, errlen, "no a=rtpmap for payload type %d", out->pt);
		return RV_EPROTO;
	}
	if (!out->addr[0])
		snprintf(out->addr, sizeof out->addr, "0.0.0.0");
	return 0;
}
