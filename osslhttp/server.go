package osslhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"

	"github.com/osslcache/osslcache/ossl"
)

// ALPN protocol names (RFC 7301 registry).
const (
	ProtoHTTP2  = "h2"
	ProtoHTTP11 = "http/1.1"
)

// DefaultHandshakeTimeout bounds a TLS handshake when neither
// Options.HandshakeTimeout nor any of the http.Server's ReadTimeout,
// ReadHeaderTimeout and WriteTimeout is set.
const DefaultHandshakeTimeout = 10 * time.Second

// Options configure NewServer.
type Options struct {
	// HandshakeTimeout bounds each TLS handshake. Zero means the smallest
	// of the http.Server's ReadTimeout, ReadHeaderTimeout and
	// WriteTimeout that is set (as net/http does for crypto/tls), else
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// DisableHTTP2 offers only http/1.1 with ALPN.
	DisableHTTP2 bool
	// HTTP2 configures HTTP/2; nil is the zero http2.Server. Most HTTP/2
	// settings are better set in http.Server.HTTP2, which it reads.
	HTTP2 *http2.Server
	// StrictALPN refuses, with a no_application_protocol alert, a client
	// whose ALPN offer has neither h2 nor http/1.1; by default it is served
	// HTTP/1.1. A client that offers no ALPN is served HTTP/1.1 either way.
	StrictALPN bool
}

// Server serves HTTP/1.1 and HTTP/2 over TLS connections served by libssl
// from one server context, as http.Server.ServeTLS does with crypto/tls:
//
//   - Each accepted connection's handshake runs on its own goroutine under
//     the handshake timeout, so a client that connects and sends nothing
//     holds up no other.
//   - A connection whose client selected h2 by ALPN is served by
//     golang.org/x/net/http2 (refused unless it runs TLS 1.2 or later with
//     an ephemeral AEAD cipher suite, RFC 9113 section 9.2.2); the others
//     by the http.Server, as HTTP/1.1.
//   - Requests reach ConnectionState(r) for the handshake's state.
//
// Make one with NewServer; it is safe for concurrent use.
type Server struct {
	ctx              *ossl.Ctx
	hs               *http.Server
	h2               *http2.Server // nil with DisableHTTP2
	h2Shutdown       *http.Server  // holds h2's graceful shutdown hook (its Shutdown sends GOAWAY)
	handshakeTimeout time.Duration
	userConnContext  func(context.Context, net.Conn) context.Context

	baseCtx context.Context // canceled by Close: aborts handshakes
	cancel  context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]*connQueue
	conns     map[*ossl.Conn]bool // true: serving HTTP/2; false: in its handshake
	closing   bool
	wg        sync.WaitGroup // accept loops, http.Server loops, handshakes, HTTP/2 connections
}

