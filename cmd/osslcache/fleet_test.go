package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// The tests of this file run two `osslcache serve` processes sharing one
// redis-server, as a fleet does, with clients nobody here wrote (openssl
// s_client, crypto/tls).

// countLog returns how many lines with message msg were logged, with
// the attributes of kv (key, value pairs) if any.
func (p *serveProc) countLog(msg string, kv ...string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
lines:
	for _, m := range p.logs {
		if m["msg"] != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if m[kv[i]] != kv[i+1] {
				continue lines
			}
		}
		n++
	}
	return n
}

// reload sends SIGHUP and waits until the reload is done; it returns
// whether everything loaded.
func (p *serveProc) reload() bool {
	p.t.Helper()
	before := p.countLog("reload done")
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGHUP))
	timeout := time.After(waitLimit)
	for {
		p.mu.Lock()
		changed := p.changed
		n, ok := 0, false
		for _, m := range p.logs {
			if m["msg"] == "reload done" {
				n++
				ok = m["ok"] == true
			}
		}
		p.mu.Unlock()
		if n > before {
			return ok
		}
		select {
		case <-changed:
		case <-p.exited:
			p.t.Fatalf("osslcache serve exited on SIGHUP:\n%s", p.rawLog())
		case <-timeout:
			p.t.Fatalf("osslcache serve did not reload:\n%s", p.rawLog())
		}
	}
}

func (p *serveProc) metricsNow() map[string]float64 {
	p.t.Helper()
	return testutil.ScrapeMetrics(p.t, "http://"+p.metrics+"/metrics")
}

// sessionFile is a place for s_client's -sess_out.
func sessionFile(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name+".pem") }

func newTicketKey(t *testing.T) ossl.TicketKey {
	k, err := ossltest.NewTicketKey()
	require.NoError(t, err)
	return k
}

// newest returns r's newest session and the name of its ticket's key.
func newest(t *testing.T, r *ossltest.SessionRecorder) (*tls.ClientSessionState, []byte) {
	t.Helper()
	cs, name, err := r.Newest()
	require.NoError(t, err)
	return cs, name
}

func goConfig(f testFiles, version uint16) *tls.Config {
	return f.cert.GoClientConfig(ossl.Version(version))
}

// load is crypto/tls clients connecting without pause to a set of
// servers, in turn, each offering its newest session: every handshake is
// counted, and any that fails is a test failure.
type loadGen struct {
	phase    atomic.Int32
	done     [8]atomic.Int64
	resumed  [8]atomic.Int64
	failures atomic.Int64
	streak   atomic.Int64 // handshakes resumed in a row, across the clients
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	errs     []string
}

func startLoad(t *testing.T, addrs []string, base *tls.Config, workers int) *loadGen {
	l := &loadGen{stop: make(chan struct{})}
	for w := range workers {
		cfg := base.Clone()
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := w; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				p := l.phase.Load()
				resumed, err := oneConnection(addrs[i%len(addrs)], cfg)
				if err != nil {
					l.failures.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, fmt.Sprintf("phase %d, %s: %v", p, addrs[i%len(addrs)], err))
					l.mu.Unlock()
					continue
				}
				l.done[p].Add(1)
				if resumed {
					l.resumed[p].Add(1)
					l.streak.Add(1)
				} else {
					l.streak.Store(0)
				}
			}
		}()
	}
	t.Cleanup(l.halt)
	return l
}

// waitProgress waits until the current phase has n more handshakes, m of
// them resumed.
func (l *loadGen) waitProgress(t *testing.T, n, m int64) {
	t.Helper()
	p := l.phase.Load()
	deadline := time.Now().Add(waitLimit)
	for l.done[p].Load() < n || l.resumed[p].Load() < m {
		if time.Now().After(deadline) {
			t.Fatalf("load: phase %d made %d handshakes (%d resumed), want %d (%d)", p, l.done[p].Load(), l.resumed[p].Load(), n, m)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *loadGen) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// oneConnection is a client connection: handshake, one line echoed, a
// clean close.
func oneConnection(addr string, cfg *tls.Config) (bool, error) {
	raw, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		return false, err
	}
	defer raw.Close()
	if err := raw.SetDeadline(time.Now().Add(waitLimit)); err != nil {
		return false, err
	}
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		return false, err
	}
	if _, err := io.WriteString(c, "load\n"); err != nil {
		return false, err
	}
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "load\n" {
		return false, fmt.Errorf("echo %q: %v", got, err)
	}
	if err := c.CloseWrite(); err != nil {
		return false, err
	}
	if _, err := io.ReadAll(c); err != nil {
		return false, err
	}
	return c.ConnectionState().DidResume, nil
}

