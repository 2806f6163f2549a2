// cachemode_cgo.c holds the session-cache shims of package ossl (the
// SSL_CTX_set_session_cache_mode(3) family, sizes, statistics, flushing) and
// the trampolines that carry libssl's session, server-name and client-hello
// callbacks to the exported Go functions of callbacks_export.go.
//
// A context's Go state is reached through a runtime/cgo.Handle stored as an
// integer in the context's ex_data; libssl's ex_data free callback releases
// it when the context is freed. No Go pointer is ever kept in C memory.
#include <string.h>
#include <pthread.h>
#include <openssl/tls1.h>
#include "shim.h"
#include "_cgo_export.h"

long go_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
	return SSL_CTX_set_session_cache_mode(ctx, mode);
}

long go_ctx_get_session_cache_mode(SSL_CTX *ctx) {
	return SSL_CTX_get_session_cache_mode(ctx);
}

long go_ctx_sess_set_cache_size(SSL_CTX *ctx, long size) {
	return SSL_CTX_sess_set_cache_size(ctx, size);
}

long go_ctx_sess_get_cache_size(SSL_CTX *ctx) {
	return SSL_CTX_sess_get_cache_size(ctx);
}

void go_ctx_stats(SSL_CTX *ctx, long out[GO_STATS_LEN]) {
	out[0] = SSL_CTX_sess_number(ctx);
	out[1] = SSL_CTX_sess_connect(ctx);
	out[2] = SSL_CTX_sess_connect_good(ctx);
	out[3] = SSL_CTX_sess_connect_renegotiate(ctx);
	out[4] = SSL_CTX_sess_accept(ctx);
	out[5] = SSL_CTX_sess_accept_good(ctx);
	out[6] = SSL_CTX_sess_accept_renegotiate(ctx);
	out[7] = SSL_CTX_sess_hits(ctx);
	out[8] = SSL_CTX_sess_cb_hits(ctx);
	out[9] = SSL_CTX_sess_misses(ctx);
	out[10] = SSL_CTX_sess_timeouts(ctx);
	out[11] = SSL_CTX_sess_cache_full(ctx);
}

void go_ctx_flush_sessions(SSL_CTX *ctx, int64_t unix_seconds) {
#if OPENSSL_VERSION_NUMBER >= 0x30400000L
	SSL_CTX_flush_sessions_ex(ctx, (time_t)unix_seconds);
#else
	SSL_CTX_flush_sessions(ctx, (long)unix_seconds);
#endif
}

int go_cache_mode_macro(int i, const char **name, long *value) {
	static const struct {
		const char *name;
		long value;
	} macros[] = {
		{"OFF", SSL_SESS_CACHE_OFF},
		{"CLIENT", SSL_SESS_CACHE_CLIENT},
		{"SERVER", SSL_SESS_CACHE_SERVER},
		{"BOTH", SSL_SESS_CACHE_BOTH},
		{"NO_AUTO_CLEAR", SSL_SESS_CACHE_NO_AUTO_CLEAR},
		{"NO_INTERNAL_LOOKUP", SSL_SESS_CACHE_NO_INTERNAL_LOOKUP},
		{"NO_INTERNAL_STORE", SSL_SESS_CACHE_NO_INTERNAL_STORE},
		{"NO_INTERNAL", SSL_SESS_CACHE_NO_INTERNAL},
#ifdef SSL_SESS_CACHE_UPDATE_TIME
		{"UPDATE_TIME", SSL_SESS_CACHE_UPDATE_TIME},
#endif
	};
	if (i < 0 || i >= (int)(sizeof(macros) / sizeof(macros[0])))
		return 0;
	*name = macros[i].name;
	*value = macros[i].value;
	return 1;
}

// ---- ex_data slots ----

