package bench

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

func cert(tb testing.TB) *ossltest.Certificate {
	c, err := ossltest.NewCertificate()
	require.NoError(tb, err)
	return c
}

// BenchmarkHandshake: server time per handshake for every cache and
// variant. Compare sub-benchmarks with benchstat; the bench command prints
// ratios measured side by side.
func BenchmarkHandshake(b *testing.B) {
	c := cert(b)
	for _, v := range Variants {
		for _, cache := range Caches {
			b.Run(v.Name+"/"+cache.Name, func(b *testing.B) {
				r, err := NewRunner(c, v, cache)
				require.NoError(b, err)
				defer r.Close()
				var server int64
				b.ResetTimer()
				for b.Loop() {
					d, err := r.Step()
					if err != nil {
						b.Fatal(err)
					}
					server += int64(d)
				}
				b.ReportMetric(float64(server)/float64(b.N), "server-ns/op")
			})
		}
	}
}

// BenchmarkCallbackCrossing: one call from C into an exported Go function.
func BenchmarkCallbackCrossing(b *testing.B) {
	for b.Loop() {
		osslhooks.CallbackCrossingCost(1)
	}
}

func TestCompareProducesEveryRow(t *testing.T) {
	rows, err := Compare(cert(t), 3, 2, nil)
	require.NoError(t, err)
	require.Len(t, rows, len(Variants)*len(Caches))
	for _, r := range rows {
		assert.Equal(t, 6, r.Handshakes)
		assert.Positive(t, r.ServerPerOp, "%s/%s", r.Variant, r.Cache)
		assert.Positive(t, r.PerSecond())
		if r.Cache == Baseline {
			assert.InDelta(t, 1.0, r.Ratio, 1e-9)
		}
	}
}

// BenchmarkStoreParallel: the stores alone, without handshakes, from every
// P at once, over 1024 real sessions (store.Memory against its
// otter-backed twin): "get" only looks up sessions that are there; "mixed"
// also puts a fresh reference one time in ten (a put copies the session
// with SSL_SESSION_dup, as under a context that keeps its internal cache).
// A lookup that races a put of the same session may miss (misses/op).
func BenchmarkStoreParallel(b *testing.B) {
	c := cert(b)
	server, err := ossltest.NewServerCtx(c, ossltest.TLS12.ServerOptions())
	require.NoError(b, err)
	defer server.Close()
	client, err := ossltest.NewClientCtx(c, ossltest.TLS12.ClientOptions())
	require.NoError(b, err)
	defer client.Close()
	const n = 1024
	sessions := make([]*ossl.Session, n)
	ids := make([][]byte, n)
	for i := range sessions {
		res, err := ossltest.Handshake(client, server, ossltest.Options{})
		require.NoError(b, err)
		res.ClientSession.Close()
		sessions[i], ids[i] = res.ServerSession, res.ServerSession.ID()
		defer res.ServerSession.Close()
	}
	ctx := context.Background()
	for _, mix := range []struct {
		name     string
		putEvery uint64 // 0: lookups only
	}{{"get", 0}, {"mixed", 10}} {
		for _, cache := range Caches {
			if cache.Name != "memory-store" && cache.Name != "otter-store" {
				continue
			}
			b.Run(mix.name+"/"+cache.Name, func(b *testing.B) {
				st := cache.newStore()
				defer st.(interface{ Close() }).Close()
				for _, s := range sessions {
					ref, err := s.Ref()
					require.NoError(b, err)
					require.NoError(b, st.Put(ctx, ref))
				}
				var seq, misses atomic.Uint64
				b.RunParallel(func(pb *testing.PB) {
					i := seq.Add(1) * 7919
					for pb.Next() {
						i++
						k := i % n
						if mix.putEvery > 0 && i%mix.putEvery == 0 {
							ref, err := sessions[k].Ref()
							if err == nil {
								err = st.Put(ctx, ref)
							}
							if err != nil {
								b.Error(err)
								return
							}
							continue
						}
						got, err := st.Get(ctx, ids[k])
						if err != nil {
							b.Error(err)
							return
						}
						if got == nil {
							misses.Add(1)
							continue
						}
						got.Close()
					}
				})
				b.ReportMetric(float64(misses.Load())/float64(b.N), "misses/op")
			})
		}
	}
}
