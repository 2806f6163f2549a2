package ossl_test

// The session and ticket scenarios of OpenSSL 3.0's test/sslapitest.c,
// one Go test each, written with the public API of ossl and ossltest:
// each step and each assertion of OpenSSL's test in its own words (the
// comments name OpenSSL's), over the real libssl in memory. The mapping
// is the table at the end of docs/conformance.md.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

// ---- what OpenSSL's test helpers do ----

// sslapiCtxs makes a server and a client context for the test
// certificate, both limited to [min, max] (0 for libssl's own bound), as
// create_ssl_ctx_pair does. The server has the session id context "test".
func sslapiCtxs(t *testing.T, min, max ossl.Version) (server, client *ossl.Ctx) {
	server, client = newServer(t, tls13), newClient(t, tls13)
	for _, c := range []*ossl.Ctx{server, client} {
		require.NoError(t, c.SetMinVersion(min))
		require.NoError(t, c.SetMaxVersion(max))
	}
	return server, client
}

// connect completes a pair's handshake and has the client read what
// followed it (TLS 1.3 tickets), as create_ssl_connection does.
func connect(t *testing.T, p *ossltest.Pair) {
	t.Helper()
	_, err := p.Handshake()
	require.NoError(t, err)
	data, err := p.Read(ossltest.ClientSide, 1)
	require.NoError(t, err)
	require.Nil(t, data, "no application data after the handshake")
}

// callbacks counts one context's session callbacks from a mark, as
// OpenSSL's tests count new_called, remove_called and get_called from
// their last reset: for a client, new-session calls that reached its
// ClientSessionCache; for a server, those that reached its SessionStore.
type callbacks struct {
	ctx  *ossl.Ctx
	mark ossl.CallbackStats
}

// cbCount is what callbacks.since returns.
type cbCount struct{ New, Remove, Get int64 }

func (c *callbacks) reset() { c.mark = c.ctx.CallbackStats() }

func (c *callbacks) since() cbCount {
	n := c.ctx.CallbackStats()
	return cbCount{
		New:    n.ClientPuts + n.NewCalls - c.mark.ClientPuts - c.mark.NewCalls,
		Remove: n.RemoveCalls - c.mark.RemoveCalls,
		Get:    n.GetCalls - c.mark.GetCalls,
	}
}

// countingClientCache is a client's external cache as OpenSSL's tests
// write one: the new-session callback keeps the sessions (when keep is
// set, in order, as new_cachesession_cb does) or drops them
// (new_session_cb), and it never offers one: each test offers sessions
// itself.
type countingClientCache struct {
	mu   sync.Mutex
	keep bool
	got  []*ossl.Session
}

func (c *countingClientCache) Get(string) *ossl.Session { return nil }

func (c *countingClientCache) Put(_ string, s *ossl.Session) {
	if s == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keep {
		c.got = append(c.got, s)
		return
	}
	s.Close()
}

// take returns the sessions kept so far, forgets them, and keeps no more.
func (c *countingClientCache) take() []*ossl.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	c.keep = false
	return out
}

// useCountingCache installs a countingClientCache on a client context.
func useCountingCache(t *testing.T, client *ossl.Ctx, keep bool) *countingClientCache {
	c := &countingClientCache{keep: keep}
	require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{Cache: c}))
	t.Cleanup(func() {
		for _, s := range c.take() {
			s.Close()
		}
	})
	return c
}

// clientKey is the cache key every client connection of these tests
// uses: the bridge hands the client's new sessions to its cache, and its
// removals back, for connections tied to a key.
const clientKey = "localhost:443"

// useKey ties a client connection to clientKey when its context has a
// client cache.
func useKey(t *testing.T, p *ossltest.Pair, client *ossl.Ctx) {
	if client.ClientSessionCache() == nil {
		return
	}
	offered, err := p.Client.UseClientSessionCache(clientKey)
	require.NoError(t, err)
	require.False(t, offered)
}

// getValStore is the server's external cache of OpenSSL's
// get_session_cb: the new-session callback drops what it gets, the get
// callback returns whatever session the test set (a copy), the remove
// callback does nothing. It runs inline, so the bridge calls it on the
// handshake's thread, in libssl's order.
type getValStore struct{ val atomic.Pointer[ossl.Session] }

func (s *getValStore) Put(_ context.Context, sess *ossl.Session) error {
	sess.Close()
	return nil
}

func (s *getValStore) Get(context.Context, []byte) (*ossl.Session, error) {
	v := s.val.Load()
	if v == nil {
		return nil, nil
	}
	return v.Ref()
}

func (s *getValStore) Delete(context.Context, []byte) error { return nil }

func (s *getValStore) RunsInline(installed ossl.SessionStore) bool { return installed == s }

// set makes the get callback return sess (nil: a miss).
func (s *getValStore) set(sess *ossl.Session) { s.val.Store(sess) }

// ---- execute_test_session and its callers ----

