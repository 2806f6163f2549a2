package ossl_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
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

// storeKinds are the shipped server stores, fresh per test.
var storeKinds = []struct {
	name string
	make func() ossl.SessionStore
}{
	{"memory", func() ossl.SessionStore { return store.NewMemory(store.MemoryOptions{}) }},
	{"bytes", func() ossl.SessionStore {
		return store.NewBytes(store.NewMapKV(store.MapKVOptions{}), store.BytesOptions{})
	}},
}

// TestResumeFromGoStore makes a Go store the server's only cache
// (SERVER|NO_INTERNAL) and resumes from it, under every variant.
func TestResumeFromGoStore(t *testing.T) {
	for _, sk := range storeKinds {
		for _, v := range allVariants {
			t.Run(sk.name+"/"+v.Name, func(t *testing.T) {
				server, client := newServer(t, v), newClient(t, v)
				setMode(t, server, ossl.CacheServer|ossl.CacheNoInternal)
				var events []ossl.Event
				require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: sk.make(), OnEvent: func(e ossl.Event) { events = append(events, e) }}))

				full := handshake(t, client, server, ossltest.Options{})
				require.False(t, full.ServerReused)
				cs := server.CallbackStats()
				if v == tls12Tickets {
					// A TLS 1.2 session sent as a ticket has no session ID;
					// ssl_update_cache skips it (no callback, no caching).
					assert.Zero(t, cs.NewCalls)
				} else {
					assert.Positive(t, cs.NewCalls, "the new-session callback ran")
				}
				assert.Equal(t, cs.NewCalls, cs.Stored)
				assert.Equal(t, int64(0), server.Stats().Sessions, "NO_INTERNAL_STORE kept the internal cache empty")

				res := handshake(t, client, server, ossltest.Options{Session: full.ClientSession})
				assert.True(t, res.ServerReused)
				assert.True(t, res.ClientReused)
				cs = server.CallbackStats()
				st := server.Stats()
				if v.NoTicket {
					// Session IDs and stateful tickets are looked up.
					assert.Equal(t, int64(1), cs.GetCalls)
					assert.Equal(t, int64(1), cs.GetHits)
					assert.Equal(t, int64(1), st.CallbackHits)
				} else {
					// Stateless tickets carry the session: no lookup.
					assert.Equal(t, int64(0), cs.GetCalls)
				}
				assert.Equal(t, int64(1), st.Hits)
				assert.Empty(t, events)
			})
		}
	}
}

// TestLookupInfoStatelessTicket: Put is told when the session is sealed
// into a stateless TLS 1.3 ticket, which libssl never looks up; no other
// session, and no Get, is marked so.
func TestLookupInfoStatelessTicket(t *testing.T) {
	tests := []struct {
		v         variant
		stateless bool // every Put is of a stateless ticket
		resumeGet bool // the resumption looks the session up
	}{
		{tls12, false, true},
		{tls13, true, false},
		{tls13Stateful, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.v.Name, func(t *testing.T) {
			server, client := newServer(t, tt.v), newClient(t, tt.v)
			setMode(t, server, ossl.CacheServer|ossl.CacheNoInternal)
			var mu sync.Mutex
			var puts, gets []ossl.LookupInfo
			record := func(ctx context.Context, to *[]ossl.LookupInfo) {
				li, ok := ossl.LookupInfoFrom(ctx)
				assert.True(t, ok) // on the store's goroutine: no FailNow
				mu.Lock()
				*to = append(*to, li)
				mu.Unlock()
			}
			mem := store.NewMemory(store.MemoryOptions{})
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: &hostileStore{
				inner: mem,
				put:   func(ctx context.Context, s *ossl.Session) error { record(ctx, &puts); return mem.Put(ctx, s) },
				get: func(ctx context.Context, id []byte) (*ossl.Session, error) {
					record(ctx, &gets)
					return mem.Get(ctx, id)
				},
			}}))
			full := handshake(t, client, server, ossltest.Options{})
			res := handshake(t, client, server, ossltest.Options{Session: full.ClientSession})
			require.True(t, res.ServerReused)
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, puts)
			for _, li := range puts {
				assert.Equal(t, tt.stateless, li.StatelessTicket)
				assert.Equal(t, ossl.CacheServer|ossl.CacheNoInternal, li.CacheMode)
			}
			if tt.resumeGet {
				require.Len(t, gets, 1)
				assert.False(t, gets[0].StatelessTicket)
			} else {
				assert.Empty(t, gets, "libssl decrypted the ticket itself")
			}
		})
	}
}

