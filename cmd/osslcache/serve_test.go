package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// waitLimit bounds every wait on a process or socket in these tests, so
// that a bug fails a test instead of hanging it; no test measures time.
const waitLimit = 60 * time.Second

// testFiles are a certificate, its key and the sealing keys, on disk.
type testFiles struct {
	dir, certFile, key, redisKeys, ticketKeys string
	cert                                      *ossltest.Certificate
}

func writeTestFiles(t testing.TB) testFiles {
	t.Helper()
	c, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	dir := t.TempDir()
	f := testFiles{
		dir: dir, cert: c,
		certFile: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"),
		redisKeys: filepath.Join(dir, "redis.keys"), ticketKeys: filepath.Join(dir, "ticket.keys"),
	}
	rk := make([]byte, 32)
	tk := make([]byte, 80)
	_, _ = rand.Read(rk)
	_, _ = rand.Read(tk)
	require.NoError(t, os.WriteFile(f.certFile, c.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(f.key, c.KeyPEM, 0o600))
	require.NoError(t, os.WriteFile(f.redisKeys, []byte("test-1:"+base64.StdEncoding.EncodeToString(rk)+"\n"), 0o600))
	require.NoError(t, os.WriteFile(f.ticketKeys, []byte(base64.StdEncoding.EncodeToString(tk)), 0o600))
	return f
}

func TestServeRejectsBadFlags(t *testing.T) {
	f := writeTestFiles(t)
	ok := []string{"-upstream", "127.0.0.1:1", "-cert", f.certFile, "-key", f.key}
	with := func(extra ...string) []string { return append(append([]string{}, ok...), extra...) }
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, 0, "usage: osslcache serve"},
		{"unknown flag", []string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{"nothing", nil, 2, "-upstream, -cert and -key are required"},
		{"no key", []string{"-upstream", "127.0.0.1:1", "-cert", f.certFile}, 2, "-upstream, -cert and -key are required"},
		{"stray argument", with("extra"), 2, `unexpected arguments ["extra"]`},
		{"bad listen", with("-listen", "8443"), 2, `-listen "8443"`},
		{"bad upstream", []string{"-upstream", "nowhere", "-cert", f.certFile, "-key", f.key}, 2, `-upstream "nowhere"`},
		{"bad metrics", with("-metrics", "x"), 2, `-metrics "x"`},
		{"bad min version", with("-min-version", "1.1"), 2, `-min-version: "1.1": want 1.2 or 1.3`},
		{"bad max version", with("-max-version", "tls2"), 2, `-max-version`},
		{"min above max", with("-min-version", "1.3", "-max-version", "1.2"), 2, "is above -max-version"},
		{"bad cache mode", with("-cache-mode", "SERVER|FAST"), 2, `unknown cache mode flag "FAST"`},
		{"client cache mode", with("-cache-mode", "CLIENT"), 2, "lacks SERVER"},
		{"no cache at all", with("-store", "none"), 2, "nothing would resume"},
		{"bad store", with("-store", "memcached://h:1"), 2, "-store: store"},
		{"bad redis parameter", with("-store", "redis://127.0.0.1:6379?prefx=a"), 2, `unknown parameter "prefx"`},
		{"redis without keys", with("-store", "redis://127.0.0.1:6379"), 2, "needs -redis-key-file"},
		{"redis key file without redis", with("-redis-key-file", f.redisKeys), 2, "only for a Redis store"},
		{"plaintext writing is gone", with("-store", "redis://127.0.0.1:6379?allow_plaintext=1"), 2, "allow_plaintext is gone"},
		{"single use with libssl's own cache", with("-store", "redis://127.0.0.1:6379?single_use=1", "-redis-key-file", f.redisKeys, "-no-ticket", "-cache-mode", "SERVER"), 2, "single_use=1: redisstore: SingleUse cannot hold: cache mode SERVER lacks NO_INTERNAL_STORE"},
		{"single use with stateless tickets", with("-store", "redis://127.0.0.1:6379?single_use=1", "-redis-key-file", f.redisKeys), 2, "stateless tickets are on"},
		{"missing redis key file", with("-store", "redis://127.0.0.1:6379", "-redis-key-file", filepath.Join(f.dir, "none")), 1, "redis key file"},
		{"bad redis key file", with("-store", "redis://127.0.0.1:6379", "-redis-key-file", f.certFile), 1, "redis key file"},
		{"bad ticket key file", with("-ticket-key-file", f.certFile), 1, "ticket key file"},
		{"short ticket key", with("-ticket-key-file", f.redisKeys), 1, "want the base64 of 80 bytes"},
		{"long sid ctx", with("-sid-ctx", strings.Repeat("x", 33)), 2, "-sid-ctx must be 1 to 32 bytes"},
		{"zero lookup timeout", with("-lookup-timeout", "0"), 2, "timeouts must be positive"},
		{"negative idle timeout", with("-idle-timeout", "-1s"), 2, "-idle-timeout must not be negative"},
		{"negative max conns", with("-max-conns", "-1"), 2, "-max-conns must not be negative"},
		{"bad max conns", with("-max-conns", "many"), 2, "invalid value"},
		{"short session timeout", with("-session-timeout", "10ms"), 2, "-session-timeout must be at least 1s"},
		{"bad early data", with("-early-data", "-1"), 2, `invalid value "-1" for flag -early-data`},
		{"early data over 32 bits", with("-early-data", "4294967296"), 2, "value out of range"},
		{"early data capped at TLS 1.2", with("-early-data", "1024", "-max-version", "1.2"), 2, "-early-data: early data is TLS 1.3's"},
		{"bad log format", with("-log-format", "xml"), 2, "-log-format must be text or json"},
		{"bad log level", with("-log-level", "loud"), 2, "invalid value"},
		{"unreadable certificate", []string{"-upstream", "127.0.0.1:1", "-cert", filepath.Join(f.dir, "none"), "-key", f.key}, 1, "certificate"},
		{"key of another certificate", []string{"-upstream", "127.0.0.1:1", "-cert", f.certFile, "-key", f.redisKeys}, 1, "SSL_CTX_use_certificate/PrivateKey failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"serve"}, tt.args...), &stdout, &stderr)
			assert.Equal(t, tt.code, code, stderr.String())
			assert.Contains(t, stderr.String(), tt.want)
			if tt.code == 2 {
				assert.Contains(t, stderr.String(), "usage: osslcache serve", "a usage message")
				assert.Contains(t, stderr.String(), "-cache-mode mode")
			}
			assert.Empty(t, stdout.String())
		})
	}
}

