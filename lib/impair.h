/* impair.h - a test-only impairment of a UDP send path: the kernel here has
 * no netem, so tests and benchmarks lose datagrams on purpose where rvkit
 * sends them. Off unless the environment asks:
 *
 *   RV_TEST_IMPAIR="loss=0.05"      lose 5 % of the datagrams sent, at random
 *   RV_TEST_IMPAIR="mloss=0.1"      lose 10 % of the IP multicast datagrams
 *                                   sent or read (rvsend, rvrecv --ipmc)
 *   RV_TEST_IMPAIR="direct=0"       send nothing but to the server: as if
 *                                   every NAT in the way refused strangers
 *   RV_TEST_IMPAIR="corrupt=1"      rvgroup p2p share and fetch serve every
 *                                   chunk of an object with a byte flipped;
 *                                   rvrecv --p2p relays every fragment of a
 *                                   stream so (a forging relay)
 *   RV_TEST_IMPAIR="rxcost=50"      rvserver takes 50 ms more over each datagram
 *                                   its UDP port reads: a relay whose fan-out
 *                                   costs more than the machine has
 *   (several, comma-separated: "loss=0.02,direct=0")
 *
 * Only tools that say so in their man page read it (rvgroup p2p; rvserver,
 * loss and rxcost, on its UDP port; rvsend and rvrecv --p2p, loss, and mloss
 * on the --ipmc datagrams they send or read; rvrecv --p2p, corrupt). No I/O
 * beyond getenv; the random numbers are the caller's seed's. */
#ifndef RV_IMPAIR_H
#define RV_IMPAIR_H

#include <stdint.h>

#define RV_IMPAIR_RXCOST_MAX 1000    /* ms */

struct rv_impair {
	double loss;                  /* 0..1 */
	double mloss;                 /* 0..1: IP multicast datagrams (p2plive.c) */
	int no_direct;                /* only datagrams to the server go */
	int corrupt;                  /* object chunks served are corrupted */
	unsigned rx_cost_ms;          /* added to each datagram read (rvserver) */
	uint64_t state;               /* xorshift state */
	uint64_t dropped;
};

/* rv_impair_from_env - read RV_TEST_IMPAIR into I (seeded by SEED): 0 when
 * unset or valid, -1 with *WHY when it cannot be read (then I is off). */
int rv_impair_from_env(struct rv_impair *i, uint64_t seed, const char **why);
/* rv_impair_drop - 1 when this datagram is to be lost. */
int rv_impair_drop(struct rv_impair *i);

#endif
