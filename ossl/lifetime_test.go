package ossl_test

// Regression tests of object lifetimes: what a Go programmer may do with
// the values the package hands out (close them, keep them, use them from
// another goroutine, drop them, let the collector run) and what foreign C
// code may do to the objects it shares. Built with -asan, any use after
// free or double free fails them; the stress target runs them many times
// on more threads than cores.

import (
	"context"
	"encoding/asn1"
	"errors"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// stressFactor scales the loops of these tests (OSSLCACHE_STRESS; the
// stress target raises it).
func stressFactor(t testing.TB) int {
	if v := os.Getenv("OSSLCACHE_STRESS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		return max(n, 1)
	}
	return 1
}

// collectConstantly runs the garbage collector in a loop until the test
// ends, so that cleanups of unreachable objects run at any moment.
func collectConstantly(t testing.TB) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
}

// TestCloseDoesNotRaceItsCleanup is the regression test of the heap abort
// of issue 11 ("free(): corrupted unsorted chunks" in Session.Close, under
// the whole suite on 2 cores). Close stopped the object's runtime cleanup
// with runtime.Cleanup.Stop, which has a value receiver: nothing kept the
// object reachable across the call, so a collection that ran in that
// window found the object unreachable and queued the cleanup, which freed
// the pointer Close freed too. Here every Close drops the last reference
// to its object while collections run back to back.
func TestCloseDoesNotRaceItsCleanup(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	r := handshake(t, client, server, ossltest.Options{})
	collectConstantly(t)
	n := 2000 * stressFactor(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				ref, err := r.ServerSession.Ref()
				if !assert.NoError(t, err) {
					return
				}
				ref.Close()
				if i%16 == 0 {
					ssl, err := server.NewSSL()
					if !assert.NoError(t, err) {
						return
					}
					ssl.Close()
					c, err := ossl.NewCtx(ossl.Config{})
					if !assert.NoError(t, err) {
						return
					}
					c.Close()
				}
			}
		}()
	}
	wg.Wait()
}

// closingStore closes the session Put hands it, a normal Go habit.
type closingStore struct{ ossl.SessionStore }

func (c closingStore) Put(ctx context.Context, s *ossl.Session) error {
	defer s.Close()
	d, err := s.Dup()
	if err != nil {
		return err
	}
	return c.SessionStore.Put(ctx, d)
}

// keepingStore keeps the session Put hands it and reads it after the
// callback, from another goroutine.
type keepingStore struct {
	ossl.SessionStore
	mu   sync.Mutex
	kept []*ossl.Session
}

func (k *keepingStore) Put(ctx context.Context, s *ossl.Session) error {
	r, err := s.Ref()
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.kept = append(k.kept, s)
	k.mu.Unlock()
	return k.SessionStore.Put(ctx, r)
}

func (k *keepingStore) useLater(t *testing.T) {
	k.mu.Lock()
	kept := k.kept
	k.kept = nil
	k.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range kept {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			der, err := s.Marshal()
			assert.NoError(t, err)
			assert.NotEmpty(t, der)
			assert.NotEmpty(t, s.ID())
		}()
	}
	wg.Wait()
}

// TestStoresOwnWhatPutHandsThem (item 1): a store may close the session
// Put hands it, or keep it and use it after the callback, on any protocol
// and mode: the session is a reference the store owns. Before, Put got
// libssl's own reference on loan: closing it freed libssl's (heap
// corruption, a double free under -asan, a hang in SSL_CTX_free).
func TestStoresOwnWhatPutHandsThem(t *testing.T) {
	for _, mode := range []ossl.CacheMode{ossl.CacheServer | ossl.CacheNoInternal, ossl.CacheServer} {
		for _, v := range allVariants {
			for _, kind := range []string{"closing", "keeping"} {
				t.Run(mode.String()+"/"+v.Name+"/"+kind, func(t *testing.T) {
					server, client := newServer(t, v), newClient(t, v)
					setMode(t, server, mode)
					inner := store.NewBytes(store.NewMapKV(store.MapKVOptions{}), store.BytesOptions{})
					var s ossl.SessionStore = closingStore{inner}
					keep := &keepingStore{SessionStore: inner}
					if kind == "keeping" {
						s = keep
					}
					// Not inline, and never timed out: the test is about
					// ownership, whatever the machine's load.
					require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: s, LookupTimeout: time.Minute}))
					sess := handshake(t, client, server, ossltest.Options{}).ClientSession
					for range 3 {
						r := handshake(t, client, server, ossltest.Options{Session: sess})
						assert.True(t, r.ServerReused)
						sess = r.ClientSession
					}
					keep.useLater(t)
					cs := server.CallbackStats()
					assert.Equal(t, cs.NewCalls, cs.Stored)
					assert.Zero(t, cs.StoreErrors+cs.Panics+cs.Rejected)
					require.NoError(t, server.Close())
				})
			}
		}
	}
}

