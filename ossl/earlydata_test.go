package ossl_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

const earlyLimit = 1024

// earlyServer is a TLS 1.3 server context accepting earlyLimit bytes of
// early data, with options set on top of the defaults.
func earlyServer(t *testing.T, opts ossl.Options) *ossl.Ctx {
	server := newServer(t, tls13)
	require.NoError(t, server.SetMaxEarlyData(earlyLimit))
	if opts != 0 {
		_, err := server.SetOptions(opts)
		require.NoError(t, err)
	}
	return server
}

// earlySession runs a full handshake and returns the client's session,
// which carries the server's early data limit.
func earlySession(t *testing.T, client, server *ossl.Ctx) *ossl.Session {
	full := handshake(t, client, server, ossltest.Options{ServerName: "localhost"})
	require.False(t, full.ServerReused)
	require.Equal(t, uint32(earlyLimit), full.ClientSession.MaxEarlyData())
	return full.ClientSession
}

// TestEarlyDataLimits: the limits are set and read back on contexts and
// connections, and the status of a connection that sent nothing.
func TestEarlyDataLimits(t *testing.T) {
	server := newServer(t, tls13)
	assert.Equal(t, uint32(0), server.MaxEarlyData())
	assert.Equal(t, uint32(16384), server.RecvMaxEarlyData(), "libssl's default")
	require.NoError(t, server.SetMaxEarlyData(100))
	require.NoError(t, server.SetRecvMaxEarlyData(200))
	assert.Equal(t, uint32(100), server.MaxEarlyData())
	assert.Equal(t, uint32(200), server.RecvMaxEarlyData())

	ssl, err := server.NewSSL()
	require.NoError(t, err)
	assert.Equal(t, uint32(100), ssl.MaxEarlyData(), "copied at SSL_new")
	assert.Equal(t, uint32(200), ssl.RecvMaxEarlyData())
	require.NoError(t, ssl.SetMaxEarlyData(7))
	require.NoError(t, ssl.SetRecvMaxEarlyData(9))
	assert.Equal(t, uint32(7), ssl.MaxEarlyData())
	assert.Equal(t, uint32(9), ssl.RecvMaxEarlyData())
	assert.Equal(t, ossl.EarlyDataNotSent, ssl.EarlyDataStatus())
	ssl.Close()
	assert.Equal(t, uint32(0), ssl.MaxEarlyData(), "closed")
	assert.Equal(t, ossl.EarlyDataNotSent, ssl.EarlyDataStatus())
	assert.ErrorIs(t, ssl.SetMaxEarlyData(1), ossl.ErrClosed)
	assert.Equal(t, "SSL_EARLY_DATA_ACCEPTED", ossl.EarlyDataAccepted.String())
}

// TestEarlyDataReplay: with libssl's anti-replay (the default), a ticket's
// early data is accepted once, and the same ticket offered again neither
// resumes nor carries early data; with OptionNoAntiReplay, both uses are
// accepted. A server that does not read early data rejects it.
func TestEarlyDataReplay(t *testing.T) {
	data := []byte("GET / HTTP/1.1\r\n\r\n")
	for _, tt := range []struct {
		name       string
		opts       ossl.Options
		readEarly  bool
		first      ossl.EarlyDataStatus
		replay     ossl.EarlyDataStatus
		replayResu bool
	}{
		{"anti-replay", 0, true, ossl.EarlyDataAccepted, ossl.EarlyDataRejected, false},
		{"no-anti-replay", ossl.OptionNoAntiReplay, true, ossl.EarlyDataAccepted, ossl.EarlyDataAccepted, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			server, client := earlyServer(t, tt.opts), newClient(t, tls13)
			sess := earlySession(t, client, server)
			first := handshake(t, client, server, ossltest.Options{ServerName: "localhost", Session: sess, EarlyData: data})
			assert.True(t, first.ServerReused)
			assert.Equal(t, tt.first, first.ServerEarlyData)
			assert.Equal(t, tt.first, first.ClientEarlyData)
			assert.Equal(t, data, first.EarlyDataRead)
			assert.Equal(t, ossl.EarlyDataNotChecked, first.EarlyDataCheck, "no callback installed")

			replay := handshake(t, client, server, ossltest.Options{ServerName: "localhost", Session: sess, EarlyData: data})
			assert.Equal(t, tt.replayResu, replay.ServerReused)
			assert.Equal(t, tt.replay, replay.ServerEarlyData)
			assert.Equal(t, tt.replay, replay.ClientEarlyData)
			if tt.replay != ossl.EarlyDataAccepted {
				assert.Empty(t, replay.EarlyDataRead, "rejected early data is never readable")
			}
		})
	}
}

