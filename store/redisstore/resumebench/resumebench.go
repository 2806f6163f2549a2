// Package resumebench measures resumed handshakes through a server session
// store: real libssl handshakes in memory (ossltest), many clients at once,
// and the time each store lookup takes. The osslcache redis-bench command
// and the redisstore benchmarks run on it.
package resumebench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// Timed wraps a SessionStore and records how long each Get takes.
type Timed struct {
	inner ossl.SessionStore
	mu    sync.Mutex
	gets  []time.Duration
}

// NewTimed wraps s.
func NewTimed(s ossl.SessionStore) *Timed { return &Timed{inner: s} }

// Store returns the wrapping store. It never blocks (ossl.InlineStore)
// exactly when s does not, so that the bridge calls it the way it calls s.
func (t *Timed) Store() ossl.SessionStore { return timedStore{t} }

type timedStore struct{ t *Timed }

func (s timedStore) Put(ctx context.Context, sess *ossl.Session) error {
	return s.t.inner.Put(ctx, sess)
}

func (s timedStore) Get(ctx context.Context, id []byte) (*ossl.Session, error) {
	t0 := time.Now()
	sess, err := s.t.inner.Get(ctx, id)
	d := time.Since(t0)
	s.t.mu.Lock()
	s.t.gets = append(s.t.gets, d)
	s.t.mu.Unlock()
	return sess, err
}

func (s timedStore) Delete(ctx context.Context, id []byte) error { return s.t.inner.Delete(ctx, id) }

// RunsInline implements ossl.InlineStore: the wrapper adds a clock read
// and a mutex, and is inline when the store it times is, by that store's
// own word.
func (s timedStore) RunsInline(installed ossl.SessionStore) bool {
	i, ok := s.t.inner.(ossl.InlineStore)
	return installed == ossl.SessionStore(s) && ok && i.RunsInline(s.t.inner)
}

var _ ossl.InlineStore = timedStore{}

// Reset forgets the recorded lookups.
func (t *Timed) Reset() {
	t.mu.Lock()
	t.gets = t.gets[:0]
	t.mu.Unlock()
}

// Lookups returns the number of Gets recorded and their p50 and p99.
func (t *Timed) Lookups() (n int, p50, p99 time.Duration) {
	t.mu.Lock()
	d := slices.Clone(t.gets)
	t.mu.Unlock()
	slices.Sort(d)
	return len(d), Percentile(d, 50), Percentile(d, 99)
}

// Percentile returns the p-th percentile (nearest rank) of sorted d.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Worker is one client resuming its session again and again.
type Worker struct {
	client, server *ossl.Ctx
	sess           *ossl.Session
}

// NewWorker makes a full handshake to get a session to resume.
func NewWorker(client, server *ossl.Ctx) (*Worker, error) {
	r, err := ossltest.Handshake(client, server, ossltest.Options{})
	if err != nil {
		return nil, err
	}
	r.ServerSession.Close()
	return &Worker{client: client, server: server, sess: r.ClientSession}, nil
}

// Resume runs one handshake offering the worker's session and reports
// whether the server resumed it. It moves to the newest session the
// client got (TLS 1.3 issues new tickets on resumption; a TLS 1.2
// resumption keeps the session).
func (w *Worker) Resume() (bool, error) {
	r, err := ossltest.Handshake(w.client, w.server, ossltest.Options{Session: w.sess})
	if err != nil {
		return false, err
	}
	r.ServerSession.Close()
	if r.ClientSession != nil {
		w.sess.Close()
		w.sess = r.ClientSession
	}
	return r.ServerReused, nil
}

// Close releases the worker's session.
func (w *Worker) Close() { w.sess.Close() }

// Target is one store to measure.
type Target struct {
	Name string
	// Store is the server's session store; nil measures libssl's
	// internal cache alone.
	Store ossl.SessionStore
	// LookupTimeout is handed to the bridge (ossl's default if 0).
	LookupTimeout time.Duration
}

