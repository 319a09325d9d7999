/* test_ws.c - WebSocket engine (lib/ws.c): a client engine and a server
 * engine talking to each other in memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "ws.h"

/* What one side received. */
struct inbox {
	int count;
	int opcode;
	uint8_t data[70000];
	size_t len;
};

static void on_msg(void *ud, int opcode, const uint8_t *data, size_t len)
{
	struct inbox *in = ud;

	in->count++;
	in->opcode = opcode;
	assert_true(len <= sizeof in->data);
	memcpy(in->data, data, len);
	in->len = len;
}

struct pair {
	struct rv_ws *client, *server;
	struct inbox cin, sin;
	struct rv_buf wire;
};

static void pair_init(struct pair *p, size_t max_msg)
{
	memset(p, 0, sizeof *p);
	assert_int_equal(rv_ws_new(&p->client, 0, max_msg, on_msg, &p->cin), 0);
	assert_int_equal(rv_ws_new(&p->server, 1, max_msg, on_msg, &p->sin), 0);
	rv_buf_init(&p->wire, 1 << 20);
}

static void pair_free(struct pair *p)
{
	rv_ws_free(p->client);
	rv_ws_free(p->server);
	rv_buf_free(&p->wire);
}

/* Move everything FROM has to send into TO, STEP bytes per rv_ws_feed()
 * (0: all at once). Returns the last feed's result. */
static int pump(struct pair *p, struct rv_ws *from, struct rv_ws *to, size_t step)
{
	int rc = 0;

	rv_buf_reset(&p->wire);
	assert_true(rv_ws_take(from, &p->wire) >= 0);
	const uint8_t *d = rv_buf_head(&p->wire);
	size_t len = rv_buf_size(&p->wire);
	if (step == 0)
		step = len;
	for (size_t off = 0; off < len && rc == 0; off += step) {
		size_t n = len - off < step ? len - off : step;
		rc = rv_ws_feed(to, d + off, n);
	}
	return rc;
}

static void test_text_and_binary(void **state)
{
	struct pair p;
	uint8_t bin[300];
	(void)state;

	pair_init(&p, 1 << 16);
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (uint8_t)i;

	/* Client to server: text. */
	assert_int_equal(rv_ws_send(p.client, RV_WS_TEXT, "hello", 5), 0);
	assert_int_equal(pump(&p, p.client, p.server, 0), 0);
	assert_int_equal(p.sin.count, 1);
	assert_int_equal(p.sin.opcode, RV_WS_TEXT);
	assert_int_equal(p.sin.len, 5);
	assert_memory_equal(p.sin.data, "hello", 5);

	/* Client frames are masked: the payload is not on the wire as is. */
	assert_int_equal(rv_ws_send(p.client, RV_WS_BINARY, bin, sizeof bin), 0);
	rv_buf_reset(&p.wire);
	assert_true(rv_ws_take(p.client, &p.wire) > (long)sizeof bin);
	assert_true(rv_buf_head(&p.wire)[1] & 0x80);
	assert_int_equal(rv_ws_feed(p.server, rv_buf_head(&p.wire), rv_buf_size(&p.wire)), 0);
	assert_int_equal(p.sin.count, 2);
	assert_int_equal(p.sin.opcode, RV_WS_BINARY);
	assert_int_equal(p.sin.len, sizeof bin);
	assert_memory_equal(p.sin.data, bin, sizeof bin);

	/* Server to client: unmasked binary, then an empty text message. */
	assert_int_equal(rv_ws_send(p.server, RV_WS_BINARY, bin, sizeof bin), 0);
	assert_int_equal(rv_ws_send(p.server, RV_WS_TEXT, "", 0), 0);
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(p.server, &p.wire), 4 + sizeof bin + 2);
	assert_false(rv_buf_head(&p.wire)[1] & 0x80);
	assert_int_equal(rv_ws_feed(p.client, rv_buf_head(&p.wire), rv_buf_size(&p.wire)), 0);
	assert_int_equal(p.cin.count, 2);
	assert_int_equal(p.cin.opcode, RV_WS_TEXT);
	assert_int_equal(p.cin.len, 0);

	/* Nothing left to send; neither side is closed. */
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(p.client, &p.wire), 0);
	assert_false(rv_ws_closed(p.client));
	assert_false(rv_ws_closed(p.server));
	assert_int_equal(rv_ws_send(p.client, 9, "x", 1), -EINVAL);
	pair_free(&p);
}

