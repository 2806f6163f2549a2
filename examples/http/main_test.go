package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// waitLimit bounds every wait on a process or a socket, so that a bug
// fails a test instead of hanging it; no test measures time.
const waitLimit = 60 * time.Second

// Environment variables that make a missing tool fail the tests instead
// of skipping them (CI sets them, as OSSLCACHE_REQUIRE_REDIS).
const (
	envRequireCurl   = "OSSLCACHE_REQUIRE_CURL"
	envRequireH2load = "OSSLCACHE_REQUIRE_H2LOAD"
)

// requireTool returns the path of name, or ends the test: skipped unless
// env is set, failed if it is.
func requireTool(t *testing.T, name, env string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if _, required := os.LookupEnv(env); required {
		t.Fatalf("%s not found and %s is set (scripts/setup.sh installs it): %v", name, env, err)
	}
	t.Skipf("%s not found (scripts/setup.sh installs it); set %s to fail instead", name, env)
	return ""
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// exampleBinary builds this command once for the package's tests.
func exampleBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "osslcache-example-http-")
		if err != nil {
			binErr = err
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(dir, "http")
		binOut, binErr = exec.Command(goBin, "build", "-o", binPath, ".").CombinedOutput()
	})
	require.NoError(t, binErr, "go build: %s", binOut)
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// files are a certificate for localhost, its key and Redis sealing keys.
type files struct {
	dir, cert, key, redisKeys string
	leaf                      *x509.Certificate
}

func writeFiles(t *testing.T) files {
	t.Helper()
	c, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	dir := t.TempDir()
	f := files{dir: dir, cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), redisKeys: filepath.Join(dir, "redis.keys"), leaf: c.Leaf}
	rk := make([]byte, 32)
	_, _ = rand.Read(rk)
	require.NoError(t, os.WriteFile(f.cert, c.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(f.key, c.KeyPEM, 0o600))
	require.NoError(t, os.WriteFile(f.redisKeys, []byte("k1:"+base64.StdEncoding.EncodeToString(rk)+"\n"), 0o600))
	return f
}

// proc is one running example.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // 127.0.0.1:port
	port   string
	url    string // https://localhost:port/
	exited chan struct{}

	mu   sync.Mutex
	logs bytes.Buffer
}

var (
	listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)
	stoppedRE   = regexp.MustCompile(`msg=stopped handshakes=(\d+) resumed=(\d+) exit_code=(\d+)`)
)

// start runs the example on a free loopback port with args; it is
// stopped (SIGTERM) when the test ends, and must exit 0 then.
func start(t *testing.T, f files, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, exited: make(chan struct{})}
	p.cmd = exec.Command(exampleBinary(t), append([]string{"-listen", "127.0.0.1:0", "-cert", f.cert, "-key", f.key}, args...)...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("example %v log:\n%s", args, p.log())
		}
	})
	timeout := time.After(waitLimit)
	for p.addr == "" {
		select {
		case l := <-lines:
			if m := listeningRE.FindStringSubmatch(l); m != nil {
				p.addr = m[1]
			}
		case <-p.exited:
			t.Fatalf("the example exited (%v) before listening:\n%s", p.cmd.ProcessState, p.log())
		case <-timeout:
			t.Fatalf("the example did not listen:\n%s", p.log())
		}
	}
	_, p.port, _ = net.SplitHostPort(p.addr)
	p.url = "https://localhost:" + p.port + "/"
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop sends SIGTERM, waits for the exit and returns the handshakes and
// resumptions it logged; it fails the test unless the example exited 0.
func (p *proc) stop() (handshakes, resumed int) {
	p.t.Helper()
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(waitLimit):
			_ = p.cmd.Process.Kill()
			<-p.exited
			p.t.Errorf("the example did not stop on SIGTERM")
		}
	}
	assert.Equal(p.t, 0, p.cmd.ProcessState.ExitCode(), "exit status")
	m := stoppedRE.FindStringSubmatch(p.log())
	if !assert.NotNil(p.t, m, "a stopped line") {
		return 0, 0
	}
	handshakes, _ = strconv.Atoi(m[1])
	resumed, _ = strconv.Atoi(m[2])
	return handshakes, resumed
}

// curl runs curl with the test certificate as its trust anchor and
// returns the lines it printed.
func curl(t *testing.T, f files, args ...string) []string {
	t.Helper()
	bin := requireTool(t, "curl", envRequireCurl)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"-sS", "--cacert", f.cert}, args...)...).CombinedOutput()
	require.NoError(t, err, "curl %q: %s", args, out)
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func line(proto, alpn string, resumed bool, version string) string {
	return fmt.Sprintf("proto=%s alpn=%s resumed=%v version=%s", proto, alpn, resumed, version)
}

