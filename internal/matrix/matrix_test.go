package matrix

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))

func parse(t *testing.T, name, js string) *Report {
	t.Helper()
	r, err := Parse(strings.NewReader(js), name)
	require.NoError(t, err)
	return r
}

func TestVersionFromOpenSSL(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"OpenSSL 3.0.19 27 Jan 2026", "3.0", true},
		{"OpenSSL 1.1.1w  11 Sep 2023", "1.1.1", true},
		{"OpenSSL 3.5.4 30 Sep 2025", "3.5", true},
		{"OpenSSL 3.6.0 1 Oct 2025 (Library: OpenSSL 3.6.0 1 Oct 2025)", "3.6", true},
		{"OpenSSL 3.10.1 1 Jan 2030", "3.10", true},
		{"LibreSSL 3.8.2", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := VersionFromOpenSSL(tt.in)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.1.1", "3.0", -1},
		{"3.0", "3.5", -1},
		{"3.6", "3.10", -1},
		{"3.5", "3.5", 0},
		{"3.0", "3.0.1", -1},
		{"3.6", "1.1.1", 1},
		{"3.6", "dev", -1},
		{"dev", "main", -1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_vs_"+tt.b, func(t *testing.T) {
			assert.Equal(t, tt.want, CompareVersions(tt.a, tt.b))
			assert.Equal(t, -tt.want, CompareVersions(tt.b, tt.a))
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		js      string
		version string
		rows    int
		err     string
	}{
		{
			name: "brief format", file: "out/report-3.0.json", version: "3.0", rows: 1,
			js: `{"openssl":"OpenSSL 3.0.19 27 Jan 2026","go":"go1.26.8","rows":[{"claim":"off-server-no-store","variant":"tls12","status":"holds","observed":"..."}]}`,
		},
		{
			name: "extra fields tolerated", file: "report-3.5.json", version: "3.5", rows: 1,
			js: `{"openssl":"OpenSSL 3.5.4 30 Sep 2025","go":"go1.26.8","future":1,"rows":[{"claim":"c","variant":"tls13","status":"deviates","observed":"o","expected":"e","mismatch":true,"extra":[1]}]}`,
		},
		{
			name: "version from openssl string", file: "whatever.json", version: "1.1.1", rows: 0,
			js: `{"openssl":"OpenSSL 1.1.1w  11 Sep 2023","go":"go1.26.8","rows":[]}`,
		},
		{
			name: "file name wins", file: "report-3.6.json", version: "3.6", rows: 0,
			js: `{"openssl":"OpenSSL 3.5.4 30 Sep 2025"}`,
		},
		{name: "no version", file: "x.json", js: `{"openssl":"?"}`, err: "cannot tell the OpenSSL version"},
		{name: "bad json", file: "report-3.0.json", js: `{"rows":`, err: "report-3.0.json"},
		{
			name: "duplicate row", file: "report-3.0.json", err: "duplicate row c/tls12",
			js: `{"rows":[{"claim":"c","variant":"tls12","status":"holds"},{"claim":"c","variant":"tls12","status":"n/a"}]}`,
		},
		{
			name: "empty variant", file: "report-3.0.json", err: "row 0: empty claim or variant",
			js: `{"rows":[{"claim":"c","status":"holds"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(strings.NewReader(tt.js), tt.file)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.version, r.Version)
			assert.Len(t, r.Rows, tt.rows)
		})
	}
}

func TestParseKeepsFields(t *testing.T) {
	r := parse(t, "report-3.5.json", `{"openssl":"OpenSSL 3.5.4 30 Sep 2025","go":"go1.26.8","rows":[
		{"claim":"c","variant":"tls13","status":"deviates","observed":"o","expected":"e","mismatch":true}]}`)
	assert.Equal(t, "report-3.5.json", r.Source)
	assert.Equal(t, "go1.26.8", r.Go)
	assert.Equal(t, Row{Claim: "c", Variant: "tls13", Status: "deviates", Observed: "o", Expected: "e", Mismatch: true}, r.Rows[0])
}

func TestBuildOrder(t *testing.T) {
	r36 := parse(t, "report-3.6.json", `{"openssl":"OpenSSL 3.6.0","rows":[
		{"claim":"zeta","variant":"custom","status":"holds"},
		{"claim":"zeta","variant":"tls13","status":"holds"},
		{"claim":"alpha","variant":"tls12","status":"holds"}]}`)
	r111 := parse(t, "report-1.1.1.json", `{"openssl":"OpenSSL 1.1.1w","rows":[
		{"claim":"beta","variant":"tls13-stateful","status":"n/a"},
		{"claim":"beta","variant":"tls12-tickets","status":"holds"},
		{"claim":"zeta","variant":"tls12","status":"deviates"}]}`)
	tests := []struct {
		name     string
		reports  []*Report
		want     []string
		columns  []string
		keys     []Key
		reported []bool
	}{
		{
			name: "reports in any order, all default columns", reports: []*Report{r36, r111}, want: DefaultVersions,
			columns:  []string{"1.1.1", "3.0", "3.5", "3.6"},
			reported: []bool{true, false, false, true},
			// Claims by first appearance scanning columns in version order;
			// known variants in fixed order, then others.
			keys: []Key{
				{"beta", "tls12-tickets"}, {"beta", "tls13-stateful"},
				{"zeta", "tls12"}, {"zeta", "tls13"}, {"zeta", "custom"},
				{"alpha", "tls12"},
			},
		},
		{
			name: "only reported columns", reports: []*Report{r36}, want: nil,
			columns: []string{"3.6"}, reported: []bool{true},
			keys: []Key{{"zeta", "tls13"}, {"zeta", "custom"}, {"alpha", "tls12"}},
		},
		{
			name: "unexpected version gets a column", reports: []*Report{r36}, want: []string{"3.10", "3.0"},
			columns: []string{"3.0", "3.6", "3.10"}, reported: []bool{false, true, false},
			keys: []Key{{"zeta", "tls13"}, {"zeta", "custom"}, {"alpha", "tls12"}},
		},
		{
			name: "no reports", want: DefaultVersions,
			columns: DefaultVersions, reported: []bool{false, false, false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Build(tt.reports, tt.want)
			require.NoError(t, err)
			var cols []string
			var rep []bool
			for _, c := range m.Columns {
				cols = append(cols, c.Version)
				rep = append(rep, c.Report != nil)
			}
			assert.Equal(t, tt.columns, cols)
			assert.Equal(t, tt.reported, rep)
			assert.Equal(t, tt.keys, m.Keys)
		})
	}
}

func TestBuildDuplicateVersion(t *testing.T) {
	a := parse(t, "a/report-3.0.json", `{"rows":[]}`)
	b := parse(t, "b/report-3.0.json", `{"rows":[]}`)
	_, err := Build([]*Report{a, b}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "two reports for OpenSSL 3.0")
}

func TestDiffers(t *testing.T) {
	row := func(status string) string {
		if status == "" {
			return `{"rows":[]}`
		}
		return `{"rows":[{"claim":"c","variant":"tls12","status":"` + status + `"}]}`
	}
	tests := []struct {
		name     string
		statuses map[string]string // version → status; "" = report without the row
		want     bool
	}{
		{"all hold", map[string]string{"1.1.1": "holds", "3.0": "holds", "3.6": "holds"}, false},
		{"one deviates", map[string]string{"1.1.1": "holds", "3.0": "deviates"}, true},
		{"n/a vs holds", map[string]string{"1.1.1": "n/a", "3.0": "holds"}, true},
		{"row missing in a report", map[string]string{"1.1.1": "holds", "3.0": ""}, true},
		{"single report", map[string]string{"3.5": "deviates"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reports []*Report
			for v, s := range tt.statuses {
				reports = append(reports, parse(t, "report-"+v+".json", row(s)))
			}
			// Missing reports for the other default versions must not count.
			m, err := Build(reports, DefaultVersions)
			require.NoError(t, err)
			assert.Equal(t, tt.want, m.Differs(Key{"c", "tls12"}))
		})
	}
}

const goldenInput111 = `{"openssl":"OpenSSL 1.1.1w  11 Sep 2023","go":"go1.26.8","rows":[
{"claim":"off-server-no-store","variant":"tls12","status":"holds","observed":"no session stored"},
{"claim":"off-server-no-store","variant":"tls13","status":"deviates","observed":"ticket *issued* | 1"},
{"claim":"resume","variant":"tls12","status":"n/a","observed":""}]}`

const goldenInput30 = `{"openssl":"OpenSSL 3.0.19 27 Jan 2026","go":"go1.26.8","rows":[
{"claim":"off-server-no-store","variant":"tls12","status":"holds","observed":"no session stored"},
{"claim":"off-server-no-store","variant":"tls13","status":"holds","observed":"no ticket","expected":"no ticket","mismatch":false},
{"claim":"resume","variant":"tls12","status":"holds","observed":"resumed","expected":"not resumed","mismatch":true}]}`

const golden = `# OpenSSL conformance matrix

Generated 2026-01-02 02:04 UTC by ` + "`internal/matrix/cmd`" + ` from the reports of ` + "`docker/matrix.sh`" + `; do not edit by hand.

| Column | OpenSSL | Go | Report | holds | deviates | n/a |
| --- | --- | --- | --- | --: | --: | --: |
| 1.1.1 | OpenSSL 1.1.1w  11 Sep 2023 | go1.26.8 | report-1.1.1.json | 1 | 1 | 1 |
| 3.0 | OpenSSL 3.0.19 27 Jan 2026 | go1.26.8 | report-3.0.json | 3 | 0 | 0 |
| 3.6 | — (no report) | — | — | — | — | — |

## Matrix

Each cell links to its observation below. **deviates** marks a deviation; ` + "`—`" + ` means no result; *differs* flags rows whose result is not the same in every report. How each claim is checked, and why release lines differ, with libssl's source: [conformance.md](conformance.md#other-release-lines).

| Claim | Variant | 1.1.1 | 3.0 | 3.6 | Differs |
| --- | --- | --- | --- | --- | --- |
| off-server-no-store | tls12 | [holds](#obs-1-1-1-off-server-no-store-tls12) | [holds](#obs-3-0-off-server-no-store-tls12) | — |  |
| off-server-no-store | tls13 | [**deviates**](#obs-1-1-1-off-server-no-store-tls13) | [holds](#obs-3-0-off-server-no-store-tls13) | — | **differs** |
| resume | tls12 | [n/a](#obs-1-1-1-resume-tls12) | [holds](#obs-3-0-resume-tls12) | — | **differs** |

## Observations

### OpenSSL 1.1.1

OpenSSL 1.1.1w  11 Sep 2023, go1.26.8, from report-1.1.1.json.

- <a id="obs-1-1-1-off-server-no-store-tls12"></a>off-server-no-store/tls12: holds: no session stored
- <a id="obs-1-1-1-off-server-no-store-tls13"></a>off-server-no-store/tls13: **deviates**: ticket \*issued\* \| 1
- <a id="obs-1-1-1-resume-tls12"></a>resume/tls12: n/a: —

### OpenSSL 3.0

OpenSSL 3.0.19 27 Jan 2026, go1.26.8, from report-3.0.json.

- <a id="obs-3-0-off-server-no-store-tls12"></a>off-server-no-store/tls12: holds: no session stored
- <a id="obs-3-0-off-server-no-store-tls13"></a>off-server-no-store/tls13: holds: no ticket (expected: no ticket)
- <a id="obs-3-0-resume-tls12"></a>resume/tls12: holds: resumed (expected: not resumed) — *mismatch*

### OpenSSL 3.6

No report.
`

func TestRenderGolden(t *testing.T) {
	r111 := parse(t, "/x/report-1.1.1.json", goldenInput111)
	r30 := parse(t, "/x/report-3.0.json", goldenInput30)
	m, err := Build([]*Report{r30, r111}, []string{"3.6"})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, m.Render(&buf, fixedNow))
	assert.Equal(t, golden, buf.String())
}

func TestRenderDeterministic(t *testing.T) {
	render := func(order []string) string {
		inputs := map[string]string{"report-1.1.1.json": goldenInput111, "report-3.0.json": goldenInput30}
		var reports []*Report
		for _, name := range order {
			reports = append(reports, parse(t, name, inputs[name]))
		}
		m, err := Build(reports, DefaultVersions)
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, m.Render(&buf, fixedNow))
		return buf.String()
	}
	a := render([]string{"report-1.1.1.json", "report-3.0.json"})
	for i := 0; i < 5; i++ {
		assert.Equal(t, a, render([]string{"report-3.0.json", "report-1.1.1.json"}))
	}
}

var (
	linkRE   = regexp.MustCompile(`\]\(#([^)]+)\)`)
	anchorRE = regexp.MustCompile(`<a id="([^"]+)"></a>`)
)

// Every cell link must reach exactly one anchor, and every anchor be linked.
func TestRenderLinksReachObservations(t *testing.T) {
	tests := []struct {
		name    string
		reports map[string]string
		links   int
	}{
		{"golden", map[string]string{"report-1.1.1.json": goldenInput111, "report-3.0.json": goldenInput30}, 6},
		{
			// These slug to the same id and must still get distinct anchors.
			"slug clash", map[string]string{"report-3.5.json": `{"rows":[
				{"claim":"a.b","variant":"tls12","status":"holds"},
				{"claim":"a-b","variant":"tls12","status":"deviates"},
				{"claim":"A B","variant":"tls12","status":"n/a"}]}`}, 3,
		},
		{"empty report", map[string]string{"report-3.0.json": `{"rows":[]}`}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reports []*Report
			for name, js := range tt.reports {
				reports = append(reports, parse(t, name, js))
			}
			m, err := Build(reports, DefaultVersions)
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, m.Render(&buf, fixedNow))
			out := buf.String()

			anchors := map[string]int{}
			for _, a := range anchorRE.FindAllStringSubmatch(out, -1) {
				anchors[a[1]]++
			}
			links := linkRE.FindAllStringSubmatch(out, -1)
			assert.Len(t, links, tt.links)
			assert.Len(t, anchors, tt.links)
			for _, l := range links {
				assert.Equal(t, 1, anchors[l[1]], "link #%s", l[1])
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"a|b", `a\|b`},
		{"<script>", "&lt;script&gt;"},
		{"line1\nline2", "line1 line2"},
		{"*_[x]`", "\\*\\_\\[x\\]\\`"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, esc(tt.in))
		})
	}
}
