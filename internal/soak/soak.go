// Package soak runs a long mixed handshake load in one process (full and
// resumed, TLS 1.2 and 1.3, Go stores, optional injected faults) and
// samples resident memory, goroutines and OpenSSL's live heap blocks, to
// show they stay flat after warm-up.
package soak

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osslcache/osslcache/internal/faults"
	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// Config sets the load.
type Config struct {
	Handshakes int     // total, over all workers
	Workers    int     // concurrent clients
	Samples    int     // checkpoints to record
	FaultRate  float64 // per-kind fault rate in the stores (0: none)
}

// Sample is one checkpoint.
type Sample struct {
	Handshakes    int64
	Resumed       int64
	RSSKiB        int64
	GoHeapKiB     int64 // Go heap in use (runtime.MemStats.HeapInuse)
	Goroutines    int
	OpenSSLBlocks int64 // -1 unless built with -tags ossl_memdebug
	Elapsed       time.Duration
}

// Result is a finished soak.
type Result struct {
	Samples []Sample
	Faults  int64
	Failed  int64
}

// setup is one server configuration the load rotates through.
type setup struct {
	ossltest.Variant
	store func() ossl.SessionStore // nil: libssl's internal cache
}

var setups = []setup{
	{ossltest.TLS12, func() ossl.SessionStore { return store.NewMemory(store.MemoryOptions{Capacity: 4096}) }},
	{ossltest.TLS13Stateful, func() ossl.SessionStore {
		return store.NewBytes(store.NewMapKV(store.MapKVOptions{Capacity: 4096}), store.BytesOptions{})
	}},
	{ossltest.TLS13, func() ossl.SessionStore { return store.NewMemory(store.MemoryOptions{Capacity: 4096}) }},
	{ossltest.TLS12Tickets, nil},
}

// Run executes the soak, calling progress at each checkpoint.
func Run(cfg Config, progress func(Sample)) (*Result, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Samples <= 0 {
		cfg.Samples = 20
	}
	cert, err := ossltest.NewCertificate()
	if err != nil {
		return nil, err
	}
	type server struct {
		setup
		ctx *ossl.Ctx
		fs  *faults.Store
	}
	servers := make([]*server, len(setups))
	for i, s := range setups {
		o := s.ServerOptions()
		o.SessionIDContext = []byte("soak")
		ctx, err := ossltest.NewServerCtx(cert, o)
		if err != nil {
			return nil, err
		}
		defer ctx.Close()
		sv := &server{setup: s, ctx: ctx}
		if s.store != nil {
			if _, err := ctx.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal); err != nil {
				return nil, err
			}
			var st ossl.SessionStore = s.store()
			if cfg.FaultRate > 0 {
				sv.fs = &faults.Store{Inner: st, Rates: faults.Uniform(cfg.FaultRate), StallFor: 20 * time.Millisecond}
				defer sv.fs.Close()
				st = sv.fs
			}
			if err := ctx.SetSessionStore(ossl.StoreConfig{Store: st, LookupTimeout: 5 * time.Millisecond}); err != nil {
				return nil, err
			}
		}
		servers[i] = sv
	}

	res := &Result{}
	var done, resumed, failed atomic.Int64
	start := time.Now()
	step := int64(cfg.Handshakes / cfg.Samples)
	if step == 0 {
		step = 1
	}
	var mu sync.Mutex
	var next atomic.Int64 // handshake count of the next checkpoint
	next.Store(step)
	sample := func() {
		blocks, on := osslhooks.LiveOpenSSLAllocations()
		if !on {
			blocks = -1
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := Sample{Handshakes: done.Load(), Resumed: resumed.Load(), RSSKiB: rssKiB(), GoHeapKiB: int64(ms.HeapInuse >> 10),
			Goroutines: runtime.NumGoroutine(), OpenSSLBlocks: blocks, Elapsed: time.Since(start)}
		res.Samples = append(res.Samples, s)
		if progress != nil {
			progress(s)
		}
	}
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients := make([]*ossl.Ctx, len(servers))
			sessions := make([]*ossl.Session, len(servers))
			for i, sv := range servers {
				c, err := ossltest.NewClientCtx(cert, sv.ClientOptions())
				if err != nil {
					firstErr.Store(err)
					return
				}
				defer c.Close()
				clients[i] = c
			}
			defer func() {
				for _, s := range sessions {
					s.Close()
				}
			}()
			for k := 0; ; k++ {
				n := done.Add(1)
				if n > int64(cfg.Handshakes) {
					return
				}
				i := k % len(servers)
				o := ossltest.Options{Session: sessions[i]}
				if k%(4*len(servers)) < len(servers) {
					o.Session = nil // every fourth round is a full handshake
				}
				r, err := ossltest.Handshake(clients[i], servers[i].ctx, o)
				if err != nil {
					failed.Add(1)
					firstErr.Store(err)
				} else {
					if r.ServerReused {
						resumed.Add(1)
					}
					sessions[i].Close()
					sessions[i] = r.ClientSession
					r.ServerSession.Close()
				}
				if n >= next.Load() {
					mu.Lock()
					if n >= next.Load() {
						next.Add(step)
						sample()
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	done.Store(int64(cfg.Handshakes))
	runtime.GC()
	mu.Lock()
	sample()
	mu.Unlock()
	res.Failed = failed.Load()
	for _, sv := range servers {
		if sv.fs != nil {
			res.Faults += sv.fs.InjectedTotal()
		}
	}
	if err, _ := firstErr.Load().(error); err != nil && res.Failed == 0 {
		return res, err
	}
	return res, nil
}

// Growth compares the last sample with the one at the end of warm-up (the
// first fifth of the run).
func (r *Result) Growth() (rssKiB, goHeapKiB int64, goroutines int, blocks int64) {
	if len(r.Samples) < 2 {
		return 0, 0, 0, 0
	}
	warm := r.Samples[len(r.Samples)/5]
	last := r.Samples[len(r.Samples)-1]
	return last.RSSKiB - warm.RSSKiB, last.GoHeapKiB - warm.GoHeapKiB, last.Goroutines - warm.Goroutines, last.OpenSSLBlocks - warm.OpenSSLBlocks
}

// Format renders a sample as a table row.
func (s Sample) Format() string {
	blocks := "-"
	if s.OpenSSLBlocks >= 0 {
		blocks = strconv.FormatInt(s.OpenSSLBlocks, 10)
	}
	return fmt.Sprintf("%10d  %7.1f%%  %8d KiB  %8d KiB  %10d  %10s  %7.1fs", s.Handshakes, 100*float64(s.Resumed)/float64(max(s.Handshakes, 1)), s.RSSKiB, s.GoHeapKiB, s.Goroutines, blocks, s.Elapsed.Seconds())
}

// Header names the columns of Format.
const Header = "handshakes   resumed           RSS       Go heap  goroutines  ssl-blocks  elapsed"

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return -1
}
