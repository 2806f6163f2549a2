package spacemonkey_test

import (
	"testing"

	"github.com/spacemonkeygo/openssl"

	"github.com/osslcache/osslcache/adapters/internal/attach/attachtest"
	"github.com/osslcache/osslcache/adapters/spacemonkey"
	"github.com/osslcache/osslcache/ossl"
)

// TestAdapter runs the adapters' shared tests (attachtest) against the
// library: Attach finds its SSL_CTX, and its own server resumes through an
// osslcache store.
func TestAdapter(t *testing.T) {
	attachtest.Run(t, attachtest.Library[*openssl.Ctx]{
		NewCtx:      openssl.NewCtx,
		Attach:      spacemonkey.Attach,
		Zero:        &openssl.Ctx{},
		NewListener: openssl.NewListener,
		SetSessionCacheMode: func(c *openssl.Ctx, m ossl.CacheMode) ossl.CacheMode {
			return ossl.CacheMode(c.SetSessionCacheMode(openssl.SessionCacheModes(m)))
		},
		SetNoTicket: func(c *openssl.Ctx) { c.SetOptions(openssl.NoTicket) },
	})
}
