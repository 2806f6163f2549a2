package conformance

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/osslcache/osslcache/ossl/ossltest"
)

func TestRunSelectsAndReportsProgress(t *testing.T) {
	var mu sync.Mutex
	var seen []Progress
	rep, err := Run(Options{
		Match:    func(id string) bool { return id == "default-is-server" || id == "client-stores" },
		Parallel: 3,
		Progress: func(p Progress) { mu.Lock(); seen = append(seen, p); mu.Unlock() },
	})
	require.NoError(t, err)
	require.Len(t, rep.Rows, 5)
	assert.Equal(t, Row{Claim: "default-is-server", Variant: "any", Status: StatusHolds, Observed: rep.Rows[0].Observed}, rep.Rows[0])
	for i, v := range Variants() {
		assert.Equal(t, "client-stores", rep.Rows[i+1].Claim)
		assert.Equal(t, v.Name, rep.Rows[i+1].Variant)
	}
	require.Len(t, seen, 5)
	for i, p := range seen {
		assert.Equal(t, i+1, p.Done)
		assert.Equal(t, 5, p.Total)
		assert.NotEmpty(t, p.Row.Claim)
		if i > 0 {
			assert.GreaterOrEqual(t, p.Elapsed, seen[i-1].Elapsed)
		}
	}

	none, err := Run(Options{Match: func(string) bool { return false }})
	require.NoError(t, err)
	assert.Empty(t, none.Rows)
	assert.NotEmpty(t, none.OpenSSL)
}

// TestRunOneTurnsFailuresIntoErrorRows: a check that cannot observe (a
// handshake fails, a bug panics) gives an "error" row, which never matches
// an expectation, and its contexts are still released.
func TestRunOneTurnsFailuresIntoErrorRows(t *testing.T) {
	cert, err := ossltest.NewCertificate()
	require.NoError(t, err)
	released := 0
	tests := []struct {
		name  string
		check func(p *probe) verdict
		want  Row
	}{
		{"verdict", func(p *probe) verdict { p.defer_(func() { released++ }); return holds("seen %d", 1) },
			Row{"c", "tls12", StatusHolds, "seen 1"}},
		{"check error", func(p *probe) verdict {
			p.defer_(func() { released++ })
			p.must(errors.New("boom"), "handshake")
			return holds("unreachable")
		}, Row{"c", "tls12", StatusError, "check failed: handshake: boom"}},
		{"fail", func(p *probe) verdict { p.defer_(func() { released++ }); p.fail("no %s", "canary"); return verdict{} },
			Row{"c", "tls12", StatusError, "check failed: no canary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := released
			got := runOne(job{claim: Claim{ID: "c"}, check: check{run: tt.check}, v: TLS12}, cert)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, before+1, released, "cleanups ran")
		})
	}
	got := runOne(job{claim: Claim{ID: "c"}, check: check{run: func(p *probe) verdict { panic("bug") }}, v: TLS12}, cert)
	assert.Equal(t, StatusError, got.Status)
	assert.Contains(t, got.Observed, "check panicked: bug")

	// A real check with a handshake that cannot succeed: a client that
	// verifies the server against another certificate.
	other, err := ossltest.NewCertificate()
	require.NoError(t, err)
	got = runOne(job{claim: Claim{ID: "c"}, check: check{run: func(p *probe) verdict {
		s := p.server(0)
		p.cert = other
		c, _ := p.client(0)
		p.hs(c, s, nil)
		return holds("unreachable")
	}}, v: TLS13}, cert)
	assert.Equal(t, StatusError, got.Status)
	assert.Contains(t, got.Observed, "certificate verify failed")
}
