/* fuzz_dtls.c - the DTLS engine (lib/dtls.c): a server engine and a client
 * engine, fed datagrams from the input and from each other.
 *
 * Input grammar: a series of records, each "u8 op | u16 len (big-endian) |
 * len bytes" (a record cut short by the end of input is dropped):
 *   op % 6 == 0  feed the bytes to the server as one datagram
 *   op % 6 == 1  feed the bytes to the client as one datagram
 *   op % 6 == 2  the timer: rv_dtls_on_timeout on both (it acts only when
 *                OpenSSL's clock says a retransmission is due)
 *   op % 6 == 3  write the bytes as one message, from both ends
 *   op % 6 == 4  close: the server when bytes[0] is odd, else the client
 *   op % 6 == 5  deliver: what each end sent since the last delivery goes to
 *                the other; bit i of bytes[0] (server's) and bytes[1]
 *                (client's) loses datagram i
 * The client is started first, so a few deliveries make a real handshake
 * (seed corpus/fuzz_dtls/handshake) that the other records disturb.
 * After every record everything sent is taken and checked, and so are the
 * invariants: each datagram is 1..RV_DTLS_MTU bytes of whole records, each
 * message read at most RV_DTLS_MTU bytes, the state one of the enum's and
 * never back out of FAILED, no timer outside the handshake, timers at most
 * 4 s. Sessions are freed at the end of each input (leaks are caught). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "bytes.h"
#include "dtls.h"

#define MAILBOX 8

struct end {
	struct rv_dtls *e;
	int failed;                             /* it was FAILED once */
	uint8_t box[MAILBOX][RV_DTLS_MTU];      /* sent, not yet delivered */
	size_t len[MAILBOX];
	int n;
};

static struct rv_dtls_ctx *ctx;

static int init(void)
{
	EVP_PKEY *key;
	if (ctx)
		return 0;
	if (rv_dtls_key_p256(&key) < 0)
		return -1;
	int rc = rv_dtls_ctx_new(&ctx, key, 1, NULL, 0);
	EVP_PKEY_free(key);     /* the context holds its own reference */
	return rc;
}

/* A datagram is whole records. */
static void check_datagram(const uint8_t *p, size_t n)
{
	assert(n > 0 && n <= RV_DTLS_MTU);
	size_t off = 0;
	while (off < n) {
		assert(n - off >= 13);
		off += 13 + rv_rd16(p + off + 11);
	}
	assert(off == n);
}

/* Take and check what END sent, keep the first MAILBOX datagrams, and read
 * and check what it received. */
static void collect(struct end *x)
{
	uint8_t d[RV_DTLS_MTU];
	ssize_t n;
	while ((n = rv_dtls_take(x->e, d, sizeof d)) > 0) {
		check_datagram(d, (size_t)n);
		if (x->n < MAILBOX) {
			memcpy(x->box[x->n], d, (size_t)n);
			x->len[x->n++] = (size_t)n;
		}
	}
	assert(n == 0);
	while ((n = rv_dtls_read(x->e, d, sizeof d)) > 0)
		assert(n <= RV_DTLS_MTU);
	assert(n == 0);
	int st = rv_dtls_state(x->e);
	assert(st >= RV_DTLS_HANDSHAKING && st <= RV_DTLS_FAILED);
	assert(!x->failed || st == RV_DTLS_FAILED);
	x->failed = st == RV_DTLS_FAILED;
	int64_t t = rv_dtls_timeout_ms(x->e);
	assert(t >= -1 && t <= 4000);
	assert(st == RV_DTLS_HANDSHAKING || t == -1);
	assert(rv_dtls_max_write(x->e) <= RV_DTLS_MTU);
}

static void deliver(struct end *from, struct end *to, uint8_t lose)
{
	for (int i = 0; i < from->n; i++)
		if (!(lose >> i & 1))
			(void)rv_dtls_feed(to->e, from->box[i], from->len[i]);
	from->n = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct end s, c;
	if (init() < 0)
		return 0;
	memset(&s, 0, sizeof s);
	memset(&c, 0, sizeof c);
	if (rv_dtls_new(&s.e, ctx, 1) < 0 || rv_dtls_new(&c.e, ctx, 0) < 0)
		goto out;
	(void)rv_dtls_start(c.e);
	collect(&c);
	size_t off = 0;
	while (size - off >= 3) {
		uint8_t op = data[off];
		size_t len = rv_rd16(data + off + 1);
		off += 3;
		if (len > size - off)
			break;
		const uint8_t *p = data + off;
		off += len;
		switch (op % 6) {
		case 0: (void)rv_dtls_feed(s.e, p, len); break;
		case 1: (void)rv_dtls_feed(c.e, p, len); break;
		case 2:
			(void)rv_dtls_on_timeout(s.e);
			(void)rv_dtls_on_timeout(c.e);
			break;
		case 3:
			(void)rv_dtls_write(s.e, p, len);
			(void)rv_dtls_write(c.e, p, len);
			break;
		case 4: rv_dtls_close(len && (p[0] & 1) ? s.e : c.e); break;
		default:
			deliver(&s, &c, len > 0 ? p[0] : 0);
			deliver(&c, &s, len > 1 ? p[1] : 0);
			break;
		}
		collect(&s);
		collect(&c);
	}
out:
	rv_dtls_free(s.e);
	rv_dtls_free(c.e);
	return 0;
}
