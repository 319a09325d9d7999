/* rvrecv - take commands, byte streams and files sent through rvserver. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "json.h"
#include "log.h"
#include "router.h"
#include "rvrecv.h"

enum { O_GROUP = 1, O_ALLOW, O_COUNT, O_TIMEOUT, O_DIR, O_FROM, O_PROGRESS, O_NO_PROGRESS,
       O_SDP, O_OUTPUT, O_MFORMAT, O_DURATION, O_FRAMES, O_TCP };

static const struct rv_opt opts[] = {
	RV_CLIENT_OPTS,
	{ O_GROUP, 'g', "group", "GROUP", "join GROUP for the session", NULL, NULL },
	{ O_ALLOW, 0, "allow", "ID,...", "accept messages only from these senders", NULL, NULL },
	{ O_FROM, 0, "from", "ID", "data and media: take the streams of this sender only", NULL, NULL },
	{ O_DIR, 'd', "dir", "DIR", "file: save files in DIR (default: the current folder)", "dir", NULL },
	{ O_COUNT, 'c', "count", "N", "exit after N commands, files or streams", NULL, NULL },
	{ O_TIMEOUT, 0, "timeout", "S", "exit after S seconds (status 6 if --count was not reached)", NULL, NULL },
	{ O_PROGRESS, 0, "progress", NULL, "draw a progress bar on stderr even when it is not a terminal", NULL, NULL },
	{ O_NO_PROGRESS, 0, "no-progress", NULL, "never draw a progress bar", NULL, NULL },
	{ O_SDP, 0, "sdp", "FILE", "media: no server: receive the plain RTP that FILE describes", "file", NULL },
	{ O_OUTPUT, 'o', "output", "FILE", "media: write to FILE (.mkv default, .webm, .mp4 fragmented), - for stdout; a %s in FILE makes one file per sender", "file", NULL },
	{ O_MFORMAT, 0, "format", "FMT", "media: the container, as ffmpeg -f names it (default: from -o)", NULL, NULL },
	{ O_DURATION, 0, "duration", "S", "media: stop S seconds after the first packet", NULL, NULL },
	{ O_FRAMES, 0, "frames", "N", "media: stop after N frames", NULL, NULL },
	{ O_TCP, 0, "tcp", NULL, "media: take it over the TCP connection, not UDP", NULL, NULL },
	{ 0 }
};

/* Each command is what it takes (TAKE_*); with none, commands and files. */
static const struct rv_subcmd cmds[] = {
	{ "cmd", "", "print each command as 'from: text'", 0, 0, NULL, TAKE_CMD },
	{ "data", "", "write one byte stream to stdout, in order", 0, 0, NULL, TAKE_DATA },
	{ "file", "", "save the files sent to this id", 0, 0, NULL, TAKE_FILE },
	{ "media", "", "record the video streams sent to this id into a file or to stdout (or --sdp FILE: plain RTP)", 0, 0, NULL, TAKE_MEDIA },
	{ NULL }
};

static const struct rv_tool tool = {
	.name = "rvrecv",
	.summary = "Take the commands, byte streams, files and media sent to this id through rvserver.",
	.cmd_optional = 1,	/* commands and files */
	.opts = opts,
	.cmds = cmds,
	.footer = "With no command, takes commands and files. data ends after one stream\n"
		  "(or --count streams); cmd and file run until --count, --timeout or a signal.",
};

