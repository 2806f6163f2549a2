package proxy_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/proxy"
)

func newTicketKey(t testing.TB) ossl.TicketKey {
	k, err := ossltest.NewTicketKey()
	require.NoError(t, err)
	return k
}

// writeTicketKeys writes keys to a new file and returns its path.
func writeTicketKeys(t testing.TB, keys ...ossl.TicketKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ticket.keys")
	require.NoError(t, ossltest.WriteTicketKeys(p, keys...))
	return p
}

// newest returns r's newest session and the name of its ticket's key.
func newest(t testing.TB, r *ossltest.SessionRecorder) (*tls.ClientSessionState, []byte) {
	t.Helper()
	cs, name, err := r.Newest()
	require.NoError(t, err)
	return cs, name
}

// TestTicketKeyRotation rotates a proxy's ticket keys as a fleet does,
// [A] -> [B, A] -> [B], through Reload: a ticket sealed under A resumes in
// the second step and is renewed under B, and does not resume in the
// third; the renewed one does. For TLS 1.2 (where libssl renews a ticket
// only when an older key opened it) and TLS 1.3.
func TestTicketKeyRotation(t *testing.T) {
	for _, v := range []ossl.Version{ossl.VersionTLS12, ossl.VersionTLS13} {
		t.Run(v.String(), func(t *testing.T) {
			a, b := newTicketKey(t), newTicketKey(t)
			keyFile := writeTicketKeys(t, a)
			spec, _ := proxy.ParseStoreSpec("none")
			srv, addr, logs := startProxy(t, proxy.Config{Store: spec, CacheMode: ossl.CacheServer, MinVersion: v, MaxVersion: v, TicketKeyFile: keyFile})
			base := goTLSConfig(t, v, nil)

			rec := &ossltest.SessionRecorder{}
			cfg := base.Clone()
			cfg.ClientSessionCache = rec
			require.False(t, goSession(t, addr, cfg))
			underA, name := newest(t, rec)
			assert.Equal(t, a[:16], name, "sealed under A")

			// Step 2: B seals, A still opens.
			require.NoError(t, ossltest.WriteTicketKeys(keyFile, b, a))
			require.NoError(t, srv.Reload())
			assert.Equal(t, 2, srv.Ctx().TicketKeyCount())
			c, r := ossltest.Offering(base, underA)
			assert.True(t, goSession(t, addr, c), "a ticket under A resumes in the second step")
			renewed, name := newest(t, r)
			assert.Equal(t, b[:16], name, "and was renewed under B")
			fresh := &ossltest.SessionRecorder{}
			fc := base.Clone()
			fc.ClientSessionCache = fresh
			require.False(t, goSession(t, addr, fc))
			_, name = newest(t, fresh)
			assert.Equal(t, b[:16], name, "new tickets are sealed under B")

			// Step 3: A is gone.
			require.NoError(t, ossltest.WriteTicketKeys(keyFile, b))
			require.NoError(t, srv.Reload())
			c, _ = ossltest.Offering(base, underA)
			assert.False(t, goSession(t, addr, c), "a ticket under A no longer resumes")
			c, _ = ossltest.Offering(base, renewed)
			assert.True(t, goSession(t, addr, c), "its renewal under B does")
			assert.Contains(t, logs.String(), "ticket keys reloaded")
		})
	}
}

