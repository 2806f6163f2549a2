package conformance

import (
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl/ossltest"
)

// TestEveryClaimHasACheck: each claim of claims.md has a check in checks,
// and each check a claim.
func TestEveryClaimHasACheck(t *testing.T) {
	claimed := map[string]bool{}
	for _, c := range Claims() {
		claimed[c.ID] = true
		_, ok := checks[c.ID]
		assert.True(t, ok, "claim %s of claims.md has no check in checks.go", c.ID)
	}
	for _, id := range slices.Sorted(maps.Keys(checks)) {
		assert.True(t, claimed[id], "check %s in checks.go has no claim in claims.md", id)
	}
}

// TestClaimWithoutCheckGivesErrorRows: a claim added to claims.md before
// its check is written runs, and fails.
func TestClaimWithoutCheckGivesErrorRows(t *testing.T) {
	cert, err := ossltest.NewCertificate()
	require.NoError(t, err)
	got := runOne(job{claim: Claim{ID: "not-checked"}, check: checkFor("not-checked"), v: TLS12}, cert)
	assert.Equal(t, Row{"not-checked", "tls12", StatusError, "check failed: claim not-checked of claims.md has no check in checks.go"}, got)
}

// TestVariantsTable: the variants table of claims.md names the variants
// the suite runs, in their order.
func TestVariantsTable(t *testing.T) {
	rows, err := sectionTable(claimsFile, "## Variants")
	require.NoError(t, err)
	var names []string
	for _, r := range rows[1:] {
		names = append(names, r[0])
	}
	var want []string
	for _, v := range Variants() {
		want = append(want, "`"+v.Name+"`")
	}
	assert.Equal(t, want, names)
}

func TestParseClaims(t *testing.T) {
	const header = "| ID | man page text | what to observe | variants |\n| --- | --- | --- | --- |\n"
	const addedHeader = "| ID | statement | what to observe | variants |\n| --- | --- | --- | --- |\n"
	doc := func(claims, added string) string {
		return "# Claims\n\nintro\n\n## Variants\n| variant | setup |\n| --- | --- |\n\n## Claims\n" + claims +
			"\n## Added claims\n\nThe project's own.\n\n" + added
	}
	tests := []struct {
		name string
		md   string
		want []Claim
		err  string
	}{
		{
			name: "both tables, in order",
			md: doc(header+"| `a-b` | \"A\" | count | all |\n| `c` | \"C\" | mode | any |\n",
				addedHeader+"| `d1` | x \\| y | calls | `tls13`, `tls13-stateful` |\n"),
			want: []Claim{
				{ID: "a-b", Text: `"A"`, Observe: "count", Variants: []string{"tls12", "tls12-tickets", "tls13", "tls13-stateful"}, variants: allVariants},
				{ID: "c", Text: `"C"`, Observe: "mode", Variants: []string{"any"}, variants: apiOnly},
				{ID: "d1", Text: "x | y", Observe: "calls", Added: true, Variants: []string{"tls13", "tls13-stateful"}, variants: tls13Only},
			},
		},
		{name: "columns in another order", md: doc("| variants | ID | what to observe | man page text |\n| --- | --- | --- | --- |\n| `tls12` | `a` | o | t |\n", addedHeader),
			want: []Claim{{ID: "a", Text: "t", Observe: "o", Variants: []string{"tls12"}, variants: []Variant{TLS12}}}},
		{name: "no added section", md: "## Claims\n" + header, err: `no "## Added claims" section`},
		{name: "no table", md: doc("", addedHeader), err: `no table under "## Claims"`},
		{name: "no separator", md: doc("| ID | man page text | what to observe | variants |\n| `a` | t | o | all |\n", addedHeader), err: "no separator row"},
		{name: "missing column", md: doc("| ID | man page text | variants |\n| --- | --- | --- |\n", addedHeader), err: "columns"},
		{name: "added table with the man page column", md: doc(header, header), err: "## Added claims: columns"},
		{name: "ID without backticks", md: doc(header+"| a | t | o | all |\n", addedHeader), err: "the ID must be"},
		{name: "ID in capitals", md: doc(header+"| `A` | t | o | all |\n", addedHeader), err: "the ID must be"},
		{name: "missing cell", md: doc(header+"| `a` | t | all |\n", addedHeader), err: "3 cells, want 4"},
		{name: "empty text", md: doc(header+"| `a` |  | o | all |\n", addedHeader), err: "a: empty text"},
		{name: "unknown variant", md: doc(header+"| `a` | t | o | `tls11` |\n", addedHeader), err: "\"`tls11`\" is not all, any or a variant"},
		{name: "variant without backticks", md: doc(header+"| `a` | t | o | tls12 |\n", addedHeader), err: `"tls12" is not all, any or a variant`},
		{name: "variants out of order", md: doc(header+"| `a` | t | o | `tls13`, `tls12` |\n", addedHeader), err: "in the order of the variants table"},
		{name: "variant twice", md: doc(header+"| `a` | t | o | `tls12`, `tls12` |\n", addedHeader), err: "list each variant once"},
		{name: "same ID in both tables", md: doc(header+"| `a` | t | o | all |\n", addedHeader+"| `a` | t | o | all |\n"), err: "claim a appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClaims(tt.md)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