// TestExternalHitCopiedIntoInternalCache: with the default SERVER mode an
// external hit is added to the internal cache, unless NO_INTERNAL_STORE.
func TestExternalHitCopiedIntoInternalCache(t *testing.T) {
	for _, tt := range []struct {
		mode       ossl.CacheMode
		wantCached int64
	}{
		{ossl.CacheServer | ossl.CacheNoInternalLookup, 1},
		{ossl.CacheServer | ossl.CacheNoInternal, 0},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			src, server, client := newServer(t, tls12), newServer(t, tls12), newClient(t, tls12)
			mem := store.NewMemory(store.MemoryOptions{})
			for _, c := range []*ossl.Ctx{src, server} {
				setMode(t, c, ossl.CacheServer|ossl.CacheNoInternal)
				require.NoError(t, c.SetSessionStore(ossl.StoreConfig{Store: mem}))
			}
			full := handshake(t, client, src, ossltest.Options{})
			setMode(t, server, tt.mode)
			res := handshake(t, client, server, ossltest.Options{Session: full.ClientSession})
			require.True(t, res.ServerReused, "resumed on another context sharing the store")
			assert.Equal(t, tt.wantCached, server.Stats().Sessions)
		})
	}
}

// TestCallbacksFollowSessionCtxAcrossSNISwitch: an SNI callback moves the
// connection to another context; libssl keeps using the first context's
// cache and callbacks, and so does the bridge.
func TestCallbacksFollowSessionCtxAcrossSNISwitch(t *testing.T) {
	for _, v := range []variant{tls12, tls13Stateful} {
		t.Run(v.Name, func(t *testing.T) {
			front, other, client := newServer(t, v), newServer(t, v), newClient(t, v)
			mem := store.NewMemory(store.MemoryOptions{})
			setMode(t, front, ossl.CacheServer|ossl.CacheNoInternal)
			require.NoError(t, front.SetSessionStore(ossl.StoreConfig{Store: mem}))
			otherStore := store.NewMemory(store.MemoryOptions{})
			require.NoError(t, other.SetSessionStore(ossl.StoreConfig{Store: otherStore}))
			var seen atomic.Value
			require.NoError(t, front.SetServerNameCallback(func(name string) (*ossl.Ctx, error) {
				seen.Store(name)
				if name == "other.test" {
					return other, nil
				}
				return nil, nil
			}))

			full := handshake(t, client, front, ossltest.Options{ServerName: "other.test"})
			assert.Equal(t, "other.test", seen.Load())
			assert.True(t, full.ServerCtxSwitched, "the SNI callback switched the context")
			assert.Positive(t, front.CallbackStats().NewCalls, "the first context's new callback ran")
			assert.Zero(t, other.CallbackStats().NewCalls, "the switched-to context's did not")
			assert.Positive(t, mem.Len())
			assert.Zero(t, otherStore.Len())

			res := handshake(t, client, front, ossltest.Options{ServerName: "other.test", Session: full.ClientSession})
			assert.True(t, res.ServerReused)
			assert.Equal(t, int64(1), front.CallbackStats().GetHits)
			assert.Zero(t, other.CallbackStats().GetCalls)
		})
	}
}

// hostileStore returns whatever get says, and fails, stalls or panics on
// demand.
type hostileStore struct {
	inner ossl.SessionStore
	get   func(ctx context.Context, id []byte) (*ossl.Session, error)
	put   func(ctx context.Context, s *ossl.Session) error
	del   func(ctx context.Context, id []byte) error
}

func (h *hostileStore) Put(ctx context.Context, s *ossl.Session) error {
	if h.put != nil {
		return h.put(ctx, s)
	}
	return h.inner.Put(ctx, s)
}

func (h *hostileStore) Get(ctx context.Context, id []byte) (*ossl.Session, error) {
	if h.get != nil {
		return h.get(ctx, id)
	}
	return h.inner.Get(ctx, id)
}

func (h *hostileStore) Delete(ctx context.Context, id []byte) error {
	if h.del != nil {
		return h.del(ctx, id)
	}
	return h.inner.Delete(ctx, id)
}

