/* test_p2pobj.c - replicated objects: the OBJ_* messages (p2pmsg.h), the
 * manifest (p2pman.h) and the engine (p2pobj.h) in a simulated swarm:
 * engines passing their messages in memory on a simulated clock, with a
 * peer that corrupts chunks, one that never answers, and a resume. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "p2pobj.h"

static uint8_t buf[RV_P2P_MSG_MAX];
static struct rv_p2p_msg m;
static const char *why;

/* ---- messages ---- */

static void messages(void **state)
{
	(void)state;
	uint8_t id[32];
	memset(id, 0x5c, 32);
	long n = rv_p2p_msg_obj_get(buf, sizeof buf, id, 70000);
	assert_int_equal(n, 37);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.type, RV_P2P_M_OBJ_GET);
	assert_memory_equal(m.obj, id, 32);
	assert_int_equal(m.offset, 70000);

	n = rv_p2p_msg_obj_man(buf, sizeof buf, id, 100, 90, id, 10);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.total, 100);
	assert_int_equal(m.offset, 90);
	assert_int_equal(m.data_len, 10);
	assert_int_equal(rv_p2p_msg_obj_man(buf, sizeof buf, id, 100, 95, id, 10), RV_EPROTO);
	buf[1 + 32 + 3] = 50;	/* total 50 < offset 90 + 10 */
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);
	assert_string_equal(why, "bad manifest piece");

	struct rv_p2p_range r[2] = { { 0, 3 }, { 10, 1 } };
	n = rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_OBJ_HAVE, id, RV_P2P_OBJ_HAVE_ASK, r, 2);
	assert_int_equal(n, 1 + 32 + 3 + 16);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.flags, RV_P2P_OBJ_HAVE_ASK);
	assert_int_equal(rv_p2p_msg_range(&m, 1).first, 10);
	assert_int_equal(rv_p2p_msg_range(&m, 0).count, 3);
	rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_OBJ_WANT, id, 0, r, 2);
	buf[33] = 1;	/* a WANT with flags */
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), RV_EPROTO);
	r[1].count = 0;
	assert_int_equal(rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_OBJ_HAVE, id, 0, r, 2), RV_EPROTO);
	r[1] = (struct rv_p2p_range){ UINT32_MAX, 1 };	/* past u32 */
	assert_int_equal(rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_OBJ_HAVE, id, 0, r, 2), RV_EPROTO);

	n = rv_p2p_msg_obj_chunk(buf, sizeof buf, id, 7, id, 32);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(m.index, 7);
	assert_int_equal(m.data_len, 32);
	assert_int_equal(rv_p2p_msg_parse(buf, 1 + 32 + 4, &m, &why), RV_EPROTO);	/* an empty chunk */
	assert_int_equal(rv_p2p_msg_obj_chunk(buf, sizeof buf, id, 7, buf, RV_P2P_CHUNK_MAX + 1), RV_ETOOBIG);
}

/* ---- the manifest ---- */

static struct rv_p2p_key sharer;

static void key_of(struct rv_p2p_key *k, uint8_t seed)
{
	uint8_t s[32];
	memset(s, seed, sizeof s);
	assert_int_equal(rv_p2p_key_from_seed(k, s), 0);
}

/* A manifest of DATA (SIZE bytes) in chunks of CS into OUT: its length. */
static size_t make_manifest(const uint8_t *data, uint64_t size, uint32_t cs, uint8_t *out, size_t cap)
{
	uint32_t n = (uint32_t)(size / cs + (size % cs != 0));
	uint8_t *h = malloc(n * 32 + 1);
	for (uint32_t i = 0; i < n; i++)
		rv_p2p_sha256(data + (size_t)i * cs, size - (uint64_t)i * cs < cs ? size - (uint64_t)i * cs : cs,
			      h + i * 32);
	long len = rv_p2p_man_build(&sharer, size, cs, 1234, "file.bin", h, out, cap);
	free(h);
	assert_true(len > 0);
	return (size_t)len;
}

