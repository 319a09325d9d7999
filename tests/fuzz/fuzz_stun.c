/* fuzz_stun.c - the STUN/TURN parser and everything that reads a parsed
 * message (addresses, error codes, integrity, fingerprint), and ChannelData. */
#include <stddef.h>
#include <stdint.h>

#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_stun_msg m;
	if (rv_stun_parse(data, size, &m) == 0) {
		struct sockaddr_storage ss;
		char reason[128];
		for (int i = 0; i < m.nattrs; i++)
			rv_stun_addr(&m, &m.attrs[i], &ss);
		rv_stun_error_code(&m, reason, sizeof reason);
		rv_stun_check_integrity(&m, (const uint8_t *)"key", 3);
		rv_stun_check_fingerprint(&m);
	}
	uint16_t ch;
	const uint8_t *d;
	size_t len, total;
	rv_channel_data_parse(data, size, &ch, &d, &len, &total);
	return 0;
}
