package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// MaxSessionIDLength is SSL_MAX_SSL_SESSION_ID_LENGTH (32).
const MaxSessionIDLength = C.SSL_MAX_SSL_SESSION_ID_LENGTH

// MaxSessionDERSize bounds the encoded sessions UnmarshalSession accepts.
const MaxSessionDERSize = 64 << 10

// ErrSharedSession is returned by SetID on a Session whose SSL_SESSION
// libssl may be using too (a cache holds it, or a connection): a cache
// files sessions by ID, and an ID changed under it would corrupt the
// cache. Dup gives a private copy to change.
var ErrSharedSession = errors.New("ossl: session shared with libssl; change a copy (Session.Dup)")

// Session is one reference to an OpenSSL SSL_SESSION. Whoever holds a
// *Session owns that reference: Close releases it, and the garbage
// collector releases a forgotten one. Every method is safe for concurrent
// use, Close included: a method that loses the race with Close returns
// ErrClosed or a zero value, never touches freed memory.
//
// Several Sessions may refer to one SSL_SESSION (Ref). SetID works only on
// a private object, one no cache or connection holds (Dup,
// UnmarshalSession); SetTime and SetTimeout, as in OpenSSL, on any.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_free/.
type Session struct {
	mu      sync.RWMutex
	p       *C.SSL_SESSION // nil once closed or handed to libssl
	cleanup runtime.Cleanup
	// shared is set when the SSL_SESSION object may be held elsewhere (a
	// cache, a connection, another Session): SetID then refuses, and the
	// bridge copies it before libssl inserts it into an internal cache.
	shared atomic.Bool
	// cachedIn is the context whose internal cache Ctx.AddSession put
	// this private object in (under mu): libssl links a cached session
	// into one list, so it may go into no other cache.
	cachedIn *ctxState
}

// inLibssl reports whether libssl may hold the object: a cache or a
// connection. The caller holds mu.
func (s *Session) inLibssl() bool { return s.shared.Load() || s.cachedIn != nil }

// mayBeCached is inLibssl for a caller that does not hold mu.
func (s *Session) mayBeCached() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.inLibssl()
}

// newSession takes over one reference the caller owns; nil gives nil.
func newSession(p *C.SSL_SESSION, shared bool) *Session {
	if p == nil {
		return nil
	}
	s := &Session{p: p}
	s.shared.Store(shared)
	s.cleanup = runtime.AddCleanup(s, freeSession, p)
	return s
}

func freeSession(p *C.SSL_SESSION) { C.SSL_SESSION_free(p) }

// Close releases this reference (SSL_SESSION_free(3)). It is idempotent
// and may be called on nil.
func (s *Session) Close() {
	if p := s.take(); p != nil {
		C.SSL_SESSION_free(p)
	}
}

// take ends the Session and returns the reference it held (nil if it had
// none), for the caller to release or hand to libssl.
func (s *Session) take() *C.SSL_SESSION {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	p := s.p
	s.p = nil
	s.mu.Unlock()
	if p != nil {
		stopCleanup(s.cleanup, s)
	}
	return p
}

// testHookBeforeStop, if set, runs in stopCleanup before Stop, for the
// test that holds the window open with a collection.
var testHookBeforeStop atomic.Pointer[func()]

// stopCleanup cancels the cleanup that frees obj's C object, keeping obj
// reachable until Stop has returned. runtime.Cleanup.Stop has a value
// receiver: without the KeepAlive, obj may become unreachable while Stop
// runs, and a collection in that window queues the cleanup, which then
// frees the C object the caller frees too. That double free was the heap
// abort of issue 11.
func stopCleanup[T any](c runtime.Cleanup, obj *T) {
	if h := testHookBeforeStop.Load(); h != nil {
		(*h)()
	}
	c.Stop()
	runtime.KeepAlive(obj)
}

// read runs f on the session under the read lock; it reports false, and
// does not run f, once the Session is closed.
func (s *Session) read(f func(p *C.SSL_SESSION)) bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.p == nil {
		return false
	}
	f(s.p)
	return true
}

// write runs f on the session under the write lock; with private, only if
// no one else may hold the SSL_SESSION.
func (s *Session) write(op string, private bool, f func(p *C.SSL_SESSION) bool) error {
	if s == nil {
		return ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return ErrClosed
	}
	if private && s.inLibssl() {
		return ErrSharedSession
	}
	p := s.p
	return onThread(op, func() bool { return f(p) })
}

// Ref returns a new reference to the same SSL_SESSION (SSL_SESSION_up_ref),
// owned by the caller.
func (s *Session) Ref() (*Session, error) {
	var r *Session
	if !s.read(func(p *C.SSL_SESSION) {
		C.SSL_SESSION_up_ref(p)
		s.shared.Store(true)
		r = newSession(p, true)
	}) {
		return nil, ErrClosed
	}
	return r, nil
}