static pthread_once_t go_index_once = PTHREAD_ONCE_INIT;
static int go_ctx_idx = -1;         // SSL_CTX: uintptr_t cgo.Handle
static int go_ssl_sessctx_idx = -1; // SSL: the SSL_CTX given to SSL_new, referenced
static int go_ssl_key_idx = -1;     // SSL: malloc'd client cache key
static int go_ssl_sni_idx = -1;     // SSL: malloc'd server name the client sent
static int go_sess_key_idx = -1;    // SSL_SESSION: malloc'd client cache key
static int go_ctx_freeing_idx = -1; // SSL_CTX: set once SSL_CTX_free empties its cache
int go_ctx_ticket_idx = -1;         // SSL_CTX: stateless ticket key ring (ctx_cgo.c)
int go_ssl_psk_id_idx = -1;         // SSL: the PSK identity a client offers (psk_cgo.c)
int go_ctx_alpn_idx = -1;           // SSL_CTX: the server's ALPN list (alpn_cgo.c)
int go_ssl_early_check_idx = -1;    // SSL: what the allow-early-data callback decided, an int (earlydata_cgo.c)

// OpenSSL 3.0 changed the type of a dup callback's from_d argument from
// void * (holding a void **) to void **.
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
typedef void **go_from_d;
#else
typedef void *go_from_d;
#endif

static void go_ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
	if (ptr != NULL)
		goCtxStateFree((uintptr_t)ptr);
}

static void go_openssl_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
	OPENSSL_free(ptr);
}

// A string slot is copied by SSL_dup (each SSL frees its own) and freed
// with its SSL.
static int go_str_ex_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, go_from_d from_d, int idx, long argl, void *argp) {
	char **p = (char **)from_d;
	if (*p != NULL && (*p = strdup(*p)) == NULL)
		return 0;
	return 1;
}

static void go_str_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
	free(ptr);
}

// The session-context slot holds a reference of its own, taken when it is
// set and by SSL_dup, dropped when its SSL is freed.
static int go_ctx_ref_ex_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, go_from_d from_d, int idx, long argl, void *argp) {
	SSL_CTX **p = (SSL_CTX **)from_d;
	if (*p != NULL && !SSL_CTX_up_ref(*p))
		*p = NULL;
	return 1;
}

static void go_ctx_ref_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
	SSL_CTX_free(ptr);
}

static void go_init_indexes(void) {
	go_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, go_ctx_ex_free);
	go_ssl_sessctx_idx = SSL_get_ex_new_index(0, NULL, NULL, go_ctx_ref_ex_dup, go_ctx_ref_ex_free);
	go_ssl_key_idx = SSL_get_ex_new_index(0, NULL, NULL, go_str_ex_dup, go_str_ex_free);
	go_ssl_sni_idx = SSL_get_ex_new_index(0, NULL, NULL, go_str_ex_dup, go_str_ex_free);
	go_sess_key_idx = SSL_SESSION_get_ex_new_index(0, NULL, NULL, go_str_ex_dup, go_str_ex_free);
	go_ctx_freeing_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	go_ctx_ticket_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, go_ticket_ring_free);
	go_ssl_psk_id_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, go_openssl_ex_free);
	go_ctx_alpn_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, go_alpn_free);
	go_ssl_early_check_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

int go_init_ex_indexes(void) {
	pthread_once(&go_index_once, go_init_indexes);
	return go_ctx_idx >= 0 && go_ssl_sessctx_idx >= 0 && go_ssl_key_idx >= 0 && go_ssl_sni_idx >= 0 && go_sess_key_idx >= 0 && go_ctx_freeing_idx >= 0 && go_ctx_ticket_idx >= 0 && go_ssl_psk_id_idx >= 0 && go_ctx_alpn_idx >= 0 && go_ssl_early_check_idx >= 0;
}

// go_ctx_set_handle attaches the Go state, and makes room for every slot
// the bridge sets later: CRYPTO_set_ex_data grows the slot array (a
// realloc) when it sets a slot past its end, which must not happen while
// other threads read the context's slots (every callback does).
int go_ctx_set_handle(SSL_CTX *ctx, uintptr_t h) {
	int last = go_ctx_idx;
	if (go_ctx_freeing_idx > last)
		last = go_ctx_freeing_idx;
	if (go_ctx_ticket_idx > last)
		last = go_ctx_ticket_idx;
	if (go_ctx_alpn_idx > last)
		last = go_ctx_alpn_idx;
	if (SSL_CTX_get_ex_data(ctx, last) == NULL && !SSL_CTX_set_ex_data(ctx, last, NULL))
		return 0;
	return SSL_CTX_set_ex_data(ctx, go_ctx_idx, (void *)h);
}

uintptr_t go_ctx_get_handle(SSL_CTX *ctx) {
	if (ctx == NULL)
		return 0;
	return (uintptr_t)SSL_CTX_get_ex_data(ctx, go_ctx_idx);
}

