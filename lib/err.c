/* err.c - descriptions for rvkit error codes. */
#include <string.h>

#include <uv.h>

#include "err.h"

/* libuv's own codes, outside errno's range (strerror does not know them):
 * the resolver's UV_EAI_* and a few more. uv_strerror is only asked about
 * codes it knows: for others it allocates. */
static const char *uv_only(int code)
{
	switch (code) {
	case UV_EAI_ADDRFAMILY: case UV_EAI_AGAIN: case UV_EAI_BADFLAGS: case UV_EAI_BADHINTS:
	case UV_EAI_CANCELED: case UV_EAI_FAIL: case UV_EAI_FAMILY: case UV_EAI_MEMORY:
	case UV_EAI_NODATA: case UV_EAI_NONAME: case UV_EAI_OVERFLOW: case UV_EAI_PROTOCOL:
	case UV_EAI_SERVICE: case UV_EAI_SOCKTYPE: case UV_ECHARSET: case UV_EOF: case UV_UNKNOWN:
		return uv_strerror(code);
	}
	return NULL;
}

const char *rv_strerror(int code)
{
	switch (code) {
	case 0: return "success";
	case RV_EPROTO: return "protocol error";
	case RV_ETOOBIG: return "input too large";
	case RV_EJSON: return "malformed JSON";
	case RV_ETLS: return "TLS error";
	case RV_EHTTP: return "malformed HTTP request";
	case RV_EWS: return "WebSocket protocol error";
	case RV_EDENIED: return "denied";
	case RV_ENOTFOUND: return "not found";
	case RV_EREPLACED: return "replaced by another login with the same id";
	case RV_ETIMEOUT: return "timed out";
	case RV_ECLOSED: return "connection closed by peer";
	case RV_ELIMIT: return "limit reached";
	}
	const char *uv = uv_only(code);
	if (uv)
		return uv;
	if (code < 0 && code > -RV_EBASE)
		return strerror(-code);
	return "unknown error";
}
