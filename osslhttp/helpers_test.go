package osslhttp_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/osslhttp"
	"github.com/osslcache/osslcache/store"
)

// testDeadline bounds every wait of these tests, so that a bug fails a
// test instead of hanging it. No test measures time.
const testDeadline = 30 * time.Second

// TestMain fails the package if a goroutine outlives the tests: accept
// loops, handshakes, HTTP/2 connections and spare client connections must
// all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http's and x/net's idle connection reapers end on their
		// timers, after the transports are closed.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

func testCert(t testing.TB) *ossltest.Certificate { return testutil.Cert(t) }

// serverSetup is one way the server keeps sessions.
type serverSetup struct {
	name    string
	version ossl.Version // 0: TLS 1.2 and 1.3
	// noTicket keeps sessions server-side (TLS 1.2 session IDs, TLS 1.3
	// stateful tickets), in a store.Memory only.
	noTicket bool
}

var (
	tls12Tickets  = serverSetup{"tls12-tickets", ossl.VersionTLS12, false}
	tls12IDs      = serverSetup{"tls12-session-ids", ossl.VersionTLS12, true}
	tls13         = serverSetup{"tls13", ossl.VersionTLS13, false}
	tls13Stateful = serverSetup{"tls13-stateful", ossl.VersionTLS13, true}
)

// newServerCtx makes a server context for setup; with noTicket its
// sessions live in a store.Memory alone.
func newServerCtx(t testing.TB, setup serverSetup) *ossl.Ctx {
	t.Helper()
	ctx, err := ossltest.NewServerCtx(testCert(t), ossltest.ServerOptions{Version: setup.version, NoTicket: setup.noTicket, SessionIDContext: []byte("osslhttp-test")})
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	if setup.noTicket {
		_, err = ctx.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
		require.NoError(t, err)
		mem := store.NewMemory(store.MemoryOptions{Capacity: 100})
		t.Cleanup(mem.Close)
		require.NoError(t, ctx.SetSessionStore(ossl.StoreConfig{Store: mem}))
	}
	return ctx
}

// stateLine is the example's answer: what the request's connection did.
func stateLine(r *http.Request) string {
	st, ok := osslhttp.ConnectionState(r)
	if !ok {
		return "no TLS state\n"
	}
	alpn := st.NegotiatedProtocol
	if alpn == "" {
		alpn = "none"
	}
	return fmt.Sprintf("proto=%s alpn=%s resumed=%v version=%v\n", r.Proto, alpn, st.DidResume, st.Version)
}

var stateHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, stateLine(r))
})

// started is a running Server.
type started struct {
	srv    *osslhttp.Server
	addr   string
	url    string
	log    *testutil.SyncBuffer
	served chan error
}

// startServer serves ctx with h on a loopback port until the test ends.
func startServer(t testing.TB, ctx *ossl.Ctx, h http.Handler, o osslhttp.Options) *started {
	t.Helper()
	return startServerWith(t, ctx, &http.Server{Handler: h, ReadHeaderTimeout: testDeadline}, o)
}

func startServerWith(t testing.TB, ctx *ossl.Ctx, hs *http.Server, o osslhttp.Options) *started {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	if hs.ErrorLog == nil {
		hs.ErrorLog = log.New(logs, "", 0)
	}
	srv, err := osslhttp.NewServer(ctx, hs, o)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &started{srv: srv, addr: l.Addr().String(), log: logs, served: make(chan error, 1)}
	_, port, _ := net.SplitHostPort(s.addr)
	s.url = "https://localhost:" + port + "/"
	go func() { s.served <- srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

func rootPool(t testing.TB) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(testCert(t).Leaf)
	return pool
}

// goClient is net/http's client on crypto/tls: HTTP/2 when h2 is set
// (ForceAttemptHTTP2), else HTTP/1.1 offered by ALPN ("" offers nothing).
type goClientOptions struct {
	h2         bool
	alpn       []string
	cache      tls.ClientSessionCache
	keepAlives bool
	version    uint16
	ciphers    []uint16
}

func goClient(t testing.TB, o goClientOptions) *http.Client {
	cfg := &tls.Config{RootCAs: rootPool(t), ClientSessionCache: o.cache, NextProtos: o.alpn, CipherSuites: o.ciphers}
	if o.version != 0 {
		cfg.MinVersion, cfg.MaxVersion = o.version, o.version
	}
	tr := &http.Transport{
		TLSClientConfig:   cfg,
		ForceAttemptHTTP2: o.h2,
		DisableKeepAlives: !o.keepAlives,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: testDeadline}
}

// get fetches url and returns the body, requiring a 200.
func get(t testing.TB, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// osslClientCtx is a libssl client context verifying the test
// certificate, with a client session cache.
func osslClientCtx(t testing.TB, v ossl.Version) *ossl.Ctx {
	t.Helper()
	ctx, err := ossltest.NewClientCtx(testCert(t), ossltest.ClientOptions{Version: v, VerifyServer: true})
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	_, err = ctx.SetSessionCacheMode(ossl.CacheClient)
	require.NoError(t, err)
	require.NoError(t, ctx.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{Capacity: 16})}))
	return ctx
}

// osslClient is an http.Client on osslhttp.Transport.
func osslClient(t testing.TB, ctx *ossl.Ctx, o osslhttp.TransportOptions) (*http.Client, *osslhttp.Transport) {
	t.Helper()
	d := &osslhttp.Dialer{Ctx: ctx, NetDialer: &net.Dialer{Timeout: testDeadline}}
	tr, err := osslhttp.NewTransport(d, o)
	require.NoError(t, err)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: testDeadline}, tr
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
