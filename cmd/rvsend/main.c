/* rvsend - send commands, byte streams and files through rvserver:
 * options, checks, dispatch. */
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "router.h"
#include "rvsend.h"
#include "p2plink.h"
#include "p2plive.h"
#include "srtp.h"

enum {
	O_TO = 1, O_GROUP, O_WINDOW, O_CHUNK, O_ACCEPT_TIMEOUT, O_STALL_TIMEOUT,
	O_PROGRESS, O_NO_PROGRESS, O_FORMAT, O_INPUT, O_VCODEC, O_ACODEC, O_SIZE, O_FPS, O_BITRATE,
	O_ABITRATE, O_GOP, O_APT,
	O_RE, O_DURATION, O_RTP, O_SDP, O_PT, O_TCP, O_SRTP, O_LISTEN, O_LISTEN_TIMEOUT, O_P2P, O_KEY, O_NAME, O_CAP,
	O_PUSH_LIMIT,
	O_MAX_UPLOAD,
	O_IPMC,
	O_IPMC_TTL,
	O_SERVERLESS, O_PEER, O_LAN, O_BIND, O_PORT_FILE,
};

static const struct rv_opt opts[] = {
	RV_CLIENT_OPTS,
	{ O_TO, 't', "to", "ID", "send to this client", NULL, NULL },
	{ O_GROUP, 'g', "group", "GROUP", "send to every member of GROUP (neither: the default receivers)", NULL, NULL },
	{ O_WINDOW, 0, "window", "BYTES", "data and file: most bytes sent past the slowest receiver (default 16M)", NULL, NULL },
	{ O_CHUNK, 0, "chunk", "BYTES", "data and file: bytes per frame (default: the largest the server takes, at most 1020K)", NULL, NULL },
	{ O_ACCEPT_TIMEOUT, 0, "accept-timeout", "S", "wait S seconds for receivers to take an offer (default 10)", NULL, NULL },
	{ O_STALL_TIMEOUT, 0, "stall-timeout", "S", "data and file: drop a receiver without progress for S seconds; media --listen: end when the publisher sends nothing for S seconds (default 15)", NULL, NULL },
	{ O_PROGRESS, 0, "progress", NULL, "draw a progress bar on stderr even when it is not a terminal", NULL, NULL },
	{ O_NO_PROGRESS, 0, "no-progress", NULL, "never draw a progress bar", NULL, NULL },
	{ O_FORMAT, 'f', "format", "FMT", "media: the next input's format or device, as ffmpeg -f (v4l2, pulse, lavfi, x11grab, ...)", NULL, NULL },
	{ O_INPUT, 'i', "input", "INPUT", "media: what to open: a file, a device, a lavfi graph, or - for stdin; twice for separate video and audio", "file", NULL },
	{ O_LISTEN, 0, "listen", "URL", "media: instead of -i, wait at rtmp://ADDR:PORT/APP/NAME for one RTMP publisher (OBS, ffmpeg) and send what it sends", NULL, NULL },
	{ O_LISTEN_TIMEOUT, 0, "listen-timeout", "S", "media: with --listen, wait at most S seconds for the publisher (default: no limit)", NULL, NULL },
	{ O_VCODEC, 0, "vcodec", "CODEC", "media: h264 (libx264), vp8 (libvpx), copy or none (default h264)", "h264|vp8|copy|none", NULL },
	{ O_ACODEC, 0, "acodec", "CODEC", "media: opus (libopus, 48 kHz stereo), pcmu or pcma (G.711, 8 kHz mono), copy (Opus input) or none (default opus)", "opus|pcmu|pcma|copy|none", NULL },
	{ O_SIZE, 0, "size", "WxH", "media: scale video to W x H", NULL, NULL },
	{ O_FPS, 0, "fps", "N", "media: frame rate for the encoder (default: the input's)", NULL, NULL },
	{ O_BITRATE, 0, "bitrate", "BITS", "media: video bits per second, K and M as in ffmpeg: 1M is 1000000 (default 1M)", NULL, NULL },
	{ O_ABITRATE, 0, "abitrate", "BITS", "media: audio bits per second (default 64K)", NULL, NULL },
	{ O_GOP, 0, "gop", "N", "media: frames between keyframes (default two seconds' worth)", NULL, NULL },
	{ O_RE, 0, "re", NULL, "media: pace the input to real time (the default for all but capture devices)", NULL, NULL },
	{ O_DURATION, 0, "duration", "S", "media: stop after S seconds", NULL, NULL },
	{ O_RTP, 0, "rtp", "HOST:PORT", "media: no server: RTP to HOST: video to PORT, audio to PORT+2 (RTCP to the port after each)", NULL, NULL },
	{ O_SDP, 0, "sdp", "FILE", "media: with --rtp, write an SDP that ffplay/ffmpeg open", "file", NULL },
	{ O_P2P, 0, "p2p", "SPEC", "media: publish into the peer group SPEC (rvgroup p2p spec): the peers relay it to each other, rvserver only introduces them", NULL, NULL },
	{ O_KEY, 0, "key", "FILE", "media --p2p: this peer's Ed25519 key, made if missing (default: a new key for this run)", "file", NULL },
	{ O_NAME, 0, "name", "NAME", "media --p2p: the stream's name (default live)", NULL, NULL },
	{ O_CAP, 0, "cap", "TOKEN|FILE", "media --p2p: this peer's capability to publish, where the group restricts publishing (from rvgroup p2p grant --publish)", "file", NULL },
	{ O_PUSH_LIMIT, 0, "push-limit", "N", "media --p2p: each fragment leaves this peer at most N + 1 times (default 4)", NULL, NULL },
	{ O_MAX_UPLOAD, 0, "max-upload", "BITS", "media --p2p: this peer's upload budget, bits per second (K and M as in --bitrate; 64K to 10000M): pushes and pull answers paced at it, neighbours asked to take their pushes from another past 85 % of it (default: none)", NULL, NULL },
	{ O_IPMC, 0, "ipmc", "ADDR:PORT", "media --p2p: also send each fragment to this IP multicast group (fusion: receivers with --ipmc take it from there, the peers fill the gaps)", NULL, NULL },
	{ O_IPMC_TTL, 0, "ipmc-ttl", "N", "media --ipmc: the multicast TTL, 1 to 255 (default 1: this LAN only)", NULL, NULL },
	{ O_SERVERLESS, 0, "serverless", NULL, "media --p2p: no rvserver: peers only from --peer and LAN discovery (--lan or the spec's), and receivers that --peer to this one", NULL, NULL },
	{ O_PEER, 0, "peer", "ADDR:PORT", "media --p2p: connect to the peer at ADDR:PORT (repeatable)", NULL, NULL },
	{ O_LAN, 0, "lan", "ADDR:PORT", "media --p2p: the IP multicast address of LAN discovery (default: the spec's, if any)", NULL, NULL },
	{ O_BIND, 0, "bind", "ADDR[:PORT]", "media --p2p: the peer's UDP address (default 0.0.0.0, any port)", NULL, NULL },
	{ O_PORT_FILE, 0, "port-file", "FILE", "media --p2p: write the peer's UDP port to FILE (for a receiver's --peer)", "file", NULL },
	{ O_PT, 0, "pt", "N", "media: RTP payload type of the video (default 96)", NULL, NULL },
	{ O_APT, 0, "apt", "N", "media: RTP payload type of the audio (default 111; pcmu 0, pcma 8)", NULL, NULL },
	{ O_TCP, 0, "tcp", NULL, "media: send over the TCP connection, not UDP", NULL, NULL },
	{ O_SRTP, 0, "srtp", "SUITE", "media: aes_cm_128_hmac_sha1_80 (the default through rvserver), aead_aes_128_gcm or none (the default with --rtp)", "aes_cm_128_hmac_sha1_80|aead_aes_128_gcm|none", NULL },
	{ 0 }
};

