package ossl

/*
#include "shim.h"
*/
import "C"

import "unsafe"

// NewPSKSession makes the session of a TLS 1.3 external pre-shared key: a
// private session with secret as its master key, the cipher suite of IANA
// id suite (for its handshake digest) and TLS 1.3, as
// SSL_CTX_set_psk_use_session_callback(3) describes. The suite must be one
// the context allows.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_psk_client_callback/.
func (c *Ctx) NewPSKSession(secret []byte, suite uint16) (*Session, error) {
	if len(secret) == 0 {
		return nil, errorf("SSL_SESSION_set1_master_key", "empty PSK")
	}
	var sp *C.SSL_SESSION
	err := c.do("SSL_SESSION_new", func(p *C.SSL_CTX) bool {
		sp = C.go_new_psk_session(p, cBytes(secret), C.size_t(len(secret)), C.uint16_t(suite))
		return sp != nil
	})
	if err != nil {
		return nil, err
	}
	return newSession(sp, false), nil
}

type (
	pskUseFunc  func(digest string) ([]byte, *Session, error)
	pskFindFunc func(identity []byte) (*Session, error)
)

// SetPSKUseSessionCallback installs a client's TLS 1.3 PSK callback
// (SSL_CTX_set_psk_use_session_callback(3)): fn returns the identity to
// offer and the PSK's session (NewPSKSession, or one of an earlier
// handshake), which passes to libssl; a nil session offers no PSK. digest
// is "" on the first call and, on a second call after the server chose a
// suite, the digest name the PSK must match. An error fails the
// handshake; a panic is recovered and offers no PSK. A nil fn removes it.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_psk_client_callback/.
func (c *Ctx) SetPSKUseSessionCallback(fn func(digest string) (identity []byte, sess *Session, err error)) error {
	return c.do("SSL_CTX_set_psk_use_session_callback", func(p *C.SSL_CTX) bool {
		if fn == nil {
			c.st.pskUse.Store(nil)
		} else {
			f := pskUseFunc(fn)
			c.st.pskUse.Store(&f)
		}
		C.go_ctx_set_psk_use_callback(p, b2i(fn != nil))
		return true
	})
}

// SetPSKFindSessionCallback installs a server's TLS 1.3 PSK callback
// (SSL_CTX_set_psk_find_session_callback(3)): fn returns the session of
// the PSK with that identity, which passes to libssl, or nil when there is
// none. An error fails the handshake; a panic is recovered and finds
// nothing. A nil fn removes it.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_psk_client_callback/.
func (c *Ctx) SetPSKFindSessionCallback(fn func(identity []byte) (*Session, error)) error {
	return c.do("SSL_CTX_set_psk_find_session_callback", func(p *C.SSL_CTX) bool {
		if fn == nil {
			c.st.pskFind.Store(nil)
		} else {
			f := pskFindFunc(fn)
			c.st.pskFind.Store(&f)
		}
		C.go_ctx_set_psk_find_callback(p, b2i(fn != nil))
		return true
	})
}

// onUsePSK runs a client's PSK callback; it reports false to fail the
// handshake.
func (st *ctxState) onUsePSK(ssl *C.SSL, digest string, id **C.uchar, idlen *C.size_t, out **C.SSL_SESSION) (ok bool) {
	fn := st.pskUse.Load()
	if fn == nil {
		return true
	}
	var identity []byte
	var sess *Session
	var err error
	func() {
		defer st.recoverInto("psk-use", nil, nil)
		identity, sess, err = (*fn)(digest)
	}()
	if err != nil {
		st.report(nil, Event{Kind: EventStoreError, Op: "psk-use", Err: err})
		sess.Close()
		return false
	}
	if sess == nil {
		return true
	}
	p := sess.take()
	if p == nil {
		return true // closed before it got here: no PSK
	}
	if C.go_ssl_keep_psk_identity(ssl, cBytes(identity), C.size_t(len(identity)), (**C.uchar)(unsafe.Pointer(id))) != 1 {
		C.SSL_SESSION_free(p)
		return false
	}
	*idlen = C.size_t(len(identity))
	*out = p
	return true
}

// onFindPSK runs a server's PSK callback.
func (st *ctxState) onFindPSK(identity []byte, out **C.SSL_SESSION) bool {
	fn := st.pskFind.Load()
	if fn == nil {
		return true
	}
	var sess *Session
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				st.n.panics.Add(1)
				err = nil
				sess = nil
			}
		}()
		sess, err = (*fn)(identity)
	}()
	if err != nil {
		sess.Close()
		return false
	}
	if sess != nil {
		*out = sess.take()
	}
	return true
}
