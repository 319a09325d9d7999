/* fuzz_mpipe.c - the media pipe datagram head (lib/mpipe.h) on arbitrary
 * datagrams: a parse that succeeds must describe the input, and writing the
 * head back must give the same bytes. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mpipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_mpipe m;
	if (rv_mpipe_parse(data, size, &m) < 0)
		return 0;
	assert(m.stream != 0);
	assert(m.flags == RV_MPIPE_FORWARD || m.flags == RV_MPIPE_FEEDBACK);
	assert(m.packet == data + RV_MPIPE_HEAD && m.len == size - RV_MPIPE_HEAD && m.len >= RV_MPIPE_MIN_PACKET);
	uint8_t head[RV_MPIPE_HEAD];
	rv_mpipe_head(head, m.stream, m.flags);
	assert(memcmp(head, data, sizeof head) == 0);
	return 0;
}
