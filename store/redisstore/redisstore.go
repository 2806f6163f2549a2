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
// Redis is one node (Options.Addr), a Redis Cluster (Options.ClusterAddrs)
// or a master managed by Sentinel (Options.SentinelAddrs). Keys are
// "prefix:{hex(session id context):hex(session ID)}" (the braces are a
// Redis Cluster hash tag: every key of one session lives in one slot) and
// live for the session's remaining lifetime. Values are sealed with
// AES-256-GCM under the keyring's current key; the associated data binds
// each blob to its key name. Redis failures never fail a handshake: lookups
// miss, the handshake goes on as a full one, the error is counted, and
// resumption comes back when Redis does.
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
	// Addr is the host:port of a single Redis node (DefaultAddr if Addr,
	// ClusterAddrs and SentinelAddrs are all empty). Set one of the three.
	Addr string
	// ClusterAddrs are seed nodes of a Redis Cluster (any of them may be
	// down): the store learns the cluster's slots from whichever answers,
	// sends each key to its slot's master, and follows failovers and
	// MOVED redirections.
	ClusterAddrs []string
	// SentinelAddrs are Redis Sentinels that manage the master named
	// MasterName: the store asks them for the master's address, and
	// follows a failover to the replica they promote.
	SentinelAddrs []string
	MasterName    string
	// Username and Password authenticate to the Redis nodes (AUTH, or
	// HELLO with AUTH); Username empty means the default user. Sentinels
	// are queried without authentication.
	Username, Password string
	// DB selects a logical database (single node and Sentinel only: a
	// cluster has database 0 alone).
	DB int
	// TLS, if set, speaks TLS to Redis (and to the Sentinels). An empty
	// ServerName is taken from the node's address (Addr, or the first
	// seed address).
	TLS *tls.Config
	// ReplicaReads sends lookups to replicas (cluster: a replica of the
	// slot's master; Sentinel: a replica the sentinels name, through a
	// second pool), to spread the load. Writes still go to the masters. Refused with
	// SingleUse: a consumption must be checked where it is recorded, on
	// the master, or replication lag would let a consumed session resume
	// again. See docs/redis.md.
	ReplicaReads bool

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
	// PoolSize is the number of connections kept to each Redis node
	// (go-redis's default, 10 per GOMAXPROCS, if 0). After PoolSize failed
	// dials in a row the pool stops dialing and fails commands at once,
	// probing Redis once a second until it answers.
	PoolSize int
	// MaxRetries is how often a failed command is retried (0: never; a
	// lookup is worth less than the time a retry takes). A cluster
	// follows MOVED and ASK redirections whatever it is.
	MaxRetries int

	// SingleUse makes a session resume at most once, fleet-wide, as
	// TLS 1.3 advises for tickets (RFC 8446, section 8 and appendix C.4):
	// a lookup takes the session out of Redis and leaves a consumption
	// marker for the session's remaining lifetime, in one atomic step, so
	// that a blob put back after its use does not resume again. It holds
	// only where libssl keeps no copy of its own and every session goes
	// through the store: a cache mode with ossl.CacheNoInternalStore
	// (SERVER|NO_INTERNAL is the fleet setting) and SSL_OP_NO_TICKET
	// (ossl.OptionNoTicket), see CheckSingleUse; under any other setup
	// the store refuses every call (ErrSingleUse). With TLS 1.2 session
	// IDs it means every resumption after the first is a full handshake;
	// keep it for TLS 1.3.
	SingleUse bool
	// StoreStatelessTickets writes the sessions of stateless TLS 1.3
	// tickets too. libssl never looks those up (the client's ticket
	// carries the session, sealed under the ticket keys), so by default
	// they are not written: they would put master secrets at rest in Redis
	// and cost a write per ticket for nothing. Set it only if something
	// else reads them from Redis (an inventory of the sessions the fleet
	// issued, for auditing or forensics), knowing that Redis then holds
	// every session's master secret, sealed, for its lifetime.
	StoreStatelessTickets bool

	// Keys seal the sessions (AES-256-GCM). Required: sessions are always
	// written sealed.
	Keys Keyring
	// ReadPlaintext also accepts unsealed blobs on lookups, to migrate a
	// fleet whose older servers stored sessions in the clear: new
	// sessions are sealed, old ones still resume. It is dangerous:
	// anyone who can write to Redis can then plant a session with a
	// master secret of their choosing and resume it, as any client,
	// including one that authenticated with a client certificate. New
	// logs a warning; turn it off once the old sessions have expired.
	ReadPlaintext bool
	// Logger receives the plaintext warning, single-use refusals and Redis
	// outage/recovery notices (slog.Default() if nil).
	Logger *slog.Logger

	// MaxBlobSize bounds an encoded session (store.DefaultMaxBlobSize if 0).
	MaxBlobSize int
}

