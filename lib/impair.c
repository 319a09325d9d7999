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
	for (const char *p = e; *p;) {
		char *end;
		if (!strncmp(p, "loss=", 5)) {
			i->loss = strtod(p + 5, &end);
			if (end == p + 5 || !(i->loss >= 0 && i->loss <= 1))
				break;
		} else if (!strncmp(p, "mloss=", 6)) {
			i->mloss = strtod(p + 6, &end);
			if (end == p + 6 || !(i->mloss >= 0 && i->mloss <= 1))
				break;
		} else if (!strncmp(p, "direct=0", 8)) {
			i->no_direct = 1;
			end = (char *)p + 8;
		} else if (!strncmp(p, "corrupt=1", 9)) {
			i->corrupt = 1;
			end = (char *)p + 9;
		} else if (!strncmp(p, "rxcost=", 7)) {
			unsigned long ms = strtoul(p + 7, &end, 10);
			if (end == p + 7 || ms > RV_IMPAIR_RXCOST_MAX)
				break;
			i->rx_cost_ms = (unsigned)ms;
		} else {
			break;
		}
		if (*end != ',' && *end)
			break;
		p = *end ? end + 1 : end;
		if (!*p)
			return 0;
	}
	memset(i, 0, sizeof *i);
	*why = "RV_TEST_IMPAIR: expected loss=FRACTION (0 to 1), mloss=FRACTION, direct=0, corrupt=1 and/or rxcost=MS (0 to 1000), comma-separated";
	return -1;
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
