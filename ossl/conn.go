package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
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

// Conn is a TLS connection over a net.Conn, served by libssl. It
// implements net.Conn, in the shape of crypto/tls.Conn. Make one with
// Server or Client.
//
// Over a *net.TCPConn, libssl reads and writes the socket itself, through
// a BIO of this package that is handed the descriptor for the length of
// each call, and the connection waits for the socket in Go's network
// poller (syscall.RawConn): no copy, no Go buffer, and libssl's buffers
// are released while empty (SSL_MODE_RELEASE_BUFFERS), so an idle
// connection holds little. Over any other net.Conn, the SSL object is
// joined to a BIO pair (BIO_new_bio_pair(3)) whose network end this type
// pumps to and from the net.Conn.
//
// Read and Write may be called from two goroutines at once (a proxy copies
// both directions), and Close or any other method from a third. Every
// libssl call runs under one mutex, never held while blocked on the
// network: a Read blocked in the net.Conn does not hold up a Write.
//
// The first Read or Write runs the handshake if Handshake was not called.
type Conn struct {
	conn   net.Conn
	server bool
	// rc is the socket libssl reads and writes (nil over a pair).
	rc syscall.RawConn

	// mu guards every libssl call on c and its release.
	mu      sync.Mutex
	c       *connC // nil once freed
	cleanup runtime.Cleanup

	hsMu   sync.Mutex // held by the handshake
	hsDone atomic.Bool
	hsErr  error
	early  connEarly // under hsMu (earlydata.go)

	readMu  sync.Mutex // one reader of the net.Conn at a time
	rbuf    []byte     // bytes read from conn before they go into the pair
	readErr error      // sticky error of Read
	peekBuf [1]byte    // WriteTo's wait for data (readMu)

	writeMu    sync.Mutex // serializes Write and close_notify
	notifySent bool       // close_notify was queued (under writeMu)
	notifyErr  error

	flushMu  sync.Mutex // one goroutine moves the pair's output to conn at a time
	fbuf     []byte
	flushErr error // sticky: a failed conn.Write breaks the stream

	closeOnce sync.Once
	closed    atomic.Bool
}

// connC is a Conn's C side, released in one call (go_conn_free).
type connC struct {
	ssl  *C.SSL
	bio  *C.BIO         // network end of the pair; nil over a socket
	wbuf unsafe.Pointer // C memory a write not yet completed reads from, or nil
}

func (c *connC) free() { C.go_conn_free(c.ssl, c.bio, c.wbuf) }

// ClientConfig is the per-connection setup of Client.
type ClientConfig struct {
	// ServerName is sent as SNI (SSL_set_tlsext_host_name(3)) and, when the
	// context verifies the server, checked against its certificate
	// (SSL_set1_host(3)).
	ServerName string
	// Session, if set, is offered for resumption (SSL_set_session(3)).
	Session *Session
	// CacheKey, if set, ties the connection to the context's
	// ClientSessionCache (SSL.UseClientSessionCache): a session held for
	// the key is offered, and the sessions received are stored under it.
	CacheKey string
	// NextProtos are the application protocols offered with ALPN
	// (SSL_set_alpn_protos(3)), in preference order, as
	// crypto/tls.Config.NextProtos does; each 1 to 255 bytes. The
	// server's choice is ConnectionState().NegotiatedProtocol ("" if it
	// chose none; libssl fails the handshake if it chose one not
	// offered).
	NextProtos []string
}

// Server returns the server side of a TLS connection over conn, made from
// ctx (SSL_new(3)). The handshake runs on Handshake or the first Read or
// Write.
func Server(conn net.Conn, ctx *Ctx) (*Conn, error) {
	return newConn(conn, ctx, true, ClientConfig{})
}

// Client returns the client side of a TLS connection over conn, made from
// ctx and set up by cfg. The handshake runs on Handshake or the first Read
// or Write.
func Client(conn net.Conn, ctx *Ctx, cfg ClientConfig) (*Conn, error) {
	return newConn(conn, ctx, false, cfg)
}

