package conformance

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/osslcache/osslcache/internal/matrix"
)

// ErrNoExpectations is returned by LoadExpectations and
// ExpectationsFile.For for a release line that was never measured.
var ErrNoExpectations = errors.New("conformance: no expectations for this OpenSSL release line")

// Expectation is the status measured for one claim and variant, with a
// one-line reason (required for "deviates" and "n/a").
type Expectation struct {
	Claim   string `json:"claim"`
	Variant string `json:"variant"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
}

// Expectations are the statuses of one OpenSSL release line, as
// ExpectationsFile.For resolves them.
type Expectations struct {
	// OpenSSL is the release line, "3.0" or "1.1".
	OpenSSL string
	Rows    []Expectation
	// Source names where they were read from:
	// "conformance/expectations.json (OpenSSL 3.0)".
	Source string
}

// Select returns the expectations of the claims match accepts (all when
// match is nil), to compare with a run restricted the same way.
func (e *Expectations) Select(match func(claimID string) bool) *Expectations {
	out := &Expectations{OpenSSL: e.OpenSSL, Source: e.Source}
	for _, x := range e.Rows {
		if match == nil || match(x.Claim) {
			out.Rows = append(out.Rows, x)
		}
	}
	return out
}

// Mismatch kinds.
const (
	MismatchStatus     = "status"     // the row's status differs
	MismatchUnexpected = "unexpected" // a row with no expectation
	MismatchMissing    = "missing"    // an expectation with no row
)

// Mismatch is a row that does not match the expectations.
type Mismatch struct {
	Kind     string `json:"kind"`
	Claim    string `json:"claim"`
	Variant  string `json:"variant"`
	Got      string `json:"got,omitempty"`
	Want     string `json:"want,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Observed string `json:"observed,omitempty"`
}

func (m Mismatch) String() string {
	id := m.Claim + "/" + m.Variant
	switch m.Kind {
	case MismatchUnexpected:
		return fmt.Sprintf("%s: %s, but no expectation for this row (observed: %s)", id, m.Got, m.Observed)
	case MismatchMissing:
		return fmt.Sprintf("%s: expected %s, but the run has no such row", id, m.Want)
	}
	s := fmt.Sprintf("%s: got %s, want %s", id, m.Got, m.Want)
	if m.Reason != "" {
		s += " (" + m.Reason + ")"
	}
	return s + "; observed: " + m.Observed
}

// Compare returns the rows of rep whose status differs from exp, the rows
// exp has no expectation for, and the expectations rep has no row for, in
// report order (missing rows last). Compare a run restricted to some claims
// with exp.Select of the same claims.
func Compare(rep Report, exp *Expectations) []Mismatch {
	want := map[[2]string]Expectation{}
	for _, x := range exp.Rows {
		want[[2]string{x.Claim, x.Variant}] = x
	}
	var out []Mismatch
	seen := map[[2]string]bool{}
	for _, r := range rep.Rows {
		k := [2]string{r.Claim, r.Variant}
		seen[k] = true
		x, ok := want[k]
		switch {
		case !ok:
			out = append(out, Mismatch{Kind: MismatchUnexpected, Claim: r.Claim, Variant: r.Variant, Got: r.Status, Observed: r.Observed})
		case x.Status != r.Status:
			out = append(out, Mismatch{Kind: MismatchStatus, Claim: r.Claim, Variant: r.Variant, Got: r.Status, Want: x.Status, Reason: x.Reason, Observed: r.Observed})
		}
	}
	for _, x := range exp.Rows {
		if !seen[[2]string{x.Claim, x.Variant}] {
			out = append(out, Mismatch{Kind: MismatchMissing, Claim: x.Claim, Variant: x.Variant, Want: x.Status, Reason: x.Reason})
		}
	}
	return out
}

// ExpectationsPath is the expectations file's path inside the module.
const ExpectationsPath = "conformance/expectations.json"

// expectationsJSON is expectations.json.
//
//go:embed expectations.json
var expectationsJSON []byte

