package osslhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/idna"

	"github.com/osslcache/osslcache/ossl"
)

// Dialer dials TLS connections with libssl, for HTTP clients: its
// DialTLSContext has the signature of http.Transport.DialTLSContext.
type Dialer struct {
	// Ctx is the client context: its verification, protocol versions and
	// session cache apply. Install an ossl.ClientSessionCache on it
	// (Ctx.SetClientSessionCache, with CacheClient in its cache mode) to
	// resume: each connection offers, and stores, the session of its
	// "host:port". The context must verify servers (SetVerify with
	// VerifyPeer, and trust anchors: LoadSystemTrust or
	// AddTrustedCertificatePEM) unless InsecureSkipVerify is set.
	Ctx *ossl.Ctx
	// NetDialer dials TCP; nil means a zero net.Dialer.
	NetDialer *net.Dialer
	// ServerName, if set, is sent as SNI and checked against the
	// certificate in place of the host dialed. It is needed to dial an IP
	// address.
	ServerName string
	// HandshakeTimeout bounds each handshake (on top of the dial
	// context); zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// InsecureSkipVerify allows a Ctx that does not verify servers.
	InsecureSkipVerify bool
}

// DialTLSContext connects to addr ("host:port") and runs a TLS handshake
// offering http/1.1 by ALPN; it returns the *ossl.Conn. It has the
// signature of http.Transport.DialTLSContext (HTTP/1.1 only: net/http
// speaks HTTP/2 only over crypto/tls; Transport speaks both).
func (d *Dialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.Dial(ctx, network, addr, []string{ProtoHTTP11})
}

