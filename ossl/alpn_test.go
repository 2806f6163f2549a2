package ossl_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// alpnResult is what the server side of one connection saw.
type alpnResult struct {
	state ossl.ConnectionState
	err   error
}

// serveALPN serves ctx on a loopback port; each connection runs its
// handshake, reports its state, then echoes (so that a TLS 1.3 client
// reads its tickets on a round trip).
func serveALPN(t *testing.T, ctx *ossl.Ctx) (string, <-chan alpnResult) {
	t.Helper()
	results := make(chan alpnResult, 64)
	srv := ossltest.NewServer(ctx, func(c *ossl.Conn) {
		if err := c.Handshake(); err != nil {
			results <- alpnResult{err: err}
			return
		}
		results <- alpnResult{state: c.ConnectionState()}
		_ = echo(c)
	})
	t.Cleanup(srv.Close)
	return srv.Addr, results
}

func serverResultOf(t *testing.T, results <-chan alpnResult) alpnResult {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(testDeadline):
		t.Fatal("the server reported nothing")
		return alpnResult{}
	}
}

// TestALPNSelection checks the server's choice against what clients offer,
// with libssl on both sides and with crypto/tls as the client: server
// preference order, no overlap (fallback or strict), no ALPN on either
// side.
func TestALPNSelection(t *testing.T) {
	h2h1 := []string{"h2", "http/1.1"}
	tests := []struct {
		name     string
		server   []string
		mismatch ossl.ALPNMismatch
		client   []string
		want     string
		fails    bool
	}{
		{"server order wins", h2h1, ossl.ALPNFallback, []string{"http/1.1", "h2"}, "h2", false},
		{"only overlap", h2h1, ossl.ALPNFallback, []string{"spdy/3", "http/1.1"}, "http/1.1", false},
		{"no overlap falls back", []string{"h2"}, ossl.ALPNFallback, []string{"spdy/3"}, "", false},
		{"no overlap, strict", []string{"h2"}, ossl.ALPNStrict, []string{"spdy/3"}, "", true},
		{"strict, client offers nothing", []string{"h2"}, ossl.ALPNStrict, nil, "", false},
		{"server selects nothing", nil, ossl.ALPNFallback, h2h1, "", false},
		{"long names", []string{strings.Repeat("x", 255), "h2"}, ossl.ALPNStrict, []string{"h2", strings.Repeat("x", 255)}, strings.Repeat("x", 255), false},
	}
	for _, v := range []variant{tls12, tls13} {
		for _, tt := range tests {
			t.Run(v.Name+"/"+tt.name, func(t *testing.T) {
				server := newServer(t, v)
				if tt.server != nil {
					require.NoError(t, server.SetNextProtos(tt.server, tt.mismatch))
				}
				addr, results := serveALPN(t, server)

				t.Run("ossl client", func(t *testing.T) {
					c, err := ossltest.Dial(addr, newClient(t, v), ossl.ClientConfig{ServerName: "localhost", NextProtos: tt.client})
					srv := serverResultOf(t, results)
					if tt.fails {
						// The client reads alert 120 (OpenSSL 1.1.1 has no
						// text for it: "reason(1120)"); the server names it.
						var oe *ossl.Error
						require.ErrorAs(t, err, &oe)
						assert.Contains(t, err.Error(), "SSL alert number 120")
						require.ErrorAs(t, srv.err, &oe)
						assert.True(t, oe.HasReason("no application protocol"), srv.err.Error())
						return
					}
					require.NoError(t, err)
					defer c.Close()
					require.NoError(t, srv.err)
					assert.Equal(t, tt.want, c.ConnectionState().NegotiatedProtocol, "client")
					assert.Equal(t, tt.want, srv.state.NegotiatedProtocol, "server")
				})

				t.Run("crypto/tls client", func(t *testing.T) {
					cfg := goClientConfig(t, v.Version, nil)
					cfg.NextProtos = tt.client
					raw, err := net.Dial("tcp", addr)
					require.NoError(t, err)
					require.NoError(t, raw.SetDeadline(time.Now().Add(testDeadline)))
					c := tls.Client(raw, cfg)
					defer c.Close()
					err = c.Handshake()
					srv := serverResultOf(t, results)
					if tt.fails {
						require.Error(t, err)
						assert.Contains(t, err.Error(), "no application protocol")
						require.Error(t, srv.err)
						return
					}
					require.NoError(t, err)
					require.NoError(t, srv.err)
					assert.Equal(t, tt.want, c.ConnectionState().NegotiatedProtocol, "client")
					assert.Equal(t, tt.want, srv.state.NegotiatedProtocol, "server")
				})
			})
		}
	}
}