/* Several messages, including a big one, fed one byte at a time. */
static void test_byte_at_a_time(void **state)
{
	struct pair p;
	static uint8_t big[65536 + 10];
	(void)state;

	pair_init(&p, sizeof big);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(rv_ws_send(p.client, RV_WS_TEXT, "one", 3), 0);
	assert_int_equal(rv_ws_send(p.client, RV_WS_BINARY, big, 200), 0);
	assert_int_equal(rv_ws_send(p.client, RV_WS_BINARY, big, sizeof big), 0);
	assert_int_equal(pump(&p, p.client, p.server, 1), 0);
	assert_int_equal(p.sin.count, 3);
	assert_int_equal(p.sin.len, sizeof big);
	assert_memory_equal(p.sin.data, big, sizeof big);
	pair_free(&p);
}

/* A message split into fragments by the peer is reassembled, with a ping
 * between the fragments answered on the way. Frames are built by hand as a
 * client would send them (masked, here with a zero key). */
static void test_fragmented(void **state)
{
	static const uint8_t frames[] = {
		0x01, 0x83, 0, 0, 0, 0, 'a', 'b', 'c',  /* text, not final */
		0x89, 0x82, 0, 0, 0, 0, 'p', '1',       /* ping "p1" */
		0x00, 0x82, 0, 0, 0, 0, 'd', 'e',       /* continuation */
		0x80, 0x81, 0, 0, 0, 0, 'f',            /* final continuation */
	};
	struct pair p;
	(void)state;

	for (int bytewise = 0; bytewise <= 1; bytewise++) {
		pair_init(&p, 100);
		if (bytewise) {
			for (size_t i = 0; i < sizeof frames; i++)
				assert_int_equal(rv_ws_feed(p.server, frames + i, 1), 0);
		} else {
			assert_int_equal(rv_ws_feed(p.server, frames, sizeof frames), 0);
		}
		assert_int_equal(p.sin.count, 1);
		assert_int_equal(p.sin.opcode, RV_WS_TEXT);
		assert_int_equal(p.sin.len, 6);
		assert_memory_equal(p.sin.data, "abcdef", 6);
		/* The pong carries the ping's payload. */
		rv_buf_reset(&p.wire);
		assert_int_equal(rv_ws_take(p.server, &p.wire), 4);
		assert_memory_equal(rv_buf_head(&p.wire), "\x8a\x02p1", 4);
		pair_free(&p);
	}
}

static void test_over_cap(void **state)
{
	struct pair p;
	uint8_t data[200];
	(void)state;

	memset(data, 'z', sizeof data);
	/* One frame over the cap. */
	pair_init(&p, 100);
	assert_int_equal(rv_ws_send(p.client, RV_WS_BINARY, data, 101), 0);
	assert_int_equal(pump(&p, p.client, p.server, 0), RV_EWS);
	assert_int_equal(p.sin.count, 0);
	/* The server queued a close with 1009 (message too big). */
	rv_buf_reset(&p.wire);
	assert_true(rv_ws_take(p.server, &p.wire) >= 4);
	assert_int_equal(rv_buf_head(&p.wire)[0], 0x88);
	assert_int_equal(rv_buf_head(&p.wire)[2] << 8 | rv_buf_head(&p.wire)[3], 1009);
	assert_true(rv_ws_closed(p.server));
	/* The error sticks. */
	assert_int_equal(rv_ws_feed(p.server, "\x81", 1), RV_EWS);
	pair_free(&p);

	/* Exactly the cap is fine. */
	pair_init(&p, 100);
	assert_int_equal(rv_ws_send(p.client, RV_WS_BINARY, data, 100), 0);
	assert_int_equal(pump(&p, p.client, p.server, 1), 0);
	assert_int_equal(p.sin.count, 1);
	pair_free(&p);

	/* Fragments that add up past the cap. */
	static const uint8_t frags[] = {
		0x02, 0x83, 0, 0, 0, 0, 'a', 'b', 'c',
		0x00, 0x83, 0, 0, 0, 0, 'd', 'e', 'f',
	};
	pair_init(&p, 5);
	assert_int_equal(rv_ws_feed(p.server, frags, sizeof frags), RV_EWS);
	assert_int_equal(p.sin.count, 0);
	pair_free(&p);
}

