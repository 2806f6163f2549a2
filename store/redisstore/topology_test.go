package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// commandCalls returns how often srv ran cmd (INFO commandstats).
func commandCalls(t testing.TB, srv *redistest.Server, cmd string) int {
	t.Helper()
	v, err := srv.Do(context.Background(), "INFO", "commandstats")
	require.NoError(t, err)
	for _, line := range strings.Split(v.(string), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}

func dbSize(t testing.TB, srv *redistest.Server) int64 {
	t.Helper()
	v, err := srv.Do(context.Background(), "DBSIZE")
	require.NoError(t, err)
	return v.(int64)
}

// TestCluster runs the store against a Redis Cluster of three masters with
// a replica each, made by redis-cli --cluster create, reached through seed
// addresses of which the first is dead. Two servers resume each other's
// sessions; sessions spread over every master; the keys of one session
// (the session and its consumption marker) share a slot; lookups go to
// replicas only with ReplicaReads, and the single-use script always runs
// on a master.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster")
	}
	cluster := redistest.StartCluster(t, redistest.ClusterOptions{Masters: 3, Replicas: 1})
	dead := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	seeds := append([]string{dead}, cluster.Addrs()[:2]...)
	ctx := context.Background()

	t.Run("resumption across servers, sessions over every master", func(t *testing.T) {
		for _, tt := range []struct {
			v         variant
			singleUse bool
		}{{tls12, false}, {tls13Stateful, false}, {tls12, true}, {tls13Stateful, true}} {
			t.Run(fmt.Sprintf("%s/single-use=%v", tt.v.Name, tt.singleUse), func(t *testing.T) {
				rs := newStore(t, "", redisstore.Options{ClusterAddrs: seeds, SingleUse: tt.singleUse})
				first, second, client := newServer(t, tt.v, "svc"), newServer(t, tt.v, "svc"), newClient(t, tt.v)
				ev := &events{}
				install(t, first, rs, ev)
				install(t, second, rs, ev)
				var sessions []*ossl.Session
				for range 12 {
					full := handshake(t, client, first, nil)
					sessions = append(sessions, full.ClientSession)
				}
				for _, s := range sessions {
					assert.True(t, handshake(t, client, second, s).ServerReused)
				}
				again := handshake(t, client, first, sessions[0])
				assert.Equal(t, !tt.singleUse, again.ServerReused)
				assert.Empty(t, ev.all())
				st := rs.Stats()
				assert.Zero(t, st.RedisErrors+st.OpenFailures)
				assert.Equal(t, int64(len(sessions)+1), st.Hits+st.Misses)
			})
		}
		for _, n := range cluster.Nodes {
			assert.Positive(t, dbSize(t, n), "%s holds sessions: the hash tags spread them", n.Addr)
		}
	})

	t.Run("the keys of one session share a slot", func(t *testing.T) {
		rs := newStore(t, "", redisstore.Options{ClusterAddrs: seeds, SingleUse: true})
		server, client := newServer(t, tls12, "svc"), newClient(t, tls12)
		install(t, server, rs, nil)
		full := handshake(t, client, server, nil)
		require.True(t, handshake(t, client, server, full.ClientSession).ServerReused)
		name := rs.KeyName(store.Key{IDContext: []byte("svc"), ID: full.ClientSession.ID()})
		m1, err := cluster.MasterOfKey(ctx, name)
		require.NoError(t, err)
		m2, err := cluster.MasterOfKey(ctx, name+":consumed")
		require.NoError(t, err)
		assert.Same(t, m1, m2)
		v, err := m1.Do(ctx, "EXISTS", name+":consumed")
		require.NoError(t, err)
		assert.Equal(t, int64(1), v, "the marker is on the session's master")
	})

	t.Run("replica reads", func(t *testing.T) {
		for _, replicaReads := range []bool{false, true} {
			t.Run(fmt.Sprintf("ReplicaReads=%v", replicaReads), func(t *testing.T) {
				rs := newStore(t, "", redisstore.Options{ClusterAddrs: seeds, ReplicaReads: replicaReads})
				server, client := newServer(t, tls12, "svc"), newClient(t, tls12)
				install(t, server, rs, nil)
				full := handshake(t, client, server, nil)
				name := rs.KeyName(store.Key{IDContext: []byte("svc"), ID: full.ClientSession.ID()})
				master, err := cluster.MasterOfKey(ctx, name)
				require.NoError(t, err)
				replica, err := cluster.ReplicaOf(ctx, master)
				require.NoError(t, err)
				require.NotNil(t, replica)
				// Replication is asynchronous: wait until the replica has
				// the session, or a replica read would miss it.
				waitFor(t, 10*time.Second, "the session on the replica", func() bool { return dbSize(t, replica) == dbSize(t, master) })
				masterGets, replicaGets := commandCalls(t, master, "get"), commandCalls(t, replica, "get")
				require.True(t, handshake(t, client, server, full.ClientSession).ServerReused)
				if replicaReads {
					assert.Equal(t, replicaGets+1, commandCalls(t, replica, "get"), "looked up on the replica")
					assert.Equal(t, masterGets, commandCalls(t, master, "get"))
				} else {
					assert.Equal(t, masterGets+1, commandCalls(t, master, "get"), "looked up on the master")
					assert.Equal(t, replicaGets, commandCalls(t, replica, "get"))
				}
			})
		}
	})
}

