// conn_cgo.c holds the C side of Conn, package ossl's net.Conn: an SSL
// that reads and writes a TCP socket through a BIO of its own, given the
// descriptor for each call, or, over any other net.Conn, a BIO pair whose
// network end Go pumps to and from it.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <openssl/x509.h>
#include "shim.h"

// ---- the socket BIO ----

// go_sock is the state of a socket BIO. libssl is never told that the
// stream ended or failed: a read or write that cannot complete asks to be
// retried, and Go, which reads this state after each call (r->eof,
// r->rerr, r->werr), reports the end or the failure itself, as it does
// over a pair. So libssl's state is what it is over a pair: a peer that
// drops TCP does not make libssl fail the connection and drop its session
// from the cache, and no alert is written after the peer left.
//
// What libssl writes during a call is collected in out and sent when the
// call returns (go_conn_done), in one send where the socket takes it: a
// flight and the tickets after it, or a record, as the pair's network end
// would hold them. What the socket does not take stays in out, for Go to
// send once it can (go_conn_send) before anything else is waited for;
// libssl never waits to write. out is freed once empty.
typedef struct {
	int fd;   // the socket during a call (go_conn_begin to go_conn_done), else -1
	int eof;  // recv returned 0: the peer ended the stream (sticks)
	int rerr; // errno of a failed recv (sticks)
	int werr; // errno of a failed send (sticks)
	int wnow; // the current call's writing failed
	size_t wrote; // bytes the current call wrote
	unsigned char *out;
	size_t off, len, cap; // out[off:off+len] is unsent
} go_sock;

static int go_sock_read(BIO *b, char *buf, int n) {
	go_sock *s = BIO_get_data(b);
	ssize_t k;
	BIO_clear_retry_flags(b);
	if (n <= 0)
		return 0;
	if (s->fd < 0 && !s->eof && !s->rerr)
		s->rerr = EBADF; // a call without the descriptor: a bug, reported
	while (!s->eof && !s->rerr) {
		k = recv(s->fd, buf, (size_t)n, 0);
		if (k > 0)
			return (int)k;
		if (k == 0)
			s->eof = 1;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		else if (errno != EINTR)
			s->rerr = errno;
	}
	BIO_set_retry_read(b);
	return -1;
}

static int go_sock_write(BIO *b, const char *buf, int n) {
	go_sock *s = BIO_get_data(b);
	size_t need;
	unsigned char *p;
	BIO_clear_retry_flags(b);
	if (n <= 0)
		return 0;
	if (!s->werr) {
		if (s->off > 0) {
			memmove(s->out, s->out + s->off, s->len);
			s->off = 0;
		}
		need = s->len + (size_t)n;
		if (need > s->cap) {
			size_t cap = s->cap * 2 > need ? s->cap * 2 : need;
			if (cap < 4096)
				cap = 4096;
			if ((p = OPENSSL_realloc(s->out, cap)) == NULL) {
				s->werr = ENOMEM;
			} else {
				s->out = p;
				s->cap = cap;
			}
		}
	}
	if (s->werr) {
		s->wnow = 1;
		BIO_set_retry_write(b);
		return -1;
	}
	memcpy(s->out + s->len, buf, (size_t)n);
	s->len += (size_t)n;
	s->wrote += (size_t)n;
	return n;
}

