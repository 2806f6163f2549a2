package ossl_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/ossl/ossltest"
)

func TestCacheModeString(t *testing.T) {
	tests := []struct {
		mode ossl.CacheMode
		want string
	}{
		{ossl.CacheOff, "OFF"},
		{ossl.CacheClient, "CLIENT"},
		{ossl.CacheServer, "SERVER"},
		{ossl.CacheBoth, "BOTH"},
		{ossl.CacheServer | ossl.CacheNoInternalStore, "SERVER|NO_INTERNAL_STORE"},
		{ossl.CacheServer | ossl.CacheNoInternal, "SERVER|NO_INTERNAL"},
		{ossl.CacheNoInternalLookup, "NO_INTERNAL_LOOKUP"},
		{ossl.CacheBoth | ossl.CacheNoAutoClear | ossl.CacheNoInternalLookup, "BOTH|NO_AUTO_CLEAR|NO_INTERNAL_LOOKUP"},
		{ossl.CacheServer | 0x10000, "SERVER|0x10000"},
		{0x40000000, "0x40000000"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.mode.String())
			back, err := ossl.ParseCacheMode(tt.want)
			require.NoError(t, err)
			assert.Equal(t, tt.mode, back)
		})
	}
}

func TestParseCacheMode(t *testing.T) {
	tests := []struct {
		in      string
		want    ossl.CacheMode
		wantErr string
	}{
		{in: "server", want: ossl.CacheServer},
		{in: "SSL_SESS_CACHE_CLIENT | ssl_sess_cache_no_internal_store", want: ossl.CacheClient | ossl.CacheNoInternalStore},
		{in: "OFF", want: ossl.CacheOff},
		{in: "OFF|NO_AUTO_CLEAR", want: ossl.CacheNoAutoClear},
		{in: "SERVER,NO_INTERNAL", want: ossl.CacheServer | ossl.CacheNoInternal},
		{in: "0x2", want: ossl.CacheServer},
		{in: "3", want: ossl.CacheBoth},
		{in: "", wantErr: "empty cache mode"},
		{in: "SERVER|BOGUS", wantErr: `unknown cache mode flag "BOGUS"`},
		{in: "-1", wantErr: "unknown cache mode flag"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ossl.ParseCacheMode(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCacheModeRoundTripsEveryCombination(t *testing.T) {
	all := ossltest.CacheModeCombinations()
	want := 32 // CLIENT, SERVER, NO_AUTO_CLEAR, NO_INTERNAL_LOOKUP, NO_INTERNAL_STORE
	if ossl.HasUpdateTime {
		want = 64
	}
	require.Len(t, all, want)
	for _, m := range append(all, 0x7000_0000, ossl.CacheServer|0x100000) {
		back, err := ossl.ParseCacheMode(m.String())
		require.NoError(t, err, m.String())
		require.Equal(t, m, back, m.String())
	}
}

func TestCacheModeIsAFlagValue(t *testing.T) {
	var m ossl.CacheMode
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(&m, "cache-mode", "")
	require.NoError(t, fs.Parse([]string{"-cache-mode", "SERVER|NO_INTERNAL"}))
	assert.Equal(t, ossl.CacheServer|ossl.CacheNoInternal, m)
	text, err := m.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "SERVER|NO_INTERNAL", string(text))
}

// TestSetGetEveryCombination sets every flag combination on real client and
// server contexts: Set returns the previous mode and Get the current one.
func TestSetGetEveryCombination(t *testing.T) {
	for _, role := range []ossl.Role{ossl.RoleServer, ossl.RoleClient} {
		t.Run(role.String(), func(t *testing.T) {
			ctx, err := ossl.NewCtx(ossl.Config{Role: role})
			require.NoError(t, err)
			defer ctx.Close()
			prev := ctx.SessionCacheMode()
			assert.Equal(t, ossl.CacheServer, prev, "libssl's default")
			for _, m := range ossltest.CacheModeCombinations() {
				got, err := ctx.SetSessionCacheMode(m)
				require.NoError(t, err)
				require.Equal(t, prev, got, "Set(%v) returns the previous mode", m)
				cur := ctx.SessionCacheMode()
				require.Equal(t, m, cur, "Get after Set(%v)", m)
				prev = m
			}
		})
	}
}

func TestCacheModeOnClosedCtx(t *testing.T) {
	ctx, err := ossl.NewCtx(ossl.Config{})
	require.NoError(t, err)
	require.NoError(t, ctx.Close())
	require.NoError(t, ctx.Close(), "Close is idempotent")
	_, err = ctx.SetSessionCacheMode(ossl.CacheOff)
	assert.ErrorIs(t, err, ossl.ErrClosed)
	assert.Equal(t, ossl.CacheOff, ctx.SessionCacheMode(), "a closed context reads as OFF")
	assert.True(t, strings.HasPrefix(ossl.OpenSSLVersion(), "OpenSSL "))
}
