package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/conformance"
	"github.com/osslcache/osslcache/ossl"
)

// cheapClaim is quick to check and holds everywhere.
const cheapClaim = "^default-is-server$"

func TestConformFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"unknown flag", []string{"-bogus"}, 2, []string{"flag provided but not defined: -bogus", "usage: osslcache conform"}},
		{"stray argument", []string{"extra"}, 2, []string{`unexpected arguments ["extra"]`, "usage: osslcache conform"}},
		{"bad regexp", []string{"-run", "("}, 2, []string{"-run: error parsing regexp", "usage: osslcache conform"}},
		{"no claim matches", []string{"-run", "^nothing$"}, 2, []string{`-run "^nothing$" matches no claim`}},
		{"flag without value", []string{"-json"}, 2, []string{"flag needs an argument: -json"}},
		{"help", []string{"-h"}, 0, []string{"usage: osslcache conform", "-write-expect FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"conform"}, tt.args...), &stdout, &stderr)
			assert.Equal(t, tt.code, code, stderr.String())
			assert.Empty(t, stdout.String())
			for _, s := range tt.stderr {
				assert.Contains(t, stderr.String(), s)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	run([]string{"-h"}, &stdout, &stderr)
	assert.Contains(t, stdout.String(), "conform ", "listed in the command usage")
}

func TestConformWritesReports(t *testing.T) {
	dir := t.TempDir()
	// The JSON report goes into a directory that does not exist yet.
	jsonFile, mdFile, draft := filepath.Join(dir, "out", "reports", "r.json"), filepath.Join(dir, "r.md"), filepath.Join(dir, "e.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"conform", "-run", cheapClaim + "|^client-stores$", "-json", jsonFile, "-md", mdFile, "-write-expect", draft}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())

	out := stdout.String()
	assert.Regexp(t, `(?m)^CLAIM\s+VARIANT\s+STATUS\s+OBSERVED$`, out)
	assert.Regexp(t, `(?m)^default-is-server\s+any\s+holds\s+fresh TLS_server_method context: SERVER`, out)
	assert.Regexp(t, `(?m)^client-stores\s+tls13-stateful\s+holds\s+`, out)
	assert.Contains(t, out, "5 rows: 5 holds, 0 deviates, 0 n/a; OpenSSL ")
	assert.Contains(t, stderr.String(), "every row matches conformance/expectations.json (OpenSSL "+ossl.ReleaseLine()+")")
	assert.Contains(t, stderr.String(), "conform: 5/5 rows (100%)", "the last progress line")
	assert.NotContains(t, stderr.String(), "\r", "no carriage returns when stderr is not a terminal")

	var raw map[string]any
	b, err := os.ReadFile(jsonFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &raw))
	assert.Regexp(t, `^OpenSSL \d`, raw["openssl"])
	assert.Regexp(t, `^go1\.`, raw["go"])
	rows := raw["rows"].([]any)
	require.Len(t, rows, 5)
	assert.Equal(t, map[string]any{"claim": "default-is-server", "variant": "any", "status": "holds", "observed": rows[0].(map[string]any)["observed"]}, rows[0])

	md, err := os.ReadFile(mdFile)
	require.NoError(t, err)
	assert.Contains(t, string(md), "| `client-stores` | tls12 | holds | ")
	assert.Contains(t, string(md), "Every row matches conformance/expectations.json (OpenSSL ")

	// Every row matched: the draft is the expectations file unchanged.
	got, err := os.ReadFile(draft)
	require.NoError(t, err)
	embedded, err := conformance.LoadExpectationsFile()
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, embedded.WriteJSON(&want))
	assert.Equal(t, want.String(), string(got))
}

func TestConformExitsOneOnMismatch(t *testing.T) {
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.json")
	require.NoError(t, os.WriteFile(wrong, []byte(`{"releaseLines":["`+ossl.ReleaseLine()+`"],"rows":[
		{"claim":"default-is-server","variant":"any","status":"deviates","reason":"pretend"},
		{"claim":"client-stores","variant":"tls12","status":"holds"}]}`), 0o644))
	otherLine := filepath.Join(dir, "other.json")
	require.NoError(t, os.WriteFile(otherLine, []byte(`{"releaseLines":["9.9"],"rows":[]}`), 0o644))
	mdFile := filepath.Join(dir, "r.md")
	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"status differs", []string{"-expect", wrong, "-md", mdFile}, []string{
			"1 row does not match " + wrong,
			"default-is-server/any: got holds, want deviates (pretend); observed: fresh TLS_server_method",
		}},
		{"no expectations file", []string{"-expect", filepath.Join(dir, "missing.json")}, []string{"cannot compare with expectations"}},
		{"no expectations for the linked line", []string{"-expect", otherLine}, []string{"cannot compare with expectations", `has none for OpenSSL "` + ossl.ReleaseLine() + `" (have: 9.9)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"conform", "-q", "-run", cheapClaim}, tt.args...), &stdout, &stderr)
			assert.Equal(t, 1, code)
			assert.Contains(t, stdout.String(), "default-is-server", "the table is printed anyway")
			for _, s := range tt.stderr {
				assert.Contains(t, stderr.String(), s)
			}
			assert.NotContains(t, stderr.String(), "conform: 1/1", "-q: no progress")
		})
	}
	md, err := os.ReadFile(mdFile)
	require.NoError(t, err)
	assert.Contains(t, string(md), "1 row does not match")
}

func TestConformProgress(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		quiet bool
		want  string
	}{
		{"terminal: rewritten in place", true, false, "\r\x1b[Kconform: 1/2 rows (50%), 0.5s, last a/tls12: holds\r\x1b[Kconform: 2/2 rows (100%), 1.0s, last b/any: n/a\r\x1b[K"},
		{"log: the last line only within the interval", false, false, "conform: 2/2 rows (100%), 1.0s, last b/any: n/a\n"},
		{"quiet", false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := newConformProgress(&b, tt.quiet)
			p.tty = tt.tty
			p.update(conformance.Progress{Done: 1, Total: 2, Row: conformance.Row{Claim: "a", Variant: "tls12", Status: "holds"}, Elapsed: 500 * time.Millisecond})
			p.update(conformance.Progress{Done: 2, Total: 2, Row: conformance.Row{Claim: "b", Variant: "any", Status: "n/a"}, Elapsed: time.Second})
			p.finish()
			assert.Equal(t, tt.want, b.String())
		})
	}
	// Off a terminal, a line at most every interval.
	var b bytes.Buffer
	p := newConformProgress(&b, false)
	p.interval = 0
	for i := 1; i <= 3; i++ {
		p.update(conformance.Progress{Done: i, Total: 3, Row: conformance.Row{Claim: "c", Variant: "tls13", Status: "holds"}})
	}
	assert.Equal(t, 3, strings.Count(b.String(), "\n"))
	assert.False(t, conformIsTerminal(&b))

	// On a terminal, one line of at most ttyWidth columns.
	b.Reset()
	p = newConformProgress(&b, false)
	p.tty = true
	p.update(conformance.Progress{Done: 1, Total: 130, Row: conformance.Row{Claim: "tls13-stateless-cached-with-remove-cb", Variant: "tls13-stateful", Status: "deviates"}})
	line := strings.TrimPrefix(b.String(), "\r\x1b[K")
	assert.Len(t, line, ttyWidth)
	assert.True(t, strings.HasSuffix(line, "..."))
}

// TestConformWriteExpectForANewLine: on a release line the file lacks,
// conform fails, and -write-expect writes the file with the line added;
// compared with that file, the same run passes.
func TestConformWriteExpectForANewLine(t *testing.T) {
	dir := t.TempDir()
	old, draft := filepath.Join(dir, "old.json"), filepath.Join(dir, "draft.json")
	require.NoError(t, os.WriteFile(old, []byte(`{"releaseLines":["9.9"],"rows":[
		{"claim":"default-is-server","variant":"any","status":"deviates","reason":"pretend"}]}`), 0o644))
	var stdout, stderr bytes.Buffer
	code := run([]string{"conform", "-q", "-run", cheapClaim, "-expect", old, "-write-expect", draft}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), `has none for OpenSSL "`+ossl.ReleaseLine()+`"`)

	f, err := os.Open(draft)
	require.NoError(t, err)
	defer f.Close()
	e, err := conformance.ParseExpectationsFile(f, draft)
	require.NoError(t, err)
	assert.Equal(t, []string{ossl.ReleaseLine(), "9.9"}, e.ReleaseLines)
	require.Len(t, e.Rows, 1)
	assert.Equal(t, map[string]conformance.Override{ossl.ReleaseLine(): {Status: "holds"}}, e.Rows[0].Overrides)

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"conform", "-q", "-run", cheapClaim, "-expect", draft}, &stdout, &stderr)
	assert.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stderr.String(), "every row matches "+draft+" (OpenSSL "+ossl.ReleaseLine()+")")
}
