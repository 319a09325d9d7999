/* mrelay.c - UDP media relay load generator: 1 sender -> N receivers through a relay.
 *
 * Targets (--target):
 *   rv      rvserver's media relay. Over TCP (preface "RVP1", hello) N receivers (role recv)
 *           join group --group and send watch; the sender (role send) announces a stream with
 *           one H.264 SSRC to that group. Each registers its UDP socket with a STUN Binding
 *           request signed with the credentials from its ok reply (USERNAME, MESSAGE-INTEGRITY,
 *           FINGERPRINT). The sender's RTP packets go to the server's UDP port; the server
 *           relays each to every receiver.
 *   turn    a TURN server (coturn) relaying ChannelData between two loopback endpoints: one
 *           allocation (long-term credentials: --user, password from env MRELAY_TURN_PASSWORD),
 *           ChannelBind 0x4000 to the generator's own peer socket. --dir up: the client sends
 *           ChannelData, the server relays plain UDP from its relay address to the peer;
 *           --dir down: the peer sends to the relay address, the server relays ChannelData to
 *           the client. One receiver.
 *   direct  no relay: the sender sends each packet to each of the N receivers itself (the
 *           loopback floor for the latency figures).
 *
 * Packets are RTP (V=2, PT 96, one SSRC), --size bytes on the relay's output (default 1200; for
 * turn the ChannelData framing adds 4 bytes on the client side). After the 12-byte RTP header:
 * magic "MRLY", trial id, sequence number, send time (CLOCK_REALTIME ns), padding. Receivers
 * count the packets of the current trial (late ones of an earlier trial are ignored).
 *
 * The sender sends through lib/udpq (rv_udpq, the batched sender rvserver, rvsend and rvturn bench
 * use): each tick's packets are queued and flushed with one sendmmsg (MSG_DONTWAIT; a datagram the
 * kernel does not take is not counted as sent).
 * --gso: the queue joins each tick's packets into UDP GSO sends (runs of up to 50 datagrams,
 * one system call still), the way rvsend sends a video frame's packets; a relay that reads with
 * UDP GRO gets each run as one datagram, as it would from a network card's GRO. Without it every
 * datagram is its own skb, as from a sender that sends them one by one. Not with --target direct.
 *
 * A trial sends at a fixed rate for --trial seconds (paced in 100 us ticks with sendmmsg), drains
 * for 0.15 s, and reports sent, delivered (summed over receivers), loss, the server's CPU
 * (utime+stime of --pid from /proc/PID/stat over the trial), the generator's own CPU, and drops
 * counted by the kernel on the server's and the receivers' sockets (/proc/net/udp).
 *
 * --search: the highest rate (packets/s into the relay) with loss <= --loss % (default 0.1):
 * start at --start, double until a trial loses more, bisect down to --res (5 %), then confirm
 * in a --confirm-second trial (on failure step down 7.5 %, 6 times, then 30 % a step, up to 12
 * trials in all). A trial where the generator sent less than 99 % of the rate is "driver
 * limited" and ends the search (the result is then a lower bound, flagged). Prints RESULT with
 * fwd_pps (delivered/s) and pps_per_core (delivered packets / server CPU seconds over the
 * confirming trial).
 *
 * --lat-rate R, or --lat-half with --search: one open-loop latency trial (--lat-duration s):
 * each packet sent alone with sendto and its own timestamp taken just before; with --gso each
 * 100 us tick's due packets go as one burst (GSO sends, one timestamp), as in the throughput
 * trials, so a burst table's latency is taken with bursts too (one by one, half of 1->1's
 * burst max rate was more than the generator can send: its catch-up bursts were measured). Receivers read
 * SO_TIMESTAMPNS: "relay" latency is the kernel's receive time stamp on the receiver's socket
 * (taken when the relay's send reaches loopback) minus the send time, i.e. the time the packet
 * spent getting into and through the relay; "app" latency is the time the generator read it.
 * The sends come first: the receivers are read every 200 us (a pass stops when a packet is
 * due), so that reading 64 sockets does not hold the schedule back (a late sender catches up
 * with a burst, and the relay's queue then holds the burst); the relay latency does not
 * depend on when they are read, the app latency includes up to 200 us of it.
 * 1 us histograms; packets sent in the first 0.5 s are not counted. The LATENCY line also
 * gives what the trial ran beside: how late the sends were (gen_late_*), whether the rate was
 * held (driver_limited), the server's CPU and its CPU's busy share, how long the server's
 * loop and the generator waited runnable for their CPUs (run delay: other processes in the
 * way), steal time (the hypervisor running something else) and softirq squeezes (the network
 * softirq's budget ran out, the rest left to ksoftirqd) over the trial. --lat-trace FILE
 * writes one line per millisecond of send time (samples, those >= 1 ms, the largest, the
 * sends' lateness) with its CLOCK_MONOTONIC time, to match with a kernel trace.
 *
 * --overload R: a last trial at R packets/s, loss allowed: what the relay delivers and its CPU
 * when offered more than it can take (prints OVERLOAD).
 *
 * --srv-cpu N (the CPU the server is pinned to) adds that CPU's busy share over each trial
 * (/proc/stat), so that other work on the server's CPU shows up next to the server's own CPU.
 *
 * Only 127.0.0.0/8. --max-time ends the process whatever happens (exit 3).
 *
 * Output: TRIAL, RESULT, LATENCY, OVERLOAD and INFO lines (key=value), ERROR lines on failure.
 * Exit: 0 ok, 1 a measurement failed, 2 usage, 3 setup failed or timed out. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "cpu.h"
#include "stun.h"
#include "udpq.h"

#define MAX_RX 128                 /* receivers (the relay bench uses up to 100) */
#define BATCH 64
#define PKT_MAX 2048
#define HIST_US 100000              /* 1 us buckets up to 100 ms, then one overflow bucket */
#define MAGIC 0x4d524c59u           /* "MRLY" */
#define DRAIN_S 0.15
#define LAT_WARMUP_S 0.5
#define LAT_READ_S 200e-6          /* latency trials read the receivers this often */

enum target { T_RV, T_TURN, T_DIRECT };

static struct {
	enum target target;
	int port;
	int receivers;
	int size;
	int pid;
	const char *group;
	const char *user;
	int down;
	int search;
	double rate;
	double start;
	int start_given;
	double max_rate;
	double trial;
	double confirm;
	double loss;
	double res;
	double lat_rate;
	int lat_half;
	double lat_dur;
	int max_time;
	int srv_cpu;
	double overload;
	int gso;
	int verbose;
} opt = {
	.target = T_RV, .receivers = 1, .size = 1200, .group = "mrelay", .user = "bench",
	.start = 10000, .max_rate = 2e6, .trial = 2.0, .confirm = 3.0, .loss = 0.1, .res = 0.05,
	.lat_dur = 5.0, .max_time = 170, .srv_cpu = -1,
};

