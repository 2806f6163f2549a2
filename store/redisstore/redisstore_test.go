package redisstore_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// TestResumeThroughRedis: a session made on one server context is stored
// sealed under prefix:hex(sidctx):hex(id) with the session's remaining
// lifetime as TTL, and resumes on another context sharing the store; the
// same session offered again resumes again unless SingleUse took it.
func TestResumeThroughRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tests := []struct {
		v         variant
		singleUse bool
		wantAgain bool // the same session, offered a second time, resumes
	}{
		{tls12, false, true},
		{tls12, true, false},
		// libssl does not remove a TLS 1.3 stateful ticket from an
		// external cache once used: only SingleUse makes it one-shot.
		{tls13Stateful, false, true},
		{tls13Stateful, true, false},
	}
	for _, tt := range tests {
		name := tt.v.Name
		if tt.singleUse {
			name += "/single-use"
		}
		t.Run(name, func(t *testing.T) {
			rs := newStore(t, srv.Addr, redisstore.Options{SingleUse: tt.singleUse})
			first, second, client := newServer(t, tt.v, "svc"), newServer(t, tt.v, "svc"), newClient(t, tt.v)
			ev := &events{}
			install(t, first, rs, ev)
			install(t, second, rs, ev)

			full := handshake(t, client, first, nil)
			require.False(t, full.ServerReused)
			cs := first.CallbackStats()
			require.Positive(t, cs.Stored)
			st := rs.Stats()
			assert.Equal(t, cs.Stored, st.Puts)
			assert.Equal(t, cs.Stored, st.Sealed)

			// Every session the server made is in Redis, sealed, under
			// prefix:{hex("svc"):hex(id)}, living as long as the session.
			keys := scanKeys(t, srv, rs.Prefix()+":*")
			require.Len(t, keys, int(cs.Stored))
			der, err := full.ServerSession.Marshal()
			require.NoError(t, err)
			for _, key := range keys {
				assert.True(t, strings.HasPrefix(key, rs.Prefix()+":{737663:"), key)
				assert.True(t, strings.HasSuffix(key, "}"), key)
				blob := rawGet(t, srv, key)
				require.NotEmpty(t, blob)
				assert.Equal(t, byte(1), blob[0], "sealed blob version")
				assert.Equal(t, []byte{2, 'k', '1'}, blob[1:4], "length-prefixed key ID")
				assert.False(t, bytes.Contains(blob, der[len(der)-32:]), "the session is not stored in the clear")
				pttl, err := srv.Do(context.Background(), "PTTL", key)
				require.NoError(t, err)
				remaining := time.Until(full.ServerSession.Expires())
				assert.InDelta(t, remaining.Milliseconds(), pttl.(int64), float64(2*time.Second/time.Millisecond), "TTL is the session's remaining lifetime")
			}
			if tt.v == tls12 {
				assert.Equal(t, []string{rs.KeyName(store.Key{IDContext: []byte("svc"), ID: full.ClientSession.ID()})}, keys)
			}

			res := handshake(t, client, second, full.ClientSession)
			assert.True(t, res.ServerReused, "resumed on another context through Redis")
			assert.True(t, res.ClientReused)
			assert.Equal(t, int64(1), second.CallbackStats().GetHits)

			if tt.singleUse {
				// The session is gone; its consumption marker lives as long
				// as the session would have.
				// (the server's session is that of its last ticket, the
				// one the client offered)
				marker := rs.KeyName(store.Key{IDContext: []byte("svc"), ID: full.ServerSession.ID()}) + ":consumed"
				assert.Contains(t, scanKeys(t, srv, rs.Prefix()+":*"), marker)
				pttl, err := srv.Do(context.Background(), "PTTL", marker)
				require.NoError(t, err)
				remaining := time.Until(full.ClientSession.Expires())
				assert.InDelta(t, remaining.Milliseconds(), pttl.(int64), float64(2*time.Second/time.Millisecond), "the marker lives as long as the session")
			}

			again := handshake(t, client, second, full.ClientSession)
			assert.Equal(t, tt.wantAgain, again.ServerReused)
			st = rs.Stats()
			assert.Equal(t, int64(2), st.Gets)
			if tt.wantAgain {
				assert.Equal(t, int64(2), st.Hits)
			} else {
				assert.Equal(t, int64(1), st.Hits)
				assert.Equal(t, int64(1), st.Misses, "the first lookup took it")
				assert.Zero(t, st.Replays, "taken, not put back")
			}
			assert.Equal(t, st.Hits, st.Opened)
			assert.Zero(t, st.OpenFailures+st.RedisErrors)
			assert.Empty(t, ev.all())
		})
	}
}