// clientCache closes (or keeps and reads later) what Put hands it.
type clientCache struct {
	*store.ClientLRU
	close bool
	mu    sync.Mutex
	kept  []*ossl.Session
}

func (c *clientCache) Put(key string, s *ossl.Session) {
	if s == nil {
		c.ClientLRU.Put(key, nil)
		return
	}
	r, err := s.Ref()
	if err == nil {
		c.ClientLRU.Put(key, r)
	}
	if c.close {
		s.Close()
		return
	}
	c.mu.Lock()
	c.kept = append(c.kept, s)
	c.mu.Unlock()
}

// TestClientCachesOwnWhatPutHandsThem is item 1 for ClientSessionCache.
func TestClientCachesOwnWhatPutHandsThem(t *testing.T) {
	for _, v := range allVariants {
		for _, closing := range []bool{true, false} {
			t.Run(v.Name+"/close="+strconv.FormatBool(closing), func(t *testing.T) {
				server, client := newServer(t, v), newClient(t, v)
				setMode(t, client, ossl.CacheClient|ossl.CacheNoInternalStore)
				cache := &clientCache{ClientLRU: store.NewClientLRU(store.ClientLRUOptions{}), close: closing}
				require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: cache}))
				for i := range 4 {
					r := handshake(t, client, server, ossltest.Options{CacheKey: "localhost:443"})
					assert.Equal(t, i > 0, r.ClientReused, "handshake %d: %+v %+v offered=%v", i, client.CallbackStats(), server.Stats(), r.Offered)
				}
				cache.mu.Lock()
				for _, s := range cache.kept {
					_, err := s.Marshal()
					assert.NoError(t, err)
					s.Close()
				}
				cache.mu.Unlock()
				require.NoError(t, client.Close())
			})
		}
	}
}

// TestServerNameSwitchToUnkeptContexts (item 2): the server-name callback
// returns a context nothing else keeps, made for the connection, while
// the collector runs; or one closed meanwhile (a hot reload). The bridge
// holds its own reference until libssl has taken one. Before, the
// SSL_CTX* went to C with no reference and could be freed first (SEGV).
func TestServerNameSwitchToUnkeptContexts(t *testing.T) {
	front, client := newServer(t, tls13), newClient(t, tls13)
	collectConstantly(t)
	var made atomic.Int64
	require.NoError(t, front.SetServerNameCallback(func(string) (*ossl.Ctx, error) {
		made.Add(1)
		return ossltest.NewServerCtx(testCert(t), tls13.ServerOptions())
	}))
	n := 50 * stressFactor(t)
	for range n {
		r := handshake(t, client, front, ossltest.Options{ServerName: "other.test"})
		assert.True(t, r.ServerCtxSwitched)
	}
	assert.Equal(t, int64(n), made.Load())

	// A context closed before the bridge took its reference fails the
	// handshake (internal_error), never a freed SSL_CTX.
	require.NoError(t, front.SetServerNameCallback(func(string) (*ossl.Ctx, error) {
		c, err := ossltest.NewServerCtx(testCert(t), tls13.ServerOptions())
		if err == nil {
			c.Close()
		}
		return c, err
	}))
	_, err := ossltest.Handshake(client, front, ossltest.Options{ServerName: "other.test"})
	var oe *ossl.Error
	require.ErrorAs(t, err, &oe)
	assert.True(t, oe.HasReason("internal error"), err.Error())
	assert.Equal(t, int64(1), front.CallbackStats().SNIRefused)
}

