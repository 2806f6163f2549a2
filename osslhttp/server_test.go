package osslhttp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/osslhttp"
)

// TestServesHTTP1AndHTTP2: each kind of client gets the protocol its ALPN
// offer leads to, and the handler sees the state of its connection.
func TestServesHTTP1AndHTTP2(t *testing.T) {
	s := startServer(t, newServerCtx(t, tls13), stateHandler, osslhttp.Options{})
	ossl13 := osslClientCtx(t, ossl.VersionTLS13)
	tests := []struct {
		name   string
		client func(t *testing.T) *http.Client
		want   string
	}{
		{"crypto/tls, HTTP/2", func(t *testing.T) *http.Client { return goClient(t, goClientOptions{h2: true}) },
			"proto=HTTP/2.0 alpn=h2 resumed=false version=TLSv1.3"},
		{"crypto/tls, HTTP/1.1 by ALPN", func(t *testing.T) *http.Client {
			return goClient(t, goClientOptions{alpn: []string{"http/1.1"}})
		}, "proto=HTTP/1.1 alpn=http/1.1 resumed=false version=TLSv1.3"},
		{"crypto/tls, no ALPN", func(t *testing.T) *http.Client { return goClient(t, goClientOptions{}) },
			"proto=HTTP/1.1 alpn=none resumed=false version=TLSv1.3"},
		{"crypto/tls, unknown protocol only", func(t *testing.T) *http.Client {
			return goClient(t, goClientOptions{alpn: []string{"spdy/3"}})
		}, "proto=HTTP/1.1 alpn=none resumed=false version=TLSv1.3"},
		{"osslhttp.Transport", func(t *testing.T) *http.Client {
			c, _ := osslClient(t, ossl13, osslhttp.TransportOptions{})
			return c
		}, "proto=HTTP/2.0 alpn=h2 resumed=false version=TLSv1.3"},
		{"osslhttp.Transport without HTTP/2", func(t *testing.T) *http.Client {
			c, _ := osslClient(t, osslClientCtx(t, ossl.VersionTLS13), osslhttp.TransportOptions{DisableHTTP2: true})
			return c
		}, "proto=HTTP/1.1 alpn=http/1.1 resumed=false version=TLSv1.3"},
		{"http.Transport with Dialer.DialTLSContext", func(t *testing.T) *http.Client {
			d := &osslhttp.Dialer{Ctx: osslClientCtx(t, ossl.VersionTLS13)}
			tr := &http.Transport{DialTLSContext: d.DialTLSContext}
			t.Cleanup(tr.CloseIdleConnections)
			return &http.Client{Transport: tr, Timeout: testDeadline}
		}, "proto=HTTP/1.1 alpn=http/1.1 resumed=false version=TLSv1.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client(t)
			// Two requests on one connection: the second is not resumed.
			for range 2 {
				assert.Equal(t, tt.want+"\n", get(t, c, s.url))
			}
		})
	}
}

// TestGoClientsResume: net/http's client on crypto/tls, with a
// ClientSessionCache and keep-alives off, resumes on its second request,
// over HTTP/1.1 and HTTP/2, for every way the server keeps sessions that
// crypto/tls can resume (it resumes TLS 1.2 by tickets only).
func TestGoClientsResume(t *testing.T) {
	for _, setup := range []serverSetup{tls12Tickets, tls13, tls13Stateful} {
		for _, h2 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/h2=%v", setup.name, h2), func(t *testing.T) {
				s := startServer(t, newServerCtx(t, setup), stateHandler, osslhttp.Options{})
				c := goClient(t, goClientOptions{h2: h2, alpn: []string{"http/1.1"}, cache: tls.NewLRUClientSessionCache(8)})
				proto, alpn := "HTTP/1.1", "http/1.1"
				if h2 {
					proto, alpn = "HTTP/2.0", "h2"
				}
				for i := range 3 {
					want := fmt.Sprintf("proto=%s alpn=%s resumed=%v version=%v\n", proto, alpn, i > 0, setup.version)
					assert.Equal(t, want, get(t, c, s.url), "request %d", i)
				}
			})
		}
	}
}