static void test_protocol_errors(void **state)
{
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
	} bad[] = {
		{ "unmasked client frame", { 0x81, 0x01, 'x' }, 3 },
		{ "reserved opcode", { 0x83, 0x80, 0, 0, 0, 0 }, 6 },
		{ "RSV bit without extension", { 0xc1, 0x80, 0, 0, 0, 0 }, 6 },
		{ "fragmented ping", { 0x09, 0x80, 0, 0, 0, 0 }, 6 },
		{ "continuation with nothing to continue", { 0x80, 0x80, 0, 0, 0, 0 }, 6 },
		{ "invalid UTF-8 text", { 0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28 }, 8 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pair p;
		pair_init(&p, 100);
		int rc = rv_ws_feed(p.server, bad[i].bytes, bad[i].len);
		if (rc != RV_EWS)
			fail_msg("%s: got %d", bad[i].what, rc);
		/* A close frame is waiting with an error status. */
		rv_buf_reset(&p.wire);
		long n = rv_ws_take(p.server, &p.wire);
		if (n < 2 || rv_buf_head(&p.wire)[0] != 0x88)
			fail_msg("%s: no close frame (%ld bytes)", bad[i].what, n);
		/* wslay closes without a status for a malformed frame header. */
		int code = n == 2 ? 0 : rv_buf_head(&p.wire)[2] << 8 | rv_buf_head(&p.wire)[3];
		if (code != 0 && code != 1002 && code != 1007)
			fail_msg("%s: close code %d", bad[i].what, code);
		assert_true(rv_ws_closed(p.server));
		pair_free(&p);
	}

	/* A server frame that is masked is an error for the client. */
	struct pair p;
	pair_init(&p, 100);
	static const uint8_t masked[] = { 0x81, 0x81, 1, 2, 3, 4, 'x' };
	assert_int_equal(rv_ws_feed(p.client, masked, sizeof masked), RV_EWS);
	pair_free(&p);
}

static void test_ping_pong(void **state)
{
	struct pair p;
	(void)state;

	pair_init(&p, 100);
	/* Server pings; the client answers on its own. */
	assert_int_equal(rv_ws_ping(p.server), 0);
	assert_int_equal(pump(&p, p.server, p.client, 0), 0);
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(p.client, &p.wire), 6);  /* masked empty pong */
	assert_int_equal(rv_buf_head(&p.wire)[0], 0x8a);
	assert_int_equal(rv_ws_feed(p.server, rv_buf_head(&p.wire), rv_buf_size(&p.wire)), 0);
	/* Client pings; byte by byte. */
	assert_int_equal(rv_ws_ping(p.client), 0);
	assert_int_equal(pump(&p, p.client, p.server, 1), 0);
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(p.server, &p.wire), 2);
	assert_memory_equal(rv_buf_head(&p.wire), "\x8a\x00", 2);
	/* No data message was delivered by any of this. */
	assert_int_equal(p.sin.count + p.cin.count, 0);
	pair_free(&p);
}

