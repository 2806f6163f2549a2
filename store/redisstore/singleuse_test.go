package redisstore_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/internal/testutil"
	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store"
	"github.com/osslcache/osslcache/store/redisstore"
	"github.com/osslcache/osslcache/store/redisstore/redistest"
)

// TestSingleUseHoldsOrIsRefused: a session offered three times, to two
// servers sharing a SingleUse store, resumes once under a setup where
// single use can hold (SERVER|NO_INTERNAL or SERVER|NO_INTERNAL_STORE, and
// SSL_OP_NO_TICKET). Under any other setup the store refuses every call
// with ErrSingleUse, writes nothing to Redis, and logs why once.
func TestSingleUseHoldsOrIsRefused(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	tests := []struct {
		name    string
		v       variant
		mode    ossl.CacheMode
		refused string // the reason, or "" when single use holds
	}{
		{"no internal cache", tls13Stateful, ossl.CacheServer | ossl.CacheNoInternal, ""},
		{"no internal store", tls13Stateful, ossl.CacheServer | ossl.CacheNoInternalStore, ""},
		{"tls12 session IDs", tls12, ossl.CacheServer | ossl.CacheNoInternal, ""},
		{"internal cache on", tls13Stateful, ossl.CacheServer, "lacks NO_INTERNAL_STORE"},
		{"internal store on", tls12, ossl.CacheServer | ossl.CacheNoInternalLookup, "lacks NO_INTERNAL_STORE"},
		{"stateless tickets", tls13, ossl.CacheServer | ossl.CacheNoInternal, "stateless tickets are on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testutil.SyncBuffer
			rs := newStore(t, srv.Addr, redisstore.Options{SingleUse: true, StoreStatelessTickets: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			first, second, client := newServer(t, tt.v, "svc"), newServer(t, tt.v, "svc"), newClient(t, tt.v)
			for _, s := range []*ossl.Ctx{first, second} {
				_, err := s.SetSessionCacheMode(tt.mode)
				require.NoError(t, err)
			}
			ev := &events{}
			install(t, first, rs, ev)
			install(t, second, rs, ev)

			full := handshake(t, client, first, nil)
			require.False(t, full.ServerReused)
			// The same session offered again and again, alternately to
			// each server.
			var resumed []bool
			for _, s := range []*ossl.Ctx{second, first, second} {
				resumed = append(resumed, handshake(t, client, s, full.ClientSession).ServerReused)
			}
			st := rs.Stats()
			if tt.refused == "" {
				assert.Equal(t, []bool{true, false, false}, resumed, "resumed once, fleet-wide")
				assert.Equal(t, int64(1), st.Hits)
				assert.Zero(t, st.Refused)
				assert.Empty(t, ev.all())
				assert.NotContains(t, logs.String(), "level=ERROR")
				return
			}
			assert.Positive(t, st.Refused)
			assert.Zero(t, st.Puts+st.Gets, "the store never talked to Redis")
			assert.Empty(t, scanKeys(t, srv, rs.Prefix()+":*"))
			require.NotEmpty(t, ev.all())
			for _, e := range ev.all() {
				assert.True(t, errors.Is(e.Err, redisstore.ErrSingleUse), "%v", e)
				assert.ErrorContains(t, e.Err, tt.refused)
			}
			assert.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), "logged once: %s", logs.String())
			assert.Contains(t, logs.String(), tt.refused)
		})
	}
}

