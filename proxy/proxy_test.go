package proxy_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/proxy"
	"github.com/osslcache/osslcache/store"
)

// testDeadline bounds socket operations so that a bug fails instead of
// hanging; no test measures time.
const testDeadline = 30 * time.Second

type certFiles struct {
	cert     *ossltest.Certificate
	certFile string
	keyFile  string
}

var (
	certOnce sync.Once
	certVal  *ossltest.Certificate
	certErr  error
)

func testCert(t testing.TB) certFiles {
	t.Helper()
	certOnce.Do(func() { certVal, certErr = ossltest.NewCertificate("localhost") })
	require.NoError(t, certErr)
	dir := t.TempDir()
	cf := certFiles{cert: certVal, certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	require.NoError(t, os.WriteFile(cf.certFile, certVal.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(cf.keyFile, certVal.KeyPEM, 0o600))
	return cf
}

// echoUpstream runs a plaintext echo server on loopback.
func echoUpstream(t testing.TB) string { return testutil.EchoServer(t, testDeadline) }

// startProxy runs a proxy on a loopback port.
func startProxy(t testing.TB, cfg proxy.Config) (*proxy.Server, string, *testutil.SyncBuffer) {
	t.Helper()
	cf := testCert(t)
	cfg.CertFile, cfg.KeyFile = cf.certFile, cf.keyFile
	if cfg.Upstream == "" {
		cfg.Upstream = echoUpstream(t)
	}
	logs := &testutil.SyncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := proxy.New(cfg)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		assert.ErrorIs(t, <-served, proxy.ErrServerClosed)
	})
	return srv, l.Addr().String(), logs
}

func goTLSConfig(t testing.TB, v ossl.Version, cache tls.ClientSessionCache) *tls.Config {
	cfg := testCert(t).cert.GoClientConfig(v)
	cfg.ClientSessionCache = cache
	return cfg
}

// line is what each session sends through the proxy and back.
const line = "hello through the proxy"

// goSession connects with crypto/tls, echoes a line through the proxy,
// half-closes, reads to the end and reports whether it resumed.
func goSession(t testing.TB, addr string, cfg *tls.Config) bool {
	t.Helper()
	return testutil.GoSession(t, addr, cfg, line)
}

// osslSession does the same with an ossl client, which can resume TLS 1.2
// by session ID.
func osslSession(t testing.TB, addr string, client *ossl.Ctx) bool {
	t.Helper()
	return testutil.OsslSession(t, addr, client, ossl.ClientConfig{ServerName: "localhost", CacheKey: addr}, line)
}

func osslClient(t testing.TB, v ossl.Version) *ossl.Ctx {
	c, err := ossltest.NewClientCtx(testCert(t).cert, ossltest.ClientOptions{Version: v, VerifyServer: true})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.SetSessionCacheMode(ossl.CacheClient | ossl.CacheNoInternalStore)
	require.NoError(t, err)
	require.NoError(t, c.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{Capacity: 4})}))
	return c
}

