/* test_frame.c - the RV frame codec, capped buffers, tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "token.h"

static void roundtrip(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 20);
	const char *h = "{\"type\":\"msg\",\"group\":\"ops\"}";
	assert_int_equal(rv_frame_append(&b, h, strlen(h), "hello", 5), 0);
	assert_int_equal(rv_buf_size(&b), 8 + strlen(h) + 5);
	struct rv_frame_view v;
	long n = rv_frame_decode(rv_buf_head(&b), rv_buf_size(&b), 1024, &v);
	assert_int_equal(n, (long)rv_buf_size(&b));
	assert_int_equal(v.hdr_len, strlen(h));
	assert_memory_equal(v.body, "hello", 5);
	const char *type;
	int err;
	cJSON *j = rv_frame_header(&v, &type, &err);
	assert_non_null(j);
	assert_string_equal(type, "msg");
	cJSON_Delete(j);
	rv_buf_free(&b);
}

/* An error frame carries the code's wire string, its default text when
 * no message is given, and "re" only for a request. */
static void error_frame(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 16);
	assert_int_equal(rv_frame_append_error(&b, 7, RV_CODE_NO_SUCH_GROUP, NULL), 0);
	long n0 = (long)rv_buf_size(&b);
	assert_int_equal(rv_frame_append_error(&b, 0, RV_CODE_LIMIT, "too many"), 0);
	struct rv_frame_view v;
	const char *type;
	int err;
	assert_int_equal(rv_frame_decode(rv_buf_head(&b), rv_buf_size(&b), 1024, &v), n0);
	cJSON *j = rv_frame_header(&v, &type, &err);
	assert_non_null(j);
	assert_string_equal(type, "error");
	assert_int_equal(cJSON_GetObjectItem(j, "re")->valuedouble, 7);
	assert_string_equal(cJSON_GetObjectItem(j, "code")->valuestring, "no-such-group");
	assert_string_equal(cJSON_GetObjectItem(j, "message")->valuestring, rv_code_text(RV_CODE_NO_SUCH_GROUP));
	cJSON_Delete(j);
	rv_buf_consume(&b, (size_t)n0);
	assert_true(rv_frame_decode(rv_buf_head(&b), rv_buf_size(&b), 1024, &v) > 0);
	j = rv_frame_header(&v, &type, &err);
	assert_null(cJSON_GetObjectItem(j, "re"));
	assert_string_equal(cJSON_GetObjectItem(j, "code")->valuestring, "limit");
	assert_string_equal(cJSON_GetObjectItem(j, "message")->valuestring, "too many");
	cJSON_Delete(j);
	rv_buf_free(&b);
}

/* Every prefix of a frame is "need more"; the whole frame decodes. */
static void partial(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, 1 << 20);
	const char *h = "{\"type\":\"ping\"}";
	rv_frame_append(&b, h, strlen(h), "xyz", 3);
	struct rv_frame_view v;
	for (size_t i = 0; i < rv_buf_size(&b); i++)
		assert_int_equal(rv_frame_decode(rv_buf_head(&b), i, 1024, &v), 0);
	assert_true(rv_frame_decode(rv_buf_head(&b), rv_buf_size(&b), 1024, &v) > 0);
	rv_buf_free(&b);
}

static void caps(void **state)
{
	(void)state;
	uint8_t p[8] = { 0, 0, 0x40, 0x01, 0, 0, 0, 0 };	/* header 16385 bytes */
	struct rv_frame_view v;
	assert_int_equal(rv_frame_decode(p, sizeof p, 1024, &v), RV_ETOOBIG);
	uint8_t q[8] = { 0, 0, 0, 2, 0, 0, 4, 1 };		/* body 1025 > 1024 */
	assert_int_equal(rv_frame_decode(q, sizeof q, 1024, &v), RV_ETOOBIG);
	uint8_t z[8] = { 0 };					/* empty header */
	assert_int_equal(rv_frame_decode(z, sizeof z, 1024, &v), RV_EPROTO);
}

static void bad_headers(void **state)
{
	(void)state;
	const char *bad[] = { "[1,2]", "{\"type\":1}", "{\"type\":\"\"}", "{not json", "{}" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct rv_frame_view v = { bad[i], strlen(bad[i]), NULL, 0 };
		const char *type;
		int err = 0;
		assert_null(rv_frame_header(&v, &type, &err));
		assert_int_equal(err, RV_EJSON);
	}
}