/* cmd (cmd.c), data and file (sendfile.c); media through rvserver (live.c)
 * or, with --rtp, plain RTP (rtpout.c), or, with --p2p, into a peer group
 * (rtpout.c and p2pout.c). */
static int run_cmd(void *a, int argc, char **argv) { (void)argc; (void)argv; return cmd_run(a); }
static int run_xfer(void *a, int argc, char **argv) { (void)argc; (void)argv; return sendfile_run(a); }
static int run_media(void *ud, int argc, char **argv)
{
	struct app *a = ud;
	(void)argc; (void)argv;
	return a->rtp || a->p2p ? rtpout_run(a) : live_run(a);
}

enum { C_CMD = 1, C_DATA, C_FILE, C_MEDIA };

static const struct rv_subcmd cmds[] = {
	{ "cmd", "[TEXT...]", "send TEXT as one command, or each stdin line as one", 0, RV_ARGS_ANY, run_cmd, C_CMD },
	{ "data", "[FILE|-]", "send a byte stream (default stdin), its end and checksum marked", 0, 1, run_xfer, C_DATA },
	{ "file", "PATH...", "send files; every receiver confirms size and SHA-256", 1, RV_ARGS_ANY, run_xfer, C_FILE },
	{ "media", "", "encode video and audio from -f FMT -i INPUT (or an RTMP publisher: --listen URL) and stream them through rvserver (or --rtp HOST:PORT, or --p2p SPEC into a peer group)", 0, 0, run_media, C_MEDIA },
	{ NULL }
};

