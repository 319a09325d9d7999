/* bus.h - the cluster's directory and message bus, behind a small interface
 * so that another engine (NATS) can be added later: channels to publish to
 * and subscribe to, and a few atomic directory operations (enum rv_dir_op)
 * that an implementation provides as it can (Redis: one Lua script each).
 *
 * Runs on the caller's libuv loop; no threads. Every call either fails at
 * once (a negative code, its callback never called) or calls its callback
 * exactly once later: with the answer, or with an error when the bus is
 * down, the connection is lost or the answer did not come within
 * RV_BUS_TIMEOUT_MS. Messages and state changes arrive through the
 * callbacks given at creation.
 *
 * The Redis implementation (bus_redis.c) uses hiredis 0.14 and its libuv
 * adapter: two connections (a subscribed one takes no other commands), its
 * own uv_timer for timeouts and reconnection with backoff, and it
 * re-subscribes every channel itself after a reconnection. Directory
 * operations run by EVALSHA; scripts are loaded at every connection and
 * again when Redis answers NOSCRIPT, and that command is sent once more
 * (after the commands sent meanwhile). Addresses are IP
 * addresses or unix sockets: hiredis resolves names with a blocking call.
 *
 * With Sentinel (sentinel://), every connection starts by asking the
 * Sentinels in turn, from the last one that answered, for the master's
 * address (SENTINEL get-master-addr-by-name, on a third, short-lived
 * connection), then connects there and checks with ROLE that it is a
 * master; a replica, no answer, or no Sentinel that knows the name: down,
 * and again after the backoff. A master that is demoted later (a READONLY
 * answer) or lost is a lost connection: the bus goes down and asks the
 * Sentinels again, and the caller re-asserts its state when it is up, as
 * after a Redis restart. Every step (the Sentinel's answer, the connection,
 * ROLE) is bounded by RV_BUS_TIMEOUT_MS. While up, the bus stays
 * subscribed to +switch-master on the Sentinel that answered, and moves
 * at once when that Sentinel names another master (a demoted master may
 * take seconds to be told, and accepts writes meanwhile). */
#ifndef RV_BUS_H
#define RV_BUS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define RV_BUS_TIMEOUT_MS 2000      /* an answer later than this: the connection is lost */
#define RV_BUS_BACKOFF_MIN_MS 100   /* reconnection attempts: doubling up to the max */
#define RV_BUS_BACKOFF_MAX_MS 400   /* so a node is back within half a second of Redis */

/* An address: redis://IP:PORT, unix:PATH, or
 * sentinel://IP:PORT[,IP:PORT...]/NAME: the Sentinels to ask for the
 * address of the master they call NAME (IPv6 in brackets, as [::1]:26379). */
#define RV_BUS_SENTINELS_MAX 8
#define RV_BUS_MASTER_MAX 64          /* a master's name: 1-63 bytes [A-Za-z0-9._-] */
struct rv_bus_hostport {
	char ip[64];
	int port;
};
struct rv_bus_addr {
	char ip[64];                /* "" for a unix socket and for sentinel:// (the bus
				     * keeps the master a Sentinel names in its own copy) */
	int port;
	char path[108];             /* the unix socket, or "" */
	char master[RV_BUS_MASTER_MAX]; /* sentinel://: the master's name, else "" */
	int nsentinels;
	struct rv_bus_hostport sentinels[RV_BUS_SENTINELS_MAX];
};

/* rv_bus_url_parse - URL into *A. 0, or RV_EPROTO with *WHY (static text):
 * not one of the three forms, a host that is not an IP address, a port out
 * of 1-65535, a path too long, no Sentinel or more than
 * RV_BUS_SENTINELS_MAX, a master name missing, too long or with other
 * characters. */
int rv_bus_url_parse(const char *url, struct rv_bus_addr *a, const char **why);

/* rv_bus_hostport_parse - the master's address as a Sentinel answers it
 * (SENTINEL get-master-addr-by-name: IP and PORT as strings of IPLEN and
 * PORTLEN bytes, peer input) into *HP. 0, or RV_EPROTO: not an IP
 * address (IPv4 or IPv6), not a port 1-65535. */
int rv_bus_hostport_parse(const char *ip, size_t iplen, const char *port, size_t portlen,
			  struct rv_bus_hostport *hp);

/* rv_bus_switch_parse - a Sentinel's +switch-master message (MSG, LEN
 * bytes, peer input: "NAME OLD-IP OLD-PORT NEW-IP NEW-PORT"): 1 when it
 * concerns the master called MASTER, its new address in *TO; 0 when it is
 * another master's; RV_EPROTO when it is not of that form. */
int rv_bus_switch_parse(const char *msg, size_t len, const char *master, struct rv_bus_hostport *to);

