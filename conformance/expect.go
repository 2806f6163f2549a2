package conformance

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
)

//go:embed expect/*.json
var expectFiles embed.FS

// ErrNoExpectations is returned by LoadExpectations for a release line
// that has no expectations file.
var ErrNoExpectations = errors.New("conformance: no expectations for this OpenSSL release line")

// Expectation is the status measured for one claim and variant, with a
// one-line reason (required for "deviates" and "n/a").
type Expectation struct {
	Claim   string `json:"claim"`
	Variant string `json:"variant"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
}

// Expectations are the statuses of one OpenSSL release line.
type Expectations struct {
	// OpenSSL is the release line, "3.0" or "1.1".
	OpenSSL string        `json:"openssl"`
	Rows    []Expectation `json:"rows"`
	// Source names where they were read from.
	Source string `json:"-"`
}

// ExpectationsPath returns the path, inside the module, of a release
// line's expectations file.
func ExpectationsPath(releaseLine string) string {
	return "conformance/expect/" + releaseLine + ".json"
}

// ReleaseLines returns the release lines that have an expectations file.
func ReleaseLines() []string {
	ents, _ := fs.ReadDir(expectFiles, "expect")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			out = append(out, n)
		}
	}
	return out
}

// LoadExpectations returns the embedded expectations of a release line
// ("3.0", "1.1"): an error wrapping ErrNoExpectations when there is no
// file for it.
func LoadExpectations(releaseLine string) (*Expectations, error) {
	var f fs.File
	err := fs.ErrNotExist
	if releaseLine != "" && !strings.ContainsAny(releaseLine, "/\\") {
		f, err = expectFiles.Open(path.Join("expect", releaseLine+".json"))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (have: %s); measure one with 'osslcache conform -write-expect %s'",
			ErrNoExpectations, ExpectationsPath(releaseLine), strings.Join(ReleaseLines(), ", "), ExpectationsPath(releaseLine))
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e, err := ParseExpectations(f, ExpectationsPath(releaseLine))
	if err != nil {
		return nil, err
	}
	if e.OpenSSL != releaseLine {
		return nil, fmt.Errorf("conformance: %s says it is for OpenSSL %q", e.Source, e.OpenSSL)
	}
	return e, nil
}

// ParseExpectations reads an expectations file and validates it: known
// statuses, no duplicate rows, a reason for every "deviates" and "n/a".
func ParseExpectations(r io.Reader, source string) (*Expectations, error) {
	var e Expectations
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("conformance: %s: %w", source, err)
	}
	e.Source = source
	seen := map[[2]string]bool{}
	for i, x := range e.Rows {
		k := [2]string{x.Claim, x.Variant}
		switch {
		case x.Claim == "" || x.Variant == "":
			return nil, fmt.Errorf("conformance: %s: row %d: empty claim or variant", source, i)
		case seen[k]:
			return nil, fmt.Errorf("conformance: %s: duplicate row %s/%s", source, x.Claim, x.Variant)
		case x.Status != StatusHolds && x.Status != StatusDeviates && x.Status != StatusNA:
			return nil, fmt.Errorf("conformance: %s: %s/%s: unknown status %q", source, x.Claim, x.Variant, x.Status)
		case x.Status != StatusHolds && strings.TrimSpace(x.Reason) == "":
			return nil, fmt.Errorf("conformance: %s: %s/%s: a %q row needs a reason", source, x.Claim, x.Variant, x.Status)
		case strings.Contains(x.Reason, "\n"):
			return nil, fmt.Errorf("conformance: %s: %s/%s: the reason must be one line", source, x.Claim, x.Variant)
		}
		seen[k] = true
	}
	return &e, nil
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

// Draft returns expectations equal to rep's statuses, for a release line
// measured for the first time. Each "deviates" and "n/a" row gets a reason
// marked TODO with the start of its observation: a human replaces it.
func Draft(rep Report, releaseLine string) *Expectations {
	e := &Expectations{OpenSSL: releaseLine}
	for _, r := range rep.Rows {
		x := Expectation{Claim: r.Claim, Variant: r.Variant, Status: r.Status}
		if r.Status != StatusHolds {
			obs := r.Observed
			if len(obs) > 120 {
				obs = obs[:120] + "..."
			}
			x.Reason = "TODO: " + strings.ReplaceAll(obs, "\n", " ")
		}
		e.Rows = append(e.Rows, x)
	}
	return e
}

// WriteJSON writes the expectations in the layout of expect/*.json: one
// row a line.
func (e *Expectations) WriteJSON(w io.Writer) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteString("{\n  \"openssl\": ")
	if err := enc.Encode(e.OpenSSL); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	b.WriteString(",\n  \"rows\": [")
	for i, x := range e.Rows {
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

// expectationsPath is the expectations file's path inside the module.
const expectationsPath = "conformance/expectations.json"

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

// LoadExpectationsFile returns the embedded expectations file, parsed
// afresh (the caller may change it).
func LoadExpectationsFile() (*ExpectationsFile, error) {
	return ParseExpectationsFile(bytes.NewReader(expectationsJSON), expectationsPath)
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
	for _, l := range f.ReleaseLines {
		if !releaseLineName.MatchString(l) || lines[l] {
			return nil, fmt.Errorf("conformance: %s: release line %q: want each line once, as major.minor", source, l)
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
		return nil, fmt.Errorf("%w: %s has none for OpenSSL %q (have: %s); measure them with 'osslcache conform -write-expect FILE'",
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