static const struct rv_tool tool = {
	.name = "rvsend",
	.summary = "Send commands, byte streams, files and media to a client, a group or the default receivers through rvserver.",
	.options = "[OPTION...] [-t ID | -g GROUP]",
	.opts = opts,
	.cmds = cmds,
	.footer = "Exit 0 only when the server accepted everything and, for data and files,\n"
		  "every receiver that took part confirmed size and SHA-256.",
};

/* Bits per second as ffmpeg takes them: K and M are 1000 and 1000000. */
/* rv_parse_bits into an int. */
static int parse_bits(const char *arg, uint64_t min, uint64_t max, int *out)
{
	uint64_t v;
	if (rv_parse_bits(arg, min, max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static const char *on_opt(void *ud, int key, const char *arg)
{
	struct app *a = ud;
	const char *err = NULL;
	char *end;
	if (key == RV_OPT_SERVER)
		a->server_set = 1;
	if (rv_client_opt(&a->co, key, arg, &err))
		return err;
	switch (key) {
	case O_TO:
		if (!rv_id_valid(arg))
			return "an id is 1-64 characters [A-Za-z0-9._@-]";
		a->to = arg;
		break;
	case O_GROUP:
		if (!rv_id_valid(arg))
			return "a group name is 1-64 characters [A-Za-z0-9._@-]";
		a->group = arg;
		break;
	case O_WINDOW:
		if (rv_parse_size(arg, &a->window) < 0 || a->window < 65536)
			return "expected a size of at least 64K";
		break;
	case O_CHUNK:
		if (rv_parse_size(arg, &a->chunk) < 0 || a->chunk < 1024 || a->chunk > RVSEND_CHUNK_MAX)
			return "expected a size from 1K to 1020K";
		break;
	case O_ACCEPT_TIMEOUT:
	case O_STALL_TIMEOUT: {
		double v = strtod(arg, &end);
		if (*end || v <= 0)
			return "expected a positive number of seconds";
		*(key == O_ACCEPT_TIMEOUT ? &a->accept_timeout : &a->stall_timeout) = v;
		break;
	}
	case O_FORMAT: a->pending_format = arg; break;
	case O_LISTEN:
		if (strncmp(arg, "rtmp://", 7) || !arg[7])
			return "expected an rtmp:// URL: rtmp://ADDR:PORT/APP/NAME";
		a->listen = arg;
		break;
	case O_LISTEN_TIMEOUT:
		a->listen_timeout = strtod(arg, &end);
		if (*end || a->listen_timeout <= 0)
			return "expected a positive number of seconds";
		break;
	case O_INPUT:	/* ffmpeg's way: each -i takes the -f before it */
		if (a->inputs[1].input)
			return "at most two inputs (one video, one audio)";
		a->inputs[a->inputs[0].input ? 1 : 0].input = arg;
		a->inputs[a->inputs[1].input ? 1 : 0].format = a->pending_format;
		a->pending_format = NULL;
		break;
	case O_VCODEC:
		if (!rv_cli_choice("h264|vp8|copy|none", arg))
			return "expected h264, vp8, copy or none";
		a->vcodec = !strcmp(arg, "vp8") ? RV_VCODEC_VP8 : !strcmp(arg, "copy") ? RV_VCODEC_COPY
			  : !strcmp(arg, "none") ? RV_VCODEC_NONE : RV_VCODEC_H264;
		break;
	case O_ACODEC:
		if (!rv_cli_choice("opus|pcmu|pcma|copy|none", arg))
			return "expected opus, pcmu, pcma, copy or none";
		a->acodec = !strcmp(arg, "copy") ? RV_ACODEC_COPY : !strcmp(arg, "none") ? RV_ACODEC_NONE
			  : !strcmp(arg, "pcmu") ? RV_ACODEC_PCMU : !strcmp(arg, "pcma") ? RV_ACODEC_PCMA
			  : RV_ACODEC_OPUS;
		break;
	case O_ABITRATE:
		if (parse_bits(arg, 6000, 510000, &a->abitrate) < 0)
			return "expected bits per second, 6K to 510K";
		break;
	case O_SIZE:
		if (sscanf(arg, "%dx%d", &a->width, &a->height) != 2 || a->width < 16 || a->height < 16 ||
		    a->width > 8192 || a->height > 8192)
			return "expected WxH, from 16x16 to 8192x8192";
		break;
	case O_FPS:
		a->fps = strtod(arg, &end);
		if (*end || a->fps <= 0 || a->fps > 240)
			return "expected a frame rate up to 240";
		break;
	case O_BITRATE:
		if (parse_bits(arg, 10000, 100000000, &a->bitrate) < 0)
			return "expected bits per second, 10K to 100M";
		break;
	case O_GOP:
		a->gop = (int)strtol(arg, &end, 10);
		if (*end || a->gop <= 0)
			return "expected a positive number of frames";
		break;
	case O_RE: a->realtime = 1; break;
	case O_DURATION:
		a->duration = strtod(arg, &end);
		if (*end || a->duration <= 0)
			return "expected a positive number of seconds";
		break;
	case O_RTP: a->rtp = arg; break;
	case O_P2P: a->p2p = arg; break;
	case O_KEY: a->p2p_key = arg; break;
	case O_NAME: a->p2p_name = arg; break;
	case O_CAP: a->p2p_cap = arg; break;
	case O_PUSH_LIMIT:
		if ((a->push_limit = rv_p2plive_push_limit(arg)) < 0)
			return "expected a number of neighbours, 1 to 64";
		break;
	case O_MAX_UPLOAD:
		if (rv_parse_bits(arg, 64000, 10000000000ull, &a->max_upload) < 0)
			return "expected bits per second, 64K to 10000M";
		break;
	case O_IPMC: {
		const char *why;
		if (strchr(arg, ','))
			return "a source (,SRC) is for rvrecv's --ipmc";
		if (rv_p2plive_ipmc_check(arg, &why) < 0)
			return why + strlen("--ipmc: ");
		a->ipmc = arg;
		break;
	}
	case O_IPMC_TTL:
		a->ipmc_ttl = (int)strtol(arg, &end, 10);
		if (*end || a->ipmc_ttl < 1 || a->ipmc_ttl > 255)
			return "expected a TTL, 1 to 255";
		break;
	case O_SERVERLESS: a->serverless = 1; break;
	case O_PEER:
	case O_LAN:
		return rv_p2plive_addr_opt(arg, key == O_LAN, &a->lan, a->peers, &a->npeers);
	case O_BIND: a->bind = arg; break;
	case O_PORT_FILE: a->port_file = arg; break;
	case O_SDP: a->sdp = arg; break;
	case O_PT:
	case O_APT: {
		long v = strtol(arg, &end, 10);
		if (*end || v < 96 || v > 127)
			return "expected a dynamic payload type, 96 to 127";
		*(key == O_PT ? &a->pt : &a->apt) = (int)v;
		break;
	}
	case O_TCP: a->tcp = 1; break;
	case O_SRTP:
		if (!rv_cli_choice("aes_cm_128_hmac_sha1_80|aead_aes_128_gcm|none", arg))
			return "expected aes_cm_128_hmac_sha1_80, aead_aes_128_gcm or none";
		a->srtp = !strcmp(arg, "none") ? RV_SRTP_NONE : !strncmp(arg, "aead", 4) ? RV_SRTP_AEAD_AES_128_GCM
											: RV_SRTP_AES_CM_128_HMAC_SHA1_80;
		a->srtp_set = 1;
		break;
	case O_PROGRESS: a->progress = 1; break;
	case O_NO_PROGRESS: a->progress = -1; break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	rv_client_opts_init(&a->co);
	a->window = 16u << 20;
	a->chunk = 0;	/* by the server's --max-frame, once it has said it */
	a->accept_timeout = 10;
	a->pt = 96;
	a->apt = -1;	/* by the codec, once it is known */
	a->srtp = RV_SRTP_AES_CM_128_HMAC_SHA1_80;
	a->stall_timeout = 15;
	int npos = rv_cli_parse(&tool, argc, argv, on_opt, a);
	const struct rv_subcmd *c = rv_cli_command(&tool, npos, argv);
	a->cmd = c->name;
	a->args = argv + 1;
	a->nargs = npos - 1;
	if (c->id == C_MEDIA) {
		if (a->apt < 0)	/* RFC 3551's static types for G.711, a dynamic one for Opus */
			a->apt = a->acodec == RV_ACODEC_PCMU ? 0 : a->acodec == RV_ACODEC_PCMA ? 8 : 111;
		if (a->listen && a->inputs[0].input)
			rv_cli_usage_error(&tool, "--listen and -i do not go together: the publisher is the input");
		if (a->listen_timeout > 0 && !a->listen)
			rv_cli_usage_error(&tool, "--listen-timeout goes with --listen");
		if (a->listen)
			a->inputs[0].input = a->listen;
		if (!a->inputs[0].input)
			rv_cli_usage_error(&tool, "media needs -i INPUT (and -f FMT for devices and lavfi) or --listen URL");
		if (a->sdp && !a->rtp)
			rv_cli_usage_error(&tool, "--sdp goes with --rtp");
		if (a->rtp && a->p2p)
			rv_cli_usage_error(&tool, "--rtp and --p2p do not go together");
		if ((a->p2p_key || a->p2p_name || a->p2p_cap || a->push_limit || a->max_upload) && !a->p2p)
			rv_cli_usage_error(&tool, "--key, --name, --cap, --push-limit and --max-upload go with --p2p");
		if (a->ipmc && !a->p2p)
			rv_cli_usage_error(&tool, "--ipmc goes with --p2p");
		if (a->ipmc_ttl && !a->ipmc)
			rv_cli_usage_error(&tool, "--ipmc-ttl goes with --ipmc");
		if ((a->serverless || a->npeers || a->lan || a->bind || a->port_file) && !a->p2p)
			rv_cli_usage_error(&tool, "--serverless, --peer, --lan, --bind and --port-file go with --p2p");
		if (a->serverless && a->server_set)
			rv_cli_usage_error(&tool, "--serverless and --server do not go together");
		if (a->rtp || a->p2p) {	/* no server (--p2p: its UDP port introduces the peers) */
			rv_diag_init("rvsend", a->co.verbosity);
			rv_out_init(a->co.json);
			int rc = a->p2p ? rv_client_start("rvsend", &a->co, &a->tls) : 0;	/* lib's log lines too */
			if (rc)
				return rc;
			return c->run(a, a->nargs, a->args);
		}
	}
	if (a->serverless || a->npeers || a->lan || a->bind || a->port_file)
		rv_cli_usage_error(&tool, "--serverless, --peer, --lan, --bind and --port-file are for media --p2p");
	if (a->to && a->group)
		rv_cli_usage_error(&tool, "-t and -g do not go together");
	a->data = c->id == C_DATA;
	if (a->chunk > a->window)	/* 0 (the default) stays 0 */
		a->chunk = a->window;
	const char *err = rv_client_opts_finish(&a->co);
	if (err)
		rv_cli_usage_error(&tool, "%s", err);

	int rc = rv_client_start("rvsend", &a->co, &a->tls);
	if (rc)
		return rc;
	rc = c->run(a, a->nargs, a->args);
	rv_tls_ctx_free(a->tls);
	return rc;
}
