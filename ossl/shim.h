// shim.h declares the C side of package ossl. Every name is go_-prefixed.
// The definitions live in files named by what they hold:
//
//   cachemode_cgo.c  session-cache shims (mode, size, timeout, statistics,
//                    flushing) and the trampolines that carry libssl's
//                    session, server-name and client-hello callbacks to the
//                    exported Go functions of callbacks_export.go
//   ctx_cgo.c        context setup: PEM certificates and keys, trust,
//                    options, protocol versions, stateless ticket keys
//   session_cgo.c    SSL_SESSION shims: time, DER, checks
//   errors_cgo.c     the per-thread error queue
//   conn_cgo.c       the BIO pair behind Conn, the net.Conn type
//   pair_cgo.c       the in-memory handshake driver of ossltest
//   tickets_cgo.c    session ticket callbacks, per-connection tickets
//   psk_cgo.c        TLS 1.3 external PSK callbacks
//   earlydata_cgo.c  TLS 1.3 early data: limits, the allow callback, reads
//                    and writes
//   alpn_cgo.c       ALPN: the server's list and selection callback, the
//                    client's offer
//
// Shims exist for OpenSSL macros cgo cannot call and for the differences
// between OpenSSL 1.1.1 and 3.x; functions cgo can call are called directly.
#ifndef OSSLCACHE_SHIM_H
#define OSSLCACHE_SHIM_H

#include <stddef.h>
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

// ---- cachemode_cgo.c ----

long go_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode);
long go_ctx_get_session_cache_mode(SSL_CTX *ctx);
long go_ctx_sess_set_cache_size(SSL_CTX *ctx, long size);
long go_ctx_sess_get_cache_size(SSL_CTX *ctx);
void go_ctx_stats(SSL_CTX *ctx, long out[GO_STATS_LEN]);
void go_ctx_flush_sessions(SSL_CTX *ctx, int64_t unix_seconds);

// Cache mode macros as compiled by the C compiler, for the test that
// compares them with the Go constants.
int go_cache_mode_macro(int i, const char **name, long *value);

// ex_data slots: the context's Go state (a cgo.Handle, an integer), and per
// SSL the context whose cache serves it, the client cache key, and the
// server name the client sent.
int go_init_ex_indexes(void);
int go_ctx_set_handle(SSL_CTX *ctx, uintptr_t h);
uintptr_t go_ctx_get_handle(SSL_CTX *ctx);
SSL_CTX *go_ssl_session_ctx(SSL *ssl);
int go_ssl_set_cache_key(SSL *ssl, const char *key);
const char *go_ssl_get_cache_key(SSL *ssl);
const char *go_ssl_client_sni(SSL *ssl);
int go_session_set_cache_key(SSL_SESSION *sess, const char *key);
const char *go_session_get_cache_key(SSL_SESSION *sess);

void go_ctx_install_session_callbacks(SSL_CTX *ctx, int new_cb, int get_cb, int remove_cb);
void go_ctx_install_servername_callback(SSL_CTX *ctx, int on);
void go_ctx_install_client_hello_callback(SSL_CTX *ctx);
void go_bench_callback(uintptr_t h, int n);

// ---- session_cgo.c ----

int64_t go_session_get_time(const SSL_SESSION *s);
int go_session_set_time(SSL_SESSION *s, int64_t t);
int64_t go_session_get_timeout(const SSL_SESSION *s);
int64_t go_session_expires(const SSL_SESSION *s);
int go_i2d_session(SSL_SESSION *s, unsigned char *out);
SSL_SESSION *go_d2i_session(const unsigned char *der, long len, long *consumed);
int go_session_check(const SSL_SESSION *s, const unsigned char *id, unsigned int id_len,
                     const unsigned char *sid_ctx, unsigned int sid_len, int check_sid, int64_t now);

// ---- errors_cgo.c ----

// go_err_next pops the oldest entry of this thread's error queue; 0 when
// empty.
unsigned long go_err_next(const char **file, int *line, const char **func, const char **data, int *flags);

// ---- ctx_cgo.c ----

int go_ctx_set_min_proto(SSL_CTX *ctx, int v);
int go_ctx_set_max_proto(SSL_CTX *ctx, int v);
int go_ctx_get_min_proto(SSL_CTX *ctx);
int go_ctx_get_max_proto(SSL_CTX *ctx);
int go_ssl_set_min_proto(SSL *ssl, int v);
int go_ssl_set_max_proto(SSL *ssl, int v);
uint64_t go_ctx_set_options(SSL_CTX *ctx, uint64_t op);
uint64_t go_ctx_clear_options(SSL_CTX *ctx, uint64_t op);
uint64_t go_ctx_get_options(SSL_CTX *ctx);
int go_ctx_use_cert_key_pem(SSL_CTX *ctx, const char *cert, int cert_len, const char *key, int key_len);
int go_ctx_add_trusted_pem(SSL_CTX *ctx, const char *pem, int len);
int go_set_tlsext_host_name(SSL *ssl, const char *name);