// TestBadStoresFallBackToFullHandshakes: whatever a store does, the
// handshake completes (as a full one) and the event is counted.
func TestBadStoresFallBackToFullHandshakes(t *testing.T) {
	// A session made under another id context, and one made by another
	// connection, to be returned for the wrong lookups.
	foreignSrv, client := newServer(t, tls12), newClient(t, tls12)
	require.NoError(t, foreignSrv.SetSessionIDContext([]byte("another-service")))
	foreign := handshake(t, client, foreignSrv, ossltest.Options{}).ServerSession
	stranger := handshake(t, client, newServer(t, tls12), ossltest.Options{}).ServerSession

	// A store that hangs blocks until the test ends, so that the bridge's
	// timeout fires however loaded the machine is; the others get a
	// timeout no scheduling delay reaches.
	hang := newReleasable(t)
	const patient, impatient = time.Minute, 20 * time.Millisecond
	tests := []struct {
		name    string
		get     func(mem *store.Memory) func(ctx context.Context, id []byte) (*ossl.Session, error)
		count   func(ossl.CallbackStats) int64
		event   ossl.EventKind
		noHook  bool
		timeout time.Duration
	}{
		{"error", func(*store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			return func(context.Context, []byte) (*ossl.Session, error) { return nil, errors.New("store down") }
		}, func(s ossl.CallbackStats) int64 { return s.GetErrors }, ossl.EventStoreError, false, patient},
		{"panic", func(*store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			return func(context.Context, []byte) (*ossl.Session, error) { panic("boom") }
		}, func(s ossl.CallbackStats) int64 { return s.GetErrors }, ossl.EventPanic, false, patient},
		{"hangs past the timeout", func(*store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			return func(context.Context, []byte) (*ossl.Session, error) {
				hang.wait()
				return nil, nil
			}
		}, func(s ossl.CallbackStats) int64 { return s.GetErrors }, ossl.EventTimeout, false, impatient},
		{"gives up at its deadline", func(*store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			// Whether the store's error or the bridge's timer comes
			// first, it is one timeout.
			return func(ctx context.Context, _ []byte) (*ossl.Session, error) { <-ctx.Done(); return nil, ctx.Err() }
		}, func(s ossl.CallbackStats) int64 { return s.GetErrors }, ossl.EventTimeout, false, impatient},
		{"gives up at its deadline with its own error", func(*store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			// As a Redis client whose socket deadline came from ctx
			// says "i/o timeout", which does not wrap ctx's error: still
			// one timeout, not a store error (the flake of
			// redisstore.TestSlowRedis on a loaded machine).
			return func(ctx context.Context, _ []byte) (*ossl.Session, error) {
				dl, _ := ctx.Deadline()
				time.Sleep(time.Until(dl)) // its own timer, as a socket's
				return nil, os.ErrDeadlineExceeded
			}
		}, func(s ossl.CallbackStats) int64 { return s.GetErrors }, ossl.EventTimeout, false, impatient},
		{"another session", func(*store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			return func(context.Context, []byte) (*ossl.Session, error) { return stranger.Ref() }
		}, func(s ossl.CallbackStats) int64 { return s.Rejected }, ossl.EventRejected, false, patient},
		{"other id context", func(*store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			return func(_ context.Context, id []byte) (*ossl.Session, error) {
				d, err := foreign.Dup()
				if err == nil {
					err = d.SetID(id)
				}
				return d, err
			}
		}, func(s ossl.CallbackStats) int64 { return s.Rejected }, ossl.EventRejected, false, patient},
		{"expired", func(mem *store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			return func(ctx context.Context, id []byte) (*ossl.Session, error) {
				s, err := mem.Get(ctx, id)
				if s == nil || err != nil {
					return s, err
				}
				defer s.Close()
				d, err := s.Dup()
				if err == nil {
					err = d.SetTime(time.Now().Add(-3 * time.Hour))
				}
				return d, err
			}
		}, func(s ossl.CallbackStats) int64 { return s.Rejected }, ossl.EventRejected, false, patient},
		{"panicking hook too", func(*store.Memory) func(context.Context, []byte) (*ossl.Session, error) {
			return func(context.Context, []byte) (*ossl.Session, error) { return nil, errors.New("down") }
		}, func(s ossl.CallbackStats) int64 { return s.GetErrors }, ossl.EventStoreError, true, patient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := newServer(t, tls12)
			setMode(t, server, ossl.CacheServer|ossl.CacheNoInternal)
			mem := store.NewMemory(store.MemoryOptions{})
			var mu sync.Mutex
			var getEvents []ossl.Event // a Put under an impatient timeout may time out too, if the machine is loaded
			hook := func(e ossl.Event) {
				mu.Lock()
				if e.Op == "get" {
					getEvents = append(getEvents, e)
				}
				mu.Unlock()
			}
			if tt.noHook {
				record := hook
				hook = func(e ossl.Event) { record(e); panic("hook panics") }
			}
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{
				Store:         &hostileStore{inner: mem, get: tt.get(mem)},
				LookupTimeout: tt.timeout,
				OnEvent:       hook,
			}))
			full := handshake(t, client, server, ossltest.Options{})
			waitStored(t, mem, full.ServerSession)
			res := handshake(t, client, server, ossltest.Options{Session: full.ClientSession})
			assert.False(t, res.ServerReused, "fell back to a full handshake")
			assert.False(t, res.ClientReused)
			cs := server.CallbackStats()
			assert.Equal(t, int64(1), tt.count(cs), "%+v", cs)
			assert.Zero(t, cs.GetHits)
			mu.Lock()
			require.Len(t, getEvents, 1)
			assert.Equal(t, tt.event, getEvents[0].Kind)
			assert.NotNil(t, getEvents[0].Err)
			mu.Unlock()
			waitStored(t, mem, res.ServerSession)
			// The next full handshake stored a fresh session; resuming it
			// from a healthy store works again.
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: mem}))
			again := handshake(t, client, server, ossltest.Options{Session: res.ClientSession})
			assert.True(t, again.ServerReused)
		})
	}
}

