// Package proxy is a TLS-terminating TCP proxy on libssl: each client
// connection's TLS is served by an ossl.Conn whose context keeps its
// sessions in libssl's cache and, through the session callbacks, in a Go
// store (in process, or in Redis, shared by every proxy of a fleet), and its
// plaintext is relayed to one upstream address. It logs each connection's
// resumption and exports the cache's counters for Prometheus.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store/redisstore"
)

// Defaults of Config.
const (
	DefaultSessionIDContext = "osslcache"
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	// DefaultCacheMode keeps sessions in the store only.
	DefaultCacheMode = ossl.CacheServer | ossl.CacheNoInternal
)

var errTooManyFiles error = syscall.EMFILE

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("proxy: server closed")

// Config configures a Server.
type Config struct {
	// Upstream is the host:port each client connection is relayed to.
	Upstream string
	// CertFile and KeyFile are the PEM certificate chain (leaf first) and
	// private key the proxy presents.
	CertFile, KeyFile string
	// MinVersion and MaxVersion bound the TLS versions (0: libssl's
	// default).
	MinVersion, MaxVersion ossl.Version
	// CacheMode is the server context's session cache mode
	// (DefaultCacheMode if 0; set ossl.CacheOff explicitly with
	// CacheModeSet).
	CacheMode    ossl.CacheMode
	CacheModeSet bool
	// Store says where sessions are kept besides (or instead of) libssl's
	// internal cache; the zero value is "none".
	Store StoreSpec
	// RedisKeyFile holds the keys that seal the sessions of a Redis store
	// (ReadKeyFile's format; required with a Redis store). Reload reads it
	// again.
	RedisKeyFile string
	// SessionIDContext names the service: only proxies with the same one
	// resume each other's sessions (DefaultSessionIDContext if empty).
	SessionIDContext string
	// LookupTimeout bounds each store call (ossl.DefaultLookupTimeout if 0).
	LookupTimeout time.Duration
	// NoTicket sets SSL_OP_NO_TICKET: TLS 1.2 resumes by session ID and
	// TLS 1.3 issues stateful tickets, both through the cache and store.
	NoTicket bool
	// TicketKeyFile, if set, holds the stateless ticket keys shared by a
	// fleet (ReadTicketKeyFile's format; without it each proxy makes its
	// own): the first seals new tickets, every one opens them, and a
	// ticket opened by any but the first is renewed
	// (ossl.Ctx.SetTicketKeys). Reload reads it again, to rotate.
	TicketKeyFile string
	// EarlyData, above 0, accepts up to that many bytes of TLS 1.3 early
	// data (0-RTT) per connection, relayed upstream as it arrives, under
	// an anti-replay check that replaces libssl's per-process one (which
	// is turned off: ossl.OptionNoAntiReplay): with a Redis store, the
	// store's fleet-wide AllowEarlyData; otherwise an in-process
	// store.ReplayFilter. Each ticket's early data is accepted once; a
	// replay, or a failed check (Redis down or slow), rejects it and the
	// handshake completes without it (earlydata.go).
	EarlyData uint32
	// SessionTimeout is the lifetime of new sessions (libssl's default, 7200 s, if 0).
	SessionTimeout time.Duration
	// HandshakeTimeout bounds each TLS handshake
	// (DefaultHandshakeTimeout if 0).
	HandshakeTimeout time.Duration
	// DialTimeout bounds connecting to Upstream (DefaultDialTimeout if 0).
	DialTimeout time.Duration
	// IdleTimeout, above 0, closes a connection that moved no byte in
	// either direction for that long once its handshake completed (both
	// sides: the client's gets close_notify).
	IdleTimeout time.Duration
	// MaxConns, above 0, bounds the connections served at once: with
	// that many open, Serve accepts no more (the kernel's backlog holds
	// new ones) until one ends. Each wait is counted
	// (osslcache_proxy_accept_limited_total).
	MaxConns int
	// Logger gets one line per connection (slog.Default() if nil).
	Logger *slog.Logger
}