// TestSentinel runs the store against a master managed by three Redis
// Sentinels (one replica), reached through the sentinels' addresses, of
// which the first is dead.
func TestSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sentinels")
	}
	sentinel := redistest.StartSentinel(t, redistest.SentinelOptions{})
	dead := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	for _, tt := range []struct {
		v         variant
		singleUse bool
	}{{tls12, false}, {tls13Stateful, true}} {
		t.Run(tt.v.Name, func(t *testing.T) {
			rs := newStore(t, "", redisstore.Options{SentinelAddrs: append([]string{dead}, sentinel.Addrs()...), MasterName: sentinel.Name, SingleUse: tt.singleUse})
			first, second, client := newServer(t, tt.v, "svc"), newServer(t, tt.v, "svc"), newClient(t, tt.v)
			install(t, first, rs, nil)
			install(t, second, rs, nil)
			full := handshake(t, client, first, nil)
			assert.True(t, handshake(t, client, second, full.ClientSession).ServerReused)
			assert.Equal(t, !tt.singleUse, handshake(t, client, first, full.ClientSession).ServerReused)
			assert.Positive(t, dbSize(t, sentinel.Master), "written on the master")
			assert.Zero(t, rs.Stats().RedisErrors)
		})
	}
	t.Run("replica reads", func(t *testing.T) {
		for _, replicaReads := range []bool{false, true} {
			t.Run(fmt.Sprintf("ReplicaReads=%v", replicaReads), func(t *testing.T) {
				rs := newStore(t, "", redisstore.Options{SentinelAddrs: sentinel.Addrs(), MasterName: sentinel.Name, ReplicaReads: replicaReads})
				server, client := newServer(t, tls12, "svc"), newClient(t, tls12)
				install(t, server, rs, nil)
				full := handshake(t, client, server, nil)
				master, replica := sentinel.Master, sentinel.Replicas[0]
				waitFor(t, 10*time.Second, "the session on the replica", func() bool { return dbSize(t, replica) == dbSize(t, master) })
				masterGets, replicaGets := commandCalls(t, master, "get"), commandCalls(t, replica, "get")
				require.True(t, handshake(t, client, server, full.ClientSession).ServerReused)
				if !replicaReads {
					assert.Equal(t, masterGets+1, commandCalls(t, master, "get"), "looked up on the master")
					assert.Equal(t, replicaGets, commandCalls(t, replica, "get"))
					return
				}
				assert.Equal(t, replicaGets+1, commandCalls(t, replica, "get"), "looked up on the replica")
				assert.Equal(t, masterGets, commandCalls(t, master, "get"))

				// No replica left to read from: the master answers (go-redis
				// falls back to it once the sentinels drop the replica, the
				// store when a replica read fails before that).
				replica.Kill()
				assert.True(t, handshake(t, client, server, full.ClientSession).ServerReused)
				assert.Equal(t, masterGets+1, commandCalls(t, master, "get"))
			})
		}
	})
}