/* ---- small helpers ---- */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void die(const char *fmt, const char *arg)
{
	printf("ERROR ");
	printf(fmt, arg);
	printf("\n");
	fflush(stdout);
	exit(3);
}

static void on_alarm(int sig)
{
	static const char m[] = "ERROR mrelay: --max-time reached\n";
	(void)sig;
	if (write(1, m, sizeof m - 1) < 0) {
		/* nothing left to do */
	}
	_exit(3);
}

/* Busy time of CPU N (everything but idle and iowait, steal included) in
 * seconds into *BUSY, and its steal time (the hypervisor running something
 * else while this CPU had work) into *STEAL; -1 when unknown. */
static void cpu_times(int n, double *busy, double *steal)
{
	char want[16], line[512];
	*busy = *steal = -1;
	if (n < 0)
		return;
	snprintf(want, sizeof want, "cpu%d ", n);
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		unsigned long long v[8] = { 0 };
		if (strncmp(line, want, strlen(want)) ||
		    sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
			   &v[4], &v[5], &v[6], &v[7]) < 8)
			continue;
		double tck = (double)sysconf(_SC_CLK_TCK);
		*busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tck;
		*steal = (double)v[7] / tck;
		break;
	}
	fclose(f);
}

/* The time task PID (0: this one; a process: its main thread, the event
 * loop's) has spent runnable but waiting for a CPU, in seconds
 * (/proc/PID/schedstat's second field), -1 when unknown. */
static double run_delay(int pid)
{
	char path[64];
	unsigned long long run, wait;
	snprintf(path, sizeof path, pid ? "/proc/%d/schedstat" : "/proc/self/schedstat", pid);
	FILE *f = pid >= 0 ? fopen(path, "r") : NULL;
	if (!f)
		return -1;
	int n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? (double)wait / 1e9 : -1;
}

/* The times CPU N's network softirq stopped with work left (its budget or
 * time ran out, the rest went to ksoftirqd): /proc/net/softnet_stat's
 * third column, row N. -1 when unknown. */
static long long softnet_squeeze(int n)
{
	char line[512];
	long long v = -1;
	FILE *f = n >= 0 ? fopen("/proc/net/softnet_stat", "r") : NULL;
	if (!f)
		return -1;
	for (int row = 0; fgets(line, sizeof line, f); row++) {
		unsigned a, b, c;
		if (row == n && sscanf(line, "%x %x %x", &a, &b, &c) == 3) {
			v = c;
			break;
		}
	}
	fclose(f);
	return v;
}

/* Kernel drop counters of UDP sockets on 127.0.0.1, by local port. */
#define MAX_WATCH (MAX_RX + 2)
static int srv_ports[4], nsrv_ports, rcv_ports[MAX_WATCH], nrcv_ports;

static void udp_drops(uint64_t *srv, uint64_t *rcv)
{
	*srv = *rcv = 0;
	FILE *f = fopen("/proc/net/udp", "r");
	if (!f)
		return;
	char line[512];
	if (!fgets(line, sizeof line, f)) {
		fclose(f);
		return;
	}
	while (fgets(line, sizeof line, f)) {
		unsigned lport;
		char *col = strchr(line, ':');
		if (!col || sscanf(col + 1, " %*x:%x", &lport) != 1)
			continue;
		/* the drops counter is the last field */
		char *end = line + strlen(line);
		while (end > line && (end[-1] == '\n' || end[-1] == ' '))
			end--;
		char *last = end;
		while (last > line && last[-1] != ' ')
			last--;
		uint64_t d = strtoull(last, NULL, 10);
		for (int i = 0; i < nsrv_ports; i++)
			if ((int)lport == srv_ports[i])
				*srv += d;
		for (int i = 0; i < nrcv_ports; i++)
			if ((int)lport == rcv_ports[i])
				*rcv += d;
	}
	fclose(f);
}

static int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	return ntohs(a.sin_port);
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET &&
	       (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
}

static void bigbuf(int fd)
{
	int big = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
}

/* A UDP socket on 127.0.0.1:0, connected to PORT when PORT > 0. */
static int udp_socket(int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	struct sockaddr_in a = loopback(0);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("bind: %s", strerror(errno));
	bigbuf(fd);
	if (port > 0) {
		a = loopback(port);
		if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
			die("connect udp: %s", strerror(errno));
	}
	return fd;
}

/* Wait up to MS for a datagram on FD. Returns its length, 0 on timeout. */
static ssize_t udp_wait(int fd, uint8_t *buf, size_t cap, int ms, struct sockaddr_storage *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, ms) <= 0)
		return 0;
	socklen_t fl = sizeof *from;
	ssize_t n = recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)from, &fl);
	return n < 0 ? 0 : n;
}

/* ---- the RV protocol over TCP (setup only) ---- */

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = loopback(port);
	struct timeval tv = { 5, 0 };
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("cannot connect to rvserver: %s", strerror(errno));
	if (write(fd, "RVP1", 4) != 4)
		die("write: %s", strerror(errno));
	return fd;
}

static void send_frame(int fd, cJSON *h)
{
	char *s = cJSON_PrintUnformatted(h);
	size_t n = strlen(s);
	uint8_t *b = malloc(8 + n);
	put32(b, (uint32_t)n);
	put32(b + 4, 0);
	memcpy(b + 8, s, n);
	if (write(fd, b, 8 + n) != (ssize_t)(8 + n))
		die("write frame: %s", strerror(errno));
	free(b);
	free(s);
	cJSON_Delete(h);
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The next frame's header whose type is one of TYPES (space separated); others are skipped.
 * The caller frees it. Gives up after 5 s. */
static cJSON *read_frame(int fd, const char *types)
{
	double end = mono() + 5;
	while (mono() < end) {
		uint8_t pre[8];
		if (read_full(fd, pre, 8) < 0)
			die("rvserver closed the connection or timed out (%s)", types);
		uint32_t hl = get32(pre), bl = get32(pre + 4);
		if (hl > 65536 || bl > (16u << 20))
			die("bad frame from rvserver (%s)", types);
		uint8_t *b = malloc(hl + bl + 1);
		if (read_full(fd, b, hl + bl) < 0)
			die("rvserver closed the connection (%s)", types);
		b[hl] = 0;
		cJSON *h = cJSON_Parse((char *)b);
		free(b);
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "type"));
		if (t && !strcmp(t, "error")) {
			char *s = cJSON_PrintUnformatted(h);
			die("rvserver: %s", s);
		}
		if (t) {
			char want[64];
			snprintf(want, sizeof want, " %s ", types);
			char tt[40];
			snprintf(tt, sizeof tt, " %s ", t);
			if (strstr(want, tt))
				return h;
		}
		cJSON_Delete(h);
	}
	die("no %s from rvserver within 5 s", types);
	return NULL;
}

