/* test_mlink_tcp.c - media framed on the RV connection (rv_mlink over
 * rv_session, against a fake server on 127.0.0.1): each packet leaves as
 * one frame with the fixed media head that rv_frame_is_media recognises,
 * the packet as its body; a media frame from the server reaches on_packet.
 * Neither direction builds or parses JSON per packet: cJSON's allocator is
 * counted (cJSON_InitHooks) while packets go each way. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "buf.h"
#include "frame.h"
#include "mlink.h"
#include "session.h"

#define WAIT_TURNS 3000	/* loop turns of ~1 ms: every wait is bounded */

static int cjson_allocs;

static void *counting_malloc(size_t n)
{
	cjson_allocs++;
	return malloc(n);
}

struct peer {
	uv_loop_t loop;
	int lfd, fd;                    /* the fake server: listener, its client */
	struct rv_session *sess;
	struct rv_mlink *link;
	int up, ready, udp;
	uint8_t got[2048];              /* the last packet on_packet had */
	size_t got_len;
	int packets;
	uint8_t in[1 << 16];            /* what the fake server read */
	size_t in_len;
};

static void on_packet(void *ud, const uint8_t *p, size_t n)
{
	struct peer *t = ud;
	assert_true(n <= sizeof t->got);
	memcpy(t->got, p, n);
	t->got_len = n;
	t->packets++;
}

static void on_ready(void *ud, int udp)
{
	struct peer *t = ud;
	t->ready++;
	t->udp = udp;
}

static void on_state(struct rv_session *s, enum rv_session_state st, int err, const char *why, void *ud)
{
	struct peer *t = ud;
	(void)s; (void)err; (void)why;
	t->up = st == RV_SESSION_UP;
}

static void on_frame(struct rv_session *s, const char *type, cJSON *hdr, const uint8_t *body,
		     size_t len, void *ud)
{
	struct peer *t = ud;
	(void)s;
	assert_string_equal(type, "media");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hdr, "type")), "media");
	if (t->link)
		rv_mlink_frame(t->link, body, len);
}

/* One loop turn, then what the fake server can read; 1 when it read some. */
static int pump_once(struct peer *t)
{
	uv_run(&t->loop, UV_RUN_NOWAIT);
	ssize_t n = recv(t->fd, t->in + t->in_len, sizeof t->in - t->in_len, MSG_DONTWAIT);
	if (n > 0) {
		t->in_len += (size_t)n;
		return 1;
	}
	usleep(1000);
	return 0;
}

/* Until the fake server has read WANT bytes, or the turns run out. */
static void pump(struct peer *t, size_t want)
{
	for (int i = 0; i < WAIT_TURNS && t->in_len < want; i++)
		pump_once(t);
}

/* The first whole frame the server read, copied to COPY (V points into
 * it) and consumed; waits for it, within the turns. */
static long take_frame(struct peer *t, struct rv_frame_view *v, uint8_t *copy, size_t cap)
{
	long fl = 0;
	for (int i = 0; i < WAIT_TURNS; i++) {
		fl = rv_frame_decode(t->in, t->in_len, RV_FRAME_DEFAULT_MAX_BODY, v);
		if (fl != 0)
			break;
		pump_once(t);
	}
	assert_true(fl > 0 && (size_t)fl <= cap);
	memcpy(copy, t->in, (size_t)fl);
	memmove(t->in, t->in + fl, t->in_len - (size_t)fl);
	t->in_len -= (size_t)fl;
	assert_int_equal(rv_frame_decode(copy, (size_t)fl, RV_FRAME_DEFAULT_MAX_BODY, v), fl);
	return fl;
}

static void server_write(struct peer *t, const void *p, size_t n)
{
	assert_int_equal(send(t->fd, p, n, 0), (ssize_t)n);
}

