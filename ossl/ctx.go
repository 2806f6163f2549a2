package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// Version is a TLS protocol version number as libssl writes it (0x0303 for
// TLS 1.2).
type Version int

// Protocol versions, from the linked headers.
const (
	VersionTLS10 Version = C.TLS1_VERSION
	VersionTLS11 Version = C.TLS1_1_VERSION
	VersionTLS12 Version = C.TLS1_2_VERSION
	VersionTLS13 Version = C.TLS1_3_VERSION
)

func (v Version) String() string {
	switch v {
	case 0:
		return "any"
	case VersionTLS10:
		return "TLSv1"
	case VersionTLS11:
		return "TLSv1.1"
	case VersionTLS12:
		return "TLSv1.2"
	case VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", int(v))
}

// Role says which side of a handshake a context serves.
type Role int

const (
	// RoleServer makes a context with TLS_server_method.
	RoleServer Role = iota
	// RoleClient makes a context with TLS_client_method.
	RoleClient
	// RoleAny makes a context with TLS_method, usable on both sides.
	RoleAny
)

func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleAny:
		return "any"
	}
	return "server"
}

// Config describes a context made by NewCtx.
type Config struct {
	Role Role
	// MinVersion and MaxVersion bound the protocol versions; 0 leaves
	// libssl's default (see SSL_CTX_set_min_proto_version(3)).
	MinVersion, MaxVersion Version
}

// Ctx is an OpenSSL SSL_CTX: either made by NewCtx and owned (Close frees
// it), or wrapped with WrapCtx and owned by someone else (Close never frees
// it). A Ctx is safe for concurrent use, except Close, which must not run
// concurrently with other calls on the same Ctx.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_new/.
type Ctx struct {
	ptr     cPointer
	owned   bool
	cleanup runtime.Cleanup
	// st remembers the Go state once attached, so that its counters stay
	// readable after Close (libssl may still be freeing the context).
	st atomic.Pointer[ctxState]
}