static void test_close_handshake(void **state)
{
	struct pair p;
	(void)state;

	pair_init(&p, 100);
	assert_int_equal(rv_ws_close(p.client, 1000, "bye"), 0);
	/* Nothing queued after the close is accepted. */
	assert_int_equal(rv_ws_send(p.client, RV_WS_TEXT, "late", 4), RV_ECLOSED);
	assert_false(rv_ws_closed(p.client));        /* not yet taken */
	assert_int_equal(pump(&p, p.client, p.server, 0), 0);
	assert_true(rv_ws_closed(p.client));         /* sent, nothing left */
	/* The server echoes the close. */
	assert_false(rv_ws_closed(p.server));
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(p.server, &p.wire), 4 + 3);
	assert_memory_equal(rv_buf_head(&p.wire), "\x88\x05\x03\xe8" "bye", 7);
	assert_true(rv_ws_closed(p.server));
	assert_int_equal(rv_ws_feed(p.client, rv_buf_head(&p.wire), rv_buf_size(&p.wire)), 0);
	assert_true(rv_ws_closed(p.client));
	/* Bytes after a close are ignored, not an error. */
	assert_int_equal(rv_ws_feed(p.server, "\x81\x80\0\0\0\0", 6), 0);
	assert_int_equal(p.sin.count, 0);
	/* A reason too long for a control frame is refused. */
	char reason[200];
	memset(reason, 'r', sizeof reason - 1);
	reason[sizeof reason - 1] = '\0';
	assert_int_equal(rv_ws_close(p.server, 1000, reason), -EINVAL);
	pair_free(&p);
}

/* rv_ws_take() honours OUT's cap and keeps the rest for the next call. */
static void test_take_capped(void **state)
{
	struct pair p;
	struct rv_buf small;
	uint8_t data[1000];
	(void)state;

	pair_init(&p, sizeof data);
	memset(data, 'q', sizeof data);
	assert_int_equal(rv_ws_send(p.server, RV_WS_BINARY, data, sizeof data), 0);
	rv_buf_init(&small, 300);
	size_t total = 0;
	for (int i = 0; i < 10; i++) {
		long n = rv_ws_take(p.server, &small);
		assert_true(n >= 0);
		if (n == 0)
			break;
		total += (size_t)n;
		assert_int_equal(rv_ws_feed(p.client, rv_buf_head(&small), rv_buf_size(&small)), 0);
		rv_buf_reset(&small);
	}
	assert_int_equal(total, 4 + sizeof data);
	assert_int_equal(p.cin.count, 1);
	assert_int_equal(p.cin.len, sizeof data);
	/* A full OUT reports the cap. */
	assert_int_equal(rv_buf_append(&small, data, 300), 0);
	assert_int_equal(rv_ws_send(p.server, RV_WS_TEXT, "x", 1), 0);
	assert_int_equal(rv_ws_take(p.server, &small), RV_ETOOBIG);
	rv_buf_free(&small);
	pair_free(&p);
}

/* An echo for the server: every message goes back at once, from inside the
 * message callback (while wslay is reading). */
struct echo {
	struct rv_ws *ws;
	struct inbox in;
};

static void on_msg_echo(void *ud, int opcode, const uint8_t *data, size_t len)
{
	struct echo *e = ud;

	on_msg(&e->in, opcode, data, len);
	assert_int_equal(rv_ws_send(e->ws, opcode, data, len), 0);
}

/* Feed WIRE to WS one byte at a time; after each byte the engine must be
 * idle exactly when END[] lists that many bytes as a message boundary. */
static void feed_checking_idle(struct rv_ws *ws, const uint8_t *wire, size_t len,
			       const size_t *ends, size_t nends)
{
	size_t k = 0;

	for (size_t i = 0; i < len; i++) {
		assert_int_equal(rv_ws_feed(ws, wire + i, 1), 0);
		int boundary = k < nends && ends[k] == i + 1;
		if (boundary)
			k++;
		if (rv_ws_idle(ws) != boundary)
			fail_msg("after byte %zu of %zu: idle %d, expected %d", i + 1, len,
				 rv_ws_idle(ws), boundary);
	}
	assert_int_equal(k, nends);
}

/* Between messages the engine holds no wslay context; it comes back for the
 * next byte and goes again once a message is complete and answered. */
