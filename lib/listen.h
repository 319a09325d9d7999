/* listen.h - what every rvkit server does the same way before it serves:
 * listen on an address and port (IPv4 or IPv6 literal; port 0 picks a free
 * one, reported back), raise the open-file limit, ignore SIGPIPE, and turn
 * SIGINT and SIGTERM into one stop callback.
 *
 * Nothing here prints: errors come back as negative codes (rv_strerror),
 * and the server says what failed in its own words. */
#ifndef RV_LISTEN_H
#define RV_LISTEN_H

#include <sys/socket.h>

#include <uv.h>

/* rv_listen_addr - ADDR (an IPv4 or IPv6 literal) and PORT as a socket
 * address in *SS. 0, or -EINVAL when ADDR is not an IP address. */
int rv_listen_addr(const char *addr, int port, struct sockaddr_storage *ss);

/* rv_listen_tcp - initialise H on LOOP (H->data = DATA), bind it to ADDR and
 * PORT, listen with CB, and set *BOUND to the port it got. 0, -EINVAL (ADDR
 * is not an IP address; H is then not initialised), or a libuv error from
 * bind or listen (H is initialised: close it). */
int rv_listen_tcp(uv_loop_t *loop, uv_tcp_t *h, void *data, const char *addr, int port,
		  uv_connection_cb cb, int *bound);

/* rv_listen_port - the local port of a bound handle H, or a libuv error. */
int rv_listen_port(const uv_handle_t *h);

#define RV_HEAP_KEEP (32 << 20)   /* free heap kept at its top rather than trimmed */
#define RV_HEAP_MMAP (4 << 20)    /* allocations this large and up use mmap */

/* rv_server_process_init - for a server process: raise RLIMIT_NOFILE's soft
 * limit to its hard limit (many connections), ignore SIGPIPE (a peer that
 * resets while we write costs that stream an EPIPE, never the server), and,
 * with glibc, keep RV_HEAP_KEEP of freed heap instead of trimming it after
 * each burst (see listen.c). 0, or -errno when the limit cannot be read
 * (the rest is done anyway). */
int rv_server_process_init(void);

/* SIGINT and SIGTERM, both to one callback (which gets the signal). */
struct rv_stop_signals {
	uv_signal_t sigint, sigterm;
};

/* rv_stop_signals_start - watch both signals on LOOP; DATA goes to
 * the handles' data. */
void rv_stop_signals_start(struct rv_stop_signals *st, uv_loop_t *loop, void *data,
			   uv_signal_cb cb);
/* rv_stop_signals_close - close both handles (CB per handle, may be NULL).
 * From here on the process ignores both signals: a server that is shutting
 * down finishes what it does (timeout(1) may signal it and its group). */
void rv_stop_signals_close(struct rv_stop_signals *st, uv_close_cb cb);

#endif