// Store is a store.KV in Redis. It is safe for concurrent use.
type Store struct {
	client                redis.UniversalClient // every write, and reads unless reads is another
	reads                 redis.UniversalClient // lookups without SingleUse
	closers               []redis.UniversalClient
	where                 string // the addresses, for logs and errors
	prefix                string
	lookupTimeout         time.Duration
	singleUse             bool
	storeStatelessTickets bool
	maxBlob               int // DER limit; a stored value may add the sealing overhead
	readPlaintext         bool
	log                   *slog.Logger
	sealer                atomic.Pointer[sealer]
	sessions              *sessionStore
	n                     counters
	health                health
	refusalLogged         atomic.Bool
	closeOnce             sync.Once
	closeErr              error
}

type counters struct {
	gets, hits, misses, replays, puts, expired, skipped, refused, deletes, sealed, opened,
	plaintextRead, openFailures, redisErrors, timeouts, earlyAllowed, earlyReplays atomic.Int64
}

// Stats counts what a Store did.
type Stats struct {
	Gets, Hits, Misses int64 // lookups; values found and opened; keys absent
	// Replays counts single-use lookups that found a session already
	// consumed (its marker was there): a blob put back after its use.
	// Each one is a miss.
	Replays int64
	Puts    int64 // values written
	Expired int64 // sessions not written: already expired
	// Skipped counts sessions of stateless TLS 1.3 tickets not written
	// (see Options.StoreStatelessTickets).
	Skipped int64
	// Refused counts calls refused because SingleUse cannot hold under the
	// serving context's setup (ErrSingleUse).
	Refused        int64
	Deletes        int64
	Sealed, Opened int64 // blobs sealed on Put; opened on Get
	PlaintextRead  int64 // unsealed blobs accepted (ReadPlaintext)
	// OpenFailures counts blobs that did not open: tampered, copied under
	// another key, sealed under a key no longer in the keyring, plaintext
	// where sealing is required, garbage. Each one is a miss.
	OpenFailures int64
	// RedisErrors counts failed Redis commands, Timeouts included.
	RedisErrors, Timeouts int64
	// Outages counts the times Redis stopped answering after it had
	// answered (at most one per ten seconds: the ones logged).
	Outages int64
	// EarlyDataAllowed counts first uses of a ticket's early data
	// (AllowEarlyData answered true); EarlyDataReplays the uses refused
	// because the ticket's early data had been accepted before.
	EarlyDataAllowed, EarlyDataReplays int64
	// Conns and IdleConns are the pool's connections now (over every node
	// of a cluster).
	Conns, IdleConns uint32
}

// ErrSingleUse is wrapped by the error of every call a SingleUse store
// refuses because the serving context's setup would let a session resume
// more than once; CheckSingleUse says why.
var ErrSingleUse = errors.New("redisstore: SingleUse cannot hold")

// CheckSingleUse reports whether SingleUse holds under a server context
// with cache mode m that sets SSL_OP_NO_TICKET or not (noTicket). It needs
// both of:
//
//   - ossl.CacheNoInternalStore in m: otherwise libssl keeps its own copy
//     of every session it makes, or finds in Redis, and resumes it again
//     from there;
//   - SSL_OP_NO_TICKET: otherwise TLS 1.3 sessions, and TLS 1.2 sessions of
//     clients that take tickets, live in stateless tickets that libssl
//     decrypts without a lookup, as often as they are offered.
func CheckSingleUse(m ossl.CacheMode, noTicket bool) error {
	if m&ossl.CacheNoInternalStore == 0 {
		return fmt.Errorf("%w: cache mode %v lacks NO_INTERNAL_STORE, so libssl keeps its own copy of every session and resumes it again (use SERVER|NO_INTERNAL)", ErrSingleUse, m)
	}
	if !noTicket {
		return fmt.Errorf("%w: stateless tickets are on, and a ticket resumes without a lookup as often as it is offered (set SSL_OP_NO_TICKET: Ctx.SetOptions(ossl.OptionNoTicket), serve -no-ticket)", ErrSingleUse)
	}
	return nil
}

