// conn_cgo.c holds the C side of Conn, package ossl's net.Conn: an SSL
// joined to a BIO pair whose network end Go pumps to and from the socket.
#include <string.h>
#include <openssl/x509.h>
#include "shim.h"

// go_conn_attach joins ssl to a new BIO pair and returns the pair's network
// end: libssl reads and writes the inner end, Go moves bytes between the
// network end and the socket.
BIO *go_conn_attach(SSL *ssl, size_t bufsize, int server) {
	BIO *inner = NULL, *outer = NULL;
	if (!BIO_new_bio_pair(&inner, bufsize, &outer, bufsize))
		return NULL;
	SSL_set_bio(ssl, inner, inner);
	if (server)
		SSL_set_accept_state(ssl);
	else
		SSL_set_connect_state(ssl);
	SSL_set_mode(ssl, SSL_MODE_AUTO_RETRY);
	// A write that wants a read cannot be served while another goroutine
	// owns the reading side; TLS 1.3 has no renegotiation anyway.
	SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
	return outer;
}

int go_conn_set1_host(SSL *ssl, const char *name) {
	return SSL_set1_host(ssl, name);
}

static void go_conn_finish(SSL *ssl, BIO *net, int rc, go_conn_res *r) {
	r->rc = rc;
	r->err = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, rc);
	r->pending = BIO_ctrl_pending(net);
}

void go_conn_handshake(SSL *ssl, BIO *net, go_conn_res *r) {
	ERR_clear_error();
	go_conn_finish(ssl, net, SSL_do_handshake(ssl), r);
}

void go_conn_read(SSL *ssl, BIO *net, void *buf, int n, go_conn_res *r) {
	ERR_clear_error();
	go_conn_finish(ssl, net, SSL_read(ssl, buf, n), r);
}

// go_conn_write copies the caller's bytes into wbuf, memory libssl may keep
// pointing at between a write that wants to be retried and its retry, and
// writes them from there.
void go_conn_write(SSL *ssl, BIO *net, void *wbuf, const void *src, int n, go_conn_res *r) {
	memcpy(wbuf, src, (size_t)n);
	ERR_clear_error();
	go_conn_finish(ssl, net, SSL_write(ssl, wbuf, n), r);
}

// go_conn_shutdown queues close_notify. SSL_shutdown returns 0 once it is
// queued and the peer's has not come, 1 when both were: both are success.
void go_conn_shutdown(SSL *ssl, BIO *net, go_conn_res *r) {
	int rc;
	ERR_clear_error();
	rc = SSL_shutdown(ssl);
	go_conn_finish(ssl, net, rc < 0 ? rc : 1, r);
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
// the SSL (and with it the pair's inner end), then the network end, then
// the write buffer. Both ends of a BIO pair must never be freed at once on
// two threads: each end's destruction writes into the other.
void go_conn_free(SSL *ssl, BIO *net, void *wbuf) {
	if (ssl != NULL) {
		go_conn_keep_session(ssl);
		SSL_free(ssl);
	}
	BIO_free(net);
	free(wbuf);
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
