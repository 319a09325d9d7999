/* p2pkey.h - a peer's identity in a peer group: an Ed25519 key pair.
 *
 * A peer is its public key. Its peer ID is SHA-256 of the 32-byte public
 * key, and its place on the group's ring (the address that "nearest"
 * routing and ring neighbours compare) is SHA-256(0x01 || peer ID), so IDs
 * and addresses are spread evenly whoever picks the key. Signatures are
 * plain Ed25519 (RFC 8032) through OpenSSL; nothing here is hand-made.
 *
 * A key lives in a PEM file (PKCS#8, unencrypted) of mode 0600. The first
 * use creates it: written to a temporary file, then linked into place, so
 * two peers started at once on one key file end up with the same key and a
 * reader never sees half a file. No printing: errors are negative codes. */
#ifndef RV_P2PKEY_H
#define RV_P2PKEY_H

#include <stddef.h>
#include <stdint.h>

#define RV_P2P_PUB_LEN 32
#define RV_P2P_SIG_LEN 64
#define RV_P2P_HASH_LEN 32     /* peer IDs and ring addresses */

struct rv_p2p_key {
	void *pkey;                            /* owned EVP_PKEY */
	uint8_t pub[RV_P2P_PUB_LEN];
	uint8_t id[RV_P2P_HASH_LEN];           /* SHA-256(pub) */
};

/* rv_p2p_key_generate - a fresh key: 0 or -ENOMEM. */
int rv_p2p_key_generate(struct rv_p2p_key *k);
/* rv_p2p_key_from_seed - the key whose RFC 8032 private key is SEED (for
 * tests and simulations that need the same peers every run): 0 or
 * RV_EPROTO. */
int rv_p2p_key_from_seed(struct rv_p2p_key *k, const uint8_t seed[32]);
/* rv_p2p_key_load - read the key at PATH: 0, -errno, or RV_EPROTO when it
 * is not an Ed25519 private key in PEM. */
int rv_p2p_key_load(const char *path, struct rv_p2p_key *k);
/* rv_p2p_key_open - load PATH, or create it (mode 0600) when it does not
 * exist; *CREATED says which. 0, or as rv_p2p_key_load; -EEXIST never (a
 * key another process created first is loaded). */
int rv_p2p_key_open(const char *path, struct rv_p2p_key *k, int *created);
void rv_p2p_key_free(struct rv_p2p_key *k);

/* rv_p2p_sign - the signature of MSG (N bytes) by K: 0 or RV_EPROTO. */
int rv_p2p_sign(const struct rv_p2p_key *k, const void *msg, size_t n, uint8_t sig[RV_P2P_SIG_LEN]);
/* rv_p2p_verify - 0 when SIG is PUB's signature of MSG, else RV_EDENIED. */
int rv_p2p_verify(const uint8_t pub[RV_P2P_PUB_LEN], const void *msg, size_t n,
		  const uint8_t sig[RV_P2P_SIG_LEN]);

/* rv_p2p_sha256 - SHA-256 of P (N bytes) into OUT, with the digest fetched
 * from OpenSSL's provider once (SHA256() fetches it on every call, more
 * than the hashing itself costs for a post). */
void rv_p2p_sha256(const void *p, size_t n, uint8_t out[RV_P2P_HASH_LEN]);
/* rv_p2p_peer_id - SHA-256 of PUB. */
void rv_p2p_peer_id(const uint8_t pub[RV_P2P_PUB_LEN], uint8_t id[RV_P2P_HASH_LEN]);
/* rv_p2p_ring_addr - a peer's ring address: SHA-256(0x01 || ID). */
void rv_p2p_ring_addr(const uint8_t id[RV_P2P_HASH_LEN], uint8_t addr[RV_P2P_HASH_LEN]);

/* Proving a session. Each side of a peer session proves, inside it, that
 * it holds its key and knows the group, bound to that one session: EXP is
 * the session's keying material (rv_dtls_export with RV_P2P_HELLO_LABEL,
 * RV_P2P_HASH_LEN bytes, the same at both ends), ROLE the prover's (0 the
 * session's client, 1 its server), so a HELLO sent back to its author does
 * not pass.
 *   proof = HMAC-SHA256(key: group ID, EXP)           (RTMFP's group key)
 *   sig   = Ed25519("rvp2p-hello-1" || role || EXP || proof)
 * Knowing the group's hash (what a server sees) is not enough to make the
 * proof, and a proof seen in one session is worthless in another. */
#define RV_P2P_HELLO_LABEL "EXTRACTOR-rvp2p-hello"

/* rv_p2p_group_proof - the proof for GROUP (its ID) in the session EXP. */
void rv_p2p_group_proof(const uint8_t group[RV_P2P_HASH_LEN], const uint8_t exp[RV_P2P_HASH_LEN],
			uint8_t proof[RV_P2P_HASH_LEN]);
/* rv_p2p_hello_sign - K's signature of PROOF in the session EXP as ROLE:
 * 0 or RV_EPROTO. */
int rv_p2p_hello_sign(const struct rv_p2p_key *k, const uint8_t exp[RV_P2P_HASH_LEN],
		      const uint8_t proof[RV_P2P_HASH_LEN], int role, uint8_t sig[RV_P2P_SIG_LEN]);
/* rv_p2p_hello_check - check a peer's HELLO fields (PUB, PROOF, SIG; ROLE
 * the peer's) for GROUP in the session EXP: 0 and its peer ID in ID, or
 * RV_EDENIED with *WHY ("wrong group proof", "bad hello signature"). */
int rv_p2p_hello_check(const uint8_t group[RV_P2P_HASH_LEN], const uint8_t exp[RV_P2P_HASH_LEN],
		       const uint8_t pub[RV_P2P_PUB_LEN], const uint8_t proof[RV_P2P_HASH_LEN],
		       const uint8_t sig[RV_P2P_SIG_LEN], int role, uint8_t id[RV_P2P_HASH_LEN],
		       const char **why);

#endif
