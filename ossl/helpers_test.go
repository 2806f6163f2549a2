package ossl_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// variant is one protocol setup the tests run under.
type variant = ossltest.Variant

var (
	tls12         = ossltest.TLS12
	tls12Tickets  = ossltest.TLS12Tickets
	tls13         = ossltest.TLS13
	tls13Stateful = ossltest.TLS13Stateful
	allVariants   = ossltest.Variants()
)

func testCert(t testing.TB) *ossltest.Certificate { return testutil.Cert(t, "localhost", "other.test") }

// newServer makes a server context for v with session id context "test".
func newServer(t testing.TB, v variant) *ossl.Ctx {
	o := v.ServerOptions()
	o.SessionIDContext = []byte("test")
	ctx, err := ossltest.NewServerCtx(testCert(t), o)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

// newMemoryServer makes a server context for v that keeps its sessions in
// a store.Memory alone (CacheServer|CacheNoInternal), closed at the end of
// the test.
func newMemoryServer(t testing.TB, v variant, opts store.MemoryOptions) (*ossl.Ctx, *store.Memory) {
	server := newServer(t, v)
	_, err := server.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
	require.NoError(t, err)
	mem := store.NewMemory(opts)
	t.Cleanup(mem.Close)
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: mem}))
	return server, mem
}

func newClient(t testing.TB, v variant) *ossl.Ctx {
	o := v.ClientOptions()
	o.VerifyServer = true
	ctx, err := ossltest.NewClientCtx(testCert(t), o)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

func handshake(t testing.TB, client, server *ossl.Ctx, o ossltest.Options) *ossltest.Result {
	r, err := ossltest.Handshake(client, server, o)
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

func setMode(t testing.TB, ctx *ossl.Ctx, m ossl.CacheMode) {
	_, err := ctx.SetSessionCacheMode(m)
	require.NoError(t, err)
}

func newPair(t testing.TB, client, server *ossl.Ctx) *ossltest.Pair {
	p, err := ossltest.NewPair(client, server)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}
