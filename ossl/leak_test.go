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
// come back to where they were (a leaked SSL_SESSION is at least one
// block, one holding its peer's certificate chain dozens). LeakSanitizer
// alone cannot prove this: it scans Go's heap, where stale copies of freed
// pointers hide real leaks.
//
// The count has one thing in it that is not a leak: OpenSSL gives an OS
// thread state of its own (error queue, DRBGs, on 3.x thread-local
// contexts) the first time the thread needs it and frees it only when the
// thread exits, and Go never ends its threads. A thread the scheduler
// first sends into OpenSSL during the run adds about 20 blocks on 1.1.1,
// 25 on 3.0, 76 on 3.6: with the 64 blocks once allowed, a flaky failure
// on 3.6 with no leak. That state comes once a thread; a leak comes again
// with every run. So the scenarios run twice, the check takes the smaller
// of the two growths, and allows one thread's state (noLeakBlocks).
func TestManyHandshakes(t *testing.T) {
	n := handshakeBudget(t)
	runScenarios(t, 1) // warm-up: OpenSSL's lazily built global state
	requireNoGrowth(t, strconv.Itoa(n)+" handshakes", func() { runScenarios(t, n) })
}

// noLeakBlocks is the growth of OpenSSL's live heap blocks a run may show
// without a leak: one OS thread's first-use state (76 blocks on 3.6, the
// largest) and a few more. The leak canary's run leaks 300 or more.
const noLeakBlocks = 128

// requireNoGrowth runs run, and under -tags ossl_memdebug runs it again
// and fails unless one of the two runs left OpenSSL's live heap blocks
// within noLeakBlocks of where it found them (see TestManyHandshakes: a
// thread's first-use state comes once, a leak with every run).
func requireNoGrowth(t *testing.T, what string, run func()) {
	t.Helper()
	b0, counting := settledAllocations()
	run()
	if !counting {
		return
	}
	b1, _ := settledAllocations()
	run()
	b2, _ := settledAllocations()
	first, second := b1-b0, b2-b1
	t.Logf("OpenSSL heap blocks: %d before, %d after %s, %d after the same again", b0, b1, what, b2)
	require.LessOrEqual(t, min(first, second), int64(noLeakBlocks),
		"OpenSSL heap blocks leaked by %s: %+d the first time, %+d the second", what, first, second)
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
// expecting failure). The same handshakes without the leak, its control,
// must pass first: the canary fails for its leak, not for OpenSSL's
// first-use state (it once counted from before OpenSSL's first
// allocation, and would have failed with no leak at all).
func TestLeakCanary(t *testing.T) {
	if os.Getenv("OSSLCACHE_LEAK_CANARY") != "1" {
		t.Skip("set OSSLCACHE_LEAK_CANARY=1 (with -tags ossl_memdebug) to leak on purpose")
	}
	_, counting := osslhooks.LiveOpenSSLAllocations()
	require.True(t, counting, "build with -tags ossl_memdebug")
	handshakes := func(leak bool) {
		server, client := newServer(t, tls12), newClient(t, tls12)
		for range 300 {
			r, err := ossltest.Handshake(client, server, ossltest.Options{})
			require.NoError(t, err)
			if leak {
				ossl.LeakOneReference(r.ServerSession)
			}
			r.Close()
		}
		require.NoError(t, server.Close())
		require.NoError(t, client.Close())
	}
	handshakes(false) // warm-up: OpenSSL's lazily built global state
	requireNoGrowth(t, "the control (300 handshakes without the planted leak)", func() { handshakes(false) })
	requireNoGrowth(t, "300 handshakes, each leaking a session reference", func() { handshakes(true) })
}
