// Package spacemonkey attaches osslcache's session cache modes and stores to
// a context of github.com/spacemonkeygo/openssl. That library builds only
// against OpenSSL 1.1.x (on 3.x it fails to compile: FIPS_mode_set and other
// removed functions), so this adapter is tested in the OpenSSL 1.1.1
// container of the Docker matrix; github.com/libp2p/go-openssl, its fork, has
// the same shape and an adapter in adapters/libp2p that builds on 3.x.
//
//	lctx, _ := openssl.NewCtx()
//	// ... certificate and key through the library ...
//	c, err := spacemonkey.Attach(lctx)
//	c.SetSessionIDContext([]byte("my-service"))
//	c.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
//	c.SetSessionStore(ossl.StoreConfig{Store: store.NewMemory(store.MemoryOptions{})})
//	l := openssl.NewListener(inner, lctx) // the library serves; the cache is osslcache's
//
// It is a module of its own so that osslcache's main module does not depend
// on the library.
package spacemonkey

import (
	"github.com/spacemonkeygo/openssl"

	"github.com/osslcache/osslcache/adapters/internal/attach"
	"github.com/osslcache/osslcache/ossl"
)

// Attach returns an *ossl.Ctx over the SSL_CTX of ctx, for its session cache
// surface (cache mode, id context, stores, statistics). The pointer is read
// from the library's unexported field with reflect after a type check, then
// proved to be ctx's own: a random cache size set through the library reads
// back through it, and the other way round (the size is restored). Any
// mismatch is an error wrapping attach.ErrNotFound.
//
// Attach before serving connections. ctx stays reachable as long as the
// result is, so the library's finalizer does not free the SSL_CTX under it;
// Close on the result never frees it.
func Attach(ctx *openssl.Ctx) (*ossl.Ctx, error) {
	return attach.Attach(ctx, "ctx", attach.Library{SetCacheSize: ctx.SessSetCacheSize, CacheSize: ctx.SessGetCacheSize})
}