// TestAllowEarlyDataCallback: the callback sees the resumption and
// decides; a refusal, an error, a panic and a timeout each reject the
// early data and the handshake still resumes. Each is counted.
func TestAllowEarlyDataCallback(t *testing.T) {
	data := []byte("hello")
	for _, tt := range []struct {
		name     string
		allow    func(context.Context, ossl.EarlyDataRequest) (bool, error)
		want     ossl.EarlyDataStatus
		check    ossl.EarlyDataCheck
		stats    ossl.CallbackStats
		event    ossl.EventKind
		hasEvent bool
		// timeout is the callback's deadline: only the store that never
		// answers meets it, so a loaded machine cannot turn an answer
		// into a timeout.
		timeout time.Duration
	}{
		{"allow", func(context.Context, ossl.EarlyDataRequest) (bool, error) { return true, nil },
			ossl.EarlyDataAccepted, ossl.EarlyDataCheckAllowed, ossl.CallbackStats{EarlyDataAllowed: 1}, 0, false, time.Minute},
		{"refuse", func(context.Context, ossl.EarlyDataRequest) (bool, error) { return false, nil },
			ossl.EarlyDataRejected, ossl.EarlyDataCheckRefused, ossl.CallbackStats{EarlyDataRefused: 1}, 0, false, time.Minute},
		{"error", func(context.Context, ossl.EarlyDataRequest) (bool, error) { return true, errors.New("store down") },
			ossl.EarlyDataRejected, ossl.EarlyDataCheckFailed, ossl.CallbackStats{EarlyDataErrors: 1}, ossl.EventStoreError, true, time.Minute},
		{"panic", func(context.Context, ossl.EarlyDataRequest) (bool, error) { panic("allow") },
			ossl.EarlyDataRejected, ossl.EarlyDataCheckFailed, ossl.CallbackStats{EarlyDataErrors: 1, Panics: 1}, ossl.EventPanic, true, time.Minute},
		{"timeout", func(ctx context.Context, _ ossl.EarlyDataRequest) (bool, error) {
			<-ctx.Done() // a store that never answers: the deadline ends it
			return true, nil
		}, ossl.EarlyDataRejected, ossl.EarlyDataCheckFailed, ossl.CallbackStats{EarlyDataErrors: 1, Timeouts: 1}, ossl.EventTimeout, true, 50 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			server, client := earlyServer(t, 0), newClient(t, tls13)
			var mu sync.Mutex
			var reqs []ossl.EarlyDataRequest
			var events []ossl.Event
			require.NoError(t, server.SetAllowEarlyDataCallback(ossl.AllowEarlyDataConfig{
				Allow: func(ctx context.Context, req ossl.EarlyDataRequest) (bool, error) {
					mu.Lock()
					reqs = append(reqs, req)
					mu.Unlock()
					return tt.allow(ctx, req)
				},
				Timeout: tt.timeout,
				OnEvent: func(ev ossl.Event) {
					mu.Lock()
					events = append(events, ev)
					mu.Unlock()
				},
			}))
			sess := earlySession(t, client, server)
			before := time.Now()
			res := handshake(t, client, server, ossltest.Options{ServerName: "localhost", Session: sess, EarlyData: data})
			assert.True(t, res.ServerReused, "the handshake resumes either way")
			assert.Equal(t, tt.want, res.ServerEarlyData)
			assert.Equal(t, tt.want, res.ClientEarlyData)
			assert.Equal(t, tt.check, res.EarlyDataCheck)

			st := server.CallbackStats()
			got := ossl.CallbackStats{EarlyDataAllowed: st.EarlyDataAllowed, EarlyDataRefused: st.EarlyDataRefused,
				EarlyDataErrors: st.EarlyDataErrors, Panics: st.Panics, Timeouts: st.Timeouts}
			assert.Equal(t, tt.stats, got)

			mu.Lock()
			defer mu.Unlock()
			require.Len(t, reqs, 1)
			req := reqs[0]
			assert.Len(t, req.SessionID, 32)
			assert.Equal(t, []byte("test"), req.SessionIDContext)
			assert.Equal(t, "localhost", req.ServerName)
			assert.Equal(t, uint32(earlyLimit), req.MaxEarlyData)
			assert.WithinDuration(t, before, req.Issued, time.Minute)
			assert.True(t, req.Expires.After(req.Issued))
			if tt.hasEvent {
				require.Len(t, events, 1)
				assert.Equal(t, tt.event, events[0].Kind)
				assert.Equal(t, "allow-early-data", events[0].Op)
				assert.Equal(t, req.SessionID, events[0].SessionID)
			} else {
				assert.Empty(t, events)
			}
		})
	}
}

