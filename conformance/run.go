package conformance

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// Statuses a row carries. StatusError marks a check that could not run (a
// handshake failed where none should): it never matches an expectation.
const (
	StatusHolds    = "holds"
	StatusDeviates = "deviates"
	StatusNA       = "n/a"
	StatusError    = "error"
)

// Row is one claim checked under one variant.
type Row struct {
	Claim    string `json:"claim"`
	Variant  string `json:"variant"`
	Status   string `json:"status"`
	Observed string `json:"observed"`
}

// Report is one run of the suite against the linked libssl.
type Report struct {
	// OpenSSL is the linked library's version text, e.g.
	// "OpenSSL 3.0.19 27 Jan 2026".
	OpenSSL string `json:"openssl"`
	// Go is the toolchain that built the suite, e.g. "go1.26.8".
	Go   string `json:"go"`
	Rows []Row  `json:"rows"`
}

// Options configures Run.
type Options struct {
	// Match selects claims by ID; nil runs every claim.
	Match func(claimID string) bool
	// Parallel bounds the checks run at once (runtime.GOMAXPROCS if <= 0).
	Parallel int
	// Progress, if set, is called after each row, one call at a time.
	Progress func(Progress)
}

// Progress reports a finished row.
type Progress struct {
	Done, Total int
	Row         Row
	Elapsed     time.Duration
}

type job struct {
	index int
	claim Claim
	check check
	v     Variant
}

// Jobs returns the claim and variant pairs Run would check for opts, in
// report order.
func jobs(match func(string) bool) []job {
	var out []job
	for _, c := range registry {
		if match != nil && !match(c.ID) {
			continue
		}
		ch := checkFor(c.ID)
		for _, v := range c.variants {
			out = append(out, job{index: len(out), claim: c, check: ch, v: v})
		}
	}
	return out
}

// Run checks every selected claim under each of its variants, in parallel,
// and returns the rows in report order (claims in claims.md order, variants
// in Variants order). A check that cannot run (a handshake that should not
// fail does) gives a row with StatusError. Run returns an error only when
// the suite cannot start (no certificate).
func Run(opts Options) (Report, error) {
	rep := Report{OpenSSL: ossl.OpenSSLVersion(), Go: runtime.Version()}
	js := jobs(opts.Match)
	if len(js) == 0 {
		return rep, nil
	}
	cert, err := ossltest.NewCertificate("localhost")
	if err != nil {
		return rep, fmt.Errorf("conformance: certificate: %w", err)
	}
	par := opts.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	// Heavy checks first, so that they do not end up alone at the tail.
	order := make([]job, len(js))
	copy(order, js)
	sort.SliceStable(order, func(i, j int) bool { return order[i].check.heavy && !order[j].check.heavy })

	rows := make([]Row, len(js))
	start := time.Now()
	var mu sync.Mutex
	done := 0
	next := make(chan job)
	var wg sync.WaitGroup
	for range min(par, len(js)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				row := runOne(j, cert)
				mu.Lock()
				rows[j.index] = row
				done++
				if opts.Progress != nil {
					opts.Progress(Progress{Done: done, Total: len(js), Row: row, Elapsed: time.Since(start)})
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range order {
		next <- j
	}
	close(next)
	wg.Wait()
	rep.Rows = rows
	return rep, nil
}

// runOne runs one check, turning a checkError or a panic into an error row.
func runOne(j job, cert *ossltest.Certificate) (row Row) {
	row = Row{Claim: j.claim.ID, Variant: j.v.Name}
	p := &probe{v: j.v, cert: cert}
	defer func() {
		p.close()
		if r := recover(); r != nil {
			row.Status = StatusError
			if ce, ok := r.(checkError); ok {
				row.Observed = "check failed: " + ce.err.Error()
			} else {
				row.Observed = fmt.Sprintf("check panicked: %v\n%s", r, debug.Stack())
			}
		}
	}()
	v := j.check.run(p)
	row.Status, row.Observed = v.status, v.observed
	return row
}
