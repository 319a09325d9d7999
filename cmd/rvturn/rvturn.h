/* rvturn.h - the rvturn tool: a STUN/TURN client that diagnoses and drives
 * TURN servers. One client talks to one server over UDP, TCP or TLS with
 * non-blocking sockets and poll(2), its transactions run by the lib/turn.h
 * engine, which decides every wait: a diagnostic runs one step at a time. The
 * bench (bench.c) runs many clients from one thread on a fixed tick with
 * GSO sends, reading its sockets lazily (epoll, recvmmsg, the kernel's
 * receive timestamps). */
#ifndef RVTURN_H
#define RVTURN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"
#include "tls.h"
#include "turn.h"

enum tr { TR_UDP, TR_TCP, TR_TLS };

struct uri {
	int turn;                    /* turn: or turns: (else stun:) */
	enum tr tr;
	char host[256];
	int port;
};

/* What the user asked for, shared by the commands. */
struct opts {
	struct uri uri;
	int transport_all;
	const char *user;
	char username[512];          /* as sent (REST: "expiry:user") */
	char password[512];
	int have_password;
	const char *password_file, *secret_file, *ca;
	double ttl, timeout;
	int insecure, family, json, verbosity, hex;
	unsigned lifetime;
	const char *peer;
	unsigned clients, rate, size;  /* bench */
	unsigned burst;               /* bench: packets a sender sends a tick */
	unsigned read_ms;             /* bench: ms between reads of the sockets (0: every tick) */
	double duration;
};

/* One connection to the server, with its allocation. */
struct client {
	const struct opts *o;
	enum tr tr;
	int fd;
	struct sockaddr_storage server;
	socklen_t server_len;
	struct rv_tls_ctx *tls_ctx;
	struct rv_tls *tls;
	uint8_t rbuf[65536];         /* stream input not yet consumed */
	size_t rlen;
	struct rv_turn turn;         /* the transactions and the allocation (client.c) */
	int engine_ready;
	struct sockaddr_storage mapped, relayed;
	unsigned lifetime;
	char err[512];               /* the last failure, in words */
	int err_code;                /* the last STUN error code, or 0 */
	int timed_out;               /* silence: no answer within --timeout */
	int unreachable;             /* resolve, connect or TLS failed, or ICMP
				      * unreachable before the server answered */
	int reached;                 /* the server answered (or TCP connected) */
	int lost;                    /* the connection closed or failed after that */
	int redirects;               /* 300 ALTERNATE-SERVER followed */
	char moved_to[128];          /* where the last one led */
};

/* net.c */
int uri_parse(const char *s, struct uri *u, char *err, size_t errlen);
int client_open(struct client *c, const struct opts *o, enum tr tr, char *addr, size_t addrlen);
void client_close(struct client *c);
int client_connect(struct client *c, char *addr, size_t addrlen);
/* Send one datagram or framed message. On an error c->err says what
 * happened and c->unreachable or c->lost which kind (see client_exit). */
int client_send(struct client *c, const uint8_t *p, size_t n);
/* Receive one message (STUN or ChannelData) within MS: its length, 0 on
 * timeout, negative on error (c->err, c->unreachable or c->lost set). */
int client_recv(struct client *c, uint8_t *buf, size_t cap, int ms);
/* The one rule for a failure of C, for every command: nothing at the
 * address (resolve, a refused connect, a failed TLS handshake, or on UDP an
 * ICMP unreachable before the server ever answered) RV_EXIT_CONNECT; the
 * connection lost after it answered RV_EXIT_LOST; silence RV_EXIT_TIMEOUT;
 * credentials or a peer refused (401, 403, 441) RV_EXIT_DENIED; else
 * RV_EXIT_FAIL. */
int client_exit(const struct client *c);
/* Ask for ICMP errors on the unconnected UDP socket FD (IP_RECVERR). */
void udp_recverr(int fd, int family);
/* One error from FD's error queue: for an ICMP error its errno
 * (ECONNREFUSED for port unreachable), with where the datagram that caused
 * it went in TO; 0 for another kind; -1 when the queue is empty. */
int udp_icmp_error(int fd, struct sockaddr_storage *to);
/* Words for ERR (an errno) on UDP to TO in BUF: 1 when it is an ICMP
 * unreachable, the one definite "no" UDP has; REACHED: TO had answered. */
int udp_unreachable(int err, const struct sockaddr_storage *to, int reached, char *buf, size_t len);
const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
int addr_parse(const char *s, struct sockaddr_storage *ss);
double now_ms(void);

/* client.c: the TURN operations, each run to its end on the engine: 1
 * success, 0 error response (c->err_code, c->err), -1 no answer
 * (c->timed_out) or a failure (c->err, c->unreachable or c->lost). Signed
 * with the user's credentials (Allocate only with AUTH); a 401/438 retry,
 * a 300 redirect and a 437 (Allocate from another port) are followed. */
int turn_allocate(struct client *c, int auth);
int turn_refresh(struct client *c, unsigned lifetime);
int turn_permission(struct client *c, const struct sockaddr_storage *peer);
int turn_bind(struct client *c, uint16_t ch, const struct sockaddr_storage *peer);
/* Send and ChannelData: 0, or a negative error (c->err for a socket's). */
int turn_send(struct client *c, const struct sockaddr_storage *peer, const void *p, size_t n);
int turn_channel_send(struct client *c, uint16_t ch, const void *p, size_t n);
int binding(struct client *c);
/* Use SRC's realm, nonce and keys (a second allocation of the same user). */
void client_share_auth(struct client *dst, const struct client *src);
/* The realm the server named in a 401 ("" before one). */
const char *client_realm(const struct client *c);
/* Read the password (environment, file, prompt) or make TURN REST
 * credentials: 0, or RV_EXIT_USAGE after saying why. */
int credentials(struct opts *o);

/* check.c */
int cmd_check(struct opts *o);
/* relay.c */
int cmd_relay(struct opts *o);
int cmd_session(struct opts *o);
/* nat.c */
int cmd_binding(struct opts *o);
/* bench.c */
int cmd_bench(struct opts *o);

#endif
