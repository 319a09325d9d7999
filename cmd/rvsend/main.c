/* rvsend - send commands, byte streams and files through rvserver. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "media.h"
#include "router.h"
#include "rvsend.h"
#include "srtp.h"

enum {
	O_TO = 1, O_GROUP, O_WINDOW, O_CHUNK, O_ACCEPT_TIMEOUT, O_STALL_TIMEOUT,
	O_PROGRESS, O_NO_PROGRESS, O_FORMAT, O_INPUT, O_VCODEC, O_ACODEC, O_SIZE, O_FPS, O_BITRATE,
	O_ABITRATE, O_GOP, O_APT,
	O_RE, O_DURATION, O_RTP, O_SDP, O_PT, O_TCP, O_SRTP,
};

static const struct rv_opt opts[] = {
	RV_CLIENT_OPTS,
	{ O_TO, 't', "to", "ID", "send to this client", NULL, NULL },
	{ O_GROUP, 'g', "group", "GROUP", "send to every member of GROUP (neither: the default receivers)", NULL, NULL },
	{ O_WINDOW, 0, "window", "BYTES", "data and file: most bytes sent past the slowest receiver (default 16M)", NULL, NULL },
	{ O_CHUNK, 0, "chunk", "BYTES", "data and file: bytes per frame (default 256K)", NULL, NULL },
	{ O_ACCEPT_TIMEOUT, 0, "accept-timeout", "S", "wait S seconds for receivers to take an offer (default 10)", NULL, NULL },
	{ O_STALL_TIMEOUT, 0, "stall-timeout", "S", "drop a receiver without progress for S seconds (default 15)", NULL, NULL },
	{ O_PROGRESS, 0, "progress", NULL, "draw a progress bar on stderr even when it is not a terminal", NULL, NULL },
	{ O_NO_PROGRESS, 0, "no-progress", NULL, "never draw a progress bar", NULL, NULL },
	{ O_FORMAT, 'f', "format", "FMT", "media: the next input's format or device, as ffmpeg -f (v4l2, pulse, lavfi, x11grab, ...)", NULL, NULL },
	{ O_INPUT, 'i', "input", "INPUT", "media: what to open: a file, a device, a lavfi graph, or - for stdin; twice for separate video and audio", "file", NULL },
	{ O_VCODEC, 0, "vcodec", "CODEC", "media: h264 (libx264), vp8 (libvpx), copy or none (default h264)", "h264|vp8|copy|none", NULL },
	{ O_ACODEC, 0, "acodec", "CODEC", "media: opus (libopus, 48 kHz stereo), copy (Opus input) or none (default opus)", "opus|copy|none", NULL },
	{ O_SIZE, 0, "size", "WxH", "media: scale video to W x H", NULL, NULL },
	{ O_FPS, 0, "fps", "N", "media: frame rate for the encoder (default: the input's)", NULL, NULL },
	{ O_BITRATE, 0, "bitrate", "BITS", "media: video bits per second, K and M as in ffmpeg: 1M is 1000000 (default 1M)", NULL, NULL },
	{ O_ABITRATE, 0, "abitrate", "BITS", "media: audio bits per second (default 64K)", NULL, NULL },
	{ O_GOP, 0, "gop", "N", "media: frames between keyframes (default two seconds' worth)", NULL, NULL },
	{ O_RE, 0, "re", NULL, "media: pace the input to real time (the default for all but capture devices)", NULL, NULL },
	{ O_DURATION, 0, "duration", "S", "media: stop after S seconds", NULL, NULL },
	{ O_RTP, 0, "rtp", "HOST:PORT", "media: no server: RTP to HOST: video to PORT, audio to PORT+2 (RTCP to the port after each)", NULL, NULL },
	{ O_SDP, 0, "sdp", "FILE", "media: with --rtp, write an SDP that ffplay/ffmpeg open", "file", NULL },
	{ O_PT, 0, "pt", "N", "media: RTP payload type of the video (default 96)", NULL, NULL },
	{ O_APT, 0, "apt", "N", "media: RTP payload type of the audio (default 111)", NULL, NULL },
	{ O_TCP, 0, "tcp", NULL, "media: send over the TCP connection, not UDP", NULL, NULL },
	{ O_SRTP, 0, "srtp", "SUITE", "media: aes_cm_128_hmac_sha1_80 (the default through rvserver), aead_aes_128_gcm or none (the default with --rtp)", "aes_cm_128_hmac_sha1_80|aead_aes_128_gcm|none", NULL },
	{ 0 }
};

/* cmd, data and file run a session here; media streams (stream.c). */
static int run_session(void *ud, int argc, char **argv);
static int run_stream(void *ud, int argc, char **argv) { (void)argc; (void)argv; return cmd_stream(ud); }

enum { C_CMD = 1, C_DATA, C_FILE, C_MEDIA };

