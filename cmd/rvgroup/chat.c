/* chat.c - join and listen: the group to stdout, stdin lines to the group. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rvgroup.h"

static const char *hstr(cJSON *h, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, k));
}

/* Text mode keeps a terminal safe: control characters print as '?'. */
static char *printable(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		s[i] = (p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f ? '?' : (char)p[i];
	s[n] = 0;
	return s;
}

void print_frame(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len)
{
	const char *group = hstr(h, "group"), *from = hstr(h, "from"), *who = hstr(h, "id");
	cJSON *time = cJSON_GetObjectItemCaseSensitive(h, "time");
	int is_msg = strcmp(type, "msg") == 0;

	if (!is_msg && strcmp(type, "joined") != 0 && strcmp(type, "left") != 0)
		return;
	const char *kind = hstr(h, "kind");	/* chat shows text and commands, not transfers */
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
		if (cJSON_IsNumber(time))
			cJSON_AddNumberToObject(o, "time", time->valuedouble);
		rv_out_obj(o);
	} else if (is_msg) {
		char *t = printable(body, len);
		if (group)
			rv_out_line("[%s] %s: %s", group, from, t ? t : "");
		else
			rv_out_line("[@%s] %s", from, t ? t : "");
		free(t);
	} else {
		rv_out_line("* %s %s %s", from, type, group ? group : "?");
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
	const char *g = hstr(reply, "group");
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

static void on_state(struct rv_session *s, enum rv_session_state st, int err,
		     const char *why, void *ud)
{
	struct app *a = ud;
	(void)s;
	if (st == RV_SESSION_UP) {
		rv_say_info("connected to %s:%d as %s", a->co.host, a->co.port, a->co.id);
		a->joined = 0;
		if (!a->leaving)
			send_joins(a);
		return;
	}
	if (a->done)
		return;
	if (a->reconnect && err != RV_EREPLACED && err != RV_EDENIED) {
		rv_say_error("connection lost: %s; reconnecting", why);
		return;
	}
	if (a->leaving && err == RV_ECLOSED) {
		app_finish(a, 0);
		return;
	}
	rv_say_error("%s", why);
	app_finish(a, rv_cli_exit_for(err));
}

/* A file or stream offered to a chat member: say no at once, so the
 * sender does not wait for an answer that would never come. */
static void refuse_offer(struct rv_session *s, cJSON *h)
{
	const char *from = hstr(h, "from"), *xfer = hstr(h, "xfer");
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
	const char *kind = hstr(h, "kind");
	if (!strcmp(type, "msg") && kind && !strcmp(kind, "xfer-offer"))
		refuse_offer(s, h);
	print_frame(ud, type, h, body, len);
}

static void on_post_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	if (err) {
		/* In a chat a refused line is reported, not fatal. */
		const char *msg = hstr(reply, "message");
		rv_say_error("not delivered: %s", msg ? msg : rv_strerror(err));
	}
	(void)s;
	if (rv_session_pending(a->sess) < 256)
		input_pause(a, 0);
	maybe_leave(a);
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
		char name[65];
		if (n > 0 && n < sizeof name) {
			memcpy(name, line + 1, n);
			name[n] = 0;
			int known = line[0] == '@';
			for (int i = 0; !known && i < a->nargs; i++)
				known = strcmp(a->args[i], name) == 0;
			if (known) {
				text = sp ? sp + 1 : line + len;
				if (line[0] == '#') {
					for (int i = 0; i < a->nargs; i++)
						if (strcmp(a->args[i], name) == 0)
							group = a->args[i];
				} else {
					to = line + 1;
					line[n + 1] = 0;
					group = NULL;
				}
			}
		}
	}
	if (!group && !to) {
		rv_say_error("listen does not post; use join GROUP");
		return;
	}
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "msg");
	if (to)
		cJSON_AddStringToObject(h, "to", to);
	else
		cJSON_AddStringToObject(h, "group", group);
	int rc = rv_session_request(a->sess, h, text, strlen(text), on_post_reply, a);
	if (rc < 0)
		rv_say_error("cannot send: %s", rv_strerror(rc));
	if (rv_session_pending(a->sess) >= 1024)
		input_pause(a, 1);	/* let the server catch up */
}

static void on_leave_reply(struct rv_session *s, int err, cJSON *reply, void *ud)
{
	struct app *a = ud;
	(void)err; (void)reply;
	if (rv_session_pending(s) == 0)
		app_finish(a, 0);
}

/* After EOF on stdin, once every group is joined and every line answered,
 * leave the groups; the last leave reply ends the program. */
static void maybe_leave(struct app *a)
{
	if (!a->stdin_eof || a->leaving || a->done || a->joined < a->nargs ||
	    rv_session_pending(a->sess) > 0)
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
	struct rv_session_conf conf = {
		.host = a->co.host, .port = a->co.port, .id = a->co.id, .role = "recv",
		.token = a->co.token, .client = "rvgroup/" RV_VERSION, .tls = a->tls,
		.reconnect = a->reconnect, .connect_timeout = a->co.connect_timeout,
	};
	cJSON *extra = NULL;
	if (a->allow) {
		extra = cJSON_CreateObject();
		cJSON *ids = cJSON_AddArrayToObject(extra, "allow");
		char *copy = strdup(a->allow), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			cJSON_AddItemToArray(ids, cJSON_CreateString(t));
		free(copy);
		conf.hello_extra = extra;
	}
	int rc = rv_session_new(&a->sess, a->loop, &conf, on_state, on_frame, a);
	if (rc < 0)
		return RV_EXIT_FAIL;
	rv_session_start(a->sess);
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