// redisKeys returns the keys of prefix in srv.
func redisKeys(t *testing.T, srv *redistest.Server, prefix string) []string {
	t.Helper()
	v, err := srv.Do(context.Background(), "KEYS", prefix+":*")
	require.NoError(t, err)
	var keys []string
	for _, k := range v.([]any) {
		keys = append(keys, k.(string))
	}
	return keys
}

// newFleet returns what the tests of two serve processes share: the
// binary, the certificate and key files, a redis-server and an echo
// upstream.
func newFleet(t *testing.T) (bin string, f testFiles, redis *redistest.Server, upstream string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs processes")
	}
	requireOpenSSLCLI(t)
	return osslcacheBinary(t), writeTestFiles(t), redistest.Start(t, redistest.Options{}), echoUpstream(t)
}

// TestServeTicketKeyRotation rotates the ticket keys of two serve
// processes, as nginx's and HAProxy's operators do, while crypto/tls
// clients connect to both without pause: [A] -> [B, A] -> [B], each step
// by rewriting the key file and SIGHUP. No handshake fails; a session
// under A (s_client -sess_out, a crypto/tls ticket) resumes in the second
// step, on the other process, and is renewed under B; it does not resume
// in the third step, its renewal does. The processes share a Redis store,
// which stateless tickets leave empty.
func TestServeTicketKeyRotation(t *testing.T) {
	bin, f, redis, upstream := newFleet(t)
	tests := []struct {
		name, version, sFlag string
		goTLS                uint16
		// s_client writes a session (-sess_out) from libssl's
		// new-session callback, which a TLS 1.2 resumption does not run
		// even when the ticket was renewed: crypto/tls shows that case.
		sRenewal bool
	}{
		{"tls1.2", "1.2", "-tls1_2", tls.VersionTLS12, false},
		{"tls1.3", "1.3", "-tls1_3", tls.VersionTLS13, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newTicketKey(t), newTicketKey(t)
			keyFile := filepath.Join(t.TempDir(), "ticket.keys")
			require.NoError(t, ossltest.WriteTicketKeys(keyFile, a))
			prefix := "rotation-" + tt.name
			args := []string{"-upstream", upstream, "-cert", f.certFile, "-key", f.key, "-sid-ctx", "rotation",
				"-store", "redis://" + redis.Addr + "/?prefix=" + prefix, "-redis-key-file", f.redisKeys, "-lookup-timeout", "5s",
				"-ticket-key-file", keyFile, "-min-version", tt.version, "-max-version", tt.version, "-metrics", "127.0.0.1:0"}
			p1, p2 := startServe(t, bin, args...), startServe(t, bin, args...)
			base := goConfig(f, tt.goTLS)
			ld := startLoad(t, []string{p1.addr, p2.addr}, base, 3)

			// Step 1: [A].
			ld.waitProgress(t, 20, 5)
			sessA := sessionFile(t, "under-a")
			assert.Contains(t, sClient(t, p1.addr, f.certFile, tt.sFlag, "-sess_out", sessA), "New, ")
			rec := &ossltest.SessionRecorder{}
			c := base.Clone()
			c.ClientSessionCache = rec
			require.NoError(t, goOnce(p1.addr, c, false))
			underA, name := newest(t, rec)
			require.Equal(t, a[:16], name, "sealed under A")

			// Step 2: [B, A].
			require.NoError(t, ossltest.WriteTicketKeys(keyFile, b, a))
			require.True(t, p1.reload())
			require.True(t, p2.reload())
			ld.phase.Store(1)
			ld.waitProgress(t, 20, 5)
			renewedA := sessionFile(t, "renewed")
			sArgs := []string{tt.sFlag, "-sess_in", sessA}
			if tt.sRenewal {
				sArgs = append(sArgs, "-sess_out", renewedA)
			}
			assert.Contains(t, sClient(t, p2.addr, f.certFile, sArgs...), "Reused, ", "s_client's session under A resumes on the other process")
			c, r := ossltest.Offering(base, underA)
			require.NoError(t, goOnce(p2.addr, c, true), "crypto/tls's ticket under A resumes on the other process")
			renewed, name := newest(t, r)
			assert.Equal(t, b[:16], name, "and is renewed under B")
			fresh := &ossltest.SessionRecorder{}
			c = base.Clone()
			c.ClientSessionCache = fresh
			require.NoError(t, goOnce(p1.addr, c, false))
			_, name = newest(t, fresh)
			assert.Equal(t, b[:16], name, "new tickets are sealed under B")

			// Step 3: [B].
			require.NoError(t, ossltest.WriteTicketKeys(keyFile, b))
			require.True(t, p1.reload())
			require.True(t, p2.reload())
			ld.phase.Store(2)
			ld.waitProgress(t, 20, 5)
			assert.Contains(t, sClient(t, p1.addr, f.certFile, tt.sFlag, "-sess_in", sessA), "New, ", "A is gone")
			if tt.sRenewal {
				assert.Contains(t, sClient(t, p2.addr, f.certFile, tt.sFlag, "-sess_in", renewedA), "Reused, ", "the renewal under B resumes")
			}
			c, _ = ossltest.Offering(base, underA)
			require.NoError(t, goOnce(p1.addr, c, false), "crypto/tls's ticket under A no longer resumes")
			c, _ = ossltest.Offering(base, renewed)
			require.NoError(t, goOnce(p2.addr, c, true), "its renewal under B does")

			ld.halt()
			ld.mu.Lock()
			assert.Zero(t, ld.failures.Load(), "failed handshakes: %v", ld.errs)
			ld.mu.Unlock()
			t.Logf("load: handshakes (resumed) per step: [A] %d (%d), [B, A] %d (%d), [B] %d (%d)",
				ld.done[0].Load(), ld.resumed[0].Load(), ld.done[1].Load(), ld.resumed[1].Load(), ld.done[2].Load(), ld.resumed[2].Load())
			for _, p := range []*serveProc{p1, p2} {
				m := p.metricsNow()
				assert.Equal(t, 1.0, m["osslcache_proxy_ticket_keys"])
				assert.Equal(t, 2.0, m[`osslcache_proxy_reloads_total{result="ok",what="ticket_keys"}`])
				assert.Zero(t, m["osslcache_proxy_handshake_errors_total"])
				assert.Zero(t, m["osslcache_redis_puts_total"], "stateless tickets: nothing written to Redis")
				if tt.goTLS == tls.VersionTLS13 {
					assert.Positive(t, m["osslcache_redis_skipped_total"])
				}
			}
			assert.Empty(t, redisKeys(t, redis, prefix))
		})
	}
}

