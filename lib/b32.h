/* b32.h - base32 (RFC 4648 alphabet, lowercase, no padding) with one text
 * per byte string: what peer-group specs and capabilities are written in.
 * No I/O, no allocation. */
#ifndef RV_B32_H
#define RV_B32_H

#include <stddef.h>
#include <stdint.h>

/* The text of N bytes is RV_B32_LEN(N) characters. */
#define RV_B32_LEN(n) (((n) * 8 + 4) / 5)

/* rv_b32_encode - IN (N bytes) into OUT (room for RV_B32_LEN(N), no NUL
 * added): the characters written. */
size_t rv_b32_encode(const uint8_t *in, size_t n, char *out);
/* rv_b32_decode - the bytes of the text IN (N characters) into OUT (CAP
 * bytes): their count, or -1 for a character outside the alphabet, a length
 * no encoder makes, non-zero bits after the last byte, or more than CAP. */
long rv_b32_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
