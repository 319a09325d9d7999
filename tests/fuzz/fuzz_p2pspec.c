/* fuzz_p2pspec.c - the peer group spec parser (lib/p2pspec.c).
 *
 * Input grammar: the whole input is one spec text, "rvg1:" and base32 or
 * anything else. When it parses, the invariants of a spec are checked: its
 * name is a NUL-terminated string of at most RV_P2P_NAME_MAX printable
 * bytes, its capabilities are known bits, its owner keys strictly increase,
 * and formatting it gives back exactly the input (one text per spec, so
 * one group ID per group); its group ID is computable. A refusal must come
 * with a reason. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "p2pspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_p2p_spec s;
	const char *why = NULL;
	char text[RV_P2P_SPEC_MAX + 1];
	uint8_t id[RV_P2P_ID_LEN];
	int rc = rv_p2p_spec_parse((const char *)data, size, &s, &why);
	if (rc < 0) {
		assert(rc == RV_EPROTO || rc == RV_ETOOBIG);
		assert(why && *why);
		return 0;
	}
	size_t nlen = strnlen(s.name, sizeof s.name);
	assert(nlen > 0 && nlen <= RV_P2P_NAME_MAX);
	for (size_t i = 0; i < nlen; i++)
		assert((uint8_t)s.name[i] >= 0x20 && s.name[i] != 0x7f);
	assert(!(s.caps & ~RV_P2P_CAP_ALL));
	assert(s.nowners >= 0 && s.nowners <= RV_P2P_OWNERS_MAX);
	for (int i = 1; i < s.nowners; i++)
		assert(memcmp(s.owners[i - 1], s.owners[i], RV_P2P_KEY_LEN) < 0);
	int n = rv_p2p_spec_format(&s, text, sizeof text, &why);
	assert(n > 0 && (size_t)n == size && !memcmp(text, data, size));
	assert(rv_p2p_group_id(&s, id, &why) == 0);
	return 0;
}