// go_ssl_session_ctx returns the context whose session cache and callbacks
// serve ssl: the one given to SSL_new, even after a server-name callback
// switched ssl to another context (libssl keeps that one as
// ssl->session_ctx, with no getter).
SSL_CTX *go_ssl_session_ctx(SSL *ssl) {
	SSL_CTX *c = SSL_get_ex_data(ssl, go_ssl_sessctx_idx);
	return c != NULL ? c : SSL_get_SSL_CTX(ssl);
}

static int go_ssl_remember_session_ctx(SSL *ssl) {
	SSL_CTX *c;
	if (SSL_get_ex_data(ssl, go_ssl_sessctx_idx) != NULL)
		return 1;
	c = SSL_get_SSL_CTX(ssl);
	if (!SSL_CTX_up_ref(c))
		return 0;
	if (!SSL_set_ex_data(ssl, go_ssl_sessctx_idx, c)) {
		SSL_CTX_free(c);
		return 0;
	}
	return 1;
}

static int go_ssl_set_str(SSL *ssl, int idx, const char *s, size_t n) {
	char *dup = NULL;
	if (s != NULL && (dup = strndup(s, n)) == NULL)
		return 0;
	free(SSL_get_ex_data(ssl, idx));
	if (!SSL_set_ex_data(ssl, idx, dup)) {
		free(dup);
		return 0;
	}
	return 1;
}

int go_ssl_set_cache_key(SSL *ssl, const char *key) {
	return go_ssl_set_str(ssl, go_ssl_key_idx, key, key != NULL ? strlen(key) : 0);
}

const char *go_ssl_get_cache_key(SSL *ssl) {
	return SSL_get_ex_data(ssl, go_ssl_key_idx);
}

const char *go_ssl_client_sni(SSL *ssl) {
	return SSL_get_ex_data(ssl, go_ssl_sni_idx);
}

// A client session kept in a ClientSessionCache carries its key, so that
// libssl's removal of it (a fatal alert, a bad session, an eviction) can be
// told to the cache.
int go_session_set_cache_key(SSL_SESSION *sess, const char *key) {
	char *dup = NULL;
	if (key != NULL && (dup = strdup(key)) == NULL)
		return 0;
	free(SSL_SESSION_get_ex_data(sess, go_sess_key_idx));
	if (!SSL_SESSION_set_ex_data(sess, go_sess_key_idx, dup)) {
		free(dup);
		return 0;
	}
	return 1;
}

const char *go_session_get_cache_key(SSL_SESSION *sess) {
	return SSL_SESSION_get_ex_data(sess, go_sess_key_idx);
}

// ---- session callbacks ----

static int go_new_cb(SSL *ssl, SSL_SESSION *sess) {
	SSL_CTX *sctx = go_ssl_session_ctx(ssl);
	uintptr_t h = go_ctx_get_handle(sctx);
	// Returning 1 hands libssl's reference to Go, which owns it from here
	// (and hands it to user code as a *Session of its own).
	if (h == 0)
		return 0;
	return goNewSession(h, ssl, sess, SSL_CTX_get_session_cache_mode(sctx));
}

static SSL_SESSION *go_get_cb(SSL *ssl, const unsigned char *id, int len, int *copy) {
	SSL_CTX *sctx = go_ssl_session_ctx(ssl);
	uintptr_t h = go_ctx_get_handle(sctx);
	// Go hands over a reference of its own: libssl must not add another.
	*copy = 0;
	if (h == 0 || len < 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH)
		return NULL;
	return goGetSession(h, ssl, (unsigned char *)id, len, SSL_CTX_get_session_cache_mode(sctx));
}

