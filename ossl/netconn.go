package ossl

/*
#include <string.h>
#include "shim.h"

// go_nc_res is what one libssl call on a network connection observed, read
// on the thread that made it.
typedef struct {
	int rc;         // the call's return value
	int err;        // SSL_get_error(rc), 0 when rc > 0
	size_t pending; // bytes waiting in the network end of the pair
} go_nc_res;

// go_nc_attach joins ssl to a new BIO pair and returns the pair's network
// end: libssl reads and writes the inner end, Go moves bytes between the
// network end and the socket.
static BIO *go_nc_attach(SSL *ssl, size_t bufsize, int server) {
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

static int go_nc_set1_host(SSL *ssl, const char *name) {
	return SSL_set1_host(ssl, name);
}

static void go_nc_finish(SSL *ssl, BIO *net, int rc, go_nc_res *r) {
	r->rc = rc;
	r->err = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, rc);
	r->pending = BIO_ctrl_pending(net);
}

static void go_nc_handshake(SSL *ssl, BIO *net, go_nc_res *r) {
	ERR_clear_error();
	go_nc_finish(ssl, net, SSL_do_handshake(ssl), r);
}

static void go_nc_read(SSL *ssl, BIO *net, void *buf, int n, go_nc_res *r) {
	ERR_clear_error();
	go_nc_finish(ssl, net, SSL_read(ssl, buf, n), r);
}

// go_nc_write copies the caller's bytes into wbuf, memory libssl may keep
// pointing at between a write that wants to be retried and its retry, and
// writes them from there.
static void go_nc_write(SSL *ssl, BIO *net, void *wbuf, const void *src, int n, go_nc_res *r) {
	memcpy(wbuf, src, (size_t)n);
	ERR_clear_error();
	go_nc_finish(ssl, net, SSL_write(ssl, wbuf, n), r);
}

// go_nc_shutdown queues close_notify. SSL_shutdown returns 0 once it is
// queued and the peer's has not come, 1 when both were: both are success.
static void go_nc_shutdown(SSL *ssl, BIO *net, go_nc_res *r) {
	int rc;
	ERR_clear_error();
	rc = SSL_shutdown(ssl);
	go_nc_finish(ssl, net, rc < 0 ? rc : 1, r);
}

// go_nc_partial reports whether part of a record arrived and was not
// processed: an EOF now cuts a record.
static int go_nc_partial(SSL *ssl) {
	BIO *rb = SSL_get_rbio(ssl);
	return SSL_has_pending(ssl) || (rb != NULL && BIO_ctrl_pending(rb) > 0);
}

// go_nc_keep_session marks the connection as shut down, so that freeing it
// after a transport failure (no close_notify sent) does not make libssl drop
// its session from the cache and the store as a "bad" one.
static void go_nc_keep_session(SSL *ssl) {
	if (SSL_is_init_finished(ssl))
		SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

static int go_nc_net_read(BIO *net, void *buf, int n) { return BIO_read(net, buf, n); }
static int go_nc_net_write(BIO *net, const void *buf, int n) { return BIO_write(net, buf, n); }
static size_t go_nc_net_room(BIO *net) { return BIO_ctrl_get_write_guarantee(net); }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	// pairBufSize is the buffer of each direction of the BIO pair: one
	// full TLS record with its overhead fits.
	pairBufSize = 17 * 1024
	// maxPlaintext is the most one SSL_write gets: one record.
	maxPlaintext = 16 * 1024
	// closeNotifyTimeout bounds sending close_notify, as crypto/tls does.
	closeNotifyTimeout = 5 * time.Second
)

// TLSConn is a TLS connection over a net.Conn, made by Server or Client:
// an SSL object joined to a BIO pair (BIO_new_bio_pair(3)) whose network
// end this type pumps to and from the net.Conn. It implements net.Conn.
//
// Read and Write may be called from two goroutines at once (a proxy copies
// both directions), and Close from a third. Every libssl call runs under one
// mutex, never held while blocked on the network: a Read blocked in the
// net.Conn does not hold up a Write.
//
// The first Read or Write runs the handshake if Handshake was not called.
type TLSConn struct {
	conn   net.Conn
	ssl    *Conn
	server bool

	// mu guards every libssl call on ssl, bio and wbuf, and their release.
	mu   sync.Mutex
	bio  *C.BIO         // network end of the pair; nil once freed
	wbuf unsafe.Pointer // C memory SSL_write reads from (maxPlaintext bytes)

	hsMu   sync.Mutex // held by the handshake
	hsDone atomic.Bool
	hsErr  error

	readMu  sync.Mutex // one reader of the net.Conn at a time
	rbuf    []byte     // bytes read from conn before they go into bio
	readErr error      // sticky error of Read

	writeMu    sync.Mutex // serializes Write and close_notify
	notifySent bool       // close_notify was queued (under writeMu)
	notifyErr  error

	flushMu  sync.Mutex // one goroutine moves bio's output to conn at a time
	fbuf     []byte
	flushErr error // sticky: a failed conn.Write breaks the stream

	closeOnce sync.Once
	closed    atomic.Bool
	cleanup   runtime.Cleanup
}

// ClientConfig is the per-connection setup of Client.
type ClientConfig struct {
	// ServerName is sent as SNI (SSL_set_tlsext_host_name(3)) and, when the
	// context verifies the server, checked against its certificate
	// (SSL_set1_host(3)).
	ServerName string
	// Session, if set, is offered for resumption (SSL_set_session(3)).
	Session *Session
	// CacheKey, if set, ties the connection to the context's
	// ClientSessionCache (Conn.UseClientSessionCache): a session held for
	// the key is offered, and the sessions received are stored under it.
	CacheKey string
}

// Server returns the server side of a TLS connection over conn, made from
// ctx (SSL_new(3)). The handshake runs on Handshake or the first Read or
// Write.
func Server(conn net.Conn, ctx *Ctx) (*TLSConn, error) {
	return newTLSConn(conn, ctx, true, ClientConfig{})
}

// Client returns the client side of a TLS connection over conn, made from
// ctx and set up by cfg. The handshake runs on Handshake or the first Read
// or Write.
func Client(conn net.Conn, ctx *Ctx, cfg ClientConfig) (*TLSConn, error) {
	return newTLSConn(conn, ctx, false, cfg)
}

type netConnC struct {
	bio  *C.BIO
	wbuf unsafe.Pointer
}

func freeNetConnC(c netConnC) {
	C.BIO_free(c.bio)
	C.free(c.wbuf)
}

func newTLSConn(conn net.Conn, ctx *Ctx, server bool, cfg ClientConfig) (*TLSConn, error) {
	if conn == nil {
		return nil, errors.New("ossl: nil net.Conn")
	}
	ssl, err := ctx.NewConn()
	if err != nil {
		return nil, err
	}
	p, err := ssl.use()
	if err != nil {
		return nil, err
	}
	var bio *C.BIO
	err = onThread("BIO_new_bio_pair", func() bool {
		bio = C.go_nc_attach(p, pairBufSize, b2i(server))
		return bio != nil
	})
	if err != nil {
		ssl.Close()
		return nil, err
	}
	c := &TLSConn{
		conn:   conn,
		ssl:    ssl,
		server: server,
		bio:    bio,
		wbuf:   C.malloc(maxPlaintext),
		rbuf:   make([]byte, pairBufSize),
		fbuf:   make([]byte, pairBufSize),
	}
	if c.wbuf == nil {
		C.BIO_free(bio)
		ssl.Close()
		return nil, errors.New("ossl: out of memory")
	}
	c.cleanup = runtime.AddCleanup(c, freeNetConnC, netConnC{bio: bio, wbuf: c.wbuf})
	if !server {
		if err := c.setupClient(cfg); err != nil {
			c.free()
			return nil, err
		}
	}
	return c, nil
}

func (c *TLSConn) setupClient(cfg ClientConfig) error {
	if cfg.ServerName != "" {
		if err := c.ssl.SetServerName(cfg.ServerName); err != nil {
			return err
		}
		name := C.CString(cfg.ServerName)
		defer C.free(unsafe.Pointer(name))
		if err := c.ssl.do("SSL_set1_host", func(p *C.SSL) bool { return C.go_nc_set1_host(p, name) == 1 }); err != nil {
			return err
		}
	}
	if cfg.CacheKey != "" {
		if _, err := c.ssl.UseClientSessionCache(cfg.CacheKey); err != nil {
			return err
		}
	}
	if cfg.Session != nil {
		if err := c.ssl.SetSession(cfg.Session); err != nil {
			return err
		}
	}
	return nil
}

// free releases the SSL object and the pair, under mu.
func (c *TLSConn) free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bio == nil {
		return
	}
	if p, err := c.ssl.use(); err == nil {
		C.go_nc_keep_session(p)
	}
	c.ssl.Close()
	c.cleanup.Stop()
	freeNetConnC(netConnC{bio: c.bio, wbuf: c.wbuf})
	c.bio, c.wbuf = nil, nil
}

// sslErrorName names SSL_get_error(3) codes in error details.
func sslErrorName(e C.int) string {
	switch e {
	case C.SSL_ERROR_SSL:
		return "SSL_ERROR_SSL"
	case C.SSL_ERROR_SYSCALL:
		return "SSL_ERROR_SYSCALL"
	case C.SSL_ERROR_ZERO_RETURN:
		return "SSL_ERROR_ZERO_RETURN"
	case C.SSL_ERROR_WANT_READ:
		return "SSL_ERROR_WANT_READ"
	case C.SSL_ERROR_WANT_WRITE:
		return "SSL_ERROR_WANT_WRITE"
	}
	return fmt.Sprintf("SSL_get_error %d", int(e))
}

// call runs one libssl call on the connection; the caller holds mu. The
// call, SSL_get_error and the draining of the error queue happen on one OS
// thread. err is set for fatal results (not for WANT_READ, WANT_WRITE or
// ZERO_RETURN, which the caller handles).
func (c *TLSConn) call(op string, f func(p *C.SSL, bio *C.BIO, r *C.go_nc_res)) (C.go_nc_res, error) {
	var r C.go_nc_res
	if c.bio == nil {
		return r, net.ErrClosed
	}
	p, err := c.ssl.use()
	if err != nil {
		return r, net.ErrClosed
	}
	runtime.LockOSThread()
	f(p, c.bio, &r)
	switch r.err {
	case C.SSL_ERROR_NONE, C.SSL_ERROR_WANT_READ, C.SSL_ERROR_WANT_WRITE, C.SSL_ERROR_ZERO_RETURN:
	default:
		detail := sslErrorName(r.err)
		if r.err == C.SSL_ERROR_SYSCALL {
			detail += " (unexpected end of the BIO pair)"
		}
		err = drainErrors(op, detail)
	}
	runtime.UnlockOSThread()
	runtime.KeepAlive(c.ssl)
	return r, err
}

// flush moves everything libssl wrote into the pair to the net.Conn, in
// order: one goroutine at a time drains the pair and writes what it took.
func (c *TLSConn) flush() error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	if c.flushErr != nil {
		return c.flushErr
	}
	for {
		c.mu.Lock()
		n := 0
		if c.bio != nil {
			n = int(C.go_nc_net_read(c.bio, unsafe.Pointer(&c.fbuf[0]), C.int(len(c.fbuf))))
		}
		c.mu.Unlock()
		if n <= 0 {
			return nil
		}
		if _, err := c.conn.Write(c.fbuf[:n]); err != nil {
			c.flushErr = err
			return err
		}
	}
}

// fill reads once from the net.Conn, without holding mu, and hands what
// came to libssl. The caller is the only reader (readMu, or the
// handshake).
func (c *TLSConn) fill() error {
	c.mu.Lock()
	room := 0
	if c.bio != nil {
		room = int(C.go_nc_net_room(c.bio))
	}
	c.mu.Unlock()
	if room <= 0 {
		if c.closed.Load() {
			return net.ErrClosed
		}
		return errors.New("ossl: BIO pair full while libssl wants to read")
	}
	n, err := c.conn.Read(c.rbuf[:min(room, len(c.rbuf))])
	if n > 0 {
		c.mu.Lock()
		w := -1
		if c.bio != nil {
			w = int(C.go_nc_net_write(c.bio, unsafe.Pointer(&c.rbuf[0]), C.int(n)))
		}
		c.mu.Unlock()
		if w != n {
			return net.ErrClosed
		}
		return nil // a read error with data comes back on the next read
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Handshake runs the TLS handshake if it has not run yet; concurrent calls
// wait for the first. A TLS 1.3 server's tickets, written by libssl at the
// end of the handshake, are sent before it returns. If ctx ends first, the
// connection's deadline is set in the past to interrupt it, ctx's error is
// returned, and the connection is unusable.
func (c *TLSConn) Handshake(ctx context.Context) error {
	if c.hsDone.Load() {
		return nil
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsDone.Load() {
		return nil
	}
	if c.hsErr != nil {
		return c.hsErr
	}
	var interrupted chan error
	var done chan struct{}
	if ctx.Done() != nil {
		done = make(chan struct{})
		interrupted = make(chan error, 1)
		go func() {
			select {
			case <-ctx.Done():
				_ = c.conn.SetDeadline(time.Unix(1, 0))
				interrupted <- ctx.Err()
			case <-done:
				interrupted <- nil
			}
		}()
	}
	err := c.handshake()
	if done != nil {
		close(done)
		// A context that ended wins over the network error it caused (or
		// over success: the connection's deadline is spoiled), not over
		// a TLS failure of the handshake itself.
		var tlsErr *Error
		if ctxErr := <-interrupted; ctxErr != nil && !errors.As(err, &tlsErr) {
			err = ctxErr
		}
	}
	if err != nil {
		c.hsErr = err
		return err
	}
	c.hsDone.Store(true)
	return nil
}

func (c *TLSConn) handshake() error {
	for {
		c.mu.Lock()
		r, err := c.call("SSL_do_handshake", func(p *C.SSL, bio *C.BIO, r *C.go_nc_res) { C.go_nc_handshake(p, bio, r) })
		c.mu.Unlock()
		if err != nil {
			_ = c.flush() // the alert, if libssl wrote one
			return err
		}
		if r.rc == 1 {
			return c.flush()
		}
		switch r.err {
		case C.SSL_ERROR_WANT_WRITE:
			if err := c.flush(); err != nil {
				return err
			}
		case C.SSL_ERROR_WANT_READ:
			if r.pending > 0 {
				if err := c.flush(); err != nil {
					return err
				}
			}
			if err := c.fill(); err != nil {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("ossl: connection closed during the TLS handshake: %w", io.ErrUnexpectedEOF)
				}
				return err
			}
		default: // ZERO_RETURN
			return fmt.Errorf("ossl: peer sent close_notify during the TLS handshake: %w", io.ErrUnexpectedEOF)
		}
	}
}

// Read reads application data. It returns io.EOF after the peer's
// close_notify, or when the connection ends at a record boundary without
// one (as crypto/tls does), and io.ErrUnexpectedEOF when it ends inside a
// record.
func (c *TLSConn) Read(b []byte) (int, error) {
	if err := c.Handshake(context.Background()); err != nil {
		return 0, err
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.readErr != nil {
		return 0, c.readErr
	}
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > 1<<30 {
		b = b[:1<<30]
	}
	for {
		c.mu.Lock()
		r, err := c.call("SSL_read", func(p *C.SSL, bio *C.BIO, r *C.go_nc_res) {
			C.go_nc_read(p, bio, unsafe.Pointer(&b[0]), C.int(len(b)), r)
		})
		c.mu.Unlock()
		if err != nil {
			_ = c.flush()
			c.readErr = err
			return 0, err
		}
		if r.rc > 0 {
			if r.pending > 0 {
				// libssl answered something (a key update) while reading.
				if err := c.flush(); err != nil {
					return int(r.rc), nil
				}
			}
			return int(r.rc), nil
		}
		switch r.err {
		case C.SSL_ERROR_ZERO_RETURN:
			c.readErr = io.EOF
			return 0, io.EOF
		case C.SSL_ERROR_WANT_WRITE:
			if err := c.flush(); err != nil {
				return 0, err
			}
		case C.SSL_ERROR_WANT_READ:
			if r.pending > 0 {
				if err := c.flush(); err != nil {
					return 0, err
				}
			}
			if err := c.fill(); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.EOF
					c.mu.Lock()
					if p, uerr := c.ssl.use(); uerr == nil && c.bio != nil && C.go_nc_partial(p) == 1 {
						err = io.ErrUnexpectedEOF
					}
					c.mu.Unlock()
					c.readErr = err
				} else if !netTimeout(err) {
					c.readErr = err
				}
				return 0, err
			}
		}
	}
}

func netTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Write writes application data, one record of up to 16 KiB at a time,
// each sent to the net.Conn before the next is made.
func (c *TLSConn) Write(b []byte) (int, error) {
	if err := c.Handshake(context.Background()); err != nil {
		return 0, err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if c.notifySent {
		return 0, errors.New("ossl: write after CloseWrite")
	}
	total := 0
	for len(b) > 0 {
		n := min(len(b), maxPlaintext)
		for {
			c.mu.Lock()
			r, err := c.call("SSL_write", func(p *C.SSL, bio *C.BIO, r *C.go_nc_res) {
				C.go_nc_write(p, bio, c.wbuf, unsafe.Pointer(&b[0]), C.int(n), r)
			})
			c.mu.Unlock()
			if err != nil {
				_ = c.flush()
				return total, err
			}
			if r.rc > 0 {
				break
			}
			if r.err == C.SSL_ERROR_WANT_WRITE {
				if err := c.flush(); err != nil {
					return total, err
				}
				continue
			}
			return total, fmt.Errorf("ossl: SSL_write failed: %s (renegotiation is not supported)", sslErrorName(r.err))
		}
		if err := c.flush(); err != nil {
			return total, err
		}
		total += n
		b = b[n:]
	}
	return total, nil
}

// CloseWrite sends close_notify (SSL_shutdown(3)) and allows no more
// writes; reads go on. The handshake must have completed.
func (c *TLSConn) CloseWrite() error {
	if !c.hsDone.Load() {
		return errors.New("ossl: CloseWrite before the handshake completed")
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.closeNotifyLocked()
}

// closeNotifyLocked queues close_notify and sends it within
// closeNotifyTimeout; the caller holds writeMu.
func (c *TLSConn) closeNotifyLocked() error {
	if c.notifySent {
		return c.notifyErr
	}
	c.notifySent = true
	_ = c.conn.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
	var err error
	for {
		c.mu.Lock()
		var r C.go_nc_res
		r, err = c.call("SSL_shutdown", func(p *C.SSL, bio *C.BIO, r *C.go_nc_res) { C.go_nc_shutdown(p, bio, r) })
		c.mu.Unlock()
		if ferr := c.flush(); err == nil {
			err = ferr
		}
		if err != nil || r.err != C.SSL_ERROR_WANT_WRITE {
			break
		}
	}
	// Writes after close_notify fail, as in crypto/tls.
	_ = c.conn.SetWriteDeadline(time.Now())
	c.notifyErr = err
	return err
}

// Close sends close_notify if the handshake completed and no Write is in
// flight (a Close during a blocked Write only breaks the Write, as in
// crypto/tls), closes the net.Conn and frees the SSL object. A session
// whose connection ends without close_notify stays in the cache. Close is
// idempotent: later calls return net.ErrClosed.
func (c *TLSConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		var alertErr error
		if c.hsDone.Load() && c.writeMu.TryLock() {
			alertErr = c.closeNotifyLocked()
			c.closed.Store(true)
			c.writeMu.Unlock()
		} else {
			c.closed.Store(true)
		}
		err = c.conn.Close()
		c.free()
		if err == nil && alertErr != nil && !errors.Is(alertErr, net.ErrClosed) {
			err = fmt.Errorf("ossl: close_notify not sent (the connection was closed anyway): %w", alertErr)
		}
	})
	return err
}

// SSL returns the underlying connection object, to configure it before the
// handshake (not concurrently with Read or Write).
func (c *TLSConn) SSL() *Conn { return c.ssl }

// NetConn returns the underlying net.Conn.
func (c *TLSConn) NetConn() net.Conn { return c.conn }

// IsServer reports whether this is the server side.
func (c *TLSConn) IsServer() bool { return c.server }

// HandshakeComplete reports whether the handshake has completed.
func (c *TLSConn) HandshakeComplete() bool { return c.hsDone.Load() }

// locked runs f with mu held, if the SSL object is still there.
func (c *TLSConn) locked(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bio != nil {
		f()
	}
}

// SessionReused reports whether the handshake resumed a session.
func (c *TLSConn) SessionReused() (r bool) {
	c.locked(func() { r = c.ssl.SessionReused() })
	return r
}

// Session returns a reference to the connection's session (the caller
// closes it), or nil. On a TLS 1.3 client it is the session of the last
// ticket read: tickets are read by Read, after the handshake.
func (c *TLSConn) Session() (s *Session) {
	c.locked(func() { s = c.ssl.Session() })
	return s
}

// Version returns the negotiated protocol version (0 before the handshake
// or after Close).
func (c *TLSConn) Version() (v Version) {
	if !c.hsDone.Load() {
		return 0
	}
	c.locked(func() { v = c.ssl.Version() })
	return v
}

// ServerName returns the SNI host name: the one the client sent, on a
// server; the one set, on a client.
func (c *TLSConn) ServerName() (n string) {
	c.locked(func() { n = c.ssl.ServerName() })
	return n
}

// LocalAddr returns the net.Conn's local address.
func (c *TLSConn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the net.Conn's remote address.
func (c *TLSConn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the net.Conn's read and write deadlines.
func (c *TLSConn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the net.Conn's read deadline.
func (c *TLSConn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the net.Conn's write deadline. A Write that times
// out may have sent part of a record: the connection is then broken.
func (c *TLSConn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

var _ net.Conn = (*TLSConn)(nil)
