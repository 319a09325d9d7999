/* fuzz_sdp.c - the SDP reader on any text: every string it fills stays
 * terminated, and what it calls usable holds. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sdp.h"

#define TERMINATED(s) (strnlen((s), sizeof(s)) < sizeof(s))

static int audio_ok(const struct rv_sdp_audio *a)
{
	if (!TERMINATED(a->addr) || !TERMINATED(a->codec) || !TERMINATED(a->crypto_suite) ||
	    !TERMINATED(a->crypto_key))
		return 0;
	if (a->port && (a->port >= 65536 || a->pt < 0 || a->pt >= 128))
		return 0;
	return a->port || (a->pt == -1 && !a->codec[0]);
}

static int video_ok(const struct rv_sdp *s)
{
	if (!TERMINATED(s->addr) || !TERMINATED(s->codec) || !TERMINATED(s->crypto_suite) ||
	    !TERMINATED(s->crypto_key))
		return 0;
	if (s->port && (s->port >= 65536 || s->pt < 0 || s->pt >= 128))
		return 0;
	return s->width >= 0 && s->width <= 16384 && s->height >= 0 && s->height <= 16384;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_sdp s;
	char err[128];
	int rc = rv_sdp_parse((const char *)data, size, &s, err, sizeof err);
	if (rc == 0 && (!video_ok(&s) || !audio_ok(&s.audio) || (!rv_sdp_has_video(&s) && !rv_sdp_has_audio(&s))))
		__builtin_trap();
	if (rc != 0 && !TERMINATED(err))
		__builtin_trap();
	return 0;
}
