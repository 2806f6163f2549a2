package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/osslhooks"
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
