package osslhttp_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/osslhttp"
)

// echoHandler answers "<proto> <body>".
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s", r.Proto, b)
})

func post(t *testing.T, c *http.Client, url, body string) string {
	t.Helper()
	resp, err := c.Post(url, "text/plain", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return string(b)
}

// TestTransportFollowsTheServersChoice: the Transport learns h2 from a
// server, and when a server on the same address stops offering it, the
// request (with its body) goes over HTTP/1.1 on the connection that found
// out, and the next ones too.
func TestTransportFollowsTheServersChoice(t *testing.T) {
	ctx := newServerCtx(t, tls13)
	first := startServer(t, ctx, echoHandler, osslhttp.Options{})
	c, tr := osslClient(t, osslClientCtx(t, ossl.VersionTLS13), osslhttp.TransportOptions{})
	assert.Equal(t, "HTTP/2.0 one", post(t, c, first.url, "one"))
	require.NoError(t, first.srv.Shutdown(context.Background()))
	// Whether the client has read the GOAWAY yet or not, its HTTP/2
	// connection is gone: the next request dials.
	tr.HTTP2.CloseIdleConnections()

	// The same address, HTTP/1.1 only.
	l, err := net.Listen("tcp", first.addr)
	require.NoError(t, err)
	second, err := osslhttp.NewServer(newServerCtx(t, tls13), &http.Server{Handler: echoHandler, ReadHeaderTimeout: testDeadline}, osslhttp.Options{DisableHTTP2: true})
	require.NoError(t, err)
	go func() { _ = second.Serve(l) }()
	t.Cleanup(func() { second.Close() })

	assert.Equal(t, "HTTP/1.1 two", post(t, c, first.url, "two"))
	assert.Equal(t, "HTTP/1.1 three", post(t, c, first.url, "three"))

	// CloseIdleConnections forgets the choice: the next request dials
	// afresh and finds HTTP/1.1 again.
	tr.CloseIdleConnections()
	assert.Equal(t, "HTTP/1.1 four", post(t, c, first.url, "four"))
}

// TestTransportConcurrentFirstRequests: many requests to a server not
// known yet dial it once to learn its protocol, and all succeed.
func TestTransportConcurrentFirstRequests(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			s := startServer(t, newServerCtx(t, tls13), echoHandler, osslhttp.Options{DisableHTTP2: !h2})
			c, _ := osslClient(t, osslClientCtx(t, ossl.VersionTLS13), osslhttp.TransportOptions{})
			want := "HTTP/1.1"
			if h2 {
				want = "HTTP/2.0"
			}
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := c.Post(s.url, "text/plain", strings.NewReader(fmt.Sprint(i)))
					if !assert.NoError(t, err) {
						return
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					assert.NoError(t, err)
					assert.Equal(t, fmt.Sprintf("%s %d", want, i), string(b))
				}()
			}
			wg.Wait()
		})
	}
}

// TestTransportSchemes: http URLs go in clear over HTTP/1.1; other
// schemes are refused and the body closed.
func TestTransportSchemes(t *testing.T) {
	plain := httptest.NewServer(echoHandler)
	t.Cleanup(plain.Close)
	c, tr := osslClient(t, osslClientCtx(t, 0), osslhttp.TransportOptions{})
	assert.Equal(t, "HTTP/1.1 clear", post(t, c, plain.URL, "clear"))

	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, err := http.NewRequest(http.MethodPost, "ftp://localhost/", body)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	assert.Nil(t, resp)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unsupported protocol scheme "ftp"`)
	assert.True(t, body.closed, "RoundTrip closes the body, also on errors")
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error {
	c.closed = true
	return nil
}

// TestDialerRefuses: a Dialer that would not verify the server, or has no
// name to check, refuses to dial; an IP address with ServerName set works.
func TestDialerRefuses(t *testing.T) {
	s := startServer(t, newServerCtx(t, tls13), stateHandler, osslhttp.Options{})
	_, port, _ := net.SplitHostPort(s.addr)
	noVerify, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleClient})
	require.NoError(t, err)
	t.Cleanup(func() { noVerify.Close() })
	verifying := osslClientCtx(t, ossl.VersionTLS13)
	tests := []struct {
		name string
		d    *osslhttp.Dialer
		addr string
		want string
	}{
		{"no context", &osslhttp.Dialer{}, "localhost:" + port, "Dialer without a Ctx"},
		{"context that does not verify", &osslhttp.Dialer{Ctx: noVerify}, "localhost:" + port, "does not verify servers"},
		{"IP address without ServerName", &osslhttp.Dialer{Ctx: verifying}, s.addr, "is an IP address"},
		{"no port", &osslhttp.Dialer{Ctx: verifying}, "localhost", "missing port"},
		{"wrong name", &osslhttp.Dialer{Ctx: verifying, ServerName: "wrong.test"}, s.addr, "certificate verify failed"},
		{"IP address with ServerName", &osslhttp.Dialer{Ctx: verifying, ServerName: "localhost"}, s.addr, ""},
		{"insecure, allowed", &osslhttp.Dialer{Ctx: noVerify, InsecureSkipVerify: true}, "localhost:" + port, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.d.DialTLSContext(context.Background(), "tcp", tt.addr)
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, "http/1.1", c.(*ossl.Conn).ConnectionState().NegotiatedProtocol)
				c.Close()
				return
			}
			assert.Nil(t, c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err = osslhttp.NewTransport(nil, osslhttp.TransportOptions{})
	assert.Error(t, err)
	_, err = osslhttp.NewTransport(&osslhttp.Dialer{}, osslhttp.TransportOptions{})
	assert.Error(t, err)
}

// TestDialerCanceled: a dial whose context is done fails with its error.
func TestDialerCanceled(t *testing.T) {
	s := startServer(t, newServerCtx(t, tls13), stateHandler, osslhttp.Options{})
	_, port, _ := net.SplitHostPort(s.addr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&osslhttp.Dialer{Ctx: osslClientCtx(t, 0)}).DialTLSContext(ctx, "tcp", "localhost:"+port)
	assert.ErrorIs(t, err, context.Canceled)
}
