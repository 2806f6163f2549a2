package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/osslcache/osslcache/internal/load"
	"github.com/osslcache/osslcache/ossl"
)

const loadUsage = `usage: osslcache load -addr HOST:PORT [flags]

Opens -conns TLS connections to a server on this machine's loopback, at most
-concurrency at a time; the -resume-share of them offer the session of an
earlier connection. Each echoes one line and closes cleanly. Prints
handshakes per second and the share actually resumed.

With -hold, the connections complete their handshakes and stay open,
idle (nothing sent), until SIGTERM or SIGINT: "holding N connections" is
printed once they all are, for measuring what a server keeps for each.

flags:
`

func runLoad(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("load", loadUsage, stderr)
	var cfg load.Config
	fs.StringVar(&cfg.Addr, "addr", "", "`host:port` of the TLS server, on loopback (required)")
	fs.StringVar(&cfg.ServerName, "server-name", "localhost", "SNI `name`, checked against the certificate with -ca")
	ca := fs.String("ca", "", "PEM `file` of the CA to verify the server with (empty: no verification)")
	version := fs.String("tls", "1.3", "TLS `version`: 1.2 or 1.3")
	client := fs.String("client", "go", "TLS `client`: go (crypto/tls: TLS 1.2 resumes with tickets only) or ossl (libssl: also session IDs)")
	fs.IntVar(&cfg.Conns, "conns", 2000, "connections in total (the bound of the load)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 2*runtime.NumCPU(), "connections at a time")
	fs.Float64Var(&cfg.ResumeShare, "resume-share", 0.5, "share of connections that offer a session, 0 to 1")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "bound on each connection")
	markdown := fs.Bool("md", false, "also print a Markdown table row")
	label := fs.String("label", "", "store label for the Markdown row (e.g. memory, redis)")
	hold := fs.Bool("hold", false, "open the connections, complete their handshakes and hold them open, idle, until SIGTERM or SIGINT")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	usageErr := usageError(fs)
	if cfg.Addr == "" {
		return usageErr("-addr is required")
	}
	if err := load.CheckLoopback(cfg.Addr); err != nil {
		return usageErr("-addr: %v", err)
	}
	var err error
	if cfg.Version, err = parseVersion(*version); err != nil {
		return usageErr("-tls: %v", err)
	}
	switch cfg.Client = load.Client(*client); cfg.Client {
	case load.ClientGo, load.ClientOssl:
	default:
		return usageErr("-client must be go or ossl")
	}
	if cfg.Conns <= 0 || cfg.Conns > load.MaxConns {
		return usageErr("-conns must be 1 to %d", load.MaxConns)
	}
	if cfg.Concurrency <= 0 || cfg.Concurrency > 1024 {
		return usageErr("-concurrency must be 1 to 1024")
	}
	if cfg.ResumeShare < 0 || cfg.ResumeShare > 1 {
		return usageErr("-resume-share must be within 0 and 1")
	}
	if cfg.Timeout <= 0 {
		return usageErr("-timeout must be positive")
	}
	if *ca != "" {
		if cfg.RootCAs, err = os.ReadFile(*ca); err != nil {
			return usageErr("-ca: %v", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *hold {
		h, err := load.Hold(ctx, cfg)
		if err != nil {
			fmt.Fprintln(stderr, "osslcache load:", err)
			return 1
		}
		fmt.Fprintf(stdout, "holding %d connections (%d resumed), opened in %v\n", h.Len(), h.Resumed, h.Elapsed.Round(time.Millisecond))
		<-ctx.Done()
		h.Close()
		return 0
	}
	res, err := load.Run(ctx, cfg)
	if err != nil && res.Conns == 0 {
		fmt.Fprintln(stderr, "osslcache load:", err)
		return 1
	}
	fmt.Fprintf(stdout, "target      %s, %s, %s client, %s\n", cfg.Addr, cfg.Version, cfg.Client, ossl.OpenSSLVersion())
	fmt.Fprintf(stdout, "connections %d (concurrency %d), %d offered a session, %d failed\n", res.Conns, cfg.Concurrency, res.Offered, res.Failed)
	fmt.Fprintf(stdout, "elapsed     %v\n", res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "handshakes  %.0f/s\n", res.HandshakesPerSecond())
	fmt.Fprintf(stdout, "resumed     %d (%.1f%% of completed connections)\n", res.Resumed, 100*res.ResumedShare())
	fmt.Fprintf(stdout, "handshake   full p50 %v p99 %v; resumed p50 %v p99 %v\n",
		res.FullP50.Round(time.Microsecond), res.FullP99.Round(time.Microsecond),
		res.ResumedP50.Round(time.Microsecond), res.ResumedP99.Round(time.Microsecond))
	if *markdown {
		fmt.Fprintf(stdout, "| %s | %s | %s | %d | %d | %.0f | %.1f%% | %v | %v | %d |\n",
			*label, cfg.Version, cfg.Client, res.Conns, cfg.Concurrency, res.HandshakesPerSecond(), 100*res.ResumedShare(),
			res.FullP50.Round(time.Microsecond), res.ResumedP50.Round(time.Microsecond), res.Failed)
	}
	if res.FirstError != nil {
		fmt.Fprintln(stderr, "osslcache load: first failure:", res.FirstError)
	}
	if err != nil || res.Failed > 0 {
		return 1
	}
	return 0
}

// runEcho serves a plaintext echo on -listen until SIGTERM or SIGINT: each
// connection gets back what it sends, and a half-close when it half-closes.
func runEcho(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("echo", "", stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "`address` to listen on")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "osslcache echo:", err)
		return 1
	}
	fmt.Fprintln(stdout, "echo listening on", l.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return 0
			}
			fmt.Fprintln(stderr, "osslcache echo:", err)
			return 1
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		}()
	}
}