// Stateless ticket keys: 80 bytes each (16-byte name, 32-byte HMAC key,
// 32-byte AES key); the first encrypts, every one decrypts.
#define GO_TICKET_KEY_SIZE 80
extern int go_ctx_ticket_idx;
void go_ticket_ring_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp);
int go_ctx_set_ticket_keys(SSL_CTX *ctx, const unsigned char *keys, int n);
int go_ctx_ticket_key_count(SSL_CTX *ctx);
int go_ctx_hold_ticket_sealing(SSL_CTX *ctx, int on);

// ---- tickets_cgo.c ----

int go_ctx_set_ticket_callbacks(SSL_CTX *ctx, int on);
int go_ssl_set_ticket_appdata(SSL *s, const unsigned char *data, int len);
const unsigned char *go_session_ticket_appdata(SSL_SESSION *s, size_t *len);
const char *go_session_hostname(const SSL_SESSION *s);
unsigned long go_session_ticket_lifetime_hint(const SSL_SESSION *s);
int go_session_has_ticket(const SSL_SESSION *s);
int go_ssl_set_num_tickets(SSL *s, size_t n);
size_t go_ssl_get_num_tickets(SSL *s);
// Calls a release line lacks: the Go side returns an error naming the
// first line that has them (unsupported in version.go).
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#define GO_HAVE_NEW_SESSION_TICKET 1
#else
#define GO_HAVE_NEW_SESSION_TICKET 0
#endif
// A ticket key callback that declines (returns 0) makes a TLS 1.3 server
// send no NewSessionTicket from 3.0 on; 1.1.1 sends one with an empty
// ticket, which clients reject (construct_stateless_ticket).
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#define GO_HAVE_TLS13_TICKET_DECLINE 1
#else
#define GO_HAVE_TLS13_TICKET_DECLINE 0
#endif
int go_ssl_new_session_ticket(SSL *s);
void go_ssl_set_post_handshake_auth(SSL *s, int on);
int go_ssl_verify_client_post_handshake(SSL *s);
void go_ssl_set_verify(SSL *s, int mode);

// ---- psk_cgo.c ----

int go_ssl_keep_psk_identity(SSL *s, const unsigned char *id, size_t len, const unsigned char **out);
void go_ctx_set_psk_use_callback(SSL_CTX *ctx, int on);
void go_ctx_set_psk_find_callback(SSL_CTX *ctx, int on);
SSL_SESSION *go_new_psk_session(SSL_CTX *ctx, const unsigned char *secret, size_t len, uint16_t suite);

// ---- earlydata_cgo.c ----

int go_ctx_set_max_early_data(SSL_CTX *ctx, uint32_t n);
uint32_t go_ctx_get_max_early_data(SSL_CTX *ctx);
int go_ssl_set_max_early_data(SSL *s, uint32_t n);
uint32_t go_ssl_get_max_early_data(SSL *s);
int go_ctx_set_recv_max_early_data(SSL_CTX *ctx, uint32_t n);
uint32_t go_ctx_get_recv_max_early_data(SSL_CTX *ctx);
int go_ssl_set_recv_max_early_data(SSL *s, uint32_t n);
uint32_t go_ssl_get_recv_max_early_data(SSL *s);
uint32_t go_session_max_early_data(const SSL_SESSION *s);
int go_session_set_max_early_data(SSL_SESSION *s, uint32_t n);
int go_ssl_early_data_status(SSL *s);
void go_ctx_set_allow_early_data_cb(SSL_CTX *ctx, int on);
// What the allow callback decided on an SSL (EarlyDataCheck): 0 it did
// not run, then GO_EARLY_CHECK_ALLOWED, _REFUSED or _FAILED.
#define GO_EARLY_CHECK_ALLOWED 1
#define GO_EARLY_CHECK_REFUSED 2
#define GO_EARLY_CHECK_FAILED 3
extern int go_ssl_early_check_idx;
int go_ssl_early_check(SSL *s);
int go_early_data_session(SSL *s, unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH], unsigned int *id_len,
                          int64_t *time, int64_t *expires, uint32_t *max_early);