// executeTestSession is execute_test_session: a client with an internal
// cache, an external one, or both, against one pinned version; then the
// same for the server. OpenSSL checks cache membership with the return of
// SSL_CTX_add_session; AddSession adds a copy of a session libssl holds,
// so membership is asked with SSL.HasMatchingSessionID, which answers it
// without changing the cache.
func executeTestSession(t *testing.T, maxprot ossl.Version, intCache, extCache bool, serverOpts ossl.Options) {
	numTickets := int64(1)
	if maxprot == ossl.VersionTLS13 {
		numTickets = 2 // TLS 1.3 sends two NewSessionTickets
	}
	server, client := sslapiCtxs(t, ossl.VersionTLS10, 0)
	// Only the max version, so that a connection failure can be forced.
	require.NoError(t, client.SetMinVersion(maxprot))
	require.NoError(t, client.SetMaxVersion(maxprot))
	if extCache {
		useCountingCache(t, client, false)
	}
	if intCache {
		setMode(t, client, ossl.CacheClient)
	} else {
		setMode(t, client, ossl.CacheClient|ossl.CacheNoInternalStore)
	}
	if serverOpts != 0 {
		_, err := server.SetOptions(serverOpts)
		require.NoError(t, err)
	}
	cc := &callbacks{ctx: client}
	cc.reset()

	p1 := newPair(t, client, server)
	useKey(t, p1, client)
	connect(t, p1)
	sess1 := p1.Client.Session()
	require.NotNil(t, sess1)
	if intCache {
		assert.True(t, p1.Client.HasMatchingSessionID(sess1.ID()), "already in the client's cache")
	}
	if extCache {
		assert.Equal(t, cbCount{New: numTickets}, cc.since(), "first connection")
	}

	cc.reset()
	p2 := newPair(t, client, server)
	useKey(t, p2, client)
	require.NoError(t, p2.Client.SetSession(sess1))
	connect(t, p2)
	require.True(t, p2.Client.SessionReused())
	if extCache {
		if maxprot == ossl.VersionTLS13 {
			// A new session for the new ticket, and the resumed one
			// taken out of the cache: a TLS 1.3 ticket is used once.
			assert.Equal(t, cbCount{New: 1, Remove: 1}, cc.since(), "TLS 1.3 resumption")
		} else {
			assert.Equal(t, cbCount{}, cc.since(), "TLS 1.2 resumption adds and removes nothing")
		}
	}
	sess1.Close()
	sess1 = p2.Client.Session()
	require.NotNil(t, sess1)
	require.NoError(t, p2.Shutdown(ossltest.ClientSide))
	p2.Close()

	cc.reset()
	p2 = newPair(t, client, server)
	useKey(t, p2, client)
	connect(t, p2)
	sess2 := p2.Client.Session()
	require.NotNil(t, sess2)
	if extCache {
		assert.Equal(t, cbCount{New: numTickets}, cc.since(), "full handshake")
	}

	// Offering another session on a connection that is established and
	// not shut down takes its own session out of the cache, as a bad
	// one (SSL_set_session(3)).
	cc.reset()
	require.NoError(t, p2.Client.SetSession(sess1))
	if extCache {
		assert.Equal(t, cbCount{Remove: 1}, cc.since(), "SSL_set_session on an open connection")
	}
	cur := p2.Client.Session()
	assert.Equal(t, sess1.ID(), cur.ID(), "the connection holds the session set")
	cur.Close()
	if intCache {
		assert.False(t, p2.Client.HasMatchingSessionID(sess2.ID()), "taken out of the cache")
		added, err := client.AddSession(sess2)
		require.NoError(t, err)
		assert.True(t, added)
		removed, err := client.RemoveSession(sess2)
		require.NoError(t, err)
		assert.True(t, removed)
	}

	cc.reset()
	removed, err := client.RemoveSession(sess2)
	require.NoError(t, err)
	assert.False(t, removed, "not in the cache")
	if extCache {
		// The remove callback runs even for a session not cached.
		assert.Equal(t, cbCount{Remove: 1}, cc.since(), "SSL_CTX_remove_session of an uncached session")
	}

	// A failed handshake: the server allows only TLS 1.1. The side that
	// fails sends a fatal alert, the other reads it, and the client's
	// offered session leaves the cache.
	cc.reset()
	require.NoError(t, server.SetMaxVersion(ossl.VersionTLS11))
	p3 := newPair(t, client, server)
	useKey(t, p3, client)
	require.NoError(t, p3.Client.SetSession(sess1))
	_, err = p3.Handshake()
	require.Error(t, err, "mismatched protocol versions")
	if extCache {
		assert.Equal(t, cbCount{Remove: 1}, cc.since(), "a fatal alert removes the offered session")
	}
	if intCache {
		assert.False(t, p2.Client.HasMatchingSessionID(sess2.ID()))
		added, err := client.AddSession(sess2)
		require.NoError(t, err)
		assert.True(t, added)
	}

	// Now the server side.
	store := &getValStore{}
	if extCache {
		require.NoError(t, client.SetClientSessionCache(ossl.ClientCacheConfig{}))
		require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: store}))
	}
	setMode(t, client, ossl.CacheOff)
	if !intCache {
		setMode(t, server, ossl.CacheServer|ossl.CacheNoInternalStore)
	}
	p1.Close()
	p2.Close()
	sess1.Close()
	sess2.Close()

	require.NoError(t, server.SetMaxVersion(maxprot))
	if maxprot == ossl.VersionTLS12 {
		_, err := server.SetOptions(ossl.OptionNoTicket)
		require.NoError(t, err)
	}
	sc := &callbacks{ctx: server}
	sc.reset()
	p1 = newPair(t, client, server)
	connect(t, p1)
	sess1 = p1.Client.Session()
	sess2 = p1.Server.Session()
	require.NotNil(t, sess1)
	require.NotNil(t, sess2)
	t.Cleanup(sess1.Close)
	if intCache {
		if maxprot == ossl.VersionTLS13 && !extCache {
			// A TLS 1.3 server caches its stateless sessions only when a
			// remove callback wants to hear of their expiry.
			removed, err := server.RemoveSession(sess2)
			require.NoError(t, err)
			assert.False(t, removed, "not in the server's cache")
		} else {
			assert.True(t, p1.Server.HasMatchingSessionID(sess2.ID()), "in the server's cache")
		}
	}
	if extCache {
		assert.Equal(t, cbCount{New: numTickets}, sc.since(), "server, first connection")
		if intCache && maxprot != ossl.VersionTLS13 {
			// Out of the internal cache, so that the lookup goes to the
			// external one; a copy first, since removing marks the
			// session not resumable.
			tmp, err := sess2.Dup()
			require.NoError(t, err)
			assert.True(t, p1.Server.HasMatchingSessionID(sess2.ID()))
			removed, err := server.RemoveSession(sess2)
			require.NoError(t, err)
			assert.True(t, removed)
			assert.False(t, p1.Server.HasMatchingSessionID(tmp.ID()), "the copy is not cached")
			sess2.Close()
			sess2 = tmp
		}
	}
	t.Cleanup(sess2.Close)

	sc.reset()
	store.set(sess2)
	p2 = newPair(t, client, server)
	require.NoError(t, p2.Client.SetSession(sess1))
	connect(t, p2)
	require.True(t, p2.Client.SessionReused())
	if extCache {
		if maxprot == ossl.VersionTLS13 {
			assert.Equal(t, cbCount{New: 1}, sc.since(), "TLS 1.3: a stateless ticket, no lookup")
		} else {
			assert.Equal(t, cbCount{Get: 1}, sc.since(), "TLS 1.2: found by the get callback")
		}
	}

	// A cache of one: sess1 expires before sess2, yet adding it last
	// evicts sess2.
	require.NoError(t, sess1.SetTime(time.Unix(1000, 0)))
	require.NoError(t, sess1.SetTimeout(1000*time.Second))
	require.NoError(t, sess2.SetTime(time.Unix(2000, 0)))
	require.NoError(t, sess2.SetTimeout(2000*time.Second))
	prev, err := server.SetSessionCacheSize(1)
	require.NoError(t, err)
	assert.NotZero(t, prev)
	_, err = server.AddSession(sess1)
	require.NoError(t, err)
	_, err = server.AddSession(sess2)
	require.NoError(t, err)
	added, err := server.AddSession(sess1)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, int64(1), server.Stats().Sessions, "a cache of one")
	assert.True(t, p2.Server.HasMatchingSessionID(sess1.ID()), "sess1 stays")
	if !bytes.Equal(sess1.ID(), sess2.ID()) { // TLS 1.2 sessions share their ID
		assert.False(t, p2.Server.HasMatchingSessionID(sess2.ID()), "sess2 was evicted")
	}
	// OpenSSL tells the two objects apart by their owner; here by their
	// expiry: a flush at 3000 s past the epoch removes a session expired
	// with sess1 (at 2000 s), not one expiring with sess2 (4000 s).
	require.NoError(t, server.FlushSessions(time.Unix(3000, 0)))
	assert.Zero(t, server.Stats().Sessions, "the session cached was sess1")
}

