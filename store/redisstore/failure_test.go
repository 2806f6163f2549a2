package redisstore_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// failedCalls is the number of store calls that did not succeed, whichever
// counter the bridge puts timeouts in: every one of them must have been
// reported to the event hook.
func failedCalls(cs ossl.CallbackStats) int64 {
	return (cs.NewCalls - cs.Stored) + (cs.GetCalls - cs.GetHits - cs.GetMisses - cs.Rejected) + cs.RemoveErrors
}

// assertAccounted checks that the bridge counted and reported every failed
// store call, and that nothing panicked or was rejected.
func assertAccounted(t *testing.T, cs ossl.CallbackStats, ev *events) {
	t.Helper()
	assert.Zero(t, cs.Panics+cs.Rejected, "%+v", cs)
	assert.Equal(t, failedCalls(cs), int64(ev.len()), "every failed store call was reported: %+v", cs)
	for _, e := range ev.all() {
		assert.Contains(t, []ossl.EventKind{ossl.EventStoreError, ossl.EventTimeout}, e.Kind, "%v", e)
		assert.Error(t, e.Err)
	}
}

// resumer is one client that offers its newest session on every handshake.
type resumer struct {
	client, server *ossl.Ctx
	sess           *ossl.Session
}

// next runs one handshake; it reports whether the server resumed.
func (r *resumer) next() (bool, error) {
	res, err := ossltest.Handshake(r.client, r.server, ossltest.Options{Session: r.sess})
	if err != nil {
		return false, err
	}
	res.ServerSession.Close()
	r.sess.Close()
	r.sess = res.ClientSession
	return res.ServerReused, nil
}

func (r *resumer) close() { r.sess.Close() }

