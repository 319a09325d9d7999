/* cmd.c - rvsend cmd: TEXT as one command, or each stdin line as one, to
 * the target; each is a request whose reply says the server took it. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "rvsend.h"

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

int cmd_run(struct app *a)
{
	static const struct app_ops ops = { .up = start_cmd };
	return app_run(a, &ops);
}
