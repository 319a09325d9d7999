/* fuzz_sdp.c - the SDP reader on any text. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_sdp s;
	char err[128];
	if (rv_sdp_parse((const char *)data, size, &s, err, sizeof err) == 0 &&
	    (strlen(s.addr) >= sizeof s.addr || strlen(s.codec) >= sizeof s.codec))
		__builtin_trap();
	return 0;
}
