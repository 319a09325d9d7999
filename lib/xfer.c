/* xfer.c - safe names, hex digests. */
#include <stdio.h>
#include <string.h>

#include "xfer.h"

void rv_safe_name(const char *name, char *out, size_t outlen)
{
	const char *base = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	size_t n = 0, max = outlen - 1 < RV_XFER_NAME_MAX ? outlen - 1 : RV_XFER_NAME_MAX;
	for (const unsigned char *p = (const unsigned char *)base; *p && n < max; p++)
		out[n++] = *p < 0x20 || *p == 0x7f ? '_' : (char)*p;
	/* Cut a multi-byte UTF-8 sequence the cap split. */
	if (n == max && base[n]) {
		size_t k = n;
		while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
			k--;
		if (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0xC0)
			n = k - 1;
	}
	out[n] = 0;
	if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		snprintf(out, outlen, "file");
}

void rv_numbered_name(const char *name, unsigned n, char *out, size_t outlen)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name)	/* no extension, or a dot file */
		dot = name + strlen(name);
	snprintf(out, outlen, "%.*s (%u)%s", (int)(dot - name), name, n, dot);
}

void rv_hex(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = 0;
}