// NewCtx makes a new SSL_CTX with SSL_CTX_new(3).
func NewCtx(cfg Config) (*Ctx, error) {
	var p *C.SSL_CTX
	err := onThread("SSL_CTX_new", func() bool {
		switch cfg.Role {
		case RoleClient:
			p = C.SSL_CTX_new(C.TLS_client_method())
		case RoleAny:
			p = C.SSL_CTX_new(C.TLS_method())
		default:
			p = C.SSL_CTX_new(C.TLS_server_method())
		}
		return p != nil
	})
	if err != nil {
		return nil, err
	}
	c := &Ctx{owned: true}
	c.ptr.Store(unsafe.Pointer(p))
	c.cleanup = runtime.AddCleanup(c, freeCtx, p)
	if cfg.MinVersion != 0 || cfg.MaxVersion != 0 {
		err = onThread("SSL_CTX_set_min/max_proto_version", func() bool {
			return C.go_ctx_set_proto_bounds(p, C.int(cfg.MinVersion), C.int(cfg.MaxVersion)) == 1
		})
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// WrapCtx wraps an SSL_CTX* made and owned by other code (another cgo
// library, say). Close on the result never frees it. The pointer must stay
// valid while the Ctx is used. State this package attaches (callbacks) lives
// in the context's ex_data and is released when its owner frees it.
func WrapCtx(sslCtx unsafe.Pointer) (*Ctx, error) {
	if sslCtx == nil {
		return nil, errors.New("ossl: WrapCtx of a nil SSL_CTX")
	}
	c := &Ctx{}
	c.ptr.Store(sslCtx)
	return c, nil
}

func freeCtx(p *C.SSL_CTX) {
	if s := lookupCtxState(p); s != nil {
		s.closing.Store(true)
	}
	C.SSL_CTX_free(p)
}

// Close releases an owned context (SSL_CTX_free; connections still holding
// it keep it alive until they are closed) and detaches a wrapped one. It is
// idempotent.
func (c *Ctx) Close() error {
	p := c.ptr.Swap(nil)
	if p == nil || !c.owned {
		return nil
	}
	c.cleanup.Stop()
	freeCtx((*C.SSL_CTX)(p))
	return nil
}

// Ptr returns the SSL_CTX* for use with other cgo code, or nil after Close.
func (c *Ctx) Ptr() unsafe.Pointer { return c.ptr.Load() }

func (c *Ctx) use() (*C.SSL_CTX, error) {
	p := (*C.SSL_CTX)(c.ptr.Load())
	if p == nil {
		return nil, ErrClosed
	}
	return p, nil
}

// do runs call on the context's pointer, on one OS thread, draining the error
// queue into the error when call reports failure.
func (c *Ctx) do(op string, call func(p *C.SSL_CTX) bool) error {
	p, err := c.use()
	if err != nil {
		return err
	}
	err = onThread(op, func() bool { return call(p) })
	runtime.KeepAlive(c)
	return err
}

// LoadCertificatePEM installs a certificate (the leaf first, then any chain
// certificates) and its private key from PEM bytes, and checks they match.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_use_certificate/.
func (c *Ctx) LoadCertificatePEM(certPEM, keyPEM []byte) error {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return errorf("SSL_CTX_use_certificate", "empty certificate or key PEM")
	}
	return c.do("SSL_CTX_use_certificate/PrivateKey", func(p *C.SSL_CTX) bool {
		return C.go_ctx_use_cert_key_pem(p,
			(*C.char)(unsafe.Pointer(&certPEM[0])), C.int(len(certPEM)),
			(*C.char)(unsafe.Pointer(&keyPEM[0])), C.int(len(keyPEM))) == 1
	})
}

// LoadCertificateFiles reads a PEM certificate chain file and a PEM private
// key file and installs them as LoadCertificatePEM does.
func (c *Ctx) LoadCertificateFiles(certFile, keyFile string) error {
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return fmt.Errorf("ossl: certificate: %w", err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("ossl: private key: %w", err)
	}
	return c.LoadCertificatePEM(cert, key)
}

// AddTrustedCertificatePEM adds the certificates of a PEM buffer to the
// store that verifies peers.
func (c *Ctx) AddTrustedCertificatePEM(pem []byte) error {
	if len(pem) == 0 {
		return errorf("X509_STORE_add_cert", "empty PEM")
	}
	return c.do("X509_STORE_add_cert", func(p *C.SSL_CTX) bool {
		return C.go_ctx_add_trusted_pem(p, (*C.char)(unsafe.Pointer(&pem[0])), C.int(len(pem))) == 1
	})
}

// VerifyMode is the peer verification of SSL_CTX_set_verify(3).
type VerifyMode int

// Verification modes.
const (
	VerifyNone             VerifyMode = C.SSL_VERIFY_NONE
	VerifyPeer             VerifyMode = C.SSL_VERIFY_PEER
	VerifyFailIfNoPeerCert VerifyMode = C.SSL_VERIFY_FAIL_IF_NO_PEER_CERT
	VerifyClientOnce       VerifyMode = C.SSL_VERIFY_CLIENT_ONCE
	VerifyRequirePeerCert             = VerifyPeer | VerifyFailIfNoPeerCert
)

// SetVerify sets peer verification with SSL_CTX_set_verify(3) and no
// verification callback. A server that verifies peers must also set a
// session id context (SetSessionIDContext): without one libssl caches none
// of its sessions, and a client that offers a ticket gets a failed
// handshake ("session id context uninitialized"; the *Error's Hint says
// the fix).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_verify/.
func (c *Ctx) SetVerify(m VerifyMode) error {
	return c.do("SSL_CTX_set_verify", func(p *C.SSL_CTX) bool {
		C.SSL_CTX_set_verify(p, C.int(m), nil)
		return true
	})
}

// MaxSessionIDContextLength is SSL_MAX_SID_CTX_LENGTH.
const MaxSessionIDContextLength = C.SSL_MAX_SID_CTX_LENGTH

// SetSessionIDContext sets the session id context with
// SSL_CTX_set_session_id_context(3): sessions are only resumed by contexts
// with the same one. At most 32 bytes.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_session_id_context/.
func (c *Ctx) SetSessionIDContext(sidCtx []byte) error {
	if len(sidCtx) > MaxSessionIDContextLength {
		return errorf("SSL_CTX_set_session_id_context", "session id context is %d bytes; the limit is %d", len(sidCtx), MaxSessionIDContextLength)
	}
	err := c.do("SSL_CTX_set_session_id_context", func(p *C.SSL_CTX) bool {
		return C.SSL_CTX_set_session_id_context(p, cBytes(sidCtx), C.uint(len(sidCtx))) == 1
	})
	if err == nil {
		v := append([]byte(nil), sidCtx...)
		c.state().sidCtx.Store(&v)
	}
	return err
}

// SessionIDContext returns the id context last set through
// SetSessionIDContext on this SSL_CTX (libssl has no getter; one set by other
// code is not seen).
func (c *Ctx) SessionIDContext() []byte {
	p := (*C.SSL_CTX)(c.ptr.Load())
	if p == nil {
		return nil
	}
	if s := lookupCtxState(p); s != nil {
		if v := s.sessionIDContext(); v != nil {
			return append([]byte(nil), v...)
		}
	}
	return nil
}

// SetSessionCacheSize sets the internal cache's capacity with
// SSL_CTX_sess_set_cache_size(3) (0 means unlimited) and returns the
// previous one.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_set_cache_size/.
func (c *Ctx) SetSessionCacheSize(n int) (int, error) {
	if n < 0 {
		return 0, errorf("SSL_CTX_sess_set_cache_size", "negative size %d", n)
	}
	var prev int
	err := c.do("SSL_CTX_sess_set_cache_size", func(p *C.SSL_CTX) bool {
		prev = int(C.go_ctx_sess_set_cache_size(p, C.long(n)))
		return true
	})
	return prev, err
}

// SessionCacheSize returns the internal cache's capacity
// (SSL_CTX_sess_get_cache_size(3)).
func (c *Ctx) SessionCacheSize() (int, error) {
	var n int
	err := c.do("SSL_CTX_sess_get_cache_size", func(p *C.SSL_CTX) bool {
		n = int(C.go_ctx_sess_get_cache_size(p))
		return true
	})
	return n, err
}

// SetTimeout sets the lifetime of new sessions with SSL_CTX_set_timeout(3),
// in whole seconds (at least one), and returns the previous one.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_timeout/.
func (c *Ctx) SetTimeout(d time.Duration) (time.Duration, error) {
	if d < time.Second {
		return 0, errorf("SSL_CTX_set_timeout", "timeout %v is under one second", d)
	}
	var prev time.Duration
	err := c.do("SSL_CTX_set_timeout", func(p *C.SSL_CTX) bool {
		prev = time.Duration(C.SSL_CTX_set_timeout(p, C.long(d/time.Second))) * time.Second
		return true
	})
	return prev, err
}

// Timeout returns the lifetime of new sessions (SSL_CTX_get_timeout(3)).
func (c *Ctx) Timeout() (time.Duration, error) {
	var d time.Duration
	err := c.do("SSL_CTX_get_timeout", func(p *C.SSL_CTX) bool {
		d = time.Duration(C.SSL_CTX_get_timeout(p)) * time.Second
		return true
	})
	return d, err
}

// FlushSessions removes from the internal cache every session that has
// expired at time at, with SSL_CTX_flush_sessions(3) (the remove callback
// runs for each). A zero at removes every session.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_flush_sessions/.
func (c *Ctx) FlushSessions(at time.Time) error {
	var t int64
	if !at.IsZero() {
		t = at.Unix()
	}
	return c.do("SSL_CTX_flush_sessions", func(p *C.SSL_CTX) bool {
		C.go_ctx_flush_sessions(p, C.int64_t(t))
		return true
	})
}

// AddSession adds s to the internal cache with SSL_CTX_add_session(3); the
// cache takes its own reference. It reports false when s was already cached.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_add_session/.
func (c *Ctx) AddSession(s *Session) (bool, error) {
	sp, err := s.use()
	if err != nil {
		return false, err
	}
	var added bool
	err = c.do("SSL_CTX_add_session", func(p *C.SSL_CTX) bool {
		added = C.SSL_CTX_add_session(p, sp) == 1
		C.ERR_clear_error()
		return true
	})
	runtime.KeepAlive(s)
	return added, err
}

// RemoveSession removes s from the internal cache with
// SSL_CTX_remove_session(3) and reports whether it was there.
func (c *Ctx) RemoveSession(s *Session) (bool, error) {
	sp, err := s.use()
	if err != nil {
		return false, err
	}
	var removed bool
	err = c.do("SSL_CTX_remove_session", func(p *C.SSL_CTX) bool {
		removed = C.SSL_CTX_remove_session(p, sp) == 1
		C.ERR_clear_error()
		return true
	})
	runtime.KeepAlive(s)
	return removed, err
}

// Stats holds SSL_CTX_sess_number(3) and every SSL_CTX_sess_* counter.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_number/.
type Stats struct {
	Sessions           int64 // sessions in the internal cache
	Connect            int64 // client handshakes started
	ConnectGood        int64 // client handshakes completed
	ConnectRenegotiate int64
	Accept             int64 // server handshakes started
	AcceptGood         int64 // server handshakes completed
	AcceptRenegotiate  int64
	Hits               int64 // sessions reused (internal or external)
	CallbackHits       int64 // sessions found by the get callback
	Misses             int64 // proposed sessions not found
	Timeouts           int64 // proposed sessions found but expired
	CacheFull          int64 // sessions evicted because the cache was full
}

// Stats reads the context's session statistics.
func (c *Ctx) Stats() (Stats, error) {
	var v [C.GO_STATS_LEN]C.long
	err := c.do("SSL_CTX_sess_number", func(p *C.SSL_CTX) bool {
		C.go_ctx_stats(p, &v[0])
		return true
	})
	return Stats{
		Sessions: int64(v[0]), Connect: int64(v[1]), ConnectGood: int64(v[2]), ConnectRenegotiate: int64(v[3]),
		Accept: int64(v[4]), AcceptGood: int64(v[5]), AcceptRenegotiate: int64(v[6]),
		Hits: int64(v[7]), CallbackHits: int64(v[8]), Misses: int64(v[9]), Timeouts: int64(v[10]), CacheFull: int64(v[11]),
	}, err
}

// SetNoTicket sets (true) or clears SSL_OP_NO_TICKET: with it, a TLS 1.2
// server resumes by session ID only and a TLS 1.3 server issues stateful
// tickets kept in its session cache.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_options/.
func (c *Ctx) SetNoTicket(on bool) error {
	return c.do("SSL_CTX_set_options", func(p *C.SSL_CTX) bool {
		if on {
			C.go_ctx_set_options(p, C.go_op_no_ticket())
		} else {
			C.go_ctx_clear_options(p, C.go_op_no_ticket())
		}
		return true
	})
}

// NoTicket reports whether SSL_OP_NO_TICKET is set.
func (c *Ctx) NoTicket() (bool, error) {
	var on bool
	err := c.do("SSL_CTX_get_options", func(p *C.SSL_CTX) bool {
		on = C.go_ctx_get_options(p)&C.go_op_no_ticket() != 0
		return true
	})
	return on, err
}

// SetNumTickets sets how many TLS 1.3 tickets a server sends after a full
// handshake, with SSL_CTX_set_num_tickets(3) (libssl's default is 2).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_num_tickets/.
func (c *Ctx) SetNumTickets(n int) error {
	if n < 0 {
		return errorf("SSL_CTX_set_num_tickets", "negative ticket count %d", n)
	}
	return c.do("SSL_CTX_set_num_tickets", func(p *C.SSL_CTX) bool {
		return C.SSL_CTX_set_num_tickets(p, C.size_t(n)) == 1
	})
}

// NumTickets returns the TLS 1.3 ticket count (SSL_CTX_get_num_tickets(3)).
func (c *Ctx) NumTickets() (int, error) {
	var n int
	err := c.do("SSL_CTX_get_num_tickets", func(p *C.SSL_CTX) bool {
		n = int(C.SSL_CTX_get_num_tickets(p))
		return true
	})
	return n, err
}

func cBytes(b []byte) *C.uchar {
	if len(b) == 0 {
		return nil
	}
	return (*C.uchar)(unsafe.Pointer(&b[0]))
}
