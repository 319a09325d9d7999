/* buf.h - growable byte buffers with a size cap.
 *
 * A buffer owns its bytes. Every append checks the cap fixed at init and
 * fails with RV_ETOOBIG rather than grow past it, so a buffer that holds peer
 * data can never be made to grow without bound. Consumed bytes at the front
 * are dropped with rv_buf_consume(), which is O(1) until the next append
 * compacts the buffer. */
#ifndef RV_BUF_H
#define RV_BUF_H

#include <stddef.h>
#include <stdint.h>

struct rv_buf {        /* 24 bytes: there is one or more per connection */
	uint8_t *data;     /* owned; NULL while empty and never grown */
	uint32_t off;      /* first unconsumed byte */
	uint32_t len;      /* end of valid bytes (data[off..len)) */
	uint32_t alloc;
	uint32_t cap;      /* most unconsumed bytes the buffer may hold */
};

#define RV_BUF_MAX_CAP 0xC0000000u  /* caps are clamped to 3 GiB */

/* rv_buf_init - an empty buffer that will refuse to hold more than CAP bytes
 * (at most RV_BUF_MAX_CAP). */
void rv_buf_init(struct rv_buf *b, size_t cap);
/* rv_buf_free - release the bytes; the buffer is empty and reusable after. */
void rv_buf_free(struct rv_buf *b);
/* rv_buf_append - copy N bytes in; -ENOMEM or RV_ETOOBIG leave B unchanged.
 * P may be the room rv_buf_reserve gave (bytes written there): they are
 * committed in place. */
int rv_buf_append(struct rv_buf *b, const void *p, size_t n);
/* rv_buf_printf - append formatted text (no NUL is stored). */
int rv_buf_printf(struct rv_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* rv_buf_reserve - make room for N more bytes; returns a pointer to write them,
 * to be committed with rv_buf_commit(), or NULL (no memory, or past the cap). */
uint8_t *rv_buf_reserve(struct rv_buf *b, size_t n);
void rv_buf_commit(struct rv_buf *b, size_t n);
/* rv_buf_consume - drop N bytes from the front. */
void rv_buf_consume(struct rv_buf *b, size_t n);
/* rv_buf_reset - drop everything but keep the allocation. */
void rv_buf_reset(struct rv_buf *b);

static inline const uint8_t *rv_buf_head(const struct rv_buf *b) { return b->data + b->off; }
static inline size_t rv_buf_size(const struct rv_buf *b) { return b->len - b->off; }

#endif