// NewServer makes a Server of ctx, a server context with a certificate,
// and hs, which holds the handler and the settings of both protocols
// (timeouts, MaxHeaderBytes, ErrorLog, ConnState, BaseContext,
// ConnContext, HTTP2). hs belongs to the Server from then on: NewServer
// sets ctx's ALPN list (h2 and http/1.1, in that order, or http/1.1 alone;
// ossl.Ctx.SetNextProtos) and wraps hs.ConnContext to record each
// connection (calling the function set before); serve and stop it through
// the Server only. hs.TLSConfig and hs.TLSNextProto are not used.
func NewServer(ctx *ossl.Ctx, hs *http.Server, o Options) (*Server, error) {
	if ctx == nil || hs == nil {
		return nil, errors.New("osslhttp: NewServer needs an *ossl.Ctx and an *http.Server")
	}
	if o.HandshakeTimeout < 0 {
		return nil, fmt.Errorf("osslhttp: negative HandshakeTimeout %v", o.HandshakeTimeout)
	}
	protos := []string{ProtoHTTP2, ProtoHTTP11}
	if o.DisableHTTP2 {
		protos = protos[1:]
	}
	mismatch := ossl.ALPNFallback
	if o.StrictALPN {
		mismatch = ossl.ALPNStrict
	}
	if err := ctx.SetNextProtos(protos, mismatch); err != nil {
		return nil, err
	}
	s := &Server{
		ctx:              ctx,
		hs:               hs,
		handshakeTimeout: handshakeTimeout(o.HandshakeTimeout, hs),
		userConnContext:  hs.ConnContext,
		listeners:        map[net.Listener]*connQueue{},
		conns:            map[*ossl.Conn]bool{},
	}
	if !o.DisableHTTP2 {
		s.h2 = o.HTTP2
		if s.h2 == nil {
			s.h2 = new(http2.Server)
		}
		// ConfigureServer registers the HTTP/2 server's graceful shutdown
		// on an http.Server; a private one, so that hs is left alone and
		// the hook can be run again (Shutdown) for connections that
		// started while it ran.
		s.h2Shutdown = &http.Server{IdleTimeout: hs.IdleTimeout, ReadTimeout: hs.ReadTimeout}
		if err := http2.ConfigureServer(s.h2Shutdown, s.h2); err != nil {
			return nil, fmt.Errorf("osslhttp: %w", err)
		}
	}
	user := hs.ConnContext
	hs.ConnContext = func(c context.Context, nc net.Conn) context.Context {
		c = ConnContext(c, nc)
		if user != nil {
			// net/http panics on a nil context; keep the one it had.
			if uc := user(c, nc); uc != nil {
				c = uc
			} else {
				s.logf("osslhttp: ConnContext returned a nil context for the connection from %s; using the one it was given", nc.RemoteAddr())
			}
		}
		return c
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func handshakeTimeout(d time.Duration, hs *http.Server) time.Duration {
	if d > 0 {
		return d
	}
	for _, t := range []time.Duration{hs.ReadTimeout, hs.ReadHeaderTimeout, hs.WriteTimeout} {
		if t > 0 && (d == 0 || t < d) {
			d = t
		}
	}
	if d == 0 {
		d = DefaultHandshakeTimeout
	}
	return d
}

var errNotMade = errors.New("osslhttp: Server not made by NewServer")

// HTTPServer returns the http.Server given to NewServer.
func (s *Server) HTTPServer() *http.Server { return s.hs }

// HandshakeTimeout returns the bound on each handshake in force.
func (s *Server) HandshakeTimeout() time.Duration { return s.handshakeTimeout }

// ListenAndServe listens on the TCP address addr (":https" if empty) and
// serves it, as Serve.
func (s *Server) ListenAndServe(addr string) error {
	if s.ctx == nil {
		return errNotMade
	}
	if addr == "" {
		addr = ":https"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l, a plain listener (the Server adds TLS
// with ossl.NewListener), and serves each on its own goroutine. It
// returns http.ErrServerClosed after Shutdown or Close, or the accept
// error that stopped it; l is closed either way. hs.BaseContext, if set,
// is called with a listener whose Addr is l's: by the http.Server for
// HTTP/1.1 connections, and once more for HTTP/2 connections.
func (s *Server) Serve(l net.Listener) error {
	if s.ctx == nil {
		return errNotMade
	}
	if l == nil {
		return errors.New("osslhttp: Serve with a nil net.Listener")
	}
	q := newConnQueue(l.Addr())
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	s.listeners[l] = q
	s.wg.Add(2)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
		q.Close()
		s.wg.Done()
	}()
	base := context.Background()
	if s.hs.BaseContext != nil {
		if base = s.hs.BaseContext(q); base == nil {
			s.wg.Done() // no http.Server loop: it would panic on the same nil
			return errors.New("osslhttp: BaseContext returned a nil context")
		}
	}
	go func() {
		defer s.wg.Done()
		_ = s.hs.Serve(q)
	}()

	tl := ossl.NewListener(l, s.ctx)
	var backoff time.Duration
	for {
		c, err := tl.Accept()
		if err != nil {
			if s.isClosing() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("osslhttp: Accept error: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		tc := c.(*ossl.Conn)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			tc.Close()
			return http.ErrServerClosed
		}
		s.conns[tc] = false
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(tc, q, base)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) untrack(tc *ossl.Conn) {
	s.mu.Lock()
	delete(s.conns, tc)
	s.mu.Unlock()
}

func (s *Server) logf(format string, args ...any) {
	if s.hs.ErrorLog != nil {
		s.hs.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// handle runs one connection's handshake and hands it to the protocol its
// client selected.
func (s *Server) handle(tc *ossl.Conn, q *connQueue, base context.Context) {
	defer s.wg.Done()
	defer s.untrack(tc)
	deadline := time.Now().Add(s.handshakeTimeout)
	_ = tc.SetDeadline(deadline)
	hctx, cancel := context.WithDeadline(s.baseCtx, deadline)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		s.logf("http: TLS handshake error from %s: %v", tc.RemoteAddr(), err)
		tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	switch st.NegotiatedProtocol {
	case ProtoHTTP2:
		if s.h2 != nil {
			s.serveHTTP2(tc, st, base)
			return
		}
	case "", ProtoHTTP11, "http/1.0":
		s.untrack(tc)
		if !q.push(tc) {
			tc.Close()
		}
		return
	}
	s.logf("osslhttp: closing the connection from %s: ALPN selected %q, which this server does not serve", tc.RemoteAddr(), st.NegotiatedProtocol)
	tc.Close()
}

func (s *Server) serveHTTP2(tc *ossl.Conn, st ossl.ConnectionState, base context.Context) {
	defer tc.Close()
	if !h2CipherOK(st.Version, st.CipherSuite) {
		s.logf("http2: refusing the connection from %s: %v with cipher suite %s is prohibited for HTTP/2 (RFC 9113 section 9.2.2)",
			tc.RemoteAddr(), st.Version, tls.CipherSuiteName(st.CipherSuite))
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.conns[tc] = true
	s.mu.Unlock()
	ctx := withState(base, tc, st)
	if s.userConnContext != nil {
		if uc := s.userConnContext(ctx, tc); uc != nil {
			ctx = uc
		} else {
			s.logf("osslhttp: ConnContext returned a nil context for the connection from %s; using the one it was given", tc.RemoteAddr())
		}
	}
	if s.hs.ConnState != nil {
		s.hs.ConnState(tc, http.StateNew)
	}
	s.h2.ServeConn(tc, &http2.ServeConnOpts{Context: ctx, BaseConfig: s.hs})
	if s.hs.ConnState != nil {
		s.hs.ConnState(tc, http.StateClosed)
	}
}

// h2CipherOK reports whether HTTP/2 may run on the version and suite: TLS
// 1.3, or TLS 1.2 with an ephemeral key exchange and an AEAD cipher
// (RFC 9113 section 9.2.2 and Appendix A).
func h2CipherOK(v ossl.Version, suite uint16) bool {
	switch {
	case v >= ossl.VersionTLS13:
		return true
	case v < ossl.VersionTLS12:
		return false
	}
	switch suite {
	case 0x009E, 0x009F, 0xCCAA: // DHE-RSA with AES-GCM or ChaCha20-Poly1305 (crypto/tls has no names for them)
		return true
	}
	name := tls.CipherSuiteName(suite)
	return strings.HasPrefix(name, "TLS_ECDHE_") && (strings.Contains(name, "_GCM_") || strings.Contains(name, "_CHACHA20_POLY1305"))
}

// Shutdown stops the server gracefully, as http.Server.Shutdown: it
// closes the listeners and the connections still in their handshake (they
// have sent no request), sends GOAWAY to the HTTP/2 connections, closes
// idle HTTP/1.1 ones, and waits for the rest to finish their requests. If
// ctx ends first it returns ctx's error, leaving what is still open to
// Close.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ctx == nil {
		return errNotMade
	}
	for _, c := range s.stop(false) {
		c.Close()
	}
	if s.h2Shutdown != nil {
		_ = s.h2Shutdown.Shutdown(ctx) // GOAWAY to every HTTP/2 connection
	}
	err := s.hs.Shutdown(ctx)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			s.cancel()
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			// An HTTP/2 connection that registered while GOAWAY went
			// out missed it: send it again (once per connection).
			if s.h2Shutdown != nil {
				_ = s.h2Shutdown.Shutdown(ctx)
			}
		}
	}
}

// Close closes the listeners and every connection at once, as
// http.Server.Close, and waits for the Server's own goroutines (handler
// goroutines may still run).
func (s *Server) Close() error {
	if s.ctx == nil {
		return errNotMade
	}
	conns := s.stop(true)
	s.cancel()
	for _, c := range conns {
		c.Close()
	}
	err := s.hs.Close()
	s.wg.Wait()
	return err
}

// stop marks the server closing, closes its listeners, and returns the
// connections in their handshake (and, with all, those serving HTTP/2).
func (s *Server) stop(all bool) []*ossl.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for l, q := range s.listeners {
		l.Close()
		q.Close()
	}
	var out []*ossl.Conn
	for c, h2 := range s.conns {
		if all || !h2 {
			out = append(out, c)
		}
	}
	return out
}

// connQueue is the listener the http.Server serves: connections whose
// handshake is done and whose client chose HTTP/1.1.
type connQueue struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// push hands c to the http.Server; false once the queue is closed.
func (q *connQueue) push(c net.Conn) bool {
	select {
	case <-q.done:
		return false
	default:
	}
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	}
}
