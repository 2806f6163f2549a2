package store_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/osslhooks"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// sessions makes n real server sessions (TLS 1.2, session IDs).
func sessions(t testing.TB, n int) []*ossl.Session {
	cert, err := ossltest.NewCertificate()
	require.NoError(t, err)
	so := ossltest.TLS12.ServerOptions()
	so.SessionIDContext = []byte("store-test")
	server, err := ossltest.NewServerCtx(cert, so)
	require.NoError(t, err)
	defer server.Close()
	client, err := ossltest.NewClientCtx(cert, ossltest.TLS12.ClientOptions())
	require.NoError(t, err)
	defer client.Close()
	out := make([]*ossl.Session, n)
	for i := range out {
		r, err := ossltest.Handshake(client, server, ossltest.Options{})
		require.NoError(t, err)
		r.ClientSession.Close()
		out[i] = r.ServerSession
		t.Cleanup(out[i].Close)
	}
	return out
}

var bg = context.Background()

// ref returns a new reference to s, for a store's Put to own.
func ref(t testing.TB, s *ossl.Session) *ossl.Session {
	r, err := s.Ref()
	require.NoError(t, err)
	return r
}

func TestMemoryPutGetDelete(t *testing.T) {
	ss := sessions(t, 2)
	m := store.NewMemory(store.MemoryOptions{})
	defer m.Close()
	assert.True(t, m.RunsInline(m))
	assert.False(t, (&slowDeleteMemory{m}).RunsInline(&slowDeleteMemory{m}),
		"a wrapper that embeds Memory is not inline by the promoted method")
	require.NoError(t, m.Put(bg, ref(t, ss[0])))
	got, err := m.Get(bg, ss[0].ID())
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, ss[0].ID(), got.ID())
	again, err := m.Get(bg, ss[0].ID())
	require.NoError(t, err)
	assert.Equal(t, osslhooks.SessionPointer(got), osslhooks.SessionPointer(again), "lookups hand out the stored object by reference")
	again.Close()
	got.Close()
	miss, err := m.Get(bg, ss[1].ID())
	require.NoError(t, err)
	assert.Nil(t, miss)
	require.NoError(t, m.Delete(bg, ss[0].ID()))
	require.NoError(t, m.Delete(bg, ss[0].ID()), "deleting a missing id is fine")
	got, _ = m.Get(bg, ss[0].ID())
	assert.Nil(t, got)
}

func TestMemoryIsBounded(t *testing.T) {
	ss := sessions(t, 100)
	m := store.NewMemory(store.MemoryOptions{Capacity: 32}) // one per shard
	defer m.Close()
	for _, s := range ss {
		require.NoError(t, m.Put(bg, ref(t, s)))
	}
	assert.LessOrEqual(t, m.Len(), 32)
	assert.Positive(t, m.Len())
	m.Close()
	assert.Equal(t, 0, m.Len())
}

func TestMemoryHonoursExpiry(t *testing.T) {
	ss := sessions(t, 2)
	now := time.Now()
	m := store.NewMemory(store.MemoryOptions{Now: func() time.Time { return now }})
	defer m.Close()
	expired, err := ss[0].Dup()
	require.NoError(t, err)
	require.NoError(t, expired.SetTime(time.Now().Add(-3*time.Hour)))
	require.NoError(t, m.Put(bg, expired))
	assert.Equal(t, 0, m.Len(), "an expired session is not stored")

	require.NoError(t, m.Put(bg, ref(t, ss[1])))
	got, err := m.Get(bg, ss[1].ID())
	require.NoError(t, err)
	require.NotNil(t, got, "live before its expiry")
	got.Close()
	now = ss[1].Expires()
	got, err = m.Get(bg, ss[1].ID())
	require.NoError(t, err)
	assert.Nil(t, got, "expired when looked up")
	assert.Equal(t, 0, m.Len(), "and dropped")
}

func TestMemoryConcurrent(t *testing.T) {
	ss := sessions(t, 16)
	m := store.NewMemory(store.MemoryOptions{})
	defer m.Close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				s := ss[(w+i)%len(ss)]
				switch i % 3 {
				case 0:
					assert.NoError(t, m.Put(bg, ref(t, s)))
				case 1:
					if g, err := m.Get(bg, s.ID()); assert.NoError(t, err) && g != nil {
						assert.Equal(t, s.ID(), g.ID())
						g.Close()
					}
				default:
					assert.NoError(t, m.Delete(bg, s.ID()))
				}
			}
		}()
	}
	wg.Wait()
}

