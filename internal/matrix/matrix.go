// Package matrix merges per-OpenSSL-version conformance reports (the JSON
// written by `osslcache conform -json`) into one Markdown matrix: rows are
// claim × variant, columns are OpenSSL versions, and every cell links to the
// observation behind it.
package matrix

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Status values a row may carry.
const (
	StatusHolds    = "holds"
	StatusDeviates = "deviates"
	StatusNA       = "n/a"
)

// DefaultVersions are the columns the matrix always shows, in order, even
// when their report is missing.
var DefaultVersions = []string{"1.1.1", "3.0", "3.5", "3.6"}

// variantOrder is the fixed order of known variants; others follow in order
// of first appearance.
var variantOrder = []string{"tls12", "tls12-tickets", "tls13", "tls13-stateful"}

// Row is one claim checked under one variant.
type Row struct {
	Claim    string `json:"claim"`
	Variant  string `json:"variant"`
	Status   string `json:"status"`
	Observed string `json:"observed"`
	Expected string `json:"expected,omitempty"`
	Mismatch bool   `json:"mismatch,omitempty"`
}

// Report is one conformance run against one OpenSSL build.
type Report struct {
	OpenSSL string `json:"openssl"`
	Go      string `json:"go"`
	Rows    []Row  `json:"rows"`

	// Version is the column label ("3.0"); Source the report's file name.
	// Neither is part of the JSON.
	Version string `json:"-"`
	Source  string `json:"-"`
}

var (
	fileVersionRE    = regexp.MustCompile(`^report-(.+)\.json$`)
	opensslVersionRE = regexp.MustCompile(`OpenSSL (\d+)\.(\d+)\.(\d+)`)
)

// VersionFromOpenSSL maps an OpenSSL version string to its column label:
// "OpenSSL 3.0.19 27 Jan 2026" → "3.0", "OpenSSL 1.1.1w  11 Sep 2023" → "1.1.1".
// Since 3.0 the minor version is the release line; before it the patch was.
func VersionFromOpenSSL(s string) (string, bool) {
	m := opensslVersionRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	if major, _ := strconv.Atoi(m[1]); major >= 3 {
		return m[1] + "." + m[2], true
	}
	return m[1] + "." + m[2] + "." + m[3], true
}

// Parse decodes one report. Unknown fields are ignored. The column label is
// taken from a file name of the form report-VERSION.json, else derived from
// the OpenSSL version string.
func Parse(r io.Reader, name string) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	rep.Source = filepath.Base(name)
	if m := fileVersionRE.FindStringSubmatch(rep.Source); m != nil {
		rep.Version = m[1]
	} else if v, ok := VersionFromOpenSSL(rep.OpenSSL); ok {
		rep.Version = v
	} else {
		return nil, fmt.Errorf("%s: cannot tell the OpenSSL version (name it report-VERSION.json)", name)
	}
	seen := map[[2]string]bool{}
	for i, row := range rep.Rows {
		if row.Claim == "" || row.Variant == "" {
			return nil, fmt.Errorf("%s: row %d: empty claim or variant", name, i)
		}
		k := [2]string{row.Claim, row.Variant}
		if seen[k] {
			return nil, fmt.Errorf("%s: duplicate row %s/%s", name, row.Claim, row.Variant)
		}
		seen[k] = true
	}
	return &rep, nil
}

// Load reads and parses a report file.
func Load(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// CompareVersions orders dotted numeric versions numerically ("3.10" after
// "3.6"); labels that are not numeric sort after numeric ones, by text.
func CompareVersions(a, b string) int {
	pa, oka := splitVersion(a)
	pb, okb := splitVersion(b)
	switch {
	case oka && !okb:
		return -1
	case !oka && okb:
		return 1
	case !oka && !okb:
		return strings.Compare(a, b)
	}
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(pa) < len(pb):
		return -1
	case len(pa) > len(pb):
		return 1
	}
	return 0
}

