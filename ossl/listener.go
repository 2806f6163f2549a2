package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"net"
)

// listener is the net.Listener of NewListener.
type listener struct {
	net.Listener
	ctx *Ctx
}

// NewListener returns a net.Listener whose Accept takes each connection
// inner accepts and returns the server side of a TLS connection over it,
// a *Conn made from ctx (SSL_new(3)), as crypto/tls.NewListener does.
//
// Accept does not run the handshake: it runs on the connection's first
// Read or Write, or on its Handshake or HandshakeContext, on the goroutine
// that serves it, so that a client that connects and sends nothing holds
// up no other (bound each connection's handshake with a deadline or a
// context). Accept fails when inner's Accept fails, or when no SSL object
// can be made from ctx (ErrClosed once ctx is closed; the accepted
// connection is closed then). Closing the listener closes inner; the
// connections already accepted stay open.
//
// See https://docs.openssl.org/master/man3/SSL_new/.
func NewListener(inner net.Listener, ctx *Ctx) net.Listener {
	return &listener{Listener: inner, ctx: ctx}
}

var errNilListener = errors.New("ossl: NewListener with a nil net.Listener")

// Accept waits for the next connection and returns it as a *Conn, its
// handshake not run yet.
func (l *listener) Accept() (net.Conn, error) {
	if l.Listener == nil {
		return nil, errNilListener
	}
	raw, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.ctx == nil {
		raw.Close()
		return nil, errors.New("ossl: NewListener with a nil *Ctx")
	}
	c, err := Server(raw, l.ctx)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("ossl: accepting a TLS connection: %w", err)
	}
	return c, nil
}

// Close closes the inner listener.
func (l *listener) Close() error {
	if l.Listener == nil {
		return errNilListener
	}
	return l.Listener.Close()
}

// Addr returns the inner listener's address (nil without one).
func (l *listener) Addr() net.Addr {
	if l.Listener == nil {
		return nil
	}
	return l.Listener.Addr()
}

// Listen listens on network and laddr with net.Listen and returns
// NewListener over it, as crypto/tls.Listen does. It refuses a nil ctx,
// and a context with no certificate (SSL_CTX_get0_certificate(3)) and no
// server-name callback to switch to one: every handshake would fail.
//
// See https://docs.openssl.org/master/man3/SSL_CTX_use_certificate/.
func Listen(network, laddr string, ctx *Ctx) (net.Listener, error) {
	if ctx == nil {
		return nil, errors.New("ossl: Listen with a nil *Ctx")
	}
	hasCert := false
	if !ctx.get(func(p *C.SSL_CTX) { hasCert = C.SSL_CTX_get0_certificate(p) != nil }) {
		return nil, ErrClosed
	}
	if !hasCert && ctx.st.sni.Load() == nil {
		return nil, errors.New("ossl: Listen: the context has no certificate (load one with LoadCertificatePEM or LoadCertificateFiles) and no server-name callback")
	}
	inner, err := net.Listen(network, laddr)
	if err != nil {
		return nil, err
	}
	return NewListener(inner, ctx), nil
}
