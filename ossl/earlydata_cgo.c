// earlydata_cgo.c holds package ossl's TLS 1.3 early data (0-RTT) shims:
// the limits of SSL_CTX_set_max_early_data(3), the trampoline of
// SSL_CTX_set_allow_early_data_cb, which carries the decision to Go, and
// the early data reads and writes of Conn and the in-memory pair.
#include <string.h>
#include "shim.h"
#include "_cgo_export.h"

int go_ctx_set_max_early_data(SSL_CTX *ctx, uint32_t n) { return SSL_CTX_set_max_early_data(ctx, n); }
uint32_t go_ctx_get_max_early_data(SSL_CTX *ctx) { return SSL_CTX_get_max_early_data(ctx); }
int go_ssl_set_max_early_data(SSL *s, uint32_t n) { return SSL_set_max_early_data(s, n); }
uint32_t go_ssl_get_max_early_data(SSL *s) { return SSL_get_max_early_data(s); }
int go_ctx_set_recv_max_early_data(SSL_CTX *ctx, uint32_t n) { return SSL_CTX_set_recv_max_early_data(ctx, n); }
uint32_t go_ctx_get_recv_max_early_data(SSL_CTX *ctx) { return SSL_CTX_get_recv_max_early_data(ctx); }
int go_ssl_set_recv_max_early_data(SSL *s, uint32_t n) { return SSL_set_recv_max_early_data(s, n); }
uint32_t go_ssl_get_recv_max_early_data(SSL *s) { return SSL_get_recv_max_early_data(s); }
uint32_t go_session_max_early_data(const SSL_SESSION *s) { return SSL_SESSION_get_max_early_data(s); }
int go_session_set_max_early_data(SSL_SESSION *s, uint32_t n) { return SSL_SESSION_set_max_early_data(s, n); }
int go_ssl_early_data_status(SSL *s) { return SSL_get_early_data_status(s); }

// go_allow_early_data_cb asks the Go state of the context whose cache
// serves s, and records its decision (an EarlyDataCheck) on s. libssl
// copies the callback into every SSL at SSL_new, so an SSL made before the
// Go callback was removed still comes here: with no Go callback (0),
// early data is allowed, as with no callback at all.
static int go_allow_early_data_cb(SSL *s, void *arg) {
	uintptr_t h = go_ctx_get_handle(go_ssl_session_ctx(s));
	int check = h != 0 ? goAllowEarlyData(h, s) : 0;
	if (check != 0)
		SSL_set_ex_data(s, go_ssl_early_check_idx, (void *)(intptr_t)check);
	return check == 0 || check == GO_EARLY_CHECK_ALLOWED;
}

int go_ssl_early_check(SSL *s) { return (int)(intptr_t)SSL_get_ex_data(s, go_ssl_early_check_idx); }

void go_ctx_set_allow_early_data_cb(SSL_CTX *ctx, int on) {
	SSL_CTX_set_allow_early_data_cb(ctx, on ? go_allow_early_data_cb : NULL, NULL);
}

// go_early_data_session describes the session a client resumes, as the
// allow callback sees it: its ID (unique to each ticket the server issued),
// its time and expiry.
int go_early_data_session(SSL *s, unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH], unsigned int *id_len,
                          int64_t *time, int64_t *expires, uint32_t *max_early) {
	SSL_SESSION *sess = SSL_get_session(s);
	const unsigned char *p;
	*id_len = 0;
	if (sess == NULL)
		return 0;
	p = SSL_SESSION_get_id(sess, id_len);
	if (*id_len > SSL_MAX_SSL_SESSION_ID_LENGTH)
		*id_len = SSL_MAX_SSL_SESSION_ID_LENGTH;
	memcpy(id, p, *id_len);
	*time = go_session_get_time(sess);
	*expires = go_session_expires(sess);
	*max_early = SSL_SESSION_get_max_early_data(sess);
	return 1;
}

// go_early_data_limit is the early data limit of the session a client
// offers; 0 without a session. *resumable is 0 when that session can no
// longer be resumed (libssl would start a full handshake, with no early
// data, instead).
uint32_t go_early_data_limit(SSL *s, int *resumable) {
	SSL_SESSION *sess = SSL_get_session(s);
	*resumable = sess != NULL && SSL_SESSION_is_resumable(sess);
	return sess != NULL ? SSL_SESSION_get_max_early_data(sess) : 0;
}

// go_write_early_data writes n bytes of early data. libssl disables
// partial writes of early data and retries from the same memory, so a Conn
// copies src into *wbuf, C memory allocated here and kept until the write
// completes (as go_conn_write does); the pair, whose writes are never
// retried from another call, passes wbuf NULL. r->rc is 1 when written.
void go_write_early_data(SSL *ssl, BIO *net, int fd, void **wbuf, const void *src, size_t n, size_t *written, go_conn_res *r) {
	int rc;
	if (wbuf != NULL) {
		if (*wbuf == NULL) {
			if ((*wbuf = OPENSSL_malloc(n)) == NULL) {
				go_conn_done(ssl, net, 0, SSL_ERROR_SSL, r);
				return;
			}
			memcpy(*wbuf, src, n);
		}
		src = *wbuf;
	}
	go_conn_begin(ssl, fd);
	ERR_clear_error();
	*written = 0;
	rc = SSL_write_early_data(ssl, src, n, written);
	go_conn_done(ssl, net, rc, rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, 0), r);
	if (rc == 1 && wbuf != NULL) {
		OPENSSL_free(*wbuf);
		*wbuf = NULL;
	}
}

// go_read_early_data reads early data into buf: r->rc is
// SSL_READ_EARLY_DATA_SUCCESS (*got bytes), _FINISH (no more), or _ERROR
// (r->err says whether to retry).
void go_read_early_data(SSL *ssl, BIO *net, int fd, void *buf, size_t n, size_t *got, go_conn_res *r) {
	int rc;
	go_conn_begin(ssl, fd);
	ERR_clear_error();
	*got = 0;
	rc = SSL_read_early_data(ssl, buf, n, got);
	go_conn_done(ssl, net, rc, rc != SSL_READ_EARLY_DATA_ERROR ? SSL_ERROR_NONE : SSL_get_error(ssl, 0), r);
}