static void manifest(void **state)
{
	(void)state;
	static uint8_t data[10000], man[4096];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 10));
	size_t len = make_manifest(data, sizeof data, 1024, man, sizeof man);
	assert_int_equal(len, rv_p2p_man_len(sizeof data, 1024, 8));
	struct rv_p2p_man pm;
	assert_int_equal(rv_p2p_man_parse(man, len, &pm, &why), 0);
	assert_int_equal(pm.size, sizeof data);
	assert_int_equal(pm.nchunks, 10);
	assert_int_equal(pm.chunk_size, 1024);
	assert_int_equal(rv_p2p_man_chunk_len(&pm, 9), 10000 - 9 * 1024);
	assert_memory_equal(pm.author, sharer.id, 32);
	assert_memory_equal(pm.name, "file.bin", 8);
	uint8_t id[32];
	rv_p2p_sha256(man, len, id);
	assert_memory_equal(pm.id, id, 32);
	assert_int_equal(rv_p2p_man_check(&pm, 3, data + 3 * 1024, 1024), 0);
	assert_int_equal(rv_p2p_man_check(&pm, 4, data + 3 * 1024, 1024), RV_EPROTO);
	assert_int_equal(rv_p2p_man_check(&pm, 9, data + 9 * 1024, 1024), RV_EPROTO);	/* the last is short */
	/* a changed hash breaks the signature; a changed length breaks the format */
	man[RV_P2P_MAN_HEAD + 8 + 5] ^= 1;
	assert_int_equal(rv_p2p_man_parse(man, len, &pm, &why), RV_EDENIED);
	man[RV_P2P_MAN_HEAD + 8 + 5] ^= 1;
	assert_int_equal(rv_p2p_man_parse(man, len - 1, &pm, &why), RV_EPROTO);
	man[46] = 0;	/* chunk size 0: below the minimum */
	assert_int_equal(rv_p2p_man_parse(man, len, &pm, &why), RV_EPROTO);
	/* names and caps */
	uint8_t h[32] = { 0 };
	assert_int_equal(rv_p2p_man_build(&sharer, 10, 1024, 0, "a/b", h, man, sizeof man), RV_EPROTO);
	assert_int_equal(rv_p2p_man_build(&sharer, 10, 1024, 0, "..", h, man, sizeof man), RV_EPROTO);
	assert_int_equal(rv_p2p_man_build(&sharer, 10, 512, 0, "x", h, man, sizeof man), RV_EPROTO);
	assert_int_equal(rv_p2p_man_build(&sharer, 10, 1024, 0, "x", h, man, 10), RV_ETOOBIG);
	assert_int_equal(rv_p2p_man_chunk_size(1000), RV_P2P_MAN_CHUNK_DEFAULT);
	assert_int_equal(rv_p2p_man_chunk_size(2ull << 30), 32768);
	assert_int_equal(rv_p2p_man_chunk_size(3ull << 30), 0);
	/* an empty file: no chunk */
	long n = rv_p2p_man_build(&sharer, 0, 1024, 0, "", h, man, sizeof man);
	assert_int_equal(rv_p2p_man_parse(man, (size_t)n, &pm, &why), 0);
	assert_int_equal(pm.nchunks, 0);
}

/* ---- a swarm ---- */

#define SIZE 300000
#define CS 4096
#define MAXN 8

struct node {
	struct rv_p2p_obj *o;
	uint8_t id[32];
	uint8_t data[SIZE];
	int corrupt, mute, done, manifests, avoided;
	int serve_left;                  /* chunks it still serves; -1: all */
	uint64_t bad_seen, timeouts_seen, results;
};

static struct node nodes[MAXN];
static int nn;
static uint8_t object[SIZE], man_bytes[8192], obj_id[32];
static size_t man_len;
static uint64_t now;
static int linked[MAXN][MAXN];

static struct node *by_id(const uint8_t id[32])
{
	for (int i = 0; i < nn; i++)
		if (!memcmp(nodes[i].id, id, 32))
			return &nodes[i];
	return NULL;
}

static void link_up(int a, int b)
{
	linked[a][b] = linked[b][a] = 1;
	rv_p2p_obj_peer_up(nodes[a].o, now, nodes[b].id);
	rv_p2p_obj_peer_up(nodes[b].o, now, nodes[a].id);
}

