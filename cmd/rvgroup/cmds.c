/* cmds.c - one-shot commands: post, say, members, groups, contacts, allow. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "rvgroup.h"

/* Done when every line is answered; a line refused as too long (app.c)
 * makes the exit status 1. */
static void maybe_done(struct app *a)
{
	if (a->stdin_eof && rv_session_pending(a->sess) == 0)
		app_finish(a, a->refused ? RV_EXIT_FAIL : a->exit_code);
}

/* ---- post and say ---- */

static void on_sent(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	if (err) {
		app_fail(a, err, a->cmd, reply);
		return;
	}
	if (rv_session_pending(s) < 256)
		input_pause(a, 0);
	maybe_done(a);
}

static void send_text(struct app *a, const char *text, size_t len)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "msg");
	cJSON_AddStringToObject(h, strcmp(a->cmd, "say") == 0 ? "to" : "group", a->args[0]);
	int rc = rv_session_request(a->sess, h, text, len, on_sent, a);
	if (rc < 0)
		app_fail(a, rc, a->cmd, NULL);
	else if (rv_session_pending(a->sess) >= 1024)
		input_pause(a, 1);
}

static void post_line(struct app *a, char *line, size_t len)
{
	if (len)
		send_text(a, line, len);
}

static void post_eof(struct app *a)
{
	maybe_done(a);
}

/* ---- queries ---- */

static void on_members(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (err) {
		app_fail(a, err, a->cmd, reply);
		return;
	}
	cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(reply, "members")) {
		const char *id = rv_json_str(m, "id");
		int online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "online"));
		if (rv_out_json_mode()) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "id", id ? id : "");
			cJSON_AddBoolToObject(o, "online", online);
			rv_out_obj(o);
		} else {
			rv_out_line("%s%s", id ? id : "", online ? "" : " (offline)");
		}
	}
	app_finish(a, 0);
}

static void on_groups(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (err) {
		app_fail(a, err, a->cmd, reply);
		return;
	}
	cJSON *g;
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(reply, "groups")) {
		const char *name = rv_json_str(g, "name");
		cJSON *n = cJSON_GetObjectItemCaseSensitive(g, "members");
		if (rv_out_json_mode()) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "name", name ? name : "");
			cJSON_AddNumberToObject(o, "members", cJSON_IsNumber(n) ? n->valuedouble : 0);
			rv_out_obj(o);
		} else {
			rv_out_line("%s", name ? name : "");
		}
	}
	app_finish(a, 0);
}

static void on_list(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (err) {
		app_fail(a, err, a->cmd, reply);
		return;
	}
	cJSON *all = cJSON_GetObjectItemCaseSensitive(reply, "all"), *ids =
		cJSON_GetObjectItemCaseSensitive(reply, "ids"), *id;
	if (rv_out_json_mode()) {
		cJSON *o = cJSON_CreateObject();
		if (all)
			cJSON_AddBoolToObject(o, "all", cJSON_IsTrue(all));
		cJSON_AddItemToObject(o, "ids", cJSON_Duplicate(ids, 1));
		rv_out_obj(o);
	} else if (cJSON_IsTrue(all)) {
		rv_out_line("*");	/* every sender is allowed */
	} else {
		cJSON_ArrayForEach(id, ids)
			if (cJSON_IsString(id))
				rv_out_line("%s", id->valuestring);
	}
	app_finish(a, 0);
}

static void request_list(struct app *a)
{
	const char *op = a->nargs ? a->args[0] : "list";
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", a->cmd);
	cJSON_AddStringToObject(h, "op", op);
	cJSON *ids = cJSON_AddArrayToObject(h, "ids");
	for (int i = 1; i < a->nargs; i++)
		cJSON_AddItemToArray(ids, cJSON_CreateString(a->args[i]));
	rv_session_request(a->sess, h, NULL, 0, on_list, a);
}

static void on_state(struct rv_session *s, enum rv_session_state st, int err,
		     const char *why, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (st == RV_SESSION_UP || a->done)
		return;
	if (a->reconnect && err != RV_EREPLACED && err != RV_EDENIED) {
		rv_say_error("%s; retrying", why);
		return;
	}
	rv_say_error("%s", why);
	app_finish(a, rv_cli_exit_for(err));
}

int cmds_run(struct app *a)
{
	if (app_connect(a, "send", NULL, on_state, NULL) < 0)
		return RV_EXIT_FAIL;

	if (!strcmp(a->cmd, "post") || !strcmp(a->cmd, "say")) {
		if (a->nargs > 1) {	/* the arguments are one message */
			size_t len = 0;
			for (int i = 1; i < a->nargs; i++)
				len += strlen(a->args[i]) + 1;
			char *text = malloc(len);
			if (!text)
				return RV_EXIT_FAIL;
			text[0] = 0;
			for (int i = 1; i < a->nargs; i++) {
				strcat(text, a->args[i]);
				if (i + 1 < a->nargs)
					strcat(text, " ");
			}
			send_text(a, text, strlen(text));
			free(text);
			a->stdin_eof = 1;
		} else {
			a->on_line = post_line;
			a->on_eof = post_eof;
			if (input_start(a) < 0) {
				rv_say_error("cannot read stdin");
				return RV_EXIT_FAIL;
			}
		}
	} else if (!strcmp(a->cmd, "members")) {
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "type", "members");
		cJSON_AddStringToObject(h, "group", a->args[0]);
		rv_session_request(a->sess, h, NULL, 0, on_members, a);
	} else if (!strcmp(a->cmd, "groups")) {
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "type", "groups");
		cJSON_AddBoolToObject(h, "all", 1);
		rv_session_request(a->sess, h, NULL, 0, on_groups, a);
	} else {
		request_list(a);
	}
	uv_run(a->loop, UV_RUN_DEFAULT);
	return a->exit_code;
}