func TestProxyRelaysAndResumes(t *testing.T) {
	tests := []struct {
		name     string
		version  ossl.Version
		noTicket bool
		store    string
		mode     ossl.CacheMode
		osslCli  bool
		// what resumes the second connection: the store, libssl's
		// internal cache, or a stateless ticket
		fromStore, fromInternal bool
	}{
		{"tls12 session IDs, memory store", ossl.VersionTLS12, true, "memory", proxy.DefaultCacheMode, true, true, false},
		{"tls12 session IDs, internal cache", ossl.VersionTLS12, true, "none", ossl.CacheServer, true, false, true},
		{"tls13 stateful tickets, memory store", ossl.VersionTLS13, true, "memory", proxy.DefaultCacheMode, false, true, false},
		{"tls13 stateful tickets, memory store, ossl client", ossl.VersionTLS13, true, "memory", proxy.DefaultCacheMode, true, true, false},
		{"tls13 stateless tickets", ossl.VersionTLS13, false, "memory", proxy.DefaultCacheMode, false, false, false},
		{"tls12 stateless tickets", ossl.VersionTLS12, false, "memory", proxy.DefaultCacheMode, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := proxy.ParseStoreSpec(tt.store)
			require.NoError(t, err)
			srv, addr, logs := startProxy(t, proxy.Config{
				MinVersion: tt.version, MaxVersion: tt.version, NoTicket: tt.noTicket,
				Store: spec, CacheMode: tt.mode, SessionIDContext: "proxy-test",
			})
			var resumed []bool
			if tt.osslCli {
				cli := osslClient(t, tt.version)
				resumed = []bool{osslSession(t, addr, cli), osslSession(t, addr, cli)}
			} else {
				cfg := goTLSConfig(t, tt.version, tls.NewLRUClientSessionCache(4))
				resumed = []bool{goSession(t, addr, cfg), goSession(t, addr, cfg)}
			}
			assert.Equal(t, []bool{false, true}, resumed)
			st := srv.Ctx().Stats()
			assert.Equal(t, int64(2), st.AcceptGood)
			assert.Equal(t, int64(1), st.Hits)
			cs := srv.Ctx().CallbackStats()
			if tt.fromStore {
				assert.Equal(t, int64(1), cs.GetHits)
				assert.Equal(t, int64(0), st.Sessions, "NO_INTERNAL: nothing in libssl's cache")
			} else {
				assert.Equal(t, int64(0), cs.GetHits)
			}
			if tt.fromInternal {
				assert.Positive(t, st.Sessions)
			}
			out := logs.String()
			assert.Contains(t, out, "msg=connection")
			assert.Contains(t, out, "resumed=false")
			assert.Contains(t, out, "resumed=true")
			assert.Contains(t, out, "version="+tt.version.String())
			// The name the client sent, also on a TLS 1.2 resumption,
			// where libssl reports the session's.
			assert.Contains(t, out, "resumed=true sni=localhost")
		})
	}
}