/* rv_bus_node_id_check - NULL when ARG is a valid --node-id (1-40
 * characters [A-Za-z0-9_-]), else what is wrong (static text). */
const char *rv_bus_node_id_check(const char *arg);

/* What a cluster node starts from: its bus address, its secret, its
 * incarnation (node id, '.', boot time in ms: a restarted node is a new one). */
struct rv_bus_node {
	struct rv_bus_addr addr;
	char secret[512];
	size_t secret_len;
	char inc[81];                 /* RV_CMSG_NODE_MAX + 1 */
};

/* rv_bus_node_setup - N from --cluster URL, --node-id NODE_ID and
 * --cluster-secret-file SECRET_FILE at wall clock NOW_MS. 0; -EINVAL for a
 * bad URL or an empty secret, or the error reading SECRET_FILE; the reason
 * is logged (rv_error) with the option it concerns. */
int rv_bus_node_setup(struct rv_bus_node *n, const char *url, const char *node_id, const char *secret_file,
		      uint64_t now_ms);

/* The directory's operations, their arguments (all strings) and answers.
 * INC is a node incarnation, GEN a login's generation, MSG an encoded
 * rv_cmsg published by the operation when it changes something. */
enum rv_dir_op {
	RV_DIR_REGISTER,   /* INC, ADDR: the node is alive for 3 s more (heartbeat); num 1
			    * when the directory did not know INC (new, reaped, or a Redis
			    * that lost its data): the node must assert what it owns again */
	RV_DIR_LOGIN,      /* INC, ID, GEN, KEEP ("none", "groups" or "all"): ID's receiver is
			    * INC's now (last login wins), and so are ID's memberships
			    * (rv:ig:ID), wherever they were; answer: the strings [old INC,
			    * old GEN, ALL, CONTACTS, ALLOWED, (GROUP, OWNER)...]: the
			    * receiver replaced ("" "" when none); with KEEP "all", ID's kept
			    * lists as RV_DIR_KEEP wrote them (ALL "" when none were); then
			    * each membership of ID and the node that owned it until now */
	RV_DIR_REASSERT,   /* INC, ID, GEN: the same unless another node holds ID;
			    * answer: [holder INC, holder GEN] */
	RV_DIR_LOGOUT,     /* INC, ID, GEN: ID's receiver left, if GEN still holds it */
	RV_DIR_KEEP,       /* ID, ALL ("1" allows everybody, "0" a list), CONTACTS, ALLOWED (ids
			    * separated by spaces): what ID keeps (--keep-client-info all) */
	RV_DIR_LISTS,      /* ID: strings [ALL, CONTACTS, ALLOWED] as RV_DIR_KEEP wrote them, or none */
	RV_DIR_JOIN,       /* INC, GROUP, ID, MAX_GROUPS, MAX_MEMBERS, MSG (may be ""): num 0 joined
			    * (MSG published), 1 already a member, -1 past MAX_GROUPS, -2
			    * past MAX_MEMBERS (0: no limit); strings: the members. Joined
			    * or already a member, the membership is INC's (it owns it) */
	RV_DIR_LEAVE,      /* INC, GROUP, ID, MSG (may be ""): num 1 left (MSG published), 0 not a
			    * member, or a membership another node owns (nothing changed) */
	RV_DIR_MEMBERS,    /* GROUP: strings [ID, "1" online or "0"]..., num -1: no group */
	RV_DIR_GROUPS,     /* "all", or "" and ID (ID's groups): strings [GROUP, COUNT]... */
	RV_DIR_SWEEP,      /* INC, "1" or "0": reap the nodes whose heartbeat ran out (the
			    * first sweeper does, atomically): their ids and, with "1", the
			    * memberships they owned (else those stay, offline, until a login); num: nodes reaped; strings: [dead INC, GROUP, ID]...
			    * for each membership removed */
	RV_DIR_WHERE,      /* INC, "id" or "group", NAME: num 1 when the receiver of id NAME,
			    * or one of group NAME's members, is on another node than INC */
	RV_DIR_NODES,      /* INC, "id" or "group", NAME: the live nodes other than INC that hold
			    * the receiver of id NAME, or members of group NAME: strings
			    * [INC, ADDR]... (ADDR: the address registered, "" when none) */
	/* rvsignal's (keys sig:*, its own nodes' registry): PID a peer id, TOKEN
	 * its resume token, ROOM a room, MSG an encoded rv_cmsg, WINDOW_MS the
	 * resume window. */
	RV_DIR_SIG_REGISTER, /* INC: the node is alive for 3 s more; num 1 when the directory
			      * did not know INC: it must assert its peers and rooms again */
	RV_DIR_SIG_PEER,     /* INC, PID, TOKEN, NAME: PID is INC's; num 0, or -1 when a live
			      * other node holds PID (nothing changed) */
	RV_DIR_SIG_JOIN,     /* INC, ROOM, PID, NAME, MAX_PEERS, MSG (may be ""): num 0 joined (MSG
			      * published), strings [PID, NAME]... the members before; 1 already
			      * a member; -2 past MAX_PEERS (0: no limit), strings [COUNT] */
	RV_DIR_SIG_LEAVE,    /* INC, ROOM, PID, MSG (may be ""): num 1 left (MSG published), 0 not a
			      * member, -1 another node holds PID */
	RV_DIR_SIG_GONE,     /* INC, PID: PID's session ended (if INC holds it): its keys go */
	RV_DIR_SIG_PARK,     /* INC, PID, TEXT, WINDOW_MS: TEXT kept for PID's resume (the 256
			      * newest, for WINDOW_MS); num 1, or 0 when INC no longer holds PID */
	RV_DIR_SIG_LOOKUP,   /* TOKEN: strings [PID, holder INC, NAME, ROOM...], or none */
	RV_DIR_SIG_CLAIM,    /* INC, TOKEN, PID, MSG: PID is INC's now and MSG is published on
			      * sig:p:PID; num 0 and strings: the kept messages, oldest first
			      * (taken); num -1 when TOKEN is no longer PID's */
	RV_DIR_SIG_SWEEP,    /* INC: reap the rvsignal nodes whose heartbeat ran out (the first
			      * sweeper does, atomically); num: nodes reaped; strings [ROOM,
			      * PID, NAME]... for each membership removed */
	/* A group's live media: its home is the node of its first source (media
	 * does not cross nodes); key rv:home:GROUP (the INC), listed in
	 * rv:homes:INC so that SWEEP removes a dead node's. */
	RV_DIR_HOME_CLAIM,   /* INC, GROUP: INC is GROUP's home unless another live node is;
			      * strings: [holder INC, ADDR] when one is (nothing changed), or none */
	RV_DIR_HOME_DROP,    /* INC, GROUP: GROUP's home goes, if INC holds it */
	RV_DIR_HOME,         /* INC, GROUP: strings [holder INC, ADDR] when a live node other
			      * than INC is GROUP's home, or none */
	RV_DIR_COUNT
};

