package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Counts returns how many rows have each status.
func (r Report) Counts() map[string]int {
	n := map[string]int{}
	for _, row := range r.Rows {
		n[row.Status]++
	}
	return n
}

// Summary is "126 rows: 60 holds, 40 deviates, 26 n/a" (and errors, if any).
func (r Report) Summary() string {
	n := r.Counts()
	s := fmt.Sprintf("%d rows: %d holds, %d deviates, %d n/a", len(r.Rows), n[StatusHolds], n[StatusDeviates], n[StatusNA])
	if n[StatusError] > 0 {
		s += fmt.Sprintf(", %d errors", n[StatusError])
	}
	return s
}

// WriteJSON writes the report as JSON:
// {"openssl":"...","go":"...","rows":[{"claim":...,"variant":...,"status":...,"observed":...}]}.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Rows == nil {
		r.Rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteTable writes the report as an aligned text table: claim, variant,
// status, observed.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLAIM\tVARIANT\tSTATUS\tOBSERVED")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Claim, row.Variant, row.Status, oneLine(row.Observed))
	}
	return tw.Flush()
}

// Comparison is the outcome of comparing a report with expectations, for
// WriteMarkdown.
type Comparison struct {
	// Source names the expectations
	// ("conformance/expectations.json (OpenSSL 3.0)").
	Source string
	// Err says why nothing was compared (no expectations for the release
	// line).
	Err string
	// Mismatches are the rows that differ.
	Mismatches []Mismatch
}

// WriteMarkdown writes the report as a Markdown document: versions, a
// summary, the table, and the comparison with the expectations when cmp is
// not nil.
func (r Report) WriteMarkdown(w io.Writer, cmp *Comparison) error {
	var b strings.Builder
	b.WriteString("# osslcache conformance report\n\n")
	fmt.Fprintf(&b, "- OpenSSL: %s\n- Go: %s\n- %s\n\n", mdCell(r.OpenSSL), mdCell(r.Go), r.Summary())
	b.WriteString("| claim | variant | status | observed |\n| --- | --- | --- | --- |\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", row.Claim, mdCell(row.Variant), mdCell(row.Status), mdCell(row.Observed))
	}
	if cmp != nil {
		b.WriteString("\n## Expectations\n\n")
		switch {
		case cmp.Err != "":
			fmt.Fprintf(&b, "Not compared: %s\n", mdCell(cmp.Err))
		case len(cmp.Mismatches) == 0:
			fmt.Fprintf(&b, "Every row matches %s.\n", mdCell(cmp.Source))
		default:
			fmt.Fprintf(&b, "%s not match %s:\n\n", RowsDo(len(cmp.Mismatches)), mdCell(cmp.Source))
			for _, m := range cmp.Mismatches {
				fmt.Fprintf(&b, "- %s\n", mdCell(m.String()))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RowsDo is "1 row does" or "n rows do", for "... not match".
func RowsDo(n int) string {
	if n == 1 {
		return "1 row does"
	}
	return fmt.Sprintf("%d rows do", n)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = oneLine(s)
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return s
}