// TestNamespaces: services sharing one Redis cannot resume each other's
// sessions, whether they differ by session id context or by prefix; each
// resumes its own.
func TestNamespaces(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	keys := testKeyring(t, "k1") // the same key everywhere: only the namespace differs
	prefix := uniquePrefix(t)
	tests := []struct {
		name         string
		prefix       string
		sidCtx       string
		wantResumed  bool
		wantMiss     bool
		wantRejected bool
	}{
		{"same service", prefix, "svc-a", true, false, false},
		{"other session id context", prefix, "svc-b", false, true, false},
		{"other prefix", prefix + "-other", "svc-a", false, true, false},
	}
	maker := newStore(t, srv.Addr, redisstore.Options{Prefix: prefix, Keys: keys})
	makerCtx := newServer(t, tls12, "svc-a")
	install(t, makerCtx, maker, nil)
	client := newClient(t, tls12)
	full := handshake(t, client, makerCtx, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newStore(t, srv.Addr, redisstore.Options{Prefix: tt.prefix, Keys: keys})
			server := newServer(t, tls12, tt.sidCtx)
			install(t, server, rs, nil)
			res := handshake(t, client, server, full.ClientSession)
			assert.Equal(t, tt.wantResumed, res.ServerReused)
			cs := server.CallbackStats()
			assert.Equal(t, tt.wantMiss, cs.GetMisses == 1, "%+v", cs)
			assert.Zero(t, cs.GetErrors+cs.Rejected)
		})
	}
}

// TestRemoveCallbackDeletes: libssl's remove callback deletes the key in
// Redis. libssl calls it for sessions its internal cache holds (here through
// SSL_CTX_remove_session), so the internal cache is on in this test.
func TestRemoveCallbackDeletes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rs := newStore(t, srv.Addr, redisstore.Options{})
	server, client := newServer(t, tls12, "svc"), newClient(t, tls12)
	_, err := server.SetSessionCacheMode(ossl.CacheServer)
	require.NoError(t, err)
	install(t, server, rs, nil)
	full := handshake(t, client, server, nil)
	key := rs.KeyName(store.Key{IDContext: []byte("svc"), ID: full.ServerSession.ID()})
	require.Equal(t, []string{key}, scanKeys(t, srv, rs.Prefix()+":*"))

	removed, err := server.RemoveSession(full.ServerSession)
	require.NoError(t, err)
	assert.True(t, removed)
	assert.Equal(t, int64(1), server.CallbackStats().RemoveCalls)
	// The bridge queues deletes for a store that is not inline (libssl
	// holds its cache lock during the remove callback): the Redis DEL,
	// then the store's count, come after RemoveSession returns.
	waitFor(t, 5*time.Second, "the queued delete", func() bool { return rs.Stats().Deletes == 1 })
	assert.Empty(t, scanKeys(t, srv, rs.Prefix()+":*"), "deleted from Redis")

	res := handshake(t, client, server, full.ClientSession)
	assert.False(t, res.ServerReused)
	assert.Equal(t, int64(1), rs.Stats().Misses)
}

// TestKVContract exercises the store.KV methods directly.
func TestKVContract(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rs := newStore(t, srv.Addr, redisstore.Options{})
	ctx := context.Background()
	k := store.Key{IDContext: []byte("svc"), ID: []byte{1, 2, 3}}
	tests := []struct {
		name    string
		expires time.Duration
		stored  bool
	}{
		{"live", time.Minute, true},
		{"already expired", -time.Second, false},
		{"expiring now", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, rs.Delete(ctx, k))
			before := rs.Stats()
			require.NoError(t, rs.Put(ctx, k, []byte("der"), time.Now().Add(tt.expires)))
			got, err := rs.Get(ctx, k)
			require.NoError(t, err)
			if tt.stored {
				assert.Equal(t, []byte("der"), got)
			} else {
				assert.Nil(t, got)
				assert.Equal(t, before.Expired+1, rs.Stats().Expired)
			}
		})
	}
	require.NoError(t, rs.Delete(ctx, k))
	require.NoError(t, rs.Delete(ctx, k), "deleting a missing key is not an error")
	got, err := rs.Get(ctx, k)
	assert.NoError(t, err)
	assert.Nil(t, got)
	assert.Equal(t, "osslcache:{6162:0a0b}", mustStore(t, redisstore.Options{}).KeyName(store.Key{IDContext: []byte("ab"), ID: []byte{10, 11}}))
	assert.Equal(t, "p:{6162:0a0b}", mustStore(t, redisstore.Options{Prefix: "p"}).KeyName(store.Key{IDContext: []byte("ab"), ID: []byte{10, 11}}))
}

