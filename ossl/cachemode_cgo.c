// cachemode_cgo.c is package ossl's one C file: shims for OpenSSL macros that
// cgo cannot call, guards for the differences between OpenSSL 1.1.1 and 3.x,
// the in-memory handshake driver, and the trampolines that carry libssl's
// session callbacks to the exported Go functions of callbacks_export.go.
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
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

int go_ctx_set_proto_bounds(SSL_CTX *ctx, int min, int max) {
	return SSL_CTX_set_min_proto_version(ctx, min) && SSL_CTX_set_max_proto_version(ctx, max);
}

uint64_t go_ctx_set_options(SSL_CTX *ctx, uint64_t op) { return (uint64_t)SSL_CTX_set_options(ctx, op); }
uint64_t go_ctx_clear_options(SSL_CTX *ctx, uint64_t op) { return (uint64_t)SSL_CTX_clear_options(ctx, op); }
uint64_t go_ctx_get_options(SSL_CTX *ctx) { return (uint64_t)SSL_CTX_get_options(ctx); }
uint64_t go_op_no_ticket(void) { return (uint64_t)SSL_OP_NO_TICKET; }

// go_ctx_use_cert_key_pem loads a leaf certificate, any chain certificates
// after it, and a private key from PEM buffers.
int go_ctx_use_cert_key_pem(SSL_CTX *ctx, const char *cert, int cert_len, const char *key, int key_len) {
	int ok = 0;
	X509 *leaf = NULL, *extra = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *cb = BIO_new_mem_buf(cert, cert_len);
	BIO *kb = BIO_new_mem_buf(key, key_len);
	if (cb == NULL || kb == NULL)
		goto out;
	leaf = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	if (leaf == NULL || SSL_CTX_use_certificate(ctx, leaf) != 1)
		goto out;
	if (SSL_CTX_clear_chain_certs(ctx) != 1)
		goto out;
	while ((extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
			X509_free(extra);
			goto out;
		}
	}
	ERR_clear_error(); // the end of the PEM stream is reported as an error
	pkey = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (pkey == NULL || SSL_CTX_use_PrivateKey(ctx, pkey) != 1)
		goto out;
	ok = SSL_CTX_check_private_key(ctx);
out:
	X509_free(leaf);
	EVP_PKEY_free(pkey);
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

unsigned long go_err_next(const char **file, int *line, const char **func, const char **data, int *flags) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	return ERR_get_error_all(file, line, func, data, flags);
#else
	*func = NULL;
	return ERR_get_error_line_data(file, line, data, flags);
#endif
}

int64_t go_session_get_time(const SSL_SESSION *s) {
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
	return (int64_t)SSL_SESSION_get_time_ex(s);
#else
	return (int64_t)SSL_SESSION_get_time(s);
#endif
}

int go_session_set_time(SSL_SESSION *s, int64_t t) {
#if OPENSSL_VERSION_NUMBER >= 0x30300000L
	return SSL_SESSION_set_time_ex(s, (time_t)t) != 0;
#else
	return SSL_SESSION_set_time(s, (long)t) != 0;
#endif
}

SSL_SESSION *go_d2i_session(const unsigned char *der, long len, long *consumed) {
	const unsigned char *p = der;
	SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, len);
	*consumed = (long)(p - der);
	return s;
}

int go_i2d_session(SSL_SESSION *s, unsigned char *out) {
	unsigned char *p = out;
	return i2d_SSL_SESSION(s, out != NULL ? &p : NULL);
}

int go_set_tlsext_host_name(SSL *ssl, const char *name) {
	return (int)SSL_set_tlsext_host_name(ssl, name);
}

// go_session_check says why libssl must not be handed s for a lookup of id
// made under sid_ctx at time now, in one call: 0 fine, 1 another session's
// ID, 2 expired, 3 not resumable, 4 another id context (checked only when
// check_sid is set).
int go_session_check(const SSL_SESSION *s, const unsigned char *id, unsigned int id_len,
                     const unsigned char *sid_ctx, unsigned int sid_len, int check_sid, int64_t now) {
	unsigned int n;
	const unsigned char *sid = SSL_SESSION_get_id(s, &n);
	if (n != id_len || memcmp(sid, id, n) != 0)
		return 1;
	if (go_session_get_time(s) + (int64_t)SSL_SESSION_get_timeout(s) <= now)
		return 2;
	if (!SSL_SESSION_is_resumable(s))
		return 3;
	if (check_sid) {
		const unsigned char *c = SSL_SESSION_get0_id_context(s, &n);
		if (n != sid_len || (n > 0 && memcmp(c, sid_ctx, n) != 0))
			return 4;
	}
	return 0;
}

int go_session_up_ref(SSL_SESSION *s) { return SSL_SESSION_up_ref(s); }