static cJSON *obj(const char *type)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", type);
	return h;
}

/* Register UDP socket FD (connected to the server's UDP port) with the credentials in UDP. */
static void rv_register(int fd, cJSON *udp)
{
	const char *user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(udp, "user"));
	const char *pass = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(udp, "pass"));
	if (!user || !pass)
		die("%s", "rvserver's ok has no udp user/pass");
	for (int tries = 0; tries < 15; tries++) {
		struct rv_stun_builder b;
		rv_stun_begin(&b, RV_STUN_BINDING, RV_STUN_REQUEST, NULL);
		uint8_t tid[12];
		memcpy(tid, rv_stun_tid(&b), 12);
		rv_stun_add_str(&b, RV_STUN_A_USERNAME, user);
		rv_stun_add_integrity(&b, (const uint8_t *)pass, strlen(pass));
		rv_stun_add_fingerprint(&b);
		const uint8_t *m;
		size_t len;
		if (rv_stun_end(&b, &m, &len) < 0 || send(fd, m, len, 0) < 0)
			die("%s", "cannot send the STUN Binding request");
		double end = mono() + 0.2;
		while (mono() < end) {
			uint8_t buf[PKT_MAX];
			struct sockaddr_storage from;
			ssize_t n = udp_wait(fd, buf, sizeof buf, 50, &from);
			struct rv_stun_msg sm;
			if (n > 0 && rv_stun_is(buf, (size_t)n) && rv_stun_parse(buf, (size_t)n, &sm) == 0 &&
			    !memcmp(sm.tid, tid, 12)) {
				if (sm.cls == RV_STUN_SUCCESS)
					return;
				die("%s", "rvserver refused the UDP registration");
			}
		}
	}
	die("%s", "no answer to the STUN Binding request within 3 s");
}

/* ---- TURN (setup only) ---- */

static struct {
	char realm[128], nonce[256];
	uint8_t key[16];
	struct sockaddr_storage relay;
} turn;

static int turn_request(int fd, uint16_t method, const struct sockaddr *peer, int auth, struct rv_stun_msg *out,
			uint8_t *buf)
{
	for (int tries = 0; tries < 10; tries++) {
		struct rv_stun_builder b;
		rv_stun_begin(&b, method, RV_STUN_REQUEST, NULL);
		uint8_t tid[12];
		memcpy(tid, rv_stun_tid(&b), 12);
		if (method == RV_STUN_ALLOCATE)
			rv_stun_add_u32(&b, RV_STUN_A_REQUESTED_TRANSPORT, 17u << 24);
		if (method == RV_STUN_CHANNEL_BIND) {
			rv_stun_add_u32(&b, RV_STUN_A_CHANNEL_NUMBER, 0x4000u << 16);
			rv_stun_add_xor_addr(&b, RV_STUN_A_XOR_PEER_ADDRESS, peer);
		}
		if (auth) {
			rv_stun_add_str(&b, RV_STUN_A_USERNAME, opt.user);
			rv_stun_add_str(&b, RV_STUN_A_REALM, turn.realm);
			rv_stun_add_str(&b, RV_STUN_A_NONCE, turn.nonce);
			rv_stun_add_integrity(&b, turn.key, sizeof turn.key);
		}
		rv_stun_add_fingerprint(&b);
		const uint8_t *m;
		size_t len;
		if (rv_stun_end(&b, &m, &len) < 0 || send(fd, m, len, 0) < 0)
			die("%s", "cannot send a TURN request");
		double end = mono() + 0.3;
		while (mono() < end) {
			struct sockaddr_storage from;
			ssize_t n = udp_wait(fd, buf, PKT_MAX, 50, &from);
			if (n > 0 && rv_stun_is(buf, (size_t)n) && rv_stun_parse(buf, (size_t)n, out) == 0 &&
			    !memcmp(out->tid, tid, 12))
				return out->cls;
		}
	}
	die("%s", "no answer from the TURN server within 3 s");
	return -1;
}

static void turn_setup(int cfd, int pfd)
{
	const char *pass = getenv("MRELAY_TURN_PASSWORD");
	if (!pass)
		die("%s", "set MRELAY_TURN_PASSWORD");
	uint8_t buf[PKT_MAX];
	struct rv_stun_msg m;
	char reason[128];
	int cls = turn_request(cfd, RV_STUN_ALLOCATE, NULL, 0, &m, buf);
	if (cls == RV_STUN_ERROR && rv_stun_error_code(&m, reason, sizeof reason) == 401) {
		const struct rv_stun_attr *r = rv_stun_get(&m, RV_STUN_A_REALM), *n = rv_stun_get(&m, RV_STUN_A_NONCE);
		if (!r || !n || r->len >= sizeof turn.realm || n->len >= sizeof turn.nonce)
			die("%s", "401 without REALM/NONCE");
		memcpy(turn.realm, r->val, r->len);
		turn.realm[r->len] = 0;
		memcpy(turn.nonce, n->val, n->len);
		turn.nonce[n->len] = 0;
		rv_stun_long_term_key(opt.user, turn.realm, pass, turn.key);
		cls = turn_request(cfd, RV_STUN_ALLOCATE, NULL, 1, &m, buf);
	}
	if (cls != RV_STUN_SUCCESS) {
		int code = rv_stun_error_code(&m, reason, sizeof reason);
		snprintf((char *)buf, 200, "Allocate failed: %d %s", code, reason);
		die("%s", (char *)buf);
	}
	const struct rv_stun_attr *ra = rv_stun_get(&m, RV_STUN_A_XOR_RELAYED_ADDRESS);
	if (!ra || rv_stun_addr(&m, ra, &turn.relay) < 0 || !is_loopback(&turn.relay))
		die("%s", "no loopback XOR-RELAYED-ADDRESS in the Allocate answer");
	struct sockaddr_in peer = loopback(local_port(pfd));
	cls = turn_request(cfd, RV_STUN_CHANNEL_BIND, (struct sockaddr *)&peer, 1, &m, buf);
	if (cls != RV_STUN_SUCCESS) {
		int code = rv_stun_error_code(&m, reason, sizeof reason);
		snprintf((char *)buf, 200, "ChannelBind failed: %d %s", code, reason);
		die("%s", (char *)buf);
	}
}

