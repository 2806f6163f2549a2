package libp2p_test

import (
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-openssl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/adapters/internal/attach"
	"github.com/osslcache/osslcache/adapters/internal/attach/attachtest"
	"github.com/osslcache/osslcache/adapters/libp2p"
	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// newLibCtx makes a server context the library's way, with cert.
func newLibCtx(t *testing.T, cert *ossltest.Certificate) *openssl.Ctx {
	t.Helper()
	lctx, err := openssl.NewCtx()
	require.NoError(t, err)
	x, err := openssl.LoadCertificateFromPEM(cert.CertPEM)
	require.NoError(t, err)
	require.NoError(t, lctx.UseCertificate(x))
	k, err := openssl.LoadPrivateKeyFromPEM(cert.KeyPEM)
	require.NoError(t, err)
	require.NoError(t, lctx.UsePrivateKey(k))
	return lctx
}

func testCert(t *testing.T) *ossltest.Certificate {
	cert, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	return cert
}

// TestAttachFindsTheLibrarysCtx sets values through the library and reads
// them back through the attached context, and the other way round.
func TestAttachFindsTheLibrarysCtx(t *testing.T) {
	t.Logf("linked: %s", ossl.OpenSSLVersion())
	cert := testCert(t)
	lctx := newLibCtx(t, cert)
	c, err := libp2p.Attach(lctx)
	require.NoError(t, err)
	defer c.Close()

	tests := []struct {
		name  string
		set   func()
		check func(t *testing.T)
	}{
		{"library SetTimeout -> ossl Timeout", func() { lctx.SetTimeout(4321 * time.Second) }, func(t *testing.T) {
			assert.Equal(t, 4321*time.Second, c.Timeout())
		}},
		{"library SetSessionCacheMode -> ossl SessionCacheMode", func() {
			lctx.SetSessionCacheMode(openssl.SessionCacheServer | openssl.NoInternalStore)
		}, func(t *testing.T) {
			assert.Equal(t, ossl.CacheServer|ossl.CacheNoInternalStore, c.SessionCacheMode())
		}},
		{"library SetOptions(NoTicket) -> ossl NoTicket", func() { lctx.SetOptions(openssl.NoTicket) }, func(t *testing.T) {
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
			prev := lctx.SetSessionCacheMode(openssl.SessionCacheServer)
			assert.Equal(t, openssl.SessionCacheServer|openssl.NoInternal, prev)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.set()
			tt.check(t)
		})
	}

	other := newLibCtx(t, cert)
	oc, err := libp2p.Attach(other)
	require.NoError(t, err)
	assert.NotEqual(t, osslhooks.CtxPointer(c), osslhooks.CtxPointer(oc), "each context its own SSL_CTX")
	other.SetTimeout(7 * time.Second)
	assert.Equal(t, 99*time.Second, c.Timeout(), "the other library context does not show through")
	n := c.SessionCacheSize()
	assert.Equal(t, lctx.SessGetCacheSize(), n)
	assert.Equal(t, 20480, n, "Attach's check leaves the cache size as it was")
}

func TestAttachRefusesWhatIsNotAContext(t *testing.T) {
	_, err := libp2p.Attach(nil)
	assert.ErrorIs(t, err, attach.ErrNotFound)
	_, err = libp2p.Attach(&openssl.Ctx{})
	assert.ErrorIs(t, err, attach.ErrNotFound, "a zero Ctx holds no SSL_CTX")
}

// TestResumptionThroughTheLibrarysServer serves real connections with the
// library's own listener and handshake on a loopback socket; the session
// cache is osslcache's store.Memory, attached through Attach.
func TestResumptionThroughTheLibrarysServer(t *testing.T) {
	cert := testCert(t)
	lctx := newLibCtx(t, cert)
	c, err := libp2p.Attach(lctx)
	require.NoError(t, err)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr, errs := attachtest.ServeEcho(t, raw, openssl.NewListener(raw, lctx))
	for _, v := range attachtest.Variants {
		t.Run(v.Name, func(t *testing.T) {
			attachtest.CheckResumption(t, c, addr, errs, cert.CertPEM, cert.Leaf, v)
		})
	}
}