// TestOsslTransportResumes: the libssl client resumes through its
// ClientSessionCache, against this server (also by TLS 1.2 session ID)
// and against a crypto/tls server (net/http/httptest), on HTTP/2 and
// HTTP/1.1 alike.
func TestOsslTransportResumes(t *testing.T) {
	for _, setup := range []serverSetup{tls12IDs, tls12Tickets, tls13, tls13Stateful} {
		for _, h2 := range []bool{false, true} {
			t.Run(fmt.Sprintf("osslhttp.Server/%s/h2=%v", setup.name, h2), func(t *testing.T) {
				s := startServer(t, newServerCtx(t, setup), stateHandler, osslhttp.Options{DisableHTTP2: !h2})
				c, _ := osslClient(t, osslClientCtx(t, setup.version), osslhttp.TransportOptions{DisableKeepAlives: true})
				proto, alpn := "HTTP/1.1", "http/1.1"
				if h2 {
					proto, alpn = "HTTP/2.0", "h2"
				}
				for i := range 3 {
					want := fmt.Sprintf("proto=%s alpn=%s resumed=%v version=%v\n", proto, alpn, i > 0, setup.version)
					assert.Equal(t, want, get(t, c, s.url), "request %d", i)
				}
			})
		}
	}
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("crypto-tls-server/h2=%v", h2), func(t *testing.T) {
			addr := cryptoTLSServer(t, h2)
			c, _ := osslClient(t, osslClientCtx(t, 0), osslhttp.TransportOptions{DisableKeepAlives: true})
			proto := "HTTP/1.1"
			if h2 {
				proto = "HTTP/2.0"
			}
			for i := range 3 {
				want := fmt.Sprintf("%s resumed=%v\n", proto, i > 0)
				assert.Equal(t, want, get(t, c, "https://"+addr+"/"), "request %d", i)
			}
		})
	}
}

// cryptoTLSServer serves, with crypto/tls and net/http, a handler that
// answers "<proto> resumed=<bool>"; it listens on localhost.
func cryptoTLSServer(t *testing.T, h2 bool) string {
	pair, err := tls.X509KeyPair(testCert(t).CertPEM, testCert(t).KeyPEM)
	require.NoError(t, err)
	protos := []string{"http/1.1"}
	if h2 {
		protos = []string{"h2", "http/1.1"}
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: protos})
	require.NoError(t, err)
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s resumed=%v\n", r.Proto, r.TLS.DidResume)
		}),
		ReadHeaderTimeout: testDeadline,
	}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { hs.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return "localhost:" + port
}

// TestSilentClientBlocksNobody: a client that connects and sends nothing
// does not hold up the others, and its handshake ends at the handshake
// timeout with a log line.
func TestSilentClientBlocksNobody(t *testing.T) {
	// Long enough for the real clients' handshakes on a loaded machine
	// under the race detector; short enough to wait for the silent ones.
	s := startServer(t, newServerCtx(t, tls13), stateHandler, osslhttp.Options{HandshakeTimeout: 5 * time.Second})
	silent, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer silent.Close()
	half, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer half.Close()
	_, err = half.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00}) // a record header, then nothing
	require.NoError(t, err)

	for _, h2 := range []bool{false, true} {
		c := goClient(t, goClientOptions{h2: h2, alpn: []string{"http/1.1"}})
		assert.Contains(t, get(t, c, s.url), "resumed=false")
	}
	for _, c := range []net.Conn{silent, half} {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(testDeadline)))
		_, err = io.ReadAll(c)
		assert.NoError(t, err, "the server closes a silent connection at the handshake timeout")
	}
	assert.Contains(t, s.log.String(), "http: TLS handshake error from 127.0.0.1:")
}

