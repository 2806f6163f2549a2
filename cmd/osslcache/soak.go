package main

import (
	"fmt"
	"io"

	"github.com/osslcache/osslcache/internal/soak"
	"github.com/osslcache/osslcache/ossl"
)

func runSoak(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("soak", "", stderr)
	n := fs.Int("n", 1_000_000, "handshakes in total")
	workers := fs.Int("workers", 2, "concurrent clients")
	samples := fs.Int("samples", 20, "checkpoints")
	faultRate := fs.Float64("fault-rate", 0.01, "rate of each injected store fault (error, stall, panic, garbage, expired)")
	maxRSS := fs.Int64("max-rss-growth-kib", 16384, "fail if resident memory grows more than this after warm-up")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *n <= 0 || *workers <= 0 || *samples <= 1 || *faultRate < 0 || *faultRate > 0.2 {
		return usageError(fs)("-n, -workers must be positive, -samples > 1, 0 <= -fault-rate <= 0.2")
	}
	fmt.Fprintf(stdout, "%s; %d handshakes, %d workers, fault rate %.3f per kind\n%s\n", ossl.OpenSSLVersion(), *n, *workers, *faultRate, soak.Header)
	res, err := soak.Run(soak.Config{Handshakes: *n, Workers: *workers, Samples: *samples, FaultRate: *faultRate}, func(s soak.Sample) {
		fmt.Fprintln(stdout, s.Format())
	})
	if err != nil {
		fmt.Fprintln(stderr, "osslcache soak:", err)
		return 1
	}
	rss, heap, gor, blocks := res.Growth()
	fmt.Fprintf(stdout, "\nafter warm-up: RSS %+d KiB, Go heap %+d KiB, goroutines %+d, OpenSSL blocks %+d; faults injected %d; failed handshakes %d\n", rss, heap, gor, blocks, res.Faults, res.Failed)
	if res.Failed > 0 || rss > *maxRSS || gor > 4 {
		fmt.Fprintln(stderr, "osslcache soak: not flat, or handshakes failed")
		return 1
	}
	return 0
}