// sessionVersions are the two runs of every execute_test_session caller.
var sessionVersions = []ossl.Version{ossl.VersionTLS13, ossl.VersionTLS12}

// TestSSLAPISessionWithOnlyIntCache is test_session_with_only_int_cache.
func TestSSLAPISessionWithOnlyIntCache(t *testing.T) {
	for _, v := range sessionVersions {
		t.Run(v.String(), func(t *testing.T) { executeTestSession(t, v, true, false, 0) })
	}
}

// TestSSLAPISessionWithOnlyExtCache is test_session_with_only_ext_cache.
func TestSSLAPISessionWithOnlyExtCache(t *testing.T) {
	for _, v := range sessionVersions {
		t.Run(v.String(), func(t *testing.T) { executeTestSession(t, v, false, true, 0) })
	}
}

// TestSSLAPISessionWithBothCache is test_session_with_both_cache.
func TestSSLAPISessionWithBothCache(t *testing.T) {
	for _, v := range sessionVersions {
		t.Run(v.String(), func(t *testing.T) { executeTestSession(t, v, true, true, 0) })
	}
}

// TestSSLAPISessionWoCANames is test_session_wo_ca_names: the internal
// cache with SSL_OP_DISABLE_TLSEXT_CA_NAMES on the server, an option
// OpenSSL 1.1.1 does not have.
func TestSSLAPISessionWoCANames(t *testing.T) {
	if ossl.OptionDisableTLSExtCANames == 0 {
		require.Equal(t, "1.1", ossl.ReleaseLine(), "only 1.1.1 lacks the option")
		t.Skip("SSL_OP_DISABLE_TLSEXT_CA_NAMES is not in OpenSSL 1.1.1's headers (OptionDisableTLSExtCANames is 0)")
	}
	for _, v := range sessionVersions {
		t.Run(v.String(), func(t *testing.T) { executeTestSession(t, v, true, false, ossl.OptionDisableTLSExtCANames) })
	}
}

// ---- tickets ----

// ticketCtxs is setup_ticket_test: the server sends n TLS 1.3 tickets,
// stateful ones kept in its cache if stateful; the client keeps what its
// new-session callback gets in an external cache only.
func ticketCtxs(t *testing.T, stateful bool, n int, keep bool) (server, client *ossl.Ctx, cache *countingClientCache) {
	server, client = sslapiCtxs(t, ossl.VersionTLS10, 0)
	require.NoError(t, server.SetNumTickets(n))
	if stateful {
		_, err := server.SetOptions(ossl.OptionNoTicket)
		require.NoError(t, err)
	}
	setMode(t, client, ossl.CacheClient|ossl.CacheNoInternalStore)
	return server, client, useCountingCache(t, client, keep)
}

// postHandshakeVerify is post_handshake_verify: the server asks the
// client for a certificate after the handshake, and both sides run the
// exchange to its end.
func postHandshakeVerify(t *testing.T, p *ossltest.Pair) {
	t.Helper()
	require.NoError(t, p.Server.SetVerify(ossl.VerifyPeer))
	require.NoError(t, p.Server.VerifyClientPostHandshake())
	st, err := p.Step(ossltest.ServerSide)
	require.NoError(t, err)
	require.Equal(t, ossltest.Finished, st)
	for _, s := range []ossltest.Side{ossltest.ClientSide, ossltest.ServerSide} {
		data, err := p.Read(s, 1)
		require.NoError(t, err)
		require.Nil(t, data)
	}
	connect(t, p)
}

// checkResumption is check_resumption: each of the first 2n sessions is
// offered once; a resumption brings one ticket (and one more after
// post-handshake authentication), a failed one n.
func checkResumption(t *testing.T, server, client *ossl.Ctx, sessions []*ossl.Session, n int, succ bool) {
	cc := &callbacks{ctx: client}
	for i := range 2 * n {
		cc.reset()
		p := newPair(t, client, server)
		useKey(t, p, client)
		if i < len(sessions) {
			require.NoError(t, p.Client.SetSession(sessions[i]))
		}
		require.NoError(t, p.Client.SetPostHandshakeAuth(true))
		connect(t, p)
		if succ {
			assert.True(t, p.Client.SessionReused(), "session %d", i)
			assert.Equal(t, int64(1), cc.since().New, "one ticket after a resumption")
			cc.reset()
			postHandshakeVerify(t, p)
			assert.Equal(t, int64(1), cc.since().New, "one ticket after post-handshake authentication")
		} else {
			assert.False(t, p.Client.SessionReused(), "session %d", i)
			assert.Equal(t, int64(n), cc.since().New, "%d tickets after a full handshake", n)
		}
		require.NoError(t, p.Shutdown(ossltest.ClientSide))
		p.Close()
	}
}

// testTickets is test_tickets: n tickets per full handshake; they do not
// resume on new contexts (other keys, another cache); n more after
// post-handshake authentication; and all 2n resume on the contexts that
// issued them.
func testTickets(t *testing.T, stateful bool, n int) {
	server, client, cache := ticketCtxs(t, stateful, n, true)
	cc := &callbacks{ctx: client}
	p := newPair(t, client, server)
	useKey(t, p, client)
	connect(t, p)
	assert.Equal(t, int64(n), cc.since().New)
	require.NoError(t, p.Shutdown(ossltest.ClientSide))
	p.Close()
	first := cache.take()
	t.Cleanup(func() {
		for _, s := range first {
			s.Close()
		}
	})

	server2, client2, _ := ticketCtxs(t, stateful, n, false)
	checkResumption(t, server2, client2, first, n, false)

	server3, client3, cache3 := ticketCtxs(t, stateful, n, true)
	cc = &callbacks{ctx: client3}
	cc.reset()
	p = newPair(t, client3, server3)
	useKey(t, p, client3)
	require.NoError(t, p.Client.SetPostHandshakeAuth(true))
	connect(t, p)
	assert.Equal(t, int64(n), cc.since().New)
	postHandshakeVerify(t, p)
	assert.Equal(t, int64(2*n), cc.since().New, "new tickets after post-handshake authentication")
	require.NoError(t, p.Shutdown(ossltest.ClientSide))
	p.Close()
	all := cache3.take()
	t.Cleanup(func() {
		for _, s := range all {
			s.Close()
		}
	})
	require.Len(t, all, 2*n)
	checkResumption(t, server3, client3, all, n, true)
}

// TestSSLAPIStatelessTickets is test_stateless_tickets (0, 1 and 2
// tickets).
func TestSSLAPIStatelessTickets(t *testing.T) {
	for n := range 3 {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testTickets(t, false, n) })
	}
}

// TestSSLAPIStatefulTickets is test_stateful_tickets (0, 1 and 2
// tickets).
func TestSSLAPIStatefulTickets(t *testing.T) {
	for n := range 3 {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testTickets(t, true, n) })
	}
}