func TestBytesRoundTripAndNamespacing(t *testing.T) {
	ss := sessions(t, 1)
	kv := store.NewMapKV(store.MapKVOptions{})
	b := store.NewBytes(kv, store.BytesOptions{})
	assert.True(t, b.RunsInline(b))
	assert.False(t, store.NewBytes(slowKV{kv}, store.BytesOptions{}).RunsInline(store.NewBytes(slowKV{kv}, store.BytesOptions{})),
		"a KV that embeds MapKV is not inline by the promoted method")
	require.NoError(t, b.Put(bg, ref(t, ss[0])))
	require.Equal(t, []string{store.Key{ID: ss[0].ID()}.String()}, kv.Keys(),
		"Put and Get key by the looking-up context's id context (none here)")
	got, err := b.Get(bg, ss[0].ID())
	require.NoError(t, err)
	require.NotNil(t, got)
	defer got.Close()
	assert.Equal(t, ss[0].ID(), got.ID())
	// Under another id context the same ID is another key (ossl's
	// TestResumeFromGoStore and redisstore's TestNamespaces resume through
	// contexts that set one).
	other := store.Key{IDContext: []byte("other"), ID: ss[0].ID()}
	v, err := kv.Get(bg, other)
	require.NoError(t, err)
	assert.Nil(t, v)
}

func TestBytesRefusesBadBlobs(t *testing.T) {
	ss := sessions(t, 2)
	der, err := ss[1].Marshal()
	require.NoError(t, err)
	id := ss[0].ID()
	tests := []struct {
		name    string
		blob    []byte
		wantErr string
		wantNil bool
	}{
		{"garbage", []byte("garbage"), "d2i_SSL_SESSION failed", false},
		{"truncated", der[:len(der)-3], "d2i_SSL_SESSION failed", false},
		{"oversized", bytes.Repeat([]byte{0x30}, 300), "over the size limit", false},
		{"another session", der, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := store.NewMapKV(store.MapKVOptions{})
			b := store.NewBytes(kv, store.BytesOptions{MaxBlobSize: 256})
			require.NoError(t, kv.Put(bg, store.Key{ID: id}, tt.blob, time.Now().Add(time.Hour)))
			got, err := b.Get(bg, id)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Nil(t, got)
				return
			}
			// Another session's bytes decode; the bridge refuses them
			// (ossl's TestBadStoresFallBackToFullHandshakes).
			require.NoError(t, err)
			defer got.Close()
			assert.Equal(t, ss[1].ID(), got.ID())
		})
	}
	big := store.NewBytes(store.NewMapKV(store.MapKVOptions{}), store.BytesOptions{MaxBlobSize: 16})
	assert.ErrorIs(t, big.Put(bg, ref(t, ss[0])), store.ErrBlobTooLarge)
}

func TestMapKVCapacity(t *testing.T) {
	kv := store.NewMapKV(store.MapKVOptions{Capacity: 3})
	for i := range 10 {
		require.NoError(t, kv.Put(bg, store.Key{ID: []byte{byte(i)}}, []byte("x"), time.Now().Add(time.Hour)))
	}
	assert.Equal(t, 3, kv.Len())
	v, err := kv.Get(bg, store.Key{ID: []byte{9}})
	require.NoError(t, err)
	assert.Equal(t, []byte("x"), v, "the newest entry is kept")
}

func TestMapKVExpires(t *testing.T) {
	kv := store.NewMapKV(store.MapKVOptions{})
	k := store.Key{ID: []byte{1}}
	require.NoError(t, kv.Put(bg, k, []byte("x"), time.Now().Add(-time.Second)))
	v, err := kv.Get(bg, k)
	require.NoError(t, err)
	assert.Nil(t, v)
	assert.Equal(t, 0, kv.Len())
}

func TestClientLRU(t *testing.T) {
	ss := sessions(t, 3)
	c := store.NewClientLRU(store.ClientLRUOptions{Capacity: 2})
	for i, s := range ss {
		c.Put(fmt.Sprintf("host%d:443", i), ref(t, s))
	}
	assert.Equal(t, 2, c.Len())
	assert.Nil(t, c.Get("host0:443"), "least recently used went first")
	g := c.Get("host2:443")
	require.NotNil(t, g)
	assert.Equal(t, ss[2].ID(), g.ID())
	g.Close()
	c.Put("host2:443", ref(t, ss[0]))
	g = c.Get("host2:443")
	require.NotNil(t, g)
	assert.Equal(t, ss[0].ID(), g.ID(), "Put replaces the server's session")
	g.Close()
	c.Put("host2:443", nil)
	assert.Nil(t, c.Get("host2:443"), "Put(key, nil) deletes")
	c.Put("nobody:443", nil)
	assert.Equal(t, 1, c.Len())
}

// slowDeleteMemory is a Memory whose Delete may block: embedding Memory
// must not make it inline.
type slowDeleteMemory struct{ *store.Memory }

func (s *slowDeleteMemory) Delete(ctx context.Context, id []byte) error {
	<-ctx.Done()
	return ctx.Err()
}

// slowKV is a MapKV whose calls may block.
type slowKV struct{ *store.MapKV }