static const char *on_opt(void *ud, int key, const char *arg)
{
	struct app *a = ud;
	const char *err = NULL;
	char *end;
	if (rv_client_opt(&a->co, key, arg, &err))
		return err;
	switch (key) {
	case O_GROUP:
		if (!rv_id_valid(arg))
			return "a group name is 1-64 characters [A-Za-z0-9._@-]";
		a->group = arg;
		break;
	case O_ALLOW: a->allow = arg; break;
	case O_FROM:
		if (!rv_id_valid(arg))
			return "an id is 1-64 characters [A-Za-z0-9._@-]";
		a->from = arg;
		break;
	case O_DIR: {	/* "inbox/" and "inbox" name the same folder */
		static char dir[4096];
		snprintf(dir, sizeof dir, "%s", arg);
		for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
			dir[n - 1] = 0;
		a->dir = dir;
		break;
	}
	case O_COUNT:
		a->count = strtol(arg, &end, 10);
		if (*end || a->count <= 0)
			return "expected a positive number";
		break;
	case O_TIMEOUT:
		a->timeout = strtod(arg, &end);
		if (*end || a->timeout <= 0)
			return "expected a positive number of seconds";
		break;
	case O_SDP: a->sdp = arg; break;
	case O_OUTPUT: a->output = arg; break;
	case O_MFORMAT: a->mformat = arg; break;
	case O_DURATION:
		a->duration = strtod(arg, &end);
		if (*end || a->duration <= 0)
			return "expected a positive number of seconds";
		break;
	case O_FRAMES:
		a->frames = strtol(arg, &end, 10);
		if (*end || a->frames <= 0)
			return "expected a positive number";
		break;
	case O_TCP: a->tcp = 1; break;
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
	if (a->take & TAKE_MEDIA)
		watch_stop(a);
	uv_close((uv_handle_t *)&a->timer, on_closed);
	if (a->sess)
		rv_session_close(a->sess);
}

void app_counted(struct app *a)
{
	a->received++;
	if ((a->count > 0 && a->received >= a->count) || (a->count == 0 && a->take == TAKE_DATA))
		app_finish(a, a->exit_code);
}

int app_request(struct app *a, cJSON *hdr, rv_session_reply_fn fn, void *ud)
{
	return rv_session_request(a->sess, hdr, NULL, 0, fn, ud);
}

void reply_to(struct app *a, const char *to, double conn, const char *kind, cJSON *fields)
{
	cJSON *h = fields;
	cJSON_AddStringToObject(h, "type", "msg");
	cJSON_AddStringToObject(h, "to", to);
	if (conn >= 1)
		cJSON_AddNumberToObject(h, "conn", conn);
	cJSON_AddStringToObject(h, "kind", kind);
	/* Fire and forget: the sender notices silence by itself. */
	if (rv_session_send(a->sess, h, NULL, 0) < 0)
		rv_say_debug("cannot answer %s: not connected", to);
}

static void print_cmd(struct app *a, cJSON *h, const uint8_t *body, size_t len)
{
	const char *from = rv_json_str(h, "from");
	char *text = malloc(len + 1);
	if (!text || !from) {
		free(text);
		return;
	}
	memcpy(text, body, len);
	text[len] = 0;
	if (rv_out_json_mode()) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", "cmd");
		cJSON_AddStringToObject(o, "from", from);
		cJSON_AddStringToObject(o, "text", text);
		cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "time");
		if (cJSON_IsNumber(t))
			cJSON_AddNumberToObject(o, "time", t->valuedouble);
		rv_out_obj(o);
	} else {
		for (size_t i = 0; i < len; i++)	/* one command, one line */
			if ((unsigned char)text[i] < 0x20 && text[i] != '\t')
				text[i] = ' ';
		rv_out_line("%s: %s", from, text);
	}
	free(text);
	app_counted(a);
}

static void on_frame(struct rv_session *s, const char *type, cJSON *h,
		     const uint8_t *body, size_t len, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (a->done)
		return;
	if (a->take & TAKE_MEDIA) {
		watch_frame(a, type, h, body, len);
		return;
	}
	if (!strcmp(type, "gone")) {
		xfer_gone(a, h);
		return;
	}
	if (strcmp(type, "msg") != 0)
		return;
	const char *kind = rv_json_str(h, "kind");
	if (!kind)
		return;
	if (!strcmp(kind, "cmd")) {
		if (a->take & TAKE_CMD)
			print_cmd(a, h, body, len);
	} else if (!strcmp(kind, "xfer-offer")) {
		xfer_offer(a, h);
	} else if (!strcmp(kind, "xfer-data")) {
		xfer_data(a, h, body, len);
	} else if (!strcmp(kind, "xfer-end")) {
		xfer_end(a, h);
	} else if (!strcmp(kind, "xfer-abort")) {
		xfer_abort(a, h);
	}
}