// mustStore makes a Store that never talks to Redis (nothing listens on
// port 1).
func mustStore(t testing.TB, o redisstore.Options) *redisstore.Store {
	t.Helper()
	if o.Keys.Current == "" {
		o.Keys = testKeyring(t, "k")
	}
	o.Addr, o.Logger = "127.0.0.1:1", quietLogger()
	s, err := redisstore.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestNewValidatesOptions(t *testing.T) {
	k := testKeyring(t, "k1")
	short := redisstore.Keyring{Current: "k", Keys: map[string][]byte{"k": make([]byte, 16)}}
	tests := []struct {
		name    string
		opts    redisstore.Options
		wantErr string
	}{
		{"sealed", redisstore.Options{Keys: k}, ""},
		{"no key", redisstore.Options{}, "no sealing key"},
		{"reading plaintext still needs a key", redisstore.Options{ReadPlaintext: true}, "always stored sealed"},
		{"reading plaintext", redisstore.Options{Keys: k, ReadPlaintext: true}, ""},
		{"cluster", redisstore.Options{Keys: k, ClusterAddrs: []string{"127.0.0.1:1", "127.0.0.1:2"}}, ""},
		{"sentinel", redisstore.Options{Keys: k, SentinelAddrs: []string{"127.0.0.1:1"}, MasterName: "m"}, ""},
		{"cluster, replica reads", redisstore.Options{Keys: k, ClusterAddrs: []string{"127.0.0.1:1"}, ReplicaReads: true}, ""},
		{"node and cluster", redisstore.Options{Keys: k, Addr: "127.0.0.1:1", ClusterAddrs: []string{"127.0.0.1:1"}}, "set one of"},
		{"cluster and sentinel", redisstore.Options{Keys: k, ClusterAddrs: []string{"127.0.0.1:1"}, SentinelAddrs: []string{"127.0.0.1:1"}, MasterName: "m"}, "set one of"},
		{"sentinel without master name", redisstore.Options{Keys: k, SentinelAddrs: []string{"127.0.0.1:1"}}, "go together"},
		{"master name without sentinels", redisstore.Options{Keys: k, MasterName: "m"}, "go together"},
		{"cluster database", redisstore.Options{Keys: k, ClusterAddrs: []string{"127.0.0.1:1"}, DB: 2}, "database 0 only"},
		{"replica reads with single use", redisstore.Options{Keys: k, ClusterAddrs: []string{"127.0.0.1:1"}, ReplicaReads: true, SingleUse: true}, "consumed"},
		{"replica reads of one node", redisstore.Options{Keys: k, ReplicaReads: true}, "no replicas"},
		{"current key missing", redisstore.Options{Keys: redisstore.Keyring{Current: "x", Keys: k.Keys}}, `current key "x" is not in the keyring`},
		{"short key", redisstore.Options{Keys: short}, "AES-256-GCM needs 32"},
		{"long key ID", redisstore.Options{Keys: redisstore.Keyring{Current: strings.Repeat("x", 256), Keys: map[string][]byte{strings.Repeat("x", 256): k.Keys["k1"]}}}, "must be 1 to 255 bytes"},
		{"negative pool", redisstore.Options{Keys: k, PoolSize: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Logger = quietLogger()
			s, err := redisstore.New(tt.opts)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				assert.Nil(t, s)
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.Close())
			require.NoError(t, s.Close(), "Close is idempotent")
		})
	}
}

