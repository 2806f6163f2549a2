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
	"runtime/cgo"
	"sync"
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

// String returns libssl's name of the version ("TLSv1.2"), "any" for 0.
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

// String returns "server", "client" or "any".
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

// Ctx is one reference to an OpenSSL SSL_CTX. Whoever holds the *Ctx owns
// that reference: Close releases it, and the garbage collector releases a
// forgotten one. libssl frees the SSL_CTX when its last reference goes,
// which may be later: every connection made from it holds one too.
//
// Every method is safe for concurrent use, Close included: a method that
// loses the race with Close returns ErrClosed (or a zero value, for
// getters), never touches freed memory.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_new/.
type Ctx struct {
	mu      sync.RWMutex
	p       *C.SSL_CTX // nil once closed
	cleanup runtime.Cleanup
	// st is the context's Go state (callbacks, counters), shared by every
	// *Ctx over the same SSL_CTX; it outlives Close for CallbackStats.
	st *ctxState
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
	if cfg.Role != RoleClient {
		// Keep the server name each client sends, for ConnectionState.
		C.go_ctx_install_client_hello_callback(p)
	}
	c, err := ctxFromReference(p)
	if err != nil {
		return nil, err
	}
	if cfg.MinVersion != 0 {
		err = c.SetMinVersion(cfg.MinVersion)
	}
	if err == nil && cfg.MaxVersion != 0 {
		err = c.SetMaxVersion(cfg.MaxVersion)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// WrapCtx returns a *Ctx over an SSL_CTX* made by other code (another cgo
// library, say). It takes a reference of its own (SSL_CTX_up_ref), so the
// context stays valid while the *Ctx is open, whatever its maker does;
// Close drops that reference. Callbacks and stores installed through it
// live in the context's ex_data, shared with every other *Ctx over the same
// SSL_CTX, until libssl frees it.
func WrapCtx(sslCtx unsafe.Pointer) (*Ctx, error) {
	if sslCtx == nil {
		return nil, errors.New("ossl: WrapCtx of a nil SSL_CTX")
	}
	p := (*C.SSL_CTX)(sslCtx)
	if C.SSL_CTX_up_ref(p) != 1 {
		return nil, errors.New("ossl: WrapCtx: SSL_CTX_up_ref failed (a context being freed?)")
	}
	return ctxFromReference(p)
}

// ctxFromReference wraps a reference the caller owns and attaches the Go
// state; on failure it releases the reference.
func ctxFromReference(p *C.SSL_CTX) (*Ctx, error) {
	st, err := attachState(p)
	if err != nil {
		C.SSL_CTX_free(p)
		return nil, err
	}
	c := &Ctx{p: p, st: st}
	c.cleanup = runtime.AddCleanup(c, freeCtx, p)
	return c, nil
}

func freeCtx(p *C.SSL_CTX) { C.SSL_CTX_free(p) }

var attachMu sync.Mutex

// attachState returns the Go state of an SSL_CTX, making it on first use.
func attachState(p *C.SSL_CTX) (*ctxState, error) {
	if C.go_init_ex_indexes() != 1 {
		return nil, errors.New("ossl: no ex_data index (out of memory)")
	}
	attachMu.Lock()
	defer attachMu.Unlock()
	if h := C.go_ctx_get_handle(p); h != 0 {
		return cgo.Handle(h).Value().(*ctxState), nil
	}
	st := newCtxState()
	st.handle = cgo.NewHandle(st)
	if C.go_ctx_set_handle(p, C.uintptr_t(st.handle)) != 1 {
		st.handle.Delete()
		return nil, drainErrors("SSL_CTX_set_ex_data", "out of memory")
	}
	liveStates.Add(1)
	return st, nil
}

// Close releases this reference to the SSL_CTX (SSL_CTX_free(3)). It is
// idempotent.
func (c *Ctx) Close() error {
	c.mu.Lock()
	p := c.p
	c.p = nil
	c.mu.Unlock()
	if p != nil {
		stopCleanup(c.cleanup, c)
		C.SSL_CTX_free(p)
	}
	return nil
}

// do runs call on the context, under the read lock and on one OS thread,
// draining the error queue into the error when call reports failure. It is
// for calls libssl makes safe while connections are made from the
// context (SSL_new reads it), and for reads.
func (c *Ctx) do(op string, call func(p *C.SSL_CTX) bool) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.p == nil {
		return ErrClosed
	}
	p := c.p
	return onThread(op, func() bool { return call(p) })
}

// configure is do under the write lock, for calls that replace what SSL_new
// copies from the context (certificate, key, trust store, verification):
// no connection is made from the context meanwhile.
func (c *Ctx) configure(op string, call func(p *C.SSL_CTX) bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return ErrClosed
	}
	p := c.p
	return onThread(op, func() bool { return call(p) })
}