// ExpectationsFile is expectations.json: the statuses measured on every
// release line, as one row per claim and variant holding the status most
// lines share (the default) and the release lines that differ from it.
type ExpectationsFile struct {
	// ReleaseLines are the release lines measured ("1.1", "3.0"…), in
	// version order: the lines that have expectations.
	ReleaseLines []string      `json:"releaseLines"`
	Rows         []ExpectedRow `json:"rows"`
	// Source names where the file was read from.
	Source string `json:"-"`
}

// ExpectedRow is one claim and variant: its default status and reason
// (the embedded Expectation), and a release line's own where it differs.
type ExpectedRow struct {
	Expectation
	// Overrides maps a release line to its status, where it is not the
	// default.
	Overrides map[string]Override `json:"overrides,omitempty"`
}

// Override is a release line's own status for a row, with a one-line
// reason (required for "deviates" and "n/a").
type Override struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// LoadExpectations returns the embedded expectations of a release line
// ("3.0", "1.1"): an error wrapping ErrNoExpectations when the line was
// never measured.
func LoadExpectations(releaseLine string) (*Expectations, error) {
	f, err := LoadExpectationsFile()
	if err != nil {
		return nil, err
	}
	return f.For(releaseLine)
}

// LoadExpectationsFile returns the embedded expectations file, parsed
// afresh (the caller may change it).
func LoadExpectationsFile() (*ExpectationsFile, error) {
	return ParseExpectationsFile(bytes.NewReader(expectationsJSON), ExpectationsPath)
}

// ParseExpectationsFile reads an expectations file and validates it: known
// release lines and statuses, no duplicate rows, a reason for every
// "deviates" and "n/a", no override equal to its row's default.
func ParseExpectationsFile(r io.Reader, source string) (*ExpectationsFile, error) {
	var f ExpectationsFile
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("conformance: %s: %w", source, err)
	}
	f.Source = source
	if len(f.ReleaseLines) == 0 {
		return nil, fmt.Errorf("conformance: %s: no release lines", source)
	}
	lines := map[string]bool{}
	for i, l := range f.ReleaseLines {
		if !releaseLineName.MatchString(l) || i > 0 && matrix.CompareVersions(f.ReleaseLines[i-1], l) >= 0 {
			return nil, fmt.Errorf("conformance: %s: release lines %q: want major.minor, each once, in version order", source, f.ReleaseLines)
		}
		lines[l] = true
	}
	seen := map[[2]string]bool{}
	for i, x := range f.Rows {
		k := [2]string{x.Claim, x.Variant}
		id := x.Claim + "/" + x.Variant
		switch {
		case x.Claim == "" || x.Variant == "":
			return nil, fmt.Errorf("conformance: %s: row %d: empty claim or variant", source, i)
		case seen[k]:
			return nil, fmt.Errorf("conformance: %s: duplicate row %s", source, id)
		}
		seen[k] = true
		if err := checkOutcome(x.Status, x.Reason); err != nil {
			return nil, fmt.Errorf("conformance: %s: %s: %w", source, id, err)
		}
		for _, l := range slices.Sorted(maps.Keys(x.Overrides)) {
			o := x.Overrides[l]
			switch {
			case !lines[l]:
				return nil, fmt.Errorf("conformance: %s: %s: override for %q, which is not in releaseLines", source, id, l)
			case o.Status == x.Status && o.Reason == x.Reason:
				return nil, fmt.Errorf("conformance: %s: %s: the override for %s is the default: remove it", source, id, l)
			}
			if err := checkOutcome(o.Status, o.Reason); err != nil {
				return nil, fmt.Errorf("conformance: %s: %s on %s: %w", source, id, l, err)
			}
		}
	}
	return &f, nil
}

var releaseLineName = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// checkOutcome validates a status and its reason.
func checkOutcome(status, reason string) error {
	switch {
	case status != StatusHolds && status != StatusDeviates && status != StatusNA:
		return fmt.Errorf("unknown status %q", status)
	case status != StatusHolds && strings.TrimSpace(reason) == "":
		return fmt.Errorf("a %q row needs a reason", status)
	case strings.Contains(reason, "\n"):
		return errors.New("the reason must be one line")
	}
	return nil
}