// TestReload: Reload swaps the certificate for the next connection while
// a connection made before keeps the one it started with; a certificate,
// key or ticket key file that does not load leaves what was in force, and
// says why; the metrics count every reload.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	old, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	next, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	write := func(c *ossltest.Certificate) {
		require.NoError(t, os.WriteFile(certFile, c.CertPEM, 0o600))
		require.NoError(t, os.WriteFile(keyFile, c.KeyPEM, 0o600))
	}
	write(old)
	ticketFile := writeTicketKeys(t, newTicketKey(t))
	spec, _ := proxy.ParseStoreSpec("memory")
	var logs testutil.SyncBuffer
	srv, err := proxy.New(proxy.Config{Upstream: echoUpstream(t), CertFile: certFile, KeyFile: keyFile, TicketKeyFile: ticketFile, Store: spec,
		Logger: newTestLogger(&logs)})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	addr := l.Addr().String()
	pool := x509.NewCertPool()
	pool.AddCert(old.Leaf)
	pool.AddCert(next.Leaf)
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	served := func() *x509.Certificate {
		c := testutil.DialGo(t, addr, cfg)
		defer c.Close()
		require.NoError(t, ossltest.EchoLine(c, "hello"))
		return c.ConnectionState().PeerCertificates[0]
	}
	assert.Equal(t, old.Leaf.Raw, served().Raw)

	// A connection made before the reload.
	inflight := testutil.DialGo(t, addr, cfg)
	require.NoError(t, ossltest.EchoLine(inflight, "before"))

	write(next)
	require.NoError(t, srv.Reload())
	assert.Equal(t, next.Leaf.Raw, served().Raw, "the next connection gets the new certificate")
	require.NoError(t, ossltest.EchoLine(inflight, "after")) // the open one goes on
	assert.Equal(t, old.Leaf.Raw, inflight.ConnectionState().PeerCertificates[0].Raw)

	tests := []struct {
		name    string
		spoil   func()
		wantErr string
	}{
		{"key of another certificate", func() { require.NoError(t, os.WriteFile(keyFile, old.KeyPEM, 0o600)) }, "certificate"},
		{"certificate not PEM", func() { require.NoError(t, os.WriteFile(certFile, []byte("not a certificate"), 0o600)) }, "no PEM CERTIFICATE"},
		{"key file missing", func() { require.NoError(t, os.Remove(keyFile)) }, "certificate key"},
		{"ticket keys short", func() {
			require.NoError(t, os.WriteFile(ticketFile, []byte(base64.StdEncoding.EncodeToString(make([]byte, 48))), 0o600))
		}, "ticket keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(next)
			keys := writeTicketKeysTo(t, ticketFile)
			require.NoError(t, srv.Reload())
			tt.spoil()
			err := srv.Reload()
			require.ErrorContains(t, err, tt.wantErr)
			assert.Equal(t, next.Leaf.Raw, served().Raw, "the previous certificate stays")
			assert.Equal(t, len(keys), srv.Ctx().TicketKeyCount(), "the previous ticket keys stay")
			assert.Contains(t, logs.String(), "reload failed; the previous one stays in force")
		})
	}

	ml, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: testDeadline}
	go func() { _ = hs.Serve(ml) }()
	defer hs.Close()
	m := testutil.ScrapeMetrics(t, "http://"+ml.Addr().String()+"/metrics")
	assert.Equal(t, 1.0+2*float64(len(tests)), m[`osslcache_proxy_reloads_total{result="ok",what="ticket_keys"}`]+m[`osslcache_proxy_reloads_total{result="error",what="ticket_keys"}`])
	assert.Equal(t, 1.0, m[`osslcache_proxy_reloads_total{result="error",what="ticket_keys"}`])
	assert.Equal(t, 3.0, m[`osslcache_proxy_reloads_total{result="error",what="certificate"}`])
	assert.Equal(t, 1.0+float64(len(tests))+1, m[`osslcache_proxy_reloads_total{result="ok",what="certificate"}`])
	assert.Equal(t, 3.0, m["osslcache_proxy_ticket_keys"])
	assert.Equal(t, float64(next.Leaf.NotAfter.Unix()), m["osslcache_proxy_certificate_not_after_seconds"])
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// writeTicketKeysTo writes three fresh keys to path and returns them.
func writeTicketKeysTo(t testing.TB, path string) []ossl.TicketKey {
	keys := []ossl.TicketKey{newTicketKey(t), newTicketKey(t), newTicketKey(t)}
	require.NoError(t, ossltest.WriteTicketKeys(path, keys...))
	return keys
}