// get runs f on the context under the read lock; it reports false, and
// does not run f, once the context is closed.
func (c *Ctx) get(f func(p *C.SSL_CTX)) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.p == nil {
		return false
	}
	f(c.p)
	return true
}

// ref takes a new reference to the SSL_CTX for C to release.
func (c *Ctx) ref() (*C.SSL_CTX, error) {
	var p *C.SSL_CTX
	if !c.get(func(cp *C.SSL_CTX) {
		if C.SSL_CTX_up_ref(cp) == 1 {
			p = cp
		}
	}) || p == nil {
		return nil, ErrClosed
	}
	return p, nil
}

// LoadCertificatePEM installs a certificate (the leaf first, then any chain
// certificates) and its private key from PEM bytes, with
// SSL_CTX_use_cert_and_key(3). The pair is checked before the context
// changes: one that does not load, or whose key does not match, leaves the
// context's pair as it was. It may be called while connections are served
// (a certificate reload): connections made before keep the pair they
// started with.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_use_certificate/.
func (c *Ctx) LoadCertificatePEM(certPEM, keyPEM []byte) error {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return errorf("SSL_CTX_use_certificate", "empty certificate or key PEM")
	}
	return c.configure("SSL_CTX_use_certificate/PrivateKey", func(p *C.SSL_CTX) bool {
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
// store that verifies peers (X509_STORE_add_cert(3)).
func (c *Ctx) AddTrustedCertificatePEM(pem []byte) error {
	if len(pem) == 0 {
		return errorf("X509_STORE_add_cert", "empty PEM")
	}
	return c.configure("X509_STORE_add_cert", func(p *C.SSL_CTX) bool {
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
	return c.configure("SSL_CTX_set_verify", func(p *C.SSL_CTX) bool {
		C.SSL_CTX_set_verify(p, C.int(m), nil)
		return true
	})
}

// SetMinVersion sets the lowest protocol version the context negotiates
// (SSL_CTX_set_min_proto_version(3)); 0 means the lowest libssl supports.
// It applies to connections made after the call.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_min_proto_version/.
func (c *Ctx) SetMinVersion(v Version) error {
	return c.do("SSL_CTX_set_min_proto_version", func(p *C.SSL_CTX) bool { return C.go_ctx_set_min_proto(p, C.int(v)) == 1 })
}

// SetMaxVersion sets the highest protocol version the context negotiates
// (SSL_CTX_set_max_proto_version(3)); 0 means the highest libssl supports.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_min_proto_version/.
func (c *Ctx) SetMaxVersion(v Version) error {
	return c.do("SSL_CTX_set_max_proto_version", func(p *C.SSL_CTX) bool { return C.go_ctx_set_max_proto(p, C.int(v)) == 1 })
}

// MinVersion returns the lowest version set (SSL_CTX_get_min_proto_version(3)),
// 0 for none.
func (c *Ctx) MinVersion() Version {
	var v Version
	c.get(func(p *C.SSL_CTX) { v = Version(C.go_ctx_get_min_proto(p)) })
	return v
}

// MaxVersion returns the highest version set (SSL_CTX_get_max_proto_version(3)),
// 0 for none.
func (c *Ctx) MaxVersion() Version {
	var v Version
	c.get(func(p *C.SSL_CTX) { v = Version(C.go_ctx_get_max_proto(p)) })
	return v
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
	err := c.configure("SSL_CTX_set_session_id_context", func(p *C.SSL_CTX) bool {
		return C.SSL_CTX_set_session_id_context(p, cBytes(sidCtx), C.uint(len(sidCtx))) == 1
	})
	if err == nil {
		v := append([]byte(nil), sidCtx...)
		c.st.sidCtx.Store(&v)
	}
	return err
}

// SessionIDContext returns the id context last set through
// SetSessionIDContext on this SSL_CTX (libssl has no getter; one set by other
// code is not seen).
func (c *Ctx) SessionIDContext() []byte {
	if v := c.st.sessionIDContext(); v != nil {
		return append([]byte(nil), v...)
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
// (SSL_CTX_sess_get_cache_size(3)); 0 after Close.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_set_cache_size/.
func (c *Ctx) SessionCacheSize() int {
	var n int
	c.get(func(p *C.SSL_CTX) { n = int(C.go_ctx_sess_get_cache_size(p)) })
	return n
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
		prev = secondsToDuration(int64(C.SSL_CTX_set_timeout(p, C.long(d/time.Second))))
		return true
	})
	return prev, err
}

// Timeout returns the lifetime of new sessions (SSL_CTX_get_timeout(3));
// 0 after Close.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_timeout/.
func (c *Ctx) Timeout() time.Duration {
	var d time.Duration
	c.get(func(p *C.SSL_CTX) { d = secondsToDuration(int64(C.SSL_CTX_get_timeout(p))) })
	return d
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
// cache takes its own reference. It reports false when s was already
// cached. libssl links a cached session into one list: a session libssl
// may hold elsewhere (one a handshake made, a Ref, one added to another
// context) is added as a private copy (SSL_SESSION_dup), so that no
// object is ever in two caches.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_add_session/.
func (c *Ctx) AddSession(s *Session) (bool, error) {
	if s == nil {
		return false, ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return false, ErrClosed
	}
	sp := s.p
	if s.shared.Load() || (s.cachedIn != nil && s.cachedIn != c.st) {
		var err error
		if err = onThread("SSL_SESSION_dup", func() bool {
			sp = C.SSL_SESSION_dup(sp)
			return sp != nil
		}); err != nil {
			return false, err
		}
		defer C.SSL_SESSION_free(sp) // the cache holds its own reference
	} else {
		s.cachedIn = c.st
	}
	var added bool
	err := c.do("SSL_CTX_add_session", func(p *C.SSL_CTX) bool {
		added = C.SSL_CTX_add_session(p, sp) == 1
		C.ERR_clear_error()
		return true
	})
	return added, err
}

// RemoveSession removes s from the internal cache with
// SSL_CTX_remove_session(3) and reports whether it was there.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_add_session/.
func (c *Ctx) RemoveSession(s *Session) (bool, error) {
	var removed bool
	var err error
	if !s.read(func(sp *C.SSL_SESSION) {
		err = c.do("SSL_CTX_remove_session", func(p *C.SSL_CTX) bool {
			removed = C.SSL_CTX_remove_session(p, sp) == 1
			C.ERR_clear_error()
			return true
		})
	}) {
		return false, ErrClosed
	}
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

// Stats reads the context's session statistics; all zero after Close.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_number/.
func (c *Ctx) Stats() Stats {
	var v [C.GO_STATS_LEN]C.long
	c.get(func(p *C.SSL_CTX) { C.go_ctx_stats(p, &v[0]) })
	return Stats{
		Sessions: int64(v[0]), Connect: int64(v[1]), ConnectGood: int64(v[2]), ConnectRenegotiate: int64(v[3]),
		Accept: int64(v[4]), AcceptGood: int64(v[5]), AcceptRenegotiate: int64(v[6]),
		Hits: int64(v[7]), CallbackHits: int64(v[8]), Misses: int64(v[9]), Timeouts: int64(v[10]), CacheFull: int64(v[11]),
	}
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
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_num_tickets/.
func (c *Ctx) NumTickets() int {
	var n int
	c.get(func(p *C.SSL_CTX) { n = int(C.SSL_CTX_get_num_tickets(p)) })
	return n
}

// TicketKeySize is the size of one stateless ticket key: a 16-byte key
// name, a 32-byte HMAC-SHA256 key and a 32-byte AES-256-CBC key, in that
// order (the layout of SSL_CTX_set_tlsext_ticket_keys(3) and of nginx's
// ssl_session_ticket_key files).
const TicketKeySize = C.GO_TICKET_KEY_SIZE

// TicketKey is one stateless ticket key.
type TicketKey [TicketKeySize]byte

// SetTicketKeys installs the keys that seal stateless session tickets
// (TLS 1.2 tickets, TLS 1.3 tickets without SSL_OP_NO_TICKET), through
// SSL_CTX_set_tlsext_ticket_key_evp_cb(3) (SSL_CTX_set_tlsext_ticket_key_cb
// on OpenSSL 1.1.1): the first key seals new tickets, every key opens them,
// and a ticket opened with any but the first is renewed. Servers holding
// the same keys resume each other's tickets; rotating means installing
// [new, old] then, once old tickets have expired, [new]. It may be called
// while connections are served. No keys gives the context back libssl's
// own, made at random per context.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_tlsext_ticket_key_cb/.
func (c *Ctx) SetTicketKeys(keys ...TicketKey) error {
	buf := make([]byte, 0, len(keys)*TicketKeySize)
	for i := range keys {
		buf = append(buf, keys[i][:]...)
	}
	defer clear(buf)
	return c.do("SSL_CTX_set_tlsext_ticket_key_evp_cb", func(p *C.SSL_CTX) bool {
		return C.go_ctx_set_ticket_keys(p, cBytes(buf), C.int(len(keys))) == 1
	})
}

// HoldTicketSealing stops (true) or resumes sealing new tickets with the
// keys SetTicketKeys installed, which still open the tickets clients
// offer: the key callback then declines, and libssl sends no ticket (an
// empty one in TLS 1.2, no NewSessionTicket in TLS 1.3). It is an error
// without keys.
//
// OpenSSL 1.1.1 answers a declining key callback on TLS 1.3 with a
// NewSessionTicket holding an empty ticket, which clients reject: there,
// holding is refused with an error wrapping errors.ErrUnsupported, naming
// the release line that has it, unless the context's highest version is
// TLS 1.2 or lower (SetMaxVersion); a TLS 1.3 connection of a context
// raised to TLS 1.3 afterwards fails its handshake.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_tlsext_ticket_key_cb/.
func (c *Ctx) HoldTicketSealing(hold bool) error {
	if hold && C.GO_HAVE_TLS13_TICKET_DECLINE == 0 {
		if v := c.MaxVersion(); v == 0 || v >= VersionTLS13 {
			return unsupported("HoldTicketSealing on a context that may negotiate TLS 1.3", "3.0")
		}
	}
	return c.do("SSL_CTX_set_tlsext_ticket_key_evp_cb", func(p *C.SSL_CTX) bool {
		if C.go_ctx_ticket_key_count(p) == 0 {
			return false
		}
		return C.go_ctx_hold_ticket_sealing(p, b2i(hold)) == 1
	})
}

// TicketKeyCount returns how many keys SetTicketKeys installed.
func (c *Ctx) TicketKeyCount() int {
	var n int
	c.get(func(p *C.SSL_CTX) { n = int(C.go_ctx_ticket_key_count(p)) })
	return n
}