// blobOverhead is the most sealing adds to a DER session.
const blobOverhead = 2 + MaxKeyIDLength + gcmNonceSize + 16

// markerFallbackTTL is how long a consumption marker lives when the
// consumed key had no expiry (only a key planted by hand has none): every
// session libssl makes expires sooner, at its default timeout of two hours.
const markerFallbackTTL = 24 * time.Hour

// consumeScript takes a single-use session out of Redis in one atomic
// step: it deletes the blob (KEYS[1]) and sets the consumption marker
// (KEYS[2]) for the blob's remaining lifetime (ARGV[1] milliseconds if it
// had none). It returns the blob, nil when there is none, or 0 when the
// marker was already there: the blob was consumed before and put back.
// Both keys share a hash tag, so the script runs on one cluster node.
var consumeScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return false end
local blob = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[1]) end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ttl) then return blob end
return 0
`)

// New returns a Store for opts. It does not contact Redis: a Store made
// while Redis is down serves misses (full handshakes) until Redis answers;
// call Ping to check the connection at start if you want to.
func New(opts Options) (*Store, error) {
	set := 0
	for _, b := range []bool{opts.Addr != "", len(opts.ClusterAddrs) > 0, len(opts.SentinelAddrs) > 0} {
		if b {
			set++
		}
	}
	switch {
	case set > 1:
		return nil, errors.New("redisstore: set one of Addr, ClusterAddrs and SentinelAddrs")
	case set == 0:
		opts.Addr = DefaultAddr
	}
	if (opts.MasterName != "") != (len(opts.SentinelAddrs) > 0) {
		return nil, errors.New("redisstore: SentinelAddrs and MasterName go together")
	}
	if len(opts.ClusterAddrs) > 0 && opts.DB != 0 {
		return nil, errors.New("redisstore: a Redis Cluster has database 0 only")
	}
	if opts.ReplicaReads && opts.SingleUse {
		return nil, errors.New("redisstore: ReplicaReads with SingleUse: a replica lagging behind its master would resume a session already consumed there")
	}
	if opts.ReplicaReads && opts.Addr != "" {
		return nil, errors.New("redisstore: ReplicaReads needs a cluster or Sentinel (a single node has no replicas to read from)")
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
	sl, err := newSealer(opts.Keys, opts.ReadPlaintext)
	if err != nil {
		return nil, err
	}
	client, reads, where := newClients(opts)
	s := &Store{
		client:                client,
		reads:                 reads,
		closers:               []redis.UniversalClient{client},
		where:                 where,
		prefix:                opts.Prefix,
		lookupTimeout:         opts.LookupTimeout,
		singleUse:             opts.SingleUse,
		storeStatelessTickets: opts.StoreStatelessTickets,
		maxBlob:               opts.MaxBlobSize,
		readPlaintext:         opts.ReadPlaintext,
		log:                   opts.Logger,
	}
	if reads != client {
		s.closers = append(s.closers, reads)
	}
	s.sealer.Store(sl)
	s.warnPlaintext(sl)
	s.sessions = &sessionStore{s: s, bytes: store.NewBytes(s, store.BytesOptions{MaxBlobSize: opts.MaxBlobSize})}
	return s, nil
}

// newClients makes the go-redis clients of opts' topology: the one for
// writes, and the one for plain lookups (the same one, but with Sentinel
// and ReplicaReads: a client of the replicas).
func newClients(opts Options) (client, reads redis.UniversalClient, where string) {
	retries := opts.MaxRetries
	if retries == 0 {
		retries = -1 // go-redis: -1 disables retries, 0 means 3
	}
	u := &redis.UniversalOptions{
		Username:              opts.Username,
		Password:              opts.Password,
		DB:                    opts.DB,
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
	}
	cluster, sentinel := len(opts.ClusterAddrs) > 0, len(opts.SentinelAddrs) > 0
	switch {
	case cluster:
		u.Addrs, u.IsClusterMode, u.ReadOnly = opts.ClusterAddrs, true, opts.ReplicaReads
	case sentinel:
		u.Addrs, u.MasterName = opts.SentinelAddrs, opts.MasterName
	default:
		u.Addrs = []string{opts.Addr}
	}
	if opts.TLS != nil {
		u.TLSConfig = opts.TLS
		if u.TLSConfig.ServerName == "" {
			u.TLSConfig = u.TLSConfig.Clone()
			if host, _, err := net.SplitHostPort(u.Addrs[0]); err == nil {
				u.TLSConfig.ServerName = host
			}
		}
	}
	where = strings.Join(u.Addrs, ",")
	if sentinel {
		where = opts.MasterName + "@" + where
	}
	// go-redis's cluster clients follow MOVED/ASK and retry a node that
	// does not answer within MaxRedirects attempts: no sleeping between
	// them, a lookup is worth less than the time a back-off takes.
	u.MinRetryBackoff, u.MaxRetryBackoff = -1, -1
	switch {
	case cluster:
		co := u.Cluster()
		co.ClusterStateReloadInterval = clusterReloadInterval
		client = redis.NewClusterClient(co) // ReadOnly: GET to a replica of the slot
		return client, client, where
	case sentinel:
		client = redis.NewFailoverClient(u.Failover())
		if !opts.ReplicaReads {
			return client, client, where
		}
		// A second client, of a replica the sentinels name. (go-redis's
		// FailoverClusterClient, which would route by itself, does not
		// close its sentinel connection on Close.)
		fo := u.Failover()
		fo.ReplicaOnly = true
		return client, redis.NewFailoverClient(fo), where
	}
	client = redis.NewClient(u.Simple())
	return client, client, where
}

// clusterReloadInterval bounds how stale the store's view of a cluster's
// slots may get while commands succeed (go-redis's default is a minute); a
// failed command asks for a reload at once (Store.fail).
const clusterReloadInterval = 5 * time.Second

func (s *Store) warnPlaintext(sl *sealer) {
	if sl.plaintext {
		s.log.Warn("redisstore: ReadPlaintext is on: unsealed sessions read from Redis are accepted. "+
			"Anyone who can write to Redis can now plant a session with a master secret of their choosing and resume it, "+
			"as any client, including one authenticated by a client certificate. "+
			"Keep it on only while migrating from plaintext storage, for at most one session lifetime.",
			"prefix", s.prefix, "current_key", sl.current)
	}
}

// SetKeys replaces the keyring, for rotation without a restart: blobs
// sealed from now on use k.Current, and only keys in k open blobs.
func (s *Store) SetKeys(k Keyring) error {
	sl, err := newSealer(k, s.readPlaintext)
	if err != nil {
		return err
	}
	s.sealer.Store(sl)
	s.warnPlaintext(sl)
	return nil
}

// SessionStore returns the ossl.SessionStore over s: a store.Bytes, with
// the checks that need the connection's ossl.LookupInfo (sessions of
// stateless tickets are not written; a SingleUse store refuses a setup
// under which single use cannot hold).
func (s *Store) SessionStore() ossl.SessionStore { return s.sessions }

// StoreConfig returns the configuration that installs s on a context with
// Ctx.SetSessionStore, its lookup timeout matching Options.LookupTimeout,
// reporting to onEvent (may be nil).
func (s *Store) StoreConfig(onEvent func(ossl.Event)) ossl.StoreConfig {
	return ossl.StoreConfig{Store: s.sessions, LookupTimeout: s.lookupTimeout, OnEvent: onEvent}
}

// Prefix returns the prefix of the store's keys.
func (s *Store) Prefix() string { return s.prefix }

// KeyName returns the Redis key of k:
// "prefix:{hex(IDContext):hex(ID)}". A SingleUse store marks a consumed
// session under the same name followed by ":consumed".
func (s *Store) KeyName(k store.Key) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + 4 + 2*len(k.IDContext) + 2*len(k.ID))
	b.WriteString(s.prefix)
	b.WriteString(":{")
	b.WriteString(hex.EncodeToString(k.IDContext))
	b.WriteByte(':')
	b.WriteString(hex.EncodeToString(k.ID))
	b.WriteByte('}')
	return b.String()
}

const (
	consumedSuffix  = ":consumed"
	earlyDataSuffix = ":early"
)

// AllowEarlyData is the fleet-wide anti-replay check of TLS 1.3 early
// data, for ossl.Ctx.SetAllowEarlyDataCallback: it answers true for the
// first use of a ticket's early data on any server sharing this Redis, and
// false for every later one. It records the use with SET NX under the
// session's key name followed by ":early" (the same hash tag, so the same
// cluster slot), expiring with the session. libssl names each ticket it
// issues by a fresh session ID, stateful or stateless, so a replayed
// ClientHello finds its mark. An expired session is refused without a
// command. An error (Redis down, or slower than ctx allows) is returned,
// and the bridge rejects the early data: the handshake completes without
// it, and the client sends its data again.
//
// The mark is written on the master, before the early data is accepted,
// so two servers racing on one ticket cannot both win. Its limits are in
// docs/redis.md (a failover can lose marks that had not reached the
// replica; clocks; the ticket age window).
//
// See https://docs.openssl.org/master/man3/SSL_CTX_set_max_early_data/.
func (s *Store) AllowEarlyData(ctx context.Context, req ossl.EarlyDataRequest) (bool, error) {
	ttl := time.Until(req.Expires)
	if ttl < time.Millisecond || len(req.SessionID) == 0 {
		return false, nil
	}
	name := s.KeyName(store.Key{IDContext: req.SessionIDContext, ID: req.SessionID}) + earlyDataSuffix
	first, err := s.client.SetNX(ctx, name, "1", ttl).Result()
	if err != nil {
		return false, s.fail("set nx", name, err)
	}
	s.ok()
	if !first {
		s.n.earlyReplays.Add(1)
		return false, nil
	}
	s.n.earlyAllowed.Add(1)
	return true, nil
}

// Get returns the session DER stored under k, or nil, nil when there is
// none. With SingleUse it also takes it out of Redis and marks it consumed;
// a session found consumed already is a miss (counted in Stats.Replays). A
// value that does not open is an error wrapping ErrOpen (a miss for the
// handshake).
func (s *Store) Get(ctx context.Context, k store.Key) ([]byte, error) {
	s.n.gets.Add(1)
	name := s.KeyName(k)
	var (
		blob []byte
		err  error
		op   = "get"
	)
	if s.singleUse {
		op = "evalsha"
		var v any
		v, err = consumeScript.Run(ctx, s.client, []string{name, name + consumedSuffix}, markerFallbackTTL.Milliseconds()).Result()
		if err == nil {
			switch v := v.(type) {
			case string:
				blob = []byte(v)
			case int64:
				s.ok()
				s.n.replays.Add(1)
				s.n.misses.Add(1)
				return nil, nil
			default:
				return nil, s.fail(op, name, fmt.Errorf("unexpected reply %T", v))
			}
		}
	} else {
		blob, err = s.reads.Get(ctx, name).Bytes()
		if err != nil && !errors.Is(err, redis.Nil) && s.reads != s.client && ctx.Err() == nil {
			// No replica to read from (a failover promoted the only
			// one, say): the master has the truth.
			_ = s.fail(op, name, err)
			blob, err = s.client.Get(ctx, name).Bytes()
		}
	}
	if errors.Is(err, redis.Nil) {
		s.ok()
		s.n.misses.Add(1)
		return nil, nil
	}
	if err != nil {
		return nil, s.fail(op, name, err)
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
	blob, err := s.sealer.Load().seal(name, value)
	if err != nil {
		return err
	}
	s.n.sealed.Add(1)
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

// Ping checks that Redis answers (one node of a cluster; the master of a
// Sentinel setup).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return s.fail("ping", "", err)
	}
	s.ok()
	return nil
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	var conns, idle uint32
	for _, c := range s.closers {
		ps := c.PoolStats()
		conns, idle = conns+ps.TotalConns, idle+ps.IdleConns
	}
	n := &s.n
	return Stats{
		Gets: n.gets.Load(), Hits: n.hits.Load(), Misses: n.misses.Load(), Replays: n.replays.Load(),
		Puts: n.puts.Load(), Expired: n.expired.Load(), Skipped: n.skipped.Load(), Refused: n.refused.Load(),
		Deletes: n.deletes.Load(), Sealed: n.sealed.Load(), Opened: n.opened.Load(),
		PlaintextRead: n.plaintextRead.Load(), OpenFailures: n.openFailures.Load(),
		RedisErrors: n.redisErrors.Load(), Timeouts: n.timeouts.Load(), Outages: s.health.outages.Load(),
		EarlyDataAllowed: n.earlyAllowed.Load(), EarlyDataReplays: n.earlyReplays.Load(),
		Conns: conns, IdleConns: idle,
	}
}

// Close closes the connections to Redis. Later calls fail (and count as
// Redis errors); the handshakes they serve go on as full ones.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		for _, c := range s.closers {
			if err := c.Close(); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

// fail counts a Redis error and wraps it. On a cluster it asks go-redis to
// read the slots again: a master that stopped answering gives no MOVED to
// learn from, and its replica may have been promoted. go-redis runs one
// reload at a time.
func (s *Store) fail(op, name string, err error) error {
	if cc, ok := s.client.(*redis.ClusterClient); ok && !errors.Is(err, redis.ErrClosed) {
		cc.ReloadState(context.Background())
	}
	s.n.redisErrors.Add(1)
	if isTimeout(err) {
		s.n.timeouts.Add(1)
	}
	s.health.down(s.log, s.where, err)
	if name != "" {
		return fmt.Errorf("redisstore: %s %s: %w", strings.ToUpper(op), name, err)
	}
	return fmt.Errorf("redisstore: %s: %w", strings.ToUpper(op), err)
}

func (s *Store) ok() { s.health.up(s.log, s.where) }

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sessionStore is the ossl.SessionStore of a Store: store.Bytes over the
// Store's KV methods, with the checks that need the connection's
// LookupInfo.
type sessionStore struct {
	s     *Store
	bytes *store.Bytes
}

// Put writes sess unless it is a stateless ticket's (and
// StoreStatelessTickets is off), or SingleUse cannot hold.
func (ss *sessionStore) Put(ctx context.Context, sess *ossl.Session) error {
	li, bridged := ossl.LookupInfoFrom(ctx)
	if li.StatelessTicket && !ss.s.storeStatelessTickets {
		sess.Close()
		ss.s.n.skipped.Add(1)
		return nil
	}
	if err := ss.s.refuse(li, bridged, !li.StatelessTicket); err != nil {
		sess.Close()
		return err
	}
	return ss.bytes.Put(ctx, sess)
}

// Get looks id up unless SingleUse cannot hold.
func (ss *sessionStore) Get(ctx context.Context, id []byte) (*ossl.Session, error) {
	li, bridged := ossl.LookupInfoFrom(ctx)
	if err := ss.s.refuse(li, bridged, true); err != nil {
		return nil, err
	}
	return ss.bytes.Get(ctx, id)
}

// Delete removes id's session.
func (ss *sessionStore) Delete(ctx context.Context, id []byte) error {
	return ss.bytes.Delete(ctx, id)
}

// refuse returns the error of a call that a SingleUse store must refuse
// under li (a call from the bridge); noTicket is what is known of
// SSL_OP_NO_TICKET from li. The first refusal is logged.
func (s *Store) refuse(li ossl.LookupInfo, bridged, noTicket bool) error {
	if !s.singleUse || !bridged {
		return nil
	}
	err := CheckSingleUse(li.CacheMode, noTicket)
	if err == nil {
		return nil
	}
	s.n.refused.Add(1)
	if s.refusalLogged.CompareAndSwap(false, true) {
		s.log.Error("redisstore: SingleUse store refuses to serve this context; its sessions are not shared (handshakes go on as full ones)",
			"prefix", s.prefix, "err", err)
	}
	return err
}

// health logs when Redis stops answering and when it is back: an outage at
// most once per logEvery, instead of once per failed command.
type health struct {
	isDown    atomic.Bool
	outages   atomic.Int64
	mu        sync.Mutex
	logged    time.Time // when an outage was last logged
	announced bool      // an outage was logged and its end was not
	failed    int64     // commands failed since it was logged
}

const logEvery = 10 * time.Second

func (h *health) down(log *slog.Logger, where string, err error) {
	h.isDown.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed++
	if h.announced || time.Since(h.logged) < logEvery {
		return
	}
	h.logged, h.announced, h.failed = time.Now(), true, 1
	h.outages.Add(1)
	log.Warn("redisstore: Redis command failed; the TLS sessions it holds are not shared until it answers (handshakes go on as full ones)",
		"redis", where, "err", err)
}

func (h *health) up(log *slog.Logger, where string) {
	if !h.isDown.Load() || !h.isDown.CompareAndSwap(true, false) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.announced {
		return
	}
	h.announced = false
	log.Info("redisstore: Redis answers again; TLS sessions are shared again", "redis", where, "failed_commands", h.failed)
}
