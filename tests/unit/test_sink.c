/* test_sink.c - lib/sink.c with real H.264 from lib/media.c (lavfi, libx264):
 * a file starts at a keyframe that carries its SPS and PPS. A receiver that
 * lost the parameter sets in front of a keyframe (a mesh's first fragments
 * given up) skips that keyframe and starts at the next whole one, where it
 * used to fail the file's header and the whole recording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "media.h"
#include "rtp.h"

/* The NAL units of the Annex-B frame P (N bytes) but SPS and PPS, into OUT. */
static size_t strip_params(const uint8_t *p, size_t n, uint8_t *out)
{
	size_t pos = 0, len, o = 0;
	const uint8_t *nal;
	while (rv_h264_next_nal(p, n, &pos, &nal, &len)) {
		int type = nal[0] & 0x1F;
		if (type == 7 || type == 8)
			continue;
		memcpy(out + o, "\0\0\0\1", 4);
		memcpy(out + o + 4, nal, len);
		o += 4 + len;
	}
	return o;
}

static void test_starts_at_whole_keyframe(void **state)
{
	(void)state;
	char err[256] = "";
	if (rv_media_load(err, sizeof err) < 0) {
		print_message("FFmpeg not loadable (%s): skipped\n", err);
		skip();
	}
	struct rv_media_conf conf = { .format = "lavfi", .input = "testsrc2=size=160x120:rate=25",
				      .vcodec = RV_VCODEC_H264, .acodec = RV_ACODEC_NONE, .gop = 5,
				      .duration = 1 };
	struct rv_media_src *src = NULL;
	assert_int_equal(rv_media_open(&src, &conf, err, sizeof err), 0);

	char path[] = "/tmp/test_sink_XXXXXX.mkv";
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	close(fd);
	struct rv_media_track v = { .codec = "H264", .width = 160, .height = 120 };
	struct rv_media_sink *k = NULL;
	assert_int_equal(rv_media_sink_open(&k, path, NULL, &v, NULL, err, sizeof err), 0);

	struct rv_media_frame f;
	uint8_t *buf = malloc(1 << 20);
	assert_non_null(buf);
	int keys = 0, written = 0, rc;
	while ((rc = rv_media_next(src, &f)) == 1 && keys < 3) {
		assert_false(f.audio);
		int64_t t = (int64_t)f.ts * 1000000 / 90000;
		if (f.keyframe && ++keys == 1) {
			/* the first keyframe without its parameter sets: not a start */
			size_t n = strip_params(f.data, f.len, buf);
			assert_true(n > 0 && n < f.len);
			assert_int_equal(rv_media_sink_write(k, 0, buf, n, t, 1), 0);
			continue;
		}
		rc = rv_media_sink_write(k, 0, f.data, f.len, t, f.keyframe);
		assert_true(rc >= 0);
		if (keys < 2)
			assert_int_equal(rc, 0);	/* after the skipped key: no start yet */
		else
			written += rc;
	}
	assert_int_equal(keys, 3);
	assert_true(written >= 5);	/* from the second keyframe on, every frame */
	assert_int_equal(rv_media_sink_close(k), 0);

	/* and the file holds that many frames, read back through lib/media.c */
	struct rv_media_conf back = { .input = path, .vcodec = RV_VCODEC_COPY, .acodec = RV_ACODEC_NONE };
	struct rv_media_src *rd = NULL;
	assert_int_equal(rv_media_open(&rd, &back, err, sizeof err), 0);
	int frames = 0;
	while (rv_media_next(rd, &f) == 1)
		frames++;
	assert_int_equal(frames, written);
	rv_media_close(rd);

	char why[128];
	assert_true(strlen(rv_media_sink_strerror(-22, why, sizeof why)) > 0);
	free(buf);
	rv_media_close(src);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_at_whole_keyframe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
