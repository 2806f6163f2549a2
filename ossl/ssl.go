package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// SSL is one OpenSSL connection object (an SSL*) made from a Ctx, for
// driving libssl step by step: offering a session, switching versions,
// reading what a handshake did. Conn, the net.Conn type, owns one of its
// own; an SSL is what ossltest's in-memory pairs drive.
//
// Whoever holds the *SSL owns the object: Close frees it, and the garbage
// collector frees a forgotten one. Its methods are serialized (libssl's
// SSL objects are not safe for concurrent use), so any goroutine may call
// any method, Close included; a method that loses the race with Close
// returns ErrClosed or a zero value.
//
// See https://docs.openssl.org/master/man3/SSL_new/.
type SSL struct {
	mu sync.Mutex
	// h holds the pointer, shared with the garbage collector's cleanup.
	h       *sslHandle
	cleanup runtime.Cleanup
}

// sslHandle is what freeing an SSL needs, kept apart from the SSL so that
// the cleanup may reach it.
type sslHandle struct {
	p *C.SSL // nil once freed (under SSL.mu, or in the cleanup)
	// paired is set once the SSL is joined to another by a BIO pair: the
	// two must then never be freed at once on two threads, since freeing
	// one end of a pair writes into the other.
	paired bool
}

// pairFreeMu serializes freeing SSL objects joined by in-memory BIO pairs.
var pairFreeMu sync.Mutex

func (h *sslHandle) free() {
	p := h.p
	if p == nil {
		return
	}
	h.p = nil
	if h.paired {
		pairFreeMu.Lock()
		defer pairFreeMu.Unlock()
	}
	C.SSL_free(p)
}

// NewSSL makes a connection object with SSL_new(3). The context's session
// cache and session callbacks serve it even if a server-name callback
// later switches it to another context.
//
// See https://docs.openssl.org/master/man3/SSL_new/.
func (c *Ctx) NewSSL() (*SSL, error) {
	var s *C.SSL
	err := c.do("SSL_new", func(p *C.SSL_CTX) bool {
		s = C.SSL_new(p)
		return s != nil
	})
	if err != nil {
		return nil, err
	}
	h := &sslHandle{p: s}
	out := &SSL{h: h}
	out.cleanup = runtime.AddCleanup(out, (*sslHandle).free, h)
	return out, nil
}

// Close frees the SSL object (SSL_free(3)). It is idempotent.
//
// See https://docs.openssl.org/master/man3/SSL_free/.
func (s *SSL) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h.p == nil {
		return
	}
	stopCleanup(s.cleanup, s)
	s.h.free()
}

// with runs f on the SSL object, serialized with every other call; it
// reports false, and does not run f, once the object is freed.
func (s *SSL) with(f func(p *C.SSL)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h.p == nil {
		return false
	}
	f(s.h.p)
	return true
}

// do runs call like with, on one OS thread, draining the error queue into
// the error when call reports failure.
func (s *SSL) do(op string, call func(p *C.SSL) bool) error {
	var err error
	if !s.with(func(p *C.SSL) { err = onThread(op, func() bool { return call(p) }) }) {
		return ErrClosed
	}
	return err
}

// SetSession offers sess for resumption on a client (SSL_set_session(3));
// the SSL takes its own reference, and sess is shared from then on.
//
// See https://docs.openssl.org/master/man3/SSL_set_session/.
func (s *SSL) SetSession(sess *Session) error {
	var err error
	if !s.with(func(p *C.SSL) { err = setSession(p, sess) }) {
		return ErrClosed
	}
	return err
}

// setSession offers sess on an SSL its caller holds.
func setSession(p *C.SSL, sess *Session) error {
	var err error
	if !sess.read(func(sp *C.SSL_SESSION) {
		sess.shared.Store(true)
		err = onThread("SSL_set_session", func() bool { return C.SSL_set_session(p, sp) == 1 })
	}) {
		return ErrClosed
	}
	return err
}

// SetServerName sets the SNI host name a client sends
// (SSL_set_tlsext_host_name(3)).
//
// See https://docs.openssl.org/master/man3/SSL_set_tlsext_host_name/.
func (s *SSL) SetServerName(name string) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return s.do("SSL_set_tlsext_host_name", func(p *C.SSL) bool { return C.go_set_tlsext_host_name(p, cs) == 1 })
}

// ServerName returns the SNI host name: on a server, the one the client
// sent in this handshake (libssl's SSL_get_servername(3) reports, on a
// TLS 1.2 resumption, the one stored in the session instead); on a
// client, the one set.
//
// See https://docs.openssl.org/master/man3/SSL_get_servername/.
func (s *SSL) ServerName() string {
	var n string
	s.with(func(p *C.SSL) { n = serverName(p) })
	return n
}

// serverName reads the name while the caller holds the SSL.
func serverName(p *C.SSL) string {
	if C.SSL_is_server(p) == 1 {
		if n := C.go_ssl_client_sni(p); n != nil {
			return C.GoString(n)
		}
	}
	if n := C.SSL_get_servername(p, C.TLSEXT_NAMETYPE_host_name); n != nil {
		return C.GoString(n)
	}
	return ""
}

