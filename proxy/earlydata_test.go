package proxy_test

import (
	"io"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/proxy"
)

// earlyConn connects an ossl client to addr offering sess, sends msg as
// early data, completes the handshake, sends msg again if the early data
// was rejected, and returns what the upstream echoed until its EOF, and
// the early data status.
func earlyConn(t *testing.T, addr string, client *ossl.Ctx, sess *ossl.Session, msg string) (string, ossl.EarlyDataStatus) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, raw.SetDeadline(time.Now().Add(testDeadline)))
	c, err := ossl.Client(raw, client, ossl.ClientConfig{ServerName: "localhost", Session: sess})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.WriteEarlyData([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, c.Handshake())
	st := c.ConnectionState().EarlyData
	if st != ossl.EarlyDataAccepted {
		_, err = io.WriteString(c, msg)
		require.NoError(t, err)
	}
	require.NoError(t, c.CloseWrite())
	echoed, err := io.ReadAll(c)
	require.NoError(t, err)
	return string(echoed), st
}

// earlySessionFrom makes a full handshake through the proxy and returns
// the session the client received, which allows early data.
func earlySessionFrom(t *testing.T, addr string, client *ossl.Ctx) *ossl.Session {
	t.Helper()
	c, err := ossltest.Dial(addr, client, ossl.ClientConfig{ServerName: "localhost"})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, ossltest.EchoLine(c, line)) // reads the tickets too
	sess := c.Session()
	require.NotNil(t, sess)
	t.Cleanup(sess.Close)
	require.Equal(t, uint32(4096), sess.MaxEarlyData())
	return sess
}

// TestProxyEarlyData: with -early-data, a ticket's early data is accepted
// and relayed upstream once; a replay of the same ticket is rejected (the
// client sends its data again after the handshake, and the upstream sees
// it once), for stateless and stateful tickets, with and without a store.
// The metrics count each outcome.
func TestProxyEarlyData(t *testing.T) {
	for _, tt := range []struct {
		name, store string
		noTicket    bool
	}{
		{"stateless tickets, no store", "none", false},
		{"stateless tickets, memory store", "memory", false},
		{"stateful tickets, memory store", "memory", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := proxy.ParseStoreSpec(tt.store)
			require.NoError(t, err)
			mode := proxy.DefaultCacheMode
			if tt.store == "none" {
				mode = ossl.CacheServer
			}
			srv, addr, logs := startProxy(t, proxy.Config{Store: spec, CacheMode: mode, NoTicket: tt.noTicket,
				MinVersion: ossl.VersionTLS13, EarlyData: 4096})
			// A client that does not cache (with CLIENT, libssl would use
			// each TLS 1.3 session once): it replays its session as an
			// attacker replays the bytes.
			client, err := ossltest.NewClientCtx(testCert(t).cert, ossltest.ClientOptions{Version: ossl.VersionTLS13, VerifyServer: true})
			require.NoError(t, err)
			t.Cleanup(func() { client.Close() })
			sess := earlySessionFrom(t, addr, client)
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(logs.String())
				}
			})

			const msg = "GET / HTTP/1.1\r\n\r\n"
			echoed, st := earlyConn(t, addr, client, sess, msg)
			assert.Equal(t, ossl.EarlyDataAccepted, st)
			assert.Equal(t, msg, echoed)
			echoed, st = earlyConn(t, addr, client, sess, msg)
			assert.Equal(t, ossl.EarlyDataRejected, st, "a replay")
			assert.Equal(t, msg, echoed, "the replayed early data never reached the upstream; the data sent after the handshake did")

			ms := httptest.NewServer(srv.MetricsHandler())
			defer ms.Close()
			m := testutil.ScrapeMetrics(t, ms.URL)
			assert.Equal(t, 1.0, m[`osslcache_proxy_early_data_total{result="accepted"}`])
			assert.Equal(t, 1.0, m[`osslcache_proxy_early_data_total{result="replay_rejected"}`])
			assert.Equal(t, 0.0, m[`osslcache_proxy_early_data_total{result="rejected"}`])
			assert.Equal(t, float64(len(msg)), m["osslcache_proxy_early_data_bytes_total"])
			assert.Equal(t, 1.0, m["osslcache_callback_early_data_allowed_total"])
			assert.Equal(t, 1.0, m["osslcache_callback_early_data_refused_total"])
			assert.Contains(t, logs.String(), "early_data=accepted")
			assert.Contains(t, logs.String(), "early_data=replay_rejected")
		})
	}
}

// TestProxyEarlyDataOff: without -early-data, tickets allow none and a
// client cannot send any.
func TestProxyEarlyDataOff(t *testing.T) {
	_, addr, _ := startProxy(t, proxy.Config{CacheMode: ossl.CacheServer, MinVersion: ossl.VersionTLS13})
	client := osslClient(t, ossl.VersionTLS13)
	c, err := ossltest.Dial(addr, client, ossl.ClientConfig{ServerName: "localhost"})
	require.NoError(t, err)
	require.NoError(t, ossltest.EchoLine(c, line))
	sess := c.Session()
	c.Close()
	require.NotNil(t, sess)
	defer sess.Close()
	assert.Zero(t, sess.MaxEarlyData())
}
