package soak

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmallSoak runs the soak machinery briefly with faults: every
// handshake completes and samples are recorded.
func TestSmallSoak(t *testing.T) {
	r, err := Run(Config{Handshakes: 400, Workers: 2, Samples: 4, FaultRate: 0.02}, nil)
	require.NoError(t, err)
	assert.Zero(t, r.Failed)
	require.GreaterOrEqual(t, len(r.Samples), 4)
	last := r.Samples[len(r.Samples)-1]
	assert.Equal(t, int64(400), last.Handshakes)
	assert.Positive(t, last.Resumed)
	assert.Positive(t, last.RSSKiB)
	assert.Positive(t, r.Faults)
}
