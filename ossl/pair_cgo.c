// pair_cgo.c is the in-memory handshake driver behind ossltest: a client
// and a server SSL joined by a BIO pair, driven in one thread the way
// OpenSSL's own test helper create_bare_ssl_connection does, until each
// side has finished or failed.
#include <string.h>
#include <time.h>
#include <pthread.h>
#include "shim.h"

static int64_t go_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int go_pair_attach(SSL *client, SSL *server) {
	BIO *cbio = NULL, *sbio = NULL;
	if (!BIO_new_bio_pair(&cbio, 0, &sbio, 0))
		return 0;
	SSL_set_bio(client, cbio, cbio);
	SSL_set_bio(server, sbio, sbio);
	// A write retried after ErrWouldBlock comes from a new Go slice:
	// libssl has already sealed the pending record, and without this mode
	// it fails the retry ("bad write retry") because the address differs.
	SSL_set_mode(client, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_mode(server, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_connect_state(client);
	SSL_set_accept_state(server);
	return 1;
}

// go_pair_step makes one handshake call on a side still running and
// records how it ended; it reports whether the side's state changed.
int go_pair_step(SSL *ssl, int *state, int *error, int64_t *ns) {
	int rc, e;
	int64_t t0;
	if (*state != 0)
		return 0;
	t0 = go_now_ns();
	rc = SSL_do_handshake(ssl);
	*ns += go_now_ns() - t0;
	if (rc == 1) {
		*state = 1;
		return 1;
	}
	e = SSL_get_error(ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	*state = -1;
	*error = e;
	return 1;
}

// go_pair_traffic counts the bytes either side ever wrote or read.
uint64_t go_pair_traffic(SSL *a, SSL *b) {
	return BIO_number_written(SSL_get_wbio(a)) + BIO_number_read(SSL_get_rbio(a)) +
	       BIO_number_written(SSL_get_wbio(b)) + BIO_number_read(SSL_get_rbio(b));
}

// go_pair_read reads up to n bytes (SSL_read_ex), processing what came
// before them (TLS 1.3 tickets, alerts): 1 data (*got bytes), 0 nothing
// left to read, -1 failure or the peer's close_notify (SSL_ERROR_ZERO_RETURN
// in *ssl_error).
int go_pair_read(SSL *ssl, void *buf, size_t n, size_t *got, int *ssl_error, int64_t *ns) {
	int64_t t0 = go_now_ns();
	int rc = SSL_read_ex(ssl, buf, n, got);
	*ns += go_now_ns() - t0;
	if (rc == 1)
		return 1;
	*ssl_error = SSL_get_error(ssl, rc);
	return *ssl_error == SSL_ERROR_WANT_READ ? 0 : -1;
}

// go_pair_write writes n bytes (SSL_write_ex; n may be 0, which drives
// pending work such as queued tickets): 1 written, 0 the write would
// block, -1 failure.
int go_pair_write(SSL *ssl, const void *buf, size_t n, size_t *put, int *ssl_error, int64_t *ns) {
	int64_t t0 = go_now_ns();
	int rc = SSL_write_ex(ssl, buf, n, put);
	*ns += go_now_ns() - t0;
	if (rc == 1)
		return 1;
	*ssl_error = SSL_get_error(ssl, rc);
	return *ssl_error == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

// A BIO whose every write asks to be retried: set as an SSL's write BIO,
// it holds back what the SSL sends, as a full socket buffer would.
static BIO_METHOD *go_retry_method;
static pthread_once_t go_retry_once = PTHREAD_ONCE_INIT;

static int go_retry_write(BIO *b, const char *in, int n) {
	BIO_clear_retry_flags(b);
	BIO_set_retry_write(b);
	return -1;
}

static long go_retry_ctrl(BIO *b, int cmd, long num, void *ptr) {
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int go_retry_create(BIO *b) {
	BIO_set_init(b, 1);
	return 1;
}

static void go_retry_init(void) {
	go_retry_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "osslcache write retry");
	if (go_retry_method != NULL) {
		BIO_meth_set_write(go_retry_method, go_retry_write);
		BIO_meth_set_ctrl(go_retry_method, go_retry_ctrl);
		BIO_meth_set_create(go_retry_method, go_retry_create);
	}
}

// go_pair_hold_writes swaps the SSL's write BIO for one that asks every
// write to be retried (on), or back to the pair's end, which is also the
// SSL's read BIO (off).
int go_pair_hold_writes(SSL *ssl, int on) {
	BIO *b;
	if (on) {
		pthread_once(&go_retry_once, go_retry_init);
		if (go_retry_method == NULL || (b = BIO_new(go_retry_method)) == NULL)
			return 0;
		SSL_set0_wbio(ssl, b);
		return 1;
	}
	b = SSL_get_rbio(ssl);
	if (b == NULL || SSL_get_wbio(ssl) == b || !BIO_up_ref(b))
		return SSL_get_wbio(ssl) == b;
	SSL_set0_wbio(ssl, b);
	return 1;
}

// go_pair_shutdown runs a clean bidirectional close_notify exchange that
// first starts; *failed names the side that did not complete it (1 first,
// 2 second).
int go_pair_shutdown(SSL *first, SSL *second, int *failed, int *ssl_error, int64_t *first_ns, int64_t *second_ns) {
	unsigned char buf[16];
	int64_t t0 = go_now_ns();
	int rc = SSL_shutdown(first);
	*first_ns += go_now_ns() - t0;
	if (rc < 0) {
		*failed = 1;
		*ssl_error = SSL_get_error(first, rc);
		return 0;
	}
	t0 = go_now_ns();
	rc = SSL_read(second, buf, sizeof(buf));
	*second_ns += go_now_ns() - t0;
	if (rc > 0 || SSL_get_error(second, rc) != SSL_ERROR_ZERO_RETURN) {
		*failed = 2;
		*ssl_error = rc > 0 ? SSL_ERROR_SSL : SSL_get_error(second, rc);
		return 0;
	}
	t0 = go_now_ns();
	rc = SSL_shutdown(second);
	*second_ns += go_now_ns() - t0;
	if (rc != 1) {
		*failed = 2;
		*ssl_error = SSL_get_error(second, rc);
		return 0;
	}
	t0 = go_now_ns();
	rc = SSL_shutdown(first);
	*first_ns += go_now_ns() - t0;
	if (rc != 1) {
		*failed = 1;
		*ssl_error = SSL_get_error(first, rc);
		return 0;
	}
	return 1;
}

// go_pair_close_notify makes one SSL_shutdown call on one side: 1 both
// close_notify alerts are through, 0 this side's was sent and the peer's
// has not come, -1 failure (SSL_get_error in *ssl_error; WANT_READ while
// the peer's has not come on a later call).
int go_pair_close_notify(SSL *ssl, int *ssl_error, int64_t *ns) {
	int64_t t0 = go_now_ns();
	int rc = SSL_shutdown(ssl);
	*ns += go_now_ns() - t0;
	if (rc < 0)
		*ssl_error = SSL_get_error(ssl, rc);
	return rc;
}