static void test_idle_release(void **state)
{
	static uint8_t big[70000];
	struct pair p;
	struct echo e;
	(void)state;

	pair_init(&p, sizeof big);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 13);
	memset(&e, 0, sizeof e);
	assert_int_equal(rv_ws_new(&e.ws, 1, sizeof big, on_msg_echo, &e), 0);
	assert_true(rv_ws_idle(e.ws));

	/* The server speaks first (a welcome) and stays idle doing it. */
	assert_int_equal(rv_ws_send(e.ws, RV_WS_TEXT, "welcome", 7), 0);
	assert_true(rv_ws_idle(e.ws));
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(e.ws, &p.wire), 2 + 7);
	assert_int_equal(rv_ws_feed(p.client, rv_buf_head(&p.wire), rv_buf_size(&p.wire)), 0);
	assert_int_equal(p.cin.count, 1);
	assert_memory_equal(p.cin.data, "welcome", 7);
	assert_true(rv_ws_idle(p.client));

	/* A message split across three reads: part of the header, part of the
	 * payload, the rest. Only the last read completes it; the echo is then
	 * sent from inside the callback and the engine is idle again. */
	assert_int_equal(rv_ws_send(p.client, RV_WS_TEXT, "hello, idle world", 17), 0);
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(p.client, &p.wire), 6 + 17);
	const uint8_t *w = rv_buf_head(&p.wire);
	assert_int_equal(rv_ws_feed(e.ws, w, 1), 0);
	assert_false(rv_ws_idle(e.ws));
	assert_int_equal(rv_ws_feed(e.ws, w + 1, 9), 0);
	assert_false(rv_ws_idle(e.ws));
	assert_int_equal(e.in.count, 0);
	assert_int_equal(rv_ws_feed(e.ws, w + 10, 13), 0);
	assert_int_equal(e.in.count, 1);
	assert_memory_equal(e.in.data, "hello, idle world", 17);
	assert_true(rv_ws_idle(e.ws));
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(e.ws, &p.wire), 2 + 17);
	assert_int_equal(rv_ws_feed(p.client, rv_buf_head(&p.wire), rv_buf_size(&p.wire)), 0);
	assert_int_equal(p.cin.count, 2);
	assert_int_equal(p.cin.len, 17);
	assert_memory_equal(p.cin.data, "hello, idle world", 17);

	/* A fragmented message with a ping between its fragments: no idle
	 * check in the middle may drop the first fragment. */
	static const uint8_t frags[] = {
		0x01, 0x83, 0, 0, 0, 0, 'a', 'b', 'c',  /* text, not final */
		0x89, 0x82, 0, 0, 0, 0, 'p', '1',       /* ping "p1" */
		0x00, 0x82, 0, 0, 0, 0, 'd', 'e',       /* continuation */
		0x80, 0x81, 0, 0, 0, 0, 'f',            /* final continuation */
		0x8a, 0x80, 0, 0, 0, 0,                 /* a pong, unasked */
	};
	const size_t ends[] = { sizeof frags - 6, sizeof frags };
	assert_int_equal(rv_ws_feed(e.ws, frags, 9), 0);
	assert_false(rv_ws_idle(e.ws));
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(e.ws, &p.wire), 0);
	assert_false(rv_ws_idle(e.ws));         /* taking does not release it */
	assert_int_equal(rv_ws_feed(e.ws, frags + 9, 8), 0);
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(e.ws, &p.wire), 4);
	assert_memory_equal(rv_buf_head(&p.wire), "\x8a\x02p1", 4);
	assert_false(rv_ws_idle(e.ws));
	assert_int_equal(rv_ws_feed(e.ws, frags + 17, sizeof frags - 17), 0);
	assert_int_equal(e.in.count, 2);
	assert_int_equal(e.in.len, 6);
	assert_memory_equal(e.in.data, "abcdef", 6);
	assert_true(rv_ws_idle(e.ws));
	/* The same byte by byte: idle only after the whole message and after
	 * the pong, never between fragments. */
	feed_checking_idle(e.ws, frags, sizeof frags, ends, 2);
	assert_int_equal(e.in.count, 3);
	assert_memory_equal(e.in.data, "abcdef", 6);
	rv_buf_reset(&p.wire);
	assert_true(rv_ws_take(e.ws, &p.wire) > 0);  /* two echoes and a pong */
	assert_int_equal(rv_ws_feed(p.client, rv_buf_head(&p.wire), rv_buf_size(&p.wire)), 0);
	assert_int_equal(p.cin.count, 4);
	assert_memory_equal(p.cin.data, "abcdef", 6);

	/* Headers of every length form (7-bit, 16-bit and 64-bit lengths, with
	 * and without a mask) are counted right: idle at each message's end. */
	const size_t sizes[] = { 125, 126, 65535, 65536, sizeof big };
	uint8_t *wire = malloc(5 * (sizeof big + 14));
	size_t len = 0, cends[5];
	assert_non_null(wire);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(rv_ws_send(p.client, RV_WS_BINARY, big, sizes[i]), 0);
		rv_buf_reset(&p.wire);
		long n = rv_ws_take(p.client, &p.wire);
		assert_true(n > (long)sizes[i]);
		memcpy(wire + len, rv_buf_head(&p.wire), (size_t)n);
		len += (size_t)n;
		cends[i] = len;
	}
	feed_checking_idle(e.ws, wire, len, cends, 5);
	assert_int_equal(e.in.count, 8);
	assert_int_equal(e.in.len, sizeof big);
	assert_memory_equal(e.in.data, big, sizeof big);
	/* ... and the echoes the other way (unmasked), for the client. */
	len = 0;
	for (;;) {
		rv_buf_reset(&p.wire);
		long n = rv_ws_take(e.ws, &p.wire);
		assert_true(n >= 0);
		if (n == 0)
			break;
		memcpy(wire + len, rv_buf_head(&p.wire), (size_t)n);
		len += (size_t)n;
	}
	for (size_t i = 0, off = 0; i < 5; i++) {
		off += sizes[i] + 2 + (sizes[i] < 126 ? 0 : sizes[i] < 65536 ? 2 : 8);
		cends[i] = off;
	}
	assert_int_equal(cends[4], len);
	feed_checking_idle(p.client, wire, len, cends, 5);
	assert_int_equal(p.cin.count, 9);
	assert_int_equal(p.cin.len, sizeof big);
	assert_memory_equal(p.cin.data, big, sizeof big);
	free(wire);

	/* A close keeps the context (and its close state) for good. */
	assert_int_equal(rv_ws_close(e.ws, 1000, "bye"), 0);
	assert_false(rv_ws_idle(e.ws));
	rv_buf_reset(&p.wire);
	assert_int_equal(rv_ws_take(e.ws, &p.wire), 4 + 3);
	assert_true(rv_ws_closed(e.ws));
	assert_false(rv_ws_idle(e.ws));
	assert_int_equal(rv_ws_send(e.ws, RV_WS_TEXT, "late", 4), RV_ECLOSED);
	rv_ws_free(e.ws);
	pair_free(&p);
}

