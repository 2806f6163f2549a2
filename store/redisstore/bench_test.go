package redisstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
	"github.com/osslcache/osslcache/store/redisstore/resumebench"
)

// BenchmarkResumedHandshake compares, in one run, resumed handshakes
// through libssl's internal cache, the in-process store.Memory and Redis on
// loopback (sealed with AES-256-GCM), with
// concurrent clients (b.RunParallel: GOMAXPROCS clients, times -cpu).
// Besides ns/op it reports handshakes/s and the store lookup latency
// (lookup-p50-µs, lookup-p99-µs) measured around each store Get.
//
//	go test -run '^$' -bench ResumedHandshake ./store/redisstore/
func BenchmarkResumedHandshake(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, v := range variants {
		targets := []struct {
			name string
			make func(b *testing.B) ossl.SessionStore
		}{
			{"internal", func(*testing.B) ossl.SessionStore { return nil }},
			{"memory", func(*testing.B) ossl.SessionStore { return store.NewMemory(store.MemoryOptions{}) }},
			{"redis", func(b *testing.B) ossl.SessionStore {
				return newStore(b, srv.Addr, redisstore.Options{LookupTimeout: ossl.DefaultLookupTimeout}).SessionStore()
			}},
		}
		for _, tg := range targets {
			b.Run(v.Name+"/"+tg.name, func(b *testing.B) {
				server := newServer(b, v, "bench")
				client := newClient(b, v)
				var timed *resumebench.Timed
				if s := tg.make(b); s != nil {
					timed = resumebench.NewTimed(s)
					require.NoError(b, server.SetSessionStore(ossl.StoreConfig{Store: timed.Store()}))
				} else {
					_, err := server.SetSessionCacheMode(ossl.CacheServer)
					require.NoError(b, err)
				}
				// A warm pool and a first resumption before timing.
				w, err := resumebench.NewWorker(client, server)
				require.NoError(b, err)
				_, err = w.Resume()
				require.NoError(b, err)
				w.Close()
				if timed != nil {
					timed.Reset()
				}
				before := server.CallbackStats()
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					w, err := resumebench.NewWorker(client, server)
					if err != nil {
						b.Error(err)
						return
					}
					defer w.Close()
					for pb.Next() {
						if _, err := w.Resume(); err != nil {
							b.Error(err)
							return
						}
					}
				})
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "handshakes/s")
				if timed != nil {
					_, p50, p99 := timed.Lookups()
					b.ReportMetric(float64(p50.Nanoseconds())/1e3, "lookup-p50-µs")
					b.ReportMetric(float64(p99.Nanoseconds())/1e3, "lookup-p99-µs")
					after := server.CallbackStats()
					if failed := failedCalls(after) - failedCalls(before); failed > 0 {
						b.Errorf("%d store calls failed: %+v", failed, after)
					}
				}
			})
		}
	}
}
