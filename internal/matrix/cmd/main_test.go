package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "report-3.0.json")
	require.NoError(t, os.WriteFile(good, []byte(
		`{"openssl":"OpenSSL 3.0.19 27 Jan 2026","go":"go1.26.8","rows":[{"claim":"c","variant":"tls12","status":"deviates","observed":"o"}]}`), 0o644))
	bad := filepath.Join(dir, "report-3.5.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{`), 0o644))
	missing := filepath.Join(dir, "report-3.6.json")

	tests := []struct {
		name     string
		versions string
		paths    []string
		err      string
		contains []string
	}{
		{
			name: "missing report skipped", versions: "1.1.1,3.0,3.5,3.6", paths: []string{good, missing},
			contains: []string{"| 3.6 | — (no report)", "[**deviates**](#obs-3-0-c-tls12)", "<a id=\"obs-3-0-c-tls12\"></a>"},
		},
		{name: "unexpanded glob only", paths: []string{filepath.Join(dir, "report-*.json.none")}, err: "no report could be read"},
		{name: "no args", err: "no report could be read"},
		{name: "malformed report fails", paths: []string{good, bad}, err: "report-3.5.json"},
		{name: "only reported columns", versions: "", paths: []string{good}, contains: []string{"| Claim | Variant | 3.0 | Differs |"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "docs", "matrix.md")
			err := run(out, tt.versions, tt.paths)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.NoFileExists(t, out)
				return
			}
			require.NoError(t, err)
			b, err := os.ReadFile(out)
			require.NoError(t, err)
			for _, s := range tt.contains {
				assert.Contains(t, string(b), s)
			}
		})
	}
}