var (
	binaryOnce sync.Once
	binaryDir  string // removed by TestMain
	binaryPath string
	binaryErr  error
)

// osslcacheBinary builds cmd/osslcache once for the tests that run it as a
// process.
func osslcacheBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if binaryDir, binaryErr = os.MkdirTemp("", "osslcache-test-bin-"); binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "osslcache")
		if out, err := exec.Command(goBin, "build", "-o", binaryPath, ".").CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, binaryErr)
	return binaryPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// echoUpstream runs a plaintext echo server on loopback.
func echoUpstream(t testing.TB) string { return testutil.EchoServer(t, waitLimit) }

// serveProc is one `osslcache serve` process logging JSON.
type serveProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string // the TLS listener
	metrics string // host:port of /metrics, if asked for
	exited  chan struct{}

	mu      sync.Mutex
	logs    []map[string]any
	raw     bytes.Buffer
	changed chan struct{} // closed and replaced at each new line
}

func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{t: t, exited: make(chan struct{}), changed: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "-listen", "127.0.0.1:0", "-log-format", "json"}, args...)...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			line := sc.Bytes()
			_ = json.Unmarshal(line, &m)
			p.mu.Lock()
			p.raw.Write(line)
			p.raw.WriteByte('\n')
			if m != nil {
				p.logs = append(p.logs, m)
			}
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("osslcache serve %v log:\n%s", args, p.rawLog())
		}
	})
	listening := p.waitLog("listening", nil)
	p.addr = listening["addr"].(string)
	if m := p.findLog("metrics", nil); m != nil {
		p.metrics = m["addr"].(string)
	}
	return p
}