static void buf_cap(void **state)
{
	(void)state;
	struct rv_buf b;
	rv_buf_init(&b, 10);
	assert_int_equal(rv_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(rv_buf_append(&b, "x", 1), RV_ETOOBIG);
	rv_buf_consume(&b, 4);
	assert_int_equal(rv_buf_append(&b, "abcd", 4), 0);	/* compacts */
	assert_int_equal(rv_buf_size(&b), 10);
	assert_memory_equal(rv_buf_head(&b), "456789abcd", 10);
	assert_int_equal(rv_buf_printf(&b, "%s", "y"), RV_ETOOBIG);
	rv_buf_free(&b);
}

static void tokens(void **state)
{
	(void)state;
	char tok[RV_TOKEN_MAX];
	const char *why;
	assert_int_equal(rv_token_make("s3cret", 6, "alice", 2000, tok, sizeof tok), 0);
	assert_int_equal(rv_token_check("s3cret", 6, "alice", tok, 1999, &why), 0);
	assert_int_equal(rv_token_check("s3cret", 6, "alice", tok, 2001, &why), RV_EDENIED);
	assert_string_equal(why, "token expired");
	assert_int_equal(rv_token_check("s3cret", 6, "bob", tok, 1999, &why), RV_EDENIED);
	assert_int_equal(rv_token_check("other", 5, "alice", tok, 1999, &why), RV_EDENIED);
	assert_string_equal(why, "bad token signature");
	assert_int_equal(rv_token_check("s3cret", 6, "alice", "v1.x.y", 1, &why), RV_EDENIED);
	assert_int_equal(rv_token_check("s3cret", 6, "alice", NULL, 1, &why), RV_EDENIED);
	tok[strlen(tok) - 1] ^= 1;
	assert_int_equal(rv_token_check("s3cret", 6, "alice", tok, 1999, &why), RV_EDENIED);
}

/* ---- rv_frame_feed: a stream cut anywhere gives the same frames ---- */

struct seen {
	int n;                       /* frames handled */
	size_t bytes;                /* their header and body bytes */
	int hold_at, gone_at;        /* answer HOLD / GONE at that frame (1-based), or 0 */
	size_t max_keep;             /* the most bytes the kept buffer held */
	struct rv_buf *keep;
};

static int count(void *ud, const struct rv_frame_view *v)
{
	struct seen *s = ud;
	s->n++;
	s->bytes += v->hdr_len + v->body_len;
	assert_int_equal(v->hdr[0], '{');
	if (s->n == s->gone_at)
		return RV_FRAME_GONE;
	return s->n == s->hold_at ? RV_FRAME_HOLD : 0;
}

static size_t stream_of(struct rv_buf *b, int frames)
{
	static uint8_t body[3000];
	rv_buf_init(b, 1 << 20);
	for (int i = 0; i < frames; i++)
		assert_int_equal(rv_frame_append(b, "{\"type\":\"x\"}", 12, body, (size_t)(i * 397) % 3000), 0);
	return rv_buf_size(b);
}

static void feed_any_cut(void **state)
{
	(void)state;
	struct rv_buf all, keep;
	size_t total = stream_of(&all, 10), want = 0;
	for (int i = 0; i < 10; i++)
		want += 12 + (size_t)(i * 397) % 3000;
	for (size_t chunk = 1; chunk <= total; chunk += chunk < 64 ? 1 : 97) {
		struct seen s = { 0 };
		rv_buf_init(&keep, 1 << 20);
		for (size_t off = 0; off < total; off += chunk) {
			size_t n = total - off < chunk ? total - off : chunk;
			assert_int_equal(rv_frame_feed(&keep, 1 << 20, rv_buf_head(&all) + off, n, count, &s), 0);
			if (rv_buf_size(&keep) > s.max_keep)
				s.max_keep = rv_buf_size(&keep);
		}
		assert_int_equal(s.n, 10);
		assert_int_equal(s.bytes, want);
		assert_int_equal(rv_buf_size(&keep), 0);
		assert_true(s.max_keep <= 8 + 12 + 3000);   /* never more than one frame */
		rv_buf_free(&keep);
	}
	rv_buf_free(&all);
}

static void feed_hold_and_gone(void **state)
{
	(void)state;
	struct rv_buf all, keep;
	size_t total = stream_of(&all, 6);
	/* held after the 2nd frame: the rest is kept, and handled on resume */
	struct seen s = { .hold_at = 2 };
	rv_buf_init(&keep, 1 << 20);
	assert_int_equal(rv_frame_feed(&keep, 1 << 20, rv_buf_head(&all), total, count, &s), RV_FRAME_HOLD);
	assert_int_equal(s.n, 2);
	assert_true(rv_buf_size(&keep) > 0);
	assert_int_equal(rv_frame_feed(&keep, 1 << 20, NULL, 0, count, &s), 0);
	assert_int_equal(s.n, 6);
	assert_int_equal(rv_buf_size(&keep), 0);
	/* gone at the 3rd: nothing more is handled, nothing is kept */
	struct seen g = { .gone_at = 3 };
	assert_int_equal(rv_frame_feed(&keep, 1 << 20, rv_buf_head(&all), total, count, &g), RV_FRAME_GONE);
	assert_int_equal(g.n, 3);
	assert_int_equal(rv_buf_size(&keep), 0);
	/* a bad frame, and a body past the cap */
	static const uint8_t zero[8] = { 0 };
	assert_int_equal(rv_frame_feed(&keep, 1 << 20, zero, 8, count, &g), RV_EPROTO);
	struct seen c = { 0 };
	assert_int_equal(rv_frame_feed(&keep, 100, rv_buf_head(&all), total, count, &c), RV_ETOOBIG);
	rv_buf_free(&keep);
	rv_buf_free(&all);
}

/* ---- rv_frame_room: bulk frames read straight into where they are kept ---- */

struct bulk {
	int n, small, in_place;      /* frames; small ones; bulk ones handled inside KEEP */
	int hold_at;                 /* answer HOLD at that frame (1-based), or 0 */
	size_t bytes;
	struct rv_buf *keep;
	uint8_t seed;
};

static int check_bulk(void *ud, const struct rv_frame_view *v)
{
	struct bulk *b = ud;
	b->n++;
	b->bytes += v->body_len;
	for (size_t i = 0; i < v->body_len; i++)   /* each body is its own pattern */
		if (v->body[i] != (uint8_t)(b->seed + i * 7))
			fail_msg("frame %d byte %zu", b->n, i);
	b->seed++;
	if (v->body_len < RV_FRAME_BULK)
		b->small++;
	else if (b->keep->data && v->body > b->keep->data && v->body < b->keep->data + b->keep->alloc)
		b->in_place++;
	return b->n == b->hold_at ? RV_FRAME_HOLD : 0;
}

static void feed_room(void **state)
{
	(void)state;
	/* small, bulk, bulk, small, bulk, small: bodies of distinct patterns */
	static const size_t sizes[] = { 300, 200000, 150000, 40, 100000, 10 };
	const int nf = (int)(sizeof sizes / sizeof *sizes);
	struct rv_buf all, keep;
	rv_buf_init(&all, 1 << 20);
	static uint8_t body[200000];
	for (int f = 0; f < nf; f++) {
		for (size_t i = 0; i < sizes[f]; i++)
			body[i] = (uint8_t)(f + i * 7);
		assert_int_equal(rv_frame_append(&all, "{\"type\":\"x\"}", 12, body, sizes[f]), 0);
	}
	static const size_t reads[] = { 1, 7, 4096, 65536, 1 << 20 };
	for (size_t r = 0; r < 2 * sizeof reads / sizeof *reads; r++) {
		/* the second time round, a hold at each frame in turn: what
		 * follows stays kept, and goes on with feed(NULL, 0) */
		struct bulk b = { .keep = &keep, .hold_at = r >= 5 ? (int)(r - 5) + 2 : 0 };
		size_t rsz = reads[r % 5];
		size_t off = 0, total = rv_buf_size(&all), roomy = 0;
		uint8_t *shared = malloc(rsz);
		rv_buf_init(&keep, (1 << 20) + 64);
		while (off < total) {
			/* as rv_stream reads: into the room when there is one */
			size_t len = 0, n;
			uint8_t *p = rv_frame_room(&keep, 1 << 20, &len);
			if (!p) {
				p = shared;
				len = rsz;
			} else {
				roomy++;
			}
			n = total - off < len ? total - off : len;
			if (n > rsz)
				n = rsz;
			memcpy(p, rv_buf_head(&all) + off, n);
			off += n;
			int rc = rv_frame_feed(&keep, 1 << 20, p, n, check_bulk, &b);
			if (rc == RV_FRAME_HOLD)	/* resumed at once, as flow.c does later */
				rc = rv_frame_feed(&keep, 1 << 20, NULL, 0, check_bulk, &b);
			assert_int_equal(rc, 0);
		}
		assert_int_equal(b.n, nf);
		assert_int_equal(b.small, 3);
		assert_int_equal(b.bytes, 300 + 200000 + 150000 + 40 + 100000 + 10);
		if (rsz < total) {
			/* reads went into the room, and bulk frames were handled there */
			assert_true(roomy > 0);
			assert_true(b.in_place >= 2);
		}
		assert_int_equal(rv_buf_size(&keep), 0);
		assert_null(keep.data);	/* a small frame last: the memory is gone */
		rv_buf_free(&keep);
		free(shared);
	}
	rv_buf_free(&all);
	/* rv_buf_append of bytes already in the reserved room: committed in place */
	struct rv_buf b;
	rv_buf_init(&b, 100);
	uint8_t *p = rv_buf_reserve(&b, 10);
	memcpy(p, "abcdefghij", 10);
	assert_int_equal(rv_buf_append(&b, p, 10), 0);
	assert_int_equal(rv_buf_size(&b), 10);
	assert_memory_equal(rv_buf_head(&b), "abcdefghij", 10);
	rv_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(error_frame),
		cmocka_unit_test(partial),
		cmocka_unit_test(caps),
		cmocka_unit_test(bad_headers),
		cmocka_unit_test(buf_cap),
		cmocka_unit_test(tokens),
		cmocka_unit_test(feed_any_cut),
		cmocka_unit_test(feed_hold_and_gone),
		cmocka_unit_test(feed_room),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