static const struct rv_subcmd cmds[] = {
	{ "cmd", "[TEXT...]", "send TEXT as one command, or each stdin line as one", 0, RV_ARGS_ANY, run_session, C_CMD },
	{ "data", "[FILE|-]", "send a byte stream (default stdin), its end and checksum marked", 0, 1, run_session, C_DATA },
	{ "file", "PATH...", "send files; every receiver confirms size and SHA-256", 1, RV_ARGS_ANY, run_session, C_FILE },
	{ "media", "", "encode video and audio from -f FMT -i INPUT and stream them through rvserver (or --rtp HOST:PORT)", 0, 0, run_stream, C_MEDIA },
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
static int parse_bits(const char *arg, long min, long max, int *out)
{
	char *end;
	double v = strtod(arg, &end);
	if (end == arg)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'M')
		v *= 1e6, end++;
	if (*end || v < (double)min || v > (double)max)
		return -1;
	*out = (int)v;
	return 0;
}

static const char *on_opt(void *ud, int key, const char *arg)
{
	struct app *a = ud;
	const char *err = NULL;
	char *end;
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
		if (rv_parse_size(arg, &a->chunk) < 0 || a->chunk < 1024 || a->chunk > (1u << 20) - 4096)
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
		if (!rv_cli_choice("opus|copy|none", arg))
			return "expected opus, copy or none";
		a->acodec = !strcmp(arg, "copy") ? RV_ACODEC_COPY : !strcmp(arg, "none") ? RV_ACODEC_NONE
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

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

void app_finish(struct app *a, int code)
{
	if (a->done)
		return;
	a->done = 1;
	a->exit_code = code;
	if (a->in_open)
		rv_input_stop(&a->in);
	uv_close((uv_handle_t *)&a->tick, on_closed);
	if (a->sigint.data) {
		uv_close((uv_handle_t *)&a->sigint, on_closed);
		uv_close((uv_handle_t *)&a->sigterm, on_closed);
	}
	if (uv_is_active((uv_handle_t *)&a->pump) || a->pump.data)
		uv_close((uv_handle_t *)&a->pump, on_closed);
	if (a->sess)
		rv_session_close(a->sess);
}

cJSON *target_msg(struct app *a, cJSON *hdr)
{
	cJSON_AddStringToObject(hdr, "type", "msg");
	if (a->to)
		cJSON_AddStringToObject(hdr, "to", a->to);
	else if (a->group)
		cJSON_AddStringToObject(hdr, "group", a->group);
	return hdr;
}

int send_to_target(struct app *a, cJSON *hdr, const void *body, size_t len)
{
	return rv_session_send(a->sess, target_msg(a, hdr), body, len);
}

/* ---- cmd ---- */

static void on_cmd_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	if (err) {
		const char *msg = rv_json_str(reply, "message");
		if (!a->done)
			rv_say_error("cmd: %s", msg ? msg : rv_strerror(err));
		app_finish(a, rv_cli_exit_for(err));
		return;
	}
	if (rv_session_pending(s) < 256 && a->in_open)
		rv_input_pause(&a->in, 0);
	if ((!a->in_open || a->in_eof) && rv_session_pending(s) == 0)
		app_finish(a, 0);
}

static void send_cmd(struct app *a, const char *text, size_t len)
{
	cJSON *h = target_msg(a, cJSON_CreateObject());
	cJSON_AddStringToObject(h, "kind", "cmd");
	rv_session_request(a->sess, h, text, len, on_cmd_reply, a);
	if (a->in_open && rv_session_pending(a->sess) >= 1024)
		rv_input_pause(&a->in, 1);
}

static void on_cmd_line(struct rv_input *in, char *line, size_t len)
{
	if (len)
		send_cmd(in->ud, line, len);
}

static void on_cmd_eof(struct rv_input *in, int err)
{
	struct app *a = in->ud;
	a->in_eof = 1;
	if (err < 0)
		rv_say_error("reading stdin: %s", uv_strerror(err));
	if (rv_session_pending(a->sess) == 0)
		app_finish(a, err < 0 ? RV_EXIT_FAIL : 0);
}

static void start_cmd(struct app *a)
{
	if (a->nargs) {	/* the arguments are one command */
		size_t len = 0;
		for (int i = 0; i < a->nargs; i++)
			len += strlen(a->args[i]) + 1;
		char *text = calloc(1, len);
		for (int i = 0; text && i < a->nargs; i++) {
			strcat(text, a->args[i]);
			if (i + 1 < a->nargs)
				strcat(text, " ");
		}
		if (text)
			send_cmd(a, text, strlen(text));
		free(text);
		return;
	}
	a->in_open = 1;
	if (rv_input_start(&a->in, a->loop, 0, on_cmd_line, NULL, on_cmd_eof, a) < 0) {
		rv_say_error("cannot read stdin");
		app_finish(a, RV_EXIT_FAIL);
	}
}

/* ---- session ---- */

