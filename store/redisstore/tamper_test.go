package redisstore_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// tamperEnv is one server resuming through one store, and what a tamper
// case needs to reach into Redis.
type tamperEnv struct {
	t      *testing.T
	srv    *redistest.Server
	rs     *redisstore.Store
	opts   redisstore.Options // what rs was made with
	server *ossl.Ctx
	client *ossl.Ctx
}

// session makes a full handshake and returns the client's session and the
// Redis key it is stored under.
func (e *tamperEnv) session() (*ossl.Session, string) {
	r := handshake(e.t, e.client, e.server, nil)
	require.False(e.t, r.ServerReused)
	return r.ClientSession, e.rs.KeyName(store.Key{IDContext: []byte("svc"), ID: r.ClientSession.ID()})
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	if i < 0 {
		i += len(c)
	}
	c[i] ^= 0x01
	return c
}

// TestTamperedBlobsAreCountedMisses: whatever is wrong with a stored blob,
// the lookup is a miss counted in OpenFailures (and as a store error by the
// bridge), the handshake completes as a full one, and the next session
// resumes normally.
func TestTamperedBlobsAreCountedMisses(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tests := []struct {
		name string
		// tamper returns the session to offer after spoiling its blob.
		tamper func(e *tamperEnv) *ossl.Session
	}{
		{"blob copied under another session ID", func(e *tamperEnv) *ossl.Session {
			_, keyA := e.session()
			sessB, keyB := e.session()
			rawSet(e.t, e.srv, keyB, rawGet(e.t, e.srv, keyA))
			return sessB
		}},
		{"blob copied from another prefix", func(e *tamperEnv) *ossl.Session {
			// Another service with the same key and id context.
			o := e.opts
			o.Prefix = e.rs.Prefix() + "-elsewhere"
			other := newStore(e.t, e.srv.Addr, o)
			otherCtx := newServer(e.t, tls12, "svc")
			install(e.t, otherCtx, other, nil)
			r := handshake(e.t, e.client, otherCtx, nil)
			id := r.ClientSession.ID()
			rawSet(e.t, e.srv, e.rs.KeyName(store.Key{IDContext: []byte("svc"), ID: id}),
				rawGet(e.t, e.srv, other.KeyName(store.Key{IDContext: []byte("svc"), ID: id})))
			return r.ClientSession
		}},
		{"flipped byte in the key ID", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			rawSet(e.t, e.srv, k, flip(rawGet(e.t, e.srv, k), 2))
			return s
		}},
		{"flipped byte in the nonce", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			rawSet(e.t, e.srv, k, flip(rawGet(e.t, e.srv, k), 2+len("k1")+3))
			return s
		}},
		{"flipped byte in the ciphertext", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			b := rawGet(e.t, e.srv, k)
			rawSet(e.t, e.srv, k, flip(b, len(b)/2+8))
			return s
		}},
		{"flipped byte in the tag", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			rawSet(e.t, e.srv, k, flip(rawGet(e.t, e.srv, k), -1))
			return s
		}},
		{"unknown version", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			b := rawGet(e.t, e.srv, k)
			b[0] = 7
			rawSet(e.t, e.srv, k, b)
			return s
		}},
		{"truncated", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			rawSet(e.t, e.srv, k, rawGet(e.t, e.srv, k)[:20])
			return s
		}},
		{"sealed under a removed key", func(e *tamperEnv) *ossl.Session {
			s, _ := e.session()
			require.NoError(e.t, e.rs.SetKeys(testKeyring(e.t, "k2")))
			return s
		}},
		{"sealed under another key of the same ID", func(e *tamperEnv) *ossl.Session {
			s, _ := e.session()
			require.NoError(e.t, e.rs.SetKeys(testKeyring(e.t, "k1")))
			return s
		}},
		{"plaintext blob, sealing required", func(e *tamperEnv) *ossl.Session {
			// An older release stored it in the clear, or someone with
			// write access to Redis planted it.
			s, k := e.session()
			der, err := s.Marshal()
			require.NoError(e.t, err)
			rawSet(e.t, e.srv, k, append([]byte{0}, der...))
			return s
		}},
		{"garbage planted in Redis", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			rawSet(e.t, e.srv, k, []byte("\x01\x02k1 this is not a sealed session at all, just bytes"))
			return s
		}},
		{"raw DER planted in Redis", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			der, err := s.Marshal()
			require.NoError(e.t, err)
			rawSet(e.t, e.srv, k, der)
			return s
		}},
		{"empty value", func(e *tamperEnv) *ossl.Session {
			s, k := e.session()
			rawSet(e.t, e.srv, k, []byte{})
			return s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := redisstore.Options{Prefix: uniquePrefix(t), Keys: testKeyring(t, "k1")}
			e := &tamperEnv{t: t, srv: srv, opts: opts, rs: newStore(t, srv.Addr, opts), server: newServer(t, tls12, "svc"), client: newClient(t, tls12)}
			ev := &events{}
			install(t, e.server, e.rs, ev)
			offer := tt.tamper(e)
			before, beforeCS := e.rs.Stats(), e.server.CallbackStats()

			res := handshake(t, e.client, e.server, offer)
			assert.False(t, res.ServerReused, "fell back to a full handshake")
			st, cs := e.rs.Stats(), e.server.CallbackStats()
			assert.Equal(t, before.OpenFailures+1, st.OpenFailures, "counted by the store")
			assert.Equal(t, before.Hits, st.Hits)
			assert.Equal(t, beforeCS.GetErrors+1, cs.GetErrors, "counted by the bridge: %+v", cs)
			assert.Equal(t, beforeCS.GetHits, cs.GetHits)
			assert.Zero(t, cs.Panics)
			evs := ev.all()
			require.Len(t, evs, 1)
			assert.Equal(t, ossl.EventStoreError, evs[0].Kind)
			assert.Equal(t, "get", evs[0].Op)
			assert.True(t, isOpenErr(evs[0]), "%v", evs[0].Err)

			// The full handshake stored a fresh, sound session.
			again := handshake(t, e.client, e.server, res.ClientSession)
			assert.True(t, again.ServerReused)
		})
	}
}

