/* app.c - rvgroup's lifecycle, under the commands (chat.c, cmds.c): the
 * session to the server, stdin lines put together whole, the end with an
 * exit code, failures reported, and the check of a name. It calls only lib. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "router.h"
#include "tls.h"
#include "rvgroup.h"

/* Lines come whole: rv_input hands a line past its buffer in parts, which
 * are put together here, so that one line is one message. A line longer
 * than RVGROUP_MAX_LINE is refused, and only that line. */
static void line_refused(struct app *a, size_t len)
{
	a->refused++;
	rv_say_error("line %lu of standard input not sent: %zu bytes, more than the %u bytes "
		     "of one message (rvserver's default --max-frame)",
		     a->lineno, len, (unsigned)RVGROUP_MAX_LINE);
}

static void in_line(struct rv_input *in, char *line, size_t len)
{
	struct app *a = in->ud;
	struct rv_buf *b = &a->longline;
	if (a->done)
		return;
	if (!in->partial && !a->skipping && rv_buf_size(b) == 0) {
		a->lineno++;
		if (len > RVGROUP_MAX_LINE)
			line_refused(a, len);
		else
			a->on_line(a, line, len);
		return;
	}
	if (!a->skipping && rv_buf_append(b, line, len) < 0) {
		a->skipping = rv_buf_size(b);	/* too long: count the rest, keep none */
		rv_buf_free(b);
	}
	if (a->skipping)
		a->skipping += len;
	if (in->partial)
		return;
	a->lineno++;
	if (a->skipping || rv_buf_size(b) > RVGROUP_MAX_LINE) {
		line_refused(a, a->skipping ? a->skipping : rv_buf_size(b));
		a->skipping = 0;
		rv_buf_free(b);
		return;
	}
	char nul = 0;
	rv_buf_append(b, &nul, 1);	/* room kept by the cap */
	a->on_line(a, (char *)rv_buf_head(b), rv_buf_size(b) - 1);
	rv_buf_free(b);
}

static void in_eof(struct rv_input *in, int err)
{
	struct app *a = in->ud;
	if (err < 0)
		rv_say_error("reading stdin: %s", uv_strerror(err));
	a->stdin_eof = 1;
	if (!a->done)
		a->on_eof(a);
}

int input_start(struct app *a)
{
	a->stdin_open = 1;
	rv_buf_init(&a->longline, RVGROUP_MAX_LINE + 1);
	return rv_input_start(&a->in, a->loop, 0, in_line, NULL, in_eof, a);
}

void input_pause(struct app *a, int pause)
{
	if (a->stdin_open)
		rv_input_pause(&a->in, pause);
}

void input_stop(struct app *a)
{
	if (a->stdin_open)
		rv_input_stop(&a->in);
}

int app_connect(struct app *a, const char *role, cJSON *extra, rv_session_state_fn on_state,
		rv_session_frame_fn on_frame)
{
	struct rv_session_conf conf = {
		.host = a->co.host, .port = a->co.port, .id = a->co.id, .role = role,
		.token = a->co.token, .client = "rvgroup/" RV_VERSION, .tls = a->tls,
		.reconnect = a->reconnect, .connect_timeout = a->co.connect_timeout,
		.hello_extra = extra,
	};
	if (rv_session_new(&a->sess, a->loop, &conf, on_state, on_frame, a) < 0)
		return -1;
	rv_session_start(a->sess);
	return 0;
}

void app_finish(struct app *a, int code)
{
	if (a->done)
		return;
	a->done = 1;
	a->exit_code = code;
	input_stop(a);
	if (a->sess)
		rv_session_close(a->sess);
}

void app_fail(struct app *a, int err, const char *what, cJSON *reply)
{
	const char *msg = rv_json_str(reply, "message");
	if (!a->done)
		rv_say_error("%s: %s", what, msg ? msg : rv_strerror(err));
	app_finish(a, rv_cli_exit_for(err));
}

void app_free(struct app *a)
{
	rv_tls_ctx_free(a->tls);
	rv_buf_free(&a->longline);
	free(a);
}

char *app_printable(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		s[i] = (p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f ? '?' : (char)p[i];
	s[n] = 0;
	return s;
}

const char *name_problem(const char *s)
{
	static char why[64];
	size_t n = strlen(s);
	if (n == 0)
		return "it is empty";
	if (n > RV_ID_MAX) {
		snprintf(why, sizeof why, "it is %zu characters, at most %d", n, RV_ID_MAX);
		return why;
	}
	if (!rv_id_valid(s))
		return "it has a character other than A-Z a-z 0-9 . _ @ -";
	return NULL;
}

