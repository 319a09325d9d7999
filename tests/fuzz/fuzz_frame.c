/* fuzz_frame.c - the RV frame decoder and header parser on arbitrary bytes,
 * cut into frames the way rvserver does. */
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	while (used < size) {
		struct rv_frame_view v;
		long n = rv_frame_decode(data + used, size - used, 65536, &v);
		if (n <= 0)
			break;
		const char *type;
		int err;
		cJSON *h = rv_frame_header(&v, &type, &err);
		if (h) {
			struct rv_buf b;
			rv_buf_init(&b, 1 << 20);
			rv_frame_append_json(&b, h, v.body, v.body_len);
			rv_buf_free(&b);
			cJSON_Delete(h);
		}
		used += (size_t)n;
	}
	return 0;
}
