// Package redisstore keeps libssl server sessions in Redis, so that every
// TLS server of a fleet behind a load balancer can resume the sessions the
// others made.
//
// A Store is a store.KV of sealed session blobs; Store.SessionStore plugs it
// into ossl through store.Bytes:
//
//	rs, err := redisstore.New(redisstore.Options{Addr: "redis:6379", Keys: keyring})
//	...
//	server.SetSessionIDContext([]byte("checkout-api"))
//	server.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
//	server.SetSessionStore(rs.StoreConfig(onEvent))
//
// Keys are "prefix:hex(session id context):hex(session ID)" and live for the
// session's remaining lifetime. Values are sealed with AES-256-GCM under the
// keyring's current key; the associated data binds each blob to its key
// name. Redis failures never fail a handshake: lookups miss, the handshake
// goes on as a full one, the error is counted, and resumption comes back
// when Redis does.
package redisstore

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
)

// Defaults of Options.
const (
	DefaultAddr        = "127.0.0.1:6379"
	DefaultPrefix      = "osslcache"
	DefaultDialTimeout = time.Second
)

// Options configures a Store.
type Options struct {
	// Addr is Redis's host:port (DefaultAddr if empty).
	Addr string
	// Username and Password authenticate to Redis (AUTH, or HELLO with
	// AUTH); Username empty means the default user.
	Username, Password string
	// DB selects a logical database.
	DB int
	// TLS, if set, speaks TLS to Redis. An empty ServerName is taken from
	// Addr.
	TLS *tls.Config

	// Prefix starts every key (DefaultPrefix if empty). Servers that must
	// share sessions use the same one.
	Prefix string
	// LookupTimeout bounds each Redis command (ossl.DefaultLookupTimeout if
	// 0). StoreConfig hands it to the ossl bridge too, which abandons a
	// store call at that point and goes on with a full handshake.
	LookupTimeout time.Duration
	// DialTimeout bounds connecting to Redis (DefaultDialTimeout if 0).
	// Dials run in the background of the pool: a slow dial never holds a
	// handshake longer than LookupTimeout.
	DialTimeout time.Duration
	// PoolSize is the number of connections kept to Redis (go-redis's
	// default, 10 per GOMAXPROCS, if 0). After PoolSize failed dials in a
	// row the pool stops dialing and fails commands at once, probing Redis
	// once a second until it answers.
	PoolSize int
	// MaxRetries is how often a failed command is retried (0: never; a
	// lookup is worth less than the time a retry takes).
	MaxRetries int

	// SingleUse makes lookups atomic get-and-delete (GETDEL, Redis >= 6.2),
	// so that a session resumes at most once, fleet-wide, as TLS 1.3
	// advises for tickets (RFC 8446, section 8 and appendix C.4). With
	// TLS 1.2 session IDs this means every resumption after the first is a
	// full handshake; keep it for TLS 1.3.
	SingleUse bool

	// Keys seal the sessions (AES-256-GCM). Required unless AllowPlaintext.
	Keys Keyring
	// AllowPlaintext stores sessions in the clear when Keys has no current
	// key, and accepts plaintext blobs on lookups (to migrate a fleet to
	// sealing). A stored session holds its master secret: anyone who can
	// read Redis can then decrypt recorded traffic. New logs a warning.
	AllowPlaintext bool
	// Logger receives the plaintext warning and Redis outage/recovery
	// notices (slog.Default() if nil).
	Logger *slog.Logger

	// MaxBlobSize bounds an encoded session (store.DefaultMaxBlobSize if 0).
	MaxBlobSize int
}

// Store is a store.KV in Redis. It is safe for concurrent use.
type Store struct {
	client        *redis.Client
	addr          string
	prefix        string
	lookupTimeout time.Duration
	singleUse     bool
	maxBlob       int // DER limit; a stored value may add the sealing overhead
	plaintextOK   bool
	log           *slog.Logger
	sealer        atomic.Pointer[sealer]
	bytes         *store.Bytes
	n             counters
	health        health
	closeOnce     sync.Once
	closeErr      error
}

type counters struct {
	gets, hits, misses, puts, expired, deletes, sealed, opened,
	plaintextWritten, plaintextRead, openFailures, redisErrors, timeouts atomic.Int64
}

// Stats counts what a Store did.
type Stats struct {
	Gets, Hits, Misses int64 // lookups; values found and opened; keys absent
	Puts               int64 // values written
	Expired            int64 // sessions not written: already expired
	Deletes            int64
	Sealed, Opened     int64 // blobs sealed on Put; opened on Get
	PlaintextWritten   int64 // blobs written in the clear (AllowPlaintext)
	PlaintextRead      int64 // plaintext blobs accepted (AllowPlaintext)
	// OpenFailures counts blobs that did not open: tampered, copied under
	// another key, sealed under a key no longer in the keyring, plaintext
	// where sealing is required, garbage. Each one is a miss.
	OpenFailures int64
	// RedisErrors counts failed Redis commands, Timeouts included.
	RedisErrors, Timeouts int64
	// Conns and IdleConns are the pool's connections now.
	Conns, IdleConns uint32
}

