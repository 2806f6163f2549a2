package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// TestMain fails the package if any goroutine outlives the tests: go-redis
// pools, the bridge's store calls and the redis-server watchers must all be
// gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// variant is one protocol setup with server-side session state (so that
// resumption needs a lookup): TLS 1.2 session IDs or TLS 1.3 stateful
// tickets.
type variant = ossltest.Variant

var (
	tls12         = ossltest.TLS12
	tls13         = ossltest.TLS13 // stateless tickets: never looked up
	tls13Stateful = ossltest.TLS13Stateful
	variants      = []variant{tls12, tls13Stateful}
)

func testCert(t testing.TB) *ossltest.Certificate { return testutil.Cert(t) }

// newServer makes a server context with tickets off (every resumption is a
// lookup), session id context sidCtx, and no internal cache: every session
// goes through the store.
func newServer(t testing.TB, v variant, sidCtx string) *ossl.Ctx {
	o := v.ServerOptions()
	o.SessionIDContext = []byte(sidCtx)
	ctx, err := ossltest.NewServerCtx(testCert(t), o)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	_, err = ctx.SetSessionCacheMode(ossl.CacheServer | ossl.CacheNoInternal)
	require.NoError(t, err)
	return ctx
}

func newClient(t testing.TB, v variant) *ossl.Ctx {
	o := v.ClientOptions()
	o.VerifyServer = true
	ctx, err := ossltest.NewClientCtx(testCert(t), o)
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

func handshake(t testing.TB, client, server *ossl.Ctx, sess *ossl.Session) *ossltest.Result {
	t.Helper()
	r, err := ossltest.Handshake(client, server, ossltest.Options{Session: sess})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

var prefixSeq atomic.Int64

// uniquePrefix keeps tests sharing one Redis apart.
func uniquePrefix(t testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("t%d-%s", prefixSeq.Add(1), name)
}

func testKeyring(t testing.TB, ids ...string) redisstore.Keyring {
	k := redisstore.Keyring{Keys: map[string][]byte{}}
	for i, id := range ids {
		key, err := redisstore.NewKey()
		require.NoError(t, err)
		k.Keys[id] = key
		if i == 0 {
			k.Current = id
		}
	}
	return k
}

// quietLogger drops the store's log lines (outage notices, warnings).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newStore makes a Store with a fresh key and prefix unless o sets them,
// closed when the test ends. Tests that do not play with timeouts get a
// lookup timeout generous enough for a loaded CI machine (and the race
// detector): a slow first dial must not turn an expected resumption into a
// full handshake.
func newStore(t testing.TB, addr string, o redisstore.Options) *redisstore.Store {
	t.Helper()
	o.Addr = addr
	if o.LookupTimeout == 0 {
		o.LookupTimeout = 2 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = uniquePrefix(t)
	}
	if o.Keys.Current == "" && o.Keys.Keys == nil {
		o.Keys = testKeyring(t, "k1")
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	s, err := redisstore.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// events records what the bridge reports.
type events struct {
	mu   sync.Mutex
	list []ossl.Event
}

func (e *events) add(ev ossl.Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	e.mu.Unlock()
}

func (e *events) count(kind ossl.EventKind, op string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Kind == kind && (op == "" || ev.Op == op) {
			n++
		}
	}
	return n
}

func (e *events) all() []ossl.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ossl.Event(nil), e.list...)
}

func (e *events) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.list)
}

// install puts s on server, reporting to ev.
func install(t testing.TB, server *ossl.Ctx, s *redisstore.Store, ev *events) {
	t.Helper()
	var hook func(ossl.Event)
	if ev != nil {
		hook = ev.add
	}
	require.NoError(t, server.SetSessionStore(s.StoreConfig(hook)))
}

// checkLeaks, called first in a test, verifies when the test's cleanups
// have run (redis-servers killed, stores closed) that no goroutine is left.
// go-redis's dial probe may take a second to notice its pool is closed.
func checkLeaks(t *testing.T) {
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := goleak.Find()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines leaked: %v", err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// connectedClients returns how many clients the server has, this one
// included.
func connectedClients(t testing.TB, srv *redistest.Server) int {
	t.Helper()
	v, err := srv.Do(context.Background(), "CLIENT", "LIST")
	require.NoError(t, err)
	return strings.Count(strings.TrimSpace(v.(string)), "\n") + 1
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawGet reads a value as stored, bypassing the store.
func rawGet(t testing.TB, srv *redistest.Server, key string) []byte {
	t.Helper()
	v, err := srv.Do(context.Background(), "GET", key)
	require.NoError(t, err)
	return []byte(v.(string))
}

// scanKeys returns the keys matching pattern, sorted.
func scanKeys(t testing.TB, srv *redistest.Server, pattern string) []string {
	t.Helper()
	v, err := srv.Do(context.Background(), "KEYS", pattern)
	require.NoError(t, err)
	var keys []string
	for _, k := range v.([]any) {
		keys = append(keys, k.(string))
	}
	sort.Strings(keys)
	return keys
}

func rawSet(t testing.TB, srv *redistest.Server, key string, val []byte) {
	t.Helper()
	_, err := srv.Do(context.Background(), "SET", key, val, "EX", 300)
	require.NoError(t, err)
}

func isOpenErr(ev ossl.Event) bool { return errors.Is(ev.Err, redisstore.ErrOpen) }