// go_sock_send sends what out holds, until the socket takes no more.
static void go_sock_send(go_sock *s) {
	ssize_t k;
	while (s->len > 0 && !s->werr) {
		if (s->fd < 0) {
			s->werr = EBADF;
			break;
		}
		// MSG_NOSIGNAL: a peer that left is EPIPE here, never SIGPIPE.
		k = send(s->fd, s->out + s->off, s->len, MSG_NOSIGNAL);
		if (k > 0) {
			s->off += (size_t)k;
			s->len -= (size_t)k;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else if (k == 0 || errno != EINTR) {
			s->werr = k < 0 ? errno : EPIPE;
		}
	}
	if (s->werr && s->len > 0)
		s->wnow = 1;
	OPENSSL_free(s->out);
	s->out = NULL;
	s->off = s->len = s->cap = 0;
}

static long go_sock_ctrl(BIO *b, int cmd, long num, void *ptr) {
	(void)b, (void)num, (void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1; // out is sent when the call returns
	case BIO_C_GET_FD:
		return -1; // the descriptor is not the BIO's to give
	}
	return 0; // BIO_CTRL_EOF among others: see go_sock
}

static int go_sock_create(BIO *b) {
	go_sock *s = OPENSSL_zalloc(sizeof(*s));
	if (s == NULL)
		return 0;
	s->fd = -1;
	BIO_set_data(b, s);
	BIO_set_init(b, 1);
	return 1;
}

static int go_sock_destroy(BIO *b) {
	go_sock *s = BIO_get_data(b);
	if (s != NULL)
		OPENSSL_free(s->out);
	OPENSSL_free(s);
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *go_sock_method;
static int go_sock_type;
static CRYPTO_ONCE go_sock_once = CRYPTO_ONCE_STATIC_INIT;

static void go_sock_init(void) {
	int type = BIO_get_new_index();
	BIO_METHOD *m;
	if (type == -1)
		return;
	type |= BIO_TYPE_SOURCE_SINK;
	if ((m = BIO_meth_new(type, "osslcache socket")) == NULL)
		return;
	if (!BIO_meth_set_write(m, go_sock_write) || !BIO_meth_set_read(m, go_sock_read) ||
	    !BIO_meth_set_ctrl(m, go_sock_ctrl) || !BIO_meth_set_create(m, go_sock_create) ||
	    !BIO_meth_set_destroy(m, go_sock_destroy)) {
		BIO_meth_free(m);
		return;
	}
	go_sock_type = type;
	go_sock_method = m;
}

// go_conn_sock returns the socket state of ssl's BIO, or NULL when it
// reads a pair.
static go_sock *go_conn_sock(SSL *ssl) {
	BIO *b = SSL_get_rbio(ssl);
	if (b == NULL || go_sock_method == NULL || BIO_method_type(b) != go_sock_type)
		return NULL;
	return BIO_get_data(b);
}

// ---- attaching ----

static void go_conn_setup(SSL *ssl, int server) {
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	// RELEASE_BUFFERS: libssl frees its read and write buffers while
	// they are empty, so an idle connection holds none.
	SSL_set_mode(ssl, SSL_MODE_AUTO_RETRY | SSL_MODE_RELEASE_BUFFERS);
	// A write that wants a read cannot be served while another goroutine
	// owns the reading side; TLS 1.3 has no renegotiation anyway.
	SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
}

// go_conn_attach joins ssl to a new BIO pair and returns the pair's network
// end: libssl reads and writes the inner end, Go moves bytes between the
// network end and the net.Conn.
BIO *go_conn_attach(SSL *ssl, size_t bufsize, int server) {
	BIO *inner = NULL, *outer = NULL;
	if (!BIO_new_bio_pair(&inner, bufsize, &outer, bufsize))
		return NULL;
	SSL_set_bio(ssl, inner, inner);
	go_conn_setup(ssl, server);
	return outer;
}

// go_conn_attach_socket gives ssl a socket BIO. read_ahead: libssl reads
// what the socket holds, up to its buffer, in one recv, not a record
// header and then its body.
int go_conn_attach_socket(SSL *ssl, int server) {
	BIO *b;
	if (!CRYPTO_THREAD_run_once(&go_sock_once, go_sock_init) || go_sock_method == NULL)
		return 0;
	if ((b = BIO_new(go_sock_method)) == NULL)
		return 0;
	SSL_set_bio(ssl, b, b);
	go_conn_setup(ssl, server);
	SSL_set_read_ahead(ssl, 1);
	return 1;
}

int go_conn_set1_host(SSL *ssl, const char *name) {
	return SSL_set1_host(ssl, name);
}

// ---- calls ----

void go_conn_begin(SSL *ssl, int fd) {
	go_sock *s;
	if (fd >= 0 && (s = go_conn_sock(ssl)) != NULL) {
		s->fd = fd;
		s->wnow = 0;
		s->wrote = 0;
	}
}

// go_conn_done fills r after a call; over a socket it sends what the call
// wrote first.
void go_conn_done(SSL *ssl, BIO *net, int rc, int err, go_conn_res *r) {
	go_sock *s = go_conn_sock(ssl);
	r->rc = rc;
	r->err = err;
	r->pending = net != NULL ? BIO_ctrl_pending(net) : 0;
	r->eof = r->rerr = r->werr = 0;
	r->wpend = r->wrote = 0;
	if (s != NULL && s->fd >= 0) {
		go_sock_send(s);
		s->fd = -1;
		r->eof = s->eof;
		r->rerr = s->rerr;
		r->werr = s->wnow ? s->werr : 0;
		r->wpend = s->len;
		r->wrote = s->wrote;
	}
}

// go_conn_send sends what a call left unsent (r->wpend bytes).
void go_conn_send(SSL *ssl, int fd, go_conn_res *r) {
	go_conn_begin(ssl, fd);
	go_conn_done(ssl, NULL, 1, SSL_ERROR_NONE, r);
}

static void go_conn_finish(SSL *ssl, BIO *net, int rc, go_conn_res *r) {
	go_conn_done(ssl, net, rc, rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, rc), r);
}

void go_conn_handshake(SSL *ssl, BIO *net, int fd, go_conn_res *r) {
	go_conn_begin(ssl, fd);
	ERR_clear_error();
	go_conn_finish(ssl, net, SSL_do_handshake(ssl), r);
}

// go_conn_read reads application data into buf, or, with peek, waits for
// some without taking it (SSL_peek).
void go_conn_read(SSL *ssl, BIO *net, int fd, void *buf, int n, int peek, go_conn_res *r) {
	go_conn_begin(ssl, fd);
	ERR_clear_error();
	go_conn_finish(ssl, net, peek ? SSL_peek(ssl, buf, n) : SSL_read(ssl, buf, n), r);
}

// go_conn_write writes n bytes of src. libssl may keep pointing at the
// memory of a write that wants to be retried until its retry, so the bytes
// are copied into *wbuf, C memory allocated here, kept until the write
// completes and freed then (or with the connection): a connection that
// does not write holds no write buffer.
void go_conn_write(SSL *ssl, BIO *net, int fd, void **wbuf, const void *src, int n, go_conn_res *r) {
	int rc;
	if (*wbuf == NULL) {
		if ((*wbuf = OPENSSL_malloc((size_t)n)) == NULL) {
			go_conn_done(ssl, net, 0, SSL_ERROR_SSL, r);
			return;
		}
		memcpy(*wbuf, src, (size_t)n);
	}
	go_conn_begin(ssl, fd);
	ERR_clear_error();
	rc = SSL_write(ssl, *wbuf, n);
	go_conn_finish(ssl, net, rc, r);
	if (rc > 0) {
		OPENSSL_free(*wbuf);
		*wbuf = NULL;
	}
}

// go_conn_shutdown queues close_notify. SSL_shutdown returns 0 once it is
// queued and the peer's has not come, 1 when both were: both are success;
// so is a shutdown that would wait to read, which close_notify does not.
void go_conn_shutdown(SSL *ssl, BIO *net, int fd, go_conn_res *r) {
	int rc;
	go_conn_begin(ssl, fd);
	ERR_clear_error();
	rc = SSL_shutdown(ssl);
	go_conn_finish(ssl, net, rc < 0 ? rc : 1, r);
	if (r->err == SSL_ERROR_WANT_READ) {
		r->rc = 1;
		r->err = SSL_ERROR_NONE;
	}
}

// go_conn_partial reports whether part of a record arrived and was not
// processed: an EOF now cuts a record.
int go_conn_partial(SSL *ssl) {
	BIO *rb = SSL_get_rbio(ssl);
	return SSL_has_pending(ssl) || (rb != NULL && BIO_ctrl_pending(rb) > 0);
}

// go_conn_keep_session marks the connection as shut down, so that freeing
// it after a transport failure (no close_notify sent) does not make libssl
// drop its session from the cache and the store as a "bad" one.
void go_conn_keep_session(SSL *ssl) {
	if (SSL_is_init_finished(ssl))
		SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

// go_conn_free releases a connection's C side in one call, on one thread:
// the SSL (and with it its socket BIO, or the pair's inner end), then the
// pair's network end, then a write buffer still held. Both ends of a BIO
// pair must never be freed at once on two threads: each end's destruction
// writes into the other.
void go_conn_free(SSL *ssl, BIO *net, void *wbuf) {
	if (ssl != NULL) {
		go_conn_keep_session(ssl);
		SSL_free(ssl);
	}
	BIO_free(net);
	OPENSSL_free(wbuf);
}

int go_conn_net_read(BIO *net, void *buf, int n) { return BIO_read(net, buf, n); }
int go_conn_net_write(BIO *net, const void *buf, int n) { return BIO_write(net, buf, n); }
size_t go_conn_net_room(BIO *net) { return BIO_ctrl_get_write_guarantee(net); }

// go_conn_cipher_id returns the IANA id of the negotiated cipher suite, or
// -1.
int go_conn_cipher_id(SSL *ssl) {
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	return c != NULL ? (int)SSL_CIPHER_get_protocol_id(c) : -1;
}

const char *go_conn_alpn(SSL *ssl, unsigned int *len) {
	const unsigned char *p = NULL;
	SSL_get0_alpn_selected(ssl, &p, len);
	return (const char *)p;
}

// go_conn_peer_chain encodes the i-th certificate the peer sent (the leaf
// first) into *der (OPENSSL_malloc'd, for the caller to free) and returns
// its length; 0 past the end, -1 on failure.
int go_conn_peer_chain(SSL *ssl, int i, unsigned char **der) {
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509 *leaf = NULL, *x;
	int n;
	*der = NULL;
	// A server's chain from SSL_get_peer_cert_chain lacks the client's
	// leaf; the client's includes the server's leaf.
	if (SSL_is_server(ssl)) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
		leaf = SSL_get0_peer_certificate(ssl);
#else
		leaf = SSL_get_peer_certificate(ssl);
		X509_free(leaf); // the SSL keeps its own reference
#endif
		if (leaf == NULL)
			return 0;
		if (i == 0) {
			x = leaf;
		} else {
			if (chain == NULL || i - 1 >= sk_X509_num(chain))
				return 0;
			x = sk_X509_value(chain, i - 1);
		}
	} else {
		if (chain == NULL || i >= sk_X509_num(chain))
			return 0;
		x = sk_X509_value(chain, i);
	}
	n = i2d_X509(x, der);
	return n > 0 ? n : -1;
}