enum rv_bus_state { RV_BUS_DOWN, RV_BUS_UP };

struct rv_bus_reply {
	int err;                    /* 0; RV_ECLOSED (down or lost), RV_EPROTO (a bad answer) */
	long long num;
	size_t n;                   /* strings, valid during the callback only */
	const char *const *v;
	const size_t *len;
};

typedef void (*rv_bus_done_fn)(void *ud, const struct rv_bus_reply *r);
/* A message on a subscribed channel; DATA is valid during the call only. */
typedef void (*rv_bus_msg_fn)(void *ud, const char *channel, const uint8_t *data, size_t len);
/* The bus went up (connected, channels subscribed again) or down. */
typedef void (*rv_bus_state_fn)(void *ud, enum rv_bus_state state);

struct rv_bus;
struct rv_bus_ops {
	/* PUBLISH: num = the subscribers that got it (Redis: nodes). */
	int (*publish)(struct rv_bus *b, const char *chan, const void *data, size_t len,
		       rv_bus_done_fn fn, void *ud);
	/* Subscribe (FN, may be NULL: told once the subscription holds) and
	 * unsubscribe; the bus keeps the set across reconnections. */
	int (*subscribe)(struct rv_bus *b, const char *chan, rv_bus_done_fn fn, void *ud);
	int (*unsubscribe)(struct rv_bus *b, const char *chan);
	int (*dir)(struct rv_bus *b, enum rv_dir_op op, int argc, const char *const *argv,
		   const size_t *argl, rv_bus_done_fn fn, void *ud);
	/* Close: pending commands are answered first (at most RV_BUS_TIMEOUT_MS,
	 * then they get RV_ECLOSED), then B is freed; no new call may follow. */
	void (*close)(struct rv_bus *b);
};

struct rv_bus {
	const struct rv_bus_ops *ops;
	enum rv_bus_state state;
	rv_bus_msg_fn on_msg;
	rv_bus_state_fn on_state;
	void *ud;
	uint64_t reconnects, timeouts;  /* counters for /metrics */
	uint64_t script_reloads;      /* directory scripts loaded again: the engine had lost them */
	size_t pending;               /* commands sent and not answered yet (their bytes
				       * wait in the client or the server: the caller paces by it) */
};

/* rv_bus_redis_new - a Redis bus at A on LOOP; it connects at once and
 * reports RV_BUS_UP through ON_STATE. 0, or -ENOMEM. */
int rv_bus_redis_new(struct rv_bus **out, uv_loop_t *loop, const struct rv_bus_addr *a,
		     rv_bus_msg_fn on_msg, rv_bus_state_fn on_state, void *ud);

#endif