// TestConnectionState: the handler sees the whole state of its
// connection, on both protocols; requests that did not come through an
// ossl connection have none.
func TestConnectionState(t *testing.T) {
	type seen struct {
		st ossl.ConnectionState
		ok bool
	}
	got := make(chan seen, 4)
	s := startServer(t, newServerCtx(t, tls13), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, ok := osslhttp.ConnectionState(r)
		got <- seen{st, ok}
	}), osslhttp.Options{})
	for _, h2 := range []bool{false, true} {
		get(t, goClient(t, goClientOptions{h2: h2, alpn: []string{"http/1.1"}}), s.url)
		g := <-got
		require.True(t, g.ok)
		assert.True(t, g.st.HandshakeComplete)
		assert.Equal(t, ossl.VersionTLS13, g.st.Version)
		assert.Equal(t, "localhost", g.st.ServerName)
		assert.NotZero(t, g.st.CipherSuite)
		assert.Contains(t, []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}, tls.CipherSuiteName(g.st.CipherSuite))
		assert.Equal(t, map[bool]string{false: "http/1.1", true: "h2"}[h2], g.st.NegotiatedProtocol)
		assert.Empty(t, g.st.PeerCertificates, "no client certificate")
	}

	_, ok := osslhttp.ConnectionState(httpRequest(t))
	assert.False(t, ok, "a request from no connection")
	_, ok = osslhttp.ConnectionState(nil)
	assert.False(t, ok)
	assert.Equal(t, context.Background(), osslhttp.ConnContext(context.Background(), &net.TCPConn{}), "a plain connection adds nothing")
}

func httpRequest(t *testing.T) *http.Request {
	r, err := http.NewRequest(http.MethodGet, "https://localhost/", nil)
	require.NoError(t, err)
	return r
}

// TestConnContextWithPlainHTTPServer: an http.Server serving
// ossl.NewListener with ConnContext gives handlers the state too.
func TestConnContextWithPlainHTTPServer(t *testing.T) {
	ctx := newServerCtx(t, tls13)
	l, err := ossl.Listen("tcp", "127.0.0.1:0", ctx)
	require.NoError(t, err)
	hs := &http.Server{Handler: stateHandler, ConnContext: osslhttp.ConnContext, ReadHeaderTimeout: testDeadline}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { hs.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	c := goClient(t, goClientOptions{alpn: []string{"http/1.1"}, cache: tls.NewLRUClientSessionCache(2)})
	assert.Equal(t, "proto=HTTP/1.1 alpn=none resumed=false version=TLSv1.3\n", get(t, c, "https://localhost:"+port+"/"),
		"no ALPN list on the context: none selected")
	assert.Equal(t, "proto=HTTP/1.1 alpn=none resumed=true version=TLSv1.3\n", get(t, c, "https://localhost:"+port+"/"))
}

// TestUserHooks: the http.Server's ConnContext, BaseContext and ConnState
// run for connections of both protocols.
func TestUserHooks(t *testing.T) {
	type key struct{}
	var mu sync.Mutex
	states := map[http.ConnState]int{}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%v %v", r.Context().Value(key{}), r.Context().Value(http.ServerContextKey) != nil)
			_, ok := osslhttp.ConnectionState(r)
			fmt.Fprintf(w, " state=%v", ok)
		}),
		ReadHeaderTimeout: testDeadline,
		BaseContext: func(l net.Listener) context.Context {
			return context.WithValue(context.Background(), key{}, "base:"+l.Addr().Network())
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			_, ok := c.(*ossl.Conn)
			return context.WithValue(ctx, key{}, fmt.Sprintf("%v+conn:%v", ctx.Value(key{}), ok))
		},
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			states[st]++
			mu.Unlock()
		},
	}
	s := startServerWith(t, newServerCtx(t, tls13), hs, osslhttp.Options{})
	for _, h2 := range []bool{false, true} {
		c := goClient(t, goClientOptions{h2: h2, alpn: []string{"http/1.1"}})
		assert.Equal(t, "base:tcp+conn:true true state=true", get(t, c, s.url))
	}
	require.NoError(t, s.srv.Shutdown(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, states[http.StateNew], "one new connection per protocol")
	assert.Equal(t, 2, states[http.StateClosed], "both closed by the shutdown")
	assert.GreaterOrEqual(t, states[http.StateActive], 2)
}