// TestRedisDownAtStart: New succeeds while nothing listens at Addr;
// handshakes are full ones, errors are counted and reported; once Redis
// starts, resumption comes back by itself.
func TestRedisDownAtStart(t *testing.T) {
	redistest.Require(t)
	checkLeaks(t)
	port := redistest.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// A small pool so that the failed dials open go-redis's dial circuit:
	// recovery then waits for its once-a-second probe, the slow path.
	var logs testutil.SyncBuffer
	rs := newStore(t, addr, redisstore.Options{PoolSize: 2, LookupTimeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.Error(t, rs.Ping(context.Background()))
	server, client := newServer(t, tls12, "svc"), newClient(t, tls12)
	ev := &events{}
	install(t, server, rs, ev)
	r := &resumer{client: client, server: server}
	defer r.close()

	for range 10 {
		resumed, err := r.next()
		require.NoError(t, err, "the handshake completes without Redis")
		require.False(t, resumed)
	}
	cs := server.CallbackStats()
	assert.Equal(t, int64(10), cs.NewCalls)
	assert.Zero(t, cs.Stored)
	assert.Equal(t, int64(9), cs.GetCalls)
	assert.Zero(t, cs.GetHits+cs.GetMisses)
	assertAccounted(t, cs, ev)
	assert.Equal(t, int64(1+19), rs.Stats().RedisErrors, "the ping, 10 puts and 9 gets")

	srv := redistest.Start(t, redistest.Options{Port: port})
	n := 0
	for ; n < 500; n++ {
		resumed, err := r.next()
		require.NoError(t, err)
		if resumed {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Less(t, n, 500, "resumption came back")
	t.Logf("resumed %d handshakes after redis-server started", n+1)
	assertAccounted(t, server.CallbackStats(), ev)
	assert.Positive(t, rs.Stats().Hits)
	// One notice for the outage, one for the recovery, not one per error.
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), logs.String())
	assert.Equal(t, 1, strings.Count(logs.String(), "Redis answers again"), logs.String())
	assert.Contains(t, logs.String(), "failed_commands=")

	require.NoError(t, rs.Close())
	waitFor(t, 5*time.Second, "the store's connections to close", func() bool { return connectedClients(t, srv) == 1 })
}

// TestRedisKilledAndRestartedUnderLoad: four clients handshake without
// pause while redis-server is killed (SIGKILL) and restarted on the same
// port. No handshake fails; while Redis is away they are full ones and the
// failures are counted and reported; after the restart every client
// resumes again within a bounded number of handshakes; no goroutine or
// connection is left behind.
func TestRedisKilledAndRestartedUnderLoad(t *testing.T) {
	tests := []struct {
		v         variant
		singleUse bool
	}{
		{tls12, false},
		{tls13Stateful, true},
	}
	for _, tt := range tests {
		t.Run(tt.v.Name, func(t *testing.T) {
			checkLeaks(t)
			srv := redistest.Start(t, redistest.Options{})
			rs := newStore(t, srv.Addr, redisstore.Options{PoolSize: 8, LookupTimeout: 250 * time.Millisecond, SingleUse: tt.singleUse})
			server := newServer(t, tt.v, "svc")
			ev := &events{}
			install(t, server, rs, ev)

			const (
				workers = 4
				up      = 0 // Redis running
				down    = 1 // killed, not restarted
				back    = 2 // restarted
				stop    = 3
				// Handshakes a client may need after the restart
				// before it resumes: go-redis probes a dead server
				// once a second, and clients pause 5ms between
				// handshakes while Redis is away.
				maxToRecover = 400
			)
			var (
				phase      atomic.Int32
				handshakes [3]atomic.Int64
				resumed    [3]atomic.Int64
				failures   atomic.Int64
				recovered  [workers]atomic.Int64 // handshakes after the restart until the first resumption
				wg         sync.WaitGroup
			)
			for w := range workers {
				r := &resumer{client: newClient(t, tt.v), server: server}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer r.close()
					sinceRestart := int64(0)
					for {
						p := phase.Load()
						if p == stop {
							return
						}
						ok, err := r.next()
						if err != nil {
							failures.Add(1)
							t.Errorf("handshake failed in phase %d: %v", p, err)
							return
						}
						handshakes[p].Add(1)
						if ok {
							resumed[p].Add(1)
						}
						if p == back {
							sinceRestart++
							if ok && recovered[w].Load() == 0 {
								recovered[w].Store(sinceRestart)
							}
						}
						if p != up {
							time.Sleep(5 * time.Millisecond)
						}
					}
				}()
			}
			defer func() { phase.Store(stop); wg.Wait() }()

			waitFor(t, 20*time.Second, "resumptions through Redis", func() bool { return resumed[up].Load() >= 40 })
			srv.Kill()
			phase.Store(down)
			waitFor(t, 20*time.Second, "handshakes while Redis is down", func() bool { return handshakes[down].Load() >= 4*30 })
			srv.Restart()
			phase.Store(back)
			waitFor(t, 20*time.Second, "every client to resume after the restart", func() bool {
				for w := range workers {
					if recovered[w].Load() == 0 {
						return false
					}
				}
				return true
			})
			phase.Store(stop)
			wg.Wait()

			t.Logf("handshakes (resumed): up %d (%d), down %d (%d), back %d (%d); after the restart clients resumed on handshake %d, %d, %d, %d",
				handshakes[up].Load(), resumed[up].Load(), handshakes[down].Load(), resumed[down].Load(),
				handshakes[back].Load(), resumed[back].Load(),
				recovered[0].Load(), recovered[1].Load(), recovered[2].Load(), recovered[3].Load())
			assert.Zero(t, failures.Load(), "no handshake failed")
			assert.Zero(t, resumed[down].Load(), "nothing resumes while Redis is down")
			for w := range workers {
				assert.LessOrEqual(t, recovered[w].Load(), int64(maxToRecover), "client %d", w)
			}
			cs := server.CallbackStats()
			assert.Positive(t, failedCalls(cs), "%+v", cs)
			assert.Positive(t, cs.GetErrors+cs.StoreErrors, "%+v", cs)
			assertAccounted(t, cs, ev)
			st := rs.Stats()
			assert.Positive(t, st.RedisErrors)
			assert.Zero(t, st.OpenFailures)

			require.NoError(t, rs.Close())
			waitFor(t, 5*time.Second, "the store's connections to close", func() bool { return connectedClients(t, srv) == 1 })
		})
	}
}

// TestSlowRedis: Redis stops answering (CLIENT PAUSE) for longer than the
// lookup timeout. Handshakes complete as full ones, timeouts are counted,
// and resumption comes back once Redis answers. Either the Redis client's
// own timeout fires first (the store counts it) or the bridge abandons the
// call (the bridge counts it).
func TestSlowRedis(t *testing.T) {
	tests := []struct {
		name                  string
		storeTimeout, ossl    time.Duration
		wantStore, wantBridge bool
	}{
		// 300 ms: enough for a lookup on a loaded machine (under -asan
		// at load 15, 50 ms was not, and nothing was ever stored), far
		// below the 1.5 s pause.
		{"redis timeout first", 300 * time.Millisecond, 5 * time.Second, true, false},
		{"bridge timeout first", 5 * time.Second, 300 * time.Millisecond, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			srv := redistest.Start(t, redistest.Options{})
			rs := newStore(t, srv.Addr, redisstore.Options{LookupTimeout: tt.storeTimeout})
			server, client := newServer(t, tls12, "svc"), newClient(t, tls12)
			ev := &events{}
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: rs.SessionStore(), LookupTimeout: tt.ossl, OnEvent: ev.add}))
			// A warm pool; a ping slower than a 50 ms store timeout (a
			// loaded machine) is tried again.
			waitFor(t, 10*time.Second, "a warm pool", func() bool { return rs.Ping(context.Background()) == nil })
			// A put or lookup slower than its timeout (a loaded machine)
			// stores or finds nothing: resumption is waited for, not
			// assumed, with a new session if the first was not stored.
			var full *ossltest.Result
			resumes := func() bool {
				for range 20 {
					if handshake(t, client, server, full.ClientSession).ServerReused {
						return true
					}
					time.Sleep(10 * time.Millisecond)
				}
				return false
			}
			warm := false
			for range 5 {
				if full = handshake(t, client, server, nil); resumes() {
					warm = true
					break
				}
			}
			require.True(t, warm, "resumption through Redis before the pause")

			// Redis 7.0 holds every command during a pause, CLIENT
			// UNPAUSE included: the pause runs its course.
			const pause = 1500 * time.Millisecond
			// Taken before the command: Redis's pause ends no earlier, so
			// a handshake done by then ran wholly inside the pause (both
			// its lookup and its put timed out).
			pauseEnd := time.Now().Add(pause)
			_, err := srv.Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL")
			require.NoError(t, err)
			inPause := 0
			for range 3 {
				res := handshake(t, client, server, full.ClientSession)
				if time.Now().Before(pauseEnd) {
					inPause++
					assert.False(t, res.ServerReused, "Redis paused: full handshake")
				}
			}
			require.Positive(t, inPause, "a handshake completed while Redis was paused")

			assert.True(t, resumes(), "resumption came back")

			// The lookup and the put of each handshake made during the
			// pause timed out.
			cs, st := server.CallbackStats(), rs.Stats()
			if tt.wantStore {
				assert.GreaterOrEqual(t, st.Timeouts, int64(2*inPause), "the store counted the timeouts: %+v", st)
				assert.GreaterOrEqual(t, ev.count(ossl.EventStoreError, "get"), inPause)
				assert.GreaterOrEqual(t, ev.count(ossl.EventStoreError, "put"), inPause)
			}
			if tt.wantBridge {
				assert.GreaterOrEqual(t, cs.Timeouts, int64(2*inPause), "the bridge counted the timeouts: %+v", cs)
				assert.GreaterOrEqual(t, ev.count(ossl.EventTimeout, "get"), inPause, "%v", ev.all())
				assert.GreaterOrEqual(t, ev.count(ossl.EventTimeout, "put"), inPause, "%v", ev.all())
			}
			assertAccounted(t, cs, ev)
		})
	}
}

