package conformance_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/conformance"
)

// TestExpectationsFileMatchesPerLineFiles proves the conversion of
// expect/<line>.json into expectations.json lossless: for every release
// line, the one file yields the same rows, in the same order, with the same
// status and reason, as that line's own file. It goes away with them.
func TestExpectationsFileMatchesPerLineFiles(t *testing.T) {
	f, err := conformance.LoadExpectationsFile()
	require.NoError(t, err)
	require.Equal(t, []string{"1.1", "3.0", "3.5", "3.6"}, conformance.ReleaseLines(), "the per-line files")
	assert.Equal(t, conformance.ReleaseLines(), f.ReleaseLines)
	for _, line := range conformance.ReleaseLines() {
		t.Run(line, func(t *testing.T) {
			perLine, err := conformance.LoadExpectations(line)
			require.NoError(t, err)
			got, err := f.For(line)
			require.NoError(t, err)
			require.Len(t, got.Rows, len(perLine.Rows))
			for i, want := range perLine.Rows {
				assert.Equal(t, want, got.Rows[i], "row %d", i)
			}
			n := map[string]int{}
			for _, x := range got.Rows {
				n[x.Status]++
			}
			t.Logf("OpenSSL %s: %d rows identical (%d holds, %d deviates, %d n/a)", line, len(got.Rows), n["holds"], n["deviates"], n["n/a"])
		})
	}
}