// TestServerNameCallbackRefuses: an error refuses the connection with its
// alert (unrecognized_name for an error that is not an Alert); a panic
// with internal_error.
func TestServerNameCallbackRefuses(t *testing.T) {
	tests := []struct {
		name   string
		fn     func(string) (*ossl.Ctx, error)
		reason string
	}{
		{"error", func(string) (*ossl.Ctx, error) { return nil, errors.New("no such tenant") }, "unrecognized name"},
		{"alert", func(string) (*ossl.Ctx, error) { return nil, ossl.AlertAccessDenied }, "access denied"},
		{"panic", func(string) (*ossl.Ctx, error) { panic("boom") }, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client := newServer(t, tls13), newClient(t, tls13)
			require.NoError(t, server.SetServerNameCallback(tt.fn))
			_, err := ossltest.Handshake(client, server, ossltest.Options{ServerName: "x.test"})
			var oe *ossl.Error
			require.ErrorAs(t, err, &oe)
			assert.True(t, oe.HasReason(tt.reason), err.Error())
			assert.Equal(t, int64(1), server.CallbackStats().SNIRefused)
			require.NoError(t, server.SetServerNameCallback(nil))
			handshake(t, client, server, ossltest.Options{ServerName: "x.test"})
		})
	}
}

// TestMethodsRaceClose (item 3): every method of Ctx, SSL and Session may
// race Close (a Prometheus scrape during shutdown): it returns ErrClosed
// or a zero value, or finishes first; nothing touches freed memory.
func TestMethodsRaceClose(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	r := handshake(t, client, server, ossltest.Options{})
	n := 100 * stressFactor(t)
	race := func(closeIt func(), calls ...func()) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, f := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range 4 {
					f()
				}
			}()
		}
		close(start)
		closeIt()
		wg.Wait()
	}
	for range n {
		c, err := ossltest.NewServerCtx(testCert(t), tls12.ServerOptions())
		require.NoError(t, err)
		race(func() { c.Close() },
			func() { _ = c.Stats() },
			func() { _ = c.CallbackStats() },
			func() { _ = c.SessionCacheMode(); _, _ = c.SetSessionCacheMode(ossl.CacheBoth) },
			func() { _ = c.SetSessionStore(ossl.StoreConfig{Store: store.NewMemory(store.MemoryOptions{})}) },
			func() {
				if s, err := c.NewSSL(); err == nil {
					s.Close()
				} else {
					assert.ErrorIs(t, err, ossl.ErrClosed)
				}
			},
			func() { _, _ = c.AddSession(r.ServerSession); _ = c.FlushSessions(time.Time{}) },
			func() { _ = c.SetTicketKeys(ossl.TicketKey{1}); _ = c.TicketKeyCount() },
		)

		ssl, err := server.NewSSL()
		require.NoError(t, err)
		race(ssl.Close,
			func() { _ = ssl.SetServerName("localhost"); _ = ssl.ServerName() },
			func() { _ = ssl.SetSession(r.ClientSession); _ = ssl.Session() },
			func() { _ = ssl.Version(); _ = ssl.SessionReused(); _ = ssl.ContextSwitched() },
		)

		s, err := r.ServerSession.Dup()
		require.NoError(t, err)
		race(s.Close,
			func() { _ = s.ID(); _ = s.Expires(); _ = s.IsResumable() },
			func() { _, _ = s.Marshal() },
			func() {
				if d, err := s.Dup(); err == nil {
					d.Close()
				}
				if x, err := s.Ref(); err == nil {
					x.Close()
				}
			},
			func() { _ = s.SetTime(time.Now()); _ = s.SetID([]byte("x")) },
		)
	}
}

// TestConnMethodsRaceClose is item 3 for Conn: ConnectionState, Session
// and Close from several goroutines while one reads.
func TestConnMethodsRaceClose(t *testing.T) {
	srv := ossltest.NewServer(newServer(t, tls13), nil)
	t.Cleanup(srv.Close)
	client := newClient(t, tls13)
	for range 20 * stressFactor(t) {
		c, err := srv.Dial(client, ossl.ClientConfig{ServerName: "localhost"})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = c.ConnectionState()
				c.Session().Close()
				_ = c.Close()
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.Read(make([]byte, 8))
		}()
		wg.Wait()
	}
}