// TestCurlResumes: curl gets HTTP/1.1 or HTTP/2 as it asks, and its
// second connection resumes the session of its first, for every way the
// server keeps sessions, on TLS 1.2 and 1.3.
//
// HTTP/1.1: two URLs with -H 'Connection: close' make curl reconnect.
// HTTP/2: curl sends no Connection header, and after a GOAWAY it frees
// its connection without close_notify, which makes OpenSSL mark the
// session not resumable (against any server: nginx too); a second
// transfer (--next) that cannot share the first connection (another
// --local-port range) reconnects while the first is open, and resumes.
func TestCurlResumes(t *testing.T) {
	requireTool(t, "curl", envRequireCurl)
	f := writeFiles(t)
	for _, cfg := range []struct {
		name string
		args []string
	}{
		{"memory store, tickets", nil},
		{"memory store, no tickets", []string{"-no-ticket"}},
		{"libssl's cache alone", []string{"-store", "none", "-no-ticket"}},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			p := start(t, f, cfg.args...)
			for _, tls := range []struct{ flag, version string }{{"--tlsv1.3", "TLSv1.3"}, {"--tls-max", "TLSv1.2"}} {
				tlsArgs := []string{tls.flag}
				if tls.flag == "--tls-max" {
					tlsArgs = append(tlsArgs, "1.2")
				}
				got := curl(t, f, append(append([]string{"--http1.1", "-H", "Connection: close"}, tlsArgs...), p.url, p.url)...)
				assert.Equal(t, []string{
					line("HTTP/1.1", "http/1.1", false, tls.version),
					line("HTTP/1.1", "http/1.1", true, tls.version),
				}, got, "HTTP/1.1, %s", tls.version)

				h2 := append([]string{"--http2"}, tlsArgs...)
				args := append(append(append([]string{}, h2...), p.url, "--next", "--cacert", f.cert, "--local-port", "20000-60000"), append(h2, p.url)...)
				got = curl(t, f, args...)
				assert.Equal(t, []string{
					line("HTTP/2.0", "h2", false, tls.version),
					line("HTTP/2.0", "h2", true, tls.version),
				}, got, "HTTP/2, %s", tls.version)
			}
			handshakes, resumed := p.stop()
			assert.Equal(t, 8, handshakes)
			assert.Equal(t, 4, resumed)
		})
	}
}

// TestCurlCloseQuery: "?close" answers with Connection: close, which
// closes an HTTP/1.1 connection and sends GOAWAY on HTTP/2: curl's next
// request comes on a new connection either way.
func TestCurlCloseQuery(t *testing.T) {
	requireTool(t, "curl", envRequireCurl)
	f := writeFiles(t)
	p := start(t, f)
	for _, proto := range []string{"--http1.1", "--http2"} {
		got := curl(t, f, proto, p.url+"?close", p.url+"?close", p.url)
		assert.Len(t, got, 3)
	}
	handshakes, _ := p.stop()
	assert.Equal(t, 6, handshakes, "one connection per request")
}

// goClient is net/http's client on crypto/tls with a session cache and
// keep-alives off: every request dials, and offers the session it has.
func goClient(t *testing.T, f files, h2 bool, cache tls.ClientSessionCache) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(f.leaf)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ClientSessionCache: cache, NextProtos: []string{"http/1.1"}},
		ForceAttemptHTTP2: h2,
		DisableKeepAlives: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return strings.TrimSpace(string(b))
}

// TestGoClientResumes: net/http's client (crypto/tls, ClientSessionCache,
// keep-alives off) resumes from its second request on, over HTTP/1.1 and
// HTTP/2.
func TestGoClientResumes(t *testing.T) {
	f := writeFiles(t)
	for _, cfg := range [][]string{nil, {"-no-ticket"}} {
		p := start(t, f, cfg...)
		for _, h2 := range []bool{false, true} {
			c := goClient(t, f, h2, tls.NewLRUClientSessionCache(4))
			proto, alpn := "HTTP/1.1", "http/1.1"
			if h2 {
				proto, alpn = "HTTP/2.0", "h2"
			}
			for i := range 3 {
				assert.Equal(t, line(proto, alpn, i > 0, "TLSv1.3"), get(t, c, p.url), "%v h2=%v request %d", cfg, h2, i)
			}
		}
	}
}