// TestShutdownIsGraceful: Shutdown stops accepting at once, lets the
// requests in flight on both protocols finish, and Serve returns
// http.ErrServerClosed.
func TestShutdownIsGraceful(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan string, 2)
	s := startServer(t, newServerCtx(t, tls13), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- r.Proto
		<-release
		_, _ = io.WriteString(w, "done "+r.Proto)
	}), osslhttp.Options{})
	type result struct {
		body string
		err  error
	}
	results := make(chan result, 2)
	for _, h2 := range []bool{false, true} {
		c := goClient(t, goClientOptions{h2: h2, alpn: []string{"http/1.1"}, keepAlives: true})
		go func() {
			resp, err := c.Get(s.url)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			results <- result{string(b), err}
		}()
	}
	got := []string{<-entered, <-entered}
	assert.ElementsMatch(t, []string{"HTTP/1.1", "HTTP/2.0"}, got)

	shut := make(chan error, 1)
	go func() { shut <- s.srv.Shutdown(context.Background()) }()
	// New connections are refused once the listener is closed.
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, testDeadline, 10*time.Millisecond)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned while requests were in flight: %v", err)
	default:
	}
	close(release)
	for range 2 {
		r := <-results
		require.NoError(t, r.err)
		assert.Contains(t, r.body, "done HTTP/")
	}
	require.NoError(t, <-shut)
	assert.ErrorIs(t, <-s.served, http.ErrServerClosed)
	assert.ErrorIs(t, s.srv.Serve(mustListen(t)), http.ErrServerClosed, "Serve after Shutdown")
}

func mustListen(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return l
}

// TestShutdownDeadlineThenClose: requests that do not finish make
// Shutdown return its context's error; Close then ends everything,
// including connections still in their handshake.
func TestShutdownDeadlineThenClose(t *testing.T) {
	entered := make(chan struct{}, 2)
	s := startServer(t, newServerCtx(t, tls13), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done()
	}), osslhttp.Options{})
	errs := make(chan error, 2)
	for _, h2 := range []bool{false, true} {
		c := goClient(t, goClientOptions{h2: h2, alpn: []string{"http/1.1"}, keepAlives: true})
		go func() {
			resp, err := c.Get(s.url)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	<-entered
	<-entered
	silent, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	defer silent.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.srv.Shutdown(ctx), context.Canceled)
	require.NoError(t, s.srv.Close())
	for range 2 {
		assert.Error(t, <-errs, "a request cut by Close fails")
	}
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(testDeadline)))
	_, err = io.ReadAll(silent)
	assert.NoError(t, err, "the connection in its handshake was closed")
}

// TestCloseDuringHandshakes: Close with connections in their handshake
// returns (bounded: it waits for the handshakes it aborted) and leaves no
// goroutine (TestMain checks).
func TestCloseDuringHandshakes(t *testing.T) {
	s := startServer(t, newServerCtx(t, tls13), stateHandler, osslhttp.Options{HandshakeTimeout: time.Hour})
	var conns []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", s.addr)
		require.NoError(t, err)
		defer c.Close()
		conns = append(conns, c)
	}
	get(t, goClient(t, goClientOptions{alpn: []string{"http/1.1"}}), s.url) // the five were accepted before
	done := make(chan error, 1)
	go func() { done <- s.srv.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(testDeadline):
		t.Fatal("Close did not return")
	}
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(testDeadline)))
		_, err := io.ReadAll(c)
		assert.NoError(t, err)
	}
}

// TestStrictALPN: a client offering only protocols the server does not
// serve is refused with no_application_protocol under StrictALPN, served
// HTTP/1.1 without.
func TestStrictALPN(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			s := startServer(t, newServerCtx(t, tls13), stateHandler, osslhttp.Options{StrictALPN: strict})
			c := goClient(t, goClientOptions{alpn: []string{"spdy/3"}})
			resp, err := c.Get(s.url)
			if strict {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "no application protocol")
				return
			}
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, "HTTP/1.1", resp.Proto)
		})
	}
}

// TestHTTP2RefusesProhibitedCipherSuites: an h2 connection on TLS 1.2
// with a CBC suite is closed (RFC 9113 section 9.2.2); with an AEAD suite
// it is served.
func TestHTTP2RefusesProhibitedCipherSuites(t *testing.T) {
	s := startServer(t, newServerCtx(t, tls12Tickets), stateHandler, osslhttp.Options{})
	for _, tt := range []struct {
		suite uint16
		ok    bool
	}{
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, true},
		{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, true},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false},
	} {
		t.Run(tls.CipherSuiteName(tt.suite), func(t *testing.T) {
			c := goClient(t, goClientOptions{h2: true, version: tls.VersionTLS12, ciphers: []uint16{tt.suite}})
			resp, err := c.Get(s.url)
			if !tt.ok {
				require.Error(t, err)
				assert.Contains(t, s.log.String(), "is prohibited for HTTP/2")
				return
			}
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, "HTTP/2.0", resp.Proto)
		})
	}
}