// Server is a running proxy's state. Make it with New, run it with Serve,
// stop it with Shutdown or Close.
type Server struct {
	cfg   Config
	ctx   *ossl.Ctx
	store *openedStore
	log   *slog.Logger
	m     *metrics

	reloadMu sync.Mutex             // one Reload at a time
	loaded   atomic.Pointer[loaded] // what the files held when last read

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*proxyConn]struct{}
	closing   bool
	wg        sync.WaitGroup // connection handlers
	doneOnce  sync.Once

	slots     chan struct{} // one per connection served, when MaxConns bounds them
	stopped   chan struct{} // closed when Serve must stop accepting
	stopOnce  sync.Once
	upstreams net.Dialer

	baseCtx context.Context
	cancel  context.CancelFunc
}

// New builds the server context (certificate, versions, cache mode,
// tickets, session id context) and opens the store. It does not listen.
func New(cfg Config) (*Server, error) {
	if cfg.Upstream == "" {
		return nil, errors.New("proxy: no upstream address")
	}
	if !cfg.CacheModeSet && cfg.CacheMode == 0 {
		cfg.CacheMode = DefaultCacheMode
	}
	if err := CheckCacheMode(cfg.CacheMode, cfg.Store, cfg.NoTicket); err != nil {
		return nil, err
	}
	if err := CheckKeyFile(cfg.Store, cfg.RedisKeyFile); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if err := CheckEarlyData(cfg.EarlyData, cfg.MaxVersion); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if cfg.SessionIDContext == "" {
		cfg.SessionIDContext = DefaultSessionIDContext
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = ossl.DefaultLookupTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.IdleTimeout < 0 || cfg.MaxConns < 0 {
		return nil, errors.New("proxy: IdleTimeout and MaxConns must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	files, err := loadFiles(cfg)
	if err != nil {
		return nil, err
	}
	defer files.wipe()
	ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer, MinVersion: cfg.MinVersion, MaxVersion: cfg.MaxVersion})
	if err != nil {
		return nil, err
	}
	st, err := setupCtx(ctx, cfg, files)
	if err != nil {
		ctx.Close()
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		ctx:       ctx,
		store:     st,
		log:       cfg.Logger,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*proxyConn]struct{}{},
		stopped:   make(chan struct{}),
		upstreams: net.Dialer{Timeout: cfg.DialTimeout},
	}
	if cfg.MaxConns > 0 {
		s.slots = make(chan struct{}, cfg.MaxConns)
	}
	s.loaded.Store(&files.info)
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.m = newMetrics(s)
	if err := s.setupEarlyData(); err != nil {
		st.close()
		ctx.Close()
		return nil, err
	}
	files.info.log(s.log, cfg)
	return s, nil
}

// CheckCacheMode refuses modes under which the proxy would cache nothing it
// could find again, or that lack SERVER (OFF is allowed: no resumption),
// and a single-use Redis store under a setup where single use cannot hold
// (redisstore.CheckSingleUse), noTicket being SSL_OP_NO_TICKET.
func CheckCacheMode(m ossl.CacheMode, spec StoreSpec, noTicket bool) error {
	if spec.Kind == StoreRedis && spec.Redis.SingleUse {
		if err := redisstore.CheckSingleUse(m, noTicket); err != nil {
			return fmt.Errorf("proxy: single_use=1: %w", err)
		}
	}
	if m == ossl.CacheOff {
		return nil
	}
	if m&ossl.CacheServer == 0 {
		return fmt.Errorf("proxy: cache mode %v lacks SERVER", m)
	}
	if (spec.Kind == StoreNone || spec.Kind == "") && m&(ossl.CacheNoInternalLookup|ossl.CacheNoInternalStore) != 0 {
		return fmt.Errorf("proxy: cache mode %v turns libssl's internal cache off, and there is no store: nothing would resume (use -store memory or redis://..., or -cache-mode SERVER)", m)
	}
	return nil
}