// TestSSLAPIPSKTickets is test_psk_tickets: a TLS 1.3 handshake on an
// external PSK alone (the server has no certificate) issues one ticket.
func TestSSLAPIPSKTickets(t *testing.T) {
	server, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer})
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	require.NoError(t, server.SetSessionIDContext([]byte{1, 0, 0, 0}))
	client, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleClient})
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	setMode(t, client, ossl.CacheClient|ossl.CacheNoInternalStore)
	useCountingCache(t, client, false)

	const pskID = "Identity"
	const aes256 = 0x1302 // TLS_AES_256_GCM_SHA384, as create_a_psk with a SHA-384 key
	key := make([]byte, 48)
	for i := range key {
		key[i] = byte(i)
	}
	var uses, finds atomic.Int64
	require.NoError(t, client.SetPSKUseSessionCallback(func(digest string) ([]byte, *ossl.Session, error) {
		// The first call has no digest yet, a second one would.
		if uses.Add(1) > 1 || digest != "" {
			return nil, nil, fmt.Errorf("call %d with digest %q", uses.Load(), digest)
		}
		s, err := client.NewPSKSession(key, aes256)
		return []byte(pskID), s, err
	}))
	require.NoError(t, server.SetPSKFindSessionCallback(func(id []byte) (*ossl.Session, error) {
		if finds.Add(1) > 2 {
			return nil, errors.New("called more than twice")
		}
		if string(id) != pskID {
			return nil, nil
		}
		return server.NewPSKSession(key, aes256)
	}))
	cc := &callbacks{ctx: client}
	p := newPair(t, client, server)
	useKey(t, p, client)
	connect(t, p)
	assert.Equal(t, int64(1), finds.Load())
	assert.Equal(t, int64(1), uses.Load())
	assert.Equal(t, int64(1), cc.since().New, "always one ticket after an external PSK")
}

// TestSSLAPIExtraTickets is test_extra_tickets: SSL_new_session_ticket
// queues tickets on an established TLS 1.3 connection; a write, an empty
// write or a handshake call sends them, never in the middle of a write
// that must be retried. The new-session callbacks of both sides count.
func TestSSLAPIExtraTickets(t *testing.T) {
	for idx := range 6 {
		stateful, n := idx >= 3, idx%3
		t.Run(fmt.Sprintf("%d-tickets-stateful=%v", n, stateful), func(t *testing.T) {
			server, client, _ := ticketCtxs(t, stateful, n, false)
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: &getValStore{}, Callbacks: ossl.CallbackNew}))
			sc, cc := &callbacks{ctx: server}, &callbacks{ctx: client}
			newCalled := func() int64 { return sc.since().New + cc.since().New }
			reset := func() { sc.reset(); cc.reset() }
			reset()
			p := newPair(t, client, server)
			useKey(t, p, client)
			connect(t, p)
			assert.Equal(t, int64(2*n), newCalled(), "tickets seen by both sides")

			err := p.Server.NewSessionTicket()
			if ossl.ReleaseLine() == "1.1" {
				require.ErrorIs(t, err, errors.ErrUnsupported)
				require.ErrorContains(t, err, "SSL_new_session_ticket needs OpenSSL 3.0 or later")
				t.Skip("SSL_new_session_ticket is OpenSSL 3.0's: the rest needs it")
			}
			require.NoError(t, err)
			require.NoError(t, p.Server.NewSessionTicket())
			assert.Equal(t, int64(2*n), newCalled(), "queued, not sent")

			// A real write sends them first.
			wrote, err := p.Write(ossltest.ServerSide, []byte("1"))
			require.NoError(t, err)
			assert.Equal(t, 1, wrote)
			assert.Equal(t, int64(2*n+2), newCalled())
			data, err := p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Equal(t, []byte("1"), data)
			assert.Equal(t, int64(2*n+4), newCalled())
			data, err = p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Nil(t, data)

			// One ticket alone.
			reset()
			require.NoError(t, p.Server.NewSessionTicket())
			_, err = p.Write(ossltest.ServerSide, []byte("2"))
			require.NoError(t, err)
			assert.Equal(t, int64(1), newCalled())
			data, err = p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Equal(t, []byte("2"), data)
			assert.Equal(t, int64(2), newCalled())

			// An empty write drives them.
			reset()
			require.NoError(t, p.Server.NewSessionTicket())
			require.NoError(t, p.Server.NewSessionTicket())
			wrote, err = p.Write(ossltest.ServerSide, nil)
			require.NoError(t, err)
			assert.Zero(t, wrote)
			assert.Equal(t, int64(2), newCalled())
			data, err = p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Nil(t, data)
			assert.Equal(t, int64(4), newCalled())

			// So does a handshake call.
			reset()
			require.NoError(t, p.Server.NewSessionTicket())
			require.NoError(t, p.Server.NewSessionTicket())
			st, err := p.Step(ossltest.ServerSide)
			require.NoError(t, err)
			assert.Equal(t, ossltest.Finished, st)
			assert.Equal(t, int64(2), newCalled())
			data, err = p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Nil(t, data)
			assert.Equal(t, int64(4), newCalled())

			// A write that must be retried: tickets wait for the record
			// boundary, and go with the write after the retried one.
			reset()
			require.NoError(t, p.HoldWrites(ossltest.ServerSide, true))
			wrote, err = p.Write(ossltest.ServerSide, []byte("5"))
			require.ErrorIs(t, err, ossltest.ErrWouldBlock)
			assert.Zero(t, wrote)
			require.NoError(t, p.HoldWrites(ossltest.ServerSide, false))
			require.NoError(t, p.Server.NewSessionTicket())
			require.NoError(t, p.Server.NewSessionTicket())
			assert.Zero(t, newCalled())
			st, err = p.Step(ossltest.ServerSide)
			require.NoError(t, err)
			assert.Equal(t, ossltest.Finished, st)
			assert.Zero(t, newCalled(), "queued behind the pending write")
			wrote, err = p.Write(ossltest.ServerSide, []byte("5"))
			require.NoError(t, err)
			assert.Equal(t, 1, wrote)
			assert.Zero(t, newCalled(), "the retried write goes alone")
			data, err = p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Equal(t, []byte("5"), data)
			assert.Zero(t, newCalled())
			data, err = p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Nil(t, data)
			st, err = p.Step(ossltest.ServerSide)
			require.NoError(t, err)
			assert.Equal(t, ossltest.Finished, st)
			assert.Zero(t, newCalled(), "a handshake call does not send them either")
			wrote, err = p.Write(ossltest.ServerSide, []byte("6"))
			require.NoError(t, err)
			assert.Equal(t, 1, wrote)
			assert.Equal(t, int64(2), newCalled(), "the next write does")
			data, err = p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Equal(t, []byte("6"), data)
			assert.Equal(t, int64(4), newCalled())
			data, err = p.Read(ossltest.ClientSide, 1)
			require.NoError(t, err)
			assert.Nil(t, data)
		})
	}
}

// ticketAppData is what the ticket callbacks of test_ticket_callbacks seal
// into every ticket.
var ticketAppData = []byte("Hello World")

