package conformance_test

import (
	"bytes"
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