// SessionReused reports whether the handshake resumed a session
// (SSL_session_reused(3)).
//
// See https://docs.openssl.org/master/man3/SSL_session_reused/.
func (s *SSL) SessionReused() bool {
	r := false
	s.with(func(p *C.SSL) { r = C.SSL_session_reused(p) == 1 })
	return r
}

// Session returns a reference to the connection's current session
// (SSL_get1_session(3)), owned by the caller, or nil when it has none. On a
// TLS 1.3 client it is the session of the last ticket read.
//
// See https://docs.openssl.org/master/man3/SSL_get_session/.
func (s *SSL) Session() *Session {
	var out *Session
	s.with(func(p *C.SSL) { out = newSession(C.SSL_get1_session(p), true) })
	return out
}

// Version returns the negotiated protocol version (SSL_version(3)).
//
// See https://docs.openssl.org/master/man3/SSL_get_version/.
func (s *SSL) Version() Version {
	var v Version
	s.with(func(p *C.SSL) { v = Version(C.SSL_version(p)) })
	return v
}

// IsServer reports whether the object is the server side
// (SSL_is_server(3)).
func (s *SSL) IsServer() bool {
	r := false
	s.with(func(p *C.SSL) { r = C.SSL_is_server(p) == 1 })
	return r
}

// ContextSwitched reports whether a server-name callback moved the
// connection to another context than the one it was made from (whose
// session cache still serves it).
func (s *SSL) ContextSwitched() bool {
	r := false
	s.with(func(p *C.SSL) { r = C.SSL_get_SSL_CTX(p) != C.go_ssl_session_ctx(p) })
	return r
}

// SetMinVersion sets the lowest protocol version of this connection
// (SSL_set_min_proto_version(3)), before its handshake.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_min_proto_version/.
func (s *SSL) SetMinVersion(v Version) error {
	return s.do("SSL_set_min_proto_version", func(p *C.SSL) bool { return C.go_ssl_set_min_proto(p, C.int(v)) == 1 })
}

// SetMaxVersion sets the highest protocol version of this connection
// (SSL_set_max_proto_version(3)), before its handshake.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_min_proto_version/.
func (s *SSL) SetMaxVersion(v Version) error {
	return s.do("SSL_set_max_proto_version", func(p *C.SSL) bool { return C.go_ssl_set_max_proto(p, C.int(v)) == 1 })
}

// SetVerify sets the connection's peer verification (SSL_set_verify(3)),
// with no verification callback.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_verify/.
func (s *SSL) SetVerify(m VerifyMode) error {
	return s.do("SSL_set_verify", func(p *C.SSL) bool {
		C.go_ssl_set_verify(p, C.int(m))
		return true
	})
}

// SetPostHandshakeAuth lets a TLS 1.3 client answer a server's request for
// a certificate after the handshake (SSL_set_post_handshake_auth(3)).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_verify/.
func (s *SSL) SetPostHandshakeAuth(on bool) error {
	return s.do("SSL_set_post_handshake_auth", func(p *C.SSL) bool {
		C.go_ssl_set_post_handshake_auth(p, b2i(on))
		return true
	})
}

// VerifyClientPostHandshake asks the TLS 1.3 client of an established
// connection for its certificate (SSL_verify_client_post_handshake(3));
// the request goes out with the next handshake call or write.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_verify/.
func (s *SSL) VerifyClientPostHandshake() error {
	return s.do("SSL_verify_client_post_handshake", func(p *C.SSL) bool { return C.go_ssl_verify_client_post_handshake(p) == 1 })
}

// Clear resets the object for a new connection with the same settings
// (SSL_clear(3)); a client keeps its session to offer it again.
//
// See https://docs.openssl.org/master/man3/SSL_clear/.
func (s *SSL) Clear() error {
	return s.do("SSL_clear", func(p *C.SSL) bool { return C.SSL_clear(p) == 1 })
}

// HasMatchingSessionID reports whether the internal session cache of the
// connection's context holds a session with this ID and the connection's
// protocol version (SSL_has_matching_session_id(3)), under the cache's
// lock and without changing it: the question SSL_CTX_add_session(3)'s
// return value answers in C, which AddSession cannot for a session libssl
// may hold (it adds a copy). libssl files sessions by version and ID, and
// a connection has no version before its handshake, so ask an SSL that
// has negotiated the sessions' version. The context is the one given to
// SSL_new, whose cache serves the connection.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_generate_session_id/.
func (s *SSL) HasMatchingSessionID(id []byte) bool {
	if len(id) == 0 || len(id) > MaxSessionIDLength {
		return false
	}
	r := false
	s.with(func(p *C.SSL) { r = C.SSL_has_matching_session_id(p, cBytes(id), C.uint(len(id))) == 1 })
	return r
}

// KeyUpdate schedules a TLS 1.3 KeyUpdate message (SSL_key_update(3)),
// asking the peer to update its keys too when requestPeer is set; it goes
// out with the next write or handshake call.
//
// See https://docs.openssl.org/master/man3/SSL_key_update/.
func (s *SSL) KeyUpdate(requestPeer bool) error {
	kind := C.int(C.SSL_KEY_UPDATE_NOT_REQUESTED)
	if requestPeer {
		kind = C.SSL_KEY_UPDATE_REQUESTED
	}
	return s.do("SSL_key_update", func(p *C.SSL) bool { return C.SSL_key_update(p, kind) == 1 })
}
