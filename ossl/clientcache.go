package ossl

/*
#include "shim.h"
*/
import "C"

import (
	"net"
	"strconv"
	"time"
	"unsafe"
)

// ClientSessionCache keeps client sessions by server, in the shape of
// crypto/tls.ClientSessionCache. Implementations must be safe for
// concurrent use and must not call back into the context.
type ClientSessionCache interface {
	// Get returns a reference the caller takes over (it offers it with
	// SSL_set_session and closes it), or nil on a miss.
	Get(key string) *Session
	// Put records sess as the newest session for key; the cache owns
	// the reference from the call on (it may keep it, or Close it). A
	// nil sess deletes key's entry: the bridge does so when libssl
	// removes the session the entry holds (a fatal alert, a session found
	// bad, an eviction from its internal cache, a TLS 1.3 ticket used
	// once), unless the cache is a ClientSessionRemover.
	Put(key string, sess *Session)
}

// ClientSessionRemover is implemented by a ClientSessionCache that can drop
// key's entry only while it is still the session of the given ID, in one
// step. The bridge then uses it for libssl's removals; with a cache that
// is not one, it calls Get and Put(key, nil), which may drop a session
// another connection stored for key in between.
type ClientSessionRemover interface {
	// RemoveSession deletes key's entry if its session ID is id, and
	// reports whether it did.
	RemoveSession(key string, id []byte) bool
}

// ClientCacheConfig installs a ClientSessionCache on a client context.
type ClientCacheConfig struct {
	Cache   ClientSessionCache
	OnEvent func(Event)
}

// SetClientSessionCache feeds the client context's new-session callback into
// cfg.Cache, keyed by the key each connection gives to
// SSL.UseClientSessionCache (or ClientConfig.CacheKey), and libssl's
// removals of those sessions back to it. libssl only calls it when the
// cache mode has CacheClient (CacheClient|CacheNoInternalStore keeps
// sessions in cfg.Cache alone). A nil cfg.Cache removes it.
//
// On a context that also serves (RoleAny), the client cache's remove
// callback is the context's: with one installed, a TLS 1.3 server issuing
// stateless tickets keeps each ticket's session in its internal cache too,
// as it does with a SessionStore's (the conformance claims
// tls13-stateless-cached-with-remove-cb and both-is-union).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_sess_set_new_cb/.
func (c *Ctx) SetClientSessionCache(cfg ClientCacheConfig) error {
	return c.installCallbacks(func(st *ctxState) {
		if cfg.Cache == nil {
			st.client.Store(nil)
		} else {
			st.client.Store(&cfg)
		}
	})
}

// ClientSessionKey is the cache key of a server, as crypto/tls uses:
// "host:port".
func ClientSessionKey(serverName string, port int) string {
	return net.JoinHostPort(serverName, strconv.Itoa(port))
}

// UseClientSessionCache ties a client connection to key: the session the
// context's ClientSessionCache holds for key, if any, is offered
// (SSL_set_session), and the sessions this connection receives are stored
// under key. It reports whether a session was offered.
func (s *SSL) UseClientSessionCache(key string) (bool, error) {
	var offered bool
	var err error
	if !s.with(func(p *C.SSL) { offered, err = useClientSessionCache(p, key) }) {
		return false, ErrClosed
	}
	return offered, err
}

// useClientSessionCache does UseClientSessionCache's work on an SSL its
// caller holds.
func useClientSessionCache(p *C.SSL, key string) (bool, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	var st *ctxState
	if h := C.go_ctx_get_handle(C.go_ssl_session_ctx(p)); h != 0 {
		st = stateOf(h)
	}
	var cfg *ClientCacheConfig
	if st != nil {
		cfg = st.client.Load()
	}
	if cfg == nil {
		return false, errorf("UseClientSessionCache", "the connection's context has no ClientSessionCache")
	}
	if err := onThread("SSL_set_ex_data", func() bool { return C.go_ssl_set_cache_key(p, ck) == 1 }); err != nil {
		return false, err
	}
	var sess *Session
	func() {
		defer st.recoverInto("client-get", nil, cfg.OnEvent)
		sess = cfg.Cache.Get(key)
	}()
	if sess == nil {
		return false, nil
	}
	defer sess.Close()
	if !sess.IsResumable() || !sess.Expires().After(time.Now()) {
		st.n.rejected.Add(1)
		return false, nil
	}
	if err := setSession(p, sess); err != nil {
		return false, err
	}
	return true, nil
}

// ClientSessionCache returns the cache SetClientSessionCache installed on
// this SSL_CTX, or nil.
func (c *Ctx) ClientSessionCache() ClientSessionCache {
	if cfg := c.st.client.Load(); cfg != nil {
		return cfg.Cache
	}
	return nil
}
