package redisstore_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// earlyFleetServer is one server of a fleet accepting early data with
// libssl's per-process anti-replay off and the store's fleet-wide check
// on: stateless tickets under the shared ticket key, or stateful ones in
// the store (single use).
func earlyFleetServer(t *testing.T, v variant, rs *redisstore.Store, key ossl.TicketKey, ev *events) *ossl.Ctx {
	server := newServer(t, v, "fleet")
	require.NoError(t, server.SetTicketKeys(key))
	require.NoError(t, server.SetMaxEarlyData(1024))
	_, err := server.SetOptions(ossl.OptionNoAntiReplay)
	require.NoError(t, err)
	install(t, server, rs, ev)
	require.NoError(t, server.SetAllowEarlyDataCallback(ossl.AllowEarlyDataConfig{
		Allow: rs.AllowEarlyData, Timeout: 2 * time.Second, OnEvent: ev.add,
	}))
	return server
}

func earlyHandshake(t *testing.T, client, server *ossl.Ctx, sess *ossl.Session) *ossltest.Result {
	t.Helper()
	r, err := ossltest.Handshake(client, server, ossltest.Options{Session: sess, EarlyData: []byte("GET / HTTP/1.1\r\n\r\n")})
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

// TestAllowEarlyDataFleetWide: two servers, each with a Store of its own
// over one Redis. A ticket's early data is accepted on its first use, on
// either server, and rejected on every later use, on both; the handshake
// completes each time (resuming a stateless ticket; a stateful ticket of
// a single-use store resumes once). The mark expires with the session.
func TestAllowEarlyDataFleetWide(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, tt := range []struct {
		name          string
		v             variant
		singleUse     bool
		replayResumes bool
	}{
		{"stateless tickets", tls13, false, true},
		{"stateful tickets, single use", tls13Stateful, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ossltest.NewTicketKey()
			require.NoError(t, err)
			prefix, keys := uniquePrefix(t), testKeyring(t, "k1")
			o := redisstore.Options{Prefix: prefix, Keys: keys, SingleUse: tt.singleUse}
			rsA, rsB := newStore(t, srv.Addr, o), newStore(t, srv.Addr, o)
			ev := &events{}
			a, b := earlyFleetServer(t, tt.v, rsA, key, ev), earlyFleetServer(t, tt.v, rsB, key, ev)
			client := newClient(t, tt.v)

			full := handshake(t, client, a, nil)
			require.Equal(t, uint32(1024), full.ClientSession.MaxEarlyData())
			first := earlyHandshake(t, client, b, full.ClientSession)
			assert.True(t, first.ServerReused)
			assert.Equal(t, ossl.EarlyDataAccepted, first.ServerEarlyData, "first use, on the other server")
			assert.Equal(t, []byte("GET / HTTP/1.1\r\n\r\n"), first.EarlyDataRead)
			for i, s := range []*ossl.Ctx{a, b} {
				replay := earlyHandshake(t, client, s, full.ClientSession)
				assert.Equal(t, tt.replayResumes, replay.ServerReused, "replay %d", i)
				assert.NotEqual(t, ossl.EarlyDataAccepted, replay.ServerEarlyData, "replay %d", i)
				assert.Empty(t, replay.EarlyDataRead)
			}
			stA, stB := rsA.Stats(), rsB.Stats()
			assert.Equal(t, int64(1), stA.EarlyDataAllowed+stB.EarlyDataAllowed)
			if tt.replayResumes {
				assert.Equal(t, int64(2), stA.EarlyDataReplays+stB.EarlyDataReplays)
			}
			assert.Empty(t, ev.all())

			marks := scanKeys(t, srv, prefix+":*:early")
			require.Len(t, marks, 1, "one mark: the ticket's")
			ttl, err := srv.Do(context.Background(), "PTTL", marks[0])
			require.NoError(t, err)
			lifetime := full.ServerSession.Timeout()
			assert.Positive(t, ttl.(int64))
			assert.LessOrEqual(t, time.Duration(ttl.(int64))*time.Millisecond, lifetime, "the mark expires with the session")
		})
	}
}