// waitStored waits until a Put that may have outlived its timeout has put
// sess in mem.
func waitStored(t *testing.T, mem *store.Memory, sess *ossl.Session) {
	t.Helper()
	require.Eventually(t, func() bool {
		s, err := mem.Get(context.Background(), sess.ID())
		s.Close()
		return err == nil && s != nil
	}, time.Minute, time.Millisecond)
}

func TestPutAndDeleteFailuresAreCounted(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	var events []ossl.Event
	var mu sync.Mutex
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{
		Store: &hostileStore{
			put: func(context.Context, *ossl.Session) error { panic("put panics") },
			get: func(context.Context, []byte) (*ossl.Session, error) { return nil, nil },
			del: func(context.Context, []byte) error { return errors.New("delete fails") },
		},
		LookupTimeout: time.Minute, // the store answers; no scheduling delay may turn that into a timeout
		OnEvent:       func(e ossl.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	}))
	r := handshake(t, client, server, ossltest.Options{})
	removed, err := server.RemoveSession(r.ServerSession)
	require.NoError(t, err)
	assert.True(t, removed)
	// The delete runs after the remove callback, from the queue; its
	// failure is counted, then reported: wait for both.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return server.CallbackStats().RemoveErrors == 1 && len(events) == 2
	}, 10*time.Second, time.Millisecond)
	cs := server.CallbackStats()
	assert.Equal(t, int64(1), cs.NewCalls)
	assert.Equal(t, int64(0), cs.Stored)
	assert.Equal(t, int64(1), cs.Panics)
	assert.Equal(t, int64(1), cs.RemoveCalls)
	assert.Equal(t, int64(0), cs.Deleted)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, events, 2)
	assert.Equal(t, ossl.EventPanic, events[0].Kind)
	assert.Equal(t, "put", events[0].Op)
	assert.Equal(t, ossl.EventStoreError, events[1].Kind)
	assert.Equal(t, "delete", events[1].Op)
}

// TestCallbackSubsets installs each mix of the three callbacks.
func TestCallbackSubsets(t *testing.T) {
	for _, set := range []ossl.CallbackSet{ossl.CallbackNew, ossl.CallbackGet, ossl.CallbackRemove, ossl.CallbackNew | ossl.CallbackGet, ossl.CallbackAll} {
		t.Run("", func(t *testing.T) {
			server, client := newServer(t, tls12), newClient(t, tls12)
			mem := store.NewMemory(store.MemoryOptions{})
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: mem, Callbacks: set}))
			setMode(t, server, ossl.CacheServer|ossl.CacheNoInternalLookup)
			r := handshake(t, client, server, ossltest.Options{})
			if set&ossl.CallbackNew == 0 {
				// Seed the store by hand so Get has something to find.
				ref, err := r.ServerSession.Ref()
				require.NoError(t, err)
				require.NoError(t, mem.Put(context.Background(), ref))
			}
			res := handshake(t, client, server, ossltest.Options{Session: r.ClientSession})
			_, err := server.RemoveSession(res.ServerSession)
			require.NoError(t, err)
			cs := server.CallbackStats()
			assert.Equal(t, set&ossl.CallbackNew != 0, cs.NewCalls > 0, "new")
			assert.Equal(t, set&ossl.CallbackGet != 0, cs.GetCalls > 0, "get")
			assert.Equal(t, set&ossl.CallbackGet != 0, res.ServerReused, "resumed only through get (internal lookups are off)")
			assert.Equal(t, set&ossl.CallbackRemove != 0, cs.RemoveCalls > 0, "remove")
		})
	}
}

