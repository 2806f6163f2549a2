// Package load is the CLI's load generator (osslcache load): a bounded
// number of TLS connections to a server on this machine's loopback, a
// share of them resuming, with crypto/tls or libssl clients.
package load

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// Client picks the TLS client a load runs.
type Client string

// Load clients.
const (
	// ClientGo is crypto/tls: it resumes TLS 1.3, and TLS 1.2 only
	// with tickets.
	ClientGo Client = "go"
	// ClientOssl is an ossl client (libssl), which also resumes TLS 1.2
	// by session ID.
	ClientOssl Client = "ossl"
)

// MaxConns bounds Config.Conns.
const MaxConns = 1_000_000

// Config is a bounded load on a TLS server: Conns connections, at most
// Concurrency at a time, of which the share ResumeShare offers a session
// from an earlier connection.
type Config struct {
	Addr        string // host:port; loopback addresses only
	ServerName  string // SNI, and the name checked in the certificate
	RootCAs     []byte // PEM; nil skips certificate verification
	Version     ossl.Version
	Client      Client
	Conns       int
	Concurrency int
	ResumeShare float64 // 0 to 1
	// Message is echoed through each connection after the handshake (so
	// that TLS 1.3 clients read their tickets, and the upstream is used).
	Message string
	// Timeout bounds each connection.
	Timeout time.Duration
}

// Result is what a load measured.
type Result struct {
	Conns, Offered, Resumed, Failed int
	Elapsed                         time.Duration
	// Handshake latencies (dial to handshake done), full and resumed.
	FullP50, FullP99, ResumedP50, ResumedP99 time.Duration
	FirstError                               error
}

// HandshakesPerSecond is completed connections over the elapsed time.
func (r Result) HandshakesPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Conns-r.Failed) / r.Elapsed.Seconds()
}

// ResumedShare is the share of completed connections that resumed.
func (r Result) ResumedShare() float64 {
	if done := r.Conns - r.Failed; done > 0 {
		return float64(r.Resumed) / float64(done)
	}
	return 0
}

// CheckLoopback refuses any address that is not on this machine's
// loopback: a load generator must not be pointed elsewhere by mistake.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address (127.0.0.0/8, ::1 or localhost): the load generator only targets this machine", addr)
	}
	return nil
}

// loader runs one kind of client.
type loader interface {
	// dial opens one connection, resuming if resume is set, and completes
	// its handshake; it returns the connection and how long the handshake
	// took, from the dial. The connection's deadline ends with the
	// timeout.
	dial(ctx context.Context, resume bool) (tlsConn, time.Duration, error)
	close()
}

// tlsConn is a client connection of either kind.
type tlsConn interface {
	ossltest.HalfCloser
	Close() error
	SetDeadline(time.Time) error
	DidResume() bool
}

// conn runs one connection through l: dial, echo cfg.Message, close. It
// reports whether it resumed.
func conn(ctx context.Context, l loader, cfg Config, resume bool) (bool, time.Duration, error) {
	c, hs, err := l.dial(ctx, resume)
	if err != nil {
		return false, hs, err
	}
	defer c.Close()
	if err := ossltest.Exchange(c, cfg.Message); err != nil {
		return false, hs, err
	}
	return c.DidResume(), hs, nil
}

func newLoader(cfg Config) (loader, error) {
	switch cfg.Client {
	case ClientGo, "":
		return newGoLoader(cfg)
	case ClientOssl:
		return newOsslLoader(cfg)
	}
	return nil, fmt.Errorf("unknown client %q (go or ossl)", cfg.Client)
}