// TestRedisFleet: two examples sharing a Redis store, its keys and
// -no-ticket resume each other's sessions, whichever protocol, TLS 1.3
// (a crypto/tls client, whose cache is keyed by host name, offers the
// first server's session to the second) and TLS 1.2 (a libssl client
// offers a session by ID).
func TestRedisFleet(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	f := writeFiles(t)
	spec := "redis://" + rs.Addr + "?prefix=example-fleet"
	// A lookup timeout generous enough for a loaded machine: a slow
	// lookup would be a miss, and a full handshake here a failure.
	a := start(t, f, "-store", spec, "-redis-key-file", f.redisKeys, "-no-ticket", "-lookup-timeout", "5s")
	b := start(t, f, "-store", spec, "-redis-key-file", f.redisKeys, "-no-ticket", "-lookup-timeout", "5s")

	for _, h2 := range []bool{false, true} {
		c := goClient(t, f, h2, tls.NewLRUClientSessionCache(4))
		proto, alpn := "HTTP/1.1", "http/1.1"
		if h2 {
			proto, alpn = "HTTP/2.0", "h2"
		}
		assert.Equal(t, line(proto, alpn, false, "TLSv1.3"), get(t, c, a.url))
		assert.Equal(t, line(proto, alpn, true, "TLSv1.3"), get(t, c, b.url), "b resumes a's session, h2=%v", h2)
		assert.Equal(t, line(proto, alpn, true, "TLSv1.3"), get(t, c, a.url), "and a b's, h2=%v", h2)
	}

	client, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleClient, MaxVersion: ossl.VersionTLS12})
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	require.NoError(t, client.AddTrustedCertificatePEM(mustRead(t, f.cert)))
	require.NoError(t, client.SetVerify(ossl.VerifyPeer))
	var sess *ossl.Session
	for i, p := range []*proc{a, b, a} {
		c, err := ossltest.Dial(p.addr, client, ossl.ClientConfig{ServerName: "localhost", NextProtos: []string{"http/1.1"}, Session: sess})
		require.NoError(t, err)
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, line("HTTP/1.1", "http/1.1", i > 0, "TLSv1.2"), strings.TrimSpace(string(body)), "connection %d", i)
		sess.Close()
		sess = c.Session()
		c.Close()
	}
	sess.Close()
	ha, ra := a.stop()
	hb, rb := b.stop()
	assert.Equal(t, 9, ha+hb)
	assert.Equal(t, 6, ra+rb)
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

var h2loadRE = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed`)

// TestH2load: nghttp2's load generator gets every answer, multiplexed on
// HTTP/2 and on new HTTP/1.1 connections per request (which it resumes).
func TestH2load(t *testing.T) {
	bin := requireTool(t, "h2load", envRequireH2load)
	f := writeFiles(t)
	p := start(t, f)
	for _, tt := range []struct {
		name, alpn string
		args       []string
		n          int
	}{
		{"HTTP/2, 4 connections, 10 streams each", "h2", []string{"-n", "400", "-c", "4", "-m", "10"}, 400},
		{"HTTP/1.1, a connection per request", "http/1.1", []string{"--h1", "-n", "100", "-c", "2", "-H", "Connection: close"}, 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, append(tt.args, p.url)...).CombinedOutput()
			require.NoError(t, err, "%s", out)
			m := h2loadRE.FindStringSubmatch(string(out))
			require.NotNil(t, m, "%s", out)
			assert.Equal(t, strconv.Itoa(tt.n), m[4], "succeeded: %s", out)
			assert.Equal(t, "0", m[5], "failed: %s", out)
			assert.Contains(t, string(out), "Application protocol: "+tt.alpn)
		})
	}
	handshakes, resumed := p.stop()
	assert.Equal(t, 4+100, handshakes)
	assert.Greater(t, resumed, 50, "h2load resumes when it reconnects")
}

// TestFlags: bad flags exit 2 with the usage, a bad certificate 1.
func TestFlags(t *testing.T) {
	f := writeFiles(t)
	ok := []string{"-cert", f.cert, "-key", f.key}
	with := func(extra ...string) []string { return append(append([]string{}, ok...), extra...) }
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, 0, "usage: go run ./examples/http"},
		{"nothing", nil, 2, "-cert and -key are required"},
		{"unknown flag", with("-bogus"), 2, "flag provided but not defined: -bogus"},
		{"stray argument", with("extra"), 2, `unexpected arguments ["extra"]`},
		{"bad listen", with("-listen", "8443"), 2, `-listen "8443"`},
		{"bad store", with("-store", "memcached://h:1"), 2, "-store: store"},
		{"redis without keys", with("-store", "redis://127.0.0.1:1"), 2, "needs -redis-key-file"},
		{"keys without redis", with("-redis-key-file", f.redisKeys), 2, "only for a Redis store"},
		{"bad redis key file", with("-store", "redis://127.0.0.1:1", "-redis-key-file", f.cert), 2, "-redis-key-file"},
		{"bad cache mode", with("-cache-mode", "SERVER|FAST"), 2, `unknown cache mode flag "FAST"`},
		{"nothing would resume", with("-store", "none", "-cache-mode", "SERVER|NO_INTERNAL"), 2, "nothing would resume"},
		{"long sid ctx", with("-sid-ctx", strings.Repeat("x", 33)), 2, "-sid-ctx must be 1 to 32 bytes"},
		{"zero lookup timeout", with("-lookup-timeout", "0s"), 2, "-lookup-timeout must be positive"},
		{"bad ticket key file", with("-ticket-key-file", f.cert), 2, "-ticket-key-file"},
		{"key of another certificate", []string{"-cert", f.cert, "-key", f.redisKeys}, 1, "SSL_CTX_use_certificate/PrivateKey failed"},
		{"missing certificate", []string{"-cert", filepath.Join(f.dir, "none"), "-key", f.key}, 1, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tt.args, &stderr)
			assert.Equal(t, tt.code, code, stderr.String())
			assert.Contains(t, stderr.String(), tt.want)
			if tt.code == 2 {
				assert.Contains(t, stderr.String(), "usage: go run ./examples/http")
			}
		})
	}
}
