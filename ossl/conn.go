package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// Conn is one OpenSSL SSL object made from a Ctx. It is not safe for
// concurrent use.
//
// See https://docs.openssl.org/master/man3/SSL_new/.
type Conn struct {
	ptr     cPointer
	cleanup runtime.Cleanup
}

// NewConn makes a connection object with SSL_new(3). The context's session
// cache and session callbacks serve it even if an SNI callback later
// switches it to another context.
func (c *Ctx) NewConn() (*Conn, error) {
	var s *C.SSL
	err := c.do("SSL_new", func(p *C.SSL_CTX) bool {
		s = C.SSL_new(p)
		return s != nil
	})
	if err != nil {
		return nil, err
	}
	conn := &Conn{}
	conn.ptr.Store(unsafe.Pointer(s))
	conn.cleanup = runtime.AddCleanup(conn, freeSSL, s)
	return conn, nil
}

func freeSSL(s *C.SSL) { C.SSL_free(s) }

// Close frees the SSL object (SSL_free(3)). It is idempotent.
func (c *Conn) Close() {
	if p := c.ptr.Swap(nil); p != nil {
		c.cleanup.Stop()
		C.SSL_free((*C.SSL)(p))
	}
}

// Ptr returns the SSL* for use with other cgo code, or nil after Close.
func (c *Conn) Ptr() unsafe.Pointer { return c.ptr.Load() }

func (c *Conn) use() (*C.SSL, error) {
	p := (*C.SSL)(c.ptr.Load())
	if p == nil {
		return nil, ErrClosed
	}
	return p, nil
}

func (c *Conn) do(op string, call func(p *C.SSL) bool) error {
	p, err := c.use()
	if err != nil {
		return err
	}
	err = onThread(op, func() bool { return call(p) })
	runtime.KeepAlive(c)
	return err
}

// SetSession offers sess for resumption on a client connection
// (SSL_set_session(3)); the connection takes its own reference.
//
// See https://docs.openssl.org/master/man3/SSL_set_session/.
func (c *Conn) SetSession(sess *Session) error {
	sp, err := sess.use()
	if err != nil {
		return err
	}
	err = c.do("SSL_set_session", func(p *C.SSL) bool { return C.SSL_set_session(p, sp) == 1 })
	runtime.KeepAlive(sess)
	return err
}

// SetServerName sets the SNI host name a client sends
// (SSL_set_tlsext_host_name(3)).
func (c *Conn) SetServerName(name string) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return c.do("SSL_set_tlsext_host_name", func(p *C.SSL) bool { return C.go_set_tlsext_host_name(p, cs) == 1 })
}

// ServerName returns the SNI host name of the connection
// (SSL_get_servername(3)), or "".
func (c *Conn) ServerName() string {
	p, err := c.use()
	if err != nil {
		return ""
	}
	n := C.SSL_get_servername(p, C.TLSEXT_NAMETYPE_host_name)
	runtime.KeepAlive(c)
	if n == nil {
		return ""
	}
	return C.GoString(n)
}

// SessionReused reports whether the handshake resumed a session
// (SSL_session_reused(3)).
//
// See https://docs.openssl.org/master/man3/SSL_session_reused/.
func (c *Conn) SessionReused() bool {
	p, err := c.use()
	if err != nil {
		return false
	}
	r := C.SSL_session_reused(p) == 1
	runtime.KeepAlive(c)
	return r
}

// Session returns a reference to the connection's current session
// (SSL_get1_session(3)), or nil when it has none. On a TLS 1.3 client it is
// the session of the last ticket read.
func (c *Conn) Session() *Session {
	p, err := c.use()
	if err != nil {
		return nil
	}
	s := newSession(C.SSL_get1_session(p), true)
	runtime.KeepAlive(c)
	return s
}

// Version returns the negotiated protocol version (SSL_version(3)).
func (c *Conn) Version() Version {
	p, err := c.use()
	if err != nil {
		return 0
	}
	v := Version(C.SSL_version(p))
	runtime.KeepAlive(c)
	return v
}

// SessionCtxPtr returns the SSL_CTX* whose session cache serves this
// connection: the one given to SSL_new, even after an SNI switch.
func (c *Conn) SessionCtxPtr() unsafe.Pointer {
	p, err := c.use()
	if err != nil {
		return nil
	}
	r := unsafe.Pointer(C.go_ssl_session_ctx(p))
	runtime.KeepAlive(c)
	return r
}

// CtxPtr returns the SSL_CTX* the connection uses now (SSL_get_SSL_CTX(3)).
func (c *Conn) CtxPtr() unsafe.Pointer {
	p, err := c.use()
	if err != nil {
		return nil
	}
	r := unsafe.Pointer(C.SSL_get_SSL_CTX(p))
	runtime.KeepAlive(c)
	return r
}

// PairTiming is the time a RunInMemory spent inside each side's libssl
// calls (the handshake, reading tickets and the close_notify exchange).
type PairTiming struct {
	Client, Server time.Duration
	Rounds         int // handshake flights driven
}

// RunInMemory joins a client and a server connection with an in-memory BIO
// pair (BIO_new_bio_pair(3)), drives the handshake to completion, lets the
// client read what the server sent after it (TLS 1.3 tickets, which reach
// the client's new-session callback), and closes both with a clean
// close_notify exchange so their sessions stay resumable. Both connections
// must be new; they are not reusable afterwards.
func RunInMemory(client, server *Conn) (PairTiming, error) {
	cp, err := client.use()
	if err != nil {
		return PairTiming{}, err
	}
	sp, err := server.use()
	if err != nil {
		return PairTiming{}, err
	}
	var r C.go_pair_result
	runtime.LockOSThread()
	C.ERR_clear_error()
	ok := C.go_pair_run(cp, sp, 1, &r) == 1
	var perr error
	if !ok {
		side := map[C.int]string{1: "client", 2: "server", 3: "pair"}[r.failed_side]
		step := map[C.int]string{0: "attach", 1: "handshake", 2: "ticket read", 3: "shutdown"}[r.step]
		detail := fmt.Sprintf("%s failed in %s (SSL_get_error %d)", side, step, int(r.ssl_error))
		if r.failed_side == 3 {
			detail = fmt.Sprintf("%s stalled after %d rounds", step, int(r.rounds))
		}
		perr = drainErrors("SSL_do_handshake", detail)
	}
	runtime.UnlockOSThread()
	runtime.KeepAlive(client)
	runtime.KeepAlive(server)
	return PairTiming{
		Client: time.Duration(r.client_ns),
		Server: time.Duration(r.server_ns),
		Rounds: int(r.rounds),
	}, perr
}