// TestSSLAPITicketCallbacks is test_ticket_callbacks: what the generate
// and decrypt callbacks of SSL_CTX_set_session_ticket_cb see and decide,
// without and with a ticket key callback, which renews or declines.
// OpenSSL runs its key callback cases twice, through the deprecated
// SSL_CTX_set_tlsext_ticket_key_cb (8-13) and SSL_CTX_set_tlsext_ticket_key_evp_cb
// (14-19); SetTicketKeys installs the one of the linked release line (the
// EVP one from 3.0 on), so each case runs once here.
func TestSSLAPITicketCallbacks(t *testing.T) {
	const (
		noKeyCallback = iota
		keyUse        // the key callback opens the ticket
		keyRenew      // it opens it and asks for renewal (an older key)
		keyDecline    // it declines to seal: no ticket
	)
	tests := []struct {
		tst      string // OpenSSL's test numbers, TLS 1.2 and TLS 1.3
		key      int
		decision ossl.TicketDecision // the decrypt callback's, without a key callback
	}{
		{"0,1", noKeyCallback, ossl.TicketIgnore},
		{"2,3", noKeyCallback, ossl.TicketIgnoreRenew},
		{"4,5", noKeyCallback, ossl.TicketUse},
		{"6,7", noKeyCallback, ossl.TicketUseRenew},
		{"8,9/14,15", keyUse, ossl.TicketAbort},
		{"10,11/16,17", keyRenew, ossl.TicketAbort},
		{"12,13/18,19", keyDecline, ossl.TicketAbort},
	}
	for _, tt := range tests {
		for _, v := range []ossl.Version{ossl.VersionTLS12, ossl.VersionTLS13} {
			t.Run(tt.tst+"/"+v.String(), func(t *testing.T) {
				server, client := sslapiCtxs(t, ossl.VersionTLS10, v)
				// Resume from tickets only, not from the cache.
				setMode(t, server, ossl.CacheOff)
				var gen, dec atomic.Int64
				require.NoError(t, server.SetSessionTicketCallbacks(ossl.TicketCallbacks{
					Generate: func(string) ([]byte, error) {
						gen.Add(1)
						return ticketAppData, nil
					},
					Decrypt: func(tk ossl.Ticket) ossl.TicketDecision {
						dec.Add(1)
						tk.Session.Close()
						if tk.Status == ossl.TicketEmpty {
							return ossl.TicketIgnoreRenew
						}
						if !assert.Contains(t, []ossl.TicketStatus{ossl.TicketSuccess, ossl.TicketSuccessRenew}, tk.Status) ||
							!assert.Equal(t, ticketAppData, tk.AppData) {
							return ossl.TicketAbort
						}
						if tt.key == noKeyCallback {
							return tt.decision
						}
						// Keep what the key callback wanted.
						switch tk.Status {
						case ossl.TicketSuccess:
							return ossl.TicketUse
						case ossl.TicketSuccessRenew:
							return ossl.TicketUseRenew
						}
						return ossl.TicketAbort
					},
				}))
				oldKey, newKey := ossl.TicketKey{1}, ossl.TicketKey{2}
				if tt.key != noKeyCallback {
					require.NoError(t, server.SetTicketKeys(oldKey))
				}
				if tt.key == keyDecline {
					err := server.HoldTicketSealing(true)
					if v == ossl.VersionTLS13 && ossl.ReleaseLine() == "1.1" {
						require.ErrorIs(t, err, errors.ErrUnsupported)
						t.Skip("OpenSSL 1.1.1 sends an empty TLS 1.3 NewSessionTicket when the key callback declines (3.0 sends none): HoldTicketSealing refuses it")
					}
					require.NoError(t, err)
				}
				p := newPair(t, client, server)
				connect(t, p)
				// OpenSSL's callbacks set flags: called or not.
				assert.Positive(t, gen.Load(), "generate")
				// A TLS 1.2 client announces ticket support with an empty
				// ticket, and the decrypt callback sees it; TLS 1.3 has no
				// empty tickets.
				assert.Equal(t, v == ossl.VersionTLS12, dec.Load() > 0, "decrypt")
				gen.Store(0)
				dec.Store(0)
				sess := p.Client.Session()
				t.Cleanup(sess.Close)
				require.NoError(t, p.Shutdown(ossltest.ClientSide))
				p.Close()

				if tt.key == keyRenew {
					// The ticket's key is no longer the first: opening it
					// asks for a new ticket.
					require.NoError(t, server.SetTicketKeys(newKey, oldKey))
				}
				p = newPair(t, client, server)
				require.NoError(t, p.Client.SetSession(sess))
				connect(t, p)
				ignored := tt.key == noKeyCallback && (tt.decision == ossl.TicketIgnore || tt.decision == ossl.TicketIgnoreRenew)
				assert.Equal(t, !ignored && tt.key != keyDecline, p.Client.SessionReused(), "resumed")
				renewed := tt.key == keyRenew || tt.key == keyDecline ||
					(tt.key == noKeyCallback && (tt.decision == ossl.TicketIgnoreRenew || tt.decision == ossl.TicketUseRenew))
				assert.Equal(t, renewed, gen.Load() > 0, "generate on resumption")
				noTicket := tt.key == keyDecline && v == ossl.VersionTLS13
				assert.Equal(t, !noTicket, dec.Load() > 0, "decrypt on resumption")
			})
		}
	}
}

// TestSSLAPITicketAbortSessionLeak is test_ticket_abort_session_leak: a
// decrypt callback that aborts on a good TLS 1.3 ticket fails the
// resumption, and frees the session libssl decrypted (built with -tags
// ossl_memdebug, OpenSSL's live heap blocks must come back to where they
// were; the bridge's Ticket.Session is closed here). libssl versions
// whose tls_parse_ctos_psk returns without freeing that session fail the
// second half, as OpenSSL's test fails under LeakSanitizer: measured, 1.1.1w
// and 3.0.19 (about three blocks per attempt); 3.0.22's source frees it,
// and 3.6.5 passes.
func TestSSLAPITicketAbortSessionLeak(t *testing.T) {
	server, client := sslapiCtxs(t, ossl.VersionTLS13, ossl.VersionTLS13)
	setMode(t, server, ossl.CacheOff)
	decrypt := func(d ossl.TicketDecision) func(ossl.Ticket) ossl.TicketDecision {
		return func(tk ossl.Ticket) ossl.TicketDecision {
			tk.Session.Close()
			if tk.Status == ossl.TicketSuccess || tk.Status == ossl.TicketSuccessRenew {
				return d
			}
			return ossl.TicketIgnoreRenew
		}
	}
	generate := func(string) ([]byte, error) { return ticketAppData, nil }
	require.NoError(t, server.SetSessionTicketCallbacks(ossl.TicketCallbacks{Generate: generate, Decrypt: decrypt(ossl.TicketUseRenew)}))
	p := newPair(t, client, server)
	connect(t, p)
	sess := p.Client.Session()
	// The failed resumption's alert marks the offered session not
	// resumable: each attempt offers a fresh copy.
	der, err := sess.Marshal()
	require.NoError(t, err)
	sess.Close()
	require.NoError(t, p.Shutdown(ossltest.ClientSide))
	p.Close()

	if asanBuild && leaksAbortedTicketSession() {
		// LeakSanitizer would report libssl's leak at exit and fail the
		// whole package run (make stress); the memdebug build measures it.
		t.Skipf("%s leaks the session of an aborted ticket resumption (fixed in 3.0.22)", ossl.OpenSSLVersion())
	}
	require.NoError(t, server.SetSessionTicketCallbacks(ossl.TicketCallbacks{Generate: generate, Decrypt: decrypt(ossl.TicketAbort)}))
	resume := func() error {
		s, err := ossl.UnmarshalSession(der)
		require.NoError(t, err)
		defer s.Close()
		p, err := ossltest.NewPair(client, server)
		require.NoError(t, err)
		defer p.Close()
		require.NoError(t, p.Client.SetSession(s))
		_, err = p.Handshake()
		return err
	}
	require.Error(t, resume(), "the callback aborts")

	before, counting := settledAllocations()
	if !counting {
		return
	}
	for range 50 {
		require.Error(t, resume())
	}
	after, _ := settledAllocations()
	require.InDelta(t, before, after, 64, "OpenSSL heap blocks leaked by aborted resumptions")
}

