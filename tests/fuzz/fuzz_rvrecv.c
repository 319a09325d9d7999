/* fuzz_rvrecv.c - rvrecv's handling of transfer frames from any sender:
 * xfer-offer, xfer-data, xfer-end and xfer-abort with arbitrary headers and
 * bodies, and gone events for their senders, into a scratch folder. The
 * input is a series of records:
 * u8 kind | u16 header length | header JSON | u16 body length | body
 * where kind % 5 picks offer, data, end, abort or gone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>

#include "../../cmd/rvrecv/rvrecv.h"
#include "log.h"

/* rvrecv's own files.c and app.c, linked as they are (Makefile): the
 * session is made but never started, so replies and monitor requests meet
 * a client that is not connected, as they would in a connection's gap. */
static uv_loop_t loop;

static char dir[64];

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	snprintf(dir, sizeof dir, "/tmp/fuzz-rvrecv.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	uv_loop_init(&loop);
	rv_diag_init("fuzz", -1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct app app;
	struct app *a = &app;
	memset(a, 0, sizeof *a);
	const struct rv_session_conf sc = { .host = "127.0.0.1", .port = 9, .id = "fuzz", .role = "recv" };
	if (rv_session_new(&a->sess, &loop, &sc, NULL, NULL, a) < 0 || uv_timer_init(&loop, &a->timer) < 0)
		abort();
	a->dir = dir;
	a->take = TAKE_FILE | TAKE_DATA;
	a->progress = -1;
	int devnull = open("/dev/null", O_WRONLY);	/* data streams go to stdout */
	int saved = dup(STDOUT_FILENO);
	dup2(devnull, STDOUT_FILENO);

	size_t p = 0;
	while (p + 3 <= size) {
		uint8_t kind = data[p];
		size_t hl = (size_t)data[p + 1] << 8 | data[p + 2];
		p += 3;
		if (p + hl + 2 > size)
			break;
		cJSON *h = cJSON_ParseWithLength((const char *)data + p, hl);
		p += hl;
		size_t bl = (size_t)data[p] << 8 | data[p + 1];
		p += 2;
		if (p + bl > size)
			bl = size - p;
		const uint8_t *body = data + p;
		p += bl;
		if (!cJSON_IsObject(h)) {
			cJSON_Delete(h);
			continue;
		}
		switch (kind % 5) {
		case 0: xfer_offer(a, h); break;
		case 1: xfer_data(a, h, body, bl); break;
		case 2: xfer_end(a, h); break;
		case 3: xfer_abort(a, h); break;
		case 4: xfer_gone(a, h); break;
		}
		cJSON_Delete(h);
	}
	xfer_free_all(a);
	app_finish(a, 0);	/* closes the timer and the session, as at rvrecv's end */
	uv_run(&loop, UV_RUN_DEFAULT);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(devnull);
	return 0;
}
