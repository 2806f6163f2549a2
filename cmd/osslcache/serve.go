package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/proxy"
)

// serveOptions are serve's flags beyond the proxy's configuration.
type serveOptions struct {
	listen, metrics string
	shutdownTimeout time.Duration
	logFormat       string
	logLevel        slog.Level
	storeText       string
	cacheMode       ossl.CacheMode
	arenas          string // what mallocArenas did, for the log
}

const serveUsage = `usage: osslcache serve -listen ADDR -upstream ADDR -cert FILE -key FILE [flags]

Terminates TLS with the system libssl on ADDR and relays the plaintext to the
upstream. Sessions are kept where -store says under -cache-mode; proxies
sharing a Redis store, a -sid-ctx and a -redis-key-file resume each other's
sessions, and proxies sharing a -ticket-key-file each other's tickets. SIGHUP
reads -cert/-key, -ticket-key-file and -redis-key-file again (a file that does
not load leaves the previous one in force; open connections are not touched).
SIGTERM or SIGINT stops accepting, waits up to -shutdown-timeout for open
connections, and exits 0.

flags:
`

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", serveUsage, stderr)
	var o serveOptions
	var cfg proxy.Config
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "address to accept TLS on (host:port; port 0 picks one, logged)")
	fs.StringVar(&cfg.Upstream, "upstream", "", "plaintext `host:port` each connection is relayed to (required)")
	fs.StringVar(&cfg.CertFile, "cert", "", "PEM certificate chain `file`, leaf first (required)")
	fs.StringVar(&cfg.KeyFile, "key", "", "PEM private key `file` (required)")
	minVersion := fs.String("min-version", "1.2", "lowest TLS `version`: 1.2 or 1.3")
	maxVersion := fs.String("max-version", "1.3", "highest TLS `version`: 1.2 or 1.3")
	o.cacheMode = proxy.DefaultCacheMode
	fs.Var(&o.cacheMode, "cache-mode", "session cache `mode` of SSL_CTX_set_session_cache_mode, flags joined by |")
	fs.StringVar(&o.storeText, "store", "memory", "session `store`: "+proxy.StoreSyntax)
	fs.StringVar(&cfg.RedisKeyFile, "redis-key-file", "", "`file` of AES-256-GCM keys sealing sessions in Redis: id:base64key lines, the first current (required with a Redis store; re-read on SIGHUP)")
	sidCtx := fs.String("sid-ctx", proxy.DefaultSessionIDContext, "session id `context`: only proxies with the same one resume each other's sessions (at most 32 bytes)")
	fs.DurationVar(&cfg.LookupTimeout, "lookup-timeout", ossl.DefaultLookupTimeout, "bound on each store call; a slower lookup is a miss")
	fs.BoolVar(&cfg.NoTicket, "no-ticket", false, "set SSL_OP_NO_TICKET: TLS 1.2 resumes by session ID, TLS 1.3 issues stateful tickets, both through the store")
	fs.StringVar(&cfg.TicketKeyFile, "ticket-key-file", "", "`file` of stateless ticket keys shared by a fleet: one base64 line of 80 bytes per key, the first sealing new tickets, all opening them (re-read on SIGHUP, to rotate)")
	fs.Func("early-data", "accept up to `bytes` of TLS 1.3 early data (0-RTT) per connection, relayed upstream once accepted; each ticket's early data is accepted once, fleet-wide with a Redis store (0: none)", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		cfg.EarlyData = uint32(n)
		return err
	})
	fs.DurationVar(&cfg.SessionTimeout, "session-timeout", 0, "lifetime of new sessions (0: libssl's default, 7200s)")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", proxy.DefaultHandshakeTimeout, "bound on each TLS handshake")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", proxy.DefaultDialTimeout, "bound on connecting to the upstream")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "close a connection that moved no byte either way for this long after its handshake (0: never)")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "most connections served at once; beyond, accepting waits for one to end (0: no bound)")
	fs.StringVar(&o.metrics, "metrics", "", "`address` to serve Prometheus /metrics on (empty: none)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGTERM, how long to wait for open connections before closing them")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	usageErr := usageError(fs)
	if cfg.Upstream == "" || cfg.CertFile == "" || cfg.KeyFile == "" {
		return usageErr("-upstream, -cert and -key are required")
	}
	for _, a := range []struct{ flag, v string }{{"listen", o.listen}, {"upstream", cfg.Upstream}, {"metrics", o.metrics}} {
		if a.v == "" && a.flag == "metrics" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return usageErr("-%s %q: %v", a.flag, a.v, err)
		}
	}
	var err error
	if cfg.MinVersion, err = parseVersion(*minVersion); err != nil {
		return usageErr("-min-version: %v", err)
	}
	if cfg.MaxVersion, err = parseVersion(*maxVersion); err != nil {
		return usageErr("-max-version: %v", err)
	}
	if cfg.MinVersion > cfg.MaxVersion {
		return usageErr("-min-version %s is above -max-version %s", *minVersion, *maxVersion)
	}
	if cfg.Store, err = proxy.ParseStoreSpec(o.storeText); err != nil {
		return usageErr("-store: %v", err)
	}
	cfg.CacheMode, cfg.CacheModeSet = o.cacheMode, true
	if err := proxy.CheckCacheMode(cfg.CacheMode, cfg.Store, cfg.NoTicket); err != nil {
		return usageErr("-cache-mode: %v", err)
	}
	if len(*sidCtx) == 0 || len(*sidCtx) > ossl.MaxSessionIDContextLength {
		return usageErr("-sid-ctx must be 1 to %d bytes", ossl.MaxSessionIDContextLength)
	}
	cfg.SessionIDContext = *sidCtx
	if cfg.LookupTimeout <= 0 || cfg.HandshakeTimeout <= 0 || cfg.DialTimeout <= 0 || o.shutdownTimeout < 0 || cfg.SessionTimeout < 0 {
		return usageErr("timeouts must be positive")
	}
	if cfg.IdleTimeout < 0 {
		return usageErr("-idle-timeout must not be negative")
	}
	if cfg.MaxConns < 0 {
		return usageErr("-max-conns must not be negative")
	}
	if cfg.SessionTimeout > 0 && cfg.SessionTimeout < time.Second {
		return usageErr("-session-timeout must be at least 1s")
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return usageErr("-log-format must be text or json")
	}
	if err := proxy.CheckKeyFile(cfg.Store, cfg.RedisKeyFile); err != nil {
		return usageErr("%v", err)
	}
	if err := proxy.CheckEarlyData(cfg.EarlyData, cfg.MaxVersion); err != nil {
		return usageErr("-early-data: %v", err)
	}
	log := newLogger(stderr, o.logFormat, o.logLevel)
	cfg.Logger = log
	o.arenas = mallocArenas()
	srv, err := proxy.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "osslcache serve: %v\n", err)
		return 1
	}
	return serve(srv, o, log)
}

