/* router.h - the relay's routing core: clients, groups, default receivers
 * and allowed senders. No I/O: the server attaches an opaque endpoint to each
 * client and the router calls back for every delivery it decides.
 *
 * Ownership: the router owns every rv_client and rv_group; pointers stay
 * valid until the client is detached for the last time (or its group empties)
 * and the router decides to forget it. */
#ifndef RV_ROUTER_H
#define RV_ROUTER_H

#include <stddef.h>

#include "map.h"
#include "rvcode.h"

#define RV_ID_MAX 64

enum rv_keep { RV_KEEP_NONE, RV_KEEP_GROUPS, RV_KEEP_ALL };

struct rv_router_conf {
	size_t max_groups;          /* groups server-wide; 0 = no limit */
	size_t max_group_members;   /* members per group; 0 = no limit */
	enum rv_keep keep;          /* what survives a client's disconnection */
};

struct rv_strv {                    /* a small owned list of strings */
	char **v;
	size_t n;
};

struct rv_group;

struct rv_client {
	char *id;                   /* owned; also the map key */
	void *recv;                 /* the server's receiving endpoint, or NULL */
	size_t conns;               /* connections attached */
	struct rv_group **groups;   /* groups this client is in */
	size_t ngroups;
	struct rv_strv contacts;    /* default receivers */
	struct rv_strv allowed;     /* allowed senders, when allow_all is 0 */
	int allow_all;
};

struct rv_group {
	char *name;                 /* owned; also the map key */
	struct rv_client **members;
	size_t n, alloc;
};

enum rv_event_type { RV_EV_JOINED, RV_EV_LEFT };

/* The router reports membership events to each member that should hear them. */
typedef void (*rv_router_event_fn)(void *ud, struct rv_client *to,
				   enum rv_event_type type, const struct rv_group *g,
				   const struct rv_client *who);
/* One delivery decided by rv_router_route. */
typedef void (*rv_router_deliver_fn)(void *ud, struct rv_client *to);

/* A member left a group (G has lost it; G is freed right after when G->n
 * is 0): for a layer that mirrors memberships elsewhere (a cluster). */
typedef void (*rv_router_unlink_fn)(void *ud, const struct rv_client *c, const struct rv_group *g);

struct rv_router {
	struct rv_router_conf conf;
	struct rv_map clients;
	struct rv_map groups;
	rv_router_event_fn on_event;
	rv_router_unlink_fn on_unlink;  /* NULL, or set after rv_router_init */
	void *ud;
};

/* rv_id_valid - 1 when S is a valid client id or group name:
 * 1..RV_ID_MAX bytes of [A-Za-z0-9._@-]. */
int rv_id_valid(const char *s);

void rv_router_init(struct rv_router *r, const struct rv_router_conf *conf,
		    rv_router_event_fn on_event, void *ud);
void rv_router_free(struct rv_router *r);

/* rv_router_attach - a connection for ID arrived: find or create its client
 * and count the connection. NULL with -ENOMEM. */
struct rv_client *rv_router_attach(struct rv_router *r, const char *id);
/* rv_router_detach - one of C's connections left. When it was the last one,
 * what C keeps depends on conf.keep; C may be freed: do not use it after. */
void rv_router_detach(struct rv_router *r, struct rv_client *c);
/* rv_router_find - the client with ID, or NULL. */
struct rv_client *rv_router_find(struct rv_router *r, const char *id);
struct rv_group *rv_router_group(struct rv_router *r, const char *name);

/* rv_router_join - add C to group NAME, creating it. 0, or 1 when already a
 * member; RV_ELIMIT past max_groups or max_group_members. Others are told. */
int rv_router_join(struct rv_router *r, struct rv_client *c, const char *name);
/* rv_router_leave - remove C from NAME: 0, or RV_ENOTFOUND (not a member). */
int rv_router_leave(struct rv_router *r, struct rv_client *c, const char *name);

/* Memberships that move between servers sharing one directory (rvserver
 * --cluster): they neither begin nor end, so no event is told and no
 * on_unlink called.
 * rv_router_adopt - as rv_router_join, silently and without the limits
 * (the directory held them): 0, 1 already a member, or -ENOMEM.
 * rv_router_drop - as rv_router_leave, silently: 0 or RV_ENOTFOUND.
 * rv_router_forget - C's memberships dropped silently; C is freed when it
 * has no connection (1: do not use C after), else kept with its lists (0). */
int rv_router_adopt(struct rv_router *r, struct rv_client *c, const char *name);
int rv_router_drop(struct rv_router *r, struct rv_client *c, const char *name);
int rv_router_forget(struct rv_router *r, struct rv_client *c);

/* rv_router_allows - 1 when TO accepts messages from FROM_ID. */
int rv_router_allows(const struct rv_client *to, const char *from_id);

/* Why rv_router_route found no one to try: which miss it was. */
enum rv_route_miss {
	RV_MISS_NONE,               /* routed (perhaps to no one online) */
	RV_MISS_NO_CLIENT,          /* no client TO_ID */
	RV_MISS_OFFLINE,            /* TO_ID has no receiving endpoint */
	RV_MISS_REFUSED,            /* TO_ID does not allow FROM */
	RV_MISS_NO_GROUP,           /* no group GROUP */
	RV_MISS_NO_CONTACTS,        /* FROM has no default receivers */
};

/* rv_router_route - decide where a message from FROM goes: to client TO_ID,
 * else to group GROUP, else to FROM's contacts; FN is called per receiver
 * that has a receiving endpoint and allows FROM. Returns the number of
 * deliveries, or RV_ENOTFOUND (no such client or group, or offline),
 * RV_EDENIED (TO_ID does not allow FROM); *MISS (MISS may be NULL) says
 * which, RV_MISS_NONE on success. With a group or contacts, members that
 * refuse FROM or are offline are skipped. */
int rv_router_route(struct rv_router *r, struct rv_client *from, const char *to_id,
		    const char *group, rv_router_deliver_fn fn, void *ud,
		    enum rv_route_miss *miss);
/* rv_route_miss_text - a static human text for MISS ("no such group"). */
const char *rv_route_miss_text(enum rv_route_miss miss);
/* rv_route_miss_code - the wire code that reports MISS to the sender
 * (RV_CODE_NO_SUCH_GROUP for RV_MISS_NO_GROUP, ...). */
enum rv_code rv_route_miss_code(enum rv_route_miss miss);

/* String lists, for contacts and allowed senders. */
int rv_strv_add(struct rv_strv *l, const char *s);
int rv_strv_del(struct rv_strv *l, const char *s);
int rv_strv_has(const struct rv_strv *l, const char *s);
void rv_strv_free(struct rv_strv *l);

#endif