// For returns the expectations of one release line: each row's override
// for the line, or its default; an error wrapping ErrNoExpectations when
// the line was never measured.
func (f *ExpectationsFile) For(releaseLine string) (*Expectations, error) {
	if !slices.Contains(f.ReleaseLines, releaseLine) {
		return nil, fmt.Errorf("%w: %s has none for OpenSSL %q (have: %s); 'osslcache conform -write-expect FILE' writes the file with this line's statuses added",
			ErrNoExpectations, f.Source, releaseLine, strings.Join(f.ReleaseLines, ", "))
	}
	e := &Expectations{OpenSSL: releaseLine, Source: f.Source + " (OpenSSL " + releaseLine + ")"}
	for _, x := range f.Rows {
		exp := x.Expectation
		if o, ok := x.Overrides[releaseLine]; ok {
			exp.Status, exp.Reason = o.Status, o.Reason
		}
		e.Rows = append(e.Rows, exp)
	}
	return e, nil
}

// WriteJSON writes the file in the layout of expectations.json: one row a
// line.
func (f *ExpectationsFile) WriteJSON(w io.Writer) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteString("{\n  \"releaseLines\": ")
	if err := enc.Encode(f.ReleaseLines); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	b.WriteString(",\n  \"rows\": [")
	for i, x := range f.Rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n    ")
		if err := enc.Encode(x); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteString("\n  ]\n}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// Record writes the statuses of a run into the file as the expectations of
// releaseLine, measured for the first time or again; the line joins
// ReleaseLines. A row whose status already is the line's keeps its reason.
// Otherwise the line gets the run's status: as its default for a row the
// file lacks (placed after the run's row before it), by dropping the line's
// override when the status is the default, else as the line's override.
// Each reason so written is marked TODO, with the start of the
// observation, for a human to replace. Rows the run did not check stay as
// they are; "error" rows are not recorded.
func (f *ExpectationsFile) Record(rep Report, releaseLine string) {
	if !slices.Contains(f.ReleaseLines, releaseLine) {
		f.ReleaseLines = append(f.ReleaseLines, releaseLine)
		slices.SortFunc(f.ReleaseLines, matrix.CompareVersions)
	}
	prev := -1 // the row of the run's previous row
	for _, r := range rep.Rows {
		if r.Status == StatusError {
			continue
		}
		i := slices.IndexFunc(f.Rows, func(x ExpectedRow) bool { return x.Claim == r.Claim && x.Variant == r.Variant })
		if i < 0 {
			i = prev + 1
			if at := reportIndex(r.Claim, string(r.Variant)); at >= 0 {
				// Its place in report order, also for a partial run
				// (-run) whose first row is new.
				for i < len(f.Rows) && reportIndex(f.Rows[i].Claim, string(f.Rows[i].Variant)) < at {
					i++
				}
			}
			f.Rows = slices.Insert(f.Rows, i, ExpectedRow{Expectation: Expectation{Claim: r.Claim, Variant: r.Variant, Status: r.Status, Reason: todoReason(r)}})
		}
		prev = i
		x := &f.Rows[i]
		o, overridden := x.Overrides[releaseLine]
		switch {
		case overridden && o.Status == r.Status, !overridden && x.Status == r.Status:
			// expected already
		case x.Status == r.Status:
			delete(x.Overrides, releaseLine)
		default:
			if x.Overrides == nil {
				x.Overrides = map[string]Override{}
			}
			x.Overrides[releaseLine] = Override{Status: r.Status, Reason: todoReason(r)}
		}
	}
}

// reportIndex is the place of a claim's variant in report order (the
// order of claims.md), or -1 for one it does not list.
func reportIndex(claim, variant string) int {
	n := 0
	for _, c := range registry {
		for _, v := range c.Variants {
			if c.ID == claim && v == variant {
				return n
			}
			n++
		}
	}
	return -1
}

// todoReason is the reason Record gives a row it writes: none for "holds",
// else TODO and the start of the observation, on one line.
func todoReason(r Row) string {
	if r.Status == StatusHolds {
		return ""
	}
	obs := oneLine(r.Observed)
	if len(obs) > 120 {
		obs = obs[:120] + "..."
	}
	return "TODO: " + obs
}
