/* map.h - a string-keyed hash map of pointers (open addressing).
 *
 * Keys are not copied: each key must live as long as its entry (callers use
 * a string owned by the value). */
#ifndef RV_MAP_H
#define RV_MAP_H

#include <stddef.h>

struct rv_map_slot {
	const char *key;   /* NULL: empty; the tombstone marker: deleted */
	void *val;
};

struct rv_map {
	struct rv_map_slot *slots;
	size_t cap;        /* power of two, or 0 */
	size_t count;      /* live entries */
	size_t used;       /* live + tombstones */
};

void rv_map_init(struct rv_map *m);
void rv_map_free(struct rv_map *m);
void *rv_map_get(const struct rv_map *m, const char *key);
/* rv_map_put - insert or replace; -ENOMEM leaves the map unchanged. */
int rv_map_put(struct rv_map *m, const char *key, void *val);
/* rv_map_del - remove KEY; returns its value or NULL. */
void *rv_map_del(struct rv_map *m, const char *key);
/* rv_map_next - iterate: start with *I = 0; returns the next value or NULL. */
void *rv_map_next(const struct rv_map *m, size_t *i, const char **key);

#endif