func (p *serveProc) rawLog() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// findLog returns the first log line with message msg for which match
// (if set) holds.
func (p *serveProc) findLog(msg string, match func(map[string]any) bool) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.logs {
		if m["msg"] == msg && (match == nil || match(m)) {
			return m
		}
	}
	return nil
}

// waitLog waits for such a line; the process exiting first fails the test.
func (p *serveProc) waitLog(msg string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	timeout := time.After(waitLimit)
	for {
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		if m := p.findLog(msg, match); m != nil {
			return m
		}
		select {
		case <-changed:
		case <-p.exited:
			if m := p.findLog(msg, match); m != nil {
				return m
			}
			p.t.Fatalf("osslcache serve exited (%v) without logging %q:\n%s", p.cmd.ProcessState, msg, p.rawLog())
		case <-timeout:
			p.t.Fatalf("osslcache serve logged no %q:\n%s", msg, p.rawLog())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *serveProc) wait() int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(waitLimit):
		p.t.Fatalf("osslcache serve did not exit:\n%s", p.rawLog())
		return -1
	}
}

// markerWriter collects output and closes seen once it contains marker.
type markerWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	marker []byte
	seen   chan struct{}
	once   sync.Once
}

func (w *markerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if bytes.Contains(w.b.Bytes(), w.marker) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *markerWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// sClient runs `openssl s_client` against addr, sends a line, waits for
// the proxy to echo it (so a TLS 1.3 client has read its tickets too),
// closes stdin and returns what s_client printed.
func sClient(t *testing.T, addr, caFile string, args ...string) string {
	t.Helper()
	line := "hello-from-s_client"
	cmd := exec.Command("openssl", append([]string{"s_client", "-connect", addr, "-servername", "localhost",
		"-CAfile", caFile, "-verify_return_error"}, args...)...)
	stdout := &markerWriter{marker: []byte(line + "\n"), seen: make(chan struct{})}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	_, err = io.WriteString(stdin, line+"\n")
	require.NoError(t, err)
	select {
	case <-stdout.seen:
	case err := <-done:
		t.Fatalf("s_client exited (%v) before the echo:\n%s\n%s", err, stdout.String(), stderr.String())
	case <-time.After(waitLimit):
		_ = cmd.Process.Kill()
		t.Fatalf("no echo through the proxy:\n%s\n%s", stdout.String(), stderr.String())
	}
	stdin.Close() // s_client sends close_notify and exits
	select {
	case err := <-done:
		require.NoError(t, err, "s_client:\n%s\n%s", stdout.String(), stderr.String())
	case <-time.After(waitLimit):
		_ = cmd.Process.Kill()
		t.Fatalf("s_client did not exit")
	}
	return stdout.String()
}

func requireOpenSSLCLI(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if redistest.Required() {
			t.Fatalf("no openssl CLI (%s is set): apt-get install openssl", redistest.EnvRequire)
		}
		t.Skip("no openssl CLI")
	}
}

