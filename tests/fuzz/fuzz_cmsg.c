/* fuzz_cmsg.c - the cluster message decoder (lib/cmsg.h) on arbitrary bytes.
 *
 * Input grammar: byte 0 picks the key (even: "k", odd: "key-2"); the rest is
 * one bus message as a node would receive it. Invariants: the decoder never
 * reads past the input and returns 0 or one of its documented errors; a
 * message it accepts has valid fields, a payload inside the input, and
 * encodes again to exactly the same bytes (the format has one encoding),
 * which decode again to the same message; the same bytes under the other
 * key are refused with RV_EDENIED (one keyed context per key for the whole
 * run, as a node keeps one: a MAC must not depend on the ones before). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cmsg.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static struct rv_cmsg_key keys[2];	/* "k" and "key-2", keyed once for the run */
	if (!keys[0].ctx && (rv_cmsg_key_init(&keys[0], "k", 1) < 0 || rv_cmsg_key_init(&keys[1], "key-2", 5) < 0))
		return 0;
	struct rv_cmsg_key *key = &keys[data[0] & 1], *other = &keys[!(data[0] & 1)];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct rv_cmsg m, again;
	int rc = rv_cmsg_decode(p, n, key, &m);
	assert(rc == 0 || rc == RV_EPROTO || rc == RV_ETOOBIG || rc == RV_EDENIED);
	if (rc != 0)
		return 0;
	assert(m.type >= 1 && m.type <= RV_CMSG_TYPE_MAX && rv_cmsg_node_valid(m.origin));
	assert(!m.payload_len || (m.payload >= p && m.payload + m.payload_len <= p + n));
	struct rv_buf b;
	rv_buf_init(&b, RV_CMSG_MAX);
	assert(rv_cmsg_encode(&b, &m, key) == 0);
	assert(rv_buf_size(&b) == n && memcmp(rv_buf_head(&b), p, n) == 0);
	assert(rv_cmsg_decode(rv_buf_head(&b), rv_buf_size(&b), key, &again) == 0);
	assert(again.seq == m.seq && again.nseq == m.nseq && again.ts == m.ts && strcmp(again.origin, m.origin) == 0 && again.payload_len == m.payload_len);
	assert(rv_cmsg_decode(p, n, other, &again) == RV_EDENIED);
	rv_buf_free(&b);
	return 0;
}
