/* impair.c - test-only loss on a send path (impair.h). */
#include <stdlib.h>
#include <string.h>

#include "impair.h"

int rv_impair_from_env(struct rv_impair *i, uint64_t seed, const char **why)
{
	memset(i, 0, sizeof *i);
	i->state = seed | 1;
	const char *e = getenv("RV_TEST_IMPAIR");
	if (!e || !*e)
		return 0;
	char *end;
	if (strncmp(e, "loss=", 5) != 0 || (i->loss = strtod(e + 5, &end), *end) || i->loss < 0 || i->loss > 1) {
		i->loss = 0;
		*why = "RV_TEST_IMPAIR: expected loss=FRACTION (0 to 1)";
		return -1;
	}
	return 0;
}

int rv_impair_drop(struct rv_impair *i)
{
	if (i->loss <= 0)
		return 0;
	i->state ^= i->state << 13;
	i->state ^= i->state >> 7;
	i->state ^= i->state << 17;
	if ((double)(i->state >> 11) / (double)(1ull << 53) >= i->loss)
		return 0;
	i->dropped++;
	return 1;
}
