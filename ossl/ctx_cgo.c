// ctx_cgo.c holds the context setup of package ossl: protocol versions,
// options, PEM certificates, keys and trust anchors, and the stateless
// ticket keys (a ring: the first key encrypts, every key decrypts).
#include <string.h>
#include <pthread.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#else
#include <openssl/hmac.h>
#endif
#include "shim.h"

int go_ctx_set_min_proto(SSL_CTX *ctx, int v) { return SSL_CTX_set_min_proto_version(ctx, v) == 1; }
int go_ctx_set_max_proto(SSL_CTX *ctx, int v) { return SSL_CTX_set_max_proto_version(ctx, v) == 1; }
int go_ctx_get_min_proto(SSL_CTX *ctx) { return (int)SSL_CTX_get_min_proto_version(ctx); }
int go_ctx_get_max_proto(SSL_CTX *ctx) { return (int)SSL_CTX_get_max_proto_version(ctx); }
int go_ssl_set_min_proto(SSL *ssl, int v) { return SSL_set_min_proto_version(ssl, v) == 1; }
int go_ssl_set_max_proto(SSL *ssl, int v) { return SSL_set_max_proto_version(ssl, v) == 1; }

uint64_t go_ctx_set_options(SSL_CTX *ctx, uint64_t op) { return (uint64_t)SSL_CTX_set_options(ctx, op); }
uint64_t go_ctx_clear_options(SSL_CTX *ctx, uint64_t op) { return (uint64_t)SSL_CTX_clear_options(ctx, op); }
uint64_t go_ctx_get_options(SSL_CTX *ctx) { return (uint64_t)SSL_CTX_get_options(ctx); }

int go_set_tlsext_host_name(SSL *ssl, const char *name) {
	return (int)SSL_set_tlsext_host_name(ssl, name);
}

// go_ctx_use_cert_key_pem loads a leaf certificate, any chain certificates
// after it, and a private key from PEM buffers. Everything is parsed and
// the key checked against the leaf before the context changes, so a bad
// pair leaves the context's own untouched.
int go_ctx_use_cert_key_pem(SSL_CTX *ctx, const char *cert, int cert_len, const char *key, int key_len) {
	int ok = 0;
	X509 *leaf = NULL, *extra = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *cb = BIO_new_mem_buf(cert, cert_len);
	BIO *kb = BIO_new_mem_buf(key, key_len);
	if (cb == NULL || kb == NULL || (chain = sk_X509_new_null()) == NULL)
		goto out;
	if ((leaf = PEM_read_bio_X509(cb, NULL, NULL, NULL)) == NULL)
		goto out;
	while ((extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(chain, extra)) {
			X509_free(extra);
			goto out;
		}
	}
	ERR_clear_error(); // the end of the PEM stream is reported as an error
	if ((pkey = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL)) == NULL)
		goto out;
	if (X509_check_private_key(leaf, pkey) != 1)
		goto out;
	// SSL_CTX_use_cert_and_key sets leaf, key and chain in one step.
	ok = SSL_CTX_use_cert_and_key(ctx, leaf, pkey, chain, 1) == 1;
out:
	X509_free(leaf);
	EVP_PKEY_free(pkey);
	sk_X509_pop_free(chain, X509_free);
	BIO_free(cb);
	BIO_free(kb);
	return ok;
}

// go_ctx_add_trusted_pem adds every certificate of a PEM buffer to the
// context's verification store.
int go_ctx_add_trusted_pem(SSL_CTX *ctx, const char *pem, int len) {
	int n = 0;
	X509 *x;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	BIO *b = BIO_new_mem_buf(pem, len);
	if (b == NULL || store == NULL) {
		BIO_free(b);
		return 0;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_cert(store, x);
		X509_free(x);
		if (!ok) {
			BIO_free(b);
			return 0;
		}
		n++;
	}
	BIO_free(b);
	if (n == 0)
		return 0;
	ERR_clear_error();
	return 1;
}

// ---- stateless ticket keys ----
//
// The ring lives in the context's ex_data, made on first use and freed
// with the context. Rotation swaps the key array under the ring's write
// lock; the ticket callback copies the key it needs under the read lock.

typedef struct {
	unsigned char name[16], hmac[32], aes[32];
} go_ticket_key;

typedef struct {
	pthread_rwlock_t lock;
	int n;
	int hold; // set: open tickets, seal none (the key callback declines)
	go_ticket_key *keys;
} go_ticket_ring;

static pthread_mutex_t go_tk_make = PTHREAD_MUTEX_INITIALIZER;

// go_ticket_ring_free is the ex_data free callback of the ring's slot
// (go_ctx_ticket_idx, allocated with the bridge's other slots).
void go_ticket_ring_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
	go_ticket_ring *r = ptr;
	if (r == NULL)
		return;
	OPENSSL_cleanse(r->keys, sizeof(go_ticket_key) * (size_t)r->n);
	free(r->keys);
	pthread_rwlock_destroy(&r->lock);
	free(r);
}

// go_tk_ring returns the context's ring, making it if make is set. The
// context's slot array was sized when the Go state was attached, so
// setting the slot does not move it under concurrent readers.
static go_ticket_ring *go_tk_ring(SSL_CTX *ctx, int make) {
	go_ticket_ring *r;
	if (go_ctx_ticket_idx < 0)
		return NULL;
	r = SSL_CTX_get_ex_data(ctx, go_ctx_ticket_idx);
	if (r != NULL || !make)
		return r;
	pthread_mutex_lock(&go_tk_make);
	r = SSL_CTX_get_ex_data(ctx, go_ctx_ticket_idx);
	if (r == NULL && (r = calloc(1, sizeof(*r))) != NULL) {
		pthread_rwlock_init(&r->lock, NULL);
		if (!SSL_CTX_set_ex_data(ctx, go_ctx_ticket_idx, r)) {
			pthread_rwlock_destroy(&r->lock);
			free(r);
			r = NULL;
		}
	}
	pthread_mutex_unlock(&go_tk_make);
	return r;
}