// Config is one measurement.
type Config struct {
	Cert *ossltest.Certificate
	// Variant is ossltest.TLS12 (session IDs) or ossltest.TLS13Stateful
	// (stateful tickets): tickets off, so that every resumption is a
	// lookup.
	Variant ossltest.Variant
	// Handshakes is the number of resumed handshakes to time, over all
	// clients.
	Handshakes int
	// Clients run concurrently, each on its own goroutine.
	Clients int
	// Warmup handshakes per client before timing (connections dialled,
	// caches warm).
	Warmup int
}

// Result is what Run measured.
type Result struct {
	Target     string
	Clients    int
	Handshakes int // timed handshakes
	Resumed    int // of which the server resumed
	Elapsed    time.Duration
	// Lookups is the number of store Gets, LookupP50 and LookupP99 their
	// latency; all zero for the internal cache (no store call).
	Lookups              int
	LookupP50, LookupP99 time.Duration
	Callback             ossl.CallbackStats
}

// PerSecond returns the timed handshakes per second.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Handshakes) / r.Elapsed.Seconds()
}

// Run measures t under c.
func Run(c Config, t Target) (Result, error) {
	if c.Clients <= 0 || c.Handshakes <= 0 {
		return Result{}, errors.New("resumebench: Clients and Handshakes must be positive")
	}
	so := c.Variant.ServerOptions()
	so.SessionIDContext = []byte("resumebench")
	server, err := ossltest.NewServerCtx(c.Cert, so)
	if err != nil {
		return Result{}, err
	}
	defer server.Close()
	co := c.Variant.ClientOptions()
	co.VerifyServer = true
	client, err := ossltest.NewClientCtx(c.Cert, co)
	if err != nil {
		return Result{}, err
	}
	defer client.Close()
	var timed *Timed
	if t.Store != nil {
		timed = NewTimed(t.Store)
		if _, err := server.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal); err != nil {
			return Result{}, err
		}
		if err := server.SetSessionStore(ossl.StoreConfig{Store: timed.Store(), LookupTimeout: t.LookupTimeout}); err != nil {
			return Result{}, err
		}
	}

	workers := make([]*Worker, c.Clients)
	defer func() {
		for _, w := range workers {
			if w != nil {
				w.Close()
			}
		}
	}()
	for i := range workers {
		if workers[i], err = NewWorker(client, server); err != nil {
			return Result{}, err
		}
		for range c.Warmup {
			if _, err := workers[i].Resume(); err != nil {
				return Result{}, err
			}
		}
	}
	if timed != nil {
		timed.Reset()
	}
	before := server.CallbackStats()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		resumed int
		firstEr error
	)
	start := time.Now()
	for i, w := range workers {
		n := c.Handshakes / c.Clients
		if i < c.Handshakes%c.Clients {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := 0
			var err error
			for range n {
				var ok bool
				if ok, err = w.Resume(); err != nil {
					break
				}
				if ok {
					r++
				}
			}
			mu.Lock()
			resumed += r
			if err != nil && firstEr == nil {
				firstEr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res := Result{Target: t.Name, Clients: c.Clients, Handshakes: c.Handshakes, Resumed: resumed, Elapsed: time.Since(start)}
	if firstEr != nil {
		return res, fmt.Errorf("resumebench: %s: %w", t.Name, firstEr)
	}
	if timed != nil {
		res.Lookups, res.LookupP50, res.LookupP99 = timed.Lookups()
	}
	after := server.CallbackStats()
	res.Callback = diff(after, before)
	return res, nil
}

func diff(a, b ossl.CallbackStats) ossl.CallbackStats {
	return ossl.CallbackStats{
		NewCalls: a.NewCalls - b.NewCalls, Stored: a.Stored - b.Stored, StoreErrors: a.StoreErrors - b.StoreErrors,
		GetCalls: a.GetCalls - b.GetCalls, GetHits: a.GetHits - b.GetHits, GetMisses: a.GetMisses - b.GetMisses,
		GetErrors: a.GetErrors - b.GetErrors, Timeouts: a.Timeouts - b.Timeouts, Rejected: a.Rejected - b.Rejected,
		RemoveCalls: a.RemoveCalls - b.RemoveCalls, RemoveErrors: a.RemoveErrors - b.RemoveErrors,
		RemoveSkipped: a.RemoveSkipped - b.RemoveSkipped, ClientPuts: a.ClientPuts - b.ClientPuts, Panics: a.Panics - b.Panics,
	}
}