/* A node: the sharer (HOLDS every chunk) or a fetcher from the ID alone. */
static struct node *add(int holds)
{
	struct node *q = &nodes[nn];
	memset(q, 0, sizeof *q);
	memset(q->id, 0x10 + nn, 32);
	q->serve_left = -1;
	nn++;
	struct rv_p2p_obj_conf c = { .timeout_ms = 500 };
	assert_int_equal(rv_p2p_obj_new(&q->o, obj_id, &c), 0);
	if (holds) {
		assert_int_equal(rv_p2p_obj_set_manifest(q->o, man_bytes, man_len, &why), 0);
		memcpy(q->data, object, SIZE);
		for (uint32_t i = 0; i < rv_p2p_obj_manifest(q->o)->nchunks; i++)
			rv_p2p_obj_hold(q->o, i);
	}
	return q;
}

static void events(struct node *q)
{
	struct rv_p2p_obj_ev e;
	while (rv_p2p_obj_poll(q->o, &e)) {
		uint32_t cs = e.type == RV_P2P_OBJ_MANIFEST ? 0 : CS;
		switch (e.type) {
		case RV_P2P_OBJ_MANIFEST:
			assert_int_equal(e.len, man_len);
			assert_memory_equal(e.data, man_bytes, man_len);
			q->manifests++;
			break;
		case RV_P2P_OBJ_REQUEST: {
			size_t len = rv_p2p_man_chunk_len(rv_p2p_obj_manifest(q->o), e.index);
			static uint8_t chunk[CS];
			memcpy(chunk, q->data + (size_t)e.index * CS, len);
			if (q->corrupt)
				chunk[0] ^= 0xff;
			if (!q->mute && q->serve_left != 0) {
				rv_p2p_obj_serve(q->o, e.peer, e.index, chunk, len);
				q->serve_left -= q->serve_left > 0;
			}
			break;
		}
		case RV_P2P_OBJ_RESULT:
			assert_true(rv_p2p_obj_holds(q->o, e.index));
			memcpy(q->data + (size_t)e.index * cs, e.data, e.len);
			q->results++;
			break;
		case RV_P2P_OBJ_FAILED:
			if (!strcmp(e.why, "bad chunk"))
				q->bad_seen++;
			else
				q->timeouts_seen++;
			break;
		case RV_P2P_OBJ_AVOID:
			q->avoided++;
			break;
		case RV_P2P_OBJ_DONE:
			q->done++;
			break;
		case RV_P2P_OBJ_SEND_NOTIFY:
			break;
		}
	}
}

/* Every message on its way and every event seen, until all is quiet. */
static void settle(void)
{
	for (int busy = 1; busy;) {
		busy = 0;
		for (int i = 0; i < nn; i++) {
			uint8_t to[32];
			ssize_t n;
			events(&nodes[i]);
			while ((n = rv_p2p_obj_take(nodes[i].o, to, buf, sizeof buf)) > 0) {
				struct node *dst = by_id(to);
				busy = 1;
				assert_non_null(dst);
				if (!linked[i][dst - nodes])
					continue;
				assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
				assert_int_equal(rv_p2p_obj_input(dst->o, now, nodes[i].id, &m, &why), 0);
			}
		}
	}
}

/* Run until every fetcher is done or LIMIT ms pass: 0 when all are. */
static int run(uint64_t limit)
{
	for (uint64_t end = now + limit; now < end; now += 10) {
		for (int i = 0; i < nn; i++)
			rv_p2p_obj_tick(nodes[i].o, now);
		settle();
		int all = 1;
		for (int i = 0; i < nn; i++) {
			struct rv_p2p_obj_stats st;
			rv_p2p_obj_stats(nodes[i].o, &st);
			all &= st.chunks && st.held == st.chunks;
		}
		if (all)
			return 0;
	}
	if (getenv("DEBUG_SWARM"))
		for (int i = 0; i < nn; i++) {
			struct rv_p2p_obj_stats st;
			rv_p2p_obj_stats(nodes[i].o, &st);
			fprintf(stderr, "node %d: held %u/%u up %lu down %lu req %lu res %lu to %lu bad %lu\n", i, st.held,
				st.chunks, (unsigned long)st.bytes_up, (unsigned long)st.bytes_down, (unsigned long)st.requests,
				(unsigned long)st.results, (unsigned long)st.timeouts, (unsigned long)st.bad_chunks);
		}
	return -1;
}