func TestNewServerRefuses(t *testing.T) {
	ctx := newServerCtx(t, tls13)
	closed := newServerCtx(t, tls13)
	require.NoError(t, closed.Close())
	tests := []struct {
		name string
		ctx  *ossl.Ctx
		hs   *http.Server
		o    osslhttp.Options
		want string
	}{
		{"nil context", nil, &http.Server{}, osslhttp.Options{}, "needs an *ossl.Ctx and an *http.Server"},
		{"nil server", ctx, nil, osslhttp.Options{}, "needs an *ossl.Ctx and an *http.Server"},
		{"negative timeout", ctx, &http.Server{}, osslhttp.Options{HandshakeTimeout: -time.Second}, "negative HandshakeTimeout"},
		{"closed context", closed, &http.Server{}, osslhttp.Options{}, ossl.ErrClosed.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := osslhttp.NewServer(tt.ctx, tt.hs, tt.o)
			assert.Nil(t, s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestHandshakeTimeoutDefaults(t *testing.T) {
	tests := []struct {
		name string
		hs   *http.Server
		o    time.Duration
		want time.Duration
	}{
		{"nothing set", &http.Server{}, 0, osslhttp.DefaultHandshakeTimeout},
		{"option wins", &http.Server{ReadTimeout: time.Second}, 3 * time.Second, 3 * time.Second},
		{"smallest of the server's", &http.Server{ReadTimeout: 5 * time.Second, ReadHeaderTimeout: 2 * time.Second, WriteTimeout: 9 * time.Second}, 0, 2 * time.Second},
		{"write timeout alone", &http.Server{WriteTimeout: 7 * time.Second}, 0, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := osslhttp.NewServer(newServerCtx(t, tls13), tt.hs, osslhttp.Options{HandshakeTimeout: tt.o})
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, tt.want, s.HandshakeTimeout())
			assert.Same(t, tt.hs, s.HTTPServer())
		})
	}
}

// TestNewServerSetsALPN: the context gets the list its options imply.
func TestNewServerSetsALPN(t *testing.T) {
	for _, tt := range []struct {
		o        osslhttp.Options
		want     []string
		mismatch ossl.ALPNMismatch
	}{
		{osslhttp.Options{}, []string{"h2", "http/1.1"}, ossl.ALPNFallback},
		{osslhttp.Options{DisableHTTP2: true, StrictALPN: true}, []string{"http/1.1"}, ossl.ALPNStrict},
	} {
		ctx := newServerCtx(t, tls13)
		s, err := osslhttp.NewServer(ctx, &http.Server{}, tt.o)
		require.NoError(t, err)
		protos, mismatch := ctx.NextProtos()
		assert.Equal(t, tt.want, protos)
		assert.Equal(t, tt.mismatch, mismatch)
		require.NoError(t, s.Close())
	}
}

// TestServeStopsOnListenerError: Serve returns the error of a listener
// that fails for good, and the server keeps serving its other listeners.
func TestServeStopsOnListenerError(t *testing.T) {
	s := startServer(t, newServerCtx(t, tls13), stateHandler, osslhttp.Options{})
	l := mustListen(t)
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(l) }()
	l.Close()
	err := <-served
	require.Error(t, err)
	assert.False(t, errors.Is(err, http.ErrServerClosed), "a listener failure is not a shutdown: %v", err)
	assert.Contains(t, get(t, goClient(t, goClientOptions{h2: true}), s.url), "alpn=h2")
}

// TestListenAndServe serves on an address it listens on.
func TestListenAndServe(t *testing.T) {
	l := mustListen(t)
	addr := l.Addr().String()
	l.Close()
	srv, err := osslhttp.NewServer(newServerCtx(t, tls13), &http.Server{Handler: stateHandler, ReadHeaderTimeout: testDeadline}, osslhttp.Options{})
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe(addr) }()
	_, port, _ := net.SplitHostPort(addr)
	c := goClient(t, goClientOptions{h2: true})
	require.Eventually(t, func() bool {
		resp, err := c.Get("https://localhost:" + port + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}, testDeadline, 20*time.Millisecond)
	require.NoError(t, srv.Close())
	assert.ErrorIs(t, <-served, http.ErrServerClosed)
}

// TestRawHTTP1OverOssl writes a request by hand on a libssl client
// connection: the bytes net/http gets are exactly those sent.
func TestRawHTTP1OverOssl(t *testing.T) {
	s := startServer(t, newServerCtx(t, tls13), stateHandler, osslhttp.Options{})
	d := &osslhttp.Dialer{Ctx: osslClientCtx(t, ossl.VersionTLS13)}
	_, port, _ := net.SplitHostPort(s.addr)
	c, err := d.Dial(context.Background(), "tcp", "localhost:"+port, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(testDeadline)))
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "proto=HTTP/1.1 alpn=none resumed=false version=TLSv1.3\n", string(body))
	assert.True(t, strings.HasPrefix(resp.Status, "200"))
}

