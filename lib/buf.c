/* buf.c - capped growable byte buffers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

void rv_buf_init(struct rv_buf *b, size_t cap)
{
	memset(b, 0, sizeof *b);
	b->cap = cap > RV_BUF_MAX_CAP ? RV_BUF_MAX_CAP : (uint32_t)cap;
}

void rv_buf_free(struct rv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->alloc = 0;
}

void rv_buf_reset(struct rv_buf *b)
{
	b->off = b->len = 0;
}

uint8_t *rv_buf_reserve(struct rv_buf *b, size_t n)
{
	size_t used = b->len - b->off;

	if (n > b->cap || used > b->cap - n)
		return NULL;
	if (b->alloc - b->len >= n)
		return b->data + b->len;
	if (b->off > 0) {	/* compact before growing */
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
		if (b->alloc - b->len >= n)
			return b->data + b->len;
	}
	size_t want = b->alloc ? b->alloc : 256;
	while (want - used < n)
		want *= 2;
	if (want > (size_t)b->cap + 4096)	/* never far past the cap */
		want = used + n > (size_t)b->cap ? used + n : (size_t)b->cap;
	uint8_t *p = realloc(b->data, want);
	if (!p)
		return NULL;
	b->data = p;
	b->alloc = want;
	return b->data + b->len;
}

void rv_buf_commit(struct rv_buf *b, size_t n)
{
	b->len += n;
}

int rv_buf_append(struct rv_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	size_t used = b->len - b->off;
	if (n > b->cap || used > b->cap - n)
		return RV_ETOOBIG;
	if (b->data && p == b->data + b->len && b->alloc - b->len >= n) {
		b->len += n;	/* written into the reserved room already */
		return 0;
	}
	uint8_t *dst = rv_buf_reserve(b, n);
	if (!dst)
		return -ENOMEM;
	memcpy(dst, p, n);
	b->len += n;
	return 0;
}

int rv_buf_printf(struct rv_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof small)
		return rv_buf_append(b, small, (size_t)n);
	uint8_t *dst = rv_buf_reserve(b, (size_t)n + 1);
	if (!dst)
		return (size_t)n + 1 > b->cap ? RV_ETOOBIG : -ENOMEM;
	va_start(ap, fmt);
	vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void rv_buf_consume(struct rv_buf *b, size_t n)
{
	size_t used = b->len - b->off;
	if (n >= used) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
}