uint32_t go_early_data_limit(SSL *s, int *resumable);

// ---- conn_cgo.c ----

// go_conn_res is what one libssl call on a Conn observed, read on the
// thread that made it.
typedef struct {
	int rc;         // the call's return value
	int err;        // SSL_get_error(rc), 0 when rc > 0
	size_t pending; // bytes waiting in the network end of the pair
	// Over a socket (go_conn_attach_socket): the socket's state, which
	// libssl never sees (its BIO only ever asks to retry): the peer ended
	// the stream, or recv failed with this errno (each sticks); this
	// call's writing failed with errno werr; it wrote wrote bytes, and
	// wpend bytes (its own, or before them a Write's that is sending
	// them) wait to be sent (go_conn_send).
	int eof, rerr, werr;
	size_t wrote, wpend;
} go_conn_res;

// A Conn's SSL reads and writes either a BIO pair whose network end Go
// pumps (go_conn_attach; any net.Conn), or, over a TCP socket, the socket
// itself through a BIO of this file (go_conn_attach_socket), given the
// descriptor for the length of each call only: fd is -1 otherwise.
BIO *go_conn_attach(SSL *ssl, size_t bufsize, int server);
int go_conn_attach_socket(SSL *ssl, int server);
int go_conn_set1_host(SSL *ssl, const char *name);
void go_conn_handshake(SSL *ssl, BIO *net, int fd, go_conn_res *r);
void go_conn_read(SSL *ssl, BIO *net, int fd, void *buf, int n, int peek, go_conn_res *r);
void go_conn_write(SSL *ssl, BIO *net, int fd, void **wbuf, const void *src, int n, go_conn_res *r);
void go_conn_shutdown(SSL *ssl, BIO *net, int fd, go_conn_res *r);
int go_conn_partial(SSL *ssl);
void go_conn_keep_session(SSL *ssl);
void go_conn_free(SSL *ssl, BIO *net, void *wbuf);
int go_conn_net_read(BIO *net, void *buf, int n);
int go_conn_net_write(BIO *net, const void *buf, int n);
size_t go_conn_net_room(BIO *net);
int go_conn_cipher_id(SSL *ssl);
const char *go_conn_alpn(SSL *ssl, unsigned int *len);
int go_conn_peer_chain(SSL *ssl, int i, unsigned char **der);
// What every call of the files above does around its libssl call: hand
// the socket's descriptor to the BIO (nothing when fd < 0), and fill r,
// taking the descriptor back.
void go_conn_begin(SSL *ssl, int fd);
void go_conn_done(SSL *ssl, BIO *net, int rc, int err, go_conn_res *r);
void go_conn_send(SSL *ssl, int fd, go_conn_res *r);

// Early data over a Conn or a pair (earlydata_cgo.c); net may be NULL, fd
// -1, wbuf NULL (the bytes are written from src).
void go_write_early_data(SSL *ssl, BIO *net, int fd, void **wbuf, const void *src, size_t n, size_t *written, go_conn_res *r);
void go_read_early_data(SSL *ssl, BIO *net, int fd, void *buf, size_t n, size_t *got, go_conn_res *r);

// ---- alpn_cgo.c ----

// A server context's ALPN list lives in C memory in this ex_data slot
// (allocated with the bridge's other slots), freed with the context.
extern int go_ctx_alpn_idx;
void go_alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp);
int go_ctx_set_alpn(SSL_CTX *ctx, const unsigned char *wire, size_t len, int strict);
int go_ctx_get_alpn(SSL_CTX *ctx, unsigned char *out, size_t cap, int *strict);
int go_ssl_set_alpn(SSL *ssl, const unsigned char *wire, size_t len);

// ---- pair_cgo.c ----

// A live in-memory connection: a client and a server SSL joined by a BIO
// pair. A side's state is 0 running, 1 finished, -1 failed.
int go_pair_attach(SSL *client, SSL *server);
int go_pair_step(SSL *ssl, int *state, int *error, int64_t *ns);
uint64_t go_pair_traffic(SSL *a, SSL *b);
int go_pair_read(SSL *ssl, void *buf, size_t n, size_t *got, int *ssl_error, int64_t *ns);
int go_pair_write(SSL *ssl, const void *buf, size_t n, size_t *put, int *ssl_error, int64_t *ns);
int go_pair_hold_writes(SSL *ssl, int on);
int go_pair_shutdown(SSL *first, SSL *second, int *failed, int *ssl_error, int64_t *first_ns, int64_t *second_ns);
int go_pair_close_notify(SSL *ssl, int *ssl_error, int64_t *ns);

#endif
