package conformance_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/conformance"
)

func row(claim, variant, status string) conformance.Row {
	return conformance.Row{Claim: claim, Variant: variant, Status: status, Observed: claim + " seen 1"}
}

func expect(claim, variant, status string) conformance.Expectation {
	return conformance.Expectation{Claim: claim, Variant: variant, Status: status, Reason: "because"}
}

func TestCompare(t *testing.T) {
	exp := &conformance.Expectations{OpenSSL: "3.0", Rows: []conformance.Expectation{
		expect("a", "tls12", "holds"),
		expect("a", "tls13", "deviates"),
		expect("b", "any", "n/a"),
	}}
	tests := []struct {
		name string
		rows []conformance.Row
		exp  *conformance.Expectations
		want []conformance.Mismatch
	}{
		{"all match", []conformance.Row{row("a", "tls12", "holds"), row("a", "tls13", "deviates"), row("b", "any", "n/a")}, exp, nil},
		{"status drifted", []conformance.Row{row("a", "tls12", "deviates"), row("a", "tls13", "deviates"), row("b", "any", "n/a")}, exp,
			[]conformance.Mismatch{{Kind: conformance.MismatchStatus, Claim: "a", Variant: "tls12", Got: "deviates", Want: "holds", Reason: "because", Observed: "a seen 1"}}},
		{"an error row never matches", []conformance.Row{row("a", "tls12", "error"), row("a", "tls13", "deviates"), row("b", "any", "n/a")}, exp,
			[]conformance.Mismatch{{Kind: conformance.MismatchStatus, Claim: "a", Variant: "tls12", Got: "error", Want: "holds", Reason: "because", Observed: "a seen 1"}}},
		{"row without expectation", []conformance.Row{row("a", "tls12", "holds"), row("a", "tls13", "deviates"), row("b", "any", "n/a"), row("c", "tls12", "holds")}, exp,
			[]conformance.Mismatch{{Kind: conformance.MismatchUnexpected, Claim: "c", Variant: "tls12", Got: "holds", Observed: "c seen 1"}}},
		{"expectation without row", []conformance.Row{row("a", "tls12", "holds"), row("b", "any", "n/a")}, exp,
			[]conformance.Mismatch{{Kind: conformance.MismatchMissing, Claim: "a", Variant: "tls13", Want: "deviates", Reason: "because"}}},
		{"a selected run compares with selected expectations", []conformance.Row{row("b", "any", "n/a")},
			exp.Select(func(id string) bool { return id == "b" }), nil},
		{"empty run, empty expectations", nil, &conformance.Expectations{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := conformance.Compare(conformance.Report{Rows: tt.rows}, tt.exp)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMismatchString(t *testing.T) {
	tests := []struct {
		m    conformance.Mismatch
		want string
	}{
		{conformance.Mismatch{Kind: conformance.MismatchStatus, Claim: "a", Variant: "tls12", Got: "deviates", Want: "holds", Observed: "x 1"},
			"a/tls12: got deviates, want holds; observed: x 1"},
		{conformance.Mismatch{Kind: conformance.MismatchStatus, Claim: "a", Variant: "tls12", Got: "holds", Want: "deviates", Reason: "r", Observed: "x 1"},
			"a/tls12: got holds, want deviates (r); observed: x 1"},
		{conformance.Mismatch{Kind: conformance.MismatchUnexpected, Claim: "c", Variant: "any", Got: "holds", Observed: "x 1"},
			"c/any: holds, but no expectation for this row (observed: x 1)"},
		{conformance.Mismatch{Kind: conformance.MismatchMissing, Claim: "a", Variant: "tls13", Want: "n/a"},
			"a/tls13: expected n/a, but the run has no such row"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.m.String())
	}
}

func TestParseExpectations(t *testing.T) {
	tests := []struct {
		name, json, err string
	}{
		{"valid", `{"openssl":"3.0","rows":[{"claim":"a","variant":"tls12","status":"holds"},{"claim":"a","variant":"tls13","status":"deviates","reason":"r"}]}`, ""},
		{"empty rows", `{"openssl":"3.0","rows":[]}`, ""},
		{"unknown status", `{"openssl":"3.0","rows":[{"claim":"a","variant":"tls12","status":"fine"}]}`, `unknown status "fine"`},
		{"error is not an expectation", `{"openssl":"3.0","rows":[{"claim":"a","variant":"tls12","status":"error","reason":"r"}]}`, `unknown status "error"`},
		{"deviates without reason", `{"openssl":"3.0","rows":[{"claim":"a","variant":"tls12","status":"deviates"}]}`, "needs a reason"},
		{"n/a without reason", `{"openssl":"3.0","rows":[{"claim":"a","variant":"tls12","status":"n/a","reason":"  "}]}`, "needs a reason"},
		{"two-line reason", `{"openssl":"3.0","rows":[{"claim":"a","variant":"tls12","status":"deviates","reason":"a\nb"}]}`, "one line"},
		{"duplicate", `{"openssl":"3.0","rows":[{"claim":"a","variant":"tls12","status":"holds"},{"claim":"a","variant":"tls12","status":"holds"}]}`, "duplicate row a/tls12"},
		{"no variant", `{"openssl":"3.0","rows":[{"claim":"a","status":"holds"}]}`, "empty claim or variant"},
		{"unknown field", `{"openssl":"3.0","rows":[{"claim":"a","variant":"tls12","status":"holds","expected":"x"}]}`, "unknown field"},
		{"not JSON", `{"openssl":`, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := conformance.ParseExpectations(strings.NewReader(tt.json), "x.json")
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Contains(t, err.Error(), "x.json")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "x.json", e.Source)
		})
	}
}

// TestDraftRoundTrip: a draft written for a new release line parses back
// into the same statuses, with a TODO reason on every row that needs one.
func TestDraftRoundTrip(t *testing.T) {
	rep := conformance.Report{Rows: []conformance.Row{
		row("a", "tls12", "holds"),
		{Claim: "a", Variant: "tls13", Status: "deviates", Observed: "seen 2 & <3>\nagain " + strings.Repeat("x", 200)},
		row("b", "any", "n/a"),
	}}
	d := conformance.Draft(rep, "3.5")
	var b bytes.Buffer
	require.NoError(t, d.WriteJSON(&b))
	assert.True(t, strings.HasPrefix(b.String(), "{\n  \"openssl\": \"3.5\",\n  \"rows\": [\n    {\"claim\":\"a\",\"variant\":\"tls12\",\"status\":\"holds\"},\n"), b.String())
	assert.Contains(t, b.String(), "seen 2 & <3> again", "no HTML escaping, one line")
	back, err := conformance.ParseExpectations(&b, "draft")
	require.NoError(t, err)
	assert.Equal(t, "3.5", back.OpenSSL)
	require.Len(t, back.Rows, 3)
	assert.Empty(t, back.Rows[0].Reason)
	assert.True(t, strings.HasPrefix(back.Rows[1].Reason, "TODO: seen 2"))
	assert.Less(t, len(back.Rows[1].Reason), 140)
	assert.Equal(t, "n/a", back.Rows[2].Status)
	assert.Empty(t, conformance.Compare(rep, back))
}

func TestLoadExpectationsOfTheLinkedLine(t *testing.T) {
	for _, line := range conformance.ReleaseLines() {
		e, err := conformance.LoadExpectations(line)
		require.NoError(t, err, line)
		assert.Equal(t, conformance.ExpectationsPath(line), e.Source)
	}
	assert.Contains(t, conformance.ReleaseLines(), "3.0")
}

func TestParseExpectationsFile(t *testing.T) {
	tests := []struct {
		name, json, err string
	}{
		{"valid", `{"releaseLines":["1.1","3.0"],"rows":[{"claim":"a","variant":"tls12","status":"holds"},{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"}}}]}`, ""},
		{"override with the default status, another reason", `{"releaseLines":["1.1","3.0"],"rows":[{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"deviates","reason":"r on 1.1"}}}]}`, ""},
		{"empty rows", `{"releaseLines":["3.0"],"rows":[]}`, ""},
		{"no release lines", `{"releaseLines":[],"rows":[]}`, "no release lines"},
		{"release line twice", `{"releaseLines":["3.0","3.0"],"rows":[]}`, `release line "3.0"`},
		{"release line not major.minor", `{"releaseLines":["../3.0"],"rows":[]}`, `release line "../3.0"`},
		{"unknown status", `{"releaseLines":["3.0"],"rows":[{"claim":"a","variant":"tls12","status":"fine"}]}`, `a/tls12: unknown status "fine"`},
		{"error is not an expectation", `{"releaseLines":["3.0"],"rows":[{"claim":"a","variant":"tls12","status":"error","reason":"r"}]}`, `unknown status "error"`},
		{"deviates without reason", `{"releaseLines":["3.0"],"rows":[{"claim":"a","variant":"tls12","status":"deviates"}]}`, "needs a reason"},
		{"n/a without reason", `{"releaseLines":["3.0"],"rows":[{"claim":"a","variant":"tls12","status":"n/a","reason":"  "}]}`, "needs a reason"},
		{"two-line reason", `{"releaseLines":["3.0"],"rows":[{"claim":"a","variant":"tls12","status":"deviates","reason":"a\nb"}]}`, "one line"},
		{"duplicate", `{"releaseLines":["3.0"],"rows":[{"claim":"a","variant":"tls12","status":"holds"},{"claim":"a","variant":"tls12","status":"holds"}]}`, "duplicate row a/tls12"},
		{"no variant", `{"releaseLines":["3.0"],"rows":[{"claim":"a","status":"holds"}]}`, "empty claim or variant"},
		{"override of an unknown line", `{"releaseLines":["3.0"],"rows":[{"claim":"a","variant":"tls12","status":"holds","overrides":{"3.5":{"status":"deviates","reason":"r"}}}]}`, `a/tls12: override for "3.5", which is not in releaseLines`},
		{"override equal to the default", `{"releaseLines":["1.1","3.0"],"rows":[{"claim":"a","variant":"tls12","status":"holds","overrides":{"1.1":{"status":"holds"}}}]}`, "the override for 1.1 is the default"},
		{"override without reason", `{"releaseLines":["1.1","3.0"],"rows":[{"claim":"a","variant":"tls12","status":"holds","overrides":{"1.1":{"status":"n/a"}}}]}`, "a/tls12 on 1.1: a \"n/a\" row needs a reason"},
		{"unknown field", `{"releaseLines":["3.0"],"rows":[{"claim":"a","variant":"tls12","status":"holds","expected":"x"}]}`, "unknown field"},
		{"unknown override field", `{"releaseLines":["1.1"],"rows":[{"claim":"a","variant":"tls12","status":"holds","overrides":{"1.1":{"state":"n/a"}}}]}`, "unknown field"},
		{"not JSON", `{"releaseLines":`, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := conformance.ParseExpectationsFile(strings.NewReader(tt.json), "x.json")
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Contains(t, err.Error(), "x.json")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "x.json", f.Source)
		})
	}
}