// TestServeBinary builds osslcache once and runs it as operators do: two
// instances sharing one Redis resume each other's sessions for clients
// nobody here wrote (openssl s_client, crypto/tls), and SIGTERM drains.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := osslcacheBinary(t)
	f := writeTestFiles(t)
	upstream := echoUpstream(t)
	base := []string{"-upstream", upstream, "-cert", f.certFile, "-key", f.key, "-sid-ctx", "serve-test"}

	t.Run("across two instances sharing Redis", func(t *testing.T) {
		requireOpenSSLCLI(t)
		redis := redistest.Start(t, redistest.Options{})
		tests := []struct {
			name, version, sFlag, sVersion string
			// crypto/tls resumes TLS 1.2 with tickets only, and a
			// ticket opens on another instance only with the same
			// ticket keys; TLS 1.3 stateful tickets go through Redis.
			goArgs    []string
			goVersion ossl.Version
		}{
			{"tls1.2", "1.2", "-tls1_2", "TLSv1.2", []string{"-ticket-key-file", f.ticketKeys}, ossl.VersionTLS12},
			{"tls1.3", "1.3", "-tls1_3", "TLSv1.3", []string{"-no-ticket"}, ossl.VersionTLS13},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				store := "redis://" + redis.Addr + "/?prefix=serve-test-" + tt.name
				// A generous lookup timeout: this tests sharing, not
				// what a slow Redis does (store/redisstore does).
				common := append(append([]string{}, base...), "-store", store, "-redis-key-file", f.redisKeys,
					"-min-version", tt.version, "-max-version", tt.version, "-metrics", "127.0.0.1:0", "-lookup-timeout", "5s")

				t.Run("openssl s_client -sess_out, then -sess_in on the other", func(t *testing.T) {
					// -no-ticket: TLS 1.2 resumes by session ID, TLS 1.3
					// by stateful ticket, both looked up in Redis.
					args := append(append([]string{}, common...), "-no-ticket")
					p1, p2 := startServe(t, bin, args...), startServe(t, bin, args...)
					sess := filepath.Join(t.TempDir(), "session.pem")
					first := sClient(t, p1.addr, f.certFile, tt.sFlag, "-sess_out", sess)
					assert.Contains(t, first, "New, "+tt.sVersion)
					second := sClient(t, p2.addr, f.certFile, tt.sFlag, "-sess_in", sess)
					assert.Contains(t, second, "Reused, "+tt.sVersion, "the second instance resumed the first's session")

					resumed := func(m map[string]any) bool { return m["resumed"] == true }
					line := p2.waitLog("connection", resumed)
					assert.Equal(t, "localhost", line["sni"], "the name the client sent, also on a TLS 1.2 resumption")
					assert.Nil(t, p1.findLog("connection", resumed))
					assert.Equal(t, tt.sVersion, p2.findLog("connection", nil)["version"])

					m := testutil.ScrapeMetrics(t, "http://"+p2.metrics+"/metrics")
					assert.Equal(t, 1.0, m["osslcache_callback_get_hits_total"], "found in the store")
					assert.Equal(t, 1.0, m["osslcache_session_cache_hits_total"])
					assert.Equal(t, 1.0, m["osslcache_redis_hits_total"], "found in Redis")
					assert.Equal(t, 1.0, m[`osslcache_proxy_handshakes_total{resumed="true",version="`+tt.sVersion+`"}`])
					assert.Equal(t, 0.0, m["osslcache_redis_open_failures_total"])
					assert.Positive(t, testutil.ScrapeMetrics(t, "http://"+p1.metrics+"/metrics")["osslcache_redis_sealed_total"], "sealed with the key file")
				})

				t.Run("crypto/tls ClientSessionCache", func(t *testing.T) {
					args := append(append([]string{}, common...), tt.goArgs...)
					p1, p2 := startServe(t, bin, args...), startServe(t, bin, args...)
					cfg := f.cert.GoClientConfig(tt.goVersion)
					cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
					assert.False(t, testutil.GoSession(t, p1.addr, cfg, "hello-from-crypto/tls"), "first connection: full handshake")
					assert.True(t, testutil.GoSession(t, p2.addr, cfg, "hello-from-crypto/tls"), "second connection, other instance: resumed")
					p2.waitLog("connection", func(m map[string]any) bool { return m["resumed"] == true })
					m := testutil.ScrapeMetrics(t, "http://"+p2.metrics+"/metrics")
					assert.Equal(t, 1.0, m[`osslcache_proxy_handshakes_total{resumed="true",version="`+tt.sVersion+`"}`])
					if tt.goVersion == ossl.VersionTLS13 {
						assert.Equal(t, 1.0, m["osslcache_redis_hits_total"], "the stateful ticket was found in Redis")
					}
				})
			})
		}
	})

	t.Run("SIGTERM drains open connections and exits 0", func(t *testing.T) {
		p := startServe(t, bin, append(append([]string{}, base...), "-store", "memory")...)
		c := testutil.DialGo(t, p.addr, f.cert.GoClientConfig(0))
		require.NoError(t, ossltest.EchoLine(c, "before"))
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		draining := p.waitLog("draining", nil)
		assert.Equal(t, 1.0, draining["open_connections"])
		_, err := net.Dial("tcp", p.addr)
		require.Error(t, err, "no longer accepting")
		require.NoError(t, ossltest.Exchange(c, "during shutdown"), "the open connection is still served")
		assert.Equal(t, 0, p.wait())
		assert.NotNil(t, p.findLog("stopped", nil))
		assert.Nil(t, p.findLog("shutdown deadline passed", nil))
	})

	t.Run("SIGTERM closes what is still open at -shutdown-timeout", func(t *testing.T) {
		p := startServe(t, bin, append(append([]string{}, base...), "-store", "memory", "-shutdown-timeout", "1ms")...)
		testutil.DialGo(t, p.addr, f.cert.GoClientConfig(0))
		p.waitLog("connection", nil) // open, and the client never closes it
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, 0, p.wait())
		m := p.findLog("shutdown deadline passed", nil)
		require.NotNil(t, m)
		assert.Contains(t, fmt.Sprint(m["err"]), "1 connections")
	})
}