// leaksAbortedTicketSession reports whether the linked libssl is one
// whose tls_parse_ctos_psk returns without freeing the session of an
// aborted ticket: 1.1.1 and 3.0 before 3.0.22.
func leaksAbortedTicketSession() bool {
	n := ossl.OpenSSLVersionNumber()
	return ossl.ReleaseLine() == "1.1" || ossl.ReleaseLine() == "3.0" && n < 0x30000160
}

// TestSSLAPITicketLifetime is test_ticket_lifetime: a session timeout of
// two weeks is the TLS 1.2 ticket's lifetime hint, but a TLS 1.3 ticket's
// is at most one week (RFC 8446, section 4.6.1).
func TestSSLAPITicketLifetime(t *testing.T) {
	const week = 7 * 24 * time.Hour
	for _, v := range []ossl.Version{ossl.VersionTLS12, ossl.VersionTLS13} {
		t.Run(v.String(), func(t *testing.T) {
			server, client := sslapiCtxs(t, v, v)
			p := newPair(t, client, server)
			prev, err := server.SetTimeout(2 * week)
			require.NoError(t, err)
			assert.Equal(t, 2*time.Hour, prev, "the method's default timeout")
			connect(t, p)
			sess := p.Client.Session()
			t.Cleanup(sess.Close)
			if v == ossl.VersionTLS12 {
				assert.Equal(t, 2*week, sess.TicketLifetimeHint())
			} else {
				assert.LessOrEqual(t, sess.TicketLifetimeHint(), week)
			}
		})
	}
}

// ---- the cache ----

// removedIDs is a server store that records the IDs the remove callback
// hands it, in order.
type removedIDs struct {
	getValStore
	mu  sync.Mutex
	ids [][]byte
}

func (r *removedIDs) Delete(_ context.Context, id []byte) error {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	return nil
}

func (r *removedIDs) RunsInline(installed ossl.SessionStore) bool { return installed == r }

// take returns the IDs removed since the last call.
func (r *removedIDs) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ids
	r.ids = nil
	return out
}

// TestSSLAPISessionTimeout is test_session_timeout: sessions kept in
// order of expiry, flushed one by one as their times come, then all; and
// SSL_SESS_CACHE_UPDATE_TIME refreshing the time of a session added.
// OpenSSL reads the cache's list pointers; here the remove callback
// reports what each flush removed, in the order libssl walked.
func TestSSLAPISessionTimeout(t *testing.T) {
	ctx, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleAny})
	require.NoError(t, err)
	t.Cleanup(func() { ctx.Close() })
	rec := &removedIDs{}
	require.NoError(t, ctx.SetSessionStore(ossl.StoreConfig{Store: rec, Callbacks: ossl.CallbackRemove}))

	const timeout = 10 * time.Second
	now := time.Unix(time.Now().Unix(), 0)
	var early, middle, late *ossl.Session
	for i, s := range []**ossl.Session{&early, &middle, &late} {
		*s, err = ossl.NewSession()
		require.NoError(t, err)
		t.Cleanup((*s).Close)
		id := make([]byte, 32)
		for j := range id {
			id[j] = byte(i + 1)
		}
		require.NoError(t, (*s).SetID(id))
	}
	all := []*ossl.Session{early, middle, late}
	addAll := func() {
		for _, s := range all {
			added, err := ctx.AddSession(s)
			require.NoError(t, err)
			assert.True(t, added)
		}
		assert.Equal(t, int64(3), ctx.Stats().Sessions, "all added")
	}
	addAll()
	for i, s := range all {
		require.NoError(t, s.SetTime(now.Add(time.Duration(i-1)*timeout)))
		require.NoError(t, s.SetTimeout(timeout))
	}
	assert.Equal(t, int64(3), ctx.Stats().Sessions, "all still there")

	for _, step := range []struct {
		at      time.Time
		removed *ossl.Session
	}{
		{now.Add(timeout - time.Second), early},
		{now.Add(timeout + time.Second), middle},
		{now.Add(timeout + 11*time.Second), late},
	} {
		require.NoError(t, ctx.FlushSessions(step.at))
		assert.Equal(t, [][]byte{step.removed.ID()}, rec.take(), "flushed at now%+v", step.at.Sub(now))
	}
	assert.Zero(t, ctx.Stats().Sessions)

	addAll()
	require.NoError(t, ctx.FlushSessions(time.Time{}))
	assert.Len(t, rec.take(), 3, "a flush at time 0 removes all")
	assert.Zero(t, ctx.Stats().Sessions)

	if !ossl.HasUpdateTime {
		require.Equal(t, "1.1", ossl.ReleaseLine())
		t.Skip("SSL_SESS_CACHE_UPDATE_TIME is OpenSSL 3.0's (CacheUpdateTime is 0 on 1.1.1)")
	}
	setMode(t, ctx, ctx.SessionCacheMode()|ossl.CacheUpdateTime)
	past := now.Add(-timeout)
	require.NoError(t, early.SetTime(past))
	added, err := ctx.AddSession(early)
	require.NoError(t, err)
	assert.True(t, added)
	assert.NotEqual(t, past, early.Time(), "added with the time of the add")
}