// TestRemovesForwardedWhileConnectionsHoldClosedCtx (item 4a): Close drops
// the Go owner's reference; while connections still hold the SSL_CTX, it
// serves, and its removals reach the store. Only the removals of
// SSL_CTX_free, once the last reference is gone, are skipped. Before,
// Close marked the context as closing and every later removal was
// skipped.
func TestRemovesForwardedWhileConnectionsHoldClosedCtx(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	_, err := server.SetSessionCacheSize(2) // evictions call the remove callback
	require.NoError(t, err)
	mem := store.NewMemory(store.MemoryOptions{})
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: mem}))
	pairs := make([]*ossltest.Pair, 5)
	for i := range pairs {
		pairs[i] = newPair(t, client, server)
	}
	require.NoError(t, server.Close())
	for _, p := range pairs {
		_, err := p.Handshake()
		require.NoError(t, err)
		_, err = p.Read(ossltest.ClientSide, 1)
		require.NoError(t, err)
		require.NoError(t, p.Shutdown(ossltest.ClientSide))
	}
	cs := server.CallbackStats()
	assert.Equal(t, int64(5), cs.NewCalls)
	assert.Positive(t, cs.RemoveCalls, "the full cache evicted, and the store heard of it")
	assert.Equal(t, cs.RemoveCalls, cs.Deleted)
	assert.Zero(t, cs.RemoveSkipped)
	for _, p := range pairs {
		p.Close()
	}
	cs = server.CallbackStats()
	assert.Positive(t, cs.RemoveSkipped, "the last connection freed the context; its cache was emptied, not forwarded")
	assert.Equal(t, int(cs.NewCalls-cs.Deleted), mem.Len(), "the store kept what SSL_CTX_free emptied")
}

// TestFreeByForeignOwnerSkipsRemoves (item 4b): a context made by foreign
// code and wrapped lives until the last of the foreign owner and the
// wrapper lets go; the free that empties its cache forwards nothing.
// Before, a wrapped context freed by its owner forwarded every cached
// session as a delete.
func TestFreeByForeignOwnerSkipsRemoves(t *testing.T) {
	for _, foreignFirst := range []bool{true, false} {
		t.Run("foreign-frees-first="+strconv.FormatBool(foreignFirst), func(t *testing.T) {
			p := osslhooks.Foreign.NewServerCtx()
			require.NotNil(t, p)
			w, err := ossl.WrapCtx(p)
			require.NoError(t, err)
			require.NoError(t, w.LoadCertificatePEM(testCert(t).CertPEM, testCert(t).KeyPEM))
			require.NoError(t, w.SetSessionIDContext([]byte("test")))
			_, err = w.SetOptions(ossl.OptionNoTicket)
			require.NoError(t, err)
			mem := store.NewMemory(store.MemoryOptions{})
			require.NoError(t, w.SetSessionStore(ossl.StoreConfig{Store: mem}))
			client := newClient(t, tls12)
			for range 3 {
				handshake(t, client, w, ossltest.Options{})
			}
			require.Equal(t, int64(3), w.Stats().Sessions)
			if foreignFirst {
				osslhooks.Foreign.FreeCtx(p)
				assert.Equal(t, int64(3), w.Stats().Sessions, "the wrapper's reference keeps the context")
				require.NoError(t, w.Close())
			} else {
				require.NoError(t, w.Close())
				osslhooks.Foreign.FreeCtx(p)
			}
			cs := w.CallbackStats()
			assert.Equal(t, int64(3), cs.RemoveSkipped)
			assert.Zero(t, cs.RemoveCalls)
			assert.Equal(t, 3, mem.Len(), "the store kept every session")
		})
	}
}

// releasable blocks callers until released.
type releasable struct {
	once sync.Once
	ch   chan struct{}
}

func newReleasable(t testing.TB) *releasable {
	r := &releasable{ch: make(chan struct{})}
	t.Cleanup(r.release)
	return r
}

func (r *releasable) release()   { r.once.Do(func() { close(r.ch) }) }
func (r *releasable) wait() bool { <-r.ch; return true }

// blockingDeletes is a memory store whose Delete waits until released.
type blockingDeletes struct {
	*store.Memory
	gate    *releasable
	waiting atomic.Int64
}

func (b *blockingDeletes) Delete(ctx context.Context, id []byte) error {
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	b.gate.wait()
	return b.Memory.Delete(ctx, id)
}