// TestServeLimits runs serve with -idle-timeout and -max-conns: both are
// in force (logged at start, in /metrics), an idle connection is closed
// with close_notify, and the accept loop waits with -max-conns open.
func TestServeLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := osslcacheBinary(t)
	f := writeTestFiles(t)
	p := startServe(t, bin, "-upstream", echoUpstream(t), "-cert", f.certFile, "-key", f.key,
		"-idle-timeout", "500ms", "-max-conns", "1", "-metrics", "127.0.0.1:0", "-log-level", "debug")
	listening := p.findLog("listening", nil)
	assert.Equal(t, "500ms", listening["idle_timeout"])
	assert.Equal(t, 1.0, listening["max_conns"])

	c := testutil.DialGo(t, p.addr, f.cert.GoClientConfig(ossl.VersionTLS13))
	require.NoError(t, ossltest.EchoLine(c, "ping"))
	scrape := func() map[string]float64 { return testutil.ScrapeMetrics(t, "http://"+p.metrics+"/metrics") }
	assert.Equal(t, 1.0, scrape()["osslcache_proxy_max_connections"])
	require.Eventually(t, func() bool { return scrape()["osslcache_proxy_accept_limited_total"] == 1 }, waitLimit, 5*time.Millisecond,
		"with one connection open, the accept loop waits")

	_, err := io.Copy(io.Discard, c)
	require.NoError(t, err, "idle for -idle-timeout: closed with close_notify")
	p.waitLog("connection closed", func(m map[string]any) bool { return m["idle_timeout"] == true })
	assert.Equal(t, 1.0, scrape()["osslcache_proxy_idle_timeouts_total"])
	next := testutil.DialGo(t, p.addr, f.cert.GoClientConfig(ossl.VersionTLS13))
	require.NoError(t, ossltest.Exchange(next, "again"), "then the next is served")
}

// TestMallocArenas: serve caps glibc's arenas at GOMAXPROCS (at least 2)
// unless MALLOC_ARENA_MAX is set, which it leaves to glibc.
func TestMallocArenas(t *testing.T) {
	tests := []struct {
		name, env string
		set       bool
		want      string
	}{
		{"MALLOC_ARENA_MAX set", "3", true, "3 (MALLOC_ARENA_MAX)"},
		{"MALLOC_ARENA_MAX empty", "", true, " (MALLOC_ARENA_MAX)"},
		{"unset", "", false, strconv.Itoa(max(2, runtime.GOMAXPROCS(0)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.set {
				t.Setenv("MALLOC_ARENA_MAX", tt.env)
			} else {
				t.Setenv("MALLOC_ARENA_MAX", "")
				require.NoError(t, os.Unsetenv("MALLOC_ARENA_MAX"))
			}
			want := tt.want
			if !tt.set && !limitMallocArenas(max(2, runtime.GOMAXPROCS(0))) {
				want = "libc default" // not glibc
			}
			assert.Equal(t, want, mallocArenas())
		})
	}
}