// TestReplaceAndRemoveStore: replacing a store switches callbacks over,
// removing it uninstalls them, and the Go state is freed with the context.
func TestReplaceAndRemoveStore(t *testing.T) {
	before := ossl.LiveCtxStates()
	server, client := newServer(t, tls12), newClient(t, tls12)
	setMode(t, server, ossl.CacheServer|ossl.CacheNoInternal)
	a, b := store.NewMemory(store.MemoryOptions{}), store.NewMemory(store.MemoryOptions{})
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: a}))
	handshake(t, client, server, ossltest.Options{})
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: b}))
	handshake(t, client, server, ossltest.Options{})
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{}))
	handshake(t, client, server, ossltest.Options{})
	assert.Equal(t, 1, a.Len())
	assert.Equal(t, 1, b.Len())
	assert.Equal(t, int64(2), server.CallbackStats().NewCalls)
	assert.Equal(t, before+2, ossl.LiveCtxStates(), "the server's state and the client's")
	require.NoError(t, server.Close())
	assert.Equal(t, before+1, ossl.LiveCtxStates(), "the ex_data free callback released the server's handle")
}

// TestCtxFreeDoesNotEmptySharedStore: SSL_CTX_free runs the remove callback
// for every cached session; the bridge does not forward those deletes.
func TestCtxFreeDoesNotEmptySharedStore(t *testing.T) {
	server, client := newServer(t, tls12), newClient(t, tls12)
	mem := store.NewMemory(store.MemoryOptions{})
	require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: mem}))
	handshake(t, client, server, ossltest.Options{})
	require.Equal(t, int64(1), server.Stats().Sessions)
	require.NoError(t, server.Close())
	assert.Equal(t, 1, mem.Len(), "the shared store kept the session")
	assert.Equal(t, int64(1), server.CallbackStats().RemoveSkipped, "counted after Close")
}

// TestWrappedCtxStateFreedWithLastReference: a wrapper holds a reference
// of its own, so the SSL_CTX and the Go state attached to it live until
// the last of the maker and the wrapper lets go.
func TestWrappedCtxStateFreedWithLastReference(t *testing.T) {
	for _, ownerFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("owner-closes-first=%v", ownerFirst), func(t *testing.T) {
			before := ossl.LiveCtxStates()
			owner, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer})
			require.NoError(t, err)
			w, err := ossl.WrapCtx(osslhooks.CtxPointer(owner))
			require.NoError(t, err)
			require.NoError(t, w.SetSessionStore(ossl.StoreConfig{Store: store.NewMemory(store.MemoryOptions{})}))
			first, second := owner, w
			if !ownerFirst {
				first, second = w, owner
			}
			require.NoError(t, first.Close())
			assert.Equal(t, before+1, ossl.LiveCtxStates(), "one reference is left")
			require.NoError(t, second.Close())
			assert.Equal(t, before, ossl.LiveCtxStates(), "the last reference freed the SSL_CTX and its state")
		})
	}
}