// goOnce makes one crypto/tls connection and checks whether it resumed.
func goOnce(addr string, cfg *tls.Config, wantResumed bool) error {
	resumed, err := oneConnection(addr, cfg)
	if err != nil {
		return err
	}
	if resumed != wantResumed {
		return fmt.Errorf("resumed = %v, want %v", resumed, wantResumed)
	}
	return nil
}

// TestServeCertificateReload: SIGHUP swaps the certificate for the next
// connection, while a connection made before goes on with the one it
// started with; a certificate that does not load leaves the previous one
// served and logs why.
func TestServeCertificateReload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	bin := osslcacheBinary(t)
	f := writeTestFiles(t)
	next, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	p := startServe(t, bin, "-upstream", echoUpstream(t), "-cert", f.certFile, "-key", f.key, "-store", "memory", "-metrics", "127.0.0.1:0")
	pool := x509.NewCertPool()
	pool.AddCert(f.cert.Leaf)
	pool.AddCert(next.Leaf)
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	served := func() []byte {
		raw, err := net.Dial("tcp", p.addr)
		require.NoError(t, err)
		require.NoError(t, raw.SetDeadline(time.Now().Add(waitLimit)))
		c := tls.Client(raw, cfg)
		defer c.Close()
		require.NoError(t, c.Handshake())
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	require.Equal(t, f.cert.Leaf.Raw, served())

	inflight := testutil.DialGo(t, p.addr, cfg)
	echo := func(line string) {
		t.Helper()
		require.NoError(t, ossltest.EchoLine(inflight, line))
	}
	echo("before the reload")

	require.NoError(t, os.WriteFile(f.certFile, next.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(f.key, next.KeyPEM, 0o600))
	require.True(t, p.reload())
	assert.Equal(t, next.Leaf.Raw, served(), "the next connection gets the new certificate")
	echo("after the reload")
	assert.Equal(t, f.cert.Leaf.Raw, inflight.ConnectionState().PeerCertificates[0].Raw, "the open one keeps its own")
	line := p.findLog("certificate reloaded", nil)
	require.NotNil(t, line)
	assert.Equal(t, next.Leaf.NotAfter.UTC().Format(time.RFC3339), line["not_after"])

	// A half-written certificate: the previous pair stays.
	require.NoError(t, os.WriteFile(f.certFile, next.CertPEM[:len(next.CertPEM)/2], 0o600))
	assert.False(t, p.reload())
	assert.Equal(t, next.Leaf.Raw, served())
	failed := p.findLog("certificate reload failed; the previous one stays in force", nil)
	require.NotNil(t, failed)
	assert.NotEmpty(t, failed["err"])
	echo("after the failed reload")
	m := p.metricsNow()
	assert.Equal(t, 1.0, m[`osslcache_proxy_reloads_total{result="ok",what="certificate"}`])
	assert.Equal(t, 1.0, m[`osslcache_proxy_reloads_total{result="error",what="certificate"}`])
	assert.Zero(t, m["osslcache_proxy_handshake_errors_total"])
}

// TestServeSingleUse: two processes sharing a single-use Redis store (the
// default cache mode, SERVER|NO_INTERNAL, and -no-ticket): a session
// resumes once, fleet-wide; a sealed blob put back into Redis after its
// use (by anyone who can write to Redis) does not resume again. A setup
// under which single use cannot hold does not start (see
// TestServeRejectsBadFlags).
func TestServeSingleUse(t *testing.T) {
	bin, f, redis, upstream := newFleet(t)
	tests := []struct{ name, version, sFlag string }{
		{"tls1.2", "1.2", "-tls1_2"},
		{"tls1.3", "1.3", "-tls1_3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "single-use-" + tt.name
			args := []string{"-upstream", upstream, "-cert", f.certFile, "-key", f.key, "-sid-ctx", "single-use", "-no-ticket",
				"-store", "redis://" + redis.Addr + "/?single_use=1&prefix=" + prefix, "-redis-key-file", f.redisKeys, "-lookup-timeout", "5s",
				"-min-version", tt.version, "-max-version", tt.version, "-metrics", "127.0.0.1:0"}
			p1, p2 := startServe(t, bin, args...), startServe(t, bin, args...)
			sess := sessionFile(t, "session")
			require.Contains(t, sClient(t, p1.addr, f.certFile, tt.sFlag, "-sess_out", sess), "New, ")

			// What someone with write access to Redis keeps.
			type kept struct {
				blob string
				pttl int64
			}
			saved := map[string]kept{}
			for _, k := range redisKeys(t, redis, prefix) {
				v, err := redis.Do(context.Background(), "GET", k)
				require.NoError(t, err)
				ttl, err := redis.Do(context.Background(), "PTTL", k)
				require.NoError(t, err)
				saved[k] = kept{v.(string), ttl.(int64)}
			}
			require.NotEmpty(t, saved)

			var outcome []bool
			for _, p := range []*serveProc{p2, p1, p2} {
				outcome = append(outcome, strings.Contains(sClient(t, p.addr, f.certFile, tt.sFlag, "-sess_in", sess), "Reused, "))
			}
			assert.Equal(t, []bool{true, false, false}, outcome, "resumed once, fleet-wide")
			markers := 0
			for _, k := range redisKeys(t, redis, prefix) {
				if name, ok := strings.CutSuffix(k, ":consumed"); ok {
					markers++
					assert.Contains(t, saved, name, "the marker of a session that was stored")
				}
			}
			assert.Equal(t, 1, markers, "one session consumed")

			// The replay: every blob put back as it was.
			for k, v := range saved {
				_, err := redis.Do(context.Background(), "SET", k, v.blob, "PX", v.pttl)
				require.NoError(t, err)
			}
			assert.Contains(t, sClient(t, p1.addr, f.certFile, tt.sFlag, "-sess_in", sess), "New, ", "a consumed session does not resume again")
			m1, m2 := p1.metricsNow(), p2.metricsNow()
			assert.Equal(t, 1.0, m1["osslcache_redis_hits_total"]+m2["osslcache_redis_hits_total"], "one resumption through Redis")
			assert.Equal(t, 1.0, m1["osslcache_redis_replays_total"], "the replay was recognized")
			assert.Zero(t, m1["osslcache_redis_refused_total"]+m2["osslcache_redis_refused_total"])
			assert.Zero(t, m1["osslcache_redis_open_failures_total"]+m2["osslcache_redis_open_failures_total"], "the blob itself was sound")
		})
	}
}