// TestALPNClientAgainstCryptoTLS offers protocols from a libssl client to
// a crypto/tls server.
func TestALPNClientAgainstCryptoTLS(t *testing.T) {
	certPair, err := tls.X509KeyPair(testCert(t).CertPEM, testCert(t).KeyPEM)
	require.NoError(t, err)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{certPair}, NextProtos: []string{"h2", "http/1.1"}})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(testDeadline))
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Read(make([]byte, 1))
			}()
		}
	}()
	for _, tt := range []struct {
		offer []string
		want  string
	}{
		{[]string{"http/1.1", "h2"}, "h2"},
		{[]string{"http/1.1"}, "http/1.1"},
		{nil, ""},
	} {
		c, err := ossltest.Dial(l.Addr().String(), newClient(t, tls13), ossl.ClientConfig{ServerName: "localhost", NextProtos: tt.offer})
		require.NoError(t, err)
		assert.Equal(t, tt.want, c.ConnectionState().NegotiatedProtocol, "offering %q", tt.offer)
		c.Close()
	}
}

// TestALPNOnResumption: libssl selects again on a resumed handshake, so a
// session made by an h2 connection resumes on a connection that offers
// only http/1.1 and gets http/1.1, for every way of resuming.
func TestALPNOnResumption(t *testing.T) {
	for _, v := range allVariants {
		t.Run(v.Name, func(t *testing.T) {
			server := newServer(t, v)
			require.NoError(t, server.SetNextProtos([]string{"h2", "http/1.1"}, ossl.ALPNStrict))
			addr, results := serveALPN(t, server)
			client := newClient(t, v)
			var sess *ossl.Session
			for i, tt := range []struct {
				offer []string
				want  string
			}{
				{[]string{"h2", "http/1.1"}, "h2"},
				{[]string{"http/1.1"}, "http/1.1"},
				{[]string{"h2"}, "h2"},
				{[]string{"http/1.1", "h2"}, "h2"},
			} {
				c, err := ossltest.Dial(addr, client, ossl.ClientConfig{ServerName: "localhost", NextProtos: tt.offer, Session: sess})
				require.NoError(t, err)
				roundTrip(t, c, []byte("tickets\n"))
				srv := serverResultOf(t, results)
				require.NoError(t, srv.err)
				st := c.ConnectionState()
				assert.Equal(t, tt.want, st.NegotiatedProtocol, "connection %d", i)
				assert.Equal(t, tt.want, srv.state.NegotiatedProtocol, "connection %d", i)
				assert.Equal(t, i > 0, st.DidResume, "connection %d", i)
				assert.Equal(t, i > 0, srv.state.DidResume, "connection %d", i)
				sess.Close()
				sess = c.Session()
				require.NotNil(t, sess)
				c.Close()
			}
			sess.Close()
		})
	}
}

