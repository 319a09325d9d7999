/* err.c - descriptions for rvkit error codes. */
#include <string.h>

#include "err.h"

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
	if (code < 0 && code > -RV_EBASE)
		return strerror(-code);
	return "unknown error";
}