// Dial connects to addr, runs a TLS handshake offering protos by ALPN
// (none if empty) and returns the connection.
func (d *Dialer) Dial(ctx context.Context, network, addr string, protos []string) (*ossl.Conn, error) {
	if d.Ctx == nil {
		return nil, errors.New("osslhttp: Dialer without a Ctx")
	}
	if !d.InsecureSkipVerify && d.Ctx.VerifyMode()&ossl.VerifyPeer == 0 {
		return nil, errors.New("osslhttp: the Dialer's Ctx does not verify servers: call SetVerify(ossl.VerifyPeer) and load trust anchors (or set InsecureSkipVerify)")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	name := d.ServerName
	if name == "" {
		if net.ParseIP(host) != nil {
			return nil, fmt.Errorf("osslhttp: %s is an IP address: set Dialer.ServerName to a name its certificate holds", host)
		}
		name = host
	}
	nd := d.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	raw, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := ossl.ClientConfig{ServerName: name, NextProtos: protos}
	if d.Ctx.ClientSessionCache() != nil {
		cfg.CacheKey = addr
	}
	tc, err := ossl.Client(raw, d.Ctx, cfg)
	if err != nil {
		raw.Close()
		return nil, err
	}
	timeout := d.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// errChoseHTTP1 is what the HTTP/2 transport's dial returns when the
// server did not select h2: the connection waits for the HTTP/1.1
// transport, and the request is sent again there.
var errChoseHTTP1 = errors.New("osslhttp: the server did not select h2")

// spareTTL bounds how long a connection dialed to learn a server's
// protocol waits for the transport of that protocol to take it.
const spareTTL = 10 * time.Second

type spare struct {
	conn  *ossl.Conn
	proto string
	timer *time.Timer // closes it at spareTTL if nobody took it
}

type probe struct {
	done chan struct{}
}

// Transport is an http.RoundTripper on libssl: for an https URL it speaks
// HTTP/2 (golang.org/x/net/http2) to a server that selects h2 by ALPN and
// HTTP/1.1 (net/http) to the others, learning each server's choice on its
// first connection; sessions resume through the Dialer's ClientSessionCache.
// An http URL goes to the HTTP/1.1 transport in clear.
//
// What a server chose is kept until CloseIdleConnections. Make one with
// NewTransport; it is safe for concurrent use.
type Transport struct {
	// HTTP1 serves the servers that chose HTTP/1.1 (its DialTLSContext is
	// the Transport's); set its timeouts and pool sizes before the first
	// request.
	HTTP1 *http.Transport
	// HTTP2 serves the servers that chose h2 (its DialTLSContext is the
	// Transport's); nil with DisableHTTP2.
	HTTP2 *http2.Transport

	dialer *Dialer
	// oneShot sends every HTTP/2 request on a connection of its own
	// (TransportOptions.DisableKeepAlives).
	oneShot bool
	mu      sync.Mutex
	protos  map[string]string // "host:port" -> ProtoHTTP2 or ProtoHTTP11
	probes  map[string]*probe
	spares  map[string]spare
}

// TransportOptions configure NewTransport.
type TransportOptions struct {
	// DisableHTTP2 offers only http/1.1.
	DisableHTTP2 bool
	// DisableKeepAlives makes every request use a new connection (each
	// resuming the server's session, when it can).
	DisableKeepAlives bool
}

// NewTransport returns a Transport dialing with d.
func NewTransport(d *Dialer, o TransportOptions) (*Transport, error) {
	if d == nil || d.Ctx == nil {
		return nil, errors.New("osslhttp: NewTransport needs a Dialer with a Ctx")
	}
	t := &Transport{
		dialer:  d,
		oneShot: o.DisableKeepAlives,
		protos:  map[string]string{},
		probes:  map[string]*probe{},
		spares:  map[string]spare{},
	}
	t.HTTP1 = &http.Transport{
		Proxy:                 nil,
		DialTLSContext:        t.dialHTTP1,
		DisableKeepAlives:     o.DisableKeepAlives,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if !o.DisableHTTP2 {
		// A Transport of its own: one configured from HTTP1
		// (http2.ConfigureTransports) only takes connections net/http
		// hands it, which it does for *tls.Conn alone.
		t.HTTP2 = &http2.Transport{
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				return t.dialHTTP2(ctx, network, addr)
			},
			IdleConnTimeout: t.HTTP1.IdleConnTimeout,
		}
	}
	return t, nil
}

// authority returns u's "host:port", with the scheme's default port and
// the host in ASCII, as both transports name the address they dial.
func authority(u *url.URL) string {
	host := u.Hostname()
	if a, err := idna.Lookup.ToASCII(host); err == nil {
		host = a
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(host, port)
}

// RoundTrip sends req on a connection of the protocol its server chose.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.dialer == nil || t.HTTP1 == nil {
		closeBody(req)
		return nil, errors.New("osslhttp: Transport not made by NewTransport")
	}
	if req == nil || req.URL == nil {
		closeBody(req)
		return nil, errors.New("osslhttp: nil Request or Request.URL")
	}
	switch req.URL.Scheme {
	case "http":
		return t.HTTP1.RoundTrip(req)
	case "https":
	default:
		closeBody(req)
		return nil, fmt.Errorf("osslhttp: unsupported protocol scheme %q", req.URL.Scheme)
	}
	if t.HTTP2 == nil {
		return t.HTTP1.RoundTrip(req)
	}
	key := authority(req.URL)
	for range 2 {
		proto, err := t.protocolOf(req.Context(), key)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		if proto != ProtoHTTP2 {
			return t.HTTP1.RoundTrip(req)
		}
		r2 := req
		if t.oneShot && !req.Close {
			r2 = new(http.Request)
			*r2 = *req
			r2.Close = true // a connection of its own, closed after
		}
		resp, err := t.HTTP2.RoundTrip(r2)
		if errors.Is(err, errChoseHTTP1) {
			continue // the server now chooses HTTP/1.1: its connection waits there
		}
		if resp != nil {
			resp.Request = req
		}
		return resp, err
	}
	return t.HTTP1.RoundTrip(req)
}

func closeBody(req *http.Request) {
	if req != nil && req.Body != nil {
		req.Body.Close()
	}
}

// protocolOf returns what the server at key chose, dialing it first (one
// dial at a time per server) if that is not known; the connection dialed
// waits for the transport of its protocol.
func (t *Transport) protocolOf(ctx context.Context, key string) (string, error) {
	for {
		t.mu.Lock()
		if p, ok := t.protos[key]; ok {
			t.mu.Unlock()
			return p, nil
		}
		if pr, ok := t.probes[key]; ok {
			t.mu.Unlock()
			select {
			case <-pr.done:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		pr := &probe{done: make(chan struct{})}
		t.probes[key] = pr
		t.mu.Unlock()

		c, err := t.dialer.Dial(ctx, "tcp", key, []string{ProtoHTTP2, ProtoHTTP11})
		t.mu.Lock()
		delete(t.probes, key)
		if err == nil {
			p := protoOf(c)
			t.protos[key] = p
			t.stashLocked(key, c, p)
		}
		t.mu.Unlock()
		close(pr.done)
		if err != nil {
			return "", err
		}
	}
}

func protoOf(c *ossl.Conn) string {
	if c.ConnectionState().NegotiatedProtocol == ProtoHTTP2 {
		return ProtoHTTP2
	}
	return ProtoHTTP11
}

// stashLocked keeps c for the transport of proto (the caller holds mu);
// one not taken within spareTTL, or replaced, is closed.
func (t *Transport) stashLocked(key string, c *ossl.Conn, proto string) {
	if old, ok := t.spares[key]; ok && old.timer.Stop() {
		go old.conn.Close()
	}
	t.spares[key] = spare{conn: c, proto: proto, timer: time.AfterFunc(spareTTL, func() {
		t.mu.Lock()
		if cur, ok := t.spares[key]; ok && cur.conn == c {
			delete(t.spares, key)
		}
		t.mu.Unlock()
		c.Close()
	})}
}

// takeSpare returns the connection waiting for key's proto transport.
func (t *Transport) takeSpare(key, proto string) *ossl.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.spares[key]
	if !ok || s.proto != proto {
		return nil
	}
	delete(t.spares, key)
	if !s.timer.Stop() {
		return nil // its timer is closing it
	}
	return s.conn
}

func (t *Transport) dialHTTP1(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := t.takeSpare(addr, ProtoHTTP11); c != nil {
		return c, nil
	}
	return t.dialer.Dial(ctx, network, addr, []string{ProtoHTTP11})
}

func (t *Transport) dialHTTP2(ctx context.Context, network, addr string) (net.Conn, error) {
	if c := t.takeSpare(addr, ProtoHTTP2); c != nil {
		return c, nil
	}
	c, err := t.dialer.Dial(ctx, network, addr, []string{ProtoHTTP2, ProtoHTTP11})
	if err != nil {
		return nil, err
	}
	if p := protoOf(c); p != ProtoHTTP2 {
		t.mu.Lock()
		t.protos[addr] = p
		t.stashLocked(addr, c, p)
		t.mu.Unlock()
		return nil, errChoseHTTP1
	}
	return c, nil
}

// CloseIdleConnections closes the idle connections of both transports and
// any dialed connection not taken yet, and forgets what servers chose.
func (t *Transport) CloseIdleConnections() {
	if t.dialer == nil || t.HTTP1 == nil {
		return
	}
	t.mu.Lock()
	spares := t.spares
	t.spares = map[string]spare{}
	t.protos = map[string]string{}
	t.mu.Unlock()
	for _, s := range spares {
		if s.timer.Stop() {
			s.conn.Close()
		}
	}
	t.HTTP1.CloseIdleConnections()
	if t.HTTP2 != nil {
		t.HTTP2.CloseIdleConnections()
	}
}
