package faults_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/faults"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// TestFaultInjectionUnderLoad: stores that fail, stall, panic or return
// hostile sessions at a set rate, under concurrent handshakes: no
// handshake fails, every fault is accounted for in the bridge's counters,
// and no goroutine is left behind.
func TestFaultInjectionUnderLoad(t *testing.T) {
	cert, err := ossltest.NewCertificate()
	require.NoError(t, err)
	for _, tt := range []struct {
		variant  ossltest.Variant
		newStore func() ossl.SessionStore
	}{
		{ossltest.TLS12, func() ossl.SessionStore { return store.NewMemory(store.MemoryOptions{}) }},
		{ossltest.TLS13Stateful, func() ossl.SessionStore {
			return store.NewBytes(store.NewMapKV(store.MapKVOptions{}), store.BytesOptions{})
		}},
	} {
		t.Run(tt.variant.Name, func(t *testing.T) {
			goroutines := runtime.NumGoroutine()
			so := tt.variant.ServerOptions()
			so.SessionIDContext = []byte("faults")
			server, err := ossltest.NewServerCtx(cert, so)
			require.NoError(t, err)
			defer server.Close()
			_, err = server.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
			require.NoError(t, err)
			fs := &faults.Store{Inner: tt.newStore(), Rates: faults.Uniform(0.04), StallFor: 30 * time.Millisecond}
			defer fs.Close()
			var events [4]atomic.Int64
			var latePanics atomic.Int64 // panics of calls already abandoned
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{
				Store: fs, LookupTimeout: 10 * time.Millisecond,
				OnEvent: func(e ossl.Event) {
					events[e.Kind].Add(1)
					if strings.HasSuffix(e.Op, " after timeout") {
						latePanics.Add(1)
					}
				},
			}))

			const workers, rounds = 4, 120
			var handshakes, resumed atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					client, err := ossltest.NewClientCtx(cert, tt.variant.ClientOptions())
					if !assert.NoError(t, err) {
						return
					}
					defer client.Close()
					var sess *ossl.Session
					for range rounds {
						r, err := ossltest.Handshake(client, server, ossltest.Options{Session: sess})
						if !assert.NoError(t, err, "a handshake failed") {
							return
						}
						handshakes.Add(1)
						if r.ServerReused {
							resumed.Add(1)
						}
						sess.Close()
						sess = r.ClientSession
						r.ServerSession.Close()
					}
					sess.Close()
				}()
			}
			wg.Wait()
			require.Equal(t, int64(workers*rounds), handshakes.Load(), "every handshake completed")
			assert.Positive(t, resumed.Load())
			assert.Positive(t, fs.InjectedTotal())

			cs := server.CallbackStats()
			t.Logf("%d handshakes, %d resumed, %d faults injected, stats %+v", handshakes.Load(), resumed.Load(), fs.InjectedTotal(), cs)
			// Every call ends in exactly one outcome.
			assert.Equal(t, cs.GetCalls, cs.GetHits+cs.GetMisses+cs.GetErrors+cs.Rejected)
			assert.Equal(t, cs.NewCalls, cs.Stored+cs.StoreErrors)
			assert.Equal(t, cs.GetHits, resumed.Load(), "every resumption came from a hit")
			// Hostile sessions were refused, none resumed: each injected
			// one is a rejection unless the real session was already gone.
			hostile := fs.Injected(faults.Garbage) + fs.Injected(faults.Expired)
			assert.LessOrEqual(t, cs.Rejected, hostile)
			assert.GreaterOrEqual(t, cs.Rejected+cs.GetMisses, hostile)
			assert.Equal(t, cs.Timeouts, events[ossl.EventTimeout].Load())
			assert.Equal(t, cs.Rejected, events[ossl.EventRejected].Load())
			assert.Equal(t, cs.GetErrors+cs.StoreErrors+cs.RemoveErrors,
				events[ossl.EventStoreError].Load()+events[ossl.EventTimeout].Load()+events[ossl.EventPanic].Load()-latePanics.Load(),
				"each failed call is one event")
			assert.Positive(t, cs.Timeouts, "stalls past the lookup timeout were abandoned")

			// Abandoned calls finish on their own: no goroutine stays, and
			// their late panics are counted and reported too.
			assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines+1 }, 5*time.Second, 20*time.Millisecond)
			cs = server.CallbackStats()
			assert.Equal(t, fs.Injected(faults.Panic), cs.Panics, "every injected panic recovered and counted")
			assert.Equal(t, cs.Panics, events[ossl.EventPanic].Load())
		})
	}
}