// TestKeyRotation: a new current key seals new sessions while sessions
// sealed under the old key keep resuming until the old key is dropped.
func TestKeyRotation(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	old := testKeyring(t, "2025-01")
	next := testKeyring(t, "2025-06")
	both := redisstore.Keyring{Current: "2025-06", Keys: map[string][]byte{"2025-01": old.Keys["2025-01"], "2025-06": next.Keys["2025-06"]}}
	prefix := uniquePrefix(t)
	// Two servers of one fleet; server B rotates later than A.
	a := newStore(t, srv.Addr, redisstore.Options{Prefix: prefix, Keys: old})
	b := newStore(t, srv.Addr, redisstore.Options{Prefix: prefix, Keys: old})
	ctxA, ctxB, client := newServer(t, tls12, "svc"), newServer(t, tls12, "svc"), newClient(t, tls12)
	install(t, ctxA, a, nil)
	install(t, ctxB, b, nil)
	keyOf := func(s *ossl.Session) string { return a.KeyName(store.Key{IDContext: []byte("svc"), ID: s.ID()}) }
	keyID := func(s *ossl.Session) string { blob := rawGet(t, srv, keyOf(s)); return string(blob[2 : 2+blob[1]]) }

	s1 := handshake(t, client, ctxA, nil).ClientSession
	assert.Equal(t, "2025-01", keyID(s1))

	// Step 1: every server learns the new key, still sealing with the old.
	step1 := redisstore.Keyring{Current: "2025-01", Keys: both.Keys}
	require.NoError(t, a.SetKeys(step1))
	require.NoError(t, b.SetKeys(step1))
	assert.True(t, handshake(t, client, ctxB, s1).ServerReused)

	// Step 2: A seals with the new key; B, not yet switched, opens it.
	require.NoError(t, a.SetKeys(both))
	s2 := handshake(t, client, ctxA, nil).ClientSession
	assert.Equal(t, "2025-06", keyID(s2))
	assert.True(t, handshake(t, client, ctxB, s2).ServerReused, "B has the new key before A seals with it")
	assert.True(t, handshake(t, client, ctxA, s1).ServerReused, "old-key sessions still open")
	require.NoError(t, b.SetKeys(both))

	// A bad keyring is refused and the store keeps the one it has.
	require.Error(t, b.SetKeys(redisstore.Keyring{Current: "2025-12"}))
	require.Error(t, b.SetKeys(redisstore.Keyring{}), "sealing cannot be switched off")
	assert.True(t, handshake(t, client, ctxB, s2).ServerReused)

	// Step 3: once the old sessions have expired, the old key goes.
	require.NoError(t, a.SetKeys(next))
	assert.False(t, handshake(t, client, ctxA, s1).ServerReused, "the old key is gone")
	assert.Equal(t, int64(1), a.Stats().OpenFailures)
	assert.True(t, handshake(t, client, ctxA, s2).ServerReused)
}

// TestPlaintextMigration: a fleet moving from plaintext storage (an
// older release) to sealing keeps resuming: with ReadPlaintext the old
// unsealed blobs still open, and the sessions made since are sealed.
func TestPlaintextMigration(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	migrating := newStore(t, srv.Addr, redisstore.Options{ReadPlaintext: true})
	ctxOld, ctxM, client := newServer(t, tls13Stateful, "svc"), newServer(t, tls13Stateful, "svc"), newClient(t, tls13Stateful)
	// The old server: its sessions end up in Redis unsealed, as an older
	// release wrote them.
	full := handshake(t, client, ctxOld, nil)
	der, err := full.ServerSession.Marshal()
	require.NoError(t, err)
	planted := migrating.KeyName(store.Key{IDContext: []byte("svc"), ID: full.ServerSession.ID()})
	rawSet(t, srv, planted, append([]byte{0}, der...))

	install(t, ctxM, migrating, nil)
	res := handshake(t, client, ctxM, full.ClientSession)
	assert.True(t, res.ServerReused)
	st := migrating.Stats()
	assert.Equal(t, int64(1), st.PlaintextRead)
	assert.Positive(t, st.Sealed, "the new tickets were sealed")
	keys := scanKeys(t, srv, migrating.Prefix()+":*")
	assert.Greater(t, len(keys), 1)
	for _, k := range keys {
		if k == planted {
			continue
		}
		assert.Equal(t, byte(1), rawGet(t, srv, k)[0], "%s is sealed", k)
	}
}

// TestOversizedBlob: a value larger than any sealed session could be is
// refused before it is opened.
func TestOversizedBlob(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rs := newStore(t, srv.Addr, redisstore.Options{MaxBlobSize: 1024})
	k := store.Key{IDContext: []byte("svc"), ID: []byte{1}}
	rawSet(t, srv, rs.KeyName(k), bytes.Repeat([]byte{1}, 4096))
	got, err := rs.Get(context.Background(), k)
	assert.ErrorIs(t, err, redisstore.ErrOpen)
	assert.Nil(t, got)
	assert.Equal(t, int64(1), rs.Stats().OpenFailures)
}
