// Package attachtest is the test body both adapters run against their
// library: Attach finds the library's own SSL_CTX, refuses what is not a
// context, and a real server of the library on a loopback socket, whose
// SSL_CTX was attached to osslcache, resumes clients through an osslcache
// store.
package attachtest

import (
	"crypto/tls"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/adapters/internal/attach"
	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// Ctx is what the tests call on a library's context (*openssl.Ctx): methods
// that both libraries have with these signatures, M and O being the
// library's own SessionCacheModes and Options.
type Ctx[M, O ~int] interface {
	SetTimeout(time.Duration) time.Duration
	GetTimeout() time.Duration
	SessGetCacheSize() int
	SetSessionCacheMode(M) M
	SetOptions(O) O
}

// Library is one binding: its constructor (openssl.NewCtx), the adapter's
// Attach, its TLS listener (openssl.NewListener) and its NoTicket option.
type Library[C Ctx[M, O], M, O ~int] struct {
	NewCtx      func() (C, error)
	Attach      func(C) (*ossl.Ctx, error)
	NewListener func(inner net.Listener, ctx C) net.Listener
	NoTicket    O
}

// Run runs every test of an adapter against its library.
func Run[C Ctx[M, O], M, O ~int](t *testing.T, lib Library[C, M, O]) {
	t.Logf("linked: %s", ossl.OpenSSLVersion())
	t.Run("Attach finds the library's SSL_CTX", func(t *testing.T) { testFindsCtx(t, lib) })
	t.Run("Attach refuses what is not a context", func(t *testing.T) {
		var none C
		_, err := lib.Attach(none)
		assert.ErrorIs(t, err, attach.ErrNotFound, "nil")
		zero := reflect.New(reflect.TypeFor[C]().Elem()).Interface().(C)
		_, err = lib.Attach(zero)
		assert.ErrorIs(t, err, attach.ErrNotFound, "a zero context holds no SSL_CTX")
	})
	t.Run("resumption through the library's server", func(t *testing.T) { testResumption(t, lib) })
}

func newAttached[C Ctx[M, O], M, O ~int](t *testing.T, lib Library[C, M, O]) (C, *ossl.Ctx) {
	t.Helper()
	lctx, err := lib.NewCtx()
	require.NoError(t, err)
	c, err := lib.Attach(lctx)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return lctx, c
}

// testFindsCtx sets values through the library and reads them back through
// the attached context, and the other way round.
func testFindsCtx[C Ctx[M, O], M, O ~int](t *testing.T, lib Library[C, M, O]) {
	lctx, c := newAttached(t, lib)
	tests := []struct {
		name  string
		set   func()
		check func(t *testing.T)
	}{
		{"library SetTimeout -> ossl Timeout", func() { lctx.SetTimeout(4321 * time.Second) }, func(t *testing.T) {
			assert.Equal(t, 4321*time.Second, c.Timeout())
		}},
		{"library SetSessionCacheMode -> ossl SessionCacheMode", func() {
			lctx.SetSessionCacheMode(M(ossl.CacheServer | ossl.CacheNoInternalStore))
		}, func(t *testing.T) {
			assert.Equal(t, ossl.CacheServer|ossl.CacheNoInternalStore, c.SessionCacheMode())
		}},
		{"library NoTicket -> ossl NoTicket", func() { lctx.SetOptions(lib.NoTicket) }, func(t *testing.T) {
			assert.NotZero(t, c.Options()&ossl.OptionNoTicket)
		}},
		{"ossl SetTimeout -> library GetTimeout", func() {
			_, err := c.SetTimeout(99 * time.Second)
			require.NoError(t, err)
		}, func(t *testing.T) { assert.Equal(t, 99*time.Second, lctx.GetTimeout()) }},
		{"ossl SetSessionCacheMode -> library's previous mode", func() {
			_, err := c.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
			require.NoError(t, err)
		}, func(t *testing.T) {
			assert.Equal(t, M(ossl.CacheServer|ossl.CacheNoInternal), lctx.SetSessionCacheMode(M(ossl.CacheServer)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.set()
			tt.check(t)
		})
	}

	other, oc := newAttached(t, lib)
	assert.NotEqual(t, osslhooks.CtxPointer(c), osslhooks.CtxPointer(oc), "each context its own SSL_CTX")
	other.SetTimeout(7 * time.Second)
	assert.Equal(t, 99*time.Second, c.Timeout(), "the other library context does not show through")
	n := c.SessionCacheSize()
	assert.Equal(t, lctx.SessGetCacheSize(), n)
	assert.Equal(t, 20480, n, "Attach's check leaves the cache size as it was")
}

// variant is one way of resuming through the store.
type variant struct {
	ossltest.Variant
	// osslClient uses an ossl client (libssl), which resumes TLS 1.2 by
	// session ID; crypto/tls resumes with tickets only.
	osslClient bool
}

// variants are the resumptions through the store: TLS 1.2 session IDs and
// TLS 1.3 stateful tickets.
var variants = []variant{
	{ossltest.TLS12, true},
	{ossltest.TLS13Stateful, false},
	{ossltest.TLS13Stateful, true},
}

// testResumption serves real connections with the library's own listener
// and handshake on a loopback socket; the certificate is loaded, and the
// session cache installed, through the attached context.
func testResumption[C Ctx[M, O], M, O ~int](t *testing.T, lib Library[C, M, O]) {
	cert, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	lctx, c := newAttached(t, lib)
	require.NoError(t, c.LoadCertificatePEM(cert.CertPEM, cert.KeyPEM))
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := raw.Addr().String()
	errs := make(chan error, 64)
	testutil.Serve(t, lib.NewListener(raw, lctx), func(c net.Conn) { errs <- echo(c) })
	for _, v := range variants {
		name := v.Name + ", crypto/tls client"
		if v.osslClient {
			name = v.Name + ", ossl client"
		}
		t.Run(name, func(t *testing.T) { checkResumption(t, c, addr, errs, cert, v) })
	}
}

// echo serves one connection of the library's listener: the library
// handshakes, echoes what the client sends until its close_notify, and
// closes (close_notify).
func echo(c net.Conn) error {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ossltest.DefaultConnTimeout))
	if h, ok := c.(interface{ Handshake() error }); ok {
		if err := h.Handshake(); err != nil {
			return err
		}
	}
	_, err := io.Copy(c, c)
	return err
}

// checkResumption installs a fresh store.Memory as the only session cache
// of c, the attached context of the library's server at addr, then runs two
// connections: the second must resume, on both sides' word, from the store.
func checkResumption(t *testing.T, c *ossl.Ctx, addr string, errs <-chan error, cert *ossltest.Certificate, v variant) {
	require.NoError(t, c.SetSessionIDContext([]byte("adapter-test")))
	_, err := c.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
	require.NoError(t, err)
	if v.NoTicket {
		_, err = c.SetOptions(ossl.OptionNoTicket)
	} else {
		_, err = c.ClearOptions(ossl.OptionNoTicket)
	}
	require.NoError(t, err)
	mem := store.NewMemory(store.MemoryOptions{})
	t.Cleanup(mem.Close)
	require.NoError(t, c.SetSessionStore(ossl.StoreConfig{Store: mem}))
	before := c.CallbackStats()
	st0 := c.Stats()

	const line = "through the library"
	var connect func() bool
	if v.osslClient {
		o := v.ClientOptions()
		o.VerifyServer = true
		client, err := ossltest.NewClientCtx(cert, o)
		require.NoError(t, err)
		t.Cleanup(func() { client.Close() })
		_, err = client.SetSessionCacheMode(ossl.CacheClient | ossl.CacheNoInternalStore)
		require.NoError(t, err)
		require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{Capacity: 2})}))
		connect = func() bool {
			return testutil.OsslSession(t, addr, client, ossl.ClientConfig{ServerName: "localhost", CacheKey: addr}, line)
		}
	} else {
		cfg := cert.GoClientConfig(v.Version)
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(2)
		connect = func() bool { return testutil.GoSession(t, addr, cfg, line) }
	}
	assert.False(t, connect(), "first connection: full handshake")
	require.NoError(t, <-errs)
	assert.True(t, connect(), "second connection: resumed")
	require.NoError(t, <-errs)

	cs := c.CallbackStats()
	st := c.Stats()
	assert.Positive(t, cs.Stored-before.Stored, "the library's handshake put its session in the store")
	assert.Equal(t, int64(1), cs.GetHits-before.GetHits, "and found it there")
	assert.Equal(t, int64(1), st.Hits-st0.Hits, "libssl counts the resumption")
	assert.Equal(t, int64(1), st.CallbackHits-st0.CallbackHits, "through the get callback")
	assert.Positive(t, mem.Len())
}
