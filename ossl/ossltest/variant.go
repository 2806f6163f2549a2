package ossltest

import "github.com/osslcache/osslcache/ossl"

// Variant is one of the protocol setups of the conformance claims: a
// pinned TLS version, and whether the server sets SSL_OP_NO_TICKET (TLS 1.2
// then resumes by session ID, TLS 1.3 issues stateful tickets kept in the
// session cache).
type Variant struct {
	Name     string
	Version  ossl.Version
	NoTicket bool
}

// The four variants, by the names the conformance report uses.
var (
	TLS12         = Variant{"tls12", ossl.VersionTLS12, true}
	TLS12Tickets  = Variant{"tls12-tickets", ossl.VersionTLS12, false}
	TLS13         = Variant{"tls13", ossl.VersionTLS13, false}
	TLS13Stateful = Variant{"tls13-stateful", ossl.VersionTLS13, true}
)

// Variants returns the four variants in report order.
func Variants() []Variant { return []Variant{TLS12, TLS12Tickets, TLS13, TLS13Stateful} }

// ServerOptions returns the server options of v: its version, and
// SSL_OP_NO_TICKET when it keeps sessions server-side.
func (v Variant) ServerOptions() ServerOptions {
	return ServerOptions{Version: v.Version, NoTicket: v.NoTicket}
}

// ClientOptions returns the client options of v: its version.
func (v Variant) ClientOptions() ClientOptions { return ClientOptions{Version: v.Version} }

// String returns the variant's name.
func (v Variant) String() string { return v.Name }

// CacheModeCombinations returns every combination of the named cache mode
// flags of the linked headers (2^n values, OFF first), for tests that
// sweep the mode space.
func CacheModeCombinations() []ossl.CacheMode {
	singles := []ossl.CacheMode{ossl.CacheClient, ossl.CacheServer, ossl.CacheNoAutoClear, ossl.CacheNoInternalLookup, ossl.CacheNoInternalStore}
	if ossl.HasUpdateTime {
		singles = append(singles, ossl.CacheUpdateTime)
	}
	out := make([]ossl.CacheMode, 0, 1<<len(singles))
	for i := 0; i < 1<<len(singles); i++ {
		var m ossl.CacheMode
		for j, s := range singles {
			if i&(1<<j) != 0 {
				m |= s
			}
		}
		out = append(out, m)
	}
	return out
}