// TestServeStatelessTicketsWriteNothing: with tickets on (the default),
// sessions live in the clients' tickets, which two processes sharing a
// -ticket-key-file resume for each other; libssl never looks one up, so
// by default nothing is written to the Redis store they share.
// store_stateless_tickets=1 writes them anyway.
func TestServeStatelessTicketsWriteNothing(t *testing.T) {
	bin, f, redis, upstream := newFleet(t)
	tests := []struct {
		name, version, sFlag, query string
		goTLS                       uint16
		wantWrites                  bool
	}{
		{"tls1.3", "1.3", "-tls1_3", "", tls.VersionTLS13, false},
		{"tls1.2", "1.2", "-tls1_2", "", tls.VersionTLS12, false},
		{"tls1.3, store_stateless_tickets=1", "1.3", "-tls1_3", "&store_stateless_tickets=1", tls.VersionTLS13, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := fmt.Sprintf("stateless-%d", i)
			args := []string{"-upstream", upstream, "-cert", f.certFile, "-key", f.key, "-sid-ctx", "stateless", "-ticket-key-file", f.ticketKeys,
				"-store", "redis://" + redis.Addr + "/?prefix=" + prefix + tt.query, "-redis-key-file", f.redisKeys, "-lookup-timeout", "5s",
				"-min-version", tt.version, "-max-version", tt.version, "-metrics", "127.0.0.1:0"}
			p1, p2 := startServe(t, bin, args...), startServe(t, bin, args...)
			sess := sessionFile(t, "session")
			require.Contains(t, sClient(t, p1.addr, f.certFile, tt.sFlag, "-sess_out", sess), "New, ")
			assert.Contains(t, sClient(t, p2.addr, f.certFile, tt.sFlag, "-sess_in", sess), "Reused, ", "the ticket resumes on the other process")
			cfg := goConfig(f, tt.goTLS)
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			require.NoError(t, goOnce(p1.addr, cfg, false))
			require.NoError(t, goOnce(p2.addr, cfg, true))

			var puts, skipped, hits float64
			for _, p := range []*serveProc{p1, p2} {
				m := p.metricsNow()
				puts += m["osslcache_redis_puts_total"]
				skipped += m["osslcache_redis_skipped_total"]
				hits += m["osslcache_redis_hits_total"]
			}
			// (crypto/tls sends a random session ID with its TLS 1.2
			// ticket request, which libssl looks up: a miss.)
			assert.Zero(t, hits, "nothing is resumed from Redis")
			keys := redisKeys(t, redis, prefix)
			if tt.wantWrites {
				assert.Positive(t, puts)
				assert.Len(t, keys, int(puts))
				assert.Zero(t, skipped)
				return
			}
			assert.Zero(t, puts, "no Redis writes")
			assert.Empty(t, keys)
			if tt.goTLS == tls.VersionTLS13 {
				assert.Positive(t, skipped, "libssl offered every TLS 1.3 ticket's session")
			}
		})
	}
}
