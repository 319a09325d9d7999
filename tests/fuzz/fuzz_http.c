/* fuzz_http.c - libFuzzer harness for rv_http_parse (lib/http.c).
 *
 * The first byte picks the chunk size, so the fuzzer also explores requests
 * split at odd places; the rest is fed in chunks until the request is
 * complete or refused. Invariants checked: the parser never consumes more
 * than it was given, the strings it fills are NUL-terminated within their
 * fields, and the body stays within its cap. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define BODY_CAP 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_http_req req;
	char out[29];

	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	const char *p = (const char *)data + 1;
	size_t len = size - 1;

	if (rv_http_req_init(&req, BODY_CAP) < 0)
		return 0;
	size_t off = 0;
	while (off < len && !req.complete) {
		size_t n = len - off < step ? len - off : step;
		long rc = rv_http_parse(&req, p + off, n);
		if (rc < 0)
			break;
		if ((size_t)rc > n)
			abort();
		off += (size_t)rc;
		if ((size_t)rc < n && !req.complete)
			abort();        /* stopped early without a reason */
	}
	if (memchr(req.path, 0, sizeof req.path) == NULL ||
	    memchr(req.host, 0, sizeof req.host) == NULL ||
	    memchr(req.ws_key, 0, sizeof req.ws_key) == NULL ||
	    memchr(req.ws_protocol, 0, sizeof req.ws_protocol) == NULL ||
	    memchr(req.authorization, 0, sizeof req.authorization) == NULL ||
	    rv_buf_size(&req.body) > BODY_CAP)
		abort();
	if (req.complete && req.ws_key[0])
		rv_http_ws_accept(req.ws_key, out);
	rv_http_req_free(&req);
	return 0;
}
