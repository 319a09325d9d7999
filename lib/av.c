/* av.c - FFmpeg loaded on first use (see av.h). */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include <libavcodec/version.h>
#include <libavdevice/version.h>
#include <libavformat/version.h>
#include <libavutil/version.h>
#include <libswresample/version.h>
#include <libswscale/version.h>

#include "av.h"

struct rv_av rv_av;
static int loaded;

int rv_av_load(char *err, size_t errlen)
{
	static const char *const libs[] = {
		"libavutil.so." AV_STRINGIFY(LIBAVUTIL_VERSION_MAJOR),
		"libswscale.so." AV_STRINGIFY(LIBSWSCALE_VERSION_MAJOR),
		"libswresample.so." AV_STRINGIFY(LIBSWRESAMPLE_VERSION_MAJOR),
		"libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR),
		"libavformat.so." AV_STRINGIFY(LIBAVFORMAT_VERSION_MAJOR),
		"libavdevice.so." AV_STRINGIFY(LIBAVDEVICE_VERSION_MAJOR),
	};
	enum { N = sizeof libs / sizeof *libs };
	void *h[N];
	if (loaded)
		return 0;
	for (int i = 0; i < N; i++) {
		if (!(h[i] = dlopen(libs[i], RTLD_NOW | RTLD_GLOBAL))) {
			snprintf(err, errlen, "cannot load FFmpeg (%s): install the FFmpeg libraries", libs[i]);
			return -ENOENT;
		}
	}
#define RV_AV_RESOLVE(f) \
	for (int i = 0; i < N && !rv_av.f; i++) \
		*(void **)&rv_av.f = dlsym(h[i], #f); \
	if (!rv_av.f) { \
		snprintf(err, errlen, "FFmpeg has no %s", #f); \
		return -ENOENT; \
	}
	RV_AV_FUNCS(RV_AV_RESOLVE)
	loaded = 1;
	return 0;
}

void rv_av_err(int rc, const char *what, char *err, size_t errlen)
{
	char msg[128];
	AV(av_strerror)(rc, msg, sizeof msg);
	snprintf(err, errlen, "%s: %s", what, msg);
}
