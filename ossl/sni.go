package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Alert is a TLS alert description (RFC 8446, section 6.2). As an error
// returned by a server-name callback, it refuses the connection with that
// fatal alert.
type Alert uint8

// Alerts a server-name callback may send.
const (
	AlertHandshakeFailure Alert = C.SSL_AD_HANDSHAKE_FAILURE
	AlertAccessDenied     Alert = C.SSL_AD_ACCESS_DENIED
	AlertInternalError    Alert = C.SSL_AD_INTERNAL_ERROR
	AlertUnrecognizedName Alert = C.SSL_AD_UNRECOGNIZED_NAME
)

// Error returns the alert's name in RFC 8446.
func (a Alert) Error() string {
	switch a {
	case AlertHandshakeFailure:
		return "tls: handshake_failure"
	case AlertAccessDenied:
		return "tls: access_denied"
	case AlertInternalError:
		return "tls: internal_error"
	case AlertUnrecognizedName:
		return "tls: unrecognized_name"
	}
	return fmt.Sprintf("tls: alert %d", uint8(a))
}

type serverNameFunc func(serverName string) (*Ctx, error)

// SetServerNameCallback installs a server-name (SNI) callback on a server
// context (SSL_CTX_set_tlsext_servername_callback(3)). fn gets the host
// name the client sent ("" for none) and returns the context to switch
// the connection to (SSL_set_SSL_CTX(3)), nil to stay, or an error to
// refuse the connection: with that alert if the error is an Alert, with
// unrecognized_name otherwise. The session cache and session callbacks of
// the original context keep serving a switched connection.
//
// The bridge holds its own reference to the context fn returns until the
// switch is done, so fn may return one that nothing else keeps, or that is
// closed by another goroutine meanwhile (a hot reload): a context closed
// before the bridge saw it fails the handshake with internal_error. A
// panic in fn is recovered and fails it the same way.
//
// A nil fn removes the callback.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_tlsext_servername_callback/.
func (c *Ctx) SetServerNameCallback(fn func(serverName string) (*Ctx, error)) error {
	return c.do("SSL_CTX_set_tlsext_servername_callback", func(p *C.SSL_CTX) bool {
		if fn == nil {
			c.st.sni.Store(nil)
		} else {
			f := serverNameFunc(fn)
			c.st.sni.Store(&f)
		}
		C.go_ctx_install_servername_callback(p, b2i(fn != nil))
		return true
	})
}

// onServerName returns the context to switch to with a reference C drops,
// or nil; a non-zero alert refuses the connection.
func (st *ctxState) onServerName(ssl *C.SSL) (to *C.SSL_CTX, alert Alert) {
	fn := st.sni.Load()
	if fn == nil {
		return nil, 0
	}
	name := serverName(ssl)
	var next *Ctx
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				st.n.panics.Add(1)
				err = fmt.Errorf("%w: server-name callback panicked: %v", AlertInternalError, r)
			}
		}()
		next, err = (*fn)(name)
	}()
	if err != nil {
		st.n.sniRefused.Add(1)
		if !errors.As(err, &alert) {
			alert = AlertUnrecognizedName
		}
		return nil, alert
	}
	if next == nil {
		return nil, 0
	}
	p, err := next.ref()
	if err != nil {
		st.n.sniRefused.Add(1)
		return nil, AlertInternalError
	}
	return p, 0
}
