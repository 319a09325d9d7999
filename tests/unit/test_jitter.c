/* test_jitter.c - rvrecv's jitter buffer: order restored, gaps NACKed at
 * once and again, given up after the hold time, a restarted sender
 * followed whichever way its sequence numbers jumped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../cmd/rvrecv/jitter.c"

struct seen {
	uint16_t out[2048];
	size_t nout;
	uint16_t nacked[2048];
	size_t nnack;
	int gave_up;
};

static void deliver(void *ud, const uint8_t *p, size_t n)
{
	struct seen *s = ud;
	assert_true(n >= RV_RTP_HEADER);
	s->out[s->nout++] = (uint16_t)(p[2] << 8 | p[3]);
}

static void on_nack(void *ud, const uint16_t *seqs, size_t n)
{
	struct seen *s = ud;
	for (size_t i = 0; i < n; i++)
		s->nacked[s->nnack++] = seqs[i];
}

static void on_gave_up(void *ud)
{
	((struct seen *)ud)->gave_up++;
}

static void push(struct jitter *j, uint16_t seq, double now)
{
	uint8_t p[RV_RTP_HEADER + 4] = { 0 };
	struct rv_rtp r = { .pt = 96, .seq = seq, .ts = seq * 3000u, .ssrc = 7 };
	rv_rtp_header(p, &r);
	jitter_push(j, p, sizeof p, now);
}

static struct jitter *make(struct seen *s)
{
	static struct jitter j;
	memset(s, 0, sizeof *s);
	assert_int_equal(jitter_init(&j, 100, deliver, s), 0);
	j.nack = on_nack;
	j.gave_up = on_gave_up;
	return &j;
}

static void reorders_and_repairs(void **state)
{
	(void)state;
	struct seen s;
	struct jitter *j = make(&s);
	push(j, 10, 0);
	push(j, 12, 1);	/* 11 is missing: NACKed at once */
	push(j, 13, 2);
	assert_int_equal(s.nout, 1);
	assert_int_equal(s.nnack, 1);
	assert_int_equal(s.nacked[0], 11);
	jitter_tick(j, 30);	/* a retry after a quarter of the hold time */
	assert_int_equal(s.nnack, 2);
	push(j, 11, 31);	/* the retransmission */
	assert_int_equal(s.nout, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(s.out[i], 10 + i);
	assert_int_equal(j->recovered, 1);
	assert_int_equal(j->lost, 0);
	assert_int_equal(s.gave_up, 0);
	push(j, 12, 40);	/* a duplicate is late, not delivered again */
	assert_int_equal(s.nout, 4);
	assert_int_equal(j->late, 1);
	jitter_free(j);
}

static void gives_up_after_hold(void **state)
{
	(void)state;
	struct seen s;
	struct jitter *j = make(&s);
	push(j, 100, 0);
	push(j, 103, 10);	/* 101 and 102 never come */
	jitter_tick(j, 50);
	assert_int_equal(s.nout, 1);
	jitter_tick(j, 111);
	assert_int_equal(s.nout, 2);
	assert_int_equal(s.out[1], 103);
	assert_int_equal(j->lost, 2);
	assert_int_equal(s.gave_up, 1);
	/* NACKed at once, then at most max_tries times in all */
	size_t asked101 = 0;
	for (size_t i = 0; i < s.nnack; i++)
		asked101 += s.nacked[i] == 101;
	assert_true(asked101 >= 1 && asked101 <= 3);
	jitter_free(j);
}

static void follows_a_restarted_sender(void **state)
{
	(void)state;
	struct seen s;
	struct jitter *j = make(&s);
	for (uint16_t q = 1000; q < 1010; q++)
		push(j, q, q);
	/* a new random start half the number space away: behind, far */
	for (uint16_t q = 41000; q < 41020; q++)
		push(j, q, 2000 + q);
	assert_int_equal(s.nout, 30);
	assert_int_equal(s.out[10], 41000);
	assert_int_equal(s.out[29], 41019);
	/* and ahead, far */
	for (uint16_t q = 50000; q < 50005; q++)
		push(j, q, 50000 + q);
	assert_int_equal(s.nout, 35);
	assert_int_equal(s.out[34], 50004);
	jitter_free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reorders_and_repairs),
		cmocka_unit_test(gives_up_after_hold),
		cmocka_unit_test(follows_a_restarted_sender),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