// TestAllowEarlyDataSessionIDNamesTheTicket: with stateless tickets (no
// anti-replay), a replay of one ticket shows the callback the same ID,
// and another ticket another ID: the key a fleet-wide check needs.
func TestAllowEarlyDataSessionIDNamesTheTicket(t *testing.T) {
	server, client := earlyServer(t, ossl.OptionNoAntiReplay), newClient(t, tls13)
	seen := map[string]int{}
	var mu sync.Mutex
	require.NoError(t, server.SetAllowEarlyDataCallback(ossl.AllowEarlyDataConfig{
		Allow: func(_ context.Context, req ossl.EarlyDataRequest) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			seen[string(req.SessionID)]++
			return seen[string(req.SessionID)] == 1, nil
		},
	}))
	a, b := earlySession(t, client, server), earlySession(t, client, server)
	for _, tt := range []struct {
		sess *ossl.Session
		want ossl.EarlyDataStatus
	}{{a, ossl.EarlyDataAccepted}, {a, ossl.EarlyDataRejected}, {b, ossl.EarlyDataAccepted}, {a, ossl.EarlyDataRejected}} {
		res := handshake(t, client, server, ossltest.Options{ServerName: "localhost", Session: tt.sess, EarlyData: []byte("x")})
		assert.True(t, res.ServerReused)
		assert.Equal(t, tt.want, res.ServerEarlyData)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, 2, "one ID per ticket")
}

// TestAllowEarlyDataRemoved: a removed callback leaves libssl's decision.
func TestAllowEarlyDataRemoved(t *testing.T) {
	server, client := earlyServer(t, 0), newClient(t, tls13)
	require.NoError(t, server.SetAllowEarlyDataCallback(ossl.AllowEarlyDataConfig{
		Allow: func(context.Context, ossl.EarlyDataRequest) (bool, error) { return false, nil },
	}))
	require.NoError(t, server.SetAllowEarlyDataCallback(ossl.AllowEarlyDataConfig{}))
	sess := earlySession(t, client, server)
	res := handshake(t, client, server, ossltest.Options{ServerName: "localhost", Session: sess, EarlyData: []byte("x")})
	assert.Equal(t, ossl.EarlyDataAccepted, res.ServerEarlyData)
	assert.Equal(t, ossl.EarlyDataNotChecked, res.EarlyDataCheck)
	assert.Zero(t, server.CallbackStats().EarlyDataRefused)
}

// dialEarly connects a client Conn to addr, offering sess, without running
// the handshake.
func dialEarly(t *testing.T, addr string, client *ossl.Ctx, sess *ossl.Session) *ossl.Conn {
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, raw.SetDeadline(time.Now().Add(ossltest.DefaultConnTimeout)))
	c, err := ossl.Client(raw, client, ossl.ClientConfig{ServerName: "localhost", Session: sess})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// earlyReporter is a server handler: it reads early data (first at most
// firstRead bytes with ReadEarlyData, when firstRead > 0, then the rest
// with Read), or none when firstRead is 0, and reports what it read and
// the early data status in one line.
func earlyReporter(firstRead, total int) func(*ossl.Conn) {
	return func(c *ossl.Conn) {
		var got []byte
		if firstRead > 0 {
			buf := make([]byte, firstRead)
			n, err := c.ReadEarlyData(buf)
			got = append(got, buf[:n]...)
			if err != nil && err != io.EOF {
				return
			}
		}
		if err := c.Handshake(); err != nil {
			return
		}
		if rest := total - len(got); rest > 0 {
			buf := make([]byte, rest)
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			got = append(got, buf...)
		}
		fmt.Fprintf(c, "got=%s status=%v\n", got, c.ConnectionState().EarlyData)
	}
}

