/* chat.c - join and listen: the group to stdout, stdin lines to the group. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "rvcode.h"
#include "rvgroup.h"

static void print_frame(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len)
{
	const char *group = rv_json_str(h, "group"), *from = rv_json_str(h, "from"), *who = rv_json_str(h, "id");
	const char *reason = rv_json_str(h, "reason");	/* left: "node-lost" (a cluster node died) */
	cJSON *time = cJSON_GetObjectItemCaseSensitive(h, "time");
	int is_msg = strcmp(type, "msg") == 0;

	if (!is_msg && strcmp(type, "joined") != 0 && strcmp(type, "left") != 0)
		return;
	const char *kind = rv_json_str(h, "kind");	/* chat shows text and commands, not transfers */
	if (is_msg && kind && strcmp(kind, "text") != 0 && strcmp(kind, "cmd") != 0)
		return;
	if (!is_msg)
		from = who;
	if (!from)
		return;
	if (rv_out_json_mode()) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", !is_msg ? type : group ? "message" : "direct");
		if (group)
			cJSON_AddStringToObject(o, "group", group);
		cJSON_AddStringToObject(o, "from", from);
		if (is_msg) {
			cJSON_AddItemToObject(o, "text", cJSON_CreateStringReference(""));
			char *t = malloc(len + 1);
			if (t) {
				memcpy(t, body, len);
				t[len] = 0;
				cJSON_ReplaceItemInObject(o, "text", cJSON_CreateString(t));
				free(t);
			}
		}
		if (!is_msg && reason)
			cJSON_AddStringToObject(o, "reason", reason);
		if (cJSON_IsNumber(time))
			cJSON_AddNumberToObject(o, "time", time->valuedouble);
		rv_out_obj(o);
	} else if (is_msg) {
		char *t = app_printable(body, len);
		if (group)
			rv_out_line("[%s] %s: %s", group, from, t ? t : "");
		else
			rv_out_line("[@%s] %s", from, t ? t : "");
		free(t);
	} else {
		rv_out_line("* %s %s %s%s%s%s", from, type, group ? group : "?", reason ? " (" : "",
			    reason ? reason : "", reason ? ")" : "");
	}
	if (is_msg && a->count > 0 && ++a->received >= a->count)
		app_finish(a, 0);
}

static void maybe_leave(struct app *a);

static void on_join_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (err) {
		app_fail(a, err, "join", reply);
		return;
	}
	a->joined++;
	cJSON *members = cJSON_GetObjectItemCaseSensitive(reply, "members"), *m;
	const char *g = rv_json_str(reply, "group");
	char list[1024] = "";
	size_t n = 0;
	cJSON_ArrayForEach(m, members) {
		if (cJSON_IsString(m)) {
			size_t used = strlen(list);
			snprintf(list + used, sizeof list - used, "%s%s", n ? ", " : "", m->valuestring);
			n++;
		}
	}
	rv_say_info("joined %s (%zu member%s: %s)", g ? g : "?", n, n == 1 ? "" : "s", list);
	maybe_leave(a);
}

static void send_joins(struct app *a)
{
	for (int i = 0; i < a->nargs; i++) {
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "type", "join");
		cJSON_AddStringToObject(h, "group", a->args[i]);
		rv_session_request(a->sess, h, NULL, 0, on_join_reply, a);
	}
}

/* The exit code for a connection that ended: once it had been up, the
 * server dropping this member as a slow consumer, or a reset, is a lost
 * connection (7) like a server that went away. */
static int end_code(struct app *a, int err)
{
	if (a->ups && (rv_code_parse(a->bye_code) == RV_CODE_SLOW_CONSUMER || err == UV_ECONNRESET ||
		       err == UV_EPIPE || err == UV_ECONNABORTED || err == UV_EOF))
		return RV_EXIT_LOST;
	return rv_cli_exit_for(err);
}