/* A session that is up with a fake server, and a link forced onto TCP. */
static void connect_peer(struct peer *t)
{
	memset(t, 0, sizeof *t);
	uv_loop_init(&t->loop);
	t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(t->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(t->lfd, 1), 0);
	socklen_t alen = sizeof a;
	getsockname(t->lfd, (struct sockaddr *)&a, &alen);

	struct rv_session_conf conf = { .host = "127.0.0.1", .port = ntohs(a.sin_port), .id = "tx",
					.role = "send", .connect_timeout = 5 };
	assert_int_equal(rv_session_new(&t->sess, &t->loop, &conf, on_state, on_frame, t), 0);
	rv_session_start(t->sess);
	t->fd = -1;
	for (int i = 0; i < WAIT_TURNS && t->fd < 0; i++) {
		uv_run(&t->loop, UV_RUN_NOWAIT);
		t->fd = accept(t->lfd, NULL, NULL);
		if (t->fd < 0)
			usleep(1000);
	}
	assert_true(t->fd >= 0);

	pump(t, RV_PREFACE_LEN);
	assert_memory_equal(t->in, RV_PREFACE, RV_PREFACE_LEN);
	memmove(t->in, t->in + RV_PREFACE_LEN, t->in_len - RV_PREFACE_LEN);
	t->in_len -= RV_PREFACE_LEN;
	struct rv_frame_view v;
	static uint8_t hello[RV_FRAME_PREFIX + RV_FRAME_MAX_HEADER];
	take_frame(t, &v, hello, sizeof hello);
	assert_false(rv_frame_is_media(&v));

	static const char welcome[] = "{\"type\":\"welcome\"}";
	struct rv_buf b;
	rv_buf_init(&b, 256);
	assert_int_equal(rv_frame_append(&b, welcome, sizeof welcome - 1, NULL, 0), 0);
	server_write(t, rv_buf_head(&b), rv_buf_size(&b));
	rv_buf_free(&b);
	for (int i = 0; i < WAIT_TURNS && !t->up; i++) {
		uv_run(&t->loop, UV_RUN_NOWAIT);
		if (!t->up)
			usleep(1000);
	}
	assert_true(t->up);

	assert_int_equal(rv_mlink_start(&t->link, &t->loop, t->sess, "127.0.0.1", NULL, 1, on_packet,
					on_ready, t), 0);
	assert_int_equal(t->ready, 1);
	assert_int_equal(t->udp, 0);
}

static void close_peer(struct peer *t)
{
	rv_mlink_close(t->link);
	rv_session_close(t->sess);
	close(t->fd);
	close(t->lfd);
	for (int i = 0; i < WAIT_TURNS && uv_run(&t->loop, UV_RUN_NOWAIT); i++)
		usleep(1000);
	assert_int_equal(uv_loop_close(&t->loop), 0);
}

static void packet(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
	p[0] = 0x80;	/* RTP version 2 */
}

/* rv_mlink_send and rv_mlink_sendv: one media frame per packet, the packet
 * unchanged, and no cJSON allocation while sending. */
static void packets_leave_as_media_frames(void **state)
{
	(void)state;
	struct peer t;
	connect_peer(&t);
	uint8_t pk[4][1200];
	size_t len[4] = { 12, 1200, 100, 1 };
	for (int i = 0; i < 4; i++)
		packet(pk[i], len[i], (uint8_t)(i * 31));

	cjson_allocs = 0;
	assert_int_equal(rv_mlink_send(t.link, pk[0], len[0]), 0);
	struct iovec v3[3];
	for (int i = 0; i < 3; i++)
		v3[i] = (struct iovec){ pk[i + 1], len[i + 1] };
	assert_int_equal(rv_mlink_sendv(t.link, v3, 3), 3);
	assert_int_equal(cjson_allocs, 0);

	size_t total = 0;
	for (int i = 0; i < 4; i++)
		total += RV_FRAME_MEDIA_HEAD + len[i];
	pump(&t, total);
	assert_int_equal(t.in_len, total);
	for (int i = 0; i < 4; i++) {
		struct rv_frame_view v;
		uint8_t copy[RV_FRAME_MEDIA_HEAD + 1200];
		assert_int_equal(take_frame(&t, &v, copy, sizeof copy), (long)(RV_FRAME_MEDIA_HEAD + len[i]));
		assert_true(rv_frame_is_media(&v));
		assert_int_equal(v.hdr_len, strlen(RV_FRAME_MEDIA_HDR));
		assert_memory_equal(v.hdr, "{\"type\":\"media\"}", v.hdr_len);	/* rv-protocol(7) */
		assert_int_equal(v.body_len, len[i]);
		assert_memory_equal(v.body, pk[i], len[i]);
	}
	close_peer(&t);
}

/* Media frames from the server reach on_packet whole, recognised without
 * parsing JSON (the session hands on_frame the header object it keeps). */
static void media_frames_arrive_without_json(void **state)
{
	(void)state;
	struct peer t;
	connect_peer(&t);
	uint8_t pk[3][700];
	size_t len[3] = { 700, 20, 333 };
	for (int i = 0; i < 3; i++) {
		packet(pk[i], len[i], (uint8_t)(i + 5));
		uint8_t head[RV_FRAME_MEDIA_HEAD];
		rv_frame_media_head(head, len[i]);
		server_write(&t, head, sizeof head);
		server_write(&t, pk[i], len[i]);
		cjson_allocs = 0;
		for (int k = 0; k < WAIT_TURNS && t.packets < i + 1; k++) {
			uv_run(&t.loop, UV_RUN_NOWAIT);
			if (t.packets < i + 1)
				usleep(1000);
		}
		assert_int_equal(t.packets, i + 1);
		assert_int_equal(cjson_allocs, 0);
		assert_int_equal(t.got_len, len[i]);
		assert_memory_equal(t.got, pk[i], len[i]);
	}
	close_peer(&t);
}

int main(void)
{
	cJSON_Hooks hooks = { counting_malloc, free };
	cJSON_InitHooks(&hooks);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(packets_leave_as_media_frames),
		cmocka_unit_test(media_frames_arrive_without_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