func newConn(conn net.Conn, ctx *Ctx, server bool, cfg ClientConfig) (*Conn, error) {
	if conn == nil {
		return nil, errors.New("ossl: nil net.Conn")
	}
	cc := &connC{}
	rc := socketOf(conn)
	err := ctx.do("SSL_new", func(p *C.SSL_CTX) bool {
		if cc.ssl = C.SSL_new(p); cc.ssl == nil {
			return false
		}
		if rc != nil {
			return C.go_conn_attach_socket(cc.ssl, b2i(server)) == 1
		}
		cc.bio = C.go_conn_attach(cc.ssl, pairBufSize, b2i(server))
		return cc.bio != nil
	})
	if err != nil {
		cc.free()
		return nil, err
	}
	c := &Conn{conn: conn, server: server, rc: rc, c: cc}
	if rc == nil {
		c.rbuf = make([]byte, pairBufSize)
		c.fbuf = make([]byte, pairBufSize)
	}
	c.cleanup = runtime.AddCleanup(c, (*connC).free, cc)
	if !server {
		if err := c.setupClient(cfg); err != nil {
			c.free()
			return nil, err
		}
	}
	return c, nil
}

// forceBIOPair makes every new Conn use a BIO pair, for tests of that
// path over sockets.
var forceBIOPair atomic.Bool