// TestAllowEarlyDataRacingServers: many handshakes' checks of one ticket,
// through two stores at once: exactly one wins.
func TestAllowEarlyDataRacingServers(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	o := redisstore.Options{Prefix: uniquePrefix(t), Keys: testKeyring(t, "k1")}
	stores := []*redisstore.Store{newStore(t, srv.Addr, o), newStore(t, srv.Addr, o)}
	req := ossl.EarlyDataRequest{SessionIDContext: []byte("fleet"), SessionID: []byte("0123456789abcdef0123456789abcdef"), Expires: time.Now().Add(time.Hour)}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			ok, err := stores[i%2].AllowEarlyData(context.Background(), req)
			assert.NoError(t, err)
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), allowed.Load())

	expired := req
	expired.SessionID = []byte("another")
	expired.Expires = time.Now().Add(-time.Second)
	ok, err := stores[0].AllowEarlyData(context.Background(), expired)
	require.NoError(t, err)
	assert.False(t, ok, "an expired session's early data is refused")
	assert.Empty(t, scanKeys(t, srv, o.Prefix+":*6e6f74686572}:early"), "and nothing is written for it")
}

// TestAllowEarlyDataRedisDownOrSlow: when Redis is down, or slower than the
// check's timeout, the early data is rejected, the handshake completes
// (resumed), and the failure is counted and reported.
func TestAllowEarlyDataRedisDownOrSlow(t *testing.T) {
	for _, tt := range []struct {
		name string
		fail func(*testing.T, *redistest.Server)
		// event is the failure reported: a store error when Redis is
		// down; when it is slow, a timeout of the store (its Redis
		// client honours the deadline the bridge hands it) or of the
		// bridge, whichever fires first.
		event func(ossl.Event) bool
	}{
		{"down", func(_ *testing.T, srv *redistest.Server) { srv.Kill() }, func(ev ossl.Event) bool { return ev.Kind == ossl.EventStoreError }},
		{"slow", func(t *testing.T, srv *redistest.Server) {
			_, err := srv.Do(context.Background(), "CLIENT", "PAUSE", 30000, "WRITE")
			require.NoError(t, err)
			t.Cleanup(func() { _, _ = srv.Do(context.Background(), "CLIENT", "UNPAUSE") })
		}, func(ev ossl.Event) bool {
			return ev.Kind == ossl.EventTimeout || ev.Kind == ossl.EventStoreError && errors.Is(ev.Err, os.ErrDeadlineExceeded)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			srv := redistest.Start(t, redistest.Options{})
			rs := newStore(t, srv.Addr, redisstore.Options{LookupTimeout: time.Minute})
			key, err := ossltest.NewTicketKey()
			require.NoError(t, err)
			server := newServer(t, tls13, "fleet")
			require.NoError(t, server.SetTicketKeys(key))
			require.NoError(t, server.SetMaxEarlyData(1024))
			_, err = server.SetOptions(ossl.OptionNoAntiReplay)
			require.NoError(t, err)
			ev := &events{}
			require.NoError(t, server.SetAllowEarlyDataCallback(ossl.AllowEarlyDataConfig{
				Allow: rs.AllowEarlyData, Timeout: 100 * time.Millisecond, OnEvent: ev.add,
			}))
			client := newClient(t, tls13)
			full := handshake(t, client, server, nil)
			require.NoError(t, rs.Ping(context.Background()), "a warm pool")

			tt.fail(t, srv)
			res := earlyHandshake(t, client, server, full.ClientSession)
			assert.True(t, res.ServerReused, "the handshake completes, resumed")
			assert.Equal(t, ossl.EarlyDataRejected, res.ServerEarlyData)
			assert.Equal(t, ossl.EarlyDataRejected, res.ClientEarlyData)
			cs := server.CallbackStats()
			assert.Equal(t, int64(1), cs.EarlyDataErrors)
			assert.Zero(t, cs.EarlyDataAllowed)
			evs := ev.all()
			require.Len(t, evs, 1)
			assert.Equal(t, "allow-early-data", evs[0].Op)
			assert.True(t, tt.event(evs[0]), "%v", evs[0])
		})
	}
}
