// alpn_cgo.c holds ALPN (RFC 7301) for package ossl: the protocol list a
// server selects from, kept in C memory in the context's ex_data and read by
// the selection callback without calling Go, and the list a client offers.
// Its memory comes from OPENSSL_malloc, so that the heap-block counting of
// the leak check (memdebug_cgo.c) sees it.
#include <string.h>
#include <pthread.h>
#include "shim.h"

// go_alpn is a server context's protocol list in wire format (each name
// prefixed by its one-byte length), in preference order. It is made on
// first use, lives in the context's ex_data slot go_ctx_alpn_idx (sized
// with the bridge's other slots when the Go state was attached, so setting
// it does not move the slot array under concurrent readers) and is freed
// with the context. A new list is swapped in under the write lock; the
// callback reads under the read lock.
typedef struct {
	pthread_rwlock_t lock;
	unsigned char *wire;
	size_t len;
	int strict;
} go_alpn;

static pthread_mutex_t go_alpn_make = PTHREAD_MUTEX_INITIALIZER;

// go_alpn_free is the ex_data free callback of the list's slot.
void go_alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
	go_alpn *a = ptr;
	if (a == NULL)
		return;
	OPENSSL_free(a->wire);
	pthread_rwlock_destroy(&a->lock);
	OPENSSL_free(a);
}

static go_alpn *go_alpn_of(SSL_CTX *ctx, int make) {
	go_alpn *a;
	if (ctx == NULL || go_ctx_alpn_idx < 0)
		return NULL;
	a = SSL_CTX_get_ex_data(ctx, go_ctx_alpn_idx);
	if (a != NULL || !make)
		return a;
	pthread_mutex_lock(&go_alpn_make);
	a = SSL_CTX_get_ex_data(ctx, go_ctx_alpn_idx);
	if (a == NULL && (a = OPENSSL_zalloc(sizeof(*a))) != NULL) {
		pthread_rwlock_init(&a->lock, NULL);
		if (!SSL_CTX_set_ex_data(ctx, go_ctx_alpn_idx, a)) {
			pthread_rwlock_destroy(&a->lock);
			OPENSSL_free(a);
			a = NULL;
		}
	}
	pthread_mutex_unlock(&go_alpn_make);
	return a;
}

// go_alpn_select_cb is libssl's ALPN selection callback
// (SSL_CTX_set_alpn_select_cb(3)). It picks the first protocol of the
// server's list, in the server's order, that the client offered, and points
// *out into the client's list (in), which libssl copies before it returns:
// nothing points into the server's list once the lock is released. It
// reads the list of the connection's current context, the one whose
// callback libssl called (after a server-name switch, the new one).
// SSL_TLSEXT_ERR_NOACK goes on without ALPN; SSL_TLSEXT_ERR_ALERT_FATAL
// ends the handshake with a no_application_protocol alert.
static int go_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                             const unsigned char *in, unsigned int inlen, void *arg) {
	go_alpn *a = go_alpn_of(SSL_get_SSL_CTX(ssl), 0);
	int ret = SSL_TLSEXT_ERR_NOACK;
	size_t i, j;
	if (a == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	pthread_rwlock_rdlock(&a->lock);
	if (a->len == 0)
		goto out;
	for (i = 0; i < a->len; i += 1 + (size_t)a->wire[i]) {
		size_t n = a->wire[i];
		for (j = 0; j < inlen; j += 1 + (size_t)in[j]) {
			size_t m = in[j];
			if (j + 1 + m > inlen)
				break; // malformed (libssl checks the list before calling)
			if (m == n && memcmp(in + j + 1, a->wire + i + 1, n) == 0) {
				*out = in + j + 1;
				*outlen = (unsigned char)m;
				ret = SSL_TLSEXT_ERR_OK;
				goto out;
			}
		}
	}
	ret = a->strict ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
out:
	pthread_rwlock_unlock(&a->lock);
	return ret;
}

// go_ctx_set_alpn installs a copy of wire (len bytes, already checked by
// Go) as the context's list and the selection callback. The callback is
// installed once and stays: an empty list makes it answer NOACK, which
// libssl treats as if no callback were installed, so no handshake reads a
// callback pointer while it is being changed.
int go_ctx_set_alpn(SSL_CTX *ctx, const unsigned char *wire, size_t len, int strict) {
	go_alpn *a;
	unsigned char *fresh = NULL, *old;
	if (len > 0 && (fresh = OPENSSL_memdup(wire, len)) == NULL)
		return 0;
	if ((a = go_alpn_of(ctx, len > 0)) == NULL) {
		OPENSSL_free(fresh);
		return len == 0; // nothing was set, nothing to clear
	}
	pthread_rwlock_wrlock(&a->lock);
	old = a->wire;
	a->wire = fresh;
	a->len = len;
	a->strict = strict;
	pthread_rwlock_unlock(&a->lock);
	OPENSSL_free(old);
	if (len > 0)
		SSL_CTX_set_alpn_select_cb(ctx, go_alpn_select_cb, NULL);
	return 1;
}

// go_ctx_get_alpn copies the context's list into out (cap bytes) and
// returns its length, or -1 when out is too small; *strict gets the
// mismatch policy.
int go_ctx_get_alpn(SSL_CTX *ctx, unsigned char *out, size_t cap, int *strict) {
	go_alpn *a = go_alpn_of(ctx, 0);
	int n;
	*strict = 0;
	if (a == NULL)
		return 0;
	pthread_rwlock_rdlock(&a->lock);
	if (a->len > cap) {
		n = -1;
	} else {
		if (a->len > 0)
			memcpy(out, a->wire, a->len);
		n = (int)a->len;
		*strict = a->strict;
	}
	pthread_rwlock_unlock(&a->lock);
	return n;
}

// go_ssl_set_alpn sets the protocols a client offers. SSL_set_alpn_protos
// returns 0 on success, unlike most of libssl.
int go_ssl_set_alpn(SSL *ssl, const unsigned char *wire, size_t len) {
	return SSL_set_alpn_protos(ssl, wire, (unsigned int)len) == 0;
}