// TestALPNFollowsServerNameSwitch: after a server-name callback switched
// the connection, the new context's list applies, or none if it has none.
func TestALPNFollowsServerNameSwitch(t *testing.T) {
	a, b, none := newServer(t, tls13), newServer(t, tls13), newServer(t, tls13)
	require.NoError(t, a.SetNextProtos([]string{"proto-a"}, ossl.ALPNFallback))
	require.NoError(t, b.SetNextProtos([]string{"proto-b"}, ossl.ALPNFallback))
	require.NoError(t, a.SetServerNameCallback(func(name string) (*ossl.Ctx, error) {
		switch name {
		case "b.test":
			return b, nil
		case "none.test":
			return none, nil
		}
		return nil, nil
	}))
	addr, results := serveALPN(t, a)
	client, err := ossltest.NewClientCtx(testCert(t), ossltest.ClientOptions{Version: ossl.VersionTLS13})
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	for _, tt := range []struct{ name, want string }{{"localhost", "proto-a"}, {"b.test", "proto-b"}, {"none.test", ""}} {
		c, err := ossltest.Dial(addr, client, ossl.ClientConfig{ServerName: tt.name, NextProtos: []string{"proto-b", "proto-a"}})
		require.NoError(t, err, tt.name)
		srv := serverResultOf(t, results)
		require.NoError(t, srv.err)
		assert.Equal(t, tt.want, c.ConnectionState().NegotiatedProtocol, tt.name)
		assert.Equal(t, tt.want, srv.state.NegotiatedProtocol, tt.name)
		c.Close()
	}
}

// TestNextProtosRefusesBadLists: a bad list is refused with an *ossl.Error
// naming the libssl call and the rule, and changes nothing.
func TestNextProtosRefusesBadLists(t *testing.T) {
	tooMany := make([]string, 300)
	for i := range tooMany {
		tooMany[i] = strings.Repeat("p", 255)
	}
	tests := []struct {
		name     string
		protos   []string
		mismatch ossl.ALPNMismatch
		want     string
	}{
		{"empty name", []string{"h2", ""}, ossl.ALPNFallback, `ALPN protocol 1 of ["h2" ""] is empty`},
		{"256 bytes", []string{strings.Repeat("x", 256)}, ossl.ALPNFallback, "ALPN protocol 0 is 256 bytes"},
		{"list over 64 KiB", tooMany, ossl.ALPNFallback, "is over 65535 bytes encoded"},
		{"unknown mismatch", []string{"h2"}, ossl.ALPNMismatch(7), "unknown ALPNMismatch 7"},
	}
	server := newServer(t, tls13)
	require.NoError(t, server.SetNextProtos([]string{"h2", "http/1.1"}, ossl.ALPNStrict))
	client := newClient(t, tls13)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := server.SetNextProtos(tt.protos, tt.mismatch)
			var oe *ossl.Error
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, "SSL_CTX_set_alpn_select_cb", oe.Op)
			assert.Contains(t, err.Error(), tt.want)
			protos, mismatch := server.NextProtos()
			assert.Equal(t, []string{"h2", "http/1.1"}, protos, "the list in force is unchanged")
			assert.Equal(t, ossl.ALPNStrict, mismatch)

			if tt.mismatch != ossl.ALPNFallback {
				return
			}
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			c, err := ossl.Client(a, client, ossl.ClientConfig{NextProtos: tt.protos})
			assert.Nil(t, c)
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, "SSL_set_alpn_protos", oe.Op)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestNextProtosGetter(t *testing.T) {
	server := newServer(t, tls13)
	protos, mismatch := server.NextProtos()
	assert.Nil(t, protos, "none set")
	assert.Equal(t, ossl.ALPNFallback, mismatch)
	require.NoError(t, server.SetNextProtos([]string{"h2", "http/1.1"}, ossl.ALPNStrict))
	protos, mismatch = server.NextProtos()
	assert.Equal(t, []string{"h2", "http/1.1"}, protos)
	assert.Equal(t, ossl.ALPNStrict, mismatch)
	assert.Equal(t, "strict", mismatch.String())

	other, err := ossl.WrapCtx(osslhooks.CtxPointer(server))
	require.NoError(t, err)
	defer other.Close()
	protos, _ = other.NextProtos()
	assert.Equal(t, []string{"h2", "http/1.1"}, protos, "the list is the SSL_CTX's, seen by every *Ctx over it")

	require.NoError(t, server.SetNextProtos(nil, ossl.ALPNFallback))
	protos, mismatch = server.NextProtos()
	assert.Nil(t, protos)
	assert.Equal(t, "fallback", mismatch.String())

	require.NoError(t, server.Close())
	protos, _ = server.NextProtos()
	assert.Nil(t, protos, "after Close")
	assert.ErrorIs(t, server.SetNextProtos([]string{"h2"}, ossl.ALPNFallback), ossl.ErrClosed)
}

