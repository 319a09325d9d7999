/* listen.c - listeners and process set-up shared by the servers (see listen.h). */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include "listen.h"

int rv_listen_addr(const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (!addr || port < 0 || port > 65535)
		return -EINVAL;
	if (uv_ip4_addr(addr, port, (struct sockaddr_in *)ss) == 0 ||
	    uv_ip6_addr(addr, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -EINVAL;
}

int rv_listen_port(const uv_handle_t *h)
{
	struct sockaddr_storage ss;
	int len = sizeof ss, rc;
	if (h->type == UV_TCP)
		rc = uv_tcp_getsockname((const uv_tcp_t *)h, (struct sockaddr *)&ss, &len);
	else if (h->type == UV_UDP)
		rc = uv_udp_getsockname((const uv_udp_t *)h, (struct sockaddr *)&ss, &len);
	else
		return UV_EINVAL;
	if (rc < 0)
		return rc;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

int rv_listen_tcp(uv_loop_t *loop, uv_tcp_t *h, void *data, const char *addr, int port,
		  uv_connection_cb cb, int *bound)
{
	struct sockaddr_storage ss;
	int rc = rv_listen_addr(addr, port, &ss);
	if (rc < 0)
		return rc;
	if ((rc = uv_tcp_init(loop, h)) < 0)
		return rc;
	h->data = data;
	if ((rc = uv_tcp_bind(h, (struct sockaddr *)&ss, 0)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)h, 1024, cb)) < 0)
		return rc;
	rc = rv_listen_port((uv_handle_t *)h);
	if (rc < 0)
		return rc;
	*bound = rc;
	return 0;
}

int rv_server_process_init(void)
{
	struct rlimit rl;
	signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
	/* Output queues are allocated and freed on every loop turn of a fan-out
	 * (an idle connection holds no buffer). glibc would return the heap's
	 * top to the kernel after each turn (128 KiB trim threshold) and serve
	 * every queue past 128 KiB with mmap: each brk/munmap flushes the TLB,
	 * and the next turn faults the pages back in. That cost three quarters
	 * of rvserver's CPU in a 1->100 fan-out. Keep up to RV_HEAP_KEEP free
	 * at the top, and take queues up to RV_HEAP_MMAP from the heap. */
	mallopt(M_TRIM_THRESHOLD, RV_HEAP_KEEP);
	mallopt(M_MMAP_THRESHOLD, RV_HEAP_MMAP);
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return 0;
}

void rv_stop_signals_start(struct rv_stop_signals *st, uv_loop_t *loop, void *data,
			   uv_signal_cb cb)
{
	uv_signal_init(loop, &st->sigint);
	uv_signal_init(loop, &st->sigterm);
	st->sigint.data = st->sigterm.data = data;
	uv_signal_start(&st->sigint, cb, SIGINT);
	uv_signal_start(&st->sigterm, cb, SIGTERM);
}

void rv_stop_signals_close(struct rv_stop_signals *st, uv_close_cb cb)
{
	uv_close((uv_handle_t *)&st->sigint, cb);
	uv_close((uv_handle_t *)&st->sigterm, cb);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
}