func serve(srv *proxy.Server, o serveOptions, log *slog.Logger) int {
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		log.Error("listen failed", "addr", o.listen, "err", err)
		srv.Close()
		return 1
	}
	var metricsSrv *http.Server
	if o.metrics != "" {
		ml, err := net.Listen("tcp", o.metrics)
		if err != nil {
			log.Error("metrics listen failed", "addr", o.metrics, "err", err)
			l.Close()
			srv.Close()
			return 1
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.MetricsHandler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = metricsSrv.Serve(ml) }()
		log.Info("metrics", "addr", ml.Addr().String(), "path", "/metrics")
	}
	// Signals are caught before "listening" is logged: a SIGHUP sent
	// once it is must reload, not kill.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg := srv.Config()
	log.Info("listening", "addr", l.Addr().String(), "upstream", cfg.Upstream, "store", cfg.Store.Text,
		"cache_mode", cfg.CacheMode.String(), "no_ticket", cfg.NoTicket, "ticket_keys", srv.Ctx().TicketKeyCount(),
		"sid_ctx", cfg.SessionIDContext, "min_version", cfg.MinVersion.String(), "max_version", cfg.MaxVersion.String(),
		"idle_timeout", cfg.IdleTimeout.String(), "max_conns", cfg.MaxConns, "malloc_arena_max", o.arenas,
		"openssl", ossl.OpenSSLVersion())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	code := 0
	var s os.Signal
	for s == nil && code == 0 {
		select {
		case <-hup:
			log.Info("reloading", "signal", "SIGHUP")
			err := srv.Reload() // it logs what loaded and what did not
			log.Info("reload done", "ok", err == nil)
		case s = <-sig:
		case err := <-served:
			log.Error("serve failed", "err", err)
			srv.Close()
			code = 1
		}
	}
	if s != nil {
		log.Info("shutting down", "signal", s.String(), "open_connections", srv.ActiveConnections(), "timeout", o.shutdownTimeout.String())
		srv.StopAccepting()
		if err := <-served; !errors.Is(err, proxy.ErrServerClosed) {
			log.Warn("serve", "err", err)
		}
		log.Info("draining", "open_connections", srv.ActiveConnections())
		ctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("shutdown deadline passed", "err", err)
		}
		cancel()
	}
	if metricsSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = metricsSrv.Shutdown(ctx)
		cancel()
	}
	log.Info("stopped", "exit_code", code)
	return code
}

// mallocArenas caps glibc's malloc arenas at GOMAXPROCS (at least 2)
// unless MALLOC_ARENA_MAX says otherwise, and says what is in force. glibc
// gives each thread that allocates an arena of its own, up to eight per
// core, and each keeps the memory freed into it; libssl allocates on
// whichever of Go's threads runs a handshake, and Go starts a thread for
// each cgo call that blocks a P, so RSS grew by tens of megabytes over
// bursts of handshakes with little in use (docs/proxy.md#memory).
func mallocArenas() string {
	if v, ok := os.LookupEnv("MALLOC_ARENA_MAX"); ok {
		return v + " (MALLOC_ARENA_MAX)"
	}
	n := max(2, runtime.GOMAXPROCS(0))
	if !limitMallocArenas(n) {
		return "libc default"
	}
	return strconv.Itoa(n)
}

func parseVersion(s string) (ossl.Version, error) {
	switch strings.TrimPrefix(strings.ToLower(s), "tls") {
	case "1.2", "v1.2":
		return ossl.VersionTLS12, nil
	case "1.3", "v1.3":
		return ossl.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q: want 1.2 or 1.3", s)
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
