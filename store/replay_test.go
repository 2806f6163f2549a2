package store_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
	"github.com/osslcache/osslcache/store"
)

// TestReplayFilter: the first use of each ticket is allowed, later ones
// refused; tickets are told apart by ID and ID context; expired sessions
// are refused and forgotten; a full filter refuses until one expires.
func TestReplayFilter(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC).Unix())
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	f := store.NewReplayFilter(store.ReplayFilterOptions{Capacity: 3, Now: clock})
	req := func(ctx, id string, lifetime time.Duration) ossl.EarlyDataRequest {
		return ossl.EarlyDataRequest{SessionIDContext: []byte(ctx), SessionID: []byte(id), Expires: clock().Add(lifetime)}
	}
	for _, step := range []struct {
		name    string
		req     ossl.EarlyDataRequest
		advance time.Duration // before the call
		allowed bool
		err     error
		len     int
	}{
		{"first use", req("a", "t1", time.Hour), 0, true, nil, 1},
		{"replay", req("a", "t1", time.Hour), 0, false, nil, 1},
		{"another ticket", req("a", "t2", 2*time.Hour), 0, true, nil, 2},
		{"same ID, other context", req("b", "t1", 3*time.Hour), 0, true, nil, 3},
		{"full", req("a", "t3", time.Hour), 0, false, store.ErrReplayFilterFull, 3},
		{"no ID", req("a", "", time.Hour), 0, false, nil, 3},
		{"expired session", req("a", "t4", -time.Second), 0, false, nil, 3},
		{"t1 of a expired: room again", req("a", "t3", 2*time.Hour), time.Hour, true, nil, 3},
		{"replay after the first expired", req("a", "t2", time.Hour), 0, false, nil, 3},
	} {
		now.Add(int64(step.advance / time.Second))
		ok, err := f.AllowEarlyData(bg, step.req)
		assert.Equal(t, step.allowed, ok, step.name)
		assert.ErrorIs(t, err, step.err, step.name)
		if step.err == nil {
			assert.NoError(t, err, step.name)
		}
		assert.Equal(t, step.len, f.Len(), step.name)
	}
}

// TestReplayFilterConcurrentFirstUse: of many handshakes racing on one
// ticket, exactly one is allowed.
func TestReplayFilterConcurrentFirstUse(t *testing.T) {
	f := store.NewReplayFilter(store.ReplayFilterOptions{})
	req := ossl.EarlyDataRequest{SessionID: []byte("ticket"), Expires: time.Now().Add(time.Hour)}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if ok, err := f.AllowEarlyData(bg, req); ok && err == nil {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), allowed.Load())
}

// TestReplayFilterGuardsStatelessTickets: with libssl's anti-replay off
// (stateless tickets, no cache), a ticket's early data is accepted once
// through the filter and rejected on replay, while the handshake still
// resumes.
func TestReplayFilterGuardsStatelessTickets(t *testing.T) {
	cert, err := ossltest.NewCertificate("localhost")
	require.NoError(t, err)
	server, err := ossltest.NewServerCtx(cert, ossltest.TLS13.ServerOptions())
	require.NoError(t, err)
	defer server.Close()
	client, err := ossltest.NewClientCtx(cert, ossltest.TLS13.ClientOptions())
	require.NoError(t, err)
	defer client.Close()
	require.NoError(t, server.SetMaxEarlyData(512))
	_, err = server.SetOptions(ossl.OptionNoAntiReplay)
	require.NoError(t, err)
	f := store.NewReplayFilter(store.ReplayFilterOptions{})
	require.NoError(t, server.SetAllowEarlyDataCallback(ossl.AllowEarlyDataConfig{Allow: f.AllowEarlyData}))

	full, err := ossltest.Handshake(client, server, ossltest.Options{})
	require.NoError(t, err)
	defer full.Close()
	for i, want := range []ossl.EarlyDataStatus{ossl.EarlyDataAccepted, ossl.EarlyDataRejected, ossl.EarlyDataRejected} {
		r, err := ossltest.Handshake(client, server, ossltest.Options{Session: full.ClientSession, EarlyData: []byte("GET /")})
		require.NoError(t, err)
		assert.True(t, r.ServerReused, "use %d resumes", i)
		assert.Equal(t, want, r.ServerEarlyData, "use %d", i)
		r.Close()
	}
	assert.Equal(t, 1, f.Len())
	st := server.CallbackStats()
	assert.Equal(t, int64(1), st.EarlyDataAllowed)
	assert.Equal(t, int64(2), st.EarlyDataRefused)
}