// checkConfig checks what Run and Hold share, and fills in the defaults.
func checkConfig(cfg *Config) error {
	if err := CheckLoopback(cfg.Addr); err != nil {
		return err
	}
	if cfg.Conns <= 0 || cfg.Conns > MaxConns {
		return fmt.Errorf("conns must be 1 to %d", MaxConns)
	}
	if cfg.Concurrency <= 0 || cfg.Concurrency > 1024 {
		return errors.New("concurrency must be 1 to 1024")
	}
	if cfg.ResumeShare < 0 || cfg.ResumeShare > 1 {
		return errors.New("the resume share must be within 0 and 1")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Message == "" {
		cfg.Message = "ping"
	}
	return nil
}

// Run runs the load and returns what it measured. One full handshake
// first fills the session cache the resuming connections draw from; it is
// not counted.
func Run(ctx context.Context, cfg Config) (Result, error) {
	l, err := prepare(ctx, &cfg)
	if err != nil {
		return Result{}, err
	}
	defer l.close()

	type sample struct {
		offered, resumed bool
		d                time.Duration
		err              error
	}
	samples := make([]sample, cfg.Conns)
	start := time.Now()
	each(ctx, cfg, func(i int) {
		s := sample{offered: resumes(i, cfg.ResumeShare)}
		s.resumed, s.d, s.err = conn(ctx, l, cfg, s.offered)
		samples[i] = s
	})
	res := Result{Conns: cfg.Conns, Elapsed: time.Since(start)}
	var full, resumed []time.Duration
	for _, s := range samples {
		if s.offered {
			res.Offered++
		}
		switch {
		case s.err != nil:
			res.Failed++
			if res.FirstError == nil {
				res.FirstError = s.err
			}
		case s.resumed:
			res.Resumed++
			resumed = append(resumed, s.d)
		default:
			full = append(full, s.d)
		}
	}
	res.FullP50, res.FullP99 = percentile(full, 50), percentile(full, 99)
	res.ResumedP50, res.ResumedP99 = percentile(resumed, 50), percentile(resumed, 99)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// prepare checks cfg (filling in its defaults) and makes its loader;
// when some connections resume, it first makes one full handshake with
// the resuming client, whose session its empty cache keeps (not counted).
func prepare(ctx context.Context, cfg *Config) (loader, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	l, err := newLoader(*cfg)
	if err != nil {
		return nil, err
	}
	if cfg.ResumeShare > 0 {
		if _, _, err := conn(ctx, l, *cfg, true); err != nil {
			l.close()
			return nil, fmt.Errorf("first connection: %w", err)
		}
	}
	return l, nil
}

// each calls f for connections 0 to cfg.Conns-1, cfg.Concurrency at a
// time, each index once, until they are done or ctx ends.
func each(ctx context.Context, cfg Config, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Conns || ctx.Err() != nil {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// resumes says whether connection i offers a session: when the running
// share crosses an integer, so that exactly round(n*share) of n do,
// spread evenly.
func resumes(i int, share float64) bool {
	return int(float64(i+1)*share) > int(float64(i)*share)
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := (len(ds)*p + 99) / 100
	return ds[min(max(i-1, 0), len(ds)-1)]
}

type goLoader struct {
	full, resume *tls.Config
	cfg          Config
}

func newGoLoader(cfg Config) (*goLoader, error) {
	v := uint16(tls.VersionTLS13)
	if cfg.Version == ossl.VersionTLS12 {
		v = tls.VersionTLS12
	}
	base := &tls.Config{ServerName: cfg.ServerName, MinVersion: v, MaxVersion: v}
	if cfg.Version == 0 {
		base.MinVersion, base.MaxVersion = tls.VersionTLS12, tls.VersionTLS13
	}
	if cfg.RootCAs != nil {
		pool, err := certPool(cfg.RootCAs)
		if err != nil {
			return nil, err
		}
		base.RootCAs = pool
	} else {
		base.InsecureSkipVerify = true
	}
	resume := base.Clone()
	resume.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	return &goLoader{full: base, resume: resume, cfg: cfg}, nil
}

type goConn struct{ *tls.Conn }

func (c goConn) DidResume() bool { return c.ConnectionState().DidResume }

func (g *goLoader) dial(ctx context.Context, resume bool) (tlsConn, time.Duration, error) {
	cfg := g.full
	if resume {
		cfg = g.resume
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	start := time.Now()
	d := tls.Dialer{Config: cfg}
	nc, err := d.DialContext(ctx, "tcp", g.cfg.Addr)
	if err != nil {
		return nil, 0, err
	}
	hs := time.Since(start)
	c := nc.(*tls.Conn)
	_ = c.SetDeadline(start.Add(g.cfg.Timeout))
	return goConn{c}, hs, nil
}

func (g *goLoader) close() {}

type osslLoader struct {
	full, resume *ossl.Ctx
	cfg          Config
}

func newOsslLoader(cfg Config) (*osslLoader, error) {
	mk := func(cache bool) (*ossl.Ctx, error) {
		ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleClient, MinVersion: cfg.Version, MaxVersion: cfg.Version})
		if err != nil {
			return nil, err
		}
		if cfg.RootCAs != nil {
			if err := ctx.AddTrustedCertificatePEM(cfg.RootCAs); err != nil {
				ctx.Close()
				return nil, err
			}
			if err := ctx.SetVerify(ossl.VerifyPeer); err != nil {
				ctx.Close()
				return nil, err
			}
		}
		if cache {
			if _, err := ctx.SetSessionCacheMode(ossl.CacheClient | ossl.CacheNoInternalStore); err != nil {
				ctx.Close()
				return nil, err
			}
			if err := ctx.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{Capacity: 1})}); err != nil {
				ctx.Close()
				return nil, err
			}
		}
		return ctx, nil
	}
	full, err := mk(false)
	if err != nil {
		return nil, err
	}
	resume, err := mk(true)
	if err != nil {
		full.Close()
		return nil, err
	}
	return &osslLoader{full: full, resume: resume, cfg: cfg}, nil
}