static int swarm_setup(void **state)
{
	(void)state;
	key_of(&sharer, 7);
	for (size_t i = 0; i < SIZE; i++)
		object[i] = (uint8_t)(i * 31 + (i >> 9));
	man_len = make_manifest(object, SIZE, CS, man_bytes, sizeof man_bytes);
	rv_p2p_sha256(man_bytes, man_len, obj_id);
	nn = 0;
	now = 1000;
	memset(linked, 0, sizeof linked);
	return 0;
}

static int swarm_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < nn; i++)
		rv_p2p_obj_free(nodes[i].o);
	rv_p2p_key_free(&sharer);
	return 0;
}

static void full_mesh(void)
{
	for (int a = 0; a < nn; a++)
		for (int b = a + 1; b < nn; b++)
			link_up(a, b);
}

static void swarm(void **state)
{
	(void)state;
	add(1);
	for (int i = 0; i < 5; i++)
		add(0);
	full_mesh();
	assert_int_equal(run(20000), 0);
	uint64_t fed = 0;
	for (int i = 1; i < nn; i++) {
		assert_memory_equal(nodes[i].data, object, SIZE);
		assert_int_equal(nodes[i].manifests, 1);
		assert_int_equal(nodes[i].done, 1);
		struct rv_p2p_obj_stats st;
		rv_p2p_obj_stats(nodes[i].o, &st);
		assert_int_equal(st.bad_chunks, 0);
		fed += st.bytes_up;
	}
	struct rv_p2p_obj_stats s0;
	rv_p2p_obj_stats(nodes[0].o, &s0);
	assert_int_equal(s0.size, SIZE);
	/* every chunk left the sharer, about once (it seeds: BEP 16); the fetchers carried the rest */
	assert_true(s0.bytes_up >= SIZE && s0.bytes_up <= 3 * SIZE / 2);
	assert_true(fed > 0);
	assert_true(s0.bytes_up + fed >= 5ull * SIZE);
	if (getenv("DEBUG_SWARM"))
		fprintf(stderr, "sharer sent %.2f x the object\n", (double)s0.bytes_up / SIZE);
}

static void corrupting_peer(void **state)
{
	(void)state;
	add(1);
	struct node *liar = add(1);
	liar->corrupt = 1;
	struct node *f = add(0);
	link_up(1, 2);	/* the fetcher knows the liar first: the manifest and first chunks from it */
	settle();
	assert_int_equal(run(200), -1);
	link_up(0, 2);
	assert_int_equal(run(20000), 0);
	assert_memory_equal(f->data, object, SIZE);
	assert_true(f->bad_seen >= 1);
	assert_int_equal(f->avoided, 1);
	struct rv_p2p_obj_stats st;
	rv_p2p_obj_stats(f->o, &st);
	assert_true(st.bad_chunks >= 1);
	assert_int_equal(st.avoided, 1);
}

/* The sharer sees a second holder of everything that the fetcher cannot
 * use (it lies, and is avoided): once the fetcher gets nothing from
 * others, the sharer shows it chunks as fast as it takes them, not 16 a
 * timeout. Virtual time: 74 chunks, 16 shown at a time, 500 ms timeouts. */
static void seeder_and_a_liar(void **state)
{
	(void)state;
	add(1);
	add(1)->corrupt = 1;
	struct node *f = add(0);
	full_mesh();
	assert_int_equal(run(1500), 0);
	assert_memory_equal(f->data, object, SIZE);
	assert_int_equal(f->avoided, 1);
}

static void silent_peer(void **state)
{
	(void)state;
	add(1);
	struct node *mute = add(1);
	mute->mute = 1;	/* says it holds everything, never sends a chunk */
	struct node *f = add(0);
	link_up(1, 2);
	assert_int_equal(run(2000), -1);
	assert_true(f->timeouts_seen > 0);
	link_up(0, 2);
	assert_int_equal(run(30000), 0);
	assert_memory_equal(f->data, object, SIZE);
}

