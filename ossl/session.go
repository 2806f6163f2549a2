package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// MaxSessionIDLength is SSL_MAX_SSL_SESSION_ID_LENGTH (32).
const MaxSessionIDLength = C.SSL_MAX_SSL_SESSION_ID_LENGTH

// MaxSessionDERSize bounds the encoded sessions UnmarshalSession accepts.
const MaxSessionDERSize = 64 << 10

// Session is one reference to an OpenSSL SSL_SESSION. Close releases the
// reference (a cleanup releases it if Close is forgotten). Reading methods
// are safe for concurrent use; Close must not run concurrently with them.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_free/.
type Session struct {
	ptr     cPointer
	cleanup runtime.Cleanup
	// shared is true when the SSL_SESSION object may also be held
	// elsewhere (Ref, or a session read from a connection), so that libssl
	// must be handed a copy before inserting it into an internal cache.
	shared bool
}

// newSession wraps a reference the caller owns; nil gives nil.
func newSession(p *C.SSL_SESSION, shared bool) *Session {
	if p == nil {
		return nil
	}
	s := &Session{shared: shared}
	s.ptr.Store(unsafe.Pointer(p))
	s.cleanup = runtime.AddCleanup(s, freeSession, p)
	return s
}

func freeSession(p *C.SSL_SESSION) { C.SSL_SESSION_free(p) }

// Close releases this reference. It is idempotent.
func (s *Session) Close() {
	if s == nil {
		return
	}
	if p := s.ptr.Swap(nil); p != nil {
		s.cleanup.Stop()
		C.SSL_SESSION_free((*C.SSL_SESSION)(p))
	}
}

func (s *Session) use() (*C.SSL_SESSION, error) {
	if s == nil {
		return nil, ErrClosed
	}
	p := (*C.SSL_SESSION)(s.ptr.Load())
	if p == nil {
		return nil, ErrClosed
	}
	return p, nil
}

// Ptr returns the SSL_SESSION* (borrowed: valid while s is open).
func (s *Session) Ptr() unsafe.Pointer {
	p, _ := s.use()
	return unsafe.Pointer(p)
}

// Ref returns a new reference to the same SSL_SESSION (SSL_SESSION_up_ref),
// to be closed on its own.
func (s *Session) Ref() (*Session, error) {
	p, err := s.use()
	if err != nil {
		return nil, err
	}
	C.go_session_up_ref(p)
	runtime.KeepAlive(s)
	return newSession(p, true), nil
}

// Dup returns a deep copy in a new SSL_SESSION object (SSL_SESSION_dup).
func (s *Session) Dup() (*Session, error) {
	p, err := s.use()
	if err != nil {
		return nil, err
	}
	var d *C.SSL_SESSION
	err = onThread("SSL_SESSION_dup", func() bool {
		d = C.SSL_SESSION_dup(p)
		return d != nil
	})
	runtime.KeepAlive(s)
	if err != nil {
		return nil, err
	}
	return newSession(d, false), nil
}

// WrapSession takes over one reference to an SSL_SESSION* obtained from
// other cgo code; Close releases it.
func WrapSession(p unsafe.Pointer) *Session {
	return newSession((*C.SSL_SESSION)(p), true)
}

// ID returns the session ID (SSL_SESSION_get_id(3)); nil after Close.
func (s *Session) ID() []byte {
	p, err := s.use()
	if err != nil {
		return nil
	}
	var n C.uint
	id := C.SSL_SESSION_get_id(p, &n)
	b := C.GoBytes(unsafe.Pointer(id), C.int(n))
	runtime.KeepAlive(s)
	return b
}

// SetID replaces the session ID (SSL_SESSION_set1_id(3)); IDs over 32 bytes
// are refused.
func (s *Session) SetID(id []byte) error {
	if len(id) > MaxSessionIDLength {
		return errorf("SSL_SESSION_set1_id", "session ID is %d bytes; the limit is %d", len(id), MaxSessionIDLength)
	}
	p, err := s.use()
	if err != nil {
		return err
	}
	err = onThread("SSL_SESSION_set1_id", func() bool {
		return C.go_session_set1_id(p, cBytes(id), C.uint(len(id))) == 1
	})
	runtime.KeepAlive(s)
	return err
}

