package proxy_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/proxy"
)

// metric reads one unlabelled metric of srv's registry.
func metric(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// upstreamOf runs handle as a plaintext upstream on loopback.
func upstreamOf(t *testing.T, handle func(net.Conn)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	testutil.Serve(t, l, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(testDeadline))
		handle(c)
	})
	return l.Addr().String()
}

// TestProxyIdleTimeout: a connection that moves no byte either way for
// IdleTimeout after its handshake is closed (the client gets
// close_notify), counted and logged; bytes moving one way only, for longer
// than the timeout, keep it open. The traffic is continuous and lasts 2.5
// times the timeout: only a stall of the whole process for a full timeout
// would close it early.
func TestProxyIdleTimeout(t *testing.T) {
	const idle = time.Second
	const busy = 5 * idle / 2
	chunk := make([]byte, 512)
	tests := []struct {
		name     string
		upstream func(c net.Conn) error
		client   func(c *tls.Conn) error
	}{
		{
			"idle from the handshake on",
			func(c net.Conn) error { _, err := io.Copy(io.Discard, c); return err },
			func(c *tls.Conn) error { return nil },
		},
		{
			"client to upstream only",
			func(c net.Conn) error { _, err := io.Copy(io.Discard, c); return err },
			func(c *tls.Conn) error {
				for start := time.Now(); time.Since(start) < busy; {
					if _, err := c.Write(chunk); err != nil {
						return err
					}
				}
				return nil
			},
		},
		{
			"upstream to client only",
			func(c net.Conn) error {
				for start := time.Now(); time.Since(start) < busy; {
					if _, err := c.Write(chunk); err != nil {
						return err // closed early
					}
				}
				_, err := io.Copy(io.Discard, c) // then quiet, open until the proxy closes
				return err
			},
			nil, // reads to the end below
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstreamErr := make(chan error, 1)
			up := upstreamOf(t, func(c net.Conn) { upstreamErr <- tt.upstream(c) })
			spec, _ := proxy.ParseStoreSpec("memory")
			srv, addr, logs := startProxy(t, proxy.Config{Upstream: up, Store: spec, IdleTimeout: idle})
			c := testutil.DialGo(t, addr, goTLSConfig(t, ossl.VersionTLS13, nil))
			if tt.client != nil {
				require.NoError(t, tt.client(c), "the connection stays open while bytes move")
			}
			_, err := io.Copy(io.Discard, c)
			require.NoError(t, err, "then the proxy closes it with close_notify")
			require.NoError(t, <-upstreamErr, "and the upstream sees its end, not a failure")
			require.NoError(t, srv.Shutdown(context.Background())) // waits for the handler
			assert.Equal(t, 1.0, metric(t, srv.Registry(), "osslcache_proxy_idle_timeouts_total"))
			assert.Contains(t, logs.String(), "idle_timeout=true")
		})
	}

	t.Run("a connection closed by its client is not counted", func(t *testing.T) {
		spec, _ := proxy.ParseStoreSpec("memory")
		srv, addr, logs := startProxy(t, proxy.Config{Store: spec, IdleTimeout: idle})
		c := testutil.DialGo(t, addr, goTLSConfig(t, ossl.VersionTLS13, nil))
		require.NoError(t, ossltest.Exchange(c, line))
		require.NoError(t, srv.Shutdown(context.Background()))
		assert.Equal(t, 0.0, metric(t, srv.Registry(), "osslcache_proxy_idle_timeouts_total"))
		assert.Contains(t, logs.String(), "idle_timeout=false")
	})
}

// countingListener counts the calls of Accept of a real listener.
type countingListener struct {
	net.Listener
	accepts atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	l.accepts.Add(1)
	return l.Listener.Accept()
}

// TestProxyMaxConns: with MaxConns connections open, Serve calls Accept no
// more (a new client waits in the kernel's backlog, its handshake not
// started), counts the wait, and serves the next connection once one
// ends.
func TestProxyMaxConns(t *testing.T) {
	cf := testCert(t)
	spec, _ := proxy.ParseStoreSpec("memory")
	srv, err := proxy.New(proxy.Config{Upstream: echoUpstream(t), CertFile: cf.certFile, KeyFile: cf.keyFile, Store: spec, MaxConns: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &countingListener{Listener: inner}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() {
		srv.Close()
		assert.ErrorIs(t, <-served, proxy.ErrServerClosed)
	}()
	addr := inner.Addr().String()
	assert.Equal(t, 2.0, metric(t, srv.Registry(), "osslcache_proxy_max_connections"))

	cfg := goTLSConfig(t, ossl.VersionTLS13, nil)
	first := testutil.DialGo(t, addr, cfg)
	require.NoError(t, ossltest.EchoLine(first, line))
	second := testutil.DialGo(t, addr, cfg)
	require.NoError(t, ossltest.EchoLine(second, line))

	third := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: testDeadline}, "tcp", addr, cfg)
		if err == nil {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(testDeadline))
			err = ossltest.Exchange(c, line)
		}
		third <- err
	}()
	// The accept loop counts the wait before it waits, and calls Accept
	// only after it.
	require.Eventually(t, func() bool { return metric(t, srv.Registry(), "osslcache_proxy_accept_limited_total") == 1 },
		testDeadline, time.Millisecond)
	assert.Equal(t, int32(2), l.accepts.Load(), "no third Accept while two connections are open")
	assert.Equal(t, 2, srv.ActiveConnections())

	require.NoError(t, ossltest.Exchange(first, line)) // the first ends
	require.NoError(t, <-third, "the third is served once the first ended")
	wg.Wait()
	assert.GreaterOrEqual(t, l.accepts.Load(), int32(3))
	assert.GreaterOrEqual(t, metric(t, srv.Registry(), "osslcache_proxy_accept_limited_total"), 1.0)
	assert.Positive(t, metric(t, srv.Registry(), "osslcache_proxy_accept_limited_seconds_total"))
	require.NoError(t, ossltest.Exchange(second, line))
}

// TestProxyRefusesNegativeLimits: New checks what serve's flags check.
func TestProxyRefusesNegativeLimits(t *testing.T) {
	cf := testCert(t)
	spec, _ := proxy.ParseStoreSpec("memory")
	for _, cfg := range []proxy.Config{{IdleTimeout: -time.Second}, {MaxConns: -1}} {
		cfg.Upstream, cfg.CertFile, cfg.KeyFile, cfg.Store = "127.0.0.1:1", cf.certFile, cf.keyFile, spec
		_, err := proxy.New(cfg)
		assert.ErrorContains(t, err, "must not be negative")
	}
}