static void resume(void **state)
{
	(void)state;
	add(1)->serve_left = 20;	/* the first run gets 20 chunks, then stops (its engine goes) */
	struct node *f = add(0);
	link_up(0, 1);
	assert_int_equal(run(1000), -1);
	assert_int_equal(f->results, 20);
	struct rv_p2p_obj_stats before;
	rv_p2p_obj_stats(f->o, &before);
	assert_true(before.held < before.chunks);
	rv_p2p_obj_free(f->o);
	/* a new one, from the manifest and the chunks kept (checked again) */
	assert_int_equal(rv_p2p_obj_new(&f->o, obj_id, NULL), 0);
	assert_int_equal(rv_p2p_obj_set_manifest(f->o, man_bytes, man_len, &why), 0);
	assert_int_equal(rv_p2p_obj_set_manifest(f->o, man_bytes, man_len, &why), -EEXIST);
	const struct rv_p2p_man *pm = rv_p2p_obj_manifest(f->o);
	uint32_t kept = 0;
	for (uint32_t i = 0; i < pm->nchunks; i++)
		if (rv_p2p_man_check(pm, i, f->data + (size_t)i * CS, rv_p2p_man_chunk_len(pm, i)) == 0)
			kept += rv_p2p_obj_hold(f->o, i) == 0;
	assert_int_equal(kept, before.held);
	rv_p2p_obj_peer_down(nodes[0].o, f->id);
	nodes[0].serve_left = -1;
	link_up(0, 1);
	assert_int_equal(run(20000), 0);
	assert_memory_equal(f->data, object, SIZE);
	struct rv_p2p_obj_stats after;
	rv_p2p_obj_stats(f->o, &after);
	assert_int_equal(after.results, after.chunks - kept);	/* only the rest */
	assert_int_equal(f->manifests, 1);	/* the first run's only */
}

static void nonsense(void **state)
{
	(void)state;
	add(1);
	struct node *f = add(1);
	link_up(0, 1);
	settle();
	/* a range past the object: refused, and its sender avoided */
	struct rv_p2p_range r = { 70, 10 };
	long n = rv_p2p_msg_obj_ranges(buf, sizeof buf, RV_P2P_M_OBJ_WANT, obj_id, 0, &r, 1);
	assert_int_equal(rv_p2p_msg_parse(buf, (size_t)n, &m, &why), 0);
	assert_int_equal(rv_p2p_obj_input(nodes[0].o, now, f->id, &m, &why), RV_EPROTO);
	assert_string_equal(why, "chunk range past the object");
	events(&nodes[0]);
	assert_int_equal(nodes[0].avoided, 1);
	/* a message for another object is not ours */
	uint8_t other[32];
	memset(other, 1, 32);
	n = rv_p2p_msg_obj_get(buf, sizeof buf, other, 0);
	rv_p2p_msg_parse(buf, (size_t)n, &m, &why);
	assert_int_equal(rv_p2p_obj_input(f->o, now, nodes[0].id, &m, &why), 0);
	uint8_t to[32];
	assert_int_equal(rv_p2p_obj_take(f->o, to, buf, sizeof buf), 0);
	/* a wrong manifest is refused */
	struct rv_p2p_obj *o;
	assert_int_equal(rv_p2p_obj_new(&o, other, NULL), 0);
	assert_int_equal(rv_p2p_obj_set_manifest(o, man_bytes, man_len, &why), RV_EPROTO);
	assert_string_equal(why, "the manifest is not the object's");
	rv_p2p_obj_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(messages),
		cmocka_unit_test_setup_teardown(manifest, swarm_setup, swarm_teardown),
		cmocka_unit_test_setup_teardown(swarm, swarm_setup, swarm_teardown),
		cmocka_unit_test_setup_teardown(corrupting_peer, swarm_setup, swarm_teardown),
		cmocka_unit_test_setup_teardown(seeder_and_a_liar, swarm_setup, swarm_teardown),
		cmocka_unit_test_setup_teardown(silent_peer, swarm_setup, swarm_teardown),
		cmocka_unit_test_setup_teardown(resume, swarm_setup, swarm_teardown),
		cmocka_unit_test_setup_teardown(nonsense, swarm_setup, swarm_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
