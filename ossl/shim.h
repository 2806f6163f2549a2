// shim.h declares the C side of package ossl: thin static-free shims for
// OpenSSL macros cgo cannot call, version guards, and the trampolines that
// bridge libssl callbacks to exported Go functions. Every name is go_-prefixed.
#ifndef OSSLCACHE_SHIM_H
#define OSSLCACHE_SHIM_H

#include <stdint.h>
#include <stdlib.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>

// SSL_SESS_CACHE_UPDATE_TIME exists from OpenSSL 3.0 on; 0 means "not in the
// linked headers".
#ifdef SSL_SESS_CACHE_UPDATE_TIME
#define GO_SESS_CACHE_UPDATE_TIME SSL_SESS_CACHE_UPDATE_TIME
#else
#define GO_SESS_CACHE_UPDATE_TIME 0
#endif

#define GO_STATS_LEN 12

// Cache mode and cache tuning (macros over SSL_CTX_ctrl).
long go_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode);
long go_ctx_get_session_cache_mode(SSL_CTX *ctx);
long go_ctx_sess_set_cache_size(SSL_CTX *ctx, long size);
long go_ctx_sess_get_cache_size(SSL_CTX *ctx);
void go_ctx_stats(SSL_CTX *ctx, long out[GO_STATS_LEN]);
void go_ctx_flush_sessions(SSL_CTX *ctx, int64_t unix_seconds);
int go_ctx_set_proto_bounds(SSL_CTX *ctx, int min, int max);
uint64_t go_ctx_set_options(SSL_CTX *ctx, uint64_t op);
uint64_t go_ctx_clear_options(SSL_CTX *ctx, uint64_t op);
uint64_t go_ctx_get_options(SSL_CTX *ctx);
uint64_t go_op_no_ticket(void);
int go_ctx_use_cert_key_pem(SSL_CTX *ctx, const char *cert, int cert_len, const char *key, int key_len);
int go_ctx_add_trusted_pem(SSL_CTX *ctx, const char *pem, int len);

// Cache mode macros as compiled by the C compiler, for the test that
// compares them with the Go constants.
int go_cache_mode_macro(int i, const char **name, long *value);

// Errors: the next entry of this thread's error queue; 0 when empty.
unsigned long go_err_next(const char **file, int *line, const char **func, const char **data, int *flags);

// Sessions.
int64_t go_session_get_time(const SSL_SESSION *s);
int go_session_set_time(SSL_SESSION *s, int64_t t);
int go_i2d_session(SSL_SESSION *s, unsigned char *out);
SSL_SESSION *go_d2i_session(const unsigned char *der, long len, long *consumed);

// Connections.
int go_set_tlsext_host_name(SSL *ssl, const char *name);

// In-memory pair: BIO pair between a client and a server SSL.
typedef struct {
	int64_t client_ns, server_ns;
	int rounds;
	int failed_side; // 0 none, 1 client, 2 server, 3 stalled
	int ssl_error;   // SSL_get_error of the failing call
	int step;        // 0 attach, 1 handshake, 2 tickets, 3 shutdown
} go_pair_result;

int go_pair_run(SSL *client, SSL *server, int read_tickets, go_pair_result *r);

// Callbacks: ex_data slot of a context holding a cgo.Handle (an integer).
int go_ctx_handle_index(void);
int go_ctx_set_handle(SSL_CTX *ctx, uintptr_t h);
uintptr_t go_ctx_get_handle(SSL_CTX *ctx);
void go_ctx_install_session_callbacks(SSL_CTX *ctx, int new_cb, int get_cb, int remove_cb);
void go_ctx_install_servername_callback(SSL_CTX *ctx, int on);
int go_ssl_remember_session_ctx(SSL *ssl);
SSL_CTX *go_ssl_session_ctx(SSL *ssl);
int go_ssl_set_cache_key(SSL *ssl, const char *key);
const char *go_ssl_get_cache_key(SSL *ssl);
void go_bench_callback(uintptr_t h, int n);
int go_session_check(const SSL_SESSION *s, const unsigned char *id, unsigned int id_len,
                     const unsigned char *sid_ctx, unsigned int sid_len, int check_sid, int64_t now);
int go_session_up_ref(SSL_SESSION *s);
int go_session_set1_id(SSL_SESSION *s, const unsigned char *id, unsigned int len);

#endif