// Dup returns a deep copy in a new, private SSL_SESSION (SSL_SESSION_dup).
func (s *Session) Dup() (*Session, error) {
	var d *C.SSL_SESSION
	var err error
	if !s.read(func(p *C.SSL_SESSION) {
		err = onThread("SSL_SESSION_dup", func() bool {
			d = C.SSL_SESSION_dup(p)
			return d != nil
		})
	}) {
		return nil, ErrClosed
	}
	if err != nil {
		return nil, err
	}
	return newSession(d, false), nil
}

// ID returns the session ID (SSL_SESSION_get_id(3)); nil after Close.
func (s *Session) ID() []byte {
	var b []byte
	s.read(func(p *C.SSL_SESSION) { b = sessionID(p) })
	return b
}

func sessionID(p *C.SSL_SESSION) []byte {
	var n C.uint
	id := C.SSL_SESSION_get_id(p, &n)
	return C.GoBytes(unsafe.Pointer(id), C.int(n))
}

// SetID replaces the session ID (SSL_SESSION_set1_id(3)) of a private
// session (ErrSharedSession otherwise); IDs over 32 bytes are refused.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_set1_id/.
func (s *Session) SetID(id []byte) error {
	if len(id) > MaxSessionIDLength {
		return errorf("SSL_SESSION_set1_id", "session ID is %d bytes; the limit is %d", len(id), MaxSessionIDLength)
	}
	return s.write("SSL_SESSION_set1_id", true, func(p *C.SSL_SESSION) bool {
		return C.SSL_SESSION_set1_id(p, cBytes(id), C.uint(len(id))) == 1
	})
}

// IDContext returns the session id context the session was made under
// (SSL_SESSION_get0_id_context(3)).
func (s *Session) IDContext() []byte {
	var b []byte
	s.read(func(p *C.SSL_SESSION) {
		var n C.uint
		c := C.SSL_SESSION_get0_id_context(p, &n)
		b = C.GoBytes(unsafe.Pointer(c), C.int(n))
	})
	return b
}

// Time returns when the session was made, or last refreshed under
// SSL_SESS_CACHE_UPDATE_TIME (SSL_SESSION_get_time(3)), to the second.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_get_time/.
func (s *Session) Time() time.Time {
	var t int64
	if !s.read(func(p *C.SSL_SESSION) { t = int64(C.go_session_get_time(p)) }) {
		return time.Time{}
	}
	return time.Unix(t, 0)
}

// SetTime sets the session's start time (SSL_SESSION_set_time(3)), and so
// its expiry. On a session in an internal cache, OpenSSL 3.x before 3.2
// does not re-sort the cache by expiry; a flush may then stop early.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_get_time/.
func (s *Session) SetTime(t time.Time) error {
	return s.write("SSL_SESSION_set_time", false, func(p *C.SSL_SESSION) bool { return C.go_session_set_time(p, C.int64_t(t.Unix())) == 1 })
}

// maxSeconds is the largest whole number of seconds a time.Duration holds.
const maxSeconds = int64(math.MaxInt64 / time.Second)

// Timeout returns the session's lifetime (SSL_SESSION_get_timeout(3)),
// saturated at the largest time.Duration: a session decoded from DER may
// carry any value.
func (s *Session) Timeout() time.Duration {
	var d int64
	s.read(func(p *C.SSL_SESSION) { d = int64(C.go_session_get_timeout(p)) })
	return secondsToDuration(d)
}

func secondsToDuration(d int64) time.Duration {
	switch {
	case d > maxSeconds:
		return math.MaxInt64
	case d < -maxSeconds:
		return math.MinInt64
	}
	return time.Duration(d) * time.Second
}

// SetTimeout sets the session's lifetime in whole seconds
// (SSL_SESSION_set_timeout(3)), with SetTime's caveat.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_get_time/.
func (s *Session) SetTimeout(d time.Duration) error {
	return s.write("SSL_SESSION_set_timeout", false, func(p *C.SSL_SESSION) bool { return C.SSL_SESSION_set_timeout(p, C.long(d/time.Second)) == 1 })
}

// Expires returns Time plus Timeout, saturated: libssl treats the session
// as expired from then on. It is the zero time after Close.
func (s *Session) Expires() time.Time {
	var t int64
	if !s.read(func(p *C.SSL_SESSION) { t = int64(C.go_session_expires(p)) }) {
		return time.Time{}
	}
	return unixSaturated(t)
}

// maxUnix bounds the instants Expires reports: year 9999, far past any
// session and well inside what time.Time compares correctly.
const maxUnix = 253402300799

func unixSaturated(t int64) time.Time {
	return time.Unix(min(max(t, -maxUnix), maxUnix), 0)
}

// ProtocolVersion returns the TLS version the session was negotiated with
// (SSL_SESSION_get_protocol_version(3)).
func (s *Session) ProtocolVersion() Version {
	var v Version
	s.read(func(p *C.SSL_SESSION) { v = Version(C.SSL_SESSION_get_protocol_version(p)) })
	return v
}