// TestCheckSingleUse is the rule the store and osslcache serve apply.
func TestCheckSingleUse(t *testing.T) {
	tests := []struct {
		mode     ossl.CacheMode
		noTicket bool
		wantErr  string
	}{
		{ossl.CacheServer | ossl.CacheNoInternal, true, ""},
		{ossl.CacheServer | ossl.CacheNoInternalStore, true, ""},
		{ossl.CacheServer, true, "lacks NO_INTERNAL_STORE"},
		{ossl.CacheServer | ossl.CacheNoInternalLookup, true, "lacks NO_INTERNAL_STORE"},
		{ossl.CacheServer | ossl.CacheNoInternal, false, "stateless tickets"},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			err := redisstore.CheckSingleUse(tt.mode, tt.noTicket)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, redisstore.ErrSingleUse)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestConsumedBlobDoesNotResumeAgain: someone with write access to Redis
// keeps the sealed blob of a single-use session and puts it back, under
// the same key, once the session was used. The consumption marker the
// first lookup left makes the replay a counted miss (a full handshake),
// and the blob is taken out again.
func TestConsumedBlobDoesNotResumeAgain(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, v := range variants {
		t.Run(v.Name, func(t *testing.T) {
			rs := newStore(t, srv.Addr, redisstore.Options{SingleUse: true})
			first, second, client := newServer(t, v, "svc"), newServer(t, v, "svc"), newClient(t, v)
			install(t, first, rs, nil)
			install(t, second, rs, nil)
			full := handshake(t, client, first, nil)
			name := rs.KeyName(store.Key{IDContext: []byte("svc"), ID: full.ServerSession.ID()})
			blob := rawGet(t, srv, name)
			require.NotEmpty(t, blob)

			require.True(t, handshake(t, client, second, full.ClientSession).ServerReused)
			assert.NotContains(t, scanKeys(t, srv, rs.Prefix()+":*"), name, "consumed")

			rawSet(t, srv, name, blob) // the replay
			res := handshake(t, client, first, full.ClientSession)
			assert.False(t, res.ServerReused, "a consumed session does not resume again")
			st := rs.Stats()
			assert.Equal(t, int64(1), st.Replays)
			assert.Equal(t, int64(1), st.Hits)
			assert.Zero(t, st.OpenFailures, "the blob itself is sound")
			keys := scanKeys(t, srv, rs.Prefix()+":*")
			assert.NotContains(t, keys, name, "the replayed blob was taken out again")
			assert.Contains(t, keys, name+":consumed")

			// The full handshake of the replay made a session of its own,
			// which resumes once.
			assert.True(t, handshake(t, client, second, res.ClientSession).ServerReused)
		})
	}
}

// TestStatelessTicketsAreNotWritten: with stateless TLS 1.3 tickets
// libssl hands every ticket's session to the store, and never looks one
// up. By default the store writes none of them (no master secret at rest
// for nothing); StoreStatelessTickets writes them all. Resumption works
// either way, from the ticket alone.
func TestStatelessTicketsAreNotWritten(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, write := range []bool{false, true} {
		name := "default"
		if write {
			name = "StoreStatelessTickets"
		}
		t.Run(name, func(t *testing.T) {
			rs := newStore(t, srv.Addr, redisstore.Options{StoreStatelessTickets: write})
			server, client := newServer(t, tls13, "svc"), newClient(t, tls13)
			install(t, server, rs, nil)
			full := handshake(t, client, server, nil)
			res := handshake(t, client, server, full.ClientSession)
			require.True(t, res.ServerReused)
			cs, st := server.CallbackStats(), rs.Stats()
			assert.Positive(t, cs.NewCalls, "libssl called the new-session callback for the tickets")
			assert.Zero(t, cs.GetCalls, "and never looked one up")
			keys := scanKeys(t, srv, rs.Prefix()+":*")
			if write {
				assert.Equal(t, cs.NewCalls, st.Puts)
				assert.Len(t, keys, int(st.Puts))
				assert.Zero(t, st.Skipped)
			} else {
				assert.Zero(t, st.Puts)
				assert.Empty(t, keys)
				assert.Equal(t, cs.NewCalls, st.Skipped)
			}
			assert.Equal(t, cs.NewCalls, cs.Stored, "a skipped session is not a store error")
		})
	}
	// Sessions that are looked up are written as before.
	t.Run("stateful tickets", func(t *testing.T) {
		rs := newStore(t, srv.Addr, redisstore.Options{})
		server, client := newServer(t, tls13Stateful, "svc"), newClient(t, tls13Stateful)
		install(t, server, rs, nil)
		handshake(t, client, server, nil)
		assert.Equal(t, server.CallbackStats().NewCalls, rs.Stats().Puts)
		assert.Zero(t, rs.Stats().Skipped)
	})
}
