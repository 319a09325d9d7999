/* p2pkey.c - Ed25519 peer identities (p2pkey.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "err.h"
#include "p2pkey.h"

#define KEY_FILE_MAX 4096     /* an Ed25519 PEM is about 120 bytes */

/* Fill K's public key and ID from its EVP_PKEY (taken). */
static int adopt(struct rv_p2p_key *k, EVP_PKEY *pk)
{
	size_t n = RV_P2P_PUB_LEN;
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pk, k->pub, &n) != 1 || n != RV_P2P_PUB_LEN) {
		EVP_PKEY_free(pk);
		return RV_EPROTO;
	}
	k->pkey = pk;
	rv_p2p_peer_id(k->pub, k->id);
	return 0;
}

int rv_p2p_key_generate(struct rv_p2p_key *k)
{
	memset(k, 0, sizeof *k);
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return pk ? adopt(k, pk) : -ENOMEM;
}

int rv_p2p_key_from_seed(struct rv_p2p_key *k, const uint8_t seed[32])
{
	memset(k, 0, sizeof *k);
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	return pk ? adopt(k, pk) : RV_EPROTO;
}

int rv_p2p_key_load(const char *path, struct rv_p2p_key *k)
{
	char pem[KEY_FILE_MAX];
	memset(k, 0, sizeof *k);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, pem, sizeof pem);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	if (n == (ssize_t)sizeof pem)
		return RV_EPROTO;
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	OPENSSL_cleanse(pem, sizeof pem);
	return pk ? adopt(k, pk) : RV_EPROTO;
}

/* Write K as PEM to a new file TMP (mode 0600): 0 or -errno. */
static int write_pem(const struct rv_p2p_key *k, const char *tmp)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *pem;
	if (!b || PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		return -ENOMEM;
	}
	long len = BIO_get_mem_data(b, &pem);
	int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = -errno;
	else if (write(fd, pem, (size_t)len) != len || fsync(fd) < 0)
		rc = errno ? -errno : -EIO;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0 && fd >= 0)
		unlink(tmp);
	BIO_free(b);
	return rc;
}

int rv_p2p_key_open(const char *path, struct rv_p2p_key *k, int *created)
{
	char tmp[PATH_MAX];
	*created = 0;
	int rc = rv_p2p_key_load(path, k);
	if (rc != -ENOENT)
		return rc;
	if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	if ((rc = rv_p2p_key_generate(k)) < 0)
		return rc;
	if ((rc = write_pem(k, tmp)) < 0) {
		rv_p2p_key_free(k);
		return rc;
	}
	/* link, not rename: a key created meanwhile by another peer wins */
	rc = link(tmp, path) < 0 ? -errno : 0;
	unlink(tmp);
	if (rc == -EEXIST) {
		rv_p2p_key_free(k);
		return rv_p2p_key_load(path, k);
	}
	if (rc < 0) {
		rv_p2p_key_free(k);
		return rc;
	}
	*created = 1;
	return 0;
}

void rv_p2p_key_free(struct rv_p2p_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

int rv_p2p_sign(const struct rv_p2p_key *k, const void *msg, size_t n, uint8_t sig[RV_P2P_SIG_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t slen = RV_P2P_SIG_LEN;
	int ok = c && EVP_DigestSignInit(c, NULL, NULL, NULL, k->pkey) == 1 &&
		 EVP_DigestSign(c, sig, &slen, msg, n) == 1 && slen == RV_P2P_SIG_LEN;
	EVP_MD_CTX_free(c);
	return ok ? 0 : RV_EPROTO;
}

int rv_p2p_verify(const uint8_t pub[RV_P2P_PUB_LEN], const void *msg, size_t n,
		  const uint8_t sig[RV_P2P_SIG_LEN])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, RV_P2P_PUB_LEN);
	EVP_MD_CTX *c = pk ? EVP_MD_CTX_new() : NULL;
	int ok = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
		 EVP_DigestVerify(c, sig, RV_P2P_SIG_LEN, msg, n) == 1;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(pk);
	return ok ? 0 : RV_EDENIED;
}

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;       /* fetched once, kept for the process */

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void rv_p2p_sha256(const void *p, size_t n, uint8_t out[RV_P2P_HASH_LEN])
{
	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md || EVP_Digest(p, n, out, NULL, sha256_md, NULL) != 1)
		SHA256(p, n, out);      /* no provider fetch: the one-shot way */
}

void rv_p2p_peer_id(const uint8_t pub[RV_P2P_PUB_LEN], uint8_t id[RV_P2P_HASH_LEN])
{
	rv_p2p_sha256(pub, RV_P2P_PUB_LEN, id);
}

void rv_p2p_ring_addr(const uint8_t id[RV_P2P_HASH_LEN], uint8_t addr[RV_P2P_HASH_LEN])
{
	uint8_t in[1 + RV_P2P_HASH_LEN] = { 0x01 };
	memcpy(in + 1, id, RV_P2P_HASH_LEN);
	rv_p2p_sha256(in, sizeof in, addr);
}

#define HELLO_CONTEXT "rvp2p-hello-1"

void rv_p2p_group_proof(const uint8_t group[RV_P2P_HASH_LEN], const uint8_t exp[RV_P2P_HASH_LEN],
			uint8_t proof[RV_P2P_HASH_LEN])
{
	unsigned len = RV_P2P_HASH_LEN;
	HMAC(EVP_sha256(), group, RV_P2P_HASH_LEN, exp, RV_P2P_HASH_LEN, proof, &len);
}

/* What a HELLO signature covers. */
static size_t hello_signed(uint8_t *b, const uint8_t exp[RV_P2P_HASH_LEN],
			   const uint8_t proof[RV_P2P_HASH_LEN], int role)
{
	size_t n = sizeof HELLO_CONTEXT - 1;
	memcpy(b, HELLO_CONTEXT, n);
	b[n++] = (uint8_t)(role != 0);
	memcpy(b + n, exp, RV_P2P_HASH_LEN);
	memcpy(b + n + RV_P2P_HASH_LEN, proof, RV_P2P_HASH_LEN);
	return n + 2 * RV_P2P_HASH_LEN;
}

int rv_p2p_hello_sign(const struct rv_p2p_key *k, const uint8_t exp[RV_P2P_HASH_LEN],
		      const uint8_t proof[RV_P2P_HASH_LEN], int role, uint8_t sig[RV_P2P_SIG_LEN])
{
	uint8_t b[sizeof HELLO_CONTEXT + 2 * RV_P2P_HASH_LEN];
	return rv_p2p_sign(k, b, hello_signed(b, exp, proof, role), sig);
}

int rv_p2p_hello_check(const uint8_t group[RV_P2P_HASH_LEN], const uint8_t exp[RV_P2P_HASH_LEN],
		       const uint8_t pub[RV_P2P_PUB_LEN], const uint8_t proof[RV_P2P_HASH_LEN],
		       const uint8_t sig[RV_P2P_SIG_LEN], int role, uint8_t id[RV_P2P_HASH_LEN],
		       const char **why)
{
	uint8_t want[RV_P2P_HASH_LEN], b[sizeof HELLO_CONTEXT + 2 * RV_P2P_HASH_LEN];
	rv_p2p_group_proof(group, exp, want);
	if (CRYPTO_memcmp(want, proof, RV_P2P_HASH_LEN))
		return *why = "wrong group proof", RV_EDENIED;
	if (rv_p2p_verify(pub, b, hello_signed(b, exp, proof, role), sig) < 0)
		return *why = "bad hello signature", RV_EDENIED;
	rv_p2p_peer_id(pub, id);
	return 0;
}
