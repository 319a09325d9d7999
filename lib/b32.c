/* b32.c - lowercase base32 without padding (b32.h). */
#include <string.h>

#include "b32.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

size_t rv_b32_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	return o;
}

long rv_b32_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	if (n % 8 == 1 || n % 8 == 3 || n % 8 == 6)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *p = in[i] ? memchr(b32, in[i], 32) : NULL;
		if (!p)
			return -1;
		acc = acc << 5 | (uint32_t)(p - b32);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1))
		return -1;
	return (long)o;
}