// TestClientSessionCache resumes through a Go client cache keyed by server,
// with the client's internal cache off.
func TestClientSessionCache(t *testing.T) {
	for _, v := range allVariants {
		t.Run(v.Name, func(t *testing.T) {
			server, client := newServer(t, v), newClient(t, v)
			setMode(t, client, ossl.CacheClient|ossl.CacheNoInternalStore)
			cache := store.NewClientLRU(store.ClientLRUOptions{Capacity: 8})
			require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: cache}))
			key := ossl.ClientSessionKey("localhost", 443)
			assert.Equal(t, "localhost:443", key)

			first := handshake(t, client, server, ossltest.Options{CacheKey: key})
			assert.False(t, first.Offered)
			assert.Equal(t, 1, cache.Len())
			assert.Equal(t, int64(0), client.Stats().Sessions)
			second := handshake(t, client, server, ossltest.Options{CacheKey: key})
			assert.True(t, second.Offered, "the next connection offered the cached session")
			assert.True(t, second.ClientReused)
			assert.True(t, second.ServerReused)
			other := handshake(t, client, server, ossltest.Options{CacheKey: ossl.ClientSessionKey("localhost", 8443)})
			assert.False(t, other.Offered, "another port is another server")
			assert.Positive(t, client.CallbackStats().ClientPuts)
		})
	}
}

func TestUseClientSessionCacheWithoutCache(t *testing.T) {
	client := newClient(t, tls13)
	c, err := client.NewSSL()
	require.NoError(t, err)
	defer c.Close()
	_, err = c.UseClientSessionCache("x:1")
	assert.ErrorContains(t, err, "no ClientSessionCache")
}

// TestConcurrentHandshakesWithGoStore runs handshakes from many goroutines
// on one server context, with the garbage collector running finalizers in
// between.
func TestConcurrentHandshakesWithGoStore(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			server := newServer(t, tls12)
			setMode(t, server, ossl.CacheServer|ossl.CacheNoInternal)
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: sk.make()}))
			const workers, rounds = 8, 40
			var resumed atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					client := newClient(t, tls12)
					var sess *ossl.Session
					for i := range rounds {
						r, err := ossltest.Handshake(client, server, ossltest.Options{Session: sess})
						if !assert.NoError(t, err) {
							return
						}
						if r.ServerReused {
							resumed.Add(1)
						}
						sess.Close()
						sess = r.ClientSession
						r.ServerSession.Close()
						if i%10 == 0 {
							runtime.GC()
						}
					}
					sess.Close()
				}()
			}
			wg.Wait()
			assert.Equal(t, int64(workers*(rounds-1)), resumed.Load())
			cs := server.CallbackStats()
			assert.Equal(t, int64(workers*(rounds-1)), cs.GetHits)
			assert.Zero(t, cs.Panics+cs.GetErrors+cs.Rejected+cs.Timeouts)
		})
	}
}

func TestCallbackCrossingCost(t *testing.T) {
	assert.Positive(t, osslhooks.CallbackCrossingCost(1000))
	assert.Zero(t, osslhooks.CallbackCrossingCost(0))
}

// TestMemoryStoreSurvivesInternalFlush: with libssl's internal cache on,
// the memory store keeps its own copy, so sessions libssl flushed from its
// cache (marking its object not resumable) still resume from the store;
// under NO_INTERNAL_STORE it keeps libssl's object itself.
func TestMemoryStoreSurvivesInternalFlush(t *testing.T) {
	for _, tt := range []struct {
		mode     ossl.CacheMode
		sameObj  bool
		callback ossl.CallbackSet
	}{
		{ossl.CacheServer, false, ossl.CallbackNew | ossl.CallbackGet},
		{ossl.CacheServer | ossl.CacheNoInternal, true, ossl.CallbackAll},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			server, client := newServer(t, tls12), newClient(t, tls12)
			setMode(t, server, tt.mode)
			mem := store.NewMemory(store.MemoryOptions{})
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: mem, Callbacks: tt.callback}))
			full := handshake(t, client, server, ossltest.Options{})
			kept, err := mem.Get(context.Background(), full.ServerSession.ID())
			require.NoError(t, err)
			require.NotNil(t, kept)
			assert.Equal(t, tt.sameObj, osslhooks.SessionPointer(kept) == osslhooks.SessionPointer(full.ServerSession))
			kept.Close()

			require.NoError(t, server.FlushSessions(time.Time{}))
			res := handshake(t, client, server, ossltest.Options{Session: full.ClientSession})
			assert.True(t, res.ServerReused, "resumed from the store after the internal cache was flushed")
			assert.Equal(t, int64(1), server.CallbackStats().GetHits)
		})
	}
}

// signalingClientLRU is a ClientLRU that reports each removal the bridge
// forwards to it, once done (the bridge forwards client removals from a
// queue, after libssl's callback has returned, and counts them in
// CallbackStats.Deleted after this returns: read that one only after the
// queue is known idle).
type signalingClientLRU struct {
	*store.ClientLRU
	removed chan []byte
}