// IDContext returns the session id context the session was made under
// (SSL_SESSION_get0_id_context(3)).
func (s *Session) IDContext() []byte {
	p, err := s.use()
	if err != nil {
		return nil
	}
	var n C.uint
	c := C.SSL_SESSION_get0_id_context(p, &n)
	b := C.GoBytes(unsafe.Pointer(c), C.int(n))
	runtime.KeepAlive(s)
	return b
}

// Time returns when the session was made, or last refreshed under
// SSL_SESS_CACHE_UPDATE_TIME (SSL_SESSION_get_time(3)), to the second.
//
// See https://docs.openssl.org/master/man3/SSL_SESSION_get_time/.
func (s *Session) Time() time.Time {
	p, err := s.use()
	if err != nil {
		return time.Time{}
	}
	t := int64(C.go_session_get_time(p))
	runtime.KeepAlive(s)
	return time.Unix(t, 0)
}

// SetTime sets the session's start time (SSL_SESSION_set_time(3)).
func (s *Session) SetTime(t time.Time) error {
	p, err := s.use()
	if err != nil {
		return err
	}
	err = onThread("SSL_SESSION_set_time", func() bool { return C.go_session_set_time(p, C.int64_t(t.Unix())) == 1 })
	runtime.KeepAlive(s)
	return err
}

// Timeout returns the session's lifetime (SSL_SESSION_get_timeout(3)).
func (s *Session) Timeout() time.Duration {
	p, err := s.use()
	if err != nil {
		return 0
	}
	d := time.Duration(C.SSL_SESSION_get_timeout(p)) * time.Second
	runtime.KeepAlive(s)
	return d
}

// SetTimeout sets the session's lifetime in whole seconds
// (SSL_SESSION_set_timeout(3)).
func (s *Session) SetTimeout(d time.Duration) error {
	p, err := s.use()
	if err != nil {
		return err
	}
	err = onThread("SSL_SESSION_set_timeout", func() bool { return C.SSL_SESSION_set_timeout(p, C.long(d/time.Second)) == 1 })
	runtime.KeepAlive(s)
	return err
}

// Expires returns Time plus Timeout: libssl treats the session as expired
// from then on.
func (s *Session) Expires() time.Time { return s.Time().Add(s.Timeout()) }

// ProtocolVersion returns the TLS version the session was negotiated with
// (SSL_SESSION_get_protocol_version(3)).
func (s *Session) ProtocolVersion() Version {
	p, err := s.use()
	if err != nil {
		return 0
	}
	v := Version(C.SSL_SESSION_get_protocol_version(p))
	runtime.KeepAlive(s)
	return v
}

// IsResumable reports whether libssl could resume the session
// (SSL_SESSION_is_resumable(3)).
func (s *Session) IsResumable() bool {
	p, err := s.use()
	if err != nil {
		return false
	}
	ok := C.SSL_SESSION_is_resumable(p) == 1
	runtime.KeepAlive(s)
	return ok
}

// Marshal encodes the session in DER (i2d_SSL_SESSION(3)). The encoding
// holds the session's master secret: protect it like a key.
//
// See https://docs.openssl.org/master/man3/d2i_SSL_SESSION/.
func (s *Session) Marshal() ([]byte, error) {
	p, err := s.use()
	if err != nil {
		return nil, err
	}
	var out []byte
	err = onThread("i2d_SSL_SESSION", func() bool {
		n := C.go_i2d_session(p, nil)
		if n <= 0 {
			return false
		}
		out = make([]byte, int(n))
		return C.go_i2d_session(p, cBytes(out)) == n
	})
	runtime.KeepAlive(s)
	return out, err
}

// UnmarshalSession decodes a DER session (d2i_SSL_SESSION(3)). Empty,
// oversized (over MaxSessionDERSize), malformed or trailing bytes are an
// error.
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
