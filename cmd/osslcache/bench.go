package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/osslcache/osslcache/internal/bench"
	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "", stderr)
	n := fs.Int("n", 500, "handshakes per cache per round")
	rounds := fs.Int("rounds", 5, "rounds; every cache runs once per round, in turn")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *n <= 0 || *rounds <= 0 {
		return usageError(fs)("-n and -rounds must be positive")
	}
	cert, err := ossltest.NewCertificate()
	if err != nil {
		fmt.Fprintln(stderr, "osslcache bench:", err)
		return 1
	}
	p := newProgress(stderr)
	rows, err := bench.Compare(cert, *n, *rounds, p.update)
	p.done()
	if err != nil {
		fmt.Fprintln(stderr, "osslcache bench:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s, %s; %d handshakes per row (%d rounds of %d), one thread\n\n", ossl.OpenSSLVersion(), goVersion(), *n**rounds, *rounds, *n)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tcache\tserver µs/handshake\tvs internal\thandshakes/s\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.3fx\t%.0f\t\n", r.Variant, r.Cache, float64(r.ServerPerOp)/float64(time.Microsecond), r.Ratio, r.PerSecond())
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\none C-to-Go callback: %v\n", osslhooks.CallbackCrossingCost(1_000_000))
	return 0
}
