package ossl_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// handshakeBudget is the number of handshakes TestManyHandshakes runs
// (OSSLCACHE_HANDSHAKES; the leak run in CI raises it).
func handshakeBudget(t *testing.T) int {
	if v := os.Getenv("OSSLCACHE_HANDSHAKES"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		return n
	}
	return 400
}

// TestManyHandshakes drives every ownership path of the bridge (new, get,
// remove, client put, SNI, store errors, rejected and copied sessions)
// through many handshakes with collections in between. Built with -asan,
// AddressSanitizer fails it on any use after free or double free; built
// with -tags ossl_memdebug, it fails unless OpenSSL's live heap blocks
// come back to where they were before it (a leaked SSL_SESSION is dozens
// of blocks). LeakSanitizer alone cannot prove this: it scans Go's heap,
// where stale copies of freed pointers hide real leaks.
func TestManyHandshakes(t *testing.T) {
	n := handshakeBudget(t)
	runScenarios(t, 1) // warm-up: OpenSSL's lazily built global state
	before, counting := settledAllocations()
	runScenarios(t, n)
	after, _ := settledAllocations()
	if counting {
		t.Logf("OpenSSL heap blocks: %d before, %d after %d handshakes", before, after, n)
		// A few per-thread error-queue states may come and go with OS
		// threads; one leaked session per handshake is thousands.
		require.InDelta(t, before, after, 64, "OpenSSL heap blocks leaked")
	}
}

// settledAllocations collects garbage until the cleanups of unreachable
// Sessions, Conns and Ctxs have run, then reads the live block count.
func settledAllocations() (int64, bool) {
	prev, on := osslhooks.LiveOpenSSLAllocations()
	for range 20 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond) // cleanups run on their own goroutine
		n, _ := osslhooks.LiveOpenSSLAllocations()
		if n == prev {
			return n, on
		}
		prev = n
	}
	return prev, on
}

func runScenarios(t *testing.T, n int) {
	kinds := []struct {
		name  string
		mode  ossl.CacheMode
		store func() ossl.SessionStore
	}{
		{"internal", ossl.CacheServer, nil},
		{"memory-only", ossl.CacheServer | ossl.CacheNoInternal, func() ossl.SessionStore { return store.NewMemory(store.MemoryOptions{Capacity: 64}) }},
		{"memory-and-internal", ossl.CacheServer, func() ossl.SessionStore { return store.NewMemory(store.MemoryOptions{Capacity: 64}) }},
		{"bytes-lookup-only", ossl.CacheServer | ossl.CacheNoInternalLookup, func() ossl.SessionStore {
			return store.NewBytes(store.NewMapKV(store.MapKVOptions{}), store.BytesOptions{})
		}},
		{"failing", ossl.CacheServer | ossl.CacheNoInternal, func() ossl.SessionStore {
			return &hostileStore{inner: store.NewMemory(store.MemoryOptions{Capacity: 8}), get: func(ctx context.Context, id []byte) (*ossl.Session, error) {
				return nil, errors.New("down")
			}}
		}},
	}
	per := n / (len(kinds) * len(allVariants))
	if per < 2 {
		per = 2
	}
	for _, k := range kinds {
		for _, v := range allVariants {
			t.Run(k.name+"/"+v.Name, func(t *testing.T) {
				server, front, client := newServer(t, v), newServer(t, v), newClient(t, v)
				_, err := server.SetSessionCacheMode(k.mode)
				require.NoError(t, err)
				_, err = server.SetSessionCacheSize(16) // evictions run the remove callback
				require.NoError(t, err)
				if k.store != nil {
					require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: k.store()}))
				}
				require.NoError(t, server.SetServerNameCallback(func(string) (*ossl.Ctx, error) { return front, nil }))
				_, err = client.SetSessionCacheMode(ossl.CacheClient)
				require.NoError(t, err)
				require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{Capacity: 2})}))
				for i := 0; i < per; i++ {
					o := ossltest.Options{ServerName: "localhost"}
					if i%3 != 0 {
						o.CacheKey = "localhost:443"
					}
					r, err := ossltest.Handshake(client, server, o)
					require.NoError(t, err)
					r.Close()
					if i%50 == 0 {
						runtime.GC()
					}
				}
				require.NoError(t, server.FlushSessions(time.Time{}))
				require.NoError(t, client.FlushSessions(time.Time{}))
			})
		}
	}
}

// TestLeakCanary proves the leak check can fail: with
// OSSLCACHE_LEAK_CANARY=1 it leaks one session reference per handshake
// under the same check as TestManyHandshakes, and must fail (CI runs it
// expecting failure).
func TestLeakCanary(t *testing.T) {
	if os.Getenv("OSSLCACHE_LEAK_CANARY") != "1" {
		t.Skip("set OSSLCACHE_LEAK_CANARY=1 (with -tags ossl_memdebug) to leak on purpose")
	}
	before, counting := settledAllocations()
	require.True(t, counting, "build with -tags ossl_memdebug")
	func() {
		server, client := newServer(t, tls12), newClient(t, tls12)
		for range 100 {
			r, err := ossltest.Handshake(client, server, ossltest.Options{})
			require.NoError(t, err)
			ossl.LeakOneReference(r.ServerSession)
			r.Close()
		}
		require.NoError(t, server.Close())
		require.NoError(t, client.Close())
	}()
	after, _ := settledAllocations()
	require.InDelta(t, before, after, 64, "OpenSSL heap blocks leaked")
}