func splitVersion(v string) ([]int, bool) {
	parts := strings.Split(v, ".")
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// Key identifies a matrix row.
type Key struct{ Claim, Variant string }

// Column is one OpenSSL version; Report is nil when its report is missing.
type Column struct {
	Version string
	Report  *Report
	cells   map[Key]Row
}

// Matrix is the merged view of several reports.
type Matrix struct {
	Columns []Column
	Keys    []Key // claim × variant rows in display order
}

// Build merges reports into a matrix. Columns are the union of want (always
// shown, possibly empty) and the reports' versions, sorted by version. Two
// reports for the same version are an error.
func Build(reports []*Report, want []string) (*Matrix, error) {
	byVer := map[string]*Report{}
	for _, r := range reports {
		if prev, ok := byVer[r.Version]; ok {
			return nil, fmt.Errorf("two reports for OpenSSL %s: %s and %s", r.Version, prev.Source, r.Source)
		}
		byVer[r.Version] = r
	}
	verSet := map[string]bool{}
	for _, v := range want {
		verSet[v] = true
	}
	for v := range byVer {
		verSet[v] = true
	}
	versions := make([]string, 0, len(verSet))
	for v := range verSet {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return CompareVersions(versions[i], versions[j]) < 0 })

	m := &Matrix{}
	var claims, variants []string
	seenClaim, seenVariant := map[string]bool{}, map[string]bool{}
	seenKey := map[Key]bool{}
	for _, v := range versions {
		col := Column{Version: v, Report: byVer[v], cells: map[Key]Row{}}
		if col.Report != nil {
			for _, row := range col.Report.Rows {
				k := Key{row.Claim, row.Variant}
				col.cells[k] = row
				if !seenClaim[row.Claim] {
					seenClaim[row.Claim] = true
					claims = append(claims, row.Claim)
				}
				if !seenVariant[row.Variant] {
					seenVariant[row.Variant] = true
					variants = append(variants, row.Variant)
				}
				seenKey[k] = true
			}
		}
		m.Columns = append(m.Columns, col)
	}
	for _, c := range claims {
		for _, v := range orderVariants(variants) {
			if k := (Key{c, v}); seenKey[k] {
				m.Keys = append(m.Keys, k)
			}
		}
	}
	return m, nil
}

// orderVariants puts the known variants first in their fixed order, then the
// others in the order given.
func orderVariants(seen []string) []string {
	present := map[string]bool{}
	for _, v := range seen {
		present[v] = true
	}
	known := map[string]bool{}
	var out []string
	for _, v := range variantOrder {
		known[v] = true
		if present[v] {
			out = append(out, v)
		}
	}
	for _, v := range seen {
		if !known[v] {
			out = append(out, v)
		}
	}
	return out
}

// Cell returns the row of column c for key k.
func (c Column) Cell(k Key) (Row, bool) {
	r, ok := c.cells[k]
	return r, ok
}

// Differs reports whether the columns that have a report disagree on k; a
// report lacking the row counts as a distinct value.
func (m *Matrix) Differs(k Key) bool {
	first, have := "", false
	for _, c := range m.Columns {
		if c.Report == nil {
			continue
		}
		s := "\x00missing"
		if r, ok := c.Cell(k); ok {
			s = r.Status
		}
		if !have {
			first, have = s, true
		} else if s != first {
			return true
		}
	}
	return false
}

