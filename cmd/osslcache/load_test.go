package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/proxy"
)

func TestLoadRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no address", nil, "-addr is required"},
		{"remote address", []string{"-addr", "192.0.2.1:443"}, "not a loopback address"},
		{"host name", []string{"-addr", "example.com:443"}, "not a loopback address"},
		{"bad address", []string{"-addr", "127.0.0.1"}, "-addr"},
		{"bad version", []string{"-addr", "127.0.0.1:1", "-tls", "1.0"}, "-tls"},
		{"bad client", []string{"-addr", "127.0.0.1:1", "-client", "curl"}, "-client must be go or ossl"},
		{"no connections", []string{"-addr", "127.0.0.1:1", "-conns", "0"}, "-conns must be"},
		{"unbounded", []string{"-addr", "127.0.0.1:1", "-conns", "2000000"}, "-conns must be"},
		{"share above one", []string{"-addr", "127.0.0.1:1", "-resume-share", "1.5"}, "-resume-share"},
		{"no concurrency", []string{"-addr", "127.0.0.1:1", "-concurrency", "0"}, "-concurrency"},
		{"stray argument", []string{"-addr", "127.0.0.1:1", "x"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, 2, run(append([]string{"load"}, tt.args...), &stdout, &stderr))
			assert.Contains(t, stderr.String(), tt.want)
			assert.Contains(t, stderr.String(), "usage: osslcache load")
		})
	}
}

// TestLoadCommand runs a small load against an in-process proxy and checks
// the counts it reports (not its speed): exactly the share asked for
// offers a session, and every offer resumes.
func TestLoadCommand(t *testing.T) {
	f := writeTestFiles(t)
	tests := []struct {
		name, version, client string
		noTicket              bool
	}{
		{"crypto/tls, TLS 1.3 stateful tickets", "1.3", "go", true},
		{"ossl, TLS 1.2 session IDs", "1.2", "ossl", true},
		{"crypto/tls, TLS 1.2 tickets", "1.2", "go", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := proxy.ParseStoreSpec("memory")
			require.NoError(t, err)
			srv, err := proxy.New(proxy.Config{
				Upstream: echoUpstream(t), CertFile: f.certFile, KeyFile: f.key, Store: spec, NoTicket: tt.noTicket,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			require.NoError(t, err)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go func() { _ = srv.Serve(l) }()
			defer srv.Close()

			var stdout, stderr bytes.Buffer
			code := run([]string{"load", "-addr", l.Addr().String(), "-ca", f.certFile, "-tls", tt.version, "-client", tt.client,
				"-conns", "20", "-concurrency", "1", "-resume-share", "0.5", "-md", "-label", "memory"}, &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			out := stdout.String()
			assert.Contains(t, out, "connections 20 (concurrency 1), 10 offered a session, 0 failed")
			assert.Contains(t, out, "resumed     10 (50.0% of completed connections)")
			assert.Contains(t, out, "| memory | TLSv"+tt.version+" | "+tt.client+" | 20 | 1 |")
			st := srv.Ctx().Stats()
			assert.Equal(t, int64(21), st.AcceptGood, "20 and the first")
			assert.Equal(t, int64(10), st.Hits)
		})
	}
}