/* ---- the load ---- */

static int tx_fd;                         /* the sender's socket (connected, except direct) */
static struct sockaddr_in tx_to[MAX_RX];  /* direct: every receiver */
static int rx_fd[MAX_RX], nrx, rx_off;    /* receivers; where the RTP packet starts in what they read */
static int tcp_fds[MAX_RX + 1], ntcp;     /* rv: control connections, read and discarded */
static int chdata;                        /* turn up: the sender adds the ChannelData header */
static uint32_t ssrc = 0x5eed0001;
static uint16_t rtp_seq;

static uint32_t hist_k[HIST_US + 1], hist_a[HIST_US + 1];
static uint32_t hist_late[HIST_US + 1];   /* latency trials: how late each send was against its schedule */

/* --lat-trace: per millisecond of send time, what its packets saw */
#define TRACE_MS 60000
struct tslot {
	uint32_t n, over, max_us, late_max_us;
};
static struct tslot *tr;                  /* TRACE_MS of them, when tracing */
static uint64_t tr_t0;                    /* the trial's start, CLOCK_REALTIME ns */
static const char *lat_trace;

struct result {
	double rate, dur, wall, achieved;
	uint64_t sent, expected, recv, stale, bad;
	double loss, srv_cpu, gen_cpu, cpu_busy, srv_steal, gen_steal, srv_wait, gen_wait;
	long long srv_squeeze, gen_squeeze;
	uint64_t srv_drops, rcv_drops;
	int driver_limited, ok;
	double p50, p99, p999, pmax, a50, a99, late99, latemax;
	uint64_t nlat, nlate;
};

static void fill(uint8_t *p, uint32_t trial, uint64_t seq, uint64_t t)
{
	uint8_t *r = p + (chdata ? 4 : 0);
	if (chdata) {
		p[0] = 0x40;
		p[1] = 0x00;
		p[2] = (uint8_t)(opt.size >> 8);
		p[3] = (uint8_t)opt.size;
	}
	r[0] = 0x80;
	r[1] = 96;
	r[2] = (uint8_t)(rtp_seq >> 8);
	r[3] = (uint8_t)rtp_seq;
	rtp_seq++;
	put32(r + 4, (uint32_t)(seq * 3000));
	put32(r + 8, ssrc);
	put32(r + 12, MAGIC);
	put32(r + 16, trial);
	put64(r + 20, seq);
	put64(r + 28, t);
}

static uint64_t percentile(const uint32_t *h, uint64_t n, double q)
{
	uint64_t want = (uint64_t)((double)n * q), acc = 0;
	if (want >= n)
		want = n - 1;
	for (int i = 0; i <= HIST_US; i++) {
		acc += h[i];
		if (acc > want)
			return (uint64_t)i;
	}
	return HIST_US;
}

static void drain_tcp(void)
{
	uint8_t junk[65536];
	for (int i = 0; i < ntcp; i++)
		while (recv(tcp_fds[i], junk, sizeof junk, MSG_DONTWAIT) > 0)
			;
}

/* Read whatever the receivers have. */
static struct mmsghdr rmsg[BATCH];
static struct iovec riov[BATCH];
static uint8_t rbuf[BATCH][PKT_MAX];
static char rctl[BATCH][64];

/* Read the receivers, from where the last call stopped, until every one is
 * empty (returns 1) or, when UNTIL > 0, until mono() passes UNTIL after a
 * receiver (returns 0: the rest wait for the next call). */
static int rx_next;

static int receive_some(struct result *r, uint32_t trial, int lat, uint64_t lat_from_ns, double until)
{
	for (; rx_next < nrx; rx_next++) {
		int i = rx_next;
		if (until > 0 && i > 0 && mono() >= until)
			return 0;
		for (;;) {
			for (int k = 0; k < BATCH; k++) {
				riov[k].iov_base = rbuf[k];
				riov[k].iov_len = PKT_MAX;
				memset(&rmsg[k].msg_hdr, 0, sizeof rmsg[k].msg_hdr);
				rmsg[k].msg_hdr.msg_iov = &riov[k];
				rmsg[k].msg_hdr.msg_iovlen = 1;
				if (lat) {
					rmsg[k].msg_hdr.msg_control = rctl[k];
					rmsg[k].msg_hdr.msg_controllen = sizeof rctl[k];
				}
			}
			int n = recvmmsg(rx_fd[i], rmsg, BATCH, MSG_DONTWAIT, NULL);
			if (n <= 0)
				break;
			uint64_t now = lat ? real_ns() : 0;
			for (int k = 0; k < n; k++) {
				const uint8_t *p = rbuf[k] + rx_off;
				if (rmsg[k].msg_len < (unsigned)rx_off + 36 || get32(p + 12) != MAGIC) {
					r->bad++;
					continue;
				}
				if (get32(p + 16) != trial) {
					r->stale++;
					continue;
				}
				r->recv++;
				if (!lat)
					continue;
				uint64_t sent = get64(p + 28);
				if (sent < lat_from_ns)
					continue;
				uint64_t kts = 0;
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&rmsg[k].msg_hdr); c;
				     c = CMSG_NXTHDR(&rmsg[k].msg_hdr, c))
					if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
						struct timespec ts;
						memcpy(&ts, CMSG_DATA(c), sizeof ts);
						kts = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
					}
				uint64_t dk = kts > sent ? (kts - sent) / 1000 : 0;
				uint64_t da = now > sent ? (now - sent) / 1000 : 0;
				hist_k[dk < HIST_US ? dk : HIST_US]++;
				hist_a[da < HIST_US ? da : HIST_US]++;
				r->nlat++;
				uint64_t ms = (sent - tr_t0) / 1000000u;
				if (tr && ms < TRACE_MS) {
					struct tslot *t = &tr[ms];
					t->n++;
					t->over += dk >= 1000;
					if (dk > t->max_us)
						t->max_us = (uint32_t)dk;
				}
			}
			if (n < BATCH)
				break;
		}
	}
	rx_next = 0;
	return 1;
}

static void receive_all(struct result *r, uint32_t trial, int lat, uint64_t lat_from_ns)
{
	rx_next = 0;
	receive_some(r, trial, lat, lat_from_ns, 0);
}

static uint8_t sbuf[BATCH][PKT_MAX];
static struct rv_udpq txq;	/* the sender's queue: lib/udpq, as rvserver and rvsend send */