// TestRemovesNeverBlockLibssl (item 5): libssl calls the remove callback
// holding the context's cache lock (a flush, an eviction, the auto-clear).
// Deletes are queued, never waited for: a flush of 20 sessions returns
// while the store's Delete hangs, a full handshake meanwhile completes,
// and what the bounded queue cannot hold is dropped and counted. Before,
// each delete held the lock up to the lookup timeout.
func TestRemovesNeverBlockLibssl(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	st := &blockingDeletes{Memory: store.NewMemory(store.MemoryOptions{}), gate: newReleasable(t)}
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: st, LookupTimeout: time.Hour, DeleteQueue: 4}))
	for range 20 {
		handshake(t, client, server, ossltest.Options{})
	}
	require.Equal(t, int64(20), server.Stats().Sessions)
	flushed := make(chan error, 1)
	go func() { flushed <- server.FlushSessions(time.Time{}) }()
	select {
	case err := <-flushed:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("FlushSessions waited for the store's deletes")
	}
	handshake(t, client, server, ossltest.Options{})
	cs := server.CallbackStats()
	assert.Equal(t, int64(20), cs.RemoveCalls)
	assert.GreaterOrEqual(t, cs.RemoveDropped, int64(20-4-1), "a queue of 4 and one delete in the store")
	st.gate.release()
	require.Eventually(t, func() bool {
		cs := server.CallbackStats()
		return cs.Deleted+cs.RemoveDropped == cs.RemoveCalls
	}, 30*time.Second, time.Millisecond)
}

// TestEmbeddingDoesNotInheritInline (item 6): a store that embeds
// *store.Memory and overrides Delete with one that blocks is not run
// inline: its delete is queued, and RemoveSession returns. Before, the
// promoted NeverBlocks made it inline, with no timeout at all.
func TestEmbeddingDoesNotInheritInline(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	st := &blockingDeletes{Memory: store.NewMemory(store.MemoryOptions{}), gate: newReleasable(t)}
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: st, LookupTimeout: time.Hour}))
	r := handshake(t, client, server, ossltest.Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := server.RemoveSession(r.ServerSession)
		assert.NoError(t, err)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("RemoveSession ran the embedding store's Delete inline")
	}
	require.Eventually(t, func() bool { return st.waiting.Load() == 1 }, 30*time.Second, time.Millisecond)
	st.gate.release()
	require.Eventually(t, func() bool { return server.CallbackStats().Deleted == 1 }, 30*time.Second, time.Millisecond)
}

// withTimeout returns der with the session's timeout field ([2] EXPLICIT
// INTEGER of SSL_SESSION_ASN1) set to secs.
func withTimeout(t *testing.T, der []byte, secs int64) []byte {
	var fields []asn1.RawValue
	rest, err := asn1.Unmarshal(der, &fields)
	require.NoError(t, err)
	require.Empty(t, rest)
	v, err := asn1.Marshal(secs)
	require.NoError(t, err)
	found := false
	for i, f := range fields {
		if f.Class == asn1.ClassContextSpecific && f.Tag == 2 {
			fields[i] = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: v}
			found = true
		}
	}
	require.True(t, found, "the DER has a timeout field")
	out, err := asn1.Marshal(fields)
	require.NoError(t, err)
	return out
}

// TestHugeSessionTimeouts (item 7): a session decoded from DER may carry
// any timeout. Durations and expiries saturate; the store keeps it, the
// bridge resumes it. Before, 2^40 s gave a negative Timeout, an Expires in
// 1795, and store.Memory dropped the session silently; the C check added
// the times as signed integers (undefined on INT64_MAX).
func TestHugeSessionTimeouts(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	setMode(t, server, ossl.CacheServer|ossl.CacheNoInternal)
	mem := store.NewMemory(store.MemoryOptions{})
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: mem}))
	r := handshake(t, client, server, ossltest.Options{})
	der, err := r.ServerSession.Marshal()
	require.NoError(t, err)
	for _, secs := range []int64{1 << 40, math.MaxInt64} {
		t.Run(strconv.FormatInt(secs, 10), func(t *testing.T) {
			s, err := ossl.UnmarshalSession(withTimeout(t, der, secs))
			require.NoError(t, err)
			assert.Positive(t, s.Timeout())
			if secs == 1<<40 {
				assert.Equal(t, time.Duration(math.MaxInt64), s.Timeout(), "saturated")
			}
			assert.True(t, s.Expires().After(time.Now().Add(100*365*24*time.Hour)), "expires %v", s.Expires())
			require.NoError(t, mem.Put(context.Background(), s))
			res := handshake(t, client, server, ossltest.Options{Session: r.ClientSession})
			assert.True(t, res.ServerReused, "resumed from the stored session")
		})
	}
}

