/* app.c - rvsend's lifecycle, under the commands (cmd.c, sendfile.c): the
 * session and its loop (connecting, the server's errors, SIGINT and SIGTERM,
 * a tick), the end with an exit code, and messages to the target (-t, -g
 * or the default receivers). The commands plug in through struct app_ops;
 * this file calls only lib. */
#include <signal.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "rvsend.h"

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

static void on_state(struct rv_session *s, enum rv_session_state st, int err,
		     const char *why, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (st == RV_SESSION_UP) {
		rv_say_debug("connected to %s:%d as %s", a->co.host, a->co.port, a->co.id);
		a->ops->up(a);
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
	if (a->ops->frame)
		a->ops->frame(a, type, h);
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
	if (a->ops->interrupt && a->sess)
		a->ops->interrupt(a, end_interrupted);
	else
		end_interrupted(a);
}

static void on_tick(uv_timer_t *t)
{
	struct app *a = t->data;
	if (!a->done && a->ops->tick)
		a->ops->tick(a);
}

int app_run(struct app *a, const struct app_ops *ops)
{
	a->ops = ops;
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
	return a->exit_code;
}