func setupCtx(ctx *ossl.Ctx, cfg Config, files *keyFiles) (*openedStore, error) {
	if err := ctx.LoadCertificatePEM(files.certPEM, files.keyPEM); err != nil {
		return nil, err
	}
	if err := ctx.SetSessionIDContext([]byte(cfg.SessionIDContext)); err != nil {
		return nil, err
	}
	if _, err := ctx.SetSessionCacheMode(cfg.CacheMode); err != nil {
		return nil, err
	}
	if cfg.NoTicket {
		if _, err := ctx.SetOptions(ossl.OptionNoTicket); err != nil {
			return nil, err
		}
	}
	if files.ticketKeys != nil {
		if err := ctx.SetTicketKeys(files.ticketKeys...); err != nil {
			return nil, err
		}
	}
	if cfg.SessionTimeout > 0 {
		if _, err := ctx.SetTimeout(cfg.SessionTimeout); err != nil {
			return nil, err
		}
	}
	st, err := openStore(cfg.Store, files.redisKeys, cfg.LookupTimeout, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if ss := st.sessionStore(); ss != nil {
		err := ctx.SetSessionStore(ossl.StoreConfig{
			Store:         ss,
			LookupTimeout: cfg.LookupTimeout,
			OnEvent: func(ev ossl.Event) {
				cfg.Logger.Debug("session store event", "kind", ev.Kind.String(), "op", ev.Op, "err", ev.Err)
			},
		})
		if err != nil {
			st.close()
			return nil, err
		}
	}
	return st, nil
}

// Ctx returns the server context, for inspection (Stats, CallbackStats).
func (s *Server) Ctx() *ossl.Ctx { return s.ctx }

// Config returns the configuration in force, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Serve accepts connections on l until Shutdown or Close, serving each on
// its own goroutine. It returns ErrServerClosed after those, or the
// accept error that stopped it.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		if !s.takeSlot() {
			return ErrServerClosed
		}
		raw, err := l.Accept()
		if err != nil {
			s.releaseSlot()
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.m.accepted.Inc()
		pc := &proxyConn{raw: raw}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			raw.Close()
			s.releaseSlot()
			return ErrServerClosed
		}
		s.conns[pc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(pc)
	}
}

// takeSlot waits, when MaxConns connections are open, until one ends (or
// the server stops accepting: false), and takes its slot.
func (s *Server) takeSlot() bool {
	if s.slots == nil {
		return true
	}
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	s.m.acceptLimited.Inc()
	start := time.Now()
	defer func() { s.m.acceptLimitedSeconds.Add(time.Since(start).Seconds()) }()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-s.stopped:
		return false
	}
}

func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, then waits for the open connections to end
// until ctx is done, when it closes those left (and returns ctx's error
// with their count). It releases the context and the store after.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		n := s.closeConns()
		<-done
		err = fmt.Errorf("proxy: %d connections still open at the shutdown deadline were closed: %w", n, ctx.Err())
	}
	s.release()
	return err
}

// Close stops accepting, closes every connection at once and releases
// the context and the store.
func (s *Server) Close() error {
	s.stopAccepting()
	s.closeConns()
	s.wg.Wait()
	s.release()
	return nil
}

// ActiveConnections returns the number of connections being served.
func (s *Server) ActiveConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// StopAccepting closes the listeners: Serve returns ErrServerClosed, and
// open connections go on. Shutdown and Close call it.
func (s *Server) StopAccepting() { s.stopAccepting() }