/* Queue packet K (already filled) once, or to every receiver (direct). */
static void queue_packet(int k, size_t len)
{
	if (opt.target != T_DIRECT) {
		rv_udpq_add(&txq, NULL, NULL, 0, sbuf[k], len);
		return;
	}
	for (int j = 0; j < nrx; j++)
		rv_udpq_add(&txq, &tx_to[j], (const struct sockaddr *)&tx_to[j], sizeof tx_to[j], sbuf[k], len);
}

/* Send COUNT packets (throughput mode) through the queue, one flush: with
 * --gso the queue joins each run into GSO sends (txq.gso), without it every
 * packet is its own datagram. Returns how many packets went out (a packet
 * counts when its datagram to every receiver went out). */
static int send_batch(int count, uint32_t trial, uint64_t *seq)
{
	if (count > BATCH)
		count = BATCH;
	int per = opt.target == T_DIRECT ? nrx : 1;
	size_t len = (size_t)opt.size + (chdata ? 4 : 0);
	uint64_t t = real_ns();
	for (int k = 0; k < count; k++) {
		fill(sbuf[k], trial, *seq + (uint64_t)k, t);
		queue_packet(k, len);
	}
	int pk = (int)(rv_udpq_flush(&txq, tx_fd) / (size_t)per);
	*seq += (uint64_t)pk;
	return pk;
}

/* A latency trial's send at NOW (CLOCK_REALTIME) of a packet due at DUE_NS. */
static void note_late(uint64_t now, uint64_t due_ns)
{
	uint64_t late = now > due_ns ? (now - due_ns) / 1000 : 0;
	hist_late[late < HIST_US ? late : HIST_US]++;
	uint64_t ms = (now - tr_t0) / 1000000u;
	if (tr && ms < TRACE_MS && late > tr[ms].late_max_us)
		tr[ms].late_max_us = (uint32_t)late;
}

/* One packet, its own time stamp (latency mode); DUE_NS is when it was
 * due (CLOCK_REALTIME), for the count of late sends. */
static int send_one(uint32_t trial, uint64_t seq, uint64_t due_ns)
{
	size_t len = (size_t)opt.size + (chdata ? 4 : 0);
	uint64_t now = real_ns();
	note_late(now, due_ns);
	fill(sbuf[0], trial, seq, now);
	queue_packet(0, len);
	return rv_udpq_flush(&txq, tx_fd) == (size_t)(opt.target == T_DIRECT ? nrx : 1);
}

static uint32_t trial_no;

static void run_trial(double rate, double dur, int lat, struct result *r)
{
	memset(r, 0, sizeof *r);
	uint32_t trial = ++trial_no;
	struct pollfd pf[MAX_RX];
	for (int i = 0; i < nrx; i++)
		pf[i] = (struct pollfd){ .fd = rx_fd[i], .events = POLLIN };
	if (lat) {
		memset(hist_k, 0, sizeof hist_k);
		memset(hist_a, 0, sizeof hist_a);
		memset(hist_late, 0, sizeof hist_late);
		if (tr)
			memset(tr, 0, TRACE_MS * sizeof *tr);
	}
	/* leftovers of the previous trial */
	struct result junk;
	memset(&junk, 0, sizeof junk);
	receive_all(&junk, 0, 0, 0);
	drain_tcp();

	uint64_t sd0, rd0, sd1, rd1;
	udp_drops(&sd0, &rd0);
	double c0 = bench_proc_cpu(opt.pid), g0 = bench_self_cpu(), b0, s0, gb0, gs0;
	double w0 = opt.pid > 0 ? run_delay(opt.pid) : -1, gw0 = run_delay(0);
	int gcpu = sched_getcpu();	/* pinned: the generator's CPU */
	cpu_times(opt.srv_cpu, &b0, &s0);
	cpu_times(gcpu, &gb0, &gs0);
	long long q0 = softnet_squeeze(opt.srv_cpu), gq0 = softnet_squeeze(gcpu);
	uint64_t seq = 0;
	uint64_t lat_from = real_ns() + (uint64_t)(LAT_WARMUP_S * 1e9);
	double t0 = mono(), last_tcp = t0, last_rx = t0, el;
	tr_t0 = real_ns();
	for (;;) {
		double now = mono();
		el = now - t0;
		if (el >= dur)
			break;
		uint64_t due = (uint64_t)(rate * el) + 1;
		if (due > seq) {
			if (lat && !opt.gso) {
				int n = 0;
				while (seq < due && n++ < 64 &&
				       send_one(trial, seq, tr_t0 + (uint64_t)((double)seq / rate * 1e9)))
					seq++;
			} else {
				int want = (int)(due - seq < BATCH ? due - seq : BATCH);
				if (lat)
					note_late(real_ns(), tr_t0 + (uint64_t)((double)seq / rate * 1e9));
				send_batch(want, trial, &seq);
			}
		}
		if (!lat) {
			receive_all(r, trial, lat, lat_from);
		} else if (now - last_rx >= LAT_READ_S || rx_next) {
			/* sends first: a pass over the receivers stops when the next packet is due */
			if (receive_some(r, trial, lat, lat_from, t0 + (double)seq / rate))
				last_rx = now;
		}
		if (now - last_tcp > 0.1) {
			drain_tcp();
			last_tcp = now;
		}
		el = mono() - t0;
		double next = (double)seq / rate - el;	/* the next packet is due then */
		if (lat && !rx_next && last_rx + LAT_READ_S - t0 - el < next)
			next = last_rx + LAT_READ_S - t0 - el;	/* or the next read */
		if (next <= 0)
			continue;
		if ((!lat || opt.gso) && next < 100e-6)
			next = 100e-6;	/* throughput and bursts: 100 us ticks, batched */
		if (el + next > dur)
			next = dur - el;
		if (next <= 0)
			continue;
		struct timespec ts = { 0, (long)(next * 1e9) };
		/* latency trials sleep to the next send or read; throughput ones wake for data too */
		ppoll(pf, lat ? 0 : (nfds_t)nrx, &ts, NULL);
	}
	double send_end = mono();
	r->dur = send_end - t0;
	r->sent = seq;
	/* drain */
	double dend = send_end + DRAIN_S;
	for (;;) {
		double left = dend - mono();
		if (left <= 0)
			break;
		struct timespec ts = { 0, (long)(left * 1e9) };
		ppoll(pf, (nfds_t)nrx, &ts, NULL);
		receive_all(r, trial, lat, lat_from);
	}
	receive_all(r, trial, lat, lat_from);
	r->wall = mono() - t0;
	double c1 = bench_proc_cpu(opt.pid), g1 = bench_self_cpu(), b1, s1, gb1, gs1;
	double w1 = opt.pid > 0 ? run_delay(opt.pid) : -1, gw1 = run_delay(0);
	r->srv_wait = w0 >= 0 && w1 >= 0 ? w1 - w0 : -1;
	r->gen_wait = gw0 >= 0 && gw1 >= 0 ? gw1 - gw0 : -1;
	cpu_times(opt.srv_cpu, &b1, &s1);
	cpu_times(gcpu, &gb1, &gs1);
	r->srv_steal = s0 >= 0 && s1 >= 0 ? s1 - s0 : -1;
	long long q1 = softnet_squeeze(opt.srv_cpu), gq1 = softnet_squeeze(gcpu);
	r->srv_squeeze = q0 >= 0 && q1 >= 0 ? q1 - q0 : -1;
	r->gen_squeeze = gcpu != opt.srv_cpu && gq0 >= 0 && gq1 >= 0 ? gq1 - gq0 : -1;
	r->gen_steal = gcpu != opt.srv_cpu && gs0 >= 0 && gs1 >= 0 ? gs1 - gs0 : -1;
	udp_drops(&sd1, &rd1);
	r->rate = rate;
	r->achieved = (double)r->sent / r->dur;
	r->expected = r->sent * (uint64_t)nrx;
	r->loss = r->expected ? 100.0 * (double)(r->expected - (r->recv < r->expected ? r->recv : r->expected)) /
					(double)r->expected
			      : 100;
	r->srv_cpu = c0 >= 0 && c1 >= 0 ? c1 - c0 : -1;
	r->gen_cpu = g1 - g0;
	r->cpu_busy = b0 >= 0 && b1 >= 0 ? b1 - b0 : -1;
	r->srv_drops = sd1 - sd0;
	r->rcv_drops = rd1 - rd0;
	r->driver_limited = r->achieved < 0.99 * rate;
	r->ok = !r->driver_limited && r->loss <= opt.loss;
	if (lat && r->nlat) {
		r->p50 = (double)percentile(hist_k, r->nlat, 0.50);
		r->p99 = (double)percentile(hist_k, r->nlat, 0.99);
		r->p999 = (double)percentile(hist_k, r->nlat, 0.999);
		r->pmax = (double)percentile(hist_k, r->nlat, 1.0);
		r->a50 = (double)percentile(hist_a, r->nlat, 0.50);
		r->a99 = (double)percentile(hist_a, r->nlat, 0.99);
		for (int i = 0; i <= HIST_US; i++)
			r->nlate += hist_late[i];
		if (r->nlate) {
			r->late99 = (double)percentile(hist_late, r->nlate, 0.99);
			r->latemax = (double)percentile(hist_late, r->nlate, 1.0);
		}
	}
}

