package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/resumebench"
)

func runRedisBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("redis-bench", "", stderr)
	addr := fs.String("addr", redisstore.DefaultAddr, "Redis host:port (the redis store)")
	clusterAddrs := fs.String("cluster", "", "seed `addresses` of a Redis Cluster, comma-separated (the redis-cluster store)")
	password := fs.String("password", os.Getenv("OSSLCACHE_REDIS_PASSWORD"), "Redis password (default $OSSLCACHE_REDIS_PASSWORD)")
	n := fs.Int("n", 20000, "resumed handshakes to time per store")
	clients := fs.Int("c", 4, "concurrent clients")
	tlsVersion := fs.String("tls", "1.2", "1.2 (session IDs) or 1.3 (stateful tickets); tickets off either way")
	stores := fs.String("stores", "internal,memory,redis", "stores to measure, in order: internal, memory, redis, redis-cluster")
	singleUse := fs.Bool("single-use", false, "Redis lookups are GETDEL (each TLS 1.3 resumption gets a new ticket; with TLS 1.2 every other handshake would be full)")
	timeout := fs.Duration("timeout", ossl.DefaultLookupTimeout, "lookup timeout")
	prefix := fs.String("prefix", "osslcache-bench", "Redis key prefix (keys expire with the sessions)")
	markdown := fs.Bool("markdown", false, "print a Markdown table")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var variant ossltest.Variant
	switch *tlsVersion {
	case "1.2":
		variant = ossltest.TLS12
	case "1.3":
		variant = ossltest.TLS13Stateful
	default:
		fmt.Fprintf(stderr, "osslcache redis-bench: -tls %q: want 1.2 or 1.3\n", *tlsVersion)
		return 2
	}
	if *n <= 0 || *clients <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "osslcache redis-bench: -n and -c must be positive, and no arguments are taken")
		return 2
	}
	cert, err := ossltest.NewCertificate()
	if err != nil {
		fmt.Fprintln(stderr, "osslcache redis-bench:", err)
		return 1
	}
	cfg := resumebench.Config{Cert: cert, Variant: variant, Handshakes: *n, Clients: *clients, Warmup: 20}
	redisInfo := ""
	var results []resumebench.Result
	for _, name := range strings.Split(*stores, ",") {
		tg := resumebench.Target{Name: name, LookupTimeout: *timeout}
		switch name {
		case "internal":
		case "memory":
			tg.Store = store.NewMemory(store.MemoryOptions{})
		case "redis", "redis-cluster":
			o := redisstore.Options{
				Addr: *addr, Password: *password, Prefix: *prefix, LookupTimeout: *timeout, SingleUse: *singleUse,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			where := *addr
			if name == "redis-cluster" {
				if *clusterAddrs == "" {
					fmt.Fprintln(stderr, "osslcache redis-bench: the redis-cluster store needs -cluster")
					return 2
				}
				o.Addr, o.ClusterAddrs, where = "", strings.Split(*clusterAddrs, ","), "cluster "+*clusterAddrs
			}
			key, err := redisstore.NewKey()
			if err != nil {
				fmt.Fprintln(stderr, "osslcache redis-bench:", err)
				return 1
			}
			o.Keys = redisstore.Keyring{Current: "bench", Keys: map[string][]byte{"bench": key}}
			rs, err := redisstore.New(o)
			if err != nil {
				fmt.Fprintln(stderr, "osslcache redis-bench:", err)
				return 1
			}
			defer rs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = rs.Ping(ctx)
			cancel()
			if err != nil {
				fmt.Fprintf(stderr, "osslcache redis-bench: Redis at %s: %v\n", where, err)
				return 1
			}
			redisInfo = strings.TrimPrefix(redisInfo+"; "+where, "; ")
			tg.Store = rs.SessionStore()
		default:
			fmt.Fprintf(stderr, "osslcache redis-bench: unknown store %q\n", name)
			return 2
		}
		fmt.Fprintf(stderr, "redis-bench: %s...\n", name)
		r, err := resumebench.Run(cfg, tg)
		if err != nil {
			fmt.Fprintln(stderr, "osslcache redis-bench:", err)
			return 1
		}
		if r.Resumed != r.Handshakes {
			fmt.Fprintf(stderr, "osslcache redis-bench: %s: %d of %d handshakes were full ones (callbacks %+v)\n", name, r.Handshakes-r.Resumed, r.Handshakes, r.Callback)
		}
		results = append(results, r)
	}

	kind := "TLS 1.2, session IDs"
	if variant == ossltest.TLS13Stateful {
		kind = "TLS 1.3, stateful tickets"
	}
	fmt.Fprintf(stdout, "%s, %s; %s; %d clients; %d resumed handshakes per store", ossl.OpenSSLVersion(), goVersion(), kind, *clients, *n)
	if redisInfo != "" {
		fmt.Fprintf(stdout, "; Redis %s", redisInfo)
		if *singleUse {
			fmt.Fprint(stdout, " (single-use)")
		}
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout)
	lat := func(r resumebench.Result, d time.Duration) string {
		if r.Lookups == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
	resumed := func(r resumebench.Result) string {
		return fmt.Sprintf("%.2f%%", 100*float64(r.Resumed)/float64(r.Handshakes))
	}
	if *markdown {
		fmt.Fprintln(stdout, "| store | handshakes/s | lookup p50 | lookup p99 | resumed |")
		fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|")
		for _, r := range results {
			fmt.Fprintf(stdout, "| %s | %.0f | %s | %s | %s |\n", r.Target, r.PerSecond(), lat(r, r.LookupP50), lat(r, r.LookupP99), resumed(r))
		}
	} else {
		fmt.Fprintf(stdout, "%-16s %14s %12s %12s %9s\n", "store", "handshakes/s", "lookup p50", "lookup p99", "resumed")
		for _, r := range results {
			fmt.Fprintf(stdout, "%-16s %14.0f %12s %12s %9s\n", r.Target, r.PerSecond(), lat(r, r.LookupP50), lat(r, r.LookupP99), resumed(r))
		}
	}
	fmt.Fprintln(stdout, "\nlookup: time inside the store's Get (Redis round trip, opening the blob, decoding the session); the internal cache makes none.")
	fmt.Fprintln(stdout, "resumed: handshakes the server resumed; the others (lookup timeouts) were full ones.")
	return 0
}