static void on_join(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (err) {
		const char *msg = rv_json_str(reply, "message");
		rv_say_error("join %s: %s", a->group, msg ? msg : rv_strerror(err));
		app_finish(a, rv_cli_exit_for(err));
		return;
	}
	rv_say_info("joined %s", a->group);
}

static void on_state(struct rv_session *s, enum rv_session_state st, int err,
		     const char *why, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (st == RV_SESSION_UP) {
		rv_say_info("connected to %s:%d as %s", a->co.host, a->co.port, a->co.id);
		if (a->group) {
			cJSON *h = cJSON_CreateObject();
			cJSON_AddStringToObject(h, "type", "join");
			cJSON_AddStringToObject(h, "group", a->group);
			rv_session_request(a->sess, h, NULL, 0, on_join, a);
		}
		if (a->take & TAKE_MEDIA)
			watch_start(a);
		return;
	}
	if (a->done)
		return;
	rv_say_error("%s", why);
	app_finish(a, rv_cli_exit_for(err));
}

static void on_timeout(uv_timer_t *t)
{
	struct app *a = t->data;
	if (a->count > 0 && a->received < a->count) {
		rv_say_error("timed out after %.0f s with %ld of %ld", a->timeout, a->received, a->count);
		app_finish(a, RV_EXIT_TIMEOUT);
	} else {
		app_finish(a, a->exit_code);
	}
}

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	rv_client_opts_init(&a->co);
	a->dir = ".";
	int npos = rv_cli_parse(&tool, argc, argv, on_opt, a);
	const struct rv_subcmd *c = rv_cli_command(&tool, npos, argv);
	a->take = c ? c->id : TAKE_CMD | TAKE_FILE;
	if (a->take == TAKE_MEDIA) {
		if (!a->output)
			a->output = "show.mkv";
		if (!strcmp(a->output, "-") && a->co.json)
			rv_cli_usage_error(&tool, "-o - writes the stream to stdout: --json would mix with it");
		if (a->sdp) {
			rv_diag_init("rvrecv", a->co.verbosity);
			rv_out_init(a->co.json);
			return cmd_media(a);
		}
	}
	if (a->take == TAKE_DATA && a->co.json)
		rv_cli_usage_error(&tool, "data writes the stream to stdout: --json would mix with it");
	struct stat st;
	if ((a->take & TAKE_FILE) && (stat(a->dir, &st) < 0 || !S_ISDIR(st.st_mode)))
		rv_cli_usage_error(&tool, "--dir %s is not a directory", a->dir);
	const char *err = rv_client_opts_finish(&a->co);
	if (err)
		rv_cli_usage_error(&tool, "%s", err);

	int rc = rv_client_start("rvrecv", &a->co, &a->tls);
	if (rc)
		return rc;
	a->loop = uv_default_loop();
	cJSON *extra = NULL;
	if (a->allow) {
		extra = cJSON_CreateObject();
		cJSON *ids = cJSON_AddArrayToObject(extra, "allow");
		char *copy = strdup(a->allow), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!rv_id_valid(t))
				rv_cli_usage_error(&tool, "--allow takes ids separated by commas");
			cJSON_AddItemToArray(ids, cJSON_CreateString(t));
		}
		free(copy);
	}
	struct rv_session_conf conf = {
		.host = a->co.host, .port = a->co.port, .id = a->co.id, .role = "recv",
		.token = a->co.token, .client = "rvrecv/" RV_VERSION, .tls = a->tls,
		.connect_timeout = a->co.connect_timeout, .hello_extra = extra,
	};
	if (rv_session_new(&a->sess, a->loop, &conf, on_state, on_frame, a) < 0)
		return RV_EXIT_FAIL;
	uv_timer_init(a->loop, &a->timer);
	a->timer.data = a;
	if (a->timeout > 0)
		uv_timer_start(&a->timer, on_timeout, (uint64_t)(a->timeout * 1000), 0);
	rv_session_start(a->sess);
	uv_run(a->loop, UV_RUN_DEFAULT);
	xfer_free_all(a);
	cJSON_Delete(extra);
	rv_tls_ctx_free(a->tls);
	return a->exit_code;
}