// TestZeroValues: values not made by their constructors report errors;
// nothing panics.
func TestZeroValues(t *testing.T) {
	var s osslhttp.Server
	l := mustListen(t)
	defer l.Close()
	assert.ErrorContains(t, s.Serve(l), "not made by NewServer")
	assert.ErrorContains(t, s.ListenAndServe("127.0.0.1:0"), "not made by NewServer")
	assert.ErrorContains(t, s.Shutdown(context.Background()), "not made by NewServer")
	assert.ErrorContains(t, s.Close(), "not made by NewServer")

	made, err := osslhttp.NewServer(newServerCtx(t, tls13), &http.Server{}, osslhttp.Options{})
	require.NoError(t, err)
	assert.ErrorContains(t, made.Serve(nil), "nil net.Listener")
	require.NoError(t, made.Shutdown(context.Background()))
	require.NoError(t, made.Shutdown(context.Background()), "twice")
	require.NoError(t, made.Close())
	require.NoError(t, made.Close(), "twice")

	var tr osslhttp.Transport
	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, err := http.NewRequest(http.MethodPost, "https://localhost/", body)
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	assert.ErrorContains(t, err, "not made by NewTransport")
	assert.True(t, body.closed)
	tr.CloseIdleConnections()
	made2, err := osslhttp.NewTransport(&osslhttp.Dialer{Ctx: osslClientCtx(t, 0)}, osslhttp.TransportOptions{})
	require.NoError(t, err)
	_, err = made2.RoundTrip(nil)
	assert.ErrorContains(t, err, "nil Request")

	nl := ossl.NewListener(nil, newServerCtx(t, tls13))
	_, err = nl.Accept()
	assert.ErrorContains(t, err, "nil net.Listener")
	assert.Error(t, nl.Close())
	assert.Nil(t, nl.Addr())
}

// TestNilContextsFromHooks: hooks that return nil contexts (net/http
// panics on those) make Serve fail or are worked around, never panic.
func TestNilContextsFromHooks(t *testing.T) {
	hs := &http.Server{Handler: stateHandler, BaseContext: func(net.Listener) context.Context { return nil }}
	srv, err := osslhttp.NewServer(newServerCtx(t, tls13), hs, osslhttp.Options{})
	require.NoError(t, err)
	assert.ErrorContains(t, srv.Serve(mustListen(t)), "BaseContext returned a nil context")
	require.NoError(t, srv.Close())

	hs = &http.Server{Handler: stateHandler, ReadHeaderTimeout: testDeadline, ConnContext: func(context.Context, net.Conn) context.Context { return nil }}
	s := startServerWith(t, newServerCtx(t, tls13), hs, osslhttp.Options{})
	for _, h2 := range []bool{false, true} {
		assert.Contains(t, get(t, goClient(t, goClientOptions{h2: h2, alpn: []string{"http/1.1"}}), s.url), "resumed=false")
	}
	assert.Contains(t, s.log.String(), "ConnContext returned a nil context")
}