func (s *Server) stopAccepting() {
	s.stopOnce.Do(func() { close(s.stopped) })
	s.mu.Lock()
	s.closing = true
	ls := make([]net.Listener, 0, len(s.listeners))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

func (s *Server) closeConns() int {
	s.cancel()
	s.mu.Lock()
	cs := make([]*proxyConn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
	return len(cs)
}

func (s *Server) release() {
	s.doneOnce.Do(func() {
		s.cancel()
		s.store.close()
		s.ctx.Close()
	})
}

// proxyConn is one client connection and, once dialed, its upstream.
type proxyConn struct {
	raw net.Conn
	mu  sync.Mutex
	tc  *ossl.Conn
	up  net.Conn
}

func (c *proxyConn) set(tc *ossl.Conn, up net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tc != nil {
		c.tc = tc
	}
	if up != nil {
		c.up = up
	}
}

// close breaks the connection (and its upstream) from outside its handler.
func (c *proxyConn) close() {
	c.mu.Lock()
	tc, up := c.tc, c.up
	c.mu.Unlock()
	if up != nil {
		up.Close()
	}
	if tc != nil {
		tc.Close()
	} else {
		c.raw.Close()
	}
}

func (s *Server) handle(pc *proxyConn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, pc)
		s.mu.Unlock()
		s.releaseSlot()
		s.wg.Done()
	}()
	s.m.active.Inc()
	defer s.m.active.Dec()
	remote := pc.raw.RemoteAddr().String()
	start := time.Now()
	tc, err := ossl.Server(pc.raw, s.ctx)
	if err != nil {
		pc.raw.Close()
		s.m.handshakeErrors.Inc()
		s.log.Warn("connection", "remote", remote, "err", err)
		return
	}
	pc.set(tc, nil)
	defer tc.Close()
	_ = pc.raw.SetDeadline(start.Add(s.cfg.HandshakeTimeout))
	up, early, err := s.relayEarlyData(pc, tc)
	if up != nil {
		defer up.Close()
	}
	if err == nil {
		err = tc.HandshakeContext(s.baseCtx)
	}
	if err != nil {
		if errors.As(err, new(*upstreamError)) {
			s.m.upstreamErrors.Inc()
			s.log.Warn("upstream dial failed", "remote", remote, "upstream", s.cfg.Upstream, "err", err)
			return
		}
		s.m.handshakeErrors.Inc()
		s.log.Warn("handshake failed", "remote", remote, "err", err, "handshake_ms", ms(time.Since(start)))
		return
	}
	_ = pc.raw.SetDeadline(time.Time{})
	hsTime := time.Since(start)
	st := tc.ConnectionState()
	s.m.handshake(st.Version, st.DidResume, hsTime)
	attrs := []any{"remote", remote, "version", st.Version.String(), "resumed", st.DidResume,
		"sni", st.ServerName, "handshake_ms", ms(hsTime)}
	if s.cfg.EarlyData > 0 {
		s.m.earlyData(st, early)
		attrs = append(attrs, "early_data", earlyDataResult(st), "early_data_bytes", early)
	}
	s.log.Info("connection", attrs...)

	if up == nil {
		if up, err = s.dialUpstream(); err != nil {
			s.m.upstreamErrors.Inc()
			s.log.Warn("upstream dial failed", "remote", remote, "upstream", s.cfg.Upstream, "err", err)
			return
		}
		defer up.Close()
	}
	pc.set(nil, up)
	in, out, idle := s.relay(tc, up)
	in += early
	if idle {
		s.m.idleTimeouts.Inc()
	}
	s.log.Debug("connection closed", "remote", remote, "bytes_in", in, "bytes_out", out, "duration_ms", ms(time.Since(start)), "idle_timeout", idle)
}

// relay copies both ways until both ends are done: a close_notify (or EOF)
// from the client half-closes the upstream, the upstream's EOF sends
// close_notify to the client. An error on either side ends both, and so
// does IdleTimeout without a byte either way (idle reports it). It copies
// the upstream's bytes on a goroutine of its own and the client's on the
// caller's; neither holds a buffer while it waits for bytes.
func (s *Server) relay(tc *ossl.Conn, up net.Conn) (in, out int64, idle bool) {
	var a *activity
	if s.cfg.IdleTimeout > 0 {
		a = newActivity(s.cfg.IdleTimeout, func() {
			up.Close()
			tc.Close()
		})
		defer a.stop()
	}
	toClient := make(chan error, 1)
	go func() {
		var err error
		out, err = copyFromUpstream(tc, up, a)
		s.m.bytesOut.Add(float64(out))
		if err == nil {
			err = tc.CloseWrite()
		}
		toClient <- err
	}()
	var err error
	in, err = io.Copy(a.writer(up), tc) // the client's bytes: ossl.Conn.WriteTo
	s.m.bytesIn.Add(float64(in))        // before the half-close the client may wait for
	if err == nil {
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			err = cw.CloseWrite()
		}
	}
	if err != nil {
		// Break the other direction too.
		up.Close()
		tc.Close()
	}
	if err := <-toClient; err != nil {
		up.Close()
		tc.Close()
	}
	return in, out, a.expired()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