// TestExpectationsFileFor: a release line gets each row's override for it,
// or the row's default.
func TestExpectationsFileFor(t *testing.T) {
	f, err := conformance.ParseExpectationsFile(strings.NewReader(`{"releaseLines":["1.1","3.0","3.5"],"rows":[
		{"claim":"a","variant":"tls12","status":"holds"},
		{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"},"3.5":{"status":"holds"}}}]}`), "x.json")
	require.NoError(t, err)
	tests := []struct {
		line string
		want []conformance.Expectation
	}{
		{"1.1", []conformance.Expectation{{Claim: "a", Variant: "tls12", Status: "holds"}, {Claim: "a", Variant: "tls13", Status: "n/a", Reason: "old"}}},
		{"3.0", []conformance.Expectation{{Claim: "a", Variant: "tls12", Status: "holds"}, {Claim: "a", Variant: "tls13", Status: "deviates", Reason: "r"}}},
		{"3.5", []conformance.Expectation{{Claim: "a", Variant: "tls12", Status: "holds"}, {Claim: "a", Variant: "tls13", Status: "holds"}}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			e, err := f.For(tt.line)
			require.NoError(t, err)
			assert.Equal(t, &conformance.Expectations{OpenSSL: tt.line, Rows: tt.want, Source: "x.json (OpenSSL " + tt.line + ")"}, e)
		})
	}
	_, err = f.For("3.6")
	require.ErrorIs(t, err, conformance.ErrNoExpectations)
	assert.Contains(t, err.Error(), `x.json has none for OpenSSL "3.6" (have: 1.1, 3.0, 3.5)`)
}

// TestExpectationsFileLayout: expectations.json is in the layout WriteJSON
// writes (one row a line), so that a draft from 'conform -write-expect'
// differs from it only in the rows that changed.
func TestExpectationsFileLayout(t *testing.T) {
	onDisk, err := os.ReadFile("expectations.json")
	require.NoError(t, err)
	f, err := conformance.LoadExpectationsFile()
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, f.WriteJSON(&b))
	assert.Equal(t, string(onDisk), b.String())
}