type osslConn struct{ *ossl.Conn }

func (c osslConn) DidResume() bool { return c.ConnectionState().DidResume }

func (o *osslLoader) dial(ctx context.Context, resume bool) (tlsConn, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	start := time.Now()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", o.cfg.Addr)
	if err != nil {
		return nil, 0, err
	}
	_ = raw.SetDeadline(start.Add(o.cfg.Timeout))
	sslCtx, cc := o.full, ossl.ClientConfig{ServerName: o.cfg.ServerName}
	if resume {
		sslCtx, cc.CacheKey = o.resume, o.cfg.Addr
	}
	c, err := ossl.Client(raw, sslCtx, cc)
	if err != nil {
		raw.Close()
		return nil, 0, err
	}
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, 0, err
	}
	return osslConn{c}, time.Since(start), nil
}

func (o *osslLoader) close() {
	o.full.Close()
	o.resume.Close()
}

// Held is connections Hold opened and keeps open.
type Held struct {
	conns []tlsConn
	// Resumed counts the connections that resumed.
	Resumed int
	// Elapsed is how long opening them all took.
	Elapsed time.Duration
}

// Len is the number of connections held.
func (h *Held) Len() int { return len(h.conns) }

// Close closes every connection.
func (h *Held) Close() {
	for _, c := range h.conns {
		_ = c.Close()
	}
	h.conns = nil
}

// Hold opens cfg.Conns connections, at most cfg.Concurrency at a time
// (the share cfg.ResumeShare offering a session, as Run), completes their
// handshakes and keeps them open without sending anything: idle
// connections, for measuring what a server holds for each. Their
// deadlines are cleared. Any failure closes them all and is returned.
func Hold(ctx context.Context, cfg Config) (*Held, error) {
	l, err := prepare(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer l.close()
	h := &Held{conns: make([]tlsConn, cfg.Conns)}
	errs := make([]error, cfg.Conns)
	start := time.Now()
	each(ctx, cfg, func(i int) {
		c, _, err := l.dial(ctx, resumes(i, cfg.ResumeShare))
		if err == nil {
			err = c.SetDeadline(time.Time{})
		}
		h.conns[i], errs[i] = c, err
	})
	h.Elapsed = time.Since(start)
	err = ctx.Err()
	for i, c := range h.conns {
		if err == nil && errs[i] != nil {
			err = fmt.Errorf("connection %d: %w", i, errs[i])
		}
		if c != nil && c.DidResume() {
			h.Resumed++
		}
	}
	if err != nil {
		for _, c := range h.conns {
			if c != nil {
				_ = c.Close()
			}
		}
		return nil, err
	}
	return h, nil
}

func certPool(pem []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in the CA file")
	}
	return pool, nil
}
