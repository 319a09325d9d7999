/* app.c - rvrecv's lifecycle, under the commands (take.c, files.c,
 * watch.c): the session and its loop (connecting, joining --group,
 * --timeout), the end with an exit code, the count of what was taken,
 * requests to the server and replies to a sender. The commands plug in
 * through struct app_ops; this file calls only lib. */
#include <string.h>

#include "err.h"
#include "json.h"
#include "rvrecv.h"

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
	if (a->ops && a->ops->stop)
		a->ops->stop(a);
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
		if (a->ops->up)
			a->ops->up(a);
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

static void on_frame(struct rv_session *s, const char *type, cJSON *h,
		     const uint8_t *body, size_t len, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (!a->done)
		a->ops->frame(a, type, h, body, len);
}

int app_run(struct app *a, const struct app_ops *ops)
{
	a->ops = ops;
	a->loop = uv_default_loop();
	struct rv_session_conf conf = {
		.host = a->co.host, .port = a->co.port, .id = a->co.id, .role = "recv",
		.token = a->co.token, .client = "rvrecv/" RV_VERSION, .tls = a->tls,
		.connect_timeout = a->co.connect_timeout, .hello_extra = a->hello_extra,
	};
	if (rv_session_new(&a->sess, a->loop, &conf, on_state, on_frame, a) < 0)
		return RV_EXIT_FAIL;
	uv_timer_init(a->loop, &a->timer);
	a->timer.data = a;
	if (a->timeout > 0)
		uv_timer_start(&a->timer, on_timeout, (uint64_t)(a->timeout * 1000), 0);
	rv_session_start(a->sess);
	uv_run(a->loop, UV_RUN_DEFAULT);
	return a->exit_code;
}