int go_session_set1_id(SSL_SESSION *s, const unsigned char *id, unsigned int len) {
	return SSL_SESSION_set1_id(s, id, len);
}

// ---- In-memory handshake driver ----

static int64_t go_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// go_pair_step runs one libssl call for one side; it returns 1 when the call
// completed, 0 when it wants I/O from the peer, -1 on failure.
static int go_pair_step(int rc, SSL *ssl, go_pair_result *r, int side) {
	if (rc > 0)
		return 1;
	int e = SSL_get_error(ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	r->failed_side = side;
	r->ssl_error = e;
	return -1;
}

#define GO_TIMED(acc, call) ({ int64_t t0_ = go_now_ns(); int rc_ = (call); (acc) += go_now_ns() - t0_; rc_; })

int go_pair_run(SSL *client, SSL *server, int read_tickets, go_pair_result *r) {
	BIO *cbio = NULL, *sbio = NULL;
	unsigned char buf[16];
	int cdone = 0, sdone = 0, st;

	memset(r, 0, sizeof(*r));
	if (!BIO_new_bio_pair(&cbio, 0, &sbio, 0)) {
		r->failed_side = 3;
		return 0;
	}
	SSL_set_bio(client, cbio, cbio);
	SSL_set_bio(server, sbio, sbio);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);

	r->step = 1;
	for (r->rounds = 0; r->rounds < 32 && !(cdone && sdone); r->rounds++) {
		if (!cdone) {
			st = go_pair_step(GO_TIMED(r->client_ns, SSL_do_handshake(client)), client, r, 1);
			if (st < 0)
				return 0;
			cdone = st;
		}
		if (!sdone) {
			st = go_pair_step(GO_TIMED(r->server_ns, SSL_do_handshake(server)), server, r, 2);
			if (st < 0)
				return 0;
			sdone = st;
		}
	}
	if (!(cdone && sdone)) {
		r->failed_side = 3;
		return 0;
	}

	// TLS 1.3 servers send their tickets after the handshake; the client
	// processes them on its next read, which then wants more data.
	r->step = 2;
	if (read_tickets) {
		int rc = GO_TIMED(r->client_ns, SSL_read(client, buf, sizeof(buf)));
		if (go_pair_step(rc, client, r, 1) != 0) {
			if (r->failed_side == 0) {
				r->failed_side = 1; // unexpected application data
				r->ssl_error = SSL_ERROR_SSL;
			}
			return 0;
		}
	}

	// Clean bidirectional close_notify, so both sessions stay resumable.
	r->step = 3;
	GO_TIMED(r->client_ns, SSL_shutdown(client));
	st = GO_TIMED(r->server_ns, SSL_read(server, buf, sizeof(buf)));
	if (st > 0 || SSL_get_error(server, st) != SSL_ERROR_ZERO_RETURN) {
		r->failed_side = 2;
		r->ssl_error = st > 0 ? SSL_ERROR_SSL : SSL_get_error(server, st);
		return 0;
	}
	if (GO_TIMED(r->server_ns, SSL_shutdown(server)) != 1) {
		r->failed_side = 2;
		r->ssl_error = SSL_get_error(server, 0);
		return 0;
	}
	if (GO_TIMED(r->client_ns, SSL_shutdown(client)) != 1) {
		r->failed_side = 1;
		r->ssl_error = SSL_get_error(client, 0);
		return 0;
	}
	return 1;
}

// ---- Callback trampolines ----
//
// A context's Go state is reached through a runtime/cgo.Handle stored as an
// integer in the context's ex_data; libssl's ex_data free callback releases
// it when the context is freed. No Go pointer is ever kept in C memory.

static pthread_once_t go_index_once = PTHREAD_ONCE_INIT;
static int go_ctx_idx = -1;        // SSL_CTX: uintptr_t cgo.Handle
static int go_ssl_sessctx_idx = -1; // SSL: the SSL_CTX given to SSL_new
static int go_ssl_key_idx = -1;     // SSL: malloc'd client cache key

static void go_ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
	if (ptr != NULL)
		goCtxStateFree((uintptr_t)ptr);
}

static void go_ssl_key_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
	free(ptr);
}

static void go_init_indexes(void) {
	go_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, go_ctx_ex_free);
	go_ssl_sessctx_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	go_ssl_key_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, go_ssl_key_ex_free);
}

int go_ctx_handle_index(void) {
	pthread_once(&go_index_once, go_init_indexes);
	return go_ctx_idx >= 0 && go_ssl_sessctx_idx >= 0 && go_ssl_key_idx >= 0;
}

int go_ctx_set_handle(SSL_CTX *ctx, uintptr_t h) {
	if (!go_ctx_handle_index())
		return 0;
	return SSL_CTX_set_ex_data(ctx, go_ctx_idx, (void *)h);
}

