package libp2p_test

import (
	"testing"

	"github.com/libp2p/go-openssl"

	"github.com/osslcache/osslcache/adapters/internal/attach/attachtest"
	"github.com/osslcache/osslcache/adapters/libp2p"
)

// TestAdapter runs the adapters' shared tests (attachtest) against the
// library: Attach finds its SSL_CTX, and its own server resumes through an
// osslcache store.
func TestAdapter(t *testing.T) {
	attachtest.Run(t, attachtest.Library[*openssl.Ctx, openssl.SessionCacheModes, openssl.Options]{
		NewCtx: openssl.NewCtx, Attach: libp2p.Attach, NewListener: openssl.NewListener, NoTicket: openssl.NoTicket,
	})
}