// TestSSLAPISessionCacheOverflow is test_session_cache_overflow: a server
// cache of one session, where each new session evicts the last (whose
// timeout may be later, 2 and 3), and a get callback that returns the
// evicted session: the handshakes still succeed.
func TestSSLAPISessionCacheOverflow(t *testing.T) {
	for idx := range 4 {
		v := ossl.VersionTLS13
		if idx%2 == 1 {
			v = ossl.VersionTLS12
		}
		later := idx > 1
		t.Run(fmt.Sprintf("%d-%v-old-session-expires-later=%v", idx, v, later), func(t *testing.T) {
			server, client := sslapiCtxs(t, ossl.VersionTLS10, v)
			_, err := server.SetOptions(ossl.OptionNoTicket)
			require.NoError(t, err)
			store := &getValStore{}
			require.NoError(t, server.SetSessionStore(ossl.StoreConfig{Store: store, Callbacks: ossl.CallbackGet}))
			_, err = server.SetSessionCacheSize(1)
			require.NoError(t, err)

			p := newPair(t, client, server)
			connect(t, p)
			if later {
				s := p.Server.Session()
				require.NoError(t, s.SetTimeout(math.MaxInt64)) // as long as a Duration goes
				s.Close()
			}
			require.NoError(t, p.Shutdown(ossltest.ServerSide))
			p.Close()

			// The cache holds one session: this connection overflows it.
			p = newPair(t, client, server)
			connect(t, p)
			// Its session may be out of the internal cache already; the
			// get callback returns it anyway.
			val := p.Server.Session()
			t.Cleanup(val.Close)
			store.set(val)
			sess := p.Client.Session()
			t.Cleanup(sess.Close)
			require.NoError(t, p.Shutdown(ossltest.ServerSide))
			p.Close()

			p = newPair(t, client, server)
			require.NoError(t, p.Client.SetSession(sess))
			connect(t, p)
		})
	}
}

// TestSSLAPIMultiResume is test_multi_resume: thirty connections, a full
// handshake then two resumptions, against a server cache of five, which
// never holds more; TLS 1.3 caches when early data is allowed (anti-replay)
// or tickets are stateful. Case 0 and 2 take early data off one connection
// in three (SSL_set_max_early_data 0), which once left undeletable
// sessions; case 3 runs, inside the server-name callback of a resumption,
// a whole second handshake resuming the same session, which fails and
// marks the session not resumable while the first is still using it.
func TestSSLAPIMultiResume(t *testing.T) {
	tests := []struct {
		name                        string
		v                           ossl.Version
		earlyData, noTicket, nested bool
	}{
		{"0-tls13-early-data", ossl.VersionTLS13, true, false, false},
		{"1-tls13-no-ticket", ossl.VersionTLS13, false, true, false},
		{"2-tls13-early-data-no-ticket", ossl.VersionTLS13, true, true, false},
		{"3-tls13-no-ticket-simultaneous", ossl.VersionTLS13, false, true, true},
		{"4-tls12", ossl.VersionTLS12, false, false, false},
	}
	for idx, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client := sslapiCtxs(t, ossl.VersionTLS10, tt.v)
			if tt.earlyData {
				require.NoError(t, server.SetMaxEarlyData(1024))
			}
			if tt.noTicket {
				_, err := server.SetOptions(ossl.OptionNoTicket)
				require.NoError(t, err)
			}
			_, err := server.SetSessionCacheSize(5)
			require.NoError(t, err)

			var i int
			var sess *ossl.Session
			var recursing atomic.Bool
			var nestedErr error
			var nestedRuns int
			if tt.nested {
				require.NoError(t, server.SetServerNameCallback(func(string) (*ossl.Ctx, error) {
					if recursing.Load() {
						return nil, errors.New("no second level")
					}
					if i%3 != 1 {
						return nil, nil
					}
					recursing.Store(true)
					defer recursing.Store(false)
					nestedRuns++
					// Expected to fail, on this callback: that marks
					// the session not resumable.
					_, err := ossltest.Handshake(client, server, ossltest.Options{Session: sess})
					if err == nil {
						nestedErr = errors.New("the nested handshake succeeded")
					}
					return nil, nil
				}))
			}
			for i = range 30 {
				p := newPair(t, client, server)
				if sess != nil {
					require.NoError(t, p.Client.SetSession(sess))
				}
				if tt.earlyData && i%3 == 2 {
					require.NoError(t, p.Server.SetMaxEarlyData(0))
				}
				connect(t, p)
				require.NoError(t, nestedErr, "connection %d", i)
				full := sess == nil || (idx == 0 && i%3 == 2)
				assert.Equal(t, !full, p.Client.SessionReused(), "connection %d", i)
				sess.Close()
				sess = nil
				if i%3 != 2 { // a full handshake, then two resumptions
					sess = p.Client.Session()
					require.NotNil(t, sess)
				}
				require.NoError(t, p.Shutdown(ossltest.ClientSide))
				p.Close()
			}
			assert.LessOrEqual(t, server.Stats().Sessions, int64(5), "never over the cache size")
			if tt.nested {
				assert.Equal(t, 10, nestedRuns, "a nested handshake in every first resumption")
			}
		})
	}
}

// ---- server names, connections reused, shutdown ----

// TestSSLAPIServername is test_servername: which server name each side
// reports after a full handshake and after a resumption, with the name
// acknowledged or not, changed, or left out. A TLS 1.2 session carries
// the name the server acknowledged, and a TLS 1.2 resumption reports it
// (SSL_get_servername on the server returns the session's, read here as
// the server session's Hostname; SSL.ServerName reports what the client
// sent); a TLS 1.3 session carries none.
func TestSSLAPIServername(t *testing.T) {
	const good, alt = "goodhost", "altgoodhost"
	tests := []struct {
		tst          int
		v            ossl.Version
		ack          bool   // the server has a server-name callback
		first        string // the name sent on the full handshake
		second       string // the name set on the resumption ("" none)
		clientBefore string // what the client reports before the resumption
		want         string // what both sides report after it, libssl's way
		serverWant   string // the server, if not want
	}{
		{0, ossl.VersionTLS12, true, good, good, good, good, good},
		{1, ossl.VersionTLS12, false, good, good, good, good, ""},
		{2, ossl.VersionTLS12, true, good, alt, alt, good, good},
		{3, ossl.VersionTLS12, true, "", good, good, good, ""},
		{4, ossl.VersionTLS12, true, good, "", good, good, good},
		{5, ossl.VersionTLS13, true, good, good, good, good, good},
		{6, ossl.VersionTLS13, false, good, good, good, good, good},
		{7, ossl.VersionTLS13, true, good, alt, alt, alt, alt},
		{8, ossl.VersionTLS13, true, "", good, good, good, good},
		{9, ossl.VersionTLS13, true, good, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.tst), func(t *testing.T) {
			server, client := sslapiCtxs(t, ossl.VersionTLS10, tt.v)
			if tt.ack {
				require.NoError(t, server.SetServerNameCallback(func(name string) (*ossl.Ctx, error) { return nil, nil }))
			}
			p := newPair(t, client, server)
			if tt.first != "" {
				require.NoError(t, p.Client.SetServerName(tt.first))
			}
			connect(t, p)
			assert.Equal(t, tt.first, p.Client.ServerName(), "client, full handshake")
			assert.Equal(t, tt.first, p.Server.ServerName(), "server, full handshake")
			done, err := p.CloseNotify(ossltest.ClientSide)
			require.NoError(t, err)
			assert.False(t, done)
			sess := p.Client.Session()
			t.Cleanup(sess.Close)
			assert.True(t, sess.IsResumable())
			done, err = p.CloseNotify(ossltest.ServerSide)
			require.NoError(t, err)
			assert.False(t, done)
			p.Close()

			p = newPair(t, client, server)
			require.NoError(t, p.Client.SetSession(sess))
			if tt.second != "" {
				require.NoError(t, p.Client.SetServerName(tt.second))
			}
			assert.Equal(t, tt.clientBefore, p.Client.ServerName(), "client, before the resumption")
			connect(t, p)
			assert.True(t, p.Client.SessionReused())
			assert.True(t, p.Server.SessionReused())
			assert.Equal(t, tt.want, p.Client.ServerName(), "client, after the resumption")
			if tt.v == ossl.VersionTLS12 {
				ss := p.Server.Session()
				defer ss.Close()
				assert.Equal(t, tt.serverWant, ss.Hostname(), "server, after the resumption: the session's name")
				if tt.second != "" {
					assert.Equal(t, tt.second, p.Server.ServerName(), "SSL.ServerName: the name this client sent")
				}
			} else {
				assert.Equal(t, tt.serverWant, p.Server.ServerName(), "server, after the resumption")
			}
		})
	}
}

