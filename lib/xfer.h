/* xfer.h - what rvsend and rvrecv share about transfers: the message kinds,
 * safe file names, SHA-256 in hex. No I/O (the progress bar is progress.h). */
#ifndef RV_XFER_H
#define RV_XFER_H

#include <stddef.h>
#include <stdint.h>

#define RV_XFER_NAME_MAX 200        /* bytes of a saved file name */
#define RV_SHA256_HEX 65            /* 64 hex digits and a NUL */

/* rv_safe_name - reduce NAME (from a peer) to a base name that is safe to
 * create in a directory: the part after the last '/' or '\\', control
 * characters as '_', at most RV_XFER_NAME_MAX bytes cut at a UTF-8
 * boundary, "", "." and ".." become "file". OUT holds OUTLEN bytes (at
 * least RV_XFER_NAME_MAX + 1). */
void rv_safe_name(const char *name, char *out, size_t outlen);
/* rv_numbered_name - "NAME (N).EXT" for the Nth alternative of NAME. */
void rv_numbered_name(const char *name, unsigned n, char *out, size_t outlen);
/* rv_hex - LEN bytes as lowercase hex into OUT (2 * LEN + 1 bytes). */
void rv_hex(const uint8_t *p, size_t len, char *out);

#endif
