/* vec.c - growable arrays (vec.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "vec.h"

int rv_grow(void **v, size_t *alloc, size_t need, size_t elsize)
{
	if (need <= *alloc)
		return 0;
	size_t n = *alloc ? *alloc : 8;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	if (elsize && n > SIZE_MAX / elsize)
		return -ENOMEM;
	void *p = realloc(*v, n * elsize);
	if (!p)
		return -ENOMEM;
	*v = p;
	*alloc = n;
	return 0;
}
