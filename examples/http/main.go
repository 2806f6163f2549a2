// Command http is an HTTPS server on the system libssl, for net/http with
// a session cache shared by a fleet: HTTP/2 and HTTP/1.1 (osslhttp),
// sessions kept where -store says (the syntax of osslcache serve: none,
// memory, or redis://... with -redis-key-file). It answers every request
// with one line about the request's connection:
//
//	proto=HTTP/2.0 alpn=h2 resumed=true version=TLSv1.3
//
// Usage:
//
//	go run ./examples/http -listen ADDR -cert FILE -key FILE [-store SPEC] [-redis-key-file FILE] [-no-ticket]
//
// Two of them sharing a Redis store, a -redis-key-file and -no-ticket
// resume each other's sessions. SIGTERM or SIGINT shuts it down
// gracefully; it then logs how many handshakes it served and how many
// resumed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/osslhttp"
	"github.com/osslcache/osslcache/proxy"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

const usage = `usage: go run ./examples/http -listen ADDR -cert FILE -key FILE [-store SPEC] [-redis-key-file FILE] [-no-ticket]

Serves HTTPS (HTTP/2 and HTTP/1.1) with the system libssl and answers every
request with "proto=... alpn=... resumed=... version=...". Sessions are kept
where -store says; servers sharing a Redis store, a -redis-key-file, a -sid-ctx
and -no-ticket resume each other's sessions.

flags:
`

// answer is the one line the server answers: the request's protocol and
// its connection's ALPN protocol ("none" for none), resumption and TLS
// version. A request whose URL has the query parameter "close" is
// answered with "Connection: close": HTTP/1.1 closes the connection after
// the answer, HTTP/2 sends GOAWAY, and the client's next request comes on
// a new connection (curl drops a Connection header on HTTP/2 requests, so
// -H 'Connection: close' only closes HTTP/1.1 ones).
func answer(w http.ResponseWriter, r *http.Request) {
	st, _ := osslhttp.ConnectionState(r)
	alpn := st.NegotiatedProtocol
	if alpn == "" {
		alpn = "none"
	}
	if r.URL.Query().Has("close") {
		w.Header().Set("Connection", "close")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "proto=%s alpn=%s resumed=%v version=%v\n", r.Proto, alpn, st.DidResume, st.Version)
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:8443", "`address` to serve HTTPS on (host:port; port 0 picks one, logged)")
	certFile := fs.String("cert", "", "PEM certificate chain `file`, leaf first (required)")
	keyFile := fs.String("key", "", "PEM private key `file` (required)")
	storeText := fs.String("store", "memory", "session `store`, as osslcache serve's: "+proxy.StoreSyntax)
	redisKeyFile := fs.String("redis-key-file", "", "`file` of AES-256-GCM keys sealing sessions in Redis: id:base64key lines, the first current (required with a Redis store)")
	noTicket := fs.Bool("no-ticket", false, "set SSL_OP_NO_TICKET: TLS 1.2 resumes by session ID, TLS 1.3 issues stateful tickets, both through the store (needed to resume across servers sharing Redis)")
	ticketKeyFile := fs.String("ticket-key-file", "", "`file` of stateless ticket keys shared by a fleet (80 bytes each, raw or base64 lines)")
	sidCtx := fs.String("sid-ctx", proxy.DefaultSessionIDContext, "session id `context`: only servers with the same one resume each other's sessions")
	var cacheMode ossl.CacheMode
	fs.Var(&cacheMode, "cache-mode", "session cache `mode` of SSL_CTX_set_session_cache_mode, flags joined by | (default SERVER|NO_INTERNAL with a store, SERVER without)")
	lookupTimeout := fs.Duration("lookup-timeout", ossl.DefaultLookupTimeout, "bound on each store call; a slower lookup is a miss")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGTERM, how long to wait for requests in flight")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "http: "+format+"\n\n", a...)
		fs.Usage()
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected arguments %q", fs.Args())
	case *certFile == "" || *keyFile == "":
		return usageErr("-cert and -key are required")
	case len(*sidCtx) == 0 || len(*sidCtx) > ossl.MaxSessionIDContextLength:
		return usageErr("-sid-ctx must be 1 to %d bytes", ossl.MaxSessionIDContextLength)
	case *lookupTimeout <= 0 || *shutdownTimeout < 0:
		return usageErr("-lookup-timeout must be positive, -shutdown-timeout not negative")
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return usageErr("-listen %q: %v", *listen, err)
	}
	spec, err := proxy.ParseStoreSpec(*storeText)
	if err != nil {
		return usageErr("-store: %v", err)
	}
	cacheModeSet := false
	fs.Visit(func(f *flag.Flag) { cacheModeSet = cacheModeSet || f.Name == "cache-mode" })
	if !cacheModeSet {
		cacheMode = ossl.CacheServer
		if spec.Kind != proxy.StoreNone {
			cacheMode = proxy.DefaultCacheMode
		}
	}
	if err := proxy.CheckCacheMode(cacheMode, spec, *noTicket); err != nil {
		return usageErr("-cache-mode: %v", err)
	}
	keys, err := proxy.StoreKeys(spec, *redisKeyFile, log)
	if err != nil {
		return usageErr("%v", err)
	}
	var ticketKeys []ossl.TicketKey
	if *ticketKeyFile != "" {
		if ticketKeys, err = proxy.ReadTicketKeyFile(*ticketKeyFile); err != nil {
			return usageErr("-ticket-key-file: %v", err)
		}
	}

	st, err := proxy.OpenStore(spec, keys, *lookupTimeout, log)
	if err != nil {
		log.Error("store", "err", err)
		return 1
	}
	defer st.Close()
	ctx, err := newServerCtx(*certFile, *keyFile, *sidCtx, cacheMode, *noTicket, ticketKeys, st.SessionStore(), *lookupTimeout, log)
	if err != nil {
		log.Error("TLS context", "err", err)
		return 1
	}
	defer ctx.Close()

	hs := &http.Server{
		Handler:           http.HandlerFunc(answer),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv, err := osslhttp.NewServer(ctx, hs, osslhttp.Options{})
	if err != nil {
		log.Error("server", "err", err)
		return 1
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	log.Info("listening", "addr", l.Addr().String(), "store", spec.Text, "cache_mode", cacheMode.String(), "no_ticket", *noTicket,
		"shared_ticket_keys", ticketKeys != nil, "sid_ctx", *sidCtx, "openssl", ossl.OpenSSLVersion())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	code := 0
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String(), "timeout", shutdownTimeout.String())
		sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("shutdown deadline passed; closing what is left", "err", err)
			srv.Close()
		}
		cancel()
		<-served
	case err := <-served:
		log.Error("serve", "err", err)
		srv.Close()
		code = 1
	}
	s := ctx.Stats()
	log.Info("stopped", "handshakes", s.AcceptGood, "resumed", s.Hits, "exit_code", code)
	return code
}

