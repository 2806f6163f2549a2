package conformance_test

import (
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/conformance"
	"github.com/osslcache/osslcache/ossl"
)

// knownLines are the OpenSSL release lines the suite is meant to run on.
var knownLines = []string{"1.1", "3.0", "3.5", "3.6"}

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
	require.NoError(t, err, "the linked release line %s (%s) needs %s", line, rep.OpenSSL, conformance.ExpectationsPath(line))
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

// TestExpectationFiles validates every release line's file: it parses, and
// it has exactly one row for each claim and variant the suite checks. A
// line other than the linked one may lack a file (its Docker run has not
// been measured yet); the linked one may not.
func TestExpectationFiles(t *testing.T) {
	var want [][2]string
	for _, c := range conformance.Claims() {
		for _, v := range c.Variants {
			want = append(want, [2]string{c.ID, v})
		}
	}
	lines := slices.Clone(knownLines)
	for _, l := range conformance.ReleaseLines() {
		if !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	for _, line := range lines {
		t.Run(line, func(t *testing.T) {
			exp, err := conformance.LoadExpectations(line)
			if errors.Is(err, conformance.ErrNoExpectations) && line != ossl.ReleaseLine() {
				t.Skipf("no expectations for OpenSSL %s yet (%s): run the suite in its container and write them", line, conformance.ExpectationsPath(line))
			}
			require.NoError(t, err)
			assert.Equal(t, line, exp.OpenSSL)
			var got [][2]string
			for _, x := range exp.Rows {
				got = append(got, [2]string{x.Claim, x.Variant})
			}
			assert.ElementsMatch(t, want, got, "one row per claim and variant")
		})
	}
}

func TestLoadExpectationsOfAnUnknownLine(t *testing.T) {
	for _, line := range []string{"9.9", "", "../3.0", "3.0/../3.0"} {
		_, err := conformance.LoadExpectations(line)
		require.ErrorIs(t, err, conformance.ErrNoExpectations, "%q", line)
		assert.Contains(t, err.Error(), conformance.ExpectationsPath(line))
	}
}
