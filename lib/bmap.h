/* bmap.h - a hash map of pointers keyed by fixed-length bytes (open
 * addressing, linear probing), for the packet path: a UDP address or an
 * SSRC is looked up as its bytes, never formatted as text.
 *
 * Every key of one map has the same length KLEN (1..RV_BMAP_KEY_MAX bytes),
 * set at rv_bmap_init. Keys are copied into the table: the caller keeps no
 * key alive. The map holds at most MAX entries (0: no cap); a put past it
 * fails with RV_ELIMIT. No I/O; memory only when it grows (a put), never on
 * a get or a delete. Not thread-safe. */
#ifndef RV_BMAP_H
#define RV_BMAP_H

#include <stddef.h>
#include <stdint.h>

#define RV_BMAP_KEY_MAX 20

struct rv_bmap_slot {
	uint8_t key[RV_BMAP_KEY_MAX];
	uint8_t state;     /* 0 empty, 1 live, 2 deleted (a tombstone) */
	void *val;
};

struct rv_bmap {
	struct rv_bmap_slot *slots;
	size_t cap;        /* power of two, or 0 */
	size_t count;      /* live entries */
	size_t used;       /* live + tombstones */
	size_t max;        /* the cap on count; 0: none */
	size_t klen;
};

/* rv_bmap_init - an empty map of KLEN-byte keys (clamped to
 * 1..RV_BMAP_KEY_MAX), holding at most MAX entries (0: no cap). */
void rv_bmap_init(struct rv_bmap *m, size_t klen, size_t max);
/* rv_bmap_free - the table goes; the values are the caller's. The map is
 * empty again (same KLEN and MAX) and may be reused. */
void rv_bmap_free(struct rv_bmap *m);
/* rv_bmap_get - the value of KEY (KLEN bytes), or NULL. */
void *rv_bmap_get(const struct rv_bmap *m, const void *key);
/* rv_bmap_put - insert or replace: 0; -ENOMEM (no memory to grow) or
 * RV_ELIMIT (a new key past MAX) leave the map unchanged. */
int rv_bmap_put(struct rv_bmap *m, const void *key, void *val);
/* rv_bmap_del - remove KEY: its value, or NULL when it was not there. */
void *rv_bmap_del(struct rv_bmap *m, const void *key);
/* rv_bmap_next - iterate: start with *I = 0; the next value (its key in
 * *KEY when KEY is not NULL: it stays valid until the next put), or NULL at
 * the end. The map must not change during the walk. */
void *rv_bmap_next(const struct rv_bmap *m, size_t *i, const uint8_t **key);

#endif