// TestReadPlaintext: sessions are always written sealed. An unsealed blob
// planted in Redis (by an older release, or by anyone who can write to
// Redis: with a master secret of their choosing) is a counted miss, unless
// ReadPlaintext, which resumes it and was announced by a warning.
func TestReadPlaintext(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tests := []struct {
		read       bool
		wantResume bool
	}{
		{false, false},
		{true, true},
	}
	for _, tt := range tests {
		t.Run("read="+strconv.FormatBool(tt.read), func(t *testing.T) {
			var logs testutil.SyncBuffer
			rs := newStore(t, srv.Addr, redisstore.Options{ReadPlaintext: tt.read, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			assert.Equal(t, tt.read, strings.Contains(logs.String(), "level=WARN"), logs.String())
			if tt.read {
				assert.Contains(t, logs.String(), "plant a session with a master secret of their choosing")
			}
			server, client := newServer(t, tls12, "svc"), newClient(t, tls12)
			install(t, server, rs, nil)
			full := handshake(t, client, server, nil)
			name := rs.KeyName(store.Key{IDContext: []byte("svc"), ID: full.ClientSession.ID()})
			assert.Equal(t, byte(1), rawGet(t, srv, name)[0], "written sealed, whatever ReadPlaintext says")

			der, err := full.ServerSession.Marshal()
			require.NoError(t, err)
			rawSet(t, srv, name, append([]byte{0}, der...))
			res := handshake(t, client, server, full.ClientSession)
			assert.Equal(t, tt.wantResume, res.ServerReused)
			st := rs.Stats()
			if tt.wantResume {
				assert.Equal(t, int64(1), st.PlaintextRead)
				assert.Zero(t, st.OpenFailures)
			} else {
				assert.Zero(t, st.PlaintextRead)
				assert.Equal(t, int64(1), st.OpenFailures)
			}
		})
	}
}

// TestTLSAndAuth talks to a TLS-only, password-protected redis-server.
func TestTLSAndAuth(t *testing.T) {
	redisCert, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	require.NoError(t, os.WriteFile(certFile, redisCert.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, redisCert.KeyPEM, 0o600))
	roots := x509.NewCertPool()
	roots.AddCert(redisCert.Leaf)
	clientTLS := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	srv := redistest.Start(t, redistest.Options{Password: "s3cret", TLSCertFile: certFile, TLSKeyFile: keyFile, ClientTLS: clientTLS})

	byName := net.JoinHostPort("localhost", strconv.Itoa(srv.Port))
	tests := []struct {
		name       string
		addr       string
		opts       redisstore.Options
		wantResume bool
	}{
		{"tls and password", srv.Addr, redisstore.Options{TLS: clientTLS, Password: "s3cret"}, true},
		{"tls, user and password", srv.Addr, redisstore.Options{TLS: clientTLS, Username: "default", Password: "s3cret"}, true},
		{"server name taken from addr", byName, redisstore.Options{TLS: &tls.Config{RootCAs: roots}, Password: "s3cret"}, true},
		{"certificate not for the name", srv.Addr, redisstore.Options{TLS: &tls.Config{RootCAs: roots}, Password: "s3cret"}, false},
		{"untrusted certificate", srv.Addr, redisstore.Options{TLS: &tls.Config{ServerName: "localhost"}, Password: "s3cret"}, false},
		{"wrong password", srv.Addr, redisstore.Options{TLS: clientTLS, Password: "wrong"}, false},
		{"no password", srv.Addr, redisstore.Options{TLS: clientTLS}, false},
		{"no tls", srv.Addr, redisstore.Options{Password: "s3cret"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newStore(t, tt.addr, tt.opts)
			server, client := newServer(t, tls12, "svc"), newClient(t, tls12)
			ev := &events{}
			install(t, server, rs, ev)
			full := handshake(t, client, server, nil)
			res := handshake(t, client, server, full.ClientSession)
			assert.Equal(t, tt.wantResume, res.ServerReused)
			if tt.wantResume {
				assert.Zero(t, rs.Stats().RedisErrors)
				assert.NoError(t, rs.Ping(context.Background()))
				return
			}
			cs := server.CallbackStats()
			// Both puts (the second handshake was a full one too) and the
			// get failed, each counted and reported.
			assert.Zero(t, cs.Stored+cs.GetHits+cs.GetMisses, "%+v", cs)
			assert.Positive(t, rs.Stats().RedisErrors)
			assert.Equal(t, int(cs.NewCalls+cs.GetCalls), ev.len())
			assert.Error(t, rs.Ping(context.Background()))
		})
	}
}

func TestParseKeyring(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	kr := redisstore.Keyring{Current: "new", Keys: map[string][]byte{"new": k2, "old": k1}}
	tests := []struct {
		spec    string
		want    redisstore.Keyring
		wantErr string
	}{
		{kr.Spec(), kr, ""},
		{"new:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI, old:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", kr, ""},
		{"new:" + strings.Repeat("A", 10), redisstore.Keyring{}, "want 32"},
		{"new", redisstore.Keyring{}, "want ID:base64key"},
		{"new:!!!", redisstore.Keyring{}, "not base64"},
		{kr.Spec() + "," + kr.Spec(), redisstore.Keyring{}, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := redisstore.ParseKeyring(tt.spec)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, `Keyring{Current: "new", IDs: ["new" "old"]}`, kr.String(), "String hides the keys")
	assert.NotContains(t, (redisstore.Options{Keys: kr}).Keys.String(), "AgIC")
}

// TestStoreConfig: the config carries the store's lookup timeout.
func TestStoreConfig(t *testing.T) {
	rs := mustStore(t, redisstore.Options{LookupTimeout: 123 * time.Millisecond})
	called := false
	cfg := rs.StoreConfig(func(ossl.Event) { called = true })
	assert.Equal(t, 123*time.Millisecond, cfg.LookupTimeout)
	assert.Same(t, rs.SessionStore(), cfg.Store)
	cfg.OnEvent(ossl.Event{})
	assert.True(t, called)
	assert.Equal(t, ossl.DefaultLookupTimeout, mustStore(t, redisstore.Options{}).StoreConfig(nil).LookupTimeout)
}