/* Records each message's length and checks its bytes: the pattern i * 31. */
struct big_inbox {
	int count;
	size_t lens[8];
};

static void on_msg_big(void *ud, int opcode, const uint8_t *data, size_t len)
{
	struct big_inbox *in = ud;

	assert_int_equal(opcode, RV_WS_BINARY);
	assert_true(in->count < 8);
	for (size_t i = 0; i < len; i++)
		if (data[i] != (uint8_t)(i * 31))
			fail_msg("message %d: byte %zu differs", in->count, i);
	in->lens[in->count++] = len;
}

/* A message bigger than the engine's output buffer goes through wslay's
 * queue; once all is taken the engine is idle again. Messages sent from an
 * idle engine and then through wslay leave in the order they were sent. */
static void test_idle_big_send(void **state)
{
	const size_t n = 300 * 1024;
	uint8_t *data = malloc(n);
	struct big_inbox in = { 0 };
	struct rv_ws *server, *client;
	struct rv_buf wire;
	(void)state;

	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 31);
	assert_int_equal(rv_ws_new(&server, 1, 16, on_msg, NULL), 0);
	assert_int_equal(rv_ws_new(&client, 0, n, on_msg_big, &in), 0);
	rv_buf_init(&wire, 4 * n);
	assert_int_equal(rv_ws_send(server, RV_WS_BINARY, data, n), 0);
	assert_false(rv_ws_idle(server));       /* part of it waits in wslay */
	assert_int_equal(rv_ws_send(server, RV_WS_BINARY, data, 100), 0);
	assert_int_equal(rv_ws_take(server, &wire), 10 + n + 2 + 100);
	assert_true(rv_ws_idle(server));
	/* Idle: a small one is framed at once; a big one then queues behind it. */
	assert_int_equal(rv_ws_send(server, RV_WS_BINARY, data, 200), 0);
	assert_true(rv_ws_idle(server));
	assert_int_equal(rv_ws_send(server, RV_WS_BINARY, data, n - 1), 0);
	assert_false(rv_ws_idle(server));
	assert_int_equal(rv_ws_take(server, &wire), 4 + 200 + 10 + n - 1);
	assert_true(rv_ws_idle(server));
	assert_int_equal(rv_ws_feed(client, rv_buf_head(&wire), rv_buf_size(&wire)), 0);
	assert_int_equal(in.count, 4);
	assert_int_equal(in.lens[0], n);
	assert_int_equal(in.lens[1], 100);
	assert_int_equal(in.lens[2], 200);
	assert_int_equal(in.lens[3], n - 1);
	assert_true(rv_ws_idle(client));
	rv_buf_free(&wire);
	rv_ws_free(client);
	rv_ws_free(server);
	free(data);
}

