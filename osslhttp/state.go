// Package osslhttp serves and dials HTTPS with net/http over TLS
// connections that the system libssl serves (package ossl), so that a Go
// service gets OpenSSL's TLS and a session cache shared by its fleet
// (ossl.Ctx.SetSessionStore, store/redisstore) with the standard library's
// HTTP.
//
//   - Server serves an http.Handler over ossl.NewListener: HTTP/2
//     (golang.org/x/net/http2) on connections whose client selected "h2"
//     by ALPN, HTTP/1.1 (net/http) on the others, each handshake on its own
//     goroutine under a timeout, with graceful shutdown.
//   - ConnectionState reports a request's TLS state (version, resumption,
//     ALPN, cipher, SNI, peer certificates); ConnContext makes it
//     reachable when a plain http.Server serves ossl.NewListener.
//   - Dialer and Transport are the client side: an http.RoundTripper that
//     dials with libssl, speaks HTTP/2 or HTTP/1.1 as the server selects,
//     and resumes sessions through the client context's
//     ossl.ClientSessionCache, against any server.
//
// Request.TLS is nil on these connections: net/http fills it only for a
// *crypto/tls.Conn. Use ConnectionState(r).
package osslhttp

import (
	"context"
	"net"
	"net/http"
	"sync"

	"github.com/osslcache/osslcache/ossl"
)

type connKey struct{}

// connInfo is what a request's context holds about its connection: the
// connection, and its state once read (it does not change after the
// handshake).
type connInfo struct {
	conn *ossl.Conn
	mu   sync.Mutex
	st   ossl.ConnectionState
	done bool
}

func (i *connInfo) state() (ossl.ConnectionState, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.done {
		st := i.conn.ConnectionState()
		// A connection closed meanwhile reports only HandshakeComplete;
		// keep reading until a full state was seen.
		if !st.HandshakeComplete || st.Version == 0 {
			return st, false
		}
		i.st, i.done = st, true
	}
	return i.st, true
}

// osslConn finds the *ossl.Conn under c, unwrapping connections that
// expose theirs with NetConn (as *ossl.Conn and *tls.Conn do).
func osslConn(c net.Conn) *ossl.Conn {
	for range 8 {
		switch v := c.(type) {
		case *ossl.Conn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// ConnContext returns ctx carrying c's TLS connection, for
// ConnectionState. It has the signature of http.Server.ConnContext: set
// it there when a plain http.Server serves an ossl.NewListener (Server
// does it for its own connections). A connection that is not an
// *ossl.Conn, or wraps none, leaves ctx as it is.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	oc := osslConn(c)
	if oc == nil {
		return ctx
	}
	return context.WithValue(ctx, connKey{}, &connInfo{conn: oc})
}

func withState(ctx context.Context, c *ossl.Conn, st ossl.ConnectionState) context.Context {
	return context.WithValue(ctx, connKey{}, &connInfo{conn: c, st: st, done: true})
}

// ConnectionState returns the TLS state of the connection r came on (its
// version, whether it resumed a session, the ALPN protocol, the cipher,
// the server name the client sent, the client's certificates), and
// whether there is one: false for a request that did not come through
// Server or an http.Server with ConnContext, or whose connection was
// closed before its state was first read.
func ConnectionState(r *http.Request) (ossl.ConnectionState, bool) {
	if r == nil {
		return ossl.ConnectionState{}, false
	}
	return ConnectionStateFromContext(r.Context())
}

// ConnectionStateFromContext is ConnectionState for a context derived
// from a request's.
func ConnectionStateFromContext(ctx context.Context) (ossl.ConnectionState, bool) {
	if ctx == nil {
		return ossl.ConnectionState{}, false
	}
	i, ok := ctx.Value(connKey{}).(*connInfo)
	if !ok || i == nil {
		return ossl.ConnectionState{}, false
	}
	return i.state()
}
