package conformance_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/conformance"
)

var sample = conformance.Report{
	OpenSSL: "OpenSSL 3.0.19 27 Jan 2026",
	Go:      "go1.26.8",
	Rows: []conformance.Row{
		{Claim: "off-server-no-store", Variant: "tls12", Status: "holds", Observed: "OFF server: 0 cached"},
		{Claim: "auto-clear-every-255", Variant: "tls13", Status: "deviates", Observed: "flushed at 255, 511 | SERVER|CLIENT & <x>"},
		{Claim: "update-time", Variant: "tls13", Status: "n/a", Observed: "stateless\nticket"},
	},
}

// TestWriteJSON: the layout of the issue,
// {"openssl":...,"go":...,"rows":[{"claim","variant","status","observed"}]}.
func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name string
		rep  conformance.Report
		rows int
	}{
		{"sample", sample, 3},
		{"no rows is an empty list", conformance.Report{OpenSSL: "x", Go: "y"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, tt.rep.WriteJSON(&b))
			var raw map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b.Bytes(), &raw))
			assert.ElementsMatch(t, []string{"openssl", "go", "rows"}, keys(raw))
			var rows []map[string]string
			require.NoError(t, json.Unmarshal(raw["rows"], &rows))
			require.Len(t, rows, tt.rows)
			for _, r := range rows {
				assert.ElementsMatch(t, []string{"claim", "variant", "status", "observed"}, keys(r))
			}
			var back conformance.Report
			require.NoError(t, json.Unmarshal(b.Bytes(), &back))
			if tt.rows > 0 {
				assert.Equal(t, tt.rep, back)
			}
		})
	}
	var b bytes.Buffer
	require.NoError(t, sample.WriteJSON(&b))
	assert.Contains(t, b.String(), `"openssl": "OpenSSL 3.0.19 27 Jan 2026"`)
	assert.Contains(t, b.String(), `SERVER|CLIENT & <x>`, "no HTML escaping")
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, sample.WriteTable(&b))
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^CLAIM\s+VARIANT\s+STATUS\s+OBSERVED$`, lines[0])
	assert.Regexp(t, `^off-server-no-store\s+tls12\s+holds\s+OFF server: 0 cached$`, lines[1])
	assert.Regexp(t, `^update-time\s+tls13\s+n/a\s+stateless ticket$`, lines[3], "observations on one line")
	col := strings.Index(lines[0], "OBSERVED")
	for _, l := range lines[1:] {
		assert.Equal(t, col, strings.Index(l, strings.Fields(l)[3]), "aligned: %q", l)
	}
	assert.Equal(t, "3 rows: 1 holds, 1 deviates, 1 n/a", sample.Summary())
	withErr := conformance.Report{Rows: append(append([]conformance.Row(nil), sample.Rows...), conformance.Row{Status: conformance.StatusError})}
	assert.Equal(t, "4 rows: 1 holds, 1 deviates, 1 n/a, 1 errors", withErr.Summary())
}

func TestWriteMarkdown(t *testing.T) {
	tests := []struct {
		name     string
		cmp      *conformance.Comparison
		contains []string
		absent   []string
	}{
		{"no comparison", nil, nil, []string{"## Expectations"}},
		{"all match", &conformance.Comparison{Source: "conformance/expectations.json (OpenSSL 3.0)"},
			[]string{"## Expectations\n\nEvery row matches conformance/expectations.json (OpenSSL 3.0).\n"}, nil},
		{"mismatches", &conformance.Comparison{Source: "e.json", Mismatches: []conformance.Mismatch{
			{Kind: conformance.MismatchStatus, Claim: "a", Variant: "tls12", Got: "deviates", Want: "holds", Observed: "x|y"}}},
			[]string{"1 row does not match e.json:\n\n- a/tls12: got deviates, want holds; observed: x\\|y\n"}, nil},
		{"nothing to compare with", &conformance.Comparison{Err: "no expectations for 3.9"},
			[]string{"Not compared: no expectations for 3.9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, sample.WriteMarkdown(&b, tt.cmp))
			md := b.String()
			assert.True(t, strings.HasPrefix(md, "# osslcache conformance report\n\n- OpenSSL: OpenSSL 3.0.19 27 Jan 2026\n- Go: go1.26.8\n- 3 rows: 1 holds, 1 deviates, 1 n/a\n\n"), md)
			assert.Contains(t, md, "| claim | variant | status | observed |\n| --- | --- | --- | --- |\n")
			assert.Contains(t, md, "| `auto-clear-every-255` | tls13 | deviates | flushed at 255, 511 \\| SERVER\\|CLIENT & <x> |\n", "pipes escaped")
			assert.Contains(t, md, "| `update-time` | tls13 | n/a | stateless ticket |\n", "one line a row")
			for _, c := range tt.contains {
				assert.Contains(t, md, c)
			}
			for _, c := range tt.absent {
				assert.NotContains(t, md, c)
			}
			// Every table line has the same number of unescaped cell separators.
			for _, l := range strings.Split(md, "\n") {
				if strings.HasPrefix(l, "| ") {
					assert.Equal(t, 5, strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"), l)
				}
			}
		})
	}
}
