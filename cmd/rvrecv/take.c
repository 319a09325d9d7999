/* take.c - rvrecv cmd, data, file and media through rvserver: what each
 * frame of the session is and who takes it: a command is printed here, a
 * transfer's offer, data, end and abort go to files.c, media to watch.c. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "media.h"
#include "rvrecv.h"

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

/* cmd, data and file: commands and transfers. */
static void on_frame(struct app *a, const char *type, cJSON *h, const uint8_t *body, size_t len)
{
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

int take_run(struct app *a)
{
	static const struct app_ops take_ops = { .frame = on_frame };
	static const struct app_ops media_ops = { .up = watch_start, .frame = watch_frame, .stop = watch_stop };
	char err[256];
	/* FFmpeg now, not when the first stream comes: loading it takes a few
	 * hundred milliseconds, and the stream's first frames would wait */
	if ((a->take & TAKE_MEDIA) && rv_media_load(err, sizeof err) < 0) {
		rv_say_error("%s", err);
		return RV_EXIT_FAIL;
	}
	int code = app_run(a, a->take & TAKE_MEDIA ? &media_ops : &take_ops);
	xfer_free_all(a);
	return code;
}
