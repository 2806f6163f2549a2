package conformance

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// claimsFile is claims.md: the claims, their text, variants and order.
//
//go:embed claims.md
var claimsFile string

// Claim is one statement checked by the suite, as claims.md states it.
type Claim struct {
	// ID is the claim's stable identifier.
	ID string
	// Text is the man page text the claim comes from; for an added claim,
	// the statement checked, with where it comes from.
	Text string
	// Observe says what the check observes.
	Observe string
	// Added marks the project's own claims (claims.md's "Added claims"):
	// behaviour the page does not mention that a user would trip over.
	Added bool
	// Variants lists the variants the claim is checked under ("any" for
	// claims about the API alone).
	Variants []string

	variants []Variant
}

// The sections of claims.md that hold claims, and whether their claims are
// the project's own.
var claimSections = []struct {
	heading, textColumn string
	added               bool
}{
	{"## Claims", "man page text", false},
	{"## Added claims", "statement", true},
}

// registry is every claim, in report order.
var registry = mustParseClaims(claimsFile)

// Claims returns every claim the suite checks, in report order: those of
// claims.md's "Claims" table, then its "Added claims".
func Claims() []Claim {
	out := make([]Claim, len(registry))
	copy(out, registry)
	return out
}

func mustParseClaims(md string) []Claim {
	cs, err := parseClaims(md)
	if err != nil {
		panic(err)
	}
	return cs
}

var claimID = regexp.MustCompile("^`([a-z0-9]+(?:-[a-z0-9]+)*)`$")

// parseClaims reads the claim tables of claims.md: in each section of
// claimSections, one table with the columns ID, the section's text column,
// "what to observe" and "variants".
func parseClaims(md string) ([]Claim, error) {
	var out []Claim
	seen := map[string]bool{}
	for _, sec := range claimSections {
		rows, err := sectionTable(md, sec.heading)
		if err != nil {
			return nil, err
		}
		cols, err := tableColumns(rows[0], "ID", sec.textColumn, "what to observe", "variants")
		if err != nil {
			return nil, fmt.Errorf("conformance: claims.md, %s: %w", sec.heading, err)
		}
		for _, row := range rows[1:] {
			c, err := parseClaimRow(row, cols, sec.added)
			if err != nil {
				return nil, fmt.Errorf("conformance: claims.md, %s: %w", sec.heading, err)
			}
			if seen[c.ID] {
				return nil, fmt.Errorf("conformance: claims.md: claim %s appears twice", c.ID)
			}
			seen[c.ID] = true
			out = append(out, c)
		}
	}
	return out, nil
}

func parseClaimRow(cells []string, cols []int, added bool) (Claim, error) {
	if len(cells) != len(cols) {
		return Claim{}, fmt.Errorf("row %q: %d cells, want %d", strings.Join(cells, " | "), len(cells), len(cols))
	}
	m := claimID.FindStringSubmatch(cells[cols[0]])
	if m == nil {
		return Claim{}, fmt.Errorf("row %q: the ID must be lower-case words joined by '-', in backticks", strings.Join(cells, " | "))
	}
	c := Claim{ID: m[1], Text: cells[cols[1]], Observe: cells[cols[2]], Added: added}
	if c.Text == "" || c.Observe == "" {
		return Claim{}, fmt.Errorf("%s: empty text or 'what to observe'", c.ID)
	}
	vs, err := parseVariants(cells[cols[3]])
	if err != nil {
		return Claim{}, fmt.Errorf("%s: %w", c.ID, err)
	}
	c.variants = vs
	for _, v := range vs {
		c.Variants = append(c.Variants, v.Name)
	}
	return c, nil
}

// parseVariants reads a variants cell: "all", "any", or a list of
// variants in backticks, in report order.
func parseVariants(cell string) ([]Variant, error) {
	switch cell {
	case "all":
		return allVariants, nil
	case AnyVariant.Name:
		return apiOnly, nil
	}
	byName := map[string]int{}
	for i, v := range allVariants {
		byName["`"+v.Name+"`"] = i
	}
	var out []Variant
	last := -1
	for _, name := range strings.Split(cell, ",") {
		i, ok := byName[strings.TrimSpace(name)]
		switch {
		case !ok:
			return nil, fmt.Errorf("variants %q: %q is not all, any or a variant in backticks", cell, strings.TrimSpace(name))
		case i <= last:
			return nil, fmt.Errorf("variants %q: list each variant once, in the order of the variants table", cell)
		}
		last = i
		out = append(out, allVariants[i])
	}
	return out, nil
}

// sectionTable returns the cells of the first table under heading (a line
// of its own), header row first, separator row left out.
func sectionTable(md, heading string) ([][]string, error) {
	lines := strings.Split(md, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == heading {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("conformance: claims.md has no %q section", heading)
	}
	var rows [][]string
	for _, l := range lines[start:] {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#"):
			if rows == nil {
				return nil, fmt.Errorf("conformance: claims.md: no table under %q", heading)
			}
			return rows, nil
		case strings.HasPrefix(l, "|"):
			rows = append(rows, tableCells(l))
		case rows != nil:
			return checkSeparator(rows, heading)
		}
	}
	if rows == nil {
		return nil, fmt.Errorf("conformance: claims.md: no table under %q", heading)
	}
	return checkSeparator(rows, heading)
}

var separatorCell = regexp.MustCompile(`^:?-{3,}:?$`)

// checkSeparator checks and drops a table's separator row.
func checkSeparator(rows [][]string, heading string) ([][]string, error) {
	if len(rows) < 2 {
		return nil, fmt.Errorf("conformance: claims.md: the table under %q has no separator row", heading)
	}
	for _, c := range rows[1] {
		if !separatorCell.MatchString(c) {
			return nil, fmt.Errorf("conformance: claims.md: the table under %q has no separator row", heading)
		}
	}
	return append(rows[:1:1], rows[2:]...), nil
}

// tableCells splits a Markdown table row into trimmed cells; "\|" is a "|"
// inside a cell.
func tableCells(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

// tableColumns returns the index of each wanted column in a header row.
func tableColumns(header []string, want ...string) ([]int, error) {
	if len(header) != len(want) {
		return nil, fmt.Errorf("columns %q, want %q", header, want)
	}
	idx := make([]int, len(want))
	for i, w := range want {
		idx[i] = -1
		for j, h := range header {
			if strings.EqualFold(h, w) {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("columns %q, want %q", header, want)
		}
	}
	return idx, nil
}