// blobOverhead is the most sealing adds to a DER session.
const blobOverhead = 2 + MaxKeyIDLength + gcmNonceSize + 16

// New returns a Store for opts. It does not contact Redis: a Store made
// while Redis is down serves misses (full handshakes) until Redis answers;
// call Ping to check the connection at start if you want to.
func New(opts Options) (*Store, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = ossl.DefaultLookupTimeout
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.MaxBlobSize <= 0 {
		opts.MaxBlobSize = store.DefaultMaxBlobSize
	}
	if opts.PoolSize < 0 || opts.MaxRetries < 0 {
		return nil, errors.New("redisstore: negative PoolSize or MaxRetries")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	sl, err := newSealer(opts.Keys, opts.AllowPlaintext)
	if err != nil {
		return nil, err
	}
	retries := opts.MaxRetries
	if retries == 0 {
		retries = -1 // go-redis: -1 disables retries, 0 means 3
	}
	tlsConf := opts.TLS
	if tlsConf != nil && tlsConf.ServerName == "" {
		tlsConf = tlsConf.Clone()
		if host, _, err := net.SplitHostPort(opts.Addr); err == nil {
			tlsConf.ServerName = host
		}
	}
	s := &Store{
		client: redis.NewClient(&redis.Options{
			Addr:                  opts.Addr,
			Username:              opts.Username,
			Password:              opts.Password,
			DB:                    opts.DB,
			TLSConfig:             tlsConf,
			DialTimeout:           opts.DialTimeout,
			DialerRetries:         1, // the pool's own probe takes over after PoolSize failures
			ReadTimeout:           opts.LookupTimeout,
			WriteTimeout:          opts.LookupTimeout,
			ContextTimeoutEnabled: true,
			PoolSize:              opts.PoolSize,
			PoolTimeout:           opts.LookupTimeout,
			MaxRetries:            retries,
			// No CLIENT SETINFO (Redis >= 7.2) nor CLIENT
			// MAINT_NOTIFICATIONS (Redis Enterprise) on connect.
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		}),
		addr:          opts.Addr,
		prefix:        opts.Prefix,
		lookupTimeout: opts.LookupTimeout,
		singleUse:     opts.SingleUse,
		maxBlob:       opts.MaxBlobSize,
		plaintextOK:   opts.AllowPlaintext,
		log:           opts.Logger,
	}
	s.sealer.Store(sl)
	s.warnPlaintext(sl)
	s.bytes = store.NewBytes(s, store.BytesOptions{MaxBlobSize: opts.MaxBlobSize})
	return s, nil
}

func (s *Store) warnPlaintext(sl *sealer) {
	switch {
	case !sl.sealing():
		s.log.Warn("redisstore: TLS sessions are stored in Redis in plaintext; they hold their master secrets, "+
			"so anyone who can read Redis can decrypt the traffic of those sessions. Set Options.Keys to seal them.",
			"prefix", s.prefix)
	case sl.plaintext:
		s.log.Warn("redisstore: plaintext sessions read from Redis are accepted (AllowPlaintext); "+
			"drop AllowPlaintext once the fleet seals every session", "prefix", s.prefix, "current_key", sl.current)
	}
}

// SetKeys replaces the keyring, for rotation without a restart: blobs
// sealed from now on use k.Current, and only keys in k open blobs.
func (s *Store) SetKeys(k Keyring) error {
	sl, err := newSealer(k, s.plaintextOK)
	if err != nil {
		return err
	}
	s.sealer.Store(sl)
	s.warnPlaintext(sl)
	return nil
}

// SessionStore returns the ossl.SessionStore over s: a store.Bytes.
func (s *Store) SessionStore() ossl.SessionStore { return s.bytes }

// StoreConfig returns the configuration that installs s on a context with
// Ctx.SetSessionStore, its lookup timeout matching Options.LookupTimeout,
// reporting to onEvent (may be nil).
func (s *Store) StoreConfig(onEvent func(ossl.Event)) ossl.StoreConfig {
	return ossl.StoreConfig{Store: s.bytes, LookupTimeout: s.lookupTimeout, OnEvent: onEvent}
}

// Prefix returns the prefix of the store's keys.
func (s *Store) Prefix() string { return s.prefix }

// KeyName returns the Redis key of k: "prefix:hex(IDContext):hex(ID)".
func (s *Store) KeyName(k store.Key) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + 2 + 2*len(k.IDContext) + 2*len(k.ID))
	b.WriteString(s.prefix)
	b.WriteByte(':')
	b.WriteString(hex.EncodeToString(k.IDContext))
	b.WriteByte(':')
	b.WriteString(hex.EncodeToString(k.ID))
	return b.String()
}