// socketOf returns the socket of conn that libssl can read and write
// itself, or nil: only a *net.TCPConn's (a wrapper's net.Conn methods may
// do more than the socket's).
func socketOf(conn net.Conn) syscall.RawConn {
	tc, ok := conn.(*net.TCPConn)
	if !ok || forceBIOPair.Load() {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

func (c *Conn) setupClient(cfg ClientConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.c.ssl
	if cfg.ServerName != "" {
		name := C.CString(cfg.ServerName)
		defer C.free(unsafe.Pointer(name))
		if err := onThread("SSL_set_tlsext_host_name", func() bool { return C.go_set_tlsext_host_name(p, name) == 1 }); err != nil {
			return err
		}
		if err := onThread("SSL_set1_host", func() bool { return C.go_conn_set1_host(p, name) == 1 }); err != nil {
			return err
		}
	}
	if err := setClientALPN(p, cfg.NextProtos); err != nil {
		return err
	}
	if cfg.CacheKey != "" {
		if _, err := useClientSessionCache(p, cfg.CacheKey); err != nil {
			return err
		}
	}
	if cfg.Session != nil {
		if err := setSession(p, cfg.Session); err != nil {
			return err
		}
	}
	return nil
}

// free releases the C side, under mu.
func (c *Conn) free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return
	}
	stopCleanup(c.cleanup, c)
	c.c.free()
	c.c = nil
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

// connOp is one libssl call on a connection, made with mu held: fd is
// the socket's descriptor (over a socket, during a RawConn callback, so it
// stays open through the call), -1 over a pair.
type connOp func(cc *connC, fd C.int, r *C.go_conn_res)

// call runs one libssl call on the connection; the caller holds mu. The
// call, SSL_get_error and the draining of the error queue happen on one OS
// thread. err is set for fatal results (not for WANT_READ, WANT_WRITE or
// ZERO_RETURN, which the caller handles).
func (c *Conn) call(op string, fd C.int, f connOp) (C.go_conn_res, error) {
	var r C.go_conn_res
	if c.c == nil {
		return r, net.ErrClosed
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f(c.c, fd, &r)
	switch r.err {
	case C.SSL_ERROR_NONE, C.SSL_ERROR_WANT_READ, C.SSL_ERROR_WANT_WRITE, C.SSL_ERROR_ZERO_RETURN:
		return r, nil
	}
	detail := sslErrorName(r.err)
	if r.err == C.SSL_ERROR_SYSCALL && c.rc == nil {
		detail += " (unexpected end of the BIO pair)"
	}
	return r, drainErrors(op, detail)
}

// io makes the libssl call f, again as long as it wants the network, and
// returns its last result, never WANT_READ or WANT_WRITE, or what ended
// it: a libssl failure (*Error; the alert libssl wrote is sent), or the
// transport's error (io.EOF when the peer ended the stream; a deadline
// that passed). Over a socket, what the call wrote is sent before io
// returns, and io waits in the network poller for the socket to be
// readable (WANT_READ) or writable (to send the rest); write says that
// the call writes (SSL_write, SSL_shutdown), and is made on the writing
// side of the socket, not the reading one where a Read may be waiting.
// Over a pair, io sends what libssl wrote and reads more (flush, fill);
// what a final result leaves in the pair is the caller's to flush.
func (c *Conn) io(op string, write bool, f connOp) (C.go_conn_res, error) {
	if c.rc != nil {
		return c.ioSocket(op, write, f)
	}
	for {
		c.mu.Lock()
		r, err := c.call(op, -1, f)
		c.mu.Unlock()
		if err != nil {
			_ = c.flush() // the alert, if libssl wrote one
			return r, err
		}
		switch r.err {
		case C.SSL_ERROR_WANT_WRITE:
			if err := c.flush(); err != nil {
				return r, err
			}
		case C.SSL_ERROR_WANT_READ:
			if r.pending > 0 {
				if err := c.flush(); err != nil {
					return r, err
				}
			}
			if err := c.fill(); err != nil {
				return r, err
			}
		default:
			return r, nil
		}
	}
}

// ioSocket is io over a socket. The call is made inside the RawConn's
// Read or Write callback, which keeps the descriptor open through it; a
// call that wants to read waits in the same RawConn Read, whose poller
// wait is armed before the call, so data that arrives between the call
// and the wait is not missed.
func (c *Conn) ioSocket(op string, write bool, f connOp) (C.go_conn_res, error) {
	var r C.go_conn_res
	var err error
	for {
		try := func(fd uintptr) bool {
			c.mu.Lock()
			r, err = c.call(op, C.int(fd), f)
			c.mu.Unlock()
			// Wait until readable and call again while the call wants
			// to read, the stream is open and nothing the call wrote
			// waits to be sent.
			return write || err != nil || r.err != C.SSL_ERROR_WANT_READ ||
				r.eof != 0 || r.rerr != 0 || r.wrote > 0 && r.wpend > 0 || r.werr != 0
		}
		var perr error
		if write {
			perr = c.rc.Write(try)
		} else {
			perr = c.rc.Read(try)
		}
		if perr != nil {
			return r, c.pollError(write, perr)
		}
		// Send what the call wrote before waiting for anything else (a
		// flight before its answer). Bytes a call finds waiting and
		// did not write are a Write's, which sends them: a Read must
		// not wait behind it for the socket to drain.
		if r.wrote > 0 && r.wpend > 0 && r.werr == 0 {
			if serr := c.sendRest(&r); serr != nil && err == nil {
				return r, serr
			}
		}
		switch {
		case err != nil:
			return r, err
		case r.werr != 0:
			return r, c.socketError("write", syscall.Errno(r.werr))
		case r.err == C.SSL_ERROR_WANT_READ && r.eof != 0:
			return r, io.EOF
		case r.err == C.SSL_ERROR_WANT_READ && r.rerr != 0:
			return r, c.socketError("read", syscall.Errno(r.rerr))
		case r.err == C.SSL_ERROR_WANT_READ:
			write = false // after sending the rest, or from the writing side
		case r.err == C.SSL_ERROR_WANT_WRITE:
			// The socket BIO takes every write; libssl wants to write
			// only when sending failed, which werr reports.
			return r, fmt.Errorf("ossl: unexpected SSL_ERROR_WANT_WRITE in %s", op)
		default:
			return r, nil
		}
	}
}

// sendRest sends what a call over the socket left unsent, waiting until
// the socket takes it; r gets the outcome.
func (c *Conn) sendRest(r *C.go_conn_res) error {
	perr := c.rc.Write(func(fd uintptr) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.c == nil {
			r.wpend = 0
			return true
		}
		C.go_conn_send(c.c.ssl, C.int(fd), r)
		return r.wpend == 0 || r.werr != 0
	})
	switch {
	case perr != nil:
		return c.pollError(true, perr)
	case r.werr != 0:
		return c.socketError("write", syscall.Errno(r.werr))
	}
	return nil
}

// socketError is a failed recv or send as net.Conn's Read or Write
// reports a failed read or write.
func (c *Conn) socketError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: c.conn.LocalAddr().Network(), Source: c.conn.LocalAddr(), Addr: c.conn.RemoteAddr(),
		Err: os.NewSyscallError(op, errno)}
}