// TestConnEarlyData: early data over TCP between two Conns: read with
// ReadEarlyData, read partly with ReadEarlyData and the rest by Read, or
// not read (libssl rejects it, and the client sends it again after the
// handshake).
func TestConnEarlyData(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		msg := []byte("hello early")
		for _, tt := range []struct {
			name      string
			firstRead int
			want      ossl.EarlyDataStatus
		}{
			{"read", len(msg) + 10, ossl.EarlyDataAccepted},
			{"partly read", 2, ossl.EarlyDataAccepted},
			{"not read", 0, ossl.EarlyDataRejected},
		} {
			t.Run(tt.name, func(t *testing.T) {
				server, client := earlyServer(t, ossl.OptionNoAntiReplay), newClient(t, tls13)
				srv := ossltest.NewServer(server, earlyReporter(tt.firstRead, len(msg)))
				defer srv.Close()

				// A first connection for a session that allows early data.
				c0 := dialEarly(t, srv.Addr, client, nil)
				_, err := c0.Write(msg)
				require.NoError(t, err)
				line, err := bufio.NewReader(c0).ReadString('\n')
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("got=%s status=SSL_EARLY_DATA_NOT_SENT\n", msg), line)
				sess := c0.Session()
				require.NotNil(t, sess)
				defer sess.Close()
				require.Equal(t, uint32(earlyLimit), sess.MaxEarlyData())

				c := dialEarly(t, srv.Addr, client, sess)
				n, err := c.WriteEarlyData(msg)
				require.NoError(t, err)
				assert.Equal(t, len(msg), n)
				require.NoError(t, c.Handshake())
				assert.Equal(t, tt.want, c.ConnectionState().EarlyData)
				if tt.want != ossl.EarlyDataAccepted {
					_, err = c.Write(msg) // rejected: sent again
					require.NoError(t, err)
				}
				line, err = bufio.NewReader(c).ReadString('\n')
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf("got=%s status=%v\n", msg, tt.want), line)
				assert.True(t, c.ConnectionState().DidResume)
			})
		}
	})
}

// TestConnEarlyDataMisuse: early data calls on the wrong side, at the
// wrong time, or beyond what the session allows fail with clear errors
// and leave the connection usable.
func TestConnEarlyDataMisuse(t *testing.T) {
	forEachTransport(t, func(t *testing.T) {
		server, client := earlyServer(t, ossl.OptionNoAntiReplay), newClient(t, tls13)
		srv := ossltest.NewServer(server, func(c *ossl.Conn) {
			if _, err := c.WriteEarlyData([]byte("x")); err == nil {
				return
			}
			n, err := c.ReadEarlyData(make([]byte, 64))
			if n != 0 || err != io.EOF {
				return // the client sent no early data
			}
			ossltest.Echo(c)
			if n, err := c.ReadEarlyData(make([]byte, 1)); n != 0 || err != io.EOF {
				panic("ReadEarlyData after the handshake")
			}
		})
		defer srv.Close()
		echo := func(c *ossl.Conn) {
			t.Helper()
			require.NoError(t, ossltest.EchoLine(c, "ping"))
		}

		c := dialEarly(t, srv.Addr, client, nil)
		_, err := c.WriteEarlyData([]byte("x"))
		require.ErrorIs(t, err, ossl.ErrNoEarlyData, "no session")
		_, err = c.ReadEarlyData(make([]byte, 1))
		require.ErrorContains(t, err, "client")
		echo(c)
		sess := c.Session()
		require.NotNil(t, sess)
		defer sess.Close()
		_, err = c.WriteEarlyData([]byte("x"))
		require.ErrorContains(t, err, "after the handshake")

		c = dialEarly(t, srv.Addr, client, sess)
		_, err = c.WriteEarlyData(bytes.Repeat([]byte("x"), earlyLimit+1))
		require.ErrorIs(t, err, ossl.ErrNoEarlyData, "over the session's limit")
		echo(c)
		assert.Equal(t, ossl.EarlyDataNotSent, c.ConnectionState().EarlyData)
		assert.True(t, c.ConnectionState().DidResume)

		// A client caching with CLIENT uses a TLS 1.3 session once: libssl
		// marks it not resumable, and early data on it is refused up front
		// (libssl itself would fail with an empty error queue).
		caching := newClient(t, tls13)
		_, err = caching.SetSessionCacheMode(ossl.CacheClient)
		require.NoError(t, err)
		c = dialEarly(t, srv.Addr, caching, sess)
		echo(c)
		require.True(t, c.ConnectionState().DidResume)
		require.False(t, sess.IsResumable())
		c = dialEarly(t, srv.Addr, caching, sess)
		_, err = c.WriteEarlyData([]byte("x"))
		require.ErrorIs(t, err, ossl.ErrNoEarlyData, "a session used up")
		assert.ErrorContains(t, err, "no longer be resumed")
		echo(c)
		assert.False(t, c.ConnectionState().DidResume)
	})
}