// newServerCtx makes the server context: certificate, TLS 1.2 and up,
// session id context, cache mode, tickets and store.
func newServerCtx(certFile, keyFile, sidCtx string, mode ossl.CacheMode, noTicket bool, ticketKeys []ossl.TicketKey, sessions ossl.SessionStore, lookupTimeout time.Duration, log *slog.Logger) (*ossl.Ctx, error) {
	ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer, MinVersion: ossl.VersionTLS12})
	if err != nil {
		return nil, err
	}
	err = ctx.LoadCertificateFiles(certFile, keyFile)
	if err == nil {
		err = ctx.SetSessionIDContext([]byte(sidCtx))
	}
	if err == nil {
		_, err = ctx.SetSessionCacheMode(mode)
	}
	if err == nil && noTicket {
		_, err = ctx.SetOptions(ossl.OptionNoTicket)
	}
	if err == nil && ticketKeys != nil {
		err = ctx.SetTicketKeys(ticketKeys...)
	}
	if err == nil && sessions != nil {
		err = ctx.SetSessionStore(ossl.StoreConfig{
			Store:         sessions,
			LookupTimeout: lookupTimeout,
			OnEvent: func(ev ossl.Event) {
				if ev.Err != nil {
					log.Warn("session store", "kind", ev.Kind.String(), "op", ev.Op, "err", ev.Err)
				}
			},
		})
	}
	if err != nil {
		ctx.Close()
		return nil, err
	}
	return ctx, nil
}
