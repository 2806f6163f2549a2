package ossl_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// acceptOne runs l.Accept on its own goroutine and fails the test if it
// does not return within testDeadline.
func acceptOne(t *testing.T, l net.Listener) (net.Conn, error) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-time.After(testDeadline):
		t.Fatal("Accept did not return")
		return nil, nil
	}
}

// TestListenerAcceptDoesNotHandshake: Accept returns a *ossl.Conn whose
// handshake has not run, so a client that connects and sends nothing
// holds up nobody: the next client is accepted and served while the
// silent one's handshake waits.
func TestListenerAcceptDoesNotHandshake(t *testing.T) {
	l, err := ossl.Listen("tcp", "127.0.0.1:0", newServer(t, tls13))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })

	silent, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { silent.Close() })
	first, err := acceptOne(t, l)
	require.NoError(t, err)
	t.Cleanup(func() { first.Close() })
	fc, ok := first.(*ossl.Conn)
	require.True(t, ok, "Accept returns *ossl.Conn, got %T", first)
	assert.False(t, fc.ConnectionState().HandshakeComplete, "Accept ran no handshake")
	// The silent client's handshake, on its own goroutine, waits for it.
	silentDone := make(chan error, 1)
	go func() { silentDone <- fc.HandshakeContext(context.Background()) }()

	type dialed struct {
		c   *ossl.Conn
		err error
	}
	client := make(chan dialed, 1)
	go func() {
		c, err := ossltest.Dial(l.Addr().String(), newClient(t, tls13), ossl.ClientConfig{ServerName: "localhost"})
		client <- dialed{c, err}
	}()
	second, err := acceptOne(t, l)
	require.NoError(t, err)
	t.Cleanup(func() { second.Close() })
	require.NoError(t, second.SetDeadline(time.Now().Add(testDeadline)))
	go func() { _, _ = io.Copy(second, second) }()
	d := <-client
	require.NoError(t, d.err, "the second client is served while the first sends nothing")
	t.Cleanup(func() { d.c.Close() })
	roundTrip(t, d.c, []byte("hello\n"))
	assert.True(t, second.(*ossl.Conn).ConnectionState().HandshakeComplete)

	select {
	case err := <-silentDone:
		t.Fatalf("the silent client's handshake ended: %v", err)
	default:
	}
	silent.Close()
	err = <-silentDone
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the silent client's handshake ends when it hangs up")
}

// TestListenerServesNetHTTP: the listener's connections serve net/http
// (HTTP/1.1) to crypto/tls clients, and ALPN reaches both sides.
func TestListenerServesNetHTTP(t *testing.T) {
	server := newServer(t, tls13)
	require.NoError(t, server.SetNextProtos([]string{"http/1.1"}, ossl.ALPNFallback))
	l, err := ossl.Listen("tcp", "127.0.0.1:0", server)
	require.NoError(t, err)
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Proto)
		}),
		ReadHeaderTimeout: testDeadline,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			_, ok := c.(*ossl.Conn)
			assert.True(t, ok, "ConnContext gets the *ossl.Conn, got %T", c)
			return ctx
		},
	}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })

	cfg := goClientConfig(t, ossl.VersionTLS13, nil)
	cfg.NextProtos = []string{"http/1.1"}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: testDeadline}
	t.Cleanup(hc.CloseIdleConnections)
	resp, err := hc.Get("https://" + l.Addr().String() + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1", string(body))
	assert.Equal(t, "http/1.1", resp.TLS.NegotiatedProtocol)
}

func TestListenRefuses(t *testing.T) {
	noCert, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer})
	require.NoError(t, err)
	t.Cleanup(func() { noCert.Close() })
	closed := newServer(t, tls13)
	require.NoError(t, closed.Close())
	withSNI, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer})
	require.NoError(t, err)
	t.Cleanup(func() { withSNI.Close() })
	require.NoError(t, withSNI.SetServerNameCallback(func(string) (*ossl.Ctx, error) { return nil, nil }))

	tests := []struct {
		name string
		ctx  *ossl.Ctx
		addr string
		want string
	}{
		{"nil context", nil, "127.0.0.1:0", "nil *Ctx"},
		{"no certificate", noCert, "127.0.0.1:0", "the context has no certificate"},
		{"closed context", closed, "127.0.0.1:0", ossl.ErrClosed.Error()},
		{"bad address", newServer(t, tls13), "127.0.0.1:http-nope", "unknown port"},
		{"certificate from a server-name callback", withSNI, "127.0.0.1:0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ossl.Listen("tcp", tt.addr, tt.ctx)
			if tt.want == "" {
				require.NoError(t, err)
				l.Close()
				return
			}
			assert.Nil(t, l)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestListenerAcceptFailures: Accept reports a closed context (closing the
// connection it took) and a closed listener.
func TestListenerAcceptFailures(t *testing.T) {
	ctx := newServer(t, tls13)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := ossl.NewListener(inner, ctx)
	assert.Equal(t, inner.Addr(), l.Addr())

	require.NoError(t, ctx.Close())
	raw, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer raw.Close()
	c, err := acceptOne(t, l)
	assert.Nil(t, c)
	assert.ErrorIs(t, err, ossl.ErrClosed)
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(testDeadline)))
	_, err = raw.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the connection Accept took was closed")

	require.NoError(t, l.Close())
	_, err = acceptOne(t, l)
	assert.ErrorIs(t, err, net.ErrClosed)
}

// TestListenerWithCryptoTLSClientsResumes: through the listener, a
// crypto/tls client with a session cache resumes (crypto/tls resumes
// TLS 1.2 by tickets only).
func TestListenerWithCryptoTLSClientsResumes(t *testing.T) {
	for _, v := range []variant{tls12Tickets, tls13, tls13Stateful} {
		t.Run(v.Name, func(t *testing.T) {
			l, err := ossl.Listen("tcp", "127.0.0.1:0", newServer(t, v))
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
						_, _ = io.Copy(c, c)
					}()
				}
			}()
			cfg := goClientConfig(t, v.Version, tls.NewLRUClientSessionCache(4))
			for i := range 2 {
				c := dialGo(t, l.Addr().String(), cfg)
				roundTrip(t, c, []byte("x\n"))
				assert.Equal(t, i == 1, c.ConnectionState().DidResume, "connection %d", i)
				c.Close()
			}
		})
	}
}
