/* fuzz_xfer.c - file names from peers: whatever a sender announces, the
 * saved name is a non-empty base name with no separator or control byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1);
	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = 0;
	char safe[RV_XFER_NAME_MAX + 1], alt[RV_XFER_NAME_MAX + 32];
	rv_safe_name(name, safe, sizeof safe);
	size_t n = strlen(safe);
	if (n == 0 || n > RV_XFER_NAME_MAX || strchr(safe, '/') || strchr(safe, '\\') ||
	    !strcmp(safe, ".") || !strcmp(safe, ".."))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)safe[i] < 0x20 || safe[i] == 0x7f)
			abort();
	rv_numbered_name(safe, 7, alt, sizeof alt);
	if (strchr(alt, '/'))
		abort();
	free(name);
	return 0;
}
