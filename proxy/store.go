package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
	"github.com/osslcache/osslcache/store/redisstore"
)

// StoreKind names the session store behind a proxy.
type StoreKind string

// Store kinds.
const (
	StoreNone   StoreKind = "none"   // libssl's internal cache only
	StoreMemory StoreKind = "memory" // store.Memory, in process
	StoreRedis  StoreKind = "redis"  // redisstore, shared by every proxy on the same Redis
)

// StoreSyntax is the syntax of a store spec (ParseStoreSpec), for flag
// help texts.
const StoreSyntax = "none, memory[?capacity=N], redis://[user:pass@]host:port[/db][?params], " +
	"redis+cluster://[user:pass@]host:port,host:port,...[?params] (seed nodes of a Redis Cluster), redis+sentinel://[user:pass@]host:port,host:port,.../MASTERNAME[?params] (Redis Sentinels); " +
	"rediss... for TLS; params: prefix=P&single_use=1&store_stateless_tickets=1&read_plaintext=1&replica_reads=1&pool_size=N&dial_timeout=D"

// StoreSpec is a parsed -store value: "none", "memory", "memory?capacity=N",
// or a Redis URL, for one node, a Redis Cluster (seed nodes, any of which
// may be down) or a master managed by Redis Sentinel (the sentinels, and
// the master's name):
//
//	redis://[user:password@]host:port[/db][?params]
//	redis+cluster://[user:password@]host:port,host:port,...[/][?params]
//	redis+sentinel://[user:password@]host:port,host:port,.../MASTERNAME[?params]
//
// with params prefix=P, single_use=1, store_stateless_tickets=1,
// read_plaintext=1, pool_size=N, dial_timeout=1s, and, for a cluster or
// Sentinel, replica_reads=1: the redisstore.Options of the same names.
// rediss://, rediss+cluster:// and rediss+sentinel:// speak TLS to Redis
// (and the sentinels), verified against the system roots; the user and
// password authenticate to the Redis nodes. A port left out is 6379
// (26379 for a sentinel).
type StoreSpec struct {
	Kind StoreKind
	// MemoryCapacity bounds store.Memory (0: its default).
	MemoryCapacity int
	// Redis holds the connection options of a Redis store, without Keys
	// (those come from a key file) and Logger.
	Redis redisstore.Options
	// Text is the spec as given, with any password removed.
	Text string
}

// ParseStoreSpec reads a -store value. Unknown query parameters are errors,
// so that a typo does not silently change how sessions are kept.
func ParseStoreSpec(s string) (StoreSpec, error) {
	switch {
	case s == "none":
		return StoreSpec{Kind: StoreNone, Text: s}, nil
	case s == "memory" || strings.HasPrefix(s, "memory?"):
		spec := StoreSpec{Kind: StoreMemory, Text: s}
		q, err := url.ParseQuery(strings.TrimPrefix(strings.TrimPrefix(s, "memory"), "?"))
		if err != nil {
			return StoreSpec{}, fmt.Errorf("store %q: %v", s, err)
		}
		for k, v := range q {
			if k != "capacity" || len(v) != 1 {
				return StoreSpec{}, fmt.Errorf("store %q: unknown parameter %q (memory takes capacity=N)", s, k)
			}
			n, err := strconv.Atoi(v[0])
			if err != nil || n <= 0 {
				return StoreSpec{}, fmt.Errorf("store %q: capacity must be a positive integer", s)
			}
			spec.MemoryCapacity = n
		}
		return spec, nil
	case strings.HasPrefix(s, "redis") && strings.Contains(s, "://"):
		return parseRedisURL(s)
	}
	return StoreSpec{}, fmt.Errorf("store %q: want none, memory, or a redis://, redis+cluster:// or redis+sentinel:// URL (rediss for TLS)", s)
}

// hostsPlaceholder stands for the host list while net/url parses the rest
// of a Redis URL: it refuses host lists ("a:1,b:2").
const hostsPlaceholder = "hosts.invalid"