// IsResumable reports whether libssl could resume the session
// (SSL_SESSION_is_resumable(3)).
func (s *Session) IsResumable() bool {
	ok := false
	s.read(func(p *C.SSL_SESSION) { ok = C.SSL_SESSION_is_resumable(p) == 1 })
	return ok
}

// Marshal encodes the session in DER (i2d_SSL_SESSION(3)). The encoding
// holds the session's master secret: protect it like a key.
//
// See https://docs.openssl.org/master/man3/d2i_SSL_SESSION/.
func (s *Session) Marshal() ([]byte, error) {
	var out []byte
	var err error
	if !s.read(func(p *C.SSL_SESSION) {
		err = onThread("i2d_SSL_SESSION", func() bool {
			n := C.go_i2d_session(p, nil)
			if n <= 0 {
				return false
			}
			out = make([]byte, int(n))
			return C.go_i2d_session(p, cBytes(out)) == n
		})
	}) {
		return nil, ErrClosed
	}
	return out, err
}

// NewSession makes an empty, private session (SSL_SESSION_new(3)), for
// tests and tools that build one field by field (SetID, SetTime,
// SetTimeout).
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_new/.
func NewSession() (*Session, error) {
	var p *C.SSL_SESSION
	if err := onThread("SSL_SESSION_new", func() bool {
		p = C.SSL_SESSION_new()
		return p != nil
	}); err != nil {
		return nil, err
	}
	return newSession(p, false), nil
}

// Hostname returns the server name the session was made for
// (SSL_SESSION_get0_hostname(3)): the one a TLS 1.2 server acknowledged,
// or a client sent; "" for none.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_get0_hostname/.
func (s *Session) Hostname() string {
	var h string
	s.read(func(p *C.SSL_SESSION) {
		if n := C.go_session_hostname(p); n != nil {
			h = C.GoString(n)
		}
	})
	return h
}

// HasTicket reports whether the session holds a ticket, on a client
// (SSL_SESSION_has_ticket(3)).
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_has_ticket/.
func (s *Session) HasTicket() bool {
	ok := false
	s.read(func(p *C.SSL_SESSION) { ok = C.go_session_has_ticket(p) == 1 })
	return ok
}

// TicketLifetimeHint returns the lifetime the server gave the ticket
// (SSL_SESSION_get_ticket_lifetime_hint(3)), to the second.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_has_ticket/.
func (s *Session) TicketLifetimeHint() time.Duration {
	var d int64
	s.read(func(p *C.SSL_SESSION) { d = int64(C.go_session_ticket_lifetime_hint(p)) })
	return secondsToDuration(d)
}

// TicketAppData returns the application data sealed into the session's
// ticket (SSL_SESSION_get0_ticket_appdata(3)), or nil.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_session_ticket_cb/.
func (s *Session) TicketAppData() []byte {
	var b []byte
	s.read(func(p *C.SSL_SESSION) {
		var n C.size_t
		if d := C.go_session_ticket_appdata(p, &n); d != nil && n > 0 {
			b = C.GoBytes(unsafe.Pointer(d), C.int(n))
		}
	})
	return b
}

// MaxEarlyData returns the early data the session allows
// (SSL_SESSION_get_max_early_data(3)).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (s *Session) MaxEarlyData() uint32 {
	var n uint32
	s.read(func(p *C.SSL_SESSION) { n = uint32(C.go_session_max_early_data(p)) })
	return n
}

// SetMaxEarlyData sets the early data a private session allows
// (SSL_SESSION_set_max_early_data(3)), for a PSK that sends it.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (s *Session) SetMaxEarlyData(n uint32) error {
	return s.write("SSL_SESSION_set_max_early_data", true, func(p *C.SSL_SESSION) bool {
		return C.go_session_set_max_early_data(p, C.uint32_t(n)) == 1
	})
}

// UnmarshalSession decodes a DER session (d2i_SSL_SESSION(3)) into a new,
// private Session. Empty, oversized (over MaxSessionDERSize), malformed or
// trailing bytes are an error.
//
// See https://docs.openssl.org/master/man3/d2i_SSL_SESSION/.
func UnmarshalSession(der []byte) (*Session, error) {
	if len(der) == 0 {
		return nil, errorf("d2i_SSL_SESSION", "empty input")
	}
	if len(der) > MaxSessionDERSize {
		return nil, errorf("d2i_SSL_SESSION", "%d bytes is over the %d-byte limit", len(der), MaxSessionDERSize)
	}
	var p *C.SSL_SESSION
	var used C.long
	err := onThread("d2i_SSL_SESSION", func() bool {
		p = C.go_d2i_session(cBytes(der), C.long(len(der)), &used)
		return p != nil
	})
	if err != nil {
		return nil, err
	}
	if int(used) != len(der) {
		C.SSL_SESSION_free(p)
		return nil, errorf("d2i_SSL_SESSION", "%d trailing bytes after the session", len(der)-int(used))
	}
	return newSession(p, false), nil
}

func cBytes(b []byte) *C.uchar {
	if len(b) == 0 {
		return nil
	}
	return (*C.uchar)(unsafe.Pointer(&b[0]))
}
