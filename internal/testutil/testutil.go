// Package testutil holds the testing.TB helpers that several of the
// project's test packages share. TLS helpers that programs may use too,
// without package testing, live in ossl/ossltest; the ones here wrap them
// for tests.
package testutil

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writers, for capturing
// logs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ScrapeMetrics reads a Prometheus text exposition from url: sample values
// keyed by name and labels as written ("name" or `name{a="b"}`).
func ScrapeMetrics(tb testing.TB, url string) map[string]float64 {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			tb.Fatalf("metrics line without a value: %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tb.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Serve accepts connections on l until the test ends, handling each on its
// own goroutine; at cleanup it closes l and waits for every handler.
func Serve(tb testing.TB, l net.Listener, handle func(net.Conn)) {
	tb.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
}

// EchoServer runs a plaintext TCP echo server on loopback until the test
// ends (a stand-in upstream for proxies); each connection may live for
// limit. It returns the server's address.
func EchoServer(tb testing.TB, limit time.Duration) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	Serve(tb, l, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(limit))
		_, _ = io.Copy(c, c)
		_ = c.(*net.TCPConn).CloseWrite()
	})
	return l.Addr().String()
}

// DialGo connects to addr with crypto/tls and completes the handshake; the
// connection lives at most ossltest.DefaultConnTimeout and is closed when
// the test ends.
func DialGo(tb testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	tb.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: ossltest.DefaultConnTimeout}, "tcp", addr, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { c.Close() })
	require.NoError(tb, c.SetDeadline(time.Now().Add(ossltest.DefaultConnTimeout)))
	return c
}

// GoSession runs one crypto/tls client through an echo server at addr
// (ossltest.Exchange of line) and reports whether it resumed a session.
func GoSession(tb testing.TB, addr string, cfg *tls.Config, line string) bool {
	tb.Helper()
	c := DialGo(tb, addr, cfg)
	require.NoError(tb, ossltest.Exchange(c, line))
	return c.ConnectionState().DidResume
}

// OsslSession does the same with a libssl client of ctx (ossltest.Dial),
// which also resumes TLS 1.2 by session ID.
func OsslSession(tb testing.TB, addr string, ctx *ossl.Ctx, cfg ossl.ClientConfig, line string) bool {
	tb.Helper()
	c, err := ossltest.Dial(addr, ctx, cfg)
	require.NoError(tb, err)
	defer c.Close()
	require.NoError(tb, ossltest.Exchange(c, line))
	return c.ConnectionState().DidResume
}

// certs caches Cert's certificates by their names.
var certs sync.Map // string -> func() (*ossltest.Certificate, error)

// Cert returns a self-signed test certificate for names ("localhost" if
// none), made once per process and set of names: every test of a package
// shares it, as a fleet shares one certificate.
func Cert(tb testing.TB, names ...string) *ossltest.Certificate {
	tb.Helper()
	if len(names) == 0 {
		names = []string{"localhost"}
	}
	once, _ := certs.LoadOrStore(strings.Join(names, ","), sync.OnceValues(func() (*ossltest.Certificate, error) {
		return ossltest.NewCertificate(names...)
	}))
	c, err := once.(func() (*ossltest.Certificate, error))()
	if err != nil {
		tb.Fatalf("test certificate for %v: %v", names, err)
	}
	return c
}
