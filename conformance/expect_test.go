package conformance_test

import (
	"bytes"
	"encoding/json"
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

func TestParseExpectationsFile(t *testing.T) {
	tests := []struct {
		name, json, err string
	}{
		{"valid", `{"releaseLines":["1.1","3.0"],"rows":[{"claim":"a","variant":"tls12","status":"holds"},{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"}}}]}`, ""},
		{"override with the default status, another reason", `{"releaseLines":["1.1","3.0"],"rows":[{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"deviates","reason":"r on 1.1"}}}]}`, ""},
		{"empty rows", `{"releaseLines":["3.0"],"rows":[]}`, ""},
		{"release lines in version order", `{"releaseLines":["3.6","3.10"],"rows":[]}`, ""},
		{"no release lines", `{"releaseLines":[],"rows":[]}`, "no release lines"},
		{"release line twice", `{"releaseLines":["3.0","3.0"],"rows":[]}`, `release lines ["3.0" "3.0"]: want major.minor, each once, in version order`},
		{"release lines out of order", `{"releaseLines":["3.10","3.6"],"rows":[]}`, `release lines ["3.10" "3.6"]`},
		{"release line not major.minor", `{"releaseLines":["../3.0"],"rows":[]}`, `release lines ["../3.0"]`},
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

func TestLoadExpectations(t *testing.T) {
	f, err := conformance.LoadExpectationsFile()
	require.NoError(t, err)
	assert.Equal(t, conformance.ExpectationsPath, f.Source)
	for _, line := range f.ReleaseLines {
		e, err := conformance.LoadExpectations(line)
		require.NoError(t, err, line)
		assert.Equal(t, conformance.ExpectationsPath+" (OpenSSL "+line+")", e.Source)
		assert.Len(t, e.Rows, len(f.Rows))
	}
	for _, line := range []string{"9.9", "", "../3.0", "3.0/../3.0"} {
		_, err := conformance.LoadExpectations(line)
		require.ErrorIs(t, err, conformance.ErrNoExpectations, "%q", line)
		assert.Contains(t, err.Error(), conformance.ExpectationsPath)
	}
}

// TestRecord: a run recorded for a release line gives that line its
// statuses, keeps the reasons of the rows that did not change, and marks
// the reasons it writes TODO.
func TestRecord(t *testing.T) {
	const base = `{"releaseLines":["1.1","3.0"],"rows":[
		{"claim":"a","variant":"tls12","status":"holds"},
		{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"}}},
		{"claim":"c","variant":"any","status":"holds"}]}`
	tests := []struct {
		name string
		line string
		rows []conformance.Row
		want string // the rows of the file afterwards, one a line
		// lines are the release lines afterwards
		lines []string
	}{
		{"the same statuses change nothing", "1.1",
			[]conformance.Row{row("a", "tls12", "holds"), row("a", "tls13", "n/a"), row("c", "any", "holds")},
			`{"claim":"a","variant":"tls12","status":"holds"}
{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"}}}
{"claim":"c","variant":"any","status":"holds"}`, []string{"1.1", "3.0"}},
		{"a status other than the default becomes an override", "3.0",
			[]conformance.Row{row("a", "tls12", "deviates")},
			`{"claim":"a","variant":"tls12","status":"holds","overrides":{"3.0":{"status":"deviates","reason":"TODO: a seen 1"}}}
{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"}}}
{"claim":"c","variant":"any","status":"holds"}`, []string{"1.1", "3.0"}},
		{"the default status drops the override", "1.1",
			[]conformance.Row{row("a", "tls13", "deviates")},
			`{"claim":"a","variant":"tls12","status":"holds"}
{"claim":"a","variant":"tls13","status":"deviates","reason":"r"}
{"claim":"c","variant":"any","status":"holds"}`, []string{"1.1", "3.0"}},
		{"a third status replaces the override", "1.1",
			[]conformance.Row{row("a", "tls13", "holds")},
			`{"claim":"a","variant":"tls12","status":"holds"}
{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"holds"}}}
{"claim":"c","variant":"any","status":"holds"}`, []string{"1.1", "3.0"}},
		{"a new line takes the defaults it matches", "3.10",
			[]conformance.Row{row("a", "tls12", "holds"), row("a", "tls13", "n/a"), row("c", "any", "holds")},
			`{"claim":"a","variant":"tls12","status":"holds"}
{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"},"3.10":{"status":"n/a","reason":"TODO: a seen 1"}}}
{"claim":"c","variant":"any","status":"holds"}`, []string{"1.1", "3.0", "3.10"}},
		{"a new row goes after the run's row before it", "3.0",
			[]conformance.Row{row("a", "tls13", "deviates"), row("b", "tls12", "n/a"), row("b", "tls13", "holds"), row("c", "any", "holds")},
			`{"claim":"a","variant":"tls12","status":"holds"}
{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"}}}
{"claim":"b","variant":"tls12","status":"n/a","reason":"TODO: b seen 1"}
{"claim":"b","variant":"tls13","status":"holds"}
{"claim":"c","variant":"any","status":"holds"}`, []string{"1.1", "3.0"}},
		{"a new first row", "3.0",
			[]conformance.Row{row("0", "any", "holds")},
			`{"claim":"0","variant":"any","status":"holds"}
{"claim":"a","variant":"tls12","status":"holds"}
{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"}}}
{"claim":"c","variant":"any","status":"holds"}`, []string{"1.1", "3.0"}},
		{"an error row is not recorded", "3.0",
			[]conformance.Row{row("a", "tls12", "error"), row("d", "any", "error")},
			`{"claim":"a","variant":"tls12","status":"holds"}
{"claim":"a","variant":"tls13","status":"deviates","reason":"r","overrides":{"1.1":{"status":"n/a","reason":"old"}}}
{"claim":"c","variant":"any","status":"holds"}`, []string{"1.1", "3.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := conformance.ParseExpectationsFile(strings.NewReader(base), "x.json")
			require.NoError(t, err)
			f.Record(conformance.Report{Rows: tt.rows}, tt.line)
			assert.Equal(t, tt.lines, f.ReleaseLines)
			var b bytes.Buffer
			require.NoError(t, f.WriteJSON(&b))
			back, err := conformance.ParseExpectationsFile(&b, "draft")
			require.NoError(t, err, "the draft is a valid file")
			var got []string
			for _, x := range back.Rows {
				j, err := json.Marshal(x)
				require.NoError(t, err)
				got = append(got, string(j))
			}
			assert.Equal(t, tt.want, strings.Join(got, "\n"))
			exp, err := back.For(tt.line)
			require.NoError(t, err)
			want := map[[2]string]string{}
			for _, x := range exp.Rows {
				want[[2]string{x.Claim, x.Variant}] = x.Status
			}
			for _, r := range tt.rows {
				if r.Status != conformance.StatusError {
					assert.Equal(t, r.Status, want[[2]string{r.Claim, r.Variant}], "%s/%s: the draft expects what the run saw", r.Claim, r.Variant)
				}
			}
		})
	}
}

// TestRecordReason: a reason Record writes is one line, not HTML-escaped,
// and short.
func TestRecordReason(t *testing.T) {
	f := &conformance.ExpectationsFile{ReleaseLines: []string{"3.0"}}
	f.Record(conformance.Report{Rows: []conformance.Row{
		{Claim: "a", Variant: "tls13", Status: "deviates", Observed: "seen 2 & <3>\nagain " + strings.Repeat("x", 200)},
	}}, "3.0")
	var b bytes.Buffer
	require.NoError(t, f.WriteJSON(&b))
	assert.Contains(t, b.String(), `"reason":"TODO: seen 2 & <3> again xxx`)
	back, err := conformance.ParseExpectationsFile(&b, "draft")
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(back.Rows[0].Reason, "..."))
	assert.Less(t, len(back.Rows[0].Reason), 140)
}

// TestRecordPartialRunKeepsReportOrder: a run of some claims (-run) whose
// first row is new puts it where claims.md orders it, not first.
func TestRecordPartialRunKeepsReportOrder(t *testing.T) {
	claims := conformance.Claims()
	require.GreaterOrEqual(t, len(claims), 3)
	first, second, third := claims[0], claims[1], claims[2]
	require.Equal(t, []string{"any"}, first.Variants)
	require.Equal(t, []string{"any"}, second.Variants)
	require.Equal(t, []string{"any"}, third.Variants)
	f := &conformance.ExpectationsFile{ReleaseLines: []string{"3.0"}}
	f.Record(conformance.Report{Rows: []conformance.Row{row(first.ID, "any", "holds"), row(third.ID, "any", "holds")}}, "3.0")
	f.Record(conformance.Report{Rows: []conformance.Row{row(second.ID, "any", "holds")}}, "3.0")
	var got []string
	for _, r := range f.Rows {
		got = append(got, r.Claim)
	}
	assert.Equal(t, []string{first.ID, second.ID, third.ID}, got)
}
