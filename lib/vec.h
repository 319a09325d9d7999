/* vec.h - growable arrays: geometric growth for any element type.
 *
 * An array is three fields the caller owns: a pointer V, a count N and the
 * elements allocated ALLOC. rv_grow makes room for NEED elements in all,
 * doubling (from 8) so that N appends cost O(N) copies in total; the array
 * keeps its contents on failure. The caller frees V.
 *
 *	struct conn **v; size_t n, alloc;
 *	if (rv_grow((void **)&v, &alloc, n + 1, sizeof *v) < 0) return -ENOMEM;
 *	v[n++] = c;
 */
#ifndef RV_VEC_H
#define RV_VEC_H

#include <stddef.h>

/* rv_grow - 0 when *V holds at least NEED elements of ELSIZE bytes (grown
 * if needed, *ALLOC updated), -ENOMEM (nothing changed) otherwise. */
int rv_grow(void **v, size_t *alloc, size_t need, size_t elsize);

#endif
