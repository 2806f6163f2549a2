package main

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// waitStreak waits until n handshakes in a row resumed, counted from
// now: a run of them shows that every lookup finds its session again,
// whichever node its slot is on.
func (l *loadGen) waitStreak(t *testing.T, n int64, timeout time.Duration, what string) {
	t.Helper()
	p := l.phase.Load()
	l.streak.Store(0)
	deadline := time.Now().Add(timeout)
	for l.streak.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %d resumed handshakes in a row within %v (phase %d: %d handshakes, %d resumed)",
				what, n, timeout, p, l.done[p].Load(), l.resumed[p].Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeRedisFailover runs two serve processes sharing a replicated
// Redis, a Redis Cluster (three masters, a replica each) or a master
// watched by three Sentinels (one replica), with single use on and
// stateful TLS 1.3 tickets, so that every resumption is a lookup (and a
// write, of the new tickets). crypto/tls clients connect to both
// processes without pause while a master is killed (SIGKILL) and its
// replica is promoted. No handshake fails, on the clients or in the
// proxies' metrics; while the master is away the handshakes whose
// sessions live there are full ones; once the replica is promoted,
// resumption comes back by itself (a run of resumed handshakes); and the
// proxies' Redis metrics show the outage.
func TestServeRedisFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Redis clusters and Sentinels")
	}
	bin := osslcacheBinary(t)
	f := writeTestFiles(t)
	upstream := echoUpstream(t)
	tests := []struct {
		name string
		// start makes the Redis setup and returns the -store URL and a
		// function that kills a master and waits for its replica's
		// promotion.
		start func(t *testing.T) (store string, failover func())
	}{
		{"cluster", func(t *testing.T) (string, func()) {
			c := redistest.StartCluster(t, redistest.ClusterOptions{Masters: 3, Replicas: 1, NodeTimeout: time.Second})
			store := "redis+cluster://" + strings.Join(c.Addrs()[:3], ",") + "/?single_use=1&prefix=failover"
			return store, func() {
				ctx := context.Background()
				master := c.Nodes[0]
				replica, err := c.ReplicaOf(ctx, master)
				require.NoError(t, err)
				require.NotNil(t, replica, "a replica of %s", master.Addr)
				master.Kill()
				c.WaitPromoted(replica, 60*time.Second)
				t.Logf("cluster: killed master %s, replica %s promoted", master.Addr, replica.Addr)
			}
		}},
		{"sentinel", func(t *testing.T) (string, func()) {
			s := redistest.StartSentinel(t, redistest.SentinelOptions{Replicas: 1, Sentinels: 3, DownAfter: time.Second})
			store := "redis+sentinel://" + strings.Join(s.Addrs(), ",") + "/" + s.Name + "?single_use=1&prefix=failover"
			return store, func() {
				s.Master.Kill()
				m := s.WaitFailover(s.Master.Addr, 60*time.Second)
				t.Logf("sentinel: killed master %s, %s promoted", s.Master.Addr, m.Addr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, failover := tt.start(t)
			args := []string{"-upstream", upstream, "-cert", f.certFile, "-key", f.key, "-sid-ctx", "failover", "-no-ticket",
				"-store", store, "-redis-key-file", f.redisKeys, "-lookup-timeout", "500ms",
				"-min-version", "1.3", "-max-version", "1.3", "-metrics", "127.0.0.1:0"}
			p1, p2 := startServe(t, bin, args...), startServe(t, bin, args...)
			l := startLoad(t, []string{p1.addr, p2.addr}, goConfig(f, tls.VersionTLS13), 3)
			l.waitStreak(t, 30, waitLimit, "before the failover")
			before := redisMetrics(t, p1, p2)

			l.phase.Store(1)
			killed := time.Now()
			failover()
			promoted := time.Now()
			during := redisMetrics(t, p1, p2)
			l.phase.Store(2)
			l.waitStreak(t, 30, waitLimit, "after the promotion")
			// The run began at most 30 handshakes before it ended.
			recovered := time.Now()
			l.halt()
			t.Logf("master killed; promoted %.1fs later; 30 resumed handshakes in a row %.1fs after the promotion",
				promoted.Sub(killed).Seconds(), recovered.Sub(promoted).Seconds())

			l.mu.Lock()
			assert.Zero(t, l.failures.Load(), "failed handshakes: %v", l.errs)
			l.mu.Unlock()
			t.Logf("handshakes (resumed): before %d (%d), master away %d (%d), after the promotion %d (%d)",
				l.done[0].Load(), l.resumed[0].Load(), l.done[1].Load(), l.resumed[1].Load(), l.done[2].Load(), l.resumed[2].Load())
			after := redisMetrics(t, p1, p2)
			t.Logf("redis metrics before %v, at the promotion %v, after %v", before, during, after)
			assert.Positive(t, l.done[1].Load(), "handshakes went on while the master was away")
			assert.Less(t, l.resumed[1].Load(), l.done[1].Load(), "some were full ones: their sessions were on the master")
			assert.Zero(t, after["handshake_errors"], "no handshake failed in the proxies")
			assert.Zero(t, before["errors"], "no Redis error before the failover")
			assert.Positive(t, during["errors"], "the failover shows in osslcache_redis_errors_total")
			assert.Positive(t, during["outages"], "and in osslcache_redis_outages_total")
			assert.Greater(t, after["hits"], during["hits"], "lookups find sessions again")
			assert.Zero(t, after["open_failures"]+after["refused"])
		})
	}
}

// redisMetrics sums some metrics of the processes.
func redisMetrics(t *testing.T, ps ...*serveProc) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, p := range ps {
		m := p.metricsNow()
		for _, k := range []string{"errors", "outages", "hits", "misses", "open_failures", "refused", "timeouts"} {
			out[k] += m["osslcache_redis_"+k+"_total"]
		}
		out["handshake_errors"] += m["osslcache_proxy_handshake_errors_total"]
	}
	return out
}
