package conformance_test

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/conformance"
	"github.com/osslcache/osslcache/internal/matrix"
	"github.com/osslcache/osslcache/ossl"
)

var (
	suiteOnce sync.Once
	suiteRep  conformance.Report
	suiteErr  error
)

// suite runs the whole suite once for all the tests that read it.
func suite(t *testing.T) conformance.Report {
	t.Helper()
	suiteOnce.Do(func() { suiteRep, suiteErr = conformance.Run(conformance.Options{}) })
	require.NoError(t, suiteErr)
	return suiteRep
}

// TestSuiteMatchesExpectations is the point of the package: the statuses
// measured on the linked libssl are the ones recorded for its release line.
func TestSuiteMatchesExpectations(t *testing.T) {
	rep := suite(t)
	line := ossl.ReleaseLine()
	exp, err := conformance.LoadExpectations(line)
	require.NoError(t, err, "the linked release line %s (%s) needs its expectations in %s", line, rep.OpenSSL, conformance.ExpectationsPath)
	for _, m := range conformance.Compare(rep, exp) {
		t.Errorf("%s", m)
	}
}

func TestEveryClaimHasItsRows(t *testing.T) {
	rep := suite(t)
	rows := map[[2]string]conformance.Row{}
	for _, r := range rep.Rows {
		k := [2]string{r.Claim, r.Variant}
		require.NotContains(t, rows, k, "duplicate row")
		rows[k] = r
	}
	var variants []string
	for _, v := range conformance.Variants() {
		variants = append(variants, v.Name)
	}
	digits := regexp.MustCompile(`[0-9]`)
	for _, c := range conformance.Claims() {
		if !c.Added && !slices.Equal(c.Variants, []string{"any"}) {
			assert.Equal(t, variants, c.Variants, "%s: a claim of the page is checked under every variant, or once without a handshake", c.ID)
		}
		assert.NotEmpty(t, c.Text, c.ID)
		for _, v := range c.Variants {
			r, ok := rows[[2]string{c.ID, v}]
			if !assert.True(t, ok, "no row for %s/%s", c.ID, v) {
				continue
			}
			assert.Contains(t, []string{conformance.StatusHolds, conformance.StatusDeviates, conformance.StatusNA}, r.Status, "%s/%s: %s", c.ID, v, r.Observed)
			assert.Regexp(t, digits, r.Observed, "%s/%s: the observation carries the numbers it decided on", c.ID, v)
		}
	}
	assert.Len(t, rep.Rows, len(rows))
	assert.Equal(t, ossl.OpenSSLVersion(), rep.OpenSSL)
	assert.Regexp(t, `^go1\.`, rep.Go)
}

// TestRowsInReportOrder: claims in Claims order, variants in Variants order,
// whatever order the parallel checks finished in.
func TestRowsInReportOrder(t *testing.T) {
	rep := suite(t)
	var want [][2]string
	for _, c := range conformance.Claims() {
		for _, v := range c.Variants {
			want = append(want, [2]string{c.ID, v})
		}
	}
	var got [][2]string
	for _, r := range rep.Rows {
		got = append(got, [2]string{r.Claim, r.Variant})
	}
	assert.Equal(t, want, got)
}

// TestExpectationsFileRows: expectations.json resolves, for every release
// line it holds, to exactly one row for each claim and variant the suite
// checks, in report order; it holds the linked line and every line of the Docker matrix.
func TestExpectationsFileRows(t *testing.T) {
	var want [][2]string
	for _, c := range conformance.Claims() {
		for _, v := range c.Variants {
			want = append(want, [2]string{c.ID, v})
		}
	}
	f, err := conformance.LoadExpectationsFile()
	require.NoError(t, err)
	assert.Contains(t, f.ReleaseLines, ossl.ReleaseLine(), "the linked line")
	for _, v := range matrix.DefaultVersions {
		line := strings.Join(strings.SplitN(v, ".", 3)[:2], ".")
		assert.Contains(t, f.ReleaseLines, line, "the matrix's OpenSSL %s", v)
	}
	for _, line := range f.ReleaseLines {
		t.Run(line, func(t *testing.T) {
			exp, err := f.For(line)
			require.NoError(t, err)
			var got [][2]string
			for _, x := range exp.Rows {
				got = append(got, [2]string{x.Claim, x.Variant})
			}
			assert.Equal(t, want, got, "one row per claim and variant, in report order")
		})
	}
}