/* --lat-trace FILE: one line per millisecond of the latency trial (by send
 * time): its samples, those of 1 ms or more, the largest, and how late its
 * latest send was against the schedule. Times are also given on CLOCK_MONOTONIC for matching with a
 * kernel trace (trace_clock mono). */
static void write_trace(double rate)
{
	FILE *f = fopen(lat_trace, "w");
	if (!f) {
		printf("ERROR --lat-trace %s: %s\n", lat_trace, strerror(errno));
		return;
	}
	struct timespec m, rt;
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &rt);
	int64_t off = ((int64_t)rt.tv_sec - m.tv_sec) * 1000000000 + (rt.tv_nsec - m.tv_nsec);
	fprintf(f, "# rate=%.0f receivers=%d; ms: from the trial's start; mono_s: that ms on CLOCK_MONOTONIC\n", rate, nrx);
	fprintf(f, "# ms mono_s samples over_1ms max_us gen_late_max_us\n");
	for (int i = 0; i < TRACE_MS; i++)
		if (tr[i].n || tr[i].late_max_us)
			fprintf(f, "%d %.6f %u %u %u %u\n", i, (double)((int64_t)tr_t0 + (int64_t)i * 1000000 - off) / 1e9,
				tr[i].n, tr[i].over, tr[i].max_us, tr[i].late_max_us);
	fclose(f);
}

static const char *tname(void)
{
	return opt.target == T_RV ? "rv" : opt.target == T_TURN ? (opt.down ? "turn-down" : "turn-up") : "direct";
}