// go_tk_find copies the encryption key (name == NULL) or the key of that
// name; it returns the key's position, -1 for none, -2 when sealing is
// held.
static int go_tk_find(SSL *s, const unsigned char *name, go_ticket_key *out) {
	go_ticket_ring *r = go_tk_ring(go_ssl_session_ctx(s), 0);
	int i, found = -1;
	if (r == NULL)
		return -1;
	pthread_rwlock_rdlock(&r->lock);
	if (name == NULL && r->hold) {
		pthread_rwlock_unlock(&r->lock);
		return -2;
	}
	for (i = 0; i < r->n; i++) {
		if (name == NULL || memcmp(r->keys[i].name, name, 16) == 0) {
			*out = r->keys[i];
			found = i;
			break;
		}
	}
	pthread_rwlock_unlock(&r->lock);
	return found;
}

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
typedef EVP_MAC_CTX go_ticket_mac;
static int go_tk_mac_init(go_ticket_mac *h, unsigned char *key) {
	OSSL_PARAM p[3];
	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	p[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(h, p);
}
#else
typedef HMAC_CTX go_ticket_mac;
static int go_tk_mac_init(go_ticket_mac *h, unsigned char *key) {
	return HMAC_Init_ex(h, key, 32, EVP_sha256(), NULL);
}
#endif

// go_ticket_cb is libssl's ticket key callback: 1 means use the key, 2
// use it and issue a fresh ticket (an older key decrypted it), 0 the
// ticket is not ours (a full handshake follows), -1 failure.
static int go_ticket_cb(SSL *s, unsigned char *key_name, unsigned char *iv, EVP_CIPHER_CTX *ectx, go_ticket_mac *hctx, int enc) {
	go_ticket_key k;
	int i, ret;
	if (enc) {
		// Declining (0) makes libssl send no ticket: an empty one in
		// TLS 1.2, no NewSessionTicket in TLS 1.3. OpenSSL 1.1.1 would
		// send a malformed TLS 1.3 one: fail the handshake instead
		// (HoldTicketSealing refuses contexts that may negotiate TLS 1.3
		// there; this is one raised to it later).
		if ((i = go_tk_find(s, NULL, &k)) < 0) {
			if (i == -2 && !GO_HAVE_TLS13_TICKET_DECLINE && SSL_version(s) == TLS1_3_VERSION)
				return -1;
			return i == -2 ? 0 : -1;
		}
		memcpy(key_name, k.name, 16);
		if (RAND_bytes(iv, 16) <= 0 || !EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k.aes, iv) || !go_tk_mac_init(hctx, k.hmac))
			ret = -1;
		else
			ret = 1;
	} else {
		if ((i = go_tk_find(s, key_name, &k)) < 0)
			return 0;
		if (!go_tk_mac_init(hctx, k.hmac) || !EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k.aes, iv))
			ret = -1;
		else
			ret = i == 0 ? 1 : 2;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return ret;
}

int go_ctx_set_ticket_keys(SSL_CTX *ctx, const unsigned char *keys, int n) {
	go_ticket_ring *r;
	go_ticket_key *fresh = NULL, *old;
	int i, oldn;
	if (n < 0)
		return 0;
	if (n > 0) {
		if ((r = go_tk_ring(ctx, 1)) == NULL || (fresh = calloc((size_t)n, sizeof(*fresh))) == NULL)
			return 0;
		for (i = 0; i < n; i++) {
			memcpy(fresh[i].name, keys + i * GO_TICKET_KEY_SIZE, 16);
			memcpy(fresh[i].hmac, keys + i * GO_TICKET_KEY_SIZE + 16, 32);
			memcpy(fresh[i].aes, keys + i * GO_TICKET_KEY_SIZE + 48, 32);
		}
	} else if ((r = go_tk_ring(ctx, 0)) == NULL) {
		return 1;
	}
	pthread_rwlock_wrlock(&r->lock);
	old = r->keys;
	oldn = r->n;
	r->keys = fresh;
	r->n = n;
	pthread_rwlock_unlock(&r->lock);
	if (old != NULL) {
		OPENSSL_cleanse(old, sizeof(*old) * (size_t)oldn);
		free(old);
	}
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, n > 0 ? go_ticket_cb : NULL) == 1;
#else
	// 1.1.1's macro casts its unparenthesized argument: no ?: inside it.
	if (n > 0)
		return SSL_CTX_set_tlsext_ticket_key_cb(ctx, go_ticket_cb) == 1;
	return SSL_CTX_set_tlsext_ticket_key_cb(ctx, NULL) == 1;
#endif
}

// go_ctx_hold_ticket_sealing stops (on) or resumes the sealing of new
// tickets with the ring's keys; opening goes on.
int go_ctx_hold_ticket_sealing(SSL_CTX *ctx, int on) {
	go_ticket_ring *r = go_tk_ring(ctx, 0);
	if (r == NULL)
		return 0;
	pthread_rwlock_wrlock(&r->lock);
	r->hold = on;
	pthread_rwlock_unlock(&r->lock);
	return 1;
}

int go_ctx_ticket_key_count(SSL_CTX *ctx) {
	go_ticket_ring *r = go_tk_ring(ctx, 0);
	int n;
	if (r == NULL)
		return 0;
	pthread_rwlock_rdlock(&r->lock);
	n = r->n;
	pthread_rwlock_unlock(&r->lock);
	return n;
}
