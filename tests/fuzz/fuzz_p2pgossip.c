/* fuzz_p2pgossip.c - the posting engine (lib/p2pgossip.c) driven by a
 * script of neighbours, messages and time.
 *
 * Input grammar: records of "u8 op | u8 arg | u8 len | len bytes" (a record
 * cut short by the end of input is dropped):
 *   op % 7 == 0  neighbour arg % 8 comes up
 *   op % 7 == 1  neighbour arg % 8 goes down
 *   op % 7 == 2  we post the bytes (sealed by the harness's key)
 *   op % 7 == 3  neighbour arg % 8 sends the bytes as a message (parsed
 *                first; what does not parse is dropped, as the session would)
 *   op % 7 == 4  neighbour arg % 8 sends a POST of the bytes, sealed by one
 *                of two keys; arg bit 3 flips one byte of it first
 *   op % 7 == 5  neighbour arg % 8 announces (IHAVE) or asks for (IWANT,
 *                arg bit 3) the ID of one of the last posts made (bytes[0])
 *   op % 7 == 6  arg * 8 ms pass, then the engine ticks
 * After every record all events are taken and checked: a send parses as a
 * message and goes to a slot in range, a delivery opens as an envelope of
 * the group and no message ID is delivered twice, a bad post names a
 * reason, and the next deadline is not in the past after a tick. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/sha.h>

#include "err.h"
#include "p2penv.h"
#include "p2pgossip.h"
#include "p2pmsg.h"

#define KEPT 64

static struct rv_p2p_key keys[2];
static const uint8_t group[32] = { 0x9a };
static struct rv_p2p_gossip g;
static uint64_t now;
static uint8_t delivered[1024][32];
static size_t ndelivered;
static uint8_t recent[KEPT][32];       /* IDs of posts sealed here */
static size_t nrecent;
static uint8_t env[RV_P2P_ENV_MAX], msg[RV_P2P_MSG_MAX];

static void check_events(void)
{
	struct rv_p2p_gossip_out o;
	while (rv_p2p_gossip_poll(&g, &o)) {
		assert(o.slot >= 0 && o.slot < RV_P2P_GOSSIP_SLOTS);
		if (o.ev == RV_P2P_EV_SEND) {
			struct rv_p2p_msg m;
			const char *why;
			assert(o.len <= RV_P2P_MSG_MAX);
			memcpy(msg, o.bytes, o.len);
			assert(rv_p2p_msg_parse(msg, o.len, &m, &why) == 0);
		} else if (o.ev == RV_P2P_EV_DELIVER) {
			struct rv_p2p_env e;
			const char *why;
			memcpy(env, o.bytes, o.len);
			assert(rv_p2p_env_open(env, o.len, group, &e, &why) == 0);
			for (size_t i = 0; i < ndelivered; i++)
				assert(memcmp(delivered[i], e.id, 32));
			if (ndelivered < 1024)
				memcpy(delivered[ndelivered++], e.id, 32);
		} else {
			assert(o.ev == RV_P2P_EV_BAD && o.why && *o.why);
		}
	}
}

static long seal(int k, const uint8_t *p, size_t n)
{
	static uint64_t nonce;
	uint8_t id[32];
	long len = rv_p2p_env_seal(&keys[k], group, RV_P2P_POST, now, ++nonce, p, n, env, sizeof env, id);
	assert(len > 0);
	memcpy(recent[nrecent++ % KEPT], id, 32);
	return len;
}

static void input(int slot, const uint8_t *p, size_t n)
{
	struct rv_p2p_msg m;
	const char *why;
	memcpy(msg, p, n);
	if (rv_p2p_msg_parse(msg, n, &m, &why) == 0)
		rv_p2p_gossip_input(&g, now, slot, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!keys[0].pkey) {
		uint8_t s0[32] = { 1 }, s1[32] = { 2 };
		assert(rv_p2p_key_from_seed(&keys[0], s0) == 0 && rv_p2p_key_from_seed(&keys[1], s1) == 0);
	}
	rv_p2p_gossip_init(&g, group, NULL);
	now = 1000;
	ndelivered = nrecent = 0;
	for (size_t i = 0; i + 3 <= size;) {
		uint8_t op = data[i], arg = data[i + 1], len = data[i + 2];
		const uint8_t *b = data + i + 3;
		if (i + 3 + len > size)
			break;
		i += 3 + (size_t)len;
		int slot = arg % 8;
		long n;
		switch (op % 7) {
		case 0: rv_p2p_gossip_up(&g, slot); break;
		case 1: rv_p2p_gossip_down(&g, slot); break;
		case 2:
			n = seal(0, b, len);
			assert(rv_p2p_gossip_post(&g, now, env, (size_t)n) == 0);
			break;
		case 3: input(slot, b, len); break;
		case 4:
			n = seal(arg >> 4 & 1, b, len);
			if (arg & 8)
				env[(len ? b[0] : 0) % (size_t)n] ^= 0x40;
			n = rv_p2p_msg_post(msg, sizeof msg, env, (size_t)n);
			input(slot, msg, (size_t)n);
			break;
		case 5:
			if (nrecent == 0)
				break;
			n = rv_p2p_msg_ids(msg, sizeof msg, arg & 8 ? RV_P2P_M_IWANT : RV_P2P_M_IHAVE,
					   recent[(len ? b[0] : 0) % (nrecent < KEPT ? nrecent : KEPT)], 1);
			input(slot, msg, (size_t)n);
			break;
		case 6:
			now += (uint64_t)arg * 8;
			rv_p2p_gossip_tick(&g, now);
			assert(rv_p2p_gossip_next(&g) > now);
			break;
		}
		check_events();
	}
	rv_p2p_gossip_free(&g);
	return 0;
}