// TestALPNListChangesWhileServing: the list may be replaced, cleared and
// the context closed while handshakes select from it (run with -race and
// -asan: no torn list, no use after free).
func TestALPNListChangesWhileServing(t *testing.T) {
	server := newServer(t, tls13)
	require.NoError(t, server.SetNextProtos([]string{"h2"}, ossl.ALPNFallback))
	addr, results := serveALPN(t, server)
	go func() {
		for range results {
		}
	}()
	client := newClient(t, tls13)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lists := [][]string{{"h2"}, {"http/1.1", "h2"}, nil, {"x", "http/1.1"}}
		for i := 0; ctx.Err() == nil; i++ {
			assert.NoError(t, server.SetNextProtos(lists[i%len(lists)], ossl.ALPNMismatch(i%2)))
			_, _ = server.NextProtos()
		}
	}()
	for range 40 {
		c, err := ossltest.Dial(addr, client, ossl.ClientConfig{ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			// A strict list without h2 or http/1.1 never exists; any
			// failure is a bug.
			t.Fatal(err)
		}
		assert.Contains(t, []string{"h2", "http/1.1", ""}, c.ConnectionState().NegotiatedProtocol)
		c.Close()
	}
	cancel()
	wg.Wait()
}

// TestALPNRacesClose: SetNextProtos and NextProtos race Close; each
// finishes first or reports ErrClosed, and the list is freed with the
// SSL_CTX (with -asan: no use after free, no double free).
func TestALPNRacesClose(t *testing.T) {
	for range 100 * stressFactor(t) {
		c, err := ossltest.NewServerCtx(testCert(t), tls13.ServerOptions())
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 4 {
					if err := c.SetNextProtos([]string{"h2", "http/1.1"}[:1+i%2], ossl.ALPNStrict); err != nil && !errors.Is(err, ossl.ErrClosed) {
						t.Errorf("SetNextProtos: %v", err)
					}
					_, _ = c.NextProtos()
				}
			}()
		}
		_ = c.Close()
		wg.Wait()
	}
}

// TestALPNFreesEverything: a context's list is freed with the context,
// and a replaced list when it is replaced. Built with -tags ossl_memdebug
// it fails unless OpenSSL's live heap blocks (the list is allocated with
// OPENSSL_malloc) come back to where they were; with -asan it checks every
// free.
func TestALPNFreesEverything(t *testing.T) {
	run := func(n int) {
		for i := range n {
			c, err := ossltest.NewServerCtx(testCert(t), tls13.ServerOptions())
			require.NoError(t, err)
			require.NoError(t, c.SetNextProtos([]string{"h2", "http/1.1"}, ossl.ALPNStrict))
			require.NoError(t, c.SetNextProtos([]string{strings.Repeat("p", 200)}, ossl.ALPNFallback))
			if i%2 == 0 {
				require.NoError(t, c.SetNextProtos(nil, ossl.ALPNFallback))
			}
			if i%3 == 0 {
				require.NoError(t, c.Close())
			} // else left to the garbage collector
		}
	}
	run(3) // warm-up
	requireNoGrowth(t, "300 servers' ALPN lists", func() { run(300) })
}