// Get returns the session DER stored under k, or nil, nil when there is
// none. With SingleUse it also deletes it. A value that does not open is an
// error wrapping ErrOpen (a miss for the handshake).
func (s *Store) Get(ctx context.Context, k store.Key) ([]byte, error) {
	s.n.gets.Add(1)
	name := s.KeyName(k)
	var cmd *redis.StringCmd
	if s.singleUse {
		cmd = s.client.GetDel(ctx, name)
	} else {
		cmd = s.client.Get(ctx, name)
	}
	blob, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		s.ok()
		s.n.misses.Add(1)
		return nil, nil
	}
	if err != nil {
		return nil, s.fail(cmd.Name(), name, err)
	}
	s.ok()
	if len(blob) > s.maxBlob+blobOverhead {
		s.n.openFailures.Add(1)
		return nil, fmt.Errorf("%w: %s holds %d bytes, over the limit", ErrOpen, name, len(blob))
	}
	der, sealed, err := s.sealer.Load().open(name, blob)
	if err != nil {
		s.n.openFailures.Add(1)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if sealed {
		s.n.opened.Add(1)
	} else {
		s.n.plaintextRead.Add(1)
	}
	s.n.hits.Add(1)
	return der, nil
}

// Put seals value and stores it under k until expires; an already expired
// session is not stored.
func (s *Store) Put(ctx context.Context, k store.Key, value []byte, expires time.Time) error {
	ttl := time.Until(expires)
	if ttl < time.Millisecond {
		s.n.expired.Add(1)
		return nil
	}
	name := s.KeyName(k)
	sl := s.sealer.Load()
	blob, err := sl.seal(name, value)
	if err != nil {
		return err
	}
	if sl.sealing() {
		s.n.sealed.Add(1)
	} else {
		s.n.plaintextWritten.Add(1)
	}
	if err := s.client.Set(ctx, name, blob, ttl).Err(); err != nil {
		return s.fail("set", name, err)
	}
	s.ok()
	s.n.puts.Add(1)
	return nil
}

// Delete removes k.
func (s *Store) Delete(ctx context.Context, k store.Key) error {
	name := s.KeyName(k)
	if err := s.client.Del(ctx, name).Err(); err != nil {
		return s.fail("del", name, err)
	}
	s.ok()
	s.n.deletes.Add(1)
	return nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return s.fail("ping", "", err)
	}
	s.ok()
	return nil
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	ps := s.client.PoolStats()
	n := &s.n
	return Stats{
		Gets: n.gets.Load(), Hits: n.hits.Load(), Misses: n.misses.Load(),
		Puts: n.puts.Load(), Expired: n.expired.Load(), Deletes: n.deletes.Load(),
		Sealed: n.sealed.Load(), Opened: n.opened.Load(),
		PlaintextWritten: n.plaintextWritten.Load(), PlaintextRead: n.plaintextRead.Load(),
		OpenFailures: n.openFailures.Load(),
		RedisErrors:  n.redisErrors.Load(), Timeouts: n.timeouts.Load(),
		Conns: ps.TotalConns, IdleConns: ps.IdleConns,
	}
}

// Close closes the connections to Redis. Later calls fail (and count as
// Redis errors); the handshakes they serve go on as full ones.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.client.Close() })
	return s.closeErr
}

// fail counts a Redis error and wraps it.
func (s *Store) fail(op, name string, err error) error {
	s.n.redisErrors.Add(1)
	if isTimeout(err) {
		s.n.timeouts.Add(1)
	}
	s.health.down(s.log, s.addr, err)
	if name != "" {
		return fmt.Errorf("redisstore: %s %s: %w", strings.ToUpper(op), name, err)
	}
	return fmt.Errorf("redisstore: %s: %w", strings.ToUpper(op), err)
}

func (s *Store) ok() { s.health.up(s.log, s.addr) }

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// health logs when Redis stops answering and when it is back: an outage at
// most once per logEvery, instead of once per failed command.
type health struct {
	isDown    atomic.Bool
	mu        sync.Mutex
	logged    time.Time // when an outage was last logged
	announced bool      // an outage was logged and its end was not
	failed    int64     // commands failed since it was logged
}

const logEvery = 10 * time.Second

func (h *health) down(log *slog.Logger, addr string, err error) {
	h.isDown.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed++
	if h.announced || time.Since(h.logged) < logEvery {
		return
	}
	h.logged, h.announced, h.failed = time.Now(), true, 1
	log.Warn("redisstore: Redis command failed; TLS sessions are not shared until it answers (handshakes go on as full ones)",
		"addr", addr, "err", err)
}

func (h *health) up(log *slog.Logger, addr string) {
	if !h.isDown.Load() || !h.isDown.CompareAndSwap(true, false) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.announced {
		return
	}
	h.announced = false
	log.Info("redisstore: Redis answers again; TLS sessions are shared again", "addr", addr, "failed_commands", h.failed)
}
