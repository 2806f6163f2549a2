// Package libp2p attaches osslcache's session cache modes and stores to a
// context of github.com/libp2p/go-openssl, the fork of
// github.com/spacemonkeygo/openssl that builds on OpenSSL 1.1.1 and 3.x.
//
//	lctx, _ := openssl.NewCtx()
//	// ... certificate and key through the library ...
//	c, err := libp2p.Attach(lctx)
//	c.SetSessionIDContext([]byte("my-service"))
//	c.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
//	c.SetSessionStore(ossl.StoreConfig{Store: store.NewMemory(store.MemoryOptions{})})
//	l := openssl.NewListener(inner, lctx) // the library serves; the cache is osslcache's
//
// It is a module of its own so that osslcache's main module does not depend
// on the library.
package libp2p

import (
	"github.com/libp2p/go-openssl"

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
