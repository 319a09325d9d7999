/* fuzz_frame.c - the RV frame decoder, header parser and stream cutter
 * (rv_frame_feed) on arbitrary bytes.
 *
 * Input grammar: byte 0 is a chunk size (1-256) and the rest is a byte
 * stream from a peer. The stream is cut into frames three times, once in
 * one piece, once fed in chunks of that size (as reads arrive), and once
 * in such chunks read into the room rv_frame_room gives when it gives one
 * (as rv_stream reads bulk frames), and all must agree: the same frames
 * (count and a hash of their bytes), the same outcome (error or not). Along the way the bytes kept between chunks never
 * exceed one frame, and every whole frame's header is parsed and, when it
 * is an object with a type, framed again. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "frame.h"

#define MAX_BODY 65536

struct tally {
	size_t frames;
	uint64_t hash;
};

static int take(void *ud, const struct rv_frame_view *v)
{
	struct tally *t = ud;
	t->frames++;
	for (size_t i = 0; i < v->hdr_len; i++)
		t->hash = t->hash * 131 + (uint8_t)v->hdr[i];
	for (size_t i = 0; i < v->body_len; i++)
		t->hash = t->hash * 131 + v->body[i];
	const char *type;
	int err;
	cJSON *h = rv_frame_header(v, &type, &err);
	if (h) {
		struct rv_buf b;
		rv_buf_init(&b, 1 << 20);
		rv_frame_append_json(&b, h, v->body, v->body_len);
		rv_buf_free(&b);
		cJSON_Delete(h);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	data++;
	size--;
	struct tally whole = { 0 }, cut = { 0 };
	struct rv_buf keep;
	rv_buf_init(&keep, 1 << 20);
	int rc1 = rv_frame_feed(&keep, MAX_BODY, data, size, take, &whole);
	rv_buf_free(&keep);
	int rc2 = 0;
	for (size_t off = 0; off < size && rc2 == 0; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		rc2 = rv_frame_feed(&keep, MAX_BODY, data + off, n, take, &cut);
		assert(rv_buf_size(&keep) <= RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER + MAX_BODY);
	}
	rv_buf_free(&keep);
	struct tally roomy = { 0 };
	int rc3 = 0;
	for (size_t off = 0; off < size && rc3 == 0;) {
		size_t room = 0, n = size - off < chunk ? size - off : chunk;
		uint8_t *p = rv_frame_room(&keep, MAX_BODY, &room);
		if (p) {
			n = n < room ? n : room;
			memcpy(p, data + off, n);
		}
		rc3 = rv_frame_feed(&keep, MAX_BODY, p ? p : data + off, n, take, &roomy);
		off += n;
		assert(rv_buf_size(&keep) <= RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER + MAX_BODY);
	}
	rv_buf_free(&keep);
	assert(rc1 == rc2 && rc1 == rc3);
	assert(rc1 == 0 || rc1 == RV_EPROTO || rc1 == RV_ETOOBIG);
	assert(whole.frames == cut.frames && whole.hash == cut.hash);
	assert(whole.frames == roomy.frames && whole.hash == roomy.hash);
	return 0;
}