func TestProxyMetrics(t *testing.T) {
	spec, err := proxy.ParseStoreSpec("memory")
	require.NoError(t, err)
	srv, addr, _ := startProxy(t, proxy.Config{NoTicket: true, Store: spec})
	cfg := goTLSConfig(t, ossl.VersionTLS13, tls.NewLRUClientSessionCache(4))
	require.False(t, goSession(t, addr, cfg))
	require.True(t, goSession(t, addr, cfg))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: testDeadline}
	go func() { _ = hs.Serve(l) }()
	defer hs.Close()
	m := testutil.ScrapeMetrics(t, "http://"+l.Addr().String()+"/metrics")

	want := map[string]float64{
		"osslcache_session_cache_accept_total":                                2,
		"osslcache_session_cache_accept_good_total":                           2,
		"osslcache_session_cache_hits_total":                                  1,
		"osslcache_session_cache_callback_hits_total":                         1,
		"osslcache_session_cache_misses_total":                                0,
		"osslcache_session_cache_sessions":                                    0,
		"osslcache_callback_new_calls_total":                                  3, // two tickets, then one after resuming
		"osslcache_callback_stored_total":                                     3,
		"osslcache_callback_get_calls_total":                                  1,
		"osslcache_callback_get_hits_total":                                   1,
		"osslcache_callback_get_misses_total":                                 0,
		"osslcache_callback_timeouts_total":                                   0,
		"osslcache_proxy_connections_total":                                   2,
		"osslcache_proxy_handshake_errors_total":                              0,
		`osslcache_proxy_handshakes_total{resumed="false",version="TLSv1.3"}`: 1,
		`osslcache_proxy_handshakes_total{resumed="true",version="TLSv1.3"}`:  1,
		`osslcache_proxy_handshake_seconds_count{resumed="true"}`:             1,
		"osslcache_proxy_client_bytes_total":                                  2 * float64(len(line+"\n")),
		"osslcache_proxy_upstream_bytes_total":                                2 * float64(len(line+"\n")),
		"osslcache_proxy_upstream_dial_errors_total":                          0,
		"osslcache_proxy_idle_timeouts_total":                                 0,
		"osslcache_proxy_accept_limited_total":                                0,
		"osslcache_proxy_max_connections":                                     0,
		`osslcache_session_cache_connect_total`:                               0,
		`osslcache_callback_panics_total`:                                     0,
		`osslcache_callback_rejected_total`:                                   0,
		`osslcache_session_cache_cache_full_total`:                            0,
		`osslcache_session_cache_timeouts_total`:                              0,
		`osslcache_callback_store_errors_total`:                               0,
		`osslcache_callback_get_errors_total`:                                 0,
		`osslcache_callback_remove_errors_total`:                              0,
		`osslcache_callback_remove_skipped_total`:                             0,
		`osslcache_callback_client_puts_total`:                                0,
		`osslcache_session_cache_accept_renegotiate_total`:                    0,
		`osslcache_session_cache_connect_good_total`:                          0,
		`osslcache_session_cache_connect_renegotiate_total`:                   0,
		`osslcache_proxy_handshake_seconds_bucket{resumed="false",le="+Inf"}`: 1,
		`osslcache_proxy_handshake_seconds_bucket{resumed="true",le="+Inf"}`:  1,
		`osslcache_proxy_handshake_seconds_count{resumed="false"}`:            1,
	}
	for name, v := range want {
		got, ok := m[name]
		if assert.True(t, ok, "metric %s missing", name) {
			assert.Equal(t, v, got, name)
		}
	}
	assert.Equal(t, m["osslcache_callback_stored_total"]-m["osslcache_callback_remove_calls_total"], m["osslcache_memory_sessions"],
		"the store holds what was stored less what libssl removed")
	assert.Contains(t, m, "osslcache_proxy_active_connections")
	assert.Positive(t, m["go_goroutines"], "Go runtime metrics too")
	assert.Contains(t, m, "process_open_fds", "and process metrics")
	for name := range m {
		if strings.HasPrefix(name, "osslcache_redis_") {
			t.Errorf("redis metric %s without a redis store", name)
		}
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	spec, _ := proxy.ParseStoreSpec("memory")
	srv, addr, logs := startProxy(t, proxy.Config{Upstream: dead, Store: spec})
	c := testutil.DialGo(t, addr, goTLSConfig(t, ossl.VersionTLS13, nil)) // TLS completes before the upstream is dialed
	_, err = io.ReadAll(c)
	require.NoError(t, err, "then the proxy closes cleanly")
	srv.StopAccepting()
	srv.Close()
	assert.Contains(t, logs.String(), "upstream dial failed")
}

func TestProxyHandshakeFailureIsLogged(t *testing.T) {
	spec, _ := proxy.ParseStoreSpec("memory")
	srv, addr, logs := startProxy(t, proxy.Config{Store: spec, MinVersion: ossl.VersionTLS13, MaxVersion: ossl.VersionTLS13})
	_, err := tls.DialWithDialer(&net.Dialer{Timeout: testDeadline}, "tcp", addr, goTLSConfig(t, ossl.VersionTLS12, nil))
	require.Error(t, err, "TLS 1.2 against a TLS 1.3 proxy")
	srv.Close() // waits for the handler, which logs before it returns
	assert.Contains(t, logs.String(), "handshake failed")
	assert.Contains(t, logs.String(), "unsupported protocol")
}

func TestProxyShutdown(t *testing.T) {
	t.Run("graceful", func(t *testing.T) {
		spec, _ := proxy.ParseStoreSpec("memory")
		srv, addr, _ := startProxy(t, proxy.Config{Store: spec})
		c := testutil.DialGo(t, addr, goTLSConfig(t, ossl.VersionTLS13, nil))
		require.NoError(t, ossltest.EchoLine(c, line))
		require.Equal(t, 1, srv.ActiveConnections())

		done := make(chan error, 1)
		srv.StopAccepting()
		go func() { done <- srv.Shutdown(context.Background()) }()
		_, err := net.Dial("tcp", addr)
		require.Error(t, err, "no longer accepting")
		require.NoError(t, ossltest.Exchange(c, line), "the open connection is still served")
		require.NoError(t, <-done, "Shutdown returns once the connection ended")
	})
	t.Run("bounded", func(t *testing.T) {
		spec, _ := proxy.ParseStoreSpec("memory")
		srv, addr, _ := startProxy(t, proxy.Config{Store: spec})
		c := testutil.DialGo(t, addr, goTLSConfig(t, ossl.VersionTLS13, nil))
		require.NoError(t, ossltest.EchoLine(c, line))
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the deadline has passed: close what is open
		err := srv.Shutdown(ctx)
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "1 connections")
		_, _ = io.ReadAll(c) // ends: the proxy closed the connection
		assert.Equal(t, 0, srv.ActiveConnections())
	})
}

