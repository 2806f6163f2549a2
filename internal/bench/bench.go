// Package bench measures resumed and full handshakes through libssl's
// internal cache and through Go stores, for the testing.B benchmarks and
// the CLI's bench command (one implementation for both).
package bench

import (
	"fmt"
	"sort"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// Variants are the setups the benchmarks cover, TLS 1.2 with session IDs
// and TLS 1.3 stateful tickets: both keep server state, so every
// resumption is a cache lookup.
var Variants = []ossltest.Variant{ossltest.TLS12, ossltest.TLS13Stateful}

// Cache is where the server keeps sessions.
type Cache struct {
	Name string
	// Full makes every handshake a full one (nothing offered).
	Full bool
	// newStore makes the store the server's only cache (CacheNoInternal);
	// nil keeps libssl's internal cache.
	newStore func() ossl.SessionStore
}

// Caches are the compared setups; Internal is the baseline. otter-store is
// store.Memory's contract over github.com/maypok86/otter/v2, measured
// against Memory's own sharded LRU (docs/benchmarks.md).
var Caches = []Cache{
	{Name: "internal"},
	{Name: "memory-store", newStore: func() ossl.SessionStore { return store.NewMemory(store.MemoryOptions{}) }},
	{Name: "otter-store", newStore: func() ossl.SessionStore { return newOtterStore(0) }},
	{Name: "bytes-adapter", newStore: func() ossl.SessionStore {
		return store.NewBytes(store.NewMapKV(store.MapKVOptions{}), store.BytesOptions{})
	}},
	{Name: "full-handshake", Full: true},
}

// Baseline is the name of the cache ratios are taken against.
const Baseline = "internal"

func useStore(c *ossl.Ctx, s ossl.SessionStore) error {
	if _, err := c.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal); err != nil {
		return err
	}
	return c.SetSessionStore(ossl.StoreConfig{Store: s})
}

// Runner drives handshakes of one cache and variant.
type Runner struct {
	client, server *ossl.Ctx
	store          ossl.SessionStore
	sess           *ossl.Session
	full           bool
}

// NewRunner makes the contexts and the first full handshake.
func NewRunner(cert *ossltest.Certificate, v ossltest.Variant, c Cache) (*Runner, error) {
	so := v.ServerOptions()
	so.SessionIDContext = []byte("bench")
	server, err := ossltest.NewServerCtx(cert, so)
	if err != nil {
		return nil, err
	}
	client, err := ossltest.NewClientCtx(cert, v.ClientOptions())
	if err != nil {
		server.Close()
		return nil, err
	}
	r := &Runner{client: client, server: server, full: c.Full}
	if c.newStore != nil {
		r.store = c.newStore()
		if err := useStore(server, r.store); err != nil {
			r.Close()
			return nil, err
		}
	}
	if _, err := r.Step(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Step runs one handshake (resuming the last session unless the cache is
// Full) and returns the time spent inside the server's libssl calls.
func (r *Runner) Step() (time.Duration, error) {
	o := ossltest.Options{}
	if !r.full {
		o.Session = r.sess
	}
	res, err := ossltest.Handshake(r.client, r.server, o)
	if err != nil {
		return 0, err
	}
	defer res.ServerSession.Close()
	if r.sess != nil && !r.full && !res.ServerReused {
		res.ClientSession.Close()
		return 0, fmt.Errorf("bench: handshake did not resume")
	}
	// TLS 1.3 tickets are used once: carry the newest one forward.
	r.sess.Close()
	r.sess = res.ClientSession
	return res.ServerTime, nil
}

// Close releases the runner's contexts, session and store.
func (r *Runner) Close() {
	r.sess.Close()
	r.client.Close()
	r.server.Close()
	if c, ok := r.store.(interface{ Close() }); ok {
		c.Close()
	}
}

// Row is one measured cache and variant.
type Row struct {
	Variant, Cache string
	Handshakes     int
	// ServerPerOp is the mean time inside the server's libssl calls.
	ServerPerOp time.Duration
	// WallPerOp is the mean wall time of a whole in-memory handshake.
	WallPerOp time.Duration
	// Ratio is ServerPerOp over the baseline's, in the same run.
	Ratio float64
}

// PerSecond is the handshakes per second one thread completes.
func (r Row) PerSecond() float64 { return float64(time.Second) / float64(r.WallPerOp) }

// Compare measures every cache under every variant side by side: rounds
// rounds, each running n handshakes of every cache in turn, so that drift
// of the machine touches all alike. Ratios are against Baseline.
func Compare(cert *ossltest.Certificate, n, rounds int, progress func(string)) ([]Row, error) {
	var rows []Row
	for _, v := range Variants {
		runners := make([]*Runner, len(Caches))
		for i, c := range Caches {
			r, err := NewRunner(cert, v, c)
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", v.Name, c.Name, err)
			}
			defer r.Close()
			runners[i] = r
		}
		server := make([]time.Duration, len(Caches))
		wall := make([]time.Duration, len(Caches))
		for round := 0; round < rounds; round++ {
			for i, r := range runners {
				if progress != nil {
					progress(fmt.Sprintf("%s %s round %d/%d", v.Name, Caches[i].Name, round+1, rounds))
				}
				t0 := time.Now()
				for j := 0; j < n; j++ {
					d, err := r.Step()
					if err != nil {
						return nil, fmt.Errorf("%s/%s: %w", v.Name, Caches[i].Name, err)
					}
					server[i] += d
				}
				wall[i] += time.Since(t0)
			}
		}
		total := n * rounds
		var base time.Duration
		for i, c := range Caches {
			if c.Name == Baseline {
				base = server[i] / time.Duration(total)
			}
		}
		for i, c := range Caches {
			per := server[i] / time.Duration(total)
			rows = append(rows, Row{Variant: v.Name, Cache: c.Name, Handshakes: total,
				ServerPerOp: per, WallPerOp: wall[i] / time.Duration(total), Ratio: float64(per) / float64(base)})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Variant < rows[j].Variant })
	return rows, nil
}