// Render writes the matrix as Markdown. now is printed as the generation
// date; everything else depends only on the reports.
func (m *Matrix) Render(w io.Writer, now time.Time) error {
	var b strings.Builder
	anchors := m.anchors()

	b.WriteString("# OpenSSL conformance matrix\n\n")
	fmt.Fprintf(&b, "Generated %s by `internal/matrix/cmd` from the reports of `docker/matrix.sh`; do not edit by hand.\n\n",
		now.UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("| Column | OpenSSL | Go | Report | holds | deviates | n/a |\n")
	b.WriteString("| --- | --- | --- | --- | --: | --: | --: |\n")
	for _, c := range m.Columns {
		if c.Report == nil {
			fmt.Fprintf(&b, "| %s | — (no report) | — | — | — | — | — |\n", esc(c.Version))
			continue
		}
		n := map[string]int{}
		for _, r := range c.Report.Rows {
			n[r.Status]++
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d |\n", esc(c.Version), esc(c.Report.OpenSSL),
			esc(orDash(c.Report.Go)), esc(c.Report.Source), n[StatusHolds], n[StatusDeviates], n[StatusNA])
	}

	b.WriteString("\n## Matrix\n\n")
	b.WriteString("Each cell links to its observation below. **deviates** marks a deviation; " +
		"`—` means no result; *differs* flags rows whose result is not the same in every report. " +
		"How each claim is checked, and why release lines differ, with libssl's source: " +
		"[conformance.md](conformance.md#other-release-lines).\n\n")
	b.WriteString("| Claim | Variant |")
	for _, c := range m.Columns {
		fmt.Fprintf(&b, " %s |", esc(c.Version))
	}
	b.WriteString(" Differs |\n| --- | --- |")
	for range m.Columns {
		b.WriteString(" --- |")
	}
	b.WriteString(" --- |\n")
	for _, k := range m.Keys {
		fmt.Fprintf(&b, "| %s | %s |", esc(k.Claim), esc(k.Variant))
		for _, c := range m.Columns {
			r, ok := c.Cell(k)
			if !ok {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(&b, " [%s](#%s) |", statusText(r.Status), anchors[cellID{c.Version, k}])
		}
		if m.Differs(k) {
			b.WriteString(" **differs** |\n")
		} else {
			b.WriteString("  |\n")
		}
	}
	if len(m.Keys) == 0 {
		b.WriteString("\n_No results._\n")
	}

	b.WriteString("\n## Observations\n")
	for _, c := range m.Columns {
		fmt.Fprintf(&b, "\n### OpenSSL %s\n\n", esc(c.Version))
		if c.Report == nil {
			b.WriteString("No report.\n")
			continue
		}
		fmt.Fprintf(&b, "%s, %s, from %s.\n\n", esc(c.Report.OpenSSL), esc(orDash(c.Report.Go)), esc(c.Report.Source))
		if len(c.Report.Rows) == 0 {
			b.WriteString("No rows.\n")
			continue
		}
		for _, k := range m.Keys {
			r, ok := c.Cell(k)
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "- <a id=\"%s\"></a>%s/%s: %s: %s", anchors[cellID{c.Version, k}],
				esc(k.Claim), esc(k.Variant), statusText(r.Status), escOrDash(r.Observed))
			if r.Expected != "" {
				fmt.Fprintf(&b, " (expected: %s)", esc(r.Expected))
			}
			if r.Mismatch {
				b.WriteString(" — *mismatch*")
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type cellID struct {
	version string
	key     Key
}

// anchors gives every present cell a unique HTML id, stable for given
// reports: obs-<version>-<claim>-<variant>, slugged, with -2, -3… on clashes.
func (m *Matrix) anchors() map[cellID]string {
	out := map[cellID]string{}
	used := map[string]bool{}
	for _, c := range m.Columns {
		for _, k := range m.Keys {
			if _, ok := c.Cell(k); !ok {
				continue
			}
			base := "obs-" + slug(c.Version) + "-" + slug(k.Claim) + "-" + slug(k.Variant)
			id := base
			for n := 2; used[id]; n++ {
				id = fmt.Sprintf("%s-%d", base, n)
			}
			used[id] = true
			out[cellID{c.Version, k}] = id
		}
	}
	return out
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	s = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		return "x"
	}
	return s
}

func statusText(s string) string {
	switch s {
	case StatusDeviates:
		return "**deviates**"
	case "":
		return "?"
	}
	return esc(s)
}

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "|", `\|`, "\r\n", " ", "\n", " ", "\r", " ",
)

// esc makes text safe inside a table cell or a list item.
func esc(s string) string { return mdEscaper.Replace(s) }

func escOrDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return esc(s)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
