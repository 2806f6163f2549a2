package ossl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCacheModeMatchesCMacros compares every Go flag with its C macro as the
// C compiler (not cgo's constant evaluation) sees it.
func TestCacheModeMatchesCMacros(t *testing.T) {
	goValues := map[string]CacheMode{
		"OFF": CacheOff, "CLIENT": CacheClient, "SERVER": CacheServer, "BOTH": CacheBoth,
		"NO_AUTO_CLEAR": CacheNoAutoClear, "NO_INTERNAL_LOOKUP": CacheNoInternalLookup,
		"NO_INTERNAL_STORE": CacheNoInternalStore, "NO_INTERNAL": CacheNoInternal,
	}
	if HasUpdateTime {
		goValues["UPDATE_TIME"] = CacheUpdateTime
	}
	macros := cacheModeMacros()
	require.Len(t, macros, len(goValues), "one C macro per Go flag")
	for _, m := range macros {
		t.Run(m.Name, func(t *testing.T) {
			v, ok := goValues[m.Name]
			require.True(t, ok, "Go has no constant for SSL_SESS_CACHE_%s", m.Name)
			assert.Equal(t, m.Value, int64(v))
		})
	}
}