static void print_trial(const char *kind, const struct result *r)
{
	printf("TRIAL kind=%s target=%s receivers=%d size=%d rate=%.0f dur=%.3f sent=%" PRIu64
	       " achieved=%.0f expected=%" PRIu64 " delivered=%" PRIu64 " loss_pct=%.4f fwd_pps=%.0f"
	       " srv_cpu_pct=%.1f gen_cpu_pct=%.1f srv_sock_drops=%" PRIu64 " rcv_sock_drops=%" PRIu64
	       " stale=%" PRIu64 " bad=%" PRIu64 " srv_cpu_busy_pct=%.1f driver_limited=%d ok=%d\n",
	       kind, tname(), nrx, opt.size, r->rate, r->dur, r->sent, r->achieved, r->expected, r->recv, r->loss,
	       (double)r->recv / r->dur, r->srv_cpu >= 0 ? 100 * r->srv_cpu / r->wall : -1,
	       100 * r->gen_cpu / r->wall, r->srv_drops, r->rcv_drops, r->stale, r->bad,
	       r->cpu_busy >= 0 ? 100 * r->cpu_busy / r->wall : -1, r->driver_limited, r->ok);
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mrelay --target rv|turn|direct [--port P] [--receivers N] [--size B] [--pid PID]\n"
		"              [--group G] [--user U (turn; password in env MRELAY_TURN_PASSWORD)] [--dir up|down]\n"
		"              [--search [--start R] [--max-rate R] [--trial S] [--confirm S] [--loss PCT] [--res F]]\n"
		"              [--rate R] [--lat-rate R | --lat-half] [--lat-duration S] [--lat-trace FILE]\n"
		"              [--overload R]\n"
		"              [--srv-cpu N (the CPU the server is pinned to)] [--gso] [--max-time S] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
		if (ARG("--target")) {
			opt.target = !strcmp(v, "rv") ? T_RV : !strcmp(v, "turn") ? T_TURN : !strcmp(v, "direct") ? T_DIRECT : (usage(), T_RV);
		} else if (ARG("--port")) {
			opt.port = atoi(v);
		} else if (ARG("--receivers")) {
			opt.receivers = atoi(v);
		} else if (ARG("--size")) {
			opt.size = atoi(v);
		} else if (ARG("--pid")) {
			opt.pid = atoi(v);
		} else if (ARG("--group")) {
			opt.group = v;
		} else if (ARG("--user")) {
			opt.user = v;
		} else if (ARG("--dir")) {
			opt.down = !strcmp(v, "down");
		} else if (!strcmp(a, "--search")) {
			opt.search = 1;
		} else if (ARG("--rate")) {
			opt.rate = atof(v);
		} else if (ARG("--start")) {
			opt.start = atof(v);
			opt.start_given = 1;
		} else if (ARG("--max-rate")) {
			opt.max_rate = atof(v);
		} else if (ARG("--trial")) {
			opt.trial = atof(v);
		} else if (ARG("--confirm")) {
			opt.confirm = atof(v);
		} else if (ARG("--loss")) {
			opt.loss = atof(v);
		} else if (ARG("--res")) {
			opt.res = atof(v);
		} else if (ARG("--lat-rate")) {
			opt.lat_rate = atof(v);
		} else if (!strcmp(a, "--lat-half")) {
			opt.lat_half = 1;
		} else if (ARG("--lat-trace")) {
			lat_trace = v;
		} else if (ARG("--lat-duration")) {
			opt.lat_dur = atof(v);
		} else if (ARG("--max-time")) {
			opt.max_time = atoi(v);
		} else if (ARG("--srv-cpu")) {
			opt.srv_cpu = atoi(v);
		} else if (ARG("--overload")) {
			opt.overload = atof(v);
		} else if (!strcmp(a, "--gso")) {
			opt.gso = 1;
		} else if (!strcmp(a, "-v")) {
			opt.verbose++;
		} else {
			usage();
		}
	}
	if (opt.size < 48 || opt.size > 1400 || opt.receivers < 1 || opt.receivers > MAX_RX ||
	    (opt.target != T_DIRECT && (opt.port <= 0 || opt.port > 65535)) ||
	    (opt.target == T_TURN && opt.receivers != 1) || (!opt.search && opt.rate <= 0 && opt.lat_rate <= 0 && opt.overload <= 0) ||
	    (opt.lat_half && !opt.search))
		usage();
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)opt.max_time);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* ---- setup ---- */
	nrx = opt.receivers;
	if (opt.target == T_RV) {
		char id[64];
		cJSON *h;
		int udp_port = 0;
		for (int i = 0; i < nrx; i++) {
			int fd = tcp_connect(opt.port);
			tcp_fds[ntcp++] = fd;
			h = obj("hello");
			snprintf(id, sizeof id, "mrelay-r%d-%d", i, (int)getpid());
			cJSON_AddStringToObject(h, "id", id);
			cJSON_AddStringToObject(h, "role", "recv");
			cJSON_AddNumberToObject(h, "version", 1);
			send_frame(fd, h);
			h = read_frame(fd, "welcome");
			udp_port = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "udp"));
			cJSON_Delete(h);
			h = obj("join");
			cJSON_AddNumberToObject(h, "seq", 1);
			cJSON_AddStringToObject(h, "group", opt.group);
			send_frame(fd, h);
			cJSON_Delete(read_frame(fd, "ok"));
			h = obj("watch");
			cJSON_AddNumberToObject(h, "seq", 2);
			send_frame(fd, h);
			h = read_frame(fd, "ok");
			cJSON *udp = cJSON_GetObjectItemCaseSensitive(h, "udp");
			if (!udp)
				die("%s", "rvserver's watch ok has no udp");
			udp_port = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(udp, "port"));
			rx_fd[i] = udp_socket(udp_port);
			rv_register(rx_fd[i], udp);
			cJSON_Delete(h);
		}
		int fd = tcp_connect(opt.port);
		tcp_fds[ntcp++] = fd;
		h = obj("hello");
		snprintf(id, sizeof id, "mrelay-s-%d", (int)getpid());
		cJSON_AddStringToObject(h, "id", id);
		cJSON_AddStringToObject(h, "role", "send");
		cJSON_AddNumberToObject(h, "version", 1);
		send_frame(fd, h);
		cJSON_Delete(read_frame(fd, "welcome"));
		h = obj("stream");
		cJSON_AddNumberToObject(h, "seq", 1);
		cJSON_AddStringToObject(h, "group", opt.group);
		cJSON *media = cJSON_AddArrayToObject(h, "media"), *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "kind", "video");
		cJSON_AddStringToObject(m, "codec", "H264");
		cJSON_AddNumberToObject(m, "ssrc", ssrc);
		cJSON_AddNumberToObject(m, "pt", 96);
		cJSON_AddNumberToObject(m, "clock", 90000);
		cJSON_AddItemToArray(media, m);
		send_frame(fd, h);
		h = read_frame(fd, "ok");
		int got = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "receivers"));
		cJSON *udp = cJSON_GetObjectItemCaseSensitive(h, "udp");
		if (got != nrx || !udp) {
			char msg[64];
			snprintf(msg, sizeof msg, "%d receivers, want %d", got, nrx);
			die("rvserver's stream ok: %s", msg);
		}
		udp_port = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(udp, "port"));
		tx_fd = udp_socket(udp_port);
		rv_register(tx_fd, udp);
		cJSON_Delete(h);
		srv_ports[nsrv_ports++] = udp_port;
		rx_off = 0;
	} else if (opt.target == T_TURN) {
		int cfd = udp_socket(opt.port), pfd = udp_socket(0);
		turn_setup(cfd, pfd);
		struct sockaddr_in *ra = (struct sockaddr_in *)&turn.relay;
		srv_ports[nsrv_ports++] = opt.port;
		srv_ports[nsrv_ports++] = ntohs(ra->sin_port);
		if (opt.down) {	/* peer -> relay address -> ChannelData -> client */
			if (connect(pfd, (struct sockaddr *)ra, sizeof *ra) < 0)
				die("connect to the relay address: %s", strerror(errno));
			tx_fd = pfd;
			rx_fd[0] = cfd;
			rx_off = 4;
		} else {	/* client -> ChannelData -> relay address -> peer */
			tx_fd = cfd;
			rx_fd[0] = pfd;
			chdata = 1;
			rx_off = 0;
		}
		printf("INFO turn relay=127.0.0.1:%d realm=%s\n", ntohs(ra->sin_port), turn.realm);
	} else {
		tx_fd = udp_socket(0);
		for (int i = 0; i < nrx; i++) {
			rx_fd[i] = udp_socket(0);
			tx_to[i] = loopback(local_port(rx_fd[i]));
		}
	}
	for (int i = 0; i < nrx; i++) {
		int on = 1;
		setsockopt(rx_fd[i], SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
		if (nrcv_ports < MAX_WATCH)
			rcv_ports[nrcv_ports++] = local_port(rx_fd[i]);
	}
	if (opt.target == T_TURN)	/* the server's socket toward the client/peer, too */
		rcv_ports[nrcv_ports++] = local_port(tx_fd);
	if (rv_udpq_init(&txq, (size_t)BATCH * MAX_RX) < 0)
		die("%s", "out of memory");
	txq.gso = opt.gso;	/* without --gso: datagram by datagram */
	if (lat_trace && !(tr = calloc(TRACE_MS, sizeof *tr)))
		die("%s", "out of memory");
	printf("INFO setup target=%s receivers=%d size=%d pid=%d gso=%d\n", tname(), nrx, opt.size, opt.pid, opt.gso);

	if (!opt.start_given && opt.start * nrx > 200000)
		opt.start = 200000.0 / nrx;	/* 1->N: start near 200,000 deliveries/s */
	/* warm-up: routes, caches, the relay's first-packet work */
	struct result r;
	run_trial(opt.start < 5000 ? opt.start : 5000, 0.3, 0, &r);
	if (r.recv == 0)
		die("%s", "nothing came through the relay in the warm-up");

	int failed = 0;
	double best = 0;
	if (opt.search) {
		double lo = 0, hi = 0, rate = opt.start;
		int limited = 0;
		for (int steps = 0; steps < 30; steps++) {
			run_trial(rate, opt.trial, 0, &r);
			print_trial("search", &r);
			if (r.driver_limited && r.loss <= opt.loss) {
				limited = 1;
				if (r.achieved > lo)
					lo = r.achieved;
				break;
			}
			/* driver limited with loss: the receivers could not keep up
			 * either (1->100 reads 100 sockets); lower, as for any loss */
			if (r.ok) {
				lo = rate;
				if (!hi) {
					if (rate * 2 > opt.max_rate) {
						break;
					}
					rate *= 2;
					continue;
				}
			} else {
				hi = rate;
				if (!lo) {
					rate /= 2;
					if (rate < 100)
						break;
					continue;
				}
			}
			if ((hi - lo) / lo <= opt.res)
				break;
			rate = (lo + hi) / 2;
		}
		if (lo <= 0) {
			printf("ERROR no rate with loss <= %.2f %%\n", opt.loss);
			failed = 1;
		} else {
			double rate2 = lo;
			int good = 0;
			/* 7.5 % steps down, then faster ones: the load around the relay may have changed */
			for (int k = 0; k < 12 && rate2 >= 100; k++) {
				run_trial(rate2, opt.confirm, 0, &r);
				print_trial("confirm", &r);
				if (r.ok || (limited && r.loss <= opt.loss)) {
					good = 1;
					break;
				}
				rate2 *= k < 6 ? 0.925 : 0.7;
			}
			if (!good) {
				printf("ERROR no confirmed rate with loss <= %.2f %%\n", opt.loss);
				failed = 1;
			} else {
				best = rate2;
				double cpu = r.srv_cpu;
				printf("RESULT target=%s receivers=%d size=%d max_rate=%.0f fwd_pps=%.0f loss_pct=%.4f"
				       " srv_cpu_pct=%.1f pps_per_core=%.0f gen_cpu_pct=%.1f driver_limited=%d\n",
				       tname(), nrx, opt.size, r.achieved, (double)r.recv / r.dur, r.loss,
				       cpu >= 0 ? 100 * cpu / r.wall : -1, cpu > 0 ? (double)r.recv / cpu : -1,
				       100 * r.gen_cpu / r.wall, limited);
			}
		}
	} else if (opt.rate > 0) {
		run_trial(opt.rate, opt.trial, 0, &r);
		print_trial("fixed", &r);
		best = opt.rate;
	}
	double lr = opt.lat_rate > 0 ? opt.lat_rate : opt.lat_half && best > 0 ? best / 2 : 0;
	if (lr > 0) {
		run_trial(lr, opt.lat_dur, 1, &r);
		print_trial("latency", &r);
		if (!r.nlat) {
			printf("ERROR no latency samples\n");
			failed = 1;
		} else {
			printf("LATENCY target=%s receivers=%d rate=%.0f fwd_pps=%.0f samples=%" PRIu64
			       " p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f app_p50_us=%.0f app_p99_us=%.0f"
			       " loss_pct=%.4f srv_cpu_pct=%.1f gen_cpu_pct=%.1f achieved=%.0f driver_limited=%d"
			       " gen_late_p99_us=%.0f gen_late_max_us=%.0f srv_cpu_busy_pct=%.1f srv_cpu_steal_ms=%.0f"
			       " gen_cpu_steal_ms=%.0f srv_wait_ms=%.1f gen_wait_ms=%.1f srv_cpu_squeeze=%lld"
			       " gen_cpu_squeeze=%lld\n",
			       tname(), nrx, lr, (double)r.recv / r.dur, r.nlat, r.p50, r.p99, r.p999, r.pmax, r.a50,
			       r.a99, r.loss, r.srv_cpu >= 0 ? 100 * r.srv_cpu / r.wall : -1, 100 * r.gen_cpu / r.wall,
			       r.achieved, r.driver_limited, r.late99, r.latemax,
			       r.cpu_busy >= 0 ? 100 * r.cpu_busy / r.wall : -1, r.srv_steal >= 0 ? 1000 * r.srv_steal : -1,
			       r.gen_steal >= 0 ? 1000 * r.gen_steal : -1, r.srv_wait >= 0 ? 1000 * r.srv_wait : -1,
			       r.gen_wait >= 0 ? 1000 * r.gen_wait : -1,
			       r.srv_squeeze, r.gen_squeeze);
			if (tr)
				write_trace(lr);
		}
	}
	if (opt.overload > 0) {
		run_trial(opt.overload, opt.trial, 0, &r);
		print_trial("overload", &r);
		printf("OVERLOAD target=%s receivers=%d rate=%.0f achieved=%.0f fwd_pps=%.0f loss_pct=%.4f srv_cpu_pct=%.1f"
		       " pps_per_core=%.0f gen_cpu_pct=%.1f\n",
		       tname(), nrx, opt.overload, r.achieved, (double)r.recv / r.dur, r.loss,
		       r.srv_cpu >= 0 ? 100 * r.srv_cpu / r.wall : -1, r.srv_cpu > 0 ? (double)r.recv / r.srv_cpu : -1,
		       100 * r.gen_cpu / r.wall);
	}
	for (int i = 0; i < ntcp; i++)
		close(tcp_fds[i]);
	return failed;
}