static void on_state(struct rv_session *s, enum rv_session_state st, int err,
		     const char *why, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (st == RV_SESSION_UP) {
		rv_say_info("connected to %s:%d as %s", a->co.host, a->co.port, a->co.id);
		a->up = 1;
		a->ups++;
		a->joined = 0;
		a->bye_code[0] = 0;
		if (!a->leaving)
			send_joins(a);
		return;
	}
	int was_up = a->up;
	a->up = 0;
	if (a->done)
		return;
	int too_large = rv_code_parse(a->bye_code) == RV_CODE_TOO_LARGE;	/* sent again, refused again */
	if (rv_code_parse(a->bye_code) == RV_CODE_SLOW_CONSUMER)
		why = "dropped by the server as a slow consumer (reading too slowly)";
	if (a->reconnect && err != RV_EREPLACED && err != RV_EDENIED && !too_large) {
		a->downs += was_up;
		rv_say_error("connection lost: %s; reconnecting", why);
		if (a->leaving)	/* the groups were left with the connection */
			app_finish(a, 0);
		else
			maybe_leave(a);
		return;
	}
	if (a->leaving && err == RV_ECLOSED) {
		app_finish(a, 0);
		return;
	}
	if (too_large)
		rv_say_error("%s: the server takes smaller messages (its --max-frame) than a line sent",
			     why);
	else
		rv_say_error("%s", why);
	app_finish(a, end_code(a, err));
}

/* A file or stream offered to a chat member: say no at once, so the
 * sender does not wait for an answer that would never come. */
static void refuse_offer(struct rv_session *s, cJSON *h)
{
	const char *from = rv_json_str(h, "from"), *xfer = rv_json_str(h, "xfer");
	cJSON *conn = cJSON_GetObjectItemCaseSensitive(h, "conn");
	if (!from || !xfer)
		return;
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "type", "msg");
	cJSON_AddStringToObject(r, "to", from);
	if (cJSON_IsNumber(conn))
		cJSON_AddNumberToObject(r, "conn", conn->valuedouble);
	cJSON_AddStringToObject(r, "kind", "xfer-refuse");
	cJSON_AddStringToObject(r, "xfer", xfer);
	cJSON_AddStringToObject(r, "reason", "rvgroup takes no files or streams");
	rv_session_send(s, r, NULL, 0);
}

static void on_frame(struct rv_session *s, const char *type, cJSON *h,
		     const uint8_t *body, size_t len, void *ud)
{
	struct app *a = ud;
	const char *kind = rv_json_str(h, "kind"), *code = rv_json_str(h, "code");
	if (!strcmp(type, "msg") && kind && !strcmp(kind, "xfer-offer"))
		refuse_offer(s, h);
	if (!strcmp(type, "bye"))
		snprintf(a->bye_code, sizeof a->bye_code, "%s", code ? code : "");
	print_frame(ud, type, h, body, len);
}

/* A line on its way: enough to report on it when its answer comes. */
struct line_req {
	struct app *a;
	unsigned downs;              /* a->downs when it was read */
	int queued;                  /* read while disconnected */
	int group;                   /* TO is a group, not a client */
	char to[65];
	char text[48];               /* its start, printable */
};

/* Lines read while disconnected, or not answered when the connection was
 * lost, go out again after reconnecting and rejoining; they reach only the
 * members back by then. Say how many they reached, and warn when none. */
static void report_resent(struct line_req *l, cJSON *reply)
{
	cJSON *d = cJSON_GetObjectItemCaseSensitive(reply, "delivered");
	int n = cJSON_IsNumber(d) ? d->valueint : 0;
	if (!l->group)
		rv_say_info("a line sent after reconnecting reached %s: \"%s\"", l->to, l->text);
	else if (n == 0)
		rv_say_error("warning: a line sent after reconnecting reached nobody (no other member "
			     "was in group %s yet): \"%s\"", l->to, l->text);
	else
		rv_say_info("a line sent after reconnecting reached %d member%s of group %s: \"%s\"",
			    n, n == 1 ? "" : "s", l->to, l->text);
}

static void on_post_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct line_req *l = ud;
	struct app *a = l->a;
	(void)s;
	if (err) {
		/* In a chat a refused line is reported, not fatal. */
		const char *msg = rv_json_str(reply, "message");
		rv_say_error("not delivered: %s", msg ? msg : rv_strerror(err));
	} else if (l->downs != a->downs || (l->queued && l->downs > 0)) {
		report_resent(l, reply);
	}
	free(l);
	if (rv_session_pending(a->sess) < 256)
		input_pause(a, 0);
	maybe_leave(a);
}