// TestCloseReleasesEverything: after Close, the pool's connections are
// closed on the server side and handshakes still complete (as full ones,
// counted).
func TestCloseReleasesEverything(t *testing.T) {
	checkLeaks(t)
	srv := redistest.Start(t, redistest.Options{})
	rs := newStore(t, srv.Addr, redisstore.Options{})
	server := newServer(t, tls12, "svc")
	ev := &events{}
	install(t, server, rs, ev)
	var wg sync.WaitGroup
	for range 8 {
		r := &resumer{client: newClient(t, tls12), server: server}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.close()
			for range 20 {
				_, err := r.next()
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Positive(t, rs.Stats().Conns)
	assert.Greater(t, connectedClients(t, srv), 1)
	require.NoError(t, rs.Close())
	assert.Zero(t, rs.Stats().Conns)
	waitFor(t, 5*time.Second, "the store's connections to close", func() bool { return connectedClients(t, srv) == 1 })

	r := &resumer{client: newClient(t, tls12), server: server}
	defer r.close()
	for range 2 {
		ok, err := r.next()
		require.NoError(t, err)
		assert.False(t, ok)
	}
	assertAccounted(t, server.CallbackStats(), ev)
	assert.Equal(t, 3, ev.len(), "two puts and a get on a closed store")
}