static void on_state(struct rv_session *s, enum rv_session_state st, int err,
		     const char *why, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (st == RV_SESSION_UP) {
		rv_say_debug("connected to %s:%d as %s", a->co.host, a->co.port, a->co.id);
		if (!strcmp(a->cmd, "cmd"))
			start_cmd(a);
		else
			xfer_start(a);
		return;
	}
	if (a->done)
		return;
	rv_say_error("%s", why);
	app_finish(a, rv_cli_exit_for(err));
}

static void on_frame(struct rv_session *s, const char *type, cJSON *h,
		     const uint8_t *body, size_t len, void *ud)
{
	struct app *a = ud;
	(void)s; (void)body; (void)len;
	if (a->done)
		return;
	if (!strcmp(type, "error")) {	/* about a message sent without a reply */
		const char *msg = rv_json_str(h, "message");
		const char *code = rv_json_str(h, "code");
		rv_say_error("%s", msg ? msg : "error from the server");
		app_finish(a, rv_cli_exit_for(rv_session_code(code)));
		return;
	}
	if (!strcmp(type, "gone")) {	/* a receiver we monitor went away */
		if (strcmp(a->cmd, "cmd") != 0)
			xfer_gone(a, h);
		return;
	}
	const char *kind = rv_json_str(h, "kind");
	if (!strcmp(type, "msg") && kind && !strncmp(kind, "xfer-", 5))
		xfer_frame(a, kind, h);
}

/* Exit as a process killed by that signal would, once the receivers know. */
static void end_interrupted(struct app *a)
{
	app_finish(a, 128 + a->signo);
}

/* SIGINT or SIGTERM: abort the transfer under way, telling its receivers
 * (a second signal ends at once). */
static void on_signal(uv_signal_t *sg, int signo)
{
	struct app *a = sg->data;
	if (a->done)
		return;
	if (a->signo) {
		app_finish(a, 128 + signo);
		return;
	}
	a->signo = signo;
	if (strcmp(a->cmd, "cmd") != 0 && a->sess)
		xfer_interrupt(a, end_interrupted);
	else
		end_interrupted(a);
}

static void on_tick(uv_timer_t *t)
{
	struct app *a = t->data;
	if (!a->done && strcmp(a->cmd, "cmd") != 0)
		xfer_tick(a);
}

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	rv_client_opts_init(&a->co);
	a->window = 16u << 20;
	a->chunk = 256u << 10;
	a->accept_timeout = 10;
	a->pt = 96;
	a->apt = 111;
	a->srtp = RV_SRTP_AES_CM_128_HMAC_SHA1_80;
	a->stall_timeout = 15;
	int npos = rv_cli_parse(&tool, argc, argv, on_opt, a);
	const struct rv_subcmd *c = rv_cli_command(&tool, npos, argv);
	a->cmd = c->name;
	a->args = argv + 1;
	a->nargs = npos - 1;
	if (c->id == C_MEDIA) {
		if (!a->inputs[0].input)
			rv_cli_usage_error(&tool, "media needs -i INPUT (and -f FMT for devices and lavfi)");
		if (a->sdp && !a->rtp)
			rv_cli_usage_error(&tool, "--sdp goes with --rtp");
		if (a->rtp) {
			rv_diag_init("rvsend", a->co.verbosity);
			rv_out_init(a->co.json);
			return cmd_media(a);
		}
	}
	if (a->to && a->group)
		rv_cli_usage_error(&tool, "-t and -g do not go together");
	a->data = c->id == C_DATA;
	if (a->chunk > a->window)
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

/* cmd, data and file: one session, its replies and the transfer's events. */
static int run_session(void *ud, int argc, char **argv)
{
	struct app *a = ud;
	(void)argc; (void)argv;	/* a->args */
	a->loop = uv_default_loop();
	cJSON *extra = cJSON_CreateObject();
	cJSON_AddBoolToObject(extra, "replies", 1);
	struct rv_session_conf conf = {
		.host = a->co.host, .port = a->co.port, .id = a->co.id, .role = "send",
		.token = a->co.token, .client = "rvsend/" RV_VERSION, .tls = a->tls,
		.connect_timeout = a->co.connect_timeout, .hello_extra = extra,
	};
	if (rv_session_new(&a->sess, a->loop, &conf, on_state, on_frame, a) < 0) {
		cJSON_Delete(extra);
		return RV_EXIT_FAIL;
	}
	uv_timer_init(a->loop, &a->tick);
	a->tick.data = a;
	uv_timer_start(&a->tick, on_tick, 500, 500);
	uv_signal_init(a->loop, &a->sigint);
	uv_signal_init(a->loop, &a->sigterm);
	a->sigint.data = a->sigterm.data = a;
	uv_signal_start(&a->sigint, on_signal, SIGINT);
	uv_signal_start(&a->sigterm, on_signal, SIGTERM);
	rv_session_start(a->sess);
	uv_run(a->loop, UV_RUN_DEFAULT);
	cJSON_Delete(extra);
	free(a->buf);
	free(a->rx);
	return a->exit_code;
}
