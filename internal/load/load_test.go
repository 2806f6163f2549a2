package load_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/load"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr string
	}{
		{"127.0.0.1:443", ""},
		{"127.8.9.10:1", ""},
		{"[::1]:443", ""},
		{"localhost:443", ""},
		{"192.0.2.1:443", "not a loopback address"},
		{"10.0.0.1:443", "not a loopback address"},
		{"example.com:443", "not a loopback address"},
		{"127.0.0.1", "missing port"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := load.CheckLoopback(tt.addr)
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
}

// TestRun loads an echoing libssl server (ossltest.NewServer) and checks
// the counts, not the speed: exactly the share asked for offers a session,
// and every offer resumes.
// loadServer is an ossltest server of variant v, with id context
// "load-test" and handler (nil: echo), closed when the test ends.
func loadServer(t *testing.T, cert *ossltest.Certificate, v ossltest.Variant, handler func(*ossl.Conn)) (*ossl.Ctx, *ossltest.Server) {
	t.Helper()
	o := v.ServerOptions()
	o.SessionIDContext = []byte("load-test")
	server, err := ossltest.NewServerCtx(cert, o)
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	srv := ossltest.NewServer(server, handler)
	t.Cleanup(srv.Close)
	return server, srv
}

func TestRun(t *testing.T) {
	cert, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	tests := []struct {
		name    string
		variant ossltest.Variant
		client  load.Client
	}{
		{"crypto/tls, TLS 1.3 tickets", ossltest.TLS13, load.ClientGo},
		{"crypto/tls, TLS 1.2 tickets", ossltest.TLS12Tickets, load.ClientGo},
		{"ossl, TLS 1.2 session IDs", ossltest.TLS12, load.ClientOssl},
		{"ossl, TLS 1.3 stateful tickets", ossltest.TLS13Stateful, load.ClientOssl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, srv := loadServer(t, cert, tt.variant, nil)

			res, err := load.Run(context.Background(), load.Config{
				Addr: srv.Addr, ServerName: "localhost", RootCAs: cert.CertPEM, Version: tt.variant.Version,
				// One at a time: libssl's client uses a TLS 1.3 session once
				// (CLIENT caching), so a resuming connection started while
				// the previous one still waits for its new ticket makes a
				// full handshake, which a loaded machine made happen (offered
				// 3, resumed 2). Concurrency is TestRunConcurrently's, with sessions a
				// client may offer twice.
				Client: tt.client, Conns: 12, Concurrency: 1, ResumeShare: 0.25,
			})
			require.NoError(t, err)
			require.NoError(t, res.FirstError)
			assert.Equal(t, 12, res.Conns)
			assert.Equal(t, 0, res.Failed)
			assert.Equal(t, 3, res.Offered)
			assert.Equal(t, 3, res.Resumed)
			assert.InDelta(t, 0.25, res.ResumedShare(), 1e-9)
			assert.Positive(t, res.HandshakesPerSecond())
			assert.Equal(t, int64(3), server.Stats().Hits, "the server counts the resumptions")
		})
	}
}

// TestRunConcurrently: four connections at a time, half of them offering
// the one session the client keeps, which each may offer while another
// does (TLS 1.2 session IDs; stateless TLS 1.3 tickets, which crypto/tls
// offers again): every offer resumes, nothing fails.
func TestRunConcurrently(t *testing.T) {
	cert, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	for _, tt := range []struct {
		name    string
		variant ossltest.Variant
		client  load.Client
	}{
		{"crypto/tls, TLS 1.3 tickets", ossltest.TLS13, load.ClientGo},
		{"ossl, TLS 1.2 session IDs", ossltest.TLS12, load.ClientOssl},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := loadServer(t, cert, tt.variant, nil)
			res, err := load.Run(context.Background(), load.Config{
				Addr: srv.Addr, ServerName: "localhost", RootCAs: cert.CertPEM, Version: tt.variant.Version,
				Client: tt.client, Conns: 40, Concurrency: 4, ResumeShare: 0.5,
			})
			require.NoError(t, err)
			require.NoError(t, res.FirstError)
			assert.Equal(t, 0, res.Failed)
			assert.Equal(t, 20, res.Offered)
			assert.Equal(t, 20, res.Resumed)
		})
	}
}

func TestRunRefusesBadConfigs(t *testing.T) {
	ok := load.Config{Addr: "127.0.0.1:1", Conns: 1, Concurrency: 1}
	tests := []struct {
		name    string
		change  func(*load.Config)
		wantErr string
	}{
		{"remote", func(c *load.Config) { c.Addr = "192.0.2.1:443" }, "not a loopback address"},
		{"no connections", func(c *load.Config) { c.Conns = 0 }, "conns must be"},
		{"unbounded", func(c *load.Config) { c.Conns = load.MaxConns + 1 }, "conns must be"},
		{"no concurrency", func(c *load.Config) { c.Concurrency = 0 }, "concurrency"},
		{"share", func(c *load.Config) { c.ResumeShare = 2 }, "resume share"},
		{"client", func(c *load.Config) { c.Client = "curl" }, "unknown client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			cfg.Version = ossl.VersionTLS13
			tt.change(&cfg)
			_, err := load.Run(context.Background(), cfg)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestHold holds connections open to an echoing libssl server: all of
// them complete their handshakes, the share asked for resumes, and each
// is still open and served afterwards.
func TestHold(t *testing.T) {
	cert, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	tests := []struct {
		name    string
		variant ossltest.Variant
		client  load.Client
	}{
		{"crypto/tls, TLS 1.3", ossltest.TLS13, load.ClientGo},
		{"ossl, TLS 1.2 session IDs", ossltest.TLS12, load.ClientOssl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var open sync.WaitGroup
			server, srv := loadServer(t, cert, tt.variant, func(c *ossl.Conn) {
				defer open.Done()
				ossltest.Echo(c)
			})
			open.Add(9) // the first connection, which fills the client's cache, and 8 held

			h, err := load.Hold(context.Background(), load.Config{
				Addr: srv.Addr, ServerName: "localhost", RootCAs: cert.CertPEM, Version: tt.variant.Version,
				Client: tt.client, Conns: 8, Concurrency: 3, ResumeShare: 0.5,
			})
			require.NoError(t, err)
			assert.Equal(t, 8, h.Len())
			assert.Equal(t, 4, h.Resumed)
			require.NoError(t, h.ExchangeAll("still open"), "every held connection is still served")
			assert.Equal(t, int64(9), server.Stats().AcceptGood)
			open.Wait() // each handler returned after its client's half-close
			h.Close()
		})
	}
}