func (c *signalingClientLRU) RemoveSession(key string, id []byte) bool {
	ok := c.ClientLRU.RemoveSession(key, id)
	c.removed <- id
	return ok
}

// TestClientRemovalsReachTheCache (issue 13, items 1 and 2): libssl's
// client-side removals reach the ClientSessionCache. A server that fails
// the handshake sends a fatal alert; the client reads it and takes the
// session it offered out of its cache (the remove callback runs once),
// through the in-memory driver, which drives both sides to their end, as
// over a socket. Offering another session on an open connection removes
// the connection's own (SSL_set_session(3)).
func TestClientRemovalsReachTheCache(t *testing.T) {
	const key = "other.test:443"
	refused := func(t *testing.T, client, server *ossl.Ctx) {
		require.NoError(t, server.SetServerNameCallback(func(string) (*ossl.Ctx, error) { return nil, ossl.AlertAccessDenied }))
	}
	tests := []struct {
		name string
		// remove does what makes libssl remove a session the cache
		// holds, and returns the session's ID and key.
		remove func(t *testing.T, client, server *ossl.Ctx) (id []byte, key string)
	}{
		{"fatal alert/in memory", func(t *testing.T, client, server *ossl.Ctx) ([]byte, string) {
			refused(t, client, server)
			p := newPair(t, client, server)
			require.NoError(t, p.Client.SetServerName("other.test"))
			offered, err := p.Client.UseClientSessionCache(key)
			require.NoError(t, err)
			require.True(t, offered)
			s := p.Client.Session()
			defer s.Close()
			r, err := p.Handshake()
			require.Error(t, err)
			assert.Equal(t, ossltest.Failed, r.Server, "the server refused")
			assert.Equal(t, ossltest.Failed, r.Client, "and the client read its alert")
			return s.ID(), key
		}},
		{"fatal alert/net.Pipe", func(t *testing.T, client, server *ossl.Ctx) ([]byte, string) {
			refused(t, client, server)
			a, b := net.Pipe()
			srv, err := ossl.Server(b, server)
			require.NoError(t, err)
			defer srv.Close()
			cli, err := ossl.Client(a, client, ossl.ClientConfig{ServerName: "other.test", CacheKey: key})
			require.NoError(t, err)
			defer cli.Close()
			s := cli.Session()
			defer s.Close()
			done := make(chan error, 1)
			go func() { done <- srv.Handshake() }()
			require.Error(t, cli.Handshake())
			require.Error(t, <-done)
			return s.ID(), key
		}},
		{"SSL_set_session on an open connection", func(t *testing.T, client, server *ossl.Ctx) ([]byte, string) {
			// A full handshake (a resumption would remove the session it
			// used, TLS 1.3 tickets being single use).
			const fresh = "localhost:443"
			p := newPair(t, client, server)
			offered, err := p.Client.UseClientSessionCache(fresh)
			require.NoError(t, err)
			require.False(t, offered)
			_, err = p.Handshake()
			require.NoError(t, err)
			data, err := p.Read(ossltest.ClientSide, 1) // the new ticket replaces the entry
			require.NoError(t, err)
			require.Nil(t, data)
			s := p.Client.Session()
			defer s.Close()
			other, err := ossl.NewSession()
			require.NoError(t, err)
			defer other.Close()
			require.NoError(t, p.Client.SetSession(other))
			return s.ID(), fresh
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client := newServer(t, tls13), newClient(t, tls13)
			setMode(t, client, ossl.CacheClient|ossl.CacheNoInternalStore)
			cache := &signalingClientLRU{ClientLRU: store.NewClientLRU(store.ClientLRUOptions{}), removed: make(chan []byte, 8)}
			require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: cache}))
			handshake(t, client, server, ossltest.Options{CacheKey: key, ServerName: "other.test"})
			require.Equal(t, 1, cache.Len())

			before := client.CallbackStats()
			id, k := tt.remove(t, client, server)
			assert.Equal(t, int64(1), client.CallbackStats().RemoveCalls-before.RemoveCalls, "libssl's remove callback runs once")
			select {
			case got := <-cache.removed:
				assert.Equal(t, id, got)
			case <-time.After(10 * time.Second): // a failsafe, not a measure
				t.Fatal("the removal never reached the cache")
			}
			assert.Nil(t, cache.Get(k), "the cache forgot the session")
		})
	}
}