func TestParseStoreSpec(t *testing.T) {
	tests := []struct {
		in      string
		kind    proxy.StoreKind
		check   func(t *testing.T, s proxy.StoreSpec)
		wantErr string
	}{
		{in: "none", kind: proxy.StoreNone},
		{in: "memory", kind: proxy.StoreMemory},
		{in: "memory?capacity=100", kind: proxy.StoreMemory, check: func(t *testing.T, s proxy.StoreSpec) { assert.Equal(t, 100, s.MemoryCapacity) }},
		{in: "redis://127.0.0.1:6380", kind: proxy.StoreRedis, check: func(t *testing.T, s proxy.StoreSpec) {
			assert.Equal(t, "127.0.0.1:6380", s.Redis.Addr)
			assert.Nil(t, s.Redis.TLS)
		}},
		{in: "redis://redis.internal", kind: proxy.StoreRedis, check: func(t *testing.T, s proxy.StoreSpec) { assert.Equal(t, "redis.internal:6379", s.Redis.Addr) }},
		{in: "redis://app:s3cret@127.0.0.1:6379/3?prefix=edge&single_use=1&pool_size=4&dial_timeout=2s&read_plaintext=true&store_stateless_tickets=1", kind: proxy.StoreRedis,
			check: func(t *testing.T, s proxy.StoreSpec) {
				o := s.Redis
				assert.Equal(t, "app", o.Username)
				assert.Equal(t, "s3cret", o.Password)
				assert.Equal(t, 3, o.DB)
				assert.Equal(t, "edge", o.Prefix)
				assert.True(t, o.SingleUse)
				assert.True(t, o.ReadPlaintext)
				assert.True(t, o.StoreStatelessTickets)
				assert.Equal(t, 4, o.PoolSize)
				assert.Equal(t, 2*time.Second, o.DialTimeout)
				assert.NotContains(t, s.Text, "s3cret", "the password is not logged")
			}},
		{in: "redis://:pw@127.0.0.1:6379", kind: proxy.StoreRedis, check: func(t *testing.T, s proxy.StoreSpec) {
			assert.Equal(t, "", s.Redis.Username)
			assert.Equal(t, "pw", s.Redis.Password)
		}},
		{in: "rediss://127.0.0.1:6379", kind: proxy.StoreRedis, check: func(t *testing.T, s proxy.StoreSpec) { assert.NotNil(t, s.Redis.TLS) }},
		{in: "redis+cluster://a:7000,b:7001,c/?prefix=edge&replica_reads=1", kind: proxy.StoreRedis, check: func(t *testing.T, s proxy.StoreSpec) {
			assert.Equal(t, []string{"a:7000", "b:7001", "c:6379"}, s.Redis.ClusterAddrs)
			assert.Empty(t, s.Redis.Addr)
			assert.True(t, s.Redis.ReplicaReads)
			assert.Equal(t, "edge", s.Redis.Prefix)
		}},
		{in: "rediss+cluster://:pw@a:7000", kind: proxy.StoreRedis, check: func(t *testing.T, s proxy.StoreSpec) {
			assert.Equal(t, []string{"a:7000"}, s.Redis.ClusterAddrs)
			assert.NotNil(t, s.Redis.TLS)
			assert.Equal(t, "pw", s.Redis.Password)
			assert.NotContains(t, s.Text, "pw")
		}},
		{in: "redis+sentinel://s1:26380,s2,s3:26381/mymaster?single_use=1", kind: proxy.StoreRedis, check: func(t *testing.T, s proxy.StoreSpec) {
			assert.Equal(t, []string{"s1:26380", "s2:26379", "s3:26381"}, s.Redis.SentinelAddrs)
			assert.Equal(t, "mymaster", s.Redis.MasterName)
			assert.True(t, s.Redis.SingleUse)
			assert.Nil(t, s.Redis.TLS)
		}},
		{in: "rediss+sentinel://app:pw@s1/m", kind: proxy.StoreRedis, check: func(t *testing.T, s proxy.StoreSpec) {
			assert.NotNil(t, s.Redis.TLS)
			assert.Equal(t, "app", s.Redis.Username)
		}},
		{in: "redis+sentinel://s1:26379", wantErr: "master's name"},
		{in: "redis+sentinel://s1:26379/a/b", wantErr: "master's name"},
		{in: "redis+cluster://a:7000/3", wantErr: "database 0 only"},
		{in: "redis+cluster://a:7000,/", wantErr: "no host"},
		{in: "redis://a:1,b:2", wantErr: "one host:port"},
		{in: "redis://user:s3cret@h:1/%zz", wantErr: "not a valid Redis URL"},
		{in: "redis+shard://a:1", wantErr: "want redis, redis+cluster or redis+sentinel"},
		{in: "redis://a:1?replica_reads=1", wantErr: "no replicas"},
		{in: "redis+cluster://a:1?replica_reads=1&single_use=1", wantErr: "already consumed"},
		{in: "", wantErr: "want none, memory"},
		{in: "memcached://x:1", wantErr: "want none, memory"},
		{in: "memory?capacity=0", wantErr: "positive"},
		{in: "memory?size=3", wantErr: "unknown parameter"},
		{in: "redis://", wantErr: "no host"},
		{in: "redis://h:1/x", wantErr: "not a number"},
		{in: "redis://h:1?prefx=a", wantErr: "unknown parameter"},
		{in: "redis://h:1?pool_size=-1", wantErr: "positive"},
		{in: "redis://h:1?single_use=maybe", wantErr: "single_use"},
		{in: "redis://h:1?allow_plaintext=1", wantErr: "allow_plaintext is gone"},
		{in: "redis://h:1?read_plaintext=sure", wantErr: "read_plaintext"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := proxy.ParseStoreSpec(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), "s3cret", "no password in errors")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.kind, s.Kind)
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestCheckCacheMode(t *testing.T) {
	spec := func(s string) proxy.StoreSpec {
		sp, err := proxy.ParseStoreSpec(s)
		require.NoError(t, err)
		return sp
	}
	redis, once := spec("redis://h:1"), spec("redis://h:1?single_use=1")
	tests := []struct {
		mode     ossl.CacheMode
		store    proxy.StoreSpec
		noTicket bool
		wantErr  string
	}{
		{proxy.DefaultCacheMode, spec("memory"), false, ""},
		{proxy.DefaultCacheMode, redis, false, ""},
		{ossl.CacheServer, redis, false, ""},
		{ossl.CacheServer, spec("none"), false, ""},
		{ossl.CacheOff, spec("none"), false, ""},
		{proxy.DefaultCacheMode, spec("none"), false, "nothing would resume"},
		{ossl.CacheServer | ossl.CacheNoInternalLookup, spec("none"), false, "nothing would resume"},
		{ossl.CacheClient, spec("memory"), false, "lacks SERVER"},
		// single use holds only without libssl's own copies and without
		// stateless tickets
		{proxy.DefaultCacheMode, once, true, ""},
		{ossl.CacheServer | ossl.CacheNoInternalStore, once, true, ""},
		{ossl.CacheServer, once, true, "lacks NO_INTERNAL_STORE"},
		{ossl.CacheServer | ossl.CacheNoInternalLookup, once, true, "lacks NO_INTERNAL_STORE"},
		{proxy.DefaultCacheMode, once, false, "stateless tickets are on"},
		{ossl.CacheOff, once, true, "lacks NO_INTERNAL_STORE"},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String()+"/"+tt.store.Text, func(t *testing.T) {
			err := proxy.CheckCacheMode(tt.mode, tt.store, tt.noTicket)
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, mode))
		return p
	}
	k1, k2 := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(k1)
	_, _ = rand.Read(k2)
	ring := "# rotated monthly\nnew:" + base64.StdEncoding.EncodeToString(k1) + "\n\nold:" + base64.RawURLEncoding.EncodeToString(k2) + "\n"

	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	k, err := proxy.ReadKeyFile(write("ring", []byte(ring), 0o600), log)
	require.NoError(t, err)
	assert.Equal(t, "new", k.Current)
	assert.Equal(t, k1, k.Keys["new"])
	assert.Equal(t, k2, k.Keys["old"])
	assert.Empty(t, logs.String())

	_, err = proxy.ReadKeyFile(write("open", []byte(ring), 0o644), log)
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "can be read by others")

	for name, content := range map[string]string{"empty": "# nothing\n", "short": "k:" + base64.StdEncoding.EncodeToString(k1[:16]), "garbage": "not a key"} {
		_, err := proxy.ReadKeyFile(write(name, []byte(content), 0o600), nil)
		assert.Error(t, err, name)
	}
	_, err = proxy.ReadKeyFile(filepath.Join(dir, "missing"), nil)
	assert.True(t, errors.Is(err, os.ErrNotExist))

	var tk, tk2 ossl.TicketKey
	_, _ = rand.Read(tk[:])
	_, _ = rand.Read(tk2[:])
	b64 := func(k ossl.TicketKey) string { return base64.StdEncoding.EncodeToString(k[:]) }
	for name, tt := range map[string]struct {
		content []byte
		want    []ossl.TicketKey
	}{
		"raw":          {tk[:], []ossl.TicketKey{tk}},
		"raw, two":     {append(tk[:], tk2[:]...), []ossl.TicketKey{tk, tk2}},
		"b64":          {[]byte(b64(tk) + "\n"), []ossl.TicketKey{tk}},
		"b64 lines":    {[]byte("# rotated 2026-12-02\n" + b64(tk2) + "\n\n" + b64(tk) + "\n"), []ossl.TicketKey{tk2, tk}},
		"b64 url, raw": {[]byte(base64.RawURLEncoding.EncodeToString(tk[:])), []ossl.TicketKey{tk}},
	} {
		got, err := proxy.ReadTicketKeyFile(write("ticket-"+name, tt.content, 0o600))
		require.NoError(t, err, name)
		assert.Equal(t, tt.want, got, name)
	}
	for name, content := range map[string][]byte{"short": tk[:48], "short line": []byte(b64(tk) + "\n" + base64.StdEncoding.EncodeToString(tk[:48])), "empty": []byte("# none\n")} {
		_, err = proxy.ReadTicketKeyFile(write("ticket-"+name, content, 0o600))
		assert.ErrorContains(t, err, "80 bytes", name)
	}
}

// TestSharedTicketKeys resumes a TLS 1.2 crypto/tls client, which resumes
// with tickets only, on a second proxy that shares the first's ticket keys
// (and not on one that does not).
func TestSharedTicketKeys(t *testing.T) {
	spec, _ := proxy.ParseStoreSpec("none")
	base := proxy.Config{Store: spec, CacheMode: ossl.CacheServer, MinVersion: ossl.VersionTLS12, MaxVersion: ossl.VersionTLS12, SessionIDContext: "tickets"}
	withKeys := base
	withKeys.TicketKeyFile = writeTicketKeys(t, newTicketKey(t))
	_, a, _ := startProxy(t, withKeys)
	_, b, _ := startProxy(t, withKeys)
	_, c, _ := startProxy(t, base)
	cfg := goTLSConfig(t, ossl.VersionTLS12, tls.NewLRUClientSessionCache(4))
	assert.False(t, goSession(t, a, cfg))
	assert.True(t, goSession(t, b, cfg), "same ticket keys")
	assert.False(t, goSession(t, c, cfg), "own ticket keys")
}
