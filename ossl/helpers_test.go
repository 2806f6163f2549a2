package ossl_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
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

var (
	certOnce sync.Once
	cert     *ossltest.Certificate
	certErr  error
)

func testCert(t testing.TB) *ossltest.Certificate {
	certOnce.Do(func() { cert, certErr = ossltest.NewCertificate("localhost", "other.test") })
	require.NoError(t, certErr)
	return cert
}

// newServer makes a server context for v with session id context "test".
func newServer(t testing.TB, v variant) *ossl.Ctx {
	ctx, err := ossltest.NewServerCtx(testCert(t), ossltest.ServerOptions{Version: v.Version, NoTicket: v.NoTicket, SessionIDContext: []byte("test")})
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

func newClient(t testing.TB, v variant) *ossl.Ctx {
	ctx, err := ossltest.NewClientCtx(testCert(t), ossltest.ClientOptions{Version: v.Version, VerifyServer: true})
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

func stats(t testing.TB, ctx *ossl.Ctx) ossl.Stats {
	s, err := ctx.Stats()
	require.NoError(t, err)
	return s
}
