package ossl_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// lateStore answers Gets after the lookup timeout with a real session (the
// bridge must release what comes late), and sometimes panics.
type lateStore struct {
	*store.Memory
	delay time.Duration
	n     atomic.Int64
}

func (l *lateStore) Get(ctx context.Context, id []byte) (*ossl.Session, error) {
	switch l.n.Add(1) % 4 {
	case 0:
		time.Sleep(l.delay)
	case 1:
		panic("torture")
	}
	return l.Memory.Get(ctx, id)
}

func (l *lateStore) Delete(ctx context.Context, id []byte) error {
	if l.n.Add(1)%3 == 0 {
		time.Sleep(l.delay)
	}
	return l.Memory.Delete(ctx, id)
}

// TestTorture runs handshakes from many goroutines through every store
// kind and cache mode at once, with stores that hang past the timeout and
// return late sessions or panic, contexts closed while their connections
// run and while other goroutines read their statistics, server-name
// callbacks switching to contexts dropped right after, and the collector
// running throughout. Nothing may crash (run it with -asan), no handshake
// may fail but as a full one, and every counter adds up at the end.
// OSSLCACHE_STRESS scales it.
func TestTorture(t *testing.T) {
	rounds := 30 * stressFactor(t)
	collectConstantly(t)
	variants := allVariants
	modes := []ossl.CacheMode{ossl.CacheServer, ossl.CacheServer | ossl.CacheNoInternal, ossl.CacheServer | ossl.CacheNoInternalLookup}
	kinds := []func() ossl.SessionStore{
		func() ossl.SessionStore { return store.NewMemory(store.MemoryOptions{Capacity: 64}) },
		func() ossl.SessionStore {
			return store.NewBytes(store.NewMapKV(store.MapKVOptions{Capacity: 64}), store.BytesOptions{})
		},
		func() ossl.SessionStore {
			return &lateStore{Memory: store.NewMemory(store.MemoryOptions{Capacity: 64}), delay: 3 * time.Millisecond}
		},
		func() ossl.SessionStore { return nil },
	}

	var (
		handshakes, resumed, refused atomic.Int64
		mu                           sync.Mutex
		contexts                     []*ossl.Ctx
	)
	keep := func(c *ossl.Ctx) {
		mu.Lock()
		contexts = append(contexts, c)
		mu.Unlock()
	}
	stop := make(chan struct{})
	var scrapers sync.WaitGroup
	scrapers.Add(1)
	go func() { // a Prometheus scrape, racing every Close
		defer scrapers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			cs := append([]*ossl.Ctx(nil), contexts...)
			mu.Unlock()
			for _, c := range cs {
				_ = c.Stats()
				_ = c.CallbackStats()
				_ = c.SessionCacheMode()
			}
			runtime.Gosched()
		}
	}()

	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 42))
			for r := range rounds {
				v := variants[rnd.IntN(len(variants))]
				server, err := ossltest.NewServerCtx(testCert(t), ossltest.ServerOptions{Version: v.Version, NoTicket: v.NoTicket, SessionIDContext: []byte("torture")})
				if !assert.NoError(t, err) {
					return
				}
				keep(server)
				client, err := ossltest.NewClientCtx(testCert(t), v.ClientOptions())
				if !assert.NoError(t, err) {
					return
				}
				_, _ = server.SetSessionCacheMode(modes[rnd.IntN(len(modes))])
				_, _ = server.SetSessionCacheSize(4) // evictions: the remove callback under the lock
				if s := kinds[rnd.IntN(len(kinds))](); s != nil {
					assert.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: s, LookupTimeout: time.Millisecond, DeleteQueue: 8}))
				}
				if r%3 == 0 {
					// A context made per connection and dropped at once.
					assert.NoError(t, server.SetServerNameCallback(func(name string) (*ossl.Ctx, error) {
						switch name {
						case "refuse.test":
							return nil, ossl.AlertAccessDenied
						case "closed.test":
							c, err := ossltest.NewServerCtx(testCert(t), v.ServerOptions())
							if err == nil {
								c.Close()
							}
							return c, err
						}
						return ossltest.NewServerCtx(testCert(t), v.ServerOptions())
					}))
				}
				names := []string{"", "localhost", "other.test", "refuse.test", "closed.test"}
				var sess *ossl.Session
				for i := range 6 {
					o := ossltest.Options{Session: sess, ServerName: names[rnd.IntN(len(names))]}
					res, err := ossltest.Handshake(client, server, o)
					handshakes.Add(1)
					if errors.Is(err, ossl.ErrClosed) {
						break // the closer below won the race
					}
					if err != nil {
						// Only a refusing server-name callback may fail a
						// handshake.
						var oe *ossl.Error
						if assert.ErrorAs(t, err, &oe) && assert.Contains(t, []string{"refuse.test", "closed.test"}, o.ServerName, err.Error()) {
							refused.Add(1)
						}
						continue
					}
					if res.ServerReused {
						resumed.Add(1)
					}
					sess.Close()
					sess = res.ClientSession
					if rnd.IntN(2) == 0 {
						res.ServerSession.Close() // or leave it to the collector
					}
					if i == 2 && rnd.IntN(2) == 0 {
						// Close racing the next handshakes and lookups:
						// they finish on the SSL_CTX their SSL holds, or
						// see ErrClosed at SSL_new.
						delay := time.Duration(rnd.IntN(200)) * time.Microsecond
						go func() {
							time.Sleep(delay)
							server.Close()
						}()
					}
				}
				if rnd.IntN(2) == 0 {
					sess.Close()
				}
				if rnd.IntN(2) == 0 {
					server.Close()
					client.Close()
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	scrapers.Wait()

	t.Logf("%d handshakes, %d resumed, %d refused by the server-name callback", handshakes.Load(), resumed.Load(), refused.Load())
	require.Positive(t, resumed.Load(), "some resumed")
	// Every counter adds up once the queued deletes and late calls settle.
	mu.Lock()
	defer mu.Unlock()
	for _, c := range contexts {
		require.Eventually(t, func() bool {
			cs := c.CallbackStats()
			return cs.NewCalls == cs.Stored+cs.StoreErrors &&
				cs.GetCalls == cs.GetHits+cs.GetMisses+cs.GetErrors+cs.Rejected &&
				cs.RemoveCalls == cs.Deleted+cs.RemoveErrors+cs.RemoveDropped
		}, 30*time.Second, 10*time.Millisecond, "%+v", c.CallbackStats())
		c.Close()
	}
}