// TestServerNameOfACollectedSSL (item 8): ServerName reads libssl's string
// while it holds the SSL object, so a caller that drops the object at once
// cannot have it freed under the read. Before, KeepAlive came before
// C.GoString.
func TestServerNameOfACollectedSSL(t *testing.T) {
	client := newClient(t, tls13)
	collectConstantly(t)
	for range 2000 * stressFactor(t) {
		s, err := client.NewSSL()
		require.NoError(t, err)
		_ = s.SetServerName("x.test")
		assert.Equal(t, "x.test", s.ServerName())
	}
}

// TestForeignSSLDup (item 9): foreign code that copies an SSL with
// SSL_dup copies the bridge's ex_data too: each copy owns its own. Before,
// the client cache key slot had no dup function and both freed one string.
func TestForeignSSLDup(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: store.NewClientLRU(store.ClientLRUOptions{})}))
	require.NoError(t, server.SetServerNameCallback(func(string) (*ossl.Ctx, error) { return nil, nil }))
	for range 100 {
		s, err := client.NewSSL()
		require.NoError(t, err)
		_, err = s.UseClientSessionCache("localhost:443")
		require.NoError(t, err)
		free, err := osslhooks.Foreign.DupSSL(s)
		require.NoError(t, err)
		free()
		s.Close()
	}
	// A server SSL switched by a server-name callback holds the context
	// it was made from in ex_data, with a reference each copy owns.
	p := newPair(t, client, server)
	require.NoError(t, p.Client.SetServerName("localhost"))
	_, err := p.Handshake()
	require.NoError(t, err)
	free, err := osslhooks.Foreign.DupSSL(p.Server)
	require.NoError(t, err)
	free()
}

// hangingGets is a memory store whose Get waits until released.
type hangingGets struct {
	*store.Memory
	gate *releasable
}

func (h *hangingGets) Get(ctx context.Context, id []byte) (*ossl.Session, error) {
	h.gate.wait()
	return h.Memory.Get(ctx, id)
}

// TestSkippedPutReleasesItsSession (item 10): when too many store calls
// were abandoned and still run, a Put is skipped; the session it was to
// get is released at once, not left to the collector. With -tags
// ossl_memdebug it counts OpenSSL's heap blocks with the collector off.
func TestSkippedPutReleasesItsSession(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	setMode(t, server, ossl.CacheServer|ossl.CacheNoInternal)
	st := &hangingGets{Memory: store.NewMemory(store.MemoryOptions{}), gate: newReleasable(t)}
	sess := handshake(t, client, server, ossltest.Options{}).ClientSession
	// Fill the abandoned calls with 256 lookups that hang until the test
	// ends (no Put meanwhile: only the get callback is installed).
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: st, Callbacks: ossl.CallbackGet, LookupTimeout: time.Millisecond}))
	for range 256 {
		handshake(t, client, server, ossltest.Options{Session: sess})
	}
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: st, LookupTimeout: time.Millisecond}))
	before := server.CallbackStats()
	require.Equal(t, int64(256), before.Timeouts, "256 lookups hang, abandoned")
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	blocks0, counting := osslhooks.LiveOpenSSLAllocations()
	for range 20 {
		r, err := ossltest.Handshake(client, server, ossltest.Options{})
		require.NoError(t, err)
		r.Close()
	}
	blocks1, _ := osslhooks.LiveOpenSSLAllocations()
	cs := server.CallbackStats()
	assert.Equal(t, int64(20), cs.StoreErrors-before.StoreErrors, "the Puts were skipped")
	assert.Zero(t, cs.Stored-before.Stored)
	if counting {
		t.Logf("OpenSSL heap blocks: %d before, %d after 20 skipped Puts, collector off", blocks0, blocks1)
		assert.InDelta(t, blocks0, blocks1, 64, "a skipped Put's session is released at once")
	}
}
