/* fuzz_wsresp.c - the client's check of a WebSocket upgrade answer. */
#include <stddef.h>
#include <stdint.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	rv_http_ws_response((const char *)data, size, "dGhlIHNhbXBsZSBub25jZQ==", err, sizeof err);
	return 0;
}
