package ossl_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// variant is one protocol setup the tests run under.
type variant struct {
	name     string
	version  ossl.Version
	noTicket bool
}

var (
	tls12         = variant{"tls12", ossl.VersionTLS12, true}
	tls12Tickets  = variant{"tls12-tickets", ossl.VersionTLS12, false}
	tls13         = variant{"tls13", ossl.VersionTLS13, false}
	tls13Stateful = variant{"tls13-stateful", ossl.VersionTLS13, true}
	allVariants   = []variant{tls12, tls12Tickets, tls13, tls13Stateful}
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
	ctx, err := ossltest.NewServerCtx(testCert(t), ossltest.ServerOptions{Version: v.version, NoTicket: v.noTicket, SessionIDContext: []byte("test")})
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

func newClient(t testing.TB, v variant) *ossl.Ctx {
	ctx, err := ossltest.NewClientCtx(testCert(t), ossltest.ClientOptions{Version: v.version, VerifyServer: true})
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