uintptr_t go_ctx_get_handle(SSL_CTX *ctx) {
	if (go_ctx_idx < 0 || ctx == NULL)
		return 0;
	return (uintptr_t)SSL_CTX_get_ex_data(ctx, go_ctx_idx);
}

// go_session_ctx returns the context whose session cache and callbacks serve
// ssl: the one given to SSL_new, even after an SNI callback switched ssl to
// another context (libssl keeps that one as ssl->session_ctx).
static SSL_CTX *go_session_ctx(SSL *ssl) {
	SSL_CTX *c = go_ssl_sessctx_idx >= 0 ? SSL_get_ex_data(ssl, go_ssl_sessctx_idx) : NULL;
	return c != NULL ? c : SSL_get_SSL_CTX(ssl);
}

int go_ssl_remember_session_ctx(SSL *ssl) {
	if (!go_ctx_handle_index())
		return 0;
	if (SSL_get_ex_data(ssl, go_ssl_sessctx_idx) != NULL)
		return 1;
	return SSL_set_ex_data(ssl, go_ssl_sessctx_idx, SSL_get_SSL_CTX(ssl));
}

SSL_CTX *go_ssl_session_ctx(SSL *ssl) { return go_session_ctx(ssl); }

int go_ssl_set_cache_key(SSL *ssl, const char *key) {
	char *dup;
	if (!go_ctx_handle_index())
		return 0;
	dup = key != NULL ? strdup(key) : NULL;
	if (key != NULL && dup == NULL)
		return 0;
	free(SSL_get_ex_data(ssl, go_ssl_key_idx));
	if (!SSL_set_ex_data(ssl, go_ssl_key_idx, dup)) {
		free(dup);
		return 0;
	}
	return 1;
}

const char *go_ssl_get_cache_key(SSL *ssl) {
	return go_ssl_key_idx >= 0 ? SSL_get_ex_data(ssl, go_ssl_key_idx) : NULL;
}

static int go_new_cb(SSL *ssl, SSL_SESSION *sess) {
	SSL_CTX *sctx = go_session_ctx(ssl);
	uintptr_t h = go_ctx_get_handle(sctx);
	// Go never keeps libssl's reference (it takes its own), so 0 always
	// tells libssl to drop the one it lent us.
	if (h != 0)
		goNewSession(h, ssl, sess, SSL_CTX_get_session_cache_mode(sctx));
	return 0;
}

static SSL_SESSION *go_get_cb(SSL *ssl, const unsigned char *id, int len, int *copy) {
	SSL_CTX *sctx = go_session_ctx(ssl);
	uintptr_t h = go_ctx_get_handle(sctx);
	// Go hands over a reference of its own: libssl must not add another.
	*copy = 0;
	if (h == 0)
		return NULL;
	return goGetSession(h, ssl, (unsigned char *)id, len, SSL_CTX_get_session_cache_mode(sctx));
}

static void go_remove_cb(SSL_CTX *ctx, SSL_SESSION *sess) {
	uintptr_t h = go_ctx_get_handle(ctx);
	if (h != 0)
		goRemoveSession(h, sess);
}

void go_ctx_install_session_callbacks(SSL_CTX *ctx, int new_cb, int get_cb, int remove_cb) {
	SSL_CTX_sess_set_new_cb(ctx, new_cb ? go_new_cb : NULL);
	SSL_CTX_sess_set_get_cb(ctx, get_cb ? go_get_cb : NULL);
	SSL_CTX_sess_set_remove_cb(ctx, remove_cb ? go_remove_cb : NULL);
}

static int go_servername_cb(SSL *ssl, int *al, void *arg) {
	SSL_CTX *orig = SSL_get_SSL_CTX(ssl);
	uintptr_t h = go_ctx_get_handle(orig);
	SSL_CTX *to;
	if (h == 0)
		return SSL_TLSEXT_ERR_NOACK;
	to = goSelectServerCtx(h, ssl);
	if (to == NULL || to == orig)
		return SSL_TLSEXT_ERR_OK;
	if (!go_ssl_remember_session_ctx(ssl) || SSL_set_SSL_CTX(ssl, to) == NULL) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

void go_ctx_install_servername_callback(SSL_CTX *ctx, int on) {
	if (on)
		SSL_CTX_set_tlsext_servername_callback(ctx, go_servername_cb);
	else
		SSL_CTX_set_tlsext_servername_callback(ctx, NULL);
}

// go_bench_callback crosses from C into Go n times, to measure one callback.
void go_bench_callback(uintptr_t h, int n) {
	for (int i = 0; i < n; i++)
		goNoopCallback(h);
}