// TestSSLAPISNITLS13 is test_sni_tls13: a server-name callback that
// switches a TLS 1.3 connection from a context without a certificate to
// one with it runs once, and the handshake completes.
func TestSSLAPISNITLS13(t *testing.T) {
	bare, err := ossl.NewCtx(ossl.Config{Role: ossl.RoleServer})
	require.NoError(t, err)
	t.Cleanup(func() { bare.Close() })
	server, client := sslapiCtxs(t, ossl.VersionTLS13, 0)
	var calls atomic.Int64
	require.NoError(t, bare.SetServerNameCallback(func(string) (*ossl.Ctx, error) {
		calls.Add(1)
		return server, nil
	}))
	p := newPair(t, client, bare)
	connect(t, p)
	assert.Equal(t, int64(1), calls.Load())
	assert.True(t, p.Server.ContextSwitched())
}

// TestSSLAPISSLClear is test_ssl_clear: a client SSL object cleared after
// a connection (SSL_clear) serves a second one, on which it offers its
// session again and resumes.
func TestSSLAPISSLClear(t *testing.T) {
	for _, max := range []ossl.Version{0, ossl.VersionTLS12} {
		t.Run("max="+max.String(), func(t *testing.T) {
			server, client := sslapiCtxs(t, ossl.VersionTLS10, max)
			p := newPair(t, client, server)
			connect(t, p)
			for _, s := range []ossltest.Side{ossltest.ClientSide, ossltest.ServerSide} {
				_, err := p.CloseNotify(s)
				require.NoError(t, err)
			}
			p.Server.Close()
			require.NoError(t, p.Client.Clear())

			s, err := server.NewSSL()
			require.NoError(t, err)
			p, err = ossltest.Join(p.Client, s)
			require.NoError(t, err)
			t.Cleanup(p.Close)
			connect(t, p)
			assert.True(t, p.Client.SessionReused())
			require.NoError(t, p.Shutdown(ossltest.ClientSide))
		})
	}
}

// TestSSLAPIShutdown is test_shutdown: the orders of a bidirectional
// close_notify exchange, and what the client's session is at each step:
// resumable once the TLS 1.3 tickets are read, also when they are read by
// the shutdown itself (3); the server writing after the client's
// close_notify, with a key update (4) or a certificate request (5) the
// client reads and ignores, or data the client never reads, which fails
// its shutdown (6).
func TestSSLAPIShutdown(t *testing.T) {
	msg := []byte("A test message\x00")
	for tst := range 7 {
		v := ossl.VersionTLS13
		if tst <= 1 {
			v = ossl.VersionTLS12
		}
		t.Run(fmt.Sprint(tst), func(t *testing.T) {
			server, client := sslapiCtxs(t, ossl.VersionTLS10, v)
			p := newPair(t, client, server)
			if tst == 5 {
				require.NoError(t, p.Client.SetPostHandshakeAuth(true))
			}
			resumable := func() bool {
				s := p.Client.Session()
				require.NotNil(t, s)
				defer s.Close()
				return s.IsResumable()
			}
			if tst == 3 {
				_, err := p.Handshake()
				require.NoError(t, err)
				assert.False(t, resumable(), "the tickets are not read yet")
			} else {
				connect(t, p)
				assert.True(t, resumable())
			}
			done, err := p.CloseNotify(ossltest.ClientSide)
			require.NoError(t, err)
			assert.False(t, done)

			if tst >= 4 {
				data, err := p.Read(ossltest.ServerSide, 80)
				assert.ErrorIs(t, err, io.EOF, "the client's close_notify")
				assert.Nil(t, data)
				// Shut down for reading, the server still writes.
				_, err = p.Write(ossltest.ServerSide, msg)
				require.NoError(t, err)
				if tst == 4 {
					require.NoError(t, p.Server.KeyUpdate(true))
				}
				if tst == 5 {
					require.NoError(t, p.Server.SetVerify(ossl.VerifyPeer))
					require.NoError(t, p.Server.VerifyClientPostHandshake())
				}
				if tst == 4 || tst == 5 {
					_, err = p.Write(ossltest.ServerSide, msg)
					require.NoError(t, err)
				}
				done, err = p.CloseNotify(ossltest.ServerSide)
				require.NoError(t, err)
				assert.True(t, done, "the client's was read")
				if tst == 4 || tst == 5 {
					for range 2 {
						data, err := p.Read(ossltest.ClientSide, 80)
						require.NoError(t, err)
						assert.Equal(t, msg, data, "the client still reads")
					}
				}
			}
			_, err = p.Write(ossltest.ClientSide, msg)
			assert.Error(t, err, "no writing after close_notify")

			switch {
			case tst < 4:
				// The client's close_notify is not read yet, and the
				// server has not sent its own.
				done, err = p.CloseNotify(ossltest.ServerSide)
				require.NoError(t, err)
				assert.False(t, done)
				_, err = p.Write(ossltest.ServerSide, msg)
				assert.Error(t, err, "no writing after close_notify")
				done, err = p.CloseNotify(ossltest.ClientSide)
				require.NoError(t, err)
				assert.True(t, done)
				assert.True(t, resumable())
				done, err = p.CloseNotify(ossltest.ServerSide)
				require.NoError(t, err)
				assert.True(t, done)
			case tst == 4 || tst == 5:
				done, err = p.CloseNotify(ossltest.ClientSide)
				require.NoError(t, err)
				assert.True(t, done, "the server's close_notify is read")
				assert.True(t, resumable())
			default:
				// Data came where the server's close_notify was awaited.
				_, err = p.CloseNotify(ossltest.ClientSide)
				var oe *ossl.Error
				require.ErrorAs(t, err, &oe)
				assert.Contains(t, oe.Detail, "SSL_ERROR_SSL")
			}
		})
	}
}