// go_remove_cb runs with the context's cache lock held. It tells a live
// context's removals from those of SSL_CTX_free, which empties the cache of
// a context whose last reference is gone: SSL_CTX_up_ref reports whether
// the count it raised was above zero. Every other caller of the remove
// callback (a flush, an eviction, a bad session) acts through a reference
// of its own, so the one taken here is never the last and is dropped at
// once. On the free path the count raised from zero is left to the free
// in progress, which no longer reads it, and a mark in ex_data (freed
// right after the flush) answers for the rest of the flush.
static void go_remove_cb(SSL_CTX *ctx, SSL_SESSION *sess) {
	unsigned int n = 0;
	const unsigned char *id;
	uintptr_t h = go_ctx_get_handle(ctx);
	if (h == 0)
		return;
	if (SSL_CTX_get_ex_data(ctx, go_ctx_freeing_idx) != NULL || SSL_CTX_up_ref(ctx) != 1) {
		SSL_CTX_set_ex_data(ctx, go_ctx_freeing_idx, (void *)1);
		goRemoveSkipped(h);
		return;
	}
	id = SSL_SESSION_get_id(sess, &n);
	goRemoveSession(h, (unsigned char *)id, (int)n, (char *)go_session_get_cache_key(sess));
	SSL_CTX_free(ctx);
}

void go_ctx_install_session_callbacks(SSL_CTX *ctx, int new_cb, int get_cb, int remove_cb) {
	SSL_CTX_sess_set_new_cb(ctx, new_cb ? go_new_cb : NULL);
	SSL_CTX_sess_set_get_cb(ctx, get_cb ? go_get_cb : NULL);
	SSL_CTX_sess_set_remove_cb(ctx, remove_cb ? go_remove_cb : NULL);
}

// ---- server name ----

// go_servername_cb asks Go which context serves the name. Go returns the
// target with a reference taken for this call (so that nothing frees it
// before SSL_set_SSL_CTX takes its own), dropped here after the switch.
static int go_servername_cb(SSL *ssl, int *al, void *arg) {
	SSL_CTX *orig = SSL_get_SSL_CTX(ssl);
	uintptr_t h = go_ctx_get_handle(go_ssl_session_ctx(ssl));
	SSL_CTX *to = NULL;
	int alert = 0, ret = SSL_TLSEXT_ERR_OK;
	if (h == 0)
		return SSL_TLSEXT_ERR_NOACK;
	to = goSelectServerCtx(h, ssl, &alert);
	if (alert != 0) {
		*al = alert;
		ret = SSL_TLSEXT_ERR_ALERT_FATAL;
	} else if (to != NULL && to != orig) {
		if (!go_ssl_remember_session_ctx(ssl) || SSL_set_SSL_CTX(ssl, to) == NULL) {
			*al = SSL_AD_INTERNAL_ERROR;
			ret = SSL_TLSEXT_ERR_ALERT_FATAL;
		}
	}
	SSL_CTX_free(to);
	return ret;
}

void go_ctx_install_servername_callback(SSL_CTX *ctx, int on) {
	if (on)
		SSL_CTX_set_tlsext_servername_callback(ctx, go_servername_cb);
	else
		SSL_CTX_set_tlsext_servername_callback(ctx, NULL);
}

// go_client_hello_cb keeps the host name the client sent, which libssl
// forgets on a TLS 1.2 resumption (SSL_get_servername then reports the
// name stored in the session, often none). It stays in C: no Go call.
static int go_client_hello_cb(SSL *ssl, int *al, void *arg) {
	const unsigned char *p;
	size_t len, list, n;
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len))
		return SSL_CLIENT_HELLO_SUCCESS;
	// ServerNameList: u16 length, then entries of u8 type, u16 length, name.
	if (len < 5)
		return SSL_CLIENT_HELLO_SUCCESS;
	list = ((size_t)p[0] << 8) | p[1];
	if (list != len - 2 || p[2] != TLSEXT_NAMETYPE_host_name)
		return SSL_CLIENT_HELLO_SUCCESS;
	n = ((size_t)p[3] << 8) | p[4];
	if (n == 0 || n > len - 5 || n > TLSEXT_MAXLEN_host_name || memchr(p + 5, 0, n) != NULL)
		return SSL_CLIENT_HELLO_SUCCESS;
	go_ssl_set_str(ssl, go_ssl_sni_idx, (const char *)p + 5, n);
	return SSL_CLIENT_HELLO_SUCCESS;
}

void go_ctx_install_client_hello_callback(SSL_CTX *ctx) {
	SSL_CTX_set_client_hello_cb(ctx, go_client_hello_cb, NULL);
}

// go_bench_callback crosses from C into Go n times, to measure one callback.
void go_bench_callback(uintptr_t h, int n) {
	for (int i = 0; i < n; i++)
		goNoopCallback(h);
}