static void send_line(struct app *a, const char *group, const char *to, const char *text)
{
	struct line_req *l = malloc(sizeof *l);
	if (!l) {
		rv_say_error("cannot send: %s", rv_strerror(-ENOMEM));
		return;
	}
	l->a = a;
	l->downs = a->downs;
	l->queued = !a->up;
	l->group = !to;
	snprintf(l->to, sizeof l->to, "%s", to ? to : group);
	size_t n = strlen(text), i;
	for (i = 0; i < n && i < 40; i++)
		l->text[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
	snprintf(l->text + i, sizeof l->text - i, "%s", n > 40 ? "..." : "");
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "msg");
	if (to)
		cJSON_AddStringToObject(h, "to", to);
	else
		cJSON_AddStringToObject(h, "group", group);
	int rc = rv_session_request(a->sess, h, text, n, on_post_reply, l);
	if (rc < 0) {
		rv_say_error("cannot send: %s", rv_strerror(rc));
		free(l);
	}
	if (rv_session_pending(a->sess) >= 1024)
		input_pause(a, 1);	/* let the server catch up */
}

static void chat_line(struct app *a, char *line, size_t len)
{
	const char *group = a->nargs ? a->args[0] : NULL, *to = NULL;
	char *text = line;

	if (len == 0)
		return;
	/* "#group text" picks one of the joined groups; "@id text" is direct. */
	if ((line[0] == '#' || line[0] == '@') && len > 1) {
		char *sp = strchr(line, ' ');
		size_t n = sp ? (size_t)(sp - line - 1) : len - 1;
		if (line[0] == '@' && n > 0) {
			line[n + 1] = 0;
			const char *why = name_problem(line + 1);
			if (why) {	/* never posted to the group instead */
				rv_say_error("line %lu not sent: '@%s' names no valid id: %s",
					     a->lineno, line + 1, why);
				return;
			}
			to = line + 1;
			group = NULL;
			text = sp ? sp + 1 : line + len;
		} else if (line[0] == '#' && n > 0) {
			for (int i = 0; i < a->nargs; i++)
				if (strlen(a->args[i]) == n && !strncmp(a->args[i], line + 1, n)) {
					group = a->args[i];
					text = sp ? sp + 1 : line + len;
				}
		}
	}
	if (!group && !to) {
		rv_say_error("listen does not post; use join GROUP");
		return;
	}
	send_line(a, group, to, text);
}

static void on_leave_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)err; (void)reply;
	if (rv_session_pending(s) == 0)
		app_finish(a, 0);
}

/* After EOF on stdin, once every group is joined and every line answered,
 * leave the groups; the last leave reply ends the program. Disconnected
 * (with --reconnect), it ends at once when no line waits to be sent, and
 * otherwise reconnects to send them first. */
static void maybe_leave(struct app *a)
{
	if (!a->stdin_eof || a->leaving || a->done)
		return;
	size_t pending = rv_session_pending(a->sess);
	if (!a->up && a->downs > 0) {
		if (pending == 0) {
			rv_say_info("end of input while disconnected: nothing left to send");
			app_finish(a, 0);
		} else if (!a->said_wait) {
			a->said_wait = 1;
			rv_say_info("end of input: %zu line%s still to send; reconnecting to send %s",
				    pending, pending == 1 ? "" : "s", pending == 1 ? "it" : "them");
		}
		return;
	}
	if (a->joined < a->nargs || pending > 0)
		return;
	a->leaving = 1;
	for (int i = 0; i < a->nargs; i++) {
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "type", "leave");
		cJSON_AddStringToObject(h, "group", a->args[i]);
		rv_session_request(a->sess, h, NULL, 0, on_leave_reply, a);
	}
}

static void chat_eof(struct app *a)
{
	maybe_leave(a);
}

int chat_run(struct app *a, int listen_only)
{
	cJSON *extra = NULL;
	if (a->allow) {
		extra = cJSON_CreateObject();
		cJSON *ids = cJSON_AddArrayToObject(extra, "allow");
		char *copy = strdup(a->allow), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			cJSON_AddItemToArray(ids, cJSON_CreateString(t));
		free(copy);
	}
	if (app_connect(a, "recv", extra, on_state, on_frame) < 0) {
		cJSON_Delete(extra);
		return RV_EXIT_FAIL;
	}
	if (!listen_only) {
		a->on_line = chat_line;
		a->on_eof = chat_eof;
		if (input_start(a) < 0) {
			rv_say_error("cannot read stdin");
			return RV_EXIT_FAIL;
		}
	}
	uv_run(a->loop, UV_RUN_DEFAULT);
	cJSON_Delete(extra);
	return a->exit_code;
}