// pollError is the error of a wait on the socket (a deadline, a closed
// connection) as a Read or Write of the net.Conn reports it.
func (c *Conn) pollError(write bool, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		e := *oe
		e.Op, e.Source, e.Addr = "read", c.conn.LocalAddr(), c.conn.RemoteAddr()
		if write {
			e.Op = "write"
		}
		return &e
	}
	return err
}

// flush moves everything libssl wrote into the pair to the net.Conn, in
// order: one goroutine at a time drains the pair and writes what it took.
// Over a socket, libssl wrote to it itself: nothing is left.
func (c *Conn) flush() error {
	if c.rc != nil {
		return nil
	}
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	if c.flushErr != nil {
		return c.flushErr
	}
	for {
		c.mu.Lock()
		n := 0
		if c.c != nil {
			n = int(C.go_conn_net_read(c.c.bio, unsafe.Pointer(&c.fbuf[0]), C.int(len(c.fbuf))))
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
// came to libssl through the pair. The caller is the only reader (readMu,
// or the handshake).
func (c *Conn) fill() error {
	c.mu.Lock()
	room := 0
	if c.c != nil {
		room = int(C.go_conn_net_room(c.c.bio))
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
		if c.c != nil {
			w = int(C.go_conn_net_write(c.c.bio, unsafe.Pointer(&c.rbuf[0]), C.int(n)))
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

// Handshake runs the TLS handshake if it has not run yet, as
// HandshakeContext with a background context.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the TLS handshake if it has not run yet; concurrent
// calls wait for the first. A TLS 1.3 server's tickets, written by libssl
// at the end of the handshake, are sent before it returns. If ctx ends
// first, the connection's deadline is set in the past to interrupt it,
// ctx's error is returned, and the connection is unusable.
func (c *Conn) HandshakeContext(ctx context.Context) error {
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
	var stop func() bool
	var interrupted chan struct{}
	if ctx.Done() != nil {
		interrupted = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			_ = c.conn.SetDeadline(time.Unix(1, 0))
			close(interrupted)
		})
	}
	err := c.handshake()
	if stop != nil && !stop() {
		// ctx ended: it wins over the network error it caused (or over
		// success: the connection's deadline is spoiled), not over a TLS
		// failure of the handshake itself.
		<-interrupted
		var tlsErr *Error
		if !errors.As(err, &tlsErr) {
			err = ctx.Err()
		}
	}
	if err != nil {
		c.hsErr = err
		return err
	}
	c.hsDone.Store(true)
	return nil
}

func (c *Conn) handshake() error {
	if err := c.drainEarlyData(); err != nil {
		return err
	}
	r, err := c.io("SSL_do_handshake", false, func(cc *connC, fd C.int, r *C.go_conn_res) {
		C.go_conn_handshake(cc.ssl, cc.bio, fd, r)
	})
	if err != nil {
		return handshakeError(err)
	}
	if r.rc == 1 {
		return c.flush()
	}
	return unexpectedInHandshake(r)
}

// handshakeError says that the stream ended during the handshake.
func handshakeError(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("ossl: connection closed during the TLS handshake: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// unexpectedInHandshake is the error of a handshake call that neither
// completed nor failed.
func unexpectedInHandshake(r C.go_conn_res) error {
	if r.err == C.SSL_ERROR_ZERO_RETURN {
		return fmt.Errorf("ossl: peer sent close_notify during the TLS handshake: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("ossl: unexpected %s during the TLS handshake", sslErrorName(r.err))
}

// Read reads application data. It returns io.EOF after the peer's
// close_notify, or when the connection ends at a record boundary without
// one (as crypto/tls does), and io.ErrUnexpectedEOF when it ends inside a
// record.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return c.read(b, false)
}

// read is Read, with readMu held; with peek, it waits for data without
// taking it (SSL_peek). It returns early data the handshake read past
// first.
func (c *Conn) read(b []byte, peek bool) (int, error) {
	if c.readErr != nil {
		return 0, c.readErr
	}
	if len(b) == 0 {
		return 0, nil
	}
	if len(c.early.unread) > 0 {
		// Early data the handshake read past (ReadEarlyData).
		if peek {
			return 1, nil
		}
		n := copy(b, c.early.unread)
		c.early.unread = c.early.unread[n:]
		return n, nil
	}
	if len(b) > 1<<30 {
		b = b[:1<<30]
	}
	r, err := c.io("SSL_read", false, func(cc *connC, fd C.int, r *C.go_conn_res) {
		C.go_conn_read(cc.ssl, cc.bio, fd, unsafe.Pointer(&b[0]), C.int(len(b)), b2i(peek), r)
	})
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.EOF
			c.mu.Lock()
			if c.c != nil && C.go_conn_partial(c.c.ssl) == 1 {
				err = io.ErrUnexpectedEOF
			}
			c.mu.Unlock()
		}
		if !netTimeout(err) {
			c.readErr = err
		}
		return 0, err
	}
	if r.rc > 0 {
		if r.pending > 0 {
			// libssl answered something (a key update) while reading.
			_ = c.flush()
		}
		return int(r.rc), nil
	}
	// SSL_ERROR_ZERO_RETURN: the peer's close_notify.
	c.readErr = io.EOF
	return 0, io.EOF
}

func netTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// WriteTo writes the connection's application data to w until its end
// (close_notify, or the end of the stream at a record boundary), as
// io.Copy does, which calls it. Unlike io.Copy's own loop, it holds a
// buffer (a pooled one) only while data is there: waiting for the next
// record takes none, so that many idle connections copied this way hold
// no buffer each. It returns nil at the end, and the first error of a
// Read or of w.Write otherwise.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	var total int64
	for {
		c.readMu.Lock()
		_, err := c.read(c.peekBuf[:], true) // waits without a buffer
		var n int
		if err == nil {
			bp := copyBufs.Get().(*[]byte)
			n, err = c.read(*bp, false)
			c.readMu.Unlock()
			if n > 0 {
				var werr error
				n, werr = w.Write((*bp)[:n])
				total += int64(n)
				if werr != nil && err == nil {
					err = werr
				}
			}
			copyBufs.Put(bp)
		} else {
			c.readMu.Unlock()
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// copyBufs are WriteTo's buffers: one record's plaintext each.
var copyBufs = sync.Pool{New: func() any {
	b := make([]byte, maxPlaintext)
	return &b
}}

// Write writes application data, one record of up to 16 KiB at a time,
// each sent to the net.Conn before the next is made.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
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
		r, err := c.io("SSL_write", true, func(cc *connC, fd C.int, r *C.go_conn_res) {
			C.go_conn_write(cc.ssl, cc.bio, fd, &cc.wbuf, unsafe.Pointer(&b[0]), C.int(n), r)
		})
		if err != nil {
			return total, err
		}
		if r.rc <= 0 {
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
func (c *Conn) CloseWrite() error {
	if !c.hsDone.Load() {
		return errors.New("ossl: CloseWrite before the handshake completed")
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.closeNotifyLocked()
}

// closeNotifyLocked queues close_notify and sends it within
// closeNotifyTimeout; the caller holds writeMu.
func (c *Conn) closeNotifyLocked() error {
	if c.notifySent {
		return c.notifyErr
	}
	c.notifySent = true
	_ = c.conn.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
	_, err := c.io("SSL_shutdown", true, func(cc *connC, fd C.int, r *C.go_conn_res) { C.go_conn_shutdown(cc.ssl, cc.bio, fd, r) })
	if ferr := c.flush(); err == nil {
		err = ferr
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
func (c *Conn) Close() error {
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

// NetConn returns the underlying net.Conn.
func (c *Conn) NetConn() net.Conn { return c.conn }

// locked runs f with mu held, if the SSL object is still there.
func (c *Conn) locked(f func(p *C.SSL)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		f(c.c.ssl)
	}
}

// ConnectionState describes a connection, in the shape of
// crypto/tls.ConnectionState.
type ConnectionState struct {
	// Version is the negotiated protocol version (SSL_version(3)).
	Version Version
	// HandshakeComplete is true once the handshake has completed.
	HandshakeComplete bool
	// DidResume is true when the handshake resumed a session
	// (SSL_session_reused(3)).
	DidResume bool
	// CipherSuite is the IANA id of the cipher suite
	// (SSL_CIPHER_get_protocol_id(3)); crypto/tls.CipherSuiteName names it.
	CipherSuite uint16
	// ServerName is the SNI host name: the one the client sent, on a
	// server (also on a TLS 1.2 resumption, where libssl reports the
	// session's); the one set, on a client.
	ServerName string
	// NegotiatedProtocol is the protocol ALPN selected, or "".
	NegotiatedProtocol string
	// PeerCertificates are the certificates the peer sent, leaf first
	// (nil on a resumption: libssl keeps only what the session holds).
	PeerCertificates []*x509.Certificate
	// EarlyData is what became of TLS 1.3 early data
	// (SSL_get_early_data_status(3); see Conn.ReadEarlyData).
	EarlyData EarlyDataStatus
	// EarlyDataCheck is what the server context's allow-early-data
	// callback decided (Ctx.SetAllowEarlyDataCallback), on a server.
	EarlyDataCheck EarlyDataCheck
}

// ConnectionState returns the connection's state; after Close, only
// HandshakeComplete is set.
func (c *Conn) ConnectionState() ConnectionState {
	st := ConnectionState{HandshakeComplete: c.hsDone.Load()}
	if !st.HandshakeComplete {
		return st
	}
	c.locked(func(p *C.SSL) {
		st.Version = Version(C.SSL_version(p))
		st.DidResume = C.SSL_session_reused(p) == 1
		if id := C.go_conn_cipher_id(p); id >= 0 {
			st.CipherSuite = uint16(id)
		}
		st.ServerName = serverName(p)
		var n C.uint
		if a := C.go_conn_alpn(p, &n); a != nil && n > 0 {
			st.NegotiatedProtocol = C.GoStringN(a, C.int(n))
		}
		st.PeerCertificates = peerCertificates(p)
		st.EarlyData = EarlyDataStatus(C.go_ssl_early_data_status(p))
		st.EarlyDataCheck = EarlyDataCheck(C.go_ssl_early_check(p))
	})
	return st
}

func peerCertificates(p *C.SSL) []*x509.Certificate {
	var out []*x509.Certificate
	for i := 0; ; i++ {
		var der *C.uchar
		n := C.go_conn_peer_chain(p, C.int(i), &der)
		if n <= 0 {
			return out
		}
		b := C.GoBytes(unsafe.Pointer(der), n)
		C.CRYPTO_free(unsafe.Pointer(der), nil, 0)
		if cert, err := x509.ParseCertificate(b); err == nil {
			out = append(out, cert)
		}
	}
}

// Session returns a reference to the connection's session (the caller
// owns it), or nil. On a TLS 1.3 client it is the session of the last
// ticket read: tickets are read by Read, after the handshake.
func (c *Conn) Session() *Session {
	var s *Session
	c.locked(func(p *C.SSL) { s = newSession(C.SSL_get1_session(p), true) })
	return s
}

// LocalAddr returns the net.Conn's local address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the net.Conn's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the net.Conn's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the net.Conn's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the net.Conn's write deadline. A Write that times
// out may have sent part of a record: the connection is then broken.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

var _ net.Conn = (*Conn)(nil)