/* rv_ws_frame: a message framed once from two parts is byte for byte what
 * the server engine sends, and a client reads it back whole, at the
 * payload-length boundaries (125/126, 65535/65536). */
static void test_frame_once(void **state)
{
	(void)state;
	static uint8_t msg[70000];
	static const size_t sizes[] = { 0, 1, 125, 126, 127, 65535, 65536, 69999 };
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		size_t len = sizes[k], split = len / 3;
		struct rv_buf once, engine;
		rv_buf_init(&once, 1 << 20);
		rv_buf_init(&engine, 1 << 20);
		assert_int_equal(rv_ws_frame(&once, RV_WS_BINARY, msg, split, msg + split, len - split), 0);
		struct rv_ws *srv;
		assert_int_equal(rv_ws_new(&srv, 1, 1 << 20, on_msg, NULL), 0);
		assert_int_equal(rv_ws_send(srv, RV_WS_BINARY, msg, len), 0);
		rv_ws_take(srv, &engine);
		assert_int_equal(rv_buf_size(&once), rv_buf_size(&engine));
		assert_memory_equal(rv_buf_head(&once), rv_buf_head(&engine), rv_buf_size(&once));
		static struct inbox in;
		in.count = 0;
		struct rv_ws *cli;
		assert_int_equal(rv_ws_new(&cli, 0, 1 << 20, on_msg, &in), 0);
		assert_int_equal(rv_ws_feed(cli, rv_buf_head(&once), rv_buf_size(&once)), 0);
		assert_int_equal(in.count, 1);
		assert_int_equal(in.opcode, RV_WS_BINARY);
		assert_int_equal(in.len, len);
		assert_memory_equal(in.data, msg, len);
		rv_ws_free(cli);
		rv_ws_free(srv);
		rv_buf_free(&once);
		rv_buf_free(&engine);
	}
	/* no room: nothing appended; a bad opcode is refused */
	struct rv_buf small;
	rv_buf_init(&small, 64);
	assert_int_equal(rv_ws_frame(&small, RV_WS_BINARY, msg, 100, NULL, 0), RV_ETOOBIG);
	assert_int_equal(rv_buf_size(&small), 0);
	assert_int_equal(rv_ws_frame(&small, 8, msg, 1, NULL, 0), -EINVAL);
	assert_int_equal(rv_ws_frame(&small, RV_WS_TEXT, "hi", 2, NULL, 0), 0);
	assert_int_equal(rv_buf_size(&small), 4);
	rv_buf_free(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_and_binary),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_fragmented),
		cmocka_unit_test(test_over_cap),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_close_handshake),
		cmocka_unit_test(test_take_capped),
		cmocka_unit_test(test_idle_release),
		cmocka_unit_test(test_idle_big_send),
		cmocka_unit_test(test_frame_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