func parseRedisURL(s string) (StoreSpec, error) {
	scheme, rest, _ := strings.Cut(s, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	u, err := url.Parse(scheme + "://" + userinfo + hostsPlaceholder + tail)
	if err != nil {
		// Not the URL: it may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return StoreSpec{}, fmt.Errorf("store: not a valid Redis URL: %v", err)
	}
	redacted := strings.Replace(u.Redacted(), hostsPlaceholder, hosts, 1)
	spec := StoreSpec{Kind: StoreRedis}
	o := &spec.Redis
	base, topology, _ := strings.Cut(u.Scheme, "+")
	if base != "redis" && base != "rediss" || topology != "" && topology != "cluster" && topology != "sentinel" {
		return StoreSpec{}, fmt.Errorf("store %q: scheme %q: want redis, redis+cluster or redis+sentinel (rediss for TLS)", redacted, u.Scheme)
	}
	defaultPort := "6379"
	if topology == "sentinel" {
		defaultPort = "26379"
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return StoreSpec{}, fmt.Errorf("store %q: no host:port", redacted)
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defaultPort)
		}
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
			return StoreSpec{}, fmt.Errorf("store %q: address %q: want host:port", redacted, h)
		}
		addrs = append(addrs, h)
	}
	path := strings.TrimPrefix(u.Path, "/")
	switch topology {
	case "":
		if len(addrs) != 1 {
			return StoreSpec{}, fmt.Errorf("store %q: redis:// takes one host:port (redis+cluster:// or redis+sentinel:// take several)", redacted)
		}
		o.Addr = addrs[0]
		if path != "" {
			n, err := strconv.Atoi(path)
			if err != nil || n < 0 {
				return StoreSpec{}, fmt.Errorf("store %q: database %q is not a number", redacted, path)
			}
			o.DB = n
		}
	case "cluster":
		o.ClusterAddrs = addrs
		if path != "" && path != "0" {
			return StoreSpec{}, fmt.Errorf("store %q: a Redis Cluster has database 0 only", redacted)
		}
	case "sentinel":
		o.SentinelAddrs = addrs
		if path == "" || strings.Contains(path, "/") {
			return StoreSpec{}, fmt.Errorf("store %q: want the master's name as the path: redis+sentinel://host:port,.../MASTERNAME", redacted)
		}
		o.MasterName = path
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
		if _, set := u.User.Password(); !set {
			// redis://:password@ and redis://password@ both mean a
			// password for the default user.
			o.Username, o.Password = "", u.User.Username()
		}
	}
	if base == "rediss" {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	for k, v := range u.Query() {
		if len(v) != 1 {
			return StoreSpec{}, fmt.Errorf("store %q: parameter %q given %d times", redacted, k, len(v))
		}
		val := v[0]
		var perr error
		switch k {
		case "prefix":
			o.Prefix = val
		case "single_use":
			o.SingleUse, perr = strconv.ParseBool(val)
		case "store_stateless_tickets":
			o.StoreStatelessTickets, perr = strconv.ParseBool(val)
		case "read_plaintext":
			o.ReadPlaintext, perr = strconv.ParseBool(val)
		case "replica_reads":
			o.ReplicaReads, perr = strconv.ParseBool(val)
			if perr == nil && o.ReplicaReads && topology == "" {
				perr = errors.New("a single node has no replicas (redis+cluster:// or redis+sentinel://)")
			}
		case "allow_plaintext":
			return StoreSpec{}, fmt.Errorf("store %q: allow_plaintext is gone: sessions are always written sealed (-redis-key-file); read_plaintext=1 still reads unsealed ones while a fleet migrates", redacted)
		case "pool_size":
			o.PoolSize, perr = strconv.Atoi(val)
			if perr == nil && o.PoolSize <= 0 {
				perr = errors.New("must be positive")
			}
		case "dial_timeout":
			o.DialTimeout, perr = time.ParseDuration(val)
			if perr == nil && o.DialTimeout <= 0 {
				perr = errors.New("must be positive")
			}
		default:
			return StoreSpec{}, fmt.Errorf("store %q: unknown parameter %q (known: prefix, single_use, store_stateless_tickets, read_plaintext, replica_reads, pool_size, dial_timeout)", redacted, k)
		}
		if perr != nil {
			return StoreSpec{}, fmt.Errorf("store %q: %s=%q: %v", redacted, k, val, perr)
		}
	}
	if o.SingleUse && o.ReplicaReads {
		return StoreSpec{}, fmt.Errorf("store %q: replica_reads=1 with single_use=1: a replica lagging behind its master would resume a session already consumed there", redacted)
	}
	spec.Text = redacted
	return spec, nil
}

// ReadKeyFile reads a Redis store's sealing keys from a file holding a
// keyring in redisstore.ParseKeyring's form ("id:base64key[,id:base64key]",
// the first being current; blank lines and lines starting with # are
// skipped, other lines are joined with commas). It warns through log when
// the file can be read by others than its owner.
func ReadKeyFile(path string, log *slog.Logger) (redisstore.Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return redisstore.Keyring{}, err
	}
	if fi.Mode().Perm()&0o077 != 0 && log != nil {
		log.Warn("the Redis key file can be read by others than its owner; it protects every stored session's master secret",
			"file", path, "mode", fi.Mode().Perm().String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return redisstore.Keyring{}, err
	}
	var entries []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		entries = append(entries, line)
	}
	if len(entries) == 0 {
		return redisstore.Keyring{}, fmt.Errorf("%s: no key", path)
	}
	k, err := redisstore.ParseKeyring(strings.Join(entries, ","))
	if err != nil {
		return redisstore.Keyring{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// openedStore is a store a Server made and closes.
type openedStore struct {
	spec   StoreSpec
	memory *store.Memory
	redis  *redisstore.Store
}

func (o *openedStore) sessionStore() ossl.SessionStore {
	switch {
	case o.memory != nil:
		return o.memory
	case o.redis != nil:
		return o.redis.SessionStore()
	}
	return nil
}

func (o *openedStore) close() {
	if o.memory != nil {
		o.memory.Close()
	}
	if o.redis != nil {
		_ = o.redis.Close()
	}
}

func openStore(spec StoreSpec, keys redisstore.Keyring, lookupTimeout time.Duration, log *slog.Logger) (*openedStore, error) {
	o := &openedStore{spec: spec}
	switch spec.Kind {
	case StoreNone, "":
	case StoreMemory:
		o.memory = store.NewMemory(store.MemoryOptions{Capacity: spec.MemoryCapacity})
	case StoreRedis:
		ro := spec.Redis
		ro.Keys = keys
		ro.LookupTimeout = lookupTimeout
		ro.Logger = log
		rs, err := redisstore.New(ro)
		if err != nil {
			return nil, err
		}
		o.redis = rs
	default:
		return nil, fmt.Errorf("unknown store kind %q", spec.Kind)
	}
	return o, nil
}
